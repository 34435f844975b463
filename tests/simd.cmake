# tests/simd.cmake - the kernel tables against scalar, once as detected and again with
# RP_DISABLE_CPU_FEATURES forcing the AVX2 and the scalar paths (simd/cpu.h); the same
# reruns for the DICOM pixel-layout, pipeline and codec suites, which dispatch through the
# tables.  Included
# from tests/CMakeLists.txt after the codec suites.
if(NOT RP_CPU_ENV_OVERRIDE)
  message(FATAL_ERROR "tests need RP_CPU_ENV_OVERRIDE=ON (RP_DISABLE_CPU_FEATURES)")
endif()

rp_add_test(test_kernels SOURCES ${CMAKE_SOURCE_DIR}/tests/test_kernels.c LABELS simd)
rp_add_test(test_dicom_pixels SOURCES ${CMAKE_SOURCE_DIR}/tests/test_dicom_pixels.c
            LABELS simd unit)
rp_add_test(test_pipeline SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipeline.c
            LABELS pipeline corpus)

# Each forced run checks the selected table's name itself (test_kernels.c test_select).
# Suites not built in this tree are left out, never faked.
foreach(rp_simd_suite test_kernels test_dicom_pixels test_pipeline test_jpegls
                      test_codec_roundtrip test_htj2k_roundtrip test_corpus_jpegls)
  if(TARGET ${rp_simd_suite})
    foreach(rp_simd_off avx512 avx2)
      add_test(NAME ${rp_simd_suite}_no_${rp_simd_off} COMMAND ${rp_simd_suite})
      set_tests_properties(${rp_simd_suite}_no_${rp_simd_off} PROPERTIES
        ENVIRONMENT "${RP_TEST_ENV};RP_DISABLE_CPU_FEATURES=${rp_simd_off}"
        TIMEOUT 900 LABELS "simd;forced-${rp_simd_off}")
    endforeach()
  endif()
endforeach()
