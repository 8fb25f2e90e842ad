# imgdecode --border B (ObjectNet's frame, cut before anything else) against PIL's
# im.crop((B, B, w - B, h - B)) + torchvision: the 40 sample JPEGs (window decode and
# whole decode) and every PNG mode and JPEG variant of testdata/imgdecode, both presets,
# uint8 byte-identical and float32 within 1e-6; images smaller than the border are
# errors; --border with --fast is refused.
source "$ROOT/tests/lib.sh"
need_py torchvision
need_py msgpack
C="$PY $ROOT/tests/py/imgdecode_compare.py --quiet"
E=$TESTDATA/imgdecode
extra=()
for f in "$E"/png_*.png; do # every PNG that decodes (png_text_crc.png is refused, as by PIL)
	[ "$f" = "$E/png_text_crc.png" ] || extra+=("$f")
done
extra+=("$E"/cmyk.jpg "$E"/ycck.jpg "$E"/gray.jpg "$E"/progressive.jpg "$E"/sub411.jpg
	"$E"/tall_40x900.jpg "$E"/wide_1200x40.jpg "$E"/small_100x80.jpg "$E"/tiny_7x5.jpg)
expect_exit 0 imgdecode --preset imagenet --border 2 "$TESTDATA/images" "${extra[@]}"
mv out in2.mp
expect_exit 0 imgdecode --preset clip --border 2 --full-decode "$TESTDATA/images" "${extra[@]}"
mv out clip3.mp
expect_exit 0 imgdecode --preset imagenet --border 1 --dtype float32 "$TESTDATA/images" "${extra[@]}"
mv out f32.mp
$C in2.mp clip3.mp f32.mp >cmp.txt || { cat cmp.txt; fail "--border differs from PIL's crop"; }
[ "$(grep -c "^compared $((40 + ${#extra[@]})) images" cmp.txt)" = 3 ] || { cat cmp.txt; fail "not every image compared"; }
# the border changes the crop: not the same bytes as without it
imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >plain.mp 2>/dev/null
imgdecode --preset imagenet --border 2 "$TESTDATA/images/n01440764_tench.JPEG" >b2.mp 2>/dev/null
! cmp -s <($PY "$ROOT/tests/py/imgdecode_records.py" plain.mp) <($PY "$ROOT/tests/py/imgdecode_records.py" b2.mp) ||
	fail "--border 2 gave the same crop as no border"
# nothing left inside the border: an error record, the run goes on
expect_exit 1 imgdecode --border 2 "$E/tiny_7x5.jpg" "$E/tiny_2x3.jpg" "$E/png_l.png"
expect_stderr 'tiny_2x3.jpg: image too small for a 2-pixel border: 2x3$'
$PY "$ROOT/tests/py/imgdecode_records.py" out | cut -f1 | tr '\n' ' ' | grep -qx 'image error image ' ||
	fail "records: $($PY "$ROOT/tests/py/imgdecode_records.py" out)"
expect_exit 2 imgdecode --border 2 --fast "$E/png_l.png"
expect_stderr 'not together'
expect_empty_stdout
expect_exit 2 imgdecode --border -1 "$E/png_l.png"
