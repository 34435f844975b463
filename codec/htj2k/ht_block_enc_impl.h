/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_impl.h - the fast HT cleanup-pass encoder, written once and
 * built once per ISA: ht_block_enc.c (baseline), ht_block_enc_avx2.c and
 * ht_block_enc_avx512.c (their own flags, see sources.cmake).  Each defines RP__ISA_BUILD
 * and includes simd/isa_build.h first (simd/cpu.h): the entry point is
 * RP__ISA_FN(rp__ht_encode_block).  The bytes are those of the
 * reference encoder (ht_block_enc_ref.c) for every input; only the way there differs:
 *
 *   1. per line pair, the samples are read two rows at a time into quad order (TL, BL,
 *      TR, BR: the interleave of the two rows), with their exponents and MagSgn values
 *      (SIMD where the ISA has it; bit lengths through float exponents);
 *   2. per quad, for the whole line pair with no branches: significance rho, the
 *      largest exponent, the EMB pattern, the context c_q, kappa, U and u_q, the VLC
 *      table entry, and the quad's MagSgn bits packed into one word (AVX2: 8 quads a
 *      step, AVX-512: 16; the baseline build one by one);
 *   2b. per quad pair: one VLC word (both codewords and the pair's U-VLC code, from a
 *      table of both offsets), one MagSgn word (both quads), and the MEL events;
 *   3. the serial pass (hte_emit): one put per writer per pair; the writers take up to
 *      56 bits and store 8 bytes unconditionally, falling back to byte-wise stuffing
 *      only where a stuffing byte pattern shows up;
 *   4. the MEL events are coded at the end of the block.
 *
 * Every buffer bound is proved once (see the capacities in ht_internal.h), so the inner
 * loops carry no capacity checks. */
#include <string.h>

#include "codec/htj2k/ht_block_enc.h"
#include "codec/htj2k/ht_internal.h"

#if RP__ISA_LEVEL >= RP__ISA_ID_avx512
#define HTE_AVX512 1
#include <immintrin.h>
#elif RP__ISA_LEVEL >= RP__ISA_ID_avx2
#define HTE_AVX2 1
#include <immintrin.h>
#endif

#define HTE_QMAX 32u     /* quads in a line pair of a 64-wide block */
#define HTE_QSTEP 16u    /* quads per vector step; arrays are padded to a multiple */
#define HTE_QPAD RP__HT_ENC_QPAD     /* HTE_QMAX + HTE_QSTEP + 1 */
_Static_assert(RP__HT_ENC_QPAD >= HTE_QMAX + HTE_QSTEP + 1, "scratch too small");

#if defined(__GNUC__)
#define HTE_LIKELY(x) __builtin_expect(!!(x), 1)
#define HTE_NOINLINE __attribute__((noinline))
#else
#define HTE_LIKELY(x) (x)
#define HTE_NOINLINE
#endif

static const uint64_t hte_ones8 = 0x0101010101010101ull;
static const uint64_t hte_high8 = 0x8080808080808080ull;

/* ---- step 1: two rows into quad order ---- */

/* v[4 q + n], e[4 q + n] for quads q < nq (a multiple of HTE_QSTEP); samples at columns
 * >= w, and the second row when r1 is NULL, are zero. */
#if defined(HTE_AVX512)
static inline void
hte_samples16(__m512i c, uint32_t *v, uint8_t *e)
{
	const __m512i one = _mm512_set1_epi32(1);
	__m512i mu = _mm512_abs_epi32(c);
	__m512i y = _mm512_sub_epi32(mu, one);             /* mu - 1, < 2^31 when mu > 0 */
	__m512i vv = _mm512_add_epi32(_mm512_add_epi32(y, y), _mm512_srli_epi32(c, 31));
	__mmask16 sig = _mm512_test_epi32_mask(c, c);
	/* Truncating conversion: the float exponent is floor(log2 y) exactly. */
	__m512 f = _mm512_cvt_roundepu32_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m512i ex = _mm512_srli_epi32(_mm512_castps_si512(f), 23);
	__m512i bl = _mm512_max_epi32(_mm512_sub_epi32(ex, _mm512_set1_epi32(126)),
				      _mm512_setzero_si512());
	__m512i ee = _mm512_maskz_add_epi32(sig, bl, one);
	_mm512_storeu_si512((void *)v, vv);
	_mm_storeu_si128((__m128i *)(void *)e, _mm512_cvtepi32_epi8(ee));
}

static void
hte_load_pair(const int32_t *r0, const int32_t *r1, unsigned w, unsigned nq, uint32_t *v,
	      uint8_t *e)
{
	const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6,
						 22, 7, 23);
	const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29,
						 14, 30, 15, 31);
	for (unsigned x = 0; x < 2 * nq; x += 16) {
		unsigned rem = w > x ? w - x : 0;
		__mmask16 m = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1);
		__m512i a = _mm512_maskz_loadu_epi32(m, r0 + x);
		__m512i b = r1 ? _mm512_maskz_loadu_epi32(m, r1 + x) : _mm512_setzero_si512();
		hte_samples16(_mm512_permutex2var_epi32(a, lo_idx, b), v + 2 * x, e + 2 * x);
		hte_samples16(_mm512_permutex2var_epi32(a, hi_idx, b), v + 2 * x + 16,
			      e + 2 * x + 16);
	}
}
#elif defined(HTE_AVX2)
static inline void
hte_samples8(__m256i c, uint32_t *v, uint8_t *e)
{
	const __m256i one = _mm256_set1_epi32(1);
	__m256i mu = _mm256_abs_epi32(c);
	__m256i y = _mm256_sub_epi32(mu, one);
	__m256i vv = _mm256_add_epi32(_mm256_add_epi32(y, y), _mm256_srli_epi32(c, 31));
	__m256i zero = _mm256_cmpeq_epi32(c, _mm256_setzero_si256());
	/* y < 2^31 when mu > 0.  A rounding conversion is exact below 2^24; above, y >> 8
	 * is converted instead, and 8 added to its bit length. */
	__m256i big = _mm256_cmpgt_epi32(y, _mm256_set1_epi32(0xFFFFFF));
	__m256i yy = _mm256_blendv_epi8(y, _mm256_srli_epi32(y, 8), big);
	__m256 f = _mm256_cvtepi32_ps(yy);
	__m256i ex = _mm256_srli_epi32(_mm256_castps_si256(f), 23);
	ex = _mm256_add_epi32(ex, _mm256_and_si256(big, _mm256_set1_epi32(8)));
	__m256i bl = _mm256_max_epi32(_mm256_sub_epi32(ex, _mm256_set1_epi32(126)),
				      _mm256_setzero_si256());
	__m256i ee = _mm256_andnot_si256(zero, _mm256_add_epi32(bl, one));
	_mm256_storeu_si256((__m256i *)(void *)v, vv);
	const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
					      -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
					      -1, -1, -1, -1, -1, -1);
	__m256i p = _mm256_shuffle_epi8(ee, pick);
	uint32_t lo = (uint32_t)_mm256_extract_epi32(p, 0), hi = (uint32_t)_mm256_extract_epi32(p, 4);
	memcpy(e, &lo, 4);
	memcpy(e + 4, &hi, 4);
}

