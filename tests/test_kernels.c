/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_kernels.c - every runnable kernel table against the scalar reference, at
 * sizes around the vector width (0, 1, w-1, w, w+1, 4097 samples and a few more) and at
 * misaligned source and destination pointers.  CTest reruns this binary with
 * RP_DISABLE_CPU_FEATURES=avx512 and =avx2 so each dispatch path is also the selected one
 * (tests/simd.cmake). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/codec_impl.h"
#include "simd/cpu.h"
#include "simd/kernels.h"

#define MAXN 5000
#define SLACK 64

/* Deterministic xorshift so a failure reproduces. */
static uint64_t rng_state;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* Sample patterns that matter to the scans: random, constant, extremes at the start or
 * at the very end (the tail handler), and values near a BitsStored boundary. */
enum { PAT_RANDOM, PAT_CONST, PAT_EXTREME_LAST, PAT_EXTREME_FIRST, PAT_12BIT, PAT_COUNT };

static void
fill(uint8_t *p, size_t bytes, int pattern)
{
	for (size_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)rng();
	size_t n = bytes / 2;
	switch (pattern) {
	case PAT_CONST:
		for (size_t i = 0; i < n; i++) {
			p[2 * i] = 0x34;
			p[2 * i + 1] = 0x12;
		}
		break;
	case PAT_EXTREME_LAST:
		for (size_t i = 0; i < n; i++)
			p[2 * i + 1] &= 0x3f;
		if (n > 0) {
			p[2 * (n - 1)] = 0xff;
			p[2 * (n - 1) + 1] = 0xff;
		}
		if (n > 1) {
			p[2 * (n - 2)] = 0x00;
			p[2 * (n - 2) + 1] = 0x80;
		}
		break;
	case PAT_EXTREME_FIRST:
		for (size_t i = 0; i < n; i++)
			p[2 * i + 1] = (uint8_t)(0x10 + (p[2 * i + 1] & 0x1f));
		if (n > 0) {
			p[0] = 0xff;
			p[1] = 0x7f;
		}
		break;
	case PAT_12BIT:
		for (size_t i = 0; i < n; i++)
			p[2 * i + 1] &= 0x0f;
		break;
	default:
		break;
	}
}

static const size_t *
sizes_for(const struct rp__kernels *k, size_t *count)
{
	static size_t s[16];
	const size_t w = k->vec_bytes ? k->vec_bytes / 2 : 16; /* samples per vector */
	size_t n = 0;
	const size_t base[] = { 0, 1, w - 1, w, w + 1, 2 * w - 1, 2 * w, 2 * w + 1,
				4 * w + 3, 4097 };
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		s[n++] = base[i];
	*count = n;
	return s;
}

static int
runnable(const struct rp__kernels *k)
{
	return k->isa <= rp__isa_detected();
}

/* One case: a vector table, a size in samples/pixels, a misalignment, a pattern. */
struct kcase {
	const struct rp__kernels *k;
	size_t n;
	size_t mis;
	int pat;
};

/* Calls fn for each runnable non-scalar table x size x misalignment x pattern. */
static void
walk(void (*fn)(const struct kcase *c))
{
	int ran = 0;

	for (size_t t = 1; rp__kernels_at(t) != NULL; t++) {
		const struct rp__kernels *k = rp__kernels_at(t);
		if (!runnable(k))
			continue;
		ran++;
		size_t nsizes;
		const size_t *sizes = sizes_for(k, &nsizes);
		for (size_t si = 0; si < nsizes; si++)
			for (size_t mis = 0; mis < 4; mis++)
				for (int pat = 0; pat < PAT_COUNT; pat++) {
					struct kcase c = { k, sizes[si], mis, pat };
					rng_state = 0x9e3779b97f4a7c15ull ^
						    (c.n * 131 + mis * 7 + (size_t)pat);
					fn(&c);
				}
	}
	print_message("  %d vector table(s) checked\n", ran);
}

static uint8_t bufs[4][2 * 3 * MAXN + SLACK];

static void
case_bswap16(const struct kcase *c)
{
	const struct rp__kernels *k = c->k;
	const size_t n = c->n, mis = c->mis;
	const int pat = c->pat;
	uint8_t *src = bufs[0] + mis, *a = bufs[1] + (3 - mis), *b = bufs[2] + 1;
	fill(src, 2 * n, pat);
	memset(bufs[1], 0xa5, sizeof(bufs[1]));
	memset(bufs[2], 0xa5, sizeof(bufs[2]));
	rp__bswap16_scalar(b, src, n);
	k->bswap16(a, src, n);
	assert_memory_equal(a, b, 2 * n);
	/* Nothing written past the end. */
	assert_int_equal(a[2 * n], 0xa5);
	/* In place. */
	memcpy(a, src, 2 * n);
	k->bswap16(a, a, n);
	assert_memory_equal(a, b, 2 * n);
}

