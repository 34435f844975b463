/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_avx2.c - the 5/3 lifting kernels of dwt53_impl.h built with AVX2 (this
 * file alone gets -mavx2 and -O3, see codec/htj2k/sources.cmake): the compiler turns the
 * row loops of the vertical pass and the split-line loops of the horizontal pass into
 * 8-lane integer code.  Reached only through rp__dwt_kernels_select(). */
#include "codec/htj2k/dwt53_impl.h"

const struct rp__dwt_kernels rp__dwt_kernels_avx2 = {
	.name = "avx2",
	.fwd_vert = fwd_vert,
	.inv_vert = inv_vert,
	.inv_vert_out16 = inv_vert_out16,
	.fwd_vert_in16 = fwd_vert_in16,
	.fwd_line = fwd_line,
	.inv_line = inv_line,
};
