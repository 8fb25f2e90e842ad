# imgdecode decodes, exit 0, files that PIL cannot open, where the README
# promises PIL's rules for damaged files: a PNG whose gAMA (or cHRM, iCCP)
# chunk is shorter than its fields (libpng warns and ignores it; PIL's chunk
# reader fails: 'cannot identify image file'), and a JPEG whose SOI is not
# followed by a marker (libjpeg skips the extraneous bytes with a warning;
# PIL wants FF D8 FF). The published evaluations, run with PIL, had no
# result for such a file. The same after the pixels: PIL reads the chunks
# after the image data up to IEND, and a short pHYs there, or a tEXt cut by
# the end of the file, fails its load(). Right: an error record as for
# other damaged files (exit 1).
$PY - <<'PY' || fail "making the files"
import os, struct, zlib
src = open(os.environ["TESTDATA"] + "/imgdecode/png_l.png", "rb").read()
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
ihdr_end = 8 + 25
open("gama.png", "wb").write(src[:ihdr_end] + chunk(b"gAMA", b"\x00\x01") + src[ihdr_end:])
iend = src.rindex(b"IEND") - 4
open("phys_after.png", "wb").write(src[:iend] + chunk(b"pHYs", b"\x00\x01") + src[iend:])
open("text_cut.png", "wb").write(src[:iend] + chunk(b"tEXt", b"k\x00" + b"x" * 100)[:-40])
jpg = open(os.environ["TESTDATA"] + "/imgdecode/tiny_7x5.jpg", "rb").read()
open("soi.jpg", "wb").write(jpg[:2] + b"JFIF\x00" + jpg[2:])
PY
for f in gama.png phys_after.png text_cut.png soi.jpg; do
	$PY -c "from PIL import Image; Image.open('$f').load()" 2>/dev/null && fail "PIL reads $f (the case is wrong)"
	expect_exit 1 imgdecode $f
	[ "$(recview --count out | awk '$1 == "error" {print $2}')" = 1 ] || fail "$f: $(recview --count out)"
done
