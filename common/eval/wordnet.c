/* wordnet.c - reader of WordNet 3.0 data.noun, and the class hierarchy.
 *
 * data.noun (wndb(5WN), "Data File Format"), ASCII, lines end with LF:
 *
 *   Header lines (the licence) begin with two spaces and a line number:
 *     "  1 This software and database is being provided..."  -> skipped.
 *   Every other line is one synset; fields are separated by one space:
 *
 *     synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...]
 *       p_cnt [ptr...] | gloss
 *
 *   synset_offset  8 decimal digits, zero-filled: the byte offset of the line
 *                  in the file, and the synset's number (ImageNet's wnid is
 *                  'n' + these 8 digits). This reader does not rely on it
 *                  being a byte offset (hand-made test files are not), only
 *                  on it being unique.
 *   lex_filenum    2 decimal digits (lexicographer file; not used)
 *   ss_type        1 character; 'n' in data.noun
 *   w_cnt          2 hexadecimal digits: number of words, at least 1
 *   word           the word, spaces written as '_', case kept
 *   lex_id         1 hexadecimal digit (sense within the lexicographer file)
 *   p_cnt          3 decimal digits: number of pointers
 *   ptr            4 fields: pointer_symbol synset_offset pos source/target
 *                    pointer_symbol  '@' hypernym, '@i' instance hypernym,
 *                                    '~' hyponym, '#m' member holonym, ...
 *                    synset_offset   8 decimal digits (target synset)
 *                    pos             1 character: n v a s r (target's file)
 *                    source/target   4 hexadecimal digits (0000: semantic)
 *   '|' gloss      a '|' field, then the definition up to the end of line
 *                  (real lines end with two spaces before the LF).
 *
 * Example (dog, two hypernyms, p_cnt 023, pointers cut short here):
 *   02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023
 *     @ 02083346 n 0000 @ 01317541 n 0000 #m 02083863 n 0000 ... | a member...
 *
 * Only '@' and '@i' pointers to nouns are kept: they are the edges up the
 * hierarchy. A CR before the LF is tolerated. Lines need not be sorted.
 */
#define _POSIX_C_SOURCE 200809L
#include "eval/eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Next space-separated field of [*p, end); 0 when there is none. */
static int next_field(const char **p, const char *end, const char **s, size_t *n)
{
	const char *q = *p;
	while (q < end && *q == ' ')
		q++;
	if (q == end)
		return 0;
	const char *e = q;
	while (e < end && *e != ' ')
		e++;
	*s = q;
	*n = (size_t)(e - q);
	*p = e;
	return 1;
}

/* s[0,n) is exactly width digits of base (10 or 16) -> *v. */
static int parse_fixed(const char *s, size_t n, size_t width, int base, unsigned long *v)
{
	if (n != width)
		return -1;
	unsigned long x = 0;
	for (size_t i = 0; i < n; i++) {
		int d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		x = x * (unsigned long)base + (unsigned long)d;
	}
	*v = x;
	return 0;
}

typedef struct {
	wordnet_t *wn;
	size_t syn_cap, par_n, par_cap, text_n;
	const char *path;
} loader_t;

