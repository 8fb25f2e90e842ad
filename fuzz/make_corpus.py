#!/usr/bin/env python3
"""make_corpus.py OUTDIR - seed corpora for fuzz/fuzz_ckpt.c, one folder per target.

Seeds: the handmade good and bad files of tests/py/ckpt_files.py, the small
mixed.* fixtures and the TorchScript data.pkl of build/fixtures (when
tests/py/make_checkpoints.py has made them) and the regression inputs kept in
testdata/ckpt/. Each file goes to the target whose reader it looks like:
  zip/          whole zip files (the clip-rn50.pt pickle in a zip without storages)
  pickle/       legacy files without their 15-byte magic pickle
  safetensors/  whole safetensors files
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
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