static void
hte_load_pair(const int32_t *r0, const int32_t *r1, unsigned w, unsigned nq, uint32_t *v,
	      uint8_t *e)
{
	const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	for (unsigned x = 0; x < 2 * nq; x += 8) {
		int rem = w > x ? (int)(w - x) : 0;
		__m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), iota);
		__m256i a = _mm256_maskload_epi32(r0 + x, m);
		__m256i b = r1 ? _mm256_maskload_epi32(r1 + x, m) : _mm256_setzero_si256();
		__m256i l = _mm256_unpacklo_epi32(a, b), h = _mm256_unpackhi_epi32(a, b);
		hte_samples8(_mm256_permute2x128_si256(l, h, 0x20), v + 2 * x, e + 2 * x);
		hte_samples8(_mm256_permute2x128_si256(l, h, 0x31), v + 2 * x + 8, e + 2 * x + 8);
	}
}
#else
static void
hte_load_pair(const int32_t *r0, const int32_t *r1, unsigned w, unsigned nq, uint32_t *v,
	      uint8_t *e)
{
	static const int32_t zero_row[64];
	const int32_t *r1z = r1 ? r1 : zero_row;
	/* Quad order is the interleave of the two rows; no branch on the data (a zero
	 * sample is as likely as not). */
	for (unsigned i = 0; i < 4 * nq; i++) {
		unsigned x = i / 2;
		int32_t c = x < w ? ((i & 1) ? r1z[x] : r0[x]) : 0;
		uint32_t mu = c < 0 ? (uint32_t)0 - (uint32_t)c : (uint32_t)c;
		v[i] = 2 * (mu - 1) + (c < 0);
		e[i] = (uint8_t)((mu != 0) * (32 - __builtin_clz((2 * mu - 1) | 1)));
	}
}
#endif

/* ---- the writers ---- */

/* MagSgn: forward, least significant bit first; after a 0xFF byte the next holds 7 bits.
 * Outside the slow state at most 7 bits are pending between puts. */
struct hte_ms {
	uint8_t *p;
	uint64_t acc;
	unsigned nacc;
	unsigned max_bits;      /* width of the byte being filled: 8, or 7 after 0xFF */
};

static HTE_NOINLINE void
hte_ms_slow(struct hte_ms *s)
{
	while (s->nacc >= s->max_bits) {
		unsigned b = (unsigned)(s->acc & ((1u << s->max_bits) - 1));
		s->acc >>= s->max_bits;
		s->nacc -= s->max_bits;
		*s->p++ = (uint8_t)b;
		s->max_bits = b == 0xFF ? 7 : 8;
	}
}

/* len <= 56, bits has nothing above len. */
static inline void
hte_ms_put(struct hte_ms *s, uint64_t bits, unsigned len)
{
	uint64_t a = s->acc | bits << s->nacc;
	unsigned n = s->nacc + len, nb = n >> 3;
	uint64_t x = ~a;
	uint64_t ff = (x - hte_ones8) & ~x & hte_high8;         /* 0xFF bytes of a */
	uint64_t whole = ((uint64_t)1 << (nb * 8)) - 1;          /* the nb complete bytes */
	if (HTE_LIKELY((ff & whole) == 0 && s->max_bits == 8)) {
		rp__store_le64(s->p, a);
		s->p += nb;
		s->acc = a >> (nb * 8);
		s->nacc = n & 7;
	} else {
		s->acc = a;
		s->nacc = n;
		hte_ms_slow(s);
	}
}

/* VLC: backward stream written forward here, least significant bit first; after a byte
 * above 0x8F, seven 1 bits make a byte 0x7F (a stuffed 0 on top). */
struct hte_vlc {
	uint8_t *p;
	uint64_t acc;
	unsigned nacc;
	unsigned gt8f;
};

static HTE_NOINLINE void
hte_vlc_slow(struct hte_vlc *v)
{
	for (;;) {
		unsigned b;
		if (v->gt8f && v->nacc >= 7 && (v->acc & 0x7F) == 0x7F) {
			b = 0x7F;
			v->acc >>= 7;
			v->nacc -= 7;
		} else if (v->nacc >= 8) {
			b = (unsigned)(v->acc & 0xFF);
			v->acc >>= 8;
			v->nacc -= 8;
		} else {
			break;
		}
		*v->p++ = (uint8_t)b;
		v->gt8f = b > 0x8F;
	}
}

/* MEL: the 13-state run-length coder, over the events collected for the block. */
static const uint8_t hte_mel_exp[13] = { 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5 };

struct hte_mel {
	uint8_t *p;
	unsigned tmp;
	int rem;
};

static inline void
hte_mel_bit(struct hte_mel *m, unsigned v)
{
	m->tmp = (m->tmp << 1) | v;
	if (--m->rem == 0) {
		*m->p++ = (uint8_t)m->tmp;
		m->rem = m->tmp == 0xFF ? 7 : 8;
		m->tmp = 0;
	}
}

/* Codes ev[0..n) and terminates (an unfinished run counts as a full one). */
static void
hte_mel_code(struct hte_mel *m, const uint8_t *ev, size_t n)
{
	int run = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ev[i]) {
			if (++run >= (1 << hte_mel_exp[k])) {
				hte_mel_bit(m, 1);
				run = 0;
				if (k < 12)
					k++;
			}
		} else {
			int t = hte_mel_exp[k];
			hte_mel_bit(m, 0);
			while (t > 0)
				hte_mel_bit(m, (unsigned)(run >> --t) & 1);
			run = 0;
			if (k > 0)
				k--;
		}
	}
	if (run > 0)
		hte_mel_bit(m, 1);
}

/* ---- step 2: per quad, for one line pair ---- */

