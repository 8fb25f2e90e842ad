/* errstats - accuracy and error analysis of a scored run, alone or against
 * a second run.
 *
 * Records in: scores (zscore; with or without a --subset "index" list),
 * logits (softmaxed here), topk (only their k classes are known: top-5
 * accuracy needs k >= 5), error (counted as failures, separately, never in
 * the accuracy figures), header/stats (provenance), classes (names).
 * An image or embedding record is a pipeline mistake: exit 2 with a hint
 * (run rnencode, and zscore for CLIP, first).
 * Classes: K is the scores' width (the longest scores/logits record without
 * an "index" list), else the number of class names (--names, a classes
 * record, zscore's header); topk and --subset records carry no width, so
 * without names K is unknown and the tables cover the classes seen. A
 * record whose label is not -1 (unknown) or in 0..K-1, or whose predicted
 * class is not in 0..K-1, is an input failure: one stderr line naming
 * file, record and id, counted, exit 1; the report goes on without it. A
 * repeated id (same stream) is left out of the figures, the first record
 * counts; repeats are reported, not failures (common/eval/run.c's rules).
 * Out: a report on stdout, never records:
 *   text (default)  summary, the N most misclassified classes in the
 *                   study's form "Class 978 (seashore): 3/4 misclassified
 *                   (0.75)" (order: rate desc, then misclassified count
 *                   desc, then the mean probability of the wrong
 *                   predictions desc, then class index asc; a line says
 *                   when every class listed ties), the N most frequent
 *                   confusions, the failures, the provenance
 *   --json          everything, one JSON document
 *   --csv           one row per (run, class), '#' provenance lines first
 *   --jsonl         one JSON line per image, provenance lines first
 * With --compare OTHER: images are matched by id; accuracy side by side on
 * the images both runs scored with the same label (ids whose labels differ
 * are counted and left out; no id in common at all is exit 1), the
 * classes where each run does better
 * (top-1 recall), the images only one run gets right (top-1), and with
 * --grid FILE.jpg a labelled thumbnail grid of those images (decoded from
 * the records' "path" with libjpeg). The grid's folder is tried before any
 * stream is read and the grid is written before the report, so a grid that
 * cannot be written is exit 2 with nothing on stdout; it is written by
 * the outfile rule of common/util/util.h (a new or regular file, never a FIFO, a device or
 * an input stream), and only regular files are read for thumbnails.
 * Definitions: top-1 correct = the best class is the label; top-5 = the
 * label among the best 5. Mean per-class recall = mean over classes with
 * labelled images of correct/images (CLIP_benchmark's "mean per class
 * recall"). Precision of class c = correct c / images predicted c (labelled
 * images only). Confusions are counted by class index, never by name (CLIP's
 * names repeat). Near-chance top-1 accuracy on a labelled set (not more than
 * 3 standard deviations above the binomial mean at 1/K) prints a warning
 * that the label mapping is likely wrong.
 * It does not rank classes per image (topk) or compare probabilities of
 * two runs (fpdiff).
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

#include "eval/eval.h"
#include "util/util.h"
#include "image/image.h"
#include "stream/stream.h"

typedef enum {
	OUT_TEXT,
	OUT_JSON,
	OUT_CSV,
	OUT_JSONL
} out_format_t;

typedef struct {
	const char *names_path;
	const char *compare_path;
	const char *grid_path;
	long top;
	long grid_max;
	long grid_thumb;
	out_format_t format;
	const char *input;
	size_t max_record;
} options_t;

static const char *const TAG[2] = {"A", "B"};

typedef run_counts_t stats_t;

typedef struct {
	int64_t c;
	double diff; /* recall A - recall B */
} class_diff_t;

/* Everything the comparison found. */
typedef struct {
	pairing_t pr;
	unsigned char *use_a, *use_b; /* images both runs scored */
	int64_t matched;
	int64_t label_differs; /* ids both runs scored under different labels */
	int64_t first_differs; /* pair of the first of those, or -1 */
	stats_t sa, sb;
	id_pair_t *right_a, *right_b; /* pairs only A (B) gets right */
	int64_t n_right_a, n_right_b;
	class_diff_t *better_a, *better_b;
	int64_t n_better_a, n_better_b, n_equal;
} compare_t;

