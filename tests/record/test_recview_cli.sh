# recview: table of inputs -> exit status, stdout, stderr.
source "$ROOT/tests/lib.sh"
need_py msgpack
$PY - <<'PY'
import msgpack, numpy as np
t = lambda a: {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}
good = [{"type": "header", "producer": "py"},
        {"type": "image", "id": "a", "tensor": t(np.array([[1, 2], [3, 4]], np.float32))},
        {"type": "error", "id": "b", "path": "b.jpg", "stage": "x", "message": "bad"}]
open("good.mp", "wb").write(b"".join(msgpack.packb(r) for r in good))
bad = dict(good[1]); bad["tensor"] = {"dtype": "float32", "shape": [3], "data": b"1234"}
open("invalid.mp", "wb").write(msgpack.packb(bad) + msgpack.packb(good[0]))
open("trunc.mp", "wb").write(open("good.mp", "rb").read()[:-3])
open("garbage.mp", "wb").write(b"\xff\xd8\xff\xe0JFIF")
PY
expect_exit 0 recview good.mp
[ "$(wc -l < out)" = 3 ] || fail "3 lines expected"
grep -q '"tensor":{"dtype":"float32","shape":\[2,2\],"min":1,"max":4,"mean":2.5,"first":\[1,2,3,4\]}' out || fail "summary: $(cat out)"
expect_exit 0 recview -t error good.mp
grep -q '"message":"bad"' out && [ "$(wc -l < out)" = 1 ] || fail "-t error"
expect_exit 0 recview --first 1 good.mp good.mp
[ "$(wc -l < out)" = 1 ] || fail "-n 1"
expect_exit 0 recview --count good.mp good.mp
grep -Eq '^image +2$' out && grep -Eq '^total +6$' out || fail "-c: $(cat out)"
expect_exit 0 recview --full good.mp
grep -q '"values":\[1,2,3,4\]' out || fail "--full"
# an invalid record: reported, counted, stream goes on, exit 1
expect_exit 1 recview invalid.mp
expect_stderr 'recview: invalid.mp: record 0 at byte 0: tensor "tensor": shape \[3\] of float32 needs 12 bytes, data has 4'
grep -q '"producer":"py"' out || fail "record after the invalid one"
# broken streams: exit 2, earlier records still printed, one line naming record and offset
expect_exit 2 recview trunc.mp
expect_stderr '^recview: trunc.mp: record 2 at byte [0-9]+: truncated'
[ "$(wc -l < out)" = 2 ] || fail "records before truncation"
expect_exit 2 recview garbage.mp
expect_stderr 'record 0 at byte 0: not a valid record: byte 0xff starts a msgpack value that is not a map'
expect_empty_stdout
expect_exit 2 recview missing.mp
expect_stderr '^recview: missing.mp: No such file'
expect_empty_stdout
expect_exit 2 recview --bogus
expect_stderr "Try 'recview --help'"
# integer tensors print exactly (a float copy would round 16777217)
$PY -c "
import msgpack, numpy as np, sys
a = np.array([16777217, 2147483647, -2147483648], np.int32)
sys.stdout.buffer.write(msgpack.packb({'type': 'x', 'tensor': {'dtype': 'int32', 'shape': [3], 'data': a.tobytes()}}))
" > ints.mp
expect_exit 0 recview --full ints.mp
grep -qF '"min":-2147483648,"max":2147483647,"mean":5592405.33,"values":[16777217,2147483647,-2147483648]' out ||
	fail "int32 values: $(cat out)"
# --npy numbers records across the streams: a second stream does not overwrite the first's files
expect_exit 0 recview --npy npy good.mp good.mp
[ "$(ls npy | tr '\n' ' ')" = "000001-a-tensor.npy 000004-a-tensor.npy " ] || fail "--npy files: $(ls npy)"
# --npy writes a new file or a regular one (common/util/util.h): a FIFO or a
# device already in DIR under a file's name is refused (exit 2), never
# written through (a FIFO would block for ever); a symlink's target is
# replaced, the link kept; DIR must be a folder
mkdir npy2 && mkfifo npy2/000001-a-tensor.npy
expect_exit 2 timeout 60 recview --npy npy2 good.mp
expect_stderr "^recview: --npy: npy2/000001-a-tensor.npy: a FIFO: only a regular file or a new name is written$"
[ -p npy2/000001-a-tensor.npy ] || fail "the FIFO was replaced"
mkdir npy3 && echo old > target.npy && ln -s ../target.npy npy3/000001-a-tensor.npy
expect_exit 0 recview --npy npy3 good.mp
[ -L npy3/000001-a-tensor.npy ] || fail "the symlink was replaced"
$PY -c "import numpy as np; assert np.load('target.npy').tolist() == [[1, 2], [3, 4]]" || fail "the link's target"
ls npy3 | grep -q '\.tmp\.' && fail "a temporary file left behind"
expect_exit 2 recview --npy good.mp good.mp
expect_empty_stdout
expect_stderr "^recview: --npy good.mp: not a directory"
# --count counts every record: invalid ones too (one row), and a type's
# control characters are escaped (one row per type, no terminal escapes)
expect_exit 1 recview --count invalid.mp
grep -Eq '^\(invalid\) +1$' out && grep -Eq '^header +1$' out && grep -Eq '^total +2$' out || fail "-c invalid: $(cat out)"
$PY -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'type': 'a\nheader 99\x1b[2J'}) + msgpack.packb({'type': 'a\0b'}) + msgpack.packb({'type': 'a\0c'}))
" > ctl.mp
expect_exit 0 recview --count ctl.mp
[ "$(cat out)" = 'a\nheader 99\x1B[2J 1
a\x00b       1
a\x00c       1
total        3' ] || fail "-c with control characters: $(cat -A out)"
expect_exit 0 recview --help
grep -q '^Usage: recview' out || fail "--help"
exit 0
