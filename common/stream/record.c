/* record.c - msgpack record stream reader and writer (format: stream/stream.h).
 *
 * Framing is done here, not by msgpack_unpacker: a small scanner finds the
 * end of one complete msgpack object in the buffer (O(1) per bin/str, so a
 * 150 KB tensor costs no per-byte work), which gives contiguous raw bytes for
 * byte-exact pass-through, early detection of oversize records from their
 * declared lengths, and a clean distinction between truncated and garbage.
 * The complete span is then handed to msgpack_unpack_next, which references
 * str/bin data in place.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "stream/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

enum {
	READ_CHUNK = 1 << 20,
	WRITE_BUF = 1 << 20,
	SCAN_MAX_DEPTH = 32, /* msgpack-c's own unpack stack limit */
};

struct rec_reader {
	int fd;
	int own_fd;
	char *name;
	size_t max_record;
	unsigned char *buf;
	size_t cap, start, end; /* valid bytes are buf[start, end) */
	int eof;
	uint64_t consumed; /* stream offset of buf[start] */
	uint64_t nrec;
	int hashing;  /* rec_reader_hash: every byte read goes through sha */
	sha256_t sha;
	msgpack_unpacked unpacked;
	char msg[512];
};

/* ---- scanner ---- */

typedef enum { SCAN_DONE, SCAN_MORE, SCAN_BAD, SCAN_BIG, SCAN_MANY } scan_t;

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Find the length of one msgpack object at p[0, n). On SCAN_MORE, *need is
 * a lower bound of the total length known so far; on SCAN_BAD, *len is the
 * offset of the offending byte and *why says what is wrong; SCAN_BIG: over
 * max bytes (*need: at least how many); SCAN_MANY: over max_values values
 * in containers (*need: at least how many), told from the container
 * headers before msgpack-c allocates anything for them. */
static scan_t scan_object(const unsigned char *p, size_t n, size_t max, uint64_t max_values, size_t *len,
			  size_t *need, const char **why)
{
	uint64_t stack[SCAN_MAX_DEPTH + 1];
	int depth = 0;
	uint64_t items = 0;
	size_t i = 0;
	stack[0] = 1;
	while (depth >= 0) {
		if (stack[depth] == 0) {
			depth--;
			continue;
		}
		stack[depth]--;
		if (i >= n) {
			*need = i + 1;
			return SCAN_MORE;
		}
		unsigned c = p[i];
		uint64_t hdr = 1, body = 0, count = 0;
		int container = 0;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
			/* fixint, nil, bool */
		} else if ((c & 0xe0) == 0xa0) {
			body = c & 0x1f;
		} else if ((c & 0xf0) == 0x90) {
			count = c & 0x0f;
			container = 1;
		} else if ((c & 0xf0) == 0x80) {
			count = 2 * (uint64_t)(c & 0x0f);
			container = 1;
		} else {
			int lenbytes = 0;
			switch (c) {
			case 0xc4: case 0xd9: lenbytes = 1; break;
			case 0xc5: case 0xda: lenbytes = 2; break;
			case 0xc6: case 0xdb: lenbytes = 4; break;
			case 0xc7: lenbytes = 1; body = 1; break; /* ext8: +type byte */
			case 0xc8: lenbytes = 2; body = 1; break;
			case 0xc9: lenbytes = 4; body = 1; break;
			case 0xca: body = 4; break;
			case 0xcb: body = 8; break;
			case 0xcc: case 0xd0: body = 1; break;
			case 0xcd: case 0xd1: body = 2; break;
			case 0xce: case 0xd2: body = 4; break;
			case 0xcf: case 0xd3: body = 8; break;
			case 0xd4: body = 2; break;
			case 0xd5: body = 3; break;
			case 0xd6: body = 5; break;
			case 0xd7: body = 9; break;
			case 0xd8: body = 17; break;
			case 0xdc: lenbytes = 2; container = 1; break;
			case 0xdd: lenbytes = 4; container = 1; break;
			case 0xde: lenbytes = 2; container = 2; break;
			case 0xdf: lenbytes = 4; container = 2; break;
			default:
				*len = i;
				*why = "byte 0xc1 is never used in msgpack";
				return SCAN_BAD;
			}
			if (lenbytes) {
				if (i + 1 + (size_t)lenbytes > n) {
					*need = i + 1 + (size_t)lenbytes;
					return SCAN_MORE;
				}
				uint64_t l = be(p + i + 1, lenbytes);
				hdr = 1 + (uint64_t)lenbytes;
				if (container == 1)
					count = l;
				else if (container == 2)
					count = 2 * l;
				else
					body += l;
			}
		}
		if (container) {
			items += count;
			if (items > max_values) {
				*need = (size_t)(items > SIZE_MAX ? SIZE_MAX : items);
				return SCAN_MANY;
			}
			if (count) {
				if (depth >= SCAN_MAX_DEPTH) {
					*len = i;
					*why = "containers nested deeper than 32";
					return SCAN_BAD;
				}
				stack[++depth] = count;
			}
		}
		uint64_t next = (uint64_t)i + hdr + body;
		if (next > max) {
			*need = (size_t)(next > SIZE_MAX ? SIZE_MAX : next);
			return SCAN_BIG;
		}
		i = (size_t)next;
	}
	if (i > n) {
		*need = i;
		return SCAN_MORE;
	}
	*len = i;
	return SCAN_DONE;
}

