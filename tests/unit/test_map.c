/* test_map.c - common/util/map.c, the one hash map: C-string keys (ids to
 * positions, as errstats, fpdiff, errtree and imgdecode use it), byte keys
 * with NUL bytes in them (provenance's digests, the tokenizer's pieces), a
 * value changed in place, growth past many doublings, and ids made to share
 * FNV-1a's low bits (a flood: each lookup probed past every earlier one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/util.h"

static void test_strings(void)
{
	strmap_t m;
	strmap_init(&m);
	CHECK(strmap_get(&m, "x") == -1, "an empty map finds nothing");
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "img%05d.JPEG", i);
		CHECK(strmap_put(&m, key, i) == 0, "%s is new", key);
	}
	CHECK(strmap_put(&m, "img00042.JPEG", 7) == 1, "a second put of a key says so");
	CHECK(strmap_get(&m, "img00042.JPEG") == 42, "and keeps the first value");
	CHECK(strmap_get(&m, "img04999.JPEG") == 4999, "the last key");
	CHECK(strmap_get(&m, "nope") == -1, "an absent key");
	CHECK(strmap_get(&m, "") == -1, "the empty key is absent");
	CHECK(strmap_put(&m, "", 5) == 0 && strmap_get(&m, "") == 5, "the empty key is a key");
	CHECK(m.n == 5001, "n counts keys: %zu", m.n);
	strmap_free(&m);
	CHECK(m.n == 0 && m.cap == 0, "free leaves an empty map");
}

static void test_bytes(void)
{
	strmap_t m;
	strmap_init(&m);
	/* keys that differ only after a NUL byte, and a key that is a prefix of another */
	CHECK(strmap_putn(&m, "a\0x", 3, 1) == 0, "a\\0x");
	CHECK(strmap_putn(&m, "a\0y", 3, 2) == 0, "a\\0y is another key");
	CHECK(strmap_putn(&m, "a", 1, 3) == 0, "a is another key");
	const int64_t *v = strmap_findn(&m, "a\0y", 3);
	CHECK(v && *v == 2, "a\\0y found");
	CHECK(strmap_get(&m, "a") == 3, "a as a C string");
	CHECK(strmap_findn(&m, "a\0z", 3) == NULL, "a\\0z is absent");
	int64_t *w = strmap_findn(&m, "a\0x", 3);
	*w = 10; /* a value changed in place (the tokenizer's "a later insertion wins") */
	v = strmap_findn(&m, "a\0x", 3);
	CHECK(v && *v == 10, "changed in place");
	/* 8-byte binary keys, as provenance keys its digests */
	for (uint64_t i = 0; i < 100000; i++) {
		uint64_t k = i * 0x9E3779B97F4A7C15ull;
		CHECK(strmap_putn(&m, &k, sizeof k, (int64_t)i) == 0, "digest %llu", (unsigned long long)i);
	}
	uint64_t k = 777 * 0x9E3779B97F4A7C15ull;
	v = strmap_findn(&m, &k, sizeof k);
	CHECK(v && *v == 777, "digest 777 after growth");
	CHECK(strmap_putn(&m, &k, sizeof k, 1) == 1, "digest 777 again");
	CHECK(m.n == 100003, "n %zu", m.n);
	strmap_free(&m);
}

/* FNV-1a's low bits depend only on the low bits before them: two 3-letter
 * blocks that agree in the low BITS bits from one state stay agreed after
 * any later bytes, so NB chained pairs give 2^NB ids with one low-bit hash. */
enum { BITS = 20, NB = 14 };

static uint64_t fnv_step(uint64_t h, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

static void test_flood(void)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char pair[NB][2][3];
	uint32_t *seen = malloc(((size_t)1 << BITS) * sizeof *seen);
	CHECK(seen != NULL, "memory");
	uint64_t h = 1469598103934665603ULL, mask = ((uint64_t)1 << BITS) - 1;
	for (int k = 0; k < NB; k++) {
		memset(seen, 0xff, ((size_t)1 << BITS) * sizeof *seen);
		int found = 0;
		for (uint32_t t = 0; t < 62 * 62 * 62 && !found; t++) {
			unsigned char s[3] = {alpha[t / 3844], alpha[t / 62 % 62], alpha[t % 62]};
			uint32_t v = (uint32_t)(fnv_step(h, s, 3) & mask);
			if (seen[v] != UINT32_MAX) {
				uint32_t o = seen[v];
				unsigned char a[3] = {alpha[o / 3844], alpha[o / 62 % 62], alpha[o % 62]};
				memcpy(pair[k][0], a, 3);
				memcpy(pair[k][1], s, 3);
				found = 1;
			}
			seen[v] = t;
		}
		CHECK(found, "a colliding pair for block %d", k);
		h = fnv_step(h, pair[k][0], 3);
	}
	free(seen);
	strmap_t m;
	strmap_init(&m);
	unsigned char key[3 * NB];
	for (uint32_t i = 0; i < (1u << NB); i++) {
		for (int k = 0; k < NB; k++)
			memcpy(key + 3 * k, pair[k][(i >> k) & 1], 3);
		CHECK(strmap_putn(&m, key, sizeof key, i) == 0, "flood id %u is new", i);
	}
	/* Every key sits (slot.hash & (cap - 1)) + d, d its probes past home:
	 * linear probing at half load keeps their sum near n, a flood n^2 / 2. */
	size_t probes = 0;
	for (size_t j = 0; j < m.cap; j++)
		if (m.slot[j].len)
			probes += (j - (size_t)m.slot[j].hash) & (m.cap - 1);
	CHECK(probes < 4 * m.n, "%zu ids sharing FNV-1a's low %d bits: %zu probes past home", m.n, BITS,
	      probes);
	const int64_t *v = strmap_findn(&m, key, sizeof key);
	CHECK(v && *v == (1 << NB) - 1, "the last flood id found");
	strmap_free(&m);
}

int main(void)
{
	test_strings();
	test_bytes();
	test_flood();
	return check_report();
}
