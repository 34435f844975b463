/* SPDX-License-Identifier: BSD-3-Clause */
/* net/atna.c - rp_atna_*(): audit events as IHE ATNA messages (docs/AUDIT.md).  Each is
 *   <85>1 2026-12-02T16:20:00.123Z HOST radpipe PID IHE+RFC-3881 - <?xml ...><AuditMessage>
 * (PRI 85: facility authpriv(10), severity notice(5), as IHE ITI TF-2 3.20.4.2 asks),
 * the XML a DICOM audit message of PS3.15 A.5 "DICOM Instances Transferred", over UDP,
 * TCP or TLS (OpenSSL, in this file only: it is the syslog adapter).  A sender
 * thread takes them from a bounded queue, so that an audit repository that is slow or
 * gone costs messages, never a C-STORE. */
#include "common/internal.h"
#include "net/store_scp.h"       /* rp__net_log */

#include <radpipe/atna.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A message's longest: the XML of one event is a few KB; UDP datagrams past 64 KB are
 * impossible and IHE asks receivers to take at least 32 KB. */
#define MSG_MAX (32 * 1024)

struct msg {
	char *p;
	size_t len;
};

struct rp_atna {
	struct rp_atna_options o;
	char *url, *ae, *source;
	enum rp_atna_transport transport;
	char host[256];
	uint16_t port;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;                      /* -1 while not connected */
	SSL_CTX *ctx;                /* tls:// */
	SSL *ssl;                    /* on fd, while connected over TLS */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct msg *q;               /* ring of o.queue_max */
	size_t head, count;
	bool closing;
	struct rp_atna_stats stats;
	uint64_t logged_drops;       /* dropped count at the last log line */
};

void
rp_atna_options_init(struct rp_atna_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->ae_title = "RADPIPE";
	o->queue_max = 1024;
	o->timeout_s = 5;
}

int
rp_atna_parse_url(const char *url, enum rp_atna_transport *transport, char *host,
		  size_t host_cap, uint16_t *port, struct rp_errbuf *err)
{
	static const char usage[] = "expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT";
	if (!url)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA: no address (%s)", usage);
	const char *rest;
	if (strncmp(url, "udp://", 6) == 0)
		*transport = RP_ATNA_UDP;
	else if (strncmp(url, "tcp://", 6) == 0)
		*transport = RP_ATNA_TCP;
	else if (strncmp(url, "tls://", 6) == 0)
		*transport = RP_ATNA_TLS;
	else
		return rp__err(err, RP_E_INVALID_ARG, "ATNA address '%s': %s", url, usage);
	rest = url + 6;
	const char *h = rest, *colon;
	size_t hl;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (!close || close[1] != ':')
			return rp__err(err, RP_E_INVALID_ARG, "ATNA address '%s': %s", url, usage);
		h = rest + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon || memchr(rest, ':', (size_t)(colon - rest)))
			return rp__err(err, RP_E_INVALID_ARG, "ATNA address '%s': %s (an IPv6 "
				       "address goes in brackets)", url, usage);
		hl = (size_t)(colon - rest);
	}
	if (hl == 0 || hl >= host_cap)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA address '%s': no host or too long",
			       url);
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || p == 0 || p > 65535)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA address '%s': port must be 1..65535",
			       url);
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)p;
	return RP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* The message */

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void
put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = cap > MSG_MAX + 1 ? NULL : realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* A string literal, its length counted by the compiler. */
#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static void putf(struct sbuf *b, const char *fmt, ...) RP__PRINTF(2, 3);

static void
putf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		b->failed = true;
	else
		put(b, tmp, (size_t)n);
}

/* XML character data or attribute value: the five specials as entities, control
 * characters (not allowed in XML 1.0) as '?'. */
static void
put_xml(struct sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': PUTS(b, "&amp;"); break;
		case '<': PUTS(b, "&lt;"); break;
		case '>': PUTS(b, "&gt;"); break;
		case '"': PUTS(b, "&quot;"); break;
		case '\'': PUTS(b, "&apos;"); break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				c = '?';
			put(b, (const char *)&c, 1);
		}
	}
}

