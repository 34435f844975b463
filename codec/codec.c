/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/codec.c - the codec table and the public encoder/decoder objects over it. */
#include "codec/codec_impl.h"
#include "simd/cpu.h"

#include <stdlib.h>
#include <string.h>

/* One adapter per library; each file defines its ops.  Add new codecs here. */
extern const struct rp__codec_ops rp__codec_jpegls;
extern const struct rp__codec_ops rp__codec_j2k;
extern const struct rp__codec_ops rp__codec_htj2k_ojph;
extern const struct rp__codec_ops rp__codec_htj2k;
extern const struct rp__codec_ops rp__codec_jpeg;
extern const struct rp__codec_ops rp__codec_jpeg_lossless;
extern const struct rp__codec_ops rp__codec_rle;
extern const struct rp__codec_ops rp__codec_jpegxl;

static const struct rp__codec_ops *const codec_table[] = {
	&rp__codec_jpegls,
	&rp__codec_j2k,
	&rp__codec_htj2k_ojph,
	&rp__codec_htj2k,
	&rp__codec_jpeg,
	&rp__codec_jpeg_lossless,
	&rp__codec_rle,
	&rp__codec_jpegxl,
};

const struct rp__codec_ops *
rp__codec_ops(enum rp_codec codec)
{
	for (size_t i = 0; i < sizeof(codec_table) / sizeof(codec_table[0]); i++)
		if (codec_table[i]->id == codec)
			return codec_table[i];
	return NULL;
}

static const struct {
	enum rp_codec id;
	const char *name;
	const char *text;
} codec_names[] = {
#define RP__CODEC_NAME(n, v, cli, t) { RP_CODEC_##n, cli, t },
	RP_CODEC_LIST(RP__CODEC_NAME)
#undef RP__CODEC_NAME
};

const char *
rp_codec_name(enum rp_codec codec)
{
	for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
		if (codec_names[i].id == codec)
			return codec_names[i].name;
	return NULL;
}

const char *
rp_codec_description(enum rp_codec codec)
{
	for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
		if (codec_names[i].id == codec)
			return codec_names[i].text;
	return NULL;
}

int
rp_codec_from_name(const char *name, enum rp_codec *codec_ret)
{
	if (!name || !codec_ret)
		return RP_E_INVALID_ARG;
	for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++) {
		if (strcmp(codec_names[i].name, name) == 0) {
			*codec_ret = codec_names[i].id;
			return RP_OK;
		}
	}
	return RP_E_INVALID_ARG;
}

int
rp_codec_can_encode(enum rp_codec codec)
{
	if (codec == RP_CODEC_NATIVE || codec == RP_CODEC_DEFLATE)
		return 1;
	const struct rp__codec_ops *ops = rp__codec_ops(codec);
	return ops && ops->encode;
}

int
rp_codec_can_decode(enum rp_codec codec)
{
	if (codec == RP_CODEC_NATIVE || codec == RP_CODEC_DEFLATE)
		return 1;
	const struct rp__codec_ops *ops = rp__codec_ops(codec);
	return ops && ops->decode;
}

/* ---------------------------------------------------------------------------------- */

struct rp_encoder {
	const struct rp__codec_ops *ops;
	struct rp__encode_params params;
	enum rp_codec codec;
};

void
rp_encoder_options_init(struct rp_encoder_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->codec = RP_CODEC_JPEGLS;
	opts->max_isa = RP_ISA_BEST;
}

