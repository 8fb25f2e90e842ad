/* text_encoder.c - CLIP's text tower on the CPU (see text_encoder.h).
 *
 * Matrix products go to oneDNN's dnnl_sgemm (row-major, threaded by its
 * OpenMP runtime); LayerNorm, attention over each row's root path, the MLP's
 * activation (QuickGELU or GELU) and the bias adds are plain C split over
 * rows with pthreads.
 *
 * A batch is a prefix tree of the (sorted) token sequences: row r holds the
 * hidden state of one distinct prefix; depth[r] is its position, parent[r]
 * the row of the prefix one shorter (-1 at the root). Rows are created in
 * order, so a parent always precedes its children.
 */
#define _GNU_SOURCE
#include "text_encoder.h"

#include <dlfcn.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

enum {
	TEXT_HEAD_DIM = 64, /* CLIP: heads = width / 64 */
	TEXT_MAX_CONTEXT = 1024
};

/* ---------------------------------------------------------------- loading */

/* The shape of tensor name, checked against want (want[i] < 0: any size,
 * reported back through got[]); 0 or -1 with err. */
static int text_shape_of(const ckpt_t *c, const char *name, int ndim, const int64_t *want, int64_t *got, char *err,
			 size_t cap)
{
	const ckpt_entry_t *e = ckpt_find(c, name);
	if (!e)
		return err_set(err, cap, "%s: missing (not a CLIP checkpoint with a text tower?)", name);
	char sb[96], wb[96];
	if (e->t.ndim != ndim)
		return err_set(err, cap, "%s: shape %s, expected %d dimensions", name,
				 tensor_shape_str(e->t.shape, e->t.ndim, sb, sizeof sb), ndim);
	for (int i = 0; i < ndim; i++) {
		if (want && want[i] >= 0 && e->t.shape[i] != want[i])
			return err_set(err, cap, "%s: shape %s, expected %s", name,
					 tensor_shape_str(e->t.shape, e->t.ndim, sb, sizeof sb),
					 tensor_shape_str(want, ndim, wb, sizeof wb));
		if (got)
			got[i] = e->t.shape[i];
	}
	return 0;
}

/* A checkpoint tensor of the given shape as a malloc'd FP32 copy. */
static float *text_tensor(const ckpt_t *c, const char *name, int ndim, const int64_t *want, int round16, char *err,
			  size_t cap)
{
	if (text_shape_of(c, name, ndim, want, NULL, err, cap) != 0)
		return NULL;
	const tensor_t *t = &ckpt_find(c, name)->t;
	if (t->dtype != DTYPE_FLOAT32 && t->dtype != DTYPE_FLOAT16 && t->dtype != DTYPE_BFLOAT16 &&
	    t->dtype != DTYPE_FLOAT64) {
		err_set(err, cap, "%s: dtype %s, expected a float type", name, dtype_name(t->dtype));
		return NULL;
	}
	int64_t n = tensor_numel(t);
	float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
	if (!f) {
		err_set(err, cap, "%s: out of memory", name);
		return NULL;
	}
	tensor_convert_to_f32(t->dtype, t->data, f, (size_t)n);
	for (int64_t i = 0; i < n && round16; i++)
		f[i] = half_to_float(float_to_half(f[i]));
	return f;
}

void text_model_free(text_model_t *m)
{
	if (m->blocks)
		for (int l = 0; l < m->layers; l++) {
			text_block_t *b = &m->blocks[l];
			float **all[] = {&b->ln_1_w, &b->ln_1_b,     &b->in_proj_w, &b->in_proj_b, &b->out_proj_w,
					 &b->out_proj_b, &b->ln_2_w, &b->ln_2_b,    &b->c_fc_w,    &b->c_fc_b,
					 &b->c_proj_w, &b->c_proj_b};
			for (size_t i = 0; i < sizeof all / sizeof *all; i++)
				free(*all[i]);
		}
	free(m->blocks);
	free(m->token_embedding);
	free(m->positional_embedding);
	free(m->ln_final_w);
	free(m->ln_final_b);
	free(m->text_projection);
	memset(m, 0, sizeof *m);
}

