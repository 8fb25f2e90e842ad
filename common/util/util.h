/* util.h - what every other group builds on, and nothing of ours below it:
 * diagnostics and the exit status, option parsing, device choice, clocks,
 * input files, tensors and dtypes, UTF-8, SHA-256, brace patterns, batch
 * timing, and writing a named output file. Each section below keeps the
 * comment of the header it was.
 */
#ifndef COMMON_UTIL_UTIL_H
#define COMMON_UTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* ---- diag.c ----
 * diagnostics on stderr and the exit-status convention.
 *
 * Every line is "prog: context: detail". Exit 0 all good, 1 some inputs failed
 * or a comparison is out of tolerance, 2 usage error or fatal failure.
 */

enum {
	EXIT_OK = 0,
	EXIT_SOME_FAILED = 1,
	EXIT_FATAL = 2
};

/* The suite's version: every header record and JSON report carries it. */
#define PROJECT_VERSION "0.1.0"

#if defined(__GNUC__)
#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DIAG_NORETURN __attribute__((noreturn))
#else
#define DIAG_PRINTF(a, b)
#define DIAG_NORETURN
#endif

/* Program name used as the prefix of every diagnostic (basename of argv0). */
void diag_init(const char *argv0);
/* Whether standard descriptor fd (0-2) was closed when the program started
 * (diag_init holds /dev/null there since). */
int diag_std_closed(int fd);
const char *diag_prog(void);

/* "prog: msg" on stderr. */
void diag_msg(const char *fmt, ...) DIAG_PRINTF(1, 2);
/* A library's error text: formats into err (cap bytes; nothing when err is
 * NULL or cap 0) and returns -1, so a failing step is `return err_set(...)`. */
int err_set(char *err, size_t cap, const char *fmt, ...) DIAG_PRINTF(3, 4);
/* "prog: msg" on stderr, then exit(2). */
void diag_fatal(const char *fmt, ...) DIAG_PRINTF(1, 2) DIAG_NORETURN;
/* "prog: msg\nTry 'prog --help'." on stderr, then exit(2). */
void diag_usage(const char *fmt, ...) DIAG_PRINTF(1, 2) DIAG_NORETURN;
/* After getopt's own message (an unknown option, a missing argument): only
 * "Try 'prog --help'.", then exit(2). */
void diag_usage_hint(void) DIAG_NORETURN;
/* The end of --help: exit(0) once stdout is flushed, exit(2) with a message
 * when it cannot be (a full disk, a closed pipe). */
void diag_help_done(void) DIAG_NORETURN;

/* Progress line on stderr, only when stderr is a terminal ("\r" overwrite);
 * diag_progress_done() ends the line. Cheap to call often: rate-limited. */
void diag_progress(const char *fmt, ...) DIAG_PRINTF(1, 2);
void diag_progress_done(void);

/* Text that must stay on one line and reach a terminal as UTF-8 text (a
 * diagnostic, a report line, a provenance line): diag_ctl_len says how many
 * bytes at s[0..n), s being at a character's start, are a control character
 * that would break it or drive the terminal, or a byte that is not UTF-8
 * (1: C0 but the tab, DEL, a byte that starts no UTF-8 character; 2: a C1
 * control, U+0080..U+009F, in UTF-8, U+009B being CSI; 0: none: then
 * diag_char_len is the length of the character there, to step over it),
 * diag_put_ctl writes those k bytes as C does (\n, \r, else \xNN each),
 * and diag_put_text writes s[0..n) with every such character escaped. */
size_t diag_ctl_len(const char *s, size_t n);
size_t diag_char_len(const char *s, size_t n);
void diag_put_ctl(FILE *f, const char *s, size_t k);
void diag_put_text(FILE *f, const char *s, size_t n);
/* diag_put_text of a C string: how a report prints text that came from a
 * record or a file (an id, a class name, an error message). */
void diag_put_cstr(FILE *f, const char *s);
/* The same into buf (cap bytes, NUL-terminated, cut at a whole character
 * or escape), for text laid out with printf's widths: returns buf. */
char *diag_escape(char *buf, size_t cap, const char *s, size_t n);
/* diag_escape of a C string into one of 4 static buffers of 1 KiB taken in
 * turn: for printf's %s, at most 4 per call; not thread-safe. */
const char *diag_str(const char *s);

