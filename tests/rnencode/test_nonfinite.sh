#!/usr/bin/env bash
# Garbage never becomes a plausible answer: a float image holding NaN or Inf (one
# pixel or all), or values beyond +-65504 (3e38 is finite but overflows inside, where
# PyTorch answers NaN for every logit), is the image's error record naming how many
# and the first position; with --fp16 a finite image whose activations overflow
# float16 (all 60000) is an error record too. Both models, FP32 and --fp16, float32
# and float16 input; the good images around them are encoded, exit 1. A checkpoint
# holding NaN, a negative variance or a BatchNorm that folds beyond float32 is
# refused when it is bound. The stats record counts each image once, encoded or
# failed.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py msgpack
need_py numpy
need_checkpoints

make_stream() { # PRESET DTYPE > stream: ok, nan, inf, big, ninf, 60000, ok2
	$PY - "$1" "$2" <<'PY'
import sys, msgpack, numpy as np
preset, dt = sys.argv[1], sys.argv[2]
out = sys.stdout.buffer
def rec(i, x):
    x = x.astype(dt)
    out.write(msgpack.packb({"type": "image", "id": i, "label": 1, "preset": preset,
                             "tensor": {"dtype": dt, "shape": [3, 224, 224], "data": x.tobytes()}}))
ok = np.random.default_rng(0).standard_normal((3, 224, 224)).astype(np.float32)
rec("ok", ok)
x = ok.copy(); x[1, 5, 7] = np.nan; rec("nan", x)
rec("inf", np.full((3, 224, 224), np.inf))
if dt == "float32":  # float16 cannot hold it
    rec("big", np.full((3, 224, 224), 3e38))
x = ok.copy(); x[2, 223, 0] = -np.inf; rec("ninf", x)
rec("60000", np.full((3, 224, 224), 60000.0))
rec("ok2", ok)
PY
}
# check FLAGS...: each record's outcome, from the output stream `out`
check() {
	$PY - "$@" <<'PY' || fail "rnencode $*: $(cat err)"
import sys, msgpack, numpy as np
fp16 = "--fp16" in sys.argv[1:]
got = {}
stats = None
for r in msgpack.Unpacker(open("out", "rb"), raw=False):
    if r["type"] == "stats":
        stats = r
    elif r["type"] == "error":
        got[r["id"]] = "error: " + r["message"]
    elif r["type"] in ("logits", "embedding"):
        t = r["tensor"]
        v = np.frombuffer(t["data"], t["dtype"])
        assert np.isfinite(v).all(), (r["id"], "non-finite output written")
        got[r["id"]] = "ok"
want = {
    "ok": "ok", "ok2": "ok",
    "nan": "error: image tensor has 1 non-finite value (the first, NaN, at [1,5,7]): a float image must be finite",
    "inf": "error: image tensor has 150528 non-finite values (the first, +Inf, at [0,0,0])",
    "big": "error: image tensor has 150528 values beyond +-65504 (the first, 3e+38, at [0,0,0])",
    "ninf": "error: image tensor has 1 non-finite value (the first, -Inf, at [2,223,0])",
    # FP32 holds it (PyTorch gives finite numbers too); float16 activations overflow
    "60000": "error: " if fp16 else "ok",
}
for k, w in want.items():
    if k == "big" and k not in got and "float16" in open("dtype").read():
        continue
    assert got.get(k, "missing").startswith(w), (k, got.get(k), w)
if fp16:
    assert "non-finite value" in got["60000"] and "float16's range" in got["60000"], got["60000"]
# each image counted once: encoded, or failed (an output found non-finite too)
n_ok = sum(v == "ok" for v in got.values())
assert (stats["images"], stats["failed"]) == (n_ok, len(got) - n_ok), (stats["images"], stats["failed"], got)
PY
}
for m in resnet50:imagenet:resnet50.pth clip-rn50:clip:clip-rn50.pt; do
	IFS=: read -r model preset w <<<"$m"
	for dt in float32 float16; do
		echo $dt >dtype
		make_stream $preset $dt >in.mp || fail "making the $dt stream"
		for fp in "" --fp16; do
			# float16 input: once, through --fp16's float16 activations
			[ $dt = float16 ] && { [ -z "$fp" ] || [ $model = clip-rn50 ]; } && continue
			expect_exit 1 rnencode --model $model --weights "$CKPT_DIR/$w" --threads 2 $fp <in.mp
			check $fp
			expect_stderr "^rnencode: stdin: record 1 \(id 'nan'\): image tensor has 1 non-finite value"
		done
	done
done

# a checkpoint whose values make NaN: refused when it is bound (exit 2, one line),
# where ReLU would have turned the NaN into plausible logits
need_py torch
$PY - "$CKPT_DIR/resnet50.pth" <<'PY' || fail "making damaged checkpoints"
import sys, torch
sd = torch.load(sys.argv[1])
def save(name, key, change):
    d = dict(sd)
    d[key] = d[key].clone()
    change(d[key])
    torch.save(d, name)
save("nanw.pth", "layer1.0.conv2.weight", lambda t: t.view(-1).__setitem__(0, float("nan")))
save("negvar.pth", "layer2.1.bn1.running_var", lambda t: t.__setitem__(3, -1.0))
save("bigbn.pth", "layer3.0.bn2.weight", lambda t: t.fill_(3e38))
PY
make_stream imagenet float32 >in.mp
for c in "nanw:layer1.0.conv2.weight holds 1 NaN/Inf value" \
	"negvar:layer2.1.bn1.running_var has 1 value of -eps or less" \
	"bigbn:layer3.0.bn2 folded into layer3.0.conv2 overflows float32"; do
	expect_exit 2 rnencode --weights ${c%%:*}.pth --threads 2 <in.mp
	expect_empty_stdout
	expect_stderr "^rnencode: ${c%%:*}.pth: .*1 wrong \(${c#*:}\)"
done
exit 0
