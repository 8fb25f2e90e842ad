/* errtree - errstats through the WordNet tree: how far off is each mistake.
 *
 * Records in: one stream (a file, or stdin) of scores, logits or topk
 * records (doc/records.md), and with --compare a second one. The top-1
 * prediction is the highest score (ties: the lower class) or a topk
 * record's first index. Headers, stats and unknown records are skipped;
 * error records, records with label -1 and malformed records are counted
 * apart and shown, never dropped silently; an id met again in the same
 * stream counts once (its first record; the repeats are reported, as in
 * errstats). An image or embedding record
 * means the wrong stream (no scores yet): exit 2 with what to run first,
 * as errstats and topk do.
 * Out: a report on stdout, text or (--json) one JSON object, not records:
 * like recview this is the end of a pipeline, and a terminal is fine.
 *
 * ImageNet's classes are WordNet noun synsets (wnid n01440764 = synset
 * 01440764). For every top-1 mistake it finds the lowest common ancestor
 * (LCA) of the true and predicted synsets and calls its height the
 * mistake's severity (common/eval/eval.h defines height, depth and the LCA
 * in WordNet's DAG). Per model: mean severity, the share of near misses,
 * a histogram, the most frequent confusions named with their LCA, and a
 * table per family (the large subtrees: dogs, birds, devices...). With
 * --compare, the two models side by side and paired on the images both
 * got wrong; streams with no labelled image id in common are exit 1 (as
 * fpdiff and errstats), with a hint about relative and full-path ids.
 * Label-set ambiguity: classes with the same name in a names
 * file (ImageNet's two cranes, CLIP's two "missile"s) and classes whose
 * synset lies above another class's are listed, and mistakes between them
 * are flagged and also averaged without.
 *
 * It does not compute accuracy tables or calibration (errstats does), look
 * at images, or pass records on.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval.h"
#include "util/util.h"
#include "stream/stream.h"

enum {
	MAX_NAME_FILES = 8,
	DEFAULT_TOP = 10,
	DEFAULT_NEAR = 2,
	DEFAULT_FAMILIES = 12,
	/* The largest family size: ImageNet's canine subtree (118 dogs, wolves,
	 * foxes: 130 classes) stays one family; larger subtrees are split. */
	DEFAULT_FAMILY_MAX = 130
};

