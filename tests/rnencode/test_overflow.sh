#!/usr/bin/env bash
# An activation that overflows inside the network is the image's error, on the
# CPU at every precision, never a finite answer (model/cpu_dnnl.c, run_store).
# Checkpoints made from the reduced BasicBlock fixture (tests/py/resnets.py
# tv-basic), PyTorch's logits checked first:
#   over: layer2.0.conv1's and layer3.0.conv1's weights scaled by 1e20, so
#     that layer3.0.conv1's outputs pass FLT_MAX: PyTorch's logits are NaN.
#     oneDNN's ReLU post-op of the next convolution turns the NaN it makes of
#     the Inf into 0 (vmaxps), and rnencode wrote logits near 1e21 with exit 0
#     until every float activation a primitive writes was checked for Inf/NaN.
#   nan: layer3.0.conv1's weights +-3e38 (BatchNorm the identity), products
#     that overflow inside one convolution: PyTorch NaN.
# Both: FP32 and BF16 (rounded storage on a CPU without bf16 instructions)
# give exit 1, an error record per image naming the overflow and no logits;
# FP16 refuses the weights before any image (beyond float16's range after
# BatchNorm folding, where an Inf weight's 0 * Inf hides the same way): exit 2,
# one line, nothing on stdout.
# fcbig: one fc weight 1e5, beyond float16 but not float32: FP16 refuses it as
# it refuses a convolution's. bfbig: one weight 3.4e38, beyond bfloat16: BF16
# refuses it.
# Control: one layer scaled by 1e15 leaves every activation finite in PyTorch
# (logits near 1e16): rnencode FP32 must agree with it (1e-4, as the parity
# tests), so the check does not flag large finite values.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_family_fixtures
W=$FAM_DIR/tv-basic.pth IN=$FAM_DIR/tv-basic.mp

RN="$PY $ROOT/tests/py/resnets.py"
$PY - "$W" <<'PYEOF' || fail "making the scaled checkpoints"
import sys, torch
sd = torch.load(sys.argv[1])
def save(name, edit):
    d = {k: v.clone() for k, v in sd.items()}
    edit(d)
    torch.save(d, name + ".pth")
def over(d):
    d["layer2.0.conv1.weight"] *= 1e20
    d["layer3.0.conv1.weight"] *= 1e20
def nan(d):  # products of +-3e38 weights and inputs above 1.2 overflow
    w = d["layer3.0.conv1.weight"]
    w[:, 0::2] = 3e38
    w[:, 1::2] = -3e38
    for k, v in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1 - 1e-5)):
        d["layer3.0.bn1." + k].fill_(v)  # BatchNorm as the identity: the folded weights stay finite
def large(d):
    d["layer2.0.conv1.weight"] *= 1e15
def fcbig(d):  # a head weight beyond float16 (65504), finite in float32
    d["fc.weight"][0, 0] = 1e5
def bfbig(d):  # a weight beyond bfloat16 (3.39e38), finite in float32
    d["layer3.0.conv1.weight"][0, 0, 0, 0] = 3.4e38
    for k, v in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1 - 1e-5)):
        d["layer3.0.bn1." + k].fill_(v)
save("over", over)
save("nan", nan)
save("large", large)
save("fcbig", fcbig)
save("bfbig", bfbig)
PYEOF
for n in over nan large; do
	$RN reference $n.pth "$IN" $n.npy || fail "PyTorch on $n.pth"
done
# what PyTorch says, so that the expectations below are its
$PY -c '
import sys, numpy as np
over, nan, large = (np.load(f"{n}.npy") for n in ("over", "nan", "large"))
print(f"PyTorch: over.pth {np.isnan(over).sum()} and nan.pth {np.isnan(nan).sum()} NaN logits of {over.size};"
      f" large.pth: finite {np.isfinite(large).all()}, max |y| {np.abs(large).max():.3g}")
sys.exit(0 if np.isnan(over).all() and np.isnan(nan).all() and np.isfinite(large).all() else 1)' ||
	fail "PyTorch: over.pth and nan.pth should give NaN logits, large.pth finite ones"

for n in over nan; do
	ps="fp32 bf16"
	[ $n = nan ] && ps=fp32 # bf16's rounding is tested on over
	for p in $ps; do
		expect_exit 1 rnencode --weights $n.pth --precision $p --threads 2 --batch 2 <"$IN"
		expect_stderr "record 1 .*logits has 1000 non-finite values of 1000 .*overflows the network's arithmetic"
		recview -t logits out | grep -q . && fail "$n $p: logits written for an overflowed image"
		[ "$(recview -t error out | grep -c 'overflows the network')" = 2 ] ||
			fail "$n $p: want 2 error records: $(recview -t error out)"
		recview -t stats out | grep -q '"images":0,"failed":2' || fail "$n $p: stats: $(recview -t stats out)"
	done
	# calibrating INT8 on images that overflow the FP32 network: each is skipped with
	# a line (their Inf or NaN would have been a scale), then nothing is left
	expect_exit 2 rnencode --weights $n.pth --precision int8 --calibrate "$IN" --threads 2 --batch 2 </dev/null
	expect_empty_stdout
	[ "$(grep -c "overflows the FP32 network's arithmetic (skipped)$" err)" = 2 ] &&
		expect_stderr "every image overflows .*'s FP32 arithmetic \(the lines above\): nothing to calibrate on$" ||
		fail "$n: int8 calibration on overflowing images: $(cat err)"
	# float16 cannot hold these weights at all: refused before any image
	expect_exit 2 rnencode --weights $n.pth --precision fp16 --threads 2 --batch 2 <"$IN"
	expect_empty_stdout
	expect_stderr "^rnencode: cpu backend: layer[23].0.conv1: a weight or bias beyond float16's range after BatchNorm folding"
done

# the head's matrices are held as float16 too: refused the same way (they failed
# every image as an overflow of its own, exit 1, where the GPU refuses them)
expect_exit 2 rnencode --weights fcbig.pth --precision fp16 --threads 2 --batch 2 <"$IN"
expect_empty_stdout
expect_stderr "^rnencode: cpu backend: fc: a weight or bias beyond float16's range"
# bfloat16's range, in rounded storage (a CPU without bf16 instructions)
expect_exit 2 rnencode --weights bfbig.pth --precision bf16 --threads 2 --batch 2 <"$IN"
expect_empty_stdout
expect_stderr "^rnencode: cpu backend: layer3.0.conv1: a weight or bias beyond bfloat16's range after BatchNorm folding"

expect_exit 0 rnencode --weights large.pth --threads 2 --batch 2 <"$IN"
$RN compare --name "large weights, fp32" --rtol 1e-4 large.npy out ||
	fail "large but finite activations: rnencode FP32 beyond 1e-4 of PyTorch"
exit 0
