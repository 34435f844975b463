/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_impl.h - the reversible 5/3 lifting kernels (15444-1 Annex F), written
 * once and compiled per ISA: dwt53.c builds them for the baseline, dwt53_avx2.c with AVX2
 * and dwt53_avx512.c with AVX-512 (the compiler vectorizes the row and split-line loops).
 * Included only by those files, after RP__ISA_BUILD and simd/isa_build.h (simd/cpu.h):
 * each build's table is RP__ISA_FN(rp__dwt_kernels), at the end.
 *
 * Regions start at coordinate 0 (even samples are low-pass).  The vertical pass works on
 * whole rows; forward is vertical then horizontal (2D_SD), inverse horizontal then vertical
 * (2D_SR): the floors make the order matter.  Right shifts of negative values are
 * arithmetic (floor) with the compilers this builds with (GCC, Clang). */
#ifndef RP_CODEC_HTJ2K_DWT53_IMPL_H
#define RP_CODEC_HTJ2K_DWT53_IMPL_H

#include <string.h>

#include "codec/htj2k/ht_internal.h"

#if RP__ISA_LEVEL == RP__ISA_ID_avx2
#include <immintrin.h>
#endif

/* ---- one dimension, on a contiguous line ---- */

/* The lines are split into even (low) and odd (high) arrays first, so that both lifting
 * steps run over contiguous arrays and vectorize; tmp holds n + 2 samples.  The forward
 * steps write their results straight to the line's low and high halves (no copy back). */
static void
fwd_line(int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2)
		return;         /* a single sample at an even position passes through */
	unsigned nl = (n + 1) / 2, nh = n / 2;
	int32_t *restrict ev = tmp, *restrict od = tmp + nl + 1;
	for (unsigned i = 0; i < nl; i++)
		ev[i] = x[2 * i];
	for (unsigned i = 0; i < nh; i++)
		od[i] = x[2 * i + 1];
	ev[nl] = ev[nl - 1];    /* symmetric extension: x[n] = x[n - 2] when n is even */
	/* Disjoint halves of x: [0, nl) and [nl, n). */
	int32_t *restrict lo = x, *restrict hi = x + nl;
	for (unsigned i = 0; i < nh; i++)
		hi[i] = od[i] - ((ev[i] + ev[i + 1]) >> 1);
	lo[0] = ev[0] + ((hi[0] + hi[0] + 2) >> 2);
	for (unsigned i = 1; i < nh; i++)
		lo[i] = ev[i] + ((hi[i - 1] + hi[i] + 2) >> 2);
	if (nl > nh)
		lo[nh] = ev[nh] + ((hi[nh - 1] + hi[nh - 1] + 2) >> 2);
}

/* x[2i] = ev[i], x[2i + 1] = od[i] for i < nh. */
static inline void
interleave_line(int32_t *x, const int32_t *ev, const int32_t *od, unsigned nh)
{
	unsigned i = 0;
#if RP__ISA_LEVEL == RP__ISA_ID_avx2
	/* In-lane unpacks and 128-bit stores: the compiler's lane-crossing vperm2i128
	 * costs 8 micro-ops on AMD Zen. */
	for (; i + 8 <= nh; i += 8) {
		__m256i e = _mm256_loadu_si256((const __m256i *)(ev + i));
		__m256i o = _mm256_loadu_si256((const __m256i *)(od + i));
		__m256i a = _mm256_unpacklo_epi32(e, o);        /* 0 1 | 4 5 */
		__m256i b = _mm256_unpackhi_epi32(e, o);        /* 2 3 | 6 7 */
		_mm_storeu_si128((__m128i *)(x + 2 * i), _mm256_castsi256_si128(a));
		_mm_storeu_si128((__m128i *)(x + 2 * i + 4), _mm256_castsi256_si128(b));
		_mm_storeu_si128((__m128i *)(x + 2 * i + 8), _mm256_extracti128_si256(a, 1));
		_mm_storeu_si128((__m128i *)(x + 2 * i + 12), _mm256_extracti128_si256(b, 1));
	}
#endif
	for (; i < nh; i++) {
		x[2 * i] = ev[i];
		x[2 * i + 1] = od[i];
	}
}

/* The inverse of the line at src into x (which may be src: every read of src comes
 * before the first write to x). */
static inline void
inv_line_to(const int32_t *src, int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2) {
		if (n == 1)
			x[0] = src[0];
		return;
	}
	unsigned nl = (n + 1) / 2, nh = n / 2;
	const int32_t *lo = src, *hi = src + nl;
	int32_t *ev = tmp, *od = tmp + nl + 1;
	ev[0] = lo[0] - ((hi[0] + hi[0] + 2) >> 2);
	for (unsigned i = 1; i < nh; i++)
		ev[i] = lo[i] - ((hi[i - 1] + hi[i] + 2) >> 2);
	if (nl > nh)
		ev[nh] = lo[nh] - ((hi[nh - 1] + hi[nh - 1] + 2) >> 2);
	ev[nl] = ev[nl - 1];
	for (unsigned i = 0; i < nh; i++)
		od[i] = hi[i] + ((ev[i] + ev[i + 1]) >> 1);
	interleave_line(x, ev, od, nh);
	if (nl > nh)
		x[n - 1] = ev[nh];
}

