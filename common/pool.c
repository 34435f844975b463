/* SPDX-License-Identifier: BSD-3-Clause */
/* common/pool.c - the thread pool: a bounded FIFO of jobs served by N workers, plus a
 * parallel-for that the caller joins, so nested use from inside a job cannot deadlock. */
#include "common/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct rp__job {
	rp_job_fn *fn;
	void *arg;
};

struct rp_pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;    /* a job was queued, or stopping */
	pthread_cond_t not_full;     /* a slot was freed */
	pthread_cond_t idle;         /* pending reached 0 */
	struct rp__job *ring;
	unsigned capacity, head, count;
	unsigned pending;            /* queued + running */
	unsigned threads;
	bool stopping;
	pthread_t *tids;
};

/* Index of the current thread within its pool, so that nested parallel-for calls hand
 * jobs the right per-worker slot. */
static _Thread_local const struct rp_pool *tl_pool;
static _Thread_local unsigned tl_worker;

unsigned
rp_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1u : (unsigned)n;
}

struct rp__worker_start {
	struct rp_pool *pool;
	unsigned index;
};

static void *
worker_main(void *p)
{
	struct rp__worker_start *start = p;
	struct rp_pool *pool = start->pool;
	tl_pool = pool;
	tl_worker = start->index;
	free(start);

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->count == 0 && !pool->stopping)
			pthread_cond_wait(&pool->not_empty, &pool->lock);
		if (pool->count == 0 && pool->stopping)
			break;
		struct rp__job job = pool->ring[pool->head];
		pool->head = (pool->head + 1) % pool->capacity;
		pool->count--;
		pthread_cond_signal(&pool->not_full);
		pthread_mutex_unlock(&pool->lock);

		job.fn(job.arg, tl_worker);

		pthread_mutex_lock(&pool->lock);
		if (--pool->pending == 0)
			pthread_cond_broadcast(&pool->idle);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int
rp_pool_create(unsigned threads, unsigned queue_limit, struct rp_pool **pool_ret)
{
	if (!pool_ret)
		return RP_E_INVALID_ARG;
	if (threads == 0)
		threads = rp_cpu_count();
	if (threads > 1024)
		return RP_E_INVALID_ARG;
	if (queue_limit == 0)
		queue_limit = 4 * threads;

	struct rp_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return RP_E_NOMEM;
	pool->ring = calloc(queue_limit, sizeof(*pool->ring));
	pool->tids = calloc(threads, sizeof(*pool->tids));
	if (!pool->ring || !pool->tids) {
		free(pool->ring);
		free(pool->tids);
		free(pool);
		return RP_E_NOMEM;
	}
	pool->capacity = queue_limit;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->not_empty, NULL);
	pthread_cond_init(&pool->not_full, NULL);
	pthread_cond_init(&pool->idle, NULL);

	for (unsigned i = 0; i < threads; i++) {
		struct rp__worker_start *start = malloc(sizeof(*start));
		if (start) {
			start->pool = pool;
			start->index = i;
		}
		if (!start || pthread_create(&pool->tids[i], NULL, worker_main, start) != 0) {
			free(start);
			pool->threads = i;
			rp_pool_destroy(pool);
			return RP_E_INTERNAL;
		}
		pool->threads = i + 1;
	}
	*pool_ret = pool;
	return RP_OK;
}

unsigned
rp_pool_threads(const struct rp_pool *pool)
{
	return pool ? pool->threads : 0;
}

int
rp_pool_submit(struct rp_pool *pool, rp_job_fn *fn, void *arg)
{
	if (!pool || !fn)
		return RP_E_INVALID_ARG;
	pthread_mutex_lock(&pool->lock);
	while (pool->count == pool->capacity && !pool->stopping)
		pthread_cond_wait(&pool->not_full, &pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return RP_E_CANCELLED;
	}
	unsigned tail = (pool->head + pool->count) % pool->capacity;
	pool->ring[tail].fn = fn;
	pool->ring[tail].arg = arg;
	pool->count++;
	pool->pending++;
	pthread_cond_signal(&pool->not_empty);
	pthread_mutex_unlock(&pool->lock);
	return RP_OK;
}

