# imgdecode, a shard whose last header is a GNU long-name header ('L'; a
# 'K' or pax 'x' header alike) with no member after it (the archive's end
# blocks come next): the name is dropped without a word, and the sample
# whose image it held is gone: exit 0 with one record fewer, where Python's
# tarfile (and so WebDataset) fails on the shard ('end of file header').
# Right: a broken tar: an error record for the rest of the shard, exit 1.
$PY - <<'PY' || fail "making the shard"
import io, os, tarfile
img = open(os.environ["TESTDATA"] + "/imgdecode/tiny_7x5.jpg", "rb").read()
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
    for name in ("s0.jpg", "s1.jpg"):
        ti = tarfile.TarInfo(name); ti.size = len(img); tf.addfile(ti, io.BytesIO(img))
b = bytearray(out.getvalue())
o = 512 + (len(img) + 511) // 512 * 512  # s1.jpg's header becomes a long name for nothing
b[o + 156] = ord("L")
b[o + 148:o + 156] = b" " * 8
b[o + 148:o + 156] = b"%06o\0 " % sum(b[o:o + 512])
open("shard.tar", "wb").write(bytes(b))
try:
    tarfile.open("shard.tar").getmembers()
    raise SystemExit("tarfile reads it")
except tarfile.ReadError:
    pass
PY
expect_exit 1 imgdecode shard.tar
