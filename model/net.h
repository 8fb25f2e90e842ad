/* net.h - the two image encoders as backend-independent data, and the
 * interface every compute backend (oneDNN CPU, CUDA) implements.
 *
 * net_load() binds a checkpoint to one architecture (described below),
 * checks every tensor's presence and shape, converts to FP32 and folds each
 * BatchNorm (eval mode, eps 1e-5) into the convolution before it:
 *     s = gamma / sqrt(var + eps)          (computed in double)
 *     w'[o][...] = w[o][...] * s[o]        b'[o] = beta[o] - mean[o] * s[o]
 * so a backend sees only convolutions with bias. Everything a backend needs is
 * in net_t; it never looks at the checkpoint.
 *
 * Layouts: every weight is FP32, C-order, PyTorch's own layout (shapes beside
 * each field). Activations are described logically as NCHW; a backend picks
 * its own memory layout. Input is 224x224 for both models.
 *
 * ResNet-50 (torchvision, v1.5):
 *   stem[0] 7x7/2 pad 3 (3->64) +ReLU; maxpool 3x3/2 pad 1       -> 64x56x56
 *   16 bottlenecks (stages of 3,4,6,3)                           -> 2048x7x7
 *   global average pool -> [2048]  (--features stops here)
 *   fc: y = W x + b, W [1000][2048]                              -> logits [1000]
 * CLIP RN50 (ModifiedResNet):
 *   stem[0] 3x3/2 pad 1 (3->32) +ReLU, stem[1] 3x3 pad 1 (32->32) +ReLU,
 *   stem[2] 3x3 pad 1 (32->64) +ReLU; avgpool 2x2/2              -> 64x56x56
 *   16 bottlenecks (stages of 3,4,6,3)                           -> 2048x7x7
 *   attention pool (NET_HEAD_ATTNPOOL below)                     -> embedding [1024]
 *
 * Bottleneck (both models), stride s in {1,2}:
 *   y1 = relu(conv1(x))                        1x1, cin -> width
 *   y2 = relu(conv2(y1))                       3x3 pad 1, width -> width
 *        resnet50: conv2 has stride s
 *        clip:     conv2 has stride 1, then avgpool s x s / s when s > 1
 *   r  = x                                     when !has_down
 *        resnet50: down(x), 1x1 stride s
 *        clip:     down(avgpool_s(x)), avgpool s x s / s (identity when s == 1),
 *                  then 1x1 stride 1
 *   out = relu(conv3(y2) + r)                  1x1, width -> cout (= 4 width)
 * AvgPool everywhere here is kernel = stride, no padding (count_include_pad is
 * moot). MaxPool pads with -inf.
 *
 * Attention pool (CLIP), X = the 7x7x2048 map as 49 tokens in row-major
 * (h, w) order:
 *   t0 = mean of the 49 tokens; T = [t0; X] + pos          T [50][2048]
 *   q  = (T[0] Wq^T + bq) / 8                              [2048]  (8 = sqrt(64))
 *   K  = T Wk^T + bk,  V = T Wv^T + bv                     [50][2048]
 *   head h (32 of them, channels 64h..64h+63):
 *       a = softmax_j(q_h . K_h[j])  (j over 50 tokens);  o_h = sum_j a_j V_h[j]
 *   out = concat(o_0..o_31) Wc^T + bc                      [1024], not normalized
 *
 * Input preprocessing for uint8 images (doc/presets.md), in float32 exactly
 * as torchvision does it (division, not multiplication by a reciprocal):
 *   x = ((float)u8 / 255.0f - mean[c]) / std[c]
 */
#ifndef MODEL_NET_H
#define MODEL_NET_H

#include <stddef.h>

#include "ckpt/ckpt.h"
#include "util/util.h"

typedef enum {
	MODEL_RESNET50,
	MODEL_CLIP_RN50
} net_kind_t;

enum {
	NET_INPUT_SIZE = 224, /* input H = W */
	NET_BLOCKS = 16,      /* bottlenecks: stages of 3, 4, 6, 3 */
	NET_STAGES = 4,
	NET_FEATURES = 2048,  /* channels of the last stage */
	NET_MAX_STEM = 3
};

/* One convolution with BatchNorm folded in; ReLU etc. are decided by its
 * place in the network (see above), not stored here. No dilation, no groups. */
typedef struct {
	int cin, cout;
	int kh, kw;
	int stride;  /* same in H and W */
	int pad;     /* same on all four sides */
	float *w;    /* [cout][cin][kh][kw], FP32, BN folded */
	float *b;    /* [cout], FP32, BN folded (the convs themselves have no bias) */
} net_conv_t;

