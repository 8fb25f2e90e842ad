/* netref - the reference forward (model/ref.c) over image records, for the
 * parity tests' second oracle.
 *
 *   netref CKPT IMAGES.mp OUT.f32 [features]
 *
 * The network is what CKPT holds (net_load); each uint8 [S,S,3] image record
 * is normalized as rnencode normalizes it and run through net_ref_forward;
 * OUT.f32 gets float32 [n][out_dim] back to back. Exit 0, or 2 with one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "model/net.h"
#include "stream/stream.h"
#include "util/util.h"

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	if (argc < 4 || argc > 5)
		diag_usage("usage: netref CKPT IMAGES.mp OUT.f32 [features]");
	int features = argc == 5 && strcmp(argv[4], "features") == 0;
	char err[1024];
	ckpt_t *ck = ckpt_open(argv[1], err, sizeof err);
	if (!ck)
		diag_fatal("%s", err);
	net_t net;
	if (net_load(&net, ck, NULL, err, sizeof err) != 0)
		diag_fatal("%s: %s", argv[1], err);
	ckpt_free(ck);
	rec_reader_t *rd = rec_reader_open_path(argv[2], REC_DEFAULT_MAX_RECORD);
	FILE *out = fopen(argv[3], "wb");
	if (!rd || !out)
		diag_fatal("cannot open %s or %s", argv[2], argv[3]);
	int S = net.input_size, dim = net_output_dim(&net, features);
	size_t plane = (size_t)S * (size_t)S;
	float *x = xmalloc(3 * plane * sizeof *x), *y = xmalloc((size_t)dim * sizeof *y);
	record_t rec;
	for (rec_status_t st; (st = rec_reader_next(rd, &rec)) != REC_EOF;) {
		if (st != REC_OK)
			diag_fatal("%s", rec_reader_message(rd));
		if (!rec_is(&rec, "image"))
			continue;
		tensor_t t;
		if (rec_get_tensor(&rec, "tensor", &t, err, sizeof err) != 0 || t.dtype != DTYPE_UINT8 || t.ndim != 3 ||
		    t.shape[0] != S || t.shape[1] != S || t.shape[2] != 3)
			diag_fatal("%s: record %llu is no uint8 [%d,%d,3] image", argv[2], (unsigned long long)rec.index, S, S);
		const unsigned char *u8 = t.data;
		for (int c = 0; c < 3; c++)
			for (size_t k = 0; k < plane; k++)
				x[(size_t)c * plane + k] = ((float)u8[3 * k + (size_t)c] / 255.0f - net.mean[c]) / net.std[c];
		if (net_ref_forward(&net, x, features, y) != 0)
			diag_fatal("out of memory");
		if (fwrite(y, sizeof *y, (size_t)dim, out) != (size_t)dim)
			diag_fatal("%s: write failed", argv[3]);
	}
	if (fclose(out) != 0)
		diag_fatal("%s: write failed", argv[3]);
	rec_reader_free(rd);
	free(x);
	free(y);
	net_free(&net);
	return 0;
}
