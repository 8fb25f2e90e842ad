/* cpu_dnnl.c - the CPU backend of the image encoders, on oneDNN (enc_backend_cpu).
 *
 * A plan is built once per batch size: a flat list of steps (oneDNN
 * primitives and a few plain-C steps) over activation tensors that live at
 * planned offsets in one arena.
 *   - Layout: one activation layout for the whole network, the one oneDNN
 *     picks for a representative 3x3 convolution at this batch size (NHWC
 *     with its brgconv kernels on AVX-512 machines; nChw16c measured 10-35%
 *     slower here). The network input is written by the input step straight
 *     into the layout the first convolution wants (NCHW or NHWC); the one
 *     reorder is to NHWC tokens before CLIP's attention pool.
 *   - Convolutions carry the folded BatchNorm as bias, ReLU as an eltwise
 *     post-op and the residual add as a sum post-op: conv3 of a bottleneck
 *     writes into the buffer that holds the residual (in place).
 *   - Arena: every tensor's lifetime is known from the step list; offsets
 *     are assigned greedily (largest first, lowest free offset), so buffers
 *     are reused across layers. All primitives share one user-managed
 *     scratchpad.
 *   - BF16 (PREC_BF16) on a CPU with bf16 instructions (oneDNN's effective
 *     ISA avx512_core_bf16 or above): bf16 activations and weights (folded
 *     in FP32, converted once when the plan is made), FP32 biases, FP32
 *     accumulation and post-ops inside oneDNN's bf16 kernels.
 *   - Rounded storage: FP16 (PREC_FP16; oneDNN 2.6 has no f16 convolution
 *     on the CPU) and BF16 on a CPU without bf16 instructions. Tensors are
 *     f32 holding only values of the narrow format: weights (and FP16's
 *     biases) rounded once when the plan is made, every activation a
 *     primitive writes rounded in place right after it (round to nearest
 *     even; F16C / AVX2, over the OpenMP threads). The f32 primitives then
 *     compute exactly what a narrow-storage, FP32-arithmetic network
 *     computes (the products of two such values are exact in f32): the
 *     numbers a GPU's FP16 path with FP32 accumulation gives, without a
 *     conversion per primitive or per batch. Weights that do not fit the
 *     narrow format are refused.
 *   - Every float activation a primitive writes is checked for Inf and NaN
 *     (in the rounding pass, or a pass of its own): such an image is failed,
 *     not answered (run_store).
 *   - INT8 (PREC_INT8): post-training static quantization of the
 *     convolutions. Weights s8, symmetric, a scale per output channel
 *     (BatchNorm folded in FP32 first; 7 bits, see weight_scales), quantized
 *     once by oneDNN's reorder when the plan is made. Each convolution's
 *     input is u8 (after a ReLU) or s8 (the image) with the calibrated scale
 *     of cfg.int8_scale: an FP32 tensor is quantized by a reorder (shared by
 *     the convolutions reading it with one scale); a convolution whose output
 *     feeds only convolutions writes u8 with their scale itself. oneDNN's
 *     int8 convolution sums in s32, then output scales (in_scale *
 *     w_scale[o], per channel), the FP32 bias, the sum post-op into the FP32
 *     residual and the ReLU. All activations NHWC; pools and heads FP32.
 *   - Calibration (cfg.observe, FP32): a step before each convolution keeps
 *     the largest |x| of its input, as scales, over the images that did not
 *     overflow (run_observe).
 * The network is the description's op list (net.h); grouped convolutions
 * use oneDNN's 5-D goihw weights.
 * Heads: torchvision = global average pool primitive + sgemm; CLIP = the
 * attention pool folded through its one query (run_attnpool): sgemm for the
 * q and output projections, four batched matmul primitives between.
 * Threads: Debian builds oneDNN 2.6 with the OpenMP runtime; the thread count
 * is set with omp_set_num_threads, looked up at run time (libgomp comes in
 * with libdnnl, and txtencode links this file without linking libgomp).
 */
#define _GNU_SOURCE /* sched_getaffinity, RTLD_DEFAULT */
#include <dlfcn.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "net.h"
#include "onednn.h"

enum {
	MAX_REFS = 6,
	ALIGN = 64
};

/* Where an argument's memory lives. */
typedef enum {
	LOC_ARENA, /* activation tensor `id` */
	LOC_PTR,   /* fixed pointer (weights, biases) */
	LOC_SCRATCH /* the shared scratchpad */
} loc_t;

typedef struct {
	int arg; /* DNNL_ARG_* */
	loc_t loc;
	int id;  /* LOC_ARENA */
	void *ptr; /* LOC_PTR */
	dnnl_memory_desc_t md;
} ref_t;

typedef enum {
	STEP_PRIM,     /* a oneDNN primitive */
	STEP_INPUT,    /* host input buffer -> tensor `out` (NCHW or NHWC, as stored) */
	STEP_HEAD_FC,  /* tensor `in` = pooled [n][2048] -> out (features or fc) */
	STEP_ATTNPOOL, /* tensor `in` = tokens NHWC [n][49][2048] -> out [n][1024] */
	STEP_STORE,    /* tensor `out` as a primitive wrote it: rounded in place to act_dt
			* (rounded storage), and checked for Inf and NaN */
	STEP_OBSERVE   /* calibration: max |x| of tensor `in`, convolution `conv`'s input */
} step_kind_t;

typedef struct {
	step_kind_t kind;
	dnnl_primitive_t prim;
	int nref;
	ref_t ref[MAX_REFS];
	dnnl_exec_arg_t args[MAX_REFS];
	dnnl_memory_t mem[MAX_REFS]; /* created when the plan is finalized */
	int in, out;                 /* tensor ids of the plain-C steps */
	int conv;                    /* STEP_OBSERVE: index into net->conv */
	int round;                   /* STEP_STORE: round to act_dt in rounded storage (else only look) */
} step_t;

typedef struct {
	dnnl_memory_desc_t md; /* as stored: mem_dt, its layout */
	size_t bytes;
	int first, last; /* step range of the lifetime */
	size_t offset;
} act_t;

/* One convolution's weights and bias as its primitive wants them. A new
 * plan takes them over from the previous one when the layout is the same. */
typedef struct {
	const net_conv_t *conv;
	dnnl_memory_desc_t md; /* as stored (mem_dt) */
	void *w;
	float *b;   /* INT8: b / (in_scale * w_scale[o]), as oneDNN 2.x adds it to the s32 sum */
	size_t wbytes, bbytes;
} wgt_t;

typedef struct {
	int n; /* images the primitives were made for */
	step_t *step;
	int nstep, capstep;
	act_t *act;
	int nact, capact;
	wgt_t *wgt; /* convolution weights in the primitives' layouts */
	int nwgt, capwgt;
	size_t weight_bytes;
	size_t arena_bytes, scratch_bytes;
	unsigned char *arena, *scratch;
} plan_t;

struct encoder {
	const net_t *net;
	enc_config_t cfg;
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	dnnl_data_type_t act_dt;  /* the numbers computed: f32, f16 or bf16 */
	dnnl_data_type_t mem_dt;  /* as tensors are stored: bf16 (native BF16), else f32 */
	dnnl_format_tag_t tag;    /* activation layout */
	dnnl_format_tag_t in_tag; /* network input layout: nchw or nhwc */
	int int8;                 /* PREC_INT8: s8 weights, u8/s8 convolution inputs */
	float *int8_scale;        /* [nconv] cfg.int8_scale's copy: a plan for another
				   * batch size is made after create() returned */
	unsigned char *in_signed; /* [nconv]: conv i's input may be negative (s8 in INT8) */
	int threads;
	int out_dim;
	plan_t *plan;
	void *input[3];          /* host input buffers by enc_input_t, cfg.batch images */
	size_t input_bytes[3];
	float *out;              /* [batch][out_dim] of the batch just computed */
	unsigned char *overflow; /* [batch] an activation of the image overflowed (run_store) */
	float *obs_img;          /* calibration: [batch][nconv] what run_observe saw of each image */
	int out_n, pending;
	/* head scratch, [batch][...] f32 */
	float *head_buf;
	size_t head_bytes;
	float *head_wr[5];       /* FP16 mode: fc, q, k, v, c_proj weights rounded to f16 */
	size_t head_w_bytes;     /* weights the head uses, in whatever form */
	size_t borrowed_bytes;   /* of those, the net's FP32 arrays used in place */
	dnnl_primitive_t attn_mm[4]; /* the attention pool's matmuls (run_attnpool) */
	int attn_mm_n;                /* for this many images */
	float lut[3][256];       /* uint8 -> normalized value per channel */
	size_t bytes_now, bytes_peak;
	long batches;
	timing_t timing; /* every batch but the first */
	char device[160];
	char note[200]; /* for enc_stats_t.note */
};

/* ---- errors ---- */

static char *g_err;
static size_t g_errcap;

static int fail(const char *fmt, ...) DIAG_PRINTF(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_err, g_errcap, fmt, ap);
	va_end(ap);
	return -1;
}

#define DNNL_TRY(call)                                                                                     \
	do {                                                                                                   \
		dnnl_status_t st_ = (call);                                                                    \
		if (st_ != dnnl_success)                                                                       \
			return fail("oneDNN: %s: %s (%s:%d)", #call, dnnl_status2str(st_), __FILE__, __LINE__); \
	} while (0)

/* ---- memory accounting ---- */

static void *enc_alloc(encoder_t *e, size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, ALIGN, bytes ? bytes : ALIGN) != 0)
		return NULL;
	e->bytes_now += bytes;
	if (e->bytes_now > e->bytes_peak)
		e->bytes_peak = e->bytes_now;
	return p;
}

static void enc_release(encoder_t *e, void *p, size_t bytes)
{
	if (p) {
		free(p);
		e->bytes_now -= bytes;
	}
}

/* ---- f16 ---- */

#if defined(__x86_64__) && defined(__GNUC__)
static int have_f16c(void)
{
	static int have = -1;
	if (have < 0)
		have = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
	return have;
}
#endif

static float round_h(float v)
{
	return half_to_float(float_to_half(v));
}

static float round_b(float v)
{
	uint32_t u = (uint32_t)float_to_bf16(v) << 16;
	memcpy(&v, &u, 4);
	return v;
}

/* The kernels below return the largest |v| of what they leave, as f32 bits
 * (sign cleared): compared as integers these order as the magnitudes do,
 * and 0x7f800000 or more is an Inf or a NaN. */
enum { F32_INF_BITS = 0x7f800000 };

