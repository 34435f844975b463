/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_merge.c - additions to a study already delivered: a session whose top-level
 * directory DIR already has is merged into it file by file; a file DIR holds with the
 * same bytes counts as held, one with different bytes refuses the session and moves
 * nothing; a top-level file that exists is still refused; the delivered hook lists only
 * what each session newly placed.  Sender and receiver in one process over plain TCP on
 * loopback, files from the corpus. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSRC 3
static const char *const corpus_files[NSRC] = {
	"ct/wg04/CT1_UNC.dcm", "ct/wg04/CT2_UNC.dcm", "mr/pydicom/MR_small.dcm"};
static char src_dir[512], src[NSRC][600];

/* What the delivered hook was told: one line per call, "session path path ...". */
struct hooklog {
	pthread_mutex_t mu;
	int calls;
	char last[4096];
};

static int
on_delivered(void *ctx, const char *session, const char *const *paths, size_t n)
{
	struct hooklog *h = ctx;
	pthread_mutex_lock(&h->mu);
	h->calls++;
	size_t len = (size_t)snprintf(h->last, sizeof(h->last), "%s", session);
	for (size_t i = 0; i < n && len < sizeof(h->last); i++)
		len += (size_t)snprintf(h->last + len, sizeof(h->last) - len, " %s", paths[i]);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static struct {
	struct rp_serve_options o;
	struct rp_server *srv;
	pthread_t thread;
	int run_status;
	struct rp_errbuf run_err;
	char dir[512];
	struct hooklog hook;
} S;

static void *
server_main(void *arg)
{
	(void)arg;
	S.run_status = rp_server_run(S.srv, &S.run_err);
	return NULL;
}

static int
rm_tree(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int
group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	rp_test_tmpdir(src_dir, sizeof(src_dir));
	for (int i = 0; i < NSRC; i++) {
		size_t n;
		uint8_t *p = rp_test_corpus_load(corpus_files[i], &n);
		snprintf(src[i], sizeof(src[i]), "%s/%s", src_dir, strrchr(corpus_files[i], '/') + 1);
		FILE *f = fopen(src[i], "wb");
		if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
			fail_msg("cannot write %s: %s", src[i], strerror(errno));
		free(p);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	(void)rm_tree(src_dir);
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	pthread_mutex_init(&S.hook.mu, NULL);
	rp_test_tmpdir(S.dir, sizeof(S.dir));
	rp_serve_options_init(&S.o);
	S.o.dir = S.dir;
	S.o.tls.insecure = 1;
	S.o.delivered = on_delivered;
	S.o.delivered_ctx = &S.hook;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_server_create(&S.o, &S.srv, &err), &err);
	assert_int_equal(pthread_create(&S.thread, NULL, server_main, NULL), 0);
	return 0;
}

static int
test_teardown(void **state)
{
	(void)state;
	rp_server_stop(S.srv);
	pthread_join(S.thread, NULL);
	rp_server_destroy(S.srv);
	RP_ASSERT_OK(S.run_status, &S.run_err);
	(void)rm_tree(S.dir);
	return 0;
}

/* Sends src[which[i]] under names[i]; native codec keeps the test about delivery. */
static int
send_files(const int *which, const char *const *names, size_t n, struct rp_send_report *rep,
	   struct rp_errbuf *err)
{
	struct rp_send_options so;
	rp_send_options_init(&so);
	so.host = "127.0.0.1";
	so.port = rp_server_port(S.srv);
	so.tls.insecure = 1;
	so.streams = 2;
	const char *paths[8];
	for (size_t i = 0; i < n; i++)
		paths[i] = src[which[i]];
	return rp_send(&so, paths, names, n, rep, err);
}

static void
send_ok(const int *which, const char *const *names, size_t n, struct rp_send_report *rep)
{
	struct rp_errbuf err = {""};
	int st = send_files(which, names, n, rep, &err);
	if (st != RP_OK)
		fail_msg("rp_send -> %s: %s", rp_status_name(st), err.msg);
}

/* DIR/name holds exactly the bytes of src[which]. */
static void
assert_holds(const char *name, int which)
{
	char p[1200];
	size_t a = 0, b = 0;
	snprintf(p, sizeof(p), "%s/%s", S.dir, name);
	uint8_t *want = rp_test_read_file(src[which], &a);
	uint8_t *have = rp_test_read_file(p, &b);
	if (!have)
		fail_msg("%s is missing", p);
	if (a != b || memcmp(want, have, a) != 0)
		fail_msg("%s differs from %s", p, src[which]);
	free(want);
	free(have);
}

static void
assert_absent(const char *name)
{
	char p[1200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", S.dir, name);
	if (lstat(p, &st) == 0)
		fail_msg("%s exists", p);
}

/* The hook's last call, without the session id. */
static const char *
hook_paths(int *calls)
{
	static char buf[4096];
	pthread_mutex_lock(&S.hook.mu);
	*calls = S.hook.calls;
	const char *sp = strchr(S.hook.last, ' ');
	snprintf(buf, sizeof(buf), "%s", sp ? sp + 1 : "");
	pthread_mutex_unlock(&S.hook.mu);
	return buf;
}

/* A study, then an addition session with one new instance under the same top-level
 * directory: merged, the first files untouched, the hook told only the new one. */
static void
test_addition_merges(void **state)
{
	(void)state;
	struct rp_send_report rep;
	int calls;
	const int w1[] = {0, 1};
	const char *n1[] = {"1.2.3/ct1.dcm", "1.2.3/ct2.dcm"};
	send_ok(w1, n1, 2, &rep);
	assert_string_equal(hook_paths(&calls), "1.2.3/ct1.dcm 1.2.3/ct2.dcm");
	assert_int_equal(calls, 1);
	const int w2[] = {2};
	const char *n2[] = {"1.2.3/sub/mr.dcm"};
	send_ok(w2, n2, 1, &rep);
	assert_int_equal(rep.already_delivered, 0);
	assert_holds("1.2.3/ct1.dcm", 0);
	assert_holds("1.2.3/ct2.dcm", 1);
	assert_holds("1.2.3/sub/mr.dcm", 2);
	assert_string_equal(hook_paths(&calls), "1.2.3/sub/mr.dcm");
	assert_int_equal(calls, 2);
	char p[700];
	struct stat st;
	snprintf(p, sizeof(p), "%s/1.2.3/sub/mr.dcm", S.dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

/* An addition that repeats an instance DIR holds with the same bytes: accepted, that
 * one held (not delivered twice, not in the hook), the new one delivered. */
static void
test_identical_duplicate_held(void **state)
{
	(void)state;
	struct rp_send_report rep;
	int calls;
	const int w1[] = {0};
	const char *n1[] = {"1.2.4/ct1.dcm"};
	send_ok(w1, n1, 1, &rep);
	const int w2[] = {0, 1};
	const char *n2[] = {"1.2.4/ct1.dcm", "1.2.4/ct2.dcm"};
	send_ok(w2, n2, 2, &rep);
	assert_int_equal(rep.already_delivered, 0);
	assert_holds("1.2.4/ct1.dcm", 0);
	assert_holds("1.2.4/ct2.dcm", 1);
	assert_string_equal(hook_paths(&calls), "1.2.4/ct2.dcm");
	assert_int_equal(calls, 2);
}

/* A session that would put different bytes under a name DIR holds: refused with an
 * error naming the file, nothing of it moved (its new file neither), DIR unchanged. */
static void
test_differing_duplicate_refused(void **state)
{
	(void)state;
	struct rp_send_report rep;
	struct rp_errbuf err = {""};
	int calls;
	const int w1[] = {0};
	const char *n1[] = {"1.2.5/a.dcm"};
	send_ok(w1, n1, 1, &rep);
	const int w2[] = {2, 1};
	const char *n2[] = {"1.2.5/new.dcm", "1.2.5/a.dcm"};
	int st = send_files(w2, n2, 2, &rep, &err);
	printf("# differing duplicate: %s: %s\n", rp_status_name(st), err.msg);
	assert_int_not_equal(st, RP_OK);
	if (!strstr(err.msg, "1.2.5/a.dcm") || !strstr(err.msg, "different content"))
		fail_msg("the error does not name the clashing file: %s", err.msg);
	assert_holds("1.2.5/a.dcm", 0);
	assert_absent("1.2.5/new.dcm");
	hook_paths(&calls);
	assert_int_equal(calls, 1);
}

/* A top-level file that exists is refused as before: a file is no study to merge. */
static void
test_top_level_file_refused(void **state)
{
	(void)state;
	struct rp_send_report rep;
	struct rp_errbuf err = {""};
	const int w1[] = {0};
	const char *n1[] = {"top.dcm"};
	send_ok(w1, n1, 1, &rep);
	const int w2[] = {1};
	int st = send_files(w2, n1, 1, &rep, &err);
	printf("# top-level file again: %s: %s\n", rp_status_name(st), err.msg);
	assert_int_not_equal(st, RP_OK);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_holds("top.dcm", 0);
}

/* The whole same session again: the receiver says already delivered, the hook is not
 * called a second time, DIR unchanged. */
static void
test_resend_already_delivered(void **state)
{
	(void)state;
	struct rp_send_report rep;
	int calls;
	const int w1[] = {0, 2};
	const char *n1[] = {"1.2.6/ct1.dcm", "1.2.6/mr.dcm"};
	send_ok(w1, n1, 2, &rep);
	assert_int_equal(rep.already_delivered, 0);
	send_ok(w1, n1, 2, &rep);
	assert_int_equal(rep.already_delivered, 1);
	hook_paths(&calls);
	assert_int_equal(calls, 1);
	assert_holds("1.2.6/ct1.dcm", 0);
	assert_holds("1.2.6/mr.dcm", 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_addition_merges, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_identical_duplicate_held, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_differing_duplicate_refused, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_top_level_file_refused, test_setup,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_resend_already_delivered, test_setup,
						test_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
