/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_server_lifecycle.c - rp_server_destroy() with connections still open: it
 * ends them and joins their threads, so a process that embeds the receiver and restarts
 * it (a service reloading its configuration) keeps neither threads nor descriptors of
 * the old one. */
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
#include <unistd.h>

static unsigned
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct runner {
	struct rp_server *srv;
	int st;
};

static void *
run_server(void *arg)
{
	struct runner *r = arg;
	struct rp_errbuf err = {""};
	r->st = rp_server_run(r->srv, &err);
	return NULL;
}

static void *
idle_thread(void *arg)
{
	return arg;
}

static int
connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Peers that connect and then say nothing (one before its handshake ends, as over
 * TLS; plain-TCP ones waiting in HELLO) hold their connection threads until destroy. */
static void
destroy_ends_idle_connections(bool tls)
{
	char dir[] = "/tmp/rp-lifecycle.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char pki[300];
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	struct rp_errbuf err = {""};
	struct rp_serve_options o;
	rp_serve_options_init(&o);
	o.dir = dir;
	o.port = 0;
	if (tls) {
		RP_ASSERT_OK(rp_tls_keygen(pki, NULL, NULL, &err), &err);
		RP_ASSERT_OK(rp_tls_keygen(pki, "receiver", pki, &err), &err);
		static char cert[320], key[320], ca[320];
		snprintf(cert, sizeof(cert), "%s/receiver.pem", pki);
		snprintf(key, sizeof(key), "%s/receiver.key", pki);
		snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
		o.tls.cert_file = cert;
		o.tls.key_file = key;
		o.tls.ca_file = ca;
	} else {
		o.tls.insecure = 1;
	}
	/* ThreadSanitizer's runtime starts a helper thread of its own with the first
	 * pthread_create() of the process: let that happen before the count. */
	pthread_t warm;
	assert_int_equal(pthread_create(&warm, NULL, idle_thread, NULL), 0);
	assert_int_equal(pthread_join(warm, NULL), 0);
	unsigned tasks0 = count_entries("/proc/self/task");
	unsigned fds0 = count_entries("/proc/self/fd");

	for (int round = 0; round < 2; round++) {
		struct runner r = {0};
		RP_ASSERT_OK(rp_server_create(&o, &r.srv, &err), &err);
		uint16_t port = rp_server_port(r.srv);
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, run_server, &r), 0);
		int peers[3];
		for (int i = 0; i < 3; i++)
			peers[i] = connect_to(port);
		/* The server has taken them: one thread each besides its own. */
		for (int i = 0; i < 200 && count_entries("/proc/self/task") < tasks0 + 4; i++)
			usleep(20000);
		assert_true(count_entries("/proc/self/task") >= tasks0 + 4);
		rp_server_stop(r.srv);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(r.st, RP_OK);
		rp_server_destroy(r.srv);
		/* Destroy returned: every connection thread of the server has been joined and
		 * every descriptor but the peers' own closed. */
		assert_int_equal(count_entries("/proc/self/task"), tasks0);
		assert_int_equal(count_entries("/proc/self/fd"), fds0 + 3);
		/* The peers see their connection ended (EOF or reset), not left hanging. */
		for (int i = 0; i < 3; i++) {
			char b;
			assert_true(recv(peers[i], &b, 1, 0) <= 0);
			close(peers[i]);
		}
		assert_int_equal(count_entries("/proc/self/fd"), fds0);
	}
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_destroy_plain(void **state)
{
	(void)state;
	destroy_ends_idle_connections(false);
}

static void
test_destroy_tls(void **state)
{
	(void)state;
	destroy_ends_idle_connections(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_destroy_plain),
		cmocka_unit_test(test_destroy_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
