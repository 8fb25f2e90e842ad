/* bpe.c - CLIP's text cleanup and byte-level BPE tokenizer (see text/text.h).
 *
 * Text is decoded once into an array of code points and every cleanup step
 * maps one such array to another, in the order CLIP's Python applies them.
 * The Unicode facts (letter/number classes, lower case, NFC, entity names,
 * ftfy's maps) come from bpe_tables.c, generated from the Python libraries
 * themselves, so the two agree by construction rather than by reading.
 *
 * Not thread-safe: encode() fills a per-tokenizer cache of BPE results, as
 * Python's SimpleTokenizer does.
 */
#include "text/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "text/internal.h"
#include "util/util.h"

/* ---------------------------------------------------------------- arrays */

typedef struct {
	uint32_t *v;
	size_t n, cap;
	int oom;
} cps_t;

static void cps_push(cps_t *a, uint32_t c)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		uint32_t *v = realloc(a->v, cap * sizeof *v);
		if (!v) {
			a->oom = 1;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = c;
}

static void cps_append(cps_t *a, const uint32_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cps_push(a, src[i]);
}

static void cps_free(cps_t *a)
{
	free(a->v);
	memset(a, 0, sizeof *a);
}

/* Swap so that a holds b's contents; b becomes empty (keeps nothing). */
static void cps_take(cps_t *a, cps_t *b)
{
	int oom = a->oom || b->oom;
	free(a->v);
	*a = *b;
	a->oom = oom;
	memset(b, 0, sizeof *b);
}

static int cps_equal(const cps_t *a, const cps_t *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

/* ---------------------------------------------------------------- UTF-8 */

/* Strict UTF-8 (util/util.h) into code points. */
static int utf8_decode(const char *s, size_t len, cps_t *out, char *err, size_t cap)
{
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_next(s + i, len - i, &c);
		if (n == 0) {
			err_set(err, cap, "invalid UTF-8 at byte %zu", i);
			return -1;
		}
		cps_push(out, c);
		i += n;
	}
	return 0;
}

/* UTF-8 of a[0..n) into a malloc'd NUL-terminated string. */
static char *utf8_encode(const uint32_t *a, size_t n, size_t *outlen)
{
	char *s = malloc(n * 4 + 1);
	if (!s)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += utf8_put(s + k, a[i]);
	s[k] = 0;
	if (outlen)
		*outlen = k;
	return s;
}

/* ---------------------------------------------------------------- tables */

/* The value of the range in t[0..n) (sorted, disjoint) holding c, or 0. */
static uint32_t range_value(const bpe_prop_range_t *t, int n, uint32_t c)
{
	int lo = 0, hi = n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (c < t[mid].lo)
			hi = mid - 1;
		else if (c > t[mid].hi)
			lo = mid + 1;
		else
			return t[mid].v;
	}
	return 0;
}

static uint32_t prop_of(uint32_t c)
{
	return range_value(bpe_prop_ranges, bpe_prop_nranges, c);
}

static int ccc_of(uint32_t c)
{
	return c < 0x300 ? 0 : (int)range_value(bpe_ccc, bpe_nccc, c);
}

/* bsearch comparator for the tables keyed by a leading uint32_t code point
 * (bpe_map_t, bpe_decomp_t): key is a uint32_t. */
static int cmp_leading_cp(const void *key, const void *elem)
{
	uint32_t k = *(const uint32_t *)key, e;
	memcpy(&e, elem, sizeof e);
	return k < e ? -1 : k > e;
}

static const bpe_map_t *map_find(const bpe_map_t *m, int n, uint32_t c)
{
	return bsearch(&c, m, (size_t)n, sizeof *m, cmp_leading_cp);
}

/* One ftfy character map (str.translate or a character-class sub). */
static void apply_map(cps_t *t, const bpe_map_t *m, int n)
{
	cps_t out = {0};
	for (size_t i = 0; i < t->n; i++) {
		const bpe_map_t *e = map_find(m, n, t->v[i]);
		if (e)
			cps_append(&out, e->to, e->n);
		else
			cps_push(&out, t->v[i]);
	}
	cps_take(t, &out);
}

static const char *entity_find(const bpe_entity_t *tab, int n, const char *name)
{
	int lo = 0, hi = n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(name, tab[mid].name);
		if (c < 0)
			hi = mid - 1;
		else if (c > 0)
			lo = mid + 1;
		else
			return tab[mid].text;
	}
	return NULL;
}

