/* grid.c - thumbnails, rectangles, bitmap text, JPEG output (see image/image.h).
 *
 * The font: printable ASCII 0x20..0x7e, 8 bytes per glyph, one per row from
 * the top; in each byte bit 4 is the leftmost of 5 columns. Rows 0-6 hold
 * the glyph, row 7 only descenders (g j p q y). Drawn by hand for this
 * project.
 */
#define _POSIX_C_SOURCE 200809L
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "util/util.h"

static const unsigned char font5x7[95][8] = {
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
	{0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00}, /* ! */
	{0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
	{0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00}, /* # */
	{0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00}, /* $ */
	{0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00}, /* % */
	{0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00}, /* & */
	{0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' */
	{0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00}, /* ( */
	{0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00}, /* ) */
	{0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00}, /* asterisk */
	{0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00}, /* + */
	{0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* , */
	{0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}, /* - */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00}, /* . */
	{0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00}, /* slash */
	{0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00}, /* 0 */
	{0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* 1 */
	{0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* 2 */
	{0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00}, /* 3 */
	{0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00}, /* 4 */
	{0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00}, /* 5 */
	{0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00}, /* 6 */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00}, /* 7 */
	{0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00}, /* 8 */
	{0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00}, /* 9 */
	{0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* : */
	{0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* ; */
	{0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00}, /* < */
	{0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* = */
	{0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00}, /* > */
	{0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00}, /* ? */
	{0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00}, /* @ */
	{0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* A */
	{0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00}, /* B */
	{0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* C */
	{0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00}, /* D */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00}, /* E */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* F */
	{0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00}, /* G */
	{0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* H */
	{0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* I */
	{0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00}, /* J */
	{0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00}, /* K */
	{0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00}, /* L */
	{0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00}, /* M */
	{0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00}, /* N */
	{0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* O */
	{0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* P */
	{0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00}, /* Q */
	{0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00}, /* R */
	{0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00}, /* S */
	{0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* T */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* U */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* V */
	{0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00}, /* W */
	{0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00}, /* X */
	{0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x00}, /* Y */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00}, /* Z */
	{0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00}, /* [ */
	{0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00}, /* backslash */
	{0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00}, /* ] */
	{0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00}, /* _ */
	{0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
	{0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00}, /* a */
	{0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00}, /* b */
	{0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* c */
	{0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00}, /* d */
	{0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00}, /* e */
	{0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00}, /* f */
	{0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
	{0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* h */
	{0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* i */
	{0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
	{0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00}, /* k */
	{0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* l */
	{0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00}, /* m */
	{0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* n */
	{0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* o */
	{0x00, 0x00, 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
	{0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
	{0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00}, /* r */
	{0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00}, /* s */
	{0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00}, /* t */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00}, /* u */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* v */
	{0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00}, /* w */
	{0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00}, /* x */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
	{0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* z */
	{0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00}, /* { */
	{0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* | */
	{0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00}, /* } */
	{0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00}, /* ~ */
};

void rgb_image_init(rgb_image_t *im, int w, int h, const unsigned char bg[3])
{
	im->w = w;
	im->h = h;
	im->px = malloc((size_t)w * (size_t)h * 3 + 1);
	if (!im->px)
		diag_fatal("out of memory for a %dx%d image", w, h);
	for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
		memcpy(im->px + 3 * i, bg, 3);
}

void rgb_image_free(rgb_image_t *im)
{
	free(im->px);
	memset(im, 0, sizeof *im);
}

void rgb_image_fill(rgb_image_t *im, int x, int y, int w, int h, const unsigned char c[3])
{
	for (int yy = y < 0 ? 0 : y; yy < y + h && yy < im->h; yy++)
		for (int xx = x < 0 ? 0 : x; xx < x + w && xx < im->w; xx++)
			memcpy(im->px + 3 * ((size_t)yy * (size_t)im->w + (size_t)xx), c, 3);
}

void rgb_image_blit(rgb_image_t *dst, const rgb_image_t *src, int x, int y)
{
	for (int sy = 0; sy < src->h; sy++) {
		int dy = y + sy;
		if (dy < 0 || dy >= dst->h)
			continue;
		for (int sx = 0; sx < src->w; sx++) {
			int dx = x + sx;
			if (dx >= 0 && dx < dst->w)
				memcpy(dst->px + 3 * ((size_t)dy * (size_t)dst->w + (size_t)dx),
				       src->px + 3 * ((size_t)sy * (size_t)src->w + (size_t)sx), 3);
		}
	}
}

static void draw_glyph(rgb_image_t *im, int x, int y, unsigned char ch, const unsigned char c[3], int scale)
{
	if (ch < 0x20 || ch > 0x7e)
		ch = '?';
	const unsigned char *g = font5x7[ch - 0x20];
	for (int row = 0; row < 8; row++)
		for (int col = 0; col < 5; col++)
			if (g[row] & (0x10 >> col))
				rgb_image_fill(im, x + col * scale, y + row * scale, scale, scale, c);
}

/* Draw s[0..n) at (x, y); returns the x after it. */
static int draw_run(rgb_image_t *im, int x, int y, const char *s, int n, const unsigned char c[3], int scale)
{
	for (int i = 0; i < n; i++, x += FONT_CELL_W * scale)
		draw_glyph(im, x, y, (unsigned char)s[i], c, scale);
	return x;
}

static int text_cut(rgb_image_t *im, int x, int y, const char *s, int maxchars, int head, const unsigned char c[3],
		    int scale)
{
	int n = (int)strlen(s);
	if (maxchars <= 0 || n <= maxchars)
		return draw_run(im, x, y, s, n, c, scale) - x;
	int x1 = draw_run(im, x, y, s, head, c, scale);
	draw_glyph(im, x1, y, '~', c, scale);
	int tail = maxchars - 1 - head;
	return draw_run(im, x1 + FONT_CELL_W * scale, y, s + n - tail, tail, c, scale) - x;
}

int rgb_image_text(rgb_image_t *im, int x, int y, const char *s, int maxchars, const unsigned char c[3], int scale)
{
	return text_cut(im, x, y, s, maxchars, maxchars - 1, c, scale);
}

int rgb_image_text_mid(rgb_image_t *im, int x, int y, const char *s, int maxchars, const unsigned char c[3],
		       int scale)
{
	/* a third for the head: ids differ at their end (ILSVRC2012_val_00000123.JPEG,
	 * n01440764/n01440764_10026.JPEG), the head only says which data set */
	return text_cut(im, x, y, s, maxchars, maxchars > 0 ? (maxchars - 1) / 3 : 0, c, scale);
}

/* libjpeg reports fatal errors through error_exit, which must not return:
 * jump back to the caller with the message kept. */
typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jerr_exit(j_common_ptr cinfo)
{
	jerr_t *e = (jerr_t *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jump, 1);
}

static void jerr_quiet(j_common_ptr cinfo)
{
	(void)cinfo; /* warnings on a thumbnail are not worth a line */
}

enum {
	/* a record's path may name any file: the limits imgdecode applies to
	 * a decode (PIL's decompression-bomb limit, twice; its hang guard on
	 * progressive scans, each a pass over the whole image) */
	THUMB_MAX_SCANS = 500
};
static const unsigned long long THUMB_MAX_PIXELS = 2ULL * 89478485ULL;

static void thumb_progress(j_common_ptr cinfo)
{
	j_decompress_ptr d = (j_decompress_ptr)cinfo;
	jerr_t *e = (jerr_t *)cinfo->err;
	if (d->input_scan_number > THUMB_MAX_SCANS) {
		snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", THUMB_MAX_SCANS);
		longjmp(e->jump, 1);
	}
}

/* Area-average src (sw x sh x nc) into dst (dw x dh RGB). */
static void area_resize(const unsigned char *src, int sw, int sh, int nc, rgb_image_t *dst)
{
	for (int y = 0; y < dst->h; y++) {
		int y0 = (int)((long long)y * sh / dst->h), y1 = (int)((long long)(y + 1) * sh / dst->h);
		if (y1 <= y0)
			y1 = y0 + 1;
		for (int x = 0; x < dst->w; x++) {
			int x0 = (int)((long long)x * sw / dst->w), x1 = (int)((long long)(x + 1) * sw / dst->w);
			if (x1 <= x0)
				x1 = x0 + 1;
			unsigned long sum[4] = {0, 0, 0, 0}, cnt = 0;
			for (int yy = y0; yy < y1; yy++)
				for (int xx = x0; xx < x1; xx++, cnt++)
					for (int k = 0; k < nc; k++)
						sum[k] += src[((size_t)yy * (size_t)sw + (size_t)xx) * (size_t)nc + (size_t)k];
			unsigned char *d = dst->px + 3 * ((size_t)y * (size_t)dst->w + (size_t)x);
			if (nc == 4) { /* Adobe CMYK as libjpeg returns it (inverted): R = C*K/255 */
				unsigned long k = sum[3] / cnt;
				for (int j = 0; j < 3; j++)
					d[j] = (unsigned char)((sum[j] / cnt) * k / 255);
			} else {
				for (int j = 0; j < 3; j++)
					d[j] = (unsigned char)(sum[j] / cnt);
			}
		}
	}
}

int rgb_image_load_jpeg_thumb(const char *path, int box, rgb_image_t *out, char *err, size_t cap)
{
	memset(out, 0, sizeof *out);
	/* only a regular file: a FIFO or a terminal named by a record's path
	 * would block the run for ever, a device (/dev/zero) never end. The
	 * open itself must not block (a FIFO without a writer), so O_NONBLOCK
	 * until the type is known. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	FILE *f = NULL;
	if (fcntl(fd, F_SETFL, 0) != 0 || !(f = fdopen(fd, "rb"))) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	struct jpeg_decompress_struct cinfo;
	jerr_t jerr;
	unsigned char *volatile pix = NULL;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = jerr_exit;
	jerr.pub.output_message = jerr_quiet;
	if (setjmp(jerr.jump)) {
		snprintf(err, cap, "%s: %s", path, jerr.msg);
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		free(pix);
		rgb_image_free(out);
		return -1;
	}
	struct jpeg_progress_mgr progress = {.progress_monitor = thumb_progress};
	jpeg_create_decompress(&cinfo);
	cinfo.progress = &progress;
	jpeg_stdio_src(&cinfo, f);
	jpeg_read_header(&cinfo, TRUE);
	/* a progressive image is buffered whole (coefficients): a header
	 * claiming 60000 x 60000 would take 20 GB */
	if ((unsigned long long)cinfo.image_width * cinfo.image_height > THUMB_MAX_PIXELS) {
		snprintf(jerr.msg, sizeof jerr.msg, "%ux%u: more than %llu pixels", (unsigned)cinfo.image_width,
			 (unsigned)cinfo.image_height, THUMB_MAX_PIXELS);
		longjmp(jerr.jump, 1);
	}
	/* the largest DCT reduction that still leaves at least box pixels */
	unsigned long longest = cinfo.image_width > cinfo.image_height ? cinfo.image_width : cinfo.image_height;
	unsigned denom = 1;
	while (denom < 8 && longest / (denom * 2) >= (unsigned long)box)
		denom *= 2;
	cinfo.scale_num = 1;
	cinfo.scale_denom = denom;
	int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
	cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	jpeg_start_decompress(&cinfo);
	int sw = (int)cinfo.output_width, sh = (int)cinfo.output_height, nc = cinfo.output_components;
	pix = malloc((size_t)sw * (size_t)sh * (size_t)nc + 1);
	if (!pix)
		diag_fatal("out of memory decoding %s", path);
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = pix + (size_t)cinfo.output_scanline * (size_t)sw * (size_t)nc;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	fclose(f);
	int dw = sw >= sh ? box : (int)((long long)box * sw / sh);
	int dh = sw >= sh ? (int)((long long)box * sh / sw) : box;
	if (dw > sw || dh > sh) { /* never enlarge a small image */
		dw = sw;
		dh = sh;
	}
	dw = dw < 1 ? 1 : dw;
	dh = dh < 1 ? 1 : dh;
	static const unsigned char black[3] = {0, 0, 0};
	rgb_image_init(out, dw, dh, black);
	area_resize(pix, sw, sh, nc, out);
	free(pix);
	return 0;
}

int rgb_image_write_jpeg(const rgb_image_t *im, const char *path, int quality, char *err, size_t cap)
{
	outfile_t of;
	if (outfile_open(&of, path, err, cap) != 0)
		return -1;
	FILE *f = outfile_stream(&of);
	if (!f)
		diag_fatal("out of memory");
	struct jpeg_compress_struct cinfo;
	jerr_t jerr;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = jerr_exit;
	jerr.pub.output_message = jerr_quiet;
	if (setjmp(jerr.jump)) {
		snprintf(err, cap, "%s: %s", path, jerr.msg);
		jpeg_destroy_compress(&cinfo);
		outfile_abort(&of);
		return -1;
	}
	jpeg_create_compress(&cinfo);
	jpeg_stdio_dest(&cinfo, f);
	cinfo.image_width = (JDIMENSION)im->w;
	cinfo.image_height = (JDIMENSION)im->h;
	cinfo.input_components = 3;
	cinfo.in_color_space = JCS_RGB;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW row = im->px + (size_t)cinfo.next_scanline * (size_t)im->w * 3;
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	return outfile_commit(&of, err, cap);
}
