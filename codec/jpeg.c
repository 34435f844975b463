/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg.c - JPEG baseline (1.2.840.10008.1.2.4.50) encode and decode, and JPEG
 * extended (.51) decode of 8-bit data, over libjpeg-turbo.
 *
 * 12-bit: libjpeg-turbo 2.1.5 as Debian 12 ships it (libjpeg62-turbo) is built for 8-bit
 * samples only; the 12-bit build is a separate library that Debian does not package.  A
 * 12-bit .51 frame (WG-04 *_JPLY, MG1) therefore goes to our own greyscale 12-bit decoder,
 * codec/jpeg12.c; libjpeg-turbo 3.0 decodes 12-bit in the same library and would let
 * that file go.
 *
 * Colour, decoding: libjpeg converts YCbCr to RGB (ITU-T T.871, full range), as dcmdjpeg
 * does by default, so three-component frames always come out RGB: YBR_FULL_422 cannot be
 * a canonical frame anyway (canonical frames hold every sample of every pixel).  The
 * decoded photometric of YBR_FULL / YBR_FULL_422 / YBR_PARTIAL_420 is RGB.
 * Colour, encoding: RGB is coded as RGB (libjpeg writes an Adobe APP14 marker with
 * transform 0), without subsampling, so the dataset's RGB stays true and the writer need
 * not change Photometric Interpretation; it costs some ratio against YCbCr 4:2:2.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: we longjmp back
 * here.  Everything touched after setjmp lives in a struct, not in locals. */
#include "codec/codec_impl.h"
#include "codec/jpeg12.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>

#define JPEG_TS_BASELINE "1.2.840.10008.1.2.4.50"
#define JPEG_DEFAULT_QUALITY 90

struct jpeg_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
	bool premature_eof;
};

static void
on_error_exit(j_common_ptr cinfo)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	e->pub.format_message(cinfo, e->msg);
	longjmp(e->jump, 1);
}

static void
on_emit_message(j_common_ptr cinfo, int level)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	/* Warnings (level -1): only a premature end of data matters to us; libjpeg would
	 * fill the rest of the image with grey and call it a success. */
	if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF)
		e->premature_eof = true;
}

static void
on_output_message(j_common_ptr cinfo)
{
	(void)cinfo;                 /* never print */
}

static void
init_err(struct jpeg_err *e)
{
	memset(e, 0, sizeof(*e));
	jpeg_std_error(&e->pub);
	e->pub.error_exit = on_error_exit;
	e->pub.emit_message = on_emit_message;
	e->pub.output_message = on_output_message;
}

/* ---------------------------------------------------------------------------------- */
/* Decoding */

struct dec_state {
	struct jpeg_decompress_struct cinfo;
	struct jpeg_err jerr;
	uint8_t *row;                /* one decoded row, when the container is 16-bit */
};

static int
decode_body(struct dec_state *s, const struct rp_image_desc *img, const uint8_t *src,
	    size_t src_size, uint8_t *dst, struct rp_errbuf *err)
{
	struct jpeg_decompress_struct *ci = &s->cinfo;
	jpeg_mem_src(ci, src, (unsigned long)src_size);
	if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK)
		return rp__err(err, RP_E_CORRUPT, "JPEG: no image in the data");
	if (ci->image_width != img->width || ci->image_height != img->height ||
	    ci->num_components != img->components)
		return rp__err(err, RP_E_CORRUPT,
			       "JPEG: codestream is %ux%u with %d components, image is %ux%u "
			       "with %u", ci->image_width, ci->image_height, ci->num_components,
			       img->width, img->height, img->components);
	if (img->components == 3)
		ci->out_color_space = JCS_RGB;
	else if (img->components == 1)
		ci->out_color_space = JCS_GRAYSCALE;
	else
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG: %u components", img->components);
	ci->dct_method = JDCT_ISLOW;
	jpeg_start_decompress(ci);
	size_t bps = rp__sample_bytes(img), n = (size_t)img->width * img->components;
	if (ci->output_components != img->components)
		return rp__err(err, RP_E_CORRUPT, "JPEG: decoder produced %d components",
			       ci->output_components);
	if (bps == 2) {
		s->row = malloc(n);
		if (!s->row)
			return rp__err(err, RP_E_NOMEM, "JPEG: out of memory");
	}
	while (ci->output_scanline < ci->output_height) {
		size_t y = ci->output_scanline;
		JSAMPROW row = bps == 1 ? dst + y * n : s->row;
		if (jpeg_read_scanlines(ci, &row, 1) != 1)
			return rp__err(err, RP_E_CORRUPT, "JPEG: data ends at row %zu", y);
		if (bps == 2)
			for (size_t k = 0; k < n; k++)
				rp__store_le16(dst + 2 * (y * n + k), s->row[k]);
	}
	jpeg_finish_decompress(ci);
	if (s->jerr.premature_eof)
		return rp__err(err, RP_E_CORRUPT, "JPEG: premature end of data");
	return RP_OK;
}

