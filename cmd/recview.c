/* recview - look inside a record stream.
 *
 * Records in: any (files or stdin). Out: text on stdout, never records:
 *   default   one JSON line per record, tensors summarised
 *             (dtype, shape, min, max, mean, first 8 values)
 *   --full    tensors with every value
 *   --count   a table of record counts by type (and of invalid records)
 *   --npy DIR every tensor also written as DIR/<record>-<id>-<key>.npy
 *             (the outfile rule of common/util/util.h: a new or regular file;
 *             two keys of one record that make one name: exit 2)
 * It checks the stream as it goes: a truncated or garbled stream stops it
 * with exit 2 naming the record and byte offset; an invalid record (bad
 * tensor, no type) is reported and counted, and the exit status is 1.
 * It does not modify or re-emit records (use the filters for that).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"
#include "stream/stream.h"

typedef struct {
	const char **types;
	int ntypes;
	long long first_n; /* -1: all */
	int count;
	int full;
	const char *npy_dir;
	size_t max_record;
	char **inputs;
	int ninputs;
} options_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: recview [OPTIONS] [STREAM...]\n"
	       "Print each record of msgpack record streams (stdin if no STREAM, '-' too)\n"
	       "as one JSON line; tensors are summarised as dtype, shape, min, max, mean\n"
	       "and their first 8 values.\n"
	       "\n"
	       "  -t, --type TYPE       only records of TYPE (repeatable: -t image -t error)\n"
	       "      --first N         stop after N printed records\n"
	       "      --count           print counts by record type instead of records\n"
	       "                        ('(invalid)': records that could not be read)\n"
	       "      --json            JSON lines (the default: accepted as every program\n"
	       "                        takes it)\n"
	       "      --full            print every tensor value\n"
	       "      --npy DIR         also write each tensor to DIR/<record>-<id>-<key>.npy\n"
	       "                        (<record> counts across the STREAMs in order; a new\n"
	       "                        file, or a regular one replaced: a FIFO or device\n"
	       "                        there is refused; two keys of a record that make\n"
	       "                        one file name are refused, exit 2)\n"
	       "      --max-record B    refuse records larger than B bytes (default 1 GiB)\n"
	       "  -h, --help            this help\n"
	       "      --version         print the version and exit\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode photo.jpg | recview\n"
	       "  recview --count cache/decode.mp       # how many images, errors, headers\n"
	       "  recview -t error run.mp               # what failed, and why\n"
	       "  recview -t embedding --npy out/ e.mp  # tensors for numpy\n"
	       "\n"
	       "Exit status: 0 ok, 1 invalid records seen, 2 usage error or broken stream.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_FIRST = 256, O_COUNT, O_JSON };
	static const struct option longopts[] = {
		{"type", required_argument, NULL, 't'}, {"first", required_argument, NULL, O_FIRST},
		{"count", no_argument, NULL, O_COUNT}, {"json", no_argument, NULL, O_JSON},     {"full", no_argument, NULL, 'F'},
		{"npy", required_argument, NULL, 'N'},  {"max-record", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},       OPT_VERSION_ENTRY, {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->first_n = -1;
	o->max_record = REC_DEFAULT_MAX_RECORD;
	o->types = xcalloc((size_t)argc, sizeof *o->types);
	int c;
	while ((c = opt_next(argc, argv, "t:n:ch", longopts)) != -1) {
		switch (c) {
		case 't': o->types[o->ntypes++] = optarg; break;
		case 'n': opt_old_spelling("-n", "--first"); /* fall through */
		case O_FIRST: o->first_n = opt_parse_long("--first", optarg, 0, __LONG_MAX__); break;
		case 'c': opt_old_spelling("-c", "--count"); /* fall through */
		case O_COUNT: o->count = 1; break;
		case O_JSON: break; /* JSON lines are what recview writes */
		case 'F': o->full = 1; break;
		case 'N': o->npy_dir = optarg; break;
		case 'M': o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

static int type_wanted(const options_t *o, const record_t *rec)
{
	if (o->ntypes == 0)
		return 1;
	for (int i = 0; i < o->ntypes; i++)
		if (rec_is(rec, o->types[i]))
			return 1;
	return 0;
}

/* File-name-safe copy of s (at most cap-1 chars). */
static void safe_name(char *dst, size_t cap, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < cap; i++) {
		char c = s[i];
		dst[j++] = (c == '/' || c == '\\' || c == ' ' || c < 0x20) ? '_' : c;
	}
	dst[j] = 0;
}

static void export_npy(const options_t *o, const record_t *rec, uint64_t index)
{
	char id[128] = "noid";
	const char *s;
	size_t n;
	if (rec_get_str(rec, "id", &s, &n) == 0)
		safe_name(id, sizeof id, s, n);
	/* two keys whose file names come out the same ('x y' and 'x_y', long
	 * keys cut alike): refused before any file of the record is written,
	 * where the second replaced the first */
	strmap_t names;
	strmap_init(&names);
	for (uint32_t i = 0; i < rec->root.via.map.size; i++) {
		const msgpack_object_kv *kv = &rec->root.via.map.ptr[i];
		if (kv->val.type != MSGPACK_OBJECT_MAP || !obj_map_get(&kv->val, "dtype"))
			continue;
		char key[64];
		safe_name(key, sizeof key, kv->key.via.str.ptr, kv->key.via.str.size);
		if (strmap_put(&names, key, i) != 0) {
			const msgpack_object *k0 = &rec->root.via.map.ptr[strmap_get(&names, key)].key;
			char a[128], b[128];
			diag_fatal("--npy: record %llu: the keys '%s' and '%s' both make the file name %06llu-%s-%s.npy",
				   (unsigned long long)index, diag_escape(a, sizeof a, k0->via.str.ptr, k0->via.str.size),
				   diag_escape(b, sizeof b, kv->key.via.str.ptr, kv->key.via.str.size),
				   (unsigned long long)index, id, key);
		}
	}
	strmap_free(&names);
	for (uint32_t i = 0; i < rec->root.via.map.size; i++) {
		const msgpack_object_kv *kv = &rec->root.via.map.ptr[i];
		tensor_t t;
		char err[1024];
		if (kv->val.type != MSGPACK_OBJECT_MAP || !obj_map_get(&kv->val, "dtype") ||
		    obj_to_tensor(&kv->val, &t, err, sizeof err) != 0)
			continue;
		char key[64], path[4096];
		safe_name(key, sizeof key, kv->key.via.str.ptr, kv->key.via.str.size); /* the reader checked: a str */
		snprintf(path, sizeof path, "%s/%06llu-%s-%s.npy", o->npy_dir, (unsigned long long)index, id, key);
		/* a new file, or a regular one replaced: never through a FIFO or
		 * onto a device a name in DIR points at (common/util/util.h) */
		outfile_t of;
		if (outfile_open(&of, path, err, sizeof err) != 0)
			diag_fatal("--npy: %s", err);
		/* npy_write takes a name: the temporary outfile made, a fresh file */
		if (npy_write(of.tmp, t.dtype, t.ndim, t.shape, t.data) != 0) {
			int e = errno;
			outfile_abort(&of);
			diag_fatal("--npy: %s: write error: %s", path, strerror(e));
		}
		if (outfile_commit(&of, err, sizeof err) != 0)
			diag_fatal("--npy: %s", err);
	}
}

typedef struct {
	char *type; /* type_len bytes, not NUL-terminated (a type may hold a NUL) */
	size_t len;
	long long n;
} count_t;

enum {
	MAX_COUNT_TYPES = 256 /* rows of --count; further types are pooled (a stream of distinct types is garbage) */
};

/* A --count row's name: its bytes with control characters escaped (one
 * line per row, no terminal escapes; a long one cut), padded to 12 columns. */
static void put_count_row(const char *name, size_t n, long long count)
{
	char buf[1024];
	printf("%-12s %lld\n", diag_escape(buf, sizeof buf, name, n), count);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	struct stat dst;
	if (o.npy_dir && ((mkdir(o.npy_dir, 0777) != 0 && errno != EEXIST) || stat(o.npy_dir, &dst) != 0))
		diag_fatal("--npy %s: %s", o.npy_dir, strerror(errno));
	if (o.npy_dir && !S_ISDIR(dst.st_mode))
		diag_usage("--npy %s: not a directory", o.npy_dir);

	static char *stdin_only[] = {"-"};
	char **inputs = o.ninputs ? o.inputs : stdin_only;
	int ninputs = o.ninputs ? o.ninputs : 1;
	count_t *counts = NULL;
	int ncounts = 0, nfailed = 0;
	long long printed = 0, other = 0;
	/* --npy numbers records across the streams, as if concatenated, so
	 * that a second stream does not overwrite the first one's files */
	uint64_t base = 0, next_base = 0;
	for (int f = 0; f < ninputs && (o.first_n < 0 || printed < o.first_n); f++) {
		rec_reader_t *r = rec_reader_open_path(inputs[f], o.max_record);
		if (!r)
			diag_fatal("%s: %s", inputs[f], strerror(errno));
		record_t rec;
		while (o.first_n < 0 || printed < o.first_n) {
			rec_status_t st = rec_reader_next(r, &rec);
			if (st == REC_EOF)
				break;
			if (st != REC_OK && st != REC_INVALID) {
				fflush(stdout);
				diag_fatal("%s", rec_reader_message(r));
			}
			next_base = base + rec.index + 1;
			if (st == REC_INVALID) {
				diag_msg("%s", rec_reader_message(r));
				nfailed++;
				continue;
			}
			if (!type_wanted(&o, &rec))
				continue;
			printed++;
			if (o.count) {
				int i;
				for (i = 0; i < ncounts; i++)
					if (counts[i].len == rec.type_len && memcmp(counts[i].type, rec.type, rec.type_len) == 0)
						break;
				if (i == ncounts && ncounts == MAX_COUNT_TYPES) {
					other++;
					continue;
				}
				if (i == ncounts) {
					counts = xrealloc(counts, (size_t)(ncounts + 1) * sizeof *counts);
					counts[ncounts].type = xmalloc(rec.type_len + 1);
					memcpy(counts[ncounts].type, rec.type, rec.type_len);
					counts[ncounts].len = rec.type_len;
					counts[ncounts++].n = 0;
				}
				counts[i].n++;
				continue;
			}
			json_put_object(stdout, &rec.root, o.full ? JSON_TENSOR_FULL : JSON_TENSOR_SUMMARY);
			putchar('\n');
			if (o.npy_dir)
				export_npy(&o, &rec, base + rec.index);
		}
		rec_reader_free(r);
		base = next_base;
	}
	if (o.count) {
		for (int i = 0; i < ncounts; i++)
			put_count_row(counts[i].type, counts[i].len, counts[i].n);
		if (other)
			printf("%-12s %lld\n", "(other types)", other);
		/* invalid records are records too: a count without them would
		 * say the stream is smaller than it is */
		if (nfailed)
			printf("%-12s %lld\n", "(invalid)", (long long)nfailed);
		printf("%-12s %lld\n", "total", printed + nfailed);
	}
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));
	for (int i = 0; i < ncounts; i++)
		free(counts[i].type);
	free(counts);
	free(o.types);
	return nfailed ? EXIT_SOME_FAILED : EXIT_OK;
}
