/* npy.c - NumPy .npy reader and writer (format: stream/stream.h). */
#include "stream/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static const char *npy_descr(dtype_t d)
{
	switch (d) {
	case DTYPE_UINT8: return "|u1";
	case DTYPE_INT8: return "|i1";
	case DTYPE_BOOL: return "|b1";
	case DTYPE_FLOAT16: return "<f2";
	case DTYPE_FLOAT32: return "<f4";
	case DTYPE_FLOAT64: return "<f8";
	case DTYPE_INT16: return "<i2";
	case DTYPE_INT32: return "<i4";
	case DTYPE_INT64: return "<i8";
	default: return NULL;
	}
}

int npy_write(const char *path, dtype_t dtype, int ndim, const int64_t *shape, const void *data)
{
	const char *descr = npy_descr(dtype);
	int64_t n = tensor_shape_numel(shape, ndim, dtype_size(dtype));
	if (!descr || n < 0) {
		errno = EINVAL;
		return -1;
	}
	char dict[512];
	int o = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (int i = 0; i < ndim; i++)
		o += snprintf(dict + o, sizeof dict - (size_t)o, "%lld,%s", (long long)shape[i],
			      i + 1 < ndim ? " " : "");
	o += snprintf(dict + o, sizeof dict - (size_t)o, "), }");
	size_t total = 10 + (size_t)o + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hl = (size_t)o + pad + 1;
	unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
				  (unsigned char)(hl >> 8)};
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(head, 1, 10, f);
	fwrite(dict, 1, (size_t)o, f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	fwrite(data, dtype_size(dtype), (size_t)n, f);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return -1;
	return 0;
}

/* The header dict, read as numpy reads it: a Python literal with exactly the
 * keys 'descr' (a str), 'fortran_order' (True or False) and 'shape' (a tuple
 * of ints), then only blanks. A key given twice is refused: numpy takes the
 * last one, a first-match reader the first, and a file must not mean two
 * arrays. */
typedef struct {
	const char *s, *end;
	char descr[16];
	int have[3]; /* descr, fortran_order, shape */
	int fortran;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	const char *why;
} hdr_t;

