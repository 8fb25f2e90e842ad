/* text_encoder.c - CLIP's text tower on the CPU (see text_encoder.h).
 *
 * Matrix products are oneDNN matmul primitives (threaded by its OpenMP
 * runtime) with their epilogues fused: bias, the residual add (a sum
 * post-op) and the MLP's activation (QuickGELU as swish with alpha 1.702, or
 * GELU's erf form). Weights are put in the primitives' layout once, at
 * create. LayerNorm and attention over each row's root path are plain C
 * split over rows with pthreads, in FP32.
 *
 * --precision bf16: the weights converted to bf16 once and the products'
 * inputs converted as they are written (LayerNorm's and attention's outputs,
 * the activation's by oneDNN), FP32 accumulation and output, on oneDNN's bf16
 * kernels (avx512_bf16 or AMX). A CPU without bf16 instructions gets the
 * same values, rounded to bf16, in FP32 products, and a note.
 *
 * A batch is a prefix tree of the (sorted) token sequences: row r holds the
 * hidden state of one distinct prefix; depth[r] is its position, parent[r]
 * the row of the prefix one shorter (-1 at the root). Rows are created in
 * order, so a parent always precedes its children. The last layer finishes
 * only the sequences' eot rows: the others are needed there only as keys
 * and values.
 */
#define _GNU_SOURCE
#include "text_encoder.h"

#include <dlfcn.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "onednn.h"

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

/* How the matrix products take their inputs (cpu_create picks it). */
typedef enum {
	TEXT_MATH_FP32,    /* FP32 throughout */
	TEXT_MATH_BF16,    /* bf16 weights and GEMM inputs on oneDNN's bf16 kernels, FP32 accumulation and output */
	TEXT_MATH_BF16_EMU /* the same bf16-rounded weights and GEMM inputs in FP32 GEMMs (no bf16 instructions) */
} text_math_t;

static inline float text_bf16_round(float f)
{
	return bf16_to_float(float_to_bf16(f));
}

/* v[0..n) into a GEMM input at element off, in the math's type. */
static void text_put(text_math_t math, void *dst, size_t off, const float *v, int n)
{
	if (math == TEXT_MATH_BF16) {
		uint16_t *d = (uint16_t *)dst + off;
		for (int i = 0; i < n; i++)
			d[i] = float_to_bf16(v[i]);
	} else if (math == TEXT_MATH_BF16_EMU) {
		float *d = (float *)dst + off;
		for (int i = 0; i < n; i++)
			d[i] = text_bf16_round(v[i]);
	} else {
		memcpy((float *)dst + off, v, (size_t)n * sizeof *v);
	}
}

static size_t text_math_size(text_math_t math)
{
	return math == TEXT_MATH_BF16 ? 2 : 4;
}

/* Each kernel runs over the rows of a padded GEMM (a multiple of
 * TEXT_ROW_ALIGN): rows 0..n-1 hold data, the rest are zeroed so that the
 * padding rows stay finite. */
typedef struct {
	const text_model_t *m;
	text_math_t math;
	int n;                /* rows holding data */
	const int32_t *token; /* [rows] */
	const int *depth;     /* [rows] */
	const int *parent;    /* [rows] */
	const int *sel;       /* k_attention, k_gather: the trie row of output row s, or NULL (s itself) */
	const float *src;     /* k_layernorm's and k_gather's input [*, W] */
	float *x;             /* k_embed's and k_gather's output [*, W] */
	const float *qkv;     /* [rows, 3W] */
	void *dst;            /* a GEMM input [*, cols], in the math's type */
	int cols;
	const float *ln_w, *ln_b;
} text_ctx_t;

/* x[r] = token_embedding[token[r]] + positional_embedding[depth[r]] */
static void k_embed(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int W = c->m->width;
	for (size_t r = lo; r < hi; r++) {
		float *x = c->x + r * (size_t)W;
		if (r >= (size_t)c->n) {
			memset(x, 0, (size_t)W * sizeof *x);
			continue;
		}
		const float *te = c->m->token_embedding + (size_t)c->token[r] * (size_t)W;
		const float *pe = c->m->positional_embedding + (size_t)c->depth[r] * (size_t)W;
		for (int i = 0; i < W; i++)
			x[i] = te[i] + pe[i];
	}
}

