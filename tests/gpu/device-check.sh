#!/usr/bin/env bash
# tests/gpu/device-check.sh - THE script a session with a GPU runs, in one go, on
# the device machine (tests/gpu/README.md has the exact call). It
#   1. prints the card, driver, toolkit and library versions, finds the venv's
#      cuDNN and cuBLAS, and fails fast with one line if something is missing;
#   2. picks rnencode and txtencode: device-libs/bin/ (built here by
#      prepare-device.sh), or a rebuild of gpu/ with this machine's nvcc when
#      those binaries do not load, gpu/ changed since, or REBUILD=1;
#   3. makes the random-weight checkpoints with this machine's torch
#      (tests/py/gpu_ckpt.py);
#   4. runs the GPU tests: CUDA vs CPU backend, CUDA vs PyTorch's CUDA results,
#      txtencode's CUDA backend vs its CPU backend and PyTorch; when a parity
#      test fails, a per-op table (RNENC_GPU_DUMP, gpu/gpu_dump.h, against
#      PyTorch's activations: tests/py/gpu_ref.py layers) names the first op
#      that leaves the reference, for each model and precision, and the
#      parity test's batches rerun without CUDA graphs (RNENC_NO_GRAPH=1) say
#      whether the graphs are to blame, compute-sanitizer's memcheck (when the
#      toolkit has it) whether a kernel reads or writes out of bounds;
#   5. runs the benchmarks (bench/gpu/bench.sh: both models, FP16/BF16/FP32,
#      batch 256/1/32, PyTorch eager beside it, torch.compile if time is left;
#      then bench/gpu/txtencode.sh: the 1000 x 80 zero-shot classifier,
#      FP32/FP16/BF16, against PyTorch on the same card);
#   6. with DEVICE_STEPS naming `family` (not by default: tests/gpu/README.md),
#      then bench/gpu/family.sh with the time left: every other ResNet rnencode
#      reads (13 models, checkpoints made here by tests/py/resnets.py make),
#      FP16 and FP32 at batch 32, PyTorch eager beside it;
#   7. writes $OUT/results.md and $OUT/results.json (card, date, commit, tests,
#      parity, benchmark, goals, the family table when it ran; results.md ends
#      with the txtencode table),
#      $OUT/txtencode-bench.jsonl, $OUT/device-check.log, and the memory
#      timelines $OUT/memtrace-*.tsv.
# Every step is time-limited; DEVICE_BUDGET_S (default 360) is the point after
# which no new step starts, and no step's timeout reaches past it by more than
# 60 s, so with the device call's timeout_s 450 the results file is always
# written (no trap could: timeout(1) runs each step in a process group of its
# own, which a kill of the script does not reach). DEVICE_STEPS (default "tests bench")
# picks the parts after step 3, e.g. DEVICE_STEPS=tests for a short rerun, or
# DEVICE_STEPS=family for family.sh alone (it runs after the others, in what they
# leave of DEVICE_BUDGET_S: it never takes their time).
# Exit 0 when everything ran and passed, 1 otherwise (the results say what):
# on this machine a test that skips, or a benchmark that says "skipped", fails.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
T0=$(date +%s)
BUDGET=${DEVICE_BUDGET_S:-360}
PY=${PY:-python3}
STEPS=${DEVICE_STEPS:-tests bench}
export PYTHONUNBUFFERED=1 # a step killed at its timeout still shows what it printed
WORK=$(mktemp -d /tmp/devcheck.XXXXXX)
STATUS=0
elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((BUDGET - $(elapsed))); }
# a step's timeout: what it asks for, but never past the budget + 60 s (at least 10 s)
cap() {
	local l=$(($(left) + 60))
	[ $l -lt 10 ] && l=10
	echo $(($1 < l ? $1 : l))
}
want() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
step() { echo; echo "=== [$(elapsed) s] $*"; }
note_test() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$WORK/tests.tsv"; }
: >"$WORK/tests.tsv"

