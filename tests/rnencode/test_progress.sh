#!/usr/bin/env bash
# Long runs talk, under a real pseudo-terminal (stderr a pty, as a user's shell has it):
#  - rnencode with stdin a file: "N/T images, R images/s, M:SS left", the total known
#    from the file's size; from a pipe (nothing tells the total): "N images, R images/s";
#  - txtencode on a terminal: "done/total prompts, R prompts/s, M:SS left"; not on a
#    terminal (a log): one summary line at the end and no progress line;
#  - the CPU note ("... using the CPU") once per run, also for concatenated streams
#    (rnencode starts its model again at each header).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_checkpoints
[ "${ASAN:-0}" = 1 ] && skip "timing-driven progress lines: not under make asan (rnencode's own tests are)"

imgdecode --preset imagenet $(ls "$TESTDATA"/images/*.JPEG | head -n 3) >in.mp 2>/dev/null &&
	imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >in1.mp 2>/dev/null || fail "imgdecode"
n=$(recview --count in.mp | awk '$1 == "image" { print $2 }')
[ "${n:-0}" -ge 3 ] || fail "too few sample images: $n"

# ontty OUT CMD...: CMD with stderr on a new pty (stdout to OUT); the pty's bytes on stdout
ontty() {
	$PY - "$@" <<'PY'
import os, pty, subprocess, sys
out = open(sys.argv[1], "wb")
master, slave = pty.openpty()
p = subprocess.Popen(["bash", "-c", sys.argv[2]], stdout=out, stderr=slave, stdin=subprocess.DEVNULL)
os.close(slave)
data = b""
while True:
    try:
        b = os.read(master, 4096)
    except OSError:  # EIO: the child side closed
        break
    if not b:
        break
    data += b
sys.stdout.buffer.write(data)
sys.exit(p.wait())
PY
}

W=$CKPT_DIR/resnet50.pth
ontty enc.mp "rnencode --weights $W --device cpu --batch 1 --threads 1 < in.mp" >tty.txt || fail "rnencode on a tty: $(cat tty.txt)"
tr '\r' '\n' <tty.txt >lines.txt
grep -qE "^rnencode: 1/~?[0-9]+ images, [0-9.]+ images/s, [0-9]+:[0-9]{2} left" lines.txt ||
	fail "rnencode: no 'N/T images ... left' progress line: $(cat -v tty.txt)"
grep -qE "^rnencode: $n/~?$n images, [0-9.]+ images/s, 0:00 left" lines.txt ||
	fail "rnencode: the last progress line is not '$n/$n images': $(cat -v tty.txt)"
ontty enc2.mp "cat in1.mp | rnencode --weights $W --device cpu --batch 1 --threads 1" >tty2.txt || fail "rnencode from a pipe"
tr '\r' '\n' <tty2.txt | grep -qE "^rnencode: 1 images, [0-9.]+ images/s" ||
	fail "rnencode from a pipe: no 'N images' progress line: $(cat -v tty2.txt)"

printf 'tench\ngoldfish\n' >names.txt
head -n 2 "$ROOT/data/templates-clip.txt" >t2.txt
cmd="txtencode --weights $CKPT_DIR/clip-rn50.pt --names names.txt --templates t2.txt --batch-rows 77 --device cpu"
ontty cls.mp "$cmd" >tty3.txt || fail "txtencode on a tty: $(cat -v tty3.txt)"
tr '\r' '\n' <tty3.txt >lines3.txt
grep -qE '^txtencode: [0-9]+/4 prompts, [0-9]+ prompts/s, [0-9]+:[0-9]{2} left' lines3.txt ||
	fail "txtencode: no 'done/4 prompts ... left' progress line: $(cat -v tty3.txt)"
grep -qE '^txtencode: 4/4 prompts' lines3.txt || fail "txtencode: never reached 4/4: $(cat -v tty3.txt)"
expect_exit 0 $cmd
grep -qE '^txtencode: 4 prompts \(2 classes\) encoded in [0-9.]+ s, [0-9]+ prompts/s, on cpu' err ||
	fail "txtencode to a log: no summary line: $(cat err)"
[ "$(wc -l <err)" = 1 ] && ! grep -q $'\r' err || fail "txtencode to a log: more than the summary: $(cat -v err)"

# no --device: where this build or machine has no GPU, the note comes once for two streams
cat in1.mp in1.mp >twice.mp
expect_exit 0 rnencode --weights "$W" --threads 1 <twice.mp
c=$(grep -c 'using the CPU' err)
[ "$c" -le 1 ] || fail "the CPU note $c times in one run: $(cat err)"
exit 0
