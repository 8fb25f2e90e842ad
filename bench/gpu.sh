#!/usr/bin/env bash
# bench/gpu.sh - `make bench`'s GPU part: rnencode --device cuda against PyTorch
# eager on the same GPU in the same run (bench/gpu/bench.sh does the work; it
# says "skipped" and why on a machine without a GPU). About 3 minutes on an H100.
exec bash "$(dirname "$0")/gpu/bench.sh" "$@"
