/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/j2k.c - JPEG 2000 over OpenJPEG: 1.2.840.10008.1.2.4.90 (reversible 5/3,
 * lossless) and .91 (irreversible 9/7 at a target ratio, only when asked), encode and
 * decode; also OpenJPEG's HTJ2K decoder for codec/htj2k_ojph.cpp to fall back on.
 *
 * Sign: JPEG 2000 carries it (SIZ Ssiz), so the encoder passes signed data as signed with
 * precision BitsStored.  Decoding keeps the codestream's bits and lets DICOM's Pixel
 * Representation say what they mean (the low BitsStored bits, extended), which is how
 * pydicom and GDCM read vendor files whose SIZ sign disagrees with the dataset
 * (TOSHIBA_J2K_SIZ0_PixRep1 and friends).  A sample that does not fit in BitsStored bits
 * is RP_E_CORRUPT, never silently truncated.
 *
 * Colour: we encode without the multi-component transform so that the Photometric
 * Interpretation (RGB) stays true without the writer having to change it.  When decoding
 * a codestream that used it (YBR_RCT / YBR_ICT in the dataset), OpenJPEG undoes it and we
 * report RGB. */
#include "codec/codec_impl.h"
#include "codec/j2k_internal.h"

#include <openjpeg.h>
#include <stdio.h>
#include <limits.h>
#include <stdarg.h>

#define J2K_TS_LOSSLESS "1.2.840.10008.1.2.4.90"
#define J2K_TS_LOSSY "1.2.840.10008.1.2.4.91"

/* Frames at least this many samples let OpenJPEG use the pool's thread count: below it
 * the per-frame thread start-up costs more than it saves. */
#define J2K_THREAD_MIN_SAMPLES (1024u * 1024u)

/* ---------------------------------------------------------------------------------- */
/* Memory streams */

struct mem_stream {
	uint8_t *data;               /* write: dst; read: const data cast back in reads only */
	size_t size;                 /* readable bytes / bytes written so far (high mark) */
	size_t cap;                  /* write capacity */
	size_t pos;
	bool overflow;
};

static OPJ_SIZE_T
mem_read(void *buf, OPJ_SIZE_T n, void *user)
{
	struct mem_stream *m = user;
	if (m->pos >= m->size)
		return (OPJ_SIZE_T)-1;
	size_t left = m->size - m->pos;
	if (n > left)
		n = left;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return n;
}

static OPJ_SIZE_T
mem_write(void *buf, OPJ_SIZE_T n, void *user)
{
	struct mem_stream *m = user;
	if (m->pos > m->cap || n > m->cap - m->pos) {
		m->overflow = true;
		return (OPJ_SIZE_T)-1;
	}
	memcpy(m->data + m->pos, buf, n);
	m->pos += n;
	if (m->pos > m->size)
		m->size = m->pos;
	return n;
}

static OPJ_OFF_T
mem_skip(OPJ_OFF_T n, void *user)
{
	struct mem_stream *m = user;
	size_t limit = m->cap ? m->cap : m->size;
	if (n < 0) {
		if ((uint64_t)-n > m->pos)
			return -1;
		m->pos -= (size_t)-n;
		return n;
	}
	if ((uint64_t)n > limit - m->pos) {
		/* Reading: skipping past the end is how OpenJPEG probes; clamp. */
		if (m->cap)
			return -1;
		OPJ_OFF_T done = (OPJ_OFF_T)(limit - m->pos);
		m->pos = limit;
		return done;
	}
	m->pos += (size_t)n;
	return n;
}

static OPJ_BOOL
mem_seek(OPJ_OFF_T n, void *user)
{
	struct mem_stream *m = user;
	size_t limit = m->cap ? m->cap : m->size;
	if (n < 0 || (uint64_t)n > limit)
		return OPJ_FALSE;
	m->pos = (size_t)n;
	return OPJ_TRUE;
}

static opj_stream_t *
mem_stream_open(struct mem_stream *m, bool input)
{
	opj_stream_t *s = opj_stream_create(64 * 1024, input ? OPJ_TRUE : OPJ_FALSE);
	if (!s)
		return NULL;
	opj_stream_set_user_data(s, m, NULL);
	if (input) {
		opj_stream_set_user_data_length(s, m->size);
		opj_stream_set_read_function(s, mem_read);
	} else {
		opj_stream_set_write_function(s, mem_write);
	}
	opj_stream_set_skip_function(s, mem_skip);
	opj_stream_set_seek_function(s, mem_seek);
	return s;
}

