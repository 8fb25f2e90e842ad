/* fake_cuda.cc - a fake GPU for the tests of machines without one: the CUDA
 * runtime, cuDNN and cuBLAS calls that gpu/ makes, implemented on the host
 * from their documented semantics, so that rnencode and txtencode built
 * against it (tests/gpu/test_gpu_fake.sh) run their whole --device cuda
 * path here: setup, descriptors, the algorithm search, pinned buffers,
 * streams and events, graph capture and replay, the memory trace, and our
 * kernels (through tests/gpu/cuda_emu.h).
 *
 * It is not NVIDIA's implementation: where this file and the real
 * libraries disagree, only a GPU can tell. What it does check, failing the
 * program with a "fake_cuda:" line where a GPU would fault, hang or return an
 * error:
 *   - every pointer a cuDNN or cuBLAS call reads or writes lies inside one
 *     device allocation, for the whole extent its descriptors give;
 *   - descriptors agree (data types: float, half, and bfloat16 converted
 *     to nearest even as its definition says; NHWC, the output shape of the
 *     convolution, the bias and residual shapes), the workspace is as large
 *     as the algorithm needs, cuBLAS leading dimensions follow its rules;
 *   - nothing illegal happens while a stream is captured (allocation,
 *     synchronous copies, synchronisation, work on the legacy stream); the
 *     capture is invalidated then, as the runtime does;
 *   - timing events: elapsed time only between recorded events created
 *     with timing.
 * Device memory starts as NaN bytes and every allocation ends at a guard
 * page, so unwritten reads and overruns show. Two switches make the
 * libraries refuse what real ones may refuse, to exercise the callers'
 * fallbacks: FAKE_CUDA_NO_CAPTURE=1 (every stream capture fails) and
 * FAKE_CUDNN_NO_FUSED=1 (no fused convolution + bias + activation);
 * FAKE_CUDA_SM=NN makes the card compute capability N.N (default 9.0). Streams run their work at
 * once, in order (the host is the device): races between streams cannot
 * show here.
 */
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <oneapi/dnnl/dnnl.h>

#include "bf16_ref.h"

/* ---- the opaque handle types, defined here ---- */