static int64_t g_nclasses;    /* K, or the classes seen when unknown */
static const char *g_classes_from; /* where K came from; NULL: unknown */
static char **g_names;        /* display names (--names, else a stream's) */
static int64_t g_nnames;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: errstats [OPTIONS] [STREAM]\n"
	       "Accuracy and error analysis of scored images (scores, logits or topk records,\n"
	       "with labels): top-1/top-5 accuracy with counts, mean per-class recall, per-class\n"
	       "precision/recall/F1, the most misclassified classes in the study's form\n"
	       "  Class 978 (seashore): 3/4 misclassified (0.75)\n"
	       "(ordered by rate, then misclassified count, then the mean probability of the\n"
	       "wrong predictions; with one image per class all tie, and a line says so), the\n"
	       "most frequent confusions (by class index), failures (error records, counted\n"
	       "apart), and the provenance from the stream headers. Reads STREAM or stdin.\n"
	       "\n"
	       "  -n, --names FILE      class names, one per line in class-index order (default:\n"
	       "                        the stream's classes record or zscore's header);\n"
	       "                        one per class of the scores\n"
	       "  -c, --compare OTHER   a second run of the same images: accuracy side by side,\n"
	       "                        classes where each run does better, images only one run\n"
	       "                        gets right (matched by id)\n"
	       "  -k, --top N           list N classes/confusions/images per section\n"
	       "                        (default 10; -t N, the old spelling, works one more\n"
	       "                        release with a note on stderr)\n"
	       "      --json            the whole report as one JSON document\n"
	       "      --csv             one row per (run, class): support, correct, recall,\n"
	       "                        top-5, predicted, precision, F1; '#' provenance lines\n"
	       "                        first (K unknown: the classes seen only)\n"
	       "      --jsonl           one JSON line per image (provenance lines first)\n"
	       "  -g, --grid FILE.jpg   with --compare: a labelled grid of the images only one\n"
	       "                        run gets right (thumbnails of each record's \"path\";\n"
	       "                        one unreadable or not a regular file: a gray tile);\n"
	       "                        FILE.jpg is a new file or a regular one, replaced\n"
	       "                        whole (a symlink's target is replaced, the link kept)\n"
	       "      --grid-max N      at most N images per run in the grid (default 24)\n"
	       "      --grid-thumb PX   thumbnail size (default 128)\n"
	       "      --max-record B    refuse input records larger than B bytes (default\n"
	       "                        1 GiB) or holding more than B/256 msgpack values\n"
	       "                        (at least 65536)\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode --labels labels.tsv imgs/ | rnencode | zscore | errstats\n"
	       "  errstats --names names-clip.txt --top 20 clip-scores.mp\n"
	       "  errstats --compare rn50-scores.mp clip-scores.mp --grid differ.jpg\n"
	       "  errstats --csv scores.mp > per-class.csv   # pandas: read_csv(f, comment='#')\n"
	       "\n"
	       "A top-1 accuracy no better than chance on labelled images prints a warning: the\n"
	       "labels and the class order (ILSVRC-2012 index order) likely do not match.\n"
	       "\n"
	       "Classes: K is the scores' width, else the number of class names; topk and\n"
	       "--subset records without names leave K unknown (the report says \"at least\").\n"
	       "A record whose label is neither -1 (unknown) nor in 0..K-1, or whose predicted\n"
	       "class is not in 0..K-1, is left out and named on stderr (exit 1). A repeated id\n"
	       "counts once (its first record) and is reported: not an input failure. With\n"
	       "--compare, ids whose labels differ between the runs are left out of the\n"
	       "comparison and counted; ids are compared as they are (`imgdecode DIR` gives\n"
	       "ids relative to DIR, `find DIR | imgdecode` full paths).\n"
	       "\n"
	       "Exit status: 0 report written (error records in the input are reported, not\n"
	       "an error); 1 some records left out (malformed scores, a bad label, a class out\n"
	       "of range) or, with --compare, no image id in common while a run has images;\n"
	       "2 usage error, unreadable or broken stream, an image or embedding record (run\n"
	       "rnencode, and zscore for CLIP, first), --names not one name per class, a\n"
	       "--grid file that cannot be written or is a FIFO, a device, a folder or one of\n"
	       "the streams (nothing on stdout; a failed write leaves the old file).\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	static const struct option longopts[] = {
		{"names", required_argument, NULL, 'n'},    {"compare", required_argument, NULL, 'c'},
		{"top", required_argument, NULL, 'k'},      {"json", no_argument, NULL, 'J'},
		{"csv", no_argument, NULL, 'C'},            {"jsonl", no_argument, NULL, 'L'},
		{"grid", required_argument, NULL, 'g'},     {"grid-max", required_argument, NULL, 'M'},
		{"grid-thumb", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
		{"max-record", required_argument, NULL, 'R'},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->top = 10;
	o->grid_max = 24;
	o->grid_thumb = 128;
	int c, nformats = 0;
	while ((c = opt_next(argc, argv, "n:c:k:t:g:h", longopts)) != -1) {
		switch (c) {
		case 'n': o->names_path = optarg; break;
		case 'c': o->compare_path = optarg; break;
		case 't': /* the old spelling: one release more */
			opt_old_spelling("-t N", "--top N (-k N)");
			/* fall through */
		case 'k': o->top = opt_parse_long("--top", optarg, 0, 1000000); break;
		case 'J': o->format = OUT_JSON; nformats++; break;
		case 'C': o->format = OUT_CSV; nformats++; break;
		case 'L': o->format = OUT_JSONL; nformats++; break;
		case 'g': o->grid_path = optarg; break;
		case 'M': o->grid_max = opt_parse_long("--grid-max", optarg, 1, 10000); break;
		case 'T': o->grid_thumb = opt_parse_long("--grid-thumb", optarg, 16, 1024); break;
		case 'R': o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (nformats > 1)
		diag_usage("--json, --csv and --jsonl are alternatives: pick one");
	if (o->grid_path && !o->compare_path)
		diag_usage("--grid shows images only one run gets right: it needs --compare OTHER");
	if (argc - optind > 1)
		diag_usage("one STREAM (plus --compare OTHER), got %d", argc - optind);
	o->input = optind < argc ? argv[optind] : "-";
	/* stdin can be read once: the second "run" would be empty */
	if (o->compare_path && strcmp(o->compare_path, "-") == 0 && strcmp(o->input, "-") == 0)
		diag_usage("--compare -: stdin is already the first stream (give STREAM as a file)");
}

/* ---- reading ---- */

/* K from what the runs carry (see the header comment); b may be NULL.
 * Returns the scores' width (0: the records carry none). */
static int64_t classes_decide(const run_t *a, const run_t *b)
{
	int64_t w = a->kwidth;
	if (b && b->kwidth > w)
		w = b->kwidth;
	if (w) {
		g_nclasses = w;
		g_classes_from = "the scores' width";
	} else if (g_nnames) {
		g_nclasses = g_nnames;
		g_classes_from = "the number of class names";
	} else {
		g_nclasses = 0; /* in_classes grows it to the classes seen */
		g_classes_from = NULL;
	}
	return w;
}

/* run_filter's rule: the label and every predicted class inside the classes. */
static int in_classes(const pred_t *p, int indexed, void *ctx, char *why, size_t cap)
{
	int64_t k = g_classes_from ? g_nclasses : RUN_MAX_CLASSES;
	if (p->status != PRED_OK)
		return 1;
	if (p->label < -1 || p->label >= k) {
		if (g_classes_from)
			snprintf(why, cap, "label %lld is out of range: %lld classes (%s), so 0..%lld, or -1 for unknown",
				 (long long)p->label, (long long)k, g_classes_from, (long long)(k - 1));
		else if (p->label < -1)
			snprintf(why, cap, "label %lld is out of range: a class index, or -1 for unknown", (long long)p->label);
		else
			snprintf(why, cap, "label %lld is beyond %d classes: not a class label", (long long)p->label,
				 RUN_MAX_CLASSES);
		return 0;
	}
	for (int j = 0; j < p->ntop; j++) {
		if (p->top[j] < k)
			continue;
		if (g_classes_from)
			snprintf(why, cap, "predicted class %lld is out of range: %lld classes (%s)", (long long)p->top[j],
				 (long long)k, g_classes_from);
		else
			snprintf(why, cap, "predicted class %lld is beyond %d classes: not a class index",
				 (long long)p->top[j], RUN_MAX_CLASSES);
		return 0;
	}
	if (!g_classes_from) {
		if (p->label + 1 > g_nclasses)
			g_nclasses = p->label + 1;
		for (int j = 0; j < p->ntop; j++)
			if (p->top[j] + 1 > g_nclasses)
				g_nclasses = p->top[j] + 1;
	}
	return 1;
}

static void run_check(run_t *r)
{
	run_filter(r, in_classes, NULL);
	run_index(r, "record");
}

/* The first record of its id (repeats stay out of every figure). */
static int first_of_id(const run_t *r, int64_t i)
{
	return ids_is_first(&r->ids, i);
}

/* Records errstats could not read: the stream reader's and malformed ones. */
static int64_t run_unreadable(const run_t *r)
{
	return r->nunreadable + r->nmalformed;
}

static const char *cname(int64_t c)
{
	return c >= 0 && c < g_nnames ? g_names[c] : NULL;
}

/* ---- figures ---- */

/* Chance: 1/K for the K classes the scores ranged over. Near chance: top-1
 * not more than 3 standard deviations above the binomial mean; the warning
 * in buf, or NULL. */
static const char *chance_warning(const run_t *r, const stats_t *s, char *buf, size_t cap)
{
	int64_t k = r->kmax ? r->kmax : g_nclasses;
	if (s->labelled < 10 || k < 2)
		return NULL;
	double pch = 1.0 / (double)k, n = (double)s->labelled;
	if ((double)s->top1 > n * pch + 3.0 * sqrt(n * pch * (1 - pch)))
		return NULL;
	snprintf(buf, cap,
		 "top-1 accuracy %.4f (%lld/%lld) is near chance (%.4f for %lld classes): the label mapping is "
		 "likely wrong (labels and class order must both be ILSVRC-2012 index order), or the weights are "
		 "not trained ones",
		 (double)s->top1 / (double)s->labelled, (long long)s->top1, (long long)s->labelled, pch, (long long)k);
	return buf;
}

typedef struct {
	int64_t c, mis, n;
	double conf; /* mean probability of the wrong top-1 predictions */
} misclass_t;

/* rate desc (compared exactly as fractions), then count desc, then the
 * confidence of the mistakes desc (with one image per class every rate and
 * count tie), then index asc */
static int cmp_misclass(const void *a, const void *b)
{
	const misclass_t *x = a, *y = b;
	int64_t l = x->mis * y->n, r = y->mis * x->n;
	if (l != r)
		return l > r ? -1 : 1;
	if (x->mis != y->mis)
		return x->mis > y->mis ? -1 : 1;
	if (x->conf != y->conf)
		return x->conf > y->conf ? -1 : 1;
	return (x->c > y->c) - (x->c < y->c);
}

/* Classes with at least one misclassified image, ranked; *n gets the count,
 * *tied whether every one has the same rate and count. */
static misclass_t *misclassified(const stats_t *s, int64_t *n, int *tied)
{
	misclass_t *v = xmalloc(((size_t)g_nclasses + 1) * sizeof *v);
	int64_t m = 0;
	for (int64_t c = 0; c < g_nclasses; c++) {
		int64_t mis = s->support[c] - s->correct[c];
		if (mis > 0)
			v[m++] = (misclass_t){c, mis, s->support[c], s->wrong_prob[c] / (double)mis};
	}
	qsort(v, (size_t)m, sizeof *v, cmp_misclass);
	*n = m;
	*tied = m > 1;
	for (int64_t i = 1; i < m && *tied; i++)
		*tied = v[i].mis == v[0].mis && v[i].n == v[0].n;
	return v;
}

/* ---- comparison ---- */

static int cmp_diff_desc(const void *a, const void *b)
{
	const class_diff_t *x = a, *y = b;
	if (x->diff != y->diff)
		return x->diff > y->diff ? -1 : 1;
	return (x->c > y->c) - (x->c < y->c);
}

static int top1_right(const pred_t *p)
{
	return p->status == PRED_OK && p->label >= 0 && p->ntop && p->top[0] == p->label;
}

static void compare_compute(const run_t *a, const run_t *b, compare_t *cm)
{
	memset(cm, 0, sizeof *cm);
	cm->first_differs = -1;
	pairing_build(&cm->pr, &a->ids, &b->ids);
	cm->use_a = xcalloc((size_t)a->n + 1, 1);
	cm->use_b = xcalloc((size_t)b->n + 1, 1);
	cm->right_a = xmalloc(((size_t)cm->pr.n + 1) * sizeof *cm->right_a);
	cm->right_b = xmalloc(((size_t)cm->pr.n + 1) * sizeof *cm->right_b);
	for (int64_t k = 0; k < cm->pr.n; k++) {
		id_pair_t q = cm->pr.pair[k];
		const pred_t *pa = &a->p[q.a], *pb = &b->p[q.b];
		if (pa->status != PRED_OK || pb->status != PRED_OK)
			continue;
		/* per-class recall on different truths compares nothing */
		if (pa->label != pb->label) {
			if (cm->label_differs++ == 0)
				cm->first_differs = k;
			continue;
		}
		cm->use_a[q.a] = cm->use_b[q.b] = 1;
		cm->matched++;
		int ra = top1_right(pa), rb = top1_right(pb);
		if (ra && !rb)
			cm->right_a[cm->n_right_a++] = q;
		else if (rb && !ra)
			cm->right_b[cm->n_right_b++] = q;
	}
	run_counts(a, cm->use_a, g_nclasses, &cm->sa);
	run_counts(b, cm->use_b, g_nclasses, &cm->sb);
	cm->better_a = xmalloc(((size_t)g_nclasses + 1) * sizeof *cm->better_a);
	cm->better_b = xmalloc(((size_t)g_nclasses + 1) * sizeof *cm->better_b);
	for (int64_t c = 0; c < g_nclasses; c++) {
		/* matched ids carry the same label; a class only one side has
		 * images of cannot be compared */
		if (!cm->sa.support[c] || !cm->sb.support[c])
			continue;
		double d = (double)cm->sa.correct[c] / (double)cm->sa.support[c] -
			   (double)cm->sb.correct[c] / (double)cm->sb.support[c];
		if (d > 0)
			cm->better_a[cm->n_better_a++] = (class_diff_t){c, d};
		else if (d < 0)
			cm->better_b[cm->n_better_b++] = (class_diff_t){c, -d};
		else
			cm->n_equal++;
	}
	qsort(cm->better_a, (size_t)cm->n_better_a, sizeof *cm->better_a, cmp_diff_desc);
	qsort(cm->better_b, (size_t)cm->n_better_b, sizeof *cm->better_b, cmp_diff_desc);
}

static void compare_free(compare_t *cm)
{
	pairing_free(&cm->pr);
	free(cm->use_a);
	free(cm->use_b);
	free(cm->right_a);
	free(cm->right_b);
	free(cm->better_a);
	free(cm->better_b);
	run_counts_free(&cm->sa);
	run_counts_free(&cm->sb);
}

/* ---- text ---- */

static void put_class(FILE *f, int64_t c)
{
	const char *nm = cname(c);
	fprintf(f, "%lld", (long long)c);
	if (nm) { /* text from a names file or a record: control characters escaped, as everywhere */
		fputs(" (", f);
		diag_put_cstr(f, nm);
		fputc(')', f);
	}
}

static void put_frac(FILE *f, int64_t num, int64_t den)
{
	if (den)
		fprintf(f, "%.4f (%lld/%lld)", (double)num / (double)den, (long long)num, (long long)den);
	else
		fputs("n/a (no labelled images)", f);
}

static void run_describe(FILE *f, const run_t *r)
{
	diag_put_cstr(f, r->name);
	if (r->model || r->precision) {
		fputs(" (", f);
		diag_put_cstr(f, r->model ? r->model : "");
		fputs(r->model && r->precision ? " " : "", f);
		diag_put_cstr(f, r->precision ? r->precision : "");
		fputc(')', f);
	}
}

static void text_run(FILE *f, const options_t *o, const run_t *r, const stats_t *s, const char *tag)
{
	if (tag)
		fprintf(f, "Run %s: ", tag);
	else
		fputs("Run: ", f);
	run_describe(f, r);
	fputc('\n', f);
	fprintf(f, "  images: %lld scored, %lld failed; %lld labelled, %lld unlabelled; ", (long long)s->scored,
		(long long)s->failed, (long long)s->labelled, (long long)s->unlabelled);
	if (g_classes_from)
		fprintf(f, "%lld classes\n", (long long)g_nclasses);
	else
		fprintf(f, "at least %lld classes (the records do not carry the class count; --names FILE gives it)\n",
			(long long)g_nclasses);
	fputs("  top-1 accuracy: ", f);
	put_frac(f, s->top1, s->labelled);
	fputs("\n  top-5 accuracy: ", f);
	if (s->top5_known || !s->labelled)
		put_frac(f, s->top5, s->labelled);
	else
		fputs("n/a (the records hold fewer than 5 classes per image)", f);
	fputc('\n', f);
	if (s->with_support)
		fprintf(f, "  mean per-class recall: %.4f (%lld classes with labelled images)\n", s->mean_recall,
			(long long)s->with_support);
	if (r->ids.ndup)
		fprintf(f, "  note: %lld records repeat an earlier id: left out, the first record of each id counts\n",
			(long long)r->ids.ndup);
	if (run_unreadable(r))
		fprintf(f, "  note: %lld records could not be read (see stderr)\n", (long long)run_unreadable(r));
	if (r->nbad)
		fprintf(f, "  note: %lld records left out: label or class out of range (see stderr)\n", (long long)r->nbad);
	char wbuf[512];
	if (chance_warning(r, s, wbuf, sizeof wbuf))
		fprintf(f, "  WARNING: %s\n", wbuf);

	int64_t nmis;
	int tied;
	misclass_t *mis = misclassified(s, &nmis, &tied);
	fprintf(f, "\nMost misclassified classes (%lld of %lld classes with errors; by rate, count, confidence):\n",
		(long long)(nmis < o->top ? nmis : o->top), (long long)nmis);
	if (tied) /* one image per class, say: the rate tells nothing apart */
		fprintf(f, "  (all %lld tie at %lld/%lld misclassified: ranked by the mean probability of the wrong predictions)\n",
			(long long)nmis, (long long)mis[0].mis, (long long)mis[0].n);
	for (int64_t i = 0; i < nmis && i < o->top; i++) {
		fputs("  Class ", f);
		put_class(f, mis[i].c);
		fprintf(f, ": %lld/%lld misclassified (%.2f)\n", (long long)mis[i].mis, (long long)mis[i].n,
			(double)mis[i].mis / (double)mis[i].n);
	}
	free(mis);
	fprintf(f, "\nMost frequent confusions (%lld of %lld pairs; true -> predicted):\n",
		(long long)(s->nconf < o->top ? s->nconf : o->top), (long long)s->nconf);
	for (int64_t i = 0; i < s->nconf && i < o->top; i++) {
		fprintf(f, "  %5lld  ", (long long)s->conf[i].n);
		put_class(f, s->conf[i].t);
		fputs(" -> ", f);
		put_class(f, s->conf[i].p);
		fputc('\n', f);
	}
	if (s->failed) {
		fprintf(f, "\nFailures (%lld error record%s, not in the accuracy figures):\n", (long long)s->failed,
			s->failed == 1 ? "" : "s");
		int64_t shown = 0;
		for (int64_t i = 0; i < r->n && shown < o->top; i++)
			if (r->p[i].status == PRED_ERROR && first_of_id(r, i)) {
				fputs("  ", f);
				diag_put_cstr(f, r->p[i].id);
				fputs(": ", f);
				diag_put_cstr(f, r->p[i].error);
				fputc('\n', f);
				shown++;
			}
		if (s->failed > shown)
			fprintf(f, "  ... %lld more\n", (long long)(s->failed - shown));
	}
}

static void text_pred(FILE *f, const char *tag, const pred_t *p)
{
	fprintf(f, "  %s: ", tag);
	if (p->ntop) {
		put_class(f, p->top[0]);
		fprintf(f, " %.4f", (double)p->prob[0]);
	} else {
		fputs("-", f);
	}
}

/* Row 0 top-1, 1 top-5, 2 mean per-class recall of the side-by-side table. */
static void compare_cell(char *buf, size_t cap, const stats_t *s, int row)
{
	int64_t num = row ? s->top5 : s->top1;
	if (row < 2 && s->labelled && (row == 0 || s->top5_known))
		snprintf(buf, cap, "%.4f (%lld/%lld)", (double)num / (double)s->labelled, (long long)num,
			 (long long)s->labelled);
	else if (row == 2 && s->with_support)
		snprintf(buf, cap, "%.4f", s->mean_recall);
	else
		snprintf(buf, cap, "n/a");
}

static void text_compare(FILE *f, const options_t *o, const run_t *a, const run_t *b, const compare_t *cm)
{
	fputs("\nComparison: A = ", f);
	run_describe(f, a);
	fputs(", B = ", f);
	run_describe(f, b);
	fprintf(f, "\n  images both runs scored: %lld; only in A: %lld; only in B: %lld", (long long)cm->matched,
		(long long)cm->pr.only_a, (long long)cm->pr.only_b);
	if (cm->label_differs)
		fprintf(f, "; with different labels (left out): %lld", (long long)cm->label_differs);
	fputc('\n', f);
	char buf[64];
	fprintf(f, "  %-24s %-22s %s\n", "on those images", "A", "B");
	static const char *const rows[3] = {"top-1 accuracy", "top-5 accuracy", "mean per-class recall"};
	const stats_t *s[2] = {&cm->sa, &cm->sb};
	for (int row = 0; row < 3; row++) {
		fprintf(f, "  %-24s", rows[row]);
		for (int i = 0; i < 2; i++) {
			compare_cell(buf, sizeof buf, s[i], row);
			fprintf(f, i ? " %s\n" : " %-22s", buf);
		}
	}
	fprintf(f, "  classes (top-1 recall): A better in %lld, B better in %lld, equal in %lld\n",
		(long long)cm->n_better_a, (long long)cm->n_better_b, (long long)cm->n_equal);
	const class_diff_t *lists[2] = {cm->better_a, cm->better_b};
	int64_t counts[2] = {cm->n_better_a, cm->n_better_b};
	for (int k = 0; k < 2; k++) {
		fprintf(f, "\nClasses where %s does better (%lld of %lld; recall A-B in parentheses):\n", k ? "B" : "A",
			(long long)(counts[k] < o->top ? counts[k] : o->top), (long long)counts[k]);
		for (int64_t i = 0; i < counts[k] && i < o->top; i++) {
			int64_t c = lists[k][i].c;
			fputs("  Class ", f);
			put_class(f, c);
			fprintf(f, ": A %lld/%lld, B %lld/%lld (%+.2f)\n", (long long)cm->sa.correct[c],
				(long long)cm->sa.support[c], (long long)cm->sb.correct[c], (long long)cm->sb.support[c],
				k ? -lists[k][i].diff : lists[k][i].diff);
		}
	}
	const id_pair_t *right[2] = {cm->right_a, cm->right_b};
	int64_t nright[2] = {cm->n_right_a, cm->n_right_b};
	for (int k = 0; k < 2; k++) {
		fprintf(f, "\nImages only %s gets right (top-1; %lld of %lld):\n", TAG[k],
			(long long)(nright[k] < o->top ? nright[k] : o->top), (long long)nright[k]);
		for (int64_t i = 0; i < nright[k] && i < o->top; i++) {
			const pred_t *pa = &a->p[right[k][i].a], *pb = &b->p[right[k][i].b];
			fputs("  ", f);
			diag_put_cstr(f, pa->id);
			fputs("  label ", f);
			put_class(f, pa->label);
			text_pred(f, "A", pa);
			text_pred(f, "B", pb);
			fputc('\n', f);
		}
	}
}

static void text_report(FILE *f, const options_t *o, const run_t *a, const stats_t *sa, const run_t *b,
			const stats_t *sb, const compare_t *cm)
{
	text_run(f, o, a, sa, b ? TAG[0] : NULL);
	if (b) {
		fputc('\n', f);
		text_run(f, o, b, sb, TAG[1]);
		text_compare(f, o, a, b, cm);
	}
	fputs("\nProvenance", f);
	if (b)
		fputs(" of A", f);
	fputs(":\n", f);
	prov_print_text(f, &a->prov, "  ");
	if (b) {
		fputs("Provenance of B:\n", f);
		prov_print_text(f, &b->prov, "  ");
	}
}

/* ---- JSON ---- */

static void json_acc(jw_t *w, const char *key, int64_t num, int64_t den, int known)
{
	if (!known) {
		jw_null(w, key);
		return;
	}
	jw_obj(w, key);
	jw_int(w, "correct", num);
	jw_int(w, "total", den);
	jw_ratio(w, "accuracy", (double)num, (double)den);
	jw_end(w);
}

static void json_figures(jw_t *w, const stats_t *s)
{
	json_acc(w, "top1", s->top1, s->labelled, 1);
	json_acc(w, "top5", s->top5, s->labelled, s->top5_known);
	if (s->with_support)
		jw_double(w, "mean_per_class_recall", s->mean_recall);
	else
		jw_null(w, "mean_per_class_recall");
}

static void json_class_row(jw_t *w, const stats_t *s, int64_t c)
{
	int64_t tp = s->correct[c], sup = s->support[c], pr = s->predicted[c];
	jw_obj(w, NULL);
	jw_int(w, "class", c);
	jw_str(w, "name", cname(c));
	jw_int(w, "support", sup);
	jw_int(w, "correct", tp);
	jw_ratio(w, "recall", (double)tp, (double)sup);
	jw_int(w, "top5_correct", s->correct5[c]);
	jw_int(w, "predicted", pr);
	jw_ratio(w, "precision", (double)tp, (double)pr);
	/* F1 = 2TP / (support + predicted), when both are defined */
	jw_ratio(w, "f1", sup && pr ? 2.0 * (double)tp : 0, sup && pr ? (double)(sup + pr) : 0);
	jw_end(w);
}

static void json_run(jw_t *w, const options_t *o, const run_t *r, const stats_t *s)
{
	jw_obj(w, NULL);
	jw_str(w, "stream", r->path);
	jw_str(w, "model", r->model);
	jw_str(w, "precision", r->precision);
	jw_int(w, "classes", g_nclasses);
	jw_int(w, "scored", s->scored);
	jw_int(w, "failed", s->failed);
	jw_int(w, "labelled", s->labelled);
	jw_int(w, "unlabelled", s->unlabelled);
	jw_int(w, "duplicate_ids", r->ids.ndup);
	jw_int(w, "unreadable", run_unreadable(r));
	jw_int(w, "out_of_range", r->nbad);
	jw_bool(w, "classes_known", g_classes_from != NULL);
	json_figures(w, s);
	char wbuf[512];
	jw_arr(w, "warnings");
	if (chance_warning(r, s, wbuf, sizeof wbuf))
		jw_str(w, NULL, wbuf);
	jw_end(w);
	jw_arr(w, "per_class");
	for (int64_t c = 0; c < g_nclasses; c++)
		if (s->support[c] || s->predicted[c])
			json_class_row(w, s, c);
	jw_end(w);
	int64_t nmis;
	int tied;
	misclass_t *mis = misclassified(s, &nmis, &tied);
	jw_arr(w, "most_misclassified");
	for (int64_t i = 0; i < nmis && i < o->top; i++) {
		jw_obj(w, NULL);
		jw_int(w, "class", mis[i].c);
		jw_str(w, "name", cname(mis[i].c));
		jw_int(w, "misclassified", mis[i].mis);
		jw_int(w, "support", mis[i].n);
		jw_ratio(w, "rate", (double)mis[i].mis, (double)mis[i].n);
		jw_double(w, "confidence", mis[i].conf);
		jw_end(w);
	}
	jw_end(w);
	free(mis);
	jw_arr(w, "confusions");
	for (int64_t i = 0; i < s->nconf; i++) {
		jw_obj(w, NULL);
		jw_int(w, "true", s->conf[i].t);
		jw_int(w, "pred", s->conf[i].p);
		jw_int(w, "count", s->conf[i].n);
		jw_end(w);
	}
	jw_end(w);
	jw_arr(w, "failures");
	for (int64_t i = 0; i < r->n; i++) {
		if (r->p[i].status != PRED_ERROR || !first_of_id(r, i))
			continue;
		jw_obj(w, NULL);
		jw_str(w, "id", r->p[i].id);
		jw_str(w, "error", r->p[i].error);
		jw_end(w);
	}
	jw_end(w);
	prov_json(w, "provenance", &r->prov);
	jw_end(w);
}

static void json_pred_brief(jw_t *w, const char *key, const pred_t *p)
{
	jw_obj(w, key);
	jw_int(w, "top1", p->ntop ? p->top[0] : -1);
	jw_double(w, "prob", p->ntop ? p->prob[0] : NAN);
	jw_end(w);
}

static void json_compare(jw_t *w, const run_t *a, const run_t *b, const compare_t *cm)
{
	jw_obj(w, "compare");
	jw_int(w, "matched", cm->matched);
	jw_int(w, "only_a", cm->pr.only_a);
	jw_int(w, "only_b", cm->pr.only_b);
	jw_int(w, "common_ids", cm->pr.n);
	jw_int(w, "label_differs", cm->label_differs);
	jw_obj(w, "a");
	json_figures(w, &cm->sa);
	jw_end(w);
	jw_obj(w, "b");
	json_figures(w, &cm->sb);
	jw_end(w);
	jw_int(w, "classes_equal", cm->n_equal);
	const class_diff_t *lists[2] = {cm->better_a, cm->better_b};
	int64_t counts[2] = {cm->n_better_a, cm->n_better_b};
	for (int k = 0; k < 2; k++) {
		jw_arr(w, k ? "b_better" : "a_better");
		for (int64_t i = 0; i < counts[k]; i++) {
			int64_t c = lists[k][i].c;
			jw_obj(w, NULL);
			jw_int(w, "class", c);
			jw_str(w, "name", cname(c));
			jw_int(w, "support", cm->sa.support[c]);
			jw_int(w, "a_correct", cm->sa.correct[c]);
			jw_int(w, "b_correct", cm->sb.correct[c]);
			jw_end(w);
		}
		jw_end(w);
	}
	const id_pair_t *right[2] = {cm->right_a, cm->right_b};
	int64_t nright[2] = {cm->n_right_a, cm->n_right_b};
	for (int k = 0; k < 2; k++) {
		jw_arr(w, k ? "only_b_right" : "only_a_right");
		for (int64_t i = 0; i < nright[k]; i++) {
			const pred_t *pa = &a->p[right[k][i].a], *pb = &b->p[right[k][i].b];
			jw_obj(w, NULL);
			jw_str(w, "id", pa->id);
			jw_int(w, "label", pa->label);
			json_pred_brief(w, "a", pa);
			json_pred_brief(w, "b", pb);
			jw_end(w);
		}
		jw_end(w);
	}
	jw_end(w);
}

static void json_report(FILE *f, const options_t *o, const run_t *a, const stats_t *sa, const run_t *b,
			const stats_t *sb, const compare_t *cm)
{
	jw_t w;
	jw_init(&w, f);
	jw_obj(&w, NULL);
	jw_arr(&w, "runs");
	json_run(&w, o, a, sa);
	if (b)
		json_run(&w, o, b, sb);
	jw_end(&w);
	if (b)
		json_compare(&w, a, b, cm);
	else
		jw_null(&w, "compare");
	jw_close(&w);
}

/* ---- CSV and JSON Lines ---- */

/* A CSV field: quoted when it holds a comma or a quote; control characters
 * escaped as in every text output (so a row is one line) */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"")) {
		diag_put_cstr(f, s);
		return;
	}
	fputc('"', f);
	for (const char *q; (q = strchr(s, '"')); s = q + 1) {
		diag_put_text(f, s, (size_t)(q - s) + 1);
		fputc('"', f);
	}
	diag_put_cstr(f, s);
	fputc('"', f);
}

