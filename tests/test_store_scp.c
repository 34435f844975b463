/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_store_scp.c - the Storage SCP against DCMTK's storescu and echoscu as the
 * modality: C-ECHO answers; three associations at once push CT and MR series in their
 * own transfer syntaxes (native and JPEG-LS, JPEG 2000, RLE, JPEG lossless); every
 * instance lands once under its Study Instance UID with its dataset bytes exactly as
 * the modality's file holds them, and one "received" audit line each; a caller outside
 * allow_aets is refused and stores nothing; a truncated or non-DICOM dataset is answered
 * 0xC000 and the association goes on; a full disk is answered 0xA700. */
#include "test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void
on_log(void *ctx, const char *line)
{
	(void)ctx;
	if (getenv("RP_TEST_VERBOSE"))
		fprintf(stderr, "scp: %s\n", line);
}

static unsigned
count_files(const char *dir, const char *suffix)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*%s' -not -path '*/.incoming/*' | wc -l",
		 dir, suffix);
	FILE *p = popen(cmd, "r");
	unsigned n = 0;
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

static void
test_storescu_into_queue(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char queue[300], logpath[300];
	snprintf(queue, sizeof(queue), "%s/queue", dir);
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	assert_int_equal(mkdir(queue, 0750), 0);
	struct rp_errbuf err = {""};
	struct rp_audit *audit;
	RP_ASSERT_OK(rp_audit_open(logpath, &audit, &err), &err);
	struct rp_store_scp_options o;
	rp_store_scp_options_init(&o);
	o.port = rp_test_free_port();
	o.dir = queue;
	o.audit = audit;
	o.log = on_log;
	struct rp_test_scp r;
	rp_test_scp_start(&r, &o, "");

	char cmd[8192];
	/* Four modalities at once, each proposing one compressed transfer syntax beside
	 * the uncompressed ones, so that every file travels in its own syntax. */
	static const struct {
		const char *aet, *propose, *files;
	} sets[] = {
		{"CT01", "-xt", "ct/wg04/CT1_UNC.dcm ct/wg04/CT1_JLSL.dcm mr/wg04/MR3_JLSL.dcm"},
		{"MR01", "-xv", "mr/wg04/MR1_UNC.dcm ct/wg04/CT2_J2KR.dcm mr/wg04/MR4_J2KR.dcm"},
		{"PACS", "-xs", "mr/wg04/MR2_JPLL.dcm mr/pydicom/emri_small.dcm ct/pydicom/CT_small.dcm"},
		{"US01", "-xr", "ct/wg04/CT2_RLE.dcm us/pydicom/OBXXXX1A_rle.dcm"},
	};
	size_t nsets = sizeof(sets) / sizeof(sets[0]);
	size_t at = 0;
	for (size_t i = 0; i < nsets; i++) {
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, "storescu -R %s -aet %s 127.0.0.1 %u",
				       sets[i].propose, sets[i].aet, o.port);
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", sets[i].files);
		for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " "))
			at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " '%s/%s'", corpus, tok);
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " & ");
	}
	snprintf(cmd + at, sizeof(cmd) - at, "wait");
	assert_int_equal(system(cmd), 0);
	/* Every instance once, under its study, the same instance to pydicom (every
	 * attribute equal, pixel data bytes identical, transfer syntax kept). */
	unsigned total = 0;
	for (size_t i = 0; i < nsets; i++) {
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", sets[i].files);
		for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
			char src[600], dst[900], study[80], sop[80];
			snprintf(src, sizeof(src), "%s/%s", corpus, tok);
			snprintf(cmd, sizeof(cmd),
				 "dcmdump -q +P 0020,000D '%s' | sed -n 's/.*\\[\\(.*\\)\\].*/\\1/p'"
				 " > '%s/uid'; dcmdump -q +P 0008,0018 '%s' | "
				 "sed -n 's/.*\\[\\(.*\\)\\].*/\\1/p' >> '%s/uid'",
				 src, dir, src, dir);
			assert_int_equal(system(cmd), 0);
			snprintf(cmd, sizeof(cmd), "%s/uid", dir);
			FILE *u = fopen(cmd, "r");
			assert_non_null(u);
			assert_non_null(fgets(study, sizeof(study), u));
			assert_non_null(fgets(sop, sizeof(sop), u));
			fclose(u);
			study[strcspn(study, "\n")] = 0;
			sop[strcspn(sop, "\n")] = 0;
			snprintf(dst, sizeof(dst), "%s/%s/%s.dcm", queue, study, sop);
			struct stat st;
			if (stat(dst, &st) != 0)
				fail_msg("%s was not stored as %s", tok, dst);
			assert_int_equal(st.st_mode & 0777, 0640);
			snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/net/same_instance.py' "
				 "'%s' '%s'", getenv("RADPIPE_SOURCE_DIR"), src, dst);
			if (system(cmd) != 0)
				fail_msg("%s: the stored instance differs from what was sent", tok);
			total++;
		}
	}
	assert_int_equal(count_files(queue, ".dcm"), total);
	assert_int_equal(count_files(queue, ".part"), 0);

	rp_test_scp_stop(&r);
	rp_audit_close(audit);
	struct rp_audit_summary sum;
	RP_ASSERT_OK(rp_audit_verify(logpath, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.lines, total);
	snprintf(cmd, sizeof(cmd), "grep -c '\"event\":\"received\"' '%s' | grep -qx %u", logpath,
		 total);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_allow_aets_refuses_others(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct rp_store_scp_options o;
	rp_store_scp_options_init(&o);
	o.port = rp_test_free_port();
	o.dir = dir;
	o.allow_aets = "CT01, MR01";
	o.log = on_log;
	struct rp_test_scp r;
	rp_test_scp_start(&r, &o, "-aet CT01");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "storescu -q -aet EVIL 127.0.0.1 %u '%s/ct/wg04/CT1_UNC.dcm' "
		 "2>/dev/null", o.port, corpus);
	assert_true(system(cmd) != 0);
	snprintf(cmd, sizeof(cmd), "storescu -q -aet MR01 127.0.0.1 %u '%s/mr/pydicom/MR_small.dcm'",
		 o.port, corpus);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_files(dir, ".dcm"), 1);
	rp_test_scp_stop(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Output of a command's first line, or "" */
static void
first_line(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = 0;
	if (!fgets(out, (int)cap, p))
		out[0] = 0;
	while (fgetc(p) != EOF)
		;
	pclose(p);
	out[strcspn(out, "\n")] = 0;
}

struct scp_under_test {
	struct rp_store_scp_options o;
	struct rp_test_scp r;
};

static void
scp_start(struct scp_under_test *u, const char *dir)
{
	rp_store_scp_options_init(&u->o);
	u->o.port = rp_test_free_port();
	u->o.dir = dir;
	u->o.log = on_log;
	rp_test_scp_start(&u->r, &u->o, "");
}

static void
scp_stop(struct scp_under_test *u)
{
	rp_test_scp_stop(&u->r);
}

/* A dataset cut short or not DICOM at all is answered "cannot understand" (0xC000) and
 * stored nowhere, and the same association goes on to store a good one. */
static void
test_hostile_datasets_refused(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct scp_under_test u;
	scp_start(&u, dir);
	char cmd[1500], out[256];
	snprintf(cmd, sizeof(cmd),
		 "python3 '%s/tests/net/raw_store.py' %u '%s/ct/wg04/CT1_UNC.dcm:truncated' "
		 "'%s/ct/wg04/CT1_UNC.dcm:garbage' '%s/mr/pydicom/MR_small.dcm:whole' | "
		 "tr '\\n' ' '", getenv("RADPIPE_SOURCE_DIR"), u.o.port, corpus, corpus, corpus);
	first_line(cmd, out, sizeof(out));
	assert_string_equal(out, "STATUS 0xC000 STATUS 0xC000 STATUS 0x0000 ");
	assert_int_equal(count_files(dir, ".dcm"), 1);
	assert_int_equal(count_files(dir, ".part"), 0);
	scp_stop(&u);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A full disk is answered "out of resources" (0xA700), never success, and leaves no
 * partial file; what still fits is stored. */
static void
test_disk_full_out_of_resources(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[1500], out[256];
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=300k tmpfs '%s' 2>/dev/null", dir);
	if (system(cmd) != 0) {
		rmdir(dir);
		skip(); /* needs root for the small file system */
	}
	struct scp_under_test u;
	scp_start(&u, dir);
	snprintf(cmd, sizeof(cmd),
		 "python3 '%s/tests/net/raw_store.py' %u '%s/ct/wg04/CT1_UNC.dcm:whole' "
		 "'%s/mr/pydicom/MR_small.dcm:whole' | tr '\\n' ' '",
		 getenv("RADPIPE_SOURCE_DIR"), u.o.port, corpus, corpus);
	first_line(cmd, out, sizeof(out));
	assert_string_equal(out, "STATUS 0xA700 STATUS 0x0000 ");
	/* DCMTK's storescu, a real modality, sees the failure too. */
	snprintf(cmd, sizeof(cmd), "storescu -q 127.0.0.1 %u '%s/ct/wg04/CT1_UNC.dcm' 2>/dev/null",
		 u.o.port, corpus);
	assert_true(system(cmd) != 0);
	assert_int_equal(count_files(dir, ".dcm"), 1);
	assert_int_equal(count_files(dir, ".part"), 0);
	scp_stop(&u);
	snprintf(cmd, sizeof(cmd), "umount '%s' && rmdir '%s'", dir, dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storescu_into_queue),
		cmocka_unit_test(test_allow_aets_refuses_others),
		cmocka_unit_test(test_hostile_datasets_refused),
		cmocka_unit_test(test_disk_full_out_of_resources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
