/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_htj2k_block_dec.c - the fast HT cleanup decoder (codec/htj2k/ht_block_dec.c,
 * at every ISA level this CPU runs) against the one-sample-at-a-time reference
 * (ht_block_dec_ref.c) on blocks from our encoder: every size 1..64 x 1..64, zero, single
 * nonzero, extreme, sparse, dense, signed and clustered blocks, with max_bits exact, loose
 * and too small; then truncated, bit-flipped and random segments, where the status must
 * match and, when both decode, every coefficient.  Blocks are decoded into a buffer with
 * guard columns and rows: every one of the w x h coefficients must be written and nothing
 * around them.  Segments are copied into buffers of exactly their size, so that ASan sees
 * any read past them. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/htj2k/ht_block_dec.h"
#include "simd/cpu.h"

#define STRIDE 70u
#define ROWS 68u
#define GUARD 0x5A5A5A5A

static uint32_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift32: deterministic, different blocks per seed. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The codec's kernel tables this CPU runs (every ISA level built, up to the detected
 * one), and the best of them, whose encoder makes the test segments. */
static const struct rp__htj2k_kernels *isa_k[3];
static const char *isa_names[3];
static unsigned n_isa;
static const struct rp__htj2k_kernels *best_k;

static void
find_isas(void)
{
	n_isa = 0;
	for (size_t t = 0; rp__htj2k_kernels_at(t) != NULL && n_isa < 3; t++) {
		const struct rp__htj2k_kernels *k = rp__htj2k_kernels_at(t);
		if (k->isa > rp__isa_detected())
			continue;
		isa_k[n_isa] = k;
		isa_names[n_isa++] = k->name;
	}
	best_k = rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST));
}

/* Coefficient patterns. */
enum { P_ZERO, P_SINGLE, P_MAX, P_SPARSE, P_DENSE, P_SMALL, P_CLUSTER, P_ROWS, P_COUNT };

static int32_t
rand_mag(unsigned bits)
{
	/* Magnitude with a random number of significant bits up to `bits`. */
	unsigned b = 1 + rng() % bits;
	uint32_t m = rng() & ((b >= 32 ? 0u : (1u << b)) - 1u);
	return (int32_t)(m | 1u << (b - 1));
}

static void
make_block(int32_t *c, unsigned w, unsigned h, int pattern, unsigned bits)
{
	memset(c, 0, sizeof(int32_t) * w * h);
	unsigned n = w * h;
	switch (pattern) {
	case P_ZERO:
		break;
	case P_SINGLE:
		c[rng() % n] = (rng() & 1) ? -rand_mag(bits) : rand_mag(bits);
		break;
	case P_MAX:
		for (unsigned i = 0; i < n; i++) {
			int32_t m = (int32_t)((1u << bits) - 1u - (rng() & 3));
			c[i] = (rng() & 1) ? -m : m;
		}
		break;
	case P_SPARSE:
		for (unsigned i = 0; i < n; i++)
			if (rng() % 16 == 0)
				c[i] = (rng() & 1) ? -rand_mag(bits) : rand_mag(bits);
		break;
	case P_DENSE:
		for (unsigned i = 0; i < n; i++) {
			int32_t m = rand_mag(bits) - 1;
			c[i] = (rng() & 1) ? -m : m;
		}
		break;
	case P_SMALL:
		/* Magnitudes 0..3: most quads with u_q = 0 and MEL runs. */
		for (unsigned i = 0; i < n; i++) {
			int32_t m = (int32_t)(rng() % 7) - 3;
			c[i] = (rng() % 3) ? 0 : m;
		}
		break;
	case P_CLUSTER: {
		/* A dense blob in a zero block: long MEL runs next to large exponents. */
		unsigned x0 = rng() % w, y0 = rng() % h, r = 1 + rng() % 12;
		for (unsigned y = 0; y < h; y++)
			for (unsigned x = 0; x < w; x++)
				if ((x - x0) * (x - x0) + (y - y0) * (y - y0) <= r * r) {
					int32_t m = rand_mag(bits);
					c[y * w + x] = (rng() & 1) ? -m : m;
				}
		break;
	}
	case P_ROWS:
		/* Alternate nonzero rows and columns: significance patterns of every shape. */
		for (unsigned y = 0; y < h; y++)
			for (unsigned x = 0; x < w; x++)
				if (((y / (1 + (rng() & 1))) & 1) || (x % 3) == 0) {
					int32_t m = rand_mag(bits);
					c[y * w + x] = (rng() & 1) ? -m : m;
				}
		break;
	}
}

