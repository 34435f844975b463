/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/tcp/tcp.c - the TCP backend: sockets with BBR where the kernel has it, and
 * TLS 1.3 with mutual authentication through OpenSSL (the one file that includes
 * <openssl/ssl.h>).  Plain TCP only when the config says insecure. */
#include "transport/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct rp__tls {
	SSL_CTX *ctx;                /* NULL when insecure */
	bool server;
	uint8_t (*fp)[32];           /* allowlisted certificate SHA-256s */
	size_t nfp;
	bool have_ca;                /* with a CA the list narrows trust; without, it grants */
};

struct rp__conn {
	int fd;
	SSL *ssl;
	atomic_bool aborted;
	atomic_llong last_rx_us;     /* when bytes last arrived (rp__now, microseconds) */
	char peer[256];
};

struct rp__listener {
	int fd;
};

static int
ssl_err(struct rp_errbuf *err, int status, const char *what)
{
	char buf[160] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return rp__err(err, status, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
parse_fingerprints(struct rp__tls *t, const char *list, struct rp_errbuf *err)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	t->fp = calloc(n, 32);
	if (!t->fp)
		return RP_E_NOMEM;
	const char *p = list;
	while (*p) {
		uint8_t v[32];
		int nib = 0;
		while (*p && *p != ',') {
			int h = hexval((unsigned char)*p);
			if (h >= 0) {
				if (nib >= 64)
					return rp__err(err, RP_E_INVALID_ARG,
						       "fingerprint longer than 64 hex digits");
				v[nib / 2] = (uint8_t)(nib % 2 ? (v[nib / 2] | h) : (h << 4));
				nib++;
			} else if (*p != ':' && *p != ' ') {
				return rp__err(err, RP_E_INVALID_ARG,
					       "fingerprint has a bad character '%c'", *p);
			}
			p++;
		}
		if (nib != 64)
			return rp__err(err, RP_E_INVALID_ARG,
				       "a fingerprint must be 64 hex digits (SHA-256)");
		memcpy(t->fp[t->nfp++], v, 32);
		if (*p == ',')
			p++;
	}
	return RP_OK;
}

static bool
leaf_listed(const struct rp__tls *t, X509 *cert)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	if (!cert || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return false;
	for (size_t i = 0; i < t->nfp; i++)
		if (memcmp(t->fp[i], md, 32) == 0)
			return true;
	return false;
}

/* The allowlist of fingerprints works two ways.  Without a CA it pins: a leaf whose
 * SHA-256 is listed is accepted although no chain verifies (sites that exchange
 * fingerprints need no common CA).  The listed leaf is then the trust anchor, so what the
 * peer sends above it (its own CA, which OpenSSL adds to the chain when that side loads
 * a CA file) is not judged; the leaf is checked on every call for it, and OpenSSL calls
 * once for each depth of every chain it accepts.  With a CA it narrows: the chain must
 * verify AND the leaf must be listed, so a site can admit three of the CA's many
 * certificates. */
static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct rp__tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (!t)
		return 0;
	bool leaf = X509_STORE_CTX_get_error_depth(x) == 0;
	/* With a CA the chain must verify; pinned (no CA, so the list is not empty:
	 * tcp_tls_create refuses neither), nothing above the leaf is judged. */
	if (t->have_ca && !ok)
		return 0;
	if (leaf && t->nfp && !leaf_listed(t, X509_STORE_CTX_get_current_cert(x))) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (!t->have_ca)
		X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

static void
tcp_tls_destroy(struct rp__tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t->fp);
	free(t);
}

