/* test_record.c - the record stream library: round trips and every failure.
 *
 * Streams are written into temp files through rec_writer and read back with
 * rec_reader; failure streams are built byte by byte.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"
#include "stream/stream.h"
#include "check.h"


static char tmpl[] = "rectest.XXXXXX";

static int tmp_fd(char *path)
{
	strcpy(path, tmpl);
	int fd = mkstemp(path);
	if (fd < 0)
		diag_fatal("mkstemp failed");
	return fd;
}

/* Pairs packed by hand, for records the tests build byte by byte (the
 * programs use the builder, which counts the keys). */
static void kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	pk_str(pk, key);
	if (val)
		pk_str(pk, val);
	else
		msgpack_pack_nil(pk);
}

static void kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
	pk_str(pk, key);
	msgpack_pack_int64(pk, v);
}

static rec_reader_t *reader_for_bytes(const void *bytes, size_t n, size_t max_record)
{
	char path[64];
	int fd = tmp_fd(path);
	if (write(fd, bytes, n) != (ssize_t)n)
		diag_fatal("write failed");
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	return rec_reader_open(fd, "bytes", max_record);
}

/* One image-like record with a tensor of the given dtype and an unknown key. */
static void write_tensor_record(rec_writer_t *w, dtype_t dt, int ndim, const int64_t *shape, const void *data)
{
	rec_builder_t *b = rec_begin(w, "probe");
	rb_str(b, "id", dtype_name(dt));
	rb_tensor(b, "tensor", dt, ndim, shape, data);
	const int64_t unknown[2] = {-7, 25};
	rb_ints(b, "x-unknown", unknown, 2);
	rec_end(b);
}

static void test_round_trip(void)
{
	char path[64];
	int fd = tmp_fd(path);
	rec_writer_t *w = rec_writer_open(fd, path);
	const dtype_t dts[] = {DTYPE_UINT8, DTYPE_FLOAT16, DTYPE_FLOAT32, DTYPE_INT32, DTYPE_INT64};
	unsigned char data[5][2 * 3 * 8];
	for (int d = 0; d < 5; d++)
		for (size_t i = 0; i < sizeof data[d]; i++)
			data[d][i] = (unsigned char)(i * 7 + (size_t)d);
	const int64_t shape[2] = {2, 3};
	for (int d = 0; d < 5; d++)
		write_tensor_record(w, dts[d], 2, shape, data[d]);
	/* zero-size and scalar tensors are legal */
	const int64_t zshape[2] = {0, 5};
	write_tensor_record(w, DTYPE_FLOAT32, 2, zshape, "");
	write_tensor_record(w, DTYPE_INT64, 0, NULL, data[4]);
	rec_write_error(w, "img/1.jpg", "/x/img/1.jpg", 3, "corrupt JPEG data");
	rec_writer_flush(w);
	CHECK(rec_writer_records(w) == 8, "records %llu", (unsigned long long)rec_writer_records(w));

	int rfd = open(path, O_RDONLY);
	rec_reader_t *r = rec_reader_open(rfd, path, 0);
	record_t rec;
	for (int d = 0; d < 5; d++) {
		CHECK(rec_reader_next(r, &rec) == REC_OK, "record %d: %s", d, rec_reader_message(r));
		CHECK(rec_is(&rec, "probe"), "type");
		tensor_t t;
		char err[256];
		CHECK(rec_get_tensor(&rec, "tensor", &t, err, sizeof err) == 0, "%s", err);
		CHECK(t.dtype == dts[d] && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3, "dtype/shape %d", d);
		CHECK(t.nbytes == 6 * dtype_size(dts[d]) && memcmp(t.data, data[d], t.nbytes) == 0, "data %d", d);
		const msgpack_object *u = rec_get(&rec, "x-unknown");
		CHECK(u && u->type == MSGPACK_OBJECT_ARRAY && u->via.array.size == 2 &&
			      u->via.array.ptr[0].via.i64 == -7 && u->via.array.ptr[1].via.u64 == 25,
		      "unknown key kept");
	}
	tensor_t t;
	char err[256];
	CHECK(rec_reader_next(r, &rec) == REC_OK && rec_get_tensor(&rec, "tensor", &t, err, sizeof err) == 0 &&
		      t.nbytes == 0 && t.shape[0] == 0,
	      "zero-size tensor");
	CHECK(rec_reader_next(r, &rec) == REC_OK && rec_get_tensor(&rec, "tensor", &t, err, sizeof err) == 0 &&
		      t.ndim == 0 && t.nbytes == 8,
	      "scalar tensor");
	CHECK(rec_reader_next(r, &rec) == REC_OK && rec_is(&rec, "error"), "error record");
	int64_t label = 0;
	char *msg = rec_dup_str(&rec, "message"), *stage = rec_dup_str(&rec, "stage");
	CHECK(rec_get_int(&rec, "label", &label) == 0 && label == 3, "error label");
	CHECK(msg && strcmp(msg, "corrupt JPEG data") == 0, "error message");
	CHECK(stage && strcmp(stage, "test_record") == 0, "error stage '%s'", stage ? stage : "(null)");
	free(msg);
	free(stage);
	CHECK(rec_reader_next(r, &rec) == REC_EOF, "clean EOF");
	rec_reader_free(r);
	close(rfd);
	rec_writer_close(w);
	unlink(path);
}

