/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc.c - the HT cleanup pass encoder (ISO/IEC 15444-15 clause 7):
 * the scalar build of the fast encoder (ht_block_enc_impl.h), the U-VLC tables every
 * ISA build shares, and the segment bound.  Every build writes the
 * bytes of the reference encoder (ht_block_enc_ref.c). */
#include <pthread.h>

#define RP__ISA_BUILD scalar
#include "simd/isa_build.h"
#include "codec/htj2k/ht_block_enc_impl.h"

/* ---- U-VLC (15444-15 Table 3: prefix, suffix, extension) ---- */

struct uvlc_code {
	uint32_t pre, pre_len, suf, suf_len, ext, ext_len;
};

static struct uvlc_code
uvlc_code(unsigned u)
{
	struct uvlc_code c = { 0, 0, 0, 0, 0, 0 };
	if (u == 0)
		return c;
	if (u == 1) {
		c.pre = 1;
		c.pre_len = 1;
	} else if (u == 2) {
		c.pre = 2;
		c.pre_len = 2;
	} else if (u <= 4) {
		c.pre = 4;
		c.pre_len = 3;
		c.suf = u - 3;
		c.suf_len = 1;
	} else if (u <= 32) {
		c.pre_len = 3;
		c.suf = u - 5;
		c.suf_len = 5;
	} else {
		c.pre_len = 3;
		c.suf = 28 + (u - 33) % 4;
		c.suf_len = 5;
		c.ext = (u - 33) / 4;
		c.ext_len = 4;
	}
	return c;
}

struct bits {
	uint32_t v, n;
};

static void
bits_put(struct bits *b, uint32_t v, uint32_t n)
{
	b->v |= v << b->n;
	b->n += n;
}

static uint32_t
uvlc_pair(unsigned u0, unsigned u1)
{
	struct uvlc_code a = uvlc_code(u0), c = uvlc_code(u1);
	struct bits b = { 0, 0 };
	bits_put(&b, a.pre, a.pre_len);
	bits_put(&b, c.pre, c.pre_len);
	bits_put(&b, a.suf, a.suf_len);
	bits_put(&b, c.suf, c.suf_len);
	bits_put(&b, a.ext, a.ext_len);
	bits_put(&b, c.ext, c.ext_len);
	return b.v | b.n << 24;
}

static uint32_t uvlc_tables[2048];
static pthread_once_t uvlc_once = PTHREAD_ONCE_INIT;

static void
build_uvlc(void)
{
	for (unsigned u0 = 0; u0 < 32; u0++) {
		for (unsigned u1 = 0; u1 < 32; u1++) {
			uint32_t first;
			/* First line pair: a MEL bit has said whether both offsets exceed 2;
			 * then both go less 2, else an offset above 2 in the first quad leaves
			 * only 1 or 2 for the second (one bit). */
			if (u0 > 2 && u1 > 2) {
				first = uvlc_pair(u0 - 2, u1 - 2);
			} else if (u0 > 2 && u1 > 0) {
				struct uvlc_code a = uvlc_code(u0);
				struct bits b = { 0, 0 };
				bits_put(&b, a.pre, a.pre_len);
				bits_put(&b, u1 - 1, 1);
				bits_put(&b, a.suf, a.suf_len);
				bits_put(&b, a.ext, a.ext_len);
				first = b.v | b.n << 24;
			} else {
				first = uvlc_pair(u0, u1);
			}
			uvlc_tables[u0 * 32 + u1] = first;
			uvlc_tables[1024 + u0 * 32 + u1] = uvlc_pair(u0, u1);
		}
	}
}

const uint32_t *
rp__ht_uvlc_tables(void)
{
	pthread_once(&uvlc_once, build_uvlc);
	return uvlc_tables;
}

/* ---- segment bound ---- */

size_t
rp__ht_block_bound(unsigned w, unsigned h)
{
	/* MagSgn: at most 32 bits a sample plus stuffing; MEL + VLC below 4079 bytes. */
	return (size_t)w * h * 5 + RP__HT_ENC_MEL_CAP + RP__HT_ENC_VLC_CAP;
}
