/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_study_queue.c - the gateway's study queue on its own: a study is due only
 * after its quiet time; STAT goes before an older routine study; a batch carries
 * <Study>/<SOP>.dcm names in sorted order; a failed send keeps the batch and a reopened
 * queue (a restart) offers the same batch again; a delivered batch leaves the spool and
 * a late instance becomes a second batch of only itself; a permanent failure survives a
 * restart and holds the study; records of studies delivered long ago and stale partial
 * receives are pruned at open. */
#include "test_util.h"

#include "net/study_queue.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An instance as the SCP leaves it: incoming/<study>/<sop>.dcm, then the arrival. */
static void
put(struct rp__study_queue *q, const char *study, const char *sop, bool stat)
{
	char dir[4300], path[4400];
	snprintf(dir, sizeof(dir), "%s/%s", rp__sq_incoming(q), study);
	(void)mkdir(dir, 0750);
	snprintf(path, sizeof(path), "%s/%s.dcm", dir, sop);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "instance %s", sop);
	fclose(f);
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp__sq_arrived(q, study, 10 + strlen(sop), stat, &err), &err);
}

static int
count_files(const char *dir)
{
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.dcm' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void
test_queue_lifecycle(void **state)
{
	(void)state;
	char spool[512];
	rp_test_tmpdir(spool, sizeof(spool));
	struct rp_errbuf err = {""};
	struct rp__study_queue *q;
	RP_ASSERT_OK(rp__sq_open(spool, &q, &err), &err);
	put(q, "1.2.3", "1.2.3.9", false);
	put(q, "1.2.3", "1.2.3.10", false);
	put(q, "1.2.4", "1.2.4.1", true);

	struct rp__sq_batch b;
	double wait;
	/* Within the quiet time nothing is due; the wait says how long until one is. */
	assert_int_equal(rp__sq_next(q, wall(), 10, &b, &wait, &err), 0);
	assert_true(wait > 9 && wait <= 10);
	assert_false(rp__sq_stat_due(q, wall(), 10));
	assert_true(rp__sq_stat_due(q, wall() + 11, 10));

	/* Past it: the STAT study, although it came last. */
	double later = wall() + 11;
	assert_int_equal(rp__sq_next(q, later, 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "1.2.4");
	assert_true(b.stat);
	assert_int_equal(b.count, 1);
	assert_string_equal(b.names[0], "1.2.4/1.2.4.1.dcm");
	/* A send that fails: kept, retried after the delay, not offered before. */
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_E_NET, 30, "refused", &err), &err);
	rp__sq_batch_free(&b);
	assert_int_equal(rp__sq_attempts(q, "1.2.4"), 1);

	/* The routine study now, its names sorted; its instances moved into outbox/. */
	assert_int_equal(rp__sq_next(q, later, 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "1.2.3");
	assert_false(b.stat);
	assert_int_equal(b.count, 2);
	assert_string_equal(b.names[0], "1.2.3/1.2.3.10.dcm");
	assert_string_equal(b.names[1], "1.2.3/1.2.3.9.dcm");
	assert_true(strstr(b.paths[0], "/outbox/1.2.3/1/") != NULL);
	rp__sq_batch_free(&b);
	/* Nothing else is due while it is sending and the other waits for its retry. */
	assert_int_equal(rp__sq_next(q, later, 10, &b, &wait, &err), 0);

	/* A crash: the reopened queue finds both batches and offers them at once, STAT
	 * (recorded on disk) first. */
	rp__sq_close(q);
	RP_ASSERT_OK(rp__sq_open(spool, &q, &err), &err);
	assert_int_equal(rp__sq_next(q, wall(), 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "1.2.4");
	assert_true(b.stat);
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_OK, 0, NULL, &err), &err);
	rp__sq_batch_free(&b);
	assert_int_equal(rp__sq_next(q, wall(), 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "1.2.3");
	assert_int_equal(b.count, 2);
	assert_int_equal(b.gen, 1);
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_OK, 0, NULL, &err), &err);
	rp__sq_batch_free(&b);
	char outbox[600];
	snprintf(outbox, sizeof(outbox), "%s/outbox", spool);
	assert_int_equal(count_files(outbox), 0);

	/* A late instance: a second batch holding only itself. */
	put(q, "1.2.3", "1.2.3.11", false);
	assert_int_equal(rp__sq_next(q, wall(), 10, &b, &wait, &err), 0);
	assert_int_equal(rp__sq_next(q, wall() + 11, 10, &b, &wait, &err), 1);
	assert_int_equal(b.count, 1);
	assert_int_equal(b.gen, 2);
	assert_string_equal(b.names[0], "1.2.3/1.2.3.11.dcm");
	/* Refused for good: the study fails, stays failed after a restart, holds its batch. */
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_E_IO, -1, "exists", &err), &err);
	rp__sq_batch_free(&b);
	rp__sq_close(q);
	RP_ASSERT_OK(rp__sq_open(spool, &q, &err), &err);
	assert_int_equal(rp__sq_next(q, wall() + 1000, 10, &b, &wait, &err), 0);
	assert_int_equal(count_files(outbox), 1);
	char *buf;
	size_t len;
	FILE *m = open_memstream(&buf, &len);
	rp__sq_status_json(q, m, wall(), 10, 86400);
	fclose(m);
	assert_true(strstr(buf, "\"study\":\"1.2.3\",\"priority\":\"routine\",\"state\":\"failed\","
			       "\"instances\":3") != NULL);
	assert_true(strstr(buf, "\"reason\":\"exists\"") != NULL);
	assert_true(strstr(buf, "\"study\":\"1.2.4\",\"priority\":\"stat\",\"state\":\"delivered\"") !=
		    NULL);
	free(buf);
	rp__sq_close(q);

	/* A study delivered 40 days ago, and a receive cut off by a crash: both go at open;
	 * a study delivered minutes ago keeps its record. */
	char path[700];
	snprintf(path, sizeof(path), "%s/studies/9.9.state", spool);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "stat 0\ngen 1\nsends 1\ndelivered 3\ndelivered_at %.3f\n", wall() - 40 * 86400.0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/incoming/.incoming", spool);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/incoming/.incoming/1-2-3.part", spool);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	RP_ASSERT_OK(rp__sq_open(spool, &q, &err), &err);
	snprintf(path, sizeof(path), "%s/studies/9.9.state", spool);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/incoming/.incoming/1-2-3.part", spool);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/studies/1.2.4.state", spool);
	assert_int_equal(access(path, F_OK), 0);
	rp__sq_close(q);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
	assert_int_equal(system(cmd), 0);
}