/* Pass-through is byte-exact, and two streams concatenated read as one. */
static void test_pass_and_concat(void)
{
	unsigned char a[256], b[256];
	size_t na = 0, nb = 0;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* uses a non-canonical int width (int64 for 1) that a re-pack would shrink */
	msgpack_pack_map(&pk, 2);
	kv_str(&pk, "type", "mystery");
	pk_str(&pk, "n");
	const unsigned char wide_one[] = {0xd3, 0, 0, 0, 0, 0, 0, 0, 1};
	msgpack_sbuffer_write(&sb, (const char *)wide_one, sizeof wide_one);
	memcpy(a, sb.data, sb.size);
	na = sb.size;
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	kv_str(&pk, "type", "other");
	memcpy(b, sb.data, sb.size);
	nb = sb.size;
	msgpack_sbuffer_destroy(&sb);

	unsigned char both[512];
	memcpy(both, a, na);
	memcpy(both + na, b, nb);
	rec_reader_t *r = reader_for_bytes(both, na + nb, 0);
	char path[64];
	int fd = tmp_fd(path);
	rec_writer_t *w = rec_writer_open(fd, path);
	record_t rec;
	int n = 0;
	while (rec_reader_next(r, &rec) == REC_OK) {
		CHECK(rec.offset == (n ? na : 0), "offset %llu", (unsigned long long)rec.offset);
		rec_pass(w, &rec);
		n++;
	}
	CHECK(n == 2, "two records from a concatenation, got %d", n);
	rec_writer_flush(w);
	size_t len;
	char ferr[256];
	char *out = file_read_all(path, &len, ferr, sizeof ferr);
	CHECK(out && len == na + nb && memcmp(out, both, len) == 0, "pass-through byte-exact");
	free(out);
	rec_reader_free(r);
	rec_writer_close(w);
	unlink(path);
}

