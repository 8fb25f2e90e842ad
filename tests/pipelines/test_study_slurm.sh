#!/usr/bin/env bash
# make study-slurm on a real one-node Slurm cluster (tests/cluster-lib.sh: munged, slurmctld
# and slurmd started for this test, 4 fake GPUs), both models, FP32 and FP16, 4 shards each,
# on 4 sample images with the random-weight checkpoints:
# - the README's make study-slurm line, verbatim, with --gres=gpu:1 (JOB_GPUS=1) on the
#   fake GPUs and every job held at submission (JOB_OPTS=--hold, from the environment); a
#   second submission meanwhile is refused; all released but one shard, released once its
#   weights file is another one: it fails the weights check, Slurm cancels the 4 jobs after
#   it, and make exits non-zero naming the shard and its log;
# - the same line again resubmits only that shard and the jobs after it, and ends with the
#   report;
# - make study's records (BATCH=1) equal the Slurm run's, bit for bit, encoders and scores;
# - the README's sbatch job array and merge lines, verbatim;
# - int8 (ResNet-50, 2 shards): the calibration jobs run before the int8 array, and the
#   report names that calibration (its tasks' records against make study's, and the
#   plan's calibration being make study's file: test_study_int8.sh).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
source "$ROOT/tests/cluster-lib.sh"
need_slurm
study_setup 4
study_folder
C=$T/cache
STUDY_ARGS+=(DATA="$T/imgs" IMAGES=)
cluster_start 4

# the jobs of the latest run: "id<TAB>name<TAB>tasks<TAB>count" lines
run_dir() { echo "$C/slurm/$(cat "$C/slurm/last")"; }
job_of() { awk -F'\t' -v n="$1" '$2 == n { print $1 }' "$(run_dir)/jobs.tsv"; }
# the job (and array task) ids Slurm has queued, sorted
queued() { squeue -h -r -o '%i' | LC_ALL=C sort; }
# stop_group PID: stop the process group PID leads (a background make and what it started)
stop_group() { kill -TERM -- "-$1" 2>/dev/null; }
# wait_for SECONDS CMD...: poll CMD every 0.2 s
wait_for() {
	local n=$(($1 * 5))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}

