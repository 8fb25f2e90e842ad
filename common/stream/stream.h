/* stream.h - the record stream: msgpack records in and out (record), their
 * JSON rendering (json), .npy files (npy), and what produced a stream
 * (provenance). Includes util only.
 */
#ifndef COMMON_STREAM_STREAM_H
#define COMMON_STREAM_STREAM_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

/* ---- record.c ----
 * msgpack record streams: reading, writing, accessors.
 *
 * Stream format (doc/records.md): a plain concatenation of msgpack maps, no
 * framing beyond msgpack itself. Every record is a map with str keys and a str
 * "type". A tensor value is a map {"dtype": str, "shape": [int..], "data": bin}
 * with data C-order little-endian and len(data) == prod(shape) * itemsize.
 *
 * The reader keeps one buffer (bounded by the largest record, itself bounded
 * by max_record) and hands out records whose strings and tensor data point
 * into that buffer: valid until the next rec_reader_next() call. Raw bytes of
 * each record are kept so that pass-through is byte-exact. The buffer grows
 * as bytes arrive, never to a size a record only declares.
 * Memory per record: its bytes (at most max_record) and msgpack-c's decoded
 * tree, 24 bytes per value inside a container (a nil costs one byte in the
 * stream); REC_MAX_VALUES(max_record) bounds the values, counted from the
 * container headers before msgpack-c allocates, so a record costs at most
 * max_record plus under a tenth of it (or 1.5 MiB) however it is built
 * (4M values for the default 1 GiB).
 * A record is a map with str keys, none twice ("label" twice would be the
 * first to us and the last to Python's msgpack), and the same holds inside
 * each tensor map.
 *
 * Outcomes of rec_reader_next():
 *   REC_OK        a record
 *   REC_EOF       clean end at a record boundary
 *   REC_INVALID   a well-framed map that is not a valid record (no "type",
 *                 a key twice, bad tensor): the stream can go on; write an
 *                 error record
 *   REC_TRUNCATED the stream ends inside a record            (fatal)
 *   REC_GARBAGE   bytes that are not msgpack, or not a map   (fatal)
 *   REC_OVERSIZE  a record larger than max_record, or with more values
 *                 than REC_MAX_VALUES(max_record)           (fatal)
 *   REC_IOERR     read(2) failed                             (fatal)
 * rec_reader_message() names the stream, record number and byte offset.
 */

#define REC_DEFAULT_MAX_RECORD ((size_t)1 << 30)
/* Values a record may hold in its containers: one per 256 bytes of the
 * record limit, and never fewer than 65536. */
#define REC_MAX_VALUES(max_record) ((max_record) / 256 > 65536 ? (uint64_t)(max_record) / 256 : (uint64_t)65536)

typedef enum {
	REC_OK,
	REC_EOF,
	REC_INVALID,
	REC_TRUNCATED,
	REC_GARBAGE,
	REC_OVERSIZE,
	REC_IOERR
} rec_status_t;

typedef struct {
	msgpack_object root; /* MSGPACK_OBJECT_MAP */
	const char *type;    /* not NUL-terminated; type_len bytes ("" if invalid) */
	size_t type_len;
	const unsigned char *raw; /* the record's exact bytes */
	size_t raw_len;
	uint64_t index;  /* 0-based record number in the stream */
	uint64_t offset; /* byte offset of the record's first byte */
} record_t;

typedef struct rec_reader rec_reader_t;
typedef struct rec_writer rec_writer_t;

/* ---- reading ---- */
rec_reader_t *rec_reader_open(int fd, const char *name, size_t max_record); /* a terminal: usage error */
rec_reader_t *rec_reader_open_path(const char *path, size_t max_record); /* "-" = stdin; NULL on error */
rec_status_t rec_reader_next(rec_reader_t *r, record_t *out);
const char *rec_reader_message(const rec_reader_t *r);
const char *rec_reader_name(const rec_reader_t *r);
void rec_reader_set_name(rec_reader_t *r, const char *name); /* what messages call the stream (fpdiff --label) */
uint64_t rec_reader_bytes(const rec_reader_t *r); /* bytes consumed so far */
void rec_reader_free(rec_reader_t *r);
/* The sha256 of the stream's bytes as they are read, for a header that names
 * the file it used: no second read (a pipe has none, a file may change in
 * between). rec_reader_hash before the first record (-1 after);
 * rec_reader_sha256 once the reader reached the end (-1 before). */
int rec_reader_hash(rec_reader_t *r);
int rec_reader_sha256(rec_reader_t *r, char hex[65]);
/* The streams a filter reads in turn: the files named, else stdin. */
typedef struct {
	char **paths;
	int n, next;
} rec_inputs_t;
void rec_inputs_init(rec_inputs_t *in, char **paths, int n);
/* The next stream, open (one that cannot be opened is fatal, exit 2), or
 * NULL after the last; the caller frees each with rec_reader_free. */
