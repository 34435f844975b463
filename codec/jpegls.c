/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpegls.c - JPEG-LS (ITU-T T.87) through CharLS: transfer syntaxes
 * 1.2.840.10008.1.2.4.80 (lossless) and .81 (near-lossless).
 *
 * JPEG-LS has no notion of sign: DICOM (PS3.5 8.2.3, and what DCMTK/GDCM do) codes the
 * BitsStored-bit two's-complement pattern as an unsigned sample of P = BitsStored bits,
 * and the decoder restores the sign extension.  CharLS wants 1 byte per sample for
 * P <= 8 and 2 bytes above, whatever BitsAllocated is, so samples are narrowed/widened
 * here when the two differ.  Bits above BitsStored that are not a sign/zero extension
 * (old overlay-in-pixel files) would be lost: the encoder refuses such frames. */
#include "codec/codec_impl.h"

#include <charls/charls.h>
#include <stdlib.h>

static int
jls_status(charls_jpegls_errc e, const char *what, struct rp_errbuf *err)
{
	switch (e) {
	case CHARLS_JPEGLS_ERRC_SUCCESS:
		return RP_OK;
	case CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY:
		return rp__err(err, RP_E_NOMEM, "JPEG-LS %s: out of memory", what);
	case CHARLS_JPEGLS_ERRC_DESTINATION_BUFFER_TOO_SMALL:
		return rp__err(err, RP_E_LIMIT, "JPEG-LS %s: output buffer too small", what);
	case CHARLS_JPEGLS_ERRC_INVALID_ARGUMENT_WIDTH:
	case CHARLS_JPEGLS_ERRC_INVALID_ARGUMENT_HEIGHT:
	case CHARLS_JPEGLS_ERRC_INVALID_ARGUMENT_COMPONENT_COUNT:
	case CHARLS_JPEGLS_ERRC_INVALID_ARGUMENT_BITS_PER_SAMPLE:
	case CHARLS_JPEGLS_ERRC_INVALID_ARGUMENT_NEAR_LOSSLESS:
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG-LS %s: %s", what,
			       charls_get_error_message(e));
	default:
		return rp__err(err, RP_E_CORRUPT, "JPEG-LS %s: %s", what,
			       charls_get_error_message(e));
	}
}

/* Bytes per sample CharLS reads/writes for P bits. */
static size_t
charls_sample_bytes(unsigned bits)
{
	return bits <= 8 ? 1 : 2;
}

static int
jls_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	  struct rp_errbuf *err)
{
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG-LS codes 8- and 16-bit containers, not BitsAllocated %u",
			       img->bits_allocated);
	if (img->bits_stored < 2)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG-LS needs at least 2 bits per sample (BitsStored %u)",
			       img->bits_stored);
	if (img->width > 65535 || img->height > 65535)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG-LS frame %ux%u too large",
			       img->width, img->height);
	unsigned maxval = (1u << img->bits_stored) - 1;
	if (p->near_lossless < 0 || (unsigned)p->near_lossless > (maxval < 255 ? maxval / 2 : 255))
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG-LS NEAR=%d out of range for %u bits",
			       p->near_lossless, img->bits_stored);
	if (p->lossy_ratio > 0)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG-LS takes near=N, not a target ratio");
	return RP_OK;
}

static size_t
jls_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	(void)p;
	/* Worst case of T.87 coding is below 1.5x the raw size for any P; CharLS's own
	 * estimate uses a similar margin.  Plus headers. */
	size_t n = (size_t)img->width * img->height * img->components *
		   charls_sample_bytes(img->bits_stored);
	return n + n / 2 + 1024;
}

/* Narrows/widens samples between the canonical container and CharLS's layout. */
static void
convert_samples(const uint8_t *src, size_t src_bps, uint8_t *dst, size_t dst_bps, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t v = src_bps == 1 ? src[i] : rp__load_le16(src + 2 * i);
		if (dst_bps == 1)
			dst[i] = (uint8_t)v;
		else
			rp__store_le16(dst + 2 * i, (uint16_t)v);
	}
}

