/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/frames.c - access to the frames of a parsed dataset: which fragments form
 * which frame of encapsulated pixel data (PS3.5 A.4), native frames in canonical form,
 * decoding through the codec table, the high-bit scan and the pixel hash. */
#include "codec/codec_impl.h"
#include "dicom/dicom_impl.h"
#include "simd/kernels.h"

#include <stdio.h>

static uint32_t
load32(const uint8_t *p, bool be)
{
	return be ? rp__load_be32(p) : rp__load_le32(p);
}

/* Whether a fragment begins a codestream: JPEG/JPEG-LS SOI (FFD8) or J2K SOC+SIZ
 * (FF4F FF51).  Used only when no offset table says where frames start. */
static bool
starts_codestream(const uint8_t *p, size_t n)
{
	return (n >= 2 && p[0] == 0xFF && p[1] == 0xD8) ||
	       (n >= 4 && p[0] == 0xFF && p[1] == 0x4F && p[2] == 0xFF && p[3] == 0x51);
}

/* Maps byte offsets (relative to the first fragment's item tag) onto fragment indices. */
static int
frames_from_offsets(struct rp_dicom *ds, const uint64_t *offsets, uint32_t frames)
{
	size_t base = ds->frag_count ? ds->frags[0].item : 0;
	size_t f = 0;
	for (uint32_t i = 0; i < frames; i++) {
		if (i && offsets[i] <= offsets[i - 1])
			return RP_E_CORRUPT;
		while (f < ds->frag_count && ds->frags[f].item - base < offsets[i])
			f++;
		if (f == ds->frag_count || ds->frags[f].item - base != offsets[i])
			return RP_E_CORRUPT;
		ds->frame_first[i] = (uint32_t)f;
	}
	for (uint32_t i = 0; i < frames; i++) {
		uint32_t next = i + 1 < frames ? ds->frame_first[i + 1] : (uint32_t)ds->frag_count;
		ds->frame_frags[i] = next - ds->frame_first[i];
	}
	return RP_OK;
}

