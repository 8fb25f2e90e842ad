/* gpu_encoder.cu - enc_backend_cuda: runs a gpu::Plan on one GPU.
 *
 * Streams: `copy` moves each batch's input from pinned host memory to its
 * device slot; `compute` waits for that copy, converts the input, runs the
 * network (a CUDA graph per batch size after one op-by-op warm-up batch) and
 * copies the outputs back into the slot's pinned output buffer. Slots are a
 * ring of `depth`: submit() fills the next, wait() drains the oldest.
 *
 * Device memory: weights (one buffer, packed by the plan), the activation
 * arena (one buffer, placed by the plan), the cuDNN workspace (the largest
 * any chosen algorithm needs), cuBLAS's workspace, the output buffer, and
 * one input buffer per slot; all through Mem, which counts and traces them.
 *
 * Errors: the C entry points catch gpu::Error (and any std::exception) and
 * return its one line; after a failure inside submit/wait the encoder is
 * marked broken and every later call returns the same message.
 */
#include "gpu_encoder.h"


#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gpu_check.h"
#include "gpu_conv.h"
#include "gpu_dump.h"
#include "gpu_kernels.h"
#include "gpu_mem.h"
#include "gpu_plan.h"

extern "C" {
#include "util/util.h"
}

namespace gpu {

namespace {

const int depth = 3;
const size_t blas_workspace = (size_t)32 << 20; /* cuBLAS's advice for Hopper */
const size_t find_workspace_max = (size_t)1 << 30;

/* One image of fmt, S x S pixels. */
size_t input_bytes(enc_input_t fmt, int S)
{
	size_t px = (size_t)S * S * 3;
	return fmt == ENC_INPUT_U8_HWC ? px : fmt == ENC_INPUT_F16_CHW ? 2 * px : 4 * px;
}

/* Everything that depends on the batch size n. */
struct Exec {
	int n = 0;
	std::vector<std::unique_ptr<ConvRun>> conv; /* per op; null for non-conv ops */
	cudaGraphExec_t graph = nullptr;
	bool no_graph = false; /* capture failed once: run op by op */
	long uses = 0;
	std::vector<cudaEvent_t> ev; /* per op, for the traced warm-up batch */
	~Exec()
	{
		if (graph)
			cudaGraphExecDestroy(graph);
		for (cudaEvent_t e : ev)
			cudaEventDestroy(e);
	}
};

struct Slot {
	void *h_in = nullptr; /* pinned, cap_in bytes, holds fmt */
	size_t cap_in = 0;
	enc_input_t fmt = ENC_INPUT_U8_HWC;
	void *d_in = nullptr;
	size_t cap_d = 0;
	float *h_out = nullptr; /* pinned [batch][out_dim] */
	cudaEvent_t copied = nullptr, start = nullptr, done = nullptr;
	int n = 0;
	bool timed = false;
	Exec *traced = nullptr; /* warm-up batch with per-op events */
	double t_submit = 0;
	size_t in_use = 0; /* device bytes allocated at launch: the traced ops' base */
};

/* "no usable GPU" reasons, in the order a user would fix them. */
bool device_usable(int ordinal, std::string &why)
{
	if (!driver_usable(ordinal, why))
		return false;
	size_t v = cudnnGetVersion();
	if (v / 10000 != CUDNN_VERSION / 10000) {
		why = "cuDNN " + std::to_string(v) + " found, this build needs cuDNN " + std::to_string(CUDNN_MAJOR) + ".x";
		return false;
	}
	return kernels_loadable(why);
}

} // namespace

} // namespace gpu

using namespace gpu;

struct encoder {
	const net_t *net = nullptr;
	enc_config_t cfg{};
	Dt dt = Dt::F32;
	bool tf32 = false;
	Plan plan;
	size_t es = 4; /* bytes per activation / weight element */
	cudaDeviceProp prop{};
	cudaStream_t compute = nullptr, copy = nullptr;
	cudnnHandle_t dnn = nullptr;
	cublasHandle_t blas = nullptr;
	std::unique_ptr<ConvEngine> convs;
	Mem mem;
	char *d_w = nullptr, *d_arena = nullptr;
	void *d_ws = nullptr, *d_blas_ws = nullptr;
	size_t ws_size = 0, arena_bytes = 0, weight_bytes = 0;
	float *d_out = nullptr;
	Slot slot[depth];
	int head = 0, inflight = 0;
	std::map<int, std::unique_ptr<Exec>> execs;
	std::string broken;
	bool graph_note = false;
	bool no_graphs = false; /* RNENC_NO_GRAPH: op by op always (debugging: an error names its op) */
	std::string dump; /* RNENC_GPU_DUMP: the first batch's image 0, op by op (gpu_dump.h) */
	bool dumped = false;
	char device_name[160] = "";
	long batches = 0;
	timing_t timing{}; /* warm-up batches (the first of each size) excluded */

