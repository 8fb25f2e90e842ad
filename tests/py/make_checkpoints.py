#!/usr/bin/env python3
"""make_checkpoints.py OUTDIR - checkpoint fixtures shaped like the published files.

Writes into OUTDIR (fixed seeds; a few seconds of CPU):
  resnet50.pth             torch.save(torchvision resnet50().state_dict()), zip format
  resnet50-legacy.pth      the same state dict, _use_new_zipfile_serialization=False
  resnet50.safetensors     the same state dict, safetensors written by hand below
  clip-rn50.pt             torch.jit.script(CLIP RN50).save() after convert_weights:
                           a TorchScript archive like OpenAI's RN50.pt, fp16/fp32 mix
  mixed.pth, mixed-legacy.pth, mixed.safetensors
                           small files with every dtype, 0-d and empty tensors,
                           transposed views, storage offsets, shared storages, a
                           Parameter and a nested dict (torch files only)
  checksums.json           per file: format, file sha256 and per tensor the name,
                           dtype (numpy name), shape, nbytes and the sha256 of its
                           C-contiguous little-endian bytes
The weights are random but not degenerate: BatchNorm running statistics are
measured on testdata images (then perturbed) and weight/bias are random, so a
reader that ignores or mis-folds BN gives visibly different outputs; the ResNet fc
and the CLIP attention-pool projection are centred and scaled on the same images so
different images get different top-1 classes. Tensor names follow torchvision and
CLIP exactly (the TorchScript archive also holds transformer.resblocks.N.attn_mask,
an attribute outside the state dict, as CLIP's archive does).
"""
import glob
import hashlib
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
N_CALIB = 16  # images used to measure BN statistics and centre the heads

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def calibration_images(preset):
    """[N,3,224,224] float32 from testdata/images with the preset's preprocessing;
    seeded noise when the images are not there."""
    from torchvision import transforms as T
    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))[:N_CALIB]
    if not files:
        return torch.randn(N_CALIB, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    from PIL import Image
    if preset == "clip":
        tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),
                        T.CenterCrop(224), lambda im: im.convert("RGB"), T.ToTensor(),
                        T.Normalize(CLIP_MEAN, CLIP_STD)])
    else:
        tf = T.Compose([lambda im: im.convert("RGB"), T.Resize(256), T.CenterCrop(224),
                        T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    return torch.stack([tf(Image.open(f)) for f in files])


def randomise_bn(model, g, residual_names):
    """Random BN affine parameters; the last BN of each residual branch gets a small
    weight so the residual stream grows slowly (as zero_init_residual intends)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            lo, hi = (0.1, 0.4) if name.split(".")[-1] in residual_names else (0.5, 1.5)
            m.weight.data = torch.empty(m.num_features).uniform_(lo, hi, generator=g)
            m.bias.data = torch.randn(m.num_features, generator=g) * 0.2
            m.momentum = None  # cumulative average: one batch gives its exact statistics


@torch.no_grad()
def calibrate_bn(model, bn_owner, x, g):
    """Running statistics from one batch in train mode, then perturbed so that they
    are not exactly the batch statistics (a reader must use the stored ones)."""
    bn_owner.train()
    model(x)
    bn_owner.eval()
    for m in bn_owner.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_var.mul_(torch.empty(n).uniform_(0.7, 1.4, generator=g))
            m.running_mean.add_(torch.randn(n, generator=g) * 0.1 * m.running_var.sqrt())
            m.momentum = 0.1
    model.eval()


def centre_linear(lin, feats, g, spread):
    """Random weight scaled so outputs over feats have std `spread`, bias removing
    their mean: the head then separates images instead of repeating one class."""
    w = torch.randn(lin.out_features, lin.in_features, generator=g)
    out = feats @ w.t()
    out = out - out.mean(0)
    w *= spread / out.std().clamp_min(1e-12)
    lin.weight.data = w
    lin.bias.data = -(feats.mean(0) @ w.t()) + torch.randn(lin.out_features, generator=g) * 0.01


def make_resnet50(g):
    torch.manual_seed(0)
    m = torchvision.models.resnet50()
    randomise_bn(m, g, {"bn3"})
    x = calibration_images("imagenet")
    calibrate_bn(m, m, x, g)
    with torch.no_grad():
        feats = torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(
            m.maxpool(m.relu(m.bn1(m.conv1(x))))))))), 1)
        centre_linear(m.fc, feats, g, 4.0)
    return m


def make_clip(g):
    torch.manual_seed(1)
    m = clip_model.CLIP()
    v = m.visual
    for mod in v.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    std = v.attnpool.c_proj.in_features ** -0.5
    for lin in (v.attnpool.q_proj, v.attnpool.k_proj, v.attnpool.v_proj):
        nn.init.normal_(lin.weight, std=std)
        nn.init.normal_(lin.bias, std=0.02)
    randomise_bn(v, g, {"bn3"})
    # the stem's bn3 is not a residual branch: give it an ordinary weight
    v.bn3.weight.data.uniform_(0.5, 1.5, generator=g)
    x = calibration_images("clip")
    calibrate_bn(v, v, x, g)
    with torch.no_grad():
        a = v.attnpool
        c_proj = a.c_proj
        a.c_proj = nn.Identity()
        feats = v(x)  # attention output before c_proj, [N, 2048]
        a.c_proj = c_proj
        centre_linear(c_proj, feats, g, 1.0)
        # random LayerNorm and attention biases so the text side tests them too
        for mod in m.transformer.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.data = torch.empty(mod.weight.shape).uniform_(0.8, 1.2, generator=g)
                mod.bias.data = torch.randn(mod.bias.shape, generator=g) * 0.05
            if isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.data = torch.randn(mod.in_proj_bias.shape, generator=g) * 0.02
                mod.out_proj.bias.data = torch.randn(mod.out_proj.bias.shape, generator=g) * 0.02
        m.ln_final.weight.data.uniform_(0.8, 1.2, generator=g)
        m.ln_final.bias.data = torch.randn(m.ln_final.bias.shape, generator=g) * 0.05
    clip_model.convert_weights(m)
    return m.eval()


# ---------------------------------------------------------------- manifest

NP_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
            torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
            torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}
ST_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
            torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def tensor_bytes(t):
    """C-contiguous little-endian bytes of t (via a same-size integer view, which also
    covers bfloat16 and bool)."""
    t = t.detach().contiguous()
    size = t.element_size()
    as_int = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size]
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.view(as_int).numpy().tobytes() if t.numel() else b""


def tensor_row(name, t):
    b = tensor_bytes(t)
    return {"name": name, "dtype": NP_NAMES[t.dtype], "shape": list(t.shape),
            "nbytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}


def flatten(obj, prefix=""):
    """Tensor leaves of nested dicts as (dotted name, tensor), in insertion order."""
    if isinstance(obj, torch.Tensor):
        return [(prefix, obj)]
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_safetensors(path, tensors, metadata=None):
    """u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
    then the data; header padded with spaces to a multiple of 8 as safetensors does."""
    header, blobs, off = OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def mixed_objects(g):
    """Small state dict exercising every dtype and the view cases a reader must handle."""
    base = torch.randn(6, 5, generator=g)
    shared = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = torch.randn(2, 3, 5, generator=g).half()
    sd["bf16"] = torch.randn(7, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, 2, generator=g).double()
    sd["i64"] = torch.tensor([-(2 ** 40), 0, 3, 2 ** 62])
    sd["i32"] = torch.tensor([[-5, 7], [1 << 30, -1]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300, 1], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0, 5], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["transposed"] = base.t()                 # strides (1,5): not contiguous
    sd["offset_slice"] = base[2:5]              # storage offset 10, contiguous
    sd["strided"] = base[::2, 1::2]             # offset and steps in both dims
    sd["shared_a"] = shared                     # two tensors, one storage
    sd["shared_b"] = shared[1:3, 2:]
    sd["expanded"] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride 0
    sd["nested"] = OrderedDict([("w", torch.randn(2, generator=g)), ("epoch", 7)])
    sd["param"] = nn.Parameter(torch.randn(2, 2, generator=g))
    return sd


def mixed_safetensors_tensors(sd):
    return [(n, t.contiguous()) for n, t in flatten(sd)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_checkpoints.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    g = torch.Generator().manual_seed(1234)
    manifest = OrderedDict()

    def record(fname, fmt, rows):
        path = os.path.join(out, fname)
        manifest[fname] = {"format": fmt, "sha256": file_sha256(path),
                           "size": os.path.getsize(path), "tensors": rows}

    def tmp(fname):
        return os.path.join(out, fname + ".tmp")

    def commit(fname):
        os.replace(tmp(fname), os.path.join(out, fname))

    rn = make_resnet50(g).state_dict()
    rows = [tensor_row(k, v) for k, v in rn.items()]
    torch.save(rn, tmp("resnet50.pth"))
    commit("resnet50.pth")
    record("resnet50.pth", "pytorch-zip", rows)
    torch.save(rn, tmp("resnet50-legacy.pth"), _use_new_zipfile_serialization=False)
    commit("resnet50-legacy.pth")
    record("resnet50-legacy.pth", "pytorch-legacy", rows)
    write_safetensors(tmp("resnet50.safetensors"), list(rn.items()), {"format": "pt"})
    commit("resnet50.safetensors")
    record("resnet50.safetensors", "safetensors", rows)

    clip = make_clip(g)
    scripted = torch.jit.script(clip)
    scripted.save(tmp("clip-rn50.pt"))
    commit("clip-rn50.pt")
    rows = [tensor_row(k, v) for k, v in clip.state_dict().items()]
    # one attn_mask attribute per text block, all the same tensor
    rows += [tensor_row(f"transformer.resblocks.{i}.attn_mask", b.attn_mask)
             for i, b in enumerate(clip.transformer.resblocks)]
    record("clip-rn50.pt", "torchscript", rows)

    mixed = mixed_objects(g)
    rows = [tensor_row(n, t) for n, t in flatten(mixed)]
    torch.save(mixed, tmp("mixed.pth"))
    commit("mixed.pth")
    record("mixed.pth", "pytorch-zip", rows)
    torch.save(mixed, tmp("mixed-legacy.pth"), _use_new_zipfile_serialization=False)
    commit("mixed-legacy.pth")
    record("mixed-legacy.pth", "pytorch-legacy", rows)
    write_safetensors(tmp("mixed.safetensors"), mixed_safetensors_tensors(mixed),
                      {"source": "make_checkpoints.py"})
    commit("mixed.safetensors")
    record("mixed.safetensors", "safetensors", rows)

    with open(tmp("checksums.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    commit("checksums.json")


if __name__ == "__main__":
    main()
