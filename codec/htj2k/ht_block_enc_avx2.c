/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_avx2.c - the fast HT block encoder built with AVX2 (this file
 * alone gets the AVX2 flags, see sources.cmake): eight columns of two rows at a time into
 * quad order.  Reached only through the avx2 table of codec/htj2k/htj2k_kernels.c. */
#define RP__ISA_BUILD avx2
#include "simd/isa_build.h"
#include "codec/htj2k/ht_block_enc_impl.h"
