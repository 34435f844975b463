/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k_dec.c - radpipe's HTJ2K decoder: main header, tile-parts, packet
 * headers (tag trees, pass counts, Lblock), HT cleanup decoding of every code-block (on the
 * pool), inverse 5/3 DWT, inverse RCT and DC shift.
 *
 * Profile: one tile (any number of tile-parts), zero image/tile origin, no component
 * subsampling, reversible 5/3, no quantization, HT code-blocks coded by one cleanup pass
 * down to bit plane 0 (every lossless HTJ2K stream OpenJPH and radpipe write), one precinct
 * per resolution, any progression order, one quality layer, SOP/EPH allowed.  Anything
 * else is refused with RP_E_UNSUPPORTED and the reason; the codestream is untrusted and is
 * read through bounds-checked cursors. */
#include <stdlib.h>

#include "codec/htj2k/ht_block_dec.h"
#include "codec/htj2k/htj2k_cs.h"

struct cur {
	const uint8_t *p, *end;
};

static inline int
cur_need(const struct cur *c, size_t n)
{
	return (size_t)(c->end - c->p) >= n;
}

static inline unsigned
get8(struct cur *c)
{
	return *c->p++;
}

static inline unsigned
get16(struct cur *c)
{
	unsigned v = rp__load_be16(c->p);
	c->p += 2;
	return v;
}

static inline uint32_t
get32(struct cur *c)
{
	uint32_t v = rp__load_be32(c->p);
	c->p += 4;
	return v;
}

struct dec_hdr {
	struct rp__ht_params p;
	unsigned scod, layers, cb_style, transform;
	unsigned ppx[RP__HT_MAX_LEVELS + 1], ppy[RP__HT_MAX_LEVELS + 1];
	unsigned nqcd;
	uint8_t eps[1 + 3 * RP__HT_MAX_LEVELS];
	int have_siz, have_cod, have_qcd;
};

