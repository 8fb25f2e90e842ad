# The window decode (only the part of a JPEG the crop reads) gives the same
# bytes as decoding the whole image, for crops anywhere in every kind of test
# JPEG: chroma subsamplings, progressive with block smoothing, arithmetic,
# restart markers, grayscale, CMYK/YCCK, tiny and elongated; exact and --fast.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
files=("$TESTDATA"/imgdecode/*.jpg "$TESTDATA"/images/*.JPEG)
for s in "256 224" "224 224" "97 13" "137 87" "300 17" "0 16" "0 100" "1000 333"; do
	set -- $s
	for mode in "" --fast; do
		imgdecode --resize $1 --crop $2 $mode "${files[@]}" >win.mp 2>win.err
		imgdecode --resize $1 --crop $2 $mode --full-decode "${files[@]}" >full.mp 2>full.err
		cmp <($R win.mp) <($R full.mp) || { diff <($R win.mp) <($R full.mp) | head; fail "resize $1 crop $2 $mode: window decode differs"; }
		cmp win.err full.err || fail "resize $1 crop $2 $mode: stderr differs"
	done
done
[ "$($R win.mp | grep -c "^image")" = 65 ] || fail "65 images expected"
exit 0
