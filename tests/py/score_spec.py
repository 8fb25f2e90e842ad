#!/usr/bin/env python3
"""Write a hand-made record stream from a small text spec (tests/score/).

Usage: score_spec.py [options] < SPEC > STREAM

SPEC lines (blank lines and '#' comments ignored):
  ID LABEL C1 C2 ...        ranked classes, best first; they get the
                            probabilities of --probs in order, the other
                            classes share what is left equally
  ID LABEL C1:P1 C2:P2 ...  explicit probabilities (the rest share 1 - sum)
  ID LABEL ERROR STAGE MSG  an error record
  ID LABEL NAN              a scores record holding a NaN
Any token path=P adds a "path" key. LABEL -1 means unlabelled.

Options:
  --classes K             length of the score vectors (default 10)
  --type scores|topk|logits
  --model M --precision P keys copied into every image record
  --header PRODUCER k=v,...   a header record first (repeatable)
  --stats PRODUCER k=v,...    a stats record at the end (repeatable)
  --names FILE            put a classes record with these names first
  --probs P1,P2,...       probabilities of ranked classes (default 0.5,0.2,0.1,0.08,0.07)
"""
import argparse
import sys

import msgpack
import numpy as np


def tensor(a):
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def parse_kv(s):
    out = {}
    for part in filter(None, s.split(",")):
        k, v = part.split("=", 1)
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--type", default="scores", choices=["scores", "topk", "logits"])
    ap.add_argument("--model", default=None)
    ap.add_argument("--precision", default=None)
    ap.add_argument("--header", nargs=2, action="append", default=[])
    ap.add_argument("--stats", nargs=2, action="append", default=[])
    ap.add_argument("--names", default=None)
    ap.add_argument("--probs", default="0.5,0.2,0.1,0.08,0.07")
    a = ap.parse_args()
    K = a.classes
    ranked_p = [float(x) for x in a.probs.split(",")]
    out = sys.stdout.buffer
    for prod, kv in a.header:
        rec = {"type": "header", "producer": prod, "version": "test", "argv": [prod]}
        rec.update(parse_kv(kv))
        out.write(msgpack.packb(rec))
    if a.names:
        names = open(a.names).read().splitlines()
        rows = np.eye(len(names), 4, dtype=np.float32) + 0.01
        out.write(msgpack.packb({"type": "classes", "model": "test", "names": names,
                                 "logit_scale": 100.0, "tensor": tensor(rows)}))
    for line in sys.stdin:
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        extra = {}
        toks = []
        for t in line:
            if t.startswith("path="):
                extra["path"] = t[5:]
            else:
                toks.append(t)
        rid, label, rest = toks[0], int(toks[1]), toks[2:]
        base = {"id": rid, "label": label}
        if a.model:
            base["model"] = a.model
        if a.precision:
            base["precision"] = a.precision
        base.update(extra)
        if rest and rest[0] == "ERROR":
            rec = {"type": "error", "id": rid, "path": extra.get("path", ""), "label": label,
                   "stage": rest[1], "message": " ".join(rest[2:])}
            out.write(msgpack.packb(rec))
            continue
        p = np.zeros(K, np.float64)
        if rest and rest[0] == "NAN":
            p[:] = 1.0 / K
            p[0] = np.nan
            ranked = []
        else:
            ranked = []
            for i, t in enumerate(rest):
                if ":" in t:
                    c, v = t.split(":")
                    ranked.append((int(c), float(v)))
                else:
                    ranked.append((int(t), ranked_p[i]))
            used = sum(v for _, v in ranked)
            others = [c for c in range(K) if c not in dict(ranked)]
            for c in others:
                p[c] = (1.0 - used) / len(others)
            for c, v in ranked:
                p[c] = v
        rec = {"type": a.type}
        rec.update(base)
        if a.type == "scores":
            rec["tensor"] = tensor(p.astype(np.float32))
        elif a.type == "logits":
            rec["tensor"] = tensor(np.log(p).astype(np.float32))
        else:
            rec["index"] = [c for c, _ in ranked]
            rec["prob"] = [v for _, v in ranked]
            rec["name"] = ["" for _ in ranked]
        out.write(msgpack.packb(rec))
    for prod, kv in a.stats:
        rec = {"type": "stats", "producer": prod}
        rec.update(parse_kv(kv))
        out.write(msgpack.packb(rec))


if __name__ == "__main__":
    main()