/* ---- reader ---- */

rec_reader_t *rec_reader_open(int fd, const char *name, size_t max_record)
{
	if (fd == 0 && diag_std_closed(0))
		diag_fatal("stdin: closed (<&-): no records to read");
	/* a program started without its input would wait for records nobody types */
	if (isatty(fd))
		diag_usage("%s is a terminal: no records to read there (pipe a stage in, or name a file)",
			   name ? name : "stdin");
	rec_reader_t *r = xcalloc(1, sizeof *r);
	r->fd = fd;
	r->name = xstrdup(name ? name : "stdin");
	r->max_record = max_record ? max_record : REC_DEFAULT_MAX_RECORD;
	r->cap = 4 * READ_CHUNK;
	r->buf = xmalloc(r->cap);
	msgpack_unpacked_init(&r->unpacked);
	/* A 1 MiB pipe (Linux; default 64 KiB) lets the writer hand over whole
	 * tensors per wakeup; failure (not a pipe, a limit) changes nothing. */
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, READ_CHUNK);
	return r;
}

rec_reader_t *rec_reader_open_path(const char *path, size_t max_record)
{
	if (strcmp(path, "-") == 0)
		return rec_reader_open(0, "stdin", max_record);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	rec_reader_t *r = rec_reader_open(fd, path, max_record);
	r->own_fd = 1;
	return r;
}

int rec_reader_hash(rec_reader_t *r)
{
	if (r->end > 0 || r->eof)
		return -1;
	r->hashing = 1;
	sha256_init(&r->sha);
	return 0;
}

int rec_reader_sha256(rec_reader_t *r, char hex[65])
{
	if (!r->hashing || !r->eof)
		return -1;
	uint8_t d[32];
	sha256_final(&r->sha, d);
	sha256_to_hex(d, hex);
	r->hashing = 0;
	return 0;
}

void rec_reader_free(rec_reader_t *r)
{
	if (!r)
		return;
	msgpack_unpacked_destroy(&r->unpacked);
	if (r->own_fd)
		close(r->fd);
	free(r->buf);
	free(r->name);
	free(r);
}

void rec_inputs_init(rec_inputs_t *in, char **paths, int n)
{
	static char *stdin_only[] = {"-"};
	in->paths = n ? paths : stdin_only;
	in->n = n ? n : 1;
	in->next = 0;
}

