# The hostile-input suite, bounded for make test (tests/hostile/README.md):
#   1. every reproducer tests/hostile/cases/NAME.sh, which checks the right
#      behaviour for a bug the suite found; those listed in known-failures.txt
#      are not fixed yet: they are reported as known, and one that passes
#      fails this test until its line is deleted;
#   2. hostile.py over a fixed seed: $HOSTILE_CASES mutated inputs of each
#      kind (record streams, checkpoints, images, tar shards) through the
#      programs, the rules of tests/hostile/core.py checked on every run; a
#      failure prints its seed and case and keeps the case under
#      build/hostile-failures/. make hostile runs it for longer.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
need_py PIL
H=$ROOT/tests/hostile
KNOWN=$H/known-failures.txt
known() { grep -q "^$1\(	\|$\)" "$KNOWN"; }
bad=0
for c in "$H"/cases/*.sh; do
	name=$(basename "$c" .sh)
	mkdir "$T/$name"
	(cd "$T/$name" && source "$ROOT/tests/lib.sh" && source "$c") >"$T/$name.log" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		echo "skip  $name: $(tail -n 1 "$T/$name.log")"
	elif known "$name"; then
		if [ $rc = 0 ]; then
			echo "FIXED $name passes: delete its line in tests/hostile/known-failures.txt"
			bad=1
		else
			echo "known $name: $(grep -m1 'FAIL' "$T/$name.log" | cut -c1-200)"
		fi
	elif [ $rc != 0 ]; then
		echo "FAIL  $name:"
		sed 's/^/      | /' "$T/$name.log" | tail -n 20
		bad=1
	fi
done
kinds=stream,image,tar
if $PY -c 'import torch' 2>/dev/null; then
	source "$ROOT/tests/fixtures.sh"
	need_checkpoints
	kinds=$kinds,ckpt
	export RNENC_HOSTILE_WEIGHTS=$CKPT_DIR/resnet50.pth
else
	echo "no torch for $PY: checkpoints left out"
fi
$PY "$H/hostile.py" --kinds $kinds --seed 1 --cases "${HOSTILE_CASES:-40}" --rnencode 2 --bin "$BIN" \
	--keep "$ROOT/build/hostile-failures" || bad=1
[ $bad = 0 ] || fail "hostile inputs: see above"
