/* utf8.h - strict UTF-8: one code point at a time, both ways.
 *
 * Strict as Python's decoder: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing past U+10FFFF; so a text this accepts is one a
 * Python str (and a msgpack str read with raw=False) can hold. */
#ifndef COMMON_UTF8_H
#define COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The code point at s[0..len) into *cp: its length in bytes (1..4), or 0
 * when s does not start with a valid sequence (or len is 0). */
size_t utf8_next(const char *s, size_t len, uint32_t *cp);

/* The UTF-8 of cp (at most U+10FFFF, not a surrogate) at buf, which has at
 * least 4 bytes free: the bytes written. */
size_t utf8_put(char *buf, uint32_t cp);

/* The length of the longest valid UTF-8 prefix of s[0..n): n when all of
 * it is valid, else the offset of the first byte that is not. */
size_t utf8_valid_len(const char *s, size_t n);

/* s[0..n) with each byte outside valid UTF-8 written as the text \xNN (a
 * msgpack str must be UTF-8, a Linux file name is bytes): malloc'd and
 * NUL-terminated, its length in *outn; NULL when s is valid UTF-8 already. */
char *utf8_escape(const char *s, size_t n, size_t *outn);

#endif
