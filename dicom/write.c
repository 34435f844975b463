/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/write.c - DICOM Part 10 writer: a parsed dataset, re-serialized in explicit
 * VR little endian (optionally deflated) or an encapsulated syntax, with new pixel data.
 *
 * Elements are carried over byte for byte when the source is already explicit VR little
 * endian; otherwise they are re-encoded (VR from the dictionary for implicit VR, values
 * swapped for big endian, sequences and items written with undefined length so that no
 * length has to be recomputed).  Group length elements of groups whose content changes
 * are dropped (they are retired, PS3.5 7.2). */
#include "dicom/dicom_impl.h"
#include "common/fileio.h"
#include "simd/kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* An element of the source that is written differently: an image nested in a sequence
 * made native, its now meaningless offset tables and colour label, a dropped icon. */
enum edit_kind { EDIT_SKIP, EDIT_NATIVE_PIXELS, EDIT_PHOTOMETRIC };

struct edit {
	size_t start;                /* the source element's header offset in buf */
	enum edit_kind kind;
	const struct rp_dicom *item; /* EDIT_NATIVE_PIXELS: the image (its layout) */
	struct rp_frame_ref *frames; /* ... and its canonical frames */
	const char *photometric;     /* EDIT_PHOTOMETRIC */
};

struct edits {
	struct edit *v;
	size_t count, cap;
	struct rp__nested *nested;   /* what the edits point into */
	size_t nested_count;
};

struct writer {
	rp_write_fn *fn;
	void *ctx;
	int status;
	uint64_t pos;                /* bytes written so far */
	const struct edits *edits;   /* NULL or sorted by start */
};

/* A growable memory sink, for the meta group (its length comes first) and deflate. */
struct membuf {
	uint8_t *data;
	size_t size, cap;
};

static int
membuf_write(void *ctx, const void *data, size_t size)
{
	struct membuf *m = ctx;
	if (size > m->cap - m->size) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap - m->size < size) {
			if (cap > SIZE_MAX / 2)
				return RP_E_NOMEM;
			cap *= 2;
		}
		uint8_t *n = realloc(m->data, cap);
		if (!n)
			return RP_E_NOMEM;
		m->data = n;
		m->cap = cap;
	}
	memcpy(m->data + m->size, data, size);
	m->size += size;
	return RP_OK;
}

static void
emit(struct writer *w, const void *data, size_t size)
{
	if (w->status == RP_OK && size) {
		w->status = w->fn(w->ctx, data, size);
		w->pos += size;
	}
}

static void
emit_zeros(struct writer *w, uint64_t n)
{
	static const uint8_t zeros[4096];
	while (n) {
		size_t chunk = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		emit(w, zeros, chunk);
		n -= chunk;
	}
}

static void
emit_header(struct writer *w, uint32_t tag, uint16_t vr, uint32_t length)
{
	uint8_t h[12];
	rp__store_le16(h, (uint16_t)(tag >> 16));
	rp__store_le16(h + 2, (uint16_t)tag);
	if ((tag >> 16) == 0xFFFE) {
		rp__store_le32(h + 4, length);
		emit(w, h, 8);
		return;
	}
	h[4] = (uint8_t)(vr >> 8);
	h[5] = (uint8_t)vr;
	if (rp__vr_long(vr)) {
		h[6] = h[7] = 0;
		rp__store_le32(h + 8, length);
		emit(w, h, 12);
	} else {
		rp__store_le16(h + 6, (uint16_t)length);
		emit(w, h, 8);
	}
}

/* A short string value padded to even length (space, or NUL for UI). */
static void
emit_string(struct writer *w, uint32_t tag, uint16_t vr, const char *s)
{
	size_t n = strlen(s);
	emit_header(w, tag, vr, (uint32_t)(n + (n & 1)));
	emit(w, s, n);
	if (n & 1)
		emit(w, vr == VR(UI) ? "\0" : " ", 1);
}

static void
emit_swapped(struct writer *w, const uint8_t *p, size_t n, unsigned unit)
{
	uint8_t tmp[4096];
	while (n) {
		size_t chunk = n < sizeof(tmp) ? n : sizeof(tmp) - sizeof(tmp) % 8;
		memcpy(tmp, p, chunk);
		if (unit == 2)
			rp__kernels_best()->bswap16(tmp, tmp, chunk / 2);
		for (size_t i = 0; unit > 2 && i + unit <= chunk; i += unit)
			for (unsigned a = 0, b = unit - 1; a < b; a++, b--) {
				uint8_t t = tmp[i + a];
				tmp[i + a] = tmp[i + b];
				tmp[i + b] = t;
			}
		emit(w, tmp, chunk);
		p += chunk;
		n -= chunk;
	}
}

static int emit_elem(struct writer *w, const struct rp_dicom *ds, const struct rp__elem *e,
		     unsigned depth, struct rp_errbuf *err);

/* Elements of one item, in [pos, end) or up to the item delimiter when undefined;
 * *next gets the offset after the item (past its delimiter).  The parser skipped the
 * insides of defined-length items, so every read here is bounds-checked again. */
static int
emit_item_elems(struct writer *w, const struct rp_dicom *ds, size_t pos, size_t end,
		bool until_delim, struct rp__enc enc, unsigned depth, size_t *next,
		struct rp_errbuf *err)
{
	while (pos < end) {
		if (end - pos < 8)
			return rp__err(err, RP_E_CORRUPT, "truncated element in an item at offset %zu",
				       pos);
		uint32_t t = enc.big_endian ?
			RP__TAG(rp__load_be16(ds->buf + pos), rp__load_be16(ds->buf + pos + 2)) :
			RP__TAG(rp__load_le16(ds->buf + pos), rp__load_le16(ds->buf + pos + 2));
		if (until_delim && t == RP__TAG_ITEM_END) {
			*next = pos + 8;
			return RP_OK;
		}
		struct rp__elem child;
		RP_TRY(rp__read_elem(ds, ds->buf, pos, end, enc, depth, &child, err));
		RP_TRY(emit_elem(w, ds, &child, depth, err));
		pos = child.end;
	}
	if (until_delim)
		return rp__err(err, RP_E_CORRUPT, "item ends without a delimiter at offset %zu", pos);
	*next = pos;
	return RP_OK;
}

