#!/usr/bin/env bash
# bench/imgdecode.sh - imgdecode against PIL + torchvision (Debian python3),
# same images, same machine, same run, one process each.
# Images: the 1000 JPEGs of $SHARED/data/imagenet-sample/images.
# For each preset, images/s per core (images / CPU seconds, best of REPS,
# runs interleaved so that load on the machine hits all alike) of:
#   PIL + torchvision   Image.open(p).convert("RGB") -> Resize -> CenterCrop
#                       -> np.asarray (clip: convert after the crop), the peer
#   imgdecode           exact mode (PIL's bytes) and --fast, uint8 records
# and their ratio to the peer (goals: exact >= 1.5x, --fast >= 2.5x); then
# -j 2 scaling (wall images/s against -j 1) and the --fast deviation from
# the exact crops (mean and max absolute pixel difference).
set -u
cd "$(dirname "$0")/.."
source bench/lib.sh
REPS=${REPS:-3}
[ -d "$IMAGES" ] || { echo "imgdecode bench skipped: no $IMAGES"; exit 0; }
$PY -c 'import PIL, torchvision' 2>/dev/null || { echo "imgdecode bench skipped: $PY lacks PIL or torchvision"; exit 0; }
dir=$(mktemp -d /tmp/bench-imgdecode.XXXXXX)
trap 'rm -rf "$dir"' EXIT
N=$(ls "$IMAGES" | wc -l)
cat "$IMAGES"/* > /dev/null # page cache

cat > "$dir/pil.py" <<'PY'
import glob, sys, time
import numpy as np
import torchvision.transforms as T
from PIL import Image
from torchvision.transforms import InterpolationMode
preset, folder = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(folder + "/*"))
S, interp = {"imagenet": (256, InterpolationMode.BILINEAR), "clip": (224, InterpolationMode.BICUBIC)}[preset]
tf = T.Compose([T.Resize(S, interpolation=interp), T.CenterCrop(224)])
c0, w0 = time.process_time(), time.perf_counter()
for f in files:
    if preset == "clip":
        a = np.asarray(tf(Image.open(f)).convert("RGB"))
    else:
        a = np.asarray(tf(Image.open(f).convert("RGB")))
print(time.perf_counter() - w0, time.process_time() - c0)
PY

# cpu_wall CMD...: "wall cpu" seconds of a command (CPU = user + sys)
cpu_wall() {
	local TIMEFORMAT='%R %U %S' t
	t=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
	echo "$t" | awk '{ print $1, $2 + $3 }'
}
declare -A cpu wall
keep() { # keep NAME "wall cpu": the best of the reps
	local w=${2% *} c=${2#* }
	if [ -z "${cpu[$1]:-}" ] || awk -v a="$c" -v b="${cpu[$1]}" 'BEGIN { exit !(a < b) }'; then cpu[$1]=$c; fi
	if [ -z "${wall[$1]:-}" ] || awk -v a="$w" -v b="${wall[$1]}" 'BEGIN { exit !(a < b) }'; then wall[$1]=$w; fi
}
for _ in $(seq "$REPS"); do
	for p in imagenet clip; do
		keep "pil-$p" "$($PY "$dir/pil.py" $p "$IMAGES")"
		keep "exact-$p" "$(cpu_wall "$BIN/imgdecode" -p $p "$IMAGES")"
		keep "fast-$p" "$(cpu_wall "$BIN/imgdecode" -p $p --fast "$IMAGES")"
	done
	keep j1 "$(cpu_wall "$BIN/imgdecode" -p imagenet -j 1 "$IMAGES")"
	keep j2 "$(cpu_wall "$BIN/imgdecode" -p imagenet -j 2 "$IMAGES")"
done

echo "imgdecode: $N images ($IMAGES), best of $REPS, $(nproc) cores; images/s per core = images / CPU seconds"
for p in imagenet clip; do
	awk -v n="$N" -v p="$p" -v a="${cpu[pil-$p]}" -v e="${cpu[exact-$p]}" -v f="${cpu[fast-$p]}" 'BEGIN {
		printf "  %-9s %-30s %7.0f img/s/core\n", p, "PIL + torchvision (peer)", n / a
		printf "  %-9s %-30s %7.0f img/s/core  %.2fx PIL (goal 1.5x)\n", p, "imgdecode exact", n / e, a / e
		printf "  %-9s %-30s %7.0f img/s/core  %.2fx PIL (goal 2.5x)\n", p, "imgdecode --fast", n / f, a / f
	}'
done
awk -v n="$N" -v w1="${wall[j1]}" -v w2="${wall[j2]}" -v c2="${cpu[j2]}" 'BEGIN {
	printf "  -j 2 scaling (imagenet, wall): -j 1 %.0f img/s, -j 2 %.0f img/s = %.2fx (%.0f img/s per CPU-second)\n",
		n / w1, n / w2, w1 / w2, n / c2
}'

# how far --fast is from the exact crops
"$BIN/imgdecode" -p imagenet "$IMAGES" > "$dir/exact.mp" 2>/dev/null
"$BIN/imgdecode" -p imagenet --fast "$IMAGES" > "$dir/fast.mp" 2>/dev/null
$PY - "$dir/exact.mp" "$dir/fast.mp" <<'PY'
import sys, msgpack, numpy as np
def crops(p):
    return {r["id"]: np.frombuffer(r["tensor"]["data"], np.uint8) for r in msgpack.Unpacker(open(p, "rb"), raw=False, max_buffer_size=1 << 31) if r["type"] == "image"}
e, f = crops(sys.argv[1]), crops(sys.argv[2])
d = [np.abs(e[k].astype(int) - f[k].astype(int)) for k in e]
print(f"  --fast vs exact (imagenet, {len(d)} images): mean |diff| {np.mean([x.mean() for x in d]):.3f}, "
      f"max {max(int(x.max()) for x in d)}, identical images {sum(int(x.max() == 0) for x in d)}")
PY