/* OpenJPEG reports errors through a callback: keep the first one as the reason. */
struct opj_msg {
	struct rp_errbuf *err;
	bool have;
};

static void
on_error(const char *msg, void *user)
{
	struct opj_msg *m = user;
	if (m->have || !m->err)
		return;
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	snprintf(m->err->msg, sizeof(m->err->msg), "OpenJPEG: %.*s", (int)n, msg);
	m->have = true;
}

static void
on_quiet(const char *msg, void *user)
{
	(void)msg;
	(void)user;
}

static void
set_handlers(opj_codec_t *codec, struct opj_msg *m)
{
	opj_set_error_handler(codec, on_error, m);
	opj_set_warning_handler(codec, on_quiet, m);
	opj_set_info_handler(codec, on_quiet, m);
}

/* The error already described by OpenJPEG, or our own text when it said nothing. */
static int
opj_fail(struct opj_msg *m, int status, const char *what)
{
	if (m->have)
		return status;
	return rp__err(m->err, status, "OpenJPEG: %s", what);
}

/* ---------------------------------------------------------------------------------- */
/* Codestream probing (pure parsing, no OpenJPEG) */

static const uint8_t jp2_signature[12] = { 0, 0, 0, 12, 'j', 'P', ' ', ' ',
					   13, 10, 0x87, 10 };

long
rp__j2k_codestream_offset(const uint8_t *src, size_t src_size)
{
	if (src_size >= 2 && src[0] == 0xFF && src[1] == 0x4F)
		return 0;
	if (src_size < 12 || memcmp(src, jp2_signature, 12) != 0)
		return -1;
	/* JP2/JPH file format (15444-1 Annex I): walk top-level boxes to 'jp2c'. */
	size_t pos = 0;
	while (src_size - pos >= 8) {
		uint64_t len = rp__load_be32(src + pos);
		size_t hdr = 8;
		if (len == 1) {
			if (src_size - pos < 16)
				return -1;
			len = ((uint64_t)rp__load_be32(src + pos + 8) << 32) |
			      rp__load_be32(src + pos + 12);
			hdr = 16;
		} else if (len == 0) {
			len = src_size - pos;
		}
		if (len < hdr || len > src_size - pos)
			return -1;
		if (memcmp(src + pos + 4, "jp2c", 4) == 0) {
			size_t off = pos + hdr;
			if (off > LONG_MAX || src_size - off < 2 || src[off] != 0xFF ||
			    src[off + 1] != 0x4F)
				return -1;
			return (long)off;
		}
		pos += (size_t)len;
	}
	return -1;
}

