/* imgdecode - image files to model-ready image records, exactly as
 * PIL 9 + torchvision 0.14 preprocess them.
 *
 * Records in: none; it reads image files named by arguments (files, or
 * directories walked recursively in sorted order, or WebDataset tar shards
 * read streaming, see image.h's shard.c), or by stdin lines.
 * Records out: a header (the preprocessing settings), then one record per
 * input in input order: `image` {id, path, label, preset, source_size [h,w],
 * tensor uint8 [H,W,3] or float32/float16 [3,H,W]}, or `error` {id, path,
 * label, stage, message} with a stderr line; then a `stats` record.
 * Presets (doc/presets.md): imagenet, imagenet-v2, clip; the decode,
 * resize and crop are byte-identical to PIL + torchvision (image/image.h).
 * It does not apply EXIF orientation or ICC profiles (neither does PIL's
 * loader), read formats other than JPEG and PNG, or do random augmentation.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"
#include "image/image.h"
#include "stream/stream.h"

/* --max-memory's default: -j 16 stays within a 16 GiB machine */
#define DEFAULT_MAX_MEMORY (1ULL << 30)

enum {
	MAX_JOBS = 256,
	SLOTS_PER_JOB = 4, /* results buffered per worker: bounds memory, keeps workers busy */
	MAX_PATTERN_NAMES = 1000000 /* names one brace pattern may expand to */
};