struct hte_quads {
	uint16_t idx[HTE_QPAD];         /* (c_q << 8) | (rho << 4) | emb: the VLC table index */
	uint8_t U[HTE_QPAD];            /* bits per significant sample, before EMB */
	uint8_t u[HTE_QPAD];            /* exponent offset u_q */
	uint8_t cq[HTE_QPAD];
	uint8_t rho[HTE_QPAD + 1];      /* rho[q + 1] is quad q's; rho[0] = 0 */
	uint16_t t[HTE_QPAD];           /* the VLC table entry */
	uint8_t len[HTE_QPAD];          /* MagSgn bits of the quad */
	uint64_t ms[HTE_QPAD];          /* and the bits themselves, when len <= 56 */
	/* Per quad pair (quads 2p, 2p + 1): the VLC word (both codewords and the U-VLC
	 * code) and the MagSgn word (both quads' bits, when ml <= 56). */
	uint64_t vw[HTE_QPAD / 2 + 1], mw[HTE_QPAD / 2 + 1];
	uint8_t vl[HTE_QPAD / 2 + 8], ml[HTE_QPAD / 2 + 8];
};

/* e: this line pair's exponents, quad order; pe: the previous pair's (NULL for the
 * first), both with 4 zero bytes before quad 0 and zeros past the block. */
#if defined(HTE_AVX512)
/* Sixteen quads a step, one quad per 32-bit lane: the bytes of a lane are its samples'
 * exponents (n = 0..3). */
static inline __m512i
hte_nibble(__m512i bytes01)
{
	/* Lane bytes b0..b3 in {0, 1} -> b0 | b1 << 1 | b2 << 2 | b3 << 3: the product with
	 * 0x01020408 puts exactly that sum in the top byte (the other partial products
	 * land on distinct bits below it or above bit 31). */
	return _mm512_srli_epi32(_mm512_mullo_epi32(bytes01, _mm512_set1_epi32(0x01020408)),
				 24);
}

/* MagSgn words of 16 quads: v their samples (quad order), x per quad rho | e_k << 4 |
 * U << 8.  Sample n of a quad gives m = U - (e_k bit n) bits when significant (bit n of
 * rho), none else; a quad's bits are packed n = 0..3, least significant first, into
 * ms[q], their count in len[q] (the word is used only when that is <= 56). */
static inline void
hte_magsgn16(const uint32_t *v, __m512i x, uint64_t *ms, uint8_t *len)
{
	const __m512i nsh = _mm512_set_epi32(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);
	const __m512i one = _mm512_set1_epi32(1), lo32 = _mm512_set1_epi64(0xFFFFFFFF);
	const __m512i evens = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
	__m512i pw[4], lw[4];
	for (int j = 0; j < 4; j++) {
		/* Quads 4j .. 4j+3, each value in its four sample lanes. */
		__m512i sel = _mm512_add_epi32(_mm512_set1_epi32(4 * j),
			_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0));
		__m512i xs = _mm512_permutexvar_epi32(sel, x);
		__mmask16 sig = _mm512_test_epi32_mask(_mm512_srlv_epi32(xs, nsh), one);
		__m512i ekb = _mm512_and_si512(
			_mm512_srlv_epi32(xs, _mm512_add_epi32(nsh, _mm512_set1_epi32(4))), one);
		__m512i m = _mm512_maskz_sub_epi32(sig, _mm512_srli_epi32(xs, 8), ekb);
		__m512i s = _mm512_loadu_si512((const void *)(v + 16 * j));
		/* 1 << 32 is 0 in a lane: m = 32 keeps all bits. */
		__m512i b = _mm512_and_si512(s, _mm512_sub_epi32(_mm512_sllv_epi32(one, m), one));
		/* Samples (0, 1) and (2, 3) as 64-bit pairs, then the two pairs of a quad. */
		__m512i ml = _mm512_and_si512(m, lo32);
		__m512i p = _mm512_or_si512(_mm512_and_si512(b, lo32),
					    _mm512_sllv_epi64(_mm512_srli_epi64(b, 32), ml));
		__m512i l = _mm512_add_epi64(ml, _mm512_srli_epi64(m, 32));
		pw[j] = _mm512_or_si512(p, _mm512_sllv_epi64(_mm512_bsrli_epi128(p, 8), l));
		lw[j] = _mm512_add_epi64(l, _mm512_bsrli_epi128(l, 8));
	}
	/* The quads sit in the even 64-bit lanes. */
	__m512i p0 = _mm512_permutex2var_epi64(pw[0], evens, pw[1]);
	__m512i p1 = _mm512_permutex2var_epi64(pw[2], evens, pw[3]);
	__m512i l0 = _mm512_permutex2var_epi64(lw[0], evens, lw[1]);
	__m512i l1 = _mm512_permutex2var_epi64(lw[2], evens, lw[3]);
	_mm512_storeu_si512((void *)ms, p0);
	_mm512_storeu_si512((void *)(ms + 8), p1);
	uint64_t a = (uint64_t)_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(l0));
	uint64_t c = (uint64_t)_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(l1));
	memcpy(len, &a, 8);
	memcpy(len + 8, &c, 8);
}

