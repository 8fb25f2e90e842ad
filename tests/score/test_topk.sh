# topk on hand-made scores: ties to the lower class index (also through a
# --subset index list), k larger than K, every output format (golden files),
# where names come from, pass-through, failures, the terminal default.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
G=$ROOT/tests/score/golden
printf '%s\n' ant bee cat dog elk > names.txt

$PY - <<'EOF' || fail "making the streams"
import msgpack, numpy as np
from score_numpy import tensor
def P(r): return msgpack.packb(r)
f32 = lambda v: tensor(np.array(v, np.float32))
with open("s.mp", "wb") as f:
    f.write(P({"type": "header", "producer": "zscore", "version": "x", "argv": []}))
    # ties: classes 1 and 2 at 0.3, classes 0 and 4 at 0.1
    f.write(P({"type": "scores", "id": "s1", "label": 2, "model": "clip-rn50", "precision": "fp16",
               "path": "/i/s1.jpg", "tensor": f32([0.1, 0.3, 0.3, 0.2, 0.1])}))
    # a --subset record: positions map to classes 4, 2, 0; the tie 4/2 goes to class 2
    f.write(P({"type": "scores", "id": "s2", "label": 4, "index": [4, 2, 0], "tensor": f32([0.3, 0.3, 0.4])}))
    f.write(P({"type": "error", "id": "e1", "path": "/i/e1.jpg", "label": 1, "stage": "imgdecode",
               "message": "not a JPEG"}))
    f.write(P({"type": "mystery", "x": 1}))
    # logits: all equal -> 0.2 each, classes in index order
    f.write(P({"type": "logits", "id": "l1", "label": 0, "tensor": f32([0, 0, 0, 0, 0])}))
with open("named.mp", "wb") as f:
    f.write(P({"type": "header", "producer": "zscore", "version": "x", "argv": [],
               "class_names": ["h0", "h1", "h2", "h3", "h4"]}))
    f.write(P({"type": "scores", "id": "a", "label": 1, "tensor": f32([0.1, 0.6, 0.1, 0.1, 0.1])}))
    f.write(P({"type": "classes", "model": "m", "names": ["c0", "c1", "c2", "c3", "c4"], "logit_scale": 100.0,
               "tensor": tensor(np.eye(5, dtype=np.float32))}))
    f.write(P({"type": "scores", "id": "b", "label": 1, "tensor": f32([0.1, 0.6, 0.1, 0.1, 0.1])}))
with open("bad.mp", "wb") as f:
    f.write(P({"type": "scores", "id": "n", "label": 0, "tensor": f32([0.5, float("nan"), 0.5])}))
    f.write(P({"type": "scores", "id": "i", "label": 0, "index": [0, 1], "tensor": f32([0.5, 0.2, 0.3])}))
    f.write(P({"type": "scores", "id": "ok", "label": 0, "tensor": f32([0.5, 0.2, 0.3])}))
with open("emb.mp", "wb") as f:
    f.write(P({"type": "embedding", "id": "e", "label": 0, "tensor": f32([1, 2])}))
EOF


# msgpack records: the values worked out above
expect_exit 0 topk -k 3 --names names.txt s.mp
$PY - <<'EOF' || fail "topk records"
from score_numpy import records
r = records("out")
assert [x["type"] for x in r] == ["header", "header", "topk", "topk", "error", "mystery", "topk"], [x["type"] for x in r]
assert r[0]["producer"] == "topk" and r[0]["k"] == 3 and r[0]["names"] == "names.txt"
s1, s2, l1 = r[2], r[3], r[6]
assert s1["index"] == [1, 2, 3] and s1["name"] == ["bee", "cat", "dog"], s1
assert [round(p, 6) for p in s1["prob"]] == [0.3, 0.3, 0.2], s1["prob"]
assert s1["path"] == "/i/s1.jpg" and s1["model"] == "clip-rn50" and s1["precision"] == "fp16" and s1["label"] == 2
assert "tensor" not in s1
assert s2["index"] == [0, 2, 4] and s2["name"] == ["ant", "cat", "elk"], s2
assert l1["index"] == [0, 1, 2] and all(abs(p - 0.2) < 1e-7 for p in l1["prob"]), l1
assert r[4]["message"] == "not a JPEG" and r[5] == {"type": "mystery", "x": 1}
EOF

