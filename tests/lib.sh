# tests/lib.sh - helpers for the shell tests (source it first).
# Each test runs in its own empty directory $T; fail() ends it.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
# expect_exit CODE CMD... : run CMD with stdout to out, stderr to err; check status
expect_exit() {
	local want=$1; shift
	"$@" >out 2>err
	local got=$?
	[ "$got" = "$want" ] || { echo "stderr:"; cat err; fail "'$*' exited $got, expected $want"; }
}
# stdout of the last expect_exit must be empty
expect_empty_stdout() { [ ! -s out ] || fail "stdout not empty ($(wc -c <out) bytes)"; }
# stderr must match an extended regex
expect_stderr() { grep -Eq -- "$1" err || { echo "stderr was:"; cat err; fail "stderr does not match /$1/"; }; }
need_py() { $PY -c "import $1" 2>/dev/null || skip "python module $1 not installed for $PY"; }
# golden NAME FILE: FILE must equal $G/NAME, the caller's folder of golden files
# (UPDATE_GOLDEN=1 rewrites the golden file first, for a deliberate change)
golden() {
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$2" "$G/$1"; fi
	diff -u "$G/$1" "$2" || fail "$2 differs from golden/$1"
}
