/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/vec.h - one set of vector helpers over 256-bit (AVX2) or 512-bit (AVX-512
 * BW) registers, so an algorithm is written once (x86/<kernels>_impl.h) and instantiated
 * per width.
 * Include after simd/isa_build.h in an avx2 (256-bit vectors) or avx512 (512-bit) build. */
#ifndef RP_SIMD_X86_VEC_H
#define RP_SIMD_X86_VEC_H

#include <immintrin.h>

#if RP__ISA_LEVEL == RP__ISA_ID_avx2
typedef __m256i vec_t;
#define VEC_BYTES 32
static inline vec_t vec_loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline void vec_storeu(void *p, vec_t v) { _mm256_storeu_si256((__m256i *)p, v); }
static inline vec_t vec_set1_16(int16_t x) { return _mm256_set1_epi16(x); }
static inline vec_t vec_and(vec_t a, vec_t b) { return _mm256_and_si256(a, b); }
static inline vec_t vec_min_u16(vec_t a, vec_t b) { return _mm256_min_epu16(a, b); }
static inline vec_t vec_max_u16(vec_t a, vec_t b) { return _mm256_max_epu16(a, b); }
static inline vec_t vec_min_s16(vec_t a, vec_t b) { return _mm256_min_epi16(a, b); }
static inline vec_t vec_max_s16(vec_t a, vec_t b) { return _mm256_max_epi16(a, b); }
static inline vec_t vec_sll16(vec_t a, __m128i n) { return _mm256_sll_epi16(a, n); }
static inline vec_t vec_sra16(vec_t a, __m128i n) { return _mm256_sra_epi16(a, n); }
static inline vec_t vec_srl16(vec_t a, __m128i n) { return _mm256_srl_epi16(a, n); }
static inline vec_t vec_or(vec_t a, vec_t b) { return _mm256_or_si256(a, b); }
static inline vec_t vec_zero(void) { return _mm256_setzero_si256(); }
/* All-ones lanes where a == b. */
static inline vec_t vec_eq16(vec_t a, vec_t b) { return _mm256_cmpeq_epi16(a, b); }
static inline int vec_all_ones(vec_t a) { return _mm256_movemask_epi8(a) == -1; }
/* Byte shuffle within each 128-bit lane, the same 16-byte pattern in every lane. */
static inline vec_t
vec_shuffle_lanes(vec_t a, __m128i pattern)
{
	return _mm256_shuffle_epi8(a, _mm256_broadcastsi128_si256(pattern));
}
#elif RP__ISA_LEVEL == RP__ISA_ID_avx512
typedef __m512i vec_t;
#define VEC_BYTES 64
static inline vec_t vec_loadu(const void *p) { return _mm512_loadu_si512(p); }
static inline void vec_storeu(void *p, vec_t v) { _mm512_storeu_si512(p, v); }
static inline vec_t vec_set1_16(int16_t x) { return _mm512_set1_epi16(x); }
static inline vec_t vec_and(vec_t a, vec_t b) { return _mm512_and_si512(a, b); }
static inline vec_t vec_min_u16(vec_t a, vec_t b) { return _mm512_min_epu16(a, b); }
static inline vec_t vec_max_u16(vec_t a, vec_t b) { return _mm512_max_epu16(a, b); }
static inline vec_t vec_min_s16(vec_t a, vec_t b) { return _mm512_min_epi16(a, b); }
static inline vec_t vec_max_s16(vec_t a, vec_t b) { return _mm512_max_epi16(a, b); }
static inline vec_t vec_sll16(vec_t a, __m128i n) { return _mm512_sll_epi16(a, n); }
static inline vec_t vec_sra16(vec_t a, __m128i n) { return _mm512_sra_epi16(a, n); }
static inline vec_t vec_srl16(vec_t a, __m128i n) { return _mm512_srl_epi16(a, n); }
static inline vec_t vec_or(vec_t a, vec_t b) { return _mm512_or_si512(a, b); }
static inline vec_t vec_zero(void) { return _mm512_setzero_si512(); }
static inline vec_t vec_eq16(vec_t a, vec_t b)
{
	return _mm512_movm_epi16(_mm512_cmpeq_epi16_mask(a, b));
}
static inline int vec_all_ones(vec_t a) { return _mm512_cmpneq_epi16_mask(a, vec_set1_16(-1)) == 0; }
static inline vec_t
vec_shuffle_lanes(vec_t a, __m128i pattern)
{
	return _mm512_shuffle_epi8(a, _mm512_broadcast_i32x4(pattern));
}
#else
#error "simd/x86/vec.h is for avx2 and avx512 builds (simd/isa_build.h)"
#endif

#endif /* RP_SIMD_X86_VEC_H */
