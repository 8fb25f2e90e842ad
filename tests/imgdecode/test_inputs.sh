# imgdecode inputs: directory walks (recursive, sorted by path, hidden names
# skipped, images found by extension or content), stdin path lists, ids,
# labels from a TSV or from class folders, -j N order, --shard I/N.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
I=$TESTDATA/images
mkdir -p d/a d/b d/.git d/n01443537
cp "$I/n01440764_tench.JPEG" d/a.jpg
cp "$I/n01496331_electric_ray.JPEG" d/a/1.jpg
cp "$I/n01630670_common_newt.JPEG" d/b/2.jpeg
cp "$I/n01682714_American_chameleon.JPEG" d/Z.JPEG
cp "$I/n01795545_black_grouse.JPEG" d/noext              # found by content
cp "$TESTDATA/imgdecode/png_l.png" d/p.PNG
cp "$I/n01871265_tusker.JPEG" d/.hidden.jpg              # skipped
cp "$I/n01980166_fiddler_crab.JPEG" d/.git/x.jpg         # skipped
cp "$I/n02088094_Afghan_hound.JPEG" d/n01443537/goldfish.jpg
echo "not an image" >d/notes.txt                        # not listed
expect_exit 0 imgdecode d/
$R out | cut -f1-3 >ids
printf 'image\t%s\t-1\n' Z.JPEG a.jpg a/1.jpg b/2.jpeg n01443537/goldfish.jpg noext p.PNG >want
cmp ids want || { diff ids want; fail "directory walk order/ids"; }
$PY -c "
import msgpack
p = [r['path'] for r in msgpack.Unpacker(open('out', 'rb'), raw=False) if r['type'] == 'image']
assert p[:2] == ['d/Z.JPEG', 'd/a.jpg'], p" || fail "paths under d/"
# stdin: one path per line, ids as given, empty lines ignored; '-' reads stdin among arguments
printf 'd/b/2.jpeg\n\nd/a.jpg\n' | imgdecode >out 2>err || fail "stdin list"
[ "$($R out | cut -f2 | tr '\n' ' ')" = "d/b/2.jpeg d/a.jpg " ] || fail "stdin ids: $($R out)"
printf 'd/noext\n' | imgdecode d/a.jpg - d/Z.JPEG >out 2>err || fail "- among arguments"
[ "$($R out | cut -f2 | tr '\n' ' ')" = "d/a.jpg d/noext d/Z.JPEG " ] || fail "'-' order: $($R out)"
# labels: the 3-column TSV with a header matches ids, paths or file names
expect_exit 0 imgdecode -p imagenet -l "$TESTDATA/labels.tsv" "$I"
$R out | awk -F'\t' '{print $2 "\t" $3}' >got
tail -n +2 "$TESTDATA/labels.tsv" | awk -F'\t' '{print $1 "\t" $3}' | sort >want
cmp got want || { diff got want | head; fail "labels from labels.tsv"; }
# 2 columns, no header; rows for some inputs only: the rest get -1 and one warning line
printf 'a.jpg\t7\nb/2.jpeg\t9\n2.jpeg\t11\n' >two.tsv
expect_exit 0 imgdecode -l two.tsv d
[ "$($R out | cut -f2,3 | tr '\t\n' ': ')" = "Z.JPEG:-1 a.jpg:7 a/1.jpg:-1 b/2.jpeg:9 n01443537/goldfish.jpg:-1 noext:-1 p.PNG:-1 " ] ||
	fail "two-column labels: $($R out | cut -f2,3)"