int text_tower_shape(const ckpt_t *c, text_shape_t *s, char *err, size_t errcap)
{
	memset(s, 0, sizeof *s);
	int64_t got[2], any1[1] = {-1};
	if (text_shape_of(c, "ln_final.weight", 1, any1, got, err, errcap) != 0)
		return -1;
	int64_t W = got[0];
	if (W <= 0 || W % TEXT_HEAD_DIM != 0 || W > 65536)
		return err_set(err, errcap, "ln_final.weight: width %lld is not a multiple of %d up to 65536",
				 (long long)W, TEXT_HEAD_DIM);
	s->width = (int)W;
	s->heads = (int)(W / TEXT_HEAD_DIM);
	int64_t w2any[2] = {-1, W}, wany[2] = {W, -1};
	if (text_shape_of(c, "token_embedding.weight", 2, w2any, got, err, errcap) != 0)
		return -1;
	if (got[0] < 1 || got[0] > INT32_MAX)
		return err_set(err, errcap, "token_embedding.weight: vocabulary of %lld", (long long)got[0]);
	s->vocab = (int)got[0];
	if (text_shape_of(c, "positional_embedding", 2, w2any, got, err, errcap) != 0)
		return -1;
	if (got[0] < 2 || got[0] > TEXT_MAX_CONTEXT)
		return err_set(err, errcap, "positional_embedding: context %lld out of range", (long long)got[0]);
	s->context = (int)got[0];
	if (text_shape_of(c, "text_projection", 2, wany, got, err, errcap) != 0)
		return -1;
	if (got[1] < 1 || got[1] > 65536)
		return err_set(err, errcap, "text_projection: embedding size %lld", (long long)got[1]);
	s->embed = (int)got[1];
	/* layers as build_model counts them: the distinct N of transformer.resblocks.N.*,
	 * which must then be 0..layers-1 */
	static const char pre[] = "transformer.resblocks.";
	int most = -1, count = 0;
	strmap_t seen;
	strmap_init(&seen);
	for (size_t i = 0; i < ckpt_count(c); i++) {
		const char *nm = ckpt_entry(c, i)->name;
		if (strncmp(nm, pre, sizeof pre - 1) != 0)
			continue;
		const char *d = nm + sizeof pre - 1, *e = d;
		long n = 0;
		while (*e >= '0' && *e <= '9' && n < 100000)
			n = n * 10 + (*e++ - '0');
		if (e == d || *e != '.' || (*d == '0' && e - d > 1) || n >= 100000)
			continue;
		if (strmap_putn(&seen, d, (size_t)(e - d), n) == 0) {
			count++;
			if (n > most)
				most = (int)n;
		}
	}
	strmap_free(&seen);
	if (count == 0)
		return err_set(err, errcap, "transformer.resblocks.0.ln_1.weight: missing (no text transformer)");
	if (most + 1 != count)
		return err_set(err, errcap, "transformer.resblocks: %d blocks numbered up to %d", count, most);
	s->layers = count;
	return 0;
}

const char *text_act_name(text_act_t act)
{
	return act == TEXT_ACT_GELU ? "gelu" : "quickgelu";
}

