/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_pipeline.c - the streaming transcoder (include/radpipe/pipeline.h) over real
 * corpus files: outputs are byte-identical for every thread count and with no pool,
 * decoded pixels equal the input's, the memory budget bounds what is held, failures stay
 * per file, and the per-file policies (copy without pixels, overlay bits) hold. */
#include "test_util.h"

#include <radpipe/pipeline.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Single-frame CT (signed 16-bit, unsigned 12-bit), a 64-frame enhanced MR, 8-frame RGB
 * ultrasound, a JPEG-LS compressed 2-frame CT, and a dataset without pixel data. */
static const char *const inputs[] = {
	"ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm",
	"ct/dcm_qa_ct_GE_HiSpeedDual/02.dcm",
	"ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/I10",
	"mr/dcm_qa_enh/Philips/IM_0027_fMAP.dcm",
	"us/dicomparser/IM00001.implicit_little_endian.dcm",
	"ct/dicomparser/CT0012.not_fragmented_bot_jpeg_ls.80.dcm",
	"edge/pydicom/ExplVR_LitEndNoMeta.dcm",
};
#define NIN (sizeof(inputs) / sizeof(inputs[0]))
#define NO_PIXELS_INDEX 6

static char in_paths[NIN][4096];

static int
setup(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	for (size_t i = 0; i < NIN; i++) {
		snprintf(in_paths[i], sizeof(in_paths[i]), "%s/%s", corpus, inputs[i]);
		if (access(in_paths[i], R_OK) != 0) {
			fprintf(stderr, "corpus file missing: %s (RADPIPE_CORPUS=%s)\n",
				in_paths[i], corpus);
			return -1;
		}
	}
	return 0;
}

struct run_result {
	char dir[4096];
	char out[NIN][4200];
	struct rp_pipeline_file files[NIN];
	struct rp_pipeline_stats stats;
	int status;
	size_t done_calls;
};

static void
count_done(void *ctx, size_t index, const struct rp_pipeline_file *f)
{
	struct run_result *r = ctx;
	assert_true(index < NIN);
	assert_ptr_equal(f, &r->files[index]);
	r->done_calls++;
}

/* Runs the pipeline over `inputs` with `threads` workers (0: no pool). */
static void
run(struct run_result *r, enum rp_codec codec, unsigned threads, uint64_t budget)
{
	struct rp_pipeline_options o;
	struct rp_errbuf err = { "" };
	struct rp_pool *pool = NULL;

	memset(r, 0, sizeof(*r));
	rp_test_tmpdir(r->dir, sizeof(r->dir));
	for (size_t i = 0; i < NIN; i++) {
		snprintf(r->out[i], sizeof(r->out[i]), "%s/out%zu.dcm", r->dir, i);
		r->files[i].input = in_paths[i];
		r->files[i].output = r->out[i];
	}
	if (threads)
		RP_ASSERT_OK(rp_pool_create(threads, 0, &pool), NULL);
	rp_pipeline_options_init(&o);
	o.encoder.codec = codec;
	o.pool = pool;
	o.memory_budget = budget;
	o.on_done = count_done;
	o.on_done_ctx = r;
	r->status = rp_pipeline_run(&o, r->files, NIN, &r->stats, &err);
	if (r->status != RP_OK)
		print_message("pipeline: %s: %s\n", rp_status_name(r->status), err.msg);
	assert_int_equal(r->stats.threads, threads);
	rp_pool_destroy(pool);
}

static void
cleanup(struct run_result *r)
{
	for (size_t i = 0; i < NIN; i++)
		remove(r->out[i]);
	rmdir(r->dir);
}

/* Decoded frames of a and b (paths) are identical. */
static void
assert_same_pixels(const char *a_path, const char *b_path)
{
	size_t as, bs;
	uint8_t *a = rp_test_read_file(a_path, &as), *b = rp_test_read_file(b_path, &bs);
	struct rp_dicom *da = NULL, *db = NULL;
	struct rp_errbuf err = { "" }, *ep = &err;

	assert_non_null(a);
	assert_non_null(b);
	RP_ASSERT_OK(rp_dicom_parse(a, as, NULL, &da, &err), ep);
	RP_ASSERT_OK(rp_dicom_parse(b, bs, NULL, &db, &err), ep);
	const struct rp_dicom_info *ia = rp_dicom_get_info(da), *ib = rp_dicom_get_info(db);
	assert_int_equal(ia->frames, ib->frames);
	assert_int_equal(ia->img.width, ib->img.width);
	assert_int_equal(ia->img.height, ib->img.height);
	size_t fs = rp_image_frame_size(&ia->img);
	uint8_t *fa = malloc(fs), *fb = malloc(fs);
	assert_non_null(fa);
	assert_non_null(fb);
	for (uint32_t f = 0; f < ia->frames; f++) {
		RP_ASSERT_OK(rp_dicom_decode_frame(da, f, fa, fs, &err), ep);
		RP_ASSERT_OK(rp_dicom_decode_frame(db, f, fb, fs, &err), ep);
		assert_memory_equal(fa, fb, fs);
	}
	free(fa);
	free(fb);
	rp_dicom_free(da);
	rp_dicom_free(db);
	free(a);
	free(b);
}

