#!/usr/bin/env bash
# txtembed-load on hostile files, one stderr line naming the real cause, exit 2, no
# output: bytes of no known format say what was looked for (not "--names is
# required for a checkpoint"); a .npy header is read as numpy reads it (a dict with
# its closing brace, (n,) for one dimension) and a key given twice is refused (numpy
# takes the last, a first-match reader the first: the file would mean two arrays);
# a shape whose size overflows says so (not "shape needs -1").
source "$ROOT/tests/lib.sh"
need_py numpy
$PY - <<'PY' || fail "making the files"
import numpy as np, os
def npy(name, header, data=b"\0" * 8):
    h = header.encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    open(name, "wb").write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data)
npy("twice.npy", "{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }")
npy("nobrace.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), ")
npy("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")
npy("notuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }")
npy("extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), 'x': 1}")
npy("good.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", np.float32([1, 2]).tobytes())
open("random.bin", "wb").write(np.random.default_rng(1).bytes(4096))
PY
echo cat >names1.txt
refused() { # FILE REGEX: with --names and without, the same line
	local f=$1 re=$2
	for names in "--names names1.txt" ""; do
		expect_exit 2 txtembed-load $names "$f"
		expect_empty_stdout
		[ "$(wc -l <err)" = 1 ] || fail "$f: $(wc -l <err) stderr lines: $(cat err)"
		expect_stderr "^txtembed-load: $f: $re"
	done
}
refused random.bin "not a format txtembed-load reads: no .npy magic \(.x93NUMPY\), msgpack map, safetensors header, PyTorch/TorchScript zip or legacy torch.save pickle"
expect_exit 2 txtembed-load --names names1.txt twice.npy
expect_stderr "^txtembed-load: twice.npy: bad .npy header: 'descr' appears twice$"
expect_exit 2 txtembed-load --names names1.txt nobrace.npy
expect_stderr "^txtembed-load: nobrace.npy: bad .npy header: the header dict ends without its closing '\}'$"
expect_exit 2 txtembed-load --names names1.txt huge.npy
expect_stderr "^txtembed-load: huge.npy: shape \[4294967296,4294967296\] is too large \(its size overflows 64 bits\)$"
expect_exit 2 txtembed-load --names names1.txt notuple.npy
expect_stderr "'shape' is not a tuple \(one dimension is written \(n,\)\)"
expect_exit 2 txtembed-load --names names1.txt extra.npy
expect_stderr "a key other than 'descr', 'fortran_order' and 'shape'"
expect_exit 0 txtembed-load --names names1.txt good.npy
exit 0