int
rp__j2k_probe(const uint8_t *src, size_t src_size, struct rp__j2k_siz *siz,
	      struct rp_errbuf *err)
{
	memset(siz, 0, sizeof(*siz));
	long off = rp__j2k_codestream_offset(src, src_size);
	if (off < 0)
		return rp__err(err, RP_E_CORRUPT, "JPEG 2000: no SOC marker or jp2c box");
	const uint8_t *p = src + off + 2, *end = src + src_size;
	bool have_siz = false;
	/* Main header markers until the first SOT (T.800 A.2): each is FF xx + length. */
	while (end - p >= 4 && p[0] == 0xFF && p[1] != 0x90) {
		unsigned m = p[1];
		if (m >= 0x30 && m <= 0x3F) {   /* T.800 A.1: markers without a segment */
			p += 2;
			continue;
		}
		size_t len = rp__load_be16(p + 2);
		if (len < 2 || len > (size_t)(end - p - 2))
			return rp__err(err, RP_E_CORRUPT,
				       "JPEG 2000: marker 0xFF%02X overruns the codestream", m);
		const uint8_t *s = p + 4, *se = p + 2 + len;
		if (m == 0x51) {
			if (se - s < 36 + 3)
				return rp__err(err, RP_E_CORRUPT, "JPEG 2000: SIZ too short");
			uint32_t xsiz = rp__load_be32(s + 2), ysiz = rp__load_be32(s + 6);
			uint32_t xo = rp__load_be32(s + 10), yo = rp__load_be32(s + 14);
			unsigned csiz = rp__load_be16(s + 34);
			if (xo >= xsiz || yo >= ysiz || csiz == 0 ||
			    (size_t)(se - s) < 36 + 3 * (size_t)csiz)
				return rp__err(err, RP_E_CORRUPT, "JPEG 2000: SIZ inconsistent");
			siz->width = xsiz - xo;
			siz->height = ysiz - yo;
			siz->components = (uint16_t)csiz;
			siz->uniform = 1;
			siz->subsampled = 0;
			for (unsigned c = 0; c < csiz; c++) {
				const uint8_t *cp = s + 36 + 3 * c;
				uint8_t prec = (uint8_t)((cp[0] & 0x7F) + 1), sg = cp[0] >> 7;
				if (c < 4) {
					siz->precision[c] = prec;
					siz->is_signed[c] = sg;
				}
				if (cp[1] != 1 || cp[2] != 1)
					siz->subsampled = 1;
				if (prec != ((s[36] & 0x7F) + 1) || sg != (s[36] >> 7) ||
				    cp[1] != 1 || cp[2] != 1)
					siz->uniform = 0;
			}
			have_siz = true;
		} else if (m == 0x52) {
			/* COD (T.800 A.6.1): Scod, SGcod (4), then SPcod whose fifth byte is
			 * the wavelet: 1 = reversible 5/3. */
			if (se - s >= 10)
				siz->reversible = s[9] == 1;
		} else if (m == 0x50) {
			/* CAP (15444-1 A.5.2, 15444-15): Pcap bit 15 (from the MSB, i.e.
			 * 1 << (32 - 15)) announces Part 15. */
			if (se - s >= 4 && (rp__load_be32(s) & (1u << (32 - 15))))
				siz->ht = 1;
		}
		p = se;
	}
	if (!have_siz)
		return rp__err(err, RP_E_CORRUPT, "JPEG 2000: no SIZ marker");
	return RP_OK;
}

int
rp__j2k_check_complete(const uint8_t *src, size_t src_size, struct rp_errbuf *err)
{
	long off = rp__j2k_codestream_offset(src, src_size);
	if (off < 0)
		return rp__err(err, RP_E_CORRUPT, "JPEG 2000: no SOC marker or jp2c box");
	const uint8_t *p = src + off + 2, *end = src + src_size;
	/* DICOM pads odd fragments with one zero byte; encoders sometimes add more. */
	while (end > p && end[-1] == 0)
		end--;
	while (end - p >= 4 && p[0] == 0xFF && p[1] != 0x90) {
		if (p[1] >= 0x30 && p[1] <= 0x3F) {
			p += 2;
			continue;
		}
		size_t len = rp__load_be16(p + 2);
		if (len < 2 || len > (size_t)(end - p - 2))
			return rp__err(err, RP_E_CORRUPT, "JPEG 2000: main header truncated");
		p += 2 + len;
	}
	unsigned parts = 0;
	for (;;) {
		if (end - p < 2)
			return parts ? RP_OK :
				       rp__err(err, RP_E_CORRUPT, "JPEG 2000: no tile-part");
		if (p[0] == 0xFF && p[1] == 0xD9)
			return parts ? RP_OK :
				       rp__err(err, RP_E_CORRUPT, "JPEG 2000: no tile-part");
		if (end - p < 12 || p[0] != 0xFF || p[1] != 0x90)
			return rp__err(err, RP_E_CORRUPT,
				       "JPEG 2000: expected SOT at offset %zu",
				       (size_t)(p - src));
		uint32_t psot = rp__load_be32(p + 6);
		parts++;
		if (psot == 0) {        /* last tile-part: runs to EOC */
			if (end - p < 14 || end[-2] != 0xFF || end[-1] != 0xD9)
				return rp__err(err, RP_E_CORRUPT,
					       "JPEG 2000: last tile-part has no EOC");
			return RP_OK;
		}
		if (psot < 14 || psot > (size_t)(end - p))
			return rp__err(err, RP_E_CORRUPT,
				       "JPEG 2000: tile-part %u of %u bytes at offset %zu overruns "
				       "the codestream (%zu bytes left)", parts, psot,
				       (size_t)(p - src), (size_t)(end - p));
		p += psot;
	}
}

/* ---------------------------------------------------------------------------------- */
/* Decoding */

static unsigned
pool_threads(struct rp_pool *pool, const struct rp_image_desc *img)
{
	if (!pool || (uint64_t)img->width * img->height < J2K_THREAD_MIN_SAMPLES)
		return 0;
	return rp_pool_threads(pool);
}

