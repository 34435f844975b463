/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_avx512.c - the fast HT cleanup decoder (ht_block_dec_impl.h)
 * built with AVX-512 F/BW/DQ/VL (this file alone gets RP_AVX512_FLAGS), with phase 2, the
 * MagSgn samples of a line pair, in 16-lane vectors: per 16 quads the exponent bounds
 * U_q = u_q + kappa_q (kappa from the exponents of the line above), then per 4 quads the
 * 16 samples' bit counts, their offsets in the unstuffed bit string (a prefix sum), two
 * 8-lane gathers of the 64-bit windows at those offsets, and the magnitudes, signs and
 * exponents in parallel.  Output identical to ms_row_scalar(), which the AVX2 and scalar
 * builds use (tests/test_htj2k_block_dec.c compares all of them with the reference).
 * Reached only through rp__ht_decode_block() / rp__ht_decode_block_isa(). */
#include <immintrin.h>

#include "codec/htj2k/ht_block_dec.h"

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

/* Bit length of each dword (0 for 0), exact for all 32-bit values: through doubles. */
static inline __m512i
bit_length16(__m512i v)
{
	__m512d lo = _mm512_cvtepu32_pd(_mm512_castsi512_si256(v));
	__m512d hi = _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(v, 1));
	__m512i el = _mm512_srli_epi64(_mm512_castpd_si512(lo), 52);
	__m512i eh = _mm512_srli_epi64(_mm512_castpd_si512(hi), 52);
	__m512i e = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(el)),
				       _mm512_cvtepi64_epi32(eh), 1);
	/* Exponent field: 1023 + floor(log2 v) for v > 0, 0 for v = 0. */
	return _mm512_maskz_sub_epi32(_mm512_test_epi32_mask(v, v), e, _mm512_set1_epi32(1022));
}