typedef struct {
	int stride;    /* 1 or 2: where and how it applies differs, see above */
	int cin;       /* input channels */
	int width;     /* channels of conv1/conv2 */
	int cout;      /* output channels = 4 * width */
	int hin, win;  /* input spatial size (output is hin/stride x win/stride) */
	net_conv_t conv1;
	net_conv_t conv2; /* resnet50: stride = block stride; clip: stride 1 */
	net_conv_t conv3;
	int has_down;     /* 0: residual is the block input itself */
	net_conv_t down;  /* resnet50: stride = block stride; clip: stride 1 after the avgpool */
} net_block_t;

typedef enum {
	NET_STEM_MAXPOOL, /* resnet50: maxpool 3x3 stride 2 pad 1 after stem[0] */
	NET_STEM_AVGPOOL  /* clip: avgpool 2x2 stride 2 after stem[2] */
} net_stem_pool_t;

typedef enum {
	NET_HEAD_FC,       /* resnet50: global average pool + fc */
	NET_HEAD_ATTNPOOL  /* clip: attention pool */
} net_head_kind_t;

typedef struct {
	int in, out; /* 2048, 1000 */
	float *w;    /* [out][in] */
	float *b;    /* [out] */
} net_fc_t;

typedef struct {
	int tokens;   /* 50 = 1 + 7*7 */
	int dim;      /* 2048 */
	int heads;    /* 32 */
	int head_dim; /* 64 */
	int out;      /* 1024 */
	float *pos;   /* [tokens][dim] positional embedding */
	float *wq, *bq; /* [dim][dim], [dim]  q_proj (out, in) */
	float *wk, *bk; /* [dim][dim], [dim]  k_proj */
	float *wv, *bv; /* [dim][dim], [dim]  v_proj */
	float *wc, *bc; /* [out][dim], [out]  c_proj */
} net_attnpool_t;

typedef struct {
	net_kind_t kind;
	const char *name;        /* "resnet50" / "clip-rn50": the records' "model" */
	const char *out_type;    /* "logits" / "embedding": the output record type */
	int out_dim;             /* 1000 / 1024 */
	float mean[3], std[3];   /* RGB normalization of the model's preset */

	int nstem;               /* 1 (resnet50) or 3 (clip) */
	net_conv_t stem[NET_MAX_STEM]; /* each followed by ReLU */
	net_stem_pool_t stem_pool;

	net_block_t block[NET_BLOCKS];  /* in order: layer1.0 .. layer4.2 */
	int stage_blocks[NET_STAGES];   /* 3, 4, 6, 3 */

	net_head_kind_t head;
	net_fc_t fc;             /* NET_HEAD_FC */
	net_attnpool_t attn;     /* NET_HEAD_ATTNPOOL */

	int src_fp16;            /* 1 when the checkpoint stored some weights as fp16 */
	size_t weight_bytes;     /* FP32 bytes held by this net */
} net_t;

/* Model name ("resnet50", "clip-rn50") -> kind; 0 ok, -1 unknown. */
int net_kind_parse(const char *name, net_kind_t *kind);
const char *net_kind_name(net_kind_t kind);

/* Does a record's preset ("imagenet", "imagenet-v2", "clip") go with this
 * model? resnet50 takes both imagenet presets (same mean/std), clip-rn50
 * takes clip. 1 yes, 0 no. */
int net_preset_matches(net_kind_t kind, const char *preset, size_t len);
/* The model a preset implies (clip -> clip-rn50, imagenet* -> resnet50); 0 ok, -1 unknown. */
int net_kind_for_preset(const char *preset, size_t len, net_kind_t *kind);

/* Bind checkpoint tensors to the architecture and fold BatchNorm. Accepted
 * names: torchvision's for resnet50 ("conv1.weight", "layer1.0.bn1.running_mean",
 * "fc.weight", optional "module.", "state_dict." or "model." prefixes, as
 * training scripts save them); CLIP's for clip-rn50 ("visual.conv1.weight",
 * "visual.attnpool.q_proj.bias", or the same without "visual."; text-tower
 * tensors of the full CLIP archive are ignored). Missing tensors, wrong
 * shapes, non-float dtypes and unexpected tensors under the model's prefix are
 * errors; err gets one line naming them (the first few, and how many).
 * Returns 0, or -1 with net left empty (net_free is still safe). */
int net_load(net_t *net, const ckpt_t *ckpt, net_kind_t kind, char *err, size_t errcap);
void net_free(net_t *net);

/* Output width for an encoder: out_dim, or NET_FEATURES with features (resnet50 only). */
int net_output_dim(const net_t *net, int features);

