/* test_imgresample.c - the Pillow resampler: a hand-worked case, and the
 * fast paths (sub-range plans, AVX2 kernels, cached plans) against a plain
 * whole-image resize written out from Pillow's algorithm, on random images,
 * sizes, channel counts, filters and pass orders; the pass-order rules.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "check.h"


static unsigned rng = 12345;
static unsigned rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static uint8_t clip(int32_t v)
{
	v = v < 0 ? 0 : v >> 22;
	return v > 255 ? 255 : (uint8_t)v;
}

/* One tap sum of Pillow's 8-bit passes: n samples step apart times k. */
static uint8_t taps(const uint8_t *p, size_t step, const int32_t *k, int n)
{
	int32_t s = 1 << 21;
	for (int t = 0; t < n; t++)
		s += p[(size_t)t * step] * k[t];
	return clip(s);
}

/* Pillow's ImagingResampleInner, plainly, full size out: horizontal pass over
 * every source row, 8-bit intermediate, then vertical; or with vfirst
 * (Pillow 13's order for images whose height shrinks most) vertical over
 * every source column, then horizontal. An axis that keeps its size is
 * copied. */
static void reference(const uint8_t *src, int w, int h, int nc, int ow, int oh, img_filter_t f, int vfirst,
		      uint8_t *out)
{
	img_axis_t ax = {0}, ay = {0};
	img_axis_plan(&ax, w, (float)w, ow, f, 0, ow);
	img_axis_plan(&ay, h, (float)h, oh, f, 0, oh);
	int mw = vfirst ? w : ow, mh = vfirst ? oh : h; /* the intermediate */
	uint8_t *mid = malloc((size_t)mw * mh * nc);
	for (int y = 0; y < mh; y++)
		for (int x = 0; x < mw; x++)
			for (int c = 0; c < nc; c++) {
				uint8_t *m = &mid[((size_t)y * mw + x) * nc + c];
				if (vfirst)
					*m = ay.identity ? src[((size_t)y * w + x) * nc + c]
							 : taps(src + ((size_t)ay.xmin[y] * w + x) * nc + c, (size_t)w * nc,
								ay.k + y * ay.ksize, ay.count[y]);
				else
					*m = ax.identity ? src[((size_t)y * w + x) * nc + c]
							 : taps(src + ((size_t)y * w + ax.xmin[x]) * nc + c, (size_t)nc,
								ax.k + x * ax.ksize, ax.count[x]);
			}
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++)
			for (int c = 0; c < nc; c++) {
				uint8_t *o = &out[((size_t)y * ow + x) * nc + c];
				if (vfirst)
					*o = ax.identity ? mid[((size_t)y * mw + x) * nc + c]
							 : taps(mid + ((size_t)y * mw + ax.xmin[x]) * nc + c, (size_t)nc,
								ax.k + x * ax.ksize, ax.count[x]);
				else
					*o = ay.identity ? mid[((size_t)y * mw + x) * nc + c]
							 : taps(mid + ((size_t)ay.xmin[y] * mw + x) * nc + c, (size_t)mw * nc,
								ay.k + y * ay.ksize, ay.count[y]);
			}
	free(mid);
	img_axis_free(&ax);
	img_axis_free(&ay);
}