finish() {
	step "results"
	$PY "$ROOT/bench/gpu/report.py" final --info "$WORK/info.json" --bench "$WORK/bench.jsonl" \
		--parity "$WORK/parity.jsonl" --tests "$WORK/tests.tsv" --family "$WORK/family.jsonl" \
		--md "$OUT/results.md" --json "$OUT/results.json" \
		>/dev/null || { echo "device-check: report.py failed"; STATUS=1; }
	if [ -s "$WORK/layers.md" ]; then
		{ echo; echo "## Op by op: the first image against PyTorch FP32 (RNENC_GPU_DUMP, gpu_ref.py layers)"
		  cat "$WORK/layers.md"; } >>"$OUT/results.md"
	fi
	if [ -s "$WORK/text-bench.md" ]; then
		{ echo; echo "## txtencode: the 1000 x 80 zero-shot classifier (bench/gpu/txtencode.sh)"; echo
		  cat "$WORK/text-bench.md"; } >>"$OUT/results.md"
		# its JSON lines go into results.json (at most 8 files come back from $OUT)
		$PY - "$OUT/results.json" "$WORK/text-bench.jsonl" <<'PYEOF' || echo "device-check: cannot merge txtencode's figures"
import json, sys
try:
    res = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    res = {}
rows = []
try:
    for line in open(sys.argv[2]):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
except OSError:
    pass
res["txtencode"] = rows
json.dump(res, open(sys.argv[1], "w"), indent=1)
PYEOF
	fi
	echo "--- summary ($(elapsed) s)"
	cat "$WORK/tests.tsv"
	$PY "$ROOT/bench/gpu/report.py" table "$WORK/bench.jsonl" --card "${CARD:-}" 2>/dev/null
	[ -s "$WORK/text-bench.md" ] && grep '^|' "$WORK/text-bench.md"
	[ -s "$WORK/family.jsonl" ] && $PY "$ROOT/bench/gpu/report.py" family "$WORK/family.jsonl" 2>/dev/null
	echo "device-check: exit $STATUS; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
	exit $STATUS
}
fatal() {
	echo "device-check: FATAL: $*"
	note_test "device-check" "FAIL" "$*"
	STATUS=1
	[ -s "$WORK/info.json" ] || echo '{}' >"$WORK/info.json"
	finish
}