/* x[s] = src[sel[s]]: the rows the last layer finishes */
static void k_gather(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	size_t W = (size_t)c->m->width;
	for (size_t s = lo; s < hi; s++) {
		if (s < (size_t)c->n)
			memcpy(c->x + s * W, c->src + (size_t)c->sel[s] * W, W * sizeof *c->x);
		else
			memset(c->x + s * W, 0, W * sizeof *c->x);
	}
}

/* dst[r] = LayerNorm(src[r]) * w + b, eps 1e-5 (statistics in double) */
static void k_layernorm(void *p, size_t lo, size_t hi)
{
	enum { CHUNK = 256 };
	text_ctx_t *c = p;
	int W = c->m->width;
	size_t esz = text_math_size(c->math);
	for (size_t r = lo; r < hi; r++) {
		if (r >= (size_t)c->n) {
			memset((char *)c->dst + r * (size_t)W * esz, 0, (size_t)W * esz);
			continue;
		}
		const float *x = c->src + r * (size_t)W;
		double s = 0, ss = 0;
		for (int i = 0; i < W; i++)
			s += x[i];
		double mean = s / W;
		for (int i = 0; i < W; i++)
			ss += (x[i] - mean) * (x[i] - mean);
		double inv = 1.0 / sqrt(ss / W + 1e-5);
		float v[CHUNK];
		for (int i0 = 0; i0 < W; i0 += CHUNK) {
			int k = W - i0 < CHUNK ? W - i0 : CHUNK;
			for (int i = 0; i < k; i++)
				v[i] = (float)((x[i0 + i] - mean) * inv) * c->ln_w[i0 + i] + c->ln_b[i0 + i];
			text_put(c->math, c->dst, r * (size_t)W + (size_t)i0, v, k);
		}
	}
}

/* dst[r] rounded to bf16 in place (FP32 storage): TEXT_MATH_BF16_EMU's c_fc output */
static void k_round(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	float *d = c->dst;
	for (size_t i = lo * (size_t)c->cols; i < hi * (size_t)c->cols; i++)
		d[i] = text_bf16_round(d[i]);
}

