/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/fault/fault.c - the fault-injecting test backend (fault.h): every call goes to
 * the TCP backend, cut into pieces at the byte offsets where a rule of the connection
 * strikes, so a fault lands exactly on its byte whatever sizes the caller writes. */
#include "transport/fault/fault.h"

#include <pthread.h>
#include <stdio.h>

static const struct rp__transport_ops *const inner = &rp__tcp_ops;

/* The installed plan and what it did; under g_mu. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rp__fault_plan g_plan;
static unsigned g_nconn[2];
static unsigned g_fired[RP__FAULT_MAX_RULES];
/* Wrapped connections of black holes, kept open so their peers hear nothing. */
static struct rp__conn **g_grave;
static size_t g_ngrave, g_capgrave;

struct fault_tls {
	struct rp__tls *inner;
};

struct rule_state {
	struct rp__fault_rule r;
	unsigned id;                 /* index in the plan */
	bool done;                   /* struck (touched only by its direction's thread) */
};

struct fault_conn {
	struct rp__conn *inner;
	unsigned index;
	struct rule_state rs[RP__FAULT_MAX_RULES];
	unsigned nrs;
	/* Bytes moved each way; each touched only by the thread doing that direction. */
	uint64_t pos[2];
	bool eof;                    /* RX thread only */

	pthread_mutex_t mu;          /* the fields below */
	pthread_cond_t cv;           /* abort wakes pauses and black-hole waits */
	double timeout_s;
	bool aborted, hole;
	uint64_t hole_room;          /* bytes the black hole still swallows */
	int dead;                    /* RP_E_NET once dropped or cut */
	char why[160];
};

static struct fault_conn *
fc_of(struct rp__conn *c)
{
	return (struct fault_conn *)c;
}

/* Counts a strike of the rule, unless its limit of connections is reached: false then,
 * and the rule is spent on this connection. */
static bool
claim(struct rule_state *rs)
{
	pthread_mutex_lock(&g_mu);
	bool ok = !rs->r.limit || g_fired[rs->id] < rs->r.limit;
	if (ok)
		g_fired[rs->id]++;
	pthread_mutex_unlock(&g_mu);
	rs->done = true;
	return ok;
}

static unsigned
take_index(enum rp__fault_side side)
{
	pthread_mutex_lock(&g_mu);
	unsigned i = g_nconn[side]++;
	pthread_mutex_unlock(&g_mu);
	return i;
}

static struct fault_conn *
fc_new(struct rp__conn *in, enum rp__fault_side side, unsigned index, double timeout_s)
{
	struct fault_conn *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return NULL;
	fc->inner = in;
	fc->index = index;
	fc->timeout_s = timeout_s > 0 ? timeout_s : 60;
	pthread_mutex_init(&fc->mu, NULL);
	pthread_cond_init(&fc->cv, NULL);
	pthread_mutex_lock(&g_mu);
	for (unsigned i = 0; i < g_plan.nrules; i++) {
		const struct rp__fault_rule *r = &g_plan.rule[i];
		if (r->side == side && (r->conn == RP__FAULT_ANY_CONN || r->conn == index))
			fc->rs[fc->nrs++] = (struct rule_state){.r = *r, .id = i};
	}
	pthread_mutex_unlock(&g_mu);
	return fc;
}

static int
conn_failed(struct fault_conn *fc, const char *what, struct rp_errbuf *err)
{
	const char *peer = inner->peer(fc->inner);
	pthread_mutex_lock(&fc->mu);
	int st = RP_OK;
	if (fc->aborted)
		st = rp__err(err, RP_E_CANCELLED, "%s %s: connection aborted", what, peer);
	else if (fc->dead)
		st = rp__err(err, fc->dead, "%s %s: %s", what, peer, fc->why);
	pthread_mutex_unlock(&fc->mu);
	return st;
}

/* Waits until the connection is aborted or `seconds` pass; RP_OK when they passed. */
static int
wait_abort(struct fault_conn *fc, double seconds)
{
	struct timespec ts = rp__timespec_in(seconds);
	int st = RP_OK;
	pthread_mutex_lock(&fc->mu);
	while (!fc->aborted && pthread_cond_timedwait(&fc->cv, &fc->mu, &ts) == 0)
		;
	if (fc->aborted)
		st = RP_E_CANCELLED;
	pthread_mutex_unlock(&fc->mu);
	return st;
}

/* Inside a black hole nothing arrives and nothing leaves: the call blocks as a full
 * socket buffer or an empty one does, until an abort or the I/O timeout. */
static int
hole_wait(struct fault_conn *fc, const char *what, struct rp_errbuf *err)
{
	pthread_mutex_lock(&fc->mu);
	double t = fc->timeout_s;
	pthread_mutex_unlock(&fc->mu);
	if (wait_abort(fc, t) == RP_OK)
		return rp__err(err, RP_E_TIMEOUT, "%s %s: timed out", what, inner->peer(fc->inner));
	return conn_failed(fc, what, err);
}

