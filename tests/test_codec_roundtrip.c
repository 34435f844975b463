/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_codec_roundtrip.c - synthetic round trips through every library adapter
 * (J2K, HTJ2K over OpenJPH, RLE, JPEG lossless, JPEG baseline): 8/12/16-bit, signed and
 * unsigned, 1 and 3 components, 1x1 and odd sizes, noise/gradient/constant/extremes.
 * Lossless must be bit-exact; HTJ2K is decoded by OpenJPH *and* OpenJPEG and both must
 * give the original (the signed 16-bit path especially); JPEG baseline must stay above a
 * PSNR floor.  Also: truncated and bit-flipped codestreams give errors, never crashes,
 * and too-small output buffers give RP_E_LIMIT. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_impl.h"
#include "codec/j2k_internal.h"
#include "codec/jpeg_lossless.h"

/* Like RP_ASSERT_OK, for call sites that have a local `struct rp_errbuf err`. */
#define CHECK(expr, errp)                                                                  \
	do {                                                                               \
		int check_rc = (expr);                                                     \
		if (check_rc != RP_OK)                                                     \
			fail_msg("%s -> %s: %s", #expr, rp_status_name(check_rc), err.msg); \
	} while (0)

struct fmt {
	uint16_t ba, bs;
	uint8_t sgn;
};

static const struct fmt lossless_fmts[] = {
	{ 8, 8, 0 }, { 8, 8, 1 }, { 8, 7, 0 }, { 16, 12, 0 }, { 16, 12, 1 },
	{ 16, 16, 0 }, { 16, 16, 1 }, { 16, 10, 0 }, { 16, 15, 1 },
};

static const uint32_t sizes[][2] = { { 1, 1 }, { 7, 3 }, { 53, 37 }, { 130, 67 } };

static const struct rp__codec_ops *
ops_of(enum rp_codec c)
{
	const struct rp__codec_ops *o = rp__codec_ops(c);
	if (!o)
		fail_msg("codec %s is not registered in codec/codec.c", rp_codec_name(c));
	return o;
}

/* Encodes img/frame with ops, decodes it back with `decode` (ops->decode when NULL), and
 * requires the exact original. */
static void
roundtrip_one(const struct rp__codec_ops *o, const struct rp_image_desc *img, int kind,
	      bool check_opj_too)
{
	struct rp__encode_params p;
	memset(&p, 0, sizeof(p));
	struct rp_errbuf err = { { 0 } };
	size_t fs = rp_image_frame_size(img);
	uint8_t *src = rp_test_make_frame(img, kind, img->width * 31 + img->bits_stored);
	size_t cap = o->bound(img, &p);
	if (cap == 0)
		fail_msg("%s: bound is 0 for %ux%ux%u %u/%u %s", rp_codec_name(o->id),
			 img->width, img->height, img->components, img->bits_allocated,
			 img->bits_stored, img->is_signed ? "signed" : "unsigned");
	uint8_t *enc = malloc(cap), *dec = malloc(fs);
	size_t enc_size = 0;
	CHECK(o->check(img, &p, &err), &err);
	CHECK(o->encode(img, &p, src, fs, enc, cap, &enc_size, &err), &err);
	assert_true(enc_size > 0 && enc_size <= cap);
	memset(dec, 0xA5, fs);
	CHECK(o->decode(img, enc, enc_size, dec, fs, NULL, &err), &err);
	uint64_t worst = 0;
	CHECK(rp_frame_compare(img, src, dec, fs, &worst), NULL);
	if (worst != 0)
		fail_msg("%s: %ux%ux%u %u/%u %s kind %d: max error %llu after round trip",
			 rp_codec_name(o->id), img->width, img->height, img->components,
			 img->bits_allocated, img->bits_stored, img->is_signed ? "s" : "u", kind,
			 (unsigned long long)worst);
	if (check_opj_too) {
		/* The same HTJ2K codestream through OpenJPEG, and through OpenJPH alone. */
		memset(dec, 0x5A, fs);
		CHECK(rp__j2k_decode_openjpeg(img, enc, enc_size, dec, fs, NULL, &err),
			     &err);
		CHECK(rp_frame_compare(img, src, dec, fs, &worst), NULL);
		if (worst != 0)
			fail_msg("OpenJPEG decodes our HTJ2K %u/%u %s with error %llu",
				 img->bits_allocated, img->bits_stored,
				 img->is_signed ? "s" : "u", (unsigned long long)worst);
		memset(dec, 0x5A, fs);
		CHECK(rp__htj2k_ojph_decode_only(img, enc, enc_size, dec, fs, &err),
			     &err);
		CHECK(rp_frame_compare(img, src, dec, fs, &worst), NULL);
		assert_int_equal(worst, 0);
	}
	/* One byte less room than needed is RP_E_LIMIT, never an overrun.  OpenJPH 0.9's
	 * output size depends on uninitialised memory it reads past the code-block width
	 * (valgrind: codeblock::encode), so it gets a buffer far too small instead. */
	size_t tight_size = o->id == RP_CODEC_HTJ2K_OJPH ? 16 : enc_size - 1;
	if (enc_size > 1) {
		uint8_t *tight = malloc(tight_size);
		size_t ts = 0;
		int rc = o->encode(img, &p, src, fs, tight, tight_size, &ts, &err);
		if (rc != RP_E_LIMIT)
			fail_msg("%s: %ux%ux%u %u/%u: encode into %zu bytes (needs %zu) "
				 "returned %s (%zu)",
				 rp_codec_name(o->id), img->width, img->height, img->components,
				 img->bits_allocated, img->bits_stored, tight_size, enc_size,
				 rp_status_name(rc), ts);
		free(tight);
	}
	free(src);
	free(enc);
	free(dec);
}

static void
roundtrip_matrix(enum rp_codec codec, bool opj_too, bool with_32)
{
	const struct rp__codec_ops *o = ops_of(codec);
	for (size_t f = 0; f < sizeof(lossless_fmts) / sizeof(lossless_fmts[0]); f++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (uint16_t comps = 1; comps <= 3; comps += 2) {
				struct rp_image_desc img = {
					.width = sizes[s][0], .height = sizes[s][1],
					.components = comps, .bits_allocated = lossless_fmts[f].ba,
					.bits_stored = lossless_fmts[f].bs,
					.is_signed = lossless_fmts[f].sgn,
					.photometric = comps == 3 ? RP_PHOTOMETRIC_RGB :
								    RP_PHOTOMETRIC_MONOCHROME2,
				};
				for (int kind = 0; kind < 4; kind++)
					roundtrip_one(o, &img, kind, opj_too);
			}
		}
	}
	if (with_32) {
		struct rp_image_desc img = { .width = 9, .height = 5, .components = 3,
					     .bits_allocated = 32, .bits_stored = 32,
					     .photometric = RP_PHOTOMETRIC_RGB };
		roundtrip_one(o, &img, 0, false);
	}
}

