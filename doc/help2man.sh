#!/bin/sh
# help2man.sh - a program's man page (or the bash completion of every program),
# made from its --help, so that usage() in cmd/PROG.c stays the one source.
#
#   doc/help2man.sh man PROG_PATH > PROG.1
#   doc/help2man.sh completion PROG_PATH... > rnencode.bash
#
# How --help reads (tests/readme/test_help.sh checks the parts this needs):
# the first line is "Usage: PROG ...", the second says what PROG does;
# paragraphs are separated by blank lines; an option line starts with two to
# six spaces and a dash, and its description begins after a run of two or
# more spaces; "Exit status..." and "Examples:" paragraphs end the help.
# Sections: NAME (the first sentence after it), SYNOPSIS (the Usage lines), DESCRIPTION (the
# paragraphs before the first options), OPTIONS, NOTES (other paragraphs
# after the options), EXIT STATUS, EXAMPLES, SEE ALSO.
set -eu
mode=${1:?usage: help2man.sh man|completion PROG_PATH...}
shift

if [ "$mode" = completion ]; then
	# every --long and -s flag of each program; a flag followed by an
	# upper-case word (FILE, N) takes an argument and completes file names
	echo "# bash completion for rnencode's programs, made from their --help (doc/help2man.sh)"
	for p in "$@"; do
		name=$(basename -- "$p")
		fn=_rnenc_$(echo "$name" | tr -c 'a-zA-Z0-9_\n' _)
		flags=$("$p" --help | grep -E '^ {2,6}-' | grep -oE '(^|[ ,])--?[a-zA-Z0-9][-a-zA-Z0-9]*' |
			sed 's/^[ ,]*//' | sort -u | tr '\n' ' ')
		printf '%s() {\n' "$fn"
		printf '\tlocal cur=${COMP_WORDS[COMP_CWORD]}\n'
		printf '\tif [[ $cur == -* ]]; then\n'
		printf '\t\tCOMPREPLY=($(compgen -W "%s" -- "$cur"))\n' "${flags% }"
		printf '\telse\n\t\tCOMPREPLY=($(compgen -f -- "$cur"))\n\tfi\n}\n'
		printf 'complete -o filenames -F %s %s\n' "$fn" "$name"
	done
	exit 0
fi

[ "$mode" = man ] || { echo "help2man.sh: unknown mode '$mode' (man, completion)" >&2; exit 2; }
p=${1:?usage: help2man.sh man PROG_PATH}
name=$(basename -- "$p")
help=$("$p" --help) || { echo "help2man.sh: $p --help failed" >&2; exit 2; }
printf '%s\n' "$help" | awk -v name="$name" '
# roff: a backslash is \e, a dash \- (so that options copy as typed), a line
# starting with . or '"'"' would be a request
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.'"'"']/) s = "\\&" s
	return s
}
# an option line: two to six spaces, then a dash (mawk has no {m,n})
function is_opt(l) { return match(l, /^  +-/) && RLENGTH <= 7 }
function flush(   i, sec) {
	if (n == 0) return
	if (par[1] ~ /^Examples:/) sec = "EXAMPLES"
	else if (par[1] ~ /^Exit status/) sec = "EXIT STATUS"
	else if (has_opt) { sec = "OPTIONS"; seen_opts = 1 }
	else sec = seen_opts ? "NOTES" : "DESCRIPTION"
	out[sec] = out[sec] render(sec)
	n = 0; has_opt = 0
}
# one paragraph as roff: option lines as .TP entries (their continuation
# lines filled into them), other indented text as laid out (.nf), plain text
# filled
function render(sec,   s, i, l, m, nf, tp, flags, desc) {
	s = ""; nf = 0; tp = 0
	for (i = 1; i <= n; i++) {
		l = par[i]
		if (sec == "EXAMPLES") {
			if (i == 1) { sub(/^Examples: */, "", l); if (l == "") continue }
			sub(/^  /, "", l)
			if (!nf) { s = s ".nf\n"; nf = 1 }
			s = s esc(l) "\n"
			continue
		}
		if (is_opt(l)) {
			if (nf) { s = s ".fi\n"; nf = 0 }
			sub(/^ +/, "", l)
			m = match(l, /  +[^ ]/)
			if (m) { flags = substr(l, 1, m - 1); desc = substr(l, m); sub(/^ +/, "", desc) }
			else { flags = l; desc = "" }
			s = s ".TP\n.B " esc(flags) "\n" (desc != "" ? esc(desc) "\n" : "")
			tp = 1
			continue
		}
		if (tp && match(l, /^ +[^ ]/) && RLENGTH >= 8) {
			sub(/^ +/, "", l)
			s = s esc(l) "\n"
			continue
		}
		if (tp) { s = s ".PP\n"; tp = 0 }
		if (l ~ /^ /) {
			if (!nf) { s = s ".nf\n"; nf = 1 }
		} else if (nf) { s = s ".fi\n"; nf = 0 }
		s = s esc(l) "\n"
	}
	if (nf) s = s ".fi\n"
	return s ".PP\n"
}
NR == 1 {
	syn = $0; sub(/^Usage: */, "", syn)
	next
}
/^ +or: / && NR <= 4 { l = $0; sub(/^ +or: */, "", l); syn2 = syn2 l "\n"; next }
# a second usage line under the first, aligned: "       prog [OPTIONS] ..."
NR <= 4 && !first_done && first == "" && index($0, name " ") && $0 ~ /^ +[^ ]/ && substr(l2 = $0, match(l2, /[^ ]/)) ~ ("^" name " ") {
	l = $0; sub(/^ +/, "", l); syn2 = syn2 l "\n"; next
}
/^$/ { flush(); first_done = 1; next }
!first_done { l = $0; sub(/^ +/, "", l); first = first (first == "" ? "" : " ") l }
{ par[++n] = $0; if (is_opt($0)) has_opt = 1 }
END {
	flush()
	up = toupper(name)
	# NAME: the first sentence of the help
	summary = match(first, /[.?!]( |$)/) ? substr(first, 1, RSTART) : first
	sub(/[.]$/, "", summary)
	# a long one to its first clause: whatis(1) lists one line per page
	if (length(summary) > 90 && match(summary, /[:;] /)) summary = substr(summary, 1, RSTART - 1)
	print ".\\\" Made by doc/help2man.sh from `" name " --help`: edit usage() in cmd/" name ".c, not this file."
	print ".TH " up " 1 \"\" \"rnencode\" \"rnencode manual\""
	print ".nh"
	print ".ad l"
	print ".SH NAME"
	print name " \\- " esc(summary)
	print ".SH SYNOPSIS"
	print ".nf"
	print esc(syn)
	if (syn2 != "") printf "%s", esc(syn2)
	print ".fi"
	split("DESCRIPTION OPTIONS NOTES EXIT\001STATUS EXAMPLES", order, " ")
	for (i = 1; i <= 5; i++) {
		sec = order[i]; gsub(/\001/, " ", sec)
		if (sec in out) { print ".SH " sec; printf "%s", out[sec] }
	}
	print ".SH SEE ALSO"
	print "The README.md and doc/ of rnencode; records: doc/records.md."
}'
