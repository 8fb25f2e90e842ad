# fpdiff: both streams on stdin is a usage error; --names must fit the classes (exit 2
# before any report); a check that compared nothing is no pass; the verdict line names
# the real cause of a FAIL (unreadable records, not a 0.000000 disagreement); per-record
# lines name the stream, the record and the id.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
SPEC="$PY $ROOT/tests/py/score_spec.py"

printf 'a 0 0 1 2 3 4\nb 1 1 0 2 3 4\n' > r.spec
$SPEC --classes 8 < r.spec > r.mp || fail spec
$SPEC --classes 8 --type logits < r.spec > rl.mp || fail spec
$SPEC --classes 8 --type topk < r.spec > rt.mp || fail spec
printf 'a 0 ERROR rnencode boom\nb 1 ERROR rnencode boom\n' | $SPEC --classes 8 > err.mp || fail spec
$PY - <<'EOF' || fail "making the streams"
import msgpack, numpy as np
from score_numpy import tensor
def P(r): return msgpack.packb(r)
# an int32 tensor (unreadable as scores) and a record without "type"
open("bad.mp", "wb").write(P({"type": "scores", "id": "c", "label": 2, "tensor": tensor(np.arange(8, dtype=np.int32))})
                           + P({"id": "notype"}))
open("sub.mp", "wb").write(P({"type": "scores", "id": "a", "label": 0, "index": [6, 0],
                              "tensor": tensor(np.array([0.6, 0.4], np.float32))}))
open("cls5.mp", "wb").write(P({"type": "classes", "model": "m", "names": list("abcde"), "logit_scale": 1.0,
                               "tensor": tensor(np.eye(5, dtype=np.float32))}))
EOF
cat r.mp bad.mp > rbad.mp
printf 'x\ny\nz\n' > n3.txt
printf '%s\n' n0 n1 n2 n3 n4 n5 n6 n7 > n8.txt

# 1. both streams on stdin: a usage error, not "no image in common"
fpdiff - - <r.mp >out 2>err
[ $? = 2 ] || fail "fpdiff - -: not exit 2"
expect_empty_stdout
expect_stderr "^fpdiff: CANDIDATE -: stdin is already the first stream$"
fpdiff - r.mp <r.mp >out 2>err || fail "fpdiff - FILE: $(cat err)"
grep -q "^top-1: 0 flips of 2 images" out || fail "fpdiff - FILE"

# 2. --names must hold one name per class: exit 2 before any report
expect_exit 2 fpdiff -n n3.txt r.mp r.mp
expect_empty_stdout
expect_stderr "^fpdiff: --names n3.txt: 3 names, the scores have 8 classes \(r.mp: record 0 \(id 'a'\)\)$"
expect_exit 2 fpdiff --json -n n3.txt rl.mp rl.mp
expect_empty_stdout
expect_stderr "^fpdiff: --names n3.txt: 3 names, the logits have 8 classes \(rl.mp: record 0 \(id 'a'\)\)$"
expect_exit 2 fpdiff -n n3.txt rt.mp rt.mp
expect_empty_stdout
expect_stderr "^fpdiff: --names n3.txt: 3 names, the topk records index class 3 \(rt.mp: record 0 \(id 'a'\)\)$"
expect_exit 2 fpdiff -n n3.txt sub.mp sub.mp
expect_empty_stdout
expect_stderr "^fpdiff: --names n3.txt: 3 names, the scores index class 6 \(sub.mp: record 0 \(id 'a'\)\)$"
expect_exit 2 fpdiff -n n3.txt --classes cls5.mp r.mp r.mp
expect_empty_stdout
expect_stderr "^fpdiff: --names n3.txt: 3 names, --classes cls5.mp has 5 classes$"
# names that fit: the report names the classes
expect_exit 0 fpdiff -n n8.txt --show 1 r.mp r.mp
grep -q "1  0.500000    0 n0 " out || fail "names that fit: $(cat out)"

# 3. unreadable records: the verdict names them, not a 0.000000 disagreement
expect_exit 1 fpdiff r.mp rbad.mp
expect_stderr "^fpdiff: rbad.mp: record 2 \(id 'c'\): tensor is int32, need float32 or float16$"
expect_stderr "^fpdiff: rbad.mp: record 3 at byte [0-9]+: "
expect_stderr "^fpdiff: r.mp vs rbad.mp: 2 unreadable records$"
grep -q "^top-1 disagreement: 0.000000 (flips + one-run failures over 2 images), tolerance 0: FAIL (2 unreadable records)$" out ||
	fail "unreadable: verdict line: $(grep '^top-1 disagreement' out)"