static int
parse_main(struct cur *c, struct dec_hdr *h, struct rp_errbuf *err)
{
	if (!cur_need(c, 2) || get16(c) != 0xFF4F)
		return rp__err(err, RP_E_CORRUPT, "htj2k: no SOC marker");
	for (;;) {
		if (!cur_need(c, 4))
			return rp__err(err, RP_E_CORRUPT, "htj2k: main header truncated");
		unsigned m = get16(c);
		if (m == 0xFF90) {
			c->p -= 2;
			break;
		}
		if ((m & 0xFF00) != 0xFF00)
			return rp__err(err, RP_E_CORRUPT, "htj2k: bad marker 0x%04x", m);
		unsigned l = get16(c);
		if (l < 2 || !cur_need(c, l - 2))
			return rp__err(err, RP_E_CORRUPT, "htj2k: marker 0x%04x overruns", m);
		struct cur s = { c->p, c->p + (l - 2) };
		c->p += l - 2;
		switch (m) {
		case 0xFF51: {                          /* SIZ */
			if (!cur_need(&s, 36))
				return rp__err(err, RP_E_CORRUPT, "htj2k: SIZ too short");
			get16(&s);
			uint32_t xs = get32(&s), ys = get32(&s), xo = get32(&s), yo = get32(&s);
			uint32_t xt = get32(&s), yt = get32(&s), xto = get32(&s), yto = get32(&s);
			unsigned nc = get16(&s);
			if (nc == 0 || !cur_need(&s, 3 * (size_t)nc))
				return rp__err(err, RP_E_CORRUPT, "htj2k: SIZ components");
			if (xo || yo || xto || yto)
				return rp__err(err, RP_E_UNSUPPORTED,
					       "htj2k: non-zero image or tile origin");
			if (xs == 0 || ys == 0 || xs > (1u << 24) || ys > (1u << 24))
				return rp__err(err, RP_E_UNSUPPORTED, "htj2k: image size %ux%u",
					       xs, ys);
			if (xt < xs || yt < ys)
				return rp__err(err, RP_E_UNSUPPORTED, "htj2k: more than one tile");
			if (nc != 1 && nc != 3)
				return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u components", nc);
			unsigned s0 = 0;
			for (unsigned i = 0; i < nc; i++) {
				unsigned ss = get8(&s), xr = get8(&s), yr = get8(&s);
				if (i == 0)
					s0 = ss;
				if (ss != s0)
					return rp__err(err, RP_E_UNSUPPORTED,
						       "htj2k: components of different precision");
				if (xr != 1 || yr != 1)
					return rp__err(err, RP_E_UNSUPPORTED,
						       "htj2k: subsampled components");
			}
			h->p.width = xs;
			h->p.height = ys;
			h->p.components = nc;
			h->p.depth = (s0 & 0x7F) + 1;
			h->p.is_signed = (s0 & 0x80) != 0;
			if (h->p.depth > 16)
				return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u-bit samples",
					       h->p.depth);
			h->have_siz = 1;
			break;
		}
		case 0xFF52: {                          /* COD */
			if (!cur_need(&s, 10))
				return rp__err(err, RP_E_CORRUPT, "htj2k: COD too short");
			h->scod = get8(&s);
			h->p.progression = get8(&s);
			h->layers = get16(&s);
			unsigned mct = get8(&s);
			h->p.levels = get8(&s);
			unsigned xcb = get8(&s), ycb = get8(&s);
			h->cb_style = get8(&s);
			h->transform = get8(&s);
			if (h->p.levels > RP__HT_MAX_LEVELS)
				return rp__err(err, RP_E_CORRUPT, "htj2k: %u levels", h->p.levels);
			if (xcb > 4 || ycb > 4 || xcb + ycb > 8)
				return rp__err(err, RP_E_CORRUPT, "htj2k: code-block size");
			h->p.cb_w_log2 = xcb + 2;
			h->p.cb_h_log2 = ycb + 2;
			h->p.rct = mct == 1;
			if (mct > 1)
				return rp__err(err, RP_E_UNSUPPORTED, "htj2k: MCT %u", mct);
			for (unsigned r = 0; r <= h->p.levels; r++) {
				unsigned v = 0xFF;
				if (h->scod & 1) {
					if (!cur_need(&s, 1))
						return rp__err(err, RP_E_CORRUPT, "htj2k: COD precincts");
					v = get8(&s);
				}
				h->ppx[r] = v & 15;
				h->ppy[r] = v >> 4;
			}
			h->have_cod = 1;
			break;
		}
		case 0xFF5C: {                          /* QCD */
			if (!cur_need(&s, 1))
				return rp__err(err, RP_E_CORRUPT, "htj2k: QCD too short");
			unsigned sq = get8(&s);
			if ((sq & 0x1F) != 0)
				return rp__err(err, RP_E_UNSUPPORTED,
					       "htj2k: quantized (irreversible) stream");
			h->p.guard_bits = sq >> 5;
			h->nqcd = 0;
			while (s.p < s.end && h->nqcd < sizeof(h->eps))
				h->eps[h->nqcd++] = (uint8_t)(get8(&s) >> 3);
			h->have_qcd = 1;
			break;
		}
		case 0xFF53:                            /* COC */
		case 0xFF5D:                            /* QCC */
		case 0xFF5E:                            /* RGN */
		case 0xFF5F:                            /* POC */
		case 0xFF60:                            /* PPM */
			return rp__err(err, RP_E_UNSUPPORTED, "htj2k: marker 0x%04x not supported",
				       m);
		default:                                /* CAP, TLM, PLM, COM, CRG, ...: skip */
			break;
		}
	}
	if (!h->have_siz || !h->have_cod || !h->have_qcd)
		return rp__err(err, RP_E_CORRUPT, "htj2k: SIZ, COD or QCD missing");
	if (h->transform != 1)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: irreversible 9/7 transform");
	if (!(h->cb_style & 0x40) || (h->cb_style & 0x80))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "htj2k: code-blocks not all HT (style 0x%02x)", h->cb_style);
	if (h->layers != 1)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u quality layers", h->layers);
	if (h->p.rct && h->p.components != 3)
		return rp__err(err, RP_E_CORRUPT, "htj2k: MCT with %u components",
			       h->p.components);
	if (h->nqcd != 1 + 3 * h->p.levels)
		return rp__err(err, RP_E_CORRUPT, "htj2k: QCD has %u bands, expected %u",
			       h->nqcd, 1 + 3 * h->p.levels);
	if (h->p.progression > 4)
		return rp__err(err, RP_E_CORRUPT, "htj2k: progression %u", h->p.progression);
	/* Precinct exponents: resolution 0 may use 0, the others need at least 1 (the
	 * bands of a precinct are half its size). */
	for (unsigned r = 1; r <= h->p.levels; r++)
		if (h->ppx[r] == 0 || h->ppy[r] == 0)
			return rp__err(err, RP_E_CORRUPT, "htj2k: precinct exponent 0 at resolution %u",
				       r);
	return RP_OK;
}