rec_reader_t *rec_inputs_next(rec_inputs_t *in, size_t max_record);

/* The usual filter loop step: returns 1 with a record, 0 at clean EOF. An
 * invalid record becomes an error record on w (if w is non-NULL) and
 * *nfailed is incremented; fatal stream errors flush w and exit 2. */
int rec_next(rec_reader_t *r, record_t *out, rec_writer_t *w, int *nfailed);

/* "STREAM: record N (id 'X')" into buf (no id part when the record has
 * none; the id cut at 200 bytes): how every per-record message starts. */
const char *rec_where(char *buf, size_t cap, const char *stream, const record_t *rec);
/* The same from a record's number and id (idlen bytes; none when 0), for
 * messages about a record read earlier. */
const char *rec_where_at(char *buf, size_t cap, const char *stream, uint64_t index, const char *id, size_t idlen);

/* Does the record have this type? */
int rec_is(const record_t *rec, const char *type);

/* Accessors: NULL / -1 when the key is missing or has the wrong type. */
const msgpack_object *rec_get(const record_t *rec, const char *key);
const msgpack_object *obj_map_get(const msgpack_object *map, const char *key);
int rec_get_str(const record_t *rec, const char *key, const char **s, size_t *len);
char *rec_dup_str(const record_t *rec, const char *key); /* malloc'd; NULL if absent */
int rec_get_int(const record_t *rec, const char *key, int64_t *v);
int rec_get_double(const record_t *rec, const char *key, double *v);
int obj_get_double(const msgpack_object *o, double *v); /* int or float */
char *obj_dup_str(const msgpack_object *o);            /* malloc'd; NULL if not str */
int obj_str_eq(const msgpack_object *o, const char *s);

/* Tensor views. Validates dtype, shape and data length; err gets a message. */
int obj_to_tensor(const msgpack_object *o, tensor_t *t, char *err, size_t errcap);
int rec_get_tensor(const record_t *rec, const char *key, tensor_t *t, char *err, size_t errcap);

/* ---- writing ---- */
rec_writer_t *rec_writer_open(int fd, const char *name);
/* stdout, refusing a terminal with a hint (exit 2) unless allow_tty. */
rec_writer_t *rec_writer_stdout(int allow_tty);
/* stdout (a terminal refused as above), the records held in an unlinked
 * temporary file ($TMPDIR, else /tmp) until rec_writer_close copies them
 * out: a program that exits 2 before then, on a stream broken after some
 * output, leaves stdout empty, never part of a record. */
rec_writer_t *rec_writer_stdout_spooled(void);
/* Write to path by the outfile rule of common/util/util.h (a new file or a regular one; a
 * FIFO or device is refused, exit 2) via a temporary renamed at close. */
rec_writer_t *rec_writer_open_path(const char *path);
msgpack_packer *rec_writer_pk(rec_writer_t *w);
void rec_write_raw(rec_writer_t *w, const void *data, size_t len);
void rec_pass(rec_writer_t *w, const record_t *rec); /* byte-exact copy */
int rec_writer_flush(rec_writer_t *w);               /* exit 2 on write error */
uint64_t rec_writer_records(const rec_writer_t *w);  /* records passed or packed via helpers */
/* Flush and close, checking the result; returns 0, or exits 2 on error. */
int rec_writer_close(rec_writer_t *w);

/* ---- packing helpers (msgpack_packer *pk from rec_writer_pk) ----
 * str values made UTF-8 (\xNN for bytes that are not): what the record
 * builder packs its strings with. */
void pk_str(msgpack_packer *pk, const char *s);
void pk_strn(msgpack_packer *pk, const char *s, size_t n);
/* o packed again with every str in it, keys and nested ones too, UTF-8:
 * bytes that are not written as \xNN, as pk_strn does. */
void pk_object_utf8(msgpack_packer *pk, const msgpack_object *o);

/* An error record {type, id, path, label, stage, message}; counts as a record. */
void rec_write_error(rec_writer_t *w, const char *id, const char *path, int64_t label,
		     const char *message);
/* Error record for a failed input record: id/path/label copied from it. */
void rec_write_error_for(rec_writer_t *w, const record_t *rec, const char *message);
/* Mark one record as complete (for counts); the helpers above do it. */
void rec_writer_end_record(rec_writer_t *w);

/* ---- builder.c ----
 * Records built by a helper that counts their keys: no map size is written
 * by hand. The pairs go into the builder's memory, and rec_end writes the
 * map header with the keys counted, then the pairs, as one record. A key a
 * map has already is refused (exit 2, "internal: ..."), as the reader
 * refuses such a record. Tensors are maps counted the same way.
 *
 *   rec_builder_t *b = rec_begin(w, "stats");   "type" is the first key
 *   rb_int(b, "images", n);
 *   rec_end(b);                                 out through w, one record
 */
