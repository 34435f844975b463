/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_avx2.c - the fast HT block encoder built with AVX2 (this file
 * alone gets the AVX2 flags, see sources.cmake): eight columns of two rows at a time into
 * quad order.  Reached only through rp__ht_encode_block(). */
#define HTE_FN rp__ht_encode_block_avx2
#include "codec/htj2k/ht_block_enc_impl.h"