static int
emit_sequence(struct writer *w, const struct rp_dicom *ds, const struct rp__elem *e,
	      unsigned depth, struct rp_errbuf *err)
{
	emit_header(w, e->tag, VR(SQ), RP__UNDEFINED_LENGTH);
	size_t pos = e->value, end = e->value + e->length;
	bool be = e->enc.big_endian;
	while (pos < end) {
		if (end - pos < 8)
			return rp__err(err, RP_E_CORRUPT, "truncated item header at offset %zu", pos);
		uint32_t tag = be ? RP__TAG(rp__load_be16(ds->buf + pos), rp__load_be16(ds->buf + pos + 2)) :
				    RP__TAG(rp__load_le16(ds->buf + pos), rp__load_le16(ds->buf + pos + 2));
		uint32_t len = be ? rp__load_be32(ds->buf + pos + 4) : rp__load_le32(ds->buf + pos + 4);
		size_t ipos = pos + 8;
		if (tag != RP__TAG_ITEM)
			return rp__err(err, RP_E_CORRUPT, "expected an item at offset %zu", pos);
		if (len != RP__UNDEFINED_LENGTH && len > end - ipos)
			return rp__err(err, RP_E_CORRUPT, "item at offset %zu overruns its sequence",
				       pos);
		emit_header(w, RP__TAG_ITEM, 0, RP__UNDEFINED_LENGTH);
		if (len == RP__UNDEFINED_LENGTH) {
			RP_TRY(emit_item_elems(w, ds, ipos, end, true, e->enc, depth + 1, &pos,
					       err));
		} else {
			size_t ignored;
			RP_TRY(emit_item_elems(w, ds, ipos, ipos + len, false, e->enc, depth + 1,
					       &ignored, err));
			pos = ipos + len;
		}
		emit_header(w, RP__TAG_ITEM_END, 0, 0);
	}
	emit_header(w, RP__TAG_SEQ_END, 0, 0);
	return w->status;
}

static void emit_native_pixels(struct writer *w, const struct rp_image_desc *img, bool planar,
			       const struct rp_frame_ref *frames, uint32_t count);

/* The edit of the element at start, or NULL; *inside tells whether some edit falls
 * within (start, end), so that the element must be rewritten item by item. */
static const struct edit *
edit_for(const struct writer *w, size_t start, size_t end, bool *inside)
{
	const struct edit *found = NULL;
	*inside = false;
	for (size_t i = 0; w->edits && i < w->edits->count; i++) {
		const struct edit *ed = &w->edits->v[i];
		if (ed->start == start)
			found = ed;
		else if (ed->start > start && ed->start < end)
			*inside = true;
	}
	return found;
}

static int
emit_edited(struct writer *w, const struct edit *ed)
{
	if (ed->kind == EDIT_NATIVE_PIXELS) {
		const struct rp_dicom_info *ii = &ed->item->info;
		emit_native_pixels(w, &ii->img, ii->planar, ed->frames, ii->frames);
	} else if (ed->kind == EDIT_PHOTOMETRIC) {
		emit_string(w, RP__TAG(0x0028, 0x0004), VR(CS), ed->photometric);
	}
	return w->status;
}

static int
emit_elem(struct writer *w, const struct rp_dicom *ds, const struct rp__elem *e,
	  unsigned depth, struct rp_errbuf *err)
{
	bool inside;
	const struct edit *ed = edit_for(w, e->start, e->end, &inside);
	if (ed)
		return emit_edited(w, ed);
	if (inside)
		return emit_sequence(w, ds, e, depth, err);
	if (ds->enc.explicit_vr && !ds->enc.big_endian) {
		/* Already our encoding, nested sequences included: copy verbatim. */
		emit(w, ds->buf + e->start, e->end - e->start);
		return w->status;
	}
	if (e->vr == VR(SQ) || e->undefined)
		return emit_sequence(w, ds, e, depth, err);
	uint16_t vr = e->vr;
	if (vr == VR(XS))            /* "US or SS": signed images use SS (PS3.6) */
		vr = ds->info.img.is_signed ? VR(SS) : VR(US);
	if (!rp__vr_long(vr) && e->length > 0xFFFF)
		vr = VR(UN);   /* cannot be written in the short form */
	emit_header(w, e->tag, vr, (uint32_t)e->length);
	if (e->enc.big_endian)
		emit_swapped(w, ds->buf + e->value, e->length, rp__vr_swap_unit(vr));
	else
		emit(w, ds->buf + e->value, e->length);
	return w->status;
}

void
rp_dicom_write_options_init(struct rp_dicom_write_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	opts->ts_uid = "1.2.840.10008.1.2.1";
	opts->planar = -1;
	opts->eot_threshold = UINT32_MAX;
}

/* Our implementation UID root is a UUID-derived OID (PS3.5 B.2), used only when the
 * source had no meta information to carry over. */
#define RP_IMPLEMENTATION_UID "2.25.205405127301137212367254497917377432901"

struct meta_item {
	uint32_t tag;
	const uint8_t *raw;          /* a source element, verbatim */
	size_t raw_size;
	const char *str;             /* or a string element we make */
	uint16_t vr;
};