/* a . b over one head; eight partial sums, which the compiler can keep in vector registers */
static float text_dot_head(const float *a, const float *b)
{
	float s[8] = {0};
	for (int i = 0; i < TEXT_HEAD_DIM; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* Causal self-attention of each row over its root path:
 *   qkv [rows, 3W] (q | k | v, head h at columns 64h..64h+63 of each third)
 *   dst[s] (head h part) = softmax_j(q_r . k_{p_j} / 8) weighted sum of v_{p_j},
 *   r = sel[s] (or s), p_0..p_d the rows of r's prefixes, p_d = r. */
static void k_attention(void *p, size_t lo, size_t hi)
{
	text_ctx_t *c = p;
	int W = c->m->width, H = c->m->heads;
	size_t ld = 3 * (size_t)W;
	int path[TEXT_MAX_CONTEXT];
	float score[TEXT_MAX_CONTEXT];
	const float scale = 1.0f / sqrtf((float)TEXT_HEAD_DIM);
	for (size_t s = lo; s < hi; s++) {
		if (s >= (size_t)c->n) {
			memset((char *)c->dst + s * (size_t)W * text_math_size(c->math), 0,
			       (size_t)W * text_math_size(c->math));
			continue;
		}
		int r = c->sel ? c->sel[s] : (int)s;
		int d = c->depth[r];
		for (int j = d, v = r; j >= 0; j--, v = c->parent[v])
			path[j] = v;
		for (int hd = 0; hd < H; hd++) {
			const float *q = c->qkv + (size_t)r * ld + (size_t)hd * TEXT_HEAD_DIM;
			float mx = -INFINITY;
			for (int j = 0; j <= d; j++) {
				const float *k = c->qkv + (size_t)path[j] * ld + (size_t)W + (size_t)hd * TEXT_HEAD_DIM;
				score[j] = text_dot_head(q, k) * scale;
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
			text_put(c->math, c->dst, s * (size_t)W + (size_t)hd * TEXT_HEAD_DIM, o, TEXT_HEAD_DIM);
		}
	}
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

/* The matrix products, each a oneDNN matmul primitive: y = a @ w (+ bias)
 * with its epilogue fused (the residual add as a sum post-op, the MLP's
 * activation as an eltwise one). Weights are converted (bf16) or reordered
 * (to the primitive's preferred layout) once, at create. */
typedef enum {
	G_QKV,   /* [M,W] @ in_proj^T + b -> qkv [M,3W] */
	G_OUT,   /* x += [M,W] @ out_proj^T + b */
	G_FC,    /* f = act([M,W] @ c_fc^T + b), in the GEMM inputs' type */
	G_PROJ,  /* x += [M,4W] @ c_proj^T + b */
	G_FINAL, /* out = [M,W] @ text_projection */
	G_KINDS
} text_gemm_t;

enum {
	TEXT_ROW_ALIGN = 32, /* GEMM rows are padded to this: few distinct shapes, few primitives */
	TEXT_PRIMS = 32      /* primitives kept (kind x padded rows), least recently used dropped */
};

typedef struct {
	int kind, rows;
	unsigned long long used;
	dnnl_primitive_t prim;
} text_prim_t;

struct text_runner {
	const text_model_t *m;
	int threads, cap, capp; /* capp: cap padded to TEXT_ROW_ALIGN */
	text_math_t math;
	dnnl_data_type_t adt; /* the GEMM inputs' and weights' type */
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	dnnl_memory_desc_t wmd[G_KINDS]; /* each product's weights layout */
	int nw;                          /* 4 * layers + 1 */
	dnnl_memory_t *wmem, *bmem;      /* [nw]: QKV, OUT, FC, PROJ per layer, then FINAL (no bias) */
	void **wown;                     /* [nw] weight buffers allocated here, or NULL (the model's own) */
	text_prim_t prims[TEXT_PRIMS];
	unsigned long long tick;
	float *x, *xl, *qkv, *out; /* [capp, W] residual, [capp, W] the last layer's rows, [capp, 3W], [capp, E] */
	void *h, *f;               /* GEMM inputs: [capp, W], [capp, 4W] */
	size_t bytes;
	double compute_s;
	char impl[64]; /* the products' oneDNN implementation, e.g. "brg:avx512_core_bf16" */
	char note[320];
};

static void text_gemm_dims(const text_model_t *m, int kind, int *k, int *n)
{
	int W = m->width;
	static const int kk[G_KINDS] = {1, 1, 1, 4, 1}, nn[G_KINDS] = {3, 1, 4, 1, 0};
	*k = kk[kind] * W;
	*n = kind == G_FINAL ? m->embed : nn[kind] * W;
}

/* The weights as the model holds them, FP32: a Linear's [N,K] (K x N with
 * strides 1, K: tag ba), text_projection [K,N] (ab). */
static const float *text_gemm_weights(const text_model_t *m, int i, dnnl_memory_desc_t *md, int *kind)
{
	int nl = m->layers;
	*kind = i == 4 * nl ? G_FINAL : i % 4;
	int k, n;
	text_gemm_dims(m, *kind, &k, &n);
	dnnl_dims_t d = {k, n};
	dnnl_memory_desc_init_by_tag(md, 2, d, dnnl_f32, *kind == G_FINAL ? dnnl_ab : dnnl_ba);
	if (*kind == G_FINAL)
		return m->text_projection;
	const text_block_t *b = &m->blocks[i / 4];
	const float *w[] = {b->in_proj_w, b->out_proj_w, b->c_fc_w, b->c_proj_w};
	return w[*kind];
}

static const float *text_gemm_bias(const text_model_t *m, int i)
{
	if (i == 4 * m->layers)
		return NULL;
	const text_block_t *b = &m->blocks[i / 4];
	const float *v[] = {b->in_proj_b, b->out_proj_b, b->c_fc_b, b->c_proj_b};
	return v[i % 4];
}

/* The matmul of `kind` over `rows` rows; weights in layout wmd, or NULL: any. */
static dnnl_status_t text_gemm_pd(const text_runner_t *r, int kind, int rows, const dnnl_memory_desc_t *wmd,
				  dnnl_primitive_desc_t *pd)
{
	int k, n;
	text_gemm_dims(r->m, kind, &k, &n);
	dnnl_dims_t sd = {rows, k}, dd = {rows, n}, bd = {1, n}, wd = {k, n};
	dnnl_memory_desc_t src, dst, bias, any;
	dnnl_status_t st;
	if ((st = dnnl_memory_desc_init_by_tag(&src, 2, sd, r->adt, dnnl_ab)) != dnnl_success ||
	    (st = dnnl_memory_desc_init_by_tag(&dst, 2, dd, kind == G_FC ? r->adt : dnnl_f32, dnnl_ab)) !=
		    dnnl_success ||
	    (st = dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab)) != dnnl_success ||
	    (st = dnnl_memory_desc_init_by_tag(&any, 2, wd, r->adt, dnnl_format_tag_any)) != dnnl_success)
		return st;
	dnnl_matmul_desc_t md;
	if ((st = dnnl_matmul_desc_init(&md, &src, wmd ? wmd : &any, kind == G_FINAL ? NULL : &bias, &dst)) !=
	    dnnl_success)
		return st;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t ops = NULL;
	if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success || (st = dnnl_post_ops_create(&ops)) != dnnl_success)
		goto done;
	if (kind == G_OUT || kind == G_PROJ)
		st = dnnl_post_ops_append_sum(ops, 1.0f);
	else if (kind == G_FC && r->m->act == TEXT_ACT_GELU)
		st = dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f);
	else if (kind == G_FC) /* QuickGELU z * sigmoid(1.702 z) is oneDNN's swish with alpha 1.702 */
		st = dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_swish, 1.702f, 0.0f);
	if (st != dnnl_success || (st = dnnl_primitive_attr_set_post_ops(attr, ops)) != dnnl_success)
		goto done;
	st = dnnl_primitive_desc_create(pd, &md, attr, r->eng, NULL);
done:
	if (ops)
		dnnl_post_ops_destroy(ops);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return st;
}

