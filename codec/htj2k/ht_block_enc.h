/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc.h - the per-ISA builds of the fast HT block encoder
 * (ht_block_enc_impl.h) and what they share; reached through struct rp__htj2k_kernels. */
#ifndef RP_CODEC_HTJ2K_HT_BLOCK_ENC_H
#define RP_CODEC_HTJ2K_HT_BLOCK_ENC_H

#include "codec/htj2k/ht_internal.h"

/* U-VLC codes of a quad pair's exponent offsets (u0, u1 < 32), prefixes, suffixes and
 * extensions in stream order as one word: entry u0 * 32 + u1 holds the bits (least
 * significant first) in bits 0..23 and their count in bits 24..31.  Entries 0..1023 are
 * for the first line pair (its MEL-assisted form), 1024..2047 for the others.  Never NULL;
 * thread-safe (built on first use). */
const uint32_t *rp__ht_uvlc_tables(void);

rp__ht_encode_block_fn rp__ht_encode_block_scalar;
rp__ht_encode_block_fn rp__ht_encode_block_avx2;
rp__ht_encode_block_fn rp__ht_encode_block_avx512;

#endif /* RP_CODEC_HTJ2K_HT_BLOCK_ENC_H */
