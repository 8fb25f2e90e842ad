#!/usr/bin/env bash
# A new user's first hour, as the README tells it: a fresh copy of the checkout (the files
# git tracks or would track, no build/ or bin/), then
#  1. the README's first set-up command exactly as written (`.ci/run` must run the same
#     two commands; the second, `make test`, is the suite that runs this test), as root
#     with a `sudo` first on PATH that fails the test if anything calls it;
#  2. the quick start's lines exactly as written (block marked "study-quickstart" in
#     README.md, else in pipelines/README.md), ending with the report;
#  3. `make install PREFIX=DIR` and a pipeline from the installed programs only (PATH=DIR/bin,
#     the checkout moved away), then `make uninstall`, which leaves DIR empty; DESTDIR.
# Two things differ from a new user's machine, through the environment only: the weights
# are random-weight checkpoints under the published names (RNENC_WEIGHTS; nothing can be
# downloaded here), and DATA/TEMPLATES make the run small (2 images, 1 template).
# NVCC= builds without the CUDA backend (tests/gpu covers that build).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
command -v git >/dev/null && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	skip "needs git and a git checkout to copy"
[ "${ASAN:-0}" = 1 ] && skip "make study runs the encoders for minutes: not under make asan"
source "$ROOT/tests/fixtures.sh"
need_checkpoints

readme=$ROOT/README.md
grep -q 'study-quickstart' "$readme" || readme=$ROOT/pipelines/README.md
# the fenced block after the marker; its lines that run make or install-deps (comments cut)
awk '/study-quickstart/ { m = 1; next } m && /^```/ { if (on) exit; on = 1; next } on' "$readme" |
	sed 's/[[:space:]]*#.*//' | grep -E '^(make( |$)|\./install-deps)' >cmds
[ -s cmds ] || fail "no quick start block with make lines in $readme"
grep -qx 'make && make study' cmds || fail "the quick start no longer says 'make && make study': $(cat cmds)"
# README's "Set up": the indented lines after the heading, comments cut
awk '/^## Set up/ { on = 1; next } on && /^## / { exit } on && /^    [^ ]/' "$ROOT/README.md" |
	sed 's/^    //; s/[[:space:]]*#.*//' >setup
[ "$(sed -n 2p setup)" = "make test" ] && [ "$(wc -l <setup)" = 2 ] ||
	fail "README's set-up is not two commands ending with 'make test': $(cat setup)"
while read -r line; do
	grep -qxF -- "$line" "$ROOT/.ci/run" || fail "README's set-up line '$line' is not in .ci/run"
done <setup
[ "$(grep -cvE '^(#|set |cd |export |$)' "$ROOT/.ci/run")" = 2 ] ||
	fail ".ci/run runs more than the README's two set-up commands: $(cat "$ROOT/.ci/run")"

mkdir clone w
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp -p --parents -t "$T/clone") ||
	fail "cannot copy the checkout"
[ ! -e clone/bin ] && [ ! -e clone/build ] || fail "the copy has build products"
ln -s "$CKPT_DIR/resnet50.pth" w/resnet50-0676ba61.pth
ln -s "$CKPT_DIR/clip-rn50.pt" w/RN50.pt
awk -F'\t' 'NR <= 3' "$TESTDATA/labels.tsv" >sample.tsv
head -n 1 "$ROOT/data/templates-clip.txt" >t1.txt

# a sudo that fails: as root nothing may call it (a container has none)
mkdir nosudo
printf '#!/bin/sh\necho "sudo $*: called as root" >&2\nexit 99\n' >nosudo/sudo
chmod +x nosudo/sudo
[ "$(id -u)" = 0 ] || skip "runs the set-up as root (a container's user); this is uid $(id -u)"
cd clone || fail "cd clone"
sed -n 1p "$T/setup" >"$T/setup1"
cat "$T/setup1" "$T/cmds" | while read -r line; do
	echo "\$ $line" >>"$T/session.log"
	env -i PATH="$T/nosudo:/usr/local/bin:/usr/bin:/bin" HOME="$T/home" LANG=C.UTF-8 NVCC= \
		RNENC_WEIGHTS="$T/w" DATA="$T/sample.tsv" IMAGES="$TESTDATA/images" TEMPLATES="$T/t1.txt" \
		bash -c "$line" </dev/null >>"$T/session.log" 2>&1 ||
		{ tail -n 30 "$T/session.log"; fail "quick start: '$line' failed"; }
