/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_dicom.c - the DICOM reader and writer on datasets built here byte by byte:
 * every encoding, sequences of both length forms, the ways frames sit in fragments, and
 * damage at every offset. */
#include "test_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void
put16(struct buf *b, uint16_t v, int be)
{
	uint8_t x[2] = { be ? v >> 8 : v & 0xFF, be ? v & 0xFF : v >> 8 };
	put(b, x, 2);
}

static void
put32(struct buf *b, uint32_t v, int be)
{
	if (be) {
		put16(b, v >> 16, 1);
		put16(b, v & 0xFFFF, 1);
	} else {
		put16(b, v & 0xFFFF, 0);
		put16(b, v >> 16, 0);
	}
}

enum form { EXPL_LE, IMPL_LE, EXPL_BE };

static int
long_vr(const char *vr)
{
	return strstr("OB OD OF OL OV OW SQ UC UN UR UT", vr) != NULL;
}

static void
elem(struct buf *b, enum form f, uint16_t g, uint16_t e, const char *vr, const void *v,
     uint32_t len)
{
	int be = f == EXPL_BE;
	put16(b, g, be);
	put16(b, e, be);
	if (f == IMPL_LE || g == 0xFFFE) {
		put32(b, len, be);
	} else {
		put(b, vr, 2);
		if (long_vr(vr)) {
			put16(b, 0, be);
			put32(b, len, be);
		} else {
			put16(b, (uint16_t)len, be);
		}
	}
	if (v && len != 0xFFFFFFFF)
		put(b, v, len);
}

static void
elem_us(struct buf *b, enum form f, uint16_t g, uint16_t e, uint16_t v)
{
	uint8_t x[2] = { f == EXPL_BE ? v >> 8 : v & 0xFF, f == EXPL_BE ? v & 0xFF : v >> 8 };
	elem(b, f, g, e, "US", x, 2);
}

static void
meta(struct buf *b, const char *ts)
{
	uint8_t pre[128] = { 0 };
	put(b, pre, 128);
	put(b, "DICM", 4);
	struct buf m = { 0 };
	size_t n = strlen(ts);
	char t[72];
	memcpy(t, ts, n);
	if (n & 1)
		t[n++] = '\0';
	elem(&m, EXPL_LE, 2, 0x0010, "UI", t, (uint32_t)n);
	uint8_t gl[4] = { (uint8_t)m.n, (uint8_t)(m.n >> 8), 0, 0 };
	elem(b, EXPL_LE, 2, 0, "UL", gl, 4);
	put(b, m.p, m.n);
	free(m.p);
}

/* A 3x2, 2-frame, signed 12-in-16 image with a nested sequence, in any encoding. */
static const int16_t pixels[12] = { -2048, -1, 0, 1, 2047, 100, -100, 5, 6, 7, -8, 9 };

