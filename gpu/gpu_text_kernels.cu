/* gpu_text_kernels.cu - txtencode's own CUDA kernels: embedding, LayerNorm,
 * attention over each row's root path, bias, bias + QuickGELU or GELU; see
 * gpu_text_kernels.h. The element arithmetic is gpu_text_ops.h's, shared
 * with the host simulator of the tests (tests/gpu/text_sim.cc); the kernels
 * themselves also run on the host in tests/gpu/test_gpu_kernels.sh. */
#include "gpu_text_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gpu_check.h"
#include "gpu_launch.h"
#include "gpu_text_ops.h"

namespace gpu {

namespace {

__global__ void k_embed(const float *tok, const float *pos, const int *token, const int *depth, int W, long rows,
			float *x)
{
	GRID_STRIDE(e, rows * W)
	{
		x[e] = elem_text_embed(tok, pos, token, depth, W, e / W, (int)(e % W));
	}
}

/* One warp per row: mean, then the variance of the centred values (two
 * passes over the row, in FP32), then the normalized row. */
template <class T>
__global__ void k_layernorm(const float *in, const int *gather, const float *w, const float *b, int W, long rows,
			    T *out)
{
	long row = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
	int lane = threadIdx.x % 32;
	if (row >= rows)
		return;
	const float *x = in + (gather ? (long)gather[row] : row) * W;
	float s = 0.0f;
	for (int i = lane; i < W; i += 32)
		s += x[i];
	for (int d = 16; d > 0; d >>= 1)
		s += __shfl_xor_sync(0xffffffffu, s, d);
	float mean = s / (float)W, ss = 0.0f;
	for (int i = lane; i < W; i += 32)
		ss += (x[i] - mean) * (x[i] - mean);
	for (int d = 16; d > 0; d >>= 1)
		ss += __shfl_xor_sync(0xffffffffu, ss, d);
	float inv = 1.0f / sqrtf(ss / (float)W + 1e-5f);
	for (int i = lane; i < W; i += 32)
		out[row * W + i] = cvt<T>(elem_layernorm(x[i], mean, inv, w[i], b[i]));
}

/* One warp per (row, head): lane l owns dimensions l and l + 32, so each
 * path step reads k and v of the head as two coalesced 128-byte rows; the
 * score is summed across the warp (xor butterfly: every lane gets the same
 * bits, so all lanes walk the same softmax). */
template <class T>
__global__ void k_attention(const float *qkv, const float *bias, const int *parent, int W, int heads, long rows,
			    T *out)
{
	long w = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
	int lane = threadIdx.x % 32;
	if (w >= rows * heads)
		return; /* the whole warp */
	long r = w / heads;
	int hd = (int)(w % heads);
	float q0 = text_attn_q(qkv, bias, W, r, hd, lane), q1 = text_attn_q(qkv, bias, W, r, hd, lane + 32);
	auto score = [&](long j) {
		float s = q0 * text_attn_k(qkv, bias, W, j, hd, lane) + q1 * text_attn_k(qkv, bias, W, j, hd, lane + 32);
		for (int d = 16; d > 0; d >>= 1)
			s += __shfl_xor_sync(0xffffffffu, s, d);
		return s;
	};
	float o[2];
	text_attn_lane(qkv, bias, parent, W, r, hd, lane, score, o);
	T *dst = out + r * W + (long)hd * text_head_dim;
	dst[lane] = cvt<T>(o[0]);
	dst[lane + 32] = cvt<T>(o[1]);
}

__global__ void k_bias(float *x, const float *b, int cols, long total)
{
	GRID_STRIDE(e, total)
	{
		x[e] += b[e % cols];
	}
}

template <class T>
__global__ void k_bias_gelu(const float *in, const float *b, int cols, long total, bool gelu, T *out)
{
	GRID_STRIDE(e, total)
	{
		out[e] = cvt<T>(elem_text_act(gelu, in[e] + b[e % cols]));
	}
}

} // namespace

void launch_text_embed(const float *tok, const float *pos, const int *token, const int *depth, int W, long rows,
		       float *x, cudaStream_t s)
{
	k_embed<<<blocks_for(rows * W), threads, 0, s>>>(tok, pos, token, depth, W, rows, x);
	CK_LAUNCH("k_embed");
}

void launch_text_layernorm(const float *in, const int *gather, const float *w, const float *b, int W, long n,
			   void *out, Dt dt, cudaStream_t s)
{
	unsigned blocks = (unsigned)((n * 32 + threads - 1) / threads); /* a warp per row */
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_layernorm<T><<<blocks, threads, 0, s>>>(in, gather, w, b, W, n, (T *)out);
	});
	CK_LAUNCH("k_layernorm");
}

void launch_text_attention(const float *qkv, const float *bias, const int *parent, int W, long rows, void *out,
			   Dt dt, cudaStream_t s)
{
	int heads = W / text_head_dim;
	unsigned blocks = (unsigned)((rows * heads * 32 + threads - 1) / threads); /* a warp per (row, head) */
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_attention<T><<<blocks, threads, 0, s>>>(qkv, bias, parent, W, heads, rows, (T *)out);
	});
	CK_LAUNCH("k_attention");
}

void launch_text_bias(float *x, const float *b, int cols, long total, cudaStream_t s)
{
	k_bias<<<blocks_for(total), threads, 0, s>>>(x, b, cols, total);
	CK_LAUNCH("k_bias");
}

void launch_text_bias_gelu(const float *in, const float *b, int cols, long total, bool gelu, void *out, Dt dt,
			   cudaStream_t s)
{
	with_dt(dt, [&](auto t) {
		using T = decltype(t);
		k_bias_gelu<T><<<blocks_for(total), threads, 0, s>>>(in, b, cols, total, gelu, (T *)out);
	});
	CK_LAUNCH("k_bias_gelu");
}

bool text_kernels_loadable(std::string &why) { return kernel_loadable((const void *)k_attention<__half>, why); }

} // namespace gpu
