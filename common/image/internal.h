/* image/internal.h - the JPEG and PNG decoders behind image/proc.c; for
 * common/image/ only (and its fuzz target).
 */
#ifndef COMMON_IMAGE_INTERNAL_H
#define COMMON_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* ---- jpeg.c ----
 * JPEG decoding with libjpeg-turbo as Pillow 9 does it, or just
 * a window of the image.
 *
 * Pillow's settings: libjpeg's defaults (ISLOW IDCT, fancy upsampling, block
 * smoothing, its own YCbCr->RGB), output space by component count (1 ->
 * grayscale, 3 -> RGB, 4 -> CMYK, anything else refused), and CMYK read
 * inverted (Pillow's raw mode "CMYK;I", Adobe's convention) whether the file
 * holds CMYK or YCCK. No EXIF orientation, no ICC profile.
 *
 * A window decode (jpeg_crop_scanline, jpeg_skip_scanlines) widens the
 * requested window by a margin, so that the requested pixels never sit at the
 * crop edges where libjpeg replicates instead of upsampling or smoothing
 * across the edge: inside the request the bytes equal a whole-image decode.
 * Rows below the window are still entropy-decoded (skipped, not read), so
 * truncation and corrupt data are found exactly as a whole decode finds them.
 *
 * Errors never abort the process: libjpeg's error_exit longjmps back here and
 * the call returns -1 with img_jpeg_error() set. What a decode would
 * allocate beyond libjpeg's row buffers (a few rows: JPEG sizes stop at
 * 65535) is checked against a limit before it is allocated. Data running out before the
 * last row ("Premature end of JPEG file") is an error, as it is in Pillow
 * (its "image file is truncated"); other libjpeg warnings (corrupt data that
 * libjpeg recovers from) are kept: img_jpeg_warning().
 */

typedef struct img_jpeg img_jpeg_t;

typedef struct {
	int width, height; /* full size, unscaled */
	int nc;            /* channels decoded: 1 gray, 3 RGB, 4 CMYK (inverted, as Pillow holds it) */
} img_jpeg_info_t;

typedef struct {
	int denom; /* DCT scaling 1/denom: 1, 2, 4 or 8 */
	int fast;  /* fast integer IDCT and plain upsampling (not Pillow's output) */
	int full;  /* decode the whole image, ignoring the window */
	size_t mem_limit; /* bytes the decode may hold: the DCT coefficients of a
			     progressive or multi-scan image and the decoded window,
			     checked before either is allocated (0: no limit) */
} img_jpeg_opts_t;

img_jpeg_t *img_jpeg_new(void);
void img_jpeg_free(img_jpeg_t *j);

/* Read the header of data[0..len) (which must stay valid until the decode
 * ends). Returns 0, or -1 with img_jpeg_error(). After a 0, call
 * img_jpeg_decode or img_jpeg_abort. */
int img_jpeg_begin(img_jpeg_t *j, const uint8_t *data, size_t len, img_jpeg_info_t *info);
/* Output size at DCT scale 1/denom (libjpeg rounds up). */
void img_jpeg_scaled_size(const img_jpeg_info_t *info, int denom, int *w, int *h);
/* Decode at least columns [x0,x1) and rows [y0,y1) (coordinates of the
 * scaled output); *out views a buffer owned by j (valid until the next call)
 * that covers them. Returns 0, or -1 with img_jpeg_error(). */
int img_jpeg_decode(img_jpeg_t *j, const img_jpeg_opts_t *o, int x0, int y0, int x1, int y1, img_view_t *out);
void img_jpeg_abort(img_jpeg_t *j);

const char *img_jpeg_error(const img_jpeg_t *j);
/* After a failed decode: the bytes it needed when it failed for being over
 * mem_limit (img_jpeg_error then says what needed them; 1: unknown), else 0. */
size_t img_jpeg_mem_need(const img_jpeg_t *j);
/* After a decode: the bytes its output window holds (until the next call). */
size_t img_jpeg_mem_used(const img_jpeg_t *j);
/* Free the buffers over keep bytes (a large image's are not kept for the next). */
void img_jpeg_trim(img_jpeg_t *j, size_t keep);
/* First libjpeg warning of the last image ("" if none); *count gets how many. */
const char *img_jpeg_warning(const img_jpeg_t *j, int *count);

/* ---- png.c ----
 * PNG decoding with libpng into the modes Pillow 9 gives PNGs.
 *
 * Pillow's PngImagePlugin maps (bit depth, color type) to a mode:
 *   gray 1 -> "1" (0/255)   gray 2/4/8 -> "L" (scaled to 0..255)
 *   gray 16 -> "I" (0..65535)              RGB 8/16 -> "RGB" (high byte)
 *   palette 1/2/4/8 -> "P"                 gray+alpha 8 -> "LA"
 *   gray+alpha 16 -> "RGBA" (L,L,L,A high bytes; kept here as LA, which
 *                    resizes and converts identically)
 *   RGBA 8/16 -> "RGBA" (high bytes)
 * tRNS chunks only set Pillow's info["transparency"], never pixel values, so
 * they are ignored here too; no gamma or ICC handling either.
 */

typedef enum {
	IMG_PNG_1,    /* 1 byte per pixel, 0 or 255 */
	IMG_PNG_L,    /* 1 byte per pixel */
	IMG_PNG_I16,  /* 2 bytes per pixel, native-endian uint16 */
	IMG_PNG_RGB,  /* 3 bytes per pixel */
	IMG_PNG_P,    /* 1 byte per pixel: palette index */
	IMG_PNG_LA,   /* 2 bytes per pixel: L, A */
	IMG_PNG_RGBA  /* 4 bytes per pixel */
} img_png_mode_t;

typedef struct {
	int width, height;
	img_png_mode_t mode;
	int bpp;          /* bytes per pixel */
	uint8_t *pixels;  /* height rows of width * bpp bytes, owned by the caller's buffer */
	uint8_t palette[256 * 3]; /* P: RGB entries; Pillow's gray ramp where the file has none */
	char warning[256];        /* first libpng warning, "" if none */
	int nwarnings;
	size_t mem_used;  /* bytes of *buf the pixels take */
	size_t mem_need;  /* refused for mem_limit: the bytes the decode needed (err says what), else 0 */
} img_png_t;

/* The width and height in the IHDR chunk of data[0..len) (for size checks
 * before decoding): 0, or -1 when there is no plausible one. */
int img_png_size(const uint8_t *data, size_t len, int *w, int *h);
/* Decode data[0..len) into *out; pixels go to *buf (grown as needed).
 * Images over max_pixels are refused before any pixel is decoded, and those
 * whose decode would hold over mem_limit bytes (the pixels, libpng's row
 * buffers; 0: no limit) before any is allocated. Returns 0, or -1 with err
 * set. */
int img_png_decode(const uint8_t *data, size_t len, unsigned long long max_pixels, size_t mem_limit, uint8_t **buf,
		   size_t *cap, img_png_t *out, char *err, size_t errcap);

#endif
