# imgdecode, a shard's KEY.cls holding a NUL byte ('1\0' '7'): the text is
# read as a C string (parse_index after the member's bytes are copied), so
# it is cut at the NUL and the sample gets label 1, exit 0; WebDataset's
# int() refuses that text. Ids holding a NUL were fixed the same way (an id
# is text). Right: not a class index: the sample's error record, exit 1.
$PY - <<'PY' || fail "making the shard"
import io, os, tarfile
img = open(os.environ["TESTDATA"] + "/imgdecode/tiny_7x5.jpg", "rb").read()
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
    for name, data in (("s0.jpg", img), ("s0.cls", b"1\x007")):
        ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
open("shard.tar", "wb").write(out.getvalue())
PY
expect_exit 1 imgdecode shard.tar
expect_stderr "s0.cls.*not a class index"
