/* resample.c - Pillow's 8-bit resampler (see image/image.h).
 *
 * The weights are computed with exactly Pillow's double expressions, in the
 * same order, so the fixed-point coefficients are identical; the sums are
 * int32 like Pillow's, and integer sums do not depend on their order, which
 * lets them be vectorized without changing a single output byte:
 *   horizontal, 3 or 4 channels: AVX-512BW (4 rows at once) or AVX2 (2 rows),
 *     16-bit multiplies of pixels by weights split in two 16-bit halves;
 *   vertical: AVX2, 32 bytes of a row at once;
 *   everything else, and CPUs without AVX2: plain C.
 * test_imgresample checks all of them against a plain whole-image resize.
 */
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)
#define ACC_INIT (1 << (PRECISION_BITS - 1))
#define PI 3.14159265358979323846 /* M_PI, which strict C11 does not declare */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define IMG_X86 1
#endif

static double filter_box(double x)
{
	if (x > -0.5 && x <= 0.5)
		return 1.0;
	return 0.0;
}

static double filter_bilinear(double x)
{
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return 1.0 - x;
	return 0.0;
}

static double filter_hamming(double x)
{
	if (x < 0.0)
		x = -x;
	if (x == 0.0)
		return 1.0;
	if (x >= 1.0)
		return 0.0;
	x = x * PI;
	return sin(x) / x * (0.54f + 0.46f * cos(x)); /* float constants, as Pillow writes them */
}

static double filter_bicubic(double x)
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

static double sinc(double x)
{
	if (x == 0.0)
		return 1.0;
	x = x * PI;
	return sin(x) / x;
}

static double filter_lanczos(double x)
{
	if (-3.0 <= x && x < 3.0)
		return sinc(x) * sinc(x / 3);
	return 0.0;
}

static const struct {
	const char *name;
	double (*fn)(double);
	double support;
} filters[IMG_FILTER_COUNT] = {
	[IMG_FILTER_BOX] = {"box", filter_box, 0.5},
	[IMG_FILTER_BILINEAR] = {"bilinear", filter_bilinear, 1.0},
	[IMG_FILTER_HAMMING] = {"hamming", filter_hamming, 1.0},
	[IMG_FILTER_BICUBIC] = {"bicubic", filter_bicubic, 2.0},
	[IMG_FILTER_LANCZOS] = {"lanczos", filter_lanczos, 3.0},
};

const char *img_filter_name(img_filter_t f)
{
	return (unsigned)f < IMG_FILTER_COUNT ? filters[f].name : "?";
}

int img_filter_parse(const char *s, img_filter_t *out)
{
	for (int i = 0; i < IMG_FILTER_COUNT; i++)
		if (strcmp(s, filters[i].name) == 0) {
			*out = (img_filter_t)i;
			return 0;
		}
	return -1;
}

int img_buf_reserve(uint8_t **buf, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < n)
		c *= 2;
	free(*buf);
	*buf = malloc(c);
	*cap = *buf ? c : 0;
	return *buf ? 0 : -1;
}

void img_axis_free(img_axis_t *a)
{
	free(a->xmin);
	free(a->count);
	free(a->k);
	free(a->kd);
	free(a->kw);
	memset(a, 0, sizeof *a);
}

/* Taps per output sample (Pillow's ksize): 2 ceil(support * max(scale, 1)) + 1. */
static int plan_ksize(float in_extent, int out_size, img_filter_t f)
{
	double scale = (double)(in_extent - 0.0f) / out_size;
	return (int)ceil(filters[f].support * (scale < 1.0 ? 1.0 : scale)) * 2 + 1;
}

size_t img_axis_plan_bytes(int in_size, float in_extent, int out_size, img_filter_t f, int out_n)
{
	if (in_size == out_size && in_extent == (float)in_size)
		return 0;
	size_t k = (size_t)plan_ksize(in_extent, out_size, f);
	/* xmin, count; k, kd; kw */
	return (size_t)out_n * (2 * sizeof(int) + k * (sizeof(int32_t) + sizeof(double)) + (k + 3) / 4 * 32 * sizeof(int16_t));
}

size_t img_resample_scratch(const img_axis_t *ax, const img_axis_t *ay, size_t sample_bytes, int vertical_first)
{
	if (ax->identity)
		return 0;
	if (vertical_first && !ay->identity)
		return (size_t)(ax->src_hi - ax->src_lo) * sample_bytes * (size_t)ay->out_n + IMG_RESAMPLE_PAD;
	return (size_t)ax->out_n * sample_bytes * (size_t)(ay->src_hi - ay->src_lo) + 1;
}

