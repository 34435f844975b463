# SPDX-License-Identifier: BSD-3-Clause
# tests/htj2k.cmake - radpipe's own HTJ2K codec: synthetic round trips checked by
# three decoders, the corpus and the conformance streams, and the decoder's fuzz target.
rp_add_test(test_htj2k_roundtrip SOURCES test_htj2k_roundtrip.c LABELS unit codec htj2k)
rp_add_test(test_htj2k_corpus SOURCES test_htj2k_corpus.c LABELS corpus codec htj2k)
rp_add_test(test_htj2k_block_dec SOURCES test_htj2k_block_dec.c LABELS unit codec htj2k)
rp_add_test(test_htj2k_block_enc SOURCES test_htj2k_block_enc.c LABELS unit codec htj2k)
rp_add_test(test_htj2k_label SOURCES test_htj2k_label.c LABELS unit codec htj2k)

# Fuzz target for our decoder: the standalone harness runs it over the seeds (small
# codestreams from our encoder and OpenJPH's, written into the build tree first by
# make_htj2k_seeds) and the committed regressions.
if(RP_FUZZ)
  add_executable(fuzz_htj2k_decode fuzz/fuzz_htj2k_decode.c)
  target_compile_options(fuzz_htj2k_decode PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_htj2k_decode PRIVATE -fsanitize=fuzzer)
else()
  add_executable(fuzz_htj2k_decode fuzz/fuzz_htj2k_decode.c fuzz/standalone.c)
endif()
target_link_libraries(fuzz_htj2k_decode PRIVATE radpipe_static)
add_executable(make_htj2k_seeds fuzz/make_htj2k_seeds.c)
target_link_libraries(make_htj2k_seeds PRIVATE radpipe_static)
set(RP_HTJ2K_SEEDS ${CMAKE_CURRENT_BINARY_DIR}/htj2k_seeds)
add_test(NAME fuzz_htj2k_decode_make_seeds COMMAND make_htj2k_seeds ${RP_HTJ2K_SEEDS})
set_tests_properties(fuzz_htj2k_decode_make_seeds PROPERTIES FIXTURES_SETUP htj2k_seeds
                     LABELS fuzz)
add_test(NAME fuzz_htj2k_decode_seeds
         COMMAND fuzz_htj2k_decode ${RP_HTJ2K_SEEDS} ${CMAKE_SOURCE_DIR}/tests/fuzz/regress)
set_tests_properties(fuzz_htj2k_decode_seeds PROPERTIES TIMEOUT 300 LABELS fuzz
                     FIXTURES_REQUIRED htj2k_seeds)

# bench/bench_htj2k.c (speed is measured there, never asserted): built with the tests so
# that bench/CMakeLists.txt stays its owner's; a 1-iteration smoke run keeps it working.
# -DOPENJPH_ROOT=<prefix> builds the bench (and nothing else) against the OpenJPH installed
# there, e.g. an upstream release, instead of the system one: the library's objects plus
# the adapter compiled against <prefix>/include and linked with <prefix>/lib's libopenjph.
if(RP_BUILD_BENCH)
  add_executable(bench_htj2k ${CMAKE_SOURCE_DIR}/bench/bench_htj2k.c)
  if(OPENJPH_ROOT)
    find_library(RP_BENCH_OPENJPH_LIBRARY NAMES openjph
                 PATHS ${OPENJPH_ROOT}/lib ${OPENJPH_ROOT}/lib64 NO_DEFAULT_PATH REQUIRED)
    if(NOT EXISTS ${OPENJPH_ROOT}/include/openjph/ojph_codestream.h)
      message(FATAL_ERROR "OPENJPH_ROOT=${OPENJPH_ROOT} has no include/openjph/ojph_codestream.h")
    endif()
    add_library(radpipe_ojph_root OBJECT ${CMAKE_SOURCE_DIR}/codec/htj2k_ojph.cpp)
    target_include_directories(radpipe_ojph_root BEFORE PRIVATE ${OPENJPH_ROOT}/include)
    target_include_directories(radpipe_ojph_root PRIVATE ${CMAKE_SOURCE_DIR}/include
                               ${CMAKE_SOURCE_DIR})
    target_link_libraries(radpipe_ojph_root PUBLIC ${RP_LIB_DEPS})
    add_library(radpipe_static_ojph_root STATIC $<TARGET_OBJECTS:radpipe_objs>
                $<TARGET_OBJECTS:radpipe_ojph_root>)
    target_link_libraries(radpipe_static_ojph_root PUBLIC ${RP_LIB_DEPS}
                          ${RP_BENCH_OPENJPH_LIBRARY})
    target_include_directories(radpipe_static_ojph_root PUBLIC ${CMAKE_SOURCE_DIR}/include
                               ${CMAKE_SOURCE_DIR})
    target_link_libraries(bench_htj2k PRIVATE radpipe_static_ojph_root)
    message(STATUS "bench_htj2k: OpenJPH from ${OPENJPH_ROOT} (${RP_BENCH_OPENJPH_LIBRARY})")
  else()
    target_link_libraries(bench_htj2k PRIVATE radpipe_static)
  endif()
  set_target_properties(bench_htj2k PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  add_test(NAME bench_htj2k_smoke
           COMMAND bench_htj2k -n 1 -q
                   ${RADPIPE_CORPUS}/ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/I10)
  set_tests_properties(bench_htj2k_smoke PROPERTIES TIMEOUT 300 LABELS bench)
endif()
