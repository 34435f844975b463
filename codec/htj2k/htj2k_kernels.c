/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/htj2k_kernels.c - the codec's kernel tables, one per ISA level built, and
 * the choice among them (simd/cpu.h).  Each level's table holds that level's build of
 * every per-ISA kernel: the 5/3 lifting (dwt53*.c) and the fast HT block encoder
 * (ht_block_enc*.c) and decoder (ht_block_dec*.c).  Every level computes the same
 * integers and writes the same bytes, so output never depends on the choice. */
#include "codec/htj2k/ht_block_dec.h"
#include "codec/htj2k/ht_block_enc.h"
#include "codec/htj2k/ht_internal.h"

static const struct rp__htj2k_kernels rp__htj2k_kernels_scalar = {
	.name = "scalar",
	.isa = RP_ISA_SCALAR,
	.dwt = &rp__dwt_kernels_scalar,
	.encode_block = rp__ht_encode_block_scalar,
	.decode_block = rp__ht_decode_block_scalar,
};

#ifdef RP_HAVE_AVX2
static const struct rp__htj2k_kernels rp__htj2k_kernels_avx2 = {
	.name = "avx2",
	.isa = RP_ISA_AVX2,
	.dwt = &rp__dwt_kernels_avx2,
	.encode_block = rp__ht_encode_block_avx2,
	.decode_block = rp__ht_decode_block_avx2,
};
#endif

#ifdef RP_HAVE_AVX512
static const struct rp__htj2k_kernels rp__htj2k_kernels_avx512 = {
	.name = "avx512",
	.isa = RP_ISA_AVX512,
	.dwt = &rp__dwt_kernels_avx512,
	.encode_block = rp__ht_encode_block_avx512,
	.decode_block = rp__ht_decode_block_avx512,
};
#endif

/* In increasing level. */
static const struct rp__htj2k_kernels *const rp__htj2k_tables[] = {
	&rp__htj2k_kernels_scalar,
#ifdef RP_HAVE_AVX2
	&rp__htj2k_kernels_avx2,
#endif
#ifdef RP_HAVE_AVX512
	&rp__htj2k_kernels_avx512,
#endif
};

#define RP__HTJ2K_NTABLES (sizeof(rp__htj2k_tables) / sizeof(rp__htj2k_tables[0]))

const struct rp__htj2k_kernels *
rp__htj2k_kernels_for(enum rp_isa isa)
{
	for (size_t i = RP__HTJ2K_NTABLES; i-- > 0;)
		if (rp__htj2k_tables[i]->isa <= isa)
			return rp__htj2k_tables[i];
	return &rp__htj2k_kernels_scalar;
}

const struct rp__htj2k_kernels *
rp__htj2k_kernels_at(size_t index)
{
	return index < RP__HTJ2K_NTABLES ? rp__htj2k_tables[index] : NULL;
}