rec_reader_t *rec_inputs_next(rec_inputs_t *in, size_t max_record)
{
	if (in->next == in->n)
		return NULL;
	const char *path = in->paths[in->next++];
	rec_reader_t *r = rec_reader_open_path(path, max_record);
	if (!r)
		diag_fatal("%s: %s", path, strerror(errno));
	return r;
}

const char *rec_reader_message(const rec_reader_t *r)
{
	return r->msg;
}

const char *rec_reader_name(const rec_reader_t *r)
{
	return r->name;
}

void rec_reader_set_name(rec_reader_t *r, const char *name)
{
	char *copy = xstrdup(name);
	free(r->name);
	r->name = copy;
}

uint64_t rec_reader_bytes(const rec_reader_t *r)
{
	return r->consumed;
}

/* Make room for at least `want` bytes from start; read more. Returns 1 if
 * bytes were added, 0 at EOF, -1 on error. */
static int reader_fill(rec_reader_t *r, size_t want)
{
	if (r->eof)
		return 0;
	size_t have = r->end - r->start;
	/* toward want no faster than doubling what has arrived: a record that
	 * declares 1 GiB in a short stream is truncated, not out of memory */
	size_t grow = have + (have > READ_CHUNK ? have : READ_CHUNK);
	if (want > grow)
		want = grow;
	if (want < have + READ_CHUNK)
		want = have + READ_CHUNK;
	if (r->start > 0 && (r->cap - r->end < READ_CHUNK || r->start + want > r->cap)) {
		memmove(r->buf, r->buf + r->start, have);
		r->start = 0;
		r->end = have;
	}
	if (want > r->cap) {
		size_t nc = r->cap;
		while (nc < want)
			nc *= 2;
		unsigned char *nb = realloc(r->buf, nc);
		if (!nb) {
			snprintf(r->msg, sizeof r->msg, "%s: out of memory for a %zu-byte record", r->name, want);
			return -1;
		}
		r->buf = nb;
		r->cap = nc;
	}
	for (;;) {
		ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(r->msg, sizeof r->msg, "%s: read error: %s", r->name, strerror(errno));
			return -1;
		}
		if (got == 0) {
			r->eof = 1;
			return 0;
		}
		if (r->hashing)
			sha256_update(&r->sha, r->buf + r->end, (size_t)got);
		r->end += (size_t)got;
		return 1;
	}
}

static const char *obj_type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "?";
}

static const char *const tensor_probe_keys[] = {"dtype", NULL};

static int str_cmp(const msgpack_object *a, const msgpack_object *b)
{
	if (a->via.str.size != b->via.str.size)
		return a->via.str.size < b->via.str.size ? -1 : 1;
	return memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size);
}

static int key_ptr_cmp(const void *a, const void *b)
{
	return str_cmp(*(const msgpack_object *const *)a, *(const msgpack_object *const *)b);
}

/* A str key that appears twice in map m (other keys are not compared), or
 * NULL: pairwise for small maps, sorted for big ones (a hostile record may
 * hold millions of keys). */
static const msgpack_object *map_repeated_key(const msgpack_object_map *m)
{
	if (m->size <= 32) {
		for (uint32_t i = 0; i < m->size; i++)
			for (uint32_t j = 0; m->ptr[i].key.type == MSGPACK_OBJECT_STR && j < i; j++)
				if (m->ptr[j].key.type == MSGPACK_OBJECT_STR && str_cmp(&m->ptr[i].key, &m->ptr[j].key) == 0)
					return &m->ptr[i].key;
		return NULL;
	}
	const msgpack_object **k = xmalloc(m->size * sizeof *k);
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->size; i++)
		if (m->ptr[i].key.type == MSGPACK_OBJECT_STR)
			k[n++] = &m->ptr[i].key;
	qsort(k, n, sizeof *k, key_ptr_cmp);
	const msgpack_object *dup = NULL;
	for (uint32_t i = 1; i < n && !dup; i++)
		if (str_cmp(k[i - 1], k[i]) == 0)
			dup = k[i];
	free(k);
	return dup;
}

