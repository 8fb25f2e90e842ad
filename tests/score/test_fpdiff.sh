# fpdiff on hand-made runs: the figures worked out by hand (comments), the
# text report (golden file), JSON, exit codes against --tolerance and
# --prob-tol, embeddings (diff, cosine, probabilities through --classes),
# stats records side by side.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
G=$ROOT/tests/score/golden
SPEC="$PY $ROOT/tests/py/score_spec.py"
printf '%s\n' apple bear cat dog eel fox gnu hen > names8.txt

# Reference and candidate over 8 classes (class:probability; the classes not
# listed share the rest equally).
#   f0: 0 and 1 move by 0.001; f1 identical; f2: classes 2 and 3 swap places
#   (0.40/0.35 -> 0.37/0.38: a top-1 flip, diffs 0.03); f3: 5th class 4 -> 5
#   (class 4: 0.07 -> 0.05/3, |diff| 0.053333 = the max, first at class 4)
#   f4 failed in the reference only; f5 NaN in the reference, missing in the
#   candidate; f6 only in the candidate.
#   compared f0-f3: mean |diff| (0.002 + 0.06 + 0.106667) / 32 = 0.005271
#   top-1: 1 flip of 4; top-5 same set 3/4 (f3 differs), same order 2/4
#   (f2 swaps), overlap (5+5+5+4)/4 = 4.75
#   disagreement (1 flip + 1 one-run failure) / (4 + 1) = 0.4
cat > r.spec <<'EOF'
f0 0 0:0.6 1:0.2 2:0.1 3:0.05 4:0.03
f1 1 1:0.5 0:0.3 2:0.1 3:0.05 4:0.03
f2 2 2:0.4 3:0.35 0:0.1 1:0.05 4:0.03
f3 3 3 0 1 2 4
f4 4 ERROR rnencode boom
f5 5 NAN
EOF
cat > c.spec <<'EOF'
f0 0 0:0.601 1:0.199 2:0.1 3:0.05 4:0.03
f1 1 1:0.5 0:0.3 2:0.1 3:0.05 4:0.03
f2 2 3:0.38 2:0.37 0:0.1 1:0.05 4:0.03
f3 3 3 0 1 2 5
f4 4 4 0 1 2 3
f6 5 5 0 1 2 3
EOF
$SPEC --classes 8 --model clip-rn50 --precision fp32 --header rnencode precision=fp32,device=cpu \
	--stats rnencode seconds=10,images_per_s=100,peak_memory_bytes=1048576000,device=cpu < r.spec > r.mp || fail spec
$SPEC --classes 8 --model clip-rn50 --precision fp16 --header rnencode precision=fp16,device=cuda \
	--stats rnencode seconds=4,images_per_s=250,peak_memory_bytes=524288000,device=cuda,batch_mean_s=0.0015 \
	< c.spec > c.mp || fail spec

expect_exit 1 fpdiff --names names8.txt --top 5 r.mp c.mp
golden fpdiff-rc.txt out
expect_stderr "^fpdiff: r.mp vs c.mp: top-1 disagreement 0.400000 above tolerance 0$"
# Class names longer than the table's usual column are whole (they were cut
# at 19 characters), the columns widen to fit and stay aligned; and
# REFERENCE --compare CANDIDATE is REFERENCE CANDIDATE.
printf '%s\n' 'Granny Smith apple, the green one' bear cat dog eel fox gnu hen > long8.txt
expect_exit 1 fpdiff --names long8.txt -k 1 r.mp --compare c.mp
grep -q "^     1  0.600000    0 Granny Smith apple, the green one   0.601000    0 Granny Smith apple, the green one   +0.001000$" out ||
	fail "long names whole: $(cat out)"
# the candidate column starts where its heading does
h=$(grep '^  rank' out | awk '{print index($0, "candidate")}')
c=$(grep '^     2  0.200000' out | awk '{print index($0, "0.199000")}')
[ -n "$h" ] && [ "$h" = "$c" ] || fail "the heading follows the columns ($h, $c): $(grep -A2 rank out)"

