#!/usr/bin/env bash
# --precision on the CPU backend: the names it takes, what it refuses, and
# what the records say (doc/cli.md: --fp16 is --precision fp16; --tf32 an
# old spelling of --precision tf32).
#   - --precision fp16 and --fp16 give the same tensors, records saying fp16
#   - tf32 on the CPU: one note, FP32 numbers (the same tensors as fp32), the
#     header's precision and math both fp32
#   - a precision the CPU backend does not compute: exit 2, empty stdout, one
#     line naming it and those the backend has
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

expect_exit 2 enc --precision int8
expect_empty_stdout
expect_stderr '^rnencode: cpu backend: precision int8: the CPU backend computes fp32'

expect_exit 2 enc --fp16 --precision fp32
expect_empty_stdout
expect_stderr '^rnencode: --precision: fp16 and fp32 both given$'
exit 0