/* Table of broken streams: each its own status and message. */
#define LIT(s) s, sizeof(s) - 1 /* a byte-string literal and its length */
static void test_failures(void)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t n;
		size_t max_record;
		rec_status_t want;
		const char *msg;
	} cases[] = {
		/* {"type":"x"} cut short */
		{"truncated", LIT("\x81\xa4type\xa1"), 0, REC_TRUNCATED, "truncated"},
		{"garbage 0xc1", LIT("\xc1\x00"), 0, REC_GARBAGE, "0xc1"},
		{"not a map", LIT("\x93\x01\x02\x03"), 0, REC_GARBAGE, "not a map"},
		/* bin32 declaring 2 GiB: oversize from the header alone */
		{"oversize", LIT("\x81\xa4" "data\xc6\x80\x00\x00\x00"), 1 << 20, REC_OVERSIZE, "oversize"},
		{"no type", LIT("\x81\xa2id\xa1x"), 0, REC_INVALID, "no \"type\""},
		{"type not str", LIT("\x81\xa4type\x05"), 0, REC_INVALID, "not a str"},
		/* tensor: float32 [2] but 4 bytes of data */
		{"shape/length mismatch",
		 LIT("\x82\xa4type\xa1t\xa1t\x83\xa5" "dtype\xa7" "float32\xa5shape\x91\x02\xa4" "data\xc4\x04" "abcd"), 0, REC_INVALID, "needs 8 bytes, data has 4"},
		{"unknown dtype",
		 LIT("\x82\xa4type\xa1t\xa1t\x83\xa5" "dtype\xa7" "float99\xa5shape\x91\x01\xa4" "data\xc4\x04" "abcd"), 0, REC_INVALID, "unknown dtype \"float99\""},
		/* a key twice: we would read the first "label", Python's msgpack the last */
		{"key twice", LIT("\x83\xa4type\xa1x\xa5label\x01\xa5label\x02"), 0, REC_INVALID,
		 "key \"label\" appears twice"},
		/* the same inside a tensor map: two "data" */
		{"tensor key twice",
		 LIT("\x82\xa4type\xa1t\xa1t\x84\xa5" "dtype\xa5uint8\xa5shape\x91\x01\xa4" "data\xc4\x01" "a\xa4" "data\xc4\x01" "b"),
		 0, REC_INVALID, "tensor \"t\": key \"data\" appears twice"},
		/* bin32 declaring 1008 MiB (under the limit) in a 21-byte stream: truncated,
		 * not a buffer of the declared size first ("out of memory" where it fails) */
		{"declared 1008 MiB", LIT("\x82\xa4type\xa1x\xa4" "data\xc6\x3f\x00\x00\x00" "abc"), 0, REC_TRUNCATED,
		 "truncated: the stream ends after 21 of at least 1056964626 bytes"},
		/* an array declaring 2^32-1 nils: refused from its header, before msgpack-c allocates */
		{"too many values", LIT("\x82\xa4type\xa1x\xa1v\xdd\xff\xff\xff\xff\xc0\xc0"), 0, REC_OVERSIZE,
		 "oversize: at least 4294967299 msgpack values, limit 4194304"},
		{"shape overflow",
		 LIT("\x82\xa4type\xa1t\xa1t\x83\xa5" "dtype\xa5uint8\xa5shape\x92\xcf\x7f\xff\xff\xff\xff\xff\xff\xff\x03\xa4" "data\xc4\x00"), 0, REC_INVALID, "overflows"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rec_reader_t *r = reader_for_bytes(cases[i].bytes, cases[i].n, cases[i].max_record);
		record_t rec;
		rec_status_t st = rec_reader_next(r, &rec);
		CHECK(st == cases[i].want, "%s: status %d, want %d (%s)", cases[i].name, st, cases[i].want,
		      rec_reader_message(r));
		CHECK(strstr(rec_reader_message(r), cases[i].msg) != NULL, "%s: message '%s' lacks '%s'",
		      cases[i].name, rec_reader_message(r), cases[i].msg);
		CHECK(strstr(rec_reader_message(r), "record 0 at byte") != NULL, "%s: message names record/offset",
		      cases[i].name);
		if (st == REC_INVALID) /* the stream goes on after an invalid record */
			CHECK(rec_reader_next(r, &rec) == REC_EOF, "%s: EOF after invalid", cases[i].name);
		rec_reader_free(r);
	}
}

/* Big hostile records: a key repeated among many (the sorted check), and
 * more values than the limit allows for a small --max-record (the floor). */
