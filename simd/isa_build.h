/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/isa_build.h - the one template convention for code built once per ISA level
 * (simd/cpu.h).  A build file defines RP__ISA_BUILD to scalar, avx2 or avx512 and includes
 * this before the kernel's <kernel>_impl.h:
 *
 *     #define RP__ISA_BUILD avx2
 *     #include "simd/isa_build.h"
 *     #include "codec/htj2k/ht_block_enc_impl.h"
 *
 * The impl header names what it defines RP__ISA_FN(name) (name_avx2 here; RP__ISA_NAME is
 * "avx2") and may test
 * RP__ISA_LEVEL (RP__ISA_ID_scalar / _avx2 / _avx512) in #if for level-specific code.
 * A vector build compiled without its flags stops here, so a file can never be named
 * for a level it does not use (flags come from rp_add_isa_sources(), simd/sources.cmake). */
#ifndef RP_SIMD_ISA_BUILD_H
#define RP_SIMD_ISA_BUILD_H

#ifndef RP__ISA_BUILD
#error "define RP__ISA_BUILD (scalar, avx2 or avx512) before including simd/isa_build.h"
#endif

/* The values of enum rp_isa, for the preprocessor (simd/cpu_x86.c checks they agree). */
#define RP__ISA_ID_scalar 0
#define RP__ISA_ID_avx2 1
#define RP__ISA_ID_avx512 2

#define RP__ISA_PASTE_(a, b) a##b
#define RP__ISA_PASTE(a, b) RP__ISA_PASTE_(a, b)
#define RP__ISA_LEVEL RP__ISA_PASTE(RP__ISA_ID_, RP__ISA_BUILD)
#define RP__ISA_FN(name) RP__ISA_PASTE(name##_, RP__ISA_BUILD)
#define RP__ISA_STR_(x) #x
#define RP__ISA_STR(x) RP__ISA_STR_(x)
#define RP__ISA_NAME RP__ISA_STR(RP__ISA_BUILD)    /* "avx2": for tables and benches */

#if RP__ISA_LEVEL >= RP__ISA_ID_avx2 && \
	!(defined(__AVX2__) && defined(__BMI2__) && defined(__FMA__))
#error "an AVX2 build needs RP_AVX2_FLAGS: list the file in rp_add_isa_sources(AVX2 ...)"
#endif
#if RP__ISA_LEVEL >= RP__ISA_ID_avx512 && !(defined(__AVX512F__) && defined(__AVX512BW__) && \
					     defined(__AVX512DQ__) && defined(__AVX512VL__))
#error "an AVX-512 build needs RP_AVX512_FLAGS: list the file in rp_add_isa_sources(AVX512 ...)"
#endif

#endif /* RP_SIMD_ISA_BUILD_H */