/* Parse one synset line [p, end) into the next synset slot. */
static int load_line(loader_t *L, unsigned line, const char *p, const char *end, char *err, size_t cap)
{
	wordnet_t *wn = L->wn;
	const char *s;
	size_t n;
	unsigned long v;
#define FIELD_OR_FAIL(what)                                                                         \
	do {                                                                                        \
		if (!next_field(&p, end, &s, &n)) {                                                 \
			snprintf(err, cap, "%s:%u: line ends before the %s field", L->path, line, what); \
			return -1;                                                                  \
		}                                                                                   \
	} while (0)
#define BAD(...)                                                      \
	do {                                                          \
		int k_ = snprintf(err, cap, "%s:%u: ", L->path, line); \
		if (k_ > 0 && (size_t)k_ < cap)                        \
			snprintf(err + k_, cap - (size_t)k_, __VA_ARGS__); \
		return -1;                                            \
	} while (0)

	if (wn->n == L->syn_cap) {
		L->syn_cap = L->syn_cap ? 2 * L->syn_cap : 1024;
		wn_synset_t *ns = xrealloc(wn->synsets, L->syn_cap * sizeof *ns);
		wn->synsets = ns;
	}
	wn_synset_t *sy = &wn->synsets[wn->n];
	memset(sy, 0, sizeof *sy);
	sy->line = line;

	FIELD_OR_FAIL("synset_offset");
	if (parse_fixed(s, n, 8, 10, &v) != 0)
		BAD("synset_offset '%.*s' is not 8 decimal digits", (int)n, s);
	sy->offset = (uint32_t)v;
	FIELD_OR_FAIL("lex_filenum");
	if (parse_fixed(s, n, 2, 10, &v) != 0)
		BAD("lex_filenum '%.*s' is not 2 decimal digits", (int)n, s);
	FIELD_OR_FAIL("ss_type");
	if (n != 1 || *s != 'n')
		BAD("ss_type '%.*s' is not 'n' (this reader takes data.noun only)", (int)n, s);
	FIELD_OR_FAIL("w_cnt");
	if (parse_fixed(s, n, 2, 16, &v) != 0 || v == 0)
		BAD("w_cnt '%.*s' is not 2 hexadecimal digits from 01", (int)n, s);
	unsigned long nwords = v;

	char *t = wn->text + L->text_n;
	sy->words = t;
	for (unsigned long w = 0; w < nwords; w++) {
		FIELD_OR_FAIL("word");
		if (w)
			*t++ = ',', *t++ = ' ';
		for (size_t i = 0; i < n; i++)
			*t++ = s[i] == '_' ? ' ' : s[i];
		if (w == 0)
			sy->name_len = (uint32_t)n;
		FIELD_OR_FAIL("lex_id");
		if (parse_fixed(s, n, 1, 16, &v) != 0)
			BAD("lex_id '%.*s' of word %lu is not 1 hexadecimal digit", (int)n, s, w + 1);
	}
	*t++ = 0;
	L->text_n = (size_t)(t - wn->text);

	FIELD_OR_FAIL("p_cnt");
	if (parse_fixed(s, n, 3, 10, &v) != 0)
		BAD("p_cnt '%.*s' is not 3 decimal digits", (int)n, s);
	unsigned long nptr = v;
	sy->parent_first = (uint32_t)L->par_n;
	for (unsigned long i = 0; i < nptr; i++) {
		const char *sym;
		size_t nsym;
		FIELD_OR_FAIL("pointer_symbol");
		sym = s, nsym = n;
		FIELD_OR_FAIL("pointer synset_offset");
		if (parse_fixed(s, n, 8, 10, &v) != 0)
			BAD("pointer %lu: synset_offset '%.*s' is not 8 decimal digits", i + 1, (int)n, s);
		unsigned long target = v;
		FIELD_OR_FAIL("pointer pos");
		if (n != 1 || !strchr("nvasr", *s))
			BAD("pointer %lu: pos '%.*s' is not one of n v a s r", i + 1, (int)n, s);
		int to_noun = *s == 'n';
		FIELD_OR_FAIL("pointer source/target");
		if (parse_fixed(s, n, 4, 16, &v) != 0)
			BAD("pointer %lu: source/target '%.*s' is not 4 hexadecimal digits", i + 1, (int)n, s);
		int up = (nsym == 1 && sym[0] == '@') || (nsym == 2 && sym[0] == '@' && sym[1] == 'i');
		if (!up || !to_noun)
			continue;
		if (L->par_n == L->par_cap) {
			L->par_cap = L->par_cap ? 2 * L->par_cap : 1024;
			uint32_t *np = xrealloc(wn->parents, L->par_cap * sizeof *np);
			wn->parents = np;
		}
		wn->parents[L->par_n++] = (uint32_t)target; /* an offset until resolved */
		sy->nparents++;
	}
	if (!next_field(&p, end, &s, &n) || n != 1 || *s != '|')
		BAD("no '|' before the gloss after %lu pointers (is p_cnt right?)", nptr);
	wn->n++;
	return 0;
#undef FIELD_OR_FAIL
#undef BAD
}

static int cmp_synset(const void *a, const void *b)
{
	uint32_t x = ((const wn_synset_t *)a)->offset, y = ((const wn_synset_t *)b)->offset;
	return x < y ? -1 : x > y;
}

