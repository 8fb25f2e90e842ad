# topk on the wrong input: an image stream (no encoder ran) and --names that do not
# fit the scores are usage mistakes (exit 2, one stderr line, no misnamed rows on
# stdout); per-record lines name the stream, the record and the id.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py

$PY - <<'EOF' || fail "making the streams"
import msgpack, numpy as np
from score_numpy import tensor
def P(r): return msgpack.packb(r)
head = P({"type": "header", "producer": "imgdecode", "version": "x", "argv": []})
img = P({"type": "image", "id": "n01_tench.JPEG", "path": "/i/n01_tench.JPEG", "label": 0, "preset": "clip",
         "tensor": tensor(np.zeros((4, 4, 3), np.uint8))})
open("img.mp", "wb").write(head + img)
p = np.full(1000, 0.5 / 999, np.float32); p[7] = 0.5
sc = lambda i, v, **kw: P(dict({"type": "scores", "id": i, "label": 7, "tensor": tensor(np.asarray(v, np.float32))}, **kw))
open("s1000.mp", "wb").write(P({"type": "header", "producer": "zscore", "version": "x", "argv": []}) + sc("big", p))
open("l1000.mp", "wb").write(P({"type": "logits", "id": "lg", "label": 7, "tensor": tensor(np.zeros(1000, np.float32))}))
# a --subset record naming class 4 of 5: 3 names are too few for it
open("sub.mp", "wb").write(sc("sub", [0.7, 0.3], index=[4, 1]))
# three good records, then one of 1000 classes: the first rows are right, then exit 2
open("late.mp", "wb").write(sc("a", [0.2, 0.5, 0.3]) + sc("b", [0.6, 0.3, 0.1]) + sc("big", p))
# scores, then an image record: the scores already written stay whole
open("scores-then-image.mp", "wb").write(sc("a", [0.2, 0.5, 0.3]) + img)
EOF
printf 'tabby cat\nbeagle\ntench\n' > pets.txt
$PY - <<'EOF' || fail "making the streams (2)"
import msgpack, numpy as np
from score_numpy import tensor
def P(r): return msgpack.packb(r)
sc = lambda i, v: P({"type": "scores", "id": i, "label": 1, "tensor": tensor(np.asarray(v, np.float32))})
# an unreadable record (shape [2], 4 bytes of data) between a good one and a NaN one
short = P({"type": "scores", "id": "short", "label": 1, "tensor": {"dtype": "float32", "shape": [2], "data": b"1234"}})
open("unreadable.mp", "wb").write(sc("good", [0.4, 0.6]) + short + sc("nan", [float("nan"), 1]))
# a failing record whose id holds a tab and a newline
open("tabid.mp", "wb").write(sc("x\ty\nz", [float("nan"), 1]))
# logits 103 and more below the best underflow to probability 0 in float32: ranked as logits
open("far.mp", "wb").write(P({"type": "logits", "id": "far", "label": 1,
                              "tensor": tensor(np.array([-201, -150, 0, -120, -110, -105, -104], np.float32))}))
EOF

# 1. an image record: exit 2 in every format, nothing on stdout, one line saying what to run
for fmt in msgpack text tsv json; do
	expect_exit 2 topk --format $fmt img.mp
	expect_empty_stdout
	expect_stderr "^topk: img.mp: record 1 \(id 'n01_tench.JPEG'\): an image record \(imgdecode output, not encoded\): topk reads scores or logits; put rnencode \(and zscore for CLIP\) before topk$"
	[ "$(wc -l <err)" = 1 ] || fail "more than one stderr line: $(cat err)"
done
topk <img.mp >out 2>err
[ $? = 2 ] || fail "image stream on stdin: not exit 2"
expect_empty_stdout
expect_stderr "^topk: stdin: record 1 \(id 'n01_tench.JPEG'\): an image record"
# after a ranked image the records written so far go out whole, then exit 2
expect_exit 2 topk scores-then-image.mp
expect_stderr "record 1 \(id 'n01_tench.JPEG'\): an image record"
$PY -c "
from score_numpy import records
r = records('out'); assert [x['type'] for x in r] == ['header', 'topk'] and r[1]['index'][0] == 1, r
" || fail "records before the image record"

# 2. --names with 3 names against 1000-class scores: exit 2 at the first scores record,
# stdout empty (no row named 'tabby cat' and the rest blank)
for fmt in msgpack text tsv json; do
	expect_exit 2 topk -n pets.txt -k 2 --format $fmt s1000.mp
	expect_empty_stdout
	expect_stderr "^topk: --names pets.txt: 3 names, the scores have 1000 classes \(s1000.mp: record 1 \(id 'big'\)\)$"
