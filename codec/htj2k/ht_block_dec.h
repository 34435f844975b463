/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec.h - the HT cleanup pass decoders inside codec/htj2k/: the fast
 * two-phase one (ht_block_dec.c, one build per ISA level) and the one-sample-at-a-time
 * reference it must match (ht_block_dec_ref.c).  The fast one is reached through struct
 * rp__htj2k_kernels (ht_internal.h). */
#ifndef RP_CODEC_HTJ2K_HT_BLOCK_DEC_H
#define RP_CODEC_HTJ2K_HT_BLOCK_DEC_H

#include "codec/htj2k/ht_internal.h"

/* Same contract as rp__ht_decode_block_fn (ht_internal.h): RP_OK, RP_E_CORRUPT for a
 * segment no valid encoder makes, RP_E_UNSUPPORTED for block sizes or max_bits outside
 * the profile.  On
 * RP_OK the coefficients of every decoder here are identical; on an error, which
 * coefficients were written is unspecified. */
int rp__ht_decode_block_ref(const uint8_t *seg, size_t len, unsigned w, unsigned h, int32_t *coef,
			    size_t stride, unsigned max_bits);

/* The CxtVLC decoding tables of rp__ht_tables (first line pair, then the others), 2048
 * entries each: index (c_q << 7) | next 7 bits, and (1 << 10) | anything for a quad that
 * MEL made insignificant (all zero).  Entry: bits 0-2 codeword length, 3-5 zero (so that
 * the entry is its own shift count), 6 u_off, 7-9 the part of the next quad's index that
 * this quad's rho gives, 10 and 11 u_off again (where the u_q table's row offset in bytes
 * takes it for the first and the second quad of a pair), 16-31 the rp__ht_tables word
 * (rho, u_off, e_k, e_1).  Never NULL; built once, thread-safe. */
const uint32_t *rp__ht_dec32(void);

/* One build of the fast decoder per ISA (ht_block_dec_impl.h). */
rp__ht_decode_block_fn rp__ht_decode_block_scalar;
rp__ht_decode_block_fn rp__ht_decode_block_avx2;
rp__ht_decode_block_fn rp__ht_decode_block_avx512;

#endif /* RP_CODEC_HTJ2K_HT_BLOCK_DEC_H */
