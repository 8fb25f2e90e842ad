/* fuzz_npy.c - libFuzzer target for the .npy reader (common/stream/npy.c) that
 * txtembed-load uses on a user's saved class embeddings.
 *
 * Input: the bytes of a .npy file (seeds: npy/ of fuzz/make_corpus.py). It
 * is put in a memfd and read by its /proc/self/fd path, as a file on disk.
 * Checks, besides the sanitizers: a refusal always says why;
 * an accepted array has a known dtype, its byte count equals its shape
 * times its item size and fits in the input after the header, and every
 * byte is read (so ASan sees a view that escapes the buffer).
 *
 *   make fuzz && /usr/bin/python3 fuzz/make_corpus.py seeds
 *   build-fuzz/fuzz_npy -max_total_time=300 corpus/ seeds/npy
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz/fuzz_memfd.h"
#include "stream/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512] = "";
	int fd = fuzz_memfd(data, size, path, sizeof path);
	tensor_t t;
	void *owned = NULL;
	if (npy_read(path, &t, &owned, err, sizeof err) == 0) {
		if (tensor_numel(&t) * (int64_t)dtype_size(t.dtype) != (int64_t)t.nbytes || t.nbytes > size)
			abort();
		unsigned s = 0;
		for (size_t i = 0; i < t.nbytes; i++)
			s += ((const uint8_t *)t.data)[i];
		sink += s;
		free(owned);
	} else if (!err[0]) {
		abort();
	}
	close(fd);
	return 0;
}