/* Append the code points of a UTF-8 table string (known valid). */
static void append_utf8(cps_t *out, const char *s)
{
	cps_t tmp = {0};
	utf8_decode(s, strlen(s), &tmp, NULL, 0);
	cps_append(out, tmp.v, tmp.n);
	out->oom |= tmp.oom;
	cps_free(&tmp);
}

/* Look up the entity name a[0..n) (code points) in tab; NULL if absent. */
static const char *entity_lookup(const bpe_entity_t *tab, int ntab, const uint32_t *a, size_t n)
{
	char buf[32 * 4 + 2];
	if (n > 33)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += utf8_put(buf + k, a[i]);
	buf[k] = 0;
	if (strlen(buf) != k) /* an embedded NUL never names an entity */
		return NULL;
	return entity_find(tab, ntab, buf);
}

/* ---------------------------------------------------------------- html.unescape */

static int is_ascii_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(uint32_t c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

/* HTML5's replacements for numeric references to C1 and a few others
 * (Python's html._invalid_charrefs). */
static uint32_t charref_invalid(uint32_t num, int *found)
{
	static const uint16_t c1[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
					0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
					0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
					0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
	*found = 1;
	if (num == 0)
		return 0xFFFD;
	if (num == 0x0D)
		return 0x0D;
	if (num >= 0x80 && num <= 0x9F)
		return c1[num - 0x80];
	*found = 0;
	return 0;
}

/* Python's html._invalid_codepoints: references to these decode to nothing. */
static int codepoint_invalid(uint32_t n)
{
	return (n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) || (n >= 0x7F && n <= 0x9F) ||
	       (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
}

/* Python's html.unescape: the pattern
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * and its replacement rules, including named references without ';' and the
 * longest-known-prefix rule. */
static void html_unescape(cps_t *t)
{
	const uint32_t *a = t->v;
	size_t n = t->n, i = 0;
	int any = 0;
	for (size_t k = 0; k < n; k++)
		any |= a[k] == '&';
	if (!any)
		return;
	cps_t out = {0};
	while (i < n) {
		if (a[i] != '&') {
			cps_push(&out, a[i++]);
			continue;
		}
		size_t p = i + 1;
		if (p < n && a[p] == '#') {
			int hex = p + 1 < n && (a[p + 1] == 'x' || a[p + 1] == 'X');
			size_t q = p + 1, d0;
			uint64_t num = 0;
			if (q < n && is_ascii_digit(a[q])) {
				hex = 0;
			} else if (hex) {
				q++;
			}
			d0 = q;
			while (q < n && (hex ? hex_val(a[q]) >= 0 : is_ascii_digit(a[q]))) {
				uint32_t v = hex ? (uint32_t)hex_val(a[q]) : a[q] - '0';
				if (num <= 0x10FFFF) /* past it, stop: any larger value reads the same */
					num = num * (hex ? 16 : 10) + v;
				q++;
			}
			if (q > d0) {
				if (q < n && a[q] == ';')
					q++;
				int found;
				uint32_t r = charref_invalid((uint32_t)num, &found); /* num < 2^32: see above */
				if (found)
					cps_push(&out, r);
				else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
					cps_push(&out, 0xFFFD);
				else if (!codepoint_invalid((uint32_t)num))
					cps_push(&out, (uint32_t)num);
				i = q;
				continue;
			}
			/* "&#" with no digits: '#' cannot start a name either */
			cps_push(&out, a[i++]);
			continue;
		}
		size_t q = p;
		while (q < n && q - p < 32 && a[q] != '\t' && a[q] != '\n' && a[q] != '\f' && a[q] != ' ' &&
		       a[q] != '<' && a[q] != '&' && a[q] != '#' && a[q] != ';')
			q++;
		if (q == p) {
			cps_push(&out, a[i++]);
			continue;
		}
		if (q < n && a[q] == ';')
			q++;
		const char *v = entity_lookup(bpe_html5, bpe_nhtml5, a + p, q - p);
		if (v) {
			append_utf8(&out, v);
		} else {
			size_t x;
			for (x = q - p - 1; x >= 2; x--) {
				v = entity_lookup(bpe_html5, bpe_nhtml5, a + p, x);
				if (v)
					break;
			}
			if (v && x >= 2) {
				append_utf8(&out, v);
				cps_append(&out, a + p + x, q - p - x);
			} else {
				cps_append(&out, a + i, q - i);
			}
		}
		i = q;
	}
	cps_take(t, &out);
}

/* ---------------------------------------------------------------- ftfy */

static int is_ascii_alnum(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ftfy.fixes.unescape_html: "&#?[0-9A-Za-z]{1,24};" replaced when it names
 * a known entity (html5 ones ending in ';', ftfy's upper-case variants), or
 * when it is a numeric reference html.unescape decodes whole. */
static void ftfy_unescape(cps_t *t)
{
	const uint32_t *a = t->v;
	size_t n = t->n, i = 0;
	cps_t out = {0};
	while (i < n) {
		if (a[i] != '&') {
			cps_push(&out, a[i++]);
			continue;
		}
		size_t p = i + 1;
		if (p < n && a[p] == '#')
			p++;
		size_t q = p;
		while (q < n && is_ascii_alnum(a[q]))
			q++;
		if (q == p || q - p > 24 || q >= n || a[q] != ';') {
			cps_push(&out, a[i++]);
			continue;
		}
		q++; /* the match is a[i..q) */
		const char *v = NULL;
		if (p == i + 1) {
			v = entity_lookup(bpe_html5, bpe_nhtml5, a + p, q - p);
			if (!v)
				v = entity_lookup(bpe_ftfy_entities, bpe_nftfy_entities, a + p, q - p);
		}
		if (v) {
			append_utf8(&out, v);
		} else if (p == i + 2) {
			cps_t ent = {0};
			cps_append(&ent, a + i, q - i);
			html_unescape(&ent);
			int semi = 0;
			for (size_t k = 0; k < ent.n; k++)
				semi |= ent.v[k] == ';';
			if (semi)
				cps_append(&out, a + i, q - i);
			else
				cps_append(&out, ent.v, ent.n);
			out.oom |= ent.oom;
			cps_free(&ent);
		} else {
			cps_append(&out, a + i, q - i);
		}
		i = q;
	}
	cps_take(t, &out);
}

/* ftfy.fixes.fix_line_breaks: CRLF, CR, U+2028, U+2029, U+0085 -> LF. */
static void fix_line_breaks(cps_t *t)
{
	cps_t out = {0};
	for (size_t i = 0; i < t->n; i++) {
		uint32_t c = t->v[i];
		if (c == '\r' && i + 1 < t->n && t->v[i + 1] == '\n')
			continue;
		cps_push(&out, (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? '\n' : c);
	}
	cps_take(t, &out);
}

/* ftfy.fixes.remove_terminal_escapes: "\033\[((?:\d|;)*)([a-zA-Z])" removed,
 * \d being any Unicode decimal digit (Python re). */
static void remove_terminal_escapes(cps_t *t)
{
	cps_t out = {0};
	size_t i = 0;
	while (i < t->n) {
		if (t->v[i] == 0x1B && i + 1 < t->n && t->v[i + 1] == '[') {
			size_t q = i + 2;
			while (q < t->n && (t->v[q] == ';' || (prop_of(t->v[q]) & BPE_P_PY_DIGIT)))
				q++;
			if (q < t->n && t->v[q] < 0x80 && ((t->v[q] | 0x20) >= 'a' && (t->v[q] | 0x20) <= 'z')) {
				i = q + 1;
				continue;
			}
		}
		cps_push(&out, t->v[i++]);
	}
	cps_take(t, &out);
}

/* ---------------------------------------------------------------- NFC */

enum {
	HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
	HANGUL_LN = 19, HANGUL_VN = 21, HANGUL_TN = 28, HANGUL_NN = 21 * 28, HANGUL_SN = 19 * 21 * 28
};

static const bpe_decomp_t *decomp_find(uint32_t c)
{
	return bsearch(&c, bpe_decomp, (size_t)bpe_ndecomp, sizeof bpe_decomp[0], cmp_leading_cp);
}

static uint32_t compose_pair(uint32_t a, uint32_t b)
{
	if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LN && b >= HANGUL_V && b < HANGUL_V + HANGUL_VN)
		return HANGUL_S + ((a - HANGUL_L) * HANGUL_VN + (b - HANGUL_V)) * HANGUL_TN;
	if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SN && (a - HANGUL_S) % HANGUL_TN == 0 && b > HANGUL_T &&
	    b < HANGUL_T + HANGUL_TN)
		return a + (b - HANGUL_T);
	int lo = 0, hi = bpe_ncomp - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const bpe_comp_t *e = &bpe_comp[mid];
		if (a < e->a || (a == e->a && b < e->b))
			hi = mid - 1;
		else if (a > e->a || b > e->b)
			lo = mid + 1;
		else
			return e->c;
	}
	return 0;
}

/* unicodedata.normalize("NFC"): canonical decomposition, canonical ordering,
 * canonical composition (Unicode Standard Annex 15). */
static void nfc(cps_t *t)
{
	size_t i;
	for (i = 0; i < t->n && t->v[i] < 0x300; i++)
		;
	if (i == t->n)
		return; /* nothing below U+0300 decomposes or composes */
	cps_t d = {0};
	for (i = 0; i < t->n; i++) {
		uint32_t c = t->v[i];
		const bpe_decomp_t *e;
		if (c >= HANGUL_S && c < HANGUL_S + HANGUL_SN) {
			uint32_t s = c - HANGUL_S;
			cps_push(&d, HANGUL_L + s / HANGUL_NN);
			cps_push(&d, HANGUL_V + (s % HANGUL_NN) / HANGUL_TN);
			if (s % HANGUL_TN)
				cps_push(&d, HANGUL_T + s % HANGUL_TN);
		} else if ((e = decomp_find(c))) {
			cps_append(&d, e->to, e->n);
		} else {
			cps_push(&d, c);
		}
	}
	/* canonical ordering: stable sort of each run of non-starters by class */
	for (i = 1; i < d.n; i++) {
		int ci = ccc_of(d.v[i]);
		if (ci == 0)
			continue;
		for (size_t j = i; j > 0; j--) {
			int cj = ccc_of(d.v[j - 1]);
			if (cj <= ci)
				break;
			uint32_t tmp = d.v[j];
			d.v[j] = d.v[j - 1];
			d.v[j - 1] = tmp;
		}
	}
	if (d.n > 0) {
		size_t starter = 0, w = 1;
		int last = ccc_of(d.v[0]) ? 256 : 0;
		for (i = 1; i < d.n; i++) {
			uint32_t c = d.v[i];
			int cc = ccc_of(c);
			uint32_t comp = (last < cc || last == 0) ? compose_pair(d.v[starter], c) : 0;
			if (comp) {
				d.v[starter] = comp;
				continue;
			}
			if (cc == 0)
				starter = w;
			last = cc;
			d.v[w++] = c;
		}
		d.n = w;
	}
	cps_take(t, &d);
}

/* ---------------------------------------------------------------- cleanup */

/* ftfy.fix_and_explain for one segment, without fix_encoding (text/text.h). */
static void ftfy_fix_segment(cps_t *t, int unescape)
{
	cps_t orig = {0};
	for (int round = 0; round < 100; round++) {
		cps_free(&orig);
		cps_append(&orig, t->v, t->n);
		if (unescape)
			ftfy_unescape(t);
		apply_map(t, bpe_ftfy_c1, bpe_nftfy_c1);
		apply_map(t, bpe_ftfy_ligature, bpe_nftfy_ligature);
		apply_map(t, bpe_ftfy_width, bpe_nftfy_width);
		apply_map(t, bpe_ftfy_quote, bpe_nftfy_quote);
		fix_line_breaks(t);
		remove_terminal_escapes(t);
		apply_map(t, bpe_ftfy_control, bpe_nftfy_control);
		nfc(t);
		if (cps_equal(t, &orig) || t->oom || orig.oom)
			break;
	}
	t->oom |= orig.oom;
	cps_free(&orig);
}

/* ftfy.fix_text: segments end after each '\n'; HTML unescaping ("auto") is
 * off from the first segment containing '<' on. */
static void ftfy_fix_text(cps_t *t)
{
	cps_t out = {0};
	int unescape = 1;
	size_t pos = 0;
	while (pos < t->n) {
		size_t end = pos;
		while (end < t->n && t->v[end] != '\n')
			end++;
		if (end < t->n)
			end++;
		cps_t seg = {0};
		cps_append(&seg, t->v + pos, end - pos);
		for (size_t k = 0; k < seg.n; k++)
			if (seg.v[k] == '<')
				unescape = 0;
		ftfy_fix_segment(&seg, unescape);
		cps_append(&out, seg.v, seg.n);
		out.oom |= seg.oom;
		cps_free(&seg);
		pos = end;
	}
	cps_take(t, &out);
}

/* str.strip(): Python's whitespace at both ends. */
static void py_strip(cps_t *t)
{
	size_t a = 0, b = t->n;
	while (a < b && (prop_of(t->v[a]) & BPE_P_PY_SPACE))
		a++;
	while (b > a && (prop_of(t->v[b - 1]) & BPE_P_PY_SPACE))
		b--;
	if (b > a)
		memmove(t->v, t->v + a, (b - a) * sizeof *t->v);
	t->n = b - a;
}

/* regex.sub(r'\s+', ' ', text) */
static void collapse_space(cps_t *t)
{
	size_t w = 0;
	int run = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (prop_of(t->v[i]) & BPE_P_RE_SPACE) {
			if (!run)
				t->v[w++] = ' ';
			run = 1;
		} else {
			t->v[w++] = t->v[i];
			run = 0;
		}
	}
	t->n = w;
}

/* str.lower(), including the final-sigma rule: U+03A3 becomes U+03C2 when
 * the first non-case-ignorable character before it is cased and the first
 * one after it (if any) is not. */
static void py_lower(cps_t *t)
{
	cps_t out = {0};
	for (size_t i = 0; i < t->n; i++) {
		uint32_t c = t->v[i];
		if (c == 0x3A3) {
			size_t j = i;
			uint32_t p = 0;
			while (j > 0 && ((p = prop_of(t->v[j - 1])) & BPE_P_IGNORABLE))
				j--;
			int fin = j > 0 && (p & BPE_P_CASED);
			if (fin) {
				size_t k = i + 1;
				while (k < t->n && ((p = prop_of(t->v[k])) & BPE_P_IGNORABLE))
					k++;
				fin = k == t->n || !(p & BPE_P_CASED);
			}
			cps_push(&out, fin ? 0x3C2 : 0x3C3);
			continue;
		}
		if (c < 0x80) {
			cps_push(&out, (c >= 'A' && c <= 'Z') ? c + 32 : c);
			continue;
		}
		const bpe_map_t *e = map_find(bpe_lower, bpe_nlower, c);
		if (e)
			cps_append(&out, e->to, e->n);
		else
			cps_push(&out, c);
	}
	cps_take(t, &out);
}

/* The whole cleanup: lower(whitespace_clean(basic_clean(text))). */
static int clean(const char *text, size_t len, cps_t *t, char *err, size_t errcap)
{
	if (utf8_decode(text, len, t, err, errcap) != 0)
		return -1;
	ftfy_fix_text(t);
	html_unescape(t);
	html_unescape(t);
	py_strip(t);
	collapse_space(t);
	py_strip(t);
	py_lower(t);
	if (t->oom) {
		err_set(err, errcap, "out of memory");
		return -1;
	}
	return 0;
}

char *bpe_clean_text(const char *text, size_t len, char *err, size_t errcap)
{
	cps_t t = {0};
	char *s = NULL;
	if (clean(text, len, &t, err, errcap) == 0 && !(s = utf8_encode(t.v, t.n, NULL)))
		err_set(err, errcap, "out of memory");
	cps_free(&t);
	return s;
}

/* ---------------------------------------------------------------- BPE tables */

typedef struct {
	uint32_t a, b; /* pair of symbol ids (a == UINT32_MAX: empty slot) */
	int32_t rank, merged;
} pair_slot_t;

typedef struct {
	size_t n;
	int32_t *ids;
} word_entry_t;

struct bpe {
	int32_t byte_id[256]; /* id of the byte's character; + 256 with "</w>" */
	pair_slot_t *pairs;
	size_t pair_mask;
	int32_t sot, eot;
	strmap_t word_index;  /* token bytes -> index into words: the cache of bpe_word */
	word_entry_t *words;
	size_t nwords, capwords;
};

static size_t pair_hash(uint32_t a, uint32_t b, size_t mask)
{
	uint64_t h = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & mask;
}

static pair_slot_t *pair_slot(const bpe_t *b, uint32_t x, uint32_t y)
{
	size_t i = pair_hash(x, y, b->pair_mask);
	while (b->pairs[i].a != UINT32_MAX && !(b->pairs[i].a == x && b->pairs[i].b == y))
		i = (i + 1) & b->pair_mask;
	return &b->pairs[i];
}

/* The vocabulary strings -> id map used while loading (Python's encoder),
 * with dict semantics: a later insertion of the same string wins. */
static void str_put(strmap_t *m, const char *s, size_t n, int32_t id)
{
	int64_t *v = strmap_findn(m, s, n);
	if (v)
		*v = id;
	else
		strmap_putn(m, s, n, id);
}

static int32_t str_get(const strmap_t *m, const char *s, size_t n)
{
	const int64_t *v = strmap_findn(m, s, n);
	return v ? (int32_t)*v : -1;
}

/* bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the rest
 * map to U+0100.. in byte order. order[] lists bytes in the dict's order. */
static void bytes_to_unicode(uint32_t cp[256], int order[256])
{
	int k = 0, extra = 0, in[256] = {0};
	for (int c = '!'; c <= '~'; c++)
		in[c] = 1;
	for (int c = 0xA1; c <= 0xAC; c++)
		in[c] = 1;
	for (int c = 0xAE; c <= 0xFF; c++)
		in[c] = 1;
	for (int c = 0; c < 256; c++)
		if (in[c]) {
			order[k++] = c;
			cp[c] = (uint32_t)c;
		}
	for (int c = 0; c < 256; c++)
		if (!in[c]) {
			order[k++] = c;
			cp[c] = 256 + (uint32_t)extra++;
		}
}

static char *gz_read_all(const char *path, size_t *len, char *err, size_t errcap)
{
	gzFile f = gzopen(path, "rb");
	if (!f) {
		err_set(err, errcap, "%s: %s", path, errno ? strerror(errno) : "cannot open");
		return NULL;
	}
	size_t cap = 1 << 21, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			err_set(err, errcap, "%s: out of memory", path);
			gzclose(f);
			return NULL;
		}
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = nb;
			cap *= 2;
		}
		int r = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
		if (r < 0) {
			int zerr;
			const char *m = gzerror(f, &zerr);
			err_set(err, errcap, "%s: not a readable gzip file (%s)", path, m);
			free(buf);
			gzclose(f);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	gzclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

bpe_t *bpe_load(const char *path, char *err, size_t errcap)
{
	size_t len;
	errno = 0;
	char *text = gz_read_all(path, &len, err, errcap);
	if (!text)
		return NULL;
	bpe_t *b = calloc(1, sizeof *b);
	if (!b) {
		err_set(err, errcap, "%s: out of memory", path);
		free(text);
		return NULL;
	}
	enum { NVOCAB = 512 + BPE_MERGES + 2 };
	char **vocab = calloc(NVOCAB, sizeof *vocab);
	size_t *vlen = calloc(NVOCAB, sizeof *vlen);
	char **ma = calloc(BPE_MERGES, sizeof *ma), **mb = calloc(BPE_MERGES, sizeof *mb);
	size_t *malen = calloc(BPE_MERGES, sizeof *malen), *mblen = calloc(BPE_MERGES, sizeof *mblen);
	strmap_t enc;
	strmap_init(&enc);
	b->pair_mask = (1 << 17) - 1;
	b->pairs = malloc((b->pair_mask + 1) * sizeof *b->pairs);
	int ok = vocab && vlen && ma && mb && malen && mblen && b->pairs;
	if (!ok) {
		err_set(err, errcap, "%s: out of memory", path);
		goto done;
	}
	for (size_t i = 0; i <= b->pair_mask; i++)
		b->pairs[i].a = UINT32_MAX;

	/* lines 2..48895: "A B" */
	char *p = strchr(text, '\n');
	for (int r = 0; r < BPE_MERGES; r++) {
		if (!p) {
			err_set(err, errcap, "%s: %d merge lines, CLIP's vocabulary has at least %d", path, r,
				BPE_MERGES);
			ok = 0;
			goto done;
		}
		char *line = p + 1;
		p = strchr(line, '\n');
		size_t ll = p ? (size_t)(p - line) : strlen(line);
		char *sp = memchr(line, ' ', ll);
		if (!sp || sp == line || sp + 1 == line + ll || memchr(sp + 1, ' ', (size_t)(line + ll - sp - 1))) {
			err_set(err, errcap, "%s: line %d: expected two symbols separated by one space", path,
				r + 2);
			ok = 0;
			goto done;
		}
		ma[r] = line;
		malen[r] = (size_t)(sp - line);
		mb[r] = sp + 1;
		mblen[r] = (size_t)(line + ll - sp - 1);
	}

	/* vocabulary strings in id order */
	uint32_t cp[256];
	int order[256];
	bytes_to_unicode(cp, order);
	for (int i = 0; i < 256 && ok; i++) {
		char u[8];
		size_t k = utf8_put(u, cp[order[i]]);
		vocab[i] = malloc(k + 1);
		vocab[256 + i] = malloc(k + 5);
		if (!vocab[i] || !vocab[256 + i]) {
			ok = 0;
			break;
		}
		memcpy(vocab[i], u, k);
		memcpy(vocab[256 + i], u, k);
		memcpy(vocab[256 + i] + k, "</w>", 4);
		vlen[i] = k;
		vlen[256 + i] = k + 4;
		b->byte_id[order[i]] = i;
	}
	for (int r = 0; r < BPE_MERGES && ok; r++) {
		int id = 512 + r;
		vlen[id] = malen[r] + mblen[r];
		vocab[id] = malloc(vlen[id] + 1);
		if (!vocab[id]) {
			ok = 0;
			break;
		}
		memcpy(vocab[id], ma[r], malen[r]);
		memcpy(vocab[id] + malen[r], mb[r], mblen[r]);
	}
	if (!ok) {
		err_set(err, errcap, "%s: out of memory", path);
		goto done;
	}
	vocab[NVOCAB - 2] = "<|startoftext|>";
	vlen[NVOCAB - 2] = strlen(vocab[NVOCAB - 2]);
	vocab[NVOCAB - 1] = "<|endoftext|>";
	vlen[NVOCAB - 1] = strlen(vocab[NVOCAB - 1]);
	for (int id = 0; id < NVOCAB; id++)
		str_put(&enc, vocab[id], vlen[id], id);
	b->sot = str_get(&enc, vocab[NVOCAB - 2], vlen[NVOCAB - 2]);
	b->eot = str_get(&enc, vocab[NVOCAB - 1], vlen[NVOCAB - 1]);
	for (int i = 0; i < 256; i++)
		if (str_get(&enc, vocab[b->byte_id[i]], vlen[b->byte_id[i]]) != b->byte_id[i] ||
		    str_get(&enc, vocab[256 + b->byte_id[i]], vlen[256 + b->byte_id[i]]) != 256 + b->byte_id[i]) {
			err_set(err, errcap, "%s: a merge repeats a single-byte symbol", path);
			ok = 0;
			goto done;
		}

	/* ranks: a later duplicate merge wins, as in dict(zip(merges, range)).
	 * A merge whose halves are not vocabulary strings can never apply. */
	for (int r = 0; r < BPE_MERGES; r++) {
		int32_t x = str_get(&enc, ma[r], malen[r]), y = str_get(&enc, mb[r], mblen[r]);
		if (x < 0 || y < 0)
			continue;
		pair_slot_t *s = pair_slot(b, (uint32_t)x, (uint32_t)y);
		s->a = (uint32_t)x;
		s->b = (uint32_t)y;
		s->rank = r;
		s->merged = str_get(&enc, vocab[512 + r], vlen[512 + r]);
	}
done:
	if (vocab)
		for (int id = 0; id < NVOCAB - 2; id++)
			free(vocab[id]);
	free(vocab);
	free(vlen);
	free(ma);
	free(mb);
	free(malen);
	free(mblen);
	strmap_free(&enc);
	free(text);
	if (!ok) {
		bpe_free(b);
		return NULL;
	}
	return b;
}

void bpe_free(bpe_t *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nwords; i++)
		free(b->words[i].ids);
	free(b->words);
	strmap_free(&b->word_index);
	free(b->pairs);
	free(b);
}

int32_t bpe_sot(const bpe_t *b)
{
	return b->sot;
}

int32_t bpe_eot(const bpe_t *b)
{
	return b->eot;
}

void bpe_ids_free(bpe_ids_t *ids)
{
	free(ids->v);
	memset(ids, 0, sizeof *ids);
}

static int ids_push(bpe_ids_t *ids, int32_t v)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 128;
		int32_t *nv = realloc(ids->v, cap * sizeof *nv);
		if (!nv)
			return -1;
		ids->v = nv;
		ids->cap = cap;
	}
	ids->v[ids->n++] = v;
	return 0;
}