static int
tcp_tls_create(const struct rp_tls_config *cfg, bool server, struct rp__tls **ret,
	       struct rp_errbuf *err)
{
	struct rp__tls *t = calloc(1, sizeof(*t));
	int s;
	if (!t)
		return RP_E_NOMEM;
	t->server = server;
	*ret = t;
	if (cfg->insecure)
		return RP_OK;
	if (!cfg->cert_file || !cfg->key_file) {
		s = rp__err(err, RP_E_INVALID_ARG,
			    "TLS needs a certificate and key (or --insecure for plain TCP)");
		goto fail;
	}
	if (!cfg->ca_file && !cfg->allow_fingerprints) {
		s = rp__err(err, RP_E_INVALID_ARG,
			    "TLS needs a CA file or a fingerprint allowlist to check the peer");
		goto fail;
	}
	if (cfg->allow_fingerprints && (s = parse_fingerprints(t, cfg->allow_fingerprints, err)) < 0)
		goto fail;
	t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		s = ssl_err(err, RP_E_NOMEM, "SSL_CTX_new");
		goto fail;
	}
	SSL_CTX_set_app_data(t->ctx, t);
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file) != 1) {
		s = ssl_err(err, RP_E_AUTH, "cannot load certificate");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1) {
		s = ssl_err(err, RP_E_AUTH, "cannot load the private key or it does not match");
		goto fail;
	}
	if (cfg->ca_file && SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1) {
		s = ssl_err(err, RP_E_AUTH, "cannot load CA file");
		goto fail;
	}
	t->have_ca = cfg->ca_file != NULL;
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	if (server)
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	return RP_OK;
fail:
	tcp_tls_destroy(t);
	*ret = NULL;
	return s;
}

static void
set_timeout_fd(int fd, double timeout_s)
{
	struct timeval tv = {.tv_sec = (time_t)timeout_s,
			     .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void
tcp_set_timeout(struct rp__conn *c, double timeout_s)
{
	set_timeout_fd(c->fd, timeout_s);
}

static void
tune_socket(int fd)
{
	/* BBR keeps a long lossy link full where CUBIC backs off on every random loss; the
	 * kernel refuses when the module is absent, and then we keep its default. */
	static const char bbr[] = "bbr";
	(void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, bbr, sizeof(bbr) - 1);
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void
addr_peer(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, cap, "%s:%s", host, port);
}

static struct rp__conn *
conn_new(int fd)
{
	struct rp__conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	atomic_init(&c->aborted, false);
	atomic_init(&c->last_rx_us, (long long)(rp__now() * 1e6));
	addr_peer(fd, c->peer, sizeof(c->peer));
	return c;
}

/* OpenSSL's socket BIO writes with write(2): a peer that is gone (or a connection we
 * shut down to abort it) then raises SIGPIPE, which kills a process that embeds the
 * library and never ignored the signal.  This BIO is the socket BIO with its write done
 * by send(MSG_NOSIGNAL), so the failure comes back as EPIPE instead. */
static BIO_METHOD *nosigpipe_method;
static pthread_once_t nosigpipe_once = PTHREAD_ONCE_INIT;

static int
nosigpipe_write(BIO *b, const char *data, int len)
{
	int fd = -1;
	BIO_get_fd(b, &fd);
	BIO_clear_retry_flags(b);
	ssize_t r = send(fd, data, (size_t)len, MSG_NOSIGNAL);
	if (r <= 0 && BIO_sock_should_retry((int)r))
		BIO_set_retry_write(b);
	return (int)r;
}

static void
nosigpipe_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
					     BIO_TYPE_DESCRIPTOR, "radpipe socket");
	if (!m)
		return;
	if (!BIO_meth_set_write(m, nosigpipe_write) ||
	    !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
	    !BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return;
	}
	nosigpipe_method = m;
}

/* SSL_set_fd() with the BIO above; 1 on success, as SSL_set_fd. */
static int
ssl_set_socket(SSL *ssl, int fd)
{
	pthread_once(&nosigpipe_once, nosigpipe_init);
	if (!nosigpipe_method)
		return 0;
	BIO *b = BIO_new(nosigpipe_method);
	if (!b)
		return 0;
	BIO_set_fd(b, fd, BIO_NOCLOSE);
	SSL_set_bio(ssl, b, b);
	return 1;
}

static void
tcp_close(struct rp__conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		if (!atomic_load(&c->aborted))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	free(c);
}

static void
describe_peer_cert(struct rp__conn *c)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	if (!cert)
		return;
	char cn[64] = "?", hex[65];
	uint8_t md[32];
	unsigned mdlen = 0;
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	if (!X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		memset(md, 0, sizeof(md));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	size_t n = strlen(c->peer);
	snprintf(c->peer + n, sizeof(c->peer) - n, " CN=%s sha256=%s", cn, hex);
}

