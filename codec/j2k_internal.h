/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/j2k_internal.h - what the JPEG 2000 adapters share: OpenJPEG's decoder as the
 * second HTJ2K decoder (codec/j2k.c serves codec/htj2k_ojph.cpp), and a pure SIZ-marker
 * probe that tells a codestream's geometry without decoding it (tests, conformance). */
#ifndef RP_CODEC_J2K_INTERNAL_H
#define RP_CODEC_J2K_INTERNAL_H

#include "codec/codec_impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decodes a JPEG 2000 Part 1 or Part 15 (HTJ2K) codestream, or a JP2/JPH file, with
 * OpenJPEG into a canonical frame of img.  Same contract as rp__codec_ops.decode. */
int rp__j2k_decode_openjpeg(const struct rp_image_desc *img, const uint8_t *src,
			    size_t src_size, uint8_t *dst, size_t dst_capacity,
			    struct rp_pool *pool, struct rp_errbuf *err);

/* OpenJPH's decoder alone, without the OpenJPEG fallback (codec/htj2k_ojph.cpp), so that
 * tests can compare the two decoders on the same codestream.  A codestream OpenJPH
 * refuses gives RP_E_UNSUPPORTED. */
int rp__htj2k_ojph_decode_only(const struct rp_image_desc *img, const uint8_t *src,
			       size_t src_size, uint8_t *dst, size_t dst_capacity,
			       struct rp_errbuf *err);
/* The OpenJPH version the adapter was compiled against, e.g. "0.9.0" (benches print it). */
const char *rp__htj2k_ojph_version(void);

/* What the SIZ marker of a codestream (or the first one inside a JP2/JPH file) says. */
struct rp__j2k_siz {
	uint32_t width, height;      /* Xsiz - XOsiz, Ysiz - YOsiz */
	uint16_t components;         /* Csiz */
	uint8_t precision[4];        /* of the first four components */
	uint8_t is_signed[4];
	uint8_t uniform;             /* all components: same precision and sign, 1x1 */
	uint8_t subsampled;          /* some component has XRsiz or YRsiz != 1 */
	uint8_t ht;                  /* CAP marker present with Part 15 bit (HTJ2K) */
	uint8_t reversible;          /* main COD: 5/3 wavelet (1) or 9/7 (0) */
};

/* Parses the main header up to SIZ (and CAP, when present).  RP_OK or RP_E_CORRUPT. */
int rp__j2k_probe(const uint8_t *src, size_t src_size, struct rp__j2k_siz *siz,
		  struct rp_errbuf *err);

/* Whether the codestream's tile-parts (SOT Psot lengths) fit the data and end at EOC or
 * at the end: a decoder that tolerates truncation (OpenJPH) must not be handed a cut
 * stream.  RP_OK or RP_E_CORRUPT with the reason. */
int rp__j2k_check_complete(const uint8_t *src, size_t src_size, struct rp_errbuf *err);

/* Offset of the codestream's SOC marker inside src (0 for a bare codestream, after the
 * boxes for JP2/JPH), or -1 when none is found. */
long rp__j2k_codestream_offset(const uint8_t *src, size_t src_size);

#ifdef __cplusplus
}
#endif

#endif /* RP_CODEC_J2K_INTERNAL_H */
