#!/usr/bin/env bash
# bench/imgdecode-tar.sh - imgdecode reading the same images as files and as
# WebDataset tar shards, same machine, same run.
# Images: the 1000 JPEGs of $SHARED/data/imagenet-sample/images, packed here
# (Python tarfile, in this bench's temp dir) into 4 shards of 250 samples,
# KEY.jpg + KEY.cls (from labels.tsv); the files side gets the same labels
# with -l. Preset imagenet, uint8, -j 1 and -j 2; wall images/s, best of REPS,
# runs interleaved so that load on the machine hits all alike; then the
# tar/files ratio (the goal: at least 1.0).
set -u
cd "$(dirname "$0")/.."
source bench/lib.sh
REPS=${REPS:-3}
LABELS=${LABELS:-$(dirname "$IMAGES")/labels.tsv}
[ -d "$IMAGES" ] && [ -f "$LABELS" ] || { echo "imgdecode-tar bench skipped: no $IMAGES or $LABELS"; exit 0; }
dir=$(mktemp -d /tmp/bench-imgdecode-tar.XXXXXX)
trap 'rm -rf "$dir"' EXIT

$PY - "$IMAGES" "$LABELS" "$dir" <<'PY' || { echo "imgdecode-tar bench: cannot build the shards"; exit 1; }
import io, os, sys, tarfile
images, labels, out = sys.argv[1:]
cls = dict(l.split("\t")[0::2] for l in open(labels).read().splitlines()[1:])
files = sorted(os.listdir(images))
for s in range(4):
    with tarfile.open(os.path.join(out, "part-%d.tar" % s), "w") as tf:
        for f in files[s * len(files) // 4:(s + 1) * len(files) // 4]:
            key = f.split(".")[0]
            for name, data in ((key + ".jpg", open(os.path.join(images, f), "rb").read()),
                               (key + ".cls", cls[f].encode())):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
PY
N=$(ls "$IMAGES" | wc -l)
cat "$IMAGES"/* "$dir"/*.tar > /dev/null # page cache

wall_of() { # wall seconds of a command that must succeed
	local TIMEFORMAT='%R' t
	t=$( { time "$@" > /dev/null 2> "$dir/err"; } 2>&1 ) || { echo "failed: $* ($(head -1 "$dir/err"))" >&2; exit 1; }
	echo "$t"
}
declare -A best
keep() { # keep NAME SECONDS: the best of the reps
	if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then best[$1]=$2; fi
}
for _ in $(seq "$REPS"); do
	for j in 1 2; do
		t=$(wall_of "$BIN/imgdecode" -p imagenet -j $j -l "$LABELS" "$IMAGES") || exit 1
		keep "files-$j" "$t"
		t=$(wall_of "$BIN/imgdecode" -p imagenet -j $j "$dir"/part-{0..3}.tar) || exit 1
		keep "tar-$j" "$t"
	done
done

echo "imgdecode files vs tar shards: $N images ($IMAGES), 4 shards, preset imagenet, best of $REPS wall, $(nproc) cores"
for j in 1 2; do
	awk -v n="$N" -v j="$j" -v f="${best[files-$j]}" -v t="${best[tar-$j]}" 'BEGIN {
		printf "  -j %d  files %6.0f img/s   tar %6.0f img/s   tar/files %.3fx (goal >= 1)\n", j, n / f, n / t, f / t
	}'
done
