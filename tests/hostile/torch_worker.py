"""torch_worker.py - reads checkpoints with PyTorch for hostile.py, one JSON
request per line on stdin ({"path": P}), one JSON answer per line on stdout:
{"ok": true, "rows": [[name, dtype, shape, sha256], ...]} or {"ok": false,
"error": "..."}. torch.load runs with weights_only=True (its restricted
unpickler: a hostile pickle cannot run code here); TorchScript archives go
through torch.jit.load. A crash of this process is the caller's to handle.
"""
import hashlib
import json
import sys
import warnings
import zipfile

import torch

warnings.simplefilter("ignore")
NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float64: "float64",
         torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
         torch.bool: "bool"}


def flatten(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, "%s%s%s" % (prefix, "." if prefix else "", k))


def row(name, t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        b = t.view(torch.int16).numpy().tobytes()
    else:
        b = t.numpy().tobytes()
    return [name, NAMES.get(t.dtype, str(t.dtype)), list(t.shape), hashlib.sha256(b).hexdigest()]


def read(path):
    torchscript = False
    try:
        with zipfile.ZipFile(path) as z:
            torchscript = any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except Exception:  # noqa: BLE001 - not a zip: legacy or other
        pass
    if torchscript:
        m = torch.jit.load(path, map_location="cpu")
        items = list(m.state_dict().items())
    else:
        items = list(flatten(torch.load(path, map_location="cpu", weights_only=True)))
    return [row(n, t) for n, t in items]


def main():
    torch.set_num_threads(1)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            ans = {"ok": True, "rows": read(req["path"])}
        except BaseException as ex:  # noqa: BLE001 - every refusal is an answer
            ans = {"ok": False, "error": "%s: %s" % (type(ex).__name__, str(ex)[:300])}
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
