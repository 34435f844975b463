/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpegxl.c - JPEG XL lossless (ISO/IEC 18181-1) through libjxl: transfer syntax
 * 1.2.840.10008.1.2.4.110 (PS3.5 8.2.15 and A.4.12, Supplement 232).
 *
 * How DICOM pixel data is put into a JPEG XL codestream.  PS3.5 8.2.15 asks that Bits
 * Stored, Pixel Representation, Samples per Pixel, Rows and Columns be consistent with the
 * characteristics of the compressed stream, and that the decoder use those of the stream:
 *  - the codestream's bits_per_sample is Bits Stored (1..16), whatever Bits Allocated is,
 *    and a stream whose depth, size or channel count disagrees with the dataset is refused
 *    as corrupt rather than converted;
 *  - JPEG XL integer samples carry no sign, so signed data (Pixel Representation 1) is
 *    coded as its Bits Stored-bit two's-complement pattern, as DICOM does for the other
 *    sign-less codec, JPEG-LS (PS3.5 8.2.3); the decoder sign-extends it back.  An
 *    independent decoder (djxl) thus returns exactly the stored bit patterns;
 *  - 1 sample: MONOCHROME1, MONOCHROME2, PALETTE COLOR; 3 samples: RGB (and YBR_FULL,
 *    coded sample for sample) - the Standard Photometric Interpretations Table 8.2.15-1
 *    allows for the lossless syntax; the samples are coded as they are (no XYB, no colour
 *    conversion: uses_original_profile), so the Photometric Interpretation is unchanged.
 *  - one frame, as a bare codestream (FF 0A) up to 12 bits; above 12 bits libjxl 0.7
 *    needs codestream level 10 and writes it in the container with the jxll box that
 *    announces the level (ISO/IEC 18181-2).  The decoder takes both forms.
 *
 * libjxl 0.7 (Debian 12) takes and returns samples scaled to the full range of the buffer
 * type (UINT8 / UINT16), whatever bits_per_sample is: a b-bit value x travels as
 * round(x * (2^t - 1) / (2^b - 1)) and comes back by the inverse rounding, which is exact
 * for b <= t <= 16.  tests/test_codec_roundtrip.c checks every value of every depth. */
#include "codec/codec_impl.h"

#include <jxl/decode.h>
#include <jxl/encode.h>
#include <jxl/parallel_runner.h>
#include <radpipe/pool.h>
#include <stdlib.h>

#define JXL_TS_LOSSLESS "1.2.840.10008.1.2.4.110"
/* Effort 1..9 (libjxl's speed tier).  Measured on the corpus CT with libjxl 0.7 (see
 * bench/README.md): 3 is the lowest effort whose ratio clears JPEG-LS's by a margin, at a
 * speed still usable on every core; higher efforts gain a few percent at several times the
 * time. */
#define JXL_DEFAULT_EFFORT 3

/* libjxl's thread runner over the caller's pool: every parallel stage of one frame spread
 * over the pool's idle workers and the calling thread (rp_pool_parallel_for gives each
 * thread its own index below threads + 1, which is what libjxl's per-thread scratch
 * wants). */
struct runner_call {
	void *jpegxl_opaque;
	JxlParallelRunFunction func;
	uint32_t start;
};

static void
runner_one(void *arg, size_t index, unsigned worker)
{
	struct runner_call *c = arg;
	c->func(c->jpegxl_opaque, c->start + (uint32_t)index, worker);
}

static JxlParallelRetCode
pool_runner(void *runner_opaque, void *jpegxl_opaque, JxlParallelRunInit init,
	    JxlParallelRunFunction func, uint32_t start_range, uint32_t end_range)
{
	struct rp_pool *pool = runner_opaque;
	JxlParallelRetCode rc = init(jpegxl_opaque, (size_t)rp_pool_threads(pool) + 1);
	if (rc != 0)
		return rc;
	struct runner_call c = { jpegxl_opaque, func, start_range };
	rp_pool_parallel_for(pool, end_range - start_range, runner_one, &c);
	return 0;
}

/* Bytes per sample of the buffer exchanged with libjxl for b-bit samples. */
static size_t
jxl_sample_bytes(unsigned bits)
{
	return bits <= 8 ? 1 : 2;
}

