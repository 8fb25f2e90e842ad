/* eval.h - scoring and judging predictions: class tables (classes),
 * the arithmetic of zero-shot scoring and predictions read back (scoring),
 * prediction runs read whole, paired and counted (run), WordNet's noun
 * hierarchy (wordnet). Includes util and stream.
 */
#ifndef COMMON_EVAL_EVAL_H
#define COMMON_EVAL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"
#include "stream/stream.h"

/* ---- classes.c ----
 * zero-shot class tables, class-name files and class-index lists.
 *
 * A classes record (doc/records.md) is
 *   {"type": "classes", "model": str, "names": [str x K], "logit_scale": float,
 *    "tensor": float32 [K,D] rows L2-normalized, ...provenance keys}
 * Readers here also accept a float16 tensor and a [K,T,D] per-template
 * tensor (txtencode --per-template), which they reduce as CLIP's notebook
 * does; rows are always (re)normalized in FP32 on load, so a table rounded
 * through float16 still scores true cosines.
 *
 * Class-name files: one name per line, UTF-8, LF or CRLF, the line number
 * minus one is the class index (data/names-clip.txt). A missing final
 * newline is fine, so are empty lines at the very end; an empty line before
 * another entry is an error (it would shift every later index).
 * Class-index lists (zscore --subset): one decimal index per line, blank
 * lines and '#' comments ignored, no duplicates.
 * Class groups (zscore --groups): the same, with a second number on each
 * line after spaces or a tab: CLASS GROUP, GROUP any non-negative integer
 * (ObjectNet's files name a group by its first ImageNet class).
 */

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
	char sha256[65];    /* of the file's bytes as classes_load_path read them; "" otherwise */
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
/* The classes record of a stream file, read to its end: exactly one
 * classes record (other types skipped), no invalid record, no broken bytes. */
int classes_load_path(const char *path, classes_t *c, char *err, size_t cap);

/* Where `make classes` puts CLIP's ImageNet table: classes-clip-rn50.mp in
 * the weights folder (weights_path, util.h). Writes the path into buf;
 * returns buf. */
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

/* ---- scoring.c ----
 * the arithmetic of zero-shot scoring, and per-image predictions
 * read back from scores/logits/topk records.
 *
 * All arithmetic is FP32 storage with double accumulation, whatever the
 * input precision: float16 inputs are widened first.
 */

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
/* The id images are matched by: a str without NUL bytes. A record without
 * one (named by its position, it would pair with another run's record of
 * another image), an id of another type or with a NUL (C strings would cut
 * it, and "a\0x" match "a\0y") is a malformed record: -1 with a message. */
int pred_id_check(const record_t *rec, char *err, size_t cap);
/* Fill p from such a record (scratch is reused for the score vector). On a
 * malformed record (pred_id_check too) returns -1 with a message and p is
 * left empty. */
int pred_from_record(const record_t *rec, pred_t *p, score_vec_t *scratch, char *err, size_t cap);
void pred_free(pred_t *p);
/* Rank of class c among p's top (0-based), or -1 when not there. */
int pred_rank_of(const pred_t *p, int64_t c);
/* "index": [top...], "prob": [prob...] (n of each) into the object open in w:
 * the best classes as topk records hold them. */
void pred_json_top(jw_t *w, const int64_t *top, const float *prob, int n);

/* ---- run.c ----
 * a prediction run: one stream's predictions (scores, logits, topk and
 * error records as pred_t), with its provenance and class names; ids
 * indexed and paired between two runs; confusions; per-class counts. The
 * rules errstats, errtree and fpdiff share live here once:
 *   - header, stats and classes records are provenance and names (the
 *     latest names win: a classes record, a header's "class_names");
 *   - an image or embedding record means the wrong stream: fatal (exit 2)
 *     with what to run first (stage_check_record);
 *   - a malformed prediction record, a label that is not an integer (or
 *     beyond int64), or more than RUN_MAX_CLASSES scores: one stderr line
 *     "FILE: record N (id 'X'): why", counted, left out;
 *   - an id met again counts once, its first record; repeats are reported
 *     on stderr, not failures;
 *   - two runs pair by id as the ids are (no path normalising).
 */

enum {
	RUN_MAX_CLASSES = 1 << 24 /* per-class tables are dense: beyond this, garbage */
};

/* Ids in input order, each pointing at its first position. The ids are
 * borrowed: they must outlive the index. */
typedef struct {
	const char **id;
	int64_t n, cap;
	strmap_t first;     /* id -> position of its first occurrence */
	int64_t ndup;       /* positions whose id came earlier */
	int64_t first_dup;  /* the first of those, or -1 */
} id_index_t;

void ids_init(id_index_t *x);
void ids_free(id_index_t *x);
/* Append id; returns the position of its first occurrence. */
int64_t ids_add(id_index_t *x, const char *id);
int64_t ids_find(const id_index_t *x, const char *id); /* first position, or -1 */
int ids_is_first(const id_index_t *x, int64_t i);

