# Inputs the fuzzer (fuzz/fuzz_jpeg.c) found, kept as regressions in
# testdata/imgdecode/fuzz/. Each runs after a good JPEG in the same process,
# as in a real run, and must end as PIL ends: PIL fails -> error record.
#   reused-tables-*.jpg  a progressive JPEG whose DHT got corrupted: a reused
#                        libjpeg object decoded it with the previous file's
#                        Huffman tables (differently in window and whole-image
#                        decode); now every file gets a fresh decompressor
#   no_dht.jpg           the same bug made plain: gray_prog.jpg without DHT
source "$ROOT/tests/lib.sh"
need_py torchvision
need_py msgpack
F=$TESTDATA/imgdecode/fuzz
args=()
i=0
for f in "$F"/*; do # gray_prog.jpg before each, a copy of its own (one id each)
	i=$((i + 1))
	cp "$TESTDATA/imgdecode/gray_prog.jpg" gray_prog$i.jpg
	args+=(gray_prog$i.jpg "$f")
done
for mode in "" --fast; do
	imgdecode -p clip $mode "${args[@]}" >out.mp 2>err
	rc=$?
	[ $rc = 0 ] || [ $rc = 1 ] || fail "exit $rc (a crash?) $mode"
	[ "$($PY "$ROOT/tests/py/imgdecode_records.py" out.mp | wc -l)" = ${#args[@]} ] || fail "one record per input $mode"
done
expect_exit 1 imgdecode -p clip "${args[@]}"
expect_stderr "no_dht.jpg: corrupt JPEG: Huffman table 0x00 was not defined"
cp out out.mp
$PY "$ROOT/tests/py/imgdecode_compare.py" --quiet --check-errors --expect-errors "$(ls "$F" | wc -l)" out.mp || fail "outcome differs from PIL"
exit 0
