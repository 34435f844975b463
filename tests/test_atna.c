/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_atna.c - the audit trail sent on as IHE ATNA syslog messages: the lines
 * rp_audit_append writes for a received, a delivered and a failed instance reach a
 * Python repository (tests/net/atna_listener.py) over UDP, over TCP with octet counting
 * and over mutually authenticated TLS, as RFC 5424 messages whose DICOM audit XML names
 * the event, the outcome, both AE titles with their roles, the study, SOP class and
 * instance; a value full of XML specials arrives as it was; an event that is no transfer
 * sends nothing; a repository that closes the connection after each message loses none;
 * one that is not there, or whose certificate we do not trust, costs messages (counted,
 * logged), never an append; the Storage SCP taking an instance from storescu reports it
 * with the file's UIDs and the caller's AE title and address, the SCU's delivery into
 * storescp with ours and the PACS's; --atna values are parsed or refused with a reason. */
#include "test_util.h"

#include <radpipe/atna.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const uint8_t kSha[32] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const char kShaHex[] =
	"deadbeef01020304050607080900000000000000000000000000000000000000";
static const char kHostile[] = "refused: \"quoted\" <tag> & 'apos'";

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[8192];

static void
on_log(void *ctx, const char *line)
{
	(void)ctx;
	pthread_mutex_lock(&g_mu);
	size_t n = strlen(g_log);
	snprintf(g_log + n, sizeof(g_log) - n, "%s\n", line);
	pthread_mutex_unlock(&g_mu);
}

/* Certificates for tls://: "ca" signs arr (the repository) and gateway (us). */
static char g_pki[64];

static void
pki_path(char *out, size_t cap, const char *name, const char *ext)
{
	snprintf(out, cap, "%s/%s.%s", g_pki, name, ext);
}

