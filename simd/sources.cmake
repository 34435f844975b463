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

# Each ISA file gets its own flags and is reached only through the tables.  A requested
# ISA the compiler cannot build stops the configure run: it is never dropped quietly.
include(CheckCCompilerFlag)
set(RP_AVX2_FLAGS -mavx2 -mbmi -mbmi2 -mfma)
set(RP_AVX512_FLAGS ${RP_AVX2_FLAGS} -mavx512f -mavx512bw -mavx512dq -mavx512vl)
if(RP_ENABLE_AVX2)
  check_c_compiler_flag("-mavx2 -mbmi2 -mfma" RP_CC_HAS_AVX2)
  if(NOT RP_CC_HAS_AVX2)
    message(FATAL_ERROR "RP_ENABLE_AVX2 is ON but ${CMAKE_C_COMPILER} lacks -mavx2; "
                        "set -DRP_ENABLE_AVX2=OFF to build without it")
  endif()
  set(RP_AVX2_KERNEL_SOURCES simd/x86/samples16_avx2.c simd/x86/interleave3_avx2.c)
  list(APPEND RP_LIB_SOURCES ${RP_AVX2_KERNEL_SOURCES})
  set_source_files_properties(${RP_AVX2_KERNEL_SOURCES} PROPERTIES
    COMPILE_OPTIONS "${RP_AVX2_FLAGS}")
  set_property(SOURCE simd/dispatch.c APPEND PROPERTY COMPILE_DEFINITIONS RP_HAVE_AVX2_KERNELS)
endif()
if(RP_ENABLE_AVX512)
  if(NOT RP_ENABLE_AVX2)
    message(FATAL_ERROR "RP_ENABLE_AVX512 needs RP_ENABLE_AVX2 (the AVX-512 table reuses "
                        "AVX2 kernels)")
  endif()
  check_c_compiler_flag("-mavx512f -mavx512bw -mavx512dq -mavx512vl" RP_CC_HAS_AVX512)
  if(NOT RP_CC_HAS_AVX512)
    message(FATAL_ERROR "RP_ENABLE_AVX512 is ON but ${CMAKE_C_COMPILER} lacks -mavx512bw; "
                        "set -DRP_ENABLE_AVX512=OFF to build without it")
  endif()
  set(RP_AVX512_KERNEL_SOURCES simd/x86/samples16_avx512.c)
  list(APPEND RP_LIB_SOURCES ${RP_AVX512_KERNEL_SOURCES})
  set_source_files_properties(${RP_AVX512_KERNEL_SOURCES} PROPERTIES
    COMPILE_OPTIONS "${RP_AVX512_FLAGS}")
  set_property(SOURCE simd/dispatch.c APPEND PROPERTY COMPILE_DEFINITIONS RP_HAVE_AVX512_KERNELS)
endif()
