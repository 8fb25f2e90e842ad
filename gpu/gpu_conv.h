/* gpu_conv.h - convolutions on cuDNN (legacy API, NHWC), one ConvRun per
 * (convolution, batch size).
 *
 * A ReLU convolution runs as ONE cudnnConvolutionBiasActivationForward:
 *     y = relu(conv(x, w) + b + z)      z = the residual (alpha2 = 1) or none
 * so BatchNorm (folded into w, b), bias, residual add and ReLU cost one pass.
 * Where cuDNN cannot run that call for a shape, the convolution runs plain
 * and our epilogue kernel (launch_bias_relu) adds b and z and applies ReLU.
 * The bottleneck's downsample (identity activation, which the fused call
 * allows only with one slow algorithm) runs as a plain cudnnConvolutionForward
 * with no bias; its bias lives in conv3's (see gpu_plan.h).
 *
 * Tensors: x [n][hin][win][cin_store], y and z [n][hout][wout][cout],
 * w [cout][kh][kw][cin_store/groups] (cuDNN's NHWC filter; grouped
 * convolutions through cudnnSetConvolutionGroupCount), b [1][cout][1][1];
 * all of the storage type, FP32 compute (FP16 mode: cuDNN's PSEUDO_HALF,
 * BF16 mode: PSEUDO_BFLOAT16, compute capability 8.0 and later).
 * Math: FP32 is true FP32 (CUDNN_FMA_MATH: no TF32; and only algorithms
 * that sum products directly: no FFT/Winograd) unless tf32 is asked for;
 * FP16 and BF16 use the tensor cores (CUDNN_TENSOR_OP_MATH). Should a cuDNN
 * refuse the fused call in BF16 (bias of the storage type, as in FP16),
 * choose() takes the plain convolution + epilogue, as for any refused shape.
 *
 * Algorithms: for each distinct shape and batch size, cuDNN's heuristic
 * ranking gives a few candidates, each timed on the real call and buffers,
 * the residual included (cuDNN takes alpha2 != 0 for another operation):
 * bounded start-up, unlike an exhaustive search, and the winner is known to
 * run; the choice is cached by shape, batch size and residual or not. A
 * fused call refused after all at run time goes the plain way, with a note.
 */
#ifndef GPU_CONV_H
#define GPU_CONV_H

#include <cudnn.h>

#include <map>
#include <tuple>

#include "gpu_kernels.h"
#include "gpu_plan.h"

namespace gpu {

/* A failed cuDNN call as gpu_check.h's macros report the others. Here, not
 * there: only the image backend links cuDNN. */
[[noreturn]] void fail_cudnn(cudnnStatus_t s, const char *call, const char *file, int line);

#define CK_CUDNN(call)                                                                             \
	do {                                                                                       \
		cudnnStatus_t ck_s_ = (call);                                                      \
		if (ck_s_ != CUDNN_STATUS_SUCCESS)                                                 \
			gpu::fail_cudnn(ck_s_, #call, __FILE__, __LINE__);                         \
	} while (0)

struct ConvRun {
	cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
	cudnnFilterDescriptor_t w = nullptr;
	cudnnConvolutionDescriptor_t conv = nullptr;
	cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
	size_t ws = 0;   /* workspace bytes the chosen algorithm needs */
	bool relu = true;
	bool fused = true; /* relu: one fused call, else conv + launch_bias_relu */
	long count = 0;    /* output elements, n * hout * wout * cout */
	int cout = 0;
	ConvRun() = default;
	ConvRun(const ConvRun &) = delete;
	ConvRun &operator=(const ConvRun &) = delete;
	~ConvRun();
};

class ConvEngine {
public:
	ConvEngine(cudnnHandle_t h, Dt dt, bool tf32);
	~ConvEngine();
	ConvEngine(const ConvEngine &) = delete;
	ConvEngine &operator=(const ConvEngine &) = delete;

	/* Descriptors for spec at n images; checks cuDNN's output size against the plan. */
	void describe(ConvRun &r, const ConvSpec &s, int n);
	/* Pick the algorithm (and fused or not) by timing candidates on the real
	 * call and buffers: x, w, b (null without ReLU), z (the residual the op
	 * adds, or null: cuDNN treats alpha2 != 0 as another operation), y
	 * (overwritten), with up to ws_cap bytes of workspace at ws.
	 * Synchronizes the handle's stream. */
	void choose(ConvRun &r, const ConvSpec &s, int n, const void *x, const void *w, const void *b, const void *z,
		    void *y, void *ws, size_t ws_cap);
	/* Enqueue on the handle's stream. z may be null (no residual). */
	void run(const ConvRun &r, const void *x, const void *w, const void *b, const void *z, void *y, void *ws,
		 size_t ws_size) const;

	const char *math_name() const;

private:
	using Key = std::tuple<int, int, int, int, int, int, int, int, int, int, bool, bool>;
	struct Choice {
		cudnnConvolutionFwdAlgo_t algo;
		cudnnMathType_t math;
		size_t ws;
		bool fused;
	};
	Key key(const ConvSpec &s, int n, bool residual) const;
	void apply(ConvRun &r, const Choice &c);
	bool allowed(cudnnConvolutionFwdAlgo_t a) const;
	/* run(); with may_fall_back, a fused call cuDNN refuses runs as a plain
	 * convolution + epilogue (with a note), else the refusal throws */
	void call(const ConvRun &r, const void *x, const void *w, const void *b, const void *z, void *y, void *ws,
		  size_t ws_size, bool may_fall_back) const;
	bool time_choice(ConvRun &r, const Choice &c, const void *x, const void *w, const void *b, const void *z, void *y,
			 void *ws, size_t ws_cap, float &ms);

	cudnnHandle_t h_;
	Dt dt_;
	bool tf32_;
	cudnnActivationDescriptor_t relu_ = nullptr;
	cudaEvent_t t0_ = nullptr, t1_ = nullptr; /* algorithm timing */
	std::map<Key, Choice> cache_;
};

} // namespace gpu

#endif