static uint32_t abs_bits(float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	return u & 0x7fffffffu;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* The scalar kernels: the CPUs without the vector ones, and their tails. */
static uint32_t round_f16_scalar(float *v, size_t n)
{
	uint32_t mx = 0;
	for (size_t i = 0; i < n; i++) {
		v[i] = round_h(v[i]);
		mx = max_u32(mx, abs_bits(v[i]));
	}
	return mx;
}

static uint32_t round_bf16_scalar(float *v, size_t n)
{
	uint32_t mx = 0;
	for (size_t i = 0; i < n; i++) {
		v[i] = round_b(v[i]);
		mx = max_u32(mx, abs_bits(v[i]));
	}
	return mx;
}

static uint32_t maxabs_f32_scalar(const float *v, size_t n)
{
	uint32_t mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = max_u32(mx, abs_bits(v[i]));
	return mx;
}

/* In place, n values rounded to f16 and back (the same bits as
 * half_to_float(float_to_half(v))): an overflow of f16 is an Inf. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx,f16c"))) static uint32_t round_f16_f16c(float *v, size_t n)
{
	size_t i = 0;
	const __m128i mag = _mm_set1_epi16(0x7fff);
	__m128i m = _mm_setzero_si128();
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT);
		m = _mm_max_epu16(m, _mm_and_si128(h, mag)); /* f16 bits order as their magnitudes too */
		_mm256_storeu_ps(v + i, _mm256_cvtph_ps(h));
	}
	uint16_t lanes[8];
	_mm_storeu_si128((__m128i *)(void *)lanes, m);
	uint32_t mx = round_f16_scalar(v + i, n - i);
	for (int k = 0; k < 8; k++)
		mx = max_u32(mx, abs_bits(half_to_float(lanes[k])));
	return mx;
}

static uint32_t hmax_epu32(__m256i m) __attribute__((target("avx2")));
static uint32_t hmax_epu32(__m256i m)
{
	uint32_t lanes[8], mx = 0;
	_mm256_storeu_si256((__m256i *)(void *)lanes, m);
	for (int k = 0; k < 8; k++)
		mx = max_u32(mx, lanes[k]);
	return mx;
}

/* In place, n values rounded to bf16 (float_to_bf16's bits, back in f32). */
__attribute__((target("avx2"))) static uint32_t round_bf16_avx2(float *v, size_t n)
{
	size_t i = 0;
	const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7fff);
	const __m256i hi = _mm256_set1_epi32((int)0xffff0000u), quiet = _mm256_set1_epi32(0x00400000);
	const __m256i mag = _mm256_set1_epi32(0x7fffffff);
	__m256i m = _mm256_setzero_si256();
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(v + i);
		__m256i u = _mm256_castps_si256(x);
		__m256i r = _mm256_add_epi32(u, _mm256_add_epi32(half, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
		__m256i q = _mm256_or_si256(u, quiet);
		__m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
		r = _mm256_and_si256(_mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q), nan)), hi);
		m = _mm256_max_epu32(m, _mm256_and_si256(r, mag));
		_mm256_storeu_ps(v + i, _mm256_castsi256_ps(r));
	}
	return max_u32(hmax_epu32(m), round_bf16_scalar(v + i, n - i));
}

__attribute__((target("avx2"))) static uint32_t maxabs_f32_avx2(const float *v, size_t n)
{
	size_t i = 0;
	const __m256i mag = _mm256_set1_epi32(0x7fffffff);
	__m256i m = _mm256_setzero_si256();
	for (; i + 8 <= n; i += 8)
		m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(v + i)), mag));
	return max_u32(hmax_epu32(m), maxabs_f32_scalar(v + i, n - i));
}

static int have_avx2(void)
{
	static int have = -1;
	if (have < 0)
		have = __builtin_cpu_supports("avx2");
	return have;
}
#endif

static uint32_t round_f16_inplace(float *v, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (have_f16c())
		return round_f16_f16c(v, n);
#endif
	return round_f16_scalar(v, n);
}

static uint32_t round_bf16_inplace(float *v, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (have_avx2())
		return round_bf16_avx2(v, n);
#endif
	return round_bf16_scalar(v, n);
}

static uint32_t maxabs_f32(const float *v, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (have_avx2())
		return maxabs_f32_avx2(v, n);
#endif
	return maxabs_f32_scalar(v, n);
}

/* bf16 storage (native BF16): a bf16 is the high half of an f32. */
static uint32_t maxabs_bf16(const uint16_t *v, size_t n)
{
	uint32_t mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = max_u32(mx, (uint32_t)(v[i] & 0x7fff) << 16);
	return mx;
}

/* ---- threads ---- */

/* The OpenMP runtime oneDNN runs on, looked up at run time (see the top):
 * the store steps (rounding and checks) run on the same threads as the
 * primitives between them, rather than on a pool of their own competing
 * for the cores. */
static struct {
	int init;
	void (*parallel)(void (*fn)(void *), void *data, unsigned nthreads, unsigned flags); /* GOMP_parallel */
	int (*num)(void);
	int (*id)(void);
} g_omp;

