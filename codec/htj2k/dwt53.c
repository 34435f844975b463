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
#include <radpipe/pool.h>

#include "codec/htj2k/ht_internal.h"

/* Each level is cut into this many column strips (vertical pass) and row strips
 * (horizontal pass), run on the pool.  A fixed count, not the thread count: every sample
 * is computed by the same operations whatever the split, and a fixed split keeps the
 * scratch layout independent of the pool. */
#define STRIPS 16u

size_t
rp__dwt_tmp_count(unsigned w, unsigned h)
{
	return (size_t)w * h + STRIPS * (2 * (size_t)(w > h ? w : h) + 16);
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

/* ---- multi-level, strips spread over a pool ---- */

struct dwt_pass {
	int32_t *data;
	size_t stride;
	unsigned w, h;
	int32_t *tmp;
	size_t line_tmp;        /* per-strip line scratch, after the w * h block */
	int inverse;
};

static void
vert_strip(void *arg, size_t i, unsigned worker)
{
	struct dwt_pass *p = arg;
	unsigned x0 = (unsigned)(i * p->w / STRIPS), x1 = (unsigned)((i + 1) * p->w / STRIPS);
	(void)worker;
	if (x1 <= x0)
		return;
	/* Strip i's deinterleave scratch is columns [x0, x1) of a w x h block. */
	int32_t *t = p->tmp + (size_t)x0 * p->h;
	if (p->inverse)
		inv_vert(p->data + x0, p->stride, x1 - x0, p->h, t);
	else
		fwd_vert(p->data + x0, p->stride, x1 - x0, p->h, t);
}

static void
horiz_strip(void *arg, size_t i, unsigned worker)
{
	struct dwt_pass *p = arg;
	unsigned y0 = (unsigned)(i * p->h / STRIPS), y1 = (unsigned)((i + 1) * p->h / STRIPS);
	int32_t *t = p->tmp + (size_t)p->w * p->h + i * p->line_tmp;
	(void)worker;
	for (unsigned y = y0; y < y1; y++) {
		if (p->inverse)
			inv_line(p->data + (size_t)y * p->stride, p->w, t);
		else
			fwd_line(p->data + (size_t)y * p->stride, p->w, t);
	}
}

void
rp__dwt53_forward_levels(int32_t *data, size_t stride, unsigned w, unsigned h,
			 unsigned levels, int32_t *tmp, struct rp_pool *pool)
{
	size_t line = 2 * (size_t)(w > h ? w : h) + 16;
	for (unsigned l = 0; l < levels; l++) {
		struct dwt_pass p = { data, stride, w, h, tmp, line, 0 };
		rp_pool_parallel_for(pool, STRIPS, vert_strip, &p);
		rp_pool_parallel_for(pool, STRIPS, horiz_strip, &p);
		w = (w + 1) / 2;
		h = (h + 1) / 2;
	}
}

void
rp__dwt53_inverse_levels(int32_t *data, size_t stride, unsigned w, unsigned h,
			 unsigned levels, int32_t *tmp, struct rp_pool *pool)
{
	size_t line = 2 * (size_t)(w > h ? w : h) + 16;
	for (int l = (int)levels - 1; l >= 0; l--) {
		unsigned lw = w, lh = h;
		for (int k = 0; k < l; k++) {
			lw = (lw + 1) / 2;
			lh = (lh + 1) / 2;
		}
		struct dwt_pass p = { data, stride, lw, lh, tmp, line, 1 };
		rp_pool_parallel_for(pool, STRIPS, horiz_strip, &p);
		rp_pool_parallel_for(pool, STRIPS, vert_strip, &p);
	}
}
