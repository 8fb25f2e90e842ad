/* image.h - images: decode and preprocess as PIL + torchvision (proc),
 * the resampling it uses (resample), WebDataset tar shards (tar) and
 * picture grids (grid). The JPEG and PNG decoders behind proc are in
 * image/internal.h, for this folder only. Includes util only.
 */
#ifndef COMMON_IMAGE_IMAGE_H
#define COMMON_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

/* ---- resample.c ----
 * Pillow's separable resampler, reproduced bit for bit.
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

/* ---- proc.c ----
 * image file -> model-ready crop, as PIL 9 + torchvision 0.14 make it.
 *
 * The path, per image (doc/presets.md):
 *   decode (jpeg.c, png.c) -> [RGB conversion, imagenet presets]
 *   -> Resize(S): short side S, long side int(S * long / short), Pillow's
 *      resampler (resample.c), skipped when the size does not change
 *   -> CenterCrop(C): offsets round_half_even((n - C) / 2), zero padding
 *      (in the image's own mode) where the image is smaller than C
 *   -> [RGB conversion, clip preset: grayscale resized as 1 channel, CMYK as 4]
 *   -> uint8 [C,C,3] HWC, or float32/float16 [3,C,C] CHW of (x/255 - mean)/std
 *      computed in float32 as torchvision's ToTensor + Normalize do.
 * Only the part of the resized image the crop keeps is computed, and for a
 * JPEG only the source window it reads is decoded: the bytes are the same.
 *
 * --fast (img_params_t.fast) leaves Pillow's output behind for speed: DCT
 * scaling by 1/2, 1/4 or 1/8 when the image is at least twice the resize
 * target (as Pillow's draft mode picks it), fast integer IDCT, plain
 * upsampling. Then the resize works from the scaled image.
 */

/* PIL's decompression-bomb error threshold (2 * Image.MAX_IMAGE_PIXELS). */
#define IMG_DEFAULT_MAX_PIXELS (2ULL * 89478485ULL)
/* PIL warns (DecompressionBombWarning) above this many pixels. */
#define IMG_WARN_PIXELS 89478485ULL
/* No image file needs more bytes per pixel than this (16-bit RGBA PNG,
 * stored): larger files (and tar members) are refused unread. */
#define IMG_MAX_FILE_BYTES_PER_PIXEL 8ULL

typedef struct {
	const char *preset; /* name written into each image record */
	int resize;         /* short side S; 0 keeps the size */
	int crop;           /* center crop C x C; 0 keeps the whole resized image */
	img_filter_t filter;
	float mean[3], std[3];
	int rgb_first;      /* convert to RGB before resizing (torchvision ImageFolder's loader) */
	dtype_t dtype;      /* DTYPE_UINT8 (HWC), DTYPE_FLOAT32 or DTYPE_FLOAT16 (CHW, normalized) */
	int fast;           /* see above */
	int full_decode;    /* decode whole JPEGs (for checking the window decode) */
	unsigned long long max_pixels; /* refuse larger images */
	int border;         /* pixels cut off each edge before anything else, as PIL's
			       img.crop((b, b, w - b, h - b)) (ObjectNet's frame); not with fast */
	img_order_t resize_order; /* which resize pass goes first (resample.c, above) */
	unsigned long long max_memory; /* bytes one image may hold (0: no bound), see below */
} img_params_t;

/* Fill p with a preset: "imagenet", "imagenet-v2", "clip". Returns 0, or -1
 * if the name is unknown. Leaves dtype, fast, full_decode, max_pixels,
 * border, resize_order and max_memory alone. */
int img_preset(const char *name, img_params_t *p);
/* Comma-separated list of the preset names, for help and messages. */
const char *img_preset_names(void);

typedef struct {
	int ok;
	char message[512]; /* why it failed (when !ok) */
	char warning[512]; /* something worth a stderr line, output still produced ("" if none) */
	int src_w, src_h;   /* size of the image in the file */
	dtype_t dtype;
	int ndim;
	int64_t shape[3];
	void *data; /* tensor bytes, owned; reused by the next call */
	size_t data_cap;
	size_t nbytes;
} img_result_t;

typedef struct img_ctx img_ctx_t; /* per-thread decoder state and buffers */

img_ctx_t *img_ctx_new(void);
void img_ctx_free(img_ctx_t *c);

