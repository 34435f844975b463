/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_dicom.c - the DICOM reader and writer on datasets built here byte by byte:
 * every encoding, sequences of both length forms, the ways frames sit in fragments, and
 * damage at every offset. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

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
		cmocka_unit_test(test_hostile_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