expect_exit 1 fpdiff --json r.mp c.mp
$PY - <<'EOF' || fail "json figures"
import json
r = json.load(open("out"))
assert (r["common"], r["only_reference"], r["only_candidate"], r["compared"], r["failed_one_run"]) == (5, 1, 1, 4, 1)
assert r["reference"]["errors"] == 1 and r["reference"]["nonfinite_images"] == 1 and r["candidate"]["errors"] == 0
p = r["probabilities"]
assert abs(p["max_abs_diff"] - 0.0533333) < 1e-6 and p["max_at"] == "f3" and p["max_class"] == 4, p
assert abs(p["mean_abs_diff"] - 0.168667 / 32) < 1e-6, p
assert r["top1"] == {"images": 4, "flips": 1, "flipped": ["f2"]}
assert r["top5"] == {"images": 4, "same_set": 3, "same_order": 2, "mean_overlap": 4.75}
assert r["disagreement"] == 0.4 and r["pass"] is False and r["raw"] is None
assert r["candidate"]["provenance"]["stats"][0]["batch_mean_s"] == 0.0015
assert [t["id"] for t in r["table"]] == ["f0", "f1", "f2", "f3", "f4"][:5]
EOF

# a run of shards holds a stats record per shard: the side-by-side figures
# are the last one's, and the table says so rather than pass them off as the run's
$SPEC --classes 8 --stats rnencode seconds=3,images_per_s=90 --stats rnencode seconds=5,images_per_s=80 \
	< r.spec > r2.mp || fail spec
expect_exit 1 fpdiff r2.mp c.mp
grep -q "^  rnencode (the last of 2 and 1 stats records: one shard's figures, not the run's)$" out ||
	fail "shards' stats: $(grep -A2 '^Time and memory' out)"
expect_exit 1 fpdiff r.mp c.mp
grep -q "^  rnencode$" out || fail "one stats record each: $(grep -A2 '^Time and memory' out)"

# exit codes: the tolerance is a rate, "exceeds" means strictly above
expect_exit 0 fpdiff --tolerance 0.5 r.mp c.mp
expect_exit 0 fpdiff --tolerance 0.4 r.mp c.mp
expect_exit 1 fpdiff --tolerance 0.39 r.mp c.mp
expect_exit 0 fpdiff r.mp r.mp
grep -q "top-1: 0 flips of 4 images; top-5: same set 4/4, same order 4/4, mean overlap 5.0000/5" out || fail "self comparison"
grep -q "max |diff| 0 " out || fail "self comparison diff"
# --prob-tol: f0/f1 only (no flips), max |diff| 0.001
grep -E '^f[01] ' r.spec | $SPEC --classes 8 > r01.mp
grep -E '^f[01] ' c.spec | $SPEC --classes 8 > c01.mp
expect_exit 0 fpdiff --prob-tol 0.002 r01.mp c01.mp
expect_exit 1 fpdiff --prob-tol 0.0005 r01.mp c01.mp
expect_stderr "^fpdiff: r01.mp vs c01.mp: max probability \|diff\| 0.001 above --prob-tol 0.0005$"
grep -q "tolerance 0; prob-tol 0.0005: FAIL (max probability |diff| 0.001 above --prob-tol 0.0005)$" out ||
	fail "the verdict line does not name --prob-tol"
# nothing in common
echo "zz 0 0 1 2 3 4" | $SPEC --classes 8 > other.mp
expect_exit 1 fpdiff r.mp other.mp
expect_stderr "^fpdiff: r.mp vs other.mp: top-1 not compared: no image in common$"
# empty streams: nothing compared is not a pass
: > empty.mp
expect_exit 1 fpdiff empty.mp empty.mp
grep -q "images in both: 0" out || fail "empty streams"
grep -q "^top-1 disagreement: not measured (no image compared), tolerance 0: FAIL (top-1 not compared: no image in either run)$" out ||
	fail "empty streams: verdict"

# embeddings: e1 (1,0,0,0) vs (1,0.01,0,0): max |diff| 0.01, cosine 1/sqrt(1.0001) = 0.999950004;
# e2 identical (cosine 1). mean |diff| 0.01/8 = 0.00125. With --classes (rows e0..e3, scale 1)
# both get probabilities: e1 softmax(1,0,0,0) = (0.475367, 0.174878 x3), the candidate's
# cosines (0.99995, 0.0099995, 0, 0): same top-1.
$PY - <<'EOF' || fail "embedding streams"
import msgpack, numpy as np
from score_numpy import tensor
def emb(i, v):
    return msgpack.packb({"type": "embedding", "id": i, "label": 0, "model": "clip-rn50", "tensor": tensor(np.array(v, np.float32))})