static void test_many_keys_and_values(void)
{
	size_t n = 70000, cap = 16 + n * 8;
	unsigned char *b = malloc(cap);
	size_t o = 0;
	b[o++] = 0xde; /* map16 of 1000 keys: "type" and k0..k998, with k500 twice */
	b[o++] = 1000 >> 8;
	b[o++] = 1000 & 0xff;
	memcpy(b + o, "\xa4type\xa1x", 7);
	o += 7;
	for (int i = 0; i < 999; i++) {
		char key[8];
		int kl = snprintf(key, sizeof key, "k%d", i == 998 ? 500 : i);
		b[o++] = (unsigned char)(0xa0 | kl);
		memcpy(b + o, key, (size_t)kl);
		o += (size_t)kl;
		b[o++] = 0xc0;
	}
	rec_reader_t *r = reader_for_bytes(b, o, 0);
	record_t rec;
	CHECK(rec_reader_next(r, &rec) == REC_INVALID && strstr(rec_reader_message(r), "key \"k500\" appears twice"),
	      "1000 keys, one twice: %s", rec_reader_message(r));
	rec_reader_free(r);

	/* {"type": "x", "v": [nil x 70000]}: under 1 MiB, over the 65536 values of the floor */
	memcpy(b, "\x82\xa4type\xa1x\xa1v\xdd", 11);
	o = 11;
	b[o++] = 0;
	b[o++] = (unsigned char)(n >> 16);
	b[o++] = (unsigned char)(n >> 8);
	b[o++] = (unsigned char)n;
	memset(b + o, 0xc0, n);
	o += n;
	r = reader_for_bytes(b, o, 1 << 20);
	CHECK(rec_reader_next(r, &rec) == REC_OVERSIZE &&
		      strstr(rec_reader_message(r), "record 0 at byte 0: oversize: at least 70004 msgpack values, limit 65536"),
	      "70000 nils: %s", rec_reader_message(r));
	rec_reader_free(r);
	/* the default limit takes them */
	r = reader_for_bytes(b, o, 0);
	CHECK(rec_reader_next(r, &rec) == REC_OK, "70000 nils, default limit: %s", rec_reader_message(r));
	rec_reader_free(r);
	free(b);
}

/* A record larger than the reader's initial buffer arrives through small reads. */
static void test_large_record(void)
{
	char path[64];
	int fd = tmp_fd(path);
	rec_writer_t *w = rec_writer_open(fd, path);
	size_t n = 9u << 20;
	unsigned char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (unsigned char)(i * 31);
	int64_t shape[1] = {(int64_t)n};
	for (int k = 0; k < 3; k++)
		write_tensor_record(w, DTYPE_UINT8, 1, shape, big);
	rec_writer_flush(w);
	int rfd = open(path, O_RDONLY);
	rec_reader_t *r = rec_reader_open(rfd, path, 0);
	record_t rec;
	for (int k = 0; k < 3; k++) {
		tensor_t t;
		char err[256];
		CHECK(rec_reader_next(r, &rec) == REC_OK && rec_get_tensor(&rec, "tensor", &t, err, sizeof err) == 0 &&
			      t.nbytes == n && memcmp(t.data, big, n) == 0,
		      "large record %d", k);
	}
	CHECK(rec_reader_next(r, &rec) == REC_EOF, "EOF after large records");
	rec_reader_free(r);
	close(rfd);
	rec_writer_close(w);
	unlink(path);
	free(big);
}

static void test_half(void)
{
	const float vals[] = {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.103515625e-05f, 5.960464477539063e-08f, 0.1f, 1e-8f};
	const uint16_t bits[] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x2e66, 0x0000};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		uint16_t h = float_to_half(vals[i]);
		CHECK(h == bits[i], "float_to_half(%g) = 0x%04x, want 0x%04x", vals[i], h, bits[i]);
	}
	CHECK(float_to_half(70000.f) == 0x7c00, "overflow to inf");
	CHECK(isnan(half_to_float(float_to_half(NAN))), "nan stays nan");
	/* every finite half survives half -> float -> half */
	int bad = 0;
	for (uint32_t h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) == 0x7c00)
			continue;
		if (float_to_half(half_to_float((uint16_t)h)) != h)
			bad++;
	}
	CHECK(bad == 0, "%d halves do not round-trip", bad);
}

/* The record builder counts its keys: a record built with N keys reads back
 * as a map of N, byte for byte what packing by hand with the right count
 * gives, tensors included (small ones copied, large ones written from the
 * caller's memory); copied keys count too. */
