/* test_prompts.c - common/text/prompts.c: template filling as Python's str.format
 * does it for "{}", "{0}", "{{", "}}"; the JSON reader on accepted objects
 * (escapes, surrogate pairs, blanks) with the classes and prompts Python's
 * json.loads gives for the same text, and on malformed ones with the byte
 * offset and reason of the message; names x templates with its limits. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text/text.h"

static void format_ok(const char *tpl, const char *name, const char *want)
{
	const char *why = NULL;
	char *got = prompt_format(tpl, name, &why);
	CHECK(got && strcmp(got, want) == 0, "'%s' with '%s': got '%s', want '%s'", tpl, name, got ? got : why, want);
	free(got);
}

static void format_refused(const char *tpl, const char *want)
{
	const char *why = NULL;
	char *got = prompt_format(tpl, "x", &why);
	CHECK(!got && why && strstr(why, want), "'%s': got '%s' / '%s', want refusal '%s'", tpl, got ? got : "",
	      why ? why : "", want);
	free(got);
}

/* text parses to classes and prompts: want is "class=p1|p2;class2=p3" */
static void json_ok(const char *text, const char *want)
{
	prompts_t ps = {0};
	char err[300] = "";
	int r = prompts_from_json(&ps, text, strlen(text), "t.json", err, sizeof err);
	CHECK(r == 0, "%s: refused: %s", text, err);
	char got[2048] = "";
	size_t n = 0;
	for (int i = 0; r == 0 && i < ps.p; i++) {
		int first = i == 0 || ps.cls[i] != ps.cls[i - 1];
		CHECK(ps.slot[i] == (first ? 0 : ps.slot[i - 1] + 1), "%s: prompt %d slot %d", text, i, ps.slot[i]);
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%s%s", first ? (i ? ";" : "") : "|",
				      first ? ps.names[ps.cls[i]] : "", first ? "=" : "");
		n += (size_t)snprintf(got + n, sizeof got - n, "%s", ps.texts[i]);
	}
	CHECK(r != 0 || strcmp(got, want) == 0, "%s: got '%s', want '%s'", text, got, want);
	CHECK(r != 0 || ps.templates == NULL, "%s: JSON sets have no templates", text);
	prompts_free(&ps);
	CHECK(ps.p == 0 && ps.names == NULL, "prompts_free leaves a set behind");
}

/* len bytes of text are refused with a message containing want (and what
 * was read so far is freed without leaks: ASan's leak check in make asan) */
static void json_refused_n(const char *text, size_t len, const char *want)
{
	prompts_t ps = {0};
	char err[300] = "";
	int r = prompts_from_json(&ps, text, len, "t.json", err, sizeof err);
	CHECK(r == -1, "%.40s: accepted (%d prompts)", text, ps.p);
	CHECK(strstr(err, want) != NULL, "%.40s: message '%s', want '%s'", text, err, want);
	CHECK(strncmp(err, "t.json: ", 8) == 0, "%.40s: message '%s' does not name the file", text, err);
	prompts_free(&ps);
}

static void json_refused(const char *text, const char *want)
{
	json_refused_n(text, strlen(text), want);
}

static char **list(int n, const char *const *v)
{
	char **l = malloc((size_t)n * sizeof *l);
	for (int i = 0; i < n; i++)
		l[i] = strdup(v[i]);
	return l;
}

