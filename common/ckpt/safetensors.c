/* safetensors.c - safetensors files.
 *
 * Layout, byte by byte:
 *   0..7    u64 LE N, the header length (at most 100 MiB, as the library)
 *   8..8+N  UTF-8 JSON object, maybe padded with trailing spaces:
 *             {"__metadata__": {str: str, ...},            (optional, skipped)
 *              NAME: {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]},
 *              ...}
 *   8+N..   the data; offsets are relative to its start.
 * Checked as the reference implementation does: the tensors' [begin, end)
 * ranges, sorted, tile the data exactly (no gap, no overlap, nothing left
 * over), and end - begin == prod(shape) * itemsize. dtypes read: F64 F32 F16
 * BF16 I64 I32 I16 I8 U8 BOOL (U16/U32/U64/F8 have no tensor_t dtype and are
 * refused by name). Tensors are listed in header order.
 */
#include <stdlib.h>
#include <string.h>

#include "ckpt/internal.h"

enum {
	JSON_MAX_DEPTH = 64
};

typedef struct {
	const char *p, *end;
	const char *start; /* for offsets in messages */
	char *err;
	size_t cap;
} js_t;

typedef struct {
	char *name;
	size_t name_len;
	dtype_t dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	uint64_t begin, end;
} st_entry_t;

static int js_fail(js_t *j, const char *what)
{
	err_set(j->err, j->cap, "safetensors header byte %zu: %s", (size_t)(j->p - j->start), what);
	return -1;
}

static void ws(js_t *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int expect(js_t *j, char ch)
{
	ws(j);
	if (j->p >= j->end || *j->p != ch) {
		char msg[32] = "expected '?'";
		msg[10] = ch;
		return js_fail(j, msg);
	}
	j->p++;
	return 0;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
			     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
			     : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
						      : 16u;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A JSON string, decoded into a malloc'd buffer (*out, *len) when out is
 * non-NULL, else skipped. Escapes never lengthen the text, so the raw length
 * bounds the buffer. */
static int string(js_t *j, char **out, size_t *len)
{
	ws(j);
	if (j->p >= j->end || *j->p != '"')
		return js_fail(j, "expected a string");
	const char *s = ++j->p;
	const char *q = s;
	while (q < j->end && *q != '"') {
		if ((unsigned char)*q < 0x20)
			return js_fail(j, "control character in a string");
		q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
	}
	if (q >= j->end)
		return js_fail(j, "unterminated string");
	char *o = NULL;
	size_t n = 0;
	if (out) {
		o = malloc((size_t)(q - s) + 1);
		if (!o)
			return js_fail(j, "out of memory");
	}
	while (j->p < q) {
		char c = *j->p++;
		if (c != '\\') {
			if (o)
				o[n] = c;
			n++;
			continue;
		}
		char e = *j->p++;
		const char *simple = "\"\\/bfnrt", *val = "\"\\/\b\f\n\r\t";
		const char *hit = strchr(simple, e);
		if (e && hit) {
			if (o)
				o[n] = val[hit - simple];
			n++;
			continue;
		}
		unsigned cp, lo;
		if (e != 'u' || q - j->p < 4 || hex4(j->p, &cp) != 0) {
			free(o);
			return js_fail(j, "bad escape in a string");
		}
		j->p += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && q - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' &&
		    hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			j->p += 6;
		}
		char tmp[4];
		size_t k = put_utf8(tmp, cp);
		if (o)
			memcpy(o + n, tmp, k);
		n += k;
	}
	j->p = q + 1;
	if (o) {
		o[n] = 0;
		*out = o;
		*len = n;
	}
	return 0;
}

/* A non-negative JSON integer that fits int64; fractions and exponents refused. */
static int uint_value(js_t *j, int64_t *v)
{
	ws(j);
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return js_fail(j, "expected a non-negative integer");
	int64_t x = 0;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *j->p - '0', &x))
			return js_fail(j, "integer too large");
		j->p++;
	}
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return js_fail(j, "expected an integer, not a fraction");
	*v = x;
	return 0;
}

/* [int, ...] with at most max items. */
static int int_array(js_t *j, int64_t *out, int max, int *n)
{
	if (expect(j, '[') != 0)
		return -1;
	*n = 0;
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (*n >= max)
			return js_fail(j, "array too long");
		if (uint_value(j, &out[(*n)++]) != 0)
			return -1;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		return expect(j, ']');
	}
}

