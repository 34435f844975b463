/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_impl.h - the 16-bit sample kernels written once against vec.h;
 * samples16_avx2.c and samples16_avx512.c build them (simd/isa_build.h).  Each loop runs
 * over whole vectors and hands the remaining samples to the scalar twin, which is also
 * the reference. */
#include "simd/kernels.h"
#include "simd/x86/vec.h"

#define LANES16 (VEC_BYTES / 2)

void
RP__ISA_FN(rp__bswap16)(void *dst, const void *src, size_t count)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	const __m128i swap = _mm_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
	size_t i = 0;

	/* Load before store keeps dst == src correct. */
	for (; i + LANES16 <= count; i += LANES16)
		vec_storeu(d + 2 * i, vec_shuffle_lanes(vec_loadu(s + 2 * i), swap));
	rp__bswap16_scalar(d + 2 * i, s + 2 * i, count - i);
}

int
RP__ISA_FN(rp__bits_clean16)(const void *src, size_t count, unsigned bits, int is_signed)
{
	const uint8_t *s = src;
	const __m128i sh = _mm_cvtsi32_si128((int)(bits - 1));
	const vec_t one = vec_set1_16(1);
	/* Unsigned images: no lane can equal this (t <= 1 < ones unless bits == 16). */
	const vec_t ones = is_signed ? vec_set1_16((int16_t)(uint16_t)(0xffffu >> (bits - 1)))
				     : vec_zero();
	vec_t ok = vec_set1_16(-1);
	size_t i = 0;

	/* Same rule as the scalar twin: t = v >> (bits-1) is 0 or 1, or (signed) all ones.
	 * The verdict is ANDed over the frame and read once at the end: frames are clean
	 * nearly always, so an early exit would only add a branch per vector. */
	for (; i + LANES16 <= count; i += LANES16) {
		vec_t t = vec_srl16(vec_loadu(s + 2 * i), sh);
		vec_t low = vec_eq16(vec_min_u16(t, one), t);
		vec_t ext = is_signed ? vec_eq16(t, ones) : vec_zero();
		ok = vec_and(ok, vec_or(low, ext));
	}
	return vec_all_ones(ok) && rp__bits_clean16_scalar(s + 2 * i, count - i, bits, is_signed);
}

void
RP__ISA_FN(rp__mask16)(void *dst, const void *src, size_t count, unsigned bits)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	const vec_t m = vec_set1_16((int16_t)(uint16_t)((1u << bits) - 1));
	size_t i = 0;

	for (; i + LANES16 <= count; i += LANES16)
		vec_storeu(d + 2 * i, vec_and(vec_loadu(s + 2 * i), m));
	rp__mask16_scalar(d + 2 * i, s + 2 * i, count - i, bits);
}

void
RP__ISA_FN(rp__sext16)(void *dst, const void *src, size_t count, unsigned bits)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	const __m128i up = _mm_cvtsi32_si128((int)(16 - bits));
	size_t i = 0;

	for (; i + LANES16 <= count; i += LANES16)
		vec_storeu(d + 2 * i, vec_sra16(vec_sll16(vec_loadu(s + 2 * i), up), up));
	rp__sext16_scalar(d + 2 * i, s + 2 * i, count - i, bits);
}