/* `name="value"` with a leading space. */
static void
put_attr(struct sbuf *b, const char *name, const char *value)
{
	putf(b, " %s=\"", name);
	put_xml(b, value);
	PUTS(b, "\"");
}

static void
put_code(struct sbuf *b, const char *element, const char *code, const char *text)
{
	putf(b, "<%s", element);
	put_attr(b, "csd-code", code);
	put_attr(b, "codeSystemName", "DCM");
	put_attr(b, "originalText", text);
	PUTS(b, "/>");
}

/* A peer "AET@host[:port]" split into the AE title and the host; a name without '@'
 * (a site's certificate name) is the user, without address. */
static void
split_peer(const char *peer, char *aet, size_t acap, char *host, size_t hcap)
{
	aet[0] = host[0] = 0;
	if (!peer)
		return;
	const char *at = strchr(peer, '@');
	if (!at) {
		snprintf(aet, acap, "%s", peer);
		return;
	}
	snprintf(aet, acap, "%.*s", (int)(at - peer), peer);
	snprintf(host, hcap, "%s", at + 1);
	/* One colon: host:port (IPv4 or a name); more: a bare IPv6 address. */
	char *c = strchr(host, ':');
	if (c && !strchr(c + 1, ':'))
		*c = 0;
	if (host[0] == '[') {
		char *close = strchr(host, ']');
		if (close) {
			*close = 0;
			memmove(host, host + 1, strlen(host));
		}
	}
}

static void
put_participant(struct sbuf *b, const char *aet, const char *host, bool requestor,
		const char *role_code, const char *role_text)
{
	PUTS(b, "<ActiveParticipant");
	put_attr(b, "UserID", aet[0] ? aet : "-");
	if (aet[0]) {
		PUTS(b, " AlternativeUserID=\"AETITLES=");
		put_xml(b, aet);
		PUTS(b, "\"");
	}
	put_attr(b, "UserIsRequestor", requestor ? "true" : "false");
	if (host[0]) {
		bool ip = strspn(host, "0123456789.") == strlen(host) || strchr(host, ':');
		put_attr(b, "NetworkAccessPointID", host);
		put_attr(b, "NetworkAccessPointTypeCode", ip ? "2" : "1");
	}
	PUTS(b, ">");
	if (role_code)
		put_code(b, "RoleIDCode", role_code, role_text);
	PUTS(b, "</ActiveParticipant>");
}

/* The syslog message for ev in *out: 0, 1 for an event that is no instance transfer
 * (nothing to send), -1 when it does not fit MSG_MAX or memory ran out. */
