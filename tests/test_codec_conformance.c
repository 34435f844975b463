/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_codec_conformance.c - the JPEG 2000 (T.803 / 15444-4) and HTJ2K (15444-15)
 * conformance codestreams of the corpus decode to the same pixels as `opj_decompress`.
 *
 * Canonical frames hold 1 or 3 components of one precision and sign, without
 * subsampling, in 8- or 16-bit containers; a conformance file outside that (4 components,
 * 4:2:0, mixed precisions, 24-bit samples...) cannot be a DICOM frame, is not decoded, and
 * is listed with the reason.  HTJ2K files are decoded three ways: by the adapter
 * (OpenJPH, OpenJPEG where OpenJPH refuses), by OpenJPH alone and by OpenJPEG alone; the
 * adapter and OpenJPEG must match opj_decompress (exactly for reversible streams, within
 * 1 for irreversible ones, since OpenJPH and OpenJPEG round the 9/7 differently), and
 * where OpenJPH alone succeeds it must match too, except for the one stream it is known
 * to get wrong (ds1_ht_04_b9, see below).  Where opj_decompress cannot decode a stream,
 * ojph_expand is the reference; where neither can, our decoder must report an error. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/codec_impl.h"
#include "codec/j2k_internal.h"

static char tmpdir[512];

static int
run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static bool
opj_reference(const char *path, const struct rp_image_desc *img, uint8_t *dst)
{
	char out[700], cmd[2000];
	snprintf(out, sizeof(out), "%s/ref.rawl", tmpdir);
	unlink(out);
	snprintf(cmd, sizeof(cmd), "opj_decompress -i '%s' -o '%s' >/dev/null 2>&1", path, out);
	if (run(cmd) != 0)
		return false;
	size_t n;
	uint8_t *raw = rp_test_read_file(out, &n);
	size_t px = (size_t)img->width * img->height, nc = img->components;
	size_t bps = rp__sample_bytes(img);
	if (!raw || n != px * nc * bps)
		fail_msg("opj_decompress wrote %zu bytes for %s, expected %zu", n, path,
			 px * nc * bps);
	for (size_t c = 0; c < nc; c++)
		for (size_t k = 0; k < px; k++) {
			const uint8_t *s = raw + (c * px + k) * bps;
			memcpy(dst + (k * nc + c) * bps, s, bps);
		}
	/* The raw writer keeps the low `precision` bits; extend them as DICOM would. */
	rp__frame_from_unsigned_bits(img, dst, rp_image_frame_size(img));
	free(raw);
	return true;
}

/* ojph_expand, for the HTJ2K streams OpenJPEG 2.5.0 cannot decode (ROI in HT
 * code-blocks).  Its raw writer is unsigned: negative samples come out as 0, which the
 * caller accounts for. */
static bool
ojph_reference(const char *path, const struct rp_image_desc *img, uint8_t *dst)
{
	char out[700], cmd[2000];
	snprintf(out, sizeof(out), "%s/ref.raw", tmpdir);
	unlink(out);
	snprintf(cmd, sizeof(cmd), "ojph_expand -i '%s' -o '%s' >/dev/null 2>&1", path, out);
	if (run(cmd) != 0)
		return false;
	size_t n;
	uint8_t *raw = rp_test_read_file(out, &n);
	size_t px = (size_t)img->width * img->height, nc = img->components;
	size_t bps = rp__sample_bytes(img);
	if (!raw || n != px * nc * bps)
		fail_msg("ojph_expand wrote %zu bytes for %s, expected %zu", n, path,
			 px * nc * bps);
	for (size_t c = 0; c < nc; c++)
		for (size_t k = 0; k < px; k++)
			memcpy(dst + (k * nc + c) * bps, raw + (c * px + k) * bps, bps);
	rp__frame_from_unsigned_bits(img, dst, rp_image_frame_size(img));
	free(raw);
	return true;
}

