# zscore --classes FILE (and fpdiff --classes, through classes_load_path in
# common/classes.c) reads FILE up to its first classes record and stops: a
# second classes record (cat old.mp new.mp > classes.mp: the old table is
# used), bytes after the record that are no record at all, and invalid
# records before it (skipped without a word) all went unnoticed, exit 0.
# Right: the file is read to its end as a stream: exactly one classes
# record, no invalid record, no broken bytes; else exit 2, a line naming the
# file, nothing on stdout.
$PY - <<'PY' || fail "making the streams"
import msgpack, numpy as np
def cls(seed):
    r = np.random.RandomState(seed).randn(3, 4).astype(np.float32)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    return msgpack.packb({"type": "classes", "model": "m", "names": ["a", "b", "c"], "logit_scale": 100.0,
                          "tensor": {"dtype": "float32", "shape": [3, 4], "data": r.tobytes()}})
emb = msgpack.packb({"type": "embedding", "id": "x", "label": 0,
                     "tensor": {"dtype": "float32", "shape": [4], "data": np.ones(4, np.float32).tobytes()}})
bad = b"\x82\xa4type\xa6header\xa4type\xa6header"  # a key twice: an invalid record
open("two.mp", "wb").write(cls(1) + cls(2))
open("tail.mp", "wb").write(cls(1) + b"\x05garbage")
open("invalid.mp", "wb").write(bad + cls(1))
open("emb.mp", "wb").write(emb)
PY
for f in two tail invalid; do
	expect_exit 2 zscore --classes $f.mp emb.mp
	expect_empty_stdout
	expect_stderr "^zscore: .*$f.mp"
done
