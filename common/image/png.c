/* png.c - PNG decoding into Pillow's modes (see image/internal.h). */
#include "image/internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image/image.h"

typedef struct {
	const uint8_t *data;
	size_t len, pos;
	img_png_t *out;
	char *err;
	size_t errcap;
	size_t extra; /* bytes held besides the pixels: a copy of the file with a PLTE added */
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

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Pillow 9.4's PNG reader (PngImagePlugin) refuses files that libpng
 * decodes with a warning or without a word; those get an error too, as the
 * published evaluations (run with Pillow) had no result for them. */
#define PIL_TEXT_CHUNK ((size_t)1 << 20) /* MAX_TEXT_CHUNK: one inflated text or ICC profile */
#define PIL_TEXT_MEMORY ((uint64_t)64 << 20) /* MAX_TEXT_MEMORY: all text together */

typedef struct {
	char mode;	     /* IHDR's mode as Pillow names it: '1', 'L', 'I', 'R' (RGB), 'P', 0 others */
	uint32_t w, h;
	int64_t seq;	     /* APNG sequence number of the last fcTL/fdAT, -1 none */
	uint32_t nframes;    /* acTL's frame count, 0 none */
	uint64_t text_mem;   /* text held so far */
	uint8_t *inflated;   /* PIL_TEXT_CHUNK bytes, allocated on first use */
} pil_png_t;

/* Pillow's _safe_zlib_decompress: -1 for zlib's error (Pillow ignores the
 * chunk), 1 when more than PIL_TEXT_CHUNK bytes would come out (Pillow
 * refuses the file), else 0 with *out bytes in p->inflated (a stream cut
 * short gives what it has). -2: out of memory. */
static int pil_inflate(pil_png_t *p, const uint8_t *d, size_t n, size_t *out)
{
	if (!p->inflated && !(p->inflated = malloc(PIL_TEXT_CHUNK)))
		return -2;
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return -2;
	z.next_in = (Bytef *)(uintptr_t)d;
	z.avail_in = (uInt)n;
	z.next_out = p->inflated;
	z.avail_out = (uInt)PIL_TEXT_CHUNK;
	int r = inflate(&z, Z_SYNC_FLUSH);
	*out = PIL_TEXT_CHUNK - z.avail_out;
	int big = r != Z_STREAM_END && z.avail_out == 0 && z.avail_in > 0;
	inflateEnd(&z);
	if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
		return -1;
	return big;
}

static const uint8_t *find_nul(const uint8_t *c, size_t n)
{
	return memchr(c, 0, n);
}

/* Characters of valid UTF-8 d[0..n), or -1 when it is not UTF-8. */
static long long utf8_chars(const uint8_t *d, size_t n)
{
	long long k = 0;
	uint32_t cp;
	for (size_t i = 0, m; i < n; i += m, k++)
		if (!(m = utf8_next((const char *)d + i, n - i, &cp)))
			return -1;
	return k;
}

/* Pillow's handler for one chunk (PngStream.chunk_TYPE, Pillow 9.4): the
 * reason it raises on c[0..n), which refuses the file, or NULL. */
static const char *pil_chunk(pil_png_t *p, const uint8_t *type, const uint8_t *c, size_t n, char *why, size_t cap)
{
#define IS(t) (memcmp(type, t, 4) == 0)
#define SHORT(t, min)                                                                                  \
	do {                                                                                           \
		if (IS(t) && n < (min)) {                                                              \
			snprintf(why, cap, "a %s chunk of %zu bytes (Pillow needs %d)", t, n, (int)(min)); \
			return why;                                                                    \
		}                                                                                      \
	} while (0)
	SHORT("IHDR", 13);
	SHORT("gAMA", 4);
	SHORT("sRGB", 1);
	SHORT("pHYs", 9);
	SHORT("acTL", 8);
	SHORT("fcTL", 26);
	SHORT("fdAT", 4);
	SHORT("tRNS", p->mode == 'R' ? 6 : p->mode && p->mode != 'P' ? 2 : 0);
	if (IS("IHDR")) {
		if (c[11]) {
			snprintf(why, cap, "unknown filter method %u in IHDR", c[11]);
			return why;
		}
		static const struct {
			uint8_t depth, color;
			char mode;
		} modes[] = {{1, 0, '1'}, {2, 0, 'L'}, {4, 0, 'L'}, {8, 0, 'L'}, {16, 0, 'I'}, {8, 2, 'R'},
			     {16, 2, 'R'}, {1, 3, 'P'}, {2, 3, 'P'}, {4, 3, 'P'}, {8, 3, 'P'}};
		p->mode = 0;
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
			if (modes[i].depth == c[8] && modes[i].color == c[9])
				p->mode = modes[i].mode;
		p->w = be32(c);
		p->h = be32(c + 4);
	} else if (IS("cHRM") && n % 4) {
		snprintf(why, cap, "a cHRM chunk of %zu bytes, not a multiple of 4", n);
		return why;
	} else if (IS("iCCP")) {
		const uint8_t *z = find_nul(c, n);
		size_t got;
		if (!z) { /* Pillow takes the last byte for the method: not 0 here */
			snprintf(why, cap, "an iCCP chunk without its profile name's NUL");
			return why;
		}
		size_t off = (size_t)(z - c) + 2;
		if (pil_inflate(p, c + off, off < n ? n - off : 0, &got) == 1) {
			snprintf(why, cap, "an ICC profile of more than %zu bytes (Pillow's limit)", PIL_TEXT_CHUNK);
			return why;
		}
	} else if (IS("tEXt") || IS("zTXt") || IS("iTXt")) {
		const uint8_t *z = find_nul(c, n);
		size_t klen = z ? (size_t)(z - c) : n, vlen = z ? n - klen - 1 : 0, got = 0;
		const uint8_t *v = c + klen + (z ? 1 : 0);
		long long chars = 0;
		if (IS("tEXt")) {
			chars = klen ? (long long)vlen : 0;
		} else if (IS("zTXt")) {
			if (vlen && v[0]) {
				snprintf(why, cap, "unknown compression method %u in zTXt", v[0]);
				return why;
			}
			int r = pil_inflate(p, v + (vlen ? 1 : 0), vlen ? vlen - 1 : 0, &got);
			if (r == 1) {
				snprintf(why, cap, "a zTXt chunk of more than %zu bytes inflated (Pillow's limit)",
					 PIL_TEXT_CHUNK);
				return why;
			}
			chars = klen && r == 0 ? (long long)got : 0;
		} else if (z && vlen >= 2) { /* iTXt: key, flag, method, language, key again, text */
			int flag = v[0], method = v[1];
			const uint8_t *r = v + 2, *z1 = find_nul(r, vlen - 2), *z2;
			size_t rn = vlen - 2;
			if (z1 && (z2 = find_nul(z1 + 1, rn - (size_t)(z1 + 1 - r)))) {
				const uint8_t *t = z2 + 1;
				size_t tn = rn - (size_t)(t - r);
				int ok = 1;
				if (flag && method == 0) {
					int rr = pil_inflate(p, t, tn, &got);
					if (rr == 1) {
						snprintf(why, cap, "an iTXt chunk of more than %zu bytes inflated (Pillow's limit)",
							 PIL_TEXT_CHUNK);
						return why;
					}
					ok = rr == 0;
					t = p->inflated;
					tn = got;
				} else if (flag) {
					ok = 0;
				}
				if (ok && utf8_chars(r, (size_t)(z1 - r)) >= 0 && utf8_chars(z1 + 1, (size_t)(z2 - z1 - 1)) >= 0)
					chars = utf8_chars(t, tn) > 0 ? utf8_chars(t, tn) : 0;
			}
		}
		p->text_mem += (uint64_t)chars;
		if (p->text_mem > PIL_TEXT_MEMORY) {
			snprintf(why, cap, "more than %llu bytes of text chunks (Pillow's limit)",
				 (unsigned long long)PIL_TEXT_MEMORY);
			return why;
		}
	} else if (IS("acTL")) {
		uint32_t k = be32(c);
		if (p->nframes)
			p->nframes = 0; /* a second acTL: Pillow takes the file as one image */
		else if (k && k <= 0x80000000u)
			p->nframes = k;
	} else if (IS("fcTL") || IS("fdAT")) {
		int64_t seq = be32(c);
		if ((p->seq < 0 && (IS("fdAT") || seq != 0)) || (p->seq >= 0 && seq != p->seq + 1)) {
			snprintf(why, cap, "APNG frame sequence error (%.4s %lld)", (const char *)type, (long long)seq);
			return why;
		}
		p->seq = seq;
		if (IS("fcTL") && ((uint64_t)be32(c + 12) + be32(c + 4) > p->w || (uint64_t)be32(c + 16) + be32(c + 8) > p->h)) {
			snprintf(why, cap, "an APNG frame outside the image");
			return why;
		}
	}
	return NULL;
#undef SHORT
#undef IS
}

/* Pillow's is_cid: four of [A-Za-z0-9_] */
static int is_cid(const uint8_t *t)
{
	for (int i = 0; i < 4; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') ||
		      t[i] == '_'))
			return 0;
	return 1;
}

