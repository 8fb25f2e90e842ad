# bench/gpu/lib.sh - what the GPU benchmarks share (source it; needs ROOT and PY).
#
#   gpu_bench_ready PROGRAM SYMBOL [PEER_DEVICE]
#                                    exits 0 with "skipped: <why>" unless PROGRAM
#                                    is built with its CUDA backend (SYMBOL, a
#                                    library call only that backend makes, is in
#                                    it), a GPU is visible and $PY has a CUDA
#                                    torch for the peer (not asked for when
#                                    PEER_DEVICE is cpu: the CPU stand-in of
#                                    tests/gpu/mock-device-check.sh); then sets CARD
#   gpu_bench_checkpoints            sets GPU_CKPT_DIR (made with
#                                    tests/py/gpu_ckpt.py into build/gpu-ckpt when
#                                    unset), exits 1 if they cannot be made
gpu_bench_ready() {
	local prog=$1 symbol=$2 peer=${3:-cuda}
	[ -x "$prog" ] || { echo "skipped: $prog is not built"; exit 0; }
	grep -q -a "$symbol" "$prog" || { echo "skipped: $(basename "$prog") built without CUDA"; exit 0; }
	nvidia-smi -L >/dev/null 2>&1 || { echo "skipped: no GPU here (nvidia-smi -L fails)"; exit 0; }
	[ "$peer" = cpu ] || $PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
		{ echo "skipped: $PY has no CUDA torch for the PyTorch peer"; exit 0; }
	CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
}

gpu_bench_checkpoints() {
	if [ -z "${GPU_CKPT_DIR:-}" ]; then
		GPU_CKPT_DIR=$ROOT/build/gpu-ckpt
		[ -s "$GPU_CKPT_DIR/clip-rn50.pth" ] || $PY "$ROOT/tests/py/gpu_ckpt.py" "$GPU_CKPT_DIR" ||
			{ echo "bench/gpu: cannot make the checkpoints"; exit 1; }
	fi
}
