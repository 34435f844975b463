/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg12.h - our 12-bit sequential DCT JPEG decoder (codec/jpeg12.c), called by the
 * libjpeg-turbo adapter for the frames its 8-bit build refuses, and by tests and fuzzing. */
#ifndef RP_CODEC_JPEG12_H
#define RP_CODEC_JPEG12_H

#include "codec/codec_impl.h"

/* Decodes one 12-bit greyscale sequential Huffman JPEG (SOF0/SOF1) into a canonical frame
 * of img (one component, BitsAllocated 16).  RP_OK, RP_E_CORRUPT (with the reason),
 * RP_E_UNSUPPORTED (colour, progressive, arithmetic, lossless, hierarchical, DNL) or
 * RP_E_NOMEM. */
int rp__jpeg12_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		      uint8_t *dst, size_t dst_capacity, struct rp_errbuf *err);

#endif /* RP_CODEC_JPEG12_H */
