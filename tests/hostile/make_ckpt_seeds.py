"""make_ckpt_seeds.py OUTDIR - the small checkpoints ckpts.py mutates: a state dict
with float32/float16/bfloat16/int64 tensors, a transposed view, a slice with a
storage offset, a 0-d tensor and a nested dict, saved as a PyTorch zip and as a
legacy file; a scripted module (TorchScript archive); the same tensors as
safetensors written by hand (fixed seeds).
"""
import json, os, struct, sys
from collections import OrderedDict
import torch
from torch import nn
out = sys.argv[1]
g = torch.Generator().manual_seed(5)
base = torch.randn(4, 3, generator=g)
sd = OrderedDict()
sd["w"] = torch.randn(3, 4, generator=g)
sd["h"] = torch.randn(2, 3, generator=g).half()
sd["b16"] = torch.randn(3, generator=g).bfloat16()
sd["i"] = torch.tensor([1, -2, 2 ** 40])
sd["t"] = base.t()
sd["s"] = base[1:3]
sd["scalar"] = torch.tensor(2.5)
sd["nested"] = OrderedDict([("v", torch.arange(4, dtype=torch.float32)), ("epoch", 3)])
torch.save(sd, os.path.join(out, "tiny.pth"))
torch.save(sd, os.path.join(out, "tiny-legacy.pth"), _use_new_zipfile_serialization=False)
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("mean", torch.arange(3, dtype=torch.float32))
    def forward(self, x):
        return self.fc(x) - self.mean
torch.manual_seed(5)
torch.jit.script(M()).save(os.path.join(out, "tiny.pt"))
names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
hdr, blobs, off = OrderedDict(), [], 0
hdr["__metadata__"] = {"format": "pt"}
for n, t in [("w", sd["w"]), ("h", sd["h"]), ("b16", sd["b16"]), ("i", sd["i"]), ("t", sd["t"].contiguous())]:
    t = t.contiguous()
    b = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    hdr[n] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(hdr, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(os.path.join(out, "tiny.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
