# zscore on hand-made streams whose answers were worked out by hand, the
# default class table, --subset, --raw, failures, pass-through; then numpy on
# random data.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
export RNENC_WEIGHTS=$T/no-weights-here

# Class rows e0, e1, e2 and (0.6, 0.8, 0): cosines are read off by eye.
$PY - <<'EOF' || fail "making the streams"
import msgpack, numpy as np
from score_numpy import tensor
rows = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.6, 0.8, 0]], np.float32)
def classes(scale):
    return msgpack.packb({"type": "classes", "model": "toy", "names": ["a", "b", "c", "d"],
                          "logit_scale": scale, "tensor": tensor(rows)})
open("c1.mp", "wb").write(msgpack.packb({"type": "header", "producer": "txtembed-load", "version": "x", "argv": []}) + classes(1.0))
open("c100.mp", "wb").write(classes(100.0))
def emb(i, v, dt, **kw):
    r = {"type": "embedding", "id": i, "label": 1, "model": "toy", "precision": "fp16" if dt == np.float16 else "fp32",
         "tensor": tensor(np.array(v, dt))}
    r.update(kw)
    return msgpack.packb(r)
with open("e.mp", "wb") as f:
    f.write(emb("x", [0, 2, 0], np.float32, path="/img/x.jpg", extra={"k": [1, 2]}))
    f.write(emb("y", [1, 1, 0], np.float16))
    f.write(msgpack.packb({"type": "error", "id": "z", "path": "/img/z.jpg", "label": 3, "stage": "imgdecode", "message": "not a JPEG"}))
    f.write(msgpack.packb({"type": "mystery", "id": "m", "blob": b"\x00\x01"}))
    f.write(msgpack.packb({"type": "logits", "id": "w", "label": 2, "model": "resnet50", "precision": "fp32",
                           "tensor": tensor(np.array([1, 2, 3, 3], np.float32))}))
with open("bad.mp", "wb") as f:
    f.write(emb("nan", [1, float("nan"), 0], np.float16))
    f.write(emb("short", [1, 0], np.float32))
    f.write(emb("zero", [0, 0, 0], np.float32))
    f.write(emb("fine", [0, 0, 5], np.float32))
    f.write(emb("inf", [float("inf"), 0, 0], np.float32))
open("big.mp", "wb").write(emb("big", [1, 0, 0], np.float32))
EOF

# 1. classes record in the stream, logit scale 1.
#   x = (0,2,0): cos (0,1,0,0.8) -> softmax: e^0=1, e^1=2.718282, e^0.8=2.225541,
#     sum 6.943823 -> (0.144013, 0.391468, 0.144013, 0.320507)
#   y = (1,1,0) fp16: cos (0.707107, 0.707107, 0, 0.989949) -> e: 2.028115 x2, 1, 2.691069,
#     sum 7.747299 -> (0.261782, 0.261782, 0.129077, 0.347358)
#   w logits (1,2,3,3): e^-2 0.135335, e^-1 0.367879, 1, 1, sum 2.503215
#     -> (0.054064, 0.146963, 0.399486, 0.399486)
cat c1.mp e.mp | expect_exit 0 zscore
mv out s1.mp
$PY - <<'EOF' || fail "values of the hand-made stream"
import numpy as np
from score_numpy import records, untensor
r = records("s1.mp")
types = [x["type"] for x in r]
assert types == ["header", "header", "classes", "scores", "scores", "error", "mystery", "scores"], types
assert r[0]["producer"] == "zscore" and r[1]["producer"] == "txtembed-load"
assert "class_names" not in r[0] and r[0]["classes"] is None  # no table at the start
want = {"x": [0.144013, 0.391468, 0.144013, 0.320507],
        "y": [0.261782, 0.261782, 0.129077, 0.347358],
        "w": [0.054064, 0.146963, 0.399486, 0.399486]}
for x in r:
    if x["type"] != "scores":
        continue
    got = untensor(x["tensor"])
    assert got.dtype == np.float32 and got.shape == (4,), (got.dtype, got.shape)
    assert np.allclose(got, want[x["id"]], atol=1.5e-6), (x["id"], got)
    assert "raw" not in x and "index" not in x
