/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_avx512.c - the fast HT block encoder built with AVX-512
 * (F/BW/DQ/VL; this file alone gets those flags, see sources.cmake): sixteen columns of
 * two rows at a time, bit lengths by truncating conversion.  Reached only through the
 * avx512 table of codec/htj2k/htj2k_kernels.c. */
#define RP__ISA_BUILD avx512
#include "simd/isa_build.h"
#include "codec/htj2k/ht_block_enc_impl.h"
