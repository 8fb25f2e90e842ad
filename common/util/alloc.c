/* alloc.c - allocation that exits on failure (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static void *checked(void *p)
{
	if (!p)
		diag_fatal("out of memory");
	return p;
}

void *xmalloc(size_t n)
{
	return checked(malloc(n ? n : 1));
}

void *xcalloc(size_t n, size_t size)
{
	return checked(calloc(n ? n : 1, size ? size : 1));
}

void *xrealloc(void *p, size_t n)
{
	return checked(realloc(p, n ? n : 1));
}

char *xstrdup(const char *s)
{
	return checked(strdup(s));
}

char *xstrndup(const char *s, size_t n)
{
	return checked(strndup(s, n));
}

void *xmemdup(const void *p, size_t n)
{
	void *d = xmalloc(n);
	if (n)
		memcpy(d, p, n);
	return d;
}
