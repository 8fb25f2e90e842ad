/* diag.c - diagnostics, option value parsing, clocks. */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "?";
static int progress_active;
static double progress_last;

void diag_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	prog_name = slash ? slash + 1 : (argv0 ? argv0 : "?");
}

const char *diag_prog(void)
{
	return prog_name;
}

static void vmsg(const char *fmt, va_list ap) DIAG_PRINTF(1, 0);
static void vmsg(const char *fmt, va_list ap)
{
	if (progress_active)
		diag_progress_done();
	char line[4096];
	vsnprintf(line, sizeof line, fmt, ap);
	/* one diagnostic, one line: a newline in a file name or a record's
	 * text is written as \n */
	flockfile(stderr);
	fprintf(stderr, "%s: ", prog_name);
	diag_put_text(stderr, line, strlen(line));
	putc('\n', stderr);
	funlockfile(stderr);
}

size_t diag_ctl_len(const char *s, size_t n)
{
	unsigned char c = n ? (unsigned char)s[0] : 0;
	if (n && ((c < 0x20 && c != '\t') || c == 0x7f))
		return 1;
	if (n >= 2 && c == 0xC2 && (unsigned char)s[1] < 0xA0 && (unsigned char)s[1] >= 0x80)
		return 2;
	return 0;
}

void diag_put_ctl(FILE *f, const char *s, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\r')
			fputs("\\r", f);
		else
			fprintf(f, "\\x%02X", (unsigned char)s[i]);
	}
}

void diag_put_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = diag_ctl_len(s + i, n - i);
		if (k) {
			diag_put_ctl(f, s + i, k);
			i += k;
		} else {
			putc(s[i++], f);
		}
	}
}

void diag_put_cstr(FILE *f, const char *s)
{
	diag_put_text(f, s, strlen(s));
}

char *diag_escape(char *buf, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	if (!cap)
		return buf;
	for (size_t i = 0; i < n;) {
		size_t k = diag_ctl_len(s + i, n - i);
		char e[16];
		size_t m = 0;
		if (!k) { /* a character: its lead byte and the continuation bytes after it */
			e[m++] = s[i];
			while (i + m < n && m < 4 && ((unsigned char)s[i] & 0xC0) == 0xC0 &&
			       ((unsigned char)s[i + m] & 0xC0) == 0x80) {
				e[m] = s[i + m];
				m++;
			}
		}
		for (size_t j = 0; j < k; j++) {
			if (s[i + j] == '\n')
				m += (size_t)snprintf(e + m, sizeof e - m, "\\n");
			else if (s[i + j] == '\r')
				m += (size_t)snprintf(e + m, sizeof e - m, "\\r");
			else
				m += (size_t)snprintf(e + m, sizeof e - m, "\\x%02X", (unsigned char)s[i + j]);
		}
		if (o + m + 1 > cap)
			break;
		memcpy(buf + o, e, m);
		o += m;
		i += k ? k : m;
	}
	buf[o] = 0;
	return buf;
}

const char *diag_str(const char *s)
{
	static char buf[4][1024];
	static int next;
	next = (next + 1) % 4;
	return diag_escape(buf[next], sizeof buf[next], s, strlen(s));
}

void diag_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void diag_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(EXIT_FATAL);
}

void diag_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	diag_usage_hint();
}

void diag_usage_hint(void)
{
	fprintf(stderr, "Try '%s --help'.\n", prog_name);
	exit(EXIT_FATAL);
}

void diag_help_done(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		diag_fatal("stdout: write error: %s", strerror(errno));
	exit(EXIT_OK);
}

void diag_progress(const char *fmt, ...)
{
	static int tty = -1;
	if (tty < 0)
		tty = isatty(2);
	if (!tty)
		return;
	double now = time_now();
	if (progress_active && now - progress_last < 0.25)
		return;
	progress_last = now;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r%s: %s\033[K", prog_name, line);
	progress_active = 1;
}

void diag_progress_done(void)
{
	if (progress_active) {
		fputc('\n', stderr);
		progress_active = 0;
	}
}

int opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char *argv0 = argv[0];
	argv[0] = (char *)prog_name;
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);
	argv[0] = argv0;
	return c;
}

long opt_parse_long(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		diag_usage("%s: '%s' is not an integer", opt, s);
	if (v < lo || v > hi)
		diag_usage("%s: %ld is out of range %ld..%ld", opt, v, lo, hi);
	return v;
}