static bool
in_hole(struct fault_conn *fc)
{
	pthread_mutex_lock(&fc->mu);
	bool h = fc->hole;
	pthread_mutex_unlock(&fc->mu);
	return h;
}

static int
strike(struct fault_conn *fc, struct rule_state *rs, const char *what, struct rp_errbuf *err)
{
	const struct rp__fault_rule *r = &rs->r;
	if (!claim(rs))
		return RP_OK;
	switch (r->kind) {
	case RP__FAULT_DROP:
	case RP__FAULT_CUT:
		pthread_mutex_lock(&fc->mu);
		if (!fc->dead) {
			fc->dead = RP_E_NET;
			snprintf(fc->why, sizeof(fc->why),
				 "connection %s by the fault plan (rule %u, connection %u, byte %llu)",
				 r->kind == RP__FAULT_CUT ? "reset" : "dropped", rs->id, fc->index,
				 (unsigned long long)r->at);
		}
		pthread_mutex_unlock(&fc->mu);
		if (r->kind == RP__FAULT_CUT && inner->reset)
			inner->reset(fc->inner);
		else
			inner->abort(fc->inner);
		return conn_failed(fc, what, err);
	case RP__FAULT_BLACKHOLE:
		pthread_mutex_lock(&fc->mu);
		fc->hole = true;
		fc->hole_room = r->arg;
		pthread_mutex_unlock(&fc->mu);
		return RP_OK;
	case RP__FAULT_EOF:
		fc->eof = r->dir == RP__FAULT_RX;
		return RP_OK;
	default:
		return RP_OK;
	}
}

/* The next piece of a call that has `size` bytes left: how long it may be, a rule that
 * strikes before it, the pause before it, and a rule whose flip lands on its one byte. */
struct piece {
	size_t n;
	struct rule_state *strike, *flip;
	uint64_t pause_us;
};

static void
clamp(size_t *n, uint64_t limit)
{
	if (limit < *n)
		*n = (size_t)limit;
}

static void
next_piece(struct fault_conn *fc, enum rp__fault_dir d, size_t size, struct piece *pc)
{
	uint64_t pos = fc->pos[d];
	*pc = (struct piece){.n = size};
	for (unsigned i = 0; i < fc->nrs; i++) {
		struct rule_state *rs = &fc->rs[i];
		const struct rp__fault_rule *r = &rs->r;
		if (r->dir != d || rs->done)
			continue;
		bool reached = pos >= r->at;
		switch (r->kind) {
		case RP__FAULT_DROP:
		case RP__FAULT_CUT:
		case RP__FAULT_BLACKHOLE:
		case RP__FAULT_EOF:
			if (reached) {
				pc->strike = rs;
				return;
			}
			clamp(&pc->n, r->at - pos);
			break;
		case RP__FAULT_CORRUPT:
			if (pos == r->at) {
				pc->flip = rs;
				pc->n = 1;
			} else if (!reached) {
				clamp(&pc->n, r->at - pos);
			}
			break;
		case RP__FAULT_SHORT_IO:
			clamp(&pc->n, reached ? (r->arg ? r->arg : 1) : r->at - pos);
			break;
		case RP__FAULT_DELAY:
			if (!reached)
				clamp(&pc->n, r->at - pos);
			break;
		}
	}
	for (unsigned i = 0; i < fc->nrs; i++) {
		const struct rp__fault_rule *r = &fc->rs[i].r;
		if (r->dir == d && r->kind == RP__FAULT_DELAY && pos >= r->at)
			pc->pause_us += r->arg + (uint64_t)r->arg2 * pc->n / 1024;
	}
}

static uint8_t
flip_mask(const struct rule_state *rs)
{
	return rs->r.arg ? (uint8_t)rs->r.arg : 0xff;
}

static int
fault_send(struct rp__conn *c, const void *data, size_t size, struct rp_errbuf *err)
{
	struct fault_conn *fc = fc_of(c);
	const uint8_t *p = data;
	while (size) {
		RP_TRY(conn_failed(fc, "send to", err));
		pthread_mutex_lock(&fc->mu);
		bool hole = fc->hole;
		size_t swallow = size;
		clamp(&swallow, fc->hole_room);
		fc->hole_room -= swallow;
		pthread_mutex_unlock(&fc->mu);
		if (hole) {
			if (!swallow)
				return hole_wait(fc, "send to", err);
			fc->pos[RP__FAULT_TX] += swallow;
			p += swallow;
			size -= swallow;
			continue;
		}
		struct piece pc;
		next_piece(fc, RP__FAULT_TX, size, &pc);
		if (pc.strike) {
			RP_TRY(strike(fc, pc.strike, "send to", err));
			continue;
		}
		if (pc.pause_us && wait_abort(fc, (double)pc.pause_us * 1e-6) < 0)
			return conn_failed(fc, "send to", err);
		if (pc.flip && claim(pc.flip)) {
			uint8_t b = p[0] ^ flip_mask(pc.flip);
			RP_TRY(inner->send(fc->inner, &b, 1, err));
		} else {
			RP_TRY(inner->send(fc->inner, p, pc.n, err));
		}
		fc->pos[RP__FAULT_TX] += pc.n;
		p += pc.n;
		size -= pc.n;
	}
	return RP_OK;
}