done
expect_exit 2 topk -n pets.txt --format tsv l1000.mp
expect_stderr "^topk: --names pets.txt: 3 names, the logits have 1000 classes \(l1000.mp: record 0 \(id 'lg'\)\)$"
expect_empty_stdout
# a --subset record: its index list names class 4, beyond the 3 names
expect_exit 2 topk -n pets.txt --format tsv sub.mp
expect_stderr "^topk: --names pets.txt: 3 names, the scores index class 4 \(sub.mp: record 0 \(id 'sub'\)\)$"
expect_empty_stdout
# a mismatch met later: the rows before it are whole and rightly named
expect_exit 2 topk -n pets.txt -k 1 --format tsv late.mp
expect_stderr "3 names, the scores have 1000 classes \(late.mp: record 2 \(id 'big'\)\)"
printf 'id\tlabel\trank\tclass\tprob\tname\na\t7\t1\t1\t0.5\tbeagle\nb\t7\t1\t0\t0.6\ttabby cat\n' > want
diff -u want out || fail "rows before the late mismatch"
expect_exit 2 topk -n pets.txt -k 1 late.mp
$PY -c "
from score_numpy import records
r = records('out'); assert [x['type'] for x in r] == ['header', 'topk', 'topk'], r
assert r[1]['name'] == ['beagle'] and r[2]['name'] == ['tabby cat'], r
" || fail "records before the late mismatch"
# names that cover every class the record names: fine
printf 'a\nb\nc\nd\ne\n' > five.txt
expect_exit 0 topk -n five.txt -k 1 --format tsv sub.mp
grep -q "^sub	7	1	4	0.7	e$" out || fail "subset record with enough names: $(cat out)"

# a names file of empty lines is no list of names (not "no --names")
printf '\n\n' >blank.txt
expect_exit 2 topk --names blank.txt -f text </dev/null
expect_stderr "^topk: --names: blank.txt: only empty lines$"

# 3. --help says so
expect_exit 0 topk --help
grep -q "image record (run rnencode and zscore first)" out || fail "--help: image record"
grep -q -- "--names not one name per class" out || fail "--help: --names count"
# 4. an unreadable record is a row in the text formats too, as a failed one is (exit 1)
expect_exit 1 topk --format tsv unreadable.mp
expect_stderr "^topk: unreadable.mp: record 1 at byte [0-9]+: tensor \"tensor\": shape \[2\] of float32 needs 8 bytes, data has 4$"
[ "$(cut -f1,3 out | tr '\t' ' ' | tr '\n' ';')" = "id rank;good 1;good 2;short error;nan error;" ] ||
	fail "tsv rows: $(cat out)"
expect_exit 1 topk --format text unreadable.mp
grep -q "^short  ERROR topk: unreadable.mp: record 1 at byte" out || fail "text: no row for the unreadable record: $(cat out)"
expect_exit 1 topk --format json unreadable.mp
$PY -c "
import json
rows = [json.loads(l) for l in open('out')]
assert [r['id'] for r in rows] == ['good', 'short', 'nan'] and 'error' in rows[1], rows
" || fail "json: no row for the unreadable record"
# ... and its id is a tsv field like any other: a tab becomes a space, a
# newline is escaped (\n) as control characters are in every text output
expect_exit 1 topk --format tsv tabid.mp
[ "$(wc -l <out)" = 2 ] && [ "$(awk -F'\t' 'NR == 2 { print NF, $1 }' out)" = '6 x y\nz' ] ||
	fail "tsv error row with a tab in its id: $(cat -A out)"

# 5. logits rank as logits: classes that underflow to probability 0 keep their order
expect_exit 0 topk -k 7 --format tsv far.mp
[ "$(awk -F'\t' 'NR > 1 { printf "%s ", $4 }' out)" = "2 6 5 4 3 1 0 " ] || fail "logits ranking: $(cat out)"
expect_exit 0 errstats far.mp
grep -q "top-5 accuracy: 0.0000 (0/1)" out || fail "errstats: label 1 is 6th of 7: $(grep top-5 out)"
expect_exit 0 fpdiff --json --show 1 far.mp far.mp
$PY -c "
import json
r = json.load(open('out'))
s = json.dumps(r)
assert '[2, 6, 5, 4, 3]' in s, s[:2000]
" || fail "fpdiff: logits ranking"
exit 0
