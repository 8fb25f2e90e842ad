/* json.c - JSON output of strings, numbers and msgpack objects. */
#define _POSIX_C_SOURCE 200809L
#include "stream/stream.h"

#include <string.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/util.h"

void json_put_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k = c < 0x80 ? 1 : utf8_next(s + i, n - i, &cp);
		if (k == 0) { /* not UTF-8: the text \xNN, as pk_strn writes it into records */
			fprintf(f, "\\\\x%02X", c);
			i++;
			continue;
		}
		if (k > 1) {
			/* C1 controls (U+0080..U+009F) are terminal escapes too (U+009B is CSI) */
			if (cp < 0xA0)
				fprintf(f, "\\u%04x", (unsigned)cp);
			else
				fwrite(s + i, 1, k, f);
			i += k;
			continue;
		}
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

void json_put_cstr(FILE *f, const char *s)
{
	json_put_str(f, s, strlen(s));
}

void json_put_double(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else
		fprintf(f, "%.9g", v);
}

/* Element i of an integer tensor, exactly (a float copy rounds int32 and
 * int64 beyond 2^24). Returns 0 for a floating dtype. */
static int int_elem(const tensor_t *t, int64_t i, int64_t *v)
{
	const char *p = (const char *)t->data + (size_t)i * dtype_size(t->dtype);
	switch (t->dtype) {
	case DTYPE_UINT8: *v = *(const uint8_t *)p; return 1;
	case DTYPE_BOOL: *v = *(const uint8_t *)p != 0; return 1;
	case DTYPE_INT8: *v = *(const int8_t *)p; return 1;
	case DTYPE_INT16: {
		int16_t x;
		memcpy(&x, p, sizeof x);
		*v = x;
		return 1;
	}
	case DTYPE_INT32: {
		int32_t x;
		memcpy(&x, p, sizeof x);
		*v = x;
		return 1;
	}
	case DTYPE_INT64: memcpy(v, p, sizeof *v); return 1;
	default: return 0;
	}
}

/* Integer tensors: min and max exact, the mean in double. */
static void put_int_summary(FILE *f, const tensor_t *t, int64_t n)
{
	if (!n)
		return;
	int64_t mn = INT64_MAX, mx = INT64_MIN, v;
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		int_elem(t, i, &v);
		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
		sum += (double)v;
	}
	fprintf(f, ",\"min\":%lld,\"max\":%lld,\"mean\":", (long long)mn, (long long)mx);
	json_put_double(f, sum / (double)n);
}

/* Floating tensors: summaries in blocks so a large tensor needs no full
 * float copy; NaN/Inf are counted, not summed. */
static void put_float_summary(FILE *f, const tensor_t *t, int64_t n)
{
	double mn = INFINITY, mx = -INFINITY, sum = 0;
	long long nonfinite = 0;
	float block[4096];
	for (int64_t i = 0; i < n; i += 4096) {
		size_t m = (size_t)(n - i < 4096 ? n - i : 4096);
		tensor_convert_to_f32(t->dtype, (const char *)t->data + (size_t)i * dtype_size(t->dtype), block, m);
		for (size_t j = 0; j < m; j++) {
			double v = block[j];
			if (!isfinite(v)) {
				nonfinite++;
				continue;
			}
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			sum += v;
		}
	}
	if (n > nonfinite) {
		fputs(",\"min\":", f);
		json_put_double(f, mn);
		fputs(",\"max\":", f);
		json_put_double(f, mx);
		fputs(",\"mean\":", f);
		json_put_double(f, sum / (double)(n - nonfinite));
	}
	if (nonfinite)
		fprintf(f, ",\"nonfinite\":%lld", nonfinite);
}