static void
test_j2k_roundtrip(void **state)
{
	(void)state;
	roundtrip_matrix(RP_CODEC_J2K, false, false);
}

static void
test_htj2k_ojph_roundtrip_and_opj(void **state)
{
	(void)state;
	roundtrip_matrix(RP_CODEC_HTJ2K_OJPH, true, false);
}

static void
test_rle_roundtrip(void **state)
{
	(void)state;
	roundtrip_matrix(RP_CODEC_RLE, false, true);
}

static void
test_jpeg_lossless_roundtrip(void **state)
{
	(void)state;
	roundtrip_matrix(RP_CODEC_JPEG_LOSSLESS, false, false);
}

/* Every predictor, with and without restart intervals (whole rows and mid-row), through
 * our encoder and decoder; a point transform is exact on values that are multiples of
 * 2^Pt. */
static void
test_jpeg_lossless_predictors(void **state)
{
	(void)state;
	struct rp_errbuf err = { { 0 } };
	static const struct fmt fmts[] = { { 8, 8, 0 }, { 16, 12, 1 }, { 16, 16, 0 },
					   { 16, 16, 1 }, { 8, 2, 0 } };
	static const unsigned restarts[] = { 0, 1, 29, 37, 111 };
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		for (uint16_t comps = 1; comps <= 3; comps += 2) {
			struct rp_image_desc img = { .width = 37, .height = 11,
						     .components = comps,
						     .bits_allocated = fmts[f].ba,
						     .bits_stored = fmts[f].bs,
						     .is_signed = fmts[f].sgn };
			size_t fs = rp_image_frame_size(&img);
			size_t cap = fs * 8 + 1024, es;
			uint8_t *enc = malloc(cap), *dec = malloc(fs);
			for (int kind = 0; kind < 4; kind++) {
				uint8_t *src = rp_test_make_frame(&img, kind, (uint32_t)f);
				for (unsigned sv = 1; sv <= 7; sv++) {
					for (size_t r = 0; r < 5; r++) {
						CHECK(rp__jpeg_lossless_encode(
								     &img, sv, 0, restarts[r], src,
								     fs, enc, cap, &es, &err),
							     &err);
						CHECK(rp__jpeg_lossless_decode(&img, enc, es,
										      dec, fs,
										      &err),
							     &err);
						if (memcmp(src, dec, fs) != 0)
							fail_msg("predictor %u restart %u fmt %zu "
								 "comps %u kind %d differs", sv,
								 restarts[r], f, comps, kind);
					}
				}
				free(src);
			}
			/* Point transform 1: exact on even values. */
			if (!img.is_signed) {
				uint8_t *src = rp_test_make_frame(&img, 0, 99);
				size_t bps = rp__sample_bytes(&img);
				for (size_t k = 0; k < fs; k += bps)
					src[k] &= 0xFE;
				CHECK(rp__jpeg_lossless_encode(&img, 6, 1, 0, src, fs, enc,
								      cap, &es, &err), &err);
				CHECK(rp__jpeg_lossless_decode(&img, enc, es, dec, fs,
								      &err), &err);
				assert_memory_equal(src, dec, fs);
				free(src);
			}
			free(enc);
			free(dec);
		}
	}
}

