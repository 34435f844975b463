/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_stowrs.c - delivering by DICOMweb STOW-RS: a real Orthanc with its DICOMweb
 * plugin (tests/net/orthanc.py, on loopback ports) takes CT and MR instances in six
 * transfer syntaxes, in one request and one per request, and its REST API shows each
 * once with every attribute and the pixels unchanged (pydicom as the reader); a file that
 * is no DICOM instance and one Orthanc refuses fail alone; a wrong password is an authentication failure; a
 * server that is not there is a network error for every instance.  A fake server
 * (tests/net/fake_stow.py) shows the request byte for byte, and gives the answers Orthanc
 * does not: partial failure with warnings, DICOM XML, garbage, bombs, a cut connection. */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const kFiles[] = {
	"ct/wg04/CT1_UNC.dcm", "ct/wg04/CT1_JLSL.dcm", "mr/wg04/MR4_J2KR.dcm",
	"ct/wg04/CT2_RLE.dcm", "mr/wg04/MR2_JPLL.dcm", "mr/pydicom/emri_small.dcm",
};
#define NFILES (sizeof(kFiles) / sizeof(kFiles[0]))

struct server {
	pid_t pid;
	uint16_t http;
	char dir[64];
	pid_t guard;                 /* cleans up should this process die first */
};

/* A child that waits for this process to end (EOF on a pipe only we hold) and then stops
 * the server and removes its directory: the teardown cannot run when a test crashes or
 * CTest kills it at its timeout, and Orthanc runs in a session of its own. */
static void
guard_start(struct server *s)
{
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) != 0)
		return;
	s->guard = fork();
	if (s->guard == 0) {
		char c;
		close(fd[1]);
		/* Out of the test's process group, which whoever killed the test may kill
		 * whole. */
		setsid();
		while (read(fd[0], &c, 1) != 0)
			;
		kill(-s->pid, SIGTERM);
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 100 && kill(s->pid, 0) == 0; i++)
			usleep(100000);
		execlp("rm", "rm", "-rf", s->dir, (char *)NULL);
		_exit(1);
	}
	close(fd[0]);
	/* Left open, close-on-exec: only this process holds it. */
	(void)fd[1];
}

static void
paths_of(char paths[][600], const char **ptrs)
{
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(paths[i], 600, "%s/%s", rp_test_corpus_dir(), kFiles[i]);
		ptrs[i] = paths[i];
	}
}

/* Orthanc in a fresh directory, with authentication when users ("user:password"). */
static int
orthanc_start(struct server *s, const char *users)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/rp-stow.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	s->http = rp_test_free_port();
	uint16_t dicom = rp_test_free_port();
	char cmd[4096], pid[32] = "";
	snprintf(cmd, sizeof(cmd), "%s%s%s python3 '%s/tests/net/orthanc.py' start '%s' %u %u",
		 users ? "ORTHANC_USERS='" : "", users ? users : "", users ? "'" : "",
		 getenv("RADPIPE_SOURCE_DIR"), s->dir, s->http, dicom);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(pid, sizeof(pid), p))
		pid[0] = 0;
	if (pclose(p) != 0)
		return -1;
	s->pid = (pid_t)atoi(pid);
	if (s->pid <= 0)
		return -1;
	guard_start(s);
	return 0;
}

static void
server_stop(struct server *s)
{
	if (s->guard > 0) {
		kill(s->guard, SIGKILL);
		waitpid(s->guard, NULL, 0);
		s->guard = 0;
	}
	if (s->pid > 0) {
		kill(-s->pid, SIGTERM);
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 100 && kill(s->pid, 0) == 0; i++) {
			(void)waitpid(s->pid, NULL, WNOHANG);
			usleep(100000);
		}
		s->pid = 0;
	}
	if (s->dir[0]) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", s->dir);
		s->dir[0] = 0;
	}
}

static int
orthanc_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	*state = s;
	return s && orthanc_start(s, NULL) == 0 ? 0 : -1;
}

static int
auth_orthanc_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	*state = s;
	return s && orthanc_start(s, "radpipe:right-password") == 0 ? 0 : -1;
}