static int
jpeg_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	    uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	    struct rp_errbuf *err)
{
	(void)dp;
	RP_TRY(rp_image_desc_check(img, err));
	size_t bps = rp__sample_bytes(img), frame = rp_image_frame_size(img);
	if (bps != 1 && bps != 2)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG: BitsAllocated %u",
			       img->bits_allocated);
	if (dst_capacity < frame)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG: output buffer too small");
	if (src_size == 0 || src_size > ULONG_MAX)
		return rp__err(err, RP_E_CORRUPT, "JPEG: empty frame");

	struct dec_state *s = calloc(1, sizeof(*s));
	if (!s)
		return rp__err(err, RP_E_NOMEM, "JPEG: out of memory");
	init_err(&s->jerr);
	s->cinfo.err = &s->jerr.pub;
	int rc;
	if (setjmp(s->jerr.jump)) {
		int code = s->jerr.pub.msg_code;
		if (code == JERR_BAD_PRECISION && s->cinfo.data_precision == 12)
			rc = rp__jpeg12_decode(img, src, src_size, dst, dst_capacity, err);
		else if (code == JERR_BAD_PRECISION)
			rc = rp__err(err, RP_E_UNSUPPORTED,
				     "JPEG: %d-bit samples: libjpeg-turbo 2.1.5 in Debian 12 "
				     "decodes 8-bit JPEG only", s->cinfo.data_precision);
		else if (code == JERR_SOF_UNSUPPORTED)
			rc = rp__err(err, RP_E_UNSUPPORTED,
				     "JPEG: %s (lossless and arithmetic JPEG are not baseline; "
				     "JPEG lossless has its own codec)", s->jerr.msg);
		else
			rc = rp__err(err, RP_E_CORRUPT, "libjpeg-turbo: %s", s->jerr.msg);
		goto out;
	}
	jpeg_create_decompress(&s->cinfo);
	rc = decode_body(s, img, src, src_size, dst, err);
out:
	jpeg_destroy_decompress(&s->cinfo);
	free(s->row);
	free(s);
	if (rc == RP_OK)
		rp__frame_from_unsigned_bits(img, dst, frame);
	return rc;
}

static enum rp_photometric
jpeg_decoded_photometric(enum rp_photometric stored)
{
	switch (stored) {
	case RP_PHOTOMETRIC_YBR_FULL:
	case RP_PHOTOMETRIC_YBR_FULL_422:
	case RP_PHOTOMETRIC_YBR_PARTIAL_420:
		return RP_PHOTOMETRIC_RGB;
	default:
		return stored;
	}
}

/* ---------------------------------------------------------------------------------- */
/* Encoding */

static int
jpeg_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	   struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	if (img->bits_allocated != 8)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG baseline: BitsAllocated %u (only 8-bit is baseline)",
			       img->bits_allocated);
	if (img->is_signed)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG baseline: signed samples");
	if (p && (p->quality < 0 || p->quality > 100))
		return rp__err(err, RP_E_INVALID_ARG, "JPEG: quality %d not in 1..100",
			       p->quality);
	return RP_OK;
}

static size_t
jpeg_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	if (jpeg_check(img, p, NULL) != RP_OK)
		return 0;
	/* Quality 100 on noise can exceed the raw size; headers and tables add ~1 KiB. */
	size_t n = rp_image_frame_size(img), b;
	if (!rp__mul_size(n, 2, &b) || !rp__add_size(b, 4096, &b))
		return 0;
	return b;
}

struct enc_state {
	struct jpeg_compress_struct cinfo;
	struct jpeg_err jerr;
	unsigned char *out;
	unsigned long out_size;
};

static int
jpeg_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	    const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	    size_t *dst_size, struct rp_errbuf *err)
{
	RP_TRY(jpeg_check(img, p, err));
	if (src_size != rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "JPEG: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG: %ux%u exceeds %ld", img->width,
			       img->height, (long)JPEG_MAX_DIMENSION);
	struct enc_state *s = calloc(1, sizeof(*s));
	if (!s)
		return rp__err(err, RP_E_NOMEM, "JPEG: out of memory");
	init_err(&s->jerr);
	s->cinfo.err = &s->jerr.pub;
	int rc;
	if (setjmp(s->jerr.jump)) {
		rc = rp__err(err, RP_E_INTERNAL, "libjpeg-turbo: %s", s->jerr.msg);
		goto out;
	}
	jpeg_create_compress(&s->cinfo);
	struct jpeg_compress_struct *ci = &s->cinfo;
	jpeg_mem_dest(ci, &s->out, &s->out_size);
	ci->image_width = img->width;
	ci->image_height = img->height;
	ci->input_components = img->components;
	ci->in_color_space = img->components == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(ci);
	if (img->components == 3)
		jpeg_set_colorspace(ci, JCS_RGB);
	jpeg_set_quality(ci, p && p->quality ? p->quality : JPEG_DEFAULT_QUALITY, TRUE);
	ci->dct_method = JDCT_ISLOW;
	ci->optimize_coding = TRUE;
	jpeg_start_compress(ci, TRUE);
	size_t stride = (size_t)img->width * img->components;
	while (ci->next_scanline < ci->image_height) {
		JSAMPROW row = (JSAMPROW)(uintptr_t)(src + (size_t)ci->next_scanline * stride);
		jpeg_write_scanlines(ci, &row, 1);
	}
	jpeg_finish_compress(ci);
	if (s->out_size > dst_capacity) {
		rc = rp__err(err, RP_E_LIMIT, "JPEG: output (%lu bytes) exceeds the %zu-byte "
			     "buffer", s->out_size, dst_capacity);
		goto out;
	}
	memcpy(dst, s->out, s->out_size);
	*dst_size = s->out_size;
	rc = RP_OK;
out:
	jpeg_destroy_compress(&s->cinfo);
	free(s->out);
	free(s);
	return rc;
}

const struct rp__codec_ops rp__codec_jpeg = {
	.id = RP_CODEC_JPEG,
	.ts_lossless = NULL,
	.ts_lossy = JPEG_TS_BASELINE,
	.check = jpeg_check,
	.bound = jpeg_bound,
	.encode = jpeg_encode,
	.decode = jpeg_decode,
	.decoded_photometric = jpeg_decoded_photometric,
};
