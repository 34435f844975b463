/* SPDX-License-Identifier: BSD-3-Clause */
/* bench/bench_ofi.c - raw libfabric message bandwidth, the ceiling for the libfabric
 * backend: two FI_EP_RDM endpoints of one provider in two processes (fork), the sender
 * keeps `window` tagged sends of `size` bytes in flight from one registered buffer, the
 * receiver keeps as many receives posted; both poll their completion queues.  With MODE
 * "rma" the sender fi_writedata()s into the receiver's registered buffer instead (the
 * libfabric backend's RMA path), the receiver counting the remote CQ data completions.
 * Prints one JSON line.  Usage: bench_ofi [PROVIDER [SIZE [WINDOW [SECONDS [MODE]]]]]
 * (defaults "tcp;ofi_rxm", 1 MiB, 16, 5, tagged).  bench/bench_ofi.sh builds and runs it. */
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct side {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_av *av;
	struct fid_ep *ep;
	struct fid_mr *mr;
	void *buf, *desc;
	fi_addr_t peer;
};

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHECK(x)                                                                          \
	do {                                                                              \
		int r_ = (int)(x);                                                        \
		if (r_ < 0) {                                                             \
			fprintf(stderr, "bench_ofi: %s: %s\n", #x, fi_strerror(-r_));     \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

static void
setup(struct side *s, const char *prov, size_t bytes, unsigned window, bool rma)
{
	struct fi_info *h = fi_allocinfo();
	h->caps = FI_TAGGED | FI_SEND | FI_RECV | (rma ? FI_RMA | FI_WRITE | FI_REMOTE_WRITE : 0);
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	h->ep_attr->type = FI_EP_RDM;
	h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_VIRT_ADDR;
	h->fabric_attr->prov_name = strdup(prov);
	CHECK(fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, h, &s->info));
	fi_freeinfo(h);
	CHECK(fi_fabric(s->info->fabric_attr, &s->fabric, NULL));
	CHECK(fi_domain(s->fabric, s->info, &s->domain, NULL));
	struct fi_cq_attr ca = {.format = FI_CQ_FORMAT_TAGGED, .size = 4 * window + 16};
	CHECK(fi_cq_open(s->domain, &ca, &s->cq, NULL));
	struct fi_av_attr aa = {.type = s->info->domain_attr->av_type};
	CHECK(fi_av_open(s->domain, &aa, &s->av, NULL));
	CHECK(fi_endpoint(s->domain, s->info, &s->ep, NULL));
	CHECK(fi_ep_bind(s->ep, &s->av->fid, 0));
	CHECK(fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
	CHECK(fi_enable(s->ep));
	if (posix_memalign(&s->buf, 4096, bytes * window))
		exit(1);
	memset(s->buf, 0x5a, bytes * window);
	uint64_t access = FI_SEND | FI_RECV | (rma ? FI_WRITE | FI_REMOTE_WRITE : 0);
	CHECK(fi_mr_reg(s->domain, s->buf, bytes * window, access, 0, 1, 0, &s->mr, NULL));
	s->desc = fi_mr_desc(s->mr);
}

static void
xwrite(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		exit(1);
}

static void
xread(int fd, void *p, size_t n)
{
	if (read(fd, p, n) != (ssize_t)n)
		exit(1);
}

int
main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "tcp;ofi_rxm";
	size_t size = argc > 2 ? strtoull(argv[2], NULL, 10) : (1u << 20);
	unsigned window = argc > 3 ? (unsigned)atoi(argv[3]) : 16;
	double secs = argc > 4 ? atof(argv[4]) : 5;
	bool rma = argc > 5 && strcmp(argv[5], "rma") == 0;
	int to_child[2], to_parent[2];
	if (pipe(to_child) || pipe(to_parent))
		return 1;
	pid_t pid = fork();
	struct side s = {0};
	setup(&s, prov, size, window, rma);
	/* The name, then the key and RMA address of the buffer (an offset without
	 * FI_MR_VIRT_ADDR). */
	char addr[256 + 16];
	size_t alen = 256;
	CHECK(fi_getname(&s.ep->fid, addr, &alen));
	uint64_t rkey = fi_mr_key(s.mr), raddr = (s.info->domain_attr->mr_mode & FI_MR_VIRT_ADDR)
							 ? (uint64_t)(uintptr_t)s.buf
							 : 0;
	memcpy(addr + alen, &rkey, 8);
	memcpy(addr + alen + 8, &raddr, 8);
	alen += 16;
	/* Swap names over the pipes. */
	int out = pid == 0 ? to_parent[1] : to_child[1], in = pid == 0 ? to_child[0] : to_parent[0];
	xwrite(out, &alen, sizeof(alen));
	xwrite(out, addr, alen);
	char peer[256 + 16];
	size_t plen;
	xread(in, &plen, sizeof(plen));
	if (plen > sizeof(peer) || plen < 16)
		return 1;
	xread(in, peer, plen);
	plen -= 16;
	uint64_t peer_key, peer_addr;
	memcpy(&peer_key, peer + plen, 8);
	memcpy(&peer_addr, peer + plen + 8, 8);
	if (fi_av_insert(s.av, peer, 1, &s.peer, 0, NULL) != 1)
		return 1;
	struct fi_context2 *ctx = calloc(window, sizeof(*ctx));
	struct fi_cq_tagged_entry e[16];
	uint64_t msgs = 0, posted = 0;
	if (pid == 0) {
		/* Receiver: window receives posted, reposted as they complete, until the
		 * sender's zero-byte message (tag 1) arrives. */
		for (unsigned i = 0; i < window; i++)
			CHECK(fi_trecv(s.ep, (char *)s.buf + i * size, size, s.desc, FI_ADDR_UNSPEC,
				       0, 1, &ctx[i]));
		for (int done = 0; !done;) {
			ssize_t n = fi_cq_read(s.cq, e, 16);
			if (n == -FI_EAGAIN)
				continue;
			CHECK(n);
			for (ssize_t k = 0; k < n; k++) {
				if (e[k].flags & FI_REMOTE_CQ_DATA) {
					msgs++;  /* an RMA write landed; nothing to repost */
					continue;
				}
				if (e[k].tag == 1) {
					done = 1;
					continue;
				}
				msgs++;
				size_t i = (size_t)((struct fi_context2 *)e[k].op_context - ctx);
				int r;
				while ((r = (int)fi_trecv(s.ep, (char *)s.buf + i * size, size, s.desc,
							  FI_ADDR_UNSPEC, 0, 1, &ctx[i])) == -FI_EAGAIN)
					fi_cq_read(s.cq, NULL, 0);
				CHECK(r);
			}
		}
		xwrite(to_parent[1], &msgs, sizeof(msgs));
		_exit(0);
	}
	double t0 = now(), t1;
	uint64_t inflight = 0;
	for (;;) {
		t1 = now();
		bool more = t1 - t0 < secs;
		while (more && inflight < window) {
			unsigned i = (unsigned)(posted % window);
			int r = rma ? (int)fi_writedata(s.ep, (char *)s.buf + i * size, size, s.desc,
							posted, s.peer, peer_addr + i * size,
							peer_key, &ctx[i])
				    : (int)fi_tsend(s.ep, (char *)s.buf + i * size, size, s.desc, s.peer,
						    0, &ctx[i]);
			if (r == -FI_EAGAIN)
				break;
			CHECK(r);
			posted++;
			inflight++;
		}
		ssize_t n = fi_cq_read(s.cq, e, 16);
		if (n > 0) {
			inflight -= (uint64_t)n;
			msgs += (uint64_t)n;
		} else if (n != -FI_EAGAIN) {
			CHECK(n);
		}
		if (!more && inflight == 0)
			break;
	}
	t1 = now();
	/* The end marker: tag 1, which the receiver's posted buffers also match. */
	static struct fi_context2 endctx;
	while (fi_tsend(s.ep, s.buf, 0, s.desc, s.peer, 1, &endctx) == -FI_EAGAIN)
		fi_cq_read(s.cq, e, 16);
	uint64_t got = 0;
	for (;;) {
		fi_cq_read(s.cq, e, 16);
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	xread(to_parent[0], &got, sizeof(got));
	double mbps = (double)msgs * (double)size / (t1 - t0) / 1e6;
	printf("{\"bench\":\"ofi_raw\",\"provider\":\"%s\",\"mode\":\"%s\",\"msg_bytes\":%zu,"
	       "\"window\":%u,"
	       "\"messages\":%llu,\"received\":%llu,\"seconds\":%.3f,\"MBps\":%.1f}\n",
	       prov, rma ? "rma" : "tagged", size, window, (unsigned long long)msgs, (unsigned long long)got, t1 - t0,
	       mbps);
	return got == msgs ? 0 : 1;
}
