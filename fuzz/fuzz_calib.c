/* fuzz_calib.c - libFuzzer target for INT8 calibration files (model/calib.c),
 * which rnencode --calibration reads from wherever the user names.
 *
 * Input: the bytes of a calibration file (seeds: calib/ of
 * fuzz/make_corpus.py, a real file rnencode --save-calibration wrote among
 * them). It is put in a memfd and read by its /proc/self/fd path, as a file
 * on disk. Checks, besides the sanitizers: a refusal always says why and
 * names the file; an accepted file has a model name, a 64-hex-digit weights
 * sha256, at least one image, and scales that are all positive and finite,
 * every one of them read (so ASan sees a copy that escapes the buffer).
 *
 *   make fuzz && /usr/bin/python3 fuzz/make_corpus.py seeds
 *   build-fuzz/fuzz_calib -max_total_time=300 corpus/ seeds/calib
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz_memfd.h"
#include "model/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile float sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024] = "";
	int fd = fuzz_memfd(data, size, path, sizeof path);
	net_calib_t c;
	if (net_calib_read(path, &c, err, sizeof err) == 0) {
		if (c.n < 1 || !c.scale || c.images < 1 || strlen(c.weights_sha256) != 64 || strlen(c.sha256) != 64 ||
		    !c.set)
			abort();
		float s = 0;
		for (int i = 0; i < c.n; i++) {
			if (!(c.scale[i] > 0) || !isfinite(c.scale[i]))
				abort();
			s += c.scale[i];
		}
		sink += s;
		net_calib_free(&c);
	} else if (!strstr(err, path)) {
		abort();
	}
	close(fd);
	return 0;
}
