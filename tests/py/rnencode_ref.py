#!/usr/bin/env python3
"""rnencode_ref.py - PyTorch side of the rnencode tests (the benchmark's: resnets.py bench).

  images --preset P [--n N] [--skip K] [--u8 OUT.mp] [--f32 OUT.mp] [--f16 OUT.mp]
      image records for the first N testdata JPEGs (after skipping K), decoded and
      cropped by PIL + torchvision as doc/presets.md says (a header record first):
      uint8 [224,224,3] crops, and/or the same crops normalized to float [3,224,224].
  mixed OUT.mp
      a stream for the order and error tests (no torch): a header; images A, C, G
      good (random uint8 crop, float32 [3,224,224], uint8), B of shape [100,100,3],
      D with preset clip, E int32, F without a tensor; an error record and an
      unknown record (type "note") between them; a second header before G.
      Prints the expected output as "type id" lines (rnencode's own header and
      stats excluded).
  head N IN.mp OUT.mp
      the records of IN.mp before its (N+1)-th image record.
  reference --model M --weights FILE [--fp16 F16.npy [--fp16-n N]] [--bf16 BF16.npy]
            [--features FEAT.npy] IN.mp OUT.npy
      the model's outputs [N,D] for the image records of IN.mp (uint8 crops are
      normalized as torchvision does). resnet50: torchvision's resnet50 with the
      state dict; clip-rn50: tests/py/clip_model.py's visual tower in float32.
      --fp16: also the same network evaluated with FP16 storage and FP32 arithmetic
      (BatchNorm folded in float32, weights/biases rounded to fp16, every stored
      activation rounded to fp16), the numerics rnencode --fp16 claims; on the
      first N images only with --fp16-n.
      --bf16: also the same with BF16 storage, as rnencode --precision bf16 claims:
      weights rounded to bf16 after the fold, biases FP32, every stored activation
      (the input, each convolution's output after its bias, residual and ReLU, each
      average pool's) rounded to bf16, the head (fc; CLIP's attention pool) in FP32
      on those values; on the first N images with --fp16-n too.
      --features: also resnet50's pooled [N,2048] vector before fc.
      Linear layers run as 1x1 convolutions here (see linear_as_conv).
  compare [--rtol R] [--top1 REF32.npy] [--head] REF.npy OUT.mp
      check rnencode's output records (in order) against REF: per element
      |out - ref| <= R * (|ref| + rms(ref of that image)); prints the worst
      elements. --top1: also require the same top-1 class as REF32 on every
      image: argmax of the logits, or for [N,1024] embeddings the argmax of
      cosine similarity with 1000 fixed random class vectors (a stand-in for
      CLIP's text classifier). --head: OUT may hold only the first images of
      REF. Exit 1 when out of tolerance.
"""
import argparse
import glob
import os
import sys

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

PRESETS = {
    "imagenet": (256, "bilinear", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "clip": (224, "bicubic", (0.48145466, 0.4578275, 0.40821073),
             (0.26862954, 0.26130258, 0.27577711)),
}


def torch_modules():
    """torch is imported only by the commands that need it (compare does not)."""
    global torch, F
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def crop_u8(path, preset):
    """uint8 [224,224,3] crop the way the published evaluations made it."""
    from PIL import Image
    from torchvision import transforms as T
    size, filt, _, _ = PRESETS[preset]
    interp = T.InterpolationMode.BICUBIC if filt == "bicubic" else T.InterpolationMode.BILINEAR
    im = Image.open(path)
    if preset != "clip":
        im = im.convert("RGB")  # ImageFolder converts on load; CLIP converts last
    im = T.CenterCrop(224)(T.Resize(size, interpolation=interp)(im)).convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def normalize(u8, preset):
    """torchvision ToTensor + Normalize: float32 [3,224,224]."""
    _, _, mean, std = PRESETS[preset]
    x = torch.from_numpy(u8.copy()).permute(2, 0, 1).to(torch.float32).div(255)
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    s = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return x.sub(m).div(s)


def tensor_rec(a):
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}