static int
copy_out(const struct rp_image_desc *img, const opj_image_t *im, uint8_t *dst,
	 struct rp_errbuf *err)
{
	size_t bps = rp__sample_bytes(img);
	size_t n = (size_t)img->width * img->height;
	unsigned nc = img->components, bs = img->bits_stored;
	uint32_t mask = bs >= 32 ? 0xFFFFFFFFu : (1u << bs) - 1;
	int64_t lo = img->is_signed ? -((int64_t)1 << (bs - 1)) : 0;
	int64_t hi = img->is_signed ? ((int64_t)1 << (bs - 1)) - 1 : (int64_t)mask;
	for (unsigned c = 0; c < nc; c++) {
		const opj_image_comp_t *cp = &im->comps[c];
		const OPJ_INT32 *s = cp->data;
		if (!s)
			return rp__err(err, RP_E_CORRUPT,
				       "OpenJPEG: component %u was not decoded", c);
		/* A codestream whose sign disagrees with Pixel Representation still has the
		 * right bits: unsigned 0..2^bs-1 read as two's complement, or the reverse. */
		bool reinterpret = cp->sgnd != img->is_signed;
		for (size_t k = 0; k < n; k++) {
			int64_t v = s[k];
			if (reinterpret) {
				if (v < -((int64_t)1 << (bs - 1)) || v > (int64_t)mask)
					goto range;
				uint32_t u = (uint32_t)v & mask;
				v = img->is_signed && (u >> (bs - 1)) ? (int64_t)u - mask - 1 :
									    (int64_t)u;
			} else if (v < lo || v > hi) {
				goto range;
			}
			uint8_t *o = dst + (k * nc + c) * bps;
			if (bps == 1)
				o[0] = (uint8_t)v;
			else if (bps == 2)
				rp__store_le16(o, (uint16_t)v);
			else
				rp__store_le32(o, (uint32_t)v);
			continue;
range:
			return rp__err(err, RP_E_CORRUPT,
				       "JPEG 2000: sample %lld of component %u (codestream %u-bit "
				       "%s) does not fit BitsStored %u %s", (long long)v, c,
				       cp->prec, cp->sgnd ? "signed" : "unsigned", bs,
				       img->is_signed ? "signed" : "unsigned");
		}
	}
	return RP_OK;
}

int
rp__j2k_decode_openjpeg(const struct rp_image_desc *img, const uint8_t *src,
			size_t src_size, uint8_t *dst, size_t dst_capacity,
			struct rp_pool *pool, struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	size_t bps = rp__sample_bytes(img);
	if (bps == 0)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG 2000: BitsAllocated 1");
	if (dst_capacity < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "JPEG 2000: output buffer too small");
	long off = rp__j2k_codestream_offset(src, src_size);
	if (off < 0)
		return rp__err(err, RP_E_CORRUPT,
			       "JPEG 2000: data starts with neither a codestream (FF4F) nor a "
			       "JP2 signature");

	struct opj_msg msg = { .err = err };
	struct mem_stream m = { .data = (uint8_t *)(uintptr_t)src, .size = src_size };
	opj_codec_t *codec = opj_create_decompress(off == 0 ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
	opj_stream_t *stream = mem_stream_open(&m, true);
	opj_image_t *im = NULL;
	opj_dparameters_t par;
	int rc = RP_E_NOMEM;
	if (!codec || !stream) {
		rp__err(err, rc, "OpenJPEG: cannot create a decoder");
		goto out;
	}
	set_handlers(codec, &msg);
	opj_set_default_decoder_parameters(&par);
	rc = RP_E_CORRUPT;
	if (!opj_setup_decoder(codec, &par)) {
		rc = opj_fail(&msg, RP_E_INTERNAL, "decoder setup failed");
		goto out;
	}
	/* Strict mode: a truncated codestream is an error, not a blurred image. */
	opj_decoder_set_strict_mode(codec, OPJ_TRUE);
	unsigned threads = pool_threads(pool, img);
	if (threads > 1)
		opj_codec_set_threads(codec, (int)threads);
	if (!opj_read_header(stream, codec, &im)) {
		rc = opj_fail(&msg, RP_E_CORRUPT, "cannot read the main header");
		goto out;
	}
	if (im->numcomps != img->components || im->x1 - im->x0 != img->width ||
	    im->y1 - im->y0 != img->height) {
		rc = rp__err(err, RP_E_CORRUPT,
			     "JPEG 2000: codestream is %ux%u with %u components, image is "
			     "%ux%u with %u", im->x1 - im->x0, im->y1 - im->y0, im->numcomps,
			     img->width, img->height, img->components);
		goto out;
	}
	for (unsigned c = 0; c < im->numcomps; c++) {
		if (im->comps[c].dx != 1 || im->comps[c].dy != 1) {
			rc = rp__err(err, RP_E_UNSUPPORTED,
				     "JPEG 2000: component %u is subsampled", c);
			goto out;
		}
		if (im->comps[c].prec > 32 || im->comps[c].prec == 0) {
			rc = rp__err(err, RP_E_CORRUPT, "JPEG 2000: precision %u",
				     im->comps[c].prec);
			goto out;
		}
	}
	if (!opj_decode(codec, stream, im) || !opj_end_decompress(codec, stream)) {
		rc = opj_fail(&msg, RP_E_CORRUPT, "decoding failed");
		goto out;
	}
	for (unsigned c = 0; c < im->numcomps; c++) {
		if (im->comps[c].w != img->width || im->comps[c].h != img->height) {
			rc = rp__err(err, RP_E_CORRUPT, "JPEG 2000: component %u is %ux%u", c,
				     im->comps[c].w, im->comps[c].h);
			goto out;
		}
	}
	rc = copy_out(img, im, dst, err);
out:
	opj_image_destroy(im);
	opj_stream_destroy(stream);
	opj_destroy_codec(codec);
	return rc;
}

static int
j2k_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	   uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	   struct rp_errbuf *err)
{
	return rp__j2k_decode_openjpeg(img, src, src_size, dst, dst_capacity,
				       dp ? dp->pool : NULL, err);
}

