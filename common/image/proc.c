/* proc.c - image file -> model-ready crop (see image/image.h). */
#define _POSIX_C_SOURCE 200809L
#include "image/image.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"
#include "image/internal.h"

/* ---- presets (doc/presets.md) ---- */

static const struct {
	const char *name;
	int resize, crop;
	img_filter_t filter;
	float mean[3], std[3];
	int rgb_first;
} presets[] = {
	{"imagenet", 256, 224, IMG_FILTER_BILINEAR, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1},
	{"imagenet-v2", 232, 224, IMG_FILTER_BILINEAR, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1},
	{"clip", 224, 224, IMG_FILTER_BICUBIC, {0.48145466f, 0.4578275f, 0.40821073f},
	 {0.26862954f, 0.26130258f, 0.27577711f}, 0},
	/* CLIP RN50x4, RN50x16, RN50x64: CLIP's own transform at the model's resolution */
	{"clip-288", 288, 288, IMG_FILTER_BICUBIC, {0.48145466f, 0.4578275f, 0.40821073f},
	 {0.26862954f, 0.26130258f, 0.27577711f}, 0},
	{"clip-384", 384, 384, IMG_FILTER_BICUBIC, {0.48145466f, 0.4578275f, 0.40821073f},
	 {0.26862954f, 0.26130258f, 0.27577711f}, 0},
	{"clip-448", 448, 448, IMG_FILTER_BICUBIC, {0.48145466f, 0.4578275f, 0.40821073f},
	 {0.26862954f, 0.26130258f, 0.27577711f}, 0},
};

int img_preset(const char *name, img_params_t *p)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (strcmp(name, presets[i].name) == 0) {
			p->preset = presets[i].name;
			p->resize = presets[i].resize;
			p->crop = presets[i].crop;
			p->filter = presets[i].filter;
			memcpy(p->mean, presets[i].mean, sizeof p->mean);
			memcpy(p->std, presets[i].std, sizeof p->std);
			p->rgb_first = presets[i].rgb_first;
			return 0;
		}
	return -1;
}

const char *img_preset_names(void)
{
	return "imagenet, imagenet-v2, clip, clip-288, clip-384, clip-448";
}

/* ---- file type ---- */

const char *img_sniff(const uint8_t *h, size_t n)
{
	static const struct {
		const char *magic;
		size_t len, at;
		const char *what;
	} magics[] = {
		{"\xff\xd8\xff", 3, 0, "jpeg"},
		{"\x89PNG\r\n\x1a\n", 8, 0, "png"},
		{"GIF87a", 6, 0, "GIF image"},
		{"GIF89a", 6, 0, "GIF image"},
		{"BM", 2, 0, "BMP image"},
		{"WEBP", 4, 8, "WebP image"},
		{"II*\0", 4, 0, "TIFF image"},
		{"MM\0*", 4, 0, "TIFF image"},
		{"ftypheic", 8, 4, "HEIF image"},
		{"ftypheix", 8, 4, "HEIF image"},
		{"ftypmif1", 8, 4, "HEIF image"},
		{"ftypavif", 8, 4, "AVIF image"},
		{"\0\0\0\x0cjP  ", 8, 0, "JPEG 2000 image"},
		{"\xff\x4f\xff\x51", 4, 0, "JPEG 2000 codestream"},
		{"%PDF", 4, 0, "PDF document"},
		{"\x1f\x8b", 2, 0, "gzip data"},
		{"PK\x03\x04", 4, 0, "zip archive"},
	};
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (magics[i].what && n >= magics[i].at + magics[i].len &&
		    memcmp(h + magics[i].at, magics[i].magic, magics[i].len) == 0)
			return magics[i].what;
	if (n >= 4 && h[0] == 0xff && h[1] == 0xd8)
		return "jpeg"; /* SOI then garbage: let libjpeg say what is wrong */
	size_t text = 0;
	for (size_t i = 0; i < n; i++)
		if (h[i] == '\n' || h[i] == '\r' || h[i] == '\t' || (h[i] >= 0x20 && h[i] < 0x7f) || h[i] >= 0x80)
			text++;
	if (n > 0 && text == n)
		return "text";
	return NULL;
}

int img_has_image_extension(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return 0;
	return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0;
}

/* ---- context ---- */

struct img_ctx {
	img_jpeg_t *jpeg;
	uint8_t *file;
	size_t file_cap;
	uint8_t *png;
	size_t png_cap;
	uint8_t *conv;   /* the source converted to another mode */
	size_t conv_cap;
	uint8_t *tmp;    /* the resampler's horizontal pass */
	size_t tmp_cap;
	uint8_t *region; /* the resized pixels the crop keeps */
	size_t region_cap;
	uint8_t *rgb;    /* the RGB crop, when the output is float */
	size_t rgb_cap;
	img_axis_t ax, ay;
	size_t mem; /* bytes the current image holds (--max-memory): its file, its buffers */
};

