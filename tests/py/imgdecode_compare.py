#!/usr/bin/env python3
"""imgdecode_compare.py - check imgdecode's records against PIL + torchvision.

Usage: imgdecode_compare.py STREAM... [--tol 1e-6] [--expect-errors N] [--quiet]

Reads the header of each STREAM (an imgdecode output) for the settings (resize,
crop, filter, mean, std, where RGB conversion happens, dtype), then for every
image record recomputes the tensor from its path with PIL and torchvision
transforms, as the published evaluations ran them:
  imagenet presets: Image.open(p).convert("RGB") -> Resize(S) -> CenterCrop(C)
  clip preset:      Image.open(p) -> Resize(S, bicubic) -> CenterCrop(C) -> convert("RGB")
  (with imgdecode --border B, im.crop((B, B, w - B, h - B)) right after opening,
  as ObjectNet's evaluations crop its frame),
  then uint8: np.asarray; float: ToTensor() + Normalize(mean, std) (and .half()).
uint8 tensors must be byte-identical; float tensors within --tol (absolute).
Error records count as failures unless --expect-errors says how many to
expect; with --check-errors, PIL must fail on each of those files too, but
for the files named by --refused-ok (imgdecode's hang guards).
Prints a summary line per stream "compared N images: N identical, ...", and
the worst images with their largest differences; exits 0 when everything in
every stream matches.
"""
import argparse
import sys
import warnings

import msgpack
import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torchvision.transforms import InterpolationMode

FILTERS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "box": InterpolationMode.BOX,
    "hamming": InterpolationMode.HAMMING,
    "lanczos": InterpolationMode.LANCZOS,
}


def tensor(t):
    return np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"])


def reference(path, h):
    im = Image.open(path)
    b = h.get("border", 0)
    if b:
        im = im.crop((b, b, im.width - b, im.height - b))
    rgb_first = h["rgb_convert"] == "on-load"
    if rgb_first:
        im = im.convert("RGB")
    if h["resize"] > 0:
        im = T.Resize(h["resize"], interpolation=FILTERS[h["filter"]])(im)
    if h["crop"] > 0:
        im = T.CenterCrop(h["crop"])(im)
    if not rgb_first:
        im = im.convert("RGB")
    if h["dtype"] == "uint8":
        return np.asarray(im)
    x = T.Normalize(h["mean"], h["std"])(T.ToTensor()(im))
    if h["dtype"] == "float16":
        x = x.half()
    return x.numpy()


def compare(stream, a):
    """Compare one stream; returns True when it matches."""
    header = None
    n = identical = within = errors = 0
    bad = []
    with open(stream, "rb") as f:
        for rec in msgpack.Unpacker(f, raw=False, max_buffer_size=1 << 31):
            if rec["type"] == "header" and rec.get("producer") == "imgdecode" and header is None:
                header = rec
            elif rec["type"] == "error":
                errors += 1
                if not a.quiet:
                    print(f"error record: {rec['id']}: {rec['message']}")
                if a.check_errors and not any(rec["id"].endswith(n) for n in a.refused_ok):
                    try:
                        reference(rec["path"], header)
                        bad.append((float("inf"), rec["id"], f"PIL decodes what imgdecode refused ({rec['message']})"))
                    except Exception:
                        pass
            elif rec["type"] == "image":
                n += 1
                got = tensor(rec["tensor"])
                try:
                    want = reference(rec["path"], header)
                except Exception as e:  # PIL refuses what imgdecode decoded
                    bad.append((float("inf"), rec["id"], f"PIL fails: {e}"))
                    continue
                if got.shape != want.shape or got.dtype != want.dtype:
                    bad.append((float("inf"), rec["id"], f"shape/dtype {got.shape} {got.dtype} != {want.shape} {want.dtype}"))
                    continue
                if np.array_equal(got, want):
                    identical += 1
                    within += 1
                    continue
                d = np.abs(got.astype(np.float64) - want.astype(np.float64))
                worst = float(d.max())
                if header["dtype"] != "uint8" and worst <= a.tol:
                    within += 1
                    continue
                idx = np.unravel_index(np.argsort(d, axis=None)[::-1][:5], d.shape)
                pts = ", ".join(f"{tuple(int(i) for i in p)}: {got[p]} vs {want[p]}" for p in zip(*idx))
                bad.append((worst, rec["id"], f"max |diff| {worst:g}, {int((d > 0).sum())} elements differ; worst at {pts}"))
    if header is None:
        print(f"{stream}: no imgdecode header in the stream")
        return False
    print(f"compared {n} images ({header['preset']}, {header['dtype']}, decode {header['decode']}): "
          f"{identical} identical, {within} within {a.tol:g}, {len(bad)} off, {errors} error records")
    for worst, rid, msg in sorted(bad, reverse=True)[:10]:
        print(f"  {rid}: {msg}")
    if errors != a.expect_errors:
        print(f"  expected {a.expect_errors} error records, got {errors}")
    return not bad and errors == a.expect_errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="+")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--expect-errors", type=int, default=0)
    ap.add_argument("--check-errors", action="store_true")
    ap.add_argument("--refused-ok", action="append", default=[], metavar="NAME",
                    help="a file imgdecode refuses on purpose though PIL decodes it (ids ending in NAME)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    warnings.simplefilter("ignore")  # PIL: palette transparency given as bytes
    ok = [compare(s, a) for s in a.streams]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
