/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_htj2k_block_enc.c - the fast HT block encoder (codec/htj2k/ht_block_enc*.c)
 * against the reference encoder (ht_block_enc_ref.c), byte for byte, at every ISA level
 * the CPU runs (scalar, AVX2, AVX-512: every kernel table of the codec the CPU can run,
 * and the one rp__isa_select() picks): every block size 1..64 x
 * 1..64 with several contents (all zero, one nonzero sample, sparse, dense, signed,
 * the largest magnitudes, patterns that force bit stuffing in MagSgn and VLC), random
 * blocks inside a larger plane (nothing outside w x h may be read), and too small an
 * output buffer. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/htj2k/ht_internal.h"
#include "simd/cpu.h"

/* Each table built up to the detected level, then the selected best one. */
static const struct rp__htj2k_kernels *isa_k[4];
static size_t n_isa;

static void
find_isas(void)
{
	n_isa = 0;
	for (size_t t = 0; rp__htj2k_kernels_at(t) != NULL; t++)
		if (rp__htj2k_kernels_at(t)->isa <= rp__isa_detected())
			isa_k[n_isa++] = rp__htj2k_kernels_at(t);
	isa_k[n_isa++] = rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST));
}

struct ctx {
	struct rp__ht_enc_scratch *sc;
	uint8_t *ref, *out;
	size_t cap;
	unsigned compared, nonzero;
};

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	/* xorshift64*: deterministic, seeded per case. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* A magnitude of `bits` bits at most (1..31), signed at random. */
static int32_t
rnd_val(unsigned bits)
{
	uint32_t mu = rnd() & ((bits >= 31 ? 0x7FFFFFFFu : (1u << bits) - 1));
	return (rnd() & 1) ? -(int32_t)mu : (int32_t)mu;
}

enum { K_ZERO, K_ONE, K_SPARSE, K_DENSE, K_WIDE, K_MAX, K_STUFF, K_SMOOTH, K_EDGE, K_BEYOND,
       K_COUNT };

static void
fill(int32_t *c, size_t stride, unsigned w, unsigned h, int kind)
{
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			int32_t v = 0;
			switch (kind) {
			case K_ZERO:
				break;
			case K_SPARSE:
				if (rnd() % 23 == 0)
					v = rnd_val(1 + rnd() % 6);
				break;
			case K_DENSE:
				/* Laplacian-like: mostly small, a few large. */
				v = rnd_val(rnd() % 3 == 0 ? 1 + rnd() % 12 : 1 + rnd() % 4);
				break;
			case K_WIDE:
				v = rnd_val(1 + rnd() % 30);
				break;
			case K_MAX:
				/* |c| = 2^30 - 1 and neighbours, the largest the contract allows. */
				v = (int32_t)((1u << 30) - 1 - (rnd() % 4));
				if (rnd() & 1)
					v = -v;
				if (rnd() % 5 == 0)
					v = 0;
				break;
			case K_STUFF:
				/* -(2^k): MagSgn value 2 (mu - 1) + 1 is all ones, so 0xFF bytes
				 * (and stuffing) everywhere; runs of equal quads make VLC ones. */
				v = -(int32_t)(1u << (4 + rnd() % 8));
				if (rnd() % 7 == 0)
					v = (int32_t)(rnd() % 3);
				break;
			case K_SMOOTH:
				v = (int32_t)((x * 37 + y * 11) % 200) - 100;
				break;
			case K_EDGE: {
				/* 2^k - 1, 2^k, 2^k + 1: where a bit length computed through a
				 * rounding float conversion goes wrong. */
				unsigned k = rnd() % 31;
				v = (int32_t)((1u << k) - 1 + rnd() % 3);
				if (rnd() & 1)
					v = -v;
				break;
			}
			case K_BEYOND:
				/* Past the contract (|c| up to 2^31): still the same bytes. */
				switch (rnd() % 4) {
				case 0: v = INT32_MIN; break;
				case 1: v = INT32_MAX; break;
				case 2: v = -INT32_MAX; break;
				default: v = rnd_val(31); break;
				}
				break;
			}
			c[(size_t)y * stride + x] = v;
		}
	}
	if (kind == K_ONE) {
		unsigned x = rnd() % w, y = rnd() % h;
		int32_t v = rnd_val(1 + rnd() % 30);
		c[(size_t)y * stride + x] = v ? v : -1;
	}
}

/* Reference and every ISA: same status, same length, same bytes. */
static void
compare(struct ctx *cx, const int32_t *c, size_t stride, unsigned w, unsigned h,
	size_t cap, const char *what)
{
	size_t ref_len = 12345;
	int ref_rc = rp__ht_encode_block_ref(c, stride, w, h, cx->sc, cx->ref, cap, &ref_len);
	for (size_t i = 0; i < n_isa; i++) {
		size_t len = 54321;
		memset(cx->out, 0xA5, cx->cap);
		int rc = isa_k[i]->encode_block(c, stride, w, h, cx->sc, cx->out, cap, &len);
		const char *isa = i + 1 < n_isa ? isa_k[i]->name : "selected";
		if (rc != ref_rc || (rc == RP_OK && len != ref_len))
			fail_msg("%s %ux%u (%s): rc %d len %zu, reference rc %d len %zu", what, w,
				 h, isa, rc, len, ref_rc, ref_len);
		if (rc == RP_OK && memcmp(cx->out, cx->ref, len) != 0) {
			size_t k = 0;
			while (cx->out[k] == cx->ref[k])
				k++;
			fail_msg("%s %ux%u (%s): byte %zu of %zu is %02x, reference %02x", what, w,
				 h, isa, k, len, cx->out[k], cx->ref[k]);
		}
		cx->compared++;
	}
	if (ref_rc == RP_OK && ref_len > 0)
		cx->nonzero++;
}

