# errstats --grid writes a new file or a regular one and nothing else
# (common/util/util.h): a symlink's target is replaced and the link kept; a
# FIFO, a device, a symlink to nothing or one of the input files is
# refused before any output (exit 2), left as it was; a failed write is
# exit 2 with the old file whole. A record whose "path" is a FIFO or a
# device, a decompression bomb or a file of endless scans gets a placeholder
# tile and one stderr line, never a hang.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
SPEC="$PY $ROOT/tests/py/score_spec.py"
IMG=$TESTDATA/images
# c0: only A right (a real thumbnail); c1: only B right, its path a FIFO
mkfifo pipe.jpg
cat > a.spec <<EOF
c0 0 0 1 2 path=$IMG/n01440764_tench.JPEG
c1 1 0 1 2 path=$T/pipe.jpg
EOF
cat > b.spec <<EOF
c0 0 1 0 2 path=$IMG/n01440764_tench.JPEG
c1 1 1 0 2 path=$T/pipe.jpg
EOF
$SPEC --classes 4 < a.spec > a.mp || fail "spec a"
$SPEC --classes 4 < b.spec > b.mp || fail "spec b"
is_jpeg() { $PY -c "from PIL import Image; assert Image.open('$1').format == 'JPEG'" || fail "$1 is not a JPEG"; }

# ---- 1. a record's path that is a FIFO: a placeholder and one line, no hang ----
expect_exit 0 timeout 60 errstats --compare b.mp --grid g.jpg a.mp
is_jpeg g.jpg
expect_stderr "^errstats: --grid: 1 image could not be drawn \(first: $T/pipe.jpg: a pipe or FIFO, not a regular file\)$"
[ "$(wc -l < err)" = 1 ] || fail "one stderr line: $(cat err)"
[ -p pipe.jpg ] || fail "the FIFO was replaced"

# ... a path to a decompression bomb (a progressive header claiming 60000 x
# 60000: its coefficients alone 20 GB) or to a file of 600 progressive scans
# (each a pass over the image): refused as imgdecode refuses them (under a
# memory limit here, so that code without the guard fails, not the machine)
$PY -c "
from PIL import Image
import io, struct
b = io.BytesIO()
Image.new('RGB', (16, 16), (200, 10, 10)).save(b, 'JPEG', progressive=True)
d = bytearray(b.getvalue())
i = d.find(b'\xff\xc2')
d[i + 5:i + 9] = struct.pack('>HH', 60000, 60000)
open('bomb.jpg', 'wb').write(d)" || fail "bomb.jpg"
for f in "$T/bomb.jpg" "$TESTDATA/imgdecode/many_scans.jpg"; do
	echo "c0 0 0 1 2 path=$f" | $SPEC --classes 4 > ba.mp && echo "c0 0 1 0 2 path=$f" | $SPEC --classes 4 > bb.mp ||
		fail "spec bomb"
	# (not under ASan, whose shadow memory needs the address space; its allocator refuses 20 GB itself)
	( [ "${ASAN:-0}" = 1 ] || ulimit -v 2000000; exec timeout 60 errstats --compare bb.mp --grid g.jpg ba.mp ) >out 2>err ||
		fail "errstats on $f: exit $?: $(cat err)"
	expect_stderr "^errstats: --grid: 1 image could not be drawn \(first: $f: (60000x60000: more than 178956970 pixels|more than 500 progressive scans)\)$"
done

# ---- 2. a symlink: the target replaced, the link kept ----
echo old > target.jpg
ln -s target.jpg link.jpg
expect_exit 0 errstats --compare b.mp --grid link.jpg a.mp
[ -L link.jpg ] || fail "the symlink became a regular file"
is_jpeg target.jpg

# ---- 3. refused, before anything is read or written, and left alone ----
refused() { # PATH STDERR-REGEX [OPTION...]: exit 2, nothing on stdout, one line
	expect_exit 2 timeout 60 errstats "${@:3}" --compare b.mp --grid "$1" a.mp
	expect_empty_stdout
	expect_stderr "$2"
	[ "$(wc -l < err)" = 1 ] || fail "$1: one stderr line: $(cat err)"
}
refused pipe.jpg "^errstats: --grid pipe.jpg: a FIFO: only a regular file or a new name is written$"
[ -p pipe.jpg ] || fail "the FIFO was replaced"
ln -s pipe.jpg link-pipe.jpg
refused link-pipe.jpg "^errstats: --grid link-pipe.jpg: a FIFO"
[ -L link-pipe.jpg ] && [ -p pipe.jpg ] || fail "the link or the FIFO was replaced"
ln -s missing/g.jpg dangling.jpg
refused dangling.jpg "^errstats: --grid dangling.jpg: a symlink to a missing file: not created through the link$"
[ -e missing ] && fail "created through a dangling link"
# a device: a node of our own with /dev/full's numbers (root only), never /dev/full itself
if mknod full c 1 7 2>/dev/null; then
	refused full "^errstats: --grid full: a character device: only a regular file or a new name is written$"
	[ -c full ] || fail "the device node was replaced"
fi
# one of the input streams: the grid would replace the data it shows
cp a.mp a-copy.mp
refused a.mp "^errstats: --grid a.mp: is the stream a.mp: the grid would replace it"
refused b.mp "^errstats: --grid b.mp: is the stream b.mp"
printf 'tench\nray\nc\nd\n' >names.txt
refused names.txt "^errstats: --grid names.txt: is the --names file names.txt: the grid would replace it$" --names names.txt
[ "$(wc -l < names.txt)" = 4 ] || fail "the names file was changed"
cmp -s a.mp a-copy.mp || fail "the input stream was changed"
ln -s a.mp in.mp
expect_exit 2 errstats --compare b.mp --grid in.mp - < a.mp
expect_empty_stdout
expect_stderr "^errstats: --grid in.mp: is the stream on stdin"

# ---- 4. a write that fails: exit 2, the old file whole, no temporary ----
echo old > full.jpg
( ulimit -f 4; trap '' XFSZ; exec errstats --compare b.mp --grid full.jpg a.mp ) >out 2>err
[ $? = 2 ] || fail "a failed grid write did not exit 2: $(cat err)"
expect_empty_stdout
expect_stderr "^errstats: --grid full.jpg: .*write error"
[ "$(cat full.jpg)" = old ] || fail "the old file was damaged"
ls | grep -q '\.tmp\.' && fail "a temporary file left behind: $(ls)"
exit 0
