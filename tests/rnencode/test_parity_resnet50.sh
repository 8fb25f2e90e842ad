#!/usr/bin/env bash
# rnencode --model resnet50 against torchvision's resnet50 (Debian python3-torch) on
# the shared random-weight checkpoint fixtures (random BN statistics, centred fc):
#   FP32 logits within 1e-4 relative on 8 testdata images (uint8 crops made by
#   PIL + torchvision); float32 records of the same crops give identical logits;
#   the legacy and safetensors copies of the checkpoint agree too; --features
#   against the pooled vector before fc.
#   FP16 (--fp16, first 4 images): FP16 storage, FP32 arithmetic. Tolerance 3e-2 (the ratio below)
#   against FP32 PyTorch, with the same top-1 on every image; 2e-2 against a PyTorch
#   evaluation of the same FP16 storage scheme. Why: every stored activation carries
#   a rounding of up to 2^-11 = 4.9e-4 relative, ~55 of them in sequence plus the
#   weights; measured on these fixtures FP16 vs FP32 differs by 1.5e-2, and two FP16
#   evaluations that differ only in FP32 summation order (conv in float32 vs float64)
#   by 0.84e-2, so 2e-2 / 3e-2 leave about 2x margin. The FP16 result must also be
#   visibly different from FP32 (ratio > 1e-3), or the rounding did not happen.
#   BF16 (--precision bf16, first 4 images): bf16 weights and activations, FP32 biases,
#   accumulation and head. Tolerance 0.24 against FP32 PyTorch, same top-1 on every
#   image; 6e-2 against PyTorch's evaluation of the same BF16 scheme. Why: bf16 keeps
#   8 significand bits, a rounding of up to 2^-9 = 2.0e-3 relative (8x FP16's) per
#   stored tensor; measured BF16 vs FP32 0.12 (8 images), and against the BF16
#   reference 2.9e-2, where summation order alone flips roundings (8x FP16's 0.4e-2
#   on the same images, as the 8x larger rounding step predicts): 0.24 / 6e-2 leave
#   about 2x. BF16 must be visibly different from FP32 (ratio > 1e-2: it rounded).
#   On a CPU without bf16 instructions the numbers come from FP32 arithmetic on
#   bf16-rounded storage (test_precision.sh), which is the same scheme.
# Ratio = |out - ref| / (|ref| + rms(ref of that image)), worst elements printed.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_checkpoints
REF="$PY $ROOT/tests/py/rnencode_ref.py"
W=$CKPT_DIR/resnet50.pth

$REF images --preset imagenet --n 8 --u8 u8.mp --f32 f32.mp || fail "making image records"
$REF reference --model resnet50 --weights "$W" --fp16 ref16.npy --bf16 refb.npy --fp16-n 4 --features feat.npy u8.mp ref.npy ||
	fail "PyTorch reference"

# uint8 then float32 records of the same crops in one stream (two batches)
cat u8.mp f32.mp >both.mp
expect_exit 0 rnencode --model resnet50 --weights "$W" --threads 2 <both.mp
mv out logits.mp
$PY -c 'import numpy as n; r = n.load("ref.npy"); n.save("ref2.npy", n.concatenate([r, r]))'
$REF compare --rtol 1e-4 ref2.npy logits.mp || fail "FP32 logits differ from PyTorch"
recview -t logits --first 1 logits.mp | grep -q '"model":"resnet50","precision":"fp32","tensor":{"dtype":"float32","shape":\[1000\]' ||
	fail "logits record: $(recview -t logits --first 1 logits.mp)"
recview -t header --first 1 logits.mp | grep -q '"weights_sha256":"'"$(sha256sum "$W" | cut -c1-64)"'"' ||
	fail "header lacks the weights' sha256"
# torchvision normalized the float32 ones exactly as rnencode normalizes uint8
# (float32 x/255, minus mean, divided by std), so the logits are the same bits
recview --full -t logits logits.mp | sed 's/.*"tensor"//' >all.txt
[ "$(wc -l <all.txt)" = 16 ] || fail "expected 16 logits records, got $(wc -l <all.txt)"
head -n 8 all.txt >a.txt
tail -n 8 all.txt >b.txt
cmp -s a.txt b.txt || fail "float32 input gives other logits than uint8 input"

# the same weights in the other container formats, on the first two images
$REF head 2 u8.mp two.mp || fail "making image records"
$REF head 4 u8.mp four.mp || fail "making image records"
for f in resnet50-legacy.pth resnet50.safetensors; do
	expect_exit 0 rnencode --model resnet50 --weights "$CKPT_DIR/$f" --threads 2 <two.mp
	$REF compare --rtol 1e-4 --head ref.npy out || fail "$f: logits differ from PyTorch"
done

expect_exit 0 rnencode --model resnet50 --weights "$W" --features --threads 2 <u8.mp
recview -t features --first 1 out | grep -q '"shape":\[2048\]' || fail "no features [2048] record"
$REF compare --rtol 1e-4 feat.npy out || fail "features differ from PyTorch's pooled vector"

expect_exit 0 rnencode --model resnet50 --weights "$W" --fp16 --threads 2 <four.mp
recview -t logits --first 1 out | grep -q '"precision":"fp16","tensor":{"dtype":"float16"' ||
	fail "FP16 record: $(recview -t logits --first 1 out)"
$REF compare --rtol 3e-2 --head --top1 ref.npy ref.npy out || fail "FP16 logits too far from FP32 PyTorch"
$REF compare --rtol 2e-2 ref16.npy out || fail "FP16 logits too far from PyTorch's FP16-storage evaluation"
if $REF compare --rtol 1e-3 --head ref.npy out >/dev/null; then fail "--fp16 output is as close to FP32 as FP32 itself"; fi

expect_exit 0 rnencode --model resnet50 --weights "$W" --precision bf16 --threads 2 <four.mp
recview -t logits --first 1 out | grep -q '"precision":"bf16","tensor":{"dtype":"float32"' ||
	fail "BF16 record: $(recview -t logits --first 1 out)"
recview -t header --first 1 out | grep -q '"precision":"bf16","math":"bf16"' || fail "header: $(recview -t header --first 1 out)"
$REF compare --rtol 0.24 --head --top1 ref.npy ref.npy out || fail "BF16 logits too far from FP32 PyTorch"
$REF compare --rtol 6e-2 refb.npy out || fail "BF16 logits too far from PyTorch's BF16-storage evaluation"
if $REF compare --rtol 1e-2 --head ref.npy out >/dev/null; then fail "BF16 output is as close to FP32 as FP16's"; fi
exit 0