static int
tcp_handshake(struct rp__conn *c, struct rp__tls *t, double timeout_s, struct rp_errbuf *err)
{
	if (!t->ctx)
		return RP_OK;
	set_timeout_fd(c->fd, timeout_s);
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl || ssl_set_socket(c->ssl, c->fd) != 1)
		return ssl_err(err, RP_E_NOMEM, "SSL_new");
	int r = t->server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
	if (r != 1) {
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK) {
			ERR_clear_error();
			return rp__err(err, RP_E_AUTH, "TLS handshake: peer certificate rejected: %s",
				       X509_verify_cert_error_string(v));
		}
		return ssl_err(err, RP_E_AUTH, "TLS handshake failed");
	}
	describe_peer_cert(c);
	return RP_OK;
}

static int
connect_fd(const char *host, uint16_t port, double timeout_s, int *fd_ret, struct rp_errbuf *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int g = getaddrinfo(host, ps, &hints, &res);
	if (g != 0)
		return rp__err(err, RP_E_NET, "cannot resolve %s: %s", host, gai_strerror(g));
	int s = RP_E_NET, saved = ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		tune_socket(fd);
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			r = poll(&p, 1, (int)(timeout_s * 1000));
			if (r == 1) {
				int e = 0;
				socklen_t el = sizeof(e);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
				r = e ? -1 : 0;
				errno = e;
			} else {
				errno = r == 0 ? ETIMEDOUT : errno;
				r = -1;
			}
		}
		if (r == 0) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			*fd_ret = fd;
			s = RP_OK;
			break;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (s < 0)
		return rp__err(err, RP_E_NET, "cannot connect to %s:%u: %s", host, port,
			       strerror(saved));
	return RP_OK;
}

