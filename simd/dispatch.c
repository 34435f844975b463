/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/dispatch.c - the kernel tables, one per ISA level, and the choice among them.
 * A level sets only the kernels that pay off and inherits the rest from the level below
 * (static initializers, so nothing is built at run time and selection is two loads). */
#include "simd/kernels.h"
#include "simd/cpu.h"

const struct rp__kernels rp__kernels_scalar = {
	.name = "scalar",
	.features = 0,
	.vec_bytes = 0,
#define X(k) .k = rp__##k##_scalar,
	RP__KERNEL_LIST(X)
#undef X
};

#ifdef RP_HAVE_AVX2_KERNELS
static const struct rp__kernels rp__kernels_avx2 = {
	.name = "avx2",
	.features = RP__CPU_AVX2,
	.vec_bytes = 32,
	.bswap16 = rp__bswap16_avx2,
	.minmax_u16 = rp__minmax_u16_avx2,
	.minmax_s16 = rp__minmax_s16_avx2,
	.bits_clean16 = rp__bits_clean16_avx2,
	.mask16 = rp__mask16_avx2,
	.sext16 = rp__sext16_avx2,
	.interleave3_u8 = rp__interleave3_u8_avx2,
	.deinterleave3_u8 = rp__deinterleave3_u8_avx2,
};
#endif

#ifdef RP_HAVE_AVX512_KERNELS
static const struct rp__kernels rp__kernels_avx512 = {
	.name = "avx512",
	.features = RP__CPU_AVX2 | RP__CPU_AVX512,
	.vec_bytes = 64,
	.bswap16 = rp__bswap16_avx512,
	.minmax_u16 = rp__minmax_u16_avx512,
	.minmax_s16 = rp__minmax_s16_avx512,
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
#ifdef RP_HAVE_AVX2_KERNELS
	&rp__kernels_avx2,
#endif
#ifdef RP_HAVE_AVX512_KERNELS
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
rp__kernels_select(uint32_t mask)
{
	const uint32_t have = rp__cpu_features(mask);

	/* Tables are listed in increasing order of capability: take the last runnable. */
	for (size_t i = RP__NTABLES; i-- > 0;)
		if ((rp__kernel_tables[i]->features & ~have) == 0)
			return rp__kernel_tables[i];
	return &rp__kernels_scalar;
}