def cmd_images(a):
    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))
    files = files[a.skip:a.skip + a.n]
    outs = [(dt, open(path, "wb")) for dt, path in
            (("uint8", a.u8), ("float32", a.f32), ("float16", a.f16)) if path]
    for _, f in outs:
        f.write(msgpack.packb({"type": "header", "producer": "rnencode_ref.py", "version": "test",
                               "argv": sys.argv, "preset": a.preset}))
    for p in files:
        u8 = crop_u8(p, a.preset)
        for dt, f in outs:
            t = u8 if dt == "uint8" else normalize(u8, a.preset).numpy().astype(dt)
            f.write(msgpack.packb({"type": "image", "id": os.path.basename(p), "path": p, "label": -1,
                                   "preset": a.preset, "tensor": tensor_rec(t)}))
    for _, f in outs:
        f.close()


def cmd_mixed(a):
    rng = np.random.default_rng(3)
    u8 = lambda: rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)  # noqa: E731

    def img(i, t, preset="imagenet"):
        r = {"type": "image", "id": i, "path": f"/x/{i}.JPEG", "label": 7, "preset": preset, "extra": [1, 2]}
        if t is not None:
            r["tensor"] = tensor_rec(t)
        return r
    recs = [
        ({"type": "header", "producer": "imgdecode", "version": "0", "argv": [], "preset": "imagenet"}, "header -"),
        (img("A", u8()), "logits A"),
        ({"type": "error", "id": "Z", "path": "/x/Z.JPEG", "label": 3, "stage": "imgdecode",
          "message": "not a JPEG"}, "error Z"),
        ({"type": "note", "id": "N", "text": "unknown records pass"}, "note N"),
        (img("B", rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)), "error B"),
        (img("C", rng.standard_normal((3, 224, 224)).astype(np.float32)), "logits C"),
        (img("D", u8(), preset="clip"), "error D"),
        (img("E", np.zeros((224, 224, 3), np.int32)), "error E"),
        (img("F", None), "error F"),
        ({"type": "header", "producer": "other", "version": "0", "argv": []}, "header -"),
        (img("G", u8()), "logits G"),
    ]
    with open(a.out, "wb") as f:
        for r, _ in recs:
            f.write(msgpack.packb(r))
    for _, want in recs:
        print(want)


def cmd_head(a):
    with open(a.out, "wb") as f:
        n = 0
        for r in read_records(a.inp):
            if r.get("type") == "image":
                if n == a.n:
                    break
                n += 1
            f.write(msgpack.packb(r))


def read_records(path):
    with open(path, "rb") as f:
        yield from msgpack.Unpacker(f, raw=False)


def as_array(t):
    return np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"])


def load_state(path):
    try:
        return torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        return torch.load(path, map_location="cpu")