sx = [x for x in r if x.get("id") == "x"][0]
assert sx["path"] == "/img/x.jpg" and sx["extra"] == {"k": [1, 2]} and sx["label"] == 1
assert sx["model"] == "toy" and sx["precision"] == "fp32"
sy = [x for x in r if x.get("id") == "y"][0]
assert sy["precision"] == "fp16"
assert r[5] == {"type": "error", "id": "z", "path": "/img/z.jpg", "label": 3, "stage": "imgdecode", "message": "not a JPEG"}
assert r[6] == {"type": "mystery", "id": "m", "blob": b"\x00\x01"}
EOF
# pass-through is byte-exact: the classes/error/mystery records appear verbatim
$PY -c "
a = open('c1.mp', 'rb').read(); b = open('s1.mp', 'rb').read(); e = open('e.mp', 'rb').read()
assert a in b, 'headers and classes not verbatim'
import msgpack
u = msgpack.Unpacker(); u.feed(e); recs = list(u)
err_and_mystery = msgpack.packb(recs[2]) + msgpack.packb(recs[3])
assert err_and_mystery in b, 'error and unknown records not verbatim'
" || fail "pass-through not byte-exact"

# 2. --classes FILE with logit scale 100: the softmax must survive logits of 100.
#   big = (1,0,0): logits (100, 0, 0, 60): p0 = 1/(1 + 2e-100 + e-40) = 1 in float32,
#   p3 = e^-40 = 4.248354e-18
expect_exit 0 zscore --classes c100.mp big.mp
$PY - <<'EOF' || fail "logit scale 100"
import numpy as np
from score_numpy import records, untensor
r = records("out")
import hashlib
assert r[0]["type"] == "header" and r[0]["classes"] == "c100.mp" and r[0]["logit_scale"] == 100.0
assert r[0]["classes_sha256"] == hashlib.sha256(open("c100.mp", "rb").read()).hexdigest()
assert r[0]["class_names"] == ["a", "b", "c", "d"]
p = untensor(r[1]["tensor"])
assert p[0] == 1.0 and abs(p[3] / 4.248354e-18 - 1) < 1e-5 and p[1] < 1e-40, p
EOF
# the sha256 is of the bytes the table was read from, in the one read: a pipe's
# too (a second read gave the empty file's, e3b0c442..., and a named FIFO whose
# writer is gone hung)
expect_exit 0 zscore --classes <(cat c100.mp) big.mp
$PY -c "
import hashlib
from score_numpy import records
h = records('out')[0]
assert h['classes'].startswith('/dev/fd/'), h
assert h['classes_sha256'] == hashlib.sha256(open('c100.mp', 'rb').read()).hexdigest(), h" ||
	fail "--classes <(...): classes_sha256"
mkfifo cfifo
(cat c100.mp >cfifo &)
expect_exit 0 timeout 20 zscore --classes cfifo big.mp
recview -t header out | grep -q "\"classes_sha256\":\"$(sha256sum c100.mp | cut -c1-64)\"" ||
	fail "--classes FIFO: classes_sha256: $(recview -t header out)"

# 3. --subset: classes 3 and 1 of x: cos (0.8, 1) -> e^0.8, e^1 / 4.943823 = (0.450166, 0.549834)
printf '# two classes\n3\n\n1\n' > sub.txt
cat c1.mp e.mp | expect_exit 0 zscore --subset sub.txt
$PY - <<'EOF' || fail "--subset"
import numpy as np
from score_numpy import records, untensor
r = {x.get("id"): x for x in records("out") if x["type"] == "scores"}
assert r["x"]["index"] == [3, 1], r["x"]["index"]
assert np.allclose(untensor(r["x"]["tensor"]), [0.450166, 0.549834], atol=1.5e-6), untensor(r["x"]["tensor"])
# logits of w restricted to classes 3, 1: (3, 2) -> (0.731059, 0.268941)
assert np.allclose(untensor(r["w"]["tensor"]), [0.731059, 0.268941], atol=1.5e-6)
EOF

