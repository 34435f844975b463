/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/parse.c - DICOM Part 10 reader (PS3.10 7, PS3.5 7).
 *
 * Pure code over the caller's buffer: every read goes through an explicit bound, every
 * length is checked against what is left before it is added to an offset, and nesting is
 * capped, so hostile files end in RP_E_CORRUPT with the offset of the bad element rather
 * than in a crash, a hang or an out-of-bounds read. */
#include "common/fileio.h"
#include "dicom/dicom_impl.h"

#include <ctype.h>
#include <stdio.h>

static uint16_t
load16(const uint8_t *p, bool be)
{
	return be ? rp__load_be16(p) : rp__load_le16(p);
}

static uint32_t
load32(const uint8_t *p, bool be)
{
	return be ? rp__load_be32(p) : rp__load_le32(p);
}

static int
corrupt_at(struct rp_errbuf *err, size_t off, const char *what)
{
	return rp__err(err, RP_E_CORRUPT, "%s at offset %zu", what, off);
}

void
rp__dicom_drop_behind(const struct rp_dicom *ds, const uint8_t *buf, size_t *dropped,
		      size_t pos)
{
	if (!ds->opts.drop_behind || buf != ds->file || pos < *dropped ||
	    pos - *dropped < ((size_t)4 << 20))
		return;
	*dropped = (size_t)rp__drop_mapped(buf, ds->file_size, *dropped, pos);
}

/* Walks items of a sequence (or fragments of encapsulated pixel data) of undefined
 * length starting at pos; returns the offset of the sequence delimiter item in *delim. */
static int
walk_items(const struct rp_dicom *ds, const uint8_t *buf, size_t pos, size_t end,
	   struct rp__enc enc, bool fragments, unsigned depth, size_t *delim,
	   struct rp_errbuf *err)
{
	size_t dropped = pos;
	for (;;) {
		if (fragments)
			rp__dicom_drop_behind(ds, buf, &dropped, pos);
		if (end - pos < 8)
			return corrupt_at(err, pos, fragments ?
				"pixel data fragments end without a sequence delimiter" :
				"sequence ends without a delimiter");
		uint32_t tag = RP__TAG(load16(buf + pos, enc.big_endian),
				       load16(buf + pos + 2, enc.big_endian));
		uint32_t len = load32(buf + pos + 4, enc.big_endian);
		if (tag == RP__TAG_SEQ_END) {
			*delim = pos;
			return RP_OK;
		}
		if (tag != RP__TAG_ITEM) {
			char what[96];
			snprintf(what, sizeof(what), "unexpected tag (%04X,%04X) inside a %s",
				 tag >> 16, tag & 0xFFFF, fragments ? "pixel data sequence" : "sequence");
			return corrupt_at(err, pos, what);
		}
		size_t value = pos + 8;
		if (len != RP__UNDEFINED_LENGTH) {
			if (len > end - value)
				return corrupt_at(err, pos, fragments ?
					"pixel data item overruns the file" : "item overruns the file");
			pos = value + len;
			continue;
		}
		if (fragments)
			return corrupt_at(err, pos, "pixel data item of undefined length");
		/* An item of undefined length: its elements up to the item delimiter. */
		pos = value;
		for (;;) {
			if (end - pos < 8)
				return corrupt_at(err, pos, "item ends without a delimiter");
			uint32_t t = RP__TAG(load16(buf + pos, enc.big_endian),
					     load16(buf + pos + 2, enc.big_endian));
			if (t == RP__TAG_ITEM_END) {
				pos += 8;
				break;
			}
			struct rp__elem child;
			RP_TRY(rp__read_elem(ds, buf, pos, end, enc, depth + 1, &child, err));
			pos = child.end;
		}
	}
}

static bool
vr_chars_ok(const uint8_t *p)
{
	return isupper(p[0]) && isupper(p[1]);
}

