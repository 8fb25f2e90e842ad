#!/usr/bin/env bash
# bench/txtencode.sh - seconds to build CLIP's zero-shot ImageNet classifier
# (1000 classes x 80 templates = 80000 prompts) with txtencode on the CPU,
# against PyTorch with the same weights and thread count in the same run.
# Times cover the text tower and the table only (token ids given, weights
# loaded): txtencode's stats "encode_seconds", timed inside Python for PyTorch.
#   PyTorch peers (tests/py/txtencode_ref.py time, the eager CLIP module of
#   tests/py/clip_model.py):
#     torch      as installed, every prompt padded to 77 as clip.tokenize does.
#                Debian's torch multiplies through libblas.so.3 (netlib's
#                reference BLAS unless another is installed), so it runs on
#                only the first NREF prompts
#     torch+dnnl the same with F.linear on torch's oneDNN kernel (NSUB prompts)
#     trimmed    torch+dnnl with each batch padded only to its longest prompt
#                (exact too, thanks to the causal mask) (NSUB prompts)
#   txtencode on the same NSUB prompts, then on SUB classes x 80 templates,
#   and on all 1000 classes when FULL=1 (about 4 minutes on 2 idle cores);
#   otherwise its full time is extrapolated from the SUB run by trie rows
#   (its cost is proportional to them). PyTorch's full times are its
#   per-prompt time x 80000 (padded to 77, its cost per prompt is fixed).
# Weights: RN50.pt where `make weights` put it, else the random-weight fixture
# of the same shapes (tests/py/make_checkpoints.py): the same cost.
# Environment: THREADS (default: all cores), SUB (100), NSUB (160), NREF (16),
# FULL (0), PY.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
THREADS=${THREADS:-$(nproc)}
SUB=${SUB:-100}
NSUB=${NSUB:-160}
NREF=${NREF:-16}
FULL=${FULL:-0}
[ -x "$BIN/txtencode" ] || { echo "txtencode: $BIN/txtencode not built (make bin/txtencode)"; exit 1; }
W=${RNENC_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/rnencode/weights}/RN50.pt
if [ ! -r "$W" ]; then
	if ! (source tests/lib.sh; source tests/fixtures.sh; need_checkpoints) >/dev/null 2>&1; then
		echo "txtencode: skipped: no RN50.pt and the fixtures need torch for $PY"
		exit 0
	fi
	W=$ROOT/build/fixtures/clip-rn50.pt
fi
T=$(mktemp -d /tmp/bench-txtencode.XXXXXX)
trap 'rm -rf "$T"' EXIT
stat_of() { # $1 stream, $2 key of its stats record
	"$PY" -c 'import sys, msgpack
r = [x for x in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if x["type"] == "stats"][-1]
print(r[sys.argv[2]])' "$1" "$2"
}
torch_time() { # $1 ids file, then flags: prints "seconds blas"
	"$PY" tests/py/txtencode_ref.py time "$W" "$@" | awk '/^seconds/ { s = $2 } /^blas/ { $1 = ""; b = $0 } END { print s, b }'
}
ratio() { echo "$1 / $2" | bc -l; }
echo "weights: $W; threads: $THREADS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# the same prompts for everybody: the first ones of names-clip x templates-clip, class-major
"$BIN/txtencode" --tokenize >"$T/all.txt" || exit 1
head -n "$NSUB" "$T/all.txt" >"$T/nsub.txt"
head -n "$NREF" "$T/all.txt" >"$T/nref.txt"
"$PY" -c 'import json, sys
n = open(sys.argv[1]).read().splitlines(); t = open(sys.argv[2]).read().splitlines()
k = int(sys.argv[3])
json.dump({n[i // len(t)] + " #%d" % (i // len(t)): [t[j].format(n[i // len(t)]) for j in range(len(t))]
           for i in range(0, k, len(t))}, sys.stdout)' data/names-clip.txt data/templates-clip.txt "$NSUB" >"$T/nsub.json"
"$BIN/txtencode" --tokenize --prompts "$T/nsub.json" | cmp -s - "$T/nsub.txt" || { echo "txtencode: NSUB must be a multiple of 80"; exit 1; }

read -r p_ref blas <<<"$(torch_time "$T/nref.txt" "$THREADS")"
read -r p_dnnl _ <<<"$(torch_time "$T/nsub.txt" "$THREADS" --onednn)"
read -r p_trim _ <<<"$(torch_time "$T/nsub.txt" "$THREADS" --onednn --trim)"
c_nsub=
for _ in 1 2; do # best of two
	"$BIN/txtencode" -w "$W" --prompts "$T/nsub.json" -j "$THREADS" >"$T/nsub.mp" || exit 1
	s=$(stat_of "$T/nsub.mp" encode_seconds)
	c_nsub=$(awk -v a="$c_nsub" -v b="$s" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }')
done
c_ref=$(echo "$c_nsub * $NREF / $NSUB" | bc -l)
echo "torch BLAS: $blas"
printf '%d prompts (torch as installed: first %d):\n' "$NSUB" "$NREF"
printf '  txtencode %.2f s | torch %.2f s per %d = %.0fx | torch+dnnl %.2f s = %.1fx | trimmed %.2f s = %.1fx\n' \
	"$c_nsub" "$p_ref" "$NREF" "$(ratio "$p_ref" "$c_ref")" "$p_dnnl" "$(ratio "$p_dnnl" "$c_nsub")" \
	"$p_trim" "$(ratio "$p_trim" "$c_nsub")"

if [ "$FULL" = 1 ]; then
	"$BIN/txtencode" -w "$W" -j "$THREADS" >"$T/full.mp" || exit 1
	c_full=$(stat_of "$T/full.mp" encode_seconds)
	how="measured, $(stat_of "$T/full.mp" rows) trie rows"
else
	head -n "$SUB" data/names-clip.txt >"$T/names.txt"
	"$BIN/txtencode" -w "$W" -n "$T/names.txt" -j "$THREADS" >"$T/sub.mp" || exit 1
	rows_sub=$(stat_of "$T/sub.mp" rows)
	rows_full=$("$PY" -c 'import sys
p = set()
for line in open(sys.argv[1]):
    ids = tuple(line.split())
    p.update(ids[:i] for i in range(1, len(ids) + 1))
print(len(p))' "$T/all.txt")
	c_full=$(echo "$(stat_of "$T/sub.mp" encode_seconds) * $rows_full / $rows_sub" | bc -l)
	how="extrapolated from $SUB classes ($rows_sub of $rows_full trie rows; FULL=1 measures it)"
fi
per=80000
printf '1000 classes x 80 templates: txtencode %.0f s (%s)\n' "$c_full" "$how"
printf '  torch ~%.0f s = %.0fx | torch+dnnl ~%.0f s = %.1fx | trimmed ~%.0f s = %.1fx (per-prompt times x 80000)\n' \
	"$(echo "$p_ref * $per / $NREF" | bc -l)" "$(ratio "$p_ref * $per / $NREF" "$c_full")" \
	"$(echo "$p_dnnl * $per / $NSUB" | bc -l)" "$(ratio "$p_dnnl * $per / $NSUB" "$c_full")" \
	"$(echo "$p_trim * $per / $NSUB" | bc -l)" "$(ratio "$p_trim * $per / $NSUB" "$c_full")"
