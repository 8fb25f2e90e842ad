/* run.c - prediction runs: a stream's predictions with their provenance and
 * class names, ids indexed and paired, confusions and per-class counts. */
#define _POSIX_C_SOURCE 200809L
#include "eval/eval.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- ids ---- */

void ids_init(id_index_t *x)
{
	memset(x, 0, sizeof *x);
	strmap_init(&x->first);
	x->first_dup = -1;
}

void ids_free(id_index_t *x)
{
	free(x->id);
	strmap_free(&x->first);
	ids_init(x);
}

int64_t ids_add(id_index_t *x, const char *id)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 1024;
		x->id = xrealloc(x->id, (size_t)x->cap * sizeof *x->id);
	}
	int64_t i = x->n++;
	x->id[i] = id;
	if (strmap_put(&x->first, id, i)) {
		if (x->ndup++ == 0)
			x->first_dup = i;
		return strmap_get(&x->first, id);
	}
	return i;
}

int64_t ids_find(const id_index_t *x, const char *id)
{
	return strmap_get(&x->first, id);
}

int ids_is_first(const id_index_t *x, int64_t i)
{
	return strmap_get(&x->first, x->id[i]) == i;
}

void pairing_build(pairing_t *p, const id_index_t *a, const id_index_t *b)
{
	memset(p, 0, sizeof *p);
	p->pair = xmalloc(((size_t)a->n + 1) * sizeof *p->pair);
	for (int64_t i = 0; i < a->n; i++) {
		if (!ids_is_first(a, i)) /* a repeated id: its first record pairs */
			continue;
		int64_t j = ids_find(b, a->id[i]);
		if (j < 0)
			p->only_a++;
		else
			p->pair[p->n++] = (id_pair_t){i, j};
	}
	for (int64_t j = 0; j < b->n; j++)
		if (ids_is_first(b, j) && ids_find(a, b->id[j]) < 0)
			p->only_b++;
}

void pairing_free(pairing_t *p)
{
	free(p->pair);
	memset(p, 0, sizeof *p);
}

int pairing_none(const pairing_t *p, const id_index_t *a, const id_index_t *b, const char *na, const char *nb,
		 const char *what)
{
	if (p->n || (!a->n && !b->n))
		return 0;
	if (a->n && b->n)
		diag_msg("%s vs %s: no image id in common%s%s (A's first is '%s', B's '%s'): the ids differ, e.g. relative "
			 "against full paths: `imgdecode DIR` gives ids relative to DIR, `find DIR | imgdecode` full paths",
			 na, nb, what ? " among the " : "", what ? what : "", a->id[0], b->id[0]);
	else
		diag_msg("%s vs %s: no image id in common: %s has no %s", na, nb, a->n ? nb : na, what ? what : "images");
	return 1;
}

/* ---- reading ---- */

int run_take_context(const record_t *rec, prov_t *prov, char ***names, int64_t *nnames)
{
	if (prov_add(prov, rec)) {
		if (rec_is(rec, "header") && rec_get(rec, "class_names"))
			names_replace_from_object(rec_get(rec, "class_names"), names, nnames);
		return 1;
	}
	if (rec_is(rec, "classes")) {
		names_replace_from_object(rec_get(rec, "names"), names, nnames);
		return 1;
	}
	return 0;
}

DIAG_PRINTF(3, 4) static void left_out(run_t *r, const record_t *rec, const char *fmt, ...)
{
	char where[320], detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	diag_msg("%s: %s", rec_where(where, sizeof where, r->name, rec), detail);
	r->nbad++;
}

/* Keep the prediction just read (r->p[r->n]) unless its label cannot be
 * one: pred_from_record reads a non-integer label, or one beyond int64, as
 * -1, which would turn a broken label into "unlabelled" without a word. */
static int label_usable(run_t *r, const record_t *rec, const pred_t *p)
{
	const msgpack_object *lab = rec_get(rec, "label");
	if (p->status != PRED_OK || !lab)
		return 1;
	if (lab->type != MSGPACK_OBJECT_POSITIVE_INTEGER && lab->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		left_out(r, rec, "label is not an integer (a class index, or -1 for unknown)");
		return 0;
	}
	if (lab->type == MSGPACK_OBJECT_POSITIVE_INTEGER && lab->via.u64 > INT64_MAX) {
		left_out(r, rec, "label %llu is out of range: a class index, or -1 for unknown",
			 (unsigned long long)lab->via.u64);
		return 0;
	}
	return 1;
}

