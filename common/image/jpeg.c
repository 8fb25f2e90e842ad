/* jpeg.c - libjpeg-turbo decoding with Pillow's settings (see image/internal.h). */
#include "image/internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* More scans than any real progressive file has (they use about 10); each
 * scan is a pass over the whole coefficient buffer, so a hostile file with
 * thousands of tiny scans would otherwise run for minutes. */
enum {
	JPEG_MAX_SCANS = 500
};

/* Margins left and right of a window, in iMCUs (an iMCU holds at least one
 * block of every component): fancy upsampling reaches one chroma sample
 * across a crop edge, and progressive block smoothing two blocks. Above and
 * below no margin is needed: jpeg_skip_scanlines decodes the context rows
 * the upsampler needs, and smoothing reads the whole-image coefficients. */
enum {
	JPEG_MARGIN_IMCU_X = 1,
	JPEG_MARGIN_IMCU_X_PROGRESSIVE = 3
};

typedef enum {
	PHASE_HEADER,
	PHASE_DECODE,
	PHASE_FINISH
} phase_t;

typedef struct {
	struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this */
	jmp_buf jb;
	phase_t phase;
	char error[JMSG_LENGTH_MAX + 64];
	char warning[JMSG_LENGTH_MAX];
	int nwarnings;
	size_t mem_need; /* the failure was over the memory limit: what was needed (else 0) */
} err_mgr_t;

struct img_jpeg {
	struct jpeg_decompress_struct cinfo;
	err_mgr_t err;
	struct jpeg_progress_mgr progress;
	/* A decompressor lives from begin to the end of decode (or abort): a
	 * reused one keeps the previous file's Huffman and quantization tables,
	 * and a file lacking its own would decode with them where Pillow fails. */
	int active;
	uint8_t *buf;
	size_t cap;
	JSAMPROW *rows;
	size_t rows_cap;
	uint8_t *scratch;
	size_t scratch_cap;
	size_t mem_used; /* buf's bytes after the last decode */
};

/* Fail the decode from inside libjpeg's calls: over the memory limit, what
 * (the error text) needs need bytes. */
static void over_memory(j_common_ptr cinfo, size_t need, const char *what)
{
	err_mgr_t *e = (err_mgr_t *)cinfo->err;
	snprintf(e->error, sizeof e->error, "%s", what);
	e->mem_need = need ? need : 1;
	longjmp(e->jb, 1);
}

