/* gpu_plan.cc - net_t -> execution plan: ops, arena placement, packed weights.
 * See gpu_plan.h for the layouts. Host code only. */
#include "gpu_plan.h"

#include <algorithm>
#include <stdexcept>

namespace gpu {

namespace {

const size_t act_align = 128;  /* elements: keeps every Act 256-byte aligned in any batch */
const size_t weight_align = 64; /* elements: 128-byte aligned pieces even in FP16 */

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
		s.groups = cv.groups;
		if (s.groups > 1 && s.cin_store != s.cin)
			throw std::runtime_error(name + ": a grouped convolution of the padded input");
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
		/* [cout][cpg][kh][kw] -> [cout][kh][kw][cpg_store] (cpg = cin/groups:
		 * a grouped filter holds its group's channels only, as cuDNN's) */
		int cpg = s.cin / s.groups, cpg_store = s.cin_store / s.groups;
		s.w = reserve((size_t)s.cout * s.kh * s.kw * cpg_store);
		float *w = p.weights.data() + s.w;
		for (int o = 0; o < s.cout; o++)
			for (int y = 0; y < s.kh; y++)
				for (int xx = 0; xx < s.kw; xx++)
					for (int ci = 0; ci < cpg; ci++)
						w[((size_t)(o * s.kh + y) * s.kw + xx) * cpg_store + ci] =
							cv.w[((size_t)(o * cpg + ci) * s.kh + y) * s.kw + xx];
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
	if (features && net->features < 0)
		throw std::runtime_error(std::string("--features is for torchvision ResNets, not ") + net->name);
	p.batch = batch;
	p.cin_store = cin_store;
	p.in_h = p.in_w = net->input_size;
	p.features = features;
	p.out_dim = net_output_dim(net, features);

	/* per value: its Act, which op reads it last, and (for a convolution
	 * without ReLU) the op that produced it */
	std::vector<int> act((size_t)net->nval, -1), last((size_t)net->nval, -1), made((size_t)net->nval, -1);
	for (int i = 0; i < net->nop; i++) {
		last[(size_t)net->op[i].in] = i;
		if (net->op[i].res >= 0)
			last[(size_t)net->op[i].res] = i;
		made[(size_t)net->op[i].out] = i;
	}
	Op in;
	in.kind = OpKind::Input;
	in.name = "input";
	in.out = b.act("input", p.in_h, p.in_w, cin_store);
	b.add(in);
	act[0] = in.out;

	for (int i = 0; i < net->nop; i++) {
		const net_op_t &op = net->op[i];
		int x = act[(size_t)op.in], out = -1;
		switch (op.kind) {
		case NET_OP_CONV: {
			const net_conv_t &cv = net->conv[op.conv];
			if (!op.relu) {
				/* no ReLU: the downsample branch, whose only reader adds it
				 * as its residual and takes its bias (gpu_plan.h) */
				int reader = last[(size_t)op.out];
				if (reader < 0 || net->op[reader].res != op.out || net->op[reader].in == op.out)
					throw std::runtime_error(std::string(op.name) + ": a convolution without ReLU must be "
											 "read once, as a residual");
			}
			const float *extra = nullptr;
			if (op.res >= 0) {
				int m = made[(size_t)op.res];
				if (m >= 0 && net->op[m].kind == NET_OP_CONV && !net->op[m].relu)
					extra = net->conv[net->op[m].conv].b;
			}
			out = b.conv(op.name, cv, x, op.relu != 0, op.res >= 0 ? act[(size_t)op.res] : -1, extra);
			break;
		}
		case NET_OP_MAXPOOL:
			if (op.k != 3 || op.stride != 2 || op.pad != 1)
				throw std::runtime_error(std::string(op.name) + ": only 3x3/2 pad 1 max pooling is planned");
			out = b.pool(OpKind::MaxPool, op.name, x, 3);
			break;
		case NET_OP_AVGPOOL:
			if (op.k != op.stride || op.pad != 0)
				throw std::runtime_error(std::string(op.name) + ": average pooling must have kernel = stride");
			out = b.pool(OpKind::AvgPool, op.name, x, op.k);
			break;
		case NET_OP_GAP: {
			Op g;
			g.kind = OpKind::Gap;
			g.name = op.name;
			g.in = x;
			g.out = b.act("pooled", 1, 1, p.acts[(size_t)x].c);
			b.add(g);
			out = g.out;
			break;
		}
		case NET_OP_FC: {
			if (net->fc.in != p.acts[(size_t)x].c)
				throw std::runtime_error("fc: input is " + std::to_string(p.acts[(size_t)x].c) +
							 " wide, expected " + std::to_string(net->fc.in));
			p.fc.in = net->fc.in;
			p.fc.out = net->fc.out;
			p.fc.w = b.put(net->fc.w, (size_t)p.fc.in * p.fc.out);
			p.fc.b = b.put(net->fc.b, (size_t)p.fc.out);
			Op f;
			f.kind = OpKind::Fc;
			f.name = op.name;
			f.in = x;
			b.add(f);
			break;
		}
		case NET_OP_ATTNPOOL: {
			const Act last_map = p.acts[(size_t)x];
			const net_attnpool_t &A = net->attn;
			AttnSpec &a = p.attn;
			a.tokens = A.tokens;
			a.dim = A.dim;
			a.heads = A.heads;
			a.head_dim = A.head_dim;
			a.out = A.out;
			if (last_map.h * last_map.w + 1 != a.tokens || last_map.c != a.dim || a.heads * a.head_dim != a.dim)
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
			Op o;
			o.kind = OpKind::AttnPool;
			o.name = op.name;
			o.in = x;
			o.tmp = {b.act("attnpool.tokens", a.tokens, 1, a.dim), b.act("attnpool.q", 1, 1, a.dim),
				 b.act("attnpool.kv", a.tokens, 1, 2 * a.dim), b.act("attnpool.o", 1, 1, a.dim)};
			b.add(o);
			break;
		}
		}
		act[(size_t)op.out] = out;
		if (op.kind == NET_OP_FC || op.kind == NET_OP_ATTNPOOL || (features && op.out == net->features))
			break;
	}
	b.place();
	return p;
}

} // namespace gpu