int img_axis_plan(img_axis_t *a, int in_size, float in_extent, int out_size, img_filter_t f, int out_start,
		  int out_n)
{
	/* Many images share a size: keep the plan when nothing changed. */
	if (a->in_size == in_size && a->in_extent == in_extent && a->out_size == out_size && a->filter == f &&
	    a->out_start == out_start && a->out_n == out_n && (a->identity || a->k))
		return 0;
	img_axis_free(a);
	a->in_extent = in_extent;
	a->filter = f;
	a->in_size = in_size;
	a->out_size = out_size;
	a->out_start = out_start;
	a->out_n = out_n;
	if (in_size == out_size && in_extent == (float)in_size) {
		a->identity = 1;
		a->src_lo = out_start;
		a->src_hi = out_start + out_n;
		return 0;
	}
	/* Pillow passes the box as floats: (double)(in1 - in0) with in0 = 0. */
	double scale = (double)(in_extent - 0.0f) / out_size;
	double filterscale = scale < 1.0 ? 1.0 : scale;
	double support = filters[f].support * filterscale;
	double (*fn)(double) = filters[f].fn;
	int ksize = plan_ksize(in_extent, out_size, f);
	a->ksize = ksize;
	a->xmin = malloc((size_t)out_n * sizeof *a->xmin);
	a->count = malloc((size_t)out_n * sizeof *a->count);
	a->k = malloc((size_t)out_n * (size_t)ksize * sizeof *a->k);
	a->kd = malloc((size_t)out_n * (size_t)ksize * sizeof *a->kd);
	a->kgroups = (ksize + 3) / 4;
	a->kw = calloc((size_t)out_n * (size_t)a->kgroups * 32, sizeof *a->kw);
	if (!a->xmin || !a->count || !a->k || !a->kd || !a->kw) {
		img_axis_free(a);
		return -1;
	}
	a->src_lo = in_size;
	a->src_hi = 0;
	double ss = 1.0 / filterscale;
	for (int i = 0; i < out_n; i++) {
		int xx = out_start + i;
		double center = 0.0f + (xx + 0.5) * scale;
		double ww = 0.0;
		int xmin = (int)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		int xmax = (int)(center + support + 0.5);
		if (xmax > in_size)
			xmax = in_size;
		xmax -= xmin;
		double *kd = a->kd + (size_t)i * (size_t)ksize;
		for (int x = 0; x < xmax; x++) {
			double v = fn((x + xmin - center + 0.5) * ss);
			kd[x] = v;
			ww += v;
		}
		for (int x = 0; x < xmax; x++)
			if (ww != 0.0)
				kd[x] /= ww;
		for (int x = xmax; x < ksize; x++)
			kd[x] = 0;
		int32_t *k = a->k + (size_t)i * (size_t)ksize;
		for (int x = 0; x < ksize; x++)
			k[x] = kd[x] < 0 ? (int32_t)(-0.5 + kd[x] * (1 << PRECISION_BITS))
					 : (int32_t)(0.5 + kd[x] * (1 << PRECISION_BITS));
		/* For pmaddwd: k = hi * 2^11 + lo with lo in [0, 2^11) and |hi| <= 2^11 + a
		 * little, both int16; the int32 sum hi_sum * 2^11 + lo_sum is Pillow's sum
		 * exactly. Layout per group of taps 4g..4g+3: hi(t0,t1) x4, hi(t2,t3) x4,
		 * lo(t0,t1) x4, lo(t2,t3) x4 (each pair matches a pixel pair's channel). */
		int16_t *kw = a->kw + (size_t)i * (size_t)a->kgroups * 32;
		for (int x = 0; x < ksize; x++) {
			int16_t hi = (int16_t)(k[x] >> 11), lo = (int16_t)(k[x] & 2047);
			int g = x / 4, pair = (x % 4) / 2, side = x % 2;
			for (int c = 0; c < 4; c++) {
				kw[g * 32 + pair * 8 + c * 2 + side] = hi;
				kw[g * 32 + 16 + pair * 8 + c * 2 + side] = lo;
			}
		}
		a->xmin[i] = xmin;
		a->count[i] = xmax;
		if (xmax > 0) {
			if (xmin < a->src_lo)
				a->src_lo = xmin;
			if (xmin + xmax > a->src_hi)
				a->src_hi = xmin + xmax;
		}
	}
	if (a->src_lo > a->src_hi)
		a->src_lo = a->src_hi = 0;
	return 0;
}