/* Two runs paired by id: the first occurrence of each id of A that B has,
 * in A's order, with B's first occurrence. */
typedef struct {
	int64_t a, b;
} id_pair_t;

typedef struct {
	id_pair_t *pair;
	int64_t n;              /* ids in both */
	int64_t only_a, only_b; /* distinct ids in one run only */
} pairing_t;

void pairing_build(pairing_t *p, const id_index_t *a, const id_index_t *b);
void pairing_free(pairing_t *p);
/* A comparison of nothing is a failure, not an empty table: when the runs
 * named na and nb have ids (a->n or b->n) but none in common, one stderr
 * line says so (with the usual cause when both have ids: relative against
 * full paths) and it returns 1; else 0 (two empty runs compare nothing, and
 * fail nothing). what: what the ids are of ("labelled predictions"), NULL
 * for all records. */
int pairing_none(const pairing_t *p, const id_index_t *a, const id_index_t *b, const char *na, const char *nb,
		 const char *what);

typedef struct {
	const char *path;       /* as given; "-" is stdin */
	const char *name;       /* what messages and reports call it: a label, "stdin" or path */
	pred_t *p;              /* [n] predictions and error records, input order */
	uint64_t *recno;        /* [n] record number of each, for messages */
	unsigned char *indexed; /* [n] from a record with an "index" list (--subset) */
	int64_t n, cap;
	id_index_t ids;         /* built by run_index */
	int64_t nrecords;       /* prediction records met, whatever became of them */
	int64_t nunreadable;    /* records the stream reader refused */
	int64_t nmalformed;     /* prediction records pred_from_record refused */
	int64_t nbad;           /* left out: bad label, too many scores, or run_filter's reasons */
	prov_t prov;
	char **names; /* the latest names the stream carries */
	int64_t nnames;
	char *model, *precision; /* of the first scored prediction that names them */
	int mixed_models;        /* predictions of more than one model */
	int64_t kmax;            /* longest score vector */
	int64_t kwidth;          /* longest without an "index" list: a class count */
} run_t;

/* Header, stats or classes record: kept into prov and names; returns 1. */
int run_take_context(const record_t *rec, prov_t *prov, char ***names, int64_t *nnames);
/* Read a whole stream (rules above); prog names the reader in the wrong-
 * stream message; label, when given, is what messages call the stream;
 * max_record is --max-record's bound (0: the default). */
