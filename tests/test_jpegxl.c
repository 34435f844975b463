/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_jpegxl.c - JPEG XL lossless (codec/jpegxl.c, transfer syntax .110):
 *  - synthetic round trips: 1..16 bits stored in 8- and 16-bit containers, signed and
 *    unsigned, 1 and 3 samples, 1x1 and odd sizes, noise/gradient/constant/extremes, and
 *    a ramp through every value of every depth (libjxl 0.7 scales samples to the buffer
 *    type's range: every value must come back);
 *  - the same codestreams decoded by an independent decoder, `djxl` (libjxl-tools), to
 *    PGM/PPM: the stored Bits Stored-bit patterns must come out, at bits_per_sample =
 *    Bits Stored (PS3.5 8.2.15);
 *  - every effort 1..9 through the public encoder, and a pool used as libjxl's runner;
 *  - what is refused: lossy parameters, other photometrics, effort 10, a codestream that
 *    disagrees with the dataset (RP_E_CORRUPT);
 *  - truncated and bit-flipped codestreams give an error or a frame, never a crash;
 *  - the native corpus CT and MR frames round-trip bit-exact. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/codec_impl.h"

#define CHECK(expr)                                                                        \
	do {                                                                               \
		int check_rc = (expr);                                                     \
		if (check_rc != RP_OK)                                                     \
			fail_msg("%s -> %s: %s", #expr, rp_status_name(check_rc), err.msg); \
	} while (0)

static const struct rp__codec_ops *
jxl_ops(void)
{
	const struct rp__codec_ops *o = rp__codec_ops(RP_CODEC_JPEGXL);
	if (!o)
		fail_msg("jpegxl is not registered in codec/codec.c");
	return o;
}

static char tmpdir[512];

/* Decodes a codestream with djxl into `pattern`: one uint32 per sample, the value djxl
 * wrote (PNM samples are big-endian when maxval > 255).  *maxval gets the PNM maxval. */
static void
djxl_decode(const uint8_t *cs, size_t size, const struct rp_image_desc *img,
	    uint32_t *pattern, unsigned *maxval)
{
	char in[600], out[600], cmd[1400];
	snprintf(in, sizeof(in), "%s/f.jxl", tmpdir);
	snprintf(out, sizeof(out), "%s/f.%s", tmpdir, img->components == 3 ? "ppm" : "pgm");
	FILE *f = fopen(in, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(cs, 1, size, f), size);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "djxl '%s' '%s' >/dev/null 2>&1", in, out);
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("djxl failed (status %d) on a %ux%u x%u %u-bit codestream", rc,
			 img->width, img->height, img->components, img->bits_stored);
	size_t n = 0;
	uint8_t *p = rp_test_read_file(out, &n);
	assert_non_null(p);
	unsigned w = 0, h = 0, m = 0;
	int off = 0;
	char magic[3] = { 0 };
	if (sscanf((const char *)p, "%2s %u %u %u%n", magic, &w, &h, &m, &off) != 4)
		fail_msg("djxl wrote an unreadable PNM header");
	off++; /* the single whitespace after maxval */
	assert_string_equal(magic, img->components == 3 ? "P6" : "P5");
	assert_int_equal(w, img->width);
	assert_int_equal(h, img->height);
	size_t count = (size_t)w * h * img->components, sb = m > 255 ? 2 : 1;
	assert_int_equal(n, (size_t)off + count * sb);
	for (size_t i = 0; i < count; i++)
		pattern[i] = sb == 1 ? p[off + i] :
				       ((uint32_t)p[off + 2 * i] << 8 | p[off + 2 * i + 1]);
	*maxval = m;
	free(p);
	unlink(in);
	unlink(out);
}

/* The canonical frame's samples as the unsigned Bits Stored-bit patterns. */
static uint32_t
stored_pattern(const struct rp_image_desc *img, const uint8_t *frame, size_t i)
{
	uint32_t v = img->bits_allocated == 8 ? frame[i] : rp__load_le16(frame + 2 * i);
	return v & ((1u << img->bits_stored) - 1);
}

/* The b-bit value a djxl sample stands for.  libjxl 0.7's PNM writer keeps maxval
 * 2^b - 1 in the header but writes the samples scaled to the full 8 or 16 bits of the
 * sample size (x * (2^t - 1) / (2^b - 1), its own rounding): the nearest b-bit value
 * gives x back exactly, since the scaled values of x and x + 1 lie more than 1 apart. */
static uint32_t
djxl_value(const struct rp_image_desc *img, uint32_t v)
{
	uint32_t bmax = (1u << img->bits_stored) - 1;
	uint32_t tmax = img->bits_stored <= 8 ? 0xFFu : 0xFFFFu;
	return (uint32_t)(((uint64_t)v * bmax + tmax / 2) / tmax);
}

static void
roundtrip(const struct rp_image_desc *img, const uint8_t *src, unsigned effort, bool djxl)
{
	const struct rp__codec_ops *o = jxl_ops();
	struct rp__encode_params p = { .effort = effort };
	struct rp_errbuf err = { "" };
	size_t fs = rp_image_frame_size(img), cap = o->bound(img, &p), es = 0;
	assert_true(cap > 0);
	uint8_t *enc = malloc(cap), *dec = malloc(fs);
	CHECK(o->check(img, &p, &err));
	CHECK(o->encode(img, &p, src, fs, enc, cap, &es, &err));
	assert_true(es > 2 && es <= cap);
	/* A bare codestream up to 12 bits; above, libjxl 0.7 needs codestream level 10 and
	 * then writes the container with its jxll level box (ISO/IEC 18181-2). */
	static const uint8_t box[] = { 0, 0, 0, 0x0C, 'J', 'X', 'L', ' ', 0x0D, 0x0A, 0x87, 0x0A };
	bool bare = enc[0] == 0xFF && enc[1] == 0x0A;
	bool boxed = es > sizeof(box) && memcmp(enc, box, sizeof(box)) == 0;
	if (img->bits_stored <= 12 ? !bare : !(bare || boxed))
		fail_msg("%ux%u x%u %u/%u: output starts %02x %02x %02x %02x", img->width,
			 img->height, img->components, img->bits_allocated, img->bits_stored,
			 enc[0], enc[1], enc[2], enc[3]);
	memset(dec, 0xA5, fs);
	CHECK(o->decode(img, enc, es, dec, fs, NULL, &err));
	uint64_t worst = 0;
	CHECK(rp_frame_compare(img, src, dec, fs, &worst));
	if (worst != 0 || memcmp(src, dec, fs) != 0)
		fail_msg("%ux%u x%u %u/%u %s effort %u: max error %llu after round trip",
			 img->width, img->height, img->components, img->bits_allocated,
			 img->bits_stored, img->is_signed ? "signed" : "unsigned", effort,
			 (unsigned long long)worst);
	if (djxl) {
		size_t count = (size_t)img->width * img->height * img->components;
		uint32_t *pat = malloc(count * sizeof(*pat));
		unsigned maxval = 0;
		djxl_decode(enc, es, img, pat, &maxval);
		/* djxl writes the codestream's own depth: bits_per_sample == BitsStored. */
		assert_int_equal(maxval, (1u << img->bits_stored) - 1);
		for (size_t i = 0; i < count; i++)
			if (djxl_value(img, pat[i]) != stored_pattern(img, src, i))
				fail_msg("djxl: %u/%u %s x%u sample %zu is %u, stored pattern %u",
					 img->bits_allocated, img->bits_stored,
					 img->is_signed ? "signed" : "unsigned", img->components, i,
					 pat[i], stored_pattern(img, src, i));
		free(pat);
	}
	/* One byte too little room is RP_E_LIMIT, never an overrun. */
	uint8_t *tight = malloc(es - 1);
	size_t ts = 0;
	assert_int_equal(o->encode(img, &p, src, fs, tight, es - 1, &ts, &err), RP_E_LIMIT);
	free(tight);
	free(enc);
	free(dec);
}

static void
test_synthetic(void **state)
{
	(void)state;
	static const struct {
		uint16_t ba, bs;
		uint8_t sgn;
	} fmts[] = { { 8, 8, 0 }, { 8, 8, 1 }, { 8, 7, 0 }, { 8, 1, 0 }, { 16, 8, 1 },
		     { 16, 12, 0 }, { 16, 12, 1 }, { 16, 16, 0 }, { 16, 16, 1 },
		     { 16, 10, 0 }, { 16, 15, 1 } };
	static const uint32_t sizes[][2] = { { 1, 1 }, { 7, 3 }, { 53, 37 }, { 130, 67 } };
	unsigned n = 0;
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (uint16_t comps = 1; comps <= 3; comps += 2)
				for (int kind = 0; kind < 4; kind++) {
					struct rp_image_desc img = {
						.width = sizes[s][0], .height = sizes[s][1],
						.components = comps, .bits_allocated = fmts[f].ba,
						.bits_stored = fmts[f].bs, .is_signed = fmts[f].sgn,
						.photometric = comps == 3 ? RP_PHOTOMETRIC_RGB :
									    RP_PHOTOMETRIC_MONOCHROME2,
					};
					uint8_t *src = rp_test_make_frame(&img, kind,
									  img.width * 31 + f);
					/* djxl on the larger sizes only: it is a process each. */
					roundtrip(&img, src, 0, s >= 2 && kind < 2);
					free(src);
					n++;
				}
	printf("jpegxl: %u synthetic frames bit-exact (and in djxl)\n", n);
}

/* Every value of every depth 1..16, both containers where they fit, signed and not: the
 * scaling to and from libjxl's buffer type must be exact for all of them. */
static void
test_every_value(void **state)
{
	(void)state;
	for (uint16_t bs = 1; bs <= 16; bs++)
		for (uint16_t ba = bs <= 8 ? 8 : 16; ba <= 16; ba += 8)
			for (uint8_t sgn = 0; sgn <= (bs > 1); sgn++) {
				uint32_t values = 1u << bs, w = values < 256 ? values : 256;
				struct rp_image_desc img = {
					.width = w, .height = (values + w - 1) / w, .components = 1,
					.bits_allocated = ba, .bits_stored = bs, .is_signed = sgn,
					.photometric = RP_PHOTOMETRIC_MONOCHROME2,
				};
				size_t fs = rp_image_frame_size(&img), count = fs / (ba / 8);
				uint8_t *src = malloc(fs);
				for (size_t i = 0; i < count; i++) {
					uint32_t pat = (uint32_t)(i % values);
					uint32_t v = sgn && (pat >> (bs - 1)) ? pat | ~(values - 1) : pat;
					if (ba == 8)
						src[i] = (uint8_t)v;
					else
						rp__store_le16(src + 2 * i, (uint16_t)v);
				}
				roundtrip(&img, src, 1, bs == 12 || bs == 16 || bs == 5);
				free(src);
			}
}

/* Efforts 1..9 through the public API all give the original back; a pool (libjxl's
 * runner over rp_pool_parallel_for) gives the same bytes as none. */
static void
test_efforts_and_pool(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 300, .height = 211, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12,
				     .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	uint8_t *src = rp_test_make_frame(&img, 1, 7);
	size_t fs = rp_image_frame_size(&img);
	struct rp_pool *pool = NULL;
	struct rp_errbuf err = { "" };
	assert_int_equal(rp_pool_create(3, 0, &pool), RP_OK);
	uint8_t *back = malloc(fs);
	for (unsigned effort = 0; effort <= 9; effort++) {
		uint8_t *coded[2];
		size_t sizes[2];
		for (int wp = 0; wp < 2; wp++) {
			struct rp_encoder_options eo;
			rp_encoder_options_init(&eo);
			eo.codec = RP_CODEC_JPEGXL;
			eo.effort = effort;
			eo.pool = wp ? pool : NULL;
			struct rp_encoder *enc = NULL;
			assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
			assert_string_equal(rp_encoder_transfer_syntax(enc), "1.2.840.10008.1.2.4.110");
			assert_int_equal(rp_encoder_is_lossy(enc), 0);
			size_t cap = rp_encoder_bound(enc, &img);
			coded[wp] = malloc(cap);
			CHECK(rp_encoder_encode(enc, &img, src, fs, coded[wp], cap, &sizes[wp], &err));
			rp_encoder_destroy(enc);

			struct rp_decoder_options dopt;
			rp_decoder_options_init(&dopt);
			dopt.codec = RP_CODEC_JPEGXL;
			dopt.pool = wp ? pool : NULL;
			struct rp_decoder *dec = NULL;
			assert_int_equal(rp_decoder_create(&dopt, &dec), RP_OK);
			memset(back, 0, fs);
			CHECK(rp_decoder_decode(dec, &img, coded[wp], sizes[wp], back, fs, &err));
			rp_decoder_destroy(dec);
			if (memcmp(back, src, fs) != 0)
				fail_msg("effort %u%s: not bit-exact", effort, wp ? " (pool)" : "");
		}
		if (sizes[0] != sizes[1] || memcmp(coded[0], coded[1], sizes[0]) != 0)
			fail_msg("effort %u: %zu bytes without a pool, %zu with one", effort,
				 sizes[0], sizes[1]);
		printf("effort %u: %zu bytes\n", effort, sizes[0]);
		free(coded[0]);
		free(coded[1]);
	}
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = RP_CODEC_JPEGXL;
	eo.effort = 10;
	struct rp_encoder *enc = NULL;
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_E_INVALID_ARG);
	rp_pool_destroy(pool);
	free(back);
	free(src);
}