static void csv_ratio(FILE *f, int64_t num, int64_t den)
{
	if (den)
		fprintf(f, "%.6f", (double)num / (double)den);
}

static void csv_provenance(FILE *f, const run_t *r, const char *tag)
{
	fprintf(f, "# run %s: ", tag);
	diag_put_cstr(f, r->path);
	fputc('\n', f);
	prov_print_text(f, &r->prov, "# ");
}

static void csv_rows(FILE *f, const char *tag, const stats_t *s)
{
	for (int64_t c = 0; c < g_nclasses; c++) {
		int64_t tp = s->correct[c], sup = s->support[c], pr = s->predicted[c];
		/* K unknown: the classes seen, not every index up to the largest
		 * (one label 16777215 made 2^24 rows) */
		if (!g_classes_from && !sup && !pr)
			continue;
		fprintf(f, "%s,%lld,", tag, (long long)c);
		csv_field(f, cname(c) ? cname(c) : "");
		fprintf(f, ",%lld,%lld,", (long long)sup, (long long)tp);
		csv_ratio(f, tp, sup);
		fprintf(f, ",%lld,", (long long)s->correct5[c]);
		csv_ratio(f, s->correct5[c], sup);
		fprintf(f, ",%lld,", (long long)pr);
		csv_ratio(f, tp, pr);
		fputc(',', f);
		if (sup && pr)
			fprintf(f, "%.6f", 2.0 * (double)tp / (double)(sup + pr));
		fputc('\n', f);
	}
}

