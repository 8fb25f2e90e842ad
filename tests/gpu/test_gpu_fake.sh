#!/usr/bin/env bash
# test_gpu_fake.sh - rnencode and txtencode --device cuda, whole, on a fake GPU.
#
# gpu/'s host code (gpu_encoder.cu, gpu_conv.cu, gpu_text.cu, gpu_check.cu,
# gpu_plan.cc) compiled by g++ as it is, our kernels through the host
# emulator (tests/gpu/cuda_emu.h), and the CUDA runtime, cuDNN and cuBLAS
# calls answered by tests/gpu/fake_cuda.cc: host implementations written
# from their documentation that check pointers against device allocations,
# descriptors, workspaces and what a stream capture allows. Then the GPU
# machine's own tests, test_gpu_cpu_parity.sh (both models, FP32/FP16,
# warm-up, capture, graph and partial batches, CHW input, --features, the
# stats record) and test_gpu_txtencode.sh (per-prompt and table, FP32/FP16/BF16,
# 77-row batches, PyTorch), run unchanged against these binaries and a fake
# nvidia-smi. Beyond them: the fallbacks (graphs off by RNENC_NO_GRAPH, a
# failing capture, cuDNN refusing the fused call), BF16 (both models against
# the CPU's FP32, fused and not, its per-op dump), a NaN image and one that
# overflows float16 (error records, checked on the host), RNENC_GPU_DUMP op by
# op against PyTorch, and the --mem-trace timeline. Under make asan (ASAN=1) the
# host code is built with ASan + UBSan.
# What only a GPU can check stays unchecked: NVIDIA's libraries themselves,
# real concurrency between streams, speed.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
need_emu
[ -e "$CUDA_INC/cudnn.h" ] && [ -e "$CUDA_INC/cublas_v2.h" ] ||
	skip "the cuDNN and cuBLAS headers are not in nvcc's include/ ($CUDA_INC)"
# under make asan, the host code too: ASan + UBSan over gpu/'s orchestration
B=$ROOT/build SAN=()
if [ "${ASAN:-0}" = 1 ]; then
	B=$ROOT/build-asan
	SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
