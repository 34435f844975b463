/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_avx2.c - 16-bit sample kernels at 256 bits. */
#define RP__ISA_BUILD avx2
#include "simd/isa_build.h"
#include "simd/x86/samples16_impl.h"
