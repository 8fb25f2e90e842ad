/* text_sim.cc - txtencode's CUDA backend, executed on the CPU.
 *
 *   text_sim CKPT IDS fp32|fp16|bf16 BATCH_ROWS REF.f32 OUT.f32 [gelu]
 *
 * IDS: `txtencode --tokenize` output (one prompt per line). Encodes the
 * prompts twice (with gelu: the tower's activation GELU, else QuickGELU)
 * through model/text_encoder.c's text_encode() (the same
 * prefix-tree batches of BATCH_ROWS rows): with the CPU backend -> REF.f32,
 * and with this file's "sim" backend -> OUT.f32, both float32 [n, E].
 *
 * The sim backend runs gpu/gpu_text_ops.h's text_forward(), the op sequence
 * gpu_text.cu runs, with the same element functions; the GPU-only parts are
 * replaced by loops with the same inputs and outputs: the GEMM follows
 * cuBLAS's column-major definition (C = op(A) B + beta C, element (i, j) at
 * i + j * ld; with beta = 0, C is not read), LayerNorm is a plain two-pass
 * mean and variance. Buffers start as NaN before every batch, so a read of
 * something no op wrote shows. fp16 rounds what the GPU stores in half (the
 * GEMM weights, LayerNorm, attention and QuickGELU outputs); bf16 the same
 * to bfloat16 (nearest even, bf16_ref.h); arithmetic stays float, as on the
 * GPU. With fp16 the CPU reference gets the model loaded with fp16 too
 * (weights rounded, math FP32), as txtencode --device cpu --fp16; with bf16
 * the reference is the CPU backend's FP32, so what is compared is what BF16
 * costs against FP32.
 */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bf16_ref.h"
#include "gpu_text_ops.h"

extern "C" {
#include "ckpt/ckpt.h"
#include "util/util.h"
}

using namespace gpu;

struct text_runner {
	const text_model_t *m = nullptr;
	precision_t prec = PREC_FP32; /* of what the GPU stores as Dt */
	int cap = 0;
	std::vector<std::vector<float>> wgt; /* as uploaded: index l * 4 + TWgt, then text_projection */
	std::vector<float> buf[text_buf_count];
	const text_trie_t *t = nullptr;

	float r(float v) const
	{
		return prec == PREC_FP16 ? half_to_float(float_to_half(v)) : prec == PREC_BF16 ? bf16_ref_round(v) : v;
	}
	float *b(TBuf x) { return buf[(int)x].data(); }

