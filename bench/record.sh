#!/usr/bin/env bash
# bench/record.sh - record stream I/O against cat, same bytes, same pipe, same run.
# Prints records/s and GB/s for:
#   cat FILE | cat > /dev/null        the peer: bytes through a pipe, no parsing
#   cat FILE | recio read             our reader, validating every tensor
#   recio write N | recio read        our writer and reader end to end
# and the ratios of ours to cat. Goal: >= 0.8 of cat.
set -eu
cd "$(dirname "$0")/.."
RECIO=${BUILD:-build}/bench/recio
N=${N:-20000}
REPS=${REPS:-3}
dir=$(mktemp -d /tmp/bench-record.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$RECIO" write "$N" > "$dir/s.mp"
bytes=$(stat -c %s "$dir/s.mp")
cat "$dir/s.mp" > /dev/null # page cache

source "$(dirname "$0")/lib.sh"
t_cat=$(bench_best "cat '$dir/s.mp' | cat > /dev/null")
t_read=$(bench_best "cat '$dir/s.mp' | '$RECIO' read 2>/dev/null")
t_both=$(bench_best "'$RECIO' write $N | '$RECIO' read 2>/dev/null")
echo "record I/O: $N uint8 [224,224,3] image records, $bytes bytes, best of $REPS, $(nproc) cores"
awk -v n="$N" -v b="$bytes" -v c="$t_cat" -v r="$t_read" -v w="$t_both" 'BEGIN {
	printf "  %-34s %9.0f rec/s %6.2f GB/s\n", "cat | cat (peer)", n / c, b / c / 1e9
	printf "  %-34s %9.0f rec/s %6.2f GB/s  %.2fx cat\n", "cat | recio read", n / r, b / r / 1e9, c / r
	printf "  %-34s %9.0f rec/s %6.2f GB/s  %.2fx cat\n", "recio write | recio read", n / w, b / w / 1e9, c / w
}'
