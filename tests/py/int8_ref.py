#!/usr/bin/env python3
"""int8_ref.py - rnencode --precision int8's arithmetic in PyTorch, for tests/rnencode/test_int8.sh.

  int8_ref.py --rtol R [--epilogue f64] [--scales ...] [CKPT CALIB.mp IN.mp OUT.mp ...]
      for each network: what rnencode --precision int8 --calibration CALIB.mp computes for
      the image records of IN.mp (uint8 crops or float32 [3,S,S]) with checkpoint CKPT (a
      torchvision ResNet or ResNeXt state dict without a prefix, or a CLIP file with its
      ModifiedResNet under visual., as tests/py/resnets.py writes them), compared with
      rnencode's output records in OUT.mp as rnencode_ref.py compare does (per element
      |out - ref| <= R * (|ref| + rms(ref of that image)), the worst elements printed).
      --scales CKPT CALIB.mp SET.mp (repeatable) --scales-rtol S: also check the calibration
      itself: each scale is PyTorch FP32's largest |input| of its convolution over SET.mp's
      images the model takes, over 127 (the image, s8) or 255 (u8), within relative S, and
      CALIB.mp counts those images (the oracle takes the scales as given: a wrong observer
      would give the same wrong numbers on both sides).
      Exit 1 when a network is out of tolerance.

The scheme of model/cpu_dnnl.c (its header, weight_scales, add_conv, wgt_get,
direct_u8_scale, quantized_input) as oneDNN 2.6 computes it on AVX2 without VNNI
(ONEDNN_MAX_CPU_ISA=AVX2 holds it there on any x86 CPU): its jit_uni_int8 and
jit_uni_int8_1x1 convolutions (store_output) and jit:uni reorders:
  - the network written down as model/net.c writes it (the same op and convolution order:
    the calibration file's scales are indexed by it), BatchNorm folded as net.c folds it
    (scale in float64, the products rounded to float32);
  - weights: per output channel wsc = max|w| / qmax (float32), qmax 127 for the image's s8
    input and 63 for a u8 input (7 bits); s8 = round-half-even(w * f32(1 / wsc)),
    saturated. With an s8 input (no VNNI) oneDNN quantizes w * (1 / wsc) * 0.5 instead,
    halves the bias and doubles the output scale: the same numbers as the weights
    2 * round(w * (1 / wsc) * 0.5) with neither, which is what is computed here;
  - a convolution's input: u8 (after a ReLU) or s8 (the image): round-half-even(x * f32(1 /
    scale)), saturated to 0..255 or -128..127; a convolution whose output only convolutions
    read (with one scale) writes their u8 itself: its output scale is divided by theirs;
  - the integer sum of products exactly, then in float32 and in oneDNN's order: to f32,
    + bias / f32(in_scale * wsc), * f32(in_scale * wsc / out_scale), + the f32 residual,
    ReLU, for a u8 output clamped to 0..255 and rounded half to even;
  - pools in float32 as oneDNN sums them (kernel rows, then columns, from 0, then divided by
    the count); the heads (torchvision's fc, CLIP's attention pool) in float64, where
    rnencode computes FP32 (sgemm, run_attnpool: other orders of the sums).
So everything before the head is bit for bit what rnencode computes; the distance is the
heads' float32 rounding.
--epilogue f64: the per-element arithmetic after the integer sums (and the pools) in float64
instead: a plain exact-arithmetic simulation, whose u8 roundings land on the other side of a
.5 where float32's do not (how far that is: tests/rnencode/test_int8.sh's header).
"""
import argparse
import io
import os
import sys

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import resnets  # noqa: E402

BN_EPS = 1e-5


def load_state(path):
    """The checkpoint's tensors as stored (CLIP's fp16 too: converted where used, a CLIP
    file's text tower never)."""
    try:
        return torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        return torch.load(path, map_location="cpu")


def fold(sd, conv, bn):
    """model/net.c's bind_conv_bn: s = gamma / sqrt(var + eps) in double, w and b rounded to f32."""
    s = sd[bn + ".weight"].double() / torch.sqrt(sd[bn + ".running_var"].double() + BN_EPS)
    w = (sd[conv + ".weight"].double() * s[:, None, None, None]).float()
    b = (sd[bn + ".bias"].double() - sd[bn + ".running_mean"].double() * s).float()
    return w, b


