/* gpu_elem.h - per-element arithmetic of the CUDA backend's own kernels.
 *
 * Each function computes ONE output element of an elementwise or pooling
 * step and is compiled twice: into the CUDA kernels (gpu_kernels.cu, one
 * thread per element) and into the host plan checker of the tests
 * (tests/gpu/plan_sim.cc), which runs the whole execution plan on the CPU to
 * check the plan's shapes, layouts and indexing against PyTorch without a
 * GPU. So the index arithmetic the GPU runs is the arithmetic the tests ran.
 *
 * Layout everywhere: NHWC, C fastest; `n` indexes the image in the batch.
 * Values are loaded through ldf() (float, or __half or __nv_bfloat16 on the
 * device) and returned as float; the caller rounds to the storage type once.
 */
#ifndef GPU_ELEM_H
#define GPU_ELEM_H

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define GPU_HD __host__ __device__ __forceinline__
#else
#define GPU_HD inline
#endif

namespace gpu {

GPU_HD float ldf(const float *p) { return *p; }
#if defined(__CUDACC__) || defined(CUDA_EMU) /* CUDA_EMU: tests/gpu/cuda_emu.h */
__device__ __forceinline__ float ldf(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ float ldf(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
#endif

/* torchvision's ToTensor + Normalize for one uint8 value, in float32 with
 * true divisions (doc/presets.md; nvcc keeps IEEE division by default). */
GPU_HD float elem_normalize(unsigned v, float mean, float std)
{
	return ((float)v / 255.0f - mean) / std;
}

/* Input image n, pixel p (= y*W + x), stored channel c of cstore (>= 3):
 * uint8 [n][H*W][3] RGB -> normalized; channels 3..cstore-1 are zero padding
 * (the stem's weights are zero there too, so the padding adds exact zeros). */
GPU_HD float elem_input_u8(const unsigned char *in, long hw, long n, long p, int c, const float *mean,
			   const float *std)
{
	if (c >= 3)
		return 0.0f;
	return elem_normalize(in[(n * hw + p) * 3 + c], mean[c], std[c]);
}

/* Same for already-normalized planar input [n][3][H*W] (float or half). */
template <class S> GPU_HD float elem_input_chw(const S *in, long hw, long n, long p, int c)
{
	if (c >= 3)
		return 0.0f;
	return ldf(in + (n * 3 + c) * hw + p);
}

/* MaxPool 3x3, stride 2, padding 1 (padded cells are -inf, i.e. skipped):
 * in [n][H][W][C] -> output element (n, ho, wo, c). */
template <class T> GPU_HD float elem_maxpool3s2(const T *in, int H, int W, int C, long n, int ho, int wo, int c)
{
	float m = -__builtin_huge_valf();
	for (int dy = 0; dy < 3; dy++) {
		int y = ho * 2 - 1 + dy;
		if (y < 0 || y >= H)
			continue;
		for (int dx = 0; dx < 3; dx++) {
			int x = wo * 2 - 1 + dx;
			if (x < 0 || x >= W)
				continue;
			float v = ldf(in + ((n * H + y) * W + x) * C + c);
			m = v > m ? v : m;
		}
	}
	return m;
}

/* AvgPool k x k, stride k, no padding: in [n][H][W][C] -> (n, ho, wo, c).
 * Row-major summation in float, then one division, as PyTorch's kernel. */
template <class T> GPU_HD float elem_avgpool(const T *in, int H, int W, int C, int k, long n, int ho, int wo, int c)
{
	float s = 0.0f;
	for (int dy = 0; dy < k; dy++)
		for (int dx = 0; dx < k; dx++)
			s += ldf(in + ((n * H + ho * k + dy) * W + wo * k + dx) * C + c);
	return s / (float)(k * k);
}

/* Mean over the hw positions of channel c: in [n][hw][C] -> (n, c). */
template <class T> GPU_HD float elem_mean_hw(const T *in, int hw, int C, long n, int c)
{
	float s = 0.0f;
	for (int p = 0; p < hw; p++)
		s += ldf(in + (n * hw + p) * C + c);
	return s / (float)hw;
}

} // namespace gpu

#endif