fi
lib=$B/libcommon.a
[ -s "$lib" ] && ls "$B"/model/*.o >/dev/null 2>&1 || skip "$B has no libcommon.a or model objects: run make first"
need_py torch
need_py msgpack

# ---- the fake-GPU builds of rnencode and txtencode ----
F=("${EMU_FLAGS[@]}" "${SAN[@]}")
CF=(-std=c11 -O2 -I"$ROOT/common" -I"$ROOT" -D_FILE_OFFSET_BITS=64 -DHAVE_CUDA=1 "${SAN[@]}")
mkdir -p obj fakebin
pids=()
for k in gpu_kernels gpu_text_kernels; do
	emu_source $k obj/$k.cc
	g++ "${F[@]}" -c -o obj/$k.o obj/$k.cc &
	pids+=($!)
done
for h in gpu_encoder gpu_conv gpu_check gpu_text; do
	g++ "${F[@]}" -x c++ -c -o obj/$h.o "$ROOT/gpu/$h.cu" &
	pids+=($!)
done
g++ "${F[@]}" -c -o obj/gpu_plan.o "$ROOT/gpu/gpu_plan.cc" &
pids+=($!)
g++ "${F[@]}" -O3 -march=native -fopenmp -c -o obj/fake_cuda.o "$ROOT/tests/gpu/fake_cuda.cc" &
pids+=($!)
cc "${CF[@]}" -c -o obj/rnencode.o "$ROOT/cmd/rnencode.c" &
pids+=($!)
cc "${CF[@]}" -c -o obj/txtencode.o "$ROOT/cmd/txtencode.c" &
pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a fake-GPU object does not compile"; done
L=("$lib" -ldnnl -l:libmsgpackc.a -ldl -lm -lpthread)
g++ "${SAN[@]}" -fopenmp -o fakebin/rnencode obj/rnencode.o "$B"/model/*.o obj/gpu_encoder.o obj/gpu_conv.o obj/gpu_check.o \
	obj/gpu_plan.o obj/gpu_kernels.o obj/fake_cuda.o "${L[@]}" || fail "rnencode does not link against the fake GPU"
g++ "${SAN[@]}" -fopenmp -o fakebin/txtencode obj/txtencode.o "$B"/model/*.o obj/gpu_text.o obj/gpu_text_kernels.o \
	obj/gpu_check.o obj/fake_cuda.o "${L[@]}" -l:libz.a ||
	fail "txtencode does not link against the fake GPU"
cat >fakebin/nvidia-smi <<'EOF'
#!/bin/sh
echo "GPU 0: fake GPU (tests/gpu/fake_cuda.cc)"
EOF
chmod +x fakebin/nvidia-smi
FAKE=$PWD/fakebin
echo "[$SECONDS s] fake-GPU rnencode and txtencode built"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} RNENC_DATA=$ROOT/data

# ---- the GPU machine's tests, unchanged, against the fake ----
for t in test_gpu_cpu_parity test_gpu_txtencode; do
	mkdir -p run.$t
	(cd run.$t && PATH=$FAKE:$PATH T=$PWD bash "$ROOT/tests/gpu/$t.sh") >$t.log 2>&1
	rc=$?
	sed "s/^/  $t: /" $t.log
	[ $rc = 0 ] || fail "$t on the fake GPU: exit $rc"
	echo "[$SECONDS s] $t passed on the fake GPU"
done

# ---- what those tests do not reach ----
export PATH=$FAKE:$PATH
gpu_weights
# five images in batches of 2: warm-up, graph capture, partial batch
$PY "$GPU_PY" images --preset imagenet --n 5 --u8 five.u8 --records five.mp || fail "gpu_ref.py images"
rn() { # OUT [flags]: resnet50 over the five images in batches of 2, on the fake GPU
	local out=$1
	shift
	rnencode --device cuda --model resnet50 --weights "$RN50_W" --batch 2 "$@" <five.mp >"$out" 2>"$out.err" ||
		{ cat "$out.err"; fail "rnencode --device cuda $* failed"; }
}
rnencode --device cpu --model resnet50 --weights "$RN50_W" <five.mp >cpu.mp 2>/dev/null || fail "rnencode --device cpu"
# with the per-op dump and the memory trace (both from the warm-up batch)
RNENC_GPU_DUMP=dump rn graphs.mp --mem-trace trace.tsv
grep -q 'running without CUDA graphs' graphs.mp.err && fail "the graphs were not captured: $(cat graphs.mp.err)"
RNENC_NO_GRAPH=1 rn nograph.mp
FAKE_CUDA_NO_CAPTURE=1 rn nocapture.mp
grep -q '^rnencode: cuda: running without CUDA graphs (capture failed: cudaStreamEndCapture: cudaErrorStreamCaptureInvalidated' \
	nocapture.mp.err || fail "a failed capture was not noted: $(cat nocapture.mp.err)"
FAKE_CUDNN_NO_FUSED=1 rn unfused.mp
FAKE_CUDNN_NO_FUSED=1 rn unfused16.mp --fp16
rnencode --device cpu --model resnet50 --weights "$RN50_W" --fp16 <five.mp >cpu16.mp 2>/dev/null || fail "cpu --fp16"
for f in graphs nograph nocapture unfused; do
	gpu_compare "fake GPU, $f, vs cpu" cpu.mp $f.mp 1000 $GPU_RTOL_FP32 --top1
done
gpu_compare "fake GPU, unfused fp16, vs cpu" cpu16.mp unfused16.mp 1000 $GPU_RTOL_FP16 --top1
# the same host arithmetic op by op or from a graph: the same bits
gpu_compare "graphs vs op by op" graphs.mp nograph.mp 1000 1e-9

echo "[$SECONDS s] fallbacks checked"
# BF16: cuDNN's bfloat16 convolutions, cuBLAS's 16BF GEMMs and our bf16 kernels
# (input conversion, pooling, attention pool, epilogue), against the CPU's FP32:
# resnet50 fused, with graphs and the per-op dump; clip-rn50 unfused (the
# epilogue kernel in bf16, as where a cuDNN refuses the fused bf16 call)
RNENC_GPU_DUMP=dumpbf rn bf16.mp --precision bf16
gpu_compare "fake GPU, bf16, vs cpu fp32" cpu.mp bf16.mp 1000 $GPU_RTOL_BF16 --top1
$PY "$GPU_PY" layers --model resnet50 --weights "$RN50_W" --u8 five.u8 --dump dumpbf --rtol $GPU_RTOL_BF16_LAYERS --device cpu \
	>layersbf.out || { cat layersbf.out; fail "the fake GPU's bf16 per-op dump differs from PyTorch FP32"; }
head -n 1 layersbf.out
$PY "$GPU_PY" images --preset clip --n 3 --records clip3.mp || fail "gpu_ref.py images clip"
rnencode --device cpu --model clip-rn50 --weights "$CLIP_W" <clip3.mp >clip3.cpu.mp 2>/dev/null || fail "cpu clip-rn50"
FAKE_CUDNN_NO_FUSED=1 rnencode --device cuda --model clip-rn50 --weights "$CLIP_W" --precision bf16 --batch 2 \
	<clip3.mp >clip3.bf16.mp 2>clip3.err || { cat clip3.err; fail "rnencode --device cuda clip-rn50 bf16 unfused"; }
gpu_compare "fake GPU, clip-rn50 unfused bf16, vs cpu fp32" clip3.cpu.mp clip3.bf16.mp 1024 $GPU_RTOL_BF16 --top1
$PY - bf16.mp <<'PYEOF' || fail "the bf16 run's records"
import sys, msgpack
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
h, out = recs[0], [r for r in recs if r.get("type") == "logits"]
assert h["precision"] == "bf16" and "bf16 tensor cores" in h["device"], h
assert len(out) == 5 and all(r["tensor"]["dtype"] == "float32" for r in out), [r["tensor"]["dtype"] for r in out]
PYEOF
# refused in one line, nothing on stdout: bf16 on a card before sm_80, int8 anywhere
FAKE_CUDA_SM=75 expect_exit 2 rnencode --device cuda --model resnet50 --weights "$RN50_W" --precision bf16 <five.mp
expect_empty_stdout
expect_stderr '^rnencode: cuda backend: precision bf16: fake GPU .* is sm_75; bf16 needs compute capability 8.0 or later$'
[ "$(grep -c . err)" = 1 ] || fail "bf16 on sm_75: $(cat err)"
printf 'cat\n' >one-name.txt
FAKE_CUDA_SM=75 expect_exit 2 txtencode -d cuda -w "$CLIP_W" -n one-name.txt --precision bf16
expect_empty_stdout
expect_stderr 'precision bf16: fake GPU .* is sm_75; bf16 needs compute capability 8.0 or later'
expect_exit 2 rnencode --device cuda --model resnet50 --weights "$RN50_W" --precision int8 <five.mp
expect_stderr '^rnencode: cuda backend: precision int8: the cuda backend computes fp32, tf32, bf16 or fp16$'
# make study's check before any stage (pipelines/precision-check) gives int8 a one-image
# calibration (--calibrate) and still ends in the backend's line, which study.mk stops with
mkdir -p pcbin && ln -s "$BIN/imgdecode" pcbin/imgdecode && ln -s "$FAKE/rnencode" pcbin/rnencode
expect_exit 2 "$ROOT/pipelines/precision-check" --bin pcbin --device cuda --stamp pc.stamp resnet50 imagenet "$RN50_W" int8
[ "$(cat out)" = "resnet50 int8 on cuda: rnencode: cuda backend: precision int8: the cuda backend computes fp32, tf32, bf16 or fp16" ] &&
	[ ! -e pc.stamp ] || fail "precision-check int8 on cuda: $(cat out err)"
echo "[$SECONDS s] bf16 checked"
# the other ResNets' code paths (tests/py/resnets.py's reduced variants) against
# PyTorch: basic blocks, grouped convolutions (cuDNN's group count), a 288 px CLIP
# tower (82 attention tokens), the architecture read from each file
source "$ROOT/tests/fixtures.sh"
need_family_fixtures
for s in $FAMILY_SPECS; do
	w=$FAM_DIR/$s.pth
	[ -e "$w" ] || w=$FAM_DIR/$s.pt
	rnencode --device cuda --weights "$w" --batch 2 <"$FAM_DIR/$s.mp" >fam.$s.mp 2>fam.$s.err ||
		{ cat fam.$s.err; fail "rnencode --device cuda on $s failed"; }
	$PY "$ROOT/tests/py/resnets.py" compare --name "fake GPU $s fp32" --rtol $GPU_RTOL_FP32 "$FAM_DIR/$s.npy" fam.$s.mp ||
		fail "fake GPU $s beyond $GPU_RTOL_FP32 of PyTorch"
done
echo "[$SECONDS s] the other ResNets checked"
# garbage in, an error record out, on the GPU path too: a NaN pixel is refused on the
# host before the upload; all 60000 is finite but overflows float16 inside, and the
# logits that come back non-finite are refused on the host after the download
$PY - <<'PYEOF' >bad.mp || fail "making the float images"
import sys, msgpack, numpy as np
ok = np.random.default_rng(0).standard_normal((3, 224, 224)).astype(np.float32)
nan = ok.copy(); nan[1, 5, 7] = np.nan
for i, x in (("ok", ok), ("nan", nan), ("60000", np.full_like(ok, 60000))):
    sys.stdout.buffer.write(msgpack.packb({"type": "image", "id": i, "preset": "imagenet",
        "tensor": {"dtype": "float32", "shape": [3, 224, 224], "data": x.tobytes()}}))
PYEOF
rnencode --device cuda --model resnet50 --weights "$RN50_W" --fp16 <bad.mp >bad.out 2>bad.err
[ $? = 1 ] || fail "NaN and overflowing images on the fake GPU: not exit 1: $(cat bad.err)"
[ "$(recview -t logits bad.out | grep -c '"id":"ok"')" = 1 ] || fail "the good image was not encoded: $(cat bad.err)"
grep -q "^rnencode: stdin: record 1 (id 'nan'): image tensor has 1 non-finite value (the first, NaN, at \[1,5,7\])" bad.err &&
	grep -q "^rnencode: stdin: record 2 (id '60000'): logits has 1000 non-finite values of 1000" bad.err ||
	fail "NaN / overflow on the fake GPU: $(cat bad.err)"
[ "$(recview -t error bad.out | grep -c '"stage":"rnencode"')" = 2 ] || fail "no two error records: $(recview bad.out)"
# a weight beyond float16's range is an Inf there, whose 0 * Inf the fused ReLU hides:
# refused before any image (gpu_encoder.cu, upload_weights), as on the CPU
$PY -c '
import sys, torch
d = torch.load(sys.argv[1])
d["layer3.0.conv1.weight"] *= 1e20
torch.save(d, "over16.pth")' "$FAM_DIR/tv-basic.pth" || fail "making over16.pth"
rnencode --device cuda --weights over16.pth --fp16 <"$FAM_DIR/tv-basic.mp" >over16.out 2>over16.err
[ $? = 2 ] && [ ! -s over16.out ] && grep -q "^rnencode: .*a weight or bias beyond float16's range after BatchNorm folding" over16.err ||
	fail "fp16 weights beyond float16's range on the fake GPU: $(cat over16.err)"
# RNENC_GPU_DUMP: every op of the first image, against PyTorch's activations
[ -s dump/index.tsv ] || fail "RNENC_GPU_DUMP wrote no dump/index.tsv"
$PY "$GPU_PY" layers --model resnet50 --weights "$RN50_W" --u8 five.u8 --dump dump --rtol $GPU_RTOL_FP32 --device cpu \
	--md layers.md | tee layers.out || fail "the fake GPU's per-op dump differs from PyTorch: $(tail -n 5 layers.md)"

# --mem-trace: allocations, frees and the warm-up batch's ops
$PY - trace.tsv "$ROOT" <<'PYEOF' || fail "--mem-trace timeline"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert rows[0] == ["time_s", "bytes_in_use", "tag"], rows[0]
tags = [r[2] for r in rows[1:]]
ops = [t for t in tags if t.startswith("op ")]
assert any(t.startswith("alloc weights") for t in tags) and any(t.startswith("free ") for t in tags), tags[:5]
assert len(ops) >= 50 and ops[0] == "op input", ops[:3]
assert all(int(r[1]) >= 0 for r in rows[1:])
print(f"mem-trace: {len(rows) - 1} lines, {len(ops)} op lines, peak {max(int(r[1]) for r in rows[1:]) >> 20} MiB")
PYEOF
exit 0
