/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_avx2.c - the fast HT cleanup decoder (ht_block_dec_impl.h)
 * built with AVX2 + BMI2 (this file alone gets RP_AVX2_FLAGS), with phase 2, the MagSgn
 * samples of a line pair, in 8-lane vectors: U_q = u_q + kappa_q for 8 quads at a time,
 * then per 2 quads the 8 samples' bit counts, their offsets in the unstuffed bit string (a
 * prefix sum), their bits by two dword permutes and a funnel shift, and the magnitudes,
 * signs and exponents in parallel.  Output identical to ms_group_scalar() (the test
 * compares every level with the reference).  Reached only through the avx2 table of
 * codec/htj2k/htj2k_kernels.c. */
#define RP__ISA_BUILD avx2
#include "simd/isa_build.h"

#include <immintrin.h>

#define RP__HTDEC_MS_BEGIN8 ms_begin_avx2
#define RP__HTDEC_MS_GROUP ms_group_avx2
#define RP__HTDEC_MS_QUADS 2
#include "codec/htj2k/ht_block_dec_impl.h"

/* Inclusive prefix sum of 8 dword lanes. */
static inline __m256i
prefix_sum8(__m256i x)
{
	x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
	x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8));
	/* Lane 3's sum into the upper half. */
	__m256i c = _mm256_permutevar8x32_epi32(x, _mm256_set1_epi32(3));
	return _mm256_add_epi32(x, _mm256_blend_epi32(_mm256_setzero_si256(), c, 0xF0));
}

/* Exponent of each dword as a float (exact below 2^24), minus 126: the bit length of
 * y >= 1. */
static inline __m256i
bit_length_small(__m256i y)
{
	__m256 f = _mm256_cvtepi32_ps(y);
	return _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(f), 23),
				_mm256_set1_epi32(126));
}

/* Bit length of odd dwords (any 32-bit value): from its two 16-bit halves, each
 * converted exactly. */
static inline __m256i
bit_length_odd(__m256i v)
{
	__m256i hi = _mm256_srli_epi32(v, 16), lo = _mm256_and_si256(v, _mm256_set1_epi32(0xFFFF));
	__m256i eh = _mm256_add_epi32(bit_length_small(hi), _mm256_set1_epi32(16));
	__m256i el = bit_length_small(lo);      /* lo >= 1: v is odd */
	return _mm256_blendv_epi8(eh, el, _mm256_cmpeq_epi32(hi, _mm256_setzero_si256()));
}

/* ms_begin_scalar() for quads q0 .. q0 + 7 (q0 a multiple of 8; slots past qw hold 0):
 * their U_q = u_q + kappa_q, nonzero when a significant one exceeds max_u (the
 * RP_E_CORRUPT check), the per sample bytes of ms_half_narrow(), and where each quad's
 * MagSgn bits start, a running sum that r->pos carries from step to step, so that no
 * group of samples waits on the bit counts of the one before. */