static inline uint8_t clip8(int32_t v)
{
	if (v < 0)
		return 0;
	v >>= PRECISION_BITS;
	return v > 255 ? 255 : (uint8_t)v;
}

/* One row, horizontal taps: out[i*nc + c] = sum_t in[(xmin[i]+t-x0)*nc + c] * k[i][t].
 * in: the source row starting at absolute x = x0; out: a->out_n pixels. */
static void resample_row_h(const uint8_t *in, int x0, uint8_t *out, const img_axis_t *a, int nc)
{
	const int ksize = a->ksize;
	for (int i = 0; i < a->out_n; i++) {
		const int32_t *k = a->k + (size_t)i * (size_t)ksize;
		const uint8_t *p = in + (size_t)(a->xmin[i] - x0) * (size_t)nc;
		const int n = a->count[i];
		if (nc == 3) {
			int32_t s0 = ACC_INIT, s1 = ACC_INIT, s2 = ACC_INIT;
			for (int t = 0; t < n; t++, p += 3) {
				s0 += p[0] * k[t];
				s1 += p[1] * k[t];
				s2 += p[2] * k[t];
			}
			out[0] = clip8(s0);
			out[1] = clip8(s1);
			out[2] = clip8(s2);
			out += 3;
		} else if (nc == 1) {
			int32_t s0 = ACC_INIT;
			for (int t = 0; t < n; t++)
				s0 += p[t] * k[t];
			*out++ = clip8(s0);
		} else {
			int32_t s[4] = {ACC_INIT, ACC_INIT, ACC_INIT, ACC_INIT};
			for (int t = 0; t < n; t++, p += nc)
				for (int c = 0; c < nc; c++)
					s[c] += p[c] * k[t];
			for (int c = 0; c < nc; c++)
				*out++ = clip8(s[c]);
		}
	}
}

/* One output row, vertical taps: out[x] = sum_t rows[t][x] * k[t] for x from
 * x to nbytes (channels need no special care: every byte is its own sample). */
static void resample_row_v(const uint8_t *const *rows, const int32_t *k, int n, uint8_t *out, size_t x,
				   size_t nbytes)
{
	enum { CHUNK = 32 };
	for (; x + CHUNK <= nbytes; x += CHUNK) {
		int32_t acc[CHUNK];
		for (int i = 0; i < CHUNK; i++)
			acc[i] = ACC_INIT;
		for (int t = 0; t < n; t++) {
			const uint8_t *r = rows[t] + x;
			const int32_t kt = k[t];
			for (int i = 0; i < CHUNK; i++)
				acc[i] += r[i] * kt;
		}
		for (int i = 0; i < CHUNK; i++)
			out[x + (size_t)i] = clip8(acc[i]);
	}
	for (; x < nbytes; x++) {
		int32_t acc = ACC_INIT;
		for (int t = 0; t < n; t++)
			acc += rows[t][x] * k[t];
		out[x] = clip8(acc);
	}
}

#ifdef IMG_X86
/* Two rows at once, one per 128-bit lane, for 3 or 4 channels: per group of
 * 4 taps, pshufb spreads the 4 pixels into (tap, tap+1) int16 pairs per
 * channel and pmaddwd multiplies them by the split weights. Reads up to 16
 * bytes past the last tap of a group (IMG_RESAMPLE_PAD). */