static void hand_worked(void)
{
	/* 4 -> 2 bilinear: scale 2, support 2. Output 0: center 1, taps 0..2 with
	 * weights 0.75, 0.75, 0.25 -> 3/7, 3/7, 1/7; output 1: center 3, taps 1..3
	 * -> 1/7, 3/7, 3/7. Fixed point: 3/7 -> 1797559, 1/7 -> 599186.
	 * Row 0, 70, 140, 210: (70*1797559 + 140*599186 + 2^21) >> 22 = 50 and
	 * (70*599186 + 350*1797559 + 2^21) >> 22 = 160 (160.5000072, floored). */
	img_axis_t a = {0};
	CHECK(img_axis_plan(&a, 4, 4.0f, 2, IMG_FILTER_BILINEAR, 0, 2) == 0, "plan");
	CHECK(a.xmin[0] == 0 && a.count[0] == 3 && a.xmin[1] == 1 && a.count[1] == 3, "bounds %d+%d %d+%d",
	      a.xmin[0], a.count[0], a.xmin[1], a.count[1]);
	CHECK(a.k[0] == 1797559 && a.k[1] == 1797559 && a.k[2] == 599186, "weights %d %d %d", a.k[0], a.k[1], a.k[2]);
	uint8_t src[4 + IMG_RESAMPLE_PAD] = {0, 70, 140, 210}, out[2];
	img_axis_t ay = {0};
	img_axis_plan(&ay, 1, 1.0f, 1, IMG_FILTER_BILINEAR, 0, 1);
	img_view_t v = {src, 0, 0, 4, 1, 1, 4}, d = {out, 0, 0, 0, 0, 0, 2};
	uint8_t *tmp = NULL;
	size_t cap = 0;
	CHECK(img_resample(&v, &a, &ay, 0, &d, &tmp, &cap) == 0, "resample");
	CHECK(out[0] == 50 && out[1] == 160, "got %d %d, want 50 160", out[0], out[1]);
	/* bicubic weights go negative: 8 -> 3 has a negative outer tap */
	CHECK(img_axis_plan(&a, 8, 8.0f, 3, IMG_FILTER_BICUBIC, 0, 3) == 0, "plan");
	int neg = 0;
	for (int i = 0; i < 3 * a.ksize; i++)
		neg |= a.k[i] < 0;
	CHECK(neg, "bicubic has negative lobes");
	img_axis_free(&a);
	img_axis_free(&ay);
	free(tmp);
}

static void random_against_reference(void)
{
	uint8_t *tmp = NULL;
	size_t cap = 0;
	img_axis_t ax = {0}, ay = {0}; /* reused across cases: exercises the plan cache */
	for (int iter = 0; iter < 400; iter++) {
		int w = 1 + (int)rnd(90), h = 1 + (int)rnd(90), nc = 1 + (int)rnd(4);
		int ow = 1 + (int)rnd(120), oh = 1 + (int)rnd(120);
		if (rnd(4) == 0)
			ow = w; /* one axis not resampled */
		img_filter_t f = (img_filter_t)rnd(IMG_FILTER_COUNT);
		int vfirst = (int)rnd(2);
		size_t n = (size_t)w * h * nc;
		uint8_t *src = malloc(n + IMG_RESAMPLE_PAD), *full = malloc((size_t)ow * oh * nc);
		for (size_t i = 0; i < n; i++)
			src[i] = rnd(5) == 0 ? (rnd(2) ? 255 : 0) : (uint8_t)rnd(256); /* extremes exercise clipping */
		memset(src + n, 0xAB, IMG_RESAMPLE_PAD);
		reference(src, w, h, nc, ow, oh, f, vfirst, full);
		int x0 = (int)rnd((unsigned)ow), y0 = (int)rnd((unsigned)oh);
		int rw = 1 + (int)rnd((unsigned)(ow - x0)), rh = 1 + (int)rnd((unsigned)(oh - y0));
		CHECK(img_axis_plan(&ax, w, (float)w, ow, f, x0, rw) == 0, "plan");
		CHECK(img_axis_plan(&ay, h, (float)h, oh, f, y0, rh) == 0, "plan");
		/* give the resampler only the source window the plans read */
		int sx0 = ax.src_lo, sy0 = ay.src_lo, sw = ax.src_hi - ax.src_lo, sh = ay.src_hi - ay.src_lo;
		uint8_t *win = malloc((size_t)sw * sh * nc + IMG_RESAMPLE_PAD);
		for (int y = 0; y < sh; y++)
			memcpy(win + (size_t)y * sw * nc, src + ((size_t)(y + sy0) * w + sx0) * nc, (size_t)sw * nc);
		memset(win + (size_t)sw * sh * nc, 0xCD, IMG_RESAMPLE_PAD);
		img_view_t v = {win, sx0, sy0, sw, sh, nc, (size_t)sw * nc};
		uint8_t *out = malloc((size_t)rw * rh * nc);
		img_view_t d = {out, 0, 0, 0, 0, 0, (size_t)rw * nc};
		CHECK(img_resample(&v, &ax, &ay, vfirst, &d, &tmp, &cap) == 0, "resample");
		int bad = 0;
		for (int y = 0; y < rh && !bad; y++)
			for (int x = 0; x < rw * nc && !bad; x++)
				if (out[(size_t)y * rw * nc + x] != full[(size_t)(y + y0) * ow * nc + (size_t)x0 * nc + x]) {
					bad = 1;
					CHECK(0, "%dx%dx%d -> %dx%d %s%s, region %d,%d %dx%d: byte (%d,%d) %d != %d", w, h, nc, ow,
					      oh, img_filter_name(f), vfirst ? " vertical first" : "", x0, y0, rw, rh, y, x,
					      out[(size_t)y * rw * nc + x],
					      full[(size_t)(y + y0) * ow * nc + (size_t)x0 * nc + x]);
				}
		checks++;
		free(src);
		free(full);
		free(win);
		free(out);
	}
	img_axis_free(&ax);
	img_axis_free(&ay);
	free(tmp);
}

