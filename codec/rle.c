/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/rle.c - RLE Lossless (1.2.840.10008.1.2.5), DICOM PS3.5 Annex G, encoder and
 * decoder written here: no C library implements this DICOM-specific PackBits variant.
 *
 * A frame is a 64-byte header (segment count, then 15 little-endian segment offsets from
 * the start of the frame) followed by byte segments.  G.2: each sample of a pixel is split
 * into its bytes, and the segments come sample by sample, most significant byte first
 * (16-bit RGB: R.hi, R.lo, G.hi, G.lo, B.hi, B.lo).  G.3.1: each row is coded on its own
 * (no run crosses a row) and each segment is padded to an even length.
 *
 * RLE codes whole BitsAllocated containers, so the encoder writes the canonical (sign- or
 * zero-extended) container as it is, which is what every other decoder expects; the
 * decoder re-normalises the low BitsStored bits afterwards, because real files carry
 * anything above them (overlay bits, unextended negatives). */
#include "codec/codec_impl.h"

#define RLE_HEADER_SIZE 64
#define RLE_MAX_SEGMENTS 15

static int
rle_layout(const struct rp_image_desc *img, size_t *bytes_per_sample, size_t *segments,
	   size_t *pixels, struct rp_errbuf *err)
{
	size_t bps = rp__sample_bytes(img);
	if (bps == 0)
		return rp__err(err, RP_E_UNSUPPORTED, "RLE: BitsAllocated %u is not 8, 16 or 32",
			       img->bits_allocated);
	if (img->components != 1 && img->components != 3)
		return rp__err(err, RP_E_UNSUPPORTED, "RLE: SamplesPerPixel %u is not 1 or 3",
			       img->components);
	size_t n;
	if (img->width == 0 || img->height == 0 || !rp__mul_size(img->width, img->height, &n))
		return rp__err(err, RP_E_INVALID_ARG, "RLE: bad image size %ux%u", img->width,
			       img->height);
	*bytes_per_sample = bps;
	*segments = bps * img->components;  /* at most 4 * 3 = 12 <= 15 */
	*pixels = n;
	return RP_OK;
}

static int
rle_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	  struct rp_errbuf *err)
{
	size_t bps, segs, n;
	(void)p;
	RP_TRY(rp_image_desc_check(img, err));
	return rle_layout(img, &bps, &segs, &n, err);
}

/* Worst case of one segment: every row all literals, one header byte per 128 bytes, plus
 * the even-length pad. */
static size_t
segment_bound(uint32_t width, uint32_t height)
{
	size_t row = (size_t)width + ((size_t)width + 127) / 128, total;
	if (!rp__mul_size(row, height, &total) || !rp__add_size(total, 1, &total))
		return 0;
	return total;
}

static size_t
rle_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	size_t bps = 0, segs = 0, n = 0, seg, total;
	(void)p;
	if (rp_image_desc_check(img, NULL) != RP_OK || rle_layout(img, &bps, &segs, &n, NULL))
		return 0;
	seg = segment_bound(img->width, img->height);
	if (seg == 0 || !rp__mul_size(seg, segs, &total) ||
	    !rp__add_size(total, RLE_HEADER_SIZE, &total))
		return 0;
	return total;
}

/* PackBits one row of `count` bytes taken every `stride` bytes from src.  Runs of 3 or
 * more equal bytes become replicate runs (a run of 2 inside literals costs the same as
 * the literals and breaks them up for nothing).  Returns bytes written, or 0 when dst is
 * too small (a non-empty row always writes at least 2 bytes). */
static size_t
pack_row(const uint8_t *src, size_t stride, size_t count, uint8_t *dst, size_t cap)
{
	size_t o = 0, i = 0;
	while (i < count) {
		uint8_t v = src[i * stride];
		size_t run = 1;
		while (i + run < count && run < 128 && src[(i + run) * stride] == v)
			run++;
		if (run >= 3) {
			if (o + 2 > cap)
				return 0;
			dst[o++] = (uint8_t)(257 - run);        /* -(run - 1) as a byte */
			dst[o++] = v;
			i += run;
			continue;
		}
		/* Literal: extend until a run of 3 starts or 128 bytes are gathered. */
		size_t start = i, len = 0;
		while (i < count && len < 128) {
			if (i + 2 < count && src[i * stride] == src[(i + 1) * stride] &&
			    src[i * stride] == src[(i + 2) * stride])
				break;
			i++;
			len++;
		}
		if (o + 1 + len > cap)
			return 0;
		dst[o++] = (uint8_t)(len - 1);
		for (size_t k = 0; k < len; k++)
			dst[o++] = src[(start + k) * stride];
	}
	return o;
}

