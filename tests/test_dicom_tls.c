/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_dicom_tls.c - DICOM TLS on the Storage SCP and SCU, with certificates of
 * rp_tls_keygen (EC P-256) and DCMTK's storescu/storescp as the other side: storescu
 * with a certificate of our CA stores instances equal to its files; a storescu without
 * TLS and one with a certificate of another CA are refused, logged, and the SCP goes on
 * serving; a caller that never starts its handshake holds the listener only for the
 * association timeout; unreadable or mismatched key files are refused at create; our SCU delivers
 * over TLS into storescp +tls, and is refused with a certificate storescp does not
 * trust, by a PACS without TLS, and when the PACS's certificate is not valid for the
 * host it dialled. */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Two CAs: "ca" with the leaves pacs, modality and gateway; "other" with intruder. */
static char g_pki[64];
/* storescp processes running, killed by the teardown when a test fails midway. */
static pid_t g_children[4];

static pid_t
spawn_storescp(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Its complaints about the refused callers are expected. */
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execvp("storescp", argv);
		_exit(127);
	}
	for (size_t i = 0; pid > 0 && i < 4; i++)
		if (!g_children[i]) {
			g_children[i] = pid;
			break;
		}
	return pid;
}

static void
reap(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (size_t i = 0; i < 4; i++)
		if (g_children[i] == pid)
			g_children[i] = 0;
}

static void
path_of(char *out, size_t cap, const char *name, const char *ext)
{
	snprintf(out, cap, "%s/%s.%s", g_pki, name, ext);
}

