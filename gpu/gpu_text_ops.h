/* gpu_text_ops.h - CLIP's text tower as the CUDA backend runs it: the op
 * sequence and the per-element arithmetic, shared with the host simulator.
 *
 * text_forward() is the whole tower on one prefix-tree batch (text_trie_t of
 * model/text_encoder.h) as a sequence of six kinds of op, written once and
 * run by two executors: gpu_text.cu (kernels and cuBLAS) and the tests'
 * tests/gpu/text_sim.cc (plain loops, and a GEMM that follows cuBLAS's
 * column-major definition to the letter). The simulator runs on any machine
 * against the CPU backend, so the op order, every GEMM's transposes, sizes
 * and leading dimensions, the bias placement and the FP16/BF16 rounding
 * points are checked where there is no GPU; only the kernels' thread mapping
 * is not.
 *
 * Buffers (row-major, one row per trie row; W width, E embedding):
 *   X   float32 [rows, W]    residual stream
 *   A   Dt      [rows, W]    LayerNorm output / attention output (GEMM input)
 *   QKV float32 [rows, 3W]   q | k | v without their bias
 *   F   float32 [rows, 4W]   c_fc output without its bias
 *   G   Dt      [rows, 4W]   act(F + bias) (GEMM input), QuickGELU or GELU
 *   OUT float32 [nseq, E]    the projected eot vectors
 * Dt is float16 in FP16 mode, bfloat16 in BF16 mode, float32 otherwise;
 * weights of the GEMMs are Dt, every GEMM accumulates in FP32 and writes
 * FP32; LayerNorm, softmax and the biases are FP32. PyTorch Linear weights [out, in] row-major are, read
 * column-major, their own transpose: Y = X W^T is the column-major
 * Y^T = op_T(W) X^T with lda = in, ldb = in, ldc = out.
 */
#ifndef GPU_GPU_TEXT_OPS_H
#define GPU_GPU_TEXT_OPS_H

#include <math.h>

#include "gpu_elem.h"

extern "C" {
#include "model/text_encoder.h"
}

