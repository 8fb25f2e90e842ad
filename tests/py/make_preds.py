"""Write a small stream of prediction records (doc/records.md) for tests.

Usage: make_preds.py --kind scores|topk|logits --model NAME --classes K < SPEC > out.mp

SPEC lines (blank lines and '#' comments skipped):
    ID LABEL PRED     a prediction: the true class LABEL (-1: unknown) and the
                      top-1 class PRED
    ID error          an error record, as a failed upstream stage writes it
The stream starts with a header record. scores: float32 [K] probabilities,
0.6 on PRED and the rest spread evenly. logits: float32 [K], 5.0 on PRED,
0 elsewhere. topk: the 3 classes PRED, PRED+1, PRED+2 (mod K).
"""
import argparse
import sys

import msgpack
import numpy as np


def tensor(a):
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["scores", "topk", "logits"], required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--classes", type=int, required=True)
    a = ap.parse_args()
    k = a.classes
    out = sys.stdout.buffer
    out.write(msgpack.packb({"type": "header", "producer": "make_preds.py", "version": "test",
                             "argv": sys.argv, "model": a.model}))
    for line in sys.stdin:
        f = line.split("#")[0].split()
        if not f:
            continue
        if f[1] == "error":
            out.write(msgpack.packb({"type": "error", "id": f[0], "path": f[0] + ".JPEG", "label": -1,
                                     "stage": "imgdecode", "message": "not a JPEG"}))
            continue
        ident, label, pred = f[0], int(f[1]), int(f[2])
        rec = {"type": a.kind, "id": ident, "label": label, "model": a.model, "precision": "fp32"}
        if a.kind == "topk":
            idx = [(pred + i) % k for i in range(3)]
            rec.update(index=idx, prob=[0.6, 0.2, 0.1], name=["c%d" % i for i in idx])
        elif a.kind == "scores":
            v = np.full(k, 0.4 / (k - 1), np.float32)
            v[pred] = 0.6
            rec["tensor"] = tensor(v)
        else:
            v = np.zeros(k, np.float32)
            v[pred] = 5.0
            rec["tensor"] = tensor(v)
        out.write(msgpack.packb(rec))


if __name__ == "__main__":
    main()
