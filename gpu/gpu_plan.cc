/* gpu_plan.cc - net_t -> execution plan: ops, arena placement, packed weights.
 * See gpu_plan.h for the layouts. Host code only. */
#include "gpu_plan.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace gpu {

namespace {

const size_t act_align = 128;  /* elements: keeps every Act 256-byte aligned in any batch */
const size_t weight_align = 64; /* elements: 128-byte aligned pieces even in FP16 */

std::string fmt(const char *f, int a, int b = 0)
{
	char buf[96];
	snprintf(buf, sizeof buf, f, a, b);
	return buf;
}

struct Builder {
	const net_t *net;
	Plan &p;

	size_t reserve(size_t n)
	{
		size_t off = (p.weights.size() + weight_align - 1) / weight_align * weight_align;
		p.weights.resize(off + n, 0.0f);
		return off;
	}

	size_t put(const float *src, size_t n)
	{
		size_t off = reserve(n);
		std::copy(src, src + n, p.weights.begin() + (long)off);
		return off;
	}

	int act(const std::string &name, int h, int w, int c)
	{
		Act a;
		a.name = name;
		a.h = h;
		a.w = w;
		a.c = c;
		a.elems = ((size_t)h * w * c + act_align - 1) / act_align * act_align;
		p.acts.push_back(a);
		return (int)p.acts.size() - 1;
	}

	/* Append op; mark its output written and its inputs read here. */
	int add(Op op)
	{
		int i = (int)p.ops.size();
		for (int a : {op.in, op.res})
			if (a >= 0)
				p.acts[a].last = std::max(p.acts[a].last, i);
		if (op.out >= 0) {
			p.acts[op.out].first = i;
			p.acts[op.out].last = std::max(p.acts[op.out].last, i);
		}
		for (int a : op.tmp)
			p.acts[a].first = p.acts[a].last = i;
		p.ops.push_back(op);
		return i;
	}

	/* One convolution of in; relu=false means identity with no bias (the
	 * downsample branch, whose bias the caller adds to conv3's via extra_b). */
	int conv(const std::string &name, const net_conv_t &cv, int in, bool relu, int res,
		 const float *extra_b)
	{
		const Act &x = p.acts[in];
		if (x.c != cv.cin && !(in == 0 && x.c >= cv.cin))
			throw std::runtime_error(name + ": input has " + std::to_string(x.c) + " channels, conv expects " +
						 std::to_string(cv.cin));
		ConvSpec s;
		s.name = name;
		s.cin = cv.cin;
		s.cin_store = x.c;
		s.cout = cv.cout;
		s.kh = cv.kh;
		s.kw = cv.kw;
		s.stride = cv.stride;
		s.pad = cv.pad;
		s.hin = x.h;
		s.win = x.w;
		s.hout = (x.h + 2 * cv.pad - cv.kh) / cv.stride + 1;
		s.wout = (x.w + 2 * cv.pad - cv.kw) / cv.stride + 1;
		s.relu = relu;
		if (s.hout <= 0 || s.wout <= 0)
			throw std::runtime_error(name + ": empty output");
		/* [cout][cin][kh][kw] -> [cout][kh][kw][cin_store] */
		s.w = reserve((size_t)s.cout * s.kh * s.kw * s.cin_store);
		float *w = p.weights.data() + s.w;
		for (int o = 0; o < s.cout; o++)
			for (int y = 0; y < s.kh; y++)
				for (int xx = 0; xx < s.kw; xx++)
					for (int ci = 0; ci < s.cin; ci++)
						w[((size_t)(o * s.kh + y) * s.kw + xx) * s.cin_store + ci] =
							cv.w[((size_t)(o * s.cin + ci) * s.kh + y) * s.kw + xx];
		if (relu) {
			s.b = reserve((size_t)s.cout);
			float *b = p.weights.data() + s.b;
			for (int o = 0; o < s.cout; o++)
				b[o] = cv.b[o] + (extra_b ? extra_b[o] : 0.0f);
		}
		if (res >= 0) {
			const Act &r = p.acts[res];
			if (r.h != s.hout || r.w != s.wout || r.c != s.cout)
				throw std::runtime_error(name + ": residual shape does not match the output");
		}
		p.convs.push_back(s);
		Op op;
		op.kind = OpKind::Conv;
		op.name = name;
		op.in = in;
		op.res = res;
		op.conv = (int)p.convs.size() - 1;
		op.out = act(name, s.hout, s.wout, s.cout);
		add(op);
		return op.out;
	}

