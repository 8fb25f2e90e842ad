/* fuzz_jpeg.c - libFuzzer target for imgdecode's decode path (image/image.h).
 *
 * Input: the bytes of an image file (JPEG, PNG or anything else); seed it
 * with testdata/imgdecode. Settings (preset, resize, crop, dtype, --fast,
 * --resize-order) come from a hash of the input, so one input always runs the same way.
 * Checks, besides the sanitizers: the window decode and the whole-image
 * decode agree (same success, same bytes, same warning), and a failure
 * always says why. The pixel cap is low so that a hostile header cannot
 * ask for gigabytes.
 *
 *   make fuzz && build-fuzz/fuzz_jpeg -max_total_time=600 corpus/ testdata/imgdecode
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static img_ctx_t *ctx;
static img_result_t win, full;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx && !(ctx = img_ctx_new()))
		abort();
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	img_params_t p;
	memset(&p, 0, sizeof p);
	static const char *const presets[] = {"imagenet", "imagenet-v2", "clip"};
	img_preset(presets[h % 3], &p);
	if ((h >> 2) % 4 == 0) { /* small explicit sizes reach padding and upscaling */
		p.resize = (int)((h >> 4) % 300);
		p.crop = (int)((h >> 12) % 260);
		p.filter = (img_filter_t)((h >> 20) % IMG_FILTER_COUNT);
	}
	p.dtype = (h >> 24) % 3 == 0 ? DTYPE_FLOAT32 : (h >> 24) % 3 == 1 ? DTYPE_FLOAT16 : DTYPE_UINT8;
	p.fast = (h >> 27) % 3 == 0;
	p.resize_order = (img_order_t)((h >> 29) % 3);
	p.max_pixels = 4u << 20;
	/* far over what 4M pixels need, whole or windowed: both decodes must
	 * succeed alike (test_memory.sh tests the bound itself) */
	p.max_memory = 1ULL << 30;

	int a = img_process_memory(ctx, &p, data, size, &win);
	if (a != 0 && !win.message[0])
		abort(); /* a failure must say why */
	p.full_decode = 1;
	int b = img_process_memory(ctx, &p, data, size, &full);
	if (a != b || strcmp(win.warning, full.warning) != 0) {
		fprintf(stderr, "window: %d %s | %s\nfull: %d %s | %s\n", a, win.message, win.warning, b, full.message,
			full.warning);
		abort();
	}
	if (a == 0 && (win.nbytes != full.nbytes || memcmp(win.data, full.data, win.nbytes) != 0)) {
		fprintf(stderr, "window and full decode differ (%s, resize %d crop %d fast %d)\n", p.preset, p.resize,
			p.crop, p.fast);
		abort();
	}
	return 0;
}
