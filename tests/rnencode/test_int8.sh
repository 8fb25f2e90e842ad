#!/usr/bin/env bash
# rnencode --precision int8 on the CPU (model/cpu_dnnl.c; calibration files:
# model/calib.c, doc/records.md's `calibration` record):
#   - against rnencode FP32 on the same images, with scales calibrated on other
#     images (testdata's JPEGs: the first CAL calibrate, the next EVAL are
#     encoded): top-1 agreement and max |diff| / (|ref| + rms of the row)
#     printed, and held to the tolerances below
#   - a record the model cannot take in the calibration set is skipped with one
#     line, and not counted in calibration_images
#   - --save-calibration then --calibration gives the same outputs bit for bit;
#     the header names where the scales came from. EVAL (6) is less than the
#     batch (8): the plan is made again for 6 images after the calibration run,
#     from the scales the encoder keeps (it read freed ones once: garbage out)
#   - calibration files that do not fit are refused, exit 2, empty stdout, one
#     line naming the file: another model's, other weights', another count of
#     scales, a NaN or negative scale, truncated, not a calibration record
#   - ONEDNN_VERBOSE=1: every convolution is an int8 one (u8 or s8 source) and
#     none runs oneDNN's reference code (also on the family fixtures: the
#     ResNeXt groups and CLIP's stem of three 3x3 convolutions)
#   - against tests/py/int8_ref.py, the same scheme computed in PyTorch from the
#     checkpoint and the calibration file: resnet50, clip-rn50 and the family
#     fixtures (BasicBlocks, ResNeXt groups, CLIP at 288 px); on the family
#     fixtures also the calibration's scales against PyTorch's FP32 activations
#     (the oracle takes the scales as given)
# Tolerances, from measurements (AVX2 without VNNI: 7-bit weights, see
# model/cpu_dnnl.c's weight_scales).
# INT8 against FP32, printed for the users: on these random-weight fixtures INT8
# moves the outputs far more than FP16 does: measured here max |diff| / (|ref| +
# rms) 1.10 (resnet50 logits) and 0.68 (clip-rn50 embedding), smallest cosine
# with FP32 0.946 and 0.964, top-1 agreement 4/6 and 3/6 (the random networks'
# top-1 margins are small; on 8 images: clip-rn50 0.84 and cosine 0.909). That
# is the scheme's own error, not the code's: int8_ref.py gives the same numbers.
# A gross error is far beyond (the bias left in FP32 units: 95, cosine -0.48),
# a subtle one is not (below). Held to: ratio <= 1.6, cosine >= 0.85, top-1 >= 2
# of 6.
# INT8 against int8_ref.py: encodings made on oneDNN's AVX2 kernels on any CPU
# (ONEDNN_MAX_CPU_ISA=AVX2, the header checked), whose arithmetic
# int8_ref.py follows down to the float32 order of each convolution's epilogue:
# up to the head the numbers are the same bit for bit (resnet50's 6 x 2048 pooled
# features: all equal) and the distance is the head's FP32 (sgemm, the attention
# pool) against float64: max |diff| / (|ref| + rms) measured 7.6e-6 (resnet50),
# 3.7e-6 (clip-rn50), 1.8e-6, 1.4e-6, 1.1e-6 (tv-basic, tv-grouped,
# clip-small). Held to 1e-4. The same simulation with that arithmetic in float64
# (int8_ref.py --epilogue f64) is 0.12 away on resnet50 (clip-rn50 0.062, the
# family 0.004 to 0.011): on these random networks a u8 rounding on the other
# side of a .5 moves the logits that much, and so do these changes to
# model/cpu_dnnl.c, each within the FP32 ratio and cosine bounds above and
# failing here (ratio on resnet50; the smallest on any network a change touches:
# 0.0018): 8-bit weights
# 0.91 (s16 saturation included; 0.82 from FP32), the stem's weights 7-bit 1.13,
# the biases x1.001 0.48, one convolution's output scale x1.001 0.30, the scale of
# u8 written directly x1.01 0.86, one residual added x1.01 0.54. Round toward zero
# (4.3), weights truncated (3.3), ReLU before the residual add (49) fail both.
# Scales: PyTorch's FP32 sums differ from oneDNN's by 9.2e-7 at most (relative,
# measured); held to 1e-5.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_checkpoints
need_family_fixtures
CAL=8 EVAL=6
mapfile -t imgs < <(ls "$TESTDATA/images/"*.JPEG | head -n $((CAL + EVAL)))
[ ${#imgs[@]} = $((CAL + EVAL)) ] || fail "want $((CAL + EVAL)) sample images"
for preset in imagenet clip; do
	imgdecode --preset $preset "${imgs[@]:0:CAL}" >cal-$preset.mp 2>/dev/null || fail "imgdecode"
	imgdecode --preset $preset "${imgs[@]:CAL}" >eval-$preset.mp 2>/dev/null || fail "imgdecode"
done
# a record resnet50 cannot take (a clip crop) in its calibration set: skipped with a line
imgdecode --preset clip "${imgs[0]}" >>cal-imagenet.mp 2>/dev/null || fail "imgdecode"

# compare NAME FP32.mp INT8.mp MAXRATIO MINTOP1: prints the figures, fails beyond
# them or below a cosine of 0.85 with FP32 on any image
compare() {
	$PY - "$@" <<'PYEOF' || fail "$1: INT8 against FP32 out of tolerance (above)"
import sys, msgpack, numpy as np
name, a, b, tol, mintop = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
def read(p):
    return np.stack([np.frombuffer(r["tensor"]["data"], r["tensor"]["dtype"]).astype(np.float64)
                     for r in msgpack.Unpacker(open(p, "rb"), raw=False) if r["type"] in ("logits", "embedding")])
ref, out = read(a), read(b)
def classes(x):  # logits have classes; an embedding: cosine with 1000 fixed random class vectors
    if x.shape[1] != 1024:
        return x
    c = np.random.default_rng(5).standard_normal((1000, 1024))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
rms = np.sqrt((ref ** 2).mean(axis=1, keepdims=True))
ratio = (np.abs(out - ref) / (np.abs(ref) + rms)).max()
top = int((classes(out).argmax(1) == classes(ref).argmax(1)).sum())
cos = ((out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)).min()
print(f"{name}: INT8 vs FP32 on {len(ref)} images: same top-1 {top}/{len(ref)}, max |diff| {np.abs(out - ref).max():.3g} "
      f"(max |ref| {np.abs(ref).max():.3g}), max |diff|/(|ref|+rms) {ratio:.3g}, smallest cosine {cos:.3f} "
      f"(tolerance {tol:g}, top-1 >= {mintop}, cosine >= 0.85)")
sys.exit(0 if ratio <= tol and top >= mintop and cos >= 0.85 else 1)
PYEOF
}
tensors() { recview --full -t "$2" "$1" | sed 's/.*"tensor"//'; }

enc() { rnencode --device cpu --threads 2 "$@"; }
# oneDNN held to its AVX2 kernels, the ones tests/py/int8_ref.py models (on any CPU)
enc_avx2() { ONEDNN_MAX_CPU_ISA=AVX2 enc "$@"; }
oracle=() scales=()
for m in resnet50 clip-rn50; do
	case $m in
	resnet50) w=$CKPT_DIR/resnet50.pth p=imagenet t=logits tol=1.6 top=2 ;;
	clip-rn50) w=$CKPT_DIR/clip-rn50.pt p=clip t=embedding tol=1.6 top=2 ;;
	esac
	expect_exit 0 enc --model $m --weights "$w" <eval-$p.mp
	mv out $m-fp32.mp
	expect_exit 0 enc --model $m --weights "$w" --precision int8 --calibrate cal-$p.mp \
		--save-calibration $m-cal.mp <eval-$p.mp
	if [ $m = resnet50 ]; then
		expect_stderr "^rnencode: cal-imagenet.mp: record [0-9]+ \(id '[^']+'\): preset 'clip' does not match model resnet50 .*\(skipped\)$"
		[ "$(grep -c . err)" = 1 ] || fail "$m int8: $(cat err)"
	else
		[ ! -s err ] || fail "$m int8 printed: $(cat err)"
	fi
	mv out $m-int8.mp
	compare $m $m-fp32.mp $m-int8.mp $tol $top
	recview -t $t $m-int8.mp | grep -q '"precision":"int8"' || fail "$m: records do not say int8"
	recview -t header $m-int8.mp | grep -q '"precision":"int8","math":"int8"' || fail "$m header: $(recview -t header $m-int8.mp)"
	$PY - $m-int8.mp $m-cal.mp cal-$p.mp $CAL <<'PYEOF' || fail "$m: the header's calibration provenance"
