/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/x86/samples16_avx512.c - 16-bit sample kernels at 512 bits. */
#define RP__ISA_BUILD avx512
#include "simd/isa_build.h"
#include "simd/x86/samples16_impl.h"