int wn_load(wordnet_t *wn, const char *path, char *err, size_t cap)
{
	memset(wn, 0, sizeof *wn);
	size_t len;
	char *buf = file_read_all(path, &len, err, cap);
	if (!buf)
		return -1;
	wn->path = xstrdup(path);
	/* Words joined with ", " take no more room than "word lex_id " did. */
	wn->text = xmalloc(len + 1);
	loader_t L = {.wn = wn, .path = path};
	unsigned line = 0;
	int rc = 0;
	for (char *p = buf, *end = buf + len; p < end && rc == 0;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e == p) {
			snprintf(err, cap, "%s:%u: empty line", path, line);
			rc = -1;
		} else if (*p != ' ') {
			rc = load_line(&L, line, p, e, err, cap);
		}
		p = nl ? nl + 1 : end;
	}
	free(buf);
	if (rc == 0 && wn->n == 0) {
		snprintf(err, cap, "%s: no synset lines (is it a WordNet data.noun?)", path);
		rc = -1;
	}
	if (rc == 0) {
		qsort(wn->synsets, wn->n, sizeof *wn->synsets, cmp_synset);
		for (size_t i = 1; i < wn->n && rc == 0; i++)
			if (wn->synsets[i].offset == wn->synsets[i - 1].offset) {
				const wn_synset_t *a = &wn->synsets[i - 1], *b = &wn->synsets[i];
				snprintf(err, cap, "%s:%u: synset %08u already on line %u", path,
					 a->line > b->line ? a->line : b->line, b->offset,
					 a->line > b->line ? b->line : a->line);
				rc = -1;
			}
	}
	for (size_t i = 0; i < wn->n && rc == 0; i++) {
		wn_synset_t *sy = &wn->synsets[i];
		for (uint32_t j = 0; j < sy->nparents && rc == 0; j++) {
			uint32_t *pp = &wn->parents[sy->parent_first + j];
			long k = wn_find(wn, *pp);
			if (k < 0) {
				snprintf(err, cap, "%s:%u: hypernym %08u of synset %08u is not in the file", path,
					 sy->line, *pp, sy->offset);
				rc = -1;
			} else {
				*pp = (uint32_t)k;
			}
		}
	}
	if (rc != 0)
		wn_free(wn);
	return rc;
}

void wn_free(wordnet_t *wn)
{
	free(wn->path);
	free(wn->synsets);
	free(wn->parents);
	free(wn->text);
	memset(wn, 0, sizeof *wn);
}