static const char *text_impl(const_dnnl_primitive_desc_t pd)
{
	const char *s = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s)
		return "?";
	return s;
}

/* The primitive of `kind` over `rows` (padded) rows, made on first use. */
static dnnl_primitive_t text_prim(text_runner_t *r, int kind, int rows, char *err, size_t errcap)
{
	text_prim_t *slot = &r->prims[0];
	r->tick++;
	for (int i = 0; i < TEXT_PRIMS; i++) {
		text_prim_t *e = &r->prims[i];
		if (e->prim && e->kind == kind && e->rows == rows) {
			e->used = r->tick;
			return e->prim;
		}
		if (!e->prim || (slot->prim && e->used < slot->used))
			slot = e;
	}
	if (slot->prim)
		dnnl_primitive_destroy(slot->prim);
	slot->prim = NULL;
	dnnl_primitive_desc_t pd;
	dnnl_status_t st = text_gemm_pd(r, kind, rows, &r->wmd[kind], &pd);
	if (st == dnnl_success) {
		st = dnnl_primitive_create(&slot->prim, pd);
		dnnl_primitive_desc_destroy(pd);
	}
	if (st != dnnl_success) {
		slot->prim = NULL;
		err_set(err, errcap, "oneDNN matmul of %d rows (product %d): %s", rows, kind, dnnl_status2str(st));
		return NULL;
	}
	*slot = (text_prim_t){kind, rows, r->tick, slot->prim};
	return slot->prim;
}

