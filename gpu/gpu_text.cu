/* gpu_text.cu - txtencode's CUDA backend: CLIP's text tower on the GPU,
 * text_backend_cuda of model/text_encoder.h (C linkage).
 *
 * Same input as the CPU backend: one prefix-tree batch of token ids
 * (text_trie_t), one row per distinct prefix. The op sequence is
 * gpu_text_ops.h's text_forward(), run here by Exec: cuBLAS GEMMs
 * (cublasGemmEx, FP32 accumulation; FP32 inputs by default, FP16 or BF16
 * inputs on the tensor cores with --precision fp16 or bf16) and five small
 * kernels (embedding, LayerNorm, attention over each row's root path, bias,
 * bias + QuickGELU or GELU: gpu_text_kernels.cu) whose element arithmetic is
 * gpu_text_ops.h's.
 * Everything the runner needs is allocated once at create() for batch_rows
 * rows (default 32768, about 30 KiB a row in FP32, 25 KiB in FP16/BF16, plus
 * the weights), so the peak device memory is known before the first batch;
 * create() also runs a one-token batch, so module loading and library
 * start-up are not in the first real batch's time and a broken GPU fails
 * there.
 *
 * Per batch: the trie arrays go to the device, the tower runs on one stream,
 * the [nseq, E] outputs come back; compute time is measured with CUDA events
 * from the first kernel to the last.
 */
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "gpu_check.h"
#include "gpu_mem.h"
#include "gpu_text_kernels.h"
#include "gpu_text_ops.h"

extern "C" {
#include "util/util.h"
}

namespace gpu {

namespace {

const int default_rows = 32768;
const size_t blas_workspace = (size_t)32 << 20;

} // namespace

} // namespace gpu

using namespace gpu;

struct text_runner {
	const text_model_t *m = nullptr;
	Dt dt = Dt::F32; /* of the GEMM weights and inputs */
	int cap = 0, device = 0;
	char name[160] = "";
	cudaStream_t stream = nullptr;
	cublasHandle_t blas = nullptr;
	cudaEvent_t ev0 = nullptr, ev1 = nullptr;
	Mem mem;
	double compute_s = 0;

	/* device copies of the model: GEMM weights in Dt per layer (index l * 4 +
	 * TWgt), then text_projection; every vector in float32 */
	std::vector<void *> wgt;
	std::vector<float *> vec; /* index (l + 1) * text_vec_kinds + TVec, l = -1 for the final ones */
	float *tok = nullptr, *pos = nullptr;
	void *buf[text_buf_count] = {};
	int *d_token = nullptr, *d_depth = nullptr, *d_parent = nullptr, *d_leaf = nullptr;
	const text_trie_t *trie = nullptr; /* the batch being run */

