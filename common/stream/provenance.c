/* provenance.c - header and stats records kept for reports (see stream/stream.h). */
#define _POSIX_C_SOURCE 200809L
#include "stream/stream.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

enum {
	PROV_LIST_MAX = 32 /* longer lists are summarised by their length */
};

void prov_init(prov_t *p)
{
	memset(p, 0, sizeof *p);
}

static void recs_free(prov_rec_t *v, int n)
{
	for (int i = 0; i < n; i++) {
		msgpack_unpacked_destroy(&v[i].obj);
		free(v[i].raw);
	}
	free(v);
}

void prov_free(prov_t *p)
{
	recs_free(p->headers, p->nheaders);
	recs_free(p->stats, p->nstats);
	strmap_free(&p->seen_headers.digests);
	strmap_free(&p->seen_stats.digests);
	prov_init(p);
}

/* Add the record's bytes to the set (by the first 8 bytes of their SHA-256):
 * 1 when it was new, 0 when seen, -1 when the set is full. */
static int seen_add(prov_seen_t *s, const unsigned char *b, size_t n)
{
	sha256_t st;
	uint8_t d[32];
	sha256_init(&st);
	sha256_update(&st, b, n);
	sha256_final(&st, d);
	if (strmap_findn(&s->digests, d, 8))
		return 0;
	if (s->digests.n >= PROV_SEEN_MAX)
		return -1;
	strmap_putn(&s->digests, d, 8, 1);
	return 1;
}

static void recs_add(prov_rec_t **v, int *n, int64_t *more, prov_seen_t *seen, const record_t *rec)
{
	int fresh = seen_add(seen, rec->raw, rec->raw_len);
	if (fresh < 0) /* too many to tell apart: counted as new */
		seen->full = 1;
	if (fresh == 0) /* a repeat (two distinct records share a 64-bit SHA-256 prefix about never) */
		return;
	if (*n == PROV_KEEP) {
		(*more)++;
		return;
	}
	*v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
	prov_rec_t *r = &(*v)[*n];
	r->raw = xmalloc(rec->raw_len ? rec->raw_len : 1);
	memcpy(r->raw, rec->raw, rec->raw_len);
	r->len = rec->raw_len;
	msgpack_unpacked_init(&r->obj);
	size_t off = 0;
	/* the bytes were already unpacked once by the reader: this cannot fail */
	if (msgpack_unpack_next(&r->obj, (const char *)r->raw, r->len, &off) != MSGPACK_UNPACK_SUCCESS)
		diag_fatal("internal: a record copy does not unpack");
	(*n)++;
}

int prov_add(prov_t *p, const record_t *rec)
{
	if (rec_is(rec, "header"))
		recs_add(&p->headers, &p->nheaders, &p->more_headers, &p->seen_headers, rec);
	else if (rec_is(rec, "stats"))
		recs_add(&p->stats, &p->nstats, &p->more_stats, &p->seen_stats, rec);
	else
		return 0;
	return 1;
}

static int is_tensor(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_MAP && obj_map_get(o, "dtype") && obj_map_get(o, "data");
}

/* A msgpack value as an entry of w, long lists summarised as {"count": N}. */
static void put_json_value(jw_t *w, const char *key, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_ARRAY:
		if (o->via.array.size > PROV_LIST_MAX) {
			jw_obj(w, key);
			jw_int(w, "count", o->via.array.size);
			jw_end(w);
			return;
		}
		jw_arr(w, key);
		for (uint32_t i = 0; i < o->via.array.size; i++)
			put_json_value(w, NULL, &o->via.array.ptr[i]);
		jw_end(w);
		return;
	case MSGPACK_OBJECT_MAP:
		if (is_tensor(o))
			break;
		jw_obj(w, key);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR)
				jw_keyn(w, kv->key.via.str.ptr, kv->key.via.str.size);
			else
				jw_keyn(w, "?", 1);
			put_json_value(w, NULL, &kv->val);
		}
		jw_end(w);
		return;
	default: break;
	}
	json_put_object(jw_value(w, key), o, JSON_TENSOR_SUMMARY);
}

void prov_put_text_value(FILE *f, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", f); return;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); return;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: /* a report shows no NaN/Inf, echoed ones neither (JSON: null) */
		if (isfinite(o->via.f64))
			fprintf(f, "%.6g", o->via.f64);
		else
			fputs("(non-finite)", f);
		return;
	case MSGPACK_OBJECT_STR: /* one header, one line of text (a CSV comment, a report line) */
		diag_put_text(f, o->via.str.ptr, o->via.str.size);
		return;
	case MSGPACK_OBJECT_BIN: fprintf(f, "<%u bytes>", o->via.bin.size); return;
	case MSGPACK_OBJECT_ARRAY:
		if (o->via.array.size > PROV_LIST_MAX) {
			fprintf(f, "[%u items]", o->via.array.size);
			return;
		}
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			prov_put_text_value(f, &o->via.array.ptr[i]);
		}
		fputc(']', f);
		return;
	case MSGPACK_OBJECT_MAP:
		if (is_tensor(o)) {
			fputs("<tensor>", f);
			return;
		}
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (i)
				fputc(',', f);
			prov_put_text_value(f, &o->via.map.ptr[i].key);
			fputc('=', f);
			prov_put_text_value(f, &o->via.map.ptr[i].val);
		}
		fputc('}', f);
		return;
	default: fputs("?", f); return;
	}
}