static void
test_refusals(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = jxl_ops();
	struct rp_errbuf err = { "" };
	struct rp_image_desc img = { .width = 16, .height = 16, .components = 1,
				     .bits_allocated = 16, .bits_stored = 16,
				     .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	struct rp__encode_params p = { 0 };
	assert_int_equal(o->check(&img, &p, &err), RP_OK);
	p.near_lossless = 1;
	assert_int_equal(o->check(&img, &p, &err), RP_E_UNSUPPORTED);
	p.near_lossless = 0;
	p.lossy_ratio = 10;
	assert_int_equal(o->check(&img, &p, &err), RP_E_UNSUPPORTED);
	p.lossy_ratio = 0;
	struct rp_image_desc bad = img;
	bad.bits_allocated = bad.bits_stored = 32;
	assert_int_equal(o->check(&bad, &p, &err), RP_E_UNSUPPORTED);
	bad = img;
	bad.components = 3;
	bad.photometric = RP_PHOTOMETRIC_YBR_FULL_422;
	assert_int_equal(o->check(&bad, &p, &err), RP_E_UNSUPPORTED);
	bad.photometric = RP_PHOTOMETRIC_YBR_FULL;
	assert_int_equal(o->check(&bad, &p, &err), RP_OK);

	/* Overlay bits above BitsStored would be lost: refused. */
	img.bits_stored = 12;
	size_t fs = rp_image_frame_size(&img), es = 0, cap = o->bound(&img, &p);
	uint8_t *src = rp_test_make_frame(&img, 0, 3), *enc = malloc(cap), *dec = malloc(fs);
	src[1] |= 0x40;
	assert_int_equal(o->encode(&img, &p, src, fs, enc, cap, &es, &err), RP_E_UNSUPPORTED);
	src[1] &= 0x0F;

	/* A codestream that disagrees with the dataset is corrupt, never converted. */
	CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err));
	struct rp_image_desc other = img;
	other.bits_stored = 16;
	assert_int_equal(o->decode(&other, enc, es, dec, fs, NULL, &err), RP_E_CORRUPT);
	printf("mismatch: %s\n", err.msg);
	other = img;
	other.width = 8;
	other.height = 32;
	assert_int_equal(o->decode(&other, enc, es, dec, fs, NULL, &err), RP_E_CORRUPT);
	other = img;
	other.components = 3;
	other.photometric = RP_PHOTOMETRIC_RGB;
	uint8_t *dec3 = malloc(fs * 3);
	assert_int_equal(o->decode(&other, enc, es, dec3, fs * 3, NULL, &err), RP_E_CORRUPT);
	free(dec3);
	/* Not a JPEG XL stream at all, and empty. */
	static const uint8_t junk[] = { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4 };
	assert_int_equal(o->decode(&img, junk, sizeof(junk), dec, fs, NULL, &err), RP_E_CORRUPT);
	assert_int_equal(o->decode(&img, junk, 0, dec, fs, NULL, &err), RP_E_CORRUPT);
	free(src);
	free(enc);
	free(dec);
}