/* *ts_pos gets the file offset of the (0002,0010) value, for a later in-place change. */
static int
write_meta(struct writer *w, const struct rp_dicom *src, const char *ts_uid,
	   const char *impl_version, uint64_t *ts_pos)
{
	struct meta_item items[40];
	size_t n = 0;
	if (src->info.has_meta) {
		size_t pos = src->meta_start;
		while (pos < src->meta_end && n < 36) {
			struct rp__elem e;
			struct rp__enc le = { .explicit_vr = true };
			if (rp__read_elem(src, src->file, pos, src->meta_end, le, 0, &e, NULL) < 0)
				break;
			if (e.tag != RP__TAG(0x0002, 0x0000) && e.tag != RP__TAG(0x0002, 0x0010))
				items[n++] = (struct meta_item){ .tag = e.tag, .raw = src->file + e.start,
								 .raw_size = e.end - e.start };
			pos = e.end;
		}
	} else {
		items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0002), .vr = VR(UI),
						 .str = src->info.sop_class_uid };
		items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0003), .vr = VR(UI),
						 .str = src->info.sop_instance_uid };
		items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0012), .vr = VR(UI),
						 .str = RP_IMPLEMENTATION_UID };
		items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0013), .vr = VR(SH),
						 .str = impl_version };
	}
	items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0010), .vr = VR(UI), .str = ts_uid };
	bool have_version = false;
	for (size_t i = 0; i < n; i++)
		have_version |= items[i].tag == RP__TAG(0x0002, 0x0001);
	static const uint8_t version[] = { 0x02, 0x00, 0x01, 0x00, 'O', 'B', 0, 0, 2, 0, 0, 0, 0, 1 };
	if (!have_version)
		items[n++] = (struct meta_item){ .tag = RP__TAG(0x0002, 0x0001), .raw = version,
						 .raw_size = sizeof(version) };
	/* Insertion sort by tag: a dozen items. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && items[j - 1].tag > items[j].tag; j--) {
			struct meta_item t = items[j];
			items[j] = items[j - 1];
			items[j - 1] = t;
		}

	struct membuf m = { 0 };
	struct writer mw = { .fn = membuf_write, .ctx = &m };
	size_t ts_value = 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].raw) {
			emit(&mw, items[i].raw, items[i].raw_size);
		} else {
			if (items[i].tag == RP__TAG(0x0002, 0x0010))
				ts_value = m.size + 8;
			emit_string(&mw, items[i].tag, items[i].vr, items[i].str);
		}
	}
	*ts_pos = w->pos + 12 + ts_value;
	if (mw.status == RP_OK) {
		uint8_t gl[12] = { 0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0 };
		rp__store_le32(gl + 8, (uint32_t)m.size);
		emit(w, gl, sizeof(gl));
		emit(w, m.data, m.size);
	}
	free(m.data);
	return mw.status < 0 ? mw.status : w->status;
}

/* Bytes of native pixel data for count frames (1-bit frames are packed end to end). */
static uint64_t
native_pixel_bytes(const struct rp_image_desc *img, uint32_t count)
{
	if (img->bits_allocated == 1) {
		uint64_t bits = (uint64_t)img->width * img->height * img->components * count;
		return bits / 8 + (bits % 8 != 0);
	}
	return (uint64_t)rp_image_frame_size(img) * count;
}

/* One canonical frame of 8 bits or more, in planar layout when asked (tmp holds one
 * frame then). */
static void
emit_native_frame(struct writer *w, const struct rp_image_desc *img, bool planar,
		  const uint8_t *s, uint8_t *tmp)
{
	size_t frame = rp_image_frame_size(img);
	size_t bps = img->bits_allocated / 8, pixels = (size_t)img->width * img->height;
	if (planar && bps == 1) {
		rp__kernels_best()->deinterleave3_u8(tmp, s, pixels);
		emit(w, tmp, frame);
	} else if (planar) {
		for (size_t c = 0; c < 3; c++)
			for (size_t i = 0; i < pixels; i++)
				memcpy(tmp + (c * pixels + i) * bps, s + (i * 3 + c) * bps, bps);
		emit(w, tmp, frame);
	} else {
		emit(w, s, frame);
	}
}

/* Canonical frames -> native pixel data value (planar layout when asked). */
static void
emit_native_pixels(struct writer *w, const struct rp_image_desc *img, bool planar,
		   const struct rp_frame_ref *frames, uint32_t count)
{
	size_t total = (size_t)native_pixel_bytes(img, count);
	size_t padded = total + (total & 1);
	emit_header(w, RP__TAG_PIXEL_DATA, img->bits_allocated > 8 ? VR(OW) : VR(OB),
		    (uint32_t)padded);
	if (img->bits_allocated == 1) {
		/* Frames of packed bits follow each other without byte alignment. */
		uint8_t *packed = calloc(1, padded);
		if (!packed) {
			w->status = RP_E_NOMEM;
			return;
		}
		size_t bits = (size_t)img->width * img->height * img->components;
		for (uint32_t f = 0; f < count; f++) {
			const uint8_t *s = frames[f].data;
			for (size_t b = 0; b < bits; b++)
				if ((s[b / 8] >> (b % 8)) & 1) {
					size_t o = (size_t)f * bits + b;
					packed[o / 8] |= (uint8_t)(1u << (o % 8));
				}
		}
		emit(w, packed, padded);
		free(packed);
		return;
	}
	uint8_t *tmp = planar ? malloc(rp_image_frame_size(img)) : NULL;
	if (planar && !tmp) {
		w->status = RP_E_NOMEM;
		return;
	}
	for (uint32_t f = 0; f < count; f++)
		emit_native_frame(w, img, planar, frames[f].data, tmp);
	free(tmp);
	if (total & 1)
		emit(w, "", 1);
}

static void
emit_encapsulated(struct writer *w, const struct rp_frame_ref *frames, uint32_t count,
		  uint64_t eot_threshold)
{
	uint64_t total = 0;
	for (uint32_t f = 0; f < count; f++)
		total += 8 + frames[f].size + (frames[f].size & 1);
	bool use_eot = total > eot_threshold;
	if (use_eot) {
		/* Extended Offset Table (PS3.5 A.4.2): 64-bit offsets of each frame's item
		 * relative to the first fragment item, and each frame's length. */
		uint8_t v[8];
		emit_header(w, RP__TAG_EOT, VR(OV), count * 8u);
		uint64_t off = 0;
		for (uint32_t f = 0; f < count; f++) {
			rp__store_le64(v, off);
			emit(w, v, 8);
			off += 8 + frames[f].size + (frames[f].size & 1);
		}
		emit_header(w, RP__TAG_EOT_LENGTHS, VR(OV), count * 8u);
		for (uint32_t f = 0; f < count; f++) {
			rp__store_le64(v, frames[f].size);
			emit(w, v, 8);
		}
	}
	emit_header(w, RP__TAG_PIXEL_DATA, VR(OB), RP__UNDEFINED_LENGTH);
	emit_header(w, RP__TAG_ITEM, 0, use_eot ? 0 : count * 4u);
	if (!use_eot) {
		uint32_t off = 0;
		for (uint32_t f = 0; f < count; f++) {
			uint8_t v[4];
			rp__store_le32(v, off);
			emit(w, v, 4);
			off += (uint32_t)(8 + frames[f].size + (frames[f].size & 1));
		}
	}
	for (uint32_t f = 0; f < count; f++) {
		size_t n = frames[f].size;
		emit_header(w, RP__TAG_ITEM, 0, (uint32_t)(n + (n & 1)));
		emit(w, frames[f].data, n);
		if (n & 1)
			emit(w, "", 1);      /* pad after EOI/EOC, PS3.5 A.4 */
	}
	emit_header(w, RP__TAG_SEQ_END, 0, 0);
}

