// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench/wan/wanemu.c - userspace WAN link emulator between two TUN devices.
 *
 * This kernel has no netem/fq qdisc, so delay and loss come from here: the process
 * attaches to one (persistent, already configured) TUN device in each of two network
 * namespaces and moves IP packets between them.  Per direction it applies, in this
 * order:
 *   1. random loss (Bernoulli, xorshift PRNG, seedable so runs repeat);
 *   2. a rate-limited bottleneck FIFO with tail drop: a packet leaves the bottleneck
 *      len*8/rate after the previous one, and is dropped when the bytes still waiting
 *      in front of it plus itself exceed the queue cap (default one BDP, rate x RTT);
 *   3. a fixed one-way propagation delay.
 * Because departure times are monotonic, one FIFO per direction holds every packet from
 * ingress to delivery; it is a byte ring of variable-length records.
 *
 * The rate counts IP bytes (no Ethernet framing), so the TCP payload ceiling of a link is
 * rate/8 * (MTU-52)/MTU with timestamps on (1448/1500).
 *
 * A UNIX control socket answers "stats" (JSON counters and the emulator's own CPU
 * time), "cut PORT" (blackhole, in both directions, the busiest live (seen in the last
 * second) not-yet-cut TCP flow whose A->B destination port is PORT: a path failure under
 * one connection) and "quit".
 *
 * Usage: wanemu --ns-a NS --dev-a DEV --ns-b NS --dev-b DEV --rate MBIT --rtt MS
 *               [--loss PCT] [per-direction overrides] [--queue BYTES] [--seed N]
 *               [--ring BYTES] [--ctl PATH] [--duration S]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX 65536u           /* read buffer: a TUN without offloads hands us <= MTU */
#define REC_HDR 16u              /* ring record header: deliver time + length + pad */
#define REC_WRAP UINT32_MAX      /* length marking "continue at offset 0" */
#define READ_BATCH 64            /* packets read per fd per wakeup, so neither side starves */
#define FLOW_SLOTS 1024          /* open-addressed TCP flow table, power of two */

enum { AB = 0, BA = 1 };

struct dir_stats {
	uint64_t in_pkts, in_bytes;
	uint64_t out_pkts, out_bytes;
	uint64_t drop_loss;          /* random loss */
	uint64_t drop_queue;         /* bottleneck tail drop */
	uint64_t drop_ring;          /* emulator ran out of ring room (should stay 0) */
	uint64_t drop_cut;           /* blackholed flow */
	uint64_t write_err;
	uint64_t max_backlog;        /* largest bottleneck queue seen, bytes */
	uint64_t max_late_ns;        /* worst delivery lateness vs the schedule */
};

struct ring {
	uint8_t *buf;
	size_t cap;                  /* multiple of 16 */
	size_t head, tail, used;     /* used = bytes of records (incl. wrap gap) */
	size_t count;
	uint64_t wraps;              /* times the writer went back to offset 0 */
};

struct dir {
	const char *name;
	int in_fd, out_fd;
	uint64_t rate_bps;
	uint64_t delay_ns;
	uint32_t loss_thresh;        /* drop when rand32 < thresh; 0 = never */
	uint64_t queue_cap;
	uint64_t busy_until;         /* when the bottleneck finishes its last packet */
	struct ring ring;
	struct dir_stats st;
};

struct flow {
	uint32_t a_addr, b_addr;     /* oriented A->B: a is the side in namespace A */
	uint16_t a_port, b_port;
	uint8_t used, cut;
	uint64_t bytes;
	uint64_t last_ns;            /* when a packet of it was last seen */
};

struct emu {
	struct dir d[2];
	struct flow flows[FLOW_SLOTS];
	size_t nflows;
	int ncut;
	uint64_t rng;
	uint64_t t0;
	int ctl_fd;
	const char *ctl_path;
};