import sys, hashlib, msgpack
h = [r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r["type"] == "header" and r["producer"] == "rnencode"][0]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
want = {"calibration": sys.argv[2], "calibration_sha256": sha(sys.argv[2]), "calibration_set": sys.argv[3],
        "calibration_set_sha256": sha(sys.argv[3]), "calibration_images": int(sys.argv[4]),
        "calibration_observer": "minmax"}
bad = {k: (h.get(k), v) for k, v in want.items() if h.get(k) != v}
sys.exit(f"header: {bad}" if bad else 0)
PYEOF
	expect_exit 0 enc --model $m --weights "$w" --precision int8 --calibration $m-cal.mp <eval-$p.mp
	[ "$(tensors out $t)" = "$(tensors $m-int8.mp $t)" ] || fail "$m: --calibration gives other numbers than --calibrate"
	recview -t header out | grep -q "\"calibration\":\"$m-cal.mp\"" || fail "$m: header: $(recview -t header out)"
	# for int8_ref.py: on oneDNN's AVX2 kernels (the same run on an AVX2 CPU)
	expect_exit 0 enc_avx2 --model $m --weights "$w" --precision int8 --calibration $m-cal.mp <eval-$p.mp
	recview -t header out | grep -q '"device":"cpu: .*cpu_isa_avx2)"' ||
		fail "$m: oneDNN not on its AVX2 kernels, which int8_ref.py models: $(recview -t header out)"
	mv out $m-avx2.mp
	oracle+=("$w" $m-cal.mp eval-$p.mp $m-avx2.mp)
