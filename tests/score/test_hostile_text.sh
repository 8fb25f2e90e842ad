# Text from the records that a report prints: ids, paths, class names, error
# messages, header and stats values holding newlines, terminal escapes (ESC
# and the C1 CSI, U+009B), tabs and bytes that are not UTF-8 (ff fe 80).
# Through every program and output format:
#   - JSON (recview, topk -f json, errstats --json/--jsonl, errtree --json,
#     fpdiff --json, ckptinfo --json): every line loads in Python's json.loads;
#   - records (zscore, topk): every one loads with msgpack raw=False;
#   - text (topk -f text/tsv, errstats text/--csv/--compare, errtree --list,
#     fpdiff, recview --count): no control character but the tab and the line
#     ends, so no line can be forged and no terminal escape reaches a screen.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
# The stream, 12 classes (the hand-made WordNet of testdata/errtree). Python
# cannot pack a str that is not UTF-8: placeholders of the same length are
# packed, then their bytes replaced.
$PY - <<'EOF' || fail "hostile streams"
import msgpack
import numpy as np
from score_numpy import tensor
BAD = {b"@@1": b"\xff\xfe\x80", b"@@@2": b"\xc2\x9b2J", b"@@3": b"x\x1b]"}
IDS = ["@@1", "a\nImages only A gets right: forged", "\x1b[31mred\x1b[0m", "@@@2", "tab\there", "@@3"]
def pack(recs):
    b = b"".join(msgpack.packb(r) for r in recs)
    for k, v in BAD.items():
        b = b.replace(k, v)
    return b
def probs(top, k=12):
    p = np.full(k, 0.4 / (k - 1), np.float32)
    p[top] = 0.6
    return tensor(p)
names = ["n%d \x1b[2J@@1" % i if i < 2 else "class %d" % i for i in range(12)]
head = {"type": "header", "producer": "py", "version": "@@1", "argv": ["py", "a\nb", "@@@2"], "weights": "x\x1b[1m"}
def run(shift, model):
    recs = [head, {"type": "classes", "model": "@@3", "names": names, "logit_scale": 100.0,
                   "tensor": tensor(np.random.RandomState(0).randn(12, 4).astype(np.float32))}]
    for i, id_ in enumerate(IDS):
        recs.append({"type": "scores", "id": id_, "label": i, "path": "/no/@@1/" + str(i), "model": model,
                     "precision": "fp\x1b[7m32", "tensor": probs((i + shift) % 12)})
    recs.append({"type": "error", "id": "@@@2err", "path": "@@1", "label": 3, "stage": "imgdecode\n",
                 "message": "bad \x1b[31m @@1"})
    recs.append({"type": "stats", "producer": "rnencode", "device": "cpu\x1b[5m@@1", "seconds\x1b": 1.5})
    return pack(recs)
open("a.mp", "wb").write(run(0, "m@@1"))
open("b.mp", "wb").write(run(1, "m@@@2"))
emb = [head, {"type": "classes", "model": "@@3", "names": names, "logit_scale": 100.0,
              "tensor": tensor(np.random.RandomState(0).randn(12, 4).astype(np.float32))}]
for i, id_ in enumerate(IDS):
    emb.append({"type": "embedding", "id": id_, "label": i, "path": "@@1", "model": "@@@2",
                "tensor": tensor(np.arange(1, 5, dtype=np.float32) * (i + 1))})
open("emb.mp", "wb").write(pack(emb))
EOF
# json_lines FILE: every line loads; text_clean FILE: no control character but \t \n (and no C1)
json_lines() {
	$PY - "$1" <<'EOF' || fail "$1: not JSON lines: $(head -c 600 "$1" | cat -A)"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"" and len(lines) > 1, lines[-1:]
for l in lines[:-1]:
    json.loads(l.decode("utf-8"))  # strict: the bytes must be UTF-8
EOF
}
# records FILE PROG: the records PROG built (scores, topk, its header and
# error records) hold UTF-8 strs only, as msgpack raw=False needs; records
# passed through whole stay byte-exact (this stream's header and classes
# records are not UTF-8 themselves)
json_doc() { # one document over several lines (errtree --json)
	$PY -c "import json, sys; json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))" "$1" || fail "$1: not JSON"
}
records() {
	$PY - "$1" "$2" <<'EOF' || fail "$1: a record $2 built that msgpack raw=False cannot read"
import msgpack, sys
def bad(o):
    if isinstance(o, str):
        return any("\udc80" <= c <= "\udcff" for c in o)
    if isinstance(o, dict):
        return any(bad(k) or bad(v) for k, v in o.items())
    if isinstance(o, list):
        return any(bad(x) for x in o)
    return False
n = 0
for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, unicode_errors="surrogateescape"):
    if r["type"] in ("scores", "topk") or r.get(r["type"] == "error" and "stage" or "producer") == sys.argv[2]:
        assert not bad(r), r
        n += 1