static struct buf
make_native(enum form f)
{
	struct buf b = { 0 };
	meta(&b, f == EXPL_LE ? "1.2.840.10008.1.2.1" : f == IMPL_LE ? "1.2.840.10008.1.2" :
								     "1.2.840.10008.1.2.2");
	elem(&b, f, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7", 26);
	elem(&b, f, 0x0008, 0x0060, "CS", "CT", 2);
	/* (0008,1140) SQ undefined length, one undefined item with a nested defined SQ */
	elem(&b, f, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
	elem(&b, f, 0xFFFE, 0xE000, NULL, NULL, 0xFFFFFFFF);
	elem(&b, f, 0x0008, 0x1150, "UI", "1.2.3.4", 8);
	elem(&b, f, 0xFFFE, 0xE00D, NULL, NULL, 0);
	elem(&b, f, 0xFFFE, 0xE0DD, NULL, NULL, 0);
	elem(&b, f, 0x0010, 0x0020, "LO", "PAT-1 ", 6);
	elem_us(&b, f, 0x0028, 0x0002, 1);
	elem(&b, f, 0x0028, 0x0004, "CS", "MONOCHROME2 ", 12);
	elem(&b, f, 0x0028, 0x0008, "IS", "2 ", 2);
	elem_us(&b, f, 0x0028, 0x0010, 2);
	elem_us(&b, f, 0x0028, 0x0011, 3);
	elem_us(&b, f, 0x0028, 0x0100, 16);
	elem_us(&b, f, 0x0028, 0x0101, 12);
	elem_us(&b, f, 0x0028, 0x0102, 11);
	elem_us(&b, f, 0x0028, 0x0103, 1);
	uint8_t px[24];
	for (int i = 0; i < 12; i++) {
		uint16_t v = (uint16_t)pixels[i] & 0x0FFF;   /* stored as 12-bit patterns */
		px[2 * i] = f == EXPL_BE ? v >> 8 : v & 0xFF;
		px[2 * i + 1] = f == EXPL_BE ? v & 0xFF : v >> 8;
	}
	elem(&b, f, 0x7FE0, 0x0010, "OW", px, 24);
	return b;
}

static void
check_native(const struct buf *b)
{
	struct rp_dicom *ds;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(b->p, b->n, NULL, &ds, &err), &err);
	const struct rp_dicom_info *i = rp_dicom_get_info(ds);
	assert_int_equal(i->has_pixels, 1);
	assert_int_equal(i->img.width, 3);
	assert_int_equal(i->img.height, 2);
	assert_int_equal(i->frames, 2);
	assert_int_equal(i->img.bits_stored, 12);
	assert_int_equal(i->img.is_signed, 1);
	assert_string_equal(i->modality, "CT");
	assert_string_equal(i->patient_id, "PAT-1");
	int16_t frame[6];
	for (uint32_t f = 0; f < 2; f++) {
		RP_ASSERT_OK(rp_dicom_decode_frame(ds, f, frame, sizeof(frame), &err), &err);
		for (int k = 0; k < 6; k++)
			assert_int_equal(frame[k], pixels[f * 6 + k]);   /* sign restored */
	}
	int dirty = -1;
	RP_ASSERT_OK(rp_dicom_scan_high_bits(ds, &dirty, &err), &err);
	assert_int_equal(dirty, 0);
	rp_dicom_free(ds);
}

static void
test_native_encodings(void **state)
{
	(void)state;
	for (enum form f = EXPL_LE; f <= EXPL_BE; f++) {
		struct buf b = make_native(f);
		check_native(&b);
		free(b.p);
	}
}

static void
test_pixel_hash_same_across_encodings(void **state)
{
	(void)state;
	uint8_t h[3][32];
	for (enum form f = EXPL_LE; f <= EXPL_BE; f++) {
		struct buf b = make_native(f);
		struct rp_dicom *ds;
		RP_ASSERT_OK(rp_dicom_parse(b.p, b.n, NULL, &ds, NULL), NULL);
		RP_ASSERT_OK(rp_dicom_pixel_hash(ds, h[f], NULL), NULL);
		rp_dicom_free(ds);
		free(b.p);
	}
	assert_memory_equal(h[0], h[1], 32);
	assert_memory_equal(h[0], h[2], 32);
}

/* Every truncation and every single-byte change of a length field ends in a status,
 * never a crash (ASan/UBSan builds check the "never reads out of bounds" part). */
static void
test_damage_everywhere(void **state)
{
	(void)state;
	for (enum form f = EXPL_LE; f <= EXPL_BE; f++) {
		struct buf b = make_native(f);
		for (size_t cut = 0; cut < b.n; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1);
			memcpy(copy, b.p, cut);
			struct rp_dicom *ds = NULL;
			struct rp_errbuf err = { "" };
			int st = rp_dicom_parse(copy, cut, NULL, &ds, &err);
			if (st == RP_OK) {
				/* only a cut between elements, before the pixel data, is a valid
				 * (pixel-less) dataset */
				assert_int_equal(rp_dicom_get_info(ds)->has_pixels, 0);
				rp_dicom_free(ds);
			} else {
				assert_true(err.msg[0] != '\0');
			}
			free(copy);
		}
		for (size_t at = 132; at < b.n; at++) {
			for (int bit = 0; bit < 8; bit += 3) {
				uint8_t *copy = malloc(b.n);
				memcpy(copy, b.p, b.n);
				copy[at] ^= (uint8_t)(0x80 >> bit);
				struct rp_dicom *ds = NULL;
				if (rp_dicom_parse(copy, b.n, NULL, &ds, NULL) == RP_OK) {
					const struct rp_dicom_info *i = rp_dicom_get_info(ds);
					if (i->has_pixels) {
						size_t fs = rp_image_frame_size(&i->img);
						uint8_t *fr = malloc(fs);
						for (uint32_t k = 0; k < i->frames; k++)
							{ int r = rp_dicom_decode_frame(ds, k, fr, fs, NULL); (void)r; }
						free(fr);
					}
					rp_dicom_free(ds);
				}
				free(copy);
			}
		}
		free(b.p);
	}
}