/* A record is a map with str keys, none twice, and a str "type"; every
 * top-level value that looks like a tensor (a map with "dtype") must be a
 * valid one, with no key twice either. */
static int record_validate(record_t *rec, char *err, size_t cap)
{
	const msgpack_object_map *m = &rec->root.via.map;
	rec->type = "";
	rec->type_len = 0;
	int have_type = 0;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR) {
			snprintf(err, cap, "key %u is a %s, not a str", i, obj_type_name(k->type));
			return -1;
		}
	}
	const msgpack_object *dup = map_repeated_key(m);
	if (dup) {
		snprintf(err, cap, "key \"%.*s\" appears twice (readers would disagree on its value)",
			 (int)(dup->via.str.size > 64 ? 64 : dup->via.str.size), dup->via.str.ptr);
		return -1;
	}
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
		if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "type", 4) == 0) {
			if (v->type != MSGPACK_OBJECT_STR) {
				snprintf(err, cap, "\"type\" is a %s, not a str", obj_type_name(v->type));
				return -1;
			}
			rec->type = v->via.str.ptr;
			rec->type_len = v->via.str.size;
			have_type = 1;
		} else if (v->type == MSGPACK_OBJECT_MAP && obj_map_get(v, tensor_probe_keys[0])) {
			tensor_t t;
			char terr[256];
			if ((dup = map_repeated_key(&v->via.map)) != NULL) {
				snprintf(err, cap, "tensor \"%.*s\": key \"%.*s\" appears twice",
					 (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr,
					 (int)(dup->via.str.size > 64 ? 64 : dup->via.str.size), dup->via.str.ptr);
				return -1;
			}
			if (obj_to_tensor(v, &t, terr, sizeof terr) != 0) {
				snprintf(err, cap, "tensor \"%.*s\": %s", (int)k->via.str.size, k->via.str.ptr, terr);
				return -1;
			}
		}
	}
	if (!have_type) {
		snprintf(err, cap, "record has no \"type\" key");
		return -1;
	}
	return 0;
}

rec_status_t rec_reader_next(rec_reader_t *r, record_t *out)
{
	memset(out, 0, sizeof *out);
	for (;;) {
		size_t have = r->end - r->start, len = 0, need = 0;
		const char *why = "";
		scan_t s = have ? scan_object(r->buf + r->start, have, r->max_record, REC_MAX_VALUES(r->max_record),
					      &len, &need, &why)
				: SCAN_MORE;
		if (s == SCAN_MORE) {
			int f = reader_fill(r, need);
			if (f > 0)
				continue;
			if (f < 0)
				return REC_IOERR;
			if (have == 0)
				return REC_EOF;
			snprintf(r->msg, sizeof r->msg,
				 "%s: record %llu at byte %llu: truncated: the stream ends after %zu of at least %zu bytes",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)r->consumed, have, need);
			return REC_TRUNCATED;
		}
		if (s == SCAN_BIG) {
			snprintf(r->msg, sizeof r->msg,
				 "%s: record %llu at byte %llu: oversize: at least %zu bytes, limit %zu (--max-record)",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)r->consumed, need,
				 r->max_record);
			return REC_OVERSIZE;
		}
		if (s == SCAN_MANY) {
			snprintf(r->msg, sizeof r->msg,
				 "%s: record %llu at byte %llu: oversize: at least %zu msgpack values, limit %llu "
				 "(one per 256 bytes of --max-record)",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)r->consumed, need,
				 (unsigned long long)REC_MAX_VALUES(r->max_record));
			return REC_OVERSIZE;
		}
		if (s == SCAN_BAD) {
			snprintf(r->msg, sizeof r->msg, "%s: record %llu at byte %llu: not a valid record: %s",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)(r->consumed + len),
				 why);
			return REC_GARBAGE;
		}
		unsigned char c = r->buf[r->start];
		if (!((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)) {
			snprintf(r->msg, sizeof r->msg,
				 "%s: record %llu at byte %llu: not a valid record: byte 0x%02x starts a msgpack value that is not a map",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)r->consumed, c);
			return REC_GARBAGE;
		}
		size_t off = 0;
		msgpack_unpacked_destroy(&r->unpacked);
		msgpack_unpacked_init(&r->unpacked);
		msgpack_unpack_return ur =
			msgpack_unpack_next(&r->unpacked, (const char *)r->buf + r->start, len, &off);
		if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
			snprintf(r->msg, sizeof r->msg, "%s: record %llu at byte %llu: not a valid record: msgpack-c refused it (%d)",
				 r->name, (unsigned long long)r->nrec, (unsigned long long)r->consumed, (int)ur);
			return REC_GARBAGE;
		}
		out->root = r->unpacked.data;
		out->raw = r->buf + r->start;
		out->raw_len = len;
		out->index = r->nrec++;
		out->offset = r->consumed;
		r->start += len;
		r->consumed += len;
		char err[384];
		if (record_validate(out, err, sizeof err) != 0) {
			snprintf(r->msg, sizeof r->msg, "%s: record %llu at byte %llu: %s", r->name,
				 (unsigned long long)out->index, (unsigned long long)out->offset, err);
			return REC_INVALID;
		}
		return REC_OK;
	}
}

