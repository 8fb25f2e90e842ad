#!/usr/bin/env python3
"""resnets.py - every ResNet rnencode knows, in PyTorch, for the parity tests.

  resnets.py make SPEC OUT [--calib N]  random-weight checkpoint in the published format:
                                    torchvision: torch.save(state_dict) .pth;
                                    CLIP: torch.jit.script(CLIP).save() after
                                    convert_weights (fp16 convs and linears), as OpenAI's
  resnets.py images SPEC N OUT.mp   N uint8 crops at the model's input size (testdata
                                    images, the model's preset)
  resnets.py reference CKPT IN.mp OUT.npy [--features] [--double]
                                    PyTorch's FP32 (or float64) outputs; the architecture read from
                                    the checkpoint's tensors, as CLIP's build_model does
  resnets.py compare --rtol R [--top1] REF.npy OUT.f32|OUT.mp   max |out-ref|/(|ref|+rms(row));
                                    --top1: and the same top-1 class as REF on every image
                                    (logits: argmax; embeddings: cosine with 1000 fixed
                                    random class vectors)
  resnets.py fixtures DIR N SPEC...  for each SPEC, in one process: DIR/SPEC.pth (or .pt),
                                    DIR/SPEC.mp (N images), DIR/SPEC.u8 (the same crops back
                                    to back), DIR/SPEC.npy (PyTorch FP32); DIR/done last
  resnets.py bench CKPT IN.mp --batch B --batches K [--threads T] [--cpu]
                                    PyTorch's images/s on batches of B of IN.mp's crops
                                    (repeated to fill a batch), as "eager IMG_S optimized
                                    IMG_S": eager under torch.no_grad, and
                                    torch.jit.optimize_for_inference(torch.jit.script(m));
                                    one warm-up batch each, then K timed batches of each,
                                    alternating (eager, optimized, eager, ...) so that a
                                    change of load hits both; the fastest batch of each
                                    counts (other work only ever slows a batch down);
                                    --cpu: the process's CPU seconds (all threads), not wall

SPEC: a published name (resnet18 .. resnext101_64x4d, clip-rn50 .. clip-rn50x64) or a
reduced test variant with the same code paths:
  tv-basic       torchvision BasicBlock, blocks 1,1,1,1
  tv-grouped     torchvision Bottleneck, blocks 1,2,1,1, 32 groups of 4 (width 128: resnext50_32x4d's
                 first stage, 4 channels a group, then 8, 16, 32)
  clip-small     CLIP ModifiedResNet width 32 (16 heads of 64), blocks 1,1,1,1,
                 288 px (82 attention tokens: beyond one warp's 64), embedding 96
BatchNorm statistics are measured on the images (then perturbed), heads centred on
them, as tests/py/make_checkpoints.py does for resnet50 and clip-rn50.
"""
import argparse
import glob
import math
import os
import sys

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# CLIP: embed, resolution, layers, width, text width, text heads (CLIP's configs)
CLIP_SPECS = {
    "clip-rn50": (1024, 224, (3, 4, 6, 3), 64, 512, 8),
    "clip-rn101": (512, 224, (3, 4, 23, 3), 64, 512, 8),
    "clip-rn50x4": (640, 288, (4, 6, 10, 6), 80, 640, 10),
    "clip-rn50x16": (768, 384, (6, 8, 18, 8), 96, 768, 12),
    "clip-rn50x64": (1024, 448, (3, 15, 36, 10), 128, 1024, 16),
    "clip-small": (96, 288, (1, 1, 1, 1), 32, 64, 1),
}
TV_NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2",
            "wide_resnet101_2", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"]


def torch_setup():
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return torch


def input_size(spec):
    return CLIP_SPECS[spec][1] if spec in CLIP_SPECS else 224


def build_torchvision(spec):
    import torchvision
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
    if spec == "tv-basic":
        return ResNet(BasicBlock, [1, 1, 1, 1])
    if spec == "tv-grouped":
        return ResNet(Bottleneck, [1, 2, 1, 1], groups=32, width_per_group=4)
    return getattr(torchvision.models, spec)()


def crops(size, clip, n):
    """uint8 [n,size,size,3]: testdata images resized (short side) and centre-cropped."""
    from PIL import Image
    from torchvision import transforms as T
    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))[:n]
    interp = T.InterpolationMode.BICUBIC if clip else T.InterpolationMode.BILINEAR
    resize = size if clip else size * 256 // 224
    out = []
    for f in files:
        im = Image.open(f).convert("RGB")
        out.append(np.asarray(T.CenterCrop(size)(T.Resize(resize, interpolation=interp)(im)), dtype=np.uint8))
    return np.stack(out), files


def normalize(u8, clip):
    torch = torch_setup()
    mean, std = (CLIP_MEAN, CLIP_STD) if clip else (IMAGENET_MEAN, IMAGENET_STD)
    x = torch.from_numpy(u8.copy()).permute(0, 3, 1, 2).to(torch.float32).div(255)
    return x.sub(torch.tensor(mean)[:, None, None]).div(torch.tensor(std)[:, None, None])


