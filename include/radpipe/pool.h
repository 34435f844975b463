/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/pool.h - an explicit thread pool.  The library creates no threads unless
 * handed one of these. */
#ifndef RADPIPE_POOL_H
#define RADPIPE_POOL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rp_pool;

/* A job: runs once on some worker thread.  `worker` is that thread's index in
 * [0, rp_pool_threads()]: the workers are 0..threads-1, and a thread outside the pool that
 * helps in rp_pool_parallel_for() is `threads`.  So a job can keep per-worker scratch in an
 * array of threads + 1 slots without locking. */
typedef void rp_job_fn(void *arg, unsigned worker);

/* Creates `threads` workers (0 = one per online CPU) and a queue of at most `queue_limit`
 * pending jobs (0 = 4 x threads): rp_pool_submit() blocks while it is full, which bounds
 * the memory held by queued work.  RP_OK, RP_E_NOMEM or RP_E_INTERNAL. */
RP_API RP_NODISCARD int rp_pool_create(unsigned threads, unsigned queue_limit,
				       struct rp_pool **pool_ret);

RP_API unsigned rp_pool_threads(const struct rp_pool *pool);

/* Queues fn(arg).  Thread-safe.  Must not be called from a job of the same pool when the
 * caller then waits for it (use rp_pool_parallel_for() from inside jobs). */
RP_API RP_NODISCARD int rp_pool_submit(struct rp_pool *pool, rp_job_fn *fn, void *arg);

/* Blocks until every job submitted so far has finished.  Not from inside a job. */
RP_API void rp_pool_wait(struct rp_pool *pool);

/* Runs fn(arg, i, worker) for i in [0, count), spread over the pool's idle workers and the
 * calling thread, and returns when all are done.  Safe to call from inside a job (the
 * caller works through the items itself, so nested use never deadlocks).  pool may be
 * NULL: then the caller runs everything. */
typedef void rp_for_fn(void *arg, size_t index, unsigned worker);
RP_API void rp_pool_parallel_for(struct rp_pool *pool, size_t count, rp_for_fn *fn, void *arg);

/* Waits for the queued jobs, stops the workers, frees the pool.  NULL is a no-op. */
RP_API void rp_pool_destroy(struct rp_pool *pool);

/* Number of online CPUs (at least 1). */
RP_API unsigned rp_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_POOL_H */
