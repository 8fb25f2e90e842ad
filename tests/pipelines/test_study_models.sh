#!/usr/bin/env bash
# make study with other models and precisions, on 2 sample images with random-weight
# checkpoints (a torchvision resnet18 from tests/py/resnets.py, CLIP RN50):
# - pipelines/README.md's MODELS/PRECISIONS line, verbatim: each model's preset, weights
#   file and (for CLIP) its own class table; the report's precision table per model, its
#   data (precision.tsv, precision.json) matching fpdiff on the cached streams;
# - int8 with DEVICE=cuda (the cuda backend computes no int8; here, without a GPU,
#   rnencode stops at --device cuda) stops the study before any stage, in rnencode's
#   line, exit 2, and no report (int8 on the CPU: test_study_int8.sh); unknown names
#   are refused at once;
# - make study-slurm-plan: the Slurm jobs of the same MODELS/PRECISIONS; two array tasks'
#   commands, run here as Slurm would, give make study's records (BATCH=1: bit for bit).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
study_setup 2
need_resnet18
ln -s "$R18" "$W/resnet18-f37072fd.pth"
R=$T/report C=$T/cache
md=$R/report.md
# as from a shell: without the make test's MAKEFLAGS (its jobserver, its "Entering directory")
env_args=(-u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${STUDY_ARGS[@]}")
line=$(awk '/^<!-- study-models/ { m = 1; next } m && /^```/ { if (on) exit; on = 1; next } on' "$ROOT/pipelines/README.md")
[ "$line" = 'make study MODELS="resnet18 clip-rn50" PRECISIONS="fp32 fp16"' ] ||
	fail "pipelines/README.md's study-models block changed: [$line]"
grep -qF "\`$line\`" "$ROOT/README.md" || fail "README.md no longer gives the line '$line'"

# ---- the README's line ----
(cd "$ROOT" && env "${env_args[@]}" bash -c "$line") >run.out 2>&1 || { tail -n 20 run.out; fail "'$line' failed"; }
expect_ran 0 dec-clip dec-imagenet classes-clip-rn50 enc-clip-rn50-fp16 enc-clip-rn50-fp32 enc-resnet18-fp16 \
	enc-resnet18-fp32 report scores-clip-rn50-fp16 scores-clip-rn50-fp32 scores-resnet18-fp16 scores-resnet18-fp32
grep -qE '^resnet18 +fp16 +2 ' run.out || fail "the closing table lacks resnet18: $(tail -n 6 run.out)"
grep -qx '# Study: ResNet-18 and CLIP RN50, FP32 and FP16' "$md" || fail "title: $(head -n 1 "$md")"
grep -qF "| weights, ResNet-18 | \`$W/resnet18-f37072fd.pth\` sha256 $(sha256sum <"$R18" | cut -c1-16)...: **not the published file** (published: sha256 f37072fd...)" "$md" ||
	fail "resnet18's weights row: $(grep 'weights, ' "$md")"
# each model's preset and precision reached rnencode
"$SB/recview" -t header "$C"/enc-resnet18-fp16-*.mp | grep -q '"argv":\["[^"]*rnencode","--model","resnet18",.*"--precision","fp16"\]' ||
	fail "resnet18 fp16: $("$SB/recview" -t header "$C"/enc-resnet18-fp16-*.mp)"
"$SB/recview" -t header "$C"/dec-imagenet-*.mp | grep -q '"preset":"imagenet"' || fail "resnet18 was not decoded with imagenet"
# the precision table per model, and its data: fpdiff's figures on the cached streams
awk '/^## FP32 against FP16$/ { on = 1 } on && /^### Each pair/ { exit } on' "$md" >prec.md
for m in resnet18 clip-rn50; do
	h="### ResNet-18"
	[ $m = resnet18 ] || h="### CLIP RN50"
	grep -qx -- "$h" prec.md || fail "no precision table for $m: $(cat prec.md)"
	e=("$C"/enc-$m-fp32-*.mp) f=("$C"/enc-$m-fp16-*.mp)
	# CLIP's embeddings need their scores beside them
	[ $m = resnet18 ] || { e+=("$C"/scores-$m-fp32-*.mp) f+=("$C"/scores-$m-fp16-*.mp); }
	"$SB/fpdiff" --json <(cat "${e[@]}") <(cat "${f[@]}") | awk -f "$ROOT/pipelines/json-flat.awk" >fd.flat ||
		fail "fpdiff $m"
	read -r agree maxd < <(awk -F'\t' '{ v[$1] = $2 } END { printf "%.4f %.6f\n", 1 - v["disagreement"], v["probabilities.max_abs_diff"] }' fd.flat)
	top1=$(awk -F'\t' '$1 == "runs.0.top1.accuracy" { printf "%.4f", $2 }' <("$SB/errstats" --json "$C"/scores-$m-fp16-*.mp |
		awk -f "$ROOT/pipelines/json-flat.awk"))
	awk -v h="$h" '$0 == h { on = 1; next } on && /^###/ { exit } on' prec.md | grep -qF "| fp16 | $top1 | " ||
		fail "$m: no fp16 row with top-1 $top1: $(cat prec.md)"
	awk -v h="$h" '$0 == h { on = 1; next } on && /^###/ { exit } on' prec.md | grep -qF "| $agree | $maxd |" ||
		fail "$m: the fp16 row lacks fpdiff's agreement $agree and max |diff| $maxd: $(cat prec.md)"
	$PY - "$R/data/precision.json" "$m" "$agree" "$maxd" <<'EOF' || fail "precision.json: $m"
import json, sys
rows = {(r["model"], r["precision"]): r for r in json.load(open(sys.argv[1]))["runs"]}
r = rows[sys.argv[2], "fp16"]
assert "%.4f" % r["top1_agreement"] == sys.argv[3] and "%.6f" % r["max_abs_diff"] == sys.argv[4], r
assert rows[sys.argv[2], "fp32"]["reference"] is None and r["reference"] == "fp32", r
assert r["time_per_image_s"] is not None and r["peak_memory_bytes"] > 0, r
EOF
done
key=$(cd "$R" && ls -A | grep '^\.study-')

# ---- int8 on cuda: before any stage, rnencode's line, exit 2, no report ----
# (a new cache: without the check, the FP32 stages would run first)
(cd "$ROOT" && env "${env_args[@]}" CACHE="$T/cache2" REPORT="$T/report2" DEVICE=cuda \
	bash -c 'make study MODELS="resnet18 clip-rn50" PRECISIONS="fp32 int8"') >refused.out 2>&1
st=$?
[ $st = 2 ] || { cat refused.out; fail "PRECISIONS with int8 on cuda: exit $st, expected 2"; }
grep -qE '^pipelines/study\.mk:[0-9]+: \*\*\* PRECISIONS: resnet18 int8 on cuda: rnencode: [^ ].*\.  Stop\.$' refused.out ||
	fail "the refusal is not rnencode's line through study.mk: $(cat refused.out)"
[ ! -e "$T/cache2/stages.log" ] && [ ! -e "$T/report2" ] || fail "stages ran before the refusal: $(cat "$T/cache2/stages.log")"
# names refused before anything is built or fetched (unknown ones: test_study_parts.sh)
for bad in 'COMPARE=resnet18|COMPARE=.resnet18.: expected two of MODELS' \
	'COMPARE=resnet50 resnet101|COMPARE: .resnet101. is not in MODELS \(resnet50 clip-rn50\)'; do
	(cd "$ROOT" && env "${env_args[@]}" make study "${bad%%|*}") >bad.out 2>&1 && fail "make study ${bad%%|*} succeeded"
	grep -qE -- "${bad#*|}" bad.out || fail "make study ${bad%%|*}: $(cat bad.out)"
done
[ -e "$R/$key" ] || fail "a refused run touched the report"

# ---- Slurm: the plan of the same MODELS and PRECISIONS; two of its tasks run here ----
plan=$(cd "$ROOT" && env "${env_args[@]}" make study-slurm-plan SHARDS=2 MODELS="resnet18 clip-rn50" 2>"$T/plan.err") ||
	fail "make study-slurm-plan: $(cat "$T/plan.err")"
# name, tasks, after (the reader trims the fields' spaces)
awk -F'\t' '{ for (i = 1; i <= NF; i++) gsub(/^ +| +$/, "", $i); print $1, $2, $4 }' "$plan" >jobs
cat >want <<'EOF'
enc-resnet18-fp32 2 -
enc-resnet18-fp16 2 -
enc-clip-rn50-fp32 2 -
enc-clip-rn50-fp16 2 -
classes-clip-rn50 0 -
merge-resnet18-fp32 0 enc-resnet18-fp32
merge-resnet18-fp16 0 enc-resnet18-fp16
merge-clip-rn50-fp32 0 enc-clip-rn50-fp32
merge-clip-rn50-fp16 0 enc-clip-rn50-fp16
scores-resnet18-fp32 0 merge-resnet18-fp32
scores-resnet18-fp16 0 merge-resnet18-fp16
scores-clip-rn50-fp32 0 merge-clip-rn50-fp32,classes-clip-rn50
scores-clip-rn50-fp16 0 merge-clip-rn50-fp16,classes-clip-rn50
report 0 scores-resnet18-fp32,scores-resnet18-fp16,scores-clip-rn50-fp32,scores-clip-rn50-fp16
publish 0 report
EOF
cmp -s jobs want || fail "the Slurm plan: $(diff want jobs)"
cmd=$(awk -F'\t' '$1 ~ /^ *enc-resnet18-fp16 *$/ { print $7 }' "$plan")
for i in 0 1; do
	(cd "$ROOT" && SLURM_ARRAY_TASK_ID=$i bash -c "$cmd") >>task.out 2>&1 || fail "task $i of enc-resnet18-fp16: $(cat task.out)"
done
ls "$C"/enc-resnet18-fp16-*-?of2.mp >/dev/null || fail "no shard files: $(ls "$C")"
records "-t logits -t error" "$C"/enc-resnet18-fp16-*-?of2.mp >many
records "-t logits -t error" $(ls "$C"/enc-resnet18-fp16-*.mp | grep -v 'of2\.mp$') >one
[ "$(wc -l <one)" = 2 ] && cmp -s one many || fail "the Slurm tasks' records differ from make study's"
exit 0
