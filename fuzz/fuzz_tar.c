/* fuzz_tar.c - libFuzzer target for the streaming tar reader (common/image/tar.c),
 * as imgdecode drives it over a WebDataset shard.
 *
 * Input: the bytes of a tar file (seed it with shards from
 * tests/py/webdataset_make.py, small images please, and fuzz/tar.dict). It
 * is put in a memfd and opened by its /proc/self/fd path, so the reader sees
 * a regular file of known size, as with a shard on disk. When the input's
 * last byte is odd, the checksum of each 512-byte block with the ustar magic
 * is made right first, so that mutated headers get past the checksum. Every
 * member is
 * read (small ones) or skipped, the way imgdecode does. Checks, besides
 * the sanitizers: a broken structure always says why, a refused member
 * always says why, a member the reader accepts has a safe name, the reader
 * always ends (no member more than once per 512 bytes), and an archive it
 * reads to its end leaves no data after it unread.
 *
 *   make fuzz && build-fuzz/fuzz_tar -dict=fuzz/tar.dict -max_total_time=300 corpus/
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz_memfd.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int safe_name(const char *s)
{
	if (s[0] == '/')
		return 0;
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
			return 0;
	return 1;
}

static uint8_t *fix_checksums(const uint8_t *data, size_t size)
{
	uint8_t *d = malloc(size ? size : 1);
	if (!d)
		abort();
	memcpy(d, data, size);
	for (size_t b = 0; b + 512 <= size; b += 512) {
		uint8_t *h = d + b;
		if (memcmp(h + 257, "ustar", 5) != 0)
			continue;
		memset(h + 148, ' ', 8);
		unsigned sum = 0;
		for (int i = 0; i < 512; i++)
			sum += h[i];
		char oct[8];
		snprintf(oct, sizeof oct, "%06o", sum & 0777777);
		memcpy(h + 148, oct, 7); /* six digits, NUL, and the space left there */
	}
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *d = size && (data[size - 1] & 1) ? fix_checksums(data, size) : NULL;
	char path[64];
	int fd = fuzz_memfd(d ? d : data, size, path, sizeof path);
	free(d);
	img_tar_t *t = img_tar_open(path, 1 << 16, "the fuzz target's");
	if (!t)
		abort();
	static img_tar_member_t m;
	static uint8_t buf[1 << 16];
	size_t members = 0;
	int r;
	while ((r = img_tar_next(t, &m)) == 1) {
		if (++members > size / 512)
			abort(); /* every member takes a header block at least */
		if (m.problem[0])
			continue; /* skipped by the next img_tar_next, as imgdecode does */
		if (!safe_name(m.name) || m.size > sizeof buf) {
			fprintf(stderr, "accepted: '%s' of %llu bytes\n", m.name, (unsigned long long)m.size);
			abort();
		}
		if (m.size % 2 == 0 && img_tar_read(t, buf, (size_t)m.size) != 0)
			break;
	}
	if (r < 0 && !img_tar_error(t)[0])
		abort(); /* a failure must say why */
	if (r == 0 && !img_tar_at_end(t))
		abort(); /* an archive ends where its data does: nothing after it goes unread */
	img_tar_close(t);
	close(fd);
	return 0;
}