/* ---- opt.c ----
 * Options: getopt under our name, option values, --device. */

/* getopt_long with the messages it prints ("unrecognized option ...")
 * under our name, as diag's lines are, not the full path in argv[0].
 * --version is answered here: every program's option table has
 * OPT_VERSION_ENTRY, and opt_next prints "PROG VERSION" on stdout and
 * exits 0 when it comes. */
struct option;
int opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts);
#define OPT_VERSION_VAL 0x7600
#define OPT_VERSION_ENTRY {"version", no_argument, NULL, OPT_VERSION_VAL}

/* An old spelling of an option was used (doc/cli.md, "Old spellings"): one
 * note on stderr, "PROG: note: OLD is an old spelling: use NEW (...)", once
 * per spelling however often it comes. */
void opt_old_spelling(const char *old, const char *new_spelling);

/* Option value parsing: exits with a usage error naming the option on bad input. */
long opt_parse_long(const char *opt, const char *s, long lo, long hi);
double opt_parse_double(const char *opt, const char *s);
/* "a,b,c" -> n floats; exits with usage error unless exactly n are given. */
void opt_parse_floats(const char *opt, const char *s, float *out, int n);
/* A class index as a labels file or a shard's .cls member holds it: a
 * decimal integer 0..INT32_MAX (as strtoll reads one) with nothing after
 * it. 0 with *v, or -1. */
int parse_index(const char *s, int64_t *v);

/* --device of the encoders (rnencode, txtencode) */
typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } device_t;
/* "auto" | "cpu" | "cuda"; anything else is a usage error. */
device_t opt_parse_device(const char *s);
/* 1 to run on the GPU, 0 on the CPU. cuda_available is the CUDA backend's
 * check of GPU `gpu` (0 with a one-line reason), NULL in a build without
 * CUDA. --device cuda without a usable GPU is fatal with that reason; auto
 * falls back to the CPU with a note on stderr. */
int device_use_cuda(device_t dev, int gpu, int (*cuda_available)(int gpu, char *why, size_t whycap));

/* --precision of the encoders (rnencode, txtencode): the number format the
 * network computes in (doc/cli.md). Which backend has which is the
 * backend's to say: its create() refuses one it lacks, naming those it has. */
typedef enum { PREC_FP32, PREC_TF32, PREC_BF16, PREC_FP16, PREC_INT8 } precision_t;
/* "fp32" | "tf32" | "bf16" | "fp16" | "int8"; anything else is a usage error. */
precision_t opt_parse_precision(const char *s);
/* The name as --precision spells it and records carry it ("bf16"). */
const char *precision_name(precision_t p);
/* --precision P or a synonym (--fp16) into *p: a second one that disagrees
 * with the first is a usage error, not a silent override. */
void opt_set_precision(precision_t *p, int *given, precision_t v);
/* The backend for --device, by that rule: cuda or cpu, pointers to backend
 * structs whose member `available` is the check (model/net.h,
 * model/text_encoder.h). In a build without CUDA (no HAVE_CUDA) cuda is not
 * compiled at all, so it may name a backend that is not linked in. */
#ifdef HAVE_CUDA
#define DEVICE_BACKEND(dev, gpu, cpu, cuda) (device_use_cuda((dev), (gpu), (cuda)->available) ? (cuda) : (cpu))
#else
#define DEVICE_BACKEND(dev, gpu, cpu, cuda) (device_use_cuda((dev), (gpu), NULL), (cpu))
#endif

/* ---- file.c ----
 * Named input files. The rule: an input read once from start to end (record
 * streams, text lists, .npy, image files and shards) may be a pipe, a FIFO
 * or `<(...)`, whose open waits for the writer as cat's does; one that is
 * memory-mapped or read twice (checkpoints, a file hashed for a header after
 * it was read) must be a regular file, and a FIFO there is refused at once,
 * never waited on. A directory, device or socket is refused everywhere
 * (reading /dev/zero would never end, a terminal waits for typing).
 * file_open_input opens path so: an fd (O_CLOEXEC), or -1 with "PATH: why"
 * in err. */
int file_open_input(const char *path, int need_regular, char *err, size_t cap);
/* Whether path is a regular file we may read, without opening it (a later
 * open is the one that reads it): 0, or -1 with "PATH: why" in err. */
