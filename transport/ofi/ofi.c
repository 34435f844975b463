/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/ofi/ofi.c - the libfabric backend behind the ops table (issue 8,
 * docs/LIBFABRIC.md).  Each radpipe connection is a TCP(+TLS) control connection, made
 * and authenticated by the TCP backend exactly as without a fabric, plus one FI_EP_RDM
 * endpoint per side.  The two sides swap endpoint names (fi_getname) over the
 * authenticated connection, then every radpipe frame (chunks and control frames alike)
 * flows over the fabric as tagged messages from registered (FI_MR) bounce buffers, a
 * window of them in flight each way.  The TCP connection stays open as the liveness
 * signal: when the peer process dies its kernel closes the socket, which a fabric
 * endpoint would not tell us until a timeout.  Each connection has its own endpoint,
 * so N streams are N fabric endpoints (N sockets with the tcp provider).
 *
 * Tags: the upper 32 bits are a random number the client picks and sends over TLS, the
 * lower 32 bits the message's sequence number in its direction.  Receive buffer i only
 * ever matches message i, so the byte stream is rebuilt in order whatever order the
 * provider completes messages in, and nothing depends on provider ordering guarantees.
 * The random half is not authentication (the fabric is trusted by requirement); it keeps
 * a stray or stale sender from being read as this connection's stream. */
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
#include <rdma/fi_tagged.h>

#define OFI_VERSION FI_VERSION(1, 9)
#define OFI_MAGIC 0x464f5052u        /* "RPOF" little-endian */
#define OFI_HELLO_SIZE 16
#define OFI_MAX_ADDR 1024
#define OFI_DEFAULT_SEG (256u << 10)
#define OFI_DEFAULT_WINDOW 16u
/* After the control connection closes, data already delivered to us is still read;
 * this long without it means the peer is gone. */
#define OFI_PEER_GRACE_S 2.0

struct ofi_tls {
	struct rp__tls *tcp;
	char prov[64];
	size_t seg;                  /* bytes per fabric message, at most */
	unsigned window;             /* messages in flight per direction */
	struct fi_info *info;        /* the provider's RDM endpoint, looked up once */
};

enum { SLOT_FREE, SLOT_POSTED, SLOT_DONE };

struct ofi_conn;
struct slot {
	struct fi_context2 ctx;      /* first: the completion's op_context points here */
	struct ofi_conn *c;
	uint8_t *buf;
	size_t len;
	int state;
	bool is_send;
};

struct ofi_conn {
	struct rp__conn *tcp;
	char prov[64];
	size_t seg, tx_seg;
	unsigned window;
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_cq *cq;
	struct fid_ep *ep;
	struct fid_mr *mr;
	void *mem, *desc;
	bool cq_waits;               /* fi_cq_sread works (else the progress thread polls) */
	fi_addr_t peer_addr;
	uint64_t tag_hi;
	struct slot *tx, *rx;
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

static int ofi_sread_ms = 1;

static size_t
env_size(const char *name, size_t def, size_t lo, size_t hi)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end == 'K' || *end == 'k')
		x <<= 10;
	else if (*end == 'M' || *end == 'm')
		x <<= 20;
	return x < lo ? lo : x > hi ? hi : (size_t)x;
}

static int
fi_fail(struct rp_errbuf *err, const char *what, const char *prov, int r)
{
	return rp__err(err, RP_E_NET, "libfabric %s (%s): %s", what, prov, fi_strerror(-r));
}

/* ofi_rxm pre-allocates and clears a pool of receive buffers per endpoint for each
 * connection it may get (128 x 16 KiB + headers by default): measured here at 0.6-1.3 s
 * of memset per endpoint on a loaded 2-core machine, and radpipe opens an endpoint per
 * stream.  Our traffic is one peer per endpoint and large messages (rendezvous), so a
 * small pool costs nothing; a value the user exported wins (setenv does not overwrite). */
static void
rxm_defaults(void)
{
	setenv("FI_OFI_RXM_MSG_RX_SIZE", "16", 0);
}

static pthread_once_t rxm_once = PTHREAD_ONCE_INIT;

