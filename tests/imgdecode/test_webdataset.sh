# imgdecode on WebDataset tar shards (built here with Python's tarfile): the
# same 30 images as files and as two shards give the same tensors and labels
# (.cls against labels.tsv), ids SHARD/key, -j and --shard work on shards,
# quoted brace patterns ('shards/part-{0..1}.tar') name shards;
# hostile tars give an error record + stderr line each, exit 1, and the good
# members before them still come out. Long names: test_webdataset_pax.sh.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
MK="$PY $ROOT/tests/py/webdataset_make.py"
mkdir files shards
ls "$TESTDATA/images" | sort | head -30 | while read -r f; do cp "$TESTDATA/images/$f" files/; done
$MK shards shards "$TESTDATA/labels.tsv" files/* || fail "building shards"
cp shards/part-1.tar shards/part-1.shard   # a tar is found by its bytes, not its name
expect_exit 0 imgdecode -p imagenet -l "$TESTDATA/labels.tsv" files
mv out files.mp
expect_exit 0 imgdecode --preset imagenet shards/part-0.tar shards/part-1.shard
mv out shards.mp
[ "$($R files.mp | wc -l)" = 30 ] || fail "30 images from files"
cmp <($R files.mp | cut -f1,3-) <($R shards.mp | cut -f1,3-) ||
	{ diff <($R files.mp | cut -f1,3-) <($R shards.mp | cut -f1,3-) | head; fail "shards differ from files"; }
$R shards.mp | cut -f3 | sort -u | wc -l | grep -qx 30 || fail "labels should be 30 different classes"
$R files.mp | cut -f3 | grep -qx -- -1 && fail "a file without label"
ids=$($R shards.mp | cut -f2 | sed -n '1p;16p' | tr '\n' ' ')
k16=$(ls files | sed -n 16p); k16=${k16%%.*}
[ "$ids" = "part-0.tar/n01440764_tench part-1.shard/$k16 " ] || fail "shard ids: $ids"
# -j 2 and --shard I/N over shards: the same records
imgdecode -p imagenet -j 2 shards/part-0.tar shards/part-1.shard >j2.mp 2>err || fail "-j 2"
cmp <($R shards.mp) <($R j2.mp) || fail "-j 2 differs from -j 1 on shards"
for i in 0 1; do imgdecode -p imagenet --shard $i/2 shards/part-0.tar shards/part-1.shard >s$i.mp 2>/dev/null; done
cmp <($R shards.mp | sort) <(cat s0.mp s1.mp | $R /dev/stdin | sort) || fail "--shard 0/2 + 1/2 is not the whole"
# hostile tars: each starts with a good sample (key 'good', class 7)
$MK hostile . "$TESTDATA/images/n01440764_tench.JPEG" || fail "building hostile tars"
check() { # tar, then the stderr line's pattern and the number of error records expected
	local t=$1 pat=$2 nerr=$3
	expect_exit 1 imgdecode --max-pixels 200000 "$t"
	expect_stderr "^imgdecode: $pat"
	$R out >rec
	head -1 rec | grep -q "^image	$t/good	7	" || fail "$t: the good sample first: $(head -1 rec)"
	[ "$(grep -c '^error' rec)" = "$nerr" ] || fail "$t: $nerr error records expected: $(cat rec)"
	$PY -c "
import msgpack
r = [r for r in msgpack.Unpacker(open('out', 'rb'), raw=False)]
assert r[0]['type'] == 'header' and r[-1]['type'] == 'stats' and r[-1]['errors'] == $nerr, r[-1]" ||
		fail "$t: header/stats records"
}
check paths.tar "paths.tar/\.\./up\.jpg: tar member: unsafe name \(absolute or with '\.\.'\)" 3
expect_stderr "^imgdecode: paths.tar//abs/x.jpg: tar member: unsafe name"
expect_stderr "^imgdecode: paths.tar/link.jpg: tar member: not a regular file \(tar typeflag '2'\)"
grep -q "^image	paths.tar/$(printf 'd%.0s' {1..120})	-1	" rec || fail "the pax long name: $(cat rec)"
grep -q "^image	paths.tar/after	-1	" rec || fail "the member after the hostile ones: $(cat rec)"
check huge.tar "huge.tar/big.jpg: tar member: member too large: 2000000 bytes \(limit 1600000: --max-pixels 200000 x 8 bytes a pixel\)" 1
grep -q "^image	huge.tar/after	-1	" rec || fail "the member after the huge one"
check trunc.tar "trunc.tar: broken tar structure: member 'cut.jpg' at byte [0-9]+ claims 100582 bytes, only [0-9]+ left" 1
check badsum.tar "badsum.tar: broken tar structure: bad header checksum at byte [0-9]+.*the rest of the shard is skipped" 1
check bigsize.tar "bigsize.tar: broken tar structure: member 'x.jpg' at byte [0-9]+ claims 1099511627776 bytes" 1
check octal.tar "octal.tar: broken tar structure: bad size field" 1
check shorthdr.tar "shorthdr.tar: broken tar structure: truncated header at byte [0-9]+ \(300 of 512 bytes\)" 1
# several shards: a broken one does not stop the next
expect_exit 1 imgdecode -p imagenet badsum.tar shards/part-0.tar
[ "$($R out | grep -c '^image')" = 16 ] || fail "the shard after a broken one"
# brace patterns (the shell leaves them alone when quoted): the same records as the names
imgdecode --preset imagenet shards/part-0.tar shards/part-1.tar >named.mp 2>/dev/null || fail "two shards named"
expect_exit 0 imgdecode --preset imagenet 'shards/part-{0..1}.tar'
cmp <($R named.mp) <($R out) || fail "'shards/part-{0..1}.tar' differs from naming the shards"
expect_exit 0 imgdecode --preset imagenet 'shards/part-{1.{tar,shard},0.tar}'
[ "$($R out | cut -f2 | cut -d/ -f1 | uniq | tr '\n' ' ')" = "part-1.tar part-1.shard part-0.tar " ] ||
	fail "{1.{tar,shard},0.tar}: $($R out | cut -f2 | uniq -c)"
expect_exit 1 imgdecode --preset imagenet 'shards/part-{0..2}.tar'   # part-2.tar does not exist
expect_stderr "^imgdecode: shards/part-2.tar: cannot open: No such file"
$R out | tail -1 | grep -q "^error	shards/part-2.tar	" || fail "error record for the missing part-2.tar"
[ "$($R out | grep -c '^image')" = 30 ] || fail "the two shards of part-{0..2}"
for bad in 'shards/part-{0..}.tar' 'shards/part-{0..1.tar' 'shards/part-{0}.tar' 'shards/x-{0..1000000}.tar'; do
	expect_exit 2 imgdecode "$bad"
	expect_empty_stdout
	expect_stderr "^imgdecode: '$(printf '%s' "$bad" | sed 's/[][{}.]/\\&/g')': bad brace pattern: "
done
expect_stderr "more than 1000000 names"
cp shards/part-0.tar 'shards/{a}.tar'   # a name that exists is a name, braces or not
expect_exit 0 imgdecode --preset imagenet 'shards/{a}.tar'
[ "$($R out | wc -l)" = 15 ] || fail "'shards/{a}.tar' as a file"
# steps and letters in brace patterns, as bash has them
expect_exit 0 imgdecode --preset imagenet 'shards/part-{0..1..1}.tar'
cmp <($R named.mp) <($R out) || fail "'shards/part-{0..1..1}.tar'"
# the README example
imgdecode --preset imagenet shards/part-0.tar shards/part-1.shard >val.mp 2>err || fail "README example"
# a shard through a pipe (curl ... | imgdecode /dev/stdin, or <(...)): read as a tar stream,
# the same records as the file, ids under the pipe's name
cat shards/part-0.tar | imgdecode --preset imagenet /dev/stdin >pipe.mp 2>err || fail "/dev/stdin: $(cat err)"
imgdecode --preset imagenet shards/part-0.tar >p0.mp 2>/dev/null
cmp <($R p0.mp | cut -f1,3-) <($R pipe.mp | cut -f1,3-) || fail "a shard through a pipe differs from the file"
$R pipe.mp | sed -n 1p | cut -f2 | grep -qx 'stdin/n01440764_tench' || fail "pipe ids: $($R pipe.mp | head -1)"
expect_exit 0 imgdecode --preset imagenet <(cat shards/part-1.tar) shards/part-0.tar
[ "$($R out | grep -c '^image')" = 30 ] || fail "<(...) and a file: $($R out | cut -f1,2 | head -3)"
# a pipe cut short: the samples before the cut, then one error record; a pipe of no tar: one error record
head -c 40000 shards/part-0.tar | expect_exit 1 imgdecode /dev/stdin
$R out | tail -1 | grep -q '^error	stdin' || fail "a truncated pipe: $($R out | tail -2)"
expect_stderr "^imgdecode: /dev/stdin"
cat "$TESTDATA/images/n01440764_tench.JPEG" | expect_exit 1 imgdecode /dev/stdin
[ "$($R out | wc -l)" = 1 ] && $R out | grep -q '^error' || fail "a JPEG through a pipe: $($R out)"

# one record per id: a bad member stays in its sample. One the sample needs (image, .cls)
# fails the sample; one ignored anyway (.txt, .json) is a warning and the sample goes on.
# Text from the shard (a .cls file's bytes) in a message stays UTF-8 in the record.
$PY - "$TESTDATA/images/n01440764_tench.JPEG" <<'PY' || fail "making the member tars"
import io, sys, tarfile
jpg = open(sys.argv[1], "rb").read()
def add(t, name, data=None, link=None):
    i = tarfile.TarInfo(name)
    if link:
        i.type, i.linkname = tarfile.SYMTYPE, link
        t.addfile(i)
    else:
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
with tarfile.open("ign.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "s.jpg", jpg); add(t, "s.txt", link="nowhere"); add(t, "u.jpg", jpg)
with tarfile.open("need.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "a.cls", link="nowhere"); add(t, "a.jpg", jpg); add(t, "b.jpg", jpg)
with tarfile.open("cls.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "k.jpg", jpg); add(t, "k.cls", b"\xff")
PY
expect_exit 0 imgdecode ign.tar
[ "$($R out | cut -f1,2 | tr '\t\n' ': ')" = "image:ign.tar/s image:ign.tar/u " ] || fail "ignored bad member: $($R out)"
expect_stderr "^imgdecode: ign.tar/s.txt: tar member ignored: not a regular file \(tar typeflag '2'\)$"
expect_exit 1 imgdecode need.tar
[ "$($R out | cut -f1,2 | tr '\t\n' ': ')" = "error:need.tar/a image:need.tar/b " ] || fail "needed bad member: $($R out)"
expect_stderr "^imgdecode: need.tar/a.cls: tar member: not a regular file \(tar typeflag '2'\)$"
expect_exit 1 imgdecode cls.tar
$PY -c "
import msgpack
r = [x for x in msgpack.Unpacker(open('out', 'rb'), raw=False) if x['type'] == 'error']
assert len(r) == 1 and r[0]['id'] == 'cls.tar/k' and r[0]['message'].endswith('xFF' + chr(39)), r" || fail "a .cls of non-UTF-8 bytes"
exit 0
