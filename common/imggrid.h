/* imggrid.h - small RGB canvases for report figures: JPEG thumbnails,
 * rectangles, text in a built-in 5x7 bitmap font, and JPEG output.
 * libjpeg(-turbo) does the coding; programs using this link -ljpeg.
 */
#ifndef COMMON_IMGGRID_H
#define COMMON_IMGGRID_H

#include <stddef.h>

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

/* Write as a baseline JPEG by common/outfile.h's rule (a new file or a
 * regular one, replaced whole; a FIFO, device or folder is refused). 0, or
 * -1 with "path: why" in err. */
int rgb_image_write_jpeg(const rgb_image_t *im, const char *path, int quality, char *err, size_t cap);

#endif
