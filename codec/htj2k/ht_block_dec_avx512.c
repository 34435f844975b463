/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_avx512.c - the fast HT cleanup decoder (ht_block_dec_impl.h)
 * built with AVX-512 F/BW/DQ/VL (this file alone gets RP_AVX512_FLAGS), with phase 2, the
 * MagSgn samples of a line pair, in 16-lane vectors: per 16 quads the exponent bounds
 * U_q = u_q + kappa_q (kappa from the exponents of the line above), then per 4 quads the
 * 16 samples' bit counts, their offsets in the unstuffed bit string (a prefix sum), the
 * bits at those offsets picked out of 128 loaded bytes by permutes, and the magnitudes,
 * signs and exponents in parallel.  Output identical to ms_row_scalar(), which the AVX2 and scalar
 * builds use (tests/test_htj2k_block_dec.c compares all of them with the reference).
 * Reached only through the avx512 table of codec/htj2k/htj2k_kernels.c. */
#define RP__ISA_BUILD avx512
#include "simd/isa_build.h"

#include <immintrin.h>

#define RP__HTDEC_MS_BEGIN ms_begin_avx512
#define RP__HTDEC_MS_GROUP ms_group_avx512
#include "codec/htj2k/ht_block_dec_impl.h"

/* Inclusive prefix sum of 16 dword lanes. */
static inline __m512i
prefix_sum16(__m512i x)
{
	const __m512i z = _mm512_setzero_si512();
	x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, z, 15));
	x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, z, 14));
	x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, z, 12));
	x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, z, 8));
	return x;
}

/* Bit length of each dword (v >= 1): the exponent of v as a float rounded toward zero,
 * which never rounds up to the next power of two. */
static inline __m512i
bit_length16(__m512i v)
{
	__m512 f = _mm512_cvt_roundepu32_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	return _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(f), 23),
				_mm512_set1_epi32(126));
}

/* The 32 bits at each of 16 bit offsets r (< 992) into the 1024-bit string w0:w1, as two
 * dwords picked by permutes and funnel-shifted (a shift by 32 gives 0, as b = 0 needs). */
static inline __m512i
window16(__m512i w0, __m512i w1, __m512i r)
{
	__m512i k = _mm512_srli_epi32(r, 5), b = _mm512_and_si512(r, _mm512_set1_epi32(31));
	__m512i lo = _mm512_permutex2var_epi32(w0, k, w1);
	__m512i hi = _mm512_permutex2var_epi32(w0, _mm512_add_epi32(k, _mm512_set1_epi32(1)),
					       w1);
	return _mm512_or_si512(_mm512_srlv_epi32(lo, b),
			       _mm512_sllv_epi32(hi, _mm512_sub_epi32(_mm512_set1_epi32(32), b)));
}

/* U_q = u_q + kappa_q for 16 quads at a time (kappa from the maxima of the exponents
 * above), and the RP_E_CORRUPT check of ms_begin_scalar(). */
static inline int
ms_begin_avx512(struct ms_row *r)
{
	const __m512i one = _mm512_set1_epi32(1);
	for (unsigned q0 = 0; q0 < r->qw; q0 += 16) {
		/* Slots past qw hold 0 (rho = 0); their U is never used. */
		__mmask16 valid = (__mmask16)(r->qw - q0 >= 16 ? 0xFFFF
							       : (1u << (r->qw - q0)) - 1);
		__m512i t = _mm512_maskz_cvtepu16_epi32(
			valid, _mm256_loadu_si256((const __m256i *)(r->qt + q0)));
		__m512i u = _mm512_maskz_cvtepu8_epi32(
			valid, _mm_loadu_si128((const __m128i *)(r->qu + q0)));
		__m512i rho = _mm512_and_si512(_mm512_srli_epi32(t, 4), _mm512_set1_epi32(15));
		__mmask16 sig = _mm512_test_epi32_mask(rho, rho);
		__m512i kap = one;
		if (!r->first) {
			/* max(e_above[2q .. 2q + 3]): columns 2q - 1 .. 2q + 2 above. */
			const uint8_t *ea = r->e_above + 2 * q0;
			__m256i a = _mm256_loadu_si256((const __m256i *)ea);
			__m256i b = _mm256_loadu_si256((const __m256i *)(ea + 2));
			__m256i m = _mm256_max_epu8(a, b);
			m = _mm256_max_epu16(_mm256_and_si256(m, _mm256_set1_epi16(0xFF)),
					     _mm256_srli_epi16(m, 8));
			__m512i me = _mm512_cvtepu16_epi32(m);
			__mmask16 multi = _mm512_test_epi32_mask(rho, _mm512_sub_epi32(rho, one));
			kap = _mm512_mask_max_epi32(one, multi, _mm512_sub_epi32(me, one), one);
		}
		__m512i U = _mm512_add_epi32(u, kap);
		_mm512_storeu_si512(r->U + q0, U);
		if (_mm512_mask_cmpgt_epu32_mask(sig, U, _mm512_set1_epi32((int)r->max_u)))
			return RP_E_CORRUPT;
	}
	return RP_OK;
}

