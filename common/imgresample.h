/* imgresample.h - Pillow's separable resampler, reproduced bit for bit.
 *
 * Pillow 9 (src/libImaging/Resample.c) resizes 8-bit images in two passes:
 * horizontal first (over the source rows the vertical pass needs) into an
 * 8-bit intermediate, then vertical (later Pillows may go vertical first:
 * img_order_t). Per axis, scale = in/out, the filter is
 * widened by max(scale, 1), each output sample gets the source window
 * [xmin, xmin+count) with weights normalized to sum 1 (in double), then
 * rounded to 22-bit fixed point away from zero; the accumulator starts at
 * 1<<21 and the result is (acc >> 22) clamped to 0..255. An axis whose size
 * does not change is not resampled at all.
 *
 * Every output sample depends only on its own source window, so a plan can
 * cover just a sub-range of the output (the part a center crop keeps) and
 * give the same bytes as resizing everything and cropping afterwards.
 */
#ifndef COMMON_IMGRESAMPLE_H
#define COMMON_IMGRESAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	IMG_FILTER_BOX,
	IMG_FILTER_BILINEAR,
	IMG_FILTER_HAMMING,
	IMG_FILTER_BICUBIC,
	IMG_FILTER_LANCZOS,
	IMG_FILTER_COUNT
} img_filter_t;

const char *img_filter_name(img_filter_t f);
/* "bilinear" -> IMG_FILTER_BILINEAR; returns 0, or -1 if unknown. */
int img_filter_parse(const char *s, img_filter_t *out);

/* An 8-bit image region: pixel (x, y), in absolute image coordinates, is the
 * nc bytes at data + (y - y0) * stride + (x - x0) * nc, for x0 <= x < x0+w
 * and y0 <= y < y0+h. Layout HWC, channels interleaved. */
typedef struct {
	uint8_t *data;
	int x0, y0, w, h;
	int nc;
	size_t stride;
} img_view_t;

/* One axis of a resize from in_size to out_size samples, restricted to the
 * output samples [out_start, out_start + out_n). */
typedef struct {
	int in_size, out_size;
	float in_extent;
	img_filter_t filter;
	int out_start, out_n;
	int identity;   /* in_size == out_size: no resampling on this axis */
	int ksize;      /* coefficients per output sample (stride of k) */
	int *xmin;      /* [out_n] first source sample */
	int *count;     /* [out_n] number of source samples used */
	int32_t *k;     /* [out_n * ksize] fixed-point weights, 22 fraction bits */
	double *kd;     /* [out_n * ksize] the same weights in double (Pillow's 32-bit modes) */
	int kgroups;    /* ceil(ksize / 4) */
	int16_t *kw;    /* [out_n][kgroups][32] k split as hi * 2048 + lo for 16-bit multiplies (see .c) */
	int src_lo, src_hi; /* source samples [src_lo, src_hi) the range reads */
} img_axis_t;

/* Build the plan (Pillow's precompute_coeffs + normalize_coeffs_8bpc for the
 * requested range). in_extent is the source box width Pillow resizes from:
 * in_size, or less when a DCT-scaled decode rounded the size up (Pillow's
 * draft box). Returns 0, or -1 when out of memory. A plan asked for again
 * with the same arguments is kept as it is. Free with img_axis_free; a
 * zeroed img_axis_t is a valid empty plan. */
int img_axis_plan(img_axis_t *a, int in_size, float in_extent, int out_size, img_filter_t f, int out_start,
		  int out_n);
void img_axis_free(img_axis_t *a);
/* The bytes img_axis_plan would allocate for such a plan (to check first). */
size_t img_axis_plan_bytes(int in_size, float in_extent, int out_size, img_filter_t f, int out_n);

/* Bytes after the last row of a source view that img_resample may read
 * (and ignore): vector loads run past the last pixel they use. */
#define IMG_RESAMPLE_PAD 64

/* Which pass of a two-pass resize goes first. The 8-bit intermediate
 * rounds, so the order changes output bytes (by a few levels). Pillow 9.x
 * to 12.1 always resize horizontally first. Pillow 12.2 and 12.3
 * (Image.resize) go vertical first when the image is more than 100 times
 * taller than wide and its height shrinks. Pillow 13 (ImagingResampleInner)
 * goes vertical first when the height shrinks by more pixels than twice what
 * the width shrinks by: (in_h - out_h) > 0 and (in_h - out_h) > 2 (in_w - out_w).
 * Either way an axis whose size does not change is not resampled. */
typedef enum {
	IMG_ORDER_PIL9,
	IMG_ORDER_PIL12_2,
	IMG_ORDER_PIL13
} img_order_t;

/* "pil9", "pil12.2", "pil13" */
const char *img_order_name(img_order_t o);
int img_order_parse(const char *s, img_order_t *out);
/* Does order o resize an in_w x in_h image to out_w x out_h vertically first? */
int img_vertical_first(img_order_t o, int in_w, int in_h, int out_w, int out_h);

/* Resample src (which must cover ax->src_lo..src_hi by ay->src_lo..src_hi,
 * followed by IMG_RESAMPLE_PAD readable bytes) into dst (dst->data: ay->out_n rows of ax->out_n * nc bytes, dst->stride;
 * dst->x0/y0/w/h/nc are set here), the vertical pass first when vertical_first
 * (img_vertical_first) and both axes are resampled. tmp/tmp_cap: a growable
 * scratch buffer for the intermediate. Returns 0, or -1 when out of memory. */
int img_resample(const img_view_t *src, const img_axis_t *ax, const img_axis_t *ay, int vertical_first,
		 img_view_t *dst, uint8_t **tmp, size_t *tmp_cap);

/* The scratch bytes img_resample (sample_bytes 1) or img_resample_i32
 * (sample_bytes 4) needs for these plans, nc channels, that order. */
size_t img_resample_scratch(const img_axis_t *ax, const img_axis_t *ay, size_t sample_bytes, int vertical_first);

/* Pillow's 32-bit integer mode ("I") resample: same weights in double, each
 * pass rounds half away from zero to int32. src: whole image, w x h int32,
 * row-major; dst: ay->out_n rows of ax->out_n values. vertical_first, tmp
 * as above. */
int img_resample_i32(const int32_t *src, int w, int h, const img_axis_t *ax, const img_axis_t *ay, int vertical_first,
		     int32_t *dst, uint8_t **tmp, size_t *tmp_cap);

/* Pillow's NEAREST resize (ImagingScaleAffine): idx[i] = source sample of
 * output sample out_start + i, for i < out_n; -1 outside the source. */
void img_nearest_index(int in_size, float in_extent, int out_size, int out_start, int out_n, int *idx);

/* Grow *buf to at least n bytes (keeps nothing). Returns 0, or -1. */
int img_buf_reserve(uint8_t **buf, size_t *cap, size_t n);

#endif
