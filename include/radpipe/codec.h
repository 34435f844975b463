/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/codec.h - image description, codec identifiers, and the frame
 * encoder/decoder.
 *
 * Every codec works on *canonical frames*: the samples of one frame, pixel-interleaved
 * (R G B R G B ... for 3 components), little-endian, each sample in a container of
 * bits_allocated / 8 bytes (1, 2 or 4), holding its value as DICOM defines it: the low
 * bits_stored bits, sign-extended when is_signed, zero-extended otherwise.  So a frame of
 * width x height x components samples takes rp_image_frame_size() bytes.  Decoders write
 * canonical frames; encoders read them.  (bits_allocated == 1 frames are packed bits,
 * least significant bit first, as in DICOM PS3.5 8.1.1; only native syntaxes carry them.)
 */
#ifndef RADPIPE_CODEC_H
#define RADPIPE_CODEC_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rp_photometric {
	RP_PHOTOMETRIC_UNKNOWN = 0,
	RP_PHOTOMETRIC_MONOCHROME1,
	RP_PHOTOMETRIC_MONOCHROME2,
	RP_PHOTOMETRIC_PALETTE_COLOR,
	RP_PHOTOMETRIC_RGB,
	RP_PHOTOMETRIC_YBR_FULL,
	RP_PHOTOMETRIC_YBR_FULL_422,
	RP_PHOTOMETRIC_YBR_PARTIAL_420,
	RP_PHOTOMETRIC_YBR_ICT,
	RP_PHOTOMETRIC_YBR_RCT
};

/* What a frame holds.  Filled from the DICOM image pixel module by rp_dicom_parse(). */
struct rp_image_desc {
	uint32_t width;              /* Columns (0028,0011) */
	uint32_t height;             /* Rows (0028,0010) */
	uint16_t components;         /* SamplesPerPixel (0028,0002): 1 or 3 */
	uint16_t bits_allocated;     /* 1, 8, 16 or 32 */
	uint16_t bits_stored;        /* 1..bits_allocated */
	uint8_t is_signed;           /* PixelRepresentation (0028,0103) == 1 */
	uint8_t photometric;         /* enum rp_photometric */
};

/* Bytes of one canonical frame, or 0 when the description is invalid or the size would
 * overflow size_t. */
RP_API size_t rp_image_frame_size(const struct rp_image_desc *img);

/* RP_OK when the description is self-consistent (sizes non-zero, bits_stored <=
 * bits_allocated, ...), else RP_E_INVALID_ARG with the reason in err. */
RP_API int rp_image_desc_check(const struct rp_image_desc *img, struct rp_errbuf *err);

/* Codecs.  Values never change; new ones are appended.  RP_CODEC_NATIVE is "no
 * compression" (explicit VR little endian); RP_CODEC_DEFLATE compresses the whole dataset
 * (1.2.840.10008.1.2.1.99) and leaves the frames native. */
#define RP_CODEC_LIST(X)                                                           \
	X(NATIVE, 0, "native", "uncompressed, explicit VR little endian")         \
	X(JPEGLS, 1, "jpegls", "JPEG-LS (CharLS)")                                 \
	X(J2K, 2, "j2k", "JPEG 2000 (OpenJPEG)")                                   \
	X(HTJ2K, 3, "htj2k", "High-Throughput JPEG 2000 (radpipe's own codec)")   \
	X(HTJ2K_OJPH, 4, "htj2k-ojph", "High-Throughput JPEG 2000 (OpenJPH)")     \
	X(JPEG, 5, "jpeg", "JPEG baseline/extended (libjpeg-turbo)")              \
	X(JPEG_LOSSLESS, 6, "jpeg-lossless", "JPEG lossless, process 14")          \
	X(RLE, 7, "rle", "RLE lossless (DICOM PS3.5 Annex G)")                     \
	X(DEFLATE, 8, "deflate", "deflated explicit VR little endian (ISA-L)")     \
	X(JPEGXL, 9, "jpegxl", "JPEG XL lossless (libjxl)")

enum rp_codec {
#define RP__CODEC_ENUM(name, value, cli, text) RP_CODEC_##name = value,
	RP_CODEC_LIST(RP__CODEC_ENUM)
#undef RP__CODEC_ENUM
};

