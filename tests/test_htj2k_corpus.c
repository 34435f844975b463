/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_htj2k_corpus.c - radpipe's own HTJ2K codec on the real corpus:
 *   - every native image (first, middle and last frame of long series) encoded by us
 *     decodes bit-exact in our decoder, in OpenJPEG and in OpenJPH; the compressed size is
 *     compared with OpenJPH's (the htj2k-ojph adapter) per modality, and must stay within
 *     1% of it on CT and MR;
 *   - the HTJ2K conformance codestreams (15444-15) decode in ours to the same samples as
 *     OpenJPEG, or are refused as outside our profile with RP_E_UNSUPPORTED and a reason
 *     (printed: the list in the report). */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <radpipe/dicom.h>

#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"
#include "codec/j2k_internal.h"

struct mod_sum {
	char modality[17];
	uint64_t raw, ours, ojph;
	unsigned frames;
};

static struct mod_sum *
mod_slot(struct mod_sum *m, size_t *n, const char *modality)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(m[i].modality, modality) == 0)
			return &m[i];
	if (*n >= 32)
		return &m[31];
	memset(&m[*n], 0, sizeof(m[*n]));
	snprintf(m[*n].modality, sizeof(m[*n].modality), "%s", modality);
	return &m[(*n)++];
}

static void
test_native_corpus(void **state)
{
	(void)state;
	const struct rp__codec_ops *ours = rp__codec_ops(RP_CODEC_HTJ2K);
	const struct rp__codec_ops *ojph = rp__codec_ops(RP_CODEC_HTJ2K_OJPH);
	struct mod_sum mods[32];
	size_t nmods = 0, count = 0;
	unsigned frames = 0;
	const char **files = rp_test_corpus_list("native", &count);
	if (count == 0)
		fail_msg("corpus/files.tsv lists no native files");
	for (size_t i = 0; i < count; i++) {
		struct rp_errbuf err = { { 0 } };
		size_t size = 0;
		uint8_t *data = rp_test_corpus_load(files[i], &size);
		struct rp_dicom *ds = NULL;
		if (rp_dicom_parse(data, size, NULL, &ds, &err) != RP_OK) {
			free(data);
			continue;
		}
		const struct rp_dicom_info *info = rp_dicom_get_info(ds);
		const struct rp_image_desc *img = &info->img;
		struct rp__encode_params p = { 0 };
		if (!info->has_pixels || ours->check(img, &p, &err) != RP_OK) {
			/* Only containers outside the codec's range may be refused. */
			if (info->has_pixels && (img->bits_allocated == 8 || img->bits_allocated == 16) &&
			    (img->components == 1 || img->components == 3))
				fail_msg("htj2k refuses %s: %s", files[i], err.msg);
			rp_dicom_free(ds);
			free(data);
			continue;
		}
		size_t fs = rp_image_frame_size(img);
		size_t cap = ours->bound(img, &p), cap2 = ojph->bound(img, &p);
		uint8_t *frame = malloc(fs), *back = malloc(fs), *enc = malloc(cap);
		uint8_t *enc2 = malloc(cap2 ? cap2 : 1);
		uint32_t n = info->frames, picks[3] = { 0, n / 2, n - 1 };
		struct mod_sum *ms = mod_slot(mods, &nmods, info->modality);
		for (uint32_t k = 0; k < (n <= 3 ? n : 3); k++) {
			uint32_t fr = n <= 3 ? k : picks[k];
			RP_ASSERT_OK(rp_dicom_decode_frame(ds, fr, frame, fs, &err), &err);
			if (!rp__frame_high_bits_clean(img, frame, fs))
				continue;       /* overlays in the high bits: not losslessly codable */
			size_t es = 0, es2 = 0;
			RP_ASSERT_OK(ours->encode(img, &p, frame, fs, enc, cap, &es, &err), &err);
			RP_ASSERT_OK(ours->decode(img, enc, es, back, fs, NULL, &err), &err);
			if (memcmp(frame, back, fs) != 0)
				fail_msg("%s frame %u: our decoder differs", files[i], fr);
			RP_ASSERT_OK(rp__j2k_decode_openjpeg(img, enc, es, back, fs, NULL, &err), &err);
			if (memcmp(frame, back, fs) != 0)
				fail_msg("%s frame %u: OpenJPEG decodes differently", files[i], fr);
			RP_ASSERT_OK(rp__htj2k_ojph_decode_only(img, enc, es, back, fs, &err), &err);
			if (memcmp(frame, back, fs) != 0)
				fail_msg("%s frame %u: OpenJPH decodes differently", files[i], fr);
			if (cap2 && ojph->encode(img, &p, frame, fs, enc2, cap2, &es2, &err) == RP_OK) {
				ms->raw += fs;
				ms->ours += es;
				ms->ojph += es2;
				ms->frames++;
			}
			frames++;
		}
		free(frame);
		free(back);
		free(enc);
		free(enc2);
		rp_dicom_free(ds);
		free(data);
	}
	free((void *)files);
	printf("%u native frames: radpipe htj2k output decoded bit-exact by radpipe, OpenJPEG "
	       "and OpenJPH\n", frames);
	printf("modality frames  raw_MB  ratio_ours  ratio_ojph  ours/ojph_size\n");
	for (size_t i = 0; i < nmods; i++) {
		const struct mod_sum *m = &mods[i];
		if (!m->frames)
			continue;
		printf("%-8s %6u %7.2f %11.3f %11.3f %15.4f\n", m->modality, m->frames,
		       m->raw / 1e6, (double)m->raw / m->ours, (double)m->raw / m->ojph,
		       (double)m->ours / m->ojph);
		if (strcmp(m->modality, "CT") == 0 || strcmp(m->modality, "MR") == 0)
			if ((double)m->ours > 1.01 * (double)m->ojph)
				fail_msg("%s: our output is %.2f%% larger than OpenJPH's", m->modality,
					 100.0 * ((double)m->ours / m->ojph - 1));
	}
	assert_true(frames >= 100);
}

