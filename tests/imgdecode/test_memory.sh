# imgdecode --max-memory: what one image may hold while it is decoded,
# checked before it is allocated. Two small hostile files (made here): an
# 80-byte 1x170000000 greyscale PNG (it once took 1.33 GB of row pointers
# and pixels before failing) and a 70-byte progressive arithmetic JPEG
# claiming 13000x13000 pixels (its DCT coefficients: 1 GB). Each fails with
# one stderr line naming the bound (no separate "large image" warning), and
# the peak RSS the stats record reports stays under the bound. Ordinary
# images under a small bound, files and tar members over it, the option's
# spelling (K, M, G) and -j.
source "$ROOT/tests/lib.sh"
need_py msgpack
$PY - <<'PY' || fail "making the files"
import struct, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open("tall.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 170000000, 8, 0, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(b"\0\x80" * 8)) + chunk(b"IEND", b""))
def seg(m, d):
    return b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d
# SOF10: progressive, arithmetic coding; one DC scan of all three components, no data
open("prog13k.jpg", "wb").write(b"\xff\xd8" + seg(0xdb, b"\0" + bytes([1] * 64))
    + seg(0xca, struct.pack(">BHHB", 8, 13000, 13000, 3) + b"\x01\x11\0\x02\x11\0\x03\x11\0")
    + seg(0xda, b"\x03\x01\0\x02\0\x03\0\0\0\0") + b"\xff\xd9")
PY
# peak RSS in MiB, from the stats record of out
peak() { $PY -c "
import msgpack
print(list(msgpack.Unpacker(open('out', 'rb'), raw=False))[-1]['peak_memory_bytes'] >> 20)"; }
# the default bound (1 GiB): both refused before their buffers exist
expect_exit 1 imgdecode prog13k.jpg
[ "$(wc -l <err)" = 1 ] || fail "one failure, one line: $(cat err)"
expect_stderr "^imgdecode: prog13k.jpg: memory bound: the DCT coefficients of this 13000x13000 progressive JPEG \(held whole\) and its decoded 13000x13000 window would take this image to [0-9]+ bytes, over --max-memory 1073741824$"
[ "$(peak)" -lt 1024 ] || fail "prog13k.jpg: peak RSS $(peak) MiB, over the 1 GiB bound"
# resized, the PNG is refused for its shape; unresized it is decoded until its data ends
expect_exit 1 imgdecode tall.png
expect_stderr "^imgdecode: tall.png: image too elongated to resize: 1x170000000$"
expect_exit 1 imgdecode --resize 0 tall.png
expect_stderr "^imgdecode: tall.png: corrupt PNG: Not enough image data$"
[ "$(peak)" -lt 1024 ] || fail "tall.png: peak RSS $(peak) MiB, over the 1 GiB bound"
# a 64 MiB bound, four at a time
mkdir -p again && cp tall.png prog13k.jpg again/ # one id each: a file named twice is refused as such
expect_exit 1 imgdecode -j 4 --max-memory 64M --resize 0 tall.png prog13k.jpg again/tall.png again/prog13k.jpg
[ "$(wc -l <err)" = 4 ] || fail "-j 4: one line per file: $(cat err)"
expect_stderr "^imgdecode: (again/)?tall.png: memory bound: the decoded 1x170000000 PNG would take this image to [0-9]+ bytes, over --max-memory 67108864$"
expect_stderr "^imgdecode: (again/)?prog13k.jpg: memory bound: the DCT coefficients of this 13000x13000 progressive JPEG"
[ "$(peak)" -lt 64 ] || fail "-j 4 --max-memory 64M: peak RSS $(peak) MiB"
$PY -c "
import msgpack
r = [x for x in msgpack.Unpacker(open('out', 'rb'), raw=False) if x['type'] == 'error']
assert [x['id'] for x in r] == ['tall.png', 'prog13k.jpg', 'again/tall.png', 'again/prog13k.jpg'] and all('--max-memory 67108864' in x['message'] for x in r), r
h = next(msgpack.Unpacker(open('out', 'rb'), raw=False))
assert h['max_memory'] == 64 << 20, h" || fail "error records and header"
# past the bound (4G), a malloc that fails (ulimit -v) is said as that, in one line, not
# as a corrupt file after a "large image" warning (ASan's shadow memory needs no ulimit)
if [ "${ASAN:-0}" != 1 ]; then
	(ulimit -v 400000 && exec imgdecode --max-memory 4G prog13k.jpg) >out 2>err
	[ $? = 1 ] || fail "4G under ulimit -v: exit status"
	[ "$(wc -l <err)" = 1 ] || fail "4G under ulimit -v: one line expected: $(cat err)"
	expect_stderr "^imgdecode: prog13k.jpg: out of memory in libjpeg \(Insufficient memory \(case [0-9]+\)\)$"
fi
# an ordinary image: decoded under a small bound, refused under a smaller one
G=$TESTDATA/images/n01440764_tench.JPEG
expect_exit 0 imgdecode --max-memory 4M "$G"
expect_exit 1 imgdecode --max-memory 600K "$G"
expect_stderr "^imgdecode: .*tench.JPEG: memory bound: its decoded [0-9]+x[0-9]+ window would take this image to [0-9]+ bytes, over --max-memory 614400$"
# a file over the bound is not read; a tar member over it is refused, the shard goes on
expect_exit 1 imgdecode --max-memory 50K "$G"
expect_stderr "tench.JPEG: memory bound: the file's bytes would take this image to 100582 bytes, over --max-memory 51200$"
tar -cf t.tar -C "$TESTDATA/images" n01440764_tench.JPEG -C "$TESTDATA/imgdecode" tiny_7x5.jpg
expect_exit 1 imgdecode --max-memory 50K --resize 32 --crop 32 t.tar
expect_stderr "^imgdecode: t.tar/n01440764_tench.JPEG: tar member: member too large: 100582 bytes \(limit 51200: --max-memory\)$"
$PY "$ROOT/tests/py/imgdecode_records.py" out | cut -f1,2 | tr '\t\n' ': ' | grep -qx 'error:t.tar/n01440764_tench image:t.tar/tiny_7x5 ' ||
	fail "tar member over the bound: $($PY "$ROOT/tests/py/imgdecode_records.py" out)"
# the spelling: K, M, G (any case), 1 to 2^50 bytes; anything else a usage error
for ok in 1073741824 1G 1g 1024M 1048576k; do
	expect_exit 0 imgdecode --max-memory $ok "$G"
done
for bad in 0 -1 1T 1.5G G 1GB '' 2000000G ' 1G'; do
	expect_exit 2 imgdecode --max-memory "$bad" "$G"
	expect_empty_stdout
	expect_stderr "^imgdecode: --max-memory: expected a number of bytes"
done
exit 0
