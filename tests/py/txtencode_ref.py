#!/usr/bin/env python3
"""txtencode_ref.py - PyTorch reference for txtencode (tests and bench).

  compare [--gelu] CKPT IDS:OUT.mp[:per-template] ... [-- [--gelu] CKPT IDS:OUT.mp ...]
      IDS: txtencode --tokenize output (one prompt per line, class-major,
      T prompts per class); OUT.mp: txtencode's stream (several pairs: the
      model is loaded once; several models after "--", one process). Encodes the same ids
      with the eager CLIP text tower of clip_model.py (CLIP's parameter names,
      sizes and weights read from CKPT: OpenAI's TorchScript archive or
      open_clip's state dict; QuickGELU, or GELU with --gelu; FP32; each
      batch padded to its longest prompt,
      which the causal mask makes exact: checked first on 4 prompts against
      clip.tokenize's padding to 77), builds the table as CLIP's notebook does
      (normalize each, average per class, normalize) and compares with the
      classes record: its [K,E] table, or with :per-template its [K,T,E]
      normalized prompt embeddings. Prints the worst elements; exit 1 when
      out of tolerance (|a-b| <= 1e-4 * max|ref| + 1e-4 * |ref|).
      :per-template:bf16 is txtencode --precision bf16's output: checked
      against FP32 with bf16's tolerance (BF16_RTOL, BF16_COS, BF16_TOP1),
      beside PyTorch's own bf16 arithmetic, and required to differ from
      FP32 by more than FP32's tolerance.
  time CKPT IDS THREADS [--trim] [--onednn] [--device cuda] [--fp16|--bf16] [--batch N]
      Seconds to build the table from IDS with PyTorch (batches of N, default
      256, context 77 as clip.tokenize pads; --trim pads each batch only to its
      longest prompt instead). Prints "seconds N" and the BLAS torch loaded.
      --device cuda runs on the GPU (one warm-up batch first, not timed;
      TF32 off), --fp16 with CLIP's own fp16/fp32 mix as clip.load gives it
      on a GPU (LayerNorm in FP32), --bf16 the same mix in bfloat16.

Debian's torch 1.13 is built with BLAS_INFO=generic: its Linear layers
multiply with whatever libblas.so.3 is installed, here netlib's reference
BLAS (about 1 GFLOP/s). compare (and time with --onednn) route
torch.nn.functional.linear through torch's own oneDNN kernel
(torch._C._nn.mkldnn_linear) instead: still PyTorch's FP32 arithmetic, a
few times faster.
"""
import os
import sys
import time

import msgpack
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402

RTOL = 1e-4
# --precision bf16 against FP32. bf16 keeps 8 significand bits: each
# rounding of a GEMM input moves it by up to 2^-9 (2e-3) of itself, and
# 12 layers of 5 products compound that. Measured on the fixture's 48 prompts
# (6 classes x 8 templates, normalized embeddings): txtencode 0.92e-2 of
# max|ref| at worst, mean 1.8e-4, prompt cosine >= 0.99997; PyTorch's own
# bf16 arithmetic (use_bf16_linear) 0.86e-2, 1.8e-4, 0.99997: the same
# error. The bounds leave ~2.7x on the elements for other summation orders
# (oneDNN's bf16 kernels) and so ~2.7^2 = 7x, rounded up to 10x, on 1 - cosine,
# which grows with the square of the error.
BF16_RTOL = 2.5e-2
BF16_COS = 0.9997
BF16_TOP1 = 0.97  # measured 99.4% (PyTorch's bf16: 99.2%); the rest are near-ties
ONEDNN_CACHE = {}  # use_onednn_linear's weights in oneDNN's layout
BF16 = {"on": False, "weights": {}}  # use_bf16_linear's switch and its rounded weights


def bf16(t):
    """t rounded to bfloat16 (to nearest even), back in float32."""
    return t.to(torch.bfloat16).float()


def use_bf16_linear():
    """While BF16["on"]: F.linear on bf16-rounded inputs and weights, in
    FP32 (products of 8-bit significands are exact in FP32): the arithmetic
    of a bf16 GEMM with FP32 accumulation, as txtencode --precision bf16
    defines it, written independently of it."""
    import torch.nn.functional as F
    inner = F.linear

    def linear(x, w, b=None):
        if not BF16["on"] or x.dtype != torch.float32:
            return inner(x, w, b)
        if w.data_ptr() not in BF16["weights"]:
            BF16["weights"][w.data_ptr()] = bf16(w)
        return inner(bf16(x), BF16["weights"][w.data_ptr()], b)
    F.linear = linear


def use_onednn_linear():
    """F.linear (used by nn.Linear and nn.MultiheadAttention) via torch's
    oneDNN inner product; weights converted once and cached."""
    import torch.nn.functional as F
    dense = F.linear
    cache = ONEDNN_CACHE

    def linear(x, w, b=None):
        if x.dtype != torch.float32 or w.dtype != torch.float32 or x.dim() < 2:
            return dense(x, w, b)
        key = (w.data_ptr(), None if b is None else b.data_ptr())
        if key not in cache:
            cache[key] = (w.to_mkldnn(), None if b is None else b.to_mkldnn())
        wm, bm = cache[key]
        shape = x.shape
        y = torch._C._nn.mkldnn_linear(x.reshape(-1, shape[-1]).contiguous().to_mkldnn(), wm, bm)
        return y.to_dense().reshape(*shape[:-1], w.shape[0])
    F.linear = linear