/* Looks the provider up once per side (the first fi_getinfo loads every provider:
 * 0.3-1 s here), so a serve with an unusable provider fails at startup, not per peer. */
static int
lookup(const char *prov, struct fi_info **ret, struct rp_errbuf *err)
{
	pthread_once(&rxm_once, rxm_defaults);
	struct fi_info *hints = fi_allocinfo();
	if (!hints)
		return RP_E_NOMEM;
	hints->caps = FI_TAGGED | FI_SEND | FI_RECV;
	hints->mode = FI_CONTEXT | FI_CONTEXT2;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
				      FI_MR_VIRT_ADDR;
	hints->fabric_attr->prov_name = strdup(prov);
	int r = fi_getinfo(OFI_VERSION, NULL, NULL, 0, hints, ret);
	fi_freeinfo(hints);
	if (r)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "libfabric: no FI_EP_RDM tagged endpoint from provider '%s': %s "
			       "(fi_info -p '%s' lists what it offers)",
			       prov, fi_strerror(-r), prov);
	return RP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Security context: the TCP backend's, plus the provider and window. */

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
	struct ofi_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return RP_E_NOMEM;
	snprintf(t->prov, sizeof(t->prov), "%s", cfg->fabric);
	t->seg = env_size("RADPIPE_OFI_SEG", OFI_DEFAULT_SEG, 4096, 64u << 20);
	ofi_sread_ms = (int)env_size("RADPIPE_OFI_SREAD_MS", 1, 0, 1000);
	t->window = (unsigned)env_size("RADPIPE_OFI_WINDOW", OFI_DEFAULT_WINDOW, 1, 256);
	int st = lookup(t->prov, &t->info, err);
	if (st == RP_OK)
		st = rp__tcp_ops.tls_create(cfg, server, &t->tcp, err);
	if (st < 0) {
		if (t->info)
			fi_freeinfo(t->info);
		free(t);
		return st;
	}
	*ret = (struct rp__tls *)t;
	return RP_OK;
}

static void
ofi_tls_destroy(struct rp__tls *tls)
{
	struct ofi_tls *t = (struct ofi_tls *)tls;
	if (!t)
		return;
	rp__tcp_ops.tls_destroy(t->tcp);
	fi_freeinfo(t->info);
	free(t);
}

/* ------------------------------------------------------------------------------------ */
/* Fabric resources of one connection */


