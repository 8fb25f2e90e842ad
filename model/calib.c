/* calib.c - INT8's calibration as a file: one `calibration` record
 * (doc/records.md), written by rnencode --save-calibration and read by
 * rnencode --calibration. Reading it is reading outside data: every field is
 * checked here (fuzz/fuzz_calib.c); whether it fits the network loaded is
 * the caller's check (model, weights, count).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/stream.h"
#include "util/util.h"
#include "net.h"

/* Large enough for any network's scales (a float each), small enough that a
 * wrong file is refused before it is read whole. */
enum { CALIB_MAX_RECORD = 1 << 20 };

int net_calib_scale_ok(float s)
{
	return s >= CALIB_SCALE_MIN && s <= CALIB_SCALE_MAX; /* false for NaN */
}

static int get_str(const record_t *rec, const char *key, char *dst, size_t cap, int hex, const char *path, char *err,
		   size_t errcap)
{
	const char *s;
	size_t n;
	if (rec_get_str(rec, key, &s, &n) != 0) {
		snprintf(err, errcap, "%s: the calibration record has no str '%s'", path, key);
		return -1;
	}
	if (n >= cap || memchr(s, 0, n)) {
		snprintf(err, errcap, "%s: the calibration record's '%s' is not a %s", path, key,
			 hex ? "sha256 (64 hex digits)" : "name");
		return -1;
	}
	for (size_t i = 0; hex && i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')) || n != 64) {
			snprintf(err, errcap, "%s: the calibration record's '%s' is not a sha256 (64 hex digits)", path,
				 key);
			return -1;
		}
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

static int calib_from_record(const record_t *rec, net_calib_t *c, const char *path, char *err, size_t errcap)
{
	if (!rec_is(rec, "calibration")) {
		snprintf(err, errcap, "%s: not a calibration record (type '%.*s')", path, (int)(rec->type_len > 40 ? 40 : rec->type_len),
			 rec->type);
		return -1;
	}
	char set[4096]; /* PATH_MAX: any path --calibrate could open */
	if (get_str(rec, "model", c->model, sizeof c->model, 0, path, err, errcap) ||
	    get_str(rec, "weights_sha256", c->weights_sha256, sizeof c->weights_sha256, 1, path, err, errcap) ||
	    get_str(rec, "observer", c->observer, sizeof c->observer, 0, path, err, errcap) ||
	    get_str(rec, "set", set, sizeof set, 0, path, err, errcap))
		return -1;
	if (rec_get_int(rec, "images", &c->images) != 0 || c->images < 1) {
		snprintf(err, errcap, "%s: the calibration record has no 'images' count of at least 1", path);
		return -1;
	}
	tensor_t t;
	char terr[256];
	if (rec_get_tensor(rec, "tensor", &t, terr, sizeof terr) != 0) {
		snprintf(err, errcap, "%s: the calibration record's scales: %s", path, rec_get(rec, "tensor") ? terr : "no 'tensor'");
		return -1;
	}
	if (t.dtype != DTYPE_FLOAT32 || t.ndim != 1 || t.shape[0] < 1 || t.shape[0] > 1 << 16) {
		char sh[96];
		snprintf(err, errcap, "%s: the calibration record's scales are %s %s, not float32 [convolutions]", path,
			 dtype_name(t.dtype), tensor_shape_str(t.shape, t.ndim, sh, sizeof sh));
		return -1;
	}
	c->n = (int)t.shape[0];
	c->scale = xmalloc((size_t)c->n * sizeof *c->scale);
	memcpy(c->scale, t.data, (size_t)c->n * sizeof *c->scale);
	for (int i = 0; i < c->n; i++)
		if (!net_calib_scale_ok(c->scale[i])) {
			snprintf(err, errcap, "%s: scale %d of %d is %g: a scale is a number from %g to %g", path, i,
				 c->n, (double)c->scale[i], (double)CALIB_SCALE_MIN, (double)CALIB_SCALE_MAX);
			return -1;
		}
	c->set = xstrdup(set);
	return 0;
}

int net_calib_read(const char *path, net_calib_t *c, char *err, size_t errcap)
{
	memset(c, 0, sizeof *c);
	int fd = file_open_input(path, 0, err, errcap);
	if (fd < 0)
		return -1;
	rec_reader_t *r = rec_reader_open(fd, path, CALIB_MAX_RECORD);
	rec_reader_hash(r);
	record_t rec;
	int rc = -1;
	rec_status_t st = rec_reader_next(r, &rec);
	if (st == REC_EOF)
		snprintf(err, errcap, "%s: empty: no calibration record", path);
	else if (st != REC_OK)
		snprintf(err, errcap, "%s", rec_reader_message(r));
	else if (calib_from_record(&rec, c, path, err, errcap) == 0) {
		st = rec_reader_next(r, &rec);
		if (st == REC_EOF)
			rc = rec_reader_sha256(r, c->sha256) == 0 ? 0 : -1;
		if (st == REC_OK || st == REC_INVALID)
			snprintf(err, errcap, "%s: a record after the calibration record: one record is a calibration", path);
		else if (st != REC_EOF)
			snprintf(err, errcap, "%s", rec_reader_message(r));
		else if (rc)
			snprintf(err, errcap, "%s: internal: no sha256", path);
	}
	rec_reader_free(r);
	close(fd);
	if (rc)
		net_calib_free(c);
	return rc;
}

void net_calib_write(const char *path, const net_calib_t *c)
{
	rec_writer_t *w = rec_writer_open_path(path);
	rec_builder_t *b = rec_begin(w, "calibration");
	rb_str(b, "producer", diag_prog());
	rb_str(b, "model", c->model);
	rb_str(b, "weights_sha256", c->weights_sha256);
	rb_str(b, "set", c->set);
	rb_str(b, "set_sha256", c->set_sha256);
	rb_int(b, "images", c->images);
	rb_str(b, "observer", c->observer);
	int64_t shape[1] = {c->n};
	rb_tensor(b, "tensor", DTYPE_FLOAT32, 1, shape, c->scale);
	rec_end(b);
	rec_writer_close(w);
}

void net_calib_free(net_calib_t *c)
{
	free(c->scale);
	free(c->set);
	memset(c, 0, sizeof *c);
}