def cmd_make(a):
    torch = torch_setup()
    from torch import nn
    import make_checkpoints as mk
    import clip_model
    g = torch.Generator().manual_seed(11)
    torch.manual_seed(3)
    clip = a.spec in CLIP_SPECS
    u8, _ = crops(input_size(a.spec), clip, getattr(a, "calib", 8))
    x = normalize(u8, clip)
    with torch.no_grad():
        if not clip:
            m = build_torchvision(a.spec)
            mk.randomise_bn(m, g, {"bn3"} if hasattr(m.layer1[0], "bn3") else {"bn2"})
            mk.calibrate_bn(m, m, x, g)
            feats = torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(
                m.maxpool(m.relu(m.bn1(m.conv1(x))))))))), 1)
            mk.centre_linear(m.fc, feats, g, 4.0)
            torch.save(m.state_dict(), a.out)
            return 0
        embed, res, layers, width, tw, th = CLIP_SPECS[a.spec]
        m = clip_model.CLIP(embed, res, layers, width, transformer_width=tw, transformer_heads=th,
                            transformer_layers=1 if a.spec == "clip-small" else 12)
        v = m.visual
        for mod in v.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
        std = v.attnpool.c_proj.in_features ** -0.5
        for lin in (v.attnpool.q_proj, v.attnpool.k_proj, v.attnpool.v_proj):
            nn.init.normal_(lin.weight, std=std)
            nn.init.normal_(lin.bias, std=0.02)
        mk.randomise_bn(v, g, {"bn3"})
        v.bn3.weight.data.uniform_(0.5, 1.5, generator=g)
        mk.calibrate_bn(v, v, x, g)
        c_proj = v.attnpool.c_proj
        v.attnpool.c_proj = nn.Identity()
        feats = v(x)
        v.attnpool.c_proj = c_proj
        mk.centre_linear(c_proj, feats, g, 1.0)
    clip_model.convert_weights(m)
    torch.jit.script(m.eval()).save(a.out)
    return 0


def cmd_images(a):
    clip = a.spec in CLIP_SPECS
    u8, files = crops(input_size(a.spec), clip, a.n)
    if getattr(a, "raw", None):
        u8.tofile(a.raw)
    preset = ("clip" if input_size(a.spec) == 224 else f"clip-{input_size(a.spec)}") if clip else "imagenet"
    with open(a.out, "wb") as f:
        for t, p in zip(u8, files):
            f.write(msgpack.packb({"type": "image", "id": os.path.basename(p), "path": p, "label": -1,
                                   "preset": preset, "tensor": {"dtype": "uint8", "shape": list(t.shape),
                                                                "data": t.tobytes()}}))
    return 0


def load_state(path):
    torch = torch_setup()
    try:
        sd = torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        sd = torch.load(path, map_location="cpu")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def build_from_state(sd):
    """(model, clip?) with the architecture read from the tensors."""
    if "visual.attnpool.c_proj.weight" in sd:
        import clip_model
        vis = {k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")}
        layers = tuple(len({k.split(".")[1] for k in vis if k.startswith(f"layer{b}.")}) for b in (1, 2, 3, 4))
        width = vis["layer1.0.conv1.weight"].shape[0]
        grid = round((vis["attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        m = clip_model.ModifiedResNet(layers, vis["attnpool.c_proj.weight"].shape[0], width * 32 // 64,
                                      grid * 32, width)
        m.load_state_dict(vis)
        return m.eval(), True
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
    layers = [len({k.split(".")[1] for k in sd if k.startswith(f"layer{b}.")}) for b in (1, 2, 3, 4)]
    bottleneck = "layer1.0.conv3.weight" in sd
    width = sd["layer1.0.conv1.weight"].shape[0]
    groups = width // sd["layer1.0.conv2.weight"].shape[1] if bottleneck else 1
    m = ResNet(Bottleneck if bottleneck else BasicBlock, layers, num_classes=sd["fc.weight"].shape[0],
               groups=groups, width_per_group=width // groups)
    m.load_state_dict(sd)
    return m.eval(), False


def read_images(path):
    with open(path, "rb") as f:
        recs = [r for r in msgpack.Unpacker(f, raw=False) if r.get("type") == "image"]
    return np.stack([np.frombuffer(r["tensor"]["data"], np.uint8).reshape(r["tensor"]["shape"]) for r in recs])


def cmd_reference(a):
    torch = torch_setup()
    m, clip = build_from_state(load_state(a.ckpt))
    x = normalize(read_images(a.images), clip)
    if getattr(a, "double", False):  # the exact answer: float64 throughout
        m, x = m.double(), x.double()
    with torch.no_grad():
        if a.features:
            y = torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(
                m.maxpool(m.relu(m.bn1(m.conv1(x))))))))), 1)
        else:
            y = m(x)
    np.save(a.out, y.numpy().astype(np.float32))
    return 0