static int
fab_setup(struct ofi_conn *c, const struct fi_info *info, uint8_t *addr, size_t *addrlen,
	  struct rp_errbuf *err)
{
	int r;
	if (!(c->info = fi_dupinfo(info)))
		return RP_E_NOMEM;
	if ((r = fi_fabric(c->info->fabric_attr, &c->fabric, NULL)))
		return fi_fail(err, "fi_fabric", c->prov, r);
	if ((r = fi_domain(c->fabric, c->info, &c->domain, NULL)))
		return fi_fail(err, "fi_domain", c->prov, r);
	struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_TAGGED,
				     .size = 2 * c->window + 16,
				     .wait_obj = FI_WAIT_UNSPEC};
	/* shm moves data only inside progress calls made by both processes, and nothing
	 * wakes a CQ wait when the peer writes its queue: measured, a blocking read made
	 * every message wait out the read timeout.  It is polled instead. */
	c->cq_waits = strncmp(c->prov, "shm", 3) != 0;
	if (!c->cq_waits)
		cq_attr.wait_obj = FI_WAIT_NONE;
	if (fi_cq_open(c->domain, &cq_attr, &c->cq, NULL)) {
		/* A provider without wait objects: the progress thread polls instead. */
		cq_attr.wait_obj = FI_WAIT_NONE;
		c->cq_waits = false;
		if ((r = fi_cq_open(c->domain, &cq_attr, &c->cq, NULL)))
			return fi_fail(err, "fi_cq_open", c->prov, r);
	}
	struct fi_av_attr av_attr = {.type = c->info->domain_attr->av_type, .count = 4};
	if ((r = fi_av_open(c->domain, &av_attr, &c->av, NULL)))
		return fi_fail(err, "fi_av_open", c->prov, r);
	if ((r = fi_endpoint(c->domain, c->info, &c->ep, NULL)))
		return fi_fail(err, "fi_endpoint", c->prov, r);
	if ((r = fi_ep_bind(c->ep, &c->av->fid, 0)) ||
	    (r = fi_ep_bind(c->ep, &c->cq->fid, FI_TRANSMIT | FI_RECV)))
		return fi_fail(err, "fi_ep_bind", c->prov, r);
	if ((r = fi_enable(c->ep)))
		return fi_fail(err, "fi_enable", c->prov, r);
	if ((r = fi_getname(&c->ep->fid, addr, addrlen)))
		return fi_fail(err, "fi_getname", c->prov, r);

	/* One registered region holds every bounce buffer: window sends then window
	 * receives.  Registration pins pages on verbs/efa (RLIMIT_MEMLOCK: ulimit -l). */
	size_t total = 2 * (size_t)c->window * c->seg;
	if (posix_memalign(&c->mem, 4096, total))
		return RP_E_NOMEM;
	if ((r = fi_mr_reg(c->domain, c->mem, total, FI_SEND | FI_RECV, 0, 0, 0, &c->mr, NULL)))
		return rp__err(err, RP_E_NET,
			       "libfabric fi_mr_reg of %zu bytes (%s): %s (on verbs/efa raise "
			       "ulimit -l, or lower RADPIPE_OFI_WINDOW / RADPIPE_OFI_SEG)",
			       total, c->prov, fi_strerror(-r));
	c->desc = fi_mr_desc(c->mr);
	c->tx = calloc(c->window, sizeof(*c->tx));
	c->rx = calloc(c->window, sizeof(*c->rx));
	if (!c->tx || !c->rx)
		return RP_E_NOMEM;
	for (unsigned i = 0; i < c->window; i++) {
		c->tx[i] = (struct slot){.c = c, .buf = (uint8_t *)c->mem + (size_t)i * c->seg,
					 .is_send = true};
		c->rx[i] = (struct slot){.c = c,
					 .buf = (uint8_t *)c->mem +
						((size_t)c->window + i) * c->seg};
	}
	return RP_OK;
}

static int
post_recv(struct ofi_conn *c, struct slot *s, uint32_t seq)
{
	s->state = SLOT_POSTED;
	s->len = 0;
	for (;;) {
		ssize_t r = fi_trecv(c->ep, s->buf, c->seg, c->desc, FI_ADDR_UNSPEC,
				     c->tag_hi | seq, 0, &s->ctx);
		if (r == 0)
			return 0;
		if (r != -FI_EAGAIN)
			return (int)r;
		usleep(50);  /* the progress thread frees room */
	}
}

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

/* Owns the completion queue: blocking reads keep a 2-core machine's CPUs for the
 * encoders, and manual-progress providers (tcp, rxm) make progress inside this call, so
 * sends keep moving while the stream's own thread waits for the next chunk. */