def network(sd):
    """(ops, last, attnpool): model/net.c's build() as a list of ops over numbered values
    (0: the input; last: the head's input; attnpool: CLIP's, float64, or None for fc). A
    conv op: dict(kind="conv", conv=index in the calibration file, w, b, stride, pad,
    groups, relu, inp, out, res (-1: none)); pools: kind ("max", "avg"), k, stride, pad,
    inp, out."""
    clip = "visual.attnpool.c_proj.weight" in sd
    p = "visual." if clip else ""
    ops = []
    nval = [1]
    nconv = [0]

    def conv(name, bn, inp, stride, pad, relu, res=-1):
        w, b = fold(sd, p + name, p + bn)
        cin = w.shape[1]
        groups = vals_c[inp] // cin
        o = dict(kind="conv", conv=nconv[0], w=w, b=b, stride=stride, pad=pad, groups=groups,
                 relu=relu, inp=inp, out=nval[0], res=res)
        nconv[0] += 1
        nval[0] += 1
        vals_c[o["out"]] = w.shape[0]
        ops.append(o)
        return o["out"]

    def add_pool(kind, inp, k, stride, pad):
        ops.append(dict(kind=kind, inp=inp, out=nval[0], k=k, stride=stride, pad=pad))
        vals_c[nval[0]] = vals_c[inp]
        nval[0] += 1
        return nval[0] - 1

    vals_c = {0: 3}
    if not clip:
        x = conv("conv1", "bn1", 0, 2, 3, True)
        x = add_pool("max", x, 3, 2, 1)
    else:
        x = conv("conv1", "bn1", 0, 2, 1, True)
        x = conv("conv2", "bn2", x, 1, 1, True)
        x = conv("conv3", "bn3", x, 1, 1, True)
        x = add_pool("avg", x, 2, 2, 0)
    bottleneck = p + "layer1.0.conv3.weight" in sd
    for s in range(4):
        j = 0
        while f"{p}layer{s + 1}.{j}.conv1.weight" in sd:
            L = f"layer{s + 1}.{j}"
            stride = 2 if s > 0 and j == 0 else 1
            if not bottleneck:
                y = conv(L + ".conv1", L + ".bn1", x, stride, 1, True)
            else:
                y = conv(L + ".conv1", L + ".bn1", x, 1, 0, True)
                y = conv(L + ".conv2", L + ".bn2", y, 1 if clip else stride, 1, True)
                if clip and stride > 1:
                    y = add_pool("avg", y, stride, stride, 0)
            r = x
            if f"{p}{L}.downsample.0.weight" in sd:
                d = x
                if clip and stride > 1:
                    d = add_pool("avg", x, stride, stride, 0)
                r = conv(L + ".downsample.0", L + ".downsample.1", d, 1 if clip else stride, 0, False)
            last = (L + ".conv3", L + ".bn3") if bottleneck else (L + ".conv2", L + ".bn2")
            pad = 0 if bottleneck else 1
            x = conv(last[0], last[1], y, 1, pad, True, res=r)
            j += 1
    if not clip:
        return ops, x, None
    import clip_model
    vis = {k[len(p):]: v for k, v in sd.items() if k.startswith(p + "attnpool.")}
    dim, out = sd[p + "attnpool.k_proj.weight"].shape[0], sd[p + "attnpool.c_proj.weight"].shape[0]
    grid = round((sd[p + "attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
    heads = sd[p + "layer1.0.conv1.weight"].shape[0] * 32 // 64
    with clip_model._no_init():
        a = clip_model.AttentionPool2d(grid, dim, heads, out)
    a.load_state_dict({k[len("attnpool."):]: v for k, v in vis.items()})
    return ops, x, a.double().eval()


def f32(v):
    return torch.tensor(v, dtype=torch.float32)


def int_conv(q, w, qmax, stride, pad, groups):
    """f32 of the exact integer sum of products of integer-valued tensors q (|q| <= qmax) and w,
    as oneDNN's conversion of its s32 sum gives it. float32 sums are exact while every partial
    sum stays below 2^24, whatever their order: certain when qmax * sum |w| over one output's
    weights is below it; where it is not, q is split in 4-bit halves (q = 16 hi + lo), and
    16 a + b rounded once is f32 of the exact sum."""
    l1 = float(w.abs().sum(dim=(1, 2, 3)).max())
    if qmax * l1 < 2 ** 24:
        return F.conv2d(q, w, None, stride, pad, 1, groups)
    if 16 * l1 >= 2 ** 24:
        sys.exit(f"int8_ref.py: a convolution with {l1:g} as its largest sum of |weights| is beyond exact float32 sums")
    lo = torch.remainder(q, 16)
    hi = (q - lo) / 16
    return 16 * F.conv2d(hi, w, None, stride, pad, 1, groups) + F.conv2d(lo, w, None, stride, pad, 1, groups)


def quantize(x, scale, signed, f64):
    """oneDNN's f32 -> u8/s8 reorder with output scale f32(1 / scale): multiply, saturate,
    round half to even."""
    lo, hi = (-128, 127) if signed else (0, 255)
    inv = f32(1.0) / f32(scale)
    y = x.double() * inv.double() if f64 else x * inv
    return y.clamp_(lo, hi).round_().float()


def weights_q(w, signed):
    """model/cpu_dnnl.c's weight_scales and oneDNN's weights reorder: (s8 weights as float, wsc)."""
    m = w.abs().amax(dim=(1, 2, 3))
    wsc = torch.where(m > 0, m / f32(127.0 if signed else 63.0), f32(1.0))
    inv = f32(1.0) / wsc
    t = w * inv[:, None, None, None]
    if signed:
        return 2 * torch.round(t * f32(0.5)).clamp(-128, 127), wsc
    return torch.round(t).clamp(-128, 127), wsc


def pool(x, kind, k, stride, pad):
    """oneDNN's pooling: max is exact; avg (exclude padding; here never padded) sums the
    window row by row in float32 from 0, then divides by the count."""
    if kind == "max":
        return F.max_pool2d(x, k, stride, pad)
    assert pad == 0
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    acc = torch.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            acc = acc + x[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
    return acc / torch.tensor(float(k * k), dtype=x.dtype)


def forward(ops, last, attn, fc, x, scales, f64):
    ep = torch.float64 if f64 else torch.float32
    readers = {}
    for o in ops:
        readers.setdefault(o["inp"], []).append(o)
        if o.get("res", -1) >= 0:
            readers.setdefault(o["res"], []).append(None)  # a residual: read in f32

    def direct_scale(v):
        """model/cpu_dnnl.c's direct_u8_scale: only convolutions read v, all with one scale."""
        rs = readers.get(v, [])
        if v == last or any(r is None or r["kind"] != "conv" for r in rs):
            return 0.0
        sc = {float(scales[r["conv"]]) for r in rs}
        return sc.pop() if len(sc) == 1 else 0.0

    signed = {0: True}
    vals = {0: x}
    u8 = {}  # value -> its u8 codes, where a convolution wrote them directly
    for o in ops:
        if o["kind"] != "conv":
            vals[o["out"]] = pool(vals[o["inp"]], o["kind"], o["k"], o["stride"], o["pad"])
            signed[o["out"]] = signed[o["inp"]]
            continue
        sc = float(scales[o["conv"]])
        sgn = signed[o["inp"]]
        q = u8[o["inp"]] if o["inp"] in u8 else quantize(vals[o["inp"]], sc, sgn, f64)
        qw, wsc = weights_q(o["w"], sgn)
        acc = int_conv(q, qw, 128 if sgn else 255, o["stride"], o["pad"], o["groups"])
        outsc = direct_scale(o["out"]) if o["relu"] and o["res"] < 0 else 0.0
        isw = f32(sc) * wsc  # in_scale * wsc[o], float32 as the C computes it
        bias = (o["b"] / isw).to(ep)
        osc = (isw / f32(outsc if outsc > 0 else 1.0)).to(ep)
        y = (acc.to(ep) + bias[None, :, None, None]) * osc[None, :, None, None]
        if o["res"] >= 0:
            y = y + vals[o["res"]].to(ep)
        if o["relu"]:
            y = torch.relu(y)
        signed[o["out"]] = not o["relu"]
        if outsc > 0:
            u8[o["out"]] = y.clamp_(0, 255).round_().float()
        else:
            vals[o["out"]] = y.float()
    t = vals[last]
    if attn is not None:
        return attn(t.double())
    g = pool(t, "avg", t.shape[2], 1, 0).flatten(1)
    return g.double() @ fc[0].T + fc[1]


def images(path, clip, size):
    """The image records of path as the model's input [N,3,S,S]; those of another preset
    (or size) are skipped, as rnencode skips them."""
    preset = ("clip" if size == 224 else f"clip-{size}") if clip else "imagenet"
    xs = []
    with open(path, "rb") as f:
        for r in msgpack.Unpacker(f, raw=False):
            if r.get("type") != "image" or r.get("preset", preset) != preset or \
                    max(r["tensor"]["shape"]) != size:
                continue
            t = np.frombuffer(r["tensor"]["data"], r["tensor"]["dtype"]).reshape(r["tensor"]["shape"])
            if t.dtype == np.uint8:  # model/cpu_dnnl.c's table: (v / 255 - mean) / std in float32
                mean, std = (resnets.CLIP_MEAN, resnets.CLIP_STD) if clip else \
                    (resnets.IMAGENET_MEAN, resnets.IMAGENET_STD)
                u = torch.from_numpy(t.copy()).permute(2, 0, 1).float()
                xs.append((u / f32(255.0) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])
            else:
                xs.append(torch.from_numpy(t.astype(np.float32)))
    return torch.stack(xs)


def observe(ops, x):
    """What rnencode --calibrate measures, from PyTorch's FP32 network: each convolution's
    largest |input| over x, over 127 (the image, s8) or 255 (u8)."""
    vals, seen = {0: x}, {}
    for o in ops:
        v = vals[o["inp"]]
        if o["kind"] != "conv":
            vals[o["out"]] = pool(v, o["kind"], o["k"], o["stride"], o["pad"])
            continue
        seen[o["conv"]] = float(v.abs().max()) / (127 if o["inp"] == 0 else 255)
        y = F.conv2d(v, o["w"], o["b"], o["stride"], o["pad"], 1, o["groups"])
        if o["res"] >= 0:
            y = y + vals[o["res"]]
        vals[o["out"]] = torch.relu(y) if o["relu"] else y
    return np.array([seen[i] for i in range(len(seen))])


def load(ckpt, calibration):
    """(state dict, network, calibration record, its scales), the scales' count checked."""
    sd = load_state(ckpt)
    net = network(sd)
    with open(calibration, "rb") as f:
        rec = msgpack.unpackb(f.read(), raw=False)
    scales = np.frombuffer(rec["tensor"]["data"], np.float32)
    nconv = sum(o["kind"] == "conv" for o in net[0])
    if rec.get("type") != "calibration" or len(scales) != nconv:
        sys.exit(f"int8_ref.py: {calibration}: {len(scales)} scales, the network has {nconv} convolutions")
    return sd, net, rec, scales


def input_size(sd):
    pos = sd.get("visual.attnpool.positional_embedding")
    return 224 if pos is None else 32 * round((pos.shape[0] - 1) ** 0.5)


def oracle(ckpt, calibration, images_mp, f64):
    """The oracle's outputs [N,D] (float64) for one network."""
    sd, (ops, last, attn), _, scales = load(ckpt, calibration)
    fc = None if attn is not None else (sd["fc.weight"].double(), sd["fc.bias"].double())
    x = images(images_mp, attn is not None, input_size(sd))
    with torch.no_grad():
        return forward(ops, last, attn, fc, x, scales, f64)


def check_scales(ckpt, calibration, set_mp, rtol):
    """0 when the calibration's scales are PyTorch's observation of set_mp, within rtol."""
    sd, (ops, _, attn), rec, scales = load(ckpt, calibration)
    x = images(set_mp, attn is not None, input_size(sd))
    with torch.no_grad():
        want = observe(ops, x)
    err = np.abs(scales - want) / want
    i = int(err.argmax())
    print(f"{os.path.basename(ckpt)}: {calibration}'s {len(scales)} scales against PyTorch FP32's "
          f"max |x| / qmax over {len(x)} images of {set_mp}: largest relative difference {err[i]:.3g} "
          f"(convolution {i}: {scales[i]:.8g}, PyTorch {want[i]:.8g}; tolerance {rtol:g})")
    if rec.get("images") != len(x):
        print(f"{calibration}: calibrated on {rec.get('images')} images, {set_mp} has {len(x)} the model takes")
        return 1
    return 0 if err.max() <= rtol else 1


def main():
    global torch, F
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtol", type=float, required=True)
    ap.add_argument("--epilogue", choices=["f32", "f64"], default="f32")
    ap.add_argument("--scales", nargs=3, action="append", default=[], metavar=("CKPT", "CALIB.mp", "SET.mp"))
    ap.add_argument("--scales-rtol", type=float)
    ap.add_argument("runs", nargs="*", metavar="CKPT CALIB.mp IN.mp OUT.mp")
    a = ap.parse_args()
    if len(a.runs) % 4:
        ap.error("want CKPT CALIB.mp IN.mp OUT.mp, four names a network")
    if a.scales and a.scales_rtol is None:
        ap.error("--scales needs --scales-rtol")
    torch = resnets.torch_setup()
    import torch.nn.functional as F
    import rnencode_ref
    bad = 0
    for ckpt, cal, set_mp in a.scales:
        bad |= check_scales(ckpt, cal, set_mp, a.scales_rtol)
    for i in range(0, len(a.runs), 4):
        ckpt, cal, inp, out = a.runs[i:i + 4]
        ref = io.BytesIO()
        np.save(ref, oracle(ckpt, cal, inp, a.epilogue == "f64"))
        ref.seek(0)
        print(f"{os.path.basename(ckpt)}: rnencode --precision int8 ({out}) against int8_ref.py:")
        bad |= rnencode_ref.cmd_compare(argparse.Namespace(ref=ref, out=out, rtol=a.rtol, top1=None, head=False))
    return bad


if __name__ == "__main__":
    sys.exit(main())
