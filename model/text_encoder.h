/* text_encoder.h - CLIP's text tower: the model, the prefix-tree batching,
 * and the backend interface (CPU here, CUDA in gpu/gpu_text.cu).
 *
 * The model (openai/CLIP clip/model.py encode_text, RN50's sizes in brackets):
 *   x = token_embedding[ids] + positional_embedding      [L, W]   (W = 512)
 *   12 pre-LayerNorm residual blocks, each
 *     x += out_proj(MHA(ln_1(x)))   8 heads of 64, causal mask (position i sees 0..i)
 *     x += c_proj(act(c_fc(ln_2(x))))   4W wide (2048)
 *   e = ln_final(x[eot]) @ text_projection                [E]      (E = 1024)
 * where eot is the position of the largest id (the first one if repeated),
 * as CLIP's text.argmax(dim=-1). LayerNorm eps 1e-5. act is QuickGELU,
 * z * sigmoid(1.702 z), in every OpenAI model and open_clip's -quickgelu
 * ones; open_clip's other configs use GELU, z * Phi(z) (nn.GELU, the erf
 * form). The file does not say which: model/clip_keys.h tells it from the
 * model's name or the file's origin.
 * The other sizes come from the checkpoint as CLIP's build_model reads them
 * (text_tower_shape): the OpenAI ResNets have W 512 (RN50, RN101), 640
 * (RN50x4), 768 (RN50x16), 1024 (RN50x64), 12 layers, context 77, vocabulary
 * 49408, E 1024, 512, 640, 768, 1024.
 *
 * Because of the causal mask, position i depends only on ids 0..i: padding
 * after eot never matters, and prompts sharing a prefix of ids share its
 * hidden states exactly. text_encode() therefore runs each batch of prompts
 * as a prefix tree (trie) of ids: one row per distinct prefix, attention of a
 * row over its own root path. Same arithmetic per position as the padded
 * [N,77] batch PyTorch runs, a fraction of the rows (the 80 ImageNet
 * templates x 1000 classes: 328k rows instead of 6.2M).
 *
 * Weights are read from a checkpoint table (common/ckpt/ckpt.h) under CLIP's
 * names (token_embedding.weight, transformer.resblocks.N.attn.in_proj_weight,
 * ...), any float dtype, converted to FP32 once.
 */
#ifndef MODEL_TEXT_ENCODER_H
#define MODEL_TEXT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"

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

typedef enum {
	TEXT_ACT_QUICK_GELU, /* OpenAI's CLIP, open_clip's -quickgelu models */
	TEXT_ACT_GELU        /* open_clip's other models: nn.GELU() */
} text_act_t;

/* The tower's sizes, as CLIP's build_model infers them from a state dict:
 * width from ln_final.weight, heads = width / 64, layers from the distinct
 * N of transformer.resblocks.N.*, context and vocab from the embeddings,
 * embed from text_projection [W, E]. */
typedef struct {
	int width, layers, heads, context, vocab, embed;
} text_shape_t;

/* The sizes of c's text tower (canonical names, model/clip_keys.h), without
 * reading the weights. 0, or -1 with one line in err naming the tensor. */
int text_tower_shape(const ckpt_t *c, text_shape_t *s, char *err, size_t errcap);
const char *text_act_name(text_act_t act); /* "quickgelu", "gelu" */

typedef struct {
	int width, layers, heads, context, vocab, embed;
	text_act_t act;
	float *token_embedding;     /* [vocab, W] */
	float *positional_embedding; /* [context, W] */
	text_block_t *blocks;       /* [layers] */
	float *ln_final_w, *ln_final_b; /* [W] */
	float *text_projection;     /* [W, E] (x @ P, not a Linear) */
	double logit_scale;         /* as stored: ln of the softmax temperature's inverse */
	int fp16;                   /* weights rounded through float16 (text_model_load) */
} text_model_t;

/* Bind a checkpoint's text tower (canonical names): checks every tensor's
 * presence and shape (sizes from text_tower_shape); act is the MLP's
 * activation, which the file does not hold. With fp16, every weight
 * CLIP's convert_weights() keeps in float16 (linear and attention weights and
 * biases, text_projection) is rounded through float16, the math staying FP32.
 * 0, or -1 with a one-line message naming the tensor in err. */
