/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/serve.c - rp_server_*(): one thread per connection; a session gathers the
 * chunks of its N connections into its spool (spool.c: storage, journal, what is still
 * missing), delivers objects as their bytes arrive and at the end (deliver.c), asks for
 * what is still missing (NEED), and answers PROGRESS and COMPLETE.  Every frame the
 * receiver sends is sent here, and every connection and session outcome is logged here
 * as a JSON line. */
#include "transport/serve.h"
#include "transport/chunk.h"
#include "transport/deliver.h"
#include "transport/spool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
rp_serve_options_init(struct rp_serve_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->host = "127.0.0.1";
	o->file_mode = 0640;
	o->max_objects = RP__MAX_OBJECTS;
	o->max_object_size = 64ull << 30;
	o->max_session_size = 4ull << 40;
	o->max_connections = 256;
	o->io_timeout_s = 60;
	o->spool_retention_s = 7 * 86400.0;
}

/* ------------------------------------------------------------------------------------ */
/* Logging */

void
rp__srv_log(struct rp_server *srv, const char *event, const char *peer, const char *session,
	    const char *reason, const char *extra_fmt, ...)
{
	if (!srv->o->log)
		return;
	struct rp__wbuf b = {0};
	rp__log_begin(&b, event);
	rp__log_field(&b, "peer", peer);
	rp__log_field(&b, "session", session);
	rp__log_field(&b, "reason", reason);
	if (extra_fmt) {
		char x[512];
		va_list ap;
		va_start(ap, extra_fmt);
		vsnprintf(x, sizeof(x), extra_fmt, ap);
		va_end(ap);
		rp__put_u8(&b, ',');
		rp__put_bytes(&b, x, strlen(x));
	}
	rp__put_bytes(&b, "}", 2);
	if (!b.failed) {
		pthread_mutex_lock(&srv->log_mu);
		srv->o->log(srv->o->log_ctx, (const char *)b.p);
		pthread_mutex_unlock(&srv->log_mu);
	}
	rp__wbuf_free(&b);
}

/* ------------------------------------------------------------------------------------ */
/* Sessions in memory */

/* After DONE, a stream of the run that receives nothing for this long is given up. */
#define SILENT_AFTER_DONE_S 3.0

/* COMPLETE counters (FORMAT.md 2.6). */
enum {
	ST_OBJECTS, ST_ORIG_BYTES, ST_CHUNKS, ST_CHUNK_BYTES, ST_CRC,
	ST_REBUILT, ST_DUPS, ST_NEEDED, ST_SKIPPED, ST_RESERVED
};

struct rp__session {
	struct rp__session *next;
	int refs;                    /* under srv->mu */
	uint8_t id[16];
	char hex[33];
	struct rp__spool *spool;
	struct rp__deliver *dl;
	const struct rp__manifest *mf;  /* the spool's copy */

	pthread_mutex_t mu;          /* everything below */
	pthread_cond_t cv;
	bool failed;
	unsigned run, joined, ended, streams;
	struct conn *conns;
	uint64_t stats[RP__COMPLETE_FIELDS];
	char peer[256];
	double t_start;
};

bool
rp__session_in_memory(struct rp_server *srv, const char *hex)
{
	for (struct rp__session *s = srv->sessions; s; s = s->next)
		if (strcmp(s->hex, hex) == 0)
			return true;
	return false;
}

/* A reference to a session in memory, or NULL. */
static struct rp__session *
session_find(struct rp_server *srv, const uint8_t id[16])
{
	pthread_mutex_lock(&srv->mu);
	struct rp__session *s = srv->sessions;
	while (s && memcmp(s->id, id, 16) != 0)
		s = s->next;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&srv->mu);
	return s;
}