	int pool(OpKind kind, const std::string &name, int in, int k)
	{
		const Act x = p.acts[in];
		Op op;
		op.kind = kind;
		op.name = name;
		op.in = in;
		op.k = k;
		if (kind == OpKind::MaxPool)
			op.out = act(name, (x.h - 1) / 2 + 1, (x.w - 1) / 2 + 1, x.c); /* (h + 2 - 3) / 2 + 1 */
		else
			op.out = act(name, x.h / k, x.w / k, x.c);
		add(op);
		return op.out;
	}

	void place()
	{
		std::vector<int> order(p.acts.size());
		for (size_t i = 0; i < order.size(); i++)
			order[i] = (int)i;
		std::stable_sort(order.begin(), order.end(),
				 [&](int a, int b) { return p.acts[a].elems > p.acts[b].elems; });
		std::vector<int> placed;
		p.arena_elems = 0;
		for (int a : order) {
			Act &x = p.acts[a];
			if (x.first < 0)
				throw std::runtime_error("plan: activation " + x.name + " is never written");
			/* lowest offset clear of every placed Act alive at the same time */
			std::vector<const Act *> busy;
			for (int b : placed) {
				const Act &y = p.acts[b];
				if (y.first <= x.last && x.first <= y.last)
					busy.push_back(&y);
			}
			std::sort(busy.begin(), busy.end(), [](const Act *u, const Act *v) { return u->off < v->off; });
			size_t off = 0;
			for (const Act *y : busy) {
				if (off + x.elems <= y->off)
					break;
				off = std::max(off, y->off + y->elems);
			}
			x.off = off;
			placed.push_back(a);
			p.arena_elems = std::max(p.arena_elems, off + x.elems);
		}
		p.peak_live_elems = 0;
		for (int i = 0; i < (int)p.ops.size(); i++)
			p.peak_live_elems = std::max(p.peak_live_elems, plan_live_elems(p, i));
	}
};

} // namespace

size_t plan_live_elems(const Plan &p, int op)
{
	size_t n = 0;
	for (const Act &a : p.acts)
		if (a.first <= op && op <= a.last)
			n += a.elems;
	return n;
}

