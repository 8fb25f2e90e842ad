# Diagnostics quote record text (a dtype, an id, a .cls member) through
# the diag escaper (common/diag.c), which escapes control characters but
# passes bytes that are not UTF-8 through raw: a lone 0x9B is CSI on a
# terminal in an 8-bit locale, and the line is not text (the JSON writer and
# the records already write such a byte as \x9B). Right: every stderr line
# is UTF-8, a byte that is not written as \xNN.
$PY - <<'PY' || fail "making the stream"
import msgpack
b = msgpack.packb({"type": "x", "id": "i", "tensor": {"dtype": "fl@@", "shape": [0], "data": b""}})
open("d.mp", "wb").write(b.replace(b"@@", b"\x9b\xff"))
PY
for p in recview zscore errstats; do
	$p d.mp >out 2>err
	[ -s err ] || fail "$p: no stderr line"
	$PY -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' err ||
		fail "$p: stderr is not UTF-8: $(od -c err | head -3)"
done
