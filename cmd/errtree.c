/* errtree - errstats through the WordNet tree: how far off is each mistake.
 *
 * Records in: one stream (a file, or stdin) of scores, logits or topk
 * records (doc/records.md), and with --compare a second one. The top-1
 * prediction is the highest score (ties: the lower class) or a topk
 * record's first index. Headers, stats and unknown records are skipped;
 * error records, records with label -1 and malformed records are counted
 * apart and shown, never dropped silently; an id met again in the same
 * stream counts once (its first record; the repeats are reported). An
 * image or embedding record means the wrong stream (no scores yet): exit 2
 * with what to run first (common/eval/run.c's rules, shared with errstats).
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
 * got wrong; streams with no labelled image id in common are exit 1, with
 * a hint about relative and full-path ids.
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
	size_t max_record;
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
	       "  -n, --names FILE        class names, one per line (repeatable; the first\n"
	       "                          names the classes in the report). Default with the\n"
	       "                          default wnids: DATA/names-imagenet.txt and\n"
	       "                          DATA/names-clip.txt; with --wnids: WordNet's words\n"
	       "  -k, --top N             confusions listed per model (default %d)\n"
	       "      --near N            a near miss has severity <= N (default %d)\n"
	       "      --families N        families shown (default %d; the rest as 'other')\n"
	       "      --family-max M      largest family size (default %d: ImageNet's\n"
	       "                          canine subtree stays whole)\n"
	       "      --list              also list every mistake (--json always does)\n"
	       "      --json              one JSON object instead of the text report\n"
	       "      --max-record B      refuse input records larger than B bytes (default\n"
	       "                          1 GiB) or holding more than B/256 msgpack values\n"
	       "                          (at least 65536)\n"
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
	enum { OPT_WORDNET = 256, OPT_WNIDS, OPT_NEAR, OPT_FAMILIES, OPT_FAMILY_MAX, OPT_LIST, OPT_JSON, OPT_MAX_RECORD };
	static const struct option longopts[] = {{"compare", required_argument, NULL, 'c'},
						 {"wordnet", required_argument, NULL, OPT_WORDNET},
						 {"wnids", required_argument, NULL, OPT_WNIDS},
						 {"names", required_argument, NULL, 'n'},
						 {"top", required_argument, NULL, 'k'},
						 {"near", required_argument, NULL, OPT_NEAR},
						 {"families", required_argument, NULL, OPT_FAMILIES},
						 {"family-max", required_argument, NULL, OPT_FAMILY_MAX},
						 {"list", no_argument, NULL, OPT_LIST},
						 {"json", no_argument, NULL, OPT_JSON},
						 {"max-record", required_argument, NULL, OPT_MAX_RECORD},
						 {"help", no_argument, NULL, 'h'},
						 OPT_VERSION_ENTRY,
						 {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->top = DEFAULT_TOP;
	o->near = DEFAULT_NEAR;
	o->families = DEFAULT_FAMILIES;
	o->family_max = DEFAULT_FAMILY_MAX;
	int c;
	while ((c = opt_next(argc, argv, "c:n:k:h", longopts)) != -1) {
		switch (c) {
		case 'c': o->compare = optarg; break;
		case OPT_WORDNET: o->wordnet_dir = optarg; break;
		case OPT_WNIDS: o->wnids = optarg; break;
		case 'n':
			if (o->nnames == MAX_NAME_FILES)
				diag_usage("--names: at most %d files", MAX_NAME_FILES);
			o->names[o->nnames++] = optarg;
			break;
		case 'k': o->top = opt_parse_long("--top", optarg, 0, INT_MAX); break;
		case OPT_NEAR: o->near = opt_parse_long("--near", optarg, 0, INT_MAX); break;
		case OPT_FAMILIES: o->families = opt_parse_long("--families", optarg, 1, INT_MAX); break;
		case OPT_FAMILY_MAX: o->family_max = opt_parse_long("--family-max", optarg, 1, INT_MAX); break;
		case OPT_LIST: o->list = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MAX_RECORD: o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
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
	const char *id; /* the run's */
	int label, pred;
	int lca, sev; /* mistakes only; lca is a node */
	int amb;      /* index into ctx amb, or -1 */
} entry_t;

typedef struct {
	run_t run;
	const char *path;
	char *column; /* the model's heading in the report */
	long preds, labelled, correct, mistakes, unlabelled, errors, bad, invalid;
	long repeated; /* labelled predictions whose id came earlier: left out */
	entry_t *e; /* labelled predictions, input order, first of each id */
	long ne;
	long *at;   /* [run.n] the entry of each prediction of the run, or -1 (a repeat) */
	long *hist; /* [max height + 1] mistakes by severity */
	double sev_sum, sev_sum_unamb;
	long n_unamb, n_amb, n_near;
	confusion_t *conf;
	long nconf;
	long *fam_images, *fam_mistakes, *fam_in; /* [nfam] */
	double *fam_sev;
} model_t;

