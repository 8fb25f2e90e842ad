# The command line of the analysis programs (errstats, errtree, fpdiff, topk)
# per doc/cli.md, from the table cli-analysis.tsv: program, arguments, exit
# status, a pattern stderr must match (empty: anything), and what stdout
# holds (empty, nonempty, json: one JSON document, or one per line). Old
# spellings work and say their new spelling on stderr.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
cp -r "$TESTDATA/errtree" h
# one stream of 12 classes (the hand-made WordNet's), names for them, and too few
printf 'x1 0 1\nx2 2 2\nx3 3 3\n' | $PY "$ROOT/tests/py/make_preds.py" --kind scores --model m --classes 12 > s.mp ||
	fail "make_preds"
for i in $(seq 0 11); do echo "class $i"; done > n.txt
printf 'a\nb\nc\n' > n3.txt
rows=0
while IFS= read -r row; do
	rows=$((rows + 1))
	# cut, not read: a tab is white space to read, and two would be one
	prog=$(cut -f1 <<<"$row") args=$(cut -f2 <<<"$row") code=$(cut -f3 <<<"$row")
	pattern=$(cut -f4 <<<"$row") check=$(cut -f5 <<<"$row")
	# shellcheck disable=SC2086 # the arguments are words, as in the table
	expect_exit "$code" "$prog" $args
	[ -z "$pattern" ] || expect_stderr "$pattern"
	case $check in
	empty) expect_empty_stdout ;;
	nonempty) [ -s out ] || fail "$prog $args: stdout is empty" ;;
	json)
		[ -s out ] || fail "$prog $args: stdout is empty"
		# one document (errtree's spans lines), else one per line
		$PY -c 'import json
text = open("out", encoding="utf-8").read()
try:
    json.loads(text)
except ValueError:
    for line in text.splitlines():
        json.loads(line)' || fail "$prog $args: stdout is not JSON" ;;
	*) fail "cli-analysis.tsv row $rows: stdout check '$check' is not empty, nonempty or json" ;;
	esac
done < "$ROOT/tests/readme/cli-analysis.tsv"
[ "$rows" -ge 30 ] || fail "cli-analysis.tsv: $rows rows read"
