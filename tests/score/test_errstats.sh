# errstats on hand-made runs whose figures were worked out by hand (see the
# comments), the report formats (golden files), --compare, the near-chance
# warning, topk input, --grid, and numpy on random data.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
G=$ROOT/tests/score/golden
SPEC="$PY $ROOT/tests/py/score_spec.py"
printf '%s\n' apple bear cat dog eel fox gnu hen > names8.txt

# One run, 8 classes: id label ranked-classes (best first).
# Per class (images, top-1 right): 0 (4,1) 1 (2,1) 2 (2,1) 3 (1,0) 4 (4,2) 5 (2,0)
# 6 (3,3: all right) 7 (3,2); class 3 and 5 all wrong.
#   top-1 10/21 = 0.4762; top-5 17/21 = 0.8095 (i01 i02 i05 i08 i11 i13 i20 have
#   the label in 2nd/3rd place); mean per-class recall (1/4+1/2+1/2+0+2/4+0+1+2/3)/8 = 0.4271
#   misclassified, rate desc, count desc, index asc:
#   5 2/2 (1.00), 3 1/1 (1.00), 0 3/4 (0.75), 4 2/4 (0.50), 1 1/2, 2 1/2 (0.50), 7 1/3 (0.33)
#   confusions: 0->1 x2, 5->4 x2, then singles 0->2 1->0 2->3 3->5 4->0 4->5 7->1
#   precision (predicted labelled images): 0 1/3, 1 1/4, 2 1/2, 3 0/1, 4 2/4, 5 0/2, 6 3/3, 7 2/2
#   F1 = 2TP/(support+predicted): 0 2/7, 1 2/6, 2 2/4, 3 0, 4 4/8, 5 0, 6 1, 7 4/5
cat > mis.spec <<'EOF'
i00 0 0 1 2 3 4
i01 0 1 0 2 3 4
i02 0 1 2 0 3 4
i03 0 2 3 4 5 6
i04 1 1 0 2 3 4
i05 1 0 1 2 3 4
i06 2 2 0 1 3 4
i07 2 3 4 5 6 7
i08 3 5 3 0 1 2
i09 4 4 0 1 2 3
i10 4 4 0 1 2 3
i11 4 5 4 0 1 2
i12 4 0 1 2 3 5
i13 5 4 5 0 1 2
i14 5 4 0 1 2 3
i15 6 6 0 1 2 3
i16 6 6 0 1 2 3
i17 6 6 0 1 2 3
i18 7 7 0 1 2 3
i19 7 7 0 1 2 3
i20 7 1 7 0 2 3
i21 -1 3 0 1 2 4
i22 2 ERROR imgdecode not a JPEG file
EOF
$SPEC --classes 8 --model toy --precision fp32 --header rnencode model=toy,precision=fp32,device=cpu,batch=8 \
	--stats rnencode seconds=2.5,images_per_s=8.8 < mis.spec > mis.mp || fail "spec"

expect_exit 0 errstats --names names8.txt mis.mp
golden errstats-mis.txt out
expect_exit 0 errstats --names names8.txt --csv mis.mp
golden errstats-mis.csv out
# One image per class, all wrong: every class is 1/1, so the rate and count
# tie; the confidence of the mistake ranks them (0.9, 0.6, 0.4), and the
# report says that everything tied.
cat > ties.spec <<'EOF'
t0 0 1:0.6 0:0.3
t1 1 2:0.9 1:0.05
t2 2 0:0.4 2:0.3
EOF
$SPEC --classes 8 < ties.spec > ties.mp || fail "spec ties"
expect_exit 0 errstats --names names8.txt ties.mp
sed -n '/^Most misclassified/,/^$/p' out > mis-ties.txt
cat > want <<'EOF'
Most misclassified classes (3 of 3 classes with errors; by rate, count, confidence):
  (all 3 tie at 1/1 misclassified: ranked by the mean probability of the wrong predictions)
  Class 1 (bear): 1/1 misclassified (1.00)
  Class 0 (apple): 1/1 misclassified (1.00)
  Class 2 (cat): 1/1 misclassified (1.00)

EOF
cmp -s want mis-ties.txt || fail "ties ranked by confidence: $(diff want mis-ties.txt)"

