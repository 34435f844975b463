/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_audit.c - the audit trail: records chain across reopenings; an edited, a
 * deleted and a reordered line are each reported at the line where the chain breaks; a
 * line cut short by a crash is recovered from, not mistaken for an edit; one writer per
 * log; hostile text cannot split a record. */
#include "test_util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rp-audit.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void
append_n(const char *path, int from, int n)
{
	struct rp_errbuf err = {""};
	struct rp_audit *a;
	RP_ASSERT_OK(rp_audit_open(path, &a, &err), &err);
	for (int i = from; i < from + n; i++) {
		char sop[64];
		uint8_t sha[32];
		snprintf(sop, sizeof(sop), "1.2.826.0.1.3680043.2.1125.%d", i);
		memset(sha, i, sizeof(sha));
		struct rp_audit_event ev = {.event = i % 3 ? "received" : "sent",
					    .sop_instance_uid = sop,
					    .study_uid = "1.2.826.0.1.3680043.2.1125.1",
					    .peer = "CT01@10.0.0.5:104",
					    .sha256 = sha};
		RP_ASSERT_OK(rp_audit_append(a, &ev, &err), &err);
	}
	rp_audit_close(a);
}

/* The log's lines, each with its newline. */
static char **
read_lines(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char **v = calloc(256, sizeof(*v));
	size_t cap = 0;
	char *line = NULL;
	*n = 0;
	while (getline(&line, &cap, f) > 0 && *n < 256)
		v[(*n)++] = strdup(line);
	free(line);
	fclose(f);
	return v;
}

static void
write_lines(const char *path, char **v, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputs(v[i], f);
	fclose(f);
}

struct seen {
	uint64_t lines[16];
	size_t n;
};

static void
on_problem(void *ctx, uint64_t line, const char *what)
{
	struct seen *s = ctx;
	(void)what;
	if (s->n < 16)
		s->lines[s->n++] = line;
}

static bool
seen_line(const struct seen *s, uint64_t line)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->lines[i] == line)
			return true;
	return false;
}

static void
test_chain_across_reopen(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/chain.log", dir);
	append_n(path, 1, 10);
	append_n(path, 11, 5);
	struct rp_audit_summary sum;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_audit_verify(path, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.lines, 15);
	assert_int_equal(sum.last_seq, 15);
	assert_int_equal(sum.problems, 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

/* Copies the 12-line log, applies a change, and checks which lines verify names. */
static void
tampered(const char *what, void (*change)(char **v, size_t *n), const uint64_t *expect,
	 size_t nexpect)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s.log", dir, what);
	append_n(path, 1, 12);
	size_t n;
	char **v = read_lines(path, &n);
	assert_int_equal(n, 12);
	change(v, &n);
	write_lines(path, v, n);
	struct seen seen = {0};
	struct rp_audit_summary sum;
	struct rp_errbuf err = {""};
	assert_int_equal(rp_audit_verify(path, on_problem, &seen, &sum, &err), RP_E_MISMATCH);
	assert_true(sum.problems > 0);
	for (size_t i = 0; i < nexpect; i++)
		if (!seen_line(&seen, expect[i]))
			fail_msg("%s: line %u not reported", what, (unsigned)expect[i]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	/* A writer refuses to go on from a log whose last line is no record. */
}

static void
edit_line5(char **v, size_t *n)
{
	(void)n;
	char *p = strstr(v[4], "1125.5\"");
	assert_non_null(p);
	p[5] = '6';                  /* the SOP Instance UID of record 5 */
}

static void
delete_line7(char **v, size_t *n)
{
	free(v[6]);
	memmove(v + 6, v + 7, (*n - 7) * sizeof(*v));
	(*n)--;
}

static void
swap_lines3_4(char **v, size_t *n)
{
	(void)n;
	char *t = v[2];
	v[2] = v[3];
	v[3] = t;
}

static void
test_edit_detected(void **state)
{
	(void)state;
	/* Line 5's own bytes changed: line 6 no longer follows it. */
	const uint64_t expect[] = {6};
	tampered("edit", edit_line5, expect, 1);
}

static void
test_delete_detected(void **state)
{
	(void)state;
	/* Record 8 now sits on line 7: it follows neither line 6 nor seq 6. */
	const uint64_t expect[] = {7};
	tampered("delete", delete_line7, expect, 1);
}

static void
test_reorder_detected(void **state)
{
	(void)state;
	const uint64_t expect[] = {3, 4, 5};
	tampered("reorder", swap_lines3_4, expect, 3);
}

static void
test_torn_line_recovered(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/torn.log", dir);
	append_n(path, 1, 4);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* A crash in the middle of record 4's write. */
	assert_int_equal(truncate(path, st.st_size - 40), 0);
	struct rp_audit_summary sum;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_audit_verify(path, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.torn, 1);
	assert_int_equal(sum.last_seq, 3);
	/* The next writer closes the torn line and says so in a record of its own. */
	append_n(path, 5, 2);
	RP_ASSERT_OK(rp_audit_verify(path, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.torn, 1);
	assert_int_equal(sum.problems, 0);
	assert_int_equal(sum.lines, 7);   /* 3 whole, 1 torn, "torn", 2 new */
	assert_int_equal(sum.last_seq, 6);

	/* Only the newline lost: the record is whole and simply continued. */
	snprintf(path, sizeof(path), "%s/newline.log", dir);
	append_n(path, 1, 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 1), 0);
	append_n(path, 4, 1);
	RP_ASSERT_OK(rp_audit_verify(path, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.lines, 4);
	assert_int_equal(sum.last_seq, 4);
	assert_int_equal(sum.torn, 0);
}

static void
test_one_writer_and_hostile_text(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/one.log", dir);
	struct rp_errbuf err = {""};
	struct rp_audit *a, *b;
	RP_ASSERT_OK(rp_audit_open(path, &a, &err), &err);
	assert_int_equal(rp_audit_open(path, &b, &err), RP_E_IO);
	assert_non_null(strstr(err.msg, "another writer"));
	char detail[6000];
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = 0;
	struct rp_audit_event ev = {.event = "failed",
				    .peer = "EVIL\"},{\"seq\":99\n\r\\",
				    .detail = detail};
	RP_ASSERT_OK(rp_audit_append(a, &ev, &err), &err);
	rp_audit_close(a);
	size_t n;
	char **v = read_lines(path, &n);
	assert_int_equal(n, 1);
	assert_true(strlen(v[0]) < 4200);
	free(v[0]);
	free(v);
	struct rp_audit_summary sum;
	RP_ASSERT_OK(rp_audit_verify(path, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.last_seq, 1);

	/* Not an audit log: a writer will not chain onto it. */
	snprintf(path, sizeof(path), "%s/other.log", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(rp_audit_open(path, &a, &err), RP_E_CORRUPT);
	assert_int_equal(rp_audit_verify(path, NULL, NULL, &sum, &err), RP_E_MISMATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_across_reopen),
		cmocka_unit_test(test_edit_detected),
		cmocka_unit_test(test_delete_detected),
		cmocka_unit_test(test_reorder_detected),
		cmocka_unit_test(test_torn_line_recovered),
		cmocka_unit_test(test_one_writer_and_hostile_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