line=$(readme_block study-slurm)
[ "$line" = "make study-slurm SHARDS=4" ] || fail "the README's study-slurm block changed: [$line]"
# as from a shell: without the make test's MAKEFLAGS (its jobserver, its "Entering directory")
env_args=(-u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${STUDY_ARGS[@]}" JOB_GPUS=1 DEVICE=cpu)

# ---- the first run: one shard gets another weights file ----
start=$EPOCHREALTIME
# in a process group of its own, which the test stops if it ends first
(cd "$ROOT" && exec setsid -w env "${env_args[@]}" JOB_OPTS=--hold bash -c "$line") >run1.out 2>&1 &
mk=$!
at_exit "stop_group $mk"
wait_for 60 grep -q '^study-slurm: .*: submitted ' run1.out || { cat run1.out; fail "make study-slurm submitted nothing"; }
grep -q 'submitted 15 jobs, 27 tasks: enc-resnet50-fp32 (4 of 4 tasks), enc-resnet50-fp16 (4 of 4 tasks), enc-clip-rn50-fp32 (4 of 4 tasks), enc-clip-rn50-fp16 (4 of 4 tasks), classes-clip-rn50, merge-resnet50-fp32, merge-resnet50-fp16, merge-clip-rn50-fp32, merge-clip-rn50-fp16, scores-resnet50-fp32, scores-resnet50-fp16, scores-clip-rn50-fp32, scores-clip-rn50-fp16, report, publish; logs in ' run1.out ||
	fail "first run: $(grep submitted run1.out)"
A=$(job_of enc-resnet50-fp32)
# while they are queued, a second submission is refused
(cd "$ROOT" && env "${env_args[@]}" bash -c "$line") >twice.out 2>&1 && fail "a second run was submitted beside the first"
grep -q "^study-slurm: $(run_dir): jobs [0-9 ]* are still queued or running: wait for them (pipelines/study-slurm wait $(run_dir)) or scancel them$" twice.out ||
	fail "second submission: $(cat twice.out)"
# the GPUs: asked for the encoder tasks and the text tower only
for j in "${A}_0" "$(job_of classes-clip-rn50)" "$(job_of merge-resnet50-fp32)" "$(job_of report)"; do
	scontrol show job "$j" | grep -o 'TresPerNode=[^ ]*' >>gres.txt || echo "$j -" >>gres.txt
done
[ "$(grep -c 'TresPerNode=gres:gpu:1' gres.txt)" = 2 ] && [ "$(wc -l <gres.txt)" = 4 ] ||
	fail "--gres=gpu:1 on the wrong jobs: $(cat gres.txt)"
# the jobs after others go when one they need fails, not left pending
for n in merge-resnet50-fp32 scores-clip-rn50-fp32 report publish; do
	scontrol show job "$(job_of $n)" >job.txt
	grep -q 'Dependency=afterok:[0-9]' job.txt && grep -qw 'KillOInInvalidDependent=Yes' job.txt ||
		fail "$n: not submitted with afterok and --kill-on-invalid-dep=yes: $(cat job.txt)"
done
for j in $(queued); do [ "$j" = "${A}_2" ] || scontrol release "$j" || fail "scontrol release $j"; done
after=$(printf '%s\n' "${A}_2" $(job_of merge-resnet50-fp32) $(job_of scores-resnet50-fp32) $(job_of report) \
	$(job_of publish) | LC_ALL=C sort)
only_after() { [ "$(queued)" = "$after" ]; }
wait_for 240 only_after || fail "the other 22 tasks did not end: queued $(queued | tr '\n' ' ')"
ln -sfn "$CKPT_DIR/resnet50-legacy.pth" "$W/resnet50-0676ba61.pth"
scontrol release "${A}_2" || fail "scontrol release ${A}_2"
wait $mk
st=$?
cp run1.out "$T/make.log"
[ $st = 2 ] || { cat run1.out; fail "make study-slurm with a failing shard exited $st, expected 2"; }
run1=$(run_dir)
grep -qF "study-slurm: enc-resnet50-fp32 shard 2/4 (job ${A}_2) failed with exit 2: $run1/logs/enc-resnet50-fp32-2.log: encode-shard: " run1.out &&
	grep -q "rnencode used $W/resnet50-0676ba61.pth (sha256 $(sha256sum <"$CKPT_DIR/resnet50-legacy.pth" | cut -c1-64)), not the weights this run expects (RNENC_SHA256: sha256 $(sha256sum <"$CKPT_DIR/resnet50.pth" | cut -c1-64)); nothing kept$" run1.out ||
	{ cat run1.out; fail "the failed shard is not named with its log and the weights' message"; }
grep -qx "study-slurm: cancelled by Slurm, as a job they need failed: merge-resnet50-fp32, scores-resnet50-fp32, report, publish" run1.out &&
	grep -qx "study-slurm: $run1: 1 failed, 4 did not finish, of 27 tasks; make study-slurm again resubmits only what is missing" run1.out ||
	{ cat run1.out; fail "the cancelled jobs are not named"; }
# Slurm itself cancelled them (--kill-on-invalid-dep), and nothing waits in the queue
for j in $(job_of merge-resnet50-fp32) $(job_of publish); do
	scontrol show job "$j" | grep -q 'JobState=CANCELLED Reason=DependencyNeverSatisfied' ||
		fail "job $j: $(scontrol show job "$j" | grep JobState)"
done
[ -z "$(queued)" ] || fail "jobs left in the queue: $(queued)"
ls "$C" | grep -q 'enc-resnet50-fp32-.*-2of4\.\|\.tmp\.' && fail "a failed shard left a file: $(ls "$C")"
[ "$(ls "$C"/enc-*-?of4.mp | wc -l)" = 15 ] || fail "the other shards are not all kept: $(ls "$C")"
[ -z "$(ls "$ROOT" | grep -E '^slurm-[0-9]')" ] || fail "Slurm logs in the checkout"

# ---- the same line again: only the failed shard and the jobs after it ----
ln -sfn "$CKPT_DIR/resnet50.pth" "$W/resnet50-0676ba61.pth"
mark=$(log_mark)
(cd "$ROOT" && env "${env_args[@]}" bash -c "$line") >run2.out 2>&1 || { cat run2.out; fail "resubmission failed"; }
secs=$(echo "$EPOCHREALTIME - $start" | bc)
cat run2.out >>"$T/make.log"
grep -q 'submitted 5 jobs, 5 tasks: enc-resnet50-fp32 (1 of 4 tasks), merge-resnet50-fp32, scores-resnet50-fp32, report, publish;' run2.out ||
	{ cat run2.out; fail "resubmission: not only the failed shard and the jobs after it"; }
[ "$(awk -F'\t' '$2 == "enc-resnet50-fp32" { print $3 }' "$(run_dir)/jobs.tsv")" = 2 ] || fail "resubmitted tasks: $(cat "$(run_dir)/jobs.tsv")"
expect_ran "$mark" enc-resnet50-fp32 enc-resnet50-fp32 scores-resnet50-fp32 report
[ "$(tail -n 1 run2.out)" = "study: $T/report/report.md (4 stages ran; log $C/stages.log)" ] ||
	fail "resubmission does not end with the study's line: $(tail -n 1 run2.out)"
grep -qF '| shards | 4 |' "$T/report/report.md" || fail "the report does not say 4 shards"
echo "make study-slurm: ${secs} s, both runs with the cluster's scheduling" >"$T/timing"

# ---- make study's records are the Slurm run's; meanwhile the README's sbatch lines ----
# (verbatim, in the background: sbatch --wait polls at 2 s, then up to every 10 s)
export VAL=$T/imgs RUN=$T/run RNENC_WEIGHTS=$W STUDY_BIN=$SB
export RNENC_SHA256=$(sha256sum <"$CKPT_DIR/resnet50.pth" | cut -c1-64)
readme_block sbatch >cmds
[ "$(wc -l <cmds)" = 4 ] && grep -q '^sbatch ' cmds || fail "the README's sbatch block changed: $(cat cmds)"
setsid -w bash -c 'while read -r cmd; do
	(cd "$ROOT" && bash -c "$cmd") >>sbatch.out 2>&1 || { echo "README: '\''$cmd'\'' failed" >>sbatch.out; exit 1; }
done' <cmds &
by_hand=$!
at_exit "stop_group $by_hand"
mark=$(log_mark)
start=$EPOCHREALTIME
study
echo "make study: $(echo "$EPOCHREALTIME - $start" | bc) s" >>"$T/timing"
cat "$T/timing"
expect_ran "$mark" dec-clip dec-imagenet enc-clip-rn50-fp16 enc-clip-rn50-fp32 enc-resnet50-fp16 enc-resnet50-fp32 \
	report scores-clip-rn50-fp16 scores-clip-rn50-fp32 scores-resnet50-fp16 scores-resnet50-fp32
for m in resnet50 clip-rn50; do
	for p in fp32 fp16; do
		# make study's stream (shards=1 in its key) and the Slurm run's merged one
		enc=($(ls "$C"/enc-$m-$p-*.mp | grep -v 'of4\.mp$'))
		[ ${#enc[@]} = 2 ] || fail "$m $p: expected 2 encoder streams, got ${enc[*]}"
		records "-t logits -t embedding -t error" "${enc[0]}" >one
		records "-t logits -t embedding -t error" "${enc[1]}" >many
		[ "$(wc -l <one)" = 4 ] && cmp -s one many || fail "$m $p: the Slurm run's records differ from make study's"
		sc=($(ls "$C"/scores-$m-$p-*.mp))
		[ ${#sc[@]} = 2 ] || fail "$m $p: expected 2 score streams, got ${sc[*]}"
		records "-t scores -t error" "${sc[0]}" >one
		records "-t scores -t error" "${sc[1]}" >many
		[ "$(wc -l <one)" = 4 ] && cmp -s one many || fail "$m $p: the Slurm run's scores differ from make study's"
	done
done

wait $by_hand || { cat sbatch.out; fail "the README's sbatch lines failed"; }
[ "$(ls "$RUN/logs" | wc -l)" = 4 ] || fail "README sbatch: the logs are not in \$RUN/logs: $(ls "$RUN/logs")"
single=$(ls "$C"/enc-resnet50-fp32-*.mp | grep -v 'of4\.mp$' | while read -r f; do
	[ "$("$SB/recview" -t stats "$f" | grep -c '"producer":"rnencode"')" = 1 ] && echo "$f"; done)
records "-t logits -t error" "$single" >one
records "-t logits -t error" "$RUN/resnet50-fp32.mp" >many
[ "$(wc -l <one)" = 4 ] && cmp -s one many || fail "README sbatch: the merged shards differ from make study's records"
grep -q '^  top-1 accuracy: ' sbatch.out || fail "README sbatch: errstats printed no accuracy: $(tail -n 5 sbatch.out)"

# ---- int8: the calibration as jobs before the int8 array ----
mark=$(log_mark)
(cd "$ROOT" && env "${env_args[@]}" bash -c 'make study-slurm SHARDS=2 MODELS=resnet50 PRECISIONS=int8') >run3.out 2>&1 ||
	{ cat run3.out; fail "make study-slurm PRECISIONS=int8 failed"; }
cat run3.out >>"$T/make.log"
grep -q 'submitted 7 jobs, 8 tasks: calset-imagenet, cal-resnet50, enc-resnet50-int8 (2 of 2 tasks), merge-resnet50-int8, scores-resnet50-int8, report, publish;' run3.out ||
	{ cat run3.out; fail "int8 on Slurm: not the calibration jobs and the int8 array"; }
expect_ran "$mark" calset-imagenet cal-resnet50 enc-resnet50-int8 enc-resnet50-int8 enc-resnet50-int8 scores-resnet50-int8 report
# the calibration ended before the first int8 task began (afterok)
awk -F'\t' '$3 ~ /^cal-resnet50-/ { c = NR } $3 ~ /^enc-resnet50-int8-.*of2\.mp$/ && !e { e = NR } END { exit !(c && e && c < e) }' \
	"$C/stages.log" || fail "the int8 tasks did not wait for the calibration: $(cut -f3 "$C/stages.log" | tail -n 7)"
cal=$(ls "$C"/cal-resnet50-*.mp)
grep -q "^| int8 calibration, ResNet-50 | \`$cal\` sha256 $(sha256sum <"$cal" | cut -d' ' -f1): 4 images, " "$T/report/report.md" ||
	fail "int8 on Slurm: the report's calibration: $(grep 'int8 calibration' "$T/report/report.md")"
exit 0