static void omp_lookup(void)
{
	if (g_omp.init)
		return;
	g_omp.init = 1;
	if (dnnl_version()->cpu_runtime != DNNL_RUNTIME_OMP)
		return;
	g_omp.parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))(uintptr_t)dlsym(RTLD_DEFAULT, "GOMP_parallel");
	g_omp.num = (int (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_num_threads");
	g_omp.id = (int (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_thread_num");
	if (!g_omp.num || !g_omp.id)
		g_omp.parallel = NULL;
}


static int cpu_cores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return 1;
}

/* Set the oneDNN thread count; returns the count in effect. */
static int threads_set(int want)
{
	const dnnl_version_t *v = dnnl_version();
	if (v->cpu_runtime != DNNL_RUNTIME_OMP)
		return want; /* TBB/threadpool builds size themselves; nothing to set here */
	void (*set)(int) = (void (*)(int))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
	int (*get)(void) = (int (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
	if (set)
		set(want);
	return get ? get() : want;
}

/* "avx2" for cpu_isa_avx2 */
static const char *isa_name(dnnl_cpu_isa_t isa)
{
	const char *s = dnnl_cpu_isa2str(isa);
	return strncmp(s, "cpu_isa_", 8) == 0 ? s + 8 : s;
}

static void cpu_name(char *buf, size_t cap)
{
	snprintf(buf, cap, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *p = strchr(line, ':');
			if (p) {
				p++;
				while (*p == ' ' || *p == '\t')
					p++;
				p[strcspn(p, "\n")] = 0;
				snprintf(buf, cap, "%s", p);
			}
			break;
		}
	}
	fclose(f);
}

/* ---- plan building ---- */

static int grow(void **p, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return 0;
	int c = *cap ? 2 * *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, (size_t)c * elem);
	if (!q)
		return fail("out of memory planning the network");
	memset((char *)q + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
	*p = q;
	*cap = c;
	return 0;
}

/* New activation tensor [n][c][h][w] in the given layout, stored as dt. */
static int act_new_dt(plan_t *p, int c, int h, int w, dnnl_format_tag_t tag, dnnl_data_type_t dt)
{
	if (grow((void **)&p->act, &p->capact, p->nact + 1, sizeof *p->act))
		return -1;
	act_t *a = &p->act[p->nact];
	dnnl_dims_t d = {p->n, c, h, w};
	if (dnnl_memory_desc_init_by_tag(&a->md, 4, d, dt, tag) != dnnl_success)
		return fail("oneDNN: no memory descriptor for [%d,%d,%d,%d]", p->n, c, h, w);
	a->bytes = dnnl_memory_desc_get_size(&a->md);
	a->first = a->last = -1;
	return p->nact++;
}

/* ... stored as mem_dt. */
static int act_new(encoder_t *e, plan_t *p, int c, int h, int w, dnnl_format_tag_t tag)
{
	return act_new_dt(p, c, h, w, tag, e->mem_dt);
}

static void act_use(plan_t *p, int id, int step)
{
	act_t *a = &p->act[id];
	if (a->first < 0 || step < a->first)
		a->first = step;
	if (step > a->last)
		a->last = step;
}

static step_t *step_new(plan_t *p, step_kind_t kind)
{
	if (grow((void **)&p->step, &p->capstep, p->nstep + 1, sizeof *p->step))
		return NULL;
	step_t *s = &p->step[p->nstep++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->in = s->out = -1;
	return s;
}

static void ref_add(plan_t *p, step_t *s, int arg, loc_t loc, int id, void *ptr, const dnnl_memory_desc_t *md)
{
	ref_t *r = &s->ref[s->nref++];
	r->arg = arg;
	r->loc = loc;
	r->id = id;
	r->ptr = ptr;
	r->md = *md;
	if (loc == LOC_ARENA)
		act_use(p, id, (int)(s - p->step));
}

/* A convolution's weights with its groups merged k at a time (k = 1: as
 * the net has them): [cout][cin][kh][kw], or grouped
 * [g][cout/g][cin/g][kh][kw] (the same bytes as PyTorch's
 * [cout][cin/g][kh][kw]); plain: that layout, else any (the primitive picks). */
static int weights_md(const net_conv_t *c, int k, dnnl_data_type_t dt, int plain, dnnl_memory_desc_t *md)
{
	int g = c->groups / k;
	if (g == 1) {
		dnnl_dims_t wd = {c->cout, c->cin, c->kh, c->kw};
		return dnnl_memory_desc_init_by_tag(md, 4, wd, dt, plain ? dnnl_oihw : dnnl_format_tag_any);
	}
	dnnl_dims_t wd = {g, c->cout / g, c->cin / g, c->kh, c->kw};
	return dnnl_memory_desc_init_by_tag(md, 5, wd, dt, plain ? dnnl_goihw : dnnl_format_tag_any);
}

/* The plain FP32 weights of conv with its groups merged k at a time: each
 * merged group's weights are block-diagonal, its k original groups on the
 * diagonal and zeros elsewhere, so it computes what the k groups do (the
 * zeros add exact zeros). NULL: out of memory. */
static float *weights_merged(const net_conv_t *c, int k)
{
	int co = c->cout / c->groups, ci = c->cin / c->groups, kk = c->kh * c->kw;
	size_t row = (size_t)k * ci * kk; /* one output channel's weights, merged */
	float *w = calloc((size_t)c->cout * row, sizeof *w);
	if (!w)
		return NULL;
	for (int oc = 0; oc < c->cout; oc++) {
		int sub = (oc / co) % k; /* which of the merged group's k groups */
		memcpy(w + oc * row + (size_t)sub * ci * kk, c->w + (size_t)oc * ci * kk, (size_t)ci * kk * sizeof *w);
	}
	return w;
}

/* The op name of convolution ci (PyTorch's module path). */
static const char *conv_op_name(const net_t *net, int ci)
{
	for (int i = 0; i < net->nop; i++)
		if (net->op[i].kind == NET_OP_CONV && net->op[i].conv == ci)
			return net->op[i].name;
	return "a convolution";
}

/* Weights of conv in layout md (mem_dt; INT8: s8 quantized by wsc, the
 * weight scale of each output channel, and the bias divided by in_scale *
 * wsc): taken over from the previous plan when it has them in that layout,
 * else made from the net's FP32. */
static wgt_t *wgt_get(encoder_t *e, plan_t *p, plan_t *prev, const net_conv_t *c, int k, const dnnl_memory_desc_t *md,
		      float in_scale, const float *wsc)
{
	if (grow((void **)&p->wgt, &p->capwgt, p->nwgt + 1, sizeof *p->wgt))
		return NULL;
	wgt_t *g = &p->wgt[p->nwgt];
	for (int i = 0; prev && i < prev->nwgt; i++) {
		wgt_t *o = &prev->wgt[i];
		if (o->conv == c && o->w && dnnl_memory_desc_equal(&o->md, md)) {
			*g = *o;
			o->w = NULL;
			o->b = NULL;
			prev->weight_bytes -= g->wbytes + g->bbytes;
			p->weight_bytes += g->wbytes + g->bbytes;
			p->nwgt++;
			return g;
		}
	}
	memset(g, 0, sizeof *g);
	g->conv = c;
	g->md = *md;
	g->wbytes = dnnl_memory_desc_get_size(md);
	g->bbytes = (size_t)c->cout * sizeof(float);
	g->w = enc_alloc(e, g->wbytes);
	g->b = enc_alloc(e, g->bbytes);
	p->nwgt++; /* counted now so that plan_free releases a partial one */
	p->weight_bytes += g->wbytes + g->bbytes;
	if (!g->w || !g->b) {
		fail("out of memory for weights");
		return NULL;
	}
	dnnl_memory_desc_t plain;
	weights_md(c, k, dnnl_f32, 1, &plain);
	/* Biases stay f32 (as the convolution takes them); FP16 rounds them,
	 * as a GPU's FP16 model stores them. Native BF16: oneDNN's reorder
	 * converts (round to nearest even). */
	memcpy(g->b, c->b, g->bbytes);
	float *merged = k > 1 ? weights_merged(c, k) : NULL;
	if (k > 1 && !merged) {
		fail("out of memory for weights");
		return NULL;
	}
	float *inv = NULL;
	if (e->int8) {
		/* s8 = round(w / wsc[o]), by oneDNN's reorder (round to nearest
		 * even, saturating), which also fills the compensation an s8
		 * input needs and applies its own scale adjustment there */
		inv = malloc((size_t)c->cout * sizeof *inv);
		if (!inv) {
			free(merged);
			fail("out of memory for weights");
			return NULL;
		}
		for (int o = 0; o < c->cout; o++) {
			inv[o] = 1.0f / wsc[o];
			g->b[o] = c->b[o] / (in_scale * wsc[o]);
		}
	}
	dnnl_status_t r = onednn_reorder_now(e->engine, e->stream, &plain, merged ? merged : c->w, md, g->w, inv,
					     c->cout, c->groups / k > 1 ? 3 : 1);
	free(merged);
	free(inv);
	if (r != dnnl_success) {
		fail("oneDNN: a convolution's weights reorder: %s", dnnl_status2str(r));
		return NULL;
	}
	/* A weight or bias beyond the narrow format's range is an Inf there, and
	 * an Inf weight makes every sum it enters Inf or NaN (0 * Inf), which
	 * the fused ReLU hides: a constant network with exit 0. Refused. */
	uint32_t mx = 0;
	if (e->act_dt == dnnl_f16) {
		mx = round_f16_inplace(g->w, g->wbytes / sizeof(float));
		for (int i = 0; i < c->cout; i++)
			g->b[i] = round_h(g->b[i]);
		mx = max_u32(mx, maxabs_f32(g->b, (size_t)c->cout));
	} else if (e->act_dt == dnnl_bf16 && e->mem_dt == dnnl_f32) {
		mx = round_bf16_inplace(g->w, g->wbytes / sizeof(float));
	} else if (e->mem_dt == dnnl_bf16) { /* native: oneDNN's reorder made them bf16 */
		mx = maxabs_bf16((const uint16_t *)g->w, g->wbytes / sizeof(uint16_t));
	}
	if (mx >= F32_INF_BITS) {
		fail("%s: a weight or bias beyond %s's range after BatchNorm folding (%s keeps these weights as "
		     "%s): run it in fp32",
		     conv_op_name(e->net, (int)(c - e->net->conv)), e->act_dt == dnnl_f16 ? "float16" : "bfloat16",
		     precision_name(e->cfg.precision), e->act_dt == dnnl_f16 ? "float16" : "bfloat16");
		return NULL;
	}
	return g;
}

/* Scratchpad of a primitive descriptor: note its size, return its md. */
static dnnl_memory_desc_t scratch_md(plan_t *p, const_dnnl_primitive_desc_t pd)
{
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	dnnl_memory_desc_t m = *md;
	size_t sz = dnnl_memory_desc_get_size(&m);
	if (sz > p->scratch_bytes)
		p->scratch_bytes = sz;
	return m;
}

/* Shorthands for reorder endpoints. */
static ref_t at_arena(const plan_t *p, int id)
{
	ref_t r = {.loc = LOC_ARENA, .id = id, .md = p->act[id].md};
	return r;
}

/* A reorder step: an activation into another layout, or (scale != 0) into
 * another type: to = scale * from, rounded to nearest even and saturated
 * (INT8's quantization of a convolution's input). */
static int add_reorder(encoder_t *e, plan_t *p, ref_t from, ref_t to, float scale)
{
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd;
	DNNL_TRY(dnnl_primitive_attr_create(&attr));
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (scale != 0)
		dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
	dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, &from.md, e->engine, &to.md, e->engine, attr);
	dnnl_primitive_attr_destroy(attr);
	DNNL_TRY(st);
	step_t *s = step_new(p, STEP_PRIM);
	if (!s) {
		dnnl_primitive_desc_destroy(pd);
		return -1;
	}
	st = dnnl_primitive_create(&s->prim, pd);
	dnnl_memory_desc_t sc = scratch_md(p, pd);
	dnnl_primitive_desc_destroy(pd);
	DNNL_TRY(st);
	ref_add(p, s, DNNL_ARG_FROM, from.loc, from.id, from.ptr, &from.md);
	ref_add(p, s, DNNL_ARG_TO, to.loc, to.id, to.ptr, &to.md);
	ref_add(p, s, DNNL_ARG_SCRATCHPAD, LOC_SCRATCH, -1, NULL, &sc);
	return 0;
}

/* The STEP_STORE of float tensor id after the step that wrote it (none for
 * an integer one); round: it holds values computed there (not a max
 * pool's, each one of its inputs, nor the image's, rounded as they are
 * converted). Returns 0, -1 on failure. */
static int add_store(plan_t *p, int id, int round)
{
	dnnl_data_type_t dt = p->act[id].md.data_type;
	if (dt != dnnl_f32 && dt != dnnl_bf16)
		return 0;
	step_t *s = step_new(p, STEP_STORE);
	if (!s)
		return -1;
	s->out = id;
	s->round = round;
	act_use(p, id, p->nstep - 1);
	return 0;
}

/* A compute primitive over activation `src` -> `dst` (arena tensors);
 * extra: weights/bias refs. fresh: dst holds values it computed (not a
 * max pool's, each one of its inputs): a float dst is then rounded (in
 * rounded storage) and checked for Inf and NaN after it (run_store). */
static int add_compute(encoder_t *e, plan_t *p, dnnl_primitive_desc_t pd, int src, int dst, int fresh,
		       const ref_t *extra, int nextra)
{
	step_t *s = step_new(p, STEP_PRIM);
	if (!s)
		return -1;
	DNNL_TRY(dnnl_primitive_create(&s->prim, pd));
	dnnl_memory_desc_t sc = scratch_md(p, pd);
	ref_add(p, s, DNNL_ARG_SRC, LOC_ARENA, src, NULL, &p->act[src].md);
	ref_add(p, s, DNNL_ARG_DST, LOC_ARENA, dst, NULL, &p->act[dst].md);
	ref_add(p, s, DNNL_ARG_SCRATCHPAD, LOC_SCRATCH, -1, NULL, &sc);
	for (int i = 0; i < nextra; i++)
		s->ref[s->nref++] = extra[i];
	return add_store(p, dst, fresh);
}

/* INT8 weight scales of conv: max |w| of each output channel over qmax
 * (wsc [cout]). Without VNNI, oneDNN's AVX2 and AVX-512 int8 kernels add
 * pairs of u8 x s8 products into s16 (vpmaddubsw), which saturates at
 * 32767 (255 * 127 * 2 = 64770); oneDNN's "Nuances of int8 computations"
 * says to keep the weights to 7 bits there, so with a u8 input qmax is 63
 * (255 * 63 * 2 = 32130 fits). With an s8 input oneDNN shifts the input
 * to u8 and halves the weights itself (its scale_adjust of 0.5, undone in
 * the output scales), so qmax is 127 there. rnencode's bits are the same
 * on every CPU; oneDNN halves s8-input weights only without VNNI, so the
 * stem's numbers still differ on a VNNI CPU (README). */
static void weight_scales(const net_conv_t *c, int s8_input, float *wsc)
{
	size_t per = (size_t)(c->cin / c->groups) * (size_t)c->kh * (size_t)c->kw;
	for (int o = 0; o < c->cout; o++) {
		float m = 0;
		for (size_t i = 0; i < per; i++) {
			float v = fabsf(c->w[(size_t)o * per + i]);
			m = v > m ? v : m;
		}
		/* an all-zero channel: any scale represents it */
		wsc[o] = m > 0 ? m / (s8_input ? 127.0f : 63.0f) : 1.0f;
	}
}

/* Convolution `c` (net->conv[ci]) on tensor src. dst < 0: a new tensor
 * (INT8: u8 when out_scale > 0, holding dst / out_scale, else f32); else
 * dst holds the residual, added by a sum post-op before the ReLU. Returns
 * the dst id. */
static int add_conv(encoder_t *e, plan_t *p, plan_t *prev, int ci, int src, int dst, int relu, float out_scale)
{
	const net_conv_t *c = &e->net->conv[ci];
	act_t *as = &p->act[src];
	int h = (int)as->md.dims[2], w = (int)as->md.dims[3];
	int oh = (h + 2 * c->pad - c->kh) / c->stride + 1, ow = (w + 2 * c->pad - c->kw) / c->stride + 1;
	int sum = dst >= 0;
	if (dst < 0 && (dst = act_new_dt(p, c->cout, oh, ow, e->tag, out_scale > 0 ? dnnl_u8 : e->mem_dt)) < 0)
		return -1;
	as = &p->act[src];
	act_t *ad = &p->act[dst];
	if (ad->md.dims[1] != c->cout || ad->md.dims[2] != oh || ad->md.dims[3] != ow)
		return fail("internal: residual shape does not match conv output");
	dnnl_memory_desc_t bmd;
	dnnl_dims_t bd = {c->cout};
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a));
	dnnl_post_ops_t po;
	dnnl_primitive_attr_t attr;
	DNNL_TRY(dnnl_post_ops_create(&po));
	if (sum)
		dnnl_post_ops_append_sum(po, 1.0f);
	if (relu)
		dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
	DNNL_TRY(dnnl_primitive_attr_create(&attr));
	dnnl_primitive_attr_set_post_ops(attr, po);
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	dnnl_post_ops_destroy(po);
	/* INT8: dst = in_scale * wsc[o] * (sum of q products + b / (in_scale * wsc[o])) / out_scale,
	 * the output scales per output channel (dimension 1 of dst) */
	float in_scale = e->int8 ? e->int8_scale[ci] : 0, *wsc = NULL;
	if (e->int8) {
		if (!(wsc = malloc(2 * (size_t)c->cout * sizeof *wsc))) {
			dnnl_primitive_attr_destroy(attr);
			return fail("out of memory for weights");
		}
		float *osc = wsc + c->cout;
		weight_scales(c, as->md.data_type == dnnl_s8, wsc);
		for (int o = 0; o < c->cout; o++)
			osc[o] = in_scale * wsc[o] / (out_scale > 0 ? out_scale : 1.0f);
		dnnl_primitive_attr_set_output_scales(attr, c->cout, 1 << 1, osc);
	}
	/* Grouped: oneDNN's fast kernels want a whole vector of channels a
	 * group (8 on AVX2, 16 on AVX-512); with fewer (ResNeXt's 4 a group)
	 * it falls back to its reference code, measured 20x slower than
	 * PyTorch on resnext50_32x4d. Then merge the groups k at a time
	 * (block-diagonal weights, k times the group's arithmetic) for the
	 * smallest k that gets a kernel other than ref. */
	dnnl_primitive_desc_t pd = NULL;
	int k = 1;
	for (int tk = 1; tk <= c->groups; tk *= 2) {
		if (c->groups % tk)
			break;
		dnnl_memory_desc_t wmd;
		dnnl_convolution_desc_t cd;
		dnnl_dims_t strides = {c->stride, c->stride}, pad = {c->pad, c->pad};
		dnnl_primitive_desc_t t;
		if (weights_md(c, tk, e->int8 ? dnnl_s8 : e->mem_dt, 0, &wmd) != dnnl_success ||
		    dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &as->md,
						       &wmd, &bmd, &ad->md, strides, pad, pad) != dnnl_success ||
		    dnnl_primitive_desc_create(&t, &cd, attr, e->engine, NULL) != dnnl_success)
			continue;
		const char *impl = NULL;
		int is_ref = dnnl_primitive_desc_query(t, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
			     strncmp(impl, "ref", 3) == 0;
		if (pd && is_ref) { /* keep the unmerged one: ref either way */
			dnnl_primitive_desc_destroy(t);
			continue;
		}
		if (pd)
			dnnl_primitive_desc_destroy(pd);
		pd = t;
		k = tk;
		if (!is_ref)
			break;
	}
	dnnl_primitive_attr_destroy(attr);
	if (!pd) {
		free(wsc);
		return fail("oneDNN: no convolution for [%d->%d, %dx%d, %d groups]", c->cin, c->cout, c->kh, c->kw,
			    c->groups);
	}

	/* Weights into the layout this convolution wants. */
	const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	wgt_t *g = wgt_get(e, p, prev, c, k, want, in_scale, wsc);
	free(wsc);
	if (!g) {
		dnnl_primitive_desc_destroy(pd);
		return -1;
	}
	ref_t extra[2] = {{.arg = DNNL_ARG_BIAS, .loc = LOC_PTR, .ptr = g->b, .md = bmd},
			  {.arg = DNNL_ARG_WEIGHTS, .loc = LOC_PTR, .ptr = g->w, .md = g->md}};
	int r = add_compute(e, p, pd, src, dst, 1, extra, 2);
	dnnl_primitive_desc_destroy(pd);
	return r < 0 ? -1 : dst;
}

/* Pooling k x k / stride with symmetric padding; returns the new tensor. */
static int add_pool(encoder_t *e, plan_t *p, int src, dnnl_alg_kind_t alg, int k, int stride, int pad)
{
	act_t *as = &p->act[src];
	int c = (int)as->md.dims[1], h = (int)as->md.dims[2], w = (int)as->md.dims[3];
	int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
	int dst = act_new(e, p, c, oh, ow, e->tag);
	if (dst < 0)
		return -1;
	dnnl_pooling_desc_t pdsc;
	dnnl_dims_t strides = {stride, stride}, kernel = {k, k}, pads = {pad, pad};
	DNNL_TRY(dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &p->act[src].md, &p->act[dst].md,
					       strides, kernel, pads, pads));
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd;
	DNNL_TRY(dnnl_primitive_attr_create(&attr));
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	dnnl_status_t st = dnnl_primitive_desc_create(&pd, &pdsc, attr, e->engine, NULL);
	dnnl_primitive_attr_destroy(attr);
	DNNL_TRY(st);
	int r = add_compute(e, p, pd, src, dst, alg != dnnl_pooling_max, NULL, 0);
	dnnl_primitive_desc_destroy(pd);
	return r < 0 ? -1 : dst;
}