static void put_argv(FILE *f, const msgpack_object *a)
{
	if (a->type != MSGPACK_OBJECT_ARRAY) {
		prov_put_text_value(f, a);
		return;
	}
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *s = &a->via.array.ptr[i];
		if (i)
			fputc(' ', f);
		int plain = s->type == MSGPACK_OBJECT_STR && s->via.str.size > 0, ctl = 0;
		for (uint32_t j = 0; plain && j < s->via.str.size;
		     j += (uint32_t)diag_char_len(s->via.str.ptr + j, s->via.str.size - j))
			plain = strchr(" \t\n'\"\\$`*?|&;<>()", s->via.str.ptr[j]) == NULL &&
				!diag_ctl_len(s->via.str.ptr + j, s->via.str.size - j);
		if (plain || s->type != MSGPACK_OBJECT_STR) {
			prov_put_text_value(f, s);
			continue;
		}
		/* shell quoting so the line can be pasted back: bash's $'...'
		 * where a control character would break the line */
		for (uint32_t j = 0; j < s->via.str.size;
		     j += (uint32_t)diag_char_len(s->via.str.ptr + j, s->via.str.size - j))
			ctl |= diag_ctl_len(s->via.str.ptr + j, s->via.str.size - j) != 0;
		fputs(ctl ? "$'" : "'", f);
		for (uint32_t j = 0; j < s->via.str.size;) {
			unsigned char c = (unsigned char)s->via.str.ptr[j];
			size_t k = diag_ctl_len(s->via.str.ptr + j, s->via.str.size - j);
			if (k) {
				diag_put_ctl(f, s->via.str.ptr + j, k);
				j += (uint32_t)k;
				continue;
			}
			k = diag_char_len(s->via.str.ptr + j, s->via.str.size - j);
			if (c == '\'')
				fputs(ctl ? "\\'" : "'\\''", f);
			else if (ctl && c == '\\')
				fputs("\\\\", f);
			else
				fwrite(s->via.str.ptr + j, 1, k, f);
			j += (uint32_t)k;
		}
		fputc('\'', f);
	}
}

/* "producer version: key=value ..." for one record (type/producer/version/argv skipped) */
static void print_text_rec(FILE *f, const msgpack_object *m, const char *indent, const char *lead)
{
	const msgpack_object *prod = obj_map_get(m, "producer"), *ver = obj_map_get(m, "version"),
			     *argv = obj_map_get(m, "argv");
	fprintf(f, "%s%s", indent, lead);
	if (prod)
		prov_put_text_value(f, prod);
	else
		fputs("?", f);
	if (ver) {
		fputc(' ', f);
		prov_put_text_value(f, ver);
	}
	fputc(':', f);
	for (uint32_t j = 0; j < m->via.map.size; j++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[j];
		if (obj_str_eq(&kv->key, "type") || obj_str_eq(&kv->key, "producer") || obj_str_eq(&kv->key, "version") ||
		    obj_str_eq(&kv->key, "argv"))
			continue;
		fputc(' ', f);
		prov_put_text_value(f, &kv->key);
		fputc('=', f);
		prov_put_text_value(f, &kv->val);
	}
	if (argv) {
		fputs(" | ", f);
		put_argv(f, argv);
	}
	fputc('\n', f);
}

/* "... and N more KIND records, not shown" when some were not kept */
static void print_more(FILE *f, const char *indent, int64_t more, const prov_seen_t *seen, const char *kind)
{
	if (!more)
		return;
	fprintf(f, "%s... and %s%lld more distinct %s record%s, not shown (the first %d are)", indent,
		seen->full ? "up to " : "", (long long)more, kind, more == 1 ? "" : "s", PROV_KEEP);
	if (seen->full)
		fprintf(f, " (past %d distinct ones a repeat is not told apart)", PROV_SEEN_MAX);
	fputc('\n', f);
}

void prov_print_text(FILE *f, const prov_t *p, const char *indent)
{
	if (!p->nheaders)
		fprintf(f, "%s(no header records)\n", indent);
	for (int i = 0; i < p->nheaders; i++)
		print_text_rec(f, &p->headers[i].obj.data, indent, "");
	print_more(f, indent, p->more_headers, &p->seen_headers, "header");
	for (int i = 0; i < p->nstats; i++)
		print_text_rec(f, &p->stats[i].obj.data, indent, "stats of ");
	print_more(f, indent, p->more_stats, &p->seen_stats, "stats");
}

static void json_list(jw_t *w, const char *key, const prov_rec_t *v, int n)
{
	jw_arr(w, key);
	for (int i = 0; i < n; i++)
		put_json_value(w, NULL, &v[i].obj.data);
	jw_end(w);
}

void prov_json(jw_t *w, const char *key, const prov_t *p)
{
	jw_obj(w, key);
	json_list(w, "headers", p->headers, p->nheaders);
	json_list(w, "stats", p->stats, p->nstats);
	/* how many distinct ones past the kept ones were left out ("up to"
	 * when there were too many to tell repeats apart) */
	jw_int(w, "headers_not_shown", p->more_headers);
	jw_int(w, "stats_not_shown", p->more_stats);
	jw_bool(w, "not_shown_exact", !(p->seen_headers.full || p->seen_stats.full));
	jw_end(w);
}
