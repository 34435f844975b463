/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/forward.h - the reading site's forward queue: every instance `radpipe
 * serve` delivered, journaled and sent on into the PACS by C-STORE (dicomnet.h) or
 * DICOMweb STOW-RS (stow.h), retried until the PACS has it. */
#ifndef RADPIPE_FORWARD_H
#define RADPIPE_FORWARD_H

#include "audit.h"
#include "base.h"
#include "dicomnet.h"
#include "stow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Forward queue: what the reading site received, into its PACS */

struct rp_forward_options {
	size_t struct_size;          /* set by rp_forward_options_init() */
	/* The delivery directory the queued paths are relative to; the queue lives in
	 * DIR/.radpipe/forward/, one journal file per instance, written atomically. */
	const char *dir;
	/* C-STORE egress: the PACS (called_ae, host, port, calling_ae, timeout_s, audit). */
	struct rp_store_scu_options scu;
	/* STOW-RS egress instead, when stow.url is set (url, user_password, ca_file,
	 * timeout_s, audit). */
	struct rp_stow_options stow;
	double retry_initial_s;      /* first wait after the PACS was unreachable; default 2 */
	double retry_max_s;          /* the doubling wait's cap; default 300 */
	unsigned batch;              /* instances per association; default 64 */
	rp_log_fn *log;              /* one JSON line per instance forwarded or failed */
	void *log_ctx;
};

RP_API void rp_forward_options_init(struct rp_forward_options *opts);

struct rp_forward;

/* Opens (creating) the queue, re-queues every instance still pending from an earlier
 * run and starts the one worker thread.  opts and its strings must outlive the queue. */
RP_API RP_NODISCARD int rp_forward_create(const struct rp_forward_options *opts,
					  struct rp_forward **ret, struct rp_errbuf *err);
/* Queues the files DIR/paths[i] durably (journaled before it returns).  A path already
 * queued, delivered or failed is not queued again, so a repeated call sends nothing
 * twice.  Any thread. */
RP_API RP_NODISCARD int rp_forward_enqueue(struct rp_forward *fw, const char *const *paths,
					   size_t count, struct rp_errbuf *err);
struct rp_forward_counts {
	uint64_t pending, delivered, failed;
};
RP_API void rp_forward_counts(struct rp_forward *fw, struct rp_forward_counts *c);
/* Stops the worker (an association in progress ends first) and frees the queue; what is
 * pending stays journaled for the next rp_forward_create().  NULL is a no-op. */
RP_API void rp_forward_destroy(struct rp_forward *fw);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_FORWARD_H */
