/* ckpt/internal.h - pieces shared by the checkpoint readers (not a public API).
 *
 * ckpt.c owns the table (entries, owned copies, the name index) and the
 * mapping; zip.c indexes zip containers; pickle.c runs the pickle
 * reader for the PyTorch zip, TorchScript and legacy formats;
 * safetensors.c reads safetensors. Every reader takes the whole file as
 * bytes (p, n) and reports failures as one line in err (no file name: ckpt_open
 * prefixes it).
 */
#ifndef COMMON_CKPT_INTERNAL_H
#define COMMON_CKPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"

/* Limits that keep a hostile file from costing unbounded memory or time.
 * Real checkpoints are far below each (RN50.pt: ~600 zip entries, ~500
 * tensors, a 44 KB pickle, module nesting depth 7). */
enum {
	CKPT_MAX_TENSORS = 1 << 18,      /* tensors built, and names emitted */
	CKPT_MAX_NAME = 4096,            /* bytes in one dotted name */
	CKPT_MAX_DEPTH = 100,            /* nesting of containers while naming */
	CKPT_MAX_ZIP_ENTRIES = 1 << 20,
	CKPT_MAX_PICKLE_OBJECTS = 1 << 22,
	CKPT_MAX_PICKLE_SLOTS = 1 << 24, /* container items, all containers together */
	CKPT_MAX_PICKLE_STACK = 1 << 20,
	CKPT_MAX_PICKLE_MARKS = 1 << 16,
	CKPT_MAX_PICKLE_MEMO = 1 << 22,
	CKPT_MAX_WALK_STEPS = 1 << 22,   /* objects visited while naming (DAG blow-up) */
	CKPT_MAX_SAFETENSORS_HEADER = 100 << 20 /* as the safetensors library */
};

/* Bytes set aside for contiguous copies of strided or misaligned tensors:
 * twice the file plus 64 MiB (a stride-0 "expanded" tensor can be larger than
 * its storage; a file cannot make us allocate much more than it weighs). */
#define CKPT_COPY_LIMIT(filesize) ((filesize) * 2 + ((size_t)64 << 20))

/* ---- table (ckpt.c) ---- */

/* Append an entry; name is copied. t->data must stay valid for the table's
 * life (into the mapping or an owned copy). -1 with err when over limits. */
int ckpt_table_add(ckpt_t *c, const char *name, size_t name_len, const tensor_t *t, char *err, size_t cap);
/* A zeroed buffer owned by the table, aligned for any dtype; NULL with err when
 * the copy budget (CKPT_COPY_LIMIT) or memory runs out. */
void *ckpt_table_alloc(ckpt_t *c, size_t nbytes, char *err, size_t cap);
void ckpt_table_set_format(ckpt_t *c, ckpt_format_t f);

/* Copy at most max bytes of s into a printable, quoted-safe form (control and
 * non-ASCII bytes become '?') for error messages. */
void ckpt_printable(char *dst, size_t cap, const char *s, size_t n);

/* Point t at n bytes of src (strides in elements, C order shape) as a
 * contiguous tensor: the mapping itself when already contiguous and aligned,
 * else a copy from ckpt_table_alloc. Bounds are the caller's job. */
int ckpt_table_view(ckpt_t *c, tensor_t *t, const uint8_t *storage, int64_t offset, const int64_t *stride,
		    char *err, size_t cap);

/* ---- zip container (zip.c) ---- */

typedef struct {
	const char *name; /* into the central directory, not NUL-terminated */
	size_t name_len;
	uint64_t data_off; /* of the entry's data, from the local header */
	uint64_t size;     /* compressed size (== uncompressed for stored) */
	uint64_t usize;
	int method;        /* 0 stored, 8 deflate, ... */
	int flags;
} ckpt_zip_entry_t;

typedef struct {
	ckpt_zip_entry_t *e; /* sorted by name, names unique */
	size_t n;
} ckpt_zip_t;

/* 1 if p starts like a zip file (local header or empty-archive EOCD). */
int ckpt_zip_sniff(const uint8_t *p, size_t n);
int ckpt_zip_open(const uint8_t *p, size_t n, ckpt_zip_t *z, char *err, size_t cap);
void ckpt_zip_free(ckpt_zip_t *z);
const ckpt_zip_entry_t *ckpt_zip_find(const ckpt_zip_t *z, const char *name, size_t len);
/* The bytes of a stored entry; -1 with err naming the entry if it is
 * compressed, encrypted or inconsistent. */
int ckpt_zip_data(const ckpt_zip_entry_t *e, const uint8_t *p, size_t n, const uint8_t **data, char *err,
		  size_t cap);

/* ---- pickle-based formats (pickle.c) ---- */

/* 1 if p starts with the legacy torch.save magic pickle. */
int ckpt_legacy_sniff(const uint8_t *p, size_t n);
int ckpt_read_torch_zip(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap);
int ckpt_read_legacy(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap);

/* ---- safetensors (safetensors.c) ---- */

int ckpt_safetensors_sniff(const uint8_t *p, size_t n);
int ckpt_read_safetensors(ckpt_t *c, const uint8_t *p, size_t n, char *err, size_t cap);

#endif
