/* bf16_ref.h - bfloat16 for the GPU tests' host stand-ins (fake_cuda.cc,
 * kernel_emu.cc, plan_sim.cc, text_sim.cc), written from the format's
 * definition rather than taken from cuda_bf16.h, which the code under test
 * uses: a bfloat16 is the upper 16 bits of an IEEE float32 (sign, 8 exponent
 * bits, 7 fraction bits); a float converts by rounding to nearest, ties to
 * even; a NaN stays a quiet NaN. */
#ifndef TESTS_GPU_BF16_REF_H
#define TESTS_GPU_BF16_REF_H

#include <cstdint>
#include <cstring>

inline float bf16_ref_value(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

inline uint16_t bf16_ref_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
		return (uint16_t)((u >> 16) | 0x0040u); /* NaN: the sign kept, the quiet bit set */
	u += 0x7fffu + ((u >> 16) & 1u);         /* to nearest; a tie to the even upper half */
	return (uint16_t)(u >> 16);
}

/* f rounded to bfloat16 and back */
inline float bf16_ref_round(float f) { return bf16_ref_value(bf16_ref_bits(f)); }

#endif