/* The elements the writer makes itself, merged into the source's tag order. */
struct made {
	uint32_t tag;
	const char *str;             /* a string element */
	uint16_t vr, us;             /* or a US element when str == NULL */
};

static bool
replaced(const struct made *made, size_t n, uint32_t tag)
{
	for (size_t i = 0; i < n; i++)
		if (made[i].tag == tag)
			return true;
	return false;
}

static void
emit_made(struct writer *w, const struct made *m)
{
	if (m->str) {
		emit_string(w, m->tag, m->vr, m->str);
	} else {
		uint8_t v[2];
		rp__store_le16(v, m->us);
		emit_header(w, m->tag, VR(US), 2);
		emit(w, v, 2);
	}
}

/* Where the dataset's serialization stands: the next source element and made element,
 * and whether it stopped where the top-level pixel data goes. */
struct ds_cursor {
	size_t elem;
	size_t made;
	bool at_pixels;
	bool pixels_done;
};

static size_t
made_elements(const struct rp_dicom_info *info, const struct rp_dicom_write_options *o,
	      struct made made[8], char ratio[20])
{
	size_t nm = 0;
	if (o->photometric)
		made[nm++] = (struct made){ RP__TAG(0x0028, 0x0004), o->photometric, VR(CS), 0 };
	if (o->planar >= 0 && info->img.components == 3)
		made[nm++] = (struct made){ RP__TAG(0x0028, 0x0006), NULL, VR(US),
					    (uint16_t)o->planar };
	if (o->lossy) {
		made[nm++] = (struct made){ RP__TAG(0x0028, 0x2110), "01", VR(CS), 0 };
		if (o->lossy_ratio > 0) {
			snprintf(ratio, 20, "%.4g", o->lossy_ratio);
			made[nm++] = (struct made){ RP__TAG(0x0028, 0x2112), ratio, VR(DS), 0 };
		}
		if (o->lossy_method)
			made[nm++] = (struct made){ RP__TAG(0x0028, 0x2114), o->lossy_method,
						    VR(CS), 0 };
	}
	return nm;
}

/* The dataset's elements from *c on, up to where the top-level pixel data goes (then
 * c->at_pixels is set, and a second call writes the rest) or to the end. */
static int
write_elements(struct writer *w, const struct rp_dicom *src,
	       const struct rp_dicom_write_options *o, struct ds_cursor *c,
	       struct rp_errbuf *err)
{
	const struct rp_dicom_info *info = &src->info;
	struct made made[8];
	char ratio[20] = "";
	const size_t nm = made_elements(info, o, made, ratio);
	const bool reencode = !src->enc.explicit_vr || src->enc.big_endian;
	c->at_pixels = false;
	for (; c->elem <= src->elem_count && w->status == RP_OK; c->elem++) {
		const size_t i = c->elem;
		uint32_t tag = i < src->elem_count ? src->elems[i].tag : UINT32_MAX;
		while (c->made < nm && made[c->made].tag <= tag)
			emit_made(w, &made[c->made++]);
		if (!c->pixels_done && tag >= RP__TAG_EOT && info->has_pixels) {
			c->pixels_done = true;
			c->at_pixels = true;
			return w->status;
		}
		if (i == src->elem_count)
			break;
		const struct rp__elem *e = &src->elems[i];
		uint16_t group = (uint16_t)(tag >> 16);
		if (replaced(made, nm, tag) || tag == RP__TAG_EOT || tag == RP__TAG_EOT_LENGTHS ||
		    (info->has_pixels && tag == RP__TAG_PIXEL_DATA) || group == 0x0002)
			continue;
		if ((tag & 0xFFFF) == 0 &&
		    (reencode || group == 0x0028 || group == 0x7FE0 ||
		     (w->edits && w->edits->count)))
			continue;            /* a group length that would be wrong */
		RP_TRY(emit_elem(w, src, e, 0, err));
	}
	return w->status;
}

static int
write_dataset(struct writer *w, const struct rp_dicom *src, const struct rp_ts_info *ts,
	      const struct rp_dicom_write_options *o, const struct rp_frame_ref *frames,
	      uint32_t count, struct rp_errbuf *err)
{
	const struct rp_dicom_info *info = &src->info;
	struct ds_cursor c = { 0 };
	RP_TRY(write_elements(w, src, o, &c, err));
	if (!c.at_pixels)
		return w->status;
	if (ts->encapsulated)
		emit_encapsulated(w, frames, count, o->eot_threshold);
	else if (frames)
		emit_native_pixels(w, &info->img, o->planar >= 0 ? o->planar == 1 : info->planar,
				   frames, count);
	else  /* the source's own native pixel data */
		RP_TRY(emit_elem(w, src, &src->elems[src->pixel_elem], 0, err));
	return write_elements(w, src, o, &c, err);
}


static int
edit_add(struct edits *ed, size_t start, enum edit_kind kind)
{
	if (ed->count == ed->cap) {
		size_t cap = ed->cap ? ed->cap * 2 : 8;
		struct edit *v = realloc(ed->v, cap * sizeof(*v));
		if (!v)
			return RP_E_NOMEM;
		ed->v = v;
		ed->cap = cap;
	}
	ed->v[ed->count++] = (struct edit){ .start = start, .kind = kind };
	return RP_OK;
}

