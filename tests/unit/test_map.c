/* test_map.c - common/util/map.c, the one hash map: C-string keys (ids to
 * positions, as errstats, fpdiff, errtree and imgdecode use it), byte keys
 * with NUL bytes in them (provenance's digests, the tokenizer's pieces), a
 * value changed in place, and growth past many doublings. */
#include <stdio.h>
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

int main(void)
{
	test_strings();
	test_bytes();
	return check_report();
}