/* Encapsulated data: two frames laid out in the ways found in the wild. */
static struct buf
make_encapsulated(int layout)
{
	struct buf b = { 0 };
	meta(&b, "1.2.840.10008.1.2.4.70");
	elem_us(&b, EXPL_LE, 0x0028, 0x0002, 1);
	elem(&b, EXPL_LE, 0x0028, 0x0004, "CS", "MONOCHROME2 ", 12);
	elem(&b, EXPL_LE, 0x0028, 0x0008, "IS", "2 ", 2);
	elem_us(&b, EXPL_LE, 0x0028, 0x0010, 2);
	elem_us(&b, EXPL_LE, 0x0028, 0x0011, 2);
	elem_us(&b, EXPL_LE, 0x0028, 0x0100, 8);
	elem_us(&b, EXPL_LE, 0x0028, 0x0101, 8);
	elem_us(&b, EXPL_LE, 0x0028, 0x0103, 0);
	static const uint8_t f0a[4] = { 0xFF, 0xD8, 0x01, 0x02 }, f0b[2] = { 0x03, 0x04 };
	static const uint8_t f1[4] = { 0xFF, 0xD8, 0x05, 0x06 };
	if (layout == 3) {
		/* Extended Offset Table + empty BOT */
		uint8_t eot[16] = { 0 }, eol[16] = { 0 };
		eot[8] = 8 + 4 + 8 + 2;
		eol[0] = 6;
		eol[8] = 4;
		elem(&b, EXPL_LE, 0x7FE0, 0x0001, "OV", eot, 16);
		elem(&b, EXPL_LE, 0x7FE0, 0x0002, "OV", eol, 16);
	}
	elem(&b, EXPL_LE, 0x7FE0, 0x0010, "OB", NULL, 0xFFFFFFFF);
	if (layout == 0) {     /* BOT filled: frame 0 = two fragments */
		uint8_t bot[8] = { 0, 0, 0, 0, 8 + 4 + 8 + 2, 0, 0, 0 };
		elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, bot, 8);
	} else {
		elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, NULL, 0);
	}
	elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, f0a, 4);
	if (layout != 2)
		elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, f0b, 2);
	elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, f1, 4);
	elem(&b, EXPL_LE, 0xFFFE, 0xE0DD, NULL, NULL, 0);
	return b;
}

static void
test_fragments(void **state)
{
	(void)state;
	/* 0: BOT; 1: no BOT, frames found by their SOI; 2: one fragment per frame; 3: EOT */
	for (int layout = 0; layout < 4; layout++) {
		struct buf b = make_encapsulated(layout);
		struct rp_dicom *ds;
		struct rp_errbuf err = { "" };
		RP_ASSERT_OK(rp_dicom_parse(b.p, b.n, NULL, &ds, &err), &err);
		const uint8_t *d;
		size_t n;
		uint8_t *owned;
		RP_ASSERT_OK(rp_dicom_encoded_frame(ds, 0, &d, &n, &owned, &err), &err);
		assert_int_equal(n, layout == 2 ? 4 : 6);
		assert_int_equal(d[0], 0xFF);
		assert_int_equal(d[2], 0x01);
		free(owned);
		RP_ASSERT_OK(rp_dicom_encoded_frame(ds, 1, &d, &n, &owned, &err), &err);
		assert_int_equal(n, 4);
		assert_int_equal(d[2], 0x05);
		free(owned);
		assert_int_equal(rp_dicom_encoded_frame(ds, 2, &d, &n, &owned, NULL),
				 RP_E_INVALID_ARG);
		/* The spans in the parsed buffer: frame 0 from its first fragment's data to
		 * the end of its last (the 8-byte item header between them included), frame
		 * 1 its one fragment, right after frame 0's last item. */
		uint64_t at0, n0, at1, n1;
		RP_ASSERT_OK(rp_dicom_frame_span(ds, 0, &at0, &n0), &err);
		RP_ASSERT_OK(rp_dicom_frame_span(ds, 1, &at1, &n1), &err);
		assert_int_equal(n0, layout == 2 ? 4 : 4 + 8 + 2);
		assert_memory_equal(b.p + at0, "\xFF\xD8\x01\x02", 4);
		assert_int_equal(n1, 4);
		assert_int_equal(at1, at0 + n0 + 8);
		assert_memory_equal(b.p + at1, "\xFF\xD8\x05\x06", 4);
		assert_int_equal(rp_dicom_frame_span(ds, 2, &at1, &n1), RP_E_INVALID_ARG);
		rp_dicom_free(ds);
		free(b.p);
	}
}

static int
mem_sink(void *ctx, const void *d, size_t n)
{
	put(ctx, d, n);
	return RP_OK;
}