def blas_in_use():
    """The libblas this process mapped (what torch's Linear multiplies with)."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(os.path.realpath(x) for x in libs)) or "none mapped"


def read_ids(path):
    rows = []
    with open(path) as f:
        for line in f:
            rows.append([int(x) for x in line.split()])
    return rows


def pad(rows, ctx):
    t = torch.zeros(len(rows), ctx, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, :len(r)] = torch.tensor(r)
    return t


def encode_text_trimmed(m, text):
    """clip_model.CLIP.encode_text for [N,L] ids, L < 77: the first L
    positional embeddings and the top-left LxL of each block's causal mask."""
    n = text.shape[1]
    dtype = m.visual.conv1.weight.dtype  # as encode_text: CLIP's fp16 mix computes in half
    x = m.token_embedding(text).to(dtype) + m.positional_embedding[:n].to(dtype)
    x = x.permute(1, 0, 2)
    for blk in m.transformer.resblocks:
        h = blk.ln_1(x)
        mask = blk.attn_mask[:n, :n].to(dtype=x.dtype, device=x.device)  # a plain attribute: .to() skips it
        x = x + blk.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        x = x + blk.mlp(blk.ln_2(x))
    x = m.ln_final(x.permute(1, 0, 2)).to(dtype)
    x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)]
    if BF16["on"]:
        return bf16(x) @ bf16(m.text_projection)
    return x @ m.text_projection.to(dtype)


def encode(model, rows, trim=False, batch=256, device="cpu"):
    out = []
    with torch.no_grad():
        for s in range(0, len(rows), batch):
            chunk = rows[s:s + batch]
            if trim:
                t = pad(chunk, max(len(r) for r in chunk)).to(device)
                out.append(encode_text_trimmed(model, t).float().cpu())
            else:
                out.append(model.encode_text(pad(chunk, 77).to(device)).float().cpu())
    return torch.cat(out).numpy()


def table(emb, k):
    e = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
    e = e.reshape(k, -1, e.shape[-1]).mean(axis=1)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def records(path):
    with open(path, "rb") as f:
        for r in msgpack.Unpacker(f, raw=False):
            yield r


def tensor(t):
    return np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"])


def compare(got, ref, what):
    got = got.astype(np.float64)
    ref = ref.astype(np.float64)
    if got.shape != ref.shape:
        print(f"{what}: shape {got.shape}, reference {ref.shape}")
        return False
    tol = RTOL * np.abs(ref).max() + RTOL * np.abs(ref)
    err = np.abs(got - ref)
    bad = err > tol
    rel = err.max() / np.abs(ref).max()
    print(f"{what}: shape {list(ref.shape)}, max |diff| {err.max():.3g}, relative to max|ref| {rel:.3g}, "
          f"{int(bad.sum())} elements out of tolerance")
    if bad.any():
        idx = np.argsort(-(err - tol).ravel())[:8]
        for i in idx:
            pos = np.unravel_index(i, ref.shape)
            print(f"  at {tuple(int(x) for x in pos)}: got {got[pos]:.8g} ref {ref[pos]:.8g}")
        return False
    return True


def normalized(e):
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def zero_shot_agreement(a, b, n=2000):
    """Share of n fixed random image embeddings (seed 0) whose top-1 class
    is the same under class tables a and b [K,E]."""
    img = normalized(np.random.default_rng(0).standard_normal((n, a.shape[1])))
    return float(np.mean(np.argmax(img @ a.T, axis=1) == np.argmax(img @ b.T, axis=1)))


