#!/usr/bin/env bash
# test_gpu_text_sim.sh - txtencode's CUDA backend, run on the CPU, against the CPU backend.
#
# tests/gpu/text_sim.cc executes gpu/gpu_text_ops.h's text_forward() (the op
# sequence gpu/gpu_text.cu runs: every GEMM's transposes, sizes and leading
# dimensions as given to cuBLAS, the bias placement, the FP16 rounding
# points) with the same element functions (embedding, LayerNorm, attention
# over each row's root path, QuickGELU), a GEMM that follows cuBLAS's
# column-major definition, and buffers that start as NaN; text_encode()
# feeds it the same prefix-tree batches as the CPU backend. So without a GPU
# this checks everything of the text backend except the library calls and
# the kernels' thread mapping (test_gpu_kernels.sh runs the kernels). 6 classes x 8 templates of the fixture, one
# batch and batches of 77 rows; then RN50x64's width with GELU; FP32 within
# 1e-4, FP16 emulation within TEXT_RTOL_FP16, BF16 emulation within
# TEXT_RTOL_BF16 of FP32 (tests/gpu/gpulib.sh says why).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
command -v g++ >/dev/null || skip "g++ not found"
need_py numpy
lib=$ROOT/build/libcommon.a
obj=$ROOT/build/model/text_encoder.o obj2=$ROOT/build/model/onednn.o
[ -s "$lib" ] && [ -s "$obj" ] && [ -s "$obj2" ] ||
	skip "build/libcommon.a or build/model/text_encoder.o or onednn.o missing: run make first"
gpu_weights

g++ -std=c++17 -O3 -march=native -fopenmp -Wall -Wextra -Wshadow -Werror -I"$ROOT" -I"$ROOT/common" -I"$ROOT/gpu" \
	-o text_sim "$ROOT/tests/gpu/text_sim.cc" "$obj" "$obj2" "$lib" -ldnnl -l:libmsgpackc.a -lm -lpthread -ldl ||
	fail "text_sim does not build"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

{ head -n 4 "$ROOT/data/names-clip.txt"; grep "'" "$ROOT/data/names-clip.txt" | head -n 2; } >names.txt
head -n 8 "$ROOT/data/templates-clip.txt" >templates.txt
txtencode --tokenize -n names.txt --templates templates.txt >ids.txt || fail "tokenize"
[ "$(wc -l <ids.txt)" = 48 ] || fail "expected 48 prompts"

for rows in 4096 77; do
	./text_sim "$CLIP_W" ids.txt fp32 $rows ref32.$rows.f32 sim32.$rows.f32 >log 2>&1 || { cat log; fail "text_sim fp32 $rows"; }
	cat log
	[ $rows = 77 ] && { grep -Eq '^sim: 48 prompts, [0-9]+ rows in ([2-9]|[1-9][0-9]+) batches' log || fail "77-row batches: expected several"; }
	gpu_compare "text sim fp32, batches of $rows rows" ref32.$rows.f32 sim32.$rows.f32 1024 $GPU_RTOL_FP32
	./text_sim "$CLIP_W" ids.txt fp16 $rows ref16.$rows.f32 sim16.$rows.f32 >log 2>&1 || { cat log; fail "text_sim fp16 $rows"; }
	gpu_compare "text sim fp16 emulation, batches of $rows rows" ref16.$rows.f32 sim16.$rows.f32 1024 $TEXT_RTOL_FP16
done
# FP16 must round something: identical outputs would mean the emulation is off
cmp -s sim16.4096.f32 ref16.4096.f32 && fail "fp16 emulation gave the FP32 numbers bit for bit"
# BF16 (against the CPU backend's FP32), one batch
./text_sim "$CLIP_W" ids.txt bf16 4096 refbf.f32 simbf.f32 >log 2>&1 || { cat log; fail "text_sim bf16"; }
gpu_compare "text sim bf16 emulation vs fp32" refbf.f32 simbf.f32 1024 $TEXT_RTOL_BF16
cmp -s refbf.f32 ref32.4096.f32 || fail "text_sim bf16: the reference is not the CPU backend's FP32"
$PY "$GPU_PY" compare --dim 1024 --rtol 1e-3 refbf.f32 simbf.f32 >/dev/null &&
	fail "bf16 emulation within 1e-3 of FP32: no bfloat16 rounding"

# the widest tower (RN50x64's: 1024 wide, 16 heads; tests/py/clip_text_fixtures.py)
# with GELU, 8 prompts, FP32 and FP16
need_text_checkpoints
head -n 8 ids.txt >ids8.txt
for p in fp32 fp16; do
	./text_sim "$TEXT_CKPT_DIR/openai-rn50x64.pt" ids8.txt $p 4096 refw.$p.f32 simw.$p.f32 gelu >log 2>&1 ||
		{ cat log; fail "text_sim 1024 wide, GELU, $p"; }
	tol=$GPU_RTOL_FP32
	[ $p = fp16 ] && tol=$TEXT_RTOL_FP16
	gpu_compare "text sim $p, 1024 wide, GELU" refw.$p.f32 simw.$p.f32 1024 $tol
done
exit 0