static void csv_report(FILE *f, const run_t *a, const stats_t *sa, const run_t *b, const stats_t *sb)
{
	csv_provenance(f, a, TAG[0]);
	if (b)
		csv_provenance(f, b, TAG[1]);
	fputs("run,class,name,support,correct,recall,top5_correct,top5_recall,predicted,precision,f1\n", f);
	csv_rows(f, TAG[0], sa);
	if (b)
		csv_rows(f, TAG[1], sb);
}

static void jsonl_side(jw_t *w, const char *key, const pred_t *p)
{
	if (!p) {
		jw_null(w, key);
		return;
	}
	jw_obj(w, key);
	if (p->status == PRED_ERROR) {
		jw_str(w, "error", p->error);
		jw_end(w);
		return;
	}
	pred_json_top(w, p->top, p->prob, p->ntop);
	if (p->label >= 0) {
		int rank = pred_rank_of(p, p->label);
		jw_bool(w, "top1", rank == 0);
		jw_bool(w, "top5", rank >= 0 && rank < 5);
	} else {
		jw_null(w, "top1");
		jw_null(w, "top5");
	}
	jw_end(w);
}

static void jsonl_line(FILE *f, const pred_t *p, const pred_t *pa, const pred_t *pb, int compare)
{
	jw_t w;
	jw_init(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "type", "image");
	jw_str(&w, "id", p->id);
	jw_int(&w, "label", p->label);
	jw_str(&w, "name", cname(p->label));
	jw_str(&w, "path", p->path);
	jsonl_side(&w, "a", pa);
	if (compare)
		jsonl_side(&w, "b", pb);
	jw_close(&w);
}

