#!/usr/bin/env bash
# A standard descriptor closed at start (`prog >&-`, `2>&-`, `<&-`): the record
# writers' stdout is a duplicate of descriptor 1, which then points at stderr
# (common/stream/record.c), so a closed one must not let a file opened later
# take its place and be read or written as if it were stdout or stdin
# (diag_init holds /dev/null there). Found by review: `txtembed-load s.mp >&-`
# read its input from stderr once descriptor 1 went over to it.
source "$ROOT/tests/lib.sh"
need_py numpy
IMG=$TESTDATA/images/n01440764_tench.JPEG
# stdout closed: refused before any work, the input file untouched
cp "$IMG" in.jpg
imgdecode in.jpg >&- 2>err
[ $? = 2 ] || fail "imgdecode >&-: exit $?"
expect_stderr '^imgdecode: stdout: closed \(>&-\): nowhere to write the records$'
cmp -s in.jpg "$IMG" || fail "imgdecode >&- changed its input"
printf 'cat\ndog\n' >names.txt
$PY -c 'import numpy as np; np.save("e.npy", np.eye(2, 4, dtype=np.float32))' || fail "numpy"
expect_exit 0 txtembed-load --names names.txt e.npy
mv out s.mp
timeout 20 txtembed-load s.mp >&- 2>err
rc=$?
[ $rc = 2 ] || fail "txtembed-load s.mp >&-: exit $rc (124: it waited on stderr)"
expect_stderr '^txtembed-load: stdout: closed'
# stderr closed: the records still go out whole
imgdecode in.jpg 2>&- >out || fail "imgdecode 2>&-: exit $?"
[ "$(recview -t image out | wc -l)" = 1 ] || fail "imgdecode 2>&-: $(recview out | head -c 300)"
txtembed-load s.mp 2>&- >out || fail "txtembed-load 2>&-: exit $?"
[ "$(recview -t classes out | wc -l)" = 1 ] || fail "txtembed-load 2>&-: $(recview out | head -c 300)"
# stdin closed: an error, not an empty input
zscore --classes s.mp <&- >out 2>err
[ $? = 2 ] || fail "zscore <&-: exit $?"
expect_empty_stdout
expect_stderr '^zscore: stdin: closed \(<&-\): no records to read$'
exit 0