static void put_tensor(FILE *f, const tensor_t *t, json_tensor_mode_t mode)
{
	char sbuf[160];
	int64_t n = tensor_numel(t), v;
	fprintf(f, "{\"dtype\":\"%s\",\"shape\":%s", dtype_name(t->dtype),
		tensor_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
	int is_int = n > 0 && int_elem(t, 0, &v);
	if (is_int)
		put_int_summary(f, t, n);
	else
		put_float_summary(f, t, n);
	int64_t shown = mode == JSON_TENSOR_FULL ? n : (n < 8 ? n : 8);
	fputs(mode == JSON_TENSOR_FULL ? ",\"values\":[" : ",\"first\":[", f);
	float block[4096];
	for (int64_t i = 0; i < shown; i += 4096) {
		size_t m = (size_t)(shown - i < 4096 ? shown - i : 4096);
		if (!is_int)
			tensor_convert_to_f32(t->dtype, (const char *)t->data + (size_t)i * dtype_size(t->dtype), block, m);
		for (size_t j = 0; j < m; j++) {
			if (i + (int64_t)j)
				fputc(',', f);
			if (is_int) {
				int_elem(t, i + (int64_t)j, &v);
				fprintf(f, "%lld", (long long)v);
			} else {
				json_put_double(f, block[j]);
			}
		}
	}
	fputs("]}", f);
}

void json_put_object(FILE *f, const msgpack_object *o, json_tensor_mode_t mode)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", f); break;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%llu", (unsigned long long)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%lld", (long long)o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: json_put_double(f, o->via.f64); break;
	case MSGPACK_OBJECT_STR: json_put_str(f, o->via.str.ptr, o->via.str.size); break;
	case MSGPACK_OBJECT_BIN: fprintf(f, "{\"bin\":%u}", o->via.bin.size); break;
	case MSGPACK_OBJECT_EXT: fprintf(f, "{\"ext\":%d,\"bytes\":%u}", o->via.ext.type, o->via.ext.size); break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			json_put_object(f, &o->via.array.ptr[i], mode);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP: {
		tensor_t t;
		char err[256];
		if (obj_map_get(o, "dtype") && obj_to_tensor(o, &t, err, sizeof err) == 0) {
			put_tensor(f, &t, mode);
			break;
		}
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (i)
				fputc(',', f);
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (k->type == MSGPACK_OBJECT_STR) {
				json_put_str(f, k->via.str.ptr, k->via.str.size);
			} else { /* JSON keys are strings: quote the key's JSON form */
				char *tmp = NULL;
				size_t tn = 0;
				FILE *mf = open_memstream(&tmp, &tn);
				if (!mf)
					diag_fatal("out of memory");
				json_put_object(mf, k, mode);
				fclose(mf);
				json_put_str(f, tmp, tn);
				free(tmp);
			}
			fputc(':', f);
			json_put_object(f, &o->via.map.ptr[i].val, mode);
		}
		fputc('}', f);
		break;
	}
	}
}

void jw_init(jw_t *w, FILE *f)
{
	memset(w, 0, sizeof *w);
	w->f = f;
}

/* The separator and key of the next entry at the current level. */
static void jw_entry(jw_t *w, const char *key)
{
	if (w->n[w->depth]++)
		fputc(',', w->f);
	if (w->brk) {
		fputs(w->brk, w->f);
		w->brk = NULL;
	}
	if (w->key) {
		json_put_str(w->f, w->key, w->keylen);
		fputc(':', w->f);
		w->key = NULL;
	} else if (key) {
		json_put_cstr(w->f, key);
		fputc(':', w->f);
	}
}

static void jw_open(jw_t *w, const char *key, char open, char close)
{
	jw_entry(w, key);
	if (w->depth + 1 >= JW_MAX_DEPTH)
		diag_fatal("JSON nested deeper than %d levels", JW_MAX_DEPTH);
	fputc(open, w->f);
	w->depth++;
	w->n[w->depth] = 0;
	w->close[w->depth] = close;
}

void jw_obj(jw_t *w, const char *key)
{
	jw_open(w, key, '{', '}');
}

void jw_arr(jw_t *w, const char *key)
{
	jw_open(w, key, '[', ']');
}

void jw_end(jw_t *w)
{
	if (w->depth == 0)
		diag_fatal("JSON writer: jw_end with nothing open");
	fputc(w->close[w->depth], w->f);
	w->depth--;
}

void jw_close(jw_t *w)
{
	while (w->depth)
		jw_end(w);
	fputc('\n', w->f);
}

void jw_int(jw_t *w, const char *key, int64_t v)
{
	jw_entry(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void jw_double(jw_t *w, const char *key, double v)
{
	jw_entry(w, key);
	json_put_double(w->f, v);
}

void jw_bool(jw_t *w, const char *key, int v)
{
	jw_entry(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(jw_t *w, const char *key)
{
	jw_entry(w, key);
	fputs("null", w->f);
}

void jw_str(jw_t *w, const char *key, const char *s)
{
	jw_entry(w, key);
	if (s)
		json_put_cstr(w->f, s);
	else
		fputs("null", w->f);
}

void jw_strn(jw_t *w, const char *key, const char *s, size_t n)
{
	jw_entry(w, key);
	json_put_str(w->f, s, n);
}

void jw_ratio(jw_t *w, const char *key, double num, double den)
{
	if (den != 0)
		jw_double(w, key, num / den);
	else
		jw_null(w, key);
}

void jw_keyn(jw_t *w, const char *key, size_t n)
{
	w->key = key;
	w->keylen = n;
}

FILE *jw_value(jw_t *w, const char *key)
{
	jw_entry(w, key);
	return w->f;
}

void jw_break(jw_t *w, const char *ws)
{
	w->brk = ws;
}
