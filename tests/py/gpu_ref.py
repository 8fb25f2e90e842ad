#!/usr/bin/env python3
"""gpu_ref.py - PyTorch and numpy side of the CUDA backend's tests (tests/gpu/).

Runs under Debian's python3 (torch 1.13, numpy 1.24) here and under the GPU
machine's python3 (torch 2.11, numpy 2).

  images --preset imagenet|clip --n N [--dtype uint8|float32|float16]
         [--repeat R] [--u8 OUT.u8] [--records OUT.mp]
      The first N testdata JPEGs (cycled when N > 40), cropped by PIL +
      torchvision as doc/presets.md says: raw uint8 [N][224][224][3] (--u8)
      and/or an image record stream (--records, a header record first; with
      --dtype float32/float16 the records hold normalized [3,224,224]); --repeat
      writes the stream R times over (benchmark input).
  reference --model M --weights FILE --u8 IN.u8 --n N --device cpu|cuda
            --precision fp32|fp16|bf16 [--features] --out OUT.f32 [--make-u8]
            [--features-out FEAT.f32]
      PyTorch's own outputs, float32 [N][D] raw (--make-u8: write IN.u8 first,
      as `images` would; --features-out: resnet50's pooled [N][2048] too). fp32 on CUDA has TF32 off
      (true FP32, as rnencode's default). fp16: resnet50 as model.half()
      (BatchNorm in half, PyTorch's usual FP16), clip-rn50 as CLIP's
      convert_weights mix (convolutions and linears half, BatchNorm float).
      bf16: the same in bfloat16 (resnet50 model.to(torch.bfloat16), CLIP's
      mix with bfloat16 weights); like fp16 it needs --device cuda.
  layers --model M --weights FILE --u8 IN.u8 --dump DIR --rtol R [--device D] [--md FILE]
      A per-op dump of the first image (RNENC_GPU_DUMP=DIR, gpu/gpu_dump.h) against
      PyTorch's FP32 activations at the same points (forward hooks; a conv op is
      relu(bn(conv)), conv3 the block's output, a downsample op the branch without
      its folded bias): per op the worst element as a fraction of compare's
      tolerance, relative L2 and max abs, and the first op beyond it. Exit 1 then.
  compare --rtol R [--top1] [--name NAME] [--json FILE] REF CAND
      REF and CAND: raw float32 .f32 files or record streams (the logits /
      embedding / features records, in order). Passes when every element has
          |cand - ref| <= R * (|ref| + rms(ref row))
      (relative error, with the row's RMS keeping near-zero elements from
      demanding absolute agreement). --top1 also requires the same argmax on
      every row, except on rows whose reference top-2 margin is within the
      tolerance band itself (reported as near-ties). Prints the worst
      elements; --json appends one result line. Exit 1 when out of tolerance.
"""
import argparse
import glob
import json
import os
import sys

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from rnencode_ref import PRESETS, crop_u8  # the crops rnencode's CPU parity tests use

S = 224


def normalize_np(u8, preset):
    """torchvision ToTensor + Normalize in float32: [3,224,224]."""
    _, _, mean, std = PRESETS[preset]
    x = u8.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    m = np.array(mean, np.float32)[:, None, None]
    s = np.array(std, np.float32)[:, None, None]
    return (x - m) / s


def cmd_images(a):
    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))
    if not files:
        sys.exit("gpu_ref.py: no testdata/images/*.JPEG")
    picks = [files[i % len(files)] for i in range(a.n)]
    crops = [crop_u8(p, a.preset) for p in picks]
    if a.u8:
        with open(a.u8, "wb") as f:
            for c in crops:
                f.write(c.tobytes())
    outs = ([(a.repeat, a.records)] if a.records else []) + [  # `reference` calls this without --also
        (int(x.split(":", 1)[0]), x.split(":", 1)[1]) for x in (getattr(a, "also", None) or [])]
    if outs:
        recs = []
        for i, (p, c) in enumerate(zip(picks, crops)):
            t = c if a.dtype == "uint8" else normalize_np(c, a.preset).astype(a.dtype)
            recs.append(msgpack.packb({"type": "image", "id": f"{i:05d}-{os.path.basename(p)}",
                                       "path": p, "label": -1, "preset": a.preset,
                                       "tensor": {"dtype": str(t.dtype), "shape": list(t.shape),
                                                  "data": t.tobytes()}}))
        blob = b"".join(recs)
        for repeat, path in outs:
            with open(path, "wb") as f:
                f.write(msgpack.packb({"type": "header", "producer": "gpu_ref.py", "version": "test",
                                       "argv": sys.argv, "preset": a.preset}))
                for _ in range(repeat):
                    f.write(blob)


