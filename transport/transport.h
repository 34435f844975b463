/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/transport.h - the backend ops table (after libfabric's provider ops) that
 * send.c and serve.c talk to, and the frame I/O helpers built on it.  TCP (with or
 * without TLS) lives in transport/tcp/; a libfabric backend slots in beside it. */
#ifndef RP_TRANSPORT_TRANSPORT_H
#define RP_TRANSPORT_TRANSPORT_H

#include "common/internal.h"
#include "transport/frame.h"
#include <radpipe/transport.h>

#include <time.h>

struct rp__conn;
struct rp__listener;
struct rp__tls;                      /* per-side security context, backend-owned */

struct rp__transport_ops {
	size_t size;                 /* sizeof(struct rp__transport_ops) */
	const char *name;            /* "tcp" */
	/* Security context for a client or server side from the public config. */
	int (*tls_create)(const struct rp_tls_config *cfg, bool server, struct rp__tls **ret,
			  struct rp_errbuf *err);
	void (*tls_destroy)(struct rp__tls *tls);
	/* Connects and authenticates; host is a name or address. */
	int (*open)(struct rp__tls *tls, const char *host, uint16_t port, double timeout_s,
		    struct rp__conn **ret, struct rp_errbuf *err);
	int (*listen)(const char *host, uint16_t port, struct rp__listener **ret,
		      uint16_t *bound_port, struct rp_errbuf *err);
	/* Waits up to timeout_s for a connection (RP_E_TIMEOUT when none came); returns it
	 * unauthenticated: call handshake() on the connection's own thread. */
	int (*accept)(struct rp__listener *l, double timeout_s, struct rp__conn **ret,
		      struct rp_errbuf *err);
	int (*handshake)(struct rp__conn *c, struct rp__tls *tls, double timeout_s,
			 struct rp_errbuf *err);
	/* Writes / reads exactly size bytes.  RP_E_NET when the peer went away,
	 * RP_E_TIMEOUT after the connection's I/O timeout. */
	int (*send)(struct rp__conn *c, const void *data, size_t size, struct rp_errbuf *err);
	int (*recv)(struct rp__conn *c, void *data, size_t size, struct rp_errbuf *err);
	/* Makes blocked and future send/recv on c fail; safe from another thread. */
	void (*abort)(struct rp__conn *c);
	/* As abort, but the peer sees a reset (TCP RST) rather than an orderly close, as
	 * when a host crashes or a middlebox kills the flow.  NULL when the backend cannot
	 * (the fault-injecting test backend then aborts). */
	void (*reset)(struct rp__conn *c);
	void (*close)(struct rp__conn *c);
	void (*close_listener)(struct rp__listener *l);
	/* "127.0.0.1:5000" or "CN=site-a sha256=ab12..": who the peer is, for logs. */
	const char *(*peer)(const struct rp__conn *c);
	/* Sets the I/O timeout of later send/recv calls. */
	void (*set_timeout)(struct rp__conn *c, double timeout_s);
	/* Seconds since bytes last arrived on c, also inside a frame still being read;
	 * safe from another thread.  NULL when the backend cannot tell. */
	double (*rx_idle_s)(const struct rp__conn *c);
};

extern const struct rp__transport_ops rp__tcp_ops;
/* The backend for a config: TCP, or libfabric when cfg->fabric is set (transport/ofi/);
 * the override instead while one is set. */
const struct rp__transport_ops *rp__transport_for(const struct rp_tls_config *cfg);

/* For tests only (never reachable from the public API or the CLI): makes
 * rp__transport_for() return ops for every later sender and server in this process, so
 * an in-process test can put the fault-injecting backend (transport/fault/) under both
 * sides.  NULL restores the normal choice.  Set it before creating senders/servers. */
void rp__transport_set_override(const struct rp__transport_ops *ops);
/* The backend a config asks for, ignoring the override (transport/ofi/). */
const struct rp__transport_ops *rp__transport_backend_for(const struct rp_tls_config *cfg);

/* Sends one frame (header + payload). */
int rp__send_frame(const struct rp__transport_ops *ops, struct rp__conn *c,
		   enum rp__frame_type type, const void *payload, size_t len,
		   struct rp_errbuf *err);
/* Frame header + chunk header of a CHUNK frame, CRC included (it covers the data). */
#define RP__CHUNK_HEAD_SIZE (RP__FRAME_HDR_SIZE + RP__CHUNK_HDR_SIZE)
void rp__chunk_head_encode(uint8_t head[RP__CHUNK_HEAD_SIZE], const struct rp__chunk *ch,
			   const uint8_t *data);
/* Sends a CHUNK frame without copying the data. */
int rp__send_chunk(const struct rp__transport_ops *ops, struct rp__conn *c,
		   const struct rp__chunk *ch, const uint8_t *data, struct rp_errbuf *err);
/* Reads one frame into *buf (grown as needed, payload at most max_len).  Checks the
 * header; *crc_ok tells whether the CRC matched (the caller decides what a mismatch
 * means: FORMAT.md section 2). */
int rp__recv_frame(const struct rp__transport_ops *ops, struct rp__conn *c,
		   struct rp__frame_hdr *h, struct rp__wbuf *buf, uint32_t max_len,
		   bool *crc_ok, struct rp_errbuf *err);

/* JSON string escaping for log lines: appends "..." to b. */
void rp__json_str(struct rp__wbuf *b, const char *s);
/* The start of a log line: {"ts":<epoch seconds, ms>,"event":"<event>" (no closing brace). */
void rp__log_begin(struct rp__wbuf *b, const char *event);
/* Appends ,"<name>":"<value, escaped>" when value is not NULL. */
void rp__log_field(struct rp__wbuf *b, const char *name, const char *value);

/* Seconds on a monotonic clock. */
double rp__now(void);
/* The CLOCK_REALTIME instant `seconds` from now, as pthread_cond_timedwait() takes it. */
struct timespec rp__timespec_in(double seconds);

#endif /* RP_TRANSPORT_TRANSPORT_H */
