/* builder.c - records built by a helper that counts their keys.
 *
 * A msgpack map starts with its size, so a writer that packs pairs straight
 * out must know the count first: counted by hand, a miscount corrupts every
 * later record of the stream without a word. Here the pairs are packed into
 * the builder's buffer and each map's header is a mark, filled in with the
 * keys counted when the record is written. Large tensor data is not copied:
 * a mark points at the caller's bytes, written from there at rec_end.
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/stream.h"

#include <stdlib.h>
#include <string.h>

enum {
	RB_DEPTH = 4,          /* nested maps: a record, a tensor in it */
	RB_REF_MIN = 4096,     /* bin bodies from this size are written from the caller's memory */
	RB_LINEAR_KEYS = 32    /* past this, a map's keys are told apart by a hash set */
};

typedef struct {
	size_t off;        /* where in buf the mark's bytes go */
	const void *ref;   /* NULL: a map header, else external bytes */
	size_t n;          /* map: keys counted; ref: its length */
} rb_mark_t;

typedef struct {
	size_t off, len; /* a key's bytes in buf */
} rb_key_t;

typedef struct {
	size_t mark;  /* the map's header mark */
	size_t key0;  /* its first key in key[] */
	int hashed;   /* its keys are in seen (the record's map only) */
} rb_level_t;

struct rec_builder {
	rec_writer_t *w;
	msgpack_packer pk; /* packs into buf */
	unsigned char *buf;
	size_t len, cap;
	rb_mark_t *mark;
	size_t nmark, capmark;
	rb_key_t *key;
	size_t nkey, capkey;
	rb_level_t level[RB_DEPTH];
	int depth; /* open maps; 0: no record begun */
	strmap_t seen;
};

static void buf_put(rec_builder_t *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (n > cap - b->len)
			cap *= 2;
		b->buf = xrealloc(b->buf, cap);
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static int rb_pk_write(void *data, const char *p, size_t n)
{
	buf_put(data, p, n);
	return 0;
}

static void add_mark(rec_builder_t *b, const void *ref, size_t n)
{
	if (b->nmark == b->capmark) {
		b->capmark = b->capmark ? 2 * b->capmark : 8;
		b->mark = xrealloc(b->mark, b->capmark * sizeof *b->mark);
	}
	b->mark[b->nmark++] = (rb_mark_t){.off = b->len, .ref = ref, .n = n};
}

rec_builder_t *rec_builder_new(rec_writer_t *w)
{
	rec_builder_t *b = xcalloc(1, sizeof *b);
	b->w = w;
	msgpack_packer_init(&b->pk, b, rb_pk_write);
	strmap_init(&b->seen);
	return b;
}

void rec_builder_free(rec_builder_t *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->mark);
	free(b->key);
	strmap_free(&b->seen);
	free(b);
}

static void map_begin(rec_builder_t *b)
{
	if (b->depth == RB_DEPTH)
		diag_fatal("internal: records nest at most %d maps", RB_DEPTH);
	b->level[b->depth++] = (rb_level_t){.mark = b->nmark, .key0 = b->nkey};
	add_mark(b, NULL, 0);
}

static void map_end(rec_builder_t *b)
{
	rb_level_t *l = &b->level[--b->depth];
	b->mark[l->mark].n = b->nkey - l->key0;
	b->nkey = l->key0;
}

static void need_record(const rec_builder_t *b, const char *key)
{
	if (b->depth == 0)
		diag_fatal("internal: key \"%s\" outside a record (rec_begin first)", diag_str(key));
}

/* Pack a key of the open map, refusing one it has already: a reader takes
 * the first of two, Python's msgpack the last, ours refuses the record. */
static void put_key(rec_builder_t *b, const char *k, size_t n)
{
	rb_level_t *l = &b->level[b->depth - 1];
	size_t nkeys = b->nkey - l->key0;
	int dup = 0;
	if (!l->hashed && nkeys >= RB_LINEAR_KEYS && b->depth == 1) {
		/* a record copying a large one's keys: a linear search per key
		 * would take quadratic time */
		strmap_free(&b->seen);
		strmap_init(&b->seen);
		for (size_t i = l->key0; i < b->nkey; i++)
			strmap_putn(&b->seen, b->buf + b->key[i].off, b->key[i].len, 0);
		l->hashed = 1;
	}
	if (l->hashed) {
		dup = strmap_putn(&b->seen, k, n, 0);
	} else {
		for (size_t i = l->key0; i < b->nkey && !dup; i++)
			dup = b->key[i].len == n && memcmp(b->buf + b->key[i].off, k, n) == 0;
	}
	if (dup) {
		char esc[256];
		diag_fatal("internal: record key \"%s\" written twice (the reader would refuse the record)",
			   diag_escape(esc, sizeof esc, k, n));
	}
	msgpack_pack_str(&b->pk, n);
	msgpack_pack_str_body(&b->pk, k, n);
	if (b->nkey == b->capkey) {
		b->capkey = b->capkey ? 2 * b->capkey : 32;
		b->key = xrealloc(b->key, b->capkey * sizeof *b->key);
	}
	b->key[b->nkey++] = (rb_key_t){.off = b->len - n, .len = n};
}

static void key(rec_builder_t *b, const char *k)
{
	need_record(b, k);
	put_key(b, k, strlen(k));
}