def build_model(kind, weights):
    sd = {k: v.float() if v.is_floating_point() else v for k, v in load_state(weights).items()}
    if kind == "resnet50":
        import torchvision
        m = torchvision.models.resnet50()
        m.load_state_dict(sd)
    else:
        import clip_model
        m = clip_model.ModifiedResNet()
        m.load_state_dict({k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")})
    return m.eval()


# ---- FP16 / BF16 storage, FP32 arithmetic (rnencode --fp16, --precision bf16) ----

def h(x):
    return x.half().float()


def bf(x):
    return x.bfloat16().float()  # round to nearest even, as oneDNN and rnencode do


def fold(conv, bn, r, round_bias):
    s = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    w = (conv.weight.double() * s[:, None, None, None]).float()
    b = (bn.bias.double() - bn.running_mean.double() * s).float()
    return r(w), r(b) if round_bias else b


def narrow_forward(kind, m, x, prec):
    """FP16: weights, biases, every stored tensor in fp16, the head too.
    BF16: weights and activations in bf16, biases and the head FP32."""
    f16 = prec == "fp16"
    r = h if f16 else bf

    def conv_bn(x, conv, bn, relu=True, residual=None):
        w, b = fold(conv, bn, r, f16)
        y = F.conv2d(x, w, b, conv.stride, conv.padding)
        if residual is not None:
            y = y + residual
        return r(F.relu(y) if relu else y)

    x = r(x)
    clip = kind == "clip-rn50"
    if clip:
        x = conv_bn(x, m.conv1, m.bn1)
        x = conv_bn(x, m.conv2, m.bn2)
        x = conv_bn(x, m.conv3, m.bn3)
        x = r(F.avg_pool2d(x, 2))
    else:
        x = conv_bn(x, m.conv1, m.bn1)
        x = F.max_pool2d(x, 3, 2, 1)
    for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
        for blk in layer:
            y = conv_bn(x, blk.conv1, blk.bn1)
            y = conv_bn(y, blk.conv2, blk.bn2)
            res = x
            if clip:
                if blk.stride > 1:
                    y = r(F.avg_pool2d(y, blk.stride))
                if blk.downsample is not None:
                    if blk.stride > 1:
                        res = r(F.avg_pool2d(res, blk.stride))
                    res = conv_bn(res, blk.downsample[1], blk.downsample[2], relu=False)
            elif blk.downsample is not None:
                res = conv_bn(x, blk.downsample[0], blk.downsample[1], relu=False)
            x = conv_bn(y, blk.conv3, blk.bn3, residual=res)
    if not clip:
        f = r(x.mean(dim=(2, 3)))
        return h(F.linear(f, h(m.fc.weight), h(m.fc.bias))) if f16 else m.fc(f)
    if not f16:
        return m.attnpool(x)
    a = m.attnpool
    n, c, hh, ww = x.shape
    t = x.reshape(n, c, hh * ww).permute(0, 2, 1)
    t = torch.cat([h(t.mean(dim=1, keepdim=True)), t], dim=1)
    t = h(t + h(a.positional_embedding)[None])
    lin = lambda v, l: h(F.linear(v, h(l.weight), h(l.bias)))  # noqa: E731
    q, k, v = lin(t[:, :1], a.q_proj), lin(t, a.k_proj), lin(t, a.v_proj)
    H, hd = a.num_heads, c // a.num_heads
    q = h(q.reshape(n, 1, H, hd).permute(0, 2, 1, 3) / hd ** 0.5)
    k = k.reshape(n, -1, H, hd).permute(0, 2, 1, 3)
    v = v.reshape(n, -1, H, hd).permute(0, 2, 1, 3)
    att = h(torch.softmax(h(q @ k.transpose(-1, -2)), dim=-1))
    o = h(att @ v).permute(0, 2, 1, 3).reshape(n, c)
    return lin(o, a.c_proj)


def linear_as_conv(x, w, b=None):
    """F.linear computed as a 1x1 convolution: same sum of products, but by oneDNN
    inside PyTorch instead of the reference BLAS Debian's torch links (10x slower
    on CLIP's attention pool, which made the reference the slowest part of a test)."""
    shape = x.shape
    y = F.conv2d(x.reshape(-1, shape[-1], 1, 1), w[:, :, None, None], b)
    return y.reshape(*shape[:-1], w.shape[0])


def cmd_reference(a):
    F.linear = linear_as_conv  # the model modules call it through torch.nn.functional
    preset = "clip" if a.model == "clip-rn50" else "imagenet"
    xs = []
    for r in read_records(a.images):
        if r.get("type") != "image":
            continue
        t = as_array(r["tensor"])
        xs.append(normalize(t, preset) if t.dtype == np.uint8 else torch.from_numpy(t.astype(np.float32)))
    m = build_model(a.model, a.weights)
    x = torch.stack(xs)
    with torch.no_grad():
        np.save(a.out, m(x).numpy().astype(np.float32))
        x16 = x[:a.fp16_n] if a.fp16_n else x
        if a.fp16:
            np.save(a.fp16, narrow_forward(a.model, m, x16, "fp16").numpy().astype(np.float32))
        if a.bf16:
            np.save(a.bf16, narrow_forward(a.model, m, x16, "bf16").numpy().astype(np.float32))
        if a.features:
            f = m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))))
            np.save(a.features, torch.flatten(f, 1).numpy().astype(np.float32))