static void
session_free(struct rp__session *s)
{
	rp__deliver_destroy(s->dl);
	rp__spool_close(s->spool);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* A session nobody uses is dropped from memory, its files closed: a server that runs for
 * months must hold no more after 2,000 sessions than after 10.  Everything a rerun or a
 * late join needs is on disk (manifest, journal, stage), and session_open() reloads it;
 * chunks written but not yet journaled are journaled first, so a resume does not ask for
 * them again. */
static void
session_put(struct rp_server *srv, struct rp__session *s)
{
	pthread_mutex_lock(&srv->mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&srv->mu);
	if (!last)
		return;
	struct rp_errbuf e;
	(void)rp__spool_sync(s->spool, &e); /* best effort: what is not journaled is re-sent */
	pthread_mutex_lock(&srv->mu);
	bool drop = s->refs == 0;
	if (drop)
		for (struct rp__session **p = &srv->sessions; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
	pthread_mutex_unlock(&srv->mu);
	if (!drop)
		return;
	session_free(s);
#ifdef __GLIBC__
	/* A session's connection threads free multi-MiB chunk buffers into per-thread
	 * arenas, which glibc keeps resident otherwise: a server idle between studies
	 * would sit on the peak of the last one. */
	malloc_trim(0);
#endif
}

static void
sessions_free(struct rp_server *srv)
{
	while (srv->sessions) {
		struct rp__session *s = srv->sessions;
		srv->sessions = s->next;
		session_free(s);
	}
}

/* Finds the session in memory, or loads it from DIR/.radpipe/<id> (journal replay), or
 * creates it.  Returns a reference (session_put). */
static int
session_open(struct rp_server *srv, const uint8_t id[16], const uint8_t *manifest,
	     size_t manifest_len, const struct rp__manifest *mf, struct rp__session **ret,
	     struct rp_errbuf *err)
{
	struct rp__session *s = session_find(srv, id);
	if (s) {
		*ret = s;
		return RP_OK;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return RP_E_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	memcpy(s->id, id, 16);
	rp__session_hex(id, s->hex);
	/* Held until the session is listed, so the retention sweep sees it in memory. */
	pthread_mutex_lock(&srv->spool_mu);
	int st = rp__spool_open(srv->radfd, s->hex, manifest, manifest_len, mf, &s->spool, err);
	if (st < 0) {
		pthread_mutex_unlock(&srv->spool_mu);
		goto fail;
	}
	s->mf = rp__spool_manifest(s->spool);
	char stage[8192];
	snprintf(stage, sizeof(stage), "%s/.radpipe/%s/stage", srv->o->dir, s->hex);
	struct rp__deliver_config dc = {
		.spool = s->spool, .session = s->hex, .dest_fd = srv->dirfd,
		.dest_name = srv->o->dir, .stage_path = stage,
		.compressed = srv->o->deliver == RP_DELIVER_COMPRESSED,
		.file_mode = srv->o->file_mode, .pool = srv->o->pool,
	};
	if ((st = rp__deliver_create(&dc, &s->dl)) < 0) {
		pthread_mutex_unlock(&srv->spool_mu);
		goto fail;
	}
	pthread_mutex_lock(&srv->mu);
	/* Another stream 0 of the same session may have raced us here. */
	struct rp__session *o = srv->sessions;
	while (o && memcmp(o->id, id, 16) != 0)
		o = o->next;
	if (o) {
		o->refs++;
		pthread_mutex_unlock(&srv->mu);
		pthread_mutex_unlock(&srv->spool_mu);
		session_free(s);
		*ret = o;
		return RP_OK;
	}
	s->refs = 1;
	s->next = srv->sessions;
	srv->sessions = s;
	pthread_mutex_unlock(&srv->mu);
	pthread_mutex_unlock(&srv->spool_mu);
	*ret = s;
	return RP_OK;
fail:
	session_free(s);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* Connections */

struct conn {
	struct rp_server *srv;
	struct rp__conn *c;
	struct rp__session *s;
	unsigned run;
	bool ended;
	uint32_t caps;               /* the HELLO's capabilities */
	struct conn *next;           /* in the session's list */
	/* Until its handshake ends (under srv->mu): in srv->unauth, oldest first. */
	struct conn *unext, **uprev;
	char source[64];             /* the peer's address without its port */
	bool evicted;                /* aborted to make room; leaving */
	bool authed;                 /* counted in srv->nauth */
	/* Its thread, in srv->threads until joined (under srv->mu); finished once the
	 * thread no longer touches anything but its own return. */
	pthread_t thread;
	bool closing;                /* c is being closed: no longer to be aborted */
	bool finished;
	struct conn *tnext, **tprev;
};

/* Connections that have not authenticated yet get a pool of their own, apart from the
 * max_connections kept for authenticated peers, so that idle or slow sockets opened by
 * anyone who can reach the port never starve a real sender.  When the pool or one
 * source's share of it is full, the connection that has waited longest is dropped: a
 * real TLS handshake takes milliseconds, so the oldest is the idlest. */
#define UNAUTH_MAX 64
#define UNAUTH_PER_SOURCE 8
#define HANDSHAKE_TIMEOUT_S 10.0
/* How long rp_server_destroy() lets running connections end before aborting them. */
#define STOP_GRACE_S 5.0

static void
source_of(const char *peer, char *out, size_t size)
{
	snprintf(out, size, "%s", peer);
	char *colon = strrchr(out, ':');
	if (colon && colon != out)
		*colon = 0;
}

/* Under srv->mu: room for cn in the unauthenticated pool, evicting if need be. */
static void
unauth_admit(struct rp_server *srv, struct conn *cn)
{
	unsigned total = 0, same = 0;
	struct conn *oldest = NULL, *oldest_same = NULL, **tail = &srv->unauth;
	for (struct conn *u = srv->unauth; u; tail = &u->unext, u = u->unext) {
		if (u->evicted)
			continue;
		total++;
		if (!oldest)
			oldest = u;
		if (strcmp(u->source, cn->source) == 0) {
			same++;
			if (!oldest_same)
				oldest_same = u;
		}
	}
	struct conn *victim = same >= UNAUTH_PER_SOURCE ? oldest_same
			      : total >= UNAUTH_MAX ? oldest : NULL;
	if (victim) {
		victim->evicted = true;
		srv->ops->abort(victim->c);
	}
	cn->unext = NULL;
	cn->uprev = tail;
	*tail = cn;
}

/* Under srv->mu. */
static void
unauth_leave(struct conn *cn)
{
	if (!cn->uprev)
		return;
	*cn->uprev = cn->unext;
	if (cn->unext)
		cn->unext->uprev = cn->uprev;
	cn->uprev = NULL;
}

static void
conn_mark_ended(struct conn *cn)
{
	struct rp__session *s = cn->s;
	if (!s || cn->ended)
		return;
	pthread_mutex_lock(&s->mu);
	cn->ended = true;
	if (cn->run == s->run)
		s->ended++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void
conn_attach(struct conn *cn, struct rp__session *s, bool new_run, unsigned streams)
{
	pthread_mutex_lock(&s->mu);
	if (new_run) {
		s->run++;
		s->joined = 0;
		s->ended = 0;
		s->streams = streams;
		s->failed = false;
		memset(s->stats, 0, sizeof(s->stats));
		s->stats[ST_SKIPPED] = rp__spool_objects_done(s->spool);
	}
	cn->run = s->run;
	s->joined++;
	cn->next = s->conns;
	s->conns = cn;
	pthread_mutex_unlock(&s->mu);
	cn->s = s;
}

static void
conn_detach(struct conn *cn)
{
	struct rp__session *s = cn->s;
	if (!s)
		return;
	conn_mark_ended(cn);
	pthread_mutex_lock(&s->mu);
	for (struct conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == cn) {
			*p = cn->next;
			break;
		}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	session_put(cn->srv, s);
	cn->s = NULL;
}

/* Stops every other connection of the session's current run (after a session error, or
 * when streams stay silent after DONE). */
static void
session_abort_conns(struct rp__session *s, const void *except)
{
	pthread_mutex_lock(&s->mu);
	for (struct conn *cn = s->conns; cn; cn = cn->next)
		if (cn != except && cn->run == s->run)
			cn->srv->ops->abort(cn->c);
	pthread_mutex_unlock(&s->mu);
}

/* Aborts the connections of the session's run, but `except`, that have not ended and
 * received nothing for idle_s seconds. */
static void
session_abort_silent(struct rp__session *s, const void *except, double idle_s)
{
	pthread_mutex_lock(&s->mu);
	for (struct conn *cn = s->conns; cn; cn = cn->next) {
		const struct rp__transport_ops *ops = cn->srv->ops;
		if (cn != except && cn->run == s->run && !cn->ended && ops->rx_idle_s &&
		    ops->rx_idle_s(cn->c) > idle_s)
			ops->abort(cn->c);
	}
	pthread_mutex_unlock(&s->mu);
}

static void
send_error(struct conn *cn, int status, const char *msg)
{
	struct rp__wbuf b = {0};
	struct rp_errbuf e;
	rp__error_encode(&b, status, msg);
	if (!b.failed) {
		cn->srv->ops->set_timeout(cn->c, 2.0);
		(void)rp__send_frame(cn->srv->ops, cn->c, RP__F_ERROR, b.p, b.len, &e);
	}
	rp__wbuf_free(&b);
}

/* ------------------------------------------------------------------------------------ */
/* A session's chunks and the end of its runs */

static void
session_crc_error(struct rp_server *srv, struct rp__session *s, const char *peer)
{
	pthread_mutex_lock(&s->mu);
	uint64_t n = ++s->stats[ST_CRC];
	pthread_mutex_unlock(&s->mu);
	rp__srv_log(srv, "crc_error", peer, s->hex, "chunk dropped: CRC32C mismatch",
		    "\"count\":%llu", (unsigned long long)n);
}

static void
on_object_delivered(void *ctx, uint32_t index, uint64_t size)
{
	struct rp__session *s = ctx;
	(void)index;
	pthread_mutex_lock(&s->mu);
	s->stats[ST_OBJECTS]++;
	s->stats[ST_ORIG_BYTES] += size;
	pthread_mutex_unlock(&s->mu);
}

/* Validates a chunk against the session, writes it in place, and delivers the objects
 * it completes. */
static int
session_chunk(struct rp__session *s, const struct rp__chunk *ch, struct rp_errbuf *err)
{
	if (memcmp(ch->session, s->id, 16) != 0)
		return rp__err(err, RP_E_PROTOCOL, "chunk of another session");
	RP_TRY(rp__spool_check_chunk(s->spool, ch, err));
	pthread_mutex_lock(&s->mu);
	bool failed = s->failed;
	pthread_mutex_unlock(&s->mu);
	if (failed)
		return rp__err(err, RP_E_CANCELLED, "session %s failed", s->hex);
	bool dup;
	int st = rp__spool_write_chunk(s->spool, ch, &dup, err);
	pthread_mutex_lock(&s->mu);
	if (dup) {
		s->stats[ST_DUPS]++;
	} else if (st == RP_OK) {
		s->stats[ST_CHUNKS]++;
		s->stats[ST_CHUNK_BYTES] += ch->size;
	}
	pthread_mutex_unlock(&s->mu);
	if (st == RP_OK && !dup && ch->index < s->mf->k) {
		const struct rp__deliver_events ev = {.ctx = s, .object = on_object_delivered};
		st = rp__deliver_ahead(s->dl, &ev, err);
	}
	return st;
}

/* The end-of-run delivery's events: counters, and PROGRESS on the control connection. */
struct finishing {
	struct rp_server *srv;
	struct rp__session *s;
	struct rp__conn *c;
};

static void
on_finish_object(void *ctx, uint32_t index, uint64_t size)
{
	on_object_delivered(((struct finishing *)ctx)->s, index, size);
}

static void
send_progress(void *ctx, uint64_t bytes, uint64_t objects)
{
	struct finishing *f = ctx;
	uint64_t v[2] = {bytes, objects};
	struct rp__wbuf b = {0};
	struct rp_errbuf e;
	rp__u64s_encode(&b, v, 2);
	if (!b.failed)
		(void)rp__send_frame(f->srv->ops, f->c, RP__F_PROGRESS, b.p, b.len, &e);
	rp__wbuf_free(&b);
}

/* The user's delivered hook with the paths this session newly placed in DIR. */
static int
on_placed(void *ctx, const struct rp__deliver *dl, struct rp_errbuf *err)
{
	struct finishing *f = ctx;
	const struct rp__manifest *mf = rp__spool_manifest(f->s->spool);
	if (!f->srv->o->delivered)
		return RP_OK;
	const char **paths = malloc((mf->count ? mf->count : 1) * sizeof(*paths));
	size_t n = 0;
	if (!paths)
		return RP_E_NOMEM;
	for (uint32_t i = 0; i < mf->count; i++)
		if (!rp__deliver_held(dl, i))
			paths[n++] = mf->e[i].path;
	int r = f->srv->o->delivered(f->srv->o->delivered_ctx, f->s->hex, paths, n);
	free(paths);
	if (r != 0)
		return rp__err(err, RP_E_IO, "session %s: the delivered hook failed (%d)", f->s->hex,
			       r);
	return RP_OK;
}

static int
send_need(struct rp_server *srv, struct rp__session *s, struct rp__conn *c,
	  const struct rp__ranges *need, struct rp_errbuf *err)
{
	struct rp__wbuf b = {0};
	rp__ranges_encode(&b, need);
	uint64_t n = rp__ranges_total(need);
	pthread_mutex_lock(&s->mu);
	s->stats[ST_NEEDED] += n;
	pthread_mutex_unlock(&s->mu);
	rp__srv_log(srv, "need", srv->ops->peer(c), s->hex, NULL, "\"chunks\":%llu",
		    (unsigned long long)n);
	int st = b.failed ? RP_E_NOMEM : rp__send_frame(srv->ops, c, RP__F_NEED, b.p, b.len, err);
	rp__wbuf_free(&b);
	return st;
}

static int
send_complete(struct rp_server *srv, struct rp__session *s, struct rp__conn *c,
	      struct rp_errbuf *err)
{
	uint64_t v[RP__COMPLETE_FIELDS];
	pthread_mutex_lock(&s->mu);
	memcpy(v, s->stats, sizeof(v));
	pthread_mutex_unlock(&s->mu);
	rp__srv_log(srv, "session_complete", srv->ops->peer(c), s->hex, NULL,
		    "\"objects\":%u,\"bytes\":%llu,\"delivered\":%llu,\"chunks\":%llu,"
		    "\"chunk_bytes\":%llu,\"crc_errors\":%llu,\"rebuilt\":%llu,\"duplicates\":%llu,"
		    "\"needed\":%llu,\"seconds\":%.3f",
		    s->mf->count, (unsigned long long)s->mf->total, (unsigned long long)v[0],
		    (unsigned long long)v[2], (unsigned long long)v[3], (unsigned long long)v[4],
		    (unsigned long long)v[5], (unsigned long long)v[6], (unsigned long long)v[7],
		    rp__now() - s->t_start);
	struct rp__wbuf b = {0};
	rp__u64s_encode(&b, v, RP__COMPLETE_FIELDS);
	int st = b.failed ? RP_E_NOMEM
			  : rp__send_frame(srv->ops, c, RP__F_COMPLETE, b.p, b.len, err);
	rp__wbuf_free(&b);
	return st;
}

/* Waits until every stream of this run said END or went away.  The sender sends DONE
 * once every stream it still has wrote its last chunk, so a stream that receives nothing
 * for a few seconds now is one the sender gave up on (black-holed: no FIN reaches us):
 * abort it rather than wait for the I/O timeout; its chunks come from parity or a NEED.
 * A slow stream still draining its socket buffer keeps receiving bytes and is left
 * alone. */
static void
wait_run_ended(struct rp_server *srv, struct rp__session *s, const void *self)
{
	pthread_mutex_lock(&s->mu);
	double deadline = rp__now() + srv->o->io_timeout_s + 1;
	while (s->ended < s->joined) {
		struct timespec ts = rp__timespec_in(0.25);
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			continue;
		bool late = rp__now() >= deadline;
		pthread_mutex_unlock(&s->mu);
		if (late)
			session_abort_conns(s, self);
		else
			session_abort_silent(s, self, SILENT_AFTER_DONE_S);
		pthread_mutex_lock(&s->mu);
		if (late) {
			ts = rp__timespec_in(5);
			while (s->ended < s->joined &&
			       pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
				;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* DONE on connection c: waits for the run's streams, rebuilds groups, then sends NEED or
 * delivers and sends COMPLETE. */
static int
session_done(struct rp_server *srv, struct rp__session *s, const void *self,
	     struct rp__conn *c, const struct rp__done *d, struct rp_errbuf *err)
{
	const struct rp__chunk_geom gm = {.cs = s->mf->chunk_size, .k = s->mf->k, .m = s->mf->m};
	if (d->stream_length == 0 || d->stream_length > rp__spool_max_stream(s->spool) ||
	    d->data_chunks != rp__chunk_data_count(&gm, d->stream_length))
		return rp__err(err, RP_E_PROTOCOL, "DONE: stream of %llu bytes in %llu chunks is "
			       "inconsistent", (unsigned long long)d->stream_length,
			       (unsigned long long)d->data_chunks);
	if (rp__spool_delivered(s->spool))
		return send_complete(srv, s, c, err);
	wait_run_ended(srv, s, self);
	struct rp__ranges need = {0};
	uint64_t rebuilt = 0;
	int st = rp__spool_missing(s->spool, d->stream_length, d->data_chunks, &need, &rebuilt,
				   err);
	pthread_mutex_lock(&s->mu);
	s->stats[ST_REBUILT] += rebuilt;
	pthread_mutex_unlock(&s->mu);
	if (st == RP_OK && need.count) {
		st = send_need(srv, s, c, &need, err);
		rp__ranges_free(&need);
		return st;
	}
	rp__ranges_free(&need);
	if (st == RP_OK) {
		struct finishing f = {srv, s, c};
		const struct rp__deliver_events ev = {.ctx = &f, .object = on_finish_object,
						      .progress = send_progress,
						      .placed = on_placed};
		st = rp__deliver_finish(s->dl, d->stream_length, &ev, err);
	}
	if (st < 0) {
		rp__srv_log(srv, "session_failed", srv->ops->peer(c), s->hex, err->msg,
			    "\"status\":\"%s\"", rp_status_name(st));
		return st;
	}
	return send_complete(srv, s, c, err);
}

/* HELLO (+ MANIFEST on stream 0): find or create the session. */
static int
conn_hello(struct conn *cn, struct rp__wbuf *buf, struct rp_errbuf *err)
{
	struct rp_server *srv = cn->srv;
	struct rp__frame_hdr h;
	bool crc_ok;
	struct rp__hello hello;
	RP_TRY(rp__recv_frame(srv->ops, cn->c, &h, buf, 256, &crc_ok, err));
	if (h.type != RP__F_HELLO || !crc_ok)
		return rp__err(err, RP_E_PROTOCOL, "first frame is type %u%s, not a valid HELLO",
			       h.type, crc_ok ? "" : " with a bad CRC");
	RP_TRY(rp__hello_decode(buf->p, buf->len, &hello, err));
	cn->caps = hello.caps;
	char hex[33];
	rp__session_hex(hello.session, hex);
	struct rp__session *s = NULL;
	struct rp__welcome w = {.state = RP__WELCOME_NEW};
	memcpy(w.session, hello.session, 16);
	if (hello.stream_index == 0) {
		struct rp__manifest mf;
		uint8_t id[16];
		RP_TRY(rp__recv_frame(srv->ops, cn->c, &h, buf, RP__MAX_PAYLOAD, &crc_ok, err));
		if (h.type != RP__F_MANIFEST || !crc_ok)
			return rp__err(err, RP_E_PROTOCOL, "expected a MANIFEST frame");
		RP_TRY(rp__manifest_decode(buf->p, buf->len, srv->o->max_objects, &mf, err));
		int st = rp__session_id(buf->p, buf->len, id);
		if (st == RP_OK && memcmp(id, hello.session, 16) != 0)
			st = rp__err(err, RP_E_PROTOCOL, "session id does not match the manifest");
		if (st == RP_OK && mf.total > srv->o->max_session_size)
			st = rp__err(err, RP_E_LIMIT, "session of %llu bytes exceeds the limit %llu",
				     (unsigned long long)mf.total,
				     (unsigned long long)srv->o->max_session_size);
		for (uint32_t i = 0; st == RP_OK && i < mf.count; i++)
			if (mf.e[i].size > srv->o->max_object_size)
				st = rp__err(err, RP_E_LIMIT,
					     "object '%s' of %llu bytes exceeds the limit %llu",
					     mf.e[i].path, (unsigned long long)mf.e[i].size,
					     (unsigned long long)srv->o->max_object_size);
		if (st == RP_OK)
			st = session_open(srv, hello.session, buf->p, buf->len, &mf, &s, err);
		rp__manifest_free(&mf);
		RP_TRY(st);
		/* One run at a time: connections left from an earlier run belong to a sender
		 * that died or gave up.  Stop them and wait until they are gone (one of them
		 * may be finishing a delivery, which must not race with this run). */
		pthread_mutex_lock(&s->mu);
		for (struct conn *o = s->conns; o; o = o->next)
			srv->ops->abort(o->c);
		struct timespec ts = rp__timespec_in(2 * srv->o->io_timeout_s + 5);
		while (s->conns && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			;
		bool busy = s->conns != NULL;
		pthread_mutex_unlock(&s->mu);
		if (busy) {
			session_put(srv, s);
			return rp__err(err, RP_E_TIMEOUT, "session %s is still busy with an earlier "
				       "run", hex);
		}
		conn_attach(cn, s, true, hello.stream_count);
		int r = rp__spool_durable(s->spool, &w.have);
		w.state = rp__spool_delivered(s->spool) ? RP__WELCOME_DELIVERED
			  : (w.have.count ? RP__WELCOME_RESUMED : RP__WELCOME_NEW);
		pthread_mutex_lock(&s->mu);
		snprintf(s->peer, sizeof(s->peer), "%s", srv->ops->peer(cn->c));
		s->t_start = rp__now();
		pthread_mutex_unlock(&s->mu);
		if (r < 0) {
			rp__ranges_free(&w.have);
			return r;
		}
		rp__srv_log(srv, "session_start", srv->ops->peer(cn->c), hex, NULL,
			    "\"objects\":%u,\"bytes\":%llu,\"streams\":%u,\"state\":\"%s\"",
			    s->mf->count, (unsigned long long)s->mf->total, hello.stream_count,
			    w.state == RP__WELCOME_NEW ? "new"
			    : w.state == RP__WELCOME_RESUMED ? "resumed" : "delivered");
	} else {
		s = session_find(srv, hello.session);
		if (!s)
			return rp__err(err, RP_E_PROTOCOL, "join for unknown session %s", hex);
		conn_attach(cn, s, false, 0);
	}
	struct rp__wbuf out = {0};
	rp__welcome_encode(&out, &w);
	rp__ranges_free(&w.have);
	int st = out.failed ? RP_E_NOMEM
			    : rp__send_frame(srv->ops, cn->c, RP__F_WELCOME, out.p, out.len, err);
	rp__wbuf_free(&out);
	return st;
}

static void *
conn_main(void *arg)
{
	struct conn *cn = arg;
	struct rp_server *srv = cn->srv;
	struct rp_errbuf err = {""};
	struct rp__wbuf buf = {0};
	char peer[256];
	int st = srv->ops->handshake(cn->c, srv->tls, HANDSHAKE_TIMEOUT_S, &err);
	snprintf(peer, sizeof(peer), "%s", srv->ops->peer(cn->c));
	pthread_mutex_lock(&srv->mu);
	bool evicted = cn->evicted;
	unauth_leave(cn);
	bool full = st == RP_OK && srv->nauth >= srv->max_auth;
	if (st == RP_OK && !full) {
		srv->nauth++;
		cn->authed = true;
	}
	pthread_mutex_unlock(&srv->mu);
	if (st < 0) {
		rp__srv_log(srv, "reject", peer, NULL,
			    evicted ? "not authenticated while others waited (dropped to make room)"
				    : err.msg, NULL);
		goto out;
	}
	if (full) {
		rp__srv_log(srv, "reject", peer, NULL, "too many connections", NULL);
		goto out;
	}
	srv->ops->set_timeout(cn->c, srv->o->io_timeout_s);
	if ((st = conn_hello(cn, &buf, &err)) < 0) {
		rp__srv_log(srv, "reject", peer, NULL, err.msg, NULL);
		send_error(cn, st, err.msg);
		goto out;
	}
	for (;;) {
		struct rp__frame_hdr h;
		bool crc_ok;
		st = rp__recv_frame(srv->ops, cn->c, &h, &buf, RP__MAX_PAYLOAD, &crc_ok, &err);
		if (st < 0)
			break;
		if (h.type == RP__F_CHUNK) {
			if (!crc_ok) {
				session_crc_error(srv, cn->s, peer);
				continue;
			}
			struct rp__chunk ch;
			if ((st = rp__chunk_decode(buf.p, buf.len, &ch, &err)) < 0)
				break;
			if ((st = session_chunk(cn->s, &ch, &err)) < 0)
				break;
			continue;
		}
		if (!crc_ok) {
			st = rp__err(&err, RP_E_PROTOCOL, "frame type %u fails its CRC", h.type);
			break;
		}
		if (h.type == RP__F_END) {
			conn_mark_ended(cn);
			continue;
		}
		/* A sender with nothing to send yet (a large object still being encoded)
		 * proves it is alive; the frame itself resets the I/O timeout. */
		if (h.type == RP__F_KEEPALIVE && (cn->caps & RP__CAP_KEEPALIVE)) {
			if (h.len != 0) {
				st = rp__err(&err, RP_E_PROTOCOL, "KEEPALIVE with a payload");
				break;
			}
			continue;
		}
		if (h.type == RP__F_DONE) {
			struct rp__done d;
			if ((st = rp__done_decode(buf.p, buf.len, &d, &err)) < 0)
				break;
			if ((st = session_done(srv, cn->s, cn, cn->c, &d, &err)) < 0)
				break;
			continue;
		}
		st = rp__err(&err, RP_E_PROTOCOL, "unexpected frame type %u from the sender",
			     h.type);
		break;
	}
	/* A peer that closes after END or COMPLETE is the normal end of a connection, and so
	 * is one that sent END and then stays silent past the I/O timeout (its sender still
	 * answering a NEED on the control connection, which can take minutes). */
	if (st < 0 && st != RP_E_CLOSED && !(st == RP_E_TIMEOUT && cn->ended)) {
		char hex[33] = "";
		if (cn->s)
			rp__session_hex(cn->s->id, hex);
		rp__srv_log(srv, "connection_error", peer, cn->s ? hex : NULL, err.msg,
			    "\"status\":\"%s\"", rp_status_name(st));
		if (st != RP_E_NET && st != RP_E_CANCELLED && st != RP_E_TIMEOUT)
			send_error(cn, st, err.msg);
		if (cn->s && st != RP_E_PROTOCOL && st != RP_E_NET && st != RP_E_TIMEOUT &&
		    st != RP_E_CANCELLED) {
			/* A session-level failure (disk full, limit): stop its other streams so
			 * the sender hears about it at once. */
			pthread_mutex_lock(&cn->s->mu);
			cn->s->failed = true;
			pthread_mutex_unlock(&cn->s->mu);
			session_abort_conns(cn->s, cn);
		}
	}
out:
	conn_detach(cn);
	rp__wbuf_free(&buf);
	/* Out of reach of rp_server_destroy()'s abort before the connection is closed. */
	pthread_mutex_lock(&srv->mu);
	unauth_leave(cn);
	cn->closing = true;
	pthread_mutex_unlock(&srv->mu);
	srv->ops->close(cn->c);
	pthread_mutex_lock(&srv->mu);
	if (cn->authed)
		srv->nauth--;
	srv->nconns--;
	/* The server joins and frees cn (threads_reap): nothing here may touch srv or cn
	 * once the lock is released. */
	cn->finished = true;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

/* Under srv->mu. */
static void
threads_add(struct rp_server *srv, struct conn *cn)
{
	cn->tnext = srv->threads;
	cn->tprev = &srv->threads;
	if (srv->threads)
		srv->threads->tprev = &cn->tnext;
	srv->threads = cn;
}

/* Under srv->mu. */
static void
threads_remove(struct conn *cn)
{
	*cn->tprev = cn->tnext;
	if (cn->tnext)
		cn->tnext->tprev = cn->tprev;
}

/* Joins and frees the connection threads that have finished, so that a server up for
 * months holds only its live ones.  Called by the thread that runs the server. */
static void
threads_reap(struct rp_server *srv)
{
	struct conn *done = NULL;
	pthread_mutex_lock(&srv->mu);
	for (struct conn *cn = srv->threads, *next; cn; cn = next) {
		next = cn->tnext;
		if (cn->finished) {
			threads_remove(cn);
			cn->tnext = done;
			done = cn;
		}
	}
	pthread_mutex_unlock(&srv->mu);
	while (done) {
		struct conn *next = done->tnext;
		pthread_join(done->thread, NULL);
		free(done);
		done = next;
	}
}

static void
server_free(struct rp_server *srv)
{
	if (srv->listener)
		srv->ops->close_listener(srv->listener);
	if (srv->tls)
		srv->ops->tls_destroy(srv->tls);
	sessions_free(srv);
	if (srv->radfd > 0)
		close(srv->radfd);
	if (srv->dirfd > 0)
		close(srv->dirfd);
	pthread_cond_destroy(&srv->cv);
	pthread_mutex_destroy(&srv->log_mu);
	pthread_mutex_destroy(&srv->spool_mu);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}

/* Every address the name resolves to is a loopback address (so plain TCP stays on this
 * machine). */
static bool
host_is_loopback(const char *host)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	if (!host[0] || getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
		return false;
	bool all = true;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)a->ai_addr;
			all = all && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		} else if (a->ai_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)a->ai_addr;
			const struct in6_addr *x = &in6->sin6_addr;
			all = all && (IN6_IS_ADDR_LOOPBACK(x) ||
				      (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127));
		} else {
			all = false;
		}
	}
	freeaddrinfo(res);
	return all;
}

int
rp_server_create(const struct rp_serve_options *o, struct rp_server **ret, struct rp_errbuf *err)
{
	if (!ret)
		return rp__err(err, RP_E_INVALID_ARG, "rp_server_create: ret is NULL");
	*ret = NULL;
	if (!o || o->struct_size != sizeof(*o) || !o->dir)
		return rp__err(err, RP_E_INVALID_ARG, "rp_server_create: bad options");
	const char *host = o->host ? o->host : "127.0.0.1";
	if (o->tls.insecure && !host_is_loopback(host))
		return rp__err(err, RP_E_INVALID_ARG,
			       "plain TCP (insecure) is refused on %s: anyone who reaches that "
			       "address could write studies; use TLS, or listen on a loopback "
			       "address (127.0.0.1, ::1)", host);
	if (o->file_mode > 0777 || (o->file_mode & 0600) != 0600)
		return rp__err(err, RP_E_INVALID_ARG,
			       "file mode %04o: must be at most 0777 and include 0600", o->file_mode);
	if (!(o->io_timeout_s >= 10))
		return rp__err(err, RP_E_INVALID_ARG,
			       "I/O timeout %g s: must be at least 10 s (a sender that is encoding "
			       "sends a keepalive every 5 s)", o->io_timeout_s);
	struct rp_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return RP_E_NOMEM;
	srv->o = o;
	srv->ops = rp__transport_for(&o->tls);
	srv->max_auth = o->max_connections ? o->max_connections : 256;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_mutex_init(&srv->log_mu, NULL);
	pthread_mutex_init(&srv->spool_mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	int st = RP_OK;
	srv->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srv->dirfd < 0) {
		st = rp__err(err, RP_E_IO, "%s: %s", o->dir, strerror(errno));
		goto fail;
	}
	if (mkdirat(srv->dirfd, ".radpipe", 0700) < 0 && errno != EEXIST) {
		st = rp__err(err, RP_E_IO, "%s/.radpipe: %s", o->dir, strerror(errno));
		goto fail;
	}
	srv->radfd = openat(srv->dirfd, ".radpipe", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (srv->radfd < 0) {
		st = rp__err(err, RP_E_IO, "%s/.radpipe: %s", o->dir, strerror(errno));
		goto fail;
	}
	if ((st = srv->ops->tls_create(&o->tls, true, &srv->tls, err)) < 0)
		goto fail;
	if ((st = srv->ops->listen(host, o->port, &srv->listener,
				   &srv->port, err)) < 0)
		goto fail;
	/* Spools abandoned before this start go now, before the first session can arrive. */
	rp__spool_reap(srv);
	srv->last_reap = rp__now();
	*ret = srv;
	return RP_OK;
fail:
	server_free(srv);
	return st;
}

uint16_t
rp_server_port(const struct rp_server *srv)
{
	return srv ? srv->port : 0;
}

void
rp_server_stop(struct rp_server *srv)
{
	if (srv)
		atomic_store(&srv->stop, 1);
}

int
rp_server_run(struct rp_server *srv, struct rp_errbuf *err)
{
	if (!srv || !srv->listener)
		return rp__err(err, RP_E_INVALID_ARG, "rp_server_run: no server");
	const struct rp_serve_options *o = srv->o;
	rp__srv_log(srv, "listen", NULL, NULL, NULL, "\"port\":%u,\"tls\":%s", srv->port,
		    o->tls.insecure ? "false" : "true");
	/* rp_server_create() swept the leftovers of an earlier run; then every so often. */
	double reap_every = o->spool_retention_s / 4;
	reap_every = reap_every < 1 ? 1 : reap_every > 3600 ? 3600 : reap_every;
	while (!atomic_load(&srv->stop)) {
		if (rp__now() - srv->last_reap >= reap_every) {
			rp__spool_reap(srv);
			srv->last_reap = rp__now();
		}
		struct rp__conn *c;
		struct rp_errbuf e;
		int a = srv->ops->accept(srv->listener, 0.25, &c, &e);
		threads_reap(srv);
		if (a == RP_E_TIMEOUT)
			continue;
		if (a < 0) {
			rp__srv_log(srv, "accept_error", NULL, NULL, e.msg, NULL);
			usleep(100000);
			continue;
		}
		/* Threads: the authenticated, the unauthenticated pool, and as many again of
		 * evicted ones on their way out. */
		struct conn *cn = calloc(1, sizeof(*cn));
		pthread_mutex_lock(&srv->mu);
		bool full = !cn || srv->nconns >= srv->max_auth + 2 * UNAUTH_MAX;
		if (!full) {
			srv->nconns++;
			cn->srv = srv;
			cn->c = c;
			source_of(srv->ops->peer(c), cn->source, sizeof(cn->source));
			unauth_admit(srv, cn);
		}
		pthread_mutex_unlock(&srv->mu);
		if (full) {
			rp__srv_log(srv, "reject", srv->ops->peer(c), NULL, "too many connections",
				    NULL);
			free(cn);
			srv->ops->abort(c);
			srv->ops->close(c);
			continue;
		}
		/* Listed before it starts, so that destroy can always reach it; only this
		 * thread reaps, so the list cannot lose cn before its id is stored. */
		pthread_mutex_lock(&srv->mu);
		threads_add(srv, cn);
		pthread_mutex_unlock(&srv->mu);
		if (pthread_create(&cn->thread, NULL, conn_main, cn) != 0) {
			pthread_mutex_lock(&srv->mu);
			threads_remove(cn);
			unauth_leave(cn);
			srv->nconns--;
			pthread_mutex_unlock(&srv->mu);
			srv->ops->close(c);
			free(cn);
		}
	}
	srv->ops->close_listener(srv->listener);
	srv->listener = NULL;
	return RP_OK;
}

void
rp_server_destroy(struct rp_server *srv)
{
	if (!srv)
		return;
	/* Running sessions get a moment to end (a sender resumes the rest after a restart);
	 * then every connection still open is aborted, which ends its blocked I/O, and each
	 * thread is joined: a delivery already under way completes first. */
	pthread_mutex_lock(&srv->mu);
	struct timespec ts = rp__timespec_in(STOP_GRACE_S);
	while (srv->nconns && pthread_cond_timedwait(&srv->cv, &srv->mu, &ts) == 0)
		;
	for (struct conn *cn = srv->threads; cn; cn = cn->tnext)
		if (!cn->closing)
			srv->ops->abort(cn->c);
	while (srv->nconns)
		pthread_cond_wait(&srv->cv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
	threads_reap(srv);
	server_free(srv);
}
