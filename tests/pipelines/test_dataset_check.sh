#!/usr/bin/env bash
# pipelines/dataset-check: the manifest of small trees in each layout against the
# descriptors (counts, per-class spread, subset membership, exit statuses), its get and
# list commands, and every descriptor's fields and subset files.
source "$ROOT/tests/lib.sh"
P=$ROOT/pipelines/dataset-check
img=$TESTDATA/images/n01440764_tench.JPEG
# ---- every descriptor is complete; subsets are 200 ascending class indices ----
for d in "$ROOT"/pipelines/datasets/*.ds; do
	n=$(basename "$d" .ds)
	for k in title source layout classes images metric; do
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
