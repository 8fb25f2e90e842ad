/* test_brace.c - common/util/brace.c: ranges (padding, descending, negative),
 * steps and letter ranges, lists (empty items, nesting), several groups multiplying left to right,
 * the name limit, and malformed patterns with their messages. Expected
 * lists are what bash and Python's braceexpand give for the same patterns. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "check.h"

/* pattern expands (limit max) to the names in want, separated by spaces
 * ("" for an empty name is written as "<>"). */
static void expect(const char *pattern, size_t max, const char *want)
{
	brace_list_t l;
	char err[200] = "";
	int r = brace_expand(pattern, max, &l, err, sizeof err);
	CHECK(r == 0, "%s: failed: %s", pattern, err);
	if (r != 0)
		return;
	char got[4096] = "";
	size_t n = 0;
	for (size_t i = 0; i < l.n && n < sizeof got - 64; i++)
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", i ? " " : "", l.v[i][0] ? l.v[i] : "<>");
	CHECK(strcmp(got, want) == 0, "%s: got '%s', want '%s'", pattern, got, want);
	brace_list_free(&l);
	CHECK(l.n == 0 && l.v == NULL, "%s: list not emptied", pattern);
}

/* pattern is refused with a message containing want */
static void refused(const char *pattern, size_t max, const char *want)
{
	brace_list_t l;
	char err[200] = "";
	int r = brace_expand(pattern, max, &l, err, sizeof err);
	CHECK(r == -1, "%.40s: accepted (%zu names)", pattern, l.n);
	CHECK(r == -1 || l.n == 0, "%.40s", pattern);
	CHECK(r != -1 || (l.n == 0 && l.v == NULL), "%.40s: names left after a failure", pattern);
	CHECK(strstr(err, want) != NULL, "%.40s: message '%s', want '%s'", pattern, err, want);
	if (r == 0)
		brace_list_free(&l);
}

int main(void)
{
	expect("plain.tar", 10, "plain.tar");
	expect("", 10, "<>");
	expect("part-{000..003}.tar", 10, "part-000.tar part-001.tar part-002.tar part-003.tar");
	expect("{0..2}", 10, "0 1 2");
	expect("{3..1}", 10, "3 2 1");
	expect("{5..5}", 10, "5");
	expect("{8..010}", 10, "008 009 010");
	expect("{9..11}", 10, "9 10 11");
	expect("{0..1}x", 10, "0x 1x");
	expect("{-1..1}", 10, "-1 0 1");
	expect("{-02..1}", 10, "-02 -01 000 001");
	expect("{1..-1}", 10, "1 0 -1");
	expect("a{1,2}b{x,y}", 10, "a1bx a1by a2bx a2by");
	expect("{a,,b}", 10, "a <> b");
	expect("{,}", 10, "<> <>");
	expect("{a,{1..2}}", 10, "a 1 2");
	expect("x{a,b{c,d}}y", 10, "xay xbcy xbdy");
	expect("d/{a,b}/s-{00..01}.tar", 10, "d/a/s-00.tar d/a/s-01.tar d/b/s-00.tar d/b/s-01.tar");
	expect("{0..2}{0..2}", 9, "00 01 02 10 11 12 20 21 22");
	/* steps and letters, as bash 5 gives them */
	expect("{1..2..3}", 10, "1");
	expect("{0..10..5}", 10, "0 5 10");
	expect("{10..0..3}", 10, "10 7 4 1");
	expect("{1..10..-3}", 10, "1 4 7 10");
	expect("{1..5..0}", 10, "1 2 3 4 5");
	expect("{007..10..2}", 10, "007 009");
	expect("{a..e}", 10, "a b c d e");
	expect("{e..a..2}", 10, "e c a");
	expect("{a..c..0}", 10, "a b c");
	expect("s-{A..B}{0..1}", 10, "s-A0 s-A1 s-B0 s-B1");

	/* the limit: exactly max names is fine, one more is not */
	brace_list_t l;
	char err[200];
	CHECK(brace_expand("s{0..9}{0..9}{0..9}{0..9}{0..9}{0..9}", 1000000, &l, err, sizeof err) == 0, "%s", err);
	CHECK(l.n == 1000000 && strcmp(l.v[0], "s000000") == 0 && strcmp(l.v[999999], "s999999") == 0 &&
		      strcmp(l.v[123456], "s123456") == 0,
	      "1e6 names: %zu", l.n);
	brace_list_free(&l);
	CHECK(brace_expand("{0..999999}", 1000000, &l, err, sizeof err) == 0 && l.n == 1000000, "%s", err);
	brace_list_free(&l);
	refused("{0..1000000}", 1000000, "more than 1000000 names");
	refused("s{0..9}{0..9}{0..9}{0..9}{0..9}{0..9}{0,1}", 1000000, "more than 1000000 names");
	refused("{0,1}s{0..9}{0..9}{0..9}{0..9}{0..9}{0..9}", 1000000, "more than 1000000 names");
	refused("{0..999999999999999999}", 1000000, "more than 1000000 names");
	refused("{-999999999999999999..999999999999999999..1}", 1000000, "more than 1000000 names");
	refused("{a,b,c}", 2, "more than 2 names");
	refused("{{a,b},{c,d}}", 3, "more than 3 names");

	/* malformed */
	refused("x}", 10, "'}' at byte 1 closes no '{'");
	refused("{a,b", 10, "'{' at byte 0 has no matching '}'");
	refused("ab{a,{b}", 10, "'{' at byte 2 has no matching '}'");
	refused("p{a}", 10, "'{a}' at byte 1 is neither a list {a,b,...} nor a range {A..B[..STEP]} of integers or letters");
	refused("{}", 10, "'{}' at byte 0 is neither");
	refused("{1..}", 10, "is neither");
	refused("{..3}", 10, "is neither");
	refused("{1...3}", 10, "is neither");
	refused("{1..3..}", 10, "is neither");
	refused("{1..3..x}", 10, "is neither");
	refused("{1..3..1..2}", 10, "is neither");
	refused("{a..5}", 10, "is neither");
	refused("{aa..c}", 10, "is neither");
	refused("{a..c..}", 10, "is neither");
	refused("{1.5..3}", 10, "is neither");
	refused("{-..3}", 10, "is neither");
	refused("{0000000000000000001..2}", 10, "is neither");
	refused("{a,b}{c}", 10, "'{c}' at byte 5 is neither");
	refused("{a,{c}}", 10, "'{c}' at byte 3 is neither");
	char big[BRACE_PATTERN_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	refused(big, 10, "pattern of 4097 bytes (limit 4096)");
	return check_report();
}
