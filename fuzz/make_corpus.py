#!/usr/bin/env python3
"""make_corpus.py OUTDIR - seed corpora for the fuzz targets, one folder per target.

Seeds: the handmade good and bad files of tests/py/ckpt_files.py, the small
mixed.* fixtures and the TorchScript data.pkl of build/fixtures (when
tests/py/make_checkpoints.py has made them) and the regression inputs kept in
testdata/ckpt/. Each file goes to the target whose reader it looks like:
  zip/          whole zip files (the clip-rn50.pt pickle in a zip without storages)
  pickle/       legacy files without their 15-byte magic pickle
  safetensors/  whole safetensors files
and for the other targets (needs numpy and msgpack: run it with /usr/bin/python3):
  record/       fuzz_record.c: one record of each kind, and a stream of them all
  text/         fuzz_text.c: JSON prompt files, template + name pairs, and the
                tricky tokenizer strings of testdata/txtencode/tricky-expected.json
  npy/          fuzz_npy.c: numpy.save of each dtype txtembed-load reads
  wordnet/      fuzz_wordnet.c: the hand-made testdata/errtree/data.noun, and
                the first 400 lines of Debian's WordNet data.noun when installed
  calib/        fuzz_calib.c: testdata/rnencode/calibration-tv-basic.mp (written
                by rnencode --save-calibration), and the same record made here
                with other scales
"""
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAGIC = bytes.fromhex("80028a0a6cfc9c46f9206aa850192e")


def kind(b):
    if b[:2] == b"PK":
        return "zip", b
    if b.startswith(MAGIC):
        return "pickle", b[len(MAGIC):]
    if len(b) > 8 and b[8:9] == b"{":
        return "safetensors", b
    return None, b


def main():
    out = sys.argv[1]
    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(ROOT, "tests/py/ckpt_files.py"), tmp], check=True)
        for f in sorted(glob.glob(os.path.join(tmp, "good/*")) + glob.glob(os.path.join(tmp, "bad/*"))):
            seeds.append(open(f, "rb").read())
    fx = os.path.join(ROOT, "build/fixtures")
    for f in sorted(glob.glob(os.path.join(fx, "mixed*"))):
        seeds.append(open(f, "rb").read())
    clip = os.path.join(fx, "clip-rn50.pt")
    if os.path.exists(clip):
        with zipfile.ZipFile(clip) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            data = z.read(pkl)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "c.pt")
            with zipfile.ZipFile(p, "w") as z:
                z.writestr("clip/data.pkl", data)
            seeds.append(open(p, "rb").read())
    for f in sorted(glob.glob(os.path.join(ROOT, "testdata/ckpt/*"))):
        seeds.append(open(f, "rb").read())
    n = 0
    for b in seeds:
        k, body = kind(b)
        if not k:
            continue
        os.makedirs(os.path.join(out, k), exist_ok=True)
        with open(os.path.join(out, k, hashlib.sha1(body).hexdigest()), "wb") as f:
            f.write(body)
        n += 1
    n += other_seeds(out)
    print(f"{n} seeds in {out}")


def other_seeds(out):
    import json
    import msgpack
    import numpy as np

    rng = np.random.default_rng(0)
    files = {}

    def t(a):
        return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}

    recs = [
        {"type": "header", "producer": "imgdecode", "version": "0.1.0", "argv": ["imgdecode"]},
        {"type": "image", "id": "a", "path": "a.jpg", "label": 3, "preset": "imagenet",
         "tensor": t(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))},
        {"type": "classes", "model": "clip-rn50", "names": ["cat", "dog", "eel"], "logit_scale": 100.0,
         "tensor": t(rng.random((3, 4), dtype=np.float32))},
        {"type": "classes", "names": ["cat", "dog"], "logit_scale": 100.0,
         "tensor": t(rng.random((2, 2, 4)).astype(np.float16))},
        {"type": "scores", "id": "a", "label": 1, "tensor": t(rng.random(5, dtype=np.float32))},
        {"type": "error", "id": "a", "path": "x", "label": -1, "stage": "imgdecode", "message": "bad"},
        {"type": "embedding", "id": "b", "tensor": t(rng.random(8)),
         "extra": [1, 2.5, None, True, {"k": b"bin"}]},
    ]
    packed = [msgpack.packb(r, use_bin_type=True) for r in recs]
    for b in packed:
        files[("record", b)] = b
    files[("record", b"all")] = b"".join(packed)

    prompts = [{"dog": ["a dog", "a photo of a dog."], "cat": ["a cat"]},
               {"caf\u00e9": ["\u20ac \U0001F600 it's 3 o'clock"]}]
    for j in prompts:
        for ascii_only in (True, False):
            b = b"\x00" + json.dumps(j, ensure_ascii=ascii_only).encode()
            files[("text", b)] = b
    for tpl, name in [("a photo of a {}.", "dog"), ("{{{}}} itap of the {0}", "cat's"), ("a {} in a video game.", "\u00c3\u00a9")]:
        b = b"\x01" + tpl.encode() + b"\x00" + name.encode()
        files[("text", b)] = b
    tricky = json.load(open(os.path.join(ROOT, "testdata/txtencode/tricky-expected.json"), encoding="utf-8"))
    for row in tricky["rows"]:
        b = b"\x02" + row["text"].encode()
        files[("text", b)] = b

    import io
    arrays = [rng.random((3, 4), dtype=np.float32), rng.random((2, 3)).astype("<f2"), rng.random(5),
              np.arange(6, dtype=np.uint8).reshape(2, 3), np.arange(4, dtype="<i4"), np.arange(3, dtype="<i8"),
              np.float32(1.5), np.zeros((0, 4), "<f4")]
    for a in arrays:
        f = io.BytesIO()
        np.save(f, a)
        files[("npy", f.getvalue())] = f.getvalue()

    wn = [open(os.path.join(ROOT, "testdata/errtree/data.noun"), "rb").read()]
    if os.path.exists("/usr/share/wordnet/data.noun"):
        with open("/usr/share/wordnet/data.noun", "rb") as f:
            wn.append(b"".join(f.readline() for _ in range(400)))
    for b in wn:
        files[("wordnet", b)] = b

    real = open(os.path.join(ROOT, "testdata/rnencode/calibration-tv-basic.mp"), "rb").read()
    files[("calib", real)] = real
    cal = msgpack.unpackb(real, raw=False)
    cal["tensor"] = t(np.array([0.5, 1e-30, 3e38], dtype=np.float32))
    b = msgpack.packb(cal, use_bin_type=True)
    files[("calib", b)] = b

    for (k, key), body in files.items():
        os.makedirs(os.path.join(out, k), exist_ok=True)
        with open(os.path.join(out, k, hashlib.sha1(body).hexdigest()), "wb") as f:
            f.write(body)
    return len(files)


if __name__ == "__main__":
    main()