def load_state(path):
    import torch
    try:
        return torch.jit.load(path, map_location="cpu").state_dict()
    except Exception:  # not TorchScript: a plain state dict
        return torch.load(path, map_location="cpu")


def torch_dtype(precision):
    """fp32 | fp16 | bf16 -> the torch dtype of the model's 16-bit (or float) parts."""
    import torch
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def build_model(kind, weights, precision):
    """Eager PyTorch model in eval mode: fp32, or PyTorch's own fp16 / bf16 form."""
    import torch
    sd = {k: v.float() if v.is_floating_point() else v for k, v in load_state(weights).items()}
    dt = torch_dtype(precision)
    if kind == "resnet50":
        import torchvision
        m = torchvision.models.resnet50()
        m.load_state_dict(sd)
        return m.eval().to(dt)
    import clip_model
    m = clip_model.ModifiedResNet()
    m.load_state_dict({k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")})
    m = m.eval()
    if precision != "fp32":
        clip_model.convert_weights(m, dt)
    return m


_NORM = {}


def model_input_gpu(x_u8, preset, precision):
    """uint8 [N,224,224,3] torch tensor (on its device) -> normalized
    [N,3,224,224], channels_last, of the precision's dtype: ToTensor + Normalize."""
    import torch
    key = (preset, str(x_u8.device))
    if key not in _NORM:
        _, _, mean, std = PRESETS[preset]
        _NORM[key] = (torch.tensor(mean, device=x_u8.device).view(1, 3, 1, 1),
                      torch.tensor(std, device=x_u8.device).view(1, 3, 1, 1))
    m, s = _NORM[key]
    x = x_u8.permute(0, 3, 1, 2).float().div(255).sub(m).div(s)
    x = x.contiguous(memory_format=torch.channels_last)
    return x.to(torch_dtype(precision))


def model_input(u8, preset, device, precision):
    """uint8 numpy [N,224,224,3] -> model_input_gpu on device."""
    import torch
    return model_input_gpu(torch.from_numpy(u8).to(device), preset, precision)


def features_fn(kind, m, features):
    if kind == "resnet50" and features:
        import torch
        return lambda x: torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(
            m.maxpool(m.relu(m.bn1(m.conv1(x))))))))), 1)
    return m


def cmd_reference(a):
    import torch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    preset = "clip" if a.model == "clip-rn50" else "imagenet"
    if a.make_u8:
        a.preset, a.records, a.dtype, a.repeat = preset, None, "uint8", 1
        cmd_images(a)
    u8 = np.fromfile(a.u8, np.uint8, a.n * S * S * 3).reshape(a.n, S, S, 3)
    if a.precision != "fp32" and a.device == "cpu":
        sys.exit(f"gpu_ref.py: a {a.precision} reference needs --device cuda (the GPU's PyTorch numerics)")
    m = build_model(a.model, a.weights, a.precision).to(a.device).to(memory_format=torch.channels_last)
    x = model_input(u8, preset, a.device, a.precision)
    with torch.no_grad():
        features_fn(a.model, m, a.features)(x).float().cpu().numpy().astype(np.float32).tofile(a.out)
        if a.features_out:
            features_fn(a.model, m, True)(x).float().cpu().numpy().astype(np.float32).tofile(a.features_out)