/* MCT-coded colour comes out of OpenJPEG as RGB (DICOM PS3.3 C.7.6.3.1.2). */
static enum rp_photometric
j2k_decoded_photometric(enum rp_photometric stored)
{
	if (stored == RP_PHOTOMETRIC_YBR_RCT || stored == RP_PHOTOMETRIC_YBR_ICT)
		return RP_PHOTOMETRIC_RGB;
	return stored;
}

/* ---------------------------------------------------------------------------------- */
/* Encoding */

static int
j2k_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	  struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG 2000: BitsAllocated %u (8 or 16 supported)",
			       img->bits_allocated);
	if (img->is_signed && img->bits_stored < 2)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG 2000: signed 1-bit samples");
	if (p && p->lossy_ratio < 0)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG 2000: negative lossy ratio");
	if (p && p->code_block_w_log2 + p->code_block_h_log2 > 12)
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG 2000: code-block %ux%u is over 4096 "
			       "samples", 1u << p->code_block_w_log2, 1u << p->code_block_h_log2);
	return RP_OK;
}

static size_t
j2k_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	if (j2k_check(img, p, NULL) != RP_OK)
		return 0;
	/* Lossless 5/3 on noise costs a little over the raw bits (bit-plane coding
	 * overhead, packet headers), never 25% more; headers add a few hundred bytes. */
	size_t n = rp_image_frame_size(img), b;
	if (!rp__add_size(n, n / 4, &b) || !rp__add_size(b, 16384, &b))
		return 0;
	return b;
}

static unsigned
resolutions_for(uint32_t w, uint32_t h, unsigned levels)
{
	/* By default five decomposition levels (six resolutions) as GDCM and DCMTK write;
	 * fewer when the image is too small for the lowest resolution to keep a pixel. */
	uint32_t m = w < h ? w : h;
	unsigned want = levels ? levels + 1 : 6, r = 1;
	while (r < want && (m >> r) > 0)
		r++;
	return r;
}

/* The reversible colour transform: RGB, lossless, when the caller can label the result
 * YBR_RCT (rp__encode_params.colour_transform). */
static bool
j2k_uses_rct(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	return p && p->colour_transform && !(p->lossy_ratio > 0) && img->components == 3 &&
	       img->photometric == RP_PHOTOMETRIC_RGB;
}

static enum rp_photometric
j2k_encoded_photometric(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	return j2k_uses_rct(img, p) ? RP_PHOTOMETRIC_YBR_RCT : (enum rp_photometric)img->photometric;
}