void
rp_pool_wait(struct rp_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	while (pool->pending)
		pthread_cond_wait(&pool->idle, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

/* Parallel-for: the items are handed out through one atomic counter.  Helper jobs are
 * queued for idle workers, and the caller works too, so the loop finishes even when every
 * worker is busy (or blocked in a parallel-for of its own): the caller waits only for
 * items that were started, never for a helper still in the queue.  The state is
 * reference-counted on the heap because such a helper may run after the call returned. */
struct rp__for_state {
	rp_for_fn *fn;
	void *arg;
	size_t count;
	_Atomic size_t next;
	_Atomic size_t done;
	_Atomic unsigned refs;
	pthread_mutex_t lock;
	pthread_cond_t finished;
};

static void
for_release(struct rp__for_state *st)
{
	if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) {
		pthread_cond_destroy(&st->finished);
		pthread_mutex_destroy(&st->lock);
		free(st);
	}
}

static void
for_drain(struct rp__for_state *st, unsigned worker)
{
	for (;;) {
		size_t i = atomic_fetch_add_explicit(&st->next, 1, memory_order_relaxed);
		if (i >= st->count)
			break;
		st->fn(st->arg, i, worker);
		if (atomic_fetch_add_explicit(&st->done, 1, memory_order_acq_rel) + 1 == st->count) {
			pthread_mutex_lock(&st->lock);
			pthread_cond_broadcast(&st->finished);
			pthread_mutex_unlock(&st->lock);
		}
	}
}

static void
for_helper(void *p, unsigned worker)
{
	struct rp__for_state *st = p;
	for_drain(st, worker);
	for_release(st);
}

void
rp_pool_parallel_for(struct rp_pool *pool, size_t count, rp_for_fn *fn, void *arg)
{
	unsigned self = (pool && tl_pool == pool) ? tl_worker : rp_pool_threads(pool);
	if (count == 0)
		return;
	struct rp__for_state *st = NULL;
	if (pool && pool->threads > 0 && count > 1)
		st = calloc(1, sizeof(*st));
	if (!st) {       /* no pool, one item, or no memory: the caller does it all */
		for (size_t i = 0; i < count; i++)
			fn(arg, i, self);
		return;
	}
	st->fn = fn;
	st->arg = arg;
	st->count = count;
	st->refs = 1;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->finished, NULL);

	/* Queue at most one helper per worker, without blocking on a full queue. */
	size_t want = count - 1 < pool->threads ? count - 1 : pool->threads;
	pthread_mutex_lock(&pool->lock);
	for (size_t h = 0; h < want && pool->count < pool->capacity && !pool->stopping; h++) {
		unsigned tail = (pool->head + pool->count) % pool->capacity;
		pool->ring[tail].fn = for_helper;
		pool->ring[tail].arg = st;
		pool->count++;
		pool->pending++;
		st->refs++;
		pthread_cond_signal(&pool->not_empty);
	}
	pthread_mutex_unlock(&pool->lock);

	for_drain(st, self);
	pthread_mutex_lock(&st->lock);
	while (atomic_load_explicit(&st->done, memory_order_acquire) < count)
		pthread_cond_wait(&st->finished, &st->lock);
	pthread_mutex_unlock(&st->lock);
	for_release(st);
}

void
rp_pool_destroy(struct rp_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->not_empty);
	pthread_cond_broadcast(&pool->not_full);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->threads; i++)
		pthread_join(pool->tids[i], NULL);
	pthread_cond_destroy(&pool->not_empty);
	pthread_cond_destroy(&pool->not_full);
	pthread_cond_destroy(&pool->idle);
	pthread_mutex_destroy(&pool->lock);
	free(pool->ring);
	free(pool->tids);
	free(pool);
}
