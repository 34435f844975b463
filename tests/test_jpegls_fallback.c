/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_jpegls_fallback.c - the second JPEG-LS decoder (DCMTK dcmjpls) on the
 * codestream that needs it: WG-04 MR1_JLSL.dcm, whose scan ends with a zero padding byte
 * before EOI that CharLS 2.4.1 refuses.  Its pixels must equal MR1_UNC.dcm's to the bit,
 * directly and after `compress -c htj2k`; cut and damaged copies of its codestream must
 * still be refused, naming both decoders where both were asked. */
#include "test_util.h"

#include "codec/jpegls_dcmtk.h"
#include <radpipe/pipeline.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MR1_JLSL "mr/wg04/MR1_JLSL.dcm"
#define MR1_UNC "mr/wg04/MR1_UNC.dcm"

/* Decodes every frame of the DICOM file data[0..size) into one malloc'ed buffer. */
static uint8_t *
decode_all(const uint8_t *data, size_t size, struct rp_image_desc *img, size_t *total,
	   struct rp_errbuf *err, int *status)
{
	struct rp_dicom *ds;
	*status = rp_dicom_parse(data, size, NULL, &ds, err);
	if (*status != RP_OK)
		return NULL;
	const struct rp_dicom_info *i = rp_dicom_get_info(ds);
	*img = i->img;
	size_t fs = rp_image_frame_size(&i->img);
	*total = fs * i->frames;
	uint8_t *buf = malloc(*total);
	assert_non_null(buf);
	for (uint32_t f = 0; *status == RP_OK && f < i->frames; f++)
		*status = rp_dicom_decode_frame(ds, f, buf + f * fs, fs, err);
	rp_dicom_free(ds);
	return buf;
}

static uint8_t *
decode_file(const char *path, struct rp_image_desc *img, size_t *total)
{
	size_t size;
	uint8_t *data = rp_test_read_file(path, &size);
	assert_non_null(data);
	struct rp_errbuf err = { "" };
	int st;
	uint8_t *px = decode_all(data, size, img, total, &err, &st);
	if (st != RP_OK)
		fail_msg("%s: %s: %s", path, rp_status_name(st), err.msg);
	free(data);
	return px;
}

static void
corpus_path(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/%s", rp_test_corpus_dir(), rel);
}

/* The reference pixels, to the bit, and the fallback did the decoding. */
static void
test_mr1_matches_reference(void **state)
{
	(void)state;
	if (!rp__jpegls_dcmtk_available())
		skip();
	char jls[4096], unc[4096];
	corpus_path(jls, sizeof(jls), MR1_JLSL);
	corpus_path(unc, sizeof(unc), MR1_UNC);
	struct rp_image_desc a, b;
	size_t na, nb;
	unsigned long before = rp__jpegls_fallbacks();
	uint8_t *pa = decode_file(jls, &a, &na);
	assert_int_equal(rp__jpegls_fallbacks(), before + 1);
	uint8_t *pb = decode_file(unc, &b, &nb);
	assert_int_equal(a.width, 512);
	assert_int_equal(a.height, 512);
	assert_int_equal(a.bits_stored, 16);
	assert_int_equal(a.is_signed, 1); /* PixelRepresentation 1: the sign restored */
	assert_int_equal(a.width, b.width);
	assert_int_equal(a.height, b.height);
	assert_int_equal(a.bits_stored, b.bits_stored);
	assert_int_equal(a.is_signed, b.is_signed);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
	free(pa);
	free(pb);
}

