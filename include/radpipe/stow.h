/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/stow.h - delivering instances into a PACS by DICOMweb STOW-RS (PS3.18
 * 10.5) over HTTP or HTTPS: the same contract as rp_store_scu_send() (dicomnet.h), so
 * that a forward queue can deliver by either. */
#ifndef RADPIPE_STOW_H
#define RADPIPE_STOW_H

#include "audit.h"
#include "base.h"
#include "dicomnet.h"            /* struct rp_store_result */
#include "transport.h"           /* rp_log_fn */

#ifdef __cplusplus
extern "C" {
#endif

struct rp_stow_options {
	size_t struct_size;          /* set by rp_stow_options_init() */
	/* The DICOMweb base, e.g. "http://127.0.0.1:8042/dicom-web"; instances are POSTed
	 * to url + "/studies".  http:// or https:// only; redirects are not followed. */
	const char *url;
	/* "user:password" for HTTP basic authentication, or NULL.  Sent in the clear over
	 * http://: use https:// across any network that is not trusted. */
	const char *user_password;
	/* https://: the CA bundle (PEM) the server's certificate must chain to; default the
	 * system's.  The certificate must also be valid for the host name of url. */
	const char *ca_file;
	/* Seconds for the connection to be made, and that a request may go without moving
	 * a byte (either way, the server's processing included; libcurl judges the rate
	 * over its last few seconds, so the request ends about 5 s later); default 60. */
	double timeout_s;
	/* Instances are packed into one request up to this many bytes of files (an instance
	 * larger than that goes alone); default 64 MiB. */
	size_t max_batch_bytes;
	struct rp_audit *audit;      /* one "delivered"/"failed" line per instance; optional */
	rp_log_fn *log;
	void *log_ctx;
};

RP_API void rp_stow_options_init(struct rp_stow_options *opts);

/* Sends the Part 10 files paths[0..count), byte for byte, in multipart/related requests
 * and reads the server's Store Instances Response.  results[i] says what became of
 * paths[i]: status RP_OK when the server lists it as stored (ReferencedSOPSequence, a
 * warning included); dimse_status the FailureReason (0008,1197) the server gave it,
 * otherwise the HTTP status, 0xFFFF when no answer came; decoded always 0.  A file that
 * is not a Part 10 instance with a SOP Instance UID is RP_E_CORRUPT and not sent.
 * Returns RP_OK when every instance was stored; RP_E_NET when the server could not be
 * reached, the connection failed or timed out, or the server answered 5xx, 408 or 429
 * (instances without an answer are then RP_E_NET: worth sending again; the requests
 * after a failed one are not tried); otherwise the status of the first instance that
 * failed (RP_E_AUTH for 401/403, RP_E_PROTOCOL for a refused instance or an answer that
 * cannot be read, ...), with the reason in its message and in err. */
RP_API RP_NODISCARD int rp_stow_send(const struct rp_stow_options *opts,
				     const char *const *paths, size_t count,
				     struct rp_store_result *results, struct rp_errbuf *err);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_STOW_H */