# 3b. --groups: classes a, b -> group 10, d -> group 20 (c left out). x: softmax over
# cos (0, 1, 0.8) = (0.168242, 0.457329, 0.374429); a group keeps its best member.
printf '0 10\n1\t10  # a and b\n3 20\n' > groups.txt
cat c1.mp e.mp | expect_exit 0 zscore --groups groups.txt
$PY - <<'EOF' || fail "--groups"
import numpy as np
from score_numpy import records, untensor
rs = records("out")
assert rs[0]["groups"] == "groups.txt", rs[0]
r = {x.get("id"): x for x in rs if x["type"] == "scores"}
assert r["x"]["index"] == [10, 20], r["x"]["index"]
assert np.allclose(untensor(r["x"]["tensor"]), [0.457329, 0.374429], atol=1.5e-6), untensor(r["x"]["tensor"])
# logits of w over classes 0, 1, 3: (1, 2, 3) -> (0.090031, 0.244728, 0.665241)
assert np.allclose(untensor(r["w"]["tensor"]), [0.244728, 0.665241], atol=1.5e-6), untensor(r["w"]["tensor"])
EOF
# 3c. a logits record narrower than --subset is that record's failure (an error record,
# exit 1, the stream goes on); a class table too small for it, met mid-stream after
# more than the writer's buffer of scores, stops with whole records on stdout
$PY - <<'EOF' || fail "making the narrow streams"
import msgpack, numpy as np
from score_numpy import tensor
def lg(i, n): return msgpack.packb({"type": "logits", "id": i, "label": 0, "tensor": tensor(np.arange(n, dtype=np.float32))})
open("narrow.mp", "wb").write(lg("wide1", 4) + lg("narrow", 2) + lg("wide2", 4))
rows = np.eye(3, dtype=np.float32)
small = msgpack.packb({"type": "classes", "model": "toy", "names": ["a", "b", "c"], "logit_scale": 1.0, "tensor": tensor(rows)})
e = msgpack.packb({"type": "embedding", "id": "e", "label": 0, "tensor": tensor(np.array([1, 0, 0], np.float32))})
open("late-small.mp", "wb").write(e * 3000 + small + e)
EOF
expect_exit 1 zscore --subset sub.txt narrow.mp
expect_stderr "^zscore: narrow.mp: record 1 \(id 'narrow'\): class 3 of sub.txt is out of range: the logits vector has 2 classes$"
$PY -c "
from score_numpy import records
r = [(x['type'], x.get('id')) for x in records('out') if x['type'] != 'header']
assert r == [('scores', 'wide1'), ('error', 'narrow'), ('scores', 'wide2')], r
" || fail "narrow logits: not an error record between two scores"
zscore --classes c1.mp --subset sub.txt late-small.mp >out 2>err
[ $? = 2 ] || fail "a late class table too small for --subset: not exit 2"
expect_stderr "^zscore: sub.txt: class 3 is out of range: the class table has 3 classes$"
recview --count out >/dev/null 2>rv.err || fail "a late class table too small: stdout ends mid-record: $(cat rv.err)"
[ "$(recview -t scores out | wc -l)" = 3000 ] || fail "a late class table too small: not the 3000 scores before it"

printf '0 10\n1\n' > groups-bad.txt
expect_exit 2 zscore --classes c1.mp --groups groups-bad.txt e.mp
expect_stderr "groups-bad.txt: line 2: '1' is not CLASS GROUP \(two class indices\)"
printf '0 10\n0 20\n' > groups-dup.txt
expect_exit 2 zscore --classes c1.mp --groups groups-dup.txt e.mp
expect_stderr "class 0 is listed twice"
printf '0 10\n1 9999999999999\n' > groups-big.txt # a group number becomes an int32 "index" entry
expect_exit 2 zscore --classes c1.mp --groups groups-big.txt e.mp
expect_stderr "groups-big.txt: line 2: '1 9999999999999' is not CLASS GROUP"
printf '0 1\n9 1\n' > groups-range.txt
expect_exit 2 zscore --classes c1.mp --groups groups-range.txt e.mp
expect_stderr "groups-range.txt: class 9 is out of range: the class table has 4 classes"
expect_exit 2 zscore --subset sub.txt --groups groups.txt e.mp
expect_stderr "one or the other"