int
rp__dicom_index_fragments(struct rp_dicom *ds, struct rp_errbuf *err)
{
	const struct rp__elem *px = &ds->elems[ds->pixel_elem];
	bool be = px->enc.big_endian;
	size_t pos = px->value, end = px->value + px->length, cap = 0;
	uint32_t frames = ds->info.frames;

	/* walk_items in the parser already checked every item fits; here we record them. */
	bool first = true;
	size_t dropped = pos;
	while (pos < end) {
		rp__dicom_drop_behind(ds, ds->buf, &dropped, pos);
		uint32_t len = load32(ds->buf + pos + 4, be);
		struct rp__fragment fr = { .item = pos, .data = pos + 8, .length = len };
		pos += 8 + (size_t)len;
		if (first) {
			ds->bot = fr;
			first = false;
			continue;
		}
		if (ds->frag_count == cap) {
			cap = cap ? cap * 2 : 16;
			struct rp__fragment *n = realloc(ds->frags, cap * sizeof(*n));
			if (!n)
				return RP_E_NOMEM;
			ds->frags = n;
		}
		ds->frags[ds->frag_count++] = fr;
	}
	if (first)
		return rp__err(err, RP_E_CORRUPT,
			       "encapsulated pixel data at offset %zu has no offset table item",
			       px->start);
	if (ds->frag_count == 0)
		return rp__err(err, RP_E_CORRUPT,
			       "encapsulated pixel data at offset %zu has no fragments", px->start);

	ds->frame_first = calloc(frames, sizeof(uint32_t));
	ds->frame_frags = calloc(frames, sizeof(uint32_t));
	uint64_t *offsets = calloc(frames, sizeof(uint64_t));
	if (!ds->frame_first || !ds->frame_frags || !offsets) {
		free(offsets);
		return RP_E_NOMEM;
	}
	int st = RP_E_CORRUPT;

	/* 1. Extended Offset Table (7FE0,0001), 64-bit offsets (PS3.5 A.4.2). */
	const struct rp__elem *eot = NULL;
	for (size_t i = 0; i < ds->elem_count; i++)
		if (ds->elems[i].tag == RP__TAG_EOT)
			eot = &ds->elems[i];
	if (eot && eot->length == (size_t)frames * 8) {
		for (uint32_t i = 0; i < frames; i++)
			offsets[i] = be ? ((uint64_t)rp__load_be32(ds->buf + eot->value + 8 * i) << 32) |
						  rp__load_be32(ds->buf + eot->value + 8 * i + 4) :
					  rp__load_le64(ds->buf + eot->value + 8 * i);
		st = frames_from_offsets(ds, offsets, frames);
	}
	/* 2. Basic Offset Table, 32-bit offsets. */
	if (st != RP_OK && ds->bot.length == (size_t)frames * 4) {
		for (uint32_t i = 0; i < frames; i++)
			offsets[i] = load32(ds->buf + ds->bot.data + 4 * i, be);
		st = frames_from_offsets(ds, offsets, frames);
	}
	/* 3. One frame: every fragment belongs to it.  4. As many fragments as frames. */
	if (st != RP_OK && (frames == 1 || ds->frag_count == frames)) {
		for (uint32_t i = 0; i < frames; i++) {
			ds->frame_first[i] = frames == 1 ? 0 : i;
			ds->frame_frags[i] = frames == 1 ? (uint32_t)ds->frag_count : 1;
		}
		st = RP_OK;
	}
	/* 5. No usable table: a frame starts at each fragment that starts a codestream. */
	if (st != RP_OK) {
		uint32_t n = 0;
		for (size_t f = 0; f < ds->frag_count; f++) {
			const struct rp__fragment *fr = &ds->frags[f];
			if (f == 0 || starts_codestream(ds->buf + fr->data, fr->length)) {
				if (n == frames) {
					n++;
					break;
				}
				ds->frame_first[n++] = (uint32_t)f;
			}
		}
		if (n == frames) {
			for (uint32_t i = 0; i < frames; i++) {
				uint32_t next = i + 1 < frames ? ds->frame_first[i + 1] :
								 (uint32_t)ds->frag_count;
				ds->frame_frags[i] = next - ds->frame_first[i];
			}
			st = RP_OK;
		}
	}
	free(offsets);
	if (st != RP_OK)
		return rp__err(err, RP_E_CORRUPT,
			       "cannot tell which of %zu fragments form each of %u frames "
			       "(no usable offset table)", ds->frag_count, frames);
	return RP_OK;
}

int
rp_dicom_encoded_frame(const struct rp_dicom *ds, uint32_t index, const uint8_t **data,
		       size_t *size, uint8_t **owned, struct rp_errbuf *err)
{
	if (!ds || !data || !size || !owned)
		return RP_E_INVALID_ARG;
	*owned = NULL;
	if (!ds->info.has_pixels || !ds->info.encapsulated)
		return rp__err(err, RP_E_INVALID_ARG, "pixel data is not encapsulated");
	if (index >= ds->info.frames)
		return rp__err(err, RP_E_INVALID_ARG, "frame %u of %u", index, ds->info.frames);
	uint32_t first = ds->frame_first[index], n = ds->frame_frags[index];
	if (n == 1) {
		*data = ds->buf + ds->frags[first].data;
		*size = ds->frags[first].length;
		return RP_OK;
	}
	size_t total = 0;
	for (uint32_t f = first; f < first + n; f++)
		total += ds->frags[f].length;   /* bounded by the file size: no overflow */
	uint8_t *joined = malloc(total ? total : 1);
	if (!joined)
		return RP_E_NOMEM;
	size_t at = 0;
	for (uint32_t f = first; f < first + n; f++) {
		memcpy(joined + at, ds->buf + ds->frags[f].data, ds->frags[f].length);
		at += ds->frags[f].length;
	}
	*data = joined;
	*size = total;
	*owned = joined;
	return RP_OK;
}

