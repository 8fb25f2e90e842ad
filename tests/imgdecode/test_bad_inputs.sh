# imgdecode on bad inputs: each gives one error record naming it and one
# stderr line, the files around it still come out, the exit status is 1;
# --strict stops at the first; libjpeg warnings are printed, image kept.
source "$ROOT/tests/lib.sh"
need_py msgpack
D=$TESTDATA/imgdecode
cp "$TESTDATA/images/n01440764_tench.JPEG" good.jpg
cp good.jpg good2.jpg                         # one id each: a file named twice is refused
cp "$D/png_rgb.png" png_named.jpg        # content decides, not the name
mkdir adir
# file arguments in this order; good files between the bad ones
args=(good.jpg "$D/empty.jpg" "$D/text.jpg" "$D/gif.gif" missing.jpg "$D/truncated.jpg"
      "$D/truncated_prog.jpg" "$D/no_eoi.jpg" "$D/bad_header.jpg" "$D/huge_dims.jpg" "$D/two_comp.jpg"
      "$D/truncated.png" "$D/bad_crc.png" "$D/many_scans.jpg" png_named.jpg "$D/corrupt_data.jpg" good2.jpg)
expect_exit 1 imgdecode -p imagenet "${args[@]}"
for pat in \
	"$D/empty.jpg: empty file" \
	"$D/text.jpg: not a JPEG or PNG file: text" \
	"$D/gif.gif: not a JPEG or PNG file: GIF image" \
	"missing.jpg: cannot open: No such file or directory" \
	"$D/truncated.jpg: truncated JPEG" \
	"$D/truncated_prog.jpg: truncated JPEG" \
	"$D/no_eoi.jpg: truncated JPEG" \
	"$D/bad_header.jpg: corrupt JPEG: Empty JPEG image" \
	"$D/huge_dims.jpg: image too large: 30000x30000 = 900000000 pixels, over the limit of 178956970" \
	"$D/two_comp.jpg: cannot handle 2-component JPEG" \
	"$D/truncated.png: truncated PNG" \
	"$D/bad_crc.png: corrupt PNG: bad CRC in the IHDR chunk \\(before the image data\\)" \
	"$D/many_scans.jpg: corrupt JPEG: more than 500 progressive scans" \
	"$D/corrupt_data.jpg: libjpeg warning: Corrupt JPEG data"; do
	expect_stderr "^imgdecode: $pat"
done
[ "$(wc -l <err)" = 14 ] || { cat err; fail "expected 14 stderr lines"; }
cp out out1 && cp err err1
$PY - "${args[@]}" <<'PY' || fail "records"
import sys, msgpack
args = sys.argv[1:]
recs = [r for r in msgpack.Unpacker(open("out", "rb"), raw=False) if r["type"] in ("image", "error")]
assert [r["id"] for r in recs] == args, [r["id"] for r in recs]
kinds = ["image" if a in ("good.jpg", "good2.jpg", "png_named.jpg") or a.endswith("corrupt_data.jpg") else "error" for a in args]
assert [r["type"] for r in recs] == kinds, [r["type"] for r in recs]
for r in recs:
    if r["type"] == "error":
        assert r["stage"] == "imgdecode" and r["label"] == -1 and r["path"] and r["message"], r
    else:
        assert r["tensor"]["shape"] == [224, 224, 3], r["id"]
stats = list(msgpack.Unpacker(open("out", "rb"), raw=False))[-1]
assert stats["type"] == "stats" and stats["images"] == 4 and stats["errors"] == 13, stats
PY
# --strict: stops at the first failure, its error record is the last output
expect_exit 1 imgdecode --strict good.jpg "$D/empty.jpg" good.jpg
expect_stderr "empty.jpg: empty file"
$PY -c "
import msgpack
t = [r['type'] for r in msgpack.Unpacker(open('out', 'rb'), raw=False)]
assert t == ['header', 'image', 'error', 'stats'], t" || fail "--strict"
# --max-pixels applies to every image
expect_exit 1 imgdecode --max-pixels 100000 good.jpg "$D/small_100x80.jpg"
expect_stderr "good.jpg: image too large: 500x375 = 187500 pixels, over the limit of 100000"
$PY -c "
import msgpack
t = [r['type'] for r in msgpack.Unpacker(open('out', 'rb'), raw=False)]
assert t == ['header', 'error', 'image', 'stats'], t" || fail "--max-pixels"
# ... and to file sizes: 8 bytes per allowed pixel at most, the file is not read
expect_exit 1 imgdecode --max-pixels 4000 good.jpg
expect_stderr "good.jpg: file too large: 100582 bytes for at most 4000 pixels"
# the same errors from stdin paths and from -j 3 (no crash, same records)
printf '%s\n' "${args[@]}" | imgdecode -p imagenet -j 3 >out3 2>err3
[ $? = 1 ] || fail "-j 3 exit status"
cmp err1 err3 || fail "-j 3 stderr differs (content or order)"
cmp <($PY "$ROOT/tests/py/imgdecode_records.py" out1) <($PY "$ROOT/tests/py/imgdecode_records.py" out3) || fail "-j 3 records differ"
# a directory named on stdin is an input that fails; as an argument it is walked
printf 'adir\ngood.jpg\n' | imgdecode >out 2>err
[ $? = 1 ] || fail "stdin directory: exit status"
expect_stderr "^imgdecode: adir: is a directory$"
# ... and when it holds no image (an empty mount point), an error record, not an empty run
expect_exit 1 imgdecode adir good.jpg
expect_stderr "^imgdecode: adir: no image files in this directory$"
$PY "$ROOT/tests/py/imgdecode_records.py" out | cut -f1,2 | tr '\t\n' ': ' | grep -qx 'error:adir image:good.jpg ' ||
	fail "an empty directory: $($PY "$ROOT/tests/py/imgdecode_records.py" out)"
# a directory of only bad files: exit 1, nothing but error records
mkdir bad && cp "$D/empty.jpg" "$D/truncated.jpg" bad/
expect_exit 1 imgdecode bad
[ "$(wc -l <err)" = 2 ] || fail "two errors expected"
# usage errors: exit 2, nothing on stdout
expect_exit 2 imgdecode --preset bogus good.jpg
expect_stderr "unknown preset 'bogus'"
expect_empty_stdout
expect_exit 2 imgdecode --dtype int8 good.jpg
expect_empty_stdout
expect_exit 2 imgdecode --shard 3/3 good.jpg
expect_exit 2 imgdecode --std 1,0,1 good.jpg
expect_exit 2 imgdecode --labels missing.tsv good.jpg
expect_stderr "missing.tsv: No such file"
expect_empty_stdout
# a PNG over libpng's default width limit (1000000), which Pillow has not: --max-pixels is the bound
$PY -c "from PIL import Image; Image.new('RGB', (1000001, 2), (10, 20, 30)).save('wide.png')" || fail "wide.png"
expect_exit 0 imgdecode wide.png
$PY -c "
import msgpack
r = [x for x in msgpack.Unpacker(open('out', 'rb'), raw=False) if x['type'] == 'image']
assert len(r) == 1 and r[0]['source_size'] == [2, 1000001], r[0]['source_size']" || fail "wide.png: $(cat err)"
if [ "$(id -u)" != 0 ]; then
	cp good.jpg locked.jpg && chmod 000 locked.jpg
	expect_exit 1 imgdecode locked.jpg
	expect_stderr "locked.jpg: cannot open: Permission denied"
fi
exit 0