def reference_points(kind, m, names):
    """PyTorch's activation at each plan op name (gpu/gpu_plan.cc names them after
    the checkpoint's modules), as a function of the hooked module outputs."""
    import torch

    def folded_bias(bn):
        return (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(1, -1, 1, 1)

    hooks, get = {}, {}
    for name in names:
        parts = name.split(".")
        if name == "input":
            continue
        if name in ("conv1", "conv2", "conv3") or (len(parts) == 3 and parts[2] in ("conv1", "conv2")):
            # a conv op's output is relu(bn(conv)): BatchNorm is folded into it
            bn = ".".join(parts[:-1] + ["bn" + parts[-1][-1]]) if len(parts) == 3 else "bn" + name[-1]
            hooks[bn] = None
            get[name] = (lambda b: lambda h: torch.relu(h[b]))(bn)
        elif len(parts) == 3 and parts[2] == "conv3":
            blk = ".".join(parts[:2])  # relu(bn3(conv3) + identity): the block's output
            hooks[blk] = None
            get[name] = (lambda b: lambda h: h[b])(blk)
        elif name.endswith(".downsample.avgpool"):  # CLIP's branch pools first: its module "-1"
            mod = name[:-len("avgpool")] + "-1"
            hooks[mod] = None
            get[name] = (lambda b: lambda h: h[b])(mod)
        elif len(parts) == 3 and parts[2] == "downsample":
            # the op runs without its bias (conv3 adds it): the Sequential's output minus it
            hooks[name] = None
            bn = m.get_submodule(name + ".1")
            get[name] = (lambda b, bias: lambda h: h[b] - bias)(name, folded_bias(bn))
        else:  # pools, fc, attnpool: the module of that name
            hooks[name] = None
            get[name] = (lambda b: lambda h: h[b])(name)
    return hooks, get


def cmd_layers(a):
    import torch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(a.dump, "index.tsv")) if line.strip()]
    names = [r[1] for r in rows]
    preset = "clip" if a.model == "clip-rn50" else "imagenet"
    u8 = np.fromfile(a.u8, np.uint8, S * S * 3).reshape(1, S, S, 3)
    m = build_model(a.model, a.weights, "fp32").to(a.device)
    x = model_input(u8, preset, a.device, "fp32").contiguous()
    want, get = reference_points(a.model, m, names)
    seen = {}
    for mod in want:
        m.get_submodule(mod).register_forward_hook(
            (lambda k: lambda _m, _i, out: seen.__setitem__(k, out.detach().float().clone()))(mod))
    with torch.no_grad():
        m(x)
        seen["input"] = x.float()
        get["input"] = lambda h: h["input"]
        refs = {n: get[n](seen) for n in names}
    lines = ["| op | shape | worst / tolerance | relative L2 | max abs |", "|---|---|---:|---:|---:|"]
    first_bad, worst = None, 0.0
    for idx, name, h, w, c in rows:
        h, w, c = int(h), int(w), int(c)
        got = np.fromfile(os.path.join(a.dump, idx + ".f32"), np.float32).astype(np.float64).reshape(h, w, c)
        r = refs[name].cpu().numpy().astype(np.float64)[0]
        r = r.reshape(-1) if r.ndim == 1 else np.transpose(r, (1, 2, 0))  # NCHW -> HWC
        r = r.reshape(h, w, -1)
        got = got[:, :, :r.shape[2]]  # the input's padding channels
        if not np.all(np.isfinite(got)):
            ratio, rel, mx = float("inf"), float("inf"), float("inf")
        else:
            d = np.abs(got - r)
            rms = np.sqrt(np.mean(r * r))
            ratio = float((d / (a.rtol * (np.abs(r) + rms) + 1e-30)).max())
            rel = float(np.linalg.norm(got - r) / max(np.linalg.norm(r), 1e-30))
            mx = float(d.max())
        worst = max(worst, ratio)
        if ratio > 1 and first_bad is None:
            first_bad = name
        lines.append(f"| {name}{' **beyond**' if ratio > 1 else ''} | {h}x{w}x{c} | {ratio:.3g} | {rel:.3g} | {mx:.3g} |")
    verdict = (f"{a.model}: every op within rtol {a.rtol:g} of PyTorch FP32 (worst {worst:.3g} x)" if first_bad is None
               else f"{a.model}: first op beyond rtol {a.rtol:g} of PyTorch FP32: {first_bad}")
    text = "\n".join([verdict, ""] + lines) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "a") as f:
            f.write("\n" + text)
    return 0 if first_bad is None else 1


def load_outputs(path, dim):
    if path.endswith(".f32"):
        return np.fromfile(path, np.float32).reshape(-1, dim).astype(np.float64)
    rows = []
    with open(path, "rb") as f:
        for r in msgpack.Unpacker(f, raw=False):
            if not isinstance(r, dict):
                continue
            if r.get("type") in ("logits", "embedding", "features"):
                t = r["tensor"]
                rows.append(np.frombuffer(t["data"], t["dtype"]).astype(np.float64))
            elif r.get("type") == "classes":  # txtencode: [K,E] or [K,T,E], one row per E
                t = r["tensor"]
                rows.extend(np.frombuffer(t["data"], t["dtype"]).astype(np.float64).reshape(-1, dim))
    return np.stack(rows) if rows else np.zeros((0, dim))