static void *
progress_main(void *arg)
{
	struct ofi_conn *c = arg;
	struct fi_cq_tagged_entry e[16];
	while (!atomic_load(&c->stop)) {
		ssize_t n = c->cq_waits ? fi_cq_sread(c->cq, e, 16, NULL, ofi_sread_ms)
					: fi_cq_read(c->cq, e, 16);
		if (n > 0) {
			pthread_mutex_lock(&c->mu);
			for (ssize_t i = 0; i < n; i++) {
				struct slot *s = e[i].op_context;
				if (s->is_send) {
					s->state = SLOT_FREE;
					c->tx_busy--;
				} else {
					s->state = SLOT_DONE;
					s->len = e[i].len;
				}
			}
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->mu);
		} else if (n == -FI_EAGAIN || n == -FI_EINTR || n == 0) {
			if (!c->cq_waits) {
				/* Poll faster while our own sends are in flight. */
				pthread_mutex_lock(&c->mu);
				bool busy = c->tx_busy != 0;
				pthread_mutex_unlock(&c->mu);
				usleep(busy ? 5 : 50);
			}
		} else if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry ee = {0};
			if (fi_cq_readerr(c->cq, &ee, 0) > 0 && !atomic_load(&c->stop)) {
				const char *s = fi_cq_strerror(c->cq, ee.prov_errno, ee.err_data,
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

static int
start(struct ofi_conn *c, const uint8_t *peer_addr, struct rp_errbuf *err)
{
	int r = fi_av_insert(c->av, peer_addr, 1, &c->peer_addr, 0, NULL);
	if (r != 1)
		return fi_fail(err, "fi_av_insert", c->prov, r < 0 ? r : -FI_EINVAL);
	for (unsigned i = 0; i < c->window; i++)
		if ((r = post_recv(c, &c->rx[i], i)) < 0)
			return fi_fail(err, "fi_trecv", c->prov, r);
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
conn_new(struct rp__conn *tcp, const char *prov, size_t seg, unsigned window)
{
	struct ofi_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tcp = tcp;
	snprintf(c->prov, sizeof(c->prov), "%s", prov);
	c->seg = seg;
	c->window = window;
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
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		pthread_mutex_unlock(&c->mu);
		atomic_store(&c->stop, true);
		rp__tcp_ops.abort(c->tcp);
		pthread_join(c->prog, NULL);
		pthread_join(c->watch, NULL);
	}
	if (c->ep)
		fi_close(&c->ep->fid);
	if (c->mr)
		fi_close(&c->mr->fid);
	if (c->cq)
		fi_close(&c->cq->fid);
	if (c->av)
		fi_close(&c->av->fid);
	if (c->domain)
		fi_close(&c->domain->fid);
	if (c->fabric)
		fi_close(&c->fabric->fid);
	if (c->info)
		fi_freeinfo(c->info);
	free(c->mem);
	free(c->tx);
	free(c->rx);
	rp__tcp_ops.close(c->tcp);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* ------------------------------------------------------------------------------------ */
/* Address exchange over the authenticated control connection:
 *   hello (client -> server) and reply (server -> client), both
 *   u32 magic "RPOF", u8 version 1, u8 provider name length P (0 in the reply),
 *   u16 address length A (1..1024), u32 tag (client's random tag half; 0 in the reply),
 *   u32 largest message the sender of this record accepts, then P name bytes, A bytes
 *   of fi_getname() address. */

static int
send_hello(struct ofi_conn *c, bool client, const uint8_t *addr, size_t alen,
	   struct rp_errbuf *err)
{
	uint8_t b[OFI_HELLO_SIZE + 64 + OFI_MAX_ADDR];
	size_t plen = client ? strlen(c->prov) : 0;
	rp__store_le32(b, OFI_MAGIC);
	b[4] = 1;
	b[5] = (uint8_t)plen;
	rp__store_le16(b + 6, (uint16_t)alen);
	rp__store_le32(b + 8, (uint32_t)(c->tag_hi >> 32));
	rp__store_le32(b + 12, (uint32_t)c->seg);
	memcpy(b + OFI_HELLO_SIZE, c->prov, plen);
	memcpy(b + OFI_HELLO_SIZE + plen, addr, alen);
	return rp__tcp_ops.send(c->tcp, b, OFI_HELLO_SIZE + plen + alen, err);
}

static int
recv_hello(struct ofi_conn *c, bool from_client, uint8_t *addr, size_t *alen,
	   struct rp_errbuf *err)
{
	uint8_t h[OFI_HELLO_SIZE];
	char prov[64];
	RP_TRY(rp__tcp_ops.recv(c->tcp, h, sizeof(h), err));
	size_t plen = h[5], a = rp__load_le16(h + 6);
	uint32_t seg = rp__load_le32(h + 12);
	if (rp__load_le32(h) != OFI_MAGIC || h[4] != 1)
		return rp__err(err, RP_E_PROTOCOL,
			       "peer did not start a libfabric exchange (is it using --fabric?)");
	if (plen >= sizeof(prov) || a == 0 || a > OFI_MAX_ADDR || seg < 4096)
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
	c->tx_seg = seg < c->seg ? seg : c->seg;
	*alen = a;
	return RP_OK;
}

static int
ofi_open(struct rp__tls *tls, const char *host, uint16_t port, double timeout_s,
	 struct rp__conn **ret, struct rp_errbuf *err)
{
	struct ofi_tls *t = (struct ofi_tls *)tls;
	struct rp__conn *tcp;
	*ret = NULL;
	RP_TRY(rp__tcp_ops.open(t->tcp, host, port, timeout_s, &tcp, err));
	struct ofi_conn *c = conn_new(tcp, t->prov, t->seg, t->window);
	if (!c) {
		rp__tcp_ops.close(tcp);
		return RP_E_NOMEM;
	}
	c->timeout_s = timeout_s;
	uint8_t mine[OFI_MAX_ADDR], theirs[OFI_MAX_ADDR];
	size_t mlen = sizeof(mine), tlen;
	uint32_t r32 = 0;
	int st = getrandom(&r32, sizeof(r32), 0) == (ssize_t)sizeof(r32)
			 ? RP_OK
			 : rp__err(err, RP_E_IO, "getrandom: %s", strerror(errno));
	c->tag_hi = (uint64_t)r32 << 32;
	if (st == RP_OK)
		st = fab_setup(c, t->info, mine, &mlen, err);
	if (st == RP_OK && mlen > OFI_MAX_ADDR)
		st = rp__err(err, RP_E_UNSUPPORTED, "fabric address longer than %d bytes",
			     OFI_MAX_ADDR);
	if (st == RP_OK)
		st = send_hello(c, true, mine, mlen, err);
	if (st == RP_OK)
		st = recv_hello(c, false, theirs, &tlen, err);
	if (st == RP_OK)
		st = start(c, theirs, err);
	if (st < 0) {
		ofi_close((struct rp__conn *)c);
		return st;
	}
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
	/* The provider and window are known only at handshake (from the tls context). */
	struct ofi_conn *c = conn_new(tcp, "", 0, 0);
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
	c->seg = t->seg;
	c->window = t->window;
	snprintf(c->peer, sizeof(c->peer), "%s fabric=%s", rp__tcp_ops.peer(c->tcp), t->prov);
	rp__tcp_ops.set_timeout(c->tcp, timeout_s);
	uint8_t mine[OFI_MAX_ADDR], theirs[OFI_MAX_ADDR];
	size_t mlen = sizeof(mine), tlen;
	RP_TRY(recv_hello(c, true, theirs, &tlen, err));
	RP_TRY(fab_setup(c, t->info, mine, &mlen, err));
	if (mlen > OFI_MAX_ADDR)
		return rp__err(err, RP_E_UNSUPPORTED, "fabric address too long");
	RP_TRY(start(c, theirs, err));
	return send_hello(c, false, mine, mlen, err);
}

/* ------------------------------------------------------------------------------------ */
/* Byte stream over messages */

static void
deadline_ts(struct timespec *ts, double until)
{
	double now = rp__now(), left = until - now;
	if (left > 0.1)
		left = 0.1;  /* re-check the peer and abort state often */
	if (left < 0)
		left = 0;
	clock_gettime(CLOCK_REALTIME, ts);
	long ns = ts->tv_nsec + (long)(left * 1e9);
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
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
		while ((st = conn_state(c, err)) == RP_OK && s->state != SLOT_FREE) {
			if (c->peer_gone) {
				st = rp__err(err, RP_E_NET, "peer closed the connection");
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
			ssize_t r = fi_tsend(c->ep, s->buf, n, c->desc, c->peer_addr,
					     c->tag_hi | c->tx_seq, &s->ctx);
			if (r == 0)
				break;
			pthread_mutex_lock(&c->mu);
			/* The provider is out of send room (its peer stopped taking data): the
			 * same exits as waiting for a slot. */
			int bad = r != -FI_EAGAIN ? fi_fail(err, "fi_tsend", c->prov, (int)r)
				: conn_state(c, err) < 0 ? RP_E_NET
				: c->peer_gone ? rp__err(err, RP_E_NET, "peer closed the connection")
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
				st = rp__err(err, RP_E_NET, "peer closed the connection");
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
			pthread_mutex_unlock(&c->mu);
			if (r < 0)
				return fi_fail(err, "fi_trecv", c->prov, r);
			c->rx_seq++;
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
rp__transport_for(const struct rp_tls_config *cfg)
{
	return cfg && cfg->fabric ? &rp__ofi_ops : &rp__tcp_ops;
}
