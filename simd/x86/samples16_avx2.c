/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_avx2.c - 16-bit sample kernels at 256 bits (built with -mavx2). */
#define RP__VEC_BITS 256
#include "simd/x86/samples16_impl.h"
