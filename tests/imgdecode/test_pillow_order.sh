# imgdecode --resize-order against the Pillows that do each order: pil9 (the
# default) against Debian's Pillow 9.4, pil12.2 against pip's Pillow 12.3.0,
# pil13 against pip's Pillow 13.0.0 (venvs made once by tests/pillow-venv;
# skipped when PyPI cannot be reached). Images made here where the orders
# differ: portraits over twice as tall as wide, shrunk (Pillow 13 goes
# vertical first), one over 100 times taller than wide (Pillow 12.2 too),
# in RGB, grey, RGBA and JPEG; and a landscape, where none does. uint8
# crops must be identical; pil9 must differ from Pillow 13 somewhere, or
# the images test nothing.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
PY12=$("$ROOT/tests/pillow-venv" 12.3.0) || skip "$(echo "$PY12" | tail -n 1)"
PY13=$("$ROOT/tests/pillow-venv" 13.0.0) || skip "$(echo "$PY13" | tail -n 1)"
$PY - <<'PY' || fail "making the images"
import numpy as np
from PIL import Image
rng = np.random.default_rng(7)
def noise(w, h, c):
    # smooth enough to resize like a photo, rough enough to round differently
    a = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, c), dtype=np.uint8)
    a = np.asarray(Image.fromarray(a.squeeze()).resize((w, h), Image.BICUBIC))
    return (a.astype(int) + rng.integers(-40, 41, a.shape)).clip(0, 255).astype(np.uint8)
Image.fromarray(noise(90, 400, 3)).save("tall_rgb.png")
Image.fromarray(noise(60, 250, 1).squeeze(), "L").save("tall_l.png")
Image.fromarray(noise(80, 300, 4), "RGBA").save("tall_rgba.png")
Image.fromarray(noise(100, 320, 3)).save("tall.jpg", quality=90)
Image.fromarray(noise(400, 150, 3)).save("wide.png")
Image.fromarray(noise(5, 600, 3)).save("needle.png")
PY
cat >ref.py <<'PY'
# ref.py STREAM...: for each imgdecode stream, how many of its image records
# differ from this Python's Pillow (Resize + CenterCrop as torchvision 0.14
# does them on a PIL image); prints "STREAM N".
import sys
import msgpack
import numpy as np
from PIL import Image
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
for stream in sys.argv[1:]:
    recs = list(msgpack.Unpacker(open(stream, "rb"), raw=False))
    h, n = recs[0], 0
    for r in recs:
        if r["type"] == "error":
            sys.exit("%s: %s" % (r["path"], r["message"]))
        if r["type"] != "image":
            continue
        im = Image.open(r["path"])
        if h["rgb_convert"] == "on-load":
            im = im.convert("RGB")
        w, ht = im.size
        s = h["resize"]
        nw, nh = (s, int(s * ht / w)) if w <= ht else (int(s * w / ht), s)
        im = im.resize((nw, nh), FILTERS[h["filter"]])
        c = h["crop"]
        x, y = int(round((nw - c) / 2.0)), int(round((nh - c) / 2.0))
        im = im.crop((x, y, x + c, y + c))
        if h["rgb_convert"] != "on-load":
            im = im.convert("RGB")
        t = r["tensor"]
        n += not np.array_equal(np.frombuffer(t["data"], np.uint8).reshape(t["shape"]), np.asarray(im))
    print(stream, n)
PY
for order in pil9 pil12.2 pil13; do
	for p in imagenet clip; do
		imgdecode -p $p --resize 48 --crop 40 --resize-order $order tall_rgb.png tall_l.png tall_rgba.png \
			tall.jpg wide.png >$order-$p.mp 2>err || fail "$order $p: $(cat err)"
		imgdecode -p $p --resize 4 --crop 4 --resize-order $order needle.png >$order-$p-needle.mp 2>err ||
			fail "$order $p needle: $(cat err)"
	done
done
$PY -c "
import msgpack
h = next(msgpack.Unpacker(open('pil13-clip.mp', 'rb'), raw=False))
assert h['resize_order'] == 'pil13', h" || fail "resize_order in the header"
# want PYTHON ORDER DIFFERING: the streams of ORDER, compared with PYTHON's
# Pillow, have DIFFERING records that differ in all ("some": at least one)
want() {
	"$1" ref.py "$2"-*.mp >cmp.txt 2>&1 || { cat cmp.txt; fail "$2: ref.py failed"; }
	local n
	n=$(awk '{ s += $2 } END { print s }' cmp.txt)
	if [ "$3" = some ]; then
		[ "$n" -gt 0 ] || { cat cmp.txt; fail "$2 against $($1 -c 'import PIL; print(PIL.__version__)'): no difference"; }
	else
		[ "$n" = "$3" ] || { cat cmp.txt; fail "$2 against $($1 -c 'import PIL; print(PIL.__version__)'): $n differ"; }
	fi
}
want "$PY" pil9 0
want "$PY12" pil12.2 0
want "$PY13" pil13 0
# the orders matter on these images, each where its Pillow says
want "$PY13" pil9 some
want "$PY" pil13 some
want "$PY12" pil13 some
"$PY13" ref.py pil9-imagenet-needle.mp pil9-clip-needle.mp | grep -qv ' 0$' || fail "needle.png: pil9 equals Pillow 13"
"$PY12" ref.py pil9-imagenet-needle.mp pil9-clip-needle.mp | grep -qv ' 0$' || fail "needle.png: pil9 equals Pillow 12.3"
"$PY13" ref.py pil9-clip.mp | grep -q ' 0$' && fail "pil9 equals Pillow 13 on the portraits"
exit 0