static int
j2k_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	   const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	   size_t *dst_size, struct rp_errbuf *err)
{
	RP_TRY(j2k_check(img, p, err));
	if (src_size != rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "JPEG 2000: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG 2000: samples carry bits above BitsStored %u",
			       img->bits_stored);

	const unsigned nc = img->components;
	opj_image_cmptparm_t cmpt[3];
	memset(cmpt, 0, sizeof(cmpt));
	for (unsigned c = 0; c < nc; c++) {
		cmpt[c].dx = cmpt[c].dy = 1;
		cmpt[c].w = img->width;
		cmpt[c].h = img->height;
		cmpt[c].prec = img->bits_stored;
		cmpt[c].sgnd = img->is_signed;
	}
	struct opj_msg msg = { .err = err };
	struct mem_stream m = { .data = dst, .cap = dst_capacity };
	opj_image_t *im = opj_image_create(nc, cmpt, nc == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
	opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
	opj_stream_t *stream = mem_stream_open(&m, false);
	int rc = RP_E_NOMEM;
	if (!im || !codec || !stream) {
		rp__err(err, rc, "OpenJPEG: cannot create an encoder");
		goto out;
	}
	set_handlers(codec, &msg);
	im->x0 = im->y0 = 0;
	im->x1 = img->width;
	im->y1 = img->height;
	size_t bps = rp__sample_bytes(img), n = (size_t)img->width * img->height;
	for (unsigned c = 0; c < nc; c++) {
		OPJ_INT32 *d = im->comps[c].data;
		const uint8_t *s = src + c * bps;
		size_t stride = bps * nc;
		if (bps == 1) {
			for (size_t k = 0; k < n; k++)
				d[k] = img->is_signed ? (int8_t)s[k * stride] : s[k * stride];
		} else {
			for (size_t k = 0; k < n; k++) {
				uint16_t v = rp__load_le16(s + k * stride);
				d[k] = img->is_signed ? (int16_t)v : v;
			}
		}
	}

	opj_cparameters_t par;
	opj_set_default_encoder_parameters(&par);
	par.tcp_numlayers = 1;
	par.cp_disto_alloc = 1;
	par.numresolution = (int)resolutions_for(img->width, img->height,
						 p ? p->wavelet_levels : 0);
	if (p && p->code_block_w_log2) {
		par.cblockw_init = 1 << p->code_block_w_log2;
		par.cblockh_init = 1 << p->code_block_h_log2;
	}
	/* RCT only when lossless and asked for: the dataset is then labelled YBR_RCT. */
	par.tcp_mct = j2k_uses_rct(img, p) ? 1 : 0;
	par.prog_order = OPJ_LRCP;
	bool lossy = p && p->lossy_ratio > 0;
	if (lossy) {
		par.irreversible = 1;
		par.tcp_rates[0] = (float)p->lossy_ratio;
	} else {
		par.irreversible = 0;
		par.tcp_rates[0] = 0;        /* 0 = all bit-planes: lossless */
	}
	rc = RP_E_INTERNAL;
	if (!opj_setup_encoder(codec, &par, im)) {
		rc = opj_fail(&msg, RP_E_INTERNAL, "encoder setup failed");
		goto out;
	}
	unsigned threads = p ? pool_threads(p->pool, img) : 0;
	if (threads > 1)
		opj_codec_set_threads(codec, (int)threads);
	if (!opj_start_compress(codec, im, stream) || !opj_encode(codec, stream) ||
	    !opj_end_compress(codec, stream)) {
		if (m.overflow)
			rc = rp__err(err, RP_E_LIMIT,
				     "JPEG 2000: output exceeds the %zu-byte buffer",
				     dst_capacity);
		else
			rc = opj_fail(&msg, RP_E_INTERNAL, "encoding failed");
		goto out;
	}
	*dst_size = m.size;
	rc = RP_OK;
out:
	opj_stream_destroy(stream);
	opj_destroy_codec(codec);
	opj_image_destroy(im);
	return rc;
}

const struct rp__codec_ops rp__codec_j2k = {
	.id = RP_CODEC_J2K,
	.ts_lossless = J2K_TS_LOSSLESS,
	.ts_lossy = J2K_TS_LOSSY,
	.check = j2k_check,
	.bound = j2k_bound,
	.encode = j2k_encode,
	.decode = j2k_decode,
	.decoded_photometric = j2k_decoded_photometric,
	.encoded_photometric = j2k_encoded_photometric,
};
