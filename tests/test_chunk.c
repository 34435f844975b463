/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_chunk.c - the chunker and the stream geometry (FORMAT.md section 1): every
 * byte of a stream fed in pieces of any size lands in exactly one chunk, at the place the
 * format gives; chunks and groups close at their boundaries; the last group and chunk
 * may be short; a group is spread over the streams the same way every time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "transport/chunk.h"

#include <stdlib.h>
#include <string.h>

static uint32_t
next_rand(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* Feeds stream_len bytes in pieces (fixed size, or random when piece is 0) and checks
 * each step against the format, each byte counted once, and the closing events. */
static void
check_stream(uint32_t cs, unsigned k, uint64_t stream_len, size_t piece, uint32_t seed)
{
	const struct rp__chunk_geom gm = {.cs = cs, .k = k, .m = 2};
	struct rp__chunker c;
	rp__chunker_init(&c, &gm);
	/* Bytes placed in each data chunk so far: a byte placed twice, or a gap, shows. */
	uint64_t data_chunks = rp__chunk_data_count(&gm, stream_len);
	uint32_t *filled = calloc((size_t)data_chunks + 1, sizeof(*filled));
	assert_non_null(filled);
	uint64_t pos = 0, chunks_closed = 0, groups_closed = 0;
	while (pos < stream_len) {
		size_t n = piece ? piece : 1 + next_rand(&seed) % (3 * cs);
		if (n > stream_len - pos)
			n = (size_t)(stream_len - pos);
		while (n) {
			struct rp__chunk_step at = rp__chunker_step(&c, n);
			assert_true(at.take > 0 && at.take <= n);
			assert_true(at.index < k);
			assert_true((uint64_t)at.offset + at.take <= cs);
			/* Byte pos is in data chunk pos / cs, at pos % cs within it. */
			uint64_t d = at.group * k + at.index;
			assert_int_equal(d, pos / cs);
			assert_int_equal(at.offset, pos % cs);
			assert_int_equal(filled[d], at.offset);
			filled[d] += at.take;
			pos += at.take;
			n -= at.take;
			assert_int_equal(at.chunk_full, pos % cs == 0);
			assert_int_equal(at.group_full, pos % ((uint64_t)cs * k) == 0);
			chunks_closed += at.chunk_full;
			groups_closed += at.group_full;
		}
	}
	for (uint64_t d = 0; d < data_chunks; d++)
		assert_int_equal(filled[d], rp__chunk_data_size(&gm, stream_len, d));
	free(filled);

	uint64_t groups = rp__chunk_group_count(&gm, data_chunks);
	struct rp__chunk_tail t;
	bool open_tail = rp__chunker_finish(&c, &t);
	assert_int_equal(open_tail, stream_len % ((uint64_t)cs * k) != 0);
	if (open_tail) {
		assert_int_equal(t.group, groups - 1);
		assert_int_equal(t.kg, rp__chunk_group_size(&gm, data_chunks, t.group));
		assert_int_equal(t.short_chunk, stream_len % cs != 0);
		assert_int_equal(t.last_size, rp__chunk_data_size(&gm, stream_len, data_chunks - 1));
		assert_int_equal(chunks_closed + t.short_chunk, data_chunks);
		assert_int_equal(groups_closed + 1, groups);
	} else {
		assert_int_equal(chunks_closed, data_chunks);
		assert_int_equal(groups_closed, groups);
	}
	/* Nothing is left to close twice. */
	assert_false(rp__chunker_finish(&c, &t));
}

static void
test_every_byte_once(void **state)
{
	(void)state;
	/* Exactly full groups, a short last group with a short chunk, a short group of
	 * whole chunks, one short chunk, one byte. */
	check_stream(4096, 4, 4096 * 4 * 3, 1000, 1);
	check_stream(4096, 4, 4096 * 4 * 3 + 4096 * 2 + 17, 0, 2);
	check_stream(4096, 4, 4096 * 4 * 2 + 4096 * 3, 4096, 3);
	check_stream(4096, 20, 100, 7, 4);
	check_stream(4096, 1, 1, 1, 5);
	for (uint32_t seed = 10; seed < 30; seed++)
		check_stream(4096, 1 + seed % 7, 4096ull * (seed * 3) + seed * 97, 0, seed);
}

/* One piece larger than several groups is consumed a chunk at a time. */
static void
test_large_piece(void **state)
{
	(void)state;
	check_stream(4096, 3, 4096 * 10 + 5, 4096 * 10 + 5, 7);
}

static void
test_geometry(void **state)
{
	(void)state;
	const struct rp__chunk_geom gm = {.cs = 1000, .k = 20, .m = 2};
	/* FORMAT.md: key = g * (k + m) + i. */
	assert_int_equal(rp__chunk_key(&gm, 0, 0), 0);
	assert_int_equal(rp__chunk_key(&gm, 3, 21), 3 * 22 + 21);
	assert_int_equal(rp__chunk_data_key(&gm, 45), 2 * 22 + 5);
	assert_int_equal(rp__chunk_data_count(&gm, 1), 1);
	assert_int_equal(rp__chunk_data_count(&gm, 1000), 1);
	assert_int_equal(rp__chunk_data_count(&gm, 1001), 2);
	assert_int_equal(rp__chunk_group_count(&gm, 20), 1);
	assert_int_equal(rp__chunk_group_count(&gm, 41), 3);
	assert_int_equal(rp__chunk_group_size(&gm, 41, 0), 20);
	assert_int_equal(rp__chunk_group_size(&gm, 41, 2), 1);
	assert_int_equal(rp__chunk_data_size(&gm, 2500, 1), 1000);
	assert_int_equal(rp__chunk_data_size(&gm, 2500, 2), 500);
}

/* The per-stream cap lets a whole group be placed on the live streams, and, once there
 * are enough of them, no stream carries more chunks of a group than parity replaces. */
static void
test_group_cap(void **state)
{
	(void)state;
	for (unsigned k = 1; k <= 128; k += 9)
		for (unsigned m = 0; m <= 32; m += 3)
			for (unsigned live = 0; live <= 40; live++) {
				unsigned cap = rp__chunk_group_cap(k, m, live);
				unsigned l = live ? live : 1;
				assert_true(cap >= 1);
				assert_true((uint64_t)cap * l >= k + m);
				if (m && l * m >= k + m)
					assert_int_equal(cap, m);
			}
	assert_int_equal(rp__chunk_group_cap(20, 2, 8), 3);
	assert_int_equal(rp__chunk_group_cap(20, 2, 11), 2);
	assert_int_equal(rp__chunk_group_cap(4, 0, 8), 1);
}

/* The default k and m for any stream count from 4 up leave the per-stream cap at m, so
 * one lost connection never costs a group more than its parity; below 4 the k is 10 m. */
static void
test_default_fec_covers_one_connection(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 256; n++)
		for (unsigned mw = 0; mw <= 8; mw++) {
			unsigned k, m;
			rp__chunk_default_fec(n, mw, 128, &k, &m);
			assert_int_equal(m, mw ? mw : 2);
			assert_true(k >= 1 && k <= 128);
			if (n >= 4)
				assert_int_equal(rp__chunk_group_cap(k, m, n), m);
			else
				assert_int_equal(k, 10 * m);
		}
	unsigned k, m;
	rp__chunk_default_fec(8, 0, 128, &k, &m);
	assert_int_equal(k, 14);
	assert_int_equal(m, 2);
}

