/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_avx512.c - the fast HT block encoder built with AVX-512
 * (F/BW/DQ/VL; this file alone gets those flags, see sources.cmake): sixteen columns of
 * two rows at a time, bit lengths by truncating conversion.  Reached only through
 * rp__ht_encode_block(). */
#define HTE_FN rp__ht_encode_block_avx512
#include "codec/htj2k/ht_block_enc_impl.h"
