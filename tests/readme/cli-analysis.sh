# Fixtures for cli-analysis.tsv (sourced by test_cli.sh): the hand-made
# WordNet (h/), one scores stream of its 12 classes (s.mp), names for them
# (n.txt) and too few names (n3.txt).
cp -r "$TESTDATA/errtree" h || fail "copying $TESTDATA/errtree"
printf 'x1 0 1\nx2 2 2\nx3 3 3\n' | $PY "$ROOT/tests/py/make_preds.py" --kind scores --model m --classes 12 >s.mp ||
	fail "make_preds"
for i in $(seq 0 11); do echo "class $i"; done >n.txt
printf 'a\nb\nc\n' >n3.txt
