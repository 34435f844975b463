/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/chunk.c - cutting the session stream into chunks and FEC groups, and
 * spreading a group over the streams (FORMAT.md section 1).  Pure: send.c keeps the
 * buffers, the queue and the threads. */
#include "transport/chunk.h"

#include <string.h>

void
rp__chunker_init(struct rp__chunker *c, const struct rp__chunk_geom *gm)
{
	memset(c, 0, sizeof(*c));
	c->gm = *gm;
}

struct rp__chunk_step
rp__chunker_step(struct rp__chunker *c, size_t n)
{
	struct rp__chunk_step s = {.group = c->group, .index = c->index, .offset = c->fill};
	uint32_t room = c->gm.cs - c->fill;
	s.take = n < room ? (uint32_t)n : room;
	c->fill += s.take;
	if (c->fill == c->gm.cs) {
		s.chunk_full = true;
		c->fill = 0;
		if (++c->index == c->gm.k) {
			s.group_full = true;
			c->index = 0;
			c->group++;
		}
	}
	return s;
}

bool
rp__chunker_finish(struct rp__chunker *c, struct rp__chunk_tail *t)
{
	if (!c->fill && !c->index)
		return false;
	t->group = c->group;
	t->short_chunk = c->fill != 0;
	t->kg = c->index + t->short_chunk;
	t->last_size = t->short_chunk ? c->fill : c->gm.cs;
	c->group++;
	c->index = 0;
	c->fill = 0;
	return true;
}

unsigned
rp__chunk_group_cap(unsigned k, unsigned m, unsigned live)
{
	if (!live)
		live = 1;
	unsigned spread = (k + m + live - 1) / live;
	return spread > m ? spread : (m ? m : 1);
}

void
rp__chunk_default_fec(unsigned streams, unsigned m_wanted, unsigned max_k, unsigned *k,
		      unsigned *m)
{
	unsigned mm = m_wanted ? m_wanted : 2;
	unsigned kk = streams >= 4 ? mm * (streams - 1) : 10 * mm;
	*k = kk < max_k ? kk : max_k;
	*m = mm;
}

void
rp__group_tally_init(struct rp__group_tally *t)
{
	for (unsigned i = 0; i < RP__GROUP_TALLY_SLOTS; i++) {
		t->group[i] = UINT64_MAX;
		t->count[i] = 0;
	}
}

uint32_t *
rp__group_tally_of(struct rp__group_tally *t, uint64_t g)
{
	unsigned i = (unsigned)(g % RP__GROUP_TALLY_SLOTS);
	if (t->group[i] != g) {
		t->group[i] = g;
		t->count[i] = 0;
	}
	return &t->count[i];
}
