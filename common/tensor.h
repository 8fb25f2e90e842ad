/* tensor.h - the tensor value every record carries, and dtype helpers.
 *
 * A tensor here is a view: dtype, shape and a pointer to C-order little-endian
 * data that someone else owns (a record's buffer, a mapped checkpoint, a
 * caller's array). Nothing in this header allocates.
 */
#ifndef COMMON_TENSOR_H
#define COMMON_TENSOR_H

#include <stddef.h>
#include <stdint.h>

enum {
	TENSOR_MAX_DIMS = 8
};

typedef enum {
	DTYPE_UINT8,
	DTYPE_FLOAT16,
	DTYPE_FLOAT32,
	DTYPE_INT32,
	DTYPE_INT64,
	DTYPE_BFLOAT16, /* checkpoints only; never written into records */
	DTYPE_FLOAT64,  /* checkpoints only */
	DTYPE_INT8,     /* checkpoints only */
	DTYPE_INT16,    /* checkpoints only */
	DTYPE_BOOL,     /* checkpoints only */
	DTYPE_COUNT
} dtype_t;

typedef struct {
	dtype_t dtype;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	const void *data;
	size_t nbytes;
} tensor_t;

/* numpy name ("float32") of a dtype. */
const char *dtype_name(dtype_t d);
/* Parse a numpy name; returns 0 and sets *out, or -1 if unknown. Only the
 * record dtypes (uint8 float16 float32 int32 int64) are accepted when
 * records_only is nonzero. */
int dtype_parse(const char *s, size_t len, int records_only, dtype_t *out);
size_t dtype_size(dtype_t d);

/* Number of elements of shape[0..ndim), or -1 if a dimension is negative or
 * the product overflows int64 (or exceeds SIZE_MAX bytes at itemsize). */
int64_t tensor_shape_numel(const int64_t *shape, int ndim, size_t itemsize);
int64_t tensor_numel(const tensor_t *t);

/* Format "[224,224,3]" into buf; returns buf. */
char *tensor_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

/* IEEE half <-> float, round to nearest even. */
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);

/* Convert n elements of any numeric dtype to float32. */
void tensor_convert_to_f32(dtype_t d, const void *src, float *dst, size_t n);
/* float32 -> float16, n elements. */
void tensor_f32_to_f16(const float *src, uint16_t *dst, size_t n);

#endif
