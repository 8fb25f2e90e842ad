# zscore, topk and txtembed-load copy the keys they do not know from their
# input record into the records they build (rb_copy_keys_except in
# common/stream/builder.c, and txtembed-load's own copy): the top-level str values
# become \xNN text, but keys, and strs inside an array or a map, are copied
# raw (txtembed-load copies top-level values raw too), so a key or a str
# that is not UTF-8 makes a scores, topk or classes record msgpack raw=False
# cannot read, exit 0. Right: every str
# they write is UTF-8 (keys and nested strs too, written as \xNN).
$PY - <<'PY' || fail "making the streams"
import msgpack, numpy as np
t = {"dtype": "float32", "shape": [4], "data": np.array([1, 2, 3, 4], np.float32).tobytes()}
r = {"type": "logits", "id": "a", "label": 1, "k@@1": 1, "tags": ["@@2"], "meta": {"src": "@@3"}, "tensor": t}
rows = np.eye(3, 4, dtype=np.float32)
c = {"type": "classes", "model": "m", "names": ["a", "b", "c"], "logit_scale": 100.0, "k@@1": 1, "tags": ["@@2"],
     "tensor": {"dtype": "float32", "shape": [3, 4], "data": rows.tobytes()}}
for name, rec in (("l.mp", r), ("c.mp", c)):
    b = msgpack.packb(rec)
    for k, v in ((b"k@@1", b"k\xff\xfe\x80"), (b"@@2", b"\xfe\x80x"), (b"@@3", b"\xc0\x80y")):
        b = b.replace(k, v)
    open(name, "wb").write(b)
PY
readable() {
	$PY -c '
import msgpack, sys
n = sum(1 for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r["type"] in ("scores", "topk", "classes"))
assert n == 1, n' "$1" || fail "$2 wrote a record msgpack raw=False cannot read"
}
expect_exit 0 zscore l.mp
cp out s.mp && readable s.mp zscore
expect_exit 0 topk -k 2 l.mp
cp out t.mp && readable t.mp topk
expect_exit 0 txtembed-load <c.mp
cp out e.mp && readable e.mp txtembed-load
