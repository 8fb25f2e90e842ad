# imgdecode presets vs Debian's PIL + torchvision: every preset over the 40
# sample JPEGs and the edge-case files of testdata/imgdecode (CMYK, YCCK,
# progressive with block smoothing, arithmetic, restart markers, every chroma
# subsampling, tiny, elongated, large, every PNG mode, the chunk cases where
# Pillow and libpng differ: no PLTE, a bad IDAT CRC): uint8 crops
# byte-identical, float32/float16 equal to ToTensor + Normalize within 1e-6;
# the files imgdecode refuses (bad inputs, fuzz finds) PIL refuses too, but
# many_scans.jpg, which PIL decodes and imgdecode's hang guard refuses.
source "$ROOT/tests/lib.sh"
need_py torchvision
need_py msgpack
streams=()
run() { # run NAME ARGS...: decode both folders into NAME.mp
	local name=$1; shift
	imgdecode "$@" "$TESTDATA/images" "$TESTDATA/imgdecode" >"$name.mp" 2>"$name.err"
	local rc=$?
	[ $rc = 1 ] || { cat "$name.err"; fail "$name: exit $rc, expected 1 (the bad files in testdata/imgdecode)"; }
	[ "$(grep -c 'imgdecode: ' "$name.err")" = 15 ] || { cat "$name.err"; fail "$name: 14 errors and a warning expected on stderr"; }
	streams+=("$name.mp")
}
for p in imagenet imagenet-v2 clip; do
	run "$p-u8" --preset $p
done
run imagenet-f32 --preset imagenet --dtype float32
run clip-f16 --preset clip --dtype float16
# explicit settings: other filters, a crop larger than the resize (padding in
# the image's own mode: CMYK pads white, palette pads with entry 0), no resize
run lanczos --filter lanczos --resize 180 --crop 150
run pad-clip --preset clip --resize 96 --crop 128
run pad-imagenet --preset imagenet --resize 96 --crop 128 --dtype float32 --mean 0.5,0.5,0.5 --std 0.25,0.5,1
run noresize --resize 0 --crop 64
$PY "$ROOT/tests/py/imgdecode_compare.py" --quiet --check-errors --refused-ok many_scans.jpg --expect-errors 14 \
	"${streams[@]}" >cmp.txt 2>&1
rc=$?
cat cmp.txt
[ $rc = 0 ] || fail "imgdecode differs from PIL + torchvision"
[ "$(grep -c '^compared 79 images' cmp.txt)" = ${#streams[@]} ] || fail "expected 79 images in each of ${#streams[@]} runs"
# the record layout itself
$PY - <<'PY' || fail "record layout"
import msgpack
recs = list(msgpack.Unpacker(open("imagenet-u8.mp", "rb"), raw=False))
h = recs[0]
assert h["type"] == "header" and h["producer"] == "imgdecode" and h["preset"] == "imagenet", h
assert (h["resize"], h["crop"], h["filter"], h["dtype"], h["rgb_convert"], h["decode"]) == (256, 224, "bilinear", "uint8", "on-load", "exact"), h
assert [round(x, 6) for x in h["std"]] == [0.229, 0.224, 0.225], h["std"]
imgs = [r for r in recs if r["type"] == "image"]
t = imgs[0]["tensor"]
assert t["dtype"] == "uint8" and t["shape"] == [224, 224, 3], t["shape"]
assert imgs[0]["id"] == "n01440764_tench.JPEG" and imgs[0]["label"] == -1 and imgs[0]["preset"] == "imagenet"
assert imgs[0]["source_size"] == [375, 500], imgs[0]["source_size"]
assert recs[-1]["type"] == "stats" and recs[-1]["images"] == 79 and recs[-1]["errors"] == 14, recs[-1]
f = [r for r in msgpack.Unpacker(open("clip-f16.mp", "rb"), raw=False) if r["type"] == "image"][0]["tensor"]
assert f["dtype"] == "float16" and f["shape"] == [3, 224, 224], f
PY
exit 0
