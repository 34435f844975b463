/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_codec_corpus.c - every compressed corpus file in a library codec's syntax (JPEG
 * 2000, HTJ2K, JPEG baseline/extended, JPEG lossless, RLE) is decoded, frame by frame,
 * and compared with
 *   - its uncompressed twin where one exists (WG-04 *_UNC, the Siemens Trio image, the
 *     pydicom pairs): bit-exact for lossless syntaxes;
 *   - an independent decoder's output: `gdcmconv --raw` (JPEG 2000, JPEG lossless, RLE),
 *     `dcmdjpeg` (JPEG baseline/extended, 8- and 12-bit: DCMTK converts YCbCr to RGB as
 *     we do, and its 12-bit IJG decoder uses the same islow IDCT as codec/jpeg12.c), and
 *     `opj_decompress` on the extracted codestreams (HTJ2K, which GDCM 3.0 does not
 *     know): bit-exact for lossless syntaxes, within rounding (2) for lossy ones.
 * Files that cannot be decoded are listed in `expected[]` with the status and the reason;
 * any other failure, or an expected failure that starts to succeed, fails the test.
 * A second test round-trips every native corpus file through each lossless encoder. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/codec_impl.h"

#define LOSSY_TOLERANCE 2

struct expected {
	const char *path;
	int status;
	const char *why;             /* substring of the error message */
};

/* What we cannot decode, and why. */
static const struct expected expected[] = {
	/* The codestream ends inside the only tile: OpenJPEG (and so GDCM) stop with
	 * "Stream too short"; pydicom issue 966. */
	{ "cr_dx/pylibjpeg/966.dcm", RP_E_CORRUPT, "Stream too short" },
	/* A 250-byte synthetic file (pydicom) whose fragment carries FFFE,E0DD inside its
	 * data: the parser must keep it in the fragment (it does), and the codestream is
	 * then not a valid one (SIZ says 4292730882 tiles); GDCM also refuses it. */
	{ "edge/pydicom/JPEG2000-embedded-sequence-delimiter.dcm", RP_E_CORRUPT,
	  "Invalid number of tiles" },
};

static const struct expected *
find_expected(const char *path)
{
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		if (strcmp(expected[i].path, path) == 0)
			return &expected[i];
	return NULL;
}

/* Our codec for a transfer syntax, or -1 when the syntax is not one of these codecs'. */
static int
our_codec(const char *uid)
{
	static const struct {
		const char *uid;
		enum rp_codec codec;
	} map[] = {
		{ "1.2.840.10008.1.2.4.50", RP_CODEC_JPEG },
		{ "1.2.840.10008.1.2.4.51", RP_CODEC_JPEG },
		{ "1.2.840.10008.1.2.4.57", RP_CODEC_JPEG_LOSSLESS },
		{ "1.2.840.10008.1.2.4.70", RP_CODEC_JPEG_LOSSLESS },
		{ "1.2.840.10008.1.2.4.90", RP_CODEC_J2K },
		{ "1.2.840.10008.1.2.4.91", RP_CODEC_J2K },
		{ "1.2.840.10008.1.2.4.201", RP_CODEC_HTJ2K_OJPH },
		{ "1.2.840.10008.1.2.4.202", RP_CODEC_HTJ2K_OJPH },
		{ "1.2.840.10008.1.2.4.203", RP_CODEC_HTJ2K_OJPH },
		{ "1.2.840.10008.1.2.5", RP_CODEC_RLE },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].uid, uid) == 0)
			return (int)map[i].codec;
	return -1;
}

static bool
ts_is_lossy(const char *uid)
{
	return strcmp(uid, "1.2.840.10008.1.2.4.50") == 0 ||
	       strcmp(uid, "1.2.840.10008.1.2.4.51") == 0 ||
	       strcmp(uid, "1.2.840.10008.1.2.4.91") == 0 ||
	       strcmp(uid, "1.2.840.10008.1.2.4.203") == 0;
}

