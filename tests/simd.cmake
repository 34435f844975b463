# tests/simd.cmake - the kernel tables against scalar, once as detected and again with
# RP_DISABLE_CPU_FEATURES forcing the AVX2 and the scalar paths (simd/cpu.h).  Included
# from tests/CMakeLists.txt; needs a build with RP_CPU_ENV_OVERRIDE (the default when
# tests are built), else the forced runs would silently test the detected path.
rp_add_test(kernels ${CMAKE_SOURCE_DIR}/tests/test_kernels.c LABELS simd)

if(NOT RP_CPU_ENV_OVERRIDE)
  message(FATAL_ERROR "tests need RP_CPU_ENV_OVERRIDE=ON (RP_DISABLE_CPU_FEATURES)")
endif()

# Reruns: every test binary that exercises kernels through a codec, plus the kernel test.
# Each forced run checks the selected table's name itself (test_kernels.c test_select).
foreach(rp_simd_forced avx512 avx2)
  add_test(NAME kernels_no_${rp_simd_forced} COMMAND test_kernels)
  set_tests_properties(kernels_no_${rp_simd_forced} PROPERTIES
    ENVIRONMENT "RP_DISABLE_CPU_FEATURES=${rp_simd_forced}" LABELS simd)
endforeach()