int rec_next(rec_reader_t *r, record_t *out, rec_writer_t *w, int *nfailed)
{
	for (;;) {
		rec_status_t st = rec_reader_next(r, out);
		switch (st) {
		case REC_OK: return 1;
		case REC_EOF: return 0;
		case REC_INVALID:
			diag_msg("%s", r->msg);
			if (w)
				rec_write_error_for(w, out, r->msg);
			if (nfailed)
				(*nfailed)++;
			continue;
		default:
			if (w)
				rec_writer_flush(w);
			diag_fatal("%s", r->msg);
		}
	}
}

/* ---- accessors ---- */

int obj_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const char *rec_where(char *buf, size_t cap, const char *stream, const record_t *rec)
{
	const char *id;
	size_t n;
	if (rec_get_str(rec, "id", &id, &n) != 0)
		n = 0;
	return rec_where_at(buf, cap, stream, rec->index, id, n > 200 ? 200 : n);
}

const char *rec_where_at(char *buf, size_t cap, const char *stream, uint64_t index, const char *id, size_t idlen)
{
	if (idlen)
		snprintf(buf, cap, "%s: record %llu (id '%.*s')", stream, (unsigned long long)index, (int)idlen, id);
	else
		snprintf(buf, cap, "%s: record %llu", stream, (unsigned long long)index);
	return buf;
}

int rec_is(const record_t *rec, const char *type)
{
	size_t n = strlen(type);
	return rec->type_len == n && memcmp(rec->type, type, n) == 0;
}

