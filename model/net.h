/* net.h - the image encoders as one backend-independent description, and
 * the interface every compute backend (oneDNN CPU, CUDA, the reference) runs.
 *
 * Families (the architecture is read from the checkpoint's tensors, as CLIP's
 * build_model does; net_load):
 *   torchvision ResNet: resnet18/34 (basic blocks), resnet50/101/152,
 *     wide_resnet50_2/101_2 (wider bottlenecks), resnext50_32x4d,
 *     resnext101_32x8d/64x4d (grouped 3x3 convolutions). Input 224.
 *     stem: conv1 7x7/2 pad 3 (3->64) +ReLU; maxpool 3x3/2 pad 1
 *     stages 1..4 of basic or bottleneck blocks; global average pool; fc.
 *   OpenAI CLIP ModifiedResNet: RN50, RN101, RN50x4, RN50x16, RN50x64.
 *     width W = layer1.0.conv1.weight.shape[0]; depths = blocks per layerN;
 *     input = round(sqrt(positional_embedding rows - 1)) * 32; heads = W*32/64.
 *     stem: conv1 3x3/2 (3->W/2), conv2 3x3 (W/2->W/2), conv3 3x3 (W/2->W),
 *     each +ReLU; avgpool 2x2/2; stages of bottlenecks; attention pool.
 * Blocks (stride s = 2 in the first block of stages 2..4, else 1):
 *   basic:      y = relu(conv1(x)) 3x3 stride s;  out = relu(conv2(y) + r)
 *   bottleneck: y = relu(conv1(x)) 1x1;  y = relu(conv2(y)) 3x3, `groups` groups;
 *               out = relu(conv3(y) + r) 1x1
 *     torchvision: conv2 (basic: conv1) has stride s; r = x or downsample(x),
 *                  a 1x1 conv with stride s
 *     clip:        conv2 stride 1, then avgpool s x s / s when s > 1;
 *                  r = x or downsample.0(avgpool_s(x)), a 1x1 conv stride 1
 * BatchNorm (eval mode, eps 1e-5) is folded into the convolution before it:
 *     s = gamma / sqrt(var + eps)          (computed in double)
 *     w'[o][...] = w[o][...] * s[o]        b'[o] = beta[o] - mean[o] * s[o]
 *
 * The description: values (activations of one image, logically [c][h][w])
 * and ops over them, in execution order; value 0 is the normalized input
 * [3][input][input]. Every op writes one new value. Data types are not part of
 * it: weights are FP32 as folded, and a backend stores what it likes.
 *
 * Attention pool (CLIP), X = the last map as h*w tokens in row-major order:
 *   t0 = mean of the tokens; T = [t0; X] + pos                T [tokens][dim]
 *   q  = (T[0] Wq^T + bq) / sqrt(head_dim)                    [dim]
 *   K  = T Wk^T + bk,  V = T Wv^T + bv                        [tokens][dim]
 *   head h (channels head_dim*h ..):
 *       a = softmax_j(q_h . K_h[j]);  o_h = sum_j a_j V_h[j]
 *   out = concat(o_0..) Wc^T + bc                             [out], not normalized
 * AvgPool is kernel = stride, no padding; MaxPool pads with -inf.
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
	NET_TORCHVISION, /* torchvision ResNet: logits */
	NET_CLIP         /* CLIP ModifiedResNet: embedding */
} net_family_t;

enum {
	NET_STAGES = 4,
	NET_MAX_BLOCKS = 64, /* per stage: the deepest published has 36 */
	NET_MAX_NAME = 48
};

/* One convolution with BatchNorm folded in. */
typedef struct {
	int cin, cout, groups;
	int kh, kw;
	int stride;  /* same in H and W */
	int pad;     /* same on all four sides */
	float *w;    /* [cout][cin/groups][kh][kw], BN folded */
	float *b;    /* [cout], BN folded (the convs themselves have no bias) */
} net_conv_t;