int main(void)
{
	/* Python: "a photo of a {}.".format("dog") etc. */
	format_ok("a photo of a {}.", "dog", "a photo of a dog.");
	format_ok("{0} and {0}", "cat", "cat and cat");
	format_ok("{{}} {}", "x", "{} x");
	format_ok("no braces", "x", "no braces");
	format_ok("}}{{", "x", "}{");
	format_ok("{}", "", "");
	format_refused("{1}", "not {}, {0} or {{");
	format_refused("{name}", "not {}, {0} or {{");
	format_refused("a } b", "single '}'");
	format_refused("{", "not {}, {0} or {{");
	format_refused("{0", "not {}, {0} or {{");
	format_refused("{0} and {}", "both {} and {0}");

	/* json.loads gives the same classes and prompts */
	json_ok("{\"dog\": [\"a dog\"]}", "dog=a dog");
	json_ok(" \r\n\t{\"a\":[\"x\",\"y\"],\"b\":[\"z\"]}\n", "a=x|y;b=z");
	json_ok("{\"q\\\"uote\": [\"back\\\\slash\\/\"]}", "q\"uote=back\\slash/");
	json_ok("{\"t\": [\"tab\\there\\nnl\\b\\f\\r\"]}", "t=tab\there\nnl\b\f\r");
	json_ok("{\"caf\\u00e9\": [\"\\u20ac \\ud83d\\ude00 \\u0041\"]}", "caf\xc3\xa9=\xe2\x82\xac \xf0\x9f\x98\x80 A");
	json_ok("{\"raw\": [\"caf\xc3\xa9 \xe2\x82\xac\"]}", "raw=caf\xc3\xa9 \xe2\x82\xac");
	json_ok("{\"e\": [\"\"]}", "e=");

	/* each message says what was expected and what came instead */
	json_refused("", "byte 1: the file is empty");
	json_refused(" \n\t", "byte 4: only blanks, no JSON object");
	json_refused("[]", "byte 1: expected '{', found '['");
	json_refused("{}", "byte 2: no classes");
	json_refused("{\"a\": []}", "class 'a' has no prompts");
	json_refused("{\"a\": [\"x\"], \"a\": [\"y\"]}", "class 'a' appears twice");
	json_refused("{\"a\" [\"x\"]}", "byte 6: expected ':', found '['");
	json_refused("{\"a\": \"x\"}", "'[' starting");
	json_refused("{\"a\": [\"x\" \"y\"]}", "',' or ']'");
	json_refused("{\"a\": [\"x\",]}", "byte 12: expected a string, found ']'");
	json_refused("{\"a\": [\"x\"] \"b\": [\"y\"]}", "',' or '}'");
	json_refused("{\"a\": [\"x\"]} x", "text after the closing '}'");
	json_refused("{\"a\": [\"x\"]", "byte 12: expected ',' or '}', found the end of the file");
	json_refused("{\"a\": [\"x", "unterminated string");
	json_refused("{\"a\": [\"x\\", "unterminated string");
	json_refused("{\"a\": [\"x\ty\"]}", "control character");
	json_refused_n("{\"a\": [\"x\0y\"]}", 14, "NUL byte in a string");
	json_refused("{\"a\": [\"\\q\"]}", "bad escape");
	json_refused("{\"a\": [\"\\u12\"]}", "bad \\u escape");
	json_refused("{\"a\": [\"\\u12", "truncated \\u escape");
	json_refused("{\"a\": [\"\\u0000\"]}", "\\u0000");
	json_refused("{\"a\": [\"\\udc00\"]}", "lone low surrogate");
	json_refused("{\"a\": [\"\\ud800\"]}", "lone high surrogate");
	json_refused("{\"a\": [\"\\ud800\\u0041\"]}", "bad surrogate pair");
	json_refused("{\"a\": [1]}", "a string");
	json_refused("{\"a\": [[\"x\"]]}", "a string");

	/* names x templates: class-major, template index as slot; the first bad
	 * template names itself; the lists belong to the set either way */
	{
		static const char *const n[] = {"cat", "dog"}, *const t[] = {"a {}.", "{} photo", "{{{}}}"};
		prompts_t ps = {0};
		char err[300] = "";
		int r = prompts_from_grid(&ps, list(2, n), 2, list(3, t), 3, "t.txt", err, sizeof err);
		CHECK(r == 0 && ps.p == 6, "grid: %d, %d prompts: %s", r, ps.p, err);
		static const char *const want[] = {"a cat.", "cat photo", "{cat}", "a dog.", "dog photo", "{dog}"};
		for (int i = 0; r == 0 && i < 6; i++)
			CHECK(strcmp(ps.texts[i], want[i]) == 0 && ps.cls[i] == i / 3 && ps.slot[i] == i % 3,
			      "grid prompt %d: '%s' class %d slot %d", i, ps.texts[i], ps.cls[i], ps.slot[i]);
		prompts_free(&ps);

		static const char *const bad[] = {"a {}.", "b {x}"};
		r = prompts_from_grid(&ps, list(2, n), 2, list(2, bad), 2, "t.txt", err, sizeof err);
		CHECK(r == -1 && strstr(err, "t.txt: template 2 'b {x}': a '{' that is not"), "bad grid: %d '%s'", r,
		      err);
		prompts_free(&ps);

		r = prompts_from_grid(&ps, list(2, n), 2, list(1, t), (int64_t)1 << 31, "t.txt", err, sizeof err);
		CHECK(r == -1 && strstr(err, "too many prompts"), "huge grid: %d '%s'", r, err);
		ps.t = 1; /* only one template was really allocated */
		prompts_free(&ps);
	}
	return check_report();
}
