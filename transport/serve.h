/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/serve.h - the receiver's internals shared by serve.c (connections) and
 * spool.c (sessions: spool, journal, group rebuild, delivery). */
#ifndef RP_TRANSPORT_SERVE_H
#define RP_TRANSPORT_SERVE_H

#include "transport/transport.h"

#include <pthread.h>
#include <sys/types.h>
#include <stdatomic.h>

struct conn;
struct decoders;

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
	struct rp__session *sessions;
};

/* A delivered directory's mode from the files' mode: search (x) wherever read is
 * allowed, so 0640 files sit in 0750 directories. */
static inline mode_t
rp__dir_mode(mode_t file_mode)
{
	return file_mode | ((file_mode & 0444) >> 2);
}

/* After DONE, a stream of the run that receives nothing for this long is given up. */
#define RP__SILENT_AFTER_DONE_S 3.0

/* COMPLETE counters (FORMAT.md 2.6). */
enum {
	RP__ST_OBJECTS, RP__ST_ORIG_BYTES, RP__ST_CHUNKS, RP__ST_CHUNK_BYTES, RP__ST_CRC,
	RP__ST_REBUILT, RP__ST_DUPS, RP__ST_NEEDED, RP__ST_SKIPPED, RP__ST_RESERVED
};

/* A delivered file whose fsync, rename and journal record wait for the next batch. */
#define RP__BATCH_MAX 32
struct rp__pending_obj {
	int fd, dfd;                 /* -1 when already durable (compressed delivery) */
	uint32_t index;
	uint64_t size;
	char tmp[300], leaf[256];
};

struct rp__session {
	struct rp__session *next;
	int refs;                    /* under srv->mu */
	uint8_t id[16];
	char hex[33];
	struct rp__manifest mf;
	uint64_t max_stream;         /* in-flight bytes this manifest may take */
	int sdir, stream_fd, parity_fd, journal_fd;

	pthread_mutex_t mu;          /* everything below */
	pthread_cond_t cv;
	struct rp__ranges got;       /* keys written to the spool */
	struct rp__ranges durable;   /* keys journaled after fdatasync */
	uint64_t *pending;           /* written, not yet journaled */
	size_t npending, cap_pending;
	double last_sync;
	uint8_t *obj_done;           /* per object: delivered into the stage */
	bool delivered, failed;
	uint64_t short_d, short_size;/* the one data chunk shorter than chunk_size */
	bool have_short;
	unsigned run, joined, ended, streams;
	struct conn *conns;
	uint64_t stats[RP__COMPLETE_FIELDS];
	char peer[256];
	double t_start;

	pthread_mutex_t sync_mu;     /* one fdatasync + journal append at a time */

	/* Delivery as objects complete (under deliver_mu): the next object to look at. */
	pthread_mutex_t deliver_mu;
	uint64_t dpos;
	uint32_t dnext;
	struct decoders *dec;        /* decoders and encoders kept for the session */
	struct rp__pending_obj batch[RP__BATCH_MAX];
	unsigned nbatch;
	double batch_t0;
	int stage;                   /* stage/ directory, opened on first delivery */
};

/* Removes session spools idle longer than o->spool_retention_s (spool_retention.c). */
void rp__spool_reap(struct rp_server *srv);

void rp__srv_log(struct rp_server *srv, const char *event, const char *peer,
		 const char *session, const char *reason, const char *extra_fmt, ...)
	RP__PRINTF(6, 7);

/* Finds the session in memory, or loads it from DIR/.radpipe/<id> (journal replay), or
 * creates it.  Returns a reference (rp__session_put). */
int rp__session_open(struct rp_server *srv, const uint8_t id[16], const uint8_t *manifest,
		     size_t manifest_len, const struct rp__manifest *mf,
		     struct rp__session **ret, struct rp_errbuf *err);
/* A reference to a session in memory, or NULL. */
struct rp__session *rp__session_find(struct rp_server *srv, const uint8_t id[16]);
void rp__session_put(struct rp_server *srv, struct rp__session *s);
void rp__sessions_free(struct rp_server *srv);
void rp__session_abort_conns(struct rp__session *s, const void *except);
/* Aborts the connections of the session's run, but `except`, that have not ended and
 * received nothing for idle_s seconds. */
void rp__session_abort_silent(struct rp__session *s, const void *except, double idle_s);

void rp__session_crc_error(struct rp_server *srv, struct rp__session *s, const char *peer);
/* Validates a chunk against the session and writes it in place. */
int rp__session_chunk(struct rp_server *srv, struct rp__session *s, const struct rp__chunk *ch,
		      struct rp_errbuf *err);
/* DONE on connection c: waits for the run's streams, rebuilds groups, then sends NEED or
 * delivers and sends COMPLETE. */
int rp__session_done(struct rp_server *srv, struct rp__session *s, const void *self,
		     struct rp__conn *c, const struct rp__done *d, struct rp_errbuf *err);

#endif /* RP_TRANSPORT_SERVE_H */
