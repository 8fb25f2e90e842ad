# shellcheck shell=bash
# tests/pipelines/study-lib.sh - set-up shared by the `make study` tests (source it after
# lib.sh). Not a test itself (tests/run runs test_*.sh only).
#
#   study_setup N      random-weight checkpoints under the published names in $W, a
#                      snapshot of the programs in $SB, a labels TSV of the first N
#                      sample images in $T/sample.tsv, one CLIP template in $T/t1.txt
#   study ARGS...      make study (or another target: ARGS) with those, the cache in
#                      $T/cache and the report in $T/report; output appended to make.log
#   log_mark           the stage log's current line count
#   ran_since MARK     the stages run after MARK, one per line, keys cut off, sorted
#                      (dec-imagenet, enc-resnet50-fp16, classes-clip-rn50, report...)
#   expect_ran MARK STAGE...   exactly these stages ran since MARK
#   readme_block NAME  the lines of a scale-out block of pipelines/README.md
#   study_folder       the sample as an ImageNet-style folder $T/imgs
#   records TYPES F... the records of those types in the streams F, sorted JSON lines
#   need_resnet18      R18=a random-weight torchvision resnet18 checkpoint (tests/py/resnets.py
#                      make; written once into build/fixtures/study, about 6 CPU-seconds)
study_setup() {
	[ "${ASAN:-0}" = 1 ] && skip "make study runs the encoders for minutes: not under make asan (each program's tests are)"
	source "$ROOT/tests/fixtures.sh"
	need_checkpoints
	W=$T/weights
	mkdir -p "$W" "$T/bin"
	ln -s "$CKPT_DIR/resnet50.pth" "$W/resnet50-0676ba61.pth"
	ln -s "$CKPT_DIR/clip-rn50.pt" "$W/RN50.pt"
	# a snapshot: a program rebuilt by someone else during the test must not look
	# like a program change to the study's cache
	local p
	for p in imgdecode rnencode txtencode zscore errstats errtree fpdiff recview; do
		[ -x "$BIN/$p" ] || fail "$BIN/$p missing: run make first"
		cp -p "$BIN/$p" "$T/bin/$p" || fail "cannot copy $BIN/$p"
	done
	SB=$T/bin
	awk -F'\t' -v n="$1" 'NR == 1 || NR <= n + 1' "$TESTDATA/labels.tsv" >"$T/sample.tsv"
	head -n 1 "$ROOT/data/templates-clip.txt" >"$T/t1.txt"
	STUDY_ARGS=(STUDY_BIN="$SB" WEIGHTS="$W" CACHE="$T/cache" REPORT="$T/report"
		DATA="$T/sample.tsv" IMAGES="$TESTDATA/images" TEMPLATES="$T/t1.txt" JOBS=2 BATCH=1)
}

study() {
	local target=study
	case ${1:-} in study*) target=$1; shift ;; esac
	echo "== make $target $*" >>"$T/make.log"
	make -C "$ROOT" --no-print-directory "$target" "${STUDY_ARGS[@]}" "$@" >"$T/make.out" 2>&1
	local st=$?
	cat "$T/make.out" >>"$T/make.log"
	if [ $st != 0 ]; then
		tail -n 30 "$T/make.out"
		fail "make $target $* exited $st"
	fi
}

log_mark() { cat "$T/cache/stages.log" 2>/dev/null | wc -l; }

ran_since() {
	tail -n +"$(($1 + 1))" "$T/cache/stages.log" | cut -f3 | sed -E 's/-[0-9a-f]{16}.*//' | LC_ALL=C sort
}

# expect_ran MARK STAGE... : exactly these stages ran since MARK
expect_ran() {
	local mark=$1
	shift
	local want got
	want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
	got=$(ran_since "$mark")
	[ "$got" = "$want" ] || fail "stages run: expected [$(echo $want)], got [$(echo $got)]"
}

# readme_block NAME: the lines of the fenced block after the marker "<!-- scale-out NAME"
# in pipelines/README.md (blank and comment lines dropped), for a test to run verbatim
readme_block() {
	awk -v tag="<!-- scale-out $1" 'index($0, tag) == 1 { m = 1; next }
		m && /^```/ { if (on) exit; on = 1; next } on' "$ROOT/pipelines/README.md" |
		grep -v '^[[:space:]]*\(#.*\)\{0,1\}$'
}

# study_folder: an ImageNet-style folder $T/imgs of the sample TSV's images (class folders
# named by wnid: the labels come from them, and the records' ids are paths relative to it)
study_folder() {
	mkdir -p "$T/imgs"
	awk -F'\t' 'NR > 1 { print $1, $2 }' "$T/sample.tsv" | while read -r f wnid; do
		mkdir -p "$T/imgs/$wnid" && ln -s "$TESTDATA/images/$f" "$T/imgs/$wnid/$f"
	done
}

# records TYPES STREAM...: the records of the given types (-t X -t Y), one JSON line each
# with every value, sorted (a merged stream is grouped by shard)
records() {
	local types=$1
	shift
	cat "$@" | "$SB/recview" --full $types | LC_ALL=C sort
}

need_resnet18() {
	local dir=$ROOT/build/fixtures/study
	R18=$dir/resnet18.pth
	[ -s "$R18" ] && [ ! "$ROOT/tests/py/resnets.py" -nt "$R18" ] && return 0
	"$PY" -c 'import torch, torchvision' 2>/dev/null || skip "the resnet18 fixture needs torch and torchvision for $PY"
	mkdir -p "$dir" || fail "cannot create $dir"
	(
		flock 9 || exit 1
		[ -s "$R18" ] && [ ! "$ROOT/tests/py/resnets.py" -nt "$R18" ] && exit 0
		"$PY" "$ROOT/tests/py/resnets.py" make resnet18 "$R18.tmp" >&2 && mv -f "$R18.tmp" "$R18"
	) 9>"$dir/.lock" || fail "tests/py/resnets.py make resnet18 failed"
}
