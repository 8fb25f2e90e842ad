/* imgproc.h - image file -> model-ready crop, as PIL 9 + torchvision 0.14 make it.
 *
 * The path, per image (SPEC.md section 3):
 *   decode (imgjpeg.c, imgpng.c) -> [RGB conversion, imagenet presets]
 *   -> Resize(S): short side S, long side int(S * long / short), Pillow's
 *      resampler (imgresample.c), skipped when the size does not change
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
#ifndef COMMON_IMGPROC_H
#define COMMON_IMGPROC_H

#include <stddef.h>
#include <stdint.h>

#include "imgresample.h"
#include "tensor.h"

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
	img_order_t resize_order; /* which resize pass goes first (imgresample.h) */
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

#endif