typedef struct {
	img_params_t ip;
	int custom_norm; /* --mean/--std other than the preset's: the records say so */
	char dtype_name[16];
	const char *labels_path;
	const char *wnids_path;
	int index_folders; /* --index-folders: a folder named N (decimal) is class N */
	int jobs;
	int shard_i, shard_n;
	uint64_t first; /* --first N (0: every input) */
	int strict;
	char **inputs;
	int ninputs;
	int inputs_owned; /* brace patterns were expanded: inputs and its names are malloc'd */
} options_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: imgdecode [OPTIONS] [FILE|DIR|- ...]\n"
	       "Decode images (JPEG, PNG) into model-ready `image` records on stdout: the\n"
	       "crop PIL + torchvision would give, byte for byte. Inputs are files, directories\n"
	       "(walked recursively, sorted by path; files named *.jpg *.jpeg *.png in any case,\n"
	       "or whose content is JPEG or PNG; names starting with '.' are skipped; links\n"
	       "are followed, each directory entered once: a second way to one is skipped\n"
	       "with a note), or paths read from stdin one per line when no input is named\n"
	       "(or for '-').\n"
	       "An input that does not exist and holds braces is expanded as bash does, at most\n"
	       "1000000 names, each then an input: 'shards/part-{000..146}.tar' (quoted: keep\n"
	       "the shell off it) names part-000.tar ... part-146.tar; {a,b} lists, {a..f}\n"
	       "letters, {0..100..10} steps; a malformed pattern is a usage error.\n"
	       "A file argument that is a tar (ustar magic at byte 257; any name), or a pipe\n"
	       "(/dev/stdin, <(curl -s URL)), is a WebDataset shard, read streaming, never\n"
	       "extracted: members KEY.jpg|jpeg|png (the image) and KEY.cls (class index,\n"
	       "decimal: the label), KEY being the member name up to the first '.' after the\n"
	       "last '/'; other members are ignored. A sample is a run of consecutive members\n"
	       "with one KEY (WebDataset's rule): its id is SHARD_BASENAME/KEY, its path\n"
	       "SHARD/MEMBER; long names (pax \"path\", GNU 'L') are read. A bad member\n"
	       "(absolute or '..' name, not a regular file, malformed pax/GNU long-name header\n"
	       "or one over 1 MiB, name over 4095 bytes, over 8 bytes per --max-pixels pixel,\n"
	       "1 GiB or --max-memory, truncated, a second .cls) fails its sample (one error\n"
	       "record per id) when the sample needs it (image, .cls), else is a warning. One\n"
	       "error record for the rest of the shard: a broken tar (bad header checksum or\n"
	       "size field, truncated header, size past the end of the file, data that ends\n"
	       "without the two zero blocks ending a tar, as a shard cut at a member boundary\n"
	       "does, data after them), a KEY met again after other samples (its members were\n"
	       "not consecutive; the samples before went out with what they had, label -1\n"
	       "where their .cls came later); a shard that gives no record at all (an empty\n"
	       "pipe: a failed download) gives one too.\n"
	       "Output: a `header` record (the settings), one `image` record {id, path, label,\n"
	       "preset, source_size, tensor} or `error` record per input, in input order, and\n"
	       "a `stats` record. An id is the path relative to its directory argument, or the\n"
	       "path as given; an id given again (two folders holding the same relative path, a\n"
	       "file named twice) is an error record for the later input.\n"
	       "\n"
	       "Preprocessing:\n"
	       "  -p, --preset NAME     clip (default): Resize(224, bicubic) + CenterCrop(224),\n"
	       "                        converted to RGB after resizing (CLIP's transform);\n"
	       "                        imagenet: RGB on load, Resize(256, bilinear) +\n"
	       "                        CenterCrop(224);\n"
	       "                        imagenet-v2: the same with Resize(232);\n"
	       "                        clip-288 | clip-384 | clip-448: CLIP's transform at\n"
	       "                        288, 384, 448 (RN50x4, RN50x16, RN50x64)\n"
	       "      --dtype D         uint8 (default): [H,W,3] RGB crop, the encoder\n"
	       "                        normalizes;\n"
	       "                        float32 | float16: [3,H,W], (x/255 - mean)/std\n"
	       "      --resize S        short side S (0: no resize)\n"
	       "      --crop C          center crop C x C (0: no crop)\n"
	       "      --filter F        bilinear, bicubic, box, hamming or lanczos\n"
	       "      --mean a,b,c      normalization mean and std\n"
	       "      --std a,b,c       (float32/float16 only; they override the preset's, and\n"
	       "                        each record then carries its mean and std: rnencode\n"
	       "                        refuses what its model was not trained on)\n"
	       "      --fast            faster, not PIL's bytes: DCT-scaled decode when the\n"
	       "                        image is at least 2x the resize target, fast IDCT,\n"
	       "                        plain upsampling\n"
	       "      --full-decode     decode whole JPEGs instead of the window the crop needs\n"
	       "                        (same output, slower: a check of the window decode)\n"
	       "      --border B        cut B pixels off each edge first, as PIL's\n"
	       "                        img.crop((B, B, w - B, h - B)) (ObjectNet's\n"
	       "                        evaluation: 2); not with --fast\n"
	       "      --max-pixels N    refuse images with more pixels (default %llu, PIL's\n"
	       "                        decompression-bomb error limit), and files over 8 bytes\n"
	       "                        per such pixel unread\n"
	       "      --max-memory B    bytes one image may hold while it is decoded (default\n"
	       "                        1G; K, M, G: KiB, MiB, GiB): its file, a progressive\n"
	       "                        JPEG's DCT coefficients, a PNG's pixels, the resize's\n"
	       "                        buffers, the output, each checked before it is\n"
	       "                        allocated; over it the image fails naming the bound (a\n"
	       "                        70-byte JPEG can claim 1.5 GB). -j N holds N images\n"
	       "                        at once; a shard's sample keys count against it too.\n"
	       "                        Images near --max-pixels may need a larger bound\n"
	       "      --resize-order R  which pass of Pillow's two-pass resize goes first (the\n"
	       "                        8-bit rounding between them moves a few levels): pil9\n"
	       "                        (default: Pillow 9.x to 12.1, horizontal first), pil12.2\n"
	       "                        (Pillow 12.2, 12.3: vertical first for an image over 100\n"
	       "                        times taller than wide whose height shrinks), pil13\n"
	       "                        (Pillow 13: vertical first when the height shrinks by\n"
	       "                        more than twice as many pixels as the width: a portrait\n"
	       "                        over twice as tall as wide, shrunk). Only the order:\n"
	       "                        Pillow 11+ also opens 16-bit grey PNGs as I;16\n"
	       "\n"
	       "Labels (default -1; a shard's KEY.cls, -l, --index-folders and --wnids may be\n"
	       "combined: an input two of them give different labels fails, naming both):\n"
	       "  -l, --labels FILE     TSV of file<TAB>index, or file<TAB>wnid<TAB>index, an\n"
	       "                        optional header line; rows match an input's id (path\n"
	       "                        relative to its directory argument), its path, or its\n"
	       "                        file name\n"
	       "      --wnids FILE      ImageNet class folders: one wnid per line, line i is\n"
	       "                        class i; an input in a folder named by a wnid\n"
	       "                        (n01440764/x.JPEG), or whose file name starts with one\n"
	       "                        and '_', gets that index\n"
	       "      --index-folders   class folders named by the class index in decimal: an\n"
	       "                        input in folder 7/ (not 007/) is class 7 (ImageNet-V2's\n"
	       "                        layout; the number is read, never a position among\n"
	       "                        sorted names)\n"
	       "\n"
	       "Running:\n"
	       "  -j, --threads N       decode with N threads (default 1); output order is\n"
	       "                        unchanged\n"
	       "      --shard I/N       take only inputs number I, I+N, I+2N, ... (0-based,\n"
	       "                        counted after sorting): N processes split a run, `cat`\n"
	       "                        joins them\n"
	       "      --first N         take only the first N inputs (counted after sorting,\n"
	       "                        before --shard): a sample of a set in its own order\n"
	       "      --strict          stop at the first input that fails\n"
	       "  -h, --help            this help\n"
	       "      --version         print the version and exit\n"
	       "\n"
	       "A file that cannot be decoded (unreadable, empty, not JPEG/PNG, truncated,\n"
	       "corrupt, too large), or a directory with no image files, gives an `error`\n"
	       "record and a stderr line naming it, and the run goes on. libjpeg/libpng\n"
	       "warnings about recoverable corruption are printed, the image kept.\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode photo.jpg | recview\n"
	       "  imgdecode --preset imagenet -l labels.tsv images/ > val.mp\n"
	       "  find val/ -name '*.JPEG' | imgdecode -j 2 --wnids wnids.txt > val.mp\n"
	       "  imgdecode --preset imagenet --index-folders \\\n"
	       "      imagenetv2-matched-frequency-format-val/ > v2.mp\n"
	       "  imgdecode --shard 0/2 images/ > a.mp & imgdecode --shard 1/2 images/ > b.mp\n"
	       "  imgdecode --preset imagenet -j 2 shards/part-0.tar shards/part-1.tar > val.mp\n"
	       "  imgdecode --preset imagenet -j 2 'shards/part-{0000..0146}.tar' > val.mp\n"
	       "  imgdecode --dtype float32 --preset imagenet x.jpg | recview --npy out/\n"
	       "\n"
	       "Exit status: 0 all decoded, 1 some inputs failed (error records written),\n"
	       "2 usage error or fatal failure.\n",
	       (unsigned long long)IMG_DEFAULT_MAX_PIXELS);
	diag_help_done();
}

