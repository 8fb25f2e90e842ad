#!/usr/bin/env bash
# Scale-out gives the same records as one process: make study-shards with SHARDS=2
# and SHARDS=3 against make study (decoded images and encoder outputs, both models,
# FP32). Four sample images in an ImageNet-style folder (class folders named by wnid:
# the labels come from them), so the records' ids are the same relative paths in every
# run; records are compared as sets (a merged stream is grouped by shard). The README's
# by-hand lines run in test_scaleout.sh and test_study_slurm.sh.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
study_setup 4
C=$T/cache
study_folder
STUDY_ARGS+=(DATA="$T/imgs" IMAGES= PRECISIONS=fp32)

study
expect_ran 0 dec-clip dec-imagenet classes-clip-rn50 enc-clip-rn50-fp32 enc-resnet50-fp32 scores-clip-rn50-fp32 \
	scores-resnet50-fp32 report
# ids relative to DATA, labels from the class folders
got=$("$SB/recview" -t image "$(ls "$C"/dec-imagenet-*.mp)" | sed -E 's/.*"id":"([^"]*)".*"label":(-?[0-9]+).*/\1 \2/')
want=$(awk -F'\t' 'NR > 1 { print $2 "/" $1, $3 }' "$T/sample.tsv" | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "folder labels: got [$got], expected [$want]"
for n in 2 3; do
	mark=$(log_mark)
	study study-shards SHARDS=$n
	parts=()
	for ((i = 0; i < n; i++)); do parts+=(dec-clip dec-imagenet enc-clip-rn50-fp32 enc-resnet50-fp32); done
	expect_ran "$mark" "${parts[@]}" enc-clip-rn50-fp32 enc-resnet50-fp32 scores-clip-rn50-fp32 \
		scores-resnet50-fp32 report
	for p in imagenet clip; do
		single=$(ls "$C"/dec-$p-*.mp | grep -v 'of[0-9]*\.mp$')
		records "-t image -t error" "$single" >one
		[ "$(wc -l <one)" = 4 ] || fail "single decode $p: $(wc -l <one) records"
		files=()
		for ((i = 0; i < n; i++)); do files+=("${single%.mp}-${i}of$n.mp"); done
		records "-t image -t error" "${files[@]}" >many
		cmp -s one many || fail "decode $p: $n shards differ from the single run"
	done
	for m in resnet50 clip-rn50; do
		# the merged stream is the one whose header says so: n rnencode stats records
		merged=
		for f in "$C"/enc-$m-fp32-*.mp; do
			case $f in *of[0-9]*.mp) continue ;; esac
			[ "$("$SB/recview" -t stats "$f" | grep -c '"producer":"rnencode"')" = $n ] && merged=$f
		done
		[ -n "$merged" ] || fail "$m: no merged stream of $n shards"
		single=$(ls "$C"/enc-$m-fp32-*.mp | grep -v 'of[0-9]*\.mp$' | while read -r f; do
			[ "$("$SB/recview" -t stats "$f" | grep -c '"producer":"rnencode"')" = 1 ] && echo "$f"; done)
		records "-t logits -t embedding -t error" "$single" >one
		records "-t logits -t embedding -t error" "$merged" >many
		[ "$(wc -l <one)" = 4 ] && cmp -s one many || fail "encode $m: $n shards differ from the single run"
	done
	grep -qF "| shards | $n |" "$T/report/report.md" || fail "report does not say $n shards"
	grep -qE '^\| resnet50 \| fp32 \| cpu: .* \| 1 \| 4 \| [0-9.]+ \+- [0-9.]+ \|' "$T/report/report.md" ||
		fail "report's time row does not pool the $n shards"
done

exit 0