void rec_builder_begin(rec_builder_t *b, const char *type)
{
	if (b->depth)
		diag_fatal("internal: a record begun before the last one ended");
	b->len = b->nmark = b->nkey = 0;
	if (b->seen.n) {
		strmap_free(&b->seen);
		strmap_init(&b->seen);
	}
	map_begin(b);
	rb_str(b, "type", type);
}

rec_builder_t *rec_begin(rec_writer_t *w, const char *type)
{
	rec_builder_t *b = rec_writer_builder(w);
	rec_builder_begin(b, type);
	return b;
}

rec_builder_t *rec_begin_header(rec_writer_t *w, int argc, char **argv)
{
	rec_builder_t *b = rec_begin(w, "header");
	rb_str(b, "producer", diag_prog());
	rb_str(b, "version", PROJECT_VERSION);
	rb_strs(b, "argv", (const char *const *)argv, (size_t)argc);
	return b;
}

void rec_end(rec_builder_t *b)
{
	if (b->depth != 1)
		diag_fatal("internal: rec_end %s", b->depth ? "inside a nested map" : "without rec_begin");
	map_end(b);
	msgpack_packer *pk = rec_writer_pk(b->w);
	size_t pos = 0;
	for (size_t i = 0; i < b->nmark; i++) {
		const rb_mark_t *m = &b->mark[i];
		rec_write_raw(b->w, b->buf + pos, m->off - pos);
		pos = m->off;
		if (m->ref)
			rec_write_raw(b->w, m->ref, m->n);
		else if (m->n > UINT32_MAX)
			diag_fatal("internal: a map of %zu keys exceeds msgpack's map32", m->n);
		else
			msgpack_pack_map(pk, m->n);
	}
	rec_write_raw(b->w, b->buf + pos, b->len - pos);
	rec_writer_end_record(b->w);
	/* a large record's buffer is not kept for the next one */
	if (b->cap > ((size_t)1 << 20)) {
		free(b->buf);
		b->buf = NULL;
		b->cap = 0;
	}
	b->len = b->nmark = b->nkey = 0;
}

void rb_str(rec_builder_t *b, const char *k, const char *val)
{
	key(b, k);
	if (val)
		pk_str(&b->pk, val);
	else
		msgpack_pack_nil(&b->pk);
}

void rb_strn(rec_builder_t *b, const char *k, const char *val, size_t n)
{
	key(b, k);
	pk_strn(&b->pk, val, n);
}

void rb_int(rec_builder_t *b, const char *k, int64_t v)
{
	key(b, k);
	msgpack_pack_int64(&b->pk, v);
}

void rb_double(rec_builder_t *b, const char *k, double v)
{
	key(b, k);
	msgpack_pack_double(&b->pk, v);
}

void rb_bool(rec_builder_t *b, const char *k, int v)
{
	key(b, k);
	if (v)
		msgpack_pack_true(&b->pk);
	else
		msgpack_pack_false(&b->pk);
}

void rb_ints(rec_builder_t *b, const char *k, const int64_t *v, size_t n)
{
	key(b, k);
	msgpack_pack_array(&b->pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_int64(&b->pk, v[i]);
}

void rb_floats(rec_builder_t *b, const char *k, const float *v, size_t n)
{
	key(b, k);
	msgpack_pack_array(&b->pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_float(&b->pk, v[i]);
}

void rb_strs(rec_builder_t *b, const char *k, const char *const *v, size_t n)
{
	key(b, k);
	msgpack_pack_array(&b->pk, n);
	for (size_t i = 0; i < n; i++)
		pk_str(&b->pk, v[i]);
}

void rb_tensor(rec_builder_t *b, const char *k, dtype_t dtype, int ndim, const int64_t *shape, const void *data)
{
	int64_t n = tensor_shape_numel(shape, ndim, dtype_size(dtype));
	if (n < 0)
		diag_fatal("internal: bad tensor shape");
	size_t bytes = (size_t)n * dtype_size(dtype);
	if (bytes > UINT32_MAX)
		diag_fatal("internal: tensor of %zu bytes exceeds msgpack's bin32", bytes);
	key(b, k);
	map_begin(b);
	rb_str(b, "dtype", dtype_name(dtype));
	rb_ints(b, "shape", shape, (size_t)ndim);
	key(b, "data");
	msgpack_pack_bin(&b->pk, bytes);
	if (bytes >= RB_REF_MIN)
		add_mark(b, data, bytes);
	else
		msgpack_pack_bin_body(&b->pk, data, bytes);
	map_end(b);
}

/* Every str copied, keys and nested ones too, is made UTF-8 (\xNN for
 * bytes that are not), as every str we write is. Two keys that differ only
 * in such bytes could meet as one: put_key refuses that as a repeat. */
void rb_copy_keys_except(rec_builder_t *b, const record_t *rec, const char *const *skip)
{
	need_record(b, "(copied)");
	for (uint32_t i = 0; i < rec->root.via.map.size; i++) {
		const msgpack_object_kv *kv = &rec->root.via.map.ptr[i];
		int skipped = kv->key.type != MSGPACK_OBJECT_STR;
		for (const char *const *s = skip; *s && !skipped; s++)
			skipped = obj_str_eq(&kv->key, *s);
		if (skipped)
			continue;
		size_t kn;
		char *kesc = utf8_escape(kv->key.via.str.ptr, kv->key.via.str.size, &kn);
		if (kesc)
			put_key(b, kesc, kn);
		else
			put_key(b, kv->key.via.str.ptr, kv->key.via.str.size);
		free(kesc);
		pk_object_utf8(&b->pk, &kv->val);
	}
}