/* dst = src @ weights i (+ its bias) over `rows` rows, with the kind's epilogue. */
static int text_gemm(text_runner_t *r, int i, int rows, void *src, void *dst, char *err, size_t errcap)
{
	int kind = i == r->nw - 1 ? G_FINAL : i % 4, k, n;
	dnnl_primitive_t p = text_prim(r, kind, rows, err, errcap);
	if (!p)
		return -1;
	text_gemm_dims(r->m, kind, &k, &n);
	dnnl_dims_t sd = {rows, k}, dd = {rows, n};
	dnnl_memory_desc_t smd, dmd;
	dnnl_memory_t sm = NULL, dm = NULL;
	dnnl_status_t st;
	if ((st = dnnl_memory_desc_init_by_tag(&smd, 2, sd, r->adt, dnnl_ab)) == dnnl_success &&
	    (st = dnnl_memory_desc_init_by_tag(&dmd, 2, dd, kind == G_FC ? r->adt : dnnl_f32, dnnl_ab)) ==
		    dnnl_success &&
	    (st = dnnl_memory_create(&sm, &smd, r->eng, src)) == dnnl_success &&
	    (st = dnnl_memory_create(&dm, &dmd, r->eng, dst)) == dnnl_success) {
		dnnl_exec_arg_t args[4] = {
			{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, r->wmem[i]}, {DNNL_ARG_DST, dm}, {DNNL_ARG_BIAS, r->bmem[i]}};
		st = dnnl_primitive_execute(p, r->stream, r->bmem[i] ? 4 : 3, args);
		if (st == dnnl_success)
			st = dnnl_stream_wait(r->stream);
	}
	if (sm)
		dnnl_memory_destroy(sm);
	if (dm)
		dnnl_memory_destroy(dm);
	if (st != dnnl_success)
		return err_set(err, errcap, "oneDNN matmul of %d rows: %s", rows, dnnl_status2str(st));
	return 0;
}

/* size bytes, 64-byte aligned (oneDNN's preference), or NULL */
static void *text_alloc(size_t size)
{
	return aligned_alloc(64, (size + 63) / 64 * 64);
}

/* The weights layout of each product, and its implementation: the one
 * oneDNN prefers (format any), or the model's own layout where it gets the
 * same implementation with it (FP32: no copy). */
static dnnl_status_t text_layouts(text_runner_t *r)
{
	for (int kind = 0; kind < G_KINDS; kind++) {
		dnnl_primitive_desc_t pd;
		dnnl_status_t st = text_gemm_pd(r, kind, r->capp, NULL, &pd);
		if (st != dnnl_success)
			return st;
		r->wmd[kind] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
		char impl[sizeof r->impl];
		snprintf(impl, sizeof impl, "%s", text_impl(pd));
		if (kind == G_QKV)
			snprintf(r->impl, sizeof r->impl, "%s", impl);
		dnnl_primitive_desc_destroy(pd);
		if (r->adt != dnnl_f32)
			continue;
		int k, n;
		text_gemm_dims(r->m, kind, &k, &n);
		dnnl_dims_t wd = {k, n};
		dnnl_memory_desc_t own;
		dnnl_memory_desc_init_by_tag(&own, 2, wd, dnnl_f32, kind == G_FINAL ? dnnl_ab : dnnl_ba);
		if (text_gemm_pd(r, kind, r->capp, &own, &pd) == dnnl_success) {
			if (strcmp(text_impl(pd), impl) == 0)
				r->wmd[kind] = own;
			dnnl_primitive_desc_destroy(pd);
		}
	}
	return dnnl_success;
}

/* Weights i in the product's layout and type (rounded to bf16 first for
 * TEXT_MATH_BF16_EMU), and its bias, as oneDNN memories. */
