/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/dicomnet.h - DICOM networking of the gateway: a Storage SCP that takes
 * C-STORE from modalities and PACS and writes each instance durably into a queue
 * directory before it answers success (DCMTK's dcmnet underneath). */
#ifndef RADPIPE_DICOMNET_H
#define RADPIPE_DICOMNET_H

#include "audit.h"
#include "base.h"
#include "transport.h"           /* rp_log_fn */

#ifdef __cplusplus
extern "C" {
#endif

struct rp_store_scp_options {
	size_t struct_size;          /* set by rp_store_scp_options_init() */
	const char *ae_title;        /* this node's AE title; default "RADPIPE" */
	/* Listens on every address of the machine (DCMTK 3.6.7 cannot bind one): narrow the
	 * callers with allow_aets and the host firewall. */
	uint16_t port;               /* required: DCMTK cannot report a port it chose */
	/* Queue directory: each instance lands as DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm
	 * (Part 10, the dataset bytes exactly as received), made durable before the success
	 * response; a repeated SOP Instance UID replaces the earlier copy. */
	const char *dir;
	/* Comma-separated calling AE titles admitted; NULL admits any caller. */
	const char *allow_aets;
	unsigned max_associations;   /* at once; default 16 */
	double timeout_s;            /* idle association (DIMSE/ACSE); default 60 */
	uint32_t file_mode;          /* default 0640 */
	struct rp_audit *audit;      /* one "received"/"failed" line per instance; optional */
	rp_log_fn *log;              /* one JSON line per association and failure */
	void *log_ctx;
};

RP_API void rp_store_scp_options_init(struct rp_store_scp_options *opts);

struct rp_store_scp;

/* Validates the options and opens the directory; the port is bound by run.  opts and
 * the strings it points to must outlive the SCP. */
RP_API RP_NODISCARD int rp_store_scp_create(const struct rp_store_scp_options *opts,
					    struct rp_store_scp **ret, struct rp_errbuf *err);
/* Serves associations until rp_store_scp_stop() (returns RP_OK), or RP_E_NET when it
 * cannot listen.  Associations in progress end before it returns. */
RP_API RP_NODISCARD int rp_store_scp_run(struct rp_store_scp *scp, struct rp_errbuf *err);
/* Makes run return within about a second; async-signal-safe. */
RP_API void rp_store_scp_stop(struct rp_store_scp *scp);
RP_API void rp_store_scp_destroy(struct rp_store_scp *scp);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_DICOMNET_H */