def compare_bf16(got, ref, ref16, k, what):
    """txtencode --precision bf16's normalized prompt embeddings got [K,T,E]
    against PyTorch FP32 (ref) with BF16_RTOL, beside PyTorch's own bf16
    arithmetic (ref16, use_bf16_linear) against the same FP32: the worst
    elements, the cosines of prompts and class vectors, top-1 agreement."""
    got = got.reshape(-1, got.shape[-1]).astype(np.float64)
    ref = normalized(ref.astype(np.float64))
    ref16 = normalized(ref16.astype(np.float64))
    scale = np.abs(ref).max()
    ok = True
    for name, e in (("txtencode bf16", got), ("PyTorch bf16", ref16)):
        err = np.abs(e - ref)
        cos = np.sum(e * ref, axis=1)
        tcos = np.sum(table(e, k) * table(ref, k), axis=1)
        agree = zero_shot_agreement(table(e, k), table(ref, k))
        print(f"{what}: {name} vs PyTorch FP32: max |diff| {err.max():.3g} ({err.max() / scale:.3g} of max|ref|), "
              f"mean {err.mean():.3g}; prompt cosine min {cos.min():.6f}, class vectors' min {tcos.min():.6f}; "
              f"same top-1 for {agree:.1%} of 2000 random image embeddings")
        if e is got:
            worst = err.max() / scale
            for i in np.argsort(-err.ravel())[:4]:
                pos = np.unravel_index(i, ref.shape)
                print(f"  at {tuple(int(x) for x in pos)}: got {got[pos]:.6g} ref {ref[pos]:.6g}")
            d16 = np.abs(got - ref16).max()
            print(f"{what}: txtencode bf16 vs PyTorch bf16: max |diff| {d16:.3g} ({d16 / scale:.3g} of max|ref|)")
            if worst <= RTOL:
                print(f"{what}: bf16 within FP32's tolerance of FP32 ({worst:.3g}): not bf16 arithmetic")
                ok = False
            if worst > BF16_RTOL or cos.min() < BF16_COS or agree < BF16_TOP1:
                print(f"{what}: out of bf16's tolerance ({BF16_RTOL:g} of max|ref|, cosine {BF16_COS}, "
                      f"top-1 agreement {BF16_TOP1:.0%})")
                ok = False
    return ok


def compare_model(args, check_padding):
    """compare's work for one model: [--gelu] CKPT IDS:OUT.mp[:per-template] ..."""
    act = "quickgelu"
    if args[0] == "--gelu":
        act = "gelu"
        args = args[1:]
    ONEDNN_CACHE.clear()  # keyed by data pointers, which another model may reuse
    BF16["weights"].clear()
    model = clip_model.load(args[0], act=act)
    print(f"{args[0]} ({act}):")
    scale = float(model.logit_scale.exp())
    ok = True
    if check_padding:
        first = read_ids(args[1].split(":")[0])[:4]
        ok &= compare(encode(model, first, trim=True), encode(model, first), "padded to the longest vs to 77")
    encoded = {}
    for spec in args[1:]:
        ids_path, out_path, *flags = spec.split(":")
        per_template = "per-template" in flags
        if ids_path not in encoded:
            encoded[ids_path] = encode(model, read_ids(ids_path), trim=True)
        emb = encoded[ids_path]
        if "bf16" in flags:
            BF16["on"] = True
            emb16 = encode(model, read_ids(ids_path), trim=True)
            BF16["on"] = False
        cls = [r for r in records(out_path) if r.get("type") == "classes"]
        assert len(cls) == 1, f"{out_path}: {len(cls)} classes records"
        rec = cls[0]
        got = tensor(rec["tensor"])
        k = len(rec["names"])
        if abs(rec["logit_scale"] - scale) > 1e-6 * scale:
            print(f"{out_path}: logit_scale {rec['logit_scale']} != exp(checkpoint) {scale}")
            ok = False
        if "bf16" in flags:
            ok &= compare_bf16(got, emb, emb16, k, out_path)
        elif per_template:
            e = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
            ok &= compare(got, e.reshape(k, -1, e.shape[-1]), f"{out_path}: per-prompt embeddings")
            ok &= compare(table(got.reshape(-1, got.shape[-1]), k), table(emb, k),
                          f"{out_path}: classifier from them")
        else:
            ok &= compare(got, table(emb, k), f"{out_path}: classifier [K,E]")
    return ok


def main():
    torch.manual_seed(0)
    mode = sys.argv[1]
    if mode == "compare":
        torch.set_num_threads(2)
        if hasattr(torch._C._nn, "mkldnn_linear") and torch.backends.mkldnn.is_available():
            use_onednn_linear()
        use_bf16_linear()
        groups, cur = [], []
        for a in sys.argv[2:]:
            if a == "--":
                groups.append(cur)
                cur = []
            else:
                cur.append(a)
        groups.append(cur)
        ok = True
        for gi, args in enumerate(groups):
            ok &= compare_model(args, gi == 0)
        sys.exit(0 if ok else 1)
    elif mode == "time":
        ckpt, ids_path, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
        torch.set_num_threads(threads)
        if "--onednn" in sys.argv:
            use_onednn_linear()
        opt = sys.argv[5:]
        device = opt[opt.index("--device") + 1] if "--device" in opt else "cpu"
        batch = int(opt[opt.index("--batch") + 1]) if "--batch" in opt else 256
        trim = "--trim" in opt
        dtype = torch.float16 if "--fp16" in opt else torch.bfloat16 if "--bf16" in opt else torch.float32
        model = clip_model.load(ckpt, dtype=dtype).to(device)
        rows = read_ids(ids_path)
        if device != "cpu":
            torch.backends.cuda.matmul.allow_tf32 = False
            encode(model, rows[:batch], trim=trim, batch=batch, device=device)  # warm-up
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        emb = encode(model, rows, trim=trim, batch=batch, device=device)
        table(emb, 1 if len(rows) % 80 else len(rows) // 80)
        print(f"seconds {time.perf_counter() - t0:.3f}")
        print(f"blas {blas_in_use() if device == 'cpu' else torch.cuda.get_device_name(0)}")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
