/* gpu_kernels.cu - input conversion, pooling, attention pool and output bias
 * kernels of the CUDA backend. The per-element arithmetic is gpu_elem.h's,
 * shared with the host plan checker of the tests. See gpu_kernels.h. */
#include "gpu_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gpu_check.h"
#include "gpu_elem.h"
#include "gpu_launch.h"

namespace gpu {

namespace {

/* One thread per pixel writes its CS stored channels as one 16-byte vector. */
template <class T> struct alignas(16) Pixel {
	T v[16 / sizeof(T)];
};

template <class T> __global__ void k_input_u8(const unsigned char *in, T *out, long npix, long hw, Norm nm)
{
	const int cs = 16 / sizeof(T);
	GRID_STRIDE(i, npix)
	{
		long n = i / hw, p = i % hw;
		Pixel<T> px;
#pragma unroll
		for (int c = 0; c < cs; c++)
			px.v[c] = cvt<T>(elem_input_u8(in, hw, n, p, c, nm.mean, nm.std));
		reinterpret_cast<Pixel<T> *>(out)[i] = px;
	}
}

template <class S, class T> __global__ void k_input_chw(const S *in, T *out, long npix, long hw)
{
	const int cs = 16 / sizeof(T);
	GRID_STRIDE(i, npix)
	{
		long n = i / hw, p = i % hw;
		Pixel<T> px;
#pragma unroll
		for (int c = 0; c < cs; c++)
			px.v[c] = cvt<T>(elem_input_chw(in, hw, n, p, c));
		reinterpret_cast<Pixel<T> *>(out)[i] = px;
	}
}

/* Output element i of an [N,Ho,Wo,C] tensor -> its coordinates. */
__device__ inline void nhwc_index(long i, int Ho, int Wo, int C, long *n, int *ho, int *wo, int *c)
{
	*c = (int)(i % C);
	long r = i / C;
	*wo = (int)(r % Wo);
	r /= Wo;
	*ho = (int)(r % Ho);
	*n = r / Ho;
}

template <class T> __global__ void k_maxpool3s2(const T *in, T *out, long total, int H, int W, int C, int Ho, int Wo)
{
	GRID_STRIDE(i, total)
	{
		long n;
		int ho, wo, c;
		nhwc_index(i, Ho, Wo, C, &n, &ho, &wo, &c);
		out[i] = cvt<T>(elem_maxpool3s2(in, H, W, C, n, ho, wo, c));
	}
}

template <class T>
__global__ void k_avgpool(const T *in, T *out, long total, int H, int W, int C, int k, int Ho, int Wo)
{
	GRID_STRIDE(i, total)
	{
		long n;
		int ho, wo, c;
		nhwc_index(i, Ho, Wo, C, &n, &ho, &wo, &c);
		out[i] = cvt<T>(elem_avgpool(in, H, W, C, k, n, ho, wo, c));
	}
}

template <class T> __global__ void k_gap(const T *in, T *out, float *out_f32, long total, int hw, int C)
{
	GRID_STRIDE(i, total)
	{
		int c = (int)(i % C);
		long n = i / C;
		T v = cvt<T>(elem_mean_hw(in, hw, C, n, c));
		out[i] = v;
		if (out_f32)
			out_f32[i] = ldf(&v);
	}
}

/* tokens[n][0] = mean_p x[n][p] + pos[0]; tokens[n][1+p] = x[n][p] + pos[1+p].
 * The mean is rounded to the storage type before the add, as CLIP computes
 * it in the activations' dtype. */
template <class T> __global__ void k_attn_tokens(const T *x, const T *pos, T *tok, long total, int hw, int C)
{
	GRID_STRIDE(i, total)
	{
		int c = (int)(i % C);
		long n = i / C;
		T m = cvt<T>(elem_mean_hw(x, hw, C, n, c));
		tok[(n * (hw + 1)) * C + c] = cvt<T>(ldf(&m) + ldf(pos + c));
		for (int p = 0; p < hw; p++)
			tok[(n * (hw + 1) + 1 + p) * C + c] = cvt<T>(ldf(x + (n * hw + p) * C + c) + ldf(pos + (long)(1 + p) * C + c));
	}
}

/* One block of 64 threads per (head, image), any number of tokens: thread d
 * scores tokens d, d + 64, ... (the head's 64 K channels read from kv), the
 * block reduces their maximum and sum in shared memory, then thread d sums
 * its output channel over every token. Dynamic shared memory: the
 * probabilities [tokens]. */
template <class T>
__global__ void __launch_bounds__(64) k_attn(const T *q, const T *bq, const T *kv, const T *bkv, T *o, int tokens, int dim)
{
	const int hd = 64;
	GPU_DYNAMIC_SHARED(float, ps);
	__shared__ float qs[hd], bks[hd], red[hd];
	int h = blockIdx.x, d = threadIdx.x;
	long n = blockIdx.y;
	int col = h * hd + d;
	qs[d] = (ldf(q + n * dim + col) + ldf(bq + col)) * 0.125f; /* 1/sqrt(64), exact */
	bks[d] = ldf(bkv + col);
	float bv = ldf(bkv + dim + col);
	__syncthreads();
	float m = -__builtin_huge_valf();
	for (int j = d; j < tokens; j += hd) {
		const T *k = kv + (n * tokens + j) * 2L * dim + h * hd;
		float s = 0.0f;
		for (int e = 0; e < hd; e++)
			s += qs[e] * (ldf(k + e) + bks[e]);
		ps[j] = s;
		m = fmaxf(m, s);
	}
	red[d] = m;
	__syncthreads();
	for (int off = hd / 2; off > 0; off >>= 1) {
		if (d < off)
			red[d] = fmaxf(red[d], red[d + off]);
		__syncthreads();
	}
	m = red[0];
	__syncthreads();
	float sum = 0.0f;
	for (int j = d; j < tokens; j += hd)
		sum += ps[j] = expf(ps[j] - m);
	red[d] = sum;
	__syncthreads();
	for (int off = hd / 2; off > 0; off >>= 1) {
		if (d < off)
			red[d] += red[d + off];
		__syncthreads();
	}
	sum = red[0];
	for (int j = d; j < tokens; j += hd)
		ps[j] /= sum;
	__syncthreads();
	float acc = 0.0f;
	for (int j = 0; j < tokens; j++)
		acc += ps[j] * (ldf(kv + (n * tokens + j) * 2L * dim + dim + col) + bv);
	o[n * dim + col] = cvt<T>(acc);
}

template <class T> __global__ void k_bias_relu(T *y, const T *b, const T *z, long total, int C)
{
	GRID_STRIDE(i, total)
	{
		float v = ldf(y + i) + ldf(b + i % C) + (z ? ldf(z + i) : 0.0f);
		y[i] = cvt<T>(v > 0.0f ? v : 0.0f);
	}
}

template <class T> __global__ void k_bias_out(float *out, const T *b, long total, int d)
{
	GRID_STRIDE(i, total)
	{
		T v = cvt<T>(out[i] + ldf(b + i % d));
		out[i] = ldf(&v);
	}
}

} // namespace

void launch_input_u8(const unsigned char *in, void *out, Dt dt, int n, int hw, const Norm &nm, cudaStream_t s)
{
	long npix = (long)n * hw;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_input_u8<T><<<blocks_for(npix), threads, 0, s>>>(in, (T *)out, npix, hw, nm);
	});
	CK_LAUNCH("k_input_u8");
}

