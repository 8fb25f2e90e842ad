"""streams.py - hostile record streams: seeds (logits, embeddings with their
class table, scores, topk, uint8 and float images) mutated in their structure
(a value of another type, a key twice or gone, strs that are not UTF-8, NaN
and Inf in tensors, wrong shapes and dtypes, labels out of range, ids
repeated, long or holding NUL, deep nesting, a size declared far beyond the
bytes, records repeated, dropped, swapped or foreign) and in their bytes
(flips, cuts, splices), then run through the programs that read them.
"""
import math
import os
import struct
import subprocess

import numpy as np

import mp
from core import Run
from mp import F32, Map, Raw, Str, Wide

K, D = 12, 8  # classes (testdata/errtree's hand-made WordNet has 12), embedding width
NAMES = ["class %d" % i for i in range(K)]
RESULT = ("scores", "logits", "embedding", "topk", "features")


def T(a):
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def make_seeds(folder, ctx):
    """Writes the seed streams into folder (fixed content)."""
    rs = np.random.RandomState(1234)
    head = {"type": "header", "producer": "imgdecode", "version": "0.1.0", "argv": ["imgdecode", "photos/"],
            "preset": "clip"}
    rows = rs.randn(K, D).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    classes = {"type": "classes", "model": "clip-rn50", "names": NAMES, "logit_scale": 100.0, "tensor": T(rows)}
    err = {"type": "error", "id": "bad.jpg", "path": "/data/bad.jpg", "label": 3, "stage": "imgdecode",
           "message": "corrupt JPEG"}
    stats = {"type": "stats", "producer": "rnencode", "images": 6, "seconds": 1.5, "images_per_s": 4.0}

    def results(kind, model, width, dtype=np.float32):
        out = []
        for i in range(6):
            v = rs.randn(width).astype(np.float32) * 3
            lab = -1 if i == 5 else (i * 5) % K
            if kind == "logits" and i % 2 == 0:
                v[lab] += 6  # half right
            out.append({"type": kind, "id": "img%d.jpg" % i, "path": "/data/img%d.jpg" % i, "label": lab,
                        "model": model, "precision": "fp16" if dtype == np.float16 else "fp32",
                        "tensor": T(v.astype(dtype if i != 3 else np.float32))})
        return out

    seeds = {
        "logits": [head] + results("logits", "resnet50", K) + [err, stats],
        "logits16": [head] + results("logits", "resnet50", K, np.float16) + [stats],
        "emb": [head, classes] + results("embedding", "clip-rn50", D) + [err, stats],
        "embonly": [head] + results("embedding", "clip-rn50", D) + [stats],
        "classes": [{"type": "header", "producer": "txtencode", "version": "0.1.0", "argv": ["txtencode"]}, classes],
    }
    for name, recs in seeds.items():
        with open(os.path.join(folder, name + ".mp"), "wb") as f:
            f.write(b"".join(mp.pack(mp.tree(r)) for r in recs))
    # scores and topk as the programs write them
    for src, dst, argv in (("logits.mp", "scores.mp", ["zscore"]), ("emb.mp", "scoresemb.mp", ["zscore"]),
                           ("scores.mp", "topk.mp", ["topk", "-k", "3"])):
        with open(os.path.join(folder, src), "rb") as i, open(os.path.join(folder, dst), "wb") as o:
            subprocess.run([os.path.join(ctx.bindir, argv[0])] + argv[1:], stdin=i, stdout=o, stderr=subprocess.DEVNULL,
                           env=ctx.env, check=True)
    # images for rnencode: two uint8 crops (a real one and a smooth one) and a float one
    imgs = []
    for i in range(2):
        if i == 0:
            a = rs.randint(0, 256, (224, 224, 3)).astype(np.uint8)
        else:
            a = np.tile(np.linspace(0, 255, 224, dtype=np.float32).astype(np.uint8)[None, :, None], (224, 1, 3))
        imgs.append({"type": "image", "id": "p%d.jpg" % i, "path": "/data/p%d.jpg" % i, "label": i, "preset": "imagenet",
                     "source_size": [300, 400], "tensor": T(a)})
    f = rs.randn(3, 224, 224).astype(np.float32)
    imgs.append({"type": "image", "id": "f.jpg", "path": "/data/f.jpg", "label": 2, "preset": "imagenet",
                 "source_size": [224, 224], "tensor": T(f)})
    with open(os.path.join(folder, "images.mp"), "wb") as o:
        o.write(b"".join(mp.pack(mp.tree(r)) for r in [dict(head, preset="imagenet")] + imgs))


