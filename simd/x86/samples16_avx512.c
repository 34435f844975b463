/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_avx512.c - 16-bit sample kernels at 512 bits (built with
 * -mavx512f -mavx512bw). */
#define RP__VEC_BITS 512
#include "simd/x86/samples16_impl.h"
