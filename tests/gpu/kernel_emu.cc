/* kernel_emu.cc - every launcher of the CUDA backends' own kernels
 * (gpu/gpu_kernels.h: rnencode; gpu/gpu_text_kernels.h: txtencode), run on
 * the host by tests/gpu/cuda_emu.h, against plain loops computed here in
 * double. FP32, FP16 and BF16 storage; the shapes of both models (ResNet-50 and
 * CLIP RN50 at batch 2 or 3, the text tower's width 512 over a prefix tree)
 * and small odd ones (odd pooling sizes, 1 to 64 attention tokens, paths of
 * one row). Output buffers start as NaN, so an element no thread wrote
 * fails; every buffer ends at a guard page, so an access past it faults.
 *
 *   kernel_emu      exit 0 when every check passes, 1 with the worst
 *                   elements of each failing one
 *
 * Tolerance, per element: |got - ref| <= tol (|ref| + rms(ref)), tol 1e-5
 * for FP32 (float against double arithmetic over at most a few thousand
 * terms) and 2e-3 for FP16 (one rounding to half, 2^-11 = 4.9e-4, of a
 * value whose float arithmetic may already sit on the other side of a
 * rounding boundary, plus the inputs' own rounding to half where the
 * reference reads them as stored); BF16 the same with bfloat16's unit
 * roundoff, 2^-8 = 3.9e-3: 1.6e-2. The BF16 reference rounds with
 * bf16_ref.h (the format's definition), not cuda_bf16.h, which the kernels use.
 */
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bf16_ref.h"
#include "gpu_kernels.h"
#include "gpu_text_kernels.h"

/* What the kernel files call outside themselves (gpu_check.cu on the GPU). */
namespace gpu {
[[noreturn]] void fail(const char *lib, const char *call, const std::string &detail, const char *file, int line)
{
	throw std::runtime_error(std::string(lib) + ": " + call + ": " + detail + " (" + file + ":" +
				 std::to_string(line) + ")");
}
[[noreturn]] void fail_cuda(cudaError_t e, const char *call, const char *file, int line)
{
	fail("cuda", call, e == cudaErrorInvalidConfiguration ? "cudaErrorInvalidConfiguration" : "error", file, line);
}
bool kernel_loadable(const void *, std::string &) { return true; }
} // namespace gpu

using gpu::Dt;