static int
rle_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	   const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	   size_t *dst_size, struct rp_errbuf *err)
{
	size_t bps, segs, n;
	(void)p;
	RP_TRY(rle_check(img, p, err));
	RP_TRY(rle_layout(img, &bps, &segs, &n, err));
	if (src_size != rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "RLE: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	if (dst_capacity < RLE_HEADER_SIZE)
		return rp__err(err, RP_E_LIMIT, "RLE: output buffer too small");
	memset(dst, 0, RLE_HEADER_SIZE);
	rp__store_le32(dst, (uint32_t)segs);
	size_t o = RLE_HEADER_SIZE;
	size_t pixel_stride = bps * img->components;
	size_t row_stride = pixel_stride * img->width;
	for (size_t c = 0; c < img->components; c++) {
		for (size_t b = 0; b < bps; b++) {
			size_t seg = c * bps + b;
			/* Canonical frames are little-endian: the most significant byte of
			 * the sample comes first (G.2), at offset bps - 1 - b. */
			const uint8_t *base = src + c * bps + (bps - 1 - b);
			if (o > UINT32_MAX)
				return rp__err(err, RP_E_LIMIT,
					       "RLE: segment offset exceeds 32 bits");
			rp__store_le32(dst + 4 + 4 * seg, (uint32_t)o);
			for (size_t y = 0; y < img->height; y++) {
				size_t w = pack_row(base + y * row_stride, pixel_stride,
						    img->width, dst + o, dst_capacity - o);
				if (w == 0)
					return rp__err(err, RP_E_LIMIT,
						       "RLE: output buffer too small");
				o += w;
			}
			if (o & 1) {
				if (o >= dst_capacity)
					return rp__err(err, RP_E_LIMIT,
						       "RLE: output buffer too small");
				dst[o++] = 0;   /* G.3.1: pad each segment to even length */
			}
		}
	}
	*dst_size = o;
	return RP_OK;
}

/* Unpacks one segment [p, end) into `count` bytes written every `stride` bytes of out.
 * Runs that overshoot the segment's pixel count are clipped (some encoders emit a
 * final run past the end); a segment that ends early is corrupt. */
static int
unpack_segment(const uint8_t *p, const uint8_t *end, uint8_t *out, size_t stride,
	       size_t count, size_t seg, struct rp_errbuf *err)
{
	size_t i = 0;
	while (i < count) {
		if (p >= end)
			return rp__err(err, RP_E_CORRUPT,
				       "RLE: segment %zu ends after %zu of %zu bytes", seg, i,
				       count);
		int8_t h = (int8_t)*p++;
		if (h >= 0) {
			size_t len = (size_t)h + 1;
			if ((size_t)(end - p) < len)
				return rp__err(err, RP_E_CORRUPT,
					       "RLE: literal run overruns segment %zu", seg);
			if (len > count - i)
				len = count - i;
			for (size_t k = 0; k < len; k++)
				out[(i + k) * stride] = p[k];
			p += (size_t)h + 1;
			i += len;
		} else if (h != -128) {
			if (p >= end)
				return rp__err(err, RP_E_CORRUPT,
					       "RLE: replicate run overruns segment %zu", seg);
			size_t len = (size_t)(1 - h);
			uint8_t v = *p++;
			if (len > count - i)
				len = count - i;
			for (size_t k = 0; k < len; k++)
				out[(i + k) * stride] = v;
			i += len;
		}
	}
	return RP_OK;
}

static int
rle_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	   uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	   struct rp_errbuf *err)
{
	size_t bps, segs, n;
	(void)dp;
	RP_TRY(rp_image_desc_check(img, err));
	RP_TRY(rle_layout(img, &bps, &segs, &n, err));
	size_t frame = rp_image_frame_size(img);
	if (dst_capacity < frame)
		return rp__err(err, RP_E_INVALID_ARG, "RLE: output buffer too small");
	if (src_size < RLE_HEADER_SIZE)
		return rp__err(err, RP_E_CORRUPT, "RLE: frame of %zu bytes has no 64-byte header",
			       src_size);
	uint32_t nseg = rp__load_le32(src);
	if (nseg != segs)
		return rp__err(err, RP_E_CORRUPT,
			       "RLE: header has %u segments, image needs %zu (%u samples of %u "
			       "bits)", nseg, segs, img->components, img->bits_allocated);
	size_t pixel_stride = bps * img->components;
	for (size_t s = 0; s < segs; s++) {
		size_t off = rp__load_le32(src + 4 + 4 * s);
		size_t next = s + 1 < segs ? rp__load_le32(src + 8 + 4 * s) : src_size;
		/* Offsets must increase and stay inside the frame; a following offset past
		 * the end is tolerated as "to the end" for the last usable segment only
		 * through the size check below. */
		if (off < RLE_HEADER_SIZE || off > src_size)
			return rp__err(err, RP_E_CORRUPT,
				       "RLE: segment %zu offset %zu outside the %zu-byte frame", s,
				       off, src_size);
		if (next > src_size)
			next = src_size;
		if (next < off)
			return rp__err(err, RP_E_CORRUPT,
				       "RLE: segment %zu offset %zu precedes segment %zu (%zu)",
				       s + 1, next, s, off);
		size_t c = s / bps, b = s % bps;
		uint8_t *out = dst + c * bps + (bps - 1 - b);
		RP_TRY(unpack_segment(src + off, src + next, out, pixel_stride, n, s, err));
	}
	rp__frame_from_unsigned_bits(img, dst, frame);
	return RP_OK;
}

const struct rp__codec_ops rp__codec_rle = {
	.id = RP_CODEC_RLE,
	.ts_lossless = "1.2.840.10008.1.2.5",
	.ts_lossy = NULL,
	.check = rle_check,
	.bound = rle_bound,
	.encode = rle_encode,
	.decode = rle_decode,
	.decoded_photometric = NULL,
};