static inline void
hte_quads(const uint8_t *e, const uint8_t *pe, unsigned nq, const uint16_t *tbl,
	  const uint32_t *v, struct hte_quads *qd)
{
	const __m512i one8 = _mm512_set1_epi8(1), ff = _mm512_set1_epi32(0xFF);
	const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
	const __m512i bcast = _mm512_set_epi8(
		60, 60, 60, 60, 56, 56, 56, 56, 52, 52, 52, 52, 48, 48, 48, 48,
		44, 44, 44, 44, 40, 40, 40, 40, 36, 36, 36, 36, 32, 32, 32, 32,
		28, 28, 28, 28, 24, 24, 24, 24, 20, 20, 20, 20, 16, 16, 16, 16,
		12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0);
	__m512i prev_rho = zero;
	__m512i xs[32 / 16];    /* per step: rho | e_k << 4 | U << 8 */
	qd->rho[0] = 0;
	for (unsigned q = 0; q < nq; q += 16) {
		__m512i E = _mm512_loadu_si512((const void *)(e + 4 * q));
		__m512i rho = hte_nibble(_mm512_min_epu8(E, one8));
		__m512i t = _mm512_max_epu8(E, _mm512_srli_epi32(E, 8));
		t = _mm512_max_epu8(t, _mm512_srli_epi32(t, 16));
		__m512i emax = _mm512_and_si512(t, ff);
		/* The maximum in every byte of its lane (a byte shuffle stays in its
		 * 128-bit lane, and so do the indices above, taken mod 16). */
		__m512i emax4 = _mm512_shuffle_epi8(t, bcast);
		__m512i emb = hte_nibble(_mm512_maskz_mov_epi8(_mm512_cmpeq_epi8_mask(E, emax4),
							       one8));
		__m512i rl = _mm512_alignr_epi32(rho, prev_rho, 15);
		prev_rho = rho;
		__m512i cq, kappa = one;
		if (!pe) {
			cq = _mm512_or_si512(_mm512_srli_epi32(rl, 1), _mm512_and_si512(rl, one));
		} else {
			const uint8_t *b = pe + 4 * q;
			__m512i P = _mm512_loadu_si512((const void *)b);
			__m512i Pm = _mm512_loadu_si512((const void *)(b - 4));
			__m512i Pp = _mm512_loadu_si512((const void *)(b + 4));
			__m512i a0 = _mm512_srli_epi32(Pm, 24);
			__m512i a1 = _mm512_and_si512(_mm512_srli_epi32(P, 8), ff);
			__m512i a2 = _mm512_srli_epi32(P, 24);
			__m512i a3 = _mm512_and_si512(_mm512_srli_epi32(Pp, 8), ff);
			__m512i w01 = _mm512_or_si512(a0, a1), w23 = _mm512_or_si512(a2, a3);
			__m512i left = _mm512_and_si512(
				_mm512_or_si512(_mm512_srli_epi32(rl, 2), _mm512_srli_epi32(rl, 3)), one);
			cq = _mm512_or_si512(
				_mm512_maskz_mov_epi32(_mm512_test_epi32_mask(w01, w01), one),
				_mm512_or_si512(_mm512_slli_epi32(left, 1),
						_mm512_maskz_mov_epi32(_mm512_test_epi32_mask(w23, w23),
								       _mm512_set1_epi32(4))));
			__m512i me = _mm512_max_epi32(_mm512_max_epi32(a0, a1), _mm512_max_epi32(a2, a3));
			/* kappa = max(1, me - 1) where rho has two bits or more, else 1. */
			__mmask16 multi = _mm512_test_epi32_mask(rho, _mm512_sub_epi32(rho, one));
			kappa = _mm512_mask_max_epi32(one, multi, _mm512_sub_epi32(me, one), one);
		}
		__m512i U = _mm512_max_epi32(emax, kappa);
		__mmask16 sig = _mm512_test_epi32_mask(rho, rho);
		__m512i u = _mm512_maskz_sub_epi32(sig, U, kappa);
		__mmask16 has_u = _mm512_test_epi32_mask(u, u);
		__m512i idx = _mm512_or_si512(
			_mm512_or_si512(_mm512_slli_epi32(cq, 8), _mm512_slli_epi32(rho, 4)),
			_mm512_maskz_mov_epi32(has_u, emb));
		_mm256_storeu_si256((__m256i *)(void *)(qd->idx + q), _mm512_cvtepi32_epi16(idx));
		_mm_storeu_si128((__m128i *)(void *)(qd->U + q), _mm512_cvtepi32_epi8(U));
		_mm_storeu_si128((__m128i *)(void *)(qd->u + q), _mm512_cvtepi32_epi8(u));
		_mm_storeu_si128((__m128i *)(void *)(qd->cq + q), _mm512_cvtepi32_epi8(cq));
		_mm_storeu_si128((__m128i *)(void *)(qd->rho + q + 1), _mm512_cvtepi32_epi8(rho));
		/* The table entries (a 32-bit gather of 16-bit entries: the struct continues
		 * past the last one), and the quads' MagSgn words. */
		__m512i T = _mm512_and_si512(_mm512_i32gather_epi32(idx, (const void *)tbl, 2),
					     _mm512_set1_epi32(0xFFFF));
		_mm256_storeu_si256((__m256i *)(void *)(qd->t + q), _mm512_cvtepi32_epi16(T));
		xs[q / 16] = _mm512_or_si512(
			_mm512_or_si512(rho, _mm512_slli_epi32(_mm512_and_si512(T, _mm512_set1_epi32(15)), 4)),
			_mm512_slli_epi32(U, 8));
	}
	/* The MagSgn words once every step's gather has been issued: the gathers' latency
	 * then overlaps. */
	for (unsigned q = 0; q < nq; q += 16)
		hte_magsgn16(v + 4 * q, xs[q / 16], qd->ms + q, qd->len + q);
}
#elif defined(HTE_AVX2)
/* Eight quads a step, as the AVX-512 build does sixteen (see there). */
static inline __m256i
hte_nibble8(__m256i bytes01)
{
	return _mm256_srli_epi32(_mm256_mullo_epi32(bytes01, _mm256_set1_epi32(0x01020408)),
				 24);
}

/* The low byte of each 32-bit lane, to 8 bytes. */
static inline void
hte_store8_u8(uint8_t *p, __m256i x)
{
	const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
					      -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
					      -1, -1, -1, -1, -1, -1);
	__m256i b = _mm256_shuffle_epi8(x, pick);
	uint32_t lo = (uint32_t)_mm256_extract_epi32(b, 0), hi = (uint32_t)_mm256_extract_epi32(b, 4);
	memcpy(p, &lo, 4);
	memcpy(p + 4, &hi, 4);
}

/* The low 16 bits of each 32-bit lane (values < 2^16), to 8 uint16. */
static inline void
hte_store8_u16(uint16_t *p, __m256i x)
{
	__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(x, x), 0x08);
	_mm_storeu_si128((__m128i *)(void *)p, _mm256_castsi256_si128(w));
}

static inline void
hte_magsgn8(const uint32_t *v, __m256i x, uint64_t *ms, uint8_t *len)
{
	const __m256i nsh = _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3);
	const __m256i one = _mm256_set1_epi32(1), lo32 = _mm256_set1_epi64x(0xFFFFFFFF);
	__m256i pw[4], lw[4];
	for (int j = 0; j < 4; j++) {
		__m256i sel = _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1,
						2 * j + 1, 2 * j + 1);
		__m256i xs = _mm256_permutevar8x32_epi32(x, sel);
		__m256i sig = _mm256_cmpeq_epi32(
			_mm256_and_si256(_mm256_srlv_epi32(xs, nsh), one), one);
		__m256i ekb = _mm256_and_si256(
			_mm256_srlv_epi32(xs, _mm256_add_epi32(nsh, _mm256_set1_epi32(4))), one);
		__m256i m = _mm256_and_si256(sig, _mm256_sub_epi32(_mm256_srli_epi32(xs, 8), ekb));
		__m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(v + 8 * j));
		__m256i b = _mm256_and_si256(s, _mm256_sub_epi32(_mm256_sllv_epi32(one, m), one));
		__m256i ml = _mm256_and_si256(m, lo32);
		__m256i p = _mm256_or_si256(_mm256_and_si256(b, lo32),
					    _mm256_sllv_epi64(_mm256_srli_epi64(b, 32), ml));
		__m256i l = _mm256_add_epi64(ml, _mm256_srli_epi64(m, 32));
		pw[j] = _mm256_or_si256(p, _mm256_sllv_epi64(_mm256_bsrli_epi128(p, 8), l));
		lw[j] = _mm256_add_epi64(l, _mm256_bsrli_epi128(l, 8));
	}
	/* Quads in the even 64-bit lanes: 2j, 2j+1 of vector j. */
	for (int j = 0; j < 4; j += 2) {
		__m256i p = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(pw[j], pw[j + 1]), 0xD8);
		__m256i l = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(lw[j], lw[j + 1]), 0xD8);
		uint64_t lt[4];
		_mm256_storeu_si256((__m256i *)(void *)(ms + 2 * j), p);
		_mm256_storeu_si256((__m256i *)(void *)lt, l);
		for (int k = 0; k < 4; k++)
			len[2 * j + k] = (uint8_t)lt[k];
	}
}

