/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec.c - the HT cleanup pass decoder (ISO/IEC 15444-15 clause 7),
 * the mirror of ht_block_enc.c: the scalar build of ht_block_dec_impl.h and the choice,
 * through simd/cpu.h, of the AVX2 or AVX-512 build.  The segment comes from an untrusted
 * codestream: every reader stays inside it, and magnitudes that could not come from a
 * valid stream are refused.  ht_block_dec_ref.c is the reference this must match. */
#define RP__HTDEC_NAME rp__ht_decode_block_scalar
#include "codec/htj2k/ht_block_dec_impl.h"

#include <pthread.h>

#include "simd/cpu.h"

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
			dec32[k * 2048 + i] = (e & 7) | ((e >> 3) & 1) << 6 | next | e << 16;
			dec32[k * 2048 + 1024 + i] = 0;
		}
}

const uint32_t *
rp__ht_dec32(void)
{
	pthread_once(&dec32_once, build_dec32);
	return dec32;
}

static rp__ht_dec_fn *
select_fn(uint32_t cpu_mask)
{
	uint32_t f = rp__cpu_features(cpu_mask);
	(void)f;
#ifdef RP_HTJ2K_HAVE_AVX512
	if (f & RP__CPU_AVX512)
		return rp__ht_decode_block_avx512;
#endif
#ifdef RP_HTJ2K_HAVE_AVX2
	if (f & RP__CPU_AVX2)
		return rp__ht_decode_block_avx2;
#endif
	return rp__ht_decode_block_scalar;
}

int
rp__ht_decode_block_isa(const uint8_t *seg, size_t len, unsigned w, unsigned h, int32_t *coef,
			size_t stride, unsigned max_bits, uint32_t cpu_mask)
{
	return select_fn(cpu_mask)(seg, len, w, h, coef, stride, max_bits);
}

int
rp__ht_decode_block(const uint8_t *seg, size_t len, unsigned w, unsigned h, int32_t *coef,
		    size_t stride, unsigned max_bits)
{
	static rp__ht_dec_fn *_Atomic best;
	rp__ht_dec_fn *fn = best;
	if (!fn) {
		fn = select_fn(0);
		best = fn;
	}
	return fn(seg, len, w, h, coef, stride, max_bits);
}