static void
test_bswap16(void **state)
{
	(void)state;
	walk(case_bswap16);
}

/* Clean frames (zero- and sign-extended samples mixed) must pass, and one dirty sample
 * anywhere (first, middle, last: the tail handler) must fail, on every table. */
static void
case_bits_clean(const struct kcase *c)
{
	const struct rp__kernels *k = c->k;
	const size_t n = c->n;
	uint8_t *src = bufs[0] + c->mis;
	static const unsigned widths[] = { 1, 2, 8, 11, 12, 15, 16 };

	if (c->pat != 0)
		return; /* one pass per size and alignment is enough: data is built here */
	for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++) {
		const unsigned bits = widths[wi];
		for (int sgn = 0; sgn < 2; sgn++) {
			for (size_t i = 0; i < n; i++) {
				uint32_t v = rng() & ((1u << bits) - 1);
				/* Signed: every other negative value is stored sign-extended. */
				if (sgn && bits < 16 && (v >> (bits - 1)) && (i & 1))
					v |= 0xffffu << bits;
				src[2 * i] = (uint8_t)v;
				src[2 * i + 1] = (uint8_t)(v >> 8);
			}
			assert_int_equal(rp__bits_clean16_scalar(src, n, bits, sgn), 1);
			assert_int_equal(k->bits_clean16(src, n, bits, sgn), 1);
			if (bits == 16 || n == 0)
				continue;
			const size_t at[3] = { 0, n / 2, n - 1 };
			for (int a = 0; a < 3; a++) {
				uint8_t save[2] = { src[2 * at[a]], src[2 * at[a] + 1] };
				/* Bit `bits` set with the sign bit clear: neither extension. */
				uint32_t v = (1u << bits) | 1u;
				src[2 * at[a]] = (uint8_t)v;
				src[2 * at[a] + 1] = (uint8_t)(v >> 8);
				assert_int_equal(rp__bits_clean16_scalar(src, n, bits, sgn), 0);
				assert_int_equal(k->bits_clean16(src, n, bits, sgn), 0);
				src[2 * at[a]] = save[0];
				src[2 * at[a] + 1] = save[1];
			}
		}
	}
}

static void
test_bits_clean(void **state)
{
	(void)state;
	walk(case_bits_clean);
}

static void
case_mask_sext(const struct kcase *c)
{
	const struct rp__kernels *k = c->k;
	const size_t n = c->n, mis = c->mis;
	const int pat = c->pat;
	uint8_t *src = bufs[0] + mis, *a = bufs[1] + ((mis + 1) & 3), *b = bufs[2];
	fill(src, 2 * n, pat);
	for (unsigned bits = 1; bits <= 16; bits += (bits < 8 ? 7 : 1)) {
		rp__mask16_scalar(b, src, n, bits);
		k->mask16(a, src, n, bits);
		assert_memory_equal(a, b, 2 * n);
		rp__sext16_scalar(b, src, n, bits);
		k->sext16(a, src, n, bits);
		assert_memory_equal(a, b, 2 * n);
		memcpy(a, src, 2 * n);
		k->sext16(a, a, n, bits);
		assert_memory_equal(a, b, 2 * n);
	}
}

static void
test_mask_sext(void **state)
{
	(void)state;
	walk(case_mask_sext);
}

static void
case_interleave3(const struct kcase *c)
{
	const struct rp__kernels *k = c->k;
	const size_t n = c->n, mis = c->mis;
	const int pat = c->pat;
	uint8_t *src = bufs[0] + mis, *a = bufs[1] + (3 - mis), *b = bufs[2] + 2;
	uint8_t *back = bufs[3] + 1;
	fill(src, 3 * n, pat);
	memset(bufs[1], 0x5a, sizeof(bufs[1]));
	rp__interleave3_u8_scalar(b, src, n);
	k->interleave3_u8(a, src, n);
	assert_memory_equal(a, b, 3 * n);
	assert_int_equal(a[3 * n], 0x5a);
	rp__deinterleave3_u8_scalar(b, a, n);
	k->deinterleave3_u8(back, a, n);
	assert_memory_equal(back, b, 3 * n);
	/* And the pair is a round trip. */
	assert_memory_equal(back, src, 3 * n);
}

static void
test_interleave3(void **state)
{
	(void)state;
	walk(case_interleave3);
}

/* The scalar references themselves, on hand-checked values, so "vector == scalar" does not
 * compare two copies of one bug. */
