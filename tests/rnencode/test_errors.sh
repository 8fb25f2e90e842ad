#!/usr/bin/env bash
# rnencode's stream contract and failures: one output per input in input order with
# error/unknown/header records passed through (batched and unbatched), an error
# record for each bad image (shape, dtype, preset, no tensor), and the fatal cases
# (exit 2, one stderr line, nothing on stdout): missing default weights, a
# checkpoint of the wrong model or with missing/extra/misshapen tensors, --device
# cuda without a GPU, a truncated stream; usage errors.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py msgpack
need_checkpoints
REF="$PY $ROOT/tests/py/rnencode_ref.py"
W=$CKPT_DIR/resnet50.pth

# --- order and pass-through ---
$REF mixed mixed.mp >want.txt || fail "making the mixed stream"
for b in 8 1; do
	expect_exit 1 rnencode --weights "$W" --batch $b --threads 2 <mixed.mp
	recview out | $PY -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("producer") == "rnencode" and r["type"] in ("header", "stats"):
        continue
    print(r["type"], r.get("id", "-"))' >got.txt
	cmp -s want.txt got.txt || { diff want.txt got.txt; fail "batch $b: records out of order or missing"; }
	recview --first 1 out | grep -q '"producer":"rnencode"' || fail "batch $b: our header is not first"
	recview out | tail -n 1 | grep -q '"type":"stats".*"images":3,"failed":4' || fail "batch $b: stats: $(recview out | tail -n 1)"
	# passed-through records are byte-identical; ours keep the image's keys
	recview -t error out | grep -qx '{"type":"error","id":"Z","path":"/x/Z.JPEG","label":3,"stage":"imgdecode","message":"not a JPEG"}' ||
		fail "the input's error record was changed"
	recview -t logits --first 1 out | grep -q '^{"type":"logits","id":"A","path":"/x/A.JPEG","label":7,"preset":"imagenet","extra":\[1,2\],"model":"resnet50"' ||
		fail "logits record lost the image's keys: $(recview -t logits --first 1 out)"
	for id in B D E F; do
		recview -t error out | grep "\"id\":\"$id\"" | grep -q '"stage":"rnencode"' || fail "no rnencode error record for $id"
		grep -q "^rnencode: stdin: record [0-9]* (id '$id'): " err || fail "no stderr line for $id: $(cat err)"
	done
done
recview -t error out | grep '"id":"B"' | grep -q 'uint8 \[100,100,3\]' || fail "shape error does not name the shape"
recview -t error out | grep '"id":"D"' | grep -q "preset 'clip' does not match model resnet50" || fail "preset error unclear"
recview -t error out | grep '"id":"E"' | grep -q 'int32' || fail "dtype error does not name the dtype"

# no images at all: our header and the records; the named weights are checked, not read
$REF head 0 mixed.mp header.mp
expect_exit 0 rnencode --weights "$W" <header.mp
[ "$(recview --count out | awk '$1 == "header" { print $2 }')" = 2 ] || fail "empty stream: $(recview --count out)"
recview out | tail -n 1 | grep -q '"type":"stats","producer":"rnencode","model":null,"images":0,"failed":0' ||
	fail "empty stream: no stats record last: $(recview out | tail -n 1)"

# a truncated stream: what came before is written, then exit 2
head -c 400000 mixed.mp >trunc.mp
expect_exit 2 rnencode --weights "$W" <trunc.mp
expect_stderr 'rnencode: .*(truncated|ends)'
recview -t logits out | grep -q '"id":"A"' || fail "images before the damage were not written"
# float crops normalized with other values (imgdecode --mean/--std say so in each
# record): an error record naming the option; the preset's own values pass
I1=$TESTDATA/images/n01440764_tench.JPEG
imgdecode --preset imagenet --dtype float32 --mean 0,0,0 --std 1,1,1 "$I1" >custom.mp 2>/dev/null || fail "imgdecode --mean"
expect_exit 1 rnencode --weights "$W" <custom.mp
expect_stderr "normalized with another mean than resnet50's \(0.485,0.456,0.406\): imgdecode --mean"
[ "$(recview --count out | awk '$1 == "error" { print $2 }')" = 1 ] || fail "custom normalization: $(recview --count out)"
imgdecode --preset imagenet --dtype float32 --mean 0.485,0.456,0.406 "$I1" >same.mp 2>/dev/null || fail "imgdecode --mean (the preset's)"
expect_exit 0 rnencode --weights "$W" <same.mp
expect_exit 2 imgdecode --mean 0,0,0 "$I1"
expect_stderr "^imgdecode: --mean/--std: only for --dtype float32 or float16"
expect_empty_stdout
# not a record stream at all: our header alone is not written
echo hello >hello.txt
expect_exit 2 rnencode --model resnet50 --weights "$W" <hello.txt
expect_empty_stdout
expect_stderr '^rnencode: stdin: record 0 at byte 0: not a valid record'