static int
photometric_ok(const struct rp_image_desc *img)
{
	if (img->components == 1)
		return img->photometric == RP_PHOTOMETRIC_MONOCHROME1 ||
		       img->photometric == RP_PHOTOMETRIC_MONOCHROME2 ||
		       img->photometric == RP_PHOTOMETRIC_PALETTE_COLOR;
	return img->components == 3 && (img->photometric == RP_PHOTOMETRIC_RGB ||
					 img->photometric == RP_PHOTOMETRIC_YBR_FULL);
}

static int
jxl_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	  struct rp_errbuf *err)
{
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG XL codes 8- and 16-bit containers, not BitsAllocated %u",
			       img->bits_allocated);
	if (img->bits_stored < 1 || img->bits_stored > 16)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG XL lossless: BitsStored %u",
			       img->bits_stored);
	if (!photometric_ok(img))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG XL lossless: %u samples of %s (PS3.5 Table 8.2.15-1 allows "
			       "MONOCHROME1/2 and PALETTE COLOR, or RGB and YBR_FULL)",
			       img->components,
			       rp_photometric_name((enum rp_photometric)img->photometric) ?
				       rp_photometric_name((enum rp_photometric)img->photometric) :
				       "unknown");
	/* The codestream's size fields hold up to 2^30 (18181-1 Annex D.2). */
	if (img->width > (1u << 30) || img->height > (1u << 30))
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG XL frame %ux%u too large",
			       img->width, img->height);
	if (p->near_lossless > 0 || p->lossy_ratio > 0 || p->quality > 0)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG XL is coded lossless only here (transfer syntax .110)");
	if (p->effort > 9)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG XL effort %u: 1..9", p->effort);
	return RP_OK;
}

static size_t
jxl_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	(void)p;
	/* Modular-mode lossless of incompressible data stays within a few percent of the
	 * raw samples; half again plus headers leaves room to spare. */
	size_t n = (size_t)img->width * img->height * img->components *
		   jxl_sample_bytes(img->bits_stored);
	return n + n / 2 + 4096;
}

/* Canonical frame -> libjxl's buffer: the low bits_stored bits (the two's-complement
 * pattern for signed data), scaled to the buffer type's full range. */
static void
to_jxl_samples(const struct rp_image_desc *img, const uint8_t *src, uint8_t *dst, size_t count)
{
	size_t bps = rp__sample_bytes(img), tb = jxl_sample_bytes(img->bits_stored);
	uint32_t bmax = (1u << img->bits_stored) - 1, tmax = tb == 1 ? 0xFFu : 0xFFFFu;
	for (size_t i = 0; i < count; i++) {
		uint32_t v = (bps == 1 ? src[i] : rp__load_le16(src + 2 * i)) & bmax;
		if (bmax != tmax)
			v = (v * tmax + bmax / 2) / bmax;
		if (tb == 1)
			dst[i] = (uint8_t)v;
		else
			rp__store_le16(dst + 2 * i, (uint16_t)v);
	}
}

/* libjxl's buffer -> canonical frame: back to bits_stored bits, sign- or zero-extended. */
static void
from_jxl_samples(const struct rp_image_desc *img, const uint8_t *src, uint8_t *dst,
		 size_t count)
{
	size_t bps = rp__sample_bytes(img), tb = jxl_sample_bytes(img->bits_stored);
	uint32_t bmax = (1u << img->bits_stored) - 1, tmax = tb == 1 ? 0xFFu : 0xFFFFu;
	uint32_t sign = 1u << (img->bits_stored - 1);
	for (size_t i = 0; i < count; i++) {
		uint32_t v = tb == 1 ? src[i] : rp__load_le16(src + 2 * i);
		if (bmax != tmax)
			v = (v * bmax + tmax / 2) / tmax;
		if (img->is_signed && (v & sign))
			v |= ~bmax;
		if (bps == 1)
			dst[i] = (uint8_t)v;
		else
			rp__store_le16(dst + 2 * i, (uint16_t)v);
	}
}