static void
test_scalar_reference(void **state)
{
	(void)state;
	const uint8_t be[6] = { 0x12, 0x34, 0xff, 0x00, 0x80, 0x01 };
	uint16_t le[3];
	rp__bswap16_scalar(le, be, 3);
	assert_int_equal(le[0], 0x1234);
	assert_int_equal(le[1], 0xff00);
	assert_int_equal(le[2], 0x8001);

	const uint16_t v[5] = { 0x0800, 0x07ff, 0xf800, 0x0000, 0xffff };

	uint16_t m[5];
	rp__mask16_scalar(m, v, 5, 12);
	assert_int_equal(m[0], 0x800);
	assert_int_equal(m[2], 0x800);
	assert_int_equal(m[4], 0xfff);
	rp__sext16_scalar(m, m, 5, 12);
	assert_int_equal((int16_t)m[0], -2048);
	assert_int_equal((int16_t)m[1], 2047);
	assert_int_equal((int16_t)m[4], -1);

	const uint8_t planar[6] = { 1, 2, 10, 20, 100, 200 };
	uint8_t il[6];
	rp__interleave3_u8_scalar(il, planar, 2);
	const uint8_t want[6] = { 1, 10, 100, 2, 20, 200 };
	assert_memory_equal(il, want, 6);
}

/* codec/frame.c's definition of a clean sample, restated here sample by sample (frame.c
 * itself now calls the kernels for 16-bit samples, so it cannot be the reference): the
 * bits above bits_stored are zero, or the value is the sign extension of its low bits. */
static int
ref_clean16(const uint16_t *v, size_t n, unsigned bits, int is_signed)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t x = v[i], mask = (1u << bits) - 1, low = x & mask;
		if (is_signed && (low >> (bits - 1)))
			low = (low | ~mask) & 0xffffu;
		if ((x >> bits) != 0 && low != x)
			return 0;
	}
	return 1;
}

/* The BitsStored check on every runnable table, on hand-made values, and against that
 * definition and rp__frame_high_bits_clean() on random frames. */
static void
test_high_bits_clean(void **state)
{
	(void)state;
	for (size_t t = 0; rp__kernels_at(t) != NULL; t++) {
		const struct rp__kernels *k = rp__kernels_at(t);
		if (!runnable(k))
			continue;
		uint16_t v[100];
		for (int i = 0; i < 100; i++)
			v[i] = (uint16_t)(i * 40); /* max 3960 < 4096 */
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 0), 1);
		v[99] = 0x1000;            /* bit 12 set: an overlay bit */
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 0), 0);
		/* Signed 12-bit: -2048..2047 sign-extended is clean, and so is the bare 12-bit
		 * pattern (0x0800 for -2048, stored without extension, as many files do). */
		for (int i = 0; i < 100; i++)
			v[i] = (uint16_t)(int16_t)(i * 41 - 2048);
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 1), 1);
		v[50] = 0x0800;
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 1), 1);
		v[50] = 0xf000;            /* bits 12..15 set but bit 11 clear */
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 1), 0);
		v[50] = 0x1800;            /* bit 12 set, not a sign extension */
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 12, 1), 0);
		assert_int_equal(rp__kernels_high_bits_clean16(k, v, 100, 16, 1), 1);

		/* Against the scalar definition codec/frame.c uses. */
		static uint16_t f[4099];
		for (int round = 0; round < 200; round++) {
			rng_state = 0x1234567ull + (uint64_t)round;
			const unsigned bits = 1 + rng() % 15;
			const int sgn = (int)(rng() & 1);
			const int dirty_at = rng() % 8 == 0 ? (int)(rng() % 4099) : -1;
			for (int i = 0; i < 4099; i++) {
				uint32_t x = rng() & ((1u << bits) - 1);
				if (sgn && (x >> (bits - 1)) && (rng() & 1))
					x |= 0xffffu << bits;
				f[i] = (uint16_t)x;
			}
			if (dirty_at >= 0)
				f[dirty_at] ^= (uint16_t)(1u << (bits + rng() % (16 - bits)));
			struct rp_image_desc img = { .width = 4099, .height = 1, .components = 1,
						     .bits_allocated = 16,
						     .bits_stored = (uint16_t)bits,
						     .is_signed = (uint8_t)sgn };
			int want = ref_clean16(f, 4099, bits, sgn);
			int got = rp__kernels_high_bits_clean16(k, f, 4099, bits, sgn);
			int framec = rp__frame_high_bits_clean(&img, (const uint8_t *)f, sizeof(f));
			if (want != got || want != framec)
				fail_msg("%s: bits %u signed %d dirty_at %d: definition says %d, "
					 "kernel %d, frame.c %d", k->name, bits, sgn, dirty_at, want,
					 got, framec);
		}
	}
}

