/* plan_sim.cc - run the CUDA backend's execution plan on the CPU.
 *
 *   plan_sim MODEL CKPT IMAGES.u8 N fp32|fp16|bf16 OUT.f32 [features]
 *
 * MODEL: auto (what CKPT holds) or a model name it must hold. IMAGES.u8: N
 * uint8 [S][S][3] RGB crops back to back (S: the model's input size).
 * OUT.f32: float32 [N][out_dim], the values the GPU would write for them.
 *
 * Why: this machine has no GPU, yet the plan (gpu/gpu_plan.cc: op order,
 * shapes, KRSC weight packing, padded input channels, downsample bias
 * folded into conv3, arena placement by lifetime, packed attention weights)
 * and the per-element kernel arithmetic (gpu/gpu_elem.h) are the same code
 * the GPU runs. Executing them here, in ONE arena laid out exactly as the
 * device's, and comparing with PyTorch checks all of that; only the library
 * calls (cuDNN convolutions, cuBLAS GEMMs) and the attention kernel are
 * replaced by plain loops with the same inputs, outputs and roundings.
 * fp16 rounds every stored activation and every weight to half, where the
 * GPU's FP16 mode stores half; bf16 the same to bfloat16 (nearest even,
 * bf16_ref.h); arithmetic stays float, as on the GPU.
 */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bf16_ref.h"
#include "gpu/gpu_dump.h"
#include "gpu/gpu_elem.h"
#include "gpu/gpu_plan.h"

extern "C" {
#include "ckpt/ckpt.h"
#include "util/util.h"
}

using namespace gpu;

namespace {

enum class Store { F32, F16, BF16 };

struct Sim {
	const Plan &p;
	Store st;
	int n;
	std::vector<float> arena, w, out;

	Sim(const Plan &plan, Store s, int nimg) : p(plan), st(s), n(nimg)
	{
		arena.assign(p.arena_elems * (size_t)p.batch, std::nanf(""));
		w = p.weights;
		for (float &v : w)
			v = r(v);
		out.assign((size_t)n * p.out_dim, std::nanf(""));
	}
	/* v as the storage type holds it */
	float r(float v) const
	{
		return st == Store::F16 ? half_to_float(float_to_half(v)) : st == Store::BF16 ? bf16_ref_round(v) : v;
	}
	/* same placement as the device: element offset * plan batch */
	float *act(int a) { return arena.data() + p.acts[(size_t)a].off * (size_t)p.batch; }

	void input(const unsigned char *u8, const float *mean, const float *std)
	{
		const Act &a = p.acts[0];
		long hw = (long)a.h * a.w;
		float *o = act(0);
		for (long i = 0; i < n; i++)
			for (long q = 0; q < hw; q++)
				for (int c = 0; c < a.c; c++)
					o[(i * hw + q) * a.c + c] = r(elem_input_u8(u8, hw, i, q, c, mean, std));
	}

	/* Loops in an order the compiler vectorizes (over output channels, from a
	 * [kh][kw][cpg][cout] copy of the plan's packed KRSC weights; output
	 * channel co of group g = co / (cout/groups) reads input g*cpg + c). */
	void conv(const Op &op)
	{
		const ConvSpec &s = p.convs[(size_t)op.conv];
		const int C = s.cin_store / s.groups, K = s.cout, G = s.groups, KG = K / G;
		std::vector<float> wt((size_t)s.kh * s.kw * C * K);
		const float *krsc = w.data() + s.w;
		for (int co = 0; co < K; co++)
			for (size_t q = 0; q < (size_t)s.kh * s.kw * C; q++)
				wt[q * K + co] = krsc[(size_t)co * s.kh * s.kw * C + q];
		const float *x = act(op.in), *b = s.relu ? w.data() + s.b : nullptr;
		const float *z = op.res >= 0 ? act(op.res) : nullptr;
		float *y = act(op.out);
#pragma omp parallel for collapse(2) schedule(static)
		for (int i = 0; i < n; i++)
			for (int ho = 0; ho < s.hout; ho++) {
				std::vector<float> acc((size_t)K);
				for (int wo = 0; wo < s.wout; wo++) {
					std::fill(acc.begin(), acc.end(), 0.0f);
					for (int ky = 0; ky < s.kh; ky++) {
						int yy = ho * s.stride - s.pad + ky;
						if (yy < 0 || yy >= s.hin)
							continue;
						for (int kx = 0; kx < s.kw; kx++) {
							int xx = wo * s.stride - s.pad + kx;
							if (xx < 0 || xx >= s.win)
								continue;
							const float *xp = x + (((size_t)i * s.hin + yy) * s.win + xx) * s.cin_store;
							const float *wp = wt.data() + ((size_t)ky * s.kw + kx) * C * K;
							for (int g = 0; g < G; g++)
								for (int c = 0; c < C; c++) {
									const float xv = xp[g * C + c], *wr = wp + (size_t)c * K;
									float *a = acc.data();
									for (int co = g * KG; co < (g + 1) * KG; co++)
										a[co] += xv * wr[co];
								}
						}
					}
					float *yp = y + (((size_t)i * s.hout + ho) * s.wout + wo) * K;
					const float *zp = z ? z + (((size_t)i * s.hout + ho) * s.wout + wo) * K : nullptr;
					for (int co = 0; co < K; co++) {
						float v = acc[(size_t)co];
						if (s.relu) {
							v += b[co];
							if (zp)
								v += zp[co];
							v = v > 0.0f ? v : 0.0f;
						}
						yp[co] = r(v);
					}
				}
			}
	}