static void
test_conformance(void **state)
{
	(void)state;
	size_t count = 0;
	unsigned ok = 0, refused = 0;
	const char **files = rp_test_corpus_list("conformance-htj2k", &count);
	if (count == 0)
		fail_msg("corpus/files.tsv lists no HTJ2K conformance files");
	for (size_t i = 0; i < count; i++) {
		struct rp_errbuf err = { { 0 } };
		size_t size = 0;
		uint8_t *data = rp_test_corpus_load(files[i], &size);
		struct rp__ht_info info;
		int rc = rp__htj2k_read_info(data, size, &info, &err);
		struct rp_image_desc img = { 0 };
		uint8_t *a = NULL, *b = NULL;
		if (rc == RP_OK) {
			img.width = info.width;
			img.height = info.height;
			img.components = (uint16_t)info.components;
			img.bits_stored = (uint16_t)info.depth;
			img.bits_allocated = info.depth > 8 ? 16 : 8;
			img.is_signed = (uint8_t)info.is_signed;
			img.photometric = info.components == 3 ? RP_PHOTOMETRIC_RGB :
								 RP_PHOTOMETRIC_MONOCHROME2;
			size_t fs = rp_image_frame_size(&img);
			a = malloc(fs);
			b = malloc(fs);
			rc = rp__htj2k_decode(&img, data, size, a, fs, NULL,
					      rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST)), NULL, &err);
			if (rc == RP_OK) {
				struct rp_errbuf e2 = { { 0 } };
				RP_ASSERT_OK(rp__j2k_decode_openjpeg(&img, data, size, b, fs, NULL, &e2),
					     &e2);
				if (memcmp(a, b, fs) != 0)
					fail_msg("%s: differs from OpenJPEG", files[i]);
				ok++;
			}
		}
		if (rc != RP_OK) {
			/* Conformance streams are valid: a refusal must say "unsupported". */
			if (rc != RP_E_UNSUPPORTED)
				fail_msg("%s: %s (%s), expected a clean refusal or a decode", files[i],
					 rp_status_name(rc), err.msg);
			printf("outside profile: %s: %s\n", files[i], err.msg);
			refused++;
		}
		free(a);
		free(b);
		free(data);
	}
	free((void *)files);
	printf("HTJ2K conformance: %u decoded bit-exact to OpenJPEG, %u refused (outside the "
	       "profile)\n", ok, refused);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_corpus),
		cmocka_unit_test(test_conformance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
