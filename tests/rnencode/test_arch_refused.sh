#!/usr/bin/env bash
# Checkpoints no family builds are refused before any work, with exit 2, nothing
# on stdout and one line naming what was found: a stage of 100000 blocks (it cost
# gigabytes in binding), architectures neither torchvision nor CLIP can build
# (CLIP with basic blocks or groups, torchvision basic blocks not 64 wide or grouped),
# and a --weights that is missing or not a regular file, even with no image to encode.
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
def real(path, ents):  # tensors with their data: the reader checks the sizes
    h, off = {}, 0
    for n, s in ents.items():
        size = 4
        for d in s:
            size *= d
        h[n] = {"dtype": "F32", "shape": s, "data_offsets": [off, off + size]}
        off += size
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + bytes(off))
def stages(w, c2in, conv3):
    e = {"layer%d.0.conv1.weight" % s: [w, w, 1, 1] for s in range(1, 5)}
    e["layer1.0.conv2.weight"] = [w, c2in, 3, 3]
    if conv3:
        e["layer1.0.conv3.weight"] = [4 * w, w, 1, 1]
    return e
real("clip_basic.safetensors", {"attnpool.c_proj.weight": [8, 16], "attnpool.positional_embedding": [50, 16], **stages(32, 32, False)})
real("clip_grouped.safetensors", {"attnpool.c_proj.weight": [8, 16], "attnpool.positional_embedding": [50, 16], **stages(32, 16, True)})
real("tv_basic_w8.safetensors", {"fc.weight": [10, 8], **stages(8, 8, False)})
real("tv_basic_g2.safetensors", {"fc.weight": [10, 8], **stages(64, 32, False)})
open("img.mp", "wb").write(msgpack.packb({"type": "image", "id": "a", "path": "a", "label": -1,
    "preset": "imagenet", "tensor": {"dtype": "float32", "shape": [3, 224, 224], "data": bytes(4 * 3 * 224 * 224)}}))
PY
expect_exit 2 rnencode --weights deep.safetensors <img.mp
expect_empty_stdout
expect_stderr "^rnencode: deep.safetensors: layer1 has 100000 blocks: no ResNet has more than 64 in a stage$"
while IFS='|' read -r f re; do
	expect_exit 2 rnencode --weights $f.safetensors <img.mp
	expect_empty_stdout
	expect_stderr "^rnencode: $f.safetensors: $re$"
done <<'T'
clip_basic|a CLIP ModifiedResNet with basic blocks \(no layer1.0.conv3.weight\): CLIP builds bottleneck blocks only
clip_grouped|a CLIP ModifiedResNet with grouped convolutions \(layer1.0.conv2 in 2 groups\): CLIP's blocks have none
tv_basic_w8|a torchvision BasicBlock ResNet of width 8, its layer1.0.conv2 taking 8 channels: torchvision builds them with width 64 and groups 1 \(64 channels\) only
tv_basic_g2|a torchvision BasicBlock ResNet of width 64, its layer1.0.conv2 taking 32 channels: torchvision builds them with width 64 and groups 1 \(64 channels\) only
T
# --weights is checked before any record: with no image it used to exit 0
for f in nosuch.pth .; do
	expect_exit 2 rnencode --weights $f </dev/null
	expect_empty_stdout
	expect_stderr "^rnencode: $f: "
done
exit 0
