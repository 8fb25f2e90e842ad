#!/usr/bin/env bash
# Handmade files (tests/py/ckpt_files.py): rare legal forms read correctly (ZIP64,
# misaligned and strided storages, TorchScript object trees with protocol 4
# opcodes, legacy storage views, escaped safetensors names); hostile and broken
# files (forbidden globals, offsets and shapes past the data, truncated or
# compressed zips, lying safetensors headers, ...) each refused with exit 2, no
# output and a line naming the problem; fuzz regression inputs never crash.
source "$ROOT/tests/lib.sh"
$PY "$ROOT/tests/py/ckpt_files.py" . || fail "ckpt_files.py failed"
for f in good/*; do
	expect_exit 0 ckptinfo --json --tensor-sha256 "$f"
	$PY "$ROOT/tests/py/ckpt_compare.py" good.json "$(basename "$f")" <out || fail "$f read wrongly"
done
n=0
while IFS=$'\t' read -r f re; do
	expect_exit 1 ckptinfo "bad/$f"
	expect_empty_stdout
	expect_stderr "^ckptinfo: bad/$f: .*($re)"
	[ "$(wc -l <err)" = 1 ] || fail "bad/$f: more than one error line"
	n=$((n + 1))
done <bad.tsv
[ $n -ge 40 ] || fail "only $n hostile files checked"
for f in "$ROOT"/testdata/ckpt/*; do
	ckptinfo --no-file-sha256 "$f" >out 2>err
	rc=$?
	[ $rc = 0 ] || [ $rc = 2 ] || { cat err; fail "$f: exit $rc (crash?)"; }
done
exit 0