/* "jpegls" for RP_CODEC_JPEGLS; NULL for an unknown value. */
RP_API const char *rp_codec_name(enum rp_codec codec);
/* One-line description; NULL for an unknown value. */
RP_API const char *rp_codec_description(enum rp_codec codec);
/* Parses a name as rp_codec_name() prints it.  RP_OK or RP_E_INVALID_ARG. */
RP_API RP_NODISCARD int rp_codec_from_name(const char *name, enum rp_codec *codec_ret);
/* Whether this build can encode / decode frames with `codec` (1 or 0). */
RP_API int rp_codec_can_encode(enum rp_codec codec);
RP_API int rp_codec_can_decode(enum rp_codec codec);

/* ------------------------------------------------------------------------------------ */
/* Encoder */

struct rp_pool;
struct rp_encoder;

/* Instruction-set levels of the codecs' own kernels, in increasing order: each level
 * includes the ones below it.  An encoder or decoder runs the highest level that is at
 * most its options' max_isa, that this CPU and OS support, and that this build compiled
 * (RP_ENABLE_AVX2 / RP_ENABLE_AVX512); the choice is made once, in rp_encoder_create() /
 * rp_decoder_create().  Output is identical at every level: a lower ceiling only trades
 * speed (for comparing, or for working around a faulty CPU). */
enum rp_isa {
	RP_ISA_SCALAR = 0,           /* portable C only */
	RP_ISA_AVX2 = 1,             /* x86-64 AVX2 + BMI2 + FMA */
	RP_ISA_AVX512 = 2,           /* x86-64 AVX-512 F/BW/DQ/VL */
	RP_ISA_BEST = 255            /* no ceiling: the best level this CPU runs (default) */
};

/* "scalar", "avx2", "avx512" or "best"; NULL for a value outside enum rp_isa. */
RP_API const char *rp_isa_name(enum rp_isa isa);
/* Parses one of the names rp_isa_name() gives.  RP_OK or RP_E_INVALID_ARG. */
RP_API RP_NODISCARD int rp_isa_from_name(const char *name, enum rp_isa *isa_ret);
/* The level an encoder or decoder created with max_isa = ceiling would run (ceiling
 * RP_ISA_BEST: what this CPU and build run).  An invalid ceiling gives RP_ISA_SCALAR. */
RP_API enum rp_isa rp_isa_effective(enum rp_isa ceiling);

struct rp_encoder_options {
	size_t struct_size;          /* set by rp_encoder_options_init() */
	enum rp_codec codec;
	int near_lossless;           /* JPEG-LS NEAR; 0 = lossless */
	double lossy_ratio;          /* J2K/JPEG target ratio; 0 = lossless (where allowed) */
	int quality;                 /* JPEG baseline quality 1..100; 0 = codec default */
	struct rp_pool *pool;        /* optional, borrowed: lets one frame use several threads */
	enum rp_isa max_isa;         /* ISA ceiling; rp_encoder_options_init(): RP_ISA_BEST */
	/* JPEG 2000 and HTJ2K only (other codecs ignore them).  Wavelet decomposition levels,
	 * 0..32; 0 = the codec's default (HTJ2K: 5, or more so that the smallest resolution
	 * is at most 64 x 64 as DICOM .202 asks; always capped by the image size). */
	unsigned wavelet_levels;
	/* Code-block size as log2 of width and height, both 0 (default: 64 x 64) or both
	 * in 2..10 with w + h <= 12 (ISO/IEC 15444-1 A.6.1); RP_E_UNSUPPORTED from
	 * rp_encoder_check() when the codec cannot use the size. */
	unsigned code_block_w_log2, code_block_h_log2;
	/* JPEG 2000 and HTJ2K, lossless: 1 codes RGB frames (3 samples) through the
	 * reversible colour transform (ISO/IEC 15444-1 G.2), typically 20-30% smaller.  The
	 * dataset must then say YBR_RCT (PS3.3 C.7.6.3.1.2): rp_encoder_output_photometric()
	 * tells, and `radpipe compress` sets it.  0 (default): colour is coded as it is. */
	int colour_transform;
	/* JPEG XL only: libjxl effort 1 (fastest) .. 9 (densest); 0 = default (3).  Effort
	 * changes size and speed, never the decoded pixels. */
	unsigned effort;
};

/* Fills defaults: RP_CODEC_JPEGLS, lossless, no pool, max_isa RP_ISA_BEST. */
RP_API void rp_encoder_options_init(struct rp_encoder_options *opts);

/* Creates an encoder.  Returns RP_OK or a negative RP_E_* code.  Not thread-safe: one
 * encoder per thread. */
RP_API RP_NODISCARD int
rp_encoder_create(const struct rp_encoder_options *opts, struct rp_encoder **enc_ret);

