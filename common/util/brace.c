/* brace.c - brace expansion of name patterns (see util/util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
	size_t max;
	char *err;
	size_t errlen;
} ctx_t;

static int fail(ctx_t *c, const char *fmt, ...) DIAG_PRINTF(2, 3);
static int fail(ctx_t *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void brace_list_free(brace_list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Append the concatenation a + b + cc (lengths given) to v. */
static int push(ctx_t *c, brace_list_t *v, size_t *cap, const char *a, size_t na, const char *b, size_t nb,
		const char *cc, size_t nc)
{
	if (v->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		char **p = realloc(v->v, ncap * sizeof *p);
		if (!p)
			return fail(c, "out of memory");
		v->v = p;
		*cap = ncap;
	}
	char *s = malloc(na + nb + nc + 1);
	if (!s)
		return fail(c, "out of memory");
	memcpy(s, a, na);
	memcpy(s + na, b, nb);
	memcpy(s + na + nb, cc, nc);
	s[na + nb + nc] = 0;
	v->v[v->n++] = s;
	return 0;
}

/* "-?[0-9]{1,18}" at s[0..n): 0 with *v, or -1. */
static int parse_int(const char *s, size_t n, long long *v)
{
	size_t i = s[0] == '-' && n > 1 ? 1 : 0;
	if (n - i < 1 || n - i > 18)
		return -1;
	long long x = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = s[0] == '-' ? -x : x;
	return 0;
}

static int is_letter(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int zero_led(const char *s, size_t n)
{
	size_t i = s[0] == '-' ? 1 : 0;
	return n - i > 1 && s[i] == '0';
}

static int expand(ctx_t *c, const char *s, size_t n, brace_list_t *out, size_t pos);

/* The names of the group body b[0..n) (b at byte pos of the pattern) into
 * alts, at most room of them. On failure the caller frees what is there. */
static int group(ctx_t *c, const char *b, size_t n, size_t pos, size_t room, brace_list_t *alts)
{
	size_t cap = 0, depth = 0, item = 0;
	int list = 0;
	for (size_t i = 0; i < n; i++) {
		depth += b[i] == '{';
		depth -= b[i] == '}';
		list |= depth == 0 && b[i] == ',';
	}
	if (list) {
		for (size_t i = 0; i <= n; i++) {
			if (i < n && (b[i] != ',' || depth != 0)) {
				depth += b[i] == '{';
				depth -= b[i] == '}';
				continue;
			}
			brace_list_t sub = {0};
			int r = expand(c, b + item, i - item, &sub, pos + item);
			if (r == 0 && sub.n > room - alts->n)
				r = fail(c, "more than %zu names", c->max);
			for (size_t k = 0; k < sub.n && r == 0; k++)
				r = push(c, alts, &cap, sub.v[k], strlen(sub.v[k]), "", 0, "", 0);
			brace_list_free(&sub);
			if (r != 0)
				return -1;
			item = i + 1;
		}
		return 0;
	}
	/* a range: A..B or A..B..STEP, of integers or of single letters */
	const char *part[3];
	size_t plen[3], np = 0, at = 0;
	for (size_t i = 0; i + 1 < n && np < 2; i++)
		if (b[i] == '.' && b[i + 1] == '.') {
			part[np] = b + at;
			plen[np++] = i - at;
			at = i + 2;
			i++;
		}
	part[np] = b + at;
	plen[np++] = n - at;
	long long lo, hi, step = 1;
	int letters = np >= 2 && plen[0] == 1 && plen[1] == 1 && is_letter(part[0][0]) && is_letter(part[1][0]);
	if (np < 2 || (!letters && (parse_int(part[0], plen[0], &lo) != 0 || parse_int(part[1], plen[1], &hi) != 0)) ||
	    (np == 3 && parse_int(part[2], plen[2], &step) != 0))
		return fail(c, "'{%.*s}' at byte %zu is neither a list {a,b,...} nor a range {A..B[..STEP]} of integers "
			       "or letters",
			    n > 60 ? 60 : (int)n, b, pos - 1);
	if (letters) {
		lo = (unsigned char)part[0][0];
		hi = (unsigned char)part[1][0];
	}
	/* as bash: the step's sign is ignored (the ends give the direction), 0 is 1 */
	step = step < 0 ? -step : step ? step : 1;
	unsigned long long count = (unsigned long long)(hi > lo ? hi - lo : lo - hi) / (unsigned long long)step + 1;
	if (count > room)
		return fail(c, "more than %zu names", c->max);
	int width = !letters && (zero_led(part[0], plen[0]) || zero_led(part[1], plen[1]))
			    ? (int)(plen[0] > plen[1] ? plen[0] : plen[1])
			    : 0;
	if (hi < lo)
		step = -step;
	for (unsigned long long k = 0; k < count; k++) {
		char num[32];
		long long v = lo + step * (long long)k;
		int len = letters ? snprintf(num, sizeof num, "%c", (char)v) : snprintf(num, sizeof num, "%0*lld", width, v);
		if (push(c, alts, &cap, num, (size_t)len, "", 0, "", 0) != 0)
			return -1;
	}
	return 0;
}

/* The names of s[0..n) (s at byte pos of the pattern) into out; on failure
 * the caller frees what is there. The suffix after the first group is
 * expanded first, so that a group's size is checked before it is built. */
static int expand(ctx_t *c, const char *s, size_t n, brace_list_t *out, size_t pos)
{
	size_t open = n, close = n, depth = 0;
	for (size_t i = 0; i < n && close == n; i++) {
		if (s[i] == '{' && depth++ == 0)
			open = i;
		else if (s[i] == '}' && depth == 0)
			return fail(c, "'}' at byte %zu closes no '{'", pos + i);
		else if (s[i] == '}' && --depth == 0)
			close = i;
	}
	size_t cap = 0;
	if (open == n)
		return push(c, out, &cap, s, n, "", 0, "", 0);
	if (close == n)
		return fail(c, "'{' at byte %zu has no matching '}'", pos + open);
	brace_list_t rest = {0}, alts = {0};
	int r = expand(c, s + close + 1, n - close - 1, &rest, pos + close + 1);
	if (r == 0)
		r = group(c, s + open + 1, close - open - 1, pos + open + 1, c->max / rest.n, &alts);
	for (size_t a = 0; a < alts.n && r == 0; a++)
		for (size_t k = 0; k < rest.n && r == 0; k++)
			r = push(c, out, &cap, s, open, alts.v[a], strlen(alts.v[a]), rest.v[k], strlen(rest.v[k]));
	brace_list_free(&rest);
	brace_list_free(&alts);
	return r;
}

int brace_expand(const char *pattern, size_t max_names, brace_list_t *out, char *err, size_t errlen)
{
	ctx_t c = {.max = max_names, .err = err, .errlen = errlen};
	memset(out, 0, sizeof *out);
	size_t n = strlen(pattern);
	if (n > BRACE_PATTERN_MAX)
		return fail(&c, "pattern of %zu bytes (limit %d)", n, BRACE_PATTERN_MAX);
	if (expand(&c, pattern, n, out, 0) != 0) {
		brace_list_free(out);
		return -1;
	}
	return 0;
}
