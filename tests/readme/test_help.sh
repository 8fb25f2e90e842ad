# Every program: --help teaches on stdout within 80 columns and exits 0; an
# unknown option is said as GNU tools say it (the error, then "Try 'PROG
# --help'."), exit 2, empty stdout.
source "$ROOT/tests/lib.sh"
progs=$(cd "$ROOT/cmd" && ls *.c | sed 's/\.c$//')
[ -n "$progs" ] || fail "no programs found in cmd/"
for p in $progs; do
	expect_exit 0 "$p" --help
	[ ! -s err ] || fail "$p --help wrote to stderr: $(cat err)"
	head -1 out | grep -q "^Usage: $p " || fail "$p --help: first line is not 'Usage: $p ...': $(head -1 out)"
	grep -q '^Exit status' out || fail "$p --help: no 'Exit status' paragraph"
	grep -q '^Examples:' out || fail "$p --help: no 'Examples:' paragraph"
	# characters, not bytes: the help may hold UTF-8
	$PY -c '
import sys
bad = [(i + 1, len(l)) for i, l in enumerate(open("out", encoding="utf-8").read().split("\n")) if len(l) > 80]
sys.exit("%s: lines over 80 columns (line, width): %s" % (sys.argv[1], bad) if bad else 0)' "$p" ||
		fail "$p --help is wider than a terminal"
	expect_exit 2 "$p" --no-such-option
	expect_empty_stdout
	[ "$(wc -l < err)" = 2 ] || fail "$p --no-such-option: $(wc -l < err) stderr lines, expected two: $(cat err)"
	head -1 err | grep -q "^$p: .*no-such-option" || fail "$p --no-such-option: $(cat err)"
	[ "$(tail -1 err)" = "Try '$p --help'." ] || fail "$p --no-such-option: $(cat err)"
done