assert n > 6, n
EOF
}
text_clean() {
	$PY - "$1" <<'EOF' || fail "$1: a raw control character: $(grep -n "$(printf '\033')" "$1" | head -3 | cat -A)"
import re, sys
b = open(sys.argv[1], "rb").read()
m = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", b)
assert b and not m, (m, b[max(0, m.start() - 40):m.end() + 40] if m else b"")
EOF
}
# forged: the id "a\nImages only A gets right: forged" must not start a line
not_forged() { ! grep -q "^Images only A gets right: forged" "$1" || fail "$1: a line forged by an id"; }

# ---- recview: JSON lines, counts ----
expect_exit 0 recview a.mp && json_lines out
expect_exit 0 recview --count a.mp && text_clean out

# ---- zscore: the records it builds ----
expect_exit 0 zscore emb.mp
cp out z.mp && records z.mp zscore
$PY - <<'EOF' || fail "zscore: ids not kept as their \\xNN text"
import msgpack
ids = [r["id"] for r in msgpack.Unpacker(open("z.mp", "rb"), raw=False, unicode_errors="surrogateescape")
       if r["type"] == "scores"]
assert ids[0] == "\\xFF\\xFE\\x80" and ids[1].startswith("a\n"), ids
EOF

# ---- topk: every format ----
for f in msgpack json text tsv; do
	expect_exit 0 topk -f $f a.mp
	cp out topk.$f
done
records topk.msgpack topk && json_lines topk.json && text_clean topk.text && text_clean topk.tsv
not_forged topk.text
awk -F'\t' 'NR > 1 && NF != 6 { bad = 1 } END { exit bad }' topk.tsv || fail "a tsv row without 6 fields"
[ "$(wc -l < topk.tsv)" = $((1 + 6 * 5 + 1)) ] || fail "tsv rows: $(wc -l < topk.tsv)"
expect_exit 0 topk -f json z.mp && json_lines out

# ---- errstats: every format, alone and compared ----
expect_exit 0 errstats a.mp && text_clean out && not_forged out
expect_exit 0 errstats --compare b.mp a.mp
text_clean out && not_forged out
grep -q '^  a\\nImages only A gets right: forged  label 1' out || fail "errstats: the escaped id: $(grep -n forged out)"
expect_exit 0 errstats --json --compare b.mp a.mp && json_lines out
expect_exit 0 errstats --jsonl --compare b.mp a.mp && json_lines out
expect_exit 0 errstats --csv --compare b.mp a.mp && text_clean out
[ "$(grep -vc '^#' out)" = $((1 + 2 * 12)) ] || fail "csv: one line per (run, class)"

# ---- errtree (the hand-made WordNet), fpdiff ----
ET=(errtree --wordnet "$TESTDATA/errtree" --wnids "$TESTDATA/errtree/wnids.txt")
expect_exit 1 "${ET[@]}" --list a.mp --compare b.mp
text_clean out && not_forged out
expect_exit 1 "${ET[@]}" --json a.mp --compare b.mp && json_doc out
expect_exit 1 fpdiff --show 6 a.mp b.mp && text_clean out && not_forged out
expect_exit 1 fpdiff --json --show 6 a.mp b.mp && json_lines out

# ---- ids that are not text: a NUL cut the C string ("a\0x" and "a\0y" were the
# same image, the second a repeat), an int id was named by its record number
# (so two runs matched by position): malformed records, named, exit 1 ----
$PY - <<'EOF' || fail "id streams"
import msgpack
import numpy as np
from score_numpy import tensor
p = tensor(np.array([0.7, 0.1, 0.1, 0.1], np.float32))
with open("nul.mp", "wb") as f:
    for id_ in ["a\0x", "a\0y", 7, "ok"]:
        f.write(msgpack.packb({"type": "scores", "id": id_, "label": 0, "tensor": p}))
EOF
for cmd in "errstats nul.mp" "fpdiff nul.mp nul.mp" "${ET[*]} nul.mp"; do
	expect_exit 1 $cmd
	expect_stderr "record 0 [^:]*: the id holds a NUL byte: images are matched by their id text"
	expect_stderr "record 1 [^:]*: the id holds a NUL byte"
	expect_stderr "record 2: \"id\" is not a str"
done
expect_exit 1 errstats --json nul.mp
$PY -c "
import json
r = json.load(open('out'))['runs'][0]
assert r['scored'] == 1 and r['unreadable'] == 3 and r['duplicate_ids'] == 0, r" || fail "errstats: NUL ids counted"

# ---- ckptinfo -j: tensor names that are not UTF-8 ----
$PY - <<'EOF' || fail "safetensors"
import json, struct
import numpy as np
a = np.zeros(2, np.float32).tobytes()
h = json.dumps({"@@1\u001b[2J": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
h = h.replace(b"@@1", b"\xff\xfe\x80")
open("w.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + a)
EOF
expect_exit 0 ckptinfo --json w.safetensors && json_lines out
exit 0