static int
jxl_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	   const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	   size_t *dst_size, struct rp_errbuf *err)
{
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "pixel bits above BitsStored (%u) carry data that is not a sign "
			       "extension (overlay bits?); JPEG XL would drop them",
			       img->bits_stored);
	size_t count = (size_t)img->width * img->height * img->components;
	size_t tb = jxl_sample_bytes(img->bits_stored);
	uint8_t *buf = malloc(count * tb);
	if (!buf)
		return RP_E_NOMEM;
	to_jxl_samples(img, src, buf, count);

	int st = RP_OK;
	JxlEncoder *enc = JxlEncoderCreate(NULL);
	if (!enc) {
		free(buf);
		return RP_E_NOMEM;
	}
	const char *what = "setup";
	JxlBasicInfo bi;
	JxlEncoderInitBasicInfo(&bi);
	bi.xsize = img->width;
	bi.ysize = img->height;
	bi.bits_per_sample = img->bits_stored;
	bi.exponent_bits_per_sample = 0;
	bi.num_color_channels = img->components;
	bi.num_extra_channels = 0;
	bi.alpha_bits = 0;
	bi.uses_original_profile = JXL_TRUE;    /* lossless: no XYB */
	JxlColorEncoding ce;
	JxlColorEncodingSetToSRGB(&ce, img->components == 1);
	JxlPixelFormat fmt = { img->components, tb == 1 ? JXL_TYPE_UINT8 : JXL_TYPE_UINT16,
			       JXL_LITTLE_ENDIAN, 0 };
	JxlEncoderFrameSettings *fs = NULL;
	bool ok = JxlEncoderUseContainer(enc, JXL_FALSE) == JXL_ENC_SUCCESS &&
		  (!p->pool || JxlEncoderSetParallelRunner(enc, pool_runner, p->pool) ==
				       JXL_ENC_SUCCESS);
	/* Frames past level 5's limits (2^18 a side, 2^28 pixels) need level 10. */
	if (ok && ((uint64_t)img->width * img->height > (1u << 28) ||
		   img->width > (1u << 18) || img->height > (1u << 18)))
		ok = JxlEncoderSetCodestreamLevel(enc, 10) == JXL_ENC_SUCCESS;
	ok = ok && JxlEncoderSetBasicInfo(enc, &bi) == JXL_ENC_SUCCESS &&
	     JxlEncoderSetColorEncoding(enc, &ce) == JXL_ENC_SUCCESS &&
	     (fs = JxlEncoderFrameSettingsCreate(enc, NULL)) != NULL &&
	     JxlEncoderSetFrameLossless(fs, JXL_TRUE) == JXL_ENC_SUCCESS &&
	     JxlEncoderFrameSettingsSetOption(fs, JXL_ENC_FRAME_SETTING_EFFORT,
					      p->effort ? (int64_t)p->effort :
							  JXL_DEFAULT_EFFORT) == JXL_ENC_SUCCESS;
	if (ok) {
		what = "frame";
		ok = JxlEncoderAddImageFrame(fs, &fmt, buf, count * tb) == JXL_ENC_SUCCESS;
	}
	if (!ok) {
		st = rp__err(err, RP_E_INTERNAL, "JPEG XL encode %s refused (libjxl error %d)",
			     what, (int)JxlEncoderGetError(enc));
		goto out;
	}
	JxlEncoderCloseInput(enc);
	uint8_t *next = dst;
	size_t avail = dst_capacity;
	JxlEncoderStatus s;
	while ((s = JxlEncoderProcessOutput(enc, &next, &avail)) == JXL_ENC_NEED_MORE_OUTPUT) {
		if (avail == 0) {
			st = rp__err(err, RP_E_LIMIT, "JPEG XL encode: output buffer of %zu bytes "
				     "too small", dst_capacity);
			goto out;
		}
	}
	if (s != JXL_ENC_SUCCESS) {
		st = rp__err(err, RP_E_INTERNAL, "JPEG XL encode failed (libjxl error %d)",
			     (int)JxlEncoderGetError(enc));
		goto out;
	}
	*dst_size = (size_t)(next - dst);
out:
	JxlEncoderDestroy(enc);
	free(buf);
	return st;
}

