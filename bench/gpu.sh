#!/usr/bin/env bash
# bench/gpu.sh - `make bench`'s GPU part, each against PyTorch on the same GPU in
# the same run: rnencode --device cuda (bench/gpu/bench.sh, about 3 minutes on
# an H100), then txtencode --device cuda building the 1000 x 80 zero-shot
# classifier (bench/gpu/txtencode.sh). Each says "skipped" and why on a
# machine without a GPU.
rc=0
bash "$(dirname "$0")/gpu/bench.sh" "$@" || rc=1
echo
bash "$(dirname "$0")/gpu/txtencode.sh" || rc=1
exit $rc
