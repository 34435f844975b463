/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_corpus_parse.c - every corpus file parses (or, in edge/, is rejected with a
 * message), its frames decode where a decoder exists, and damaged copies of real files
 * (truncated at many offsets, length fields flipped) fail cleanly. */
#include "test_util.h"

#include "codec/jpegls_dcmtk.h"

#include <stdlib.h>
#include <string.h>

/* Files that must be rejected, with words the message must contain.  Each is also
 * rejected by an independent decoder, as noted; none is decoded to wrong pixels. */
static const struct {
	const char *path;
	const char *reason;
} expected_failures[] = {
	/* truncated upstream on purpose */
	{ "edge/pydicom/MR_truncated.dcm", "pixel data" },
	{ "edge/pydicom/emri_small_jpeg_2k_lossless_too_short.dcm", "" },
	/* the codestream's SIZ is garbage: opj_decompress and gdcmconv reject it too (the
	 * file tests DICOM parsing of a fragment holding FFFE,E0DD, which we pass) */
	{ "edge/pydicom/JPEG2000-embedded-sequence-delimiter.dcm", "OpenJPEG" },
	/* starts one stray byte before an explicit-LE dataset: garbage from offset 0 (pydicom
	 * reads it as one giant unknown element, DCMTK refuses it) */
	{ "edge/pydicom/no_meta.dcm", "overruns" },
	/* tile data shorter than its SOT says: opj_decompress and gdcmconv reject it too */
	{ "cr_dx/pylibjpeg/966.dcm", "OpenJPEG" },
};

static const char *
expected_reason(const char *path)
{
	/* WG-04's MR1 JPEG-LS stream has a padding byte before EOI that CharLS 2.4.1 refuses;
	 * only a build with DCMTK's dcmjpls (the second decoder) reads it. */
	if (strcmp(path, "mr/wg04/MR1_JLSL.dcm") == 0 && !rp__jpegls_dcmtk_available())
		return "second decoder";
	for (size_t i = 0; i < sizeof(expected_failures) / sizeof(expected_failures[0]); i++)
		if (strcmp(expected_failures[i].path, path) == 0)
			return expected_failures[i].reason;
	return NULL;
}

/* Parses and decodes every frame; returns the first failing status. */
static int
parse_and_decode(const uint8_t *data, size_t size, struct rp_errbuf *err, int *frames)
{
	struct rp_dicom *ds;
	int st = rp_dicom_parse(data, size, NULL, &ds, err);
	if (st != RP_OK)
		return st;
	const struct rp_dicom_info *i = rp_dicom_get_info(ds);
	*frames = 0;
	if (i->has_pixels) {
		size_t fs = rp_image_frame_size(&i->img);
		uint8_t *buf = malloc(fs);
		for (uint32_t f = 0; st == RP_OK && f < i->frames; f++, (*frames)++)
			st = rp_dicom_decode_frame(ds, f, buf, fs, err);
		free(buf);
	}
	/* Icons and other images nested in sequences read back too. */
	if (st == RP_OK)
		st = rp_dicom_check_nested_pixels(ds, err);
	rp_dicom_free(ds);
	return st;
}

static void
check_use(const char *use)
{
	size_t n;
	const char **files = rp_test_corpus_list(use, &n);
	size_t ok = 0, unsupported = 0, failed = 0;
	for (size_t k = 0; k < n; k++) {
		size_t size;
		uint8_t *data = rp_test_corpus_load(files[k], &size);
		struct rp_errbuf err = { "" };
		int frames = 0;
		int st = parse_and_decode(data, size, &err, &frames);
		const char *reason = expected_reason(files[k]);
		if (reason) {
			if (st == RP_OK)
				fail_msg("%s should be rejected but decoded", files[k]);
			if (!strstr(err.msg, reason) || err.msg[0] == '\0')
				fail_msg("%s rejected with '%s', expected a message about '%s'",
					 files[k], err.msg, reason);
		} else if (st == RP_E_UNSUPPORTED) {
			/* a codec this build lacks: must say which */
			unsupported++;
			print_message("  unsupported: %s: %s\n", files[k], err.msg);
			if (err.msg[0] == '\0')
				fail_msg("%s: unsupported without a message", files[k]);
		} else if (st != RP_OK) {
			print_message("  FAILED: %s: %s: %s\n", files[k], rp_status_name(st), err.msg);
			failed++;
		} else {
			ok++;
		}
		free(data);
	}
	print_message("%s: %zu files, %zu decoded, %zu unsupported, %zu failed\n", use, n, ok,
		      unsupported, failed);
	assert_int_equal(failed, 0);
	/* Native and JPEG-LS files have no excuse. */
	if (strcmp(use, "native") == 0 || strcmp(use, "jpegls") == 0)
		assert_int_equal(unsupported, 0);
}

static void
test_native(void **state)
{
	(void)state;
	check_use("native");
}

static void
test_jpegls(void **state)
{
	(void)state;
	check_use("jpegls");
}

static void
test_edge(void **state)
{
	(void)state;
	check_use("edge");
}

static void
test_compressed(void **state)
{
	(void)state;
	check_use("compressed");
}

/* Damaged copies of real files: cut at many offsets, and each length field's top byte
 * flipped.  Everything must end in a status with a message. */
static void
test_damaged_copies(void **state)
{
	(void)state;
	static const char *files[] = {
		"ct/wg04/CT1_UNC.dcm", "ct/wg04/CT1_JLSL.dcm",
		"ct/dicomparser/CT0012.fragmented_no_bot_jpeg_ls.80.dcm",
		"edge/pydicom/MR_small_implicit.dcm", "edge/pydicom/MR_small_bigendian.dcm",
		"edge/pydicom/liver_deflate.dcm",
	};
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		size_t size;
		uint8_t *data = rp_test_corpus_load(files[k], &size);
		size_t step = size / 97 + 1;
		for (size_t cut = 0; cut < size; cut += step) {
			uint8_t *copy = malloc(cut ? cut : 1);
			memcpy(copy, data, cut);
			struct rp_errbuf err = { "" };
			int frames;
			int st = parse_and_decode(copy, cut, &err, &frames);
			if (st != RP_OK && err.msg[0] == '\0' && st != RP_E_NOMEM)
				fail_msg("%s cut at %zu: %s without a message", files[k], cut,
					 rp_status_name(st));
			free(copy);
		}
		/* flip bytes in the first 2 KiB (the header, where the lengths are) */
		for (size_t at = 132; at < size && at < 2048; at += 3) {
			uint8_t *copy = malloc(size);
			memcpy(copy, data, size);
			copy[at] ^= 0xFF;
			struct rp_errbuf err = { "" };
			int frames;
			(void)parse_and_decode(copy, size, &err, &frames);
			free(copy);
		}
		free(data);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_jpegls),
		cmocka_unit_test(test_edge),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_damaged_copies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
