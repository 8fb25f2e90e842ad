#!/usr/bin/env bash
# make study DATASET=NAME: the descriptor's layout and class subset are applied, and the
# manifest is checked before anything runs. An ImageNet-R-style tree (wnid folders, 5
# sample images of R's classes) is scored over R's 200 classes only, for both models; an
# ImageNetV2-style tree (folders named by class index) gets its labels from the numbers;
# an ObjectNet-style tree (images/ and mappings/ as shipped, made up here) is scored over
# its class groups with the 2-pixel border cut; labels outside the subset, an unknown dataset and (STRICT=1) a partial copy stop the
# study before any stage runs.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
need_py msgpack
study_setup 1
R=$T/report C=$T/cache
sub=$ROOT/pipelines/datasets/imagenet-r-200.txt
mkdir imr v2
while IFS=$'\t' read -r f wnid idx; do
	[ "$f" = file ] && continue
	if grep -qx "$idx" "$sub"; then mkdir -p "imr/$wnid" && cp "$TESTDATA/images/$f" "imr/$wnid/"; fi
	if [ "$(ls v2 | wc -l)" -lt 4 ]; then mkdir "v2/$idx" && cp "$TESTDATA/images/$f" "v2/$idx/"; fi
done <"$TESTDATA/labels.tsv"
echo "not an image" >imr/README.txt
[ "$(find imr -name '*.JPEG' | wc -l)" = 5 ] || fail "expected 5 sample images in ImageNet-R's classes"

# ---- ImageNet-R: the manifest first, then every stage, scores over the subset ----
study DATASET=imagenet-r DATA="$T/imr" PRECISIONS=fp32
grep -q "^dataset-check: imagenet-r (ImageNet-R) at $T/imr: 5 images in 5 classes$" make.out &&
	grep -q "^  class subset: 200 classes (.*imagenet-r-200.txt), every label inside it$" make.out &&
	grep -q "^dataset-check: $T/imr: 5 images, imagenet-r expects 30000" make.out ||
	fail "no manifest report before the run: $(head -n 8 make.out)"
# before every stage (the study's one line naming its device may come first)
grep -v '^study: device ' make.out | head -n 1 | grep -q "^dataset-check: imagenet-r" ||
	fail "the manifest is not reported first: $(head -n 3 make.out)"
for m in resnet50 clip-rn50; do
	s=$(ls "$C"/scores-$m-fp32-*.mp) || fail "no scores for $m"
	$PY - "$s" "$sub" <<'PY' || fail "$m: scores are not over ImageNet-R's 200 classes"
import sys, msgpack
sub = [int(l) for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
n = 0
for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False):
    if r["type"] != "scores":
        continue
    n += 1
    assert r["tensor"]["shape"] == [200] and r["index"] == sub, (r["tensor"]["shape"], r.get("index", "")[:5])
    assert r["label"] in sub, r["label"]
