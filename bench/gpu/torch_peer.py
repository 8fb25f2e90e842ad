#!/usr/bin/env python3
"""torch_peer.py - PyTorch on the same GPU: the peer of rnencode's CUDA benchmark.

  torch_peer.py --rn50 W --clip W --out RESULTS.jsonl [--deadline-s S] [--compile]
                [--configs resnet50:fp16:256,...]

For each model x precision x batch (default: resnet50 and clip-rn50, fp16, bf16
and fp32, batches 256, 1 and 32) it times PyTorch eager inference the way people
run it: channels_last, torch.no_grad(), cudnn.benchmark on; fp32 with TF32 off
(as rnencode's default), fp16 as PyTorch's own half model (resnet50
model.half(), CLIP's convert_weights mix), bf16 the same in bfloat16
(tests/py/gpu_ref.py build_model). One batch = the uint8 crops already on the GPU ->
normalize -> model -> float32 outputs, timed with CUDA events; the same span as
rnencode's per-batch time (the host->device copy is outside both). Warm-up
batches are not timed. With --compile, torch.compile(model) too, for the fp16
configurations while the deadline leaves time (compiling takes a minute each).
Each result is one JSON line: impl, model, precision, batch, batches,
batch_mean_s, batch_std_s, images_per_s, peak_bytes (torch.cuda.max_memory_allocated).
"""
import argparse
import glob
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "py"))
import gpu_ref  # noqa: E402

ITERS = {1: 100, 32: 30, 256: 12}
WARM = 3
DEFAULT = [(m, p, b) for b in (256, 1, 32) for p in ("fp16", "bf16", "fp32")
           for m in ("resnet50", "clip-rn50")]


def crops(preset, n):
    """n uint8 crops [n,224,224,3] on the GPU: the 16 testdata crops repeated."""
    files = sorted(glob.glob(os.path.join(gpu_ref.ROOT, "testdata", "images", "*.JPEG")))[:16]
    base = np.stack([gpu_ref.crop_u8(p, preset) for p in files])
    reps = -(-n // len(base))
    return torch.from_numpy(np.concatenate([base] * reps)[:n]).cuda()


def time_batches(fn, x_u8, preset, precision, iters):
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    with torch.no_grad():
        for _ in range(WARM):
            fn(gpu_ref.model_input_gpu(x_u8, preset, precision)).float()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for s, e in ev:
            s.record()
            fn(gpu_ref.model_input_gpu(x_u8, preset, precision)).float()
            e.record()
        torch.cuda.synchronize()
    t = [s.elapsed_time(e) / 1000.0 for s, e in ev]
    return statistics.mean(t), (statistics.stdev(t) if len(t) > 1 else 0.0), torch.cuda.max_memory_allocated()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rn50", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--deadline-s", type=float, default=1e9, help="stop starting new configurations after this")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-only", action="store_true", help="--compile without the eager runs")
    ap.add_argument("--configs", help="comma list of model:precision:batch")
    a = ap.parse_args()
    t0 = time.time()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    configs = DEFAULT
    if a.configs:
        configs = [(c.split(":")[0], c.split(":")[1], int(c.split(":")[2])) for c in a.configs.split(",")]
    weights = {"resnet50": a.rn50, "clip-rn50": a.clip}
    inputs, models = {}, {}
    out = open(a.out, "a")

    def emit(impl, m, p, b, mean, std, peak, iters):
        r = {"impl": impl, "model": m, "precision": p, "batch": b, "batches": iters,
             "batch_mean_s": mean, "batch_std_s": std, "images_per_s": b / mean, "peak_bytes": peak,
             "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}
        out.write(json.dumps(r) + "\n")
        out.flush()
        print(f"{impl:13s} {m:9s} {p} batch {b:3d}: {b / mean:9.1f} images/s, "
              f"{mean * 1e3:8.3f} +- {std * 1e3:.3f} ms/batch, peak {peak / 2**20:.0f} MiB", flush=True)

    for m, p, b in [] if a.compile_only else configs:
        if time.time() - t0 > a.deadline_s:
            print(f"torch_peer.py: deadline reached, skipping {m} {p} batch {b}", flush=True)
            continue
        preset = "clip" if m == "clip-rn50" else "imagenet"
        if preset not in inputs:
            inputs[preset] = crops(preset, 256)
        key = (m, p)
        if key not in models:
            models.clear()  # one model on the card at a time: peak memory stays per model
            torch.cuda.empty_cache()
            models[key] = gpu_ref.build_model(m, weights[m], p).cuda().to(memory_format=torch.channels_last)
        model = models[key]
        mean, std, peak = time_batches(model, inputs[preset][:b], preset, p, ITERS[b])
        emit("torch-eager", m, p, b, mean, std, peak, ITERS[b])

    if a.compile or a.compile_only:
        for m, p, b in [c for c in configs if c[1] == "fp16" and c[2] == 256]:
            if time.time() - t0 > a.deadline_s - 90:
                print(f"torch_peer.py: no time left to compile {m} {p} batch {b}", flush=True)
                continue
            preset = "clip" if m == "clip-rn50" else "imagenet"
            if preset not in inputs:
                inputs[preset] = crops(preset, 256)
            models.clear()
            torch.cuda.empty_cache()
            model = gpu_ref.build_model(m, weights[m], p).cuda().to(memory_format=torch.channels_last)
            fn = torch.compile(model)
            t1 = time.time()
            mean, std, peak = time_batches(fn, inputs[preset][:b], preset, p, ITERS[b])
            print(f"torch.compile {m} {p} batch {b}: compiled and timed in {time.time() - t1:.0f} s", flush=True)
            emit("torch-compile", m, p, b, mean, std, peak, ITERS[b])
    out.close()


if __name__ == "__main__":
    main()