static void jsonl_report(FILE *f, const run_t *a, const run_t *b)
{
	const run_t *runs[2] = {a, b};
	for (int k = 0; k < (b ? 2 : 1); k++) {
		jw_t w;
		jw_init(&w, f);
		jw_obj(&w, NULL);
		jw_str(&w, "type", "provenance");
		jw_str(&w, "run", TAG[k]);
		jw_str(&w, "stream", runs[k]->path);
		prov_json(&w, "provenance", &runs[k]->prov);
		jw_close(&w);
	}
	for (int64_t i = 0; i < a->n; i++) {
		if (!first_of_id(a, i)) /* one line per image */
			continue;
		const pred_t *p = &a->p[i];
		const pred_t *q = NULL;
		if (b) {
			int64_t j = ids_find(&b->ids, p->id);
			q = j >= 0 ? &b->p[j] : NULL;
		}
		jsonl_line(f, p, p, q, b != NULL);
	}
	if (b) /* images only B has */
		for (int64_t j = 0; j < b->n; j++)
			if (first_of_id(b, j) && ids_find(&a->ids, b->p[j].id) < 0)
				jsonl_line(f, &b->p[j], NULL, &b->p[j], 1);
}

/* ---- grid ---- */

static const unsigned char COL_BG[3] = {255, 255, 255}, COL_TEXT[3] = {0, 0, 0}, COL_OK[3] = {0, 128, 0},
			   COL_BAD[3] = {200, 0, 0}, COL_TITLE_BG[3] = {40, 40, 40}, COL_TITLE[3] = {255, 255, 255},
			   COL_FRAME[3] = {225, 225, 225}, COL_MISSING[3] = {160, 160, 160};

