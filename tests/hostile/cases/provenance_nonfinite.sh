# errstats (errtree and fpdiff alike: prov_put_text_value in
# common/stream/provenance.c) echoes the headers of a stream in its text
# report, and a header value NaN or Inf printed as 'label=nan', a number no
# report may show with exit 0 (found by hostile.py --kinds stream --seed 505
# --case 2328). Right: the value is named non-finite, as the JSON rendering
# writes null for it.
$PY - <<'PY' || fail "making the stream"
import msgpack, numpy as np
h = {"type": "header", "producer": "zscore", "version": "1", "argv": ["zscore"], "label": float("nan"),
     "scale": float("-inf")}
s = {"type": "scores", "id": "a", "label": 1, "model": "m",
     "tensor": {"dtype": "float32", "shape": [4], "data": np.array([.1, .7, .1, .1], np.float32).tobytes()}}
open("h.mp", "wb").write(msgpack.packb(h) + msgpack.packb(s))
PY
expect_exit 0 errstats h.mp
grep -q "label=" out || fail "no provenance line: $(cat out)"
! grep -Eiq "(^|[^[:alnum:]_/])[-+]?(nan|inf|infinity)([^[:alnum:]_/]|$)" out || fail "a non-finite number: $(grep -Ei 'nan|inf' out)"
