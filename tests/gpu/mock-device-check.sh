#!/usr/bin/env bash
# tests/gpu/mock-device-check.sh - run tests/gpu/device-check.sh HERE, without a
# GPU, to check its plumbing after an edit (it runs for real only on a borrowed
# GPU machine, minutes at a time). About 4 minutes (4m08s here at load 2, the
# family smoke run making its two checkpoints into build/parity included); not
# part of `make test`.
#
# A copy of the working tree (what the device tool would carry) gets a fake
# device-libs/ whose rnencode and txtencode run this build's binaries with
# `--device cuda` turned into `--device cpu`, and a fake nvidia-smi naming an
# H100. Everything else is real: the library search, checkpoints made with
# this machine's torch, the three GPU tests, the per-op layer step, the
# benchmarks' readiness checks, results.md/results.json, and the family
# benchmark (DEVICE_STEPS="tests bench family") in its smoke mode
# (FAMILY_QUICK=1: resnet18 and clip-rn101, batch 2) with its PyTorch side on
# the CPU (FAMILY_PEER_DEVICE=cpu), checkpoints kept in build/parity.
# Expected, and checked: device-check exits 1; the parity rows (CPU against
# CPU) are all within tolerance; the failures are the ones a CPU stand-in must
# cause (the stats records name the CPU, torch has no CUDA, no dump is
# written, bench.sh and txtencode.sh are skipped) and nothing else; the layer
# step's graph-less rerun compares its four runs; the family table has both
# models in both precisions, rnencode's figure in each row and PyTorch's in
# FP32 (in FP16 PyTorch's figure or its error: Debian's CPU torch has no
# half-precision convolutions).
# Exit 0 when the run went as expected, 1 otherwise (with the log's tail).
# On a loaded machine the device budget runs out before the tests: MOCK_BUDGET_S
# (device-check's DEVICE_BUDGET_S, default 300) and MOCK_TIMEOUT_S (default 600)
# give it more.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PY:-/usr/bin/python3}
[ -x "$ROOT/bin/rnencode" ] && [ -x "$ROOT/bin/txtencode" ] || { echo "mock: run make first"; exit 1; }
W=$(mktemp -d /tmp/mockdev.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "mock: FAIL: $*"; tail -n 40 "$W/log"; exit 1; }

