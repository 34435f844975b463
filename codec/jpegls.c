/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpegls.c - JPEG-LS (ITU-T T.87) through CharLS: transfer syntaxes
 * 1.2.840.10008.1.2.4.80 (lossless) and .81 (near-lossless).
 *
 * JPEG-LS has no notion of sign: DICOM (PS3.5 8.2.3, and what DCMTK/GDCM do) codes the
 * BitsStored-bit two's-complement pattern as an unsigned sample of P = BitsStored bits,
 * and the decoder restores the sign extension.  CharLS wants 1 byte per sample for
 * P <= 8 and 2 bytes above, whatever BitsAllocated is, so samples are narrowed/widened
 * here when the two differ.  Bits above BitsStored that are not a sign/zero extension
 * (old overlay-in-pixel files) would be lost: the encoder refuses such frames.
 *
 * Decoding has a second decoder, DCMTK's dcmjpls (codec/jpegls_dcmtk.cpp), for
 * codestreams CharLS refuses although older decoders read them.  The case that needs it:
 * the NEMA WG-04 image MR1_JLSL.dcm ends its scan with a zero padding byte before EOI
 * ("... 2b 00 ff d9"), which T.87 does not allow.  CharLS 2.4.1 (Debian 12) decodes all
 * samples, then looks for EOI at the padding byte and fails with
 * CHARLS_JPEGLS_ERRC_JPEG_MARKER_START_BYTE_NOT_FOUND ("the leading start byte (0xFF)
 * for a JPEG marker was not found"); CharLS 2.4.3 accepts that one byte again, and
 * DCMTK's CharLS 1.x fork never checked for EOI.  See jls_retry_with_dcmtk() for which
 * refusals get the second decoder, and jls_padding_proof() for why that refusal needs a
 * proof first: without EOI checks, DCMTK also decodes damaged scans CharLS refuses with the
 * same error. */
#include "codec/codec_impl.h"
#include "codec/jpegls_dcmtk.h"

#include <charls/charls.h>
#include <stdio.h>
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

/* Frames this thread decoded with the second decoder (see rp__jpegls_fallbacks()). */
static _Thread_local unsigned long fallbacks_on_thread;

unsigned long
rp__jpegls_fallbacks(void)
{
	return fallbacks_on_thread;
}

/* Reads the frame header (SOF55) of a JPEG-LS codestream without CharLS, for the
 * second decoder, which is tried when CharLS could not read the header either.  RP_OK, or
 * RP_E_CORRUPT when there is no SOF55 before the first scan. */
static int
jls_frame_header(const uint8_t *src, size_t size, struct rp__jls_frame *f,
		 struct rp_errbuf *err)
{
	if (size < 4 || src[0] != 0xFF || src[1] != 0xD8)
		return rp__err(err, RP_E_CORRUPT, "JPEG-LS codestream does not start with SOI");
	size_t i = 2;
	while (i + 4 <= size) {
		if (src[i] != 0xFF)
			return rp__err(err, RP_E_CORRUPT,
				       "JPEG-LS header: no marker at byte %zu", i);
		uint8_t m = src[i + 1];
		if (m == 0xFF) { /* fill byte */
			i++;
			continue;
		}
		if (m == 0xD8 || m == 0xD9 || m == 0xDA || (m >= 0xD0 && m <= 0xD7))
			break; /* SOI, EOI, SOS or RSTn before SOF55 */
		size_t len = ((size_t)src[i + 2] << 8) | src[i + 3];
		if (len < 2 || i + 2 + len > size)
			break;
		if (m == 0xF7) {
			if (len < 8)
				break;
			const uint8_t *p = src + i + 4;
			f->bits = p[0];
			f->height = ((uint32_t)p[1] << 8) | p[2];
			f->width = ((uint32_t)p[3] << 8) | p[4];
			f->components = p[5];
			return RP_OK;
		}
		i += 2 + len;
	}
	return rp__err(err, RP_E_CORRUPT, "JPEG-LS codestream has no frame header (SOF55)");
}

/* Whether a CharLS refusal gets the second decoder.  Not when the frame is truncated or
 * its coded samples are inconsistent (the two decoders share T.87's algorithm, so one
 * that accepts what the other finds inconsistent would hide a corruption), nor for
 * resource errors; yes for the marker and parameter checks CharLS 2 added over the
 * decoders that wrote and read these files for two decades. */
static bool
jls_retry_with_dcmtk(charls_jpegls_errc e)
{
	switch (e) {
	case CHARLS_JPEGLS_ERRC_SUCCESS:
	case CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY:
	case CHARLS_JPEGLS_ERRC_DESTINATION_BUFFER_TOO_SMALL:
	case CHARLS_JPEGLS_ERRC_SOURCE_BUFFER_TOO_SMALL:
	case CHARLS_JPEGLS_ERRC_INVALID_ENCODED_DATA:
	case CHARLS_JPEGLS_ERRC_TOO_MUCH_ENCODED_DATA:
	case CHARLS_JPEGLS_ERRC_START_OF_IMAGE_MARKER_NOT_FOUND:
		return false;
	default:
		return true;
	}
}

/* Decodes with CharLS into out (count samples of cbps bytes, CharLS's layout); fills *fi
 * and *ilv from the header.  *refusal gets CharLS's error code when CharLS itself
 * refused the stream (0 otherwise), so that the caller can try the second decoder. */
static int
jls_decode_charls(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		  uint8_t **scratch, uint8_t *dst, charls_frame_info *fi,
		  charls_interleave_mode *ilv, charls_jpegls_errc *refusal,
		  struct rp_errbuf *err)
{
	*refusal = CHARLS_JPEGLS_ERRC_SUCCESS;
	charls_jpegls_decoder *dec = charls_jpegls_decoder_create();
	if (!dec)
		return RP_E_NOMEM;
	int st;
	charls_jpegls_errc e = charls_jpegls_decoder_set_source_buffer(dec, src, src_size);
	if (!e)
		e = charls_jpegls_decoder_read_header(dec);
	if (!e)
		e = charls_jpegls_decoder_get_frame_info(dec, fi);
	if (!e)
		e = charls_jpegls_decoder_get_interleave_mode(dec, ilv);
	if (e) {
		*refusal = e;
		st = jls_status(e, "header", err);
		goto out;
	}
	if (fi->width != img->width || fi->height != img->height ||
	    fi->component_count != img->components) {
		st = rp__err(err, RP_E_CORRUPT,
			     "JPEG-LS frame is %ux%u x%d, the DICOM header says %ux%u x%u",
			     fi->width, fi->height, fi->component_count, img->width, img->height,
			     img->components);
		goto out;
	}
	if (fi->bits_per_sample < 2 || fi->bits_per_sample > img->bits_allocated) {
		st = rp__err(err, RP_E_CORRUPT,
			     "JPEG-LS precision %d bits does not fit BitsAllocated %u",
			     fi->bits_per_sample, img->bits_allocated);
		goto out;
	}
	size_t count = (size_t)img->width * img->height * img->components;
	size_t cbps = charls_sample_bytes((unsigned)fi->bits_per_sample);
	bool planar = img->components == 3 && *ilv == CHARLS_INTERLEAVE_MODE_NONE;
	uint8_t *out = dst;
	if (cbps != rp__sample_bytes(img) || planar) {
		*scratch = malloc(count * cbps);
		if (!*scratch) {
			st = RP_E_NOMEM;
			goto out;
		}
		out = *scratch;
	}
	e = charls_jpegls_decoder_decode_to_buffer(dec, out, count * cbps, 0);
	if (e) {
		*refusal = e;
		st = jls_status(e, "decode", err);
		goto out;
	}
	st = RP_OK;
out:
	charls_jpegls_decoder_destroy(dec);
	return st;
}

/* The second decoder, for a stream CharLS refused with `charls_err` (its message).  The
 * frame header must agree with the DICOM header exactly as for CharLS.  On success the
 * samples are in *scratch or dst (as jls_decode_charls leaves them: cbps bytes,
 * interleaved) and *bits is the codestream's precision. */
static int
jls_decode_dcmtk(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		 uint8_t **scratch, uint8_t *dst, unsigned *bits, const char *charls_err,
		 struct rp_errbuf *err)
{
	struct rp__jls_frame f;
	struct rp_errbuf second = {{0}};
	int st = jls_frame_header(src, src_size, &f, &second);
	if (st == RP_OK && (f.width != img->width || f.height != img->height ||
			    f.components != img->components))
		st = rp__err(&second, RP_E_CORRUPT,
			     "JPEG-LS frame is %ux%u x%u, the DICOM header says %ux%u x%u",
			     f.width, f.height, f.components, img->width, img->height,
			     img->components);
	else if (st == RP_OK && (f.bits < 2 || f.bits > img->bits_allocated))
		st = rp__err(&second, RP_E_CORRUPT,
			     "JPEG-LS precision %u bits does not fit BitsAllocated %u", f.bits,
			     img->bits_allocated);
	size_t count = (size_t)img->width * img->height * img->components;
	size_t cbps = charls_sample_bytes(f.bits);
	uint8_t *out = dst;
	if (st == RP_OK && cbps != rp__sample_bytes(img)) {
		free(*scratch);
		*scratch = malloc(count * cbps);
		if (!*scratch)
			return RP_E_NOMEM;
		out = *scratch;
	}
	if (st == RP_OK)
		st = rp__jpegls_dcmtk_decode(src, src_size, &f, out, count * cbps, &second);
	if (st == RP_E_NOMEM)
		return st;
	/* Refused by both, or by CharLS in a build without the second decoder. */
	if (st < 0)
		return rp__err(err, rp__jpegls_dcmtk_available() ? RP_E_CORRUPT : RP_E_UNSUPPORTED,
			       "%.110s; second decoder: %.110s", charls_err, second.msg);
	if (out == dst) { /* a planar CharLS attempt may have left scratch allocated */
		free(*scratch);
		*scratch = NULL;
	}
	*bits = f.bits;
	return RP_OK;
}

/* CharLS's "marker start byte not found" after a scan is what MR1_JLSL's padding byte
 * gives, but also what a damaged scan that ends early gives, and DCMTK's fork (no EOI
 * check) decodes both: a single bit flipped in MR1_JLSL's scan decodes there to other
 * pixels.  So the second decoder is asked only when the refusal is the padding: the
 * codestream ends "X 00 FF D9" (X not FF, then at most an odd fragment's pad) and CharLS,
 * with its strict end-of-scan and EOI checks, decodes the copy without the 00.  The
 * samples it gives are returned in *proof (cbps bytes, interleaved, malloc'ed) and must
 * equal DCMTK's. */
static bool
jls_padding_proof(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		  uint8_t **proof)
{
	*proof = NULL;
	size_t eoi = 0;
	for (size_t k = 2; k <= 4 && k <= src_size && !eoi; k++)
		if (src[src_size - k] == 0xFF && src[src_size - k + 1] == 0xD9)
			eoi = src_size - k;
	if (eoi < 3 || src[eoi - 1] != 0x00 || src[eoi - 2] == 0xFF)
		return false;
	uint8_t *copy = malloc(src_size - 1);
	if (!copy)
		return false;
	memcpy(copy, src, eoi - 1);
	memcpy(copy + eoi - 1, src + eoi, src_size - eoi);
	size_t count = (size_t)img->width * img->height * img->components;
	uint8_t *frame = malloc(count * 2), *scratch = NULL;
	charls_frame_info fi = {0};
	charls_interleave_mode ilv = CHARLS_INTERLEAVE_MODE_NONE;
	charls_jpegls_errc refusal;
	bool ok = frame && jls_decode_charls(img, copy, src_size - 1, &scratch, frame, &fi,
					     &ilv, &refusal, NULL) == RP_OK;
	free(copy);
	if (ok && scratch) {
		size_t cbps = charls_sample_bytes((unsigned)fi.bits_per_sample);
		if (img->components == 3 && ilv == CHARLS_INTERLEAVE_MODE_NONE)
			planes_to_interleaved(scratch, frame, count / 3, cbps);
		else
			memcpy(frame, scratch, count * cbps);
	}
	free(scratch);
	if (!ok) {
		free(frame);
		return false;
	}
	*proof = frame;
	return true;
}

static int
jls_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size, uint8_t *dst,
	   size_t dst_capacity, const struct rp__decode_params *dp,
	   struct rp_errbuf *err)
{
	(void)dp;
	(void)dst_capacity; /* rp_decoder_decode() checked it holds one canonical frame */
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG-LS in BitsAllocated %u",
			       img->bits_allocated);
	/* CharLS 2.4 reads past the end of a truncated scan as zero bits and can take
	 * seconds to fail; a complete codestream ends with EOI (FFD9), followed at most by
	 * the padding of an odd-length fragment, so check that first.  This also keeps
	 * truncated frames from the second decoder. */
	bool has_eoi = false;
	for (size_t k = 2; k <= 4 && k <= src_size && !has_eoi; k++)
		has_eoi = src[src_size - k] == 0xFF && src[src_size - k + 1] == 0xD9;
	if (!has_eoi)
		return rp__err(err, RP_E_CORRUPT,
			       "JPEG-LS codestream of %zu bytes is truncated (no EOI marker)",
			       src_size);
	uint8_t *scratch = NULL;
	charls_frame_info fi = {0};
	charls_interleave_mode ilv = CHARLS_INTERLEAVE_MODE_NONE;
	charls_jpegls_errc refusal;
	int st = jls_decode_charls(img, src, src_size, &scratch, dst, &fi, &ilv, &refusal, err);
	unsigned bits = (unsigned)fi.bits_per_sample;
	bool planar = img->components == 3 && ilv == CHARLS_INTERLEAVE_MODE_NONE;
	uint8_t *proof = NULL;
	if (st < 0 && jls_retry_with_dcmtk(refusal)) {
		char charls_err[RP_ERRBUF_SIZE] = "";
		if (err)
			snprintf(charls_err, sizeof(charls_err), "CharLS: %.200s", err->msg);
		if (refusal == CHARLS_JPEGLS_ERRC_JPEG_MARKER_START_BYTE_NOT_FOUND &&
		    !jls_padding_proof(img, src, src_size, &proof)) {
			st = rp__err(err, RP_E_CORRUPT, "%.180s; not retried: the scan does not "
				     "end at a padding byte before EOI", charls_err);
			goto out;
		}
		st = jls_decode_dcmtk(img, src, src_size, &scratch, dst, &bits, charls_err, err);
		planar = false; /* DCMTK was asked for colour-by-pixel */
		if (st == RP_OK && proof &&
		    memcmp(proof, scratch ? scratch : dst,
			   (size_t)img->width * img->height * img->components *
			   charls_sample_bytes(bits)) != 0)
			st = rp__err(err, RP_E_CORRUPT, "%.150s; DCMTK and CharLS (without the "
				     "padding byte) decode different pixels", charls_err);
		if (st == RP_OK)
			fallbacks_on_thread++;
	}
	if (st < 0)
		goto out;
	size_t count = (size_t)img->width * img->height * img->components;
	size_t cbps = charls_sample_bytes(bits), bps = rp__sample_bytes(img);
	size_t frame = count * bps;
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
	st = RP_OK;
out:
	free(proof);
	free(scratch);
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