static struct ctx
ctx_make(void)
{
	struct ctx cx = { 0 };
	cx.sc = malloc(sizeof(*cx.sc));
	cx.cap = rp__ht_block_bound(64, 64);
	cx.ref = malloc(cx.cap);
	cx.out = malloc(cx.cap);
	assert_non_null(cx.sc);
	assert_non_null(cx.ref);
	assert_non_null(cx.out);
	/* Scratch left dirty on purpose: no encoder may depend on its contents. */
	memset(cx.sc, 0x5A, sizeof(*cx.sc));
	return cx;
}

static void
ctx_free(struct ctx *cx)
{
	free(cx->sc);
	free(cx->ref);
	free(cx->out);
}

static const char *const kind_names[K_COUNT] = {
	"zero", "one", "sparse", "dense", "wide", "max", "stuff", "smooth", "edge", "beyond",
};

static void
test_every_size(void **state)
{
	(void)state;
	struct ctx cx = ctx_make();
	int32_t *c = malloc(64 * 64 * sizeof(*c));
	assert_non_null(c);
	for (unsigned h = 1; h <= 64; h++) {
		for (unsigned w = 1; w <= 64; w++) {
			for (int k = 0; k < K_COUNT; k++) {
				/* The costly contents on a subset of sizes, the rest on all. */
				if ((k == K_WIDE || k == K_MAX || k == K_BEYOND || k == K_SMOOTH ||
				     k == K_EDGE) &&
				    (w * 7 + h * 3) % 5 != 0 && w != 64 && h != 64)
					continue;
				rng_state = 0x9E3779B97F4A7C15ull ^ (w * 131u + h * 7919u + (unsigned)k);
				fill(c, w, w, h, k);
				compare(&cx, c, w, w, h, cx.cap, kind_names[k]);
			}
		}
	}
	/* Every size had content; most blocks coded something. */
	assert_true(cx.nonzero > 64 * 64 * 4);
	free(c);
	ctx_free(&cx);
}

static void
test_random_in_plane(void **state)
{
	(void)state;
	struct ctx cx = ctx_make();
	const size_t stride = 80, rows = 70;
	int32_t *plane = malloc(stride * rows * sizeof(*plane));
	assert_non_null(plane);
	rng_state = 0x0123456789ABCDEFull;
	for (unsigned iter = 0; iter < 3000; iter++) {
		/* Junk around the block: a read outside w x h changes the bytes. */
		for (size_t i = 0; i < stride * rows; i++)
			plane[i] = (int32_t)rnd();
		unsigned w = 1 + rnd() % 64, h = 1 + rnd() % 64;
		unsigned x0 = rnd() % (unsigned)(stride - w + 1), y0 = rnd() % (unsigned)(rows - h + 1);
		int32_t *c = plane + y0 * stride + x0;
		/* Mixed content: each row pair its own kind, so contexts change inside. */
		for (unsigned y = 0; y < h; y += 2) {
			int k = (int)(rnd() % K_BEYOND);
			fill(c + y * stride, stride, w, y + 1 < h ? 2 : 1, k);
		}
		compare(&cx, c, stride, w, h, cx.cap, "random");
	}
	assert_true(cx.nonzero > 2500);
	free(plane);
	ctx_free(&cx);
}

static void
test_small_output(void **state)
{
	(void)state;
	struct ctx cx = ctx_make();
	int32_t *c = malloc(64 * 64 * sizeof(*c));
	assert_non_null(c);
	rng_state = 42;
	fill(c, 64, 64, 64, K_DENSE);
	size_t len = 0;
	assert_int_equal(rp__ht_encode_block_ref(c, 64, 64, 64, cx.sc, cx.ref, cx.cap, &len),
			 RP_OK);
	assert_true(len > 100);
	/* One byte short of the segment, and exactly its size. */
	compare(&cx, c, 64, 64, 64, len - 1, "short");
	compare(&cx, c, 64, 64, 64, len, "exact");
	free(c);
	ctx_free(&cx);
}

int
main(void)
{
	find_isas();
	fprintf(stderr, "ISA levels compared with the reference:");
	for (size_t i = 0; i + 1 < n_isa; i++)
		fprintf(stderr, " %s", isa_k[i]->name);
	fprintf(stderr, " (selected: %s)\n", isa_k[n_isa - 1]->name);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_size),
		cmocka_unit_test(test_random_in_plane),
		cmocka_unit_test(test_small_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