static inline __attribute__((always_inline)) int
ms_begin_avx2(struct ms_row *r, unsigned q0)
{
	const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
	__m256i start = _mm256_set1_epi32((int)r->pos);
	int bad = 0;
	/* Slots past qw hold 0 (rho = 0, u = 0): they take no bits. */
	__m256i t = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(r->qt + q0)));
	__m256i u = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r->qu + q0)));
	__m256i rho = _mm256_and_si256(_mm256_srli_epi32(t, 4), _mm256_set1_epi32(15));
	__m256i kap = one;
	if (!r->first) {
		/* max(e_above[2q .. 2q + 3]): columns 2q - 1 .. 2q + 2 above. */
		const uint8_t *ea = r->e_above + 2 * q0;
		__m128i a = _mm_loadu_si128((const __m128i *)ea);
		__m128i b = _mm_loadu_si128((const __m128i *)(ea + 2));
		__m128i m = _mm_max_epu8(a, b);
		m = _mm_max_epu16(_mm_and_si128(m, _mm_set1_epi16(0xFF)),
				  _mm_srli_epi16(m, 8));
		__m256i me = _mm256_cvtepu16_epi32(m);
		__m256i single = _mm256_cmpeq_epi32(_mm256_and_si256(
			rho, _mm256_sub_epi32(rho, one)), zero);
		kap = _mm256_blendv_epi8(_mm256_max_epi32(_mm256_sub_epi32(me, one), one),
					 one, single);
	}
	__m256i U = _mm256_add_epi32(u, kap);
	_mm256_storeu_si256((__m256i *)(r->U + q0), U);
	__m256i over = _mm256_andnot_si256(
		_mm256_cmpeq_epi32(rho, zero),
		_mm256_cmpgt_epi32(U, _mm256_set1_epi32((int)r->max_u)));
	bad |= _mm256_movemask_epi8(over);
	/* Per sample bytes, 8 quads at once: byte n of each dword from bit n of rho
	 * (bits 4-7), e_1 (8-11), e_k (12-15). */
	const __m256i lo_bits = _mm256_set1_epi32(0x08040201);
	const __m256i hi_bits = _mm256_set1_epi32((int)0x80402010u);
	const __m256i b0 = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12,
					    12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12,
					    12, 12);
	const __m256i b1 = _mm256_add_epi8(b0, _mm256_set1_epi8(1));
	__m256i t0 = _mm256_shuffle_epi8(t, b0), t1 = _mm256_shuffle_epi8(t, b1);
	__m256i sg = _mm256_cmpeq_epi8(_mm256_and_si256(t0, hi_bits), hi_bits);
	__m256i ekm = _mm256_cmpeq_epi8(_mm256_and_si256(t1, hi_bits), hi_bits);
	__m256i e1 = _mm256_cmpeq_epi8(_mm256_and_si256(t1, lo_bits), lo_bits);
	/* m = U - e_k: U of a significant quad is at most max_u <= 31 when the
	 * check above passes (else the bytes are never used), so that the four m of
	 * a quad and their sums are bytes, and their running sum within the dword
	 * (no carries) gives each sample's offset and the quad's bit count. */
	__m256i m = _mm256_and_si256(_mm256_add_epi8(_mm256_shuffle_epi8(U, b0), ekm), sg);
	__m256i x = _mm256_add_epi32(m, _mm256_slli_epi32(m, 8));
	x = _mm256_add_epi32(x, _mm256_slli_epi32(x, 16));
	__m256i len = _mm256_srli_epi32(x, 24);
	__m256i incl = _mm256_add_epi32(start, prefix_sum8(len));
	__m256i S = _mm256_sub_epi32(incl, len);
	start = _mm256_permutevar8x32_epi32(incl, _mm256_set1_epi32(7));
	/* Offsets from the quad's first byte: the exclusive sum plus its first bit
	 * in the byte (at most 3 x 31 + 7), as a byte and a bit. */
	__m256i rel = _mm256_add_epi8(_mm256_sub_epi8(x, m), _mm256_shuffle_epi8(
		_mm256_and_si256(S, _mm256_set1_epi32(7)), b0));
	_mm256_storeu_si256((__m256i *)(r->S + q0), S);
	_mm256_storeu_si256((__m256i *)(r->M + 4 * q0), m);
	_mm256_storeu_si256((__m256i *)(r->OB + 4 * q0), _mm256_and_si256(
		_mm256_srli_epi16(rel, 3), _mm256_set1_epi8(0x1F)));
	_mm256_storeu_si256((__m256i *)(r->OI + 4 * q0),
			    _mm256_and_si256(rel, _mm256_set1_epi8(7)));
	_mm256_storeu_si256((__m256i *)(r->SG + 4 * q0), sg);
	_mm256_storeu_si256((__m256i *)(r->E1 + 4 * q0), e1);
	r->pos = (uint32_t)_mm256_cvtsi256_si32(start);
	return bad;
}