static int
fault_recv(struct rp__conn *c, void *data, size_t size, struct rp_errbuf *err)
{
	struct fault_conn *fc = fc_of(c);
	uint8_t *p = data;
	while (size) {
		RP_TRY(conn_failed(fc, "receive from", err));
		if (in_hole(fc))
			return hole_wait(fc, "receive from", err);
		if (fc->eof)
			return rp__err(err, RP_E_CLOSED, "receive from %s: connection closed by peer "
				       "(the fault plan's end of stream at byte %llu)",
				       inner->peer(fc->inner),
				       (unsigned long long)fc->pos[RP__FAULT_RX]);
		struct piece pc;
		next_piece(fc, RP__FAULT_RX, size, &pc);
		if (pc.strike) {
			RP_TRY(strike(fc, pc.strike, "receive from", err));
			continue;
		}
		if (pc.pause_us && wait_abort(fc, (double)pc.pause_us * 1e-6) < 0)
			return conn_failed(fc, "receive from", err);
		RP_TRY(inner->recv(fc->inner, p, pc.n, err));
		if (pc.flip && claim(pc.flip))
			p[0] ^= flip_mask(pc.flip);
		fc->pos[RP__FAULT_RX] += pc.n;
		p += pc.n;
		size -= pc.n;
	}
	return RP_OK;
}

static int
fault_tls_create(const struct rp_tls_config *cfg, bool server, struct rp__tls **ret,
		 struct rp_errbuf *err)
{
	struct fault_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return RP_E_NOMEM;
	int st = inner->tls_create(cfg, server, &t->inner, err);
	if (st < 0) {
		free(t);
		return st;
	}
	*ret = (struct rp__tls *)t;
	return RP_OK;
}

static void
fault_tls_destroy(struct rp__tls *tls)
{
	struct fault_tls *t = (struct fault_tls *)tls;
	if (!t)
		return;
	inner->tls_destroy(t->inner);
	free(t);
}

static int
fault_open(struct rp__tls *tls, const char *host, uint16_t port, double timeout_s,
	   struct rp__conn **ret, struct rp_errbuf *err)
{
	unsigned index = take_index(RP__FAULT_CLIENT);
	struct rp__conn *in;
	RP_TRY(inner->open(((struct fault_tls *)tls)->inner, host, port, timeout_s, &in, err));
	struct fault_conn *fc = fc_new(in, RP__FAULT_CLIENT, index, timeout_s);
	if (!fc) {
		inner->close(in);
		return RP_E_NOMEM;
	}
	*ret = (struct rp__conn *)fc;
	return RP_OK;
}

static int
fault_listen(const char *host, uint16_t port, struct rp__listener **ret, uint16_t *bound,
	     struct rp_errbuf *err)
{
	return inner->listen(host, port, ret, bound, err);
}

static int
fault_accept(struct rp__listener *l, double timeout_s, struct rp__conn **ret,
	     struct rp_errbuf *err)
{
	struct rp__conn *in;
	RP_TRY(inner->accept(l, timeout_s, &in, err));
	struct fault_conn *fc = fc_new(in, RP__FAULT_SERVER, take_index(RP__FAULT_SERVER), 0);
	if (!fc) {
		inner->close(in);
		return RP_E_NOMEM;
	}
	*ret = (struct rp__conn *)fc;
	return RP_OK;
}

/* A drop or cut at byte 0 strikes before the TLS handshake, so the peer's handshake is
 * what fails (the handshake's own bytes do not pass through this layer). */
static int
fault_handshake(struct rp__conn *c, struct rp__tls *tls, double timeout_s,
		struct rp_errbuf *err)
{
	struct fault_conn *fc = fc_of(c);
	for (unsigned i = 0; i < fc->nrs; i++) {
		struct rule_state *rs = &fc->rs[i];
		if (!rs->done && rs->r.at == 0 &&
		    (rs->r.kind == RP__FAULT_DROP || rs->r.kind == RP__FAULT_CUT))
			return strike(fc, rs, "handshake with", err);
	}
	pthread_mutex_lock(&fc->mu);
	fc->timeout_s = timeout_s;
	pthread_mutex_unlock(&fc->mu);
	return inner->handshake(fc->inner, ((struct fault_tls *)tls)->inner, timeout_s, err);
}

