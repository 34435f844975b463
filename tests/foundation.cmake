# SPDX-License-Identifier: BSD-3-Clause
# tests/foundation.cmake - the foundation's tests: common code, DICOM I/O, JPEG-LS, CLI.
rp_add_test(test_common SOURCES test_common.c LABELS unit)
rp_add_test(test_audit SOURCES test_audit.c LABELS unit)
rp_add_test(test_dicom SOURCES test_dicom.c LABELS unit)
rp_add_test(test_jpegls SOURCES test_jpegls.c LABELS unit codec)
rp_add_test(test_corpus_jpegls SOURCES test_corpus_jpegls.c LABELS corpus codec)
rp_add_test(test_jpegls_fallback SOURCES test_jpegls_fallback.c LABELS corpus codec)
rp_add_test(test_corpus_parse SOURCES test_corpus_parse.c LABELS corpus)

# Every corpus file the tests use is present and unchanged.
add_test(NAME corpus_check COMMAND ${CMAKE_SOURCE_DIR}/corpus/check.sh ${RADPIPE_CORPUS})

# The CLI end to end, with GDCM and DCMTK as independent decoders.
add_test(NAME cli_jpegls_xdecode
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/jpegls_xdecode.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS})
add_test(NAME cli_errors
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/errors.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS})
add_test(NAME cli_integrity
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/integrity.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS})
add_test(NAME cli_audit COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/audit.sh $<TARGET_FILE:radpipe_cli>)
set_tests_properties(cli_jpegls_xdecode cli_errors cli_integrity cli_audit PROPERTIES TIMEOUT 900 LABELS cli)

# The DICOM parser fuzz target, run over the corpus and the committed regressions.
# Without libFuzzer it links tests/fuzz/standalone.c; with RP_FUZZ=ON (clang) it is a real
# libFuzzer binary: `build/tests/fuzz_dicom_parse -max_len=65536 CORPUS_DIR`, and CTest
# replays the inputs once (-runs=0).
if(RP_FUZZ)
  add_executable(fuzz_dicom_parse fuzz/fuzz_dicom_parse.c)
  target_compile_options(fuzz_dicom_parse PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_dicom_parse PRIVATE -fsanitize=fuzzer)
  set(RP_FUZZ_REPLAY -runs=0)
else()
  add_executable(fuzz_dicom_parse fuzz/fuzz_dicom_parse.c fuzz/standalone.c)
  set(RP_FUZZ_REPLAY)
endif()
target_link_libraries(fuzz_dicom_parse PRIVATE radpipe_static)
add_test(NAME fuzz_dicom_parse_corpus
         COMMAND fuzz_dicom_parse ${RP_FUZZ_REPLAY} ${RADPIPE_CORPUS}/edge
                 ${RADPIPE_CORPUS}/ct/dicomparser ${RADPIPE_CORPUS}/mr/pydicom
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/regress ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds)
set_tests_properties(fuzz_dicom_parse_corpus PROPERTIES TIMEOUT 900 LABELS fuzz)

# A multi-frame object much larger than what compress and decompress hold, under a
# fixed resident size with the defaults, its frames read back by pydicom and DCMTK.
if(RP_SANITIZE OR RP_TSAN)
  set(RP_BUILD_KIND sanitized)
else()
  set(RP_BUILD_KIND plain)
endif()
add_test(NAME cli_large_object
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/large_object.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS} ${RP_BUILD_KIND})
set_tests_properties(cli_large_object PROPERTIES TIMEOUT 900 LABELS cli)

# Icons (Icon Image Sequence) through compress and decompress, read back by pydicom and
# DCMTK.
add_test(NAME cli_icon
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/icon.sh $<TARGET_FILE:radpipe_cli>
                 ${RADPIPE_CORPUS})
set_tests_properties(cli_icon PROPERTIES TIMEOUT 900 LABELS cli)