/* Implicit and big-endian sources rewritten as explicit LE (and deflated) keep their
 * pixels and their other elements. */
static void
test_write_transcodes(void **state)
{
	(void)state;
	static const char *targets[] = { "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99" };
	for (enum form f = EXPL_LE; f <= EXPL_BE; f++) {
		for (int t = 0; t < 2; t++) {
			struct buf src = make_native(f), out = { 0 };
			struct rp_dicom *a, *b;
			struct rp_errbuf err = { "" };
			RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
			int16_t frames[2][6];
			struct rp_frame_ref refs[2];
			for (int k = 0; k < 2; k++) {
				RP_ASSERT_OK(rp_dicom_decode_frame(a, (uint32_t)k, frames[k], 12, &err), &err);
				refs[k] = (struct rp_frame_ref){ frames[k], 12 };
			}
			struct rp_dicom_write_options wo;
			rp_dicom_write_options_init(&wo);
			wo.ts_uid = targets[t];
			RP_ASSERT_OK(rp_dicom_write(a, &wo, refs, 2, mem_sink, &out, &err), &err);
			RP_ASSERT_OK(rp_dicom_parse(out.p, out.n, NULL, &b, &err), &err);
			assert_string_equal(rp_dicom_get_info(b)->ts->uid, targets[t]);
			/* A native frame's span is its stored bytes; a deflated dataset's pixels
			 * live in the inflated copy, so it has none in the buffer parsed. */
			uint64_t at, n;
			RP_ASSERT_OK(rp_dicom_frame_span(a, 1, &at, &n), &err);
			assert_int_equal(n, 12);
			assert_int_equal(at, rp_dicom_get_info(a)->pixel_value_offset + 12);
			assert_int_equal(rp_dicom_frame_span(b, 0, &at, &n),
					 t == 1 ? RP_E_UNSUPPORTED : RP_OK);
			assert_string_equal(rp_dicom_get_info(b)->patient_id, "PAT-1");
			uint8_t ha[32], hb[32];
			RP_ASSERT_OK(rp_dicom_pixel_hash(a, ha, &err), &err);
			RP_ASSERT_OK(rp_dicom_pixel_hash(b, hb, &err), &err);
			assert_memory_equal(ha, hb, 32);
			/* the nested item's UI survived re-encoding */
			if (t == 0)   /* deflated output hides it from a byte search */
				assert_non_null(memmem(out.p, out.n, "1.2.3.4", 7));
			rp_dicom_free(a);
			rp_dicom_free(b);
			free(src.p);
			free(out.p);
		}
	}
}

/* Encapsulated output: BOT normally, EOT when the data could pass the threshold. */
static void
test_write_encapsulated(void **state)
{
	(void)state;
	for (int use_eot = 0; use_eot < 2; use_eot++) {
		struct buf src = make_encapsulated(0), out = { 0 };
		struct rp_dicom *a, *b;
		struct rp_errbuf err = { "" };
		RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
		static const uint8_t c0[5] = { 0xFF, 0xD8, 9, 9, 9 }, c1[3] = { 0xFF, 0xD8, 7 };
		struct rp_frame_ref refs[2] = { { c0, 5 }, { c1, 3 } };
		struct rp_dicom_write_options wo;
		rp_dicom_write_options_init(&wo);
		wo.ts_uid = "1.2.840.10008.1.2.4.70";
		wo.eot_threshold = use_eot ? 8 : UINT32_MAX;
		wo.lossy = 1;
		wo.lossy_method = "ISO_14495_1";
		wo.lossy_ratio = 2.5;
		RP_ASSERT_OK(rp_dicom_write(a, &wo, refs, 2, mem_sink, &out, &err), &err);
		RP_ASSERT_OK(rp_dicom_parse(out.p, out.n, NULL, &b, &err), &err);
		const uint8_t *d;
		size_t n;
		uint8_t *owned;
		RP_ASSERT_OK(rp_dicom_encoded_frame(b, 0, &d, &n, &owned, &err), &err);
		assert_null(owned);
		assert_int_equal(n, 6);     /* padded to even */
		assert_memory_equal(d, c0, 5);
		RP_ASSERT_OK(rp_dicom_encoded_frame(b, 1, &d, &n, &owned, &err), &err);
		assert_memory_equal(d, c1, 3);
		assert_non_null(memmem(out.p, out.n, "ISO_14495_1", 11));
		assert_non_null(memmem(out.p, out.n, "2.5", 3));
		rp_dicom_free(a);
		rp_dicom_free(b);
		free(src.p);
		free(out.p);
	}
}