/* compress -c htj2k of MR1_JLSL, verified by the pipeline, holds MR1_UNC's pixels. */
static void
test_mr1_to_htj2k(void **state)
{
	(void)state;
	if (!rp__jpegls_dcmtk_available())
		skip();
	char jls[4096], unc[4096], dir[4096], out[4200];
	corpus_path(jls, sizeof(jls), MR1_JLSL);
	corpus_path(unc, sizeof(unc), MR1_UNC);
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/MR1_HTJ2K.dcm", dir);

	struct rp_pipeline_options o;
	rp_pipeline_options_init(&o);
	o.encoder.codec = RP_CODEC_HTJ2K;
	struct rp_pipeline_file f = { .input = jls, .output = out };
	struct rp_errbuf err = { "" };
	int st = rp_pipeline_run(&o, &f, 1, NULL, &err);
	if (st != RP_OK)
		fail_msg("pipeline: %s: %s / %s", rp_status_name(st), err.msg, f.message);
	assert_int_equal(f.status, RP_OK);
	assert_int_equal(o.verify, 1); /* the default users get: every output read back */
	/* the user is told which decoder read the input */
	assert_non_null(f.warning);
	assert_non_null(strstr(f.warning, "DCMTK"));

	size_t size;
	uint8_t *data = rp_test_read_file(out, &size);
	assert_non_null(data);
	struct rp_dicom *ds;
	RP_ASSERT_OK(rp_dicom_parse(data, size, NULL, &ds, &err), &err);
	assert_non_null(strstr(rp_dicom_get_info(ds)->ts->uid, "1.2.840.10008.1.2.4.20"));
	rp_dicom_free(ds);
	free(data);

	struct rp_image_desc a, b;
	size_t na, nb;
	uint8_t *pa = decode_file(out, &a, &na), *pb = decode_file(unc, &b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
	free(pa);
	free(pb);
	remove(out);
	rmdir(dir);
}

/* The codestream of MR1_JLSL's one frame, and the image it describes. */
static uint8_t *
mr1_codestream(size_t *size, struct rp_image_desc *img)
{
	size_t fsize;
	uint8_t *file = rp_test_corpus_load(MR1_JLSL, &fsize);
	struct rp_dicom *ds;
	struct rp_errbuf err = { "" };
	RP_ASSERT_OK(rp_dicom_parse(file, fsize, NULL, &ds, &err), &err);
	*img = rp_dicom_get_info(ds)->img;
	const uint8_t *cs;
	uint8_t *owned;
	RP_ASSERT_OK(rp_dicom_encoded_frame(ds, 0, &cs, size, &owned, &err), &err);
	uint8_t *copy = malloc(*size);
	assert_non_null(copy);
	memcpy(copy, cs, *size);
	free(owned);
	rp_dicom_free(ds);
	free(file);
	return copy;
}

static int
decode_jls(const struct rp_image_desc *img, const uint8_t *cs, size_t size, uint8_t *dst,
	   struct rp_errbuf *err)
{
	struct rp_decoder_options o;
	struct rp_decoder *dec;
	rp_decoder_options_init(&o);
	o.codec = RP_CODEC_JPEGLS;
	RP_ASSERT_OK(rp_decoder_create(&o, &dec), NULL);
	int st = rp_decoder_decode(dec, img, cs, size, dst, rp_image_frame_size(img), err);
	rp_decoder_destroy(dec);
	return st;
}

/* Cut copies of the codestream, as they are and with an EOI put back at the cut (so that
 * they get past the EOI check to both decoders), and copies with one byte flipped: each is
 * refused with a message, never decoded.  Run under ASan (RP_SANITIZE=ON) this also shows
 * neither decoder reads out of bounds. */
static void
test_damaged_mr1_refused(void **state)
{
	(void)state;
	struct rp_image_desc img;
	size_t size;
	uint8_t *cs = mr1_codestream(&size, &img);
	size_t fs = rp_image_frame_size(&img);
	uint8_t *dst = malloc(fs), *cut = malloc(size + 2);
	assert_non_null(dst);
	assert_non_null(cut);
	size_t both = 0;
	for (size_t len = 2; len < size - 2; len = len < 64 ? len + 1 : len + len / 7 + 1) {
		for (int eoi = 0; eoi < 2; eoi++) {
			memcpy(cut, cs, len);
			size_t n = len;
			if (eoi) {
				cut[n++] = 0xFF;
				cut[n++] = 0xD9;
			}
			struct rp_errbuf err = { "" };
			int st = decode_jls(&img, cut, n, dst, &err);
			if (st == RP_OK)
				fail_msg("codestream cut at %zu of %zu (EOI %d) decoded", len, size, eoi);
			assert_true(st == RP_E_CORRUPT || st == RP_E_UNSUPPORTED);
			assert_true(err.msg[0] != '\0');
			if (strstr(err.msg, "CharLS") && strstr(err.msg, "second decoder"))
				both++;
		}
	}
	/* One bit flipped in the 40 header bytes (up to the end of SOS) or in the scan.
	 * JPEG-LS has no checksum: some flips in a scan still decode, to other pixels, in any
	 * decoder (CharLS decodes them too from a conforming stream).  What the fallback must
	 * not do is accept more than that: a flipped scan that decodes must decode the same
	 * with CharLS alone once the padding byte is gone (the conforming stream with the same
	 * damage).  A header flip may decode where it lands in a field DCMTK does not need
	 * (its fork reads SOS by component count, not by the length field at byte 32): then
	 * the pixels must be the reference ones. */
	uint8_t *ref = malloc(fs), *alone = malloc(fs);
	assert_non_null(ref);
	assert_non_null(alone);
	struct rp_errbuf err = { "" };
	if (!rp__jpegls_dcmtk_available()) {
		/* without the second decoder the original is refused, and says why */
		assert_int_equal(decode_jls(&img, cs, size, ref, &err), RP_E_UNSUPPORTED);
		assert_non_null(strstr(err.msg, "second decoder"));
		goto done;
	}
	RP_ASSERT_OK(decode_jls(&img, cs, size, ref, &err), &err);
	size_t eoi = size - 2;
	while (!(cs[eoi] == 0xFF && cs[eoi + 1] == 0xD9))
		eoi--;
	assert_int_equal(cs[eoi - 1], 0x00); /* the padding byte this file is about */
	size_t header_decoded = 0, scan_decoded = 0, scan_flips = 0;
	for (size_t pos = 2; pos < eoi - 1; pos += pos < 64 ? 1 : 331) {
		memcpy(cut, cs, size);
		cut[pos] ^= 0x10;
		int st = decode_jls(&img, cut, size, dst, &err);
		if (pos < 40) {
			if (st == RP_OK) {
				if (memcmp(dst, ref, fs) != 0)
					fail_msg("header byte %zu flipped decoded to other pixels", pos);
				header_decoded++;
			} else {
				assert_true(err.msg[0] != '\0');
			}
			continue;
		}
		scan_flips++;
		/* the same damage in the conforming stream, decoded by CharLS alone */
		memmove(cut + eoi - 1, cut + eoi, size - eoi);
		unsigned long before = rp__jpegls_fallbacks();
		int st_alone = decode_jls(&img, cut, size - 1, alone, &err);
		assert_int_equal(rp__jpegls_fallbacks(), before);
		if (st == RP_OK) {
			scan_decoded++;
			if (st_alone != RP_OK)
				fail_msg("scan byte %zu flipped: the fallback decoded what CharLS "
					 "refuses in the conforming stream", pos);
			assert_memory_equal(dst, alone, fs);
		}
	}
	print_message("%zu header flips decoded to the reference pixels; %zu of %zu scan flips "
		      "decode, as in the conforming stream\n", header_decoded, scan_decoded,
		      scan_flips);
done:
	free(alone);
	print_message("%zu cut copies refused by both decoders (the rest by our EOI check or "
		      "as corrupt scan data, which gets no second decoder)\n", both);
	if (rp__jpegls_dcmtk_available())
		assert_true(both > 0);
	free(ref);
	free(dst);
	free(cut);
	free(cs);
}

/* The second decoder on its own, over the T.87 conformance streams (colour in all three
 * interleave modes, near-lossless, 12-bit): the same samples as CharLS, pixel-interleaved.
 * MR1 alone would leave the colour and 8-bit paths of the adapter untested. */
static void
test_dcmtk_matches_charls_on_t87(void **state)
{
	(void)state;
	if (!rp__jpegls_dcmtk_available())
		skip();
	static const char *const names[] = { "t8c0e0.jls", "t8c1e0.jls", "t8c2e0.jls",
					     "t8c0e3.jls", "t8c1e3.jls", "t8c2e3.jls",
					     "t16e0.jls",  "t16e3.jls" };
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char rel[256];
		snprintf(rel, sizeof(rel), "conformance/jpegls/%s", names[k]);
		size_t size;
		uint8_t *cs = rp_test_corpus_load(rel, &size);
		size_t sof = 2;
		while (sof + 10 < size && !(cs[sof] == 0xFF && cs[sof + 1] == 0xF7))
			sof++;
		assert_true(sof + 10 < size);
		struct rp__jls_frame f = {
			.bits = cs[sof + 4],
			.height = (uint32_t)cs[sof + 5] << 8 | cs[sof + 6],
			.width = (uint32_t)cs[sof + 7] << 8 | cs[sof + 8],
			.components = cs[sof + 9],
		};
		struct rp_image_desc img = {
			.width = f.width, .height = f.height, .components = f.components,
			.bits_allocated = f.bits <= 8 ? 8 : 16, .bits_stored = f.bits,
			.photometric = f.components == 3 ? RP_PHOTOMETRIC_RGB
							 : RP_PHOTOMETRIC_MONOCHROME2,
		};
		size_t fs = rp_image_frame_size(&img);
		uint8_t *a = malloc(fs), *b = malloc(fs);
		assert_non_null(a);
		assert_non_null(b);
		struct rp_errbuf err = { "" };
		RP_ASSERT_OK(decode_jls(&img, cs, size, a, &err), &err);
		RP_ASSERT_OK(rp__jpegls_dcmtk_decode(cs, size, &f, b, fs, &err), &err);
		if (memcmp(a, b, fs) != 0)
			fail_msg("%s: DCMTK and CharLS decode different samples", names[k]);
		/* a frame other than the codestream's is refused, not decoded */
		struct rp__jls_frame wrong = f;
		wrong.width--;
		assert_int_equal(rp__jpegls_dcmtk_decode(cs, size, &wrong, b, fs, &err),
				 RP_E_CORRUPT);
		free(a);
		free(b);
		free(cs);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mr1_matches_reference),
		cmocka_unit_test(test_mr1_to_htj2k),
		cmocka_unit_test(test_damaged_mr1_refused),
		cmocka_unit_test(test_dcmtk_matches_charls_on_t87),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