static int skip_value(js_t *j, int depth)
{
	ws(j);
	if (depth > JSON_MAX_DEPTH)
		return js_fail(j, "nested too deeply");
	if (j->p >= j->end)
		return js_fail(j, "value expected");
	char c = *j->p;
	if (c == '"')
		return string(j, NULL, NULL);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (c == '{' && (string(j, NULL, NULL) != 0 || expect(j, ':') != 0))
				return -1;
			if (skip_value(j, depth + 1) != 0)
				return -1;
			ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			return expect(j, close);
		}
	}
	const char *lits[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(lits[i]);
		if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lits[i], l) == 0) {
			j->p += l;
			return 0;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		j->p++;
		while (j->p < j->end && strchr("0123456789+-.eE", *j->p))
			j->p++;
		return 0;
	}
	return js_fail(j, "unexpected character");
}

static const struct {
	const char *name;
	dtype_t dtype;
} st_dtypes[] = {
	{"F64", DTYPE_FLOAT64}, {"F32", DTYPE_FLOAT32}, {"F16", DTYPE_FLOAT16}, {"BF16", DTYPE_BFLOAT16},
	{"I64", DTYPE_INT64},   {"I32", DTYPE_INT32},   {"I16", DTYPE_INT16},   {"I8", DTYPE_INT8},
	{"U8", DTYPE_UINT8},    {"BOOL", DTYPE_BOOL},
};

