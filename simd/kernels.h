/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/kernels.h - the sample kernels around the codecs, one table per ISA level.
 *
 * Every kernel has a scalar twin (simd/scalar/) that is both the reference the tests
 * compare against and the tail handler the vector versions call for the last few
 * samples.  Pointers need no alignment (DICOM pixel data starts wherever the dataset puts
 * it, often at an odd offset inside an mmap) and counts are in samples (or pixels for the
 * 3-component kernels).  A table is chosen once, when an encoder/decoder is created:
 *     enc->k = rp__kernels_select(opts->cpu_mask);
 * and used in the hot loop as enc->k->bswap16(dst, src, n). */
#ifndef RP_SIMD_KERNELS_H
#define RP_SIMD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Swaps the bytes of count 16-bit samples (big-endian DICOM -> little-endian).  dst may
 * equal src; other overlaps are not allowed. */
typedef void rp__bswap16_fn(void *dst, const void *src, size_t count);

/* Smallest and largest of count little-endian samples, read as uint16_t (minmax_u16) or
 * int16_t (minmax_s16).  count == 0 gives min = type max, max = type min.  Because a
 * sample is a clean sign/zero extension of its low bits_stored bits exactly when its value
 * lies in [-2^(bs-1), 2^(bs-1)) (signed) or [0, 2^bs) (unsigned), the scan bounds the
 * values; bits_clean16 is the BitsStored check itself. */
typedef void rp__minmax_u16_fn(const void *src, size_t count, uint16_t *min, uint16_t *max);
typedef void rp__minmax_s16_fn(const void *src, size_t count, int16_t *min, int16_t *max);

/* 1 when every one of count samples is a clean 16-bit container of a bits-bit value as
 * codec/frame.c defines it: the bits above `bits` are all zero (zero extension) or, for
 * signed images, bits-1 and up are all one (sign extension of a negative value).  0 when
 * some sample carries other bits there (overlays).  bits in 1..16. */
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
	X(bswap16) X(minmax_u16) X(minmax_s16) X(bits_clean16) X(mask16) X(sext16)       \
	X(interleave3_u8) X(deinterleave3_u8)

struct rp__kernels {
	const char *name;            /* "scalar", "avx2", "avx512": printed by benches */
	uint32_t features;           /* RP__CPU_* bits this table needs */
	unsigned vec_bytes;          /* widest vector it uses (tests size around it) */
#define X(k) rp__##k##_fn *k;
	RP__KERNEL_LIST(X)
#undef X
};

/* The best table for rp__cpu_features(mask).  Never NULL; thread-safe. */
const struct rp__kernels *rp__kernels_select(uint32_t mask);

/* The i-th table compiled into this build, scalar first, NULL past the end: tests and
 * benches walk them (checking `features` against rp__cpu_features(0) before calling). */
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

/* Vector versions, present when the build enables the ISA (RP_ENABLE_AVX2/AVX512). */
rp__bswap16_fn rp__bswap16_avx2, rp__bswap16_avx512;
rp__minmax_u16_fn rp__minmax_u16_avx2, rp__minmax_u16_avx512;
rp__minmax_s16_fn rp__minmax_s16_avx2, rp__minmax_s16_avx512;
rp__bits_clean16_fn rp__bits_clean16_avx2, rp__bits_clean16_avx512;
rp__mask16_fn rp__mask16_avx2, rp__mask16_avx512;
rp__sext16_fn rp__sext16_avx2, rp__sext16_avx512;
rp__interleave3_u8_fn rp__interleave3_u8_avx2;
rp__deinterleave3_u8_fn rp__deinterleave3_u8_avx2;

#endif /* RP_SIMD_KERNELS_H */
