# errstats --compare, errtree --compare, fpdiff: records without an id were
# named '#N' by their position and matched across runs by it, so two
# streams of the same images in another order compared different images
# (here fpdiff: exit 0, 'within tolerance', on two runs sharing no image).
# An id that is not a str is already a malformed record; a missing one
# should be too. Right: no match by position: such records are named on
# stderr and counted as unreadable, and a comparison with nothing matched
# fails (exit 1).
$PY - <<'PY' || fail "making the streams"
import msgpack, numpy as np
def sc(p, lab):
    return msgpack.packb({"type": "scores", "label": lab, "model": "m",
                          "tensor": {"dtype": "float32", "shape": [4], "data": np.array(p, np.float32).tobytes()}})
# run A saw images X and Y, run B images Z and W: no image in common
open("a.mp", "wb").write(sc([.7, .1, .1, .1], 0) + sc([.1, .7, .1, .1], 1))
open("b.mp", "wb").write(sc([.7, .1, .1, .1], 0) + sc([.1, .7, .1, .1], 1))
PY
expect_exit 1 fpdiff a.mp b.mp
expect_stderr "id"
expect_exit 1 errstats --compare b.mp a.mp
expect_stderr "id"
