/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/spool.h - a receiving session's storage (FORMAT.md section 6): the chunks
 * written in place, the journal of what is durable and delivered, and which chunks are
 * still needed at the end of a run.  It knows nothing of connections, frames or logs:
 * serve.c drives it, deliver.c reads the reassembled stream from it.  Thread-safe: the
 * connections of a session write chunks into one spool at once. */
#ifndef RP_TRANSPORT_SPOOL_H
#define RP_TRANSPORT_SPOOL_H

#include "common/internal.h"
#include "transport/frame.h"

struct rp__spool;

/* Opens (creating it on first use) DIR/.radpipe/<hex>/ below radfd, checks a stored
 * manifest is the same as `manifest`, and replays the journal.  mf is copied. */
int rp__spool_open(int radfd, const char *hex, const uint8_t *manifest, size_t manifest_len,
		   const struct rp__manifest *mf, struct rp__spool **ret, struct rp_errbuf *err);
/* Closes the files; what is on disk stays.  NULL is a no-op. */
void rp__spool_close(struct rp__spool *sp);

/* The session's manifest (the spool's copy, valid until rp__spool_close). */
const struct rp__manifest *rp__spool_manifest(const struct rp__spool *sp);
/* Stream bytes the manifest allows: its objects plus up to 64 KiB of header each. */
uint64_t rp__spool_max_stream(const struct rp__spool *sp);
/* The session was delivered (journal type 3). */
bool rp__spool_delivered(struct rp__spool *sp);
/* Object j was delivered into the stage by this or an earlier run (journal type 2). */
bool rp__spool_object_done(struct rp__spool *sp, uint32_t j);
/* How many objects are done. */
uint32_t rp__spool_objects_done(struct rp__spool *sp);
/* Adds every durable key to *keys (what a resuming sender need not send again). */
int rp__spool_durable(struct rp__spool *sp, struct rp__ranges *keys);

/* Whether the chunk fits the manifest's geometry and limits (RP_E_PROTOCOL, RP_E_LIMIT). */
int rp__spool_check_chunk(const struct rp__spool *sp, const struct rp__chunk *ch,
			  struct rp_errbuf *err);
/* Writes a checked chunk in place; *dup is set when the spool had it already (or the
 * session is delivered) and nothing was written.  Makes the spool durable and journals
 * it every so many chunks or seconds. */
int rp__spool_write_chunk(struct rp__spool *sp, const struct rp__chunk *ch, bool *dup,
			  struct rp_errbuf *err);
/* fdatasync of the spool, then one journal append for what it made durable. */
int rp__spool_sync(struct rp__spool *sp, struct rp_errbuf *err);
/* End of a run whose stream is stream_len bytes in data_chunks chunks: checks the short
 * chunk was the last, rebuilds from parity every group that has enough of its chunks
 * (*rebuilt counts the chunks), makes it all durable, and adds to *need the keys of the
 * data chunks still missing. */
int rp__spool_missing(struct rp__spool *sp, uint64_t stream_len, uint64_t data_chunks,
		      struct rp__ranges *need, uint64_t *rebuilt, struct rp_errbuf *err);

/* Whether every data chunk covering stream bytes [a, b) is in the spool. */
bool rp__spool_has_range(struct rp__spool *sp, uint64_t a, uint64_t b);
/* The reassembled stream, for reading (pread, mmap) the ranges that are there. */
int rp__spool_stream_fd(const struct rp__spool *sp);
/* A new descriptor of the session's stage/ directory, where delivery builds files. */
int rp__spool_open_stage(struct rp__spool *sp, struct rp_errbuf *err);

/* Journals objects idx[0..n) as delivered (one append and fdatasync). */
int rp__spool_journal_objects(struct rp__spool *sp, const uint32_t *idx, unsigned n,
			      struct rp_errbuf *err);
/* Journals the session as delivered and lets go of the stream and parity bytes. */
int rp__spool_journal_delivered(struct rp__spool *sp, struct rp_errbuf *err);

#endif /* RP_TRANSPORT_SPOOL_H */