int text_model_load(text_model_t *m, const ckpt_t *c, text_act_t act, int fp16, char *err, size_t errcap)
{
	memset(m, 0, sizeof *m);
	text_shape_t sh;
	if (text_tower_shape(c, &sh, err, errcap) != 0)
		return -1;
	m->fp16 = fp16;
	m->act = act;
	m->width = sh.width;
	m->heads = sh.heads;
	m->vocab = sh.vocab;
	m->context = sh.context;
	m->embed = sh.embed;
	int64_t W = sh.width;
	int64_t w1[1] = {W}, vw[2] = {sh.vocab, W}, cw[2] = {sh.context, W}, we[2] = {W, sh.embed};
	if (!(m->ln_final_w = text_tensor(c, "ln_final.weight", 1, w1, 0, err, errcap)) ||
	    !(m->ln_final_b = text_tensor(c, "ln_final.bias", 1, w1, 0, err, errcap)) ||
	    !(m->token_embedding = text_tensor(c, "token_embedding.weight", 2, vw, 0, err, errcap)) ||
	    !(m->positional_embedding = text_tensor(c, "positional_embedding", 2, cw, 0, err, errcap)) ||
	    !(m->text_projection = text_tensor(c, "text_projection", 2, we, fp16, err, errcap)))
		goto fail;
	{
		float *ls = text_tensor(c, "logit_scale", 0, NULL, 0, err, errcap);
		if (!ls)
			goto fail;
		m->logit_scale = ls[0];
		free(ls);
	}
	char name[128];
	m->blocks = calloc((size_t)sh.layers, sizeof *m->blocks);
	if (!m->blocks) {
		err_set(err, errcap, "out of memory");
		goto fail;
	}
	m->layers = sh.layers;
	for (int l = 0; l < m->layers; l++) {
		text_block_t *b = &m->blocks[l];
		int64_t s3w[2] = {3 * W, W}, s3[1] = {3 * W}, sww[2] = {W, W}, s4w[2] = {4 * W, W}, s4[1] = {4 * W},
			sw4[2] = {W, 4 * W};
		struct {
			float **dst;
			const char *suffix;
			int ndim;
			const int64_t *shape;
			int half;
		} t[] = {
			{&b->ln_1_w, "ln_1.weight", 1, w1, 0},
			{&b->ln_1_b, "ln_1.bias", 1, w1, 0},
			{&b->in_proj_w, "attn.in_proj_weight", 2, s3w, fp16},
			{&b->in_proj_b, "attn.in_proj_bias", 1, s3, fp16},
			{&b->out_proj_w, "attn.out_proj.weight", 2, sww, fp16},
			{&b->out_proj_b, "attn.out_proj.bias", 1, w1, fp16},
			{&b->ln_2_w, "ln_2.weight", 1, w1, 0},
			{&b->ln_2_b, "ln_2.bias", 1, w1, 0},
			{&b->c_fc_w, "mlp.c_fc.weight", 2, s4w, fp16},
			{&b->c_fc_b, "mlp.c_fc.bias", 1, s4, fp16},
			{&b->c_proj_w, "mlp.c_proj.weight", 2, sw4, fp16},
			{&b->c_proj_b, "mlp.c_proj.bias", 1, w1, fp16},
		};
		for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
			snprintf(name, sizeof name, "transformer.resblocks.%d.%s", l, t[i].suffix);
			if (!(*t[i].dst = text_tensor(c, name, t[i].ndim, t[i].shape, t[i].half, err, errcap)))
				goto fail;
		}
	}
	return 0;
fail:
	text_model_free(m);
	return -1;
}

/* ---------------------------------------------------------------- threads */

static int text_cores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return 1;
}

/* oneDNN's thread count (Debian's build uses OpenMP; the runtime's setter is
 * looked up at run time because only libdnnl links libgomp). */
static int text_threads_set(int want)
{
	const dnnl_version_t *v = dnnl_version();
	if (v->cpu_runtime != DNNL_RUNTIME_OMP)
		return want;
	void (*set)(int) = (void (*)(int))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	if (set)
		set(want);
	return want;
}

typedef void (*text_range_fn)(void *ctx, size_t lo, size_t hi);

typedef struct {
	text_range_fn fn;
	void *ctx;
	size_t lo, hi;
} text_job_t;

static void *text_job_run(void *p)
{
	text_job_t *j = p;
	j->fn(j->ctx, j->lo, j->hi);
	return NULL;
}

/* fn over [0, n) split into `threads` contiguous ranges. */
static void text_par_for(int threads, size_t n, text_range_fn fn, void *ctx)
{
	enum { MAXT = 256 };
	if (threads > MAXT)
		threads = MAXT;
	if (threads <= 1 || n < 64) {
		fn(ctx, 0, n);
		return;
	}
	text_job_t jobs[MAXT];
	pthread_t tid[MAXT];
	int started[MAXT] = {0};
	for (int t = 0; t < threads; t++) {
		jobs[t] = (text_job_t){fn, ctx, n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads};
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, text_job_run, &jobs[t]) == 0;
	}
	fn(ctx, jobs[0].lo, jobs[0].hi);
	for (int t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			fn(ctx, jobs[t].lo, jobs[t].hi); /* no thread: do its share here */
	}
}

/* ---------------------------------------------------------------- row kernels */

typedef struct {
	const text_model_t *m;
	int rows;
	const int32_t *token; /* [rows] */
	const int *depth;     /* [rows] */
	const int *parent;    /* [rows] */
	const int *gather;    /* [rows] source row for ln_rows, or NULL (identity) */
	float *x;             /* [rows, W] residual stream */
	float *h;             /* [rows, W] normalized / attention output */
	float *qkv;           /* [rows, 3W] */
	float *f;             /* [rows, 4W] */
	const float *ln_w, *ln_b, *bias;
	float *dst;           /* bias target */
	int dst_cols;
} text_ctx_t;