/* Process the image file at path, or the bytes data[0..len). Returns 0 and
 * fills r (r->ok = 1), or returns -1 with r->ok = 0 and r->message set (and
 * no warning: one failure, one message).
 * Memory: what one image holds (its file's bytes, the decoder's buffers:
 * DCT coefficients of a progressive JPEG, a PNG's pixels, the resize's
 * weights and buffers, the output) is counted before each allocation, and
 * past max_memory the image fails with a message naming the bound; buffers
 * over 4 MiB are freed after their image. Outside the count: libjpeg's and
 * libpng's row buffers (a few rows; JPEG rows stop at 65535 pixels) and
 * what a thread keeps between images (under 4 MiB a buffer). */
int img_process_file(img_ctx_t *c, const img_params_t *p, const char *path, img_result_t *r);
int img_process_memory(img_ctx_t *c, const img_params_t *p, const uint8_t *data, size_t len, img_result_t *r);
void img_result_free(img_result_t *r);

/* What the first bytes of a file look like: "jpeg", "png", or a short
 * description of another format ("GIF image"), or NULL if unknown. */
const char *img_sniff(const uint8_t *head, size_t n);
/* Does the file name end in an image extension we read (.jpg .jpeg .png, any case)? */
int img_has_image_extension(const char *name);

/* ---- tar.c ----
 * a streaming reader of tar files (ustar, GNU, pax), for
 * WebDataset shards: member headers and member bytes in file order, read
 * with fread (pipes work too), nothing ever written to disk. Long names
 * come from pax "path" records and GNU 'L' headers, sizes from pax "size".
 * The byte layout it reads is described at the top of tar.c.
 *
 * Two kinds of trouble:
 *   - a member it refuses (absolute or '..' name, not a regular file, larger
 *     than the size limit, a malformed or oversized pax/GNU extended header,
 *     a name of IMG_TAR_NAME_MAX bytes or more) comes back from img_tar_next
 *     with problem set: the caller reports it and calls img_tar_skip, and
 *     the shard goes on;
 *   - a broken structure (truncated header, bad checksum, bad octal, a size
 *     past the end of the file, data or extended header data that ends early,
 *     a pax "size" that is not a number, no data at all, data that ends
 *     without the two zero blocks that end an archive, data after them)
 *     makes img_tar_next or img_tar_read return -1 with img_tar_error(): the
 *     rest of the shard is unreadable, or missing when img_tar_at_end().
 */

enum { IMG_TAR_NAME_MAX = 4096 }; /* PATH_MAX: longer names (pax, GNU) are refused */

typedef struct {
	char name[IMG_TAR_NAME_MAX]; /* long name, else ustar prefix "/" name; NUL-terminated */
	uint64_t size;               /* data bytes that follow the header (pax "size" if given) */
	char typeflag;               /* '0' or '\0' regular, '5' directory, ... */
	uint64_t offset;             /* of the header in the file, for messages */
	char problem[160];           /* why the member is refused ("" if it is not) */
} img_tar_member_t;

typedef struct img_tar img_tar_t;

/* Does a file's first 512 bytes look like a tar header (ustar magic at 257)? */
int img_tar_sniff(const uint8_t *head, size_t n);
/* Open path for reading; members over max_member_bytes are refused, the
 * message naming the limit as limit_name says (the option that sets it).
 * NULL with errno set on failure. */
img_tar_t *img_tar_open(const char *path, uint64_t max_member_bytes, const char *limit_name);
void img_tar_close(img_tar_t *t);
/* The next member's header: 1, 0 at the end of the archive, -1 broken. */
int img_tar_next(img_tar_t *t, img_tar_member_t *m);
/* Read the current member's data, all m->size bytes, into buf: 0, or -1 broken. */
int img_tar_read(img_tar_t *t, void *buf, size_t n);
/* Skip what is left of the current member's data: 0, or -1 broken. */
int img_tar_skip(img_tar_t *t);
const char *img_tar_error(const img_tar_t *t);
/* Has the data ended (nothing is left to read)? */
int img_tar_at_end(const img_tar_t *t);

