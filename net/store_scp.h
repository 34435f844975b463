/* SPDX-License-Identifier: BSD-3-Clause */
/* net/store_scp.h - the C side of the DICOM adapters: committing a received instance
 * into the queue directory, file hashes and the log lines, called by the DCMTK adapters
 * (store_scp.cpp, store_scu.cpp), which own everything DICOM-network. */
#ifndef RP_NET_STORE_SCP_H
#define RP_NET_STORE_SCP_H

#include <radpipe/radpipe.h>
#include <stdbool.h>
#include <radpipe/dicomnet.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A UID usable as a file name: 1..64 characters of digits and dots, not starting or
 * ending with a dot, no empty component. */
bool rp__uid_is_safe(const char *uid);

/* Makes `tmp` (a fully written Part 10 file in dir/.incoming) durable and moves it to
 * dir/<study_uid>/<sop_uid>.dcm, replacing an earlier copy; its SHA-256 in sha256.
 * RP_E_NOSPACE when the disk is full, RP_E_CORRUPT for unusable UIDs, RP_E_IO else.
 * On failure tmp is removed. */
int rp__instance_commit(const char *dir, const char *tmp, const char *study_uid,
			const char *sop_uid, uint32_t file_mode, uint8_t sha256[32],
			struct rp_errbuf *err);

/* A fresh temporary name under dir/.incoming (created as needed): cap >= 4200. */
int rp__instance_tmpname(const char *dir, char *out, size_t cap, struct rp_errbuf *err);

/* SHA-256 of a whole file. */
int rp__file_sha256(const char *path, uint8_t sha256[32], struct rp_errbuf *err);

/* One JSON line to log: {"ts":..,"event":..,"peer":..,"sop":..,"reason":..}; NULL
 * fields are left out, a NULL log does nothing. */
void rp__net_log(rp_log_fn *log, void *ctx, const char *event, const char *peer,
		 const char *sop, const char *reason);

#ifdef __cplusplus
}
#endif

#endif /* RP_NET_STORE_SCP_H */