	void embed(TBuf x)
	{
		const int W = m->width;
		for (long row = 0; row < t->rows; row++)
			for (int i = 0; i < W; i++)
				b(x)[row * W + i] = elem_text_embed(m->token_embedding, m->positional_embedding, t->token,
								     t->depth, W, row, i);
	}
	void layernorm(int l, TVec w, TVec bb, TBuf in, TBuf out, int n, bool gather)
	{
		const int W = m->width;
		const float *lw = text_vec(m, l, w), *lb = text_vec(m, l, bb);
		for (long i = 0; i < n; i++) {
			const float *x = b(in) + (gather ? (long)t->seq_leaf[i] : i) * W;
			float s = 0.0f, ss = 0.0f;
			for (int k = 0; k < W; k++)
				s += x[k];
			float mean = s / (float)W;
			for (int k = 0; k < W; k++)
				ss += (x[k] - mean) * (x[k] - mean);
			float inv = 1.0f / sqrtf(ss / (float)W + 1e-5f);
			for (int k = 0; k < W; k++)
				b(out)[i * W + k] = r(elem_layernorm(x[k], mean, inv, lw[k], lb[k]));
		}
	}
	/* cuBLAS's rules for the arguments (lda >= rows of A as stored, ldb >= k,
	 * ldc >= m), and every element the call may touch inside its buffer. */
	void gemm_check(const TextGemm &g, size_t a_size)
	{
		long a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
		if (g.m < 1 || g.n < 1 || g.k < 1 || g.lda < a_rows || g.ldb < g.k || g.ldc < g.m)
			die_gemm(g, "sizes or leading dimensions break cuBLAS's rules");
		/* the buffers' element types as gpu_text.cu passes them: B Dt, C float32 */
		if (!text_buf_is_dt(g.b) || text_buf_is_dt(g.c))
			die_gemm(g, "B must be a Dt buffer and C a float32 one (gpu_text.cu's types)");
		if ((size_t)(a_rows + (a_cols - 1) * (long)g.lda) > a_size ||
		    (size_t)(g.k + (g.n - 1) * (long)g.ldb) > buf[(int)g.b].size() ||
		    (size_t)(g.m + (g.n - 1) * (long)g.ldc) > buf[(int)g.c].size())
			die_gemm(g, "reaches past the end of a buffer");
	}
	[[noreturn]] static void die_gemm(const TextGemm &g, const char *why)
	{
		fprintf(stderr, "text_sim: gemm (layer %d, weight %d, trans %d, m %d n %d k %d, lda %d ldb %d ldc %d): %s\n",
			g.layer, (int)g.a, (int)g.trans_a, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, why);
		exit(2);
	}
	void gemm(const TextGemm &g)
	{
		const std::vector<float> &Av = wgt[text_gemm_weight(m, g)];
		gemm_check(g, Av.size());
		const float *A = Av.data();
		const float *B = b(g.b);
		float *C = b(g.c);
#pragma omp parallel for schedule(static)
		for (long j = 0; j < g.n; j++)
			for (long i = 0; i < g.m; i++) {
				float acc = 0.0f;
				for (long p = 0; p < g.k; p++)
					acc += (g.trans_a ? A[p + i * g.lda] : A[i + p * g.lda]) * B[p + j * g.ldb];
				float *c = &C[i + j * g.ldc];
				*c = g.beta == 0.0f ? acc : acc + g.beta * *c;
			}
	}
	void attention(int l, TBuf qkv, TBuf out)
	{
		const int W = m->width, heads = W / text_head_dim;
		const float *bias = text_vec(m, l, TVec::IN_PROJ_B), *x = b(qkv);
		/* the GPU's 32 lanes one after the other; each sums its score directly */
#pragma omp parallel for schedule(static)
		for (long row = 0; row < t->rows; row++)
			for (int hd = 0; hd < heads; hd++)
				for (int lane = 0; lane < 32; lane++) {
					auto score = [&](long j) {
						float s = 0.0f;
						for (int i = 0; i < text_head_dim; i++)
							s += text_attn_q(x, bias, W, row, hd, i) *
							     text_attn_k(x, bias, W, j, hd, i);
						return s;
					};
					float o[2];
					text_attn_lane(x, bias, t->parent, W, row, hd, lane, score, o);
					b(out)[row * W + hd * text_head_dim + lane] = r(o[0]);
					b(out)[row * W + hd * text_head_dim + lane + 32] = r(o[1]);
				}
	}
	void bias(int l, TVec v, TBuf x, int n, int cols)
	{
		const float *bv = text_vec(m, l, v);
		for (long e = 0; e < (long)n * cols; e++)
			b(x)[e] += bv[e % cols];
	}
	void bias_gelu(int l, TVec v, TBuf in, TBuf out, int n, int cols)
	{
		const float *bv = text_vec(m, l, v);
		for (long e = 0; e < (long)n * cols; e++)
			b(out)[e] = r(elem_text_act(m->act == TEXT_ACT_GELU, b(in)[e] + bv[e % cols]));
	}
};

static int sim_available(int, char *, size_t) { return 1; }

static text_runner_t *sim_create(const text_model_t *m, const text_config_t *cfg, char *, size_t)
{
	text_runner *s = new text_runner;
	s->m = m;
	s->prec = cfg->precision;
	s->cap = cfg->batch_rows;
	auto keep = [&](const float *src, long count) {
		std::vector<float> v((size_t)count);
		for (long i = 0; i < count; i++)
			v[(size_t)i] = s->r(src[i]);
		s->wgt.push_back(std::move(v));
	};
	for (int l = 0; l < m->layers; l++)
		for (TWgt w : {TWgt::IN_PROJ, TWgt::OUT_PROJ, TWgt::C_FC, TWgt::C_PROJ})
			keep(text_weight(m, l, w), text_weight_count(m, w));
	keep(text_weight(m, -1, TWgt::TEXT_PROJ), text_weight_count(m, TWgt::TEXT_PROJ));
	for (int x = 0; x < text_buf_count; x++)
		s->buf[x].resize((size_t)s->cap * (size_t)text_buf_cols((TBuf)x, m->width, m->embed));
	return s;
}

