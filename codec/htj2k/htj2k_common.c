/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k_common.c - geometry and sample conversions shared by radpipe's HTJ2K
 * encoder and decoder. */
#include <stdlib.h>
#include <sys/mman.h>

#include "codec/htj2k/htj2k_cs.h"

void *
rp__ht_alloc_big(size_t size)
{
	/* Planes of a large frame are touched once per call: with 4 KiB pages the first-touch
	 * faults took a third of a 4096 x 3072 encode (perf, bench_htj2k).  Transparent huge
	 * pages (where the kernel offers them on request) cut the fault count 512-fold. */
	const size_t huge = (size_t)2 << 20;
	if (size < 2 * huge) {
		/* 64-byte aligned: whole cache lines for the SIMD kernels and per-worker
		 * scratch that shares no line with its neighbour. */
		return aligned_alloc(64, ((size ? size : 1) + 63) & ~(size_t)63);
	}
	size_t rounded = (size + huge - 1) & ~(huge - 1);
	void *p = aligned_alloc(huge, rounded);
	if (p)
		(void)madvise(p, rounded, MADV_HUGEPAGE);
	return p;
}

static inline uint32_t
ceil_half(uint32_t v)
{
	return (v >> 1) + (v & 1);
}

unsigned
rp__ht_max_levels(uint32_t w, uint32_t h)
{
	/* floor(log2(min(w, h))): OpenJPEG refuses streams whose lowest resolution would be
	 * narrower than 1 << levels of the tile allows, so stay within that. */
	uint32_t m = w < h ? w : h;
	unsigned n = 0;
	while (n < RP__HT_MAX_LEVELS && (m >> (n + 1)) > 0)
		n++;
	return n;
}

unsigned
rp__ht_layout(const struct rp__ht_params *p, struct rp__ht_band *bands)
{
	uint32_t w[RP__HT_MAX_LEVELS + 1], h[RP__HT_MAX_LEVELS + 1];
	unsigned nl = p->levels, n = 0;
	w[0] = p->width;
	h[0] = p->height;
	for (unsigned k = 1; k <= nl; k++) {
		w[k] = ceil_half(w[k - 1]);
		h[k] = ceil_half(h[k - 1]);
	}
	uint32_t cw = 1u << p->cb_w_log2, ch = 1u << p->cb_h_log2;
	struct rp__ht_band *b = &bands[n++];
	b->orient = 0;
	b->res = 0;
	b->x0 = 0;
	b->y0 = 0;
	b->w = w[nl];
	b->h = h[nl];
	for (unsigned r = 1; r <= nl; r++) {
		unsigned k = nl - r + 1;        /* decomposition level of this resolution */
		for (unsigned o = 1; o <= 3; o++) {
			b = &bands[n++];
			b->orient = o;
			b->res = r;
			b->x0 = (o & 1) ? w[k] : 0;
			b->y0 = (o & 2) ? h[k] : 0;
			b->w = (o & 1) ? w[k - 1] - w[k] : w[k];
			b->h = (o & 2) ? h[k - 1] - h[k] : h[k];
		}
	}
	for (unsigned i = 0; i < n; i++) {
		b = &bands[i];
		b->mb = p->guard_bits + rp__ht_eps(p, b->orient) - 1;
		b->ncbx = (b->w + cw - 1) / cw;
		b->ncby = (b->h + ch - 1) / ch;
	}
	return n;
}

/* Sample i of a canonical frame, as the value DICOM means (sign/zero extended). */
static inline int32_t
load_sample(const uint8_t *src, size_t i, unsigned bytes, int is_signed)
{
	if (bytes == 1)
		return is_signed ? (int32_t)(int8_t)src[i] : (int32_t)src[i];
	uint16_t v = rp__load_le16(src + 2 * i);
	return is_signed ? (int32_t)(int16_t)v : (int32_t)v;
}

/* Samples [i0, i1) of one plane.  The one-component cases are separate loops with no
 * per-sample branch so that the compiler vectorizes them (they run at memory speed). */