int file_check_regular(const char *path, char *err, size_t cap);

/* Read a whole input (the rule above, need_regular 0) into a malloc'd,
 * NUL-terminated buffer; NULL with "PATH: why" in err. */
char *file_read_all(const char *path, size_t *len, char *err, size_t cap);

/* Call fn on each line of a file (the LF and a CR before it dropped; a last
 * empty line after the final LF is not a line) with its 1-based number, until
 * fn returns nonzero. 0, or -1 with a message in err: the file cannot be read,
 * it is empty, or fn's own message. text_for_each_line does the same over
 * text[0..len) already read (NUL-terminated; modified), path naming it. */
typedef int (*line_fn)(void *ctx, long lineno, char *line, char *err, size_t cap);
int file_for_each_line(const char *path, line_fn fn, void *ctx, char *err, size_t cap);
int text_for_each_line(const char *path, char *text, size_t len, line_fn fn, void *ctx, char *err, size_t cap);

/* ---- alloc.c ----
 * Allocation that does not return NULL: running out of memory is fatal
 * ("prog: out of memory", exit 2) in every program here, so callers need no
 * check. A size of 0 allocates 1 byte. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A malloc'd copy of p[0..n). */
void *xmemdup(const void *p, size_t n);
/* printf into a malloc'd string. */
char *xasprintf(const char *fmt, ...) DIAG_PRINTF(1, 2);

/* ---- map.c ----
 * The one hash map: byte strings (C strings, or any bytes with a length) to
 * int64 values, e.g. ids to positions. Keys are copied (into one growing
 * buffer); open addressing, FNV-1a mixed by fmix64 (slot.hash, its low bits
 * the home slot). Memory runs out fatally (xmalloc). */
typedef struct {
	uint64_t hash;
	size_t off, len; /* key at keys + off, len bytes + 1 (0: a free slot) */
	int64_t val;
} strmap_slot_t;

typedef struct {
	strmap_slot_t *slot;
	size_t cap;        /* slots, a power of two; 0 before the first put */
	size_t n;          /* keys held */
	char *keys;        /* every key, NUL-terminated, back to back */
	size_t keys_len, keys_cap;
} strmap_t;

void strmap_init(strmap_t *m);
void strmap_free(strmap_t *m);
/* Insert key -> val: 0, or 1 (the old value kept) when key is there. */
int strmap_put(strmap_t *m, const char *key, int64_t val);
int strmap_putn(strmap_t *m, const void *key, size_t len, int64_t val);
/* The value of a C-string key, or -1 when it is absent. */
int64_t strmap_get(const strmap_t *m, const char *key);
/* The value of key[0..len) in place (valid until the next put), or NULL. */
int64_t *strmap_findn(const strmap_t *m, const void *key, size_t len);

/* ---- path.c ----
 * Where the programs find their files: one rule for each folder.
 * The weights folder (checkpoints, zscore's class table) is $RNENC_WEIGHTS,
 * else ${XDG_CACHE_HOME:-$HOME/.cache}/rnencode/weights (where `make weights`
 * and pipelines/fetch-weights put them); weights_path gives its file name
 * (malloc'd). */
char *weights_path(const char *name);
/* The data folder (class names, wnids, prompt templates, CLIP's BPE
 * vocabulary): $RNENC_DATA; else, from the program's folder BINDIR (read
 * from /proc/self/exe), BINDIR/../share/rnencode (where `make install` puts
 * it, whatever PREFIX), data/ of a checkout (BINDIR/../data, or
 * BINDIR/../../data for build-asan/bin); else RNENC_DATADIR (the Makefile's
 * $(DATADIR) at build time: a program copied away from its PREFIX). data_path gives its
 * file rel (malloc'd; not checked: opening it says what is wrong), or NULL
 * with a message in err when there is no such folder. */
char *data_path(const char *rel, char *err, size_t cap);
/* dir/name, malloc'd ("name" when dir is empty; no second '/' when dir ends in one). */
char *path_join(const char *dir, const char *name);
/* The last component of path: what follows its last '/'. */
const char *path_base(const char *path);