static void
fault_abort(struct rp__conn *c)
{
	struct fault_conn *fc = fc_of(c);
	pthread_mutex_lock(&fc->mu);
	fc->aborted = true;
	bool hole = fc->hole;
	pthread_cond_broadcast(&fc->cv);
	pthread_mutex_unlock(&fc->mu);
	/* Nothing leaves a black hole, not even the FIN of a shutdown. */
	if (!hole)
		inner->abort(fc->inner);
}

static void
fault_reset(struct rp__conn *c)
{
	struct fault_conn *fc = fc_of(c);
	pthread_mutex_lock(&fc->mu);
	fc->aborted = true;
	pthread_cond_broadcast(&fc->cv);
	pthread_mutex_unlock(&fc->mu);
	if (inner->reset)
		inner->reset(fc->inner);
	else
		inner->abort(fc->inner);
}

static void
fault_close(struct rp__conn *c)
{
	struct fault_conn *fc = fc_of(c);
	if (!fc)
		return;
	bool keep = in_hole(fc);
	if (keep) {
		pthread_mutex_lock(&g_mu);
		if (g_ngrave == g_capgrave) {
			size_t cap = g_capgrave ? 2 * g_capgrave : 16;
			struct rp__conn **p = realloc(g_grave, cap * sizeof(*p));
			if (p) {
				g_grave = p;
				g_capgrave = cap;
			}
		}
		keep = g_ngrave < g_capgrave;
		if (keep)
			g_grave[g_ngrave++] = fc->inner;
		pthread_mutex_unlock(&g_mu);
	}
	if (!keep)
		inner->close(fc->inner);
	pthread_cond_destroy(&fc->cv);
	pthread_mutex_destroy(&fc->mu);
	free(fc);
}

static void
fault_close_listener(struct rp__listener *l)
{
	inner->close_listener(l);
}

static const char *
fault_peer(const struct rp__conn *c)
{
	return inner->peer(((const struct fault_conn *)c)->inner);
}

static void
fault_set_timeout(struct rp__conn *c, double timeout_s)
{
	struct fault_conn *fc = fc_of(c);
	pthread_mutex_lock(&fc->mu);
	fc->timeout_s = timeout_s;
	pthread_mutex_unlock(&fc->mu);
	inner->set_timeout(fc->inner, timeout_s);
}

static double
fault_rx_idle_s(const struct rp__conn *c)
{
	return inner->rx_idle_s(((const struct fault_conn *)c)->inner);
}

const struct rp__transport_ops rp__fault_ops = {
	.size = sizeof(struct rp__transport_ops),
	.name = "fault",
	.tls_create = fault_tls_create,
	.tls_destroy = fault_tls_destroy,
	.open = fault_open,
	.listen = fault_listen,
	.accept = fault_accept,
	.handshake = fault_handshake,
	.send = fault_send,
	.recv = fault_recv,
	.abort = fault_abort,
	.reset = fault_reset,
	.close = fault_close,
	.close_listener = fault_close_listener,
	.peer = fault_peer,
	.set_timeout = fault_set_timeout,
	.rx_idle_s = fault_rx_idle_s,
};

void
rp__fault_install(const struct rp__fault_plan *plan)
{
	pthread_mutex_lock(&g_mu);
	memset(&g_plan, 0, sizeof(g_plan));
	if (plan)
		g_plan = *plan;
	if (g_plan.nrules > RP__FAULT_MAX_RULES)
		g_plan.nrules = RP__FAULT_MAX_RULES;
	memset(g_nconn, 0, sizeof(g_nconn));
	memset(g_fired, 0, sizeof(g_fired));
	pthread_mutex_unlock(&g_mu);
	rp__transport_set_override(&rp__fault_ops);
}

void
rp__fault_uninstall(void)
{
	rp__transport_set_override(NULL);
	pthread_mutex_lock(&g_mu);
	g_plan.nrules = 0;
	struct rp__conn **grave = g_grave;
	size_t n = g_ngrave;
	g_grave = NULL;
	g_ngrave = g_capgrave = 0;
	pthread_mutex_unlock(&g_mu);
	for (size_t i = 0; i < n; i++)
		inner->close(grave[i]);
	free(grave);
}

unsigned
rp__fault_fired(unsigned rule)
{
	pthread_mutex_lock(&g_mu);
	unsigned n = rule < RP__FAULT_MAX_RULES ? g_fired[rule] : 0;
	pthread_mutex_unlock(&g_mu);
	return n;
}

unsigned
rp__fault_conns(enum rp__fault_side side)
{
	pthread_mutex_lock(&g_mu);
	unsigned n = g_nconn[side];
	pthread_mutex_unlock(&g_mu);
	return n;
}