/* x[r] = token_embedding[token[r]] + positional_embedding[depth[r]] */
static void k_embed(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int W = c->m->width;
	for (size_t r = lo; r < hi; r++) {
		const float *te = c->m->token_embedding + (size_t)c->token[r] * (size_t)W;
		const float *pe = c->m->positional_embedding + (size_t)c->depth[r] * (size_t)W;
		float *x = c->x + r * (size_t)W;
		for (int i = 0; i < W; i++)
			x[i] = te[i] + pe[i];
	}
}

/* h[r] = LayerNorm(x[gather[r]]) * w + b, eps 1e-5 (statistics in double) */
static void k_layernorm(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int W = c->m->width;
	for (size_t r = lo; r < hi; r++) {
		const float *x = c->x + (size_t)(c->gather ? c->gather[r] : (int)r) * (size_t)W;
		float *h = c->h + r * (size_t)W;
		double s = 0, ss = 0;
		for (int i = 0; i < W; i++)
			s += x[i];
		double mean = s / W;
		for (int i = 0; i < W; i++)
			ss += (x[i] - mean) * (x[i] - mean);
		double inv = 1.0 / sqrt(ss / W + 1e-5);
		for (int i = 0; i < W; i++)
			h[i] = (float)((x[i] - mean) * inv) * c->ln_w[i] + c->ln_b[i];
	}
}

/* dst[r] += bias (dst [rows, dst_cols]) */
static void k_bias(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	for (size_t r = lo; r < hi; r++) {
		float *d = c->dst + r * (size_t)c->dst_cols;
		for (int i = 0; i < c->dst_cols; i++)
			d[i] += c->bias[i];
	}
}

/* f[r] = act(f[r] + c_fc bias): QuickGELU, or GELU's erf form as nn.GELU() */
static void k_bias_gelu(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int F = 4 * c->m->width, gelu = c->m->act == TEXT_ACT_GELU;
	for (size_t r = lo; r < hi; r++) {
		float *f = c->f + r * (size_t)F;
		for (int i = 0; i < F; i++) {
			float z = f[i] + c->bias[i];
			f[i] = gelu ? 0.5f * z * (1.0f + erff(z * 0.70710678f)) : z / (1.0f + expf(-1.702f * z));
		}
	}
}

/* Causal self-attention of each row over its root path:
 *   qkv [rows, 3W] (q | k | v, head h at columns 64h..64h+63 of each third)
 *   h[r] (head h part) = softmax_j(q_r . k_{p_j} / 8) weighted sum of v_{p_j},
 *   p_0..p_d the rows of r's prefixes, p_d = r. */
static void k_attention(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int W = c->m->width, H = c->m->heads;
	size_t ld = 3 * (size_t)W;
	int path[TEXT_MAX_CONTEXT];
	float score[TEXT_MAX_CONTEXT];
	const float scale = 1.0f / sqrtf((float)TEXT_HEAD_DIM);
	for (size_t r = lo; r < hi; r++) {
		int d = c->depth[r];
		for (int j = d, v = (int)r; j >= 0; j--, v = c->parent[v])
			path[j] = v;
		for (int hd = 0; hd < H; hd++) {
			const float *q = c->qkv + r * ld + (size_t)hd * TEXT_HEAD_DIM;
			float mx = -INFINITY;
			for (int j = 0; j <= d; j++) {
				const float *k = c->qkv + (size_t)path[j] * ld + (size_t)W + (size_t)hd * TEXT_HEAD_DIM;
				float s = 0;
				for (int i = 0; i < TEXT_HEAD_DIM; i++)
					s += q[i] * k[i];
				score[j] = s * scale;
				if (score[j] > mx)
					mx = score[j];
			}
			float sum = 0;
			for (int j = 0; j <= d; j++) {
				score[j] = expf(score[j] - mx);
				sum += score[j];
			}
			float o[TEXT_HEAD_DIM] = {0};
			for (int j = 0; j <= d; j++) {
				const float *v = c->qkv + (size_t)path[j] * ld + 2 * (size_t)W + (size_t)hd * TEXT_HEAD_DIM;
				float a = score[j] / sum;
				for (int i = 0; i < TEXT_HEAD_DIM; i++)
					o[i] += a * v[i];
			}
			memcpy(c->h + r * (size_t)W + (size_t)hd * TEXT_HEAD_DIM, o, sizeof o);
		}
	}
}