static inline void
hte_quads(const uint8_t *e, const uint8_t *pe, unsigned nq, const uint16_t *tbl,
	  const uint32_t *v, struct hte_quads *qd)
{
	const __m256i one8 = _mm256_set1_epi8(1), ff = _mm256_set1_epi32(0xFF);
	const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
	const __m256i bcast = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12,
					       12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12,
					       12, 12);
	const __m256i rot = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
	__m256i prev_rho = zero;
	qd->rho[0] = 0;
	for (unsigned q = 0; q < nq; q += 8) {
		__m256i E = _mm256_loadu_si256((const __m256i *)(const void *)(e + 4 * q));
		__m256i rho = hte_nibble8(_mm256_min_epu8(E, one8));
		__m256i t = _mm256_max_epu8(E, _mm256_srli_epi32(E, 8));
		t = _mm256_max_epu8(t, _mm256_srli_epi32(t, 16));
		__m256i emax = _mm256_and_si256(t, ff);
		__m256i emax4 = _mm256_shuffle_epi8(t, bcast);
		__m256i emb = hte_nibble8(_mm256_and_si256(_mm256_cmpeq_epi8(E, emax4), one8));
		__m256i rl = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(rho, rot),
						_mm256_permutevar8x32_epi32(prev_rho, rot), 0x01);
		prev_rho = rho;
		__m256i cq, kappa = one;
		if (!pe) {
			cq = _mm256_or_si256(_mm256_srli_epi32(rl, 1), _mm256_and_si256(rl, one));
		} else {
			const uint8_t *b = pe + 4 * q;
			__m256i P = _mm256_loadu_si256((const __m256i *)(const void *)b);
			__m256i Pm = _mm256_loadu_si256((const __m256i *)(const void *)(b - 4));
			__m256i Pp = _mm256_loadu_si256((const __m256i *)(const void *)(b + 4));
			__m256i a0 = _mm256_srli_epi32(Pm, 24);
			__m256i a1 = _mm256_and_si256(_mm256_srli_epi32(P, 8), ff);
			__m256i a2 = _mm256_srli_epi32(P, 24);
			__m256i a3 = _mm256_and_si256(_mm256_srli_epi32(Pp, 8), ff);
			__m256i z01 = _mm256_cmpeq_epi32(_mm256_or_si256(a0, a1), zero);
			__m256i z23 = _mm256_cmpeq_epi32(_mm256_or_si256(a2, a3), zero);
			__m256i left = _mm256_and_si256(
				_mm256_or_si256(_mm256_srli_epi32(rl, 2), _mm256_srli_epi32(rl, 3)), one);
			cq = _mm256_or_si256(_mm256_andnot_si256(z01, one),
					     _mm256_or_si256(_mm256_slli_epi32(left, 1),
							     _mm256_andnot_si256(z23, _mm256_set1_epi32(4))));
			__m256i me = _mm256_max_epi32(_mm256_max_epi32(a0, a1), _mm256_max_epi32(a2, a3));
			__m256i single = _mm256_cmpeq_epi32(
				_mm256_and_si256(rho, _mm256_sub_epi32(rho, one)), zero);
			kappa = _mm256_blendv_epi8(_mm256_max_epi32(_mm256_sub_epi32(me, one), one), one,
						   single);
		}
		__m256i U = _mm256_max_epi32(emax, kappa);
		__m256i sig = _mm256_cmpgt_epi32(rho, zero);
		__m256i u = _mm256_and_si256(sig, _mm256_sub_epi32(U, kappa));
		__m256i has_u = _mm256_cmpgt_epi32(u, zero);
		__m256i idx = _mm256_or_si256(
			_mm256_or_si256(_mm256_slli_epi32(cq, 8), _mm256_slli_epi32(rho, 4)),
			_mm256_and_si256(has_u, emb));
		hte_store8_u16(qd->idx + q, idx);
		hte_store8_u8(qd->U + q, U);
		hte_store8_u8(qd->u + q, u);
		hte_store8_u8(qd->cq + q, cq);
		hte_store8_u8(qd->rho + q + 1, rho);
		__m256i T = _mm256_and_si256(_mm256_i32gather_epi32((const int *)(const void *)tbl,
								    idx, 2),
					     _mm256_set1_epi32(0xFFFF));
		hte_store8_u16(qd->t + q, T);
		hte_magsgn8(v + 4 * q, _mm256_or_si256(
			_mm256_or_si256(rho, _mm256_slli_epi32(_mm256_and_si256(T, _mm256_set1_epi32(15)), 4)),
			_mm256_slli_epi32(U, 8)), qd->ms + q, qd->len + q);
	}
}
#else
static inline void
hte_quads(const uint8_t *e, const uint8_t *pe, unsigned nq, const uint16_t *tbl,
	  const uint32_t *v, struct hte_quads *qd)
{
	uint8_t emax[HTE_QPAD], emb[HTE_QPAD];
	qd->rho[0] = 0;
	for (unsigned q = 0; q < nq; q++) {
		unsigned e0 = e[4 * q], e1 = e[4 * q + 1], e2 = e[4 * q + 2], e3 = e[4 * q + 3];
		unsigned m01 = e0 > e1 ? e0 : e1, m23 = e2 > e3 ? e2 : e3;
		unsigned m = m01 > m23 ? m01 : m23;
		qd->rho[q + 1] = (uint8_t)((e0 != 0) | (e1 != 0) << 1 | (e2 != 0) << 2 |
					   (e3 != 0) << 3);
		emax[q] = (uint8_t)m;
		emb[q] = (uint8_t)((e0 == m) | (e1 == m) << 1 | (e2 == m) << 2 | (e3 == m) << 3);
	}
	for (unsigned q = 0; q < nq; q++) {
		unsigned r = qd->rho[q + 1], rl = qd->rho[q], cq, kappa = 1;
		if (!pe) {
			cq = (rl >> 1) | (rl & 1);
		} else {
			/* NW|N, W|SW, NE|NF: columns 2q-1 .. 2q+2 of the row above (the
			 * bottom samples n = 1, 3 of quads q-1 .. q+1), and the left quad. */
			const uint8_t *b = pe + 4 * q;       /* b[-1]: quad q-1, n = 3 */
			unsigned a0 = b[-1], a1 = b[1], a2 = b[3], a3 = b[5];
			cq = ((a0 | a1) != 0) | (((rl >> 2) | (rl >> 3)) & 1) << 1 |
			     ((a2 | a3) != 0) << 2;
			unsigned m01 = a0 > a1 ? a0 : a1, m23 = a2 > a3 ? a2 : a3;
			unsigned me = m01 > m23 ? m01 : m23;
			if (r & (r - 1))
				kappa = me > 2 ? me - 1 : 1;
		}
		unsigned U = emax[q] > kappa ? emax[q] : kappa;
		unsigned u = r ? U - kappa : 0;
		qd->cq[q] = (uint8_t)cq;
		qd->U[q] = (uint8_t)U;
		qd->u[q] = (uint8_t)u;
		qd->idx[q] = (uint16_t)(cq << 8 | r << 4 | (u ? emb[q] : 0));
		unsigned t = tbl[qd->idx[q]], ek = t & 15, len = 0;
		uint64_t word = 0;
		qd->t[q] = (uint16_t)t;
		for (unsigned n = 0; n < 4; n++) {
			unsigned m = ((r >> n) & 1) * (U - ((ek >> n) & 1));
			if (len + m <= 56)
				word |= (v[4 * q + n] & (((uint64_t)1 << m) - 1)) << len;
			len += m;
		}
		qd->ms[q] = word;
		qd->len[q] = (uint8_t)len;
	}
}

