/* map.c - the byte string -> int64 hash map (see util.h). */
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

enum { EMPTY = 0 }; /* slot.len holds the key's length + 1: 0 marks a free slot */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	/* FNV-1a's low bits depend only on the input's low bits, so ids can be
	 * made to share them and fall in one slot (a quadratic flood). murmur3's
	 * fmix64 makes every bit of the slot depend on every bit of h; no seed,
	 * so the order of everything stays reproducible. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void strmap_init(strmap_t *m)
{
	memset(m, 0, sizeof *m);
}

void strmap_free(strmap_t *m)
{
	free(m->slot);
	free(m->keys);
	strmap_init(m);
}

/* The slot of key: where it is, or the free slot where it would go. */
static strmap_slot_t *find(const strmap_t *m, const void *key, size_t len, uint64_t h)
{
	size_t j = (size_t)h & (m->cap - 1);
	for (;; j = (j + 1) & (m->cap - 1)) {
		strmap_slot_t *s = &m->slot[j];
		if (s->len == EMPTY ||
		    (s->hash == h && s->len == len + 1 && memcmp(m->keys + s->off, key, len) == 0))
			return s;
	}
}

static void grow(strmap_t *m)
{
	size_t ncap = m->cap ? 2 * m->cap : 64;
	strmap_slot_t *old = m->slot;
	size_t ocap = m->cap;
	m->slot = xcalloc(ncap, sizeof *m->slot);
	m->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].len == EMPTY)
			continue;
		size_t j = (size_t)old[i].hash & (ncap - 1);
		while (m->slot[j].len != EMPTY)
			j = (j + 1) & (ncap - 1);
		m->slot[j] = old[i];
	}
	free(old);
}

int64_t *strmap_findn(const strmap_t *m, const void *key, size_t len)
{
	if (!m->cap)
		return NULL;
	strmap_slot_t *s = find(m, key, len, hash_bytes(key, len));
	return s->len == EMPTY ? NULL : &s->val;
}

int strmap_putn(strmap_t *m, const void *key, size_t len, int64_t val)
{
	if (2 * (m->n + 1) > m->cap)
		grow(m);
	uint64_t h = hash_bytes(key, len);
	strmap_slot_t *s = find(m, key, len, h);
	if (s->len != EMPTY)
		return 1;
	if (m->keys_cap - m->keys_len < len + 1) {
		size_t ncap = m->keys_cap ? m->keys_cap : 1024;
		while (ncap - m->keys_len < len + 1)
			ncap *= 2;
		m->keys = xrealloc(m->keys, ncap);
		m->keys_cap = ncap;
	}
	memcpy(m->keys + m->keys_len, key, len);
	m->keys[m->keys_len + len] = 0;
	*s = (strmap_slot_t){.hash = h, .off = m->keys_len, .len = len + 1, .val = val};
	m->keys_len += len + 1;
	m->n++;
	return 0;
}

int strmap_put(strmap_t *m, const char *key, int64_t val)
{
	return strmap_putn(m, key, strlen(key), val);
}

int64_t strmap_get(const strmap_t *m, const char *key)
{
	const int64_t *v = strmap_findn(m, key, strlen(key));
	return v ? *v : -1;
}