/* Selection: the ceiling restricts, the chosen table is runnable and exactly the level
 * asked for when the CPU and build have it, and the forced runs of tests/simd.cmake
 * really select what they ask for. */
static void
test_select(void **state)
{
	(void)state;
	const enum rp_isa have = rp__isa_detected();
	const enum rp_isa top = have < rp__isa_built() ? have : rp__isa_built();
	const struct rp__kernels *best = rp__kernels_for(rp__isa_select(RP_ISA_BEST));
	assert_non_null(best);
	assert_int_equal(best->isa, top);
	assert_ptr_equal(rp__kernels_best(), best);
	assert_int_equal(rp__isa_select(RP_ISA_BEST), top);
	assert_int_equal(rp_isa_effective(RP_ISA_BEST), top);
	assert_int_equal(rp__isa_select(RP_ISA_SCALAR), RP_ISA_SCALAR);
	assert_string_equal(rp__kernels_for(rp__isa_select(RP_ISA_SCALAR))->name, "scalar");
	const enum rp_isa levels[] = { RP_ISA_SCALAR, RP_ISA_AVX2, RP_ISA_AVX512 };
	for (size_t i = 0; i < 3; i++) {
		enum rp_isa got = rp__isa_select(levels[i]);
		assert_int_equal(got, levels[i] < top ? levels[i] : top);
		const struct rp__kernels *k = rp__kernels_for(got);
		assert_int_equal(k->isa, got);
		assert_true(runnable(k));
	}
	/* A value outside the enum never selects vector code. */
	assert_int_equal(rp__isa_select((enum rp_isa)7), RP_ISA_SCALAR);
	assert_false(rp__isa_valid((enum rp_isa)7));

	const char *env = getenv("RP_DISABLE_CPU_FEATURES");
	print_message("  RP_DISABLE_CPU_FEATURES=%s -> detected %s, built %s, table %s\n",
		      env ? env : "(unset)", rp_isa_name(have), rp_isa_name(rp__isa_built()),
		      best->name);
	if (env != NULL && strstr(env, "avx2") != NULL)
		assert_string_equal(best->name, "scalar");
	else if (env != NULL && strstr(env, "avx512") != NULL)
		assert_true(strcmp(best->name, "avx512") != 0);
}

/* The public face of the ceiling: names, defaults, and refusal of values outside it. */
static void
test_isa_options(void **state)
{
	(void)state;
	const enum rp_isa all[] = { RP_ISA_SCALAR, RP_ISA_AVX2, RP_ISA_AVX512, RP_ISA_BEST };
	for (size_t i = 0; i < 4; i++) {
		enum rp_isa back = (enum rp_isa)99;
		assert_non_null(rp_isa_name(all[i]));
		assert_int_equal(rp_isa_from_name(rp_isa_name(all[i]), &back), RP_OK);
		assert_int_equal(back, all[i]);
	}
	enum rp_isa x;
	assert_int_equal(rp_isa_from_name("sse2", &x), RP_E_INVALID_ARG);
	assert_null(rp_isa_name((enum rp_isa)7));

	/* The default is no ceiling; a zeroed struct would be RP_ISA_SCALAR, which is why
	 * callers go through the init functions. */
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	assert_int_equal(eo.max_isa, RP_ISA_BEST);
	struct rp_decoder_options dopt;
	rp_decoder_options_init(&dopt);
	assert_int_equal(dopt.max_isa, RP_ISA_BEST);

	eo.codec = RP_CODEC_RLE;
	dopt.codec = RP_CODEC_RLE;
	struct rp_encoder *enc = NULL;
	struct rp_decoder *dec = NULL;
	eo.max_isa = (enum rp_isa)7;
	assert_int_equal(rp_encoder_create(&eo, &enc), RP_E_INVALID_ARG);
	dopt.max_isa = (enum rp_isa)3;
	assert_int_equal(rp_decoder_create(&dopt, &dec), RP_E_INVALID_ARG);
	for (size_t i = 0; i < 4; i++) {
		eo.max_isa = all[i];
		dopt.max_isa = all[i];
		assert_int_equal(rp_encoder_create(&eo, &enc), RP_OK);
		assert_int_equal(rp_decoder_create(&dopt, &dec), RP_OK);
		rp_encoder_destroy(enc);
		rp_decoder_destroy(dec);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_reference),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_isa_options),
		cmocka_unit_test(test_bswap16),
		cmocka_unit_test(test_bits_clean),
		cmocka_unit_test(test_mask_sext),
		cmocka_unit_test(test_interleave3),
		cmocka_unit_test(test_high_bits_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