static void
to_plane_range(const struct rp__ht_params *p, unsigned bytes, const uint8_t *src,
	       int32_t *const *planes, size_t i0, size_t i1)
{
	unsigned nc = p->components;
	int32_t shift = p->is_signed ? 0 : (int32_t)1 << (p->depth - 1);
	if (nc == 1 && bytes == 2) {
		int32_t *restrict d = planes[0];
		const uint8_t *restrict s = src;
		if (p->is_signed)
			for (size_t i = i0; i < i1; i++)
				d[i] = (int16_t)rp__load_le16(s + 2 * i);
		else
			for (size_t i = i0; i < i1; i++)
				d[i] = (int32_t)rp__load_le16(s + 2 * i) - shift;
		return;
	}
	for (unsigned c = 0; c < nc; c++) {
		int32_t *d = planes[c];
		for (size_t i = i0; i < i1; i++)
			d[i] = load_sample(src, i * nc + c, bytes, p->is_signed) - shift;
	}
	if (p->rct) {
		/* 15444-1 G.2: Y = floor((R + 2G + B) / 4), Cb = B - G, Cr = R - G. */
		int32_t *r = planes[0], *g = planes[1], *b = planes[2];
		for (size_t i = i0; i < i1; i++) {
			int32_t y = (r[i] + 2 * g[i] + b[i]) >> 2;
			int32_t cb = b[i] - g[i], cr = r[i] - g[i];
			r[i] = y;
			g[i] = cb;
			b[i] = cr;
		}
	}
}

static void
from_plane_range(const struct rp__ht_params *p, unsigned bytes, int32_t *const *planes,
		 uint8_t *dst, size_t i0, size_t i1)
{
	unsigned nc = p->components;
	int32_t shift = p->is_signed ? 0 : (int32_t)1 << (p->depth - 1);
	int32_t lo = p->is_signed ? -((int32_t)1 << (p->depth - 1)) : 0;
	int32_t hi = p->is_signed ? ((int32_t)1 << (p->depth - 1)) - 1
				  : (int32_t)((1u << p->depth) - 1);
	/* Clamp: only a damaged or foreign stream can leave the range, and the output must
	 * stay a clean canonical frame. */
	if (nc == 1 && bytes == 2) {
		const int32_t *restrict s = planes[0];
		uint8_t *restrict d = dst;
		for (size_t i = i0; i < i1; i++) {
			int32_t v = s[i] + shift;
			v = v < lo ? lo : v > hi ? hi : v;
			rp__store_le16(d + 2 * i, (uint16_t)v);
		}
		return;
	}
	if (p->rct) {
		int32_t *y = planes[0], *cb = planes[1], *cr = planes[2];
		for (size_t i = i0; i < i1; i++) {
			int32_t g = y[i] - ((cb[i] + cr[i]) >> 2);
			int32_t r = cr[i] + g, b = cb[i] + g;
			y[i] = r;
			cb[i] = g;
			cr[i] = b;
		}
	}
	for (unsigned c = 0; c < nc; c++) {
		const int32_t *s = planes[c];
		for (size_t i = i0; i < i1; i++) {
			int32_t v = s[i] + shift;
			v = v < lo ? lo : v > hi ? hi : v;
			size_t k = i * nc + c;
			if (bytes == 1)
				dst[k] = (uint8_t)v;
			else
				rp__store_le16(dst + 2 * k, (uint16_t)v);
		}
	}
}

/* The conversions are cut into this many pieces on the pool: with them serial, a
 * 2-thread encode of a 4096 x 3072 frame spent a fifth of its time on one core. */
#define CONVERT_PIECES 16u

struct convert_job {
	const struct rp__ht_params *p;
	unsigned bytes;
	const uint8_t *src;
	uint8_t *dst;
	int32_t *const *planes;
	size_t npix;
};

static void
to_planes_piece(void *arg, size_t k, unsigned worker)
{
	const struct convert_job *j = arg;
	(void)worker;
	to_plane_range(j->p, j->bytes, j->src, j->planes, k * j->npix / CONVERT_PIECES,
		       (k + 1) * j->npix / CONVERT_PIECES);
}

