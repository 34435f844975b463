/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/frame.c - canonical frames: sizes, checks, comparison, and the conversions
 * between DICOM pixel values and the unsigned BitsStored-bit patterns that codecs without
 * a notion of sign (JPEG-LS, JPEG lossless) code. */
#include "codec/codec_impl.h"
#include "simd/kernels.h"

int
rp_image_desc_check(const struct rp_image_desc *img, struct rp_errbuf *err)
{
	if (!img)
		return RP_E_INVALID_ARG;
	if (img->width == 0 || img->height == 0)
		return rp__err(err, RP_E_INVALID_ARG, "image has zero size (%ux%u)", img->width,
			       img->height);
	if (img->components != 1 && img->components != 3)
		return rp__err(err, RP_E_INVALID_ARG, "SamplesPerPixel %u is not 1 or 3",
			       img->components);
	if (img->bits_allocated != 1 && img->bits_allocated != 8 && img->bits_allocated != 16 &&
	    img->bits_allocated != 32)
		return rp__err(err, RP_E_INVALID_ARG, "BitsAllocated %u is not 1, 8, 16 or 32",
			       img->bits_allocated);
	if (img->bits_stored == 0 || img->bits_stored > img->bits_allocated)
		return rp__err(err, RP_E_INVALID_ARG, "BitsStored %u is not in 1..%u",
			       img->bits_stored, img->bits_allocated);
	if (rp_image_frame_size(img) == 0)
		return rp__err(err, RP_E_INVALID_ARG, "frame size %ux%ux%u overflows",
			       img->width, img->height, img->components);
	return RP_OK;
}

size_t
rp_image_frame_size(const struct rp_image_desc *img)
{
	size_t n;
	if (!img || !rp__mul_size(img->width, img->height, &n) ||
	    !rp__mul_size(n, img->components, &n) || n == 0)
		return 0;
	if (img->bits_allocated == 1)
		return n / 8 + (n % 8 != 0);
	size_t bps = rp__sample_bytes(img);
	if (bps == 0 || !rp__mul_size(n, bps, &n))
		return 0;
	return n;
}

static int64_t
load_sample(const uint8_t *p, size_t bps, bool is_signed)
{
	switch (bps) {
	case 1:
		return is_signed ? (int64_t)(int8_t)p[0] : (int64_t)p[0];
	case 2:
		return is_signed ? (int64_t)(int16_t)rp__load_le16(p) : (int64_t)rp__load_le16(p);
	default:
		return is_signed ? (int64_t)(int32_t)rp__load_le32(p) : (int64_t)rp__load_le32(p);
	}
}

int
rp_frame_compare(const struct rp_image_desc *img, const void *a, const void *b, size_t size,
		 uint64_t *max_abs_error)
{
	if (!img || !a || !b || !max_abs_error || size != rp_image_frame_size(img))
		return RP_E_INVALID_ARG;
	*max_abs_error = 0;
	size_t bps = rp__sample_bytes(img);
	if (bps == 0) {              /* packed bits: any difference is an error of 1 */
		*max_abs_error = memcmp(a, b, size) != 0;
		return RP_OK;
	}
	if (memcmp(a, b, size) == 0)
		return RP_OK;
	const uint8_t *pa = a, *pb = b;
	uint64_t worst = 0;
	for (size_t i = 0; i < size; i += bps) {
		int64_t d = load_sample(pa + i, bps, img->is_signed) -
			    load_sample(pb + i, bps, img->is_signed);
		uint64_t ad = d < 0 ? (uint64_t)-d : (uint64_t)d;
		if (ad > worst)
			worst = ad;
	}
	*max_abs_error = worst;
	return RP_OK;
}

/* The value DICOM means by a stored sample: its low bits_stored bits, extended. */
static inline uint32_t
normalize(uint32_t v, unsigned bits_stored, unsigned container_bits, bool is_signed)
{
	if (bits_stored >= container_bits)
		return v;
	uint32_t mask = (1u << bits_stored) - 1;
	uint32_t low = v & mask;
	if (is_signed && (low >> (bits_stored - 1)))
		low |= ~mask;
	if (container_bits < 32)
		low &= (1u << container_bits) - 1;
	return low;
}

int
rp__frame_high_bits_clean(const struct rp_image_desc *img, const uint8_t *frame, size_t size)
{
	size_t bps = rp__sample_bytes(img);
	unsigned cbits = (unsigned)bps * 8;
	if (bps == 0 || img->bits_stored >= cbits)
		return 1;
	/* 16-bit samples (nearly all CT/MR): the same rule in the SIMD table, ~40x faster
	 * (bench_micro BM_high_bits_clean_*).  These helpers get no encoder options, so the
	 * table is the best one the CPU runs. */
	if (bps == 2)
		return rp__kernels_high_bits_clean16(rp__kernels_best(), frame, size / 2,
						     img->bits_stored, img->is_signed);
	for (size_t i = 0; i + bps <= size; i += bps) {
		uint32_t v = bps == 1 ? frame[i] : bps == 2 ? rp__load_le16(frame + i) :
							     rp__load_le32(frame + i);
		if ((v >> img->bits_stored) != 0 &&
		    normalize(v, img->bits_stored, cbits, img->is_signed) != v)
			return 0;
	}
	return 1;
}

static void
store_sample(uint8_t *p, size_t bps, uint32_t v)
{
	if (bps == 1)
		p[0] = (uint8_t)v;
	else if (bps == 2)
		rp__store_le16(p, (uint16_t)v);
	else
		rp__store_le32(p, v);
}

void
rp__frame_to_unsigned_bits(const struct rp_image_desc *img, uint8_t *frame, size_t size)
{
	size_t bps = rp__sample_bytes(img);
	unsigned cbits = (unsigned)bps * 8;
	if (bps == 0 || img->bits_stored >= cbits)
		return;
	if (bps == 2) {
		rp__kernels_best()->mask16(frame, frame, size / 2, img->bits_stored);
		return;
	}
	uint32_t mask = (1u << img->bits_stored) - 1;
	for (size_t i = 0; i + bps <= size; i += bps) {
		uint32_t v = bps == 1 ? frame[i] : bps == 2 ? rp__load_le16(frame + i) :
							     rp__load_le32(frame + i);
		store_sample(frame + i, bps, v & mask);
	}
}

void
rp__frame_from_unsigned_bits(const struct rp_image_desc *img, uint8_t *frame, size_t size)
{
	size_t bps = rp__sample_bytes(img);
	unsigned cbits = (unsigned)bps * 8;
	if (bps == 0 || img->bits_stored >= cbits)
		return;
	if (bps == 2) {
		const struct rp__kernels *k = rp__kernels_best();
		if (img->is_signed)
			k->sext16(frame, frame, size / 2, img->bits_stored);
		else
			k->mask16(frame, frame, size / 2, img->bits_stored);
		return;
	}
	for (size_t i = 0; i + bps <= size; i += bps) {
		uint32_t v = bps == 1 ? frame[i] : bps == 2 ? rp__load_le16(frame + i) :
							     rp__load_le32(frame + i);
		store_sample(frame + i, bps, normalize(v, img->bits_stored, cbits, img->is_signed));
	}
}
