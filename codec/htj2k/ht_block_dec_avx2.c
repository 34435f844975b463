/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_avx2.c - the fast HT cleanup decoder (ht_block_dec_impl.h)
 * built with AVX2 + BMI2 (this file alone gets RP_AVX2_FLAGS): the same C as the scalar
 * build, where shlx/shrx/bzhi and lzcnt shorten the per-sample bit extraction.  Reached
 * only through rp__ht_decode_block() / rp__ht_decode_block_isa(). */
#define RP__HTDEC_NAME rp__ht_decode_block_avx2
#include "codec/htj2k/ht_block_dec_impl.h"
