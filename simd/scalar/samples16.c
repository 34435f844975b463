/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/scalar/samples16.c - scalar 16-bit sample kernels: the reference the vector
 * versions are tested against, and their tail handlers.  Loads and stores go through
 * memcpy because DICOM pixel data is not aligned; compilers turn them into plain moves. */
#include "simd/kernels.h"

#include <string.h>

static inline uint16_t
ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline void
st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

void
rp__bswap16_scalar(void *dst, const void *src, size_t count)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	for (size_t i = 0; i < count; i++) {
		uint16_t v = ld16(s + 2 * i);
		st16(d + 2 * i, (uint16_t)((v << 8) | (v >> 8)));
	}
}

int
rp__bits_clean16_scalar(const void *src, size_t count, unsigned bits, int is_signed)
{
	const uint8_t *s = src;
	/* t = the sample's bits from bits-1 up: 0 or 1 means nothing above `bits`; all ones
	 * is a sign extension. */
	const unsigned sh = bits - 1;
	const uint16_t ones = (uint16_t)(0xffffu >> sh);
	int ok = 1;

	for (size_t i = 0; i < count; i++) {
		uint16_t t = (uint16_t)(ld16(s + 2 * i) >> sh);
		ok &= t <= 1 || (is_signed && t == ones);
	}
	return ok;
}

void
rp__mask16_scalar(void *dst, const void *src, size_t count, unsigned bits)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	const uint16_t m = (uint16_t)((1u << bits) - 1);

	for (size_t i = 0; i < count; i++)
		st16(d + 2 * i, (uint16_t)(ld16(s + 2 * i) & m));
}

void
rp__sext16_scalar(void *dst, const void *src, size_t count, unsigned bits)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	/* Shift the sign bit of the bits-bit field up to bit 15, then back down
	 * arithmetically; done in 32 bits so no shift is undefined. */
	const unsigned up = 16 - bits;

	for (size_t i = 0; i < count; i++) {
		int32_t v = (int32_t)((uint32_t)ld16(s + 2 * i) << (16 + up));
		st16(d + 2 * i, (uint16_t)(v >> (16 + up)));
	}
}

int
rp__kernels_high_bits_clean16(const struct rp__kernels *k, const void *src, size_t count,
			      unsigned bits, int is_signed)
{
	if (bits >= 16 || bits == 0 || count == 0)
		return 1;
	return k->bits_clean16(src, count, bits, is_signed);
}