static void grid_label(char *buf, size_t cap, const char *prefix, int64_t c)
{
	const char *nm = cname(c);
	if (nm)
		snprintf(buf, cap, "%s%s", prefix, nm);
	else
		snprintf(buf, cap, "%sclass %lld", prefix, (long long)c);
}

static void grid_cell(rgb_image_t *im, int x, int y, int thumb, const pred_t *pa, const pred_t *pb,
		      int *nmissing, char *first_missing, size_t fm_cap)
{
	int chars = (thumb + 4) / FONT_CELL_W;
	rgb_image_fill(im, x, y, thumb, thumb, COL_FRAME);
	rgb_image_t t;
	char err[512];
	const char *path = pa->path ? pa->path : pb->path;
	if (path && rgb_image_load_jpeg_thumb(path, thumb, &t, err, sizeof err) == 0) {
		rgb_image_blit(im, &t, x + (thumb - t.w) / 2, y + (thumb - t.h) / 2);
		rgb_image_free(&t);
	} else {
		if (!path)
			snprintf(err, sizeof err, "%s: the record has no path", pa->id);
		if ((*nmissing)++ == 0)
			snprintf(first_missing, fm_cap, "%s", err);
		rgb_image_text(im, x + 4, y + thumb / 2 - 4, path ? "(unreadable)" : "(no path)", chars, COL_MISSING, 1);
	}
	char line[256];
	int ty = y + thumb + 3;
	rgb_image_text_mid(im, x, ty, pa->id, chars, COL_TEXT, 1);
	grid_label(line, sizeof line, "true: ", pa->label);
	rgb_image_text(im, x, ty + FONT_CELL_H, line, chars, COL_TEXT, 1);
	const pred_t *side[2] = {pa, pb};
	for (int k = 0; k < 2; k++) {
		const pred_t *p = side[k];
		/* each model's probability for its top-1 class, before the name a long name cuts */
		char prefix[32];
		if (p->ntop)
			snprintf(prefix, sizeof prefix, "%s %.2f: ", k ? "B" : "A", (double)p->prob[0]);
		else
			snprintf(prefix, sizeof prefix, "%s: ", k ? "B" : "A");
		grid_label(line, sizeof line, prefix, p->ntop ? p->top[0] : -1);
		rgb_image_text(im, x, ty + (2 + k) * FONT_CELL_H, line, chars, top1_right(p) ? COL_OK : COL_BAD, 1);
	}
}