#endif

/* ---- step 2b: per quad pair, and the MEL events ---- */

/* Events of quads 2p, 2p+1 (those with c_q = 0; quad qw has c_q set to 1) and, in the
 * first line pair, of the pair (both offsets above 2?), in coding order. */
static inline size_t
hte_pair_events(const struct hte_quads *qd, unsigned p, int first, uint8_t *ev, size_t nev)
{
	unsigned q = 2 * p, u0 = qd->u[q], u1 = qd->u[q + 1];
	ev[nev] = qd->rho[q + 1] != 0;
	nev += qd->cq[q] == 0;
	ev[nev] = qd->rho[q + 2] != 0;
	nev += qd->cq[q + 1] == 0;
	if (first) {
		ev[nev] = (u0 < u1 ? u0 : u1) > 2;
		nev += u0 > 0 && u1 > 0;
	}
	return nev;
}

#if defined(HTE_AVX512)
static inline __m128i
hte_ld64(const void *p)
{
	return _mm_loadl_epi64((const __m128i *)p);
}

static inline __m128i
hte_ld128(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

static inline __m256i
hte_ld256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

static inline size_t
hte_pairs(struct hte_quads *qd, unsigned qw, int first, const uint32_t *uvt, uint8_t *ev,
	  size_t nev)
{
	const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFF);
	const __m512i evens = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
	unsigned np = (qw + 1) / 2;
	for (unsigned q = 0; q < 2 * np; q += 16) {
		/* Eight pairs: the quads of a pair are the halves of a 64-bit lane. */
		__m512i T = _mm512_cvtepu16_epi32(hte_ld256(qd->t + q));
		__m512i u = _mm512_cvtepu8_epi32(hte_ld128(qd->u + q));
		__m512i cw = _mm512_srli_epi32(T, 8);
		__m512i l = _mm512_and_si512(_mm512_srli_epi32(T, 4), _mm512_set1_epi32(7));
		__m512i l0 = _mm512_and_si512(l, lo32), l1 = _mm512_srli_epi64(l, 32);
		__m512i ui = _mm512_add_epi64(_mm512_slli_epi64(_mm512_and_si512(u, lo32), 5),
					      _mm512_srli_epi64(u, 32));
		__m512i uv = _mm512_cvtepu32_epi64(_mm512_i64gather_epi32(ui, (const void *)uvt, 4));
		__m512i l01 = _mm512_add_epi64(l0, l1);
		__m512i vw = _mm512_or_si512(
			_mm512_or_si512(_mm512_and_si512(cw, lo32),
					_mm512_sllv_epi64(_mm512_srli_epi64(cw, 32), l0)),
			_mm512_sllv_epi64(_mm512_and_si512(uv, _mm512_set1_epi64(0xFFFFFF)), l01));
		__m512i vl = _mm512_add_epi64(l01, _mm512_srli_epi64(uv, 24));
		_mm512_storeu_si512((void *)(qd->vw + q / 2), vw);
		_mm_storel_epi64((__m128i *)(void *)(qd->vl + q / 2), _mm512_cvtepi64_epi8(vl));
		/* MagSgn: quad 2i's word, then 2i+1's above it. */
		__m512i ms0 = _mm512_loadu_si512((const void *)(qd->ms + q));
		__m512i ms1 = _mm512_loadu_si512((const void *)(qd->ms + q + 8));
		__m512i ln0 = _mm512_cvtepu8_epi64(hte_ld64(qd->len + q));
		__m512i ln1 = _mm512_cvtepu8_epi64(hte_ld64(qd->len + q + 8));
		__m512i w0 = _mm512_or_si512(ms0, _mm512_sllv_epi64(_mm512_bsrli_epi128(ms0, 8), ln0));
		__m512i w1 = _mm512_or_si512(ms1, _mm512_sllv_epi64(_mm512_bsrli_epi128(ms1, 8), ln1));
		__m512i s0 = _mm512_add_epi64(ln0, _mm512_bsrli_epi128(ln0, 8));
		__m512i s1 = _mm512_add_epi64(ln1, _mm512_bsrli_epi128(ln1, 8));
		_mm512_storeu_si512((void *)(qd->mw + q / 2), _mm512_permutex2var_epi64(w0, evens, w1));
		/* Sums up to 256 do not fit a byte: 255 stands for all of them (> 56). */
		__m512i ml = _mm512_min_epu64(_mm512_permutex2var_epi64(s0, evens, s1),
					      _mm512_set1_epi64(255));
		_mm_storel_epi64((__m128i *)(void *)(qd->ml + q / 2), _mm512_cvtepi64_epi8(ml));
		if (!first) {
			/* Events of the quads below qw with c_q = 0, in order. */
			__m512i cq = _mm512_cvtepu8_epi32(hte_ld128(qd->cq + q));
			__m512i rho = _mm512_cvtepu8_epi32(hte_ld128(qd->rho + q + 1));
			__mmask16 in = qw - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (qw - q)) - 1);
			__mmask16 k = _mm512_mask_testn_epi32_mask(in, cq, cq);
			__m512i e = _mm512_maskz_compress_epi32(
				k, _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(rho, rho),
							  _mm512_set1_epi32(1)));
			_mm_storeu_si128((__m128i *)(void *)(ev + nev), _mm512_cvtepi32_epi8(e));
			nev += (size_t)__builtin_popcount(k);
		}
	}
	if (first)
		for (unsigned p = 0; p < np; p++)
			nev = hte_pair_events(qd, p, 1, ev, nev);
	return nev;
}
#else
static inline size_t
hte_pairs(struct hte_quads *qd, unsigned qw, int first, const uint32_t *uvt, uint8_t *ev,
	  size_t nev)
{
	for (unsigned p = 0, q = 0; q < qw; p++, q += 2) {
		unsigned t0 = qd->t[q], t1 = qd->t[q + 1];
		unsigned l0 = (t0 >> 4) & 7, l1 = (t1 >> 4) & 7;
		uint32_t uv = uvt[qd->u[q] * 32 + qd->u[q + 1]];
		qd->vw[p] = (uint64_t)(t0 >> 8) | (uint64_t)(t1 >> 8) << l0 |
			    (uint64_t)(uv & 0xFFFFFF) << (l0 + l1);
		qd->vl[p] = (uint8_t)(l0 + l1 + (uv >> 24));
		unsigned m0 = qd->len[q], m1 = qd->len[q + 1];
		qd->mw[p] = m0 + m1 <= 56 ? qd->ms[q] | qd->ms[q + 1] << m0 : 0;
		qd->ml[p] = (uint8_t)(m0 + m1 > 255 ? 255 : m0 + m1);
		nev = hte_pair_events(qd, p, first, ev, nev);
	}
	return nev;
}
#endif

