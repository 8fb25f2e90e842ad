/* zscore - zero-shot class probabilities from image embeddings (or logits).
 *
 * Records in: embedding (CLIP image features [D], float32/float16, not
 * normalized), logits ([K] classifier outputs), classes (the zero-shot
 * table), anything else. Out: one scores record per embedding/logits record,
 *   {"type": "scores", "tensor": float32 [K] probabilities, ...every other
 *    key of the input record (id, label, model, precision, path, ...)}
 * in input order; header, classes, error and unknown records pass through.
 *   embedding: softmax over classes of logit_scale * cos(embedding, row_k)
 *              (CLIP's notebook: 100 * normalize(image) . normalize(text))
 *   logits:    softmax(logits)
 * All arithmetic is FP32 with double accumulation, whatever the input dtype.
 *
 * The class table comes from --classes FILE, else from a classes record met
 * earlier in the stream (it replaces the current table from there on), else
 * from the default place (classes_default_path; `txtencode > PATH` makes it
 * from the checkpoint `make weights` fetches). Its
 * class names go into this program's header ("class_names") so topk and
 * errstats can name classes downstream. The default table is in the header
 * only when the stream uses it: the header waits for the first record that
 * tells (logits never use a table; see defer_header).
 *
 * --subset FILE restricts the softmax to listed classes (ImageNet-A/-R use
 * 200 of 1000): the tensor is then [S] in the file's order and an "index"
 * list maps each position back to its class index; labels stay in full
 * class numbering. --groups FILE pools classes into groups (ObjectNet:
 * each of its classes is one or more ImageNet classes): softmax over every
 * listed class, then a group's score is its best member's probability, so
 * the top group holds the top class (ObjectNet's scoring); the tensor is [G]
 * and "index" gives each group's number. --raw writes cosines (or logits)
 * instead of probabilities and marks the record "raw": true.
 *
 * Failures per record (error record + one stderr line naming the stream,
 * the record number and the id, for the first 10; one line at the end
 * counts the rest; exit 1): an embedding whose width is not the table's,
 * NaN/Inf inputs (never turned into scores), an all-zero embedding, a
 * malformed tensor. A missing
 * table, a bad --subset or an image record (imgdecode output: rnencode has
 * not run, so the whole stream is the wrong kind) is fatal (exit 2); an
 * image record met before anything was scored leaves stdout empty.
 * It does not pick top classes (topk) or compute accuracy (errstats).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "eval/eval.h"
#include "util/util.h"
#include "stream/stream.h"

enum {
	MAX_FAIL_LINES = 10 /* stderr lines for failed records before only counting them */
};

typedef struct {
	const char *classes_path;
	const char *subset_path;
	const char *groups_path;
	int raw;
	size_t max_record;
	char **inputs;
	int ninputs;
} options_t;

