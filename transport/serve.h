/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/serve.h - the server's state, shared by serve.c (connections, sessions,
 * frames, logs) and spool_retention.c (the sweep of abandoned spools). */
#ifndef RP_TRANSPORT_SERVE_H
#define RP_TRANSPORT_SERVE_H

#include "transport/transport.h"

#include <pthread.h>
#include <stdatomic.h>

struct conn;
struct rp__session;

struct rp_server {
	const struct rp_serve_options *o;
	const struct rp__transport_ops *ops;
	struct rp__tls *tls;
	struct rp__listener *listener;  /* NULL once rp_server_run returned */
	uint16_t port;
	atomic_int stop;
	pthread_mutex_t spool_mu;    /* a session spool is opened or removed, never both */
	double last_reap;
	int dirfd, radfd;            /* DIR and DIR/.radpipe */
	pthread_mutex_t mu, log_mu;
	pthread_cond_t cv;
	unsigned nconns;             /* connection threads alive */
	struct conn *threads;        /* every connection thread not joined yet (serve.c) */
	unsigned nauth;              /* of which authenticated */
	unsigned max_auth;           /* o->max_connections, its default applied */
	struct conn *unauth;         /* not authenticated yet, oldest first (serve.c) */
	struct rp__session *sessions;  /* in memory, in use (serve.c) */
};

/* Removes session spools idle longer than o->spool_retention_s (spool_retention.c). */
void rp__spool_reap(struct rp_server *srv);

void rp__srv_log(struct rp_server *srv, const char *event, const char *peer,
		 const char *session, const char *reason, const char *extra_fmt, ...)
	RP__PRINTF(6, 7);

/* Under srv->mu: whether the session named hex is in memory (in use). */
bool rp__session_in_memory(struct rp_server *srv, const char *hex);

#endif /* RP_TRANSPORT_SERVE_H */
