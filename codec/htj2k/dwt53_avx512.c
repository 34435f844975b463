/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/dwt53_avx512.c - the 5/3 lifting kernels of dwt53_impl.h built with
 * AVX-512 (this file alone gets the AVX-512 flags and -O3, see codec/htj2k/sources.cmake):
 * the compiler turns the row loops into 16-lane code.  On a 512 x 512 CT slice it gains
 * little over AVX2 (1.45 vs 1.65 cycles/pixel forward): the passes are bound by cache
 * bandwidth, not arithmetic.  Reached only through the avx512 table of htj2k_kernels.c. */
#define RP__ISA_BUILD avx512
#include "simd/isa_build.h"
#include "codec/htj2k/dwt53_impl.h"