/* Entries of a directory other than . and .. (an aborted stream leaves none). */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* One frame at a time: the same bytes as the whole-object writer, for a native target
 * and for an encapsulated one with either offset table (the extended one moved in front
 * at commit); elements after the pixel data kept; the narrower HTJ2K syntax set at
 * commit; nothing left by a short or bad one. */
static void
test_write_streamed(void **state)
{
	(void)state;
	char dir[256], path[300];
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/out.dcm", dir);
	static const uint8_t c0[5] = { 0xFF, 0xD8, 9, 9, 9 }, c1[3] = { 0xFF, 0xD8, 7 };
	for (int kind = 0; kind < 3; kind++) {   /* native, BOT, EOT */
		struct buf src = kind == 0 ? make_native(EXPL_LE) : make_encapsulated(2);
		elem(&src, EXPL_LE, 0xFFFC, 0xFFFC, "OB", "\0\0", 2);  /* trailing padding */
		struct buf whole = { 0 };
		struct rp_dicom *a;
		struct rp_errbuf err = { "" };
		RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
		int16_t px[2][6];
		struct rp_frame_ref refs[2] = { { c0, 5 }, { c1, 3 } };
		if (kind == 0)
			for (int k = 0; k < 2; k++) {
				RP_ASSERT_OK(rp_dicom_decode_frame(a, (uint32_t)k, px[k], 12, &err),
					     &err);
				refs[k] = (struct rp_frame_ref){ px[k], 12 };
			}
		struct rp_dicom_write_options wo;
		rp_dicom_write_options_init(&wo);
		wo.ts_uid = kind == 0 ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2.4.201";
		wo.eot_threshold = kind == 2 ? 8 : UINT32_MAX;
		RP_ASSERT_OK(rp_dicom_write(a, &wo, refs, 2, mem_sink, &whole, &err), &err);
		struct rp_dicom_stream *s;
		RP_ASSERT_OK(rp_dicom_stream_open(path, a, &wo, &s, &err), &err);
		for (int k = 0; k < 2; k++)
			RP_ASSERT_OK(rp_dicom_stream_frame(s, refs[k].data, refs[k].size, &err),
				     &err);
		RP_ASSERT_OK(rp_dicom_stream_commit(s, NULL, &err), &err);
		size_t n;
		uint8_t *got = rp_test_read_file(path, &n);
		assert_non_null(got);
		assert_int_equal(n, whole.n);
		assert_memory_equal(got, whole.p, n);
		assert_non_null(memmem(got, n, "\xFC\xFF\xFC\xFF", 4));
		free(got);
		remove(path);
		if (kind != 0) {
			/* Committed as .202: parsed back so, frames intact. */
			RP_ASSERT_OK(rp_dicom_stream_open(path, a, &wo, &s, &err), &err);
			for (int k = 0; k < 2; k++)
				RP_ASSERT_OK(rp_dicom_stream_frame(s, refs[k].data, refs[k].size,
								   &err), &err);
			RP_ASSERT_OK(rp_dicom_stream_commit(s, "1.2.840.10008.1.2.4.202", &err),
				     &err);
			got = rp_test_read_file(path, &n);
			struct rp_dicom *b;
			RP_ASSERT_OK(rp_dicom_parse(got, n, NULL, &b, &err), &err);
			assert_string_equal(rp_dicom_get_info(b)->ts->uid,
					    "1.2.840.10008.1.2.4.202");
			const uint8_t *d;
			uint8_t *owned;
			RP_ASSERT_OK(rp_dicom_encoded_frame(b, 1, &d, &n, &owned, &err), &err);
			assert_null(owned);
			assert_memory_equal(d, c1, 3);
			rp_dicom_free(b);
			free(got);
			remove(path);
			/* A UID of another length: refused, nothing left. */
			RP_ASSERT_OK(rp_dicom_stream_open(path, a, &wo, &s, &err), &err);
			for (int k = 0; k < 2; k++)
				RP_ASSERT_OK(rp_dicom_stream_frame(s, refs[k].data, refs[k].size,
								   &err), &err);
			assert_int_equal(rp_dicom_stream_commit(s, "1.2.840.10008.1.2.4.80", &err),
					 RP_E_INVALID_ARG);
			assert_int_equal(dir_entries(dir), 0);
		}
		/* Committed short of its frames: refused, and nothing is left behind. */
		RP_ASSERT_OK(rp_dicom_stream_open(path, a, &wo, &s, &err), &err);
		RP_ASSERT_OK(rp_dicom_stream_frame(s, refs[0].data, refs[0].size, &err), &err);
		assert_int_equal(rp_dicom_stream_commit(s, NULL, &err), RP_E_INVALID_ARG);
		assert_int_equal(dir_entries(dir), 0);
		rp_dicom_free(a);
		free(src.p);
		free(whole.p);
	}
	rmdir(dir);
}