int text_model_load(text_model_t *m, const ckpt_t *c, text_act_t act, int fp16, char *err, size_t errcap);
void text_model_free(text_model_t *m);

/* ------------------------------------------------------------------ */
/* Backends. text_encode() builds the prefix trees and hands each batch to a
 * backend (CPU here, CUDA in gpu/gpu_text.cu), which runs the tower on it. */

/* One batch of token sequences as a prefix tree (trie) of ids. */
typedef struct {
	int rows;             /* distinct id prefixes */
	const int32_t *token; /* [rows] the last id of the row's prefix */
	const int *depth;     /* [rows] that id's position (prefix length - 1) */
	const int *parent;    /* [rows] row of the prefix one id shorter (always < the row), -1 at depth 0 */
	int nseq;             /* sequences in the batch */
	const int *seq_leaf;  /* [nseq] row of each sequence's eot id */
} text_trie_t;

typedef struct {
	precision_t precision; /* fp16 on cuda: weights and GEMM inputs in float16, FP32
				* accumulation; the CPU computes FP32 (text_model_load
				* already rounded the weights). bf16 on the CPU: weights and
				* GEMM inputs in bf16, FP32 accumulation (emulated where the
				* CPU has no bf16 instructions, with a note). create()
				* refuses others */
	int threads;    /* CPU threads (GEMM and the rest); <= 0: all cores available */
	int batch_rows; /* trie rows per batch; <= 0: the backend's default */
	int device;     /* GPU ordinal (cuda) */
} text_config_t;

typedef struct {
	char device[160];  /* e.g. "cpu: oneDNN 2.6.3, 2 threads, fp32 gemm:jit", "cuda: NVIDIA H100 ..." */
	int threads;       /* CPU threads, 0 for cuda */
	int batch_rows;    /* rows per batch in effect */
	size_t peak_bytes; /* most memory the backend's buffers and weights held (device for cuda) */
	double compute_s;  /* time inside run() so far */
	char note[320];    /* a line for stderr when the backend took a slower path than asked, else "" */
} text_info_t;

typedef struct text_runner text_runner_t; /* backend-private */

typedef struct {
	const char *name; /* "cpu", "cuda" */
	/* 1 if usable here (the CUDA backends: GPU `gpu`, as --gpu names it);
	 * else 0 with a one-line reason in why. */
	int (*available)(int gpu, char *why, size_t whycap);
	/* m must outlive the runner. NULL with one line in err on failure. */
	text_runner_t *(*create)(const text_model_t *m, const text_config_t *cfg, char *err, size_t errcap);
	/* out [t->nseq, E] row-major: ln_final(x[seq_leaf[s]]) @ text_projection
	 * for each sequence s of the batch (not normalized). t->rows is at most
	 * info().batch_rows. 0, or -1 with err. */
	int (*run)(text_runner_t *r, const text_trie_t *t, float *out, char *err, size_t errcap);
	void (*info)(const text_runner_t *r, text_info_t *info);
	void (*destroy)(text_runner_t *r);
} text_backend_t;

extern const text_backend_t text_backend_cpu; /* this file's C + oneDNN */
#ifdef HAVE_CUDA
extern const text_backend_t text_backend_cuda; /* gpu/gpu_text.cu, only built with nvcc */
#endif

typedef struct {
	double seconds;      /* whole text_encode(), trie building included */
	long long positions; /* positions a padded run would compute (n x context) */
	long long rows;      /* trie rows actually computed */
	int batches;
} text_encode_stats_t;

/* Encode n token sequences: ids[i][0..lens[i]) (clip.tokenize rows without
 * the padding; lens[i] <= context) -> out [n, E] row-major, not normalized,
 * on the runner r of backend be (made for m). 0, or -1 with a message in err. */
int text_encode(const text_model_t *m, const text_backend_t *be, text_runner_t *r, const int32_t *const *ids,
		const int *lens, int n, float *out, text_encode_stats_t *stats, char *err, size_t errcap);

#endif