typedef struct rec_builder rec_builder_t;

/* The writer's own builder, begun: one record at a time. */
rec_builder_t *rec_begin(rec_writer_t *w, const char *type);
/* A header record: type, producer, version, argv; the caller adds its
 * settings. */
rec_builder_t *rec_begin_header(rec_writer_t *w, int argc, char **argv);
/* Write the record to its writer (it counts as one) and end it. */
void rec_end(rec_builder_t *b);
/* A builder of one's own, for a record finished later (rnencode's records
 * wait for their batch): begin it, add keys, rec_end it; free it after. */
rec_builder_t *rec_builder_new(rec_writer_t *w);
void rec_builder_begin(rec_builder_t *b, const char *type);
void rec_builder_free(rec_builder_t *b);
/* The writer's own builder (record.c keeps it, builder.c begins it). */
rec_builder_t *rec_writer_builder(rec_writer_t *w);

void rb_str(rec_builder_t *b, const char *key, const char *val); /* NULL val: nil */
void rb_strn(rec_builder_t *b, const char *key, const char *val, size_t n);
void rb_int(rec_builder_t *b, const char *key, int64_t v);
void rb_double(rec_builder_t *b, const char *key, double v);
void rb_bool(rec_builder_t *b, const char *key, int v);
void rb_ints(rec_builder_t *b, const char *key, const int64_t *v, size_t n);   /* array of ints */
void rb_floats(rec_builder_t *b, const char *key, const float *v, size_t n);   /* array of float32 */
void rb_strs(rec_builder_t *b, const char *key, const char *const *v, size_t n); /* array of str */
/* A tensor map {dtype, shape, data}. Data of 4 KiB or more is written from
 * the caller's memory at rec_end: it must stay valid until then. */
void rb_tensor(rec_builder_t *b, const char *key, dtype_t dtype, int ndim, const int64_t *shape,
	       const void *data);
/* rec's keys not named in skip (NULL-terminated), in its order; str values
 * made UTF-8 (pk_strn). skip must name every key the caller adds itself. */
void rb_copy_keys_except(rec_builder_t *b, const record_t *rec, const char *const *skip);

/* ---- json.c ----
 * writing JSON text: escaped strings and msgpack objects. */

/* A JSON string literal of s[0, n): valid UTF-8 passed through, control
 * characters (C0, DEL and C1) as \uXXXX, and each byte that is not UTF-8
 * as the text \xNN (the JSON "\\xNN"), as pk_strn writes such bytes into
 * records: so every line loads in a strict reader (Python's json.loads)
 * and prints nothing a terminal would take for an escape. */
void json_put_str(FILE *f, const char *s, size_t n);
void json_put_cstr(FILE *f, const char *s);
/* A finite double as JSON (NaN/Inf become null: JSON has no spelling for them). */
void json_put_double(FILE *f, double v);

/* How tensors (maps with dtype/shape/data) are printed by json_put_object. */
typedef enum {
	JSON_TENSOR_SUMMARY, /* {"dtype","shape","min","max","mean","first":[..8]} */
	JSON_TENSOR_FULL     /* summary plus "values": every element */
} json_tensor_mode_t;

/* msgpack object as JSON; bin that is not part of a tensor prints as {"bin": N}. */
void json_put_object(FILE *f, const msgpack_object *o, json_tensor_mode_t mode);

/* A JSON document written as it is built: objects and arrays count their own
 * entries, so commas and nesting come from the calls, never from the caller.
 * Every value call takes a key: the entry's name inside an object, NULL inside
 * an array (or for the top-level value). */
/* A record nests up to 32 containers (msgpack-c's limit, record.c's too):
 * a report holds one a few levels down (prov_json). */
enum { JW_MAX_DEPTH = 64 };

typedef struct {
	FILE *f;
	int depth;
	uint64_t n[JW_MAX_DEPTH]; /* entries written at each open level */
	char close[JW_MAX_DEPTH]; /* '}' or ']' of each open level */
	const char *brk;          /* whitespace before the next entry, after its comma */
	const char *key;          /* jw_keyn's key for the next entry, keylen bytes */
	size_t keylen;
} jw_t;

void jw_init(jw_t *w, FILE *f);
void jw_obj(jw_t *w, const char *key); /* opens an object: entries until jw_end */
void jw_arr(jw_t *w, const char *key); /* opens an array */
void jw_end(jw_t *w);                  /* closes the innermost one */
void jw_close(jw_t *w);                /* closes every one, then a newline: the document's end */
void jw_int(jw_t *w, const char *key, int64_t v);
void jw_double(jw_t *w, const char *key, double v); /* NaN/Inf: null */
void jw_bool(jw_t *w, const char *key, int v);
void jw_null(jw_t *w, const char *key);
void jw_str(jw_t *w, const char *key, const char *s); /* NULL: null */
void jw_strn(jw_t *w, const char *key, const char *s, size_t n);
/* num/den, or null when den is 0 */
void jw_ratio(jw_t *w, const char *key, double num, double den);
/* The next entry's key as n bytes (a record's key, not NUL-terminated):
 * the value call that follows passes NULL for its key. */