/* INT8: the scale a convolution's u8 output may be written with directly,
 * or 0 when it must be f32: only when every reader of value v is a
 * convolution's input with one scale (never a residual, a pool or a head). */
static float direct_u8_scale(const encoder_t *e, int v, int stop)
{
	const net_t *net = e->net;
	float sc = 0;
	if (v == stop)
		return 0;
	for (int i = 0; i < net->nop; i++) {
		const net_op_t *op = &net->op[i];
		if (op->res == v || (op->in == v && op->kind != NET_OP_CONV))
			return 0;
		if (op->in != v)
			continue;
		float s = e->int8_scale[op->conv];
		if (sc > 0 && s != sc)
			return 0;
		sc = s;
	}
	return sc;
}

/* Calibration: a step that observes tensor in, convolution ci's input. */
static int add_observe(plan_t *p, int in, int ci)
{
	step_t *s = step_new(p, STEP_OBSERVE);
	if (!s)
		return -1;
	s->in = in;
	s->conv = ci;
	act_use(p, in, p->nstep - 1);
	return 0;
}

/* INT8: convolution ci's input, value v in tensor t, as u8/s8 with ci's
 * scale: t itself when a convolution wrote it so, else a quantizing
 * reorder, shared by the convolutions that read v with the same scale
 * (q, qscale: per value). -1 on failure. */
static int quantized_input(encoder_t *e, plan_t *p, int v, int t, int ci, int *q, float *qscale)
{
	if (p->act[t].md.data_type != dnnl_f32)
		return t;
	float sc = e->int8_scale[ci];
	if (q[v] >= 0 && qscale[v] == sc)
		return q[v];
	const dnnl_memory_desc_t *md = &p->act[t].md;
	int x = act_new_dt(p, (int)md->dims[1], (int)md->dims[2], (int)md->dims[3], e->tag,
			   e->in_signed[ci] ? dnnl_s8 : dnnl_u8);
	if (x < 0 || add_reorder(e, p, at_arena(p, t), at_arena(p, x), 1.0f / sc))
		return -1;
	q[v] = x;
	qscale[v] = sc;
	return x;
}

/* The description's ops as steps. Values map to arena tensors; a
 * convolution that adds a residual writes into the residual's tensor (its
 * last use: a sum post-op in place). */
static int build_steps(encoder_t *e, plan_t *p, plan_t *prev)
{
	const net_t *net = e->net;
	int S = net->input_size;
	int *act = malloc((size_t)net->nval * sizeof *act), *last = malloc((size_t)net->nval * sizeof *last);
	int *q = malloc((size_t)net->nval * sizeof *q);
	float *qscale = malloc((size_t)net->nval * sizeof *qscale);
	if (!act || !last || !q || !qscale) {
		free(act);
		free(last);
		free(q);
		free(qscale);
		return fail("out of memory planning the network");
	}
	for (int v = 0; v < net->nval; v++)
		act[v] = last[v] = q[v] = -1;
	for (int i = 0; i < net->nop; i++) {
		last[net->op[i].in] = i;
		if (net->op[i].res >= 0)
			last[net->op[i].res] = i;
	}
	int rc = -1;
	step_t *s;
	int x = act[0] = act_new(e, p, 3, S, S, e->in_tag);
	if (x < 0 || !(s = step_new(p, STEP_INPUT)))
		goto done;
	s->out = x;
	act_use(p, x, p->nstep - 1);
	int stop = e->cfg.features ? net->features : -1;
	for (int i = 0; i < net->nop; i++) {
		const net_op_t *op = &net->op[i];
		int in = act[op->in], h = (int)p->act[in].md.dims[2], w = (int)p->act[in].md.dims[3];
		switch (op->kind) {
		case NET_OP_CONV:
			if (op->res >= 0 && last[op->res] != i) {
				fail("internal: %s's residual is read after it", op->name);
				goto done;
			}
			if (e->cfg.observe && add_observe(p, in, op->conv))
				goto done;
			if (e->int8 && (in = quantized_input(e, p, op->in, in, op->conv, q, qscale)) < 0)
				goto done;
			x = add_conv(e, p, prev, op->conv, in, op->res >= 0 ? act[op->res] : -1, op->relu,
				     e->int8 && op->relu && op->res < 0 ? direct_u8_scale(e, op->out, stop) : 0);
			break;
		case NET_OP_MAXPOOL: x = add_pool(e, p, in, dnnl_pooling_max, op->k, op->stride, op->pad); break;
		case NET_OP_AVGPOOL:
			x = add_pool(e, p, in, dnnl_pooling_avg_exclude_padding, op->k, op->stride, op->pad);
			break;
		case NET_OP_GAP:
			/* [n,c,1,1] in the activation layout is plain [n][c]: NHWC has
			 * channels innermost, nChw16c/nChw8c blocks divide c (a multiple of 64) */
			if (w != h || p->act[in].md.dims[1] % 16) {
				fail("internal: global pool over %dx%d, %d channels", h, w, (int)p->act[in].md.dims[1]);
				goto done;
			}
			x = add_pool(e, p, in, dnnl_pooling_avg_exclude_padding, h, 1, 0);
			break;
		case NET_OP_FC:
		case NET_OP_ATTNPOOL:
			x = in;
			if (op->kind == NET_OP_ATTNPOOL && e->tag != dnnl_nhwc) {
				/* tokens: NHWC, i.e. [n][h*w][c]; a reorder unless already so */
				x = act_new(e, p, (int)p->act[in].md.dims[1], h, w, dnnl_nhwc);
				if (x < 0 || add_reorder(e, p, at_arena(p, in), at_arena(p, x), 0))
					goto done;
			}
			if (!(s = step_new(p, op->kind == NET_OP_FC ? STEP_HEAD_FC : STEP_ATTNPOOL)))
				goto done;
			s->in = x;
			act_use(p, x, p->nstep - 1);
			rc = 0;
			goto done;
		}
		if (x < 0)
			goto done;
		act[op->out] = x;
		if (op->out == stop) { /* --features: the pooled vector is the output */
			if (!(s = step_new(p, STEP_HEAD_FC)))
				goto done;
			s->in = x;
			act_use(p, x, p->nstep - 1);
			rc = 0;
			goto done;
		}
	}
	fail("internal: the network has no head");
done:
	free(act);
	free(last);
	free(q);
	free(qscale);
	return rc;
}

