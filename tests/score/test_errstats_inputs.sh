# errstats on the wrong stream and on bad records: an image or embedding
# stream is refused (exit 2, nothing on stdout, one line with what to run);
# the class count is the scores' width, not the largest label; a label or
# class outside it leaves that record out (named on stderr, exit 1) and the
# report goes on; repeated ids count once; --compare with no id in common is
# exit 1, matched ids with different labels are counted; --compare - - and
# an unwritable --grid are usage/fatal errors before any output.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
SPEC="$PY $ROOT/tests/py/score_spec.py"
printf 'ok 0 0 1 2 3 4\n' | $SPEC --classes 8 > ok.mp || fail "spec ok"

# ---- 1. the wrong kind of stream ----
# imgdecode's output (a header, then image records): no encoder ran yet
$PY - <<'EOF' > img.mp || fail "image stream"
import msgpack, sys
import numpy as np
from score_numpy import tensor
o = sys.stdout.buffer
o.write(msgpack.packb({"type": "header", "producer": "imgdecode", "version": "test", "argv": ["imgdecode"]}))
o.write(msgpack.packb({"type": "image", "id": "a.JPEG", "path": "/x/a.JPEG", "label": 3, "preset": "clip",
                       "tensor": tensor(np.zeros((4, 4, 3), np.uint8))}))
EOF
expect_exit 2 errstats img.mp
expect_empty_stdout
expect_stderr "^errstats: img.mp: record 1 \(id 'a.JPEG'\): an image record \(imgdecode output, not encoded\): errstats reads scores or logits; put rnencode \(and zscore for CLIP\) before errstats$"
expect_exit 2 errstats < img.mp
expect_empty_stdout
expect_stderr "^errstats: stdin: record 1 \(id 'a.JPEG'\): an image record"
# ... also as the second run, and before anything is written
expect_exit 2 errstats --compare img.mp ok.mp
expect_empty_stdout
expect_stderr "^errstats: img.mp: record 1 \(id 'a.JPEG'\): an image record"
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
sys.stdout.buffer.write(msgpack.packb({'type': 'embedding', 'id': 'e', 'label': 0, 'tensor': tensor(np.ones(4, np.float32))}))
" > emb.mp || fail "embedding stream"
expect_exit 2 errstats emb.mp
expect_empty_stdout
expect_stderr "^errstats: emb.mp: record 0 \(id 'e'\): an embedding record \(encoded, not scored\): errstats reads scores or logits; put zscore before errstats$"

# ---- 2. labels and the class count ----
# 1000-class scores: l1 l2 l5 have labels outside 0..999 (and not -1): left
# out; the rest: l0 l4 right (2/2), l3 unlabelled. The highest good label is
# 960, the class count still 1000 (the scores' width).
cat > lab.spec <<'EOF'
l0 0 0 1 2 3 4
l1 5000 1 2 3 4 5
l2 -5 1 2 3 4 5
l3 -1 1 2 3 4 5
l4 960 960 1 2 3 4
l5 16777216 1 2 3 4 5
EOF
$SPEC --classes 1000 < lab.spec > lab.mp || fail "spec lab"
expect_exit 1 errstats lab.mp
expect_stderr "^errstats: lab.mp: record 1 \(id 'l1'\): label 5000 is out of range: 1000 classes \(the scores' width\), so 0..999, or -1 for unknown$"
expect_stderr "^errstats: lab.mp: record 2 \(id 'l2'\): label -5 is out of range: 1000 classes"
expect_stderr "^errstats: lab.mp: record 5 \(id 'l5'\): label 16777216 is out of range: 1000 classes"
[ "$(wc -l < err)" = 3 ] || fail "one stderr line per bad record: $(cat err)"
grep -q "images: 3 scored, 0 failed; 2 labelled, 1 unlabelled; 1000 classes$" out || fail "counts: $(head -3 out)"
grep -q "top-1 accuracy: 1.0000 (2/2)" out || fail "top-1 without the bad records"
grep -q "note: 3 records left out: label or class out of range (see stderr)" out || fail "no note of the bad records"
grep -q "Class 5000" out && fail "a row for the bad label"
expect_exit 1 errstats --json lab.mp
$PY - <<'EOF' || fail "json counts"
import json
a = json.load(open("out"))["runs"][0]
assert (a["classes"], a["classes_known"], a["scored"], a["labelled"], a["unlabelled"], a["out_of_range"]) == \
    (1000, True, 3, 2, 1, 3), a
