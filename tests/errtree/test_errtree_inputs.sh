# errtree on the wrong stream and on unpaired runs: an image or embedding
# stream is refused as errstats and topk refuse it (exit 2, nothing on
# stdout, one line with what to run first); a label that is not an integer
# is a bad record, not "unlabelled"; --compare with no labelled id in common
# is exit 1 with a hint (as fpdiff and errstats); a repeated id counts once;
# --compare - - is a usage error.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
cp -r "$TESTDATA/errtree" h
mk() { $PY "$ROOT/tests/py/make_preds.py" "$@"; }
ET=(errtree --wordnet h --wnids h/wnids.txt)
printf 'x1 0 1\nx2 2 2\n' | mk --kind scores --model m --classes 12 > ok.mp || fail "make_preds"

# The wrong kind of stream: imgdecode's (image records) and rnencode's for
# CLIP (embedding records, before zscore).
$PY - <<'EOF' || fail "streams"
import msgpack
import numpy as np
from score_numpy import tensor
hdr = {"type": "header", "producer": "test", "version": "test", "argv": ["test"]}
with open("img.mp", "wb") as f:
    f.write(msgpack.packb(hdr))
    f.write(msgpack.packb({"type": "image", "id": "a.JPEG", "path": "a.JPEG", "label": 0, "preset": "clip",
                           "tensor": tensor(np.zeros((4, 4, 3), np.uint8))}))
with open("emb.mp", "wb") as f:
    f.write(msgpack.packb(hdr))
    f.write(msgpack.packb({"type": "embedding", "id": "e1", "label": 0, "model": "clip-rn50",
                           "precision": "fp32", "tensor": tensor(np.ones(8, np.float32))}))
with open("strlabel.mp", "wb") as f:
    v = np.full(12, 0.4 / 11, np.float32)
    v[1] = 0.6
    f.write(msgpack.packb({"type": "scores", "id": "s1", "label": "dog", "model": "m", "tensor": tensor(v)}))
EOF
expect_exit 2 "${ET[@]}" img.mp
expect_empty_stdout
expect_stderr "^errtree: img.mp: record 1 \(id 'a.JPEG'\): an image record \(imgdecode output, not encoded\): errtree reads scores or logits; put rnencode \(and zscore for CLIP\) before errtree$"
expect_exit 2 "${ET[@]}" emb.mp
expect_empty_stdout
expect_stderr "^errtree: emb.mp: record 1 \(id 'e1'\): an embedding record \(encoded, not scored\): errtree reads scores or logits; put zscore before errtree$"
expect_exit 2 "${ET[@]}" < emb.mp
expect_empty_stdout
expect_stderr "^errtree: stdin: record 1 \(id 'e1'\): an embedding"
expect_exit 2 "${ET[@]}" ok.mp --compare img.mp
expect_empty_stdout
expect_stderr "^errtree: img.mp: record 1 \(id 'a.JPEG'\): an image record"

# A label that is not an integer: a bad record, named, exit 1.
cat ok.mp strlabel.mp > mixed.mp
expect_exit 1 "${ET[@]}" --json mixed.mp
expect_stderr "^errtree: mixed.mp: record 3 \(id 's1'\): label is not an integer \(a class index, or -1 for unknown\)$"
$PY -c "import json; m = json.load(open('out'))['models'][0]; assert (m['bad_records'], m['unlabelled'], m['labelled']) == (1, 0, 2), m" ||
	fail "string label not a bad record"

# No id in common (relative against full paths): the report, then exit 1
# with the hint; a stream with no labelled predictions pairs nothing either.
printf '/data/val/x1 0 1\n/data/val/x2 2 2\n' | mk --kind scores --model m --classes 12 > full.mp || fail "make_preds"
expect_exit 1 "${ET[@]}" ok.mp --compare full.mp
expect_stderr "^errtree: ok.mp vs full.mp: no image id in common among the labelled predictions \(A's first is 'x1', B's '/data/val/x1'\): the ids differ, e.g. relative against full paths: .imgdecode DIR. gives ids relative to DIR, .find DIR \| imgdecode. full paths$"
grep -q "not paired: 4 ids in one stream only" out || fail "no-common report: $(grep paired out)"
expect_exit 1 "${ET[@]}" --json ok.mp --compare full.mp
$PY -c "import json; p = json.load(open('out'))['paired']; assert (p['common_ids'], p['unmatched']) == (0, 4), p" ||
	fail "json common_ids"
printf 'u1 -1 1\n' | mk --kind scores --model m --classes 12 > unlab.mp || fail "make_preds"
expect_exit 1 "${ET[@]}" ok.mp --compare unlab.mp
expect_stderr "^errtree: ok.mp vs unlab.mp: no image id in common: unlab.mp has no labelled predictions$"
expect_exit 0 "${ET[@]}" ok.mp --compare ok.mp
[ ! -s err ] || fail "stderr on a clean comparison: $(cat err)"
# two runs with nothing labelled: nothing to pair, not a mismatch (as errstats --compare)
expect_exit 0 "${ET[@]}" unlab.mp --compare unlab.mp

# One stream with an id twice (a file concatenated to itself): each id counts
# once, the repeats are reported, not an input failure (as errstats).
cat ok.mp ok.mp >twice.mp
expect_exit 0 "${ET[@]}" twice.mp
expect_stderr "^errtree: twice.mp: 2 labelled records repeat an earlier id \(first: record 4, id 'x1'\): only the first record of each id counts$"
grep -Eq '^  repeated ids \(left out\) +2$' out || { cat out; fail "repeated ids row"; }
grep -Eq '^  labelled +2$' out || { cat out; fail "each id counted once"; }
expect_exit 0 "${ET[@]}" --json twice.mp
grep -q '"labelled":2,"repeated_ids":2,' out || { cat out; fail "json repeated_ids"; }

# stdin once.
expect_exit 2 "${ET[@]}" --compare - - < ok.mp
expect_empty_stdout
expect_stderr "^errtree: --compare -: stdin is already the first stream"
exit 0