/* ---- packet headers ---- */

struct bitr {
	const uint8_t *p, *end;
	unsigned byte;
	int bits;
	int last_ff;
	int overrun;
};

static inline unsigned
bitr_get(struct bitr *b)
{
	if (b->bits == 0) {
		if (b->p >= b->end) {
			b->overrun = 1;
			return 0;
		}
		b->byte = *b->p++;
		b->bits = b->last_ff ? 7 : 8;
		b->last_ff = b->byte == 0xFF;
	}
	b->bits--;
	return (b->byte >> b->bits) & 1;
}

static inline uint32_t
bitr_bits(struct bitr *b, unsigned n)
{
	uint32_t v = 0;
	while (n--)
		v = (v << 1) | bitr_get(b);
	return v;
}

/* Ends the header: the rest of the byte is padding; after 0xFF one more byte. */
static inline void
bitr_align(struct bitr *b)
{
	b->bits = 0;
	if (b->last_ff) {
		if (b->p < b->end)
			b->p++;
		else
			b->overrun = 1;
		b->last_ff = 0;
	}
}

/* Returns 1 when the leaf's value is below threshold (then *value holds it). */
static int
tt_decode(struct rp__ht_tagtree *t, struct bitr *b, uint32_t x, uint32_t y, uint32_t threshold,
	  uint32_t *value)
{
	uint32_t low = 0;
	struct rp__ht_tt_node *nd = NULL;
	for (int l = (int)t->levels - 1; l >= 0; l--) {
		nd = &t->nodes[t->off[l] + (size_t)(y >> l) * t->w[l] + (x >> l)];
		if (low > nd->low)
			nd->low = low;
		else
			low = nd->low;
		while (low < threshold && low < nd->value) {
			if (bitr_get(b))
				nd->value = low;
			else
				low++;
			if (b->overrun)
				return 0;
		}
		nd->low = low;
	}
	*value = nd->value;
	return nd->value < threshold;
}

static unsigned
read_passes(struct bitr *b)
{
	if (!bitr_get(b))
		return 1;
	if (!bitr_get(b))
		return 2;
	unsigned v = bitr_bits(b, 2);
	if (v != 3)
		return 3 + v;
	v = bitr_bits(b, 5);
	if (v != 31)
		return 6 + v;
	return 37 + bitr_bits(b, 7);
}

struct cb_ref {
	int32_t *coef;
	size_t stride;
	unsigned w, h;
	unsigned mb;
	const uint8_t *seg;
	size_t len;
	int status;
};

struct dec_ctx {
	struct cb_ref *cbs;
	rp__ht_decode_block_fn *decode_block;
};

static void
cb_decode_run(void *arg, size_t i, unsigned worker)
{
	struct dec_ctx *d = arg;
	struct cb_ref *c = &d->cbs[i];
	(void)worker;
	if (!c->seg) {          /* in no packet: all zero */
		for (unsigned y = 0; y < c->h; y++)
			memset(c->coef + (size_t)y * c->stride, 0, c->w * sizeof(int32_t));
		return;
	}
	c->status = d->decode_block(c->seg, c->len, c->w, c->h, c->coef, c->stride, c->mb);
}

int
rp__htj2k_read_info(const uint8_t *src, size_t src_size, struct rp__ht_info *info,
		    struct rp_errbuf *err)
{
	struct dec_hdr h;
	struct cur c = { src, src + src_size };
	memset(&h, 0, sizeof(h));
	RP_TRY(parse_main(&c, &h, err));
	info->width = h.p.width;
	info->height = h.p.height;
	info->components = h.p.components;
	info->depth = h.p.depth;
	info->is_signed = (unsigned)h.p.is_signed;
	info->levels = h.p.levels;
	info->rct = (unsigned)h.p.rct;
	info->progression = h.p.progression;
	info->layers = h.layers;
	return RP_OK;
}