expect_exit 0 errstats --names names8.txt --top 3 --json mis.mp
$PY - <<'EOF' || fail "json figures"
import json
r = json.load(open("out"))
a = r["runs"][0]
assert r["compare"] is None
assert (a["scored"], a["failed"], a["labelled"], a["unlabelled"], a["classes"]) == (22, 1, 21, 1, 8)
assert a["top1"] == {"correct": 10, "total": 21, "accuracy": 10 / 21} or abs(a["top1"]["accuracy"] - 10 / 21) < 1e-9
assert (a["top5"]["correct"], a["top5"]["total"]) == (17, 21)
assert abs(a["mean_per_class_recall"] - 0.4270833333) < 1e-9
assert [m["class"] for m in a["most_misclassified"]] == [5, 3, 0]
assert a["most_misclassified"][0] == {"class": 5, "name": "fox", "misclassified": 2, "support": 2, "rate": 1,
                                     "confidence": 0.5}
pc = {row["class"]: row for row in a["per_class"]}
prec = {0: 1/3, 1: 1/4, 2: 1/2, 3: 0, 4: 2/4, 5: 0, 6: 1, 7: 1}
f1 = {0: 2/7, 1: 2/6, 2: 2/4, 3: 0, 4: 4/8, 5: 0, 6: 1, 7: 4/5}
for c in range(8):
    assert abs(pc[c]["precision"] - prec[c]) < 1e-9 and abs(pc[c]["f1"] - f1[c]) < 1e-9, (c, pc[c])
conf = [(c["true"], c["pred"], c["count"]) for c in a["confusions"]]
assert conf == [(0, 1, 2), (5, 4, 2), (0, 2, 1), (1, 0, 1), (2, 3, 1), (3, 5, 1), (4, 0, 1), (4, 5, 1), (7, 1, 1)], conf
assert a["failures"] == [{"id": "i22", "error": "imgdecode: not a JPEG file"}]
h = a["provenance"]["headers"][0]
assert h["producer"] == "rnencode" and h["device"] == "cpu" and h["batch"] == 8
assert a["provenance"]["stats"][0]["images_per_s"] == 8.8
EOF
expect_exit 0 errstats --jsonl mis.mp
$PY - <<'EOF' || fail "jsonl"
import json
lines = [json.loads(l) for l in open("out")]
assert lines[0]["type"] == "provenance" and lines[0]["run"] == "A"
img = {l["id"]: l for l in lines[1:]}
assert len(img) == 23
assert img["i01"]["a"]["top1"] is False and img["i01"]["a"]["top5"] is True and img["i01"]["a"]["index"] == [1, 0, 2, 3, 4]
assert img["i21"]["a"]["top1"] is None and img["i22"]["a"] == {"error": "imgdecode: not a JPEG file"}
EOF

