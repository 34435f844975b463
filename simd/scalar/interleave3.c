/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/scalar/interleave3.c - scalar planar <-> interleaved conversion of 8-bit
 * 3-component pixels (PlanarConfiguration, DICOM PS3.3 C.7.6.3.1.3). */
#include "simd/kernels.h"

void
rp__interleave3_u8_scalar(uint8_t *dst, const uint8_t *src, size_t pixels)
{
	const uint8_t *r = src, *g = src + pixels, *b = src + 2 * pixels;

	for (size_t i = 0; i < pixels; i++) {
		dst[3 * i] = r[i];
		dst[3 * i + 1] = g[i];
		dst[3 * i + 2] = b[i];
	}
}

void
rp__deinterleave3_u8_scalar(uint8_t *dst, const uint8_t *src, size_t pixels)
{
	uint8_t *r = dst, *g = dst + pixels, *b = dst + 2 * pixels;

	for (size_t i = 0; i < pixels; i++) {
		r[i] = src[3 * i];
		g[i] = src[3 * i + 1];
		b[i] = src[3 * i + 2];
	}
}
