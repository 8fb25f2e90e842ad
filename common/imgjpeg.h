/* imgjpeg.h - JPEG decoding with libjpeg-turbo as Pillow 9 does it, or just
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
#ifndef COMMON_IMGJPEG_H
#define COMMON_IMGJPEG_H

#include <stddef.h>
#include <stdint.h>

#include "imgresample.h"

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

#endif