	~encoder();
	void *act(int a) const { return d_arena + plan.acts[(size_t)a].off * (size_t)plan.batch * es; }
	const void *w(size_t off) const { return d_w + off * es; }
	void setup();
	void upload_weights();
	Exec &exec_for(int n);
	void gemm(int M, int N, int K, const void *X, int ldx, const void *W, void *Y, int ldy, bool y_f32);
	void run_ops(Exec &e, int n, bool trace, bool dumping = false);
	void dump_op(int i);
	void launch(Exec &e, int n, Slot &s);
	bool capture(Exec &e, int n);
	void trace_ops(const Slot &s);
};

encoder::~encoder()
{
	if (compute)
		CK_QUIET(cudaStreamSynchronize(compute));
	if (copy)
		CK_QUIET(cudaStreamSynchronize(copy));
	execs.clear();
	for (Slot &s : slot) {
		if (s.h_in)
			CK_QUIET(cudaFreeHost(s.h_in));
		if (s.h_out)
			CK_QUIET(cudaFreeHost(s.h_out));
		mem.release(s.d_in);
		for (cudaEvent_t e : {s.copied, s.start, s.done})
			if (e)
				CK_QUIET(cudaEventDestroy(e));
	}
	convs.reset();
	/* the handles first: cuBLAS may still hold its workspace */
	if (blas)
		cublasDestroy(blas);
	if (dnn)
		cudnnDestroy(dnn);
	mem.release(d_out);
	mem.release(d_ws);
	mem.release(d_blas_ws);
	mem.release(d_arena);
	mem.release(d_w);
	if (compute)
		CK_QUIET(cudaStreamDestroy(compute));
	if (copy)
		CK_QUIET(cudaStreamDestroy(copy));
}

/* Weights to the device in the storage type: FP16 and BF16 round the
 * BN-folded FP32 values once (to nearest even). One beyond the format's
 * range is refused: as an Inf it makes every sum it enters Inf or NaN
 * (0 * Inf), which the fused ReLU turns into 0, a wrong answer that no
 * check on the output sees (the CPU backend refuses them too). */
void encoder::upload_weights()
{
	const std::vector<float> &hw = plan.weights;
	weight_bytes = hw.size() * es;
	d_w = (char *)mem.alloc(weight_bytes, "weights");
	if (dt == Dt::F32) {
		CK_CUDA(cudaMemcpy(d_w, hw.data(), weight_bytes, cudaMemcpyHostToDevice));
		return;
	}
	std::vector<unsigned char> h(weight_bytes);
	const uint16_t ex = dt == Dt::F16 ? 0x7c00 : 0x7f80; /* exponent all ones: Inf or NaN */
	for (size_t i = 0; i < hw.size(); i++) {
		if (dt == Dt::F16) {
			__half v = __float2half_rn(hw[i]);
			memcpy(&h[2 * i], &v, 2);
		} else {
			__nv_bfloat16 v = __float2bfloat16_rn(hw[i]);
			memcpy(&h[2 * i], &v, 2);
		}
		uint16_t bits;
		memcpy(&bits, &h[2 * i], 2);
		if ((bits & ex) == ex)
			throw std::runtime_error(std::string("a weight or bias beyond ") +
						 (dt == Dt::F16 ? "float16" : "bfloat16") + "'s range after BatchNorm folding (" +
						 std::to_string(hw[i]) + "; " + precision_name(cfg.precision) +
						 " keeps the weights as " + (dt == Dt::F16 ? "float16" : "bfloat16") +
						 "): run it in fp32");
	}
	CK_CUDA(cudaMemcpy(d_w, h.data(), weight_bytes, cudaMemcpyHostToDevice));
}

