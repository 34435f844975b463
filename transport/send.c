/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/send.c - rp_send(): scan -> encode objects on the pool (a bounded window, in
 * order) -> cut the session stream into chunks -> Reed-Solomon parity per group -> a
 * queue that N connection threads pull from -> DONE, answer NEEDs, COMPLETE.  Nothing is
 * kept for retransmission: a chunk asked for again is rebuilt by encoding its objects
 * again (encoding is deterministic), which is also how a rerun resumes. */
#include "transport/transport.h"
#include "transport/chunk.h"
#include "transport/fec.h"
#include "pipeline/inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Chunk data goes to the backend in slices this big, so the stall watchdog sees progress
 * within a chunk (chunks reach 4 MiB; a slice must cross the link well within the stall
 * limit, which holds down to about 20 KB/s). */
#define SEND_SLICE (64u << 10)
/* A connection with data in flight and no progress for max(STALL_MIN_S, STALL_RTTS x the
 * smallest handshake round trip) is dead: long enough for a loss burst and a few RTOs on
 * a healthy path, far shorter than the idle timeout. */
#define STALL_MIN_S 3.0
#define STALL_RTTS 8.0
/* A connection with nothing to carry (the next object is still being read and encoded:
 * a multi-gigabyte one takes minutes) sends KEEPALIVE this often, so the receiver, which
 * drops a connection silent for its I/O timeout (60 s by default), keeps it. */
#define KEEPALIVE_S 5.0
/* rp_send_options.memory_budget when 0. */
#define DEFAULT_BUDGET ((uint64_t)512 << 20)

struct slot {
	size_t index;
	bool busy, done;
	int status;                  /* of reading the input */
	char msg[RP_ERRBUF_SIZE];
	struct rp__inflight obj;
	struct sender *s;
};

/* A chunk buffer shared by the queue and its group (parity needs the data). */
struct cbuf {
	atomic_int refs;
	uint8_t data[];
};

struct item {
	struct cbuf *buf;
	uint64_t group;
	uint16_t index;
	uint8_t kg;
	uint32_t size;
};

struct stream {
	struct sender *s;
	unsigned idx;
	struct rp__conn *conn;
	pthread_t thread;
	bool started, alive;
	double rtt;                  /* HELLO -> WELCOME, seconds */
	/* Read by the watchdog: a write is under way since (or progressed at) progress_ns. */
	atomic_bool busy, stalled;
	_Atomic uint64_t progress_ns;
	struct rp__group_tally taken;  /* chunks of recent groups this stream carried */
	uint64_t sent;
	double last_tx;              /* when this stream last sent a frame */
};

struct sender {
	const struct rp_send_options *o;
	const struct rp__transport_ops *ops;
	struct rp__tls *tls;
	struct rp__src *src;
	size_t count;
	uint32_t cs;
	unsigned k, m;
	struct rp__chunk_geom gm;    /* cs, k, m once the chunk size is chosen */
	uint8_t session[16];
	uint32_t caps;               /* what HELLO announces (KEEPALIVE dropped for an old peer) */
	struct rp__ranges have;
	struct rp_encoder **enc;     /* one per pool worker + the calling thread */
	unsigned nenc;

	pthread_mutex_t mu;
	pthread_cond_t cv_slot, cv_q_item, cv_q_space;
	struct item *q;
	size_t qn, qcap;
	bool q_closed;
	unsigned live;
	int fail_status;
	char fail_msg[RP_ERRBUF_SIZE];
	_Atomic bool failed;         /* also polled without the lock */
	pthread_mutex_t log_mu;      /* the log callback is never called from two threads */
	double stall_s;
	pthread_cond_t cv_watch;
	bool watch_stop;
	/* The caller's cancel hook, polled by a thread of its own for the whole call. */
	_Atomic bool cancelled;
	pthread_cond_t cv_cancel;
	bool cancel_stop;
	/* --max-rate: bytes per second (0: no cap) and the moment the bucket is next free. */
	double rate_Bps;
	pthread_mutex_t pace_mu;
	double pace_next;

	struct stream *st;
	unsigned nst;
	atomic_uint_fast64_t wire, parity_wire;

	uint64_t *obj_off;           /* stream offset of each object */
	uint64_t stream_len;
	struct rp_send_report *rep;
	double t0, last_progress;
	struct rp_send_progress prog;
};

void
rp_send_options_init(struct rp_send_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->streams = 8;
	o->codec = rp_codec_can_encode(RP_CODEC_JPEGLS) ? RP_CODEC_JPEGLS : RP_CODEC_NATIVE;
	o->chunk_size = 0;
	o->fec_k = 0;                /* from the stream count: rp__chunk_default_fec() */
	o->fec_m = 0;
	o->io_timeout_s = 60;
}

enum rp_codec
rp_send_codec_auto(void)
{
	if (rp_codec_can_encode(RP_CODEC_HTJ2K))
		return RP_CODEC_HTJ2K;
	return rp_codec_can_encode(RP_CODEC_JPEGLS) ? RP_CODEC_JPEGLS : RP_CODEC_NATIVE;
}

int
rp_send_codec_ok(enum rp_codec codec)
{
	if (codec == RP_CODEC_NATIVE)
		return 1;
	if (codec == RP_CODEC_DEFLATE || codec == RP_CODEC_JPEG)
		return 0;
	return rp_codec_can_encode(codec);
}

static void
set_fail(struct sender *s, int status, const char *msg)
{
	pthread_mutex_lock(&s->mu);
	if (!s->failed) {
		s->failed = true;
		s->fail_status = status;
		snprintf(s->fail_msg, sizeof(s->fail_msg), "%s", msg);
	}
	s->q_closed = true;
	pthread_cond_broadcast(&s->cv_q_item);
	pthread_cond_broadcast(&s->cv_q_space);
	pthread_cond_broadcast(&s->cv_slot);
	pthread_mutex_unlock(&s->mu);
}

static void
log_event(struct sender *s, const char *event, const char *detail)
{
	if (!s->o->log)
		return;
	struct rp__wbuf b = {0};
	char hex[33], t[64];
	rp__session_hex(s->session, hex);
	rp__put_bytes(&b, "{\"event\":", 9);
	rp__json_str(&b, event);
	rp__put_bytes(&b, ",\"session\":", 11);
	rp__json_str(&b, hex);
	snprintf(t, sizeof(t), ",\"t\":%.3f,\"detail\":", rp__now() - s->t0);
	rp__put_bytes(&b, t, strlen(t));
	rp__json_str(&b, detail);
	rp__put_bytes(&b, "}", 2);
	if (!b.failed) {
		pthread_mutex_lock(&s->log_mu);
		s->o->log(s->o->log_ctx, (const char *)b.p);
		pthread_mutex_unlock(&s->log_mu);
	}
	rp__wbuf_free(&b);
}

/* ------------------------------------------------------------------------------------ */
/* Cancel */

/* t->conn is set and cleared under s->mu, so that a cancel can abort every connection
 * that exists, from its own thread, while others are still being opened. */
