/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/ofi/ofi.c - the libfabric backend behind the ops table
 * (docs/LIBFABRIC.md).  Each radpipe connection is a TCP(+TLS) control connection, made
 * and authenticated by the TCP backend exactly as without a fabric, plus one FI_EP_RDM
 * endpoint per side.  The two sides swap endpoint names (fi_getname) over the
 * authenticated connection, then every radpipe frame (chunks and control frames alike)
 * flows over the fabric, a window of messages in flight each way.  The TCP connection
 * stays open as the liveness signal: when the peer process dies its kernel closes the
 * socket, which a fabric endpoint would not tell us until a timeout.
 *
 * One fabric, domain and address vector per side (per rp_send call, per rp_serve), one
 * endpoint and completion queue per connection, so N streams are N endpoints (N sockets
 * with the tcp provider).  A sender opens its connections at once (send.c), so their
 * endpoints are built in parallel; a receiver keeps one built ahead by a builder thread
 * (ofi_rxm clears its receive pool at fi_enable), ready for the next connection.
 *
 * Two data paths, chosen per connection at the address exchange:
 * - tagged sends (every provider): the tag's upper 32 bits are a random number the client
 *   picks and sends over TLS, the lower 31 the message's sequence number in its
 *   direction.  Receive buffer i only ever matches message i, so the byte stream is
 *   rebuilt in order whatever order the provider completes messages in.  The random half
 *   is not authentication (the fabric is trusted by requirement); it keeps a stray or
 *   stale sender from being read as this connection's stream.
 * - RMA writes (both sides' providers offer FI_RMA and remote CQ data, not turned off):
 *   each side advertises the key and address of its registered receive slots; the
 *   writer fi_writedata()s message i straight into slot i % window with (i, length) as
 *   remote CQ data, whose completion at the target says the bytes have landed.  The
 *   reader hands a slot back with a credit (a tagged inject of its cumulative count of
 *   messages consumed), since a write, unlike a send, does not wait for the reader. */
#include "transport/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#define OFI_VERSION FI_VERSION(1, 9)
#define OFI_MAGIC 0x464f5052u        /* "RPOF" little-endian */
#define OFI_HELLO_VERSION 2
#define OFI_HELLO_SIZE 40
#define OFI_MAX_ADDR 1024
#define OFI_DEFAULT_SEG (256u << 10)
#define OFI_MIN_SEG 4096u
#define OFI_MAX_SEG (64u << 20)
#define OFI_DEFAULT_WINDOW 16u
#define OFI_MAX_WINDOW 256u
#define OFI_HELLO_RMA 1u             /* hello flag: this side takes RMA writes */
#define OFI_SEQ_MASK 0x7fffffffu     /* tag low half: sequence number ... */
#define OFI_CREDIT_TAG 0x80000000u   /* ... or a credit (RMA path) */
#define OFI_CREDIT_SLOTS 4u
/* Endpoints kept built ahead per side (each holds 2 x window x seg registered). */
#define OFI_SPARES 1u
/* After the control connection closes, data already delivered to us is still read;
 * this long without it means the peer is gone. */
#define OFI_PEER_GRACE_S 2.0
/* fi_cq_sread timeout of the progress thread: also how soon it sees a stop request. */
#define OFI_SREAD_MS 1

/* One endpoint with everything it owns, built before the peer is known. */
struct ofi_ep {
	struct fid_cq *cq;
	struct fid_ep *ep;
	struct fid_mr *mr;           /* the whole region, local access */
	struct fid_mr *rx_mr;        /* the receive slots, remote write (RMA path only) */
	void *mem, *desc;
	size_t mem_size;
	bool cq_waits;               /* fi_cq_sread works (else the progress thread polls) */
	uint64_t key;                /* of rx_mr, for the peer's RMA writes */
	uint64_t rx_addr;            /* RMA address of receive slot 0 */
	uint8_t addr[OFI_MAX_ADDR];
	size_t addrlen;
	struct ofi_ep *next;
};

struct ofi_tls {
	struct rp__tls *tcp;
	char prov[64];
	size_t seg;                  /* bytes per fabric message, at most */
	unsigned window;             /* messages in flight per direction */
	bool rma;                    /* provider offers FI_RMA + CQ data, not turned off */
	struct fi_info *info;        /* the provider's RDM endpoint, looked up once */
	struct fid_fabric *fabric;   /* shared by every connection of this side */
	struct fid_domain *domain;
	struct fid_av *av;
	pthread_mutex_t mu;          /* guards the fields below and AV insert/remove */
	pthread_cond_t cv;
	uint64_t next_key;           /* requested MR keys, where the provider wants them */
	struct ofi_ep *spare;        /* built ahead, not yet taken */
	unsigned nspare, want;
	bool server;                 /* builds endpoints ahead (a client opens its
				      * connections at once and then stops) */
	bool builder, stop;
	pthread_t builder_thread;
};

enum { SLOT_FREE, SLOT_POSTED, SLOT_DONE };
enum { OP_SEND, OP_RECV, OP_WRITE, OP_CREDIT };

struct ofi_conn;
struct slot {
	struct fi_context2 ctx;      /* first: the completion's op_context points here */
	struct ofi_conn *c;
	uint8_t *buf;
	size_t len;
	int state;
	int op;
};

struct ofi_conn {
	struct rp__conn *tcp;
	struct ofi_tls *t;           /* borrowed: the side's shared resources */
	char prov[64];
	size_t seg, tx_seg;
	unsigned window;
	struct ofi_ep *e;
	fi_addr_t peer_addr;
	bool av_inserted;
	uint64_t tag_hi;
	/* RMA path: the peer's receive slots */
	bool rma;
	uint64_t peer_key, peer_rx_addr;
	size_t peer_seg;
	unsigned peer_window;
	uint32_t credit;             /* messages the peer has consumed (RMA path) */
	struct slot *tx, *rx, credit_rx[OFI_CREDIT_SLOTS];
	uint32_t tx_seq, rx_seq;
	size_t rx_off;
	unsigned tx_busy;
	pthread_t prog, watch;
	bool threads;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool failed, aborted, peer_gone;
	double peer_gone_at;
	char errmsg[160];
	double timeout_s;
	char peer[320];
};

static int
fi_fail(struct rp_errbuf *err, const char *what, const char *prov, int r)
{
	return rp__err(err, RP_E_NET, "libfabric %s (%s): %s", what, prov, fi_strerror(-r));
}

static struct fi_info *
make_hints(const char *prov, bool rma)
{
	struct fi_info *hints = fi_allocinfo();
	if (!hints)
		return NULL;
	hints->caps = FI_TAGGED | FI_SEND | FI_RECV;
	if (rma)
		hints->caps |= FI_RMA | FI_WRITE | FI_REMOTE_WRITE;
	hints->mode = FI_CONTEXT | FI_CONTEXT2;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
				      FI_MR_VIRT_ADDR;
	hints->fabric_attr->prov_name = strdup(prov);
	if (!hints->fabric_attr->prov_name) {
		fi_freeinfo(hints);
		return NULL;
	}
	return hints;
}

/* Looks the provider up once per side (the first fi_getinfo loads every provider:
 * 0.3-1 s here), so a serve with an unusable provider fails at startup, not per peer.
 * Asks for RMA first; a provider without it (or without 8 bytes of remote CQ data, which
 * carry the message number and length) gets the tagged path. */
static int
lookup(struct ofi_tls *t, bool want_rma, struct rp_errbuf *err)
{
	int r = -FI_ENODATA;
	for (int pass = want_rma ? 0 : 1; pass < 2; pass++) {
		struct fi_info *hints = make_hints(t->prov, pass == 0);
		if (!hints)
			return RP_E_NOMEM;
		r = fi_getinfo(OFI_VERSION, NULL, NULL, 0, hints, &t->info);
		fi_freeinfo(hints);
		if (r == 0 && pass == 0 && t->info->domain_attr->cq_data_size < 8) {
			fi_freeinfo(t->info);
			t->info = NULL;
			continue;
		}
		if (r == 0) {
			t->rma = pass == 0;
			return RP_OK;
		}
	}
	return rp__err(err, RP_E_UNSUPPORTED,
		       "libfabric: no FI_EP_RDM tagged endpoint from provider '%s': %s "
		       "(fi_info -p '%s' lists what it offers)",
		       t->prov, fi_strerror(-r), t->prov);
}

/* ------------------------------------------------------------------------------------ */
/* Endpoints */

static void
ep_free(struct ofi_ep *e)
{
	if (!e)
		return;
	if (e->ep)
		fi_close(&e->ep->fid);
	if (e->rx_mr)
		fi_close(&e->rx_mr->fid);
	if (e->mr)
		fi_close(&e->mr->fid);
	if (e->cq)
		fi_close(&e->cq->fid);
	free(e->mem);
	free(e);
}

static int
ep_build(struct ofi_tls *t, struct ofi_ep **ret, struct rp_errbuf *err)
{
	int r, st = RP_E_NOMEM;
	struct ofi_ep *e = calloc(1, sizeof(*e));
	*ret = NULL;
	if (!e)
		return RP_E_NOMEM;
	struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_TAGGED,
				     .size = 4 * t->window + 2 * OFI_CREDIT_SLOTS + 16,
				     .wait_obj = FI_WAIT_UNSPEC};
	/* shm moves data only inside progress calls made by both processes, and nothing
	 * wakes a CQ wait when the peer writes its queue: measured, a blocking read made
	 * every message wait out the read timeout.  It is polled instead. */
	e->cq_waits = strncmp(t->prov, "shm", 3) != 0;
	if (!e->cq_waits)
		cq_attr.wait_obj = FI_WAIT_NONE;
	if (fi_cq_open(t->domain, &cq_attr, &e->cq, NULL)) {
		/* A provider without wait objects: the progress thread polls instead. */
		cq_attr.wait_obj = FI_WAIT_NONE;
		e->cq_waits = false;
		if ((r = fi_cq_open(t->domain, &cq_attr, &e->cq, NULL))) {
			st = fi_fail(err, "fi_cq_open", t->prov, r);
			goto fail;
		}
	}
	if ((r = fi_endpoint(t->domain, t->info, &e->ep, NULL))) {
		st = fi_fail(err, "fi_endpoint", t->prov, r);
		goto fail;
	}
	if ((r = fi_ep_bind(e->ep, &t->av->fid, 0)) ||
	    (r = fi_ep_bind(e->ep, &e->cq->fid, FI_TRANSMIT | FI_RECV))) {
		st = fi_fail(err, "fi_ep_bind", t->prov, r);
		goto fail;
	}
	if ((r = fi_enable(e->ep))) {
		st = fi_fail(err, "fi_enable", t->prov, r);
		goto fail;
	}
	e->addrlen = sizeof(e->addr);
	if ((r = fi_getname(&e->ep->fid, e->addr, &e->addrlen))) {
		st = r == -FI_ETOOSMALL ? rp__err(err, RP_E_UNSUPPORTED,
						  "fabric address longer than %d bytes", OFI_MAX_ADDR)
					: fi_fail(err, "fi_getname", t->prov, r);
		goto fail;
	}

	/* One region holds every buffer: window sends, window receives (the peer's RMA
	 * writes land there), then the credit receives.  Registration pins pages on
	 * verbs/efa (RLIMIT_MEMLOCK: ulimit -l). */
	size_t slots = 2 * (size_t)t->window * t->seg;
	e->mem_size = slots + OFI_CREDIT_SLOTS * 8;
	if (posix_memalign(&e->mem, 4096, e->mem_size)) {
		e->mem = NULL;
		goto fail;
	}
	uint64_t access = FI_SEND | FI_RECV | (t->rma ? FI_WRITE : 0);
	pthread_mutex_lock(&t->mu);
	uint64_t key = t->next_key, rx_key = t->next_key + 1;
	t->next_key += 2;
	pthread_mutex_unlock(&t->mu);
	if ((r = fi_mr_reg(t->domain, e->mem, e->mem_size, access, 0, key, 0, &e->mr, NULL)))
		goto reg_fail;
	e->desc = fi_mr_desc(e->mr);
	if (t->rma) {
		/* The peer may write only into the receive slots: a second registration of
		 * just them, whose key and address are what the peer gets.  Without
		 * FI_MR_VIRT_ADDR an RMA address is an offset into that registration. */
		uint8_t *rx = (uint8_t *)e->mem + (size_t)t->window * t->seg;
		if ((r = fi_mr_reg(t->domain, rx, (size_t)t->window * t->seg, FI_REMOTE_WRITE, 0,
				   rx_key, 0, &e->rx_mr, NULL)))
			goto reg_fail;
		e->key = fi_mr_key(e->rx_mr);
		e->rx_addr = (t->info->domain_attr->mr_mode & FI_MR_VIRT_ADDR)
				     ? (uint64_t)(uintptr_t)rx
				     : 0;
	}
	*ret = e;
	return RP_OK;
reg_fail:
	st = rp__err(err, RP_E_NET,
		     "libfabric fi_mr_reg of %zu bytes (%s): %s (on verbs/efa raise ulimit -l, "
		     "or lower --ofi-window / --ofi-seg)",
		     e->mem_size, t->prov, fi_strerror(-r));
fail:
	ep_free(e);
	return st;
}