static int text_weights(text_runner_t *r, int i, char *err, size_t errcap)
{
	dnnl_memory_desc_t own;
	int kind;
	const float *w = text_gemm_weights(r->m, i, &own, &kind);
	size_t n = dnnl_memory_desc_get_size(&own) / sizeof *w;
	float *rounded = NULL;
	if (r->math == TEXT_MATH_BF16_EMU) {
		if (!(rounded = text_alloc(n * sizeof *w)))
			return err_set(err, errcap, "out of memory for the weights");
		for (size_t j = 0; j < n; j++)
			rounded[j] = text_bf16_round(w[j]);
		r->bytes += n * sizeof *w;
		w = rounded;
	}
	dnnl_status_t st;
	if (dnnl_memory_desc_equal(&own, &r->wmd[kind])) {
		r->wown[i] = rounded;
		st = dnnl_memory_create(&r->wmem[i], &own, r->eng, (void *)(uintptr_t)w);
	} else {
		size_t size = dnnl_memory_desc_get_size(&r->wmd[kind]);
		void *buf = text_alloc(size);
		if (!buf) {
			free(rounded);
			return err_set(err, errcap, "out of memory for the weights");
		}
		r->wown[i] = buf;
		r->bytes += size;
		st = dnnl_memory_create(&r->wmem[i], &r->wmd[kind], r->eng, buf);
		if (st == dnnl_success)
			st = onednn_reorder_now(r->eng, r->stream, &own, w, &r->wmd[kind], buf, NULL, 0, 0);
		free(rounded);
	}
	if (st != dnnl_success)
		return err_set(err, errcap, "weights for oneDNN: %s", dnnl_status2str(st));
	const float *b = text_gemm_bias(r->m, i);
	if (b) {
		int k, nn;
		text_gemm_dims(r->m, kind, &k, &nn);
		dnnl_dims_t bd = {1, nn};
		dnnl_memory_desc_t bmd;
		if ((st = dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab)) != dnnl_success ||
		    (st = dnnl_memory_create(&r->bmem[i], &bmd, r->eng, (void *)(uintptr_t)b)) != dnnl_success)
			return err_set(err, errcap, "bias for oneDNN: %s", dnnl_status2str(st));
	}
	return 0;
}

static const char *text_isa_name(dnnl_cpu_isa_t isa)
{
	switch (isa) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
	case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	default: return "no x86 vector extensions";
	}
}

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
	for (int i = 0; i < TEXT_PRIMS; i++)
		if (r->prims[i].prim)
			dnnl_primitive_destroy(r->prims[i].prim);
	for (int i = 0; i < r->nw; i++) {
		if (r->wmem && r->wmem[i])
			dnnl_memory_destroy(r->wmem[i]);
		if (r->bmem && r->bmem[i])
			dnnl_memory_destroy(r->bmem[i]);
		if (r->wown)
			free(r->wown[i]);
	}
	free(r->wmem);
	free(r->bmem);
	free(r->wown);
	if (r->stream)
		dnnl_stream_destroy(r->stream);
	if (r->eng)
		dnnl_engine_destroy(r->eng);
	free(r->x);
	free(r->xl);
	free(r->qkv);
	free(r->out);
	free(r->h);
	free(r->f);
	free(r);
}

/* The products' layouts and weights for r->math; -1 with err and the oneDNN status in *st. */
static int text_setup(text_runner_t *r, dnnl_status_t *st, char *err, size_t errcap)
{
	r->adt = r->math == TEXT_MATH_BF16 ? dnnl_bf16 : dnnl_f32;
	*st = text_layouts(r);
	/* oneDNN's reference kernels are no bf16 path: far slower than emulating */
	if (*st == dnnl_success && r->math == TEXT_MATH_BF16 && strncmp(r->impl, "ref", 3) == 0)
		*st = dnnl_unimplemented;
	if (*st != dnnl_success)
		return err_set(err, errcap, "oneDNN has no %s matmul here: %s", r->adt == dnnl_bf16 ? "bf16" : "fp32",
			       dnnl_status2str(*st));
	for (int i = 0; i < r->nw; i++)
		if (text_weights(r, i, err, errcap) != 0)
			return -1;
	return 0;
}

