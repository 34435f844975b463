/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_htj2k_label.c - which HTJ2K transfer syntax a codestream is labelled with:
 * 1.2.840.10008.1.2.4.202 (RPCL options, PS3.5 8.2.15) only when it meets every rule
 * (RPCL, TLM, one tile-part per resolution, lowest resolution <= 64 each way, reversible
 * HT), else .201.  Each rule is broken on its own in a stream that otherwise qualifies. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"

#define TS_201 "1.2.840.10008.1.2.4.201"
#define TS_202 "1.2.840.10008.1.2.4.202"

static const struct rp_image_desc img = {
	.width = 300, .height = 257, .components = 1, .bits_allocated = 16, .bits_stored = 12,
	.photometric = RP_PHOTOMETRIC_MONOCHROME2,
};

/* Encodes the test frame with p; returns the codestream (malloc'd) and its size. */
static uint8_t *
encode(const struct rp__ht_params *p, size_t *size)
{
	struct rp__encode_params ep = { 0 };
	struct rp_errbuf err = { "" };
	const size_t fs = rp_image_frame_size(&img);
	uint8_t *frame = rp_test_make_frame(&img, 1, 7);
	size_t cap = rp__codec_ops(RP_CODEC_HTJ2K)->bound(&img, &ep);
	uint8_t *cs = malloc(cap);
	assert_non_null(frame);
	assert_non_null(cs);
	RP_ASSERT_OK(rp__htj2k_encode_params(&img, p, frame, fs, cs, cap, size, NULL, NULL, &err),
		     &err);
	free(frame);
	return cs;
}

static void
expect(const uint8_t *cs, size_t n, int want, const char *rule)
{
	struct rp_errbuf why = { "" };
	int got = rp__htj2k_is_rpcl_lossless(cs, n, &why);
	print_message("  %s: %s%s%s\n", rule, got ? "qualifies" : "does not qualify",
		      got ? "" : ": ", got ? "" : why.msg);
	assert_int_equal(got, want);
	if (!want)
		assert_true(why.msg[0] != '\0');
}

/* Offset of marker m in the main header (before the first SOT), or 0. */
static size_t
find_marker(const uint8_t *cs, size_t n, unsigned m)
{
	size_t pos = 2;
	while (pos + 4 <= n) {
		unsigned mk = (unsigned)cs[pos] << 8 | cs[pos + 1];
		if (mk == m)
			return pos;
		if (mk == 0xFF90)
			return 0;
		pos += 2 + ((size_t)cs[pos + 2] << 8 | cs[pos + 3]);
	}
	return 0;
}

static void
test_rules(void **state)
{
	(void)state;
	struct rp__ht_params p;
	size_t n;

	/* What `compress -c htj2k` writes: qualifies. */
	rp__htj2k_default_params(&img, &p);
	uint8_t *cs = encode(&p, &n);
	expect(cs, n, 1, "default stream");

	/* Without the TLM marker segment. */
	size_t at = find_marker(cs, n, 0xFF55);
	assert_true(at != 0);
	size_t len = 2 + ((size_t)cs[at + 2] << 8 | cs[at + 3]);
	uint8_t *cut = malloc(n);
	memcpy(cut, cs, at);
	memcpy(cut + at, cs + at + len, n - at - len);
	expect(cut, n - len, 0, "TLM removed");
	free(cut);

	/* LRCP instead of RPCL (same packets with one precinct, so only the label is off). */
	uint8_t *lrcp = malloc(n);
	memcpy(lrcp, cs, n);
	at = find_marker(lrcp, n, 0xFF52);
	assert_true(at != 0);
	lrcp[at + 5] = 0;
	expect(lrcp, n, 0, "LRCP progression");
	free(lrcp);

	/* TLM kept, but the first tile-part claims to be the only one. */
	uint8_t *onetp = malloc(n);
	memcpy(onetp, cs, n);
	size_t sot = 2;
	while (!(onetp[sot] == 0xFF && onetp[sot + 1] == 0x90))
		sot += 2 + ((size_t)onetp[sot + 2] << 8 | onetp[sot + 3]);
	onetp[sot + 11] = 1;
	expect(onetp, n, 0, "TNsot 1 (not one tile-part per resolution)");
	free(onetp);

	/* Cut short: never read past the end, never qualifies. */
	for (size_t k = 0; k < n; k += 1 + n / 50)
		assert_int_equal(rp__htj2k_is_rpcl_lossless(cs, k, NULL), 0);
	free(cs);

	/* Too few levels: 300 / 2^2 = 75 > 64. */
	rp__htj2k_default_params(&img, &p);
	p.levels = 2;
	cs = encode(&p, &n);
	expect(cs, n, 0, "2 levels (lowest resolution 75 x 65)");
	free(cs);

	/* One tile-part for all resolutions (what TLM off does in our encoder). */
	rp__htj2k_default_params(&img, &p);
	p.tlm = 0;
	cs = encode(&p, &n);
	expect(cs, n, 0, "no TLM, one tile-part");
	free(cs);
}

/* Through the public API: the encoder labels its own streams. */
static void
test_encoder_label(void **state)
{
	(void)state;
	static const struct {
		enum rp_codec codec;
		unsigned levels;
		const char *want;
	} cases[] = {
		{ RP_CODEC_HTJ2K, 0, TS_202 },
		{ RP_CODEC_HTJ2K, 3, TS_202 },       /* 300 / 8 = 38 */
		{ RP_CODEC_HTJ2K, 2, TS_201 },
		{ RP_CODEC_HTJ2K_OJPH, 0, TS_201 },  /* OpenJPH 0.9 writes no TLM */
	};
	const size_t fs = rp_image_frame_size(&img);
	uint8_t *frame = rp_test_make_frame(&img, 1, 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rp_encoder_options o;
		struct rp_encoder *enc;
		struct rp_errbuf err = { "" };
		rp_encoder_options_init(&o);
		o.codec = cases[i].codec;
		o.wavelet_levels = cases[i].levels;
		RP_ASSERT_OK(rp_encoder_create(&o, &enc), &err);
		assert_string_equal(rp_encoder_transfer_syntax(enc), TS_201);
		size_t cap = rp_encoder_bound(enc, &img), n = 0;
		uint8_t *cs = malloc(cap);
		RP_ASSERT_OK(rp_encoder_encode(enc, &img, frame, fs, cs, cap, &n, &err), &err);
		assert_string_equal(rp_encoder_stream_transfer_syntax(enc, cs, n), cases[i].want);
		free(cs);
		rp_encoder_destroy(enc);
	}
	free(frame);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_encoder_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
