/* test_timing.c - common/util/timing.c: the batch figures against the two-pass
 * formulas (mean, then the sample standard deviation of the deviations),
 * full vs partial batches, the minimum, fewer than two batches, and a long
 * run of nearly equal times where sums of squares would cancel. */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "util/util.h"

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 + 1e-9 * fabs(b); }

int main(void)
{
	/* 4 full batches of 8 and a partial one of 3 */
	const double sec[] = {0.040, 0.044, 0.039, 0.049, 0.020};
	const int n[] = {8, 8, 8, 8, 3};
	timing_t t = {0};
	for (int i = 0; i < 5; i++)
		timing_add(&t, sec[i], n[i], n[i] == 8);
	timing_summary_t s = timing_summary(&t);
	double bm = (0.040 + 0.044 + 0.039 + 0.049) / 4, bv = 0;
	for (int i = 0; i < 4; i++)
		bv += (sec[i] - bm) * (sec[i] - bm);
	double im = 0, iv = 0;
	for (int i = 0; i < 5; i++)
		im += sec[i] / n[i] / 5;
	for (int i = 0; i < 5; i++)
		iv += (sec[i] / n[i] - im) * (sec[i] / n[i] - im);
	CHECK(s.full_batches == 4, "full batches %ld", s.full_batches);
	CHECK(close_to(s.batch_mean_s, bm), "batch mean %.17g, want %.17g", s.batch_mean_s, bm);
	CHECK(close_to(s.batch_std_s, sqrt(bv / 3)), "batch std %.17g, want %.17g", s.batch_std_s, sqrt(bv / 3));
	CHECK(s.batch_min_s == 0.039, "batch min %.17g", s.batch_min_s);
	CHECK(close_to(s.image_mean_s, im), "image mean %.17g, want %.17g", s.image_mean_s, im);
	CHECK(close_to(s.image_std_s, sqrt(iv / 4)), "image std %.17g, want %.17g", s.image_std_s, sqrt(iv / 4));

	/* nothing timed, one batch, an empty batch */
	timing_t z = {0};
	s = timing_summary(&z);
	CHECK(s.full_batches == 0 && s.batch_mean_s == 0 && s.batch_std_s == 0 && s.batch_min_s == 0 &&
		      s.image_mean_s == 0 && s.image_std_s == 0,
	      "empty summary not all zero");
	timing_add(&z, 0.5, 0, 1);
	CHECK(z.batches == 0, "a batch of 0 images counted");
	timing_add(&z, 0.5, 4, 1);
	s = timing_summary(&z);
	CHECK(s.batch_mean_s == 0.5 && s.batch_std_s == 0 && s.image_mean_s == 0.125 && s.image_std_s == 0,
	      "one batch: mean %g std %g", s.batch_mean_s, s.batch_std_s);

	/* 1e6 batches of 1000 s +- 1e-6: sums of squares lose the spread entirely */
	timing_t l = {0};
	for (int i = 0; i < 1000000; i++)
		timing_add(&l, 1000.0 + (i % 2 ? 1e-6 : -1e-6), 1, 1);
	s = timing_summary(&l);
	CHECK(fabs(s.batch_std_s - 1e-6) < 1e-8, "long run std %.17g, want 1e-6", s.batch_std_s);
	return check_report();
}