int
rp__htj2k_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		 uint8_t *dst, size_t dst_capacity, struct rp_pool *pool,
		 const struct rp__htj2k_kernels *kern, struct rp__ht_workspace *ws,
		 struct rp_errbuf *err)
{
	struct dec_hdr h;
	struct cur c = { src, src + src_size };
	struct rp__ht_band bands[1 + 3 * RP__HT_MAX_LEVELS];
	int32_t *planes[RP__HT_MAX_COMPONENTS] = { NULL };
	int32_t *tmp = NULL;
	struct rp__ht_workspace call_ws = { 0 };
	uint8_t *body = NULL;
	struct cb_ref *cbs = NULL;
	struct rp__ht_tagtree incl = { 0 }, zbp = { 0 };
	int ret;

	memset(&h, 0, sizeof(h));
	RP_TRY(parse_main(&c, &h, err));
	const struct rp__ht_params *p = &h.p;
	if (img->width != p->width || img->height != p->height ||
	    img->components != p->components || img->bits_stored != p->depth ||
	    (img->is_signed != 0) != (p->is_signed != 0) || img->bits_allocated > 16)
		return rp__err(err, RP_E_CORRUPT,
			       "htj2k: codestream (%ux%u, %u comps, %u-bit %s) does not match the "
			       "image description", p->width, p->height, p->components, p->depth,
			       p->is_signed ? "signed" : "unsigned");
	if (dst_capacity < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "htj2k: output buffer too small");

	/* Tile-parts: gather the bodies of tile 0 in order. */
	size_t body_len = 0, body_cap = src_size;
	if (!ws)
		ws = &call_ws;
	body = rp__ht_ws_get(ws, RP__HT_WS_SEG, body_cap ? body_cap : 1);
	if (!body)
		return rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
	for (;;) {
		if (!cur_need(&c, 2)) {
			break;          /* tolerate a missing EOC */
		}
		unsigned m = get16(&c);
		if (m == 0xFFD9)
			break;
		if (m != 0xFF90 || !cur_need(&c, 10)) {
			ret = rp__err(err, RP_E_CORRUPT, "htj2k: expected SOT, got 0x%04x", m);
			goto fail;
		}
		const uint8_t *sot = c.p - 2;
		unsigned lsot = get16(&c), isot = get16(&c);
		uint32_t psot = get32(&c);
		get8(&c);
		get8(&c);
		if (lsot != 10 || isot != 0) {
			ret = rp__err(err, lsot != 10 ? RP_E_CORRUPT : RP_E_UNSUPPORTED,
				      "htj2k: tile %u (only one tile supported)", isot);
			goto fail;
		}
		const uint8_t *tp_end = psot ? sot + psot : c.end;
		if (psot && (psot < 14 || psot > (size_t)(c.end - sot))) {
			ret = rp__err(err, RP_E_CORRUPT, "htj2k: Psot %u overruns", psot);
			goto fail;
		}
		/* Tile-part header markers until SOD. */
		for (;;) {
			if ((size_t)(tp_end - c.p) < 2) {
				ret = rp__err(err, RP_E_CORRUPT, "htj2k: tile-part without SOD");
				goto fail;
			}
			unsigned tm = get16(&c);
			if (tm == 0xFF93)
				break;
			if ((size_t)(tp_end - c.p) < 2) {
				ret = rp__err(err, RP_E_CORRUPT, "htj2k: tile-part header truncated");
				goto fail;
			}
			unsigned tl = get16(&c);
			if (tl < 2 || (size_t)(tp_end - c.p) < tl - 2) {
				ret = rp__err(err, RP_E_CORRUPT, "htj2k: tile-part marker overruns");
				goto fail;
			}
			if (tm == 0xFF52 || tm == 0xFF53 || tm == 0xFF5C || tm == 0xFF5D ||
			    tm == 0xFF5F || tm == 0xFF61 || tm == 0xFF5E) {
				ret = rp__err(err, RP_E_UNSUPPORTED,
					      "htj2k: coding marker 0x%04x in a tile-part header", tm);
				goto fail;
			}
			c.p += tl - 2;
		}
		size_t n = (size_t)(tp_end - c.p);
		if (!psot) {
			/* Up to EOC at the end of the stream, when it is there. */
			if (n >= 2 && tp_end[-2] == 0xFF && tp_end[-1] == 0xD9)
				n -= 2;
			tp_end = c.p + n;
		}
		memcpy(body + body_len, c.p, n);
		body_len += n;
		c.p = tp_end;
	}