struct CUstream_st {
	unsigned flags = 0;
	bool capturing = false, invalidated = false;
	std::vector<std::function<void()>> captured;
};
struct CUevent_st {
	bool timing = true, recorded = false;
	double t = 0;
};
struct CUgraph_st {
	std::vector<std::function<void()>> nodes;
};
struct CUgraphExec_st {
	std::vector<std::function<void()>> nodes;
};
struct cudnnContext {
	cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
	bool set = false;
	cudnnTensorFormat_t fmt = CUDNN_TENSOR_NCHW;
	cudnnDataType_t dt = CUDNN_DATA_FLOAT;
	int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
	bool set = false;
	cudnnTensorFormat_t fmt = CUDNN_TENSOR_NCHW;
	cudnnDataType_t dt = CUDNN_DATA_FLOAT;
	int k = 0, c = 0, h = 0, w = 0;
};
struct cudnnConvolutionStruct {
	bool set = false;
	int pad_h = 0, pad_w = 0, u = 1, v = 1, dil_h = 1, dil_w = 1;
	int groups = 1; /* filter channels = x channels / groups */
	cudnnConvolutionMode_t mode = CUDNN_CONVOLUTION;
	cudnnDataType_t compute = CUDNN_DATA_FLOAT;
	cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
struct cudnnActivationStruct {
	cudnnActivationMode_t mode = CUDNN_ACTIVATION_IDENTITY;
};
struct cublasContext {
	cudaStream_t stream = nullptr;
	void *ws = nullptr;
	size_t ws_bytes = 0;
	cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

[[noreturn]] void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fake_cuda: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

double now()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* device allocations: base -> bytes */
std::map<const char *, size_t> &allocs()
{
	static std::map<const char *, size_t> m;
	return m;
}
size_t in_use = 0;
const size_t device_bytes = (size_t)2 << 30; /* the search scratch is a quarter of what is free */

/* [p, p + bytes) inside one device allocation, or die naming the call */
void need_device(const void *p, size_t bytes, const char *call, const char *what)
{
	const char *c = (const char *)p;
	auto it = allocs().upper_bound(c);
	if (p && it != allocs().begin()) {
		--it;
		if (c >= it->first && c + bytes <= it->first + it->second)
			return;
	}
	die("%s: %s: %zu bytes at %p are not inside one device allocation", call, what, bytes, p);
}

/* the stream being captured by this thread, if any (thread-local capture) */
CUstream_st *capturing = nullptr;

/* Work on stream s: recorded while s is captured, else done now. */
void enqueue(cudaStream_t s, std::function<void()> f)
{
	if (capturing && !s) /* the legacy stream synchronizes with every blocking stream */
		die("work on the legacy default stream while stream %p is captured", (void *)capturing);
	if (s && s->capturing) {
		s->captured.push_back(std::move(f));
		return;
	}
	f();
}

/* A call that is not allowed during a capture: invalidates it and fails. */
cudaError_t capture_forbids(const char *call)
{
	if (!capturing)
		return cudaSuccess;
	fprintf(stderr, "fake_cuda: %s during a stream capture (the capture is invalidated)\n", call);
	capturing->invalidated = true;
	return cudaErrorStreamCaptureUnsupported;
}

/* A failing call also sets the error cudaGetLastError returns (the
 * emulator's, which launches set too), as the runtime does. */
cudaError_t ret(cudaError_t e)
{
	if (e != cudaSuccess)
		cuda_emu::emu().last = e;
	return e;
}

struct InstallHook {
	InstallHook() { cuda_emu::submit_hook() = enqueue; }
} install_hook;

size_t dt_bytes(cudnnDataType_t t) { return t == CUDNN_DATA_HALF || t == CUDNN_DATA_BFLOAT16 ? 2 : 4; }
float load(cudnnDataType_t t, const void *p, size_t i)
{
	if (t == CUDNN_DATA_BFLOAT16)
		return bf16_ref_value(((const uint16_t *)p)[i]);
	return t == CUDNN_DATA_HALF ? __half2float(((const __half *)p)[i]) : ((const float *)p)[i];
}
void store(cudnnDataType_t t, void *p, size_t i, float v)
{
	if (t == CUDNN_DATA_BFLOAT16)
		((uint16_t *)p)[i] = bf16_ref_bits(v);
	else if (t == CUDNN_DATA_HALF)
		((__half *)p)[i] = __float2half_rn(v);
	else
		((float *)p)[i] = v;
}

} // namespace

/* ---- dlopen: the driver library the availability check looks for ---- */

static char fake_driver;
extern "C" void *dlopen(const char *file, int mode)
{
	if (file && strcmp(file, "libcuda.so.1") == 0)
		return &fake_driver;
	static auto real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	return real(file, mode);
}
extern "C" int dlclose(void *h)
{
	if (h == &fake_driver)
		return 0;
	static auto real = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
	return real(h);
}

/* ---- CUDA runtime ---- */

extern "C" {

const char *cudaGetErrorName(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "cudaSuccess";
	case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
	case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
	case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
	case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
	case cudaErrorNotReady: return "cudaErrorNotReady";
	case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
	case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
	case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
	default: return "cudaError(fake)";
	}
}
const char *cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }

cudaError_t cudaGetDeviceCount(int *n)
{
	*n = 1;
	return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice); }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d)
{
	if (d != 0)
		return ret(cudaErrorInvalidDevice);
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "fake GPU (tests/gpu/fake_cuda.cc)");
	/* FAKE_CUDA_SM=75: an older card (what needs sm_80, bf16, is then refused) */
	const char *sm = getenv("FAKE_CUDA_SM");
	int v = sm && *sm ? atoi(sm) : 90;
	p->major = v / 10;
	p->minor = v % 10;
	p->multiProcessorCount = 132;
	p->totalGlobalMem = device_bytes;
	return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v)
{
	*v = CUDART_VERSION;
	return cudaSuccess;
}
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, const void *)
{
	memset(a, 0, sizeof *a);
	return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total)
{
	*free_b = device_bytes - in_use;
	*total = device_bytes;
	return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
	if (cudaError_t e = capture_forbids("cudaMalloc"))
		return ret(e);
	if (in_use + bytes > device_bytes)
		return ret(cudaErrorMemoryAllocation);
	size_t n = bytes ? bytes : 1;
	char *q = (char *)cuda_emu::emu_alloc(n);
	/* NaN in float and half; the search's large scratch stays zero pages */
	if (n <= ((size_t)256 << 20))
		memset(q, 0xff, n);
	allocs()[q] = n;
	in_use += n;
	*p = q;
	return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
	if (!p)
		return cudaSuccess;
	if (cudaError_t e = capture_forbids("cudaFree"))
		return ret(e);
	auto it = allocs().find((const char *)p);
	if (it == allocs().end())
		die("cudaFree(%p): not a device allocation", p);
	in_use -= it->second;
	cuda_emu::emu_free(p, it->second);
	allocs().erase(it);
	return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned)
{
	*p = malloc(bytes ? bytes : 1);
	if (!*p)
		return ret(cudaErrorMemoryAllocation);
	memset(*p, 0xff, bytes);
	return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p)
{
	free(p);
	return cudaSuccess;
}