/* Streams take, in turn, the first queued chunk their tally allows; the same queue and
 * the same turns give the same chunk -> stream map, within the cap. */
static void
spread(unsigned k, unsigned m, unsigned live, uint64_t groups, unsigned *owner)
{
	struct rp__group_tally tally[16];
	for (unsigned s = 0; s < live; s++)
		rp__group_tally_init(&tally[s]);
	unsigned cap = rp__chunk_group_cap(k, m, live), n = (unsigned)groups * (k + m);
	bool *taken = calloc(n, 1);
	assert_non_null(taken);
	for (unsigned placed = 0, turn = 0; placed < n; turn++) {
		unsigned s = turn % live;
		for (unsigned key = 0; key < n; key++) {
			if (taken[key])
				continue;
			uint32_t *cnt = rp__group_tally_of(&tally[s], key / (k + m));
			if (*cnt < cap) {
				(*cnt)++;
				taken[key] = true;
				owner[key] = s;
				placed++;
				break;
			}
		}
		assert_true(turn < 100000);
	}
	free(taken);
}

static void
test_assignment_deterministic(void **state)
{
	(void)state;
	const unsigned k = 20, m = 2, live = 8, groups = 5, n = groups * (k + m);
	unsigned a[5 * 22], b[5 * 22];
	spread(k, m, live, groups, a);
	spread(k, m, live, groups, b);
	assert_memory_equal(a, b, sizeof(a));
	unsigned cap = rp__chunk_group_cap(k, m, live);
	for (unsigned g = 0; g < groups; g++) {
		unsigned per[8] = {0};
		for (unsigned i = 0; i < k + m; i++)
			per[a[g * (k + m) + i]]++;
		for (unsigned s = 0; s < live; s++)
			assert_true(per[s] <= cap);
	}
	(void)n;
}

/* A tally forgets a group only when a later group needs its slot. */
static void
test_tally_slots(void **state)
{
	(void)state;
	struct rp__group_tally t;
	rp__group_tally_init(&t);
	for (uint64_t g = 0; g < RP__GROUP_TALLY_SLOTS; g++)
		*rp__group_tally_of(&t, g) = (uint32_t)g + 1;
	for (uint64_t g = 0; g < RP__GROUP_TALLY_SLOTS; g++)
		assert_int_equal(*rp__group_tally_of(&t, g), g + 1);
	assert_int_equal(*rp__group_tally_of(&t, RP__GROUP_TALLY_SLOTS), 0);
	assert_int_equal(*rp__group_tally_of(&t, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_once),
		cmocka_unit_test(test_large_piece),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_group_cap),
		cmocka_unit_test(test_default_fec_covers_one_connection),
		cmocka_unit_test(test_assignment_deterministic),
		cmocka_unit_test(test_tally_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
