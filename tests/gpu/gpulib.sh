# tests/gpu/gpulib.sh - helpers for the CUDA backend's tests (source after tests/lib.sh).
#
#   gpu_weights    sets RN50_W, CLIP_W and WIDE_W (the widest CLIP text tower):
#                  $GPU_CKPT_DIR/{resnet50.pth,clip-rn50.pth,clip-rn50x64-text.pth}
#                  when set (tests/gpu/device-check.sh makes them with the GPU
#                  machine's torch), else the suite's fixtures (tests/fixtures.sh)
#   need_gpu       skips (77) with the reason unless `rnencode --device cuda` runs
#                  here; call after gpu_weights
#   gpu_compare    NAME REF CAND DIM RTOL [--top1]: tests/py/gpu_ref.py compare,
#                  failing the test when out of tolerance
#   need_emu       the host emulation of gpu/ (tests/gpu/cuda_emu.h): sets
#                  CUDA_INC and EMU_FLAGS (g++ flags that compile gpu/ code
#                  with it); skips (77) without g++ or the CUDA headers
#   emu_source     NAME OUT [SED-EXPR]: gpu/NAME.cu into OUT, its launches
#                  rewritten for the emulator (tests/gpu/emu_launch.sed), lines kept
#
# Tolerances:
#   FP32: 1e-4 relative, per element |a - b| <= 1e-4 * (|b| + rms(b's row)).
#   FP16: 5e-2 in the same form, and the same top-1 class. FP16's unit roundoff
#   is 2^-11 = 4.9e-4 and each of the ~55 layers rounds its output once;
#   tests/gpu/test_gpu_plan.sh's FP16 emulation of our GPU numerics measured,
#   over 12 images per model against exact FP32 PyTorch, a relative L2 error
#   of at most 6.5e-3 and a worst element of 1.8e-2 (resnet50; clip-rn50
#   4.6e-3 and 1.6e-2). Comparing two FP16 pipelines (GPU vs CPU, ours vs
#   PyTorch's half model, whose roundings fall elsewhere) can add both
#   errors: 2 x 1.8e-2 = 3.6e-2, so 5e-2.
#   BF16: 3e-1 in the same form, and the same top-1 class. bfloat16 keeps 8
#   significant bits (unit roundoff 2^-8 = 3.9e-3, 8 x FP16's); the same
#   emulation (plan_sim bf16) measured over 12 images per model against exact
#   FP32 PyTorch a worst element of 1.31e-1 (resnet50; clip-rn50 1.2e-1) and a
#   relative L2 of at most 4.8e-2, 7.4 x FP16's. Two BF16 pipelines (ours
#   and PyTorch's bf16 model) can add both: 2 x 1.31e-1 = 2.6e-1, so 3e-1
#   (PyTorch's own bf16 models, gpu_ref.py build_model, run on the CPU: 1.1e-1
#   from FP32, 1.5e-1 from our emulation, over 2 images of resnet50); against
#   FP32 (the CPU backend, PyTorch FP32) only ours counts.
GPU_PY=$ROOT/tests/py/gpu_ref.py
GPU_RTOL_FP32=1e-4
GPU_RTOL_FP16=5e-2
GPU_RTOL_BF16=3e-1
# BF16 per-op dumps (gpu_ref.py layers) against PyTorch's FP32 activations:
# inside the network, where ReLU leaves few large values, the fake GPU's
# resnet50 measured up to 1.17 x GPU_RTOL_BF16 (layer4's 3x3 convolutions),
# so 1: a dump read in the wrong format or an op gone astray is off by far more.
GPU_RTOL_BF16_LAYERS=1

gpu_weights() {
	if [ -n "${GPU_CKPT_DIR:-}" ]; then
		RN50_W=$GPU_CKPT_DIR/resnet50.pth
		CLIP_W=$GPU_CKPT_DIR/clip-rn50.pth
		WIDE_W=$GPU_CKPT_DIR/clip-rn50x64-text.pth
		[ -s "$RN50_W" ] && [ -s "$CLIP_W" ] && [ -s "$WIDE_W" ] ||
			fail "GPU_CKPT_DIR=$GPU_CKPT_DIR lacks resnet50.pth/clip-rn50.pth/clip-rn50x64-text.pth"
	else
		source "$ROOT/tests/fixtures.sh"
		need_checkpoints
		RN50_W=$CKPT_DIR/resnet50.pth
		CLIP_W=$CKPT_DIR/clip-rn50.pt
		WIDE_W= # need_wide_weights makes it
	fi
}

# The CUDA backend is in rnencode when cuDNN's symbols are (dynamic symbol
# names survive stripping).
rnencode_has_cuda() {
	grep -q -a cudnnConvolutionBiasActivationForward "$(command -v rnencode)"
}
# txtencode's: cuBLAS's GEMM is what only its CUDA backend calls
txtencode_has_cuda() {
	grep -q -a cublasGemmEx "$(command -v txtencode)"
}

