#!/usr/bin/env bash
# test_gpu_report.sh - bench/gpu/report.py, which writes the device run's results
# file, on data made here: `stats` reads the stats record rnencode writes now
# (CPU backend, the same record as CUDA's), `final` builds results.md/.json
# from a full set of 12 configurations, from a partial one (the 2x-eager goal
# is then not met), from a results file with a line cut off by a kill, and
# from no benchmark at all; bench/gpu/family.sh's table (`family`, and in
# `final`) from made-up rows, failures and a cut-off run among them, kept out
# of the goals; and family.sh's models with bench.sh's are every model
# rnencode --help lists.
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

# bench/gpu/family.sh's rows: the table in the order run (not sorted), a failed
# side or a model not run as the row's note, and none of it in issue 6's goals
$PY - fam.jsonl <<'PYEOF'
import json, sys
def ok(impl, m, p, ips, peak, **kw):
    return dict(impl=impl, model=m, precision=p, batch=32, batches=8, batch_mean_s=32 / ips, batch_std_s=0.0,
                images_per_s=ips, peak_bytes=peak, **kw)
rows = [ok("rnencode", "resnet101", "fp16", 8000.0, 1 << 30, input=224, makers=3),
        ok("torch-eager", "resnet101", "fp16", 4000.0, 3 << 30),
        ok("rnencode", "resnet101", "fp32", 1000.0, 2 << 30, input=224, makers=0),
        dict(impl="torch-eager", model="resnet101", precision="fp32", batch=32,
             error="OutOfMemoryError: CUDA out of memory | tried"),
        ok("rnencode", "clip-rn50x4", "fp16", 2000.0, 1 << 29, input=288, makers=0),
        ok("torch-eager", "clip-rn50x4", "fp16", 4000.0, 1 << 30),
        dict(impl="family", model="clip-rn50x64", precision="fp16", batch=32, error="not run: deadline")]
with open(sys.argv[1], "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
PYEOF
cat >fam.expected <<'TABLE'
| resnet101 | 224 | fp16 | 32 | 8000 | 4000 | 2.00x | 1024 / 3072 | 3 background jobs (checkpoints, crops) on the CPU meanwhile |
| resnet101 | 224 | fp32 | 32 | 1000 | - | - | 2048 / - | torch-eager: OutOfMemoryError: CUDA out of memory / tried |
| clip-rn50x4 | 288 | fp16 | 32 | 2000 | 4000 | 0.50x | 512 / 1024 |  |
| clip-rn50x64 | - | fp16 | 32 | - | - | - | - / - | family: not run: deadline |
TABLE
$R family fam.jsonl >fam.md 2>err || { cat err; fail "report.py family"; }
grep '^| [a-z]' fam.md | grep -v '^| model ' | diff fam.expected - || fail "family table"
$R final --info info.json --bench all.jsonl --parity parity.jsonl --tests tests.tsv --family fam.jsonl \
	--md r.md --json r.json >/dev/null 2>err || { cat err; fail "final with family rows"; }
[ "$(goal)" = "True worst ratio 3.00x over 12 of 12 configurations" ] || fail "family rows in the goals: $(goal)"
grep -q '^## Every other ResNet (bench/gpu/family.sh)' r.md && grep -qxF "$(sed -n 3p fam.expected)" r.md ||
	{ cat r.md; fail "results.md lacks the family table"; }
[ "$($PY -c 'import json; print(len(json.load(open("r.json"))["family"]))')" = 7 ] || fail "results.json: family rows"
final all.jsonl || fail "final without family rows"
grep -q 'Every other ResNet' r.md && fail "a family section without family rows"
{ head -n 3 fam.jsonl; printf '{"impl": "torch-eager", "model": "resnet1'; } >famcut.jsonl
$R family famcut.jsonl >fam.md 2>err || { cat err; fail "report.py family on a cut-off run"; }
expect_stderr 'skipping a broken line'
grep '^| [a-z]' fam.md | grep -v '^| model ' >fam.rows
[ "$(wc -l <fam.rows)" = 2 ] && grep -qxF "$(sed -n 1p fam.expected)" fam.rows ||
	{ cat fam.md; fail "family table of a cut-off run"; }

# family.sh measures every model rnencode reads but bench.sh's two
bash "$ROOT/bench/gpu/family.sh" --list >list 2>err || { cat err; fail "family.sh --list"; }
{ awk '{ print $1 }' list; printf 'resnet50\nclip-rn50\n'; } | sort >ours
rnencode --help | sed -n '/^Models:/,/^$/p' | tail -n +2 | tr ', ' '\n\n' | grep . | sort >theirs
diff theirs ours || fail "family.sh --list and bench.sh do not cover rnencode's models"
grep -qx 'clip-rn50x64 448' list || fail "family.sh --list: input sizes"
exit 0
