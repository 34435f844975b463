/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/interleave3_avx2.c - 8-bit planar <-> interleaved RGB with byte shuffles
 * (an avx2 build, simd/isa_build.h).  VPSHUFB only moves bytes within a 128-bit lane,
 * so each lane does the classic SSSE3 16-pixel step (three shuffles OR'd per 16 output
 * bytes) on its own half of 32 pixels, and VPERM2I128 puts the lanes' 16-byte blocks in
 * memory order.
 *
 * Masks: for interleaving, output block k (bytes 16k..16k+15 of 48) takes, from channel
 * c, byte (16k+i)/3 where (16k+i) % 3 == c, else 0x80 (zero).  For deinterleaving,
 * channel c's byte j comes from input byte 3j+c, i.e. block (3j+c)/16, byte (3j+c)%16. */
#define RP__ISA_BUILD avx2
#include "simd/isa_build.h"
#include "simd/kernels.h"

#include <immintrin.h>

#define Z (-128)

static const int8_t rp__il_mask[3][3][16] = {
	{ /* output block 0 from R, G, B */
	  { 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z, 5 },
	  { Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z },
	  { Z, Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z } },
	{ /* output block 1 */
	  { Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10, Z },
	  { 5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10 },
	  { Z, 5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z } },
	{ /* output block 2 */
	  { Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z, Z },
	  { Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z },
	  { 10, Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15 } },
};

static const int8_t rp__dil_mask[3][3][16] = {
	{ /* R from input blocks 0, 1, 2 */
	  { 0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 1, 4, 7, 10, 13 } },
	{ /* G */
	  { 1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14 } },
	{ /* B */
	  { 2, 5, 8, 11, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, 1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z },
	  { Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15 } },
};

static inline __m256i
mask256(const int8_t m[16])
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)m));
}

void
RP__ISA_FN(rp__interleave3_u8)(uint8_t *dst, const uint8_t *src, size_t pixels)
{
	const uint8_t *r = src, *g = src + pixels, *b = src + 2 * pixels;
	__m256i m[3][3];
	size_t i = 0;

	for (int k = 0; k < 3; k++)
		for (int c = 0; c < 3; c++)
			m[k][c] = mask256(rp__il_mask[k][c]);
	for (; i + 32 <= pixels; i += 32) {
		const __m256i vr = _mm256_loadu_si256((const __m256i *)(r + i));
		const __m256i vg = _mm256_loadu_si256((const __m256i *)(g + i));
		const __m256i vb = _mm256_loadu_si256((const __m256i *)(b + i));
		__m256i o[3];
		for (int k = 0; k < 3; k++)
			o[k] = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(vr, m[k][0]),
							       _mm256_shuffle_epi8(vg, m[k][1])),
					       _mm256_shuffle_epi8(vb, m[k][2]));
		/* o[k] = (block k of pixels i..i+15, block k of pixels i+16..i+31). */
		uint8_t *d = dst + 3 * i;
		_mm256_storeu_si256((__m256i *)d, _mm256_permute2x128_si256(o[0], o[1], 0x20));
		_mm256_storeu_si256((__m256i *)(d + 32),
				    _mm256_permute2x128_si256(o[2], o[0], 0x30));
		_mm256_storeu_si256((__m256i *)(d + 64),
				    _mm256_permute2x128_si256(o[1], o[2], 0x31));
	}
	/* The tail's planes start `i` bytes into each plane, so the scalar twin cannot take
	 * it as one planar buffer; finish it here the same way it would. */
	for (; i < pixels; i++) {
		dst[3 * i] = r[i];
		dst[3 * i + 1] = g[i];
		dst[3 * i + 2] = b[i];
	}
}

void
RP__ISA_FN(rp__deinterleave3_u8)(uint8_t *dst, const uint8_t *src, size_t pixels)
{
	uint8_t *r = dst, *g = dst + pixels, *b = dst + 2 * pixels;
	__m256i m[3][3];
	size_t i = 0;

	for (int c = 0; c < 3; c++)
		for (int k = 0; k < 3; k++)
			m[c][k] = mask256(rp__dil_mask[c][k]);
	for (; i + 32 <= pixels; i += 32) {
		const uint8_t *s = src + 3 * i;
		const __m256i i0 = _mm256_loadu_si256((const __m256i *)s);
		const __m256i i1 = _mm256_loadu_si256((const __m256i *)(s + 32));
		const __m256i i2 = _mm256_loadu_si256((const __m256i *)(s + 64));
		/* x[k] = (block k of pixels i..i+15, block k of pixels i+16..i+31). */
		const __m256i x[3] = { _mm256_permute2x128_si256(i0, i1, 0x30),
				       _mm256_permute2x128_si256(i0, i2, 0x21),
				       _mm256_permute2x128_si256(i1, i2, 0x30) };
		uint8_t *out[3] = { r + i, g + i, b + i };
		for (int c = 0; c < 3; c++) {
			__m256i v = _mm256_or_si256(
				_mm256_or_si256(_mm256_shuffle_epi8(x[0], m[c][0]),
						_mm256_shuffle_epi8(x[1], m[c][1])),
				_mm256_shuffle_epi8(x[2], m[c][2]));
			_mm256_storeu_si256((__m256i *)out[c], v);
		}
	}
	for (; i < pixels; i++) {
		r[i] = src[3 * i];
		g[i] = src[3 * i + 1];
		b[i] = src[3 * i + 2];
	}
}