def cmd_compare(a):
    ref = np.load(a.ref).astype(np.float64)
    outs = [as_array(r["tensor"]).astype(np.float64) for r in read_records(a.out)
            if r.get("type") in ("logits", "embedding", "features")]
    if a.head and 0 < len(outs) < len(ref):
        ref = ref[:len(outs)]
    if len(outs) != len(ref):
        print(f"compare: {len(outs)} outputs, {len(ref)} references")
        return 1
    out = np.stack(outs)
    rms = np.sqrt((ref ** 2).mean(axis=1, keepdims=True))
    ratio = np.abs(out - ref) / (np.abs(ref) + rms)
    worst = np.argsort(ratio, axis=None)[::-1][:5]
    print(f"compare: {out.shape[0]} x {out.shape[1]}: max |out-ref|/(|ref|+rms) = {ratio.max():.3g}"
          f" (tolerance {a.rtol:g}), max |out-ref| = {np.abs(out - ref).max():.3g},"
          f" max |ref| = {np.abs(ref).max():.3g}")
    for i in worst:
        r, c = divmod(int(i), out.shape[1])
        print(f"  image {r} [{c}]: out {out[r, c]:.8g} ref {ref[r, c]:.8g} ratio {ratio[r, c]:.3g}")
    bad = ratio.max() > a.rtol
    if a.top1:
        r32 = np.load(a.top1).astype(np.float64)[:len(out)]
        if r32.shape[1] == 1024:
            cls = np.random.default_rng(5).standard_normal((1000, 1024))
            cls /= np.linalg.norm(cls, axis=1, keepdims=True)
            out = (out / np.linalg.norm(out, axis=1, keepdims=True)) @ cls.T
            r32 = (r32 / np.linalg.norm(r32, axis=1, keepdims=True)) @ cls.T
        same = (out.argmax(1) == r32.argmax(1))
        srt = np.sort(r32, axis=1)
        margin = srt[:, -1] - srt[:, -2]
        print(f"compare: top-1 equal on {same.sum()}/{len(same)} images "
              f"(smallest reference top-1 margin {margin.min():.3g})")
        bad = bad or not same.all()
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("images")
    s.add_argument("--preset", choices=sorted(PRESETS), required=True)
    s.add_argument("--n", type=int, default=8)
    s.add_argument("--skip", type=int, default=0)
    s.add_argument("--u8")
    s.add_argument("--f32")
    s.add_argument("--f16")
    s = sub.add_parser("mixed")
    s.add_argument("out")
    s = sub.add_parser("head")
    s.add_argument("n", type=int)
    s.add_argument("inp")
    s.add_argument("out")
    s = sub.add_parser("reference")
    s.add_argument("--model", choices=["resnet50", "clip-rn50"], required=True)
    s.add_argument("--weights", required=True)
    s.add_argument("--fp16")
    s.add_argument("--fp16-n", type=int, default=0)
    s.add_argument("--bf16")
    s.add_argument("--features")
    s.add_argument("images")
    s.add_argument("out")
    s = sub.add_parser("compare")
    s.add_argument("--rtol", type=float, default=1e-4)
    s.add_argument("--top1")
    s.add_argument("--head", action="store_true")
    s.add_argument("ref")
    s.add_argument("out")
    a = p.parse_args()
    if a.cmd in ("head", "mixed"):
        (cmd_head if a.cmd == "head" else cmd_mixed)(a)
        return 0
    if a.cmd != "compare":
        torch_modules()
    if a.cmd == "images":
        cmd_images(a)
    elif a.cmd == "reference":
        cmd_reference(a)
    else:
        return cmd_compare(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
