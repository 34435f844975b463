/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/atna.h - the audit trail sent on to an audit record repository as IHE
 * ATNA messages: each event becomes a DICOM audit message (PS3.15 A.5, XML) in an RFC 5424
 * syslog message over UDP (RFC 5426), TCP with octet-counting framing (RFC 6587) or TLS
 * with the same framing (RFC 5425).
 *
 * Sending never holds up the event it reports: messages wait in a bounded queue for a
 * sender thread, and what does not fit, or cannot be sent, is dropped, counted and
 * logged.  The hash-chained file (audit.h) stays the record that is complete. */
#ifndef RADPIPE_ATNA_H
#define RADPIPE_ATNA_H

#include "audit.h"
#include "base.h"
#include "transport.h"           /* rp_log_fn */

#ifdef __cplusplus
extern "C" {
#endif

enum rp_atna_transport {
	RP_ATNA_UDP = 1,             /* one datagram a message */
	RP_ATNA_TCP = 2,             /* "LEN SP MSG" octet counting, reconnects as needed */
	RP_ATNA_TLS = 3,             /* the same over TLS 1.2+, mutually authenticated */
};

struct rp_atna_options {
	size_t struct_size;          /* set by rp_atna_options_init() */
	/* Where: "udp://HOST:PORT", "tcp://HOST:PORT" or "tls://HOST:PORT" (HOST a name,
	 * an IPv4 address or [IPv6]); the value of the CLIs' --atna flag. */
	const char *url;
	const char *ae_title;        /* ours, named in every message; default "RADPIPE" */
	/* AuditSourceID and the syslog HOSTNAME; default: the machine's host name. */
	const char *source_id;
	unsigned queue_max;          /* messages waiting at most; default 1024 */
	double timeout_s;            /* TCP connect and each write; default 5 */
	rp_log_fn *log;              /* a line when messages are dropped or a send fails */
	void *log_ctx;
	/* tls:// only, PEM: our certificate and key, and the CA bundle the repository's
	 * certificate must chain to; its certificate must also be valid for HOST. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
};

RP_API void rp_atna_options_init(struct rp_atna_options *opts);

/* Splits an --atna value: RP_OK with transport, host (NUL-terminated) and port, or
 * RP_E_INVALID_ARG saying what is wrong with it. */
RP_API RP_NODISCARD int rp_atna_parse_url(const char *url, enum rp_atna_transport *transport,
					  char *host, size_t host_cap, uint16_t *port,
					  struct rp_errbuf *err);

struct rp_atna;

/* Resolves the host and starts the sender thread; it connects when there is something
 * to send.  opts is copied. */
RP_API RP_NODISCARD int rp_atna_open(const struct rp_atna_options *opts, struct rp_atna **ret,
				     struct rp_errbuf *err);
/* Queues the message for one event; never blocks on the network.  1 when queued, 0
 * when it was dropped (queue full, message too long: counted) or the event is no
 * instance transfer (e.g. "torn": nothing to report). */
RP_API int rp_atna_submit(struct rp_atna *atna, const struct rp_audit_event *ev);

struct rp_atna_stats {
	uint64_t queued;             /* messages accepted by rp_atna_submit */
	uint64_t sent;               /* written to the socket whole */
	uint64_t dropped;            /* queue full, or lost to a failed send */
};

RP_API void rp_atna_get_stats(struct rp_atna *atna, struct rp_atna_stats *stats);
/* Sends what is queued for up to timeout_s (the option), then stops the sender. */
RP_API void rp_atna_close(struct rp_atna *atna);

/* From now on every line rp_audit_append writes is also submitted to atna (after the
 * line is durable; the append's status does not depend on it).  NULL stops it.  atna
 * must outlive the audit log or be detached first. */
RP_API void rp_audit_set_atna(struct rp_audit *audit, struct rp_atna *atna);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_ATNA_H */
