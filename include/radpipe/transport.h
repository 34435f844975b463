/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/transport.h - moving a study between sites: rp_send() at the scanning
 * site, rp_server_*() at the reading site, over N parallel TLS 1.3 connections with
 * Reed-Solomon parity, frames compressed in flight, resume and atomic delivery.  The wire
 * format is docs/FORMAT.md. */
#ifndef RADPIPE_TRANSPORT_H
#define RADPIPE_TRANSPORT_H

#include "base.h"
#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rp_pool;

/* TLS settings of one side.  Both sides present a certificate (mutual authentication).
 * allow_fingerprints lists certificate SHA-256s (64 hex digits, ':' allowed, comma
 * separated).  With ca_file alone a peer is accepted when its chain verifies; with
 * allow_fingerprints alone, when its certificate is listed (pinning, no CA needed); with
 * both, only when its chain verifies and its certificate is listed (narrowing: a few of
 * the CA's sites).  insecure = 1 turns TLS off entirely (plain TCP): refused by
 * rp_server_create() unless it listens on a loopback address. */
struct rp_tls_config {
	const char *cert_file;       /* PEM certificate (chain) of this side */
	const char *key_file;        /* PEM private key */
	const char *ca_file;         /* PEM CA bundle that peers must chain to */
	const char *allow_fingerprints;
	uint8_t insecure;
	/* Non-NULL: chunk data over libfabric with this provider ("tcp;ofi_rxm", "shm",
	 * "verbs;ofi_rxm", "efa"), authentication still over this TLS connection
	 * (docs/LIBFABRIC.md).  Fabric data is unencrypted: trusted_fabric = 1 is required. */
	const char *fabric;
	uint8_t trusted_fabric;
	/* libfabric tuning, 0 = default.  ofi_window: messages in flight each way per
	 * connection, 1..256 (default 16); ofi_seg: bytes per fabric message, 4 KiB..64 MiB
	 * (default 256 KiB); each connection registers 2 x window x seg bytes (8 MiB by
	 * default).  ofi_no_rma = 1: tagged sends even where the provider offers RMA writes
	 * (FI_RMA), which are used by default when both sides' providers do. */
	uint32_t ofi_window;
	uint32_t ofi_seg;
	uint8_t ofi_no_rma;
};

/* Receives one JSON object (no trailing newline) per event; called from any of the
 * library's threads, never from two at once. */
typedef void rp_log_fn(void *ctx, const char *json_line);

/* Progress of a send, called from the thread that called rp_send(). */
struct rp_send_progress {
	uint64_t objects_total, objects_encoded;
	uint64_t original_total;     /* bytes of all input files */
	uint64_t original_done;      /* original bytes whose in-flight form was queued */
	uint64_t stream_bytes;       /* in-flight bytes produced so far */
	uint64_t wire_bytes;         /* chunk bytes written to sockets (data + parity) */
	double elapsed_s;
	uint64_t objects_regenerated; /* objects encoded again to answer the receiver's NEED */
};
typedef void rp_send_progress_fn(void *ctx, const struct rp_send_progress *p);