typedef struct {
	classes_t classes;   /* current table (k == 0: none yet) */
	int from_option;     /* the current table came from --classes */
	int noted_replace;   /* said once that a stream table replaced --classes */
	char default_path[4096];
	int64_t *subset, nsubset; /* the classes scored (--subset, or every class of --groups) */
	const char *subset_src;   /* the file they came from */
	int64_t *slot, ngroups;   /* --groups: subset[i] belongs to group number group[slot[i]] */
	int64_t *group;
	float *pooled;            /* [ngroups] */
	float *buf, *out;    /* [max(K, D)] scratch */
	size_t bufcap;
	int nfailed, nnonfinite, fail_lines;
	long long nscored;
	const char *stream; /* name of the stream being read, for messages */
} state_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: zscore [OPTIONS] [STREAM...]\n"
	       "Turn embedding records into zero-shot class probabilities (scores records):\n"
	       "softmax over classes of logit_scale x cosine(image embedding, class row), as\n"
	       "CLIP's notebook computes it, in FP32 whatever the input precision. logits\n"
	       "records (torchvision classifiers) become softmax(logits). Reads STREAMs or\n"
	       "stdin.\n"
	       "\n"
	       "      --classes FILE    the class table: a stream holding a classes record\n"
	       "                        (txtembed-load, txtencode). Default: a classes record\n"
	       "                        earlier in the input, else the default table (made by\n"
	       "                        'make classes') at\n"
	       "                        $RNENC_WEIGHTS/classes-clip-rn50.mp or\n"
	       "                        ${XDG_CACHE_HOME:-~/.cache}/rnencode/weights/\n"
	       "                        classes-clip-rn50.mp\n"
	       "  -s, --subset FILE     softmax over these classes only (one index per line,\n"
	       "                        '#' comments): output tensor [S] in the file's order\n"
	       "                        plus an \"index\" list giving each position's class\n"
	       "                        index\n"
	       "      --groups FILE     score groups of classes: lines CLASS GROUP (two\n"
	       "                        indices); softmax over every listed class, a group\n"
	       "                        scores its best member's probability (the top group\n"
	       "                        holds the top class: ObjectNet's scoring); tensor [G],\n"
	       "                        \"index\" = group numbers\n"
	       "      --raw             keep cosines (embeddings) or logits: no softmax; records\n"
	       "                        carry \"raw\": true (for multi-label or custom use)\n"
	       "      --max-record B    refuse input records larger than B bytes (default\n"
	       "                        1 GiB) or holding more than B/256 msgpack values\n"
	       "                        (at least 65536)\n"
	       "  -h, --help            this help\n"
	       "      --version         print the version and exit\n"
	       "\n"
	       "Records: embedding/logits in -> scores out (id, label, model, precision and\n"
	       "every other key copied); header, classes, error and unknown records pass\n"
	       "through.\n"
	       "A classes record in the stream replaces the current table from there on.\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode imgs/ | rnencode --fp16 | zscore | topk\n"
	       "  zscore --classes classes.mp emb.mp > scores.mp\n"
	       "  zscore --subset imagenet-r-200.txt < emb.mp | errstats\n"
	       "  zscore --groups objectnet-groups.tsv < emb.mp | errstats\n"
	       "  cat classes.mp emb.mp | zscore --raw | recview\n"
	       "\n"
	       "Exit status: 0 ok; 1 some records failed (width mismatch, NaN/Inf, zero vector:\n"
	       "error records written, one stderr line each for the first 10, then one line\n"
	       "counting the rest); 2 usage error, no class table, bad --subset,\n"
	       "an image record (run rnencode first), or a broken stream.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_CLASSES = 256, O_GROUPS, O_MAX_RECORD };
	static const struct option longopts[] = {{"classes", required_argument, NULL, O_CLASSES},
						 {"subset", required_argument, NULL, 's'},
						 {"groups", required_argument, NULL, O_GROUPS},
						 {"raw", no_argument, NULL, 'r'},
						 {"max-record", required_argument, NULL, O_MAX_RECORD},
						 {"help", no_argument, NULL, 'h'},
						 OPT_VERSION_ENTRY,
						 {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->max_record = REC_DEFAULT_MAX_RECORD;
	int c;
	while ((c = opt_next(argc, argv, "c:s:g:h", longopts)) != -1) {
		switch (c) {
		case 'c': opt_old_spelling("-c", "--classes"); /* fall through */
		case O_CLASSES: o->classes_path = optarg; break;
		case 's': o->subset_path = optarg; break;
		case 'g': opt_old_spelling("-g", "--groups"); /* fall through */
		case O_GROUPS: o->groups_path = optarg; break;
		case 'r': o->raw = 1; break;
		case O_MAX_RECORD: o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (o->subset_path && o->groups_path)
		diag_usage("--subset and --groups: one or the other (groups name their classes)");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

static void ensure_buf(state_t *s, int64_t n)
{
	if ((size_t)n <= s->bufcap)
		return;
	free(s->buf);
	free(s->out);
	s->buf = xmalloc((size_t)n * sizeof *s->buf);
	s->out = xmalloc((size_t)n * sizeof *s->out);
	s->bufcap = (size_t)n;
}

/* A subset index beyond the table is a configuration error, not a record's. */
/* The first --subset/--groups class out of range for a vector of k, or -1. */
static int64_t subset_out_of_range(const state_t *s, int64_t k)
{
	for (int64_t i = 0; i < s->nsubset; i++)
		if (s->subset[i] >= k)
			return s->subset[i];
	return -1;
}

/* A class table too small for --subset: every later record would fail, so
 * stop (exit 2), after the whole records already buffered. */
static void check_subset(const state_t *s, rec_writer_t *w, int64_t k)
{
	int64_t bad = subset_out_of_range(s, k);
	if (bad < 0)
		return;
	if (w)
		rec_writer_flush(w);
	diag_fatal("%s: class %lld is out of range: the class table has %lld classes", s->subset_src,
		   (long long)bad, (long long)k);
}

/* --groups: the classes become the subset; groups numbered in order of first
 * appearance (slot), each keeping its number from the file. */
static void load_groups(state_t *s, const char *path)
{
	char err[512];
	int64_t *g;
	if (index_groups_load(path, INT32_MAX, &s->subset, &g, &s->nsubset, err, sizeof err) != 0)
		diag_fatal("--groups: %s", err);
	s->slot = xmalloc((size_t)s->nsubset * sizeof *s->slot);
	s->group = xmalloc((size_t)s->nsubset * sizeof *s->group);
	s->pooled = xmalloc((size_t)s->nsubset * sizeof *s->pooled);
	for (int64_t i = 0; i < s->nsubset; i++) {
		int64_t j = 0;
		while (j < s->ngroups && s->group[j] != g[i])
			j++;
		if (j == s->ngroups)
			s->group[s->ngroups++] = g[i];
		s->slot[i] = j;
	}
	free(g);
	s->subset_src = path;
}

static void fail_record(state_t *s, rec_writer_t *w, const record_t *rec, const char *msg)
{
	char where[320];
	rec_where(where, sizeof where, s->stream, rec);
	rec_write_error_for(w, rec, msg);
	s->nfailed++;
	if (s->fail_lines++ < MAX_FAIL_LINES) /* one failure, one line; the rest counted at the end */
		diag_msg("%s: %s", where, msg);
}

/* Write the scores record: vals[0,n) are the full vector; the subset (if
 * any) picks positions. */
static void write_scores(state_t *s, const options_t *o, rec_writer_t *w, const record_t *rec, const float *vals,
			 int64_t n)
{
	static const char *const skip[] = {"type", "tensor", "index", "raw", NULL};
	int64_t m = s->nsubset ? s->nsubset : n;
	float *sel = s->out;
	for (int64_t i = 0; i < m; i++)
		sel[i] = vals[s->nsubset ? s->subset[i] : i];
	if (!o->raw)
		vec_softmax(sel, sel, m);
	const int64_t *labels = s->subset;
	if (s->ngroups) { /* each group: its best member */
		for (int64_t j = 0; j < s->ngroups; j++)
			s->pooled[j] = -INFINITY;
		for (int64_t i = 0; i < m; i++)
			if (sel[i] > s->pooled[s->slot[i]])
				s->pooled[s->slot[i]] = sel[i];
		sel = s->pooled;
		m = s->ngroups;
		labels = s->group;
	}
	rec_builder_t *b = rec_begin(w, "scores");
	rb_copy_keys_except(b, rec, skip);
	if (s->nsubset)
		rb_ints(b, "index", labels, (size_t)m);
	if (o->raw)
		rb_bool(b, "raw", 1);
	int64_t shape[1] = {m};
	rb_tensor(b, "tensor", DTYPE_FLOAT32, 1, shape, sel);
	rec_end(b);
	s->nscored++;
}

/* The input vector of an embedding/logits record as float32 in s->buf;
 * returns its length, or -1 after writing an error record. */
static int64_t read_vector(state_t *s, rec_writer_t *w, const record_t *rec)
{
	tensor_t t;
	char err[320], sbuf[160];
	if (rec_get_tensor(rec, "tensor", &t, err, sizeof err) != 0) {
		fail_record(s, w, rec, err);
		return -1;
	}
	int64_t n = tensor_numel(&t);
	if (t.ndim != 1 || n == 0 || (t.dtype != DTYPE_FLOAT32 && t.dtype != DTYPE_FLOAT16)) {
		snprintf(err, sizeof err, "tensor is %s %s: need float32 or float16 [N] with N > 0",
			 dtype_name(t.dtype), tensor_shape_str(t.shape, t.ndim, sbuf, sizeof sbuf));
		fail_record(s, w, rec, err);
		return -1;
	}
	ensure_buf(s, n > s->classes.k ? n : s->classes.k);
	tensor_convert_to_f32(t.dtype, t.data, s->buf, (size_t)n);
	int64_t bad = vec_count_nonfinite(s->buf, n);
	if (bad) {
		snprintf(err, sizeof err, "%lld of %lld input values are NaN or Inf: not scored", (long long)bad,
			 (long long)n);
		s->nnonfinite++;
		fail_record(s, w, rec, err);
		return -1;
	}
	return n;
}

static void need_classes(state_t *s, const options_t *o, rec_writer_t *w)
{
	if (s->classes.k)
		return;
	rec_writer_flush(w);
	if (access(s->default_path, F_OK) != 0)
		diag_fatal("no class table: give --classes FILE, put a classes record before the embeddings, "
			   "or make the default one, %s, with: make classes",
			   s->default_path);
	char err[512];
	if (classes_load_path(s->default_path, &s->classes, err, sizeof err) != 0)
		diag_fatal("default class table: %s", err);
	check_subset(s, w, s->classes.k);
}

static void score_embedding(state_t *s, const options_t *o, rec_writer_t *w, const record_t *rec)
{
	need_classes(s, o, w);
	int64_t d = read_vector(s, w, rec);
	if (d < 0)
		return;
	char err[320];
	if (d != s->classes.d) {
		snprintf(err, sizeof err, "embedding has %lld values but the class table's rows have %lld (%s)",
			 (long long)d, (long long)s->classes.d, s->classes.source ? s->classes.source : "?");
		fail_record(s, w, rec, err);
		return;
	}
	float *cos = xmalloc((size_t)s->classes.k * sizeof *cos);
	if (classes_cosines(&s->classes, s->buf, cos) != 0) {
		free(cos);
		fail_record(s, w, rec, "the embedding is all zeros: no direction to score");
		return;
	}
	if (!o->raw)
		for (int64_t k = 0; k < s->classes.k; k++)
			cos[k] = (float)(s->classes.logit_scale * cos[k]);
	write_scores(s, o, w, rec, cos, s->classes.k);
	free(cos);
}

static void score_logits(state_t *s, const options_t *o, rec_writer_t *w, const record_t *rec)
{
	int64_t n = read_vector(s, w, rec);
	if (n < 0)
		return;
	/* one narrow logits record is that record's failure, as an embedding
	 * of the wrong width is */
	int64_t bad = subset_out_of_range(s, n);
	if (bad >= 0) {
		char err[320];
		snprintf(err, sizeof err, "class %lld of %s is out of range: the logits vector has %lld classes",
			 (long long)bad, s->subset_src, (long long)n);
		fail_record(s, w, rec, err);
		return;
	}
	write_scores(s, o, w, rec, s->buf, n);
}

/* An image record: imgdecode's output reached zscore without rnencode. The
 * whole stream is the wrong kind, so stop (exit 2) rather than fail every
 * record. Before anything was scored the buffered headers are dropped, so
 * stdout holds nothing a later stage could take for a result. */
DIAG_NORETURN static void image_record(const state_t *s, rec_writer_t *w, const record_t *rec)
{
	char where[320], msg[256];
	rec_where(where, sizeof where, s->stream, rec);
	stage_check_record(rec, "zscore", STAGE_WANT_ENCODED, msg, sizeof msg);
	if (s->nscored || s->nfailed)
		rec_writer_flush(w);
	diag_fatal("%s: %s", where, msg);
}

static void take_stream_classes(state_t *s, const options_t *o, const record_t *rec, rec_writer_t *w)
{
	classes_t c;
	char err[512];
	if (classes_from_record(rec, &c, err, sizeof err) != 0) {
		rec_writer_flush(w);
		diag_fatal("%s: %s", s->stream, err);
	}
	char src[320];
	snprintf(src, sizeof src, "%s record %llu", s->stream, (unsigned long long)rec->index);
	c.source = xstrdup(src);
	if (s->from_option && !s->noted_replace) {
		diag_msg("the classes record at %s replaces %s from there on", src, o->classes_path);
		s->noted_replace = 1;
	}
	classes_free(&s->classes);
	s->classes = c;
	s->from_option = 0;
	check_subset(s, w, c.k);
}

static void write_header(rec_writer_t *w, int argc, char **argv, const options_t *o, const state_t *s)
{
	const classes_t *c = &s->classes;
	rec_builder_t *b = rec_begin_header(w, argc, argv);
	rb_str(b, "classes", c->k ? c->source : NULL);
	if (c->k) {
		/* of the bytes loaded (a classes record from the stream has none) */
		rb_str(b, "classes_sha256", c->sha256[0] ? c->sha256 : NULL);
	}
	rb_bool(b, "raw", o->raw);
	if (o->subset_path)
		rb_str(b, "subset", o->subset_path);
	if (o->groups_path)
		rb_str(b, "groups", o->groups_path);
	if (c->k) {
		rb_double(b, "logit_scale", c->logit_scale);
		rb_str(b, "classes_model", c->model);
	}
	if (c->k && c->names)
		rb_strs(b, "class_names", (const char *const *)c->names, (size_t)c->k);
	rec_end(b);
}

/* The records read before the header is written (defer_header). */
typedef struct {
	unsigned char *buf;
	size_t n, cap;
} pending_t;

/* Past this many bytes of records that do not tell whether the default table
 * is used (headers, errors, unknown types), the header goes out naming it, as
 * the table could be used: memory stays bounded on any stream. */
#define PENDING_MAX ((size_t)16 << 20)

/* The header and the records held back for it; nothing is held from here on. */
static void header_out(rec_writer_t *w, int argc, char **argv, const options_t *o, const state_t *s, pending_t *p)
{
	write_header(w, argc, argv, o, s);
	if (p->n)
		rec_write_raw(w, p->buf, p->n);
	free(p->buf);
	memset(p, 0, sizeof *p);
}

/* Before the header: read the next record of r. A record that tells whether
 * the default table is used (an embedding, logits, an image, a classes
 * record, an invalid record), or too much held back, writes the header
 * (without the table when the record is logits) and what was held, and
 * clears *defer; rec then goes on as rec_next would give it. Other records
 * are held. 1: rec is to be processed; 0: r is at its end. */
static int defer_header(rec_reader_t *r, record_t *rec, rec_writer_t *w, int argc, char **argv, const options_t *o,
			state_t *s, pending_t *p, int *defer)
{
	for (;;) {
		rec_status_t st = rec_reader_next(r, rec);
		if (st == REC_EOF)
			return 0;
		int tells = st != REC_OK || rec_is(rec, "embedding") || rec_is(rec, "logits") || rec_is(rec, "image") ||
			    rec_is(rec, "classes") || p->n + rec->raw_len > PENDING_MAX;
		if (!tells) {
			if (p->n + rec->raw_len > p->cap) {
				p->cap = p->n + rec->raw_len > 2 * p->cap ? p->n + rec->raw_len : 2 * p->cap;
				p->buf = xrealloc(p->buf, p->cap);
			}
			memcpy(p->buf + p->n, rec->raw, rec->raw_len);
			p->n += rec->raw_len;
			continue;
		}
		if (st == REC_OK && rec_is(rec, "logits")) {
			/* softmax(logits) needs no table: the header names none (an
			 * embedding later in the stream loads it again, need_classes) */
			classes_free(&s->classes);
			classes_init(&s->classes);
		}
		header_out(w, argc, argv, o, s, p);
		*defer = 0;
		if (st == REC_OK)
			return 1;
		if (st != REC_INVALID) {
			rec_writer_flush(w);
			diag_fatal("%s", rec_reader_message(r));
		}
		diag_msg("%s", rec_reader_message(r));
		rec_write_error_for(w, rec, rec_reader_message(r));
		s->nfailed++;
		return rec_next(r, rec, w, &s->nfailed);
	}
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	state_t s;
	memset(&s, 0, sizeof s);
	classes_init(&s.classes);
	classes_default_path(s.default_path, sizeof s.default_path);
	char err[512];
	if (o.classes_path) {
		if (classes_load_path(o.classes_path, &s.classes, err, sizeof err) != 0)
			diag_fatal("--classes: %s", err);
		s.from_option = 1;
	} else if (access(s.default_path, F_OK) == 0) {
		/* loaded up front so the header can name the classes for topk */
		if (classes_load_path(s.default_path, &s.classes, err, sizeof err) != 0)
			diag_fatal("default class table: %s", err);
	}
	if (o.subset_path) {
		if (index_list_load(o.subset_path, INT32_MAX, &s.subset, &s.nsubset, err, sizeof err) != 0)
			diag_fatal("--subset: %s", err);
		s.subset_src = o.subset_path;
	}
	if (o.groups_path)
		load_groups(&s, o.groups_path);
	if (s.nsubset && s.classes.k)
		check_subset(&s, NULL, s.classes.k);

	rec_writer_t *w = rec_writer_stdout(0);
	/* a default table (not --classes) waits to be used before the header names it */
	int defer = s.classes.k && !s.from_option;
	pending_t pending = {0};
	if (!defer)
		write_header(w, argc, argv, &o, &s);
	static char *stdin_only[] = {"-"};
	char **inputs = o.ninputs ? o.inputs : stdin_only;
	int ninputs = o.ninputs ? o.ninputs : 1;
	for (int f = 0; f < ninputs; f++) {
		rec_reader_t *r = rec_reader_open_path(inputs[f], o.max_record);
		if (!r)
			diag_fatal("%s: %s", inputs[f], strerror(errno));
		s.stream = rec_reader_name(r);
		record_t rec;
		while (defer ? defer_header(r, &rec, w, argc, argv, &o, &s, &pending, &defer)
			     : rec_next(r, &rec, w, &s.nfailed)) {
			if (rec_is(&rec, "embedding")) {
				score_embedding(&s, &o, w, &rec);
			} else if (rec_is(&rec, "logits")) {
				score_logits(&s, &o, w, &rec);
			} else if (rec_is(&rec, "image")) {
				image_record(&s, w, &rec);
			} else {
				if (rec_is(&rec, "classes"))
					take_stream_classes(&s, &o, &rec, w);
				rec_pass(w, &rec);
			}
		}
		rec_reader_free(r);
	}
	if (defer) /* nothing told: the table could have been used */
		header_out(w, argc, argv, &o, &s, &pending);
	rec_writer_close(w);
	if (s.fail_lines > MAX_FAIL_LINES)
		diag_msg("%d more failed records not named (%d of %lld failed in all, %d of them with NaN/Inf inputs; "
			 "recview -t error names them)",
			 s.fail_lines - MAX_FAIL_LINES, s.nfailed, s.nscored + s.nfailed, s.nnonfinite);
	classes_free(&s.classes);
	free(s.subset);
	free(s.slot);
	free(s.group);
	free(s.pooled);
	free(s.buf);
	free(s.out);
	return s.nfailed ? EXIT_SOME_FAILED : EXIT_OK;
}