static void
send_to_listener(const char *kind)
{
	char dir[] = "/tmp/rp-atna.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char expect[300], logpath[300], cmd[2048];
	snprintf(expect, sizeof(expect), "%s/expect.json", dir);
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	FILE *f = fopen(expect, "w");
	assert_non_null(f);
	fprintf(f,
		"[{\"host\":\"gw-test\",\"action\":\"C\",\"outcome\":\"0\",\"study\":\"1.2.3\","
		"\"sop\":\"1.2.3.4\",\"sop_class\":\"1.2.840.10008.5.1.4.1.1.2\",\"sha256\":\"%s\","
		"\"participants\":[[\"CT01\",\"true\",\"110153\",\"10.1.2.3\"],"
		"[\"GATEWAY\",\"false\",\"110152\",\"gw-test\"]]},"
		"{\"host\":\"gw-test\",\"action\":\"R\",\"outcome\":\"0\",\"study\":\"1.2.3\","
		"\"sop\":\"1.2.3.5\",\"sop_class\":\"1.2.840.10008.5.1.4.1.1.4\","
		"\"participants\":[[\"GATEWAY\",\"true\",\"110153\",\"gw-test\"],"
		"[\"PACS\",\"false\",\"110152\",\"pacs.example\"]]},"
		"{\"host\":\"gw-test\",\"action\":\"C\",\"outcome\":\"8\",\"study\":\"\","
		"\"sop\":\"1.2.3.6\",\"sop_class\":\"1.2.840.10008.5.1.4.1.1.7\","
		"\"detail\":\"refused: \\\"quoted\\\" <tag> & 'apos'\","
		"\"participants\":[[\"EV\\\"<&>IL\",\"true\",\"110153\",\"10.0.0.9\"],"
		"[\"GATEWAY\",\"false\",\"110152\",\"gw-test\"]]}]\n",
		kShaHex);
	fclose(f);
	uint16_t port = rp_test_free_port();
	char arr_cert[128], arr_key[128], ca[128], cert[128], key[128];
	pki_path(arr_cert, sizeof(arr_cert), "arr", "pem");
	pki_path(arr_key, sizeof(arr_key), "arr", "key");
	pki_path(ca, sizeof(ca), "ca", "pem");
	pki_path(cert, sizeof(cert), "gateway", "pem");
	pki_path(key, sizeof(key), "gateway", "key");
	bool tls = strcmp(kind, "tls") == 0;
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/net/atna_listener.py' %s %u 3 '%s' %s%s%s %s",
		 getenv("RADPIPE_SOURCE_DIR"), kind, port, expect, tls ? arr_cert : "",
		 tls ? " " : "", tls ? arr_key : "", tls ? ca : "");
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[4096] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "ready\n");

	struct rp_errbuf err = {""};
	struct rp_audit *audit;
	RP_ASSERT_OK(rp_audit_open(logpath, &audit, &err), &err);
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	char url[64];
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u", kind, port);
	o.url = url;
	o.ae_title = "GATEWAY";
	o.source_id = "gw-test";
	o.log = on_log;
	if (tls) {
		o.tls_cert = cert;
		o.tls_key = key;
		o.tls_ca = ca;
	}
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&o, &atna, &err), &err);
	rp_audit_set_atna(audit, atna);
	struct rp_audit_event evs[] = {
		{.event = "received", .sop_instance_uid = "1.2.3.4", .study_uid = "1.2.3",
		 .peer = "CT01@10.1.2.3", .sha256 = kSha,
		 .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2", .direction = RP_AUDIT_IN},
		/* Not an instance transfer: in the file, not sent. */
		{.event = "note", .detail = "operator restarted the gateway"},
		{.event = "delivered", .sop_instance_uid = "1.2.3.5", .study_uid = "1.2.3",
		 .peer = "PACS@pacs.example:104", .sop_class_uid = "1.2.840.10008.5.1.4.1.1.4",
		 .direction = RP_AUDIT_OUT},
		{.event = "failed", .sop_instance_uid = "1.2.3.6", .peer = "EV\"<&>IL@10.0.0.9",
		 .detail = kHostile, .sop_class_uid = "1.2.840.10008.5.1.4.1.1.7",
		 .direction = RP_AUDIT_IN},
	};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		RP_ASSERT_OK(rp_audit_append(audit, &evs[i], &err), &err);
	rp_audit_set_atna(audit, NULL);
	struct rp_atna_stats st;
	rp_atna_get_stats(atna, &st);
	assert_int_equal(st.queued, 3);
	rp_atna_close(atna);
	rp_audit_close(audit);
	line[0] = 0;
	size_t got = fread(line, 1, sizeof(line) - 1, p);
	line[got] = 0;
	int rc = pclose(p);
	if (rc != 0)
		fail_msg("%s listener: %s\nour log: %s", kind, line, g_log);
	assert_string_equal(line, "ok 3\n");
	struct rp_audit_summary sum;
	RP_ASSERT_OK(rp_audit_verify(logpath, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.lines, 4);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_udp(void **state)
{
	(void)state;
	send_to_listener("udp");
}

static void
test_tcp(void **state)
{
	(void)state;
	send_to_listener("tcp");
}

static void
test_tls(void **state)
{
	(void)state;
	send_to_listener("tls");
}

/* A repository whose certificate is of a CA we do not trust gets nothing. */
static void
test_tls_untrusted_repository(void **state)
{
	(void)state;
	char cmd[2048], arr_cert[128], arr_key[128], ca[128], other_ca[128], cert[128], key[128];
	pki_path(arr_cert, sizeof(arr_cert), "arr", "pem");
	pki_path(arr_key, sizeof(arr_key), "arr", "key");
	pki_path(ca, sizeof(ca), "ca", "pem");
	snprintf(other_ca, sizeof(other_ca), "%s/other/ca.pem", g_pki);
	pki_path(cert, sizeof(cert), "gateway", "pem");
	pki_path(key, sizeof(key), "gateway", "key");
	uint16_t port = rp_test_free_port();
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/net/atna_listener.py' tls %u 1 /dev/null "
		 "'%s' '%s' '%s'", getenv("RADPIPE_SOURCE_DIR"), port, arr_cert, arr_key, ca);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[1024] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "ready\n");
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	char url[64];
	snprintf(url, sizeof(url), "tls://127.0.0.1:%u", port);
	o.url = url;
	o.tls_cert = cert;
	o.tls_key = key;
	o.tls_ca = other_ca;
	o.log = on_log;
	g_log[0] = 0;
	struct rp_errbuf err = {""};
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&o, &atna, &err), &err);
	struct rp_audit_event ev = {.event = "received", .sop_instance_uid = "1.2.3.4",
				    .study_uid = "1.2.3", .peer = "CT01@10.1.2.3",
				    .direction = RP_AUDIT_IN};
	assert_int_equal(rp_atna_submit(atna, &ev), 1);
	rp_atna_close(atna);
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	assert_true(pclose(p) != 0);
	assert_non_null(strstr(line, "handshake failed"));
	pthread_mutex_lock(&g_mu);
	/* OpenSSL's reason for a chain ending at a CA not in the bundle. */
	bool logged = strstr(g_log, "TLS handshake: self-signed certificate in certificate "
				    "chain") != NULL;
	pthread_mutex_unlock(&g_mu);
	if (!logged)
		fail_msg("no TLS refusal logged: %s", g_log);
	/* Missing or mismatched files are found at open. */
	o.tls_key = arr_key;
	o.tls_ca = ca;
	assert_int_equal(rp_atna_open(&o, &atna, &err), RP_E_INVALID_ARG);
	assert_non_null(strstr(err.msg, "not the unencrypted PEM key"));
	o.tls_key = "/nonexistent/key.pem";
	assert_int_equal(rp_atna_open(&o, &atna, &err), RP_E_IO);
	o.tls_key = NULL;
	assert_int_equal(rp_atna_open(&o, &atna, &err), RP_E_INVALID_ARG);
}

