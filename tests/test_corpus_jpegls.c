/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_corpus_jpegls.c - JPEG-LS on the real corpus: every native file round trips
 * through encode, the DICOM writer, the parser and decode bit-exact (near-lossless within
 * NEAR); every JPEG-LS file decodes to the same pixels as its uncompressed twin; the ITU-T
 * T.87 conformance streams decode to their originals. */
#include "test_util.h"

#include "codec/jpegls_dcmtk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
mem_sink(void *ctx, const void *d, size_t n)
{
	struct { uint8_t *p; size_t n, cap; } *b = ctx;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	return RP_OK;
}

/* Encodes every frame, writes a JPEG-LS DICOM to memory, parses it back and compares.
 * Returns RP_OK, or RP_E_UNSUPPORTED (with the reason in err) for images JPEG-LS cannot
 * code: 1- and 32-bit data, or high bits that carry overlays. */
static int
roundtrip_file(const uint8_t *data, size_t size, int near, struct rp_errbuf *err)
{
	struct rp_dicom *ds = NULL, *back = NULL;
	RP_ASSERT_OK(rp_dicom_parse(data, size, NULL, &ds, err), err);
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	if (!info->has_pixels) {
		rp_dicom_free(ds);
		return RP_OK;
	}
	int dirty;
	RP_ASSERT_OK(rp_dicom_scan_high_bits(ds, &dirty, err), err);
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.near_lossless = near;
	struct rp_encoder *enc;
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
	int st = rp_encoder_check(enc, &info->img, err);
	if (st == RP_OK && dirty)
		st = RP_E_UNSUPPORTED;
	size_t frame = rp_image_frame_size(&info->img), bound = rp_encoder_bound(enc, &info->img);
	uint32_t n = info->frames;
	uint8_t **raw = calloc(n, sizeof(*raw)), **code = calloc(n, sizeof(*code));
	struct rp_frame_ref *refs = calloc(n, sizeof(*refs));
	for (uint32_t f = 0; f < n; f++) {
		raw[f] = malloc(frame);
		code[f] = malloc(bound ? bound : 1);
		RP_ASSERT_OK(rp_dicom_decode_frame(ds, f, raw[f], frame, err), err);
		if (st == RP_OK) {
			RP_ASSERT_OK(rp_encoder_encode(enc, &info->img, raw[f], frame, code[f], bound,
						       &refs[f].size, err), err);
			refs[f].data = code[f];
		}
	}
	if (dirty)   /* overlay bits above BitsStored: radpipe refuses these files */
		snprintf(err->msg, sizeof(err->msg), "high bits carry data (BitsStored %u)",
			 info->img.bits_stored);
	if (st == RP_OK) {
		struct { uint8_t *p; size_t n, cap; } out = { 0 };
		struct rp_dicom_write_options wo;
		rp_dicom_write_options_init(&wo);
		wo.ts_uid = rp_encoder_transfer_syntax(enc);
		if (info->img.components == 3)
			wo.planar = 0;
		RP_ASSERT_OK(rp_dicom_write(ds, &wo, refs, n, mem_sink, &out, err), err);
		RP_ASSERT_OK(rp_dicom_parse(out.p, out.n, NULL, &back, err), err);
		uint8_t *dec = malloc(frame);
		for (uint32_t f = 0; f < n; f++) {
			RP_ASSERT_OK(rp_dicom_decode_frame(back, f, dec, frame, err), err);
			uint64_t e;
			assert_int_equal(rp_frame_compare(&info->img, raw[f], dec, frame, &e), RP_OK);
			if (e > (uint64_t)near)
				fail_msg("frame %u: max error %llu > NEAR %d", f, (unsigned long long)e,
					 near);
		}
		free(dec);
		free(out.p);
	}
	for (uint32_t f = 0; f < n; f++) {
		free(raw[f]);
		free(code[f]);
	}
	free(raw);
	free(code);
	free(refs);
	rp_encoder_destroy(enc);
	rp_dicom_free(ds);
	rp_dicom_free(back);
	return st;
}

static void
test_native_roundtrip(void **state)
{
	(void)state;
	size_t n, done = 0, refused = 0;
	const char **files = rp_test_corpus_list("native", &n);
	for (size_t k = 0; k < n; k++) {
		size_t size;
		uint8_t *data = rp_test_corpus_load(files[k], &size);
		struct rp_errbuf err = { "" };
		int st = roundtrip_file(data, size, 0, &err);
		if (st == RP_E_UNSUPPORTED) {
			refused++;
			print_message("  refused (as it must): %s: %s\n", files[k], err.msg);
			if (err.msg[0] == '\0')
				fail_msg("%s refused without a reason", files[k]);
		} else {
			done++;
		}
		/* near-lossless on every 4th file keeps the run short */
		if (st == RP_OK && k % 4 == 0) {
			int nst = roundtrip_file(data, size, 2, &err);
			/* Palette indices are refused for any lossy coding: an index off by one
			 * is another colour. */
			if (nst == RP_E_UNSUPPORTED && strstr(err.msg, "PALETTE COLOR"))
				print_message("  near-lossless refused (as it must): %s\n", files[k]);
			else
				assert_int_equal(nst, RP_OK);
		}
		free(data);
	}
	print_message("native -> JPEG-LS: %zu files bit-exact, %zu refused\n", done, refused);
	assert_true(done > 250);
}