static text_runner_t *cpu_create(const text_model_t *m, const text_config_t *cfg, char *err, size_t errcap)
{
	precision_t prec = cfg->precision;
	if (prec != PREC_FP32 && prec != PREC_FP16 && prec != PREC_BF16) {
		err_set(err, errcap, "precision %s: the CPU text tower computes fp32, bf16 or fp16",
			precision_name(prec));
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
	r->capp = (r->cap + TEXT_ROW_ALIGN - 1) / TEXT_ROW_ALIGN * TEXT_ROW_ALIGN;
	r->nw = 4 * m->layers + 1;
	text_threads_set(r->threads);
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	r->math = TEXT_MATH_FP32;
	if (prec == PREC_BF16) {
		/* avx512_core_bf16's bits: avx512_bf16 instructions (AMX's include them) */
		if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16) {
			r->math = TEXT_MATH_BF16;
		} else {
			r->math = TEXT_MATH_BF16_EMU;
			snprintf(r->note, sizeof r->note,
				 "cpu backend: --precision bf16: this CPU has no bf16 instructions (oneDNN's ISA: %s): "
				 "emulated, FP32 products of bf16-rounded inputs, no faster than fp32",
				 text_isa_name(isa));
		}
	}
	dnnl_status_t st;
	if ((st = dnnl_engine_create(&r->eng, dnnl_cpu, 0)) != dnnl_success ||
	    (st = dnnl_stream_create(&r->stream, r->eng, dnnl_stream_default_flags)) != dnnl_success) {
		err_set(err, errcap, "oneDNN CPU engine: %s", dnnl_status2str(st));
		cpu_destroy(r);
		return NULL;
	}
	r->wmem = calloc((size_t)r->nw, sizeof *r->wmem);
	r->bmem = calloc((size_t)r->nw, sizeof *r->bmem);
	r->wown = calloc((size_t)r->nw, sizeof *r->wown);
	if (!r->wmem || !r->bmem || !r->wown) {
		err_set(err, errcap, "out of memory");
		cpu_destroy(r);
		return NULL;
	}
	if (text_setup(r, &st, err, errcap) != 0) {
		if (r->math != TEXT_MATH_BF16 || st != dnnl_unimplemented) {
			cpu_destroy(r);
			return NULL;
		}
		/* bf16 instructions, but no bf16 matmul in this oneDNN: emulate, saying why */
		snprintf(r->note, sizeof r->note,
			 "cpu backend: --precision bf16: oneDNN %d.%d has no bf16 matmul on this CPU (ISA %s): "
			 "emulated, FP32 products of bf16-rounded inputs, no faster than fp32",
			 dnnl_version()->major, dnnl_version()->minor, text_isa_name(isa));
		r->math = TEXT_MATH_BF16_EMU;
		r->bytes = 0;
		if (text_setup(r, &st, err, errcap) != 0) {
			cpu_destroy(r);
			return NULL;
		}
	}
	size_t cap = (size_t)r->capp, W = (size_t)m->width, asz = text_math_size(r->math);
	size_t sizes[6] = {cap * W * 4, cap * W * 4, cap * 3 * W * 4, cap * (size_t)m->embed * 4, cap * W * asz,
			   cap * 4 * W * asz};
	void **bufs[6] = {(void **)&r->x, (void **)&r->xl, (void **)&r->qkv, (void **)&r->out, &r->h, &r->f};
	for (int i = 0; i < 6; i++) {
		r->bytes += sizes[i];
		if (!(*bufs[i] = text_alloc(sizes[i]))) {
			err_set(err, errcap, "out of memory for a batch of %d rows (%zu MiB)", r->cap, r->bytes >> 20);
			cpu_destroy(r);
			return NULL;
		}
	}
	return r;
}

