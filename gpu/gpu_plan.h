/* gpu_plan.h - the CUDA backend's execution plan, built on the host from the
 * network description (net_t's ops, model/net.h) for any ResNet it describes.
 *
 * A plan is the network as a flat list of ops over activation tensors (Act),
 * with every activation placed in ONE arena by lifetime, and all weights
 * packed into ONE buffer in the layouts the GPU code wants. It is plain host
 * C++ with no CUDA in it: the encoder (gpu_encoder.cu) runs it on the GPU and
 * the tests' plan checker (tests/gpu/plan_sim.cc) runs it on the CPU.
 *
 * Activations: NHWC, C fastest, per image h*w*c elements of the storage type
 * (float32, or float16 with --fp16). The arena is planned per image: an Act
 * at element offset `off` of a batch of up to B images lives at byte
 *     arena + off * B * esize
 * and occupies n * elems * esize bytes for n <= B images, so one placement
 * serves every batch size up to B. Two Acts share bytes only when their
 * lifetimes [first, last] (op indices) do not meet.
 *
 * Packed weights (FP32 here; the encoder converts to FP16 on upload in FP16
 * mode), each piece at an element offset that is a multiple of 64:
 *   conv   w [cout][kh][kw][cin_store/groups]  (KRSC = cuDNN's NHWC filter layout;
 *          channels cin..cin_store-1 zero), b [cout]
 *   fc     w [out][in] (PyTorch's), b [out]
 *   attn   pos [tokens][dim], wq [dim][dim], bq [dim],
 *          wkv [2*dim][dim] (k_proj rows then v_proj rows), bkv [2*dim],
 *          wc [out][dim], bc [out]
 * BatchNorm is already folded by net_load(). A block's downsample conv
 * runs with no bias and no ReLU; its bias is added to conv3's bias, since
 * conv3 adds the downsample output (cuDNN's z input) before its ReLU:
 *     relu(conv3(y) + b3 + (down(x) + bd)) == relu(conv3(y) + (b3 + bd) + down(x))
 */
#ifndef GPU_PLAN_H
#define GPU_PLAN_H

#include <cstddef>
#include <string>
#include <vector>

extern "C" {
#include "model/net.h"
}

namespace gpu {

enum class OpKind {
	Input,    /* host image batch (device copy) -> Act 0; runs outside the graph */
	Conv,     /* out = act(conv(in) + b [+ res]); act = ReLU or identity */
	MaxPool,  /* 3x3 stride 2 pad 1 (the only one the description has) */
	AvgPool,  /* k x k stride k */
	Gap,      /* mean over H*W -> [1][1][C]; with features also the float output */
	Fc,       /* float output [n][out] = in . W^T + b */
	AttnPool  /* float output [n][out]; temporaries tmp[0..3] = tokens, q, kv, o */
};

struct Act {
	std::string name;
	int h = 0, w = 0, c = 0;
	size_t elems = 0;  /* per image: h*w*c rounded up to a multiple of 128 */
	size_t off = 0;    /* per-image element offset in the arena */
	int first = -1, last = -1; /* op that writes it, last op that reads it */
};

struct ConvSpec {
	std::string name;
	int cin = 0, cin_store = 0; /* cin_store > cin only for the stem's padded input */
	int groups = 1;             /* grouped: each of cout/groups outputs sees cin/groups inputs */
	int cout = 0, kh = 0, kw = 0, stride = 1, pad = 0;
	int hin = 0, win = 0, hout = 0, wout = 0;
	bool relu = true;  /* false: identity and no bias (downsample branch) */
	size_t w = 0, b = 0; /* element offsets into Plan::weights (b unused without relu) */
};

struct Op {
	OpKind kind = OpKind::Input;
	std::string name;
	int in = -1, out = -1, res = -1; /* Act indices (-1: none / the float output) */
	int conv = -1;                   /* ConvSpec index for OpKind::Conv */
	int k = 0;                       /* AvgPool window = stride */
	std::vector<int> tmp;            /* AttnPool scratch Acts */
};

struct AttnSpec {
	int tokens = 0, dim = 0, heads = 0, head_dim = 0, out = 0;
	size_t pos = 0, wq = 0, bq = 0, wkv = 0, bkv = 0, wc = 0, bc = 0;
};

struct FcSpec {
	int in = 0, out = 0;
	size_t w = 0, b = 0;
};

struct Plan {
	int batch = 0;      /* B: most images per batch */
	int cin_store = 0;  /* stored input channels (3 padded to 4 or 8) */
	int in_h = 0, in_w = 0;
	bool features = false; /* torchvision --features: output the pooled vector */
	int out_dim = 0;
	std::vector<Act> acts;
	std::vector<ConvSpec> convs;
	std::vector<Op> ops;
	FcSpec fc;
	AttnSpec attn;
	std::vector<float> weights; /* packed, FP32 */
	size_t arena_elems = 0;     /* per image */
	size_t peak_live_elems = 0; /* per image: the most bytes live at one op */
};

/* Build the plan for net with batches of up to `batch` images, storing the
 * input with cin_store channels (>= 3). Throws std::runtime_error with one
 * line on a net it cannot run (features on CLIP, inconsistent sizes). */
Plan plan_build(const net_t *net, int batch, bool features, int cin_store);

/* Sum of the per-image elements of the Acts live at op i (for the memory
 * timeline). */
size_t plan_live_elems(const Plan &p, int op);

} // namespace gpu

#endif
