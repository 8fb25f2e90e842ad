# imgdecode's label sources together (a shard's .cls, -l, --index-folders,
# -w): they may be combined (make study gives -l with -w), each input takes
# the label they agree on, and an input two sources give different labels
# fails with an error record naming both (a silent pick mislabels it).
# A label file that is not text is named with its option.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
J=$TESTDATA/imgdecode/tiny_7x5.jpg
mkdir -p d/n01443537 d/3
cp "$J" d/n01443537/agree.jpg
cp "$J" d/n01443537/differ.jpg
cp "$J" d/n01443537/n01440764_named.jpg   # folder: class 1, file name: class 0
cp "$J" d/3/n01440764_x.jpg               # --index-folders: 3, --wnids: 0
cp "$J" d/3/plain.jpg
printf 'agree.jpg\t1\ndiffer.jpg\t7\n' >l.tsv
W=$ROOT/data/wnids.txt
expect_exit 1 imgdecode -l l.tsv --wnids "$W" d/n01443537
[ "$($R out | cut -f1-3 | tr '\t\n' ': ')" = "image:agree.jpg:1 error:differ.jpg:-1 error:n01440764_named.jpg:-1 " ] ||
	fail "-l with -w: $($R out)"
expect_stderr "^imgdecode: d/n01443537/differ.jpg: labels disagree: --labels l.tsv gives 7, its folder's wnid \(--wnids\) gives 1 "
expect_stderr "^imgdecode: d/n01443537/n01440764_named.jpg: labels disagree: its folder's wnid \(--wnids\) gives 1, its file name's wnid \(--wnids\) gives 0 "
[ "$(wc -l <err)" = 2 ] || fail "one line per conflict: $(cat err)"
expect_exit 1 imgdecode --index-folders --wnids "$W" d/3
[ "$($R out | cut -f1-3 | tr '\t\n' ': ')" = "error:n01440764_x.jpg:-1 image:plain.jpg:3 " ] || fail "--index-folders with -w: $($R out)"
expect_stderr "labels disagree: its folder's number \(--index-folders\) gives 3, its file name's wnid \(--wnids\) gives 0 "
# a shard's .cls against a --labels row
$PY - "$J" <<'PY' || fail "making s.tar"
import io, sys, tarfile
jpg = open(sys.argv[1], "rb").read()
with tarfile.open("s.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    for n, d in [("k1.jpg", jpg), ("k1.cls", b"4"), ("k2.jpg", jpg), ("k2.cls", b"5")]:
        i = tarfile.TarInfo(n); i.size = len(d); t.addfile(i, io.BytesIO(d))
PY
printf 's.tar/k1\t4\ns.tar/k2\t6\n' >s.tsv
expect_exit 1 imgdecode -l s.tsv s.tar
[ "$($R out | cut -f1-3 | tr '\t\n' ': ')" = "image:s.tar/k1:4 error:s.tar/k2:-1 " ] || fail ".cls with -l: $($R out)"
expect_stderr "^imgdecode: s.tar/k2.jpg: labels disagree: its .cls member gives 5, --labels s.tsv gives 6 "
# a binary file given as labels or wnids: the option and the file named, nothing on stdout
for opt in -l --labels -w --wnids; do
	expect_exit 2 imgdecode $opt "$J" d/3
	expect_empty_stdout
	case $opt in -l|--labels) o=--labels ;; *) o=--wnids ;; esac
	expect_stderr "^imgdecode: $o: $J: line 1 holds a NUL byte: not a text file$"
done
printf 'file\tindex\n' >header-only.tsv
expect_exit 2 imgdecode -l header-only.tsv d/3
expect_stderr "^imgdecode: --labels: header-only.tsv: no labels in it$"
exit 0