static void copy_check(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, const char *call)
{
	if (k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice)
		need_device(dst, bytes, call, "destination");
	if (k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice)
		need_device(src, bytes, call, "source");
	if (k == cudaMemcpyDefault || k == cudaMemcpyHostToHost)
		die("%s: kind %d (this fake knows H2D, D2H, D2D)", call, (int)k);
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind k)
{
	if (cudaError_t e = capture_forbids("cudaMemcpy"))
		return ret(e);
	copy_check(dst, src, bytes, k, "cudaMemcpy");
	memcpy(dst, src, bytes);
	return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, cudaStream_t s)
{
	copy_check(dst, src, bytes, k, "cudaMemcpyAsync");
	enqueue(s, [=] { memcpy(dst, src, bytes); });
	return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
	*s = new CUstream_st;
	(*s)->flags = flags;
	return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	if (s && s->capturing)
		die("cudaStreamDestroy of a stream being captured");
	delete s;
	return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t)
{
	if (cudaError_t e = capture_forbids("cudaStreamSynchronize"))
		return ret(e);
	return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void)
{
	if (cudaError_t e = capture_forbids("cudaDeviceSynchronize"))
		return ret(e);
	return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned)
{
	if (!e)
		return ret(cudaErrorInvalidResourceHandle);
	enqueue(s, [] {}); /* in order already: only the capture rule applies */
	return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
	*e = new CUevent_st;
	return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
	*e = new CUevent_st;
	(*e)->timing = !(flags & cudaEventDisableTiming);
	return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	delete e;
	return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	if (!e)
		return ret(cudaErrorInvalidResourceHandle);
	enqueue(s, [e] {
		e->t = now();
		e->recorded = true;
	});
	return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
	if (cudaError_t r = capture_forbids("cudaEventSynchronize"))
		return ret(r);
	return e ? cudaSuccess : ret(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
	if (!a || !b || !a->timing || !b->timing)
		return ret(cudaErrorInvalidResourceHandle); /* an event created with cudaEventDisableTiming */
	if (!a->recorded || !b->recorded)
		return ret(cudaErrorInvalidResourceHandle);
	*ms = (float)((b->t - a->t) * 1000.0);
	return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode)
{
	if (!s)
		die("cudaStreamBeginCapture on the legacy stream");
	if (capturing)
		die("cudaStreamBeginCapture while stream %p is captured", (void *)capturing);
	s->capturing = true;
	s->invalidated = false;
	s->captured.clear();
	capturing = s;
	return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g)
{
	if (!s || !s->capturing)
		return ret(cudaErrorInvalidValue);
	s->capturing = false;
	capturing = nullptr;
	/* FAKE_CUDA_NO_CAPTURE=1: every capture fails, as where a library call
	 * in it cannot be captured (the caller's fallback is then exercised) */
	const char *no = getenv("FAKE_CUDA_NO_CAPTURE");
	if (s->invalidated || (no && strcmp(no, "1") == 0)) {
		*g = nullptr;
		s->captured.clear();
		return ret(cudaErrorStreamCaptureInvalidated);
	}
	*g = new CUgraph_st;
	(*g)->nodes.swap(s->captured);
	return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long)
{
	if (!g)
		return ret(cudaErrorInvalidValue);
	*x = new CUgraphExec_st;
	(*x)->nodes = g->nodes;
	return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g)
{
	delete g;
	return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x)
{
	delete x;
	return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t s)
{
	if (!x)
		return ret(cudaErrorInvalidResourceHandle);
	for (const auto &f : x->nodes)
		enqueue(s, f);
	return cudaSuccess;
}

/* ---- cuDNN ---- */

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
const char *cudnnGetErrorString(cudnnStatus_t s)
{
	switch (s) {
	case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
	case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
	case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
	default: return "CUDNN_STATUS(fake)";
	}
}
void cudnnGetLastErrorString(char *msg, size_t cap)
{
	if (cap)
		msg[0] = 0;
}
cudnnStatus_t cudnnCreate(cudnnHandle_t *h)
{
	*h = new cudnnContext;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t h)
{
	delete h;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s)
{
	h->stream = s;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetStream(cudnnHandle_t h, cudaStream_t *s)
{
	*s = h->stream;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d)
{
	*d = new cudnnTensorStruct;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d)
{
	delete d;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n,
					 int c, int h, int w)
{
	if (n < 1 || c < 1 || h < 1 || w < 1 || (t != CUDNN_DATA_FLOAT && t != CUDNN_DATA_HALF && t != CUDNN_DATA_BFLOAT16))
		return CUDNN_STATUS_BAD_PARAM;
	*d = cudnnTensorStruct{true, f, t, n, c, h, w};
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d)
{
	*d = new cudnnFilterStruct;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d)
{
	delete d;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k,
					 int c, int h, int w)
{
	if (k < 1 || c < 1 || h < 1 || w < 1)
		return CUDNN_STATUS_BAD_PARAM;
	*d = cudnnFilterStruct{true, f, t, k, c, h, w};
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d)
{
	*d = new cudnnConvolutionStruct;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d)
{
	delete d;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int u, int v, int dh,
					      int dw, cudnnConvolutionMode_t m, cudnnDataType_t ct)
{
	if (ph < 0 || pw < 0 || u < 1 || v < 1 || dh < 1 || dw < 1)
		return CUDNN_STATUS_BAD_PARAM;
	d->set = true;
	d->pad_h = ph, d->pad_w = pw, d->u = u, d->v = v, d->dil_h = dh, d->dil_w = dw, d->mode = m, d->compute = ct;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int g)
{
	if (g < 1)
		return CUDNN_STATUS_BAD_PARAM;
	d->groups = g;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m)
{
	d->math = m;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t c,
						    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
						    int *n, int *k, int *h, int *wo)
{
	if (!c->set || !x->set || !w->set || x->c != w->c * c->groups || w->k % c->groups)
		return CUDNN_STATUS_BAD_PARAM;
	*n = x->n;
	*k = w->k;
	*h = 1 + (x->h + 2 * c->pad_h - ((w->h - 1) * c->dil_h + 1)) / c->u;
	*wo = 1 + (x->w + 2 * c->pad_w - ((w->w - 1) * c->dil_w + 1)) / c->v;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *d)
{
	*d = new cudnnActivationStruct;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d)
{
	delete d;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, cudnnActivationMode_t m,
					   cudnnNanPropagation_t, double)
{
	d->mode = m;
	return CUDNN_STATUS_SUCCESS;
}

} // extern "C"

namespace {

/* The workspace this fake's algorithms need: none for the implicit GEMMs,
 * an im2col-sized buffer for GEMM, so the caller's sizing is exercised. */
size_t algo_workspace(cudnnConvolutionFwdAlgo_t a, const cudnnTensorStruct *y, const cudnnFilterStruct *w)
{
	if (a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM)
		return (size_t)y->n * y->h * y->w * w->c * w->h * w->w * 4;
	return 0;
}
bool algo_known(cudnnConvolutionFwdAlgo_t a)
{
	return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
	       a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
}

/* Shared checks of a forward convolution call; the element counts back. */
void conv_check(const char *call, cudnnHandle_t h, const cudnnTensorStruct *x, const void *xp,
		const cudnnFilterStruct *w, const void *wp, const cudnnConvolutionStruct *c,
		cudnnConvolutionFwdAlgo_t algo, const void *ws, size_t ws_bytes, const cudnnTensorStruct *y,
		const void *yp)
{
	if (!h || !x->set || !w->set || !c->set || !y->set)
		die("%s: a descriptor was never set", call);
	if (x->fmt != CUDNN_TENSOR_NHWC || y->fmt != CUDNN_TENSOR_NHWC || w->fmt != CUDNN_TENSOR_NHWC)
		die("%s: this fake knows NHWC tensors and filters only", call);
	if (x->dt != y->dt || x->dt != w->dt)
		die("%s: data types differ: x %d, w %d, y %d", call, (int)x->dt, (int)w->dt, (int)y->dt);
	if (c->mode != CUDNN_CROSS_CORRELATION)
		die("%s: CUDNN_CONVOLUTION flips the filter: torch's conv2d is a cross-correlation", call);
	/* FLOAT_CONFIG, PSEUDO_HALF_CONFIG, PSEUDO_BFLOAT16_CONFIG: FP32 compute type */
	if (c->compute != CUDNN_DATA_FLOAT)
		die("%s: compute type %d: FP32 accumulation expected", call, (int)c->compute);
	if (x->dt == CUDNN_DATA_FLOAT && c->math != CUDNN_FMA_MATH && c->math != CUDNN_TENSOR_OP_MATH)
		die("%s: FP32 data with math type %d (ALLOW_CONVERSION would compute in FP16)", call, (int)c->math);
	int n = 0, k = 0, ho = 0, wo = 0;
	cudnnGetConvolution2dForwardOutputDim(const_cast<cudnnConvolutionStruct *>(c), const_cast<cudnnTensorStruct *>(x),
					      const_cast<cudnnFilterStruct *>(w), &n, &k, &ho, &wo);
	if (x->c != w->c * c->groups || w->k % c->groups || y->n != n || y->c != k || y->h != ho || y->w != wo)
		die("%s: y descriptor %dx%dx%dx%d, the convolution gives %dx%dx%dx%d (x channels %d, filter %d, %d groups)",
		    call, y->n, y->c, y->h, y->w, n, k, ho, wo, x->c, w->c, c->groups);
	if (!algo_known(algo))
		die("%s: algorithm %d was not offered by this fake's heuristics", call, (int)algo);
	size_t need = algo_workspace(algo, y, w);
	if (ws_bytes < need)
		die("%s: workspace of %zu bytes, algorithm %d needs %zu", call, ws_bytes, (int)algo, need);
	if (need)
		need_device(ws, need, call, "workspace");
	size_t es = dt_bytes(x->dt);
	need_device(xp, (size_t)x->n * x->c * x->h * x->w * es, call, "x");
	need_device(wp, (size_t)w->k * w->c * w->h * w->w * es, call, "w");
	need_device(yp, (size_t)y->n * y->c * y->h * y->w * es, call, "y");
}

/* out[n][ho][wo][k] = sum over r, s, c of x[n][ho*u - pad + r*dil][..][g*C + c] * w[k][r][s][c]
 * (KRSC; g = k's group, C = the filter's channels), in float, into acc
 * ([n*ho*wo][k]): per group the patches as rows (zero where the window
 * leaves the image) times the group's filters, one float GEMM (oneDNN's). */
void conv_compute(const cudnnTensorStruct *x, const void *xp, const cudnnFilterStruct *w, const void *wp,
		  const cudnnConvolutionStruct *c, const cudnnTensorStruct *y, std::vector<float> &acc)
{
	const long C = w->c, K = w->k, R = w->h, S = w->w, RSC = R * S * C, G = c->groups, KG = K / G;
	std::vector<float> wf((size_t)(K * RSC));
	for (size_t i = 0; i < wf.size(); i++)
		wf[i] = load(w->dt, wp, i);
	const long pix = (long)y->n * y->h * y->w;
	std::vector<float> cols((size_t)(pix * RSC));
	acc.assign((size_t)(pix * K), 0.0f);
	for (long g = 0; g < G; g++) {
#pragma omp parallel for schedule(static)
	for (long p = 0; p < pix; p++) {
		int ox = (int)(p % y->w), oy = (int)(p / y->w % y->h);
		long n = p / ((long)y->w * y->h);
		float *row = &cols[(size_t)(p * RSC)];
		for (long r = 0; r < R; r++)
			for (long q = 0; q < S; q++) {
				float *dst = row + (r * S + q) * C;
				long iy = oy * c->u - c->pad_h + r * c->dil_h, ix = ox * c->v - c->pad_w + q * c->dil_w;
				if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) {
					std::fill(dst, dst + C, 0.0f);
					continue;
				}
				size_t base = (((size_t)n * x->h + iy) * x->w + ix) * x->c + g * C;
				for (long ci = 0; ci < C; ci++)
					dst[ci] = load(x->dt, xp, base + ci);
			}
	}
	if (dnnl_sgemm('N', 'T', pix, KG, RSC, 1.0f, cols.data(), RSC, wf.data() + g * KG * RSC, RSC, 0.0f,
		       acc.data() + g * KG, K) != dnnl_success)
		die("dnnl_sgemm failed (the fake convolution)");
	}
}

/* Hash of a buffer's bytes (64-bit words, then the tail). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t h = 0x9e3779b97f4a7c15ull)
{
	const unsigned char *c = (const unsigned char *)p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, c + i, 8);
		h = (h ^ v) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

/* The algorithm search runs each convolution several times on the same
 * buffers. A call whose inputs (bytes and parameters) are those of the
 * call that last wrote y, while y still holds exactly what that call
 * wrote, would write the same bytes again: it is skipped. Only calls that
 * do not read y (beta = 0, z not y) are remembered. */
struct ConvMemo {
	uint64_t key = 0, out = 0;
};
std::map<const void *, ConvMemo> &conv_memo()
{
	static std::map<const void *, ConvMemo> m;
	return m;
}
bool memo_hit(const void *y, size_t ybytes, uint64_t key)
{
	auto it = conv_memo().find(y);
	return it != conv_memo().end() && it->second.key == key && it->second.out == hash_bytes(y, ybytes);
}
void memo_store(const void *y, size_t ybytes, uint64_t key) { conv_memo()[y] = ConvMemo{key, hash_bytes(y, ybytes)}; }
uint64_t hash_ints(std::initializer_list<long> v, uint64_t h)
{
	for (long x : v)
		h = hash_bytes(&x, sizeof x, h);
	return h;
}

/* Enqueue a convolution on h's stream: acc = conv(x, w), then epilogue(acc)
 * stores y. A call that does not read y is memoized (ConvMemo) under its
 * inputs: x, w, the descriptors' fields, and what more(key) hashes in. */
void conv_enqueue(cudnnHandle_t h, const cudnnTensorStruct *x, const void *xp, const cudnnFilterStruct *w,
		  const void *wp, const cudnnConvolutionStruct *c, const cudnnTensorStruct *y, void *yp, bool reads_y,
		  std::function<uint64_t(uint64_t)> more, std::function<void(const std::vector<float> &)> epilogue)
{
	cudnnTensorStruct xd = *x, yd = *y;
	cudnnFilterStruct wd = *w;
	cudnnConvolutionStruct cd = *c;
	enqueue(h->stream, [=] {
		size_t es = dt_bytes(yd.dt), ybytes = (size_t)yd.n * yd.c * yd.h * yd.w * es;
		uint64_t key = 0;
		if (!reads_y) {
			key = hash_bytes(xp, (size_t)xd.n * xd.c * xd.h * xd.w * es);
			key = hash_bytes(wp, (size_t)wd.k * wd.c * wd.h * wd.w * es, key);
			key = hash_ints({xd.fmt, xd.dt, xd.n, xd.c, xd.h, xd.w, wd.fmt, wd.dt, wd.k, wd.c, wd.h, wd.w, cd.pad_h,
					 cd.pad_w, cd.u, cd.v, cd.dil_h, cd.dil_w, cd.groups, cd.mode, cd.compute, cd.math},
					key);
			key = more(key);
			if (memo_hit(yp, ybytes, key))
				return;
		}
		std::vector<float> acc;
		conv_compute(&xd, xp, &wd, wp, &cd, &yd, acc);
		epilogue(acc);
		if (!reads_y)
			memo_store(yp, ybytes, key);
		else
			conv_memo().erase(yp);
	});
}

} // namespace

