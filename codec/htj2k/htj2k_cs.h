/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k_cs.h - codestream-level pieces shared by radpipe's HTJ2K encoder and
 * decoder: the tile/resolution/band/code-block geometry (one tile, zero origin, one
 * precinct per resolution), coding parameters, and the frame <-> plane conversions. */
#ifndef RP_CODEC_HTJ2K_CS_H
#define RP_CODEC_HTJ2K_CS_H

#include <radpipe/codec.h>
#include <radpipe/pool.h>

#include "codec/htj2k/ht_internal.h"

#define RP__HT_MAX_LEVELS 32
#define RP__HT_MAX_COMPONENTS 4

/* Coding parameters of one codestream (what COD/QCD/SIZ say, in our profile). */
struct rp__ht_params {
	uint32_t width, height;
	unsigned components;
	unsigned depth;             /* bits per sample, 1..16 (all components alike) */
	int is_signed;
	int rct;                    /* reversible colour transform (3 components) */
	unsigned levels;            /* decomposition levels */
	unsigned cb_w_log2, cb_h_log2;  /* code-block size, log2, 2..6 */
	unsigned guard_bits;
	unsigned progression;       /* 0 LRCP, 2 RPCL (identical order with one precinct) */
	int tlm;                    /* TLM marker, one tile-part per resolution */
	/* The kernels at the encoder's ISA level (default params: the best this CPU runs). */
	const struct rp__htj2k_kernels *k;
};

/* One subband inside a component's in-place (Mallat) coefficient plane. */
struct rp__ht_band {
	unsigned orient;            /* 0 LL, 1 HL, 2 LH, 3 HH */
	unsigned res;               /* resolution it belongs to */
	uint32_t x0, y0, w, h;      /* position in the plane */
	unsigned mb;                /* magnitude bit planes Mb = G + eps - 1 */
	uint32_t ncbx, ncby;        /* code-blocks */
};

/* The bands of a component in codestream order: LL, then HL LH HH for resolutions 1..NL.
 * Returns the count (1 + 3 * levels). */
unsigned rp__ht_layout(const struct rp__ht_params *p, struct rp__ht_band *bands);

/* eps_b of QCD for a band orientation (reversible: no quantization). */
static inline unsigned
rp__ht_eps(const struct rp__ht_params *p, unsigned orient)
{
	unsigned gain = orient == 0 ? 0 : orient == 3 ? 2 : 1;
	return p->depth + (p->rct ? 1u : 0u) + gain;
}

/* The largest number of decomposition levels such that the smallest resolution still
 * has at least one sample each way (some decoders refuse more). */
unsigned rp__ht_max_levels(uint32_t w, uint32_t h);

/* Canonical frame -> int32 planes (DC level shifted, RCT applied when p->rct) and back,
 * in pieces on pool (NULL: the caller's thread). */
void rp__ht_frame_to_planes(const struct rp_image_desc *img, const struct rp__ht_params *p,
			    const uint8_t *src, int32_t *const *planes, struct rp_pool *pool);
void rp__ht_planes_to_frame(const struct rp_image_desc *img, const struct rp__ht_params *p,
			    int32_t *const *planes, uint8_t *dst, struct rp_pool *pool);

/* Allocation for per-frame buffers: 64-byte aligned, huge pages where available for large
 * ones; release with free(). */
void *rp__ht_alloc_big(size_t size);

/* Buffers an encoder or decoder object keeps from one frame to the next (the codec
 * table's state_new/state_free): re-allocating and first-touching the planes, the
 * segment buffer and the worker scratch for every frame cost 15-30% of a 512 x 512 encode
 * (perf: page faults) and serialized threads on the kernel's page-fault path.  Each slot
 * grows to the largest frame seen and is freed with the object.  A call without one
 * uses a zeroed struct on its stack and releases it before returning. */
enum {
	RP__HT_WS_PLANE0,               /* .. PLANE0 + RP__HT_MAX_COMPONENTS - 1 */
	RP__HT_WS_DWT = RP__HT_WS_PLANE0 + RP__HT_MAX_COMPONENTS,
	RP__HT_WS_SEG,                  /* encoder: code-block segments; decoder: body */
	RP__HT_WS_JOBS,                 /* code-block job records */
	RP__HT_WS_SCRATCH,              /* per-worker block-coder scratch */
	RP__HT_WS_SLOTS
};
struct rp__ht_workspace {
	void *buf[RP__HT_WS_SLOTS];
	size_t cap[RP__HT_WS_SLOTS];
};
/* Slot's buffer of at least size bytes (contents undefined), or NULL when out of memory. */
void *rp__ht_ws_get(struct rp__ht_workspace *ws, unsigned slot, size_t size);
/* Frees every slot; the struct can be used again. */
void rp__ht_ws_release(struct rp__ht_workspace *ws);
/* Called after each frame: keeps the buffers only while they total at most
 * RP__HT_WS_KEEP bytes, so that a pipeline worker that met one 4664 x 3064 mammogram does
 * not hold ~200 MB for the rest of the study (a frame that large pays its page faults;
 * they are a small part of its coding time). */
#define RP__HT_WS_KEEP ((size_t)64 << 20)
void rp__ht_ws_trim(struct rp__ht_workspace *ws);
/* The coefficient planes of p's components and the DWT scratch, from ws.  RP_OK or
 * RP_E_NOMEM. */
int rp__ht_ws_planes(struct rp__ht_workspace *ws, const struct rp__ht_params *p,
		     int32_t **planes, int32_t **dwt_tmp);
void *rp__ht_workspace_new(void);
void rp__ht_workspace_free(void *ws);

/* Encoder entry with explicit parameters (the codec table uses defaults). */
int rp__htj2k_encode_params(const struct rp_image_desc *img, const struct rp__ht_params *p,
			    const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
			    size_t *dst_size, struct rp_pool *pool, struct rp__ht_workspace *ws,
			    struct rp_errbuf *err);
void rp__htj2k_default_params(const struct rp_image_desc *img, struct rp__ht_params *p);
size_t rp__htj2k_bound(const struct rp_image_desc *img);

/* Decodes a codestream (ours or any other in the profile: one tile, HT code-blocks,
 * reversible 5/3, no precinct partition that splits code-blocks differently...) into a
 * canonical frame of img.  Streams outside the profile give RP_E_UNSUPPORTED with the
 * reason; damaged ones RP_E_CORRUPT. */
int rp__htj2k_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		     uint8_t *dst, size_t dst_capacity, struct rp_pool *pool,
		     const struct rp__htj2k_kernels *kern,
		     struct rp__ht_workspace *ws, struct rp_errbuf *err);

/* Reads the header (SIZ/COD/QCD) only: for tools and tests. */
struct rp__ht_info {
	uint32_t width, height;
	unsigned components, depth, is_signed;
	unsigned levels, rct, progression, layers;
};
int rp__htj2k_read_info(const uint8_t *src, size_t src_size, struct rp__ht_info *info,
			struct rp_errbuf *err);

/* Tag trees (15444-1 B.10.2), shared by the packet header writer and reader. */
struct rp__ht_tt_node {
	uint32_t value, low;
	uint8_t known;
};

struct rp__ht_tagtree {
	unsigned levels;
	uint32_t w[16], h[16];
	size_t off[16];
	struct rp__ht_tt_node *nodes;
};

/* Sizes the levels for a w x h leaf grid; every node starts at "unknown" (UINT32_MAX).
 * Free t->nodes when done. */
int rp__ht_tagtree_init(struct rp__ht_tagtree *t, uint32_t w, uint32_t h);

#endif /* RP_CODEC_HTJ2K_CS_H */