/* The uncompressed twin of a lossless file, or NULL. */
static const char *
twin_of(const char *path, char *buf, size_t cap)
{
	static const char *const pairs[][2] = {
		{ "mr/pydicom/MR_small_RLE.dcm", "mr/pydicom/MR_small.dcm" },
		{ "mr/pydicom/MR_small_jp2klossless.dcm", "mr/pydicom/MR_small.dcm" },
		{ "mr/pydicom/emri_small_RLE.dcm", "mr/pydicom/emri_small.dcm" },
		{ "mr/pydicom/emri_small_jpeg_2k_lossless.dcm", "mr/pydicom/emri_small.dcm" },
		{ "us/pydicom/OBXXXX1A_rle.dcm", "us/pydicom/OBXXXX1A.dcm" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (strcmp(pairs[i][0], path) == 0)
			return pairs[i][1];
	/* The Siemens Trio image: 1.dcm is explicit VR little endian, 4..9 compressed. */
	if (strncmp(path, "mr/dcm_qa_ts_Siemens_Trio/", 26) == 0)
		return "mr/dcm_qa_ts_Siemens_Trio/1.dcm";
	/* WG-04: X_J2KR / X_JPLL / X_RLE next to X_UNC. */
	const char *us = strrchr(path, '_');
	if (strstr(path, "/wg04/") && us &&
	    (strcmp(us, "_J2KR.dcm") == 0 || strcmp(us, "_JPLL.dcm") == 0 ||
	     strcmp(us, "_RLE.dcm") == 0)) {
		snprintf(buf, cap, "%.*s_UNC.dcm", (int)(us - path), path);
		char full[1024];
		struct stat st;
		snprintf(full, sizeof(full), "%s/%s", rp_test_corpus_dir(), buf);
		if (stat(full, &st) == 0)
			return buf;
	}
	return NULL;
}

struct parsed {
	uint8_t *data;
	size_t size;
	struct rp_dicom *ds;
	const struct rp_dicom_info *info;
};

static int
parse_file(const char *full, struct parsed *p, bool from_corpus, const char *rel,
	   struct rp_errbuf *err)
{
	memset(p, 0, sizeof(*p));
	p->data = from_corpus ? rp_test_corpus_load(rel, &p->size) :
				rp_test_read_file(full, &p->size);
	if (!p->data)
		return rp__err(err, RP_E_IO, "cannot read %s", full);
	int rc = rp_dicom_parse(p->data, p->size, NULL, &p->ds, err);
	if (rc == RP_OK)
		p->info = rp_dicom_get_info(p->ds);
	return rc;
}

static void
parsed_free(struct parsed *p)
{
	rp_dicom_free(p->ds);
	free(p->data);
}

static int
run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Frames of the compressed file decoded by an independent tool into a native DICOM
 * (gdcmconv / dcmdjpeg), read back through our parser.  Returns the parsed reference or fails. */
static bool
reference_by_tool(const char *tool, const char *full, const char *tmp, struct parsed *ref)
{
	char out[1200], cmd[3000];
	struct rp_errbuf err = { { 0 } };
	snprintf(out, sizeof(out), "%s/ref.dcm", tmp);
	unlink(out);
	if (strcmp(tool, "dcmdjpeg") == 0)
		snprintf(cmd, sizeof(cmd), "dcmdjpeg '%s' '%s' >/dev/null 2>&1", full, out);
	else
		snprintf(cmd, sizeof(cmd), "gdcmconv --raw '%s' '%s' >/dev/null 2>&1", full, out);
	if (run(cmd) != 0)
		return false;
	if (parse_file(out, ref, false, NULL, &err) != RP_OK)
		fail_msg("%s output of %s does not parse: %s", tool, full, err.msg);
	return true;
}

/* opj_decompress on one extracted codestream: planar little-endian samples of the
 * codestream's precision, which we turn into a canonical frame of img. */
static bool
reference_by_opj(const uint8_t *cs, size_t cs_size, const struct rp_image_desc *img,
		 const char *tmp, uint8_t *dst)
{
	char in[1200], out[1200], cmd[3000];
	snprintf(in, sizeof(in), "%s/frame.j2k", tmp);
	snprintf(out, sizeof(out), "%s/frame.rawl", tmp);
	FILE *f = fopen(in, "wb");
	if (!f || fwrite(cs, 1, cs_size, f) != cs_size)
		fail_msg("cannot write %s", in);
	fclose(f);
	unlink(out);
	snprintf(cmd, sizeof(cmd), "opj_decompress -i '%s' -o '%s' >/dev/null 2>&1", in, out);
	if (run(cmd) != 0)
		return false;
	size_t n = 0;
	uint8_t *raw = rp_test_read_file(out, &n);
	size_t px = (size_t)img->width * img->height, bps = rp__sample_bytes(img);
	size_t in_bps = n / (px * img->components);
	if (!raw || (in_bps != 1 && in_bps != 2) || n != px * img->components * in_bps)
		fail_msg("opj_decompress wrote %zu bytes for %ux%ux%u", n, img->width,
			 img->height, img->components);
	for (size_t c = 0; c < img->components; c++)
		for (size_t k = 0; k < px; k++) {
			const uint8_t *s = raw + (c * px + k) * in_bps;
			uint32_t v = in_bps == 1 ? s[0] : rp__load_le16(s);
			uint8_t *d = dst + (k * img->components + c) * bps;
			if (bps == 1)
				d[0] = (uint8_t)v;
			else
				rp__store_le16(d, (uint16_t)v);
		}
	rp__frame_from_unsigned_bits(img, dst, rp_image_frame_size(img));
	free(raw);
	return true;
}

static uint64_t
compare_frames(const struct rp_image_desc *img, const uint8_t *a, const uint8_t *b,
	       const char *path, uint32_t frame, const char *what)
{
	uint64_t worst = 0;
	int rc = rp_frame_compare(img, a, b, rp_image_frame_size(img), &worst);
	if (rc != RP_OK)
		fail_msg("%s frame %u: cannot compare with %s", path, frame, what);
	return worst;
}

static void
test_decode_compressed_corpus(void **state)
{
	(void)state;
	char tmp[512];
	rp_test_tmpdir(tmp, sizeof(tmp));
	size_t ncomp = 0, nedge = 0;
	const char **comp = rp_test_corpus_list("compressed", &ncomp);
	const char **edge = rp_test_corpus_list("edge", &nedge);
	if (ncomp == 0 || nedge == 0)
		fail_msg("corpus/files.tsv lists no compressed or no edge files");
	size_t count = ncomp + nedge;
	const char **files = calloc(count, sizeof(*files));
	memcpy(files, comp, ncomp * sizeof(*files));
	memcpy(files + ncomp, edge, nedge * sizeof(*files));
	unsigned done = 0, failed_as_expected = 0, twins = 0;
	bool seen_expected[sizeof(expected) / sizeof(expected[0])] = { false };

	for (size_t i = 0; i < count; i++) {
		const char *rel = files[i];
		char full[1024], twin_buf[512];
		snprintf(full, sizeof(full), "%s/%s", rp_test_corpus_dir(), rel);
		struct parsed src;
		struct rp_errbuf err = { { 0 } };
		int rc = parse_file(full, &src, true, rel, &err);
		if (rc != RP_OK) {
			/* Parser edge cases belong to the parser's tests; say which. */
			printf("not parsed %s: %s: %s\n", rel, rp_status_name(rc), err.msg);
			parsed_free(&src);
			continue;
		}
		const struct rp_dicom_info *info = src.info;
		int codec = our_codec(info->ts->uid);
		if (codec < 0 || !info->has_pixels) {
			parsed_free(&src);
			continue;
		}
		const struct rp__codec_ops *ops = rp__codec_ops((enum rp_codec)codec);
		assert_non_null(ops);
		const struct rp_image_desc *img = &info->img;
		size_t fs = rp_image_frame_size(img);
		uint8_t *ours = malloc(fs * info->frames), *ref = malloc(fs);
		assert_non_null(ours);
		const struct expected *ex = find_expected(rel);

		/* Our decode of every frame (HTJ2K through our OpenJPH adapter, the rest
		 * through the library's own path, rp_dicom_decode_frame). */
		rc = RP_OK;
		for (uint32_t fr = 0; fr < info->frames && rc == RP_OK; fr++) {
			if (codec == RP_CODEC_HTJ2K_OJPH) {
				const uint8_t *cs;
				size_t cs_size;
				uint8_t *owned;
				rc = rp_dicom_encoded_frame(src.ds, fr, &cs, &cs_size, &owned, &err);
				if (rc == RP_OK)
					rc = ops->decode(img, cs, cs_size, ours + fr * fs, fs, NULL,
							 &err);
				free(owned);
			} else {
				rc = rp_dicom_decode_frame(src.ds, fr, ours + fr * fs, fs, &err);
			}
		}
		if (ex) {
			seen_expected[ex - expected] = true;
			if (rc == RP_OK)
				fail_msg("%s: decodes now, but is listed as failing (%s): update "
					 "expected[]", rel, ex->why);
			if (rc != ex->status || !strstr(err.msg, ex->why))
				fail_msg("%s: expected %s (\"%s\"), got %s: %s", rel,
					 rp_status_name(ex->status), ex->why, rp_status_name(rc),
					 err.msg);
			printf("cannot decode (expected) %s: %s: %s\n", rel, rp_status_name(rc),
			       err.msg);
			failed_as_expected++;
			goto next;
		}
		if (rc != RP_OK)
			fail_msg("%s: %s: %s", rel, rp_status_name(rc), err.msg);

		bool lossy = ts_is_lossy(info->ts->uid);
		uint64_t tol = lossy ? LOSSY_TOLERANCE : 0, worst_twin = 0, worst_ref = 0;
		/* 1. The uncompressed twin (lossless syntaxes only). */
		const char *twin = lossy ? NULL : twin_of(rel, twin_buf, sizeof(twin_buf));
		if (twin) {
			struct parsed t;
			char tfull[1024];
			snprintf(tfull, sizeof(tfull), "%s/%s", rp_test_corpus_dir(), twin);
			if (parse_file(tfull, &t, true, twin, &err) != RP_OK)
				fail_msg("twin %s does not parse: %s", twin, err.msg);
			if (rp_image_frame_size(&t.info->img) != fs || t.info->frames != info->frames)
				fail_msg("twin %s has another geometry than %s", twin, rel);
			for (uint32_t fr = 0; fr < info->frames; fr++) {
				RP_ASSERT_OK(rp_dicom_decode_frame(t.ds, fr, ref, fs, &err), &err);
				uint64_t w = compare_frames(img, ours + fr * fs, ref, rel, fr, twin);
				if (w > worst_twin)
					worst_twin = w;
			}
			parsed_free(&t);
			if (worst_twin != 0)
				fail_msg("%s differs from its twin %s by up to %llu", rel, twin,
					 (unsigned long long)worst_twin);
			twins++;
		}
		/* 2. An independent decoder. */
		const char *tool;
		if (codec == RP_CODEC_HTJ2K_OJPH) {
			tool = "opj_decompress";
			for (uint32_t fr = 0; fr < info->frames; fr++) {
				const uint8_t *cs;
				size_t cs_size;
				uint8_t *owned;
				RP_ASSERT_OK(rp_dicom_encoded_frame(src.ds, fr, &cs, &cs_size, &owned,
								    &err), &err);
				if (!reference_by_opj(cs, cs_size, img, tmp, ref))
					fail_msg("opj_decompress cannot decode %s frame %u", rel, fr);
				free(owned);
				uint64_t w = compare_frames(img, ours + fr * fs, ref, rel, fr, tool);
				if (w > worst_ref)
					worst_ref = w;
			}
		} else {
			tool = codec == RP_CODEC_JPEG ? "dcmdjpeg" : "gdcmconv";
			struct parsed r;
			if (!reference_by_tool(tool, full, tmp, &r)) {
				if (!twin)
					fail_msg("%s: %s cannot decode it and there is no twin", rel,
						 tool);
				printf("note: %s cannot decode %s (twin-checked)\n", tool, rel);
				tool = NULL;
			} else {
				if (rp_image_frame_size(&r.info->img) != fs ||
				    r.info->frames != info->frames)
					fail_msg("%s output of %s has another geometry", tool, rel);
				for (uint32_t fr = 0; fr < info->frames; fr++) {
					RP_ASSERT_OK(rp_dicom_decode_frame(r.ds, fr, ref, fs, &err),
						     &err);
					uint64_t w = compare_frames(img, ours + fr * fs, ref, rel, fr,
								    tool);
					if (w > worst_ref)
						worst_ref = w;
				}
				parsed_free(&r);
			}
		}
		if (worst_ref > tol)
			fail_msg("%s differs from %s by up to %llu (tolerance %llu)", rel, tool,
				 (unsigned long long)worst_ref, (unsigned long long)tol);
		printf("ok %s: %u frame(s), %s%s, %s max error %llu\n", rel, info->frames,
		       twin ? "twin " : "", twin ? twin : "no twin", tool ? tool : "-",
		       (unsigned long long)worst_ref);
		done++;
next:
		free(ours);
		free(ref);
		parsed_free(&src);
	}
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		if (!seen_expected[i])
			fail_msg("%s is listed in expected[] but was not visited", expected[i].path);
	printf("decoded %u files (%u with a twin), %u fail as expected\n", done, twins,
	       failed_as_expected);
	free(files);
	assert_true(done >= 50);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(run(cmd), 0);
}

/* Every native corpus image through each lossless encoder and back: bit-exact. */
static void
test_native_corpus_roundtrip(void **state)
{
	(void)state;
	static const enum rp_codec codecs[] = { RP_CODEC_J2K, RP_CODEC_HTJ2K_OJPH, RP_CODEC_RLE,
						RP_CODEC_JPEG_LOSSLESS };
	size_t count = 0;
	const char **files = rp_test_corpus_list("native", &count);
	if (count == 0)
		fail_msg("corpus/files.tsv lists no native files");
	unsigned frames_done[4] = { 0 }, skipped = 0;
	for (size_t i = 0; i < count; i++) {
		struct parsed src;
		struct rp_errbuf err = { { 0 } };
		char full[1024];
		snprintf(full, sizeof(full), "%s/%s", rp_test_corpus_dir(), files[i]);
		if (parse_file(full, &src, true, files[i], &err) != RP_OK || !src.info->has_pixels) {
			if (src.ds || src.data)
				parsed_free(&src);
			continue;
		}
		const struct rp_image_desc *img = &src.info->img;
		size_t fs = rp_image_frame_size(img);
		uint8_t *frame = malloc(fs), *back = malloc(fs);
		/* Every frame of small series; the first, middle and last of long ones. */
		uint32_t n = src.info->frames, picks[3] = { 0, n / 2, n - 1 };
		for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
			const struct rp__codec_ops *o = rp__codec_ops(codecs[c]);
			struct rp__encode_params p = { 0 };
			if (o->check(img, &p, &err) != RP_OK) {
				/* Only containers the codec cannot hold may be refused. */
				if (img->bits_allocated == 8 || img->bits_allocated == 16)
					fail_msg("%s refuses %s: %s", rp_codec_name(codecs[c]),
						 files[i], err.msg);
				skipped++;
				continue;
			}
			size_t cap = o->bound(img, &p);
			uint8_t *enc = malloc(cap);
			for (uint32_t k = 0; k < (n <= 3 ? n : 3); k++) {
				uint32_t fr = n <= 3 ? k : picks[k];
				RP_ASSERT_OK(rp_dicom_decode_frame(src.ds, fr, frame, fs, &err), &err);
				size_t es = 0;
				RP_ASSERT_OK(o->encode(img, &p, frame, fs, enc, cap, &es, &err), &err);
				RP_ASSERT_OK(o->decode(img, enc, es, back, fs, NULL, &err), &err);
				if (memcmp(frame, back, fs) != 0)
					fail_msg("%s: %s frame %u does not round-trip",
						 rp_codec_name(codecs[c]), files[i], fr);
				frames_done[c]++;
			}
			free(enc);
		}
		free(frame);
		free(back);
		parsed_free(&src);
	}
	printf("round trips: j2k %u, htj2k-ojph %u, rle %u, jpeg-lossless %u frames; %u "
	       "file/codec pairs not codable (BitsAllocated 1 or 32)\n", frames_done[0],
	       frames_done[1], frames_done[2], frames_done[3], skipped);
	assert_true(frames_done[0] >= 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_compressed_corpus),
		cmocka_unit_test(test_native_corpus_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
