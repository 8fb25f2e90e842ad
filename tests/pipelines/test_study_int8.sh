#!/usr/bin/env bash
# make study PRECISIONS="fp32 int8" on 2 sample images with the random-weight resnet18:
# - each model is calibrated once, before its int8 encode: calset-imagenet (imgdecode
#   --first CALIB_IMAGES of the data, in its order), cal-resnet18 (rnencode --calibrate
#   --save-calibration); the int8 encode loads that file (--calibration);
# - the report's precision table has the int8 row (agreement with FP32 as fpdiff gives it
#   on the cached streams); its settings, data/calibration.json and the provenance name the
#   calibration: its sha256 (the file's), its source, the images it used;
# - the cache: the same settings rerun nothing; CALIB_IMAGES, CALIB (a folder) and the
#   weights' bytes each remake the calibration and what follows it, never the FP32 run;
#   a CALIB without an image stops at the calibration, in one line;
# - make study-slurm-plan: the calibration jobs before the int8 array, which waits for
#   them; the plan's calibration is make study's file (one key), and two int8 tasks run
#   here as Slurm would give make study's records (BATCH=1: bit for bit).
# (DEVICE=cuda still refuses int8: test_study_models.sh; the cuda backend's own line
# through pipelines/precision-check: tests/gpu/test_gpu_fake.sh)
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
study_setup 2
need_resnet18
ln -s "$R18" "$W/resnet18-f37072fd.pth"
R=$T/report C=$T/cache
md=$R/report.md
P=(MODELS=resnet18 "PRECISIONS=fp32 int8")

# ---- the first run: the calibration before the int8 encode ----
study "${P[@]}"
expect_ran 0 dec-imagenet enc-resnet18-fp32 scores-resnet18-fp32 calset-imagenet cal-resnet18 enc-resnet18-int8 \
	scores-resnet18-int8 report
[ "$(grep -n 'ran	calset-\|ran	cal-\|ran	enc-resnet18-int8' "$C/stages.log" | cut -f3 | cut -d- -f1 | tr '\n' ' ')" = \
	"calset cal enc " ] || fail "the calibration did not come before the int8 encode: $(cut -f3 "$C/stages.log")"
cal=$(ls "$C"/cal-resnet18-*.mp) calset=$(ls "$C"/calset-imagenet-*.mp)
sha=$(sha256sum <"$cal" | cut -d' ' -f1)
"$SB/recview" -t header "$calset" | grep -q '"first":100' || fail "calset: not the first 100: $("$SB/recview" -t header "$calset")"
"$SB/recview" -t calibration "$cal" | grep -q '"model":"resnet18",.*"images":2,' || fail "cal: $("$SB/recview" "$cal")"
h=$("$SB/recview" -t header "$C"/enc-resnet18-int8-*.mp | grep '"producer":"rnencode"')
[[ $h == *'"--precision","int8","--calibration","'"$cal"'"]'* ]] || fail "the int8 encode's argv: $h"
[[ $h == *'"calibration_sha256":"'"$sha"'"'* ]] || fail "the int8 encode's header: $h"
# the int8 row of the precision table, its agreement fpdiff's on the cached streams
"$SB/fpdiff" --json "$C"/enc-resnet18-fp32-*.mp "$C"/enc-resnet18-int8-*.mp | awk -f "$ROOT/pipelines/json-flat.awk" >fd.flat ||
	fail "fpdiff"
read -r agree maxd < <(awk -F'\t' '{ v[$1] = $2 } END { printf "%.4f %.6f\n", 1 - v["disagreement"], v["probabilities.max_abs_diff"] }' fd.flat)
awk '/^### ResNet-18$/ { on = 1; next } on && /^###/ { exit } on' <(sed -n '/^## FP32 against INT8$/,$p' "$md") >prec.md
grep -qE "^\| int8 \| [0-9.]+ \| [0-9.]+ \| $agree \| $maxd \| " prec.md || fail "no int8 row with agreement $agree, max |diff| $maxd: $(cat prec.md)"
grep -qE '^\| fp32 \| [0-9.]+ \| [0-9.]+ \| reference \|' prec.md || fail "no fp32 row: $(cat prec.md)"
# the calibration in the settings, its data and the provenance
src="the first 100 images of the evaluated data \`$T/sample.tsv\` (the study scores images it calibrated on)"
grep -qxF "| int8 calibration, ResNet-18 | \`$cal\` sha256 $sha: 2 images, $src (observer minmax; data/calibration.json) |" "$md" ||
	fail "the calibration's settings row: $(grep -i 'calibration' "$md" | head -n 3)"