static void
edits_free(struct edits *ed)
{
	for (size_t i = 0; i < ed->count; i++) {
		if (ed->v[i].kind != EDIT_NATIVE_PIXELS)
			continue;
		for (uint32_t f = 0; f < ed->v[i].item->info.frames; f++)
			free((void *)ed->v[i].frames[f].data);
		free(ed->v[i].frames);
	}
	free(ed->v);
	rp__dicom_free_nested(ed->nested, ed->nested_count);
}

/* All frames of a nested image, decoded into canonical frames (*frames_ret, malloc'd). */
static int
decode_nested(const struct rp__nested *nd, struct rp_frame_ref **frames_ret,
	      struct rp_errbuf *why)
{
	*frames_ret = NULL;
	if (nd->status < 0)
		return rp__err(why, nd->status, "%s", nd->why);
	const struct rp_dicom_info *ii = &nd->item->info;
	size_t size = rp_image_frame_size(&ii->img);
	if (size == 0 || ii->frames > RP__NESTED_MAX_BYTES / size)
		return rp__err(why, RP_E_LIMIT, "%u frame(s) of %ux%u is more than a nested "
			       "image may decode to", ii->frames, ii->img.width, ii->img.height);
	struct rp_frame_ref *frames = calloc(ii->frames, sizeof(*frames));
	if (!frames)
		return RP_E_NOMEM;
	int st = RP_OK;
	for (uint32_t f = 0; f < ii->frames && st == RP_OK; f++) {
		void *buf = malloc(size ? size : 1);
		st = buf ? rp_dicom_decode_frame(nd->item, f, buf, size, why) : RP_E_NOMEM;
		frames[f] = (struct rp_frame_ref){ buf, size };
	}
	if (st < 0) {
		for (uint32_t f = 0; f < ii->frames; f++)
			free((void *)frames[f].data);
		free(frames);
		return st;
	}
	*frames_ret = frames;
	return RP_OK;
}

static int
edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Decides what happens to each image nested in a sequence when src is written in ts:
 * native ones and encapsulated ones already in ts (and decodable) stay as they are;
 * other encapsulated ones are decoded and written native; one that cannot be decoded
 * takes its Icon Image Sequence out with it, or fails the write outside one. */
static int
plan_nested(const struct rp_dicom *src, const struct rp_ts_info *ts, struct edits *ed,
	    struct rp_dicom_write_notes *notes, struct rp_errbuf *err)
{
	RP_TRY(rp__dicom_find_nested(src, &ed->nested, &ed->nested_count, err));
	for (size_t i = 0; i < ed->nested_count; i++) {
		const struct rp__nested *nd = &ed->nested[i];
		if (!nd->encapsulated)
			continue;
		bool dropped = false;
		for (size_t j = 0; j < ed->count; j++)
			dropped |= ed->v[j].kind == EDIT_SKIP && ed->v[j].start == nd->icon_start;
		if (dropped)
			continue;
		struct rp_frame_ref *frames;
		struct rp_errbuf why = { "" };
		int st = src->info.ts->encapsulated ? decode_nested(nd, &frames, &why) :
			 rp__err(&why, RP_E_CORRUPT, "encapsulated in a file of native syntax");
		if (st == RP_E_NOMEM)
			return st;
		if (st < 0) {
			if (nd->icon_start == SIZE_MAX)
				return rp__err(err, RP_E_UNSUPPORTED,
					       "pixel data nested at offset %zu cannot be decoded "
					       "to write it in %s: %s", nd->pixel_start, ts->name,
					       why.msg);
			RP_TRY(edit_add(ed, nd->icon_start, EDIT_SKIP));
			if (notes && notes->icons_dropped++ == 0)
				snprintf(notes->dropped_why, sizeof(notes->dropped_why),
					 "Icon Image Sequence at offset %zu: %.200s", nd->icon_start,
					 why.msg);
			continue;
		}
		if (ts == src->info.ts) {
			/* Already in the syntax written, and it decodes: kept verbatim. */
			for (uint32_t f = 0; f < nd->item->info.frames; f++)
				free((void *)frames[f].data);
			free(frames);
			continue;
		}
		st = edit_add(ed, nd->pixel_start, EDIT_NATIVE_PIXELS);
		if (st < 0) {
			for (uint32_t f = 0; f < nd->item->info.frames; f++)
				free((void *)frames[f].data);
			free(frames);
			return st;
		}
		ed->v[ed->count - 1].item = nd->item;
		ed->v[ed->count - 1].frames = frames;
		/* Native data carries no offset tables, and is what the decoder made of the
		 * stored colour model (YBR_FULL_422 JPEG comes out RGB). */
		for (int k = 0; k < 2; k++)
			if (nd->eot_start[k] != SIZE_MAX)
				RP_TRY(edit_add(ed, nd->eot_start[k], EDIT_SKIP));
		const char *pi = rp_dicom_decoded_photometric(nd->item);
		if (nd->photometric_start != SIZE_MAX && pi &&
		    strcmp(pi, nd->item->info.photometric) != 0) {
			RP_TRY(edit_add(ed, nd->photometric_start, EDIT_PHOTOMETRIC));
			ed->v[ed->count - 1].photometric = pi;
		}
		if (notes)
			notes->nested_decoded++;
	}
	if (ed->count)
		qsort(ed->v, ed->count, sizeof(*ed->v), edit_cmp);
	return RP_OK;
}


/* Preamble and meta group; *ts_pos as write_meta() gives it. */
static int
write_head(struct writer *w, const struct rp_dicom *src, const struct rp_ts_info *ts,
	   const struct rp_dicom_write_options *opts, const char *version, uint64_t *ts_pos)
{
	uint8_t preamble[132] = { 0 };
	if (src->info.has_meta && src->meta_start == 132)
		memcpy(preamble, src->file, 128);
	memcpy(preamble + 128, "DICM", 4);
	emit(w, preamble, sizeof(preamble));
	return write_meta(w, src, ts->uid,
			  opts->implementation_version ? opts->implementation_version : version,
			  ts_pos);
}

static int write_all(const struct rp_dicom *src, const struct rp_ts_info *ts,
		     const struct rp_dicom_write_options *opts, const struct edits *ed,
		     const char *version, const struct rp_frame_ref *frames,
		     uint32_t frame_count, rp_write_fn *write, void *ctx,
		     struct rp_errbuf *err);