static unsigned
max_bits_of(const int32_t *c, unsigned n)
{
	uint32_t m = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t a = c[i] < 0 ? (uint32_t)0 - (uint32_t)c[i] : (uint32_t)c[i];
		m |= a;
	}
	return m ? 32u - (unsigned)__builtin_clz(m) : 0;
}

static int32_t out_ref[ROWS * STRIDE], out_new[ROWS * STRIDE];

/* Decodes seg (copied into a buffer of exactly len bytes) with the reference and with
 * every ISA level; statuses must agree, and coefficients when RP_OK, guards untouched.
 * Returns the reference's status. */
static int
compare_one(const uint8_t *seg, size_t len, unsigned w, unsigned h, unsigned mb,
	    const char *what)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, seg, len);
	for (unsigned i = 0; i < ROWS * STRIDE; i++)
		out_ref[i] = GUARD;
	int32_t *base_ref = out_ref + 2 * STRIDE + 3;
	int rc_ref = rp__ht_decode_block_ref(copy, len, w, h, base_ref, STRIDE, mb);
	for (unsigned k = 0; k < n_isa; k++) {
		for (unsigned i = 0; i < ROWS * STRIDE; i++)
			out_new[i] = GUARD;
		int32_t *base_new = out_new + 2 * STRIDE + 3;
		int rc = isa_k[k]->decode_block(copy, len, w, h, base_new, STRIDE, mb);
		if (rc != rc_ref)
			fail_msg("%s %ux%u mb %u len %zu: %s status %s, reference %s", what, w, h,
				 mb, len, isa_names[k], rp_status_name(rc),
				 rp_status_name(rc_ref));
		if (rc != RP_OK)
			continue;
		for (unsigned y = 0; y < ROWS; y++)
			for (unsigned x = 0; x < STRIDE; x++) {
				size_t i = (size_t)y * STRIDE + x;
				int inside = y >= 2 && y < 2 + h && x >= 3 && x < 3 + w;
				if (out_new[i] != out_ref[i])
					fail_msg("%s %ux%u mb %u: %s differs at (%d, %d): %d vs "
						 "reference %d", what, w, h, mb, isa_names[k],
						 (int)x - 3, (int)y - 2, out_new[i], out_ref[i]);
				if (!inside && out_new[i] != GUARD)
					fail_msg("%s %ux%u: %s wrote outside the block at (%d, %d)",
						 what, w, h, isa_names[k], (int)x - 3, (int)y - 2);
				if (inside && out_new[i] == GUARD)
					fail_msg("%s %ux%u: %s left (%d, %d) unwritten", what, w, h,
						 isa_names[k], (int)x - 3, (int)y - 2);
			}
	}
	free(copy);
	return rc_ref;
}

static uint8_t segbuf[RP__HT_MAX_CB_SAMPLES * 8 + 4096];
static struct rp__ht_enc_scratch scratch;