typedef struct {
	int c, h, w; /* one image */
} net_val_t;

typedef enum {
	NET_OP_CONV,     /* out = conv(in) + b [+ res] [then ReLU] */
	NET_OP_MAXPOOL,  /* k x k / stride, pad (padding never wins) */
	NET_OP_AVGPOOL,  /* k x k / k, no padding */
	NET_OP_GAP,      /* global average pool -> [c][1][1] */
	NET_OP_FC,       /* [c][1][1] -> [out][1][1]: net->fc */
	NET_OP_ATTNPOOL  /* [c][h][w] -> [out][1][1]: net->attn */
} net_op_kind_t;

typedef struct {
	net_op_kind_t kind;
	char name[NET_MAX_NAME]; /* PyTorch's module path: "layer2.0.conv2", "maxpool" */
	int in, out; /* values */
	int res;     /* CONV: value added before the ReLU, or -1 */
	int relu;    /* CONV */
	int conv;    /* CONV: index into net->conv */
	int k, stride, pad; /* pools */
} net_op_t;

typedef struct {
	int in, out;
	float *w;    /* [out][in] */
	float *b;    /* [out] */
} net_fc_t;

typedef struct {
	int tokens;   /* 1 + h*w of the last map */
	int dim;      /* channels of the last map */
	int heads;
	int head_dim; /* dim / heads */
	int out;      /* embedding size */
	float *pos;   /* [tokens][dim] positional embedding */
	float *wq, *bq; /* [dim][dim], [dim]  q_proj (out, in) */
	float *wk, *bk; /* [dim][dim], [dim]  k_proj */
	float *wv, *bv; /* [dim][dim], [dim]  v_proj */
	float *wc, *bc; /* [out][dim], [out]  c_proj */
} net_attnpool_t;

/* What the checkpoint holds, as read from its tensors. */
typedef struct {
	net_family_t family;
	int bottleneck;          /* 0: basic blocks */
	int depths[NET_STAGES];  /* blocks per stage */
	int width;               /* layer1.0.conv1's output channels */
	int groups;              /* of the 3x3 convolutions in bottlenecks */
	int input;               /* input H = W */
	int out_dim;             /* classes (fc) or embedding size */
	int heads;               /* CLIP */
} net_arch_t;

typedef struct {
	char name[64];           /* "resnet101", "clip-rn50x4", or a description of an unlisted variant */
	const char *out_type;    /* "logits" / "embedding": the output record type */
	net_arch_t arch;
	int input_size;          /* = arch.input */
	int out_dim;
	float mean[3], std[3];   /* RGB normalization of the family's preset */

	net_val_t *val;
	int nval;
	net_op_t *op;
	int nop;
	net_conv_t *conv;
	int nconv;
	net_fc_t fc;             /* torchvision */
	net_attnpool_t attn;     /* clip */
	int features;            /* torchvision: the value before fc (global average pool); else -1 */

	int src_fp16;            /* 1 when the checkpoint stored some weights as fp16 */
	size_t weight_bytes;     /* FP32 bytes held by this net */
} net_t;

/* ---- the published models (model/models.c) ---- */

typedef struct {
	const char *file;   /* name in the weights folder (the URL's last part) */
	const char *url;
	const char *sha256; /* of the whole file */
	const char *tag;    /* torchvision's weights enum name ("IMAGENET1K_V2"), or "openai" */
	const char *preset; /* imgdecode preset those weights were evaluated with */
	double acc1;        /* published ImageNet top-1 (%), 0 where none is published */
} net_weights_t;

typedef struct {
	const char *name;   /* --model name */
	net_arch_t arch;    /* must equal what net_load reads from the file */
	net_weights_t weights[2]; /* [0] the default; file NULL where absent */
} net_model_t;