/* The pass-order rules, from Pillow's sources (image/image.h). */
static void orders(void)
{
	/* 13: (in_h - out_h) > 0 and > 2 (in_w - out_w) */
	CHECK(img_vertical_first(IMG_ORDER_PIL13, 320, 685, 256, 548), "pil13: 320x685 -> 256x548 (137 > 128)");
	CHECK(!img_vertical_first(IMG_ORDER_PIL13, 320, 640, 256, 512), "pil13: 320x640 -> 256x512 (128 = 128)");
	CHECK(img_vertical_first(IMG_ORDER_PIL13, 100, 300, 120, 299), "pil13: width grows, height shrinks");
	CHECK(!img_vertical_first(IMG_ORDER_PIL13, 100, 300, 50, 300), "pil13: height kept");
	/* 12.2: in_h > 100 in_w and out_h < in_h */
	CHECK(img_vertical_first(IMG_ORDER_PIL12_2, 3, 301, 2, 300), "pil12.2: 3x301");
	CHECK(!img_vertical_first(IMG_ORDER_PIL12_2, 3, 300, 2, 200), "pil12.2: 3x300 is not over 100 times");
	CHECK(!img_vertical_first(IMG_ORDER_PIL12_2, 3, 400, 6, 400), "pil12.2: height kept");
	CHECK(!img_vertical_first(IMG_ORDER_PIL9, 320, 685, 256, 548), "pil9: never");
	img_order_t o;
	CHECK(img_order_parse("pil12.2", &o) == 0 && o == IMG_ORDER_PIL12_2 && img_order_parse("pil10", &o) != 0,
	      "img_order_parse");
}

static void nearest(void)
{
	/* Pillow's NEAREST: source = floor((x + 0.5) * in / out) */
	int idx[5];
	img_nearest_index(10, 10.0f, 4, 0, 4, idx);
	CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 6 && idx[3] == 8, "10->4: %d %d %d %d", idx[0], idx[1], idx[2],
	      idx[3]);
	img_nearest_index(2, 2.0f, 5, 1, 4, idx);
	CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 1 && idx[3] == 1, "2->5 from 1: %d %d %d %d", idx[0], idx[1],
	      idx[2], idx[3]);
}

int main(void)
{
	hand_worked();
	random_against_reference();
	orders();
	nearest();
	return check_report();
}