/* PS3.5 G.2: a hand-built 16-bit RGB frame with one replicate run per segment, so that
 * segment order (R.hi R.lo G.hi G.lo B.hi B.lo) is checked against the standard, not
 * just against our own encoder. */
static void
test_rle_segment_order(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 4, .height = 1, .components = 3,
				     .bits_allocated = 16, .bits_stored = 16 };
	uint8_t frame[64 + 6 * 2];
	memset(frame, 0, sizeof(frame));
	rp__store_le32(frame, 6);
	for (int s = 0; s < 6; s++) {
		rp__store_le32(frame + 4 + 4 * s, (uint32_t)(64 + 2 * s));
		frame[64 + 2 * s] = (uint8_t)(257 - 4);    /* replicate 4 times */
		frame[64 + 2 * s + 1] = (uint8_t)(0x10 + s);
	}
	uint8_t dec[4 * 3 * 2];
	struct rp_errbuf err = { { 0 } };
	CHECK(ops_of(RP_CODEC_RLE)->decode(&img, frame, sizeof(frame), dec, sizeof(dec),
						  NULL, &err), &err);
	for (int x = 0; x < 4; x++) {
		assert_int_equal(rp__load_le16(dec + 6 * x + 0), 0x1011);   /* R */
		assert_int_equal(rp__load_le16(dec + 6 * x + 2), 0x1213);   /* G */
		assert_int_equal(rp__load_le16(dec + 6 * x + 4), 0x1415);   /* B */
	}
	/* A header that announces the wrong number of segments is corrupt. */
	rp__store_le32(frame, 5);
	assert_int_equal(ops_of(RP_CODEC_RLE)->decode(&img, frame, sizeof(frame), dec,
						      sizeof(dec), NULL, &err), RP_E_CORRUPT);
	/* Offsets pointing outside the frame are corrupt. */
	rp__store_le32(frame, 6);
	rp__store_le32(frame + 8, 5000);
	assert_int_equal(ops_of(RP_CODEC_RLE)->decode(&img, frame, sizeof(frame), dec,
						      sizeof(dec), NULL, &err), RP_E_CORRUPT);
}

static double
psnr8(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;
	for (size_t i = 0; i < n; i++)
		se += (double)(a[i] - b[i]) * (a[i] - b[i]);
	if (se == 0)
		return 99;
	return 10 * log10(255.0 * 255.0 * (double)n / se);
}

static void
test_jpeg_baseline(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = ops_of(RP_CODEC_JPEG);
	struct rp_errbuf err = { { 0 } };
	for (uint16_t comps = 1; comps <= 3; comps += 2) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct rp_image_desc img = { .width = sizes[s][0], .height = sizes[s][1],
						     .components = comps, .bits_allocated = 8,
						     .bits_stored = 8,
						     .photometric = comps == 3 ?
									    RP_PHOTOMETRIC_RGB :
									    RP_PHOTOMETRIC_MONOCHROME2 };
			size_t fs = rp_image_frame_size(&img);
			uint8_t *src = malloc(fs), *dec = malloc(fs);
			/* A smooth image: what JPEG is for. */
			for (size_t i = 0; i < fs; i++) {
				size_t px = i / comps, x = px % img.width, y = px / img.width;
				src[i] = (uint8_t)(128 + 100 * sin((double)x / 9 + (double)(i % comps)) *
							     cos((double)y / 13));
			}
			struct rp__encode_params p = { .quality = 95 };
			size_t cap = o->bound(&img, &p), es = 0;
			uint8_t *enc = malloc(cap);
			CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err), &err);
			CHECK(o->decode(&img, enc, es, dec, fs, NULL, &err), &err);
			double q = psnr8(src, dec, fs);
			if (q < 38.0)
				fail_msg("JPEG q95 %ux%ux%u: PSNR %.1f dB below the 38 dB floor",
					 img.width, img.height, comps, q);
			/* RGB is coded as RGB: decoding does not change the photometric. */
			assert_int_equal(o->decoded_photometric(RP_PHOTOMETRIC_RGB),
					 RP_PHOTOMETRIC_RGB);
			free(src);
			free(dec);
			free(enc);
		}
	}
	assert_int_equal(o->decoded_photometric(RP_PHOTOMETRIC_YBR_FULL_422), RP_PHOTOMETRIC_RGB);
	struct rp_image_desc img12 = { .width = 8, .height = 8, .components = 1,
				       .bits_allocated = 16, .bits_stored = 12 };
	assert_int_equal(o->check(&img12, NULL, &err), RP_E_UNSUPPORTED);
}