# --- fatal: one line on stderr, nothing on stdout ---
fatal() { # fatal REGEX CMD...: exit 2, empty stdout, one stderr line matching
	local re=$1; shift
	expect_exit 2 "$@" <mixed.mp
	expect_empty_stdout
	grep -v 'using the CPU' err >err1
	[ "$(wc -l <err1)" = 1 ] || { cat err; fail "'$*': expected one stderr line"; }
	grep -Eq -- "$re" err1 || { cat err; fail "'$*': stderr does not match /$re/"; }
}
mkdir empty
RNENC_WEIGHTS=$PWD/empty fatal "no resnet50 weights at .*empty/resnet50-0676ba61.pth: run .make weights." rnencode
XDG_CACHE_HOME=$PWD/empty RNENC_WEIGHTS= fatal "empty/rnencode/weights/resnet50-0676ba61.pth" rnencode
fatal "not a clip-rn50 checkpoint: it holds resnet50$" rnencode --model clip-rn50 --weights "$W"
fatal "not a resnet50 checkpoint: it holds clip-rn50$" rnencode --model resnet50 --weights "$CKPT_DIR/clip-rn50.pt"
# --model auto (the default with --weights): a file of no known family is refused, naming what it holds
fatal "mixed.pth: not a ResNet of a known family: .* found among its [0-9]+ tensors \(the first is [^)]+\)$" \
	rnencode --weights "$CKPT_DIR/mixed.pth"
fatal "nonexistent" rnencode --weights "$T/nonexistent.pth"
need_py torch
$PY - "$W" <<'PY' || fail "making a damaged checkpoint"
import sys, torch
sd = torch.load(sys.argv[1])
del sd["layer2.0.bn1.running_var"]
sd["layer4.2.conv4.weight"] = torch.zeros(512, 2048, 1, 1)
sd["fc.weight"] = torch.zeros(10, 2048)
torch.save(sd, "damaged.pth")
PY
# the architecture is read from the tensors (fc.weight says 10 classes); what then
# does not fit is named
fatal "not a resnet\(bottleneck,3-4-6-3,w64,g1,out10\) checkpoint: 1 missing \(layer2.0.bn1.running_var\); 1 wrong \(fc.bias is float32 \[1000\], expected float \[10\]\); 1 unexpected \(layer4.2.conv4.weight\)" \
	rnencode --weights damaged.pth
# training scripts' checkpoints: the ImageNet example's {"state_dict": module.*} and
# torchvision's reference script's {"model": ..., "optimizer": ...} give the same logits
$PY - "$W" <<'PY' || fail "making training checkpoints"
import sys, torch
sd = torch.load(sys.argv[1])
torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}, "epoch": 90, "arch": "resnet50"}, "example.pth")
torch.save({"model": sd, "optimizer": {"state": {}, "param_groups": []}, "epoch": 90}, "reference.pth")
PY
imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >one.mp 2>/dev/null
rnencode --weights "$W" <one.mp 2>/dev/null | recview -t logits >plain.json || fail "plain checkpoint"
for f in example reference; do
	rnencode --weights $f.pth <one.mp 2>/dev/null | recview -t logits >$f.json || fail "$f.pth refused"
	cmp plain.json $f.json || fail "$f.pth gives other logits"
done
if [ ! -e /dev/nvidia0 ]; then
	fatal "^rnencode: --device cuda: " rnencode --device cuda --weights "$W"
fi

# --model with imagenet-v2 crops takes resnet50's V2 file, as the preset alone does
mkdir v2w && ln -s "$W" v2w/resnet50-11ad3fa6.pth
imgdecode --preset imagenet-v2 "$TESTDATA/images/n01440764_tench.JPEG" >v2.mp 2>/dev/null
for m in "" "--model resnet50"; do
	RNENC_WEIGHTS=$PWD/v2w expect_exit 0 rnencode $m <v2.mp
	recview -t header out | grep -q '"weights":"[^"]*v2w/resnet50-11ad3fa6.pth"' || fail "'$m' on imagenet-v2: $(recview -t header out)"
done
# the other models' default files: the preset's (clip-288 -> clip-rn50x4) or --model's,
# V2 for imagenet-v2 crops where torchvision has V2 weights
imgdecode --preset clip-288 "$TESTDATA/images/n01440764_tench.JPEG" >c288.mp 2>/dev/null
RNENC_WEIGHTS=$PWD/empty expect_exit 2 rnencode <c288.mp
expect_stderr "^rnencode: no clip-rn50x4 weights at .*empty/RN50x4.pt: run .make weights."
RNENC_WEIGHTS=$PWD/empty expect_exit 2 rnencode --model resnet101 <v2.mp
expect_stderr "^rnencode: no resnet101 weights at .*empty/resnet101-cd907fc2.pth: "
# --model and no images: the weights are not read, the header names the model given
expect_exit 0 rnencode --model clip-rn50 --weights "$CKPT_DIR/clip-rn50.pt" <header.mp
recview out | tail -n 1 | grep -q '"type":"stats","producer":"rnencode","model":"clip-rn50","images":0' ||
	fail "--model, no images: $(recview out | tail -n 1)"

# --- usage ---
expect_exit 0 rnencode --help
grep -q "fp16  FP16 weights and activations between layers, FP32" out || fail "--help does not explain --precision fp16"
expect_exit 2 rnencode --model resnet19
expect_stderr "'resnet19' is not auto or one of resnet18, resnet34, "
expect_exit 2 rnencode --model clip-rn50 --features
expect_stderr "^rnencode: --features is for torchvision ResNets \(clip-rn50's embedding is its feature vector\)$"
expect_exit 2 rnencode --batch 0
expect_exit 2 rnencode --device tpu
expect_exit 2 rnencode stray-argument
exit 0