void launch_input_chw(const void *in, bool in_f16, void *out, Dt dt, int n, int hw, cudaStream_t s)
{
	long npix = (long)n * hw;
	unsigned g = blocks_for(npix);
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		if (in_f16)
			k_input_chw<__half, T><<<g, threads, 0, s>>>((const __half *)in, (T *)out, npix, hw);
		else
			k_input_chw<float, T><<<g, threads, 0, s>>>((const float *)in, (T *)out, npix, hw);
	});
	CK_LAUNCH("k_input_chw");
}

void launch_maxpool3s2(const void *in, void *out, Dt dt, int n, int H, int W, int C, cudaStream_t s)
{
	int Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1;
	long total = (long)n * Ho * Wo * C;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_maxpool3s2<T><<<blocks_for(total), threads, 0, s>>>((const T *)in, (T *)out, total, H, W, C, Ho, Wo);
	});
	CK_LAUNCH("k_maxpool3s2");
}

void launch_avgpool(const void *in, void *out, Dt dt, int n, int H, int W, int C, int k, cudaStream_t s)
{
	int Ho = H / k, Wo = W / k;
	long total = (long)n * Ho * Wo * C;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_avgpool<T><<<blocks_for(total), threads, 0, s>>>((const T *)in, (T *)out, total, H, W, C, k, Ho, Wo);
	});
	CK_LAUNCH("k_avgpool");
}

void launch_gap(const void *in, void *out, float *out_f32, Dt dt, int n, int hw, int C, cudaStream_t s)
{
	long total = (long)n * C;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_gap<T><<<blocks_for(total), threads, 0, s>>>((const T *)in, (T *)out, out_f32, total, hw, C);
	});
	CK_LAUNCH("k_gap");
}

void launch_attn_tokens(const void *x, const void *pos, void *tokens, Dt dt, int n, int hw, int C, cudaStream_t s)
{
	long total = (long)n * C;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_attn_tokens<T><<<blocks_for(total), threads, 0, s>>>((const T *)x, (const T *)pos, (T *)tokens, total, hw,
									C);
	});
	CK_LAUNCH("k_attn_tokens");
}

void launch_attn(const void *q, const void *bq, const void *kv, const void *bkv, void *o, Dt dt, int n, int tokens,
		 int dim, int heads, int head_dim, cudaStream_t s)
{
	if (head_dim != 64 || tokens < 1 || tokens > 8192 || heads * head_dim != dim)
		fail("gpu", "launch_attn", "needs 64-wide heads and 1 to 8192 tokens, got " + std::to_string(heads) +
			     " heads of " + std::to_string(head_dim) + " over " + std::to_string(tokens) + " tokens",
		     __FILE__, __LINE__);
	dim3 grid((unsigned)heads, (unsigned)n);
	size_t smem = (size_t)tokens * sizeof(float);
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_attn<T><<<grid, 64, smem, s>>>((const T *)q, (const T *)bq, (const T *)kv, (const T *)bkv, (T *)o, tokens,
						 dim);
	});
	CK_LAUNCH("k_attn");
}

void launch_bias_relu(void *y, const void *b, const void *z, Dt dt, long count, int C, cudaStream_t s)
{
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_bias_relu<T><<<blocks_for(count), threads, 0, s>>>((T *)y, (const T *)b, (const T *)z, count, C);
	});
	CK_LAUNCH("k_bias_relu");
}

void launch_bias_out(float *out, const void *b, Dt dt, int n, int d, cudaStream_t s)
{
	long total = (long)n * d;
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_bias_out<T><<<blocks_for(total), threads, 0, s>>>(out, (const T *)b, total, d);
	});
	CK_LAUNCH("k_bias_out");
}

bool kernels_loadable(std::string &why) { return kernel_loadable((const void *)k_input_u8<__half>, why); }

} // namespace gpu