open("er.mp", "wb").write(emb("e1", [1, 0, 0, 0]) + emb("e2", [0, 3, 4, 0]))
open("ec.mp", "wb").write(emb("e1", [1, 0.01, 0, 0]) + emb("e2", [0, 3, 4, 0]))
open("cls.mp", "wb").write(msgpack.packb({"type": "classes", "model": "m", "names": ["a", "b", "c", "d"], "logit_scale": 1.0,
                                          "tensor": tensor(np.eye(4, dtype=np.float32))}))
EOF
# Without --classes the embeddings are compared raw, but no top-1 check could run:
# that is no pass (exit 1), and the report says why instead of a 0.000000 disagreement.
expect_exit 1 fpdiff --json er.mp ec.mp
expect_stderr "^fpdiff: er.mp vs ec.mp: top-1 not compared: no class ranking \(embeddings need --classes\)$"
$PY - <<'EOF' || fail "embedding figures"
import json
r = json.load(open("out"))
w = r["raw"]
assert w["kind"] == "embedding" and w["images"] == 2
assert abs(w["max_abs_diff"] - 0.01) < 1e-7 and abs(w["mean_abs_diff"] - 0.00125) < 1e-8, w
assert abs(w["cosine_min"] - 0.999950004) < 1e-8 and w["cosine_min_at"] == "e1", w
assert abs(w["cosine_mean"] - (0.999950004 + 1) / 2) < 1e-8
assert r["probabilities"] is None and r["top1"]["images"] == 0 and r["pass"] is False
assert r["disagreement"] is None, r["disagreement"]
assert r["fail_causes"] == "top-1 not compared: no class ranking (embeddings need --classes)", r["fail_causes"]
EOF
for tol in "" "--tolerance 0.5"; do
	expect_exit 1 fpdiff $tol er.mp ec.mp
	grep -q "^top-1: not compared: no class ranking (embeddings need --classes)$" out || fail "no top-1 line ($tol)"
	grep -q "^top-1 disagreement: not measured (no image compared), tolerance [0-9.]*: FAIL (top-1 not compared: no class ranking (embeddings need --classes))$" out ||
		fail "verdict without top-1 ($tol)"
	grep -q "0.000000" out && fail "a 0.000000 disagreement reported with nothing compared ($tol)"
done
# --prob-tol with nothing to compare it on fails too (the top-1 check is also empty here)
expect_exit 1 fpdiff --prob-tol 0.1 er.mp ec.mp
expect_stderr "no probabilities compared for --prob-tol"
expect_exit 0 fpdiff --classes cls.mp -k 1 er.mp ec.mp
grep -q "probabilities (2 images)" out || fail "--classes gave no probabilities"
grep -q "1  0.475367    0 a" out || fail "probability of e1 class 0"
grep -q "top-1: 0 flips of 2 images" out || fail "flips with --classes"

# logits: compared raw, and as probabilities (softmax). l1 (0,1,2) vs (0,1,2.1):
# max |diff| 0.1, mean 0.1/3; softmax(0,1,2) = (0.090031, 0.244728, 0.665241),
# softmax(0,1,2.1) = (1, 2.718282, 8.166170)/11.884452 = (0.084144, 0.228726, 0.687131):
# max prob |diff| 0.687131 - 0.665241 = 0.021890 at class 2
$PY - <<'EOF2' || fail "logits streams"
import msgpack, numpy as np
from score_numpy import tensor
def lg(v):
    return msgpack.packb({"type": "logits", "id": "l1", "label": 2, "model": "resnet50", "tensor": tensor(np.array(v, np.float32))})
open("lr.mp", "wb").write(lg([0, 1, 2]))
open("lc.mp", "wb").write(lg([0, 1, 2.1]))
EOF2
expect_exit 0 fpdiff --json lr.mp lc.mp
$PY - <<'EOF2' || fail "logits figures"
import json
r = json.load(open("out"))
w, p = r["raw"], r["probabilities"]
assert w["kind"] == "logits" and abs(w["max_abs_diff"] - 0.1) < 1e-6 and abs(w["mean_abs_diff"] - 0.1 / 3) < 1e-6, w
assert abs(p["max_abs_diff"] - 0.021890) < 2e-6 and p["max_class"] == 2, p
assert r["top1"] == {"images": 1, "flips": 0, "flipped": []}
EOF2

expect_exit 2 fpdiff r.mp
expect_exit 2 fpdiff --tolerance 2 r.mp c.mp
expect_exit 2 fpdiff r.mp missing.mp
expect_exit 0 fpdiff --help
grep -q "Exit status" out || fail "--help lacks exit statuses"
exit 0
