# imgdecode, one id for two inputs: two folder arguments holding the same
# relative path (a/x.jpg and b/x.jpg are both id 'x.jpg'), or one file named
# twice, gave two image records with one id and exit 0; downstream every
# report matches images by id (errstats keeps the first and calls the second
# a repeat, fpdiff and errtree --compare pair the wrong ones). Right: the
# second input with an id already given is an error record naming the
# first's path, exit 1 (one record per input, every id once).
mkdir a b
cp "$TESTDATA/imgdecode/tiny_7x5.jpg" a/x.jpg
cp "$TESTDATA/imgdecode/small_100x80.jpg" b/x.jpg
ids() { recview -t image -t error "$1" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["type"], r["id"])'; }
for args in "a b" "a/x.jpg a/x.jpg" "-j 2 a b"; do
	expect_exit 1 imgdecode $args
	cp out o.mp
	[ "$(ids o.mp | grep -c '^image x.jpg$\|^image a/x.jpg$')" = 1 ] || fail "imgdecode $args: $(ids o.mp | tr '\n' ' ')"
	[ "$(ids o.mp | grep -c '^error ')" = 1 ] || fail "imgdecode $args: no error record for the second: $(ids o.mp | tr '\n' ' ')"
	expect_stderr "^imgdecode: .*x.jpg"
done
# two shards with one base name give the same ids (s.tar/x): the second's
# samples are errors, one each
mkdir c d
$PY - <<'PY' || fail "making the shards"
import io, os, tarfile
img = open(os.environ["TESTDATA"] + "/imgdecode/tiny_7x5.jpg", "rb").read()
for d in ("c", "d"):
    with tarfile.open(d + "/s.tar", "w", format=tarfile.USTAR_FORMAT) as tf:
        for k in ("x", "y"):
            ti = tarfile.TarInfo(k + ".jpg"); ti.size = len(img); tf.addfile(ti, io.BytesIO(img))
PY
expect_exit 1 imgdecode c/s.tar d/s.tar
[ "$(ids out | tr '\n' ' ')" = "image s.tar/x image s.tar/y error s.tar/x error s.tar/y " ] || fail "two shards named s.tar: $(ids out | tr '\n' ' ')"
expect_stderr "^imgdecode: d/s.tar/x.jpg: id 's.tar/x' was given already: a shard named 's.tar' was read before, from c/s.tar/x.jpg"