	/* as_dt: rounded once to the storage type (nearest even), else float32 */
	void *upload(const float *src, long count, bool as_dt, const char *what)
	{
		size_t es = as_dt ? gpu::dt_size(dt) : 4;
		void *d = mem.alloc((size_t)count * es, what);
		if (as_dt && dt != Dt::F32) {
			std::vector<uint16_t> h((size_t)count);
			for (long i = 0; i < count; i++) {
				if (dt == Dt::F16) {
					h[(size_t)i] = float_to_half(src[i]);
				} else {
					__nv_bfloat16 v = __float2bfloat16_rn(src[i]);
					memcpy(&h[(size_t)i], &v, 2);
				}
			}
			CK_CUDA(cudaMemcpy(d, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
		} else {
			CK_CUDA(cudaMemcpy(d, src, (size_t)count * 4, cudaMemcpyHostToDevice));
		}
		return d;
	}
	void setup();
	void *b(TBuf t) const { return buf[(int)t]; }
	const float *v(int l, TVec t) const { return vec[(size_t)((l + 1) * text_vec_kinds + (int)t)]; }

	/* ---- text_forward's ops ---- */
	void embed(TBuf x) { launch_text_embed(tok, pos, d_token, d_depth, m->width, trie->rows, (float *)b(x), stream); }
	void layernorm(int l, TVec w, TVec bb, TBuf in, TBuf out, int n, bool gather)
	{
		launch_text_layernorm((const float *)b(in), gather ? d_leaf : nullptr, v(l, w), v(l, bb), m->width, n,
				      b(out), dt, stream);
	}
	void gemm(const TextGemm &g)
	{
		cudaDataType_t t = dt == Dt::F16 ? CUDA_R_16F : dt == Dt::BF16 ? CUDA_R_16BF : CUDA_R_32F;
		const void *a = wgt[text_gemm_weight(m, g)];
		const float one = 1.0f;
		CK_CUBLAS(cublasGemmEx(blas, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, g.m, g.n, g.k, &one, a, t,
				       g.lda, b(g.b), t, g.ldb, &g.beta, b(g.c), CUDA_R_32F, g.ldc, CUBLAS_COMPUTE_32F,
				       CUBLAS_GEMM_DEFAULT));
	}
	void attention(int l, TBuf qkv, TBuf out)
	{
		launch_text_attention((const float *)b(qkv), v(l, TVec::IN_PROJ_B), d_parent, m->width, trie->rows, b(out),
				      dt, stream);
	}
	void bias(int l, TVec vv, TBuf x, int n, int cols)
	{
		launch_text_bias((float *)b(x), v(l, vv), cols, (long)n * cols, stream);
	}
	void bias_gelu(int l, TVec vv, TBuf in, TBuf out, int n, int cols)
	{
		launch_text_bias_gelu((const float *)b(in), v(l, vv), cols, (long)n * cols, m->act == TEXT_ACT_GELU, b(out),
				      dt, stream);
	}

	void run(const text_trie_t *t, float *out);
	~text_runner();
};

void text_runner::setup()
{
	mem.start();
	cudaDeviceProp p = device_select(device);
	/* cuBLAS's 16BF GEMMs on the tensor cores begin with sm_80 */
	if (dt == Dt::BF16 && p.major < 8)
		fail("gpu", "text tower",
		     std::string("precision bf16: ") + p.name + " is sm_" + std::to_string(p.major) +
			     std::to_string(p.minor) + "; bf16 needs compute capability 8.0 or later",
		     __FILE__, __LINE__);
	if (m->width % text_head_dim != 0 || m->width % 32 != 0)
		fail("gpu", "text tower", "width " + std::to_string(m->width) + " is not a multiple of 64", __FILE__,
		     __LINE__);
	CK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
	CK_CUDA(cudaEventCreate(&ev0));
	CK_CUDA(cudaEventCreate(&ev1));
	CK_CUBLAS(cublasCreate(&blas));
	CK_CUBLAS(cublasSetStream(blas, stream));
	/* true FP32 unless FP16/BF16 inputs were asked for: no TF32 behind the user's back */
	CK_CUBLAS(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH));
	CK_CUBLAS(cublasSetWorkspace(blas, mem.alloc(blas_workspace, "cublas workspace"), blas_workspace));
	int bv = 0;
	CK_CUBLAS(cublasGetVersion(blas, &bv));
	snprintf(name, sizeof name, "cuda: %.100s (sm_%d%d, cuBLAS %d, %s)", p.name, p.major, p.minor, bv,
		 dt == Dt::F16 ? "fp16 tensor cores" : dt == Dt::BF16 ? "bf16 tensor cores" : "fp32");

	for (int l = 0; l < m->layers; l++)
		for (TWgt w : {TWgt::IN_PROJ, TWgt::OUT_PROJ, TWgt::C_FC, TWgt::C_PROJ})
			wgt.push_back(upload(text_weight(m, l, w), text_weight_count(m, w), true, "weight"));
	wgt.push_back(upload(text_weight(m, -1, TWgt::TEXT_PROJ), text_weight_count(m, TWgt::TEXT_PROJ), true,
			     "text_projection"));
	vec.assign((size_t)(m->layers + 1) * text_vec_kinds, nullptr);
	for (int l = -1; l < m->layers; l++)
		for (int t = 0; t < text_vec_kinds; t++) {
			TVec tv = (TVec)t;
			bool final_one = tv == TVec::LN_FINAL_W || tv == TVec::LN_FINAL_B;
			if ((l < 0) != final_one)
				continue;
			vec[(size_t)((l + 1) * text_vec_kinds + t)] =
				(float *)upload(text_vec(m, l, tv), text_vec_count(m, tv), false, "vector");
		}
	tok = (float *)upload(m->token_embedding, (long)m->vocab * m->width, false, "token_embedding");
	pos = (float *)upload(m->positional_embedding, (long)m->context * m->width, false, "positional_embedding");

	for (int t = 0; t < text_buf_count; t++) {
		size_t es = text_buf_is_dt((TBuf)t) ? gpu::dt_size(dt) : 4;
		buf[t] = mem.alloc((size_t)cap * (size_t)text_buf_cols((TBuf)t, m->width, m->embed) * es, "activations");
	}
	d_token = (int *)mem.alloc((size_t)cap * sizeof(int), "trie");
	d_depth = (int *)mem.alloc((size_t)cap * sizeof(int), "trie");
	d_parent = (int *)mem.alloc((size_t)cap * sizeof(int), "trie");
	d_leaf = (int *)mem.alloc((size_t)cap * sizeof(int), "trie");
	CK_CUDA(cudaDeviceSynchronize());

	/* warm-up: one row (the start token alone), one sequence */
	const int32_t token = m->vocab - 1;
	const int zero = 0, root = -1;
	text_trie_t t = {1, &token, &zero, &root, 1, &zero};
	std::vector<float> out((size_t)m->embed);
	run(&t, out.data());
	compute_s = 0;
}

void text_runner::run(const text_trie_t *t, float *out)
{
	if (t->rows > cap || t->nseq > cap)
		fail("gpu", "run", "batch of " + std::to_string(t->rows) + " rows, the runner was made for " +
					   std::to_string(cap),
		     __FILE__, __LINE__);
	static_assert(sizeof(int32_t) == sizeof(int), "trie ids are copied as int");
	size_t rb = (size_t)t->rows * sizeof(int);
	CK_CUDA(cudaMemcpyAsync(d_token, t->token, rb, cudaMemcpyHostToDevice, stream));
	CK_CUDA(cudaMemcpyAsync(d_depth, t->depth, rb, cudaMemcpyHostToDevice, stream));
	CK_CUDA(cudaMemcpyAsync(d_parent, t->parent, rb, cudaMemcpyHostToDevice, stream));
	CK_CUDA(cudaMemcpyAsync(d_leaf, t->seq_leaf, (size_t)t->nseq * sizeof(int), cudaMemcpyHostToDevice, stream));
	trie = t;
	CK_CUDA(cudaEventRecord(ev0, stream));
	text_forward(*this, m, t->rows, t->nseq);
	CK_CUDA(cudaEventRecord(ev1, stream));
	CK_CUDA(cudaMemcpyAsync(out, b(TBuf::OUT), (size_t)t->nseq * (size_t)m->embed * sizeof(float),
				cudaMemcpyDeviceToHost, stream));
	CK_CUDA(cudaStreamSynchronize(stream));
	trie = nullptr;
	float ms = 0;
	CK_CUDA(cudaEventElapsedTime(&ms, ev0, ev1));
	compute_s += ms / 1e3;
}

text_runner::~text_runner()
{
	if (stream)
		CK_QUIET(cudaStreamSynchronize(stream));
	if (blas)
		cublasDestroy(blas); /* before the workspace it was given goes */
	mem.release_all();
	if (ev0)
		CK_QUIET(cudaEventDestroy(ev0));
	if (ev1)
		CK_QUIET(cudaEventDestroy(ev1));
	if (stream)
		CK_QUIET(cudaStreamDestroy(stream));
}

/* ---- the C interface ---- */

namespace {

int cuda_text_available(int gpu, char *why, size_t cap)
{
	try {
		std::string w;
		if (driver_usable(gpu, w) && text_kernels_loadable(w))
			return 1;
		set_err(why, cap, w);
	} catch (const std::exception &x) {
		set_err(why, cap, x.what());
	}
	return 0;
}

text_runner_t *cuda_text_create(const text_model_t *m, const text_config_t *cfg, char *err, size_t errcap)
{
	text_runner *r = nullptr;
	try {
		if (cfg->precision != PREC_FP32 && cfg->precision != PREC_BF16 && cfg->precision != PREC_FP16)
			throw std::runtime_error(std::string("precision ") + precision_name(cfg->precision) +
						 ": the cuda text tower computes fp32, bf16 or fp16");
		r = new text_runner;
		r->m = m;
		r->dt = cfg->precision == PREC_FP16 ? Dt::F16 : cfg->precision == PREC_BF16 ? Dt::BF16 : Dt::F32;
		r->device = cfg->device;
		r->cap = cfg->batch_rows > 0 ? cfg->batch_rows : default_rows;
		if (r->cap < m->context)
			r->cap = m->context;
		r->setup();
		return r;
	} catch (const std::exception &x) {
		set_err(err, errcap, x.what());
	} catch (...) {
		set_err(err, errcap, "cuda: unexpected failure while creating the text runner");
	}
	delete r;
	return nullptr;
}

int cuda_text_run(text_runner_t *r, const text_trie_t *t, float *out, char *err, size_t errcap)
{
	try {
		r->run(t, out);
		return 0;
	} catch (const std::exception &x) {
		set_err(err, errcap, x.what());
	} catch (...) {
		set_err(err, errcap, "cuda: unexpected failure in a text batch");
	}
	return -1;
}

void cuda_text_info(const text_runner_t *r, text_info_t *info)
{
	memset(info, 0, sizeof *info);
	snprintf(info->device, sizeof info->device, "%s", r->name);
	info->batch_rows = r->cap;
	info->peak_bytes = r->mem.peak();
	info->compute_s = r->compute_s;
}

void cuda_text_destroy(text_runner_t *r) { delete r; }

} // namespace

extern "C" const text_backend_t text_backend_cuda = {"cuda", cuda_text_available, cuda_text_create, cuda_text_run,
						     cuda_text_info, cuda_text_destroy};
