#!/usr/bin/env bash
# test_gpu_txtencode.sh - txtencode --device cuda against --device cpu and PyTorch.
#
# 6 classes x 8 templates of the GPU checkpoint (tests/gpu/gpulib.sh's
# gpu_weights): every prompt's normalized embedding (--per-template) and the
# zero-shot table, FP32 within 1e-4 of the CPU backend and of PyTorch's eager
# text tower (tests/py/txtencode_ref.py compare), in one batch and in batches
# of 77 rows; FP16 (tensor cores) within TEXT_RTOL_FP16 of the CPU backend
# with the same fp16 weights; BF16 (tensor cores) within TEXT_RTOL_BF16 of the
# CPU backend's FP32. The records say where and in what they were computed.
# Then the widest tower (RN50x64's, 1024 wide, 16 heads), 3 x 2 prompts, FP32
# against the CPU backend and PyTorch.
# Without a GPU (or a CUDA build) it skips (77) with the reason.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
need_py numpy
need_py msgpack
gpu_weights
need_text_gpu

{ head -n 4 "$ROOT/data/names-clip.txt"; grep "'" "$ROOT/data/names-clip.txt" | head -n 2; } >names.txt
head -n 8 "$ROOT/data/templates-clip.txt" >templates.txt
txtencode --tokenize -n names.txt --templates templates.txt >ids.txt || fail "tokenize"
tx() { # OUT DEVICE [flags]: one run, failing the test on an error
	local out=$1 dev=$2
	shift 2
	txtencode -d "$dev" -w "$CLIP_W" -n names.txt --templates templates.txt "$@" >"$out" 2>err ||
		{ cat err; fail "txtencode -d $dev $* failed"; }
}
for dev in cpu cuda; do
	tx $dev.per.mp $dev --per-template
	tx $dev.table.mp $dev
	tx $dev.per16.mp $dev --per-template --fp16
done
tx cuda.per77.mp cuda --per-template --batch-rows 77

gpu_compare "txtencode fp32 per-prompt, cuda vs cpu" cpu.per.mp cuda.per.mp 1024 $GPU_RTOL_FP32
gpu_compare "txtencode fp32 table, cuda vs cpu" cpu.table.mp cuda.table.mp 1024 $GPU_RTOL_FP32
gpu_compare "txtencode fp32 per-prompt, cuda 77-row batches vs cpu" cpu.per.mp cuda.per77.mp 1024 $GPU_RTOL_FP32
gpu_compare "txtencode fp16 per-prompt, cuda vs cpu" cpu.per16.mp cuda.per16.mp 1024 $TEXT_RTOL_FP16
$PY "$ROOT/tests/py/txtencode_ref.py" compare "$CLIP_W" ids.txt:cuda.per.mp:per-template ids.txt:cuda.table.mp ||
	fail "txtencode --device cuda differs from PyTorch"

$PY - cuda.per16.mp cuda.table.mp <<'PYEOF' || fail "records of the CUDA runs"
import sys, msgpack
def recs(p):
    return list(msgpack.Unpacker(open(p, "rb"), raw=False))
h16, h32 = recs(sys.argv[1])[0], recs(sys.argv[2])[0]
assert h16["device"].startswith("cuda: ") and h16["precision"] == "fp16", h16
assert h32["device"].startswith("cuda: ") and h32["precision"] == "fp32", h32
st = recs(sys.argv[2])[-1]
assert st["type"] == "stats" and st["device"].startswith("cuda: "), st
assert st["backend_peak_bytes"] > 0 and 0 < st["compute_seconds"] <= st["encode_seconds"], st
print("device:", st["device"], "| peak", st["backend_peak_bytes"] >> 20, "MiB")
PYEOF

# batches of 4096 rows (200 MiB at this width): the fake GPU of test_gpu_fake.sh has little memory
need_wide_weights
head -n 3 names.txt >names3.txt
head -n 2 templates.txt >templates2.txt
txtencode --tokenize -n names3.txt -t templates2.txt >ids6.txt || fail "tokenize"
for dev in cpu cuda; do
	txtencode -d $dev -w "$WIDE_W" -n names3.txt -t templates2.txt --per-template --batch-rows 4096 >wide.$dev.mp 2>err ||
		{ cat err; fail "txtencode -d $dev on the 1024-wide tower"; }
done
gpu_compare "txtencode fp32 per-prompt, 1024 wide, cuda vs cpu" wide.cpu.mp wide.cuda.mp 1024 $GPU_RTOL_FP32
$PY "$ROOT/tests/py/txtencode_ref.py" compare "$WIDE_W" ids6.txt:wide.cuda.mp:per-template ||
	fail "txtencode --device cuda differs from PyTorch on the 1024-wide tower"

# BF16 (tensor cores) against the CPU backend's FP32
tx cuda.perbf.mp cuda --per-template --precision bf16
gpu_compare "txtencode bf16 per-prompt, cuda vs cpu fp32" cpu.per.mp cuda.perbf.mp 1024 $TEXT_RTOL_BF16
$PY - cuda.perbf.mp <<'PYEOF' || fail "records of the CUDA bf16 run"
import sys, msgpack
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
assert "bf16 tensor cores" in h["device"] and h["precision"] == "bf16", h
PYEOF
exit 0