done || exit 1
grep -q 'install-deps: all [0-9]* packages' "$T/session.log" || fail "./install-deps did not say what it did"
tail -n 1 "$T/session.log" | grep -qE '^study: report/report\.md \(12 stages ran; log cache/stages\.log\)$' ||
	{ tail -n 5 "$T/session.log"; fail "the quick start does not end with the report line"; }
for f in report.md grid-fp32.jpg grid-fp16.jpg memory.svg; do
	[ -s "report/$f" ] || fail "quick start: report/$f missing"
done
grep -qE '^\| clip-rn50 \| fp16 \| 2 \| 0 \|' report/report.md || fail "quick start: the report lacks CLIP FP16 on 2 images"
[ -x bin/rnencode ] && [ ! -e "$T/home/.cache/rnencode" ] || fail "quick start: programs or weights in the wrong place"

# make install, then the programs alone: no checkout beside them, no RNENC_DATA.
# Not with tests/run's BIN (the checkout's own bin/, absolute): this copy's make would
# relink the checkout's programs from its own objects, built without CUDA (NVCC=), and a
# later test_gpu_build in the same checkout found rnencode without its CUDA backend.
unset BIN
make -s install PREFIX="$T/inst" >>"$T/session.log" 2>&1 || { tail -n 20 "$T/session.log"; fail "make install failed"; }
make -s install DESTDIR="$T/stage" PREFIX=/usr >>"$T/session.log" 2>&1 || fail "make install DESTDIR= failed"
for p in imgdecode rnencode txtencode zscore topk errtree; do
	[ -x "$T/inst/bin/$p" ] && [ -s "$T/inst/share/man/man1/$p.1" ] &&
		[ -s "$T/inst/share/bash-completion/completions/$p" ] && [ -x "$T/stage/usr/bin/$p" ] ||
		fail "make install: $p, its man page or completion missing"
done
[ -s "$T/inst/share/rnencode/wnids.txt" ] && [ -s "$T/inst/share/rnencode/clip/bpe_simple_vocab_16e6.txt.gz" ] ||
	fail "make install: data files missing"
cd "$T" && mv clone clone.away || fail "cannot move the checkout away"
printf 'tench\ngoldfish\n' >two.txt
inst() { env -i PATH="$T/inst/bin:/usr/bin:/bin" HOME="$T/home" LANG=C.UTF-8 bash -c "$1" 2>>"$T/inst.err"; }
# txtencode's default BPE vocabulary, errtree's default wnids and names: DIR/share/rnencode
inst "txtencode --weights w/RN50.pt --names two.txt --templates t1.txt > two.mp" ||
	fail "installed txtencode: $(cat inst.err)"
inst "imgdecode --preset imagenet -l sample.tsv $TESTDATA/images | rnencode --weights w/resnet50-0676ba61.pth \
	| zscore | errtree > tree.txt" || fail "installed pipeline: $(cat inst.err)"
grep -q 'mean severity' tree.txt || fail "installed errtree wrote no report: $(head -5 tree.txt)"
inst "imgdecode -l sample.tsv $TESTDATA/images | rnencode --weights w/RN50.pt | zscore --classes two.mp | topk -k 1 --format tsv" \
	>top.tsv || fail "installed CLIP pipeline: $(cat inst.err)"
[ "$(wc -l <top.tsv)" -ge 2 ] || fail "installed CLIP pipeline: $(cat top.tsv)"
mv clone.away clone && cd clone || fail "cannot move the checkout back"
make -s uninstall PREFIX="$T/inst" >>"$T/session.log" 2>&1 || fail "make uninstall failed"
[ -z "$(find "$T/inst" -type f)" ] || fail "make uninstall left files: $(find "$T/inst" -type f | head)"
exit 0