	void pool(const Op &op)
	{
		const Act &a = p.acts[(size_t)op.in], &o = p.acts[(size_t)op.out];
		const float *x = act(op.in);
		float *y = act(op.out);
		for (int i = 0; i < n; i++)
			for (int ho = 0; ho < o.h; ho++)
				for (int wo = 0; wo < o.w; wo++)
					for (int c = 0; c < o.c; c++)
						y[(((size_t)i * o.h + ho) * o.w + wo) * o.c + c] =
							r(op.kind == OpKind::MaxPool
								  ? elem_maxpool3s2(x, a.h, a.w, a.c, i, ho, wo, c)
								  : elem_avgpool(x, a.h, a.w, a.c, op.k, i, ho, wo, c));
	}

	void gap(const Op &op)
	{
		const Act &a = p.acts[(size_t)op.in];
		const float *x = act(op.in);
		float *y = act(op.out);
		for (int i = 0; i < n; i++)
			for (int c = 0; c < a.c; c++) {
				y[(size_t)i * a.c + c] = r(elem_mean_hw(x, a.h * a.w, a.c, i, c));
				if (p.features)
					out[(size_t)i * a.c + c] = y[(size_t)i * a.c + c];
			}
	}

	/* Y[M][N] = X[M][K] . W[N][K]^T, rows of X ldx apart; rounded to the
	 * storage type unless the result is the float output (round_out false). */
	void gemm(int M, int N, int K, const float *X, long ldx, const float *W, float *Y, long ldy, bool round_out)
	{
		std::vector<float> wt((size_t)K * N);
		for (int j = 0; j < N; j++)
			for (int k = 0; k < K; k++)
				wt[(size_t)k * N + j] = W[(size_t)j * K + k];
#pragma omp parallel for schedule(static)
		for (int m = 0; m < M; m++) {
			std::vector<float> acc((size_t)N, 0.0f);
			for (int k = 0; k < K; k++) {
				const float xv = X[m * ldx + k], *wr = wt.data() + (size_t)k * N;
				float *a = acc.data();
				for (int j = 0; j < N; j++)
					a[j] += xv * wr[j];
			}
			for (int j = 0; j < N; j++)
				Y[m * ldy + j] = round_out ? r(acc[(size_t)j]) : acc[(size_t)j];
		}
	}

	void bias_out(const float *b, int d)
	{
		for (size_t i = 0; i < out.size(); i++)
			out[i] = r(out[i] + b[i % (size_t)d]);
	}

	void attnpool(const Op &op)
	{
		const AttnSpec &A = p.attn;
		const Act &a = p.acts[(size_t)op.in];
		const int hw = a.h * a.w, C = a.c, T = A.tokens, D = A.dim;
		const float *x = act(op.in), *pos = w.data() + A.pos;
		float *tok = act(op.tmp[0]), *q = act(op.tmp[1]), *kv = act(op.tmp[2]), *o = act(op.tmp[3]);
		for (int i = 0; i < n; i++)
			for (int c = 0; c < C; c++) {
				float m = r(elem_mean_hw(x, hw, C, i, c));
				tok[((size_t)i * T) * C + c] = r(m + pos[c]);
				for (int q2 = 0; q2 < hw; q2++)
					tok[((size_t)i * T + 1 + q2) * C + c] =
						r(x[((size_t)i * hw + q2) * C + c] + pos[(size_t)(1 + q2) * C + c]);
			}
		gemm(n, D, D, tok, (long)T * D, w.data() + A.wq, q, D, true);
		gemm(n * T, 2 * D, D, tok, D, w.data() + A.wkv, kv, 2 * D, true);
		const float *bq = w.data() + A.bq, *bkv = w.data() + A.bkv;
		for (int i = 0; i < n; i++)
			for (int h = 0; h < A.heads; h++) {
				const int hd = A.head_dim;
				std::vector<float> s((size_t)T);
				float mx = -INFINITY;
				for (int j = 0; j < T; j++) {
					float acc = 0.0f;
					for (int d = 0; d < hd; d++) {
						int col = h * hd + d;
						float qv = (q[(size_t)i * D + col] + bq[col]) * 0.125f;
						acc += qv * (kv[((size_t)i * T + j) * 2 * D + col] + bkv[col]);
					}
					s[(size_t)j] = acc;
					mx = std::fmax(mx, acc);
				}
				float sum = 0.0f;
				for (float &v : s) {
					v = std::exp(v - mx);
					sum += v;
				}
				for (int d = 0; d < hd; d++) {
					int col = h * hd + d;
					float acc = 0.0f;
					for (int j = 0; j < T; j++)
						acc += s[(size_t)j] / sum *
						       (kv[((size_t)i * T + j) * 2 * D + D + col] + bkv[D + col]);
					o[(size_t)i * D + col] = r(acc);
				}
			}
		gemm(n, A.out, D, o, D, w.data() + A.wc, out.data(), A.out, false);
		bias_out(w.data() + A.bc, A.out);
	}