/* The model of each prediction: the run's is the first one's, and a second
 * model makes the run mixed. */
static void note_model(run_t *r, const record_t *rec)
{
	const char *m;
	size_t n;
	if (!r->precision)
		r->precision = rec_dup_str(rec, "precision");
	if (rec_get_str(rec, "model", &m, &n) != 0)
		return;
	if (!r->model)
		r->model = xstrndup(m, n);
	else if (strlen(r->model) != n || memcmp(r->model, m, n) != 0)
		r->mixed_models = 1;
}

void run_read(run_t *r, const char *path, const char *label, const char *prog, size_t max_record)
{
	memset(r, 0, sizeof *r);
	r->path = path;
	r->name = label ? label : strcmp(path, "-") == 0 ? "stdin" : path;
	ids_init(&r->ids);
	prov_init(&r->prov);
	rec_reader_t *rd = rec_reader_open_path(path, max_record);
	if (!rd)
		diag_fatal("%s: %s", path, strerror(errno));
	score_vec_t sv;
	score_vec_init(&sv);
	record_t rec;
	int nunreadable = 0;
	char where[320], err[384];
	while (rec_next(rd, &rec, NULL, &nunreadable)) {
		if (run_take_context(&rec, &r->prov, &r->names, &r->nnames))
			continue;
		if (stage_check_record(&rec, prog, STAGE_WANT_SCORED, err, sizeof err)) {
			/* the wrong stream: stop (exit 2, nothing on stdout); the
			 * reader goes first, so that make asan's leak check sees
			 * nothing held */
			rec_where(where, sizeof where, r->name, &rec);
			score_vec_free(&sv);
			rec_reader_free(rd);
			diag_fatal("%s: %s", where, err);
		}
		if (!pred_record_kind(&rec))
			continue;
		r->nrecords++;
		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 1024;
			r->p = xrealloc(r->p, (size_t)r->cap * sizeof *r->p);
			r->recno = xrealloc(r->recno, (size_t)r->cap * sizeof *r->recno);
			r->indexed = xrealloc(r->indexed, (size_t)r->cap);
		}
		pred_t *p = &r->p[r->n];
		if (pred_from_record(&rec, p, &sv, err, sizeof err) != 0) {
			diag_msg("%s: %s", rec_where(where, sizeof where, r->name, &rec), err);
			r->nmalformed++;
			continue;
		}
		if (p->status == PRED_OK)
			note_model(r, &rec);
		if (!label_usable(r, &rec, p)) {
			pred_free(p);
			continue;
		}
		if (p->nclasses > RUN_MAX_CLASSES) {
			left_out(r, &rec, "%lld scores: more than %d classes, not a class vector", (long long)p->nclasses,
				 RUN_MAX_CLASSES);
			pred_free(p);
			continue;
		}
		/* an "index" list renumbers the positions: its width is not K */
		r->indexed[r->n] = rec_get(&rec, "index") != NULL;
		if (p->nclasses > r->kmax)
			r->kmax = p->nclasses;
		if (p->nclasses > r->kwidth && !r->indexed[r->n])
			r->kwidth = p->nclasses;
		r->recno[r->n] = rec.index;
		r->n++;
	}
	r->nunreadable = nunreadable;
	score_vec_free(&sv);
	rec_reader_free(rd);
}