static int
jxl_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size, uint8_t *dst,
	   size_t dst_capacity, const struct rp__decode_params *dp, struct rp_errbuf *err)
{
	(void)dst_capacity;
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG XL in BitsAllocated %u",
			       img->bits_allocated);
	if (img->bits_stored < 1 || img->bits_stored > 16 ||
	    (img->components != 1 && img->components != 3))
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG XL with BitsStored %u, %u samples",
			       img->bits_stored, img->components);
	if (src_size < 2)
		return rp__err(err, RP_E_CORRUPT, "JPEG XL codestream of %zu bytes", src_size);
	JxlDecoder *dec = JxlDecoderCreate(NULL);
	if (!dec)
		return RP_E_NOMEM;
	size_t count = (size_t)img->width * img->height * img->components;
	size_t tb = jxl_sample_bytes(img->bits_stored);
	JxlPixelFormat fmt = { img->components, tb == 1 ? JXL_TYPE_UINT8 : JXL_TYPE_UINT16,
			       JXL_LITTLE_ENDIAN, 0 };
	uint8_t *buf = NULL;
	bool have_info = false, have_image = false;
	int st = RP_OK;
	struct rp_pool *pool = dp ? dp->pool : NULL;
	if ((pool && JxlDecoderSetParallelRunner(dec, pool_runner, pool) != JXL_DEC_SUCCESS) ||
	    JxlDecoderSubscribeEvents(dec, JXL_DEC_BASIC_INFO | JXL_DEC_FULL_IMAGE) !=
		    JXL_DEC_SUCCESS ||
	    JxlDecoderSetKeepOrientation(dec, JXL_TRUE) != JXL_DEC_SUCCESS ||
	    JxlDecoderSetInput(dec, src, src_size) != JXL_DEC_SUCCESS) {
		st = rp__err(err, RP_E_INTERNAL, "JPEG XL decoder setup failed");
		goto out;
	}
	JxlDecoderCloseInput(dec);
	for (;;) {
		JxlDecoderStatus s = JxlDecoderProcessInput(dec);
		if (s == JXL_DEC_SUCCESS)
			break;
		if (s == JXL_DEC_ERROR || s == JXL_DEC_NEED_MORE_INPUT) {
			st = rp__err(err, RP_E_CORRUPT, "JPEG XL codestream of %zu bytes is %s",
				     src_size, s == JXL_DEC_ERROR ? "corrupt" : "truncated");
			goto out;
		}
		if (s == JXL_DEC_BASIC_INFO) {
			JxlBasicInfo bi;
			if (JxlDecoderGetBasicInfo(dec, &bi) != JXL_DEC_SUCCESS) {
				st = rp__err(err, RP_E_CORRUPT, "JPEG XL header unreadable");
				goto out;
			}
			/* PS3.5 8.2.15: the dataset must agree with the stream; a mismatch is
			 * refused, never converted. */
			if (bi.xsize != img->width || bi.ysize != img->height ||
			    bi.num_color_channels != img->components || bi.num_extra_channels ||
			    bi.bits_per_sample != img->bits_stored ||
			    bi.exponent_bits_per_sample || bi.have_animation ||
			    bi.orientation != JXL_ORIENT_IDENTITY) {
				st = rp__err(err, RP_E_CORRUPT,
					     "JPEG XL image is %ux%u x%u (+%u extra) at %u bits%s, "
					     "the DICOM header says %ux%u x%u at %u bits",
					     bi.xsize, bi.ysize, bi.num_color_channels,
					     bi.num_extra_channels, bi.bits_per_sample,
					     bi.exponent_bits_per_sample ? " float" :
					     bi.have_animation ? " animated" :
					     bi.orientation != JXL_ORIENT_IDENTITY ? " rotated" : "",
					     img->width, img->height, img->components,
					     img->bits_stored);
				goto out;
			}
			have_info = true;
		} else if (s == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
			size_t need = 0;
			if (!have_info || have_image || buf ||
			    JxlDecoderImageOutBufferSize(dec, &fmt, &need) != JXL_DEC_SUCCESS ||
			    need != count * tb) {
				st = rp__err(err, RP_E_CORRUPT,
					     "JPEG XL codestream has an unexpected frame layout");
				goto out;
			}
			if (!(buf = malloc(need))) {
				st = RP_E_NOMEM;
				goto out;
			}
			if (JxlDecoderSetImageOutBuffer(dec, &fmt, buf, need) != JXL_DEC_SUCCESS) {
				st = rp__err(err, RP_E_INTERNAL, "JPEG XL output buffer refused");
				goto out;
			}
		} else if (s == JXL_DEC_FULL_IMAGE) {
			if (have_image) {
				st = rp__err(err, RP_E_CORRUPT,
					     "JPEG XL codestream holds more than one frame");
				goto out;
			}
			have_image = true;
		}
	}
	if (!have_image || !buf) {
		st = rp__err(err, RP_E_CORRUPT, "JPEG XL codestream holds no image");
		goto out;
	}
	from_jxl_samples(img, buf, dst, count);
out:
	free(buf);
	JxlDecoderDestroy(dec);
	return st;
}

const struct rp__codec_ops rp__codec_jpegxl = {
	.id = RP_CODEC_JPEGXL,
	.ts_lossless = JXL_TS_LOSSLESS,
	.ts_lossy = NULL,
	.check = jxl_check,
	.bound = jxl_bound,
	.encode = jxl_encode,
	.decode = jxl_decode,
};
