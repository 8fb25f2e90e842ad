/* prompts.c - prompt sets from names x templates or from JSON (text/text.h
 * has the rules, byte by byte). */
#include "text/text.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void prompts_free(prompts_t *ps)
{
	for (int i = 0; i < ps->p; i++)
		free(ps->texts[i]);
	free(ps->texts);
	free(ps->cls);
	free(ps->slot);
	for (int64_t j = 0; ps->templates && j < ps->t; j++)
		free(ps->templates[j]);
	free(ps->templates);
	for (int64_t c = 0; ps->names && c < ps->k; c++)
		free(ps->names[c]);
	free(ps->names);
	memset(ps, 0, sizeof *ps);
}

static void prompts_add(prompts_t *ps, char *text, int cls, int slot)
{
	if (ps->p == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 1024;
		ps->texts = xrealloc(ps->texts, (size_t)ps->cap * sizeof *ps->texts);
		ps->cls = xrealloc(ps->cls, (size_t)ps->cap * sizeof *ps->cls);
		ps->slot = xrealloc(ps->slot, (size_t)ps->cap * sizeof *ps->slot);
	}
	ps->texts[ps->p] = text;
	ps->cls[ps->p] = cls;
	ps->slot[ps->p++] = slot;
}

char *prompt_format(const char *tpl, const char *name, const char **why)
{
	size_t nl = strlen(name), cap = strlen(tpl) + 1, n = 0;
	for (const char *p = tpl; *p; p++)
		if (*p == '{')
			cap += nl;
	char *out = xmalloc(cap);
	int automatic = 0, manual = 0; /* "{}" and "{0}" seen */
	for (const char *p = tpl; *p;) {
		if (p[0] == '{' && p[1] == '{') {
			out[n++] = '{';
			p += 2;
		} else if (p[0] == '}' && p[1] == '}') {
			out[n++] = '}';
			p += 2;
		} else if (p[0] == '{' && (p[1] == '}' || (p[1] == '0' && p[2] == '}'))) {
			memcpy(out + n, name, nl);
			n += nl;
			*(p[1] == '}' ? &automatic : &manual) = 1;
			p += p[1] == '}' ? 2 : 3;
			if (automatic && manual) {
				*why = "both {} and {0} (Python's str.format refuses that too)";
				free(out);
				return NULL;
			}
		} else if (*p == '{' || *p == '}') {
			*why = *p == '{' ? "a '{' that is not {}, {0} or {{" : "a single '}' (write }})";
			free(out);
			return NULL;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = 0;
	return out;
}

int prompts_from_grid(prompts_t *ps, char **names, int64_t k, char **templates, int64_t t,
		      const char *templates_path, char *err, size_t cap)
{
	ps->names = names;
	ps->k = k;
	ps->templates = templates;
	ps->t = t;
	if (k > 0 && t > INT_MAX / k) { /* prompt indices are int */
		snprintf(err, cap, "%lld classes x %lld templates: too many prompts", (long long)k, (long long)t);
		return -1;
	}
	for (int64_t i = 0; i < k; i++)
		for (int64_t j = 0; j < t; j++) {
			const char *why = NULL;
			char *s = prompt_format(templates[j], names[i], &why);
			if (!s) {
				snprintf(err, cap, "%s: template %lld '%s': %s", templates_path, (long long)j + 1,
					 templates[j], why);
				return -1;
			}
			prompts_add(ps, s, (int)i, (int)j);
		}
	return 0;
}

/* ---- the JSON reader ---- */

typedef struct {
	const char *start, *s, *end, *path;
	char *err;
	size_t cap;
	int failed;
} json_in_t;

/* Record the first failure and stop the scan (every caller then sees the end). */
static void json_fail(json_in_t *j, const char *what)
{
	if (!j->failed)
		snprintf(j->err, j->cap, "%s: byte %ld: %s (the form is {\"class name\": [\"prompt\", ...], ...})", j->path,
			 (long)(j->s - j->start) + 1, what); /* 1-based */
	j->failed = 1;
	j->s = j->end;
}

static void json_ws(json_in_t *j)
{
	while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

/* Is the next non-blank byte c? Consumed if so. */
static int json_accept(json_in_t *j, char c)
{
	json_ws(j);
	if (j->s < j->end && *j->s == c) {
		j->s++;
		return 1;
	}
	return 0;
}

/* Consume c, else fail with "expected WHAT, found ..." */
static int json_expect(json_in_t *j, char c, const char *what)
{
	if (json_accept(j, c))
		return 0;
	char msg[160];
	unsigned char b = j->s < j->end ? (unsigned char)*j->s : 0;
	if (j->s >= j->end)
		snprintf(msg, sizeof msg, "expected %s, found the end of the file", what);
	else if (b > 0x20 && b < 0x7f)
		snprintf(msg, sizeof msg, "expected %s, found '%c'", what, b);
	else
		snprintf(msg, sizeof msg, "expected %s, found byte 0x%02x", what, b);
	json_fail(j, msg);
	return -1;
}

static long json_hex4(json_in_t *j)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		if (j->s >= j->end) {
			json_fail(j, "truncated \\u escape");
			return -1;
		}
		char c = *j->s++;
		int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
						       : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0) {
			json_fail(j, "bad \\u escape");
			return -1;
		}
		v = v * 16 + d;
	}
	return v;
}

