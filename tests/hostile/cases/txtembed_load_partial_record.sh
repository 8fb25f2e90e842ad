# txtembed-load, a record stream whose classes record is over 1 MiB (here an
# extra key, an array of 300000 short strs, copied into its record) and is
# followed by bytes that are no record: it fails (exit 2) after its writer
# has flushed the first MiB of the classes record it was building (it gives
# the reader no writer, so as to write nothing on a broken stream), so
# stdout ends inside a record; --help says so ("may leave part"). Every
# other program that stops with exit 2 leaves whole records. Right: exit 2
# and stdout empty or whole records.
$PY - <<'PY' || fail "making the stream"
import msgpack, numpy as np
rows = np.eye(3, 4, dtype=np.float32)
c = {"type": "classes", "model": "m", "names": ["a", "b", "c"], "logit_scale": 100.0, "note": ["xyz"] * 300000,
     "tensor": {"dtype": "float32", "shape": [3, 4], "data": rows.tobytes()}}
open("c.mp", "wb").write(msgpack.packb(c) + b"garbage")
PY
expect_exit 2 txtembed-load c.mp
$PY -c '
import msgpack
u = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
d = open("out", "rb").read()
u.feed(d)
end = 0
for _ in u:
    end = u.tell()  # after the last whole record
assert end == len(d), "stdout ends inside a record"' || fail "txtembed-load left part of a record ($(wc -c <out) bytes)"
