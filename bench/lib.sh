# shellcheck shell=bash
# bench/lib.sh - shared by the benchmarks (source it from the checkout's root;
# bench/run does not run it).
#
# Defaults, each settable in the environment: BIN (the programs), PY (Debian's
# python3 with torch and PIL), SHARED (../shared), IMAGES (the 1000 sample JPEGs).
#
#   bench_best CMD    the best-of-$REPS wall seconds of the shell command CMD
#                     (its output discarded): the least disturbed run on a
#                     machine other jobs share
bench_best() {
	local b='' s e
	for _ in $(seq "${REPS:-3}"); do
		s=$(date +%s.%N)
		bash -c "$1" >/dev/null 2>&1
		e=$(date +%s.%N)
		b=$(echo "$e - $s" | bc | awk -v b="$b" '{ if (b == "" || $1 < b) print $1; else print b }')
	done
	echo "$b"
}

BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
SHARED=${SHARED:-$(cd ../shared 2>/dev/null && pwd)}
IMAGES=${IMAGES:-$SHARED/data/imagenet-sample/images}

#   peers_ready       for the benchmarks against ONNX Runtime and OpenVINO: sets
#                     VPY (build/bench-venv's python, made by bench/peers/setup)
#                     and ONNX (build/bench-peers, the fixtures exported there by
#                     bench/peers/export.py, remade when older than the
#                     checkpoints or the scripts). Prints the reason and returns
#                     77 when the venv or the fixtures cannot be had (a skip), 1
#                     on a failure.
peers_ready() {
	local out
	out=$(bench/peers/setup) || { local rc=$?; echo "$out" | tail -n 1; return $rc; }
	VPY=$(echo "$out" | tail -n 1)
	if ! (ROOT=$PWD; source tests/lib.sh; source tests/fixtures.sh; need_checkpoints) >/dev/null 2>&1; then
		echo "checkpoint fixtures need torch and torchvision for $PY"
		return 77
	fi
	ONNX=$PWD/build/bench-peers
	local f s stale=0
	for f in resnet50 clip-rn50 clip-text; do
		for s in build/fixtures/checksums.json bench/peers/export.py tests/py/clip_model.py tests/py/txtencode_ref.py tests/py/rnencode_ref.py; do
			[ -s "$ONNX/$f.onnx" ] && [ ! "$s" -nt "$ONNX/$f.onnx" ] || stale=1
		done
	done
	if [ $stale = 1 ]; then
		mkdir -p "$ONNX" || return 1
		"$VPY" bench/peers/export.py --resnet50 build/fixtures/resnet50.pth \
			--clip build/fixtures/clip-rn50.pt "$ONNX" >"$ONNX/export.out" 2>"$ONNX/export.log"
		local rc=$?
		sed 's/^/  /' "$ONNX/export.out"
		[ $rc = 0 ] || { echo "ONNX export failed (log: $ONNX/export.log)"; return 1; }
	fi
	export VPY ONNX
}