int
rp__read_elem(const struct rp_dicom *ds, const uint8_t *buf, size_t pos, size_t end,
	      struct rp__enc enc, unsigned depth, struct rp__elem *e, struct rp_errbuf *err)
{
	if (depth > ds->opts.max_depth)
		return corrupt_at(err, pos, "sequences nested too deeply");
	if (pos > end || end - pos < 8)
		return corrupt_at(err, pos, "element header overruns the file");
	const uint8_t *p = buf + pos;
	memset(e, 0, sizeof(*e));
	e->start = pos;
	e->enc = enc;
	e->tag = RP__TAG(load16(p, enc.big_endian), load16(p + 2, enc.big_endian));
	uint32_t len;
	size_t header;
	if ((e->tag >> 16) == 0xFFFE) {
		/* Item and delimiter tags carry no VR in any encoding (PS3.5 7.5). */
		len = load32(p + 4, enc.big_endian);
		header = 8;
	} else if (enc.explicit_vr) {
		if (!vr_chars_ok(p + 4)) {
			char what[80];
			snprintf(what, sizeof(what), "element (%04X,%04X) has an invalid VR",
				 e->tag >> 16, e->tag & 0xFFFF);
			return corrupt_at(err, pos, what);
		}
		e->vr = RP__VR(p[4], p[5]);
		if (rp__vr_long(e->vr)) {
			if (end - pos < 12)
				return corrupt_at(err, pos, "element header overruns the file");
			len = load32(p + 8, enc.big_endian);
			header = 12;
		} else {
			len = load16(p + 6, enc.big_endian);
			header = 8;
		}
	} else {
		e->vr = rp__dict_vr(e->tag);
		len = load32(p + 4, enc.big_endian);
		header = 8;
	}
	e->value = pos + header;

	if (len != RP__UNDEFINED_LENGTH) {
		if (len > end - e->value) {
			char what[96];
			snprintf(what, sizeof(what),
				 "%selement (%04X,%04X) of %u bytes overruns the file",
				 e->tag == RP__TAG_PIXEL_DATA ? "pixel data " : "",
				 e->tag >> 16, e->tag & 0xFFFF, len);
			return corrupt_at(err, pos, what);
		}
		e->length = len;
		e->end = e->value + len;
		return RP_OK;
	}

	e->undefined = true;
	size_t delim;
	if (e->tag == RP__TAG_PIXEL_DATA) {
		e->encapsulated = true;
		RP_TRY(walk_items(ds, buf, e->value, end, enc, true, depth, &delim, err));
	} else if (e->vr == VR(SQ) || e->vr == VR(UN) || !enc.explicit_vr) {
		/* UN of undefined length holds an implicit VR little endian sequence
		 * (PS3.5 6.2.2); an implicit-VR element of undefined length that the
		 * dictionary does not know can only be a sequence too. */
		struct rp__enc inner = enc;
		if (e->vr == VR(UN)) {
			inner.explicit_vr = false;
			inner.big_endian = false;
			e->vr = VR(SQ);
		}
		e->enc = inner;
		RP_TRY(walk_items(ds, buf, e->value, end, inner, false, depth, &delim, err));
	} else {
		char what[96];
		snprintf(what, sizeof(what), "element (%04X,%04X) with VR %c%c has undefined length",
			 e->tag >> 16, e->tag & 0xFFFF, e->vr >> 8, e->vr & 0xFF);
		return corrupt_at(err, pos, what);
	}
	e->length = delim - e->value;
	e->end = delim + 8;
	return RP_OK;
}

void
rp_dicom_options_init(struct rp_dicom_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->max_depth = 64;
	opts->max_frames = 1u << 20;
	opts->max_inflated_size = (uint64_t)4 << 30;
}

