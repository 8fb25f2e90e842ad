/* timing.c - see util/util.h. */
#include "util/util.h"

#include <math.h>

static void welford_add(double *mean, double *m2, long count, double x)
{
	double d = x - *mean;
	*mean += d / (double)count;
	*m2 += d * (x - *mean);
}

void timing_add(timing_t *t, double seconds, int n, int full)
{
	if (n < 1)
		return;
	t->batches++;
	welford_add(&t->i_mean, &t->i_m2, t->batches, seconds / n);
	if (!full)
		return;
	t->full++;
	welford_add(&t->b_mean, &t->b_m2, t->full, seconds);
	if (t->full == 1 || seconds < t->b_min)
		t->b_min = seconds;
}

static double sample_std(double m2, long count)
{
	return count > 1 && m2 > 0 ? sqrt(m2 / (double)(count - 1)) : 0.0;
}

timing_summary_t timing_summary(const timing_t *t)
{
	timing_summary_t s = {0};
	s.full_batches = t->full;
	s.batch_mean_s = t->b_mean;
	s.batch_std_s = sample_std(t->b_m2, t->full);
	s.batch_min_s = t->b_min;
	s.image_mean_s = t->i_mean;
	s.image_std_s = sample_std(t->i_m2, t->batches);
	return s;
}