static void
test_hostile_inputs(void **state)
{
	(void)state;
	struct rp_errbuf err = { "" };
	struct rp_dicom *ds = NULL;
	/* too deep: 100 nested undefined-length sequences */
	struct buf b = { 0 };
	meta(&b, "1.2.840.10008.1.2.1");
	for (int i = 0; i < 100; i++) {
		elem(&b, EXPL_LE, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
		elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, NULL, 0xFFFFFFFF);
	}
	assert_int_equal(rp_dicom_parse(b.p, b.n, NULL, &ds, &err), RP_E_CORRUPT);
	assert_non_null(strstr(err.msg, "nested"));
	free(b.p);
	/* an element length of 0xFFFFFFF0 */
	b = (struct buf){ 0 };
	meta(&b, "1.2.840.10008.1.2.1");
	elem(&b, EXPL_LE, 0x0010, 0x0010, "UT", NULL, 0xFFFFFFF0);
	assert_int_equal(rp_dicom_parse(b.p, b.n, NULL, &ds, &err), RP_E_CORRUPT);
	assert_non_null(strstr(err.msg, "overruns"));
	free(b.p);
	/* an unknown transfer syntax */
	b = (struct buf){ 0 };
	meta(&b, "1.2.3.4.5");
	elem(&b, EXPL_LE, 0x0010, 0x0010, "PN", "X ", 2);
	assert_int_equal(rp_dicom_parse(b.p, b.n, NULL, &ds, &err), RP_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "1.2.3.4.5"));
	free(b.p);
	/* NumberOfFrames larger than the pixel data */
	b = make_native(EXPL_LE);
	char *nf = memmem(b.p, b.n, "IS\x02\x00" "2 ", 6);
	assert_non_null(nf);
	nf[4] = '9';
	assert_int_equal(rp_dicom_parse(b.p, b.n, NULL, &ds, &err), RP_E_CORRUPT);
	assert_non_null(strstr(err.msg, "pixel data"));
	free(b.p);
}

/* ---- Images nested in sequences (Icon Image Sequence, PS3.3 C.7.6.1.1.6) ---- */

#define TS_JPEGLS "1.2.840.10008.1.2.4.80"
#define TS_HTJ2K "1.2.840.10008.1.2.4.201"

/* One canonical 8-bit frame of w x h coded by codec into a malloc'd codestream. */
static uint8_t *
code8(enum rp_codec codec, const uint8_t *px, uint16_t w, uint16_t h, size_t *size)
{
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = codec;
	struct rp_encoder *enc;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_encoder_create(&eo, &enc), &err);
	struct rp_image_desc img = { .width = w, .height = h, .components = 1,
				     .bits_allocated = 8, .bits_stored = 8,
				     .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	size_t cap = rp_encoder_bound(enc, &img);
	uint8_t *out = malloc(cap);
	RP_ASSERT_OK(rp_encoder_encode(enc, &img, px, (size_t)w * h, out, cap, size, &err), &err);
	rp_encoder_destroy(enc);
	return out;
}

static void
image8(struct buf *b, uint16_t w, uint16_t h)
{
	elem_us(b, EXPL_LE, 0x0028, 0x0002, 1);
	elem(b, EXPL_LE, 0x0028, 0x0004, "CS", "MONOCHROME2 ", 12);
	elem_us(b, EXPL_LE, 0x0028, 0x0010, h);
	elem_us(b, EXPL_LE, 0x0028, 0x0011, w);
	elem_us(b, EXPL_LE, 0x0028, 0x0100, 8);
	elem_us(b, EXPL_LE, 0x0028, 0x0101, 8);
	elem_us(b, EXPL_LE, 0x0028, 0x0102, 7);
	elem_us(b, EXPL_LE, 0x0028, 0x0103, 0);
}

static void
encapsulated(struct buf *b, const uint8_t *cs, size_t n)
{
	static const uint8_t pad = 0;
	elem(b, EXPL_LE, 0x7FE0, 0x0010, "OB", NULL, 0xFFFFFFFF);
	elem(b, EXPL_LE, 0xFFFE, 0xE000, NULL, NULL, 0);
	elem(b, EXPL_LE, 0xFFFE, 0xE000, NULL, NULL, (uint32_t)(n + (n & 1)));
	put(b, cs, n);
	if (n & 1)
		put(b, &pad, 1);     /* items have even length (PS3.5 A.4) */
	elem(b, EXPL_LE, 0xFFFE, 0xE0DD, NULL, NULL, 0);
}