/* What both writers check first: the options (NULL: *defaults, filled in), and that the
 * transfer syntax they name is one this writer can write (explicit VR little endian,
 * native, encapsulated or deflated). */
static int
write_args(const struct rp_dicom_write_options **opts,
	   struct rp_dicom_write_options *defaults, bool have_args,
	   const struct rp_ts_info **ts, struct rp_errbuf *err)
{
	if (!*opts) {
		rp_dicom_write_options_init(defaults);
		*opts = defaults;
	}
	if (!have_args || (*opts)->struct_size != sizeof(**opts))
		return rp__err(err, RP_E_INVALID_ARG, "write: missing argument");
	*ts = rp_ts_lookup((*opts)->ts_uid);
	if (!*ts || (*ts)->big_endian || !(*ts)->explicit_vr)
		return rp__err(err, RP_E_UNSUPPORTED, "cannot write transfer syntax %s",
			       (*opts)->ts_uid ? (*opts)->ts_uid : "(null)");
	return RP_OK;
}

/* The Implementation Version Name both writers put in the file meta information. */
static void
writer_version(char version[17])
{
	snprintf(version, 17, "RADPIPE_%s", RP_VERSION_STRING);
}

int
rp_dicom_write(const struct rp_dicom *src, const struct rp_dicom_write_options *opts,
	       const struct rp_frame_ref *frames, uint32_t frame_count, rp_write_fn *write,
	       void *ctx, struct rp_errbuf *err)
{
	struct rp_dicom_write_options defaults;
	const struct rp_ts_info *ts = NULL;
	RP_TRY(write_args(&opts, &defaults, src && write, &ts, err));
	const struct rp_dicom_info *info = &src->info;
	if (info->has_pixels) {
		if (frames && frame_count != info->frames)
			return rp__err(err, RP_E_INVALID_ARG, "write: %u frames given, dataset has %u",
				       frame_count, info->frames);
		if (ts->encapsulated && !frames)
			return rp__err(err, RP_E_INVALID_ARG, "write: encapsulated output needs frames");
		if (!frames && info->encapsulated)
			return rp__err(err, RP_E_INVALID_ARG, "write: native output needs frames");
		size_t frame = rp_image_frame_size(&info->img);
		for (uint32_t f = 0; frames && f < frame_count; f++) {
			if (!ts->encapsulated && frames[f].size != frame)
				return rp__err(err, RP_E_INVALID_ARG, "write: frame %u is %zu bytes, not %zu",
					       f, frames[f].size, frame);
			if (ts->encapsulated && frames[f].size > UINT32_MAX - 9)
				return rp__err(err, RP_E_LIMIT, "write: frame %u too large for a fragment", f);
		}
	}
	char version[17];
	writer_version(version);
	if (opts->notes)
		memset(opts->notes, 0, sizeof(*opts->notes));
	struct edits ed = { 0 };
	int st = plan_nested(src, ts, &ed, opts->notes, err);
	if (st == RP_OK)
		st = write_all(src, ts, opts, &ed, version, frames, frame_count, write, ctx, err);
	edits_free(&ed);
	return st;
}

/* rp_dicom_write() once its arguments are checked and the nested images planned. */
static int
write_all(const struct rp_dicom *src, const struct rp_ts_info *ts,
	  const struct rp_dicom_write_options *opts, const struct edits *ed,
	  const char *version, const struct rp_frame_ref *frames, uint32_t frame_count,
	  rp_write_fn *write, void *ctx, struct rp_errbuf *err)
{
	struct writer w = { .fn = write, .ctx = ctx, .edits = ed };
	uint64_t ts_pos;
	RP_TRY(write_head(&w, src, ts, opts, version, &ts_pos));
	if (!ts->deflated)
		return write_dataset(&w, src, ts, opts, frames, frame_count, err);

	struct membuf m = { 0 };
	struct writer mw = { .fn = membuf_write, .ctx = &m, .edits = ed };
	int st = write_dataset(&mw, src, ts, opts, frames, frame_count, err);
	uint8_t *z = NULL;
	size_t zsize = 0;
	if (st == RP_OK)
		st = rp__deflate_raw(m.data, m.size, &z, &zsize);
	free(m.data);
	if (st == RP_OK)
		emit(&w, z, zsize);
	free(z);
	return st < 0 ? st : w.status;
}

int
rp_dicom_write_file(const char *path, const struct rp_dicom *src,
		    const struct rp_dicom_write_options *opts, const struct rp_frame_ref *frames,
		    uint32_t frame_count, struct rp_errbuf *err)
{
	if (!path)
		return RP_E_INVALID_ARG;
	struct rp__atomic_file f;
	RP_TRY(rp__atomic_open(&f, path, err));
	int st = rp_dicom_write(src, opts, frames, frame_count, rp__atomic_write, &f, err);
	if (st < 0) {
		if (err && (st == RP_E_IO || st == RP_E_NOSPACE) && f.write_errno)
			rp__err(err, st, "%s: write failed: %s", path, strerror(f.write_errno));
		rp__atomic_abort(&f);
		return st;
	}
	return rp__atomic_commit(&f, err);
}

/* ------------------------------------------------------------------------------------ */
/* Writing frame by frame: everything before the pixel data is written at open, with the
 * Basic Offset Table reserved as zeros; frames are appended as they come; the elements
 * after the pixel data, the offset table and (when it narrowed) the transfer syntax UID
 * are written at commit.  So a writer holds one frame, not the object.  Frames that pass
 * the threshold need the Extended Offset Table, which precedes the pixel data: the file
 * is then copied once more with the table in its place (only objects of gigabytes). */

struct rp_dicom_stream {
	struct rp__atomic_file file;
	struct writer w;
	const struct rp_dicom *src;
	const struct rp_ts_info *ts;
	struct rp_dicom_write_options opts;
	struct edits ed;
	struct ds_cursor cursor;
	uint32_t count, next;        /* frames expected, frames written */
	uint64_t ts_pos;             /* file offset of the (0002,0010) value */
	/* Encapsulated: */
	uint64_t pixels_pos;         /* file offset of the Pixel Data element */
	uint64_t table_pos;          /* file offset of the first Basic Offset Table value */
	uint64_t fragments;          /* bytes of frame items written so far */
	uint64_t *offsets, *lengths; /* per frame, for the offset table */
	/* Native: */
	size_t frame_size;
	bool planar;
	uint8_t *tmp;                /* one frame, for the planar layout */
};