struct rp_send_options {
	size_t struct_size;          /* set by rp_send_options_init() */
	const char *host;            /* receiver address (name or IP) */
	uint16_t port;
	unsigned streams;            /* parallel connections; default 8 (see rp_send) */
	enum rp_codec codec;         /* frames in flight; RP_CODEC_NATIVE sends files as is */
	uint32_t chunk_size;         /* 4 KiB .. 64 MiB; 0 (default): from the study's size,
				      * 64 KiB .. 4 MiB (about 8 groups or more) */
	/* FEC data + parity chunks per group.  fec_k 0 (default): from the stream count,
	 * m = fec_m or 2 and k = m x (streams - 1), so that one connection lost at any
	 * moment is always rebuilt from parity with nothing resent (parity is 1/streams of
	 * the wire: 12.5% with 8 streams); below 4 streams k = 10 x m.  fec_k set: both as
	 * given (fec_m 0: no parity). */
	uint8_t fec_k, fec_m;
	struct rp_tls_config tls;
	struct rp_pool *pool;        /* borrowed; encodes objects; NULL: the calling thread */
	double io_timeout_s;         /* a connection idle this long is dead; default 60 */
	rp_send_progress_fn *progress; /* optional, at most ~10 times a second */
	void *progress_ctx;
	rp_log_fn *log;              /* optional */
	void *log_ctx;
	/* Optional: asked whether to stop (nonzero: stop), first by the calling thread at
	 * the start of the call, then about ten times a second by a thread of the library
	 * until the call returns, never from two threads at once (flip what it reads
	 * atomically); its answer is checked before each object and chunk is queued and
	 * before each connection is used.  On a stop rp_send() resets its connections (what
	 * their socket buffers held is dropped, not sent: the link is free at once),
	 * joins its threads and returns RP_E_CANCELLED ("cancelled ..." in err), promptly
	 * (within a few tenths of a second on a busy link; a connection still in its TCP/TLS
	 * handshake finishes that first).  Nothing is delivered and the session stays
	 * resumable: the same call later resumes, skipping the chunks the receiver holds.  A
	 * stop asked for after the last chunk left may come too late to stop the delivery:
	 * the call returns RP_OK if the receiver's COMPLETE came first, else RP_E_CANCELLED,
	 * and then the rerun reports already_delivered. */
	int (*cancel)(void *ctx);
	void *cancel_ctx;
	/* Cap on the rate of the whole send, all connections together, in Mbit/s (10^6 bit
	 * per second); 0 (default): none.  1 .. 1,000,000.  Counts the chunk frames (data
	 * and parity, headers included) and what is sent again on request; TLS records and
	 * TCP/IP headers come on top, a few per cent.  Paced by one token bucket that the
	 * connection threads draw from before each 64 KiB slice, without credit for idle
	 * time, so the send never goes faster than the cap over any stretch longer than a
	 * few slices. */
	double max_rate_mbps;
	/* Bytes of input files being read and encoded ahead of the wire at once: objects are
	 * taken in order while their sizes fit (one larger than the budget still goes,
	 * alone).  What a framed object holds until it is queued is its encoded frames, at
	 * most its size; a verbatim one is read as it is cut into chunks.  0: 512 MiB. */
	uint64_t memory_budget;
};

/* Defaults as documented above; codec JPEG-LS when this build encodes it, else native. */
RP_API void rp_send_options_init(struct rp_send_options *opts);

/* What `-c auto` sends with until the codec is chosen per link as it measures: HTJ2K
 * when this build encodes it, else JPEG-LS, else native.  Our HTJ2K coder encodes CT 5-20x
 * faster per core than CharLS's JPEG-LS for about 5% less ratio, so on few cores it fills
 * a WAN link that JPEG-LS leaves part idle (and the receiver decodes it faster too). */
RP_API enum rp_codec rp_send_codec_auto(void);

/* 1 when rp_send() takes `codec` for frames in flight: native, or a lossless frame codec
 * this build encodes.  Deflate (a whole-dataset syntax that frames nothing) and lossy
 * JPEG (the receiver checks every pixel) are refused. */
RP_API int rp_send_codec_ok(enum rp_codec codec);

struct rp_send_report {
	uint64_t objects;            /* objects in the session */
	uint64_t objects_framed;     /* objects whose frames travelled encoded */
	uint64_t original_bytes;     /* sum of the input files */
	uint64_t stream_bytes;       /* in-flight form of all objects (FORMAT.md section 5) */
	uint64_t wire_bytes;         /* chunk payload bytes sent this run (data + parity) */
	uint64_t parity_bytes;       /* of which parity */
	uint64_t skipped_bytes;      /* chunk bytes the receiver already held (resume) */
	uint64_t resent_bytes;       /* chunk bytes sent again because the receiver asked */
	uint64_t chunks_repaired;    /* chunks the receiver rebuilt from parity */
	uint64_t crc_errors;         /* chunks the receiver dropped for a CRC mismatch */
	uint64_t streams_lost;       /* connections that failed during the run */
	uint8_t resumed;             /* the receiver held part of this session already */
	uint8_t already_delivered;   /* ... or all of it */
	uint8_t session_id[16];
	uint32_t chunk_size;         /* the chunk size used */
	double wall_s;               /* from connect to COMPLETE */
	uint8_t fec_k, fec_m;        /* the FEC geometry used */
};

/* Sends `count` files: paths[i] is read, names[i] is the relative path the receiver
 * delivers it under (FORMAT.md section 3 rules).  Returns RP_OK only once the receiver
 * has verified every object and made it durable; otherwise an RP_E_* code with the cause
 * in err (a receiver's ERROR frame is passed through: RP_E_NOSPACE, RP_E_LIMIT, ...).
 * Rerunning the same call after a failure resumes the session.  Creates `streams`
 * threads for the duration of the call.  Default 8 streams: on a long fat link one TCP
 * stream's window recovers slowly after a loss; eight recover in parallel and fill a
 * 200 Mbit/s, 100 ms link at 1% loss (measurements in the issue). */