/* Greedy offsets: largest tensor first, at the lowest offset that does not
 * overlap a placed tensor whose lifetime overlaps. */
static size_t plan_offsets(plan_t *p)
{
	int n = p->nact;
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	int *placed = malloc((size_t)(n ? n : 1) * sizeof *placed);
	size_t total = 0;
	if (!order || !placed) {
		free(order);
		free(placed);
		return (size_t)-1;
	}
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++) /* insertion sort by size, descending */
		for (int j = i; j > 0 && p->act[order[j]].bytes > p->act[order[j - 1]].bytes; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	int nplaced = 0;
	for (int i = 0; i < n; i++) {
		act_t *a = &p->act[order[i]];
		size_t off = 0;
		for (int moved = 1; moved;) {
			moved = 0;
			for (int j = 0; j < nplaced; j++) {
				act_t *b = &p->act[placed[j]];
				int live = a->first <= b->last && b->first <= a->last;
				if (live && off < b->offset + b->bytes && b->offset < off + a->bytes) {
					off = (b->offset + b->bytes + ALIGN - 1) / ALIGN * ALIGN;
					moved = 1;
				}
			}
		}
		a->offset = off;
		placed[nplaced++] = order[i];
		if (off + a->bytes > total)
			total = off + a->bytes;
	}
	free(order);
	free(placed);
	return total;
}

static void *ref_ptr(const plan_t *p, const ref_t *r)
{
	switch (r->loc) {
	case LOC_ARENA: return p->arena + p->act[r->id].offset;
	case LOC_SCRATCH: return p->scratch;
	case LOC_PTR: break;
	}
	return r->ptr;
}

static int plan_finalize(encoder_t *e, plan_t *p)
{
	p->arena_bytes = plan_offsets(p);
	if (p->arena_bytes == (size_t)-1)
		return fail("out of memory planning the arena");
	p->arena = enc_alloc(e, p->arena_bytes);
	p->scratch = enc_alloc(e, p->scratch_bytes);
	if (!p->arena || !p->scratch)
		return fail("out of memory for activations (%zu bytes)", p->arena_bytes + p->scratch_bytes);
	for (int i = 0; i < p->nstep; i++) {
		step_t *s = &p->step[i];
		for (int j = 0; j < s->nref; j++) {
			ref_t *r = &s->ref[j];
			r->ptr = ref_ptr(p, r);
			if (s->kind != STEP_PRIM)
				continue;
			DNNL_TRY(dnnl_memory_create(&s->mem[j], &r->md, e->engine, r->ptr));
			s->args[j].arg = r->arg;
			s->args[j].memory = s->mem[j];
		}
	}
	return 0;
}

static void plan_free(encoder_t *e, plan_t *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nstep; i++) {
		step_t *s = &p->step[i];
		for (int j = 0; j < s->nref; j++)
			if (s->mem[j])
				dnnl_memory_destroy(s->mem[j]);
		if (s->prim)
			dnnl_primitive_destroy(s->prim);
	}
	free(p->step);
	free(p->act);
	for (int i = 0; i < p->nwgt; i++) {
		enc_release(e, p->wgt[i].w, p->wgt[i].wbytes);
		enc_release(e, p->wgt[i].b, p->wgt[i].bbytes);
	}
	free(p->wgt);
	enc_release(e, p->arena, p->arena_bytes);
	enc_release(e, p->scratch, p->scratch_bytes);
	free(p);
}

/* prev (may be NULL): a plan whose weights the new one may take over. */
static plan_t *plan_build(encoder_t *e, int n, plan_t *prev)
{
	plan_t *p = calloc(1, sizeof *p);
	if (!p) {
		fail("out of memory");
		return NULL;
	}
	p->n = n;
	if (build_steps(e, p, prev) || plan_finalize(e, p)) {
		plan_free(e, p);
		return NULL;
	}
	return p;
}

/* ---- the plain-C steps ---- */

static void *act_ptr(const plan_t *p, int id)
{
	return p->arena + p->act[id].offset;
}

/* A float tensor of n images as a primitive wrote it (STEP_STORE), split
 * over the OpenMP threads at 64-byte boundaries: rounded in place to act_dt
 * in rounded storage, and an Inf or NaN marks its image (the precision
 * overflowed, or the value came from such a one). PyTorch and the GPU carry
 * an Inf or NaN on to the output, where the caller refuses it; here the
 * next convolution's ReLU post-op turns the NaN it makes of an Inf (Inf -
 * Inf, 0 * Inf) into 0 (vmaxps), which made wrong but finite answers with
 * exit 0 (tests/rnencode/test_overflow.sh). Inside one convolution a sum
 * that overflows is an Inf, not a NaN (one FMA accumulator: a finite
 * product added to an Inf leaves it Inf): a +Inf is stored and caught
 * here, a -Inf becomes 0 through the ReLU as in PyTorch. Images are the
 * outermost dimension of every layout used (nchw, nhwc, nChw8c, nChw16c). */
typedef struct {
	void *v;
	size_t per; /* values per image */
	int n;
	int mode; /* 0 look, 1 round to f16, 2 round to bf16 (in f32), 3 look at bf16 */
	unsigned char *overflow;
} store_job_t;

static void store_range(const store_job_t *j, size_t from, size_t to)
{
	while (from < to) {
		size_t img = from / j->per, end = (img + 1) * j->per;
		if (end > to)
			end = to;
		float *f = (float *)j->v + from;
		uint32_t m = 0;
		switch (j->mode) {
		case 0: m = maxabs_f32(f, end - from); break;
		case 1: m = round_f16_inplace(f, end - from); break;
		case 2: m = round_bf16_inplace(f, end - from); break;
		case 3: m = maxabs_bf16((const uint16_t *)j->v + from, end - from); break;
		}
		if (m >= F32_INF_BITS)
			__atomic_store_n(&j->overflow[img], 1, __ATOMIC_RELAXED);
		from = end;
	}
}

static void store_thread(void *arg)
{
	const store_job_t *j = arg;
	size_t total = j->per * (size_t)j->n, nt = (size_t)g_omp.num(), t = (size_t)g_omp.id();
	size_t from = total * t / nt / 32 * 32, to = t + 1 == nt ? total : total * (t + 1) / nt / 32 * 32;
	store_range(j, from, to);
}

static void run_store(encoder_t *e, const plan_t *p, const step_t *s, int n)
{
	const act_t *a = &p->act[s->out];
	int bf16 = a->md.data_type == dnnl_bf16;
	store_job_t j = {.v = act_ptr(p, s->out), .per = a->bytes / (bf16 ? 2 : 4) / (size_t)n, .n = n,
			 .overflow = e->overflow};
	j.mode = bf16 ? 3 : !s->round || e->act_dt == e->mem_dt ? 0 : e->act_dt == dnnl_f16 ? 1 : 2;
	/* Waking the threads (PASSIVE: from sleep) costs more than it saves
	 * below ~64 KiB of rounding, and below ~4 MiB of only looking: the
	 * look alone measured 3.4% of resnet50's batch of 1 with every tensor
	 * split over 2 threads, 2.4% with the small ones on this thread. */
	size_t split = j.mode == 1 || j.mode == 2 ? 16384 : (size_t)1 << 20;
	if (g_omp.parallel && e->threads > 1 && j.per * (size_t)n >= split)
		g_omp.parallel(store_thread, &j, (unsigned)e->threads, 0);
	else
		store_range(&j, 0, j.per * (size_t)n);
}

/* Calibration: each image's max |x| / qmax over conv's input tensor (f32;
 * padding of a blocked layout holds zeros; images are the outermost
 * dimension), into obs_img [batch][nconv]; cpu_submit raises cfg.observe by
 * the images that did not overflow (an image whose activations overflowed,
 * failed by run_store, would give an Inf or NaN scale); maxabs_f32. */
static void run_observe(encoder_t *e, const plan_t *p, const step_t *s, int n)
{
	const float *v = act_ptr(p, s->in);
	size_t per = p->act[s->in].bytes / sizeof *v / (size_t)n;
	for (int i = 0; i < n; i++) {
		uint32_t m = maxabs_f32(v + (size_t)i * per, per);
		float f;
		memcpy(&f, &m, sizeof f);
		e->obs_img[(size_t)i * (size_t)e->net->nconv + (size_t)s->conv] =
			f / (e->in_signed[s->conv] ? 127.0f : 255.0f);
	}
}

/* Host input (cfg.batch-image buffer of fmt) -> the input tensor: NCHW or
 * NHWC (e->in_tag), as stored (bf16 bits, or f32 rounded to act_dt). uint8
 * goes through the normalization table. */