namespace {

std::mt19937 rng(20261127);
int failures = 0, checks = 0;

float uni(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

/* A device-like buffer of n elements at a guard page: of Dt, or of elem
 * bytes (1 uint8, 2 half, 4 float32). */
struct Buf {
	void *p = nullptr;
	size_t n = 0, es = 4;
	bool bf = false; /* 2-byte elements are bfloat16, not half */
	Buf(size_t count, size_t elem) : n(count), es(elem)
	{
		p = cuda_emu::emu_alloc(n * es);
		memset(p, 0xff, n * es); /* NaN in float, half and bfloat16 */
	}
	Buf(size_t count, Dt dt) : Buf(count, gpu::dt_size(dt)) { bf = dt == Dt::BF16; }
	Buf(Buf &&o) : p(o.p), n(o.n), es(o.es), bf(o.bf) { o.p = nullptr; }
	Buf(const Buf &) = delete;
	Buf &operator=(const Buf &) = delete;
	~Buf()
	{
		if (p)
			cuda_emu::emu_free(p, n * es);
	}
	float get(size_t i) const
	{
		if (es == 2)
			return bf ? bf16_ref_value(((const uint16_t *)p)[i]) : __half2float(((const __half *)p)[i]);
		return ((const float *)p)[i];
	}
	void set(size_t i, float v)
	{
		if (es == 2 && bf)
			((uint16_t *)p)[i] = bf16_ref_bits(v);
		else if (es == 2)
			((__half *)p)[i] = __float2half_rn(v);
		else
			((float *)p)[i] = v;
	}
	/* random values in [lo, hi), as stored (so get() is what the kernel reads) */
	void fill(float lo, float hi)
	{
		for (size_t i = 0; i < n; i++)
			set(i, uni(lo, hi));
	}
	float *f() { return (float *)p; }
};

const char *dname(Dt dt) { return dt == Dt::F16 ? "fp16" : dt == Dt::BF16 ? "bf16" : "fp32"; }
double tol(Dt dt) { return dt == Dt::F16 ? 2e-3 : dt == Dt::BF16 ? 1.6e-2 : 1e-5; }

/* got (as stored) against ref, rows of `row` elements for the rms. */
void check(const std::string &name, const Buf &got, const std::vector<double> &ref, size_t row, double t)
{
	checks++;
	if (got.n != ref.size()) {
		printf("FAIL %s: %zu elements, reference %zu\n", name.c_str(), got.n, ref.size());
		failures++;
		return;
	}
	struct Bad {
		double ratio;
		size_t i;
	};
	std::vector<Bad> bad;
	double worst = 0;
	for (size_t r0 = 0; r0 < ref.size(); r0 += row) {
		double ss = 0;
		size_t r1 = std::min(ref.size(), r0 + row);
		for (size_t i = r0; i < r1; i++)
			ss += ref[i] * ref[i];
		double rms = std::sqrt(ss / (double)(r1 - r0));
		for (size_t i = r0; i < r1; i++) {
			double g = got.get(i), lim = t * (std::fabs(ref[i]) + rms);
			double ratio = std::isfinite(g) ? std::fabs(g - ref[i]) / (lim > 0 ? lim : 1e-30) : INFINITY;
			worst = std::max(worst, ratio);
			if (ratio > 1)
				bad.push_back({ratio, i});
		}
	}
	if (bad.empty()) {
		printf("ok   %-44s %9zu elements, worst %.3g x tolerance\n", name.c_str(), ref.size(), worst);
		return;
	}
	failures++;
	std::sort(bad.begin(), bad.end(), [](const Bad &a, const Bad &b) { return a.ratio > b.ratio; });
	printf("FAIL %-44s %zu of %zu elements beyond tolerance %g; worst:\n", name.c_str(), bad.size(), ref.size(), t);
	for (size_t k = 0; k < bad.size() && k < 5; k++)
		printf("       [%zu] got %.8g, reference %.8g (%.3g x tolerance)\n", bad[k].i, got.get(bad[k].i),
		       ref[bad[k].i], bad[k].ratio);
}

double round_to(Dt dt, double v)
{
	if (dt == Dt::F16)
		return __half2float(__float2half_rn((float)v));
	return dt == Dt::BF16 ? bf16_ref_value(bf16_ref_bits((float)v)) : v;
}

/* ---- rnencode's kernels ---- */

void t_input(Dt dt)
{
	const int n = 2, hw = 224 * 224, cs = gpu::dt_input_channels(dt);
	gpu::Norm nm = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
	Buf in(n * hw * 3, 1), out(n * hw * cs, dt);
	for (size_t i = 0; i < in.n; i++)
		((unsigned char *)in.p)[i] = (unsigned char)(rng() & 255);
	gpu::launch_input_u8((const unsigned char *)in.p, out.p, dt, n, hw, nm, nullptr);
	std::vector<double> ref(out.n);
	for (long i = 0; i < (long)n * hw; i++)
		for (int c = 0; c < cs; c++)
			ref[i * cs + c] = c < 3 ? round_to(dt, (((unsigned char *)in.p)[i * 3 + c] / 255.0 - nm.mean[c]) /
							       nm.std[c])
						: 0.0;
	check(std::string("input_u8 ") + dname(dt), out, ref, cs, tol(dt));

	for (bool in16 : {false, true}) {
		Buf chw(n * 3 * hw, in16 ? 2 : 4), o2(n * hw * cs, dt);
		chw.fill(-2.5f, 2.5f);
		gpu::launch_input_chw(chw.p, in16, o2.p, dt, n, hw, nullptr);
		for (long i = 0; i < n; i++)
			for (long p = 0; p < hw; p++)
				for (int c = 0; c < cs; c++)
					ref[(i * hw + p) * cs + c] = c < 3 ? round_to(dt, chw.get((i * 3 + c) * hw + p)) : 0.0;
		check(std::string("input_chw from ") + (in16 ? "fp16 " : "fp32 ") + dname(dt), o2, ref, cs, tol(dt));
	}
}

void t_maxpool(Dt dt, int n, int H, int W, int C)
{
	int Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1;
	Buf in((size_t)n * H * W * C, dt), out((size_t)n * Ho * Wo * C, dt);
	in.fill(-3, 3);
	gpu::launch_maxpool3s2(in.p, out.p, dt, n, H, W, C, nullptr);
	std::vector<double> ref(out.n);
	for (int i = 0; i < n; i++)
		for (int y = 0; y < Ho; y++)
			for (int x = 0; x < Wo; x++)
				for (int c = 0; c < C; c++) {
					double m = -INFINITY;
					for (int yy = 2 * y - 1; yy <= 2 * y + 1; yy++)
						for (int xx = 2 * x - 1; xx <= 2 * x + 1; xx++)
							if (yy >= 0 && yy < H && xx >= 0 && xx < W)
								m = std::max(m, (double)in.get((((size_t)i * H + yy) * W + xx) * C + c));
					ref[(((size_t)i * Ho + y) * Wo + x) * C + c] = m;
				}
	check("maxpool3s2 " + std::to_string(n) + "x" + std::to_string(H) + "x" + std::to_string(W) + "x" +
		      std::to_string(C) + " " + dname(dt),
	      out, ref, C, tol(dt));
}

void t_avgpool(Dt dt, int n, int H, int W, int C, int k)
{
	int Ho = H / k, Wo = W / k;
	Buf in((size_t)n * H * W * C, dt), out((size_t)n * Ho * Wo * C, dt);
	in.fill(-3, 3);
	gpu::launch_avgpool(in.p, out.p, dt, n, H, W, C, k, nullptr);
	std::vector<double> ref(out.n);
	for (int i = 0; i < n; i++)
		for (int y = 0; y < Ho; y++)
			for (int x = 0; x < Wo; x++)
				for (int c = 0; c < C; c++) {
					double s = 0;
					for (int dy = 0; dy < k; dy++)
						for (int dx = 0; dx < k; dx++)
							s += in.get((((size_t)i * H + y * k + dy) * W + x * k + dx) * C + c);
					ref[(((size_t)i * Ho + y) * Wo + x) * C + c] = s / (k * k);
				}
	check("avgpool k" + std::to_string(k) + " " + std::to_string(n) + "x" + std::to_string(H) + "x" +
		      std::to_string(W) + "x" + std::to_string(C) + " " + dname(dt),
	      out, ref, C, tol(dt));
}

void t_gap(Dt dt)
{
	const int n = 3, hw = 49, C = 2048;
	Buf in((size_t)n * hw * C, dt), out((size_t)n * C, dt), o32((size_t)n * C, 4);
	in.fill(0, 4);
	gpu::launch_gap(in.p, out.p, o32.f(), dt, n, hw, C, nullptr);
	std::vector<double> ref(out.n);
	for (int i = 0; i < n; i++)
		for (int c = 0; c < C; c++) {
			double s = 0;
			for (int p = 0; p < hw; p++)
				s += in.get(((size_t)i * hw + p) * C + c);
			ref[(size_t)i * C + c] = s / hw;
		}
	check(std::string("gap ") + dname(dt), out, ref, C, tol(dt));
	check(std::string("gap float32 copy (--features) ") + dname(dt), o32, ref, C, tol(dt));
}

void t_attn_tokens(Dt dt)
{
	const int n = 2, hw = 49, C = 2048;
	Buf x((size_t)n * hw * C, dt), pos((size_t)(hw + 1) * C, dt), tok((size_t)n * (hw + 1) * C, dt);
	x.fill(0, 3);
	pos.fill(-0.1f, 0.1f);
	gpu::launch_attn_tokens(x.p, pos.p, tok.p, dt, n, hw, C, nullptr);
	std::vector<double> ref(tok.n);
	for (int i = 0; i < n; i++)
		for (int c = 0; c < C; c++) {
			double s = 0;
			for (int p = 0; p < hw; p++) {
				double v = x.get(((size_t)i * hw + p) * C + c);
				s += v;
				ref[((size_t)i * (hw + 1) + 1 + p) * C + c] = v + pos.get((size_t)(1 + p) * C + c);
			}
			/* the mean is rounded to the storage type first, as CLIP computes it */
			ref[(size_t)i * (hw + 1) * C + c] = round_to(dt, s / hw) + pos.get(c);
		}
	check(std::string("attn_tokens ") + dname(dt), tok, ref, C, tol(dt));
}

void t_attn(Dt dt, int n, int tokens, int heads)
{
	const int hd = 64, dim = heads * hd;
	Buf q((size_t)n * dim, dt), bq(dim, dt), kv((size_t)n * tokens * 2 * dim, dt),
		bkv(2 * dim, dt), o((size_t)n * dim, dt);
	q.fill(-2, 2);
	bq.fill(-0.5f, 0.5f);
	kv.fill(-2, 2);
	bkv.fill(-0.5f, 0.5f);
	gpu::launch_attn(q.p, bq.p, kv.p, bkv.p, o.p, dt, n, tokens, dim, heads, hd, nullptr);
	std::vector<double> ref(o.n);
	for (int i = 0; i < n; i++)
		for (int h = 0; h < heads; h++) {
			std::vector<double> s(tokens);
			double mx = -INFINITY;
			for (int j = 0; j < tokens; j++) {
				double d = 0;
				for (int e = 0; e < hd; e++) {
					int col = h * hd + e;
					d += (q.get((size_t)i * dim + col) + (double)bq.get(col)) / 8.0 *
					     (kv.get(((size_t)i * tokens + j) * 2 * dim + col) + (double)bkv.get(col));
				}
				s[j] = d;
				mx = std::max(mx, d);
			}
			double sum = 0;
			for (double &v : s)
				sum += (v = std::exp(v - mx));
			for (int e = 0; e < hd; e++) {
				int col = h * hd + e;
				double acc = 0;
				for (int j = 0; j < tokens; j++)
					acc += s[j] / sum *
					       (kv.get(((size_t)i * tokens + j) * 2 * dim + dim + col) + (double)bkv.get(dim + col));
				ref[(size_t)i * dim + col] = acc;
			}
		}
	check("attn " + std::to_string(n) + " images, " + std::to_string(tokens) + " tokens, " + std::to_string(heads) +
		      " heads " + dname(dt),
	      o, ref, dim, tol(dt));
}

void t_bias_relu(Dt dt, bool residual)
{
	const long count = 2L * 56 * 56 * 64;
	const int C = 64;
	Buf y(count, dt), b(C, dt), z(count, dt);
	y.fill(-2, 2);
	b.fill(-1, 1);
	z.fill(-2, 2);
	std::vector<double> ref(count);
	for (long i = 0; i < count; i++)
		ref[i] = std::max(0.0, y.get(i) + (double)b.get(i % C) + (residual ? z.get(i) : 0.0));
	gpu::launch_bias_relu(y.p, b.p, residual ? z.p : nullptr, dt, count, C, nullptr);
	check(std::string("bias_relu ") + (residual ? "+ residual " : "") + dname(dt), y, ref, C, tol(dt));
}

void t_bias_out(Dt dt)
{
	const int n = 3, d = 1000;
	Buf out((size_t)n * d, 4), b(d, dt);
	out.fill(-5, 5);
	b.fill(-1, 1);
	std::vector<double> ref(out.n);
	for (size_t i = 0; i < out.n; i++)
		ref[i] = out.get(i) + (double)b.get(i % d);
	gpu::launch_bias_out(out.f(), b.p, dt, n, d, nullptr);
	check(std::string("bias_out ") + dname(dt), out, ref, d, tol(dt));
}

void t_attn_refused()
{
	checks++;
	Buf q(128, 4), kv(65 * 256, 4), o(128, 4);
	try {
		gpu::launch_attn(q.p, q.p, kv.p, kv.p, o.p, Dt::F32, 1, 65, 128, 4, 32, nullptr);
		printf("FAIL attn with 32-wide heads was launched (the kernel's are 64 wide)\n");
		failures++;
	} catch (const std::exception &e) {
		printf("ok   attn with 32-wide heads refused: %s\n", e.what());
	}
}

/* ---- txtencode's kernels ---- */

struct Trie {
	std::vector<int> parent, depth, token;
};

/* rows prefix-tree rows: a parent comes before its children, roots at depth 0 */
Trie make_trie(int rows, int vocab, int context)
{
	Trie t;
	for (int r = 0; r < rows; r++) {
		int p = r == 0 || rng() % 6 == 0 ? -1 : (int)(r - 1 - rng() % std::min(r, 3));
		if (p >= 0 && t.depth[(size_t)p] + 1 >= context)
			p = -1;
		t.parent.push_back(p);
		t.depth.push_back(p < 0 ? 0 : t.depth[(size_t)p] + 1);
		t.token.push_back((int)(rng() % (unsigned)vocab));
	}
	return t;
}

Buf ints(const std::vector<int> &v)
{
	Buf b(v.size(), 4);
	memcpy(b.p, v.data(), v.size() * 4);
	return b;
}

void t_text(Dt dt, int W, int rows)
{
	const int vocab = 97, context = 77, heads = W / 64;
	Trie tr = make_trie(rows, vocab, context);
	int maxd = *std::max_element(tr.depth.begin(), tr.depth.end());
	std::string sz = " W" + std::to_string(W) + " rows " + std::to_string(rows) + " " + dname(dt);
	Buf parent = ints(tr.parent), depth = ints(tr.depth), token = ints(tr.token);

	/* embedding */
	Buf tok((size_t)vocab * W, 4), pos((size_t)context * W, 4), x((size_t)rows * W, 4);
	tok.fill(-1, 1);
	pos.fill(-0.1f, 0.1f);
	gpu::launch_text_embed(tok.f(), pos.f(), (const int *)token.p, (const int *)depth.p, W, rows, x.f(), nullptr);
	std::vector<double> ref((size_t)rows * W);
	for (int r = 0; r < rows; r++)
		for (int i = 0; i < W; i++)
			ref[(size_t)r * W + i] = tok.get((size_t)tr.token[r] * W + i) + (double)pos.get((size_t)tr.depth[r] * W + i);
	check("text embed" + sz, x, ref, W, 1e-6);

	/* LayerNorm, every row, then gathered leaves */
	Buf w(W, 4), b(W, 4);
	w.fill(0.5f, 1.5f);
	b.fill(-0.2f, 0.2f);
	x.fill(-3, 3);
	auto ln_ref = [&](int src, double *dst) {
		double m = 0, v = 0;
		for (int i = 0; i < W; i++)
			m += x.get((size_t)src * W + i);
		m /= W;
		for (int i = 0; i < W; i++)
			v += (x.get((size_t)src * W + i) - m) * (x.get((size_t)src * W + i) - m);
		double inv = 1 / std::sqrt(v / W + 1e-5);
		for (int i = 0; i < W; i++)
			dst[i] = (x.get((size_t)src * W + i) - m) * inv * w.get(i) + b.get(i);
	};
	Buf ln((size_t)rows * W, dt);
	gpu::launch_text_layernorm(x.f(), nullptr, w.f(), b.f(), W, rows, ln.p, dt, nullptr);
	for (int r = 0; r < rows; r++)
		ln_ref(r, &ref[(size_t)r * W]);
	check("text layernorm" + sz, ln, ref, W, tol(dt));
	std::vector<int> leaves;
	for (int r = rows - 1; r >= 0 && leaves.size() < 13; r -= 3)
		leaves.push_back(r);
	Buf gather = ints(leaves), lg(leaves.size() * W, dt);
	gpu::launch_text_layernorm(x.f(), (const int *)gather.p, w.f(), b.f(), W, (long)leaves.size(), lg.p, dt, nullptr);
	std::vector<double> rg(leaves.size() * W);
	for (size_t k = 0; k < leaves.size(); k++)
		ln_ref(leaves[k], &rg[k * W]);
	check("text layernorm, gathered rows" + sz, lg, rg, W, tol(dt));

	/* attention over each row's root path */
	Buf qkv((size_t)rows * 3 * W, 4), bias(3 * W, 4), att((size_t)rows * W, dt);
	qkv.fill(-2, 2);
	bias.fill(-0.3f, 0.3f);
	gpu::launch_text_attention(qkv.f(), bias.f(), (const int *)parent.p, W, rows, att.p, dt, nullptr);
	auto at = [&](long r, int c) { return qkv.get((size_t)r * 3 * W + c) + (double)bias.get(c); };
	for (int r = 0; r < rows; r++)
		for (int h = 0; h < heads; h++) {
			std::vector<long> path;
			for (long j = r; j >= 0; j = tr.parent[(size_t)j])
				path.push_back(j);
			std::vector<double> s(path.size());
			double mx = -INFINITY, sum = 0;
			for (size_t k = 0; k < path.size(); k++) {
				double d = 0;
				for (int e = 0; e < 64; e++)
					d += at(r, h * 64 + e) * 0.125 * at(path[k], W + h * 64 + e);
				mx = std::max(mx, s[k] = d);
			}
			for (double &v : s)
				sum += (v = std::exp(v - mx));
			for (int e = 0; e < 64; e++) {
				double acc = 0;
				for (size_t k = 0; k < path.size(); k++)
					acc += s[k] / sum * at(path[k], 2 * W + h * 64 + e);
				ref[(size_t)r * W + h * 64 + e] = acc;
			}
		}
	check("text attention (paths up to " + std::to_string(maxd + 1) + " rows)" + sz, att, ref, W, tol(dt));

	/* bias in place; bias + QuickGELU */
	Buf y((size_t)rows * W, 4);
	y.fill(-3, 3);
	for (size_t i = 0; i < y.n; i++)
		ref[i] = y.get(i) + (double)b.get(i % W);
	gpu::launch_text_bias(y.f(), b.f(), W, (long)rows * W, nullptr);
	check("text bias" + sz, y, ref, W, 1e-6);
	const int F = 4 * W;
	Buf fin((size_t)rows * F, 4), fb(F, 4), g((size_t)rows * F, dt);
	fin.fill(-4, 4);
	fb.fill(-0.5f, 0.5f);
	std::vector<double> rgl((size_t)rows * F);
	for (bool gelu : {false, true}) {
		gpu::launch_text_bias_gelu(fin.f(), fb.f(), F, (long)rows * F, gelu, g.p, dt, nullptr);
		for (size_t i = 0; i < rgl.size(); i++) {
			double z = fin.get(i) + (double)fb.get(i % F);
			rgl[i] = gelu ? 0.5 * z * (1 + std::erf(z / std::sqrt(2.0))) : z / (1 + std::exp(-1.702 * z));
		}
		check((gelu ? "text bias + GELU" : "text bias + QuickGELU") + sz, g, rgl, F, tol(dt));
	}
}

} // namespace

int main()
{
	try {
		for (Dt dt : {Dt::F32, Dt::F16, Dt::BF16}) {
			t_input(dt);
			t_maxpool(dt, 1, 112, 112, 64); /* ResNet-50's */
			t_maxpool(dt, 2, 7, 5, 8);      /* odd sizes: the padded last row and column */
			t_avgpool(dt, 1, 56, 56, 256, 2); /* CLIP's downsampling */
			t_avgpool(dt, 2, 7, 6, 8, 3);     /* sizes not divisible by k */
			t_gap(dt);
			t_attn_tokens(dt);
			t_attn(dt, 2, 50, 32); /* CLIP RN50's attention pool */
			t_attn(dt, 1, 197, 64); /* RN50x64's: 14x14 + 1 tokens */
			for (int tokens : {1, 31, 32, 33, 64, 65, 82, 128, 145})
				t_attn(dt, 3, tokens, 2);
			t_bias_relu(dt, true);
			t_bias_relu(dt, false);
			t_bias_out(dt);
			t_text(dt, 512, 150); /* RN50's and RN101's tower */
			t_text(dt, 640, 37);  /* RN50x4's: 10 heads */
			t_text(dt, 128, 61);
		}
		t_attn_refused();
	} catch (const std::exception &e) {
		printf("FAIL: %s\n", e.what());
		return 1;
	}
	const cuda_emu::Emu &e = cuda_emu::emu();
	printf("%d checks, %d failed; %ld launches, %ld emulated threads\n", checks, failures, e.launches, e.threads_run);
	return failures ? 1 : 0;
}
