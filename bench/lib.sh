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