static void
assert_same_bytes(const char *a_path, const char *b_path)
{
	size_t as, bs;
	uint8_t *a = rp_test_read_file(a_path, &as), *b = rp_test_read_file(b_path, &bs);

	assert_non_null(a);
	assert_non_null(b);
	if (as != bs || memcmp(a, b, as) != 0)
		fail_msg("%s and %s differ (%zu vs %zu bytes)", a_path, b_path, as, bs);
	free(a);
	free(b);
}

static const char *
ts_of(const char *path)
{
	static char uid[65];
	size_t n;
	uint8_t *d = rp_test_read_file(path, &n);
	struct rp_dicom *ds = NULL;
	struct rp_errbuf err = { "" }, *ep = &err;

	assert_non_null(d);
	RP_ASSERT_OK(rp_dicom_parse(d, n, NULL, &ds, &err), ep);
	snprintf(uid, sizeof(uid), "%s", rp_dicom_get_info(ds)->ts->uid);
	rp_dicom_free(ds);
	free(d);
	return uid;
}

/* JPEG-LS: every file written and verified, pixels equal the input's, and the bytes are
 * the same with no pool, one worker and two workers. */
static void
test_compress_identical_any_threads(void **state)
{
	(void)state;
	static struct run_result r0, r1, r2;

	run(&r0, RP_CODEC_JPEGLS, 0, 0);
	run(&r1, RP_CODEC_JPEGLS, 1, 0);
	run(&r2, RP_CODEC_JPEGLS, 2, 0);
	assert_int_equal(r0.status, RP_OK);
	assert_int_equal(r1.status, RP_OK);
	assert_int_equal(r2.status, RP_OK);
	assert_int_equal(r2.done_calls, NIN);
	for (size_t i = 0; i < NIN; i++) {
		const struct rp_pipeline_file *f = &r2.files[i];
		if (f->status != RP_OK)
			fail_msg("%s: %s", inputs[i], f->message);
		assert_non_null(f->action);
		assert_true(f->output_size > 0);
		assert_int_equal(f->max_error, 0);
		assert_same_bytes(r0.out[i], r2.out[i]);
		assert_same_bytes(r1.out[i], r2.out[i]);
		if (i == NO_PIXELS_INDEX) {
			assert_string_equal(f->action, "copied (no pixel data)");
			assert_same_bytes(in_paths[i], r2.out[i]);
			continue;
		}
		assert_string_equal(f->action, "compressed");
		assert_string_equal(ts_of(r2.out[i]), "1.2.840.10008.1.2.4.80");
		assert_true(f->frames >= 1);
		assert_true(f->pixel_size > 0);
		/* The verify step said so; check it independently. */
		assert_same_pixels(in_paths[i], r2.out[i]);
	}
	/* Real CT compresses: the slices must come out smaller. */
	assert_true(r2.files[0].output_size < r2.files[0].input_size);
	assert_int_equal(r2.files[3].frames, 64);
	cleanup(&r0);
	cleanup(&r1);
	cleanup(&r2);
}

/* A budget smaller than any object admits one object at a time, and whatever the budget,
 * what was reserved never exceeds it by more than the per-worker frame buffers. */
static void
test_budget(void **state)
{
	(void)state;
	static struct run_result r;

	run(&r, RP_CODEC_JPEGLS, 2, 1);
	assert_int_equal(r.status, RP_OK);
	assert_int_equal(r.stats.peak_files_open, 1);
	assert_int_equal(r.stats.budget, 1);
	cleanup(&r);

	const uint64_t budget = 3u << 20;
	run(&r, RP_CODEC_JPEGLS, 2, budget);
	assert_int_equal(r.status, RP_OK);
	/* Largest object here: the RGB US file, 8 x 230400 canonical bytes + its input. */
	uint64_t largest = 0;
	for (size_t i = 0; i < NIN; i++) {
		uint64_t c = r.files[i].input_size + r.files[i].pixel_size;
		largest = c > largest ? c : largest;
	}
	const uint64_t buffers = 3 * 2 * (uint64_t)(512 * 512 * 2);
	if (r.stats.peak_reserved > (budget > largest ? budget : largest) + buffers)
		fail_msg("peak reserved %llu over budget %llu + buffers %llu",
			 (unsigned long long)r.stats.peak_reserved, (unsigned long long)budget,
			 (unsigned long long)buffers);
	for (size_t i = 0; i < NIN; i++)
		assert_int_equal(r.files[i].status, RP_OK);
	cleanup(&r);
}