static void run_input(encoder_t *e, const plan_t *p, const step_t *s, enc_input_t fmt, int n)
{
	const size_t plane = (size_t)e->net->input_size * (size_t)e->net->input_size, img = 3 * plane;
	const int nhwc = e->in_tag == dnnl_nhwc;
	/* element (c, k) of an image, k = y * W + x, in the tensor */
	const size_t cs = nhwc ? 1 : plane, ks = nhwc ? 3 : 1;
	float *d32 = act_ptr(p, s->out);
	uint16_t *d16 = act_ptr(p, s->out);
	for (int i = 0; i < n; i++) {
		size_t base = (size_t)i * img;
		for (int c = 0; c < 3; c++)
			for (size_t k = 0; k < plane; k++) {
				float v;
				if (fmt == ENC_INPUT_U8_HWC)
					v = e->lut[c][((const uint8_t *)e->input[fmt])[base + 3 * k + (size_t)c]];
				else if (fmt == ENC_INPUT_F32_CHW)
					v = ((const float *)e->input[fmt])[base + (size_t)c * plane + k];
				else
					v = half_to_float(((const uint16_t *)e->input[fmt])[base + (size_t)c * plane + k]);
				size_t at = base + (size_t)c * cs + k * ks;
				if (e->mem_dt == dnnl_bf16)
					d16[at] = float_to_bf16(v);
				else if (e->act_dt == dnnl_f16)
					d32[at] = round_h(v);
				else if (e->act_dt == dnnl_bf16)
					d32[at] = round_b(v);
				else
					d32[at] = v;
			}
	}
}

/* Tensor as stored -> f32, n elements. */
static void to_f32(const encoder_t *e, const void *src, float *dst, size_t n)
{
	if (e->mem_dt == dnnl_bf16)
		for (size_t i = 0; i < n; i++)
			dst[i] = bf16_to_float(((const uint16_t *)src)[i]);
	else
		memcpy(dst, src, n * sizeof *dst);
}

/* Weights for a head sgemm: the net's f32, or (FP16) the copy rounded to f16
 * when the plan was made. */
static const float *head_weight(const encoder_t *e, int slot, const float *w32)
{
	return e->act_dt == dnnl_f16 ? e->head_wr[slot] : w32;
}

static void round_all(const encoder_t *e, float *v, size_t n)
{
	if (e->act_dt == dnnl_f16)
		for (size_t i = 0; i < n; i++)
			v[i] = round_h(v[i]);
}

/* y[m][o] = x[m][:] . W[o][:] + b[o]  (x [m][in], W [out][in], y [m][out]) */
static int linear(encoder_t *e, int slot, const float *w, const float *b, int in, int out, const float *x, int m,
		  float *y)
{
	const float *wt = head_weight(e, slot, w);
	DNNL_TRY(dnnl_sgemm('N', 'T', m, out, in, 1.0f, x, in, wt, in, 0.0f, y, out));
	for (int i = 0; i < m; i++)
		for (int o = 0; o < out; o++) {
			float bo = e->act_dt == dnnl_f16 ? round_h(b[o]) : b[o];
			y[(size_t)i * (size_t)out + (size_t)o] += bo;
		}
	round_all(e, y, (size_t)m * (size_t)out);
	return 0;
}

static int run_head_fc(encoder_t *e, const plan_t *p, const step_t *s, int n)
{
	const net_fc_t *fc = &e->net->fc;
	float *feat = e->head_buf;
	to_f32(e, act_ptr(p, s->in), feat, (size_t)n * (size_t)fc->in);
	if (e->cfg.features) {
		memcpy(e->out, feat, (size_t)n * (size_t)fc->in * sizeof *feat);
		return 0;
	}
	return linear(e, 0, fc->w, fc->b, fc->in, fc->out, feat, n, e->out);
}

/* The attention pool (model/net.h). Only the mean token's query is used, so
 * K and V are never formed; per head h (rows h*hd.. of W_k, W_v, q scaled by
 * 1/sqrt(hd)), over the T tokens x_j (rows of X):
 *   score_j = q_h . (W_k,h x_j + b_k,h) = (W_k,h^T q_h) . x_j + q_h . b_k,h
 *     The last term is the same for every token of the head, and the softmax
 *     does not see a constant shift, so FP32 drops it: u_h = W_k,h^T q_h
 *     (FP16 adds it back before rounding the scores).
 *   out_h = sum_j a_j (W_v,h x_j + b_v,h) = W_v,h (a^T X) + b_v,h
 *     as the softmax weights a_j sum to 1.
 * Exact in real arithmetic; per image 3 D*D multiply-adds (q, u, out_h) and
 * 2 H*T*D (scores, a^T X) instead of (2T+1) D*D: 17x fewer at T = 50.
 * FP16 mode rounds where CLIP's FP16 model stores a tensor that is still
 * formed: the token matrix, q, the scores, the softmax, the head outputs and
 * the projection; u_h and a^T X (which stand for its K and V) stay FP32. */
/* A batched matmul C[b] = A[b] B[b] (A [nb][m][k], B [nb][k][n], C [nb][m][n])
 * over strided f32 views, as one primitive: one parallel region for all its
 * small products (a loop of dnnl_sgemm calls of these shapes measured up to
 * 25x slower on 2 threads than one thread). */
static int mm_make(encoder_t *e, dnnl_primitive_t *out, dnnl_dim_t nb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k,
		   const dnnl_dims_t as, const dnnl_dims_t bs, const dnnl_dims_t cs)
{
	dnnl_memory_desc_t a, b, c;
	dnnl_dims_t ad = {nb, m, k}, bd = {nb, k, n}, cd = {nb, m, n};
	DNNL_TRY(dnnl_memory_desc_init_by_strides(&a, 3, ad, dnnl_f32, as));
	DNNL_TRY(dnnl_memory_desc_init_by_strides(&b, 3, bd, dnnl_f32, bs));
	DNNL_TRY(dnnl_memory_desc_init_by_strides(&c, 3, cd, dnnl_f32, cs));
	dnnl_matmul_desc_t md;
	DNNL_TRY(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c));
	dnnl_primitive_desc_t pd;
	DNNL_TRY(dnnl_primitive_desc_create(&pd, &md, NULL, e->engine, NULL));
	dnnl_status_t st = dnnl_primitive_create(out, pd);
	dnnl_primitive_desc_destroy(pd);
	DNNL_TRY(st);
	return 0;
}

static int mm_run(encoder_t *e, dnnl_primitive_t prim, const void *a, const void *b, void *c)
{
	const_dnnl_primitive_desc_t pd;
	DNNL_TRY(dnnl_primitive_get_primitive_desc(prim, &pd));
	const int arg[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
	void *ptr[3] = {(void *)(uintptr_t)a, (void *)(uintptr_t)b, c};
	dnnl_exec_arg_t args[3];
	dnnl_status_t st = dnnl_success;
	int made = 0;
	for (; made < 3 && st == dnnl_success; made++) {
		args[made].arg = arg[made];
		st = dnnl_memory_create(&args[made].memory, dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg[made]),
					e->engine, ptr[made]);
		if (st != dnnl_success)
			break;
	}
	if (st == dnnl_success)
		st = dnnl_primitive_execute(prim, e->stream, 3, args);
	if (st == dnnl_success)
		st = dnnl_stream_wait(e->stream);
	for (int i = 0; i < made; i++)
		dnnl_memory_destroy(args[i].memory);
	if (st != dnnl_success)
		return fail("oneDNN: the attention pool's matmul: %s", dnnl_status2str(st));
	return 0;
}

/* The four matmuls of run_attnpool for n images (head_buf's layout). */
static int attn_mm_prepare(encoder_t *e, int n)
{
	if (e->attn_mm_n == n)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (e->attn_mm[i])
			dnnl_primitive_destroy(e->attn_mm[i]);
		e->attn_mm[i] = NULL;
	}
	e->attn_mm_n = 0;
	const net_attnpool_t *a = &e->net->attn;
	const dnnl_dim_t T = a->tokens, D = a->dim, H = a->heads, hd = a->head_dim, N = n;
	/* u [n][H][D] = q [n][H][hd] x W_k,h [hd][D], batched over heads */
	const dnnl_dims_t uq = {hd, D, 1}, uw = {hd * D, D, 1}, uu = {D, H * D, 1};
	/* scores [n][H][T] = u [n][H][D] x X^T, batched over images (X [n][T][D]) */
	const dnnl_dims_t su = {H * D, D, 1}, sx = {T * D, 1, D}, ss = {H * T, T, 1};
	/* z [n][H][D] = softmax [n][H][T] x X, batched over images */
	const dnnl_dims_t zs = {H * T, T, 1}, zx = {T * D, D, 1}, zz = {H * D, D, 1};
	/* o [n][H][hd] = z [n][H][D] x W_v,h^T [D][hd], batched over heads */
	const dnnl_dims_t oz = {D, H * D, 1}, ow = {hd * D, 1, D}, oo = {hd, D, 1};
	if (mm_make(e, &e->attn_mm[0], H, N, D, hd, uq, uw, uu) || mm_make(e, &e->attn_mm[1], N, H, T, D, su, sx, ss) ||
	    mm_make(e, &e->attn_mm[2], N, H, D, T, zs, zx, zz) || mm_make(e, &e->attn_mm[3], H, N, hd, D, oz, ow, oo))
		return -1;
	e->attn_mm_n = n;
	return 0;
}

