#!/usr/bin/env bash
# make study, end to end on 3 sample images with random-weight checkpoints (CPU, one
# CLIP template, BATCH=1 so each run has timed batches): report/ holds every part and
# its figures match the cached streams; a second run recomputes nothing; changing
# TEMPLATES, then PRECISIONS, then BATCH reruns exactly the stages that depend on
# them; going back to the first settings reruns nothing.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
study_setup 3
R=$T/report C=$T/cache
# and one image that cannot be decoded: an error record all the way, counted as a failure
head -c 2000 "$TESTDATA/images/n01440764_tench.JPEG" >broken.JPEG
printf '%s\tn01440764\t0\n' "$T/broken.JPEG" >>sample.tsv

# ---- the first run: every stage once ----
study
expect_ran 0 dec-clip dec-imagenet classes-clip-rn50 enc-clip-rn50-fp16 enc-clip-rn50-fp32 enc-resnet50-fp16 \
	enc-resnet50-fp32 scores-clip-rn50-fp16 scores-clip-rn50-fp32 scores-resnet50-fp16 scores-resnet50-fp32 report
grep -q "^study: $R/report.md (12 stages ran; " "$T/make.out" || fail "no closing line: $(tail -n 1 "$T/make.out")"
for f in report.md grid-fp32.jpg grid-fp16.jpg memory.svg data/errtree-fp32.json data/memory.tsv; do
	[ -s "$R/$f" ] || fail "report/$f missing or empty"
done
for g in "$R"/grid-fp32.jpg "$R"/grid-fp16.jpg; do
	[ "$(head -c 3 "$g" | od -An -tx1 | tr -d ' ')" = ffd8ff ] || fail "$g is not a JPEG"
done
head -n 1 "$R/memory.svg" | grep -q '^<svg ' && tail -n 1 "$R/memory.svg" | grep -q '^</svg>$' ||
	fail "memory.svg is not an SVG document"
[ "$(grep -c '<polyline' "$R/memory.svg")" = 4 ] || fail "memory.svg: expected 4 runs plotted"
[ -z "$(find "$C" "$T" -maxdepth 1 -name '*.tmp.*')" ] || fail "temporary files left behind"
md=$R/report.md
for h in "## Accuracy" "## The 10 most misclassified classes (fp32)" "## Where each model does better" \
	"## FP32 against FP16" "## Encoding time and memory" "## How bad are the mistakes" "## Provenance" \
	"### ResNet-50, FP32 against FP16: top-5 probabilities" "### CLIP RN50, FP32 against FP16: top-5 probabilities" "Classes where A does better" \
	"Classes where B does better" "![only one model right, fp32](grid-fp32.jpg)" "![memory over time](memory.svg)"; do
	grep -qF -- "$h" "$md" || fail "report.md lacks '$h'"
done
[ "$(grep -c 'not the published file' "$md")" = 2 ] || fail "random weights not flagged as unpublished"