/* Copies a string value, trimmed of trailing spaces and NULs, into dst. */
static void
copy_string(const uint8_t *value, size_t length, char *dst, size_t cap)
{
	size_t n = length < cap - 1 ? length : cap - 1;
	memcpy(dst, value, n);
	while (n && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
		n--;
	dst[n] = '\0';
	/* Leading spaces are insignificant in CS/IS too. */
	size_t lead = 0;
	while (dst[lead] == ' ')
		lead++;
	if (lead)
		memmove(dst, dst + lead, n - lead + 1);
}

static const struct rp__elem *
find_elem(const struct rp_dicom *ds, uint32_t tag)
{
	for (size_t i = 0; i < ds->elem_count; i++)
		if (ds->elems[i].tag == tag)
			return &ds->elems[i];
	return NULL;
}

static int
get_us(const struct rp_dicom *ds, uint32_t tag, uint16_t *out, bool *present,
       struct rp_errbuf *err)
{
	const struct rp__elem *e = find_elem(ds, tag);
	*present = e && e->length > 0;
	if (!*present)
		return RP_OK;
	if (e->length < 2 || e->undefined)
		return corrupt_at(err, e->start, "image attribute value is too short");
	*out = load16(ds->buf + e->value, e->enc.big_endian);
	return RP_OK;
}

static enum rp_photometric
photometric_from_string(const char *s)
{
	static const struct {
		const char *name;
		enum rp_photometric value;
	} names[] = {
		{ "MONOCHROME1", RP_PHOTOMETRIC_MONOCHROME1 },
		{ "MONOCHROME2", RP_PHOTOMETRIC_MONOCHROME2 },
		{ "PALETTE COLOR", RP_PHOTOMETRIC_PALETTE_COLOR },
		{ "RGB", RP_PHOTOMETRIC_RGB },
		{ "YBR_FULL", RP_PHOTOMETRIC_YBR_FULL },
		{ "YBR_FULL_422", RP_PHOTOMETRIC_YBR_FULL_422 },
		{ "YBR_PARTIAL_420", RP_PHOTOMETRIC_YBR_PARTIAL_420 },
		{ "YBR_ICT", RP_PHOTOMETRIC_YBR_ICT },
		{ "YBR_RCT", RP_PHOTOMETRIC_YBR_RCT },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, s) == 0)
			return names[i].value;
	return RP_PHOTOMETRIC_UNKNOWN;
}

/* Without meta information (or without a transfer syntax in it), guess the encoding from
 * the first element, as DCMTK does: a plausible VR at bytes 4-5 means explicit VR, and a
 * small group number read big-endian means big endian. */
