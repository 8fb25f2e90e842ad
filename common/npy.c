/* npy.c - NumPy .npy reader and writer (format: npy.h). */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

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

/* Find "'key':" in the header dict and return a pointer past it. */
static const char *dict_find(const char *h, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof pat, "'%s'", key);
	const char *p = strstr(h, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ')
		p++;
	return p;
}

int npy_read(const char *path, tensor_t *t, void **owned, char *err, size_t errcap)
{
	size_t len;
	unsigned char *buf = (unsigned char *)file_read_all(path, &len);
	*owned = NULL;
	memset(t, 0, sizeof *t);
	if (!buf) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
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
	char *h = malloc(hl + 1);
	if (!h)
		diag_fatal("out of memory");
	memcpy(h, buf + hstart, hl);
	h[hl] = 0;
	const char *d = dict_find(h, "descr"), *fo = dict_find(h, "fortran_order"), *sh = dict_find(h, "shape");
	static const struct {
		const char *descr; /* after the byte-order character */
		dtype_t dt;
	} known[] = {{"u1'", DTYPE_UINT8}, {"f2'", DTYPE_FLOAT16}, {"f4'", DTYPE_FLOAT32},
		     {"f8'", DTYPE_FLOAT64}, {"i4'", DTYPE_INT32},   {"i8'", DTYPE_INT64}};
	int ok = 0, swap = 0;
	if (d && d[0] == '\'' && (d[1] == '<' || d[1] == '>' || d[1] == '|' || d[1] == '='))
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strncmp(d + 2, known[i].descr, strlen(known[i].descr)) == 0) {
				t->dtype = known[i].dt;
				/* '|' is for one-byte types only; '>' is numpy's big-endian */
				ok = (d[1] == '|') == (dtype_size(t->dtype) == 1) || d[1] == '=';
				swap = d[1] == '>' && dtype_size(t->dtype) > 1;
			}
	if (!ok) {
		size_t dl = 0;
		while (d && d[dl] && d[dl] != ',' && d[dl] != '}' && dl < 40)
			dl++;
		snprintf(err, errcap, "%s: dtype %.*s is not one of float16/32/64, int32/64, uint8", path, (int)dl,
			 d ? d : "(none)");
		free(h);
		goto bad;
	}
	int fortran = fo && strncmp(fo, "True", 4) == 0;
	if (!fo || (!fortran && strncmp(fo, "False", 5) != 0)) {
		snprintf(err, errcap, "%s: no fortran_order in header", path);
		free(h);
		goto bad;
	}
	if (!sh || *sh != '(') {
		snprintf(err, errcap, "%s: no shape in header", path);
		free(h);
		goto bad;
	}
	const char *p = sh + 1;
	while (*p && *p != ')') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			break;
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || v < 0 || t->ndim >= TENSOR_MAX_DIMS) {
			snprintf(err, errcap, "%s: bad shape in header %.80s", path, h);
			free(h);
			goto bad;
		}
		t->shape[t->ndim++] = v;
		p = end;
	}
	free(h);
	int64_t n = tensor_shape_numel(t->shape, t->ndim, dtype_size(t->dtype));
	size_t off = hstart + hl;
	if (n < 0 || (uint64_t)n * dtype_size(t->dtype) != len - off) {
		snprintf(err, errcap, "%s: data is %zu bytes, shape needs %lld", path, len - off,
			 (long long)(n < 0 ? -1 : n * (int64_t)dtype_size(t->dtype)));
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
		unsigned char *c = malloc(t->nbytes ? t->nbytes : 1);
		if (!c)
			diag_fatal("out of memory");
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
