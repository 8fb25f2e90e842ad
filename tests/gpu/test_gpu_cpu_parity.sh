#!/usr/bin/env bash
# test_gpu_cpu_parity.sh - rnencode --device cuda against --device cpu on the same
# random-weight checkpoints and images: FP32 within 1e-4, FP16 within 5e-2 and
# the same top-1 (tests/gpu/gpulib.sh). 10 images in batches of 3 run every
# path of the backend: a warm-up batch op by op, the batch that captures the
# CUDA graph, a batch from the graph, and a partial last batch with its own
# algorithms. Also float32/float16 CHW input
# records, --features, and the stats record. Skipped (77) without a GPU.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
gpu_weights
need_gpu

for m in resnet50 clip-rn50; do
	case $m in
	resnet50) preset=imagenet w=$RN50_W dim=1000 ;;
	*) preset=clip w=$CLIP_W dim=1024 ;;
	esac
	$PY "$GPU_PY" images --preset $preset --n 10 --records $m.mp || fail "gpu_ref.py images"
	for p in fp32 fp16; do
		flag= rtol=$GPU_RTOL_FP32
		[ $p = fp16 ] && flag=--fp16 rtol=$GPU_RTOL_FP16
		rnencode --device cpu --model $m --weights "$w" $flag <$m.mp >cpu.$m.$p.mp 2>cpu.err ||
			{ cat cpu.err; fail "rnencode --device cpu $m $p"; }
		rnencode --device cuda --model $m --weights "$w" $flag --batch 3 <$m.mp >gpu.$m.$p.mp 2>gpu.err ||
			{ cat gpu.err; fail "rnencode --device cuda $m $p"; }
		gpu_compare "cuda vs cpu: $m $p" cpu.$m.$p.mp gpu.$m.$p.mp $dim $rtol --top1
	done
done

# the stats record: 4 batches, one timed (the warm-up and the partial batch
# run op by op, the second batch captures the graph: none of them is timed),
# device memory counted, the GPU named
$PY - gpu.clip-rn50.fp16.mp <<'EOF' || fail "stats record of the CUDA backend"
import sys, msgpack
st = [r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r.get("type") == "stats"]
assert len(st) == 1, "one stats record"
s = st[0]
print({k: s[k] for k in ("device", "batches", "timed_batches", "batch_mean_s", "peak_memory_bytes")})
assert s["device"].startswith("cuda:"), s["device"]
assert s["batches"] == 4 and s["timed_batches"] == 1, (s["batches"], s["timed_batches"])
assert s["batch_mean_s"] > 0 and s["image_mean_s"] > 0
assert s["peak_memory_bytes"] >= s["weight_bytes"] > 0
EOF

# already-normalized planar input: the other conversion kernel, same numbers
for d in float32 float16; do
	flag= rtol=$GPU_RTOL_FP32
	[ $d = float16 ] && flag=--fp16 rtol=$GPU_RTOL_FP16
	$PY "$GPU_PY" images --preset imagenet --n 3 --dtype $d --records $d.mp || fail "gpu_ref.py images $d"
	rnencode --device cpu --model resnet50 --weights "$RN50_W" $flag <$d.mp >cpu.$d.mp 2>cpu.err ||
		{ cat cpu.err; fail "cpu $d input"; }
	rnencode --device cuda --model resnet50 --weights "$RN50_W" $flag <$d.mp >gpu.$d.mp 2>gpu.err ||
		{ cat gpu.err; fail "cuda $d input"; }
	gpu_compare "cuda vs cpu: $d CHW input" cpu.$d.mp gpu.$d.mp 1000 $rtol --top1
done

# --features: the pooled vector written by the pooling kernel
rnencode --device cpu --model resnet50 --weights "$RN50_W" --features <resnet50.mp >cpu.feat.mp 2>cpu.err ||
	{ cat cpu.err; fail "cpu --features"; }
rnencode --device cuda --model resnet50 --weights "$RN50_W" --features --batch 4 <resnet50.mp >gpu.feat.mp 2>gpu.err ||
	{ cat gpu.err; fail "cuda --features"; }
gpu_compare "cuda vs cpu: resnet50 --features" cpu.feat.mp gpu.feat.mp 2048 $GPU_RTOL_FP32
exit 0