static void test_builder_counts(void)
{
	char path[64];
	int fd = tmp_fd(path);
	rec_writer_t *w = rec_writer_open(fd, path);
	float small[3] = {1.5f, -2, 0.25f};
	size_t nbig = 5000;
	unsigned char *big = malloc(nbig);
	for (size_t i = 0; i < nbig; i++)
		big[i] = (unsigned char)(i * 13);
	const char *names[2] = {"a", "b\xff"};
	const int64_t two[2] = {7, -300000};
	for (int with_extra = 0; with_extra < 2; with_extra++) {
		rec_builder_t *b = rec_begin(w, "probe");
		rb_str(b, "id", "x");
		rb_str(b, "none", NULL);
		rb_int(b, "n", -5);
		rb_double(b, "d", 0.5);
		rb_bool(b, "t", 1);
		if (with_extra) { /* keys added on a condition are counted as well */
			rb_ints(b, "ints", two, 2);
			rb_floats(b, "floats", small, 3);
			rb_strs(b, "names", names, 2);
		}
		int64_t s1[1] = {3}, s2[2] = {50, 100};
		rb_tensor(b, "small", DTYPE_FLOAT32, 1, s1, small);
		rb_tensor(b, "big", DTYPE_UINT8, 2, s2, big);
		rec_end(b);
	}
	CHECK(rec_writer_records(w) == 2, "records %llu", (unsigned long long)rec_writer_records(w));
	rec_writer_flush(w);

	/* the same records packed by hand */
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int with_extra = 0; with_extra < 2; with_extra++) {
		msgpack_pack_map(&pk, with_extra ? 11 : 8);
		kv_str(&pk, "type", "probe");
		kv_str(&pk, "id", "x");
		kv_str(&pk, "none", NULL);
		kv_int(&pk, "n", -5);
		pk_str(&pk, "d");
		msgpack_pack_double(&pk, 0.5);
		pk_str(&pk, "t");
		msgpack_pack_true(&pk);
		if (with_extra) {
			pk_str(&pk, "ints");
			msgpack_pack_array(&pk, 2);
			msgpack_pack_int64(&pk, 7);
			msgpack_pack_int64(&pk, -300000);
			pk_str(&pk, "floats");
			msgpack_pack_array(&pk, 3);
			for (int i = 0; i < 3; i++)
				msgpack_pack_float(&pk, small[i]);
			pk_str(&pk, "names");
			msgpack_pack_array(&pk, 2);
			pk_str(&pk, "a");
			pk_str(&pk, "b\xff");
		}
		pk_str(&pk, "small");
		msgpack_pack_map(&pk, 3);
		kv_str(&pk, "dtype", "float32");
		pk_str(&pk, "shape");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_int64(&pk, 3);
		pk_str(&pk, "data");
		msgpack_pack_bin(&pk, sizeof small);
		msgpack_pack_bin_body(&pk, small, sizeof small);
		pk_str(&pk, "big");
		msgpack_pack_map(&pk, 3);
		kv_str(&pk, "dtype", "uint8");
		pk_str(&pk, "shape");
		msgpack_pack_array(&pk, 2);
		msgpack_pack_int64(&pk, 50);
		msgpack_pack_int64(&pk, 100);
		pk_str(&pk, "data");
		msgpack_pack_bin(&pk, nbig);
		msgpack_pack_bin_body(&pk, big, nbig);
	}
	unsigned char *got = malloc(sb.size + 1);
	ssize_t n = pread(fd, got, sb.size + 1, 0);
	CHECK(n == (ssize_t)sb.size && memcmp(got, sb.data, sb.size) == 0, "built %zd bytes, by hand %zu, or they differ",
	      n, sb.size);
	free(got);
	msgpack_sbuffer_destroy(&sb);

	int rfd = open(path, O_RDONLY);
	rec_reader_t *r = rec_reader_open(rfd, path, 0);
	record_t rec;
	for (int with_extra = 0; with_extra < 2; with_extra++) {
		CHECK(rec_reader_next(r, &rec) == REC_OK, "built record: %s", rec_reader_message(r));
		CHECK(rec.root.via.map.size == (with_extra ? 11u : 8u), "built with %d keys, read %u", with_extra ? 11 : 8,
		      rec.root.via.map.size);
		tensor_t t;
		char err[256];
		CHECK(rec_get_tensor(&rec, "big", &t, err, sizeof err) == 0 && t.nbytes == nbig &&
			      memcmp(t.data, big, nbig) == 0 && rec_get(&rec, "big")->via.map.size == 3,
		      "big tensor: %s", err);
	}
	CHECK(rec_reader_next(r, &rec) == REC_EOF, "EOF after the built records");

	rec_reader_free(r);
	close(rfd);
	rec_writer_close(w);
	unlink(path);
	free(big);
}