extern "C" {

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
						     const cudnnFilterDescriptor_t w,
						     const cudnnConvolutionDescriptor_t c,
						     const cudnnTensorDescriptor_t y, const int requested, int *got,
						     cudnnConvolutionFwdAlgoPerf_t *perf)
{
	if (!x->set || !w->set || !c->set || !y->set || requested < 1)
		return CUDNN_STATUS_BAD_PARAM;
	/* one implicit GEMM first, then GEMM with its workspace: the caller times both */
	cudnnConvolutionFwdAlgo_t list[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
					    CUDNN_CONVOLUTION_FWD_ALGO_GEMM};
	int n = 0;
	for (cudnnConvolutionFwdAlgo_t a : list) {
		if (n == requested)
			break;
		memset(&perf[n], 0, sizeof perf[n]);
		perf[n].algo = a;
		perf[n].status = CUDNN_STATUS_SUCCESS;
		perf[n].memory = algo_workspace(a, y, w);
		perf[n].mathType = x->dt == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
		n++;
	}
	*got = n;
	return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t,
						      const cudnnFilterDescriptor_t w,
						      const cudnnConvolutionDescriptor_t,
						      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t a,
						      size_t *bytes)
{
	if (!algo_known(a)) {
		*bytes = 0;
		return CUDNN_STATUS_NOT_SUPPORTED;
	}
	*bytes = algo_workspace(a, y, w);
	return CUDNN_STATUS_SUCCESS;
}