static void
stream_set_conn(struct stream *t, struct rp__conn *c)
{
	pthread_mutex_lock(&t->s->mu);
	t->conn = c;
	pthread_mutex_unlock(&t->s->mu);
}

/* Stops the send: the producer and the stream threads see `failed`, and every
 * connection is reset, so that no thread stays blocked in a write to a slow link or in
 * a read of the receiver's answer.  A reset rather than an orderly close: the kernel
 * drops what the socket buffers still hold (megabytes on a long fat link) instead of
 * sending it before the FIN, so the link is free at once for what preempted the send. */
static void
cancel_now(struct sender *s)
{
	atomic_store(&s->cancelled, true);
	set_fail(s, RP_E_CANCELLED, "cancelled");
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->nst; i++) {
		if (!s->st[i].conn)
			continue;
		if (s->ops->reset)
			s->ops->reset(s->st[i].conn);
		else
			s->ops->abort(s->st[i].conn);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Asks the caller's hook about ten times a second until it says stop or rp_send() is
 * about to return.  One thread does all the asking, so the hook is never called from
 * two threads at once, and a producer blocked on a full queue or a stream blocked in a
 * write still stops on time. */
static void *
canceller_main(void *arg)
{
	struct sender *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->cancel_stop) {
		struct timespec ts = rp__timespec_in(0.1);
		pthread_cond_timedwait(&s->cv_cancel, &s->mu, &ts);
		if (s->cancel_stop)
			break;
		pthread_mutex_unlock(&s->mu);
		bool stop = s->o->cancel(s->o->cancel_ctx) != 0;
		if (stop)
			cancel_now(s);
		pthread_mutex_lock(&s->mu);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Objects */

static void
slot_job(void *arg, unsigned worker)
{
	struct slot *sl = arg;
	struct sender *s = sl->s;
	unsigned w = worker < s->nenc - 1 ? worker : s->nenc - 1;
	struct rp_errbuf e = {""};
	int st = rp__inflight_build(&s->src[sl->index], (uint32_t)sl->index, s->o->codec,
				    s->o->pool, s->enc, w, &sl->obj, &e);
	pthread_mutex_lock(&s->mu);
	sl->status = st;
	snprintf(sl->msg, sizeof(sl->msg), "%s", e.msg);
	sl->done = true;
	pthread_cond_broadcast(&s->cv_slot);
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------------------------ */
/* Queue and stream threads */

static struct cbuf *
cbuf_new(size_t size)
{
	struct cbuf *b = malloc(sizeof(*b) + size);
	if (b)
		atomic_init(&b->refs, 1);
	return b;
}

static void
cbuf_put(struct cbuf *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static int
enqueue(struct sender *s, struct cbuf *buf, uint64_t g, unsigned i, unsigned kg, uint32_t size)
{
	pthread_mutex_lock(&s->mu);
	while (s->qn == s->qcap && !s->q_closed)
		pthread_cond_wait(&s->cv_q_space, &s->mu);
	if (s->q_closed) {
		pthread_mutex_unlock(&s->mu);
		return RP_E_CANCELLED;
	}
	atomic_fetch_add(&buf->refs, 1);
	s->q[s->qn++] = (struct item){buf, g, (uint16_t)i, (uint8_t)kg, size};
	pthread_cond_signal(&s->cv_q_item);
	pthread_mutex_unlock(&s->mu);
	return RP_OK;
}

enum pull { PULL_END, PULL_ITEM, PULL_KEEPALIVE };

/* Pull: the first queued chunk this stream may carry (at most `cap` per group, so one
 * lost connection costs at most that many chunks of any group).  After waiting a while
 * with only ineligible chunks queued it takes the head anyway: progress beats spread.
 * PULL_KEEPALIVE when the stream has been silent for KEEPALIVE_S and the peer takes
 * KEEPALIVE frames. */
static enum pull
dequeue(struct stream *t, struct item *out)
{
	struct sender *s = t->s;
	double waited_since = 0;
	bool keepalive = s->caps & RP__CAP_KEEPALIVE;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->failed)
			break;
		unsigned cap = rp__chunk_group_cap(s->k, s->m, s->live);
		for (size_t i = 0; i < s->qn; i++) {
			uint32_t *cnt = rp__group_tally_of(&t->taken, s->q[i].group);
			bool late = waited_since && rp__now() - waited_since > 5.0;
			if (*cnt < cap || late) {
				*out = s->q[i];
				(*cnt)++;
				memmove(s->q + i, s->q + i + 1, (s->qn - i - 1) * sizeof(s->q[0]));
				s->qn--;
				pthread_cond_signal(&s->cv_q_space);
				pthread_mutex_unlock(&s->mu);
				return PULL_ITEM;
			}
		}
		if (s->q_closed && s->qn == 0)
			break;
		double now = rp__now();
		if (keepalive && now - t->last_tx >= KEEPALIVE_S) {
			pthread_mutex_unlock(&s->mu);
			return PULL_KEEPALIVE;
		}
		if (s->qn && !waited_since)
			waited_since = now;
		if (s->qn || keepalive) {
			double w = keepalive ? t->last_tx + KEEPALIVE_S - now : 0.1;
			struct timespec ts = rp__timespec_in(s->qn && w > 0.1 ? 0.1 : w);
			pthread_cond_timedwait(&s->cv_q_item, &s->mu, &ts);
		} else {
			pthread_cond_wait(&s->cv_q_item, &s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return PULL_END;
}

/* After a failed write, the receiver may have said why (ERROR frame) before closing. */
static void
read_peer_error(struct sender *s, struct rp__conn *c, int status, const char *msg)
{
	struct rp__wbuf b = {0};
	struct rp__frame_hdr h;
	bool crc_ok;
	struct rp_errbuf e;
	s->ops->set_timeout(c, 2.0);
	if (rp__recv_frame(s->ops, c, &h, &b, 65536, &crc_ok, &e) == RP_OK && crc_ok &&
	    h.type == RP__F_ERROR) {
		int st;
		char m[RP_ERRBUF_SIZE - 16], full[RP_ERRBUF_SIZE];
		if (rp__error_decode(b.p, b.len, &st, m, sizeof(m), NULL) == RP_OK) {
			snprintf(full, sizeof(full), "receiver: %s", m);
			set_fail(s, st, full);
		}
	}
	(void)status;
	(void)msg;
	rp__wbuf_free(&b);
}

static uint64_t
now_ns(void)
{
	return (uint64_t)(rp__now() * 1e9);
}

static void
progressed(struct stream *t)
{
	atomic_store(&t->progress_ns, now_ns());
}

/* The rate cap: reserves the next n bytes' time on the bucket shared by every
 * connection and sleeps until that time comes.  A reservation starts no earlier than
 * now, so idle time earns no credit and no burst can exceed the cap.  Sleeps in short
 * steps so a failure or a cancel is seen at once; RP_E_CANCELLED then. */
static int
pace(struct sender *s, size_t n)
{
	if (!s->rate_Bps)
		return RP_OK;
	pthread_mutex_lock(&s->pace_mu);
	double now = rp__now();
	double start = s->pace_next > now ? s->pace_next : now;
	s->pace_next = start + (double)n / s->rate_Bps;
	pthread_mutex_unlock(&s->pace_mu);
	while (!atomic_load(&s->failed)) {
		double w = start - rp__now();
		if (w <= 0)
			return RP_OK;
		struct timespec ts = {0, (long)((w < 0.05 ? w : 0.05) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return RP_E_CANCELLED;
}

/* One CHUNK frame, its data in slices, marking progress after each for the watchdog.
 * Time spent waiting for the rate cap is not a write under way. */
static int
stream_send_chunk(struct stream *t, const struct rp__chunk *ch, const uint8_t *data,
		  struct rp_errbuf *err)
{
	struct sender *s = t->s;
	const struct rp__transport_ops *ops = s->ops;
	uint8_t head[RP__CHUNK_HEAD_SIZE];
	rp__chunk_head_encode(head, ch, data);
	int st = pace(s, sizeof(head));
	if (st < 0)
		return rp__err(err, st, "stopped");
	progressed(t);
	atomic_store(&t->busy, true);
	st = ops->send(t->conn, head, sizeof(head), err);
	for (uint32_t off = 0; st == RP_OK && off < ch->size; off += SEND_SLICE) {
		uint32_t n = ch->size - off < SEND_SLICE ? ch->size - off : SEND_SLICE;
		if (s->rate_Bps) {
			atomic_store(&t->busy, false);
			if ((st = pace(s, n)) < 0) {
				rp__err(err, st, "stopped");
				break;
			}
			atomic_store(&t->busy, true);
		}
		progressed(t);
		st = ops->send(t->conn, data + off, n, err);
	}
	atomic_store(&t->busy, false);
	return st;
}

/* A chunk whose write failed goes back to the head of the queue for the live streams
 * (the receiver drops a duplicate if part of it did arrive). */
static void
requeue(struct sender *s, const struct item *it)
{
	pthread_mutex_lock(&s->mu);
	if (s->qn < s->qcap + s->nst) {
		memmove(s->q + 1, s->q, s->qn * sizeof(s->q[0]));
		s->q[0] = *it;
		s->qn++;
		atomic_fetch_add(&it->buf->refs, 1);
		pthread_cond_broadcast(&s->cv_q_item);
	}
	pthread_mutex_unlock(&s->mu);
}

static void *
stream_main(void *arg)
{
	struct stream *t = arg;
	struct sender *s = t->s;
	struct item it;
	struct rp_errbuf e = {""};
	int st = RP_OK;
	enum pull pull;
	t->last_tx = rp__now();
	while ((pull = dequeue(t, &it)) != PULL_END) {
		t->last_tx = rp__now();
		if (pull == PULL_KEEPALIVE) {
			progressed(t);
			atomic_store(&t->busy, true);
			st = rp__send_frame(s->ops, t->conn, RP__F_KEEPALIVE, "", 0, &e);
			atomic_store(&t->busy, false);
			if (st < 0)
				break;
			continue;
		}
		struct rp__chunk ch = {.group = it.group, .index = it.index, .k_group = it.kg,
				       .size = it.size};
		memcpy(ch.session, s->session, 16);
		st = stream_send_chunk(t, &ch, it.buf->data, &e);
		if (st < 0) {
			requeue(s, &it);
			cbuf_put(it.buf);
			break;
		}
		cbuf_put(it.buf);
		pthread_mutex_lock(&s->mu);
		t->sent++;
		pthread_mutex_unlock(&s->mu);
		atomic_fetch_add(&s->wire, it.size);
		if (it.index >= s->k)
			atomic_fetch_add(&s->parity_wire, it.size);
	}
	if (st == RP_OK && !s->failed) {
		uint8_t p[8];
		pthread_mutex_lock(&s->mu);
		rp__store_le64(p, t->sent);
		pthread_mutex_unlock(&s->mu);
		progressed(t);
		atomic_store(&t->busy, true);
		st = rp__send_frame(s->ops, t->conn, RP__F_END, p, 8, &e);
		atomic_store(&t->busy, false);
	}
	/* Aborted by a cancel, or stopped waiting for the rate cap by a failure elsewhere:
	 * not a lost connection. */
	if (st < 0 && (atomic_load(&s->cancelled) || (st == RP_E_CANCELLED && s->failed)))
		return NULL;
	if (st < 0) {
		if (atomic_load(&t->stalled))
			rp__err(&e, RP_E_TIMEOUT, "connection %u made no progress for %.1f s with "
				"data in flight (stall limit); its chunks go to the live "
				"connections", t->idx, s->stall_s);
		else
			read_peer_error(s, t->conn, st, e.msg);
		pthread_mutex_lock(&s->mu);
		t->alive = false;
		s->live--;
		s->rep->streams_lost++;
		bool none = s->live == 0;
		pthread_cond_broadcast(&s->cv_q_item);
		pthread_mutex_unlock(&s->mu);
		log_event(s, "stream_lost", e.msg);
		if (none)
			set_fail(s, st, e.msg);
	}
	return NULL;
}

/* Declares dead, by aborting it, a stream that has had a write under way without any
 * progress for the stall limit (a black hole: no FIN, no RST, the socket buffer full);
 * its thread then fails and hands its chunk back.  Runs for the data phase of rp_send. */
static void *
watchdog_main(void *arg)
{
	struct sender *s = arg;
	const uint64_t limit_ns = (uint64_t)(s->stall_s * 1e9);
	pthread_mutex_lock(&s->mu);
	while (!s->watch_stop) {
		struct timespec ts = rp__timespec_in(0.1);
		pthread_cond_timedwait(&s->cv_watch, &s->mu, &ts);
		uint64_t now = now_ns();
		for (unsigned i = 0; i < s->nst; i++) {
			struct stream *t = &s->st[i];
			if (!t->started || !t->alive || atomic_load(&t->stalled) ||
			    !atomic_load(&t->busy))
				continue;
			uint64_t p = atomic_load(&t->progress_ns);
			if (now > p && now - p > limit_ns && atomic_load(&t->busy)) {
				atomic_store(&t->stalled, true);
				s->ops->abort(t->conn);
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Chunking */

struct chunker {
	struct sender *s;
	struct cbuf **data;          /* k buffers of the current group */
	struct rp__chunker cut;
};

static bool
have_key(const struct sender *s, uint64_t g, unsigned i)
{
	return rp__ranges_has(&s->have, rp__chunk_key(&s->gm, g, i));
}

static int
emit_data(struct chunker *c, uint64_t g, unsigned i, uint32_t size)
{
	struct sender *s = c->s;
	if (have_key(s, g, i)) {
		s->rep->skipped_bytes += size;
		return RP_OK;
	}
	/* A data chunk leaves before its group is known to be complete, so it carries k;
	 * the receiver takes group sizes from DONE (FORMAT.md 2.3). */
	return enqueue(s, c->data[i], g, i, s->k, size);
}

/* Computes and queues the parity of group g of kg data chunks, the last of which holds
 * last_size bytes, and lets go of its data buffers. */
static int
close_group(struct chunker *c, uint64_t g, unsigned kg, uint32_t last_size)
{
	struct sender *s = c->s;
	int st = RP_OK;
	bool all_have = true;
	for (unsigned i = 0; i < kg; i++)
		all_have &= have_key(s, g, i);
	if (s->m && !all_have) {
		uint8_t *dp[RP__MAX_K], *pp[RP__MAX_M];
		struct cbuf *par[RP__MAX_M] = {0};
		/* Zero padding beyond the bytes a stream thread may be sending: disjoint. */
		memset(c->data[kg - 1]->data + last_size, 0, s->cs - last_size);
		for (unsigned i = 0; i < kg; i++)
			dp[i] = c->data[i]->data;
		for (unsigned j = 0; j < s->m; j++) {
			par[j] = cbuf_new(s->cs);
			if (!par[j])
				st = RP_E_NOMEM;
			else
				pp[j] = par[j]->data;
		}
		if (st == RP_OK)
			st = rp__fec_encode(kg, s->m, s->cs, dp, pp);
		for (unsigned j = 0; j < s->m && st == RP_OK; j++) {
			if (have_key(s, g, s->k + j))
				s->rep->skipped_bytes += s->cs;
			else
				st = enqueue(s, par[j], g, s->k + j, kg, s->cs);
		}
		for (unsigned j = 0; j < s->m; j++)
			cbuf_put(par[j]);
	}
	for (unsigned i = 0; i < kg; i++) {
		cbuf_put(c->data[i]);
		c->data[i] = NULL;
	}
	return st;
}

static int
chunker_feed(struct chunker *c, const uint8_t *p, size_t n)
{
	struct sender *s = c->s;
	while (n) {
		if (!c->data[c->cut.index]) {
			c->data[c->cut.index] = cbuf_new(s->cs);
			if (!c->data[c->cut.index])
				return RP_E_NOMEM;
		}
		struct rp__chunk_step at = rp__chunker_step(&c->cut, n);
		memcpy(c->data[at.index]->data + at.offset, p, at.take);
		p += at.take;
		n -= at.take;
		if (at.chunk_full) {
			RP_TRY(emit_data(c, at.group, at.index, s->cs));
			if (at.group_full)
				RP_TRY(close_group(c, at.group, s->k, s->cs));
		}
		if (s->failed)
			return RP_E_CANCELLED;
	}
	return RP_OK;
}

/* An object's in-flight bytes into the chunker: held pieces straight from memory, a
 * verbatim input read as it is cut, through a bounce buffer of FEED_PIECE bytes, never
 * held whole. */
#define FEED_PIECE (1u << 20)

static int
feed_object(struct chunker *c, struct rp__inflight *f, uint8_t *bounce, struct rp_errbuf *err)
{
	uint64_t base = 0;
	for (int g = 0; g < f->nseg; base += f->seg[g++].n) {
		const struct rp__inflight_seg *sg = &f->seg[g];
		for (uint64_t done = 0; done < sg->n;) {
			size_t n = sg->n - done < FEED_PIECE ? (size_t)(sg->n - done) : FEED_PIECE;
			const uint8_t *p = sg->p + done;
			if (!sg->p) {
				RP_TRY(rp__inflight_copy(f, base + done, bounce, n, err));
				p = bounce;
			}
			int st = chunker_feed(c, p, n);
			if (st < 0)
				return rp__err(err, st, st == RP_E_NOMEM ? "out of memory"
									 : "cancelled");
			done += n;
		}
	}
	return RP_OK;
}

/* End of stream: the partly filled chunk and group. */
static int
chunker_finish(struct chunker *c)
{
	struct rp__chunk_tail t;
	if (!rp__chunker_finish(&c->cut, &t))
		return RP_OK;
	if (t.short_chunk)
		RP_TRY(emit_data(c, t.group, t.kg - 1, t.last_size));
	return close_group(c, t.group, t.kg, t.last_size);
}

/* ------------------------------------------------------------------------------------ */
/* Regenerating chunks the receiver asks for again */

struct regen {
	size_t cached;               /* object index in `obj`, or SIZE_MAX */
	struct rp__inflight obj;
	struct rp__conn *conn;       /* the control connection the answer goes out on */
};

/* One object built again on a thread of its own, while the control connection waits. */
struct regen_build {
	struct sender *s;
	size_t index;
	struct rp__inflight *obj;
	struct rp_errbuf err;
	int status;
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void report_progress(struct sender *s, bool force);

static int
regen_encode(struct sender *s, size_t j, struct rp__inflight *obj, struct rp_errbuf *err)
{
	RP_TRY(rp__inflight_build(&s->src[j], (uint32_t)j, s->o->codec, s->o->pool, s->enc,
				  s->nenc - 1, obj, err));
	s->prog.objects_regenerated++;
	report_progress(s, true);
	return RP_OK;
}

static void *
regen_build_main(void *arg)
{
	struct regen_build *b = arg;
	int st = regen_encode(b->s, b->index, b->obj, &b->err);
	pthread_mutex_lock(&b->mu);
	b->status = st;
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Builds object j again for a NEED answer.  Encoding a large object takes minutes and
 * the receiver drops a connection silent for its I/O timeout, so while the build runs
 * the control connection carries a KEEPALIVE every KEEPALIVE_S (when the peer takes
 * them; an old receiver's timeout is the limit then, as before). */
static int
regen_build(struct sender *s, struct rp__conn *c, size_t j, struct rp__inflight *obj,
	    struct rp_errbuf *err)
{
	if (!(s->caps & RP__CAP_KEEPALIVE))
		return regen_encode(s, j, obj, err);
	struct regen_build b = {.s = s, .index = j, .obj = obj};
	pthread_t th;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	int st = RP_OK;
	if (pthread_create(&th, NULL, regen_build_main, &b) != 0) {
		st = rp__err(err, RP_E_NOMEM, "cannot start a thread to encode %s again",
			     s->src[j].path);
		goto out;
	}
	pthread_mutex_lock(&b.mu);
	while (!b.done) {
		struct timespec ts = rp__timespec_in(KEEPALIVE_S);
		if (pthread_cond_timedwait(&b.cv, &b.mu, &ts) == 0 || b.done || st < 0)
			continue;
		pthread_mutex_unlock(&b.mu);
		/* A failed KEEPALIVE is the answer's failure too; the build still runs to
		 * its end (it holds the pool and the encoders) before this returns. */
		st = rp__send_frame(s->ops, c, RP__F_KEEPALIVE, "", 0, err);
		pthread_mutex_lock(&b.mu);
	}
	pthread_mutex_unlock(&b.mu);
	pthread_join(th, NULL);
	if (st == RP_OK && b.status < 0)
		st = rp__err(err, b.status, "%s", b.err.msg);
out:
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	return st;
}

static int
regen_data(struct sender *s, struct regen *r, uint64_t d, uint8_t *out, uint32_t *size_ret,
	   struct rp_errbuf *err)
{
	uint64_t start = d * s->cs, end = start + s->cs;
	if (end > s->stream_len)
		end = s->stream_len;
	if (start >= end)
		return RP_E_PROTOCOL;
	/* Last object starting at or before `start`. */
	size_t lo = 0, hi = s->count;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (s->obj_off[mid] <= start)
			lo = mid;
		else
			hi = mid;
	}
	uint64_t pos = start;
	for (size_t j = lo; j < s->count && pos < end; j++) {
		if (r->cached != j) {
			rp__inflight_free(&r->obj);
			r->cached = SIZE_MAX;
			RP_TRY(regen_build(s, r->conn, j, &r->obj, err));
			r->cached = j;
		}
		uint64_t obase = s->obj_off[j], oend = obase + r->obj.len;
		if (oend <= pos)
			continue;
		uint64_t n = (oend < end ? oend : end) - pos;
		RP_TRY(rp__inflight_copy(&r->obj, pos - obase, out + (pos - start), (size_t)n, err));
		pos += n;
	}
	if (pos != end)
		return RP_E_INTERNAL;
	*size_ret = (uint32_t)(end - start);
	return RP_OK;
}

static int
answer_need(struct sender *s, struct rp__conn *c, const uint8_t *p, size_t n,
	    struct rp_errbuf *err)
{
	struct rp__rbuf rb = {p, p + n};
	struct rp__ranges need;
	RP_TRY(rp__ranges_decode(&rb, &need, err));
	struct regen r = {.cached = SIZE_MAX, .conn = c};
	uint8_t *buf = malloc(s->cs);
	int st = buf ? RP_OK : RP_E_NOMEM;
	uint64_t data_chunks = rp__chunk_data_count(&s->gm, s->stream_len);
	for (uint32_t i = 0; i < need.count && st == RP_OK; i++) {
		for (uint64_t key = need.r[i][0]; key - need.r[i][0] < need.r[i][1]; key++) {
			uint64_t g = key / (s->k + s->m);
			unsigned idx = (unsigned)(key % (s->k + s->m));
			uint64_t d = g * s->k + idx;
			if (idx >= s->k || d >= data_chunks) {
				st = rp__err(err, RP_E_PROTOCOL,
					     "receiver asked for key %llu, not a data chunk",
					     (unsigned long long)key);
				break;
			}
			uint32_t size;
			if ((st = regen_data(s, &r, d, buf, &size, err)) < 0)
				break;
			struct rp__chunk ch = {.group = g, .index = (uint16_t)idx,
					       .k_group = (uint8_t)rp__chunk_group_size(&s->gm,
											 data_chunks, g),
					       .size = size};
			memcpy(ch.session, s->session, 16);
			if ((st = pace(s, RP__CHUNK_HEAD_SIZE + (size_t)size)) < 0) {
				rp__err(err, st, "stopped");
				break;
			}
			if ((st = rp__send_chunk(s->ops, c, &ch, buf, err)) < 0)
				break;
			s->rep->resent_bytes += size;
			atomic_fetch_add(&s->wire, size);
		}
	}
	rp__inflight_free(&r.obj);
	free(buf);
	rp__ranges_free(&need);
	return st;
}

/* ------------------------------------------------------------------------------------ */

static void
report_progress(struct sender *s, bool force)
{
	double now = rp__now();
	if (!s->o->progress || (!force && now - s->last_progress < 0.1))
		return;
	s->last_progress = now;
	s->prog.wire_bytes = atomic_load(&s->wire);
	s->prog.elapsed_s = now - s->t0;
	s->o->progress(s->o->progress_ctx, &s->prog);
}

/* Hashes one input with pread (the manifest and the session id need the hashes) and
 * records what it looked like, for rp__inflight_build() to check against later. */
static void
scan_job(void *arg, size_t i, unsigned worker)
{
	struct sender *s = arg;
	struct rp__src *in = &s->src[i];
	struct rp_errbuf e = {""};
	struct rp__sha256 *sha = NULL;
	uint8_t *buf = NULL;
	(void)worker;
	in->status = RP_OK;
	int fd = open(in->path, O_RDONLY | O_CLOEXEC);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0) {
		in->status = rp__err(&e, RP_E_IO, "%s: %s", in->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(stt.st_mode)) {
		in->status = rp__err(&e, RP_E_IO, "%s: not a regular file", in->path);
		goto out;
	}
	in->size = (size_t)stt.st_size;
	in->dev = stt.st_dev;
	in->ino = stt.st_ino;
	in->mtime = stt.st_mtim;
	in->ctime = stt.st_ctim;
	const size_t bs = 1u << 20;
	if ((in->status = rp__sha256_create(&sha)) < 0 || !(buf = malloc(bs))) {
		in->status = rp__err(&e, RP_E_NOMEM, "%s: out of memory", in->path);
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (size_t done = 0; done < in->size;) {
		if (atomic_load(&s->cancelled)) {
			in->status = rp__err(&e, RP_E_CANCELLED, "cancelled");
			goto out;
		}
		size_t want = in->size - done < bs ? in->size - done : bs;
		ssize_t n = pread(fd, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			in->status = rp__err(&e, RP_E_IO, "%s: read at offset %zu: %s", in->path,
					     done, strerror(errno));
			goto out;
		}
		if (n == 0) {
			in->status = rp__err(&e, RP_E_IO, "%s: file shrank to %zu bytes while it "
					     "was being read (%zu at the start)", in->path, done,
					     in->size);
			goto out;
		}
		rp__sha256_update(sha, buf, (size_t)n);
		done += (size_t)n;
	}
	if (fstat(fd, &stt) < 0 || !rp__src_same(in, &stt)) {
		in->status = rp__src_changed(&e, in);
		goto out;
	}
	rp__sha256_final(sha, in->sha256);
out:
	if (in->status < 0)
		snprintf(in->msg, sizeof(in->msg), "%s", e.msg);
	rp__sha256_destroy(sha);
	free(buf);
	if (fd >= 0)
		close(fd);
}

static int
recv_expect(struct sender *s, struct rp__conn *c, struct rp__wbuf *b, struct rp__frame_hdr *h,
	    struct rp_errbuf *err)
{
	bool crc_ok;
	RP_TRY(rp__recv_frame(s->ops, c, h, b, RP__MAX_PAYLOAD, &crc_ok, err));
	if (!crc_ok)
		return rp__err(err, RP_E_PROTOCOL, "frame from receiver fails its CRC");
	if (h->type == RP__F_ERROR) {
		int st;
		char m[RP_ERRBUF_SIZE - 16];
		RP_TRY(rp__error_decode(b->p, b->len, &st, m, sizeof(m), err));
		return rp__err(err, st, "receiver: %s", m);
	}
	return RP_OK;
}

static int
open_stream(struct sender *s, unsigned i, const struct rp__wbuf *manifest,
	    struct rp_errbuf *err)
{
	struct stream *t = &s->st[i];
	struct rp__wbuf b = {0};
	struct rp__frame_hdr h;
	int st;
	t->s = s;
	t->idx = i;
	rp__group_tally_init(&t->taken);
	struct rp__conn *c = NULL;
	RP_TRY(s->ops->open(s->tls, s->o->host, s->o->port, s->o->io_timeout_s, &c, err));
	pthread_mutex_lock(&s->mu);
	bool cancelled = atomic_load(&s->cancelled);
	if (!cancelled)
		t->conn = c;
	pthread_mutex_unlock(&s->mu);
	if (cancelled) {
		s->ops->close(c);
		return rp__err(err, RP_E_CANCELLED, "cancelled");
	}
	struct rp__hello hello = {.caps = s->caps, .stream_index = (uint16_t)i,
				  .stream_count = (uint16_t)s->nst};
	memcpy(hello.session, s->session, 16);
	rp__hello_encode(&b, &hello);
	double t_hello = rp__now();
	st = b.failed ? RP_E_NOMEM : rp__send_frame(s->ops, c, RP__F_HELLO, b.p, b.len, err);
	if (st == RP_OK && i == 0)
		st = rp__send_frame(s->ops, c, RP__F_MANIFEST, manifest->p, manifest->len, err);
	if (st == RP_OK)
		st = recv_expect(s, c, &b, &h, err);
	t->rtt = rp__now() - t_hello;
	if (st == RP_OK && h.type != RP__F_WELCOME)
		st = rp__err(err, RP_E_PROTOCOL, "expected WELCOME, got frame type %u", h.type);
	struct rp__welcome w;
	if (st == RP_OK)
		st = rp__welcome_decode(b.p, b.len, &w, err);
	if (st == RP_OK) {
		if (memcmp(w.session, s->session, 16) != 0)
			st = rp__err(err, RP_E_PROTOCOL, "WELCOME for another session");
		if (i == 0) {
			s->have = w.have;
			s->rep->resumed = w.state == RP__WELCOME_RESUMED;
			s->rep->already_delivered = w.state == RP__WELCOME_DELIVERED;
		} else {
			rp__ranges_free(&w.have);
		}
	}
	rp__wbuf_free(&b);
	if (st < 0) {
		stream_set_conn(t, NULL);
		s->ops->close(c);
		return st;
	}
	t->alive = true;
	return RP_OK;
}

/* Streams 1..N-1 open at once: each open is a TCP (+TLS, + fabric address exchange)
 * handshake and a HELLO/WELCOME round trip, so one after another they cost N times those
 * round trips on a long link (and N fabric endpoint setups with --fabric). */
struct opener {
	struct sender *s;
	unsigned i;
	const struct rp__wbuf *manifest;
	pthread_t thread;
	int status;
	struct rp_errbuf err;
};

static void *
opener_main(void *arg)
{
	struct opener *op = arg;
	op->status = open_stream(op->s, op->i, op->manifest, &op->err);
	return NULL;
}

static void
open_streams(struct sender *s, const struct rp__wbuf *manifest)
{
	struct opener *op = calloc(s->nst, sizeof(*op));
	bool *threaded = calloc(s->nst, sizeof(*threaded));
	for (unsigned i = 1; i < s->nst; i++) {
		if (op && threaded) {
			op[i] = (struct opener){.s = s, .i = i, .manifest = manifest};
			threaded[i] = pthread_create(&op[i].thread, NULL, opener_main, &op[i]) == 0;
			if (!threaded[i])
				opener_main(&op[i]);
		} else {
			struct rp_errbuf e2;
			if (open_stream(s, i, manifest, &e2) < 0)
				log_event(s, "stream_failed", e2.msg);
		}
	}
	/* Logged here, one at a time: the log callback is never called from two threads. */
	for (unsigned i = 1; op && threaded && i < s->nst; i++) {
		if (threaded[i])
			pthread_join(op[i].thread, NULL);
		if (op[i].status < 0)
			log_event(s, "stream_failed", op[i].err.msg);
	}
	free(op);
	free(threaded);
}

static int
finish_session(struct sender *s, struct rp_errbuf *err)
{
	/* The control connection: the first one still alive. */
	struct rp__conn *c = NULL;
	for (unsigned i = 0; i < s->nst && !c; i++)
		if (s->st[i].alive)
			c = s->st[i].conn;
	if (!c)
		return rp__err(err, RP_E_NET, "every connection to the receiver was lost");
	s->ops->set_timeout(c, s->o->io_timeout_s);
	struct rp__wbuf b = {0};
	struct rp__frame_hdr h;
	int st;
	uint64_t data_chunks = rp__chunk_data_count(&s->gm, s->stream_len);
	for (int round = 0;; round++) {
		struct rp__done d = {s->stream_len, data_chunks};
		b.len = 0;
		rp__done_encode(&b, &d);
		uint8_t tmp[16];
		memcpy(tmp, b.p, 16);
		if ((st = rp__send_frame(s->ops, c, RP__F_DONE, tmp, 16, err)) < 0)
			break;
		for (;;) {
			if ((st = recv_expect(s, c, &b, &h, err)) < 0)
				break;
			if (h.type == RP__F_PROGRESS) {
				report_progress(s, false);
				continue;
			}
			break;
		}
		if (st < 0)
			break;
		if (h.type == RP__F_NEED) {
			if (round >= 8) {
				st = rp__err(err, RP_E_NET, "receiver still missing chunks after "
							    "8 rounds of repair");
				break;
			}
			log_event(s, "need", "receiver asked for chunks again");
			if ((st = answer_need(s, c, b.p, b.len, err)) < 0)
				break;
			continue;
		}
		if (h.type == RP__F_COMPLETE) {
			uint64_t v[RP__COMPLETE_FIELDS];
			if ((st = rp__u64s_decode(b.p, b.len, v, RP__COMPLETE_FIELDS, err)) < 0)
				break;
			s->rep->crc_errors = v[4];
			s->rep->chunks_repaired = v[5];
			break;
		}
		st = rp__err(err, RP_E_PROTOCOL, "unexpected frame type %u after DONE", h.type);
		break;
	}
	rp__wbuf_free(&b);
	return st;
}

int
rp_send(const struct rp_send_options *o, const char *const *paths, const char *const *names,
	size_t count, struct rp_send_report *rep, struct rp_errbuf *err)
{
	if (!o || o->struct_size != sizeof(*o) || !o->host || !paths || !names || !rep ||
	    count == 0 || count > RP__MAX_OBJECTS)
		return rp__err(err, RP_E_INVALID_ARG, "rp_send: bad arguments");
	if (o->streams == 0 || o->streams > RP__MAX_STREAMS || o->fec_k > RP__MAX_K || o->fec_m > RP__MAX_M ||
	    (o->chunk_size && (o->chunk_size < RP__MIN_CHUNK_SIZE ||
			       o->chunk_size > RP__MAX_CHUNK_SIZE)))
		return rp__err(err, RP_E_INVALID_ARG,
			       "streams 1..%d, k 1..%d, m 0..%d, chunk size 4 KiB..64 MiB",
			       RP__MAX_STREAMS, RP__MAX_K, RP__MAX_M);
	if (!(o->max_rate_mbps == 0 || (o->max_rate_mbps >= 1 && o->max_rate_mbps <= 1e6)))
		return rp__err(err, RP_E_INVALID_ARG, "max rate %g Mbit/s: expected 1..1000000 "
			       "(0: no cap)", o->max_rate_mbps);
	if (o->codec == RP_CODEC_DEFLATE || o->codec == RP_CODEC_JPEG)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "%s cannot carry frames in flight: %s", rp_codec_name(o->codec),
			       o->codec == RP_CODEC_JPEG ? "it is lossy and the receiver checks "
			       "every pixel" : "it deflates whole datasets and frames nothing; "
			       "use native or a lossless frame codec");
	if (!rp_send_codec_ok(o->codec))
		return rp__err(err, RP_E_UNSUPPORTED, "this build cannot encode %s",
			       rp_codec_name(o->codec) ? rp_codec_name(o->codec) : "that codec");
	for (size_t i = 0; i < count; i++)
		RP_TRY(rp__path_check(names[i], strlen(names[i]), err));
	if (o->cancel && o->cancel(o->cancel_ctx))
		return rp__err(err, RP_E_CANCELLED, "cancelled before anything was sent");

	struct sender S = {0}, *s = &S;
	memset(rep, 0, sizeof(*rep));
	s->o = o;
	s->ops = rp__transport_for(&o->tls);
	s->rep = rep;
	s->count = count;
	s->cs = o->chunk_size;
	if (o->fec_k) {
		s->k = o->fec_k;
		s->m = o->fec_m;
	} else {
		rp__chunk_default_fec(o->streams, o->fec_m, RP__MAX_K, &s->k, &s->m);
	}
	rep->fec_k = (uint8_t)s->k;
	rep->fec_m = (uint8_t)s->m;
	s->nst = o->streams;
	s->t0 = rp__now();
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->log_mu, NULL);
	pthread_cond_init(&s->cv_watch, NULL);
	pthread_cond_init(&s->cv_slot, NULL);
	pthread_cond_init(&s->cv_q_item, NULL);
	pthread_cond_init(&s->cv_q_space, NULL);
	pthread_cond_init(&s->cv_cancel, NULL);
	pthread_mutex_init(&s->pace_mu, NULL);
	s->rate_Bps = o->max_rate_mbps * 1e6 / 8;
	atomic_init(&s->wire, 0);
	atomic_init(&s->parity_wire, 0);
	atomic_init(&s->cancelled, false);
	int st = RP_OK;
	struct rp__wbuf man = {0};
	struct slot *slots = NULL;
	uint8_t *bounce = NULL;
	unsigned window = 0;
	struct chunker ch = {.s = s};
	unsigned started = 0;
	pthread_t watchdog, canceller;
	bool watching = false, cancelling = false, complete = false;

	s->src = calloc(count, sizeof(*s->src));
	s->obj_off = calloc(count, sizeof(*s->obj_off));
	s->nenc = (o->pool ? rp_pool_threads(o->pool) : 0) + 1;
	s->enc = calloc(s->nenc, sizeof(*s->enc));
	s->st = calloc(s->nst, sizeof(*s->st));
	s->qcap = 2 * ((size_t)s->k + s->m) + 2 * s->nst;
	/* Room for one chunk per stream beyond the producer's limit: a dying stream puts
	 * the chunk it was writing back (requeue). */
	s->q = calloc(s->qcap + s->nst, sizeof(*s->q));
	ch.data = calloc(s->k, sizeof(*ch.data));
	if (!s->src || !s->obj_off || !s->enc || !s->st || !s->q || !ch.data) {
		st = RP_E_NOMEM;
		goto out;
	}
	if (o->cancel &&
	    !(cancelling = pthread_create(&canceller, NULL, canceller_main, s) == 0)) {
		st = rp__err(err, RP_E_INTERNAL, "cannot create the thread that polls cancel");
		goto out;
	}

	/* Scan: map and hash every file (the manifest and session id need the hashes). */
	for (size_t i = 0; i < count; i++)
		s->src[i].path = paths[i];
	rp_pool_parallel_for(o->pool, count, scan_job, s);
	struct rp__mentry *ents = calloc(count, sizeof(*ents));
	if (!ents) {
		st = RP_E_NOMEM;
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < count; i++)
		total += s->src[i].size;
	if (!s->cs) {
		/* Auto: big studies get 4 MiB chunks (few frames, little per-chunk cost);
		 * small ones smaller chunks, so the stream still makes a few full groups and
		 * a short last group's parity (always a whole chunk) stays a small share. */
		uint64_t want = total / (8 * (uint64_t)s->k);
		s->cs = 64u << 10;
		while (s->cs < (4u << 20) && (uint64_t)s->cs * 2 <= want)
			s->cs *= 2;
	}
	s->gm = (struct rp__chunk_geom){.cs = s->cs, .k = s->k, .m = s->m};
	rp__chunker_init(&ch.cut, &s->gm);
	struct rp__manifest mf = {.count = (uint32_t)count, .chunk_size = s->cs,
				  .k = (uint8_t)s->k, .m = (uint8_t)s->m, .e = ents};
	for (size_t i = 0; i < count; i++) {
		if (s->src[i].status < 0) {
			st = rp__err(err, s->src[i].status, "%s", s->src[i].msg);
			free(ents);
			goto out;
		}
		ents[i].path = (char *)names[i];
		ents[i].size = s->src[i].size;
		memcpy(ents[i].sha256, s->src[i].sha256, 32);
		ents[i].codec = (uint8_t)o->codec;
		mf.total += s->src[i].size;
	}
	rp__manifest_encode(&man, &mf);
	free(ents);
	if (man.failed || man.len > RP__MAX_PAYLOAD) {
		st = rp__err(err, man.failed ? RP_E_NOMEM : RP_E_LIMIT,
			     "manifest of %zu objects does not fit one frame", count);
		goto out;
	}
	if ((st = rp__session_id(man.p, man.len, s->session)) < 0)
		goto out;
	memcpy(rep->session_id, s->session, 16);
	rep->chunk_size = s->cs;
	rep->objects = count;
	rep->original_bytes = mf.total;
	s->prog.objects_total = count;
	s->prog.original_total = mf.total;

	if (atomic_load(&s->cancelled) || (st = s->ops->tls_create(&o->tls, false, &s->tls, err)) < 0)
		goto out;
	s->caps = RP__CAP_FEC | RP__CAP_RESUME | RP__CAP_KEEPALIVE;
	struct rp_errbuf e0 = {""};
	st = open_stream(s, 0, &man, &e0);
	if (st == RP_E_PROTOCOL && strstr(e0.msg, "unknown capabilities")) {
		/* A receiver older than KEEPALIVE (FORMAT.md section 7): without it, a
		 * connection left idle for the receiver's I/O timeout while a large object
		 * is encoded is dropped and its chunks go to the others. */
		log_event(s, "downgraded", "the receiver does not take KEEPALIVE frames");
		s->caps &= ~RP__CAP_KEEPALIVE;
		st = open_stream(s, 0, &man, &e0);
	}
	if (st < 0) {
		rp__err(err, st, "%s", e0.msg);
		goto out;
	}
	log_event(s, "connected", rep->resumed ? "resumed" : "new");
	if (rep->already_delivered) {
		rep->wall_s = rp__now() - s->t0;
		complete = true;
		goto out;
	}
	open_streams(s, &man);
	if (atomic_load(&s->cancelled))
		goto out;
	double rtt = 0;
	for (unsigned i = 0; i < s->nst; i++)
		if (s->st[i].alive) {
			s->live++;
			if (!rtt || s->st[i].rtt < rtt)
				rtt = s->st[i].rtt;
		}
	s->stall_s = STALL_RTTS * rtt > STALL_MIN_S ? STALL_RTTS * rtt : STALL_MIN_S;
	if (s->stall_s > o->io_timeout_s)
		s->stall_s = o->io_timeout_s;
	for (unsigned i = 0; i < s->nst; i++) {
		if (!s->st[i].alive)
			continue;
		if (pthread_create(&s->st[i].thread, NULL, stream_main, &s->st[i]) != 0) {
			set_fail(s, RP_E_INTERNAL, "cannot create a stream thread");
			break;
		}
		s->st[i].started = true;
		started++;
	}
	watching = pthread_create(&watchdog, NULL, watchdog_main, s) == 0;

	/* Produce: objects in order, encoded `window` ahead on the pool. */
	window = o->pool ? 2 * rp_pool_threads(o->pool) + 2 : 1;
	slots = calloc(window, sizeof(*slots));
	bounce = malloc(FEED_PIECE);
	if (!slots || !bounce) {
		set_fail(s, RP_E_NOMEM, "out of memory");
		goto drain;
	}
	size_t next_submit = 0;
	uint64_t off = 0, ahead = 0;  /* input bytes of objects submitted, not yet queued */
	const uint64_t budget = o->memory_budget ? o->memory_budget : DEFAULT_BUDGET;
	for (size_t j = 0; j < count && !s->failed && !atomic_load(&s->cancelled); j++) {
		while (o->pool && next_submit < count && next_submit < j + window &&
		       (next_submit == j || ahead + s->src[next_submit].size <= budget)) {
			struct slot *sl = &slots[next_submit % window];
			*sl = (struct slot){.index = next_submit, .busy = true, .s = s};
			ahead += s->src[next_submit].size;
			if (rp_pool_submit(o->pool, slot_job, sl) != RP_OK)
				slot_job(sl, s->nenc - 1);
			next_submit++;
		}
		struct slot *sl = &slots[j % window];
		if (o->pool) {
			pthread_mutex_lock(&s->mu);
			while (!sl->done)
				pthread_cond_wait(&s->cv_slot, &s->mu);
			pthread_mutex_unlock(&s->mu);
		} else {
			struct rp_errbuf e = {""};
			*sl = (struct slot){.index = j, .busy = true, .s = s};
			sl->status = rp__inflight_build(&s->src[j], (uint32_t)j, s->o->codec, NULL,
							s->enc, 0, &sl->obj, &e);
			snprintf(sl->msg, sizeof(sl->msg), "%s", e.msg);
		}
		if (sl->status < 0) {
			set_fail(s, sl->status, sl->msg);
			sl->busy = false;
			break;
		}
		s->obj_off[j] = off;
		off += sl->obj.len;
		rep->objects_framed += sl->obj.framed;
		struct rp_errbuf e = {""};
		st = feed_object(&ch, &sl->obj, bounce, &e);
		rp__inflight_free(&sl->obj);
		sl->busy = false;
		if (o->pool)
			ahead -= s->src[j].size;
		if (st < 0) {
			set_fail(s, st, e.msg);
			break;
		}
		s->prog.objects_encoded = j + 1;
		s->prog.original_done += s->src[j].size;
		s->prog.stream_bytes = off;
		report_progress(s, false);
	}
	s->stream_len = off;
	rep->stream_bytes = off;
	if (!s->failed && (st = chunker_finish(&ch)) < 0)
		set_fail(s, st, "cannot queue the last group");
drain:
	/* Let the streams empty the queue, then close it. */
	pthread_mutex_lock(&s->mu);
	s->q_closed = true;
	pthread_cond_broadcast(&s->cv_q_item);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nst; i++)
		if (s->st[i].started)
			pthread_join(s->st[i].thread, NULL);
	if (watching) {
		pthread_mutex_lock(&s->mu);
		s->watch_stop = true;
		pthread_cond_broadcast(&s->cv_watch);
		pthread_mutex_unlock(&s->mu);
		pthread_join(watchdog, NULL);
		watching = false;
	}
	if (o->pool)
		rp_pool_wait(o->pool);
	for (size_t i = 0; slots && i < window; i++)
		rp__inflight_free(&slots[i].obj);
	if (s->failed) {
		st = rp__err(err, s->fail_status ? s->fail_status : RP_E_NET, "%s", s->fail_msg);
		goto out;
	}
	report_progress(s, true);
	st = finish_session(s, err);
	complete = st == RP_OK;
	rep->wire_bytes = atomic_load(&s->wire);
	rep->parity_bytes = atomic_load(&s->parity_wire);
	rep->wall_s = rp__now() - s->t0;
	if (!atomic_load(&s->cancelled) || complete)
		log_event(s, complete ? "complete" : "failed", complete ? "" : err ? err->msg : "");
out:
	(void)started;
	if (cancelling) {
		pthread_mutex_lock(&s->mu);
		s->cancel_stop = true;
		pthread_cond_broadcast(&s->cv_cancel);
		pthread_mutex_unlock(&s->mu);
		pthread_join(canceller, NULL);
	}
	/* A send the receiver completed stands even when a cancel came during its last
	 * exchange; anything else stopped by a cancel is reported as one. */
	if (atomic_load(&s->cancelled) && !complete) {
		rep->wire_bytes = atomic_load(&s->wire);
		rep->parity_bytes = atomic_load(&s->parity_wire);
		st = rp__err(err, RP_E_CANCELLED, "cancelled after %llu bytes were sent; the "
			     "receiver keeps what it received and the same send resumes",
			     (unsigned long long)rep->wire_bytes);
		log_event(s, "cancelled", err ? err->msg : "");
	}
	for (unsigned i = 0; s->st && i < s->nst; i++)
		if (s->st[i].conn)
			s->ops->close(s->st[i].conn);
	if (s->tls)
		s->ops->tls_destroy(s->tls);
	while (s->q && s->qn)
		cbuf_put(s->q[--s->qn].buf);
	for (unsigned i = 0; ch.data && i < s->k; i++)
		cbuf_put(ch.data[i]);
	free(ch.data);
	for (unsigned i = 0; s->enc && i < s->nenc; i++)
		rp__inflight_encoder_free(s->enc[i]);
	free(slots);
	free(bounce);
	free(s->enc);
	free(s->src);
	free(s->obj_off);
	free(s->st);
	free(s->q);
	rp__ranges_free(&s->have);
	rp__wbuf_free(&man);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->log_mu);
	pthread_cond_destroy(&s->cv_watch);
	pthread_cond_destroy(&s->cv_slot);
	pthread_cond_destroy(&s->cv_q_item);
	pthread_cond_destroy(&s->cv_q_space);
	pthread_cond_destroy(&s->cv_cancel);
	pthread_mutex_destroy(&s->pace_mu);
	return st;
}