int
rp_encoder_create(const struct rp_encoder_options *opts, struct rp_encoder **enc_ret)
{
	if (!opts || !enc_ret || opts->struct_size != sizeof(*opts))
		return RP_E_INVALID_ARG;
	if (opts->near_lossless < 0 || opts->near_lossless > 255 || opts->lossy_ratio < 0 ||
	    opts->quality < 0 || opts->quality > 100 || opts->wavelet_levels > 32 ||
	    (opts->code_block_w_log2 && (opts->code_block_w_log2 < 2 || opts->code_block_w_log2 > 10)) ||
	    (opts->code_block_h_log2 && (opts->code_block_h_log2 < 2 || opts->code_block_h_log2 > 10)) ||
	    !opts->code_block_w_log2 != !opts->code_block_h_log2 || opts->effort > 9 ||
	    !rp__isa_valid(opts->max_isa))
		return RP_E_INVALID_ARG;
	const struct rp__codec_ops *ops = rp__codec_ops(opts->codec);
	if (!ops || !ops->encode)
		return RP_E_UNSUPPORTED;
	struct rp_encoder *enc = calloc(1, sizeof(*enc));
	if (!enc)
		return RP_E_NOMEM;
	enc->ops = ops;
	enc->codec = opts->codec;
	enc->params.near_lossless = opts->near_lossless;
	enc->params.lossy_ratio = opts->lossy_ratio;
	enc->params.quality = opts->quality;
	enc->params.pool = opts->pool;
	enc->params.isa = rp__isa_select(opts->max_isa);
	enc->params.wavelet_levels = opts->wavelet_levels;
	enc->params.code_block_w_log2 = opts->code_block_w_log2;
	enc->params.code_block_h_log2 = opts->code_block_h_log2;
	enc->params.colour_transform = opts->colour_transform != 0;
	enc->params.effort = opts->effort;
	if (ops->state_new && !(enc->params.state = ops->state_new())) {
		free(enc);
		return RP_E_NOMEM;
	}
	*enc_ret = enc;
	return RP_OK;
}

size_t
rp_encoder_bound(const struct rp_encoder *enc, const struct rp_image_desc *img)
{
	if (!enc || !img || rp_image_desc_check(img, NULL) != RP_OK)
		return 0;
	return enc->ops->bound(img, &enc->params);
}

int
rp_encoder_check(const struct rp_encoder *enc, const struct rp_image_desc *img,
		 struct rp_errbuf *err)
{
	if (!enc || !img)
		return RP_E_INVALID_ARG;
	RP_TRY(rp_image_desc_check(img, err));
	/* Palette samples are indices into a lookup table, not intensities: a lossy coder
	 * that moves one by a step picks another colour (PS3.3 C.7.6.3.1.5).  Lossless
	 * coding keeps the indices, so it stays allowed. */
	if (img->photometric == RP_PHOTOMETRIC_PALETTE_COLOR && rp_encoder_is_lossy(enc))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "refusing lossy %s coding of PALETTE COLOR pixels: they are "
			       "palette indices, and any error changes the colour (use a "
			       "lossless codec)", rp_codec_name(enc->codec));
	return enc->ops->check(img, &enc->params, err);
}

int
rp_encoder_encode(struct rp_encoder *enc, const struct rp_image_desc *img, const void *src,
		  size_t src_size, void *dst, size_t dst_capacity, size_t *dst_size,
		  struct rp_errbuf *err)
{
	if (!enc || !img || !src || !dst || !dst_size)
		return rp__err(err, RP_E_INVALID_ARG, "encode: missing argument");
	RP_TRY(rp_encoder_check(enc, img, err));
	if (src_size != rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "encode: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	return enc->ops->encode(img, &enc->params, src, src_size, dst, dst_capacity, dst_size,
				err);
}

enum rp_photometric
rp_encoder_output_photometric(const struct rp_encoder *enc, const struct rp_image_desc *img)
{
	if (!enc || !img)
		return RP_PHOTOMETRIC_UNKNOWN;
	if (enc->ops->encoded_photometric)
		return enc->ops->encoded_photometric(img, &enc->params);
	return (enum rp_photometric)img->photometric;
}

