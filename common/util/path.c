/* path.c - where the programs find their weights and data (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where `make install` puts data/ (the Makefile passes $(DATADIR)). */
#ifndef RNENC_DATADIR
#define RNENC_DATADIR "/usr/local/share/rnencode"
#endif

char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = xmalloc(a + b + 2);
	memcpy(p, dir, a);
	if (a > 0 && dir[a - 1] != '/')
		p[a++] = '/';
	memcpy(p + a, name, b + 1);
	return p;
}

const char *path_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

char *weights_path(const char *name)
{
	const char *dir = getenv("RNENC_WEIGHTS"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char buf[PATH_MAX];
	if (dir && *dir)
		snprintf(buf, sizeof buf, "%s", dir);
	else if (xdg && *xdg)
		snprintf(buf, sizeof buf, "%s/rnencode/weights", xdg);
	else
		snprintf(buf, sizeof buf, "%s/.cache/rnencode/weights", home ? home : ".");
	return path_join(buf, name);
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *data_path(const char *rel, char *err, size_t cap)
{
	const char *env = getenv("RNENC_DATA");
	if (env && *env)
		return path_join(env, rel);
	/* installed: BINDIR/../share/rnencode, wherever PREFIX is (make install
	 * PREFIX=DIR after a plain make, or the tree moved); a checkout:
	 * bin/../data, or build-asan/bin/../../data */
	char exe[PATH_MAX], dir[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		static const char *const up[] = {"/../share/rnencode", "/../data", "/../../data"};
		for (size_t i = 0; i < sizeof up / sizeof *up; i++) {
			snprintf(dir, sizeof dir, "%s%s", exe, up[i]);
			if (is_dir(dir))
				return path_join(dir, rel);
		}
	}
	if (is_dir(RNENC_DATADIR))
		return path_join(RNENC_DATADIR, rel);
	snprintf(err, cap, "no data folder for %s: none beside this program (%s/../share/rnencode, ../data) nor at %s "
		 "(make install puts one there; or set RNENC_DATA)",
		 rel, n > 0 ? exe : "/proc/self/exe unreadable", RNENC_DATADIR);
	return NULL;
}