const msgpack_object *obj_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (obj_str_eq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

const msgpack_object *rec_get(const record_t *rec, const char *key)
{
	return obj_map_get(&rec->root, key);
}

int rec_get_str(const record_t *rec, const char *key, const char **s, size_t *len)
{
	const msgpack_object *o = rec_get(rec, key);
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return -1;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

char *obj_dup_str(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	char *s = xmalloc(o->via.str.size + 1);
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = 0;
	return s;
}

char *rec_dup_str(const record_t *rec, const char *key)
{
	return obj_dup_str(rec_get(rec, key));
}

int rec_get_int(const record_t *rec, const char *key, int64_t *v)
{
	const msgpack_object *o = rec_get(rec, key);
	if (!o)
		return -1;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return -1;
		*v = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	return -1;
}

int obj_get_double(const msgpack_object *o, double *v)
{
	if (!o)
		return -1;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return 0;
	default: return -1;
	}
}

int rec_get_double(const record_t *rec, const char *key, double *v)
{
	return obj_get_double(rec_get(rec, key), v);
}

int obj_to_tensor(const msgpack_object *o, tensor_t *t, char *err, size_t errcap)
{
	memset(t, 0, sizeof *t);
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errcap, "not a tensor map");
		return -1;
	}
	const msgpack_object *dt = obj_map_get(o, "dtype"), *sh = obj_map_get(o, "shape"),
			     *da = obj_map_get(o, "data");
	if (!dt || dt->type != MSGPACK_OBJECT_STR) {
		snprintf(err, errcap, "\"dtype\" missing or not a str");
		return -1;
	}
	if (dtype_parse(dt->via.str.ptr, dt->via.str.size, 1, &t->dtype) != 0) {
		snprintf(err, errcap, "unknown dtype \"%.*s\" (uint8, float16, float32, int32, int64)",
			 (int)(dt->via.str.size > 40 ? 40 : dt->via.str.size), dt->via.str.ptr);
		return -1;
	}
	if (!sh || sh->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(err, errcap, "\"shape\" missing or not an array");
		return -1;
	}
	if (sh->via.array.size > TENSOR_MAX_DIMS) {
		snprintf(err, errcap, "%u dimensions, at most %d supported", sh->via.array.size, TENSOR_MAX_DIMS);
		return -1;
	}
	t->ndim = (int)sh->via.array.size;
	for (int i = 0; i < t->ndim; i++) {
		const msgpack_object *d = &sh->via.array.ptr[i];
		if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->via.u64 > INT64_MAX) {
			snprintf(err, errcap, "shape[%d] is not a non-negative integer", i);
			return -1;
		}
		t->shape[i] = (int64_t)d->via.u64;
	}
	if (!da || da->type != MSGPACK_OBJECT_BIN) {
		snprintf(err, errcap, "\"data\" missing or not bin");
		return -1;
	}
	int64_t n = tensor_shape_numel(t->shape, t->ndim, dtype_size(t->dtype));
	char sbuf[160];
	if (n < 0) {
		snprintf(err, errcap, "shape %s overflows", tensor_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
		return -1;
	}
	uint64_t want = (uint64_t)n * dtype_size(t->dtype);
	if (want != da->via.bin.size) {
		snprintf(err, errcap, "shape %s of %s needs %llu bytes, data has %u",
			 tensor_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), dtype_name(t->dtype),
			 (unsigned long long)want, da->via.bin.size);
		return -1;
	}
	t->data = da->via.bin.ptr;
	t->nbytes = da->via.bin.size;
	return 0;
}

int rec_get_tensor(const record_t *rec, const char *key, tensor_t *t, char *err, size_t errcap)
{
	const msgpack_object *o = rec_get(rec, key);
	if (!o) {
		snprintf(err, errcap, "no \"%s\" tensor", key);
		return -1;
	}
	return obj_to_tensor(o, t, err, errcap);
}

/* ---- writer ---- */

struct rec_writer {
	int fd;
	char *name;
	char *tmp_path, *final_path; /* rec_writer_open_path */
	int spool;                   /* rec_writer_stdout_spooled: fd is an unlinked file, spool the
				      * descriptor of stdout it goes to at close (0: not spooled) */
	unsigned char *buf;
	size_t len;
	uint64_t nrec;
	msgpack_packer pk;
	rec_builder_t *builder; /* rec_begin's, made at the first */
};

static void writer_write_fd(rec_writer_t *w, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t put = write(w->fd, p, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0) {
			if (w->tmp_path)
				unlink(w->tmp_path);
			diag_fatal("%s: write error: %s", w->name, strerror(errno));
		}
		p += put;
		n -= (size_t)put;
	}
}

void rec_write_raw(rec_writer_t *w, const void *data, size_t len)
{
	const unsigned char *p = data;
	if (w->len + len <= WRITE_BUF) {
		memcpy(w->buf + w->len, p, len);
		w->len += len;
		return;
	}
	rec_writer_flush(w);
	if (len >= WRITE_BUF / 2) { /* big payloads go straight out */
		writer_write_fd(w, p, len);
		return;
	}
	memcpy(w->buf, p, len);
	w->len = len;
}

