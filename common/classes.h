/* classes.h - zero-shot class tables, class-name files and class-index lists.
 *
 * A classes record (SPEC.md section 1) is
 *   {"type": "classes", "model": str, "names": [str x K], "logit_scale": float,
 *    "tensor": float32 [K,D] rows L2-normalized, ...provenance keys}
 * Readers here also accept a float16 tensor and a [K,T,D] per-template
 * tensor (txtencode --per-template), which they reduce as CLIP's notebook
 * does; rows are always (re)normalized in FP32 on load, so a table rounded
 * through float16 still scores true cosines.
 *
 * Class-name files: one name per line, UTF-8, LF or CRLF, the line number
 * minus one is the class index (testdata/names-clip.txt). A missing final
 * newline is fine, so are empty lines at the very end; an empty line before
 * another entry is an error (it would shift every later index).
 * Class-index lists (zscore --subset): one decimal index per line, blank
 * lines and '#' comments ignored, no duplicates.
 * Class groups (zscore --groups): the same, with a second number on each
 * line after spaces or a tab: CLASS GROUP, GROUP any non-negative integer
 * (ObjectNet's files name a group by its first ImageNet class).
 */
#ifndef COMMON_CLASSES_H
#define COMMON_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* The largest logit scale a table may carry: CLIP's is 100 (exp of its
 * learned temperature, clamped at 100 in training); far beyond, scale x cosine
 * overflows float and the softmax gives NaN. */
#define CLASSES_MAX_LOGIT_SCALE 1e6
/* s in (0, CLASSES_MAX_LOGIT_SCALE]: false for NaN and infinities too */
static inline int classes_logit_scale_ok(double s) { return s > 0 && s <= CLASSES_MAX_LOGIT_SCALE; }

typedef struct {
	int64_t k, d;       /* classes, embedding width */
	float *rows;        /* [K,D] float32, row-major, each row L2-normalized */
	char **names;       /* K malloc'd names, or NULL when the table has none */
	double logit_scale; /* multiplies cosines before the softmax (CLIP: 100) */
	char *model;        /* the model the table belongs to, or NULL */
	char *source;       /* file (or "stream record N") it came from */
} classes_t;

void classes_init(classes_t *c);
void classes_free(classes_t *c);

/* Rows from an embedding table: data of dtype float32/float16/float64/
 * bfloat16, shape [K,D] (each row normalized) or [K,T,D] (each of the T
 * vectors normalized, averaged, normalized again: CLIP's notebook). With
 * transpose, a [D,K] table (CLIP's zeroshot_weights layout) is read as
 * [K,D]. *rows is a malloc'd [K,D] float32. Fails, with a message naming
 * the class, on a NaN/Inf value or an all-zero vector. */
int classes_build_rows(dtype_t dtype, const void *data, int ndim, const int64_t *shape, int transpose,
		       float **rows, int64_t *k, int64_t *d, int64_t *templates, char *err, size_t cap);

/* A classes record into c (c must be freshly initialised or freed). */
int classes_from_record(const record_t *rec, classes_t *c, char *err, size_t cap);
/* The first classes record of a stream file. */
int classes_load_path(const char *path, classes_t *c, char *err, size_t cap);

/* Where `make weights` puts CLIP's ImageNet table: $RNENC_WEIGHTS/classes-
 * clip-rn50.mp, else ${XDG_CACHE_HOME:-$HOME/.cache}/rnencode/weights/
 * classes-clip-rn50.mp. Writes the path into buf; returns buf. */
const char *classes_default_path(char *buf, size_t cap);

/* Names from a file (format above): *names is a malloc'd array of n
 * malloc'd strings. names_parse: the same from the file's text already read
 * (text[len], NUL-terminated, modified), path naming it in messages. */
int names_load(const char *path, char ***names, int64_t *n, char *err, size_t cap);
int names_parse(const char *path, char *text, size_t len, char ***names, int64_t *n, char *err, size_t cap);
/* Do the nnames names of --names PATH fit n values of a record (what:
 * "scores", "logits", ...; where: rec_where's)? cls NULL: a full vector of n
 * classes, which needs exactly n names; else the n class indices the record
 * uses, each of which needs a name. 0, or -1 with the message in err. */
int names_fit(const char *path, int64_t nnames, const char *what, const int64_t *cls, int64_t n, const char *where,
	      char *err, size_t cap);
/* Names from a msgpack array of str; -1 if it is not one. */
int names_from_object(const msgpack_object *o, char ***names, int64_t *n);
/* Replace the list (*names, *n), freeing the old one, when o is an array of str;
 * otherwise leave them as they are. */
void names_replace_from_object(const msgpack_object *o, char ***names, int64_t *n);
void names_free(char **names, int64_t n);

/* Class indices from a file (format above); each must be < limit. */
int index_list_load(const char *path, int64_t limit, int64_t **idx, int64_t *n, char *err, size_t cap);
/* Class groups from a file (format above): *idx[i] and *group[i], i < n. */
int index_groups_load(const char *path, int64_t limit, int64_t **idx, int64_t **group, int64_t *n, char *err,
		      size_t cap);

#endif
