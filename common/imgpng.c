/* imgpng.c - PNG decoding into Pillow's modes (see imgpng.h). */
#include "imgpng.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgresample.h"

typedef struct {
	const uint8_t *data;
	size_t len, pos;
	img_png_t *out;
	char *err;
	size_t errcap;
	png_bytep *rows; /* freed by img_png_decode, also after a longjmp */
} png_src_t;

static void on_png_error(png_structp png, png_const_charp msg)
{
	png_src_t *s = png_get_error_ptr(png);
	if (!s->err[0])
		snprintf(s->err, s->errcap, "corrupt PNG: %s", msg);
	png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
	png_src_t *s = png_get_error_ptr(png);
	if (s->out->nwarnings++ == 0)
		snprintf(s->out->warning, sizeof s->out->warning, "%s", msg);
}

static void on_png_read(png_structp png, png_bytep dst, png_size_t n)
{
	png_src_t *s = png_get_io_ptr(png);
	if (n > s->len - s->pos) {
		snprintf(s->err, s->errcap, "truncated PNG (data ends before the image does)");
		png_error(png, "truncated");
	}
	memcpy(dst, s->data + s->pos, n);
	s->pos += n;
}

/* The libpng calls; errors longjmp out of here. */
static int decode_body(png_structp png, png_infop info, png_src_t *s, unsigned long long max_pixels, uint8_t **buf,
		       size_t *cap)
{
	img_png_t *o = s->out;
	png_read_info(png, info);
	png_uint_32 w, h;
	int depth, ctype, interlace;
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
	if ((unsigned long long)w * h > max_pixels) {
		snprintf(s->err, s->errcap, "image too large: %lux%lu = %llu pixels, over the limit of %llu (--max-pixels)",
			 (unsigned long)w, (unsigned long)h, (unsigned long long)w * h, max_pixels);
		return -1;
	}
	o->width = (int)w;
	o->height = (int)h;
	switch (ctype) {
	case PNG_COLOR_TYPE_GRAY:
		if (depth < 8) {
			png_set_expand_gray_1_2_4_to_8(png); /* scales like Pillow's L;2 / L;4 unpackers */
			o->mode = depth == 1 ? IMG_PNG_1 : IMG_PNG_L;
		} else if (depth == 16) {
			o->mode = IMG_PNG_I16;
		} else {
			o->mode = IMG_PNG_L;
		}
		break;
	case PNG_COLOR_TYPE_PALETTE: {
		png_set_packing(png); /* indices to bytes, unscaled */
		o->mode = IMG_PNG_P;
		for (int i = 0; i < 256; i++)
			o->palette[3 * i] = o->palette[3 * i + 1] = o->palette[3 * i + 2] = (uint8_t)i;
		png_colorp pal;
		int npal = 0;
		if (png_get_PLTE(png, info, &pal, &npal) == PNG_INFO_PLTE)
			for (int i = 0; i < npal && i < 256; i++) {
				o->palette[3 * i] = pal[i].red;
				o->palette[3 * i + 1] = pal[i].green;
				o->palette[3 * i + 2] = pal[i].blue;
			}
		break;
	}
	case PNG_COLOR_TYPE_RGB: o->mode = IMG_PNG_RGB; break;
	case PNG_COLOR_TYPE_GRAY_ALPHA: o->mode = IMG_PNG_LA; break;
	case PNG_COLOR_TYPE_RGB_ALPHA: o->mode = IMG_PNG_RGBA; break;
	default: snprintf(s->err, s->errcap, "corrupt PNG: color type %d", ctype); return -1;
	}
	if (depth == 16 && o->mode != IMG_PNG_I16)
		png_set_strip_16(png); /* the high byte, as Pillow's ";16B" unpackers take */
	if (depth == 16 && o->mode == IMG_PNG_I16) {
		union { uint16_t u; uint8_t b[2]; } probe = {.u = 1};
		if (probe.b[0] == 1)
			png_set_swap(png); /* PNG is big-endian; keep native uint16 */
	}
	if (interlace != PNG_INTERLACE_NONE)
		png_set_interlace_handling(png);
	png_read_update_info(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	o->bpp = (int)(rowbytes / w);
	s->rows = malloc((size_t)h * sizeof *s->rows);
	if (!s->rows || img_buf_reserve(buf, cap, rowbytes * h + IMG_RESAMPLE_PAD) != 0) {
		snprintf(s->err, s->errcap, "out of memory for a %lux%lu PNG", (unsigned long)w, (unsigned long)h);
		return -1;
	}
	o->pixels = *buf;
	for (png_uint_32 y = 0; y < h; y++)
		s->rows[y] = *buf + (size_t)y * rowbytes;
	png_read_image(png, s->rows);
	/* Pillow stops at the end of the image data too: whatever follows
	 * (text chunks, IEND) is not read. */
	return 0;
}

int img_png_decode(const uint8_t *data, size_t len, unsigned long long max_pixels, uint8_t **buf, size_t *cap,
		   img_png_t *out, char *err, size_t errcap)
{
	memset(out, 0, sizeof *out);
	err[0] = 0;
	png_src_t s = {.data = data, .len = len, .out = out, .err = err, .errcap = errcap};
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_png_error, on_png_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_read_struct(&png, NULL, NULL);
		snprintf(err, errcap, "out of memory starting libpng");
		return -1;
	}
	volatile int rc = -1; /* set after setjmp, read after a longjmp */
	if (setjmp(png_jmpbuf(png)) == 0) {
		png_set_read_fn(png, &s, on_png_read);
		rc = decode_body(png, info, &s, max_pixels, buf, cap);
	}
	png_destroy_read_struct(&png, &info, NULL);
	free(s.rows);
	if (rc != 0 && !err[0])
		snprintf(err, errcap, "corrupt PNG");
	return rc;
}
