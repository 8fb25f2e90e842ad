#!/usr/bin/env bash
# bench/gpu/bench.sh - rnencode's CUDA backend against PyTorch on the same GPU, same run.
#
#   bench/gpu/bench.sh [RESULTS.jsonl]
#
# For resnet50 and clip-rn50, FP16, BF16 and FP32, batches 256, 1 and 32 (in that
# order: the headline figures first), runs rnencode --device cuda over a record
# file of 12 batches (208 images at batch 1, 40 batches at 32) and takes its
# stats record (per-batch GPU time, warm-up excluded; peak device memory), and
# bench/gpu/torch_peer.py times PyTorch eager on the same card, checkpoints and
# crops: batch 256 first (rnencode, then PyTorch), then batches 1 and 32, then
# torch.compile of the FP16 batch-256 models if asked and time is left. Prints the side-by-side table (ratios) and appends every figure as a
# JSON line to RESULTS.jsonl.
# Environment: BIN (rnencode's folder, default bin), PY (python with a CUDA
# torch, default python3), GPU_CKPT_DIR (resnet50.pth, clip-rn50.pth; made
# with tests/py/gpu_ckpt.py into build/gpu-ckpt when unset), BENCH_DEADLINE_S
# (start nothing new after this many seconds, default 900), BENCH_COMPILE=1
# (torch.compile too, while time allows), BENCH_TRACE_DIR (rnencode's memory
# timelines of the batch-256 runs, when rnencode has --mem-trace), BENCH_QUICK=1
# (a smoke run: few images per configuration).
# Without a GPU, a CUDA rnencode or a CUDA torch it says so and exits 0.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-python3}
RNENC=$BIN/rnencode
T0=$(date +%s)
DEADLINE=${BENCH_DEADLINE_S:-900}
WORK=$(mktemp -d /tmp/gpubench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RES=${1:-$WORK/results.jsonl}
elapsed() { echo $(($(date +%s) - T0)); }

source "$ROOT/bench/gpu/lib.sh"
gpu_bench_ready "$RNENC" cudnnConvolutionBiasActivationForward
gpu_bench_checkpoints
declare -A W=([resnet50]=$GPU_CKPT_DIR/resnet50.pth [clip-rn50]=$GPU_CKPT_DIR/clip-rn50.pth)
declare -A PRESET=([resnet50]=imagenet [clip-rn50]=clip)
declare -A REPEAT=([1]=13 [32]=80 [256]=192) # x 16 distinct crops: 208, 1280, 3072 images
# BENCH_QUICK=1: 16, 64 and 768 images (at 256: warm-up, graph capture, one
# timed batch): a smoke run
[ "${BENCH_QUICK:-0}" = 1 ] && REPEAT=([1]=1 [32]=4 [256]=48)

for preset in imagenet clip; do # one python (torch import) per preset: seconds count here
	$PY "$ROOT/tests/py/gpu_ref.py" images --preset $preset --n 16 --also "${REPEAT[1]}:$WORK/$preset-1.mp" \
		--also "${REPEAT[32]}:$WORK/$preset-32.mp" --also "${REPEAT[256]}:$WORK/$preset-256.mp" ||
		{ echo "bench/gpu: cannot make the input records"; exit 1; }
done

echo "bench/gpu: $CARD; rnencode $(printf '%s' "$RNENC"); results in $RES"
torch_peer() { # DEADLINE_S [torch_peer.py options]: PyTorch on the same card, same checkpoints and crops
	local left=$1
	shift
	timeout $((left + 60)) $PY "$ROOT/bench/gpu/torch_peer.py" --rn50 "${W[resnet50]}" --clip "${W[clip-rn50]}" \
		--out "$RES" --deadline-s "$left" "$@" || echo "bench/gpu: torch_peer.py failed or timed out"
}
# One phase: rnencode for every model and precision at the given batch sizes,
# then PyTorch eager for the same configurations, so the figures that come
# first (batch 256) have their ratios even when the deadline cuts the rest.
phase() { # SHARE BATCH...: the PyTorch part may use SHARE percent of the time left
	local share=$1 cfgs=()
	shift
	for b in "$@"; do
		for p in fp16 bf16 fp32; do
			for m in resnet50 clip-rn50; do
				if [ "$(elapsed)" -gt "$DEADLINE" ]; then
					echo "bench/gpu: deadline reached, skipping rnencode $m $p batch $b"
					continue
				fi
				cfgs+=("$m:$p:$b")
				trace=()
				# no bf16 timelines: the device call brings back only so many files
				if [ $b = 256 ] && [ $p != bf16 ] && [ -n "${BENCH_TRACE_DIR:-}" ] && "$RNENC" --help | grep -q -- --mem-trace; then
					trace=(--mem-trace "$BENCH_TRACE_DIR/memtrace-$m-$p.tsv")
				fi
				if timeout 240 "$RNENC" --device cuda --model $m --weights "${W[$m]}" --precision $p --batch $b "${trace[@]}" \
					<"$WORK/${PRESET[$m]}-$b.mp" >"$WORK/out.mp" 2>"$WORK/err"; then
					$PY "$ROOT/bench/gpu/report.py" stats "$WORK/out.mp" --model $m --precision $p --batch $b \
						>>"$RES" && tail -n 1 "$RES"
				else
					echo "bench/gpu: rnencode $m $p batch $b failed (exit $?): $(tail -n 3 "$WORK/err")"
				fi
			done
		done
	done
	local left=$(((DEADLINE - $(elapsed)) * share / 100))
	if [ ${#cfgs[@]} -gt 0 ] && [ $left -gt 20 ]; then
		torch_peer $left --configs "$(IFS=,; echo "${cfgs[*]}")"
	else
		echo "bench/gpu: no time left for the PyTorch peer of batch $*"
	fi
}
phase 50 256
phase 100 1 32
left=$((DEADLINE - $(elapsed)))
if [ "${BENCH_COMPILE:-0}" = 1 ] && [ $left -gt 100 ]; then
	torch_peer $left --compile-only --configs resnet50:fp16:256,clip-rn50:fp16:256
elif [ "${BENCH_COMPILE:-0}" = 1 ]; then
	echo "bench/gpu: no time left for torch.compile"
fi
echo
$PY "$ROOT/bench/gpu/report.py" table "$RES" --card "$CARD"