void encoder::setup()
{
	mem.start();
	std::string why;
	if (!device_usable(cfg.device, why))
		fail("cuda", "device", why, __FILE__, __LINE__);
	prop = device_select(cfg.device);

	if (cfg.precision != PREC_FP32 && cfg.precision != PREC_TF32 && cfg.precision != PREC_BF16 &&
	    cfg.precision != PREC_FP16)
		throw std::runtime_error(std::string("precision ") + precision_name(cfg.precision) +
					 ": the cuda backend computes fp32, tf32, bf16 or fp16");
	dt = cfg.precision == PREC_FP16 ? Dt::F16 : cfg.precision == PREC_BF16 ? Dt::BF16 : Dt::F32;
	/* bfloat16 tensor cores (cuDNN's BF16 convolutions, cuBLAS's 16BF GEMMs) begin with sm_80 */
	if (dt == Dt::BF16 && prop.major < 8)
		throw std::runtime_error(std::string("precision bf16: ") + prop.name + " is sm_" +
					 std::to_string(prop.major) + std::to_string(prop.minor) +
					 "; bf16 needs compute capability 8.0 or later");
	es = dt_size(dt);
	plan = plan_build(net, cfg.batch, cfg.features != 0, dt_input_channels(dt));
	dump = dump_dir();
	if (!dump.empty())
		dump_begin(dump);
	const char *ng = getenv("RNENC_NO_GRAPH");
	no_graphs = ng && *ng && strcmp(ng, "0") != 0;

	CK_CUDA(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
	CK_CUDA(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
	CK_CUDNN(cudnnCreate(&dnn));
	CK_CUDNN(cudnnSetStream(dnn, compute));
	CK_CUBLAS(cublasCreate(&blas));
	CK_CUBLAS(cublasSetStream(blas, compute));
	convs.reset(new ConvEngine(dnn, dt, tf32));

	upload_weights();
	/* the pageable copies went through the legacy default stream, which the
	 * non-blocking compute stream does not wait for */
	CK_CUDA(cudaDeviceSynchronize());
	arena_bytes = plan.arena_elems * (size_t)plan.batch * es;
	d_arena = (char *)mem.alloc(arena_bytes, "activation arena");
	d_out = (float *)mem.alloc((size_t)plan.batch * plan.out_dim * sizeof(float), "output");
	d_blas_ws = mem.alloc(blas_workspace, "cublas workspace");
	CK_CUBLAS(cublasSetWorkspace(blas, d_blas_ws, blas_workspace));

	for (Slot &s : slot) {
		CK_CUDA(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
		CK_CUDA(cudaEventCreate(&s.start));
		/* the host sleeps in wait() instead of spinning a core the pipeline's
		 * other stages (imgdecode -j N) need; with batches in flight the
		 * wake-up overlaps the next batch's GPU work */
		CK_CUDA(cudaEventCreateWithFlags(&s.done, cudaEventBlockingSync));
		CK_CUDA(cudaHostAlloc((void **)&s.h_out, (size_t)plan.batch * plan.out_dim * sizeof(float),
				      cudaHostAllocDefault));
	}

	/* Algorithms for the full batch, timed with a temporary workspace; the
	 * kept workspace is the largest the chosen ones need. */
	size_t free_b = 0, total_b = 0;
	CK_CUDA(cudaMemGetInfo(&free_b, &total_b));
	size_t cap = free_b / 4 < find_workspace_max ? free_b / 4 : find_workspace_max;
	void *find_ws = mem.alloc(cap, "algorithm search workspace");
	std::unique_ptr<Exec> e(new Exec);
	e->n = plan.batch;
	e->conv.resize(plan.ops.size());
	try {
		for (size_t i = 0; i < plan.ops.size(); i++) {
			const Op &op = plan.ops[i];
			if (op.kind != OpKind::Conv)
				continue;
			const ConvSpec &cs = plan.convs[(size_t)op.conv];
			e->conv[i].reset(new ConvRun);
			convs->describe(*e->conv[i], cs, plan.batch);
			convs->choose(*e->conv[i], cs, plan.batch, act(op.in), w(cs.w), cs.relu ? w(cs.b) : nullptr,
				      op.res >= 0 ? act(op.res) : nullptr, act(op.out), find_ws, cap);
			ws_size = e->conv[i]->ws > ws_size ? e->conv[i]->ws : ws_size;
		}
	} catch (...) {
		mem.release(find_ws);
		throw;
	}
	mem.release(find_ws);
	d_ws = mem.alloc(ws_size, "cudnn workspace");
	execs[plan.batch] = std::move(e);
	/* the search workspace was start-up only: the peak counts what encoding holds */
	mem.reset_peak();

	int rt = 0;
	CK_CUDA(cudaRuntimeGetVersion(&rt));
	int bv = 0;
	CK_CUBLAS(cublasGetVersion(blas, &bv));
	snprintf(device_name, sizeof device_name, "cuda:%d %.100s (sm_%d%d, %d SMs; CUDA %d, cuDNN %zu, cuBLAS %d; %s)",
		 cfg.device, prop.name, prop.major, prop.minor, prop.multiProcessorCount, rt, cudnnGetVersion(), bv,
		 convs->math_name());
}

/* The Exec for n images: the full batch's was made in setup(); another size
 * (a stream's last, partial batch) chooses its algorithms within the
 * workspace already there. */
Exec &encoder::exec_for(int n)
{
	auto it = execs.find(n);
	if (it != execs.end())
		return *it->second;
	std::unique_ptr<Exec> e(new Exec);
	e->n = n;
	e->conv.resize(plan.ops.size());
	for (size_t i = 0; i < plan.ops.size(); i++) {
		const Op &op = plan.ops[i];
		if (op.kind != OpKind::Conv)
			continue;
		const ConvSpec &cs = plan.convs[(size_t)op.conv];
		e->conv[i].reset(new ConvRun);
		convs->describe(*e->conv[i], cs, n);
		/* queued after the batches in flight, which no longer need the arena */
		convs->choose(*e->conv[i], cs, n, act(op.in), w(cs.w), cs.relu ? w(cs.b) : nullptr,
			      op.res >= 0 ? act(op.res) : nullptr, act(op.out), d_ws, ws_size);
	}
	Exec &r = *e;
	execs[n] = std::move(e);
	return r;
}

/* Row-major Y[M][N] = X[M][K] . W[N][K]^T (X rows ldx apart, Y rows ldy apart),
 * as the column-major product Y^T = W . X^T. FP32 accumulation always; true
 * FP32 unless TF32 was asked for; FP16/BF16 inputs on the tensor cores. Y is
 * float32 when y_f32 (the outputs). */
void encoder::gemm(int M, int N, int K, const void *X, int ldx, const void *W, void *Y, int ldy, bool y_f32)
{
	cudaDataType_t t = dt == Dt::F16 ? CUDA_R_16F : dt == Dt::BF16 ? CUDA_R_16BF : CUDA_R_32F;
	cublasComputeType_t ct = dt == Dt::F32 && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
	const float one = 1.0f, zero = 0.0f;
	CK_CUBLAS(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, W, t, K, X, t, ldx, &zero, Y,
			       y_f32 ? CUDA_R_32F : t, ldy, ct, CUBLAS_GEMM_DEFAULT));
}

/* Op i's output for image 0 into the dump (waits for the GPU: debugging only).
 * Image 0 of an Act is its first h*w*c elements; fc/attnpool write d_out. */
void encoder::dump_op(int i)
{
	const Op &op = plan.ops[(size_t)i];
	CK_CUDA(cudaStreamSynchronize(compute));
	int h = 1, wd = 1, c = plan.out_dim;
	const void *src = d_out;
	size_t esz = sizeof(float);
	if (op.out >= 0) {
		const Act &a = plan.acts[(size_t)op.out];
		h = a.h, wd = a.w, c = a.c;
		src = act(op.out);
		esz = es;
	}
	size_t n = (size_t)h * wd * c;
	std::vector<unsigned char> raw(n * esz);
	CK_CUDA(cudaMemcpy(raw.data(), src, raw.size(), cudaMemcpyDeviceToHost));
	std::vector<float> v(n);
	if (esz == 2 && dt == Dt::BF16)
		for (size_t k = 0; k < n; k++)
			v[k] = __bfloat162float(((const __nv_bfloat16 *)raw.data())[k]);
	else if (esz == 2)
		for (size_t k = 0; k < n; k++)
			v[k] = __half2float(((const __half *)raw.data())[k]);
	else
		memcpy(v.data(), raw.data(), n * sizeof(float));
	dump_write(dump, i, op.name, h, wd, c, v.data());
}

/* Enqueue ops 1.. (op 0, the input conversion, is launch()'s) on compute;
 * with dumping, each op's output is copied out as soon as it is written
 * (later ops reuse the arena). */
void encoder::run_ops(Exec &e, int n, bool trace, bool dumping)
{
	if (dumping)
		dump_op(0);
	for (size_t i = 1; i < plan.ops.size(); i++) {
		const Op &op = plan.ops[i];
		const Act *in = op.in >= 0 ? &plan.acts[(size_t)op.in] : nullptr;
		switch (op.kind) {
		case OpKind::Input:
			break;
		case OpKind::Conv: {
			const ConvSpec &cs = plan.convs[(size_t)op.conv];
			convs->run(*e.conv[i], act(op.in), w(cs.w), cs.relu ? w(cs.b) : nullptr,
				   op.res >= 0 ? act(op.res) : nullptr, act(op.out), d_ws, ws_size);
			break;
		}
		case OpKind::MaxPool:
			launch_maxpool3s2(act(op.in), act(op.out), dt, n, in->h, in->w, in->c, compute);
			break;
		case OpKind::AvgPool:
			launch_avgpool(act(op.in), act(op.out), dt, n, in->h, in->w, in->c, op.k, compute);
			break;
		case OpKind::Gap:
			launch_gap(act(op.in), act(op.out), plan.features ? d_out : nullptr, dt, n, in->h * in->w, in->c,
				   compute);
			break;
		case OpKind::Fc:
			gemm(n, plan.fc.out, plan.fc.in, act(op.in), plan.fc.in, w(plan.fc.w), d_out, plan.fc.out, true);
			launch_bias_out(d_out, w(plan.fc.b), dt, n, plan.fc.out, compute);
			break;
		case OpKind::AttnPool: {
			const AttnSpec &a = plan.attn;
			void *tok = act(op.tmp[0]), *q = act(op.tmp[1]), *kv = act(op.tmp[2]), *o = act(op.tmp[3]);
			launch_attn_tokens(act(op.in), w(a.pos), tok, dt, n, in->h * in->w, in->c, compute);
			gemm(n, a.dim, a.dim, tok, a.tokens * a.dim, w(a.wq), q, a.dim, false); /* mean tokens only */
			gemm(n * a.tokens, 2 * a.dim, a.dim, tok, a.dim, w(a.wkv), kv, 2 * a.dim, false);
			launch_attn(q, w(a.bq), kv, w(a.bkv), o, dt, n, a.tokens, a.dim, a.heads, a.head_dim, compute);
			gemm(n, a.out, a.dim, o, a.dim, w(a.wc), d_out, a.out, true);
			launch_bias_out(d_out, w(a.bc), dt, n, a.out, compute);
			break;
		}
		}
		if (trace)
			CK_CUDA(cudaEventRecord(e.ev[i], compute));
		if (dumping)
			dump_op((int)i);
	}
}

/* Capture ops 1.. for n images as a graph; false (and op-by-op from then on)
 * if capture or instantiation fails, with one note on stderr. */
bool encoder::capture(Exec &e, int n)
{
	cudaGraph_t g = nullptr;
	CK_CUDA(cudaStreamBeginCapture(compute, cudaStreamCaptureModeThreadLocal));
	std::string why;
	try {
		run_ops(e, n, false);
	} catch (const std::exception &x) {
		why = x.what();
	}
	cudaError_t r = cudaStreamEndCapture(compute, &g);
	if (why.empty() && r != cudaSuccess)
		why = std::string("cudaStreamEndCapture: ") + cudaGetErrorName(r) + ": " + cudaGetErrorString(r);
	if (why.empty()) {
		r = cudaGraphInstantiate(&e.graph, g, 0);
		if (r != cudaSuccess) {
			why = std::string("cudaGraphInstantiate: ") + cudaGetErrorName(r) + ": " + cudaGetErrorString(r);
			e.graph = nullptr;
		}
	}
	if (g)
		cudaGraphDestroy(g);
	if (why.empty())
		return true;
	(void)cudaGetLastError();
	e.no_graph = true;
	if (!graph_note) {
		diag_msg("cuda: running without CUDA graphs (capture failed: %s)", why.c_str());
		graph_note = true;
	}
	return false;
}

/* Enqueue slot s's batch: copy in, convert, network, copy out. */
void encoder::launch(Exec &e, int n, Slot &s)
{
	size_t bytes = (size_t)n * input_bytes(s.fmt, plan.in_h);
	if (s.cap_d < bytes) {
		mem.release(s.d_in);
		s.d_in = nullptr;
		s.cap_d = 0;
		s.d_in = mem.alloc((size_t)plan.batch * input_bytes(s.fmt, plan.in_h),
				   "input slot " + std::to_string(&s - slot));
		s.cap_d = (size_t)plan.batch * input_bytes(s.fmt, plan.in_h);
	}
	CK_CUDA(cudaMemcpyAsync(s.d_in, s.h_in, bytes, cudaMemcpyHostToDevice, copy));
	CK_CUDA(cudaEventRecord(s.copied, copy));
	CK_CUDA(cudaStreamWaitEvent(compute, s.copied, 0));
	CK_CUDA(cudaEventRecord(s.start, compute));
	int hw = plan.in_h * plan.in_w;
	if (s.fmt == ENC_INPUT_U8_HWC) {
		Norm nm;
		for (int c = 0; c < 3; c++) {
			nm.mean[c] = net->mean[c];
			nm.std[c] = net->std[c];
		}
		launch_input_u8((const unsigned char *)s.d_in, act(0), dt, n, hw, nm, compute);
	} else {
		launch_input_chw(s.d_in, s.fmt == ENC_INPUT_F16_CHW, act(0), dt, n, hw, compute);
	}
	s.n = n;
	s.traced = nullptr;
	s.timed = false;
	s.t_submit = mem.since_start();
	s.in_use = mem.in_use();
	if (e.uses == 0) {
		/* warm-up: op by op (events per op when tracing memory) */
		bool trace = mem.tracing();
		if (trace && e.ev.empty()) {
			e.ev.resize(plan.ops.size());
			for (cudaEvent_t &ev : e.ev)
				CK_CUDA(cudaEventCreate(&ev));
			s.traced = &e;
		}
		bool dumping = !dump.empty() && !dumped;
		run_ops(e, n, trace && s.traced, dumping);
		dumped = dumped || dumping;
	} else {
		/* a batch whose graph is captured here (or fails to be) is not
		 * timed: its start event may be recorded before the host's capture */
		bool capturing = !e.graph && !e.no_graph && !no_graphs;
		if (capturing)
			capture(e, n);
		if (e.graph)
			CK_CUDA(cudaGraphLaunch(e.graph, compute));
		else
			run_ops(e, n, false);
		s.timed = !capturing;
	}
	e.uses++;
	CK_CUDA(cudaMemcpyAsync(s.h_out, d_out, (size_t)n * plan.out_dim * sizeof(float), cudaMemcpyDeviceToHost,
				compute));
	CK_CUDA(cudaEventRecord(s.done, compute));
}

/* The traced warm-up batch's ops as timeline lines: time from the per-op
 * events, bytes = what was allocated when the batch was launched, less the
 * arena, + the live activations. Written when the batch is waited for, so
 * these lines may follow alloc lines of later batches in the file (their
 * times say where they belong). */
void encoder::trace_ops(const Slot &s)
{
	size_t base = s.in_use - arena_bytes;
	size_t per = (size_t)s.n * es;
	mem.line(s.t_submit, base + plan_live_elems(plan, 0) * per, "op " + plan.ops[0].name);
	for (size_t i = 1; i < plan.ops.size(); i++) {
		float ms = 0;
		CK_CUDA(cudaEventElapsedTime(&ms, s.start, s.traced->ev[i]));
		mem.line(s.t_submit + ms / 1000.0, base + plan_live_elems(plan, (int)i) * per, "op " + plan.ops[i].name);
	}
}

/* ---- the C interface ---- */

namespace {

int cuda_available(int gpu, char *why, size_t cap)
{
	try {
		std::string w;
		if (device_usable(gpu, w))
			return 1;
		set_err(why, cap, w);
	} catch (const std::exception &x) {
		set_err(why, cap, x.what());
	}
	return 0;
}

encoder_t *cuda_create(const net_t *net, const enc_config_t *cfg, char *err, size_t errcap)
{
	encoder *e = nullptr;
	try {
		e = new encoder;
		e->net = net;
		e->cfg = *cfg;
		e->tf32 = cfg->precision == PREC_TF32;
		if (cfg->mem_trace)
			e->mem.open_trace(cfg->mem_trace);
		e->setup();
		return e;
	} catch (const std::exception &x) {
		set_err(err, errcap, x.what());
	} catch (...) {
		set_err(err, errcap, "cuda: unexpected failure while creating the encoder");
	}
	delete e;
	return nullptr;
}

void *cuda_input(encoder_t *e, enc_input_t fmt)
{
	if (!e->broken.empty())
		return nullptr;
	if (e->inflight == depth) {
		e->broken = "cuda: input() with " + std::to_string(depth) + " batches in flight (wait() first)";
		return nullptr;
	}
	Slot &s = e->slot[(e->head + e->inflight) % depth];
	size_t need = (size_t)e->plan.batch * input_bytes(fmt, e->plan.in_h);
	if (s.cap_in < need) {
		cudaError_t r = s.h_in ? cudaFreeHost(s.h_in) : cudaSuccess;
		s.h_in = nullptr;
		s.cap_in = 0;
		if (r != cudaSuccess) {
			e->broken = std::string("cuda: cudaFreeHost(input slot): ") + cudaGetErrorName(r) + ": " +
				    cudaGetErrorString(r);
			return nullptr;
		}
		r = cudaHostAlloc(&s.h_in, need, cudaHostAllocDefault);
		if (r != cudaSuccess) {
			e->broken = std::string("cuda: cudaHostAlloc(") + std::to_string(need) + " bytes): " +
				    cudaGetErrorName(r) + ": " + cudaGetErrorString(r);
			s.h_in = nullptr;
			return nullptr;
		}
		s.cap_in = need;
	}
	s.fmt = fmt;
	return s.h_in;
}

int cuda_submit(encoder_t *e, enc_input_t fmt, int n, char *err, size_t errcap)
{
	if (!e->broken.empty()) {
		set_err(err, errcap, e->broken);
		return -1;
	}
	Slot &s = e->slot[(e->head + e->inflight) % depth];
	if (n < 1 || n > e->plan.batch || e->inflight == depth || !s.h_in || s.fmt != fmt) {
		set_err(err, errcap, "cuda: submit of " + std::to_string(n) + " images without a matching input() buffer");
		return -1;
	}
	try {
		e->launch(e->exec_for(n), n, s);
		e->inflight++;
		return 0;
	} catch (const std::exception &x) {
		e->broken = x.what();
	}
	set_err(err, errcap, e->broken);
	return -1;
}

int cuda_wait(encoder_t *e, float *out, char *err, size_t errcap)
{
	if (!e->broken.empty()) {
		set_err(err, errcap, e->broken);
		return -1;
	}
	if (e->inflight == 0) {
		set_err(err, errcap, "cuda: wait() with no batch in flight");
		return -1;
	}
	Slot &s = e->slot[e->head];
	try {
		CK_CUDA(cudaEventSynchronize(s.done));
		if (s.timed) {
			float ms = 0;
			CK_CUDA(cudaEventElapsedTime(&ms, s.start, s.done));
			timing_add(&e->timing, ms / 1000.0, s.n, s.n == e->plan.batch);
		}
		if (s.traced)
			e->trace_ops(s);
		memcpy(out, s.h_out, (size_t)s.n * e->plan.out_dim * sizeof(float));
		e->head = (e->head + 1) % depth;
		e->inflight--;
		e->batches++;
		return 0;
	} catch (const std::exception &x) {
		e->broken = x.what();
	}
	set_err(err, errcap, e->broken);
	return -1;
}

void cuda_stats(const encoder_t *e, enc_stats_t *st)
{
	memset(st, 0, sizeof *st);
	snprintf(st->device, sizeof st->device, "%s", e->device_name);
	st->threads = 0;
	st->weight_bytes = e->weight_bytes;
	size_t io = (size_t)e->plan.batch * e->plan.out_dim * sizeof(float);
	for (const Slot &s : e->slot)
		io += s.cap_d;
	st->activation_bytes = e->arena_bytes + e->ws_size + blas_workspace + io;
	st->peak_bytes = e->mem.peak();
	st->batches = e->batches;
	enc_stats_timing(st, &e->timing);
}

void cuda_destroy(encoder_t *e) { delete e; }

} // namespace

extern "C" const enc_backend_t enc_backend_cuda = {
	"cuda", cuda_available, cuda_create, depth, cuda_input, cuda_submit, cuda_wait, cuda_stats, cuda_destroy,
};