(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^device-libs/' | tar --null -T - -cf -) |
	(mkdir -p "$W/repo" && cd "$W/repo" && tar -xf -) || fail "cannot copy the working tree"
R=$W/repo
mkdir -p "$R/device-libs/bin" "$R/device-libs/lib" "$W/fakebin"
for p in rnencode txtencode; do
	cat >"$R/device-libs/bin/$p" <<EOF
#!/bin/bash
# mock $p: the CUDA device mapped to the CPU backend of $ROOT/bin/$p
# (the symbols the tests look for: cudnnConvolutionBiasActivationForward cublasGemmEx)
args=()
for a in "\$@"; do [ "\$a" = cuda ] && a=cpu; args+=("\$a"); done
exec "$ROOT/bin/$p" "\${args[@]}"
EOF
	chmod +x "$R/device-libs/bin/$p"
done
dnnl=$(ldd "$ROOT/bin/rnencode" | awk '$1 == "libdnnl.so.2" { print $3 }')
[ -n "$dnnl" ] || fail "bin/rnencode does not link libdnnl.so.2"
ln -s "$dnnl" "$R/device-libs/lib/libdnnl.so.2"
(cd "$R" && sha256sum gpu/* cmd/rnencode.c cmd/txtencode.c model/* common/*/*.c common/*/*.h Makefile) \
	>"$R/device-libs/SOURCES.sha256"
printf 'commit: mock\nuncommitted: mock\n' >"$R/device-libs/BUILD-INFO"
cat >"$W/fakebin/nvidia-smi" <<'EOF'
#!/bin/bash
case "$*" in
-L) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-mock)" ;;
*name,memory*) echo "name, memory.total [MiB], clocks.max.sm [MHz], clocks.max.mem [MHz], power.limit [W]"
	echo "NVIDIA H100 80GB HBM3, 81559 MiB, 1980 MHz, 2619 MHz, 700.00 W" ;;
*driver_version*) echo "580.00" ;;
*name*) echo "NVIDIA H100 80GB HBM3" ;;
esac
EOF
chmod +x "$W/fakebin/nvidia-smi"

# the other programs the tests call come from this build
(cd "$R" && PATH=$W/fakebin:/usr/local/cuda/bin:$ROOT/bin:$PATH PY=$PY OUT=$W/out DEVICE_BUDGET_S=${MOCK_BUDGET_S:-300} \
	DEVICE_STEPS="tests bench family" FAMILY_QUICK=1 FAMILY_PEER_DEVICE=cpu FAMILY_CKPT_DIR=$ROOT/build/parity \
	timeout ${MOCK_TIMEOUT_S:-600} bash tests/gpu/device-check.sh) >"$W/log" 2>&1
rc=$?
[ $rc = 1 ] || fail "device-check exited $rc, expected 1"
for f in results.md results.json device-check.log; do [ -s "$W/out/$f" ] || fail "no $f in \$OUT"; done
grep -q '^=== \[[0-9]* s\] results$' "$W/log" || fail "device-check did not reach its results step"
$PY - "$W/out/results.json" "$W/out/results.md" <<'PYEOF' || fail "results not as expected"
import json, sys
res = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
tests = {t[0]: t[1] for t in res["tests"]}  # [name, status, note]
assert set(tests) == {"test_gpu_cpu_parity", "test_gpu_torch_parity", "test_gpu_txtencode"}, tests
assert tests["test_gpu_torch_parity"] == "skip", tests  # torch here has no CUDA
par = res["parity"]
assert len(par) == 8 and all(p["ok"] for p in par), par  # 4 rnencode + 4 txtencode, CPU vs CPU
assert "## Op by op" in md and "wrote no dump" in md, "the layer step did not run or did not say why"
# fp32 and fp16 of both models; bf16 too where the CPU stand-in computes bf16
assert md.count("Without CUDA graphs (RNENC_NO_GRAPH=1), 10 images in batches of 3 against the CPU: ") >= 4 \
    and "worst error" in md, "the layer step's graph-less rerun did not run or compare"
assert "### compute-sanitizer" in md, "the layer step's sanitizer part did not run"
assert "not measured" in md, "goals"
# family.sh's smoke run: every row measured on rnencode's side, PyTorch's in FP32
fam = {}
for r in res["family"]:
    fam.setdefault((r["impl"], r["model"], r["precision"]), []).append(r)
for m in ("resnet18", "clip-rn101"):
    for p in ("fp16", "fp32"):
        o = fam.get(("rnencode", m, p), [{}])
        assert len(o) == 1 and "error" not in o[0] and o[0]["device"].startswith("cpu") and o[0]["batch"] == 2, o
        e = fam.get(("torch-eager", m, p), [])
        assert len(e) == 1 and ("error" not in e[0] or p == "fp16"), e
        assert "error" in e[0] or e[0]["device"] == "cpu" and e[0]["peak_bytes"] is None, e
assert not [k for k in fam if k[0] not in ("rnencode", "torch-eager")], "family.sh: " + str(fam)
assert "## Every other ResNet (bench/gpu/family.sh)" in md and "| clip-rn101 | 224 | fp32 | 2 | " in md, md
print(f"mock: {len(par)} parity rows within tolerance; tests {tests}; family rows {len(res['family'])}")
PYEOF
grep -q '^skipped: .* has no CUDA torch' "$W/log" || fail "the benchmarks did not say why they skipped"
grep -q '^=== \[[0-9]* s\] benchmark family$' "$W/log" || fail "device-check did not run the family step"
# the CPU stand-in's own failures, and no others
grep -q 'AssertionError: cpu: ' "$W/log" || fail "test_gpu_cpu_parity failed for another reason than the device name"
[ "$(grep -c '^FAIL: ' "$W/log")" = 2 ] && grep -q '^FAIL: stats record of the CUDA backend$' "$W/log" &&
	grep -q '^FAIL: records of the CUDA runs$' "$W/log" || fail "other test failures than the device names"
echo "mock: device-check ran end to end ($(grep -c '^=== ' "$W/log") steps); log: rerun with the trap removed to keep it"
exit 0