# ---- mutations of the tree ----

HOSTILE_STR = [b"\xff\xfe\x80", b"a\x00b", b"\xc0\x80", b"\xed\xa0\x80", b"x\x1b[2Jy", b"\xc2\x9b31m", b"a\nb",
               b"tab\there", b"", b"../../etc/passwd", b"a/b c", b"\xe2\x80", b"\x7f", b"\xf4\x90\x80\x80",
               b"x" * 5000, "caf\u00e9 \u202e".encode()]
F32_SPECIAL = [0x7fc00000, 0xffc00000, 0x7f800001, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x00000001,
               0x80000000, 0x477fe000, 0x47800000]  # NaN, -NaN, sNaN, Inf, -Inf, max, -max, subnormal, -0, 65504, 65536
F16_SPECIAL = [0x7e00, 0xfe00, 0x7c01, 0x7c00, 0xfc00, 0x7bff, 0x0001, 0x8000]


def nodes(v, out, parent=None, key=None, depth=0):
    """Every value in the tree as (parent, key, value): parent a Map pair list or a list."""
    out.append((parent, key, v))
    if depth > 40:
        return out
    if isinstance(v, Map):
        for p in v.pairs:
            out.append((p, 0, p[0]))
            nodes(p[1], out, p, 1, depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            nodes(x, out, v, i, depth + 1)
    return out


def put(parent, key, value):
    parent[key] = value


def random_value(rng, depth=0):
    c = rng.randrange(12)
    return [None, True, rng.choice([0, -1, 1, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, K, -2]),
            rng.choice([0.5, float("nan"), float("inf"), -1e308, 1e-310]), F32(rng.choice([1.5, float("nan")])),
            Str(rng.choice(HOSTILE_STR)), rng.randbytes(rng.choice([0, 1, 7, 48])),
            [random_value(rng, depth + 1) for _ in range(rng.randrange(3))] if depth < 3 else [],
            Map([[Str("dtype"), Str("float32")]]), Map([]), Wide(rng.choice([0, 1, 11]), rng.choice([0xcf, 0xd3, 0xd2])),
            mp.Ext(rng.randrange(0, 128), b"\x01\x02")][c]


def tensors(rec):
    return [(p, v) for p, k, v in nodes(rec, []) if isinstance(v, Map) and v.get("dtype") is not None]


def mutate_tensor(rng, t):
    dt = t.get("dtype")
    sh = t.get("shape")
    data = t.get("data")
    c = rng.randrange(9)
    if c <= 2 and isinstance(data, (bytes, bytearray)) and isinstance(dt, Str) and dt.b in (b"float32", b"float16"):
        b = bytearray(data)
        size = 4 if dt.b == b"float32" else 2
        n = len(b) // size
        for _ in range(rng.choice([1, 1, 2, n or 1])):
            if not n:
                break
            i = rng.randrange(n)
            if size == 4:
                b[4 * i:4 * i + 4] = struct.pack("<I", rng.choice(F32_SPECIAL))
            else:
                b[2 * i:2 * i + 2] = struct.pack("<H", rng.choice(F16_SPECIAL))
        t.set("data", bytes(b))
        return "tensor values: special floats"
    if c == 3:
        opts = [[], [0], [K + 1], [2 ** 32, 2 ** 32], [-1], [1, 1, 1, 1, 1, 1, 1, 1, 1], [2 ** 63 - 1, 2],
                [0, 2 ** 63 - 1], [1.5], [Str("12")], [K // 2, 2], [D], [224, 224, 3], [3, 224, 224], [1, K]]
        t.set("shape", [mp.tree(x) for x in rng.choice(opts)])
        return "tensor shape %r" % (rng.choice(opts),)
    if c == 4:
        new = rng.choice([b"float64", b"bfloat16", b"int8", b"uint8", b"float16", b"int64", b"", b"float32\x00"])
        t.set("dtype", Str(new))
        return "tensor dtype %r" % new
    if c == 5 and isinstance(data, (bytes, bytearray)):
        cut = rng.choice([0, 1, len(data) // 2, len(data) + 4])
        t.set("data", data[:cut] + (b"\0" * (cut - len(data)) if cut > len(data) else b""))
        return "tensor data %d of %d bytes" % (cut, len(data))
    if c == 6:
        key = rng.choice(["dtype", "shape", "data"])
        t.pairs.append([Str(key), t.get(key)])
        return "tensor key %s twice" % key
    if c == 7:
        t.set("data", Str(data if isinstance(data, bytes) else b"x"))
        return "tensor data a str"
    if isinstance(dt, Str) and dt.b in (b"float32", b"float16") and isinstance(data, (bytes, bytearray)):
        size = 4 if dt.b == b"float32" else 2
        a = np.frombuffer(data, "<f%d" % size).astype(np.float64)
        scale = rng.choice([1e30, -1e30, 1e4, 1e-30, 0.0])
        a = (a * scale).astype("<f%d" % size) if a.size else a
        t.set("data", a.tobytes())
        return "tensor values x %g" % scale
    return "tensor left"


def mutate_record(rng, rec, recs):
    """One structural change to the record (a Map); returns what it did."""
    c = rng.randrange(14)
    ts = tensors(rec)
    if c <= 2 and ts:
        return mutate_tensor(rng, rng.choice(ts)[1])
    if c == 3:
        key = rng.choice(["id", "label", "type", "tensor", "path", "names", "logit_scale", "model", "index", "prob"])
        v = rec.get(key)
        if v is None:
            return "no %s to twin" % key
        rec.pairs.insert(rng.randrange(len(rec.pairs) + 1), [Str(key), rng.choice([v, random_value(rng)])])
        return "key %s twice" % key
    if c == 4:
        key = rng.choice(["id", "label", "type", "tensor", "names", "logit_scale", "index"])
        rec.pairs = [p for p in rec.pairs if not (isinstance(p[0], Str) and p[0].b == key.encode())]
        return "no %s" % key
    if c == 5:
        v = rng.choice([-1, -2, K, K + 1, 2 ** 63 - 1, -2 ** 63, Wide(2 ** 64 - 1, 0xcf), 1.5, 0.0, Str("3"), None,
                        True, F32(float("nan")), Wide(3, 0xd3)])
        rec.set("label", v)
        return "label %r" % (v if not isinstance(v, (Str, Wide)) else getattr(v, "b", getattr(v, "v", None)),)
    if c == 6:
        others = [r.get("id") for r in recs if isinstance(r, Map) and r.get("id") is not None]
        v = rng.choice([Str(rng.choice(HOSTILE_STR)), 7, None, rng.choice(others) if others else Str(""),
                        Str(b"img1.jpg\x00x"), Str("img1.jpg"), Str("x" * rng.choice([199, 200, 201, 4096, 70000]))])
        rec.set("id", v)
        return "id %.40r" % (getattr(v, "b", v),)
    if c == 7:
        key = rng.choice(["type", "model", "precision", "path", "stage", "message", "producer"])
        v = Str(rng.choice(HOSTILE_STR + [b"scores", b"logits", b"embedding", b"topk", b"classes", b"image",
                                          b"error", b"header", b"stats", b"features"]))
        rec.set(key, v)
        return "%s = %.40r" % (key, v.b)
    if c == 8:
        all_nodes = [n for n in nodes(rec, []) if n[0] is not None]
        parent, key, _ = rng.choice(all_nodes)
        v = random_value(rng)
        put(parent, key, v)
        return "a value becomes %s" % type(v).__name__
    if c == 9:
        depth = rng.choice([33, 100, 1000, 5000])
        v = Raw(rng.choice([b"\x91", b"\x81\xa1k"]) * depth + b"\xc0")
        rec.set(rng.choice(["extra", "id", "label", "tensor"]), v)
        return "nesting %d deep" % depth
    if c == 10:
        n = rng.choice([70000, 1 << 20])
        rec.set("many", Raw(b"\xdd" + struct.pack(">I", n) + b"\xc0" * rng.choice([0, 10, n])))
        return "an array of %d nils" % n
    if c == 11 and rec.get("names") is not None:
        names = rec.get("names")
        if isinstance(names, list):
            d = rng.randrange(4)
            if d == 0 and names:
                names.pop()
            elif d == 1:
                names.append(Str("extra"))
            elif names:
                names[rng.randrange(len(names))] = rng.choice([Str(rng.choice(HOSTILE_STR)), 3, None])
            return "names changed (%d)" % d
    if c == 12 and rec.get("logit_scale") is not None:
        v = rng.choice([float("nan"), float("inf"), 0.0, -100.0, 1e30, 1e-30, Str("100"), None, 2 ** 64 - 1])
        rec.set("logit_scale", v)
        return "logit_scale %r" % (v,)
    if c == 13 and isinstance(rec.get("index"), list):
        idx = rec.get("index")
        if idx:
            idx[rng.randrange(len(idx))] = rng.choice([-1, K, 2 ** 63 - 1, 1.5, Str("0"), None])
        return "topk index changed"
    return "record left"


def mutate_stream(rng, recs, pool):
    """One change to the list of records (or to one of them)."""
    c = rng.randrange(10)
    if c == 0 and recs:
        i = rng.randrange(len(recs))
        recs.insert(rng.randrange(len(recs) + 1), recs[i])
        return "record %d repeated" % i
    if c == 1 and len(recs) > 1:
        i = rng.randrange(len(recs))
        del recs[i]
        return "record %d dropped" % i
    if c == 2 and len(recs) > 1:
        i, j = rng.randrange(len(recs)), rng.randrange(len(recs))
        recs[i], recs[j] = recs[j], recs[i]
        return "records %d and %d swapped" % (i, j)
    if c == 3 and pool:
        r = rng.choice(pool)
        recs.insert(rng.randrange(len(recs) + 1), r)
        return "a foreign %s record" % r.get("type").b.decode()
    if c == 4:
        recs.insert(rng.randrange(len(recs) + 1), rng.choice([[], 3, Str("x"), None]))
        return "a value that is not a map"
    if recs:
        i = rng.randrange(len(recs))
        if isinstance(recs[i], Map):
            return "record %d: %s" % (i, mutate_record(rng, recs[i], recs))
    return "stream left"


def mutate_bytes(rng, data):
    c = rng.randrange(6)
    b = bytearray(data)
    if not b:
        return bytes(rng.randbytes(10)), "random bytes"
    if c == 0:
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "bytes flipped"
    if c == 1:
        cut = rng.randrange(len(b))
        return bytes(b[:cut]), "cut at byte %d of %d" % (cut, len(b))
    if c == 2:
        i = rng.randrange(len(b))
        ins = rng.choice([b"\xc0", b"\xdb\xff\xff\xff\xff", b"\xc6\x40\x00\x00\x00", b"\xdf\xff\xff\xff\xff",
                          b"\x81\xa4type", rng.randbytes(8)])
        return bytes(b[:i] + ins + b[i:]), "inserted %r at %d" % (ins, i)
    if c == 3:
        i = rng.randrange(len(b))
        n = rng.randrange(1, 64)
        return bytes(b[:i] + b[i + n:]), "deleted %d bytes at %d" % (n, i)
    if c == 4:
        i = rng.randrange(len(b))
        n = rng.randrange(1, 256)
        j = rng.randrange(len(b))
        return bytes(b[:j] + b[i:i + n] + b[j:]), "copied %d bytes from %d to %d" % (n, i, j)
    return data + rng.choice([b"\x00", b"\x91", b"garbage\n", b"\x81"]), "bytes appended"


def parse_seed(data):
    """A seed stream back into the tree (it is UTF-8 and valid)."""
    s = mp.Stream(data)

    def conv(v):
        if isinstance(v, mp.Pairs):
            return Map([[conv(k), conv(x)] for k, x in v])
        if isinstance(v, str):
            return Str(v.encode("utf-8", "surrogateescape"))
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, float):
            return v
        return v
    return [conv(r) for r, _, _ in s.records]


# ---- oracles ----

def softmax_oracle(raw):
    """zscore on logits: each scores record for a valid, finite logits record
    is its softmax (or the logits themselves with --raw)."""
    def oracle(run, case):
        from core import align
        pairs, prob = align(run, case)
        if prob:
            return [] if run.rc else prob
        for a, b in pairs:
            if b.get("type") != "scores":
                continue
            if mp.record_problem(a):
                return ["an invalid record (%s) gave a scores record" % mp.record_problem(a)]
            if a.get("type") != "logits":
                continue
            t = a.get("tensor")
            if not isinstance(t, mp.Pairs) or mp.tensor_problem(t) or t.get("dtype") not in ("float32", "float16"):
                return ["logits record %r with tensor %r gave scores" % (a.get("id"), t if not isinstance(t, mp.Pairs) else t.get("dtype"))]
            x = mp.tensor_values(t).astype(np.float64)
            if len(t.get("shape")) != 1 or not np.all(np.isfinite(x)) or x.size == 0:
                return ["logits %r of shape %r (finite: %s) gave scores" % (a.get("id"), t.get("shape"), np.all(np.isfinite(x)))]
            want = x if raw else np.exp(x - x.max()) / np.exp(x - x.max()).sum()
            got = mp.tensor_values(b.get("tensor")).astype(np.float64)
            if got.shape != want.shape or np.max(np.abs(got - want)) > 1e-5 * max(1.0, np.max(np.abs(want))):
                return ["scores for %r differ from %s: max |diff| %g" % (a.get("id"), "the logits" if raw else "softmax",
                                                                       np.max(np.abs(got - want)) if got.shape == want.shape else math.inf)]
        return []
    return oracle


def topk_oracle(k):
    """topk on scores: the k largest, best first, ties to the lower index."""
    def oracle(run, case):
        from core import align
        pairs, prob = align(run, case)
        if prob:
            return [] if run.rc else prob
        for a, b in pairs:
            if b.get("type") != "topk":
                continue
            if mp.record_problem(a) or a.get("type") == "error":
                return ["a %s record gave a topk record" % (mp.record_problem(a) or "error")]
            t = a.get("tensor")
            x = mp.tensor_values(t).astype(np.float64)  # logits rank as their softmax would, unrounded
            if not np.all(np.isfinite(x)):
                return ["scores %r holding NaN/Inf gave a topk record" % (a.get("id"),)]
            order = sorted(range(x.size), key=lambda i: (-x[i], i))[:k]
            sub = a.get("index")
            if isinstance(sub, list):  # zscore --subset: positions name these classes
                order = [sub[i] for i in order]
            if b.get("index") != order:
                return ["topk of %r: %r, expected %r" % (a.get("id"), b.get("index"), order)]
        return []
    return oracle


def jsonl_top1_oracle(run, case):
    """errstats --jsonl: each image's top1 is argmax == label (first record of an id)."""
    import json
    ins = {}
    for r, _, _ in case.stream(run.streams[0]).records:
        # errstats keeps the first record of an id (scores, logits or topk)
        if isinstance(r, mp.Pairs) and not mp.record_problem(r) and r.get("type") in ("scores", "logits", "topk") \
                and isinstance(r.get("id"), str) and r.get("id") not in ins:
            t = r.get("tensor")
            if r.get("type") != "topk" and isinstance(t, mp.Pairs) and t.get("dtype") in ("float32", "float16") \
                    and len(t.get("shape")) == 1:
                ins[r.get("id")] = (r.get("label"), mp.tensor_values(t).astype(np.float64), r.get("index"))
            else:
                ins[r.get("id")] = None
    for line in run.stdout.decode("utf-8", "replace").splitlines():
        o = json.loads(line)
        if o.get("type") != "image" or ins.get(o.get("id")) is None or not isinstance(o.get("a"), dict):
            continue
        lab, x, sub = ins[o["id"]]
        if not np.all(np.isfinite(x)) or x.size == 0 or not isinstance(lab, int) or isinstance(lab, bool) or lab < 0:
            continue
        top = int(sorted(range(x.size), key=lambda i: (-x[i], i))[0])
        if isinstance(sub, list):
            continue
        if bool(o["a"].get("top1")) != (top == lab):
            return ["errstats --jsonl: %r top1 %r, but argmax %d and label %d" % (o["id"], o["a"].get("top1"), top, lab)]
    return []


def recview_oracle(run, case):
    """recview's tensor summaries: min, max and mean of the finite values, the
    count of the others, the first values (null for a non-finite one)."""
    import json
    recs = case.stream(run.streams[0]).records
    lines = run.stdout.decode("utf-8").splitlines()
    if len(lines) != len(recs) or run.rc == 2:
        return []
    for n, ((r, _, _), line) in enumerate(zip(recs, lines)):
        if not isinstance(r, mp.Pairs) or mp.record_problem(r):
            continue
        o = json.loads(line)
        for k, v in r:
            if not (isinstance(v, mp.Pairs) and "dtype" in [x for x, _ in v]) or v.get("dtype") == "int64":
                continue
            a = mp.tensor_values(v).astype(np.float64)
            k = mp.spelled(k)
            got = o.get(k) if isinstance(o, dict) else None
            if not isinstance(got, dict):
                return ["recview: record %d's tensor %r not summarised: %.100r" % (n, k, got)]
            fin = a[np.isfinite(a)]
            want = {"min": fin.min() if fin.size else None, "max": fin.max() if fin.size else None}
            for key, w in want.items():
                g = got.get(key)
                if (w is None) != (g is None) or (w is not None and np.float32(g) != np.float32(w)):
                    return ["recview: record %d tensor %r: %s %r, the values' is %r" % (n, k, key, g, w)]
            if fin.size and abs(got.get("mean", math.inf) - fin.mean()) > 1e-6 * max(1.0, np.abs(fin).max()):
                return ["recview: record %d tensor %r: mean %r, the values' is %r" % (n, k, got.get("mean"), fin.mean())]
            if got.get("nonfinite", 0) != a.size - fin.size:
                return ["recview: record %d tensor %r: nonfinite %r, the values hold %d" % (n, k, got.get("nonfinite"), a.size - fin.size)]
            first = got.get("first", got.get("values"))
            want_first = [None if not np.isfinite(x) else x for x in a[:len(first or [])]]
            if first is None or len(first) != min(a.size, 8 if "first" in got else a.size) or any(
                    (x is None) != (y is None) or (x is not None and np.float32(x) != np.float32(y)) for x, y in zip(first, want_first)):
                return ["recview: record %d tensor %r: first values %.80r, the tensor's %.80r" % (n, k, first, want_first)]
    return []


def fpdiff_oracle(ref, cand):
    """fpdiff at tolerance 0 passes only when every image both runs hold (one
    record of an id in each) has finite values and the same top-1."""
    def oracle(run, case):
        if run.rc != 0:
            return []
        def firsts(name):
            seen, dup = {}, set()
            for r, _, _ in case.stream(name).records:
                if not isinstance(r, mp.Pairs) or mp.record_problem(r) or r.get("type") not in ("scores", "logits"):
                    continue
                i = r.get("id")
                if i in seen:
                    dup.add(i)
                seen[i] = r
            return {i: r for i, r in seen.items() if i not in dup and isinstance(i, str)}
        a, b = firsts(ref), firsts(cand)
        for i in sorted(set(a) & set(b)):
            ta, tb = a[i].get("tensor"), b[i].get("tensor")
            if not isinstance(ta, mp.Pairs) or not isinstance(tb, mp.Pairs):
                continue
            x, y = mp.tensor_values(ta).astype(np.float64), mp.tensor_values(tb).astype(np.float64)
            if x.size == 0 or y.size == 0 or len(ta.get("shape")) != 1 or len(tb.get("shape")) != 1:
                continue
            if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
                return ["fpdiff exit 0, but image %r holds NaN or Inf in one run" % i]
            if x.size == y.size and int(np.argmax(x)) != int(np.argmax(y)):
                return ["fpdiff exit 0 at tolerance 0, but image %r's top-1 is %d in one run, %d in the other" % (
                    i, int(np.argmax(x)), int(np.argmax(y)))]
        return []
    return oracle


# ---- the case ----

SEEDS = ["logits", "logits16", "emb", "embonly", "classes", "scores", "scoresemb", "topk", "images"]


def runs_for(rng, seed, m, seeddir, case, ctx):
    """The runs that read the mutated stream m (a file in the case folder)."""
    cls = "classes.mp"
    et = ["--wordnet", os.path.join(ctx.testdata, "errtree"), "--wnids", os.path.join(ctx.testdata, "errtree", "wnids.txt")]
    res = set(RESULT)
    out = []
    rec = lambda prog, args, **kw: Run(prog, args, **kw)
    if seed in ("logits", "logits16"):
        out += [rec("zscore", [], stdin=m, streams=["-"], consumes={"logits", "embedding"}, produces={"scores"}, oracle=softmax_oracle(False)),
                rec("zscore", ["--raw"], stdin=m, streams=["-"], consumes={"logits", "embedding"}, produces={"scores"}, oracle=softmax_oracle(True)),
                rec("topk", ["-k", "3"], stdin=m, streams=["-"], consumes={"logits", "scores"}, produces={"topk"}, oracle=topk_oracle(3)),
                rec("errstats", ["--json", m], out="json", streams=[m]),
                rec("fpdiff", ["--json", seed + ".mp", m], out="json", streams=[m], oracle=fpdiff_oracle(seed + ".mp", m))]
    if seed == "emb":
        out += [rec("zscore", [], stdin=m, streams=["-"], consumes={"logits", "embedding"}, produces={"scores"}),
                rec("fpdiff", ["--classes", cls, "embonly.mp", m], out="text", streams=[m])]
    if seed == "embonly":
        out += [rec("zscore", ["--classes", cls, m], streams=[m], consumes={"logits", "embedding"}, produces={"scores"}),
                rec("zscore", ["--classes", cls, "--subset", "subset.txt", m], streams=[m], consumes={"logits", "embedding"}, produces={"scores"})]
    if seed == "classes":
        out += [rec("zscore", ["--classes", m, "embonly.mp"], streams=[m, "embonly.mp"], produces={"scores"}),
                rec("txtembed-load", [], stdin=m, streams=["-"], produces={"classes"}),
                rec("txtembed-load", [m], streams=[m], produces={"classes"})]
    if seed in ("scores", "scoresemb"):
        out += [rec("topk", ["-k", "3"], stdin=m, streams=["-"], consumes={"logits", "scores"}, produces={"topk"}, oracle=topk_oracle(3)),
                rec("topk", ["-f", "json", m], out="jsonl", streams=[m]),
                rec("topk", ["-f", "tsv", m], out="text", streams=[m]),
                rec("topk", ["-f", "text", "-n", "names.txt", m], out="text", streams=[m]),
                rec("errstats", [m], out="text", streams=[m]),
                rec("errstats", ["--jsonl", m], out="jsonl", streams=[m], oracle=jsonl_top1_oracle),
                rec("errstats", ["--csv", m], out="text", streams=[m]),
                rec("errstats", ["--compare", seed + ".mp", "--json", m], out="json", streams=[m]),
                rec("errstats", ["--compare", seed + ".mp", m, "--grid", "grid.jpg", "--grid-thumb", "32"], out="text",
                    streams=[m], writes=["grid.jpg"]),
                rec("errtree", et + ["--json", m], out="json", streams=[m]),
                rec("errtree", et + ["--list", m, "--compare", seed + ".mp"], out="text", streams=[m]),
                rec("fpdiff", [seed + ".mp", m], out="text", streams=[m], oracle=fpdiff_oracle(seed + ".mp", m)),
                rec("fpdiff", ["--json", "--prob-tol", "0.5", m, seed + ".mp"], out="json", streams=[m])]
    if seed == "topk":
        out += [rec("errstats", ["--json", m], out="json", streams=[m]),
                rec("errtree", et + [m], out="text", streams=[m])]
    if seed == "images":
        out += [rec("recview", ["-c", m], out="text", streams=[m])]
        if ctx.rnencode_left > 0 and ctx.weights:
            ctx.rnencode_left -= 1
            case.extern.append(ctx.weights)
            out.append(rec("rnencode", ["--threads", "1", "--weights", ctx.weights], stdin=m, streams=["-"],
                           consumes={"image"}, produces={"logits", "embedding", "features"}, timeout=120))
    out += [rec("recview", [m], out="jsonl", streams=[m], oracle=recview_oracle),
            rec("recview", ["-c", m], out="text", streams=[m]),
            rec("recview", ["--npy", "npy", m], out="jsonl", streams=[m], writes=["npy"], oracle=npy_oracle(m)),
            rec("recview", ["--max-record", "4096", m], out="jsonl", ok_exit=(0, 1, 2))]
    if seed != "images" or not any(r.prog == "rnencode" for r in out):
        k = min(len(out), ctx.runs_per_case)
        keep = [r for r in out if r.prog == "rnencode"]
        out = keep + rng.sample([r for r in out if r.prog != "rnencode"], k - len(keep))
    else:
        out = [r for r in out if r.prog == "rnencode"] + rng.sample([r for r in out if r.prog != "rnencode"], 1)
    return out


def npy_oracle(m):
    """recview --npy: one file per tensor of the valid records, none lost."""
    def oracle(run, case):
        if run.rc != 0:
            return []
        n = 0
        for r, _, _ in case.stream(m).records:
            if isinstance(r, mp.Pairs) and not mp.record_problem(r):
                n += sum(1 for k, v in r if isinstance(v, mp.Pairs) and "dtype" in [x for x, _ in v])
        d = case.path("npy")
        got = len(os.listdir(d)) if os.path.isdir(d) else 0
        if got != n:
            return ["recview --npy: exit 0, %d tensors in the valid records, %d files written" % (n, got)]
        return []
    return oracle


def build(case, rng, ctx):
    seed = rng.choice(SEEDS)
    data = open(os.path.join(ctx.seeddir, seed + ".mp"), "rb").read()
    for f in os.listdir(ctx.seeddir):
        if f.endswith(".mp") or f.endswith(".txt"):
            case.write(f, open(os.path.join(ctx.seeddir, f), "rb").read())
    case.write("names.txt", "".join(n + "\n" for n in NAMES).encode())
    case.write("subset.txt", b"1\n3\n5\n7\n")
    pool = [r for s in ("logits.mp", "classes.mp", "scores.mp", "topk.mp") for r in
            parse_seed(open(os.path.join(ctx.seeddir, s), "rb").read()) if r.get("type").b != b"header"]
    recs = parse_seed(data)
    n = rng.choice([1, 1, 1, 2, 2, 3, 5])
    for _ in range(n):
        if rng.random() < 0.25:
            data = b"".join(mp.pack(r) for r in recs)
            data, what = mutate_bytes(rng, data)
            case.what.append(what)
            recs = None
            break
        case.what.append(mutate_stream(rng, recs, pool))
    if recs is not None:
        data = b"".join(mp.pack(r) for r in recs)
    m = case.write("in.mp", data)
    case.what.insert(0, "seed %s.mp" % seed)
    case.runs = runs_for(rng, seed, m, ctx.seeddir, case, ctx)