	unsigned nb = rp__ht_layout(p, bands);
	unsigned nc = p->components;
	for (unsigned b = 0; b < nb; b++) {
		/* Mb from this stream's QCD (guard bits + eps - 1). */
		if (h.eps[b] == 0 || p->guard_bits + h.eps[b] - 1 > 30) {
			ret = rp__err(err, RP_E_UNSUPPORTED, "htj2k: band %u has %u magnitude bits",
				      b, p->guard_bits + h.eps[b] - 1);
			goto fail;
		}
		bands[b].mb = p->guard_bits + h.eps[b] - 1;
	}
	/* Not cleared: every code-block writes all its coefficients, and one that is in no
	 * packet is zeroed by its job (in parallel, not here on one thread). */
	if (rp__ht_ws_planes(ws, p, planes, &tmp) < 0) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	/* Code-blocks never cross precincts: their size in resolution r is capped by the
	 * precinct size (15444-1 B.7: xcb' = min(xcb, PPx - 1) for r > 0). */
	size_t band_first[1 + 3 * RP__HT_MAX_LEVELS];
	unsigned cbxl[1 + 3 * RP__HT_MAX_LEVELS], cbyl[1 + 3 * RP__HT_MAX_LEVELS];
	size_t ncb_comp = 0;
	for (unsigned b = 0; b < nb; b++) {
		struct rp__ht_band *bd = &bands[b];
		unsigned r = bd->res;
		unsigned px = r ? h.ppx[r] - 1 : h.ppx[r], py = r ? h.ppy[r] - 1 : h.ppy[r];
		cbxl[b] = p->cb_w_log2 < px ? p->cb_w_log2 : px;
		cbyl[b] = p->cb_h_log2 < py ? p->cb_h_log2 : py;
		bd->ncbx = (uint32_t)(((uint64_t)bd->w + (1u << cbxl[b]) - 1) >> cbxl[b]);
		bd->ncby = (uint32_t)(((uint64_t)bd->h + (1u << cbyl[b]) - 1) >> cbyl[b]);
		band_first[b] = ncb_comp;
		ncb_comp += (size_t)bd->ncbx * bd->ncby;
	}
	size_t ncb_total = ncb_comp * nc;
	cbs = rp__ht_ws_get(ws, RP__HT_WS_JOBS, (ncb_total ? ncb_total : 1) * sizeof(*cbs));
	if (!cbs) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	memset(cbs, 0, (ncb_total ? ncb_total : 1) * sizeof(*cbs));
	for (unsigned k = 0; k < nc; k++)
		for (unsigned b = 0; b < nb; b++) {
			const struct rp__ht_band *bd = &bands[b];
			for (uint32_t y = 0; y < bd->ncby; y++)
				for (uint32_t x = 0; x < bd->ncbx; x++) {
					struct cb_ref *cr = &cbs[k * ncb_comp + band_first[b] +
								 (size_t)y * bd->ncbx + x];
					uint32_t x0 = x << cbxl[b], y0 = y << cbyl[b];
					uint32_t cw = 1u << cbxl[b], ch = 1u << cbyl[b];
					cr->w = bd->w - x0 < cw ? bd->w - x0 : cw;
					cr->h = bd->h - y0 < ch ? bd->h - y0 : ch;
					cr->stride = p->width;
					cr->coef = planes[k] + (size_t)(bd->y0 + y0) * p->width + bd->x0 + x0;
					cr->mb = bd->mb;
				}
		}