static int
format_msg(const struct rp_atna *a, const struct rp_audit_event *ev, char **out, size_t *len)
{
	const char *action;
	int dir;
	bool failed = false;
	if (strcmp(ev->event, "received") == 0) {
		action = "C";
		dir = RP_AUDIT_IN;
	} else if (strcmp(ev->event, "delivered") == 0 || strcmp(ev->event, "sent") == 0) {
		action = "R";
		dir = RP_AUDIT_OUT;
	} else if (strcmp(ev->event, "failed") == 0) {
		failed = true;
		dir = ev->direction;
		action = dir == RP_AUDIT_IN ? "C" : "R";
	} else {
		return 1;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[64];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(ts.tv_nsec / 1000000) % 1000);
	struct sbuf b = {0};
	/* HOSTNAME is PRINTUSASCII without spaces: anything else in a host name is '-'. */
	char hostname[256];
	snprintf(hostname, sizeof(hostname), "%s", a->source);
	for (char *p = hostname; *p; p++)
		if (*p <= 32 || *p >= 127)
			*p = '-';
	putf(&b, "<85>1 %s %.255s radpipe %ld IHE+RFC-3881 - ", when, hostname, (long)getpid());
	PUTS(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage><EventIdentification");
	put_attr(&b, "EventActionCode", action);
	put_attr(&b, "EventDateTime", when);
	/* 8: serious failure, the instance was not stored or delivered. */
	put_attr(&b, "EventOutcomeIndicator", failed ? "8" : "0");
	PUTS(&b, ">");
	put_code(&b, "EventID", "110104", "DICOM Instances Transferred");
	if (failed && ev->detail) {
		PUTS(&b, "<EventOutcomeDescription>");
		put_xml(&b, ev->detail);
		PUTS(&b, "</EventOutcomeDescription>");
	}
	PUTS(&b, "</EventIdentification>");
	char peer_ae[128], peer_host[256];
	split_peer(ev->peer, peer_ae, sizeof(peer_ae), peer_host, sizeof(peer_host));
	/* The requestor is who opened the association: the modality for what we receive,
	 * we for what we deliver. */
	if (dir == RP_AUDIT_IN) {
		put_participant(&b, peer_ae, peer_host, true, "110153", "Source Role ID");
		put_participant(&b, a->ae, a->source, false, "110152", "Destination Role ID");
	} else if (dir == RP_AUDIT_OUT) {
		put_participant(&b, a->ae, a->source, true, "110153", "Source Role ID");
		put_participant(&b, peer_ae, peer_host, false, "110152", "Destination Role ID");
	} else {
		put_participant(&b, a->ae, a->source, false, NULL, NULL);
		if (ev->peer)
			put_participant(&b, peer_ae, peer_host, false, NULL, NULL);
	}
	PUTS(&b, "<AuditSourceIdentification");
	put_attr(&b, "AuditSourceID", a->source);
	PUTS(&b, ">");
	put_code(&b, "AuditSourceTypeCode", "4", "Application Server Process");
	PUTS(&b, "</AuditSourceIdentification>");
	if (ev->study_uid || ev->sop_instance_uid) {
		PUTS(&b, "<ParticipantObjectIdentification");
		put_attr(&b, "ParticipantObjectID", ev->study_uid ? ev->study_uid : "");
		put_attr(&b, "ParticipantObjectTypeCode", "2");
		put_attr(&b, "ParticipantObjectTypeCodeRole", "3");
		PUTS(&b, ">");
		put_code(&b, "ParticipantObjectIDTypeCode", "110180", "Study Instance UID");
		if (ev->sha256) {
			char hex[65];
			static const char d[] = "0123456789abcdef";
			for (int i = 0; i < 32; i++) {
				hex[2 * i] = d[ev->sha256[i] >> 4];
				hex[2 * i + 1] = d[ev->sha256[i] & 15];
			}
			hex[64] = 0;
			putf(&b, "<ParticipantObjectDescription>SHA-256 %s</ParticipantObjectDescription>",
			     hex);
		}
		if (ev->sop_instance_uid) {
			PUTS(&b, "<SOPClass");
			put_attr(&b, "UID", ev->sop_class_uid ? ev->sop_class_uid : "");
			put_attr(&b, "NumberOfInstances", "1");
			PUTS(&b, "><Instance");
			put_attr(&b, "UID", ev->sop_instance_uid);
			PUTS(&b, "/></SOPClass>");
		}
		PUTS(&b, "</ParticipantObjectIdentification>");
	}
	PUTS(&b, "</AuditMessage>");
	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The sender */

static void
log_line(struct rp_atna *a, const char *event, const char *reason)
{
	rp__net_log(a->o.log, a->o.log_ctx, event, a->url, NULL, reason);
}

/* Under a->mu: a line for the drops since the last one, at most every 100 drops but
 * always for the first. */
static void
note_drops_locked(struct rp_atna *a, const char *why)
{
	if (a->stats.dropped - a->logged_drops >= 100 || a->logged_drops == 0) {
		char reason[200];
		snprintf(reason, sizeof(reason), "%s: %llu ATNA message(s) dropped so far", why,
			 (unsigned long long)a->stats.dropped);
		a->logged_drops = a->stats.dropped;
		log_line(a, "atna_dropped", reason);
	}
}

static double
mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool
wait_fd(int fd, short events, double timeout_s)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;
	do
		r = poll(&p, 1, (int)(timeout_s * 1000));
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static int
connect_tcp(struct rp_atna *a)
{
	int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int r = connect(fd, (struct sockaddr *)&a->addr, a->addr_len);
	if (r != 0 && errno == EINPROGRESS) {
		if (wait_fd(fd, POLLOUT, a->o.timeout_s)) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			r = e ? -1 : 0;
			errno = e;
		} else {
			errno = ETIMEDOUT;
		}
	}
	if (r != 0) {
		int e = errno ? errno : ETIMEDOUT;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Writes all of p, each wait bounded by the timeout. */
static bool
write_all(struct rp_atna *a, const char *p, size_t n)
{
	while (n > 0 && a->ssl) {
		/* Blocking, bounded by SO_SNDTIMEO. */
		int w = SSL_write(a->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (w <= 0) {
			errno = errno ? errno : EPIPE;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	while (n > 0) {
		ssize_t w = send(a->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(a->fd, POLLOUT, a->o.timeout_s)) {
				errno = ETIMEDOUT;
				return false;
			}
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void
drop_connection(struct rp_atna *a)
{
	if (a->ssl)
		SSL_free(a->ssl);
	a->ssl = NULL;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

/* The TLS handshake on a fresh connection, the repository's certificate checked
 * against the CA and the host name; blocking, bounded by the socket timeouts. */
static bool
start_tls(struct rp_atna *a, char *why, size_t cap)
{
	int fl = fcntl(a->fd, F_GETFL);
	struct timeval tv = {.tv_sec = (time_t)a->o.timeout_s,
			     .tv_usec = (suseconds_t)((a->o.timeout_s - (double)(time_t)a->o.timeout_s) * 1e6)};
	if (fl < 0 || fcntl(a->fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
	    setsockopt(a->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		snprintf(why, cap, "socket: %s", strerror(errno));
		return false;
	}
	a->ssl = SSL_new(a->ctx);
	if (!a->ssl || SSL_set_fd(a->ssl, a->fd) != 1) {
		snprintf(why, cap, "TLS: out of memory");
		return false;
	}
	struct in6_addr a6;
	struct in_addr a4;
	bool ip = inet_pton(AF_INET, a->host, &a4) == 1 || inet_pton(AF_INET6, a->host, &a6) == 1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(a->ssl);
	if (!(ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, a->host)
		 : X509_VERIFY_PARAM_set1_host(vp, a->host, 0))) {
		snprintf(why, cap, "TLS: cannot check the name %.100s", a->host);
		return false;
	}
	if (!ip)
		SSL_set_tlsext_host_name(a->ssl, a->host);
	ERR_clear_error();
	if (SSL_connect(a->ssl) != 1) {
		long v = SSL_get_verify_result(a->ssl);
		unsigned long e = ERR_peek_last_error();
		snprintf(why, cap, "TLS handshake: %s", v != X509_V_OK ? X509_verify_cert_error_string(v)
							: e ? ERR_reason_error_string(e)
							    : strerror(errno ? errno : ECONNRESET));
		SSL_free(a->ssl);
		a->ssl = NULL;
		return false;
	}
	return true;
}

static bool
send_one(struct rp_atna *a, const struct msg *m, char *why, size_t cap)
{
	if (a->transport == RP_ATNA_UDP) {
		if (a->fd < 0)
			a->fd = socket(a->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (a->fd < 0 || sendto(a->fd, m->p, m->len, 0, (struct sockaddr *)&a->addr,
					a->addr_len) != (ssize_t)m->len) {
			snprintf(why, cap, "send: %s", strerror(errno));
			return false;
		}
		return true;
	}
	/* One write a frame ("LEN SP MSG"): a write that fails then fails whole, and the
	 * frame goes again on a new connection; one reconnect per message, so a message is
	 * lost only when the repository stays away. */
	char *frame = malloc(m->len + 24);
	if (!frame) {
		snprintf(why, cap, "out of memory");
		return false;
	}
	size_t flen = (size_t)snprintf(frame, 24, "%zu ", m->len);
	memcpy(frame + flen, m->p, m->len);
	flen += m->len;
	bool ok = false;
	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		/* A repository that closed an idle connection would take the next write
		 * into the kernel and lose it with the reset that follows: reconnect first. */
		struct pollfd pf = {.fd = a->fd, .events = POLLRDHUP};
		if (a->fd >= 0 && poll(&pf, 1, 0) > 0 &&
		    (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			drop_connection(a);
		if (a->fd < 0 && (a->fd = connect_tcp(a)) < 0) {
			snprintf(why, cap, "connect: %s", strerror(errno));
			break;
		}
		if (a->ctx && !a->ssl && !start_tls(a, why, cap)) {
			drop_connection(a);
			break;
		}
		ok = write_all(a, frame, flen);
		if (!ok) {
			snprintf(why, cap, "write: %s", strerror(errno));
			drop_connection(a);
		}
	}
	free(frame);
	return ok;
}

static void *
sender(void *arg)
{
	struct rp_atna *a = arg;
	/* OpenSSL writes with write(2): a repository gone mid-message raises SIGPIPE in
	 * this thread, which, blocked here, leaves the write failing with EPIPE instead of
	 * killing the process that embeds the library. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->count == 0 && !a->closing)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->count == 0)
			break;
		struct msg m = a->q[a->head];
		a->head = (a->head + 1) % a->o.queue_max;
		a->count--;
		pthread_mutex_unlock(&a->mu);
		char why[160];
		bool ok = send_one(a, &m, why, sizeof(why));
		free(m.p);
		pthread_mutex_lock(&a->mu);
		if (ok) {
			a->stats.sent++;
			continue;
		}
		a->stats.dropped++;
		if (a->closing) {
			/* Nobody waits for a repository that is away at shutdown. */
			for (; a->count; a->count--, a->head = (a->head + 1) % a->o.queue_max) {
				free(a->q[a->head].p);
				a->stats.dropped++;
			}
		}
		note_drops_locked(a, why);
		/* A second before the next try: messages queue meanwhile (or overflow,
		 * counted), rather than each paying for a failed connect. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (!a->closing &&
		       pthread_cond_timedwait(&a->cv, &a->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static int
make_ctx(struct rp_atna *a, struct rp_errbuf *err)
{
	const struct rp_atna_options *o = &a->o;
	if (!o->tls_cert || !o->tls_key || !o->tls_ca)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA over TLS needs a certificate, its key "
			       "and the CA bundle of the repository");
	const char *files[] = {o->tls_cert, o->tls_key, o->tls_ca};
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f)
			return rp__err(err, RP_E_IO, "ATNA TLS %s: %s", files[i], strerror(errno));
		fclose(f);
	}
	a->ctx = SSL_CTX_new(TLS_client_method());
	if (!a->ctx)
		return RP_E_NOMEM;
	/* RFC 5425 with BCP 195: TLS 1.2 or newer. */
	SSL_CTX_set_min_proto_version(a->ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(a->ctx, o->tls_cert) != 1)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA TLS certificate %s: not a PEM "
			       "certificate", o->tls_cert);
	if (SSL_CTX_use_PrivateKey_file(a->ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(a->ctx) != 1)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA TLS key %s: not the unencrypted PEM "
			       "key of %s", o->tls_key, o->tls_cert);
	if (SSL_CTX_load_verify_locations(a->ctx, o->tls_ca, NULL) != 1)
		return rp__err(err, RP_E_INVALID_ARG, "ATNA TLS CA bundle %s: no PEM certificate",
			       o->tls_ca);
	SSL_CTX_set_verify(a->ctx, SSL_VERIFY_PEER, NULL);
	return RP_OK;
}

int
rp_atna_open(const struct rp_atna_options *o, struct rp_atna **ret, struct rp_errbuf *err)
{
	if (!o || !ret || o->struct_size != sizeof(*o))
		return rp__err(err, RP_E_INVALID_ARG, "rp_atna_open: bad options");
	*ret = NULL;
	struct rp_atna *a = calloc(1, sizeof(*a));
	if (!a)
		return RP_E_NOMEM;
	a->o = *o;
	a->fd = -1;
	if (!a->o.queue_max)
		a->o.queue_max = 1024;
	if (!(a->o.timeout_s > 0))
		a->o.timeout_s = 5;
	int s = rp_atna_parse_url(o->url, &a->transport, a->host, sizeof(a->host), &a->port, err);
	if (s != RP_OK) {
		free(a);
		return s;
	}
	char self[256] = "";
	if (!o->source_id && gethostname(self, sizeof(self) - 1) != 0)
		snprintf(self, sizeof(self), "localhost");
	a->url = strdup(o->url);
	a->ae = strdup(o->ae_title && *o->ae_title ? o->ae_title : "RADPIPE");
	a->source = strdup(o->source_id ? o->source_id : self);
	a->q = calloc(a->o.queue_max, sizeof(*a->q));
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = a->transport == RP_ATNA_UDP ? SOCK_DGRAM : SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	int g = -1;
	if (a->url && a->ae && a->source && a->q)
		g = getaddrinfo(a->host, port, &hints, &ai);
	if (g != 0 || !ai) {
		s = !a->url || !a->ae || !a->source || !a->q
			    ? RP_E_NOMEM
			    : rp__err(err, RP_E_NET, "ATNA repository %s: %s", a->host,
				      gai_strerror(g));
		goto fail;
	}
	memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
	a->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (a->transport == RP_ATNA_TLS && (s = make_ctx(a, err)) != RP_OK)
		goto fail;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, sender, a) != 0) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		s = rp__err(err, RP_E_NOMEM, "ATNA: cannot start the sender thread");
		goto fail;
	}
	*ret = a;
	return RP_OK;
fail:
	SSL_CTX_free(a->ctx);
	free(a->q);
	free(a->url);
	free(a->ae);
	free(a->source);
	free(a);
	return s;
}

int
rp_atna_submit(struct rp_atna *a, const struct rp_audit_event *ev)
{
	if (!a || !ev || !ev->event)
		return 0;
	char *p = NULL;
	size_t len = 0;
	int f = format_msg(a, ev, &p, &len);
	if (f == 1)
		return 0;
	pthread_mutex_lock(&a->mu);
	bool ok = f == 0 && a->count < a->o.queue_max && !a->closing;
	if (ok) {
		a->q[(a->head + a->count) % a->o.queue_max] = (struct msg){p, len};
		a->count++;
		a->stats.queued++;
		pthread_cond_signal(&a->cv);
	} else {
		a->stats.dropped++;
		note_drops_locked(a, f != 0 ? "message too long" : "queue full");
		free(p);
	}
	pthread_mutex_unlock(&a->mu);
	return ok;
}

void
rp_atna_get_stats(struct rp_atna *a, struct rp_atna_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	*st = a->stats;
	pthread_mutex_unlock(&a->mu);
}

void
rp_atna_close(struct rp_atna *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->closing = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	/* The sender drains the queue, or drops it at the first failure: a repository that
	 * is away costs one timeout here at most. */
	pthread_join(a->thread, NULL);
	if (a->ssl) {
		/* What the repository sent and we never read (TLS 1.3 session tickets) would
		 * make close() reset the connection, and a reset discards what the repository
		 * has not read yet: close_notify, then read to its end before closing. */
		SSL_shutdown(a->ssl);
		shutdown(a->fd, SHUT_WR);
		char sink[4096];
		double until = mono_now() + a->o.timeout_s;
		while (mono_now() < until && wait_fd(a->fd, POLLIN, until - mono_now()) &&
		       read(a->fd, sink, sizeof(sink)) > 0)
			;
	}
	drop_connection(a);
	SSL_CTX_free(a->ctx);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a->q);
	free(a->url);
	free(a->ae);
	free(a->source);
	free(a);
}