static int
jls_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	   const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	   size_t *dst_size, struct rp_errbuf *err)
{
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "pixel bits above BitsStored (%u) carry data that is not a sign "
			       "extension (overlay bits?); JPEG-LS would drop them",
			       img->bits_stored);

	size_t count = (size_t)img->width * img->height * img->components;
	size_t cbps = charls_sample_bytes(img->bits_stored), bps = rp__sample_bytes(img);
	if (img->is_signed && p->near_lossless > 0) {
		/* Near-lossless codes the unsigned bit pattern: an error of NEAR next to the
		 * pattern's middle (the signed range ends) would flip the sign.  Refuse the
		 * frames that come that close rather than return a wrong value. */
		int64_t lo = -((int64_t)1 << (img->bits_stored - 1)) + p->near_lossless;
		int64_t hi = ((int64_t)1 << (img->bits_stored - 1)) - 1 - p->near_lossless;
		for (size_t i = 0; i < count; i++) {
			int64_t v = bps == 1 ? (int8_t)src[i] : (int16_t)rp__load_le16(src + 2 * i);
			if (v < lo || v > hi)
				return rp__err(err, RP_E_UNSUPPORTED,
					       "near-lossless JPEG-LS of signed data: sample %lld is within "
					       "NEAR=%d of the %u-bit range end, where the coded pattern "
					       "would wrap; use lossless", (long long)v, p->near_lossless,
					       img->bits_stored);
		}
	}
	const uint8_t *in = src;
	uint8_t *scratch = NULL;
	if (img->is_signed || cbps != bps) {
		scratch = malloc(count * cbps);
		if (!scratch)
			return RP_E_NOMEM;
		if (cbps == bps) {
			memcpy(scratch, src, src_size);
		} else {
			convert_samples(src, bps, scratch, cbps, count);
		}
		struct rp_image_desc as_coded = *img;
		as_coded.bits_allocated = (uint16_t)(cbps * 8);
		if (img->is_signed)
			rp__frame_to_unsigned_bits(&as_coded, scratch, count * cbps);
		in = scratch;
	}

	int st = RP_OK;
	charls_jpegls_encoder *enc = charls_jpegls_encoder_create();
	if (!enc) {
		free(scratch);
		return RP_E_NOMEM;
	}
	charls_frame_info fi = {
		.width = img->width,
		.height = img->height,
		.bits_per_sample = img->bits_stored,
		.component_count = img->components,
	};
	charls_jpegls_errc e = charls_jpegls_encoder_set_frame_info(enc, &fi);
	if (!e)
		e = charls_jpegls_encoder_set_near_lossless(enc, p->near_lossless);
	if (!e && img->components == 3)
		e = charls_jpegls_encoder_set_interleave_mode(enc, CHARLS_INTERLEAVE_MODE_SAMPLE);
	if (!e)
		e = charls_jpegls_encoder_set_destination_buffer(enc, dst, dst_capacity);
	if (!e)
		e = charls_jpegls_encoder_encode_from_buffer(enc, in, count * cbps, 0);
	if (!e) {
		size_t written = 0;
		e = charls_jpegls_encoder_get_bytes_written(enc, &written);
		*dst_size = written;
	}
	st = jls_status(e, "encode", err);
	charls_jpegls_encoder_destroy(enc);
	free(scratch);
	return st;
}

/* CharLS writes ILV_NONE colour images plane after plane; canonical frames interleave. */
static void
planes_to_interleaved(const uint8_t *src, uint8_t *dst, size_t pixels, size_t bps)
{
	for (size_t c = 0; c < 3; c++)
		for (size_t i = 0; i < pixels; i++)
			memcpy(dst + (i * 3 + c) * bps, src + (c * pixels + i) * bps, bps);
}

