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
# (|out-ref| / (|ref| + rms(row))). Prints one line per check with its
# error and a table of times at the end. Exit 1 if any check fails.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-/usr/bin/python3}
BIN=${BIN:-$ROOT/bin}
NETREF=$ROOT/build/tests/netref
D=$ROOT/build/parity
# the reference forward is single-threaded textbook loops: these two would take
# many minutes each (REF_SKIP= runs it on every model)
REF_SKIP=${REF_SKIP-clip-rn50x16 clip-rn50x64}
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
echo "| model | checkpoint s | PyTorch (float64) s | rnencode s | reference forward s |"
echo "|---|---|---|---|---|"
printf '%s\n' "${times[@]}"
exit $failed
