#!/usr/bin/env bash
# make study-demo: the whole study on the random-weight test checkpoints, labelled so in
# the report, and what `make study` says on the terminal: the device once (the programs
# get --device and say nothing of it), txtencode's one summary line (stderr is a log
# here), and at the end the summary table (per model and precision: images, top-1, top-5,
# time per image) before the report line. A second run recomputes nothing.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
study_setup 2
# the demo's own inputs: its folder and report under $T (DEMO_*), the programs' snapshot
study study-demo STUDY_BIN="$SB" DEMO_DIR="$T/demo" DEMO_REPORT="$T/report-demo" DEMO_IMAGES=2 JOBS=2
grep -qE '^study: device cpu \(DEVICE=auto: ' make.out || fail "no device line: $(head -3 make.out)"
[ "$(grep -c '^study: device ' make.out)" = 1 ] || fail "the device said more than once: $(grep 'device' make.out)"
! grep -q 'using the CPU' make.out || fail "a program's CPU note in make study: $(grep 'using the CPU' make.out)"
grep -qE '^txtencode: 1000 prompts \(1000 classes\) encoded in [0-9.]+ s' make.out ||
	fail "no txtencode summary line: $(grep txtencode make.out)"
# the table, then the report line, last
tail -n 7 make.out >tail.txt
sed -n 1p tail.txt | grep -qE '^model +precision +images +top-1 +top-5 +time per image$' || fail "no summary table: $(cat tail.txt)"
for r in 'resnet50 +fp32' 'resnet50 +fp16' 'clip-rn50 +fp32' 'clip-rn50 +fp16'; do
	grep -qE "^$r +2 +[01]\.[0-9]{4} +[01]\.[0-9]{4} +[0-9]+\.[0-9]{3} s$" tail.txt || fail "summary table: no row '$r': $(cat tail.txt)"
done
sed -n 6p tail.txt | grep -qx '(random weights: make study-demo)' || fail "the table does not say random weights: $(cat tail.txt)"
sed -n 7p tail.txt | grep -qE "^study: $T/report-demo/report\.md \(12 stages ran; log $T/demo/cache/stages\.log\)$" ||
	fail "last line: $(sed -n 7p tail.txt)"
grep -qE '^\| weights \| \*\*random weights\*\* \(`make study-demo`' "$T/report-demo/report.md" ||
	fail "the report does not say random weights: $(sed -n 1,12p "$T/report-demo/report.md")"
grep -q 'not the published file' "$T/report-demo/report.md" || fail "the report's weights rows"
study study-demo STUDY_BIN="$SB" DEMO_DIR="$T/demo" DEMO_REPORT="$T/report-demo" DEMO_IMAGES=2 JOBS=2
tail -n 1 make.out | grep -q '(0 stages ran;' || fail "a second study-demo recomputed: $(tail -n 1 make.out)"
exit 0
