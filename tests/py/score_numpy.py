#!/usr/bin/env python3
"""numpy references for zscore and errstats on random data (tests/score/).

  score_numpy.py zscore-make DIR      classes.mp, emb.mp (fp32 + fp16
                                      embeddings, logits), subset.txt in DIR
  score_numpy.py zscore-check DIR OUT.mp [--subset] [--raw]
                                      compare zscore's output with numpy
  score_numpy.py errstats-make DIR    scores.mp, other.mp (random scores,
                                      labels, an error record, ids shuffled)
  score_numpy.py errstats-check DIR REPORT.json
                                      compare errstats --compare --json
Exit 0 when everything agrees; otherwise the worst elements are printed.
"""
import json
import sys

import msgpack
import numpy as np

RTOL, ATOL = 1e-4, 1e-7


def tensor(a):
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def untensor(t):
    return np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"])


def records(path):
    with open(path, "rb") as f:
        return list(msgpack.Unpacker(f, raw=False))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def close(name, got, want):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        fail(f"{name}: shape {got.shape} != {want.shape}")
    err = np.abs(got - want) - (ATOL + RTOL * np.abs(want))
    if (err > 0).any():
        worst = np.argsort(-err.ravel())[:5]
        for i in worst:
            print(f"  {name}[{i}]: got {got.ravel()[i]!r} want {want.ravel()[i]!r}")
        fail(f"{name}: {int((err > 0).sum())} elements outside rtol {RTOL} atol {ATOL}")


def softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def zscore_make(d):
    rng = np.random.default_rng(7)
    K, D, N = 100, 64, 40
    rows = rng.standard_normal((K, D)).astype(np.float32)  # not normalized: zscore normalizes
    names = [f"class {i}" for i in range(K)]
    with open(f"{d}/classes.mp", "wb") as f:
        f.write(msgpack.packb({"type": "classes", "model": "rand", "names": names,
                               "logit_scale": 100.0, "tensor": tensor(rows)}))
    with open(f"{d}/emb.mp", "wb") as f:
        for i in range(N):
            e = rng.standard_normal(D) * rng.uniform(0.1, 10)
            dt = np.float16 if i % 2 else np.float32
            f.write(msgpack.packb({"type": "embedding", "id": f"e{i}", "label": int(i % K),
                                   "model": "rand", "precision": "fp16" if i % 2 else "fp32",
                                   "tensor": tensor(e.astype(dt))}))
        for i in range(N // 2):
            z = rng.standard_normal(K) * 5
            dt = np.float16 if i % 2 else np.float32
            f.write(msgpack.packb({"type": "logits", "id": f"l{i}", "label": int(i),
                                   "tensor": tensor(z.astype(dt))}))
    subset = rng.choice(K, 20, replace=False)
    with open(f"{d}/subset.txt", "w") as f:
        f.write("# random subset\n" + "\n".join(str(int(c)) for c in subset) + "\n")


def zscore_check(d, out, use_subset, raw):
    classes = records(f"{d}/classes.mp")[0]
    rows = untensor(classes["tensor"]).astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    subset = None
    if use_subset:
        subset = [int(l) for l in open(f"{d}/subset.txt") if l.strip() and not l.startswith("#")]
    inputs = [r for r in records(f"{d}/emb.mp")]
    outs = [r for r in records(out) if r["type"] != "header"]
    if len(outs) != len(inputs):
        fail(f"{len(outs)} output records for {len(inputs)} inputs")
    for rin, rout in zip(inputs, outs):
        if rout["type"] != "scores" or rout["id"] != rin["id"] or rout["label"] != rin["label"]:
            fail(f"record {rin['id']}: got {rout['type']} {rout.get('id')}")
        x = untensor(rin["tensor"]).astype(np.float64)  # fp16 widened exactly
        if rin["type"] == "embedding":
            v = rows @ (x / np.linalg.norm(x))
            if not raw:
                v = 100.0 * v
        else:
            v = x
        if subset is not None:
            v = v[subset]
            if rout.get("index") != subset:
                fail(f"{rin['id']}: index {rout.get('index')} != {subset}")
        want = v if raw else softmax(v)
        got = untensor(rout["tensor"])
        if got.dtype != np.float32:
            fail(f"{rin['id']}: dtype {got.dtype}")
        close(rin["id"], got, want)
        for k in ("model", "precision"):
            if rin.get(k) != rout.get(k):
                fail(f"{rin['id']}: {k} {rout.get(k)!r} != {rin.get(k)!r}")
    print(f"ok: {len(outs)} records agree with numpy (rtol {RTOL}, atol {ATOL})")


def errstats_make(d):
    rng = np.random.default_rng(11)
    K, N = 40, 300
    labels = rng.integers(0, K, N)
    ids = [f"img{i:03d}" for i in range(N)]

    def scores(sharp):
        # logits that favour the label, so accuracy is well above chance
        z = rng.standard_normal((N, K))
        z[np.arange(N), labels] += sharp
        p = np.exp(z - z.max(1, keepdims=True))
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    for name, sharp, order in (("scores", 1.5, np.arange(N)), ("other", 2.5, rng.permutation(N))):
        p = scores(sharp)
        with open(f"{d}/{name}.mp", "wb") as f:
            f.write(msgpack.packb({"type": "header", "producer": "rand", "version": "1", "argv": []}))
            for i in order:
                if name == "scores" and i == 5:
                    f.write(msgpack.packb({"type": "error", "id": ids[i], "path": "", "label": int(labels[i]),
                                           "stage": "imgdecode", "message": "broken"}))
                    continue
                f.write(msgpack.packb({"type": "scores", "id": ids[i], "label": int(labels[i]),
                                       "tensor": tensor(p[i])}))
        np.save(f"{d}/{name}.npy", p)
    np.save(f"{d}/labels.npy", labels)


def top_rank(p):
    # ties to the lower class index: stable sort on -p
    return np.argsort(-p, axis=1, kind="stable")


def run_metrics(p, labels, use):
    K = p.shape[1]
    rk = top_rank(p[use])
    lab = labels[use]
    top1 = rk[:, 0] == lab
    top5 = (rk[:, :5] == lab[:, None]).any(1)
    support = np.bincount(lab, minlength=K)
    correct = np.bincount(lab[top1], minlength=K)
    predicted = np.bincount(rk[:, 0], minlength=K)
    recall = correct[support > 0] / support[support > 0]
    conf = {}
    for t, q in zip(lab[~top1], rk[~top1, 0]):
        conf[(int(t), int(q))] = conf.get((int(t), int(q)), 0) + 1
    return dict(top1=int(top1.sum()), top5=int(top5.sum()), n=int(use.sum()), support=support,
                correct=correct, predicted=predicted, mpcr=float(recall.mean()), conf=conf,
                top1_mask=top1)


def errstats_check(d, report):
    rep = json.load(open(report))
    labels = np.load(f"{d}/labels.npy")
    pa, pb = np.load(f"{d}/scores.npy"), np.load(f"{d}/other.npy")
    N = len(labels)
    use_a = np.ones(N, bool)
    use_a[5] = False  # the error record
    for run, p in ((rep["runs"][0], pa), (rep["runs"][1], pb)):
        use = use_a if run["stream"].endswith("scores.mp") else np.ones(N, bool)
        m = run_metrics(p, labels, use)
        if run["top1"]["correct"] != m["top1"] or run["top1"]["total"] != m["n"]:
            fail(f"{run['stream']}: top1 {run['top1']} != {m['top1']}/{m['n']}")
        if run["top5"]["correct"] != m["top5"]:
            fail(f"{run['stream']}: top5 {run['top5']} != {m['top5']}")
        close("mean per-class recall", run["mean_per_class_recall"], m["mpcr"])
        for row in run["per_class"]:
            c = row["class"]
            sup, cor, pre = int(m["support"][c]), int(m["correct"][c]), int(m["predicted"][c])
            if (row["support"], row["correct"], row["predicted"]) != (sup, cor, pre):
                fail(f"class {c}: {row} != support {sup} correct {cor} predicted {pre}")
            if pre:
                close(f"precision {c}", row["precision"], cor / pre)
            if sup and pre:
                # sklearn's F1 from precision and recall
                P, R = cor / pre, cor / sup
                close(f"f1 {c}", row["f1"], 0 if P + R == 0 else 2 * P * R / (P + R))
        got_conf = {(c["true"], c["pred"]): c["count"] for c in run["confusions"]}
        if got_conf != m["conf"]:
            fail(f"{run['stream']}: confusions differ")
        counts = [c["count"] for c in run["confusions"]]
        if counts != sorted(counts, reverse=True):
            fail("confusions not sorted by count")
    cm = rep["compare"]
    ma, mb = run_metrics(pa, labels, use_a), run_metrics(pb, labels, use_a)
    if cm["matched"] != N - 1 or cm["a"]["top1"]["correct"] != ma["top1"] or cm["b"]["top1"]["correct"] != mb["top1"]:
        fail(f"compare: {cm['matched']} matched, top1 {cm['a']['top1']} {cm['b']['top1']}")
    ids = np.array([f"img{i:03d}" for i in range(N)])
    only_a = set(ids[use_a][ma["top1_mask"] & ~mb["top1_mask"]])
    only_b = set(ids[use_a][mb["top1_mask"] & ~ma["top1_mask"]])
    if {x["id"] for x in cm["only_a_right"]} != only_a or {x["id"] for x in cm["only_b_right"]} != only_b:
        fail("compare: images only one run gets right differ")
    ra = np.where(ma["support"] > 0, ma["correct"] / np.maximum(ma["support"], 1), 0)
    rb = np.where(mb["support"] > 0, mb["correct"] / np.maximum(mb["support"], 1), 0)
    if {x["class"] for x in cm["a_better"]} != set(np.where(ra > rb)[0].tolist()):
        fail("compare: classes where A does better differ")
    if {x["class"] for x in cm["b_better"]} != set(np.where(rb > ra)[0].tolist()):
        fail("compare: classes where B does better differ")
    print(f"ok: errstats agrees with numpy (A top-1 {ma['top1']}/{ma['n']}, B {mb['top1']}/{mb['n']},"
          f" {len(only_a)} only-A, {len(only_b)} only-B)")


def main():
    cmd = sys.argv[1]
    if cmd == "zscore-make":
        zscore_make(sys.argv[2])
    elif cmd == "zscore-check":
        zscore_check(sys.argv[2], sys.argv[3], "--subset" in sys.argv, "--raw" in sys.argv)
    elif cmd == "errstats-make":
        errstats_make(sys.argv[2])
    elif cmd == "errstats-check":
        errstats_check(sys.argv[2], sys.argv[3])
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
