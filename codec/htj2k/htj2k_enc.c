/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k_enc.c - radpipe's HTJ2K encoder, lossless profile: DC shift and RCT,
 * reversible 5/3 DWT, HT cleanup pass per code-block (in parallel on the pool), packets
 * with tag-tree headers, and the codestream markers (SOC SIZ CAP COD QCD [TLM] SOT SOD EOC)
 * of ISO/IEC 15444-1 Annex A and 15444-15.
 *
 * One tile, one quality layer, one precinct per resolution (so LRCP and RPCL give the
 * same packet order), every code-block coded by one HT cleanup pass that carries all its
 * magnitude bits (15444-15: the cleanup pass at bit plane 0, so the packet header signals
 * Mb - 1 missing MSBs for every included block). */
#include <stdlib.h>

#include "codec/htj2k/htj2k_cs.h"

/* ---- packet header bits: MSB first, a 0 stuffed after every 0xFF (15444-1 B.10.1) ---- */

struct bitw {
	uint8_t *buf;
	size_t pos, cap;
	unsigned tmp;
	int n, width;
	int overflow;
};

static inline void
bitw_byte(struct bitw *b, unsigned v)
{
	if (b->pos < b->cap)
		b->buf[b->pos++] = (uint8_t)v;
	else
		b->overflow = 1;
}

static inline void
bitw_put(struct bitw *b, unsigned bit)
{
	b->tmp = (b->tmp << 1) | bit;
	if (++b->n == b->width) {
		bitw_byte(b, b->tmp);
		b->width = b->tmp == 0xFF ? 7 : 8;
		b->tmp = 0;
		b->n = 0;
	}
}

static void
bitw_bits(struct bitw *b, uint32_t v, int n)
{
	while (n-- > 0)
		bitw_put(b, (v >> n) & 1);
}

static void
bitw_flush(struct bitw *b)
{
	if (b->n > 0) {
		bitw_byte(b, b->tmp << (b->width - b->n));
		b->width = 8;
		b->n = 0;
		b->tmp = 0;
	}
	/* A header ending in 0xFF is followed by a 0 byte, as the stuffing rule asks. */
	if (b->width == 7) {
		bitw_byte(b, 0);
		b->width = 8;
	}
}

/* ---- tag trees (15444-1 B.10.2) ---- */

/* Sets leaf values, then every parent to the minimum of its children. */
static void
tt_set(struct rp__ht_tagtree *t, const uint32_t *leaf_values)
{
	for (size_t i = 0; i < (size_t)t->w[0] * t->h[0]; i++)
		t->nodes[i] = (struct rp__ht_tt_node){ .value = leaf_values[i] };
	for (unsigned l = 1; l < t->levels; l++) {
		for (uint32_t y = 0; y < t->h[l]; y++)
			for (uint32_t x = 0; x < t->w[l]; x++) {
				uint32_t m = UINT32_MAX;
				for (uint32_t dy = 0; dy < 2; dy++)
					for (uint32_t dx = 0; dx < 2; dx++) {
						uint32_t cx = 2 * x + dx, cy = 2 * y + dy;
						if (cx >= t->w[l - 1] || cy >= t->h[l - 1])
							continue;
						uint32_t v = t->nodes[t->off[l - 1] +
								      (size_t)cy * t->w[l - 1] + cx].value;
						if (v < m)
							m = v;
					}
				t->nodes[t->off[l] + (size_t)y * t->w[l] + x] =
					(struct rp__ht_tt_node){ .value = m };
			}
	}
}

static void
tt_encode(struct rp__ht_tagtree *t, struct bitw *b, uint32_t x, uint32_t y, uint32_t threshold)
{
	uint32_t low = 0;
	for (int l = (int)t->levels - 1; l >= 0; l--) {
		struct rp__ht_tt_node *nd = &t->nodes[t->off[l] + (size_t)(y >> l) * t->w[l] + (x >> l)];
		if (low > nd->low)
			nd->low = low;
		else
			low = nd->low;
		while (low < threshold) {
			if (low >= nd->value) {
				if (!nd->known) {
					bitw_put(b, 1);
					nd->known = 1;
				}
				break;
			}
			bitw_put(b, 0);
			low++;
		}
		nd->low = low;
	}
}

/* ---- code-block jobs ---- */

struct cb_job {
	const int32_t *coef;
	size_t stride;
	unsigned w, h;
	uint8_t *out;           /* its own slice of the segment buffer */
	size_t cap, len;
	uint8_t *dst;           /* where its segment goes in the codestream */
	int status;
};

