/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_impl.h - the reversible 5/3 lifting kernels (15444-1 Annex F), written
 * once and compiled per ISA: dwt53.c builds them for the baseline, dwt53_avx2.c with AVX2
 * (the compiler vectorizes the row and split-line loops).  Included only by those files.
 *
 * Regions start at coordinate 0 (even samples are low-pass).  The vertical pass works on
 * whole rows; forward is vertical then horizontal (2D_SD), inverse horizontal then vertical
 * (2D_SR): the floors make the order matter.  Right shifts of negative values are
 * arithmetic (floor) with the compilers this builds with (GCC, Clang). */
#ifndef RP_CODEC_HTJ2K_DWT53_IMPL_H
#define RP_CODEC_HTJ2K_DWT53_IMPL_H

#include <string.h>

#include "codec/htj2k/ht_internal.h"

/* ---- one dimension, on a contiguous line ---- */

/* The lines are split into even (low) and odd (high) arrays first, so that both lifting
 * steps run over contiguous arrays and vectorize; tmp holds n + 2 samples. */
static void
fwd_line(int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2)
		return;         /* a single sample at an even position passes through */
	unsigned nl = (n + 1) / 2, nh = n / 2;
	int32_t *ev = tmp, *od = tmp + nl + 1;
	for (unsigned i = 0; i < nl; i++)
		ev[i] = x[2 * i];
	for (unsigned i = 0; i < nh; i++)
		od[i] = x[2 * i + 1];
	ev[nl] = ev[nl - 1];    /* symmetric extension: x[n] = x[n - 2] when n is even */
	for (unsigned i = 0; i < nh; i++)
		od[i] -= (ev[i] + ev[i + 1]) >> 1;
	ev[0] += (od[0] + od[0] + 2) >> 2;
	for (unsigned i = 1; i < nh; i++)
		ev[i] += (od[i - 1] + od[i] + 2) >> 2;
	if (nl > nh)
		ev[nh] += (od[nh - 1] + od[nh - 1] + 2) >> 2;
	memcpy(x, ev, nl * sizeof(*x));
	memcpy(x + nl, od, nh * sizeof(*x));
}

static void
inv_line(int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2)
		return;
	unsigned nl = (n + 1) / 2, nh = n / 2;
	const int32_t *lo = x, *hi = x + nl;
	int32_t *ev = tmp, *od = tmp + nl + 1;
	ev[0] = lo[0] - ((hi[0] + hi[0] + 2) >> 2);
	for (unsigned i = 1; i < nh; i++)
		ev[i] = lo[i] - ((hi[i - 1] + hi[i] + 2) >> 2);
	if (nl > nh)
		ev[nh] = lo[nh] - ((hi[nh - 1] + hi[nh - 1] + 2) >> 2);
	ev[nl] = ev[nl - 1];
	for (unsigned i = 0; i < nh; i++)
		od[i] = hi[i] + ((ev[i] + ev[i + 1]) >> 1);
	for (unsigned i = 0; i < nh; i++) {
		x[2 * i] = ev[i];
		x[2 * i + 1] = od[i];
	}
	if (nl > nh)
		x[n - 1] = ev[nh];
}

/* ---- vertical, whole rows ---- */

static void
fwd_vert(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	if (h < 2)
		return;
	unsigned nl = (h + 1) / 2, nh = h / 2;
	/* Predict: odd rows. */
	for (unsigned i = 0; i < nh; i++) {
		int32_t *o = d + (2 * (size_t)i + 1) * stride;
		const int32_t *a = o - stride;
		const int32_t *b = 2 * i + 2 < h ? o + stride : a;
		for (unsigned x = 0; x < w; x++)
			o[x] -= (a[x] + b[x]) >> 1;
	}
	/* Update: even rows. */
	for (unsigned i = 0; i < nl; i++) {
		int32_t *e = d + 2 * (size_t)i * stride;
		const int32_t *a = i > 0 ? e - stride : e + stride;
		const int32_t *b = 2 * i + 1 < h ? e + stride : e - stride;
		for (unsigned x = 0; x < w; x++)
			e[x] += (a[x] + b[x] + 2) >> 2;
	}
	/* Deinterleave rows: low rows first, then high rows. */
	for (unsigned i = 0; i < h; i++) {
		unsigned dst = (i & 1) ? nl + i / 2 : i / 2;
		memcpy(tmp + (size_t)dst * w, d + (size_t)i * stride, w * sizeof(*d));
	}
	for (unsigned i = 0; i < h; i++)
		memcpy(d + (size_t)i * stride, tmp + (size_t)i * w, w * sizeof(*d));
}

static void
inv_vert(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	if (h < 2)
		return;
	unsigned nl = (h + 1) / 2, nh = h / 2;
	/* Interleave into tmp (rows w apart), lift there, copy back. */
	for (unsigned i = 0; i < h; i++) {
		unsigned src = (i & 1) ? nl + i / 2 : i / 2;
		memcpy(tmp + (size_t)i * w, d + (size_t)src * stride, w * sizeof(*d));
	}
	for (unsigned i = 0; i < nl; i++) {
		int32_t *e = tmp + 2 * (size_t)i * w;
		const int32_t *a = i > 0 ? e - w : e + w;
		const int32_t *b = 2 * i + 1 < h ? e + w : e - w;
		for (unsigned x = 0; x < w; x++)
			e[x] -= (a[x] + b[x] + 2) >> 2;
	}
	for (unsigned i = 0; i < nh; i++) {
		int32_t *o = tmp + (2 * (size_t)i + 1) * w;
		const int32_t *a = o - w;
		const int32_t *b = 2 * i + 2 < h ? o + w : a;
		for (unsigned x = 0; x < w; x++)
			o[x] += (a[x] + b[x]) >> 1;
	}
	for (unsigned i = 0; i < h; i++)
		memcpy(d + (size_t)i * stride, tmp + (size_t)i * w, w * sizeof(*d));
}

#endif /* RP_CODEC_HTJ2K_DWT53_IMPL_H */
