/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/dispatch.c - the kernel tables, one per ISA level, and the choice among them.
 * A level sets only the kernels that pay off and inherits the rest from the level below
 * (static initializers, so nothing is built at run time and selection is two loads). */
#include "simd/kernels.h"

#include <stdatomic.h>

const struct rp__kernels rp__kernels_scalar = {
	.name = "scalar",
	.isa = RP_ISA_SCALAR,
	.vec_bytes = 0,
#define X(k) .k = rp__##k##_scalar,
	RP__KERNEL_LIST(X)
#undef X
};

#ifdef RP_HAVE_AVX2
static const struct rp__kernels rp__kernels_avx2 = {
	.name = "avx2",
	.isa = RP_ISA_AVX2,
	.vec_bytes = 32,
	.bswap16 = rp__bswap16_avx2,
	.bits_clean16 = rp__bits_clean16_avx2,
	.mask16 = rp__mask16_avx2,
	.sext16 = rp__sext16_avx2,
	.interleave3_u8 = rp__interleave3_u8_avx2,
	.deinterleave3_u8 = rp__deinterleave3_u8_avx2,
};
#endif

#ifdef RP_HAVE_AVX512
static const struct rp__kernels rp__kernels_avx512 = {
	.name = "avx512",
	.isa = RP_ISA_AVX512,
	.vec_bytes = 64,
	.bswap16 = rp__bswap16_avx512,
	.bits_clean16 = rp__bits_clean16_avx512,
	.mask16 = rp__mask16_avx512,
	.sext16 = rp__sext16_avx512,
	/* The RGB shuffles stay at 256 bits: a 512-bit version needs VPERMB (AVX-512 VBMI,
	 * outside the F/BW/DQ/VL level simd/cpu.h detects) to cross lanes, and 8-bit RGB is
	 * a small share of the bytes we see (US, secondary captures). */
	.interleave3_u8 = rp__interleave3_u8_avx2,
	.deinterleave3_u8 = rp__deinterleave3_u8_avx2,
};
#endif

static const struct rp__kernels *const rp__kernel_tables[] = {
	&rp__kernels_scalar,
#ifdef RP_HAVE_AVX2
	&rp__kernels_avx2,
#endif
#ifdef RP_HAVE_AVX512
	&rp__kernels_avx512,
#endif
};

#define RP__NTABLES (sizeof(rp__kernel_tables) / sizeof(rp__kernel_tables[0]))

const struct rp__kernels *
rp__kernels_at(size_t index)
{
	return index < RP__NTABLES ? rp__kernel_tables[index] : NULL;
}

const struct rp__kernels *
rp__kernels_for(enum rp_isa isa)
{
	/* Tables are listed in increasing level: take the last one within isa. */
	for (size_t i = RP__NTABLES; i-- > 0;)
		if (rp__kernel_tables[i]->isa <= isa)
			return rp__kernel_tables[i];
	return &rp__kernels_scalar;
}

const struct rp__kernels *
rp__kernels_best(void)
{
	static const struct rp__kernels *_Atomic best;
	const struct rp__kernels *k = atomic_load_explicit(&best, memory_order_acquire);

	if (k == NULL) {
		/* Concurrent first calls compute the same pointer. */
		k = rp__kernels_for(rp__isa_select(RP_ISA_BEST));
		atomic_store_explicit(&best, k, memory_order_release);
	}
	return k;
}
