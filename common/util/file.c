/* file.c - named input files: what may be opened, whole reads, lines. */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_check_regular(const char *path, char *err, size_t cap)
{
	struct stat st;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s: %s, not a regular file", path,
			 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a pipe or FIFO" : "a special file");
		return -1;
	}
	return 0;
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
		snprintf(err, cap, "%s: %s, not a regular file", path, what);
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