# Two runs of the same images (A = a.mp, B = b.mp), matched by id.
# c7 failed in A (not compared), c8 only in A, c9 only in B: 7 images compared.
#   A right: c0 c1 c2 c5 c6 = 5/7; B right: c1 c2 c3 c4 c5 = 5/7; top-5 7/7 each
#   per class on those images: 0 A 2/2 B 1/2, 1 A 1/2 B 2/2, 2 A 1/2 B 2/2, 3 A 1/1 B 0/1
#   -> A better in 3 (+1.00), 0 (+0.50); B better in 1, 2 (-0.50, tie: index order)
#   mean per-class recall A (1+.5+.5+1)/4 = 0.75, B (.5+1+1+0)/4 = 0.625
#   only A right: c0 c6; only B right: c3 c4
#   whole runs: A 6/8 top-1, B 7/9
IMG=$TESTDATA/images
cat > a.spec <<EOF
c0 0 0 1 2 3 4 path=$IMG/n01440764_tench.JPEG
c1 0 0 1 2 3 4
c2 1 1 0 2 3 4
c3 1 0 1 2 3 4 path=$IMG/n01496331_electric_ray.JPEG
c4 2 3 2 0 1 4 path=$T/missing.JPEG
c5 2 2 0 1 3 4
c6 3 3 0 1 2 4
c7 4 ERROR imgdecode truncated
c8 5 5 0 1 2 3
EOF
cat > b.spec <<EOF
c0 0 1 0 2 3 4 path=$IMG/n01440764_tench.JPEG
c1 0 0 1 2 3 4
c2 1 1 0 2 3 4
c3 1 1 0 2 3 4 path=$IMG/n01496331_electric_ray.JPEG
c4 2 2 3 0 1 4 path=$T/missing.JPEG
c5 2 2 0 1 3 4
c6 3 4 3 0 1 2
c7 4 4 0 1 2 3
c9 5 5 0 1 2 3
EOF
$SPEC --classes 8 --model clip-rn50 --precision fp32 --header zscore classes=c.mp < a.spec > a.mp || fail "spec a"
$SPEC --classes 8 --model clip-rn50 --precision fp16 --header zscore classes=c.mp < b.spec > b.mp || fail "spec b"
expect_exit 0 errstats --names names8.txt --compare b.mp a.mp --grid grid.jpg
# the golden report names the image paths of this temporary directory: strip it
sed "s|$T|TMP|g; s|$TESTDATA|TESTDATA|g" out > report.txt
golden errstats-compare.txt report.txt
expect_stderr "grid: 2 images could not be drawn \(first: c6: the record has no path\)"
expect_exit 0 errstats --names names8.txt --compare b.mp --json a.mp
$PY - <<'EOF' || fail "compare json"
import json
c = json.load(open("out"))["compare"]
assert (c["matched"], c["only_a"], c["only_b"]) == (7, 1, 1)
assert c["a"]["top1"]["correct"] == 5 and c["b"]["top1"]["correct"] == 5
assert c["a"]["mean_per_class_recall"] == 0.75 and c["b"]["mean_per_class_recall"] == 0.625
assert [x["class"] for x in c["a_better"]] == [3, 0] and [x["class"] for x in c["b_better"]] == [1, 2]
assert [x["id"] for x in c["only_a_right"]] == ["c0", "c6"] and [x["id"] for x in c["only_b_right"]] == ["c3", "c4"]
EOF
# the grid: a JPEG whose size follows from 2 images per section at the default
# 128-pixel thumbnails (cell 136 x 179, title 40, padding 8), thumbnails drawn
$PY - <<'EOF' || fail "grid image"
from PIL import Image
im = Image.open("grid.jpg")
assert im.format == "JPEG" and im.size == (376, 8 + 2 * (40 + 179 + 8)), im.size
px = im.convert("RGB").load()
# the tench thumbnail (first cell of section A) is not the light-gray frame
cell = [px[8 + x, 8 + 40 + y] for x in range(20, 100, 10) for y in range(40, 90, 10)]
assert sum(1 for p in cell if max(abs(p[0] - 225), abs(p[1] - 225), abs(p[2] - 225)) > 40) > 10, cell
EOF
expect_exit 2 errstats --grid g.jpg a.mp
expect_stderr "needs --compare"

# Near chance: 20 labelled images over 1000 classes, none right -> the
# label-mapping warning (on stderr and in the report)
for i in $(seq 0 19); do echo "n$i $((i * 7)) $((i * 7 + 1))"; done > chance.spec
$SPEC --classes 1000 < chance.spec > chance.mp || fail "spec chance"
expect_exit 0 errstats chance.mp
expect_stderr "near chance \(0.0010 for 1000 classes\): the label mapping is likely wrong"
grep -q "WARNING: top-1 accuracy 0.0000 (0/20) is near chance" out || fail "no warning in the report"
# ... and none for the hand-made run (10/21 over 8 classes is far above 1/8)
expect_exit 0 errstats mis.mp
grep -q WARNING out && fail "warning on a good run"

# topk records: only their k classes are known; k=1 gives no top-5 accuracy
topk -k 1 mis.mp > top1.mp || fail "topk"
expect_exit 0 errstats top1.mp
grep -q "top-1 accuracy: 0.4762 (10/21)" out || fail "top-1 from topk records"
grep -q "top-5 accuracy: n/a (the records hold fewer than 5 classes per image)" out || fail "top-5 from k=1"
topk -k 5 mis.mp | errstats > out5 || fail "topk -k 5 | errstats"
grep -q "top-5 accuracy: 0.8095 (17/21)" out5 || fail "top-5 from topk records"

# empty stream and an embedding stream
: > empty.mp
expect_exit 0 errstats empty.mp
grep -q "top-1 accuracy: n/a (no labelled images)" out || fail "empty stream"
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
sys.stdout.buffer.write(msgpack.packb({'type': 'embedding', 'id': 'e', 'label': 0, 'tensor': tensor(np.ones(4, np.float32))}))
" > emb.mp
expect_exit 2 errstats emb.mp
expect_stderr "put zscore before errstats"
expect_exit 2 errstats --json --csv mis.mp
expect_exit 0 errstats --help
grep -q "Exit status" out || fail "--help lacks exit statuses"

# numpy on random data: 300 images x 40 classes, one error record, B shuffled
$PY "$ROOT/tests/py/score_numpy.py" errstats-make . || fail "errstats-make"
expect_exit 0 errstats --json --compare other.mp scores.mp
$PY "$ROOT/tests/py/score_numpy.py" errstats-check . out || fail "numpy check"
exit 0