void run_msg(const run_t *r, int64_t i, const char *fmt, ...)
{
	char detail[512], where[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	const char *id = r->p[i].id;
	diag_msg("%s: %s", rec_where_at(where, sizeof where, r->name, r->recno[i], id, strlen(id)), detail);
}

void run_filter(run_t *r, run_keep_fn keep, void *ctx)
{
	int64_t m = 0;
	for (int64_t i = 0; i < r->n; i++) {
		char why[384] = "";
		if (!keep(&r->p[i], r->indexed[i], ctx, why, sizeof why)) {
			if (why[0]) {
				run_msg(r, i, "%s", why);
				r->nbad++;
			}
			pred_free(&r->p[i]);
			continue;
		}
		r->p[m] = r->p[i];
		r->recno[m] = r->recno[i];
		r->indexed[m] = r->indexed[i];
		m++;
	}
	r->n = m;
}

void run_index(run_t *r, const char *what)
{
	ids_free(&r->ids);
	for (int64_t i = 0; i < r->n; i++)
		ids_add(&r->ids, r->p[i].id);
	int64_t nd = r->ids.ndup, f = r->ids.first_dup;
	if (nd) /* not an input failure, but never silent */
		diag_msg("%s: %lld %s%s repeat%s an earlier id (first: record %llu, id '%s'): only the first record of "
			 "each id counts",
			 r->name, (long long)nd, what, nd == 1 ? "" : "s", nd == 1 ? "s" : "", (unsigned long long)r->recno[f],
			 r->p[f].id);
}

void run_free(run_t *r)
{
	for (int64_t i = 0; i < r->n; i++)
		pred_free(&r->p[i]);
	free(r->p);
	free(r->recno);
	free(r->indexed);
	ids_free(&r->ids);
	prov_free(&r->prov);
	names_free(r->names, r->nnames);
	free(r->model);
	free(r->precision);
	memset(r, 0, sizeof *r);
}

/* ---- confusions ---- */

static int cmp_conf_key(const void *a, const void *b)
{
	const confusion_t *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->p > y->p) - (x->p < y->p);
}

static int cmp_conf_count(const void *a, const void *b)
{
	const confusion_t *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return cmp_conf_key(a, b);
}

int64_t confusions_merge(confusion_t *c, int64_t n)
{
	qsort(c, (size_t)n, sizeof *c, cmp_conf_key);
	int64_t m = 0;
	for (int64_t i = 0; i < n; i++) {
		if (m && c[m - 1].t == c[i].t && c[m - 1].p == c[i].p)
			c[m - 1].n += c[i].n;
		else
			c[m++] = c[i];
	}
	qsort(c, (size_t)m, sizeof *c, cmp_conf_count);
	return m;
}

/* ---- per-class counts ---- */

void run_counts(const run_t *r, const unsigned char *use, int64_t nclasses, run_counts_t *s)
{
	memset(s, 0, sizeof *s);
	int64_t C = nclasses;
	s->nclasses = C;
	s->support = xcalloc((size_t)C + 1, sizeof *s->support);
	s->correct = xcalloc((size_t)C + 1, sizeof *s->correct);
	s->predicted = xcalloc((size_t)C + 1, sizeof *s->predicted);
	s->correct5 = xcalloc((size_t)C + 1, sizeof *s->correct5);
	s->wrong_prob = xcalloc((size_t)C + 1, sizeof *s->wrong_prob);
	confusion_t *pairs = xmalloc(((size_t)r->n + 1) * sizeof *pairs);
	int64_t npairs = 0;
	s->top5_known = 1;
	for (int64_t i = 0; i < r->n; i++) {
		const pred_t *p = &r->p[i];
		if ((use && !use[i]) || !ids_is_first(&r->ids, i))
			continue;
		if (p->status == PRED_ERROR) {
			s->failed++;
			continue;
		}
		s->scored++;
		if (p->label < 0) {
			s->unlabelled++;
			continue;
		}
		s->labelled++;
		int rank = pred_rank_of(p, p->label);
		int64_t pred = p->ntop ? p->top[0] : -1;
		s->support[p->label]++;
		if (pred >= 0)
			s->predicted[pred]++;
		if (rank == 0) {
			s->top1++;
			s->correct[p->label]++;
		} else if (pred >= 0) {
			pairs[npairs++] = (confusion_t){p->label, pred, 1};
			s->wrong_prob[p->label] += p->prob[0];
		}
		if (rank >= 0 && rank < 5) {
			s->top5++;
			s->correct5[p->label]++;
		}
		if (p->ntop < PRED_MAX_K && !(p->nclasses > 0 && p->ntop == p->nclasses))
			s->top5_known = 0;
	}
	s->conf = pairs;
	s->nconf = confusions_merge(pairs, npairs);
	double sum = 0;
	for (int64_t c = 0; c < C; c++)
		if (s->support[c]) {
			s->with_support++;
			sum += (double)s->correct[c] / (double)s->support[c];
		}
	s->mean_recall = s->with_support ? sum / (double)s->with_support : 0;
}

void run_counts_free(run_counts_t *s)
{
	free(s->support);
	free(s->correct);
	free(s->predicted);
	free(s->correct5);
	free(s->wrong_prob);
	free(s->conf);
	memset(s, 0, sizeof *s);
}
