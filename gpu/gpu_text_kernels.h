/* gpu_text_kernels.h - txtencode's own CUDA kernels (everything cuBLAS does
 * not do in CLIP's text tower), as host launchers on a stream; gpu_text.cu
 * runs them in gpu_text_ops.h's op order. Each launch is checked
 * (CK_LAUNCH) and throws gpu::Error on failure.
 *
 * Rows are prefix-tree rows (one per distinct token prefix, model/
 * text_encoder.h); W is the width (512 for RN50's tower), a multiple of 64.
 * The residual stream and the projections' outputs are float32; the GEMM
 * inputs (LayerNorm and attention outputs, the MLP's activation) are Dt: float32,
 * or float16 / bfloat16 computed in float32 and rounded once on store.
 */
#ifndef GPU_TEXT_KERNELS_H
#define GPU_TEXT_KERNELS_H

#include <cuda_runtime.h>

#include "gpu_kernels.h" /* Dt */

namespace gpu {

/* x [rows][W] float32 = tok[token[r]] + pos[depth[r]]; tok [vocab][W], pos [context][W]. */
void launch_text_embed(const float *tok, const float *pos, const int *token, const int *depth, int W, long rows,
		       float *x, cudaStream_t s);
/* out [n][W] (Dt) = LayerNorm(in row gather[i], or row i without gather) with w, b [W];
 * in float32 [..][W]. One warp per row. */
void launch_text_layernorm(const float *in, const int *gather, const float *w, const float *b, int W, long n,
			   void *out, Dt dt, cudaStream_t s);
/* out [rows][W] (Dt): each row's causal attention over its root path (row,
 * parent[row], ..., -1 ends), W/64 heads; qkv [rows][3W] float32 holds
 * q | k | v without their bias, bias [3W]. One warp per (row, head). */
void launch_text_attention(const float *qkv, const float *bias, const int *parent, int W, long rows, void *out,
			   Dt dt, cudaStream_t s);
/* x [total] float32 += b[e % cols], in place. */
void launch_text_bias(float *x, const float *b, int cols, long total, cudaStream_t s);
/* out [total] (Dt) = act(in[e] + b[e % cols]), act QuickGELU or (gelu) GELU;
 * in float32. */
void launch_text_bias_gelu(const float *in, const float *b, int cols, long total, bool gelu, void *out, Dt dt,
			   cudaStream_t s);
/* Whether this build's text kernels can run on the current device. */
bool text_kernels_loadable(std::string &why);

} // namespace gpu

#endif
