/* recio - benchmark helper for the record stream library (not installed).
 *
 *   recio write N [H W]   N image records, uint8 [H,W,3] (default 224x224), to stdout
 *   recio read            read records from stdin, validating every tensor; prints
 *                         "records bytes" on stderr
 * Used by bench/record.sh to compare writer -> pipe -> reader with cat.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "stream/stream.h"

static int bench_write(long n, int64_t h, int64_t w)
{
	rec_writer_t *out = rec_writer_open(1, "stdout");
	size_t bytes = (size_t)(h * w * 3);
	unsigned char *img = malloc(bytes);
	for (size_t i = 0; i < bytes; i++)
		img[i] = (unsigned char)(i * 13);
	int64_t shape[3] = {h, w, 3};
	for (long i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof id, "img%08ld.jpg", i);
		rec_builder_t *b = rec_begin(out, "image");
		rb_str(b, "id", id);
		rb_str(b, "path", id);
		rb_int(b, "label", i % 1000);
		rb_str(b, "preset", "clip");
		rb_tensor(b, "tensor", DTYPE_UINT8, 3, shape, img);
		rec_end(b);
	}
	free(img);
	return rec_writer_close(out);
}

static int bench_read(void)
{
	rec_reader_t *r = rec_reader_open(0, "stdin", 0);
	record_t rec;
	long n = 0;
	int nfailed = 0;
	while (rec_next(r, &rec, NULL, &nfailed)) {
		tensor_t t;
		char err[256];
		if (rec_get_tensor(&rec, "tensor", &t, err, sizeof err) != 0)
			diag_fatal("record %ld: %s", n, err);
		n++;
	}
	fprintf(stderr, "%ld %llu\n", n, (unsigned long long)rec_reader_bytes(r));
	rec_reader_free(r);
	return nfailed != 0;
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	if (argc >= 3 && strcmp(argv[1], "write") == 0)
		return bench_write(atol(argv[2]), argc > 3 ? atol(argv[3]) : 224, argc > 4 ? atol(argv[4]) : 224);
	if (argc == 2 && strcmp(argv[1], "read") == 0)
		return bench_read();
	diag_usage("usage: recio write N [H W] | recio read");
}