/* The 16 samples of quads q0 .. q0 + 3. */
static inline void
ms_group_avx512(struct ms_row *r, unsigned q0)
{
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i lane_n = _mm512_set_epi32(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);
	const __m512i qidx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
	/* Samples in quad order -> row 0 (n = 0, 2) in the low half, row 1 (n = 1, 3) in
	 * the high half, both in column order. */
	const __m512i to_rows = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6,
						 4, 2, 0);
	unsigned x = 2 * q0;
	unsigned ncol = r->w - x < 8 ? r->w - x : 8;
	__mmask8 cols = (__mmask8)((1u << ncol) - 1);
	uint64_t t4;
	memcpy(&t4, r->qt + q0, 8);     /* slots past qw hold 0 */
	if (!(t4 & 0x00F000F000F000F0ull)) {
		/* No significant quad: zeros. */
		_mm256_mask_storeu_epi32(r->row0 + x, cols, _mm256_setzero_si256());
		if (r->row1)
			_mm256_mask_storeu_epi32(r->row1 + x, cols, _mm256_setzero_si256());
		memset(r->e_cur + x + 1, 0, 8);
		return;
	}
	__m512i ts = _mm512_permutexvar_epi32(qidx, _mm512_cvtepu16_epi32(
		_mm256_zextsi128_si256(_mm_loadl_epi64((const __m128i *)(r->qt + q0)))));
	__m512i Us = _mm512_permutexvar_epi32(qidx, _mm512_zextsi128_si512(
		_mm_loadu_si128((const __m128i *)(r->U + q0))));
	__m512i rho_n = _mm512_srlv_epi32(ts, _mm512_add_epi32(lane_n, _mm512_set1_epi32(4)));
	__mmask16 sn = _mm512_test_epi32_mask(rho_n, one);
	__m512i ek_n = _mm512_and_si512(
		_mm512_srlv_epi32(ts, _mm512_add_epi32(lane_n, _mm512_set1_epi32(12))), one);
	__m512i e1_n = _mm512_and_si512(
		_mm512_srlv_epi32(ts, _mm512_add_epi32(lane_n, _mm512_set1_epi32(8))), one);
	__m512i m = _mm512_maskz_sub_epi32(sn, Us, ek_n);
	__m512i incl = prefix_sum16(m);
	uint32_t p0 = r->pos;
	__m512i p = _mm512_add_epi32(_mm512_set1_epi32((int)p0), _mm512_sub_epi32(incl, m));
	r->pos = p0 + (uint32_t)_mm_extract_epi32(_mm512_extracti32x4_epi32(incl, 3), 3);
	/* The 16 samples lie within 16 x 31 bits of the first one's: the 1024 bits from
	 * its 64-bit word on hold them all (permutes are faster than gathers here). */
	const uint8_t *wp = r->ms + (size_t)(p0 >> 6) * 8;
	__m512i w0 = _mm512_loadu_si512(wp), w1 = _mm512_loadu_si512(wp + 64);
	__m512i rel = _mm512_sub_epi32(p, _mm512_set1_epi32((int)(p0 & ~63u)));
	__m512i raw = window16(w0, w1, rel);
	__m512i lowm = _mm512_sub_epi32(_mm512_sllv_epi32(one, m), one);
	__m512i v = _mm512_or_si512(_mm512_and_si512(raw, lowm), _mm512_sllv_epi32(e1_n, m));
	v = _mm512_maskz_mov_epi32(sn, v);
	/* +-((v >> 1) + 1), sign in bit 0: (mu ^ -s) + s. */
	__m512i s = _mm512_and_si512(v, one);
	__m512i mu = _mm512_add_epi32(_mm512_srli_epi32(v, 1), one);
	__m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), s);
	__m512i val = _mm512_maskz_sub_epi32(sn, _mm512_xor_si512(mu, neg), neg);
	__m512i e = _mm512_maskz_mov_epi32(sn, bit_length16(_mm512_or_si512(v, one)));
	val = _mm512_permutexvar_epi32(to_rows, val);
	e = _mm512_permutexvar_epi32(to_rows, e);
	_mm256_mask_storeu_epi32(r->row0 + x, cols, _mm512_castsi512_si256(val));
	if (r->row1)
		_mm256_mask_storeu_epi32(r->row1 + x, cols, _mm512_extracti64x4_epi64(val, 1));
	_mm_storel_epi64((__m128i *)(r->e_cur + x + 1),
			 _mm256_cvtepi32_epi8(_mm512_extracti64x4_epi64(e, 1)));
}