/* tests/net/fake_stow.py, its port read from its first line. */
static int
fake_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	*state = s;
	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/rp-stowfake.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	int fd[2];
	if (pipe(fd) != 0)
		return -1;
	char script[600];
	snprintf(script, sizeof(script), "%s/tests/net/fake_stow.py", getenv("RADPIPE_SOURCE_DIR"));
	s->pid = fork();
	if (s->pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execl("/usr/bin/python3", "python3", script, s->dir, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char line[32] = "";
	FILE *f = fdopen(fd[0], "r");
	if (!f || !fgets(line, sizeof(line), f))
		line[0] = 0;
	if (f)
		fclose(f);
	s->http = (uint16_t)atoi(line);
	guard_start(s);
	return s->http ? 0 : -1;
}

static int
server_teardown(void **state)
{
	struct server *s = *state;
	if (s) {
		server_stop(s);
		free(s);
	}
	return 0;
}

static int
sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static size_t
count_in_file(const char *path, const char *needle)
{
	size_t size = 0, n = 0;
	uint8_t *data = rp_test_read_file(path, &size);
	assert_non_null(data);
	/* The file's bytes are not NUL-terminated. */
	size_t l = strlen(needle);
	for (const uint8_t *p = data, *end = data + size; (p = memmem(p, (size_t)(end - p), needle, l));
	     p++)
		n++;
	free(data);
	return n;
}

static void
test_into_orthanc(void **state)
{
	struct server *s = *state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	char url[128], audit_path[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/dicom-web", s->http);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.log", s->dir);
	struct rp_audit *audit = NULL;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_audit_open(audit_path, &audit, &err), &err);
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	assert_int_equal(o.timeout_s, 60);
	assert_int_equal(o.max_batch_bytes, 64u << 20);
	o.url = url;
	o.audit = audit;
	struct rp_store_result res[NFILES];
	/* All in one request (the default batch), then each in its own (a one-byte batch
	 * still takes one instance per request): the second delivery replaces, never adds. */
	for (int round = 0; round < 2; round++) {
		o.max_batch_bytes = round ? 1 : (size_t)64 << 20;
		RP_ASSERT_OK(rp_stow_send(&o, ptrs, NFILES, res, &err), &err);
		for (size_t i = 0; i < NFILES; i++) {
			assert_int_equal(res[i].status, RP_OK);
			assert_int_equal(res[i].dimse_status, 200);
			assert_int_equal(res[i].decoded, 0);
			assert_string_equal(res[i].message, "");
		}
	}
	rp_audit_close(audit);
	assert_int_equal(count_in_file(audit_path, "\"event\":\"delivered\""), 2 * NFILES);
	assert_int_equal(count_in_file(audit_path, "\"event\":\"failed\""), 0);
	assert_int_equal(sh("test \"$(python3 '%s/tests/net/orthanc.py' count %u)\" = %zu",
			    getenv("RADPIPE_SOURCE_DIR"), s->http, NFILES), 0);
	char cmd[8192];
	size_t at = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/net/orthanc.py' "
				     "check %u", getenv("RADPIPE_SOURCE_DIR"), s->http);
	for (size_t i = 0; i < NFILES; i++)
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " '%s'", paths[i]);
	assert_int_equal(system(cmd), 0);
}

/* A text file is refused before sending (no SOP Instance UID to match an answer with);
 * an instance without Study Instance UID (a self-made Part 10 file) is sent and refused
 * by Orthanc, which answers HTTP 400 and lists it in FailedSOPSequence (FailureReason
 * 0xC000) and the others as stored. */