/* Columns x .. w - 1 (fewer than 4) of both rows from t (row 0) and t + 4 (row 1), at
 * the block's right edge: a loop, not memcpy, so that the decoding loop makes no call
 * (across one, the compiler keeps the VLC reader's state on the stack). */
static inline __attribute__((always_inline)) void
store_cols(struct ms_row *r, unsigned x, const int32_t *t)
{
	for (unsigned i = 0; x + i < r->w; i++) {
		r->row0[x + i] = t[i];
		if (r->row1)
			r->row1[x + i] = t[4 + i];
	}
}

/* ms_half_narrow() for any max_u, with lane-crossing permutes (slow on AMD Zen): the 8
 * samples of quads q and q + 1 (tq, Uq, Sq: the words, U and first bit of quads q0 .. q0
 * + 3, those of q and q + 1 picked by sel); writes up to 4 columns of both rows from
 * x = 2q. */
static inline __attribute__((always_inline)) void
ms_half_wide(struct ms_row *r, __m256i tq, __m256i Uq, __m256i Sq, __m256i sel, unsigned q)
{
	const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
	/* Sample n of a quad in lane n of its half: its rho bit at bit 4, e_1 at 8, e_k
	 * at 12. */
	__m256i ts = _mm256_srlv_epi32(_mm256_permutevar8x32_epi32(tq, sel),
				       _mm256_set_epi32(3, 2, 1, 0, 3, 2, 1, 0));
	__m256i sig16 = _mm256_and_si256(ts, _mm256_set1_epi32(16));
	__m256i sigm = _mm256_cmpeq_epi32(sig16, _mm256_set1_epi32(16));
	__m256i e1m = _mm256_cmpeq_epi32(_mm256_and_si256(ts, _mm256_set1_epi32(256)),
					 _mm256_set1_epi32(256));
	__m256i ek = _mm256_and_si256(_mm256_srli_epi32(ts, 12), one);
	__m256i m = _mm256_and_si256(_mm256_sub_epi32(_mm256_permutevar8x32_epi32(Uq, sel), ek),
				     sigm);
	/* Offsets within each quad: an exclusive prefix sum in each 128-bit half. */
	__m256i incl = _mm256_add_epi32(m, _mm256_slli_si256(m, 4));
	incl = _mm256_add_epi32(incl, _mm256_slli_si256(incl, 8));
	uint32_t s0 = r->S[q];
	__m256i rel = _mm256_add_epi32(_mm256_sub_epi32(incl, m), _mm256_sub_epi32(
		_mm256_permutevar8x32_epi32(Sq, sel), _mm256_set1_epi32((int)(s0 & ~31u))));
	/* 32 bits at each offset.  The 8 samples start within 31 + 7 x 31 bits of the
	 * first one's dword: dword k of the 8 loaded from there, and dword k + 1 (the 8
	 * loaded one dword on), picked by permutes and funnel-shifted (a shift by 32 gives
	 * 0, as b = 0 needs).  Gathers cost several times more, most on AMD Zen. */
	const uint8_t *wp = r->ms + (size_t)(s0 >> 5) * 4;
	__m256i k = _mm256_srli_epi32(rel, 5), b = _mm256_and_si256(rel, _mm256_set1_epi32(31));
	__m256i lo = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)wp), k);
	__m256i hi = _mm256_permutevar8x32_epi32(
		_mm256_loadu_si256((const __m256i *)(wp + 4)), k);
	__m256i raw = _mm256_or_si256(_mm256_srlv_epi32(lo, b), _mm256_sllv_epi32(
		hi, _mm256_sub_epi32(_mm256_set1_epi32(32), b)));
	/* v: the m bits and e_1 above them (0 when not significant: m = 0, e_1 = 0). */
	__m256i pm = _mm256_sllv_epi32(one, m);
	__m256i v = _mm256_or_si256(_mm256_and_si256(raw, _mm256_sub_epi32(pm, one)),
				    _mm256_and_si256(pm, e1m));
	/* +-((v >> 1) + 1), sign in bit 0; sign_epi32 by -1 (negative), 16 (significant,
	 * positive) or 0 (not significant) negates, keeps or clears. */
	__m256i mu = _mm256_add_epi32(_mm256_srli_epi32(v, 1), one);
	__m256i val = _mm256_sign_epi32(mu, _mm256_or_si256(
		_mm256_sub_epi32(zero, _mm256_and_si256(v, one)), sig16));
	__m256i vo = _mm256_or_si256(v, one);
	__m256i e = _mm256_and_si256(bit_length_odd(vo), sigm);
	/* Quad order -> row 0 (n = 0, 2) low, row 1 (n = 1, 3) high, in column order. */
	const __m256i to_rows = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0);
	val = _mm256_permutevar8x32_epi32(val, to_rows);
	e = _mm256_permutevar8x32_epi32(e, to_rows);
	unsigned x = 2 * q;
	/* Plain stores but at the block's right edge (masked stores are microcoded on AMD
	 * Zen); columns past w belong to the next code-block. */
	if (RP__LIKELY(x + 4 <= r->w)) {
		_mm_storeu_si128((__m128i *)(r->row0 + x), _mm256_castsi256_si128(val));
		if (r->row1)
			_mm_storeu_si128((__m128i *)(r->row1 + x),
					 _mm256_extracti128_si256(val, 1));
	} else {
		int32_t t[8];
		_mm256_storeu_si256((__m256i *)t, val);
		store_cols(r, x, t);
	}
	__m128i e8 = _mm256_extracti128_si256(e, 1);
	e8 = _mm_packus_epi16(_mm_packus_epi32(e8, e8), _mm_setzero_si128());
	uint32_t e4 = (uint32_t)_mm_cvtsi128_si32(e8);
	memcpy(r->e_cur + x + 1, &e4, 4);
}