/* rows padded to TEXT_ROW_ALIGN (at most the buffers' rows) */
static int text_pad(const text_runner_t *r, int rows)
{
	int p = (rows + TEXT_ROW_ALIGN - 1) / TEXT_ROW_ALIGN * TEXT_ROW_ALIGN;
	return p < r->capp ? p : r->capp;
}

/* Run one batch through the model: out [nseq, E]. Every row goes through
 * every layer but the last, where only the sequences' eot rows need more
 * than their keys and values. */
static int cpu_run(text_runner_t *r, const text_trie_t *t, float *out, char *err, size_t errcap)
{
	double t0 = time_now();
	const text_model_t *m = r->m;
	int W = m->width, N = t->rows, S = t->nseq, threads = r->threads;
	if (N > r->cap || S > r->cap)
		return err_set(err, errcap, "batch of %d rows, the runner was made for %d", N > S ? N : S, r->cap);
	int MN = text_pad(r, N), MS = text_pad(r, S);
	text_ctx_t c = {.m = m,
			.math = r->math,
			.n = N,
			.token = t->token,
			.depth = t->depth,
			.parent = t->parent,
			.x = r->x,
			.qkv = r->qkv,
			.dst = r->h,
			.cols = W};
	text_par_for(threads, (size_t)MN, k_embed, &c);
	for (int l = 0; l < m->layers; l++) {
		const text_block_t *b = &m->blocks[l];
		int last = l == m->layers - 1, w = 4 * l;
		c.n = N;
		c.src = r->x;
		c.dst = r->h;
		c.ln_w = b->ln_1_w;
		c.ln_b = b->ln_1_b;
		text_par_for(threads, (size_t)MN, k_layernorm, &c);
		if (text_gemm(r, w + G_QKV, MN, r->h, r->qkv, err, errcap))
			return -1;
		/* the rows this layer finishes: all, or the last layer's eot rows (copied into xl) */
		float *x = r->x;
		int M = MN;
		c.sel = NULL;
		if (last) {
			c.n = S;
			c.sel = t->seq_leaf;
			c.x = x = r->xl;
			M = MS;
			text_par_for(threads, (size_t)M, k_gather, &c);
		}
		text_par_for(threads, (size_t)M, k_attention, &c);
		if (text_gemm(r, w + G_OUT, M, r->h, x, err, errcap))
			return -1;
		c.src = x;
		c.ln_w = b->ln_2_w;
		c.ln_b = b->ln_2_b;
		text_par_for(threads, (size_t)M, k_layernorm, &c);
		if (text_gemm(r, w + G_FC, M, r->h, r->f, err, errcap))
			return -1;
		if (r->math == TEXT_MATH_BF16_EMU) {
			c.dst = r->f;
			c.cols = 4 * W;
			text_par_for(threads, (size_t)M, k_round, &c);
			c.cols = W;
		}
		if (text_gemm(r, w + G_PROJ, M, r->f, x, err, errcap))
			return -1;
	}
	/* ln_final on each sequence's eot row (xl), then @ text_projection [W, E] */
	c.n = S;
	c.src = r->xl;
	c.dst = r->h;
	c.ln_w = m->ln_final_w;
	c.ln_b = m->ln_final_b;
	text_par_for(threads, (size_t)MS, k_layernorm, &c);
	if (text_gemm(r, r->nw - 1, MS, r->h, r->out, err, errcap))
		return -1;
	memcpy(out, r->out, (size_t)S * (size_t)m->embed * sizeof *out);
	r->compute_s += time_now() - t0;
	return 0;
}

static void cpu_info(const text_runner_t *r, text_info_t *info)
{
	const dnnl_version_t *v = dnnl_version();
	static const char *const math[] = {"fp32", "bf16", "bf16 emulated in fp32"};
	memset(info, 0, sizeof *info);
	snprintf(info->device, sizeof info->device, "cpu: oneDNN %d.%d.%d, %d threads, %s %s", v->major, v->minor,
		 v->patch, r->threads, math[r->math], r->impl);
	snprintf(info->note, sizeof info->note, "%s", r->note);
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