/* One code point from a \u escape (the "\u" already read), surrogate pairs
 * joined; -1 after json_fail. */
static long json_code_point(json_in_t *j)
{
	long cp = json_hex4(j);
	if (cp < 0)
		return -1;
	if (cp == 0) {
		json_fail(j, "\\u0000 in a string (prompts are C strings)");
		return -1;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		json_fail(j, "lone low surrogate in \\u escape");
		return -1;
	}
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (j->end - j->s < 6 || j->s[0] != '\\' || j->s[1] != 'u') {
			json_fail(j, "lone high surrogate in \\u escape");
			return -1;
		}
		j->s += 2;
		long lo = json_hex4(j);
		if (lo < 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF) {
			json_fail(j, "bad surrogate pair");
			return -1;
		}
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return cp;
}

/* A JSON string as malloc'd UTF-8, escapes decoded; NULL after json_fail. */
static char *json_string(json_in_t *j)
{
	if (json_expect(j, '"', "a string") != 0)
		return NULL;
	size_t cap = 64, n = 0;
	char *out = xmalloc(cap);
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	for (;;) {
		if (j->s >= j->end) {
			json_fail(j, "unterminated string");
			break;
		}
		if (n + 8 > cap)
			out = xrealloc(out, cap *= 2);
		unsigned char c = (unsigned char)*j->s++;
		if (c == '"') {
			out[n] = 0;
			return out;
		}
		if (c < 0x20) {
			json_fail(j, c ? "control character in a string" : "NUL byte in a string");
			break;
		}
		if (c >= 0x80) { /* JSON text is UTF-8: a class name must decode */
			uint32_t cp;
			size_t k = utf8_next(j->s - 1, (size_t)(j->end - (j->s - 1)), &cp);
			if (!k) {
				j->s--;
				json_fail(j, "invalid UTF-8 in a string");
				break;
			}
			memcpy(out + n, j->s - 1, k);
			n += k;
			j->s += k - 1;
			continue;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (j->s >= j->end) {
			json_fail(j, "unterminated string");
			break;
		}
		char e = *j->s++;
		const char *hit = e ? strchr(esc_in, e) : NULL;
		if (hit) {
			out[n++] = esc_out[hit - esc_in];
		} else if (e == 'u') {
			long cp = json_code_point(j);
			if (cp < 0)
				break;
			n += utf8_put(out + n, (uint32_t)cp);
		} else {
			json_fail(j, "bad escape");
			break;
		}
	}
	free(out);
	return NULL;
}

int prompts_from_json(prompts_t *ps, const char *text, size_t len, const char *path, char *err, size_t cap)
{
	json_in_t j = {text, text, text + len, path, err, cap, 0};
	int64_t names_cap = 0;
	json_ws(&j);
	if (j.s == j.end) {
		json_fail(&j, len ? "only blanks, no JSON object" : "the file is empty");
		return -1;
	}
	if (json_expect(&j, '{', "'{'") != 0)
		return -1;
	if (json_accept(&j, '}')) {
		j.s--;
		json_fail(&j, "no classes");
		return -1;
	}
	do {
		char *name = json_string(&j);
		if (!name)
			return -1;
		if (ps->k == names_cap)
			ps->names = xrealloc(ps->names, (size_t)(names_cap = names_cap ? names_cap * 2 : 256) *
								sizeof *ps->names);
		ps->names[ps->k++] = name; /* owned by ps from here */
		for (int64_t i = 0; i + 1 < ps->k; i++)
			if (strcmp(ps->names[i], name) == 0) {
				snprintf(err, cap, "%s: class '%s' appears twice", path, name);
				return -1;
			}
		if (json_expect(&j, ':', "':'") != 0 ||
		    json_expect(&j, '[', "'[' starting the class's prompt list") != 0)
			return -1;
		if (json_accept(&j, ']')) {
			snprintf(err, cap, "%s: class '%s' has no prompts", path, name);
			return -1;
		}
		int count = 0;
		do {
			if (ps->p == INT_MAX) {
				snprintf(err, cap, "%s: too many prompts", path);
				return -1;
			}
			char *prompt = json_string(&j);
			if (!prompt)
				return -1;
			prompts_add(ps, prompt, (int)(ps->k - 1), count++);
		} while (json_accept(&j, ','));
		if (json_expect(&j, ']', "',' or ']'") != 0)
			return -1;
	} while (json_accept(&j, ','));
	if (json_expect(&j, '}', "',' or '}'") != 0)
		return -1;
	json_ws(&j);
	if (j.s != j.end) {
		json_fail(&j, "text after the closing '}'");
		return -1;
	}
	return 0;
}
