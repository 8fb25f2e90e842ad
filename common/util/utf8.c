/* utf8.c - strict UTF-8 (util/util.h). */
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


size_t utf8_next(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0)
		return 0;
	uint32_t c = p[0], min;
	size_t n;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2, min = 0x80, c &= 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, min = 0x800, c &= 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

size_t utf8_put(char *buf, uint32_t c)
{
	if (c < 0x80) {
		buf[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		buf[0] = (char)(0xC0 | (c >> 6));
		buf[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		buf[0] = (char)(0xE0 | (c >> 12));
		buf[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		buf[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	buf[0] = (char)(0xF0 | (c >> 18));
	buf[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	buf[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	buf[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

size_t utf8_valid_len(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;
	while (i < n && (k = utf8_next(s + i, n - i, &cp)) > 0)
		i += k;
	return i;
}

char *utf8_escape(const char *s, size_t n, size_t *outn)
{
	if (utf8_valid_len(s, n) == n)
		return NULL;
	size_t i, k;
	uint32_t cp;
	char *out = xmalloc(4 * n + 1), *o = out;
	for (i = 0; i < n;) {
		if ((k = utf8_next(s + i, n - i, &cp)) > 0) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			o += sprintf(o, "\\x%02X", (unsigned char)s[i++]);
		}
	}
	*o = 0;
	*outn = (size_t)(o - out);
	return out;
}
