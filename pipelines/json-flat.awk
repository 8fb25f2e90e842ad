# json-flat.awk - flatten JSON documents into "path<TAB>value" lines, so that
# shell and awk can pick numbers out of the programs' --json reports (the
# study's report is built without python or jq).
#
#   fpdiff --json a.mp b.mp | awk -f pipelines/json-flat.awk
#   probabilities.max_abs_diff	0.00948757
#   runs.0.top1.accuracy	0.5
#
# Paths join object keys and array indices with '.'; strings are printed
# without their quotes, with \" \\ \/ unescaped; \t \n \r and \uXXXX are
# kept as written, so that a value (an id, a file name, an argv word from a
# record) can never split its line or forge a "path<TAB>value" line of its
# own; null, true and false as those words; empty objects and arrays
# print nothing. Input may hold several documents (JSON Lines): each one's
# paths are prefixed with its index when there is more than one,
# "0.producer", "1.producer"... unless -v lines=0 (the default, one document).
# A syntax error prints one line to stderr and exits 2.
BEGIN { RS = "\001"; }
{ text = text $0 }
END {
	n = length(text); pos = 1; doc = 0
	skip_ws()
	while (pos <= n) {
		prefix = lines ? doc "" : ""
		parse_value(prefix)
		doc++
		skip_ws()
	}
	exit(bad ? 2 : 0)
}
function fail(msg) {
	if (!bad) printf "json-flat: %s at byte %d\n", msg, pos > "/dev/stderr"
	bad = 1; pos = n + 1
}
function skip_ws(  c) {
	while (pos <= n) {
		c = substr(text, pos, 1)
		if (c != " " && c != "\t" && c != "\n" && c != "\r") return
		pos++
	}
}
function join(p, k) { return p == "" ? k : p "." k }
function parse_value(path,  c, k, i, s) {
	skip_ws()
	c = substr(text, pos, 1)
	if (c == "{") {
		pos++; skip_ws()
		if (substr(text, pos, 1) == "}") { pos++; return }
		for (;;) {
			skip_ws()
			if (substr(text, pos, 1) != "\"") { fail("expected a key"); return }
			k = parse_string()
			skip_ws()
			if (substr(text, pos, 1) != ":") { fail("expected ':'"); return }
			pos++
			parse_value(join(path, k))
			if (bad) return
			skip_ws(); c = substr(text, pos, 1); pos++
			if (c == "}") return
			if (c != ",") { fail("expected ',' or '}'"); return }
		}
	} else if (c == "[") {
		pos++; skip_ws()
		if (substr(text, pos, 1) == "]") { pos++; return }
		for (i = 0; ; i++) {
			parse_value(join(path, i))
			if (bad) return
			skip_ws(); c = substr(text, pos, 1); pos++
			if (c == "]") return
			if (c != ",") { fail("expected ',' or ']'"); return }
		}
	} else if (c == "\"") {
		s = parse_string()
		print path "\t" s
	} else if (match(substr(text, pos, 64), /^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null)/)) {
		print path "\t" substr(text, pos, RLENGTH)
		pos += RLENGTH
	} else
		fail("unexpected '" c "'")
}
function parse_string(  s, c, e) {
	pos++ # the opening quote
	s = ""
	while (pos <= n) {
		c = substr(text, pos, 1)
		if (c == "\"") { pos++; return s }
		if (c == "\\") {
			e = substr(text, pos + 1, 1)
			if (e == "n" || e == "t" || e == "r" || e == "u") s = s "\\" e
			else s = s e
			pos += 2
			continue
		}
		s = s c
		pos++
	}
	fail("unterminated string")
	return s
}