static const struct rp_ts_info *
guess_ts(const uint8_t *p, size_t n)
{
	if (n < 8)
		return rp_ts_lookup("1.2.840.10008.1.2");
	bool be = rp__load_le16(p) > 0x00FF && rp__load_be16(p) <= 0x00FF;
	bool expl = vr_chars_ok(p + 4) &&
		    (rp__vr_long(RP__VR(p[4], p[5])) || strchr("ACDFILOPSTU", p[4]));
	if (be)
		return rp_ts_lookup("1.2.840.10008.1.2.2");
	return rp_ts_lookup(expl ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2");
}

static int
parse_meta(struct rp_dicom *ds, size_t pos, const struct rp_ts_info **ts, size_t *ds_start,
	   struct rp_errbuf *err)
{
	struct rp__enc le_explicit = { .explicit_vr = true, .big_endian = false };
	char uid[65] = "";
	bool have_ts = false;
	ds->meta_start = pos;
	while (ds->file_size - pos >= 8 && rp__load_le16(ds->file + pos) == 0x0002) {
		struct rp__elem e;
		RP_TRY(rp__read_elem(ds, ds->file, pos, ds->file_size, le_explicit, 0, &e, err));
		if (e.tag == RP__TAG(0x0002, 0x0010)) {
			copy_string(ds->file + e.value, e.length, uid, sizeof(uid));
			have_ts = true;
		}
		pos = e.end;
	}
	ds->meta_end = pos;
	*ds_start = pos;
	if (!have_ts || uid[0] == '\0') {
		*ts = guess_ts(ds->file + pos, ds->file_size - pos);
		return RP_OK;
	}
	*ts = rp_ts_lookup(uid);
	if (!*ts)
		return rp__err(err, RP_E_UNSUPPORTED, "unknown transfer syntax UID %s", uid);
	return RP_OK;
}

static int
read_dataset(struct rp_dicom *ds, struct rp_errbuf *err)
{
	size_t pos = ds->ds_start, cap = 0;
	while (pos < ds->size) {
		if (ds->size - pos < 8) {
			/* A few zero bytes of padding after the last element occur in the wild. */
			bool zeros = true;
			for (size_t i = pos; i < ds->size; i++)
				zeros &= ds->buf[i] == 0;
			if (zeros)
				break;
			return corrupt_at(err, pos, "truncated element header");
		}
		if (ds->elem_count == cap) {
			cap = cap ? cap * 2 : 64;
			struct rp__elem *n = realloc(ds->elems, cap * sizeof(*n));
			if (!n)
				return RP_E_NOMEM;
			ds->elems = n;
		}
		struct rp__elem *e = &ds->elems[ds->elem_count];
		RP_TRY(rp__read_elem(ds, ds->buf, pos, ds->size, ds->enc, 0, e, err));
		if ((e->tag >> 16) == 0xFFFE)
			return corrupt_at(err, pos, "item tag outside a sequence");
		ds->elem_count++;
		pos = e->end;
	}
	return RP_OK;
}

/* Storage SOP classes whose instances always carry Pixel Data (PS3.4 B.5): CR, DX, MG,
 * CT, MR, US, SC, NM, XA/XRF, PET, RT Image and their enhanced forms. */
static bool
is_image_class(const char *uid)
{
	static const char *const prefixes[] = {
		"1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.3.1",
		"1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.6.", "1.2.840.10008.5.1.4.1.1.7",
		"1.2.840.10008.5.1.4.1.1.12.", "1.2.840.10008.5.1.4.1.1.20",
		"1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130",
		"1.2.840.10008.5.1.4.1.1.481.1",
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(uid, prefixes[i], n) == 0 &&
		    (uid[n] == '\0' || uid[n] == '.' || prefixes[i][n - 1] == '.'))
			return true;
	}
	return false;
}