/* A 12-bit sequential JPEG built by hand: DC-only blocks (every AC is EOB), quantiser 1,
 * DC category codes of 4 bits (16 codes).  With the islow IDCT a DC coefficient of 8v
 * decodes to exactly 2048 + v over the whole block, so the expected pixels are known
 * without another decoder; restart markers every 3 blocks reset the DC predictor. */
static size_t
make_jpeg12(uint8_t *out, uint32_t w, uint32_t h, const int16_t *block_vals,
	    unsigned restart)
{
	size_t o = 0;
	const uint8_t soi[] = { 0xFF, 0xD8 };
	memcpy(out + o, soi, 2);
	o += 2;
	/* DQT: 8-bit table 0, all ones */
	const uint8_t dqt[] = { 0xFF, 0xDB, 0, 67, 0x00 };
	memcpy(out + o, dqt, sizeof(dqt));
	o += sizeof(dqt);
	memset(out + o, 1, 64);
	o += 64;
	/* SOF1: 12-bit, h x w, one component id 1, 1x1, table 0 */
	const uint8_t sof[] = { 0xFF, 0xC1, 0, 11, 12, (uint8_t)(h >> 8), (uint8_t)h,
				(uint8_t)(w >> 8), (uint8_t)w, 1, 1, 0x11, 0 };
	memcpy(out + o, sof, sizeof(sof));
	o += sizeof(sof);
	/* DHT DC 0: 16 codes of 4 bits for categories 0..15; AC 0: one 1-bit code, EOB.
	 * (The all-ones code is avoided by T.81: 1111 is category 15, unused here.) */
	const uint8_t dht_dc_head[] = { 0xFF, 0xC4, 0, 3 + 16 + 16, 0x00 };
	memcpy(out + o, dht_dc_head, sizeof(dht_dc_head));
	o += sizeof(dht_dc_head);
	uint8_t counts[16] = { 0, 0, 0, 16 };
	memcpy(out + o, counts, 16);
	o += 16;
	for (int i = 0; i < 16; i++)
		out[o++] = (uint8_t)i;
	const uint8_t dht_ac[] = { 0xFF, 0xC4, 0, 3 + 16 + 1, 0x10, 1, 0, 0, 0, 0, 0, 0, 0,
				   0, 0, 0, 0, 0, 0, 0, 0, 0x00 };
	memcpy(out + o, dht_ac, sizeof(dht_ac));
	o += sizeof(dht_ac);
	if (restart) {
		const uint8_t dri[] = { 0xFF, 0xDD, 0, 4, 0, (uint8_t)restart };
		memcpy(out + o, dri, sizeof(dri));
		o += sizeof(dri);
	}
	const uint8_t sos[] = { 0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0 };
	memcpy(out + o, sos, sizeof(sos));
	o += sizeof(sos);
	uint64_t acc = 0;
	int nbits = 0;
	int32_t pred = 0;
	unsigned nblocks = ((w + 7) / 8) * ((h + 7) / 8), rst = 0;
#define PUTBITS(v, n)                                                                      \
	do {                                                                               \
		acc = (acc << (n)) | ((uint64_t)(v) & ((1u << (n)) - 1));                  \
		nbits += (n);                                                              \
		while (nbits >= 8) {                                                       \
			uint8_t b_ = (uint8_t)(acc >> (nbits - 8));                        \
			out[o++] = b_;                                                     \
			if (b_ == 0xFF)                                                    \
				out[o++] = 0;                                              \
			nbits -= 8;                                                        \
		}                                                                          \
	} while (0)
	for (unsigned b = 0; b < nblocks; b++) {
		if (restart && b && b % restart == 0) {
			if (nbits)
				PUTBITS(0x7F, 8 - nbits);
			out[o++] = 0xFF;
			out[o++] = (uint8_t)(0xD0 + (rst++ & 7));
			pred = 0;
		}
		int32_t dc = 8 * block_vals[b], diff = dc - pred;
		pred = dc;
		uint32_t a = (uint32_t)(diff < 0 ? -diff : diff);
		int s = 0;
		while (a >> s)
			s++;
		PUTBITS(s, 4);
		if (s)
			PUTBITS((uint32_t)(diff < 0 ? diff - 1 : diff), s);
		PUTBITS(0, 1);                  /* EOB */
	}
	if (nbits)
		PUTBITS(0x7F, 8 - nbits);
#undef PUTBITS
	out[o++] = 0xFF;
	out[o++] = 0xD9;
	return o;
}

