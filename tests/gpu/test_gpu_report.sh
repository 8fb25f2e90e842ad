#!/usr/bin/env bash
# test_gpu_report.sh - bench/gpu/report.py, which writes the device run's results
# file, on data made here: `stats` reads the stats record rnencode writes now
# (CPU backend, the same record as CUDA's), `final` builds results.md/.json
# from a full set of 12 configurations, from a partial one (the 2x-eager goal
# is then not met), from a results file with a line cut off by a kill, and
# from no benchmark at all.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
need_py msgpack
need_py torch
gpu_weights
R="$PY $ROOT/bench/gpu/report.py"

$PY "$GPU_PY" images --preset imagenet --n 3 --records three.mp || fail "gpu_ref.py images"
rnencode --device cpu --model resnet50 --weights "$RN50_W" --batch 1 <three.mp >out.mp 2>err || { cat err; fail "rnencode"; }
$R stats out.mp --model resnet50 --precision fp32 --batch 1 >line.json || fail "report.py stats"
$PY - line.json <<'PYEOF' || fail "stats line"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["impl"] == "rnencode" and r["batches"] == 2 and r["images"] == 3, r  # batch 1: the first is warm-up
assert r["images_per_s"] > 0 and abs(r["images_per_s"] - 1 / r["batch_mean_s"]) < 1e-6 * r["images_per_s"], r
assert r["device"].startswith("cpu: ") and r["peak_bytes"] > 0, r
PYEOF

# 12 configurations, rnencode 3x eager everywhere; bf16 beside them (in the
# table, outside the goal's 12)
$PY - all.jsonl <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for m in ("resnet50", "clip-rn50"):
        for p in ("fp16", "bf16", "fp32"):
            for b in (1, 32, 256):
                t = 1e-3 * b * (1 if p == "fp16" else 2)
                for impl, k in (("rnencode", 1), ("torch-eager", 3)):
                    f.write(json.dumps({"impl": impl, "model": m, "precision": p, "batch": b, "batches": 10,
                                        "batch_mean_s": t * k, "batch_std_s": 0.0, "images_per_s": b / (t * k),
                                        "peak_bytes": (1 if p == "fp16" else 2) << 30}) + "\n")
PYEOF
echo '{"card": "NVIDIA H100 80GB HBM3", "date": "today", "commit": "x"}' >info.json
printf 'test_gpu_cpu_parity\tok\t\n' >tests.tsv
echo '{"name": "cuda vs cpu", "rows": 7, "rtol": 0.0001, "max_ratio": 0.1, "max_rel_l2": 1e-6, "ok": true}' >parity.jsonl
final() { $R final --info info.json --bench "$1" --parity parity.jsonl --tests tests.tsv --md r.md --json r.json >/dev/null 2>err; }
goal() { $PY -c 'import json, sys; g = json.load(open("r.json"))["goals"][0]; print(g["met"], g["measured"])'; }
final all.jsonl || { cat err; fail "final, 12 configurations"; }
grep -q '^## Goals' r.md && grep -q '^| resnet50 | fp16 | 256 |' r.md && grep -q '^| clip-rn50 | bf16 | 1 |' r.md ||
	{ cat r.md; fail "results.md lacks the table (bf16 rows too) or goals"; }
[ "$(goal)" = "True worst ratio 3.00x over 12 of 12 configurations" ] || fail "full set: $(goal)"

grep '"batch": 256' all.jsonl | grep -v bf16 >part.jsonl
final part.jsonl || { cat err; fail "final, batch 256 only"; }
[ "$(goal)" = "False worst ratio 3.00x over 4 of 12 configurations" ] || fail "partial set: $(goal)"

{ cat part.jsonl; printf '{"impl": "rnencode", "model": "res'; } >cut.jsonl
final cut.jsonl || { cat err; fail "final with a cut-off line"; }
expect_stderr 'skipping a broken line'
final missing.jsonl || { cat err; fail "final without a benchmark"; }
[ "$(goal)" = "False not measured" ] || fail "no benchmark: $(goal)"
exit 0