int
rp__dicom_parse_image(struct rp_dicom *ds, struct rp_errbuf *err)
{
	struct rp_dicom_info *info = &ds->info;
	static const struct {
		uint32_t tag;
		size_t offset, size;
	} strings[] = {
		{ RP__TAG(0x0008, 0x0060), offsetof(struct rp_dicom_info, modality), 17 },
		{ RP__TAG(0x0008, 0x0016), offsetof(struct rp_dicom_info, sop_class_uid), 65 },
		{ RP__TAG(0x0008, 0x0018), offsetof(struct rp_dicom_info, sop_instance_uid), 65 },
		{ RP__TAG(0x0020, 0x000D), offsetof(struct rp_dicom_info, study_instance_uid), 65 },
		{ RP__TAG(0x0020, 0x000E), offsetof(struct rp_dicom_info, series_instance_uid), 65 },
		{ RP__TAG(0x0010, 0x0020), offsetof(struct rp_dicom_info, patient_id), 65 },
		{ RP__TAG(0x0028, 0x0004), offsetof(struct rp_dicom_info, photometric), 17 },
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		const struct rp__elem *e = find_elem(ds, strings[i].tag);
		if (e && !e->undefined)
			copy_string(ds->buf + e->value, e->length, (char *)info + strings[i].offset,
				    strings[i].size);
	}

	ds->pixel_elem = SIZE_MAX;
	for (size_t i = 0; i < ds->elem_count; i++)
		if (ds->elems[i].tag == RP__TAG_PIXEL_DATA)
			ds->pixel_elem = i;
	uint16_t rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, pr = 0, planar = 0;
	bool has_rows, has_cols, has, has_ba, has_bs;
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0010), &rows, &has_rows, err));
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0011), &cols, &has_cols, err));
	if (ds->pixel_elem == SIZE_MAX) {
		/* A file cut between two elements parses as a shorter dataset; catch the
		 * common signs of that rather than pass a truncated image on as complete. */
		if (ds->elem_count == 0 && info->has_meta)
			return rp__err(err, RP_E_CORRUPT,
				       "file ends after the meta information: no dataset (truncated?)");
		/* An image class without Pixel Data is either cut short or a (rare) valid
		 * file that omits it: say so and let the caller decide (DCMTK copies it with
		 * a warning; `--strict` refuses it). */
		info->image_without_pixels = is_image_class(info->sop_class_uid);
		return RP_OK;
	}
	const struct rp__elem *px = &ds->elems[ds->pixel_elem];
	if (!has_rows || !has_cols)
		return RP_OK;   /* pixel data but no image pixel module: not an image we can
				 * decode; it still travels and is copied byte for byte */
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0002), &spp, &has, err));
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0100), &ba, &has_ba, err));
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0101), &bs, &has_bs, err));
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0103), &pr, &has, err));
	RP_TRY(get_us(ds, RP__TAG(0x0028, 0x0006), &planar, &has, err));
	if (!has_ba)
		return corrupt_at(err, px->start, "pixel data without BitsAllocated");
	if (!has_bs)
		bs = ba;

	uint32_t frames = 1;
	const struct rp__elem *nf = find_elem(ds, RP__TAG(0x0028, 0x0008));
	if (nf && !nf->undefined && nf->length) {
		char s[32];
		copy_string(ds->buf + nf->value, nf->length, s, sizeof(s));
		char *endp;
		unsigned long v = strtoul(s, &endp, 10);
		if (*endp != '\0' || s[0] == '\0' || s[0] == '-' || v == 0)
			return corrupt_at(err, nf->start, "NumberOfFrames is not a positive integer");
		if (v > ds->opts.max_frames)
			return rp__err(err, RP_E_LIMIT, "NumberOfFrames %lu exceeds the limit %u", v,
				       ds->opts.max_frames);
		frames = (uint32_t)v;
	}

	struct rp_image_desc img = {
		.width = cols, .height = rows, .components = spp, .bits_allocated = ba,
		.bits_stored = bs, .is_signed = pr == 1,
		.photometric = (uint8_t)photometric_from_string(info->photometric),
	};
	struct rp_errbuf why;
	if (rp_image_desc_check(&img, &why) != RP_OK)
		return rp__err(err, RP_E_UNSUPPORTED, "%s", why.msg);
	info->img = img;
	info->frames = frames;
	info->planar = planar == 1 && spp == 3;
	info->has_pixels = 1;
	info->encapsulated = px->encapsulated;
	if (!ds->inflated) {
		info->pixel_element_offset = px->start;
		info->pixel_value_offset = px->value;
		info->pixel_value_length = px->end - px->value;
	}

	/* A nested image (an icon) may stay native in an encapsulated syntax: only the
	 * top-level Pixel Data must follow the transfer syntax (PS3.5 A.4). */
	if (ds->info.ts->encapsulated != px->encapsulated &&
	    !(ds->nested && !px->encapsulated))
		return corrupt_at(err, px->start, px->encapsulated ?
			"encapsulated pixel data in a native transfer syntax" :
			"native pixel data in an encapsulated transfer syntax");
	if (px->encapsulated)
		return rp__dicom_index_fragments(ds, err);

	if (img.photometric == RP_PHOTOMETRIC_YBR_FULL_422 ||
	    img.photometric == RP_PHOTOMETRIC_YBR_PARTIAL_420)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "native %s (subsampled) pixel data is not supported",
			       info->photometric);
	/* Native: frames are consecutive; 1-bit frames are packed without padding. */
	size_t need, samples;
	size_t frame = rp_image_frame_size(&img);
	bool ok = rp__mul_size((size_t)cols * rows, spp, &samples) &&
		  rp__mul_size(samples, frames, &need);
	if (ok && ba == 1)
		need = need / 8 + (need % 8 != 0);
	else if (ok)
		ok = rp__mul_size(frame, frames, &need);
	if (!ok)
		return rp__err(err, RP_E_LIMIT, "pixel data size overflows");
	if (px->length < need)
		return rp__err(err, RP_E_CORRUPT,
			       "pixel data at offset %zu holds %zu bytes; %u frame(s) of %ux%ux%u "
			       "at %u bits need %zu",
			       px->start, px->length, frames, cols, rows, spp, ba, need);
	return RP_OK;
}