static int run_attnpool(encoder_t *e, const plan_t *p, const step_t *s, int n)
{
	const net_attnpool_t *a = &e->net->attn;
	const int T = a->tokens, D = a->dim, H = a->heads, hd = a->head_dim, hw = T - 1;
	const size_t TD = (size_t)T * (size_t)D, HD = (size_t)H * (size_t)D;
	float *tok = e->head_buf;          /* [n][T][D] */
	float *q = tok + (size_t)n * TD;   /* [n][D], then scaled */
	float *u = q + (size_t)n * (size_t)D; /* [n][H][D] */
	float *z = u + (size_t)n * HD;     /* [n][H][D] = a^T X per head */
	float *o = z + (size_t)n * HD;     /* [n][D] */
	float *sc = o + (size_t)n * (size_t)D; /* [n][H][T] scores, then softmax */
	if (attn_mm_prepare(e, n))
		return -1;
	for (int i = 0; i < n; i++) {
		float *ti = tok + (size_t)i * TD;
		const unsigned char *src = (const unsigned char *)act_ptr(p, s->in) +
					   (size_t)i * (size_t)hw * (size_t)D * (e->mem_dt == dnnl_bf16 ? 2 : 4);
		to_f32(e, src, ti + D, (size_t)hw * (size_t)D);
		for (int c = 0; c < D; c++)
			o[c] = 0;
		for (int j = 0; j < hw; j++)
			for (int c = 0; c < D; c++)
				o[c] += ti[(size_t)(j + 1) * (size_t)D + (size_t)c];
		for (int c = 0; c < D; c++)
			ti[c] = o[c] / (float)hw;
		round_all(e, ti, (size_t)D);
		for (int j = 0; j < T; j++)
			for (int c = 0; c < D; c++) {
				float pe = a->pos[(size_t)j * (size_t)D + (size_t)c];
				if (e->act_dt == dnnl_f16)
					pe = round_h(pe);
				ti[(size_t)j * (size_t)D + (size_t)c] += pe;
			}
	}
	round_all(e, tok, (size_t)n * TD);
	/* q from the mean token only (rows i*T of tok: stride T*D), gathered in o */
	for (int i = 0; i < n; i++)
		memcpy(o + (size_t)i * (size_t)D, tok + (size_t)i * TD, (size_t)D * sizeof(float));
	if (linear(e, 1, a->wq, a->bq, D, D, o, n, q))
		return -1;
	const float scale = 1.0f / sqrtf((float)hd);
	for (size_t k = 0; k < (size_t)n * (size_t)D; k++)
		q[k] = e->act_dt == dnnl_f16 ? round_h(q[k] * scale) : q[k] * scale;
	if (mm_run(e, e->attn_mm[0], q, head_weight(e, 2, a->wk), u) ||
	    mm_run(e, e->attn_mm[1], u, tok, sc))
		return -1;
	for (size_t r = 0; r < (size_t)n * (size_t)H; r++) {
		float *sh = sc + r * (size_t)T, mx = -INFINITY, den = 0;
		/* FP16 rounds the scores CLIP's model stores, so the shift the
		 * softmax ignores is put back first: the same rounding grid and the
		 * same overflow to Inf as q.k */
		float qb = 0;
		if (e->act_dt == dnnl_f16) {
			const float *qh = q + (r / (size_t)H) * (size_t)D + (r % (size_t)H) * (size_t)hd;
			const float *bh = a->bk + (r % (size_t)H) * (size_t)hd;
			for (int c = 0; c < hd; c++)
				qb += qh[c] * round_h(bh[c]);
		}
		for (int j = 0; j < T; j++) {
			if (e->act_dt == dnnl_f16)
				sh[j] = round_h(sh[j] + qb);
			if (sh[j] > mx)
				mx = sh[j];
		}
		for (int j = 0; j < T; j++) {
			sh[j] = expf(sh[j] - mx);
			den += sh[j];
		}
		for (int j = 0; j < T; j++)
			sh[j] = e->act_dt == dnnl_f16 ? round_h(sh[j] / den) : sh[j] / den;
	}
	if (mm_run(e, e->attn_mm[2], sc, tok, z) ||
	    mm_run(e, e->attn_mm[3], z, head_weight(e, 3, a->wv), o))
		return -1;
	for (int i = 0; i < n; i++)
		for (int c = 0; c < D; c++) {
			float *v = o + (size_t)i * (size_t)D + (size_t)c;
			*v += e->act_dt == dnnl_f16 ? round_h(a->bv[c]) : a->bv[c];
			if (e->act_dt == dnnl_f16)
				*v = round_h(*v);
		}
	return linear(e, 4, a->wc, a->bc, D, a->out, o, n, e->out);
}

/* ---- the backend ---- */

static int cpu_available(int gpu, char *why, size_t whycap)
{
	(void)gpu;
	(void)why;
	(void)whycap;
	return 1;
}

/* max |v| of n values rounded to f16 (as abs_bits), v left as it is */
static uint32_t maxabs_f16(const float *v, size_t n)
{
	uint32_t mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = max_u32(mx, abs_bits(round_h(v[i])));
	return mx;
}

static int head_range_fail(const encoder_t *e, const char *what)
{
	return fail("%s: a weight or bias beyond float16's range (%s keeps these weights as float16): run it in fp32", what,
		    precision_name(e->cfg.precision));
}

static int head_prepare(encoder_t *e)
{
	const net_t *net = e->net;
	size_t B = (size_t)e->cfg.batch;
	int tv = net->features >= 0;
	if (tv)
		e->head_bytes = B * (size_t)net->fc.in * sizeof(float);
	else
		e->head_bytes = B * (((size_t)net->attn.tokens + 2 * (size_t)net->attn.heads + 2) * (size_t)net->attn.dim +
				     (size_t)net->attn.heads * (size_t)net->attn.tokens) * sizeof(float);
	e->head_buf = enc_alloc(e, e->head_bytes);
	e->out = enc_alloc(e, B * (size_t)e->out_dim * sizeof(float));
	e->overflow = calloc(B, 1);
	if (e->cfg.observe && !(e->obs_img = calloc(B * (size_t)net->nconv, sizeof *e->obs_img)))
		return fail("out of memory for the calibration");
	if (!e->head_buf || !e->out || !e->overflow)
		return fail("out of memory for the head buffers");
	const net_attnpool_t *a = &net->attn;
	size_t fc = ((size_t)net->fc.in + 1) * (size_t)net->fc.out * sizeof(float);
	size_t small = ((size_t)a->tokens * (size_t)a->dim + 3 * (size_t)a->dim + (size_t)a->out) * sizeof(float);
	size_t big = (3 * (size_t)a->dim + (size_t)a->out) * (size_t)a->dim * sizeof(float);
	if (e->cfg.features)
		return 0;
	if (e->act_dt != dnnl_f16) {
		e->borrowed_bytes = tv ? fc : small + big;
		e->head_w_bytes = e->borrowed_bytes;
		return 0;
	}
	/* biases (and CLIP's positional embedding) are rounded as they are used */
	e->borrowed_bytes = tv ? (size_t)net->fc.out * sizeof(float) : small;
	e->head_w_bytes = e->borrowed_bytes + (tv ? fc - e->borrowed_bytes : big);
	/* FP16: the head's matrices are held rounded to f16 values in f32, as the
	 * convolutions' weights are: the sgemm and matmuls take them as they are,
	 * where an f16 copy cost a conversion of every weight each batch (clip-rn50:
	 * 14.7M, about 10% of a batch of 1). */
	const float *w[5] = {net->fc.w, net->attn.wq, net->attn.wk, net->attn.wv, net->attn.wc};
	size_t sz[5] = {(size_t)net->fc.in * (size_t)net->fc.out, (size_t)net->attn.dim * (size_t)net->attn.dim,
			(size_t)net->attn.dim * (size_t)net->attn.dim, (size_t)net->attn.dim * (size_t)net->attn.dim,
			(size_t)net->attn.out * (size_t)net->attn.dim};
	/* what is rounded as it is used, checked here once */
	const float *b[5] = {net->fc.b, net->attn.bq, net->attn.bk, net->attn.bv, net->attn.bc};
	size_t bn[5] = {(size_t)net->fc.out, (size_t)net->attn.dim, (size_t)net->attn.dim, (size_t)net->attn.dim,
			(size_t)net->attn.out};
	static const char *const name[5] = {"fc", "attnpool.q_proj", "attnpool.k_proj", "attnpool.v_proj",
					    "attnpool.c_proj"};
	for (int i = 0; i < 5; i++) {
		if (!w[i])
			continue;
		if (!(e->head_wr[i] = enc_alloc(e, sz[i] * sizeof(float))))
			return fail("out of memory for the head weights");
		memcpy(e->head_wr[i], w[i], sz[i] * sizeof(float));
		/* as for the convolutions (wgt_get): an Inf weight is refused, not
		 * left to fail every image as an overflow of its own */
		uint32_t mx = max_u32(round_f16_inplace(e->head_wr[i], sz[i]), b[i] ? maxabs_f16(b[i], bn[i]) : 0);
		if (mx >= F32_INF_BITS)
			return head_range_fail(e, name[i]);
	}
	if (net->attn.pos &&
	    maxabs_f16(net->attn.pos, (size_t)net->attn.tokens * (size_t)net->attn.dim) >= F32_INF_BITS)
		return head_range_fail(e, "attnpool.positional_embedding");
	return 0;
}

/* The layout oneDNN's convolution prefers for src (any of cands), given
 * src dims and (optionally) a fixed dst layout. */
static int preferred_tag(encoder_t *e, const dnnl_dims_t src, const dnnl_dims_t wei, int stride, int pad,
			 dnnl_format_tag_t dst_tag, const dnnl_format_tag_t *cands, int ncands, dnnl_format_tag_t *out)
{
	dnnl_memory_desc_t smd, wmd, dmd;
	dnnl_dims_t dst = {src[0], wei[0], (src[2] + 2 * pad - wei[2]) / stride + 1,
			   (src[3] + 2 * pad - wei[3]) / stride + 1};
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&smd, 4, src, e->mem_dt, dnnl_format_tag_any));
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&wmd, 4, wei, e->mem_dt, dnnl_format_tag_any));
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&dmd, 4, dst, e->mem_dt, dst_tag));
	dnnl_convolution_desc_t cd;
	dnnl_dims_t st = {stride, stride}, pd2 = {pad, pad};
	DNNL_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd,
						   NULL, &dmd, st, pd2, pd2));
	dnnl_primitive_desc_t pd;
	DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, e->engine, NULL));
	const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	*out = cands[ncands - 1];
	for (int i = 0; i < ncands; i++) {
		dnnl_memory_desc_t m;
		dnnl_memory_desc_init_by_tag(&m, 4, src, e->mem_dt, cands[i]);
		if (dnnl_memory_desc_equal(&m, chosen)) {
			*out = cands[i];
			break;
		}
	}
	dnnl_primitive_desc_destroy(pd);
	return 0;
}

/* Activation layout: what oneDNN prefers for a mid-network 3x3 convolution
 * at this batch size. Input layout: what the first convolution prefers for
 * its 3-channel source given that activation layout (nchw or nhwc, both
 * written directly by the input step). */
static int choose_layouts(encoder_t *e)
{
	static const dnnl_format_tag_t act[] = {dnnl_nChw16c, dnnl_nChw8c, dnnl_nhwc};
	static const dnnl_format_tag_t in[] = {dnnl_nhwc, dnnl_nchw};
	const net_conv_t *c = &e->net->conv[0];
	dnnl_dims_t mid = {e->cfg.batch, 128, 28, 28}, mid_w = {128, 128, 3, 3};
	int S = e->net->input_size;
	dnnl_dims_t src = {e->cfg.batch, 3, S, S}, w = {c->cout, c->cin, c->kh, c->kw};
	if (preferred_tag(e, mid, mid_w, 1, 1, dnnl_format_tag_any, act, 3, &e->tag))
		return -1;
	return preferred_tag(e, src, w, c->stride, c->pad, e->tag, in, 2, &e->in_tag);
}

