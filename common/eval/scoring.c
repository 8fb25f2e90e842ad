/* scoring.c - softmax, cosines, top-k, score vectors, predictions. */
#define _POSIX_C_SOURCE 200809L
#include "eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int64_t vec_count_nonfinite(const float *x, int64_t n)
{
	int64_t bad = 0;
	for (int64_t i = 0; i < n; i++)
		bad += !isfinite(x[i]);
	return bad;
}

void vec_softmax(const float *in, float *out, int64_t n)
{
	if (n <= 0)
		return;
	float m = in[0];
	for (int64_t i = 1; i < n; i++)
		m = in[i] > m ? in[i] : m;
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		out[i] = expf(in[i] - m);
		sum += out[i];
	}
	float inv = (float)(1.0 / sum);
	for (int64_t i = 0; i < n; i++)
		out[i] *= inv;
}

int classes_cosines(const classes_t *c, const float *e, float *cos)
{
	double ss = 0;
	for (int64_t j = 0; j < c->d; j++)
		ss += (double)e[j] * e[j];
	if (!(ss > 0))
		return -1;
	double inv = 1.0 / sqrt(ss);
	for (int64_t k = 0; k < c->k; k++) {
		const float *row = c->rows + k * c->d;
		double dot = 0;
		for (int64_t j = 0; j < c->d; j++)
			dot += (double)row[j] * e[j];
		cos[k] = (float)(dot * inv);
	}
	return 0;
}

/* a ranks before b: larger value, NaN last, then lower class index */
static int ranks_before(const float *v, const int64_t *cls, int64_t a, int64_t b)
{
	float x = v[a], y = v[b];
	int xn = isnan(x), yn = isnan(y);
	if (xn != yn)
		return yn;
	if (!xn && x != y)
		return x > y;
	return cls ? cls[a] < cls[b] : a < b;
}

void vec_topk(const float *v, const int64_t *cls, int64_t n, int k, int64_t *idx)
{
	/* insertion into a sorted list of k: O(n k), k is small */
	int have = 0;
	for (int64_t i = 0; i < n; i++) {
		if (have == k && !ranks_before(v, cls, i, idx[k - 1]))
			continue;
		int j = have < k ? have++ : k - 1;
		while (j > 0 && ranks_before(v, cls, i, idx[j - 1])) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
}

void score_vec_init(score_vec_t *s)
{
	memset(s, 0, sizeof *s);
}

void score_vec_free(score_vec_t *s)
{
	free(s->v);
	free(s->cls);
	score_vec_init(s);
}

int score_vec_from_record(const record_t *rec, score_vec_t *s, char *err, size_t cap)
{
	tensor_t t;
	char terr[256], sbuf[160];
	if (rec_get_tensor(rec, "tensor", &t, terr, sizeof terr) != 0) {
		snprintf(err, cap, "%s", terr);
		return -1;
	}
	if (t.dtype != DTYPE_FLOAT32 && t.dtype != DTYPE_FLOAT16) {
		snprintf(err, cap, "tensor is %s, need float32 or float16", dtype_name(t.dtype));
		return -1;
	}
	int64_t n = tensor_numel(&t);
	if (t.ndim != 1 || n == 0) {
		snprintf(err, cap, "tensor has shape %s, need [K] with K > 0",
			 tensor_shape_str(t.shape, t.ndim, sbuf, sizeof sbuf));
		return -1;
	}
	if ((size_t)n > s->cap) {
		free(s->v);
		free(s->cls);
		s->v = xmalloc((size_t)n * sizeof *s->v);
		s->cls = xmalloc((size_t)n * sizeof *s->cls);
		s->cap = (size_t)n;
	}
	s->n = n;
	s->is_logits = rec_is(rec, "logits");
	tensor_convert_to_f32(t.dtype, t.data, s->v, (size_t)n);
	const msgpack_object *ix = rec_get(rec, "index");
	if (!ix) {
		for (int64_t i = 0; i < n; i++)
			s->cls[i] = i;
		return 0;
	}
	if (ix->type != MSGPACK_OBJECT_ARRAY || (int64_t)ix->via.array.size != n) {
		snprintf(err, cap, "\"index\" must be a list of %lld class indices, one per score", (long long)n);
		return -1;
	}
	for (int64_t i = 0; i < n; i++) {
		const msgpack_object *o = &ix->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT32_MAX) {
			snprintf(err, cap, "\"index\"[%lld] is not a class index", (long long)i);
			return -1;
		}
		s->cls[i] = (int64_t)o->via.u64;
	}
	return 0;
}

int pred_record_kind(const record_t *rec)
{
	return rec_is(rec, "scores") || rec_is(rec, "logits") || rec_is(rec, "topk") || rec_is(rec, "error");
}

