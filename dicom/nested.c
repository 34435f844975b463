/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/nested.c - Pixel Data inside sequences: the Icon Image Sequence (0088,0200,
 * PS3.3 C.7.6.1.1.6) and any other item that carries an image of its own.
 *
 * The parser reads only the top level; an item holding Pixel Data is found here and
 * parsed as a small dataset of its own (its elements, the parent's buffer and transfer
 * syntax), so the frame code decodes it like any image.  The writer uses this to keep
 * such images consistent with the syntax it writes, and a caller checking a written file
 * uses rp_dicom_check_nested_pixels() to read them as an independent reader would: a
 * DCMTK or pydicom reader applies the file's transfer syntax to every Pixel Data it
 * meets, nested or not. */
#include "dicom/dicom_impl.h"

#include <stdio.h>

#define RP__TAG_ICON_IMAGE_SEQUENCE RP__TAG(0x0088, 0x0200)

struct walk {
	const struct rp_dicom *ds;
	struct rp__nested *list;
	size_t count, cap;
};

/* depth: the nesting level seq was read at (0 top level), as in the parser, so that the
 * walk accepts exactly the nesting rp_dicom_parse() accepted. */
static int walk_sequence(struct walk *wk, const struct rp__elem *seq, size_t icon_start,
			 unsigned depth, struct rp_errbuf *err);

static uint32_t
load_tag(const uint8_t *p, bool be)
{
	return be ? RP__TAG(rp__load_be16(p), rp__load_be16(p + 2)) :
		    RP__TAG(rp__load_le16(p), rp__load_le16(p + 2));
}

/* Takes ownership of elems (the item's elements) and records the image they hold. */
static int
add_nested(struct walk *wk, const struct rp__elem *seq, struct rp__elem *elems, size_t n,
	   size_t pixel, size_t icon_start)
{
	if (wk->count == wk->cap) {
		size_t cap = wk->cap ? wk->cap * 2 : 4;
		struct rp__nested *l = realloc(wk->list, cap * sizeof(*l));
		if (!l) {
			free(elems);
			return RP_E_NOMEM;
		}
		wk->list = l;
		wk->cap = cap;
	}
	struct rp_dicom *item = calloc(1, sizeof(*item));
	if (!item) {
		free(elems);
		return RP_E_NOMEM;
	}
	const struct rp_dicom *ds = wk->ds;
	item->opts = ds->opts;
	item->file = ds->file;
	item->file_size = ds->file_size;
	item->buf = ds->buf;
	item->size = ds->size;
	item->enc = seq->enc;
	item->info.ts = ds->info.ts;
	item->elems = elems;
	item->elem_count = n;
	item->nested = true;

	struct rp__nested *nd = &wk->list[wk->count++];
	memset(nd, 0, sizeof(*nd));
	nd->item = item;
	nd->pixel_start = elems[pixel].start;
	nd->encapsulated = elems[pixel].encapsulated;
	nd->icon_start = icon_start;
	nd->photometric_start = nd->eot_start[0] = nd->eot_start[1] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (elems[i].tag == RP__TAG(0x0028, 0x0004))
			nd->photometric_start = elems[i].start;
		else if (elems[i].tag == RP__TAG_EOT)
			nd->eot_start[0] = elems[i].start;
		else if (elems[i].tag == RP__TAG_EOT_LENGTHS)
			nd->eot_start[1] = elems[i].start;
	}
	struct rp_errbuf why = { "" };
	nd->status = rp__dicom_parse_image(item, &why);
	if (nd->status == RP_OK && !item->info.has_pixels)
		nd->status = rp__err(&why, RP_E_UNSUPPORTED,
				     "its item has no Rows/Columns to describe it");
	memcpy(nd->why, why.msg, sizeof(nd->why));
	return RP_OK;
}

/* The elements of one item in [pos, end) (or up to its delimiter when until_delim):
 * nested sequences are walked, and Pixel Data among them is recorded.  *next gets the
 * offset after the item. */
static int
walk_item(struct walk *wk, const struct rp__elem *seq, size_t pos, size_t end,
	  bool until_delim, size_t icon_start, unsigned depth, size_t *next,
	  struct rp_errbuf *err)
{
	const struct rp_dicom *ds = wk->ds;
	struct rp__elem *elems = NULL;
	size_t n = 0, cap = 0, pixel = SIZE_MAX;
	int st = RP_OK;

	for (;;) {
		if (pos >= end) {
			if (until_delim)
				st = rp__err(err, RP_E_CORRUPT,
					     "item ends without a delimiter at offset %zu", pos);
			break;
		}
		if (end - pos < 8) {
			st = rp__err(err, RP_E_CORRUPT, "truncated element in an item at offset %zu",
				     pos);
			break;
		}
		if (until_delim &&
		    load_tag(ds->buf + pos, seq->enc.big_endian) == RP__TAG_ITEM_END) {
			pos += 8;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct rp__elem *e = realloc(elems, cap * sizeof(*e));
			if (!e) {
				st = RP_E_NOMEM;
				break;
			}
			elems = e;
		}
		struct rp__elem *e = &elems[n];
		st = rp__read_elem(ds, ds->buf, pos, end, seq->enc, depth, e, err);
		if (st < 0)
			break;
		n++;
		pos = e->end;
		if (e->tag == RP__TAG_PIXEL_DATA) {
			pixel = n - 1;
		} else if (e->vr == VR(SQ)) {
			size_t inner = e->tag == RP__TAG_ICON_IMAGE_SEQUENCE ? e->start : icon_start;
			st = walk_sequence(wk, e, inner, depth, err);
			if (st < 0)
				break;
		}
	}
	*next = pos;
	if (st < 0 || pixel == SIZE_MAX) {
		free(elems);
		return st;
	}
	return add_nested(wk, seq, elems, n, pixel, icon_start);
}