done

# Files that do not fit: each refused with one line naming it, nothing on stdout.
refused() { # FILE REGEX [rnencode args]
	local f=$1 re=$2
	shift 2
	expect_exit 2 enc --precision int8 --calibration "$f" "$@" <eval-imagenet.mp
	expect_empty_stdout
	expect_stderr "^rnencode: --calibration: $f: $re"
	[ "$(grep -vc "^Try 'rnencode --help'" err)" = 1 ] || fail "want one line: $(cat err)"
}
R50=(--model resnet50 --weights "$CKPT_DIR/resnet50.pth")
refused clip-rn50-cal.mp 'a calibration of clip-rn50, not of resnet50$' "${R50[@]}"
refused resnet50-cal.mp "made with weights of sha256 [0-9a-f]{16}\.\.\., not $CKPT_DIR/resnet50.safetensors" \
	--model resnet50 --weights "$CKPT_DIR/resnet50.safetensors"
$PY - resnet50-cal.mp <<'PYEOF' || fail "making the broken files"
import sys, msgpack, numpy as np
r = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
s = np.frombuffer(r["tensor"]["data"], np.float32).copy()
def save(name, scales, **kw):
    q = dict(r, **kw)
    q["tensor"] = {"dtype": "float32", "shape": [len(scales)], "data": scales.astype(np.float32).tobytes()}
    open(name, "wb").write(msgpack.packb(q, use_bin_type=True))