need_gpu() {
	command -v rnencode >/dev/null || fail "rnencode not built"
	rnencode_has_cuda || skip "rnencode was built without the CUDA backend (no nvcc at build time)"
	command -v nvidia-smi >/dev/null || skip "no GPU here (no nvidia-smi)"
	nvidia-smi -L >gpu.list 2>&1 || skip "no GPU here: $(head -n 1 gpu.list)"
	$PY "$GPU_PY" images --preset imagenet --n 1 --records probe.mp || fail "gpu_ref.py images failed"
	rnencode --device cuda --model resnet50 --weights "$RN50_W" --batch 1 <probe.mp >probe.out 2>probe.err
	local rc=$?
	if [ $rc = 2 ] && grep -q -- '--device cuda:' probe.err; then
		skip "no usable GPU here: $(head -n 1 probe.err)"
	fi
	[ $rc = 0 ] || { cat probe.err; fail "rnencode --device cuda failed on one image (exit $rc)"; }
}

need_emu() {
	command -v g++ >/dev/null || skip "g++ not found"
	local nvcc
	nvcc=$(command -v nvcc || true)
	CUDA_INC=${nvcc:+$(dirname "$(dirname "$nvcc")")/include}
	[ -n "$CUDA_INC" ] && [ -e "$CUDA_INC/cuda_fp16.h" ] || skip "the CUDA headers (nvcc's include/) are not here"
	EMU_FLAGS=(-std=c++17 -O2 -Wall -Wextra -Wshadow -Werror -Wno-unknown-pragmas -include "$ROOT/tests/gpu/cuda_emu.h"
		-I"$CUDA_INC" -I"$ROOT" -I"$ROOT/gpu" -I"$ROOT/common")
}

emu_source() {
	{ echo "#line 1 \"gpu/$1.cu\""; sed -f "$ROOT/tests/gpu/emu_launch.sed" "$ROOT/gpu/$1.cu" | sed "${3:-}"; } >"$2"
}

gpu_compare() {
	local name=$1 ref=$2 cand=$3 dim=$4 rtol=$5
	shift 5
	$PY "$GPU_PY" compare --name "$name" --dim "$dim" --rtol "$rtol" ${GPU_RESULTS:+--json "$GPU_RESULTS"} "$@" \
		"$ref" "$cand" || fail "$name: out of tolerance"
}

# txtencode's CUDA backend (gpu/gpu_text.cu). FP32: GPU_RTOL_FP32. FP16 (GEMM
# weights and inputs in half, FP32 accumulation, residual stream, LayerNorm
# and softmax in FP32) against the CPU backend with the same fp16-rounded
# weights and FP32 math: tests/gpu/test_gpu_text_sim.sh's emulation of those
# numerics measured a worst element of 1.9e-3 in this form (relative L2
# 5.8e-4) over 48 prompts of the fixture; the GPU differs from the emulation
# only in FP32 summation order (the FP32 comparison: under 1e-5). 1e-2 leaves
# five times that for other weights and prompts.
TEXT_RTOL_FP16=1e-2
# BF16 (GEMM weights and inputs in bfloat16, the rest as FP16's) against the
# CPU backend's FP32: test_gpu_text_sim.sh's emulation measured a worst element
# of 2.6e-2 (relative L2 7.8e-3) over the 48 prompts, 1.7e-2 on the 1024-wide
# tower's 8; the GPU's FP32 summation order moves some roundings to bfloat16
# across a boundary. 1e-1 leaves four times the worst.
TEXT_RTOL_BF16=1e-1

# skips (77) with the reason unless `txtencode --device cuda` runs here
# need_wide_weights: WIDE_W set, from the text fixtures when gpu_weights left it empty
need_wide_weights() {
	if [ -z "${WIDE_W:-}" ]; then
		need_text_checkpoints
		WIDE_W=$TEXT_CKPT_DIR/openai-rn50x64.pt
	fi
}

need_text_gpu() {
	command -v txtencode >/dev/null || fail "txtencode not built"
	txtencode_has_cuda || skip "txtencode was built without the CUDA backend (no nvcc at build time)"
	command -v nvidia-smi >/dev/null || skip "no GPU here (no nvidia-smi)"
	nvidia-smi -L >gpu.list 2>&1 || skip "no GPU here: $(head -n 1 gpu.list)"
	printf 'cat\n' >probe-names.txt
	printf 'a photo of a {}.\n' >probe-templates.txt
	txtencode --device cuda -w "$CLIP_W" -n probe-names.txt --templates probe-templates.txt >probe.out 2>probe.err
	local rc=$?
	if [ $rc = 2 ] && grep -q -- '--device cuda:' probe.err; then
		skip "no usable GPU here: $(head -n 1 probe.err)"
	fi
	[ $rc = 0 ] || { cat probe.err; fail "txtencode --device cuda failed on one prompt (exit $rc)"; }
}