/* Pillow's rules for the chunks, which libpng's differ from: every chunk
 * before the first IDAT has its CRC checked (a bad one refuses the file,
 * ancillary chunks too), IDAT's CRC is not; a palette image with no PLTE
 * decodes with a grey ramp; the chunks after the image data are read up
 * to IEND (CRCs unchecked, a header that is not one ends the walk), and
 * any chunk whose handler fails (pil_chunk), or whose data is cut short
 * after the image data, refuses the file. Returns -1 with err for a file
 * Pillow refuses; else 0, and *plte_at is the offset of the first IDAT when
 * a grey PLTE must go before it (0: none needed). A file too short or
 * malformed to walk before its image data is left to libpng to name. */
static int png_prescan(const uint8_t *d, size_t len, size_t *plte_at, char *err, size_t errcap)
{
	*plte_at = 0;
	int palette = 0, have_plte = 0, rc = 0, after = 0;
	pil_png_t p = {.seq = -1};
	char why[160];
	for (size_t at = 8; len >= 8 && at <= len - 8;) {
		uint32_t n = be32(d + at);
		const uint8_t *type = d + at + 4;
		if (after) {
			if (!is_cid(type) || memcmp(type, "IEND", 4) == 0 ||
			    (memcmp(type, "fcTL", 4) == 0 && p.nframes > 1))
				break;
			if (memcmp(type, "IDAT", 4) == 0) { /* where the pixels end is the decoder's to say */
				at += 12 + (size_t)n;
				continue;
			}
			if (n > len - 8 - at) {
				snprintf(err, errcap, "corrupt PNG: the %.4s chunk after the image data is cut short",
					 (const char *)type);
				rc = -1;
				break;
			}
		} else {
			if (len < 12 || n > len - 12 - at)
				break;
			if (memcmp(type, "IDAT", 4) == 0) {
				if (palette && !have_plte)
					*plte_at = at;
				after = 1;
				at += 12 + (size_t)n;
				continue;
			}
			uLong crc = crc32(crc32(0L, Z_NULL, 0), type, n + 4);
			if (crc != be32(d + at + 8 + n)) {
				snprintf(err, errcap, "corrupt PNG: bad CRC in the %.4s chunk (before the image data)",
					 (const char *)type);
				rc = -1;
				break;
			}
			if (memcmp(type, "IHDR", 4) == 0 && n >= 13)
				palette = d[at + 8 + 9] == PNG_COLOR_TYPE_PALETTE;
			have_plte |= memcmp(type, "PLTE", 4) == 0;
		}
		if (pil_chunk(&p, type, d + at + 8, n, why, sizeof why)) {
			snprintf(err, errcap, "corrupt PNG: %s (Pillow refuses the file)", why);
			rc = -1;
			break;
		}
		at += 12 + (size_t)n;
	}
	free(p.inflated);
	return rc;
}