/* Decompression of compressed output gives the input's pixels in explicit VR LE. */
static void
test_roundtrip_decompress(void **state)
{
	(void)state;
	static struct run_result c, d;
	struct rp_pipeline_options o;
	struct rp_errbuf err = { "" }, *ep = &err;
	struct rp_pool *pool = NULL;

	run(&c, RP_CODEC_JPEGLS, 2, 0);
	assert_int_equal(c.status, RP_OK);
	rp_test_tmpdir(d.dir, sizeof(d.dir));
	for (size_t i = 0; i < NIN; i++) {
		snprintf(d.out[i], sizeof(d.out[i]), "%s/dec%zu.dcm", d.dir, i);
		d.files[i].input = c.out[i];
		d.files[i].output = d.out[i];
	}
	RP_ASSERT_OK(rp_pool_create(2, 0, &pool), NULL);
	rp_pipeline_options_init(&o);
	o.encoder.codec = RP_CODEC_NATIVE;
	o.decompress = 1;
	o.pool = pool;
	RP_ASSERT_OK(rp_pipeline_run(&o, d.files, NIN, NULL, &err), ep);
	rp_pool_destroy(pool);
	for (size_t i = 0; i < NIN; i++) {
		if (i == NO_PIXELS_INDEX)
			continue;
		assert_string_equal(d.files[i].action, "decompressed");
		assert_string_equal(ts_of(d.out[i]), "1.2.840.10008.1.2.1");
		assert_same_pixels(in_paths[i], d.out[i]);
	}
	cleanup(&c);
	cleanup(&d);
}

/* One unreadable and one garbage input fail alone; the rest are written; the call returns
 * the first failure in array order. */
static void
test_failures_stay_per_file(void **state)
{
	(void)state;
	char dir[4096], garbage[4200], outs[3][4200];
	struct rp_pipeline_file files[3];
	struct rp_pipeline_options o;
	struct rp_errbuf err = { "" };
	struct rp_pool *pool = NULL;

	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(garbage, sizeof(garbage), "%s/garbage.dcm", dir);
	FILE *g = fopen(garbage, "wb");
	assert_non_null(g);
	fputs("this is not DICOM at all, just some text to parse", g);
	fclose(g);
	memset(files, 0, sizeof(files));
	const char *ins[3] = { "/nonexistent/radpipe/input.dcm", in_paths[0], garbage };
	for (int i = 0; i < 3; i++) {
		snprintf(outs[i], sizeof(outs[i]), "%s/o%d.dcm", dir, i);
		files[i].input = ins[i];
		files[i].output = outs[i];
	}
	RP_ASSERT_OK(rp_pool_create(2, 0, &pool), NULL);
	rp_pipeline_options_init(&o);
	o.pool = pool;
	int s = rp_pipeline_run(&o, files, 3, NULL, &err);
	rp_pool_destroy(pool);
	assert_int_equal(s, RP_E_IO);
	assert_int_equal(files[0].status, RP_E_IO);
	assert_null(files[0].action);
	assert_true(strstr(files[0].message, "/nonexistent/radpipe/input.dcm") != NULL);
	assert_int_equal(files[1].status, RP_OK);
	assert_int_equal(access(outs[1], R_OK), 0);
	assert_true(files[2].status < 0);
	assert_int_not_equal(access(outs[0], F_OK), 0);
	assert_int_not_equal(access(outs[2], F_OK), 0);
	remove(outs[1]);
	remove(garbage);
	rmdir(dir);
}

/* Overlay bits above BitsStored: a codec would drop them, so compress refuses; a native
 * rewrite keeps the pixel bytes exactly. */
