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

#endif /* RP_CODEC_JPEG_LOSSLESS_H */
