/* test_utf8.c - common/util/utf8.c: what Python's strict decoder accepts and
 * refuses (bytes.decode("utf-8") on the same bytes), and encode/decode
 * round trips at every length boundary; utf8_escape's \xNN for the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/util.h"

/* s (n bytes) starts with a valid sequence of want bytes holding cp
 * (want 0: refused). */
static void next(const char *s, size_t n, size_t want, uint32_t cp)
{
	uint32_t got = 0xFFFFFFFF;
	size_t k = utf8_next(s, n, &got);
	CHECK(k == want && (want == 0 || got == cp), "%zu bytes %02x..: got %zu U+%04X, want %zu U+%04X", n,
	      (unsigned char)s[0], k, got, want, cp);
}

int main(void)
{
	next("A", 1, 1, 0x41);
	next("\xc3\xa9", 2, 2, 0xE9);
	next("\xe2\x82\xac", 3, 3, 0x20AC);
	next("\xf0\x9f\x98\x80", 4, 4, 0x1F600);
	next("\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF);
	next("\xc3", 1, 0, 0);             /* truncated */
	next("\xe2\x82", 2, 0, 0);         /* truncated */
	next("\xc0\xaf", 2, 0, 0);         /* overlong '/' */
	next("\xe0\x80\xaf", 3, 0, 0);     /* overlong */
	next("\xf0\x80\x80\xaf", 4, 0, 0); /* overlong */
	next("\xed\xa0\x80", 3, 0, 0);     /* surrogate U+D800 */
	next("\xf4\x90\x80\x80", 4, 0, 0); /* U+110000 */
	next("\xff", 1, 0, 0);
	next("\x80", 1, 0, 0);             /* a lone continuation byte */
	next("\xc3\x28", 2, 0, 0);         /* continuation missing */
	next("", 0, 0, 0);
	static const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
	for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
		char buf[4];
		size_t n = utf8_put(buf, cps[i]);
		size_t want = cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4;
		uint32_t back = 0xFFFFFFFF;
		CHECK(n == want && utf8_next(buf, n, &back) == n && back == cps[i], "U+%04X: %zu bytes, back U+%04X",
		      cps[i], n, back);
	}
	/* utf8_escape: valid text is left alone (NULL), other bytes become \xNN */
	size_t en = 0;
	CHECK(utf8_escape("caf\xc3\xa9", 5, &en) == NULL, "valid UTF-8 escaped");
	CHECK(utf8_escape("", 0, &en) == NULL, "empty string escaped");
	static const struct {
		const char *in, *want;
		size_t n, wn;
	} esc[] = {{"a\xff.jpg", "a\\xFF.jpg", 6, 9},
		   {"caf\xe9", "caf\\xE9", 4, 7},
		   {"\xc3", "\\xC3", 1, 4},                          /* a character cut short */
		   {"x\xc3\xa9\xc3", "x\xc3\xa9\\xC3", 4, 7},          /* the valid part kept */
		   {"a\0b\x80", "a\0b\\x80", 4, 7}};                    /* NUL is valid UTF-8 */
	for (size_t i = 0; i < sizeof esc / sizeof *esc; i++) {
		char *e = utf8_escape(esc[i].in, esc[i].n, &en);
		CHECK(e && en == esc[i].wn && memcmp(e, esc[i].want, en) == 0 && e[en] == 0,
		      "escape %zu: got '%s' (%zu bytes)", i, e ? e : "(null)", en);
		free(e);
	}
	return check_report();
}