long wn_find(const wordnet_t *wn, uint32_t offset)
{
	size_t lo = 0, hi = wn->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (wn->synsets[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < wn->n && wn->synsets[lo].offset == offset ? (long)lo : -1;
}

int wn_parse_wnid(const char *s, size_t n, uint32_t *offset)
{
	unsigned long v;
	if (n != 9 || s[0] != 'n' || parse_fixed(s + 1, 8, 8, 10, &v) != 0)
		return -1;
	*offset = (uint32_t)v;
	return 0;
}

/* ---- the class hierarchy ---- */

static void put_synset(char *buf, size_t cap, const wordnet_t *wn, uint32_t syn)
{
	const wn_synset_t *s = &wn->synsets[syn];
	snprintf(buf, cap, "n%08u (%.*s)", s->offset, (int)s->name_len, s->words);
}

int wn_hier_build(wn_hier_t *h, const wordnet_t *wn, const uint32_t *offsets, int n, char *err, size_t cap)
{
	memset(h, 0, sizeof *h);
	h->wn = wn;
	h->nclasses = n;
	if (n < 1) {
		snprintf(err, cap, "no classes");
		return -1;
	}
	int *node_of = xcalloc(wn->n, sizeof *node_of);  /* synset -> node, or class+1 while marking */
	uint32_t *stack = xcalloc(wn->n, sizeof *stack); /* synsets still to visit */
	size_t sp = 0;
	char a[160], b[160];
	int rc = -1;
	for (int c = 0; c < n; c++) {
		long s = wn_find(wn, offsets[c]);
		if (s < 0) {
			snprintf(err, cap, "class %d: n%08u is not a noun synset in %s", c, offsets[c], wn->path);
			goto out;
		}
		if (node_of[s]) {
			snprintf(err, cap, "classes %d and %d are the same synset n%08u", node_of[s] - 1, c, offsets[c]);
			goto out;
		}
		node_of[s] = c + 1;
		stack[sp++] = (uint32_t)s;
	}
	/* Everything above the classes. */
	while (sp) {
		const wn_synset_t *sy = &wn->synsets[stack[--sp]];
		for (uint32_t j = 0; j < sy->nparents; j++) {
			uint32_t p = wn->parents[sy->parent_first + j];
			if (!node_of[p]) {
				node_of[p] = -1;
				stack[sp++] = p;
			}
		}
	}
	int nn = 0;
	for (size_t s = 0; s < wn->n; s++)
		nn += node_of[s] != 0;
	h->nnodes = nn;
	h->synset = xcalloc((size_t)nn, sizeof *h->synset);
	h->class_node = xcalloc((size_t)n, sizeof *h->class_node);
	h->node_class = xcalloc((size_t)nn, sizeof *h->node_class);
	nn = 0;
	for (size_t s = 0; s < wn->n; s++) {
		if (!node_of[s])
			continue;
		h->synset[nn] = (uint32_t)s;
		h->node_class[nn] = node_of[s] > 0 ? node_of[s] - 1 : -1;
		if (node_of[s] > 0)
			h->class_node[node_of[s] - 1] = nn;
		node_of[s] = nn++;
	}
	/* Parents and children, compressed rows. */
	h->par_first = xcalloc((size_t)nn + 1, sizeof *h->par_first);
	h->kid_first = xcalloc((size_t)nn + 1, sizeof *h->kid_first);
	for (int v = 0; v < nn; v++) {
		const wn_synset_t *sy = &wn->synsets[h->synset[v]];
		h->par_first[v + 1] = h->par_first[v] + (int)sy->nparents;
		for (uint32_t j = 0; j < sy->nparents; j++)
			h->kid_first[node_of[wn->parents[sy->parent_first + j]] + 1]++;
	}
	for (int v = 0; v < nn; v++)
		h->kid_first[v + 1] += h->kid_first[v];
	h->par = xcalloc((size_t)h->par_first[nn], sizeof *h->par);
	h->kid = xcalloc((size_t)h->kid_first[nn], sizeof *h->kid);
	int *fill = xcalloc((size_t)nn, sizeof *fill);
	for (int v = 0; v < nn; v++) {
		const wn_synset_t *sy = &wn->synsets[h->synset[v]];
		for (uint32_t j = 0; j < sy->nparents; j++) {
			int p = node_of[wn->parents[sy->parent_first + j]];
			h->par[h->par_first[v] + (int)j] = p;
			h->kid[h->kid_first[p] + fill[p]++] = v;
		}
	}
	/* Heights bottom-up (Kahn's order: a node after all its children). */
	h->height = xcalloc((size_t)nn, sizeof *h->height);
	int *order = xcalloc((size_t)nn, sizeof *order), *left = fill;
	int head = 0, tail = 0;
	for (int v = 0; v < nn; v++) {
		left[v] = h->kid_first[v + 1] - h->kid_first[v];
		if (!left[v])
			order[tail++] = v;
	}
	while (head < tail) {
		int v = order[head++];
		for (int j = h->par_first[v]; j < h->par_first[v + 1]; j++) {
			int p = h->par[j];
			if (h->height[p] < h->height[v] + 1)
				h->height[p] = h->height[v] + 1;
			if (--left[p] == 0)
				order[tail++] = p;
		}
	}
	if (tail < nn) {
		for (int v = 0; v < nn; v++)
			if (left[v]) {
				put_synset(a, sizeof a, wn, h->synset[v]);
				snprintf(err, cap, "%s: hypernym pointers form a cycle at or below %s", wn->path, a);
				break;
			}
		goto out_order;
	}
	h->root = -1;
	for (int v = 0; v < nn; v++) {
		if (h->par_first[v + 1] > h->par_first[v])
			continue;
		if (h->root >= 0) {
			put_synset(a, sizeof a, wn, h->synset[h->root]);
			put_synset(b, sizeof b, wn, h->synset[v]);
			snprintf(err, cap, "%s: the classes lead up to two roots, %s and %s: they need one common top",
				 wn->path, a, b);
			goto out_order;
		}
		h->root = v;
	}
	/* Depths and ancestor sets top-down (reverse order: parents first). */
	h->depth = xcalloc((size_t)nn, sizeof *h->depth);
	h->words = ((size_t)nn + 63) / 64;
	h->anc = xcalloc((size_t)nn * h->words, sizeof *h->anc);
	for (int i = nn - 1; i >= 0; i--) {
		int v = order[i];
		uint64_t *row = h->anc + (size_t)v * h->words;
		row[v / 64] |= (uint64_t)1 << (v % 64);
		for (int j = h->par_first[v]; j < h->par_first[v + 1]; j++) {
			int p = h->par[j];
			const uint64_t *prow = h->anc + (size_t)p * h->words;
			for (size_t w = 0; w < h->words; w++)
				row[w] |= prow[w];
			if (j == h->par_first[v] || h->depth[p] + 1 < h->depth[v])
				h->depth[v] = h->depth[p] + 1;
		}
	}
	h->nunder = xcalloc((size_t)nn, sizeof *h->nunder);
	for (int c = 0; c < n; c++) {
		const uint64_t *row = h->anc + (size_t)h->class_node[c] * h->words;
		for (size_t w = 0; w < h->words; w++)
			for (uint64_t x = row[w]; x; x &= x - 1)
				h->nunder[w * 64 + (size_t)__builtin_ctzll(x)]++;
	}
	rc = 0;
out_order:
	free(order);
	free(fill);
out:
	free(stack);
	free(node_of);
	if (rc != 0)
		wn_hier_free(h);
	return rc;
}

void wn_hier_free(wn_hier_t *h)
{
	free(h->synset);
	free(h->class_node);
	free(h->node_class);
	free(h->height);
	free(h->depth);
	free(h->nunder);
	free(h->par_first);
	free(h->par);
	free(h->kid_first);
	free(h->kid);
	free(h->anc);
	memset(h, 0, sizeof *h);
}

int wn_hier_lca(const wn_hier_t *h, int a, int b)
{
	const uint64_t *ra = h->anc + (size_t)a * h->words, *rb = h->anc + (size_t)b * h->words;
	int best = -1;
	/* Ascending node order, strict '<': the smaller offset wins a tie. */
	for (size_t w = 0; w < h->words; w++)
		for (uint64_t x = ra[w] & rb[w]; x; x &= x - 1) {
			int u = (int)(w * 64) + __builtin_ctzll(x);
			if (best < 0 || h->height[u] < h->height[best])
				best = u;
		}
	return best;
}

int wn_hier_is_ancestor(const wn_hier_t *h, int u, int v)
{
	return (int)((h->anc[(size_t)v * h->words + (size_t)u / 64] >> (u % 64)) & 1);
}

const wn_synset_t *wn_hier_synset(const wn_hier_t *h, int node)
{
	return &h->wn->synsets[h->synset[node]];
}

typedef struct {
	int node, count;
} fam_count_t;

static int cmp_fam(const void *a, const void *b)
{
	const fam_count_t *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

int wn_hier_families(const wn_hier_t *h, int max_classes, int **fam, int *class_fam)
{
	int nn = h->nnodes;
	/* The tree: each node under its first-listed parent. */
	int *tcount = xcalloc((size_t)nn, sizeof *tcount);
	for (int c = 0; c < h->nclasses; c++)
		for (int v = h->class_node[c];; v = h->par[h->par_first[v]]) {
			tcount[v]++;
			if (v == h->root)
				break;
		}
	char *in = xcalloc((size_t)nn, 1);
	int *list = xcalloc((size_t)nn, sizeof *list), nl = 0;
	list[nl++] = h->root;
	in[h->root] = 1;
	for (;;) {
		int pick = -1;
		for (int i = 0; i < nl; i++) {
			int u = list[i];
			if (tcount[u] <= max_classes || h->node_class[u] >= 0)
				continue;
			if (pick < 0 || tcount[u] > tcount[list[pick]] ||
			    (tcount[u] == tcount[list[pick]] && u < list[pick]))
				pick = i;
		}
		if (pick < 0)
			break;
		int u = list[pick];
		list[pick] = list[--nl];
		in[u] = 0;
		for (int j = h->kid_first[u]; j < h->kid_first[u + 1]; j++) {
			int k = h->kid[j];
			if (h->par[h->par_first[k]] == u && tcount[k]) {
				in[k] = 1;
				list[nl++] = k;
			}
		}
	}
	fam_count_t *fc = xcalloc((size_t)nl, sizeof *fc);
	for (int i = 0; i < nl; i++)
		fc[i].node = list[i], fc[i].count = tcount[list[i]];
	qsort(fc, (size_t)nl, sizeof *fc, cmp_fam);
	int *pos = xcalloc((size_t)nn, sizeof *pos);
	*fam = xcalloc((size_t)nl, sizeof **fam);
	for (int i = 0; i < nl; i++) {
		(*fam)[i] = fc[i].node;
		pos[fc[i].node] = i;
	}
	/* The split keeps exactly one family on each class's tree path. */
	for (int c = 0; c < h->nclasses; c++) {
		int v = h->class_node[c];
		while (!in[v])
			v = h->par[h->par_first[v]];
		class_fam[c] = pos[v];
	}
	free(pos);
	free(fc);
	free(list);
	free(in);
	free(tcount);
	return nl;
}
