/* walk.c - a directory tree's files, sorted, each folder entered once (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Directories entered so far in one walk, by device and inode: a link back
 * up the tree (sub/up -> ..) or a second link to a folder would otherwise
 * list its files again, or loop until WALK_MAX_DEPTH (exponentially with
 * two such links). */
typedef struct {
	struct {
		dev_t dev;
		ino_t ino;
		char *path;
	} *v;
	size_t n, cap;
} dir_seen_t;

/* NULL when (dev, ino) is new (and now recorded), else the path it was entered as. */
static const char *dir_seen_add(dir_seen_t *s, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino)
			return s->v[i].path;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n].dev = st->st_dev;
	s->v[s->n].ino = st->st_ino;
	s->v[s->n++].path = xstrdup(path);
	return NULL;
}

static void dir_seen_free(dir_seen_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
}

/* rel and path: malloc'd, the list owns them; error: copied (NULL: none). */
static void list_add(walk_list_t *l, char *rel, char *path, const char *error)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = (walk_entry_t){.rel = rel, .path = path, .error = error ? xstrdup(error) : NULL};
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
	const char *root;
	walk_want_fn want;
	void *ctx;
	walk_list_t *l;
	dir_seen_t seen;
} walk_t;

/* The files under root/rel. Entries are visited in name order, so which of
 * two links to one folder is kept does not depend on the file system's order. */
static void walk_dir(walk_t *w, const char *rel, int depth)
{
	char *dir = rel[0] ? path_join(w->root, rel) : xstrdup(w->root);
	DIR *d = opendir(dir);
	if (!d) {
		char msg[300];
		snprintf(msg, sizeof msg, "cannot read directory: %s", strerror(errno));
		list_add(w->l, xstrdup(rel[0] ? rel : "."), xstrdup(dir), msg);
		free(dir);
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			names = xrealloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_name);
	for (size_t i = 0; i < n; i++) {
		char *r = rel[0] ? path_join(rel, names[i]) : xstrdup(names[i]);
		char *p = path_join(w->root, r);
		struct stat st;
		const char *first;
		if (stat(p, &st) != 0) {
			/* a link to nothing (a link farm whose target is not mounted):
			 * a file the caller wants gets an error entry, so nothing vanishes */
			char msg[300];
			snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
			if (w->want(w->ctx, p, names[i], NULL)) {
				list_add(w->l, r, p, msg);
				r = p = NULL;
			} else {
				diag_msg("%s: skipped: %s", p, msg);
			}
		} else if (S_ISDIR(st.st_mode)) {
			if ((first = dir_seen_add(&w->seen, &st, p)) != NULL)
				diag_msg("%s: skipped: the same directory as %s (a link), already listed", p, first);
			else if (depth >= WALK_MAX_DEPTH)
				diag_msg("%s: skipped: more than %d directory levels", p, WALK_MAX_DEPTH);
			else
				walk_dir(w, r, depth + 1);
		} else if (S_ISREG(st.st_mode) && w->want(w->ctx, p, names[i], &st)) {
			list_add(w->l, r, p, NULL);
			r = p = NULL; /* the list owns them */
		}
		free(r);
		free(p);
		free(names[i]);
	}
	free(names);
	free(dir);
}

static int cmp_rel(const void *a, const void *b)
{
	return strcmp(((const walk_entry_t *)a)->rel, ((const walk_entry_t *)b)->rel);
}

void walk_tree(const char *root, const struct stat *root_st, walk_want_fn want, void *ctx, walk_list_t *l)
{
	walk_t w = {.root = root, .want = want, .ctx = ctx, .l = l};
	memset(l, 0, sizeof *l);
	dir_seen_add(&w.seen, root_st, root);
	walk_dir(&w, "", 0);
	dir_seen_free(&w.seen);
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, cmp_rel);
}

void walk_list_free(walk_list_t *l, size_t from)
{
	for (size_t i = from; i < l->n; i++) {
		free(l->v[i].rel);
		free(l->v[i].path);
		free(l->v[i].error);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}
