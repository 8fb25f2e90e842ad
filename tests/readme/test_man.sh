# The man pages and bash completion made from each program's --help
# (doc/help2man.sh, as make man and make install make them): every page
# formats under `man -l` with no groff warning, has the sections a man page
# has, and carries the help's options, exit status and examples; the
# completion file is valid bash and offers the program's flags.
source "$ROOT/tests/lib.sh"
command -v man >/dev/null || skip "needs man (man-db)"
progs=$(cd "$ROOT/cmd" && ls *.c | sed 's/\.c$//')
for p in $progs; do
	"$ROOT/doc/help2man.sh" man "$BIN/$p" >"$p.1" || fail "help2man.sh man $p failed"
	MANWIDTH=80 man -l --warnings -E UTF-8 "$p.1" >"$p.txt" 2>"$p.warn" || fail "man -l $p.1 failed: $(cat "$p.warn")"
	[ ! -s "$p.warn" ] || fail "man -l $p.1 warns: $(head -3 "$p.warn")"
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' EXAMPLES; do
		grep -qx "$sec" "$p.txt" || fail "$p.1 has no $sec section"
	done
	grep -qE "^       $p - [A-Z]" "$p.txt" || fail "$p.1: NAME is not '$p - what it does': $(sed -n 4p "$p.txt")"
	# every option of --help is in OPTIONS, every example in EXAMPLES (as typed: \- is -)
	"$BIN/$p" --help >help.txt
	grep -oE '^ {2,6}-[^ ]*( [A-Z][A-Z_.,|]*)?' help.txt | sed 's/^ *//' | while read -r opt; do
		grep -qF -- "$opt" "$p.txt" || { echo "$p.1 lacks the option '$opt'"; exit 1; }
	done || fail "$p.1 lacks options of its --help"
	awk '/^Examples:/ { on = 1; next } on && /^$/ { exit } on' help.txt | sed 's/^ *//' | while read -r ex; do
		grep -qF -- "$ex" "$p.txt" || { echo "$p.1 lacks the example '$ex'"; exit 1; }
	done || fail "$p.1 lacks examples of its --help"
	grep -q '^Exit status' help.txt && grep -q 'Exit status' "$p.txt" || fail "$p.1: no exit status text"
done
"$ROOT/doc/help2man.sh" completion $(for p in $progs; do echo "$BIN/$p"; done) >c.bash || fail "help2man.sh completion failed"
bash -n c.bash || fail "the completion file is not valid bash"
# complete `imgdecode --pre` and `rnencode --fp` as bash would
out=$(bash -c 'source ./c.bash
COMP_WORDS=(imgdecode --pre); COMP_CWORD=1; _rnenc_imgdecode; echo "${COMPREPLY[*]}"
COMP_WORDS=(rnencode --fp); COMP_CWORD=1; _rnenc_rnencode; echo "${COMPREPLY[*]}"')
[ "$out" = "--preset
--fp16" ] || fail "completion: $out"
exit 0