/* {"dtype": .., "shape": [..], "data_offsets": [b, e]} for tensor e->name. */
static int tensor_info(js_t *j, st_entry_t *e)
{
	char nm[128];
	ckpt_printable(nm, sizeof nm, e->name, e->name_len);
	int have_dtype = 0, have_shape = 0, have_off = 0;
	if (expect(j, '{') != 0)
		return -1;
	ws(j);
	if (j->p < j->end && *j->p == '}')
		return js_fail(j, "tensor entry without dtype, shape, data_offsets");
	for (;;) {
		char *k = NULL;
		size_t kl = 0;
		if (string(j, &k, &kl) != 0 || expect(j, ':') != 0) {
			free(k);
			return -1;
		}
		int r;
		if (strcmp(k, "dtype") == 0) {
			char *d = NULL;
			size_t dl;
			r = string(j, &d, &dl);
			if (r == 0) {
				r = -1;
				for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
					if (strcmp(d, st_dtypes[i].name) == 0)
						e->dtype = st_dtypes[i].dtype, r = 0;
				if (r != 0) {
					char dn[32];
					ckpt_printable(dn, sizeof dn, d, dl);
					err_set(j->err, j->cap, "safetensors tensor '%s': dtype %s is not supported", nm, dn);
				}
				free(d);
			}
			have_dtype = 1;
		} else if (strcmp(k, "shape") == 0) {
			r = int_array(j, e->shape, TENSOR_MAX_DIMS, &e->ndim);
			have_shape = 1;
		} else if (strcmp(k, "data_offsets") == 0) {
			int64_t off[2];
			int no = 0;
			r = int_array(j, off, 2, &no);
			if (r == 0 && no != 2)
				r = js_fail(j, "data_offsets needs two integers");
			if (r == 0) {
				e->begin = (uint64_t)off[0];
				e->end = (uint64_t)off[1];
			}
			have_off = 1;
		} else {
			r = skip_value(j, 1);
		}
		free(k);
		if (r != 0)
			return -1;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (expect(j, '}') != 0)
			return -1;
		break;
	}
	if (!have_dtype || !have_shape || !have_off) {
		err_set(j->err, j->cap, "safetensors tensor '%s': missing %s", nm,
			  !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
		return -1;
	}
	return 0;
}

int ckpt_safetensors_sniff(const uint8_t *p, size_t n)
{
	if (n < 10)
		return 0;
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | p[i];
	return hl >= 2 && p[8] == '{'; /* a length past the end is reported by the reader */
}

typedef struct {
	uint64_t begin, end;
	size_t idx;
} range_t;

static int cmp_begin(const void *a, const void *b)
{
	const range_t *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

int ckpt_read_safetensors(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap)
{
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | p[i];
	if (hl > n - 8) {
		err_set(err, cap, "safetensors header length %llu runs past the end of the %zu-byte file",
			  (unsigned long long)hl, n);
		return -1;
	}
	if (hl > CKPT_MAX_SAFETENSORS_HEADER) {
		err_set(err, cap, "safetensors header of %llu bytes (limit %d)", (unsigned long long)hl,
			  CKPT_MAX_SAFETENSORS_HEADER);
		return -1;
	}
	const uint8_t *data = p + 8 + hl;
	uint64_t dlen = n - 8 - hl;
	js_t j = {(const char *)p + 8, (const char *)p + 8 + hl, (const char *)p + 8, err, cap};
	st_entry_t *es = NULL;
	size_t ne = 0, capn = 0;
	range_t *order = NULL;
	int rc = -1;
	if (expect(&j, '{') != 0)
		goto out;
	ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
	} else {
		for (;;) {
			char *name = NULL;
			size_t nl = 0;
			if (string(&j, &name, &nl) != 0 || expect(&j, ':') != 0) {
				free(name);
				goto out;
			}
			if (strcmp(name, "__metadata__") == 0) {
				free(name);
				if (skip_value(&j, 1) != 0)
					goto out;
			} else {
				if (ne >= CKPT_MAX_TENSORS) {
					free(name);
					err_set(err, cap, "safetensors: more than %d tensors", CKPT_MAX_TENSORS);
					goto out;
				}
				if (ne == capn) {
					size_t nc = capn ? capn * 2 : 64;
					st_entry_t *ns = realloc(es, nc * sizeof *ns);
					if (!ns) {
						free(name);
						err_set(err, cap, "out of memory");
						goto out;
					}
					es = ns;
					capn = nc;
				}
				st_entry_t *e = &es[ne++];
				memset(e, 0, sizeof *e);
				e->name = name;
				e->name_len = nl;
				if (tensor_info(&j, e) != 0)
					goto out;
			}
			ws(&j);
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				continue;
			}
			if (expect(&j, '}') != 0)
				goto out;
			break;
		}
	}
	ws(&j);
	if (j.p != j.end) {
		js_fail(&j, "text after the header object");
		goto out;
	}
	/* the ranges must tile the data exactly, and match the shapes */
	order = malloc((ne ? ne : 1) * sizeof *order);
	if (!order) {
		err_set(err, cap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < ne; i++) {
		st_entry_t *e = &es[i];
		char nm[128];
		ckpt_printable(nm, sizeof nm, e->name, e->name_len);
		size_t isz = dtype_size(e->dtype);
		int64_t numel = tensor_shape_numel(e->shape, e->ndim, isz);
		if (numel < 0) {
			err_set(err, cap, "safetensors tensor '%s': shape too large", nm);
			goto out;
		}
		if (e->begin > e->end || e->end > dlen) {
			err_set(err, cap,
				  "safetensors tensor '%s': data_offsets [%llu, %llu) outside the %llu data bytes", nm,
				  (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)dlen);
			goto out;
		}
		if (e->end - e->begin != (uint64_t)numel * isz) {
			err_set(err, cap, "safetensors tensor '%s': %llu bytes for a shape of %lld %s elements", nm,
				  (unsigned long long)(e->end - e->begin), (long long)numel, dtype_name(e->dtype));
			goto out;
		}
		order[i] = (range_t){e->begin, e->end, i};
	}
	qsort(order, ne, sizeof *order, cmp_begin);
	uint64_t at = 0;
	for (size_t k = 0; k < ne; k++) {
		const st_entry_t *e = &es[order[k].idx];
		if (e->begin != at) {
			char nm[128];
			ckpt_printable(nm, sizeof nm, e->name, e->name_len);
			err_set(err, cap, "safetensors tensor '%s': data at byte %llu %s the previous tensor's end %llu",
				  nm, (unsigned long long)e->begin, e->begin < at ? "overlaps" : "leaves a gap after",
				  (unsigned long long)at);
			goto out;
		}
		at = e->end;
	}
	if (at != dlen) {
		err_set(err, cap, "safetensors: tensors cover %llu of the %llu data bytes", (unsigned long long)at,
			  (unsigned long long)dlen);
		goto out;
	}
	ckpt_table_set_format(c, CKPT_SAFETENSORS);
	for (size_t i = 0; i < ne; i++) {
		st_entry_t *e = &es[i];
		tensor_t t;
		memset(&t, 0, sizeof t);
		t.dtype = e->dtype;
		t.ndim = e->ndim;
		memcpy(t.shape, e->shape, sizeof e->shape);
		int64_t stride[TENSOR_MAX_DIMS];
		int64_t s = 1;
		for (int d = e->ndim - 1; d >= 0; d--) {
			stride[d] = s;
			s *= e->shape[d];
		}
		if (ckpt_table_view(c, &t, data + e->begin, 0, stride, err, cap) != 0 ||
		    ckpt_table_add(c, e->name, e->name_len, &t, err, cap) != 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < ne; i++)
		free(es[i].name);
	free(es);
	free(order);
	return rc;
}