/* ---- step 3: one quad's MagSgn bits ---- */

static inline void
hte_magsgn_quad(struct hte_ms *ms, const uint32_t *v, unsigned rho, unsigned U, unsigned ek)
{
	unsigned m0 = (rho & 1) * (U - (ek & 1));
	unsigned m1 = ((rho >> 1) & 1) * (U - ((ek >> 1) & 1));
	unsigned m2 = ((rho >> 2) & 1) * (U - ((ek >> 2) & 1));
	unsigned m3 = ((rho >> 3) & 1) * (U - ((ek >> 3) & 1));
	uint64_t b0 = v[0] & (((uint64_t)1 << m0) - 1);
	uint64_t b1 = v[1] & (((uint64_t)1 << m1) - 1);
	uint64_t b2 = v[2] & (((uint64_t)1 << m2) - 1);
	uint64_t b3 = v[3] & (((uint64_t)1 << m3) - 1);
	unsigned o1 = m0, o2 = o1 + m1, o3 = o2 + m2, len = o3 + m3;
	if (HTE_LIKELY(len <= 56)) {
		hte_ms_put(ms, b0 | b1 << o1 | b2 << o2 | b3 << o3, len);
	} else {
		hte_ms_put(ms, b0, m0);
		hte_ms_put(ms, b1, m1);
		hte_ms_put(ms, b2, m2);
		hte_ms_put(ms, b3, m3);
	}
}

/* ---- step 3: the serial part, two writers, one word each per quad pair ---- */

/* Rare: a pair whose MagSgn bits exceed one word. */
static HTE_NOINLINE void
hte_emit_long(const struct hte_quads *qd, unsigned p, const uint32_t *v, struct hte_ms *ms)
{
	for (unsigned q = 2 * p; q < 2 * p + 2; q++) {
		if (qd->len[q] <= 56)
			hte_ms_put(ms, qd->ms[q], qd->len[q]);
		else
			hte_magsgn_quad(ms, v + 4 * q, qd->rho[q + 1], qd->U[q], qd->t[q] & 15);
	}
}

/* The writers' state lives in plain locals here (the structs only on the rare slow
 * paths), so that it stays in registers across the loop. */
static HTE_NOINLINE void
hte_emit(const struct hte_quads *qd, unsigned np, const uint32_t *v, struct hte_vlc *vlc,
	 struct hte_ms *ms)
{
	uint8_t *vp = vlc->p, *mp = ms->p;
	uint64_t vacc = vlc->acc, macc = ms->acc;
	unsigned vn = vlc->nacc, mn = ms->nacc, mmax = ms->max_bits;
	for (unsigned p = 0; p < np; p++) {
		/* VLC.  Stuffing can only apply at a byte whose seven low bits are all ones;
		 * without one among the complete bytes they go out as they are.  Whether
		 * the byte before is above 0x8F is read back only on the slow path (the
		 * stream starts with 0xFF, so there always is one). */
		uint64_t a = vacc | qd->vw[p] << vn;
		unsigned n = vn + qd->vl[p], nb = n >> 3;
		uint64_t x = ~(a | hte_high8);
		uint64_t whole = ((uint64_t)1 << (nb * 8)) - 1;
		if (HTE_LIKELY((((x - hte_ones8) & ~x & hte_high8) & whole) == 0)) {
			rp__store_le64(vp, a);
			vp += nb;
			vacc = a >> (nb * 8);
			vn = n & 7;
		} else {
			struct hte_vlc t = { vp, a, n, vp[-1] > 0x8F };
			hte_vlc_slow(&t);
			vp = t.p;
			vacc = t.acc;
			vn = t.nacc;
		}
		/* MagSgn (see hte_ms_put) */
		unsigned len = qd->ml[p];
		if (HTE_LIKELY(len <= 56)) {
			a = macc | qd->mw[p] << mn;
			n = mn + len;
			nb = n >> 3;
			x = ~a;
			whole = ((uint64_t)1 << (nb * 8)) - 1;
			if (HTE_LIKELY((((x - hte_ones8) & ~x & hte_high8) & whole) == 0 &&
				       mmax == 8)) {
				rp__store_le64(mp, a);
				mp += nb;
				macc = a >> (nb * 8);
				mn = n & 7;
				continue;
			}
			struct hte_ms t = { mp, a, n, mmax };
			hte_ms_slow(&t);
			mp = t.p;
			macc = t.acc;
			mn = t.nacc;
			mmax = t.max_bits;
		} else {
			struct hte_ms t = { mp, macc, mn, mmax };
			hte_emit_long(qd, p, v, &t);
			mp = t.p;
			macc = t.acc;
			mn = t.nacc;
			mmax = t.max_bits;
		}
	}
	vlc->p = vp;
	vlc->acc = vacc;
	vlc->nacc = vn;
	vlc->gt8f = vp[-1] > 0x8F;
	ms->p = mp;
	ms->acc = macc;
	ms->nacc = mn;
	ms->max_bits = mmax;
}