static void
hash_of(const char *rel, uint8_t h[32])
{
	size_t size;
	uint8_t *data = rp_test_corpus_load(rel, &size);
	struct rp_dicom *ds;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(data, size, NULL, &ds, &err), &err);
	if (rp_dicom_pixel_hash(ds, h, &err) != RP_OK)
		fail_msg("%s: %s", rel, err.msg);
	rp_dicom_free(ds);
	free(data);
}

/* JPEG-LS files with an uncompressed twin: the same pixels, to the bit. */
static void
test_twins(void **state)
{
	(void)state;
	static const char *pairs[][2] = {
		{ "ct/wg04/CT1_JLSL.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/wg04/CT2_JLSL.dcm", "ct/wg04/CT2_UNC.dcm" },
		/* CharLS 2.4.1 refuses MR1_JLSL's padding byte before EOI: DCMTK decodes it */
		{ "mr/wg04/MR1_JLSL.dcm", "mr/wg04/MR1_UNC.dcm" },
		{ "mr/wg04/MR2_JLSL.dcm", "mr/wg04/MR2_UNC.dcm" },
		{ "mr/wg04/MR3_JLSL.dcm", "mr/wg04/MR3_UNC.dcm" },
		{ "mr/wg04/MR4_JLSL.dcm", "mr/wg04/MR4_UNC.dcm" },
		{ "nm/wg04/NM1_JLSL.dcm", "nm/wg04/NM1_UNC.dcm" },
		{ "xa/wg04/XA1_JLSL.dcm", "xa/wg04/XA1_UNC.dcm" },
		{ "cr_dx/wg04/RG3_JLSL.dcm", "cr_dx/wg04/RG3_UNC.dcm" },
		{ "mr/pydicom/MR_small_jpeg_ls_lossless.dcm", "mr/pydicom/MR_small.dcm" },
		{ "mr/pydicom/emri_small_jpeg_ls_lossless.dcm", "mr/pydicom/emri_small.dcm" },
		{ "ct/dicomparser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/dicomparser/CT1_UNC.fragmented_no_bot_jpeg_ls.80.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/dicomparser/CT1_UNC.not_fragmented_bot_jpeg_ls.80.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/dicomparser/CT1_UNC.not_fragmented_no_bot_jpeg_ls.80.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/dicomparser/CT1_UNC.explicit_big_endian.dcm", "ct/wg04/CT1_UNC.dcm" },
		/* byte-order twins: 16-bit words, and 8-bit samples in OW swapped in pairs
		 * (odd length, so the last sample sits in the pad word) */
		{ "edge/pydicom/MR_small_bigendian.dcm", "mr/pydicom/MR_small.dcm" },
		{ "edge/pydicom/emri_small_big_endian.dcm", "mr/pydicom/emri_small.dcm" },
		{ "edge/pydicom/SC_rgb_small_odd_big_endian.dcm", "edge/pydicom/SC_rgb_small_odd.dcm" },
		{ "edge/pydicom/OBXXXX1A_expb.dcm", "us/pydicom/OBXXXX1A.dcm" },
		{ "ct/dicomparser/CT1_UNC.implicit_little_endian.dcm", "ct/wg04/CT1_UNC.dcm" },
		{ "ct/dicomparser/CT0012.fragmented_no_bot_jpeg_ls.80.dcm",
		  "ct/dicomparser/CT0012.not_fragmented_bot_jpeg_ls.80.dcm" },
		{ "ct/dicomparser/CT0012.not_fragmented_no_bot_jpeg_ls.80.dcm",
		  "ct/dicomparser/CT0012.not_fragmented_bot_jpeg_ls.80.dcm" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uint8_t a[32], b[32];
		/* a build without DCMTK refuses it (test_corpus_parse checks the message) */
		if (strcmp(pairs[i][0], "mr/wg04/MR1_JLSL.dcm") == 0 &&
		    !rp__jpegls_dcmtk_available())
			continue;
		hash_of(pairs[i][0], a);
		hash_of(pairs[i][1], b);
		if (memcmp(a, b, 32) != 0)
			fail_msg("%s and %s hold different pixels", pairs[i][0], pairs[i][1]);
	}
	/* The Siemens Trio image in 9 syntaxes: every JPEG-LS and native one equals 1.dcm
	 * (explicit LE); the others need codecs from the codecs issue. */
	uint8_t ref[32];
	hash_of("mr/dcm_qa_ts_Siemens_Trio/1.dcm", ref);
	size_t n;
	const char **jls = rp_test_corpus_list("jpegls", &n);
	size_t trio = 0;
	for (size_t k = 0; k < n; k++) {
		if (!strstr(jls[k], "Siemens_Trio"))
			continue;
		uint8_t h[32];
		hash_of(jls[k], h);
		if (memcmp(h, ref, 32) != 0)
			fail_msg("%s differs from the explicit LE original", jls[k]);
		trio++;
	}
	assert_true(trio >= 2);
}

/* Reads a PGM/PPM (P5/P6, maxval up to 65535, big-endian samples when > 255) into a
 * canonical frame. */
static uint8_t *
read_pnm(const char *rel, struct rp_image_desc *img)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", rp_test_corpus_dir(), rel);
	size_t size;
	uint8_t *p = rp_test_read_file(path, &size);
	assert_non_null(p);
	unsigned w, h, maxval;
	int consumed = 0;
	char magic[3];
	assert_int_equal(sscanf((char *)p, "%2s %u %u %u%n", magic, &w, &h, &maxval, &consumed), 4);
	size_t at = (size_t)consumed + 1;
	img->width = w;
	img->height = h;
	img->components = magic[1] == '6' ? 3 : 1;
	img->bits_allocated = maxval > 255 ? 16 : 8;
	img->bits_stored = 1;
	while ((1u << img->bits_stored) - 1 < maxval)
		img->bits_stored++;
	img->is_signed = 0;
	size_t frame = rp_image_frame_size(img);
	uint8_t *f = malloc(frame);
	if (img->bits_allocated == 8) {
		memcpy(f, p + at, frame);
	} else {
		for (size_t i = 0; i < frame; i += 2) {
			f[i] = p[at + i + 1];
			f[i + 1] = p[at + i];
		}
	}
	free(p);
	return f;
}

