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