main() {
# ---- 1. the machine ----
step "machine"
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi -L || fatal "nvidia-smi -L fails: no GPU visible"
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv
CUDA_V=$(nvcc --version 2>/dev/null | tail -n 1)
echo "nvcc: ${CUDA_V:-not found}"
$PY - "$WORK/libs.env" <<'EOF' || fatal "python3 lacks torch, or cuDNN 9 / cuBLAS 13 were found nowhere"
import glob, os, sys, torch
# The venv's pip packages: nvidia-cudnn-cu13 installs nvidia/cudnn/lib, CUDA 13's
# nvidia-cublas nvidia/cu13/lib (older layouts nvidia/cublas/lib); else the toolkit's.
def libdir(soname, subs):
    bases = [p for p in sys.path if os.path.isdir(os.path.join(p, "nvidia"))]
    for d in [os.path.join(b, "nvidia", s, "lib") for b in bases for s in subs] + ["/usr/local/cuda/lib64"]:
        if os.path.exists(os.path.join(d, soname)):
            return d
    for b in bases:
        for hit in sorted(glob.glob(os.path.join(b, "nvidia", "**", soname), recursive=True)):
            return os.path.dirname(hit)
    raise SystemExit(f"{soname} not found under the venv's nvidia/*/lib nor in /usr/local/cuda/lib64")
cudnn = libdir("libcudnn.so.9", ["cudnn", "cu13"])
cublas = libdir("libcublas.so.13", ["cu13", "cublas"])
with open(sys.argv[1], "w") as f:
    f.write(f"CUDNN_LIB={cudnn}\nCUBLAS_LIB={cublas}\n")
try:  # information only: a failure here must not read as "no torch"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none visible to torch"
    print(f"python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version()}), GPU {gpu}")
    print(f"cudnn lib: {cudnn}: {sorted(os.listdir(cudnn))}")
    print(f"cublas lib: {cublas}: {sorted(os.listdir(cublas))}")
except Exception as e:
    print(f"device-check: torch/library details unavailable: {e}")
EOF
. "$WORK/libs.env"
export CUDNN_LIB CUBLAS_LIB
[ -d device-libs ] || fatal "device-libs/ did not travel: run tests/gpu/prepare-device.sh here first and carry it"
cat device-libs/BUILD-INFO
if [ ! -s device-libs/lib/libdnnl.so.2 ]; then
	$PY -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
		device-libs/lib/libdnnl.so.2.xz device-libs/lib/libdnnl.so.2 || fatal "cannot unpack libdnnl.so.2.xz"
fi
export LD_LIBRARY_PATH=$ROOT/device-libs/lib:$CUDNN_LIB:$CUBLAS_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
TORCH_V=$($PY -c 'import torch; print(torch.__version__, "cuDNN", torch.backends.cudnn.version())')

# ---- 2. rnencode and txtencode ----
step "rnencode and txtencode"
BINDIR=$ROOT/device-libs/bin
why=
[ "${REBUILD:-0}" = 1 ] && why="REBUILD=1"
if [ -z "$why" ] && ! grep ' gpu/' device-libs/SOURCES.sha256 | sha256sum --quiet -c - 2>/dev/null; then
	why="gpu/ changed since device-libs was built"
fi
# the rest cannot be rebuilt here: testing other sources than the commit's would mislead
grep -v ' gpu/' device-libs/SOURCES.sha256 | sha256sum --quiet -c - >"$WORK/drift" 2>&1 ||
	fatal "device-libs/ was built from other model/, cmd/, common/ or Makefile sources than these" \
		"($(grep -c FAILED "$WORK/drift") differ): run tests/gpu/prepare-device.sh again before the device call"
for p in rnencode txtencode; do
	if [ -z "$why" ] && ! "$BINDIR/$p" --help >/dev/null 2>"$WORK/load.err"; then
		why="the carried $p does not start: $(head -n 3 "$WORK/load.err")"
	fi
done
BINARY="carried device-libs/bin/rnencode"
if [ -n "$why" ]; then
	echo "rebuilding gpu/ here: $why"
	timeout $(cap 300) bash tests/gpu/device-rebuild.sh "$WORK/rebuild" || fatal "rebuild of gpu/ failed"
	BINDIR=$WORK/rebuild
	BINARY="rebuilt here with $(nvcc --version | tail -n 1) ($why)"
fi
ldd "$BINDIR/rnencode" "$BINDIR/txtencode" | grep -E '^/|cudnn|cublas|dnnl|libz|not found'
export BIN=$BINDIR PATH=$BINDIR:$PATH
export RNENC_DATA=$ROOT/data # txtencode's default names, templates and BPE vocabulary (a rebuilt binary is elsewhere)

$PY - "$WORK/info.json" "$CARD" "$DRIVER" "${CUDA_V:-}" "$TORCH_V" "$BINARY" <<'EOF'
import json, sys, time
info = {"card": sys.argv[2], "driver": sys.argv[3], "cuda": sys.argv[4], "torch": sys.argv[5],
        "binary": sys.argv[6], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
for line in open("device-libs/BUILD-INFO"):
    k, _, v = line.partition(": ")
    if k in ("commit", "uncommitted"):
        info[k] = v.strip()
info["commit"] = f"{info.get('commit', 'unknown')} ({info.get('uncommitted', '?')})"
json.dump(info, open(sys.argv[1], "w"))
EOF

# ---- 3. checkpoints ----
step "checkpoints (this machine's torch)"
export GPU_CKPT_DIR=$WORK/ckpt
timeout $(cap 240) $PY tests/py/gpu_ckpt.py "$GPU_CKPT_DIR" || fatal "tests/py/gpu_ckpt.py failed"

# the first CUDA run: its stats record names the libraries rnencode really loaded
$PY tests/py/gpu_ref.py images --preset imagenet --n 2 --records "$WORK/probe.mp" || fatal "gpu_ref.py images failed"
timeout $(cap 120) rnencode --device cuda --model resnet50 --weights "$GPU_CKPT_DIR/resnet50.pth" --batch 1 \
	<"$WORK/probe.mp" >"$WORK/probe.out" 2>"$WORK/probe.err"
rc=$?
cat "$WORK/probe.err"
if [ $rc != 0 ] && [ "$BINARY" = "carried device-libs/bin/rnencode" ]; then
	echo "the carried binary failed on the GPU (exit $rc): rebuilding gpu/ here"
	timeout $(cap 300) bash tests/gpu/device-rebuild.sh "$WORK/rebuild" || fatal "rebuild of gpu/ failed"
	BINDIR=$WORK/rebuild BIN=$WORK/rebuild PATH=$WORK/rebuild:$PATH
	BINARY="rebuilt here after the carried binary failed (exit $rc)"
	timeout $(cap 120) rnencode --device cuda --model resnet50 --weights "$GPU_CKPT_DIR/resnet50.pth" --batch 1 \
		<"$WORK/probe.mp" >"$WORK/probe.out" 2>"$WORK/probe.err"
	rc=$?
	cat "$WORK/probe.err"
fi
[ $rc = 0 ] || fatal "rnencode --device cuda fails on 2 images (exit $rc): $(tail -n 2 "$WORK/probe.err")"
LIBS=$($PY -c '
import msgpack, sys
for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False):
    if r.get("type") == "stats": print(r["device"])' "$WORK/probe.out")
echo "backend: $LIBS"
$PY - "$WORK/info.json" "$LIBS" "$BINARY" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
info["libraries"], info["binary"] = sys.argv[2], sys.argv[3]
json.dump(info, open(sys.argv[1], "w"))
EOF

# ---- 4. tests ----
export ROOT PY TESTDATA=$ROOT/testdata GPU_RESULTS=$WORK/parity.jsonl
for t in tests/gpu/test_gpu_cpu_parity.sh tests/gpu/test_gpu_torch_parity.sh tests/gpu/test_gpu_txtencode.sh; do
	name=$(basename "$t" .sh)
	if ! want tests || [ "$(left)" -lt 60 ]; then
		note_test "$name" "not run" "$(want tests && echo "time budget" || echo "DEVICE_STEPS=$STEPS")"
		want tests && STATUS=1
		continue
	fi
	step "test $name"
	export T=$(mktemp -d "$WORK/t.XXXXXX")
	(cd "$T" && timeout $(cap 300) bash "$ROOT/$t") 2>&1 | tee "$WORK/$name.log"
	rc=${PIPESTATUS[0]}
	case $rc in
	0) note_test "$name" "ok" ;;
	77) note_test "$name" "skip" "$(tail -n 1 "$WORK/$name.log")"; STATUS=1 ;; # on a GPU machine a skip is a failure
	124) note_test "$name" "FAIL" "timed out"; STATUS=1
	     for f in "$T"/*.err "$T"/err; do [ -s "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }; done ;;
	*) note_test "$name" "FAIL" "exit $rc"; STATUS=1 ;;
	esac
done

# a parity failure: where along the network does the GPU first leave PyTorch?
if grep -qP '^test_gpu_(cpu|torch)_parity\tFAIL' "$WORK/tests.tsv" && [ "$(left)" -gt 90 ]; then
	step "layers: the first op beyond tolerance"
	(
		source tests/gpu/gpulib.sh
		gpu_weights
		for m in resnet50 clip-rn50; do
			case $m in resnet50) preset=imagenet w=$RN50_W ;; *) preset=clip w=$CLIP_W ;; esac
			$PY tests/py/gpu_ref.py images --preset $preset --n 1 --u8 "$WORK/$m.l.u8" --records "$WORK/$m.l.mp" || continue
			for p in fp32 fp16 bf16; do
				[ "$(left)" -gt 60 ] || break 2
				flag="--precision $p" cpuflag="--precision $p" rtol=$GPU_RTOL_FP32
				[ $p = fp16 ] && rtol=$GPU_RTOL_FP16
				# bf16 against the CPU's FP32, within bf16's tolerance (gpulib.sh)
				[ $p = bf16 ] && cpuflag="--precision fp32" rtol=$GPU_RTOL_BF16
				lrtol=$rtol # the per-op table's
				[ $p = bf16 ] && lrtol=$GPU_RTOL_BF16_LAYERS
				echo "### $m $p" >>"$WORK/layers.md"
				# the dump below is the op-by-op warm-up batch; later batches run
				# as a CUDA graph: the parity test's batches once more, graphs off
				if [ "$(left)" -gt 100 ] && { [ -s "$WORK/$m.g.mp" ] ||
					$PY tests/py/gpu_ref.py images --preset $preset --n 10 --records "$WORK/$m.g.mp"; } &&
					timeout $(cap 30) rnencode --device cpu --model $m --weights "$w" $cpuflag <"$WORK/$m.g.mp" \
						>"$WORK/g.cpu.mp" 2>/dev/null; then
					if RNENC_NO_GRAPH=1 CUDA_LAUNCH_BLOCKING=1 timeout $(cap 30) rnencode --device cuda --model $m \
						--weights "$w" $flag --batch 3 <"$WORK/$m.g.mp" >"$WORK/g.nograph.mp" 2>"$WORK/g.err"; then
						{ printf '\nWithout CUDA graphs (RNENC_NO_GRAPH=1), 10 images in batches of 3 against the CPU: '
						  $PY tests/py/gpu_ref.py compare --name "$m $p" --dim $([ $m = resnet50 ] && echo 1000 || echo 1024) \
							--rtol $rtol "$WORK/g.cpu.mp" "$WORK/g.nograph.mp" | head -n 1; echo; } >>"$WORK/layers.md"
					else
						printf '\nWithout CUDA graphs (RNENC_NO_GRAPH=1 CUDA_LAUNCH_BLOCKING=1): rnencode failed: %s\n\n' \
							"$(tail -n 1 "$WORK/g.err")" >>"$WORK/layers.md"
					fi
				fi
				RNENC_GPU_DUMP=$WORK/dump.$m.$p timeout $(cap 60) rnencode --device cuda --model $m --weights "$w" \
					$flag --batch 1 <"$WORK/$m.l.mp" >/dev/null 2>"$WORK/dump.err" ||
					{ echo "rnencode with RNENC_GPU_DUMP failed: $(tail -n 1 "$WORK/dump.err")" >>"$WORK/layers.md"; continue; }
				[ -s "$WORK/dump.$m.$p/index.tsv" ] ||
					{ echo "rnencode wrote no dump (a binary without gpu/gpu_dump.h?)" | tee -a "$WORK/layers.md"; continue; }
				dev=cpu
				$PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && dev=cuda
				timeout $(cap 90) $PY tests/py/gpu_ref.py layers --model $m --weights "$w" --u8 "$WORK/$m.l.u8" \
					--dump "$WORK/dump.$m.$p" --rtol $lrtol --device $dev --md "$WORK/layers.md" | head -n 1
			done
		done
		# out-of-bounds or misaligned device accesses, if the toolkit has the
		# sanitizer: 3 images one by one (warm-up, graph capture, graph)
		CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
		if [ -z "$CS" ]; then
			printf '\n### compute-sanitizer\n\nnot on this machine\n' >>"$WORK/layers.md"
		elif [ "$(left)" -gt 70 ] && $PY tests/py/gpu_ref.py images --preset imagenet --n 3 --records "$WORK/cs.mp"; then
			timeout $(cap 60) "$CS" --tool memcheck --print-limit 5 rnencode --device cuda --model resnet50 \
				--weights "$RN50_W" --fp16 --batch 1 <"$WORK/cs.mp" >/dev/null 2>"$WORK/cs.err"
			{ printf '\n### compute-sanitizer memcheck: resnet50 fp16, 3 images, batch 1 (exit %s)\n\n```\n' $?
			  grep -E '^=========' "$WORK/cs.err" | head -n 30; printf '```\n'; } >>"$WORK/layers.md"
		fi
	) 2>&1
fi

# ---- 5. benchmark ----
# rnencode's benchmark first (the study's figures), keeping a third of what is
# left (120 s at most) for txtencode's
if ! want bench; then
	echo "device-check: benchmarks not run (DEVICE_STEPS=$STEPS)"
elif [ "$(left)" -gt 60 ]; then
	step "benchmark"
	reserve=$(($(left) / 3))
	[ $reserve -gt 120 ] && reserve=120
	BENCH_DEADLINE_S=$(($(left) - 30 - reserve)) BENCH_TRACE_DIR=$OUT BENCH_COMPILE=1 \
		timeout $(cap $(($(left) + 60 - reserve))) bash bench/gpu/bench.sh "$WORK/bench.jsonl" |
		tee "$WORK/bench.log" || STATUS=1
	grep -q '^skipped:' "$WORK/bench.log" && STATUS=1
else
	echo "device-check: no time left for the benchmark"
	STATUS=1
fi
if want bench && [ "$(left)" -gt 30 ]; then
	step "benchmark txtencode"
	timeout $(cap 600) bash bench/gpu/txtencode.sh "$WORK/text-bench.jsonl" | tee "$WORK/text-bench.md" ||
		STATUS=1
	grep -q '^skipped:' "$WORK/text-bench.md" && STATUS=1
elif want bench; then
	echo "device-check: no time left for the txtencode benchmark"
	STATUS=1
fi

# ---- 6. every other ResNet, when asked for: last, in the time the rest left ----
if want family && [ "$(left)" -gt 60 ]; then
	step "benchmark family"
	FAMILY_DEADLINE_S=$(($(left) - 30)) timeout $(cap 3600) bash bench/gpu/family.sh "$WORK/family.jsonl" |
		tee "$WORK/family.log" || STATUS=1
	grep -q '^skipped:' "$WORK/family.log" && STATUS=1
elif want family; then
	echo "device-check: no time left for the family benchmark (DEVICE_BUDGET_S=$BUDGET)"
	STATUS=1
fi
[ -s "$WORK/bench.jsonl" ] || : >"$WORK/bench.jsonl"
finish
}

# everything to the terminal (the device tool's output tail) and to the log
main 2>&1 | tee "$OUT/device-check.log"
exit "${PIPESTATUS[0]}"