/* A STAT study is due after its own, shorter quiet time; a routine one arrived at the
 * same moment still waits out the routine quiet time. */
static void
test_stat_quiet(void **state)
{
	(void)state;
	char spool[512];
	rp_test_tmpdir(spool, sizeof(spool));
	struct rp_errbuf err = {""};
	struct rp__study_queue *q;
	RP_ASSERT_OK(rp__sq_open(spool, &q, &err), &err);
	rp__sq_set_stat_quiet(q, 2);
	put(q, "2.1", "2.1.1", false);
	put(q, "2.2", "2.2.1", true);
	struct rp__sq_batch b;
	double wait = 0, t = wall();
	assert_int_equal(rp__sq_next(q, t + 1, 10, &b, &wait, &err), 0);
	assert_true(wait > 0 && wait <= 1.01);
	assert_int_equal(rp__sq_next(q, t + 2.5, 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "2.2");
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_OK, 0, NULL, &err), &err);
	rp__sq_batch_free(&b);
	assert_int_equal(rp__sq_next(q, t + 5, 10, &b, &wait, &err), 0);
	assert_int_equal(rp__sq_next(q, t + 10.5, 10, &b, &wait, &err), 1);
	assert_string_equal(b.study, "2.1");
	RP_ASSERT_OK(rp__sq_done(q, &b, RP_OK, 0, NULL, &err), &err);
	rp__sq_batch_free(&b);
	rp__sq_close(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_lifecycle),
		cmocka_unit_test(test_stat_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
