/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/chunk.h - the geometry of a session stream (FORMAT.md section 1): which data
 * chunk and FEC group each byte belongs to, chunk keys, group sizes; the chunker that
 * cuts a stream fed in arbitrary pieces into chunks and groups; and how many chunks of
 * one group a stream may carry.  Pure functions: no I/O, no threads, no allocation. */
#ifndef RP_TRANSPORT_CHUNK_H
#define RP_TRANSPORT_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Chunk size and the k data + m parity chunks of a full group. */
struct rp__chunk_geom {
	uint32_t cs;
	unsigned k, m;
};

/* The key of chunk i of group g: i < k data, k <= i < k + m parity. */
static inline uint64_t
rp__chunk_key(const struct rp__chunk_geom *gm, uint64_t g, unsigned i)
{
	return g * (gm->k + gm->m) + i;
}

/* The key of data chunk d of the stream. */
static inline uint64_t
rp__chunk_data_key(const struct rp__chunk_geom *gm, uint64_t d)
{
	return rp__chunk_key(gm, d / gm->k, (unsigned)(d % gm->k));
}

/* Data chunks of a stream of stream_len bytes (the last may be short). */
static inline uint64_t
rp__chunk_data_count(const struct rp__chunk_geom *gm, uint64_t stream_len)
{
	return (stream_len + gm->cs - 1) / gm->cs;
}

/* Groups of a stream of data_chunks data chunks (the last may hold fewer than k). */
static inline uint64_t
rp__chunk_group_count(const struct rp__chunk_geom *gm, uint64_t data_chunks)
{
	return (data_chunks + gm->k - 1) / gm->k;
}

/* k_g: the data chunks of group g in a stream of data_chunks data chunks. */
static inline unsigned
rp__chunk_group_size(const struct rp__chunk_geom *gm, uint64_t data_chunks, uint64_t g)
{
	uint64_t left = data_chunks - g * gm->k;
	return (unsigned)(left < gm->k ? left : gm->k);
}

/* Bytes of data chunk d in a stream of stream_len bytes. */
static inline uint32_t
rp__chunk_data_size(const struct rp__chunk_geom *gm, uint64_t stream_len, uint64_t d)
{
	uint64_t left = stream_len - d * gm->cs;
	return (uint32_t)(left < gm->cs ? left : gm->cs);
}

/* Cuts a stream into data chunks and groups as its bytes arrive, in pieces of any size.
 * It only counts: the caller keeps the chunk buffers. */
struct rp__chunker {
	struct rp__chunk_geom gm;
	uint64_t group;              /* the group being filled */
	unsigned index;              /* its data chunk being filled */
	uint32_t fill;               /* bytes in that chunk */
};

/* Where one step put bytes, and what it completed. */
struct rp__chunk_step {
	uint64_t group;
	unsigned index;              /* data chunk (of the group) the bytes went to */
	uint32_t offset;             /* where in that chunk */
	uint32_t take;               /* how many of the offered bytes */
	bool chunk_full;             /* that chunk now holds cs bytes */
	bool group_full;             /* and it was the group's k-th: the group is closed */
};

/* The partly filled end of the stream that rp__chunker_finish() closes. */
struct rp__chunk_tail {
	uint64_t group;
	unsigned kg;                 /* data chunks of the last group, the short one included */
	bool short_chunk;            /* chunk kg - 1 is short and still open */
	uint32_t last_size;          /* bytes of chunk kg - 1 */
};

void rp__chunker_init(struct rp__chunker *c, const struct rp__chunk_geom *gm);
/* Places the first bytes of a piece of n > 0 bytes: at most up to the end of the chunk
 * being filled.  Call again with the rest until the piece is used up. */
struct rp__chunk_step rp__chunker_step(struct rp__chunker *c, size_t n);
/* End of stream: false when nothing is left open (the stream ended on a group
 * boundary), else the last group to close. */
bool rp__chunker_finish(struct rp__chunker *c, struct rp__chunk_tail *t);

/* How many chunks of one group a stream may carry while `live` streams are up (0 counts
 * as 1): the group's k + m spread over them, and never fewer than m nor than one, so
 * that losing one stream costs at most m chunks of any group (rebuilt from parity)
 * whenever live is at least (k + m) / m. */
unsigned rp__chunk_group_cap(unsigned k, unsigned m, unsigned live);

/* Default parity for `streams` connections: m parity chunks per group (m_wanted, or 2
 * when 0) and k = m x (streams - 1) data chunks (at most RP__FEC_MAX_K), so that
 * rp__chunk_group_cap() is m with every stream up and losing any one connection at any
 * moment costs each group at most m chunks, rebuilt from parity with nothing resent.
 * That costs 1/streams of the wire; below 4 streams it would cost a quarter or more, so
 * there k = 10 x m (a lost connection's chunks are then asked for again). */
void rp__chunk_default_fec(unsigned streams, unsigned m_wanted, unsigned max_k, unsigned *k,
			   unsigned *m);

/* Per stream: chunks taken of each of the last few groups (the queue holds only a few
 * groups at a time, so older ones may be forgotten). */
#define RP__GROUP_TALLY_SLOTS 8
struct rp__group_tally {
	uint64_t group[RP__GROUP_TALLY_SLOTS];
	uint32_t count[RP__GROUP_TALLY_SLOTS];
};

void rp__group_tally_init(struct rp__group_tally *t);
/* The counter of chunks of group g taken by this stream (forgetting the group that last
 * used its slot). */
uint32_t *rp__group_tally_of(struct rp__group_tally *t, uint64_t g);

#endif /* RP_TRANSPORT_CHUNK_H */