namespace gpu {

enum class TBuf { X, A, QKV, F, G, OUT };
const int text_buf_count = 6;
enum class TWgt { IN_PROJ, OUT_PROJ, C_FC, C_PROJ, TEXT_PROJ };
enum class TVec { IN_PROJ_B, OUT_PROJ_B, C_FC_B, C_PROJ_B, LN_1_W, LN_1_B, LN_2_W, LN_2_B, LN_FINAL_W, LN_FINAL_B };
const int text_vec_kinds = 10; /* TVec values: per-layer stride of the uploaded vectors */
static_assert((int)TVec::LN_FINAL_B + 1 == text_vec_kinds, "text_vec_kinds counts TVec");

const int text_head_dim = 64; /* CLIP: heads = width / 64 */

/* Columns of a buffer, and whether it holds Dt (else float32). */
inline long text_buf_cols(TBuf b, int W, int E)
{
	switch (b) {
	case TBuf::X:
	case TBuf::A: return W;
	case TBuf::QKV: return 3L * W;
	case TBuf::F:
	case TBuf::G: return 4L * W;
	case TBuf::OUT: return E;
	}
	return 0;
}
inline bool text_buf_is_dt(TBuf b) { return b == TBuf::A || b == TBuf::G; }

/* The model's FP32 arrays the ops read: layer l, or l = -1 for the final ones.
 * Shapes: IN_PROJ [3W, W], OUT_PROJ [W, W], C_FC [4W, W], C_PROJ [W, 4W]
 * (Linear [out, in]), TEXT_PROJ [W, E] (x @ P); vectors [W], [3W] or [4W]. */
inline const float *text_weight(const text_model_t *m, int l, TWgt w)
{
	switch (w) {
	case TWgt::IN_PROJ: return m->blocks[l].in_proj_w;
	case TWgt::OUT_PROJ: return m->blocks[l].out_proj_w;
	case TWgt::C_FC: return m->blocks[l].c_fc_w;
	case TWgt::C_PROJ: return m->blocks[l].c_proj_w;
	case TWgt::TEXT_PROJ: return m->text_projection;
	}
	return nullptr;
}
inline long text_weight_count(const text_model_t *m, TWgt w)
{
	long W = m->width;
	switch (w) {
	case TWgt::IN_PROJ: return 3 * W * W;
	case TWgt::OUT_PROJ: return W * W;
	case TWgt::C_FC:
	case TWgt::C_PROJ: return 4 * W * W;
	case TWgt::TEXT_PROJ: return W * m->embed;
	}
	return 0;
}
inline const float *text_vec(const text_model_t *m, int l, TVec v)
{
	switch (v) {
	case TVec::IN_PROJ_B: return m->blocks[l].in_proj_b;
	case TVec::OUT_PROJ_B: return m->blocks[l].out_proj_b;
	case TVec::C_FC_B: return m->blocks[l].c_fc_b;
	case TVec::C_PROJ_B: return m->blocks[l].c_proj_b;
	case TVec::LN_1_W: return m->blocks[l].ln_1_w;
	case TVec::LN_1_B: return m->blocks[l].ln_1_b;
	case TVec::LN_2_W: return m->blocks[l].ln_2_w;
	case TVec::LN_2_B: return m->blocks[l].ln_2_b;
	case TVec::LN_FINAL_W: return m->ln_final_w;
	case TVec::LN_FINAL_B: return m->ln_final_b;
	}
	return nullptr;
}
inline long text_vec_count(const text_model_t *m, TVec v)
{
	long W = m->width;
	return v == TVec::IN_PROJ_B ? 3 * W : v == TVec::C_FC_B ? 4 * W : W;
}

/* One cuBLAS GEMM, column-major: C = op(A) B + beta C with A a weight
 * (op = transpose when trans_a), B and C buffers; alpha is 1. */
struct TextGemm {
	int layer;
	TWgt a;
	bool trans_a;
	int m, n, k, lda;
	TBuf b;
	int ldb;
	float beta;
	TBuf c;
	int ldc;
};

/* Where a GEMM's A sits among the uploaded weights: layer l's four in TWgt
 * order, then text_projection (layer -1). Both executors index by it. The
 * device passes B as Dt and C as float32 (text_buf_is_dt(b), not (c)); the
 * simulator checks that every GEMM keeps to it. */
inline size_t text_gemm_weight(const text_model_t *m, const TextGemm &g)
{
	return (size_t)(g.layer < 0 ? 4 * m->layers : g.layer * 4 + (int)g.a);
}

/* The tower on one batch: rows trie rows, nseq sequences. Ops provides
 *   embed(X)                               X[r] = tok[token[r]] + pos[depth[r]]
 *   layernorm(l, w, b, in, out, n, gather) out[i] = LN(in[gather ? seq_leaf[i] : i]) (Dt)
 *   gemm(TextGemm)
 *   attention(l, qkv, out)                 causal attention over each row's root path (Dt)
 *   bias(l, v, x, n, cols)                 x[r] += v (float32, in place)
 *   bias_gelu(l, v, in, out, n, cols)      out = act(in + v) (Dt), m->act's activation */
template <class Ops> void text_forward(Ops &o, const text_model_t *m, int rows, int nseq)
{
	const int W = m->width, E = m->embed;
	o.embed(TBuf::X);
	for (int l = 0; l < m->layers; l++) {
		o.layernorm(l, TVec::LN_1_W, TVec::LN_1_B, TBuf::X, TBuf::A, rows, false);
		/* QKV^T [3W, rows] = in_proj [3W, W] . A^T */
		o.gemm(TextGemm{l, TWgt::IN_PROJ, true, 3 * W, rows, W, W, TBuf::A, W, 0.0f, TBuf::QKV, 3 * W});
		o.attention(l, TBuf::QKV, TBuf::A);
		/* X += A out_proj^T, then its bias */
		o.gemm(TextGemm{l, TWgt::OUT_PROJ, true, W, rows, W, W, TBuf::A, W, 1.0f, TBuf::X, W});
		o.bias(l, TVec::OUT_PROJ_B, TBuf::X, rows, W);
		o.layernorm(l, TVec::LN_2_W, TVec::LN_2_B, TBuf::X, TBuf::A, rows, false);
		o.gemm(TextGemm{l, TWgt::C_FC, true, 4 * W, rows, W, W, TBuf::A, W, 0.0f, TBuf::F, 4 * W});
		o.bias_gelu(l, TVec::C_FC_B, TBuf::F, TBuf::G, rows, 4 * W);
		o.gemm(TextGemm{l, TWgt::C_PROJ, true, W, rows, 4 * W, 4 * W, TBuf::G, 4 * W, 1.0f, TBuf::X, W});
		o.bias(l, TVec::C_PROJ_B, TBuf::X, rows, W);
	}
	o.layernorm(-1, TVec::LN_FINAL_W, TVec::LN_FINAL_B, TBuf::X, TBuf::A, nseq, true);
	/* OUT^T [E, nseq] = P^T . A^T: P [W, E] row-major is P^T column-major (lda E) */
	o.gemm(TextGemm{-1, TWgt::TEXT_PROJ, false, E, nseq, W, E, TBuf::A, W, 0.0f, TBuf::OUT, E});
}

/* ---- element arithmetic ---- */

/* X[r][i] = token_embedding[token[r]][i] + positional_embedding[depth[r]][i] */
GPU_HD float elem_text_embed(const float *tok, const float *pos, const int *token, const int *depth, int W, long r,
			     int i)
{
	return tok[(long)token[r] * W + i] + pos[(long)depth[r] * W + i];
}

/* LayerNorm of one value given its row's mean and 1/sqrt(var + eps). */
GPU_HD float elem_layernorm(float v, float mean, float inv, float w, float b) { return (v - mean) * inv * w + b; }

/* QuickGELU(z) = z * sigmoid(1.702 z), GELU(z) = z Phi(z) in its erf form
 * (nn.GELU()), written as the CPU backend writes them. */
GPU_HD float elem_quick_gelu(float z) { return z / (1.0f + expf(-1.702f * z)); }
GPU_HD float elem_gelu(float z) { return 0.5f * z * (1.0f + erff(z * 0.70710678f)); }
GPU_HD float elem_text_act(bool gelu, float z) { return gelu ? elem_gelu(z) : elem_quick_gelu(z); }

/* Attention operands of trie row r, head hd, dimension i < 64, bias added:
 * qkv [rows][3W] holds q | k | v, head hd at columns 64 hd.. of each third;
 * bias [3W] is in_proj_b. q is scaled by 1/sqrt(64) = 0.125 (exact). */
GPU_HD float text_attn_q(const float *qkv, const float *bias, int W, long r, int hd, int i)
{
	int c = hd * text_head_dim + i;
	return (qkv[r * 3L * W + c] + bias[c]) * 0.125f;
}
GPU_HD float text_attn_k(const float *qkv, const float *bias, int W, long j, int hd, int i)
{
	int c = W + hd * text_head_dim + i;
	return qkv[j * 3L * W + c] + bias[c];
}
GPU_HD float text_attn_v(const float *qkv, const float *bias, int W, long j, int hd, int i)
{
	int c = 2 * W + hd * text_head_dim + i;
	return qkv[j * 3L * W + c] + bias[c];
}

/* Causal attention of trie row r, head hd, over its root path, for the two
 * dimensions lane and lane + 32 of the head (32 lanes cover it):
 *   o[t] = sum_j softmax_j(score(j)) v_j[lane + 32 t],  j = r, parent[r], ..., the root,
 * score(j) = q_r . k_j (text_attn_q/k) from the caller: the GPU sums it across
 * its warp, the host simulator directly. One pass over the path, leaf to
 * root (running maximum and sum, rescaled as it goes). */
template <class Score>
GPU_HD void text_attn_lane(const float *qkv, const float *bias, const int *parent, int W, long r, int hd, int lane,
			   Score score, float *o)
{
	float mx = -__builtin_huge_valf(), sum = 0.0f, a0 = 0.0f, a1 = 0.0f;
	for (long j = r; j >= 0; j = parent[j]) {
		float s = score(j);
		float nm = s > mx ? s : mx;
		float c = expf(mx - nm), p = expf(s - nm);
		sum = sum * c + p;
		a0 = a0 * c + p * text_attn_v(qkv, bias, W, j, hd, lane);
		a1 = a1 * c + p * text_attn_v(qkv, bias, W, j, hd, lane + 32);
		mx = nm;
	}
	o[0] = a0 / sum;
	o[1] = a1 / sum;
}

} // namespace gpu

#endif