int
rp_dicom_frame_span(const struct rp_dicom *ds, uint32_t index, uint64_t *offset,
		    uint64_t *length)
{
	if (!ds || !offset || !length || !ds->info.has_pixels || index >= ds->info.frames)
		return RP_E_INVALID_ARG;
	const struct rp_dicom_info *info = &ds->info;
	if (ds->buf != ds->file || (!info->encapsulated && info->img.bits_allocated == 1))
		return RP_E_UNSUPPORTED;
	if (!info->encapsulated) {
		*length = rp_image_frame_size(&info->img);
		*offset = info->pixel_value_offset + (uint64_t)index * *length;
		return RP_OK;
	}
	*offset = *length = 0;
	if (ds->frame_frags[index] == 0)
		return RP_OK;        /* one frame and no fragment at all: an empty frame */
	const struct rp__fragment *first = &ds->frags[ds->frame_first[index]];
	const struct rp__fragment *last = first + ds->frame_frags[index] - 1;
	*offset = first->data;
	*length = last->data + last->length - first->data;
	return RP_OK;
}

/* Native frame -> canonical: byte order, planar layout, and (for 1-bit data) the bit
 * offset of frames that do not start on a byte boundary. */
static int
native_to_canonical(const struct rp_dicom *ds, uint32_t index, uint8_t *dst)
{
	const struct rp_dicom_info *info = &ds->info;
	const struct rp__elem *px = &ds->elems[ds->pixel_elem];
	const struct rp_image_desc *img = &info->img;
	size_t frame = rp_image_frame_size(img);
	const uint8_t *src;

	if (img->bits_allocated == 1) {
		size_t bits = (size_t)img->width * img->height * img->components;
		size_t first = bits * index;
		memset(dst, 0, frame);
		for (size_t b = 0; b < bits; b++) {
			size_t s = first + b;
			if ((ds->buf[px->value + s / 8] >> (s % 8)) & 1)
				dst[b / 8] |= (uint8_t)(1u << (b % 8));
		}
		return RP_OK;
	}
	src = ds->buf + px->value + frame * index;
	size_t bps = rp__sample_bytes(img);
	size_t pixels = (size_t)img->width * img->height;
	/* Byte order first, on the stored layout: OW is a stream of 16-bit words, so in big
	 * endian even 8-bit samples come swapped in pairs (PS3.5 8.1.1), pairs that a planar
	 * layout would split. */
	uint8_t *swapped = NULL;
	unsigned unit = (bps == 1 && px->vr == VR(OW)) ? 2 : (unsigned)bps;
	if (ds->enc.big_endian && unit > 1) {
		uint8_t *t = info->planar ? malloc(frame) : dst;
		if (!t)
			return RP_E_NOMEM;
		if (unit == 2 && bps == 1) {
			/* Byte j of the 8-bit sample stream is stored at j ^ 1, also across frame
			 * boundaries and into the pad byte of an odd-length value. */
			const uint8_t *value = ds->buf + px->value;
			size_t start = frame * index;
			for (size_t j = 0; j < frame; j++) {
				size_t at = (start + j) ^ 1;
				t[j] = at < px->length ? value[at] : 0;
			}
		} else if (unit == 2) {
			rp__kernels_best()->bswap16(t, src, frame / 2);
		} else {
			for (size_t i = 0; i + unit <= frame; i += unit)
				for (unsigned b = 0; b < unit; b++)
					t[i + b] = src[i + unit - 1 - b];
		}
		if (!info->planar)
			return RP_OK;
		src = swapped = t;
	}
	if (info->planar && bps == 1) {
		rp__kernels_best()->interleave3_u8(dst, src, pixels);
	} else if (info->planar) {
		for (size_t c = 0; c < 3; c++)
			for (size_t i = 0; i < pixels; i++)
				memcpy(dst + (i * 3 + c) * bps, src + (c * pixels + i) * bps, bps);
	} else {
		memcpy(dst, src, frame);
	}
	free(swapped);
	return RP_OK;
}

