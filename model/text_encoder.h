/* text_encoder.h - CLIP's text tower on the CPU (oneDNN sgemm + C).
 *
 * The model (openai/CLIP clip/model.py encode_text, RN50's sizes in brackets):
 *   x = token_embedding[ids] + positional_embedding      [L, W]   (W = 512)
 *   12 pre-LayerNorm residual blocks, each
 *     x += out_proj(MHA(ln_1(x)))   8 heads of 64, causal mask (position i sees 0..i)
 *     x += c_proj(QuickGELU(c_fc(ln_2(x))))   QuickGELU(z) = z * sigmoid(1.702 z), 2048 wide
 *   e = ln_final(x[eot]) @ text_projection                [E]      (E = 1024)
 * where eot is the position of the largest id (the first one if repeated),
 * as CLIP's text.argmax(dim=-1). LayerNorm eps 1e-5.
 *
 * Because of the causal mask, position i depends only on ids 0..i: padding
 * after eot never matters, and prompts sharing a prefix of ids share its
 * hidden states exactly. text_encode() therefore runs each batch of prompts
 * as a prefix tree (trie) of ids: one row per distinct prefix, attention of a
 * row over its own root path. Same arithmetic per position as the padded
 * [N,77] batch PyTorch runs, a fraction of the rows (the 80 ImageNet
 * templates x 1000 classes: 328k rows instead of 6.2M).
 *
 * Weights are read from a checkpoint table (common/ckpt.h) under CLIP's
 * names (token_embedding.weight, transformer.resblocks.N.attn.in_proj_weight,
 * ...), any float dtype, converted to FP32 once.
 */
#ifndef MODEL_TEXT_ENCODER_H
#define MODEL_TEXT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"

typedef struct {
	float *ln_1_w, *ln_1_b;    /* [W] */
	float *in_proj_w;          /* [3W, W]: rows q, then k, then v (PyTorch Linear layout) */
	float *in_proj_b;          /* [3W] */
	float *out_proj_w;         /* [W, W] */
	float *out_proj_b;         /* [W] */
	float *ln_2_w, *ln_2_b;    /* [W] */
	float *c_fc_w, *c_fc_b;    /* [4W, W], [4W] */
	float *c_proj_w, *c_proj_b; /* [W, 4W], [W] */
} text_block_t;

typedef struct {
	int width, layers, heads, context, vocab, embed;
	float *token_embedding;     /* [vocab, W] */
	float *positional_embedding; /* [context, W] */
	text_block_t *blocks;       /* [layers] */
	float *ln_final_w, *ln_final_b; /* [W] */
	float *text_projection;     /* [W, E] (x @ P, not a Linear) */
	double logit_scale;         /* as stored: ln of the softmax temperature's inverse */
	int fp16;                   /* weights rounded through float16 (text_model_load) */
} text_model_t;

/* Bind a checkpoint's text tower: checks every tensor's presence and shape
 * (sizes inferred from the checkpoint: W from ln_final, layers from the
 * resblocks present, heads = W / 64 as CLIP builds it, context and vocab
 * from the embeddings, E from text_projection). With fp16, every weight
 * CLIP's convert_weights() keeps in float16 (linear and attention weights and
 * biases, text_projection) is rounded through float16, the math staying FP32.
 * 0, or -1 with a one-line message naming the tensor in err. */
int text_model_load(text_model_t *m, const ckpt_t *c, int fp16, char *err, size_t errcap);
void text_model_free(text_model_t *m);

typedef struct {
	int threads;      /* CPU threads (GEMM and the rest); <= 0: all cores available */
	int batch_rows;   /* trie rows per batch (memory ~ 20 KiB a row); <= 0: 4096 */
} text_encode_opts_t;

typedef struct {
	double seconds;
	long long positions; /* positions a padded run would compute (n x context) */
	long long rows;      /* trie rows actually computed */
	int threads;         /* threads in effect */
} text_encode_stats_t;

/* Encode n token sequences: ids[i][0..lens[i]) (clip.tokenize rows without
 * the padding; lens[i] <= context) -> out [n, E] row-major, not normalized.
 * 0, or -1 with a message in err. */
int text_encode(const text_model_t *m, const int32_t *const *ids, const int *lens, int n, float *out,
		const text_encode_opts_t *opts, text_encode_stats_t *stats, char *err, size_t errcap);

#endif
