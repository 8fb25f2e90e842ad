#!/usr/bin/env bash
# rnencode --model clip-rn50 against tests/py/clip_model.py (CLIP's ModifiedResNet
# written from the spec, CLIP's parameter names) on the TorchScript fixture
# clip-rn50.pt, whose conv and linear weights are fp16 and BatchNorm fp32 as in the
# published RN50.pt; the weights reach rnencode through that file.
#   FP32 embeddings [1024] within 1e-4 relative on 8 testdata images (uint8 crops
#   by PIL + torchvision, preset clip, model chosen from the preset), plus two
#   images given as float16 records (the float16 input path).
#   FP16 on the first 4 images: tolerances and their reasons as in test_parity_resnet50.sh (measured here:
#   1.35e-2 from FP32, 0.55e-2 from PyTorch's FP16-storage evaluation); top-1 is the
#   argmax of cosine similarity with 1000 fixed random unit vectors standing in for
#   CLIP's text classifier.
#   BF16 on the same 4 images, tolerances as in test_parity_resnet50.sh: 0.24 from
#   FP32 (measured 0.11 on 8 images), 2e-2 from PyTorch's BF16-storage evaluation
#   (measured 0.95e-2; the attention pool runs FP32 here and there).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_checkpoints
REF="$PY $ROOT/tests/py/rnencode_ref.py"
W=$CKPT_DIR/clip-rn50.pt

$REF images --preset clip --n 8 --u8 u8.mp --f16 f16all.mp || fail "making image records"
$REF head 2 f16all.mp f16.mp || fail "making image records"
$REF head 4 u8.mp four.mp || fail "making image records"
cat u8.mp f16.mp >both.mp
$REF reference --model clip-rn50 --weights "$W" --fp16 ref16.npy --bf16 refb.npy --fp16-n 4 both.mp ref.npy || fail "PyTorch reference"

# no --model: the images' preset (clip) picks clip-rn50
expect_exit 0 rnencode --weights "$W" --threads 2 <both.mp
$REF compare --rtol 1e-4 ref.npy out || fail "FP32 embeddings differ from PyTorch"
recview -t embedding --first 1 out | grep -q '"model":"clip-rn50","precision":"fp32","tensor":{"dtype":"float32","shape":\[1024\]' ||
	fail "embedding record: $(recview -t embedding --first 1 out)"
recview -t header --first 1 out | grep -q '"weights_format":"torchscript"' || fail "header: $(recview -t header --first 1 out)"

expect_exit 0 rnencode --weights "$W" --fp16 --threads 2 <four.mp
recview -t embedding --first 1 out | grep -q '"precision":"fp16","tensor":{"dtype":"float16"' ||
	fail "FP16 record: $(recview -t embedding --first 1 out)"
$REF compare --rtol 3e-2 --head --top1 ref.npy ref.npy out || fail "FP16 embeddings too far from FP32 PyTorch"
$REF compare --rtol 2e-2 --head ref16.npy out || fail "FP16 embeddings too far from PyTorch's FP16-storage evaluation"
if $REF compare --rtol 1e-3 --head ref.npy out >/dev/null; then fail "--fp16 output is as close to FP32 as FP32 itself"; fi

expect_exit 0 rnencode --weights "$W" --precision bf16 --threads 2 <four.mp
recview -t embedding --first 1 out | grep -q '"precision":"bf16","tensor":{"dtype":"float32"' ||
	fail "BF16 record: $(recview -t embedding --first 1 out)"
$REF compare --rtol 0.24 --head --top1 ref.npy ref.npy out || fail "BF16 embeddings too far from FP32 PyTorch"
$REF compare --rtol 2e-2 --head refb.npy out || fail "BF16 embeddings too far from PyTorch's BF16-storage evaluation"
if $REF compare --rtol 1e-2 --head ref.npy out >/dev/null; then fail "BF16 output is as close to FP32 as FP16's"; fi
exit 0
