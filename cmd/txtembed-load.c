/* txtembed-load - class text embeddings from a file into one classes record.
 *
 * In: EMBEDDINGS, one of (recognised from its bytes, not its name)
 *   .npy          float16/32/64 [K,D], or [K,T,D] (one vector per template)
 *   safetensors   one tensor (or --tensor NAME) of those shapes; also any
 *                 checkpoint format common/ckpt/ckpt.h reads
 *   msgpack       a record stream holding classes records (txtencode's
 *                 output, an older table): each is rebuilt, the other
 *                 records (headers first of all) pass through in order
 * plus class names (--names, one per line in class-index order; for
 * msgpack input the record's own names serve when --names is not given).
 * Out: this program's header, then the classes record (doc/records.md)
 *   {"type": "classes", "model", "names": [K], "logit_scale", "tensor":
 *    float32 [K,D] rows L2-normalized, "templates": T, "source": file,
 *    "source_sha256": hex of the file (null for stdin), "source_format"}
 * [K,T,D] is reduced as CLIP's notebook does: normalize each template's
 * vector, average over T, normalize. --transpose reads CLIP's own [D,K]
 * zeroshot_weights layout. Arithmetic in FP32/double whatever the input.
 * Any mismatch (name count vs rows, bad shape, NaN, an all-zero row) is
 * fatal with one line naming both sizes: a class table is all or nothing.
 * It does not compute text embeddings (txtencode) or score images (zscore).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "eval/eval.h"
#include "util/util.h"
#include "stream/stream.h"

typedef enum {
	SRC_NPY,
	SRC_CKPT,
	SRC_MSGPACK
} src_format_t;

typedef struct {
	const char *names_path;
	const char *model;
	double logit_scale;
	int scale_given;
	const char *tensor_name;
	int transpose;
	size_t max_record; /* a msgpack input's */
	const char *input; /* "-": stdin (msgpack) */
} options_t;

