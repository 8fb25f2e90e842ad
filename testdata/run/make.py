#!/usr/bin/env python3
"""Writes the prediction runs tests/unit/test_run.c reads (run from this folder:
/usr/bin/python3 make.py). Each record is spelled out below; the unit test's
comments work the figures out from them.

a.mp, 4 classes:
  header (class_names w x y z), classes record (names apple bear cat dog: the
  latest names win), a stats record;
  a0 label 0: scores 0.7 0.1 0.1 0.1         right
  a1 label 1: scores 0.6 0.2 0.1 0.1         wrong (0), prob 0.6
  a2 label 1: scores 0.1 0.1 0.8 0.0         wrong (2), prob 0.8
  a3 error record (imgdecode: truncated)
  a4 label "dog" (a str): left out, counted bad
  a5 label 3: int32 tensor: malformed
  a0 again, label 0: scores 0.1 0.9 0 0      a repeat: the first a0 counts
  a6 label -1: logits of model "other"       unlabelled; makes the run mixed
  a7 label 2: a --subset scores record, index [2, 3], scores 0.9 0.1
b.mp, 4 classes: b's ids a1 a2 a9 (a9 only in b), a1 twice.
"""
import msgpack
import numpy as np


def tensor(a):
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def scores(id, label, v, dtype=np.float32, **kw):
    r = {"type": "scores", "id": id, "label": label, "model": "m", "precision": "fp32",
         "tensor": tensor(np.array(v, dtype))}
    r.update(kw)
    return r


a = [
    {"type": "header", "producer": "zscore", "version": "test", "argv": ["zscore"],
     "class_names": ["w", "x", "y", "z"]},
    {"type": "classes", "model": "m", "names": ["apple", "bear", "cat", "dog"], "logit_scale": 100.0,
     "tensor": tensor(np.eye(4, 2, dtype=np.float32) + 0.5)},
    scores("a0", 0, [0.7, 0.1, 0.1, 0.1]),
    scores("a1", 1, [0.6, 0.2, 0.1, 0.1]),
    scores("a2", 1, [0.1, 0.1, 0.8, 0.0]),
    {"type": "error", "id": "a3", "path": "a3.JPEG", "label": 2, "stage": "imgdecode", "message": "truncated"},
    scores("a4", "dog", [0.7, 0.1, 0.1, 0.1]),
    scores("a5", 3, [1, 0, 0, 0], dtype=np.int32),
    scores("a0", 0, [0.1, 0.9, 0.0, 0.0]),
    {"type": "logits", "id": "a6", "label": -1, "model": "other", "tensor": tensor(np.array([0, 5, 0, 0], np.float32))},
    scores("a7", 2, [0.9, 0.1], index=[2, 3]),
    {"type": "stats", "producer": "zscore", "seconds": 1.5},
]
b = [
    scores("a1", 1, [0.1, 0.7, 0.1, 0.1]),
    scores("a2", 1, [0.1, 0.1, 0.8, 0.0]),
    scores("a1", 1, [0.7, 0.1, 0.1, 0.1]),
    scores("a9", 0, [0.7, 0.1, 0.1, 0.1]),
]
for name, recs in (("a.mp", a), ("b.mp", b)):
    with open(name, "wb") as f:
        for r in recs:
            f.write(msgpack.packb(r))