static int
tcp_open(struct rp__tls *t, const char *host, uint16_t port, double timeout_s,
	 struct rp__conn **ret, struct rp_errbuf *err)
{
	int fd = -1;
	RP_TRY(connect_fd(host, port, timeout_s, &fd, err));
	struct rp__conn *c = conn_new(fd);
	if (!c) {
		close(fd);
		return RP_E_NOMEM;
	}
	if (t->ctx) {
		struct in6_addr a6;
		X509_VERIFY_PARAM *vp;
		set_timeout_fd(fd, timeout_s);
		c->ssl = SSL_new(t->ctx);
		if (!c->ssl || ssl_set_socket(c->ssl, fd) != 1) {
			tcp_close(c);
			return ssl_err(err, RP_E_NOMEM, "SSL_new");
		}
		/* Check the server's name or address against its certificate. */
		vp = SSL_get0_param(c->ssl);
		if (inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
		if (SSL_connect(c->ssl) != 1) {
			long v = SSL_get_verify_result(c->ssl);
			int s;
			if (v != X509_V_OK) {
				ERR_clear_error();
				s = rp__err(err, RP_E_AUTH,
					    "TLS handshake with %s:%u: server certificate rejected: %s",
					    host, port, X509_verify_cert_error_string(v));
			} else {
				s = ssl_err(err, RP_E_AUTH, "TLS handshake failed (the server may "
							    "not accept this client's certificate)");
			}
			atomic_store(&c->aborted, true);
			tcp_close(c);
			return s;
		}
		describe_peer_cert(c);
	}
	set_timeout_fd(fd, timeout_s);
	*ret = c;
	return RP_OK;
}

static int
tcp_listen(const char *host, uint16_t port, struct rp__listener **ret, uint16_t *bound,
	   struct rp_errbuf *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int g = getaddrinfo(host, ps, &hints, &res);
	if (g != 0)
		return rp__err(err, RP_E_NET, "cannot resolve %s: %s", host, gai_strerror(g));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return rp__err(err, RP_E_NET, "cannot listen on %s:%u: %s", host, port,
			       strerror(e));
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	struct rp__listener *l = malloc(sizeof(*l));
	if (!l) {
		close(fd);
		return RP_E_NOMEM;
	}
	l->fd = fd;
	*ret = l;
	return RP_OK;
}

static int
tcp_accept(struct rp__listener *l, double timeout_s, struct rp__conn **ret,
	   struct rp_errbuf *err)
{
	struct pollfd p = {.fd = l->fd, .events = POLLIN};
	int r = poll(&p, 1, (int)(timeout_s * 1000));
	if (r == 0 || (r < 0 && errno == EINTR))
		return RP_E_TIMEOUT;
	if (r < 0)
		return rp__err(err, RP_E_NET, "poll: %s", strerror(errno));
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE
			       ? rp__err(err, RP_E_LIMIT, "accept: %s", strerror(errno))
			       : RP_E_TIMEOUT;
	tune_socket(fd);
	struct rp__conn *c = conn_new(fd);
	if (!c) {
		close(fd);
		return RP_E_NOMEM;
	}
	*ret = c;
	return RP_OK;
}

static int
io_error(struct rp__conn *c, const char *what, int e, struct rp_errbuf *err)
{
	if (atomic_load(&c->aborted))
		return rp__err(err, RP_E_CANCELLED, "%s %s: connection aborted", what, c->peer);
	if (e == EAGAIN || e == EWOULDBLOCK)
		return rp__err(err, RP_E_TIMEOUT, "%s %s: timed out", what, c->peer);
	if (e == 0)
		return rp__err(err, RP_E_CLOSED, "%s %s: connection closed by peer", what, c->peer);
	return rp__err(err, RP_E_NET, "%s %s: %s", what, c->peer, strerror(e));
}

static int
tcp_send(struct rp__conn *c, const void *data, size_t size, struct rp_errbuf *err)
{
	const uint8_t *p = data;
	while (size) {
		size_t n = 0;
		if (c->ssl) {
			errno = 0;
			if (SSL_write_ex(c->ssl, p, size, &n) != 1) {
				int e = errno;
				ERR_clear_error();
				return io_error(c, "send to", e ? e : EPIPE, err);
			}
		} else {
			ssize_t r = send(c->fd, p, size, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return io_error(c, "send to", errno, err);
			}
			n = (size_t)r;
		}
		p += n;
		size -= n;
	}
	return RP_OK;
}

static int
tcp_recv(struct rp__conn *c, void *data, size_t size, struct rp_errbuf *err)
{
	uint8_t *p = data;
	while (size) {
		size_t n = 0;
		if (c->ssl) {
			errno = 0;
			int r = SSL_read_ex(c->ssl, p, size, &n);
			if (r != 1) {
				int code = SSL_get_error(c->ssl, 0);
				int e = errno;
				ERR_clear_error();
				if (code == SSL_ERROR_ZERO_RETURN)
					e = 0;
				else if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
					e = EAGAIN;
				else if (code == SSL_ERROR_SSL)
					e = EPROTO;
				return io_error(c, "receive from", e, err);
			}
		} else {
			ssize_t r = recv(c->fd, p, size, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return io_error(c, "receive from", r == 0 ? 0 : errno, err);
			n = (size_t)r;
		}
		atomic_store(&c->last_rx_us, (long long)(rp__now() * 1e6));
		p += n;
		size -= n;
	}
	return RP_OK;
}

static double
tcp_rx_idle_s(const struct rp__conn *c)
{
	return rp__now() - (double)atomic_load(&((struct rp__conn *)c)->last_rx_us) / 1e6;
}

static void
tcp_abort(struct rp__conn *c)
{
	atomic_store(&c->aborted, true);
	shutdown(c->fd, SHUT_RDWR);
}

/* SO_LINGER 0, then a disconnect (connect() to AF_UNSPEC): Linux sends the RST at once
 * and keeps the fd open, so the close() that comes later never meets a reused number. */
static void
tcp_reset(struct rp__conn *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct sockaddr sa = {.sa_family = AF_UNSPEC};
	atomic_store(&c->aborted, true);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(c->fd, &sa, sizeof(sa)) < 0)
		shutdown(c->fd, SHUT_RDWR);
}

static void
tcp_close_listener(struct rp__listener *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l);
}

static const char *
tcp_peer(const struct rp__conn *c)
{
	return c->peer;
}

const struct rp__transport_ops rp__tcp_ops = {
	.size = sizeof(struct rp__transport_ops),
	.name = "tcp",
	.tls_create = tcp_tls_create,
	.tls_destroy = tcp_tls_destroy,
	.open = tcp_open,
	.listen = tcp_listen,
	.accept = tcp_accept,
	.handshake = tcp_handshake,
	.send = tcp_send,
	.recv = tcp_recv,
	.abort = tcp_abort,
	.reset = tcp_reset,
	.close = tcp_close,
	.close_listener = tcp_close_listener,
	.peer = tcp_peer,
	.set_timeout = tcp_set_timeout,
	.rx_idle_s = tcp_rx_idle_s,
};
