# imgdecode, a WebDataset shard with a directory (or link) member whose size
# field is not 0: imgtar skips that many bytes of data, Python's tarfile
# (and so WebDataset) takes the next header right after it, so the two read
# different samples from one shard: here WebDataset reads a sample 'hidden'
# that imgdecode skips as the directory's data (and imgdecode reads the
# shard with exit 0 and two records where WebDataset gives three). Right: a member whose size
# readers disagree on is a broken tar (one error record for the rest of the
# shard, exit 1).
$PY - <<'PY' || fail "making the shard"
import io, os, tarfile
img = open(os.environ["TESTDATA"] + "/imgdecode/tiny_7x5.jpg", "rb").read()
inner = io.BytesIO()
with tarfile.open(fileobj=inner, mode="w", format=tarfile.USTAR_FORMAT) as tf:
    ti = tarfile.TarInfo("hidden.jpg"); ti.size = len(img); tf.addfile(ti, io.BytesIO(img))
hidden = inner.getvalue()[:512 + (len(img) + 511) // 512 * 512]  # its member, no end blocks
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
    ti = tarfile.TarInfo("s0.jpg"); ti.size = len(img); tf.addfile(ti, io.BytesIO(img))
    d = tarfile.TarInfo("dir"); d.type = tarfile.DIRTYPE; d.size = 0
    tf.addfile(d)
    ti = tarfile.TarInfo("s1.jpg"); ti.size = len(img); tf.addfile(ti, io.BytesIO(img))
b = bytearray(out.getvalue())
# the directory's header (the second) claims the hidden member as its data
o = 512 + (len(img) + 511) // 512 * 512
b[o + 124:o + 136] = b"%011o\0" % len(hidden)
b[o + 148:o + 156] = b" " * 8
b[o + 148:o + 156] = b"%06o\0 " % sum(b[o:o + 512])
b[o + 512:o + 512] = hidden
open("shard.tar", "wb").write(bytes(b))
names = [m.name for m in tarfile.open("shard.tar").getmembers()]
assert names == ["s0.jpg", "dir", "hidden.jpg", "s1.jpg"], names
PY
expect_exit 1 imgdecode shard.tar
