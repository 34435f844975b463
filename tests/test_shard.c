/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_shard.c - the shard hash (FNV-1a 64, documented values), I/N parsing, and the
 * restart journal: records survive reopening, torn or corrupt lines are dropped. */
#include "test_util.h"

#include <radpipe/pipeline.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_hash_values(void **state)
{
	(void)state;
	/* FNV-1a 64 reference values (the empty string is the offset basis). */
	assert_int_equal(rp_shard_hash("", 0), 0xcbf29ce484222325ull);
	assert_int_equal(rp_shard_hash("a", 1), 0xaf63dc4c8601ec8cull);
	assert_int_equal(rp_shard_hash("foobar", 6), 0x85944171f73967e8ull);
	assert_int_equal(rp_shard_of("foobar", 6, 4), (uint32_t)(0x85944171f73967e8ull % 4));
	assert_int_equal(rp_shard_of("x", 1, 0), 0);
}

static void
test_shards_partition(void **state)
{
	(void)state;
	unsigned seen[4] = { 0 };
	char key[64];
	for (int i = 0; i < 4000; i++) {
		int n = snprintf(key, sizeof(key), "study%d/IM%05d.dcm", i / 100, i);
		uint32_t s = rp_shard_of(key, (size_t)n, 4);
		assert_true(s < 4);
		seen[s]++;
	}
	for (int s = 0; s < 4; s++) /* roughly even: each within 20% of 1000 */
		assert_in_range(seen[s], 800, 1200);
}

static void
test_parse(void **state)
{
	(void)state;
	uint32_t i = 9, n = 9;
	struct rp_errbuf err = { "" };
	assert_int_equal(rp_shard_parse("2/4", &i, &n, &err), RP_OK);
	assert_int_equal(i, 2);
	assert_int_equal(n, 4);
	assert_int_equal(rp_shard_parse("4/4", &i, &n, &err), RP_E_INVALID_ARG);
	assert_int_equal(rp_shard_parse("0/0", &i, &n, &err), RP_E_INVALID_ARG);
	assert_int_equal(rp_shard_parse("1", &i, &n, &err), RP_E_INVALID_ARG);
	assert_int_equal(rp_shard_parse("-1/4", &i, &n, &err), RP_E_INVALID_ARG);
	assert_int_equal(rp_shard_parse("1/4x", &i, &n, &err), RP_E_INVALID_ARG);
	assert_int_equal(rp_shard_parse("/4", &i, &n, &err), RP_E_INVALID_ARG);
}

static void
test_journal(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-journal-XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	struct rp_errbuf err = { "" };
	struct rp_journal *j;
	uint64_t size = 0;
	assert_int_equal(rp_journal_open(dir, "0-of-2", &j, &err), RP_OK);
	assert_int_equal(rp_journal_count(j), 0);
	assert_int_equal(rp_journal_append(j, "a/b c.dcm", 1234, &err), RP_OK);
	assert_int_equal(rp_journal_append(j, "a/d.dcm", 7, &err), RP_OK);
	assert_int_equal(rp_journal_append(j, "bad\nname", 7, &err), RP_E_INVALID_ARG);
	rp_journal_close(j);
	/* Another shard's journal, with a corrupt line (checksum), a torn last line. */
	snprintf(path, sizeof(path), "%s/journal-1-of-2.log", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("RPJ1 99 00000000 forged.dcm\ngarbage\n", f);
	fclose(f);
	assert_int_equal(rp_journal_open(dir, "1-of-2", &j, &err), RP_OK);
	assert_int_equal(rp_journal_append(j, "e.dcm", 55, &err), RP_OK);
	rp_journal_close(j);
	/* Within one journal the later record of a path wins (the output was remade). */
	assert_int_equal(rp_journal_open(dir, "0-of-2", &j, &err), RP_OK);
	assert_int_equal(rp_journal_append(j, "a/d.dcm", 8, &err), RP_OK);
	rp_journal_close(j);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "RPJ1 5 1234", 11), 11);
	close(fd);
	assert_int_equal(rp_journal_open(dir, "0-of-2", &j, &err), RP_OK);
	assert_int_equal(rp_journal_count(j), 3);
	assert_int_equal(rp_journal_lookup(j, "a/b c.dcm", &size), 1);
	assert_int_equal(size, 1234);
	assert_int_equal(rp_journal_lookup(j, "a/d.dcm", &size), 1);
	assert_int_equal(size, 8);
	assert_int_equal(rp_journal_lookup(j, "e.dcm", &size), 1);
	assert_int_equal(rp_journal_lookup(j, "forged.dcm", &size), 0);
	assert_int_equal(rp_journal_lookup(j, "a/b", &size), 0);
	rp_journal_close(j);
	assert_int_equal(rp_journal_open(dir, "../x", &j, &err), RP_E_INVALID_ARG);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_values),
		cmocka_unit_test(test_shards_partition),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
