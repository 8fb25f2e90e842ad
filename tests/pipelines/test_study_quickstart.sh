#!/usr/bin/env bash
# The README's quick start, as a new user runs it: a fresh copy of the checkout (the
# files git tracks or would track, no build/ or bin/), then the quick start's make lines
# exactly as written, in a clean environment, ending with the report. Taken from the
# block marked "study-quickstart" in README.md, else in pipelines/README.md. Two things
# differ from a new user's machine, through the environment only: the weights are
# random-weight checkpoints under the published names (RNENC_WEIGHTS; nothing can be
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
# the fenced block after the marker; its lines that run make (comments cut)
awk '/study-quickstart/ { m = 1; next } m && /^```/ { if (on) exit; on = 1; next } on' "$readme" |
	sed 's/[[:space:]]#.*//' | grep -E '^make( |$)' >cmds
[ -s cmds ] || fail "no quick start block with make lines in $readme"
grep -qx 'make && make study' cmds || fail "the quick start no longer says 'make && make study': $(cat cmds)"

mkdir clone w
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp -p --parents -t "$T/clone") ||
	fail "cannot copy the checkout"
[ ! -e clone/bin ] && [ ! -e clone/build ] || fail "the copy has build products"
ln -s "$CKPT_DIR/resnet50.pth" w/resnet50-0676ba61.pth
ln -s "$CKPT_DIR/clip-rn50.pt" w/RN50.pt
awk -F'\t' 'NR <= 3' "$TESTDATA/labels.tsv" >sample.tsv
head -n 1 "$ROOT/data/templates-clip.txt" >t1.txt

cd clone || fail "cd clone"
while read -r line; do
	echo "\$ $line" >>"$T/session.log"
	env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/home" LANG=C.UTF-8 NVCC= \
		RNENC_WEIGHTS="$T/w" DATA="$T/sample.tsv" IMAGES="$TESTDATA/images" TEMPLATES="$T/t1.txt" \
		bash -c "$line" >>"$T/session.log" 2>&1 ||
		{ tail -n 30 "$T/session.log"; fail "quick start: '$line' failed"; }
done <"$T/cmds"
tail -n 1 "$T/session.log" | grep -qE '^study: report/report\.md \(12 stages ran; log cache/stages\.log\)$' ||
	{ tail -n 5 "$T/session.log"; fail "the quick start does not end with the report line"; }
for f in report.md grid-fp32.jpg grid-fp16.jpg memory.svg; do
	[ -s "report/$f" ] || fail "quick start: report/$f missing"
done
grep -qE '^\| clip-rn50 \| fp16 \| 2 \| 0 \|' report/report.md || fail "quick start: the report lacks CLIP FP16 on 2 images"
[ -x bin/rnencode ] && [ ! -e "$T/home/.cache/rnencode" ] || fail "quick start: programs or weights in the wrong place"
exit 0