# 4. --raw keeps cosines (and logits) and says so
cat c1.mp e.mp | expect_exit 0 zscore --raw
$PY - <<'EOF' || fail "--raw"
import numpy as np
from score_numpy import records, untensor
r = {x.get("id"): x for x in records("out") if x["type"] == "scores"}
assert r["x"]["raw"] is True
assert np.allclose(untensor(r["x"]["tensor"]), [0, 1, 0, 0.8], atol=1e-7)
assert np.allclose(untensor(r["y"]["tensor"]), [0.707107, 0.707107, 0, 0.989949], atol=2e-6)
assert np.array_equal(untensor(r["w"]["tensor"]), [1, 2, 3, 3])
EOF

# 5. failures: NaN, Inf, wrong width, zero vector -> error records, counted; the rest scored
expect_exit 1 zscore --classes c1.mp bad.mp
expect_stderr "^zscore: bad.mp: record 1 \(id 'short'\): embedding has 2 values but the class table's rows have 3"
expect_stderr "^zscore: bad.mp: record 0 \(id 'nan'\): 1 of 3 input values are NaN or Inf"
# one failed record, one stderr line: no summary lines besides
[ "$(wc -l < err)" = 4 ] || fail "4 failed records, $(wc -l < err) stderr lines: $(cat err)"
$PY - <<'EOF' || fail "failure records"
from score_numpy import records
r = records("out")[1:]
assert [x["type"] for x in r] == ["error", "error", "error", "scores", "error"], [x["type"] for x in r]
assert [x["id"] for x in r] == ["nan", "short", "zero", "fine", "inf"]
assert all(x["stage"] == "zscore" for x in r if x["type"] == "error")
assert "NaN or Inf" in r[0]["message"] and "NaN or Inf" in r[4]["message"]
assert "all zeros" in r[2]["message"]
EOF

# ... past 10 failures the rest are counted in one line at the end
$PY - <<'EOF' > nans.mp || fail "nan stream"
import msgpack, sys
import numpy as np
from score_numpy import tensor
for i in range(13):
    sys.stdout.buffer.write(msgpack.packb({"type": "embedding", "id": f"n{i}", "tensor": tensor(np.full(3, np.nan, np.float32))}))
sys.stdout.buffer.write(msgpack.packb({"type": "embedding", "id": "ok", "tensor": tensor(np.ones(3, np.float32))}))
EOF
expect_exit 1 zscore --classes c1.mp nans.mp
[ "$(wc -l < err)" = 11 ] && [ "$(grep -c "values are NaN or Inf" err)" = 10 ] || fail "13 failures: $(cat err)"
expect_stderr "^zscore: 3 more failed records not named \(13 of 14 failed in all, 13 of them with NaN/Inf inputs; recview -t error names them\)$"

# 6. no table anywhere: one line saying how to get one, exit 2
expect_exit 2 zscore e.mp
expect_stderr "no class table: give --classes FILE.*make the default one, $RNENC_WEIGHTS/classes-clip-rn50.mp, with: make classes"
# ... but logits alone need no table
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
sys.stdout.buffer.write(msgpack.packb({'type': 'logits', 'id': 'l', 'label': 0, 'tensor': tensor(np.zeros(4, np.float32))}))
" > logits.mp
expect_exit 0 zscore logits.mp
$PY -c "
from score_numpy import records, untensor
r = records('out'); assert list(untensor(r[1]['tensor'])) == [0.25] * 4
" || fail "logits without a table"