typedef struct {
	model_t *m;
	const ctx_t *cx;
} keep_ctx_t;

/* run_filter's rule: labelled predictions of a class of the table; error
 * records and unlabelled ones are counted apart. */
static int keep_labelled(const pred_t *p, int indexed, void *ctx, char *why, size_t cap)
{
	keep_ctx_t *k = ctx;
	const ctx_t *cx = k->cx;
	if (p->status == PRED_ERROR) {
		k->m->errors++;
		return 0;
	}
	if (p->ntop < 1)
		snprintf(why, cap, "no prediction in it");
	else if (p->nclasses && !indexed && p->nclasses != cx->k)
		snprintf(why, cap, "%lld scores, but %s has %d classes", (long long)p->nclasses, cx->wnids_path, cx->k);
	else if (p->top[0] < 0 || p->top[0] >= cx->k)
		snprintf(why, cap, "predicted class %lld is out of range (%d classes in %s)", (long long)p->top[0], cx->k,
			 cx->wnids_path);
	else if (p->label < -1 || p->label >= cx->k)
		snprintf(why, cap, "label %lld is out of range (%d classes in %s)", (long long)p->label, cx->k,
			 cx->wnids_path);
	else if (p->label == -1)
		k->m->unlabelled++;
	else
		return 1;
	return 0;
}

static void read_stream(model_t *m, const char *path, const ctx_t *cx, size_t max_record)
{
	memset(m, 0, sizeof *m);
	m->path = path;
	run_read(&m->run, path, NULL, "errtree", max_record);
	keep_ctx_t k = {m, cx};
	run_filter(&m->run, keep_labelled, &k);
	/* an id met again (a stream concatenated twice, a shard decoded twice)
	 * counts once: its first record */
	run_index(&m->run, "labelled record");
	const run_t *r = &m->run;
	m->preds = (long)r->nrecords;
	m->invalid = (long)r->nunreadable;
	m->bad = (long)(r->nmalformed + r->nbad);
	m->repeated = (long)r->ids.ndup;
	m->e = xcalloc((size_t)r->n + 1, sizeof *m->e);
	m->at = xcalloc((size_t)r->n + 1, sizeof *m->at);
	for (int64_t i = 0; i < r->n; i++) {
		m->at[i] = -1;
		if (ids_is_first(&r->ids, i)) {
			m->at[i] = m->ne;
			m->e[m->ne++] = (entry_t){r->p[i].id, (int)r->p[i].label, (int)r->p[i].top[0], -1, 0, -1};
		}
	}
	m->labelled = m->ne;
}

/* The LCA, severity and ambiguity of taking class label for pred. */
static void mistake(const ctx_t *cx, int label, int pred, int *lca, int *sev, int *amb)
{
	const wn_hier_t *h = &cx->h;
	*lca = wn_hier_lca(h, h->class_node[label], h->class_node[pred]);
	*sev = h->height[*lca];
	const amb_pair_t *a = amb_find(cx, label, pred);
	*amb = a ? (int)(a - cx->amb) : -1;
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
		mistake(cx, e->label, e->pred, &e->lca, &e->sev, &e->amb);
		m->hist[e->sev]++;
		m->sev_sum += e->sev;
		m->n_near += e->sev <= near;
		if (e->amb >= 0) {
			m->n_amb++;
		} else {
			m->n_unamb++;
			m->sev_sum_unamb += e->sev;
		}
		m->fam_mistakes[f]++;
		m->fam_sev[f] += e->sev;
		m->fam_in[f] += cx->class_fam[e->pred] == f;
		m->conf[m->nconf++] = (confusion_t){e->label, e->pred, 1};
	}
	m->nconf = (long)confusions_merge(m->conf, m->nconf);
}