static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("wanemu: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, good enough for Bernoulli loss, and repeatable from --seed. */
static uint32_t
rand32(struct emu *e)
{
	uint64_t x = e->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static int
ring_init(struct ring *r, size_t cap)
{
	cap = (cap + 15u) & ~(size_t)15u;
	r->buf = malloc(cap);
	if (r->buf == NULL)
		return -1;
	r->cap = cap;
	r->head = r->tail = r->used = r->count = 0;
	return 0;
}

/* Reserves room for a record of len bytes; returns its offset or SIZE_MAX when full. */
static size_t
ring_reserve(struct ring *r, uint32_t len)
{
	size_t need = REC_HDR + (((size_t)len + 15u) & ~(size_t)15u);
	size_t off;

	if (r->count == 0)
		r->head = r->tail = r->used = 0;
	if (r->tail >= r->head && (r->count == 0 || r->tail != r->head)) {
		/* free space is [tail, cap) and [0, head) */
		if (r->cap - r->tail >= need) {
			off = r->tail;
		} else if (r->head > need) {
			/* records are 16-aligned and cap is too, so a gap is 0 or >= 16 bytes */
			if (r->cap - r->tail >= REC_HDR) {
				uint32_t wrap = REC_WRAP;
				memcpy(r->buf + r->tail + 8, &wrap, sizeof(wrap));
			}
			r->used += r->cap - r->tail;
			r->wraps++;
			off = 0;
		} else {
			return SIZE_MAX;
		}
	} else {
		/* free space is [tail, head); keep one byte so full != empty */
		if (r->head - r->tail <= need)
			return SIZE_MAX;
		off = r->tail;
	}
	r->tail = off + need;
	r->used += need;
	r->count++;
	return off;
}

/* Returns a pointer to the oldest record's header, skipping a wrap marker, or NULL. */
static uint8_t *
ring_front(struct ring *r)
{
	uint32_t len;

	if (r->count == 0)
		return NULL;
	if (r->cap - r->head < REC_HDR) {
		r->used -= r->cap - r->head;
		r->head = 0;
	} else {
		memcpy(&len, r->buf + r->head + 8, sizeof(len));
		if (len == REC_WRAP) {
			r->used -= r->cap - r->head;
			r->head = 0;
		}
	}
	return r->buf + r->head;
}

static void
ring_pop(struct ring *r)
{
	uint32_t len;
	size_t need;

	memcpy(&len, r->buf + r->head + 8, sizeof(len));
	need = REC_HDR + (((size_t)len + 15u) & ~(size_t)15u);
	r->head += need;
	r->used -= need;
	r->count--;
	if (r->head == r->cap)
		r->head = 0;
}

static uint32_t
flow_hash(uint32_t a, uint32_t b, uint16_t ap, uint16_t bp)
{
	uint64_t h = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ULL;

	h ^= ((uint64_t)ap << 16 | bp) * 0xC2B2AE3D27D4EB4FULL;
	return (uint32_t)(h >> 40) & (FLOW_SLOTS - 1);
}

/*
 * Finds (or adds) the TCP flow a packet belongs to, oriented A->B.  Returns NULL for
 * non-TCP, fragments, truncated headers, or a full table (then the flow is simply not
 * cuttable; forwarding never depends on this table).
 */
static struct flow *flow_insert(struct emu *e, const struct flow *key);

/*
 * Makes room in a full flow table: keeps cut flows (they must stay blackholed) and those
 * seen in the last 5 s, forgets the rest.  A long profile opens hundreds of connections.
 */
static void
flow_compact(struct emu *e, uint64_t now)
{
	static struct flow keep[FLOW_SLOTS];
	size_t n = 0, i;

	for (i = 0; i < FLOW_SLOTS; i++) {
		const struct flow *f = &e->flows[i];
		if (f->used && (f->cut || now - f->last_ns < 5000000000ULL))
			keep[n++] = *f;
	}
	memset(e->flows, 0, sizeof(e->flows));
	e->nflows = 0;
	for (i = 0; i < n; i++)
		flow_insert(e, &keep[i]);
}

static struct flow *
flow_insert(struct emu *e, const struct flow *key)
{
	uint32_t i = flow_hash(key->a_addr, key->b_addr, key->a_port, key->b_port), n;

	for (n = 0; n < FLOW_SLOTS; n++, i = (i + 1) & (FLOW_SLOTS - 1)) {
		struct flow *f = &e->flows[i];
		if (!f->used) {
			*f = *key;
			f->used = 1;
			e->nflows++;
			return f;
		}
	}
	return NULL;
}

static struct flow *
flow_lookup(struct emu *e, int dir, const uint8_t *p, size_t len, uint64_t now)
{
	uint32_t src, dst, a, b;
	uint16_t sp, dp, ap, bp;
	size_t ihl;
	uint32_t i, n;

	if (len < 20 || (p[0] >> 4) != 4 || p[9] != 6)
		return NULL;
	ihl = (size_t)(p[0] & 15u) * 4u;
	if (ihl < 20 || len < ihl + 4)
		return NULL;
	if ((((unsigned)p[6] << 8 | p[7]) & 0x1FFFu) != 0)
		return NULL;        /* non-first fragment: no ports */
	memcpy(&src, p + 12, 4);
	memcpy(&dst, p + 16, 4);
	sp = (uint16_t)(p[ihl] << 8 | p[ihl + 1]);
	dp = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
	if (dir == AB) {
		a = src; b = dst; ap = sp; bp = dp;
	} else {
		a = dst; b = src; ap = dp; bp = sp;
	}
	i = flow_hash(a, b, ap, bp);
	for (n = 0; n < FLOW_SLOTS; n++, i = (i + 1) & (FLOW_SLOTS - 1)) {
		struct flow *f = &e->flows[i];
		if (!f->used)
			break;
		if (f->a_addr == a && f->b_addr == b && f->a_port == ap && f->b_port == bp) {
			f->last_ns = now;
			return f;
		}
	}
	{
		struct flow key;
		memset(&key, 0, sizeof(key));
		key.a_addr = a; key.b_addr = b; key.a_port = ap; key.b_port = bp;
		key.last_ns = now;
		if (e->nflows >= FLOW_SLOTS / 2)
			flow_compact(e, now);
		if (e->nflows >= FLOW_SLOTS / 2)
			return NULL;
		return flow_insert(e, &key);
	}
}

static void
enqueue(struct emu *e, int di, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct dir *d = &e->d[di];
	struct flow *f = flow_lookup(e, di, pkt, len, now);
	uint64_t backlog, start, ser, deliver;
	size_t off;

	d->st.in_pkts++;
	d->st.in_bytes += len;
	if (f != NULL) {
		if (f->cut) {
			d->st.drop_cut++;
			return;
		}
		f->bytes += len;
	}
	if (d->loss_thresh != 0 && rand32(e) < d->loss_thresh) {
		d->st.drop_loss++;
		return;
	}
	/* Bytes still in the bottleneck in front of this packet: its busy time at link rate. */
	backlog = d->busy_until > now ?
		(uint64_t)((double)(d->busy_until - now) * (double)d->rate_bps / 8e9) : 0;
	if (backlog + len > d->queue_cap) {
		d->st.drop_queue++;
		return;
	}
	if (backlog + len > d->st.max_backlog)
		d->st.max_backlog = backlog + len;
	ser = (uint64_t)len * 8000000000ULL / d->rate_bps;
	start = d->busy_until > now ? d->busy_until : now;
	deliver = start + ser + d->delay_ns;
	off = ring_reserve(&d->ring, (uint32_t)len);
	if (off == SIZE_MAX) {
		d->st.drop_ring++;
		return;
	}
	d->busy_until = start + ser;
	{
		uint32_t l32 = (uint32_t)len;
		memcpy(d->ring.buf + off, &deliver, 8);
		memcpy(d->ring.buf + off + 8, &l32, 4);
		memcpy(d->ring.buf + off + REC_HDR, pkt, len);
	}
}

/* Writes every packet whose time has come; returns the next due time or UINT64_MAX. */
static uint64_t
deliver_due(struct dir *d, uint64_t now)
{
	uint8_t *rec;

	while ((rec = ring_front(&d->ring)) != NULL) {
		uint64_t t;
		uint32_t len;

		memcpy(&t, rec, 8);
		if (t > now)
			return t;
		memcpy(&len, rec + 8, 4);
		if (now - t > d->st.max_late_ns)
			d->st.max_late_ns = now - t;
		if (write(d->out_fd, rec + REC_HDR, len) == (ssize_t)len) {
			d->st.out_pkts++;
			d->st.out_bytes += len;
		} else {
			d->st.write_err++;
		}
		ring_pop(&d->ring);
	}
	return UINT64_MAX;
}

static int
open_tun(const char *ns, const char *dev)
{
	struct ifreq ifr;
	int self_ns = -1, ns_fd = -1, fd;
	char path[PATH_MAX];

	if (ns != NULL && ns[0] != '\0') {
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (self_ns < 0 || ns_fd < 0)
			die("cannot open namespace %s: %s", path, strerror(errno));
		/* The TUN socket's namespace is fixed at open(), so open it inside the ns. */
		if (setns(ns_fd, CLONE_NEWNET) != 0)
			die("setns %s: %s", ns, strerror(errno));
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (strlen(dev) >= sizeof(ifr.ifr_name))
		die("device name too long: %s", dev);
	memcpy(ifr.ifr_name, dev, strlen(dev));
	if (ioctl(fd, TUNSETIFF, &ifr) != 0)
		die("TUNSETIFF %s (ns %s): %s", dev, ns ? ns : "-", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	if (self_ns >= 0) {
		if (setns(self_ns, CLONE_NEWNET) != 0)
			die("setns back: %s", strerror(errno));
		close(self_ns);
		close(ns_fd);
	}
	return fd;
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int
stats_json(const struct emu *e, char *buf, size_t cap)
{
	struct rusage ru;
	size_t n;
	int i, k;

	getrusage(RUSAGE_SELF, &ru);
	k = snprintf(buf, cap, "{\"uptime_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f",
		     (double)(mono_ns() - e->t0) / 1e9, tv_s(ru.ru_utime), tv_s(ru.ru_stime));
	if (k < 0 || (size_t)k >= cap)
		return -1;
	n = (size_t)k;
	for (i = 0; i < 2; i++) {
		const struct dir *d = &e->d[i];
		const struct dir_stats *s = &d->st;
		k = snprintf(buf + n, cap - n,
			     ",\"%s\":{\"rate_bps\":%" PRIu64 ",\"delay_ns\":%" PRIu64
			     ",\"loss\":%.6f,\"queue_cap\":%" PRIu64
			     ",\"in_pkts\":%" PRIu64 ",\"in_bytes\":%" PRIu64
			     ",\"out_pkts\":%" PRIu64 ",\"out_bytes\":%" PRIu64
			     ",\"drop_loss\":%" PRIu64 ",\"drop_queue\":%" PRIu64
			     ",\"drop_ring\":%" PRIu64 ",\"drop_cut\":%" PRIu64
			     ",\"write_err\":%" PRIu64 ",\"max_backlog\":%" PRIu64
			     ",\"max_late_ns\":%" PRIu64 ",\"queued_pkts\":%zu"
			     ",\"ring_bytes\":%zu,\"ring_wraps\":%" PRIu64 "}",
			     d->name, d->rate_bps, d->delay_ns,
			     (double)d->loss_thresh / 4294967296.0, d->queue_cap,
			     s->in_pkts, s->in_bytes, s->out_pkts, s->out_bytes,
			     s->drop_loss, s->drop_queue, s->drop_ring, s->drop_cut,
			     s->write_err, s->max_backlog, s->max_late_ns, d->ring.count,
			     d->ring.cap, d->ring.wraps);
		if (k < 0 || (size_t)k >= cap - n)
			return -1;
		n += (size_t)k;
	}
	k = snprintf(buf + n, cap - n, ",\"flows\":%zu,\"cut\":%d}\n", e->nflows, e->ncut);
	if (k < 0 || (size_t)k >= cap - n)
		return -1;
	return (int)(n + (size_t)k);
}

static void
cut_flow(struct emu *e, long port, char *out, size_t cap)
{
	struct flow *best = NULL;
	char a[16], b[16];
	size_t i;

	uint64_t now = mono_ns();

	/* Only live connections (a packet in the last second): earlier runs' flows stay in
	 * the table, and cutting a closed one would cut nothing. */
	for (i = 0; i < FLOW_SLOTS; i++) {
		struct flow *f = &e->flows[i];
		if (f->used && !f->cut && f->b_port == port && now - f->last_ns < 1000000000ULL &&
		    (best == NULL || f->bytes > best->bytes))
			best = f;
	}
	if (best == NULL) {
		snprintf(out, cap, "{\"error\":\"no live uncut TCP flow to port %ld\"}\n", port);
		return;
	}
	best->cut = 1;
	e->ncut++;
	{
		const uint8_t *x = (const uint8_t *)&best->a_addr, *y = (const uint8_t *)&best->b_addr;
		snprintf(a, sizeof(a), "%u.%u.%u.%u", x[0], x[1], x[2], x[3]);
		snprintf(b, sizeof(b), "%u.%u.%u.%u", y[0], y[1], y[2], y[3]);
	}
	snprintf(out, cap, "{\"cut\":\"%s:%u->%s:%u\",\"bytes_before\":%" PRIu64 "}\n",
		 a, best->a_port, b, best->b_port, best->bytes);
}

/* One short request per connection; the client is the bench runner on this host. */
static void
serve_ctl(struct emu *e)
{
	char req[128], out[8192];
	struct pollfd pfd;
	ssize_t r;
	size_t got = 0;
	int c, n = 0;

	c = accept4(e->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	pfd.fd = c;
	pfd.events = POLLIN;
	while (got < sizeof(req) - 1 && poll(&pfd, 1, 200) > 0) {
		r = read(c, req + got, sizeof(req) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(req, '\n', got) != NULL)
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	if (strcmp(req, "stats") == 0) {
		n = stats_json(e, out, sizeof(out));
	} else if (strncmp(req, "cut ", 4) == 0) {
		char *end;
		long port = strtol(req + 4, &end, 10);
		if (end == req + 4 || *end != '\0' || port <= 0 || port > 65535)
			snprintf(out, sizeof(out), "{\"error\":\"bad port\"}\n");
		else
			cut_flow(e, port, out, sizeof(out));
		n = (int)strlen(out);
	} else if (strcmp(req, "quit") == 0) {
		g_stop = 1;
		n = snprintf(out, sizeof(out), "{\"quit\":true}\n");
	} else {
		n = snprintf(out, sizeof(out), "{\"error\":\"unknown command\"}\n");
	}
	if (n > 0 && write(c, out, (size_t)n) < 0)
		fprintf(stderr, "wanemu: ctl write: %s\n", strerror(errno));
	close(c);
}

static int
open_ctl(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("control socket path too long");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0)
		die("control socket %s: %s", path, strerror(errno));
	return fd;
}

static double
parse_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		die("%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
	return v;
}

static void
usage(void)
{
	fputs("usage: wanemu --ns-a NS --dev-a DEV --ns-b NS --dev-b DEV --rate MBIT --rtt MS\n"
	      "              [--loss PCT] [--rate-ab|--rate-ba MBIT] [--rtt-ab|--rtt-ba MS]\n"
	      "              [--loss-ab|--loss-ba PCT] [--queue BYTES] [--seed N]\n"
	      "              [--ring BYTES] [--ctl PATH] [--duration S]\n"
	      "  --rtt gives the round trip; each direction delays by half of it unless\n"
	      "  --rtt-ab/--rtt-ba give twice that direction's one-way delay.\n"
	      "  --queue is the bottleneck FIFO cap per direction (default rate x RTT).\n"
	      "  --ring sizes each direction's packet store (default: room for twice the\n"
	      "  queue plus a one-way delay of packets; small values are for tests).\n"
	      "  An empty namespace name means the current one.\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct emu e;
	const char *ns[2] = { NULL, NULL }, *dev[2] = { NULL, NULL };
	double rate[2] = { -1, -1 }, rtt[2] = { -1, -1 }, loss[2] = { -1, -1 };
	double rate_all = -1, rtt_all = -1, loss_all = -1, queue = -1, duration = 0, ring = 0;
	uint64_t seed = 0x5EEDF00Dull;
	static uint8_t pkt[PKT_MAX];
	struct sigaction sa;
	char line[8192];
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0)
			usage();
		if (v == NULL)
			usage();
		i++;
		if (!strcmp(o, "--ns-a")) ns[AB] = v;
		else if (!strcmp(o, "--ns-b")) ns[BA] = v;
		else if (!strcmp(o, "--dev-a")) dev[AB] = v;
		else if (!strcmp(o, "--dev-b")) dev[BA] = v;
		else if (!strcmp(o, "--rate")) rate_all = parse_num(o, v, 0.001, 100000);
		else if (!strcmp(o, "--rate-ab")) rate[AB] = parse_num(o, v, 0.001, 100000);
		else if (!strcmp(o, "--rate-ba")) rate[BA] = parse_num(o, v, 0.001, 100000);
		else if (!strcmp(o, "--rtt")) rtt_all = parse_num(o, v, 0, 10000);
		else if (!strcmp(o, "--rtt-ab")) rtt[AB] = parse_num(o, v, 0, 10000);
		else if (!strcmp(o, "--rtt-ba")) rtt[BA] = parse_num(o, v, 0, 10000);
		else if (!strcmp(o, "--loss")) loss_all = parse_num(o, v, 0, 100);
		else if (!strcmp(o, "--loss-ab")) loss[AB] = parse_num(o, v, 0, 100);
		else if (!strcmp(o, "--loss-ba")) loss[BA] = parse_num(o, v, 0, 100);
		else if (!strcmp(o, "--queue")) queue = parse_num(o, v, 1500, 1e9);
		else if (!strcmp(o, "--ring")) ring = parse_num(o, v, 65536, 1e10);
		else if (!strcmp(o, "--seed")) seed = (uint64_t)parse_num(o, v, 1, 1e15);
		else if (!strcmp(o, "--ctl")) e.ctl_path = v;
		else if (!strcmp(o, "--duration")) duration = parse_num(o, v, 0, 1e7);
		else usage();
	}
	if (dev[AB] == NULL || dev[BA] == NULL)
		die("--dev-a and --dev-b are required");
	for (i = 0; i < 2; i++) {
		struct dir *d = &e.d[i];
		double r = rate[i] > 0 ? rate[i] : rate_all;
		double t = rtt[i] >= 0 ? rtt[i] : rtt_all;
		double l = loss[i] >= 0 ? loss[i] : (loss_all >= 0 ? loss_all : 0);
		double rt_other = rtt[!i] >= 0 ? rtt[!i] : rtt_all;
		if (r <= 0 || t < 0)
			die("--rate and --rtt are required (or per-direction values)");
		d->name = i == AB ? "ab" : "ba";
		d->rate_bps = (uint64_t)(r * 1e6);
		d->delay_ns = (uint64_t)(t * 1e6 / 2.0);
		d->loss_thresh = (uint32_t)(l / 100.0 * 4294967295.0);
		/* Default queue: one BDP of this direction's rate over the round trip. */
		d->queue_cap = queue > 0 ? (uint64_t)queue :
			(uint64_t)(r * 1e6 / 8.0 * (t + rt_other) / 2.0 / 1e3);
		if (d->queue_cap < 16 * 1500)
			d->queue_cap = 16 * 1500;
		/* The ring holds the queue plus a one-way delay's worth of packets in flight;
		 * doubled for per-record overhead on small packets (ACKs). */
		if (ring_init(&d->ring, ring > 0 ? (size_t)ring :
			      2 * (d->queue_cap + (size_t)(r * 1e6 / 8.0 * t / 2e3)) + (1u << 20)) != 0)
			die("out of memory");
	}
	e.rng = seed;
	e.ctl_fd = -1;

	e.d[AB].in_fd = open_tun(ns[AB], dev[AB]);
	e.d[BA].in_fd = open_tun(ns[BA], dev[BA]);
	e.d[AB].out_fd = e.d[BA].in_fd;
	e.d[BA].out_fd = e.d[AB].in_fd;
	if (e.ctl_path != NULL)
		e.ctl_fd = open_ctl(e.ctl_path);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Default 50 us timer slack would smear delivery times; ask for 1 us. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	e.t0 = mono_ns();
	fprintf(stderr, "wanemu: ready ab: %.3f Mbit/s %.3f ms loss %.4f%% queue %" PRIu64
		" B; ba: %.3f Mbit/s %.3f ms loss %.4f%% queue %" PRIu64 " B\n",
		e.d[AB].rate_bps / 1e6, e.d[AB].delay_ns / 1e6,
		e.d[AB].loss_thresh / 42949672.95, e.d[AB].queue_cap,
		e.d[BA].rate_bps / 1e6, e.d[BA].delay_ns / 1e6,
		e.d[BA].loss_thresh / 42949672.95, e.d[BA].queue_cap);

	while (!g_stop) {
		struct pollfd pfd[3];
		struct timespec ts, *tsp = NULL;
		uint64_t now = mono_ns(), next, n0, n1;
		int np = 2, k;

		if (duration > 0 && now - e.t0 >= (uint64_t)(duration * 1e9))
			break;
		n0 = deliver_due(&e.d[AB], now);
		n1 = deliver_due(&e.d[BA], now);
		next = n0 < n1 ? n0 : n1;
		if (duration > 0) {
			uint64_t end = e.t0 + (uint64_t)(duration * 1e9);
			if (end < next)
				next = end;
		}
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tsp = &ts;
		}
		pfd[0].fd = e.d[AB].in_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = e.d[BA].in_fd;
		pfd[1].events = POLLIN;
		if (e.ctl_fd >= 0) {
			pfd[2].fd = e.ctl_fd;
			pfd[2].events = POLLIN;
			np = 3;
		}
		k = ppoll(pfd, (nfds_t)np, tsp, NULL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll: %s", strerror(errno));
		}
		for (i = 0; i < 2; i++) {
			int b;
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (b = 0; b < READ_BATCH; b++) {
				ssize_t r = read(pfd[i].fd, pkt, sizeof(pkt));
				if (r <= 0)
					break;
				enqueue(&e, i, pkt, (size_t)r, mono_ns());
			}
		}
		if (np == 3 && (pfd[2].revents & POLLIN))
			serve_ctl(&e);
	}
	if (stats_json(&e, line, sizeof(line)) > 0)
		fputs(line, stdout);
	fflush(stdout);
	if (e.ctl_path != NULL)
		unlink(e.ctl_path);
	return 0;
}
