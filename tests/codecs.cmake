# SPDX-License-Identifier: BSD-3-Clause
# tests/codecs.cmake - issue 3's codecs: J2K, HTJ2K (OpenJPH), JPEG, JPEG lossless, RLE.
rp_add_test(test_codec_roundtrip SOURCES test_codec_roundtrip.c LABELS unit codec)
target_link_libraries(test_codec_roundtrip PRIVATE m)