/* d with a PLTE chunk of the grey ramp Pillow gives a palette image that
 * has none inserted at byte at (malloc'd, *outlen its length). */
static uint8_t *png_with_grey_plte(const uint8_t *d, size_t len, size_t at, size_t *outlen)
{
	size_t add = 12 + 768;
	uint8_t *o = malloc(len + add);
	if (!o)
		return NULL;
	memcpy(o, d, at);
	uint8_t *c = o + at;
	put_be32(c, 768);
	memcpy(c + 4, "PLTE", 4);
	for (int i = 0; i < 256; i++)
		c[8 + 3 * i] = c[9 + 3 * i] = c[10 + 3 * i] = (uint8_t)i;
	put_be32(c + 8 + 768, (uint32_t)crc32(crc32(0L, Z_NULL, 0), c + 4, 4 + 768));
	memcpy(o + at + add, d + at, len - at);
	*outlen = len + add;
	return o;
}

/* The libpng calls; errors longjmp out of here. */
static int decode_body(png_structp png, png_infop info, png_src_t *s, unsigned long long max_pixels,
		       size_t mem_limit, uint8_t **buf, size_t *cap)
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
	int passes = interlace != PNG_INTERLACE_NONE ? png_set_interlace_handling(png) : 1;
	const size_t file_rowbytes = png_get_rowbytes(png, info); /* before the transformations */
	png_read_update_info(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	o->bpp = (int)(rowbytes / w);
	/* The whole image (Pillow holds it whole too), and libpng's row
	 * buffers: the current row at the wider of the two depths, the
	 * previous one at the file's (png_read_start_row). */
	size_t need = SIZE_MAX;
	if (rowbytes == 0 || h <= (SIZE_MAX / 4) / rowbytes)
		need = s->extra + rowbytes * h + IMG_RESAMPLE_PAD + file_rowbytes +
		       (rowbytes > file_rowbytes ? rowbytes : file_rowbytes) + 128;
	if (mem_limit && need > mem_limit) {
		snprintf(s->err, s->errcap, "the decoded %lux%lu PNG", (unsigned long)w, (unsigned long)h);
		o->mem_need = need;
		return -1;
	}
	if (img_buf_reserve(buf, cap, rowbytes * h + IMG_RESAMPLE_PAD) != 0) {
		snprintf(s->err, s->errcap, "out of memory for a %lux%lu PNG", (unsigned long)w, (unsigned long)h);
		return -1;
	}
	o->pixels = *buf;
	o->mem_used = rowbytes * h + IMG_RESAMPLE_PAD;
	/* row by row (png_read_image's loop without its array of row
	 * pointers: 8 bytes a row, a gigabyte for a 1 x 170000000 image) */
	for (int pass = 0; pass < passes; pass++)
		for (png_uint_32 y = 0; y < h; y++)
			png_read_row(png, *buf + (size_t)y * rowbytes, NULL);
	/* Pillow stops at the end of the image data too: whatever follows
	 * (text chunks, IEND) is not read. */
	return 0;
}