/* Negative samples set to 0, as ojph_expand writes them. */
static void
clamp_negatives(const struct rp_image_desc *img, uint8_t *frame)
{
	size_t bps = rp__sample_bytes(img), fs = rp_image_frame_size(img);
	if (!img->is_signed)
		return;
	for (size_t k = 0; k < fs; k += bps)
		if (frame[k + bps - 1] & 0x80)
			memset(frame + k, 0, bps);
}

static const char *
unrepresentable(const struct rp__j2k_siz *siz)
{
	if (siz->components != 1 && siz->components != 3)
		return "not 1 or 3 components";
	if (siz->subsampled)
		return "subsampled components (XRsiz/YRsiz != 1)";
	if (!siz->uniform)
		return "components differ in precision or sign";
	if (siz->precision[0] > 16)
		return "more than 16 bits per sample";
	return NULL;
}

static uint64_t
max_error(const struct rp_image_desc *img, const uint8_t *a, const uint8_t *b)
{
	uint64_t w = 0;
	if (rp_frame_compare(img, a, b, rp_image_frame_size(img), &w) != RP_OK)
		fail_msg("frame compare failed");
	return w;
}

static void
run_dir(const char *sub, bool ht, unsigned *checked)
{
	size_t count = 0;
	const char **files = rp_test_corpus_list(ht ? "conformance-htj2k" : "conformance-j2k",
						 &count);
	if (count == 0)
		fail_msg("corpus/files.tsv lists no conformance/%s files", sub);
	const struct rp__codec_ops *ops = rp__codec_ops(ht ? RP_CODEC_HTJ2K_OJPH : RP_CODEC_J2K);
	assert_non_null(ops);
	unsigned ojph_refused = 0;
	for (size_t i = 0; i < count; i++) {
		const char *rel = files[i];
		size_t size;
		uint8_t *data = rp_test_corpus_load(rel, &size);
		struct rp__j2k_siz siz;
		struct rp_errbuf err = { { 0 } };
		RP_ASSERT_OK(rp__j2k_probe(data, size, &siz, &err), &err);
		const char *why = unrepresentable(&siz);
		if (why) {
			printf("not a DICOM frame %s: %u components, %u-bit: %s\n", rel,
			       siz.components, siz.precision[0], why);
			free(data);
			continue;
		}
		struct rp_image_desc img = {
			.width = siz.width, .height = siz.height, .components = siz.components,
			.bits_allocated = siz.precision[0] > 8 ? 16 : 8,
			.bits_stored = siz.precision[0], .is_signed = siz.is_signed[0],
		};
		size_t fs = rp_image_frame_size(&img);
		uint8_t *ref = malloc(fs), *got = malloc(fs);
		char full[1024];
		snprintf(full, sizeof(full), "%s/%s", rp_test_corpus_dir(), rel);
		uint64_t tol = siz.reversible ? 0 : 1;
		if (!opj_reference(full, &img, ref)) {
			/* OpenJPEG 2.5.0 refuses some Part 15 features (ROI in HT
			 * code-blocks); then OpenJPH's own tool is the reference. */
			if (!ht)
				fail_msg("opj_decompress cannot decode %s", rel);
			int rc;
			if (!ojph_reference(full, &img, ref)) {
				/* No decoder here reads it (ds0_ht_03: ROI in HT code-blocks):
				 * then ours must say so, not produce unverifiable pixels. */
				rc = ops->decode(&img, data, size, got, fs, NULL, &err);
				if (rc == RP_OK)
					fail_msg("%s: we decode what neither opj_decompress nor "
						 "ojph_expand can; cannot verify", rel);
				printf("no decoder reads %s (opj_decompress, ojph_expand and ours "
				       "refuse it): %s: %s\n", rel, rp_status_name(rc), err.msg);
				free(ref);
				free(got);
				free(data);
				continue;
			}
			rc = ops->decode(&img, data, size, got, fs, NULL, &err);
			if (rc != RP_OK)
				fail_msg("%s: %s: %s", rel, rp_status_name(rc), err.msg);
			clamp_negatives(&img, got);
			uint64_t w = max_error(&img, got, ref);
			if (w > tol)
				fail_msg("%s: our decoder differs from ojph_expand by %llu", rel,
					 (unsigned long long)w);
			printf("ok %s: opj_decompress refuses it; matches ojph_expand (negatives "
			       "clamped by its writer), max error %llu\n", rel,
			       (unsigned long long)w);
			(*checked)++;
			free(ref);
			free(got);
			free(data);
			continue;
		}
		int rc = ops->decode(&img, data, size, got, fs, NULL, &err);
		if (rc != RP_OK)
			fail_msg("%s: %s: %s", rel, rp_status_name(rc), err.msg);
		uint64_t w_adapter = max_error(&img, got, ref);
		if (w_adapter > tol)
			fail_msg("%s: our %s decoder differs from opj_decompress by %llu", rel,
				 rp_codec_name(ops->id), (unsigned long long)w_adapter);
		const char *ojph = "-";
		if (ht) {
			RP_ASSERT_OK(rp__j2k_decode_openjpeg(&img, data, size, got, fs, NULL, &err),
				     &err);
			assert_int_equal(max_error(&img, got, ref), 0);
			rc = rp__htj2k_ojph_decode_only(&img, data, size, got, fs, &err);
			/* OpenJPH 0.9 decodes this irreversible stream wrongly without an
			 * error (peak error 956; OpenJPEG matches the Part 1 twin p1_04
			 * exactly), which is why the adapter sends irreversible HTJ2K to
			 * OpenJPEG first.  Kept here so that a fixed OpenJPH shows up. */
			bool known_wrong = strcmp(rel, "conformance/htj2k/ds1_ht_04_b9.j2k") == 0;
			if (rc == RP_OK) {
				uint64_t w = max_error(&img, got, ref);
				if (known_wrong) {
					if (w <= tol)
						fail_msg("%s: OpenJPH now decodes it right: update "
							 "the test and codec/htj2k_ojph.cpp", rel);
					printf("OpenJPH alone mis-decodes %s (peak error %llu), as "
					       "known; the adapter used OpenJPEG\n", rel,
					       (unsigned long long)w);
				} else if (w > tol) {
					fail_msg("%s: OpenJPH differs from opj_decompress by %llu",
						 rel, (unsigned long long)w);
				}
				ojph = known_wrong ? "OpenJPH wrong (known)" : "OpenJPH ok";
			} else {
				printf("OpenJPH refuses %s (OpenJPEG decodes it): %s\n", rel,
				       err.msg);
				ojph = "OpenJPH refused";
				ojph_refused++;
			}
		}
		printf("ok %s: %ux%ux%u %u-bit %s, %s, max error %llu %s\n", rel, img.width,
		       img.height, img.components, img.bits_stored,
		       img.is_signed ? "signed" : "unsigned",
		       siz.reversible ? "reversible" : "irreversible",
		       (unsigned long long)w_adapter, ojph);
		(*checked)++;
		free(ref);
		free(got);
		free(data);
	}
	if (ht)
		printf("OpenJPH refused %u of the HTJ2K files; OpenJPEG decoded them\n",
		       ojph_refused);
}

static void
test_j2k_conformance(void **state)
{
	(void)state;
	unsigned checked = 0;
	run_dir("j2k", false, &checked);
	printf("%u JPEG 2000 conformance codestreams match opj_decompress\n", checked);
	/* 14 of the 20 are DICOM-shaped; the 6 others are listed as such above. */
	assert_int_equal(checked, 14);
}

static void
test_htj2k_conformance(void **state)
{
	(void)state;
	unsigned checked = 0;
	run_dir("htj2k", true, &checked);
	printf("%u HTJ2K conformance codestreams match opj_decompress\n", checked);
	/* 9 of the 28 decode and are DICOM-shaped; the others are listed above as not a
	 * DICOM frame (10) or read by no decoder we have (9). */
	assert_int_equal(checked, 9);
}

static int
setup(void **state)
{
	(void)state;
	rp_test_tmpdir(tmpdir, sizeof(tmpdir));
	if (run("command -v opj_decompress >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_codec_conformance: opj_decompress is missing: run "
			"scripts/install-deps.sh (libopenjp2-tools)\n");
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_j2k_conformance),
		cmocka_unit_test(test_htj2k_conformance),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
