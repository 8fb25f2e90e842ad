/* gpu_launch.h - what the CUDA backends' own kernels share to launch and to
 * store: 256-thread blocks, grid-stride loops over a total, the one
 * rounding of a float result to the storage type (float, or half or
 * bfloat16 to nearest even), and the dispatch of a launcher on Dt. Included by gpu_kernels.cu and gpu_text_kernels.cu only (device
 * code, or the tests' host emulation of it). */
#ifndef GPU_GPU_LAUNCH_H
#define GPU_GPU_LAUNCH_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gpu_kernels.h" /* Dt */

namespace gpu {

template <class T> __device__ __forceinline__ T cvt(float v);
template <> __device__ __forceinline__ float cvt<float>(float v) { return v; }
template <> __device__ __forceinline__ __half cvt<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 cvt<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* f(T()) with T the storage type of dt: a launcher's body written once,
 *   with_dt(dt, [&](auto t) { using T = decltype(t); k<T><<<...>>>(...); }); */
template <class F> void with_dt(Dt dt, F &&f)
{
	switch (dt) {
	case Dt::F32: f(float()); break;
	case Dt::F16: f(__half()); break;
	case Dt::BF16: f(__nv_bfloat16()); break;
	}
}

const int threads = 256;

/* Blocks for a grid-stride loop over total items (capped: the loop covers the rest). */
inline unsigned blocks_for(long total)
{
	long b = (total + threads - 1) / threads;
	return (unsigned)(b < 1 ? 1 : b > 65535L * 16 ? 65535L * 16 : b);
}

/* The block's dynamic shared memory as an array of T (the host emulator of
 * the tests, tests/gpu/cuda_emu.h, has its own definition). */
#ifndef GPU_DYNAMIC_SHARED
#define GPU_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

#define GRID_STRIDE(i, total)                                                                      \
	for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (long)gridDim.x * blockDim.x)

} // namespace gpu

#endif