device_t opt_parse_device(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return DEVICE_AUTO;
	if (strcmp(s, "cpu") == 0)
		return DEVICE_CPU;
	if (strcmp(s, "cuda") != 0)
		diag_usage("--device: '%s' is not auto, cpu or cuda", s);
	return DEVICE_CUDA;
}

int device_use_cuda(device_t dev, int gpu, int (*cuda_available)(int gpu, char *why, size_t whycap))
{
	if (dev == DEVICE_CPU)
		return 0;
	if (!cuda_available) {
		if (dev == DEVICE_CUDA)
			diag_fatal("--device cuda: this %s was built without CUDA (no nvcc at build time); "
				   "use --device cpu",
				   diag_prog());
		diag_msg("built without CUDA: using the CPU");
		return 0;
	}
	char why[256] = "";
	if (cuda_available(gpu, why, sizeof why))
		return 1;
	if (dev == DEVICE_CUDA)
		diag_fatal("--device cuda: %s", why);
	diag_msg("no usable GPU (%s): using the CPU", why);
	return 0;
}

double opt_parse_double(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		diag_usage("%s: '%s' is not a finite number", opt, s);
	return v;
}

void opt_parse_floats(const char *opt, const char *s, float *out, int n)
{
	const char *p = s;
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (errno || end == p || !isfinite(v))
			diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
		out[i] = (float)v;
		p = end;
		if (i + 1 < n) {
			if (*p != ',')
				diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
			p++;
		}
	}
	if (*p)
		diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
}

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long long mem_peak_rss(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (long long)ru.ru_maxrss * 1024;
}

int file_open_input(const char *path, int need_regular, char *err, size_t cap)
{
	/* O_NONBLOCK: opening a FIFO does not wait for a writer before fstat
	 * has said what the file is */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *what = NULL;
	if (S_ISDIR(st.st_mode))
		what = "a directory";
	else if (S_ISCHR(st.st_mode))
		what = isatty(fd) ? "a terminal" : "a character device";
	else if (S_ISBLK(st.st_mode))
		what = "a block device";
	else if (S_ISFIFO(st.st_mode) && need_regular)
		what = "a pipe or FIFO";
	else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		what = S_ISSOCK(st.st_mode) ? "a socket" : "a special file";
	if (what) {
		snprintf(err, cap, "%s: %s, not a regular file%s", path, what,
			 S_ISFIFO(st.st_mode) ? " (this input is mapped or read twice)" : "");
		close(fd);
		return -1;
	}
	if (S_ISFIFO(st.st_mode)) {
		/* a FIFO read as a stream waits for its writer, as cat does */
		close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			return -1;
		}
	} else {
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	}
	return fd;
}

char *file_read_all(const char *path, size_t *len, char *err, size_t errcap)
{
	int fd = file_open_input(path, 0, err, errcap);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (buf && n == cap) {
			char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
		}
		if (!buf) {
			snprintf(err, errcap, "%s: out of memory", path);
			close(fd);
			return NULL;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errcap, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

int file_for_each_line(const char *path, line_fn fn, void *ctx, char *err, size_t cap)
{
	size_t len;
	char *buf = file_read_all(path, &len, err, cap);
	if (!buf)
		return -1;
	int rc = text_for_each_line(path, buf, len, fn, ctx, err, cap);
	free(buf);
	return rc;
}

int text_for_each_line(const char *path, char *buf, size_t len, line_fn fn, void *ctx, char *err, size_t cap)
{
	long lineno = 0;
	char *p = buf, *end = buf + len;
	int rc = 0;
	while (p < end && rc == 0) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		++lineno;
		/* a NUL would cut the line short unseen */
		if (memchr(p, 0, (size_t)(e - p))) {
			snprintf(err, cap, "%s: line %ld holds a NUL byte: not a text file", path, lineno);
			rc = -1;
			break;
		}
		if (e > p && e[-1] == '\r')
			e[-1] = 0;
		*e = 0;
		rc = fn(ctx, lineno, p, err, cap);
		p = nl ? nl + 1 : end;
	}
	if (rc == 0 && lineno == 0) {
		snprintf(err, cap, "%s: the file is empty", path);
		rc = -1;
	}
	return rc;
}
