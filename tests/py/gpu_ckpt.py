#!/usr/bin/env python3
"""gpu_ckpt.py OUTDIR - the two random-weight checkpoints of the GPU checks.

Made with whatever torch this python has (on the GPU machine: torch 2.11,
where the suite's fixtures cannot travel: they are hundreds of MB), by
tests/py/make_checkpoints.py's own builders, so the weights are as
non-degenerate as the suite's (calibrated BatchNorm statistics, centred heads):
  OUTDIR/resnet50.pth    torchvision resnet50 state dict (torch.save, zip format)
  OUTDIR/clip-rn50.pth   CLIP RN50 state dict with CLIP's fp16/fp32 mix
                         (torch.save: the same tensors as the TorchScript
                         fixture, without needing TorchScript)
  OUTDIR/clip-rn50x64-text.pth
                         the widest text tower (1024 wide, 16 heads, 2 layers)
                         of tests/py/clip_text_fixtures.py's openai-rn50x64.pt,
                         as an OpenAI state dict (fp16/fp32 mix, its int64
                         buffers: txtencode --model auto takes it for
                         clip-rn50x64)
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoints as mk  # noqa: E402
import clip_model  # noqa: E402
import clip_text_fixtures as tf  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gpu_ckpt.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    g = torch.Generator().manual_seed(1234)  # the same sequence as make_checkpoints.py
    rn = mk.make_resnet50(g).state_dict()
    torch.save(rn, os.path.join(out, "resnet50.pth.tmp"))
    os.replace(os.path.join(out, "resnet50.pth.tmp"), os.path.join(out, "resnet50.pth"))
    clip = mk.make_clip(g).state_dict()
    torch.save(clip, os.path.join(out, "clip-rn50.pth.tmp"))
    os.replace(os.path.join(out, "clip-rn50.pth.tmp"), os.path.join(out, "clip-rn50.pth"))
    wide = tf.make(1024, 1024, 2, "quickgelu", 103)
    clip_model.convert_weights(wide)
    torch.save(wide.state_dict(), os.path.join(out, "clip-rn50x64-text.pth.tmp"))
    os.replace(os.path.join(out, "clip-rn50x64-text.pth.tmp"), os.path.join(out, "clip-rn50x64-text.pth"))
    print(f"gpu_ckpt.py: resnet50.pth, clip-rn50.pth and clip-rn50x64-text.pth in {out} ({time.time() - t0:.1f} s, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