void jw_keyn(jw_t *w, const char *key, size_t n);
/* A value another writer puts (json_put_object): the key
 * and separator are written, and the stream returned for the value. */
FILE *jw_value(jw_t *w, const char *key);
/* Whitespace (a line break: for long documents a reader pages through)
 * before the next entry, after its comma; the document is the same JSON.
 * ws must outlive that entry (a string literal). */
void jw_break(jw_t *w, const char *ws);

/* ---- npy.c ----
 * NumPy .npy files (format version 1.0/2.0/3.0), read and write.
 *
 * Layout, byte by byte:
 *   0..5   "\x93NUMPY"
 *   6,7    major, minor version (1.0: 2-byte LE header length; 2.0/3.0: 4-byte)
 *   8..    header length HL, then HL bytes of a Python dict literal, e.g.
 *          {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *          padded with spaces and ending in '\n' so data starts 64-aligned
 *   then   the array data, C order, or Fortran order when fortran_order is
 *          True (read into C order here).
 */

/* Write a C-order tensor; returns 0, or -1 with errno. */
int npy_write(const char *path, dtype_t dtype, int ndim, const int64_t *shape, const void *data);

/* Read a whole .npy file. On success *t views *owned (free it). On failure
 * returns -1 with a message in err. Accepts u1 f2 f4 f8 i4 i8, little- or
 * big-endian (swapped to this machine's little-endian), C or Fortran order. */
int npy_read(const char *path, tensor_t *t, void **owned, char *err, size_t errcap);

/* ---- provenance.c ----
 * what produced a stream: its header records (programs,
 * versions, argv, weights sha256, preset, precision, device, batch, label and
 * name files: whatever keys each stage wrote) and its stats records (time,
 * throughput, peak memory), kept for the reports of errstats and fpdiff.
 *
 * Records are copied (raw msgpack bytes) because a reader's records die at
 * its next call; identical headers (a stream cat'ed twice, the same stage
 * header in every shard) are kept once. Only the first PROV_KEEP distinct
 * records of each kind are kept and printed; the rest are counted (a stream
 * of a million shards' headers costs time linear in its bytes and a hash
 * per distinct record, not a comparison with every earlier one), and the
 * reports say how many were not shown. Distinct records are told apart by a
 * 64-bit hash of their bytes (SHA-256's first 8 bytes). Printing is generic over the keys found, so a stage that adds a
 * setting shows up without changes here; long lists (a header's 1000 class
 * names) are summarised by their length.
 */

typedef struct {
	unsigned char *raw;
	size_t len;
	msgpack_unpacked obj; /* root map of raw */
} prov_rec_t;

enum {
	PROV_KEEP = 64,          /* distinct records of each kind kept and printed */
	PROV_SEEN_MAX = 1 << 20  /* distinct records told apart, per kind: past this, each one counts */
};

typedef struct {
	strmap_t digests; /* the 64-bit hashes of the records met (8-byte keys) */
	int full;         /* PROV_SEEN_MAX reached */
} prov_seen_t;

typedef struct {
	prov_rec_t *headers, *stats; /* the first PROV_KEEP distinct ones, in stream order */
	int nheaders, nstats;
	int64_t more_headers, more_stats; /* distinct ones past those (not kept) */
	prov_seen_t seen_headers, seen_stats; /* full (PROV_SEEN_MAX): a further record
						 counts as new, so "more" is "up to" */
} prov_t;

void prov_init(prov_t *p);
void prov_free(prov_t *p);
/* Keep rec if it is a header or a stats record; returns 1 if it was one. */
int prov_add(prov_t *p, const record_t *rec);

/* One line per header, "producer version: key=value ... | argv", then one
 * per stats record, "stats of producer: key=value ..."; a line saying how
 * many were not shown, when some were not. */
void prov_print_text(FILE *f, const prov_t *p, const char *indent);
/* An entry of w (key: its name in the open object, NULL in an array):
 * {"headers": [...], "stats": [...], "headers_not_shown": N,
 * "stats_not_shown": N, "not_shown_exact": B}; lists over 32 items become
 * {"count": N}. */
void prov_json(jw_t *w, const char *key, const prov_t *p);
/* A msgpack value as short text (str bare, numbers %g, long lists "[N items]"). */
void prov_put_text_value(FILE *f, const msgpack_object *o);

#endif