/* C[M,N] = A[M,K] B^T (B [N,K], a PyTorch Linear weight) + beta C */
static int text_linear(const float *a, const float *b, float *cmat, int M, int N, int K, float beta)
{
	return dnnl_sgemm('N', 'T', M, N, K, 1.0f, a, K, b, K, beta, cmat, N) == dnnl_success ? 0 : -1;
}

/* ---------------------------------------------------------------- encode */

typedef struct {
	const int32_t *const *ids;
	const int *lens;
} text_sort_ctx_t;

static text_sort_ctx_t text_sort_ctx; /* qsort has no context argument in C11 */

static int text_cmp_seq(const void *pa, const void *pb)
{
	int a = *(const int *)pa, b = *(const int *)pb;
	int la = text_sort_ctx.lens[a], lb = text_sort_ctx.lens[b];
	const int32_t *x = text_sort_ctx.ids[a], *y = text_sort_ctx.ids[b];
	for (int i = 0; i < la && i < lb; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	if (la != lb)
		return la < lb ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Length that matters: up to and including the first largest id (CLIP's argmax). */
static int text_cut(const int32_t *ids, int len)
{
	int best = 0;
	for (int i = 1; i < len; i++)
		if (ids[i] > ids[best])
			best = i;
	return best + 1;
}

/* ---------------------------------------------------------------- CPU backend */

struct text_runner {
	const text_model_t *m;
	int threads, cap;
	float *x, *h, *qkv, *f, *g; /* [cap, W], [cap, W], [cap, 3W], [cap, 4W], [cap, W] */
	size_t bytes;
	double compute_s;
};

static int cpu_available(int gpu, char *why, size_t whycap)
{
	(void)gpu;
	(void)why;
	(void)whycap;
	return 1;
}

static void cpu_destroy(text_runner_t *r)
{
	if (!r)
		return;
	free(r->x);
	free(r->h);
	free(r->qkv);
	free(r->f);
	free(r->g);
	free(r);
}

static text_runner_t *cpu_create(const text_model_t *m, const text_config_t *cfg, char *err, size_t errcap)
{
	if (cfg->precision != PREC_FP32 && cfg->precision != PREC_FP16) {
		err_set(err, errcap, "precision %s: the CPU text tower computes fp32 or fp16",
			precision_name(cfg->precision));
		return NULL;
	}
	text_runner_t *r = calloc(1, sizeof *r);
	if (!r) {
		err_set(err, errcap, "out of memory");
		return NULL;
	}
	r->m = m;
	r->threads = cfg->threads > 0 ? cfg->threads : text_cores();
	r->cap = cfg->batch_rows > 0 ? cfg->batch_rows : 4096;
	if (r->cap < m->context)
		r->cap = m->context;
	text_threads_set(r->threads);
	size_t cap = (size_t)r->cap, W = (size_t)m->width;
	r->bytes = cap * W * 10 * sizeof(float);
	r->x = malloc(cap * W * sizeof(float));
	r->h = malloc(cap * W * sizeof(float));
	r->qkv = malloc(cap * 3 * W * sizeof(float));
	r->f = malloc(cap * 4 * W * sizeof(float));
	r->g = malloc(cap * W * sizeof(float));
	if (!r->x || !r->h || !r->qkv || !r->f || !r->g) {
		err_set(err, errcap, "out of memory for a batch of %d rows (%zu MiB)", r->cap, r->bytes >> 20);
		cpu_destroy(r);
		return NULL;
	}
	return r;
}

/* Run one batch through the model: out [nseq, E]. */
static int cpu_run(text_runner_t *r, const text_trie_t *t, float *out, char *err, size_t errcap)
{
	double t0 = time_now();
	const text_model_t *m = r->m;
	int W = m->width, N = t->rows, threads = r->threads;
	if (N > r->cap)
		return err_set(err, errcap, "batch of %d rows, the runner was made for %d", N, r->cap);
	text_ctx_t c = {.m = m,
			.rows = N,
			.token = t->token,
			.depth = t->depth,
			.parent = t->parent,
			.x = r->x,
			.h = r->h,
			.qkv = r->qkv,
			.f = r->f};
	text_par_for(threads, (size_t)N, k_embed, &c);
	for (int l = 0; l < m->layers; l++) {
		const text_block_t *b = &m->blocks[l];
		c.ln_w = b->ln_1_w;
		c.ln_b = b->ln_1_b;
		text_par_for(threads, (size_t)N, k_layernorm, &c);
		if (text_linear(r->h, b->in_proj_w, r->qkv, N, 3 * W, W, 0.0f))
			return err_set(err, errcap, "dnnl_sgemm failed");
		c.dst = r->qkv;
		c.dst_cols = 3 * W;
		c.bias = b->in_proj_b;
		text_par_for(threads, (size_t)N, k_bias, &c);
		text_par_for(threads, (size_t)N, k_attention, &c);
		if (text_linear(r->h, b->out_proj_w, r->x, N, W, W, 1.0f))
			return err_set(err, errcap, "dnnl_sgemm failed");
		c.dst = r->x;
		c.dst_cols = W;
		c.bias = b->out_proj_b;
		text_par_for(threads, (size_t)N, k_bias, &c);
		c.ln_w = b->ln_2_w;
		c.ln_b = b->ln_2_b;
		text_par_for(threads, (size_t)N, k_layernorm, &c);
		if (text_linear(r->h, b->c_fc_w, r->f, N, 4 * W, W, 0.0f))
			return err_set(err, errcap, "dnnl_sgemm failed");
		c.bias = b->c_fc_b;
		text_par_for(threads, (size_t)N, k_bias_gelu, &c);
		if (text_linear(r->f, b->c_proj_w, r->x, N, W, 4 * W, 1.0f))
			return err_set(err, errcap, "dnnl_sgemm failed");
		c.dst = r->x;
		c.dst_cols = W;
		c.bias = b->c_proj_b;
		text_par_for(threads, (size_t)N, k_bias, &c);
	}
	/* ln_final on each sequence's last row, then @ text_projection [W, E] */
	c.gather = t->seq_leaf;
	c.h = r->g;
	c.ln_w = m->ln_final_w;
	c.ln_b = m->ln_final_b;
	text_par_for(threads, (size_t)t->nseq, k_layernorm, &c);
	if (dnnl_sgemm('N', 'N', t->nseq, m->embed, W, 1.0f, r->g, W, m->text_projection, m->embed, 0.0f, out,
		       m->embed) != dnnl_success)
		return err_set(err, errcap, "dnnl_sgemm failed");
	r->compute_s += time_now() - t0;
	return 0;
}

static void cpu_info(const text_runner_t *r, text_info_t *info)
{
	const dnnl_version_t *v = dnnl_version();
	memset(info, 0, sizeof *info);
	snprintf(info->device, sizeof info->device, "cpu: oneDNN %d.%d.%d, %d threads", v->major, v->minor, v->patch,
		 r->threads);
	info->threads = r->threads;
	info->batch_rows = r->cap;
	info->peak_bytes = r->bytes;
	info->compute_s = r->compute_s;
}

const text_backend_t text_backend_cpu = {"cpu", cpu_available, cpu_create, cpu_run, cpu_info, cpu_destroy};

/* ---------------------------------------------------------------- encode */

typedef struct {
	int rows, nseq;
	int32_t *token;
	int *depth, *parent, *seq_leaf, *seq_index;
	float *o; /* [cap, E] outputs of the batch */
} text_batch_t;

static void text_batch_free(text_batch_t *bt)
{
	free(bt->token);
	free(bt->depth);
	free(bt->parent);
	free(bt->seq_leaf);
	free(bt->seq_index);
	free(bt->o);
}

/* Hand the batch to the backend, scatter its outputs to out[seq_index[s]],
 * count it in st and empty it. */
static int text_flush(const text_backend_t *be, text_runner_t *r, const text_model_t *m, text_batch_t *bt, float *out,
		      text_encode_stats_t *st, char *err, size_t errcap)
{
	text_trie_t t = {bt->rows, bt->token, bt->depth, bt->parent, bt->nseq, bt->seq_leaf};
	if (be->run(r, &t, bt->o, err, errcap) != 0)
		return -1;
	for (int s = 0; s < bt->nseq; s++)
		memcpy(out + (size_t)bt->seq_index[s] * (size_t)m->embed, bt->o + (size_t)s * (size_t)m->embed,
		       (size_t)m->embed * sizeof *out);
	st->rows += bt->rows;
	st->batches++;
	bt->rows = bt->nseq = 0;
	return 0;
}

/* done of n prompts encoded since t0: a progress line on a terminal (80
 * templates x 1000 classes take minutes on a CPU) */
static void text_progress(int done, int n, double t0)
{
	double dt = time_now() - t0, rate = dt > 0 ? done / dt : 0;
	char left[32];
	time_format(rate > 0 ? (n - done) / rate : -1, left, sizeof left);
	diag_progress("%d/%d prompts, %.0f prompts/s, %s left", done, n, rate, left);
}

int text_encode(const text_model_t *m, const text_backend_t *be, text_runner_t *r, const int32_t *const *ids,
		const int *lens, int n, float *out, text_encode_stats_t *stats, char *err, size_t errcap)
{
	double t0 = time_now();
	text_info_t info;
	be->info(r, &info);
	int cap = info.batch_rows, rc = -1;
	text_encode_stats_t st = {0};
	int *cut = malloc((size_t)(n > 0 ? n : 1) * sizeof *cut), *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
	text_batch_t bt = {0};
	bt.token = malloc((size_t)cap * sizeof *bt.token);
	bt.depth = malloc((size_t)cap * sizeof *bt.depth);
	bt.parent = malloc((size_t)cap * sizeof *bt.parent);
	bt.seq_leaf = malloc((size_t)cap * sizeof *bt.seq_leaf);
	bt.seq_index = malloc((size_t)cap * sizeof *bt.seq_index);
	bt.o = malloc((size_t)cap * (size_t)m->embed * sizeof(float));
	if (!cut || !order || !bt.token || !bt.depth || !bt.parent || !bt.seq_leaf || !bt.seq_index || !bt.o) {
		err_set(err, errcap, "out of memory for a batch of %d rows", cap);
		goto done;
	}
	for (int i = 0; i < n; i++) {
		if (lens[i] < 1 || lens[i] > m->context) {
			err_set(err, errcap, "text %d: %d tokens, the model's context is %d", i, lens[i], m->context);
			goto done;
		}
		for (int k = 0; k < lens[i]; k++)
			if (ids[i][k] < 0 || ids[i][k] >= m->vocab) {
				err_set(err, errcap, "text %d: token id %d outside the vocabulary (%d)", i,
					  ids[i][k], m->vocab);
				goto done;
			}
		cut[i] = text_cut(ids[i], lens[i]);
		order[i] = i;
		st.positions += m->context;
	}
	text_sort_ctx = (text_sort_ctx_t){ids, cut};
	qsort(order, (size_t)n, sizeof *order, text_cmp_seq);

	int path[TEXT_MAX_CONTEXT];
	int prev = -1; /* previous sequence in this batch */
	int done = 0;  /* sequences encoded */
	for (int oi = 0; oi < n; oi++) {
		int s = order[oi], len = cut[s];
		int lcp = 0;
		if (prev >= 0) {
			while (lcp < len && lcp < cut[prev] && ids[s][lcp] == ids[prev][lcp])
				lcp++;
		}
		if (prev >= 0 && (bt.rows + (len - lcp) > cap || bt.nseq == cap)) {
			int k = bt.nseq;
			if (text_flush(be, r, m, &bt, out, &st, err, errcap) != 0)
				goto done;
			text_progress(done += k, n, t0);
			lcp = 0;
		}
		for (int k = lcp; k < len; k++) {
			int row = bt.rows++;
			bt.token[row] = ids[s][k];
			bt.depth[row] = k;
			bt.parent[row] = k ? path[k - 1] : -1;
			path[k] = row;
		}
		bt.seq_leaf[bt.nseq] = path[len - 1];
		bt.seq_index[bt.nseq++] = s;
		prev = s;
	}
	if (bt.nseq > 0) {
		int k = bt.nseq;
		if (text_flush(be, r, m, &bt, out, &st, err, errcap) != 0)
			goto done;
		text_progress(done += k, n, t0);
	}
	rc = 0;
	st.seconds = time_now() - t0;
	if (stats)
		*stats = st;
done:
	free(cut);
	free(order);
	text_batch_free(&bt);
	return rc;
}