static void
test_jpeg12_dc_blocks(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = ops_of(RP_CODEC_JPEG);
	struct rp_errbuf err = { { 0 } };
	for (unsigned restart = 0; restart <= 3; restart += 3) {
		struct rp_image_desc img = { .width = 21, .height = 13, .components = 1,
					     .bits_allocated = 16, .bits_stored = 12 };
		unsigned bw = 3, bh = 2;
		int16_t vals[6] = { 0, 100, -2048, 2047, -5, 777 };
		uint8_t stream[4096];
		size_t n = make_jpeg12(stream, img.width, img.height, vals, restart);
		size_t fs = rp_image_frame_size(&img);
		uint8_t *dec = malloc(fs);
		/* Through the libjpeg adapter (which hands 12-bit frames to codec/jpeg12.c). */
		CHECK(o->decode(&img, stream, n, dec, fs, NULL, &err), &err);
		for (uint32_t y = 0; y < img.height; y++)
			for (uint32_t x = 0; x < img.width; x++) {
				int want = 2048 + vals[(y / 8) * bw + x / 8];
				want = want < 0 ? 0 : want > 4095 ? 4095 : want;
				int got = rp__load_le16(dec + 2 * ((size_t)y * img.width + x));
				if (got != want)
					fail_msg("restart %u: pixel (%u,%u) is %d, expected %d",
						 restart, x, y, got, want);
			}
		(void)bh;
		/* Every truncation is an error. */
		for (size_t cut = 0; cut + 2 < n; cut++) {
			uint8_t *t = malloc(cut ? cut : 1);
			memcpy(t, stream, cut);
			if (o->decode(&img, t, cut, dec, fs, NULL, &err) == RP_OK)
				fail_msg("12-bit JPEG cut to %zu of %zu bytes decoded", cut, n);
			free(t);
		}
		free(dec);
	}
}

/* A frame of at least 1 Mpixel with a pool lets OpenJPEG use the pool's thread count; the
 * codestream must be byte-identical to the single-threaded one, and decode exactly. */
static void
test_j2k_threads(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = ops_of(RP_CODEC_J2K);
	struct rp_errbuf err = { { 0 } };
	struct rp_pool *pool = NULL;
	CHECK(rp_pool_create(2, 0, &pool), &err);
	struct rp_image_desc img = { .width = 1024, .height = 1024, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12, .is_signed = 1 };
	size_t fs = rp_image_frame_size(&img);
	uint8_t *src = rp_test_make_frame(&img, 1, 42), *dec = malloc(fs);
	struct rp__encode_params p1 = { 0 }, p2 = { .pool = pool };
	struct rp__decode_params dp = { .pool = pool };
	size_t cap = o->bound(&img, &p1), s1 = 0, s2 = 0;
	uint8_t *e1 = malloc(cap), *e2 = malloc(cap);
	CHECK(o->encode(&img, &p1, src, fs, e1, cap, &s1, &err), &err);
	CHECK(o->encode(&img, &p2, src, fs, e2, cap, &s2, &err), &err);
	assert_int_equal(s1, s2);
	assert_memory_equal(e1, e2, s1);
	CHECK(o->decode(&img, e2, s2, dec, fs, &dp, &err), &err);
	assert_memory_equal(src, dec, fs);
	rp_pool_destroy(pool);
	free(src);
	free(dec);
	free(e1);
	free(e2);
}

/* .91: irreversible 9/7 at a target ratio, only when asked; HTJ2K (OpenJPH) refuses to be
 * asked for lossy since only lossless encoding is implemented there. */
static void
test_j2k_lossy_ratio(void **state)
{
	(void)state;
	const struct rp__codec_ops *o = ops_of(RP_CODEC_J2K);
	struct rp_errbuf err = { { 0 } };
	assert_string_equal(o->ts_lossy, "1.2.840.10008.1.2.4.91");
	struct rp_image_desc img = { .width = 256, .height = 192, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12 };
	size_t fs = rp_image_frame_size(&img), n = fs / 2;
	uint8_t *src = malloc(fs), *dec = malloc(fs);
	for (size_t i = 0; i < n; i++) {
		size_t x = i % img.width, y = i / img.width;
		rp__store_le16(src + 2 * i, (uint16_t)(2048 + 1500 * sin((double)x / 17) *
							     cos((double)y / 23)));
	}
	struct rp__encode_params p = { .lossy_ratio = 10 };
	size_t cap = o->bound(&img, &p), es = 0;
	uint8_t *enc = malloc(cap);
	CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err), &err);
	/* The ratio is over the 12-bit samples' nominal size; allow the headers. */
	if (es > n * 12 / 8 / 10 + 1024)
		fail_msg("ratio 10 asked, got %zu bytes for %zu samples", es, n);
	CHECK(o->decode(&img, enc, es, dec, fs, NULL, &err), &err);
	double se = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)rp__load_le16(src + 2 * i) - rp__load_le16(dec + 2 * i);
		se += d * d;
	}
	double psnr = se == 0 ? 99 : 10 * log10(4095.0 * 4095.0 * (double)n / se);
	if (psnr < 50)
		fail_msg("J2K ratio 10 on a smooth 12-bit image: PSNR %.1f dB below 50", psnr);
	const struct rp__codec_ops *ht = ops_of(RP_CODEC_HTJ2K_OJPH);
	assert_int_equal(ht->check(&img, &p, &err), RP_E_UNSUPPORTED);
	free(src);
	free(dec);
	free(enc);
}