/* ---- the block ---- */

int
RP__ISA_FN(rp__ht_encode_block)(const int32_t *coef, size_t stride, unsigned w, unsigned h,
				struct rp__ht_enc_scratch *sc, uint8_t *out, size_t out_capacity,
				size_t *out_size)
{
	*out_size = 0;
	if (w == 0 || h == 0 || w > 64 || h > 64 || (size_t)w * h > RP__HT_MAX_CB_SAMPLES)
		return RP_E_INVALID_ARG;
	{
		uint32_t any = 0;
		for (unsigned y = 0; y < h && !any; y++) {
			const int32_t *r = coef + (size_t)y * stride;
			for (unsigned x = 0; x < w; x++)
				any |= (uint32_t)r[x];
		}
		if (!any)
			return RP_OK;
	}

	const struct rp__ht_tables *tabs = rp__ht_tables_get();
	const uint32_t *uv_tabs = rp__ht_uvlc_tables();
	/* MagSgn goes straight to out when out has room for the worst case (the callers
	 * size it with rp__ht_block_bound()); else through scratch. */
	uint8_t *ms_buf = out_capacity >= rp__ht_block_bound(w, h) ? out : sc->ms;
	struct hte_ms ms = { .p = ms_buf, .max_bits = 8 };
	struct hte_vlc vlc = { .p = sc->vlc };
	size_t nev = 0;
	uint8_t *ev = sc->mel_ev;

	/* The VLC stream starts with a 0xFF byte and four 1 bits: the places the Scup
	 * length overwrites at the very end of the segment. */
	*vlc.p++ = 0xFF;
	vlc.acc = 0xF;
	vlc.nacc = 4;
	vlc.gt8f = 1;

	unsigned qw = (w + 1) / 2;
	unsigned nq = (qw + HTE_QSTEP - 1) / HTE_QSTEP * HTE_QSTEP;
	/* Exponents of two line pairs, 4 zero bytes before quad 0 and zeros past nq
	 * (never written). */
	uint8_t *eb[2] = { sc->e_q[0] + 4, sc->e_q[1] + 4 };
	memset(sc->e_q, 0, sizeof(sc->e_q));
	struct hte_quads qd;

	for (unsigned y = 0; y < h; y += 2) {
		int first = y == 0;
		uint8_t *e = eb[(y >> 1) & 1];
		const uint8_t *pe = first ? NULL : eb[((y >> 1) & 1) ^ 1];
		const int32_t *r0 = coef + (size_t)y * stride;
		const int32_t *r1 = y + 1 < h ? r0 + stride : NULL;
		/* The next line pair's rows: their loads would otherwise wait behind this
		 * pair's serial coding. */
		for (unsigned k = 2; k < 4 && y + k < h; k++)
			for (unsigned x = 0; x < w; x += 16)
				__builtin_prefetch(r0 + k * stride + x);
		hte_load_pair(r0, r1, w, nq, sc->v, e);
		const uint16_t *tbl = tabs->enc[first ? 0 : 1];
		hte_quads(e, pe, nq, tbl, sc->v, &qd);
		/* Quads past qw are neither coded nor counted by MEL. */
		qd.idx[qw] = 0;
		qd.u[qw] = 0;
		qd.cq[qw] = 1;
		qd.t[qw] = 0;
		qd.len[qw] = 0;

		const uint32_t *uvt = uv_tabs + (first ? 0 : 1024);
		nev = hte_pairs(&qd, qw, first, uvt, ev, nev);

		hte_emit(&qd, (qw + 1) / 2, sc->v, &vlc, &ms);
	}

	struct hte_mel mel = { .p = sc->mel, .rem = 8 };
	hte_mel_code(&mel, ev, nev);

	/* Share the last MEL and VLC bytes when their used bits do not collide. */
	hte_vlc_slow(&vlc);
	size_t mel_pos = (size_t)(mel.p - sc->mel), vlc_pos = (size_t)(vlc.p - sc->vlc);
	unsigned vlc_tmp = (unsigned)vlc.acc & 0xFF, vlc_used = vlc.nacc;
	unsigned mel_tmp = (mel.tmp << mel.rem) & 0xFF;
	unsigned mel_mask = (0xFFu << mel.rem) & 0xFF;
	unsigned vlc_mask = 0xFFu >> (8 - vlc_used);
	if ((mel_mask | vlc_mask) != 0) {
		unsigned fuse = mel_tmp | vlc_tmp;
		if ((((fuse ^ mel_tmp) & mel_mask) | ((fuse ^ vlc_tmp) & vlc_mask)) == 0 &&
		    fuse != 0xFF && vlc_pos > 1) {
			sc->mel[mel_pos++] = (uint8_t)fuse;
		} else {
			sc->mel[mel_pos++] = (uint8_t)mel_tmp;
			sc->vlc[vlc_pos++] = (uint8_t)vlc_tmp;
		}
	}

	/* MagSgn termination: pad with ones; a final 0xFF is implied and not stored. */
	hte_ms_slow(&ms);
	size_t ms_pos = (size_t)(ms.p - ms_buf);
	if (ms.nacc > 0) {
		unsigned b = (unsigned)ms.acc | ((0xFFu << ms.nacc) & ((1u << ms.max_bits) - 1));
		if (b != 0xFF)
			ms_buf[ms_pos++] = (uint8_t)b;
	} else if (ms.max_bits == 7) {
		ms_pos--;
	}

	size_t scup = mel_pos + vlc_pos;
	size_t total = ms_pos + scup;
	if (scup < 2 || scup > 4079 || total > out_capacity)
		return RP_E_LIMIT;
	if (ms_buf != out)
		memcpy(out, sc->ms, ms_pos);
	memcpy(out + ms_pos, sc->mel, mel_pos);
	uint8_t *o = out + ms_pos + mel_pos;
	for (size_t i = 0; i < vlc_pos; i++)
		o[i] = sc->vlc[vlc_pos - 1 - i];
	out[total - 1] = (uint8_t)(scup >> 4);
	out[total - 2] = (uint8_t)((out[total - 2] & 0xF0) | (scup & 0xF));
	*out_size = total;
	return RP_OK;
}