# accuracy rows against topk, an independent reading of the cached scores
for m in resnet50 clip-rn50; do
	for p in fp32 fp16; do
		s=$(ls "$C"/scores-$m-$p-*.mp) || fail "no cached scores for $m $p"
		"$BIN/topk" -k 5 --format tsv "$s" >top.tsv || fail "topk $s"
		read -r c1 c5 n e < <(awk -F'\t' '$1 == "id" { next } $3 == "error" { e++; next }
			{ n[$1] = 1; if ($4 == $2) { if ($3 == 1) c1++; c5++ } } END { print c1 + 0, c5 + 0, length(n), e + 0 }' top.tsv)
		[ "$n $e" = "3 1" ] || fail "$s: $n images and $e failures, expected 3 and 1"
		row=$(printf '| %s | %s | 3 | 1 | %.4f | %.4f | %d/3 | %d/3 |' "$m" "$p" "$(echo "$c1/3" | bc -l)" \
			"$(echo "$c5/3" | bc -l)" "$c1" "$c5")
		grep -qF -- "$row" "$md" || fail "accuracy row '$row' not in report.md"
		if [ $p = fp32 ]; then
			# one image per class here: each wrong top-1 is one misclassified class
			want=$(awk -F'\t' '$3 == 1 && $4 != $2' top.tsv | wc -l)
			h="### ResNet-50"
			[ $m = resnet50 ] || h="### CLIP RN50"
			got=$(awk -v h="$h" '$0 == h { on = 1; next } /^##/ { on = 0 } on' "$md" |
				grep -cE '^  Class [0-9]+ \(.+\): 1/1 misclassified \(1\.00\)$')
			[ "$got" = "$want" ] || fail "$m: $got misclassified classes listed, expected $want"
		fi
	done
	# FP32 vs FP16: the table's max |diff| is fpdiff's on the cached scores
	want=$("$SB/fpdiff" --json "$C"/scores-$m-fp32-*.mp "$C"/scores-$m-fp16-*.mp |
		awk -f "$ROOT/pipelines/json-flat.awk" | awk -F'\t' '$1 == "probabilities.max_abs_diff" { printf "%.6f", $2 }')
	grep -qE "^\| $m \| fp16 \| 3 \| [01]\.[0-9]{4} \| [0-9]+ \| [0-9]/3 \| $want \|" "$md" ||
		fail "$m: FP32/FP16 row with max |diff| $want not found"
	# fpdiff's report names the runs by model and precision (--label), not /dev/fd/N
	grep -q "^reference $m-fp32 " "$R/data/fpdiff-$m-fp16.txt" || fail "data/fpdiff-$m-fp16.txt: $(head -2 "$R/data/fpdiff-$m-fp16.txt")"
	grep -q "/dev/fd" "$R/data/fpdiff-$m-fp16.txt" "$R/data/fpdiff-$m-fp16.json" && fail "fpdiff report names /dev/fd"
	# time per image: the stats record's mean, per run
	for p in fp32 fp16; do
		mean=$("$SB/recview" -t stats "$C"/enc-$m-$p-*.mp | grep '"producer":"rnencode"' |
			sed -E 's/.*"image_mean_s":([0-9.e+-]+).*/\1/')
		grep -qE "^\| $m \| $p \| cpu: .* \| 1 \| 3 \| $(printf '%.4f' "$mean") \+- [0-9.]+( ~)? \|" "$md" ||
			fail "$m $p: time row with mean $(printf '%.4f' "$mean") not found"
	done
done
grep -qE '^mean severity +[0-9.]+ +[0-9.]+$' "$md" || fail "errtree's severity table missing"
# errtree names the classes as the rest of the report does (the --names file: CLIP's
# names, whose same-name pairs are missile and sunglasses), not by ImageNet's lemmas
$PY - "$R/data/errtree-fp32.json" <<'EOF' || fail "errtree's class names are not the report's"
import json, sys
same = json.load(open(sys.argv[1]))["ambiguity"]["same_name"]
assert sorted(s["name"] for s in same) == ["missile", "sunglasses"], same
assert all(s["names_file"].endswith("names-clip.txt") for s in same), same
EOF
grep -qF '| CLIP prompts | `'"$T"'/t1.txt` (1 templates)' "$md" || fail "templates setting not reported"

# ---- the report alone: one run, with a GPU allocation timeline (rnencode --mem-trace on
# CUDA; a made-up one here) beside its host samples ----
e=$(ls "$C"/enc-resnet50-fp16-*.mp) s=$(ls "$C"/scores-resnet50-fp16-*.mp)
cp "${e%.mp}.mem.tsv" g.mem.tsv
printf '0.01\t104857600\talloc weights\n0.02\t209715200\talloc arena\n0.5\t1000\top conv1\n0.9\t0\tfree arena\n' >g.trace.tsv
RNENC_DATA=$ROOT/data expect_exit 0 "$ROOT/pipelines/study-report" --bin "$SB" --names "$ROOT/data/names-clip.txt" \
	--run resnet50 fp16 "$s" "$e" "$T/g.mem.tsv" one
grep -q 'GPU memory held by rnencode' one/memory.svg && grep -q 'peak 200.0 MiB on the GPU' one/memory.svg &&
	cmp -s g.trace.tsv one/data/trace-resnet50-fp16.tsv && grep -q 'rnencode --mem-trace' one/report.md ||
	fail "a GPU timeline is not in the report"
grep -q '^| resnet50 | fp16 | 3 | 1 |' one/report.md && ! grep -q '^## Where each model' one/report.md &&
	! grep -q '^## FP32 against' one/report.md || fail "one-run report: wrong sections"

# ---- the same again: nothing recomputed, nothing rewritten ----
snap() { find "$C" "$R" -type f -printf '%p %T@\n' | LC_ALL=C sort; }
snap >before
mark=$(log_mark)
study
expect_ran "$mark"
grep -q "(0 stages ran; " "$T/make.out" || fail "second run: $(tail -n 1 "$T/make.out")"
snap >after
cmp -s before after || { diff before after; fail "the second run rewrote files"; }
key1=$(cd "$R" && ls -A | grep '^\.study-')
# REPORT names a file, not a folder: refused, the file kept (rm -rf deleted it)
echo mine >notes.txt
make -C "$ROOT" --no-print-directory study "${STUDY_ARGS[@]}" REPORT="$T/notes.txt" >make.out 2>&1 &&
	fail "REPORT=a file: make study succeeded"
grep -q "^study: $T/notes.txt is not a folder: not replacing it" make.out || fail "REPORT=a file: $(tail -n 3 make.out)"
[ "$(cat notes.txt)" = mine ] || fail "REPORT=a file: the file was replaced"

# ---- TEMPLATES: CLIP's classes, CLIP's scores and the report only ----
head -n 2 "$ROOT/data/templates-clip.txt" >t2.txt
mark=$(log_mark)
study TEMPLATES="$T/t2.txt"
expect_ran "$mark" classes-clip-rn50 scores-clip-rn50-fp16 scores-clip-rn50-fp32 report
grep -qF '(2 templates)' "$md" || fail "report does not show the 2 templates"

# ---- PRECISIONS: the report only, without FP16 ----
mark=$(log_mark)
study TEMPLATES="$T/t2.txt" PRECISIONS=fp32
expect_ran "$mark" report
! grep -q '| fp16 |' "$md" && ! grep -q '^## 4' "$md" && [ ! -e "$R/grid-fp16.jpg" ] ||
	fail "PRECISIONS=fp32 report still shows FP16"

# ---- BATCH: one encoder, its scores, the report; the logits barely change (oneDNN picks
# other kernels for another batch size: about 1e-5 here, not bit for bit) ----
mark=$(log_mark)
study TEMPLATES="$T/t2.txt" PRECISIONS=fp32 MODELS=resnet50 BATCH=2
expect_ran "$mark" enc-resnet50-fp32 scores-resnet50-fp32 report
set -- "$C"/enc-resnet50-fp32-*.mp
[ $# = 2 ] || fail "expected 2 cached resnet50 fp32 encodings (BATCH 1 and 2), found $#"
"$SB/fpdiff" --prob-tol 1e-4 "$1" "$2" >fp.txt || { cat fp.txt; fail "BATCH=1 and BATCH=2 disagree"; }
grep -q "^compared: 3; failed in one run only: 0; failed in both: 1$" fp.txt || fail "BATCH=1 and BATCH=2: not the same 3 images"
grep -qE '^\| resnet50 \| fp32 \| cpu: .* \| 2 \| 3 \|' "$md" || fail "report does not show batch 2"

# ---- back to the first settings: all cached, the first report back in place ----
mark=$(log_mark)
study
expect_ran "$mark"
[ -e "$R/$key1" ] && [ -e "$R/grid-fp16.jpg" ] || fail "the first report was not restored"
exit 0
