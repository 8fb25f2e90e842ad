# --fast: DCT-scaled decode for images at least twice the resize target,
# fast IDCT, plain upsampling. Not PIL's bytes, but close: bounded mean and
# max deviation from the exact mode, and the header says so.
source "$ROOT/tests/lib.sh"
need_py msgpack
files=("$TESTDATA"/images "$TESTDATA"/imgdecode/large_2600x1900.jpg "$TESTDATA"/imgdecode/sub4*.jpg)
imgdecode -p imagenet "${files[@]}" >exact.mp || fail "exact run"
imgdecode -p imagenet --fast "${files[@]}" >fast.mp || fail "fast run"
$PY - <<'PY' || fail "fast deviation"
import msgpack, numpy as np
def load(p):
    recs = list(msgpack.Unpacker(open(p, "rb"), raw=False))
    return recs[0], {r["id"]: np.frombuffer(r["tensor"]["data"], np.uint8).astype(int) for r in recs if r["type"] == "image"}
he, e = load("exact.mp")
hf, f = load("fast.mp")
assert he["decode"] == "exact" and hf["decode"] == "fast"
assert e.keys() == f.keys() and len(e) == 46
d = {k: np.abs(e[k] - f[k]) for k in e}
mean = np.mean([x.mean() for x in d.values()])
worst = max(x.max() for x in d.values())
print(f"fast vs exact over {len(d)} images: mean |diff| {mean:.3f}, max {worst}")
assert 0 < mean < 3.0, mean          # it is another decode, and a close one
assert all(x.mean() < 8 for x in d.values())
# the large smooth gradient is DCT-scaled 1/8 and still within a few levels
big = next(v for k, v in d.items() if k.endswith("large_2600x1900.jpg"))
assert big.max() <= 6 and big.mean() < 1.5, (big.max(), big.mean())
PY
exit 0
