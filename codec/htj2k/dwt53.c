/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53.c - the reversible 5/3 wavelet: the scalar build of the kernels (the
 * reference) and the multi-level passes cut into strips on the pool, with the kernels of
 * the level the caller chose (struct rp__htj2k_kernels).  Every ISA computes the same
 * integers, so the output never depends on it. */
#include <radpipe/pool.h>

#define RP__ISA_BUILD scalar
#include "simd/isa_build.h"
#include "codec/htj2k/dwt53_impl.h"

/* With a pool, each level is cut into up to this many column strips (vertical pass) and
 * row strips (horizontal pass).  Every sample is computed by the same operations whatever
 * the split, so the output never depends on it.  Strips stay at least MIN_STRIP_COLS
 * columns (1 KiB of each row) wide: narrow strips stream poorly (with 16 strips of a
 * 1760-wide DX, two threads took longer than one), and MIN_STRIP_ROWS rows high; without
 * a pool there is one strip. */
#define STRIPS 16u
#define MIN_STRIP_COLS 256u
#define MIN_STRIP_ROWS 8u

static unsigned
strips_for(const struct rp_pool *pool, unsigned n, unsigned min)
{
	if (!pool)
		return 1;
	unsigned s = n / min;
	return s < 1 ? 1 : s > STRIPS ? STRIPS : s;
}

size_t
rp__dwt_tmp_count(unsigned w, unsigned h)
{
	/* The vertical pass parks the high rows (h / 2 of them) of its strip; the horizontal
	 * pass needs one line per strip. */
	return (size_t)w * (h / 2 + 1) + STRIPS * (2 * (size_t)(w > h ? w : h) + 16);
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

struct dwt_pass {
	const struct rp__dwt_kernels *k;
	int32_t *data;
	size_t stride;
	unsigned w, h;
	int32_t *tmp;
	size_t line_tmp;        /* per-strip line scratch, after the vertical pass's block */
	int inverse;
	unsigned nstrips;
	const struct rp__dwt_out16 *out;   /* the fused last inverse level, or NULL */
	const struct rp__dwt_in16 *in;     /* the fused first forward level, or NULL */
};

static void
vert_strip(void *arg, size_t i, unsigned worker)
{
	struct dwt_pass *p = arg;
	/* Boundaries on 16-column (64-byte) steps: two threads never write the same cache
	 * line of a row, which they otherwise did at every strip edge of every row. */
	unsigned x0 = (unsigned)(i * p->w / p->nstrips) & ~15u;
	unsigned x1 = i + 1 == p->nstrips ? p->w : (unsigned)((i + 1) * p->w / p->nstrips) & ~15u;
	(void)worker;
	if (x1 <= x0)
		return;
	/* Strip i's high rows go to columns [x0, x1) of a w x (h / 2 + 1) block. */
	int32_t *t = p->tmp + (size_t)x0 * (p->h / 2 + 1);
	if (p->inverse && p->out)
		p->k->inv_vert_out16(p->data + x0, p->stride, x1 - x0, p->h, t, p->out,
				     p->out->dst + 2 * (size_t)x0);
	else if (p->inverse)
		p->k->inv_vert(p->data + x0, p->stride, x1 - x0, p->h, t);
	else if (p->in)
		p->k->fwd_vert_in16(p->data + x0, p->stride, x1 - x0, p->h, t, p->in,
				    p->in->src + 2 * (size_t)x0);
	else
		p->k->fwd_vert(p->data + x0, p->stride, x1 - x0, p->h, t);
}

static void
horiz_strip(void *arg, size_t i, unsigned worker)
{
	struct dwt_pass *p = arg;
	unsigned y0 = (unsigned)(i * p->h / p->nstrips);
	unsigned y1 = (unsigned)((i + 1) * p->h / p->nstrips);
	int32_t *t = p->tmp + (size_t)p->w * (p->h / 2 + 1) + i * p->line_tmp;
	(void)worker;
	for (unsigned y = y0; y < y1; y++) {
		if (p->inverse)
			p->k->inv_line(p->data + (size_t)y * p->stride, p->w, t);
		else
			p->k->fwd_line(p->data + (size_t)y * p->stride, p->w, t);
	}
}

void
rp__dwt53_forward_levels(const struct rp__dwt_kernels *k, int32_t *data, size_t stride,
			 unsigned w, unsigned h, unsigned levels, int32_t *tmp,
			 struct rp_pool *pool, const struct rp__dwt_in16 *in)
{
	size_t line = 2 * (size_t)(w > h ? w : h) + 16;
	for (unsigned l = 0; l < levels; l++) {
		struct dwt_pass p = { k, data, stride, w, h, tmp, line, 0, 0, NULL,
				      l == 0 ? in : NULL };
		struct rp__dwt_in16 i16;
		p.nstrips = strips_for(pool, w, MIN_STRIP_COLS);
		if (p.in && p.nstrips == 1) {
			/* One vertical strip of whole rows: the kernel does the horizontal
			 * pass too, row by row. */
			i16 = *p.in;
			i16.with_horizontal = 1;
			p.in = &i16;
			vert_strip(&p, 0, 0);
		} else {
			rp_pool_parallel_for(pool, p.nstrips, vert_strip, &p);
			p.nstrips = strips_for(pool, h, MIN_STRIP_ROWS);
			rp_pool_parallel_for(pool, p.nstrips, horiz_strip, &p);
		}
		w = (w + 1) / 2;
		h = (h + 1) / 2;
	}
}

void
rp__dwt53_inverse_levels(const struct rp__dwt_kernels *k, int32_t *data, size_t stride,
			 unsigned w, unsigned h, unsigned levels, int32_t *tmp,
			 struct rp_pool *pool, const struct rp__dwt_out16 *out)
{
	size_t line = 2 * (size_t)(w > h ? w : h) + 16;
	for (int l = (int)levels - 1; l >= 0; l--) {
		unsigned lw = w, lh = h;
		for (int q = 0; q < l; q++) {
			lw = (lw + 1) / 2;
			lh = (lh + 1) / 2;
		}
		struct dwt_pass p = { k, data, stride, lw, lh, tmp, line, 1, 0, l == 0 ? out : NULL,
				      NULL };
		struct rp__dwt_out16 o;
		unsigned vstrips = strips_for(pool, lw, MIN_STRIP_COLS);
		if (p.out && vstrips == 1) {
			/* One vertical strip of whole rows: the kernel does the horizontal
			 * pass too, row by row. */
			o = *p.out;
			o.with_horizontal = 1;
			p.out = &o;
			p.nstrips = 1;
			vert_strip(&p, 0, 0);
			continue;
		}
		p.nstrips = strips_for(pool, lh, MIN_STRIP_ROWS);
		rp_pool_parallel_for(pool, p.nstrips, horiz_strip, &p);
		p.nstrips = vstrips;
		rp_pool_parallel_for(pool, p.nstrips, vert_strip, &p);
	}
}