static void
stream_free(struct rp_dicom_stream *s)
{
	edits_free(&s->ed);
	free(s->offsets);
	free(s->lengths);
	free(s->tmp);
	free(s);
}

void
rp_dicom_stream_abort(struct rp_dicom_stream *s)
{
	if (!s)
		return;
	rp__atomic_abort(&s->file);
	stream_free(s);
}

/* The write error behind status st, named as rp_dicom_write_file() names it. */
static int
stream_write_error(struct rp_dicom_stream *s, int st, struct rp_errbuf *err)
{
	if (err && (st == RP_E_IO || st == RP_E_NOSPACE) && s->file.write_errno)
		rp__err(err, st, "%s: write failed: %s", s->file.path,
			strerror(s->file.write_errno));
	return st;
}

static int
stream_check(const struct rp_dicom *src, const struct rp_ts_info *ts,
	     const struct rp_dicom_write_options *opts, struct rp_errbuf *err)
{
	const struct rp_dicom_info *info = &src->info;
	/* Deflate compresses the whole dataset, and a lossy ratio precedes the pixels: both
	 * need every frame first (rp_dicom_write()). */
	if (ts->deflated || opts->lossy)
		return rp__err(err, RP_E_UNSUPPORTED, "frame-by-frame writing takes neither "
			       "deflate nor lossy labels");
	if (!info->has_pixels || info->frames == 0)
		return rp__err(err, RP_E_INVALID_ARG, "frame-by-frame writing needs pixel data");
	if (ts->encapsulated)
		return info->frames > UINT32_MAX / 8 ?
		       rp__err(err, RP_E_LIMIT, "write: %u frames", info->frames) : RP_OK;
	if (info->img.bits_allocated < 8)
		return rp__err(err, RP_E_UNSUPPORTED, "frame-by-frame writing needs 8 bits or "
			       "more per sample");
	if (native_pixel_bytes(&info->img, info->frames) > 0xFFFFFFFEu)
		return rp__err(err, RP_E_LIMIT, "native pixel data of %u frames exceeds the "
			       "2^32 - 2 bytes of one element", info->frames);
	return RP_OK;
}

/* Pixel Data's header and, for encapsulated data, the Basic Offset Table as zeros. */
static void
stream_pixels_start(struct rp_dicom_stream *s)
{
	struct writer *w = &s->w;
	const struct rp_image_desc *img = &s->src->info.img;
	if (!s->ts->encapsulated) {
		uint64_t total = native_pixel_bytes(img, s->count);
		emit_header(w, RP__TAG_PIXEL_DATA, img->bits_allocated > 8 ? VR(OW) : VR(OB),
			    (uint32_t)(total + (total & 1)));
		return;
	}
	s->pixels_pos = w->pos;
	emit_header(w, RP__TAG_PIXEL_DATA, VR(OB), RP__UNDEFINED_LENGTH);
	emit_header(w, RP__TAG_ITEM, 0, s->count * 4u);
	s->table_pos = w->pos;
	emit_zeros(w, (uint64_t)s->count * 4);
}

int
rp_dicom_stream_open(const char *path, const struct rp_dicom *src,
		     const struct rp_dicom_write_options *opts, struct rp_dicom_stream **out,
		     struct rp_errbuf *err)
{
	*out = NULL;
	struct rp_dicom_write_options defaults;
	const struct rp_ts_info *ts = NULL;
	RP_TRY(write_args(&opts, &defaults, path && src, &ts, err));
	RP_TRY(stream_check(src, ts, opts, err));
	struct rp_dicom_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return RP_E_NOMEM;
	s->src = src;
	s->ts = ts;
	s->opts = *opts;
	s->count = src->info.frames;
	s->frame_size = rp_image_frame_size(&src->info.img);
	s->planar = opts->planar >= 0 ? opts->planar == 1 : src->info.planar;
	if (opts->notes)
		memset(opts->notes, 0, sizeof(*opts->notes));
	int st = RP_OK;
	if (ts->encapsulated) {
		s->offsets = calloc(s->count, sizeof(*s->offsets));
		s->lengths = calloc(s->count, sizeof(*s->lengths));
		st = s->offsets && s->lengths ? RP_OK : RP_E_NOMEM;
	} else if (s->planar) {
		s->tmp = malloc(s->frame_size);
		st = s->tmp ? RP_OK : RP_E_NOMEM;
	}
	if (st == RP_OK)
		st = plan_nested(src, ts, &s->ed, opts->notes, err);
	if (st < 0) {
		stream_free(s);
		return st;
	}
	st = rp__atomic_open(&s->file, path, err);
	if (st < 0) {
		stream_free(s);
		return st;
	}
	char version[17];
	writer_version(version);
	s->w = (struct writer){ .fn = rp__atomic_write, .ctx = &s->file, .edits = &s->ed };
	st = write_head(&s->w, src, ts, opts, version, &s->ts_pos);
	if (st == RP_OK)
		st = write_elements(&s->w, src, opts, &s->cursor, err);
	if (st == RP_OK)
		stream_pixels_start(s);
	st = st < 0 ? st : s->w.status;
	if (st < 0) {
		stream_write_error(s, st, err);
		rp_dicom_stream_abort(s);
		return st;
	}
	*out = s;
	return RP_OK;
}