/* Fail before any stream is read or anything is written when the grid
 * cannot be written where asked (no such folder, read-only, a folder, a
 * FIFO or device: the outfile rule of common/util/util.h), or would replace an input. */
static void grid_probe(const options_t *o)
{
	struct stat st;
	char err[1024];
	if (outfile_check(o->grid_path, &st, err, sizeof err) != 0) {
		int e = errno;
		/* outfile names the path first: say it once, as given */
		size_t n = strlen(o->grid_path);
		const char *why = strncmp(err, o->grid_path, n) == 0 && err[n] == ':' ? err + n + 2 : err;
		if (e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS)
			diag_fatal("--grid %s: %s (the grid's folder must exist and be writable)", o->grid_path, why);
		diag_fatal("--grid %s: %s", o->grid_path, why);
	}
	const char *inputs[3] = {o->input, o->compare_path, o->names_path};
	for (int k = 0; k < 3 && st.st_ino; k++) {
		if (!inputs[k])
			continue;
		if (file_is(strcmp(inputs[k], "-") == 0 ? NULL : inputs[k], 0, &st))
			diag_fatal("--grid %s: is the %s %s: the grid would replace it", o->grid_path,
				   k == 2 ? "--names file" : "stream",
				   strcmp(inputs[k], "-") == 0 ? "on stdin" : inputs[k]);
	}
}

