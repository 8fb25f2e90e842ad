/* scoring.h - the arithmetic of zero-shot scoring, and per-image predictions
 * read back from scores/logits/topk records.
 *
 * All arithmetic is FP32 storage with double accumulation, whatever the
 * input precision: float16 inputs are widened first.
 */
#ifndef COMMON_SCORING_H
#define COMMON_SCORING_H

#include <stddef.h>
#include <stdint.h>

#include "classes.h"
#include "record.h"

enum {
	PRED_MAX_K = 5 /* predictions kept per image: enough for top-5 accuracy */
};

/* Number of NaN/Inf values in x[0, n). */
int64_t vec_count_nonfinite(const float *x, int64_t n);

/* out[0,n) = softmax(in[0,n)): max subtracted, expf, sum in double.
 * in and out may alias. */
void vec_softmax(const float *in, float *out, int64_t n);

/* cos[k] = normalize(e) . rows[k] for the K rows of c ([K,D], normalized);
 * e is [D] float32. Returns -1 (and touches nothing) when e is all zeros. */
int classes_cosines(const classes_t *c, const float *e, float *cos);

/* Positions of the k largest of v[0,n), best first, in idx[0..k). Ties go
 * to the lower class index cls[i] (NULL: the position is the class index);
 * NaN ranks below every number. k <= n. */
void vec_topk(const float *v, const int64_t *cls, int64_t n, int k, int64_t *idx);

/* A score vector from a scores or logits record: float32 values (converted
 * from float16 if needed) and, for a scores record written with --subset,
 * the class index of each position (its "index" list). */
typedef struct {
	float *v;      /* [n] values; buffer reused between calls */
	int64_t *cls;  /* [n] class index of each position; identity when no "index" */
	int64_t n;
	int is_logits; /* 1: from a logits record (values are not probabilities) */
	size_t cap;
} score_vec_t;

void score_vec_init(score_vec_t *s);
void score_vec_free(score_vec_t *s);
/* 0 ok, -1 with a message (missing/bad tensor, index list of the wrong
 * length or with bad entries). */
int score_vec_from_record(const record_t *rec, score_vec_t *s, char *err, size_t cap);

/* What errstats and fpdiff keep per image: small, so whole runs fit. */
typedef enum {
	PRED_OK,   /* from scores, logits (softmaxed) or topk */
	PRED_ERROR /* from an error record */
} pred_status_t;

typedef struct {
	char *id, *path; /* malloc'd; path NULL when the record has none */
	int64_t label;   /* -1: unknown */
	pred_status_t status;
	char *error;     /* PRED_ERROR: "stage: message" (malloc'd) */
	int ntop;        /* ranks known, <= PRED_MAX_K */
	int64_t top[PRED_MAX_K]; /* class indices, best first */
	float prob[PRED_MAX_K];
	int64_t nclasses; /* length of the score vector; 0 for topk records */
} pred_t;

/* Is this a record a pred_t can be made from (scores, logits, topk, error)? */
int pred_record_kind(const record_t *rec);

typedef enum {
	STAGE_WANT_ENCODED, /* embeddings or logits (zscore) */
	STAGE_WANT_SCORED   /* scores or logits (topk, errstats, errtree) */
} stage_want_t;

/* When rec comes from a stage before the one prog reads (an image record,
 * or an embedding where scores are wanted), writes into msg the one wording
 * every filter uses: what the record is, what prog reads and what to put
 * before it; returns 1. The whole stream is then the wrong one, so callers
 * stop (exit 2). Returns 0 for any other record. */
int stage_check_record(const record_t *rec, const char *prog, stage_want_t want, char *msg, size_t n);
/* The id images are matched by: absent (the record is then named "#N" by its
 * position), or a str without NUL bytes. An id of another type or with a
 * NUL (C strings would cut it, and "a\0x" match "a\0y") is a malformed
 * record: -1 with a message. */
int pred_id_check(const record_t *rec, char *err, size_t cap);
/* Fill p from such a record (scratch is reused for the score vector). On a
 * malformed record (pred_id_check too) returns -1 with a message and p is
 * left empty. */
int pred_from_record(const record_t *rec, pred_t *p, score_vec_t *scratch, char *err, size_t cap);
void pred_free(pred_t *p);
/* Rank of class c among p's top (0-based), or -1 when not there. */
int pred_rank_of(const pred_t *p, int64_t c);

/* pk_copy_keys_except for the records a filter builds from its input (a
 * scores record from an embedding, a topk record from scores): each str
 * value at the top level is packed by pk_strn, so an id or path that is not
 * UTF-8 arrives as its \xNN text and the new record is readable with
 * msgpack's raw=False; nested values are copied as they are. (Records passed
 * through whole, rec_pass, stay byte-exact.) */
void pk_copy_keys_utf8(msgpack_packer *pk, const record_t *rec, const char *const *skip);

/* A string -> int64 hash map (ids to positions); keys are copied. */
typedef struct {
	char **keys;
	int64_t *vals;
	size_t cap, n;
} idmap_t;

void idmap_init(idmap_t *m);
void idmap_free(idmap_t *m);
/* Insert; returns 0, or 1 (and leaves the old value) when the key exists. */
int idmap_put(idmap_t *m, const char *key, int64_t val);
/* Value, or -1 when absent. */
int64_t idmap_get(const idmap_t *m, const char *key);

#endif