void run_read(run_t *r, const char *path, const char *label, const char *prog, size_t max_record);
/* "NAME: record N (id 'X'): ..." on stderr for prediction i. */
void run_msg(const run_t *r, int64_t i, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* Keep a prediction? 1: keep; 0 with why[0] set: an input failure (stderr
 * line, counted in nbad); 0 with why empty: left out quietly (the caller
 * counts it). */
typedef int (*run_keep_fn)(const pred_t *p, int indexed, void *ctx, char *why, size_t cap);
void run_filter(run_t *r, run_keep_fn keep, void *ctx);
/* Index the ids (after filtering); repeats get one stderr line, what
 * naming the records ("record", "labelled record"). */
void run_index(run_t *r, const char *what);
void run_free(run_t *r);

/* How often true class t was taken for p (n), most frequent first. */
typedef struct {
	int64_t t, p, n;
} confusion_t;

/* Merge entries of equal (t, p), summing n; sort by n desc, then t, p asc.
 * Returns the new count. */
int64_t confusions_merge(confusion_t *c, int64_t n);

/* Per-class counts over a run's first record of each id (and, with use, only
 * positions i with use[i]): error records are failures, never in accuracy. */
typedef struct {
	int64_t nclasses;
	int64_t scored, labelled, unlabelled, failed;
	int64_t top1, top5;
	int top5_known; /* every labelled image has >= 5 ranks (or all K) */
	int64_t *support, *correct, *predicted, *correct5; /* [nclasses] */
	double *wrong_prob; /* [nclasses] summed top-1 probability of the wrong predictions */
	int64_t with_support;
	double mean_recall; /* mean over classes with support of correct/support */
	confusion_t *conf;  /* top-1 mistakes, merged */
	int64_t nconf;
} run_counts_t;

/* Labels and top classes must be < nclasses (run_filter first). */
void run_counts(const run_t *r, const unsigned char *use, int64_t nclasses, run_counts_t *s);
void run_counts_free(run_counts_t *s);

/* ---- wordnet.c ----
 * the WordNet 3.0 noun hierarchy (data.noun) and the part of it
 * that a set of classes spans: lowest common ancestors, heights, depths,
 * families. Used by errtree to say how far off a classifier's mistake is.
 *
 * ImageNet's wnid "n01440764" names the noun synset at offset 01440764.
 * The file format is described byte by byte at the top of wordnet.c.
 *
 * Terms used here (the class hierarchy H, built by wn_hier_build):
 *   H        the classes' synsets and every synset above them, following
 *            '@' (hypernym) and '@i' (instance hypernym) pointers. WordNet is
 *            a DAG: a synset may have several parents (dog: canine and
 *            domestic animal).
 *   height   of a node: the longest path down from it to a leaf of H (a
 *            leaf has height 0). Every leaf of H is a class. Longest (not
 *            shortest) so that a parent is always strictly higher than each
 *            of its children.
 *   depth    of a node: the shortest path up from it to the root.
 *   LCA      of two nodes: among the nodes that are ancestors of both
 *            (a node is its own ancestor), the one of least height; ties go
 *            to the smaller synset offset. In a tree this is the usual LCA;
 *            in the DAG it picks the most specific shared ancestor by height.
 * H must have exactly one root (WordNet's nouns all lead up to "entity").
 */

typedef struct {
	uint32_t offset;       /* synset_offset: the synset's number (wnid without the 'n') */
	uint32_t line;         /* 1-based line in data.noun, for messages */
	const char *words;     /* "dog, domestic dog, Canis familiaris": underscores as spaces */
	uint32_t name_len;     /* bytes of the first word at the start of words */
	uint32_t nparents;     /* '@' and '@i' pointers, in file order */
	uint32_t parent_first; /* parents are wordnet_t.parents[parent_first ..] */
} wn_synset_t;

typedef struct {
	char *path;
	wn_synset_t *synsets; /* [n] in ascending offset order */
	size_t n;
	uint32_t *parents; /* synset indices into synsets */
	char *text;        /* storage of every synset's words */
} wordnet_t;

/* Read a data.noun file. 0, or -1 with "PATH:LINE: what" in err. */
int wn_load(wordnet_t *wn, const char *path, char *err, size_t cap);
void wn_free(wordnet_t *wn);
/* Index of the synset with this offset, or -1. */
long wn_find(const wordnet_t *wn, uint32_t offset);
/* "n01440764" (exactly 'n' and 8 digits, n bytes) -> 1440764; -1 if not a noun wnid. */
int wn_parse_wnid(const char *s, size_t n, uint32_t *offset);

/* The class hierarchy H (terms above). Nodes are numbered 0..nnodes-1 in
 * ascending synset offset, so "smaller node" means "smaller offset". */
typedef struct {
	const wordnet_t *wn;
	int nnodes, nclasses;
	int root;         /* the one node without parents */
	uint32_t *synset; /* [nnodes] synset index in wn */
	int *class_node;  /* [nclasses] node of each class */
	int *node_class;  /* [nnodes] class of each node, or -1 */
	int *height;      /* [nnodes] longest path down to a leaf */
	int *depth;       /* [nnodes] shortest path up to the root */
	int *nunder;      /* [nnodes] classes at or below the node */
	int *par_first;   /* [nnodes+1]: parents of v are par[par_first[v] .. par_first[v+1]) */
	int *par;
	int *kid_first; /* [nnodes+1]: children, same layout */
	int *kid;
	size_t words;  /* 64-bit words per ancestor set */
	uint64_t *anc; /* [nnodes][words]: bit u of row v set when u is v or above v */
} wn_hier_t;

/* H for classes 0..n-1 whose synset offsets are offsets[0..n). Fails (with
 * a message naming the class) on an offset not in wn, two classes with the
 * same synset, a hypernym cycle, or more than one root. */
int wn_hier_build(wn_hier_t *h, const wordnet_t *wn, const uint32_t *offsets, int n, char *err, size_t cap);
void wn_hier_free(wn_hier_t *h);
/* The LCA node of nodes a and b (definition above). */
int wn_hier_lca(const wn_hier_t *h, int a, int b);
/* Is node u an ancestor of node v (or v itself)? */
int wn_hier_is_ancestor(const wn_hier_t *h, int u, int v);
/* The node's synset. */
const wn_synset_t *wn_hier_synset(const wn_hier_t *h, int node);

/* Families, for per-family tables: a partition of the classes into large
 * subtrees. For this only, H is made a tree by keeping each synset's first
 * listed hypernym (WordNet lists the main one first: dog under canine, not
 * domestic animal; wheeled vehicle under vehicle, not container). From the
 * root, the family with the most classes (ties: smaller offset) is split
 * into its children with classes, until every family that is not itself a
 * class has at most max_classes. *fam gets the family nodes (malloc'd) by
 * descending class count, ties by offset; class_fam[c] the position of
 * class c's family in *fam. Returns the number of families. With ImageNet
 * and max_classes 130, canine (118 dogs, wolves, foxes...) is one family,
 * birds another. */
int wn_hier_families(const wn_hier_t *h, int max_classes, int **fam, int *class_fam);

#endif
