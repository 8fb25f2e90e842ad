/* diag.h - diagnostics on stderr and the exit-status convention.
 *
 * Every line is "prog: context: detail". Exit 0 all good, 1 some inputs failed
 * or a comparison is out of tolerance, 2 usage error or fatal failure.
 */
#ifndef COMMON_DIAG_H
#define COMMON_DIAG_H

#include <stdio.h>

enum {
	EXIT_OK = 0,
	EXIT_SOME_FAILED = 1,
	EXIT_FATAL = 2
};

#if defined(__GNUC__)
#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DIAG_NORETURN __attribute__((noreturn))
#else
#define DIAG_PRINTF(a, b)
#define DIAG_NORETURN
#endif

/* Program name used as the prefix of every diagnostic (basename of argv0). */
void diag_init(const char *argv0);
const char *diag_prog(void);

/* "prog: msg" on stderr. */
void diag_msg(const char *fmt, ...) DIAG_PRINTF(1, 2);
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

/* Text that must stay on one line and reach a terminal as text (a
 * diagnostic, a report line, a provenance line): diag_ctl_len says how many
 * bytes at s[0..n) are a control character that would break it or drive
 * the terminal (1: C0 but the tab, DEL; 2: a C1 control, U+0080..U+009F,
 * in UTF-8, U+009B being CSI; 0: none), diag_put_ctl writes those k bytes
 * as C does (\n, \r, else \xNN each), and diag_put_text writes s[0..n)
 * with every such character escaped. */
size_t diag_ctl_len(const char *s, size_t n);
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

/* getopt_long with the messages it prints ("unrecognized option ...")
 * under our name, as diag's lines are, not the full path in argv[0]. */
struct option;
int opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Option value parsing: exits with a usage error naming the option on bad input. */
long opt_parse_long(const char *opt, const char *s, long lo, long hi);

/* --device of the encoders (rnencode, txtencode) */
typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } device_t;
/* "auto" | "cpu" | "cuda"; anything else is a usage error. */
device_t opt_parse_device(const char *s);
/* 1 to run on the GPU, 0 on the CPU. cuda_available is the CUDA backend's
 * check of GPU `gpu` (0 with a one-line reason), NULL in a build without
 * CUDA. --device cuda without a usable GPU is fatal with that reason; auto
 * falls back to the CPU with a note on stderr. */
int device_use_cuda(device_t dev, int gpu, int (*cuda_available)(int gpu, char *why, size_t whycap));
double opt_parse_double(const char *opt, const char *s);
/* "a,b,c" -> n floats; exits with usage error unless exactly n are given. */
void opt_parse_floats(const char *opt, const char *s, float *out, int n);

/* Monotonic seconds. */
double time_now(void);
/* Peak resident set size of this process in bytes (getrusage). */
long long mem_peak_rss(void);

/* Named input files. The rule: an input read once from start to end (record
 * streams, text lists, .npy, image files and shards) may be a pipe, a FIFO
 * or `<(...)`, whose open waits for the writer as cat's does; one that is
 * memory-mapped or read twice (checkpoints, a file hashed for a header after
 * it was read) must be a regular file, and a FIFO there is refused at once,
 * never waited on. A directory, device or socket is refused everywhere
 * (reading /dev/zero would never end, a terminal waits for typing).
 * file_open_input opens path so: an fd (O_CLOEXEC), or -1 with "PATH: why"
 * in err. */
int file_open_input(const char *path, int need_regular, char *err, size_t cap);

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

#endif