static void cpu_destroy(encoder_t *e);

/* [nconv]: whether convolution i's input can be negative: the network's
 * input (a normalized image) can, a ReLU's output cannot, a pool keeps
 * what its input is. NULL when out of memory. */
static unsigned char *input_signs(const net_t *net)
{
	unsigned char *val = calloc((size_t)net->nval, 1), *conv = calloc((size_t)net->nconv + 1, 1);
	if (!val || !conv) {
		free(val);
		free(conv);
		return NULL;
	}
	val[0] = 1;
	for (int i = 0; i < net->nop; i++) {
		const net_op_t *op = &net->op[i];
		if (op->kind == NET_OP_CONV) {
			conv[op->conv] = val[op->in];
			val[op->out] = !op->relu;
		} else {
			val[op->out] = val[op->in];
		}
	}
	free(val);
	return conv;
}

static encoder_t *cpu_create(const net_t *net, const enc_config_t *cfg, char *err, size_t errcap)
{
	g_err = err;
	g_errcap = errcap;
	if (cfg->batch < 1) {
		fail("batch size must be at least 1");
		return NULL;
	}
	if (cfg->features && net->features < 0) {
		fail("features output is for torchvision ResNets only");
		return NULL;
	}
	/* TF32 is a GPU format: rnencode notes it and asks for FP32 here */
	if (cfg->precision == PREC_TF32) {
		fail("precision %s: the CPU backend computes fp32, bf16, fp16 or int8", precision_name(cfg->precision));
		return NULL;
	}
	if (cfg->precision == PREC_INT8 && !cfg->int8_scale) {
		fail("precision int8 needs the convolutions' input scales (a calibration)");
		return NULL;
	}
	for (int i = 0; cfg->precision == PREC_INT8 && i < net->nconv; i++)
		if (!net_calib_scale_ok(cfg->int8_scale[i])) {
			fail("precision int8: convolution %d's input scale is %g, not from %g to %g", i,
			     (double)cfg->int8_scale[i], (double)CALIB_SCALE_MIN, (double)CALIB_SCALE_MAX);
			return NULL;
		}
	if (cfg->observe && cfg->precision != PREC_FP32) {
		fail("internal: calibration observes the FP32 network");
		return NULL;
	}
	encoder_t *e = calloc(1, sizeof *e);
	if (!e) {
		fail("out of memory");
		return NULL;
	}
	e->net = net;
	e->cfg = *cfg;
	e->act_dt = cfg->precision == PREC_FP16 ? dnnl_f16 : cfg->precision == PREC_BF16 ? dnnl_bf16 : dnnl_f32;
	e->mem_dt = dnnl_f32;
	e->int8 = cfg->precision == PREC_INT8;
	e->cfg.int8_scale = NULL;
	if (e->int8 && (e->int8_scale = malloc((size_t)net->nconv * sizeof *e->int8_scale)))
		memcpy(e->int8_scale, cfg->int8_scale, (size_t)net->nconv * sizeof *e->int8_scale);
	if (!(e->in_signed = input_signs(net)) || (e->int8 && !e->int8_scale)) {
		fail("out of memory");
		cpu_destroy(e);
		return NULL;
	}
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	if (e->act_dt == dnnl_bf16) {
		/* oneDNN runs bf16 below avx512_core_bf16 only by emulation, or
		 * (AVX2 and below) not at all: the same numbers from rounded f32
		 * storage then, and the user told that it is no faster */
		if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16)
			e->mem_dt = dnnl_bf16;
		else
			snprintf(e->note, sizeof e->note,
				 "--precision bf16: no bf16 instructions on this CPU (oneDNN's ISA %s): BF16 numbers "
				 "from FP32 arithmetic, no faster than FP32",
				 isa_name(isa));
	}
	omp_lookup();
	e->out_dim = net_output_dim(net, cfg->features);
	e->threads = threads_set(cfg->threads > 0 ? cfg->threads : cpu_cores());
	for (int c = 0; c < 3; c++)
		for (int v = 0; v < 256; v++)
			e->lut[c][v] = ((float)v / 255.0f - net->mean[c]) / net->std[c];
	char cpu[96];
	cpu_name(cpu, sizeof cpu);
	const dnnl_version_t *ver = dnnl_version();
	snprintf(e->device, sizeof e->device, "cpu: %s (oneDNN %d.%d.%d, %s)", cpu, ver->major, ver->minor,
		 ver->patch, dnnl_cpu_isa2str(isa));
	if (dnnl_engine_create(&e->engine, dnnl_cpu, 0) != dnnl_success ||
	    dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags) != dnnl_success) {
		fail("oneDNN: cannot create the CPU engine");
		cpu_destroy(e);
		return NULL;
	}
	/* INT8: oneDNN's int8 convolutions take NHWC (format any picks it);
	 * the FP32 tensors between them (residuals, pools) are NHWC too, so
	 * that quantizing one is an elementwise reorder */
	if (e->int8)
		e->tag = e->in_tag = dnnl_nhwc;
	else if (choose_layouts(e)) {
		cpu_destroy(e);
		return NULL;
	}
	if (head_prepare(e) || !(e->plan = plan_build(e, cfg->batch, NULL))) {
		cpu_destroy(e);
		return NULL;
	}
	return e;
}

static void *cpu_input(encoder_t *e, enc_input_t fmt)
{
	if ((unsigned)fmt > ENC_INPUT_F16_CHW)
		return NULL;
	if (!e->input[fmt]) {
		size_t per = net_input_elems(e->net);
		per *= fmt == ENC_INPUT_U8_HWC ? 1 : fmt == ENC_INPUT_F32_CHW ? 4 : 2;
		e->input_bytes[fmt] = per * (size_t)e->cfg.batch;
		e->input[fmt] = enc_alloc(e, e->input_bytes[fmt]);
	}
	return e->input[fmt];
}

static int cpu_submit(encoder_t *e, enc_input_t fmt, int n, char *err, size_t errcap)
{
	g_err = err;
	g_errcap = errcap;
	if (e->pending)
		return fail("internal: submit before wait");
	if (n < 1 || n > e->cfg.batch || (unsigned)fmt > ENC_INPUT_F16_CHW || !e->input[fmt])
		return fail("internal: bad submit (%d images)", n);
	if (n != e->plan->n) {
		/* A batch of another size (the stream's last): primitives made
		 * for n rather than computing batch - n images of padding. */
		plan_t *np = plan_build(e, n, e->plan);
		if (!np)
			return -1;
		plan_free(e, e->plan);
		e->plan = np;
	}
	double t0 = time_now();
	plan_t *p = e->plan;
	memset(e->overflow, 0, (size_t)n);
	for (int i = 0; i < p->nstep; i++) {
		step_t *s = &p->step[i];
		int r = 0;
		switch (s->kind) {
		case STEP_INPUT: run_input(e, p, s, fmt, n); break;
		case STEP_PRIM: DNNL_TRY(dnnl_primitive_execute(s->prim, e->stream, s->nref, s->args)); break;
		case STEP_HEAD_FC: r = run_head_fc(e, p, s, n); break;
		case STEP_ATTNPOOL: r = run_attnpool(e, p, s, n); break;
		case STEP_STORE: run_store(e, p, s, n); break;
		case STEP_OBSERVE: run_observe(e, p, s, n); break;
		}
		if (r)
			return -1;
	}
	for (int i = 0; i < n; i++) /* the caller refuses non-finite outputs */
		if (e->overflow[i])
			for (int k = 0; k < e->out_dim; k++)
				e->out[(size_t)i * (size_t)e->out_dim + (size_t)k] = NAN;
	for (int i = 0; e->cfg.observe && i < n; i++)
		for (int c = 0; !e->overflow[i] && c < e->net->nconv; c++) {
			float f = e->obs_img[(size_t)i * (size_t)e->net->nconv + (size_t)c];
			if (f > e->cfg.observe[c])
				e->cfg.observe[c] = f;
		}
	DNNL_TRY(dnnl_stream_wait(e->stream));
	double dt = time_now() - t0;
	if (e->batches++ > 0) /* the first batch is warm-up */
		timing_add(&e->timing, dt, n, n == e->cfg.batch);
	e->out_n = n;
	e->pending = 1;
	return 0;
}

static int cpu_wait(encoder_t *e, float *out, char *err, size_t errcap)
{
	g_err = err;
	g_errcap = errcap;
	if (!e->pending)
		return fail("internal: wait with nothing submitted");
	memcpy(out, e->out, (size_t)e->out_n * (size_t)e->out_dim * sizeof *out);
	e->pending = 0;
	return 0;
}

static void cpu_stats(const encoder_t *e, enc_stats_t *st)
{
	memset(st, 0, sizeof *st);
	snprintf(st->device, sizeof st->device, "%s", e->device);
	snprintf(st->note, sizeof st->note, "%s", e->note);
	st->threads = e->threads;
	if (e->plan) {
		st->weight_bytes = e->plan->weight_bytes + e->head_w_bytes;
		st->activation_bytes = e->plan->arena_bytes + e->plan->scratch_bytes + e->head_bytes;
	}
	st->peak_bytes = e->bytes_peak + e->borrowed_bytes;
	st->batches = e->batches;
	enc_stats_timing(st, &e->timing);
}

static void cpu_destroy(encoder_t *e)
{
	if (!e)
		return;
	plan_free(e, e->plan);
	free(e->in_signed);
	free(e->int8_scale);
	for (int i = 0; i < 3; i++)
		free(e->input[i]);
	free(e->head_buf);
	free(e->out);
	free(e->overflow);
	free(e->obs_img);
	for (int i = 0; i < 5; i++)
		free(e->head_wr[i]);
	for (int i = 0; i < 4; i++)
		if (e->attn_mm[i])
			dnnl_primitive_destroy(e->attn_mm[i]);
	if (e->stream)
		dnnl_stream_destroy(e->stream);
	if (e->engine)
		dnnl_engine_destroy(e->engine);
	free(e);
}

const enc_backend_t enc_backend_cpu = {
	.name = "cpu",
	.available = cpu_available,
	.create = cpu_create,
	.depth = 1,
	.input = cpu_input,
	.submit = cpu_submit,
	.wait = cpu_wait,
	.stats = cpu_stats,
	.destroy = cpu_destroy,
};
