# simd/ - CPU detection and the per-ISA kernel tables (STYLE.md "SIMD kernels").
list(APPEND RP_LIB_SOURCES
  simd/cpu_x86.c
  simd/dispatch.c
  simd/scalar/samples16.c
  simd/scalar/interleave3.c)

# RP_DISABLE_CPU_FEATURES is a test-only switch (simd/cpu.h): compiled in only when the
# test suite is built, so an installed library never reads the environment.
option(RP_CPU_ENV_OVERRIDE "Honour RP_DISABLE_CPU_FEATURES (test builds)" ${RP_BUILD_TESTS})
if(RP_CPU_ENV_OVERRIDE)
  set_property(SOURCE simd/cpu_x86.c APPEND PROPERTY COMPILE_DEFINITIONS RP_CPU_ENV_OVERRIDE)
endif()

# Per-ISA builds (simd/cpu.h, simd/isa_build.h): every file built for one ISA level, here
# or in a codec's sources.cmake, is listed through rp_add_isa_sources(), the only place
# that knows the flags.  A requested ISA the compiler cannot build stops the configure
# run: it is never dropped quietly.  When an ISA is enabled the whole library sees
# RP_HAVE_<ISA>, so the kernel tables list exactly the builds that exist.
include(CheckCCompilerFlag)
set(RP_AVX2_FLAGS -mavx2 -mbmi -mbmi2 -mfma)
set(RP_AVX512_FLAGS ${RP_AVX2_FLAGS} -mavx512f -mavx512bw -mavx512dq -mavx512vl)
if(RP_ENABLE_AVX2)
  check_c_compiler_flag("-mavx2 -mbmi2 -mfma" RP_CC_HAS_AVX2)
  if(NOT RP_CC_HAS_AVX2)
    message(FATAL_ERROR "RP_ENABLE_AVX2 is ON but ${CMAKE_C_COMPILER} lacks -mavx2; "
                        "set -DRP_ENABLE_AVX2=OFF to build without it")
  endif()
  add_compile_definitions(RP_HAVE_AVX2)
endif()
if(RP_ENABLE_AVX512)
  if(NOT RP_ENABLE_AVX2)
    message(FATAL_ERROR "RP_ENABLE_AVX512 needs RP_ENABLE_AVX2 (the AVX-512 builds reuse "
                        "AVX2 kernels)")
  endif()
  check_c_compiler_flag("-mavx512f -mavx512bw -mavx512dq -mavx512vl" RP_CC_HAS_AVX512)
  if(NOT RP_CC_HAS_AVX512)
    message(FATAL_ERROR "RP_ENABLE_AVX512 is ON but ${CMAKE_C_COMPILER} lacks -mavx512bw; "
                        "set -DRP_ENABLE_AVX512=OFF to build without it")
  endif()
  add_compile_definitions(RP_HAVE_AVX512)
endif()

# rp_add_isa_sources(<AVX2|AVX512> file...): adds the files to the library when the ISA
# is enabled, each with that ISA's flags and -O3 (vector code is only worth its build at
# full optimisation, also in Debug), and does nothing otherwise.  The files define
# RP__ISA_BUILD to match (simd/isa_build.h refuses a mismatch).
function(rp_add_isa_sources isa)
  if(NOT isa MATCHES "^(AVX2|AVX512)$")
    message(FATAL_ERROR "rp_add_isa_sources: unknown ISA '${isa}' (AVX2 or AVX512)")
  endif()
  if(NOT RP_ENABLE_${isa})
    return()
  endif()
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${RP_${isa}_FLAGS};-O3")
  set(RP_LIB_SOURCES ${RP_LIB_SOURCES} ${ARGN} PARENT_SCOPE)
endfunction()

rp_add_isa_sources(AVX2 simd/x86/samples16_avx2.c simd/x86/interleave3_avx2.c)
rp_add_isa_sources(AVX512 simd/x86/samples16_avx512.c)