static void
test_refused_in_batch(void **state)
{
	struct server *s = *state;
	char url[128], junk[128], nostudy[128], a[600], b[600];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/dicom-web/", s->http);
	snprintf(junk, sizeof(junk), "%s/notes.txt", s->dir);
	snprintf(nostudy, sizeof(nostudy), "%s/nostudy.dcm", s->dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("this is a text file, not an instance\n", f);
	fclose(f);
	assert_int_equal(sh("/usr/bin/python3 - '%s' <<'PY'\n"
			    "import sys, pydicom\n"
			    "from pydicom.dataset import Dataset, FileMetaDataset\n"
			    "ds = Dataset()\n"
			    "ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.7'\n"
			    "ds.SOPInstanceUID = '1.2.826.0.1.3680043.10.1078.7.1'\n"
			    "ds.file_meta = FileMetaDataset()\n"
			    "ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID\n"
			    "ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID\n"
			    "ds.file_meta.TransferSyntaxUID = '1.2.840.10008.1.2.1'\n"
			    "ds.is_little_endian = True; ds.is_implicit_VR = False\n"
			    "ds.save_as(sys.argv[1], write_like_original=False)\n"
			    "PY", nostudy), 0);
	snprintf(a, sizeof(a), "%s/ct/wg04/CT2_UNC.dcm", rp_test_corpus_dir());
	snprintf(b, sizeof(b), "%s/mr/wg04/MR1_UNC.dcm", rp_test_corpus_dir());
	const char *ptrs[] = {a, junk, nostudy, b};
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	o.url = url;
	struct rp_store_result res[4];
	struct rp_errbuf err = {""};
	assert_int_equal(rp_stow_send(&o, ptrs, 4, res, &err), RP_E_CORRUPT);
	assert_non_null(strstr(err.msg, "notes.txt"));
	assert_int_equal(res[0].status, RP_OK);
	assert_int_equal(res[3].status, RP_OK);
	assert_int_equal(res[1].status, RP_E_CORRUPT);
	assert_int_equal(res[1].dimse_status, 0xFFFF);
	assert_non_null(strstr(res[1].message, "not a DICOM Part 10 instance"));
	assert_int_equal(res[2].status, RP_E_PROTOCOL);
	assert_int_equal(res[2].dimse_status, 0xC000);
	assert_non_null(strstr(res[2].message, "HTTP 400, FailureReason 0xC000"));
	fprintf(stderr, "text file: %s\nno study:  %s\n", res[1].message, res[2].message);
	assert_int_equal(sh("test \"$(python3 '%s/tests/net/orthanc.py' count %u)\" = 2",
			    getenv("RADPIPE_SOURCE_DIR"), s->http), 0);
	assert_int_equal(sh("/usr/bin/python3 '%s/tests/net/orthanc.py' check %u '%s' '%s'",
			    getenv("RADPIPE_SOURCE_DIR"), s->http, a, b), 0);
}

static void
test_wrong_password(void **state)
{
	struct server *s = *state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/dicom-web", s->http);
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	o.url = url;
	o.user_password = "radpipe:wrong-password";
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};
	assert_int_equal(rp_stow_send(&o, ptrs, NFILES, res, &err), RP_E_AUTH);
	for (size_t i = 0; i < NFILES; i++) {
		assert_int_equal(res[i].status, RP_E_AUTH);
		assert_int_equal(res[i].dimse_status, 401);
		assert_non_null(strstr(res[i].message, "refused the user and password"));
	}
	o.user_password = NULL;
	assert_int_equal(rp_stow_send(&o, ptrs, 1, res, &err), RP_E_AUTH);
	assert_non_null(strstr(res[0].message, "asks for a user and password"));
	assert_int_equal(sh("ORTHANC_USERS=radpipe:right-password python3 '%s/tests/net/orthanc.py'"
			    " count %u | grep -qx 0", getenv("RADPIPE_SOURCE_DIR"), s->http), 0);
	o.user_password = "radpipe:right-password";
	RP_ASSERT_OK(rp_stow_send(&o, ptrs, NFILES, res, &err), &err);
	assert_int_equal(sh("ORTHANC_USERS=radpipe:right-password python3 '%s/tests/net/orthanc.py'"
			    " count %u | grep -qx %zu", getenv("RADPIPE_SOURCE_DIR"), s->http,
			    NFILES), 0);
}

static void
test_server_down(void **state)
{
	(void)state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/dicom-web", rp_test_free_port());
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	o.url = url;
	o.max_batch_bytes = 1;       /* the requests after the first are not tried */
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};
	assert_int_equal(rp_stow_send(&o, ptrs, NFILES, res, &err), RP_E_NET);
	for (size_t i = 0; i < NFILES; i++) {
		assert_int_equal(res[i].status, RP_E_NET);
		assert_int_equal(res[i].dimse_status, 0xFFFF);
		assert_true(res[i].message[0] != 0);
	}
	assert_non_null(strstr(res[NFILES - 1].message, "an earlier request failed"));
}

/* The request as the fake server got it: the multipart/related headers, and each part
 * the file's bytes exactly, in order. */
static void
test_request_bytes(void **state)
{
	struct server *s = *state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/record", s->http);
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	o.url = url;
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_stow_send(&o, ptrs, NFILES, res, &err), &err);
	char cmd[16384];
	size_t at = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 - '%s'", s->dir);
	for (size_t i = 0; i < NFILES; i++)
		at += (size_t)snprintf(cmd + at, sizeof(cmd) - at, " '%s'", paths[i]);
	snprintf(cmd + at, sizeof(cmd) - at, "%s",
		 " <<'PY'\n"
		 "import re, sys\n"
		 "d = sys.argv[1]; files = sys.argv[2:]\n"
		 "hdr = open(d + '/request.hdr').read(); body = open(d + '/request.bin', 'rb').read()\n"
		 "m = re.search(r'^Content-Type: multipart/related; type=\"application/dicom\"; "
		 "boundary=(\\S+)$', hdr, re.M | re.I)\n"
		 "assert m, hdr\n"
		 "assert re.search(r'^Accept: application/dicom\\+json', hdr, re.M | re.I), hdr\n"
		 "b = m.group(1).encode()\n"
		 "want = b''.join(b'--' + b + b'\\r\\nContent-Type: application/dicom\\r\\n\\r\\n' + "
		 "open(f, 'rb').read() + b'\\r\\n' for f in files) + b'--' + b + b'--\\r\\n'\n"
		 "assert body == want, (len(body), len(want))\n"
		 "PY\n");
	assert_int_equal(system(cmd), 0);
}