/* A reader of one record: "type" and keys k0..k(n-1). */
static rec_reader_t *reader_of_keys(int n)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (size_t)n + 1);
	kv_str(&pk, "type", "wide");
	for (int i = 0; i < n; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		kv_int(&pk, k, i);
	}
	rec_reader_t *r = reader_for_bytes(sb.data, sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

/* Run dup(kind) in a child writing to a file: 2 with "written twice" on
 * stderr and no byte of the record on the output, or a message why not. */
static void expect_refused(int kind, const char *what)
{
	char out[64], errp[64];
	int ofd = tmp_fd(out), efd = tmp_fd(errp);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(efd, 2);
		rec_writer_t *w = rec_writer_open(ofd, out);
		rec_builder_t *b = rec_begin(w, "probe");
		static const char *const skip[] = {"type", NULL};
		record_t rec;
		/* static, and volatile so the store is kept: still reachable when
		 * the refusal exits, so ASan's leak check does not make exit 2 a 1 */
		static rec_reader_t *volatile r;
		r = reader_of_keys(kind == 2 ? 100 : 3);
		switch (kind) {
		case 0: /* a key twice */
			rb_str(b, "id", "a");
			rb_int(b, "id", 1);
			break;
		case 1: /* a copied key the caller adds too (its skip list misses it) */
		case 2: /* the same past 32 keys, where they are hashed */
			if (rec_reader_next(r, &rec) != REC_OK)
				_exit(3);
			rb_copy_keys_except(b, &rec, skip);
			rb_int(b, kind == 1 ? "k2" : "k77", 0);
			break;
		case 3: /* "type" again */
			rb_str(b, "type", "other");
			break;
		}
		rec_end(b);
		rec_writer_close(w);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	char msg[512] = "";
	ssize_t n = pread(efd, msg, sizeof msg - 1, 0);
	msg[n > 0 ? n : 0] = 0;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(msg, "written twice"), "%s: status %d, stderr '%s'", what,
	      st, msg);
	CHECK(lseek(ofd, 0, SEEK_END) == 0, "%s: the refused record was written", what);
	close(ofd);
	close(efd);
	unlink(out);
	unlink(errp);
}

/* Copied keys are counted with the caller's; a key twice is refused, as
 * the reader refuses such a record. */
static void test_builder_copy_and_duplicates(void)
{
	char path[64];
	int fd = tmp_fd(path);
	rec_writer_t *w = rec_writer_open(fd, path);
	static const char *const skip[] = {"type", "k3", "k999", NULL};
	record_t in;
	rec_reader_t *src = reader_of_keys(1000);
	CHECK(rec_reader_next(src, &in) == REC_OK, "wide record: %s", rec_reader_message(src));
	rec_builder_t *b = rec_begin(w, "copy");
	rb_copy_keys_except(b, &in, skip);
	rb_str(b, "k3", "mine");
	rec_end(b);
	rec_reader_free(src);
	rec_writer_flush(w);
	int rfd = open(path, O_RDONLY);
	rec_reader_t *r = rec_reader_open(rfd, path, 0);
	record_t rec;
	int64_t v = -1;
	CHECK(rec_reader_next(r, &rec) == REC_OK && rec.root.via.map.size == 1 + 998 + 1, "copied: %s, %u keys",
	      rec_reader_message(r), rec.root.via.map.size);
	CHECK(rec_get_int(&rec, "k500", &v) == 0 && v == 500 && !rec_get(&rec, "k999") && obj_str_eq(rec_get(&rec, "k3"), "mine"),
	      "copied keys");
	rec_reader_free(r);
	close(rfd);
	rec_writer_close(w);
	unlink(path);

	expect_refused(0, "a key twice");
	expect_refused(1, "a copied key added again");
	expect_refused(2, "a copied key added again, past 32 keys");
	expect_refused(3, "type twice");
}

int main(int argc, char **argv)
{
	(void)argc;
	diag_init(argv[0]);
	test_round_trip();
	test_pass_and_concat();
	test_failures();
	test_many_keys_and_values();
	test_large_record();
	test_half();
	test_builder_counts();
	test_builder_copy_and_duplicates();
	return check_report();
}
