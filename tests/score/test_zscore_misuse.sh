# zscore on the wrong input: an image stream (imgdecode output, no encoder ran) is a
# pipeline mistake (exit 2, one stderr line, nothing on stdout), with or without a
# class table, and in a pipe into topk; per-record lines name the stream, the record
# and the id, on stdin too.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
export RNENC_WEIGHTS=$T/no-weights-here

$PY - <<'EOF' || fail "making the streams"
import msgpack, numpy as np
from score_numpy import tensor
def P(r): return msgpack.packb(r)
head = P({"type": "header", "producer": "imgdecode", "version": "x", "argv": []})
img = P({"type": "image", "id": "n01_tench.JPEG", "path": "/i/n01_tench.JPEG", "label": 0, "preset": "clip",
         "tensor": tensor(np.zeros((4, 4, 3), np.uint8))})
open("img.mp", "wb").write(head + img + img)
open("c.mp", "wb").write(P({"type": "classes", "model": "toy", "names": ["a", "b", "c"], "logit_scale": 1.0,
                            "tensor": tensor(np.eye(3, dtype=np.float32))}))
emb = lambda i, v: P({"type": "embedding", "id": i, "label": 0, "tensor": tensor(np.asarray(v, np.float32))})
open("emb-then-image.mp", "wb").write(emb("e", [1, 0, 0]) + img)
open("bad.mp", "wb").write(emb("short", [1, 0]))
# a classes record without names for its rows
open("badclasses.mp", "wb").write(P({"type": "classes", "model": "toy", "names": ["a"], "logit_scale": 1.0,
                                     "tensor": tensor(np.eye(3, dtype=np.float32))}))
EOF

# 1. an image stream: exit 2 whether or not a class table is at hand, nothing on stdout
for cls in "" "--classes c.mp"; do
	expect_exit 2 zscore $cls img.mp
	expect_empty_stdout
	expect_stderr "^zscore: img.mp: record 1 \(id 'n01_tench.JPEG'\): an image record \(imgdecode output, not encoded\): zscore reads embeddings or logits; put rnencode before zscore$"
	[ "$(wc -l <err)" = 1 ] || fail "one line expected ($cls): $(cat err)"
done
# in the reviewer's pipe: zscore stops (2), topk gets an empty stream, nothing is printed
zscore --classes c.mp <img.mp 2>err | topk --format text >out 2>err2
[ "${PIPESTATUS[0]}" = 2 ] || fail "zscore in a pipe: not exit 2"
expect_empty_stdout
expect_stderr "^zscore: stdin: record 1 \(id 'n01_tench.JPEG'\): an image record"
# after a scored embedding the records written so far go out whole, then exit 2
expect_exit 2 zscore --classes c.mp emb-then-image.mp
expect_stderr "^zscore: emb-then-image.mp: record 1 \(id 'n01_tench.JPEG'\): an image record"
$PY -c "
from score_numpy import records
r = records('out'); assert [x['type'] for x in r] == ['header', 'scores'] and r[1]['id'] == 'e', r
" || fail "records before the image record"

# 2. per-record lines name the stream (stdin too) and the id
zscore --classes c.mp <bad.mp >out 2>err
[ $? = 1 ] || fail "bad record on stdin: not exit 1"
expect_stderr "^zscore: stdin: record 0 \(id 'short'\): embedding has 2 values but the class table's rows have 3 \(c.mp\)$"
cat c.mp bad.mp | expect_exit 1 zscore
expect_stderr "^zscore: stdin: record 1 \(id 'short'\): embedding has 2 values but the class table's rows have 3 \(stdin record 0\)$"
expect_exit 2 zscore badclasses.mp
expect_stderr "^zscore: badclasses.mp: classes record 0: "

# 3. --help says so
expect_exit 0 zscore --help
grep -q "an image record (run rnencode first)" out || fail "--help: image record"
exit 0
