/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/kernels.h - the sample kernels around the codecs, one table per ISA level.
 *
 * Every kernel has a scalar twin (simd/scalar/) that is both the reference the tests
 * compare against and the tail handler the vector versions call for the last few
 * samples.  Pointers need no alignment (DICOM pixel data starts wherever the dataset puts
 * it, often at an odd offset inside an mmap) and counts are in samples (or pixels for the
 * 3-component kernels).  A table is chosen once, from the level an encoder, decoder or
 * pipeline settled on (simd/cpu.h):
 *     pl->k = rp__kernels_for(rp__isa_select(opts->encoder.max_isa));
 * and used in the hot loop as pl->k->bswap16(dst, src, n).  Helpers that get no options
 * (rp_dicom_decode_frame(), codec/frame.c) use rp__kernels_best(). */
#ifndef RP_SIMD_KERNELS_H
#define RP_SIMD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "simd/cpu.h"

/* Swaps the bytes of count 16-bit samples (big-endian DICOM -> little-endian).  dst may
 * equal src; other overlaps are not allowed. */
typedef void rp__bswap16_fn(void *dst, const void *src, size_t count);

/* 1 when every one of count little-endian samples is a clean 16-bit container of a
 * bits-bit value as codec/frame.c defines it: the bits above `bits` are all zero (zero
 * extension) or, for signed images, bits-1 and up are all one (sign extension of a
 * negative value).  0 when some sample carries other bits there (overlays).  bits in
 * 1..16. */
typedef int rp__bits_clean16_fn(const void *src, size_t count, unsigned bits, int is_signed);

/* dst[i] = src[i] & (2^bits - 1): a canonical sample -> the unsigned bits-bit pattern a
 * codec without a sign codes.  bits in 1..16; dst may equal src. */
typedef void rp__mask16_fn(void *dst, const void *src, size_t count, unsigned bits);

/* dst[i] = src[i]'s low `bits` bits sign-extended to 16: the inverse of mask16 for signed
 * images.  bits in 1..16; dst may equal src. */
typedef void rp__sext16_fn(void *dst, const void *src, size_t count, unsigned bits);

/* 8-bit 3-component pixels: planar (PlanarConfiguration 1: all R, then all G, then all B,
 * each plane `pixels` bytes) <-> interleaved (R G B R G B ...).  dst and src must not
 * overlap. */
typedef void rp__interleave3_u8_fn(uint8_t *dst, const uint8_t *src, size_t pixels);
typedef void rp__deinterleave3_u8_fn(uint8_t *dst, const uint8_t *src, size_t pixels);

#define RP__KERNEL_LIST(X)                                                                \
	X(bswap16) X(bits_clean16) X(mask16) X(sext16)                                  \
	X(interleave3_u8) X(deinterleave3_u8)

struct rp__kernels {
	const char *name;            /* "scalar", "avx2", "avx512": printed by benches */
	enum rp_isa isa;             /* the level this table needs */
	unsigned vec_bytes;          /* widest vector it uses (tests size around it) */
#define X(k) rp__##k##_fn *k;
	RP__KERNEL_LIST(X)
#undef X
};

/* The table of the highest level built that is at most isa (a level rp__isa_select()
 * gave, so the CPU runs it).  Never NULL; thread-safe. */
const struct rp__kernels *rp__kernels_for(enum rp_isa isa);

/* rp__kernels_for(rp__isa_select(RP_ISA_BEST)), looked up once: for helpers that get no
 * encoder or decoder options. */
const struct rp__kernels *rp__kernels_best(void);

/* The i-th table compiled into this build, scalar first, NULL past the end: tests and
 * benches walk them (checking `isa` against rp__isa_detected() before calling). */
const struct rp__kernels *rp__kernels_at(size_t index);

/* The BitsStored check on 16-bit samples through k (bits >= 16 or count 0: clean). */
int rp__kernels_high_bits_clean16(const struct rp__kernels *k, const void *src, size_t count,
				  unsigned bits, int is_signed);

/* The tables (simd/dispatch.c builds the inherited ones). */
extern const struct rp__kernels rp__kernels_scalar;

/* Scalar twins, also the vector versions' tail handlers. */
#define X(k) rp__##k##_fn rp__##k##_scalar;
RP__KERNEL_LIST(X)
#undef X

/* Vector versions, present when the build enables the ISA (RP_HAVE_AVX2/AVX512). */
rp__bswap16_fn rp__bswap16_avx2, rp__bswap16_avx512;
rp__bits_clean16_fn rp__bits_clean16_avx2, rp__bits_clean16_avx512;
rp__mask16_fn rp__mask16_avx2, rp__mask16_avx512;
rp__sext16_fn rp__sext16_avx2, rp__sext16_avx512;
rp__interleave3_u8_fn rp__interleave3_u8_avx2;
rp__deinterleave3_u8_fn rp__deinterleave3_u8_avx2;

#endif /* RP_SIMD_KERNELS_H */
