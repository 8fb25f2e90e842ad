#!/usr/bin/env bash
# bench/gpu/family.sh - rnencode's CUDA backend against PyTorch on every other ResNet
# it reads (bench/gpu/bench.sh covers resnet50 and clip-rn50), same card, same run.
#
#   bench/gpu/family.sh [RESULTS.jsonl]
#   bench/gpu/family.sh --list       the models, in the order run, with their input size
#
# Per model, in order of interest (resnet101, resnet152, resnext50_32x4d,
# wide_resnet50_2, clip-rn101, clip-rn50x4, resnet18, resnet34, resnext101_32x8d,
# wide_resnet101_2, resnext101_64x4d, clip-rn50x16, clip-rn50x64: the widest last),
# FP16 and FP32 (TF32 off on both sides, as rnencode's default), batch 32 for every
# model: even the widest fits (clip-rn50x64's largest activation, 128 x 224 x 224
# values an image at 448 px, is 0.8 GB at batch 32 in FP32), so all rows compare
# at one batch size:
#   rnencode --device cuda --model auto over 10 batches of the model's crops (16
#     testdata images at its input size and preset, repeated): its stats record's
#     per-batch GPU time (warm-up and graph-capturing batches excluded) and peak
#     device memory (bench/gpu/report.py stats);
#   bench/gpu/torch_peer.py --weights: PyTorch eager on the same card, built from
#     the same file (tests/py/resnets.py build_from_state), channels_last,
#     cudnn.benchmark, fp16 as PyTorch users run it (torchvision model.half(), CLIP's
#     convert_weights mix), on the same crops: 3 warm-up and 8 timed batches.
# Checkpoints: random weights in the published formats (torchvision .pth, CLIP's
# TorchScript archive), made by tests/py/resnets.py make --calib 2 (as make
# parity-all and bench/rnencode.sh make them) into FAMILY_CKPT_DIR (default
# build/parity, kept for later runs). Missing ones are made in the background,
# FAMILY_MAKERS at a time (default: (cores - 4) / 2, each torch process using 2
# threads, at nice 19, so that 4 cores stay free for the timed processes), while
# the models already made run; each rnencode line records how many of these jobs
# were running ("makers"), and the table says so.
# Results: one JSON line per measurement (report.py stats for rnencode, with
# "input" and "makers"; torch_peer.py's for PyTorch), and a line with "error" for
# what failed or did not run; at the end the table (report.py family).
# Environment: BIN (rnencode's folder, default bin), PY (python with a CUDA torch,
# default python3), FAMILY_DEADLINE_S (start no model, rnencode run or checkpoint
# after this many seconds; a process already started is cut at 60 s past it,
# PyTorch's for a model whose rnencode ran at 90 s at most; default 600),
# FAMILY_MODELS (a subset, in the order given), FAMILY_PRECISIONS
# (default "fp16 fp32"), FAMILY_BATCH (32), FAMILY_QUICK=1 (a smoke run:
# resnet18 and clip-rn101, batch 2, 3 batches, 1 timed on the PyTorch side),
# FAMILY_PEER_DEVICE=cpu (PyTorch on the CPU: only for the CPU stand-in of
# tests/gpu/mock-device-check.sh, which has no CUDA torch).
# Without a GPU, a CUDA rnencode or a CUDA torch it says so and exits 0; exit 1
# when a model failed or was not run before the deadline.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-python3}
RNENC=$BIN/rnencode
T0=$(date +%s)
DEADLINE=${FAMILY_DEADLINE_S:-600}
ALL="resnet101 resnet152 resnext50_32x4d wide_resnet50_2 clip-rn101 clip-rn50x4 resnet18 resnet34
resnext101_32x8d wide_resnet101_2 resnext101_64x4d clip-rn50x16 clip-rn50x64"
QUICK=${FAMILY_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	MODELS=${FAMILY_MODELS:-resnet18 clip-rn101} BATCH=${FAMILY_BATCH:-2} NB=3 WARM=1
else
	MODELS=${FAMILY_MODELS:-$ALL} BATCH=${FAMILY_BATCH:-32} NB=10 WARM=3
fi
TIMED=$((NB - 2)) # rnencode leaves out its warm-up and graph-capturing batches
PRECISIONS=${FAMILY_PRECISIONS:-fp16 fp32}
PEER_DEVICE=${FAMILY_PEER_DEVICE:-cuda}
CK=${FAMILY_CKPT_DIR:-$ROOT/build/parity}
cores=$(nproc)
MAKERS=${FAMILY_MAKERS:-$(((cores - 4) / 2))}
[ "$MAKERS" -ge 1 ] 2>/dev/null || MAKERS=1

# the input sizes from tests/py/resnets.py, which also says whether a name is a model it makes
declare -A SIZE
sizes=$($PY - "$ROOT/tests/py" $MODELS <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import resnets
for m in sys.argv[2:]:
    if m not in resnets.TV_NAMES and m not in resnets.CLIP_SPECS:
        sys.exit(f"bench/gpu/family.sh: {m} is not a model tests/py/resnets.py makes")
    print(m, resnets.input_size(m))
EOF
) || exit 2
while read -r m s; do SIZE[$m]=$s; done <<<"$sizes"
if [ "${1:-}" = --list ]; then
	echo "$sizes"
	exit 0
fi

source "$ROOT/bench/gpu/lib.sh"
gpu_bench_ready "$RNENC" cudnnConvolutionBiasActivationForward "$PEER_DEVICE"
TOTAL=$((BATCH * NB))
BASE=16 # distinct crops, repeated to TOTAL images
[ $((TOTAL % 16)) = 0 ] || BASE=$BATCH
[ "$BASE" -le 40 ] ||
	{ echo "bench/gpu/family.sh: FAMILY_BATCH $BATCH: more crops than the 40 testdata images (take a multiple of 16)"; exit 2; }
WORK=$(mktemp -d /tmp/gpufamily.XXXXXX)
mkdir -p "$WORK/st" "$CK" || exit 2
RES=${1:-$WORK/results.jsonl}
elapsed() { echo $(($(date +%s) - T0)); }
# a process's time limit: SECONDS, but not much past the deadline
tlimit() {
	local l=$((DEADLINE - $(elapsed) + 60))
	[ $l -lt 30 ] && l=30
	echo $(($1 < l ? $1 : l))
}
ckpt() { case $1 in clip-*) echo "$CK/$1.pt" ;; *) echo "$CK/$1.pth" ;; esac; }
error_line() { # IMPL MODEL PRECISION ERROR: a JSON line saying what failed or did not run
	$PY -c 'import json, sys
print(json.dumps({"impl": sys.argv[1], "model": sys.argv[2], "precision": sys.argv[3], "batch": int(sys.argv[4]),
                  "error": sys.argv[5]}))' "$1" "$2" "$3" "$BATCH" "$4" >>"$RES"
	echo "bench/gpu/family.sh: $1 $2 $3: $4"
}