/* ---- shard.c ----
 * WebDataset shards: tar members grouped into samples by key, read
 * streaming, one sample at a time. Members are taken in tar order. A
 * member's key is its name up to the first '.' after the last '/';
 * consecutive members with the same key make a sample (as WebDataset's
 * reader groups them): key.jpg, key.jpeg or key.png (any case) is the
 * image, key.cls the class index in decimal text (the label), other members
 * are ignored, directories skipped. The id is SHARD_BASENAME/key, the path
 * SHARD_PATH/member.
 * One id, one sample: a member that cannot be read fails its sample when
 * the sample needs it (image, .cls), else it is a note on stderr. A key met
 * again after other samples (s0.jpg s1.jpg s0.cls) ends the shard with an
 * error sample (its earlier sample went out without what came later;
 * grouping them would mean holding a shard's images until its end). The
 * keys met are kept for that check, counted against max_keys_bytes. A
 * broken tar structure ends the shard with an error sample too, and a shard
 * that gives no sample at all (an empty pipe: a failed download) gives one.
 * An image member is held whole (max_member bytes at most) until its
 * sample is freed. */
typedef struct {
	char *id;      /* SHARD_BASENAME/KEY; the shard's base name for a shard's error */
	char *path;    /* SHARD_PATH/MEMBER: the image member, or the one that failed */
	char *error;   /* NULL, or why the sample (or the rest of the shard) failed */
	uint8_t *data; /* the image member's bytes (NULL with an error) */
	size_t len;
	int has_cls;   /* the sample had a .cls member: cls is its label */
	int64_t cls;
} img_sample_t;

void img_sample_free(img_sample_t *s);

typedef struct img_shard img_shard_t;

/* Is the file st (path's stat) a shard: a tar by its magic, or a pipe (which
 * cannot be sniffed without losing what was read)? */
int img_shard_is(const char *path, const struct stat *st);
/* NULL with errno set when path cannot be opened. max_member and its name:
 * as img_tar_open's. */
img_shard_t *img_shard_open(const char *path, uint64_t max_member, const char *max_member_name,
			    uint64_t max_keys_bytes);
/* The next sample into *out (all malloc'd; img_sample_free): 1, or 0 when
 * the shard has ended. */
int img_shard_next(img_shard_t *s, img_sample_t *out);
void img_shard_close(img_shard_t *s);

/* ---- grid.c ----
 * small RGB canvases for report figures: JPEG thumbnails,
 * rectangles, text in a built-in 5x7 bitmap font, and JPEG output.
 * libjpeg(-turbo) does the coding; programs using this link -ljpeg.
 */

enum {
	FONT_CELL_W = 6, /* advance per character at scale 1 (5 columns + 1 space) */
	FONT_CELL_H = 10 /* line height at scale 1 (7 rows + descender + 2 spacing) */
};

typedef struct {
	int w, h;
	unsigned char *px; /* [h][w][3] RGB, row-major */
} rgb_image_t;

/* A w x h canvas filled with bg; exits on out-of-memory. */
void rgb_image_init(rgb_image_t *im, int w, int h, const unsigned char bg[3]);
void rgb_image_free(rgb_image_t *im);

/* Decode a JPEG, scaled (libjpeg DCT scaling, then area averaging) to fit a
 * box x box square with its aspect ratio kept. Grayscale becomes gray RGB;
 * CMYK/YCCK is converted roughly (a thumbnail, not a measurement). Only a
 * regular file is read (a FIFO or device named here would block or never
 * end). Returns 0, or -1 with the reason (libjpeg's message) in err. */
int rgb_image_load_jpeg_thumb(const char *path, int box, rgb_image_t *out, char *err, size_t cap);

/* Copy src into dst at (x, y), clipped. */
void rgb_image_blit(rgb_image_t *dst, const rgb_image_t *src, int x, int y);
void rgb_image_fill(rgb_image_t *im, int x, int y, int w, int h, const unsigned char c[3]);

/* Draw printable ASCII at (x, y) (top-left), each glyph pixel a scale x
 * scale square; other bytes draw as '?'. At most maxchars characters (a
 * longer string ends in '~'); clipped to the canvas. Returns the width. */
int rgb_image_text(rgb_image_t *im, int x, int y, const char *s, int maxchars, const unsigned char c[3], int scale);
/* The same, a longer string cut in the middle instead: its first third and
 * its end around a '~' (an image id, a path: their unique part is the end). */
int rgb_image_text_mid(rgb_image_t *im, int x, int y, const char *s, int maxchars, const unsigned char c[3],
		       int scale);

/* Write as a baseline JPEG by the outfile rule of common/util/util.h (a new file or a
 * regular one, replaced whole; a FIFO, device or folder is refused). 0, or
 * -1 with "path: why" in err. */
int rgb_image_write_jpeg(const rgb_image_t *im, const char *path, int quality, char *err, size_t cap);

#endif
