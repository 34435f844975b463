/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_dicom_pixels.c - the DICOM reader's and writer's pixel layout work, which
 * goes through the simd/ kernel tables: big-endian 16-bit frames and OW values swapped
 * (bswap16), 8-bit planar RGB read interleaved and written planar (interleave3_u8 /
 * deinterleave3_u8).  Frames are sized so that every vector width sees whole vectors and
 * a tail, and the expected bytes are computed here sample by sample.  CTest reruns this
 * with RP_DISABLE_CPU_FEATURES=avx512 and =avx2 (tests/simd.cmake), so each level's
 * kernels run. */
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
		assert_non_null(b->p);
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

/* One explicit-VR element; OB/OW get the long form. */
static void
elem(struct buf *b, int be, uint16_t g, uint16_t e, const char *vr, const void *v,
     uint32_t len)
{
	put16(b, g, be);
	put16(b, e, be);
	put(b, vr, 2);
	if (!strcmp(vr, "OB") || !strcmp(vr, "OW")) {
		put16(b, 0, be);
		put16(b, be ? (uint16_t)(len >> 16) : (uint16_t)len, be);
		put16(b, be ? (uint16_t)len : (uint16_t)(len >> 16), be);
	} else {
		put16(b, (uint16_t)len, be);
	}
	put(b, v, len);
}

static void
elem_us(struct buf *b, int be, uint16_t g, uint16_t e, uint16_t v)
{
	uint8_t x[2] = { be ? v >> 8 : v & 0xFF, be ? v & 0xFF : v >> 8 };
	elem(b, be, g, e, "US", x, 2);
}

static void
elem_str(struct buf *b, int be, uint16_t g, uint16_t e, const char *vr, const char *s)
{
	char t[80];
	size_t n = strlen(s);
	memcpy(t, s, n);
	if (n & 1)
		t[n++] = strcmp(vr, "UI") ? ' ' : '\0';
	elem(b, be, g, e, vr, t, (uint32_t)n);
}

static void
meta(struct buf *b, const char *ts)
{
	uint8_t pre[128] = { 0 };
	put(b, pre, 128);
	put(b, "DICM", 4);
	struct buf m = { 0 };
	elem_str(&m, 0, 2, 0x0010, "UI", ts);
	uint8_t gl[4] = { (uint8_t)m.n, (uint8_t)(m.n >> 8), 0, 0 };
	elem(b, 0, 2, 0, "UL", gl, 4);
	put(b, m.p, m.n);
	free(m.p);
}

static struct buf out_buf;

static int
mem_sink(void *ctx, const void *d, size_t n)
{
	put(ctx, d, n);
	return RP_OK;
}

/* Odd sizes: 2211 samples a frame, 300 words of LUT: whole 32- and 64-byte vectors plus
 * a tail of each width. */
enum { W16 = 67, H16 = 33, N16 = W16 * H16, NLUT = 300 };

static uint16_t
sample16(uint32_t frame, size_t i)
{
	return (uint16_t)(i * 40503u + frame * 977u + (i >> 3));
}

/* Explicit VR big endian, 2 frames of 16-bit samples, and a long OW element outside the
 * pixel data (a palette LUT) that the writer must swap too. */
