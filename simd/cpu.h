/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/cpu.h - which x86 vector extensions this CPU and OS support (CPUID + XCR0),
 * detected once.  Kernel tables (simd/kernels.h) and codecs with their own per-ISA code
 * choose through this, never through compiler builtins of their own. */
#ifndef RP_SIMD_CPU_H
#define RP_SIMD_CPU_H

#include <stdint.h>

#define RP__CPU_AVX2 (1u << 0)     /* AVX2 + BMI2 + FMA, OS saves YMM */
#define RP__CPU_AVX512 (1u << 1)   /* AVX-512 F/BW/DQ/VL, OS saves ZMM and opmasks */

/* Detected features (cached after the first call; thread-safe), restricted by `mask`
 * when it is non-zero.  Test builds also honour RP_DISABLE_CPU_FEATURES=avx512,avx2
 * (read once; an unknown name aborts), so CTest can force the scalar or AVX2 paths. */
uint32_t rp__cpu_features(uint32_t mask);

/* "avx512", "avx2" or "scalar": the best level within features. */
const char *rp__cpu_level_name(uint32_t features);

#endif /* RP_SIMD_CPU_H */