def top1(y, embedding):
    """Each row's top-1 class, its margin over the second and the scores: argmax of the logits, or
    for an embedding the argmax of its cosine with 1000 fixed random unit class vectors
    (a stand-in for CLIP's text classifier, as rnencode_ref.py compare does)."""
    if embedding:
        cls = np.random.default_rng(5).standard_normal((1000, y.shape[1]))
        cls /= np.linalg.norm(cls, axis=1, keepdims=True)
        y = (y / np.linalg.norm(y, axis=1, keepdims=True)) @ cls.T
    srt = np.sort(y, axis=1)
    return y.argmax(axis=1), srt[:, -1] - srt[:, -2], y


def cmd_compare(a):
    ref = np.load(a.ref).astype(np.float64)
    kinds = set()
    if a.out.endswith(".f32"):
        out = np.fromfile(a.out, np.float32).astype(np.float64)
    else:
        with open(a.out, "rb") as f:
            recs = [r for r in msgpack.Unpacker(f, raw=False) if r.get("type") in ("logits", "embedding", "features")]
        kinds = {r["type"] for r in recs}
        out = np.stack([np.frombuffer(r["tensor"]["data"], r["tensor"]["dtype"]).astype(np.float64) for r in recs])
    if out.size != ref.size:
        print(f"{a.name}: {out.size} values, reference {ref.size}")
        return 1
    out = out.reshape(ref.shape)
    rms = np.sqrt((ref ** 2).mean(axis=1, keepdims=True))
    ratio = np.abs(out - ref) / (np.abs(ref) + rms)
    print(f"{a.name}: {ref.shape[0]} x {ref.shape[1]}: max |out-ref|/(|ref|+rms) = {ratio.max():.3g} "
          f"(tolerance {a.rtol:g})")
    bad = not (np.isfinite(ratio).all() and ratio.max() <= a.rtol)
    if a.top1:
        if kinds not in ({"logits"}, {"embedding"}):
            print(f"{a.name}: --top1 needs logits or embedding records, found {sorted(kinds)}")
            return 1
        got, _, s_out = top1(out, kinds == {"embedding"})
        want, margin, s_ref = top1(ref, kinds == {"embedding"})
        same = got == want
        print(f"{a.name}: top-1 equal to PyTorch FP32's on {same.sum()}/{len(same)} images "
              f"(smallest reference top-1 margin {margin.min():.3g}, largest score change "
              f"{np.abs(s_out - s_ref).max():.3g})")
        bad = bad or not same.all()
    return 1 if bad else 0


def cmd_bench(a):
    import time
    torch = torch_setup()
    torch.set_num_threads(a.threads)
    m, clip = build_from_state(load_state(a.ckpt))
    x = normalize(read_images(a.images), clip)
    while x.shape[0] < a.batch:
        x = torch.cat([x, x])
    x = x[:a.batch].contiguous()
    with torch.no_grad():
        models = [m, torch.jit.optimize_for_inference(torch.jit.script(m))]
        for model in models:
            model(x)  # warm-up (and the optimizer's first-run specialisation)
        clock = time.process_time if a.cpu else time.perf_counter
        best = [math.inf, math.inf]
        for _ in range(a.batches):
            for i, model in enumerate(models):
                t = clock()
                model(x)
                best[i] = min(best[i], clock() - t)
    print(f"eager {a.batch / best[0]:.4f} optimized {a.batch / best[1]:.4f}")
    return 0


def cmd_fixtures(a):
    for spec in a.specs:
        base = os.path.join(a.dir, spec)
        ck = base + (".pt" if spec in CLIP_SPECS else ".pth")
        ns = argparse.Namespace
        cmd_make(ns(spec=spec, out=ck))
        cmd_images(ns(spec=spec, n=a.n, out=base + ".mp", raw=base + ".u8"))
        cmd_reference(ns(ckpt=ck, images=base + ".mp", out=base + ".npy", features=False))
    open(os.path.join(a.dir, "done"), "w").close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("make")
    s.add_argument("spec")
    s.add_argument("out")
    s.add_argument("--calib", type=int, default=8, help="images for the BatchNorm statistics")
    s = sub.add_parser("images")
    s.add_argument("spec")
    s.add_argument("n", type=int)
    s.add_argument("out")
    s = sub.add_parser("reference")
    s.add_argument("ckpt")
    s.add_argument("images")
    s.add_argument("out")
    s.add_argument("--features", action="store_true")
    s.add_argument("--double", action="store_true", help="float64 weights and activations (the exact answer)")
    s = sub.add_parser("compare")
    s.add_argument("--rtol", type=float, required=True)
    s.add_argument("--name", default="compare")
    s.add_argument("--top1", action="store_true", help="also the same top-1 class as REF on every image")
    s.add_argument("ref")
    s.add_argument("out")
    s = sub.add_parser("fixtures")
    s.add_argument("dir")
    s.add_argument("n", type=int)
    s.add_argument("specs", nargs="+")
    s = sub.add_parser("bench")
    s.add_argument("ckpt")
    s.add_argument("images")
    s.add_argument("--batch", type=int, required=True)
    s.add_argument("--batches", type=int, required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--cpu", action="store_true", help="CPU seconds of the process (all threads) instead of wall")
    a = ap.parse_args()
    return {"bench": cmd_bench, "fixtures": cmd_fixtures, "make": cmd_make, "images": cmd_images, "reference": cmd_reference, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