static int
ms_row_avx512(const uint8_t *ms, size_t *pos_io, const uint16_t *qt, const uint8_t *qu,
	      int first, const uint8_t *e_above, uint8_t *e_cur, unsigned qw, unsigned w,
	      int32_t *row0, int32_t *row1, unsigned max_u)
{
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i lane_n = _mm512_set_epi32(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);
	/* Samples in quad order -> row 0 (n = 0, 2) in the low half, row 1 (n = 1, 3) in
	 * the high half, both in column order. */
	const __m512i to_rows = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6,
						 4, 2, 0);
	__m512i posv = _mm512_set1_epi32((int)*pos_io);

	for (unsigned q0 = 0; q0 < qw; q0 += 16) {
		/* Quad level, 16 at a time (slots past qw hold 0: rho = 0). */
		__mmask16 valid = (__mmask16)(qw - q0 >= 16 ? 0xFFFF : (1u << (qw - q0)) - 1);
		__m512i t = _mm512_maskz_cvtepu16_epi32(
			valid, _mm256_loadu_si256((const __m256i *)(qt + q0)));
		__m512i u = _mm512_maskz_cvtepu8_epi32(
			valid, _mm_loadu_si128((const __m128i *)(qu + q0)));
		__m512i rho = _mm512_and_si512(_mm512_srli_epi32(t, 4), _mm512_set1_epi32(15));
		__mmask16 sig = _mm512_test_epi32_mask(rho, rho);
		if (!sig) {
			/* A line pair segment without significant quads: zeros. */
			for (unsigned q = q0; q < qw && q < q0 + 16; q++) {
				unsigned x = 2 * q;
				e_cur[x + 1] = 0;
				e_cur[x + 2] = 0;
				row0[x] = 0;
				if (row1)
					row1[x] = 0;
				if (x + 1 < w) {
					row0[x + 1] = 0;
					if (row1)
						row1[x + 1] = 0;
				}
			}
			continue;
		}
		__m512i kap = one;
		if (!first) {
			/* max(e_above[2q .. 2q + 3]): columns 2q - 1 .. 2q + 2 of the row above. */
			__m256i a = _mm256_loadu_si256((const __m256i *)(e_above + 2 * q0));
			__m256i b = _mm256_loadu_si256((const __m256i *)(e_above + 2 * q0 + 2));
			__m256i m = _mm256_max_epu8(a, b);
			m = _mm256_max_epu16(_mm256_and_si256(m, _mm256_set1_epi16(0xFF)),
					     _mm256_srli_epi16(m, 8));
			__m512i me = _mm512_cvtepu16_epi32(m);
			__mmask16 multi = _mm512_test_epi32_mask(
				rho, _mm512_sub_epi32(rho, one));
			kap = _mm512_mask_max_epi32(one, multi, _mm512_sub_epi32(me, one), one);
		}
		__m512i U = _mm512_add_epi32(u, kap);
		if (_mm512_mask_cmpgt_epu32_mask(sig, U, _mm512_set1_epi32((int)max_u)))
			return RP_E_CORRUPT;

		unsigned nq = qw - q0 < 16 ? qw - q0 : 16;
		for (unsigned g = 0; g < nq; g += 4) {
			/* Sample level: quads q0 + g .. + 3, 16 samples. */
			__m512i qidx = _mm512_add_epi32(
				_mm512_set1_epi32((int)g),
				_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0));
			__m512i ts = _mm512_permutexvar_epi32(qidx, t);
			__m512i Us = _mm512_permutexvar_epi32(qidx, U);
			__m512i rho_n = _mm512_srlv_epi32(ts, _mm512_add_epi32(
				lane_n, _mm512_set1_epi32(4)));
			__mmask16 sn = _mm512_test_epi32_mask(rho_n, one);
			unsigned x = 2 * (q0 + g);
			unsigned ncol = w - x < 8 ? w - x : 8;
			__mmask8 cols = (__mmask8)((1u << ncol) - 1);
			if (!sn) {
				_mm256_mask_storeu_epi32(row0 + x, cols, _mm256_setzero_si256());
				if (row1)
					_mm256_mask_storeu_epi32(row1 + x, cols,
								 _mm256_setzero_si256());
				_mm_storel_epi64((__m128i *)(e_cur + x + 1), _mm_setzero_si128());
				continue;
			}
			__m512i ek_n = _mm512_and_si512(
				_mm512_srlv_epi32(ts, _mm512_add_epi32(lane_n,
								       _mm512_set1_epi32(12))),
				one);
			__m512i e1_n = _mm512_and_si512(
				_mm512_srlv_epi32(ts, _mm512_add_epi32(lane_n,
								       _mm512_set1_epi32(8))),
				one);
			__m512i m = _mm512_maskz_sub_epi32(sn, Us, ek_n);
			__m512i incl = prefix_sum16(m);
			__m512i p = _mm512_add_epi32(posv, _mm512_sub_epi32(incl, m));
			posv = _mm512_add_epi32(posv, _mm512_permutexvar_epi32(
				_mm512_set1_epi32(15), incl));
			/* 64-bit windows at the byte offsets, shifted to the bit. */
			__m512i byte = _mm512_srli_epi32(p, 3);
			__m512i sh = _mm512_and_si512(p, _mm512_set1_epi32(7));
			__m512i glo = _mm512_i32gather_epi64(_mm512_castsi512_si256(byte), ms, 1);
			__m512i ghi = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(byte, 1), ms,
							     1);
			glo = _mm512_srlv_epi64(glo, _mm512_cvtepu32_epi64(
				_mm512_castsi512_si256(sh)));
			ghi = _mm512_srlv_epi64(ghi, _mm512_cvtepu32_epi64(
				_mm512_extracti64x4_epi64(sh, 1)));
			__m512i raw = _mm512_inserti64x4(
				_mm512_castsi256_si512(_mm512_cvtepi64_epi32(glo)),
				_mm512_cvtepi64_epi32(ghi), 1);
			__m512i lowm = _mm512_sub_epi32(_mm512_sllv_epi32(one, m), one);
			__m512i v = _mm512_or_si512(_mm512_and_si512(raw, lowm),
						    _mm512_sllv_epi32(e1_n, m));
			v = _mm512_maskz_mov_epi32(sn, v);
			/* +-((v >> 1) + 1), sign in bit 0. */
			__m512i s = _mm512_and_si512(v, one);
			__m512i mu = _mm512_add_epi32(_mm512_srli_epi32(v, 1), one);
			__m512i val = _mm512_maskz_sub_epi32(sn, _mm512_xor_si512(
				mu, _mm512_sub_epi32(_mm512_setzero_si512(), s)), _mm512_sub_epi32(
				_mm512_setzero_si512(), s));
			/* (mu ^ -s) - (-s) = (mu ^ -s) + s. */
			__m512i e = bit_length16(_mm512_maskz_or_epi32(sn, v, one));
			val = _mm512_permutexvar_epi32(to_rows, val);
			e = _mm512_permutexvar_epi32(to_rows, e);
			_mm256_mask_storeu_epi32(row0 + x, cols, _mm512_castsi512_si256(val));
			if (row1)
				_mm256_mask_storeu_epi32(row1 + x, cols,
							 _mm512_extracti64x4_epi64(val, 1));
			_mm_storel_epi64((__m128i *)(e_cur + x + 1),
					 _mm256_cvtepi32_epi8(_mm512_extracti64x4_epi64(e, 1)));
		}
	}
	*pos_io = (size_t)(uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(posv));
	return RP_OK;
}

#define RP__HTDEC_NAME rp__ht_decode_block_avx512
#define RP__HTDEC_MS_ROW ms_row_avx512
#include "codec/htj2k/ht_block_dec_impl.h"