static void
from_planes_piece(void *arg, size_t k, unsigned worker)
{
	const struct convert_job *j = arg;
	(void)worker;
	from_plane_range(j->p, j->bytes, j->planes, j->dst, k * j->npix / CONVERT_PIECES,
			 (k + 1) * j->npix / CONVERT_PIECES);
}

void
rp__ht_frame_to_planes(const struct rp_image_desc *img, const struct rp__ht_params *p,
		       const uint8_t *src, int32_t *const *planes, struct rp_pool *pool)
{
	struct convert_job j = { p, img->bits_allocated == 8 ? 1u : 2u, src, NULL, planes,
				 (size_t)p->width * p->height };
	rp_pool_parallel_for(pool, CONVERT_PIECES, to_planes_piece, &j);
}

void
rp__ht_planes_to_frame(const struct rp_image_desc *img, const struct rp__ht_params *p,
		       int32_t *const *planes, uint8_t *dst, struct rp_pool *pool)
{
	struct convert_job j = { p, img->bits_allocated == 8 ? 1u : 2u, NULL, dst, planes,
				 (size_t)p->width * p->height };
	rp_pool_parallel_for(pool, CONVERT_PIECES, from_planes_piece, &j);
}

void *
rp__ht_ws_get(struct rp__ht_workspace *ws, unsigned slot, size_t size)
{
	if (slot >= RP__HT_WS_SLOTS)
		return NULL;
	if (ws->buf[slot] && ws->cap[slot] >= size)
		return ws->buf[slot];
	free(ws->buf[slot]);
	ws->buf[slot] = rp__ht_alloc_big(size);
	ws->cap[slot] = ws->buf[slot] ? size : 0;
	return ws->buf[slot];
}

int
rp__ht_ws_planes(struct rp__ht_workspace *ws, const struct rp__ht_params *p,
		 int32_t **planes, int32_t **dwt_tmp)
{
	size_t npix = (size_t)p->width * p->height;
	for (unsigned c = 0; c < p->components; c++)
		if (!(planes[c] = rp__ht_ws_get(ws, RP__HT_WS_PLANE0 + c, npix * sizeof(int32_t))))
			return RP_E_NOMEM;
	*dwt_tmp = rp__ht_ws_get(ws, RP__HT_WS_DWT,
				 rp__dwt_tmp_count(p->width, p->height) * sizeof(int32_t));
	return *dwt_tmp ? RP_OK : RP_E_NOMEM;
}

void
rp__ht_ws_release(struct rp__ht_workspace *ws)
{
	for (unsigned i = 0; i < RP__HT_WS_SLOTS; i++) {
		free(ws->buf[i]);
		ws->buf[i] = NULL;
		ws->cap[i] = 0;
	}
}

void
rp__ht_ws_trim(struct rp__ht_workspace *ws)
{
	size_t total = 0;
	if (!ws)
		return;
	for (unsigned i = 0; i < RP__HT_WS_SLOTS; i++)
		total += ws->cap[i];
	if (total > RP__HT_WS_KEEP)
		rp__ht_ws_release(ws);
}

void *
rp__ht_workspace_new(void)
{
	return calloc(1, sizeof(struct rp__ht_workspace));
}

void
rp__ht_workspace_free(void *ws)
{
	if (ws) {
		rp__ht_ws_release(ws);
		free(ws);
	}
}

int
rp__ht_tagtree_init(struct rp__ht_tagtree *t, uint32_t w, uint32_t h)
{
	size_t total = 0;
	unsigned l = 0;
	for (;;) {
		t->w[l] = w;
		t->h[l] = h;
		t->off[l] = total;
		total += (size_t)w * h;
		l++;
		if ((w <= 1 && h <= 1) || l == 16)
			break;
		w = (w + 1) / 2;
		h = (h + 1) / 2;
	}
	t->levels = l;
	t->nodes = calloc(total ? total : 1, sizeof(*t->nodes));
	if (!t->nodes)
		return RP_E_NOMEM;
	for (size_t i = 0; i < total; i++)
		t->nodes[i].value = UINT32_MAX;
	return RP_OK;
}