/* ---- walk.c ----
 * The files of a directory tree, as imgdecode lists a folder: walked
 * recursively, names starting with '.' skipped, links followed, each
 * directory entered once (by device and inode: a second way to one, a link
 * back up the tree, is skipped with a note on stderr), at most
 * WALK_MAX_DEPTH levels deep (deeper ones skipped with a note). want()
 * picks the files: it sees each regular file (st set), and each name whose
 * stat failed (st NULL: a link to nothing), which, wanted, is listed with
 * an error ("cannot open: ..."; one not wanted gets a note). A folder that
 * cannot be read is listed with an error (rel: its own, "." for root). The
 * list is sorted by rel (strcmp). */
enum { WALK_MAX_DEPTH = 64 };

typedef struct {
	char *rel;   /* the path below root */
	char *path;  /* root/rel */
	char *error; /* NULL, or why it cannot be read */
} walk_entry_t;

typedef struct {
	walk_entry_t *v; /* all malloc'd */
	size_t n, cap;
} walk_list_t;

typedef int (*walk_want_fn)(void *ctx, const char *path, const char *name, const struct stat *st);

/* root_st: root's stat (a directory). */
void walk_tree(const char *root, const struct stat *root_st, walk_want_fn want, void *ctx, walk_list_t *l);
/* Free the entries from `from` on (those before were taken over) and the list. */
void walk_list_free(walk_list_t *l, size_t from);

/* ---- pool.c ----
 * An ordered parallel map over a sequential source: `threads` workers each
 * take the next item from next() (called under one lock: the source is read
 * in order, by one thread at a time), run work() on it in parallel, and
 * done() gets the items back on the calling thread in next()'s order. Items
 * live in threads x per_thread slots (which bounds the memory held, and
 * keeps the workers busy while done() waits for a slow item); a slot is
 * reused as it is (next() fills what it needs, buffers of the last item
 * stay), and release() frees each slot at the end. done() returning nonzero
 * stops the run: no further item is taken, those being worked on are
 * finished and not handed to done(). threads <= 1: all on the calling
 * thread, one slot. thread_init() makes a worker's own state (a decoder),
 * passed to work() and then to thread_done(). */
typedef struct {
	void *ctx;
	size_t item_size;
	int threads, per_thread;
	void *(*thread_init)(void *ctx);
	void (*thread_done)(void *ctx, void *local);
	int (*next)(void *ctx, void *item);            /* 1: an item; 0: the end */
	void (*work)(void *ctx, void *local, void *item);
	int (*done)(void *ctx, void *item);            /* nonzero: stop */
	void (*release)(void *ctx, void *item);
} pool_spec_t;

void pool_run(const pool_spec_t *spec);

/* ---- tensor.c ----
 * the tensor value every record carries, and dtype helpers.
 *
 * A tensor here is a view: dtype, shape and a pointer to C-order little-endian
 * data that someone else owns (a record's buffer, a mapped checkpoint, a
 * caller's array). Nothing in this header allocates.
 */

enum {
	TENSOR_MAX_DIMS = 8
};

typedef enum {
	DTYPE_UINT8,
	DTYPE_FLOAT16,
	DTYPE_FLOAT32,
	DTYPE_INT32,
	DTYPE_INT64,
	DTYPE_BFLOAT16, /* checkpoints only; never written into records */
	DTYPE_FLOAT64,  /* checkpoints only */
	DTYPE_INT8,     /* checkpoints only */
	DTYPE_INT16,    /* checkpoints only */
	DTYPE_BOOL,     /* checkpoints only */
	DTYPE_COUNT
} dtype_t;

typedef struct {
	dtype_t dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	const void *data;
	size_t nbytes;
} tensor_t;

/* numpy name ("float32") of a dtype. */
const char *dtype_name(dtype_t d);
/* Parse a numpy name; returns 0 and sets *out, or -1 if unknown. Only the
 * record dtypes (uint8 float16 float32 int32 int64) are accepted when
 * records_only is nonzero. */
int dtype_parse(const char *s, size_t len, int records_only, dtype_t *out);
size_t dtype_size(dtype_t d);

/* Number of elements of shape[0..ndim), or -1 if a dimension is negative or
 * the product overflows int64 (or exceeds SIZE_MAX bytes at itemsize). */
int64_t tensor_shape_numel(const int64_t *shape, int ndim, size_t itemsize);
int64_t tensor_numel(const tensor_t *t);

/* Format "[224,224,3]" into buf; returns buf. */
char *tensor_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

