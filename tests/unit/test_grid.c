/* test_grid.c - common/image/grid.c's text: a string longer than its room is cut at
 * the end (rgb_image_text: names) or in the middle keeping its end
 * (rgb_image_text_mid: image ids, whose unique part is their end), drawn
 * exactly as the fitted string itself would be, and a string that fits is
 * drawn whole by both. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "image/image.h"

static const unsigned char WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0};

/* s drawn by f in maxchars against want drawn whole: the same pixels and width */
static void same_as(int mid, const char *s, int maxchars, const char *want)
{
	rgb_image_t a, b;
	int w = (int)strlen(s) * FONT_CELL_W * 2 + 4;
	rgb_image_init(&a, w, FONT_CELL_H * 2, WHITE);
	rgb_image_init(&b, w, FONT_CELL_H * 2, WHITE);
	int wa = mid ? rgb_image_text_mid(&a, 1, 1, s, maxchars, BLACK, 2) : rgb_image_text(&a, 1, 1, s, maxchars, BLACK, 2);
	int wb = rgb_image_text(&b, 1, 1, want, 0, BLACK, 2);
	CHECK(wa == wb, "'%s' in %d (%s): width %d, '%s' is %d", s, maxchars, mid ? "mid" : "end", wa, want, wb);
	CHECK(memcmp(a.px, b.px, (size_t)w * FONT_CELL_H * 2 * 3) == 0, "'%s' in %d (%s) is not drawn as '%s'", s,
	      maxchars, mid ? "mid" : "end", want);
	rgb_image_free(&a);
	rgb_image_free(&b);
}

int main(void)
{
	/* errstats' 128-pixel thumbnails leave 22 characters */
	same_as(1, "ILSVRC2012_val_00000123.JPEG", 22, "ILSVRC2~_00000123.JPEG");
	same_as(1, "n01440764/n01440764_10026.JPEG", 22, "n014407~764_10026.JPEG");
	same_as(0, "true: great white shark, white shark", 22, "true: great white sha~");
	for (int mid = 0; mid < 2; mid++) {
		same_as(mid, "ILSVRC2012_val_0001", 22, "ILSVRC2012_val_0001");
		same_as(mid, "exactly 22 characters.", 22, "exactly 22 characters.");
		same_as(mid, "abc", 0, "abc"); /* 0: no limit */
		same_as(mid, "abcdef", 1, "~");
	}
	same_as(1, "abcdefghij", 4, "a~ij");
	same_as(0, "abcdefghij", 4, "abc~");
	return check_report();
}