	/* Precincts per resolution. */
	uint32_t npx[RP__HT_MAX_LEVELS + 1], npy[RP__HT_MAX_LEVELS + 1];
	int several = 0;
	for (unsigned r = 0; r <= p->levels; r++) {
		unsigned n = p->levels - r;
		uint64_t rw = ((uint64_t)p->width + (1ull << n) - 1) >> n;
		uint64_t rh = ((uint64_t)p->height + (1ull << n) - 1) >> n;
		npx[r] = h.ppx[r] >= 31 ? 1 : (uint32_t)((rw + (1ull << h.ppx[r]) - 1) >> h.ppx[r]);
		npy[r] = h.ppy[r] >= 31 ? 1 : (uint32_t)((rh + (1ull << h.ppy[r]) - 1) >> h.ppy[r]);
		if ((uint64_t)npx[r] * npy[r] > (1u << 20)) {
			ret = rp__err(err, RP_E_UNSUPPORTED, "htj2k: too many precincts");
			goto fail;
		}
		several |= npx[r] * npy[r] > 1;
	}
	/* With one layer, LRCP, RLCP and RPCL all visit resolution, then precinct
	 * (raster; with a zero origin and no subsampling the RPCL position order is the
	 * raster of each resolution's precincts), then component -- except that LRCP and
	 * RLCP put the component before the precinct.  PCRL and CPRL interleave
	 * resolutions by position: supported with one precinct per resolution only. */
	int comp_outer = p->progression >= 3;
	if (comp_outer && several) {
		ret = rp__err(err, RP_E_UNSUPPORTED,
			      "htj2k: PCRL/CPRL progression with several precincts");
		goto fail;
	}
	struct cur pc = { body, body + body_len };
	unsigned nr = p->levels + 1;
	for (unsigned o1 = 0; o1 < (comp_outer ? nc : nr); o1++) {
		unsigned r0 = comp_outer ? 0 : o1;
		uint32_t nprec = comp_outer ? 1 : npx[r0] * npy[r0];
		for (uint32_t o2 = 0; o2 < (comp_outer ? nr : nprec * nc); o2++) {
			unsigned r, k;
			uint32_t prec;
			if (comp_outer) {
				k = o1;
				r = o2;
				prec = 0;
			} else if (p->progression == 2) {       /* RPCL: precinct, then component */
				r = o1;
				prec = o2 / nc;
				k = o2 % nc;
			} else {                                /* LRCP, RLCP: component, precinct */
				r = o1;
				k = o2 / nprec;
				prec = o2 % nprec;
			}
			uint32_t ppx_i = prec % npx[r], ppy_i = prec / npx[r];
			if (h.scod & 2) {       /* SOP marker segment before the packet */
				if (cur_need(&pc, 6) && pc.p[0] == 0xFF && pc.p[1] == 0x91)
					pc.p += 6;
			}
			struct bitr br = { pc.p, pc.end, 0, 0, 0, 0 };
			unsigned present = bitr_get(&br);
			size_t seg_total = 0;
			for (unsigned b = 0; b < nb; b++) {
				const struct rp__ht_band *bd = &bands[b];
				if (bd->res != r)
					continue;
				/* This precinct's code-blocks in the band. */
				unsigned pe_x = (r ? h.ppx[r] - 1 : h.ppx[r]) - cbxl[b];
				unsigned pe_y = (r ? h.ppy[r] - 1 : h.ppy[r]) - cbyl[b];
				uint64_t cx0 = (uint64_t)ppx_i << pe_x, cy0 = (uint64_t)ppy_i << pe_y;
				uint64_t cx1 = (uint64_t)(ppx_i + 1) << pe_x, cy1 = (uint64_t)(ppy_i + 1) << pe_y;
				if (pe_x >= 31)
					cx0 = 0, cx1 = bd->ncbx;
				if (pe_y >= 31)
					cy0 = 0, cy1 = bd->ncby;
				if (cx1 > bd->ncbx)
					cx1 = bd->ncbx;
				if (cy1 > bd->ncby)
					cy1 = bd->ncby;
				if (cx0 >= cx1 || cy0 >= cy1)
					continue;
				uint32_t tw = (uint32_t)(cx1 - cx0), th = (uint32_t)(cy1 - cy0);
				if (present) {
					if ((ret = rp__ht_tagtree_init(&incl, tw, th)) < 0 ||
					    (ret = rp__ht_tagtree_init(&zbp, tw, th)) < 0) {
						rp__err(err, ret, "htj2k: out of memory");
						goto fail;
					}
				}
				for (uint32_t y = 0; y < th && present; y++)
					for (uint32_t x = 0; x < tw; x++) {
						struct cb_ref *cr = &cbs[k * ncb_comp + band_first[b] +
									 (size_t)(cy0 + y) * bd->ncbx +
									 (cx0 + x)];
						uint32_t v;
						if (!tt_decode(&incl, &br, x, y, 1, &v))
							continue;
						uint32_t zb = UINT32_MAX;
						/* Missing MSBs: decode the full value. */
						for (uint32_t t = 1; !tt_decode(&zbp, &br, x, y, t, &zb); t++)
							if (br.overrun || t > 64)
								break;
						unsigned passes = read_passes(&br);
						unsigned lb = 3;
						while (bitr_get(&br) && !br.overrun && lb < 32)
							lb++;
						if (passes != 1) {
							ret = rp__err(err, RP_E_UNSUPPORTED,
								      "htj2k: %u coding passes in a code-block "
								      "(refinement passes)", passes);
							goto fail;
						}
						uint32_t len = bitr_bits(&br, lb);
						if (br.overrun || zb > 64) {
							ret = rp__err(err, RP_E_CORRUPT,
								      "htj2k: packet header truncated");
							goto fail;
						}
						if (zb + 1 != bd->mb) {
							ret = rp__err(err, zb + 1 > bd->mb ? RP_E_CORRUPT :
								      RP_E_UNSUPPORTED,
								      "htj2k: cleanup pass above bit plane 0 "
								      "(%u missing MSBs of %u): not lossless",
								      zb, bd->mb);
							goto fail;
						}
						if (cr->seg) {
							ret = rp__err(err, RP_E_CORRUPT,
								      "htj2k: code-block included twice");
							goto fail;
						}
						cr->len = len;
						cr->seg = pc.p;         /* placeholder, set below */
						cr->status = 1;         /* in this packet */
						seg_total += len;
					}
				free(incl.nodes);
				free(zbp.nodes);
				incl.nodes = zbp.nodes = NULL;
			}
			bitr_align(&br);
			if (br.overrun) {
				ret = rp__err(err, RP_E_CORRUPT, "htj2k: packet header truncated");
				goto fail;
			}
			pc.p = br.p;
			if (h.scod & 4) {       /* EPH after the header */
				if (cur_need(&pc, 2) && pc.p[0] == 0xFF && pc.p[1] == 0x92)
					pc.p += 2;
			}
			if (!cur_need(&pc, seg_total)) {
				ret = rp__err(err, RP_E_CORRUPT, "htj2k: packet body truncated");
				goto fail;
			}
			/* Bodies in the header's order: band, then raster within the precinct. */
			for (unsigned b = 0; b < nb && seg_total; b++) {
				const struct rp__ht_band *bd = &bands[b];
				if (bd->res != r)
					continue;
				for (uint32_t y = 0; y < bd->ncby; y++)
					for (uint32_t x = 0; x < bd->ncbx; x++) {
						struct cb_ref *cr = &cbs[k * ncb_comp + band_first[b] +
									 (size_t)y * bd->ncbx + x];
						if (cr->status != 1)
							continue;
						cr->status = 0;
						cr->seg = pc.p;
						pc.p += cr->len;
					}
			}
		}
	}
	size_t cbi = ncb_total;