/* Receiver side: keeps t->want endpoints built ahead, so that a connection's fi_enable
 * (ofi_rxm's pool: 0.06-0.25 s here) is not part of its handshake.  Not on the sender: a
 * one-shot process would build a spare for nothing and wait for it at exit. */
static void *
builder_main(void *arg)
{
	struct ofi_tls *t = arg;
	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		if (t->nspare >= t->want) {
			pthread_cond_wait(&t->cv, &t->mu);
			continue;
		}
		pthread_mutex_unlock(&t->mu);
		struct ofi_ep *e;
		struct rp_errbuf err;
		int st = ep_build(t, &e, &err);
		pthread_mutex_lock(&t->mu);
		if (st < 0) {
			/* Stop building ahead; take_ep builds on demand and reports why. */
			t->want = 0;
			continue;
		}
		e->next = t->spare;
		t->spare = e;
		t->nspare++;
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* An endpoint for a new connection: one built ahead, else built here (in parallel with
 * the builder when several connections open at once). */
static int
take_ep(struct ofi_tls *t, struct ofi_ep **ret, struct rp_errbuf *err)
{
	pthread_mutex_lock(&t->mu);
	struct ofi_ep *e = t->spare;
	if (e) {
		t->spare = e->next;
		t->nspare--;
		e->next = NULL;
	}
	if (t->server && !t->builder && !t->stop) {
		t->want = OFI_SPARES;
		t->builder = pthread_create(&t->builder_thread, NULL, builder_main, t) == 0;
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (e) {
		*ret = e;
		return RP_OK;
	}
	return ep_build(t, ret, err);
}

/* ------------------------------------------------------------------------------------ */
/* Security context: the TCP backend's, plus the provider, window and shared domain. */

/* Connections are closed before this (send.c and serve.c close theirs first). */
static void
ofi_tls_destroy(struct rp__tls *tls)
{
	struct ofi_tls *t = (struct ofi_tls *)tls;
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (t->builder)
		pthread_join(t->builder_thread, NULL);
	while (t->spare) {
		struct ofi_ep *e = t->spare;
		t->spare = e->next;
		ep_free(e);
	}
	if (t->av)
		fi_close(&t->av->fid);
	if (t->domain)
		fi_close(&t->domain->fid);
	if (t->fabric)
		fi_close(&t->fabric->fid);
	if (t->info)
		fi_freeinfo(t->info);
	if (t->tcp)
		rp__tcp_ops.tls_destroy(t->tcp);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

static int
ofi_tls_create(const struct rp_tls_config *cfg, bool server, struct rp__tls **ret,
	       struct rp_errbuf *err)
{
	*ret = NULL;
	if (!cfg->fabric || !cfg->fabric[0] || strlen(cfg->fabric) >= 64)
		return rp__err(err, RP_E_INVALID_ARG, "fabric provider name missing or too long");
	if (!cfg->trusted_fabric)
		return rp__err(err, RP_E_INVALID_ARG,
			       "libfabric data paths are not encrypted: use --fabric only on a "
			       "trusted fabric and say so with --trusted-fabric");
	if (cfg->ofi_window > OFI_MAX_WINDOW)
		return rp__err(err, RP_E_INVALID_ARG, "fabric window %u: 1..%u", cfg->ofi_window,
			       OFI_MAX_WINDOW);
	if (cfg->ofi_seg && (cfg->ofi_seg < OFI_MIN_SEG || cfg->ofi_seg > OFI_MAX_SEG))
		return rp__err(err, RP_E_INVALID_ARG, "fabric message size %u: 4 KiB..64 MiB",
			       cfg->ofi_seg);
	struct ofi_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return RP_E_NOMEM;
	snprintf(t->prov, sizeof(t->prov), "%s", cfg->fabric);
	t->seg = cfg->ofi_seg ? cfg->ofi_seg : OFI_DEFAULT_SEG;
	t->window = cfg->ofi_window ? cfg->ofi_window : OFI_DEFAULT_WINDOW;
	t->next_key = 1;
	t->server = server;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	int r, st = lookup(t, !cfg->ofi_no_rma, err);
	if (st == RP_OK && (r = fi_fabric(t->info->fabric_attr, &t->fabric, NULL)))
		st = fi_fail(err, "fi_fabric", t->prov, r);
	if (st == RP_OK && (r = fi_domain(t->fabric, t->info, &t->domain, NULL)))
		st = fi_fail(err, "fi_domain", t->prov, r);
	/* count: a hint for tcp (its AV grows), the hard limit for shm (256 peers, more is
	 * refused).  A serve's entries go when their connections close. */
	struct fi_av_attr av_attr = {.type = st == RP_OK ? t->info->domain_attr->av_type : 0,
				     .count = 256};
	if (st == RP_OK && (r = fi_av_open(t->domain, &av_attr, &t->av, NULL)))
		st = fi_fail(err, "fi_av_open", t->prov, r);
	if (st == RP_OK)
		st = rp__tcp_ops.tls_create(cfg, server, &t->tcp, err);
	if (st < 0) {
		ofi_tls_destroy((struct rp__tls *)t);
		return st;
	}
	*ret = (struct rp__tls *)t;
	return RP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Connections */

static void
conn_fail(struct ofi_conn *c, const char *fmt, const char *detail)
{
	pthread_mutex_lock(&c->mu);
	if (!c->failed) {
		c->failed = true;
		snprintf(c->errmsg, sizeof(c->errmsg), fmt, detail);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Posts a tagged receive; retries while the provider is out of room (the progress
 * thread frees it). */
static int
post_trecv(struct ofi_conn *c, struct slot *s, size_t size, uint64_t tag)
{
	s->state = SLOT_POSTED;
	s->len = 0;
	for (;;) {
		ssize_t r = fi_trecv(c->e->ep, s->buf, size, c->e->desc, FI_ADDR_UNSPEC, tag, 0,
				     &s->ctx);
		if (r == 0)
			return 0;
		if (r != -FI_EAGAIN || atomic_load(&c->stop))
			return (int)r;
		usleep(50);
	}
}

/* Receive slot for message seq is free again: a tagged receive for it, or (RMA) nothing
 * to post, the peer may write it once it hears the credit. */
static int
post_recv(struct ofi_conn *c, struct slot *s, uint32_t seq)
{
	if (c->rma) {
		s->state = SLOT_POSTED;
		s->len = 0;
		return 0;
	}
	return post_trecv(c, s, c->seg, c->tag_hi | (seq & OFI_SEQ_MASK));
}

/* With c->mu held: an RMA write with (sequence << 32 | length) as its CQ data landed. */
static void
rma_arrived(struct ofi_conn *c, uint64_t data)
{
	uint32_t seq = (uint32_t)(data >> 32), len = (uint32_t)data;
	struct slot *s = &c->rx[seq % c->window];
	if (!c->rma || (uint32_t)(seq - c->rx_seq) >= c->window || len > c->seg ||
	    s->state != SLOT_POSTED) {
		if (!c->failed) {
			c->failed = true;
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "fabric peer wrote message %u (%u bytes) out of turn", seq, len);
		}
		return;
	}
	s->state = SLOT_DONE;
	s->len = len;
}

/* Owns the completion queue: blocking reads keep a 2-core machine's CPUs for the
 * encoders, and manual-progress providers (tcp, rxm) make progress inside this call, so
 * sends keep moving while the stream's own thread waits for the next chunk. */
static void *
progress_main(void *arg)
{
	struct ofi_conn *c = arg;
	struct fi_cq_tagged_entry e[16];
	while (!atomic_load(&c->stop)) {
		ssize_t n = c->e->cq_waits ? fi_cq_sread(c->e->cq, e, 16, NULL, OFI_SREAD_MS)
					   : fi_cq_read(c->e->cq, e, 16);
		if (n > 0) {
			pthread_mutex_lock(&c->mu);
			for (ssize_t i = 0; i < n; i++) {
				if (e[i].flags & FI_REMOTE_CQ_DATA) {
					/* Only RMA writes carry CQ data; their op_context is not
					 * ours. */
					rma_arrived(c, e[i].data);
					continue;
				}
				struct slot *s = e[i].op_context;
				switch (s->op) {
				case OP_SEND:
				case OP_WRITE:
					s->state = SLOT_FREE;
					c->tx_busy--;
					break;
				case OP_RECV:
					s->state = SLOT_DONE;
					s->len = e[i].len;
					break;
				case OP_CREDIT: {
					uint32_t v = e[i].len == 8 ? (uint32_t)rp__load_le64(s->buf)
								  : c->credit;
					if ((int32_t)(v - c->credit) > 0)
						c->credit = v;
					/* Credits are cumulative: a lost repost only slows the
					 * writer until the next one, but say why if it fails. */
					int r = post_trecv(c, s, 8, c->tag_hi | OFI_CREDIT_TAG);
					if (r < 0 && !c->failed && !atomic_load(&c->stop)) {
						c->failed = true;
						snprintf(c->errmsg, sizeof(c->errmsg),
							 "fi_trecv (credit): %s", fi_strerror(-r));
					}
					break;
				}
				}
			}
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->mu);
		} else if (n == -FI_EAGAIN || n == -FI_EINTR || n == 0) {
			if (!c->e->cq_waits) {
				/* Poll faster while our own sends are in flight. */
				pthread_mutex_lock(&c->mu);
				bool busy = c->tx_busy != 0;
				pthread_mutex_unlock(&c->mu);
				usleep(busy ? 5 : 50);
			}
		} else if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry ee = {0};
			if (fi_cq_readerr(c->e->cq, &ee, 0) > 0 && !atomic_load(&c->stop)) {
				const char *s = fi_cq_strerror(c->e->cq, ee.prov_errno, ee.err_data,
							       NULL, 0);
				conn_fail(c, "fabric operation failed: %s",
					  s ? s : fi_strerror(ee.err));
			}
		} else {
			conn_fail(c, "fabric completion queue: %s", fi_strerror((int)-n));
			break;
		}
	}
	return NULL;
}

/* Reads the control connection, which carries nothing after the address exchange:
 * it returns only when the peer's socket closes (the peer exited or was killed). */
static void *
watch_main(void *arg)
{
	struct ofi_conn *c = arg;
	struct rp_errbuf e;
	uint8_t b;
	rp__tcp_ops.set_timeout(c->tcp, 0.5);
	while (!atomic_load(&c->stop)) {
		int st = rp__tcp_ops.recv(c->tcp, &b, 1, &e);
		if (st == RP_E_TIMEOUT)
			continue;
		if (st == RP_OK)
			continue;  /* not part of the protocol; ignored */
		pthread_mutex_lock(&c->mu);
		c->peer_gone = true;
		c->peer_gone_at = rp__now();
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		break;
	}
	return NULL;
}

/* Gives the connection its endpoint and lays the slots over its registered region. */
static int
conn_attach(struct ofi_conn *c, struct ofi_tls *t, struct rp_errbuf *err)
{
	RP_TRY(take_ep(t, &c->e, err));
	c->t = t;
	c->seg = t->seg;
	c->window = t->window;
	c->tx = calloc(c->window, sizeof(*c->tx));
	c->rx = calloc(c->window, sizeof(*c->rx));
	if (!c->tx || !c->rx)
		return RP_E_NOMEM;
	uint8_t *mem = c->e->mem;
	for (unsigned i = 0; i < c->window; i++) {
		c->tx[i] = (struct slot){.c = c, .buf = mem + (size_t)i * c->seg, .op = OP_SEND};
		c->rx[i] = (struct slot){.c = c, .buf = mem + ((size_t)c->window + i) * c->seg,
					 .op = OP_RECV};
	}
	uint8_t *cr = mem + 2 * (size_t)c->window * c->seg;
	for (unsigned i = 0; i < OFI_CREDIT_SLOTS; i++)
		c->credit_rx[i] = (struct slot){.c = c, .buf = cr + 8 * i, .op = OP_CREDIT};
	return RP_OK;
}

static int
start(struct ofi_conn *c, const uint8_t *peer_addr, struct rp_errbuf *err)
{
	struct ofi_tls *t = c->t;
	pthread_mutex_lock(&t->mu);
	int r = fi_av_insert(t->av, peer_addr, 1, &c->peer_addr, 0, NULL);
	pthread_mutex_unlock(&t->mu);
	if (r != 1)
		return fi_fail(err, "fi_av_insert", c->prov, r < 0 ? r : -FI_EINVAL);
	c->av_inserted = true;
	for (unsigned i = 0; i < c->window; i++)
		if ((r = post_recv(c, &c->rx[i], i)) < 0)
			return fi_fail(err, "fi_trecv", c->prov, r);
	if (c->rma) {
		for (unsigned i = 0; i < OFI_CREDIT_SLOTS; i++)
			if ((r = post_trecv(c, &c->credit_rx[i], 8, c->tag_hi | OFI_CREDIT_TAG)) < 0)
				return fi_fail(err, "fi_trecv", c->prov, r);
		for (unsigned i = 0; i < c->window; i++)
			c->tx[i].op = OP_WRITE;
	}
	if (pthread_create(&c->prog, NULL, progress_main, c))
		return rp__err(err, RP_E_NOMEM, "pthread_create");
	if (pthread_create(&c->watch, NULL, watch_main, c)) {
		atomic_store(&c->stop, true);
		pthread_join(c->prog, NULL);
		return rp__err(err, RP_E_NOMEM, "pthread_create");
	}
	c->threads = true;
	return RP_OK;
}

static struct ofi_conn *
conn_new(struct rp__conn *tcp, const char *prov)
{
	struct ofi_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tcp = tcp;
	snprintf(c->prov, sizeof(c->prov), "%s", prov);
	c->timeout_s = 60;
	atomic_init(&c->stop, false);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	snprintf(c->peer, sizeof(c->peer), "%s fabric=%s", rp__tcp_ops.peer(tcp), prov);
	return c;
}

static void
ofi_close(struct rp__conn *rc)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	if (!c)
		return;
	if (c->threads) {
		/* Let messages already handed to the fabric finish before the endpoint goes:
		 * a frame written just before close (END, COMPLETE) must still arrive. */
		double until = rp__now() + (c->timeout_s < 10 ? c->timeout_s : 10);
		pthread_mutex_lock(&c->mu);
		while (c->tx_busy && !c->failed && !c->aborted && !c->peer_gone &&
		       rp__now() < until) {
			struct timespec ts = rp__timespec_in(0.02);
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		pthread_mutex_unlock(&c->mu);
		atomic_store(&c->stop, true);
		rp__tcp_ops.abort(c->tcp);
		pthread_join(c->prog, NULL);
		pthread_join(c->watch, NULL);
	}
	/* The endpoint goes with the connection (its posted buffers and the peer's key
	 * die with it); the shared domain stays for the side's other connections. */
	ep_free(c->e);
	if (c->av_inserted) {
		pthread_mutex_lock(&c->t->mu);
		fi_av_remove(c->t->av, &c->peer_addr, 1, 0);
		pthread_mutex_unlock(&c->t->mu);
	}
	free(c->tx);
	free(c->rx);
	rp__tcp_ops.close(c->tcp);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* ------------------------------------------------------------------------------------ */
/* Address exchange over the authenticated control connection:
 *   hello (client -> server) and reply (server -> client), both 40 bytes then
 *   u32 magic "RPOF", u8 version 2, u8 provider name length P (0 in the reply),
 *   u16 address length A (1..1024), u32 tag (client's random tag half; 0 in the reply),
 *   u32 bytes per receive slot of the sender of this record (4 KiB..64 MiB),
 *   u32 its number of receive slots (1..256), u32 flags (bit 0: RMA writes accepted),
 *   u64 key and u64 RMA address of its receive slot 0 (0 without RMA),
 *   then P name bytes, A bytes of fi_getname() address. */

static int
send_hello(struct ofi_conn *c, bool client, struct rp_errbuf *err)
{
	uint8_t b[OFI_HELLO_SIZE + 64 + OFI_MAX_ADDR];
	size_t plen = client ? strlen(c->prov) : 0, alen = c->e->addrlen;
	bool rma = c->t->rma && (client || c->rma);
	memset(b, 0, OFI_HELLO_SIZE);
	rp__store_le32(b, OFI_MAGIC);
	b[4] = OFI_HELLO_VERSION;
	b[5] = (uint8_t)plen;
	rp__store_le16(b + 6, (uint16_t)alen);
	rp__store_le32(b + 8, (uint32_t)(c->tag_hi >> 32));
	rp__store_le32(b + 12, (uint32_t)c->seg);
	rp__store_le32(b + 16, c->window);
	rp__store_le32(b + 20, rma ? OFI_HELLO_RMA : 0);
	if (rma) {
		rp__store_le64(b + 24, c->e->key);
		rp__store_le64(b + 32, c->e->rx_addr);
	}
	memcpy(b + OFI_HELLO_SIZE, c->prov, plen);
	memcpy(b + OFI_HELLO_SIZE + plen, c->e->addr, alen);
	return rp__tcp_ops.send(c->tcp, b, OFI_HELLO_SIZE + plen + alen, err);
}

/* Reads the peer's record; the peer's slots and whether both sides take RMA writes are
 * stored in c.  For the server, before its endpoint exists (c->e NULL). */
static int
recv_hello(struct ofi_conn *c, bool from_client, bool rma_here, uint8_t *addr, size_t *alen,
	   struct rp_errbuf *err)
{
	uint8_t h[OFI_HELLO_SIZE];
	char prov[64];
	RP_TRY(rp__tcp_ops.recv(c->tcp, h, sizeof(h), err));
	if (rp__load_le32(h) != OFI_MAGIC)
		return rp__err(err, RP_E_PROTOCOL,
			       "peer did not start a libfabric exchange (is it using --fabric?)");
	if (h[4] != OFI_HELLO_VERSION)
		return rp__err(err, RP_E_PROTOCOL, "libfabric exchange version %u, expected %u",
			       h[4], OFI_HELLO_VERSION);
	size_t plen = h[5], a = rp__load_le16(h + 6);
	uint32_t seg = rp__load_le32(h + 12), window = rp__load_le32(h + 16);
	uint32_t flags = rp__load_le32(h + 20);
	if (plen >= sizeof(prov) || a == 0 || a > OFI_MAX_ADDR || seg < OFI_MIN_SEG ||
	    seg > OFI_MAX_SEG || window == 0 || window > OFI_MAX_WINDOW)
		return rp__err(err, RP_E_PROTOCOL, "bad libfabric address record");
	RP_TRY(rp__tcp_ops.recv(c->tcp, prov, plen, err));
	prov[plen] = 0;
	RP_TRY(rp__tcp_ops.recv(c->tcp, addr, a, err));
	if (from_client) {
		if (strcmp(prov, c->prov) != 0)
			return rp__err(err, RP_E_PROTOCOL,
				       "sender uses fabric provider '%s', this receiver '%s'", prov,
				       c->prov);
		c->tag_hi = (uint64_t)rp__load_le32(h + 8) << 32;
	}
	c->rma = rma_here && (flags & OFI_HELLO_RMA);
	c->peer_key = rp__load_le64(h + 24);
	c->peer_rx_addr = rp__load_le64(h + 32);
	c->peer_seg = seg;
	c->peer_window = window;
	*alen = a;
	return RP_OK;
}

/* For logs: who the peer is, and which data path the exchange chose. */
static void
name_peer(struct ofi_conn *c)
{
	snprintf(c->peer, sizeof(c->peer), "%s fabric=%s path=%s", rp__tcp_ops.peer(c->tcp),
		 c->prov, c->rma ? "rma" : "tagged");
}

static int
ofi_open(struct rp__tls *tls, const char *host, uint16_t port, double timeout_s,
	 struct rp__conn **ret, struct rp_errbuf *err)
{
	struct ofi_tls *t = (struct ofi_tls *)tls;
	struct rp__conn *tcp;
	*ret = NULL;
	RP_TRY(rp__tcp_ops.open(t->tcp, host, port, timeout_s, &tcp, err));
	struct ofi_conn *c = conn_new(tcp, t->prov);
	if (!c) {
		rp__tcp_ops.close(tcp);
		return RP_E_NOMEM;
	}
	c->timeout_s = timeout_s;
	uint8_t theirs[OFI_MAX_ADDR];
	size_t tlen;
	uint32_t r32 = 0;
	int st = getrandom(&r32, sizeof(r32), 0) == (ssize_t)sizeof(r32)
			 ? RP_OK
			 : rp__err(err, RP_E_IO, "getrandom: %s", strerror(errno));
	c->tag_hi = (uint64_t)r32 << 32;
	if (st == RP_OK)
		st = conn_attach(c, t, err);
	if (st == RP_OK)
		st = send_hello(c, true, err);
	if (st == RP_OK)
		st = recv_hello(c, false, t->rma, theirs, &tlen, err);
	if (st == RP_OK)
		st = start(c, theirs, err);
	if (st < 0) {
		ofi_close((struct rp__conn *)c);
		return st;
	}
	c->tx_seg = c->peer_seg < c->seg ? c->peer_seg : c->seg;
	name_peer(c);
	*ret = (struct rp__conn *)c;
	return RP_OK;
}

static int
ofi_listen(const char *host, uint16_t port, struct rp__listener **ret, uint16_t *bound_port,
	   struct rp_errbuf *err)
{
	return rp__tcp_ops.listen(host, port, ret, bound_port, err);
}

static void
ofi_close_listener(struct rp__listener *l)
{
	rp__tcp_ops.close_listener(l);
}

static int
ofi_accept(struct rp__listener *l, double timeout_s, struct rp__conn **ret,
	   struct rp_errbuf *err)
{
	struct rp__conn *tcp;
	*ret = NULL;
	RP_TRY(rp__tcp_ops.accept(l, timeout_s, &tcp, err));
	/* The provider and endpoint come at handshake (from the tls context). */
	struct ofi_conn *c = conn_new(tcp, "");
	if (!c) {
		rp__tcp_ops.close(tcp);
		return RP_E_NOMEM;
	}
	*ret = (struct rp__conn *)c;
	return RP_OK;
}

static int
ofi_handshake(struct rp__conn *rc, struct rp__tls *tls, double timeout_s,
	      struct rp_errbuf *err)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	struct ofi_tls *t = (struct ofi_tls *)tls;
	RP_TRY(rp__tcp_ops.handshake(c->tcp, t->tcp, timeout_s, err));
	snprintf(c->prov, sizeof(c->prov), "%s", t->prov);
	snprintf(c->peer, sizeof(c->peer), "%s fabric=%s", rp__tcp_ops.peer(c->tcp), t->prov);
	rp__tcp_ops.set_timeout(c->tcp, timeout_s);
	uint8_t theirs[OFI_MAX_ADDR];
	size_t tlen;
	RP_TRY(recv_hello(c, true, t->rma, theirs, &tlen, err));
	RP_TRY(conn_attach(c, t, err));
	RP_TRY(start(c, theirs, err));
	c->tx_seg = c->peer_seg < c->seg ? c->peer_seg : c->seg;
	name_peer(c);
	return send_hello(c, false, err);
}

/* ------------------------------------------------------------------------------------ */
/* Byte stream over messages */

static void
deadline_ts(struct timespec *ts, double until)
{
	double now = rp__now(), left = until - now;
	if (left > 0.1)
		left = 0.1;  /* re-check the peer and abort state often */
	*ts = rp__timespec_in(left);
}

/* With c->mu held: an error status when the connection can no longer carry data. */
static int
conn_state(struct ofi_conn *c, struct rp_errbuf *err)
{
	if (c->aborted)
		return rp__err(err, RP_E_NET, "connection aborted");
	if (c->failed)
		return rp__err(err, RP_E_NET, "%s", c->errmsg);
	return RP_OK;
}

/* With c->mu held: whether message tx_seq may go now (its bounce buffer is free and, on
 * the RMA path, the peer has handed back the slot it lands in). */
static bool
tx_ready(const struct ofi_conn *c, const struct slot *s)
{
	return s->state == SLOT_FREE &&
	       (!c->rma || (uint32_t)(c->tx_seq - c->credit) < c->peer_window);
}

/* Posts message tx_seq from slot s: a tagged send, or an RMA write into the peer's slot
 * with (sequence, length) as remote CQ data. */
static ssize_t
post_send(struct ofi_conn *c, struct slot *s, size_t n)
{
	if (c->rma) {
		uint64_t dst = c->peer_rx_addr + (uint64_t)(c->tx_seq % c->peer_window) * c->peer_seg;
		uint64_t data = (uint64_t)c->tx_seq << 32 | (uint32_t)n;
		return fi_writedata(c->e->ep, s->buf, n, c->e->desc, data, c->peer_addr, dst,
				    c->peer_key, &s->ctx);
	}
	return fi_tsend(c->e->ep, s->buf, n, c->e->desc, c->peer_addr,
			c->tag_hi | (c->tx_seq & OFI_SEQ_MASK), &s->ctx);
}

static int
ofi_send(struct rp__conn *rc, const void *data, size_t size, struct rp_errbuf *err)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	const uint8_t *p = data;
	while (size) {
		size_t n = size < c->tx_seg ? size : c->tx_seg;
		struct slot *s = &c->tx[c->tx_seq % c->window];
		double until = rp__now() + c->timeout_s;
		pthread_mutex_lock(&c->mu);
		int st;
		while ((st = conn_state(c, err)) == RP_OK && !tx_ready(c, s)) {
			if (c->peer_gone) {
				st = rp__err(err, RP_E_CLOSED, "peer closed the connection");
				break;
			}
			if (rp__now() >= until) {
				st = rp__err(err, RP_E_TIMEOUT, "fabric send timed out");
				break;
			}
			struct timespec ts;
			deadline_ts(&ts, until);
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		if (st == RP_OK) {
			s->state = SLOT_POSTED;
			c->tx_busy++;
		}
		pthread_mutex_unlock(&c->mu);
		if (st < 0)
			return st;
		/* The copy into registered memory is what lets the provider DMA from it and
		 * frees the caller's buffer at once; it costs one memcpy per byte. */
		memcpy(s->buf, p, n);
		s->len = n;
		for (;;) {
			ssize_t r = post_send(c, s, n);
			if (r == 0)
				break;
			pthread_mutex_lock(&c->mu);
			/* The provider is out of send room (its peer stopped taking data): the
			 * same exits as waiting for a slot. */
			int bad = r != -FI_EAGAIN ? fi_fail(err, c->rma ? "fi_writedata" : "fi_tsend",
							    c->prov, (int)r)
				: conn_state(c, err) < 0 ? RP_E_NET
				: c->peer_gone ? rp__err(err, RP_E_CLOSED, "peer closed the connection")
				: rp__now() >= until ? rp__err(err, RP_E_TIMEOUT, "fabric send timed out")
						     : RP_OK;
			if (bad < 0) {
				s->state = SLOT_FREE;
				c->tx_busy--;
				pthread_mutex_unlock(&c->mu);
				return bad;
			}
			pthread_mutex_unlock(&c->mu);
			usleep(50);
		}
		c->tx_seq++;
		p += n;
		size -= n;
	}
	return RP_OK;
}

/* RMA path: tells the writer it may reuse the slots of every message up to count. */
static int
send_credit(struct ofi_conn *c, uint32_t count, struct rp_errbuf *err)
{
	uint8_t b[8];
	rp__store_le64(b, count);
	double until = rp__now() + c->timeout_s;
	for (;;) {
		ssize_t r = fi_tinject(c->e->ep, b, sizeof(b), c->peer_addr,
				       c->tag_hi | OFI_CREDIT_TAG);
		if (r == 0)
			return RP_OK;
		if (r != -FI_EAGAIN)
			return fi_fail(err, "fi_tinject", c->prov, (int)r);
		pthread_mutex_lock(&c->mu);
		int st = conn_state(c, err);
		if (st == RP_OK && c->peer_gone)
			st = rp__err(err, RP_E_CLOSED, "peer closed the connection");
		if (st == RP_OK && rp__now() >= until)
			st = rp__err(err, RP_E_TIMEOUT, "fabric send timed out");
		pthread_mutex_unlock(&c->mu);
		if (st < 0)
			return st;
		usleep(50);
	}
}

static int
ofi_recv(struct rp__conn *rc, void *data, size_t size, struct rp_errbuf *err)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	uint8_t *p = data;
	while (size) {
		struct slot *s = &c->rx[c->rx_seq % c->window];
		double until = rp__now() + c->timeout_s;
		int st = RP_OK;
		pthread_mutex_lock(&c->mu);
		while (s->state != SLOT_DONE && (st = conn_state(c, err)) == RP_OK) {
			double now = rp__now();
			if (c->peer_gone && now - c->peer_gone_at > OFI_PEER_GRACE_S) {
				st = rp__err(err, RP_E_CLOSED, "peer closed the connection");
				break;
			}
			if (now >= until) {
				st = rp__err(err, RP_E_TIMEOUT, "no data from the peer for %.0f s",
					     c->timeout_s);
				break;
			}
			struct timespec ts;
			deadline_ts(&ts, until);
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		pthread_mutex_unlock(&c->mu);
		if (st < 0)
			return st;
		size_t n = s->len - c->rx_off;
		if (n > size)
			n = size;
		memcpy(p, s->buf + c->rx_off, n);
		c->rx_off += n;
		p += n;
		size -= n;
		if (c->rx_off == s->len) {
			c->rx_off = 0;
			pthread_mutex_lock(&c->mu);
			int r = post_recv(c, s, c->rx_seq + c->window);
			c->rx_seq++;
			uint32_t consumed = c->rx_seq;
			pthread_mutex_unlock(&c->mu);
			if (r < 0)
				return fi_fail(err, "fi_trecv", c->prov, r);
			/* The bytes are ours whatever happens to the credit: the peer may have
			 * closed after its last frame.  A lost credit fails later calls. */
			struct rp_errbuf e2;
			if (c->rma && send_credit(c, consumed, &e2) < 0)
				conn_fail(c, "fabric credit: %.120s", e2.msg);
		}
	}
	return RP_OK;
}

static void
ofi_abort(struct rp__conn *rc)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	pthread_mutex_lock(&c->mu);
	c->aborted = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	rp__tcp_ops.abort(c->tcp);
}

static const char *
ofi_peer(const struct rp__conn *rc)
{
	return ((const struct ofi_conn *)rc)->peer;
}

static void
ofi_set_timeout(struct rp__conn *rc, double timeout_s)
{
	struct ofi_conn *c = (struct ofi_conn *)rc;
	c->timeout_s = timeout_s > 0 ? timeout_s : 60;
	if (!c->threads)  /* before the watcher owns the control connection */
		rp__tcp_ops.set_timeout(c->tcp, timeout_s);
}

static const struct rp__transport_ops rp__ofi_ops = {
	.size = sizeof(struct rp__transport_ops),
	.name = "ofi",
	.tls_create = ofi_tls_create,
	.tls_destroy = ofi_tls_destroy,
	.open = ofi_open,
	.listen = ofi_listen,
	.accept = ofi_accept,
	.handshake = ofi_handshake,
	.send = ofi_send,
	.recv = ofi_recv,
	.abort = ofi_abort,
	.close = ofi_close,
	.close_listener = ofi_close_listener,
	.peer = ofi_peer,
	.set_timeout = ofi_set_timeout,
};

const struct rp__transport_ops *
rp__transport_backend_for(const struct rp_tls_config *cfg)
{
	return cfg && cfg->fabric ? &rp__ofi_ops : &rp__tcp_ops;
}
