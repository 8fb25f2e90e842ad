# A checkpoint cut short while a program reads it (cp NEW OLD over the file
# a run is loading: cp truncates it in place): the file is mapped
# (common/ckpt.c), and a page past the new end raises SIGBUS, so ckptinfo
# (-r here; rnencode, txtencode and txtembed-load load the same way) dies
# with a bus error, exit 135, no line said. Right: exit 1 or 2 with one
# line naming the file (or exit 0 when the read ended first), never a signal.
# A sparse 1 GiB safetensors file: reading it takes about 2 s, the cut comes
# after 0.2 s.
$PY - <<'PY' || fail "making the file"
import json, os, struct
n = 1 << 28
h = json.dumps({"x": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
h += b" " * (-len(h) % 8)
open("big.safetensors", "wb").write(struct.pack("<Q", len(h)) + h)
os.truncate("big.safetensors", 8 + len(h) + 4 * n)
PY
ckptinfo --read --no-file-sha256 big.safetensors >out 2>err &
pid=$!
sleep 0.2
truncate -s 4096 big.safetensors
wait $pid
rc=$?
[ $rc -le 2 ] || fail "ckptinfo --read on a file cut while read: exit $rc (signal $((rc - 128)))"
[ $rc = 0 ] || expect_stderr "^ckptinfo: big.safetensors: "