# Background jobs, FAMILY_MAKERS at a time (top_up starts them, in the order run):
# each model's crops (BASE at its input size, repeated to TOTAL) and, when missing,
# its checkpoint; $WORK/st/MODEL then says "ok" or why not, MODEL.run while it runs.
make_one() {
	local m=$1 w st=$WORK/st/$1 rc=0
	w=$(ckpt "$m")
	: >"$st.run"
	if ! $PY "$ROOT/tests/py/resnets.py" images "$m" "$BASE" "$WORK/$m.base.mp" >"$st.log" 2>&1; then
		echo "making the crops failed: $(tail -n 1 "$st.log")" >"$st.tmp"
	else
		for _ in $(seq $((TOTAL / BASE))); do cat "$WORK/$m.base.mp"; done >"$WORK/$m.mp"
		if [ ! -s "$w" ] && [ ! -e "$WORK/stop" ]; then
			nice -n 19 timeout "$(tlimit 900)" $PY "$ROOT/tests/py/resnets.py" make --calib 2 "$m" "$w.part" \
				>"$st.log" 2>&1 &
			echo $! >"$st.pid"
			wait $! || rc=$?
			rm -f "$st.pid" # ended: its pid may be another process's soon
			[ $rc = 0 ] && mv "$w.part" "$w" || rc=1
		fi
		if [ $rc = 0 ] && [ -s "$w" ]; then
			echo ok >"$st.tmp"
		else
			rm -f "$w.part"
			echo "making the checkpoint failed: $(tail -n 1 "$st.log")" >"$st.tmp"
		fi
	fi
	mv "$st.tmp" "$st"
	rm -f "$st.run"
}
QUEUE=($MODELS)
started=0
top_up() {
	while [ $started -lt ${#QUEUE[@]} ] && [ "$(jobs -rp | wc -l)" -lt "$MAKERS" ] && [ "$(elapsed)" -le "$DEADLINE" ]; do
		make_one "${QUEUE[$started]}" &
		started=$((started + 1))
	done
}
# at the end (or a kill): no job outlives the script (they hold its stdout, a pipe
# that device-check.sh's tee reads to its end)
cleanup() {
	touch "$WORK/stop"
	for f in "$WORK"/st/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	wait
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
busy() { ls "$WORK/st" | grep -c '\.run$'; }
top_up

echo "bench/gpu/family.sh: $CARD; rnencode $RNENC; models: $(echo $MODELS); batch $BATCH; results in $RES"
STATUS=0
for m in $MODELS; do
	w=$(ckpt "$m")
	while [ ! -e "$WORK/st/$m" ] && [ "$(elapsed)" -le "$DEADLINE" ]; do
		sleep 1
		top_up
	done
	if [ ! -e "$WORK/st/$m" ]; then
		for p in $PRECISIONS; do error_line family "$m" "$p" "not run: deadline (its checkpoint was not ready)"; done
		STATUS=1
		continue
	fi
	if [ "$(cat "$WORK/st/$m")" != ok ]; then
		for p in $PRECISIONS; do error_line family "$m" "$p" "$(cat "$WORK/st/$m")"; done
		STATUS=1
		continue
	fi
	cfgs=()
	for p in $PRECISIONS; do
		if [ "$(elapsed)" -gt "$DEADLINE" ]; then
			error_line rnencode "$m" "$p" "not run: deadline"
			STATUS=1
			continue
		fi
		cfgs+=("$m:$p:$BATCH")
		top_up
		makers=$(busy)
		if timeout "$(tlimit 300)" "$RNENC" --device cuda --model auto --weights "$w" --precision "$p" \
			--batch "$BATCH" <"$WORK/$m.mp" >"$WORK/out.mp" 2>"$WORK/err"; then
			$PY "$ROOT/bench/gpu/report.py" stats "$WORK/out.mp" --model "$m" --precision "$p" --batch "$BATCH" \
				--extra "{\"input\": ${SIZE[$m]}, \"makers\": $makers}" >>"$RES" && tail -n 1 "$RES" || {
				error_line rnencode "$m" "$p" "report.py stats could not read its stats record"
				STATUS=1
			}
		else
			error_line rnencode "$m" "$p" "exit $?: $(tail -n 1 "$WORK/err")"
			STATUS=1
		fi
	done
	[ ${#cfgs[@]} -gt 0 ] || continue
	# PyTorch for what rnencode ran, even a little past the deadline (a figure
	# without its peer has no ratio); a line with "error" for what failed
	timeout "$(tlimit 300)" $PY "$ROOT/bench/gpu/torch_peer.py" --weights "$w" --model "$m" --images "$WORK/$m.base.mp" \
		--configs "$(IFS=,; echo "${cfgs[*]}")" --iters "$TIMED" --warm "$WARM" --device "$PEER_DEVICE" \
		--deadline-s $((DEADLINE + 30 - $(elapsed))) --out "$RES" || {
		error_line torch-eager "$m" - "torch_peer.py failed or timed out (exit $?)"
		STATUS=1
	}
	grep -q "\"model\": \"$m\".*\"error\"" "$RES" && STATUS=1
	rm -f "$WORK/$m.mp" "$WORK/$m.base.mp"
done
echo
$PY "$ROOT/bench/gpu/report.py" family "$RES"
[ $STATUS = 0 ] || echo "bench/gpu/family.sh: not every model ran on both sides (the notes above say why)"
exit $STATUS
