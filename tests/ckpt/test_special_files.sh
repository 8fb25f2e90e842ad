#!/usr/bin/env bash
# Named inputs that are not regular files (README "Named input files"): what is
# memory-mapped or read twice refuses a FIFO at once instead of waiting forever for a
# writer (rnencode --weights, ckptinfo, txtencode --weights/--vocab, txtembed-load),
# every reader refuses a directory or a device (/dev/zero would never end), and what is
# read once from start to end takes a pipe: txtencode --names <(...) works, and its
# header hashes the bytes it encoded (a second read of the pipe hashed nothing).
# Every run is under `timeout`, so a hang fails the test instead of stalling it.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py msgpack
need_checkpoints
CK=$CKPT_DIR/clip-rn50.pt
TO="timeout 30"
mkfifo fifo || skip "mkfifo failed"
imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >one.mp 2>/dev/null || fail "imgdecode"

# mapped or read twice: a FIFO is refused at once (exit 2; ckptinfo: its line, exit 1)
expect_exit 2 $TO rnencode --weights fifo <one.mp
expect_empty_stdout
expect_stderr "^rnencode: fifo: a pipe or FIFO, not a regular file"
expect_exit 1 $TO ckptinfo fifo
expect_empty_stdout
expect_stderr "^ckptinfo: fifo: a pipe or FIFO, not a regular file"
expect_exit 2 $TO txtembed-load --names /dev/null fifo
expect_empty_stdout
expect_stderr "^txtembed-load: fifo: a pipe or FIFO, not a regular file; a record stream can come on stdin"
printf 'cat\ndog\n' >names.txt
printf 'a photo of a {}.\n' >tpl.txt
expect_exit 2 $TO txtencode -w fifo -n names.txt --templates tpl.txt
expect_empty_stdout
expect_stderr "^txtencode: fifo: a pipe or FIFO, not a regular file"
expect_exit 2 $TO txtencode -w "$CK" -n names.txt --templates tpl.txt --vocab fifo
expect_empty_stdout
expect_stderr "^txtencode: --vocab: fifo: a pipe or FIFO, not a regular file"

# directories and devices: refused by every reader, mapped or not
for f in /dev/zero .; do
	expect_exit 2 $TO txtembed-load --names names.txt $f
	expect_stderr "^txtembed-load: $f: a (character device|directory), not a regular file"
	expect_exit 2 $TO txtencode --tokenize -n $f --templates tpl.txt
	expect_stderr "^txtencode: --names: $f: a (character device|directory), not a regular file"
	expect_exit 1 $TO ckptinfo $f
	expect_stderr "^ckptinfo: $f: a (character device|directory), not a regular file"
done

# read once: a pipe works, and the header's sha256 is of the bytes read
expect_exit 0 $TO txtencode -w "$CK" -n <(cat names.txt) -t <(cat tpl.txt)
$PY - names.txt tpl.txt <<'PY' || fail "txtencode --names <(...): header $(recview -t header out)"
import sys, msgpack, hashlib
h = next(r for r in msgpack.Unpacker(open("out", "rb"), raw=False) if r["type"] == "header")
for key, path in (("names_sha256", sys.argv[1]), ("templates_sha256", sys.argv[2])):
    assert h[key] == hashlib.sha256(open(path, "rb").read()).hexdigest(), (key, h[key])
PY
exit 0
