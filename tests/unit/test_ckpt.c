/* test_ckpt.c - common/util/sha256.c on the FIPS 180-4 example vectors, and the
 * ckpt/ckpt.h API on small safetensors files built here in memory: lookups, file
 * order, alignment of misaligned data (copied), values, errors naming the
 * file, and file_sha256 against a known digest. The PyTorch formats are tested
 * end to end against files PyTorch writes (tests/ckpt/).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "util/util.h"
#include "check.h"


static void test_sha256(void)
{
	char hex[65];
	sha256_hex("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "empty: %s", hex);
	sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "abc: %s", hex);
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits: two blocks */
	sha256_hex(two, strlen(two), hex);
	CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "448 bits: %s",
	      hex);
	/* one million 'a' fed in uneven pieces: exercises the partial-block path */
	sha256_t s;
	sha256_init(&s);
	char a[997];
	memset(a, 'a', sizeof a);
	size_t left = 1000000;
	for (size_t k = 1; left; k = k % 997 + 1) {
		size_t n = k < left ? k : left;
		sha256_update(&s, a, n);
		left -= n;
	}
	uint8_t d[32];
	sha256_final(&s, d);
	sha256_to_hex(d, hex);
	CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "1M a: %s", hex);
}

/* u64 LE header length + header + data into buf at offset 'skew' (so the data
 * lands misaligned when skew is odd); returns the file's length. */
static size_t make_st(uint8_t *buf, size_t skew, const char *header, const void *data, size_t dlen)
{
	uint64_t hl = strlen(header);
	uint8_t *p = buf + skew;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(hl >> (8 * i));
	memcpy(p + 8, header, hl);
	memcpy(p + 8 + hl, data, dlen);
	return 8 + hl + dlen;
}

static void test_safetensors_mem(void)
{
	static uint8_t buf[4096];
	const float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e-3f};
	const uint16_t h[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 in fp16 */
	uint8_t data[sizeof h + sizeof w];
	memcpy(data, h, sizeof h);
	memcpy(data + sizeof h, w, sizeof w);
	const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
			  "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]},"
			  "\"__metadata__\":{\"k\":\"v\"}}";
	for (size_t skew = 0; skew < 4; skew++) {
		size_t n = make_st(buf, skew, hdr, data, sizeof data);
		char err[256];
		ckpt_t *c = ckpt_open_mem(buf + skew, n, "mem.safetensors", err, sizeof err);
		CHECK(c != NULL, "skew %zu: %s", skew, err);
		if (!c)
			continue;
		CHECK(ckpt_format(c) == CKPT_SAFETENSORS, "format %d", (int)ckpt_format(c));
		CHECK(strcmp(ckpt_format_name(ckpt_format(c)), "safetensors") == 0, "name");
		CHECK(ckpt_count(c) == 2, "count %zu", ckpt_count(c));
		CHECK(ckpt_file_size(c) == n, "size");
		CHECK(strcmp(ckpt_entry(c, 0)->name, "h") == 0 && strcmp(ckpt_entry(c, 1)->name, "w") == 0,
		      "file order");
		CHECK(ckpt_entry(c, 2) == NULL, "past the end");
		const ckpt_entry_t *e = ckpt_find(c, "w");
		CHECK(e && e->t.dtype == DTYPE_FLOAT32 && e->t.ndim == 2 && e->t.shape[0] == 2 && e->t.shape[1] == 3 &&
			      e->t.nbytes == 24,
		      "w header");
		if (e) {
			CHECK((uintptr_t)e->t.data % 4 == 0, "skew %zu: w data misaligned", skew);
			CHECK(memcmp(e->t.data, w, sizeof w) == 0, "skew %zu: w values", skew);
		}
		e = ckpt_find(c, "h");
		CHECK(e && e->t.dtype == DTYPE_FLOAT16 && (uintptr_t)e->t.data % 2 == 0, "h");
		if (e)
			CHECK(half_to_float(((const uint16_t *)e->t.data)[1]) == -2.0f, "h[1]");
		CHECK(ckpt_find(c, "nope") == NULL && ckpt_find(c, "") == NULL, "missing names");
		ckpt_free(c);
	}
}

static void test_errors(void)
{
	char err[256];
	ckpt_t *c = ckpt_open("/nonexistent/x.pth", err, sizeof err);
	CHECK(c == NULL && strstr(err, "/nonexistent/x.pth: ") == err && strstr(err, "No such file"), "%s", err);
	static uint8_t buf[256];
	size_t n = make_st(buf, 0, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "12345678", 8);
	c = ckpt_open_mem(buf, n, "lie.safetensors", err, sizeof err);
	CHECK(c == NULL && strncmp(err, "lie.safetensors: ", 17) == 0 && strstr(err, "'w'"), "%s", err);
	/* a tiny error buffer is filled, never overrun */
	char small[8];
	memset(small, 'x', sizeof small);
	c = ckpt_open_mem(buf, n, "lie.safetensors", small, 5);
	CHECK(c == NULL && strlen(small) == 4 && small[5] == 'x', "small err buffer");
	c = ckpt_open_mem(buf, 0, "empty", err, sizeof err);
	CHECK(c == NULL && strstr(err, "empty: empty file"), "%s", err);
}

static void test_file_sha256(void)
{
	char path[] = "/tmp/test_ckpt_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	if (fd < 0)
		return;
	CHECK(write(fd, "abc", 3) == 3, "write");
	close(fd);
	char hex[65];
	CHECK(file_sha256(path, hex) == 0 &&
		      strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	      "file abc: %s", hex);
	unlink(path);
	CHECK(file_sha256(path, hex) == -1, "missing file");
}

int main(void)
{
	test_sha256();
	test_safetensors_mem();
	test_errors();
	test_file_sha256();
	return check_report();
}
