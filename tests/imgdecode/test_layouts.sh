# The same 30 sample images in the four layouts datasets ship in give the same
# image records (ids aside) and the same labels: plain files labelled by a TSV,
# an ImageFolder tree (wnid folders, --wnids), an ImageNet-V2 tree (folders
# named 0..999, --index-folders) and two WebDataset shards (.cls members).
# V2's trap: its folders sorted as strings put 10 before 2; the label is the
# number read from the name, never a position.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
mkdir files folder v2 shards
ls "$TESTDATA/images" | sort | head -30 | while read -r f; do cp "$TESTDATA/images/$f" files/; done
while IFS=$'\t' read -r f wnid idx; do
	[ -e "files/$f" ] || continue
	mkdir -p "folder/$wnid" "v2/$idx"
	cp "files/$f" "folder/$wnid/"
	cp "files/$f" "v2/$idx/"
done <"$TESTDATA/labels.tsv"
[ "$(ls v2 | wc -l)" = 30 ] || fail "v2 tree: $(ls v2 | wc -l) folders"
$PY "$ROOT/tests/py/webdataset_make.py" shards shards "$TESTDATA/labels.tsv" files/* || fail "building shards"

imgdecode -p imagenet -l "$TESTDATA/labels.tsv" files >files.mp 2>err || fail "files: $(cat err)"
imgdecode -p imagenet --wnids "$ROOT/data/wnids.txt" folder >folder.mp 2>err || fail "folder: $(cat err)"
expect_exit 0 imgdecode -p imagenet -j 2 --index-folders v2
mv out v2.mp
imgdecode -p imagenet shards/part-0.tar shards/part-1.tar >shards.mp 2>err || fail "shards: $(cat err)"
$R files.mp | cut -f1,3- | sort >want
[ "$(wc -l <want)" = 30 ] && ! grep -q '	-1	' want || fail "files: 30 labelled images expected: $(cat want)"
[ "$(cut -f2 want | sort -u | wc -l)" = 30 ] || fail "files: 30 different labels expected"
for l in folder v2 shards; do
	$R $l.mp | cut -f1,3- | sort >got
	cmp -s want got || { diff want got | head; fail "$l: records or labels differ from the files'"; }
done
# the V2 ids are INDEX/FILE, in string order of the paths (10/ before 2/)
$R v2.mp | cut -f2 | head -1 | grep -qx '0/n01440764_tench.JPEG' || fail "v2 ids: $($R v2.mp | cut -f2 | head -3)"
$R v2.mp | cut -f2 | LC_ALL=C sort -c || fail "v2: not in path order"

# folder names that are not a plain decimal index get no label, and are counted
mkdir -p odd/007 odd/12a odd/-3 odd/1000
for d in 007 12a -3 1000; do cp files/n01440764_tench.JPEG odd/$d/; done
expect_exit 0 imgdecode --index-folders odd
$R out | cut -f2,3 >labels
printf '%s\n' '-3/n01440764_tench.JPEG	-1' '007/n01440764_tench.JPEG	-1' '1000/n01440764_tench.JPEG	1000' \
	'12a/n01440764_tench.JPEG	-1' | cmp -s - labels || fail "odd folders: $(cat labels)"
expect_stderr '^imgdecode: --index-folders: no label for 3 of 4 inputs \(label -1\)$'
# the header says the labels came from folder numbers
$PY -c "
import msgpack, sys
h = next(iter(msgpack.Unpacker(open('v2.mp', 'rb'), raw=False)))
assert h['type'] == 'header' and h['index_folders'] is True and h['wnids'] is None, h
" || fail "header"