grep -qF -- "- resnet18 int8 calibration: \`$cal\`, made by \`rnencode --calibrate\` from \`$calset\` (2 images, sha256 $(sha256sum <"$calset" | cut -d' ' -f1))" "$md" ||
	fail "the calibration's provenance: $(grep 'int8 calibration:' "$md")"
$PY - "$R/data/calibration.json" "$cal" "$sha" "$src" <<'EOF' || fail "data/calibration.json"
import json, sys
c = json.load(open(sys.argv[1]))["calibrations"]
assert len(c) == 1 and c[0]["model"] == "resnet18" and c[0]["file"] == sys.argv[2], c
assert c[0]["sha256"] == sys.argv[3] and c[0]["images"] == 2 and c[0]["source"] == sys.argv[4], c
EOF

# ---- Slurm: the plan of the same run in 2 shards; its int8 tasks run here ----
plan=$(cd "$ROOT" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${STUDY_ARGS[@]}" make study-slurm-plan SHARDS=2 "${P[@]}" \
	2>"$T/plan.err") || fail "make study-slurm-plan: $(cat "$T/plan.err")"
# name, tasks, output, after (the reader trims the fields' spaces)
awk -F'\t' '{ for (i = 1; i <= NF; i++) gsub(/^ +| +$/, "", $i); print $1, $2, $3, $4 }' "$plan" >jobs
cut -d' ' -f1,2,4 jobs >jobs.after
cat >want <<'EOF'
calset-imagenet 0 -
cal-resnet18 0 calset-imagenet
enc-resnet18-fp32 2 -
enc-resnet18-int8 2 cal-resnet18
merge-resnet18-fp32 0 enc-resnet18-fp32
merge-resnet18-int8 0 enc-resnet18-int8
scores-resnet18-fp32 0 merge-resnet18-fp32
scores-resnet18-int8 0 merge-resnet18-int8
report 0 scores-resnet18-fp32,scores-resnet18-int8
publish 0 report
EOF
cmp -s jobs.after want || fail "the Slurm plan: $(diff want jobs.after)"
grep -qxF "cal-resnet18 0 $cal calset-imagenet" jobs && grep -qxF "calset-imagenet 0 $calset -" jobs ||
	fail "the plan's calibration is not make study's $cal: $(head -n 2 jobs)"
cmd=$(awk -F'\t' '$1 ~ /^ *enc-resnet18-int8 *$/ { print $7 }' "$plan")
[[ $cmd == *"--calibration $cal"* ]] || fail "the int8 tasks do not load the calibration: $cmd"
for i in 0 1; do
	(cd "$ROOT" && SLURM_ARRAY_TASK_ID=$i bash -c "$cmd") >>task.out 2>&1 || fail "task $i of enc-resnet18-int8: $(cat task.out)"
done
records "-t logits -t error" "$C"/enc-resnet18-int8-*-?of2.mp >many
records "-t logits -t error" $(ls "$C"/enc-resnet18-int8-*.mp | grep -v 'of2\.mp$') >one
[ "$(wc -l <one)" = 2 ] && cmp -s one many || fail "the Slurm int8 tasks' records differ from make study's"
rm -f "$C"/enc-resnet18-int8-*-?of2.*

# ---- the cache ----
mark=$(log_mark)
study "${P[@]}"
expect_ran "$mark" # the same settings: nothing
mark=$(log_mark)
study "${P[@]}" CALIB_IMAGES=1
expect_ran "$mark" calset-imagenet cal-resnet18 enc-resnet18-int8 scores-resnet18-int8 report
grep -qF "sha256 $(sha256sum <"$(ls -t "$C"/cal-resnet18-*.mp | head -n 1)" | cut -d' ' -f1): 1 images, 1 images (one in every 2 in its order) of the evaluated data" "$md" ||
	fail "CALIB_IMAGES=1: $(grep 'int8 calibration,' "$md")"
# CALIB: a folder of another image, all of it
mkdir calib && ln -s "$TESTDATA/images/n01980166_fiddler_crab.JPEG" calib/crab.JPEG
mark=$(log_mark)
study "${P[@]}" CALIB="$T/calib"
expect_ran "$mark" calset-imagenet cal-resnet18 enc-resnet18-int8 scores-resnet18-int8 report
c2=$(ls -t "$C"/cal-resnet18-*.mp | head -n 1)
grep -qxF "| int8 calibration, ResNet-18 | \`$c2\` sha256 $(sha256sum <"$c2" | cut -d' ' -f1): 1 images, CALIB=\`$T/calib\` (observer minmax; data/calibration.json) |" "$md" ||
	fail "CALIB=: $(grep 'int8 calibration,' "$md")"
"$SB/recview" -t image "$(ls -t "$C"/calset-imagenet-*.mp | head -n 1)" | grep -q '"id":"crab.JPEG"' || fail "CALIB's image was not decoded"
# CALIB_IMAGES spreads over the set: of 4 images, 2 are the 1st and the 3rd (one in
# every 2), not the first two (in a layout of class folders, its first classes)
mkdir calib4 && for f in $(ls "$TESTDATA/images/"*.JPEG | head -n 4); do ln -s "$f" calib4/; done
study "${P[@]}" CALIB="$T/calib4" CALIB_IMAGES=2
c4=$(ls -t "$C"/calset-imagenet-*.mp | head -n 1)
want=$(ls "$TESTDATA/images/"*.JPEG | head -n 4 | sed -n '1p;3p' | xargs -n 1 basename | tr '\n' ' ')
got=$("$SB/recview" -t image "$c4" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | tr '\n' ' ')
[ "$got" = "$want" ] || fail "CALIB_IMAGES=2 of 4: calibrated on '$got', not '$want'"
grep -qF "2 images, 2 images (one in every 2 in its order) of CALIB=\`$T/calib4\`" "$md" ||
	fail "CALIB_IMAGES=2 of 4: $(grep 'int8 calibration,' "$md")"
# a CALIB without an image: the calibration stage says so in one line, exit 2
mkdir empty
(cd "$ROOT" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${STUDY_ARGS[@]}" make study "${P[@]}" CALIB="$T/empty") >empty.out 2>&1
st=$?
[ $st = 2 ] || { cat empty.out; fail "an empty CALIB: exit $st, expected 2"; }
grep -qE "^study: cal-resnet18-[0-9a-f]{16}\.mp: no image in $C/calset-imagenet-[0-9a-f]{16}\.mp to calibrate resnet18 on \(imgdecode's lines above say why\)$" empty.out ||
	fail "an empty CALIB: $(cat empty.out)"
# other weights bytes (the same tensors, PyTorch's legacy format): another calibration;
# INT8 alone, so that the FP32 run is not redone for nothing
mkdir w2 && $PY -c "import sys, torch; torch.save(torch.load(sys.argv[1]), sys.argv[2], _use_new_zipfile_serialization=False)" \
	"$R18" w2/resnet18-f37072fd.pth || fail "the legacy copy of resnet18"
mark=$(log_mark)
study MODELS=resnet18 PRECISIONS=int8 WEIGHTS="$T/w2"
expect_ran "$mark" cal-resnet18 enc-resnet18-int8 scores-resnet18-int8 report
[ "$(ls "$C"/cal-resnet18-*.mp | wc -l)" = 5 ] || fail "five calibrations expected: $(ls "$C")"
# study-report refuses to name a calibration the int8 stream was not made with
e=$(ls "$C"/enc-resnet18-int8-*.mp | head -n 1)
made=$("$SB/recview" -t header "$e" | sed -n 's/.*"calibration":"\([^"]*\)".*/\1/p')
other=$(ls "$C"/cal-resnet18-*.mp | grep -vxF "$made" | head -n 1)
sc=$(ls "$C"/scores-resnet18-int8-*.mp | head -n 1)
expect_exit 2 "$ROOT/pipelines/study-report" --bin "$SB" --names "$ROOT/data/names-clip.txt" --run resnet18 int8 "$sc" "$e" none.tsv \
	--calibration resnet18 "$other" "a source" rep-bad
expect_stderr "^study-report: resnet18 int8: $e was made with calibration sha256 [0-9a-f]{64}, not $other's \([0-9a-f]{64}\)$"
# data/*.json load whatever the words hold: a backslash and a control character in
# the source (its js() wrote the backslash as it was: invalid JSON)
src=$'CALIB=`odd\\dir\001name`'
expect_exit 0 env RNENC_DATA="$ROOT/data" "$ROOT/pipelines/study-report" --bin "$SB" --names "$ROOT/data/names-clip.txt" \
	--run resnet18 int8 "$sc" "$e" none.tsv --calibration resnet18 "$made" "$src" rep-odd
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))["calibrations"][0]
assert d["source"] == sys.argv[2], (d["source"], sys.argv[2])
json.load(open(sys.argv[3]))' rep-odd/data/calibration.json "$src" rep-odd/data/precision.json || fail "rep-odd's JSON"
exit 0
