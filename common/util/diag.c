/* diag.c - diagnostics on stderr and text made safe for one line. */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog_name = "?";
static int progress_active;
static double progress_last;
static char progress_line[512]; /* the latest progress text */
static int progress_pending;    /* progress_line not on the terminal yet */

static void progress_show(void)
{
	fprintf(stderr, "\r%s: %s\033[K", prog_name, progress_line);
	progress_active = 1;
	progress_pending = 0;
}

static int std_closed[3];

void diag_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	prog_name = slash ? slash + 1 : (argv0 ? argv0 : "?");
	/* A standard descriptor closed at start (prog >&-) would be taken by the
	 * next file opened, and what is meant for stdout would go into that
	 * file, or stdin be read from it: hold /dev/null there and remember. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		std_closed[fd] = 1;
		int n = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

int diag_std_closed(int fd)
{
	return fd >= 0 && fd < 3 && std_closed[fd];
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
	uint32_t cp;
	if (n && ((c < 0x20 && c != '\t') || c == 0x7f))
		return 1;
	if (n >= 2 && c == 0xC2 && (unsigned char)s[1] < 0xA0 && (unsigned char)s[1] >= 0x80)
		return 2;
	/* a byte that starts no UTF-8 character: a lone 0x9B is CSI to an
	 * 8-bit terminal, and the line would not be text */
	if (n && c >= 0x80 && !utf8_next(s, n, &cp))
		return 1;
	return 0;
}

size_t diag_char_len(const char *s, size_t n)
{
	uint32_t cp;
	size_t k = utf8_next(s, n, &cp);
	return k ? k : (n ? 1 : 0);
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
			k = diag_char_len(s + i, n - i);
			fwrite(s + i, 1, k, f);
			i += k;
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
		if (!k) { /* a whole character */
			m = diag_char_len(s + i, n - i);
			memcpy(e, s + i, m);
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

int err_set(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || cap == 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
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
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(progress_line, sizeof progress_line, fmt, ap);
	va_end(ap);
	/* rate-limited: a line skipped here is still the one diag_progress_done
	 * shows, so the last state (N/N) is never lost */
	double now = time_now();
	progress_pending = 1;
	if (progress_active && now - progress_last < 0.25)
		return;
	progress_last = now;
	progress_show();
}

void diag_progress_done(void)
{
	if (progress_pending)
		progress_show();
	if (progress_active) {
		fputc('\n', stderr);
		progress_active = 0;
	}
}