/* ------------------------------------------------------------------ */
/* Backend interface. Flow per batch, from one thread:
 *   buf = be->input(enc, fmt);       write n <= batch images into buf
 *   be->submit(enc, fmt, n, ...);    start (the CPU computes it here)
 *   be->wait(enc, out, ...);         outputs of the OLDEST submitted batch
 * A backend may accept up to `depth` submits before a wait (the GPU overlaps
 * copies and compute that way): the caller submits, and once `depth` batches
 * are in flight waits for the oldest before it fills the next, so input() is
 * only called while fewer than `depth` are in flight and `depth` input
 * buffers suffice; input() returns one not in use by a batch in flight.
 * Batches complete in submission order.
 */

typedef enum {
	NET_FP32,
	NET_FP16 /* FP16 weights and activations in memory, FP32 arithmetic: weights and
		  * biases rounded to fp16 after BN folding (FP32), every stored
		  * activation rounded to fp16 (nearest even), outputs fp16 values */
} net_precision_t;

typedef enum {
	ENC_INPUT_U8_HWC,  /* uint8 [n][224][224][3] RGB, raw: the backend normalizes */
	ENC_INPUT_F32_CHW, /* float32 [n][3][224][224], already normalized */
	ENC_INPUT_F16_CHW  /* float16 (IEEE half bits) [n][3][224][224], already normalized */
} enc_input_t;

typedef struct {
	net_precision_t precision;
	int batch;     /* maximum images per submit, >= 1 */
	int threads;   /* CPU threads; 0 = all cores */
	int features;  /* 1: output the pooled [2048] instead of the head (resnet50 only) */
	int device;    /* GPU ordinal (cuda); ignored on the CPU */
	int tf32;      /* 1: FP32 convolutions/GEMMs may use TF32 tensor cores (cuda); CPU ignores it */
	const char *mem_trace; /* NULL, or a file for the backend's allocation timeline
				* (TSV: time_s bytes_in_use tag); the CPU backend writes none */
} enc_config_t;
#define ENC_CONFIG_HAS_TF32 1
#define ENC_CONFIG_HAS_MEM_TRACE 1

typedef struct {
	char device[160];      /* e.g. "cpu: Intel Xeon ... (oneDNN 2.6.0, avx512_core_amx)" */
	int threads;           /* compute threads (CPU), 0 where not meaningful */
	size_t weight_bytes;   /* weights as the backend holds them */
	size_t activation_bytes; /* planned activation arena(s) + scratch */
	size_t peak_bytes;     /* peak memory the backend allocated (host for cpu, device for cuda) */
	long batches;          /* batches completed */
	long timed_batches;    /* full batches in the batch figures (warm-up excluded) */
	double batch_mean_s, batch_std_s; /* per-batch compute time: full batches, warm-up excluded */
	double image_mean_s, image_std_s; /* per-image time (batch time / n), every batch but warm-up */
	double batch_min_s;    /* the fastest full batch (0: none timed); robust to load spikes */
	/* warm-up: the first batch on the CPU, the first of each batch size on the GPU
	 * (it builds the CUDA graph); both fill these through common/util/util.h */
} enc_stats_t;

/* The timing figures of st from a backend's accumulator (common/util/util.h). */
void enc_stats_timing(enc_stats_t *st, const timing_t *t);

typedef struct encoder encoder_t; /* backend-private */

typedef struct {
	const char *name; /* "cpu", "cuda" */
	/* 1 if usable here (the CUDA backends: GPU `gpu`, as --gpu names it);
	 * else 0 with a one-line reason in why. */
	int (*available)(int gpu, char *why, size_t whycap);
	/* net must outlive the encoder. NULL with one line in err on failure. */
	encoder_t *(*create)(const net_t *net, const enc_config_t *cfg, char *err, size_t errcap);
	int depth; /* batches that may be in flight */
	/* Host buffer for the next submit: room for cfg.batch images in fmt. */
	void *(*input)(encoder_t *enc, enc_input_t fmt);
	/* Encode the first n images of the last input() buffer. 0, or -1 with err. */
	int (*submit)(encoder_t *enc, enc_input_t fmt, int n, char *err, size_t errcap);
	/* out: float32 [n][net_output_dim] of the oldest batch in flight (in
	 * FP16 mode the values are FP16-representable). 0, or -1 with err. */
	int (*wait)(encoder_t *enc, float *out, char *err, size_t errcap);
	void (*stats)(const encoder_t *enc, enc_stats_t *st);
	void (*destroy)(encoder_t *enc);
} enc_backend_t;

extern const enc_backend_t enc_backend_cpu;  /* model/cpu_dnnl.c, oneDNN */
#ifdef HAVE_CUDA
extern const enc_backend_t enc_backend_cuda; /* gpu/, only built with nvcc */
#endif

#endif
