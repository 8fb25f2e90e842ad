#!/usr/bin/env python3
"""torch_peer.py - PyTorch on the same GPU: the peer of rnencode's CUDA benchmark.

  torch_peer.py --rn50 W --clip W --out RESULTS.jsonl [--deadline-s S] [--compile]
                [--configs resnet50:fp16:256,...]
  torch_peer.py --weights W --model NAME --images IN.mp --out RESULTS.jsonl
                --configs NAME:fp16:32,... [--iters N] [--warm N] [--deadline-s S]

For each model x precision x batch (default: resnet50 and clip-rn50, fp16, bf16
and fp32, batches 256, 1 and 32) it times PyTorch eager inference the way people
run it: channels_last, torch.no_grad(), cudnn.benchmark on; fp32 with TF32 off
(as rnencode's default), fp16 as PyTorch's own half model (resnet50
model.half(), CLIP's convert_weights mix), bf16 the same in bfloat16
(tests/py/gpu_ref.py build_model). With --weights (bench/gpu/family.sh: any
model rnencode reads), the network the file holds, built from its tensors as
tests/py/resnets.py build_from_state does, in the same forms (torchvision's
whole model in fp16/bf16, CLIP's convert_weights mix), on IN.mp's crops (the
records rnencode reads, repeated to fill a batch). One batch = the uint8 crops
already on the GPU -> normalize -> model -> float32 outputs, timed with CUDA
events; the same span as rnencode's per-batch time (the host->device copy is
outside both). Warm-up batches are not timed. With --compile, torch.compile(model) too, for the fp16
configurations while the deadline leaves time (compiling takes a minute each).
Each result is one JSON line: impl, model, precision, batch, batches,
batch_mean_s, batch_std_s, images_per_s, peak_bytes (torch.cuda.max_memory_allocated);
a configuration that fails (out of memory, say) is a line with "error" instead, and
the rest go on. --device cpu is for tests/gpu/mock-device-check.sh, whose stand-in
has no CUDA torch: wall time per batch, no peak memory (null).
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
import resnets  # noqa: E402

ITERS = {1: 100, 32: 30, 256: 12}
WARM = 3
DEFAULT = [(m, p, b) for b in (256, 1, 32) for p in ("fp16", "bf16", "fp32")
           for m in ("resnet50", "clip-rn50")]


def crops(preset, n, device):
    """n uint8 crops [n,224,224,3] on device: the 16 testdata crops repeated."""
    files = sorted(glob.glob(os.path.join(gpu_ref.ROOT, "testdata", "images", "*.JPEG")))[:16]
    base = np.stack([gpu_ref.crop_u8(p, preset) for p in files])
    reps = -(-n // len(base))
    return torch.from_numpy(np.concatenate([base] * reps)[:n]).to(device)


def record_crops(path, n, device):
    """n uint8 crops [n,S,S,3] on device: the image records of path (tests/py/resnets.py
    images, what rnencode reads) repeated."""
    base = resnets.read_images(path)
    reps = -(-n // len(base))
    return torch.from_numpy(np.concatenate([base] * reps)[:n]).to(device)


def build_any(sd, precision):
    """(model, preset): the network a state dict holds (resnets.build_from_state) in
    PyTorch's own form of the precision, as gpu_ref.build_model makes resnet50 and
    clip-rn50: torchvision's whole model in the 16-bit type, CLIP's convert_weights mix."""
    import clip_model
    m, clip = resnets.build_from_state(sd)
    if not clip:
        return m.to(gpu_ref.torch_dtype(precision)), "imagenet"
    if precision != "fp32":
        clip_model.convert_weights(m, gpu_ref.torch_dtype(precision))
    return m, "clip"  # every CLIP preset (clip-288 ...) has the same mean and std


def time_batches(fn, x_u8, preset, precision, iters, warm=WARM):
    cuda = x_u8.is_cuda
    if cuda:
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    t = []
    with torch.no_grad():
        for _ in range(warm):
            fn(gpu_ref.model_input_gpu(x_u8, preset, precision)).float()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        for i in range(iters):
            if cuda:
                ev[i][0].record()
            else:
                t0 = time.perf_counter()
            fn(gpu_ref.model_input_gpu(x_u8, preset, precision)).float()
            if cuda:
                ev[i][1].record()
            else:
                t.append(time.perf_counter() - t0)
        if cuda:
            torch.cuda.synchronize()
    if cuda:
        t = [s.elapsed_time(e) / 1000.0 for s, e in ev]
    peak = torch.cuda.max_memory_allocated() if cuda else None
    return statistics.mean(t), (statistics.stdev(t) if len(t) > 1 else 0.0), peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rn50", help="resnet50's checkpoint (bench/gpu/bench.sh)")
    ap.add_argument("--clip", help="clip-rn50's checkpoint (bench/gpu/bench.sh)")
    ap.add_argument("--weights", help="instead: one checkpoint of any model rnencode reads (bench/gpu/family.sh)")
    ap.add_argument("--model", help="with --weights: the model's name in the results")
    ap.add_argument("--images", help="with --weights: the image records rnencode reads (their crops)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--deadline-s", type=float, default=1e9, help="stop starting new configurations after this")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-only", action="store_true", help="--compile without the eager runs")
    ap.add_argument("--configs", help="comma list of model:precision:batch")
    ap.add_argument("--iters", type=int, help="timed batches a configuration (default: 100 at batch 1, 30 at 32, "
                    "12 at 256)")
    ap.add_argument("--warm", type=int, default=WARM, help=f"untimed batches first (default {WARM})")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: only for the CPU stand-in of tests/gpu/mock-device-check.sh")
    a = ap.parse_args()
    single = a.weights is not None
    if single and not (a.model and a.images and a.configs):
        ap.error("--weights needs --model, --images and --configs")
    if not single and not (a.rn50 and a.clip):
        ap.error("--rn50 and --clip (or --weights) are required")
    if single and (a.compile or a.compile_only):
        ap.error("--compile is for --rn50 and --clip")
    t0 = time.time()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(a.device)
    cuda = a.device == "cuda"
    configs = DEFAULT
    if a.configs:
        configs = [(c.split(":")[0], c.split(":")[1], int(c.split(":")[2])) for c in a.configs.split(",")]
    if single and any(m != a.model for m, _, _ in configs):
        ap.error(f"--configs: with --weights every configuration is --model {a.model}")
    weights = {"resnet50": a.rn50, "clip-rn50": a.clip}
    inputs, models, state = {}, {}, {}
    out = open(a.out, "a")
    device_name = torch.cuda.get_device_name(dev) if cuda else "cpu"

    def write(r):
        out.write(json.dumps(r) + "\n")
        out.flush()

    def emit(impl, m, p, b, mean, std, peak, iters):
        write({"impl": impl, "model": m, "precision": p, "batch": b, "batches": iters,
               "batch_mean_s": mean, "batch_std_s": std, "images_per_s": b / mean, "peak_bytes": peak,
               "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "device": device_name})
        mem = f"peak {peak / 2**20:.0f} MiB" if peak is not None else "no peak memory on the CPU"
        print(f"{impl:13s} {m:9s} {p} batch {b:3d}: {b / mean:9.1f} images/s, "
              f"{mean * 1e3:8.3f} +- {std * 1e3:.3f} ms/batch, {mem}", flush=True)

    def failed(impl, m, p, b, e):
        """a configuration that raised (out of memory, say): one line saying so, and the rest go on"""
        models.clear()
        if cuda:
            torch.cuda.empty_cache()
        msg = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}"
        write({"impl": impl, "model": m, "precision": p, "batch": b, "error": msg, "device": device_name})
        print(f"torch_peer.py: {impl} {m} {p} batch {b}: {msg}", flush=True)

    def model_for(m, p):
        """(model on dev, channels_last; preset of its normalization)"""
        if single:
            if "sd" not in state:  # read once for all precisions
                state["sd"] = resnets.load_state(a.weights)
            model, preset = build_any(state["sd"], p)
        else:
            model, preset = gpu_ref.build_model(m, weights[m], p), "clip" if m == "clip-rn50" else "imagenet"
        return model.to(dev).to(memory_format=torch.channels_last), preset

    def crops_for(preset, b):
        key = "records" if single else preset
        if key not in inputs:
            inputs[key] = (record_crops(a.images, max(c[2] for c in configs), dev) if single
                           else crops(preset, 256, dev))
        return inputs[key][:b]

    for m, p, b in [] if a.compile_only else configs:
        if time.time() - t0 > a.deadline_s:
            print(f"torch_peer.py: deadline reached, skipping {m} {p} batch {b}", flush=True)
            write({"impl": "torch-eager", "model": m, "precision": p, "batch": b, "error": "not run: deadline"})
            continue
        iters = a.iters or ITERS.get(b, 30)
        try:
            if (m, p) not in models:
                models.clear()  # one model on the card at a time: peak memory stays per model
                if cuda:
                    torch.cuda.empty_cache()
                models[(m, p)] = model_for(m, p)
            model, preset = models[(m, p)]
            mean, std, peak = time_batches(model, crops_for(preset, b), preset, p, iters, a.warm)
        except Exception as e:  # noqa: BLE001 - whatever it was, the next configuration may run
            failed("torch-eager", m, p, b, e)
            continue
        emit("torch-eager", m, p, b, mean, std, peak, iters)

    if a.compile or a.compile_only:
        for m, p, b in [c for c in configs if c[1] == "fp16" and c[2] == 256]:
            if time.time() - t0 > a.deadline_s - 90:
                print(f"torch_peer.py: no time left to compile {m} {p} batch {b}", flush=True)
                continue
            iters = a.iters or ITERS.get(b, 30)
            models.clear()
            if cuda:
                torch.cuda.empty_cache()
            try:
                model, preset = model_for(m, p)
                fn = torch.compile(model)
                t1 = time.time()
                mean, std, peak = time_batches(fn, crops_for(preset, b), preset, p, iters, a.warm)
            except Exception as e:  # noqa: BLE001
                failed("torch-compile", m, p, b, e)
                continue
            print(f"torch.compile {m} {p} batch {b}: compiled and timed in {time.time() - t1:.0f} s", flush=True)
            emit("torch-compile", m, p, b, mean, std, peak, iters)
    out.close()


if __name__ == "__main__":
    main()