static int
setup_pki(void **state)
{
	(void)state;
	snprintf(g_pki, sizeof(g_pki), "/tmp/rp-atna-pki.XXXXXX");
	if (!mkdtemp(g_pki))
		return -1;
	char other[128];
	snprintf(other, sizeof(other), "%s/other", g_pki);
	struct rp_errbuf err = {""};
	if (mkdir(other, 0700) != 0 || rp_tls_keygen(g_pki, NULL, NULL, &err) != RP_OK ||
	    rp_tls_keygen(g_pki, "arr", g_pki, &err) != RP_OK ||
	    rp_tls_keygen(g_pki, "gateway", g_pki, &err) != RP_OK ||
	    rp_tls_keygen(other, NULL, NULL, &err) != RP_OK) {
		fprintf(stderr, "keygen: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
teardown_pki(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_pki);
	return system(cmd) == 0 ? 0 : -1;
}

/* A repository that closes the connection after each message (an idle timeout, a
 * restart) loses none of them: each later one comes on a new connection. */
static void
test_tcp_reconnects(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-atna.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char expect[300], cmd[2048];
	snprintf(expect, sizeof(expect), "%s/expect.json", dir);
	FILE *f = fopen(expect, "w");
	assert_non_null(f);
	fputs("[", f);
	for (int i = 0; i < 3; i++)
		fprintf(f, "%s{\"host\":\"gw-test\",\"action\":\"C\",\"outcome\":\"0\","
			"\"study\":\"1.2.3\",\"sop\":\"1.2.3.%d\",\"sop_class\":\"1.2.840.10008.5.1.4.1.1.2\","
			"\"participants\":[[\"CT01\",\"true\",\"110153\",\"10.1.2.3\"],"
			"[\"RADPIPE\",\"false\",\"110152\",\"gw-test\"]]}", i ? "," : "", i + 1);
	fputs("]\n", f);
	fclose(f);
	uint16_t port = rp_test_free_port();
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/net/atna_listener.py' tcp-close %u 3 '%s'",
		 getenv("RADPIPE_SOURCE_DIR"), port, expect);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[4096] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "ready\n");
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	o.url = url;
	o.source_id = "gw-test";
	struct rp_errbuf err = {""};
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&o, &atna, &err), &err);
	for (int i = 0; i < 3; i++) {
		char sop[32];
		snprintf(sop, sizeof(sop), "1.2.3.%d", i + 1);
		struct rp_audit_event ev = {.event = "received", .sop_instance_uid = sop,
					    .study_uid = "1.2.3", .peer = "CT01@10.1.2.3",
					    .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2",
					    .direction = RP_AUDIT_IN};
		assert_int_equal(rp_atna_submit(atna, &ev), 1);
		usleep(500000); /* the repository has closed by the next one */
	}
	struct rp_atna_stats st;
	for (int i = 0; i < 100; i++) {
		rp_atna_get_stats(atna, &st);
		if (st.sent + st.dropped == 3)
			break;
		usleep(50000);
	}
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.dropped, 0);
	rp_atna_close(atna);
	size_t got = fread(line, 1, sizeof(line) - 1, p);
	line[got] = 0;
	if (pclose(p) != 0)
		fail_msg("listener: %s", line);
	assert_string_equal(line, "ok 3\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_repository_away(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-atna.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char logpath[300], url[64];
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", rp_test_free_port());
	struct rp_errbuf err = {""};
	struct rp_audit *audit;
	RP_ASSERT_OK(rp_audit_open(logpath, &audit, &err), &err);
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	o.url = url;
	o.queue_max = 4;
	o.log = on_log;
	g_log[0] = 0;
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&o, &atna, &err), &err);
	rp_audit_set_atna(audit, atna);
	enum { N = 40 };
	for (int i = 0; i < N; i++) {
		char sop[32];
		snprintf(sop, sizeof(sop), "1.2.3.%d", i + 1);
		struct rp_audit_event ev = {.event = "received", .sop_instance_uid = sop,
					    .study_uid = "1.2.3", .peer = "CT01@10.1.2.3",
					    .direction = RP_AUDIT_IN};
		RP_ASSERT_OK(rp_audit_append(audit, &ev, &err), &err);
	}
	rp_audit_set_atna(audit, NULL);
	/* Every append went through; the queue of 4 overflowed while the sender waited
	 * out its failed connect. */
	struct rp_atna_stats st;
	rp_atna_get_stats(atna, &st);
	assert_int_equal(st.sent, 0);
	assert_true(st.dropped > 0);
	assert_int_equal(st.queued + st.dropped >= N, 1);
	rp_atna_close(atna);
	rp_audit_close(audit);
	struct rp_audit_summary sum;
	RP_ASSERT_OK(rp_audit_verify(logpath, NULL, NULL, &sum, &err), &err);
	assert_int_equal(sum.lines, N);
	pthread_mutex_lock(&g_mu);
	bool logged = strstr(g_log, "\"event\":\"atna_dropped\"") != NULL &&
		      strstr(g_log, "connect: Connection refused") != NULL;
	pthread_mutex_unlock(&g_mu);
	if (!logged)
		fail_msg("no atna_dropped line with the reason: %s", g_log);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_scp_reports_received(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-atna.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char expect[300], logpath[300], file[600], cmd[2048];
	snprintf(expect, sizeof(expect), "%s/expect.json", dir);
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	snprintf(file, sizeof(file), "%s/ct/pydicom/CT_small.dcm", rp_test_corpus_dir());
	FILE *f = fopen(expect, "w");
	assert_non_null(f);
	fprintf(f, "[{\"host\":\"gw-test\",\"action\":\"C\",\"outcome\":\"0\",\"file\":\"%s\","
		"\"participants\":[[\"MODALITY1\",\"true\",\"110153\",\"127.0.0.1\"],"
		"[\"RADPIPE\",\"false\",\"110152\",\"gw-test\"]]}]\n", file);
	fclose(f);
	uint16_t aport = rp_test_free_port();
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/net/atna_listener.py' udp %u 1 '%s'",
		 getenv("RADPIPE_SOURCE_DIR"), aport, expect);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[4096] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "ready\n");

	struct rp_errbuf err = {""};
	struct rp_audit *audit;
	RP_ASSERT_OK(rp_audit_open(logpath, &audit, &err), &err);
	char url[64];
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", aport);
	struct rp_atna_options ao;
	rp_atna_options_init(&ao);
	ao.url = url;
	ao.source_id = "gw-test";
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&ao, &atna, &err), &err);
	rp_audit_set_atna(audit, atna);
	struct rp_store_scp_options o;
	rp_store_scp_options_init(&o);
	o.port = rp_test_free_port();
	o.dir = dir;
	o.audit = audit;
	struct rp_test_scp r;
	rp_test_scp_start(&r, &o, NULL);
	int sent = 1;
	for (int i = 0; i < 50 && sent != 0; i++) {
		snprintf(cmd, sizeof(cmd), "storescu -q -aet MODALITY1 127.0.0.1 %u '%s' 2>/dev/null",
			 o.port, file);
		if ((sent = system(cmd)) != 0)
			usleep(100000);
	}
	assert_int_equal(sent, 0);
	rp_test_scp_stop(&r);
	rp_audit_set_atna(audit, NULL);
	rp_atna_close(atna);
	rp_audit_close(audit);
	size_t got = fread(line, 1, sizeof(line) - 1, p);
	line[got] = 0;
	if (pclose(p) != 0)
		fail_msg("listener: %s", line);
	assert_string_equal(line, "ok 1\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The SCU's delivered line: our AE title as the requestor and source, the PACS's as the
 * destination, the UIDs read from the file delivered. */
static void
test_scu_reports_delivered(void **state)
{
	(void)state;
	char dir[] = "/tmp/rp-atna.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char expect[300], logpath[300], file[600], cmd[2048], out[320];
	snprintf(expect, sizeof(expect), "%s/expect.json", dir);
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	snprintf(out, sizeof(out), "%s/pacs", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	snprintf(file, sizeof(file), "%s/mr/pydicom/MR_small.dcm", rp_test_corpus_dir());
	FILE *f = fopen(expect, "w");
	assert_non_null(f);
	fprintf(f, "[{\"host\":\"gw-test\",\"action\":\"R\",\"outcome\":\"0\",\"file\":\"%s\","
		"\"participants\":[[\"RADPIPE\",\"true\",\"110153\",\"gw-test\"],"
		"[\"PACS\",\"false\",\"110152\",\"127.0.0.1\"]]}]\n", file);
	fclose(f);
	uint16_t aport = rp_test_free_port(), dport = rp_test_free_port();
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/net/atna_listener.py' udp %u 1 '%s'",
		 getenv("RADPIPE_SOURCE_DIR"), aport, expect);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[4096] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "ready\n");
	pid_t scp = fork();
	if (scp == 0) {
		char portstr[8];
		snprintf(portstr, sizeof(portstr), "%u", dport);
		freopen("/dev/null", "w", stdout);
		execlp("storescp", "storescp", "-aet", "PACS", "-od", out, portstr, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd), "echoscu -q -aec PACS 127.0.0.1 %u 2>/dev/null", dport);
		if (system(cmd) == 0)
			break;
		usleep(100000);
	}
	struct rp_errbuf err = {""};
	struct rp_audit *audit;
	RP_ASSERT_OK(rp_audit_open(logpath, &audit, &err), &err);
	char url[64];
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", aport);
	struct rp_atna_options ao;
	rp_atna_options_init(&ao);
	ao.url = url;
	ao.source_id = "gw-test";
	struct rp_atna *atna;
	RP_ASSERT_OK(rp_atna_open(&ao, &atna, &err), &err);
	rp_audit_set_atna(audit, atna);
	struct rp_store_scu_options o;
	rp_store_scu_options_init(&o);
	o.called_ae = "PACS";
	o.host = "127.0.0.1";
	o.port = dport;
	o.audit = audit;
	const char *paths[] = {file};
	struct rp_store_result res[1];
	int st = rp_store_scu_send(&o, paths, 1, res, &err);
	kill(scp, SIGTERM);
	waitpid(scp, NULL, 0);
	RP_ASSERT_OK(st, &err);
	rp_audit_set_atna(audit, NULL);
	rp_atna_close(atna);
	rp_audit_close(audit);
	size_t got = fread(line, 1, sizeof(line) - 1, p);
	line[got] = 0;
	if (pclose(p) != 0)
		fail_msg("listener: %s", line);
	assert_string_equal(line, "ok 1\n");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_parse_url(void **state)
{
	(void)state;
	enum rp_atna_transport t;
	char host[64];
	uint16_t port;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp_atna_parse_url("udp://arr.example:514", &t, host, sizeof(host), &port,
				       &err), &err);
	assert_int_equal(t, RP_ATNA_UDP);
	assert_string_equal(host, "arr.example");
	assert_int_equal(port, 514);
	RP_ASSERT_OK(rp_atna_parse_url("tcp://[::1]:6514", &t, host, sizeof(host), &port, &err),
		     &err);
	assert_int_equal(t, RP_ATNA_TCP);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 6514);
	RP_ASSERT_OK(rp_atna_parse_url("tls://10.0.0.7:6514", &t, host, sizeof(host), &port,
				       &err), &err);
	assert_int_equal(t, RP_ATNA_TLS);
	assert_string_equal(host, "10.0.0.7");
	static const char *const bad[] = {"syslog://a:514", "udp://a", "udp://:514",
					  "udp://a:0", "udp://a:65536", "tcp://a:51x",
					  "tcp://::1:514", "udp://a:-1", "tcp://[::1]514"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		assert_int_equal(rp_atna_parse_url(bad[i], &t, host, sizeof(host), &port, &err),
				 RP_E_INVALID_ARG);
		if (!strstr(err.msg, bad[i]))
			fail_msg("'%s': the error does not name the value: %s", bad[i], err.msg);
	}
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	o.url = "udp://no-such-host.invalid:514";
	struct rp_atna *a = NULL;
	assert_int_equal(rp_atna_open(&o, &a, &err), RP_E_NET);
	assert_null(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_tls_untrusted_repository),
		cmocka_unit_test(test_tcp_reconnects),
		cmocka_unit_test(test_repository_away),
		cmocka_unit_test(test_scp_reports_received),
		cmocka_unit_test(test_scu_reports_delivered),
		cmocka_unit_test(test_parse_url),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