# k > K gives all K; without names the name lists are empty strings
expect_exit 0 topk -k 9 s.mp
$PY - <<'EOF' || fail "k larger than K"
from score_numpy import records
r = [x for x in records("out") if x["type"] == "topk"]
assert r[0]["index"] == [1, 2, 3, 0, 4], r[0]["index"]
assert r[1]["index"] == [0, 2, 4] and r[2]["index"] == [0, 1, 2, 3, 4]
assert r[0]["name"] == [""] * 5
EOF

# the text formats (golden files, checked by hand against the values above)
expect_exit 0 topk -k 3 --names names.txt --format text s.mp
golden topk-k3.txt out
expect_exit 0 topk -k 9 --format tsv s.mp
golden topk-k9.tsv out
expect_exit 0 topk -k 2 --names names.txt --format json s.mp
golden topk-k2.jsonl out
$PY -c "
import json
for l in open('out'): json.loads(l)
" || fail "json lines do not parse"

# names: the latest classes record wins over a header's class_names; --names over both
expect_exit 0 topk -k 1 --format tsv named.mp
printf 'id\tlabel\trank\tclass\tprob\tname\na\t1\t1\t1\t0.6\th1\nb\t1\t1\t1\t0.6\tc1\n' > want
diff -u want out || fail "names from the stream"
expect_exit 0 topk -k 1 --names names.txt --format tsv named.mp
grep -q "^b	1	1	1	0.6	bee$" out || fail "--names does not win"

# a terminal gets the text table by default; a pipe gets records
$PY - <<'EOF' || fail "terminal default"
import os, pty, subprocess
m, s = pty.openpty()
p = subprocess.run(["topk", "-k", "1", "s.mp"], stdout=s, stderr=subprocess.PIPE)
os.close(s)
out = b""
while True:
    try:
        b = os.read(m, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
assert p.returncode == 0, p.stderr
assert b"s1  label 2" in out and b"ERROR imgdecode: not a JPEG" in out, out
EOF
topk s.mp | head -c 1 | od -An -tx1 | grep -q '8' || fail "a pipe should get msgpack"

# failures: NaN and a bad index list are error records; the good one is ranked
expect_exit 1 topk bad.mp
# each line names the stream, the record and its id
expect_stderr "^topk: bad.mp: record 0 \(id 'n'\): 1 NaN/Inf values among the 3 scores$"
expect_stderr "^topk: bad.mp: record 1 \(id 'i'\): \"index\" must be a list of 3 class indices"
topk < bad.mp > /dev/null 2>err
expect_stderr "^topk: stdin: record 0 \(id 'n'\): 1 NaN/Inf"
$PY -c "
from score_numpy import records
r = records('out')
assert [x['type'] for x in r] == ['header', 'error', 'error', 'topk'], r
assert r[1]['id'] == 'n' and r[1]['stage'] == 'topk' and r[3]['index'] == [0, 2, 1]
" || fail "failure records"

# an embedding stream is a pipeline mistake: say to run zscore
expect_exit 2 topk emb.mp
expect_stderr "^topk: emb.mp: record 0 \(id 'e'\): an embedding record \(encoded, not scored\): topk reads scores or logits; put zscore before topk$"
expect_empty_stdout
expect_exit 2 topk -k 0 s.mp
expect_exit 2 topk --format xml s.mp
expect_exit 0 topk --help
grep -q "Exit status" out || fail "--help lacks exit statuses"

# empty stream: header only (msgpack), nothing (text), the column line (tsv)
: > empty.mp
expect_exit 0 topk empty.mp
$PY -c "
from score_numpy import records
assert [x['type'] for x in records('out')] == ['header']
" || fail "empty stream"
expect_exit 0 topk --format text empty.mp
expect_empty_stdout
expect_exit 0 topk --format tsv empty.mp
[ "$(cat out)" = "$(printf 'id\tlabel\trank\tclass\tprob\tname')" ] || fail "empty tsv"
exit 0
