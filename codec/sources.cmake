# codec/ - the codec table, canonical-frame helpers, DICOM I/O and one adapter per library.
list(APPEND RP_LIB_SOURCES
  codec/codec.c
  codec/frame.c
  codec/jpegls.c
  codec/dicom/ts.c
  codec/dicom/dict.c
  codec/dicom/parse.c
  codec/dicom/frames.c
  codec/dicom/nested.c
  codec/dicom/write.c
  codec/dicom/inflate.c)
# One adapter per library (OpenJPEG, OpenJPH, libjpeg-turbo) and our own JPEG
# lossless and RLE.  Debian's openjph.pc has empty Libs, hence find_library.  The OpenJPH
# adapter is its own object set (RP_OJPH_SOURCES, linked with RP_OJPH_DEPS) so that
# bench_htj2k can be built against another OpenJPH (OPENJPH_ROOT, tests/htj2k.cmake).
set(RP_OJPH_SOURCES codec/htj2k_ojph.cpp)
list(APPEND RP_LIB_SOURCES
  codec/j2k.c
  codec/htj2k_rpcl.c
  codec/jpeg.c
  codec/jpeg12.c
  codec/jpeg_lossless.c
  codec/rle.c)
pkg_check_modules(OPENJP2 REQUIRED IMPORTED_TARGET libopenjp2)
pkg_check_modules(LIBJPEG REQUIRED IMPORTED_TARGET libjpeg)
find_library(OPENJPH_LIBRARY NAMES openjph REQUIRED)
find_path(OPENJPH_INCLUDE_DIR NAMES openjph/ojph_codestream.h REQUIRED)
list(APPEND RP_LIB_DEPS PkgConfig::OPENJP2 PkgConfig::LIBJPEG)
set(RP_OJPH_DEPS ${OPENJPH_LIBRARY})
include(codec/htj2k/sources.cmake)
# JPEG XL lossless through libjxl (Debian libjxl-dev); headers only in codec/jpegxl.c.
list(APPEND RP_LIB_SOURCES codec/jpegxl.c)
pkg_check_modules(LIBJXL REQUIRED IMPORTED_TARGET libjxl)
list(APPEND RP_LIB_DEPS PkgConfig::LIBJXL)