/* Inputs that name nothing on disk and hold a '{' are brace patterns
 * (util/util.h): each is replaced by the names it expands to, which are then
 * ordinary inputs (a missing one gives its usual error record). */
static void expand_patterns(options_t *o)
{
	int any = 0;
	for (int i = 0; i < o->ninputs && !any; i++)
		any = strchr(o->inputs[i], '{') != NULL;
	if (!any)
		return;
	size_t n = 0, cap = (size_t)o->ninputs;
	char **v = xmalloc(cap * sizeof *v);
	for (int i = 0; i < o->ninputs; i++) {
		const char *a = o->inputs[i];
		struct stat st;
		brace_list_t l = {0};
		char err[200];
		if (strchr(a, '{') && stat(a, &st) != 0) {
			if (brace_expand(a, MAX_PATTERN_NAMES, &l, err, sizeof err) != 0)
				diag_usage("'%s': bad brace pattern: %s", a, err);
		} else if (!(l.v = malloc(sizeof *l.v)) || !(l.v[l.n++] = strdup(a))) {
			diag_fatal("out of memory");
		}
		if (l.n > (size_t)INT_MAX - n)
			diag_usage("too many inputs after brace expansion");
		if (n + l.n > cap) {
			cap = 2 * (n + l.n);
			if (!(v = realloc(v, cap * sizeof *v)))
				diag_fatal("out of memory");
		}
		memcpy(v + n, l.v, l.n * sizeof *v);
		n += l.n;
		free(l.v); /* the names now belong to v */
	}
	o->inputs = v;
	o->ninputs = (int)n;
	o->inputs_owned = 1;
}

