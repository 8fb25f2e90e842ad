/* sha256.h - SHA-256 (FIPS 180-4), streaming. */
#ifndef COMMON_SHA256_H
#define COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint64_t nbytes;   /* total bytes fed so far */
	uint8_t buf[64];   /* partial block */
	size_t nbuf;
} sha256_t;

void sha256_init(sha256_t *s);
void sha256_update(sha256_t *s, const void *data, size_t n);
/* Final digest as 32 bytes; s must be re-initialised before reuse. */
void sha256_final(sha256_t *s, uint8_t out[32]);
/* One-shot: 64 lowercase hex digits + NUL into hex. */
void sha256_hex(const void *data, size_t n, char hex[65]);
/* 32 digest bytes -> 64 lowercase hex digits + NUL. */
void sha256_to_hex(const uint8_t digest[32], char hex[65]);

#endif