/* IEEE half <-> float, and bfloat16 <-> float: round to nearest even, as
 * oneDNN and torch convert; a NaN stays a (quiet) NaN. */
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);

/* Convert n elements of any numeric dtype to float32. */
void tensor_convert_to_f32(dtype_t d, const void *src, float *dst, size_t n);
/* float32 -> float16, n elements. */
void tensor_f32_to_f16(const float *src, uint16_t *dst, size_t n);

/* ---- utf8.c ----
 * strict UTF-8: one code point at a time, both ways.
 *
 * Strict as Python's decoder: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing past U+10FFFF; so a text this accepts is one a
 * Python str (and a msgpack str read with raw=False) can hold. */

/* The code point at s[0..len) into *cp: its length in bytes (1..4), or 0
 * when s does not start with a valid sequence (or len is 0). */
size_t utf8_next(const char *s, size_t len, uint32_t *cp);

/* The UTF-8 of cp (at most U+10FFFF, not a surrogate) at buf, which has at
 * least 4 bytes free: the bytes written. */
size_t utf8_put(char *buf, uint32_t cp);

/* The length of the longest valid UTF-8 prefix of s[0..n): n when all of
 * it is valid, else the offset of the first byte that is not. */
size_t utf8_valid_len(const char *s, size_t n);

/* s[0..n) with each byte outside valid UTF-8 written as the text \xNN (a
 * msgpack str must be UTF-8, a Linux file name is bytes): malloc'd and
 * NUL-terminated, its length in *outn; NULL when s is valid UTF-8 already. */
char *utf8_escape(const char *s, size_t n, size_t *outn);

/* ---- sha256.c ----
 * SHA-256 (FIPS 180-4), streaming. */

typedef struct {
	uint32_t h[8];
	uint64_t nbytes;   /* total bytes fed so far */
	uint8_t buf[64];   /* partial block */
	size_t nbuf;
} sha256_t;

void sha256_init(sha256_t *s);
void sha256_update(sha256_t *s, const void *data, size_t n);
/* Final digest as 32 bytes; s must be re-initialised before reuse. */
void sha256_final(sha256_t *s, uint8_t out[32]);
/* One-shot: 64 lowercase hex digits + NUL into hex. */
void sha256_hex(const void *data, size_t n, char hex[65]);
/* 32 digest bytes -> 64 lowercase hex digits + NUL. */
void sha256_to_hex(const uint8_t digest[32], char hex[65]);

/* ---- brace.c ----
 * shell-style brace expansion of a name pattern, as WebDataset
 * users name shard sets ("shards/part-{000..099}.tar", quoted so that the
 * shell leaves it alone), following bash and Python's braceexpand:
 *   {A..B}     decimal integers from A to B (either may be negative; B < A
 *              counts down); when A or B is written with a leading zero
 *              ("007", "-05"), every number is zero-padded to the longer of
 *              the two, sign included: {8..010} -> 008 009 010
 *   {a..e}     single letters, by their ASCII codes (as bash: {Z..a} holds
 *              the six characters between the cases too)
 *   {A..B..S}  either range in steps of |S| (S 0 is 1): {0..10..5} -> 0 5 10
 *   {x,y,...}  each item in turn (items may be empty, and may hold braces)
 * Groups multiply left to right: "a{1,2}b{x,y}" -> a1bx a1by a2bx a2by.
 * Every '{' must open a group of one of these two kinds and every '}' close
 * one: anything else ("{a}", "{1..}", "x}") is malformed, not kept literally
 * as bash would, so that a typo is reported instead of read as a file name.
 * No backslash escapes.
 */

enum { BRACE_PATTERN_MAX = 4096 }; /* longer patterns are refused */

typedef struct {
	char **v; /* malloc'd names */
	size_t n;
} brace_list_t;

/* Expand pattern into *out (names in order). Returns 0, or -1 with err set
 * (malformed pattern, more than max_names names, longer than
 * BRACE_PATTERN_MAX, out of memory) and *out empty. */
int brace_expand(const char *pattern, size_t max_names, brace_list_t *out, char *err, size_t errlen);
void brace_list_free(brace_list_t *l);

