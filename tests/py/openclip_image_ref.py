"""openclip_image_ref.py IMAGES.mp CKPT OUT.mp [CKPT OUT.mp ...]

The image tower of each CLIP checkpoint (clip_model.load: OpenAI archives,
open_clip state dicts and safetensors) on the first image record of
IMAGES.mp (uint8, CLIP's mean/std), against rnencode's embedding in OUT.mp.
Prints the worst element per file; exits 1 when one is beyond the FP32
tolerance (abs + rel, 1e-4), 2 on a missing record."""
import sys

import msgpack
import numpy as np
import torch

import clip_model

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
TOL = 1e-4


def first(path, kind):
    for r in msgpack.Unpacker(open(path, "rb"), raw=False):
        if isinstance(r, dict) and r.get("type") == kind:
            return r
    sys.exit(f"{path}: no {kind} record")


def main():
    img = first(sys.argv[1], "image")["tensor"]
    a = np.frombuffer(img["data"], np.uint8).reshape(img["shape"]).astype(np.float32) / 255
    x = torch.from_numpy(((a - MEAN) / STD).transpose(2, 0, 1)[None].copy())
    bad = 0
    for ckpt, out in zip(sys.argv[2::2], sys.argv[3::2]):
        with torch.no_grad():
            ref = clip_model.load(ckpt).eval().visual(x)[0].numpy().astype(np.float64)
        t = first(out, "embedding")["tensor"]
        got = np.frombuffer(t["data"], np.float32).astype(np.float64)
        if got.shape != ref.shape:
            print(f"{ckpt}: shape {got.shape}, PyTorch {ref.shape}")
            bad = 1
            continue
        err = np.abs(got - ref) / (TOL + np.abs(ref))
        i = int(err.argmax())
        print(f"{ckpt}: worst element {i}: rnencode {got[i]:.8g}, PyTorch {ref[i]:.8g} (|d| {abs(got[i] - ref[i]):.3g})")
        if np.abs(got - ref).max() > TOL * (1 + np.abs(ref).max()):
            bad = 1
    sys.exit(bad)


main()
