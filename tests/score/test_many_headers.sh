# A stream of many shards' headers (200,000 distinct, 7 MB) through
# errstats and fpdiff: linear time and bounded memory (the first 64
# distinct headers are kept and printed, the rest counted and the report
# says so); before, each new header was compared with every earlier one
# (80,000 took 18 s and 355 MB, 200,000 never finished).
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
$PY - <<'PY' || fail "streams"
import msgpack
import numpy as np
from score_numpy import tensor
with open("many.mp", "wb") as f:
    for i in range(200000):
        f.write(msgpack.packb({"type": "header", "producer": "r", "argv": ["r", i]}))
    for i in range(200000):  # the same headers again (a stream cat'ed twice): repeats, not new ones
        if i % 1000 == 0:
            f.write(msgpack.packb({"type": "header", "producer": "r", "argv": ["r", i]}))
    for i in range(3):
        f.write(msgpack.packb({"type": "scores", "id": f"x{i}", "label": i, "tensor": tensor(np.eye(4, dtype=np.float32)[i])}))
PY
# runs CMD, prints its peak RSS in MiB and its seconds on stderr's last line
peak() {
	$PY -c "
import resource, subprocess, sys, time
t = time.time()
rc = subprocess.call(sys.argv[1:], stdout=open('out', 'wb'), stderr=open('err', 'wb'))
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(rc, int(r.ru_maxrss / 1024), round(time.time() - t, 2))" "$@"
}
read rc mib secs < <(peak errstats many.mp)
[ "$rc" = 0 ] || fail "errstats exited $rc: $(cat err)"
grep -q '^  \.\.\. and 199936 more distinct header records, not shown (the first 64 are)$' out || fail "errstats: $(grep -m3 'more\|no header' out)"
[ "$(grep -c '^  r: | r [0-9]*$' out)" = 64 ] || fail "errstats: $(grep -c '^  r: ' out) header lines"
# generous bounds (a loaded CI machine): the quadratic code took minutes (ASan's
# quarantine keeps freed memory: a looser memory bound there)
maxmib=150
[ "${ASAN:-0}" = 1 ] && maxmib=1024
[ "$mib" -lt $maxmib ] && [ "${secs%.*}" -lt 20 ] || fail "errstats: $mib MiB, $secs s for 200,000 headers"
echo "errstats: $mib MiB, $secs s"
expect_exit 0 errstats --json many.mp
$PY -c "
import json
p = json.load(open('out'))['runs'][0]['provenance']
assert len(p['headers']) == 64 and p['headers_not_shown'] == 199936 and p['not_shown_exact'], p['headers_not_shown']" ||
	fail "errstats --json: not shown counts"
read rc mib secs < <(peak fpdiff many.mp many.mp)
[ "$rc" = 0 ] || fail "fpdiff exited $rc: $(cat err)"
[ "$(grep -c '\.\.\. and 199936 more distinct header records' out)" = 2 ] || fail "fpdiff: $(grep -m3 more out)"
[ "$mib" -lt $maxmib ] && [ "${secs%.*}" -lt 20 ] || fail "fpdiff: $mib MiB, $secs s for 2 x 200,000 headers"
echo "fpdiff: $mib MiB, $secs s"
exit 0