/* Encodes c (w x h) and checks the decoders against the reference and the input. */
static void
roundtrip(const int32_t *c, unsigned w, unsigned h, unsigned mb, const char *what)
{
	size_t len = 0;
	assert_true(rp__ht_block_bound(w, h) <= sizeof(segbuf));
	assert_int_equal(best_k->encode_block(c, w, w, h, &scratch, segbuf, sizeof(segbuf), &len),
			 RP_OK);
	if (len == 0) {
		assert_int_equal(max_bits_of(c, w * h), 0);
		return;
	}
	int rc = compare_one(segbuf, len, w, h, mb, what);
	if (rc != RP_OK)
		fail_msg("%s %ux%u mb %u: the reference refuses our encoder's segment (%s)", what,
			 w, h, mb, rp_status_name(rc));
	const int32_t *base = out_new + 2 * STRIDE + 3;
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			if (base[y * STRIDE + x] != c[y * w + x])
				fail_msg("%s %ux%u: (%u, %u) decodes to %d, encoded %d", what, w,
					 h, x, y, base[y * STRIDE + x], c[y * w + x]);
}

static void
test_all_sizes(void **state)
{
	(void)state;
	static int32_t c[4096];
	static const int pats[] = { P_DENSE, P_SPARSE, P_SMALL, P_SINGLE };
	rng_state = 0x1234567u;
	for (unsigned h = 1; h <= 64; h++)
		for (unsigned w = 1; w <= 64; w++) {
			int pat = pats[(w + h) % 4];
			unsigned bits = 1 + rng() % 16;
			make_block(c, w, h, pat, bits);
			roundtrip(c, w, h, max_bits_of(c, w * h), "sizes");
		}
}

static void
test_patterns(void **state)
{
	(void)state;
	static int32_t c[4096];
	static const unsigned dims[] = { 1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 63, 64 };
	const unsigned nd = sizeof(dims) / sizeof(dims[0]);
	rng_state = 0xBADC0DEu;
	for (int pat = 0; pat < P_COUNT; pat++)
		for (unsigned i = 0; i < nd; i++)
			for (unsigned j = 0; j < nd; j++) {
				unsigned w = dims[i], h = dims[j];
				static const unsigned bit_choice[] = { 1, 2, 5, 9, 13, 17, 24, 30 };
				for (unsigned b = 0; b < 8; b++) {
					unsigned bits = bit_choice[b];
					make_block(c, w, h, pat, bits);
					unsigned mb = max_bits_of(c, w * h);
					char what[48];
					snprintf(what, sizeof(what), "pattern %d bits %u", pat,
						 bits);
					roundtrip(c, w, h, mb, what);
					/* A looser bound decodes the same; a tighter one is refused
					 * the same way (or not) by both. */
					if (mb && mb < 30)
						roundtrip(c, w, h, mb + 1 + rng() % (30 - mb),
							  what);
				}
			}
}

static void
test_max_bits_too_small(void **state)
{
	(void)state;
	static int32_t c[4096];
	rng_state = 0x5EEDu;
	unsigned refused = 0;
	for (unsigned k = 0; k < 400; k++) {
		unsigned w = 1 + rng() % 64, h = 1 + rng() % 64, bits = 2 + rng() % 28;
		size_t len = 0;
		make_block(c, w, h, k % 2 ? P_DENSE : P_MAX, bits);
		unsigned mb = max_bits_of(c, w * h);
		assert_int_equal(best_k->encode_block(c, w, w, h, &scratch, segbuf, sizeof(segbuf),
						     &len), RP_OK);
		if (!len || mb < 2)
			continue;
		if (compare_one(segbuf, len, w, h, mb - 2, "max_bits too small") != RP_OK)
			refused++;
	}
	/* Most of these blocks have exponents above max_bits + 1: the check must fire. */
	assert_true(refused > 100);
}