/* Prefixes and bit flips of valid codestreams: every decoder must return a status (and
 * for truncation, an error), never crash or write past the frame.  Run under ASan in the
 * sanitizer build. */
static void
test_hostile_codestreams(void **state)
{
	(void)state;
	static const enum rp_codec codecs[] = { RP_CODEC_J2K, RP_CODEC_HTJ2K_OJPH, RP_CODEC_RLE,
						RP_CODEC_JPEG_LOSSLESS, RP_CODEC_JPEG };
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		const struct rp__codec_ops *o = ops_of(codecs[c]);
		struct rp_image_desc img = { .width = 41, .height = 23, .components = 1,
					     .bits_allocated = codecs[c] == RP_CODEC_JPEG ? 8 : 16,
					     .bits_stored = codecs[c] == RP_CODEC_JPEG ? 8 : 12 };
		struct rp__encode_params p = { .quality = 90 };
		struct rp_errbuf err = { { 0 } };
		size_t fs = rp_image_frame_size(&img), cap = o->bound(&img, &p), es = 0;
		uint8_t *src = rp_test_make_frame(&img, 1, 7), *enc = malloc(cap);
		uint8_t *dec = malloc(fs + 64);
		CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err), &err);
		/* Truncations: the decoder sees an exact-size heap copy (ASan catches reads
		 * past it). */
		for (size_t cut = 0; cut < es; cut += 1 + es / 61) {
			uint8_t *t = malloc(cut ? cut : 1);
			memcpy(t, enc, cut);
			memset(dec + fs, 0xEE, 64);
			int rc = o->decode(&img, t, cut, dec, fs, NULL, &err);
			if (rc == RP_OK)
				fail_msg("%s: %zu of %zu bytes decoded without error",
					 rp_codec_name(codecs[c]), cut, es);
			for (int k = 0; k < 64; k++)
				assert_int_equal(dec[fs + k], 0xEE);
			free(t);
		}
		/* Bit flips: any status is fine, a crash is not. */
		uint32_t seed = 12345;
		for (int i = 0; i < 200; i++) {
			uint8_t *t = malloc(es);
			memcpy(t, enc, es);
			seed = seed * 1103515245u + 12345u;
			t[(seed >> 8) % es] ^= (uint8_t)(1u << ((seed >> 4) & 7));
			int rc = o->decode(&img, t, es, dec, fs, NULL, &err);
			assert_true(rc == RP_OK || rc < 0);
			free(t);
		}
		free(src);
		free(enc);
		free(dec);
	}
}

/* A codestream whose geometry disagrees with the image is RP_E_CORRUPT. */
/* The wavelet levels and code-block size options reach the codestream (COD: levels, xcb,
 * ycb, read back here) of j2k and htj2k through the public encoder, the output decodes
 * bit-exact, a size the codec cannot use is refused, and bad values never create an
 * encoder. */
static int
cod_fields(const uint8_t *cs, size_t n, unsigned *levels, unsigned *xcb, unsigned *ycb)
{
	for (size_t i = 0; i + 12 < n; i++)
		if (cs[i] == 0xFF && cs[i + 1] == 0x52) {
			/* Lcod(2) Scod(1) SGcod(4) then SPcod: levels, xcb - 2, ycb - 2 */
			*levels = cs[i + 9];
			*xcb = cs[i + 10] + 2u;
			*ycb = cs[i + 11] + 2u;
			return 1;
		}
	return 0;
}