def cmd_compare(a):
    ref = load_outputs(a.ref, a.dim)
    out = load_outputs(a.cand, a.dim)
    name = a.name or os.path.basename(a.cand)
    res = {"name": name, "rtol": a.rtol, "rows": int(len(ref))}
    ok = True
    if out.shape != ref.shape or len(ref) == 0:
        print(f"{name}: shape {out.shape} vs reference {ref.shape}")
        ok = False
    elif not np.all(np.isfinite(out)):
        print(f"{name}: {int(np.sum(~np.isfinite(out)))} non-finite outputs")
        ok = False
    else:
        rms = np.sqrt(np.mean(ref * ref, axis=1, keepdims=True))
        err = np.abs(out - ref)
        bound = a.rtol * (np.abs(ref) + rms)
        ratio = err / bound
        rel_l2 = np.linalg.norm(out - ref, axis=1) / np.linalg.norm(ref, axis=1)
        res.update({"max_ratio": float(ratio.max()), "max_abs": float(err.max()),
                    "max_rel_l2": float(rel_l2.max()), "mean_rel_l2": float(rel_l2.mean())})
        ok = bool(ratio.max() <= 1.0)
        print(f"{name}: {len(ref)} rows, worst error = {ratio.max():.3g} x tolerance "
              f"(rtol {a.rtol:g}), max abs {err.max():.3g}, relative L2 max {rel_l2.max():.3g} "
              f"mean {rel_l2.mean():.3g}")
        if a.top1:
            flips, ties = [], []
            top = np.sort(ref, axis=1)
            for i in range(len(ref)):
                if np.argmax(out[i]) != np.argmax(ref[i]):
                    margin = top[i, -1] - top[i, -2]
                    (ties if margin <= 2 * bound[i].max() else flips).append((i, margin))
            res.update({"top1_flips": len(flips), "near_ties": len(ties)})
            print(f"{name}: top-1 identical on {len(ref) - len(flips) - len(ties)}/{len(ref)} rows"
                  + (f", {len(ties)} near-ties (reference margin within tolerance): {ties}" if ties else ""))
            if flips:
                print(f"{name}: top-1 differs on rows (row, reference margin): {flips}")
                ok = False
        if not ok or a.verbose:
            flat = np.argsort(ratio, axis=None)[::-1][:8]
            for k in flat:
                i, j = np.unravel_index(k, ratio.shape)
                print(f"  row {i} [{j}]: ref {ref[i, j]:.7g} got {out[i, j]:.7g} "
                      f"err {err[i, j]:.3g} ({ratio[i, j]:.3g} x tolerance)")
    res["ok"] = ok
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(res) + "\n")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("images")
    s.add_argument("--preset", choices=sorted(PRESETS), required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--dtype", choices=["uint8", "float32", "float16"], default="uint8")
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--u8")
    s.add_argument("--records")
    s.add_argument("--also", action="append", metavar="REPEAT:PATH",
                   help="another records file of the same crops repeated REPEAT times (one decode for all)")
    s = sub.add_parser("reference")
    s.add_argument("--model", choices=["resnet50", "clip-rn50"], required=True)
    s.add_argument("--weights", required=True)
    s.add_argument("--u8", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--device", default="cpu")
    s.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    s.add_argument("--features", action="store_true")
    s.add_argument("--out", required=True)
    s.add_argument("--make-u8", action="store_true", help="first write the first N testdata crops to --u8")
    s.add_argument("--features-out", help="resnet50: also the pooled [N][2048] features, to this file")
    s = sub.add_parser("layers")
    s.add_argument("--model", choices=["resnet50", "clip-rn50"], required=True)
    s.add_argument("--weights", required=True)
    s.add_argument("--u8", required=True)
    s.add_argument("--dump", required=True)
    s.add_argument("--rtol", type=float, required=True)
    s.add_argument("--device", default="cpu")
    s.add_argument("--md", help="also append the table to this file")
    s = sub.add_parser("compare")
    s.add_argument("--rtol", type=float, required=True)
    s.add_argument("--dim", type=int, required=True)
    s.add_argument("--top1", action="store_true")
    s.add_argument("--name")
    s.add_argument("--json")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("ref")
    s.add_argument("cand")
    a = p.parse_args()
    if a.cmd == "images":
        return cmd_images(a)
    if a.cmd == "layers":
        return cmd_layers(a)
    if a.cmd == "reference":
        return cmd_reference(a)
    return cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