/* Every truncation of a small codestream and every single-bit flip of its first 64
 * bytes: an error (RP_E_CORRUPT) or a decoded frame, never a crash or overrun (the ASan
 * build runs this too).  A truncation never passes as complete. */
static void
test_corrupt(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = jxl_ops();
	struct rp_errbuf err = { "" };
	struct rp_image_desc img = { .width = 61, .height = 47, .components = 3,
				     .bits_allocated = 8, .bits_stored = 8,
				     .photometric = RP_PHOTOMETRIC_RGB };
	struct rp__encode_params p = { 0 };
	size_t fs = rp_image_frame_size(&img), es = 0, cap = o->bound(&img, &p);
	uint8_t *src = rp_test_make_frame(&img, 1, 11), *enc = malloc(cap), *dec = malloc(fs);
	CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err));
	unsigned corrupt = 0, ok = 0;
	for (size_t n = 0; n < es; n++) {
		int rc = o->decode(&img, enc, n, dec, fs, NULL, &err);
		if (rc != RP_E_CORRUPT)
			fail_msg("truncated to %zu of %zu bytes: %s", n, es, rp_status_name(rc));
		corrupt++;
	}
	uint8_t *bad = malloc(es);
	for (size_t bit = 0; bit < 8 * (es < 64 ? es : 64); bit++) {
		memcpy(bad, enc, es);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = o->decode(&img, bad, es, dec, fs, NULL, &err);
		if (rc == RP_OK)
			ok++;
		else if (rc == RP_E_CORRUPT)
			corrupt++;
		else
			fail_msg("bit %zu flipped: %s (%s)", bit, rp_status_name(rc), err.msg);
	}
	printf("corrupt streams: %u refused as RP_E_CORRUPT, %u decoded to a frame\n", corrupt,
	       ok);
	free(bad);
	free(src);
	free(enc);
	free(dec);
}