static void
inv_line(int32_t *x, unsigned n, int32_t *tmp)
{
	inv_line_to(x, x, n, tmp);
}

/* ---- vertical, whole rows ----
 *
 * One pass down the rows does both lifting steps: the high-pass row i (from odd row 2i + 1)
 * goes to tmp, and the low-pass row i (from even row 2i and high rows i - 1, i) is written
 * in place to row i, whose source rows were all consumed by earlier steps (i < 2i).  The
 * high rows then move to the bottom half.  The former predict pass, update pass and two
 * whole-strip copies read and wrote every sample four times; this does it 1.5 times,
 * which is what a large frame (57 MB of coefficients) pays for in memory traffic. */

static void
fwd_vert(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	if (h < 2)
		return;
	unsigned nl = (h + 1) / 2, nh = h / 2;
	for (unsigned i = 0; i < nl; i++) {
		const int32_t *e = d + 2 * (size_t)i * stride;
		if (i < nh) {
			/* Predict: H[i] = odd - floor((even above + even below) / 2), the row
			 * below mirrored at the bottom edge. */
			const int32_t *o = e + stride;
			const int32_t *b = 2 * i + 2 < h ? o + stride : e;
			int32_t *hi = tmp + (size_t)i * w;
			for (unsigned x = 0; x < w; x++)
				hi[x] = o[x] - ((e[x] + b[x]) >> 1);
		}
		/* Update: L[i] = even + floor((H[i - 1] + H[i] + 2) / 4), mirrored at both
		 * edges (H[-1] = H[0]; H[nh] = H[nh - 1] when h is odd). */
		const int32_t *ha = tmp + (size_t)(i > 0 ? i - 1 : 0) * w;
		const int32_t *hb = tmp + (size_t)(i < nh ? i : i - 1) * w;
		int32_t *lo = d + (size_t)i * stride;
		for (unsigned x = 0; x < w; x++)
			lo[x] = e[x] + ((ha[x] + hb[x] + 2) >> 2);
	}
	for (unsigned i = 0; i < nh; i++)
		memcpy(d + (size_t)(nl + i) * stride, tmp + (size_t)i * w, w * sizeof(*d));
}

/* The inverse: the high rows go to tmp, then one pass up from the bottom writes even row
 * 2i (from low row i) and odd row 2i + 1 (from high row i and even rows 2i, 2i + 2); every
 * row it overwrites was consumed by an earlier (lower) step. */
static void
inv_vert(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	if (h < 2)
		return;
	unsigned nl = (h + 1) / 2, nh = h / 2;
	for (unsigned i = 0; i < nh; i++)
		memcpy(tmp + (size_t)i * w, d + (size_t)(nl + i) * stride, w * sizeof(*d));
	for (unsigned i = nl; i-- > 0;) {
		const int32_t *lo = d + (size_t)i * stride;
		const int32_t *ha = tmp + (size_t)(i > 0 ? i - 1 : 0) * w;
		const int32_t *hb = tmp + (size_t)(i < nh ? i : i - 1) * w;
		int32_t *e = d + 2 * (size_t)i * stride;
		for (unsigned x = 0; x < w; x++)
			e[x] = lo[x] - ((ha[x] + hb[x] + 2) >> 2);
		if (i < nh) {
			const int32_t *hi = tmp + (size_t)i * w;
			const int32_t *b = 2 * i + 2 < h ? e + 2 * stride : e;
			int32_t *o = e + stride;
			for (unsigned x = 0; x < w; x++)
				o[x] = hi[x] + ((e[x] + b[x]) >> 1);
		}
	}
}

/* fwd_vert of the first level fused with the input conversion: the same lifting, each
 * sample converted as it is read (rows 2i and 2i + 2 are read twice; the int32 plane is
 * written once, low rows in place and high rows from tmp). */
static inline int32_t
in16_sample(const uint8_t *row, unsigned x, int is_signed, int32_t shift)
{
	uint16_t v = rp__load_le16(row + 2 * (size_t)x);
	return is_signed ? (int32_t)(int16_t)v : (int32_t)v - shift;
}