# 7. the default place: $RNENC_WEIGHTS/classes-clip-rn50.mp (header names the classes)
mkdir -p w && cp c1.mp w/classes-clip-rn50.mp
RNENC_WEIGHTS=$T/w expect_exit 0 zscore e.mp
$PY -c "
from score_numpy import records
r = records('out'); assert r[0]['classes'].endswith('w/classes-clip-rn50.mp'), r[0]
assert r[0]['class_names'] == ['a', 'b', 'c', 'd'] and r[1]['type'] == 'scores'
" || fail "default class table"
mkdir -p xdg/rnencode/weights && cp c1.mp xdg/rnencode/weights/classes-clip-rn50.mp
env -u RNENC_WEIGHTS XDG_CACHE_HOME=$T/xdg zscore e.mp > out 2>err || fail "XDG default class table"
$PY -c "
from score_numpy import records
r = records('out'); assert r[0]['classes'].endswith('xdg/rnencode/weights/classes-clip-rn50.mp'), r[0]
assert [x['type'] for x in r].count('scores') == 3
" || fail "XDG default class table"

# ... ResNet's logits never use that table: the header does not name it (nor its sha256,
# nor its class names), and the records before the first logits keep their order after it
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
w = sys.stdout.buffer.write
w(msgpack.packb({'type': 'header', 'producer': 'rnencode', 'version': 'x', 'argv': []}))
w(msgpack.packb({'type': 'error', 'id': 'e', 'path': 'e', 'label': 1, 'stage': 'imgdecode', 'message': 'm'}))
w(msgpack.packb({'type': 'logits', 'id': 'l', 'label': 0, 'tensor': tensor(np.zeros(4, np.float32))}))
" > hl.mp
RNENC_WEIGHTS=$T/w expect_exit 0 zscore logits.mp hl.mp
$PY -c "
from score_numpy import records
r = records('out')
assert [x['type'] for x in r] == ['header', 'scores', 'header', 'error', 'scores'], [x['type'] for x in r]
h = r[0]
assert h['producer'] == 'zscore' and h['classes'] is None and 'classes_sha256' not in h and 'class_names' not in h, h
" || fail "zscore on logits names the default class table it did not use: $(recview -t header out | head -1)"
# a stream of embeddings still names it, after records held back for it
RNENC_WEIGHTS=$T/w expect_exit 0 zscore c1.mp e.mp
$PY -c "
from score_numpy import records
r = records('out'); assert r[0]['classes'].endswith('w/classes-clip-rn50.mp') and len(r[0]['classes_sha256']) == 64, r[0]
assert [x['type'] for x in r][:2] == ['header', 'header'] and r[1]['producer'] == 'txtembed-load', r[:2]
" || fail "default class table after the change"

# 8. usage and fatal errors: exit 2, nothing but the header on stdout
expect_exit 2 zscore --classes missing.mp e.mp
expect_stderr "missing.mp"
expect_empty_stdout
printf '7\n' > sub7.txt
expect_exit 2 zscore --classes c1.mp --subset sub7.txt e.mp
expect_stderr "class 7 is out of range: the class table has 4 classes"
printf '1\n1\n' > subdup.txt
expect_exit 2 zscore --classes c1.mp --subset subdup.txt e.mp
expect_stderr "class 1 is listed twice"
expect_exit 2 zscore --bogus
expect_exit 0 zscore --help
grep -q "Exit status" out || fail "--help lacks exit statuses"

# 9. empty stream: just the header
: > empty.mp
expect_exit 0 zscore --classes c1.mp empty.mp
$PY -c "
from score_numpy import records
r = records('out'); assert [x['type'] for x in r] == ['header']
" || fail "empty stream"

# 10. numpy on random data: 40 embeddings (fp32 and fp16) x 100 classes, 20 logits
$PY "$ROOT/tests/py/score_numpy.py" zscore-make . || fail "zscore-make"
expect_exit 0 zscore --classes classes.mp emb.mp
$PY "$ROOT/tests/py/score_numpy.py" zscore-check . out || fail "numpy check"
expect_exit 0 zscore --classes classes.mp --subset subset.txt emb.mp
$PY "$ROOT/tests/py/score_numpy.py" zscore-check . out --subset || fail "numpy check --subset"
expect_exit 0 zscore --classes classes.mp --raw emb.mp
$PY "$ROOT/tests/py/score_numpy.py" zscore-check . out --raw || fail "numpy check --raw"
exit 0
