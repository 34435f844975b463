/* SPDX-License-Identifier: BSD-3-Clause */
/* net/study_queue.h - the gateway's durable study queue in a spool directory:
 *
 *   SPOOL/incoming/<Study>/<SOP>.dcm       instances received, not yet in a batch (the
 *                                           Storage SCP's queue directory)
 *   SPOOL/outbox/<Study>/<N>/<SOP>.dcm     batch N of a study: what one rp_send carries
 *   SPOOL/studies/<Study>.state            the study's record (atomic rewrite)
 *   SPOOL/studies/<Study>.failed           present when the study failed permanently
 *
 * Everything the queue knows is rebuilt from these at open, so a kill -9 loses nothing:
 * files stay where they are until their batch is delivered, then are removed, and the
 * record keeps how many instances were delivered so that a late instance is sent as an
 * addition.  Thread-safe: the SCP's threads note arrivals while the sender sends. */
#ifndef RP_NET_STUDY_QUEUE_H
#define RP_NET_STUDY_QUEUE_H

#include <radpipe/radpipe.h>
#include <stdbool.h>
#include <stdio.h>

enum rp__sq_state {
	RP__SQ_COLLECTING,           /* instances arriving; quiet time not yet over */
	RP__SQ_QUEUED,               /* ready, waiting for the sender */
	RP__SQ_SENDING,
	RP__SQ_RETRYING,             /* last send failed; next try at next_retry */
	RP__SQ_DELIVERED,            /* everything received so far is delivered */
	RP__SQ_FAILED                /* permanent error; held in the spool */
};

const char *rp__sq_state_name(enum rp__sq_state s);

struct rp__study_queue;

/* Creates the layout under spool as needed and rebuilds the queue from it. */
int rp__sq_open(const char *spool, struct rp__study_queue **ret, struct rp_errbuf *err);
void rp__sq_close(struct rp__study_queue *q);

/* SPOOL/incoming: where instances are committed (rp__instance_commit). */
const char *rp__sq_incoming(const struct rp__study_queue *q);

/* An instance is durable in incoming/<study>/: the study collects again (its quiet
 * time restarts); stat makes the study STAT for good (recorded durably first). */
int rp__sq_arrived(struct rp__study_queue *q, const char *study, uint64_t size, bool stat,
		   struct rp_errbuf *err);

/* One send: paths[i] are files of outbox/<study>/<gen>/, names[i] "<study>/<sop>.dcm". */
struct rp__sq_batch {
	char study[65];
	bool stat;
	uint32_t gen;
	size_t count;
	uint64_t bytes;
	char **paths, **names;
};

/* The next batch to send at wall-clock time now: a study's outbox batch left from an
 * earlier try, or else its quiet incoming instances moved into a new batch.  STAT studies
 * first, then the oldest.  Returns 1 with *b filled (the study is SENDING), 0 when none
 * is due (*wait_s: seconds until one may be), or an error. */
int rp__sq_next(struct rp__study_queue *q, double now, double quiet_s,
		struct rp__sq_batch *b, double *wait_s, struct rp_errbuf *err);
/* Whether a STAT study would be chosen now (for preempting a routine send). */
bool rp__sq_stat_due(struct rp__study_queue *q, double now, double quiet_s);
/* STAT studies are ready after quiet_s (when shorter than the routine quiet time given
 * to the calls above); a negative value gives them the routine one.  Default: -1. */
void rp__sq_set_stat_quiet(struct rp__study_queue *q, double quiet_s);

/* What became of a batch.  RP_OK: recorded as delivered and its files removed.
 * retry_s > 0: kept, retried after that delay.  retry_s == 0: put back as it is (a
 * cancelled send).  retry_s < 0: the study failed permanently with reason. */
int rp__sq_done(struct rp__study_queue *q, struct rp__sq_batch *b, int status, double retry_s,
		const char *reason, struct rp_errbuf *err);
void rp__sq_batch_free(struct rp__sq_batch *b);

/* Attempts of the study's current batch (0 when none failed yet). */
uint32_t rp__sq_attempts(struct rp__study_queue *q, const char *study);

/* Progress of the batch being sent, for the status file. */
void rp__sq_progress(struct rp__study_queue *q, uint64_t done_bytes, double rate_Bps);

/* The queue as JSON (docs/GATEWAY.md "status.json"), one study per line; studies
 * delivered more than keep_delivered_s ago are left out. */
void rp__sq_status_json(struct rp__study_queue *q, FILE *f, double now, double quiet_s,
			double keep_delivered_s);

#endif /* RP_NET_STUDY_QUEUE_H */