static void
fwd_vert_in16(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp,
	      const struct rp__dwt_in16 *in, const uint8_t *src)
{
	unsigned nl = (h + 1) / 2, nh = h / 2;
	int sg = in->is_signed;
	int32_t sh = in->shift;
	size_t ss = in->src_stride;
	int32_t *line = tmp + (size_t)w * (nh + 1);
	for (unsigned i = 0; i < nl; i++) {
		const uint8_t *e = src + 2 * (size_t)i * ss;
		if (i < nh) {
			const uint8_t *o = e + ss;
			const uint8_t *b = 2 * i + 2 < h ? o + ss : e;
			int32_t *hi = tmp + (size_t)i * w;
			for (unsigned x = 0; x < w; x++)
				hi[x] = in16_sample(o, x, sg, sh) -
					((in16_sample(e, x, sg, sh) + in16_sample(b, x, sg, sh)) >> 1);
		}
		const int32_t *ha = tmp + (size_t)(i > 0 ? i - 1 : 0) * w;
		const int32_t *hb = tmp + (size_t)(i < nh ? i : i - 1) * w;
		int32_t *lo = d + (size_t)i * stride;
		for (unsigned x = 0; x < w; x++)
			lo[x] = in16_sample(e, x, sg, sh) + ((ha[x] + hb[x] + 2) >> 2);
		/* Low row i is final (the samples come from src, never from d). */
		if (in->with_horizontal)
			fwd_line(lo, w, line);
	}
	for (unsigned i = 0; i < nh; i++) {
		int32_t *r = d + (size_t)(nl + i) * stride;
		memcpy(r, tmp + (size_t)i * w, w * sizeof(*d));
		if (in->with_horizontal)
			fwd_line(r, w, line);
	}
}

/* inv_vert of the last level fused with the output conversion: the same pass, but each
 * even and odd row is also (odd rows: only) written as clamped 16-bit samples, in the
 * loop that computes it.  Even rows still go back to d, because the odd row above reads
 * them; odd rows are read by nothing. */
static inline void
out16_put(uint8_t *dst, unsigned x, int32_t v, int32_t shift, int32_t lo, int32_t hi)
{
	v += shift;
	/* min, then max (lo <= hi): vpminsd and vpmaxsd, where the nested form became a
	 * compare and a blend. */
	v = v > hi ? hi : v;
	v = v < lo ? lo : v;
	rp__store_le16(dst + 2 * (size_t)x, (uint16_t)v);
}

static void
inv_vert_out16(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp,
	       const struct rp__dwt_out16 *out, uint8_t *dst)
{
	unsigned nl = (h + 1) / 2, nh = h / 2;
	int32_t shift = out->shift, vlo = out->lo, vhi = out->hi;
	int horiz = out->with_horizontal;
	int32_t *line = tmp + (size_t)w * (nh + 1);
	/* The high rows parked in tmp; with the horizontal pass, it writes them there
	 * itself (no copy first). */
	for (unsigned i = 0; i < nh; i++) {
		if (horiz)
			inv_line_to(d + (size_t)(nl + i) * stride, tmp + (size_t)i * w, w, line);
		else
			memcpy(tmp + (size_t)i * w, d + (size_t)(nl + i) * stride,
			       w * sizeof(*d));
	}
	for (unsigned i = nl; i-- > 0;) {
		/* Low row i is untouched until here: the steps before wrote rows 2j, 2j + 1
		 * for j > i. */
		if (horiz)
			inv_line(d + (size_t)i * stride, w, line);
		const int32_t *lo = d + (size_t)i * stride;
		const int32_t *restrict ha = tmp + (size_t)(i > 0 ? i - 1 : 0) * w;
		const int32_t *restrict hb = tmp + (size_t)(i < nh ? i : i - 1) * w;
		int32_t *e = d + 2 * (size_t)i * stride;
		uint8_t *restrict de = dst + 2 * (size_t)i * out->dst_stride;
		if (i == 0) {
			/* Row 0 is its own low row: computed in place, one sample at a time. */
			for (unsigned x = 0; x < w; x++) {
				e[x] = lo[x] - ((ha[x] + hb[x] + 2) >> 2);
				out16_put(de, x, e[x], shift, vlo, vhi);
			}
		} else {
			/* Rows i and 2i differ. */
			const int32_t *restrict lr = lo;
			int32_t *restrict er = e;
			for (unsigned x = 0; x < w; x++) {
				int32_t v = lr[x] - ((ha[x] + hb[x] + 2) >> 2);
				er[x] = v;
				out16_put(de, x, v, shift, vlo, vhi);
			}
		}
		if (i < nh) {
			const int32_t *restrict hi = tmp + (size_t)i * w;
			const int32_t *restrict ee = e;
			const int32_t *restrict b = 2 * i + 2 < h ? e + 2 * stride : e;
			uint8_t *restrict dd = dst + (2 * (size_t)i + 1) * out->dst_stride;
			for (unsigned x = 0; x < w; x++)
				out16_put(dd, x, hi[x] + ((ee[x] + b[x]) >> 1), shift, vlo, vhi);
		}
	}
}

const struct rp__dwt_kernels RP__ISA_FN(rp__dwt_kernels) = {
	.name = RP__ISA_NAME,
	.fwd_vert = fwd_vert,
	.inv_vert = inv_vert,
	.inv_vert_out16 = inv_vert_out16,
	.fwd_vert_in16 = fwd_vert_in16,
	.fwd_line = fwd_line,
	.inv_line = inv_line,
};

#endif /* RP_CODEC_HTJ2K_DWT53_IMPL_H */
