/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/audit.h - the gateway's audit trail: one JSON line per instance
 * received, sent, delivered or failed, each carrying the SHA-256 of the line before it,
 * so that an edited, deleted or reordered line is detected (rp_audit_verify).
 *
 * A chain without a key proves order and completeness against anyone who edits the file
 * without recomputing every later line; lines cut from the end leave no trace in the
 * file itself, which is why verify reports the last sequence number and hash, for the
 * operator to compare with a copy kept elsewhere (syslog, the next day's report). */
#ifndef RADPIPE_AUDIT_H
#define RADPIPE_AUDIT_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rp_audit;

/* One event.  Strings may be NULL (the field is left out); sha256 is the instance's
 * SHA-256 (32 bytes) or NULL. */
struct rp_audit_event {
	const char *event;           /* "received", "sent", "delivered", "failed", ... */
	const char *sop_instance_uid;
	const char *study_uid;
	const char *peer;            /* "AET@10.0.0.5:104", a site's certificate name */
	const uint8_t *sha256;
	const char *detail;          /* a failure's reason */
	/* For the ATNA message only (not written to the file): */
	const char *sop_class_uid;
	int direction;               /* RP_AUDIT_IN (peer sent to us), RP_AUDIT_OUT, or 0 */
};

enum { RP_AUDIT_IN = 1, RP_AUDIT_OUT = 2 };

/* Opens (creating, mode 0640) the log at path for appending, continuing the chain of
 * what is there.  A last line cut short by a crash is closed with a newline and
 * followed by a "torn" record that chains to it, so verify can tell a crash from an
 * edit.  One writer per file: a second open of the same file fails (RP_E_IO). */
RP_API RP_NODISCARD int rp_audit_open(const char *path, struct rp_audit **ret,
				      struct rp_errbuf *err);
/* Appends one line and makes it durable (fdatasync) before returning; safe from any
 * thread. */
RP_API RP_NODISCARD int rp_audit_append(struct rp_audit *a, const struct rp_audit_event *ev,
					struct rp_errbuf *err);
RP_API void rp_audit_close(struct rp_audit *a);

struct rp_audit_summary {
	uint64_t lines;              /* lines read */
	uint64_t problems;           /* lines that break the chain */
	uint64_t torn;               /* lines cut short by a crash and recovered from */
	uint64_t last_seq;           /* sequence number of the last good line */
	char last_hash[65];          /* SHA-256 (hex) of the last line */
};

/* Called for each problem: 1-based line number and what is wrong with it. */
typedef void rp_audit_problem_fn(void *ctx, uint64_t line, const char *what);

/* Checks the whole chain.  RP_OK when it is intact, RP_E_MISMATCH when some line breaks
 * it (each reported to fn), RP_E_IO when the file cannot be read. */
RP_API RP_NODISCARD int rp_audit_verify(const char *path, rp_audit_problem_fn *fn, void *ctx,
					struct rp_audit_summary *sum, struct rp_errbuf *err);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_AUDIT_H */