expect_stderr "^imgdecode: two.tsv: no label for 5 of 7 inputs \(label -1\)$"
printf 'd/b/2.jpeg\n' | imgdecode -l two.tsv >out 2>err   # no id match: the file name row
[ "$($R out | cut -f3)" = 11 ] || fail "label by file name"
printf 'file\tindex\nx.jpg\tseven\n' >bad.tsv
expect_exit 2 imgdecode -l bad.tsv d
expect_stderr "bad.tsv:2: expected file<TAB>index or file<TAB>wnid<TAB>index"
expect_empty_stdout
# a first row with a bad number is an error, not a header to skip
printf 'a.jpg\t7 \nb/2.jpeg\t9\n' >badfirst.tsv
expect_exit 2 imgdecode -l badfirst.tsv d
expect_stderr "badfirst.tsv:1: expected file<TAB>index or file<TAB>wnid<TAB>index"
# one file with two different labels: refused (the same label twice is fine)
printf 'a.jpg\t7\nb/2.jpeg\t9\na.jpg\t7\na.jpg\t8\n' >dup.tsv
expect_exit 2 imgdecode -l dup.tsv d
expect_stderr "^imgdecode: --labels: dup.tsv:4: 'a.jpg' has label 8 here and 7 on an earlier line$"
expect_empty_stdout
# directory links: each folder entered once, in name order, the others named on stderr
# (two links back to the top once made the walk exponential)
mkdir -p ln/sub
cp "$I/n01440764_tench.JPEG" ln/t.jpg
cp "$I/n01496331_electric_ray.JPEG" ln/sub/r.jpg
ln -s . ln/a && ln -s . ln/b && ln -s .. ln/sub/up && ln -s sub ln/zsub
expect_exit 0 timeout 60 imgdecode ln
[ "$($R out | cut -f2 | tr '\n' ' ')" = "sub/r.jpg t.jpg " ] || fail "walk with links: $($R out | cut -f2)"
for l in a b sub/up; do expect_stderr "^imgdecode: ln/$l: skipped: the same directory as ln \(a link\), already listed$"; done
expect_stderr "^imgdecode: ln/zsub: skipped: the same directory as ln/sub \(a link\), already listed$"
# a file name that is not UTF-8: the record still is (msgpack str), the bytes as \xNN, one note
mkdir u8
cp "$I/n01440764_tench.JPEG" "u8/$(printf 'caf\351\377.jpg')"
expect_exit 0 imgdecode u8
$PY -c "
import msgpack
r = [r for r in msgpack.Unpacker(open('out', 'rb'), raw=False) if r['type'] == 'image']
assert [(x['id'], x['path']) for x in r] == [('caf\\\\xE9\\\\xFF.jpg', 'u8/caf\\\\xE9\\\\xFF.jpg')], r" || fail "non-UTF-8 name"
expect_stderr '^imgdecode: u8/caf.xE9.xFF.jpg: the name is not UTF-8'
# ... named as an argument, it is in our header's argv too: the stream stays readable
expect_exit 0 imgdecode u8/*.jpg
$PY -c "
import msgpack
r = list(msgpack.Unpacker(open('out', 'rb'), raw=False))
assert r[0]['argv'][1] == 'u8/caf\\\\xE9\\\\xFF.jpg' and r[1]['type'] == 'image', r[0]" || fail "non-UTF-8 argv in the header"
# a newline in a file name: still one stderr line per diagnostic
mkdir nl && printf 'not a JPEG' >"nl/$(printf 'a\nb.jpg')"
expect_exit 1 imgdecode nl
[ "$(wc -l <err)" = 1 ] && grep -q '^imgdecode: nl/a\\nb.jpg: ' err || fail "a newline in a name: $(cat -A err)"
# a link to nothing (a link farm whose target is not mounted): an error record, exit 1,
# not a silent empty listing
mkdir -p farm/n01440764 && ln -s /nonexistent/x.JPEG farm/n01440764/x.JPEG && ln -s /nonexistent/notes farm/notes
cp "$I/n01440764_tench.JPEG" farm/n01440764/y.JPEG
expect_exit 1 imgdecode farm
[ "$($R out | cut -f1,2 | tr '\t\n' ': ')" = "error:n01440764/x.JPEG image:n01440764/y.JPEG " ] || fail "dangling link: $($R out)"
expect_stderr "^imgdecode: farm/n01440764/x.JPEG: cannot open: No such file or directory$"
expect_stderr "^imgdecode: farm/notes: skipped: cannot open: No such file or directory$"
# getopt's own messages carry our name, not the path we were started by
expect_exit 2 "$BIN/imgdecode" --bogus
expect_stderr "^imgdecode: unrecognized option '--bogus'$"
# a tar piped in as if it were a path list: one line saying what to do
tar -cf sh.tar -C d a.jpg
expect_exit 2 imgdecode <sh.tar
expect_stderr "^imgdecode: stdin: binary data where a list of image paths was expected \(a tar shard\?"
[ "$(wc -l <err)" = 1 ] || fail "binary stdin: $(wc -l <err) stderr lines"
# class folders: --wnids gives the folder's index (n01443537 is class 1);
# a file name starting with a wnid and '_' counts too
expect_exit 0 imgdecode --wnids "$ROOT/data/wnids.txt" d/n01443537 "$I/n01440764_tench.JPEG" "$I/n01496331_electric_ray.JPEG"
[ "$($R out | cut -f3 | tr '\n' ' ')" = "1 0 5 " ] || fail "labels from wnids: $($R out | cut -f2,3)"
expect_exit 0 imgdecode --wnids "$ROOT/data/wnids.txt" d/n01443537/goldfish.jpg d/a.jpg
[ "$($R out | cut -f3 | tr '\n' ' ')" = "1 -1 " ] || fail "wnid folder from a file argument"
expect_stderr "no label for 1 of 2 inputs"
# -j N: the same records in the same order as -j 1
imgdecode -p clip -j 1 "$I" "$TESTDATA/imgdecode" >j1.mp 2>j1.err
imgdecode -p clip -j 4 "$I" "$TESTDATA/imgdecode" >j4.mp 2>j4.err
[ "$($R j1.mp | wc -l)" = 93 ] || fail "93 records expected"
cmp <($R j1.mp) <($R j4.mp) || fail "-j 4 records differ from -j 1"
cmp j1.err j4.err || fail "-j 4 stderr differs from -j 1"
# --shard I/N: N runs split the inputs by index; together they are the whole run
for i in 0 1 2; do imgdecode -p clip --shard $i/3 "$I" "$TESTDATA/imgdecode" >s$i.mp 2>/dev/null; done
cmp <($R j1.mp | sort) <(cat s0.mp s1.mp s2.mp | $R /dev/stdin | sort) || fail "shards do not make up the whole run"
cmp <($R j1.mp | awk 'NR % 3 == 2') <($R s1.mp) || fail "shard 1/3 is not inputs 1, 4, 7, ..."
$PY -c "
import msgpack
h = next(msgpack.Unpacker(open('s1.mp', 'rb'), raw=False))
assert h['shard'] == '1/3', h" || fail "shard in the header"
# --first N: the first N inputs of the whole run, in its order (error records count: they
# are inputs), counted before --shard; the header says N; 0 is a usage error
imgdecode -p clip -j 2 --first 40 "$I" "$TESTDATA/imgdecode" >f40.mp 2>/dev/null
cmp <($R j1.mp | awk 'NR <= 40') <($R f40.mp) || fail "--first 40 is not the run's first 40 records"
imgdecode -p clip --first 7 --shard 1/3 "$I" "$TESTDATA/imgdecode" >f7s1.mp 2>/dev/null
cmp <($R j1.mp | awk 'NR <= 7 && NR % 3 == 2') <($R f7s1.mp) || fail "--first 7 --shard 1/3 is not inputs 1, 4"
head -n 3 "$ROOT/testdata/labels.tsv" | tail -n 2 | cut -f1 | sed "s|^|$I/|" | imgdecode --first 1 >f1.mp 2>/dev/null
[ "$($R f1.mp | cut -f2)" = "$I/n01440764_tench.JPEG" ] || fail "--first 1 of a stdin list: $($R f1.mp)"
$PY -c "
import msgpack
h = next(msgpack.Unpacker(open('f7s1.mp', 'rb'), raw=False))
assert h['first'] == 7 and h['shard'] == '1/3', h" || fail "first in the header"
expect_exit 2 imgdecode --first 0 "$I"
expect_empty_stdout
expect_stderr "^imgdecode: --first: 0 is out of range"
# the README's first example
imgdecode "$I/n01440764_tench.JPEG" >one.mp || fail "one image"
recview --count one.mp >out 2>err # its exit status is recview's business (and its leaks under make asan)
grep -Eq '^image +1$' out && grep -Eq '^header +1$' out && grep -Eq '^stats +1$' out || fail "recview -c: $(cat out)"
expect_exit 0 imgdecode --help
grep -q '^Usage: imgdecode' out && grep -q 'Exit status' out || fail "--help"
exit 0