static void
test_t87_conformance(void **state)
{
	(void)state;
	static const struct {
		const char *jls, *pnm;
		int near;
		int expect_ok;
	} cases[] = {
		{ "conformance/jpegls/t8c0e0.jls", "conformance/jpegls/test8.ppm", 0, 1 },
		{ "conformance/jpegls/t8c1e0.jls", "conformance/jpegls/test8.ppm", 0, 1 },
		{ "conformance/jpegls/t8c2e0.jls", "conformance/jpegls/test8.ppm", 0, 1 },
		{ "conformance/jpegls/t8c0e3.jls", "conformance/jpegls/test8.ppm", 3, 1 },
		{ "conformance/jpegls/t8c1e3.jls", "conformance/jpegls/test8.ppm", 3, 1 },
		{ "conformance/jpegls/t8c2e3.jls", "conformance/jpegls/test8.ppm", 3, 1 },
		/* non-default T1..T3/RESET; the image is test8bs2 (README_T87 is vague) */
		{ "conformance/jpegls/t8nde0.jls", "conformance/jpegls/test8bs2.pgm", 0, 1 },
		{ "conformance/jpegls/t8nde3.jls", "conformance/jpegls/test8bs2.pgm", 3, 1 },
		{ "conformance/jpegls/t16e0.jls", "conformance/jpegls/test16.pgm", 0, 1 },
		{ "conformance/jpegls/t16e3.jls", "conformance/jpegls/test16.pgm", 3, 1 },
		/* sub-sampled components have no canonical-frame form: refused, not mangled */
		{ "conformance/jpegls/t8sse0.jls", "conformance/jpegls/test8.ppm", 0, 0 },
		{ "conformance/jpegls/t8sse3.jls", "conformance/jpegls/test8.ppm", 3, 0 },
	};
	struct rp_decoder_options o;
	rp_decoder_options_init(&o);
	struct rp_decoder *dec;
	assert_int_equal(rp_decoder_create(&o, &dec), RP_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rp_image_desc img;
		uint8_t *ref = read_pnm(cases[i].pnm, &img);
		size_t size, frame = rp_image_frame_size(&img);
		uint8_t *code = rp_test_corpus_load(cases[i].jls, &size);
		uint8_t *out = malloc(frame);
		struct rp_errbuf err = { "" };
		int st = rp_decoder_decode(dec, &img, code, size, out, frame, &err);
		if (cases[i].expect_ok) {
			if (st != RP_OK)
				fail_msg("%s: %s", cases[i].jls, err.msg);
			uint64_t e;
			assert_int_equal(rp_frame_compare(&img, ref, out, frame, &e), RP_OK);
			if (e > (uint64_t)cases[i].near)
				fail_msg("%s: max error %llu > %d", cases[i].jls, (unsigned long long)e,
					 cases[i].near);
		} else {
			assert_int_not_equal(st, RP_OK);
			assert_true(err.msg[0] != '\0');
		}
		free(ref);
		free(code);
		free(out);
	}
	rp_decoder_destroy(dec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_roundtrip),
		cmocka_unit_test(test_twins),
		cmocka_unit_test(test_t87_conformance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