/* Worst-case encoded size of one frame of img (0 when img is invalid). */
RP_API size_t rp_encoder_bound(const struct rp_encoder *enc, const struct rp_image_desc *img);

/* RP_OK when enc can code img as asked (lossless stays lossless), else RP_E_UNSUPPORTED
 * with the reason in err.  Cheap; reads no pixels. */
RP_API RP_NODISCARD int rp_encoder_check(const struct rp_encoder *enc,
					 const struct rp_image_desc *img, struct rp_errbuf *err);

/* Encodes one canonical frame (src, src_size == rp_image_frame_size(img)) into dst.
 * Writes the encoded size to *dst_size.  Returns RP_OK, RP_E_LIMIT when dst_capacity is too
 * small, RP_E_UNSUPPORTED when the pixels cannot be coded as asked (for example bits above
 * bits_stored that are not a sign/zero extension), or another RP_E_* code. */
RP_API RP_NODISCARD int
rp_encoder_encode(struct rp_encoder *enc, const struct rp_image_desc *img, const void *src,
		  size_t src_size, void *dst, size_t dst_capacity, size_t *dst_size,
		  struct rp_errbuf *err);

/* The Photometric Interpretation a dataset carrying this encoder's output of img must
 * declare: img->photometric, or RP_PHOTOMETRIC_YBR_RCT when the colour transform applies. */
RP_API enum rp_photometric rp_encoder_output_photometric(const struct rp_encoder *enc,
							 const struct rp_image_desc *img);

/* The DICOM defined term of p ("MONOCHROME2", "YBR_RCT", ...), or NULL for UNKNOWN. */
RP_API const char *rp_photometric_name(enum rp_photometric p);

/* The transfer syntax UID this encoder's output belongs to (lossless or lossy variant). */
RP_API const char *rp_encoder_transfer_syntax(const struct rp_encoder *enc);

/* The transfer syntax UID for one codestream this encoder wrote: a narrower lossless
 * syntax when the stream meets its rules (HTJ2K: 1.2.840.10008.1.2.4.202, RPCL options,
 * PS3.5 8.2.15), else rp_encoder_transfer_syntax().  An object whose frames differ must
 * use rp_encoder_transfer_syntax() for all.  Pure; thread-safe. */
RP_API const char *rp_encoder_stream_transfer_syntax(const struct rp_encoder *enc,
						     const void *cs, size_t size);

/* Whether the output is lossy (near_lossless > 0, lossy_ratio > 0, JPEG baseline). */
RP_API int rp_encoder_is_lossy(const struct rp_encoder *enc);

/* NULL is a no-op. */
RP_API void rp_encoder_destroy(struct rp_encoder *enc);

/* ------------------------------------------------------------------------------------ */
/* Decoder */

struct rp_decoder;

struct rp_decoder_options {
	size_t struct_size;          /* set by rp_decoder_options_init() */
	enum rp_codec codec;
	struct rp_pool *pool;        /* optional, borrowed */
	enum rp_isa max_isa;         /* ISA ceiling; rp_decoder_options_init(): RP_ISA_BEST */
};

RP_API void rp_decoder_options_init(struct rp_decoder_options *opts);

/* Creates a decoder.  RP_OK or a negative RP_E_* code.  One decoder per thread. */
RP_API RP_NODISCARD int
rp_decoder_create(const struct rp_decoder_options *opts, struct rp_decoder **dec_ret);

/* Decodes one frame's codestream into a canonical frame of img (dst_capacity >=
 * rp_image_frame_size(img)).  The codestream must agree with img (size, components,
 * precision): a mismatch is RP_E_CORRUPT, never a silent conversion.  Hostile input gives
 * RP_E_CORRUPT, never a crash. */
RP_API RP_NODISCARD int
rp_decoder_decode(struct rp_decoder *dec, const struct rp_image_desc *img, const void *src,
		  size_t src_size, void *dst, size_t dst_capacity, struct rp_errbuf *err);

RP_API void rp_decoder_destroy(struct rp_decoder *dec);

/* ------------------------------------------------------------------------------------ */
/* Comparing canonical frames */

/* Compares two canonical frames of img.  *max_abs_error gets the largest |a - b| over all
 * samples (0 when bit-exact).  RP_OK, or RP_E_INVALID_ARG for bad sizes. */
RP_API RP_NODISCARD int rp_frame_compare(const struct rp_image_desc *img, const void *a,
					 const void *b, size_t size, uint64_t *max_abs_error);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_CODEC_H */