/* The native corpus CT and MR frames through the default effort and back, bit-exact; the
 * CT ones also through djxl (the independent check the CLI test repeats on whole files). */
static void
test_corpus_ct_mr(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = jxl_ops();
	size_t count = 0;
	const char **files = rp_test_corpus_list("native", &count);
	if (count == 0)
		fail_msg("corpus/files.tsv lists no native files");
	unsigned frames = 0, by_djxl = 0;
	uint64_t raw = 0, coded = 0;
	for (size_t i = 0; i < count; i++) {
		if (strncmp(files[i], "ct/", 3) != 0 && strncmp(files[i], "mr/", 3) != 0)
			continue;
		size_t size = 0;
		uint8_t *data = rp_test_corpus_load(files[i], &size);
		struct rp_dicom *ds = NULL;
		struct rp_errbuf err = { "" };
		if (rp_dicom_parse(data, size, NULL, &ds, &err) != RP_OK) {
			free(data);
			continue;
		}
		const struct rp_dicom_info *info = rp_dicom_get_info(ds);
		const struct rp_image_desc *img = &info->img;
		struct rp__encode_params p = { 0 };
		if (!info->has_pixels || o->check(img, &p, &err) != RP_OK) {
			rp_dicom_free(ds);
			free(data);
			continue;
		}
		size_t fs = rp_image_frame_size(img), cap = o->bound(img, &p);
		uint8_t *frame = malloc(fs), *back = malloc(fs), *enc = malloc(cap);
		uint32_t n = info->frames, picks[2] = { 0, n - 1 };
		for (uint32_t k = 0; k < (n < 2 ? n : 2); k++) {
			size_t es = 0;
			RP_ASSERT_OK(rp_dicom_decode_frame(ds, picks[k], frame, fs, &err), &err);
			if (!rp__frame_high_bits_clean(img, frame, fs))
				continue;   /* overlay bits: refused by design (test_refusals) */
			CHECK(o->encode(img, &p, frame, fs, enc, cap, &es, &err));
			CHECK(o->decode(img, enc, es, back, fs, NULL, &err));
			if (memcmp(frame, back, fs) != 0)
				fail_msg("%s frame %u does not round-trip", files[i], picks[k]);
			if (strncmp(files[i], "ct/", 3) == 0 && k == 0 && by_djxl < 6) {
				size_t cnt = fs / rp__sample_bytes(img);
				uint32_t *pat = malloc(cnt * sizeof(*pat));
				unsigned maxval = 0;
				djxl_decode(enc, es, img, pat, &maxval);
				assert_int_equal(maxval, (1u << img->bits_stored) - 1);
				for (size_t s = 0; s < cnt; s++)
					if (djxl_value(img, pat[s]) !=
					    stored_pattern(img, frame, s))
						fail_msg("djxl: %s sample %zu is %u, stored %u",
							 files[i], s, pat[s],
							 stored_pattern(img, frame, s));
				free(pat);
				by_djxl++;
			}
			raw += fs;
			coded += es;
			frames++;
		}
		free(frame);
		free(back);
		free(enc);
		rp_dicom_free(ds);
		free(data);
	}
	printf("jpegxl: %u corpus CT/MR frames bit-exact (%u also in djxl), ratio %.3f\n",
	       frames, by_djxl, coded ? (double)raw / (double)coded : 0);
	assert_true(frames >= 60);
	assert_int_equal(by_djxl, 6);
}

static int
setup(void **state)
{
	(void)state;
	rp_test_tmpdir(tmpdir, sizeof(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_every_value),
		cmocka_unit_test(test_efforts_and_pool),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_corpus_ct_mr),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