assert n == 5, n
PY
	"$BIN/topk" -k 5 --format tsv "$s" >top.tsv || fail "topk $s"
	read -r c1 c5 < <(awk -F'\t' '$1 == "id" { next } { if ($4 == $2) { if ($3 == 1) c1++; c5++ } }
		END { print c1 + 0, c5 + 0 }' top.tsv)
	awk -F'\t' '$1 != "id" && $4 != "" { print $4 }' top.tsv | grep -vxFf <(grep -v '^#' "$sub") &&
		fail "$m: topk names a class outside the subset"
	row=$(printf '| %s | fp32 | 5 | 0 | %.4f | %.4f | %d/5 | %d/5 |' "$m" "$(echo "$c1/5" | bc -l)" "$(echo "$c5/5" | bc -l)" "$c1" "$c5")
	grep -qF -- "$row" "$R/report.md" || fail "$m: accuracy row '$row' not in report.md"
done
grep -qF '| dataset | imagenet-r (ImageNet-R) at '"$T"'/imr: 5 images in 5 classes; expected 30000 images in 200 classes (scored over them only: zscore --subset `imagenet-r-200.txt`); headline metric: top-1 over the 200 classes |' \
	"$R/report.md" || fail "report.md: no dataset row: $(grep -i dataset "$R/report.md")"
head -n 1 "$R/report.md" | grep -qx '# Study: ResNet-50 and CLIP RN50, FP32, on imagenet-r' &&
	grep -qx 'The headline metric for imagenet-r is top-1 over the 200 classes: the top-1 column.' "$R/report.md" ||
	fail "report.md: the dataset is not in the title and headline: $(head -n 1 "$R/report.md")"

# ---- ImageNetV2: labels from the folder numbers ----
study DATASET=imagenet-v2 DATA="$T/v2" MODELS=resnet50 PRECISIONS=fp32
d=$(ls "$C"/dec-imagenet-*.mp | xargs ls -t | head -n 1)
"$SB/recview" -t image "$d" | sed -E 's/.*"id":"([0-9]+)\/[^"]*".*"label":(-?[0-9]+).*/\1 \2/' >labels
[ "$(wc -l <labels)" = 4 ] && awk '$1 != $2 { exit 1 }' labels || fail "V2 labels are not the folder numbers: $(cat labels)"
grep -qF 'headline metric: top-1 over 1000 classes |' "$R/report.md" || fail "V2 report: no dataset row"

# ---- ObjectNet: its mappings give labels and groups; the frame is cut ----
$PY "$ROOT/tests/py/objectnet_make.py" on "$ROOT/data/wnids.txt" "$TESTDATA/labels.tsv" \
	$(ls "$TESTDATA"/images/*.JPEG | head -n 6) || fail "making the ObjectNet tree"
study DATASET=objectnet DATA="$T/on" PRECISIONS=fp32
grep -q "^dataset-check: objectnet (.*) at $T/on: 4 images in 3 classes$" make.out || fail "objectnet manifest: $(head -n 5 make.out)"
for m in resnet50 clip-rn50; do
	s=$(ls -t "$C"/scores-$m-fp32-*.mp | head -n 1)
	$PY - "$s" <<'PY' || fail "$m: ObjectNet scores are not over its 3 groups"
import sys, msgpack
rs = [r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)]
z = [r for r in rs if r["type"] == "header" and r["producer"] == "zscore"][0]
g = [int(l.split()[1]) for l in open(z["groups"]) if l.strip() and not l.startswith("#")]
s = [r for r in rs if r["type"] == "scores"]
assert sorted(r["label"] for r in s) == [0, 0, 26, 40], [r["label"] for r in s]
for r in s:
    assert r["index"] == [0, 26, 40] and r["tensor"]["shape"] == [3], r["index"]
    assert r["path"].endswith(".png") and "/on/images/" in r["path"], r["path"]
assert sorted(set(g)) == [0, 26, 40], g
PY
done
d=$(ls -t "$C"/dec-imagenet-*.mp | head -n 1)
"$SB/recview" -t header "$d" | grep -q '"border":2' || fail "ObjectNet decoded without the 2-pixel border"
grep -qF '(each a group of ImageNet classes: zscore --groups) (2-pixel border cut: imgdecode --border); headline metric: top-1 over the 113 classes' \
	"$R/report.md" || fail "ObjectNet report: no dataset row: $(grep dataset "$R/report.md")"

# ---- refusals, before any stage runs ----
mark=$(log_mark)
make -C "$ROOT" --no-print-directory study "${STUDY_ARGS[@]}" DATASET=imagenet-q DATA="$T/imr" >bad.out 2>&1 &&
	fail "an unknown dataset was accepted"
grep -q "unknown dataset 'imagenet-q'" bad.out || fail "unknown dataset: $(cat bad.out)"
make -C "$ROOT" --no-print-directory study "${STUDY_ARGS[@]}" DATASET=imagenet-r DATA="$TESTDATA/images" >bad.out 2>&1 &&
	fail "labels outside ImageNet-R's classes were accepted"
grep -q "images have labels outside the 200-class subset" bad.out && grep -q "the manifest check failed" bad.out ||
	fail "outside the subset: $(cat bad.out)"
make -C "$ROOT" --no-print-directory study "${STUDY_ARGS[@]}" DATASET=imagenet-r DATA="$T/imr" STRICT=1 >bad.out 2>&1 &&
	fail "STRICT=1 accepted a partial copy"
grep -q "5 images, imagenet-r expects 30000" bad.out || fail "STRICT=1: $(cat bad.out)"
expect_ran "$mark"
exit 0
