# txtembed-load: .npy [K,D] and [K,T,D] (float16/float32) against numpy's
# CLIP-notebook averaging, [D,K] with --transpose, safetensors (one tensor,
# --tensor), msgpack streams, provenance, and the mismatch errors.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py

$PY - <<'EOF' || fail "making the inputs"
import json, struct
import numpy as np
rng = np.random.default_rng(3)
np.save("kt16.npy", rng.standard_normal((5, 7, 16)).astype(np.float16))
kd = rng.standard_normal((5, 16)).astype(np.float32)
np.save("kd32.npy", kd)
np.save("dk32.npy", np.ascontiguousarray(kd.T))
np.save("int.npy", np.arange(10, dtype=np.int32).reshape(5, 2))
z = kd.copy(); z[2] = 0; np.save("zero.npy", z)
n = kd.copy(); n[4, 3] = np.nan; np.save("nan.npy", n)
def safetensors(path, tensors):  # u64 LE header length, JSON header, data
    hdr, data = {}, b""
    for name, t in tensors.items():
        t = np.ascontiguousarray(t)
        hdr[name] = {"dtype": {"float32": "F32", "float16": "F16"}[str(t.dtype)], "shape": list(t.shape),
                     "data_offsets": [len(data), len(data) + t.nbytes]}
        data += t.tobytes()
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
safetensors("one.safetensors", {"text": kd})
safetensors("two.safetensors", {"text": kd, "per_template": rng.standard_normal((5, 3, 16)).astype(np.float16)})
open("names5.txt", "w").write("tench\ngoldfish\ngreat white shark\ntiger shark\nhammerhead\n")
open("names4.txt", "w").write("tench\ngoldfish\ngreat white shark\ntiger shark\n")
open("gap.txt", "w").write("tench\n\ngoldfish\n")
EOF

check() { # check OUT INPUT.npy [transpose]: the classes record against numpy
	$PY - "$@" <<'EOF' || fail "values of $1 vs $2"
import sys
import numpy as np
from score_numpy import records, untensor
out, src = sys.argv[1], sys.argv[2]
a = np.load(src).astype(np.float64)
if len(sys.argv) > 3:
    a = a.T
if a.ndim == 3:  # CLIP's notebook: normalize each template, mean, normalize
    a = a / np.linalg.norm(a, axis=2, keepdims=True)
    a = a.mean(1)
want = a / np.linalg.norm(a, axis=1, keepdims=True)
r = records(out)
c = [x for x in r if x["type"] == "classes"]
assert len(c) == 1, [x["type"] for x in r]
got = untensor(c[0]["tensor"])
assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape)
err = np.abs(got - want).max()
assert err < 1e-6, f"max |diff| {err}"
assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)
print(f"{out}: max |diff| {err:.3g}")
EOF
}

expect_exit 0 txtembed-load --names names5.txt kt16.npy
mv out kt16.mp
check kt16.mp kt16.npy
$PY - <<'EOF' || fail "classes record keys"
import hashlib
from score_numpy import records
h, c = records("kt16.mp")
assert h["type"] == "header" and h["producer"] == "txtembed-load" and h["source_format"] == "npy"
sha = hashlib.sha256(open("kt16.npy", "rb").read()).hexdigest()
assert h["source_sha256"] == sha and c["source_sha256"] == sha and c["source"] == "kt16.npy"
assert c["names"] == ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
assert c["model"] == "clip-rn50" and c["logit_scale"] == 100.0 and c["templates"] == 7
EOF

expect_exit 0 txtembed-load --names names5.txt --model my-rn50 --logit-scale 50 kd32.npy
check out kd32.npy
$PY -c "
from score_numpy import records
c = records('out')[1]; assert c['model'] == 'my-rn50' and c['logit_scale'] == 50.0 and c['templates'] == 1
" || fail "--model/--logit-scale"

# CLIP's zeroshot_weights are [D,K]: the count mismatch suggests --transpose
expect_exit 2 txtembed-load --names names5.txt dk32.npy
expect_stderr "names5.txt has 5 names but dk32.npy has 16 rows \(shape \[16,5\]\); if the table is \[D,K\], add --transpose"
expect_empty_stdout
expect_exit 0 txtembed-load --names names5.txt --transpose dk32.npy
check out dk32.npy transpose

# safetensors through common/ckpt/ckpt.h
expect_exit 0 txtembed-load --names names5.txt one.safetensors
check out kd32.npy
$PY -c "
from score_numpy import records
assert records('out')[0]['source_format'] == 'checkpoint'
" || fail "safetensors format"
expect_exit 2 txtembed-load --names names5.txt two.safetensors
expect_stderr "two.safetensors: 2 tensors \(text, per_template...\): pick one with --tensor NAME"
expect_exit 0 txtembed-load --names names5.txt --tensor text two.safetensors
check out kd32.npy
expect_exit 2 txtembed-load --names names5.txt --tensor nope two.safetensors
expect_stderr "no tensor named 'nope'"

