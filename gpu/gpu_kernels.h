/* gpu_kernels.h - the CUDA backend's own kernels (everything cuDNN and cuBLAS
 * do not do), as host launchers on a stream. Each launch is checked
 * (CK_LAUNCH) and throws gpu::Error on failure.
 *
 * Dt is the activation storage type: FP32, or FP16 or BF16 with every value
 * computed in FP32 and rounded once on store (to nearest even). Layouts are NHWC (C fastest); n is the
 * number of images in the batch; "hw" is H*W.
 */
#ifndef GPU_KERNELS_H
#define GPU_KERNELS_H

#include <cuda_runtime.h>

#include <string>

namespace gpu {

enum class Dt { F32, F16, BF16 };

inline size_t dt_size(Dt d) { return d == Dt::F32 ? 4 : 2; }
/* Stored input channels: 3 RGB padded to one 16-byte vector per pixel
 * (4 floats, or 8 halves or bfloat16s), the alignment cuDNN's NHWC kernels want. */
inline int dt_input_channels(Dt d) { return (int)(16 / dt_size(d)); }

struct Norm {
	float mean[3], std[3];
};

/* uint8 [n][hw][3] RGB -> normalized [n][hw][cstore] (cstore = dt_input_channels). */
void launch_input_u8(const unsigned char *in, void *out, Dt dt, int n, int hw, const Norm &nm, cudaStream_t s);
/* normalized float32 or float16 [n][3][hw] -> [n][hw][cstore]. */
void launch_input_chw(const void *in, bool in_f16, void *out, Dt dt, int n, int hw, cudaStream_t s);
/* MaxPool 3x3/2 pad 1: [n][H][W][C] -> [n][(H+1)/2][(W+1)/2][C]. */
void launch_maxpool3s2(const void *in, void *out, Dt dt, int n, int H, int W, int C, cudaStream_t s);
/* AvgPool k x k / k: [n][H][W][C] -> [n][H/k][W/k][C]. */
void launch_avgpool(const void *in, void *out, Dt dt, int n, int H, int W, int C, int k, cudaStream_t s);
/* Global average pool: [n][hw][C] -> out [n][C] (Dt); out_f32, if not null,
 * gets the same values as float32 [n][C] (the --features output). */
void launch_gap(const void *in, void *out, float *out_f32, Dt dt, int n, int hw, int C, cudaStream_t s);
/* CLIP attention pool, tokens: x [n][hw][C], pos [hw+1][C] ->
 * tokens [n][hw+1][C] = [mean_p x[p]; x] + pos. */
void launch_attn_tokens(const void *x, const void *pos, void *tokens, Dt dt, int n, int hw, int C, cudaStream_t s);
/* CLIP attention pool, one query per image and head:
 *   q [n][dim] and kv [n][tokens][2*dim] are the projections WITHOUT bias
 *   (K in kv columns 0..dim-1, V in dim..2dim-1); bq [dim], bkv [2*dim].
 *   o[n][h*64 + d] = sum_j softmax_j(((q + bq)_h / 8) . (K_j + bk)_h) (V_j + bv)_h[d]
 * head_dim must be 64 (every CLIP ResNet's: width*32 channels in width/2 heads);
 * tokens 1 to 8192 (RN50: 50, RN50x64: 197). */
void launch_attn(const void *q, const void *bq, const void *kv, const void *bkv, void *o, Dt dt, int n, int tokens,
		 int dim, int heads, int head_dim, cudaStream_t s);
/* Convolution epilogue where cuDNN cannot fuse it: y [count] (C fastest,
 * Dt) = relu(y + b[c] + z) with z [count] optional (null: no residual). */
void launch_bias_relu(void *y, const void *b, const void *z, Dt dt, long count, int C, cudaStream_t s);
/* out [n][d] float32 += b [d] (Dt); with FP16 or BF16 the sum is rounded to
 * the storage type, as PyTorch's half/bfloat16 linear rounds its output once
 * after the bias. */
void launch_bias_out(float *out, const void *b, Dt dt, int n, int d, cudaStream_t s);

/* 1 if this build's kernels can run on the current device, else 0 with why
 * (no kernel image for the GPU's architecture). */
bool kernels_loadable(std::string &why);

} // namespace gpu

#endif
