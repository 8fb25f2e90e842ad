#!/usr/bin/env bash
# The record reader on hostile streams, through the programs: a record that declares
# a 1 GiB bin in a 120-byte stream is "truncated" even where 1 GiB cannot be had (the
# buffer grows with the bytes that arrive, so under a 512 MiB address-space limit it
# is not "out of memory"); a record with a key twice is that record's error record
# naming the key, and the stream goes on; a record of more msgpack values than the
# limit allows stops the program naming the record and its offset, before msgpack-c
# builds its tree.
source "$ROOT/tests/lib.sh"
need_py msgpack
$PY - <<'PY' || fail "making the streams"
import msgpack, struct
ok = msgpack.packb({"type": "note", "id": "fine"})
# {"type": "x", "data": bin32 of 1 GiB less 64 bytes (under --max-record)} and then 100 bytes
head = b"\x82" + msgpack.packb("type") + msgpack.packb("x") + msgpack.packb("data") + b"\xc6" + struct.pack(">I", (1 << 30) - 64)
open("declared.mp", "wb").write(ok + head + b"\0" * (120 - len(ok) - len(head)))
# two "label" keys: the first says 1, the last 2
dup = b"\x84" + b"".join(msgpack.packb(x) for x in ("type", "note", "id", "twice", "label", 1, "label", 2))
open("dup.mp", "wb").write(ok + dup + ok)
# 70000 nils in one array: over the 65536 values a --max-record of 1 MiB allows
many = b"\x82" + msgpack.packb("type") + msgpack.packb("x") + msgpack.packb("v") + b"\xdd" + struct.pack(">I", 70000) + b"\xc0" * 70000
open("many.mp", "wb").write(ok + many)
PY
if [ "${ASAN:-0}" = 1 ]; then
	echo "ASan reserves more address space than the limit: the limited run is skipped"
	expect_exit 2 recview declared.mp
else
	expect_exit 2 bash -c 'ulimit -v 524288 && exec recview declared.mp'
fi
expect_stderr "^recview: declared.mp: record 1 at byte 19: truncated: the stream ends after 101 of at least 1073741778 bytes$"
grep -q "out of memory" err && fail "declared 1 GiB: $(cat err)"

expect_exit 1 recview dup.mp
expect_stderr "^recview: dup.mp: record 1 at byte 19: key \"label\" appears twice"
[ "$(grep -c '"id":"fine"' out)" = 2 ] || fail "dup.mp: the stream did not go on: $(cat out)"
# a filter writes the record's error record in its place (rnencode reads no weights
# for a stream without images: an empty file passes its check)
: >empty.pth
rnencode --model resnet50 --weights empty.pth <dup.mp 2>err | recview >out
[ "$(grep -c '"id":"fine"' out)" = 2 ] || fail "dup.mp through rnencode: $(cat out)"
grep -q '"type":"error","id":"twice","path":"","label":1,"stage":"rnencode","message":"stdin: record 1 at byte 19: key \\"label\\" appears twice' out ||
	fail "dup.mp: no error record naming the key: $(cat out)"

expect_exit 2 recview --max-record 1048576 many.mp
expect_stderr "^recview: many.mp: record 1 at byte 19: oversize: at least 70004 msgpack values, limit 65536"
expect_exit 0 recview many.mp
exit 0