int
rp_dicom_parse(const void *data, size_t size, const struct rp_dicom_options *opts,
	       struct rp_dicom **ds_ret, struct rp_errbuf *err)
{
	if (!ds_ret || (!data && size))
		return rp__err(err, RP_E_INVALID_ARG, "parse: missing argument");
	if (opts && opts->struct_size != sizeof(*opts))
		return rp__err(err, RP_E_INVALID_ARG, "parse: options not initialised");
	*ds_ret = NULL;
	struct rp_dicom *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return RP_E_NOMEM;
	if (opts)
		ds->opts = *opts;
	else
		rp_dicom_options_init(&ds->opts);
	ds->file = data;
	ds->file_size = size;
	int st;

	const struct rp_ts_info *ts;
	size_t start;
	if (size >= 132 && memcmp(ds->file + 128, "DICM", 4) == 0) {
		ds->info.has_meta = 1;
		st = parse_meta(ds, 132, &ts, &start, err);
	} else if (size >= 4 && memcmp(ds->file, "DICM", 4) == 0) {
		ds->info.has_meta = 1;   /* meta without the 128-byte preamble */
		st = parse_meta(ds, 4, &ts, &start, err);
	} else if (size >= 8 && rp__load_le16(ds->file) == 0x0002) {
		/* Meta group without preamble or magic (some writers omit both); read it as a
		 * meta group, as DCMTK does, so its transfer syntax applies. */
		ds->info.has_meta = 1;
		st = parse_meta(ds, 0, &ts, &start, err);
	} else {
		if (size < 8) {
			st = rp__err(err, RP_E_CORRUPT, "not a DICOM file (%zu bytes)", size);
			goto fail;
		}
		ts = guess_ts(ds->file, size);
		start = 0;
		st = RP_OK;
	}
	if (st < 0)
		goto fail;
	ds->info.ts = ts;
	ds->enc.explicit_vr = ts->explicit_vr;
	ds->enc.big_endian = ts->big_endian;

	if (ts->deflated) {
		st = rp__inflate_raw(ds->file + start, size - start, ds->opts.max_inflated_size,
				     &ds->inflated, &ds->size, err);
		if (st < 0)
			goto fail;
		ds->buf = ds->inflated;
		ds->ds_start = 0;
	} else {
		ds->buf = ds->file;
		ds->size = size;
		ds->ds_start = start;
	}

	st = read_dataset(ds, err);
	if (st == RP_OK)
		st = rp__dicom_parse_image(ds, err);
	if (st < 0)
		goto fail;
	*ds_ret = ds;
	return RP_OK;
fail:
	rp_dicom_free(ds);
	return st;
}

void
rp_dicom_free(struct rp_dicom *ds)
{
	if (!ds)
		return;
	free(ds->elems);
	free(ds->frags);
	free(ds->frame_first);
	free(ds->frame_frags);
	free(ds->inflated);
	free(ds);
}

const struct rp_dicom_info *
rp_dicom_get_info(const struct rp_dicom *ds)
{
	return ds ? &ds->info : NULL;
}
