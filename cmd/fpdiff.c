/* fpdiff - compare two runs over the same images: FP32 vs FP16, exact vs
 * --fast decoding, two batch sizes, CPU vs GPU.
 *
 * In: REFERENCE and CANDIDATE streams. Per image (matched by id; a stream
 * may hold several record types per id, merged) it uses scores (zscore),
 * logits (softmaxed for probabilities; raw values compared too), embedding
 * (compared raw; probabilities too with --classes), topk (their k classes),
 * error (the image failed in that run); stats records (time, throughput,
 * peak memory: printed side by side, whatever keys they hold); headers
 * (provenance). Out: a report on stdout (text, or --json), never records:
 *   - images matched, unmatched (by id), errors and NaN/Inf in each run
 *   - max and mean |difference| of probabilities and of embeddings/logits,
 *     embedding cosine (mean, worst)
 *   - top-1 flips, top-5 agreement (identical sets; mean overlap)
 *   - the first N images' top-5 probabilities side by side (--top N)
 *   - time and memory from the stats records, candidate/reference ratios
 * Exit 1 when the top-1 disagreement rate exceeds --tolerance (default 0)
 * or the max probability difference exceeds --prob-tol (when given). An
 * image that failed (error record, NaN/Inf) in one run only counts as a
 * disagreement: a candidate that returns NaN has not agreed. A check that
 * compared nothing fails too (exit 1, the report says why): no image in
 * common, no class ranking (embeddings without --classes), no probabilities
 * for --prob-tol; so does an unreadable record. The verdict line names the
 * cause. --names must hold one name per class of the streams (else exit 2,
 * before any report); both streams on stdin is a usage error.
 * It does not compute accuracy (errstats): labels are shown, not scored.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "util/util.h"
#include "stream/stream.h"

typedef struct {
	long top;
	double tolerance;
	double prob_tol; /* < 0: not checked */
	const char *classes_path;
	const char *names_path;
	int json;
	const char *ref_path, *cand_path; /* A B, or A --compare B */
	const char *label[2]; /* --label: names for the reference, the candidate */
	int nlabels;
	size_t max_record;
} options_t;

typedef enum {
	RAW_NONE,
	RAW_EMBEDDING,
	RAW_LOGITS
} raw_kind_t;

/* One image in one run. */
typedef struct {
	char *id, *path;
	int64_t label;
	char *error;        /* "stage: message" when the run failed the image */
	float *prob;        /* [nprob] probabilities, or NULL */
	int64_t *cls;       /* class index per prob position (subset), NULL: identity */
	int64_t nprob;
	float *raw;         /* [nraw] embedding or logits, or NULL */
	int64_t nraw;
	raw_kind_t raw_kind;
	int ntop;           /* top classes from prob or a topk record */
	int64_t top[PRED_MAX_K];
	float topprob[PRED_MAX_K];
	int64_t nonfinite;  /* NaN/Inf values in its tensors */
} item_t;

typedef struct {
	const char *path;
	item_t *v;
	int64_t n, cap;
	id_index_t ids; /* one item per id: records of an id merge */
	prov_t prov;
	char **names;
	int64_t nnames;
	char *model, *precision;
	int64_t nerrors, nonfinite_items, nonfinite_values, ninvalid, ndup;
} side_t;

typedef struct {
	pairing_t pr;                 /* (reference, candidate) items of each id in both */
	int64_t common, only_ref, only_cand;
	int64_t compared;             /* usable in both */
	int64_t fail_one_side;        /* error/NaN in exactly one run */
	int64_t fail_both;
	int64_t top1_known, flips;
	int64_t top5_known, top5_same_set, top5_same_order;
	double top5_overlap_sum;
	int64_t prob_images, prob_values, prob_len_mismatch;
	double prob_max, prob_sum;
	int64_t prob_max_item, prob_max_class; /* ref item, class index */
	int64_t raw_images, raw_values, raw_mismatch;
	raw_kind_t raw_kind;
	double raw_max, raw_sum, cos_sum, cos_min;
	int64_t raw_max_item, cos_min_item;
	int64_t *flip_items;
	int64_t nflip_items;
	double disagreement;      /* meaningful only when top1_measured */
	int top1_measured;        /* some image counted for top-1 (flip or one-run failure) */
	int top1_over, prob_over, prob_unchecked;
	int64_t unreadable;       /* invalid records, both runs */
	int fail;
} result_t;

/* --names from a file, checked against the classes of every record read. */
typedef struct {
	const char *path;
	int64_t n;
} names_check_t;

