/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53.c - the reversible 5/3 wavelet of ISO/IEC 15444-1 Annex F (lifting,
 * whole-sample symmetric extension), scalar reference.
 *
 * Regions start at coordinate 0 (the codec always uses a zero image and tile origin), so
 * even samples are low-pass.  The vertical pass works on whole rows at a time, which keeps
 * memory access sequential and lets the compiler vectorize the inner loops; the order
 * (vertical then horizontal forward, horizontal then vertical inverse) is the standard's:
 * the floor operations make it matter for reversibility.  Right shifts of negative values
 * are arithmetic (floor) with every compiler this builds with (GCC, Clang). */
#include "codec/htj2k/ht_internal.h"

size_t
rp__dwt_tmp_count(unsigned w, unsigned h)
{
	return (size_t)w * h + 2 * (size_t)(w > h ? w : h) + 16;
}

/* ---- one dimension, on a contiguous line ---- */

static void
fwd_line(int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2)
		return;         /* a single sample at an even position passes through */
	unsigned nl = (n + 1) / 2, nh = n / 2;
	int32_t *lo = tmp, *hi = tmp + nl;
	for (unsigned i = 0; i < nh; i++) {
		int32_t r = 2 * i + 2 < n ? x[2 * i + 2] : x[2 * i];
		hi[i] = x[2 * i + 1] - ((x[2 * i] + r) >> 1);
	}
	for (unsigned i = 0; i < nl; i++) {
		int32_t dl = i > 0 ? hi[i - 1] : hi[0];
		int32_t dr = i < nh ? hi[i] : hi[nh - 1];
		lo[i] = x[2 * i] + ((dl + dr + 2) >> 2);
	}
	memcpy(x, tmp, n * sizeof(*x));
}

static void
inv_line(int32_t *x, unsigned n, int32_t *tmp)
{
	if (n < 2)
		return;
	unsigned nl = (n + 1) / 2, nh = n / 2;
	const int32_t *lo = x, *hi = x + nl;
	for (unsigned i = 0; i < nl; i++) {
		int32_t dl = i > 0 ? hi[i - 1] : hi[0];
		int32_t dr = i < nh ? hi[i] : hi[nh - 1];
		tmp[2 * i] = lo[i] - ((dl + dr + 2) >> 2);
	}
	for (unsigned i = 0; i < nh; i++) {
		int32_t r = 2 * i + 2 < n ? tmp[2 * i + 2] : tmp[2 * i];
		tmp[2 * i + 1] = hi[i] + ((tmp[2 * i] + r) >> 1);
	}
	memcpy(x, tmp, n * sizeof(*x));
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

void
rp__dwt53_forward(int32_t *data, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	fwd_vert(data, stride, w, h, tmp);
	for (unsigned y = 0; y < h; y++)
		fwd_line(data + (size_t)y * stride, w, tmp);
}

void
rp__dwt53_inverse(int32_t *data, size_t stride, unsigned w, unsigned h, int32_t *tmp)
{
	for (unsigned y = 0; y < h; y++)
		inv_line(data + (size_t)y * stride, w, tmp);
	inv_vert(data, stride, w, h, tmp);
}
