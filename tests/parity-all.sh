#!/usr/bin/env bash
# parity-all.sh - every listed model at full size against PyTorch (make parity-all;
# not part of make test: minutes of CPU and gigabytes of checkpoints).
#
#   tests/parity-all.sh [MODEL...]     (default: all 15; MODELS="..." works too)
#
# Per model: a random-weight checkpoint in its published format (tests/py/resnets.py:
# torch.save .pth for torchvision, a TorchScript archive with fp16 weights for
# CLIP; BatchNorm statistics from 2 images), kept in build/parity/ for later runs;
# one testdata image at the model's input size; PyTorch's output in float64 (the
# exact answer: at clip-rn50x64's depth and width PyTorch's own FP32 is 8.3e-5 from
# it, and two FP32 results were measured 1.1e-4 apart); rnencode --model auto FP32
# and the reference forward (model/ref.c; not on REF_SKIP) within 1e-4 of it
# (|out-ref| / (|ref| + rms(row))); rnencode --fp16 within FP16_RTOL of it and with its
# top-1 class (resnets.py compare --top1). FP16_RTOL: FP16 storage's error grows with
# depth on these random-weight networks, the same in PyTorch: an FP16-storage, FP32-
# arithmetic evaluation in PyTorch (rnencode_ref.py's fp16_forward) is 1.2e-2 from the
# float64 answer on resnet50 and 9.3e-2 on resnet152, rnencode --fp16 1.3e-2 and
# 6.9e-2 (resnet18: 7.8e-3); 0.15 leaves 1.6x over the deepest measured. Prints one line
# per check with its error and a table of times at the end. Exit 1 if any check fails.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BIN=${BIN:-$ROOT/bin}
NETREF=$ROOT/build/tests/netref
D=$ROOT/build/parity
# the reference forward is single-threaded textbook loops: these two would take
# many minutes each (REF_SKIP= runs it on every model)
REF_SKIP=${REF_SKIP-clip-rn50x16 clip-rn50x64}
FP16_RTOL=0.15
ALL="resnet18 resnet34 resnet50 resnet101 resnet152 wide_resnet50_2 wide_resnet101_2 resnext50_32x4d
resnext101_32x8d resnext101_64x4d clip-rn50 clip-rn101 clip-rn50x4 clip-rn50x16 clip-rn50x64"
models=${*:-${MODELS:-$ALL}}
mkdir -p "$D" || exit 2
[ -x "$BIN/rnencode" ] && [ -x "$NETREF" ] || { echo "parity-all: run make first" >&2; exit 2; }
failed=0
times=()
now() { date +%s.%N; }
for m in $models; do
	case $m in clip-*) ext=pt ;; *) ext=pth ;; esac
	w=$D/$m.$ext
	t0=$(now)
	if [ ! -s "$w" ]; then
		$PY "$ROOT/tests/py/resnets.py" make --calib 2 "$m" "$w.part" && mv "$w.part" "$w" ||
			{ echo "FAIL $m: making the checkpoint"; failed=1; continue; }
	fi
	t1=$(now)
	$PY "$ROOT/tests/py/resnets.py" images "$m" 1 "$D/$m.mp" &&
		$PY "$ROOT/tests/py/resnets.py" reference --double "$w" "$D/$m.mp" "$D/$m.npy" ||
		{ echo "FAIL $m: PyTorch reference"; failed=1; continue; }
	t2=$(now)
	"$BIN/rnencode" --weights "$w" --batch 1 <"$D/$m.mp" >"$D/$m.out" 2>"$D/$m.err" ||
		{ echo "FAIL $m: rnencode: $(tail -n 1 "$D/$m.err")"; failed=1; continue; }
	$PY "$ROOT/tests/py/resnets.py" compare --name "$m rnencode fp32" --rtol 1e-4 "$D/$m.npy" "$D/$m.out" || failed=1
	if "$BIN/rnencode" --weights "$w" --batch 1 --fp16 <"$D/$m.mp" >"$D/$m.f16" 2>"$D/$m.err"; then
		$PY "$ROOT/tests/py/resnets.py" compare --name "$m rnencode fp16" --rtol "$FP16_RTOL" --top1 \
			"$D/$m.npy" "$D/$m.f16" || failed=1
	else
		echo "FAIL $m: rnencode --fp16: $(tail -n 1 "$D/$m.err")"
		failed=1
	fi
	t3=$(now)
	ref="-"
	if [[ " $REF_SKIP " != *" $m "* ]]; then
		"$NETREF" "$w" "$D/$m.mp" "$D/$m.f32" || { echo "FAIL $m: netref"; failed=1; continue; }
		$PY "$ROOT/tests/py/resnets.py" compare --name "$m reference forward" --rtol 1e-4 "$D/$m.npy" "$D/$m.f32" ||
			failed=1
		ref=$(awk -v a="$t3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	fi
	times+=("$(awk -v m="$m" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v r="$ref" \
		'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %s |", m, b - a, c - b, d - c, r }')")
done
echo
echo "| model | checkpoint s | PyTorch (float64) s | rnencode FP32 + FP16 s | reference forward s |"
echo "|---|---|---|---|---|"
printf '%s\n' "${times[@]}"
exit $failed
