/* opt.c - option parsing under our name, option values, --device. */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char *argv0 = argv[0];
	argv[0] = (char *)diag_prog();
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);
	argv[0] = argv0;
	if (c == OPT_VERSION_VAL) {
		printf("%s %s\n", diag_prog(), PROJECT_VERSION);
		diag_help_done();
	}
	return c;
}

void opt_old_spelling(const char *old, const char *new_spelling)
{
	static const char *noted[32];
	static int nnoted;
	for (int i = 0; i < nnoted; i++)
		if (strcmp(noted[i], old) == 0)
			return;
	if (nnoted < (int)(sizeof noted / sizeof *noted))
		noted[nnoted++] = old;
	diag_msg("note: %s is an old spelling: use %s (the old one works in this release only)", old, new_spelling);
}

long opt_parse_long(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		diag_usage("%s: '%s' is not an integer", opt, s);
	if (v < lo || v > hi)
		diag_usage("%s: %ld is out of range %ld..%ld", opt, v, lo, hi);
	return v;
}

device_t opt_parse_device(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return DEVICE_AUTO;
	if (strcmp(s, "cpu") == 0)
		return DEVICE_CPU;
	if (strcmp(s, "cuda") != 0)
		diag_usage("--device: '%s' is not auto, cpu or cuda", s);
	return DEVICE_CUDA;
}

static const char *const precision_names[] = {"fp32", "tf32", "bf16", "fp16", "int8"};

precision_t opt_parse_precision(const char *s)
{
	for (int i = 0; i < (int)(sizeof precision_names / sizeof *precision_names); i++)
		if (strcmp(s, precision_names[i]) == 0)
			return (precision_t)i;
	diag_usage("--precision: '%s' is not fp32, tf32, bf16, fp16 or int8", s);
}

const char *precision_name(precision_t p)
{
	return (unsigned)p < sizeof precision_names / sizeof *precision_names ? precision_names[p] : "?";
}

void opt_set_precision(precision_t *p, int *given, precision_t v)
{
	if (*given && *p != v)
		diag_usage("--precision: %s and %s both given", precision_name(*p), precision_name(v));
	*p = v;
	*given = 1;
}

int device_use_cuda(device_t dev, int gpu, int (*cuda_available)(int gpu, char *why, size_t whycap))
{
	/* the CPU note once per run: rnencode starts a model again at each
	 * header of concatenated streams (cat a.mp b.mp) */
	static int noted;
	if (dev == DEVICE_CPU)
		return 0;
	if (!cuda_available) {
		if (dev == DEVICE_CUDA)
			diag_fatal("--device cuda: this %s was built without CUDA (no nvcc at build time); "
				   "use --device cpu",
				   diag_prog());
		if (!noted++)
			diag_msg("built without CUDA: using the CPU");
		return 0;
	}
	char why[256] = "";
	if (cuda_available(gpu, why, sizeof why))
		return 1;
	if (dev == DEVICE_CUDA)
		diag_fatal("--device cuda: %s", why);
	if (!noted++)
		diag_msg("no usable GPU (%s): using the CPU", why);
	return 0;
}

double opt_parse_double(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		diag_usage("%s: '%s' is not a finite number", opt, s);
	return v;
}

void opt_parse_floats(const char *opt, const char *s, float *out, int n)
{
	const char *p = s;
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (errno || end == p || !isfinite(v))
			diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
		out[i] = (float)v;
		p = end;
		if (i + 1 < n) {
			if (*p != ',')
				diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
			p++;
		}
	}
	if (*p)
		diag_usage("%s: '%s' is not %d comma-separated numbers", opt, s, n);
}

int parse_index(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < 0 || x > INT32_MAX)
		return -1;
	*v = x;
	return 0;
}
