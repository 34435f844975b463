/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_avx512.c - the 5/3 lifting kernels of dwt53_impl.h built with
 * AVX-512 (this file alone gets the AVX-512 flags and -O3, see codec/htj2k/sources.cmake):
 * the compiler turns the row loops into 16-lane code.  On a 512 x 512 CT slice it gains
 * little over AVX2 (1.45 vs 1.65 cycles/pixel forward): the passes are bound by cache
 * bandwidth, not arithmetic.  Reached only through rp__dwt_kernels_select(). */
#include "codec/htj2k/dwt53_impl.h"

const struct rp__dwt_kernels rp__dwt_kernels_avx512 = {
	.name = "avx512",
	.fwd_vert = fwd_vert,
	.inv_vert = inv_vert,
	.inv_vert_out16 = inv_vert_out16,
	.fwd_vert_in16 = fwd_vert_in16,
	.fwd_line = fwd_line,
	.inv_line = inv_line,
};