typedef struct {
	char **names;
	int64_t nnames;
	char sha[65];
	int have_sha;
	src_format_t format;
} input_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: txtembed-load --names FILE [OPTIONS] EMBEDDINGS > classes.mp\n"
	       "Turn class text embeddings into the classes record zscore uses: rows\n"
	       "L2-normalized float32 [K,D] with the class names and the logit scale.\n"
	       "EMBEDDINGS is a .npy file (float16/32 [K,D], or [K,T,D] per template, averaged\n"
	       "as CLIP's notebook does: normalize each, mean over T, normalize), a safetensors\n"
	       "file (one tensor, or --tensor NAME), or a msgpack stream holding classes\n"
	       "records ('-' or nothing: stdin). The format is read from the file's bytes;\n"
	       "a named file is read more than once, so it must be a regular file (a pipe\n"
	       "brings a record stream on stdin).\n"
	       "\n"
	       "  -n, --names FILE        class names, one per line, line i = class i-1\n"
	       "                          (required unless a msgpack input brings its own)\n"
	       "  -m, --model M           the image model the table is for (default clip-rn50)\n"
	       "      --logit-scale S     multiplies cosines before the softmax (default 100,\n"
	       "                          CLIP's exp(logit_scale); msgpack input keeps its own)\n"
	       "      --tensor NAME       which tensor of a safetensors/checkpoint file\n"
	       "      --transpose         the table is [D,K] (CLIP's zeroshot_weights layout)\n"
	       "      --max-record B      refuse input records larger than B bytes (default\n"
	       "                          1 GiB) or holding more than B/256 msgpack values\n"
	       "                          (at least 65536)\n"
	       "  -h, --help              this help\n"
	       "      --version           print the version and exit\n"
	       "\n"
	       "Examples:\n"
	       "  txtembed-load --names names-clip.txt zeroshot.npy > classes.mp\n"
	       "  txtembed-load --names names-clip.txt --transpose zeroshot_weights.npy \\\n"
	       "      > classes.mp\n"
	       "  txtembed-load --names names.txt --tensor text_emb emb.safetensors > classes.mp\n"
	       "  txtencode --per-template ... | txtembed-load > classes.mp  # average templates\n"
	       "  zscore --classes classes.mp < emb.mp | topk\n"
	       "\n"
	       "Exit status: 0 ok; 2 usage error, unreadable file, or a table that does not fit\n"
	       "(name count vs rows, shape, NaN/Inf, an all-zero row, a broken record\n"
	       "stream): no output then.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_SCALE = 256, O_TENSOR, O_MAX_RECORD };
	static const struct option longopts[] = {
		{"names", required_argument, NULL, 'n'},       {"model", required_argument, NULL, 'm'},
		{"logit-scale", required_argument, NULL, O_SCALE}, {"tensor", required_argument, NULL, O_TENSOR},
		{"transpose", no_argument, NULL, 'T'},         {"help", no_argument, NULL, 'h'},
		{"max-record", required_argument, NULL, O_MAX_RECORD},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->logit_scale = 100.0;
	o->max_record = REC_DEFAULT_MAX_RECORD;
	int c;
	while ((c = opt_next(argc, argv, "n:m:s:t:h", longopts)) != -1) {
		switch (c) {
		case 'n': o->names_path = optarg; break;
		case 'm': o->model = optarg; break;
		case 's': opt_old_spelling("-s", "--logit-scale"); /* fall through */
		case O_SCALE:
			o->logit_scale = opt_parse_double("--logit-scale", optarg);
			if (!classes_logit_scale_ok(o->logit_scale))
				diag_usage("--logit-scale: %s is not in (0, %g] (CLIP's is 100)", optarg,
					   CLASSES_MAX_LOGIT_SCALE);
			o->scale_given = 1;
			break;
		case 't': opt_old_spelling("-t", "--tensor"); /* fall through */
		case O_TENSOR: o->tensor_name = optarg; break;
		case 'T': o->transpose = 1; break;
		case O_MAX_RECORD: o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (argc - optind > 1)
		diag_usage("one EMBEDDINGS file at a time (got %d)", argc - optind);
	o->input = optind < argc ? argv[optind] : "-";
}

/* The format from the first bytes: "\x93NUMPY"; safetensors = u64 LE header
 * length N, then '{' and the JSON header within the file; a msgpack map
 * (0x80-0x8f, 0xde, 0xdf); the other checkpoint formats by their magic
 * (ckpt_sniff); anything else is refused here, naming what was looked for.
 * A named file is read up to three times (here, for its sha256, then in
 * full), so it must be a regular file: a pipe gives its record stream on
 * stdin instead. */
static src_format_t sniff(const char *path)
{
	if (strcmp(path, "-") == 0)
		return SRC_MSGPACK;
	char err[1024];
	int fd = file_open_input(path, 1, err, sizeof err);
	struct stat st;
	if (fd < 0)
		diag_fatal("%s%s", err,
			   stat(path, &st) == 0 && S_ISFIFO(st.st_mode) ? "; a record stream can come on stdin ('-')" : "");
	unsigned char b[64];
	ssize_t got;
	while ((got = read(fd, b, sizeof b)) < 0 && errno == EINTR)
		;
	if (got < 0)
		diag_fatal("%s: %s", path, strerror(errno));
	off_t size = fstat(fd, &st) == 0 ? st.st_size : -1;
	close(fd);
	size_t n = (size_t)got;
	if (n == 0)
		diag_fatal("%s: the file is empty", path);
	if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
		return SRC_NPY;
	/* np.savez: a zip whose first member is NAME.npy (the checkpoint reader
	 * would only say "no data.pkl") */
	size_t zn = n >= 30 ? (size_t)(b[26] | b[27] << 8) : 0;
	if (zn >= 4 && 30 + zn <= n && memcmp(b, "PK\x03\x04", 4) == 0 && memcmp(b + 30 + zn - 4, ".npy", 4) == 0)
		diag_fatal("%s: a NumPy .npz archive: txtembed-load reads one array; save it alone with "
			   "numpy.save('table.npy', array)",
			   path);
	if (n >= 9 && b[8] == '{') {
		uint64_t hl = 0;
		for (int i = 7; i >= 0; i--)
			hl = (hl << 8) | b[i];
		if (size > 0 && hl <= (uint64_t)size - 8)
			return SRC_CKPT;
	}
	if ((b[0] & 0xf0) == 0x80 || b[0] == 0xde || b[0] == 0xdf)
		return SRC_MSGPACK;
	if (ckpt_sniff(b, n))
		return SRC_CKPT;
	diag_fatal("%s: not a format txtembed-load reads: no .npy magic (\\x93NUMPY), msgpack map, safetensors "
		   "header, PyTorch/TorchScript zip or legacy torch.save pickle at its start",
		   path);
}

static const char *format_name(src_format_t f)
{
	return f == SRC_NPY ? "npy" : f == SRC_MSGPACK ? "msgpack" : "checkpoint";
}

static void check_names(const options_t *o, const input_t *in, int64_t k, const int64_t *shape, int ndim,
			const char *what)
{
	if (in->nnames == k)
		return;
	char sbuf[160];
	tensor_shape_str(shape, ndim, sbuf, sizeof sbuf);
	const char *names = o->names_path ? o->names_path : "the record's name list";
	if (!o->transpose && ndim == 2 && shape[1] == in->nnames)
		diag_fatal("%s has %lld names but %s has %lld rows (shape %s); if the table is [D,K], add --transpose",
			   names, (long long)in->nnames, what, (long long)k, sbuf);
	diag_fatal("%s has %lld names but %s has %lld classes (shape %s)", names, (long long)in->nnames, what,
		   (long long)k, sbuf);
}

static void write_header(rec_writer_t *w, int argc, char **argv, const options_t *o, const input_t *in)
{
	rec_builder_t *b = rec_begin_header(w, argc, argv);
	rb_str(b, "source", strcmp(o->input, "-") == 0 ? "stdin" : o->input);
	rb_str(b, "source_sha256", in->have_sha ? in->sha : NULL);
	rb_str(b, "source_format", format_name(in->format));
	rb_str(b, "tensor", o->tensor_name);
	rb_str(b, "names", o->names_path);
	rb_str(b, "model", o->model ? o->model : "clip-rn50");
	rec_end(b);
}

/* --model clip-rn50 names the width too: its image embeddings are 1024 wide,
 * and a table of another width would only fail later, in zscore. */
static void check_width(const options_t *o, int64_t d, const char *what)
{
	if (o->model && strcmp(o->model, "clip-rn50") == 0 && d != 1024)
		diag_fatal("%s: embeddings are %lld wide; clip-rn50's are 1024 (another CLIP model? then leave out "
			   "--model clip-rn50)",
			   what, (long long)d);
}

/* The classes record; extra_from (msgpack input) lends its other keys. */
static void write_classes(rec_writer_t *w, const options_t *o, const input_t *in, char **names, const char *model,
			  double scale, const float *rows, int64_t k, int64_t d, int64_t templates,
			  const record_t *extra_from)
{
	static const char *const own[] = {"type",		"model",	 "names",	  "logit_scale",
					  "tensor",		"templates",	 "source",	  "source_sha256",
					  "source_format",	NULL};
	rec_builder_t *b = rec_begin(w, "classes");
	rb_str(b, "model", model);
	rb_strs(b, "names", (const char *const *)names, (size_t)k);
	rb_double(b, "logit_scale", scale);
	rb_int(b, "templates", templates);
	rb_str(b, "source", strcmp(o->input, "-") == 0 ? "stdin" : o->input);
	rb_str(b, "source_sha256", in->have_sha ? in->sha : NULL);
	rb_str(b, "source_format", format_name(in->format));
	if (extra_from)
		rb_copy_keys_except(b, extra_from, own);
	int64_t shape[2] = {k, d};
	rb_tensor(b, "tensor", DTYPE_FLOAT32, 2, shape, rows);
	rec_end(b);
}

static void load_table(const options_t *o, input_t *in, tensor_t *t, void **owned, ckpt_t **ck)
{
	char err[512];
	if (in->format == SRC_NPY) {
		if (o->tensor_name)
			diag_usage("--tensor: %s is a .npy file, which holds one array", o->input);
		if (npy_read(o->input, t, owned, err, sizeof err) != 0)
			diag_fatal("%s", err);
		return;
	}
	*ck = ckpt_open(o->input, err, sizeof err);
	if (!*ck)
		diag_fatal("%s", err);
	const ckpt_entry_t *e = NULL;
	if (o->tensor_name) {
		e = ckpt_find(*ck, o->tensor_name);
		if (!e)
			diag_fatal("%s: no tensor named '%s' (%zu tensors, e.g. '%s')", o->input, o->tensor_name,
				   ckpt_count(*ck), ckpt_count(*ck) ? ckpt_entry(*ck, 0)->name : "none");
	} else if (ckpt_count(*ck) == 1) {
		e = ckpt_entry(*ck, 0);
	} else {
		diag_fatal("%s: %zu tensors (%s%s%s...): pick one with --tensor NAME", o->input, ckpt_count(*ck),
			   ckpt_count(*ck) ? ckpt_entry(*ck, 0)->name : "none", ckpt_count(*ck) > 1 ? ", " : "",
			   ckpt_count(*ck) > 1 ? ckpt_entry(*ck, 1)->name : "");
	}
	*t = e->t;
}

/* Everything is checked before stdout is opened: a table that does not fit
 * leaves no output at all. */
static void from_array(int argc, char **argv, const options_t *o, input_t *in)
{
	tensor_t t;
	void *owned = NULL;
	ckpt_t *ck = NULL;
	load_table(o, in, &t, &owned, &ck);
	float *rows;
	int64_t k, d, templates;
	char err[512];
	if (classes_build_rows(t.dtype, t.data, t.ndim, t.shape, o->transpose, &rows, &k, &d, &templates, err,
			       sizeof err) != 0)
		diag_fatal("%s: %s", o->input, err);
	check_names(o, in, k, t.shape, t.ndim, o->input);
	check_width(o, d, o->input);
	rec_writer_t *w = rec_writer_stdout(0);
	write_header(w, argc, argv, o, in);
	write_classes(w, o, in, in->names, o->model ? o->model : "clip-rn50", o->logit_scale, rows, k, d, templates,
		      NULL);
	rec_writer_close(w);
	free(rows);
	free(owned);
	ckpt_free(ck);
}


static void from_stream(int argc, char **argv, const options_t *o, input_t *in)
{
	rec_reader_t *r = rec_reader_open_path(o->input, o->max_record);
	if (!r)
		diag_fatal("%s: %s", o->input, strerror(errno));
	/* records pass through as they come, spooled: a stream that fails
	 * (exit 2) leaves no output, however much came before */
	rec_writer_t *w = rec_writer_stdout_spooled();
	write_header(w, argc, argv, o, in);
	record_t rec;
	int nclasses = 0, nfailed = 0;
	while (rec_next(r, &rec, NULL, &nfailed)) { /* NULL: a broken stream flushes nothing */
		if (!rec_is(&rec, "classes")) {
			rec_pass(w, &rec);
			continue;
		}
		tensor_t t;
		char err[512];
		if (rec_get_tensor(&rec, "tensor", &t, err, sizeof err) != 0)
			diag_fatal("%s: classes record %llu: %s", rec_reader_name(r), (unsigned long long)rec.index, err);
		float *rows;
		int64_t k, d, templates;
		if (classes_build_rows(t.dtype, t.data, t.ndim, t.shape, o->transpose, &rows, &k, &d, &templates, err,
				       sizeof err) != 0)
			diag_fatal("%s: classes record %llu: %s", rec_reader_name(r), (unsigned long long)rec.index, err);
		char **rec_names = NULL;
		int64_t nrec_names = 0;
		if (!in->names) {
			if (names_from_object(rec_get(&rec, "names"), &rec_names, &nrec_names) != 0)
				diag_fatal("%s: classes record %llu has no \"names\" list: give --names FILE",
					   rec_reader_name(r), (unsigned long long)rec.index);
			in->names = rec_names;
			in->nnames = nrec_names;
		}
		char what[160];
		snprintf(what, sizeof what, "classes record %llu", (unsigned long long)rec.index);
		check_names(o, in, k, t.shape, t.ndim, what);
		check_width(o, d, what);
		double scale = o->logit_scale;
		if (!o->scale_given && rec_get(&rec, "logit_scale")) {
			/* a broken scale must not become the default 100 unnoticed */
			if (rec_get_double(&rec, "logit_scale", &scale) != 0)
				diag_fatal("%s: %s: logit_scale is not a number (give --logit-scale S)", rec_reader_name(r),
					   what);
			if (!classes_logit_scale_ok(scale))
				diag_fatal("%s: %s: logit_scale %g is not in (0, %g]", rec_reader_name(r), what, scale,
					   CLASSES_MAX_LOGIT_SCALE);
		}
		int64_t rec_templates;
		if (t.ndim == 2 && rec_get_int(&rec, "templates", &rec_templates) == 0 && rec_templates > 0)
			templates = rec_templates; /* already averaged upstream: keep its count */
		char *rec_model = rec_dup_str(&rec, "model");
		const char *model = o->model ? o->model : rec_model ? rec_model : "clip-rn50";
		write_classes(w, o, in, in->names, model, scale, rows, k, d, templates, &rec);
		free(rec_model);
		free(rows);
		if (rec_names) {
			names_free(rec_names, nrec_names);
			in->names = NULL;
			in->nnames = 0;
		}
		nclasses++;
	}
	rec_reader_free(r);
	if (nfailed)
		diag_fatal("%s: %d invalid record%s in the stream", o->input, nfailed, nfailed == 1 ? "" : "s");
	if (!nclasses)
		diag_fatal("%s: no classes record in the stream", o->input);
	rec_writer_close(w);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	input_t in;
	memset(&in, 0, sizeof in);
	in.format = sniff(o.input);
	if (!o.names_path && in.format != SRC_MSGPACK)
		diag_usage("--names FILE is required for a %s input", format_name(in.format));
	char err[512];
	if (o.names_path && names_load(o.names_path, &in.names, &in.nnames, err, sizeof err) != 0)
		diag_fatal("--names: %s", err);
	if (strcmp(o.input, "-") != 0) {
		if (file_sha256(o.input, in.sha) != 0)
			diag_fatal("%s: %s", o.input, strerror(errno));
		in.have_sha = 1;
	}
	if (in.format == SRC_MSGPACK)
		from_stream(argc, argv, &o, &in);
	else
		from_array(argc, argv, &o, &in);
	names_free(in.names, in.nnames);
	return EXIT_OK;
}
