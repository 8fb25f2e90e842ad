#!/usr/bin/env bash
# txtencode on every CLIP ResNet's text tower, against PyTorch: random-weight
# towers of each width (512, 640, 768, 1024: 8 to 16 heads) in the published
# formats (tests/py/clip_text_fixtures.py: OpenAI's TorchScript archives,
# open_clip's training checkpoint with its state_dict wrapper and "module."
# prefix, open_clip's safetensors), real BPE ids of 3 names x 2 templates,
# each prompt's normalized embedding (--per-template) within 1e-4 of
# clip_model.py's eager tower (tests/py/txtencode_ref.py), GELU and
# QuickGELU. --model auto names OpenAI's files from their shapes and refuses
# a state dict that does not say its activation; a named model must match
# the file's tower; zscore scores each width's table.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_text_checkpoints
D=$TEXT_CKPT_DIR
REF="$PY $ROOT/tests/py/txtencode_ref.py"

head -n 3 "$ROOT/data/names-clip.txt" >names.txt
head -n 2 "$ROOT/data/templates-clip.txt" >templates.txt
txtencode --tokenize -n names.txt -t templates.txt >ids.txt || fail "tokenize"

# FILE MODEL-OPTION EXPECTED-RECORD-MODEL [--gelu]
check() {
	local f=$1 opt=$2 want=$3 gelu=${4:-}
	local out=$(basename "$f").mp
	# shellcheck disable=SC2086 # opt is empty or "--model NAME"
	txtencode -w "$D/$f" $opt -n names.txt -t templates.txt --per-template >"$out" 2>err ||
		{ cat err; fail "$f: txtencode failed"; }
	$PY - "$out" "$want" <<'PYEOF' || fail "$f: record"
import sys, msgpack
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
assert recs[0]["model"] == sys.argv[2], recs[0]["model"]
c = [r for r in recs if r["type"] == "classes"][0]
assert c["model"] == sys.argv[2] and c["tensor"]["shape"][:2] == [3, 2], (c["model"], c["tensor"]["shape"])
PYEOF
	# compared at the end, every model in one Python process
	specs+=(${specs:+--} $gelu "$D/$f" "ids.txt:$out:per-template")
	# the table scores: an embedding equal to class 2's row is class 2
	$PY - "$out" <<'PYEOF' >emb.mp || fail "$f: embedding record"
import sys, msgpack, numpy as np
c = [r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r["type"] == "classes"][0]
t = np.frombuffer(c["tensor"]["data"], np.float32).reshape(c["tensor"]["shape"]).mean(axis=1)
e = t[2].astype(np.float32)
sys.stdout.buffer.write(msgpack.packb({"type": "embedding", "id": "x", "label": 2, "model": c["model"],
    "precision": "fp32", "tensor": {"dtype": "float32", "shape": [len(e)], "data": e.tobytes()}}))
PYEOF
	zscore --classes "$out" <emb.mp | topk -k 1 --format tsv >top.tsv 2>err || { cat err; fail "$f: zscore"; }
	awk -F'\t' '$1 == "x"' top.tsv | grep -q "	2	" || fail "$f: zscore's top-1 is not class 2: $(cat top.tsv)"
}

specs=()
check openai-rn101.pt "" clip-rn101                   # auto: OpenAI's archive, width 512, E 512
check openai-rn50x4.pt "" clip-rn50x4                 # 640, 10 heads
check openai-rn50x16.pt "--model clip-rn50x16" clip-rn50x16 # 768, 12 heads
check openai-rn50x64.pt "--model RN50x64/openai" RN50x64/openai # 1024, 16 heads
check openclip-rn50.pt "--model RN50" RN50 --gelu     # open_clip's wrapper, GELU
check openclip-rn101-quickgelu.safetensors "--model RN101-quickgelu" RN101-quickgelu

$REF compare "${specs[@]}" || fail "txtencode differs from PyTorch"

# the activation matters: the same tower read with QuickGELU is far from GELU's
txtencode -w "$D/openclip-rn50.pt" --model RN50-quickgelu -n names.txt -t templates.txt --per-template >quick.mp ||
	fail "RN50-quickgelu"
$PY - openclip-rn50.pt.mp quick.mp <<'PYEOF' || fail "GELU and QuickGELU give the same embeddings"
import sys, msgpack, numpy as np
def t(p):
    c = [r for r in msgpack.Unpacker(open(p, "rb"), raw=False) if r["type"] == "classes"][0]
    return np.frombuffer(c["tensor"]["data"], np.float32)
d = np.abs(t(sys.argv[1]) - t(sys.argv[2])).max() / np.abs(t(sys.argv[1])).max()
print("RN50 (GELU) vs RN50-quickgelu on one file: max |diff| relative", d)
assert d > 1e-3, d  # ten times the parity tolerance
PYEOF

# auto cannot tell an open_clip state dict's activation: refused, naming both choices
expect_exit 2 txtencode -w "$D/openclip-rn50.pt" -n names.txt -t templates.txt
expect_empty_stdout
expect_stderr "give --model RN50-quickgelu \\(QuickGELU\\) or --model RN50 \\(GELU\\)"
# a named model must be the file's
expect_exit 2 txtencode -w "$D/openai-rn101.pt" --model clip-rn50 -n names.txt -t templates.txt
expect_empty_stdout
expect_stderr "clip-rn50's text tower is 512 wide with 1024-wide embeddings; this file's is 512, 512 \\(RN101's\\)"
expect_exit 2 txtencode -w "$D/openai-rn101.pt" --model RN152 -n names.txt -t templates.txt
expect_empty_stdout
expect_stderr "--model: 'RN152' is not a CLIP ResNet"
# a bare open_clip name has no published file to default to
expect_exit 2 env RNENC_WEIGHTS="$T" txtencode --model RN50 -n names.txt -t templates.txt
expect_empty_stdout
expect_stderr "names no published weights"
echo "ok: every CLIP ResNet width, OpenAI's and open_clip's formats, GELU and QuickGELU match PyTorch"
