#!/usr/bin/env bash
# pipelines/dataset-check: the manifest of small trees in each layout against the
# descriptors (counts, per-class spread, subset membership, exit statuses), its get and
# list commands, every descriptor's fields and subset files; objectnet-map on a made-up
# tree in ObjectNet's layout (labels, groups, a broken or missing mapping named);
# imagenet-val-labels on a Kaggle-style LOC_val_solution.csv (and three broken ones).
source "$ROOT/tests/lib.sh"
P=$ROOT/pipelines/dataset-check
img=$TESTDATA/images/n01440764_tench.JPEG
# ---- every descriptor is complete; subsets are 200 ascending class indices ----
for d in "$ROOT"/pipelines/datasets/*.ds; do
	n=$(basename "$d" .ds)
	for k in title source layout classes metric $([ "$("$P" get "$n" layout)" = objectnet ] || echo images); do
		[ -n "$("$P" get "$n" $k)" ] || fail "$n: no '$k'"
	done
	s=$("$P" get "$n" subset)
	if [ -n "$s" ]; then
		grep -v '^#' "$s" | awk '$1 !~ /^[0-9]+$/ || $1 > 999 || $1 <= prev && NR > 1 { bad = 1 } { prev = $1 }
			END { exit bad || NR != 200 }' || fail "$n: $s is not 200 ascending indices"
	fi
done
[ "$("$P" list | wc -l)" = "$(ls "$ROOT"/pipelines/datasets/*.ds | wc -l)" ] || fail "list"
"$P" list | grep -q '^imagenet-v2 *ImageNetV2 matched-frequency$' || fail "list: $("$P" list)"
[ "$("$P" get imagenet-v2 layout)" = index-folders ] && [ "$("$P" get imagenet-r layout)" = wnid-folders ] || fail "layouts"

# ---- a V2 tree: 3 classes x 10 images, exact per-class counts; then a stray folder ----
for c in 0 2 10; do mkdir -p v2/$c; for i in $(seq 10); do cp "$img" v2/$c/$i.jpeg; done; done
expect_exit 0 "$P" imagenet-v2 v2
grep -qx 'dataset-check: imagenet-v2 (ImageNetV2 matched-frequency) at v2: 30 images in 3 classes' out &&
	grep -qx '  images per class: min 10, median 10, max 10' out || fail "v2 manifest: $(cat out)"
grep -q '30 images, imagenet-v2 expects 10000' err && ! grep -q 'per class' err || fail "v2 warnings: $(cat err)"
expect_exit 1 "$P" --strict imagenet-v2 v2
rm v2/10/1.jpeg
expect_exit 0 "$P" imagenet-v2 v2
grep -q '9 to 10 images per class, imagenet-v2 expects 10' err || fail "per-class spread not reported: $(cat err)"
mkdir v2/007 v2/1000 && cp "$img" v2/007/ && cp "$img" v2/1000/
expect_exit 2 "$P" imagenet-v2 v2
expect_stderr '^dataset-check: v2: 2 images have no class: 007/n01440764_tench.JPEG, 1000/n01440764_tench.JPEG \(expected folders named 0, 1, ... by class index'

# ---- wnid folders, files named WNID_*, and a subset ----
mkdir -p r/n01443537 && cp "$img" r/n01443537/a.jpg && cp "$img" r/n01443537_b.JPG && echo x >r/README.txt
expect_exit 0 "$P" imagenet-r r
grep -qx 'dataset-check: imagenet-r (ImageNet-R) at r: 2 images in 1 classes' out &&
	grep -q '^  class subset: 200 classes (.*), every label inside it$' out || fail "r manifest: $(cat out)"
cp "$img" r/n01440764_tench.JPEG # class 0: not one of ImageNet-R's
expect_exit 2 "$P" imagenet-r r
expect_stderr '^dataset-check: r: 1 images have labels outside the 200-class subset: 0$'
# ---- a labels TSV ----
printf 'file\tindex\na.jpg\t1\nb.jpg\t2\nc.jpg\tx\n' >l.tsv
expect_exit 2 "$P" imagenet-val l.tsv
grep -q 'at l.tsv: 3 images in 2 classes' out && grep -q '1 images have no class: c.jpg' err || fail "tsv: $(cat out err)"
# ---- usage ----
expect_exit 2 "$P" imagenet-q r
expect_stderr "^dataset-check: unknown dataset 'imagenet-q' \(known: imagenet-a imagenet-r "
expect_empty_stdout
expect_exit 2 "$P" imagenet-r nowhere
expect_stderr '^dataset-check: nowhere: no such folder or labels file$'
expect_exit 2 "$P" --frobnicate imagenet-r r
expect_exit 0 "$P" --help
grep -q 'dataset-check get DATASET KEY' out || fail "--help"

# ---- ObjectNet: objectnet-map reads the shipped mappings; a broken one is named ----
need_py PIL
$PY "$ROOT/tests/py/objectnet_make.py" on "$ROOT/data/wnids.txt" "$TESTDATA/labels.tsv" \
	$(ls "$TESTDATA"/images/*.JPEG | head -n 6) || fail "making the ObjectNet tree"
expect_exit 0 "$ROOT/pipelines/objectnet-map" on m
grep -qx 'objectnet-map: 4 images in 3 ObjectNet classes (4 ImageNet classes) -> m' out || fail "objectnet-map: $(cat out)"
# the images of the first two classes (tench 0, electric ray 5) are one group, named 0
printf 'file\tindex\nalarm_clock/n01440764_tench.png\t0\nalarm_clock/n01496331_electric_ray.png\t0\nbanana/n01630670_common_newt.png\t26\nchair/n01682714_American_chameleon.png\t40\n' |
	cmp -s - m/labels.tsv || fail "labels.tsv: $(cat m/labels.tsv)"
[ "$(grep -v '^#' m/groups.txt | tr '\n' ' ')" = '0 0 5 0 26 26 40 40 ' ] || fail "groups.txt: $(cat m/groups.txt)"
expect_exit 0 "$P" objectnet on
grep -qx 'dataset-check: objectnet (ObjectNet 1.0 (its 113 ImageNet classes)) at on: 4 images in 3 classes' out &&
	grep -qx '  expected: 113 classes' out || fail "objectnet manifest: $(cat out)"
sed -i 's/"Banana": "class 26"/"Banana": "class 1001"/' on/mappings/objectnet_to_imagenet_1k.json
expect_exit 2 "$ROOT/pipelines/objectnet-map" on m2
expect_stderr "^objectnet-map: objectnet_to_imagenet_1k.json: 'Banana': ImageNet class 'class 1001' not in imagenet_to_label_2012_v2$"
expect_exit 2 "$P" objectnet on
rm on/mappings/folder_to_objectnet_label.json
expect_exit 2 "$ROOT/pipelines/objectnet-map" on m2
expect_stderr "folder_to_objectnet_label.json: No such file or directory \(expected ObjectNet's folder -> class names"
[ ! -e m2 ] || [ -z "$(ls m2)" ] || fail "a failed objectnet-map left files"

# ---- ImageNet val as Kaggle ships it: a flat folder + LOC_val_solution.csv ----
V=$ROOT/pipelines/imagenet-val-labels
mkdir -p kaggle/val
printf 'ImageId,PredictionString\r\n' >loc.csv
i=0
for w in n01440764 n02088364 n15075141; do # the labels come from the CSV, whatever the image shows
	i=$((i + 1))
	cp "$TESTDATA/images/n01871265_tusker.JPEG" kaggle/val/ILSVRC2012_val_0000000$i.JPEG
	printf 'ILSVRC2012_val_0000000%d,%s 1 2 30 40 %s 5 6 70 80\r\n' $i $w $w >>loc.csv
done
expect_exit 0 "$V" loc.csv
printf 'file\twnid\tindex\nILSVRC2012_val_00000001.JPEG\tn01440764\t0\nILSVRC2012_val_00000002.JPEG\tn02088364\t162\nILSVRC2012_val_00000003.JPEG\tn15075141\t999\n' |
	cmp -s - out || fail "imagenet-val-labels: $(cat out)"
mv out val.tsv
imgdecode -l val.tsv kaggle/val 2>/dev/null | "$BIN/recview" -t image | sed -E 's/.*"label":(-?[0-9]+).*/\1/' |
	tr '\n' ' ' | grep -qx '0 162 999 ' || fail "imgdecode -l val.tsv: wrong labels"
expect_exit 0 "$P" imagenet-val val.tsv
grep -q 'at val.tsv: 3 images in 3 classes' out || fail "dataset-check on the Kaggle TSV: $(cat out)"
printf 'ImageId,PredictionString\nX,n01440764 1 2 3 4 n02088364 1 2 3 4\n' >two.csv
printf 'ImageId,Label\nX,n01440764\n' >hdr.csv
printf 'ImageId,PredictionString\nX,n99999999 1 2 3 4\n' >unk.csv
for c in two.csv:'boxes of two classes, n01440764 and n02088364' hdr.csv:'expected the header ImageId,PredictionString' \
	unk.csv:'"n99999999" is not one of the wnids'; do
	expect_exit 2 "$V" "${c%%:*}"
	expect_empty_stdout
	expect_stderr "^imagenet-val-labels: ${c%%:*}:[12]: ${c#*:}$"
done
