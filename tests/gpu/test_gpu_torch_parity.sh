#!/usr/bin/env bash
# test_gpu_torch_parity.sh - rnencode --device cuda against PyTorch's own CUDA
# results on the same card, checkpoints and uint8 crops: FP32 (TF32 off on
# both sides) within 1e-4; FP16 (PyTorch's: resnet50 model.half(), CLIP's
# convert_weights mix) within 5e-2 and the same top-1; BF16 (PyTorch's:
# resnet50 model.to(bfloat16), CLIP's mix in bfloat16) within 3e-1 and the
# same top-1. Skipped (77) without a GPU or without a CUDA-enabled torch for $PY.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
gpu_weights
need_gpu
$PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
	skip "torch for $PY has no CUDA device"

for m in resnet50 clip-rn50; do
	case $m in
	resnet50) preset=imagenet w=$RN50_W dim=1000 ;;
	*) preset=clip w=$CLIP_W dim=1024 ;;
	esac
	$PY "$GPU_PY" images --preset $preset --n 8 --u8 $m.u8 --records $m.mp || fail "gpu_ref.py images"
	for p in fp32 fp16 bf16; do
		rtol=$GPU_RTOL_FP32
		[ $p = fp16 ] && rtol=$GPU_RTOL_FP16
		[ $p = bf16 ] && rtol=$GPU_RTOL_BF16
		$PY "$GPU_PY" reference --model $m --weights "$w" --u8 $m.u8 --n 8 --device cuda --precision $p \
			--out torch.$m.$p.f32 || fail "PyTorch CUDA reference $m $p"
		rnencode --device cuda --model $m --weights "$w" --precision $p --batch 4 <$m.mp >gpu.$m.$p.mp 2>gpu.err ||
			{ cat gpu.err; fail "rnencode --device cuda $m $p"; }
		gpu_compare "cuda vs torch cuda: $m $p" torch.$m.$p.f32 gpu.$m.$p.mp $dim $rtol --top1
	done
done
exit 0