static void hdr_ws(hdr_t *h)
{
	while (h->s < h->end && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n' || *h->s == '\r'))
		h->s++;
}

static int hdr_accept(hdr_t *h, char c)
{
	hdr_ws(h);
	if (h->s < h->end && *h->s == c) {
		h->s++;
		return 1;
	}
	return 0;
}

static int hdr_fail(hdr_t *h, const char *why)
{
	h->why = h->s >= h->end ? "the header dict ends without its closing '}'" : why;
	return -1;
}

/* A quoted str (no escapes: keys and dtypes have none) into buf. */
static int hdr_str(hdr_t *h, char *buf, size_t cap)
{
	hdr_ws(h);
	if (h->s >= h->end || (*h->s != '\'' && *h->s != '"'))
		return hdr_fail(h, "a key or dtype that is not a quoted string");
	char q = *h->s++;
	size_t n = 0;
	while (h->s < h->end && *h->s != q) {
		if (*h->s == '\\' || n + 1 >= cap)
			return hdr_fail(h, "a string that is no key or dtype of a .npy header");
		buf[n++] = *h->s++;
	}
	if (h->s >= h->end)
		return hdr_fail(h, "");
	h->s++;
	buf[n] = 0;
	return 0;
}

static int hdr_shape(hdr_t *h)
{
	if (!hdr_accept(h, '('))
		return hdr_fail(h, "'shape' is not a tuple");
	int commas = 0;
	while (!hdr_accept(h, ')')) {
		hdr_ws(h);
		const char *d = h->s;
		int64_t v = 0;
		for (; h->s < h->end && *h->s >= '0' && *h->s <= '9'; h->s++) {
			if (v > (INT64_MAX - 9) / 10)
				return hdr_fail(h, "a dimension of 2^63 or more: the shape is too large");
			v = v * 10 + (*h->s - '0');
		}
		if (h->s == d)
			return hdr_fail(h, "'shape' holds something other than non-negative integers");
		if (h->s < h->end && *h->s == 'L') /* Python 2's long, in old files */
			h->s++;
		if (h->ndim == TENSOR_MAX_DIMS)
			return hdr_fail(h, "'shape' has more dimensions than this reader takes");
		h->shape[h->ndim++] = v;
		if (hdr_accept(h, ',')) {
			commas++;
			continue;
		}
		if (hdr_accept(h, ')'))
			break;
		return hdr_fail(h, "'shape' is not a tuple of integers");
	}
	if (h->ndim == 1 && !commas) /* (3) is the int 3 in Python */
		return hdr_fail(h, "'shape' is not a tuple (one dimension is written (n,))");
	return 0;
}

static int hdr_parse(hdr_t *h)
{
	static const char *const keys[3] = {"descr", "fortran_order", "shape"};
	if (!hdr_accept(h, '{'))
		return hdr_fail(h, "the header is not a dict");
	while (!hdr_accept(h, '}')) {
		char key[16];
		if (hdr_str(h, key, sizeof key) != 0)
			return -1;
		int k = 0;
		while (k < 3 && strcmp(key, keys[k]) != 0)
			k++;
		if (k == 3)
			return hdr_fail(h, "a key other than 'descr', 'fortran_order' and 'shape'");
		if (h->have[k])
			return hdr_fail(h, k == 0 ? "'descr' appears twice" : k == 1 ? "'fortran_order' appears twice"
									  : "'shape' appears twice");
		h->have[k] = 1;
		if (!hdr_accept(h, ':'))
			return hdr_fail(h, "no ':' after a key");
		if (k == 0 && hdr_str(h, h->descr, sizeof h->descr) != 0)
			return -1;
		if (k == 1) {
			hdr_ws(h);
			size_t left = (size_t)(h->end - h->s);
			if (left >= 4 && memcmp(h->s, "True", 4) == 0)
				h->fortran = 1;
			else if (!(left >= 5 && memcmp(h->s, "False", 5) == 0))
				return hdr_fail(h, "'fortran_order' is not True or False");
			h->s += h->fortran ? 4 : 5;
		}
		if (k == 2 && hdr_shape(h) != 0)
			return -1;
		if (!hdr_accept(h, ',')) {
			if (hdr_accept(h, '}'))
				break;
			return hdr_fail(h, "no ',' or '}' after a value");
		}
	}
	hdr_ws(h);
	if (h->s != h->end) {
		h->why = "text after the header dict";
		return -1;
	}
	for (int k = 0; k < 3; k++)
		if (!h->have[k]) {
			h->why = k == 0 ? "no 'descr' in the header" : k == 1 ? "no 'fortran_order' in the header"
									 : "no 'shape' in the header";
			return -1;
		}
	return 0;
}

int npy_read(const char *path, tensor_t *t, void **owned, char *err, size_t errcap)
{
	size_t len;
	unsigned char *buf = (unsigned char *)file_read_all(path, &len, err, errcap);
	*owned = NULL;
	memset(t, 0, sizeof *t);
	if (!buf)
		return -1;
	size_t hl, hstart;
	if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
		snprintf(err, errcap, "%s: not a .npy file (no \\x93NUMPY magic)", path);
		goto bad;
	}
	if (buf[6] == 1) {
		hl = buf[8] | (size_t)buf[9] << 8;
		hstart = 10;
	} else if ((buf[6] == 2 || buf[6] == 3) && len >= 12) {
		hl = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
		hstart = 12;
	} else {
		snprintf(err, errcap, "%s: unsupported .npy version %d.%d", path, buf[6], buf[7]);
		goto bad;
	}
	if (hl > len - hstart) {
		snprintf(err, errcap, "%s: truncated .npy header", path);
		goto bad;
	}
	hdr_t h = {.s = (const char *)buf + hstart, .end = (const char *)buf + hstart + hl};
	if (hdr_parse(&h) != 0) {
		snprintf(err, errcap, "%s: bad .npy header: %s", path, h.why);
		goto bad;
	}
	static const struct {
		const char *descr; /* after the byte-order character */
		dtype_t dt;
	} known[] = {{"u1", DTYPE_UINT8}, {"f2", DTYPE_FLOAT16}, {"f4", DTYPE_FLOAT32},
		     {"f8", DTYPE_FLOAT64}, {"i4", DTYPE_INT32},   {"i8", DTYPE_INT64}};
	const char *d = h.descr;
	int ok = 0, swap = 0;
	if (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strcmp(d + 1, known[i].descr) == 0) {
				t->dtype = known[i].dt;
				/* '|' is for one-byte types only; '>' is numpy's big-endian */
				ok = (d[0] == '|') == (dtype_size(t->dtype) == 1) || d[0] == '=';
				swap = d[0] == '>' && dtype_size(t->dtype) > 1;
			}
	if (!ok) {
		snprintf(err, errcap, "%s: dtype '%s' is not one of float16/32/64, int32/64, uint8", path, d);
		goto bad;
	}
	int fortran = h.fortran;
	t->ndim = h.ndim;
	memcpy(t->shape, h.shape, sizeof h.shape);
	int64_t n = tensor_shape_numel(t->shape, t->ndim, dtype_size(t->dtype));
	size_t off = hstart + hl;
	char sbuf[160];
	if (n < 0) {
		snprintf(err, errcap, "%s: shape %s is too large (its size overflows 64 bits)", path,
			 tensor_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
		goto bad;
	}
	if ((uint64_t)n * dtype_size(t->dtype) != len - off) {
		snprintf(err, errcap, "%s: data is %zu bytes, shape %s of %s needs %llu", path, len - off,
			 tensor_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), dtype_name(t->dtype),
			 (unsigned long long)n * dtype_size(t->dtype));
		goto bad;
	}
	t->data = buf + off;
	t->nbytes = len - off;
	size_t es = dtype_size(t->dtype);
	unsigned char *data = buf + off;
	if (swap) /* big-endian ('>f4', what np.save writes on such a machine or for .byteswap()) */
		for (size_t i = 0; i < t->nbytes; i += es)
			for (size_t a = 0, b = es - 1; a < b; a++, b--) {
				unsigned char c = data[i + a];
				data[i + a] = data[i + b];
				data[i + b] = c;
			}
	if (fortran && t->ndim > 1) {
		/* column-major (np.save of a transposed array, e.g. zeroshot_weights.T):
		 * copy into C order; element (i0..in-1) sits at sum i_k * prod_{j<k} d_j */
		unsigned char *c = xmalloc(t->nbytes ? t->nbytes : 1);
		int64_t idx[TENSOR_MAX_DIMS] = {0};
		for (int64_t e = 0; e < n; e++) {
			int64_t fo_off = 0, stride = 1;
			for (int k = 0; k < t->ndim; k++) {
				fo_off += idx[k] * stride;
				stride *= t->shape[k];
			}
			memcpy(c + (size_t)e * es, data + (size_t)fo_off * es, es);
			for (int k = t->ndim - 1; k >= 0 && ++idx[k] == t->shape[k]; k--)
				idx[k] = 0;
		}
		free(buf);
		t->data = c;
		*owned = c;
		return 0;
	}
	*owned = buf;
	return 0;
bad:
	free(buf);
	return -1;
}
