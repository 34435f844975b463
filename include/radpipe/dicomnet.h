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

/* C-STORE request priorities (PS3.7 9.1.1.1), as the request carries them. */
enum rp_dimse_priority {
	RP_DIMSE_PRIORITY_MEDIUM = 0,
	RP_DIMSE_PRIORITY_HIGH = 1,
	RP_DIMSE_PRIORITY_LOW = 2
};

/* One instance the SCP has just made durable. */
struct rp_store_scp_instance {
	const char *study_uid;
	const char *sop_uid;
	const char *sop_class_uid;
	const char *path;            /* DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm */
	const char *calling_ae;
	const char *modality;        /* (0008,0060), "" when absent */
	const char *study_description; /* (0008,1030), "" when absent */
	enum rp_dimse_priority priority;
	uint64_t size;               /* bytes of the file */
};

/* Called from the association's thread once the instance is durable (and audited),
 * before success is answered; a status other than RP_OK makes the SCP answer "out of
 * resources" (the modality sends it again).  Called from several threads at once. */
typedef int rp_store_scp_stored_fn(void *ctx, const struct rp_store_scp_instance *in,
				   struct rp_errbuf *err);

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
	/* DICOM TLS (PS3.15 B.1): on when tls_cert and tls_key are given.  Every caller
	 * must then present a certificate that chains to tls_ca (mutual authentication);
	 * a caller without TLS or with another certificate is refused and logged
	 * ("tls_refused") and the SCP goes on.  All PEM, the key unencrypted. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;          /* CA bundle the callers' certificates chain to */
	/* "bcp195-nd" (default: TLS 1.2 or newer, never lower), "bcp195" (falls back to
	 * TLS 1.0), "bcp195-ex" (TLS 1.2 only, ECDHE with AES-GCM). */
	const char *tls_profile;
	rp_store_scp_stored_fn *on_stored; /* optional */
	void *on_stored_ctx;
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

/* ------------------------------------------------------------------------------------ */
/* Storage SCU: delivering instances into a PACS */

struct rp_store_scu_options {
	size_t struct_size;          /* set by rp_store_scu_options_init() */
	const char *calling_ae;      /* ours; default "RADPIPE" */
	const char *called_ae;       /* the PACS's; required */
	const char *host;            /* required */
	uint16_t port;               /* required */
	double timeout_s;            /* connect, association and each DIMSE; default 60 */
	/* Where instances the PACS accepts in no syntax they have are written decoded to
	 * explicit VR little endian (our codecs, verified) before they are sent again;
	 * default: the system temporary directory. */
	const char *scratch_dir;
	struct rp_audit *audit;      /* one "delivered"/"failed" line per instance; optional */
	rp_log_fn *log;
	void *log_ctx;
	/* DICOM TLS to the PACS: on when tls_cert and tls_key are given; the PACS's
	 * certificate must chain to tls_ca and be valid for host (name or address) unless
	 * tls_skip_host_check.  PEM files, the key unencrypted; profiles as for the SCP. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	const char *tls_profile;
	uint8_t tls_skip_host_check;
};

RP_API void rp_store_scu_options_init(struct rp_store_scu_options *opts);

/* What became of one instance. */
struct rp_store_result {
	int status;                  /* RP_OK: the PACS answered success (or a warning) */
	uint16_t dimse_status;       /* the PACS's C-STORE status; 0xFFFF when none came */
	uint8_t decoded;             /* sent decoded: the PACS refused the original syntax */
	char message[160];           /* why it failed; "" otherwise */
};

/* Sends the Part 10 files paths[0..count) in one association, per SOP class in the
 * file's own transfer syntax when the PACS accepts it, otherwise decoded to explicit VR
 * little endian by our codecs.  results[i] says what became of paths[i].  Returns RP_OK
 * when every instance was stored, RP_E_NET when the PACS could not be reached or the
 * association failed (instances without a response are then marked so), or the status
 * of the first instance that failed. */
RP_API RP_NODISCARD int rp_store_scu_send(const struct rp_store_scu_options *opts,
					  const char *const *paths, size_t count,
					  struct rp_store_result *results, struct rp_errbuf *err);


#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_DICOMNET_H */
