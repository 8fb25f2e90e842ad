#!/usr/bin/env python3
"""clip_text_fixtures.py OUTDIR - random-weight CLIP text towers of every ResNet width,
written in the published file formats, for txtencode's parity tests.

Each file holds a CLIP module of tests/py/clip_model.py (CLIP's names and structure):
the text tower at the family's sizes (vocabulary 49408 and context 77 as published, so
the real BPE ids index it), random non-degenerate weights (LayerNorm and attention
biases random too), and a reduced image tower (ModifiedResNet of width 8, one block a
stage: the attention pool's output is the embedding, as in the family), which the text
parity does not use but --model auto looks for.

  openai-rn101.pt     TorchScript archive after convert_weights (fp16/fp32 mix), as
                      OpenAI's RN101.pt: width 512, embed 512, 12 layers, QuickGELU
  openai-rn50x4.pt    the same, width 640 (10 heads), embed 640, 4 layers (12 published)
  openai-rn50x16.pt   width 768 (12 heads), embed 768, 4 layers (12 published)
  openai-rn50x64.pt   width 1024 (16 heads), embed 1024, 2 layers (12 published)
  openclip-rn50.pt    open_clip's training checkpoint: torch.save({"epoch", "name",
                      "state_dict": {"module." + key: ...}}), FP32, GELU (open_clip's
                      RN50 config): width 512, embed 1024, 2 layers
  openclip-rn101-quickgelu.safetensors
                      open_clip's bare state dict as safetensors, FP32, QuickGELU
                      (RN101-quickgelu): width 512, embed 512, 2 layers
Fewer layers than published only where the code path is the same for every layer.
"""
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_model  # noqa: E402
import make_checkpoints as mk  # noqa: E402

MODELS = [
    # file, width, embed, layers, act, format
    ("openai-rn101.pt", 512, 512, 12, "quickgelu", "torchscript"),
    ("openai-rn50x4.pt", 640, 640, 4, "quickgelu", "torchscript"),
    ("openai-rn50x16.pt", 768, 768, 4, "quickgelu", "torchscript"),
    ("openai-rn50x64.pt", 1024, 1024, 2, "quickgelu", "torchscript"),
    ("openclip-rn50.pt", 512, 1024, 2, "gelu", "openclip-train"),
    ("openclip-rn101-quickgelu.safetensors", 512, 512, 2, "quickgelu", "safetensors"),
]


def make(width, embed, layers, act, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    m = clip_model.CLIP(embed_dim=embed, vision_layers=(1, 1, 1, 1), vision_width=8,
                        transformer_width=width, transformer_heads=width // 64,
                        transformer_layers=layers, act=act)
    with torch.no_grad():
        for mod in m.transformer.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.data = torch.empty(mod.weight.shape).uniform_(0.8, 1.2, generator=g)
                mod.bias.data = torch.randn(mod.bias.shape, generator=g) * 0.05
            if isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.data = torch.randn(mod.in_proj_bias.shape, generator=g) * 0.02
                mod.out_proj.bias.data = torch.randn(mod.out_proj.bias.shape, generator=g) * 0.02
        m.ln_final.weight.data.uniform_(0.8, 1.2, generator=g)
        m.ln_final.bias.data = torch.randn(m.ln_final.bias.shape, generator=g) * 0.05
    return m.eval()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: clip_text_fixtures.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    for i, (fname, width, embed, layers, act, fmt) in enumerate(MODELS):
        m = make(width, embed, layers, act, 100 + i)
        tmp = os.path.join(out, fname + ".tmp")
        if fmt == "torchscript":
            clip_model.convert_weights(m)
            torch.jit.script(m).save(tmp)
        else:
            # open_clip's CLIP has no int64 buffers in its state dict
            sd = {k: v for k, v in m.state_dict().items()
                  if k not in ("input_resolution", "context_length", "vocab_size")}
            if fmt == "openclip-train":
                torch.save({"epoch": 32, "name": "rn50-gelu-test",
                            "state_dict": {"module." + k: v for k, v in sd.items()}}, tmp)
            else:
                mk.write_safetensors(tmp, list(sd.items()), {"format": "pt"})
        os.replace(tmp, os.path.join(out, fname))
    with open(os.path.join(out, "done"), "w") as f:
        f.write("\n".join(x[0] for x in MODELS) + "\n")


if __name__ == "__main__":
    main()
