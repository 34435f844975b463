/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_spool.c - the receiver's spool on its own, with no server or connection: a
 * group with enough chunks is rebuilt from parity and the rest is listed as needed; the
 * short chunk must end the stream; durable keys survive a reopen and come back as
 * duplicates; chunks that do not fit the manifest are refused; a stored manifest that
 * differs is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"
#include "transport/chunk.h"
#include "transport/fec.h"
#include "transport/spool.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#define CS 4096u
#define K 4u
#define M 2u
/* Two groups: 4 full data chunks, then 2 full and one of 100 bytes. */
#define STREAM_LEN (6u * CS + 100u)
#define DATA_CHUNKS 7u

struct fixture {
	char dir[512];
	int radfd;
	struct rp__manifest mf;
	struct rp__mentry ent;
	struct rp__wbuf man;
	uint8_t stream[STREAM_LEN];
	uint8_t parity[2][M][CS];    /* per group */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	rp_test_tmpdir(f->dir, sizeof(f->dir));
	f->radfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->radfd >= 0);
	uint32_t seed = 7;
	for (size_t i = 0; i < STREAM_LEN; i++) {
		seed = seed * 1103515245u + 12345u;
		f->stream[i] = (uint8_t)(seed >> 16);
	}
	const struct rp__chunk_geom gm = {CS, K, M};
	for (uint64_t g = 0; g < 2; g++) {
		unsigned kg = rp__chunk_group_size(&gm, DATA_CHUNKS, g);
		uint8_t pad[K][CS] = {{0}};
		uint8_t *dp[K], *pp[M];
		for (unsigned i = 0; i < kg; i++) {
			uint64_t d = g * K + i;
			memcpy(pad[i], f->stream + d * CS, rp__chunk_data_size(&gm, STREAM_LEN, d));
			dp[i] = pad[i];
		}
		for (unsigned j = 0; j < M; j++)
			pp[j] = f->parity[g][j];
		assert_int_equal(rp__fec_encode(kg, M, CS, dp, pp), RP_OK);
	}
	f->ent = (struct rp__mentry){.path = "a.dcm", .size = STREAM_LEN};
	f->mf = (struct rp__manifest){.count = 1, .chunk_size = CS, .k = K, .m = M,
				      .total = STREAM_LEN, .e = &f->ent};
	rp__manifest_encode(&f->man, &f->mf);
	assert_false(f->man.failed);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	close(f->radfd);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	rp__wbuf_free(&f->man);
	free(f);
	return 0;
}

static struct rp__spool *
open_spool(struct fixture *f)
{
	struct rp__spool *sp = NULL;
	struct rp_errbuf err = {""};
	int st = rp__spool_open(f->radfd, "00112233445566778899aabbccddeeff", f->man.p, f->man.len,
				&f->mf, &sp, &err);
	if (st != RP_OK)
		fail_msg("rp__spool_open: %s", err.msg);
	return sp;
}

/* Writes data chunk i of group g (i < K) or parity chunk i (i >= K). */
static void
put(struct fixture *f, struct rp__spool *sp, uint64_t g, unsigned i, bool want_dup)
{
	const struct rp__chunk_geom gm = {CS, K, M};
	struct rp__chunk ch = {.group = g, .index = (uint16_t)i, .k_group = K};
	if (i < K) {
		uint64_t d = g * K + i;
		ch.size = rp__chunk_data_size(&gm, STREAM_LEN, d);
		ch.data = f->stream + d * CS;
	} else {
		ch.size = CS;
		ch.data = f->parity[g][i - K];
	}
	struct rp_errbuf err = {""};
	bool dup = !want_dup;
	assert_int_equal(rp__spool_check_chunk(sp, &ch, &err), RP_OK);
	assert_int_equal(rp__spool_write_chunk(sp, &ch, &dup, &err), RP_OK);
	assert_int_equal(dup, want_dup);
}

/* Group 0 lacks one data chunk and has both parity chunks: rebuilt.  Group 1 has one
 * data chunk and one parity chunk of the three it needs: its two missing data chunks
 * are needed, and nothing of it is rebuilt. */
static void
test_missing_and_rebuild(void **state)
{
	struct fixture *f = *state;
	struct rp__spool *sp = open_spool(f);
	put(f, sp, 0, 0, false);
	put(f, sp, 0, 1, false);
	put(f, sp, 0, 3, false);
	put(f, sp, 0, K + 0, false);
	put(f, sp, 0, K + 1, false);
	put(f, sp, 1, 0, false);
	put(f, sp, 1, K + 1, false);
	assert_false(rp__spool_has_range(sp, 0, 4 * CS));

	struct rp__ranges need = {0};
	uint64_t rebuilt = 0;
	struct rp_errbuf err = {""};
	assert_int_equal(rp__spool_missing(sp, STREAM_LEN, DATA_CHUNKS, &need, &rebuilt, &err),
			 RP_OK);
	assert_int_equal(rebuilt, 1);
	assert_int_equal(rp__ranges_total(&need), 2);
	/* key = g * (k + m) + i */
	assert_true(rp__ranges_has(&need, 1 * (K + M) + 1));
	assert_true(rp__ranges_has(&need, 1 * (K + M) + 2));
	rp__ranges_free(&need);

	/* The rebuilt chunk is the original's bytes, in place in the stream. */
	assert_true(rp__spool_has_range(sp, 0, 4 * CS));
	uint8_t back[CS];
	assert_int_equal(pread(rp__spool_stream_fd(sp), back, CS, 2 * CS), (ssize_t)CS);
	assert_memory_equal(back, f->stream + 2 * CS, CS);

	/* The sender answers the NEED; nothing is missing any more. */
	put(f, sp, 1, 1, false);
	put(f, sp, 1, 2, false);
	assert_int_equal(rp__spool_missing(sp, STREAM_LEN, DATA_CHUNKS, &need, &rebuilt, &err),
			 RP_OK);
	assert_int_equal(need.count, 0);
	assert_int_equal(rebuilt, 0);
	assert_true(rp__spool_has_range(sp, 0, STREAM_LEN));
	rp__spool_close(sp);
}