struct enc_ctx {
	struct cb_job *jobs;
	struct rp__ht_enc_scratch *scratch;
	rp__ht_encode_block_fn *encode_block;
};

/* The segments are copied into the codestream on the pool once the packet headers have
 * placed them: on one thread the copy was a serial tenth of a large frame's encode. */
static void
cb_copy_run(void *arg, size_t index, unsigned worker)
{
	struct enc_ctx *ctx = arg;
	const struct cb_job *j = &ctx->jobs[index];
	(void)worker;
	if (j->len)
		memcpy(j->dst, j->out, j->len);
}

static void
cb_job_run(void *arg, size_t index, unsigned worker)
{
	struct enc_ctx *ctx = arg;
	struct cb_job *j = &ctx->jobs[index];
	j->status = ctx->encode_block(j->coef, j->stride, j->w, j->h, &ctx->scratch[worker],
				      j->out, j->cap, &j->len);
}

/* ---- markers ---- */

struct outw {
	uint8_t *p, *end;
	int overflow;
};

static inline void
put8(struct outw *o, unsigned v)
{
	if (o->p < o->end)
		*o->p++ = (uint8_t)v;
	else
		o->overflow = 1;
}

static inline void
put16(struct outw *o, unsigned v)
{
	put8(o, v >> 8);
	put8(o, v & 0xFF);
}

static inline void
put32(struct outw *o, uint32_t v)
{
	put16(o, v >> 16);
	put16(o, v & 0xFFFF);
}

static unsigned
magb_field(unsigned bp)
{
	/* 15444-15 Table A.4: Ccap15 bits 0-4 encode the largest Mb. */
	if (bp <= 8)
		return 0;
	if (bp < 28)
		return bp - 8;
	if (bp <= 47)
		return 13 + (bp >> 2);
	return 31;
}

void
rp__htj2k_default_params(const struct rp_image_desc *img, struct rp__ht_params *p)
{
	memset(p, 0, sizeof(*p));
	p->width = img->width;
	p->height = img->height;
	p->components = img->components;
	p->depth = img->bits_stored;
	p->is_signed = img->is_signed;
	/* No RCT by default: DICOM (PS3.3 C.7.6.3.1.2) wants Photometric Interpretation
	 * YBR_RCT on a stream that uses it, and the frame we get is labelled RGB; callers
	 * that label the dataset YBR_RCT set p->rct (it shrinks colour by ~25% on US). */
	p->rct = 0;
	/* Five levels, or more when needed for DICOM .202's thumbnail rule (the lowest
	 * resolution no larger than 64 each way), within what the size allows. */
	unsigned maxl = rp__ht_max_levels(img->width, img->height), lv = 5;
	while (lv < maxl && (((img->width - 1) >> lv) + 1 > 64 || ((img->height - 1) >> lv) + 1 > 64))
		lv++;
	p->levels = lv < maxl ? lv : maxl;
	p->cb_w_log2 = 6;
	p->cb_h_log2 = 6;
	/* Two guard bits: the 5/3 transform of a worst-case image can exceed eps_b bits in
	 * the low band by one; HT codes all bits anyway, so the guard costs nothing. */
	p->guard_bits = 2;
	p->progression = 2;     /* RPCL: what DICOM's .202 asks for, same order here */
	p->tlm = 1;
	p->k = rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST));
}

size_t
rp__htj2k_bound(const struct rp_image_desc *img)
{
	size_t npix, n, ncb;
	if (!rp__mul_size(img->width, img->height, &npix) ||
	    !rp__mul_size(npix, img->components, &n))
		return 0;
	/* Per sample at most 4 bytes of MagSgn plus stuffing; per code-block (at least one
	 * per band per resolution) the MEL/VLC room and header bits. */
	ncb = n / 1024 + 64 * (size_t)img->components * 16;
	if (!rp__mul_size(n, 5, &n) || !rp__add_size(n, ncb * 8192, &n) ||
	    !rp__add_size(n, 4096, &n))
		return 0;
	return n;
}

int
rp__htj2k_encode_params(const struct rp_image_desc *img, const struct rp__ht_params *p,
			const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
			size_t *dst_size, struct rp_pool *pool, struct rp__ht_workspace *ws,
			struct rp_errbuf *err)
{
	struct rp__ht_band bands[1 + 3 * RP__HT_MAX_LEVELS];
	int32_t *planes[RP__HT_MAX_COMPONENTS] = { NULL };
	int32_t *tmp = NULL;
	struct cb_job *jobs = NULL;
	uint8_t *seg = NULL;
	struct rp__ht_enc_scratch *scratch = NULL;
	struct rp__ht_workspace call_ws = { 0 };
	struct rp__ht_tagtree incl = { 0 }, zbp = { 0 };
	uint32_t *leafv = NULL;
	int ret = RP_OK;

