/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_impl.h - the 16-bit sample kernels written once against vec.h;
 * samples16_avx2.c and samples16_avx512.c instantiate them.  Each loop runs over whole
 * vectors (two per iteration where a reduction benefits from independent chains) and
 * hands the remaining samples to the scalar twin, which is also the reference. */
#include "simd/kernels.h"
#include "simd/x86/vec.h"

#define LANES16 (VEC_BYTES / 2)

void
VEC_SUFFIX(rp__bswap16)(void *dst, const void *src, size_t count)
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

/* Two accumulators per bound: min/max latency is 1 cycle but throughput 2 per cycle, so
 * one chain would leave half the ports idle on large frames. */
#define RP__MINMAX_BODY(T, vmin, vmax, lo0, hi0)                                       \
	const uint8_t *s = src;                                                         \
	size_t i = 0;                                                                   \
	T lo = lo0, hi = hi0;                                                           \
	if (count >= 2 * LANES16) {                                                     \
		vec_t mn0 = vec_loadu(s), mx0 = mn0;                                    \
		vec_t mn1 = vec_loadu(s + VEC_BYTES), mx1 = mn1;                        \
		for (i = 2 * LANES16; i + 2 * LANES16 <= count; i += 2 * LANES16) {     \
			vec_t a = vec_loadu(s + 2 * i);                                 \
			vec_t b = vec_loadu(s + 2 * i + VEC_BYTES);                     \
			mn0 = vmin(mn0, a);                                             \
			mx0 = vmax(mx0, a);                                             \
			mn1 = vmin(mn1, b);                                             \
			mx1 = vmax(mx1, b);                                             \
		}                                                                       \
		mn0 = vmin(mn0, mn1);                                                   \
		mx0 = vmax(mx0, mx1);                                                   \
		T tmn[LANES16], tmx[LANES16];                                           \
		vec_storeu(tmn, mn0);                                                   \
		vec_storeu(tmx, mx0);                                                   \
		for (size_t j = 0; j < LANES16; j++) {                                  \
			lo = tmn[j] < lo ? tmn[j] : lo;                                 \
			hi = tmx[j] > hi ? tmx[j] : hi;                                 \
		}                                                                       \
	}                                                                               \
	T tlo, thi;

void
VEC_SUFFIX(rp__minmax_u16)(const void *src, size_t count, uint16_t *min, uint16_t *max)
{
	RP__MINMAX_BODY(uint16_t, vec_min_u16, vec_max_u16, UINT16_MAX, 0)
	rp__minmax_u16_scalar(s + 2 * i, count - i, &tlo, &thi);
	*min = tlo < lo ? tlo : lo;
	*max = thi > hi ? thi : hi;
}

void
VEC_SUFFIX(rp__minmax_s16)(const void *src, size_t count, int16_t *min, int16_t *max)
{
	RP__MINMAX_BODY(int16_t, vec_min_s16, vec_max_s16, INT16_MAX, INT16_MIN)
	rp__minmax_s16_scalar(s + 2 * i, count - i, &tlo, &thi);
	*min = tlo < lo ? tlo : lo;
	*max = thi > hi ? thi : hi;
}

int
VEC_SUFFIX(rp__bits_clean16)(const void *src, size_t count, unsigned bits, int is_signed)
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
VEC_SUFFIX(rp__mask16)(void *dst, const void *src, size_t count, unsigned bits)
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
VEC_SUFFIX(rp__sext16)(void *dst, const void *src, size_t count, unsigned bits)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	const __m128i up = _mm_cvtsi32_si128((int)(16 - bits));
	size_t i = 0;

	for (; i + LANES16 <= count; i += LANES16)
		vec_storeu(d + 2 * i, vec_sra16(vec_sll16(vec_loadu(s + 2 * i), up), up));
	rp__sext16_scalar(d + 2 * i, s + 2 * i, count - i, bits);
}