	struct dec_ctx dctx = { cbs, kern->decode_block };
	rp_pool_parallel_for(pool, cbi, cb_decode_run, &dctx);
	for (size_t i = 0; i < cbi; i++)
		if (cbs[i].status < 0) {
			ret = rp__err(err, cbs[i].status, "htj2k: code-block %zu is %s", i,
				      cbs[i].status == RP_E_CORRUPT ? "corrupt" : "unsupported");
			goto fail;
		}
	/* One 16-bit component (CT, MR, ...): the last inverse level writes the samples
	 * itself, while its rows are in cache; else a separate conversion pass. */
	if (nc == 1 && img->bits_allocated == 16 && p->levels >= 1 && p->height >= 2) {
		struct rp__dwt_out16 out = {
			.dst = dst,
			.dst_stride = 2 * (size_t)p->width,
			.shift = p->is_signed ? 0 : (int32_t)1 << (p->depth - 1),
			.lo = p->is_signed ? -((int32_t)1 << (p->depth - 1)) : 0,
			.hi = p->is_signed ? ((int32_t)1 << (p->depth - 1)) - 1
					   : (int32_t)((1u << p->depth) - 1),
		};
		rp__dwt53_inverse_levels(kern->dwt, planes[0], p->width,
					 p->width, p->height, p->levels, tmp, pool, &out);
	} else {
		for (unsigned k = 0; k < nc; k++)
			rp__dwt53_inverse_levels(kern->dwt, planes[k],
						 p->width, p->width, p->height, p->levels, tmp,
						 pool, NULL);
		rp__ht_planes_to_frame(img, p, planes, dst, pool);
	}
	ret = RP_OK;
fail:
	free(incl.nodes);
	free(zbp.nodes);
	rp__ht_ws_release(&call_ws);
	rp__ht_ws_trim(ws);
	return ret;
}
