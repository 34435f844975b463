/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/gateway.h - the sending site's gateway: a Storage SCP (and optionally
 * a watched drop directory) fills a durable study queue in a spool directory; a sender
 * ships each study, once quiet, to a `radpipe serve` with rp_send(), STAT studies first,
 * retrying with backoff until it is delivered.  docs/GATEWAY.md describes the spool. */
#ifndef RADPIPE_GATEWAY_H
#define RADPIPE_GATEWAY_H

#include "audit.h"
#include "base.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rp_gateway_options {
	size_t struct_size;          /* set by rp_gateway_options_init() */
	const char *spool;           /* required; created when missing */
	/* DICOM listener: AE title and port (DCMTK listens on every address); port 0
	 * means no SCP (a gateway fed by watch_dir alone). */
	const char *ae_title;        /* default "RADPIPE" */
	uint16_t dicom_port;
	const char *allow_aets;      /* comma-separated calling AE titles; NULL: any */
	/* Part 10 files dropped here are taken into the queue once unchanged for
	 * watch_settle_s; other files go to watch_dir/.rejected.  NULL: no watching. */
	const char *watch_dir;
	double watch_settle_s;       /* default 3 */
	double study_quiet_s;        /* a study is ready this long after its last instance;
				      * default 10 */
	/* A STAT study is ready this long after its last instance, when shorter; default 2:
	 * a stroke CT should not wait out the routine quiet time (a later instance of it
	 * still goes, as an addition). */
	double stat_quiet_s;
	double retry_min_s;          /* first retry delay, doubling; default 2 */
	double retry_max_s;          /* cap; default 300 */
	const char *const *stat_rules; /* docs/GATEWAY.md; a study matching one is STAT */
	size_t stat_rule_count;
	/* Where and how studies go: host, port, tls, codec, streams, pool, io_timeout_s.
	 * progress, log and cancel are the gateway's own. */
	struct rp_send_options send;
	struct rp_audit *audit;      /* "received" by the SCP, "delivered" per instance */
	/* JSON lines: arrivals, sends, retries, failures; unlike rp_send's, called from
	 * several threads at once (the SCP's, the watcher's, the sender's). */
	rp_log_fn *log;
	void *log_ctx;
	/* DICOM TLS on the Storage SCP (rp_store_scp_options' tls_*): on when cert and key
	 * are given; callers must then present a certificate chaining to dicom_tls_ca. */
	const char *dicom_tls_cert;
	const char *dicom_tls_key;
	const char *dicom_tls_ca;
	const char *dicom_tls_profile; /* NULL: "bcp195-nd" */
};

RP_API void rp_gateway_options_init(struct rp_gateway_options *opts);

struct rp_gateway;

/* Takes the spool's lock (one gateway per spool: RP_E_IO naming the holder's pid
 * otherwise), rebuilds the queue from it and parses the STAT rules.  opts and what it
 * points to must outlive the gateway. */
RP_API RP_NODISCARD int rp_gateway_create(const struct rp_gateway_options *opts,
					  struct rp_gateway **ret, struct rp_errbuf *err);
/* Runs the SCP, the watcher and the sender until rp_gateway_stop(); RP_OK then, or
 * RP_E_NET when the DICOM port cannot be listened on. */
RP_API RP_NODISCARD int rp_gateway_run(struct rp_gateway *gw, struct rp_errbuf *err);
/* Async-signal-safe: the SCP stops, a send in progress is cancelled (resumable), the
 * queue stays on disk. */
RP_API void rp_gateway_stop(struct rp_gateway *gw);
RP_API void rp_gateway_destroy(struct rp_gateway *gw);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_GATEWAY_H */
