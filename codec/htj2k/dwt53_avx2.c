/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_avx2.c - the 5/3 lifting kernels of dwt53_impl.h built with AVX2 (this
 * file alone gets the AVX2 flags and -O3, see codec/htj2k/sources.cmake): the compiler
 * turns the row loops of the vertical pass and the split-line loops of the horizontal pass
 * into 8-lane integer code.  Reached only through the avx2 table of htj2k_kernels.c. */
#define RP__ISA_BUILD avx2
#include "simd/isa_build.h"
#include "codec/htj2k/dwt53_impl.h"
