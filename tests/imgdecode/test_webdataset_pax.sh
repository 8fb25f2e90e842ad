# imgdecode on WebDataset shards with long and non-ASCII member names: the
# same 8 images as files and as shards written by Python's tarfile in PAX
# format (pax "path" records) and GNU format ('L' headers), and by hand (a
# pax global header, pax "size" over a 0 size field, a later "path" record
# winning, GNU 'K' before 'L'), keys of 150 bytes, 150 bytes under a folder,
# not ASCII, and short: the same tensors and labels as the files, ids
# SHARD/KEY with the whole key. Hostile extended headers: each refused member
# gives an error record and a stderr line, the members after it still come
# out, exit 1; a pax size that is not a number or a shard cut inside pax data
# gives one error record for the rest of the shard.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
MK="$PY $ROOT/tests/py/webdataset_make.py"
mkdir files
ls "$TESTDATA/images" | sort | head -8 | while read -r f; do cp "$TESTDATA/images/$f" files/; done
$MK longnames . "$TESTDATA/labels.tsv" files/* || fail "building shards"
[ "$(grep -c . keys.txt)" = 8 ] && [ "$(sed -n 1p keys.txt | tr -d '\n' | wc -c)" = 150 ] || fail "keys.txt: $(cat keys.txt)"
grep -q "$(printf '\303\261and\303\272')" keys.txt || fail "a non-ASCII key expected"
expect_exit 0 imgdecode -p imagenet -l "$TESTDATA/labels.tsv" files
mv out files.mp
[ "$($R files.mp | grep -c '^image')" = 8 ] || fail "8 images from files"
for t in pax gnu raw; do
	expect_exit 0 imgdecode -p imagenet $t.tar
	[ -s err ] && fail "$t.tar: stderr: $(cat err)"
	mv out $t.mp
	cmp <($R files.mp | cut -f1,3-) <($R $t.mp | cut -f1,3-) ||
		{ diff <($R files.mp | cut -f1,3-) <($R $t.mp | cut -f1,3-) | head; fail "$t.tar differs from the files"; }
	cmp <($R $t.mp | cut -f2) <(sed "s|^|$t.tar/|" keys.txt) ||
		{ diff <($R $t.mp | cut -f2) <(sed "s|^|$t.tar/|" keys.txt); fail "$t.tar: ids"; }
done
# ustar.tar: the keys under a folder, stored as ustar prefix + name
expect_exit 0 imgdecode -p imagenet ustar.tar
cmp <($R out) <($R pax.mp | grep '	pax.tar/d\{60\}/' | sed 's|	pax.tar/|	ustar.tar/|') || fail "ustar prefix names: $($R out)"
[ "$($R out | wc -l)" = 2 ] || fail "ustar.tar: 2 samples expected"
# -j 2 on long names: the same records
imgdecode -p imagenet -j 2 pax.tar >j2.mp 2>/dev/null || fail "-j 2"
cmp <($R pax.mp) <($R j2.mp) || fail "-j 2 differs on pax.tar"

# hostile extended headers, after a good sample (key 'good', class 7)
$MK hostile-pax . "$TESTDATA/images/n01440764_tench.JPEG" || fail "building hostile tars"
expect_exit 1 imgdecode --max-pixels 200000 paxbad.tar
$R out >rec
head -1 rec | grep -q "^image	paxbad.tar/good	7	" || fail "the good sample first: $(head -1 rec)"
tail -1 rec | grep -q "^image	paxbad.tar/after	-1	" || fail "the member after the bad ones: $(tail -1 rec)"
# the two '..' members (a pax path, a GNU long name) share their key: one sample, one
# error record, a stderr line each
[ "$(grep -c '^error' rec)" = 8 ] || fail "8 error records expected: $(cat rec)"
[ "$(grep -c '^imgdecode: ' err)" = 9 ] || fail "9 stderr lines expected: $(cat err)"
long="\.\./x{150}\.jpg: tar member: unsafe name \(absolute or with '\.\.'\)"
expect_stderr "^imgdecode: paxbad.tar/b1.jpg: tar member: malformed pax record at byte 0 of the extended header at byte [0-9]+$"
expect_stderr "^imgdecode: paxbad.tar/b2.jpg: tar member: malformed pax record at byte 0 "
expect_stderr "^imgdecode: paxbad.tar/b3.jpg: tar member: malformed pax record .*\(no KEY=\)$"
expect_stderr "^imgdecode: paxbad.tar/b4.jpg: tar member: malformed pax record .*\(no newline at its end\)$"
expect_stderr "^imgdecode: paxbad.tar/b5.jpg: tar member: NUL byte in the name in a pax header$"
[ "$(grep -Ec "^imgdecode: paxbad.tar/$long" err)" = 2 ] || fail "'..' in a pax path and a GNU long name: $(cat err)"
expect_stderr "^imgdecode: paxbad.tar/b8.jpg: tar member: pax header of 2097169 bytes at byte [0-9]+ \(limit 1048576\): not read$"
expect_stderr "^imgdecode: paxbad.tar/b9.jpg: tar member: name of 5004 bytes in a pax header \(limit 4095\)$"
grep -q "^error	paxbad.tar/b9	-1	tar member: name of 5004 bytes" rec || fail "error record of b9: $(cat rec)"
for t in paxsize paxcut; do
	expect_exit 1 imgdecode $t.tar
	$R out >rec
	[ "$(wc -l <rec)" = 2 ] && head -1 rec | grep -q "^image	$t.tar/good	7	" || fail "$t.tar: $(cat rec)"
done
expect_exit 1 imgdecode paxsize.tar
expect_stderr "^imgdecode: paxsize.tar: broken tar structure: pax header at byte [0-9]+: size '12x' is not a decimal number below 2\^59; the rest"
expect_exit 1 imgdecode paxcut.tar
expect_stderr "^imgdecode: paxcut.tar: broken tar structure: extended header at byte [0-9]+ claims 3015 bytes, only 1000 left in the file"
exit 0