/* Buffers over this many bytes are freed after their image, so that a
 * large image's memory is not kept, uncounted, for the next. */
#define KEEP_BYTES ((size_t)4 << 20)

static void trim(uint8_t **buf, size_t *cap)
{
	if (*cap > KEEP_BYTES) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

static void ctx_trim(img_ctx_t *c)
{
	img_jpeg_trim(c->jpeg, KEEP_BYTES);
	trim(&c->file, &c->file_cap);
	trim(&c->png, &c->png_cap);
	trim(&c->conv, &c->conv_cap);
	trim(&c->tmp, &c->tmp_cap);
	trim(&c->region, &c->region_cap);
	trim(&c->rgb, &c->rgb_cap);
	if (img_axis_plan_bytes(c->ax.in_size, c->ax.in_extent, c->ax.out_size, c->ax.filter, c->ax.out_n) > KEEP_BYTES)
		img_axis_free(&c->ax);
	if (img_axis_plan_bytes(c->ay.in_size, c->ay.in_extent, c->ay.out_size, c->ay.filter, c->ay.out_n) > KEEP_BYTES)
		img_axis_free(&c->ay);
}

img_ctx_t *img_ctx_new(void)
{
	img_ctx_t *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->jpeg = img_jpeg_new();
	if (!c->jpeg) {
		free(c);
		return NULL;
	}
	return c;
}

void img_ctx_free(img_ctx_t *c)
{
	if (!c)
		return;
	img_jpeg_free(c->jpeg);
	free(c->file);
	free(c->png);
	free(c->conv);
	free(c->tmp);
	free(c->region);
	free(c->rgb);
	img_axis_free(&c->ax);
	img_axis_free(&c->ay);
	free(c);
}

void img_result_free(img_result_t *r)
{
	free(r->data);
	r->data = NULL;
	r->data_cap = 0;
}

/* ---- geometry ---- */

/* Modes of the pixels between decode and the final RGB conversion, as Pillow
 * holds them. */
typedef enum {
	WM_L,    /* 1 byte */
	WM_RGB,  /* 3 bytes */
	WM_CMYK, /* 4 bytes, Pillow's values (inverted Adobe CMYK) */
	WM_LA_PRE,   /* 2 bytes, "La": L premultiplied by A */
	WM_RGBA_PRE, /* 4 bytes, "RGBa" */
	WM_P     /* 1 byte palette index */
} wmode_t;

typedef struct {
	int nw, nh;       /* resized size */
	int off_x, off_y; /* crop origin in the resized image; negative: padding */
	int out_w, out_h; /* crop size */
	int rx0, ry0, rw, rh; /* the part of the resized image inside the crop */
} geom_t;

static int fail(img_result_t *r, const char *fmt, ...) DIAG_PRINTF(2, 3);
static int fail(img_result_t *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->ok = 0;
	vsnprintf(r->message, sizeof r->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* --max-memory: what (a phrase) would bring the image to total bytes. */
static int mem_fail(const img_params_t *p, const char *what, unsigned long long total, img_result_t *r)
{
	if (total <= p->max_memory) /* a library that could not say how much */
		return fail(r, "memory bound: %s would take this image over --max-memory %llu bytes", what, p->max_memory);
	return fail(r, "memory bound: %s would take this image to %llu bytes, over --max-memory %llu", what, total,
		    p->max_memory);
}

/* Count n more bytes for what, before they are allocated: fails past
 * --max-memory (none when it is 0). */
static int mem_take(img_ctx_t *c, const img_params_t *p, size_t n, const char *what, img_result_t *r)
{
	if (p->max_memory && (n > p->max_memory || c->mem > p->max_memory - n))
		return mem_fail(p, what, (unsigned long long)c->mem + n, r);
	c->mem += n;
	return 0;
}

/* What a decoder may still take (0: no limit, as the decoders read it). */
static size_t mem_left(const img_ctx_t *c, const img_params_t *p)
{
	if (!p->max_memory)
		return 0;
	return c->mem < p->max_memory ? (size_t)(p->max_memory - c->mem) : 1;
}

/* Append to r->warning ("; " between warnings): all go on one stderr line. */
static void add_warning(img_result_t *r, const char *fmt, ...) DIAG_PRINTF(2, 3);
static void add_warning(img_result_t *r, const char *fmt, ...)
{
	size_t n = strlen(r->warning);
	if (n > 0 && n + 2 < sizeof r->warning) {
		memcpy(r->warning + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->warning + n, sizeof r->warning - n, fmt, ap);
	va_end(ap);
}

/* torchvision's Resize(int): short side S, long side int(S * long / short). */
static int resized_size(int w, int h, int s, int *nw, int *nh)
{
	if (s <= 0) {
		*nw = w, *nh = h;
		return 0;
	}
	int sh = w <= h ? w : h, lo = w <= h ? h : w;
	double l = (double)((long long)s * lo) / sh;
	if (l >= 1 << 30)
		return -1;
	if (w <= h)
		*nw = s, *nh = (int)l;
	else
		*nw = (int)l, *nh = s;
	return 0;
}

/* torchvision's CenterCrop offset on one axis: round-half-even((n - c) / 2)
 * into the image, or the left padding (negated) when c > n. */
static int crop_offset(int n, int c)
{
	if (c > n)
		return -((c - n) / 2);
	int d = n - c, q = d / 2;
	return (d % 2 == 0 || q % 2 == 0) ? q : q + 1;
}

static void geometry(const img_params_t *p, int nw, int nh, geom_t *g)
{
	g->nw = nw;
	g->nh = nh;
	g->out_w = p->crop > 0 ? p->crop : nw;
	g->out_h = p->crop > 0 ? p->crop : nh;
	g->off_x = crop_offset(nw, g->out_w);
	g->off_y = crop_offset(nh, g->out_h);
	g->rx0 = g->off_x > 0 ? g->off_x : 0;
	g->ry0 = g->off_y > 0 ? g->off_y : 0;
	int rx1 = g->off_x + g->out_w < nw ? g->off_x + g->out_w : nw;
	int ry1 = g->off_y + g->out_h < nh ? g->off_y + g->out_h : nh;
	g->rw = rx1 - g->rx0;
	g->rh = ry1 - g->ry0;
}

/* Pillow's draft(): the largest of 8, 4, 2, 1 not above min(w // nw, h // nh). */
static int draft_denom(int w, int h, int nw, int nh)
{
	int s = w / nw < h / nh ? w / nw : h / nh;
	return s >= 8 ? 8 : s >= 4 ? 4 : s >= 2 ? 2 : 1;
}

/* ---- pixel conversions (Pillow's Convert.c formulas) ---- */

#define MULDIV255(a, b) ((((a) * (b) + 128) + (((a) * (b) + 128) >> 8)) >> 8)

static uint8_t clip8i(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* One row of n pixels in mode m -> RGB. */
static void row_to_rgb(wmode_t m, const uint8_t *in, uint8_t *out, int n, const uint8_t *palette)
{
	switch (m) {
	case WM_L:
		for (int i = 0; i < n; i++, out += 3)
			out[0] = out[1] = out[2] = in[i];
		break;
	case WM_RGB: memcpy(out, in, (size_t)n * 3); break;
	case WM_CMYK: /* cmyk2rgb */
		for (int i = 0; i < n; i++, in += 4, out += 3) {
			int nk = 255 - in[3];
			for (int c = 0; c < 3; c++)
				out[c] = clip8i(nk - MULDIV255(in[c], nk));
		}
		break;
	case WM_LA_PRE: /* la2lA, then LA -> RGB drops A */
		for (int i = 0; i < n; i++, in += 2, out += 3) {
			int a = in[1];
			uint8_t v = (a == 255 || a == 0) ? in[0] : clip8i(255 * in[0] / a);
			out[0] = out[1] = out[2] = v;
		}
		break;
	case WM_RGBA_PRE: /* rgba2rgbA, then RGBA -> RGB drops A */
		for (int i = 0; i < n; i++, in += 4, out += 3) {
			int a = in[3];
			for (int c = 0; c < 3; c++)
				out[c] = (a == 255 || a == 0) ? in[c] : clip8i(255 * in[c] / a);
		}
		break;
	case WM_P:
		for (int i = 0; i < n; i++, out += 3)
			memcpy(out, palette + 3 * in[i], 3);
		break;
	}
}

/* ---- output ---- */

static int reserve_result(img_result_t *r, size_t n)
{
	if (n <= r->data_cap)
		return 0;
	free(r->data);
	r->data = malloc(n);
	r->data_cap = r->data ? n : 0;
	return r->data ? 0 : -1;
}

/* The crop: pad colour everywhere, then the region converted to RGB, then
 * the output dtype. region: g->rh rows of g->rw pixels in mode m. */
static int finish(img_ctx_t *c, const img_params_t *p, const geom_t *g, wmode_t m, const uint8_t *region,
		  size_t region_stride, const uint8_t *palette, img_result_t *r)
{
	const size_t npix = (size_t)g->out_w * (size_t)g->out_h;
	uint8_t *rgb;
	if (mem_take(c, p, npix * 3 * (p->dtype == DTYPE_UINT8 ? 1 : 1 + dtype_size(p->dtype)), "the output tensor", r) != 0)
		return -1;
	if (p->dtype == DTYPE_UINT8) {
		if (reserve_result(r, npix * 3) != 0)
			return fail(r, "out of memory for the output");
		rgb = r->data;
	} else {
		if (img_buf_reserve(&c->rgb, &c->rgb_cap, npix * 3) != 0 ||
		    reserve_result(r, npix * 3 * dtype_size(p->dtype)) != 0)
			return fail(r, "out of memory for the output");
		rgb = c->rgb;
	}
	if (g->rw != g->out_w || g->rh != g->out_h) {
		/* torchvision pads with 0 in the image's mode before converting */
		uint8_t zero[4] = {0, 0, 0, 0}, pad[3];
		row_to_rgb(m, zero, pad, 1, palette);
		for (size_t i = 0; i < npix; i++)
			memcpy(rgb + 3 * i, pad, 3);
	}
	const int dx = g->rx0 - g->off_x, dy = g->ry0 - g->off_y;
	for (int y = 0; y < g->rh; y++)
		row_to_rgb(m, region + (size_t)y * region_stride,
			   rgb + ((size_t)(y + dy) * (size_t)g->out_w + (size_t)dx) * 3, g->rw, palette);
	r->dtype = p->dtype;
	if (p->dtype == DTYPE_UINT8) {
		r->ndim = 3;
		r->shape[0] = g->out_h;
		r->shape[1] = g->out_w;
		r->shape[2] = 3;
		r->nbytes = npix * 3;
	} else {
		/* ToTensor: x / 255 in float32; Normalize: (x - mean) / std in float32. */
		float lut[3][256];
		for (int ch = 0; ch < 3; ch++)
			for (int v = 0; v < 256; v++)
				lut[ch][v] = ((float)v / 255.0f - p->mean[ch]) / p->std[ch];
		if (p->dtype == DTYPE_FLOAT32) {
			float *o = r->data;
			for (int ch = 0; ch < 3; ch++)
				for (size_t i = 0; i < npix; i++)
					o[(size_t)ch * npix + i] = lut[ch][rgb[3 * i + (size_t)ch]];
		} else {
			uint16_t hl[3][256];
			for (int ch = 0; ch < 3; ch++)
				for (int v = 0; v < 256; v++)
					hl[ch][v] = float_to_half(lut[ch][v]);
			uint16_t *o = r->data;
			for (int ch = 0; ch < 3; ch++)
				for (size_t i = 0; i < npix; i++)
					o[(size_t)ch * npix + i] = hl[ch][rgb[3 * i + (size_t)ch]];
		}
		r->ndim = 3;
		r->shape[0] = 3;
		r->shape[1] = g->out_h;
		r->shape[2] = g->out_w;
		r->nbytes = npix * 3 * dtype_size(p->dtype);
	}
	r->ok = 1;
	return 0;
}

/* Plans for the crop region of a resize from sw x sh (Pillow box ew x eh). */
static int plan_axes(img_ctx_t *c, const img_params_t *p, const geom_t *g, int sw, int sh, float ew, float eh,
		     img_result_t *r)
{
	size_t n = img_axis_plan_bytes(sw, ew, g->nw, p->filter, g->rw) + img_axis_plan_bytes(sh, eh, g->nh, p->filter, g->rh);
	if (mem_take(c, p, n, "the resize's weights", r) != 0)
		return -1;
	if (img_axis_plan(&c->ax, sw, ew, g->nw, p->filter, g->rx0, g->rw) != 0 ||
	    img_axis_plan(&c->ay, sh, eh, g->nh, p->filter, g->ry0, g->rh) != 0)
		return fail(r, "out of memory planning the resize");
	return 0;
}

/* The pass order p asks for, for the planned resize. */
static int vertical_first(const img_ctx_t *c, const img_params_t *p)
{
	return img_vertical_first(p->resize_order, c->ax.in_size, c->ay.in_size, c->ax.out_size, c->ay.out_size);
}

/* Resample src (mode m) over the planned region and finish. */
static int resample_and_finish(img_ctx_t *c, const img_params_t *p, const geom_t *g, wmode_t m, const img_view_t *src,
			       const uint8_t *palette, img_result_t *r)
{
	img_view_t dst;
	dst.stride = (size_t)g->rw * (size_t)src->nc;
	const int vfirst = vertical_first(c, p);
	if (mem_take(c, p, img_resample_scratch(&c->ax, &c->ay, (size_t)src->nc, vfirst) + dst.stride * (size_t)g->rh + 1,
		     "the resize's buffers", r) != 0)
		return -1;
	if (img_buf_reserve(&c->region, &c->region_cap, dst.stride * (size_t)g->rh + 1) != 0)
		return fail(r, "out of memory for the resized image");
	dst.data = c->region;
	if (img_resample(src, &c->ax, &c->ay, vfirst, &dst, &c->tmp, &c->tmp_cap) != 0)
		return fail(r, "out of memory resizing");
	return finish(c, p, g, m, dst.data, dst.stride, palette, r);
}

static int check_size(const img_params_t *p, int w, int h, img_result_t *r)
{
	unsigned long long px = (unsigned long long)w * (unsigned long long)h;
	if (w <= 0 || h <= 0)
		return fail(r, "image has no pixels (%dx%d)", w, h);
	if (px > p->max_pixels)
		return fail(r, "image too large: %dx%d = %llu pixels, over the limit of %llu (--max-pixels%s)", w, h, px,
			    p->max_pixels,
			    p->max_pixels == IMG_DEFAULT_MAX_PIXELS ? "; PIL refuses it too, as a decompression bomb" : "");
	if (px > IMG_WARN_PIXELS)
		add_warning(r, "large image: %dx%d pixels (PIL warns above %llu)", w, h, IMG_WARN_PIXELS);
	return 0;
}

/* The size left after --border; fails when nothing is. */
static int border_size(const img_params_t *p, int w, int h, int *cw, int *ch, img_result_t *r)
{
	*cw = w - 2 * p->border;
	*ch = h - 2 * p->border;
	if (*cw < 1 || *ch < 1)
		return fail(r, "image too small for a %d-pixel border: %dx%d", p->border, w, h);
	return 0;
}

/* Final size checks once the resize target is known. */
static int target_size(const img_params_t *p, int w, int h, int *nw, int *nh, img_result_t *r)
{
	if (resized_size(w, h, p->resize, nw, nh) != 0)
		return fail(r, "image too elongated to resize: %dx%d", w, h);
	int ow = p->crop > 0 ? p->crop : *nw, oh = p->crop > 0 ? p->crop : *nh;
	if (*nw < 1 || *nh < 1)
		return fail(r, "resized image would be empty (%dx%d)", *nw, *nh);
	if ((unsigned long long)ow * (unsigned long long)oh > p->max_pixels)
		return fail(r, "output too large: %dx%d pixels, over --max-pixels", ow, oh);
	/* a record's tensor is one msgpack bin32: at most 4 GiB */
	unsigned long long bytes = (unsigned long long)ow * (unsigned long long)oh * 3ULL * dtype_size(p->dtype);
	if (bytes > 0xffffffffULL)
		return fail(r, "output too large: %dx%dx3 %s is %llu bytes, over the 4 GiB a record can hold", ow, oh,
			    dtype_name(p->dtype), bytes);
	return 0;
}

/* ---- JPEG ---- */

static int process_jpeg(img_ctx_t *c, const img_params_t *p, const uint8_t *data, size_t len, img_result_t *r)
{
	img_jpeg_info_t info;
	if (img_jpeg_begin(c->jpeg, data, len, &info) != 0)
		return fail(r, "%s", img_jpeg_error(c->jpeg));
	r->src_w = info.width;
	r->src_h = info.height;
	int nw, nh, cw, ch; /* cw x ch: what the border leaves */
	if (check_size(p, info.width, info.height, r) != 0 || border_size(p, info.width, info.height, &cw, &ch, r) != 0 ||
	    target_size(p, cw, ch, &nw, &nh, r) != 0) {
		img_jpeg_abort(c->jpeg);
		return -1;
	}
	img_jpeg_opts_t o = {.denom = 1, .fast = p->fast, .full = p->full_decode};
	if (p->fast && p->resize > 0 && p->border == 0)
		o.denom = draft_denom(info.width, info.height, nw, nh);
	int sw, sh;
	img_jpeg_scaled_size(&info, o.denom, &sw, &sh);
	sw -= 2 * p->border; /* denom is 1 with a border */
	sh -= 2 * p->border;
	/* Pillow's draft box: (0, 0, w / scale, h / scale), as floats */
	float ew = (float)((double)cw / o.denom), eh = (float)((double)ch / o.denom);
	geom_t g;
	geometry(p, nw, nh, &g);
	if (plan_axes(c, p, &g, sw, sh, ew, eh, r) != 0) {
		img_jpeg_abort(c->jpeg);
		return -1;
	}
	/* the plan counts from the border's corner, the decoder from the image's */
	const int b = p->border;
	img_view_t src;
	o.mem_limit = mem_left(c, p);
	if (img_jpeg_decode(c->jpeg, &o, c->ax.src_lo + b, c->ay.src_lo + b, c->ax.src_hi + b, c->ay.src_hi + b, &src) != 0) {
		size_t need = img_jpeg_mem_need(c->jpeg);
		if (need)
			return mem_fail(p, img_jpeg_error(c->jpeg), (unsigned long long)c->mem + need, r);
		return fail(r, "%s", img_jpeg_error(c->jpeg));
	}
	c->mem += img_jpeg_mem_used(c->jpeg);
	src.x0 -= b;
	src.y0 -= b;
	int nwarn;
	const char *warn = img_jpeg_warning(c->jpeg, &nwarn);
	if (nwarn > 0)
		add_warning(r, "libjpeg warning: %s%s", warn, nwarn > 1 ? " (and more)" : "");
	wmode_t m = src.nc == 1 ? WM_L : src.nc == 3 ? WM_RGB : WM_CMYK;
	if (m == WM_CMYK && p->rgb_first) {
		/* convert("RGB") on load; 4 -> 3 bytes per pixel in place, rows keep their stride */
		for (int y = 0; y < src.h; y++) {
			uint8_t *row = src.data + (size_t)y * src.stride;
			row_to_rgb(WM_CMYK, row, row, src.w, NULL);
		}
		src.nc = 3;
		m = WM_RGB;
	}
	return resample_and_finish(c, p, &g, m, &src, NULL, r);
}

/* ---- PNG ---- */

static int process_png(img_ctx_t *c, const img_params_t *p, const uint8_t *data, size_t len, img_result_t *r)
{
	int w, h, nw, nh;
	/* the size checks before decoding, when the header gives the size: an
	 * image too elongated to resize is not decoded first */
	if (img_png_size(data, len, &w, &h) == 0) {
		r->src_w = w;
		r->src_h = h;
		if (check_size(p, w, h, r) != 0 || border_size(p, w, h, &w, &h, r) != 0 || target_size(p, w, h, &nw, &nh, r) != 0)
			return -1;
		r->warning[0] = 0; /* check_size again below */
	}
	img_png_t png;
	char err[256];
	if (img_png_decode(data, len, p->max_pixels, mem_left(c, p), &c->png, &c->png_cap, &png, err, sizeof err) != 0) {
		if (png.mem_need)
			return mem_fail(p, err, (unsigned long long)c->mem + png.mem_need, r);
		return fail(r, "%s", err);
	}
	c->mem += png.mem_used;
	r->src_w = png.width;
	r->src_h = png.height;
	if (check_size(p, png.width, png.height, r) != 0 || border_size(p, png.width, png.height, &w, &h, r) != 0 ||
	    target_size(p, w, h, &nw, &nh, r) != 0)
		return -1;
	if (png.nwarnings > 0)
		add_warning(r, "libpng warning: %s%s", png.warning, png.nwarnings > 1 ? " (and more)" : "");
	if (p->border) { /* keep the inner w x h, rows packed in place (each moves towards the front) */
		const size_t row = (size_t)w * (size_t)png.bpp, full = (size_t)png.width * (size_t)png.bpp;
		for (int y = 0; y < h; y++)
			memmove(png.pixels + (size_t)y * row,
				png.pixels + (size_t)(y + p->border) * full + (size_t)p->border * (size_t)png.bpp, row);
	}
	geom_t g;
	geometry(p, nw, nh, &g);
	if (plan_axes(c, p, &g, w, h, (float)w, (float)h, r) != 0)
		return -1;
	const size_t npix = (size_t)w * (size_t)h;
	img_view_t src = {.data = png.pixels, .x0 = 0, .y0 = 0, .w = w, .h = h, .nc = png.bpp,
			  .stride = (size_t)w * (size_t)png.bpp};
	wmode_t m;
	int nearest = 0;
	/* Pillow premultiplies LA and RGBA only when it really resizes; unresized,
	 * dropping alpha first or last gives the same bytes. */
	const int alpha_unresized = (png.mode == IMG_PNG_LA || png.mode == IMG_PNG_RGBA) && nw == w && nh == h;
	if (p->rgb_first || alpha_unresized) {
		/* convert("RGB") on load: every mode becomes RGB (gray kept as one
		 * channel: same bytes). In place, front to back, where a pixel
		 * does not grow; a palette image (1 -> 3 bytes) into c->conv. */
		uint8_t *in = png.pixels, *o = in;
		int to_rgb = png.mode == IMG_PNG_RGB || png.mode == IMG_PNG_P || png.mode == IMG_PNG_RGBA;
		if (png.mode == IMG_PNG_P) {
			if (mem_take(c, p, npix * 3 + IMG_RESAMPLE_PAD, "the RGB copy of a palette image", r) != 0)
				return -1;
			if (img_buf_reserve(&c->conv, &c->conv_cap, npix * 3 + IMG_RESAMPLE_PAD) != 0)
				return fail(r, "out of memory for a %dx%d PNG", w, h);
			o = c->conv;
		}
		const int same = png.mode == IMG_PNG_1 || png.mode == IMG_PNG_L || png.mode == IMG_PNG_RGB;
		for (size_t i = 0; i < npix && !same; i++)
			switch (png.mode) {
			case IMG_PNG_I16: o[i] = clip8i(((const uint16_t *)(const void *)in)[i]); break; /* i2rgb clips */
			case IMG_PNG_LA: o[i] = in[2 * i]; break;
			case IMG_PNG_P: memcpy(o + 3 * i, png.palette + 3 * in[i], 3); break;
			case IMG_PNG_RGBA: memmove(o + 3 * i, in + 4 * i, 3); break;
			default: break;
			}
		src.data = o;
		src.nc = to_rgb ? 3 : 1;
		src.stride = (size_t)w * (size_t)src.nc;
		m = to_rgb ? WM_RGB : WM_L;
	} else {
		switch (png.mode) {
		case IMG_PNG_1: m = WM_L, nearest = 1; break; /* Pillow resizes "1" and "P" NEAREST */
		case IMG_PNG_P: m = WM_P, nearest = 1; break;
		case IMG_PNG_L: m = WM_L; break;
		case IMG_PNG_RGB: m = WM_RGB; break;
		case IMG_PNG_LA:
		case IMG_PNG_RGBA: /* resized premultiplied: convert("La"/"RGBa") = lA2la / rgbA2rgba */
			m = png.mode == IMG_PNG_LA ? WM_LA_PRE : WM_RGBA_PRE;
			for (size_t i = 0; i < npix; i++) {
				uint8_t *px = png.pixels + i * (size_t)png.bpp;
				int a = px[png.bpp - 1];
				for (int ch = 0; ch < png.bpp - 1; ch++)
					px[ch] = (uint8_t)MULDIV255(px[ch], a);
			}
			break;
		case IMG_PNG_I16: {
			/* Pillow's "I" mode: 32-bit resample in double, then i2rgb clips to 0..255 */
			int32_t *wide = NULL, *out = NULL;
			const int vfirst = vertical_first(c, p);
			size_t n = npix * 4 + (size_t)g.rw * (size_t)g.rh * 4;
			if (mem_take(c, p, n + img_resample_scratch(&c->ax, &c->ay, sizeof(int32_t), vfirst),
				     "the 32-bit copy of a 16-bit image and its resize", r) != 0)
				return -1;
			if (img_buf_reserve(&c->conv, &c->conv_cap, n) != 0)
				return fail(r, "out of memory for a %dx%d PNG", w, h);
			wide = (int32_t *)(void *)c->conv;
			out = wide + npix;
			for (size_t i = 0; i < npix; i++)
				wide[i] = ((const uint16_t *)(const void *)png.pixels)[i];
			if (img_resample_i32(wide, w, h, &c->ax, &c->ay, vfirst, out, &c->tmp, &c->tmp_cap) != 0)
				return fail(r, "out of memory resizing");
			uint8_t *l = (uint8_t *)out; /* narrowed in place, front to back */
			for (size_t i = 0; i < (size_t)g.rw * (size_t)g.rh; i++)
				l[i] = clip8i(out[i]);
			return finish(c, p, &g, WM_L, l, (size_t)g.rw, NULL, r);
		}
		default: return fail(r, "unexpected PNG mode");
		}
	}
	if (!nearest)
		return resample_and_finish(c, p, &g, m, &src, png.palette, r);
	/* NEAREST (ImagingScaleAffine): gather through index tables */
	if (mem_take(c, p, ((size_t)g.rw + (size_t)g.rh) * sizeof(int) + (size_t)g.rw * (size_t)g.rh + 1,
		     "the resize's buffers", r) != 0)
		return -1;
	int *xi = malloc(((size_t)g.rw + (size_t)g.rh) * sizeof *xi);
	if (!xi || img_buf_reserve(&c->region, &c->region_cap, (size_t)g.rw * (size_t)g.rh + 1) != 0) {
		free(xi);
		return fail(r, "out of memory resizing");
	}
	int *yi = xi + g.rw;
	img_nearest_index(w, (float)w, nw, g.rx0, g.rw, xi);
	img_nearest_index(h, (float)h, nh, g.ry0, g.rh, yi);
	for (int y = 0; y < g.rh; y++)
		for (int x = 0; x < g.rw; x++)
			c->region[(size_t)y * (size_t)g.rw + (size_t)x] =
				(xi[x] < 0 || yi[y] < 0) ? 0 : src.data[(size_t)yi[y] * src.stride + (size_t)xi[x]];
	free(xi);
	return finish(c, p, &g, m, c->region, (size_t)g.rw, png.palette, r);
}

/* ---- entry points ---- */

static int process_memory(img_ctx_t *c, const img_params_t *p, const uint8_t *data, size_t len, img_result_t *r)
{
	if (len == 0)
		return fail(r, "empty file");
	const char *kind = img_sniff(data, len < 64 ? len : 64);
	if (kind && strcmp(kind, "jpeg") == 0)
		return process_jpeg(c, p, data, len, r);
	if (kind && strcmp(kind, "png") == 0)
		return process_png(c, p, data, len, r);
	if (kind)
		return fail(r, "not a JPEG or PNG file: %s", kind);
	return fail(r, "not a JPEG or PNG file (unknown format, first bytes %02x %02x %02x)", data[0],
		    len > 1 ? data[1] : 0, len > 2 ? data[2] : 0);
}

int img_process_memory(img_ctx_t *c, const img_params_t *p, const uint8_t *data, size_t len, img_result_t *r)
{
	r->ok = 0;
	r->message[0] = 0;
	r->warning[0] = 0;
	r->src_w = r->src_h = 0;
	c->mem = 0;
	int rc = mem_take(c, p, len, "the file's bytes", r);
	if (rc == 0)
		rc = process_memory(c, p, data, len, r);
	if (rc != 0)
		r->warning[0] = 0; /* one failure, one line: its message */
	ctx_trim(c);
	return rc;
}

/* The file at path into c->file (*len bytes): 0, or -1 with r's message. */
static int read_whole(img_ctx_t *c, const img_params_t *p, const char *path, size_t *lenp, img_result_t *r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(r, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return fail(r, "cannot stat: %s", strerror(errno));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(r, "is a directory");
	}
	/* No image file needs more than IMG_MAX_FILE_BYTES_PER_PIXEL bytes per
	 * allowed pixel (16-bit RGBA PNG, stored): a larger one is not read. */
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size / IMG_MAX_FILE_BYTES_PER_PIXEL > p->max_pixels) {
		close(fd);
		return fail(r, "file too large: %lld bytes for at most %llu pixels (--max-pixels)", (long long)st.st_size,
			    p->max_pixels);
	}
	/* the file is held whole: --max-memory bounds it, before it is read
	 * (a pipe or a device, of no known size, as it grows) */
	if (S_ISREG(st.st_mode) && p->max_memory && (unsigned long long)st.st_size > p->max_memory) {
		close(fd);
		return mem_fail(p, "the file's bytes", (unsigned long long)st.st_size, r);
	}
	/* Read the head first: a large file that is not an image is not read whole. */
	size_t len = 0, cap_hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
	if (img_buf_reserve(&c->file, &c->file_cap, (cap_hint > 64 ? cap_hint : 64) + 1) != 0) {
		close(fd);
		return fail(r, "out of memory reading %zu bytes", cap_hint);
	}
	int sniffed = 0;
	for (;;) {
		if (len == c->file_cap) {
			size_t cap = c->file_cap * 2;
			if (p->max_memory && cap > p->max_memory + 1)
				cap = (size_t)p->max_memory + 1;
			if (cap <= len) { /* len is over --max-memory */
				close(fd);
				return mem_fail(p, "the file's bytes", (unsigned long long)len, r);
			}
			uint8_t *bigger = realloc(c->file, cap);
			if (!bigger) {
				close(fd);
				return fail(r, "out of memory reading %zu bytes", len);
			}
			c->file = bigger;
			c->file_cap = cap;
		}
		size_t want = c->file_cap - len;
		if (!sniffed && want > 64 - len && len < 64)
			want = 64 - len;
		ssize_t k = read(fd, c->file + len, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			close(fd);
			return fail(r, "read error: %s", strerror(e));
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (!sniffed && len >= 64) {
			sniffed = 1;
			const char *kind = img_sniff(c->file, len);
			if (!kind || (strcmp(kind, "jpeg") != 0 && strcmp(kind, "png") != 0))
				break; /* reported from the head alone below */
		}
	}
	close(fd);
	*lenp = len;
	return 0;
}

int img_process_file(img_ctx_t *c, const img_params_t *p, const char *path, img_result_t *r)
{
	r->ok = 0;
	r->message[0] = 0;
	r->warning[0] = 0;
	size_t len = 0;
	if (read_whole(c, p, path, &len, r) != 0) {
		ctx_trim(c);
		return -1;
	}
	return img_process_memory(c, p, c->file, len, r);
}