static char **g_names;
static int64_t g_nnames;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: fpdiff [OPTIONS] REFERENCE CANDIDATE\n"
	       "       fpdiff [OPTIONS] REFERENCE --compare CANDIDATE\n"
	       "Compare two runs over the same images (FP32 vs FP16, exact vs --fast decode,\n"
	       "two batch sizes, CPU vs GPU), images matched by id: max/mean |diff| of\n"
	       "probabilities and of embeddings or logits, embedding cosine, NaN/Inf counts,\n"
	       "top-1 flips, top-5 agreement, the first images' top-5 probabilities side by\n"
	       "side, and time and peak memory from the runs' stats records.\n"
	       "\n"
	       "  -k, --top N           top-5 table for the first N images (default 5; 0: none)\n"
	       "      --tolerance R     allowed top-1 disagreement rate (default 0: none)\n"
	       "      --prob-tol P      also fail when a probability differs by more than P\n"
	       "      --classes FILE    a classes record: probabilities for embedding streams\n"
	       "      --compare CAND    the candidate: REFERENCE --compare CANDIDATE is\n"
	       "                        REFERENCE CANDIDATE (errstats and errtree spell it so)\n"
	       "  -n, --names FILE      class names, one per line (default: from the streams)\n"
	       "  -L, --label NAME      name the reference (first -L) and candidate (second)\n"
	       "                        in messages and the report instead of their paths\n"
	       "                        (as diff -L does; for <(...) streams)\n"
	       "      --json            the report as one JSON document\n"
	       "      --max-record B    refuse input records larger than B bytes (default\n"
	       "                        1 GiB) or holding more than B/256 msgpack values\n"
	       "                        (at least 65536)\n"
	       "  -h, --help            this help\n"
	       "Old spellings, for one more release (a note on stderr names the new one):\n"
	       "--show N and -s N (--top N), -t R (--tolerance R), -p P (--prob-tol P),\n"
	       "-c FILE (--classes FILE).\n"
	       "\n"
	       "An image that failed (error record, NaN/Inf) in one run only counts as a top-1\n"
	       "disagreement. Records of several types per id (embedding and scores) merge.\n"
	       "\n"
	       "Examples:\n"
	       "  fpdiff fp32-scores.mp fp16-scores.mp\n"
	       "  fpdiff --top 10 --prob-tol 0.01 fp32.mp --compare fp16.mp\n"
	       "  fpdiff --classes classes.mp cpu-emb.mp gpu-emb.mp\n"
	       "  fpdiff --tolerance 0.01 exact.mp fast.mp || echo 'more than 1%% flipped'\n"
	       "  fpdiff -L fp32 -L fp16 <(cat emb32.mp s32.mp) <(cat emb16.mp s16.mp)\n"
	       "\n"
	       "A check that compares nothing fails: no image in common, no class ranking\n"
	       "(embeddings without --classes), no probabilities for --prob-tol.\n"
	       "\n"
	       "Exit status: 0 within tolerance; 1 top-1 disagreement above --tolerance, a\n"
	       "probability difference above --prob-tol, nothing compared, or unreadable\n"
	       "records (the verdict line says which); 2 usage error (both streams on stdin,\n"
	       "--names not one name per class) or a broken stream.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { OPT_SHOW = 256, OPT_TOLERANCE, OPT_PROB_TOL, OPT_CLASSES, OPT_COMPARE, OPT_JSON, OPT_MAX_RECORD };
	static const struct option longopts[] = {
		{"top", required_argument, NULL, 'k'},          {"show", required_argument, NULL, OPT_SHOW},
		{"tolerance", required_argument, NULL, OPT_TOLERANCE}, {"prob-tol", required_argument, NULL, OPT_PROB_TOL},
		{"classes", required_argument, NULL, OPT_CLASSES}, {"compare", required_argument, NULL, OPT_COMPARE},
		{"names", required_argument, NULL, 'n'},        {"json", no_argument, NULL, OPT_JSON},
		{"label", required_argument, NULL, 'L'},        {"help", no_argument, NULL, 'h'},
		{"max-record", required_argument, NULL, OPT_MAX_RECORD},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->top = 5;
	o->prob_tol = -1;
	const char *compare = NULL;
	int c;
	while ((c = opt_next(argc, argv, "k:s:t:p:c:n:L:h", longopts)) != -1) {
		switch (c) {
		case 's': opt_old_spelling("-s N", "--top N (-k N)"); o->top = opt_parse_long("--top", optarg, 0, 1000000); break;
		case OPT_SHOW: opt_old_spelling("--show N", "--top N (-k N)"); /* fall through */
		case 'k': o->top = opt_parse_long("--top", optarg, 0, 1000000); break;
		case 't': opt_old_spelling("-t R", "--tolerance R"); /* fall through */
		case OPT_TOLERANCE:
			o->tolerance = opt_parse_double("--tolerance", optarg);
			if (o->tolerance < 0 || o->tolerance > 1)
				diag_usage("--tolerance: %s is not a rate in 0..1", optarg);
			break;
		case 'p': opt_old_spelling("-p P", "--prob-tol P"); /* fall through */
		case OPT_PROB_TOL:
			o->prob_tol = opt_parse_double("--prob-tol", optarg);
			if (o->prob_tol < 0)
				diag_usage("--prob-tol: %s is negative", optarg);
			break;
		case 'c': opt_old_spelling("-c FILE", "--classes FILE"); /* fall through */
		case OPT_CLASSES: o->classes_path = optarg; break;
		case OPT_COMPARE: compare = optarg; break;
		case 'n': o->names_path = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MAX_RECORD: o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 'L':
			if (o->nlabels == 2)
				diag_usage("--label: given more than twice (one for each stream)");
			if (!*optarg)
				diag_usage("--label: empty name");
			o->label[o->nlabels++] = optarg;
			break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (argc - optind != (compare ? 1 : 2))
		diag_usage(compare ? "need REFERENCE --compare CANDIDATE: one stream besides --compare (got %d)"
				   : "need REFERENCE and CANDIDATE streams (got %d)",
			   argc - optind);
	o->ref_path = argv[optind];
	o->cand_path = compare ? compare : argv[optind + 1];
	/* reading stdin twice would compare a stream with nothing */
	if (strcmp(o->ref_path, "-") == 0 && strcmp(o->cand_path, "-") == 0)
		diag_usage("CANDIDATE -: stdin is already the first stream");
}

/* ---- reading ---- */

/* rec's id was checked (pred_id_check): a str without NUL */
static item_t *item_for(side_t *r, const record_t *rec)
{
	char *id = rec_dup_str(rec, "id");
	int64_t at = ids_find(&r->ids, id);
	if (at >= 0) {
		free(id);
		return &r->v[at];
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->v = xrealloc(r->v, (size_t)r->cap * sizeof *r->v);
	}
	item_t *it = &r->v[r->n];
	memset(it, 0, sizeof *it);
	it->id = id;
	it->label = -1;
	rec_get_int(rec, "label", &it->label);
	it->path = rec_dup_str(rec, "path");
	ids_add(&r->ids, id);
	r->n++;
	return it;
}

/* The item's probabilities and top classes from p[n] (class cls[i], NULL:
 * i). softmax: p holds logits, ranked as they are (softmax ties classes
 * that underflow to 0) and then turned into probabilities in place. */
static void item_set_prob(item_t *it, float *p, const int64_t *cls, int64_t n, int softmax)
{
	int64_t idx[PRED_MAX_K];
	int k = n < PRED_MAX_K ? (int)n : PRED_MAX_K;
	vec_topk(p, cls, n, k, idx);
	if (softmax)
		vec_softmax(p, p, n);
	it->prob = xmemdup(p, (size_t)n * sizeof *p);
	it->nprob = n;
	int identity = 1;
	for (int64_t i = 0; i < n && cls; i++)
		identity &= cls[i] == i;
	if (cls && !identity) {
		it->cls = xmemdup(cls, (size_t)n * sizeof *cls);
	}
	for (int i = 0; i < k; i++) {
		it->top[i] = cls ? cls[idx[i]] : idx[i];
		it->topprob[i] = p[idx[i]];
	}
	it->ntop = k;
}

static void bad_record(side_t *r, const record_t *rec, const char *msg)
{
	char where[320];
	rec_where(where, sizeof where, r->path, rec);
	diag_msg("%s: %s", where, msg);
	r->ninvalid++;
}

/* --names that do not fit the classes would put wrong names on the report
 * (or none): a usage error, found while reading, before any output. cls
 * NULL: a full vector of n classes; else the n class indices a record uses. */
static void check_names(const names_check_t *nc, const side_t *r, const record_t *rec, const char *what,
			const int64_t *cls, int64_t n)
{
	if (!nc)
		return;
	char where[320], err[1024];
	rec_where(where, sizeof where, r->path, rec);
	if (names_fit(nc->path, nc->n, what, cls, n, where, err, sizeof err) != 0)
		diag_fatal("%s", err);
}

/* One vector record (scores/logits/embedding) into its item. */
static void take_vector(side_t *r, const record_t *rec, const classes_t *cl, const names_check_t *nc,
			score_vec_t *sv, float **scratch, size_t *scap)
{
	char err[384];
	if (score_vec_from_record(rec, sv, err, sizeof err) != 0) {
		bad_record(r, rec, err);
		return;
	}
	int is_emb = rec_is(rec, "embedding");
	if (!is_emb) /* an embedding's classes are --classes', checked once in main */
		check_names(nc, r, rec, sv->is_logits ? "logits" : "scores", rec_get(rec, "index") ? sv->cls : NULL,
			    sv->n);
	item_t *it = item_for(r, rec);
	if ((rec_is(rec, "scores") && it->prob) || ((is_emb || sv->is_logits) && it->raw)) {
		r->ndup++;
		return;
	}
	int64_t bad = vec_count_nonfinite(sv->v, sv->n);
	if (bad) {
		if (!it->nonfinite)
			r->nonfinite_items++;
		it->nonfinite += bad;
		r->nonfinite_values += bad;
		return;
	}
	if (is_emb || sv->is_logits) {
		it->raw = xmemdup(sv->v, (size_t)sv->n * sizeof *sv->v);
		it->nraw = sv->n;
		it->raw_kind = is_emb ? RAW_EMBEDDING : RAW_LOGITS;
	}
	if (it->prob)
		return; /* a scores record gave them already */
	if (sv->is_logits) {
		item_set_prob(it, sv->v, NULL, sv->n, 1);
	} else if (is_emb) {
		if (!cl->k)
			return;
		if (sv->n != cl->d) {
			snprintf(err, sizeof err, "embedding has %lld values but --classes rows have %lld",
				 (long long)sv->n, (long long)cl->d);
			bad_record(r, rec, err);
			return;
		}
		if ((size_t)cl->k > *scap) {
			free(*scratch);
			*scratch = xmalloc((size_t)cl->k * sizeof **scratch);
			*scap = (size_t)cl->k;
		}
		if (classes_cosines(cl, sv->v, *scratch) != 0)
			return; /* an all-zero embedding: no direction, no probabilities */
		for (int64_t k = 0; k < cl->k; k++)
			(*scratch)[k] = (float)(cl->logit_scale * (*scratch)[k]);
		item_set_prob(it, *scratch, NULL, cl->k, 1);
	} else {
		item_set_prob(it, sv->v, rec_get(rec, "index") ? sv->cls : NULL, sv->n, 0);
	}
}

/* path is read; name (its --label, else path) is what messages and the
 * report call it. */
static void side_read(side_t *r, const char *path, const char *name, const classes_t *cl, const names_check_t *nc,
		      size_t max_record)
{
	memset(r, 0, sizeof *r);
	r->path = name ? name : path;
	ids_init(&r->ids);
	prov_init(&r->prov);
	rec_reader_t *rd = rec_reader_open_path(path, max_record);
	if (!rd)
		diag_fatal("%s: %s", path, strerror(errno));
	if (name)
		rec_reader_set_name(rd, name);
	score_vec_t sv;
	score_vec_init(&sv);
	float *scratch = NULL;
	size_t scap = 0;
	record_t rec;
	int ninvalid = 0;
	while (rec_next(rd, &rec, NULL, &ninvalid)) {
		if (run_take_context(&rec, &r->prov, &r->names, &r->nnames))
			continue;
		int vec = rec_is(&rec, "scores") || rec_is(&rec, "logits") || rec_is(&rec, "embedding");
		if (!vec && !rec_is(&rec, "topk") && !rec_is(&rec, "error"))
			continue;
		if (!r->model && !rec_is(&rec, "error")) {
			r->model = rec_dup_str(&rec, "model");
			r->precision = rec_dup_str(&rec, "precision");
		}
		char err[384];
		if (vec && pred_id_check(&rec, err, sizeof err) != 0) {
			bad_record(r, &rec, err);
			continue;
		}
		if (vec) {
			take_vector(r, &rec, cl, nc, &sv, &scratch, &scap);
			continue;
		}
		pred_t p;
		if (pred_from_record(&rec, &p, &sv, err, sizeof err) != 0) {
			bad_record(r, &rec, err);
			continue;
		}
		if (p.status != PRED_ERROR)
			check_names(nc, r, &rec, "topk records", p.top, p.ntop);
		item_t *it = item_for(r, &rec);
		if (p.status == PRED_ERROR) {
			if (!it->error) {
				it->error = p.error;
				p.error = NULL;
				r->nerrors++;
			}
		} else if (!it->ntop) { /* a topk record: only its classes are known */
			it->ntop = p.ntop;
			memcpy(it->top, p.top, sizeof p.top);
			memcpy(it->topprob, p.prob, sizeof p.prob);
		}
		pred_free(&p);
	}
	r->ninvalid += ninvalid;
	free(scratch);
	score_vec_free(&sv);
	rec_reader_free(rd);
}

static void side_free(side_t *r)
{
	for (int64_t i = 0; i < r->n; i++) {
		item_t *it = &r->v[i];
		free(it->id);
		free(it->path);
		free(it->error);
		free(it->prob);
		free(it->cls);
		free(it->raw);
	}
	free(r->v);
	ids_free(&r->ids);
	prov_free(&r->prov);
	names_free(r->names, r->nnames);
	free(r->model);
	free(r->precision);
}

/* ---- comparing ---- */

static int usable(const item_t *it)
{
	return !it->error && !it->nonfinite && (it->ntop || it->raw);
}

static int same_cls(const item_t *a, const item_t *b)
{
	if (!a->cls && !b->cls)
		return 1;
	if (!a->cls || !b->cls)
		return 0;
	return memcmp(a->cls, b->cls, (size_t)a->nprob * sizeof *a->cls) == 0;
}

/* ia: the reference item; pair: its pair */
static void compare_items(result_t *res, const item_t *a, const item_t *b, int64_t ia, int64_t pair)
{
	if (a->prob && b->prob) {
		if (a->nprob != b->nprob || !same_cls(a, b)) {
			res->prob_len_mismatch++;
		} else {
			res->prob_images++;
			for (int64_t k = 0; k < a->nprob; k++) {
				double d = fabs((double)a->prob[k] - (double)b->prob[k]);
				res->prob_sum += d;
				if (d > res->prob_max || res->prob_max_item < 0) {
					res->prob_max = d;
					res->prob_max_item = ia;
					res->prob_max_class = a->cls ? a->cls[k] : k;
				}
			}
			res->prob_values += a->nprob;
		}
	}
	if (a->raw && b->raw) {
		if (a->nraw != b->nraw || a->raw_kind != b->raw_kind) {
			res->raw_mismatch++;
		} else {
			res->raw_images++;
			res->raw_kind = a->raw_kind;
			double dot = 0, na = 0, nb = 0;
			for (int64_t k = 0; k < a->nraw; k++) {
				double x = a->raw[k], y = b->raw[k], d = fabs(x - y);
				res->raw_sum += d;
				if (d > res->raw_max || res->raw_max_item < 0) {
					res->raw_max = d;
					res->raw_max_item = ia;
				}
				dot += x * y;
				na += x * x;
				nb += y * y;
			}
			res->raw_values += a->nraw;
			double cs = na > 0 && nb > 0 ? dot / sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
			res->cos_sum += cs;
			if (cs < res->cos_min || res->cos_min_item < 0) {
				res->cos_min = cs;
				res->cos_min_item = ia;
			}
		}
	}
	if (a->ntop && b->ntop) {
		res->top1_known++;
		if (a->top[0] != b->top[0])
			res->flip_items[res->nflip_items++] = pair;
		if (a->ntop >= PRED_MAX_K && b->ntop >= PRED_MAX_K) {
			res->top5_known++;
			int overlap = 0, order = 1;
			for (int i = 0; i < PRED_MAX_K; i++) {
				order &= a->top[i] == b->top[i];
				for (int j = 0; j < PRED_MAX_K; j++)
					overlap += a->top[i] == b->top[j];
			}
			res->top5_overlap_sum += overlap;
			res->top5_same_set += overlap == PRED_MAX_K;
			res->top5_same_order += order;
		}
	}
}

static void compare_runs(const options_t *o, const side_t *ref, const side_t *cand, result_t *res)
{
	memset(res, 0, sizeof *res);
	res->prob_max_item = res->raw_max_item = res->cos_min_item = -1;
	res->cos_min = 1;
	pairing_build(&res->pr, &ref->ids, &cand->ids);
	res->common = res->pr.n;
	res->only_ref = res->pr.only_a;
	res->only_cand = res->pr.only_b;
	res->flip_items = xmalloc(((size_t)res->common + 1) * sizeof *res->flip_items);
	for (int64_t k = 0; k < res->common; k++) {
		int64_t i = res->pr.pair[k].a;
		const item_t *a = &ref->v[i], *b = &cand->v[res->pr.pair[k].b];
		int ua = usable(a), ub = usable(b);
		if (!ua && !ub) {
			res->fail_both++;
			continue;
		}
		if (ua != ub) {
			res->fail_one_side++;
			continue;
		}
		res->compared++;
		compare_items(res, a, b, i, k);
	}
	res->flips = res->nflip_items;
	int64_t den = res->top1_known + res->fail_one_side;
	res->top1_measured = den > 0;
	res->disagreement = den ? (double)(res->flips + res->fail_one_side) / (double)den : 0;
	res->top1_over = den && res->disagreement > o->tolerance;
	res->prob_over = o->prob_tol >= 0 && res->prob_images && res->prob_max > o->prob_tol;
	/* a check that compared nothing has not passed: `fpdiff a b || echo
	 * flipped` must not read empty, disjoint or unranked runs as agreement */
	res->prob_unchecked = o->prob_tol >= 0 && !res->prob_images;
	res->unreadable = ref->ninvalid + cand->ninvalid;
	res->fail = res->top1_over || res->prob_over || !res->top1_measured || res->prob_unchecked || res->unreadable;
}

/* Why no image has a top-1 class in both runs (top1_known == 0). */
static const char *top1_missing_reason(const side_t *ref, const side_t *cand, const result_t *res)
{
	if (!res->common)
		return ref->n || cand->n ? "no image in common" : "no image in either run";
	if (res->compared)
		return "no class ranking (embeddings need --classes)";
	return "no image usable in both runs";
}

/* The causes of a FAIL, joined by "; " (empty when it passed); with_top1: also
 * a top-1 disagreement above tolerance (the verdict line shows that one). */
static void fail_causes(char *buf, size_t cap, const options_t *o, const side_t *ref, const side_t *cand,
			const result_t *res, int with_top1)
{
	size_t n = 0;
	buf[0] = 0;
#define CAUSE(...)                                                                              \
	do {                                                                                   \
		if (n < cap)                                                                   \
			n += (size_t)snprintf(buf + n, cap - n, "%s", n ? "; " : "");          \
		if (n < cap)                                                                   \
			n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                  \
	} while (0)
	if (with_top1 && res->top1_over)
		CAUSE("top-1 disagreement %.6f above tolerance %.6g", res->disagreement, o->tolerance);
	if (!res->top1_measured)
		CAUSE("top-1 not compared: %s", top1_missing_reason(ref, cand, res));
	if (res->prob_over)
		CAUSE("max probability |diff| %.6g above --prob-tol %.6g", res->prob_max, o->prob_tol);
	if (res->prob_unchecked)
		CAUSE("no probabilities compared for --prob-tol");
	if (res->unreadable)
		CAUSE("%lld unreadable record%s", (long long)res->unreadable, res->unreadable == 1 ? "" : "s");
#undef CAUSE
}

/* ---- text report ---- */

static const char *cname(int64_t c)
{
	return c >= 0 && c < g_nnames ? g_names[c] : NULL;
}

static void run_line(FILE *f, const char *role, const side_t *r)
{
	fprintf(f, "%s %s", role, diag_str(r->path));
	if (r->model || r->precision)
		fprintf(f, " (%s%s%s)", r->model ? diag_str(r->model) : "", r->model && r->precision ? " " : "",
			r->precision ? diag_str(r->precision) : "");
	fprintf(f, ": %lld images; error records %lld; NaN/Inf in %lld images (%lld values)", (long long)r->n,
		(long long)r->nerrors, (long long)r->nonfinite_items, (long long)r->nonfinite_values);
	if (r->ninvalid)
		fprintf(f, "; unreadable records %lld", (long long)r->ninvalid);
	if (r->ndup)
		fprintf(f, "; repeated records %lld", (long long)r->ndup);
	fputc('\n', f);
}

/* "0.912345  12 house finch" in a fixed width, name cut to fit */
enum {
	CELL_MIN = 34, /* the columns' width when every name is short */
	CELL_MAX = 96  /* a longer name (not a class name: a sentence) is cut */
};

/* "0.912345   12 house finch" (escaped) into buf; its width in characters. */
static int cell_text(char *buf, size_t cap, const item_t *it, int rank)
{
	const char *nm = cname(it->top[rank]);
	snprintf(buf, cap, "%.6f %4lld %s", (double)it->topprob[rank], (long long)it->top[rank], nm ? diag_str(nm) : "");
	int w = 0;
	for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
		w += (*p & 0xC0) != 0x80; /* UTF-8: count the characters, not the bytes */
	return w;
}

/* A cell padded to width characters: the names whole, however long
 * (up to CELL_MAX), so the table never cuts one. */
static void table_cell(FILE *f, const item_t *it, int rank, int width)
{
	char buf[512];
	int w = 1;
	if (rank >= it->ntop)
		snprintf(buf, sizeof buf, "-");
	else
		w = cell_text(buf, sizeof buf, it, rank);
	if (w > width - 1) { /* only past CELL_MAX: cut at a character boundary */
		size_t n = 0;
		for (int c = 0; buf[n] && c < width - 1; c++)
			for (n++; (buf[n] & 0xC0) == 0x80; n++)
				;
		buf[n] = 0;
		w = width - 1;
	}
	fprintf(f, "%s%*s", buf, width - w, "");
}

/* The width of the table's two columns: the longest cell of the images shown. */
static int table_width(const options_t *o, const side_t *ref, const side_t *cand, const result_t *res)
{
	int width = CELL_MIN;
	char buf[512];
	int64_t shown = 0;
	for (int64_t p = 0; p < res->common && shown < o->top; p++) {
		const item_t *it[2] = {&ref->v[res->pr.pair[p].a], &cand->v[res->pr.pair[p].b]};
		if (!it[0]->ntop && !it[1]->ntop && !it[0]->error && !it[1]->error)
			continue;
		shown++;
		for (int k = 0; k < 2; k++)
			for (int r = 0; r < it[k]->ntop; r++) {
				int w = cell_text(buf, sizeof buf, it[k], r) + 1;
				width = w > width ? w : width;
			}
	}
	return width < CELL_MAX ? width : CELL_MAX;
}

/* The probability of class c in an item (from its full vector, else its
 * top list); NAN when unknown. */
static double prob_of(const item_t *it, int64_t c)
{
	if (it->prob) {
		for (int64_t k = 0; k < it->nprob; k++)
			if ((it->cls ? it->cls[k] : k) == c)
				return it->prob[k];
		return NAN;
	}
	for (int i = 0; i < it->ntop; i++)
		if (it->top[i] == c)
			return it->topprob[i];
	return NAN;
}

static void text_table(FILE *f, const options_t *o, const side_t *ref, const side_t *cand, const result_t *res)
{
	int width = table_width(o, ref, cand, res);
	int64_t shown = 0;
	for (int64_t p = 0; p < res->common && shown < o->top; p++) {
		const item_t *a = &ref->v[res->pr.pair[p].a], *b = &cand->v[res->pr.pair[p].b];
		if (!a->ntop && !b->ntop && !a->error && !b->error)
			continue;
		shown++;
		fprintf(f, "\n%s", diag_str(a->id));
		if (a->label >= 0) {
			const char *nm = cname(a->label);
			fprintf(f, "  label %lld%s%s%s", (long long)a->label, nm ? " (" : "", nm ? diag_str(nm) : "", nm ? ")" : "");
		}
		fputc('\n', f);
		if (a->error || b->error || a->nonfinite || b->nonfinite) {
			fprintf(f, "  reference: %s\n", a->error ? diag_str(a->error) : a->nonfinite ? "NaN/Inf values" : "ok");
			fprintf(f, "  candidate: %s\n", b->error ? diag_str(b->error) : b->nonfinite ? "NaN/Inf values" : "ok");
			continue;
		}
		fprintf(f, "  %4s  %-*s  %-*s  %s\n", "rank", width, "reference", width, "candidate", "cand-ref (ref class)");
		for (int r = 0; r < PRED_MAX_K && (r < a->ntop || r < b->ntop); r++) {
			fprintf(f, "  %4d  ", r + 1);
			table_cell(f, a, r, width);
			fputs("  ", f);
			table_cell(f, b, r, width);
			double d = r < a->ntop ? prob_of(b, a->top[r]) - (double)a->topprob[r] : NAN;
			if (isnan(d))
				fputs("  -\n", f);
			else
				fprintf(f, "  %+.6f\n", d);
		}
	}
}

static int same_str(const msgpack_object *a, const msgpack_object *b)
{
	if (!a || !b)
		return !a && !b;
	return a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR && a->via.str.size == b->via.str.size &&
	       memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

/* The last stats record of a run with this producer (NULL producer: none). */
static const msgpack_object *stats_of(const side_t *r, const msgpack_object *prod)
{
	for (int i = r->prov.nstats - 1; i >= 0; i--) {
		const msgpack_object *m = &r->prov.stats[i].obj.data;
		if (same_str(obj_map_get(m, "producer"), prod))
			return m;
	}
	return NULL;
}

/* A figure for the side-by-side table, appended to line. */
static void stats_cell(char *line, size_t cap, const msgpack_object *v, int isbytes)
{
	char cell[64] = "-";
	double x;
	if (v && obj_get_double(v, &x) == 0) {
		if (isbytes)
			snprintf(cell, sizeof cell, "%.1f MiB", x / 1048576.0);
		else
			snprintf(cell, sizeof cell, "%.6g", x);
	} else if (v) {
		snprintf(cell, sizeof cell, "(%s)", v->type == MSGPACK_OBJECT_ARRAY ? "list" : "value");
	}
	size_t n = strlen(line);
	snprintf(line + n, cap - n, "%-20s ", cell);
}

/* One producer's figures side by side: keys of the reference's record, then
 * keys only the candidate's has. */
/* How many kept stats records of a run have this producer. */
static int stats_count(const side_t *r, const msgpack_object *prod)
{
	int n = 0;
	for (int i = 0; i < r->prov.nstats; i++)
		n += same_str(obj_map_get(&r->prov.stats[i].obj.data, "producer"), prod);
	return n;
}

static void stats_pair(FILE *f, const side_t *ref, const side_t *cand, const msgpack_object *prod,
		       const msgpack_object *rm, const msgpack_object *cm)
{
	fputs("  ", f);
	if (prod)
		prov_put_text_value(f, prod);
	else
		fputs("(no producer)", f);
	/* a run of several shards has a stats record per shard: the figures
	 * below are one shard's, and must not read as the whole run's */
	int nr = stats_count(ref, prod), nc = stats_count(cand, prod);
	if (nr > 1 || nc > 1 || ref->prov.more_stats || cand->prov.more_stats)
		fprintf(f, " (the last of %d%s and %d%s stats records: one shard's figures, not the run's)", nr,
			ref->prov.more_stats ? "+" : "", nc, cand->prov.more_stats ? "+" : "");
	fprintf(f, "\n    %-18s %-20s %-20s %s\n", "", "reference", "candidate", "ratio");
	for (int side = 0; side < 2; side++) {
		const msgpack_object *m = side ? cm : rm;
		if (!m)
			continue;
		for (uint32_t k = 0; k < m->via.map.size; k++) {
			const msgpack_object *key = &m->via.map.ptr[k].key;
			if (obj_str_eq(key, "type") || obj_str_eq(key, "producer") || key->type != MSGPACK_OBJECT_STR)
				continue;
			char kname[64], line[256];
			snprintf(kname, sizeof kname, "%.*s", (int)key->via.str.size, key->via.str.ptr);
			if (side == 1 && rm && obj_map_get(rm, kname))
				continue; /* shown with the reference's keys */
			const msgpack_object *rv = rm ? obj_map_get(rm, kname) : NULL;
			const msgpack_object *cv = cm ? obj_map_get(cm, kname) : NULL;
			if ((rv && rv->type == MSGPACK_OBJECT_STR) || (cv && cv->type == MSGPACK_OBJECT_STR)) {
				/* text (a device name) does not fit the columns: its own lines */
				if (rv && cv && same_str(rv, cv)) {
					fprintf(f, "    %-18s both: ", diag_str(kname));
					prov_put_text_value(f, rv);
					fputc('\n', f);
				} else {
					fprintf(f, "    %-18s reference: ", diag_str(kname));
					if (rv)
						prov_put_text_value(f, rv);
					else
						fputc('-', f);
					fprintf(f, "\n    %-18s candidate: ", "");
					if (cv)
						prov_put_text_value(f, cv);
					else
						fputc('-', f);
					fputc('\n', f);
				}
				continue;
			}
			int isbytes = strstr(kname, "bytes") != NULL;
			snprintf(line, sizeof line, "    %-18s ", diag_str(kname));
			stats_cell(line, sizeof line, rv, isbytes);
			stats_cell(line, sizeof line, cv, isbytes);
			double x, y;
			size_t n = strlen(line);
			if (rv && cv && obj_get_double(rv, &x) == 0 && obj_get_double(cv, &y) == 0 && x != 0)
				snprintf(line + n, sizeof line - n, "%.3fx", y / x);
			n = strlen(line);
			while (n && line[n - 1] == ' ')
				line[--n] = 0;
			fprintf(f, "%s\n", line);
		}
	}
}

static void text_stats(FILE *f, const side_t *ref, const side_t *cand)
{
	if (!ref->prov.nstats && !cand->prov.nstats)
		return;
	fputs("\nTime and memory (stats records; ratio = candidate/reference):\n", f);
	for (int i = 0; i < ref->prov.nstats; i++) {
		const msgpack_object *m = &ref->prov.stats[i].obj.data, *prod = obj_map_get(m, "producer");
		if (stats_of(ref, prod) == m) /* the last record of each producer */
			stats_pair(f, ref, cand, prod, m, stats_of(cand, prod));
	}
	for (int i = 0; i < cand->prov.nstats; i++) {
		const msgpack_object *m = &cand->prov.stats[i].obj.data, *prod = obj_map_get(m, "producer");
		if (stats_of(cand, prod) == m && !stats_of(ref, prod))
			stats_pair(f, ref, cand, prod, NULL, m);
	}
}

static void text_report(FILE *f, const options_t *o, const side_t *ref, const side_t *cand, const result_t *res)
{
	run_line(f, "reference", ref);
	run_line(f, "candidate", cand);
	fprintf(f, "images in both: %lld; only in reference: %lld; only in candidate: %lld\n", (long long)res->common,
		(long long)res->only_ref, (long long)res->only_cand);
	fprintf(f, "compared: %lld; failed in one run only: %lld; failed in both: %lld\n", (long long)res->compared,
		(long long)res->fail_one_side, (long long)res->fail_both);
	if (res->prob_images) {
		const item_t *it = &ref->v[res->prob_max_item];
		fprintf(f, "probabilities (%lld images): max |diff| %.6g (%s, class %lld), mean |diff| %.6g\n",
			(long long)res->prob_images, res->prob_max, diag_str(it->id), (long long)res->prob_max_class,
			res->prob_sum / (double)res->prob_values);
	}
	if (res->prob_len_mismatch)
		fprintf(f, "probabilities: %lld images have vectors of different classes in the two runs (not compared)\n",
			(long long)res->prob_len_mismatch);
	if (res->raw_images) {
		fprintf(f, "%s (%lld images): max |diff| %.6g (%s), mean |diff| %.6g; cosine mean %.9f, min %.9f (%s)\n",
			res->raw_kind == RAW_EMBEDDING ? "embeddings" : "logits", (long long)res->raw_images, res->raw_max,
			diag_str(ref->v[res->raw_max_item].id), res->raw_sum / (double)res->raw_values,
			res->cos_sum / (double)res->raw_images, res->cos_min, diag_str(ref->v[res->cos_min_item].id));
	}
	if (res->raw_mismatch)
		fprintf(f, "embeddings/logits: %lld images differ in kind or length (not compared)\n",
			(long long)res->raw_mismatch);
	if (res->top1_known) {
		fprintf(f, "top-1: %lld flips of %lld images", (long long)res->flips, (long long)res->top1_known);
		if (res->top5_known)
			fprintf(f, "; top-5: same set %lld/%lld, same order %lld/%lld, mean overlap %.4f/5",
				(long long)res->top5_same_set, (long long)res->top5_known, (long long)res->top5_same_order,
				(long long)res->top5_known, res->top5_overlap_sum / (double)res->top5_known);
		fputc('\n', f);
	} else {
		fprintf(f, "top-1: not compared: %s\n", top1_missing_reason(ref, cand, res));
	}
	if (res->top1_measured)
		fprintf(f, "top-1 disagreement: %.6f (flips + one-run failures over %lld images), tolerance %.6g",
			res->disagreement, (long long)(res->top1_known + res->fail_one_side), o->tolerance);
	else /* not a 0.000000 that reads as agreement */
		fprintf(f, "top-1 disagreement: not measured (no image compared), tolerance %.6g", o->tolerance);
	if (o->prob_tol >= 0)
		fprintf(f, "; prob-tol %.6g", o->prob_tol);
	/* the verdict names its causes, unless the disagreement above is the only one */
	char causes[512];
	fail_causes(causes, sizeof causes, o, ref, cand, res, 0);
	if (!res->fail)
		fputs(": ok\n", f);
	else if (!causes[0])
		fputs(": FAIL\n", f);
	else
		fprintf(f, ": FAIL (%s%s)\n", res->top1_over ? "top-1 disagreement above tolerance; " : "", causes);
	if (res->nflip_items) {
		fputs("\nTop-1 flips:\n", f);
		for (int64_t i = 0; i < res->nflip_items && i < (o->top > 10 ? o->top : 10); i++) {
			id_pair_t q = res->pr.pair[res->flip_items[i]];
			const item_t *a = &ref->v[q.a], *b = &cand->v[q.b];
			const char *na = cname(a->top[0]), *nb = cname(b->top[0]);
			fprintf(f, "  %s: %lld%s%s%s %.6f -> %lld%s%s%s %.6f\n", diag_str(a->id), (long long)a->top[0],
				na ? " (" : "", na ? diag_str(na) : "", na ? ")" : "", (double)a->topprob[0], (long long)b->top[0],
				nb ? " (" : "", nb ? diag_str(nb) : "", nb ? ")" : "", (double)b->topprob[0]);
		}
	}
	if (o->top > 0 && res->common)
		text_table(f, o, ref, cand, res);
	text_stats(f, ref, cand);
	fputs("\nProvenance of the reference:\n", f);
	prov_print_text(f, &ref->prov, "  ");
	fputs("Provenance of the candidate:\n", f);
	prov_print_text(f, &cand->prov, "  ");
}

/* ---- JSON ---- */

static void json_run(jw_t *w, const char *key, const side_t *r)
{
	jw_obj(w, key);
	jw_str(w, "stream", r->path);
	jw_str(w, "model", r->model);
	jw_str(w, "precision", r->precision);
	jw_int(w, "images", r->n);
	jw_int(w, "errors", r->nerrors);
	jw_int(w, "nonfinite_images", r->nonfinite_items);
	jw_int(w, "nonfinite_values", r->nonfinite_values);
	jw_int(w, "unreadable", r->ninvalid);
	jw_int(w, "repeated", r->ndup);
	prov_json(w, "provenance", &r->prov);
	jw_end(w);
}

static void json_top(jw_t *w, const char *key, const item_t *it)
{
	jw_obj(w, key);
	pred_json_top(w, it->top, it->topprob, it->ntop);
	jw_end(w);
}

static void json_report(FILE *f, const options_t *o, const side_t *ref, const side_t *cand, const result_t *res)
{
	jw_t w;
	jw_init(&w, f);
	jw_obj(&w, NULL);
	json_run(&w, "reference", ref);
	json_run(&w, "candidate", cand);
	jw_int(&w, "common", res->common);
	jw_int(&w, "only_reference", res->only_ref);
	jw_int(&w, "only_candidate", res->only_cand);
	jw_int(&w, "compared", res->compared);
	jw_int(&w, "failed_one_run", res->fail_one_side);
	jw_int(&w, "failed_both", res->fail_both);
	if (res->prob_images) {
		jw_obj(&w, "probabilities");
		jw_int(&w, "images", res->prob_images);
		jw_double(&w, "max_abs_diff", res->prob_max);
		jw_str(&w, "max_at", ref->v[res->prob_max_item].id);
		jw_int(&w, "max_class", res->prob_max_class);
		jw_double(&w, "mean_abs_diff", res->prob_sum / (double)res->prob_values);
		jw_end(&w);
	} else {
		jw_null(&w, "probabilities");
	}
	if (res->raw_images) {
		jw_obj(&w, "raw");
		jw_str(&w, "kind", res->raw_kind == RAW_EMBEDDING ? "embedding" : "logits");
		jw_int(&w, "images", res->raw_images);
		jw_double(&w, "max_abs_diff", res->raw_max);
		jw_double(&w, "mean_abs_diff", res->raw_sum / (double)res->raw_values);
		jw_double(&w, "cosine_mean", res->cos_sum / (double)res->raw_images);
		jw_double(&w, "cosine_min", res->cos_min);
		jw_str(&w, "cosine_min_at", ref->v[res->cos_min_item].id);
		jw_end(&w);
	} else {
		jw_null(&w, "raw");
	}
	jw_obj(&w, "top1");
	jw_int(&w, "images", res->top1_known);
	jw_int(&w, "flips", res->flips);
	jw_arr(&w, "flipped");
	for (int64_t i = 0; i < res->nflip_items; i++)
		jw_str(&w, NULL, ref->v[res->pr.pair[res->flip_items[i]].a].id);
	jw_end(&w);
	jw_end(&w);
	jw_obj(&w, "top5");
	jw_int(&w, "images", res->top5_known);
	jw_int(&w, "same_set", res->top5_same_set);
	jw_int(&w, "same_order", res->top5_same_order);
	jw_ratio(&w, "mean_overlap", res->top5_overlap_sum, (double)res->top5_known);
	jw_end(&w);
	if (res->top1_measured)
		jw_double(&w, "disagreement", res->disagreement);
	else
		jw_null(&w, "disagreement");
	jw_double(&w, "tolerance", o->tolerance);
	if (o->prob_tol >= 0)
		jw_double(&w, "prob_tol", o->prob_tol);
	else
		jw_null(&w, "prob_tol");
	char causes[512];
	fail_causes(causes, sizeof causes, o, ref, cand, res, 1);
	jw_bool(&w, "pass", !res->fail);
	jw_str(&w, "fail_causes", causes); /* "" when it passed */
	jw_arr(&w, "table");
	int64_t shown = 0;
	for (int64_t p = 0; p < res->common && shown < o->top; p++) {
		const item_t *a = &ref->v[res->pr.pair[p].a], *b = &cand->v[res->pr.pair[p].b];
		if (!a->ntop && !b->ntop)
			continue;
		shown++;
		jw_obj(&w, NULL);
		jw_str(&w, "id", a->id);
		jw_int(&w, "label", a->label);
		json_top(&w, "reference", a);
		json_top(&w, "candidate", b);
		jw_end(&w);
	}
	jw_close(&w);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	classes_t cl;
	classes_init(&cl);
	char err[512];
	if (o.classes_path && classes_load_path(o.classes_path, &cl, err, sizeof err) != 0)
		diag_fatal("--classes: %s", err);
	char **file_names = NULL;
	int64_t nfile_names = 0;
	if (o.names_path && names_load(o.names_path, &file_names, &nfile_names, err, sizeof err) != 0)
		diag_fatal("--names: %s", err);
	names_check_t nc = {o.names_path, nfile_names};
	if (file_names && cl.k && cl.k != nfile_names)
		diag_fatal("--names %s: %lld names, --classes %s has %lld classes", o.names_path, (long long)nfile_names,
			   o.classes_path, (long long)cl.k);
	side_t ref, cand;
	side_read(&ref, o.ref_path, o.label[0], &cl, file_names ? &nc : NULL, o.max_record);
	side_read(&cand, o.cand_path, o.label[1], &cl, file_names ? &nc : NULL, o.max_record);
	/* fpdiff is for one model's two runs; two models still compare, but
	 * their flips are the models' differences, not precision's */
	if (ref.model && cand.model && strcmp(ref.model, cand.model) != 0)
		diag_msg("%s vs %s: two models (%s, %s) compared; errstats --compare is the per-class comparison of models",
			 ref.path, cand.path, ref.model, cand.model);
	if (file_names) {
		g_names = file_names;
		g_nnames = nfile_names;
	} else if (ref.names || cand.names) {
		g_names = ref.names ? ref.names : cand.names;
		g_nnames = ref.names ? ref.nnames : cand.nnames;
	} else if (cl.names) {
		g_names = cl.names;
		g_nnames = cl.k;
	}
	result_t res;
	compare_runs(&o, &ref, &cand, &res);
	if (o.json)
		json_report(stdout, &o, &ref, &cand, &res);
	else
		text_report(stdout, &o, &ref, &cand, &res);
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));
	if (res.fail) {
		fail_causes(err, sizeof err, &o, &ref, &cand, &res, 1);
		diag_msg("%s vs %s: %s", ref.path, cand.path, err);
	}
	pairing_free(&res.pr);
	free(res.flip_items);
	side_free(&ref);
	side_free(&cand);
	names_free(file_names, nfile_names);
	classes_free(&cl);
	return res.fail ? EXIT_SOME_FAILED : EXIT_OK;
}
