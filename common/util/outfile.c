/* outfile.c - writing a named file by util/util.h's rule. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* mkstemp, realpath */
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *kind_of(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* The file path names (the end of its symlinks) into *target (malloc'd),
 * its stat into *st (st_ino 0: it does not exist yet). 0, or -1 with err. */
static int resolve(const char *path, char **target, struct stat *st, char *err, size_t cap)
{
	struct stat lst;
	memset(st, 0, sizeof *st);
	*target = NULL;
	if (!*path) {
		snprintf(err, cap, "'': an empty file name");
		return -1;
	}
	if (lstat(path, &lst) != 0) {
		if (errno != ENOENT) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			return -1;
		}
		*target = strdup(path); /* a new file (its folder is checked by mkstemp) */
	} else if (S_ISLNK(lst.st_mode)) {
		char *real = realpath(path, NULL);
		if (!real) {
			int e = errno;
			if (e == ENOENT) {
				snprintf(err, cap, "%s: a symlink to a missing file: not created through the link", path);
				e = EINVAL; /* not a folder to create: the link is the problem */
			} else {
				snprintf(err, cap, "%s: %s", path, strerror(e));
			}
			errno = e;
			return -1;
		}
		if (stat(real, st) != 0) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			free(real);
			return -1;
		}
		*target = real;
	} else {
		*st = lst;
		*target = xstrdup(path);
	}
	if (st->st_ino && S_ISDIR(st->st_mode)) {
		snprintf(err, cap, "%s: is a directory", path);
	} else if (st->st_ino && !S_ISREG(st->st_mode)) {
		snprintf(err, cap, "%s: %s: only a regular file or a new name is written", path, kind_of(st->st_mode));
	} else {
		return 0;
	}
	free(*target);
	*target = NULL;
	errno = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
	return -1;
}

int outfile_open(outfile_t *o, const char *path, char *err, size_t cap)
{
	memset(o, 0, sizeof *o);
	o->fd = -1;
	struct stat st;
	if (resolve(path, &o->target, &st, err, cap) != 0)
		return -1;
	size_t n = strlen(o->target) + 16;
	o->tmp = xmalloc(n);
	o->path = xstrdup(path);
	snprintf(o->tmp, n, "%s.tmp.XXXXXX", o->target);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		int e = errno;
		snprintf(err, cap, "%s: %s", path, strerror(e)); /* the name given, not the temporary */
		free(o->tmp);
		o->tmp = NULL;
		outfile_abort(o);
		errno = e;
		return -1;
	}
	/* mkstemp makes 0600: a replaced file keeps its bits, a new one gets
	 * what open(O_CREAT, 0666) would give under the umask */
	mode_t mode;
	if (st.st_ino) {
		mode = st.st_mode & 0777;
	} else {
		mode_t um = umask(0);
		umask(um);
		mode = 0666 & ~um;
	}
	if (fchmod(o->fd, mode) != 0) {
		int e = errno;
		snprintf(err, cap, "%s: %s", path, strerror(e));
		outfile_abort(o);
		errno = e;
		return -1;
	}
	return 0;
}

int file_is(const char *path, int fd, const struct stat *st)
{
	struct stat o;
	int ok = path ? stat(path, &o) == 0 : fstat(fd, &o) == 0;
	return ok && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

int outfile_check(const char *path, struct stat *st, char *err, size_t cap)
{
	outfile_t o;
	struct stat tst;
	char *target;
	if (resolve(path, &target, &tst, err, cap) != 0)
		return -1;
	free(target);
	if (outfile_open(&o, path, err, cap) != 0)
		return -1;
	outfile_abort(&o);
	if (st)
		*st = tst;
	return 0;
}

FILE *outfile_stream(outfile_t *o)
{
	if (!o->f)
		o->f = fdopen(o->fd, "wb");
	return o->f;
}

static void release(outfile_t *o)
{
	free(o->path);
	free(o->target);
	free(o->tmp);
	memset(o, 0, sizeof *o);
	o->fd = -1;
}

void outfile_abort(outfile_t *o)
{
	if (o->f)
		fclose(o->f);
	else if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	release(o);
}

int outfile_commit(outfile_t *o, char *err, size_t cap)
{
	int e = 0;
	if (o->f) { /* a write that failed earlier left its errno (ENOSPC, EFBIG) */
		int bad = ferror(o->f);
		if (fflush(o->f) != 0 || bad)
			e = errno ? errno : EIO;
	}
	/* the data on disk before the name points at it: a crash leaves the
	 * old file or the new one, not an empty one (EINVAL: a file system
	 * without fsync) */
	if (!e && fsync(o->fd) != 0 && errno != EINVAL)
		e = errno;
	int rc = o->f ? fclose(o->f) : close(o->fd);
	if (!e && rc != 0)
		e = errno;
	o->f = NULL;
	o->fd = -1;
	if (!e && rename(o->tmp, o->target) != 0)
		e = errno;
	if (e) {
		snprintf(err, cap, "%s: write error: %s", o->path, strerror(e));
		outfile_abort(o);
		return -1;
	}
	release(o);
	return 0;
}
