/* SPDX-License-Identifier: BSD-3-Clause */
/* simd/cpu.h - the ISA levels radpipe's own kernels are built for, and the one place that
 * decides which level runs.
 *
 * The convention (every codec with per-ISA code follows it; simd/README.md has the how-to):
 *
 *  - Levels are enum rp_isa (include/radpipe/codec.h): RP_ISA_SCALAR < RP_ISA_AVX2 <
 *    RP_ISA_AVX512, each including the ones below.  The CPU is probed once
 *    (rp__isa_detected(); CPUID + XCR0) and never again.
 *  - The level is chosen once per encoder/decoder: rp_encoder_create() and
 *    rp_decoder_create() store rp__isa_select(opts->max_isa), the lower of the caller's
 *    ceiling and what the CPU and build run, in their parameters.  Codecs turn that level
 *    into their kernel table (simd/kernels.h rp__kernels_for(), codec/htj2k
 *    rp__htj2k_kernels_for()) once per frame or context and pass the table down; no kernel
 *    looks at the CPU itself.
 *  - A kernel written once for several levels lives in <kernel>_impl.h and is built once
 *    per level by <kernel>_<isa>.c (or <kernel>.c for the scalar build), which defines
 *    RP__ISA_BUILD and includes simd/isa_build.h first: entry points are named
 *    RP__ISA_FN(name), i.e. name_scalar / name_avx2 / name_avx512.
 *  - CMake gives a file its level's flags through one helper, rp_add_isa_sources(ISA
 *    files...) in simd/sources.cmake, which also defines RP_HAVE_AVX2 / RP_HAVE_AVX512
 *    for the library so the tables list only the builds that exist.
 *  - Test builds honour RP_DISABLE_CPU_FEATURES=avx512,avx2 (read once; an unknown name
 *    aborts), which lowers the detected level, so CTest reruns whole suites on each path. */
#ifndef RP_SIMD_CPU_H
#define RP_SIMD_CPU_H

#include <radpipe/codec.h>

/* The highest level this CPU and OS run (ignoring what this build compiled), lowered by
 * RP_DISABLE_CPU_FEATURES in test builds.  Probed on the first call; thread-safe. */
enum rp_isa rp__isa_detected(void);

/* The highest level compiled into this build (RP_ENABLE_AVX2 / RP_ENABLE_AVX512). */
enum rp_isa rp__isa_built(void);

/* min(ceiling, rp__isa_detected(), rp__isa_built()): the level an encoder or decoder with
 * max_isa = ceiling runs.  RP_ISA_BEST means no ceiling; any value outside enum rp_isa
 * gives RP_ISA_SCALAR (callers validate options before). */
enum rp_isa rp__isa_select(enum rp_isa ceiling);

/* 1 when ceiling is one of enum rp_isa's values. */
int rp__isa_valid(enum rp_isa ceiling);

#endif /* RP_SIMD_CPU_H */
