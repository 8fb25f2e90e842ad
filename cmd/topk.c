/* topk - the k most probable classes of each image, with their names.
 *
 * Records in: scores (zscore; with or without a --subset "index" list),
 * logits (softmaxed here first), classes and header records (sources of
 * class names), anything else. Out, by --format:
 *   msgpack (default unless stdout is a terminal): header, then per scores/
 *     logits record one topk record
 *       {"type": "topk", "index": [int x k] class indices best first,
 *        "prob": [float x k], "name": [str x k] ("" when no name is known),
 *        ...every other input key (id, label, model, precision, path, ...)}
 *     with header/error/unknown records passed through, input order kept;
 *   text (default on a terminal): a block per image, errors inline;
 *   tsv: id, label, rank, class, prob, name; one row per rank (an error
 *     record is one row with rank "error" and its message as the name; a
 *     tab in a field becomes a space);
 * In the text formats, control characters of ids, names and messages are
 * escaped as in diagnostics (\n, \x1B); JSON is valid UTF-8 (common/stream/stream.h).
 *   json: one JSON object per image (JSON Lines).
 * The text formats skip header and unknown records (they are not images).
 * k larger than the number of classes gives all of them. Ties rank the
 * lower class index first. Names: --names FILE, else the latest classes
 * record, else the latest header carrying "class_names" (zscore writes it).
 * --names must fit the scores: as many names as a full score vector has
 * classes, and a name for every class a --subset "index" list names; a
 * mismatch is a usage error (exit 2) at the first record it shows in.
 * An embedding record (run zscore first) or an image record (run rnencode
 * and zscore first) is a pipeline mistake: exit 2. A fatal stop before any
 * image was ranked leaves stdout empty (the tsv column line is written with
 * the first row), so nothing downstream takes it for a result.
 * Per-record stderr lines name the stream, the record number and the id.
 * It does not compute accuracy (errstats) or compare runs (fpdiff).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/eval.h"
#include "util/util.h"
#include "stream/stream.h"

typedef enum {
	FORMAT_MSGPACK,
	FORMAT_TEXT,
	FORMAT_TSV,
	FORMAT_JSON
} format_t;

typedef struct {
	long k;
	const char *names_path;
	format_t format;
	int format_given;
	size_t max_record;
	char **inputs;
	int ninputs;
} options_t;

typedef struct {
	char **file_names; /* --names */
	int64_t nfile_names;
	char **stream_names; /* latest from the stream */
	int64_t nstream_names;
	score_vec_t sv;
	int64_t *idx;
	size_t idxcap;
	/* the top k's classes, probabilities, names, in rank order (emit_msgpack) */
	int64_t *top_cls;
	float *top_prob;
	const char **top_name;
	int nfailed;
	long long nranked;
	int tsv_header_done;
	const char *stream; /* name of the stream being read, for messages */
} state_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: topk [OPTIONS] [STREAM...]\n"
	       "The k most probable classes per image from scores records (zscore) or logits\n"
	       "(softmaxed first), best first, ties to the lower class index. Reads STREAMs or\n"
	       "stdin; keeps input order; error records stay errors.\n"
	       "\n"
	       "  -k, --top N           how many classes (default 5; more than K gives all K)\n"
	       "  -n, --names FILE      class names, one per line in class-index order, one per\n"
	       "                        class of the scores (default: the latest classes record\n"
	       "                        in the stream, else the class_names zscore puts in its\n"
	       "                        header)\n"
	       "  -f, --format F        msgpack: topk records (the default when stdout is not a\n"
	       "                        terminal); text: a readable block per image (the default\n"
	       "                        on a terminal); tsv: id label rank class prob name rows\n"
	       "                        (a tab in a field becomes a space);\n"
	       "                        json: one JSON object per image (JSON Lines)\n"
	       "      --json            the same as --format json (-f json, the old spelling,\n"
	       "                        works one more release with a note on stderr)\n"
	       "      --max-record B    refuse input records larger than B bytes (default\n"
	       "                        1 GiB) or holding more than B/256 msgpack values\n"
	       "                        (at least 65536)\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode imgs/ | rnencode | zscore | topk            # table on the terminal\n"
	       "  zscore < emb.mp | topk -k 1 --format tsv > top1.tsv\n"
	       "  topk -k 5 --names names-clip.txt scores.mp > top5.mp\n"
	       "  topk --json scores.mp | jq -r '.name[0]'\n"
	       "\n"
	       "Text output (one block per image; '<- label' marks the labelled class):\n"
	       "  n01440764_tench.JPEG  label 0 (tench)\n"
	       "     1  0.9123     0  tench  <- label\n"
	       "     2  0.0311   391  coho salmon\n"
	       "\n"
	       "Exit status: 0 ok; 1 some records failed (malformed scores, NaN: error records\n"
	       "written); 2 usage error, --names not one name per class, an embedding record\n"
	       "(run zscore first) or an image record (run rnencode and zscore first), a broken\n"
	       "stream.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { OPT_FORMAT = 256, OPT_JSON, OPT_MAX_RECORD };
	static const struct option longopts[] = {{"names", required_argument, NULL, 'n'},
						 {"top", required_argument, NULL, 'k'},
						 {"format", required_argument, NULL, OPT_FORMAT},
						 {"json", no_argument, NULL, OPT_JSON},
						 {"max-record", required_argument, NULL, OPT_MAX_RECORD},
						 {"help", no_argument, NULL, 'h'},
						 OPT_VERSION_ENTRY,
						 {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->k = 5;
	o->max_record = REC_DEFAULT_MAX_RECORD;
	int c;
	while ((c = opt_next(argc, argv, "k:n:f:h", longopts)) != -1) {
		switch (c) {
		case 'k': o->k = opt_parse_long("--top", optarg, 1, INT32_MAX); break;
		case 'n': o->names_path = optarg; break;
		case OPT_MAX_RECORD: o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case OPT_JSON:
			o->format_given = 1;
			o->format = FORMAT_JSON;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0) /* the old spelling: one release more */
				opt_old_spelling("-f json", "--json");
			/* fall through */
		case OPT_FORMAT:
			o->format_given = 1;
			if (strcmp(optarg, "msgpack") == 0)
				o->format = FORMAT_MSGPACK;
			else if (strcmp(optarg, "text") == 0)
				o->format = FORMAT_TEXT;
			else if (strcmp(optarg, "tsv") == 0)
				o->format = FORMAT_TSV;
			else if (strcmp(optarg, "json") == 0)
				o->format = FORMAT_JSON;
			else
				diag_usage("--format: '%s' is not msgpack, text, tsv or json", optarg);
			break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	if (!o->format_given && isatty(1))
		o->format = FORMAT_TEXT;
}

/* A mistake found at a record that stops the run (exit 2). While no image
 * has been ranked or failed, the buffered records (headers) are dropped so
 * that stdout holds nothing a later stage could take for a result; after
 * that, what was produced goes out as whole records. */
DIAG_NORETURN DIAG_PRINTF(3, 4) static void stop(const state_t *s, rec_writer_t *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (w && (s->nranked || s->nfailed))
		rec_writer_flush(w);
	diag_fatal("%s", msg);
}

/* The wrong kind of record for topk: an earlier stage is missing. */
DIAG_NORETURN static void wrong_stream(const state_t *s, rec_writer_t *w, const record_t *rec, const char *what)
{
	char where[320];
	rec_where(where, sizeof where, s->stream, rec);
	stop(s, w, "%s: %s", where, what);
}

/* --names must name every class of the scores: a short list would leave
 * most classes blank (and a long one belongs to another label set). */
static void check_file_names(const state_t *s, rec_writer_t *w, const options_t *o, const record_t *rec)
{
	if (!s->file_names)
		return;
	char where[320], err[1024];
	rec_where(where, sizeof where, s->stream, rec);
	/* a --subset record ("index") names its classes by number */
	if (names_fit(o->names_path, s->nfile_names, s->sv.is_logits ? "logits" : "scores",
		      rec_get(rec, "index") ? s->sv.cls : NULL, s->sv.n, where, err, sizeof err) != 0)
		stop(s, w, "%s", err);
}

/* The tsv column line goes out with the first row, so that a run stopped
 * before any row leaves stdout empty. */
static void tsv_begin(state_t *s)
{
	if (!s->tsv_header_done)
		printf("id\tlabel\trank\tclass\tprob\tname\n");
	s->tsv_header_done = 1;
}

static const char *class_name(const state_t *s, int64_t c)
{
	if (s->file_names)
		return c < s->nfile_names ? s->file_names[c] : "";
	if (s->stream_names)
		return c < s->nstream_names ? s->stream_names[c] : "";
	return "";
}

/* A TSV field: a tab would split it (a space instead); other control
 * characters escaped as in every text output (a row stays one line, a
 * terminal gets no escapes). */
static void put_tsv_field(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = diag_ctl_len(p + i, n - i);
		if (k) {
			diag_put_ctl(stdout, p + i, k);
			i += k;
		} else if (p[i] == '\t') {
			putchar(' ');
			i++;
		} else {
			k = diag_char_len(p + i, n - i);
			fwrite(p + i, 1, k, stdout);
			i += k;
		}
	}
}

/* The record's id (or "#N"): as text in the text formats, the "id" entry
 * of w in JSON. */
static void put_id(const record_t *rec, format_t f, jw_t *w)
{
	const char *p;
	size_t n;
	char buf[64];
	if (rec_get_str(rec, "id", &p, &n) != 0) {
		snprintf(buf, sizeof buf, "#%llu", (unsigned long long)rec->index);
		p = buf;
		n = strlen(buf);
	}
	if (f == FORMAT_JSON)
		jw_strn(w, "id", p, n);
	else if (f == FORMAT_TSV)
		put_tsv_field(p, n);
	else
		diag_put_text(stdout, p, n);
}

/* A failed image in the text formats: the row it would have had, holding
 * "stage: message" instead of classes. */
static void error_row(state_t *s, const record_t *rec, format_t f, const char *stage, size_t sl, const char *msg,
		      size_t ml)
{
	int64_t label = -1;
	if (rec_get_int(rec, "label", &label) != 0)
		label = -1;
	if (f == FORMAT_TEXT) {
		put_id(rec, f, NULL);
		fputs("  ERROR ", stdout);
		diag_put_text(stdout, stage, sl);
		fputs(": ", stdout);
		diag_put_text(stdout, msg, ml);
		putchar('\n');
	} else if (f == FORMAT_TSV) {
		tsv_begin(s);
		put_id(rec, f, NULL);
		printf("\t%lld\terror\t\t\t", (long long)label);
		put_tsv_field(stage, sl);
		fputs(": ", stdout);
		put_tsv_field(msg, ml);
		putchar('\n');
	} else {
		jw_t w;
		jw_init(&w, stdout);
		jw_obj(&w, NULL);
		put_id(rec, f, &w);
		jw_int(&w, "label", label);
		char *both = xmalloc(sl + ml + 3);
		int n = snprintf(both, sl + ml + 3, "%.*s: %.*s", (int)sl, stage, (int)ml, msg);
		jw_strn(&w, "error", both, (size_t)n);
		free(both);
		jw_close(&w);
	}
}

/* An error record from an earlier stage, in the text formats. */
static void text_error(state_t *s, const record_t *rec, format_t f)
{
	const char *stage = "", *msg = "";
	size_t sl = 0, ml = 0;
	rec_get_str(rec, "stage", &stage, &sl);
	rec_get_str(rec, "message", &msg, &ml);
	error_row(s, rec, f, stage, sl, msg, ml);
}

/* rec_next, except that in the text formats an unreadable record gets its
 * error row too (rec_next writes error records only to a record stream). */
static int next_record(state_t *s, rec_reader_t *r, record_t *rec, rec_writer_t *w, format_t f)
{
	if (w)
		return rec_next(r, rec, w, &s->nfailed);
	for (;;) {
		rec_status_t st = rec_reader_next(r, rec);
		if (st == REC_OK)
			return 1;
		if (st == REC_EOF)
			return 0;
		const char *msg = rec_reader_message(r);
		if (st != REC_INVALID)
			diag_fatal("%s", msg);
		diag_msg("%s", msg);
		s->nfailed++;
		error_row(s, rec, f, "topk", 4, msg, strlen(msg));
	}
}

static void emit_msgpack(rec_writer_t *w, const state_t *s, const record_t *rec, int k)
{
	static const char *const skip[] = {"type", "tensor", "index", "prob", "name", NULL};
	for (int i = 0; i < k; i++) {
		s->top_cls[i] = s->sv.cls[s->idx[i]];
		s->top_prob[i] = s->sv.v[s->idx[i]];
		s->top_name[i] = class_name(s, s->top_cls[i]);
	}
	rec_builder_t *b = rec_begin(w, "topk");
	rb_copy_keys_except(b, rec, skip);
	rb_ints(b, "index", s->top_cls, (size_t)k);
	rb_floats(b, "prob", s->top_prob, (size_t)k);
	rb_strs(b, "name", s->top_name, (size_t)k);
	rec_end(b);
}

static void emit_text(const state_t *s, const record_t *rec, int k)
{
	int64_t label = -1;
	rec_get_int(rec, "label", &label);
	put_id(rec, FORMAT_TEXT, NULL);
	if (label >= 0) {
		const char *ln = class_name(s, label);
		printf("  label %lld", (long long)label);
		if (*ln) {
			fputs(" (", stdout);
			diag_put_cstr(stdout, ln);
			putchar(')');
		}
	}
	putchar('\n');
	int seen_label = 0;
	for (int i = 0; i < k; i++) {
		int64_t c = s->sv.cls[s->idx[i]];
		printf("  %4d  %.4f  %4lld  ", i + 1, (double)s->sv.v[s->idx[i]], (long long)c);
		diag_put_cstr(stdout, class_name(s, c));
		printf("%s\n", c == label ? "  <- label" : "");
		seen_label |= c == label;
	}
	if (label >= 0 && !seen_label)
		printf("        label not in the top %d\n", k);
}

static void emit_tsv(state_t *s, const record_t *rec, int k)
{
	int64_t label = -1;
	rec_get_int(rec, "label", &label);
	tsv_begin(s);
	for (int i = 0; i < k; i++) {
		int64_t c = s->sv.cls[s->idx[i]];
		const char *nm = class_name(s, c);
		put_id(rec, FORMAT_TSV, NULL);
		printf("\t%lld\t%d\t%lld\t%.6g\t", (long long)label, i + 1, (long long)c, (double)s->sv.v[s->idx[i]]);
		put_tsv_field(nm, strlen(nm));
		putchar('\n');
	}
}

static void emit_json(const state_t *s, const record_t *rec, int k)
{
	int64_t label = -1;
	rec_get_int(rec, "label", &label);
	jw_t w;
	jw_init(&w, stdout);
	jw_obj(&w, NULL);
	put_id(rec, FORMAT_JSON, &w);
	jw_int(&w, "label", label);
	static const char *const keys[] = {"model", "precision", NULL};
	for (int i = 0; keys[i]; i++) {
		const char *p;
		size_t n;
		if (rec_get_str(rec, keys[i], &p, &n) == 0)
			jw_strn(&w, keys[i], p, n);
	}
	jw_arr(&w, "index");
	for (int i = 0; i < k; i++)
		jw_int(&w, NULL, s->sv.cls[s->idx[i]]);
	jw_end(&w);
	jw_arr(&w, "prob");
	for (int i = 0; i < k; i++)
		jw_double(&w, NULL, s->sv.v[s->idx[i]]);
	jw_end(&w);
	jw_arr(&w, "name");
	for (int i = 0; i < k; i++)
		jw_str(&w, NULL, class_name(s, s->sv.cls[s->idx[i]]));
	jw_close(&w);
}

static void fail_record(state_t *s, rec_writer_t *w, const options_t *o, const record_t *rec, const char *msg)
{
	char where[320];
	rec_where(where, sizeof where, s->stream, rec);
	diag_msg("%s: %s", where, msg);
	s->nfailed++;
	if (w) {
		rec_write_error_for(w, rec, msg);
		return;
	}
	/* text formats show the failure where the image would be */
	error_row(s, rec, o->format, "topk", 4, msg, strlen(msg));
}

static void rank_record(state_t *s, rec_writer_t *w, const options_t *o, const record_t *rec)
{
	char err[320];
	if (score_vec_from_record(rec, &s->sv, err, sizeof err) != 0) {
		fail_record(s, w, o, rec, err);
		return;
	}
	check_file_names(s, w, o, rec);
	int64_t bad = vec_count_nonfinite(s->sv.v, s->sv.n);
	if (bad) {
		snprintf(err, sizeof err, "%lld NaN/Inf values among the %lld scores", (long long)bad, (long long)s->sv.n);
		fail_record(s, w, o, rec, err);
		return;
	}
	int k = o->k < s->sv.n ? (int)o->k : (int)s->sv.n;
	if ((size_t)k > s->idxcap) {
		free(s->idx);
		free(s->top_cls);
		free(s->top_prob);
		free(s->top_name);
		s->idx = xmalloc((size_t)k * sizeof *s->idx);
		s->top_cls = xmalloc((size_t)k * sizeof *s->top_cls);
		s->top_prob = xmalloc((size_t)k * sizeof *s->top_prob);
		s->top_name = xmalloc((size_t)k * sizeof *s->top_name);
		s->idxcap = (size_t)k;
	}
	/* logits rank as they are: softmax ties classes that underflow to 0 */
	vec_topk(s->sv.v, s->sv.cls, s->sv.n, k, s->idx);
	if (s->sv.is_logits)
		vec_softmax(s->sv.v, s->sv.v, s->sv.n);
	switch (o->format) {
	case FORMAT_MSGPACK: emit_msgpack(w, s, rec, k); break;
	case FORMAT_TEXT: emit_text(s, rec, k); break;
	case FORMAT_TSV: emit_tsv(s, rec, k); break;
	case FORMAT_JSON: emit_json(s, rec, k); break;
	}
	s->nranked++;
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	state_t s = {0}; /* score_vec_init's empty vector too */
	char err[512];
	if (o.names_path && names_load(o.names_path, &s.file_names, &s.nfile_names, err, sizeof err) != 0)
		diag_fatal("--names: %s", err);

	rec_writer_t *w = NULL;
	if (o.format == FORMAT_MSGPACK) {
		w = rec_writer_stdout(0);
		rec_builder_t *b = rec_begin_header(w, argc, argv);
		rb_int(b, "k", o.k);
		rb_str(b, "names", o.names_path);
		rec_end(b);
	}
	rec_inputs_t in;
	rec_inputs_init(&in, o.inputs, o.ninputs);
	for (rec_reader_t *r; (r = rec_inputs_next(&in, o.max_record));) {
		s.stream = rec_reader_name(r);
		record_t rec;
		while (next_record(&s, r, &rec, w, o.format)) {
			if (rec_is(&rec, "scores") || rec_is(&rec, "logits")) {
				rank_record(&s, w, &o, &rec);
				continue;
			}
			/* the wrong kind of stream: an earlier stage is missing */
			char msg[256];
			if (stage_check_record(&rec, "topk", STAGE_WANT_SCORED, msg, sizeof msg))
				wrong_stream(&s, w, &rec, msg);
			if (rec_is(&rec, "classes"))
				names_replace_from_object(rec_get(&rec, "names"), &s.stream_names, &s.nstream_names);
			else if (rec_is(&rec, "header") && rec_get(&rec, "class_names"))
				names_replace_from_object(rec_get(&rec, "class_names"), &s.stream_names, &s.nstream_names);
			if (w)
				rec_pass(w, &rec);
			else if (rec_is(&rec, "error"))
				text_error(&s, &rec, o.format);
		}
		rec_reader_free(r);
	}
	if (o.format == FORMAT_TSV)
		tsv_begin(&s); /* the column line even for a stream without images */
	if (w)
		rec_writer_close(w);
	else if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));
	names_free(s.file_names, s.nfile_names);
	names_free(s.stream_names, s.nstream_names);
	score_vec_free(&s.sv);
	free(s.idx);
	free(s.top_cls);
	free(s.top_prob);
	free(s.top_name);
	return s.nfailed ? EXIT_SOME_FAILED : EXIT_OK;
}
