/* gpu_conv.cu - cuDNN convolutions with fused bias, residual and ReLU; see gpu_conv.h. */
#include "gpu_conv.h"

#include <string>
#include <vector>

#include "gpu_check.h"

extern "C" {
#include "util/util.h"
}

namespace gpu {

void fail_cudnn(cudnnStatus_t s, const char *call, const char *file, int line)
{
	/* cudnnGetLastErrorString adds cuDNN's own explanation where it has one. */
	char why[256] = "";
	cudnnGetLastErrorString(why, sizeof why);
	std::string detail = cudnnGetErrorString(s);
	if (why[0])
		detail += std::string(": ") + why;
	fail("cudnn", call, detail, file, line);
}

ConvRun::~ConvRun()
{
	/* teardown: failures here cannot be acted on */
	if (x)
		cudnnDestroyTensorDescriptor(x);
	if (y)
		cudnnDestroyTensorDescriptor(y);
	if (b)
		cudnnDestroyTensorDescriptor(b);
	if (w)
		cudnnDestroyFilterDescriptor(w);
	if (conv)
		cudnnDestroyConvolutionDescriptor(conv);
}

ConvEngine::ConvEngine(cudnnHandle_t h, Dt dt, bool tf32) : h_(h), dt_(dt), tf32_(tf32)
{
	CK_CUDA(cudaEventCreate(&t0_));
	CK_CUDA(cudaEventCreate(&t1_));
	CK_CUDNN(cudnnCreateActivationDescriptor(&relu_));
	CK_CUDNN(cudnnSetActivationDescriptor(relu_, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
}

ConvEngine::~ConvEngine()
{
	if (relu_)
		cudnnDestroyActivationDescriptor(relu_);
	if (t0_)
		cudaEventDestroy(t0_);
	if (t1_)
		cudaEventDestroy(t1_);
}

const char *ConvEngine::math_name() const
{
	if (dt_ == Dt::F16)
		return "fp16 tensor cores, fp32 accumulate";
	if (dt_ == Dt::BF16)
		return "bf16 tensor cores, fp32 accumulate";
	return tf32_ ? "tf32 tensor cores" : "true fp32 (no tf32)";
}

ConvEngine::Key ConvEngine::key(const ConvSpec &s, int n, bool residual) const
{
	return Key(n, s.cin_store, s.hin, s.win, s.cout, s.kh, s.kw, s.stride, s.pad, s.groups, s.relu, residual);
}

void ConvEngine::describe(ConvRun &r, const ConvSpec &s, int n)
{
	/* BF16: cuDNN's PSEUDO_BFLOAT16_CONFIG (bfloat16 x, w, y; FP32 compute type) */
	cudnnDataType_t t = dt_ == Dt::F16 ? CUDNN_DATA_HALF : dt_ == Dt::BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
	CK_CUDNN(cudnnCreateTensorDescriptor(&r.x));
	CK_CUDNN(cudnnCreateTensorDescriptor(&r.y));
	CK_CUDNN(cudnnCreateTensorDescriptor(&r.b));
	CK_CUDNN(cudnnCreateFilterDescriptor(&r.w));
	CK_CUDNN(cudnnCreateConvolutionDescriptor(&r.conv));
	CK_CUDNN(cudnnSetTensor4dDescriptor(r.x, CUDNN_TENSOR_NHWC, t, n, s.cin_store, s.hin, s.win));
	CK_CUDNN(cudnnSetTensor4dDescriptor(r.y, CUDNN_TENSOR_NHWC, t, n, s.cout, s.hout, s.wout));
	CK_CUDNN(cudnnSetTensor4dDescriptor(r.b, CUDNN_TENSOR_NHWC, t, 1, s.cout, 1, 1));
	CK_CUDNN(cudnnSetFilter4dDescriptor(r.w, t, CUDNN_TENSOR_NHWC, s.cout, s.cin_store / s.groups, s.kh, s.kw));
	CK_CUDNN(cudnnSetConvolution2dDescriptor(r.conv, s.pad, s.pad, s.stride, s.stride, 1, 1,
						 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
	if (s.groups > 1)
		CK_CUDNN(cudnnSetConvolutionGroupCount(r.conv, s.groups));
	CK_CUDNN(cudnnSetConvolutionMathType(r.conv, dt_ == Dt::F32 && !tf32_ ? CUDNN_FMA_MATH
									       : CUDNN_TENSOR_OP_MATH));
	int on, oc, oh, ow;
	CK_CUDNN(cudnnGetConvolution2dForwardOutputDim(r.conv, r.x, r.w, &on, &oc, &oh, &ow));
	if (on != n || oc != s.cout || oh != s.hout || ow != s.wout)
		fail("cudnn", "cudnnGetConvolution2dForwardOutputDim",
		     s.name + ": output " + std::to_string(oc) + "x" + std::to_string(oh) + "x" + std::to_string(ow) +
			     " differs from the plan's " + std::to_string(s.cout) + "x" + std::to_string(s.hout) + "x" +
			     std::to_string(s.wout),
		     __FILE__, __LINE__);
	r.relu = s.relu;
	r.cout = s.cout;
	r.count = (long)n * s.hout * s.wout * s.cout;
}

void ConvEngine::apply(ConvRun &r, const Choice &c)
{
	/* true FP32 stays on FMA kernels whatever the search reported; FP32 data
	 * is never converted down to FP16, nor BF16 data to FP16's narrower
	 * range (ALLOW_CONVERSION) */
	cudnnMathType_t m = c.math;
	if (dt_ == Dt::F32 && !tf32_)
		m = CUDNN_FMA_MATH;
	else if (dt_ != Dt::F16 && m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
		m = CUDNN_TENSOR_OP_MATH;
	CK_CUDNN(cudnnSetConvolutionMathType(r.conv, m));
	r.algo = c.algo;
	r.fused = c.fused;
	CK_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(h_, r.x, r.w, r.conv, r.y, r.algo, &r.ws));
}

/* True FP32 sums the products directly: no FFT or Winograd transforms, whose
 * rounding differs from the convolution's own (and from the CPU's). */
bool ConvEngine::allowed(cudnnConvolutionFwdAlgo_t a) const
{
	if (dt_ != Dt::F32 || tf32_)
		return true;
	return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
	       a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}

/* Candidates: cuDNN's heuristic ranking (its first few within the
 * workspace), each timed on the real call and buffers. A ReLU convolution
 * tries the fused call first; only if no candidate runs fused does it take
 * the plain convolution + our epilogue kernel. If the heuristic offers
 * nothing that runs, every algorithm is tried. A candidate that fails is
 * skipped; the winner is cached by shape. */
void ConvEngine::choose(ConvRun &r, const ConvSpec &s, int n, const void *x, const void *w, const void *b,
			const void *z, void *y, void *ws, size_t ws_cap)
{
	auto it = cache_.find(key(s, n, z != nullptr));
	if (it != cache_.end()) {
		apply(r, it->second);
		return;
	}
	cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
	int got = 0;
	/* a failing heuristic leaves the list empty: every algorithm is tried */
	if (cudnnGetConvolutionForwardAlgorithm_v7(h_, r.x, r.w, r.conv, r.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
						   perf) != CUDNN_STATUS_SUCCESS)
		got = 0;
	const size_t max_candidates = 4;
	std::vector<Choice> ranked, every;
	for (int i = 0; i < got && ranked.size() < max_candidates; i++)
		if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ws_cap && allowed(perf[i].algo))
			ranked.push_back(Choice{perf[i].algo, perf[i].mathType, perf[i].memory, true});
	cudnnMathType_t m = dt_ == Dt::F32 && !tf32_ ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
	for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; a++)
		if (allowed((cudnnConvolutionFwdAlgo_t)a))
			every.push_back(Choice{(cudnnConvolutionFwdAlgo_t)a, m, 0, true});

	Choice best{};
	float best_ms = 0;
	bool have = false;
	auto trial = [&](const std::vector<Choice> &list, bool fused) {
		for (Choice c : list) {
			c.fused = fused;
			float ms = 0;
			if (time_choice(r, c, x, w, b, z, y, ws, ws_cap, ms) && (!have || ms < best_ms)) {
				best = c;
				best_ms = ms;
				have = true;
			}
		}
	};
	trial(ranked, true);
	if (!have && r.relu)
		trial(ranked, false);
	if (!have)
		trial(every, true);
	if (!have && r.relu)
		trial(every, false);
	if (!have)
		fail("cudnn", "choose algorithm",
		     s.name + ": no algorithm ran for batch " + std::to_string(n) + " within " + std::to_string(ws_cap) +
			     " bytes of workspace",
		     __FILE__, __LINE__);
	cache_[key(s, n, z != nullptr)] = best;
	apply(r, best);
}

/* Run choice c a few times (after one untimed run that loads its kernels);
 * false if it cannot run here. */
bool ConvEngine::time_choice(ConvRun &r, const Choice &c, const void *x, const void *w, const void *b,
			     const void *z, void *y, void *ws, size_t ws_cap, float &ms)
{
	const int reps = 3;
	cudaStream_t st;
	CK_CUDNN(cudnnGetStream(h_, &st));
	try {
		apply(r, c);
		if (r.ws > ws_cap)
			return false;
		call(r, x, w, b, z, y, ws, ws_cap, false); /* a refusal here rules the candidate out */
		CK_CUDA(cudaEventRecord(t0_, st));
		for (int k = 0; k < reps; k++)
			call(r, x, w, b, z, y, ws, ws_cap, false);
		CK_CUDA(cudaEventRecord(t1_, st));
		CK_CUDA(cudaEventSynchronize(t1_));
		CK_CUDA(cudaEventElapsedTime(&ms, t0_, t1_));
		return true;
	} catch (const Error &) {
		/* not this algorithm for this call: clear and let the caller try the next */
		(void)cudaGetLastError();
		CK_CUDA(cudaStreamSynchronize(st));
		return false;
	}
}

void ConvEngine::run(const ConvRun &r, const void *x, const void *w, const void *b, const void *z, void *y, void *ws,
		     size_t ws_size) const
{
	call(r, x, w, b, z, y, ws, ws_size, true);
}

void ConvEngine::call(const ConvRun &r, const void *x, const void *w, const void *b, const void *z, void *y, void *ws,
		      size_t ws_size, bool may_fall_back) const
{
	const float one = 1.0f, zero = 0.0f;
	/* the plain convolution, then for a ReLU one our epilogue (bias, residual, ReLU) */
	auto plain = [&] {
		CK_CUDNN(cudnnConvolutionForward(h_, &one, r.x, x, r.w, w, r.conv, r.algo, ws, ws_size, &zero, r.y, y));
		if (r.relu) {
			cudaStream_t s;
			CK_CUDNN(cudnnGetStream(h_, &s));
			launch_bias_relu(y, b, z, dt_, r.count, r.cout, s);
		}
	};
	if (!r.relu || !r.fused) {
		plain();
		return;
	}
	/* without a residual, z = y with alpha2 = 0: cuDNN does not read it */
	const float alpha2 = z ? 1.0f : 0.0f;
	cudnnStatus_t st = cudnnConvolutionBiasActivationForward(h_, &one, r.x, x, r.w, w, r.conv, r.algo, ws, ws_size,
								 &alpha2, r.y, z ? z : y, r.b, b, relu_, r.y, y);
	if (st == CUDNN_STATUS_NOT_SUPPORTED && may_fall_back) {
		/* choose() ran this very call, so this should not happen; if a
		 * library refuses it after all, the same result the slower way */
		static bool noted = false;
		if (!noted)
			diag_msg("cudnn: cudnnConvolutionBiasActivationForward: CUDNN_STATUS_NOT_SUPPORTED after the "
				 "algorithm search: plain convolution + epilogue from here (%s:%d)",
				 __FILE__, __LINE__);
		noted = true;
		plain();
		return;
	}
	if (st != CUDNN_STATUS_SUCCESS)
		fail_cudnn(st, "cudnnConvolutionBiasActivationForward", __FILE__, __LINE__);
}

} // namespace gpu
