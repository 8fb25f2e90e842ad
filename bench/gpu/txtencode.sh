#!/usr/bin/env bash
# bench/gpu/txtencode.sh - seconds to build CLIP's zero-shot ImageNet classifier
# (1000 classes x 80 templates = 80000 prompts) on the GPU: txtencode --device
# cuda, FP32, FP16 and BF16, against PyTorch eager on the same card in the same run.
#
#   bench/gpu/txtencode.sh [RESULTS.jsonl]
#
# Both sides start from token ids with the weights loaded (txtencode's stats
# "encode_seconds": prefix trees built on the host, batches run on the GPU,
# outputs back; PyTorch timed inside Python after one warm-up batch, batches
# of 1000 prompts) and end with the normalized table. PyTorch runs the eager
# CLIP module of tests/py/clip_model.py (FP32 with TF32 off, or CLIP's own
# fp16 mix, or that mix in bf16) padded to 77 as clip.tokenize does, and "trimmed": each batch
# padded only to its longest prompt (exact too, thanks to the causal mask).
# txtencode: one run each (its runner warms up at start, outside the time).
# Prints a markdown table (ratios = PyTorch seconds / txtencode seconds) and
# appends one JSON line per precision. No bc or other tools beyond awk: the
# GPU machine is bare.
# Environment: BIN (default bin), PY (python with a CUDA torch, default
# python3), GPU_CKPT_DIR (clip-rn50.pth; made with tests/py/gpu_ckpt.py into
# build/gpu-ckpt when unset), CLASSES (default 1000: the first N classes).
# Without a GPU, a CUDA txtencode or a CUDA torch it says so and exits 0.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-python3}
CLASSES=${CLASSES:-1000}
TX=$BIN/txtencode
WORK=$(mktemp -d /tmp/gputext.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RES=${1:-$WORK/results.jsonl}

source "$ROOT/bench/gpu/lib.sh"
gpu_bench_ready "$TX" cublasGemmEx
gpu_bench_checkpoints
W=$GPU_CKPT_DIR/clip-rn50.pth

head -n "$CLASSES" "$ROOT/data/names-clip.txt" >"$WORK/names.txt"
"$TX" --tokenize -n "$WORK/names.txt" >"$WORK/ids.txt" || exit 1
N=$(wc -l <"$WORK/ids.txt")
stat_of() { # $1 stream, $2 key of its stats record
	$PY -c 'import sys, msgpack
r = [x for x in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if x["type"] == "stats"][-1]
print(r[sys.argv[2]])' "$1" "$2"
}
torch_s() { # flags for txtencode_ref.py time: prints seconds, or "failed"
	local s
	s=$($PY "$ROOT/tests/py/txtencode_ref.py" time "$W" "$WORK/ids.txt" 8 --device cuda --batch 1000 "$@" 2>"$WORK/torch.err" |
		awk '/^seconds/ { print $2 }')
	[ -n "$s" ] && echo "$s" || { tail -n 3 "$WORK/torch.err" >&2; echo failed; }
}
ratio() { [ "$1" = failed ] && echo "-" || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

echo "bench/gpu/txtencode: $CARD; $CLASSES classes x 80 templates = $N prompts; results in $RES"
echo
echo "| precision | txtencode s (GPU compute s) | trie rows | PyTorch padded to 77 s | ratio | PyTorch trimmed s | ratio |"
echo "|---|---|---|---|---|---|---|"
for p in fp32 fp16 bf16; do
	flag=()
	[ $p != fp32 ] && flag=(--$p) # txtencode_ref.py time's spelling
	"$TX" -d cuda --precision $p -w "$W" -n "$WORK/names.txt" >"$WORK/$p.mp" 2>"$WORK/tx.err" ||
		{ cat "$WORK/tx.err"; echo "bench/gpu/txtencode: txtencode -d cuda $p failed"; exit 1; }
	secs=$(stat_of "$WORK/$p.mp" encode_seconds) gpu=$(stat_of "$WORK/$p.mp" compute_seconds)
	rows=$(stat_of "$WORK/$p.mp" rows)
	t77=$(torch_s "${flag[@]}")
	ttrim=$(torch_s "${flag[@]}" --trim)
	printf '| %s | %.3f (%.3f) | %s | %s | %s | %s | %s |\n' $p "$secs" "$gpu" "$rows" "$t77" "$(ratio "$t77" "$secs")" \
		"$ttrim" "$(ratio "$ttrim" "$secs")"
	printf '{"bench": "txtencode", "card": "%s", "precision": "%s", "prompts": %d, "txtencode_s": %s, "txtencode_gpu_s": %s, "trie_rows": %s, "torch_padded77_s": "%s", "torch_trimmed_s": "%s"}\n' \
		"$CARD" $p "$N" "$secs" "$gpu" "$rows" "$t77" "$ttrim" >>"$RES"
done
