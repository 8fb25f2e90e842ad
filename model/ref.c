/* ref.c - the reference forward: what every backend computes, in plain C.
 *
 * One image at a time, ops in the order of the description (net.h), each
 * value a float array [c][h][w] freed after its last use. No threads, no
 * libraries, no layout tricks: a convolution is the textbook loop nest
 * (grouped: each output channel sees its group's input channels), pools and
 * the attention pool are written as net.h states them. Slow (a full-size
 * ResNet-50 image takes seconds), and meant to be: the tests compare the
 * oneDNN and CUDA backends with it and with PyTorch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* out[o][y][x] = b[o] + sum over the group's channels and the kernel window of
 * w[o][ci][ky][kx] * in[g*cpg + ci][y*stride - pad + ky][x*stride - pad + kx] */
static void conv(const net_conv_t *c, const float *in, int h, int w, float *out, int oh, int ow)
{
	int cpg = c->cin / c->groups, opg = c->cout / c->groups;
	for (int o = 0; o < c->cout; o++) {
		float *y = out + (size_t)o * oh * ow;
		for (int i = 0; i < oh * ow; i++)
			y[i] = c->b[o];
		int g = o / opg;
		for (int ci = 0; ci < cpg; ci++) {
			const float *x = in + (size_t)(g * cpg + ci) * h * w;
			for (int ky = 0; ky < c->kh; ky++)
				for (int kx = 0; kx < c->kw; kx++) {
					float wv = c->w[(((size_t)o * cpg + ci) * c->kh + ky) * c->kw + kx];
					for (int oy = 0; oy < oh; oy++) {
						int iy = oy * c->stride - c->pad + ky;
						if (iy < 0 || iy >= h)
							continue;
						for (int ox = 0; ox < ow; ox++) {
							int ix = ox * c->stride - c->pad + kx;
							if (ix >= 0 && ix < w)
								y[oy * ow + ox] += wv * x[iy * w + ix];
						}
					}
				}
		}
	}
}

static void pool(const net_op_t *op, int maxpool, const float *in, net_val_t x, float *out, net_val_t y)
{
	for (int c = 0; c < x.c; c++)
		for (int oy = 0; oy < y.h; oy++)
			for (int ox = 0; ox < y.w; ox++) {
				float m = -INFINITY, s = 0;
				for (int ky = 0; ky < op->k; ky++)
					for (int kx = 0; kx < op->k; kx++) {
						int iy = oy * op->stride - op->pad + ky, ix = ox * op->stride - op->pad + kx;
						if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w)
							continue;
						float v = in[((size_t)c * x.h + iy) * x.w + ix];
						m = v > m ? v : m;
						s += v;
					}
				out[((size_t)c * y.h + oy) * y.w + ox] = maxpool ? m : s / (float)(op->k * op->k);
			}
}

/* y[o] = b[o] + W[o] . x   (W [out][in]) */
static void linear(const float *w, const float *b, int in, int out, const float *x, float *y)
{
	for (int o = 0; o < out; o++) {
		float s = 0;
		for (int i = 0; i < in; i++)
			s += w[(size_t)o * in + i] * x[i];
		y[o] = s + b[o];
	}
}