assert all(r["class"] < 1000 for r in a["per_class"]), a["per_class"]
EOF
# topk records carry no width: the class names give K (8 here)
printf 't0 3 3 2\nt1 9 1 2\nt2 7 7 0\n' | $SPEC --classes 8 --type topk > tk.mp || fail "spec tk"
printf '%s\n' apple bear cat dog eel fox gnu hen > names8.txt
expect_exit 1 errstats --names names8.txt tk.mp
expect_stderr "^errstats: tk.mp: record 1 \(id 't1'\): label 9 is out of range: 8 classes \(the number of class names\), so 0..7, or -1 for unknown$"
grep -q "2 labelled, 0 unlabelled; 8 classes$" out || fail "topk with names: $(head -3 out)"
# ... without names K is unknown: the report says so, in-range labels are fine
expect_exit 0 errstats tk.mp
grep -q "at least 10 classes (the records do not carry the class count; --names FILE gives it)" out || fail "unknown K: $(head -3 out)"
# a label that is not an integer is not "unlabelled"
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
sys.stdout.buffer.write(msgpack.packb({'type': 'scores', 'id': 's', 'label': 'dog', 'tensor': tensor(np.full(8, 0.125, np.float32))}))
" > strlabel.mp || fail "string label"
cat ok.mp strlabel.mp > mixed.mp
expect_exit 1 errstats mixed.mp
expect_stderr "^errstats: mixed.mp: record 1 \(id 's'\): label is not an integer \(a class index, or -1 for unknown\)$"
grep -q "images: 1 scored" out || fail "string label counted"
# ... nor is one beyond int64
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
sys.stdout.buffer.write(msgpack.packb({'type': 'scores', 'id': 'h', 'label': 2**63, 'tensor': tensor(np.full(8, 0.125, np.float32))}))
" > hugelabel.mp || fail "huge label"
cat ok.mp hugelabel.mp > mixed2.mp
expect_exit 1 errstats mixed2.mp
expect_stderr "^errstats: mixed2.mp: record 1 \(id 'h'\): label 9223372036854775808 is out of range: a class index, or -1 for unknown$"
grep -q "images: 1 scored" out || fail "huge label counted"
# --names must name every class of the scores (as in topk and fpdiff): exit 2, nothing on stdout
printf 'x\n' > n1.txt
expect_exit 2 errstats --names n1.txt ok.mp
expect_empty_stdout
expect_stderr "^errstats: --names n1.txt: 1 names, the scores have 8 classes$"
# a header value with a newline stays on its comment line in --csv
$PY -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'type': 'header', 'producer': 'imgdecode', 'version': 'x', 'note': 'two\nlines',
                                       'argv': ['imgdecode', 'a\nb,c', \"it's\", 'c\rr']}))
" > nlhead.mp || fail "newline header"
cat nlhead.mp ok.mp > nl.mp
expect_exit 0 errstats --csv nl.mp
awk '/^run,/ { exit } !/^#/ { bad = 1 } END { exit bad }' out || fail "--csv: a provenance line without '#': $(head -5 out)"
grep -qF "note=two\nlines | imgdecode \$'a\nb,c' 'it'\\''s' \$'c\rr'" out || fail "--csv: provenance line: $(grep imgdecode out)"

# topk records carry no class count: --csv lists the classes labelled or predicted
# first (as --json's per_class does), not every class up to the largest label
# (2^24 rows, 391 MB, for one label 16777215)
$PY -c "
import msgpack, sys
for i, l in (('a', 16777215), ('b', 0)):
    sys.stdout.buffer.write(msgpack.packb({'type': 'topk', 'id': i, 'path': i, 'label': l, 'index': [l, 3], 'prob': [0.5, 0.4]}))
" > bigl.mp || fail "big label stream"
expect_exit 0 errstats --csv bigl.mp
[ "$(grep -c '^A,' out)" = 2 ] || fail "--csv, a label 16777215: $(grep -c '^A,' out) rows, not the 2 classes labelled or predicted"
grep -q '^A,16777215,,1,1,' out || fail "--csv: the class 16777215 row: $(grep '^A,1677' out)"

# a header nested as deep as a record may be (32 containers, its own map
# one): its JSON sits a few levels down in the report, 37 deep
$PY - <<'EOF' > deephead.mp || fail "deep header"
import msgpack, sys
d = [1]
for _ in range(30):
    d = [d]
sys.stdout.buffer.write(msgpack.packb({"type": "header", "producer": "deep", "v": d}))
EOF
cat deephead.mp ok.mp > deep.mp
expect_exit 0 errstats --json --compare deep.mp deep.mp
$PY -c "
import json
v = json.load(open('out'))['runs'][0]['provenance']['headers'][0]['v']
for _ in range(31):
    v = v[0]
assert v == 1, v" || fail "--json: the deep header: $(head -c 300 out)"

# ---- 3. pairing ----
# a repeated id counts once, and says so (not a failure: as errtree, fpdiff)
cat ok.mp ok.mp > twice.mp
expect_exit 0 errstats twice.mp
expect_stderr "^errstats: twice.mp: 1 record repeats an earlier id \(first: record 1, id 'ok'\): only the first record of each id counts$"
grep -q "images: 1 scored" out || fail "repeat counted twice: $(head -3 out)"
grep -q "note: 1 records repeat an earlier id: left out" out || fail "no note of the repeat"
expect_exit 0 errstats --json twice.mp
$PY -c "import json; a = json.load(open('out'))['runs'][0]; assert (a['scored'], a['duplicate_ids']) == (1, 1), a" ||
	fail "json repeat"
expect_exit 0 errstats --jsonl twice.mp
[ "$(grep -c '"type":"image"' out)" = 1 ] || fail "jsonl: one line per image"
# no id in common: the report, then exit 1 with the hint
printf '/data/val/ok 0 0 1 2 3 4\n' | $SPEC --classes 8 > full.mp || fail "spec full"
expect_exit 1 errstats --compare full.mp ok.mp
expect_stderr "^errstats: ok.mp vs full.mp: no image id in common \(A's first is 'ok', B's '/data/val/ok'\): the ids differ, e.g. relative against full paths: .imgdecode DIR. gives ids relative to DIR, .find DIR \| imgdecode. full paths$"
grep -q "images both runs scored: 0; only in A: 1; only in B: 1" out || fail "no-common report"
: > empty.mp
expect_exit 1 errstats --compare empty.mp ok.mp
expect_stderr "^errstats: ok.mp vs empty.mp: no image id in common: empty.mp has no images$"
expect_exit 0 errstats --compare empty.mp empty.mp
# the same id under different labels: counted, left out of the comparison
printf 'ok 1 0 1 2 3 4\nz 2 2 0 1 3 4\n' | $SPEC --classes 8 > relab.mp || fail "spec relab"
printf 'z 2 2 0 1 3 4\n' | $SPEC --classes 8 >> ok.mp || fail "spec ok+z"
expect_exit 0 errstats --compare relab.mp ok.mp
expect_stderr "^errstats: ok.mp vs relab.mp: 1 image with different labels in the two runs \(first: id 'ok', label 0 in A, 1 in B\): left out of the comparison$"
grep -q "images both runs scored: 1; only in A: 0; only in B: 0; with different labels (left out): 1" out ||
	fail "label differences not reported: $(grep 'both runs' out)"
expect_exit 0 errstats --json --compare relab.mp ok.mp
$PY -c "import json; c = json.load(open('out'))['compare']; assert (c['matched'], c['common_ids'], c['label_differs']) == (1, 2, 1), c" ||
	fail "json label_differs"

# ---- 4. stdin twice ----
expect_exit 2 errstats --compare - - < ok.mp
expect_empty_stdout
expect_stderr "^errstats: --compare -: stdin is already the first stream"
expect_exit 0 errstats --compare - relab.mp < ok.mp

# ---- 5. an unwritable grid: caught before any output, named as given ----
expect_exit 2 errstats --compare ok.mp --grid "$T/nonexist/g.jpg" relab.mp
expect_empty_stdout
expect_stderr "^errstats: --grid $T/nonexist/g.jpg: No such file or directory \(the grid's folder must exist and be writable\)$"
grep -q "\.tmp\." err && fail "the message names the temporary file"
mkdir gdir
expect_exit 2 errstats --compare ok.mp --grid gdir relab.mp
expect_empty_stdout
expect_stderr "^errstats: --grid gdir: is a directory"
if [ "$(id -u)" != 0 ]; then # root writes anywhere
	mkdir ro && chmod 555 ro
	expect_exit 2 errstats --compare ok.mp --grid ro/g.jpg relab.mp
	expect_empty_stdout
	expect_stderr "^errstats: --grid ro/g.jpg: Permission denied"
fi
expect_exit 0 errstats --compare ok.mp --grid g.jpg relab.mp
[ -s g.jpg ] && [ -s out ] || fail "grid and report"
ls | grep -q '\.tmp\.' && fail "a temporary file left behind"
# more thumbnails than a JPEG has rows for (65500): the first ones that fit, not a failure
$PY -c "
with open('a.txt', 'w') as fa, open('b.txt', 'w') as fb:
    for i in range(3000):
        fa.write(f'x{i} {i % 12} {i % 12 if i % 2 else (i + 1) % 12}\n')
        fb.write(f'x{i} {i % 12} {(i + 1) % 12 if i % 2 else i % 12}\n')"
$PY "$ROOT/tests/py/make_preds.py" --kind scores --model m --classes 12 <a.txt >ga.mp || fail "make_preds"
$PY "$ROOT/tests/py/make_preds.py" --kind scores --model m --classes 12 <b.txt >gb.mp || fail "make_preds"
expect_exit 0 errstats --compare ga.mp --grid big.jpg --grid-max 1200 --grid-thumb 400 gb.mp
$PY -c "
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
w, h = Image.open('big.jpg').size
assert 60000 < h <= 65500, (w, h)" || fail "a grid of 2 x 1200 thumbnails of 400 pixels"
exit 0