static int
setup_pki(void **state)
{
	(void)state;
	snprintf(g_pki, sizeof(g_pki), "/tmp/rp-dtls.XXXXXX");
	if (!mkdtemp(g_pki))
		return -1;
	char ca[128], other[128];
	snprintf(ca, sizeof(ca), "%s", g_pki);
	snprintf(other, sizeof(other), "%s/other", g_pki);
	if (mkdir(other, 0700) != 0)
		return -1;
	struct rp_errbuf err = {""};
	if (rp_tls_keygen(ca, NULL, NULL, &err) != RP_OK ||
	    rp_tls_keygen(ca, "pacs", ca, &err) != RP_OK ||
	    rp_tls_keygen(ca, "modality", ca, &err) != RP_OK ||
	    rp_tls_keygen(ca, "gateway", ca, &err) != RP_OK ||
	    rp_tls_keygen(other, NULL, NULL, &err) != RP_OK ||
	    rp_tls_keygen(ca, "intruder", other, &err) != RP_OK) {
		fprintf(stderr, "keygen: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
teardown_pki(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++)
		if (g_children[i])
			reap(g_children[i]);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_pki);
	return system(cmd) == 0 ? 0 : -1;
}

/* The SCP's log lines, for the refusals it must report. */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[16384];

static void
on_log(void *ctx, const char *line)
{
	(void)ctx;
	if (getenv("RP_TEST_VERBOSE"))
		fprintf(stderr, "scp: %s\n", line);
	pthread_mutex_lock(&g_log_mu);
	size_t n = strlen(g_log);
	snprintf(g_log + n, sizeof(g_log) - n, "%s\n", line);
	pthread_mutex_unlock(&g_log_mu);
}

static unsigned
log_count(const char *needle)
{
	unsigned n = 0;
	pthread_mutex_lock(&g_log_mu);
	for (const char *p = g_log; (p = strstr(p, needle)); p++)
		n++;
	pthread_mutex_unlock(&g_log_mu);
	return n;
}

static unsigned
count_dcm(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.dcm' -not -path '*/.incoming/*' | wc -l",
		 dir);
	FILE *p = popen(cmd, "r");
	unsigned n = 0;
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

/* storescu's TLS flags for a leaf of our PKI. */
static void
tls_flags(char *out, size_t cap, const char *leaf)
{
	char key[128], cert[128], ca[128];
	path_of(key, sizeof(key), leaf, "key");
	path_of(cert, sizeof(cert), leaf, "pem");
	path_of(ca, sizeof(ca), "ca", "pem");
	snprintf(out, cap, "+tls '%s' '%s' +cf '%s'", key, cert, ca);
}

static void
test_storescu_over_tls(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-dtls-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cert[128], key[128], ca[128];
	path_of(cert, sizeof(cert), "gateway", "pem");
	path_of(key, sizeof(key), "gateway", "key");
	path_of(ca, sizeof(ca), "ca", "pem");
	g_log[0] = 0;
	struct rp_store_scp_options o;
	rp_store_scp_options_init(&o);
	o.port = rp_test_free_port();
	o.dir = dir;
	o.log = on_log;
	o.tls_cert = cert;
	o.tls_key = key;
	o.tls_ca = ca;
	char good[512], bad[512], cmd[4096];
	tls_flags(good, sizeof(good), "modality");
	tls_flags(bad, sizeof(bad), "intruder");
	struct rp_test_scp r;
	rp_test_scp_start(&r, &o, good);
	static const char *const files[] = {"ct/wg04/CT1_JLSL.dcm", "mr/pydicom/MR_small.dcm",
					    "ct/pydicom/CT_small.dcm"};
	snprintf(cmd, sizeof(cmd), "storescu -q -R -xt %s 127.0.0.1 %u '%s/%s' '%s/%s'", good, o.port,
		 corpus, files[0], corpus, files[1]);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_dcm(dir), 2);

	/* A caller without TLS: the handshake fails on its A-ASSOCIATE-RQ. */
	snprintf(cmd, sizeof(cmd), "storescu -q 127.0.0.1 %u '%s/%s' 2>/dev/null", o.port, corpus,
		 files[2]);
	assert_true(system(cmd) != 0);
	/* A caller whose certificate chains to another CA. */
	snprintf(cmd, sizeof(cmd), "storescu -q %s 127.0.0.1 %u '%s/%s' 2>/dev/null", bad, o.port,
		 corpus, files[2]);
	assert_true(system(cmd) != 0);
	/* An anonymous TLS caller (no certificate at all). */
	snprintf(cmd, sizeof(cmd), "storescu -q +tla +cf '%s' 127.0.0.1 %u '%s/%s' 2>/dev/null", ca,
		 o.port, corpus, files[2]);
	assert_true(system(cmd) != 0);
	assert_int_equal(count_dcm(dir), 2);
	assert_true(log_count("\"event\":\"tls_refused\"") >= 3);
	assert_true(log_count("a client without TLS?") >= 1);
	assert_true(log_count("certificate verify failed") >= 1);
	assert_true(log_count("peer did not return a certificate") >= 1);
	/* ... and the SCP goes on serving the callers it trusts. */
	snprintf(cmd, sizeof(cmd), "storescu -q %s 127.0.0.1 %u '%s/%s'", good, o.port, corpus,
		 files[2]);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_dcm(dir), 3);
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd),
			 "dst=$(/usr/bin/python3 -c 'import pydicom,sys; d=pydicom.dcmread(sys.argv[1]); "
			 "print(\"%%s/%%s.dcm\" %% (d.StudyInstanceUID, d.SOPInstanceUID))' '%s/%s') && "
			 "/usr/bin/python3 '%s/tests/net/same_instance.py' '%s/%s' \"%s/$dst\"",
			 corpus, files[i], getenv("RADPIPE_SOURCE_DIR"), corpus, files[i], dir);
		if (system(cmd) != 0)
			fail_msg("%s: not stored, or not the same instance", files[i]);
	}
	rp_test_scp_stop(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A caller that connects and never starts its handshake holds DCMTK's listener, which
 * runs the handshake, only for the association timeout.  The timeout is 3 s here, not the
 * default 60, because what is tested is that there is a bound at all (without one the
 * SCP serves nobody ever again); the default is the same code path. */
static void
test_silent_caller_bounded(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-dtls-scp.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cert[128], key[128], ca[128];
	path_of(cert, sizeof(cert), "gateway", "pem");
	path_of(key, sizeof(key), "gateway", "key");
	path_of(ca, sizeof(ca), "ca", "pem");
	g_log[0] = 0;
	struct rp_store_scp_options o;
	rp_store_scp_options_init(&o);
	o.port = rp_test_free_port();
	o.dir = dir;
	o.log = on_log;
	o.timeout_s = 3;
	o.tls_cert = cert;
	o.tls_key = key;
	o.tls_ca = ca;
	char good[512], cmd[2048];
	tls_flags(good, sizeof(good), "modality");
	struct rp_test_scp r;
	rp_test_scp_start(&r, &o, good);
	int silent = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(o.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(silent, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(300000); /* the listener is in its handshake now */
	snprintf(cmd, sizeof(cmd), "timeout 30 storescu -q %s 127.0.0.1 %u '%s/mr/pydicom/MR_small.dcm'",
		 good, o.port, corpus);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_dcm(dir), 1);
	assert_true(log_count("no handshake within the association timeout") == 1);
	close(silent);
	rp_test_scp_stop(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_bad_key_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-dtls-bad.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cert[128], key[128], other_key[128], ca[128], missing[160], garbage[160];
	path_of(cert, sizeof(cert), "gateway", "pem");
	path_of(key, sizeof(key), "gateway", "key");
	path_of(other_key, sizeof(other_key), "pacs", "key");
	path_of(ca, sizeof(ca), "ca", "pem");
	snprintf(missing, sizeof(missing), "%s/nonexistent.key", dir);
	snprintf(garbage, sizeof(garbage), "%s/garbage.key", dir);
	FILE *f = fopen(garbage, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	struct {
		const char *cert, *key, *ca, *profile;
		int status;
		const char *says;
	} cases[] = {
		{cert, missing, ca, NULL, RP_E_IO, "No such file"},
		{cert, garbage, ca, NULL, RP_E_INVALID_ARG, "not an unencrypted PEM private key"},
		{key, key, ca, NULL, RP_E_INVALID_ARG, "not a PEM certificate"},
		{cert, other_key, ca, NULL, RP_E_INVALID_ARG, "is not the key of the certificate"},
		{cert, key, NULL, NULL, RP_E_INVALID_ARG, "CA bundle"},
		{cert, key, garbage, NULL, RP_E_INVALID_ARG, "no PEM certificate"},
		{cert, NULL, ca, NULL, RP_E_INVALID_ARG, "both a certificate and its private key"},
		{cert, key, ca, "tls1.0", RP_E_INVALID_ARG, "bcp195-nd"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rp_store_scp_options o;
		rp_store_scp_options_init(&o);
		o.port = 11112;
		o.dir = dir;
		o.tls_cert = cases[i].cert;
		o.tls_key = cases[i].key;
		o.tls_ca = cases[i].ca;
		o.tls_profile = cases[i].profile;
		struct rp_store_scp *scp = NULL;
		struct rp_errbuf err = {""};
		assert_int_equal(rp_store_scp_create(&o, &scp, &err), cases[i].status);
		assert_null(scp);
		if (!strstr(err.msg, cases[i].says))
			fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].says);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static pid_t
start_storescp(const char *dir, uint16_t port)
{
	char key[128], cert[128], ca[128], portstr[8];
	path_of(key, sizeof(key), "pacs", "key");
	path_of(cert, sizeof(cert), "pacs", "pem");
	path_of(ca, sizeof(ca), "ca", "pem");
	snprintf(portstr, sizeof(portstr), "%u", port);
	char *argv[] = {"storescp", "-aet", "PACS", "+tls", key, cert, "+cf", ca, "-od",
			(char *)dir, portstr, NULL};
	pid_t pid = spawn_storescp(argv);
	char flags[512], cmd[1024];
	tls_flags(flags, sizeof(flags), "modality");
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd), "echoscu -q -aec PACS %s 127.0.0.1 %u 2>/dev/null", flags,
			 port);
		if (system(cmd) == 0)
			break;
		usleep(100000);
	}
	return pid;
}

static void
test_scu_into_storescp_over_tls(void **state)
{
	(void)state;
	const char *corpus = rp_test_corpus_dir();
	char dir[] = "/tmp/rp-dtls-scu.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint16_t port = rp_test_free_port();
	pid_t scp = start_storescp(dir, port);
	assert_true(scp > 0);
	char a[600], b[600];
	snprintf(a, sizeof(a), "%s/mr/wg04/MR1_UNC.dcm", corpus);
	snprintf(b, sizeof(b), "%s/ct/pydicom/CT_small.dcm", corpus);
	const char *ptrs[] = {a, b};
	char cert[128], key[128], ca[128], icert[128], ikey[128];
	path_of(cert, sizeof(cert), "gateway", "pem");
	path_of(key, sizeof(key), "gateway", "key");
	path_of(ca, sizeof(ca), "ca", "pem");
	path_of(icert, sizeof(icert), "intruder", "pem");
	path_of(ikey, sizeof(ikey), "intruder", "key");
	struct rp_store_scu_options o;
	rp_store_scu_options_init(&o);
	o.called_ae = "PACS";
	o.host = "127.0.0.1";
	o.port = port;
	o.tls_cert = cert;
	o.tls_key = key;
	o.tls_ca = ca;
	struct rp_store_result res[2];
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_store_scu_send(&o, ptrs, 2, res, &err), &err);
	assert_int_equal(res[0].status, RP_OK);
	assert_int_equal(res[1].status, RP_OK);
	char cmd[4096];
	for (size_t i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "sop=$(/usr/bin/python3 -c 'import pydicom,sys; "
			 "print(pydicom.dcmread(sys.argv[1]).SOPInstanceUID)' '%s') && "
			 "/usr/bin/python3 '%s/tests/net/same_instance.py' '%s' %s/??.$sop",
			 ptrs[i], getenv("RADPIPE_SOURCE_DIR"), ptrs[i], dir);
		if (system(cmd) != 0)
			fail_msg("%s: not received by storescp, or not the same instance", ptrs[i]);
	}
	snprintf(cmd, sizeof(cmd), "test $(ls '%s' | wc -l) = 2", dir);
	assert_int_equal(system(cmd), 0);

	/* Our certificate from a CA storescp does not trust: nothing arrives. */
	o.tls_cert = icert;
	o.tls_key = ikey;
	assert_int_equal(rp_store_scu_send(&o, ptrs, 2, res, &err), RP_E_NET);
	assert_int_equal(res[0].status, RP_E_NET);
	/* The PACS's certificate is valid for pacs, localhost and 127.0.0.1, not for
	 * 127.0.0.2 (also loopback, so the connection itself succeeds). */
	o.tls_cert = cert;
	o.tls_key = key;
	o.host = "127.0.0.2";
	assert_int_equal(rp_store_scu_send(&o, ptrs, 2, res, &err), RP_E_NET);
	o.tls_skip_host_check = 1;
	RP_ASSERT_OK(rp_store_scu_send(&o, ptrs, 1, res, &err), &err);
	/* A PACS without TLS at the port is a network error, not a hang. */
	o.host = "127.0.0.1";
	o.port = rp_test_free_port();
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", o.port);
	char *argv[] = {"storescp", "-aet", "PACS", "-od", dir, portstr, NULL};
	pid_t plain = spawn_storescp(argv);
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd), "echoscu -q -aec PACS 127.0.0.1 %u 2>/dev/null", o.port);
		if (system(cmd) == 0)
			break;
		usleep(100000);
	}
	assert_int_equal(rp_store_scu_send(&o, ptrs, 2, res, &err), RP_E_NET);
	reap(plain);
	/* The TLS files are checked before anything is sent. */
	o.tls_key = icert;
	assert_int_equal(rp_store_scu_send(&o, ptrs, 2, res, &err), RP_E_INVALID_ARG);
	assert_int_equal(res[1].status, RP_E_INVALID_ARG);

	reap(scp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storescu_over_tls),
		cmocka_unit_test(test_silent_caller_bounded),
		cmocka_unit_test(test_bad_key_files),
		cmocka_unit_test(test_scu_into_storescp_over_tls),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