static struct buf
make_be16(void)
{
	struct buf b = { 0 };
	meta(&b, "1.2.840.10008.1.2.2");
	elem_str(&b, 1, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
	elem_us(&b, 1, 0x0028, 0x0002, 1);
	elem_str(&b, 1, 0x0028, 0x0004, "CS", "MONOCHROME2");
	elem_str(&b, 1, 0x0028, 0x0008, "IS", "2");
	elem_us(&b, 1, 0x0028, 0x0010, H16);
	elem_us(&b, 1, 0x0028, 0x0011, W16);
	elem_us(&b, 1, 0x0028, 0x0100, 16);
	elem_us(&b, 1, 0x0028, 0x0101, 16);
	elem_us(&b, 1, 0x0028, 0x0102, 15);
	elem_us(&b, 1, 0x0028, 0x0103, 0);
	uint8_t lut[2 * NLUT];
	for (size_t i = 0; i < NLUT; i++) {
		lut[2 * i] = (uint8_t)(i * 7 >> 8 ^ i);          /* high byte first */
		lut[2 * i + 1] = (uint8_t)(i * 13);
	}
	elem(&b, 1, 0x0028, 0x1201, "OW", lut, sizeof(lut));
	uint8_t *px = malloc(2 * 2 * N16);
	assert_non_null(px);
	for (uint32_t f = 0; f < 2; f++)
		for (size_t i = 0; i < N16; i++) {
			uint16_t v = sample16(f, i);
			px[2 * (f * N16 + i)] = (uint8_t)(v >> 8);
			px[2 * (f * N16 + i) + 1] = (uint8_t)v;
		}
	elem(&b, 1, 0x7FE0, 0x0010, "OW", px, 2 * 2 * N16);
	free(px);
	return b;
}

static void
test_big_endian16(void **state)
{
	(void)state;
	struct buf src = make_be16();
	struct rp_dicom *a, *b;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
	static uint16_t frames[2][N16];
	for (uint32_t f = 0; f < 2; f++) {
		RP_ASSERT_OK(rp_dicom_decode_frame(a, f, frames[f], sizeof(frames[f]), &err), &err);
		for (size_t i = 0; i < N16; i++)
			if (frames[f][i] != sample16(f, i))
				fail_msg("frame %u sample %zu: %04x, stored %04x", f, i,
					 frames[f][i], sample16(f, i));
	}
	/* Rewritten as explicit LE: pixels and the LUT come out little-endian. */
	struct rp_frame_ref refs[2] = { { frames[0], sizeof(frames[0]) },
					{ frames[1], sizeof(frames[1]) } };
	struct rp_dicom_write_options wo;
	rp_dicom_write_options_init(&wo);
	wo.ts_uid = "1.2.840.10008.1.2.1";
	out_buf.n = 0;
	RP_ASSERT_OK(rp_dicom_write(a, &wo, refs, 2, mem_sink, &out_buf, &err), &err);
	uint8_t lut_le[2 * NLUT];
	for (size_t i = 0; i < NLUT; i++) {
		lut_le[2 * i] = (uint8_t)(i * 13);
		lut_le[2 * i + 1] = (uint8_t)(i * 7 >> 8 ^ i);
	}
	assert_non_null(memmem(out_buf.p, out_buf.n, lut_le, sizeof(lut_le)));
	RP_ASSERT_OK(rp_dicom_parse(out_buf.p, out_buf.n, NULL, &b, &err), &err);
	static uint16_t back[N16];
	RP_ASSERT_OK(rp_dicom_decode_frame(b, 1, back, sizeof(back), &err), &err);
	assert_memory_equal(back, frames[1], sizeof(back));
	rp_dicom_free(a);
	rp_dicom_free(b);
	free(src.p);
}

enum { WRGB = 37, HRGB = 19, NRGB = WRGB * HRGB };

static uint8_t
rgb(size_t pixel, unsigned c)
{
	return (uint8_t)(pixel * 3 + c * 101 + (pixel >> 5));
}

/* 8-bit RGB stored planar (PlanarConfiguration 1): R plane, G plane, B plane. */
static struct buf
make_planar_rgb(void)
{
	struct buf b = { 0 };
	meta(&b, "1.2.840.10008.1.2.1");
	elem_str(&b, 0, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
	elem_us(&b, 0, 0x0028, 0x0002, 3);
	elem_str(&b, 0, 0x0028, 0x0004, "CS", "RGB");
	elem_us(&b, 0, 0x0028, 0x0006, 1);
	elem_us(&b, 0, 0x0028, 0x0010, HRGB);
	elem_us(&b, 0, 0x0028, 0x0011, WRGB);
	elem_us(&b, 0, 0x0028, 0x0100, 8);
	elem_us(&b, 0, 0x0028, 0x0101, 8);
	elem_us(&b, 0, 0x0028, 0x0102, 7);
	elem_us(&b, 0, 0x0028, 0x0103, 0);
	uint8_t px[3 * NRGB + 1] = { 0 };   /* odd length: one pad byte */
	for (unsigned c = 0; c < 3; c++)
		for (size_t i = 0; i < NRGB; i++)
			px[c * NRGB + i] = rgb(i, c);
	elem(&b, 0, 0x7FE0, 0x0010, "OB", px, sizeof(px));
	return b;
}

static void
test_planar_rgb8(void **state)
{
	(void)state;
	struct buf src = make_planar_rgb();
	struct rp_dicom *a, *b;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(src.p, src.n, NULL, &a, &err), &err);
	assert_int_equal(rp_dicom_get_info(a)->planar, 1);
	static uint8_t il[3 * NRGB];
	RP_ASSERT_OK(rp_dicom_decode_frame(a, 0, il, sizeof(il), &err), &err);
	for (size_t i = 0; i < NRGB; i++)
		for (unsigned c = 0; c < 3; c++)
			if (il[3 * i + c] != rgb(i, c))
				fail_msg("pixel %zu component %u: %u, stored %u", i, c,
					 il[3 * i + c], rgb(i, c));
	/* Written back planar: the planes again, byte for byte. */
	struct rp_frame_ref ref = { il, sizeof(il) };
	struct rp_dicom_write_options wo;
	rp_dicom_write_options_init(&wo);
	wo.ts_uid = "1.2.840.10008.1.2.1";
	wo.planar = 1;
	out_buf.n = 0;
	RP_ASSERT_OK(rp_dicom_write(a, &wo, &ref, 1, mem_sink, &out_buf, &err), &err);
	const uint8_t *planes = src.p + src.n - (3 * NRGB + 1);
	assert_non_null(memmem(out_buf.p, out_buf.n, planes, 3 * NRGB));
	RP_ASSERT_OK(rp_dicom_parse(out_buf.p, out_buf.n, NULL, &b, &err), &err);
	assert_int_equal(rp_dicom_get_info(b)->planar, 1);
	static uint8_t back[3 * NRGB];
	RP_ASSERT_OK(rp_dicom_decode_frame(b, 0, back, sizeof(back), &err), &err);
	assert_memory_equal(back, il, sizeof(back));
	rp_dicom_free(a);
	rp_dicom_free(b);
	free(src.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_endian16),
		cmocka_unit_test(test_planar_rgb8),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(out_buf.p);
	return rc;
}
