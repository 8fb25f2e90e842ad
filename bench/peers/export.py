#!/usr/bin/env python3
"""export.py --resnet50 W.pth --clip W.pt [--threads T] OUTDIR - ONNX (opset 17) of
the random-weight fixtures for bench/peers/peers.py, run with build/bench-venv's
python (Debian's torch 1.13 exports; onnxruntime checks):
  OUTDIR/resnet50.onnx   torchvision resnet50 (rnencode_ref.py build_model), logits
  OUTDIR/clip-rn50.onnx  tests/py/clip_model.py's visual tower, embedding
      both input "image" float32 [N,3,224,224] normalized, N dynamic;
  OUTDIR/clip-text.onnx  CLIP's text tower on int64 token ids "text" [N,L], N and
      L <= 77 dynamic, zero-padded after the end token (txtencode_ref.py's
      encode_text_trimmed: the first L positions and the top-left LxL of the
      causal mask, exact for any L at least the longest prompt; L = 77 is
      clip.tokenize's padding), output "embedding" [N,1024].
Each is run once with ONNX Runtime and checked against PyTorch (images: 2 testdata
crops, rnencode_ref.py compare's measure within 1e-4; text: at lengths 8 and 77
against PyTorch's encode_text at 77); a file is written only when it passes; exit 1
otherwise.
"""
import argparse
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "py"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import onnxruntime as ort  # noqa: E402

import clip_model  # noqa: E402
import rnencode_ref as ref  # noqa: E402
import txtencode_ref  # noqa: E402
from peers import PRESET, RTOL, measure  # noqa: E402


class Text(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, text):
        return txtencode_ref.encode_text_trimmed(self.m, text)


def export(module, example, path, names, dynamic):
    with torch.no_grad():
        torch.onnx.export(module, example, path, input_names=names[:1], output_names=names[1:],
                          dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--resnet50", required=True)
    p.add_argument("--clip", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("outdir")
    a = p.parse_args()
    ref.torch_modules()
    torch.set_num_threads(a.threads)
    os.makedirs(a.outdir, exist_ok=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    ok = True

    def check(name, path, got, want, what):
        nonlocal ok
        r = measure(got, want)
        print(f"export: {name}: ONNX Runtime vs PyTorch {what}: max ratio {r['ratio']:.3g}"
              f" (tolerance {RTOL['fp32']:g}), max |diff| {r['maxdiff']:.3g}")
        good = r["ratio"] <= RTOL["fp32"]
        ok = ok and good
        return good

    files = sorted(glob.glob(os.path.join(ROOT, "testdata", "images", "*.JPEG")))[:2]
    for model, w in (("resnet50", a.resnet50), ("clip-rn50", a.clip)):
        m = ref.build_model(model, w)
        x = torch.stack([ref.normalize(ref.crop_u8(f, PRESET[model]), PRESET[model]) for f in files])
        out = os.path.join(a.outdir, model + ".onnx")
        export(m, x, out + ".tmp", ["image", "output"], {"image": {0: "n"}, "output": {0: "n"}})
        with torch.no_grad():
            want = m(x).numpy()
        got = ort.InferenceSession(out + ".tmp", so, providers=["CPUExecutionProvider"]).run(
            None, {"image": x.numpy()})[0]
        if check(model, out, got, want, "on 2 images"):
            os.replace(out + ".tmp", out)

    m = clip_model.load(a.clip)
    rows = [[49406, 320, 1125, 539, 320, 7622, 269, 49407], [49406, 1929, 49407]]
    out = os.path.join(a.outdir, "clip-text.onnx")
    export(Text(m), txtencode_ref.pad(rows, 12), out + ".tmp", ["text", "embedding"],
           {"text": {0: "n", 1: "len"}, "embedding": {0: "n"}})
    sess = ort.InferenceSession(out + ".tmp", so, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = m.encode_text(txtencode_ref.pad(rows, 77)).numpy()  # clip.tokenize's padding
    good = True
    for n in (8, 77):  # another length than the export's 12, and the full context
        got = sess.run(None, {"text": txtencode_ref.pad(rows, n).numpy()})[0]
        good &= check("clip-text", out, got, want, f"at length {n} (PyTorch at 77)")
    if good:
        os.replace(out + ".tmp", out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
