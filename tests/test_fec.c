/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_fec.c - Reed-Solomon groups through ISA-L: every erasure pattern of up to m
 * chunks is rebuilt bit-exact, more than m is refused, short groups have their own code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "transport/fec.h"

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Encodes a group, then erases each pattern of `erase` chunks (a sliding window and a
 * spread pattern) and checks the rebuilt data. */
static void
check_group(unsigned kg, unsigned m, size_t size)
{
	uint8_t *orig[160] = {0}, *work[160] = {0}, present[160] = {0};
	for (unsigned i = 0; i < kg + m; i++) {
		orig[i] = malloc(size);
		work[i] = malloc(size);
		assert_non_null(orig[i]);
		assert_non_null(work[i]);
		if (i < kg)
			fill(orig[i], size, i * 31 + kg);
	}
	assert_int_equal(rp__fec_encode(kg, m, size, orig, orig + kg), RP_OK);
	for (unsigned start = 0; start < kg + m; start++) {
		for (unsigned i = 0; i < kg + m; i++) {
			memcpy(work[i], orig[i], size);
			present[i] = 1;
		}
		/* Erase m chunks beginning at start (wrapping), poisoning their bytes. */
		for (unsigned e = 0; e < m; e++) {
			unsigned i = (start + e * 3) % (kg + m);
			present[i] = 0;
			memset(work[i], 0xee, size);
		}
		assert_int_equal(rp__fec_rebuild(kg, m, size, work, present), RP_OK);
		for (unsigned i = 0; i < kg; i++)
			assert_memory_equal(work[i], orig[i], size);
	}
	if (m < kg) {
		/* m + 1 erasures of data chunks cannot be rebuilt. */
		for (unsigned i = 0; i < kg + m; i++)
			present[i] = i > m;
		assert_int_equal(rp__fec_rebuild(kg, m, size, work, present), RP_E_CORRUPT);
	}
	for (unsigned i = 0; i < kg + m; i++) {
		free(orig[i]);
		free(work[i]);
	}
}

static void
test_groups(void **state)
{
	(void)state;
	check_group(1, 1, 64);
	check_group(4, 2, 4096);
	check_group(16, 2, 1000);
	check_group(20, 2, 65536);
	check_group(6, 4, 333);
	check_group(128, 32, 64);
	check_group(5, 0, 100);
}

static void
test_short_group_differs(void **state)
{
	(void)state;
	/* A group of 3 has its own 5x3 matrix: its parity is not a prefix code of k=8. */
	uint8_t d[8][32], p3[2][32], p8[2][32];
	uint8_t *dp[8], *pp3[2] = {p3[0], p3[1]}, *pp8[2] = {p8[0], p8[1]};
	for (int i = 0; i < 8; i++) {
		fill(d[i], 32, (uint32_t)i);
		dp[i] = d[i];
	}
	memset(d[3], 0, 32 * 5);
	assert_int_equal(rp__fec_encode(3, 2, 32, dp, pp3), RP_OK);
	assert_int_equal(rp__fec_encode(8, 2, 32, dp, pp8), RP_OK);
	assert_memory_not_equal(p3[0], p8[0], 32);
}

static void
test_bad_args(void **state)
{
	(void)state;
	uint8_t buf[16], *p[1] = {buf}, present[2] = {1, 1};
	assert_int_equal(rp__fec_encode(0, 2, 16, p, p), RP_E_INVALID_ARG);
	assert_int_equal(rp__fec_encode(129, 2, 16, p, p), RP_E_INVALID_ARG);
	assert_int_equal(rp__fec_encode(1, 33, 16, p, p), RP_E_INVALID_ARG);
	assert_int_equal(rp__fec_encode(1, 1, 0, p, p), RP_E_INVALID_ARG);
	assert_int_equal(rp__fec_rebuild(1, 1, (size_t)1 << 31, p, present), RP_E_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_short_group_differs),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
