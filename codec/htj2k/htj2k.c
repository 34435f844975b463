/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k.c - codec table entry for radpipe's own HTJ2K codec ("htj2k"):
 * lossless only, 1 or 3 components of 1..16 bits.  Output carries DICOM transfer syntax
 * 1.2.840.10008.1.2.4.201 (HTJ2K lossless); the packet order is RPCL. */
#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"

static int
htj2k_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	    struct rp_errbuf *err)
{
	if (p->near_lossless || p->lossy_ratio > 0)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: lossless only");
	if (img->components != 1 && img->components != 3)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: %u components",
			       (unsigned)img->components);
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: bits allocated %u",
			       (unsigned)img->bits_allocated);
	if (img->bits_stored < 1 || img->bits_stored > img->bits_allocated)
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: bits stored %u",
			       (unsigned)img->bits_stored);
	if (img->width == 0 || img->height == 0 || img->width > (1u << 24) ||
	    img->height > (1u << 24))
		return rp__err(err, RP_E_UNSUPPORTED, "htj2k: image size %ux%u", img->width,
			       img->height);
	if (p->code_block_w_log2 > 6 || p->code_block_h_log2 > 6 ||
	    p->code_block_w_log2 + p->code_block_h_log2 > 12)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "htj2k: code-block %ux%u (at most 64 each way and 4096 samples)",
			       1u << p->code_block_w_log2, 1u << p->code_block_h_log2);
	return RP_OK;
}

/* The reversible colour transform when the caller asked for it and can label the result
 * YBR_RCT: RGB only (DICOM defines YBR_RCT as the RCT of RGB). */
static int
uses_rct(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	return p->colour_transform && img->components == 3 &&
	       img->photometric == RP_PHOTOMETRIC_RGB;
}

static enum rp_photometric
htj2k_encoded_photometric(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	return uses_rct(img, p) ? RP_PHOTOMETRIC_YBR_RCT : (enum rp_photometric)img->photometric;
}

static size_t
htj2k_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	if (htj2k_check(img, p, NULL) < 0)
		return 0;
	return rp__htj2k_bound(img);
}

static int
htj2k_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	     const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	     size_t *dst_size, struct rp_errbuf *err)
{
	struct rp__ht_params hp;
	RP_TRY(htj2k_check(img, p, err));
	if (src_size < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "htj2k: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "htj2k: samples carry bits above BitsStored (not lossless)");
	rp__htj2k_default_params(img, &hp);
	hp.k = rp__htj2k_kernels_for(p->isa);
	if (p->wavelet_levels) {
		unsigned maxl = rp__ht_max_levels(img->width, img->height);
		hp.levels = p->wavelet_levels < maxl ? p->wavelet_levels : maxl;
	}
	if (p->code_block_w_log2) {
		hp.cb_w_log2 = p->code_block_w_log2;
		hp.cb_h_log2 = p->code_block_h_log2;
	}
	hp.rct = uses_rct(img, p);
	return rp__htj2k_encode_params(img, &hp, src, src_size, dst, dst_capacity, dst_size,
				       p->pool, p->state, err);
}

static int
htj2k_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	     uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	     struct rp_errbuf *err)
{
	return rp__htj2k_decode(img, src, src_size, dst, dst_capacity, dp ? dp->pool : NULL,
				rp__htj2k_kernels_for(dp ? dp->isa : rp__isa_select(RP_ISA_BEST)),
				dp ? dp->state : NULL, err);
}

/* The decoder undoes the RCT, so a YBR_RCT dataset decodes to RGB. */
static enum rp_photometric
htj2k_decoded_photometric(enum rp_photometric stored)
{
	if (stored == RP_PHOTOMETRIC_YBR_RCT)
		return RP_PHOTOMETRIC_RGB;
	return stored;
}

const struct rp__codec_ops rp__codec_htj2k = {
	.id = RP_CODEC_HTJ2K,
	.ts_lossless = "1.2.840.10008.1.2.4.201",
	.ts_lossy = NULL,
	.ts_lossless_profile = "1.2.840.10008.1.2.4.202",
	.in_lossless_profile = rp__htj2k_is_rpcl_lossless,
	.check = htj2k_check,
	.bound = htj2k_bound,
	.encode = htj2k_encode,
	.decode = htj2k_decode,
	.decoded_photometric = htj2k_decoded_photometric,
	.encoded_photometric = htj2k_encoded_photometric,
	.state_new = rp__ht_workspace_new,
	.state_free = rp__ht_workspace_free,
};
