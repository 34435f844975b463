/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_common.c - status strings, hashes, CRC32C, canonical-frame helpers, pool,
 * atomic file writes. */
#include "test_util.h"

#include "codec/codec_impl.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
test_status_strings(void **state)
{
	(void)state;
	assert_string_equal(rp_status_name(RP_E_CORRUPT), "RP_E_CORRUPT");
	assert_string_equal(rp_status_str(RP_E_CORRUPT), "corrupt or truncated input");
	assert_string_equal(rp_status_name(RP_OK), "RP_OK");
	assert_string_equal(rp_status_name(-999), "RP_E_UNKNOWN");
	assert_int_equal(RP_E_UNSUPPORTED, -4);   /* values never change */
}

static void
test_hashes(void **state)
{
	(void)state;
	/* Standard check values: CRC-32C("123456789") = 0xE3069283 (RFC 3720 B.4),
	 * SHA-256("abc") from FIPS 180-2. */
	assert_int_equal(rp__crc32c(0, "123456789", 9), 0xE3069283u);
	/* incremental equals one-shot */
	assert_int_equal(rp__crc32c(rp__crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	uint8_t h[32];
	assert_int_equal(rp__sha256("abc", 3, h), RP_OK);
	static const uint8_t expect[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad };
	assert_memory_equal(h, expect, 32);
}

static void
test_frame_helpers(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 4, .height = 1, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12, .is_signed = 1 };
	/* -1 and -2048 sign-extended, 2047, 0 */
	uint8_t f[8] = { 0xFF, 0xFF, 0x00, 0xF8, 0xFF, 0x07, 0x00, 0x00 };
	assert_int_equal(rp__frame_high_bits_clean(&img, f, 8), 1);
	rp__frame_to_unsigned_bits(&img, f, 8);
	assert_int_equal(rp__load_le16(f), 0x0FFF);
	assert_int_equal(rp__load_le16(f + 2), 0x0800);
	assert_int_equal(rp__frame_high_bits_clean(&img, f, 8), 1);   /* zeros above: clean */
	rp__store_le16(f + 6, 0x3000);   /* bits 12-13 set over a positive value: overlay */
	assert_int_equal(rp__frame_high_bits_clean(&img, f, 8), 0);
	rp__store_le16(f + 6, 0);
	rp__frame_from_unsigned_bits(&img, f, 8);
	assert_int_equal(rp__load_le16(f), 0xFFFF);
	assert_int_equal(rp__load_le16(f + 2), 0xF800);
	uint64_t e;
	uint8_t g[8];
	memcpy(g, f, 8);
	rp__store_le16(g + 4, 0x07FD);   /* 2045 vs 2047 */
	assert_int_equal(rp_frame_compare(&img, f, g, 8, &e), RP_OK);
	assert_int_equal(e, 2);
	img.is_signed = 0;
	uint8_t overlay[2] = { 0x01, 0x10 };   /* bit 12 set above 12 stored bits */
	assert_int_equal(rp__frame_high_bits_clean(&img, overlay, 2), 0);
	assert_int_equal(rp_image_frame_size(&img), 8);
	img.width = 0;
	assert_int_equal(rp_image_desc_check(&img, NULL), RP_E_INVALID_ARG);
}

static _Atomic int counter;
static void
count_job(void *arg, unsigned worker)
{
	(void)arg;
	(void)worker;
	counter++;
}

struct nested {
	struct rp_pool *pool;
	_Atomic long sum;
	unsigned threads;
	_Atomic int bad_worker;
};

static void
inner_item(void *arg, size_t i, unsigned worker)
{
	struct nested *n = arg;
	if (worker > n->threads)
		n->bad_worker = 1;
	n->sum += (long)i;
}

static void
outer_job(void *arg, unsigned worker)
{
	struct nested *n = arg;
	(void)worker;
	rp_pool_parallel_for(n->pool, 1000, inner_item, n);
}

static void
test_pool(void **state)
{
	(void)state;
	struct rp_pool *pool;
	assert_int_equal(rp_pool_create(2, 2, &pool), RP_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rp_pool_submit(pool, count_job, NULL), RP_OK);
	rp_pool_wait(pool);
	assert_int_equal(counter, 100);
	/* parallel-for from jobs that occupy every worker must not deadlock */
	struct nested n = { .pool = pool, .threads = 2 };
	for (int i = 0; i < 8; i++)
		assert_int_equal(rp_pool_submit(pool, outer_job, &n), RP_OK);
	rp_pool_wait(pool);
	assert_int_equal(n.sum, 8L * 999 * 1000 / 2);
	assert_int_equal(n.bad_worker, 0);
	/* and from outside */
	n.sum = 0;
	rp_pool_parallel_for(pool, 1000, inner_item, &n);
	assert_int_equal(n.sum, 999L * 1000 / 2);
	rp_pool_destroy(pool);
	n.sum = 0;
	rp_pool_parallel_for(NULL, 10, inner_item, &n);
	assert_int_equal(n.sum, 45);
}

/* rp_file_write_atomic: the content lands under the final name, replacing an older file;
 * the mode follows the umask as for any file a tool creates (a delivered study must be
 * readable by the archive's import user, so never mkstemp's 0600); no temporary is left;
 * a missing directory is an error that names the path. */
static void
test_write_atomic(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-test-atomic-XXXXXX", path[256];
	struct rp_errbuf err = { "" };
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.dcm", dir);
	mode_t old = umask(022);
	RP_ASSERT_OK(rp_file_write_atomic(path, "first", 5, &err), &err);
	RP_ASSERT_OK(rp_file_write_atomic(path, "second!", 7, &err), &err);
	umask(027);
	char path2[256];
	snprintf(path2, sizeof(path2), "%s/other.dcm", dir);
	RP_ASSERT_OK(rp_file_write_atomic(path2, "x", 1, &err), &err);
	umask(old);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(stat(path2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	char buf[16] = { 0 };
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), 7);
	fclose(f);
	assert_memory_equal(buf, "second!", 7);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			entries++;
	closedir(d);
	assert_int_equal(entries, 2);   /* out.dcm, other.dcm: no temporary left */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/missing/out.dcm", dir);
	assert_int_not_equal(rp_file_write_atomic(bad, "x", 1, &err), RP_OK);
	assert_non_null(strstr(err.msg, "missing/out.dcm"));
	unlink(path);
	unlink(path2);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_strings),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_frame_helpers),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_write_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