static void
test_damaged(void **state)
{
	(void)state;
	static int32_t c[4096];
	static uint8_t bad[RP__HT_MAX_CB_SAMPLES * 8 + 4096];
	unsigned ok = 0, corrupt = 0;
	rng_state = 0xDEFACEDu;
	for (unsigned k = 0; k < 3000; k++) {
		unsigned w = 1 + rng() % 64, h = 1 + rng() % 64;
		size_t len = 0;
		make_block(c, w, h, (int)(rng() % P_COUNT), 1 + rng() % 20);
		unsigned mb = max_bits_of(c, w * h);
		assert_int_equal(best_k->encode_block(c, w, w, h, &scratch, segbuf, sizeof(segbuf),
						     &len), RP_OK);
		if (!len)
			continue;
		memcpy(bad, segbuf, len);
		size_t blen = len;
		switch (k % 5) {
		case 0:         /* truncated (the Scup bytes become whatever ends it) */
			blen = rng() % len;
			break;
		case 1:         /* a few bits flipped anywhere */
			for (unsigned f = 1 + rng() % 4; f > 0; f--)
				bad[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 2:         /* one byte set to a stuffing candidate */
			bad[rng() % len] = (rng() & 1) ? 0xFF : 0x7F;
			break;
		case 3:         /* bytes appended or removed before the Scup bytes */
			if (len > 2 && (rng() & 1)) {
				size_t cut = rng() % (len - 1);
				memmove(bad + cut, bad + cut + 1, len - cut - 1);
				blen = len - 1;
			} else {
				memmove(bad + len - 1, bad + len - 3, 3);
				bad[len - 3] = (uint8_t)rng();
				blen = len + 1;
			}
			break;
		case 4:         /* random bytes */
			for (size_t i = 0; i < len; i++)
				bad[i] = (uint8_t)rng();
			break;
		}
		if (compare_one(bad, blen, w, h, mb ? mb + rng() % 3 : 1 + rng() % 30, "damaged") ==
		    RP_OK)
			ok++;
		else
			corrupt++;
	}
	/* Both outcomes must have been exercised. */
	assert_true(ok > 100);
	assert_true(corrupt > 100);
}

static void
test_hostile_scup(void **state)
{
	(void)state;
	static uint8_t seg[8192];
	rng_state = 0xC0FFEEu;
	/* Scup values at and around the limits, segment lengths 0..; MagSgn of all ones and
	 * all 0xFF (maximal stuffing), VLC of every byte. */
	for (unsigned k = 0; k < 4000; k++) {
		size_t len = rng() % (k < 2000 ? 40 : 6000);
		unsigned fill = (unsigned)(k % 4 == 0 ? 0xFF : k % 4 == 1 ? 0x00 : rng());
		for (size_t i = 0; i < len; i++)
			seg[i] = (uint8_t)(k % 4 < 2 ? fill : rng());
		if (len >= 2) {
			size_t scup = k % 3 == 0 ? rng() % 4096 : 2 + rng() % (len - 1);
			seg[len - 1] = (uint8_t)(scup >> 4);
			seg[len - 2] = (uint8_t)((seg[len - 2] & 0xF0) | (scup & 0xF));
		}
		unsigned w = 1 + rng() % 64, h = 1 + rng() % 64;
		compare_one(seg, len, w, h, rng() % 31, "hostile");
	}
	/* Parameters outside the profile. */
	seg[0] = 0x12;
	seg[1] = 0x20;
	assert_int_equal(compare_one(seg, 2, 0, 4, 8, "w 0"), RP_E_UNSUPPORTED);
	assert_int_equal(compare_one(seg, 2, 65, 4, 8, "w 65"), RP_E_UNSUPPORTED);
	assert_int_equal(compare_one(seg, 2, 4, 4, 31, "max_bits 31"), RP_E_UNSUPPORTED);
	assert_int_equal(compare_one(seg, 1, 4, 4, 8, "len 1"), RP_E_CORRUPT);
}

int
main(void)
{
	find_isas();
	fprintf(stderr, "ISA levels compared with the reference:");
	for (unsigned k = 0; k < n_isa; k++)
		fprintf(stderr, " %s", isa_names[k]);
	fprintf(stderr, "\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_sizes),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_max_bits_too_small),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_hostile_scup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