static void
test_dirty_high_bits(void **state)
{
	(void)state;
	char dir[4096], src[4200], outc[4200], outn[4200];
	size_t n;
	uint8_t *d = rp_test_read_file(in_paths[2], &n); /* Philips: BitsStored 12 */
	struct rp_dicom *ds = NULL;
	struct rp_errbuf err = { "" }, *ep = &err;

	assert_non_null(d);
	RP_ASSERT_OK(rp_dicom_parse(d, n, NULL, &ds, &err), ep);
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	assert_int_equal(info->img.bits_stored, 12);
	assert_int_equal(info->encapsulated, 0);
	/* Set bit 14 of sample 1000 (little endian: its high byte). */
	size_t at = (size_t)info->pixel_value_offset + 2 * 1000 + 1;
	rp_dicom_free(ds);
	d[at] |= 0x40;
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(src, sizeof(src), "%s/dirty.dcm", dir);
	snprintf(outc, sizeof(outc), "%s/c.dcm", dir);
	snprintf(outn, sizeof(outn), "%s/n.dcm", dir);
	FILE *f = fopen(src, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	fclose(f);

	struct rp_pipeline_file file = { .input = src, .output = outc };
	struct rp_pipeline_options o;
	rp_pipeline_options_init(&o);
	assert_int_equal(rp_pipeline_run(&o, &file, 1, NULL, &err), RP_E_UNSUPPORTED);
	assert_true(strstr(file.message, "BitsStored") != NULL);
	assert_int_not_equal(access(outc, F_OK), 0);

	file = (struct rp_pipeline_file){ .input = src, .output = outn };
	o.encoder.codec = RP_CODEC_NATIVE;
	RP_ASSERT_OK(rp_pipeline_run(&o, &file, 1, NULL, &err), ep);
	/* Same byte order and VR form: the pixel value bytes are carried verbatim. */
	size_t m;
	uint8_t *out = rp_test_read_file(outn, &m);
	assert_non_null(out);
	RP_ASSERT_OK(rp_dicom_parse(out, m, NULL, &ds, &err), ep);
	const struct rp_dicom_info *oi = rp_dicom_get_info(ds);
	assert_int_equal(oi->pixel_value_length, 512 * 512 * 2);
	assert_true(out[oi->pixel_value_offset + 2 * 1000 + 1] & 0x40);
	rp_dicom_free(ds);
	free(out);
	free(d);
	remove(src);
	remove(outn);
	rmdir(dir);
}

/* The output declares the photometric interpretation of what was coded: a J2K YBR_RCT or
 * JPEG YBR_FULL_422 source decodes to RGB, so its JPEG-LS copy says RGB (keeping the old
 * label would make viewers convert colours that are no longer YBR); with htj2k,rct the
 * RGB is coded through the RCT and says YBR_RCT.  Pixels equal the source's either way. */
static void
test_photometric_label(void **state)
{
	(void)state;
	static const struct {
		const char *src;
		enum rp_codec codec;
		int rct;
		const char *want;
	} cases[] = {
		{ "us/wg04/US1_J2KR.dcm", RP_CODEC_JPEGLS, 0, "RGB" },
		{ "us/pydicom/examples_ybr_color.dcm", RP_CODEC_JPEGLS, 0, "RGB" },
		{ "us/wg04/US1_J2KR.dcm", RP_CODEC_HTJ2K, 1, "YBR_RCT" },
		{ "us/wg04/US1_RLE.dcm", RP_CODEC_HTJ2K, 1, "YBR_RCT" },
		{ "us/wg04/US1_RLE.dcm", RP_CODEC_HTJ2K, 0, "RGB" },
	};
	char dir[4096], src[4200], out[4200];
	struct rp_errbuf err = { "" }, *ep = &err;
	rp_test_tmpdir(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;
		uint8_t *sd = rp_test_corpus_load(cases[i].src, &n);
		snprintf(src, sizeof(src), "%s/%s", rp_test_corpus_dir(), cases[i].src);
		snprintf(out, sizeof(out), "%s/out%zu.dcm", dir, i);
		struct rp_pipeline_file file = { .input = src, .output = out };
		struct rp_pipeline_options o;
		rp_pipeline_options_init(&o);
		o.encoder.codec = cases[i].codec;
		o.encoder.colour_transform = cases[i].rct;
		RP_ASSERT_OK(rp_pipeline_run(&o, &file, 1, NULL, &err), ep);
		size_t m;
		uint8_t *od = rp_test_read_file(out, &m);
		assert_non_null(od);
		struct rp_dicom *a = NULL, *b = NULL;
		RP_ASSERT_OK(rp_dicom_parse(sd, n, NULL, &a, &err), ep);
		RP_ASSERT_OK(rp_dicom_parse(od, m, NULL, &b, &err), ep);
		if (strcmp(rp_dicom_get_info(b)->photometric, cases[i].want) != 0)
			fail_msg("%s -> %s%s: Photometric Interpretation %s, want %s",
				 cases[i].src, rp_codec_name(cases[i].codec),
				 cases[i].rct ? ",rct" : "", rp_dicom_get_info(b)->photometric,
				 cases[i].want);
		uint8_t ha[32], hb[32];
		RP_ASSERT_OK(rp_dicom_pixel_hash(a, ha, &err), ep);
		RP_ASSERT_OK(rp_dicom_pixel_hash(b, hb, &err), ep);
		assert_memory_equal(ha, hb, 32);
		rp_dicom_free(a);
		rp_dicom_free(b);
		free(sd);
		free(od);
		remove(out);
	}
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress_identical_any_threads),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_roundtrip_decompress),
		cmocka_unit_test(test_failures_stay_per_file),
		cmocka_unit_test(test_dirty_high_bits),
		cmocka_unit_test(test_photometric_label),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
