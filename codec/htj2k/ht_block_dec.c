/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec.c - the HT cleanup pass decoder (ISO/IEC 15444-15 clause 7),
 * the mirror of ht_block_enc.c: the scalar build of ht_block_dec_impl.h and the CxtVLC
 * tables every ISA build shares.  The segment comes from an untrusted
 * codestream: every reader stays inside it, and magnitudes that could not come from a
 * valid stream are refused.  ht_block_dec_ref.c is the reference this must match. */
#define RP__ISA_BUILD scalar
#include "simd/isa_build.h"
#include "codec/htj2k/ht_block_dec_impl.h"

#include <pthread.h>

static uint32_t dec32[2 * 2048];
static pthread_once_t dec32_once = PTHREAD_ONCE_INIT;

static void
build_dec32(void)
{
	const struct rp__ht_tables *t = rp__ht_tables_get();
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < 1024; i++) {
			unsigned e = t->dec[k][i], rho = (e >> 4) & 15, next;
			/* First line pair: c_q of the next quad = (rho >> 1) | (rho & 1);
			 * others: its bit 1 = rho bit 2 or 3 (the right column). */
			if (k == 0)
				next = ((rho >> 1) | (rho & 1)) << 7;
			else
				next = (((rho >> 2) | (rho >> 3)) & 1) << 8;
			unsigned uoff = (e >> 3) & 1;
			dec32[k * 2048 + i] = (e & 7) | uoff << 6 | next | uoff << 10 |
					      uoff << 11 | e << 16;
			dec32[k * 2048 + 1024 + i] = 0;
		}
}

const uint32_t *
rp__ht_dec32(void)
{
	pthread_once(&dec32_once, build_dec32);
	return dec32;
}