static int pk_callback(void *data, const char *buf, size_t len)
{
	rec_write_raw(data, buf, len);
	return 0;
}

rec_writer_t *rec_writer_open(int fd, const char *name)
{
	rec_writer_t *w = xcalloc(1, sizeof *w);
	w->fd = fd;
	w->name = xstrdup(name ? name : "stdout");
	w->buf = xmalloc(WRITE_BUF);
	msgpack_packer_init(&w->pk, w, pk_callback);
	return w;
}

/* Stdout carries records only: the records go out through a duplicate of
 * descriptor 1, and descriptor 1 becomes stderr, so that what a library
 * prints to stdout (oneDNN's ONEDNN_VERBOSE lines, a CUDA library's notes)
 * reaches the terminal instead of corrupting the stream. Once per process:
 * a second call would find stderr on descriptor 1. */
static int records_fd(void)
{
	static int taken;
	if (taken)
		diag_fatal("internal: stdout's record writer made twice");
	taken = 1;
	if (diag_std_closed(1))
		diag_fatal("stdout: closed (>&-): nowhere to write the records");
	fflush(stdout);
	int fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || dup2(2, 1) < 0)
		diag_fatal("stdout: %s", strerror(errno));
	return fd;
}

rec_writer_t *rec_writer_stdout(int allow_tty)
{
	if (!allow_tty && isatty(1))
		diag_fatal("stdout is a terminal: refusing to write binary records there "
			   "(redirect to a file, pipe into another stage, or '| recview')");
	return rec_writer_open(records_fd(), "stdout");
}

rec_writer_t *rec_writer_stdout_spooled(void)
{
	if (isatty(1))
		diag_fatal("stdout is a terminal: refusing to write binary records there "
			   "(redirect to a file, pipe into another stage, or '| recview')");
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/rnencode-spool.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		diag_fatal("%s: %s (the output is held there until the input has been read whole)", path,
			   strerror(errno));
	unlink(path);
	free(path);
	rec_writer_t *w = rec_writer_open(fd, "stdout");
	w->spool = records_fd();
	return w;
}

/* The spooled output to stdout, at close. */
static void spool_out(rec_writer_t *w)
{
	if (lseek(w->fd, 0, SEEK_SET) != 0)
		diag_fatal("stdout: its spool file: %s", strerror(errno));
	unsigned char *b = w->buf; /* flushed: free to use */
	for (;;) {
		ssize_t k = read(w->fd, b, WRITE_BUF);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			diag_fatal("stdout: its spool file: %s", strerror(errno));
		if (k == 0)
			break;
		int fd = w->fd;
		w->fd = w->spool;
		writer_write_fd(w, b, (size_t)k);
		w->fd = fd;
	}
}

rec_writer_t *rec_writer_open_path(const char *path)
{
	if (strcmp(path, "-") == 0)
		return rec_writer_stdout(0);
	/* a new file or a regular one, never through a FIFO or onto a device
	 * (common/util/util.h); close renames the temporary over the target */
	outfile_t of;
	char err[1024];
	if (outfile_open(&of, path, err, sizeof err) != 0)
		diag_fatal("cannot create %s", err);
	rec_writer_t *w = rec_writer_open(of.fd, path);
	w->tmp_path = of.tmp;
	w->final_path = of.target;
	free(of.path);
	return w;
}

msgpack_packer *rec_writer_pk(rec_writer_t *w)
{
	return &w->pk;
}

rec_builder_t *rec_writer_builder(rec_writer_t *w)
{
	if (!w->builder)
		w->builder = rec_builder_new(w);
	return w->builder;
}

void rec_writer_end_record(rec_writer_t *w)
{
	w->nrec++;
}

uint64_t rec_writer_records(const rec_writer_t *w)
{
	return w->nrec;
}