int
rp_dicom_decode_frame(const struct rp_dicom *ds, uint32_t index, void *dst,
		      size_t dst_capacity, struct rp_errbuf *err)
{
	if (!ds || !dst)
		return RP_E_INVALID_ARG;
	const struct rp_dicom_info *info = &ds->info;
	if (!info->has_pixels)
		return rp__err(err, RP_E_INVALID_ARG, "no pixel data");
	if (index >= info->frames)
		return rp__err(err, RP_E_INVALID_ARG, "frame %u of %u", index, info->frames);
	size_t frame = rp_image_frame_size(&info->img);
	if (dst_capacity < frame)
		return rp__err(err, RP_E_LIMIT, "frame needs %zu bytes", frame);

	if (!info->encapsulated) {
		RP_TRY(native_to_canonical(ds, index, dst));
		rp__frame_from_unsigned_bits(&info->img, dst, frame);
		return RP_OK;
	}
	const struct rp__codec_ops *ops = rp__codec_ops((enum rp_codec)info->ts->codec);
	if (!ops || !ops->decode)
		return rp__err(err, RP_E_UNSUPPORTED, "no decoder for %s (%s) in this build",
			       info->ts->name, info->ts->uid);
	const uint8_t *data;
	size_t size;
	uint8_t *owned;
	RP_TRY(rp_dicom_encoded_frame(ds, index, &data, &size, &owned, err));
	int st = ops->decode(&info->img, data, size, dst, dst_capacity, NULL, err);
	if (st == RP_E_UNSUPPORTED && info->ts->codec == RP_CODEC_HTJ2K) {
		/* Our HTJ2K decoder covers the lossless profile; OpenJPH (and OpenJPEG behind
		 * it) takes the irreversible streams of .203. */
		const struct rp__codec_ops *second = rp__codec_ops(RP_CODEC_HTJ2K_OJPH);
		if (second && second->decode)
			st = second->decode(&info->img, data, size, dst, dst_capacity, NULL, err);
	}
	free(owned);
	if (st < 0 && err) {
		char inner[RP_ERRBUF_SIZE];
		memcpy(inner, err->msg, sizeof(inner));
		snprintf(err->msg, sizeof(err->msg), "frame %u: %.200s", index, inner);
	}
	return st;
}

const char *
rp_dicom_decoded_photometric(const struct rp_dicom *ds)
{
	if (!ds || !ds->info.has_pixels)
		return NULL;
	enum rp_photometric p = (enum rp_photometric)ds->info.img.photometric;
	if (ds->info.encapsulated) {
		const struct rp__codec_ops *ops = rp__codec_ops((enum rp_codec)ds->info.ts->codec);
		if (ops && ops->decoded_photometric)
			p = ops->decoded_photometric(p);
	}
	const char *name = rp_photometric_name(p);
	return name ? name : ds->info.photometric;
}

int
rp_dicom_scan_high_bits(struct rp_dicom *ds, int *dirty_ret, struct rp_errbuf *err)
{
	if (!ds || !dirty_ret)
		return RP_E_INVALID_ARG;
	*dirty_ret = 0;
	const struct rp_dicom_info *info = &ds->info;
	if (!info->has_pixels || info->encapsulated)
		return RP_OK;
	size_t frame = rp_image_frame_size(&info->img);
	uint8_t *buf = malloc(frame);
	if (!buf)
		return RP_E_NOMEM;
	for (uint32_t i = 0; i < info->frames && !*dirty_ret; i++) {
		if (native_to_canonical(ds, i, buf) != RP_OK) {
			free(buf);
			return RP_E_NOMEM;
		}
		*dirty_ret = !rp__frame_high_bits_clean(&info->img, buf, frame);
	}
	free(buf);
	ds->info.high_bits_dirty = (uint8_t)*dirty_ret;
	(void)err;
	return RP_OK;
}

int
rp_dicom_pixel_hash(const struct rp_dicom *ds, uint8_t hash[32], struct rp_errbuf *err)
{
	if (!ds || !hash)
		return RP_E_INVALID_ARG;
	if (!ds->info.has_pixels)
		return rp__err(err, RP_E_INVALID_ARG, "no pixel data");
	size_t frame = rp_image_frame_size(&ds->info.img);
	uint8_t *buf = malloc(frame);
	struct rp__sha256 *sha = NULL;
	int st = buf ? rp__sha256_create(&sha) : RP_E_NOMEM;
	for (uint32_t i = 0; st == RP_OK && i < ds->info.frames; i++) {
		st = rp_dicom_decode_frame(ds, i, buf, frame, err);
		if (st == RP_OK)
			rp__sha256_update(sha, buf, frame);
	}
	if (st == RP_OK)
		rp__sha256_final(sha, hash);
	rp__sha256_destroy(sha);
	free(buf);
	return st;
}