/* The known models, NULL-terminated by name. */
extern const net_model_t net_models[];
const net_model_t *net_model_find(const char *name);
/* The known model whose architecture this is, or NULL. */
const net_model_t *net_model_of(const net_arch_t *a);
/* Comma-separated list of the known names, for help and messages. */
const char *net_model_names(void);
/* The family of a preset name: "imagenet*" -> torchvision, "clip*" -> CLIP.
 * 0 ok, -1 unknown. */
int net_family_of_preset(const char *preset, size_t len, net_family_t *f);
/* "resnet50" for imagenet*, "clip-rn50" for clip (the 224 px one), else NULL. */
const char *net_default_model_for_preset(const char *preset, size_t len);
/* Does a record's preset go with this net? Same family (the image size is
 * checked separately). 1 yes, 0 no. */
int net_preset_matches(const net_t *net, const char *preset, size_t len);

/* ---- loading ---- */

/* Read the architecture from the checkpoint's tensor names and shapes, bind
 * the tensors, fold BatchNorm and build the description. Accepted names:
 * torchvision's ("conv1.weight", "layer1.0.bn1.running_mean", "fc.weight",
 * optional "module.", "state_dict." or "model." prefixes, as training
 * scripts save them); CLIP's ("visual.conv1.weight",
 * "visual.attnpool.q_proj.bias" under net_clip_root's root, or the same
 * without "visual." for the visual tower alone; text-tower tensors of the
 * full CLIP archive are ignored). want: a model name the
 * file must hold (net_models), or NULL for whatever it holds (an unlisted
 * variant of a family gets a descriptive name). Missing tensors, wrong
 * shapes, non-float dtypes and unexpected tensors under the model's prefix
 * are errors; err gets one line naming them (the first few, and how many).
 * Returns 0, or -1 with net left empty (net_free is still safe). */
int net_load(net_t *net, const ckpt_t *ckpt, const char *want, char *err, size_t errcap);
/* The prefix before a whole CLIP file's tensors (its root): the one before
 * logit_scale, visual.conv1.weight or (text.)token_embedding.weight, e.g.
 * "state_dict.module." in open_clip's training checkpoint, "" in OpenAI's
 * archives and bare state dicts. 1 with root (at most NET_CLIP_ROOT_MAX
 * bytes and cap - 1), 0 when no tensor is such an anchor, -1 with err when
 * anchors show two roots or the root is longer. The one prefix rule of both
 * towers: net_load reads root + "visual.", clip_keys_canonical strips root. */
#define NET_CLIP_ROOT_MAX 160
#define NET_PREFIX_CAP 192
int net_clip_root(const ckpt_t *ckpt, char *root, size_t cap, char *err, size_t errcap);
/* Only the architecture (no weights bound): for ckptinfo. 0 or -1 with err. */
int net_probe(const ckpt_t *ckpt, net_arch_t *arch, char *err, size_t errcap);
/* The name of what arch is: a known model's, else a description such as
 * "resnet(bottleneck,2-2-2-2,w32,g1)". */
void net_arch_name(const net_arch_t *arch, char *buf, size_t cap);
void net_free(net_t *net);

/* Output width for an encoder: out_dim, or the features' width with features. */
int net_output_dim(const net_t *net, int features);
/* Elements of one input image (3 * input_size^2). */
size_t net_input_elems(const net_t *net);

/* The plain C reference forward (model/ref.c): no threads, no libraries,
 * one image x [3][input][input] (normalized) -> out [net_output_dim]. The
 * definition of what every backend computes, used by the tests as a second
 * oracle beside PyTorch. 0, or -1 when out of memory. */
int net_ref_forward(const net_t *net, const float *x, int features, float *out);

/* ---- INT8 calibration files (model/calib.c) ----
 * One `calibration` record (doc/records.md): the scales of the convolutions'
 * inputs (enc_config_t.int8_scale) and where they came from. */