/* y = alpha conv(x, w) + beta y */
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t x,
				      const void *xp, const cudnnFilterDescriptor_t w, const void *wp,
				      const cudnnConvolutionDescriptor_t c, cudnnConvolutionFwdAlgo_t algo, void *ws,
				      size_t ws_bytes, const void *beta, const cudnnTensorDescriptor_t y, void *yp)
{
	if (!algo_known(algo))
		return CUDNN_STATUS_NOT_SUPPORTED;
	conv_check("cudnnConvolutionForward", h, x, xp, w, wp, c, algo, ws, ws_bytes, y, yp);
	float al = *(const float *)alpha, be = *(const float *)beta;
	cudnnDataType_t t = y->dt;
	conv_enqueue(
		h, x, xp, w, wp, c, y, yp, be != 0.0f, [=](uint64_t k) { return hash_bytes(&al, sizeof al, k); },
		[=](const std::vector<float> &acc) {
			for (size_t i = 0; i < acc.size(); i++)
				store(t, yp, i, al * acc[i] + (be != 0.0f ? be * load(t, yp, i) : 0.0f));
		});
	return CUDNN_STATUS_SUCCESS;
}

/* y = act(alpha1 conv(x, w) + alpha2 z + bias) */
cudnnStatus_t cudnnConvolutionBiasActivationForward(
	cudnnHandle_t h, const void *alpha1, const cudnnTensorDescriptor_t x, const void *xp,
	const cudnnFilterDescriptor_t w, const void *wp, const cudnnConvolutionDescriptor_t c,
	cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_bytes, const void *alpha2, const cudnnTensorDescriptor_t z,
	const void *zp, const cudnnTensorDescriptor_t b, const void *bp, const cudnnActivationDescriptor_t act,
	const cudnnTensorDescriptor_t y, void *yp)
{
	if (!algo_known(algo))
		return CUDNN_STATUS_NOT_SUPPORTED;
	const char *call = "cudnnConvolutionBiasActivationForward";
	/* FAKE_CUDNN_NO_FUSED=1: the fused call is never supported (the
	 * caller's plain convolution + epilogue kernel is then exercised) */
	const char *nf = getenv("FAKE_CUDNN_NO_FUSED");
	if (nf && strcmp(nf, "1") == 0)
		return CUDNN_STATUS_NOT_SUPPORTED;
	conv_check(call, h, x, xp, w, wp, c, algo, ws, ws_bytes, y, yp);
	if (act->mode == CUDNN_ACTIVATION_IDENTITY && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
		return CUDNN_STATUS_NOT_SUPPORTED; /* as documented */
	if (act->mode != CUDNN_ACTIVATION_RELU && act->mode != CUDNN_ACTIVATION_IDENTITY)
		die("%s: activation %d (this fake knows relu and identity)", call, (int)act->mode);
	if (!z->set || z->dt != y->dt || z->n != y->n || z->c != y->c || z->h != y->h || z->w != y->w)
		die("%s: z descriptor differs from y's", call);
	if (!b->set || b->n != 1 || b->c != y->c || b->h != 1 || b->w != 1 || b->dt != y->dt)
		die("%s: bias descriptor is not 1 x %d x 1 x 1 of y's type", call, y->c);
	size_t es = dt_bytes(y->dt), K = (size_t)y->c, ybytes = (size_t)y->n * y->c * y->h * y->w * es;
	need_device(bp, K * es, call, "bias");
	float a1 = *(const float *)alpha1, a2 = *(const float *)alpha2;
	if (a2 != 0.0f)
		need_device(zp, ybytes, call, "z");
	bool relu = act->mode == CUDNN_ACTIVATION_RELU;
	cudnnDataType_t t = y->dt;
	auto more = [=](uint64_t k) {
		k = hash_ints({relu}, hash_bytes(&a2, sizeof a2, hash_bytes(&a1, sizeof a1, k)));
		k = hash_bytes(bp, K * es, k);
		return a2 != 0.0f ? hash_bytes(zp, ybytes, k) : k;
	};
	conv_enqueue(h, x, xp, w, wp, c, y, yp, a2 != 0.0f && zp == yp, more, [=](const std::vector<float> &acc) {
		/* z is read before y is written: they may be the same buffer */
		std::vector<float> bias(K);
		for (size_t k = 0; k < K; k++)
			bias[k] = load(t, bp, k);
#pragma omp parallel for schedule(static)
		for (size_t p = 0; p < acc.size() / K; p++)
			for (size_t k = 0, i = p * K; k < K; k++, i++) {
				float v = a1 * acc[i] + (a2 != 0.0f ? a2 * load(t, zp, i) : 0.0f) + bias[k];
				store(t, yp, i, relu && v < 0.0f ? 0.0f : v);
			}
	});
	return CUDNN_STATUS_SUCCESS;
}

/* ---- cuBLAS ---- */

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
	*h = new cublasContext;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
	delete h;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s)
{
	h->stream = s;
	h->ws = nullptr; /* as documented: setting the stream resets the workspace to the default pool */
	h->ws_bytes = 0;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws, size_t bytes)
{
	if (bytes)
		need_device(ws, bytes, "cublasSetWorkspace", "workspace");
	h->ws = ws;
	h->ws_bytes = bytes;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m)
{
	h->math = m;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetVersion_v2(cublasHandle_t, int *v)
{
	*v = CUBLAS_VERSION;
	return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusName(cublasStatus_t s)
{
	return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS(fake)";
}
const char *cublasGetStatusString(cublasStatus_t s) { return cublasGetStatusName(s); }

/* C[m][n] (column-major, ldc) = alpha op(A) op(B) + beta C */
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
			    const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
			    int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t comp,
			    cublasGemmAlgo_t)
{
	const char *call = "cublasGemmEx";
	if (m < 0 || n < 0 || k < 0 || lda < (ta == CUBLAS_OP_N ? m : k) || ldb < (tb == CUBLAS_OP_N ? k : n) ||
	    ldc < m || lda < 1 || ldb < 1 || ldc < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	/* cublasGemmEx's table for CUBLAS_COMPUTE_32F(_FAST_TF32): A and B alike,
	 * 32F with C 32F; 16F or 16BF with C of their type or 32F */
	bool types_ok = at == bt && (at == CUDA_R_32F || at == CUDA_R_16F || at == CUDA_R_16BF) &&
			(ct == CUDA_R_32F || ct == at);
	if (!types_ok)
		die("%s: data types A %d, B %d, C %d: not a combination cuBLAS documents for FP32 compute", call,
		    (int)at, (int)bt, (int)ct);
	if (comp != CUBLAS_COMPUTE_32F && comp != CUBLAS_COMPUTE_32F_FAST_TF32)
		die("%s: compute type %d: FP32 accumulation expected", call, (int)comp);
	if (comp == CUBLAS_COMPUTE_32F_FAST_TF32 && at != CUDA_R_32F)
		die("%s: TF32 compute with 16-bit inputs", call);
	if (m == 0 || n == 0)
		return CUBLAS_STATUS_SUCCESS;
	size_t ea = at == CUDA_R_32F ? 4 : 2, ec = ct == CUDA_R_32F ? 4 : 2;
	long arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
	long brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
	need_device(A, ((size_t)(acols - 1) * lda + arows) * ea, call, "A");
	need_device(B, ((size_t)(bcols - 1) * ldb + brows) * ea, call, "B");
	need_device(C, ((size_t)(n - 1) * ldc + m) * ec, call, "C");
	float al = *(const float *)alpha, be = *(const float *)beta;
	auto as_dnn = [](cudaDataType t) {
		return t == CUDA_R_16F ? CUDNN_DATA_HALF : t == CUDA_R_16BF ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
	};
	cudnnDataType_t a_t = as_dnn(at), c_t = as_dnn(ct);
	enqueue(h->stream, [=] {
		/* op(A) as [m][k] and op(B) as [n][k] floats; D[n][m] = op(B) op(A)^T
		 * is C^T row-major, one float GEMM (oneDNN's) */
		std::vector<float> a((size_t)m * k), b((size_t)n * k), d((size_t)n * m);
		for (long i = 0; i < m; i++)
			for (long l = 0; l < k; l++)
				a[(size_t)i * k + l] = load(a_t, A, ta == CUBLAS_OP_N ? i + l * lda : l + i * lda);
		for (long j = 0; j < n; j++)
			for (long l = 0; l < k; l++)
				b[(size_t)j * k + l] = load(a_t, B, tb == CUBLAS_OP_N ? l + j * ldb : j + l * ldb);
		if (dnnl_sgemm('N', 'T', n, m, k, 1.0f, b.data(), k, a.data(), k, 0.0f, d.data(), m) != dnnl_success)
			die("dnnl_sgemm failed (the fake cublasGemmEx)");
		for (long j = 0; j < n; j++)
			for (long i = 0; i < m; i++) {
				size_t ci = (size_t)i + (size_t)j * ldc;
				store(c_t, C, ci, al * d[(size_t)j * m + i] + (be != 0.0f ? be * load(c_t, C, ci) : 0.0f));
			}
	});
	return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