static int sim_run(text_runner_t *s, const text_trie_t *t, float *out, char *err, size_t errcap)
{
	if (t->rows > s->cap) {
		snprintf(err, errcap, "batch of %d rows, made for %d", t->rows, s->cap);
		return -1;
	}
	for (auto &v : s->buf)
		std::fill(v.begin(), v.end(), nanf(""));
	s->t = t;
	text_forward(*s, s->m, t->rows, t->nseq);
	memcpy(out, s->b(TBuf::OUT), (size_t)t->nseq * (size_t)s->m->embed * sizeof(float));
	return 0;
}

static void sim_info(const text_runner_t *s, text_info_t *info)
{
	memset(info, 0, sizeof *info);
	snprintf(info->device, sizeof info->device, "sim");
	info->batch_rows = s->cap;
}

static void sim_destroy(text_runner_t *s) { delete s; }

static const text_backend_t sim_backend = {"sim", sim_available, sim_create, sim_run, sim_info, sim_destroy};

static void die(const std::string &m)
{
	fprintf(stderr, "text_sim: %s\n", m.c_str());
	exit(2);
}

static void save(const char *path, const std::vector<float> &v)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(v.data(), sizeof(float), v.size(), f) != v.size() || fclose(f) != 0)
		die(std::string(path) + ": write failed");
}

int main(int argc, char **argv)
{
	if (argc != 7 && !(argc == 8 && strcmp(argv[7], "gelu") == 0))
		die("usage: text_sim CKPT IDS fp32|fp16|bf16 BATCH_ROWS REF.f32 OUT.f32 [gelu]");
	bool half = strcmp(argv[3], "fp16") == 0, bf16 = strcmp(argv[3], "bf16") == 0;
	if (!half && !bf16 && strcmp(argv[3], "fp32") != 0)
		die(std::string(argv[3]) + ": not fp32, fp16 or bf16");
	int rows = atoi(argv[4]);
	char err[1024] = "";
	ckpt_t *ck = ckpt_open(argv[1], err, sizeof err);
	if (!ck)
		die(err);
	text_model_t m;
	if (text_model_load(&m, ck, argc == 8 ? TEXT_ACT_GELU : TEXT_ACT_QUICK_GELU, half, err, sizeof err) != 0)
		die(err);
	ckpt_free(ck);

	std::vector<std::vector<int32_t>> ids;
	FILE *f = fopen(argv[2], "r");
	if (!f)
		die(std::string(argv[2]) + ": cannot open");
	char line[8192];
	while (fgets(line, sizeof line, f)) {
		std::vector<int32_t> v;
		for (char *p = strtok(line, " \n"); p; p = strtok(nullptr, " \n"))
			v.push_back((int32_t)atoi(p));
		if (!v.empty())
			ids.push_back(v);
	}
	fclose(f);
	int n = (int)ids.size();
	std::vector<const int32_t *> ptr;
	std::vector<int> lens;
	for (auto &v : ids) {
		ptr.push_back(v.data());
		lens.push_back((int)v.size());
	}

	std::vector<float> ref((size_t)n * (size_t)m.embed), got(ref.size());
	text_config_t cfg = {};
	cfg.batch_rows = rows;
	const text_backend_t *bes[2] = {&text_backend_cpu, &sim_backend};
	float *outs[2] = {ref.data(), got.data()};
	for (int i = 0; i < 2; i++) {
		/* the CPU reference computes FP32 (on fp16-rounded weights with fp16) */
		cfg.precision = i == 1 && bf16 ? PREC_BF16 : half ? PREC_FP16 : PREC_FP32;
		text_runner_t *r = bes[i]->create(&m, &cfg, err, sizeof err);
		if (!r)
			die(err);
		text_encode_stats_t st = {};
		if (text_encode(&m, bes[i], r, ptr.data(), lens.data(), n, outs[i], &st, err, sizeof err) != 0)
			die(std::string(bes[i]->name) + ": " + err);
		printf("%s: %d prompts, %lld rows in %d batches\n", bes[i]->name, n, st.rows, st.batches);
		bes[i]->destroy(r);
	}
	save(argv[5], ref);
	save(argv[6], got);
	text_model_free(&m);
	return 0;
}