/* SimpleTokenizer.bpe on one piece's bytes: start from one symbol per byte
 * (the last with "</w>"), then repeatedly merge every occurrence, left to
 * right, of the adjacent pair with the lowest rank. Result cached (the
 * pointer is good until the next call). */
static const word_entry_t *bpe_word(bpe_t *b, const char *s, size_t n)
{
	const int64_t *cached = strmap_findn(&b->word_index, s, n);
	if (cached)
		return &b->words[*cached];
	if (b->nwords == b->capwords) {
		size_t cap = b->capwords ? 2 * b->capwords : 1024;
		word_entry_t *v = realloc(b->words, cap * sizeof *v);
		if (!v)
			return NULL;
		b->words = v;
		b->capwords = cap;
	}
	int32_t *w = malloc(n * sizeof *w), *tmp = malloc(n * sizeof *tmp);
	if (!w || !tmp) {
		free(w);
		free(tmp);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		w[i] = b->byte_id[(unsigned char)s[i]] + (i + 1 == n ? 256 : 0);
	size_t len = n;
	while (len > 1) {
		int32_t best = INT32_MAX, merged = -1;
		uint32_t fa = 0, fb = 0;
		for (size_t i = 0; i + 1 < len; i++) {
			const pair_slot_t *ps = pair_slot(b, (uint32_t)w[i], (uint32_t)w[i + 1]);
			if (ps->a != UINT32_MAX && ps->rank < best) {
				best = ps->rank;
				merged = ps->merged;
				fa = ps->a;
				fb = ps->b;
			}
		}
		if (merged < 0)
			break;
		size_t k = 0;
		for (size_t i = 0; i < len;) {
			if ((uint32_t)w[i] == fa && i + 1 < len && (uint32_t)w[i + 1] == fb) {
				tmp[k++] = merged;
				i += 2;
			} else {
				tmp[k++] = w[i++];
			}
		}
		memcpy(w, tmp, k * sizeof *w);
		len = k;
	}
	free(tmp);
	word_entry_t *e = &b->words[b->nwords];
	*e = (word_entry_t){.n = len, .ids = w};
	strmap_putn(&b->word_index, s, n, (int64_t)b->nwords++);
	return e;
}

/* Does a[i..) start with lit, ASCII letters matched as IGNORECASE does? */
static int match_literal(const uint32_t *a, size_t n, size_t i, const char *lit)
{
	for (size_t k = 0; lit[k]; k++, i++) {
		if (i >= n)
			return 0;
		uint32_t c = a[i], l = (unsigned char)lit[k];
		if (c == l || (l >= 'a' && l <= 'z' && c == l - 32))
			continue;
		int folded = 0;
		for (int f = 0; f < bpe_nfolds; f++)
			if (bpe_folds[f].cp == c && (unsigned char)bpe_folds[f].ascii == l)
				folded = 1;
		if (!folded)
			return 0;
	}
	return 1;
}

/* Ids of one piece a[i..j): the special tokens stand for themselves. */
static int encode_piece(bpe_t *b, const uint32_t *a, size_t i, size_t j, bpe_ids_t *ids)
{
	char buf[256], *s = buf;
	size_t n = j - i;
	if (n * 4 > sizeof buf && !(s = malloc(n * 4)))
		return -1;
	size_t k = 0;
	for (size_t x = i; x < j; x++)
		k += utf8_put(s + k, a[x]);
	int rc = 0;
	if (k == 15 && memcmp(s, "<|startoftext|>", 15) == 0) {
		rc = ids_push(ids, b->sot);
	} else if (k == 13 && memcmp(s, "<|endoftext|>", 13) == 0) {
		rc = ids_push(ids, b->eot);
	} else {
		const word_entry_t *e = bpe_word(b, s, k);
		if (!e)
			rc = -1;
		for (size_t x = 0; e && x < e->n && rc == 0; x++)
			rc = ids_push(ids, e->ids[x]);
	}
	if (s != buf)
		free(s);
	return rc;
}

int bpe_encode(bpe_t *b, const char *text, size_t len, bpe_ids_t *ids, char *err, size_t errcap)
{
	cps_t t = {0};
	if (clean(text, len, &t, err, errcap) != 0) {
		cps_free(&t);
		return -1;
	}
	static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	const uint32_t *a = t.v;
	size_t n = t.n, i = 0;
	int rc = 0;
	while (i < n && rc == 0) {
		size_t j = i;
		if (match_literal(a, n, i, "<|startoftext|>")) {
			j = i + 15;
		} else if (match_literal(a, n, i, "<|endoftext|>")) {
			j = i + 13;
		} else if (a[i] == '\'') {
			for (size_t c = 0; c < sizeof contractions / sizeof *contractions && j == i; c++)
				if (match_literal(a, n, i, contractions[c]))
					j = i + strlen(contractions[c]);
		}
		if (j == i) {
			uint32_t p = prop_of(a[i]);
			if (p & BPE_P_LETTER) {
				while (j < n && (prop_of(a[j]) & BPE_P_LETTER))
					j++;
			} else if (p & BPE_P_NUMBER) {
				j = i + 1;
			} else if (p & BPE_P_OTHER) {
				while (j < n && (prop_of(a[j]) & BPE_P_OTHER))
					j++;
			} else {
				i++; /* whitespace: no piece starts here */
				continue;
			}
		}
		rc = encode_piece(b, a, i, j, ids);
		i = j;
	}
	cps_free(&t);
	if (rc != 0)
		err_set(err, errcap, "out of memory");
	return rc;
}

long bpe_tokenize(bpe_t *b, const char *text, size_t len, int context, int truncate, bpe_ids_t *ids,
		  char *err, size_t errcap)
{
	ids->n = 0;
	if (ids_push(ids, b->sot) != 0 || bpe_encode(b, text, len, ids, err, errcap) != 0 ||
	    ids_push(ids, b->eot) != 0) {
		if (!err || !*err)
			err_set(err, errcap, "out of memory");
		return -1;
	}
	long full = (long)ids->n;
	if (truncate && ids->n > (size_t)context) {
		ids->n = (size_t)context;
		ids->v[context - 1] = b->eot;
	}
	return full;
}