static int
jls_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size, uint8_t *dst,
	   size_t dst_capacity, const struct rp__decode_params *dp,
	   struct rp_errbuf *err)
{
	(void)dp;
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG-LS in BitsAllocated %u",
			       img->bits_allocated);
	/* CharLS 2.4 reads past the end of a truncated scan as zero bits and can take
	 * seconds to fail; a complete codestream ends with EOI (FFD9), followed at most by
	 * the padding of an odd-length fragment, so check that first. */
	bool has_eoi = false;
	for (size_t k = 2; k <= 4 && k <= src_size && !has_eoi; k++)
		has_eoi = src[src_size - k] == 0xFF && src[src_size - k + 1] == 0xD9;
	if (!has_eoi)
		return rp__err(err, RP_E_CORRUPT,
			       "JPEG-LS codestream of %zu bytes is truncated (no EOI marker)",
			       src_size);
	charls_jpegls_decoder *dec = charls_jpegls_decoder_create();
	if (!dec)
		return RP_E_NOMEM;
	uint8_t *scratch = NULL;
	int st;
	charls_frame_info fi;
	charls_interleave_mode ilv = CHARLS_INTERLEAVE_MODE_NONE;
	charls_jpegls_errc e = charls_jpegls_decoder_set_source_buffer(dec, src, src_size);
	if (!e)
		e = charls_jpegls_decoder_read_header(dec);
	if (!e)
		e = charls_jpegls_decoder_get_frame_info(dec, &fi);
	if (!e)
		e = charls_jpegls_decoder_get_interleave_mode(dec, &ilv);
	if (e) {
		st = jls_status(e, "header", err);
		goto out;
	}
	if (fi.width != img->width || fi.height != img->height ||
	    fi.component_count != img->components) {
		st = rp__err(err, RP_E_CORRUPT,
			     "JPEG-LS frame is %ux%u x%d, the DICOM header says %ux%u x%u",
			     fi.width, fi.height, fi.component_count, img->width, img->height,
			     img->components);
		goto out;
	}
	if (fi.bits_per_sample < 2 || fi.bits_per_sample > img->bits_allocated) {
		st = rp__err(err, RP_E_CORRUPT,
			     "JPEG-LS precision %d bits does not fit BitsAllocated %u",
			     fi.bits_per_sample, img->bits_allocated);
		goto out;
	}
	size_t count = (size_t)img->width * img->height * img->components;
	size_t cbps = charls_sample_bytes((unsigned)fi.bits_per_sample), bps = rp__sample_bytes(img);
	size_t frame = count * bps;
	bool planar = img->components == 3 && ilv == CHARLS_INTERLEAVE_MODE_NONE;
	uint8_t *out = dst;
	if (cbps != bps || planar) {
		scratch = malloc(count * cbps);
		if (!scratch) {
			st = RP_E_NOMEM;
			goto out;
		}
		out = scratch;
	}
	e = charls_jpegls_decoder_decode_to_buffer(dec, out, count * cbps, 0);
	if (e) {
		st = jls_status(e, "decode", err);
		goto out;
	}
	if (planar) {
		uint8_t *tmp = malloc(count * cbps);
		if (!tmp) {
			st = RP_E_NOMEM;
			goto out;
		}
		planes_to_interleaved(scratch, tmp, count / 3, cbps);
		free(scratch);
		scratch = tmp;
	}
	if (scratch) {
		if (cbps == bps)
			memcpy(dst, scratch, frame);
		else
			convert_samples(scratch, cbps, dst, bps, count);
	}
	if (img->is_signed)
		rp__frame_from_unsigned_bits(img, dst, frame);
	(void)dst_capacity;
	st = RP_OK;
out:
	free(scratch);
	charls_jpegls_decoder_destroy(dec);
	return st;
}

const struct rp__codec_ops rp__codec_jpegls = {
	.id = RP_CODEC_JPEGLS,
	.ts_lossless = "1.2.840.10008.1.2.4.80",
	.ts_lossy = "1.2.840.10008.1.2.4.81",
	.check = jls_check,
	.bound = jls_bound,
	.encode = jls_encode,
	.decode = jls_decode,
};