__attribute__((target("avx2"))) static void resample_rows_h_avx2(const uint8_t *in0, const uint8_t *in1, int x0,
								 uint8_t *out0, uint8_t *out1,
								 const img_axis_t *a, int nc)
{
	const __m256i sha = nc == 3 ? _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3,
						       -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1)
				    : _mm256_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1, 0, -1, 4,
						       -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
	const __m256i shb = nc == 3 ? _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1, 6, -1,
						       9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1)
				    : _mm256_setr_epi8(8, -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1, 8,
						       -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1);
	const __m256i init = _mm256_set1_epi32(ACC_INIT);
	const size_t step = (size_t)nc * 4;
	for (int i = 0; i < a->out_n; i++) {
		const size_t off = (size_t)(a->xmin[i] - x0) * (size_t)nc;
		const uint8_t *p0 = in0 + off, *p1 = in1 + off;
		const int16_t *w = a->kw + (size_t)i * (size_t)a->kgroups * 32;
		const int groups = (a->count[i] + 3) / 4;
		__m256i hi = _mm256_setzero_si256(), lo = _mm256_setzero_si256();
		for (int g = 0; g < groups; g++, p0 += step, p1 += step, w += 32) {
			__m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)p0)),
							    _mm_loadu_si128((const __m128i *)(const void *)p1), 1);
			__m256i va = _mm256_shuffle_epi8(v, sha), vb = _mm256_shuffle_epi8(v, shb);
			const __m128i *wv = (const __m128i *)(const void *)w;
			hi = _mm256_add_epi32(hi, _mm256_madd_epi16(va, _mm256_broadcastsi128_si256(_mm_loadu_si128(wv))));
			hi = _mm256_add_epi32(hi, _mm256_madd_epi16(vb, _mm256_broadcastsi128_si256(_mm_loadu_si128(wv + 1))));
			lo = _mm256_add_epi32(lo, _mm256_madd_epi16(va, _mm256_broadcastsi128_si256(_mm_loadu_si128(wv + 2))));
			lo = _mm256_add_epi32(lo, _mm256_madd_epi16(vb, _mm256_broadcastsi128_si256(_mm_loadu_si128(wv + 3))));
		}
		__m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(hi, 11), lo), init);
		sum = _mm256_srai_epi32(sum, PRECISION_BITS);
		sum = _mm256_packs_epi32(sum, sum);  /* negative stays negative ... */
		sum = _mm256_packus_epi16(sum, sum); /* ... and becomes 0; over 255 becomes 255 */
		uint32_t v0 = (uint32_t)_mm256_cvtsi256_si32(sum), v1 = (uint32_t)_mm256_extract_epi32(sum, 4);
		if (nc == 3) { /* constant sizes: plain stores, not library calls */
			memcpy(out0 + (size_t)i * 3, &v0, 3);
			memcpy(out1 + (size_t)i * 3, &v1, 3);
		} else {
			memcpy(out0 + (size_t)i * 4, &v0, 4);
			memcpy(out1 + (size_t)i * 4, &v1, 4);
		}
	}
}

/* out[x] = clip(sum_t rows[t][x] * k[t]) for 32 bytes at a time. */
__attribute__((target("avx2"))) static size_t resample_row_v_avx2(const uint8_t *const *rows, const int32_t *k, int n,
								   uint8_t *out, size_t nbytes)
{
	const __m256i init = _mm256_set1_epi32(ACC_INIT);
	size_t x = 0;
	for (; x + 32 <= nbytes; x += 32) {
		__m256i s0 = init, s1 = init, s2 = init, s3 = init;
		for (int t = 0; t < n; t++) {
			const uint8_t *r = rows[t] + x;
			const __m256i kt = _mm256_set1_epi32(k[t]);
			s0 = _mm256_add_epi32(s0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)r)), kt));
			s1 = _mm256_add_epi32(s1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(r + 8))), kt));
			s2 = _mm256_add_epi32(s2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(r + 16))), kt));
			s3 = _mm256_add_epi32(s3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(r + 24))), kt));
		}
		s0 = _mm256_srai_epi32(s0, PRECISION_BITS);
		s1 = _mm256_srai_epi32(s1, PRECISION_BITS);
		s2 = _mm256_srai_epi32(s2, PRECISION_BITS);
		s3 = _mm256_srai_epi32(s3, PRECISION_BITS);
		/* packs/packus saturate exactly like clip8; they interleave 128-bit
		 * lanes, which the permute puts back in order */
		__m256i p = _mm256_packus_epi16(_mm256_packs_epi32(s0, s1), _mm256_packs_epi32(s2, s3));
		p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
		_mm256_storeu_si256((__m256i *)(void *)(out + x), p);
	}
	return x;
}

/* The same with four rows, one per 128-bit lane of a 512-bit register: the
 * weight loads and the per-pixel bookkeeping serve twice as many rows. */