static void
test_wavelet_options(void **state)
{
	(void)state;
	static const enum rp_codec codecs[] = { RP_CODEC_J2K, RP_CODEC_HTJ2K };
	static const unsigned cases[][3] = { { 2, 5, 5 }, { 1, 6, 4 }, { 3, 2, 6 }, { 0, 0, 0 } };
	struct rp_image_desc img = { .width = 300, .height = 211, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12,
				     .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	struct rp_errbuf err = { "" };
	size_t fs = rp_image_frame_size(&img);
	uint8_t *src = rp_test_make_frame(&img, 1, 5), *back = malloc(fs);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		if (!rp_codec_can_encode(codecs[c]))
			fail_msg("codec %s missing from this build", rp_codec_name(codecs[c]));
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			struct rp_encoder_options eo;
			struct rp_encoder *enc = NULL;
			struct rp_decoder_options dopt;
			struct rp_decoder *dec = NULL;
			rp_encoder_options_init(&eo);
			eo.codec = codecs[c];
			eo.wavelet_levels = cases[k][0];
			eo.code_block_w_log2 = cases[k][1];
			eo.code_block_h_log2 = cases[k][2];
			CHECK(rp_encoder_create(&eo, &enc), &err);
			size_t cap = rp_encoder_bound(enc, &img), n = 0;
			uint8_t *cs = malloc(cap);
			CHECK(rp_encoder_encode(enc, &img, src, fs, cs, cap, &n, &err), &err);
			unsigned lv, xcb, ycb;
			assert_true(cod_fields(cs, n, &lv, &xcb, &ycb));
			assert_int_equal(lv, cases[k][0] ? cases[k][0] : 5);
			assert_int_equal(xcb, cases[k][1] ? cases[k][1] : 6);
			assert_int_equal(ycb, cases[k][2] ? cases[k][2] : 6);
			rp_decoder_options_init(&dopt);
			dopt.codec = codecs[c];
			CHECK(rp_decoder_create(&dopt, &dec), &err);
			memset(back, 0xEE, fs);
			CHECK(rp_decoder_decode(dec, &img, cs, n, back, fs, &err), &err);
			assert_memory_equal(src, back, fs);
			rp_decoder_destroy(dec);
			rp_encoder_destroy(enc);
			free(cs);
		}
	}
	/* 128 x 32 is a valid J2K block but over HTJ2K's (and our encoder's) 64. */
	struct rp_encoder_options eo;
	struct rp_encoder *enc = NULL;
	rp_encoder_options_init(&eo);
	eo.codec = RP_CODEC_HTJ2K;
	eo.code_block_w_log2 = 7;
	eo.code_block_h_log2 = 5;
	CHECK(rp_encoder_create(&eo, &enc), &err);
	assert_int_equal(rp_encoder_check(enc, &img, &err), RP_E_UNSUPPORTED);
	rp_encoder_destroy(enc);
	/* Invalid: one of the two sizes, below 4, over 1024, levels over 32. */
	static const unsigned bad[][3] = { { 0, 6, 0 }, { 0, 1, 6 }, { 0, 11, 2 }, { 33, 0, 0 } };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		rp_encoder_options_init(&eo);
		eo.codec = RP_CODEC_HTJ2K;
		eo.wavelet_levels = bad[k][0];
		eo.code_block_w_log2 = bad[k][1];
		eo.code_block_h_log2 = bad[k][2];
		enc = NULL;
		assert_int_equal(rp_encoder_create(&eo, &enc), RP_E_INVALID_ARG);
		assert_null(enc);
	}
	free(src);
	free(back);
}

/* colour_transform: RGB through the RCT (j2k, htj2k) says YBR_RCT, is smaller on a smooth
 * colour image, and decodes to the same RGB; grey images, lossy j2k and the option off
 * keep their photometric interpretation. */