/* The 8 samples of quads q and q + 1 when max_u < 23 (every value then has at most 23
 * bits, so that one float conversion gives its bit length): sample n of quad q + i in
 * lane n of 128-bit half i, which has the 128 MagSgn bits from the quad's first byte on;
 * a sample's m <= 22 bits start in byte 0 .. 9 of them, at bit 0 .. 7, so that they are
 * all in the dword at that byte, which one in-lane byte shuffle brings to its lane;
 * writes up to 4 columns of both rows from x = 2q. */
static inline __attribute__((always_inline)) void
ms_half_narrow(struct ms_row *r, unsigned q)
{
	const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
	/* Each sample's bit count, masks and bit offset, from ms_begin_avx2(). */
#define BYTES(a, ext) _mm256_cvtep##ext##8_epi32(_mm_loadl_epi64( \
	(const __m128i *)((a) + 4 * q)))
	__m256i m = BYTES(r->M, u), bit = BYTES(r->OI, u);
	__m256i sigm = BYTES(r->SG, i), e1m = BYTES(r->E1, i);
#undef BYTES
	/* Shuffle control: bytes o .. o + 3 for each sample's byte offset o (those of
	 * quad q in half 0, of q + 1 in half 1). */
	__m256i ctrl = _mm256_add_epi8(_mm256_shuffle_epi8(
		_mm256_broadcastq_epi64(_mm_loadl_epi64((const __m128i *)(r->OB + 4 * q))),
		_mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
				 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)),
		_mm256_set1_epi32(0x03020100));
	__m256i win = _mm256_loadu2_m128i((const __m128i *)(r->ms + (r->S[q + 1] >> 3)),
					  (const __m128i *)(r->ms + (r->S[q] >> 3)));
	__m256i raw = _mm256_srlv_epi32(_mm256_shuffle_epi8(win, ctrl), bit);
	/* v: the m bits and e_1 above them (0 when not significant: m = 0, e_1 = 0). */
	__m256i pm = _mm256_sllv_epi32(one, m);
	__m256i v = _mm256_or_si256(_mm256_and_si256(raw, _mm256_sub_epi32(pm, one)),
				    _mm256_and_si256(pm, e1m));
	/* +-((v >> 1) + 1), sign in bit 0, as in ms_half_wide(), the exponent (>= 1)
	 * standing for "significant". */
	__m256i e = _mm256_and_si256(bit_length_small(_mm256_or_si256(v, one)), sigm);
	__m256i mu = _mm256_add_epi32(_mm256_srli_epi32(v, 1), one);
	__m256i val = _mm256_sign_epi32(mu, _mm256_or_si256(
		_mm256_sub_epi32(zero, _mm256_and_si256(v, one)), e));
	/* Quad order -> rows: n = 0, 2 of both quads to row 0, n = 1, 3 to row 1. */
	val = _mm256_shuffle_epi32(val, _MM_SHUFFLE(3, 1, 2, 0));
	__m128i v0 = _mm256_castsi256_si128(val), v1 = _mm256_extracti128_si256(val, 1);
	__m128i row0 = _mm_unpacklo_epi64(v0, v1), row1 = _mm_unpackhi_epi64(v0, v1);
	unsigned x = 2 * q;
	/* Plain stores but at the block's right edge (masked stores are microcoded on AMD
	 * Zen); columns past w belong to the next code-block. */
	if (RP__LIKELY(x + 4 <= r->w)) {
		_mm_storeu_si128((__m128i *)(r->row0 + x), row0);
		if (r->row1)
			_mm_storeu_si128((__m128i *)(r->row1 + x), row1);
	} else {
		int32_t t[8];
		_mm_storeu_si128((__m128i *)t, row0);
		_mm_storeu_si128((__m128i *)(t + 4), row1);
		store_cols(r, x, t);
	}
	/* Exponents of row 1 (n = 1, 3; each below 2^8) as 4 bytes. */
	__m256i e8 = _mm256_shuffle_epi8(e, _mm256_setr_epi8(
		4, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		-1, -1, 4, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
	uint32_t e4 = (uint32_t)_mm_cvtsi128_si32(_mm_or_si128(
		_mm256_castsi256_si128(e8), _mm256_extracti128_si256(e8, 1)));
	memcpy(r->e_cur + x + 1, &e4, 4);
}

/* The 8 samples of quads q and q + 1 (q even; the slot past qw holds 0). */
static inline __attribute__((always_inline)) void
ms_group_avx2(struct ms_row *r, unsigned q)
{
	unsigned x = 2 * q;
	uint32_t t2;
	memcpy(&t2, r->qt + q, 4);
	if (!(t2 & 0x00F000F0u)) {
		/* No significant quad: zeros. */
		if (RP__LIKELY(x + 4 <= r->w)) {
			_mm_storeu_si128((__m128i *)(r->row0 + x), _mm_setzero_si128());
			if (r->row1)
				_mm_storeu_si128((__m128i *)(r->row1 + x), _mm_setzero_si128());
		} else {
			const int32_t t[8] = { 0 };
			store_cols(r, x, t);
		}
		memset(r->e_cur + x + 1, 0, 4);
		return;
	}
	if (RP__LIKELY(r->max_u < 23)) {
		ms_half_narrow(r, q);
		return;
	}
	/* Quads q .. q + 3 loaded (the buffers have slots to spare), q and q + 1 used. */
	__m256i tq = _mm256_cvtepu16_epi32(_mm_loadl_epi64((const __m128i *)(r->qt + q)));
	__m256i Uq = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(r->U + q)));
	__m256i Sq = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(r->S + q)));
	ms_half_wide(r, tq, Uq, Sq, _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0), q);
}
