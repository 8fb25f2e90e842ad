/* classes.c - class tables, name files, index lists (formats: eval/eval.h). */
#define _POSIX_C_SOURCE 200809L
#include "eval/eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void classes_init(classes_t *c)
{
	memset(c, 0, sizeof *c);
}

void classes_free(classes_t *c)
{
	free(c->rows);
	names_free(c->names, c->k);
	free(c->model);
	free(c->source);
	classes_init(c);
}

/* Normalize v[0,n) in place; -1 if its norm is zero or not finite. */
static int normalize_row(double *v, int64_t n)
{
	double ss = 0;
	for (int64_t i = 0; i < n; i++)
		ss += v[i] * v[i];
	if (!(ss > 0) || !isfinite(ss))
		return -1;
	double inv = 1.0 / sqrt(ss);
	for (int64_t i = 0; i < n; i++)
		v[i] *= inv;
	return 0;
}

int classes_build_rows(dtype_t dtype, const void *data, int ndim, const int64_t *shape, int transpose,
		       float **rows, int64_t *k, int64_t *d, int64_t *templates, char *err, size_t cap)
{
	char sbuf[160];
	if (dtype != DTYPE_FLOAT32 && dtype != DTYPE_FLOAT16 && dtype != DTYPE_FLOAT64 && dtype != DTYPE_BFLOAT16) {
		snprintf(err, cap, "embeddings are %s: a float type is needed", dtype_name(dtype));
		return -1;
	}
	if (ndim != 2 && ndim != 3) {
		snprintf(err, cap, "embeddings have shape %s: need [K,D] or [K,T,D]",
			 tensor_shape_str(shape, ndim, sbuf, sizeof sbuf));
		return -1;
	}
	if (transpose && ndim != 2) {
		snprintf(err, cap, "--transpose needs a [D,K] table, not shape %s",
			 tensor_shape_str(shape, ndim, sbuf, sizeof sbuf));
		return -1;
	}
	int64_t K = transpose ? shape[1] : shape[0];
	int64_t T = ndim == 3 ? shape[1] : 1;
	int64_t D = transpose ? shape[0] : shape[ndim - 1];
	if (K <= 0 || T <= 0 || D <= 0) {
		snprintf(err, cap, "embeddings have shape %s: no classes or no values",
			 tensor_shape_str(shape, ndim, sbuf, sizeof sbuf));
		return -1;
	}
	float *out = malloc((size_t)(K * D) * sizeof *out);
	double *acc = malloc((size_t)D * sizeof *acc), *one = malloc((size_t)D * sizeof *one);
	float *conv = malloc((size_t)D * sizeof *conv);
	if (!out || !acc || !one || !conv)
		diag_fatal("out of memory for a %lld x %lld table", (long long)K, (long long)D);
	size_t isz = dtype_size(dtype);
	int rc = 0;
	for (int64_t c = 0; c < K && rc == 0; c++) {
		memset(acc, 0, (size_t)D * sizeof *acc);
		for (int64_t t = 0; t < T; t++) {
			if (transpose) { /* column c of [D,K] */
				for (int64_t j = 0; j < D; j++)
					tensor_convert_to_f32(dtype, (const char *)data + (size_t)(j * K + c) * isz,
							      conv + j, 1);
			} else {
				tensor_convert_to_f32(dtype, (const char *)data + (size_t)((c * T + t) * D) * isz, conv,
						      (size_t)D);
			}
			for (int64_t j = 0; j < D; j++) {
				if (!isfinite(conv[j])) {
					snprintf(err, cap, "class %lld%s: value %lld is %s", (long long)c,
						 T > 1 ? " (some template)" : "", (long long)j,
						 isnan(conv[j]) ? "NaN" : "Inf");
					rc = -1;
					break;
				}
				one[j] = conv[j];
			}
			if (rc)
				break;
			/* CLIP's notebook normalizes each template's vector before the mean */
			if (T > 1 && normalize_row(one, D) != 0) {
				snprintf(err, cap, "class %lld, template %lld: the embedding is all zeros", (long long)c,
					 (long long)t);
				rc = -1;
				break;
			}
			for (int64_t j = 0; j < D; j++)
				acc[j] += one[j];
		}
		if (rc)
			break;
		if (normalize_row(acc, D) != 0) {
			snprintf(err, cap, "class %lld: the embedding is all zeros", (long long)c);
			rc = -1;
			break;
		}
		for (int64_t j = 0; j < D; j++)
			out[c * D + j] = (float)acc[j];
	}
	free(acc);
	free(one);
	free(conv);
	if (rc) {
		free(out);
		return -1;
	}
	*rows = out;
	*k = K;
	*d = D;
	if (templates)
		*templates = T;
	return 0;
}

void names_replace_from_object(const msgpack_object *o, char ***names, int64_t *n)
{
	char **v;
	int64_t k;
	if (names_from_object(o, &v, &k) != 0)
		return;
	names_free(*names, *n);
	*names = v;
	*n = k;
}

