/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_jpegls.c - the JPEG-LS adapter on synthetic images: every container, sign,
 * component count and awkward size; near-lossless bounds; refusal of overlay bits. */
#include "test_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void
roundtrip(const struct rp_image_desc *img, int kind, int near)
{
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = RP_CODEC_JPEGLS;
	eo.near_lossless = near;
	struct rp_encoder *enc;
	struct rp_decoder *dec;
	struct rp_decoder_options dopts;
	rp_decoder_options_init(&dopts);
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
	assert_int_equal(rp_decoder_create(&dopts, &dec), RP_OK);
	size_t size = rp_image_frame_size(img), bound = rp_encoder_bound(enc, img), n = 0;
	uint8_t *src = rp_test_make_frame(img, kind, img->width * 31 + img->bits_stored);
	uint8_t *code = malloc(bound), *back = malloc(size);
	struct rp_errbuf err = { "" };
	int st = rp_encoder_encode(enc, img, src, size, code, bound, &n, &err);
	if (st == RP_E_UNSUPPORTED && near && img->is_signed) {
		/* allowed only when a sample sits within NEAR of the signed range ends */
		size_t bps = img->bits_allocated / 8, count = size / bps;
		int64_t lo = -((int64_t)1 << (img->bits_stored - 1)) + near;
		int64_t hi = ((int64_t)1 << (img->bits_stored - 1)) - 1 - near;
		bool near_end = false;
		for (size_t i = 0; i < count; i++) {
			int64_t v = bps == 1 ? (int8_t)src[i] : (int16_t)(src[2 * i] | src[2 * i + 1] << 8);
			near_end |= v < lo || v > hi;
		}
		assert_true(near_end);
		goto done;
	}
	RP_ASSERT_OK(st, &err);
	assert_true(n > 0 && n <= bound);
	RP_ASSERT_OK(rp_decoder_decode(dec, img, code, n, back, size, &err), &err);
	uint64_t e;
	assert_int_equal(rp_frame_compare(img, src, back, size, &e), RP_OK);
	if (e > (uint64_t)near)
		fail_msg("%ux%u x%u %u/%u %s kind %d near %d: max error %llu", img->width,
			 img->height, img->components, img->bits_allocated, img->bits_stored,
			 img->is_signed ? "signed" : "unsigned", kind, near, (unsigned long long)e);
	assert_string_equal(rp_encoder_transfer_syntax(enc),
			    near ? "1.2.840.10008.1.2.4.81" : "1.2.840.10008.1.2.4.80");
done:
	free(src);
	free(code);
	free(back);
	rp_encoder_destroy(enc);
	rp_decoder_destroy(dec);
}

static void
test_roundtrip_matrix(void **state)
{
	(void)state;
	static const uint32_t sizes[][2] = { { 1, 1 }, { 3, 3 }, { 17, 5 }, { 64, 64 }, { 1, 37 },
					     { 129, 2 } };
	static const uint16_t bits[][2] = { { 8, 8 }, { 8, 7 }, { 8, 2 }, { 16, 16 }, { 16, 12 },
					    { 16, 15 }, { 16, 8 }, { 16, 10 } };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
			for (int sign = 0; sign < 2; sign++)
				for (uint16_t comp = 1; comp <= 3; comp += 2)
					for (int kind = 0; kind < 4; kind++) {
						struct rp_image_desc img = {
							.width = sizes[s][0], .height = sizes[s][1],
							.components = comp, .bits_allocated = bits[b][0],
							.bits_stored = bits[b][1], .is_signed = (uint8_t)sign,
						};
						roundtrip(&img, kind, 0);
						if (kind < 2 && bits[b][1] >= 8)
							roundtrip(&img, kind, 3);
					}
}

static void
test_refuses_overlay_bits(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 4, .height = 4, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12 };
	uint8_t *src = rp_test_make_frame(&img, 1, 1);
	src[7] |= 0x20;   /* bit 13 of sample 3: an overlay bit */
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	struct rp_encoder *enc;
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
	uint8_t out[4096];
	size_t n;
	struct rp_errbuf err = { "" };
	assert_int_equal(rp_encoder_encode(enc, &img, src, 32, out, sizeof(out), &n, &err),
			 RP_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "BitsStored"));
	free(src);
	rp_encoder_destroy(enc);
}

static void
test_rejects_bad_streams(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 16, .height = 16, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12 };
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	struct rp_encoder *enc;
	struct rp_decoder *dec;
	struct rp_decoder_options dopts;
	rp_decoder_options_init(&dopts);
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
	assert_int_equal(rp_decoder_create(&dopts, &dec), RP_OK);
	uint8_t *src = rp_test_make_frame(&img, 0, 3), code[2048], back[512];
	size_t n;
	assert_int_equal(rp_encoder_encode(enc, &img, src, 512, code, sizeof(code), &n, NULL),
			 RP_OK);
	/* a header that disagrees with the DICOM attributes */
	struct rp_image_desc other = img;
	other.width = 8;
	assert_int_equal(rp_decoder_decode(dec, &other, code, n, back, sizeof(back), NULL),
			 RP_E_CORRUPT);
	/* every truncation fails cleanly */
	for (size_t cut = 0; cut < n; cut += 7)
		assert_int_not_equal(rp_decoder_decode(dec, &img, code, cut, back, sizeof(back),
						       NULL), RP_OK);
	/* the output buffer is checked */
	assert_int_equal(rp_decoder_decode(dec, &img, code, n, back, 100, NULL), RP_E_LIMIT);
	free(src);
	rp_encoder_destroy(enc);
	rp_decoder_destroy(dec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_matrix),
		cmocka_unit_test(test_refuses_overlay_bits),
		cmocka_unit_test(test_rejects_bad_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
