#!/usr/bin/env bash
# test_gpu_plan.sh - the CUDA backend's execution plan, run on the CPU, against PyTorch.
#
# tests/gpu/plan_sim.cc executes gpu/gpu_plan.cc's plan (op order, packed
# weights, padded input, folded downsample bias, arena placement) with
# gpu/gpu_elem.h's element arithmetic in one arena laid out as on the device;
# unwritten arena memory is NaN. So without a GPU this checks everything of
# the backend except the library calls and the attention kernel's own code
# (test_gpu_kernels.sh runs the kernels themselves on the host).
# FP32: within 1e-4 of PyTorch (CPU, float32). FP16 (half storage, float
# arithmetic): within 5e-2 and the same top-1; BF16 (bfloat16 storage) within
# 3e-1 and the same top-1 (tests/gpu/gpulib.sh says why).
# Also the per-op dump (RNENC_GPU_DUMP) against PyTorch's activations, op by op,
# and the reduced variants of the other ResNets (FP32).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
command -v g++ >/dev/null || skip "g++ not found"
need_py torch
lib=$ROOT/build/libcommon.a
[ -s "$lib" ] || skip "build/libcommon.a missing: run make first"
gpu_weights

cc -std=c11 -O2 -I"$ROOT/common" -I"$ROOT" -c -o net.o "$ROOT/model/net.c" && cc -std=c11 -O2 -I"$ROOT/common" -I"$ROOT" -c -o models.o "$ROOT/model/models.c" || fail "model/net.c does not compile"
g++ -std=c++17 -O3 -march=native -fopenmp -Wall -Wextra -Wshadow -Werror -I"$ROOT" -I"$ROOT/common" -I"$ROOT/gpu" \
	-o plan_sim "$ROOT/tests/gpu/plan_sim.cc" "$ROOT/gpu/gpu_plan.cc" net.o models.o "$lib" -l:libmsgpackc.a -lm -lpthread ||
	fail "plan_sim does not build"

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for m in resnet50 clip-rn50; do
	case $m in
	resnet50) preset=imagenet w=$RN50_W dim=1000 ;;
	*) preset=clip w=$CLIP_W dim=1024 ;;
	esac
	# two different images: batch placement (image 1 at offset * batch) is checked too
	feat=()
	[ $m = resnet50 ] && feat=(--features-out feat.ref.f32)
	$PY "$GPU_PY" reference --model $m --weights "$w" --make-u8 --u8 $m.u8 --n 2 --out $m.ref.f32 "${feat[@]}" ||
		fail "PyTorch reference for $m"
	for p in fp32 fp16; do
		RNENC_GPU_DUMP=dump.$m.$p ./plan_sim $m "$w" $m.u8 2 $p $m.$p.f32 || fail "plan_sim $m $p"
	done
	./plan_sim $m "$w" $m.u8 2 bf16 $m.bf16.f32 || fail "plan_sim $m bf16"
	gpu_compare "plan $m fp32" $m.ref.f32 $m.fp32.f32 $dim $GPU_RTOL_FP32 --top1
	gpu_compare "plan $m fp16" $m.ref.f32 $m.fp16.f32 $dim $GPU_RTOL_FP16 --top1
	gpu_compare "plan $m bf16" $m.ref.f32 $m.bf16.f32 $dim $GPU_RTOL_BF16 --top1
	# bfloat16 must round coarser than half: the same numbers would mean no bf16 rounding
	$PY - $m.ref.f32 $m.fp16.f32 $m.bf16.f32 <<'PYEOF' || fail "plan $m bf16 is no coarser than fp16"
import sys, numpy as np
ref, h, b = (np.fromfile(p, np.float32).astype(np.float64) for p in sys.argv[1:])
eh, eb = np.linalg.norm(h - ref), np.linalg.norm(b - ref)
print(f"relative L2 error: fp16 {eh / np.linalg.norm(ref):.3g}, bf16 {eb / np.linalg.norm(ref):.3g}")
sys.exit(0 if eb > 3 * eh else 1)
PYEOF
	# the per-op dump (gpu/gpu_dump.h, what RNENC_GPU_DUMP gives on a GPU) against
	# PyTorch's activations at the same points: the op names, layouts and folded
	# biases the device check's layer table relies on
	$PY "$GPU_PY" layers --model $m --weights "$w" --u8 $m.u8 --dump dump.$m.fp32 --rtol $GPU_RTOL_FP32 >layers.txt ||
		{ cat layers.txt; fail "per-op dump of $m fp32 vs PyTorch"; }
	head -n 1 layers.txt
	[ "$(grep -c '^| ' layers.txt)" -ge 55 ] || fail "per-op dump of $m: $(grep -c '^| ' layers.txt) table lines"
	$PY "$GPU_PY" layers --model $m --weights "$w" --u8 $m.u8 --dump dump.$m.fp16 --rtol $GPU_RTOL_FP16 >layers.txt ||
		{ cat layers.txt; fail "per-op dump of $m fp16 vs PyTorch"; }
	head -n 1 layers.txt
done
# a dump that leaves PyTorch is named at its first op
f=$(awk -F'\t' '$2 == "layer3.1.conv2" { print $1 }' dump.resnet50.fp32/index.tsv)
$PY -c "import numpy as np; a = np.fromfile('dump.resnet50.fp32/$f.f32', np.float32); a[5] += 0.01; a.tofile('dump.resnet50.fp32/$f.f32')"
expect_exit 1 $PY "$GPU_PY" layers --model resnet50 --weights "$RN50_W" --u8 resnet50.u8 --dump dump.resnet50.fp32 --rtol $GPU_RTOL_FP32
grep -q '^resnet50: first op beyond rtol 0.0001 of PyTorch FP32: layer3.1.conv2$' out || { cat out; fail "layers: the bad op is not named"; }

# resnet50 --features: the pooled [2048] straight from the pooling op
./plan_sim resnet50 "$RN50_W" resnet50.u8 2 fp32 feat.f32 features || fail "plan_sim features"
gpu_compare "plan resnet50 features fp32" feat.ref.f32 feat.f32 2048 $GPU_RTOL_FP32

# the other code paths of the family (tests/rnencode/test_parity_family.sh's
# variants): basic blocks, grouped convolutions, a 288 px CLIP tower (82 tokens)
source "$ROOT/tests/fixtures.sh"
need_family_fixtures
for s in $FAMILY_SPECS; do
	w=$FAM_DIR/$s.pth
	[ -e "$w" ] || w=$FAM_DIR/$s.pt
	./plan_sim auto "$w" "$FAM_DIR/$s.u8" 2 fp32 $s.f32 || fail "plan_sim $s"
	$PY "$ROOT/tests/py/resnets.py" compare --name "plan $s fp32" --rtol $GPU_RTOL_FP32 "$FAM_DIR/$s.npy" $s.f32 ||
		fail "plan $s fp32 beyond $GPU_RTOL_FP32 of PyTorch"
done

# a plan the GPU cannot run is refused with one line, not run
expect_exit 2 ./plan_sim clip-rn50 "$CLIP_W" clip-rn50.u8 1 fp32 x.f32 features
expect_stderr 'features is for torchvision ResNets'
exit 0
