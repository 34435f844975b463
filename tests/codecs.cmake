# SPDX-License-Identifier: BSD-3-Clause
# tests/codecs.cmake - the library codecs: J2K, HTJ2K (OpenJPH), JPEG (with our 12-bit
# decoder), JPEG lossless, RLE.
rp_add_test(test_codec_roundtrip SOURCES test_codec_roundtrip.c LABELS unit codec)
target_link_libraries(test_codec_roundtrip PRIVATE m)

# Fuzz targets for the three decoders we wrote ourselves (JPEG lossless, RLE, 12-bit
# JPEG), run by the standalone harness over their seeds (synthetic frames from our
# encoders, with the image chosen by the input's tail) and the committed regressions.
# With RP_FUZZ=ON and clang, link the same sources with -fsanitize=fuzzer instead.
foreach(target jpeg_lossless rle_decode jpeg12)
  if(RP_FUZZ)
    add_executable(fuzz_${target} fuzz/fuzz_${target}.c)
    target_compile_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_${target} fuzz/fuzz_${target}.c fuzz/standalone.c)
  endif()
  target_link_libraries(fuzz_${target} PRIVATE radpipe_static)
  add_test(NAME fuzz_${target}_seeds
           COMMAND fuzz_${target} ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/${target}
                   ${CMAKE_SOURCE_DIR}/tests/fuzz/regress)
  set_tests_properties(fuzz_${target}_seeds PROPERTIES TIMEOUT 300 LABELS fuzz)
endforeach()

# The corpus: every compressed file of our syntaxes against its twin and an independent
# decoder (gdcmconv, dcmdjpeg, opj_decompress), and native files through each encoder.
rp_add_test(test_codec_corpus SOURCES test_codec_corpus.c LABELS corpus codec)

# The cross-decoder matrix: our j2k/htj2k/rle/jpeg-lossless output in opj_decompress,
# ojph_expand, gdcmconv, dcmdrle and dcmdjpeg.
rp_add_test(test_codec_xdecode SOURCES test_codec_xdecode.c LABELS corpus codec xdecode)

# JPEG 2000 and HTJ2K conformance codestreams against opj_decompress.
rp_add_test(test_codec_conformance SOURCES test_codec_conformance.c LABELS corpus codec)

# End to end through the CLI: radpipe compress -c j2k|htj2k-ojph|rle|jpeg-lossless, then
# GDCM, DCMTK, OpenJPEG and OpenJPH tools must give back the original pixels.  Debian's
# python3 carries pydicom/numpy (a pyenv python on PATH may not).
find_program(RP_SYSTEM_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
add_test(NAME cli_codec_xdecode
         COMMAND ${RP_SYSTEM_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/xdecode/cli_xdecode.py
                 $<TARGET_FILE:radpipe_cli> ${RADPIPE_CORPUS})
set_tests_properties(cli_codec_xdecode PROPERTIES TIMEOUT 600 LABELS "cli;xdecode")

# JPEG XL lossless (codec/jpegxl.c over libjxl): synthetic, djxl cross-check, corrupt
# streams, corpus CT/MR.  Its fuzz target runs over seeds made by our encoder (each with
# the 6-byte image tail the target reads).
rp_add_test(test_jpegxl SOURCES test_jpegxl.c LABELS unit codec corpus)
if(RP_FUZZ)
  add_executable(fuzz_jpegxl_decode fuzz/fuzz_jpegxl_decode.c)
  target_compile_options(fuzz_jpegxl_decode PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_jpegxl_decode PRIVATE -fsanitize=fuzzer)
else()
  add_executable(fuzz_jpegxl_decode fuzz/fuzz_jpegxl_decode.c fuzz/standalone.c)
endif()
target_link_libraries(fuzz_jpegxl_decode PRIVATE radpipe_static)
add_test(NAME fuzz_jpegxl_decode_seeds
         COMMAND fuzz_jpegxl_decode ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/jpegxl_decode
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/regress)
set_tests_properties(fuzz_jpegxl_decode_seeds PROPERTIES TIMEOUT 300 LABELS fuzz)