int stage_check_record(const record_t *rec, const char *prog, stage_want_t want, char *msg, size_t n)
{
	const char *reads = want == STAGE_WANT_SCORED ? "scores or logits" : "embeddings or logits";
	if (rec_is(rec, "image"))
		snprintf(msg, n, "an image record (imgdecode output, not encoded): %s reads %s; put rnencode%s before %s",
			 prog, reads, want == STAGE_WANT_SCORED ? " (and zscore for CLIP)" : "", prog);
	else if (want == STAGE_WANT_SCORED && rec_is(rec, "embedding"))
		snprintf(msg, n, "an embedding record (encoded, not scored): %s reads %s; put zscore before %s", prog,
			 reads, prog);
	else
		return 0;
	return 1;
}

void pred_free(pred_t *p)
{
	free(p->id);
	free(p->path);
	free(p->error);
	memset(p, 0, sizeof *p);
}

static int pred_from_topk(const record_t *rec, pred_t *p, char *err, size_t cap)
{
	const msgpack_object *ix = rec_get(rec, "index"), *pr = rec_get(rec, "prob");
	if (!ix || ix->type != MSGPACK_OBJECT_ARRAY || !pr || pr->type != MSGPACK_OBJECT_ARRAY ||
	    ix->via.array.size != pr->via.array.size) {
		snprintf(err, cap, "topk record needs \"index\" and \"prob\" lists of equal length");
		return -1;
	}
	uint32_t n = ix->via.array.size;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &ix->via.array.ptr[i];
		double v;
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT32_MAX ||
		    obj_get_double(&pr->via.array.ptr[i], &v) != 0) {
			snprintf(err, cap, "topk record: entry %u is not a class index and a probability", i);
			return -1;
		}
		if (i < PRED_MAX_K) {
			p->top[i] = (int64_t)o->via.u64;
			p->prob[i] = (float)v;
		}
	}
	p->ntop = n < PRED_MAX_K ? (int)n : PRED_MAX_K;
	return 0;
}

int pred_id_check(const record_t *rec, char *err, size_t cap)
{
	const msgpack_object *id = rec_get(rec, "id");
	if (!id) { /* named by position, two runs' records would pair different images */
		snprintf(err, cap, "no \"id\": images are matched by their id, never by position");
		return -1;
	}
	if (id->type != MSGPACK_OBJECT_STR) {
		snprintf(err, cap, "\"id\" is not a str: images are matched by their id text");
		return -1;
	}
	if (memchr(id->via.str.ptr, 0, id->via.str.size)) {
		snprintf(err, cap, "the id holds a NUL byte: images are matched by their id text, which a NUL would cut");
		return -1;
	}
	return 0;
}

int pred_from_record(const record_t *rec, pred_t *p, score_vec_t *scratch, char *err, size_t cap)
{
	memset(p, 0, sizeof *p);
	if (pred_id_check(rec, err, cap) != 0)
		return -1;
	p->label = -1;
	if (rec_get_int(rec, "label", &p->label) != 0)
		p->label = -1;
	if (rec_is(rec, "error")) {
		const char *stage = "", *msg = "";
		size_t sl = 0, ml = 0;
		rec_get_str(rec, "stage", &stage, &sl);
		rec_get_str(rec, "message", &msg, &ml);
		size_t n = sl + ml + 3;
		p->error = xmalloc(n);
		snprintf(p->error, n, "%.*s: %.*s", (int)sl, stage, (int)ml, msg);
		p->status = PRED_ERROR;
	} else if (rec_is(rec, "topk")) {
		if (pred_from_topk(rec, p, err, cap) != 0)
			return -1;
	} else {
		if (score_vec_from_record(rec, scratch, err, cap) != 0)
			return -1;
		int64_t bad = vec_count_nonfinite(scratch->v, scratch->n);
		if (bad) {
			snprintf(err, cap, "%lld NaN/Inf values in the %s", (long long)bad, scratch->is_logits ? "logits" : "scores");
			return -1;
		}
		int64_t idx[PRED_MAX_K];
		int k = scratch->n < PRED_MAX_K ? (int)scratch->n : PRED_MAX_K;
		/* logits rank as they are: softmax ties classes that underflow to 0 */
		vec_topk(scratch->v, scratch->cls, scratch->n, k, idx);
		if (scratch->is_logits)
			vec_softmax(scratch->v, scratch->v, scratch->n);
		for (int i = 0; i < k; i++) {
			p->top[i] = scratch->cls[idx[i]];
			p->prob[i] = scratch->v[idx[i]];
		}
		p->ntop = k;
		p->nclasses = scratch->n;
	}
	p->id = rec_dup_str(rec, "id");
	p->path = rec_dup_str(rec, "path");
	if (p->path && !*p->path) {
		free(p->path);
		p->path = NULL;
	}
	return 0;
}

void pred_json_top(jw_t *w, const int64_t *top, const float *prob, int n)
{
	jw_arr(w, "index");
	for (int i = 0; i < n; i++)
		jw_int(w, NULL, top[i]);
	jw_end(w);
	jw_arr(w, "prob");
	for (int i = 0; i < n; i++)
		jw_double(w, NULL, prob[i]);
	jw_end(w);
}

int pred_rank_of(const pred_t *p, int64_t c)
{
	for (int i = 0; i < p->ntop; i++)
		if (p->top[i] == c)
			return i;
	return -1;
}