static void on_error_exit(j_common_ptr cinfo)
{
	err_mgr_t *e = (err_mgr_t *)cinfo->err;
	char msg[JMSG_LENGTH_MAX];
	(*cinfo->err->format_message)(cinfo, msg);
	/* max_memory_to_use is only a safety net behind decode_body's own
	 * estimate: past it libjpeg asks for backing store, which it lacks */
	if (e->pub.msg_code == JERR_NO_BACKING_STORE)
		over_memory(cinfo, 0, "libjpeg's buffers for this image");
	if (e->pub.msg_code == JERR_OUT_OF_MEMORY)
		snprintf(e->error, sizeof e->error, "out of memory in libjpeg (%s)", msg);
	else
		snprintf(e->error, sizeof e->error, "corrupt JPEG: %s", msg);
	longjmp(e->jb, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
	err_mgr_t *e = (err_mgr_t *)cinfo->err;
	if (level >= 0)
		return; /* trace messages */
	if (e->pub.msg_code == JWRN_JPEG_EOF && e->phase != PHASE_FINISH) {
		snprintf(e->error, sizeof e->error, "truncated JPEG (data ends before the image does)");
		longjmp(e->jb, 1);
	}
	if (e->nwarnings++ == 0)
		(*cinfo->err->format_message)(cinfo, e->warning);
	e->pub.num_warnings++;
}

static void on_output_message(j_common_ptr cinfo)
{
	(void)cinfo; /* everything goes through emit_message / error_exit */
}

static void on_progress(j_common_ptr cinfo)
{
	j_decompress_ptr d = (j_decompress_ptr)cinfo;
	err_mgr_t *e = (err_mgr_t *)cinfo->err;
	if (d->input_scan_number > JPEG_MAX_SCANS) {
		snprintf(e->error, sizeof e->error, "corrupt JPEG: more than %d progressive scans", JPEG_MAX_SCANS);
		longjmp(e->jb, 1);
	}
}

img_jpeg_t *img_jpeg_new(void)
{
	img_jpeg_t *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	jpeg_std_error(&j->err.pub);
	j->err.pub.error_exit = on_error_exit;
	j->err.pub.emit_message = on_emit_message;
	j->err.pub.output_message = on_output_message;
	j->progress.progress_monitor = on_progress;
	return j;
}

void img_jpeg_free(img_jpeg_t *j)
{
	if (!j)
		return;
	img_jpeg_abort(j);
	free(j->buf);
	free(j->rows);
	free(j->scratch);
	free(j);
}

const char *img_jpeg_error(const img_jpeg_t *j)
{
	return j->err.error;
}

size_t img_jpeg_mem_need(const img_jpeg_t *j)
{
	return j->err.mem_need;
}

size_t img_jpeg_mem_used(const img_jpeg_t *j)
{
	return j->mem_used;
}

void img_jpeg_trim(img_jpeg_t *j, size_t keep)
{
	if (j->cap > keep) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	if (j->rows_cap > keep) {
		free(j->rows);
		j->rows = NULL;
		j->rows_cap = 0;
	}
	if (j->scratch_cap > keep) {
		free(j->scratch);
		j->scratch = NULL;
		j->scratch_cap = 0;
	}
}

const char *img_jpeg_warning(const img_jpeg_t *j, int *count)
{
	*count = j->err.nwarnings;
	return j->err.nwarnings ? j->err.warning : "";
}

void img_jpeg_abort(img_jpeg_t *j)
{
	if (j->active)
		jpeg_destroy_decompress(&j->cinfo);
	j->active = 0;
}

/* The libjpeg calls of img_jpeg_begin; errors longjmp out of here. */
static int begin_body(img_jpeg_t *j, const uint8_t *data, size_t len, img_jpeg_info_t *info)
{
	struct jpeg_decompress_struct *ci = &j->cinfo;
	ci->err = &j->err.pub;
	jpeg_create_decompress(ci);
	j->active = 1;
	ci->progress = &j->progress;
	jpeg_mem_src(ci, data, (unsigned long)len);
	jpeg_read_header(ci, TRUE);
	switch (ci->num_components) {
	case 1: ci->out_color_space = JCS_GRAYSCALE; break;
	case 3: ci->out_color_space = JCS_RGB; break;
	case 4: ci->out_color_space = JCS_CMYK; break;
	default:
		snprintf(j->err.error, sizeof j->err.error, "cannot handle %d-component JPEG (neither does Pillow)",
			 ci->num_components);
		return -1;
	}
	info->width = (int)ci->image_width;
	info->height = (int)ci->image_height;
	info->nc = ci->num_components;
	return 0;
}

int img_jpeg_begin(img_jpeg_t *j, const uint8_t *data, size_t len, img_jpeg_info_t *info)
{
	img_jpeg_abort(j);
	j->err.error[0] = 0;
	j->err.warning[0] = 0;
	j->err.nwarnings = 0;
	j->err.pub.num_warnings = 0;
	j->err.mem_need = 0;
	j->mem_used = 0;
	j->err.phase = PHASE_HEADER;
	if (len < 3 || data[2] != 0xFF) {
		/* libjpeg skips bytes between SOI and the next marker with a
		 * warning; Pillow opens only files that start FF D8 FF */
		snprintf(j->err.error, sizeof j->err.error, "corrupt JPEG: no marker right after SOI (Pillow refuses the file)");
		return -1;
	}
	if (setjmp(j->err.jb) || begin_body(j, data, len, info) != 0) {
		img_jpeg_abort(j);
		return -1;
	}
	return 0;
}

void img_jpeg_scaled_size(const img_jpeg_info_t *info, int denom, int *w, int *h)
{
	*w = (int)(((long long)info->width + denom - 1) / denom);
	*h = (int)(((long long)info->height + denom - 1) / denom);
}

static int reserve(void **p, size_t *cap, size_t n)
{
	uint8_t *b = *p;
	int r = img_buf_reserve(&b, cap, n);
	*p = b;
	return r;
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Read rows into rows[0..n). */
static void read_rows(struct jpeg_decompress_struct *ci, JSAMPROW *rows, JDIMENSION n)
{
	JDIMENSION got = 0;
	while (got < n) {
		JDIMENSION k = jpeg_read_scanlines(ci, rows + got, n - got);
		if (k == 0)
			ERREXIT(ci, JERR_INPUT_EMPTY); /* cannot happen with a memory source */
		got += k;
	}
}

/* The libjpeg calls of img_jpeg_decode; errors longjmp out of here. */
static void decode_body(img_jpeg_t *j, const img_jpeg_opts_t *o, int x0, int y0, int x1, int y1, img_view_t *out)
{
	struct jpeg_decompress_struct *ci = &j->cinfo;
	ci->scale_num = 1;
	ci->scale_denom = (unsigned)o->denom;
	if (o->fast) {
		ci->dct_method = JDCT_IFAST;
		ci->do_fancy_upsampling = FALSE;
	}
	jpeg_calc_output_dimensions(ci); /* the output size, before anything is allocated */
	const int W = (int)ci->output_width, H = (int)ci->output_height, nc = ci->output_components;
	/* Rows per iMCU row, as jpeg_skip_scanlines counts them. Every skip here
	 * starts and ends on an iMCU row boundary, and after a skip rows are
	 * read one per call: libjpeg-turbo 2.1's skip can return stale rows or
	 * over-read when a skip starts inside a row group (libjpeg-turbo #915). */
	const int imcu_h = ci->min_DCT_scaled_size * ci->max_v_samp_factor;
	/* columns per iMCU, jpeg_crop_scanline's alignment */
	const int imcu_w = ci->min_DCT_scaled_size * (ci->num_components == 1 ? 1 : ci->max_h_samp_factor);
	if (o->full) {
		x0 = 0, x1 = W, y0 = 0, y1 = H;
	} else {
		int margin = imcu_w * (ci->progressive_mode ? JPEG_MARGIN_IMCU_X_PROGRESSIVE : JPEG_MARGIN_IMCU_X);
		x0 = clampi(x0 - margin, 0, W - 1);
		x1 = clampi(x1 + margin, x0 + 1, W);
		y0 = clampi(y0, 0, H - 1);
		y1 = clampi(y1, y0 + 1, H);
		y0 -= y0 % imcu_h;
		y1 = y1 % imcu_h ? clampi(y1 + imcu_h - y1 % imcu_h, y0 + 1, H) : y1;
	}
	/* What the decode holds, checked before jpeg_start_decompress: a
	 * progressive or multi-scan image is held whole as DCT coefficients
	 * (jdcoefct.c: each component padded to whole iMCUs, 128 bytes a
	 * block; a 15 KB file can claim a gigabyte), which that call allocates
	 * and fills from the whole file; then the decoded window, which
	 * jpeg_crop_scanline widens by less than an iMCU. */
	size_t coef = 0;
	if (jpeg_has_multiple_scans(ci))
		for (int c = 0; c < ci->num_components; c++) {
			const jpeg_component_info *cp = &ci->comp_info[c];
			size_t bw = (cp->width_in_blocks + (JDIMENSION)cp->h_samp_factor - 1) / (JDIMENSION)cp->h_samp_factor;
			size_t bh = (cp->height_in_blocks + (JDIMENSION)cp->v_samp_factor - 1) / (JDIMENSION)cp->v_samp_factor;
			coef += bw * (size_t)cp->h_samp_factor * bh * (size_t)cp->v_samp_factor * sizeof(JBLOCK);
		}
	const JDIMENSION nrows = (JDIMENSION)(y1 - y0);
	const size_t most_w = (size_t)(x1 - x0 + imcu_w < W ? x1 - x0 + imcu_w : W);
	const size_t most = most_w * (size_t)nc * (nrows + 1) + IMG_RESAMPLE_PAD + nrows * sizeof(JSAMPROW);
	if (o->mem_limit && coef + most > o->mem_limit) {
		char what[200];
		if (coef)
			snprintf(what, sizeof what, "the DCT coefficients of this %ux%u %s JPEG (held whole) and its decoded %zux%u window",
				 (unsigned)ci->image_width, (unsigned)ci->image_height,
				 ci->progressive_mode ? "progressive" : "multi-scan", most_w, (unsigned)nrows);
		else
			snprintf(what, sizeof what, "its decoded %zux%u window", most_w, (unsigned)nrows);
		over_memory((j_common_ptr)ci, coef + most, what);
	}
	if (o->mem_limit) /* a safety net for the coefficients: libjpeg checks it, on_error_exit reports it */
		ci->mem->max_memory_to_use = (long)(o->mem_limit - most > (size_t)__LONG_MAX__ ? (size_t)__LONG_MAX__ : o->mem_limit - most);
	jpeg_start_decompress(ci);
	JDIMENSION xoff = (JDIMENSION)x0, cw = (JDIMENSION)(x1 - x0);
	if ((int)cw < W)
		jpeg_crop_scanline(ci, &xoff, &cw);
	const size_t stride = (size_t)cw * (size_t)nc;
	const size_t bytes = stride * (nrows + 1) + IMG_RESAMPLE_PAD + nrows * sizeof(JSAMPROW);
	if (reserve((void **)&j->buf, &j->cap, stride * nrows + IMG_RESAMPLE_PAD) != 0 ||
	    reserve((void **)&j->rows, &j->rows_cap, nrows * sizeof(JSAMPROW)) != 0 ||
	    reserve((void **)&j->scratch, &j->scratch_cap, stride) != 0) {
		snprintf(j->err.error, sizeof j->err.error, "out of memory for the %ux%u decoded window", (unsigned)cw,
			 (unsigned)nrows);
		longjmp(j->err.jb, 1);
	}
	j->mem_used = bytes;
	for (JDIMENSION r = 0; r < nrows; r++)
		j->rows[r] = j->buf + (size_t)r * stride;
	if (y0 > 0) {
		jpeg_skip_scanlines(ci, (JDIMENSION)y0);
		for (JDIMENSION r = 0; r < nrows; r++)
			read_rows(ci, j->rows + r, 1);
	} else {
		read_rows(ci, j->rows, nrows);
	}
	if (y1 < H) {
		/* Skip whole iMCU rows up to the last one, then read that: skipping
		 * to the very end would mark the data consumed without decoding it,
		 * and truncation or corruption there would go unseen. */
		int last = (H - 1) - (H - 1) % imcu_h;
		if (last > y1)
			jpeg_skip_scanlines(ci, (JDIMENSION)(last - y1));
		JSAMPROW row = j->scratch;
		while ((int)ci->output_scanline < H)
			read_rows(ci, &row, 1);
	}
	j->err.phase = PHASE_FINISH;
	jpeg_finish_decompress(ci);
	img_jpeg_abort(j);
	if (nc == 4) /* Pillow's "CMYK;I" */
		for (size_t i = 0; i < stride * nrows; i++)
			j->buf[i] = (uint8_t)(255 - j->buf[i]);
	out->data = j->buf;
	out->x0 = (int)xoff;
	out->y0 = y0;
	out->w = (int)cw;
	out->h = (int)nrows;
	out->nc = nc;
	out->stride = stride;
}

int img_jpeg_decode(img_jpeg_t *j, const img_jpeg_opts_t *o, int x0, int y0, int x1, int y1, img_view_t *out)
{
	if (!j->active) {
		snprintf(j->err.error, sizeof j->err.error, "internal: decode without a header");
		return -1;
	}
	j->err.phase = PHASE_DECODE;
	if (setjmp(j->err.jb)) {
		img_jpeg_abort(j);
		return -1;
	}
	decode_body(j, o, x0, y0, x1, y1, out);
	return 0;
}