expect_exit 1 fpdiff --json r.mp rbad.mp
$PY -c "
import json
r = json.load(open('out'))
assert r['pass'] is False and r['fail_causes'] == '2 unreadable records' and r['disagreement'] == 0, r
" || fail "unreadable: json"
# a flip and an unreadable record: both named
printf 'a 0 1 0 2 3 4\n' | $SPEC --classes 8 > flip.mp
cat flip.mp bad.mp > flipbad.mp
expect_exit 1 fpdiff r.mp flipbad.mp
grep -q ": FAIL (top-1 disagreement above tolerance; 2 unreadable records)$" out ||
	fail "flip + unreadable: $(grep '^top-1 disagreement' out)"
expect_stderr "^fpdiff: r.mp vs flipbad.mp: top-1 disagreement 1.000000 above tolerance 0; 2 unreadable records$"
# a plain pass says ok and gives no causes
expect_exit 0 fpdiff --json r.mp r.mp
$PY -c "
import json
r = json.load(open('out')); assert r['pass'] is True and r['fail_causes'] == '' and r['disagreement'] == 0, r
" || fail "pass: json"

# 4. nothing compared for top-1 is no pass, whatever --tolerance says
expect_exit 1 fpdiff --tolerance 1 err.mp err.mp
grep -q "^compared: 0; failed in one run only: 0; failed in both: 2$" out || fail "failed in both: counts"
grep -q "^top-1: not compared: no image usable in both runs$" out || fail "failed in both: top-1 line"
grep -q "^top-1 disagreement: not measured (no image compared), tolerance 1: FAIL (top-1 not compared: no image usable in both runs)$" out ||
	fail "failed in both: verdict: $(grep '^top-1 disagreement' out)"
expect_stderr "^fpdiff: err.mp vs err.mp: top-1 not compared: no image usable in both runs$"
# failures in one run only are measured: each is a disagreement
expect_exit 1 fpdiff r.mp err.mp
grep -q "^top-1 disagreement: 1.000000 (flips + one-run failures over 2 images), tolerance 0: FAIL$" out ||
	fail "one-run failures: $(grep '^top-1 disagreement' out)"
expect_exit 0 fpdiff --tolerance 1 r.mp err.mp

# 5. --label names each stream (a <(...) stream would be /dev/fd/N) in messages and
# report; given at most twice
expect_exit 1 fpdiff -L fp32 -L fp16 <(cat r.mp) <(cat flipbad.mp)
expect_stderr "^fpdiff: fp16: record 1 \(id 'c'\): tensor is int32, need float32 or float16$"
expect_stderr "^fpdiff: fp16: record 2 at byte [0-9]+: "
expect_stderr "^fpdiff: fp32 vs fp16: top-1 disagreement 1.000000 above tolerance 0; 2 unreadable records$"
grep -q "/dev/fd" err out && fail "--label: a /dev/fd path is still named"
grep -q "^reference fp32" out || fail "--label: report: $(head -3 out)"
expect_exit 1 fpdiff -L fp32 r.mp flipbad.mp
expect_stderr "^fpdiff: fp32 vs flipbad.mp: "
expect_exit 2 fpdiff -L a -L b -L c r.mp r.mp
expect_empty_stdout
expect_stderr "^fpdiff: --label: given more than twice"
# two models: compared, with a note that errstats --compare is the tool for that
$SPEC --classes 8 --model resnet50 < r.spec > m1.mp || fail spec
$SPEC --classes 8 --model clip-rn50 < r.spec > m2.mp || fail spec
expect_exit 0 fpdiff m1.mp m2.mp
expect_stderr "^fpdiff: m1.mp vs m2.mp: two models \(resnet50, clip-rn50\) compared; errstats --compare"
expect_exit 0 fpdiff m1.mp m1.mp
[ -s err ] && fail "one model: stderr not empty: $(cat err)"

# 6. --help says so
expect_exit 0 fpdiff --help
grep -q "A check that compares nothing fails" out || fail "--help: nothing compared"
grep -q "both streams on stdin" out || fail "--help: stdin twice"
exit 0