int
rp_dicom_stream_frame(struct rp_dicom_stream *s, const void *data, size_t size,
		      struct rp_errbuf *err)
{
	if (s->w.status < 0)
		return s->w.status;
	if (s->next == s->count)
		return rp__err(err, RP_E_INVALID_ARG, "write: more than %u frames", s->count);
	struct writer *w = &s->w;
	if (!s->ts->encapsulated) {
		if (size != s->frame_size)
			return rp__err(err, RP_E_INVALID_ARG, "write: frame %u is %zu bytes, not %zu",
				       s->next, size, s->frame_size);
		emit_native_frame(w, &s->src->info.img, s->planar, data, s->tmp);
	} else {
		if (size > UINT32_MAX - 9)
			return rp__err(err, RP_E_LIMIT, "write: frame %u too large for a fragment",
				       s->next);
		s->offsets[s->next] = s->fragments;
		s->lengths[s->next] = size;
		emit_header(w, RP__TAG_ITEM, 0, (uint32_t)(size + (size & 1)));
		emit(w, data, size);
		if (size & 1)
			emit(w, "", 1);      /* pad after EOI/EOC, PS3.5 A.4 */
		s->fragments += 8 + (uint64_t)size + (size & 1);
	}
	s->next++;
	return w->status < 0 ? stream_write_error(s, w->status, err) : RP_OK;
}

/* The Basic Offset Table, over the zeros reserved for it. */
static int
stream_patch_bot(struct rp_dicom_stream *s)
{
	uint8_t *v = malloc((size_t)s->count * 4);
	if (!v)
		return RP_E_NOMEM;
	for (uint32_t f = 0; f < s->count; f++)
		rp__store_le32(v + (size_t)f * 4, (uint32_t)s->offsets[f]);
	int st = RP_OK;
	if (rp__pwrite_full(s->file.fd, v, (size_t)s->count * 4, s->table_pos) != 0) {
		s->file.write_errno = errno;
		st = rp__errno_status(errno);
	}
	free(v);
	return st;
}

/* len bytes of in_fd from offset off, appended to f. */
static int
copy_range(int in_fd, uint64_t off, uint64_t len, struct rp__atomic_file *f)
{
	uint8_t *buf = malloc(1 << 20);
	if (!buf)
		return RP_E_NOMEM;
	int st = RP_OK;
	while (len && st == RP_OK) {
		size_t n = len < (1u << 20) ? (size_t)len : (1u << 20);
		if (rp__pread_full(in_fd, buf, n, off) != 0) {
			f->write_errno = errno ? errno : EIO;
			st = rp__errno_status(f->write_errno);
			break;
		}
		st = rp__atomic_write(f, buf, n);
		off += n;
		len -= n;
	}
	free(buf);
	return st;
}

/* The written file again, with the Extended Offset Table before the pixel data and an
 * empty Basic Offset Table (PS3.5 A.4.2), into a new temporary that replaces the first. */
static int
stream_relocate_eot(struct rp_dicom_stream *s, struct rp_errbuf *err)
{
	const uint32_t n = s->count;
	int in = open(s->file.tmp, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		s->file.write_errno = errno;
		return rp__errno_status(errno);
	}
	struct rp__atomic_file nf;
	int st = rp__atomic_open(&nf, s->file.path, err);
	if (st < 0) {
		close(in);
		return st;
	}
	struct writer w = { .fn = rp__atomic_write, .ctx = &nf };
	st = copy_range(in, 0, s->pixels_pos, &nf);
	uint8_t v[8];
	emit_header(&w, RP__TAG_EOT, VR(OV), n * 8u);
	for (uint32_t f = 0; f < n; f++) {
		rp__store_le64(v, s->offsets[f]);
		emit(&w, v, 8);
	}
	emit_header(&w, RP__TAG_EOT_LENGTHS, VR(OV), n * 8u);
	for (uint32_t f = 0; f < n; f++) {
		rp__store_le64(v, s->lengths[f]);
		emit(&w, v, 8);
	}
	emit_header(&w, RP__TAG_PIXEL_DATA, VR(OB), RP__UNDEFINED_LENGTH);
	emit_header(&w, RP__TAG_ITEM, 0, 0);
	if (st == RP_OK)
		st = w.status;
	const uint64_t frames_pos = s->table_pos + (uint64_t)n * 4;
	if (st == RP_OK)
		st = copy_range(in, frames_pos, s->w.pos - frames_pos, &nf);
	close(in);
	if (st < 0) {
		if (nf.write_errno)
			s->file.write_errno = nf.write_errno;
		rp__atomic_abort(&nf);
		return st;
	}
	rp__atomic_abort(&s->file);
	s->file = nf;
	return RP_OK;
}

/* Replaces the meta group's transfer syntax UID by one of the same padded length. */
static int
stream_patch_ts(struct rp_dicom_stream *s, const char *uid, struct rp_errbuf *err)
{
	const struct rp_ts_info *ts = rp_ts_lookup(uid);
	size_t had = strlen(s->ts->uid), now = strlen(uid);
	if (!ts || ts->encapsulated != s->ts->encapsulated || had + (had & 1) != now + (now & 1))
		return rp__err(err, RP_E_INVALID_ARG, "write: %s cannot replace %s in place", uid,
			       s->ts->uid);
	char v[66] = { 0 };
	memcpy(v, uid, now);
	if (rp__pwrite_full(s->file.fd, v, now + (now & 1), s->ts_pos) != 0) {
		s->file.write_errno = errno;
		return rp__errno_status(errno);
	}
	return RP_OK;
}

int
rp_dicom_stream_commit(struct rp_dicom_stream *s, const char *ts_uid, struct rp_errbuf *err)
{
	int st = s->w.status;
	if (st == RP_OK && s->next != s->count)
		st = rp__err(err, RP_E_INVALID_ARG, "write: %u of %u frames given", s->next,
			     s->count);
	if (st == RP_OK) {
		if (s->ts->encapsulated) {
			emit_header(&s->w, RP__TAG_SEQ_END, 0, 0);
		} else {
			uint64_t total = native_pixel_bytes(&s->src->info.img, s->count);
			if (total & 1)
				emit(&s->w, "", 1);
		}
		st = write_elements(&s->w, s->src, &s->opts, &s->cursor, err);
	}
	if (st == RP_OK && s->ts->encapsulated)
		st = s->fragments > s->opts.eot_threshold ? stream_relocate_eot(s, err) :
		     stream_patch_bot(s);
	if (st == RP_OK && ts_uid && strcmp(ts_uid, s->ts->uid) != 0)
		st = stream_patch_ts(s, ts_uid, err);
	if (st < 0) {
		stream_write_error(s, st, err);
		rp_dicom_stream_abort(s);
		return st;
	}
	st = rp__atomic_commit(&s->file, err);
	stream_free(s);
	return st;
}
