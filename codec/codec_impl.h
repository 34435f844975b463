/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/codec_impl.h - what a codec adapter implements.  One adapter file per library
 * (codec/jpegls.c for CharLS, ...), each defining one `const struct rp__codec_ops`, listed
 * in codec/codec.c.  Adapters see canonical frames only (include/radpipe/codec.h); the
 * DICOM layer does byte order, planar layout and sign extension. */
#ifndef RP_CODEC_IMPL_H
#define RP_CODEC_IMPL_H

#include "common/internal.h"

/* How the caller asked for a frame to be coded. */
struct rp__encode_params {
	int near_lossless;           /* JPEG-LS NEAR */
	double lossy_ratio;          /* 0 = lossless */
	int quality;                 /* JPEG baseline 1..100, 0 = default */
	struct rp_pool *pool;        /* optional: threads for one large frame */
	enum rp_isa isa;             /* the ISA level to run, chosen in rp_encoder_create() */
	unsigned wavelet_levels;     /* J2K/HTJ2K decomposition levels; 0 = codec default */
	unsigned code_block_w_log2;  /* J2K/HTJ2K code-block size, log2; 0 = default */
	unsigned code_block_h_log2;
	int colour_transform;        /* RCT for RGB, lossless J2K/HTJ2K */
	unsigned effort;             /* JPEG XL effort 1..9; 0 = codec default */
	void *state;                 /* the codec's state_new() result, or NULL */
};

/* How the caller asked for a frame to be decoded.  Adapters accept NULL: no pool, the best
 * ISA level this CPU runs, no state. */
struct rp__decode_params {
	struct rp_pool *pool;        /* optional: threads for one large frame */
	enum rp_isa isa;             /* the ISA level to run, chosen in rp_decoder_create() */
	void *state;                 /* the codec's state_new() result, or NULL */
};

struct rp__codec_ops {
	enum rp_codec id;
	const char *ts_lossless;     /* transfer syntax UID of lossless output, or NULL */
	const char *ts_lossy;        /* UID when lossy, or NULL */
	/* A narrower lossless syntax some codestreams qualify for (HTJ2K: .202, RPCL
	 * options), and the test of one codestream (1 qualifies, 0 not, why says which
	 * rule failed).  Both NULL when the codec has none. */
	const char *ts_lossless_profile;
	int (*in_lossless_profile)(const uint8_t *cs, size_t size, struct rp_errbuf *why);

	/* RP_OK when img can be encoded with p (lossless stays lossless), else
	 * RP_E_UNSUPPORTED and a reason.  NULL when the codec cannot encode. */
	int (*check)(const struct rp_image_desc *img, const struct rp__encode_params *p,
		     struct rp_errbuf *err);
	/* Worst-case encoded size of one frame; 0 when img is not supported. */
	size_t (*bound)(const struct rp_image_desc *img, const struct rp__encode_params *p);
	/* src is a canonical frame of rp_image_frame_size(img) bytes. */
	int (*encode)(const struct rp_image_desc *img, const struct rp__encode_params *p,
		      const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
		      size_t *dst_size, struct rp_errbuf *err);
	/* Writes a canonical frame of img; the codestream must match img. NULL when the codec
	 * cannot decode. */
	int (*decode)(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		      uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
		      struct rp_errbuf *err);
	/* Photometric interpretation of what decode() writes, given the stored one (e.g.
	 * YBR_RCT -> RGB when the decoder undoes the colour transform).  NULL: unchanged. */
	enum rp_photometric (*decoded_photometric)(enum rp_photometric stored);
	/* Photometric interpretation the output of encode() must be labelled with (e.g.
	 * YBR_RCT when the encoder applied the colour transform).  NULL: img's. */
	enum rp_photometric (*encoded_photometric)(const struct rp_image_desc *img,
						   const struct rp__encode_params *p);
	/* Optional (both or neither): state one encoder or decoder object keeps between
	 * frames, e.g. buffers that would otherwise be allocated and first-touched per frame.
	 * state_new() returns NULL when out of memory.  Encode and decode work without one
	 * (params->state NULL), only slower. */
	void *(*state_new)(void);
	void (*state_free)(void *state);
};

/* Whether an HTJ2K codestream meets PS3.5's .202 (RPCL options) rules (htj2k_rpcl.c). */
int rp__htj2k_is_rpcl_lossless(const uint8_t *cs, size_t size, struct rp_errbuf *why);

/* The adapter for `codec`, or NULL when this build has none. */
const struct rp__codec_ops *rp__codec_ops(enum rp_codec codec);

/* Canonical-frame helpers every adapter needs (codec/frame.c). */

/* Bytes per sample in a canonical frame: 1, 2 or 4 (0 for bits_allocated 1). */
static inline size_t
rp__sample_bytes(const struct rp_image_desc *img)
{
	return img->bits_allocated == 32 ? 4 : img->bits_allocated == 16 ? 2 :
	       img->bits_allocated == 8 ? 1 : 0;
}

/* Whether the bits above bits_stored carry nothing: all zero, or (signed data) the sign
 * extension of the low bits_stored bits.  Both are common in real files and both mean the
 * same pixel value.  Returns 1 when clean, 0 when some sample carries other bits there
 * (overlays in the pixel data, an old practice). */
int rp__frame_high_bits_clean(const struct rp_image_desc *img, const uint8_t *frame,
			      size_t size);

/* Canonical frame -> the unsigned bits_stored-bit patterns a codec without a sign codes
 * (masking off the extension), in place.  And back: sign/zero-extends in place. */
void rp__frame_to_unsigned_bits(const struct rp_image_desc *img, uint8_t *frame, size_t size);
void rp__frame_from_unsigned_bits(const struct rp_image_desc *img, uint8_t *frame, size_t size);

#endif /* RP_CODEC_IMPL_H */