static void
test_fake_answers(void **state)
{
	struct server *s = *state;
	char paths[NFILES][600];
	const char *ptrs[NFILES];
	paths_of(paths, ptrs);
	char url[128];
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	o.url = url;
	struct rp_store_result res[NFILES];
	struct rp_errbuf err = {""};

	/* 202: one failed for lack of resources, one stored with a warning, the rest not
	 * named, which is nothing to count as stored. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/partial", s->http);
	assert_int_equal(rp_stow_send(&o, ptrs, NFILES, res, &err), RP_E_NOSPACE);
	assert_int_equal(res[0].status, RP_E_NOSPACE);
	assert_int_equal(res[0].dimse_status, 0xA700);
	assert_non_null(strstr(res[0].message, "FailureReason 0xA700"));
	assert_int_equal(res[1].status, RP_OK);
	assert_int_equal(res[1].dimse_status, 202);
	for (size_t i = 2; i < NFILES; i++) {
		assert_int_equal(res[i].status, RP_E_PROTOCOL);
		assert_non_null(strstr(res[i].message, "does not name this instance"));
	}

	/* DICOM XML. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/xml", s->http);
	assert_int_equal(rp_stow_send(&o, ptrs, NFILES, res, &err), RP_E_PROTOCOL);
	for (size_t i = 0; i + 1 < NFILES; i++)
		assert_int_equal(res[i].status, RP_OK);
	assert_int_equal(res[NFILES - 1].status, RP_E_PROTOCOL);
	assert_int_equal(res[NFILES - 1].dimse_status, 0x0110);

	/* Answers that cannot be read: every instance says so, none counts as stored. */
	static const struct {
		const char *mode;
		int status;
		const char *says;
	} bad[] = {
		{"junk", RP_E_PROTOCOL, "not a DICOM JSON Store Instances Response"},
		{"deep", RP_E_PROTOCOL, "not a DICOM JSON Store Instances Response"},
		{"huge", RP_E_PROTOCOL, "longer than"},
		{"bare", RP_E_PROTOCOL, "not a DICOM JSON Store Instances Response"},
		{"cut", RP_E_NET, "transfer closed"},
		{"busy", RP_E_NET, "HTTP 503"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s", s->http, bad[k].mode);
		int st = rp_stow_send(&o, ptrs, NFILES, res, &err);
		if (st != bad[k].status || !strstr(res[0].message, bad[k].says))
			fail_msg("%s: %s, \"%s\"", bad[k].mode, rp_status_name(st), res[0].message);
		for (size_t i = 0; i < NFILES; i++) {
			assert_int_equal(res[i].status, bad[k].status);
			assert_string_equal(res[i].message, res[0].message);
		}
		fprintf(stderr, "%-5s -> %s: %s\n", bad[k].mode, rp_status_name(st), res[0].message);
	}

	/* A server that takes the request and never answers: a network error once no byte
	 * has moved for timeout_s (2 s here rather than the default minute, to keep the test
	 * short; the default itself is asserted in test_into_orthanc). */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/stall", s->http);
	o.timeout_s = 2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rp_stow_send(&o, ptrs, NFILES, res, &err), RP_E_NET);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "stall -> %s after %.1f s\n", res[0].message, took);
	/* libcurl judges the rate over its last few seconds: about timeout_s + 5 s. */
	assert_true(took >= 2 && took < 20);
	for (size_t i = 0; i < NFILES; i++)
		assert_int_equal(res[i].status, RP_E_NET);
}

static void
test_bad_arguments(void **state)
{
	(void)state;
	struct rp_stow_options o;
	rp_stow_options_init(&o);
	struct rp_store_result res[1];
	struct rp_errbuf err = {""};
	const char *p[] = {"x"};
	assert_int_equal(rp_stow_send(&o, p, 1, res, &err), RP_E_INVALID_ARG);
	o.url = "ftp://127.0.0.1/dicom-web";
	assert_int_equal(rp_stow_send(&o, p, 1, res, &err), RP_E_INVALID_ARG);
	assert_non_null(strstr(err.msg, "http://"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_server_down),
		cmocka_unit_test_setup_teardown(test_request_bytes, fake_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_fake_answers, fake_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_into_orthanc, orthanc_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_refused_in_batch, orthanc_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, auth_orthanc_setup,
						server_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