static void
test_colour_transform(void **state)
{
	(void)state;
	static const enum rp_codec codecs[] = { RP_CODEC_J2K, RP_CODEC_HTJ2K };
	struct rp_image_desc rgb = { .width = 97, .height = 64, .components = 3,
				     .bits_allocated = 8, .bits_stored = 8,
				     .photometric = RP_PHOTOMETRIC_RGB };
	struct rp_image_desc grey = { .width = 97, .height = 64, .components = 1,
				      .bits_allocated = 8, .bits_stored = 8,
				      .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	struct rp_errbuf err = { "" };
	size_t fs = rp_image_frame_size(&rgb);
	/* Textured, strongly correlated colour (one texture in all three channels), as
	 * ultrasound and photographs are: the transform leaves the texture once, in Y. */
	uint8_t *src = malloc(fs), *back = malloc(fs);
	uint32_t seed = 12345;
	for (uint32_t y = 0; y < rgb.height; y++)
		for (uint32_t x = 0; x < rgb.width; x++) {
			seed = seed * 1664525u + 1013904223u;
			uint8_t t = (uint8_t)(64 + x + (seed >> 27));
			uint8_t *p = src + 3 * ((size_t)y * rgb.width + x);
			p[0] = t;
			p[1] = (uint8_t)(t + 7);
			p[2] = (uint8_t)(t + 20);
		}
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t sizes_[2] = { 0, 0 };
		for (int rct = 0; rct <= 1; rct++) {
			struct rp_encoder_options eo;
			struct rp_encoder *enc = NULL;
			struct rp_decoder_options dop;
			struct rp_decoder *dec = NULL;
			rp_encoder_options_init(&eo);
			eo.codec = codecs[c];
			eo.colour_transform = rct;
			CHECK(rp_encoder_create(&eo, &enc), &err);
			assert_int_equal(rp_encoder_output_photometric(enc, &rgb),
					 rct ? RP_PHOTOMETRIC_YBR_RCT : RP_PHOTOMETRIC_RGB);
			assert_int_equal(rp_encoder_output_photometric(enc, &grey),
					 RP_PHOTOMETRIC_MONOCHROME2);
			size_t cap = rp_encoder_bound(enc, &rgb);
			uint8_t *cs = malloc(cap);
			CHECK(rp_encoder_encode(enc, &rgb, src, fs, cs, cap, &sizes_[rct], &err), &err);
			rp_decoder_options_init(&dop);
			dop.codec = codecs[c];
			CHECK(rp_decoder_create(&dop, &dec), &err);
			struct rp_image_desc as_stored = rgb;
			as_stored.photometric = rct ? RP_PHOTOMETRIC_YBR_RCT : RP_PHOTOMETRIC_RGB;
			memset(back, 0, fs);
			CHECK(rp_decoder_decode(dec, &as_stored, cs, sizes_[rct], back, fs, &err),
			      &err);
			assert_memory_equal(src, back, fs);
			rp_decoder_destroy(dec);
			rp_encoder_destroy(enc);
			free(cs);
		}
		printf("%s: %zu bytes without the colour transform, %zu with\n",
		       rp_codec_name(codecs[c]), sizes_[0], sizes_[1]);
		assert_true(sizes_[1] < sizes_[0]);
	}
	struct rp_encoder_options eo;
	struct rp_encoder *enc = NULL;
	rp_encoder_options_init(&eo);
	eo.codec = RP_CODEC_J2K;
	eo.colour_transform = 1;
	eo.lossy_ratio = 10;
	CHECK(rp_encoder_create(&eo, &enc), &err);
	assert_int_equal(rp_encoder_output_photometric(enc, &rgb), RP_PHOTOMETRIC_RGB);
	rp_encoder_destroy(enc);
	assert_string_equal(rp_photometric_name(RP_PHOTOMETRIC_YBR_RCT), "YBR_RCT");
	assert_null(rp_photometric_name(RP_PHOTOMETRIC_UNKNOWN));
	free(src);
	free(back);
}

static void
test_geometry_mismatch(void **state)
{
	(void)state;
	static const enum rp_codec codecs[] = { RP_CODEC_J2K, RP_CODEC_HTJ2K_OJPH, RP_CODEC_RLE,
						RP_CODEC_JPEG_LOSSLESS, RP_CODEC_JPEG };
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		const struct rp__codec_ops *o = ops_of(codecs[c]);
		struct rp_image_desc img = { .width = 16, .height = 8, .components = 1,
					     .bits_allocated = 8, .bits_stored = 8 };
		struct rp__encode_params p = { .quality = 90 };
		struct rp_errbuf err = { { 0 } };
		size_t fs = rp_image_frame_size(&img), cap = o->bound(&img, &p), es = 0;
		uint8_t *src = rp_test_make_frame(&img, 0, 3), *enc = malloc(cap);
		CHECK(o->encode(&img, &p, src, fs, enc, cap, &es, &err), &err);
		struct rp_image_desc other = img;
		other.height = 9;
		uint8_t *dec = malloc(rp_image_frame_size(&other));
		int rc = o->decode(&other, enc, es, dec, rp_image_frame_size(&other), NULL, &err);
		if (rc != RP_E_CORRUPT)
			fail_msg("%s: 16x8 codestream decoded as 16x9 gave %s",
				 rp_codec_name(codecs[c]), rp_status_name(rc));
		free(src);
		free(enc);
		free(dec);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_j2k_roundtrip),
		cmocka_unit_test(test_htj2k_ojph_roundtrip_and_opj),
		cmocka_unit_test(test_rle_roundtrip),
		cmocka_unit_test(test_jpeg_lossless_roundtrip),
		cmocka_unit_test(test_jpeg_lossless_predictors),
		cmocka_unit_test(test_rle_segment_order),
		cmocka_unit_test(test_jpeg_baseline),
		cmocka_unit_test(test_j2k_lossy_ratio),
		cmocka_unit_test(test_jpeg12_dc_blocks),
		cmocka_unit_test(test_j2k_threads),
		cmocka_unit_test(test_hostile_codestreams),
		cmocka_unit_test(test_geometry_mismatch),
		cmocka_unit_test(test_wavelet_options),
		cmocka_unit_test(test_colour_transform),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