static int
walk_sequence(struct walk *wk, const struct rp__elem *seq, size_t icon_start, unsigned depth,
	      struct rp_errbuf *err)
{
	const uint8_t *buf = wk->ds->buf;
	const bool be = seq->enc.big_endian;
	size_t pos = seq->value, end = seq->value + seq->length;

	if (depth > wk->ds->opts.max_depth)
		return rp__err(err, RP_E_CORRUPT, "sequences nested too deeply at offset %zu",
			       seq->start);
	while (pos < end) {
		if (end - pos < 8)
			return rp__err(err, RP_E_CORRUPT, "truncated item header at offset %zu",
				       pos);
		uint32_t tag = load_tag(buf + pos, be);
		uint32_t len = be ? rp__load_be32(buf + pos + 4) : rp__load_le32(buf + pos + 4);
		size_t value = pos + 8;
		if (tag != RP__TAG_ITEM)
			return rp__err(err, RP_E_CORRUPT, "expected an item at offset %zu", pos);
		if (len == RP__UNDEFINED_LENGTH) {
			RP_TRY(walk_item(wk, seq, value, end, true, icon_start, depth + 1, &pos,
					 err));
		} else {
			if (len > end - value)
				return rp__err(err, RP_E_CORRUPT,
					       "item at offset %zu overruns its sequence", pos);
			size_t ignored;
			RP_TRY(walk_item(wk, seq, value, value + len, false, icon_start, depth + 1,
					 &ignored, err));
			pos = value + len;
		}
	}
	return RP_OK;
}

int
rp__dicom_find_nested(const struct rp_dicom *ds, struct rp__nested **list, size_t *count,
		      struct rp_errbuf *err)
{
	struct walk wk = { .ds = ds };
	int st = RP_OK;

	*list = NULL;
	*count = 0;
	for (size_t i = 0; i < ds->elem_count && st == RP_OK; i++) {
		const struct rp__elem *e = &ds->elems[i];
		size_t icon = e->tag == RP__TAG_ICON_IMAGE_SEQUENCE ? e->start : SIZE_MAX;
		if (e->vr == VR(SQ) && e->tag != RP__TAG_PIXEL_DATA)
			st = walk_sequence(&wk, e, icon, 0, err);
	}
	if (st < 0) {
		rp__dicom_free_nested(wk.list, wk.count);
		return st;
	}
	*list = wk.list;
	*count = wk.count;
	return RP_OK;
}

void
rp__dicom_free_nested(struct rp__nested *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		rp_dicom_free(list[i].item);
	free(list);
}

int
rp_dicom_check_nested_pixels(const struct rp_dicom *ds, struct rp_errbuf *err)
{
	if (!ds)
		return RP_E_INVALID_ARG;
	struct rp__nested *list;
	size_t count;
	RP_TRY(rp__dicom_find_nested(ds, &list, &count, err));
	int st = RP_OK;
	uint8_t *frame = NULL;
	for (size_t i = 0; i < count && st == RP_OK; i++) {
		const struct rp__nested *nd = &list[i];
		if (nd->status < 0) {
			/* Native bytes whose item does not describe an image we know are opaque
			 * to any reader; a short native value, or an encapsulated one that
			 * cannot be decoded, is not. */
			if (nd->encapsulated || nd->status != RP_E_UNSUPPORTED)
				st = rp__err(err, nd->status, "pixel data nested at offset %zu: %s",
					     nd->pixel_start, nd->why);
			continue;
		}
		const struct rp_dicom_info *info = &nd->item->info;
		if (!info->encapsulated)
			continue;    /* rp__dicom_parse_image() checked its length */
		if (!ds->info.ts->encapsulated) {
			st = rp__err(err, RP_E_CORRUPT, "encapsulated pixel data nested at offset "
				     "%zu in a file of native syntax %s", nd->pixel_start,
				     ds->info.ts->uid);
			break;
		}
		size_t size = rp_image_frame_size(&info->img);
		if (size == 0 || info->frames > RP__NESTED_MAX_BYTES / size) {
			st = rp__err(err, RP_E_LIMIT, "pixel data nested at offset %zu: %u frame(s) "
				     "of %ux%u is more than a nested image may decode to",
				     nd->pixel_start, info->frames, info->img.width,
				     info->img.height);
			break;
		}
		uint8_t *f = realloc(frame, size);
		if (!f) {
			st = RP_E_NOMEM;
			break;
		}
		frame = f;
		for (uint32_t k = 0; k < info->frames && st == RP_OK; k++) {
			struct rp_errbuf why = { "" };
			st = rp_dicom_decode_frame(nd->item, k, frame, size, &why);
			if (st < 0)
				rp__err(err, st, "pixel data nested at offset %zu does not decode "
					"as %s: %s", nd->pixel_start, ds->info.ts->name, why.msg);
		}
	}
	free(frame);
	rp__dicom_free_nested(list, count);
	return st;
}