const char *
rp_photometric_name(enum rp_photometric p)
{
	static const char *const names[] = {
		[RP_PHOTOMETRIC_MONOCHROME1] = "MONOCHROME1",
		[RP_PHOTOMETRIC_MONOCHROME2] = "MONOCHROME2",
		[RP_PHOTOMETRIC_PALETTE_COLOR] = "PALETTE COLOR",
		[RP_PHOTOMETRIC_RGB] = "RGB",
		[RP_PHOTOMETRIC_YBR_FULL] = "YBR_FULL",
		[RP_PHOTOMETRIC_YBR_FULL_422] = "YBR_FULL_422",
		[RP_PHOTOMETRIC_YBR_PARTIAL_420] = "YBR_PARTIAL_420",
		[RP_PHOTOMETRIC_YBR_ICT] = "YBR_ICT",
		[RP_PHOTOMETRIC_YBR_RCT] = "YBR_RCT",
	};
	if ((size_t)p >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[p];
}

const char *
rp_encoder_transfer_syntax(const struct rp_encoder *enc)
{
	if (!enc)
		return NULL;
	return rp_encoder_is_lossy(enc) && enc->ops->ts_lossy ? enc->ops->ts_lossy :
								 enc->ops->ts_lossless;
}

const char *
rp_encoder_stream_transfer_syntax(const struct rp_encoder *enc, const void *cs, size_t size)
{
	if (!enc)
		return NULL;
	if (!rp_encoder_is_lossy(enc) && enc->ops->in_lossless_profile && cs &&
	    enc->ops->in_lossless_profile(cs, size, NULL) == 1)
		return enc->ops->ts_lossless_profile;
	return rp_encoder_transfer_syntax(enc);
}

int
rp_encoder_is_lossy(const struct rp_encoder *enc)
{
	if (!enc)
		return 0;
	if (!enc->ops->ts_lossless)
		return 1;            /* a codec with only a lossy syntax (JPEG baseline) */
	return enc->params.near_lossless > 0 || enc->params.lossy_ratio > 0;
}

void
rp_encoder_destroy(struct rp_encoder *enc)
{
	if (enc && enc->params.state)
		enc->ops->state_free(enc->params.state);
	free(enc);
}

/* ---------------------------------------------------------------------------------- */

struct rp_decoder {
	const struct rp__codec_ops *ops;
	struct rp__decode_params params;
};

void
rp_decoder_options_init(struct rp_decoder_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->codec = RP_CODEC_JPEGLS;
	opts->max_isa = RP_ISA_BEST;
}

int
rp_decoder_create(const struct rp_decoder_options *opts, struct rp_decoder **dec_ret)
{
	if (!opts || !dec_ret || opts->struct_size != sizeof(*opts) ||
	    !rp__isa_valid(opts->max_isa))
		return RP_E_INVALID_ARG;
	const struct rp__codec_ops *ops = rp__codec_ops(opts->codec);
	if (!ops || !ops->decode)
		return RP_E_UNSUPPORTED;
	struct rp_decoder *dec = calloc(1, sizeof(*dec));
	if (!dec)
		return RP_E_NOMEM;
	dec->ops = ops;
	dec->params.pool = opts->pool;
	dec->params.isa = rp__isa_select(opts->max_isa);
	if (ops->state_new && !(dec->params.state = ops->state_new())) {
		free(dec);
		return RP_E_NOMEM;
	}
	*dec_ret = dec;
	return RP_OK;
}

int
rp_decoder_decode(struct rp_decoder *dec, const struct rp_image_desc *img, const void *src,
		  size_t src_size, void *dst, size_t dst_capacity, struct rp_errbuf *err)
{
	if (!dec || !img || (!src && src_size) || !dst)
		return rp__err(err, RP_E_INVALID_ARG, "decode: missing argument");
	RP_TRY(rp_image_desc_check(img, err));
	size_t need = rp_image_frame_size(img);
	if (dst_capacity < need)
		return rp__err(err, RP_E_LIMIT, "decode: output needs %zu bytes, has %zu", need,
			       dst_capacity);
	return dec->ops->decode(img, src, src_size, dst, dst_capacity, &dec->params, err);
}

void
rp_decoder_destroy(struct rp_decoder *dec)
{
	if (dec && dec->params.state)
		dec->ops->state_free(dec->params.state);
	free(dec);
}
