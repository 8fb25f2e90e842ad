/* fuzz_record.c - libFuzzer target for the record stream reader
 * (common/stream/record.c) and what every filter does with a record it is handed:
 * tensor views (obj_to_tensor), class tables (classes_from_record), name
 * lists (names_from_object) and recview's JSON printing (common/stream/json.c).
 *
 * Input: the bytes of a record stream (seeds: record/ of fuzz/make_corpus.py;
 * fuzz/record.dict has the keys and msgpack type bytes). It
 * is put in a memfd and read through rec_reader_open as stdin would be, with
 * a 1 MiB record limit. Every record is walked; a tensor the reader accepts
 * has all its data bytes read (so ASan sees a view that escapes the buffer).
 * Checks, besides the sanitizers: a stream that stops always says why, record
 * numbers and offsets only grow, an accepted tensor's byte count equals its
 * shape times its item size, and a class table has K names and finite rows.
 *
 *   make fuzz && /usr/bin/python3 fuzz/make_corpus.py seeds
 *   build-fuzz/fuzz_record -dict=fuzz/record.dict -max_total_time=300 corpus/ seeds/record
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/eval.h"
#include "fuzz/fuzz_memfd.h"
#include "stream/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static volatile unsigned sink;

static void check_tensor(const msgpack_object *o)
{
	tensor_t t;
	char err[256] = "";
	if (obj_to_tensor(o, &t, err, sizeof err) != 0) {
		if (!err[0])
			abort(); /* refused without a reason */
		return;
	}
	if (tensor_numel(&t) * (int64_t)dtype_size(t.dtype) != (int64_t)t.nbytes)
		abort();
	unsigned s = 0;
	for (size_t i = 0; i < t.nbytes; i++)
		s += ((const uint8_t *)t.data)[i];
	sink += s;
}

static void walk(const record_t *rec)
{
	const msgpack_object_map *m = &rec->root.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *v = &m->ptr[i].val;
		if (v->type == MSGPACK_OBJECT_MAP)
			check_tensor(v);
		char **names = NULL;
		int64_t n = 0;
		if (names_from_object(v, &names, &n) == 0)
			names_free(names, n);
	}
	classes_t c;
	classes_init(&c);
	char err[256] = "";
	if (classes_from_record(rec, &c, err, sizeof err) == 0) {
		if (c.k <= 0 || c.d <= 0 || (c.names && !c.names[c.k - 1]))
			abort();
		for (int64_t i = 0; i < c.k * c.d; i++)
			if (!isfinite(c.rows[i]))
				abort(); /* rows are normalized: a NaN got through */
	} else if (!err[0]) {
		abort();
	}
	classes_free(&c);
	json_put_object(devnull, &rec->root, JSON_TENSOR_FULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof path);
	rec_reader_t *r = rec_reader_open(fd, "fuzz", (size_t)1 << 20);
	if (!r)
		abort();
	record_t rec;
	uint64_t last_index = 0, last_offset = 0;
	int first = 1;
	for (;;) {
		rec_status_t st = rec_reader_next(r, &rec);
		if (st == REC_EOF)
			break;
		if (st != REC_OK && st != REC_INVALID) {
			if (!rec_reader_message(r)[0])
				abort(); /* a fatal stop that does not say why */
			break;
		}
		if (!first && (rec.index != last_index + 1 || rec.offset <= last_offset))
			abort();
		first = 0;
		last_index = rec.index;
		last_offset = rec.offset;
		if (rec.offset + rec.raw_len > size)
			abort();
		if (st == REC_INVALID) {
			if (!rec_reader_message(r)[0])
				abort();
			continue;
		}
		if (rec.root.type != MSGPACK_OBJECT_MAP || memcmp(rec.raw, data + rec.offset, rec.raw_len) != 0)
			abort(); /* pass-through must be byte-exact */
		walk(&rec);
	}
	rec_reader_free(r);
	close(fd);
	return 0;
}