static void model_free(model_t *m)
{
	run_free(&m->run);
	free(m->e);
	free(m->at);
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

static void pair_models(const model_t *a, const model_t *b, const pairing_t *pr, paired_t *p)
{
	memset(p, 0, sizeof *p);
	for (int64_t k = 0; k < pr->n; k++) {
		const entry_t *x = &a->e[a->at[pr->pair[k].a]], *y = &b->e[b->at[pr->pair[k].b]];
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
	p->common = (long)pr->n;
	p->unmatched = (long)(pr->only_a + pr->only_b);
	/* repeats of an id were left out when reading: they pair with nothing */
	p->dup_ids = a->repeated + b->repeated;
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

static void put_mistake_text(FILE *f, const ctx_t *cx, int label, int pred)
{
	int lca, sev, amb;
	mistake(cx, label, pred, &lca, &sev, &amb);
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
		if (m[i].run.mixed_models)
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
			fprintf(f, "  %5lld  ", (long long)c->n);
			put_mistake_text(f, cx, (int)c->t, (int)c->p);
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
				put_mistake_text(f, cx, e->label, e->pred);
			}
		}
}

/* ---- JSON report ---- */

static void json_node(jw_t *w, const char *key, const ctx_t *cx, int node)
{
	const wn_synset_t *s = wn_hier_synset(&cx->h, node);
	char wnid[16];
	snprintf(wnid, sizeof wnid, "n%08u", s->offset);
	jw_obj(w, key);
	jw_str(w, "wnid", wnid);
	jw_strn(w, "name", s->words, s->name_len);
	jw_int(w, "height", cx->h.height[node]);
	jw_int(w, "depth", cx->h.depth[node]);
	jw_int(w, "classes_below", cx->h.nunder[node]);
	jw_end(w);
}

static void json_amb(jw_t *w, const ctx_t *cx, int amb)
{
	if (amb < 0) {
		jw_null(w, "ambiguous");
		return;
	}
	const amb_pair_t *a = &cx->amb[amb];
	jw_obj(w, "ambiguous");
	if (a->collision >= 0) {
		jw_str(w, "same_name", cx->coll[a->collision].name);
		jw_str(w, "names_file", cx->names_path[cx->coll[a->collision].file]);
	}
	if (a->ancestor >= 0)
		jw_int(w, "ancestor", a->ancestor);
	jw_end(w);
}

/* The entries of one mistake, inside an object the caller opened. */
static void json_mistake(jw_t *w, const ctx_t *cx, int label, int pred)
{
	int lca, sev, amb;
	mistake(cx, label, pred, &lca, &sev, &amb);
	jw_int(w, "true", label);
	jw_str(w, "true_name", cx->display[label]);
	jw_int(w, "pred", pred);
	jw_str(w, "pred_name", cx->display[pred]);
	const wn_synset_t *s = wn_hier_synset(&cx->h, lca);
	char wnid[16];
	snprintf(wnid, sizeof wnid, "n%08u", s->offset);
	jw_str(w, "lca", wnid);
	jw_strn(w, "lca_name", s->words, s->name_len);
	jw_int(w, "severity", sev);
	json_amb(w, cx, amb);
}

static void json_model(jw_t *w, const ctx_t *cx, const model_t *x)
{
	const wn_hier_t *h = &cx->h;
	jw_break(w, "\n");
	jw_obj(w, NULL);
	jw_str(w, "stream", x->path);
	jw_str(w, "model", x->run.model);
	jw_bool(w, "mixed_models", x->run.mixed_models);
	jw_int(w, "predictions", x->preds);
	jw_int(w, "error_records", x->errors);
	jw_int(w, "bad_records", x->bad);
	jw_int(w, "invalid_records", x->invalid);
	jw_int(w, "unlabelled", x->unlabelled);
	jw_int(w, "labelled", x->labelled);
	jw_int(w, "repeated_ids", x->repeated);
	jw_int(w, "correct", x->correct);
	jw_int(w, "mistakes", x->mistakes);
	jw_ratio(w, "mean_severity", x->sev_sum, (double)x->mistakes);
	jw_int(w, "ambiguous_mistakes", x->n_amb);
	jw_ratio(w, "mean_severity_unambiguous", x->sev_sum_unamb, (double)x->n_unamb);
	jw_int(w, "near_mistakes", x->n_near);
	jw_ratio(w, "near_share", (double)x->n_near, (double)x->mistakes);
	jw_arr(w, "histogram");
	for (int s = 0; s <= h->height[h->root]; s++)
		jw_int(w, NULL, x->hist[s]);
	jw_end(w);
	jw_break(w, "\n ");
	jw_arr(w, "confusions");
	for (long j = 0; j < x->nconf; j++) {
		jw_obj(w, NULL);
		jw_int(w, "count", x->conf[j].n);
		json_mistake(w, cx, (int)x->conf[j].t, (int)x->conf[j].p);
		jw_end(w);
	}
	jw_end(w);
	jw_break(w, "\n ");
	jw_arr(w, "families");
	for (int g = 0; g < cx->nfam; g++) {
		jw_obj(w, NULL);
		jw_int(w, "images", x->fam_images[g]);
		jw_int(w, "mistakes", x->fam_mistakes[g]);
		jw_ratio(w, "mean_severity", x->fam_sev[g], (double)x->fam_mistakes[g]);
		jw_int(w, "in_family", x->fam_in[g]);
		jw_end(w);
	}
	jw_end(w);
	jw_break(w, "\n ");
	jw_arr(w, "mistake_list");
	for (long j = 0; j < x->ne; j++) {
		const entry_t *e = &x->e[j];
		if (e->label == e->pred)
			continue;
		jw_obj(w, NULL);
		jw_str(w, "id", e->id);
		json_mistake(w, cx, e->label, e->pred);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
}

static void print_json(const ctx_t *cx, const options_t *o, model_t *m, int nm, const paired_t *pr)
{
	const wn_hier_t *h = &cx->h;
	jw_t w;
	jw_init(&w, stdout);
	jw_obj(&w, NULL);
	jw_str(&w, "producer", "errtree");
	jw_str(&w, "version", PROJECT_VERSION);
	jw_break(&w, "\n");
	jw_obj(&w, "hierarchy");
	jw_str(&w, "data_noun", cx->wn.path);
	jw_str(&w, "wnids", cx->wnids_path);
	jw_int(&w, "classes", cx->k);
	jw_int(&w, "synsets", h->nnodes);
	json_node(&w, "root", cx, h->root);
	jw_str(&w, "severity", "height of the LCA of the true and predicted synsets; height: longest path down "
			       "to a class; LCA: shared ancestor of least height, ties to the smaller offset");
	jw_int(&w, "near", o->near);
	jw_int(&w, "family_max", o->family_max);
	jw_end(&w);
	jw_break(&w, "\n");
	jw_obj(&w, "ambiguity");
	jw_arr(&w, "same_name");
	for (int i = 0; i < cx->ncoll; i++) {
		const collision_t *co = &cx->coll[i];
		jw_obj(&w, NULL);
		jw_str(&w, "name", co->name);
		jw_str(&w, "names_file", cx->names_path[co->file]);
		jw_arr(&w, "classes");
		for (int j = 0; j < co->n; j++)
			jw_int(&w, NULL, co->classes[j]);
		jw_end(&w);
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "ancestor_pairs");
	for (int i = 0; i < cx->namb; i++) {
		const amb_pair_t *a = &cx->amb[i];
		if (a->ancestor < 0)
			continue;
		jw_obj(&w, NULL);
		jw_int(&w, "ancestor", a->ancestor);
		jw_int(&w, "descendant", a->ancestor == a->a ? a->b : a->a);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	jw_break(&w, "\n");
	jw_arr(&w, "families");
	for (int g = 0; g < cx->nfam; g++) {
		int ncls = 0;
		for (int c = 0; c < cx->k; c++)
			ncls += cx->class_fam[c] == g;
		jw_obj(&w, NULL);
		json_node(&w, "node", cx, cx->fam[g]);
		jw_int(&w, "classes", ncls);
		jw_end(&w);
	}
	jw_end(&w);
	jw_break(&w, "\n");
	jw_arr(&w, "models");
	for (int i = 0; i < nm; i++)
		json_model(&w, cx, &m[i]);
	jw_end(&w);
	if (pr) {
		jw_break(&w, "\n");
		jw_obj(&w, "paired");
		jw_int(&w, "both_wrong", pr->both_wrong);
		jw_ratio(&w, "mean_severity_a", pr->sev_a, (double)pr->both_wrong);
		jw_ratio(&w, "mean_severity_b", pr->sev_b, (double)pr->both_wrong);
		jw_int(&w, "a_farther", pr->a_farther);
		jw_int(&w, "b_farther", pr->b_farther);
		jw_int(&w, "equal", pr->equal);
		jw_int(&w, "only_a_wrong", pr->only_a);
		jw_int(&w, "only_b_wrong", pr->only_b);
		jw_int(&w, "both_right", pr->both_right);
		jw_int(&w, "unmatched", pr->unmatched);
		jw_int(&w, "label_differs", pr->label_differs);
		jw_int(&w, "repeated_ids", pr->dup_ids);
		jw_int(&w, "common_ids", pr->common);
	}
	jw_close(&w);
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
	read_stream(&m[0], o.input, &cx, o.max_record);
	if (o.compare)
		read_stream(&m[1], o.compare, &cx, o.max_record);
	for (int i = 0; i < nm; i++) {
		analyse(&m[i], &cx, (int)o.near);
		/* a heading of the text report only: escaped once here */
		const char *col = diag_str(m[i].run.model ? m[i].run.model : m[i].path);
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
	pairing_t pr_ids = {0};
	int no_common = 0;
	if (nm == 2) {
		pairing_build(&pr_ids, &m[0].run.ids, &m[1].run.ids);
		pair_models(&m[0], &m[1], &pr_ids, &pr);
		no_common = pairing_none(&pr_ids, &m[0].run.ids, &m[1].run.ids, m[0].run.name, m[1].run.name,
					 "labelled predictions");
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
	pairing_free(&pr_ids);
	ctx_free(&cx);
	return failed ? EXIT_SOME_FAILED : EXIT_OK;
}
