/* timing.h - the batch timing figures of the encoders' stats records.
 *
 * Both rnencode backends (model/cpu_dnnl.c, gpu/gpu_encoder.cu) feed every
 * timed batch here, so their "batch_mean_s", "batch_std_s", "batch_min_s",
 * "image_mean_s" and "image_std_s" mean the same thing. The caller decides
 * which batches are warm-up and leaves them out. Batch figures count full
 * batches only (a last partial batch would drag the mean down); per-image
 * figures (batch time / n) count every timed batch. Running means and sums
 * of squared deviations (Welford): no cancellation however long the run.
 */
#ifndef COMMON_TIMING_H
#define COMMON_TIMING_H

typedef struct {
	long batches;        /* timed batches */
	long full;           /* of which full: the batch figures */
	double b_mean, b_m2; /* full batches: mean seconds, sum of squared deviations */
	double b_min;        /* the fastest full batch, 0 before the first */
	double i_mean, i_m2; /* per image, every timed batch */
} timing_t;

/* One timed batch of n images that took `seconds`; full: n is the batch size. */
void timing_add(timing_t *t, double seconds, int n, int full);

typedef struct {
	long full_batches;
	double batch_mean_s, batch_std_s, batch_min_s; /* sample std (n - 1); 0 below two batches */
	double image_mean_s, image_std_s;
} timing_summary_t;

timing_summary_t timing_summary(const timing_t *t);

#endif