static const uint8_t icon_px[16] = { 0, 17, 34, 51, 68, 85, 102, 119,
				     136, 153, 170, 187, 204, 221, 238, 255 };
static const uint8_t main_px[6] = { 1, 2, 3, 250, 251, 252 };

enum icon_form { ICON_NATIVE, ICON_JPEGLS, ICON_HTJ2K, ICON_GARBAGE };

/* A 3x2 image in syntax ts (coded by `codec`) whose sequence `seq` holds a 4x4 icon. */
static struct buf
make_with_icon(const char *ts, enum rp_codec codec, uint16_t seq, enum icon_form form)
{
	struct buf b = { 0 };
	size_t n;
	meta(&b, ts);
	elem(&b, EXPL_LE, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7", 26);
	/* (gggg,eeee) SQ of defined length: one item of defined length */
	struct buf item = { 0 };
	image8(&item, 4, 4);
	if (form == ICON_NATIVE) {
		elem(&item, EXPL_LE, 0x7FE0, 0x0010, "OB", icon_px, 16);
	} else if (form == ICON_GARBAGE) {
		static const uint8_t junk[8] = { 0xFF, 0xD8, 0xFF, 0xF7, 1, 2, 3, 4 };
		encapsulated(&item, junk, 8);
	} else {
		uint8_t *cs = code8(form == ICON_JPEGLS ? RP_CODEC_JPEGLS : RP_CODEC_HTJ2K,
				    icon_px, 4, 4, &n);
		encapsulated(&item, cs, n);
		free(cs);
	}
	elem(&b, EXPL_LE, 0x0088, seq, "SQ", NULL, (uint32_t)item.n + 8);
	elem(&b, EXPL_LE, 0xFFFE, 0xE000, NULL, item.p, (uint32_t)item.n);
	free(item.p);
	image8(&b, 3, 2);
	uint8_t *cs = code8(codec, main_px, 3, 2, &n);
	encapsulated(&b, cs, n);
	free(cs);
	return b;
}

/* What a reader of the output sees: it parses, every nested image decodes, the main
 * image is main_px. */
static void
check_whole(const struct buf *out, const char *ts)
{
	struct rp_dicom *ds;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(out->p, out->n, NULL, &ds, &err), &err);
	assert_string_equal(rp_dicom_get_info(ds)->ts->uid, ts);
	RP_ASSERT_OK(rp_dicom_check_nested_pixels(ds, &err), &err);
	uint8_t px[6];
	RP_ASSERT_OK(rp_dicom_decode_frame(ds, 0, px, sizeof(px), &err), &err);
	assert_memory_equal(px, main_px, 6);
	rp_dicom_free(ds);
}

/* The check reads nested images under the file's syntax: a JPEG-LS icon in an HTJ2K
 * file (what a writer that copies sequences verbatim makes) is caught. */
static void
test_nested_check(void **state)
{
	(void)state;
	struct rp_errbuf err = { "" };
	struct rp_dicom *ds;
	struct buf good = make_with_icon(TS_HTJ2K, RP_CODEC_HTJ2K, 0x0200, ICON_HTJ2K);
	check_whole(&good, TS_HTJ2K);
	struct buf bad = make_with_icon(TS_HTJ2K, RP_CODEC_HTJ2K, 0x0200, ICON_JPEGLS);
	RP_ASSERT_OK(rp_dicom_parse(bad.p, bad.n, NULL, &ds, &err), &err);
	assert_true(rp_dicom_check_nested_pixels(ds, &err) < 0);
	assert_non_null(strstr(err.msg, "nested"));
	rp_dicom_free(ds);
	/* a native icon is fine in any syntax; a short one is not */
	struct buf nat = make_with_icon(TS_HTJ2K, RP_CODEC_HTJ2K, 0x0200, ICON_NATIVE);
	check_whole(&nat, TS_HTJ2K);
	uint8_t *len = memmem(nat.p, nat.n, "OB\0\0\x10\0\0\0", 8);
	assert_non_null(len);
	len[4] = 14;
	memmove(len + 8 + 14, len + 8 + 16, (size_t)(nat.p + nat.n - (len + 8 + 16)));
	nat.n -= 2;
	uint8_t *sq = memmem(nat.p, nat.n, "\x88\0\0\x02SQ", 6);
	sq[8] -= 2;                          /* sequence and item lengths */
	sq[16] -= 2;
	RP_ASSERT_OK(rp_dicom_parse(nat.p, nat.n, NULL, &ds, &err), &err);
	assert_int_equal(rp_dicom_check_nested_pixels(ds, &err), RP_E_CORRUPT);
	rp_dicom_free(ds);
	free(good.p);
	free(bad.p);
	free(nat.p);
}