static void grid_write(const options_t *o, const run_t *a, const run_t *b, const compare_t *cm)
{
	const int thumb = (int)o->grid_thumb, pad = 8, cols_max = 8;
	const int cell_w = thumb + pad, cell_h = thumb + 4 * FONT_CELL_H + 3 + pad, title_h = 3 * FONT_CELL_H + 10;
	int64_t nshow[2] = {cm->n_right_a < o->grid_max ? cm->n_right_a : o->grid_max,
			    cm->n_right_b < o->grid_max ? cm->n_right_b : o->grid_max};
	int64_t most = nshow[0] > nshow[1] ? nshow[0] : nshow[1];
	int cols = most < cols_max ? (int)(most ? most : 1) : cols_max;
	int width = cols * cell_w + pad;
	if (width < 60 * FONT_CELL_W + 2 * pad)
		width = 60 * FONT_CELL_W + 2 * pad; /* room for the section titles */
	/* JPEG holds at most 65500 rows: fewer thumbnails rather than no grid
	 * (the titles say "first shown"); the rows are shared, half each when
	 * both sections need more */
	const int64_t rows_fit = (65500 - pad - 2 * (title_h + pad)) / cell_h;
	int64_t ra = (nshow[0] + cols - 1) / cols, rb = (nshow[1] + cols - 1) / cols;
	if (ra + rb > rows_fit) {
		int64_t half = rows_fit / 2;
		if (ra <= half)
			rb = rows_fit - ra;
		else if (rb <= half)
			ra = rows_fit - rb;
		else
			ra = half, rb = rows_fit - half;
		nshow[0] = nshow[0] < ra * cols ? nshow[0] : ra * cols;
		nshow[1] = nshow[1] < rb * cols ? nshow[1] : rb * cols;
	}
	int height = pad;
	for (int k = 0; k < 2; k++)
		height += title_h + (int)((nshow[k] + cols - 1) / cols) * cell_h + pad;
	rgb_image_t im;
	rgb_image_init(&im, width, height, COL_BG);
	const id_pair_t *right[2] = {cm->right_a, cm->right_b};
	int64_t nright[2] = {cm->n_right_a, cm->n_right_b};
	const run_t *runs[2] = {a, b};
	int y = pad, nmissing = 0;
	char first_missing[512] = "";
	for (int k = 0; k < 2; k++) {
		char title[128], sub[512];
		snprintf(title, sizeof title, "Only %s right: %lld image%s%s", k ? "B" : "A", (long long)nright[k],
			 nright[k] == 1 ? "" : "s", nshow[k] < nright[k] ? " (first shown)" : "");
		snprintf(sub, sizeof sub, "%s = %s %s %s", k ? "B" : "A", runs[k]->path, runs[k]->model ? runs[k]->model : "",
			 runs[k]->precision ? runs[k]->precision : "");
		rgb_image_fill(&im, 0, y, width, title_h - 4, COL_TITLE_BG);
		rgb_image_text(&im, pad, y + 3, title, (width - 2 * pad) / (2 * FONT_CELL_W), COL_TITLE, 2);
		rgb_image_text(&im, pad, y + 3 + 2 * FONT_CELL_H, sub, (width - 2 * pad) / FONT_CELL_W, COL_TITLE, 1);
		y += title_h;
		for (int64_t i = 0; i < nshow[k]; i++) {
			grid_cell(&im, pad + (int)(i % cols) * cell_w, y + (int)(i / cols) * cell_h, thumb,
				  &a->p[right[k][i].a], &b->p[right[k][i].b], &nmissing, first_missing, sizeof first_missing);
		}
		y += (int)((nshow[k] + cols - 1) / cols) * cell_h + pad;
	}
	char err[512];
	if (rgb_image_write_jpeg(&im, o->grid_path, 90, err, sizeof err) != 0) {
		/* the writer names its temporary file; the user knows the path given */
		size_t n = strlen(o->grid_path);
		const char *why = err;
		if (strncmp(err, o->grid_path, n) == 0 && strstr(err + n, ": "))
			why = strstr(err + n, ": ") + 2;
		diag_fatal("--grid %s: %s", o->grid_path, why);
	}
	rgb_image_free(&im);
	if (nmissing)
		diag_msg("--grid: %d image%s could not be drawn (first: %s)", nmissing, nmissing == 1 ? "" : "s",
			 first_missing);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	if (o.grid_path)
		grid_probe(&o);
	char **file_names = NULL;
	int64_t nfile_names = 0;
	char err[512];
	if (o.names_path && names_load(o.names_path, &file_names, &nfile_names, err, sizeof err) != 0)
		diag_fatal("--names: %s", err);
	run_t a, b;
	run_read(&a, o.input, NULL, "errstats", o.max_record);
	if (o.compare_path)
		run_read(&b, o.compare_path, NULL, "errstats", o.max_record);
	const run_t *pb = o.compare_path ? &b : NULL;
	g_names = file_names ? file_names : a.names ? a.names : pb ? b.names : NULL;
	g_nnames = file_names ? nfile_names : a.names ? a.nnames : pb ? b.nnames : 0;
	int64_t width = classes_decide(&a, pb);
	/* names that do not fit the scores would put wrong names on every row */
	if (file_names && width && nfile_names != width)
		diag_fatal("--names %s: %lld names, the scores have %lld classes", o.names_path, (long long)nfile_names,
			   (long long)width);
	run_check(&a);
	if (pb)
		run_check(&b);

	stats_t sa, sb;
	compare_t cm;
	memset(&sb, 0, sizeof sb);
	memset(&cm, 0, sizeof cm);
	run_counts(&a, NULL, g_nclasses, &sa);
	if (pb) {
		run_counts(pb, NULL, g_nclasses, &sb);
		compare_compute(&a, pb, &cm);
	}
	char wbuf[512];
	if (chance_warning(&a, &sa, wbuf, sizeof wbuf))
		diag_msg("%s: %s", a.name, wbuf);
	if (pb && chance_warning(&b, &sb, wbuf, sizeof wbuf))
		diag_msg("%s: %s", b.name, wbuf);
	int no_common = 0;
	if (pb) {
		if (cm.label_differs) {
			id_pair_t q = cm.pr.pair[cm.first_differs];
			const pred_t *x = &a.p[q.a], *y = &b.p[q.b];
			diag_msg("%s vs %s: %lld image%s with different labels in the two runs (first: id '%s', label %lld "
				 "in A, %lld in B): left out of the comparison",
				 a.name, b.name, (long long)cm.label_differs, cm.label_differs == 1 ? "" : "s", x->id,
				 (long long)x->label, (long long)y->label);
		}
		no_common = pairing_none(&cm.pr, &a.ids, &b.ids, a.name, b.name, NULL);
	}
	/* the grid first: when it fails (exit 2) stdout stays empty */
	if (o.grid_path)
		grid_write(&o, &a, pb, &cm);

	switch (o.format) {
	case OUT_TEXT: text_report(stdout, &o, &a, &sa, pb, &sb, &cm); break;
	case OUT_JSON: json_report(stdout, &o, &a, &sa, pb, &sb, &cm); break;
	case OUT_CSV: csv_report(stdout, &a, &sa, pb, &sb); break;
	case OUT_JSONL: jsonl_report(stdout, &a, pb); break;
	}
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));

	int failed = run_unreadable(&a) + a.nbad + (pb ? run_unreadable(&b) + b.nbad : 0) + no_common > 0;
	run_counts_free(&sa);
	run_free(&a);
	if (pb) {
		run_counts_free(&sb);
		compare_free(&cm);
		run_free(&b);
	}
	names_free(file_names, nfile_names);
	return failed ? EXIT_SOME_FAILED : EXIT_OK;
}
