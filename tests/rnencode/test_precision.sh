#!/usr/bin/env bash
# --precision on the CPU backend: the names it takes, what it refuses, and
# what the records say (doc/cli.md: --fp16 is --precision fp16; --tf32 an
# old spelling of --precision tf32).
#   - --precision fp16 and --fp16 give the same tensors, records saying fp16
#   - tf32 on the CPU: one note, FP32 numbers (the same tensors as fp32), the
#     header's precision and math both fp32
#   - bf16 with oneDNN held below avx512_core_bf16 (ONEDNN_MAX_CPU_ISA, as a CPU
#     without bf16 instructions): one note naming the ISA, records saying bf16
#     (float32 tensors), numbers not FP32's; without the cap where the CPU has
#     bf16 (native kernels) the same scheme within rounding, and no note
#   - int8 without its activation scales (neither --calibrate nor --calibration):
#     a usage error, exit 2, empty stdout, the line naming the two options (INT8
#     itself: test_int8.sh)
#   - two that disagree (--fp16 --precision fp32): usage error, exit 2
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_checkpoints
W=$CKPT_DIR/resnet50.safetensors
imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >img.mp 2>/dev/null || fail "imgdecode"
enc() { rnencode --device cpu --model resnet50 --weights "$W" --threads 1 "$@" <img.mp; }
tensors() { recview --full -t logits "$1" | sed 's/.*"precision"//'; }

expect_exit 0 enc; mv out fp32.mp
expect_exit 0 enc --fp16; mv out fp16a.mp
expect_exit 0 enc --precision fp16; mv out fp16b.mp
[ "$(tensors fp16a.mp)" = "$(tensors fp16b.mp)" ] || fail "--fp16 and --precision fp16 differ"
tensors fp16b.mp | grep -q '^:"fp16","tensor":{"dtype":"float16"' || fail "fp16 record: $(tensors fp16b.mp)"
[ "$(tensors fp16b.mp)" != "$(tensors fp32.mp)" ] || fail "fp16 gave the fp32 numbers"

expect_exit 0 enc --precision tf32
expect_stderr '^rnencode: --precision tf32: no TF32 on the CPU: computing in FP32$'
[ "$(grep -c . err)" = 1 ] || fail "expected one line on stderr: $(cat err)"
[ "$(tensors out)" = "$(tensors fp32.mp)" ] || fail "tf32 on the CPU is not FP32"
recview -t header out | grep -q '"precision":"fp32","math":"fp32"' || fail "header: $(recview -t header out)"

ONEDNN_MAX_CPU_ISA=AVX512_CORE expect_exit 0 enc --precision bf16
expect_stderr '^rnencode: --precision bf16: no bf16 instructions on this CPU \(oneDNN.s ISA [a-z0-9_]+\): BF16 numbers from FP32 arithmetic, no faster than FP32$'
[ "$(grep -c . err)" = 1 ] || fail "expected one line on stderr: $(cat err)"
tensors out | grep -q '^:"bf16","tensor":{"dtype":"float32"' || fail "bf16 record: $(tensors out)"
recview -t header out | grep -q '"precision":"bf16","math":"bf16"' || fail "header: $(recview -t header out)"
[ "$(tensors out)" != "$(tensors fp32.mp)" ] || fail "bf16 gave the fp32 numbers"
mv out bf16emu.mp
if grep -qw avx512_bf16 /proc/cpuinfo; then
	expect_exit 0 enc --precision bf16
	[ ! -s err ] || fail "native bf16 printed: $(cat err)"
	$PY - bf16emu.mp emu.npy <<'PYEOF' || fail "reading the emulated logits"
import sys, msgpack, numpy as np
recs = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
np.save(sys.argv[2], np.stack([np.frombuffer(r["tensor"]["data"], r["tensor"]["dtype"]) for r in recs if r.get("type") == "logits"]))
PYEOF
	$PY "$ROOT/tests/py/rnencode_ref.py" compare --rtol 6e-2 emu.npy out || fail "native bf16 differs from the emulated scheme"
fi

expect_exit 2 enc --precision int8
expect_empty_stdout
expect_stderr '^rnencode: --precision int8 needs --calibrate SET.mp \(calibrate on those image records\) or --calibration FILE \(scales saved by --save-calibration\)$'

expect_exit 2 enc --fp16 --precision fp32
expect_empty_stdout
expect_stderr '^rnencode: --precision: fp16 and fp32 both given$'
exit 0