void rec_pass(rec_writer_t *w, const record_t *rec)
{
	rec_write_raw(w, rec->raw, rec->raw_len);
	w->nrec++;
}

int rec_writer_flush(rec_writer_t *w)
{
	if (w->len) {
		writer_write_fd(w, w->buf, w->len);
		w->len = 0;
	}
	return 0;
}

int rec_writer_close(rec_writer_t *w)
{
	if (!w)
		return 0;
	rec_writer_flush(w);
	int rc = 0;
	if (w->spool) {
		spool_out(w);
		close(w->fd);
		if (close(w->spool) != 0 && errno != EINTR)
			diag_fatal("%s: close: %s", w->name, strerror(errno));
	} else if (w->tmp_path) {
		if (fsync(w->fd) != 0 && errno != EINVAL)
			rc = -1;
		if (close(w->fd) != 0)
			rc = -1;
		if (rc == 0 && rename(w->tmp_path, w->final_path) != 0)
			rc = -1;
		if (rc != 0) {
			unlink(w->tmp_path);
			diag_fatal("%s: cannot finish writing: %s", w->name, strerror(errno));
		}
	} else if (close(w->fd) != 0 && errno != EINTR) {
		/* stdout too: close reports deferred errors (NFS, full disk) */
		diag_fatal("%s: close: %s", w->name, strerror(errno));
	}
	rec_builder_free(w->builder);
	free(w->tmp_path);
	free(w->final_path);
	free(w->buf);
	free(w->name);
	free(w);
	return rc;
}

/* ---- packing helpers ---- */

/* Every str we write is UTF-8, as msgpack-python (raw=False) needs: bytes
 * from outside (argv, file contents in messages, a message cut mid
 * character) are written as \xNN. Names meant to match across stages are
 * escaped where they enter (imgdecode), so they pass here unchanged. */
void pk_strn(msgpack_packer *pk, const char *s, size_t n)
{
	size_t en;
	char *esc = utf8_escape(s, n, &en);
	if (esc) {
		s = esc;
		n = en;
	}
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
	free(esc);
}

void pk_str(msgpack_packer *pk, const char *s)
{
	pk_strn(pk, s, strlen(s));
}

void pk_object_utf8(msgpack_packer *pk, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		pk_strn(pk, o->via.str.ptr, o->via.str.size);
		return;
	case MSGPACK_OBJECT_ARRAY:
		msgpack_pack_array(pk, o->via.array.size);
		for (uint32_t i = 0; i < o->via.array.size; i++)
			pk_object_utf8(pk, &o->via.array.ptr[i]);
		return;
	case MSGPACK_OBJECT_MAP:
		msgpack_pack_map(pk, o->via.map.size);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			pk_object_utf8(pk, &o->via.map.ptr[i].key);
			pk_object_utf8(pk, &o->via.map.ptr[i].val);
		}
		return;
	default:
		msgpack_pack_object(pk, *o);
	}
}

void rec_write_error(rec_writer_t *w, const char *id, const char *path, int64_t label, const char *message)
{
	rec_builder_t *b = rec_begin(w, "error");
	rb_str(b, "id", id ? id : "");
	rb_str(b, "path", path ? path : "");
	rb_int(b, "label", label);
	rb_str(b, "stage", diag_prog());
	rb_str(b, "message", message);
	rec_end(b);
}

void rec_write_error_for(rec_writer_t *w, const record_t *rec, const char *message)
{
	char *id = rec_dup_str(rec, "id"), *path = rec_dup_str(rec, "path");
	int64_t label = -1;
	if (rec_get_int(rec, "label", &label) != 0)
		label = -1;
	if (!id) { /* no id: name the record by its position */
		char buf[64];
		snprintf(buf, sizeof buf, "#%llu", (unsigned long long)rec->index);
		id = strdup(buf);
	}
	rec_write_error(w, id, path, label, message);
	free(id);
	free(path);
}
