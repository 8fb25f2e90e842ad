#!/usr/bin/env bash
# bench/ckpt.sh - checkpoint load time against reading the same file, same run.
# For each ~100 MB ResNet-50 fixture (PyTorch zip, legacy, safetensors) and the
# 255 MB CLIP TorchScript archive, page cache warm, best of REPS:
#   cat FILE > /dev/null            the peer: every byte read once, no parsing
#   ckptinfo --no-file-sha256 FILE  open + index only (mmap, no tensor bytes read)
#   ckptinfo --no-file-sha256 --read FILE
#                                   open + index + every tensor byte read: a full load
#   torch.load(FILE) in Python      PyTorch's own loader (torch.jit.load for .pt),
#                                   timed inside Python, import excluded (not for
#                                   safetensors: Debian's torch 1.13 cannot read it)
# and the ratios of full-load time to cat's (goal: close to 1, i.e. the load is
# dominated by reading the file). Fixtures: tests/py/make_checkpoints.py (torch).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-bin}
PY=${PY:-/usr/bin/python3}
REPS=${REPS:-5}
if ! (source tests/lib.sh; source tests/fixtures.sh; need_checkpoints) >/dev/null 2>&1; then
	echo "ckpt: skipped: checkpoint fixtures need torch and torchvision for $PY"
	exit 0
fi
D=$ROOT/build/fixtures
[ -x "$BIN/ckptinfo" ] || { echo "ckpt: $BIN/ckptinfo not built (make bin/ckptinfo)"; exit 1; }

source "$(dirname "$0")/lib.sh"

torch_best() { # best-of-REPS seconds of torch.load / torch.jit.load inside Python
	"$PY" - "$1" "$REPS" <<'EOF' 2>/dev/null || echo nan
import sys, time, torch
path, reps = sys.argv[1], int(sys.argv[2])
best = None
for _ in range(reps):
    t = time.perf_counter()
    if path.endswith(".pt"):
        torch.jit.load(path, map_location="cpu")
    else:
        torch.load(path, map_location="cpu")
    d = time.perf_counter() - t
    best = d if best is None or d < best else best
print(f"{best:.6f}")
EOF
}

echo "checkpoint load, page cache warm, best of $REPS, $(nproc) cores"
printf "  %-22s %9s %9s %9s %9s %9s %11s %11s\n" file MB cat_s index_s load_s torch_s load/cat torch/load
for f in resnet50.pth resnet50-legacy.pth resnet50.safetensors clip-rn50.pt; do
	p=$D/$f
	cat "$p" >/dev/null
	mb=$(awk -v b="$(stat -c %s "$p")" 'BEGIN { printf "%.1f", b / 1e6 }')
	t_cat=$(bench_best "cat '$p' > /dev/null")
	t_idx=$(bench_best "'$BIN/ckptinfo' --no-file-sha256 '$p'")
	t_load=$(bench_best "'$BIN/ckptinfo' --no-file-sha256 --read '$p'")
	t_torch=nan # torch 1.13 cannot read safetensors (no safetensors package in Debian)
	case $f in *.safetensors) ;; *) t_torch=$(torch_best "$p") ;; esac
	awk -v f="$f" -v mb="$mb" -v c="$t_cat" -v i="$t_idx" -v l="$t_load" -v t="$t_torch" 'BEGIN {
		if (t == "nan") printf "  %-22s %9s %9.3f %9.3f %9.3f %9s %10.2fx %11s\n", f, mb, c, i, l, "-", l / c, "-"
		else printf "  %-22s %9s %9.3f %9.3f %9.3f %9.3f %10.2fx %10.2fx\n", f, mb, c, i, l, t, l / c, t / l
	}'
done
echo "  (load/cat: full load time over cat's; torch/load: PyTorch's time over ours)"