save("short.mp", s[:-1])
t = s.copy(); t[3] = np.nan; save("nan.mp", t)
t = s.copy(); t[5] = -t[5]; save("neg.mp", t)
t = s.copy(); t[7] = 1e-45; save("tiny.mp", t)
t = s.copy(); t[2] = 3e38; save("huge.mp", t)
save("type.mp", s, type="image")
raw = open(sys.argv[1], "rb").read()
open("trunc.mp", "wb").write(raw[:len(raw) // 2])
open("two.mp", "wb").write(raw + raw)
PYEOF
refused short.mp "[0-9]+ scales, but resnet50 has [0-9]+ convolutions$" "${R50[@]}"
refused nan.mp "scale 3 of [0-9]+ is nan: a scale is a number from 1e-30 to 1e\+30$" "${R50[@]}"
refused neg.mp "scale 5 of [0-9]+ is -[0-9.e+-]+: a scale is a number from 1e-30 to 1e\+30$" "${R50[@]}"
# a subnormal or huge scale quantizes everything to 0 or saturates it: a constant
# network with exit 0 before (review finding)
refused tiny.mp "scale 7 of [0-9]+ is 1.4[0-9]*e-45: a scale is a number from 1e-30 to 1e\+30$" "${R50[@]}"
refused huge.mp "scale 2 of [0-9]+ is 3e\+38: a scale is a number from 1e-30 to 1e\+30$" "${R50[@]}"

# no image on stdin: the calibration is still made and saved, the same bytes as with
# images to encode (it was not made: exit 0 and no file); without --model or
# --weights nothing names the network: one line, exit 2
expect_exit 0 enc "${R50[@]}" --precision int8 --calibrate cal-imagenet.mp --save-calibration nostdin.mp </dev/null
cmp -s nostdin.mp resnet50-cal.mp || fail "--calibrate with stdin empty: not resnet50-cal.mp's calibration"
recview -t stats out | grep -q '"images":0,"failed":0' || fail "stdin empty: stats $(recview -t stats out)"
expect_exit 2 enc --precision int8 --calibrate cal-imagenet.mp --save-calibration none.mp </dev/null
expect_empty_stdout
expect_stderr "^rnencode: --calibrate: stdin has no image record to choose the model from: pass --model or --weights$"
[ ! -e none.mp ] || fail "none.mp written"

# --save-calibration never replaces an input or the output (each was replaced, exit 0)
cp cal-imagenet.mp set.mp
cp "$CKPT_DIR/resnet50.pth" w.pth
for dst in set.mp w.pth in.mp out.mp; do
	cp eval-imagenet.mp in.mp
	: >out.mp
	rnencode --device cpu --threads 2 --model resnet50 --weights w.pth --precision int8 --calibrate set.mp \
		--save-calibration $dst <in.mp >>out.mp 2>err
	[ $? = 2 ] || fail "--save-calibration $dst: not refused: $(cat err)"
	expect_stderr "^rnencode: --save-calibration $dst is (the --calibrate set|the --weights file|stdin|stdout): it would be replaced"
	cmp -s set.mp cal-imagenet.mp && cmp -s w.pth "$CKPT_DIR/resnet50.pth" && cmp -s in.mp eval-imagenet.mp && [ ! -s out.mp ] ||
		fail "--save-calibration $dst changed a file"
done
expect_exit 2 enc "${R50[@]}" --precision int8 --calibrate set.mp --save-calibration - <in.mp
expect_empty_stdout
expect_stderr "^rnencode: --save-calibration -: stdout carries the encodings; name a file$"
# a calibration set whose images leave an input 0 everywhere: no scale, refused
$PY -c '
import msgpack, numpy as np, sys
z = np.zeros((3, 224, 224), np.float32)
sys.stdout.buffer.write(msgpack.packb({"type": "image", "id": "zero", "preset": "imagenet",
    "tensor": {"dtype": "float32", "shape": [3, 224, 224], "data": z.tobytes()}}))' >zero.mp || fail "zero.mp"
expect_exit 2 enc "${R50[@]}" --precision int8 --calibrate zero.mp <in.mp
expect_empty_stdout
expect_stderr "^rnencode: --calibrate: zero.mp: convolution [0-9]+'s input was 0 on all 1 image\(s\)"
refused type.mp "not a calibration record \(type 'image'\)$" "${R50[@]}"
refused trunc.mp "record 0 at byte 0: .*" "${R50[@]}"
refused two.mp "a record after the calibration record" "${R50[@]}"
refused eval-imagenet.mp "not a calibration record \(type 'header'\)$" "${R50[@]}"

# oneDNN's own kernels, int8: every convolution line has an s8/u8 source, none is ref.
imgdecode --preset imagenet "${imgs[0]}" >one-imagenet.mp 2>/dev/null || fail "imgdecode"
imgdecode --preset clip "${imgs[0]}" >one-clip.mp 2>/dev/null || fail "imgdecode"
for s in resnet50 clip-rn50 $FAMILY_SPECS; do
	case $s in
	resnet50) w=$CKPT_DIR/resnet50.pth mp=one-imagenet.mp; cp resnet50-cal.mp c.mp ;;
	clip-rn50) w=$CKPT_DIR/clip-rn50.pt mp=one-clip.mp; cp clip-rn50-cal.mp c.mp ;;
	*)
		w=$FAM_DIR/$s.pth mp=$FAM_DIR/$s.mp
		[ -e "$w" ] || w=$FAM_DIR/$s.pt
		enc_avx2 --weights "$w" --batch 2 --precision int8 --calibrate "$mp" --save-calibration c.mp <"$mp" \
			>$s-int8.mp 2>/dev/null || fail "$s: rnencode --precision int8 --calibrate"
		cp c.mp $s-cal.mp
		oracle+=("$w" $s-cal.mp "$mp" $s-int8.mp)
		scales+=(--scales "$w" $s-cal.mp "$mp")
		;;
	esac
	ONEDNN_VERBOSE=1 enc --weights "$w" --batch 2 --precision int8 --calibration c.mp <"$mp" 2>verbose >/dev/null ||
		fail "$s: rnencode --precision int8 under ONEDNN_VERBOSE=1"
	n=$(grep -ac '^onednn_verbose,exec,cpu,convolution' verbose)
	[ "$n" -ge 10 ] || fail "$s: ONEDNN_VERBOSE: $n convolution lines"
	! grep -a '^onednn_verbose,exec,cpu,convolution,ref' verbose || fail "$s: a convolution runs oneDNN's reference code (above)"
	! grep -a '^onednn_verbose,exec,cpu,convolution' verbose | grep -av 'src_[us]8' ||
		fail "$s: a convolution without an int8 source (above)"
done

# INT8 against tests/py/int8_ref.py, the same scheme in PyTorch (tolerance: the header).
# Passive OpenMP waits: torch's threads spin otherwise, twice the CPU time on shared cores.
OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/tests/py/int8_ref.py" --rtol 1e-4 --scales-rtol 1e-5 "${scales[@]}" "${oracle[@]}" ||
	fail "rnencode --precision int8 and tests/py/int8_ref.py differ (above)"
exit 0
