/* imgpng.h - PNG decoding with libpng into the modes Pillow 9 gives PNGs.
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
#ifndef COMMON_IMGPNG_H
#define COMMON_IMGPNG_H

#include <stddef.h>
#include <stdint.h>

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