# a msgpack stream: its own names serve; headers pass through, after ours
expect_exit 0 txtembed-load kt16.mp
mv out again.mp
check again.mp kt16.npy
$PY -c "
from score_numpy import records
r = records('again.mp')
assert [x['type'] for x in r] == ['header', 'header', 'classes'], r
assert r[0]['source'] == 'kt16.mp' and r[1]['source'] == 'kt16.npy'
assert r[2]['templates'] == 7 and r[2]['names'][2] == 'great white shark'
" || fail "msgpack input"
txtembed-load < kt16.mp > stdin.mp || fail "stdin input"
$PY -c "
from score_numpy import records
r = records('stdin.mp'); assert r[0]['source'] == 'stdin' and r[0]['source_sha256'] is None
" || fail "stdin provenance"
expect_exit 2 txtembed-load --names names4.txt kt16.mp
expect_stderr "names4.txt has 4 names but classes record 1 has 5 classes"
$PY -c "
import msgpack
r = list(msgpack.Unpacker(open('kt16.mp', 'rb'), raw=False))
c = dict(r[1]); c['logit_scale'] = 'oops'
open('badscale.mp', 'wb').write(msgpack.packb(c))
c = dict(r[1]); c['names'] = ['n%d' % i for i in range(c['tensor']['shape'][-1])]
open('widenames.mp', 'wb').write(msgpack.packb(c))
" || fail "making the bad classes records"
expect_exit 2 txtembed-load badscale.mp
expect_empty_stdout
expect_stderr "^txtembed-load: badscale.mp: classes record 0: logit_scale is not a number \(give --logit-scale S\)$"
expect_exit 0 txtembed-load --logit-scale 30 badscale.mp
expect_exit 2 txtembed-load widenames.mp
expect_stderr "^txtembed-load: the record's name list has 16 names but classes record 0 has 5 rows"

# what does not fit is fatal, with both sizes named, and nothing on stdout
expect_exit 2 txtembed-load --names names4.txt kd32.npy
expect_stderr "names4.txt has 4 names but kd32.npy has 5 classes \(shape \[5,16\]\)"
expect_empty_stdout
expect_exit 2 txtembed-load --names names5.txt zero.npy
expect_stderr "class 2: the embedding is all zeros"
expect_exit 2 txtembed-load --names names5.txt nan.npy
expect_stderr "class 4: value 3 is NaN"
expect_exit 2 txtembed-load --names names5.txt int.npy
expect_stderr "embeddings are int32: a float type is needed"
expect_exit 2 txtembed-load --names gap.txt kd32.npy
expect_stderr "gap.txt: line 2 is empty \(one entry per line, in order; empty lines only at the end\)"
{ cat names5.txt; printf '\n\n'; } >trailing.txt # an editor's extra newlines at the end are fine
expect_exit 0 txtembed-load --names trailing.txt kd32.npy
expect_exit 2 txtembed-load kd32.npy
expect_stderr "--names FILE is required"
printf 'hello' > junk.bin
expect_exit 2 txtembed-load --names names5.txt junk.bin
expect_exit 2 txtembed-load --names names5.txt missing.npy
expect_exit 0 txtembed-load --help
grep -q "Exit status" out || fail "--help lacks exit statuses"

# numpy's other layouts of the same table: Fortran order (np.save of a transpose)
# and big-endian give the same record; .npz and an unknown dtype say what they are
$PY -c "
import numpy as np
kd = np.load('kd32.npy')
np.save('kd.npy', kd); np.save('kdF.npy', np.asfortranarray(kd)); np.save('kdBE.npy', kd.astype('>f4'))
kt = np.load('kt16.npy'); np.save('kt.npy', kt)
np.save('ktF.npy', np.asfortranarray(kt)); np.save('ktBE.npy', kt.astype('>f2'))
np.savez('kd.npz', a=kd); np.save('kdC.npy', kd.astype(np.complex64))" || fail "making layouts"
for v in F BE; do
	for b in kd kt; do
		txtembed-load --names names5.txt $b.npy >ref.mp 2>/dev/null || fail "$b.npy"
		txtembed-load --names names5.txt $b$v.npy >got.mp || fail "$b$v.npy refused"
		cmp <(recview -t classes ref.mp | sed 's/"source[^,]*,//g') <(recview -t classes got.mp | sed 's/"source[^,]*,//g') ||
			fail "$b$v.npy: another table than $b.npy"
	done
done
expect_exit 2 txtembed-load --names names5.txt kd.npz
expect_stderr "^txtembed-load: kd.npz: a NumPy .npz archive: txtembed-load reads one array"
expect_empty_stdout
expect_exit 2 txtembed-load --names names5.txt kdC.npy
expect_stderr "^txtembed-load: kdC.npy: dtype '<c8' is not one of float16/32/64, int32/64, uint8$"
# a logit scale whose product with a cosine would overflow float (softmax NaN)
expect_exit 2 txtembed-load --names names5.txt --logit-scale 1e39 kd32.npy
expect_stderr "^txtembed-load: --logit-scale: 1e39 is not in \(0, 1e\+06\]"
# --model clip-rn50 knows its width
expect_exit 2 txtembed-load --names names5.txt --model clip-rn50 kd32.npy
expect_stderr "embeddings are [0-9]+ wide; clip-rn50's are 1024"
expect_empty_stdout
# not a record stream, or one cut short: exit 2 and nothing on stdout
echo hello >hello.txt
expect_exit 2 txtembed-load hello.txt
expect_empty_stdout

# the record works in zscore: an embedding equal to row 1 scores class 1 best
$PY -c "
import msgpack, numpy as np, sys
from score_numpy import tensor
kd = np.load('kd32.npy')
sys.stdout.buffer.write(msgpack.packb({'type': 'embedding', 'id': 'q', 'label': 1, 'tensor': tensor(kd[1] * 3)}))
" > q.mp
zscore --classes kt16.mp q.mp > /dev/null || fail "zscore with a 7-template table"
txtembed-load --names names5.txt kd32.npy > kd.mp && zscore --classes kd.mp q.mp | topk -k 1 --format tsv > top.tsv
grep -q "^q	1	1	1	.*	goldfish$" top.tsv || { cat top.tsv; fail "txtembed-load | zscore | topk"; }
exit 0
