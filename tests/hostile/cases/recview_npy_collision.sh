# recview --npy, two tensors whose file names come out the same: safe_name
# (cmd/recview.c) turns '/', ' ' and control bytes into '_' and cuts keys at
# 63 bytes, so the keys 'x y' and 'x_y' (or two long keys sharing their first
# 63 bytes) of one record both write 000000-a-x_y.npy: the second replaced
# the first, exit 0. Right: never a tensor lost without a word: distinct
# files, or a refusal (exit 2) naming the clash.
$PY - <<'PY' || fail "making the stream"
import msgpack, numpy as np
t = lambda v: {"dtype": "float32", "shape": [1], "data": np.array([v], np.float32).tobytes()}
k = "k" * 70
open("c.mp", "wb").write(msgpack.packb({"type": "x", "id": "a", "x y": t(1), "x_y": t(2),
                                        k + "1": t(3), k + "2": t(4)}))
PY
recview --npy npy c.mp >out 2>err
rc=$?
n=$(ls npy | wc -l)
[ $rc = 0 ] && [ "$n" != 4 ] && fail "exit 0, 4 tensors, $n files: $(ls npy | tr '\n' ' ')"
[ $rc = 0 ] || [ $rc = 2 ] || fail "exit $rc"
[ $rc = 0 ] || expect_stderr "^recview: --npy: "
