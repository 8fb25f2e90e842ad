/* timing.c - clocks, peak memory, and the encoders' batch timing figures. */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <math.h>
#include <sys/resource.h>
#include <time.h>

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

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void time_format(double seconds, char *buf, size_t cap)
{
	if (!(seconds >= 0) || seconds > 1e9) {
		snprintf(buf, cap, "?");
		return;
	}
	long s = (long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

long long mem_peak_rss(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (long long)ru.ru_maxrss * 1024;
}