typedef struct {
	const char *wordnet_dir;
	const char *wnids;
	const char *names[MAX_NAME_FILES];
	int nnames;
	const char *compare;
	const char *input;
	long top, near, families, family_max;
	int list, json;
} options_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: errtree [OPTIONS] [STREAM]\n"
	       "How far off are a classifier's mistakes in ImageNet's WordNet hierarchy?\n"
	       "Reads scores, logits or topk records (STREAM, or stdin) and writes a report\n"
	       "(text, or JSON with --json) on stdout; no records come out.\n"
	       "\n"
	       "For each top-1 mistake: the lowest common ancestor (LCA) of the true and the\n"
	       "predicted class's synsets, and the mistake's severity = the LCA's height.\n"
	       "  hierarchy  the classes' synsets and all synsets above them ('@' hypernym\n"
	       "             and '@i' instance hypernym pointers of WordNet 3.0 data.noun)\n"
	       "  height     longest path down from a synset to a class below it (a class\n"
	       "             with no class below it: 0); longest, so that a parent is\n"
	       "             always higher than its children. ImageNet: tabby and tiger\n"
	       "             cat meet at domestic cat (1), Chihuahua and husky at dog (5),\n"
	       "             a dog and a car at whole (15); the root, entity, is 18.\n"
	       "  LCA        WordNet is not a tree (dog is a canine and a domestic animal):\n"
	       "             of the shared ancestors, the one of least height; ties go to\n"
	       "             the smaller synset offset.\n"
	       "Per model: mean severity, near misses (severity <= --near), a histogram,\n"
	       "the most frequent confusions, and a table per family: subtrees of the tree\n"
	       "of first-listed hypernyms, split from the root, largest first, until none\n"
	       "has more than --family-max classes (dogs, birds, devices, vehicles...).\n"
	       "Ambiguous labels: classes with the same name (text before the first comma)\n"
	       "in a names file, and classes whose synset is above another class's; mistakes\n"
	       "between them are flagged, and the mean is also given without them.\n"
	       "\n"
	       "  -c, --compare OTHER.mp  a second model's stream, side by side and paired\n"
	       "                          by image id\n"
	       "      --wordnet DIR       directory with data.noun (default $WNSEARCHDIR,\n"
	       "                          else $WNHOME/dict, else /usr/share/wordnet: Debian's\n"
	       "                          wordnet-base)\n"
	       "      --wnids FILE        class index -> wnid, one per line (default\n"
	       "                          DATA/wnids.txt, ImageNet's 1000 in torchvision order)\n"
	       "      --names FILE        class names, one per line (repeatable; the first\n"
	       "                          names the classes in the report). Default with the\n"
	       "                          default wnids: DATA/names-imagenet.txt and\n"
	       "                          DATA/names-clip.txt; with --wnids: WordNet's words\n"
	       "      --top N             confusions listed per model (default %d)\n"
	       "      --near N            a near miss has severity <= N (default %d)\n"
	       "      --families N        families shown (default %d; the rest as 'other')\n"
	       "      --family-max M      largest family size (default %d: ImageNet's\n"
	       "                          canine subtree stays whole)\n"
	       "      --list              also list every mistake (--json always does)\n"
	       "      --json              one JSON object instead of the text report\n"
	       "  -h, --help              this help\n"
	       "DATA is $RNENC_DATA if set, else BINDIR/../share/rnencode (installed), else\n"
	       "the checkout's data/ (BINDIR/../data).\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode --preset imagenet --labels labels.tsv DIR | rnencode | zscore \\\n"
	       "      > resnet.mp\n"
	       "  errtree resnet.mp                        # how bad are the mistakes?\n"
	       "  errtree resnet.mp --compare clip.mp      # does CLIP err closer or farther?\n"
	       "  topk -k 1 < clip.mp | errtree --json     # topk records work too\n"
	       "  errtree --wnids my-wnids.txt --names my-names.txt run.mp\n"
	       "\n"
	       "With --compare, images pair by id as the ids are: `imgdecode DIR` gives ids\n"
	       "relative to DIR, `find DIR | imgdecode` full paths.\n"
	       "\n"
	       "Exit status: 0 ok; 1 some inputs failed (error records, malformed or\n"
	       "out-of-range records: counted in the report) or, with --compare, no labelled\n"
	       "image id in common while a run has some (two runs with none: 0, nothing to\n"
	       "pair); 2 usage error, missing WordNet or class list, a broken stream, or an\n"
	       "image or embedding record (run rnencode, and zscore for CLIP, first).\n",
	       DEFAULT_TOP, DEFAULT_NEAR, DEFAULT_FAMILIES, DEFAULT_FAMILY_MAX);
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { OPT_WORDNET = 256, OPT_WNIDS, OPT_NAMES, OPT_TOP, OPT_NEAR, OPT_FAMILIES, OPT_FAMILY_MAX, OPT_LIST, OPT_JSON };
	static const struct option longopts[] = {{"compare", required_argument, NULL, 'c'},
						 {"wordnet", required_argument, NULL, OPT_WORDNET},
						 {"wnids", required_argument, NULL, OPT_WNIDS},
						 {"names", required_argument, NULL, OPT_NAMES},
						 {"top", required_argument, NULL, OPT_TOP},
						 {"near", required_argument, NULL, OPT_NEAR},
						 {"families", required_argument, NULL, OPT_FAMILIES},
						 {"family-max", required_argument, NULL, OPT_FAMILY_MAX},
						 {"list", no_argument, NULL, OPT_LIST},
						 {"json", no_argument, NULL, OPT_JSON},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->top = DEFAULT_TOP;
	o->near = DEFAULT_NEAR;
	o->families = DEFAULT_FAMILIES;
	o->family_max = DEFAULT_FAMILY_MAX;
	int c;
	while ((c = opt_next(argc, argv, "c:h", longopts)) != -1) {
		switch (c) {
		case 'c': o->compare = optarg; break;
		case OPT_WORDNET: o->wordnet_dir = optarg; break;
		case OPT_WNIDS: o->wnids = optarg; break;
		case OPT_NAMES:
			if (o->nnames == MAX_NAME_FILES)
				diag_usage("--names: at most %d files", MAX_NAME_FILES);
			o->names[o->nnames++] = optarg;
			break;
		case OPT_TOP: o->top = opt_parse_long("--top", optarg, 0, INT_MAX); break;
		case OPT_NEAR: o->near = opt_parse_long("--near", optarg, 0, INT_MAX); break;
		case OPT_FAMILIES: o->families = opt_parse_long("--families", optarg, 1, INT_MAX); break;
		case OPT_FAMILY_MAX: o->family_max = opt_parse_long("--family-max", optarg, 1, INT_MAX); break;
		case OPT_LIST: o->list = 1; break;
		case OPT_JSON: o->json = 1; break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (argc - optind > 1)
		diag_usage("one STREAM at most (a second model goes to --compare)");
	o->input = optind < argc ? argv[optind] : "-";
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- the class table and its ambiguities ---- */

typedef struct {
	int file;     /* names file index */
	char *name;   /* the shared name */
	int *classes; /* ascending */
	int n;
} collision_t;

typedef struct {
	int a, b;         /* classes, a < b */
	int collision;    /* index into collisions, or -1 */
	int ancestor;     /* the class above the other, or -1 */
} amb_pair_t;

typedef struct {
	wordnet_t wn;
	wn_hier_t h;
	int k;                 /* classes */
	const char *wnids_path;
	char **display;        /* [k] the report's class names */
	const char *names_path[MAX_NAME_FILES];
	int nnames;
	collision_t *coll;
	int ncoll;
	amb_pair_t *amb; /* sorted by (a, b) */
	int namb;
	int *fam;       /* family nodes, largest first */
	int nfam;
	int *class_fam; /* [k] */
} ctx_t;

/* A class's name in a names file: the text before the first comma. */
static char *first_synonym(const char *s)
{
	size_t n = strcspn(s, ",");
	while (n && s[n - 1] == ' ')
		n--;
	return xstrndup(s, n);
}

static const char *node_name(const ctx_t *cx, int node, int *len)
{
	const wn_synset_t *s = wn_hier_synset(&cx->h, node);
	*len = (int)s->name_len;
	return s->words;
}

typedef struct {
	const char *name;
	int cls;
} name_cls_t;

static int cmp_name_cls(const void *a, const void *b)
{
	const name_cls_t *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->cls > y->cls) - (x->cls < y->cls);
}

static int cmp_amb(const void *a, const void *b)
{
	const amb_pair_t *x = a, *y = b;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return (x->b > y->b) - (x->b < y->b);
}

/* Note an ambiguous pair; amb_merge() joins repeats once all are in. */
static amb_pair_t *amb_add(ctx_t *cx, int a, int b)
{
	cx->amb = xrealloc(cx->amb, (size_t)(cx->namb + 1) * sizeof *cx->amb);
	amb_pair_t *p = &cx->amb[cx->namb++];
	p->a = a < b ? a : b, p->b = a < b ? b : a, p->collision = -1, p->ancestor = -1;
	return p;
}

/* Sort by pair and fold repeats: the first names file's collision, and
 * the ancestor if one is. */
static void amb_merge(ctx_t *cx)
{
	qsort(cx->amb, (size_t)cx->namb, sizeof *cx->amb, cmp_amb);
	int n = 0;
	for (int i = 0; i < cx->namb; i++) {
		amb_pair_t *q = &cx->amb[i];
		if (n && cx->amb[n - 1].a == q->a && cx->amb[n - 1].b == q->b) {
			amb_pair_t *p = &cx->amb[n - 1];
			if (q->collision >= 0 && (p->collision < 0 || q->collision < p->collision))
				p->collision = q->collision;
			if (q->ancestor >= 0)
				p->ancestor = q->ancestor;
		} else {
			cx->amb[n++] = *q;
		}
	}
	cx->namb = n;
}

/* The ambiguity of a class pair, or NULL. */
static const amb_pair_t *amb_find(const ctx_t *cx, int x, int y)
{
	amb_pair_t key = {x < y ? x : y, x < y ? y : x, 0, 0};
	return bsearch(&key, cx->amb, (size_t)cx->namb, sizeof key, cmp_amb);
}

static void find_collisions(ctx_t *cx, int file, char **names)
{
	name_cls_t *v = xcalloc((size_t)cx->k, sizeof *v);
	char **first = xcalloc((size_t)cx->k, sizeof *first);
	for (int c = 0; c < cx->k; c++) {
		first[c] = first_synonym(names[c]);
		v[c].name = first[c], v[c].cls = c;
	}
	qsort(v, (size_t)cx->k, sizeof *v, cmp_name_cls);
	for (int i = 0; i < cx->k;) {
		int j = i + 1;
		while (j < cx->k && strcmp(v[j].name, v[i].name) == 0)
			j++;
		if (j - i > 1) {
			cx->coll = xrealloc(cx->coll, (size_t)(cx->ncoll + 1) * sizeof *cx->coll);
			collision_t *co = &cx->coll[cx->ncoll];
			co->file = file;
			co->name = xstrndup(v[i].name, strlen(v[i].name));
			co->n = j - i;
			co->classes = xcalloc((size_t)co->n, sizeof *co->classes);
			for (int m = i; m < j; m++)
				co->classes[m - i] = v[m].cls;
			for (int x = i; x < j; x++)
				for (int y = x + 1; y < j; y++)
					amb_add(cx, v[x].cls, v[y].cls)->collision = cx->ncoll;
			cx->ncoll++;
		}
		i = j;
	}
	if (file == 0)
		cx->display = first;
	else {
		for (int c = 0; c < cx->k; c++)
			free(first[c]);
		free(first);
	}
	free(v);
}

/* DATA/rel (see usage) into buf; fatal when there is no data folder. */
static void data_file(const char *rel, char *buf, size_t cap)
{
	char err[PATH_MAX + 256];
	char *p = data_path(rel, err, sizeof err);
	if (!p)
		diag_fatal("no default class list: %s, or give --wnids FILE", err);
	snprintf(buf, cap, "%s", p);
	free(p);
}

static void load_classes(ctx_t *cx, const options_t *o)
{
	memset(cx, 0, sizeof *cx);
	char dir[PATH_MAX], wnpath[PATH_MAX + 16], err[PATH_MAX + 256];
	static char def_wnids[PATH_MAX + 48], def_names[2][PATH_MAX + 48];

	if (o->wordnet_dir)
		snprintf(dir, sizeof dir, "%s", o->wordnet_dir);
	else if (getenv("WNSEARCHDIR") && *getenv("WNSEARCHDIR"))
		snprintf(dir, sizeof dir, "%s", getenv("WNSEARCHDIR"));
	else if (getenv("WNHOME") && *getenv("WNHOME"))
		snprintf(dir, sizeof dir, "%s/dict", getenv("WNHOME"));
	else
		snprintf(dir, sizeof dir, "/usr/share/wordnet");
	snprintf(wnpath, sizeof wnpath, "%s/data.noun", dir);
	if (!file_exists(wnpath))
		diag_fatal("%s: %s: no WordNet 3.0 noun database there (install Debian's wordnet-base, or give "
			   "--wordnet DIR, or set WNHOME)",
			   wnpath, strerror(errno));
	if (wn_load(&cx->wn, wnpath, err, sizeof err) != 0)
		diag_fatal("%s", err);

	if (o->wnids) {
		cx->wnids_path = o->wnids;
	} else {
		data_file("wnids.txt", def_wnids, sizeof def_wnids);
		if (!file_exists(def_wnids))
			diag_fatal("%s: %s: no default class list (set RNENC_DATA to a directory with wnids.txt, "
				   "or give --wnids FILE)",
				   def_wnids, strerror(errno));
		cx->wnids_path = def_wnids;
	}
	char **wnids;
	int64_t k;
	if (names_load(cx->wnids_path, &wnids, &k, err, sizeof err) != 0)
		diag_fatal("%s", err);
	if (k > INT_MAX / 2)
		diag_fatal("%s: %lld classes is too many", cx->wnids_path, (long long)k);
	cx->k = (int)k;
	uint32_t *offsets = xcalloc((size_t)k, sizeof *offsets);
	for (int c = 0; c < cx->k; c++)
		if (wn_parse_wnid(wnids[c], strlen(wnids[c]), &offsets[c]) != 0)
			diag_fatal("%s: line %d: '%s' is not a noun wnid ('n' and 8 digits)", cx->wnids_path, c + 1,
				   wnids[c]);
	names_free(wnids, k);
	if (wn_hier_build(&cx->h, &cx->wn, offsets, cx->k, err, sizeof err) != 0)
		diag_fatal("%s: %s", cx->wnids_path, err);
	free(offsets);

	if (o->nnames) {
		cx->nnames = o->nnames;
		memcpy(cx->names_path, o->names, sizeof o->names);
	} else if (!o->wnids) {
		data_file("names-imagenet.txt", def_names[0], sizeof def_names[0]);
		data_file("names-clip.txt", def_names[1], sizeof def_names[1]);
		cx->names_path[0] = def_names[0];
		cx->names_path[1] = def_names[1];
		cx->nnames = 2;
	}
	for (int f = 0; f < cx->nnames; f++) {
		char **names;
		int64_t n;
		if (names_load(cx->names_path[f], &names, &n, err, sizeof err) != 0)
			diag_fatal("%s", err);
		if (n != cx->k)
			diag_fatal("%s: %lld names, but %s has %d classes", cx->names_path[f], (long long)n,
				   cx->wnids_path, cx->k);
		find_collisions(cx, f, names);
		names_free(names, n);
	}
	if (!cx->display) {
		cx->display = xcalloc((size_t)cx->k, sizeof *cx->display);
		for (int c = 0; c < cx->k; c++) {
			int len;
			const char *s = node_name(cx, cx->h.class_node[c], &len);
			cx->display[c] = xstrndup(s, (size_t)len);
		}
	}
	/* A report line must tell the two cranes apart. */
	name_cls_t *byname = xcalloc((size_t)cx->k, sizeof *byname);
	for (int c = 0; c < cx->k; c++)
		byname[c].name = cx->display[c], byname[c].cls = c;
	qsort(byname, (size_t)cx->k, sizeof *byname, cmp_name_cls);
	char **unique = xcalloc((size_t)cx->k, sizeof *unique);
	for (int i = 0; i < cx->k; i++) {
		int dup = (i > 0 && strcmp(byname[i].name, byname[i - 1].name) == 0) ||
			  (i + 1 < cx->k && strcmp(byname[i].name, byname[i + 1].name) == 0);
		size_t n = strlen(byname[i].name) + 16;
		unique[byname[i].cls] = xmalloc(n);
		snprintf(unique[byname[i].cls], n, dup ? "%s #%d" : "%s", byname[i].name, byname[i].cls);
	}
	for (int c = 0; c < cx->k; c++)
		free(cx->display[c]);
	free(cx->display);
	cx->display = unique;
	free(byname);
	/* Classes above other classes. */
	for (int c = 0; c < cx->k; c++) {
		int v = cx->h.class_node[c];
		const uint64_t *row = cx->h.anc + (size_t)v * cx->h.words;
		for (size_t w = 0; w < cx->h.words; w++)
			for (uint64_t x = row[w]; x; x &= x - 1) {
				int u = (int)(w * 64) + __builtin_ctzll(x);
				if (u != v && cx->h.node_class[u] >= 0)
					amb_add(cx, cx->h.node_class[u], c)->ancestor = cx->h.node_class[u];
			}
	}
	amb_merge(cx);
	cx->class_fam = xcalloc((size_t)cx->k, sizeof *cx->class_fam);
	cx->nfam = wn_hier_families(&cx->h, (int)o->family_max, &cx->fam, cx->class_fam);
}

static void ctx_free(ctx_t *cx)
{
	for (int c = 0; c < cx->k && cx->display; c++)
		free(cx->display[c]);
	free(cx->display);
	for (int i = 0; i < cx->ncoll; i++) {
		free(cx->coll[i].name);
		free(cx->coll[i].classes);
	}
	free(cx->coll);
	free(cx->amb);
	free(cx->fam);
	free(cx->class_fam);
	wn_hier_free(&cx->h);
	wn_free(&cx->wn);
}

/* ---- one model's stream ---- */

typedef struct {
	char *id;
	int label, pred;
	int lca, sev; /* mistakes only; lca is a node */
	int amb;      /* index into ctx amb, or -1 */
} entry_t;

typedef struct {
	int label, pred, count, lca, sev, amb;
} confusion_t;

typedef struct {
	const char *path;
	char *model, *column; /* column: the model's heading in the report */
	int mixed;            /* records of more than one model */
	long preds, labelled, correct, mistakes, unlabelled, errors, bad, invalid;
	long repeated; /* labelled predictions whose id came earlier: left out (as errstats does) */
	entry_t *e; /* labelled predictions, input order */
	long ne, cap;
	long *hist; /* [max height + 1] mistakes by severity */
	double sev_sum, sev_sum_unamb;
	long n_unamb, n_amb, n_near;
	confusion_t *conf;
	long nconf;
	long *fam_images, *fam_mistakes, *fam_in; /* [nfam] */
	double *fam_sev;
} model_t;

/* A prediction record that cannot be used: stderr line, counted. */
static void bad_record(model_t *m, const record_t *rec, const char *msg)
{
	char where[320];
	diag_msg("%s: %s", rec_where(where, sizeof where, m->path, rec), msg);
	m->bad++;
}

/* Records from before scoring: the wrong stream, so stop (exit 2, nothing
 * on stdout) with what to run, as errstats and topk do. The reader (whose
 * buffer rec points into) is freed first, so that the leak checker of make
 * asan sees nothing held. */
static void refuse_unscored(const char *path, const record_t *rec, rec_reader_t *r, score_vec_t *sv)
{
	char where[320], why[256];
	stage_check_record(rec, "errtree", STAGE_WANT_SCORED, why, sizeof why);
	rec_where(where, sizeof where, strcmp(path, "-") ? path : "stdin", rec);
	score_vec_free(sv);
	rec_reader_free(r);
	diag_fatal("%s: %s", where, why);
}

static void read_stream(model_t *m, const char *path, const ctx_t *cx)
{
	memset(m, 0, sizeof *m);
	m->path = path;
	rec_reader_t *r = rec_reader_open_path(path, REC_DEFAULT_MAX_RECORD);
	if (!r)
		diag_fatal("%s: %s", path, strerror(errno));
	score_vec_t sv;
	score_vec_init(&sv);
	record_t rec;
	char err[512], msg[640];
	for (;;) {
		rec_status_t st = rec_reader_next(r, &rec);
		if (st == REC_EOF)
			break;
		if (st == REC_INVALID) {
			diag_msg("%s", rec_reader_message(r));
			m->invalid++;
			continue;
		}
		if (st != REC_OK)
			diag_fatal("%s", rec_reader_message(r));
		if (rec_is(&rec, "embedding") || rec_is(&rec, "image"))
			refuse_unscored(path, &rec, r, &sv);
		if (!pred_record_kind(&rec))
			continue;
		m->preds++;
		pred_t p;
		if (pred_from_record(&rec, &p, &sv, err, sizeof err) != 0) {
			bad_record(m, &rec, err);
			continue;
		}
		if (p.status == PRED_ERROR) {
			m->errors++;
			pred_free(&p);
			continue;
		}
		const char *model;
		size_t mlen;
		if (rec_get_str(&rec, "model", &model, &mlen) == 0) {
			if (!m->model)
				m->model = xstrndup(model, mlen);
			else if (strlen(m->model) != mlen || memcmp(m->model, model, mlen) != 0)
				m->mixed = 1;
		}
		/* pred_from_record reads a non-integer label as -1 (unlabelled) */
		const msgpack_object *lab = rec_get(&rec, "label");
		if (lab && lab->type != MSGPACK_OBJECT_POSITIVE_INTEGER && lab->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
			snprintf(msg, sizeof msg, "label is not an integer (a class index, or -1 for unknown)");
		else if (p.ntop < 1)
			snprintf(msg, sizeof msg, "no prediction in it");
		else if (!rec_is(&rec, "topk") && !rec_get(&rec, "index") && p.nclasses != cx->k)
			snprintf(msg, sizeof msg, "%lld scores, but %s has %d classes", (long long)p.nclasses,
				 cx->wnids_path, cx->k);
		else if (p.top[0] < 0 || p.top[0] >= cx->k)
			snprintf(msg, sizeof msg, "predicted class %lld is out of range (%d classes in %s)",
				 (long long)p.top[0], cx->k, cx->wnids_path);
		else if (p.label < -1 || p.label >= cx->k)
			snprintf(msg, sizeof msg, "label %lld is out of range (%d classes in %s)", (long long)p.label,
				 cx->k, cx->wnids_path);
		else
			msg[0] = 0;
		if (msg[0]) {
			bad_record(m, &rec, msg);
			pred_free(&p);
			continue;
		}
		if (p.label == -1) {
			m->unlabelled++;
			pred_free(&p);
			continue;
		}
		if (m->ne == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 1024;
			m->e = xrealloc(m->e, (size_t)m->cap * sizeof *m->e);
		}
		entry_t *e = &m->e[m->ne++];
		e->id = p.id;
		p.id = NULL;
		e->label = (int)p.label;
		e->pred = (int)p.top[0];
		e->lca = -1, e->sev = 0, e->amb = -1;
		pred_free(&p);
	}
	score_vec_free(&sv);
	rec_reader_free(r);
	/* an id met again (a stream concatenated twice, a shard decoded twice)
	 * counts once: its first record */
	strmap_t seen;
	strmap_init(&seen);
	long kept = 0;
	char first[256] = "";
	for (long i = 0; i < m->ne; i++) {
		if (strmap_put(&seen, m->e[i].id, i)) {
			if (m->repeated++ == 0)
				snprintf(first, sizeof first, "%s", m->e[i].id);
			free(m->e[i].id);
			continue;
		}
		m->e[kept++] = m->e[i];
	}
	strmap_free(&seen);
	if (m->repeated)
		diag_msg("%s: %ld labelled record%s repeat an earlier id (first: '%s'): only the first record of each "
			 "id counts",
			 strcmp(path, "-") ? path : "stdin", m->repeated, m->repeated == 1 ? "" : "s", first);
	m->ne = kept;
	m->labelled = m->ne;
}

static int cmp_conf_pair(const void *a, const void *b)
{
	const confusion_t *x = a, *y = b;
	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return (x->pred > y->pred) - (x->pred < y->pred);
}

static int cmp_conf_count(const void *a, const void *b)
{
	const confusion_t *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return cmp_conf_pair(a, b);
}

static void analyse(model_t *m, const ctx_t *cx, int near)
{
	const wn_hier_t *h = &cx->h;
	int maxh = h->height[h->root];
	m->hist = xcalloc((size_t)maxh + 1, sizeof *m->hist);
	m->fam_images = xcalloc((size_t)cx->nfam, sizeof *m->fam_images);
	m->fam_mistakes = xcalloc((size_t)cx->nfam, sizeof *m->fam_mistakes);
	m->fam_in = xcalloc((size_t)cx->nfam, sizeof *m->fam_in);
	m->fam_sev = xcalloc((size_t)cx->nfam, sizeof *m->fam_sev);
	m->conf = xcalloc((size_t)m->ne + 1, sizeof *m->conf);
	for (long i = 0; i < m->ne; i++) {
		entry_t *e = &m->e[i];
		int f = cx->class_fam[e->label];
		m->fam_images[f]++;
		if (e->label == e->pred) {
			m->correct++;
			continue;
		}
		m->mistakes++;
		e->lca = wn_hier_lca(h, h->class_node[e->label], h->class_node[e->pred]);
		e->sev = h->height[e->lca];
		const amb_pair_t *a = amb_find(cx, e->label, e->pred);
		e->amb = a ? (int)(a - cx->amb) : -1;
		m->hist[e->sev]++;
		m->sev_sum += e->sev;
		m->n_near += e->sev <= near;
		if (a) {
			m->n_amb++;
		} else {
			m->n_unamb++;
			m->sev_sum_unamb += e->sev;
		}
		m->fam_mistakes[f]++;
		m->fam_sev[f] += e->sev;
		m->fam_in[f] += cx->class_fam[e->pred] == f;
		confusion_t *c = &m->conf[m->nconf++];
		c->label = e->label, c->pred = e->pred, c->count = 1, c->lca = e->lca, c->sev = e->sev;
		c->amb = e->amb;
	}
	qsort(m->conf, (size_t)m->nconf, sizeof *m->conf, cmp_conf_pair);
	long n = 0;
	for (long i = 0; i < m->nconf; i++) {
		if (n && m->conf[n - 1].label == m->conf[i].label && m->conf[n - 1].pred == m->conf[i].pred)
			m->conf[n - 1].count++;
		else
			m->conf[n++] = m->conf[i];
	}
	m->nconf = n;
	qsort(m->conf, (size_t)m->nconf, sizeof *m->conf, cmp_conf_count);
}

static void model_free(model_t *m)
{
	for (long i = 0; i < m->ne; i++)
		free(m->e[i].id);
	free(m->e);
	free(m->model);
	free(m->column);
	free(m->hist);
	free(m->conf);
	free(m->fam_images);
	free(m->fam_mistakes);
	free(m->fam_in);
	free(m->fam_sev);
}

/* Images both models labelled, matched by id. */
typedef struct {
	long both_wrong, only_a, only_b, both_right, unmatched, label_differs, dup_ids;
	long common; /* ids in both streams' labelled predictions */
	double sev_a, sev_b;
	long a_farther, b_farther, equal;
} paired_t;

static void pair_models(const model_t *a, const model_t *b, paired_t *p)
{
	memset(p, 0, sizeof *p);
	strmap_t map;
	strmap_init(&map);
	for (long i = 0; i < b->ne; i++)
		p->dup_ids += strmap_put(&map, b->e[i].id, i);
	char *seen = xcalloc((size_t)b->ne + 1, 1);
	for (long i = 0; i < a->ne; i++) {
		const entry_t *x = &a->e[i];
		int64_t j = strmap_get(&map, x->id);
		if (j < 0 || seen[j]) {
			p->unmatched++;
			continue;
		}
		seen[j] = 1;
		p->common++;
		const entry_t *y = &b->e[j];
		if (x->label != y->label) {
			p->label_differs++;
			continue;
		}
		int wa = x->pred != x->label, wb = y->pred != y->label;
		if (wa && wb) {
			p->both_wrong++;
			p->sev_a += x->sev;
			p->sev_b += y->sev;
			p->a_farther += x->sev > y->sev;
			p->b_farther += y->sev > x->sev;
			p->equal += x->sev == y->sev;
		} else if (wa) {
			p->only_a++;
		} else if (wb) {
			p->only_b++;
		} else {
			p->both_right++;
		}
	}
	/* A repeated id pairs once; its repeats count as unmatched. */
	for (long j = 0; j < b->ne; j++)
		p->unmatched += !seen[j];
	free(seen);
	strmap_free(&map);
}

/* ---- text report ---- */

static double ratio(double x, long n)
{
	return n ? x / (double)n : 0.0 / 0.0;
}

static void put_mean(FILE *f, double sum, long n, int width)
{
	if (n)
		fprintf(f, "%*.2f", width, sum / (double)n);
	else
		fprintf(f, "%*s", width, "-");
}

static void put_node(FILE *f, const ctx_t *cx, int node)
{
	int len;
	const char *s = node_name(cx, node, &len);
	diag_put_text(f, s, (size_t)len);
}

static void put_amb_text(FILE *f, const ctx_t *cx, int amb)
{
	const amb_pair_t *a = &cx->amb[amb];
	if (a->collision >= 0) {
		const collision_t *co = &cx->coll[a->collision];
		fprintf(f, " [same name '%s' in %s]", diag_str(co->name), diag_str(path_base(cx->names_path[co->file])));
	}
	if (a->ancestor >= 0) {
		int other = a->ancestor == a->a ? a->b : a->a;
		fprintf(f, " [%s is above %s in WordNet]", diag_str(cx->display[a->ancestor]), diag_str(cx->display[other]));
	}
}

static void put_mistake_text(FILE *f, const ctx_t *cx, int label, int pred, int lca, int sev, int amb)
{
	fprintf(f, "%s -> %s (both: ", diag_str(cx->display[label]), diag_str(cx->display[pred]));
	put_node(f, cx, lca);
	fprintf(f, ", severity %d)", sev);
	if (amb >= 0)
		put_amb_text(f, cx, amb);
	fputc('\n', f);
}

static void print_text(const ctx_t *cx, const options_t *o, model_t *m, int nm, const paired_t *pr)
{
	FILE *f = stdout;
	const wn_hier_t *h = &cx->h;
	fprintf(f, "errtree: mistake severity in the WordNet noun hierarchy\n");
	fprintf(f, "wordnet    %s\nclasses    %d (%s)\n", diag_str(cx->wn.path), cx->k, diag_str(cx->wnids_path));
	fprintf(f, "hierarchy  %d synsets (the classes and all above them), root ", h->nnodes);
	put_node(f, cx, h->root);
	fprintf(f, " (height %d)\n", h->height[h->root]);
	fprintf(f, "severity   height of the lowest common ancestor (LCA) of the true and the\n"
		   "           predicted class; height = longest path down to a class (a class\n"
		   "           with no class below: 0); near miss: severity <= %ld\n",
		o->near);

	fprintf(f, "\n%-26s", "model");
	for (int i = 0; i < nm; i++)
		fprintf(f, " %16s", m[i].column);
	fprintf(f, "\n%-26s", "stream");
	for (int i = 0; i < nm; i++)
		fprintf(f, " %16s", diag_str(m[i].path));
#define ROW(label, field)                                     \
	do {                                                  \
		fprintf(f, "\n%-26s", label);                 \
		for (int i = 0; i < nm; i++)                  \
			fprintf(f, " %16ld", m[i].field);    \
	} while (0)
	ROW("predictions", preds);
	ROW("  error records", errors);
	ROW("  bad records", bad);
	ROW("  unlabelled (label -1)", unlabelled);
	ROW("  labelled", labelled);
	if (m[0].invalid || (nm > 1 && m[1].invalid))
		ROW("invalid records", invalid);
	if (m[0].repeated || (nm > 1 && m[1].repeated))
		ROW("  repeated ids (left out)", repeated);
	ROW("top-1 correct", correct);
	ROW("mistakes", mistakes);
#undef ROW
	fprintf(f, "\n%-26s", "mean severity");
	for (int i = 0; i < nm; i++)
		put_mean(f, m[i].sev_sum, m[i].mistakes, 17);
	fprintf(f, "\n%-26s", "  between ambiguous");
	for (int i = 0; i < nm; i++)
		fprintf(f, " %16ld", m[i].n_amb);
	fprintf(f, "\n%-26s", "  mean without those");
	for (int i = 0; i < nm; i++)
		put_mean(f, m[i].sev_sum_unamb, m[i].n_unamb, 17);
	char lbl[64];
	snprintf(lbl, sizeof lbl, "near misses (<= %ld)", o->near);
	fprintf(f, "\n%-26s", lbl);
	for (int i = 0; i < nm; i++) {
		char cell[64];
		if (m[i].mistakes)
			snprintf(cell, sizeof cell, "%ld (%.1f%%)", m[i].n_near, 100.0 * ratio(m[i].n_near, m[i].mistakes));
		else
			snprintf(cell, sizeof cell, "-");
		fprintf(f, " %16s", cell);
	}
	for (int i = 0; i < nm; i++)
		if (m[i].mixed)
			fprintf(f, "\nnote: %s holds records of more than one model", diag_str(m[i].path));
	fputc('\n', f);

	int hmax = 0;
	for (int i = 0; i < nm; i++)
		for (int s = 0; s <= h->height[h->root]; s++)
			if (m[i].hist[s])
				hmax = s > hmax ? s : hmax;
	fprintf(f, "\nseverity histogram (mistakes by LCA height)\n%-26s", "  severity");
	for (int i = 0; i < nm; i++)
		fprintf(f, " %16s", m[i].column);
	for (int s = 1; s <= hmax; s++) {
		fprintf(f, "\n  %-24d", s);
		for (int i = 0; i < nm; i++) {
			char cell[64];
			snprintf(cell, sizeof cell, "%ld (%.1f%%)", m[i].hist[s], 100.0 * ratio(m[i].hist[s], m[i].mistakes));
			fprintf(f, " %16s", m[i].hist[s] ? cell : "0");
		}
	}
	fputc('\n', f);

	for (int i = 0; i < nm; i++) {
		fprintf(f, "\nmost frequent confusions of %s (count  true -> predicted)\n", m[i].column);
		if (!m[i].nconf)
			fprintf(f, "  (no mistakes)\n");
		for (long j = 0; j < m[i].nconf && j < o->top; j++) {
			const confusion_t *c = &m[i].conf[j];
			fprintf(f, "  %5d  ", c->count);
			put_mistake_text(f, cx, c->label, c->pred, c->lca, c->sev, c->amb);
		}
	}

	fprintf(f, "\nfamilies (largest subtrees with at most %ld classes; a mistake counts under its\n"
		   "true class's family; in family: predicted inside the same family)\n",
		o->family_max);
	fprintf(f, "  %-28s %-16s %7s %9s %9s %12s\n", "family (classes)", "model", "images", "mistakes", "mean sev",
		"in family");
	int shown = cx->nfam < o->families ? cx->nfam : (int)o->families;
	for (int g = 0; g <= shown; g++) {
		/* g == shown: every family past the shown ones, as "other". */
		if (g == shown && shown == cx->nfam)
			break;
		char fam[128];
		int ncls = 0;
		for (int c = 0; c < cx->k; c++)
			ncls += g < shown ? cx->class_fam[c] == g : cx->class_fam[c] >= shown;
		if (g < shown) {
			int len;
			char esc[96];
			const char *s = node_name(cx, cx->fam[g], &len);
			snprintf(fam, sizeof fam, "%s (%d)", diag_escape(esc, sizeof esc, s, (size_t)len), ncls);
		} else {
			snprintf(fam, sizeof fam, "other %d families (%d)", cx->nfam - shown, ncls);
		}
		for (int i = 0; i < nm; i++) {
			long img = 0, mis = 0, in = 0;
			double sev = 0;
			for (int q = g; q < (g < shown ? g + 1 : cx->nfam); q++) {
				img += m[i].fam_images[q];
				mis += m[i].fam_mistakes[q];
				in += m[i].fam_in[q];
				sev += m[i].fam_sev[q];
			}
			char cell[64];
			if (mis)
				snprintf(cell, sizeof cell, "%ld (%.0f%%)", in, 100.0 * ratio(in, mis));
			else
				snprintf(cell, sizeof cell, "-");
			fprintf(f, "  %-28s %-16s %7ld %9ld ", i ? "" : fam, m[i].column, img, mis);
			put_mean(f, sev, mis, 9);
			fprintf(f, " %12s\n", cell);
		}
	}

	if (pr) {
		fprintf(f, "\npaired by image id: %ld images both models got wrong\n", pr->both_wrong);
		fprintf(f, "  mean severity on them    %s ", m[0].column);
		put_mean(f, pr->sev_a, pr->both_wrong, 1);
		fprintf(f, ", %s ", m[1].column);
		put_mean(f, pr->sev_b, pr->both_wrong, 1);
		fprintf(f, "\n  farther off              %s on %ld, %s on %ld, equal on %ld\n", m[0].column, pr->a_farther,
			m[1].column, pr->b_farther, pr->equal);
		fprintf(f, "  only %s wrong %ld, only %s wrong %ld, both right %ld\n", m[0].column, pr->only_a,
			m[1].column, pr->only_b, pr->both_right);
		if (pr->unmatched || pr->label_differs || pr->dup_ids)
			fprintf(f, "  not paired: %ld ids in one stream only, %ld with different labels, %ld repeated ids\n",
				pr->unmatched, pr->label_differs, pr->dup_ids);
	}

	fprintf(f, "\nlabel-set ambiguity (mistakes between these classes are flagged above)\n");
	if (!cx->ncoll && !cx->namb)
		fprintf(f, "  (none)\n");
	for (int i = 0; i < cx->ncoll; i++) {
		const collision_t *co = &cx->coll[i];
		fprintf(f, "  same name '%s' in %s:", diag_str(co->name), diag_str(path_base(cx->names_path[co->file])));
		for (int j = 0; j < co->n; j++) {
			fprintf(f, "%s %d n%08u (", j ? "," : "", co->classes[j],
				wn_hier_synset(&cx->h, cx->h.class_node[co->classes[j]])->offset);
			put_node(f, cx, cx->h.class_node[co->classes[j]]);
			fputc(')', f);
		}
		fputc('\n', f);
	}
	for (int i = 0; i < cx->namb; i++) {
		const amb_pair_t *a = &cx->amb[i];
		if (a->ancestor < 0)
			continue;
		int other = a->ancestor == a->a ? a->b : a->a;
		fprintf(f, "  %d %s (n%08u) is above %d %s (n%08u) in WordNet\n", a->ancestor,
			diag_str(cx->display[a->ancestor]), wn_hier_synset(h, h->class_node[a->ancestor])->offset, other,
			diag_str(cx->display[other]),
			wn_hier_synset(h, h->class_node[other])->offset);
	}

	if (o->list)
		for (int i = 0; i < nm; i++) {
			fprintf(f, "\nmistakes of %s (id: true -> predicted)\n", m[i].column);
			for (long j = 0; j < m[i].ne; j++) {
				const entry_t *e = &m[i].e[j];
				if (e->label == e->pred)
					continue;
				fprintf(f, "  %s: ", diag_str(e->id));
				put_mistake_text(f, cx, e->label, e->pred, e->lca, e->sev, e->amb);
			}
		}
}

/* ---- JSON report ---- */

static void json_node(FILE *f, const ctx_t *cx, int node)
{
	const wn_synset_t *s = wn_hier_synset(&cx->h, node);
	fprintf(f, "{\"wnid\":\"n%08u\",\"name\":", s->offset);
	json_put_str(f, s->words, s->name_len);
	fprintf(f, ",\"height\":%d,\"depth\":%d,\"classes_below\":%d}", cx->h.height[node], cx->h.depth[node],
		cx->h.nunder[node]);
}

static void json_mean(FILE *f, const char *key, double sum, long n)
{
	fprintf(f, ",\"%s\":", key);
	if (n)
		json_put_double(f, sum / (double)n);
	else
		fputs("null", f);
}

static void json_amb(FILE *f, const ctx_t *cx, int amb)
{
	if (amb < 0) {
		fputs("null", f);
		return;
	}
	const amb_pair_t *a = &cx->amb[amb];
	fputc('{', f);
	if (a->collision >= 0) {
		fputs("\"same_name\":", f);
		json_put_cstr(f, cx->coll[a->collision].name);
		fputs(",\"names_file\":", f);
		json_put_cstr(f, cx->names_path[cx->coll[a->collision].file]);
	}
	if (a->ancestor >= 0)
		fprintf(f, "%s\"ancestor\":%d", a->collision >= 0 ? "," : "", a->ancestor);
	fputc('}', f);
}

static void json_mistake(FILE *f, const ctx_t *cx, int label, int pred, int lca, int sev, int amb)
{
	fprintf(f, "\"true\":%d,\"true_name\":", label);
	json_put_cstr(f, cx->display[label]);
	fprintf(f, ",\"pred\":%d,\"pred_name\":", pred);
	json_put_cstr(f, cx->display[pred]);
	const wn_synset_t *s = wn_hier_synset(&cx->h, lca);
	fprintf(f, ",\"lca\":\"n%08u\",\"lca_name\":", s->offset);
	json_put_str(f, s->words, s->name_len);
	fprintf(f, ",\"severity\":%d,\"ambiguous\":", sev);
	json_amb(f, cx, amb);
}

static void print_json(const ctx_t *cx, const options_t *o, model_t *m, int nm, const paired_t *pr)
{
	FILE *f = stdout;
	const wn_hier_t *h = &cx->h;
	fprintf(f, "{\"producer\":\"errtree\",\"version\":\"%s\",\n\"hierarchy\":{\"data_noun\":", PROJECT_VERSION);
	json_put_cstr(f, cx->wn.path);
	fputs(",\"wnids\":", f);
	json_put_cstr(f, cx->wnids_path);
	fprintf(f, ",\"classes\":%d,\"synsets\":%d,\"root\":", cx->k, h->nnodes);
	json_node(f, cx, h->root);
	fputs(",\"severity\":\"height of the LCA of the true and predicted synsets; height: longest path down "
	      "to a class; LCA: shared ancestor of least height, ties to the smaller offset\"",
	      f);
	fprintf(f, ",\"near\":%ld,\"family_max\":%ld},\n\"ambiguity\":{\"same_name\":[", o->near, o->family_max);
	for (int i = 0; i < cx->ncoll; i++) {
		const collision_t *co = &cx->coll[i];
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_put_cstr(f, co->name);
		fputs(",\"names_file\":", f);
		json_put_cstr(f, cx->names_path[co->file]);
		fputs(",\"classes\":[", f);
		for (int j = 0; j < co->n; j++)
			fprintf(f, "%s%d", j ? "," : "", co->classes[j]);
		fputs("]}", f);
	}
	fputs("],\"ancestor_pairs\":[", f);
	int first = 1;
	for (int i = 0; i < cx->namb; i++) {
		const amb_pair_t *a = &cx->amb[i];
		if (a->ancestor < 0)
			continue;
		fprintf(f, "%s{\"ancestor\":%d,\"descendant\":%d}", first ? "" : ",", a->ancestor,
			a->ancestor == a->a ? a->b : a->a);
		first = 0;
	}
	fputs("]},\n\"families\":[", f);
	for (int g = 0; g < cx->nfam; g++) {
		int ncls = 0;
		for (int c = 0; c < cx->k; c++)
			ncls += cx->class_fam[c] == g;
		fprintf(f, "%s{\"node\":", g ? "," : "");
		json_node(f, cx, cx->fam[g]);
		fprintf(f, ",\"classes\":%d}", ncls);
	}
	fputs("],\n\"models\":[", f);
	for (int i = 0; i < nm; i++) {
		const model_t *x = &m[i];
		fprintf(f, "%s\n{\"stream\":", i ? "," : "");
		json_put_cstr(f, x->path);
		fputs(",\"model\":", f);
		if (x->model)
			json_put_cstr(f, x->model);
		else
			fputs("null", f);
		fprintf(f, ",\"mixed_models\":%s,\"predictions\":%ld,\"error_records\":%ld,\"bad_records\":%ld,"
			   "\"invalid_records\":%ld,\"unlabelled\":%ld,\"labelled\":%ld,\"repeated_ids\":%ld,\"correct\":%ld,"
			   "\"mistakes\":%ld",
			x->mixed ? "true" : "false", x->preds, x->errors, x->bad, x->invalid, x->unlabelled, x->labelled,
			x->repeated, x->correct, x->mistakes);
		json_mean(f, "mean_severity", x->sev_sum, x->mistakes);
		fprintf(f, ",\"ambiguous_mistakes\":%ld", x->n_amb);
		json_mean(f, "mean_severity_unambiguous", x->sev_sum_unamb, x->n_unamb);
		fprintf(f, ",\"near_mistakes\":%ld", x->n_near);
		json_mean(f, "near_share", (double)x->n_near, x->mistakes);
		fputs(",\"histogram\":[", f);
		for (int s = 0; s <= h->height[h->root]; s++)
			fprintf(f, "%s%ld", s ? "," : "", x->hist[s]);
		fputs("],\n \"confusions\":[", f);
		for (long j = 0; j < x->nconf; j++) {
			const confusion_t *c = &x->conf[j];
			fprintf(f, "%s{\"count\":%d,", j ? "," : "", c->count);
			json_mistake(f, cx, c->label, c->pred, c->lca, c->sev, c->amb);
			fputc('}', f);
		}
		fputs("],\n \"families\":[", f);
		for (int g = 0; g < cx->nfam; g++) {
			fprintf(f, "%s{\"images\":%ld,\"mistakes\":%ld", g ? "," : "", x->fam_images[g],
				x->fam_mistakes[g]);
			json_mean(f, "mean_severity", x->fam_sev[g], x->fam_mistakes[g]);
			fprintf(f, ",\"in_family\":%ld}", x->fam_in[g]);
		}
		fputs("],\n \"mistake_list\":[", f);
		first = 1;
		for (long j = 0; j < x->ne; j++) {
			const entry_t *e = &x->e[j];
			if (e->label == e->pred)
				continue;
			fprintf(f, "%s{\"id\":", first ? "" : ",");
			json_put_cstr(f, e->id);
			fputc(',', f);
			json_mistake(f, cx, e->label, e->pred, e->lca, e->sev, e->amb);
			fputc('}', f);
			first = 0;
		}
		fputs("]}", f);
	}
	fputs("]", f);
	if (pr) {
		fprintf(f, ",\n\"paired\":{\"both_wrong\":%ld", pr->both_wrong);
		json_mean(f, "mean_severity_a", pr->sev_a, pr->both_wrong);
		json_mean(f, "mean_severity_b", pr->sev_b, pr->both_wrong);
		fprintf(f, ",\"a_farther\":%ld,\"b_farther\":%ld,\"equal\":%ld,\"only_a_wrong\":%ld,\"only_b_wrong\":%ld,"
			   "\"both_right\":%ld,\"unmatched\":%ld,\"label_differs\":%ld,\"repeated_ids\":%ld,\"common_ids\":%ld}",
			pr->a_farther, pr->b_farther, pr->equal, pr->only_a, pr->only_b, pr->both_right, pr->unmatched,
			pr->label_differs, pr->dup_ids, pr->common);
	}
	fputs("}\n", f);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	if (strcmp(o.input, "-") == 0 && isatty(STDIN_FILENO))
		diag_usage("no input: give a STREAM or pipe records in");
	if (o.compare && strcmp(o.compare, "-") == 0 && strcmp(o.input, "-") == 0)
		diag_usage("--compare -: stdin is already the first stream");

	ctx_t cx;
	load_classes(&cx, &o);
	model_t m[2];
	int nm = o.compare ? 2 : 1;
	read_stream(&m[0], o.input, &cx);
	if (o.compare)
		read_stream(&m[1], o.compare, &cx);
	for (int i = 0; i < nm; i++) {
		analyse(&m[i], &cx, (int)o.near);
		/* a heading of the text report only: escaped once here */
		const char *col = diag_str(m[i].model ? m[i].model : m[i].path);
		m[i].column = xstrndup(col, strlen(col));
	}
	/* Two runs of one model (fp32 and fp16, say): tell them by stream. */
	if (nm == 2 && strcmp(m[0].column, m[1].column) == 0)
		for (int i = 0; i < nm; i++) {
			free(m[i].column);
			const char *col = diag_str(m[i].path);
			m[i].column = xstrndup(col, strlen(col));
		}
	paired_t pr;
	int no_common = 0;
	if (nm == 2) {
		pair_models(&m[0], &m[1], &pr);
		/* pairing nothing is a failure, not an empty table; two runs
		 * with nothing to pair are not (as errstats --compare) */
		if (!pr.common && (m[0].ne || m[1].ne)) {
			const char *na = strcmp(m[0].path, "-") ? m[0].path : "stdin";
			const char *nb = strcmp(m[1].path, "-") ? m[1].path : "stdin";
			no_common = 1;
			if (m[0].ne && m[1].ne)
				diag_msg("%s vs %s: no image id in common among the labelled predictions (first ids "
					 "'%s' and '%s'): the ids differ, e.g. relative against full paths: `imgdecode DIR` "
					 "gives ids relative to DIR, `find DIR | imgdecode` full paths",
					 na, nb, m[0].e[0].id, m[1].e[0].id);
			else
				diag_msg("%s vs %s: no image id in common: %s has no labelled predictions", na, nb,
					 m[0].ne ? nb : na);
		}
	}
	if (o.json)
		print_json(&cx, &o, m, nm, nm == 2 ? &pr : NULL);
	else
		print_text(&cx, &o, m, nm, nm == 2 ? &pr : NULL);
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));
	int failed = no_common;
	for (int i = 0; i < nm; i++) {
		failed += m[i].errors || m[i].bad || m[i].invalid;
		model_free(&m[i]);
	}
	ctx_free(&cx);
	return failed ? EXIT_SOME_FAILED : EXIT_OK;
}