typedef struct {
	char model[64];          /* net_t.name */
	char weights_sha256[65]; /* of the checkpoint file, as rnencode's header has it */
	char *set;               /* the calibration set as named (a path) */
	char set_sha256[65];     /* written only */
	int64_t images;          /* images observed */
	char observer[16];       /* "minmax" */
	float *scale;            /* [n], each net_calib_scale_ok */
	int n;
	char sha256[65];         /* read: of the file */
} net_calib_t;
/* A scale is max |x| of a convolution's input over the set, over 255 (or
 * 127): one outside [CALIB_SCALE_MIN, CALIB_SCALE_MAX] is no network's
 * activation range but a damaged or hand-made file, whose subnormal or huge
 * values quantize every input to 0 or saturate it: a constant network. */
#define CALIB_SCALE_MIN 1e-30f
#define CALIB_SCALE_MAX 1e30f
int net_calib_scale_ok(float s);
/* Read path: 0, or -1 with one line naming path in err (not a regular file
 * or FIFO, empty, truncated, not one calibration record, a field missing or
 * malformed, a scale not net_calib_scale_ok). Matching the
 * network is the caller's. c is released on failure; else net_calib_free. */
int net_calib_read(const char *path, net_calib_t *c, char *err, size_t errcap);
/* Write c to path whole (outfile's rule; exit 2 on failure). */
void net_calib_write(const char *path, const net_calib_t *c);
void net_calib_free(net_calib_t *c);

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

/* enc_config_t.precision (common/util/util.h), as the backends read it:
 *   PREC_FP32  FP32 throughout (BatchNorm folded into the convolutions)
 *   PREC_TF32  cuda: FP32 storage, convolutions and GEMMs on TF32 tensor
 *              cores; the CPU has none and computes FP32 (rnencode says so)
 *   PREC_FP16  FP16 weights and activations in memory, FP32 arithmetic:
 *              weights and biases rounded to fp16 after BN folding (FP32),
 *              every stored activation rounded to fp16 (nearest even),
 *              outputs fp16 values
 *   PREC_INT8  the CPU: post-training static quantization of the
 *              convolutions (cfg.int8_scale); pools and heads FP32,
 *              outputs float32
 * A backend's create() refuses a precision it does not compute, naming those
 * it does. */

typedef enum {
	ENC_INPUT_U8_HWC,  /* uint8 [n][S][S][3] RGB (S = input_size), raw: the backend normalizes */
	ENC_INPUT_F32_CHW, /* float32 [n][3][S][S], already normalized */
	ENC_INPUT_F16_CHW  /* float16 (IEEE half bits) [n][3][S][S], already normalized */
} enc_input_t;

typedef struct {
	precision_t precision;
	int batch;     /* maximum images per submit, >= 1 */
	int threads;   /* CPU threads; 0 = all cores */
	int features;  /* 1: output the pooled features instead of the head (torchvision only) */
	int device;    /* GPU ordinal (cuda); ignored on the CPU */
	const char *mem_trace; /* NULL, or a file for the backend's allocation timeline
				* (TSV: time_s bytes_in_use tag); the CPU backend writes none */
	/* INT8 (PREC_INT8): [net->nconv] the scale of each convolution's input,
	 * in net->conv order: x = scale * q, q = u8 after a ReLU (or a pool of
	 * one), s8 where the input can be negative (the stem's image). create()
	 * copies them. */
	const float *int8_scale;
	/* Calibration (FP32 only; the CPU backend): non-NULL [net->nconv], zeroed
	 * by the caller; each batch raises entry i to max |x| / qmax over
	 * conv i's input (qmax 255 for a u8 input, 127 for s8, as int8_scale
	 * means): PyTorch's default min/max observer, as scales. It must
	 * outlive the encoder. */
	float *observe;
} enc_config_t;
#define ENC_CONFIG_HAS_MEM_TRACE 1

typedef struct {
	char device[160];      /* e.g. "cpu: Intel Xeon ... (oneDNN 2.6.0, avx512_core_amx)" */
	char note[200];        /* "" or one line the program shows the user once (how the
				* backend computes what was asked, where that is not the obvious) */
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