/* ---- timing.c ----
 * clocks and peak memory, and the batch timing figures of the encoders'
 * stats records.
 *
 * Both rnencode backends (model/cpu_dnnl.c, gpu/gpu_encoder.cu) feed every
 * timed batch here, so their "batch_mean_s", "batch_std_s", "batch_min_s",
 * "image_mean_s" and "image_std_s" mean the same thing. The caller decides
 * which batches are warm-up and leaves them out. Batch figures count full
 * batches only (a last partial batch would drag the mean down); per-image
 * figures (batch time / n) count every timed batch. Running means and sums
 * of squared deviations (Welford): no cancellation however long the run.
 */

/* Monotonic seconds. */
double time_now(void);
/* seconds as "M:SS", or "H:MM:SS" from an hour (progress lines' time left);
 * "?" when not finite or negative. */
void time_format(double seconds, char *buf, size_t cap);
/* Peak resident set size of this process in bytes (getrusage). */
long long mem_peak_rss(void);

typedef struct {
	long batches;        /* timed batches */
	long full;           /* of which full: the batch figures */
	double b_mean, b_m2; /* full batches: mean seconds, sum of squared deviations */
	double b_min;        /* the fastest full batch, 0 before the first */
	double i_mean, i_m2; /* per image, every timed batch */
} timing_t;

/* One timed batch of n images that took `seconds`; full: n is the batch size. */
void timing_add(timing_t *t, double seconds, int n, int full);

typedef struct {
	long full_batches;
	double batch_mean_s, batch_std_s, batch_min_s; /* sample std (n - 1); 0 below two batches */
	double image_mean_s, image_std_s;
} timing_summary_t;

timing_summary_t timing_summary(const timing_t *t);

/* ---- outfile.c ----
 * writing a file the user named, without destroying anything
 * that is not that file.
 *
 * Every program that writes a named file (errstats --grid, recview --npy,
 * rec_writer_open_path) goes through here, with one rule for what the name
 * may be:
 *   - a new name in an existing folder: created;
 *   - an existing regular file: replaced as a whole, its permission bits
 *     kept (written under a temporary name beside it, renamed over it at
 *     the end: a failed write leaves the old content);
 *   - a symlink: followed to the end; its target must be one of the above,
 *     and the target is replaced, the link kept (as `cmd > link` would);
 *   - anything else is refused: a folder, a FIFO (writing would block, and
 *     its reader would get a file's bytes), a device (/dev/full, /dev/sda:
 *     renaming over it would replace the device node), a socket, a symlink
 *     to nothing (creating its target is how /tmp link attacks work).
 * The temporary is TARGET.tmp.XXXXXX, made by mkstemp: never an existing
 * name, never through a link. Nothing here writes to stdout.
 */

typedef struct {
	char *path;   /* the name given, for messages */
	char *target; /* the file replaced: path, or the end of its symlinks */
	char *tmp;    /* the temporary being written (a fresh regular file) */
	int fd;       /* open on tmp for writing */
	FILE *f;      /* outfile_stream's, else NULL */
} outfile_t;

/* Could path be written by the rule above? Checks the name and makes (and
 * removes) a temporary beside the target, so that a folder that is missing
 * or not writable shows before any work is done. 0, or -1 with "PATH:
 * why" in err and errno set (EISDIR, EINVAL for another kind of file, else
 * the system's: ENOENT, EACCES...). When the target exists, *st (if not NULL) gets its stat
 * (callers refuse to overwrite their own input); else st->st_ino is 0. */
int outfile_check(const char *path, struct stat *st, char *err, size_t cap);
/* Whether descriptor fd (path NULL) or path is the file st describes (same
 * device and inode): the check that an output would replace an input. */
int file_is(const char *path, int fd, const struct stat *st);

/* Start writing path: 0 with o->fd open on the temporary, or -1 with "PATH:
 * why" in err (nothing created). */
int outfile_open(outfile_t *o, const char *path, char *err, size_t cap);
/* o->fd as a stdio stream ("wb"), made on the first call; NULL only when
 * memory runs out. */
FILE *outfile_stream(outfile_t *o);
/* Finish: flush, fsync, close and rename the temporary over the target. 0,
 * or -1 with "PATH: why" in err, the temporary removed and the target as it
 * was. o is released either way. */
int outfile_commit(outfile_t *o, char *err, size_t cap);
/* Give up: close and remove the temporary; the target is untouched. */
void outfile_abort(outfile_t *o);

#endif