int names_from_object(const msgpack_object *o, char ***names, int64_t *n)
{
	if (!o || o->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	uint32_t m = o->via.array.size;
	for (uint32_t i = 0; i < m; i++)
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return -1;
	char **v = xcalloc(m ? m : 1, sizeof *v);
	for (uint32_t i = 0; i < m; i++)
		v[i] = obj_dup_str(&o->via.array.ptr[i]);
	*names = v;
	*n = m;
	return 0;
}

void names_free(char **names, int64_t n)
{
	if (!names)
		return;
	for (int64_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int classes_from_record(const record_t *rec, classes_t *c, char *err, size_t cap)
{
	char terr[256];
	tensor_t t;
	classes_init(c);
	if (rec_get_tensor(rec, "tensor", &t, terr, sizeof terr) != 0) {
		snprintf(err, cap, "classes record %llu: %s", (unsigned long long)rec->index, terr);
		return -1;
	}
	if (classes_build_rows(t.dtype, t.data, t.ndim, t.shape, 0, &c->rows, &c->k, &c->d, NULL, terr,
			       sizeof terr) != 0) {
		snprintf(err, cap, "classes record %llu: %s", (unsigned long long)rec->index, terr);
		return -1;
	}
	const msgpack_object *no = rec_get(rec, "names");
	int64_t nn = 0;
	if (no && names_from_object(no, &c->names, &nn) != 0) {
		snprintf(err, cap, "classes record %llu: \"names\" is not a list of str", (unsigned long long)rec->index);
		classes_free(c);
		return -1;
	}
	if (c->names && nn != c->k) {
		snprintf(err, cap, "classes record %llu: %lld names for %lld classes", (unsigned long long)rec->index,
			 (long long)nn, (long long)c->k);
		names_free(c->names, nn);
		c->names = NULL;
		classes_free(c);
		return -1;
	}
	c->logit_scale = 100.0;
	if (rec_get(rec, "logit_scale") &&
	    (rec_get_double(rec, "logit_scale", &c->logit_scale) != 0 || !classes_logit_scale_ok(c->logit_scale))) {
		snprintf(err, cap, "classes record %llu: \"logit_scale\" is not a number in (0, %g]",
			 (unsigned long long)rec->index, CLASSES_MAX_LOGIT_SCALE);
		classes_free(c);
		return -1;
	}
	c->model = rec_dup_str(rec, "model");
	return 0;
}

int classes_load_path(const char *path, classes_t *c, char *err, size_t cap)
{
	classes_init(c);
	rec_reader_t *r = rec_reader_open_path(path, 0);
	if (!r) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	rec_reader_hash(r);
	/* the whole file, as a stream: a second classes record (cat old new),
	 * an invalid record or bytes after the table would otherwise pass
	 * unseen and the wrong table, or half a file, be used */
	record_t rec;
	int found = 0, rc = -1;
	for (;;) {
		rec_status_t st = rec_reader_next(r, &rec);
		if (st == REC_EOF) {
			if (found)
				rc = 0;
			else
				snprintf(err, cap, "%s: no classes record in the stream", path);
			break;
		}
		if (st != REC_OK) {
			snprintf(err, cap, "%s", rec_reader_message(r));
			break;
		}
		if (!rec_is(&rec, "classes"))
			continue;
		if (found) {
			snprintf(err, cap, "%s: a second classes record (record %llu): one table per file", path,
				 (unsigned long long)rec.index);
			break;
		}
		char cerr[384];
		if (classes_from_record(&rec, c, cerr, sizeof cerr) != 0) {
			snprintf(err, cap, "%s: %s", path, cerr);
			break;
		}
		found = 1;
	}
	if (rc == 0) {
		c->source = xstrdup(path);
		rec_reader_sha256(r, c->sha256);
	} else
		classes_free(c);
	rec_reader_free(r);
	return rc;
}

const char *classes_default_path(char *buf, size_t cap)
{
	char *p = weights_path("classes-clip-rn50.mp");
	snprintf(buf, cap, "%s", p);
	free(p);
	return buf;
}

typedef struct {
	const char *path;
	char **v;
	int64_t n, cap;
	long blank; /* first empty line so far, 0 if none */
} names_ctx_t;

/* An empty line inside the list would shift every later index by one, so it
 * is an error; empty lines at the very end (an editor's extra newline) are not. */
static int names_line(void *vctx, long lineno, char *line, char *err, size_t cap)
{
	names_ctx_t *c = vctx;
	if (!*line) {
		if (!c->blank)
			c->blank = lineno;
		return 0;
	}
	if (c->blank) {
		snprintf(err, cap, "%s: line %ld is empty (one entry per line, in order; empty lines only at the end)",
			 c->path, c->blank);
		return -1;
	}
	/* names go into records as msgpack str, which readers decode as UTF-8 */
	size_t len = strlen(line), valid = utf8_valid_len(line, len);
	if (valid < len) {
		snprintf(err, cap, "%s: line %ld is not UTF-8 (byte %zu): the file must be UTF-8 text (iconv -f latin1 -t utf-8)",
			 c->path, lineno, valid + 1);
		return -1;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->v = xrealloc(c->v, (size_t)c->cap * sizeof *c->v);
	}
	c->v[c->n] = xstrdup(line);
	c->n++;
	return 0;
}

/* The list the lines gave: handed over, or freed when reading failed (rc). */
static int names_done(names_ctx_t *c, int rc, char ***names, int64_t *n, char *err, size_t cap)
{
	const char *path = c->path;
	if (rc != 0) {
		names_free(c->v, c->n);
		return -1;
	}
	if (c->n == 0) { /* callers would take an empty list for "no --names" */
		snprintf(err, cap, "%s: only empty lines", path);
		return -1;
	}
	*names = c->v;
	*n = c->n;
	return 0;
}

int names_load(const char *path, char ***names, int64_t *n, char *err, size_t cap)
{
	names_ctx_t c = {path, NULL, 0, 0, 0};
	return names_done(&c, file_for_each_line(path, names_line, &c, err, cap), names, n, err, cap);
}

int names_parse(const char *path, char *text, size_t len, char ***names, int64_t *n, char *err, size_t cap)
{
	names_ctx_t c = {path, NULL, 0, 0, 0};
	return names_done(&c, text_for_each_line(path, text, len, names_line, &c, err, cap), names, n, err, cap);
}

int names_fit(const char *path, int64_t nnames, const char *what, const int64_t *cls, int64_t n, const char *where,
	      char *err, size_t cap)
{
	if (!cls) {
		if (n == nnames)
			return 0;
		snprintf(err, cap, "--names %s: %lld names, the %s have %lld classes (%s)", path, (long long)nnames, what,
			 (long long)n, where);
		return -1;
	}
	for (int64_t i = 0; i < n; i++)
		if (cls[i] >= nnames) {
			snprintf(err, cap, "--names %s: %lld names, the %s index class %lld (%s)", path, (long long)nnames,
				 what, (long long)cls[i], where);
			return -1;
		}
	return 0;
}

typedef struct {
	const char *path;
	int64_t limit;
	int64_t *v;
	int64_t n, cap;
	int64_t *g; /* groups, when the lines are CLASS GROUP pairs; else NULL */
	int pairs;
} index_ctx_t;

static int index_line(void *vctx, long lineno, char *line, char *err, size_t cap)
{
	index_ctx_t *c = vctx;
	char *hash = strchr(line, '#');
	if (hash)
		*hash = 0;
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(p, &end, 10), g = 0;
	int ok = !errno && end > p && v >= 0;
	if (ok && c->pairs) { /* CLASS, blanks, GROUP */
		char *q = end;
		while (*q == ' ' || *q == '\t')
			q++;
		ok = q > end && *q;
		if (ok) {
			g = strtoll(q, &end, 10);
			ok = !errno && end > q && g >= 0 && g <= INT32_MAX; /* the "index" entries it becomes */
		}
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (!ok || *end) {
		snprintf(err, cap, "%s: line %ld: '%s' is not %s", c->path, lineno, p,
			 c->pairs ? "CLASS GROUP (two class indices)" : "a class index");
		return -1;
	}
	if (v >= c->limit) {
		snprintf(err, cap, "%s: line %ld: class %lld is out of range (%lld classes)", c->path, lineno, v,
			 (long long)c->limit);
		return -1;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = xrealloc(c->v, (size_t)c->cap * sizeof *c->v);
		if (c->pairs)
			c->g = xrealloc(c->g, (size_t)c->cap * sizeof *c->g);
	}
	if (c->pairs)
		c->g[c->n] = g;
	c->v[c->n++] = v;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Read the lines into c, then refuse an empty list or a class listed twice. */
static int index_load(index_ctx_t *c, char *err, size_t cap)
{
	int rc = file_for_each_line(c->path, index_line, c, err, cap);
	if (rc == 0 && c->n == 0) {
		snprintf(err, cap, "%s: no class indices in the file", c->path);
		rc = -1;
	}
	if (rc == 0) { /* a class listed twice would get two shares of the softmax */
		int64_t *sorted = xmalloc((size_t)c->n * sizeof *sorted);
		memcpy(sorted, c->v, (size_t)c->n * sizeof *sorted);
		qsort(sorted, (size_t)c->n, sizeof *sorted, cmp_i64);
		for (int64_t i = 1; i < c->n && rc == 0; i++)
			if (sorted[i] == sorted[i - 1]) {
				snprintf(err, cap, "%s: class %lld is listed twice", c->path, (long long)sorted[i]);
				rc = -1;
			}
		free(sorted);
	}
	if (rc != 0) {
		free(c->v);
		free(c->g);
		return -1;
	}
	return 0;
}

int index_list_load(const char *path, int64_t limit, int64_t **idx, int64_t *n, char *err, size_t cap)
{
	index_ctx_t c = {.path = path, .limit = limit};
	if (index_load(&c, err, cap) != 0)
		return -1;
	*idx = c.v;
	*n = c.n;
	return 0;
}

int index_groups_load(const char *path, int64_t limit, int64_t **idx, int64_t **group, int64_t *n, char *err,
		      size_t cap)
{
	index_ctx_t c = {.path = path, .limit = limit, .pairs = 1};
	if (index_load(&c, err, cap) != 0)
		return -1;
	*idx = c.v;
	*group = c.g;
	*n = c.n;
	return 0;
}