/* BYTES, or with a K, M or G suffix (KiB, MiB, GiB): 1 to 2^50. */
static unsigned long long parse_bytes(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;
	if (*end && !end[1]) {
		const char *u = strchr("KMG", *end == 'k' || *end == 'm' || *end == 'g' ? *end - 32 : *end);
		shift = u && *u ? 10 * (int)(u - "KMG" + 1) : -1;
	} else if (*end) {
		shift = -1;
	}
	if (errno || s[0] < '0' || s[0] > '9' || shift < 0 || v == 0 || v > (1ULL << 50) >> shift)
		diag_usage("%s: expected a number of bytes from 1 to 2^50, with K, M or G for KiB, MiB, GiB (e.g. 512M), "
			   "got '%s'", opt, s);
	return v << shift;
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_RESIZE = 256, O_CROP, O_FILTER, O_MEAN, O_STD, O_FAST, O_FULL, O_MAXPX, O_SHARD, O_STRICT, O_INDEXDIR, O_BORDER,
	       O_MAXMEM, O_ORDER, O_DTYPE, O_WNIDS, O_JOBS, O_FIRST };
	static const struct option longopts[] = {
		{"preset", required_argument, NULL, 'p'},   {"dtype", required_argument, NULL, O_DTYPE},
		{"resize", required_argument, NULL, O_RESIZE}, {"crop", required_argument, NULL, O_CROP},
		{"filter", required_argument, NULL, O_FILTER}, {"mean", required_argument, NULL, O_MEAN},
		{"std", required_argument, NULL, O_STD},      {"fast", no_argument, NULL, O_FAST},
		{"full-decode", no_argument, NULL, O_FULL},   {"max-pixels", required_argument, NULL, O_MAXPX},
		{"labels", required_argument, NULL, 'l'},     {"wnids", required_argument, NULL, O_WNIDS},
		{"threads", required_argument, NULL, 'j'}, {"jobs", required_argument, NULL, O_JOBS},      {"shard", required_argument, NULL, O_SHARD},
		{"first", required_argument, NULL, O_FIRST},
		{"strict", no_argument, NULL, O_STRICT},      {"help", no_argument, NULL, 'h'},
		{"index-folders", no_argument, NULL, O_INDEXDIR}, {"border", required_argument, NULL, O_BORDER},
		{"max-memory", required_argument, NULL, O_MAXMEM}, {"resize-order", required_argument, NULL, O_ORDER},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	const char *preset = "clip", *dtype = "uint8", *filter = NULL, *mean = NULL, *std = NULL;
	long resize = -1, crop = -1;
	o->jobs = 1;
	o->shard_n = 1;
	o->ip.max_pixels = IMG_DEFAULT_MAX_PIXELS;
	o->ip.max_memory = DEFAULT_MAX_MEMORY;
	int c;
	while ((c = opt_next(argc, argv, "p:t:l:w:j:h", longopts)) != -1) {
		switch (c) {
		case 'p': preset = optarg; break;
		case 't': opt_old_spelling("-t", "--dtype"); /* fall through */
		case O_DTYPE: dtype = optarg; break;
		case O_RESIZE: resize = opt_parse_long("--resize", optarg, 0, 65536); break;
		case O_CROP: crop = opt_parse_long("--crop", optarg, 0, 65536); break;
		case O_FILTER: filter = optarg; break;
		case O_MEAN: mean = optarg; break;
		case O_STD: std = optarg; break;
		case O_FAST: o->ip.fast = 1; break;
		case O_FULL: o->ip.full_decode = 1; break;
		case O_MAXPX: o->ip.max_pixels = (unsigned long long)opt_parse_long("--max-pixels", optarg, 1, __LONG_MAX__); break;
		case 'l': o->labels_path = optarg; break;
		case 'w': opt_old_spelling("-w", "--wnids"); /* fall through */
		case O_WNIDS: o->wnids_path = optarg; break;
		case O_INDEXDIR: o->index_folders = 1; break;
		case O_BORDER: o->ip.border = (int)opt_parse_long("--border", optarg, 0, 1 << 20); break;
		case O_MAXMEM: o->ip.max_memory = parse_bytes("--max-memory", optarg); break;
		case O_ORDER:
			if (img_order_parse(optarg, &o->ip.resize_order) != 0)
				diag_usage("--resize-order: expected pil9, pil12.2 or pil13, got '%s'", optarg);
			break;
		case O_JOBS: opt_old_spelling("--jobs", "--threads"); /* fall through */
		case 'j': o->jobs = (int)opt_parse_long("--threads", optarg, 1, MAX_JOBS); break;
		case O_SHARD: {
			char *slash = strchr(optarg, '/');
			if (!slash)
				diag_usage("--shard: expected I/N, got '%s'", optarg);
			*slash = 0;
			o->shard_i = (int)opt_parse_long("--shard", optarg, 0, 1 << 30);
			o->shard_n = (int)opt_parse_long("--shard", slash + 1, 1, 1 << 30);
			*slash = '/';
			if (o->shard_i >= o->shard_n)
				diag_usage("--shard %s: I must be less than N", optarg);
			break;
		}
		case O_FIRST: o->first = (uint64_t)opt_parse_long("--first", optarg, 1, __LONG_MAX__); break;
		case O_STRICT: o->strict = 1; break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (img_preset(preset, &o->ip) != 0)
		diag_usage("--preset: unknown preset '%s' (%s)", preset, img_preset_names());
	if (dtype_parse(dtype, strlen(dtype), 1, &o->ip.dtype) != 0 ||
	    (o->ip.dtype != DTYPE_UINT8 && o->ip.dtype != DTYPE_FLOAT32 && o->ip.dtype != DTYPE_FLOAT16))
		diag_usage("--dtype: expected uint8, float32 or float16, got '%s'", dtype);
	snprintf(o->dtype_name, sizeof o->dtype_name, "%s", dtype);
	if (resize >= 0)
		o->ip.resize = (int)resize;
	if (crop >= 0)
		o->ip.crop = (int)crop;
	if (filter && img_filter_parse(filter, &o->ip.filter) != 0)
		diag_usage("--filter: expected bilinear, bicubic, box, hamming or lanczos, got '%s'", filter);
	if ((mean || std) && o->ip.dtype == DTYPE_UINT8)
		diag_usage("--mean/--std: only for --dtype float32 or float16 (a uint8 crop is normalized by "
			   "rnencode, with the model's own mean and std)");
	img_params_t pre = o->ip;
	if (mean)
		opt_parse_floats("--mean", mean, o->ip.mean, 3);
	if (std)
		opt_parse_floats("--std", std, o->ip.std, 3);
	for (int i = 0; i < 3; i++)
		if (o->ip.std[i] == 0.0f)
			diag_usage("--std: values must not be zero");
	o->custom_norm = memcmp(pre.mean, o->ip.mean, sizeof pre.mean) != 0 || memcmp(pre.std, o->ip.std, sizeof pre.std) != 0;
	if (o->ip.border && o->ip.fast)
		diag_usage("--border and --fast: not together (the DCT-scaled decode has no whole-pixel border)");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	expand_patterns(o);
}

/* ---- labels ---- */

/* Adds key -> val to a table (strmap, util.h). 0 when key is new or
 * already had val; -1 when it had another value (*old), which is kept. */
static int table_put(strmap_t *t, const char *key, int64_t val, int64_t *old)
{
	if (strmap_put(t, key, val) == 0)
		return 0;
	*old = strmap_get(t, key);
	return *old == val ? 0 : -1;
}

static int table_get(const strmap_t *t, const char *key, int64_t *val)
{
	*val = strmap_get(t, key);
	return *val < 0 ? -1 : 0;
}

/* labels.tsv: file<TAB>index or file<TAB>wnid<TAB>index; a first line whose
 * last column is not an index is a header; empty lines are skipped. */
typedef struct {
	const char *path;
	strmap_t *t;
} table_file_t;

static int label_line(void *ctx, long lineno, char *line, char *err, size_t cap)
{
	const table_file_t *tf = ctx;
	if (!line[0])
		return 0;
	char *col[4];
	int ncol = 0;
	for (char *p = line; ncol < 4;) {
		col[ncol++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = 0;
		p = tab + 1;
	}
	int64_t idx;
	if ((ncol == 2 || ncol == 3) && parse_index(col[ncol - 1], &idx) == 0 && col[0][0]) {
		int64_t old;
		if (table_put(tf->t, col[0], idx, &old) != 0) {
			/* which row is right cannot be guessed: a silent pick mislabels images */
			snprintf(err, cap, "%s:%ld: '%s' has label %lld here and %lld on an earlier line", tf->path,
				 lineno, col[0], (long long)idx, (long long)old);
			return -1;
		}
		return 0;
	}
	/* a header names its columns; a first row with a bad number ("7 ", "-1")
	 * is an error like any other, not a header to skip */
	if (lineno == 1 && (ncol == 2 || ncol == 3) && !strpbrk(col[ncol - 1], "0123456789"))
		return 0;
	snprintf(err, cap, "%s:%ld: expected file<TAB>index or file<TAB>wnid<TAB>index", tf->path, lineno);
	return -1;
}

/* wnids.txt: line i is the wnid of class i (trailing spaces dropped). */
static int wnid_line(void *ctx, long lineno, char *line, char *err, size_t cap)
{
	const table_file_t *tf = ctx;
	size_t len = strlen(line);
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = 0;
	if (len == 0) {
		snprintf(err, cap, "%s:%ld: empty line (line i must be the wnid of class i)", tf->path, lineno);
		return -1;
	}
	int64_t old;
	if (table_put(tf->t, line, lineno - 1, &old) != 0) {
		snprintf(err, cap, "%s:%ld: wnid '%s' is already class %lld (line %lld)", tf->path, lineno, line,
			 (long long)old, (long long)old + 1);
		return -1;
	}
	return 0;
}

/* The file of option opt (--labels, --wnids) into t: a problem names both. */
static void load_table(const char *opt, const char *path, line_fn fn, strmap_t *t, const char *what)
{
	char err[512];
	table_file_t tf = {path, t};
	strmap_init(t);
	if (file_for_each_line(path, fn, &tf, err, sizeof err) != 0)
		diag_fatal("%s: %s", opt, err);
	if (t->n == 0)
		diag_fatal("%s: %s: no %s in it", opt, path, what);
}

typedef struct {
	strmap_t labels, wnids;
	const char *labels_path, *wnids_path; /* NULL: not given */
	int index_folders;
} labeler_t;

/* The parent folder's name of path into buf ("" if none or too long). */
static void parent_name(const char *path, char *buf, size_t cap)
{
	const char *b = path_base(path);
	buf[0] = 0;
	if (b > path) {
		const char *e = b - 1, *s = e;
		while (s > path && s[-1] != '/')
			s--;
		size_t n = (size_t)(e - s);
		if (n < cap) {
			memcpy(buf, s, n);
			buf[n] = 0;
		}
	}
}

enum { LABEL_CONFLICT = -2 };

/* One more source's label v (from what) for an input: *label takes the
 * first; a different one makes it LABEL_CONFLICT, why saying which sources
 * gave what. */
static void label_vote(int64_t *label, int64_t *first, const char **first_from, int64_t v, const char *what,
		       char *why, size_t cap)
{
	if (v < 0)
		return;
	if (*first < 0) {
		*first = *label = v;
		*first_from = what;
	} else if (v != *first && *label != LABEL_CONFLICT) {
		*label = LABEL_CONFLICT;
		snprintf(why, cap, "labels disagree: %s gives %lld, %s gives %lld (which is right cannot be told)",
			 *first_from, (long long)*first, what, (long long)v);
	}
}

/* The label of an input from every source it has: the shard's KEY.cls
 * member, a --labels row (by id, path, or file name), its folder's number
 * (--index-folders), its folder's or file name's wnid (--wnids). -1 when
 * none gives one; LABEL_CONFLICT (why set) when two give different ones:
 * a silent pick would mislabel the image. */
static int64_t label_of(const labeler_t *lb, int has_cls, int64_t cls, const char *id, const char *path, char *why,
			size_t cap)
{
	int64_t label = -1, first = -1, v;
	const char *from = NULL;
	char buf[256], what[300];
	if (has_cls)
		label_vote(&label, &first, &from, cls, "its .cls member", why, cap);
	if (lb->labels_path && (table_get(&lb->labels, id, &v) == 0 || table_get(&lb->labels, path, &v) == 0 ||
				table_get(&lb->labels, path_base(path), &v) == 0)) {
		snprintf(what, sizeof what, "--labels %s", lb->labels_path);
		label_vote(&label, &first, &from, v, what, why, cap);
	}
	parent_name(path, buf, sizeof buf);
	/* V2's folders are 0..999: the name is the index. "007" or "+7" is not a
	 * class folder (a zero-padded tree would be a different layout). */
	if (lb->index_folders && buf[0] && strlen(buf) <= 9 && strspn(buf, "0123456789") == strlen(buf) &&
	    (buf[0] != '0' || buf[1] == 0))
		label_vote(&label, &first, &from, strtol(buf, NULL, 10), "its folder's number (--index-folders)", why, cap);
	if (lb->wnids_path) {
		if (buf[0] && table_get(&lb->wnids, buf, &v) == 0)
			label_vote(&label, &first, &from, v, "its folder's wnid (--wnids)", why, cap);
		const char *b = path_base(path), *us = strchr(b, '_');
		if (us && (size_t)(us - b) < sizeof buf) {
			memcpy(buf, b, (size_t)(us - b));
			buf[us - b] = 0;
			if (table_get(&lb->wnids, buf, &v) == 0)
				label_vote(&label, &first, &from, v, "its file name's wnid (--wnids)", why, cap);
		}
	}
	return label;
}

/* ---- inputs: arguments, directory walks, stdin lines, shards ---- */

/* An input is a file to decode (data NULL: read path) or a shard's sample
 * (data: its image member), or an error found while listing. */
typedef img_sample_t input_t;

static int looks_like_image(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 1; /* unreadable: list it, the error record says why */
	unsigned char head[16];
	size_t n = fread(head, 1, sizeof head, f);
	fclose(f);
	const char *k = img_sniff(head, n);
	return k && (strcmp(k, "jpeg") == 0 || strcmp(k, "png") == 0);
}

/* A folder's images (walk_tree): named *.jpg *.jpeg *.png in any case, or
 * JPEG or PNG by content; a name that cannot be opened, by its name. */
static int want_image(void *ctx, const char *path, const char *name, const struct stat *st)
{
	return img_has_image_extension(name) || (st && looks_like_image(path));
}

typedef struct {
	char **args;
	int nargs, arg;      /* next argument */
	walk_list_t dir;     /* the current directory's files, sorted */
	size_t dir_pos;
	int reading_stdin;
	char *line;
	size_t line_cap;
	uint64_t seen;       /* inputs met so far, for sharding */
	int shard_i, shard_n;
	uint64_t first;      /* --first N: stop after N inputs (0: all) */
	img_shard_t *shard;  /* the WebDataset shard being read */
	uint64_t max_member, max_keys_bytes;
	const char *max_member_name; /* what sets max_member, for its message */
	/* the ids given so far, when more than one argument (or a list) could
	 * give one twice: id -> index in first_path, the path that gave it */
	int check_ids;
	int shard_state;      /* of the open shard: 0 its name not checked yet, 1 new, -1 a repeat */
	int64_t shard_first;  /* the repeat's first_path index */
	strmap_t ids;
	char **first_path;
	size_t nids, ids_cap;
	uint64_t ids_bytes;
} source_t;

/* The next input of any kind, before sharding. Returns 0 at the end. A
 * shard is read one sample at a time by whoever asks for the next input
 * (under the pool's lock with -j: reading is sequential, decoding parallel;
 * an image member is held until its input is decoded, so at most one per
 * slot). */
static int source_next_any(source_t *s, input_t *in)
{
	for (;;) {
		if (s->shard) {
			if (img_shard_next(s->shard, in))
				return 1; /* s->shard stays set: check_id knows the input is a sample */
			img_shard_close(s->shard);
			s->shard = NULL;
		}
		if (s->dir_pos < s->dir.n) {
			walk_entry_t *e = &s->dir.v[s->dir_pos++];
			*in = (input_t){.id = e->rel, .path = e->path, .error = e->error};
			return 1;
		}
		if (s->reading_stdin) {
			ssize_t len = getline(&s->line, &s->line_cap, stdin);
			if (len < 0) {
				if (ferror(stdin))
					diag_fatal("stdin: read error: %s", strerror(errno));
				s->reading_stdin = 0;
				continue;
			}
			if (memchr(s->line, 0, (size_t)len))
				diag_fatal("stdin: binary data where a list of image paths was expected (a tar "
					   "shard? give it as a file: imgdecode shard.tar, or imgdecode /dev/stdin "
					   "< shard.tar)");
			while (len > 0 && (s->line[len - 1] == '\n' || s->line[len - 1] == '\r'))
				s->line[--len] = 0;
			if (len == 0)
				continue;
			*in = (input_t){.id = xstrdup(s->line), .path = xstrdup(s->line)};
			return 1;
		}
		if (s->arg >= s->nargs)
			return 0;
		const char *a = s->args[s->arg++];
		if (strcmp(a, "-") == 0) {
			s->reading_stdin = 1;
			continue;
		}
		struct stat st;
		if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk_list_free(&s->dir, s->dir_pos);
			s->dir_pos = 0;
			walk_tree(a, &st, want_image, NULL, &s->dir);
			if (s->dir.n == 0) {
				/* an error record, as for a shard: an empty mount point
				 * must not look like a successful empty run */
				*in = (input_t){.id = xstrdup(a), .path = xstrdup(a),
						.error = xstrdup("no image files in this directory")};
				return 1;
			}
			continue;
		}
		if (stat(a, &st) == 0 && img_shard_is(a, &st)) {
			s->shard = img_shard_open(a, s->max_member, s->max_member_name, s->max_keys_bytes);
			s->shard_state = 0;
			if (!s->shard) {
				*in = (input_t){.id = xstrdup(a), .path = xstrdup(a),
						.error = xasprintf("cannot open: %s", strerror(errno))};
				return 1;
			}
			continue;
		}
		*in = (input_t){.id = xstrdup(a), .path = xstrdup(a)};
		return 1;
	}
}

/* An id given before (a/x.jpg and b/x.jpg under two folder arguments, a
 * file named twice): every report downstream matches images by id, so the
 * later input is an error naming the first. The ids are kept within
 * --max-memory; past it the check stops, with a line that says so. */
static void check_id(source_t *s, input_t *in)
{
	if (!s->check_ids)
		return;
	const char *id = in->id;
	size_t n = strlen(id);
	if (s->shard) {
		/* a shard's ids are SHARD_BASENAME/KEY, its keys checked as it is
		 * read: its base name stands for them all (kept once, not per sample) */
		const char *slash = strchr(id, '/');
		n = slash ? (size_t)(slash - id) : n;
		if (s->shard_state < 0) {
			if (!in->error)
				in->error = xasprintf("id '%s' was given already: a shard named '%.*s' was read "
						      "before, from %s: every id once",
						      id, (int)n, id, s->first_path[s->shard_first]);
			return;
		}
		if (s->shard_state > 0)
			return;
		int64_t *first = strmap_findn(&s->ids, id, n);
		if (first) {
			s->shard_state = -1;
			s->shard_first = *first;
			check_id(s, in);
			return;
		}
		s->shard_state = 1;
	} else {
		int64_t *first = strmap_findn(&s->ids, id, n);
		if (first) {
			if (!in->error)
				in->error = xasprintf("id '%s' was given already, by %s: every id once (two folder "
						      "arguments holding the same relative path, or a file named twice?)",
						      id, s->first_path[*first]);
			return;
		}
	}
	s->ids_bytes += 2 * n + strlen(in->path) + 3 + sizeof(strmap_slot_t) * 2 + sizeof(char *);
	if (s->ids_bytes > s->max_keys_bytes) {
		diag_msg("ids: more than --max-memory %llu bytes of them: repeated ids are not checked from %s on",
			 (unsigned long long)s->max_keys_bytes, in->path);
		s->check_ids = 0;
		return;
	}
	if (s->nids == s->ids_cap) {
		s->ids_cap = s->ids_cap ? 2 * s->ids_cap : 1024;
		s->first_path = xrealloc(s->first_path, s->ids_cap * sizeof *s->first_path);
	}
	s->first_path[s->nids] = xstrdup(in->path);
	strmap_putn(&s->ids, id, n, (int64_t)s->nids++);
}

static int source_next(source_t *s, input_t *in)
{
	for (;;) {
		if (s->first && s->seen >= s->first)
			return 0;
		if (!source_next_any(s, in))
			return 0;
		if ((s->seen++ % (uint64_t)s->shard_n) == (uint64_t)s->shard_i) {
			check_id(s, in);
			return 1;
		}
		img_sample_free(in);
	}
}

static void source_free(source_t *s)
{
	walk_list_free(&s->dir, s->dir_pos);
	img_shard_close(s->shard);
	free(s->line);
	strmap_free(&s->ids);
	for (size_t i = 0; i < s->nids; i++)
		free(s->first_path[i]);
	free(s->first_path);
	memset(s, 0, sizeof *s);
}

/* ---- one input ---- */

typedef struct {
	input_t in;
	int64_t label;
	int label_conflict; /* its label sources disagree: it failed, not unlabeled */
	img_result_t res;   /* its buffers are reused by the slot's next input */
} slot_t;

static void process_one(const options_t *o, const labeler_t *lb, img_ctx_t *ctx, slot_t *s)
{
	char why[sizeof s->res.message];
	s->label_conflict = 0;
	s->label = label_of(lb, s->in.has_cls, s->in.cls, s->in.id, s->in.path, why, sizeof why);
	if (s->label == LABEL_CONFLICT || s->in.error) {
		s->res.ok = 0;
		s->res.warning[0] = 0;
		snprintf(s->res.message, sizeof s->res.message, "%s", s->in.error ? s->in.error : why);
		s->label_conflict = s->label == LABEL_CONFLICT;
		if (s->label_conflict)
			s->label = -1;
	} else if (s->in.data) {
		img_process_memory(ctx, &o->ip, s->in.data, s->in.len, &s->res);
	} else {
		img_process_file(ctx, &o->ip, s->in.path, &s->res);
	}
	/* a tar member's bytes are done with: a slot waiting for its turn to
	 * be written holds the small result only */
	free(s->in.data);
	s->in.data = NULL;
}

typedef struct {
	long long ok, failed, unlabeled;
} counts_t;

/* A name as a record can hold it: NULL when it is UTF-8 already, else a
 * malloc'd copy with the other bytes as \xNN (utf8_escape). */
static char *name_escape(const char *s)
{
	size_t n;
	return utf8_escape(s, strlen(s), &n);
}

/* Write the slot's record and its stderr lines; frees the input names. */
static void emit(rec_writer_t *w, const options_t *o, slot_t *s, counts_t *n)
{
	char *id = name_escape(s->in.id), *path = name_escape(s->in.path);
	if (id || path) {
		diag_msg("%s: the name is not UTF-8: its id and path carry the other bytes as \\xNN",
			 path ? path : s->in.path);
		if (id) {
			free(s->in.id);
			s->in.id = id;
		}
		if (path) {
			free(s->in.path);
			s->in.path = path;
		}
	}
	if (s->res.warning[0])
		diag_msg("%s: %s", s->in.path, s->res.warning);
	if ((o->labels_path || o->wnids_path || o->index_folders) && s->label < 0 && !s->label_conflict)
		n->unlabeled++;
	if (!s->res.ok) {
		diag_msg("%s: %s", s->in.path, s->res.message);
		rec_write_error(w, s->in.id, s->in.path, s->label, s->res.message);
		n->failed++;
	} else {
		rec_builder_t *b = rec_begin(w, "image");
		rb_str(b, "id", s->in.id);
		rb_str(b, "path", s->in.path);
		rb_int(b, "label", s->label);
		rb_str(b, "preset", o->ip.preset);
		int64_t size[2] = {s->res.src_h, s->res.src_w};
		rb_ints(b, "source_size", size, 2);
		rb_tensor(b, "tensor", s->res.dtype, s->res.ndim, s->res.shape, s->res.data);
		if (o->custom_norm) { /* the preset's name alone would claim its normalization */
			/* the float32 values the math uses */
			rb_floats(b, "mean", o->ip.mean, 3);
			rb_floats(b, "std", o->ip.std, 3);
		}
		rec_end(b);
		n->ok++;
	}
	img_sample_free(&s->in);
	if (s->res.data_cap > ((size_t)4 << 20)) /* a slot keeps no large tensor for its next input */
		img_result_free(&s->res);
}

/* ---- the run: decoded in parallel (pool_run), written in input order ---- */

typedef struct {
	const options_t *o;
	const labeler_t *lb;
	source_t *src;
	rec_writer_t *w;
	counts_t n;
} run_t;

static void *run_decoder(void *ctx)
{
	img_ctx_t *c = img_ctx_new();
	if (!c)
		diag_fatal("out of memory starting a decoder");
	return c;
}

static void run_decoder_free(void *ctx, void *decoder)
{
	img_ctx_free(decoder);
}

static int run_next(void *ctx, void *slot)
{
	run_t *r = ctx;
	return source_next(r->src, &((slot_t *)slot)->in);
}

static void run_work(void *ctx, void *decoder, void *slot)
{
	run_t *r = ctx;
	process_one(r->o, r->lb, decoder, slot);
}

static int run_done(void *ctx, void *slot)
{
	run_t *r = ctx;
	slot_t *s = slot;
	emit(r->w, r->o, s, &r->n);
	return !s->res.ok && r->o->strict;
}

static void run_release(void *ctx, void *slot)
{
	slot_t *s = slot;
	img_sample_free(&s->in);
	img_result_free(&s->res);
}

static void write_header(rec_writer_t *w, const options_t *o, int argc, char **argv)
{
	rec_builder_t *b = rec_begin_header(w, argc, argv);
	rb_str(b, "preset", o->ip.preset);
	rb_str(b, "dtype", o->dtype_name);
	rb_int(b, "resize", o->ip.resize);
	rb_int(b, "crop", o->ip.crop);
	rb_str(b, "filter", img_filter_name(o->ip.filter));
	rb_int(b, "border", o->ip.border);
	rb_floats(b, "mean", o->ip.mean, 3);
	rb_floats(b, "std", o->ip.std, 3);
	rb_str(b, "rgb_convert", o->ip.rgb_first ? "on-load" : "after-resize");
	rb_str(b, "decode", o->ip.fast ? "fast" : "exact");
	rb_str(b, "resize_order", img_order_name(o->ip.resize_order));
	rb_int(b, "max_memory", (int64_t)o->ip.max_memory);
	rb_str(b, "labels", o->labels_path);
	rb_str(b, "wnids", o->wnids_path);
	rb_bool(b, "index_folders", o->index_folders);
	char shard[64];
	snprintf(shard, sizeof shard, "%d/%d", o->shard_i, o->shard_n);
	rb_str(b, "shard", o->shard_n > 1 ? shard : NULL);
	if (o->first)
		rb_int(b, "first", (int64_t)o->first);
	rec_end(b);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	labeler_t lb;
	memset(&lb, 0, sizeof lb);
	if (o.labels_path)
		load_table("--labels", o.labels_path, label_line, &lb.labels, "labels");
	if (o.wnids_path)
		load_table("--wnids", o.wnids_path, wnid_line, &lb.wnids, "wnids");
	lb.labels_path = o.labels_path;
	lb.wnids_path = o.wnids_path;
	lb.index_folders = o.index_folders;
	rec_writer_t *w = rec_writer_stdout(0);
	write_header(w, &o, argc, argv);

	static char *stdin_only[] = {"-"};
	source_t src = {.args = o.ninputs ? o.inputs : stdin_only, .nargs = o.ninputs ? o.ninputs : 1,
			.shard_i = o.shard_i, .shard_n = o.shard_n, .first = o.first};
	/* a tar member's limit: what --max-pixels allows an image file, at most 1 GiB */
	char max_pixels_name[96];
	snprintf(max_pixels_name, sizeof max_pixels_name, "--max-pixels %llu x %llu bytes a pixel",
		 (unsigned long long)o.ip.max_pixels, IMG_MAX_FILE_BYTES_PER_PIXEL);
	src.max_member = o.ip.max_pixels * IMG_MAX_FILE_BYTES_PER_PIXEL;
	src.max_member_name = max_pixels_name;
	if (o.ip.max_pixels > (1ULL << 30) || src.max_member > (1ULL << 30)) {
		src.max_member = 1ULL << 30;
		src.max_member_name = "1 GiB, the most an image member may take";
	}
	if (src.max_member > o.ip.max_memory) { /* the member is held whole */
		src.max_member = o.ip.max_memory;
		src.max_member_name = "--max-memory";
	}
	src.max_keys_bytes = o.ip.max_memory;
	/* one folder or one shard cannot give an id twice (a shard's keys are checked as it is read) */
	src.check_ids = src.nargs > 1 || strcmp(src.args[0], "-") == 0;
	strmap_init(&src.ids);
	run_t run = {.o = &o, .lb = &lb, .src = &src, .w = w};
	pool_spec_t spec = {.ctx = &run, .item_size = sizeof(slot_t), .threads = o.jobs, .per_thread = SLOTS_PER_JOB,
			    .thread_init = run_decoder, .thread_done = run_decoder_free, .next = run_next,
			    .work = run_work, .done = run_done, .release = run_release};
	double t0 = time_now();
	pool_run(&spec);
	double secs = time_now() - t0;
	counts_t n = run.n;

	if (n.unlabeled > 0) {
		const char *from = o.labels_path && o.wnids_path ? "labels and wnids" : o.labels_path ? o.labels_path : o.wnids_path;
		diag_msg("%s: no label for %lld of %lld inputs (label -1)", from ? from : "--index-folders", n.unlabeled,
			 n.ok + n.failed);
	}
	rec_builder_t *b = rec_begin(w, "stats");
	rb_str(b, "producer", diag_prog());
	rb_int(b, "images", n.ok);
	rb_int(b, "errors", n.failed);
	rb_double(b, "seconds", secs);
	rb_double(b, "images_per_s", secs > 0 ? (double)(n.ok + n.failed) / secs : 0.0);
	rb_int(b, "peak_memory_bytes", mem_peak_rss());
	rb_int(b, "threads", o.jobs);
	rec_end(b);
	rec_writer_close(w);

	source_free(&src);
	for (int i = 0; o.inputs_owned && i < o.ninputs; i++)
		free(o.inputs[i]);
	if (o.inputs_owned)
		free(o.inputs);
	strmap_free(&lb.labels);
	strmap_free(&lb.wnids);
	return n.failed ? EXIT_SOME_FAILED : EXIT_OK;
}