int img_png_size(const uint8_t *d, size_t len, int *w, int *h)
{
	if (len < 24 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(d + 12, "IHDR", 4) != 0)
		return -1;
	uint32_t pw = be32(d + 16), ph = be32(d + 20);
	if (pw == 0 || ph == 0 || pw > 0x7fffffff || ph > 0x7fffffff)
		return -1; /* libpng says what is wrong */
	*w = (int)pw;
	*h = (int)ph;
	return 0;
}

int img_png_decode(const uint8_t *data, size_t len, unsigned long long max_pixels, size_t mem_limit, uint8_t **buf,
		   size_t *cap, img_png_t *out, char *err, size_t errcap)
{
	memset(out, 0, sizeof *out);
	err[0] = 0;
	size_t plte_at;
	if (png_prescan(data, len, &plte_at, err, errcap) != 0)
		return -1;
	uint8_t *patched = NULL;
	if (plte_at) {
		if (!(patched = png_with_grey_plte(data, len, plte_at, &len))) {
			snprintf(err, errcap, "out of memory for a PNG");
			return -1;
		}
		data = patched;
	}
	png_src_t s = {.data = data, .len = len, .out = out, .err = err, .errcap = errcap, .extra = patched ? len : 0};
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_png_error, on_png_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_read_struct(&png, NULL, NULL);
		free(patched);
		snprintf(err, errcap, "out of memory starting libpng");
		return -1;
	}
	volatile int rc = -1; /* set after setjmp, read after a longjmp */
	if (setjmp(png_jmpbuf(png)) == 0) {
		png_set_read_fn(png, &s, on_png_read);
		/* the chunks before IDAT were checked above; IDAT's CRC Pillow
		 * does not check */
		png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_DEFAULT);
		/* Pillow has no width limit (libpng's default is 1000000): the
		 * size is bounded by --max-pixels instead */
		png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
		rc = decode_body(png, info, &s, max_pixels, mem_limit, buf, cap);
	}
	png_destroy_read_struct(&png, &info, NULL);
	free(patched);
	if (rc != 0 && !err[0])
		snprintf(err, errcap, "corrupt PNG");
	return rc;
}
