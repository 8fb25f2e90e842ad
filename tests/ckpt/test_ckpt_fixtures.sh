#!/usr/bin/env bash
# Checkpoints written by PyTorch itself (tests/py/make_checkpoints.py: torch.save zip
# and legacy, torch.jit.script(...).save of CLIP RN50, safetensors) read back with
# every tensor bit-identical: per-tensor sha256, dtype, shape and order against the
# manifest Python wrote.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_checkpoints
files="resnet50.pth resnet50-legacy.pth resnet50.safetensors clip-rn50.pt mixed.pth mixed-legacy.pth mixed.safetensors"
# under ASan hashing is slow: the small mixed.* files cover the legacy and safetensors paths
[ "${ASAN:-0}" = 1 ] && files="resnet50.pth clip-rn50.pt mixed.pth mixed-legacy.pth mixed.safetensors"
for f in $files; do
	# the whole-file hash is checked on the small files and once below (CPU time)
	case $f in mixed*) nofile= ;; *) nofile=-H ;; esac
	expect_exit 0 ckptinfo --json --tensor-sha256 $nofile "$CKPT_DIR/$f"
	$PY "$ROOT/tests/py/ckpt_compare.py" "$CKPT_DIR/checksums.json" "$f" <out ||
		fail "$f: tensors differ from what PyTorch wrote"
done

# the text listing: header lines, one row per tensor, the file's sha256
expect_exit 0 ckptinfo "$CKPT_DIR/resnet50.pth"
grep -qx '# format: pytorch-zip' out || fail "format line missing"
grep -qx '# tensors: 320 (102441032 bytes)' out || fail "tensor count line wrong: $(grep tensors: out)"
grep -qP '^conv1\.weight\tfloat32\t\[64,3,7,7\]\t37632$' out || fail "conv1.weight row missing"
grep -qP '^layer4\.2\.bn3\.num_batches_tracked\tint64\t\[\]\t8$' out || fail "0-d int64 row missing"
sum=$(sha256sum "$CKPT_DIR/resnet50.pth" | cut -d' ' -f1)
grep -qx "# sha256: $sum" out || fail "file sha256 differs from sha256sum's $sum"
# the model the tensors describe, as rnencode --model auto reads it; or none and why
grep -qx '# model: resnet50' out || fail "model line: $(grep model: out)"
expect_exit 0 ckptinfo -H "$CKPT_DIR/mixed.pth"
grep -qx '# model: none (not a ResNet of a known family: .* found among its 20 tensors (the first is f32))' out ||
	fail "model line of mixed.pth: $(grep model: out)"
expect_exit 0 ckptinfo -H --json "$CKPT_DIR/mixed.pth"
grep -q '"model":null,"model_why":"not a ResNet of a known family' out || fail "--json model of mixed.pth: $(head -c 300 out)"
# the first name, cut to 80 bytes in the reason, is cut between characters, not inside one
$PY - <<'PY' || fail "making cut.safetensors"
import json, struct
h = json.dumps({"a" * 79 + "\u00e9b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, ensure_ascii=False).encode()
open("cut.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + bytes(4))
PY
expect_exit 0 ckptinfo -H --json cut.safetensors
grep -q '(the first is a\{79\})"' out || fail "the first name cut inside a character: $(grep -o 'the first is[^"]*' out)"

# the CLIP archive keeps CLIP's fp16/fp32 split (convert_weights) and its names
expect_exit 0 ckptinfo --no-file-sha256 "$CKPT_DIR/clip-rn50.pt"
grep -qx '# format: torchscript' out || fail "clip-rn50.pt not seen as TorchScript"
grep -qx '# model: clip-rn50' out || fail "clip-rn50.pt: model line: $(grep model: out)"
for row in 'visual\.conv1\.weight\tfloat16\t\[32,3,3,3\]' 'visual\.bn1\.running_var\tfloat32\t\[32\]' \
	'visual\.layer1\.0\.downsample\.0\.weight\tfloat16\t\[256,64,1,1\]' \
	'visual\.attnpool\.positional_embedding\tfloat32\t\[50,2048\]' \
	'visual\.attnpool\.q_proj\.bias\tfloat16\t\[2048\]' 'visual\.attnpool\.c_proj\.weight\tfloat16\t\[1024,2048\]' \
	'token_embedding\.weight\tfloat32\t\[49408,512\]' 'transformer\.resblocks\.0\.attn\.in_proj_weight\tfloat16\t\[1536,512\]' \
	'transformer\.resblocks\.11\.attn\.out_proj\.bias\tfloat16\t\[512\]' 'ln_final\.weight\tfloat32\t\[512\]' \
	'text_projection\tfloat16\t\[512,1024\]' 'logit_scale\tfloat32\t\[\]' \
	'transformer\.resblocks\.11\.attn_mask\tfloat32\t\[77,77\]'; do
	grep -qP "^$row\t" out || fail "clip-rn50.pt: no row /$row/"
done

# --read in --json: the figures inside the file's object, every line still JSON
expect_exit 0 ckptinfo --json --read --no-file-sha256 "$CKPT_DIR/mixed.safetensors" "$CKPT_DIR/mixed.pth"
$PY -c "
import json
objs = [json.loads(l) for l in open('out')]
assert len(objs) == 2, objs
for o in objs:
    r = o['read']
    assert r['bytes'] == sum(t['nbytes'] for t in o['tensors']) and len(r['checksum']) == 16, r
    assert r['open_s'] >= 0 and r['read_s'] >= 0, r
" || fail "--json --read: $(cat out)"
expect_exit 0 ckptinfo --read --no-file-sha256 "$CKPT_DIR/mixed.safetensors"
grep -q '^# read: [0-9]* bytes, checksum [0-9a-f]\{16\}, open ' out || fail "--read: $(tail -1 out)"
# several files in one call; a bad one among them gives exit 1 and names it
echo junk >junk.pth
expect_exit 1 ckptinfo --no-file-sha256 "$CKPT_DIR/mixed.pth" junk.pth "$CKPT_DIR/mixed.safetensors"
expect_stderr '^ckptinfo: junk\.pth: not a checkpoint'
[ "$(grep -c '^# format' out)" = 2 ] || fail "the two good files were not both listed"
exit 0