	void run(const unsigned char *u8, const float *mean, const float *std)
	{
		const std::string dump = dump_dir(); /* as rnencode --device cuda would write it */
		if (!dump.empty())
			dump_begin(dump);
		for (size_t i = 0; i < p.ops.size(); i++) {
			const Op &op = p.ops[i];
			switch (op.kind) {
			case OpKind::Input: input(u8, mean, std); break;
			case OpKind::Conv: conv(op); break;
			case OpKind::MaxPool:
			case OpKind::AvgPool: pool(op); break;
			case OpKind::Gap: gap(op); break;
			case OpKind::Fc:
				gemm(n, p.fc.out, p.fc.in, act(op.in), p.fc.in, w.data() + p.fc.w, out.data(), p.fc.out, false);
				bias_out(w.data() + p.fc.b, p.fc.out);
				break;
			case OpKind::AttnPool: attnpool(op); break;
			}
			if (dump.empty())
				continue;
			if (op.out >= 0) {
				const Act &a = p.acts[(size_t)op.out];
				dump_write(dump, (int)i, op.name, a.h, a.w, a.c, act(op.out));
			} else {
				dump_write(dump, (int)i, op.name, 1, 1, p.out_dim, out.data());
			}
		}
	}
};

} // namespace

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: plan_sim MODEL CKPT IMAGES.u8 N fp32|fp16|bf16 OUT.f32 [features]\n");
		return 2;
	}
	const char *want = strcmp(argv[1], "auto") == 0 ? nullptr : argv[1];
	int n = atoi(argv[4]);
	Store st = strcmp(argv[5], "fp16") == 0 ? Store::F16 : strcmp(argv[5], "bf16") == 0 ? Store::BF16 : Store::F32;
	if (st == Store::F32 && strcmp(argv[5], "fp32") != 0) {
		fprintf(stderr, "plan_sim: %s: not fp32, fp16 or bf16\n", argv[5]);
		return 2;
	}
	bool features = argc == 8 && strcmp(argv[7], "features") == 0;
	char err[1024];
	ckpt_t *ck = ckpt_open(argv[2], err, sizeof err);
	if (!ck) {
		fprintf(stderr, "plan_sim: %s\n", err);
		return 2;
	}
	net_t net;
	memset(&net, 0, sizeof net);
	if (net_load(&net, ck, want, err, sizeof err) != 0) {
		fprintf(stderr, "plan_sim: %s\n", err);
		return 2;
	}
	ckpt_free(ck);
	size_t img = net_input_elems(&net);
	std::vector<unsigned char> u8(img * (size_t)n);
	FILE *f = fopen(argv[3], "rb");
	if (!f || fread(u8.data(), 1, u8.size(), f) != u8.size()) {
		fprintf(stderr, "plan_sim: %s: cannot read %d images\n", argv[3], n);
		return 2;
	}
	fclose(f);
	try {
		/* the GPU stores 16 bytes of input channels per pixel: 4 floats or 8 16-bit values */
		Plan plan = plan_build(&net, n, features, st == Store::F32 ? 4 : 8);
		Sim sim(plan, st, n);
		sim.run(u8.data(), net.mean, net.std);
		f = fopen(argv[6], "wb");
		if (!f || fwrite(sim.out.data(), sizeof(float), sim.out.size(), f) != sim.out.size() || fclose(f) != 0) {
			fprintf(stderr, "plan_sim: %s: write failed\n", argv[6]);
			return 2;
		}
		printf("plan_sim: %s %s: %zu ops, %zu convs, arena %zu elements/image (peak live %zu), weights %zu\n",
		       net.name, argv[5], plan.ops.size(), plan.convs.size(), plan.arena_elems, plan.peak_live_elems,
		       plan.weights.size());
	} catch (const std::exception &x) {
		fprintf(stderr, "plan_sim: %s\n", x.what());
		return 2;
	}
	net_free(&net);
	return 0;
}
