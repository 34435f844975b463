/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg_lossless.h - our JPEG lossless (process 14) decoder, reachable directly by
 * the fuzz target and the tests as well as through rp__codec_jpeg_lossless. */
#ifndef RP_CODEC_JPEG_LOSSLESS_H
#define RP_CODEC_JPEG_LOSSLESS_H

#include "codec/codec_impl.h"

/* Decodes one JPEG lossless (SOF3) codestream into a canonical frame of img.  The
 * codestream's size and component count must match img and its precision must fit
 * BitsAllocated; the sign comes from img.  RP_OK, RP_E_CORRUPT (hostile or truncated
 * input, with the reason in err), RP_E_UNSUPPORTED (hierarchical, arithmetic, DNL,
 * subsampled) or RP_E_NOMEM. */
int rp__jpeg_lossless_decode(const struct rp_image_desc *img, const uint8_t *src,
			     size_t src_size, uint8_t *dst, size_t dst_capacity,
			     struct rp_errbuf *err);

/* Encodes a canonical frame of img (8/16-bit containers, BitsStored 2..16, 1..3
 * components) as one interleaved SOF3 scan with predictor 1..7, point transform
 * (< BitsStored; lossy when > 0) and restart interval in samples (0 = none).  Sign is not
 * coded: the low BitsStored bits are.  RP_OK, RP_E_LIMIT when dst is too small, or
 * another RP_E_* code. */
int rp__jpeg_lossless_encode(const struct rp_image_desc *img, unsigned predictor,
			     unsigned point_transform, unsigned restart_interval,
			     const uint8_t *src, size_t src_size, uint8_t *dst,
			     size_t dst_capacity, size_t *dst_size, struct rp_errbuf *err);

#endif /* RP_CODEC_JPEG_LOSSLESS_H */