__attribute__((target("avx512f,avx512bw"))) static void resample_rows_h_avx512(const uint8_t *const in[4], int x0,
									      uint8_t *const out[4],
									      const img_axis_t *a, int nc)
{
	const __m512i sha = _mm512_broadcast_i32x4(
		nc == 3 ? _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1)
			: _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1));
	const __m512i shb = _mm512_broadcast_i32x4(
		nc == 3 ? _mm_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1)
			: _mm_setr_epi8(8, -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1));
	const __m512i init = _mm512_set1_epi32(ACC_INIT);
	const size_t step = (size_t)nc * 4;
	for (int i = 0; i < a->out_n; i++) {
		const size_t off = (size_t)(a->xmin[i] - x0) * (size_t)nc;
		const uint8_t *p0 = in[0] + off, *p1 = in[1] + off, *p2 = in[2] + off, *p3 = in[3] + off;
		const int16_t *w = a->kw + (size_t)i * (size_t)a->kgroups * 32;
		const int groups = (a->count[i] + 3) / 4;
		__m512i hi = _mm512_setzero_si512(), lo = _mm512_setzero_si512();
		for (int g = 0; g < groups; g++, p0 += step, p1 += step, p2 += step, p3 += step, w += 32) {
			__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)p0));
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)p1), 1);
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)p2), 2);
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)p3), 3);
			__m512i va = _mm512_shuffle_epi8(v, sha), vb = _mm512_shuffle_epi8(v, shb);
			const __m128i *wv = (const __m128i *)(const void *)w;
			hi = _mm512_add_epi32(hi, _mm512_madd_epi16(va, _mm512_broadcast_i32x4(_mm_loadu_si128(wv))));
			hi = _mm512_add_epi32(hi, _mm512_madd_epi16(vb, _mm512_broadcast_i32x4(_mm_loadu_si128(wv + 1))));
			lo = _mm512_add_epi32(lo, _mm512_madd_epi16(va, _mm512_broadcast_i32x4(_mm_loadu_si128(wv + 2))));
			lo = _mm512_add_epi32(lo, _mm512_madd_epi16(vb, _mm512_broadcast_i32x4(_mm_loadu_si128(wv + 3))));
		}
		__m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32(hi, 11), lo), init);
		sum = _mm512_srai_epi32(sum, PRECISION_BITS);
		sum = _mm512_packus_epi16(_mm512_packs_epi32(sum, sum), sum); /* lane r: bytes 0..3 = row r's pixel */
		/* from registers: a 512-bit store read back in pieces stalls store forwarding */
		uint32_t v[4] = {(uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(sum)),
				 (uint32_t)_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(sum, 1)),
				 (uint32_t)_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(sum, 2)),
				 (uint32_t)_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(sum, 3))};
		for (int r = 0; r < 4; r++) {
			if (nc == 3)
				memcpy(out[r] + (size_t)i * 3, &v[r], 3);
			else
				memcpy(out[r] + (size_t)i * 4, &v[r], 4);
		}
	}
}

/* __builtin_cpu_supports reads what libgcc found at startup: cheap, thread-safe. */
static int have_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}