	*dst_size = 0;
	if (p->components < 1 || p->components > 3 || p->components == 2)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u components (1 or 3 supported)",
			       p->components);
	if (p->depth < 1 || p->depth > 16 || img->bits_allocated > 16)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u-bit samples (1..16 supported)",
			       p->depth);
	if (p->width == 0 || p->height == 0 || p->levels > rp__ht_max_levels(p->width, p->height) ||
	    p->cb_w_log2 < 2 || p->cb_h_log2 < 2 || p->cb_w_log2 + p->cb_h_log2 > 12 ||
	    p->cb_w_log2 > 6 || p->cb_h_log2 > 6 || (p->rct && p->components != 3))
		return rp__err(err, RP_E_INVALID_ARG, "htj2k: invalid coding parameters");
	if (src_size < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "htj2k: source frame too small");

	unsigned nb = rp__ht_layout(p, bands);
	unsigned nc = p->components;
	if (!ws)
		ws = &call_ws;

	if (rp__ht_ws_planes(ws, p, planes, &tmp) < 0) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	/* One 16-bit component: the first forward level reads the frame itself; else a
	 * separate conversion pass into the planes. */
	if (nc == 1 && img->bits_allocated == 16 && p->levels >= 1 && p->height >= 2) {
		struct rp__dwt_in16 in = {
			.src = src,
			.src_stride = 2 * (size_t)p->width,
			.is_signed = p->is_signed,
			.shift = p->is_signed ? 0 : (int32_t)1 << (p->depth - 1),
		};
		rp__dwt53_forward_levels(p->k->dwt, planes[0],
					 p->width, p->width, p->height, p->levels, tmp, pool, &in);
	} else {
		rp__ht_frame_to_planes(img, p, src, planes, pool);
		for (unsigned c = 0; c < nc; c++)
			rp__dwt53_forward_levels(p->k->dwt, planes[c],
						 p->width, p->width, p->height, p->levels, tmp,
						 pool, NULL);
	}

	/* Code-block jobs, in packet order (resolution, component, band, block raster). */
	size_t njobs = 0, segcap = 0;
	for (unsigned c = 0; c < nc; c++)
		for (unsigned b = 0; b < nb; b++)
			njobs += (size_t)bands[b].ncbx * bands[b].ncby;
	jobs = rp__ht_ws_get(ws, RP__HT_WS_JOBS, (njobs ? njobs : 1) * sizeof(*jobs));
	if (!jobs) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	size_t j = 0;
	unsigned cbw = 1u << p->cb_w_log2, cbh = 1u << p->cb_h_log2;
	for (unsigned r = 0; r <= p->levels; r++)
		for (unsigned c = 0; c < nc; c++)
			for (unsigned b = 0; b < nb; b++) {
				const struct rp__ht_band *bd = &bands[b];
				if (bd->res != r)
					continue;
				for (uint32_t by = 0; by < bd->ncby; by++)
					for (uint32_t bx = 0; bx < bd->ncbx; bx++) {
						struct cb_job *jb = &jobs[j++];
						memset(jb, 0, sizeof(*jb));
						uint32_t x0 = bx * cbw, y0 = by * cbh;
						jb->w = bd->w - x0 < cbw ? bd->w - x0 : cbw;
						jb->h = bd->h - y0 < cbh ? bd->h - y0 : cbh;
						jb->stride = p->width;
						jb->coef = planes[c] + (size_t)(bd->y0 + y0) * p->width +
							   bd->x0 + x0;
						jb->cap = rp__ht_block_bound(jb->w, jb->h);
						segcap += jb->cap;
					}
			}
	seg = rp__ht_ws_get(ws, RP__HT_WS_SEG, segcap);
	if (!seg) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	size_t off = 0;
	for (j = 0; j < njobs; j++) {
		jobs[j].out = seg + off;
		off += jobs[j].cap;
	}
	/* One scratch per worker; with no pool the caller's thread is worker 0. */
	size_t nscratch = (pool ? rp_pool_threads(pool) : 0) + 1;
	scratch = rp__ht_ws_get(ws, RP__HT_WS_SCRATCH, nscratch * sizeof(*scratch));
	if (!scratch) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	struct enc_ctx ectx = { jobs, scratch, p->k->encode_block };
	rp_pool_parallel_for(pool, njobs, cb_job_run, &ectx);
	for (j = 0; j < njobs; j++)
		if (jobs[j].status < 0) {
			ret = rp__err(err, jobs[j].status, "htj2k: code-block %zu failed", j);
			goto fail;
		}

	/* ---- main header ---- */
	struct outw o = { dst, dst + dst_capacity, 0 };
	unsigned max_mb = 0;
	for (unsigned b = 0; b < nb; b++)
		if (bands[b].mb > max_mb)
			max_mb = bands[b].mb;
	put16(&o, 0xFF4F);                              /* SOC */
	put16(&o, 0xFF51);                              /* SIZ */
	put16(&o, 38 + 3 * nc);
	put16(&o, 0x4000);                              /* Rsiz: CAP present (Part 15) */
	put32(&o, p->width);
	put32(&o, p->height);
	put32(&o, 0);
	put32(&o, 0);
	put32(&o, p->width);                            /* one tile */
	put32(&o, p->height);
	put32(&o, 0);
	put32(&o, 0);
	put16(&o, nc);
	for (unsigned c = 0; c < nc; c++) {
		put8(&o, (p->is_signed ? 0x80 : 0) | (p->depth - 1));
		put8(&o, 1);
		put8(&o, 1);
	}
	put16(&o, 0xFF50);                              /* CAP */
	put16(&o, 8);
	put32(&o, 0x00020000);                          /* Pcap: Part 15 */
	put16(&o, magb_field(max_mb));                  /* Ccap15: HT only, one set, rev. */
	put16(&o, 0xFF52);                              /* COD */
	put16(&o, 12);
	put8(&o, 0);                                    /* Scod: default precincts, no SOP/EPH */
	put8(&o, p->progression);
	put16(&o, 1);                                   /* layers */
	put8(&o, p->rct ? 1 : 0);
	put8(&o, p->levels);
	put8(&o, p->cb_w_log2 - 2);
	put8(&o, p->cb_h_log2 - 2);
	put8(&o, 0x40);                                 /* code-block style: HT */
	put8(&o, 1);                                    /* 5/3 reversible */
	put16(&o, 0xFF5C);                              /* QCD */
	put16(&o, 3 + nb);
	put8(&o, p->guard_bits << 5);                   /* no quantization */
	for (unsigned b = 0; b < nb; b++)
		put8(&o, rp__ht_eps(p, bands[b].orient) << 3);
	/* With TLM (what DICOM's .202 asks for, so that a reader can find the resolution
	 * breakpoints), each resolution goes in its own tile-part; RPCL with one precinct
	 * puts the packets in resolution order, so the split falls between packets. */
	unsigned ntp = p->tlm ? p->levels + 1 : 1;
	uint8_t *tlm_ptlm = NULL;
	uint8_t *sot_at[RP__HT_MAX_LEVELS + 1];
	if (p->tlm) {
		put16(&o, 0xFF55);                      /* TLM: Ztlm 0, ST=1 (8-bit Ttlm), SP=1 */
		put16(&o, 4 + 5 * ntp);
		put8(&o, 0);
		put8(&o, 0x50);
		tlm_ptlm = o.p;
		for (unsigned t = 0; t < ntp; t++) {
			put8(&o, 0);                    /* tile 0 */
			put32(&o, 0);                   /* Ptlm, patched below */
		}
	}
	if (o.overflow) {
		ret = rp__err(err, RP_E_LIMIT, "htj2k: output buffer too small");
		goto fail;
	}

	/* ---- packets ---- */
	size_t maxcb = 1;
	for (unsigned b = 0; b < nb; b++)
		if ((size_t)bands[b].ncbx * bands[b].ncby > maxcb)
			maxcb = (size_t)bands[b].ncbx * bands[b].ncby;
	leafv = malloc(maxcb * sizeof(*leafv));
	if (!leafv) {
		ret = rp__err(err, RP_E_NOMEM, "htj2k: out of memory");
		goto fail;
	}
	j = 0;
	for (unsigned r = 0; r <= p->levels; r++) {
		if (r < ntp) {
			sot_at[r] = o.p;
			put16(&o, 0xFF90);                      /* SOT */
			put16(&o, 10);
			put16(&o, 0);                           /* Isot */
			put32(&o, 0);                           /* Psot, patched below */
			put8(&o, r);                            /* TPsot */
			put8(&o, ntp);                          /* TNsot */
			put16(&o, 0xFF93);                      /* SOD */
			if (o.overflow)
				break;
		}
		for (unsigned c = 0; c < nc; c++) {
			size_t first_job = j, nincl = 0, body = 0;
			size_t jj = j;
			for (unsigned b = 0; b < nb; b++) {
				if (bands[b].res != r)
					continue;
				for (size_t k = 0; k < (size_t)bands[b].ncbx * bands[b].ncby; k++, jj++)
					if (jobs[jj].len) {
						nincl++;
						body += jobs[jj].len;
					}
			}
			struct bitw bw = { o.p, 0, (size_t)(o.end - o.p), 0, 0, 8, 0 };
			if (nincl == 0) {
				bitw_put(&bw, 0);
				bitw_flush(&bw);
				j = jj;
				o.p += bw.pos;
				if (bw.overflow) {
					o.overflow = 1;
					break;
				}
				continue;
			}
			bitw_put(&bw, 1);
			for (unsigned b = 0; b < nb; b++) {
				const struct rp__ht_band *bd = &bands[b];
				if (bd->res != r || bd->ncbx * bd->ncby == 0)
					continue;
				size_t n = (size_t)bd->ncbx * bd->ncby;
				if ((ret = rp__ht_tagtree_init(&incl, bd->ncbx, bd->ncby)) < 0 ||
				    (ret = rp__ht_tagtree_init(&zbp, bd->ncbx, bd->ncby)) < 0) {
					rp__err(err, ret, "htj2k: out of memory");
					goto fail;
				}
				for (size_t k = 0; k < n; k++)
					leafv[k] = jobs[j + k].len ? 0 : 1;
				tt_set(&incl, leafv);
				for (size_t k = 0; k < n; k++)
					leafv[k] = bd->mb - 1;
				tt_set(&zbp, leafv);
				for (uint32_t y = 0; y < bd->ncby; y++)
					for (uint32_t x = 0; x < bd->ncbx; x++) {
						const struct cb_job *jb = &jobs[j + (size_t)y * bd->ncbx + x];
						tt_encode(&incl, &bw, x, y, 1);
						if (!jb->len)
							continue;
						tt_encode(&zbp, &bw, x, y, bd->mb);
						bitw_put(&bw, 0);       /* one coding pass */
						/* Lblock starts at 3; grow it until the length fits. */
						unsigned bits = 32 - (unsigned)__builtin_clz((uint32_t)jb->len);
						unsigned lb = 3;
						while (lb < bits) {
							bitw_put(&bw, 1);
							lb++;
						}
						bitw_put(&bw, 0);
						bitw_bits(&bw, (uint32_t)jb->len, (int)lb);
					}
				free(incl.nodes);
				free(zbp.nodes);
				incl.nodes = zbp.nodes = NULL;
				j += n;
			}
			bitw_flush(&bw);
			if (bw.overflow || (size_t)(o.end - o.p) - bw.pos < body) {
				o.overflow = 1;
				break;
			}
			o.p += bw.pos;
			for (size_t k = first_job; k < j; k++) {
				jobs[k].dst = o.p;
				o.p += jobs[k].len;
			}
		}
		if (o.overflow)
			break;
	}
	put16(&o, 0xFFD9);                              /* EOC */
	if (o.overflow) {
		ret = rp__err(err, RP_E_LIMIT, "htj2k: output buffer too small");
		goto fail;
	}
	rp_pool_parallel_for(pool, njobs, cb_copy_run, &ectx);
	for (unsigned t = 0; t < ntp; t++) {
		const uint8_t *next = t + 1 < ntp ? sot_at[t + 1] : o.p - 2;   /* EOC */
		uint32_t psot_v = (uint32_t)(next - sot_at[t]);
		uint8_t *q = sot_at[t] + 6;
		q[0] = (uint8_t)(psot_v >> 24);
		q[1] = (uint8_t)(psot_v >> 16);
		q[2] = (uint8_t)(psot_v >> 8);
		q[3] = (uint8_t)psot_v;
		if (tlm_ptlm)
			memcpy(tlm_ptlm + 5 * t + 1, q, 4);
	}
	*dst_size = (size_t)(o.p - dst);
	ret = RP_OK;
fail:
	free(incl.nodes);
	free(zbp.nodes);
	free(leafv);
	rp__ht_ws_release(&call_ws);
	rp__ht_ws_trim(ws);
	return ret;
}
