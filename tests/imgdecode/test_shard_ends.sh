# imgdecode on WebDataset shards that end wrong or group wrong: nothing may
# vanish with exit 0, and no id may come twice.
#   - a shard that gives no record (an empty pipe: a failed download, the
#     second of two /dev/stdin, a tar of only directories) gives an error record;
#   - a tar cut at a member boundary, or in its end blocks, is truncated (GNU
#     tar and Python's tarfile would read it as a smaller whole shard), and
#     data after the end blocks (two tars joined) is an error too;
#   - a key met again after other samples (s0.jpg s1.jpg s0.cls s1.cls) ends
#     the shard with one error record: never a second record for s0;
#   - a second .cls in one sample fails the sample.
source "$ROOT/tests/lib.sh"
need_py msgpack
R="$PY $ROOT/tests/py/imgdecode_records.py"
J=$TESTDATA/imgdecode/tiny_7x5.jpg
$PY - "$J" <<'PY' || fail "making the tars"
import io, sys, tarfile
jpg = open(sys.argv[1], "rb").read()
def tar(name, members):
    with tarfile.open(name, "w", format=tarfile.USTAR_FORMAT) as t:
        for n, d in members:
            i = tarfile.TarInfo(n)
            if d is None:
                i.type = tarfile.DIRTYPE
                t.addfile(i)
            else:
                i.size = len(d)
                t.addfile(i, io.BytesIO(d))
tar("ok.tar", [("a.jpg", jpg), ("a.cls", b"1"), ("b.jpg", jpg), ("b.cls", b"2"), ("c.jpg", jpg), ("c.cls", b"3")])
m = tarfile.open("ok.tar").getmembers()
# where sample c starts, and where the end blocks start
print(m[4].offset, m[5].offset_data + 512, file=open("offsets", "w"))
tar("dirs.tar", [("d", None), ("d/e", None)])
tar("mixed.tar", [("s0.jpg", jpg), ("s1.jpg", jpg), ("s0.cls", b"4"), ("s1.cls", b"5"), ("s2.jpg", jpg)])
tar("twocls.tar", [("k.jpg", jpg), ("k.cls", b"4"), ("k.cls", b"5"), ("m.jpg", jpg)])
PY
expect_exit 0 imgdecode ok.tar
[ "$($R out | cut -f1-3 | tr '\t\n' ': ')" = "image:ok.tar/a:1 image:ok.tar/b:2 image:ok.tar/c:3 " ] || fail "ok.tar: $($R out)"
# check WHAT PATTERN IDS...: exit 1, one stderr line matching PATTERN, the
# records' types:ids in order
check() {
	local what=$1 pat=$2; shift 2
	[ "$(wc -l <err)" = 1 ] || fail "$what: one stderr line expected: $(cat err)"
	expect_stderr "^imgdecode: $pat"
	local want="$*" got
	got=$($R out | cut -f1,2 | tr '\t\n' ': ' | sed 's/ $//')
	[ "$got" = "$want" ] || fail "$what: records '$got', expected '$want'"
}
# no record at all
: | expect_exit 1 imgdecode /dev/stdin
check "empty pipe" "/dev/stdin: broken tar structure: no data at all \(an empty file or pipe: a failed download\?\)$" error:stdin
expect_exit 1 imgdecode <(true)
expect_stderr "^imgdecode: /dev/fd/[0-9]+: broken tar structure: no data at all"
[ "$(wc -l <err)" = 1 ] && [ "$($R out | cut -f1)" = error ] || fail "<(true): $($R out)"
cat ok.tar | expect_exit 1 imgdecode /dev/stdin /dev/stdin
check "a second /dev/stdin" "/dev/stdin: broken tar structure: no data at all" \
	image:stdin/a image:stdin/b image:stdin/c error:stdin
expect_exit 1 imgdecode dirs.tar
check "only directories" "dirs.tar: no samples in this shard" error:dirs.tar
# cut at a member boundary (where sample c starts), in a member, in the end blocks; joined
read -r c_at end_at <offsets
for cut in $c_at $((c_at + 600)) $((end_at + 512)); do
	head -c $cut ok.tar >cut.tar
	expect_exit 1 imgdecode cut.tar
	[ $cut -gt $end_at ] && want="image:cut.tar/a image:cut.tar/b image:cut.tar/c" || want="image:cut.tar/a image:cut.tar/b"
	check "cut at $cut" "cut.tar: broken tar structure: " "$want error:cut.tar"
done
expect_stderr "one zero block at byte $end_at where the archive ends with two"
head -c $c_at ok.tar >cut.tar
expect_exit 1 imgdecode cut.tar
expect_stderr "truncated: the data ends at byte $c_at, a member boundary, without the end-of-archive blocks"
head -c $c_at ok.tar | expect_exit 1 imgdecode /dev/stdin
check "a pipe cut at $c_at" "/dev/stdin: broken tar structure: truncated" image:stdin/a image:stdin/b error:stdin
cat ok.tar ok.tar >joined.tar
expect_exit 1 imgdecode joined.tar
check "two tars joined" "joined.tar: broken tar structure: data at byte $(wc -c <ok.tar) after the end of the archive \(byte $end_at\)" \
	image:joined.tar/a image:joined.tar/b image:joined.tar/c error:joined.tar
# a sample's members not consecutive: s0 and s1 go out (without their .cls: label -1,
# as the error record says), then one error; nothing is written twice
expect_exit 1 imgdecode mixed.tar
check "interleaved" "mixed.tar: the members of sample 's0' are not consecutive: s0.cls at byte [0-9]+ comes after other samples.*label -1 where their .cls came later" \
	image:mixed.tar/s0 image:mixed.tar/s1 error:mixed.tar
[ "$($R out | cut -f1,3 | tr '\t\n' ': ')" = "image:-1 image:-1 error:-1 " ] || fail "interleaved: labels $($R out | cut -f1,3)"
expect_exit 1 imgdecode -j 3 mixed.tar
check "interleaved, -j 3" "mixed.tar: the members" image:mixed.tar/s0 image:mixed.tar/s1 error:mixed.tar
expect_exit 1 imgdecode twocls.tar
check "two .cls" "twocls.tar/k.jpg: two .cls members for key 'k' \(k.cls is the second\)$" error:twocls.tar/k image:twocls.tar/m
exit 0
