#!/usr/bin/env bash
# Checkpoints no family builds are refused before any work, with exit 2, nothing
# on stdout and one line naming what was found: a stage of 100000 blocks (it cost
# gigabytes in binding), architectures neither torchvision nor CLIP can build.
source "$ROOT/tests/lib.sh"
need_py msgpack
$PY - <<'PY' || fail "making the files"
import json, struct, msgpack
def write(path, ents):
    h = {n: {"dtype": "F32", "shape": s, "data_offsets": [0, 0]} for n, s in ents.items()}
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hb)) + hb)
e = {"fc.weight": [10, 0], "conv1.weight": [0, 3, 7, 7], "layer1.0.conv2.weight": [0, 1, 3, 3],
     "layer1.0.conv3.weight": [0]}
for s in range(4):
    for j in range(100000 if s == 0 else 1):
        e["layer%d.%d.conv1.weight" % (s + 1, j)] = [1, 0, 1, 1]
write("deep.safetensors", e)
open("img.mp", "wb").write(msgpack.packb({"type": "image", "id": "a", "path": "a", "label": -1,
    "preset": "imagenet", "tensor": {"dtype": "float32", "shape": [3, 224, 224], "data": bytes(4 * 3 * 224 * 224)}}))
PY
expect_exit 2 rnencode --weights deep.safetensors <img.mp
expect_empty_stdout
expect_stderr "^rnencode: deep.safetensors: layer1 has 100000 blocks: no ResNet has more than 64 in a stage$"
exit 0
