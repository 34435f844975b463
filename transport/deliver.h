/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/deliver.h - turning a session's reassembled stream back into files: one
 * walker over the in-flight objects (FORMAT.md section 5) that has each unpacked
 * (pipeline/inflight.h: decode, pixel hash), verifies it against the manifest, writes it
 * atomically into the session's stage (optionally as compressed DICOM), and finally
 * moves the session's entries into the delivery directory.  It sends nothing and logs nothing: what it did comes back through
 * return values and the events callbacks. */
#ifndef RP_TRANSPORT_DELIVER_H
#define RP_TRANSPORT_DELIVER_H

#include "transport/spool.h"

#include <sys/types.h>

struct rp__deliver;

struct rp__deliver_config {
	struct rp__spool *spool;     /* borrowed: the stream, manifest, stage and journal */
	const char *session;         /* hex id, for messages */
	int dest_fd;                 /* the delivery directory DIR, borrowed */
	const char *dest_name;       /* DIR as the user named it, for messages */
	const char *stage_path;      /* DIR/.radpipe/<session>/stage, copied */
	bool compressed;             /* --deliver compressed: framed objects as DICOM */
	mode_t file_mode;            /* of delivered files; directories get rp__dir_mode() */
	struct rp_pool *pool;        /* borrowed: decodes frames; NULL: the caller's thread */
};

struct rp__deliver_events {
	void *ctx;
	/* Object `index` of `size` original bytes is durable in the stage and journaled. */
	void (*object)(void *ctx, uint32_t index, uint64_t size);
	/* During rp__deliver_finish(), at most every half second: stream bytes walked and
	 * objects done so far.  May be NULL. */
	void (*progress)(void *ctx, uint64_t stream_bytes, uint64_t objects);
	/* During rp__deliver_finish(), once every file is durable in DIR and before the
	 * session is journaled delivered (a crash in between calls it again on the retry,
	 * so what it starts happens at least once).  rp__deliver_held() tells which objects
	 * DIR already held.  A negative return fails the finish.  May be NULL. */
	int (*placed)(void *ctx, const struct rp__deliver *d, struct rp_errbuf *err);
};

/* A delivered directory's mode from the files' mode: search (x) wherever read is
 * allowed, so 0640 files sit in 0750 directories. */
static inline mode_t
rp__dir_mode(mode_t file_mode)
{
	return file_mode | ((file_mode & 0444) >> 2);
}

int rp__deliver_create(const struct rp__deliver_config *cfg, struct rp__deliver **ret);
/* Closes what the deliverer holds; a file not yet renamed stays a temporary in the
 * stage, replaced by the next attempt.  NULL is a no-op. */
void rp__deliver_destroy(struct rp__deliver *d);

/* Delivers, in stream order, the objects whose bytes have all arrived, while the
 * transfer goes on.  Any thread; one at a time (the others return at once). */
int rp__deliver_ahead(struct rp__deliver *d, const struct rp__deliver_events *ev,
		      struct rp_errbuf *err);
/* Once every data chunk of the stream_len-byte stream is in the spool: delivers every
 * object left, checks the stream holds exactly the manifest's objects, moves the
 * session's top-level entries into DIR and journals the session as delivered.  A
 * top-level directory DIR already has is merged file by file (an addition to a study);
 * a file already there with identical bytes counts as held, one with different bytes,
 * or an existing top-level file, refuses the session and moves nothing. */
int rp__deliver_finish(struct rp__deliver *d, uint64_t stream_len,
		       const struct rp__deliver_events *ev, struct rp_errbuf *err);
/* After a successful rp__deliver_finish(): object `index` was already in DIR with
 * identical bytes, so this session did not deliver it. */
bool rp__deliver_held(const struct rp__deliver *d, uint32_t index);

#endif /* RP_TRANSPORT_DELIVER_H */