/* A DONE that says the stream is longer than where the short chunk stands. */
static void
test_short_chunk_must_end_stream(void **state)
{
	struct fixture *f = *state;
	struct rp__spool *sp = open_spool(f);
	put(f, sp, 1, 2, false);
	struct rp__ranges need = {0};
	uint64_t rebuilt;
	struct rp_errbuf err = {""};
	assert_int_equal(rp__spool_missing(sp, STREAM_LEN + CS, DATA_CHUNKS + 1, &need, &rebuilt,
					   &err), RP_E_PROTOCOL);
	rp__ranges_free(&need);
	rp__spool_close(sp);
}

/* What was made durable is in the journal: a reopened spool offers it for resume and
 * takes it again only as a duplicate. */
static void
test_durable_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct rp__spool *sp = open_spool(f);
	struct rp_errbuf err = {""};
	put(f, sp, 0, 0, false);
	put(f, sp, 0, 0, true);
	put(f, sp, 1, K, false);
	assert_int_equal(rp__spool_sync(sp, &err), RP_OK);
	rp__spool_close(sp);

	sp = open_spool(f);
	struct rp__ranges have = {0};
	assert_int_equal(rp__spool_durable(sp, &have), RP_OK);
	assert_int_equal(rp__ranges_total(&have), 2);
	assert_true(rp__ranges_has(&have, 0));
	assert_true(rp__ranges_has(&have, 1 * (K + M) + K));
	rp__ranges_free(&have);
	put(f, sp, 0, 0, true);
	assert_false(rp__spool_delivered(sp));
	assert_false(rp__spool_object_done(sp, 0));

	/* Delivered: remembered by the journal, and every later chunk is a duplicate. */
	uint32_t idx = 0;
	assert_int_equal(rp__spool_journal_objects(sp, &idx, 1, &err), RP_OK);
	assert_int_equal(rp__spool_journal_delivered(sp, &err), RP_OK);
	rp__spool_close(sp);
	sp = open_spool(f);
	assert_true(rp__spool_delivered(sp));
	assert_true(rp__spool_object_done(sp, 0));
	assert_int_equal(rp__spool_objects_done(sp), 1);
	put(f, sp, 0, 1, true);
	rp__spool_close(sp);
}

static void
test_chunks_that_do_not_fit(void **state)
{
	struct fixture *f = *state;
	struct rp__spool *sp = open_spool(f);
	struct rp_errbuf err = {""};
	uint8_t buf[CS] = {0};
	struct rp__chunk ch = {.group = 0, .index = K + M, .k_group = K, .size = CS, .data = buf};
	assert_int_equal(rp__spool_check_chunk(sp, &ch, &err), RP_E_PROTOCOL);
	ch.index = K;
	ch.size = CS - 1;             /* parity is always a whole chunk */
	assert_int_equal(rp__spool_check_chunk(sp, &ch, &err), RP_E_PROTOCOL);
	ch.index = 0;
	ch.size = CS + 1;
	assert_int_equal(rp__spool_check_chunk(sp, &ch, &err), RP_E_PROTOCOL);
	ch.size = CS;
	ch.group = 1u << 20;          /* far beyond what one object of this size allows */
	assert_int_equal(rp__spool_check_chunk(sp, &ch, &err), RP_E_LIMIT);
	rp__spool_close(sp);
}

static void
test_other_manifest_refused(void **state)
{
	struct fixture *f = *state;
	rp__spool_close(open_spool(f));
	struct rp__mentry e = f->ent;
	e.size = STREAM_LEN - 1;
	struct rp__manifest mf = f->mf;
	mf.e = &e;
	mf.total = e.size;
	struct rp__wbuf man = {0};
	rp__manifest_encode(&man, &mf);
	struct rp__spool *sp = NULL;
	struct rp_errbuf err = {""};
	assert_int_equal(rp__spool_open(f->radfd, "00112233445566778899aabbccddeeff", man.p,
					man.len, &mf, &sp, &err), RP_E_MISMATCH);
	assert_null(sp);
	rp__wbuf_free(&man);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_and_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_chunk_must_end_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunks_that_do_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_manifest_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
