# The format promise to users: Python (msgpack + numpy) reads our streams.
source "$ROOT/tests/lib.sh"
need_py msgpack; need_py numpy
"$ROOT/build/bench/recio" write 3 4 5 > s.mp || fail "recio write"
recview --npy npy s.mp > /dev/null || fail "recview --npy"
$PY - <<'PY' || fail "python check"
import msgpack, numpy as np, glob
recs = list(msgpack.Unpacker(open("s.mp", "rb"), raw=False))
assert len(recs) == 3, len(recs)
want = (np.arange(4 * 5 * 3) * 13 % 256).astype(np.uint8).reshape(4, 5, 3)
for i, r in enumerate(recs):
    assert r["type"] == "image" and r["id"] == "img%08d.jpg" % i and r["label"] == i, r
    t = r["tensor"]
    a = np.frombuffer(t["data"], t["dtype"]).reshape(t["shape"])
    assert a.shape == (4, 5, 3) and (a == want).all()
files = sorted(glob.glob("npy/*.npy"))
assert len(files) == 3, files
for f in files:
    assert (np.load(f) == want).all(), f
print("ok")
PY
