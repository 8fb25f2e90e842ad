/* tensor.c - dtype names, shape arithmetic, and half-precision conversion. */
#include "util/util.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
	int in_records;
} dtype_table[DTYPE_COUNT] = {
	[DTYPE_UINT8] = {"uint8", 1, 1},     [DTYPE_FLOAT16] = {"float16", 2, 1},
	[DTYPE_FLOAT32] = {"float32", 4, 1}, [DTYPE_INT32] = {"int32", 4, 1},
	[DTYPE_INT64] = {"int64", 8, 1},     [DTYPE_BFLOAT16] = {"bfloat16", 2, 0},
	[DTYPE_FLOAT64] = {"float64", 8, 0}, [DTYPE_INT8] = {"int8", 1, 0},
	[DTYPE_INT16] = {"int16", 2, 0},     [DTYPE_BOOL] = {"bool", 1, 0},
};

const char *dtype_name(dtype_t d)
{
	return (unsigned)d < DTYPE_COUNT ? dtype_table[d].name : "?";
}

size_t dtype_size(dtype_t d)
{
	return (unsigned)d < DTYPE_COUNT ? dtype_table[d].size : 0;
}

int dtype_parse(const char *s, size_t len, int records_only, dtype_t *out)
{
	for (int i = 0; i < DTYPE_COUNT; i++) {
		if (records_only && !dtype_table[i].in_records)
			continue;
		if (strlen(dtype_table[i].name) == len && memcmp(dtype_table[i].name, s, len) == 0) {
			*out = (dtype_t)i;
			return 0;
		}
	}
	return -1;
}

int64_t tensor_shape_numel(const int64_t *shape, int ndim, size_t itemsize)
{
	if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
		return -1;
	uint64_t n = 1;
	/* Byte limit keeps n * itemsize representable in size_t and int64. */
	uint64_t limit = (uint64_t)INT64_MAX / (itemsize ? itemsize : 1);
	if (limit > SIZE_MAX / (itemsize ? itemsize : 1))
		limit = SIZE_MAX / (itemsize ? itemsize : 1);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] == 0)
			n = 0;
		else if (n != 0 && (uint64_t)shape[i] > limit / n)
			return -1;
		else
			n *= (uint64_t)shape[i];
	}
	return (int64_t)n;
}

int64_t tensor_numel(const tensor_t *t)
{
	return tensor_shape_numel(t->shape, t->ndim, dtype_size(t->dtype));
}

char *tensor_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap)
{
	/* o stays within the buffer: a pointer past its end is undefined even unused */
	size_t o = 0;
	o += (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < ndim && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? "," : "", (long long)shape[i]);
	if (o < cap)
		snprintf(buf + o, cap - o, "]");
	return buf;
}

float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	uint32_t bits;
	if (exp == 0) {
		if (mant == 0) {
			bits = sign;
		} else { /* subnormal: normalise */
			exp = 127 - 15 + 1;
			while (!(mant & 0x400)) {
				mant <<= 1;
				exp--;
			}
			mant &= 0x3ff;
			bits = sign | (exp << 23) | (mant << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t absx = x & 0x7fffffffu;
	if (absx >= 0x7f800000u) /* inf or nan; keep nan quiet */
		return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
	if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00);
	if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
		if (absx < 0x33000000u) /* below half of the smallest subnormal */
			return (uint16_t)sign;
		uint32_t e = absx >> 23;
		uint32_t m = (absx & 0x7fffff) | 0x800000;
		uint32_t shift = 126 - e; /* 14 + (112 - e) + ... maps to 2^-24 units */
		uint32_t r = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1);
		uint32_t halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
	uint32_t rem = r & 0x1fff;
	r >>= 13;
	if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

float bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t float_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if (f != f)
		return (uint16_t)((u | 0x00400000u) >> 16);
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void tensor_convert_to_f32(dtype_t d, const void *src, float *dst, size_t n)
{
	const unsigned char *p = src;
	for (size_t i = 0; i < n; i++) {
		switch (d) {
		case DTYPE_UINT8: dst[i] = p[i]; break;
		case DTYPE_BOOL: dst[i] = p[i] != 0; break;
		case DTYPE_INT8: dst[i] = (int8_t)p[i]; break;
		case DTYPE_FLOAT16: {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			dst[i] = half_to_float(h);
			break;
		}
		case DTYPE_BFLOAT16: {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			dst[i] = bf16_to_float(h);
			break;
		}
		case DTYPE_INT16: {
			int16_t v;
			memcpy(&v, p + 2 * i, 2);
			dst[i] = v;
			break;
		}
		case DTYPE_FLOAT32: memcpy(dst + i, p + 4 * i, 4); break;
		case DTYPE_INT32: {
			int32_t v;
			memcpy(&v, p + 4 * i, 4);
			dst[i] = (float)v;
			break;
		}
		case DTYPE_INT64: {
			int64_t v;
			memcpy(&v, p + 8 * i, 8);
			dst[i] = (float)v;
			break;
		}
		case DTYPE_FLOAT64: {
			double v;
			memcpy(&v, p + 8 * i, 8);
			dst[i] = (float)v;
			break;
		}
		default: dst[i] = 0; break;
		}
	}
}

void tensor_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = float_to_half(src[i]);
}