RP_API RP_NODISCARD int rp_send(const struct rp_send_options *opts, const char *const *paths,
				const char *const *names, size_t count,
				struct rp_send_report *report, struct rp_errbuf *err);

enum rp_deliver {
	RP_DELIVER_ORIGINAL = 0,     /* the original files, byte for byte */
	RP_DELIVER_COMPRESSED = 1    /* encapsulated DICOM in the codec's syntax */
};

struct rp_serve_options {
	size_t struct_size;          /* set by rp_serve_options_init() */
	const char *dir;             /* delivery directory; must exist */
	const char *host;            /* listen address; default "127.0.0.1" */
	uint16_t port;               /* 0: any free port (rp_server_port) */
	struct rp_tls_config tls;
	enum rp_deliver deliver;
	/* Mode of delivered files, default 0640 (patient data: owner and group only);
	 * directories get the same plus search wherever read is allowed (0750).  Must
	 * include owner read and write (0600). */
	uint32_t file_mode;
	uint32_t max_objects;        /* per session; default 1,000,000 */
	uint64_t max_object_size;    /* default 64 GiB */
	uint64_t max_session_size;   /* original bytes per session; default 4 TiB */
	unsigned max_connections;    /* authenticated at once; default 256 (peers that have
				      * not authenticated yet have a pool of their own) */
	/* A connection on which no frame arrives this long is dropped; default 60, at
	 * least 10 (senders send KEEPALIVE every 5 s while they have nothing to carry). */
	double io_timeout_s;
	/* Borrowed; decodes the frames of a framed object in rounds on every worker.  NULL
	 * (default): the connection's thread decodes them alone. */
	struct rp_pool *pool;
	/* Spools of sessions nobody touched for this long (a sender that died, gave up,
	 * failed or was refused) are removed, at start and then periodically; a sender
	 * that reruns within it resumes.  Default 7 days; 0 keeps them forever. */
	double spool_retention_s;
	rp_log_fn *log;              /* one JSON line per accepted/rejected session/connection */
	void *log_ctx;
	/* Optional: called once a session's files are durable in dir, from a connection
	 * thread, with the session id (32 hex digits) and the relative paths of the files
	 * it newly delivered (not those dir already held with identical bytes).  Called
	 * before the session is journaled delivered, so after a crash in between the retry
	 * calls it again with the same paths: act on each path idempotently.  A non-zero
	 * return fails the session (the sender retries). */
	int (*delivered)(void *ctx, const char *session, const char *const *paths,
			 size_t count);
	void *delivered_ctx;
};

RP_API void rp_serve_options_init(struct rp_serve_options *opts);

/* A receiver, driven as libuv drives a loop: create (validates the options, opens the
 * directory, listens), run (serves until stopped), stop (from any thread or a signal
 * handler), destroy (after run returned: ends every connection and frees everything). */
struct rp_server;

/* Listens on opts->host:opts->port; opts and the strings it points to must outlive the
 * server.  RP_E_* when the configuration is invalid or listening fails. */
RP_API RP_NODISCARD int rp_server_create(const struct rp_serve_options *opts,
					 struct rp_server **ret, struct rp_errbuf *err);
/* The port actually bound (useful with opts->port == 0). */
RP_API uint16_t rp_server_port(const struct rp_server *srv);
/* Serves sessions until rp_server_stop().  A failing or hostile peer never stops the
 * server; returns RP_OK after a stop, RP_E_* only when the server cannot go on. */
RP_API RP_NODISCARD int rp_server_run(struct rp_server *srv, struct rp_errbuf *err);
/* Makes rp_server_run return soon; async-signal-safe, idempotent. */
RP_API void rp_server_stop(struct rp_server *srv);
/* Ends the remaining connections, waits for their threads and frees the server.  NULL
 * is a no-op. */
RP_API void rp_server_destroy(struct rp_server *srv);

/* Test PKI: with ca_dir == NULL writes a self-signed CA (dir/ca.pem, dir/ca.key);
 * otherwise writes dir/<name>.pem and dir/<name>.key signed by ca_dir's CA, valid for
 * the DNS name `name`, "localhost" and 127.0.0.1.  EC P-256, 825 days. */
RP_API RP_NODISCARD int rp_tls_keygen(const char *dir, const char *name, const char *ca_dir,
				      struct rp_errbuf *err);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_TRANSPORT_H */