static int have_avx512bw(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#endif

static const uint8_t *view_px(const img_view_t *v, int x, int y)
{
	return v->data + (size_t)(y - v->y0) * v->stride + (size_t)(x - v->x0) * (size_t)v->nc;
}

const char *img_order_name(img_order_t o)
{
	return o == IMG_ORDER_PIL13 ? "pil13" : o == IMG_ORDER_PIL12_2 ? "pil12.2" : "pil9";
}

int img_order_parse(const char *s, img_order_t *out)
{
	for (int o = IMG_ORDER_PIL9; o <= IMG_ORDER_PIL13; o++)
		if (strcmp(s, img_order_name((img_order_t)o)) == 0) {
			*out = (img_order_t)o;
			return 0;
		}
	return -1;
}

int img_vertical_first(img_order_t o, int in_w, int in_h, int out_w, int out_h)
{
	long long dw = (long long)in_w - out_w, dh = (long long)in_h - out_h;
	switch (o) {
	case IMG_ORDER_PIL12_2: /* Image.resize: two core resizes, the vertical one first */
		return (long long)in_h > (long long)in_w * 100 && out_h < in_h;
	case IMG_ORDER_PIL13: /* ImagingResampleInner's horizontal_first, negated */
		return dh > 0 && dh > dw * 2;
	default:
		return 0;
	}
}

/* Horizontal pass: out row y - r0 (out_stride apart, ax->out_n pixels from
 * x = ax->out_start) from src row y, for r0 <= y < r1. src must be followed
 * by IMG_RESAMPLE_PAD readable bytes. */
static void pass_h(const img_view_t *src, const img_axis_t *ax, int r0, int r1, uint8_t *out, size_t out_stride)
{
	const int nc = src->nc;
	int y = r0;
#ifdef IMG_X86
	if ((nc == 3 || nc == 4) && have_avx512bw())
		for (; y + 4 <= r1; y += 4) {
			const uint8_t *in[4];
			uint8_t *o[4];
			for (int r = 0; r < 4; r++) {
				in[r] = view_px(src, src->x0, y + r);
				o[r] = out + (size_t)(y + r - r0) * out_stride;
			}
			resample_rows_h_avx512(in, src->x0, o, ax, nc);
		}
	if ((nc == 3 || nc == 4) && have_avx2())
		for (; y < r1; y += 2) {
			int y2 = y + 1 < r1 ? y + 1 : y; /* an odd last row pairs with itself */
			resample_rows_h_avx2(view_px(src, src->x0, y), view_px(src, src->x0, y2), src->x0,
					     out + (size_t)(y - r0) * out_stride, out + (size_t)(y2 - r0) * out_stride, ax, nc);
		}
#endif
	for (; y < r1; y++)
		resample_row_h(view_px(src, src->x0, y), src->x0, out + (size_t)(y - r0) * out_stride, ax, nc);
}

/* Vertical pass: out row j (out_stride apart) from the nbytes of src's rows
 * that start at column x, for the ay->out_n output rows. */
static int pass_v(const img_view_t *src, const img_axis_t *ay, int x, size_t nbytes, uint8_t *out, size_t out_stride)
{
	for (int j = 0; j < ay->out_n; j++) {
		uint8_t *o = out + (size_t)j * out_stride;
		const uint8_t *rows[64];
		const uint8_t *const *rp = rows;
		const uint8_t **heap = NULL;
		int n = ay->count[j];
		if (n > 64) {
			heap = malloc((size_t)n * sizeof *heap);
			if (!heap)
				return -1;
			rp = heap;
		}
		const uint8_t **wr = heap ? heap : rows;
		for (int t = 0; t < n; t++)
			wr[t] = view_px(src, x, ay->xmin[j] + t);
		const int32_t *k = ay->k + (size_t)j * (size_t)ay->ksize;
		size_t done = 0;
#ifdef IMG_X86
		if (have_avx2())
			done = resample_row_v_avx2(rp, k, n, o, nbytes);
#endif
		resample_row_v(rp, k, n, o, done, nbytes);
		free(heap);
	}
	return 0;
}

int img_resample(const img_view_t *src, const img_axis_t *ax, const img_axis_t *ay, int vertical_first,
		 img_view_t *dst, uint8_t **tmp, size_t *tmp_cap)
{
	const int nc = src->nc;
	const size_t row_bytes = (size_t)ax->out_n * (size_t)nc;
	dst->x0 = ax->out_start;
	dst->y0 = ay->out_start;
	dst->w = ax->out_n;
	dst->h = ay->out_n;
	dst->nc = nc;
	if (vertical_first && !ax->identity && !ay->identity) {
		/* Vertical pass over the source columns the horizontal pass reads,
		 * into an 8-bit intermediate, then horizontal. */
		const size_t mid_bytes = (size_t)(ax->src_hi - ax->src_lo) * (size_t)nc;
		if (img_buf_reserve(tmp, tmp_cap, img_resample_scratch(ax, ay, (size_t)nc, 1)) != 0)
			return -1;
		if (pass_v(src, ay, ax->src_lo, mid_bytes, *tmp, mid_bytes) != 0)
			return -1;
		img_view_t mid = {*tmp, ax->src_lo, ay->out_start, ax->src_hi - ax->src_lo, ay->out_n, nc, mid_bytes};
		pass_h(&mid, ax, ay->out_start, ay->out_start + ay->out_n, dst->data, dst->stride);
		return 0;
	}
	img_view_t mid = *src; /* source of the vertical pass */
	if (!ax->identity) {
		/* Horizontal pass over the source rows the vertical pass reads. */
		int r0 = ay->src_lo, r1 = ay->src_hi;
		if (img_buf_reserve(tmp, tmp_cap, img_resample_scratch(ax, ay, (size_t)nc, 0)) != 0)
			return -1;
		pass_h(src, ax, r0, r1, *tmp, row_bytes);
		mid.data = *tmp;
		mid.x0 = ax->out_start;
		mid.y0 = r0;
		mid.w = ax->out_n;
		mid.h = r1 - r0;
		mid.stride = row_bytes;
	}
	if (ay->identity) {
		for (int j = 0; j < ay->out_n; j++)
			memcpy(dst->data + (size_t)j * dst->stride, view_px(&mid, ax->out_start, ay->out_start + j), row_bytes);
		return 0;
	}
	return pass_v(&mid, ay, ax->out_start, row_bytes, dst->data, dst->stride);
}

/* Pillow's ROUND_UP: half away from zero, with a float 0.5. */
static int32_t round_up(double v)
{
	return (int32_t)(v >= 0.0 ? v + 0.5F : v - 0.5F);
}

/* One output sample of Pillow's 32-bit pass: n taps of k over p, step apart. */
static int32_t taps_i32(const int32_t *p, size_t step, const double *k, int n)
{
	double ss = 0.0;
	for (int t = 0; t < n; t++)
		ss += p[(size_t)t * step] * k[t];
	return round_up(ss);
}

int img_resample_i32(const int32_t *src, int w, int h, const img_axis_t *ax, const img_axis_t *ay, int vertical_first,
		     int32_t *dst, uint8_t **tmp, size_t *tmp_cap)
{
	(void)h;
	const size_t on = (size_t)ax->out_n;
	if (vertical_first && !ax->identity && !ay->identity) {
		const int c0 = ax->src_lo, nc = ax->src_hi - ax->src_lo;
		if (img_buf_reserve(tmp, tmp_cap, img_resample_scratch(ax, ay, sizeof(int32_t), 1)) != 0)
			return -1;
		int32_t *t = (int32_t *)(void *)*tmp;
		for (int j = 0; j < ay->out_n; j++)
			for (int x = 0; x < nc; x++)
				t[(size_t)j * (size_t)nc + (size_t)x] =
					taps_i32(src + (size_t)ay->xmin[j] * (size_t)w + (size_t)(c0 + x), (size_t)w,
						 ay->kd + (size_t)j * (size_t)ay->ksize, ay->count[j]);
		for (int j = 0; j < ay->out_n; j++)
			for (size_t i = 0; i < on; i++)
				dst[(size_t)j * on + i] = taps_i32(t + (size_t)j * (size_t)nc + (size_t)(ax->xmin[i] - c0), 1,
								 ax->kd + i * (size_t)ax->ksize, ax->count[i]);
		return 0;
	}
	const int32_t *mid = src;
	size_t mid_stride = (size_t)w;
	int mid_x0 = 0, mid_y0 = 0;
	if (!ax->identity) {
		int r0 = ay->src_lo, r1 = ay->src_hi;
		if (img_buf_reserve(tmp, tmp_cap, img_resample_scratch(ax, ay, sizeof(int32_t), 0)) != 0)
			return -1;
		int32_t *t = (int32_t *)(void *)*tmp;
		for (int y = r0; y < r1; y++)
			for (size_t i = 0; i < on; i++)
				t[(size_t)(y - r0) * on + i] = taps_i32(src + (size_t)y * (size_t)w + ax->xmin[i], 1,
									 ax->kd + i * (size_t)ax->ksize, ax->count[i]);
		mid = t;
		mid_stride = on;
		mid_x0 = ax->out_start;
		mid_y0 = r0;
	}
	for (int j = 0; j < ay->out_n; j++)
		for (size_t i = 0; i < on; i++) {
			size_t x = (size_t)(ax->out_start - mid_x0) + i;
			dst[(size_t)j * on + i] =
				ay->identity ? mid[(size_t)(ay->out_start + j - mid_y0) * mid_stride + x]
					     : taps_i32(mid + (size_t)(ay->xmin[j] - mid_y0) * mid_stride + x, mid_stride,
							ay->kd + (size_t)j * (size_t)ay->ksize, ay->count[j]);
		}
	return 0;
}

void img_nearest_index(int in_size, float in_extent, int out_size, int out_start, int out_n, int *idx)
{
	/* ImagingScaleAffine steps xo by a[0] from a[2] + a[0] * 0.5, in double. */
	double a0 = (double)(in_extent - 0.0f) / out_size;
	double xo = 0.0f + a0 * 0.5;
	for (int x = 0; x < out_start + out_n; x++) {
		int xin = xo < 0.0 ? -1 : (int)xo;
		if (x >= out_start)
			idx[x - out_start] = xin < in_size ? xin : -1;
		xo += a0;
	}
}