/* Writing in another syntax decodes an encapsulated icon to native (explicit VR LE,
 * deflated, HTJ2K targets), keeps it verbatim in the same syntax, and keeps a native icon
 * byte for byte. */
static void
test_nested_written_consistently(void **state)
{
	(void)state;
	static const char *targets[] = { "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99",
					 TS_HTJ2K, TS_JPEGLS };
	for (int form = ICON_NATIVE; form <= ICON_JPEGLS; form++) {
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
			struct buf src = make_with_icon(TS_JPEGLS, RP_CODEC_JPEGLS, 0x0200,
							(enum icon_form)form);
			struct buf out = { 0 };
			struct rp_dicom *a;
			struct rp_errbuf err = { "" };
			RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
			const char *ts = targets[t];
			const bool coded = strcmp(ts, TS_HTJ2K) == 0 || strcmp(ts, TS_JPEGLS) == 0;
			size_t n = 6;
			uint8_t *cs = coded ? code8(strcmp(ts, TS_HTJ2K) == 0 ? RP_CODEC_HTJ2K :
						    RP_CODEC_JPEGLS, main_px, 3, 2, &n) : NULL;
			struct rp_frame_ref ref = { coded ? cs : main_px, n };
			struct rp_dicom_write_notes notes;
			struct rp_dicom_write_options wo;
			rp_dicom_write_options_init(&wo);
			wo.ts_uid = ts;
			wo.notes = &notes;
			RP_ASSERT_OK(rp_dicom_write(a, &wo, &ref, 1, mem_sink, &out, &err), &err);
			check_whole(&out, ts);
			const bool same = strcmp(ts, TS_JPEGLS) == 0;
			assert_int_equal(notes.nested_decoded, form == ICON_JPEGLS && !same);
			assert_int_equal(notes.icons_dropped, 0);
			if (form == ICON_NATIVE || !same) {
				/* native in the output: the 16 icon bytes as a defined-length OB
				 * (deflated output hides them from a byte search) */
				if (t != 1)
					assert_non_null(memmem(out.p, out.n, "\xe0\x7f\x10\0OB\0\0\x10\0\0\0",
							       12));
			}
			rp_dicom_free(a);
			free(cs);
			free(src.p);
			free(out.p);
		}
	}
}

/* An icon no decoder takes is left out (and said so); undecodable pixel data nested
 * anywhere else fails the write rather than be copied into a file that lies. */
static void
test_nested_undecodable(void **state)
{
	(void)state;
	for (int in_icon = 0; in_icon < 2; in_icon++) {
		struct buf src = make_with_icon(TS_JPEGLS, RP_CODEC_JPEGLS,
						in_icon ? 0x0200 : 0x0201, ICON_GARBAGE);
		struct buf out = { 0 };
		struct rp_dicom *a;
		struct rp_errbuf err = { "" };
		RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
		struct rp_frame_ref ref = { main_px, 6 };
		struct rp_dicom_write_notes notes;
		struct rp_dicom_write_options wo;
		rp_dicom_write_options_init(&wo);
		wo.notes = &notes;
		int st = rp_dicom_write(a, &wo, &ref, 1, mem_sink, &out, &err);
		if (in_icon) {
			RP_ASSERT_OK(st, &err);
			assert_int_equal(notes.icons_dropped, 1);
			assert_non_null(strstr(notes.dropped_why, "Icon Image Sequence"));
			assert_null(memmem(out.p, out.n, "\x88\0\0\x02", 4));
			check_whole(&out, "1.2.840.10008.1.2.1");
		} else {
			assert_int_equal(st, RP_E_UNSUPPORTED);
			assert_non_null(strstr(err.msg, "nested"));
		}
		rp_dicom_free(a);
		free(src.p);
		free(out.p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_encodings),
		cmocka_unit_test(test_pixel_hash_same_across_encodings),
		cmocka_unit_test(test_damage_everywhere),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_write_transcodes),
		cmocka_unit_test(test_write_encapsulated),
		cmocka_unit_test(test_write_streamed),
		cmocka_unit_test(test_hostile_inputs),
		cmocka_unit_test(test_nested_check),
		cmocka_unit_test(test_nested_written_consistently),
		cmocka_unit_test(test_nested_undecodable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