Plan plan_build(const net_t *net, int batch, bool features, int cin_store)
{
	Plan p;
	Builder b{net, p};
	if (batch < 1)
		throw std::runtime_error("plan: batch must be at least 1");
	if (features && net->head != NET_HEAD_FC)
		throw std::runtime_error("--features is only for resnet50");
	p.batch = batch;
	p.cin_store = cin_store;
	p.in_h = p.in_w = NET_INPUT_SIZE;
	p.features = features;
	p.out_dim = net_output_dim(net, features);

	Op in;
	in.kind = OpKind::Input;
	in.name = "input";
	in.out = b.act("input", p.in_h, p.in_w, cin_store);
	b.add(in);
	int cur = in.out;

	for (int i = 0; i < net->nstem; i++)
		cur = b.conv(net->nstem == 1 ? std::string("conv1") : fmt("conv%d", i + 1), net->stem[i], cur, true,
			     -1, nullptr);
	if (net->stem_pool == NET_STEM_MAXPOOL)
		cur = b.pool(OpKind::MaxPool, "maxpool", cur, 3);
	else
		cur = b.pool(OpKind::AvgPool, "avgpool", cur, 2);

	bool clip = net->kind == MODEL_CLIP_RN50;
	int blk = 0;
	for (int s = 0; s < NET_STAGES; s++) {
		for (int i = 0; i < net->stage_blocks[s]; i++, blk++) {
			const net_block_t &B = net->block[blk];
			std::string nm = fmt("layer%d.%d", s + 1, i);
			int x = cur;
			int y = b.conv(nm + ".conv1", B.conv1, x, true, -1, nullptr);
			y = b.conv(nm + ".conv2", B.conv2, y, true, -1, nullptr);
			if (clip && B.stride > 1)
				y = b.pool(OpKind::AvgPool, nm + ".avgpool", y, B.stride);
			int r = x;
			const float *extra = nullptr;
			if (B.has_down) {
				int xin = x;
				if (clip && B.stride > 1)
					xin = b.pool(OpKind::AvgPool, nm + ".downsample.avgpool", x, B.stride);
				r = b.conv(nm + ".downsample", B.down, xin, false, -1, nullptr);
				extra = B.down.b;
			}
			cur = b.conv(nm + ".conv3", B.conv3, y, true, r, extra);
		}
	}

	const Act last = p.acts[cur];
	if (net->head == NET_HEAD_FC) {
		Op g;
		g.kind = OpKind::Gap;
		g.name = "avgpool";
		g.in = cur;
		g.out = b.act("pooled", 1, 1, last.c);
		b.add(g);
		if (!features) {
			if (net->fc.in != last.c)
				throw std::runtime_error("fc: input is " + std::to_string(last.c) + " wide, expected " +
							 std::to_string(net->fc.in));
			p.fc.in = net->fc.in;
			p.fc.out = net->fc.out;
			p.fc.w = b.put(net->fc.w, (size_t)p.fc.in * p.fc.out);
			p.fc.b = b.put(net->fc.b, (size_t)p.fc.out);
			Op f;
			f.kind = OpKind::Fc;
			f.name = "fc";
			f.in = g.out;
			b.add(f);
		}
	} else {
		const net_attnpool_t &A = net->attn;
		AttnSpec &a = p.attn;
		a.tokens = A.tokens;
		a.dim = A.dim;
		a.heads = A.heads;
		a.head_dim = A.head_dim;
		a.out = A.out;
		if (last.h * last.w + 1 != a.tokens || last.c != a.dim || a.heads * a.head_dim != a.dim)
			throw std::runtime_error("attnpool: feature map does not match the positional embedding");
		size_t dd = (size_t)a.dim * a.dim;
		a.pos = b.put(A.pos, (size_t)a.tokens * a.dim);
		a.wq = b.put(A.wq, dd);
		a.bq = b.put(A.bq, (size_t)a.dim);
		a.wkv = b.reserve(2 * dd);
		std::copy(A.wk, A.wk + dd, p.weights.begin() + (long)a.wkv);
		std::copy(A.wv, A.wv + dd, p.weights.begin() + (long)(a.wkv + dd));
		a.bkv = b.reserve(2 * (size_t)a.dim);
		std::copy(A.bk, A.bk + a.dim, p.weights.begin() + (long)a.bkv);
		std::copy(A.bv, A.bv + a.dim, p.weights.begin() + (long)(a.bkv + a.dim));
		a.wc = b.put(A.wc, (size_t)a.out * a.dim);
		a.bc = b.put(A.bc, (size_t)a.out);
		Op op;
		op.kind = OpKind::AttnPool;
		op.name = "attnpool";
		op.in = cur;
		op.tmp = {b.act("attnpool.tokens", a.tokens, 1, a.dim), b.act("attnpool.q", 1, 1, a.dim),
			  b.act("attnpool.kv", a.tokens, 1, 2 * a.dim), b.act("attnpool.o", 1, 1, a.dim)};
		b.add(op);
	}
	b.place();
	return p;
}

} // namespace gpu