static int attnpool(const net_attnpool_t *a, const float *in, float *out)
{
	int T = a->tokens, D = a->dim, hw = T - 1, hd = a->head_dim;
	float *tok = malloc((size_t)T * D * sizeof *tok), *k = malloc((size_t)T * D * sizeof *k);
	float *v = malloc((size_t)T * D * sizeof *v), *q = malloc((size_t)D * sizeof *q);
	float *o = malloc((size_t)D * sizeof *o), *p = malloc((size_t)T * sizeof *p);
	if (!tok || !k || !v || !q || !o || !p) {
		free(tok), free(k), free(v), free(q), free(o), free(p);
		return -1;
	}
	for (int c = 0; c < D; c++) { /* tokens: [mean; the map in row-major order] + pos */
		float s = 0;
		for (int j = 0; j < hw; j++) {
			tok[(size_t)(j + 1) * D + c] = in[(size_t)c * hw + j];
			s += in[(size_t)c * hw + j];
		}
		tok[c] = s / (float)hw;
	}
	for (size_t i = 0; i < (size_t)T * D; i++)
		tok[i] += a->pos[i];
	linear(a->wq, a->bq, D, D, tok, q);
	for (int j = 0; j < T; j++) {
		linear(a->wk, a->bk, D, D, tok + (size_t)j * D, k + (size_t)j * D);
		linear(a->wv, a->bv, D, D, tok + (size_t)j * D, v + (size_t)j * D);
	}
	float scale = 1.0f / sqrtf((float)hd);
	for (int h = 0; h < a->heads; h++) {
		float mx = -INFINITY, den = 0;
		for (int j = 0; j < T; j++) {
			float s = 0;
			for (int c = h * hd; c < (h + 1) * hd; c++)
				s += q[c] * scale * k[(size_t)j * D + c];
			p[j] = s;
			mx = s > mx ? s : mx;
		}
		for (int j = 0; j < T; j++)
			den += p[j] = expf(p[j] - mx);
		for (int c = h * hd; c < (h + 1) * hd; c++) {
			float s = 0;
			for (int j = 0; j < T; j++)
				s += p[j] / den * v[(size_t)j * D + c];
			o[c] = s;
		}
	}
	linear(a->wc, a->bc, D, a->out, o, out);
	free(tok), free(k), free(v), free(q), free(o), free(p);
	return 0;
}

int net_ref_forward(const net_t *net, const float *x, int features, float *out)
{
	float **val = calloc((size_t)net->nval, sizeof *val);
	int *last = malloc((size_t)net->nval * sizeof *last);
	int rc = -1;
	if (!val || !last)
		goto done;
	for (int i = 0; i < net->nval; i++)
		last[i] = -1;
	for (int i = 0; i < net->nop; i++) {
		const net_op_t *op = &net->op[i];
		last[op->in] = i;
		if (op->res >= 0)
			last[op->res] = i;
	}
	int result = features ? net->features : net->op[net->nop - 1].out;
	val[0] = (float *)x;
	for (int i = 0; i < net->nop; i++) {
		const net_op_t *op = &net->op[i];
		net_val_t vi = net->val[op->in], vo = net->val[op->out];
		size_t n = (size_t)vo.c * vo.h * vo.w;
		float *y = val[op->out] = malloc(n * sizeof *y);
		if (!y)
			goto done;
		switch (op->kind) {
		case NET_OP_CONV:
			conv(&net->conv[op->conv], val[op->in], vi.h, vi.w, y, vo.h, vo.w);
			for (size_t e = 0; e < n; e++) {
				if (op->res >= 0)
					y[e] += val[op->res][e];
				if (op->relu && !(y[e] > 0))
					y[e] = y[e] == y[e] ? 0 : y[e]; /* ReLU keeps a NaN, as PyTorch's does */
			}
			break;
		case NET_OP_MAXPOOL:
		case NET_OP_AVGPOOL: pool(op, op->kind == NET_OP_MAXPOOL, val[op->in], vi, y, vo); break;
		case NET_OP_GAP:
			for (int c = 0; c < vi.c; c++) {
				float s = 0;
				for (int j = 0; j < vi.h * vi.w; j++)
					s += val[op->in][(size_t)c * vi.h * vi.w + j];
				y[c] = s / (float)(vi.h * vi.w);
			}
			break;
		case NET_OP_FC: linear(net->fc.w, net->fc.b, net->fc.in, net->fc.out, val[op->in], y); break;
		case NET_OP_ATTNPOOL:
			if (attnpool(&net->attn, val[op->in], y))
				goto done;
			break;
		}
		if (op->out == result) {
			memcpy(out, y, n * sizeof *y);
			rc = 0;
			goto done;
		}
		for (int v = 1; v < net->nval; v++) /* value 0 is the caller's */
			if (val[v] && last[v] == i) {
				free(val[v]);
				val[v] = NULL;
			}
	}
done:
	for (int v = 1; val && v < net->nval; v++)
		free(val[v]);
	free(val);
	free(last);
	return rc;
}
