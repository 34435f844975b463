# codec/ - the codec table, canonical-frame helpers and one adapter per library.
list(APPEND RP_LIB_SOURCES
  codec/codec.c
  codec/frame.c
  codec/jpegls.c)
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
# The second JPEG-LS decoder, for codestreams CharLS refuses: DCMTK's dcmjpls (Debian
# libdcmtk-dev), headers only in codec/jpegls_dcmtk.cpp.  Optional: without it the stub
# says the fallback is unavailable.  Debian's dcmtk.pc names packages it does not depend
# on (sndfile) and its CMake config drags in every DCMTK module, hence find_library for
# the adapter calls.
#
# libdcmtkcharls (the fork) and CharLS 2's libcharls both export the CharLS 1 API
# (JpegLsDecode, JpegLsReadHeader) under the same unversioned names with different
# JlsParameters layouts, and the dynamic linker binds libdcmjpls's calls to whichever
# comes first in the process: libcharls would corrupt the heap.  So the fork is linked
# first, ahead of libcharls (RP_LIB_DEPS is prepended), and the adapter refuses to decode
# when the names resolve elsewhere (jpegls_dcmtk.cpp, fork_is_bound()).
option(RP_DCMTK_JPEGLS "Link DCMTK's dcmjpls as the second JPEG-LS decoder when found" ON)
if(RP_DCMTK_JPEGLS)
  find_path(DCMTK_JPLS_INCLUDE_DIR NAMES dcmtk/dcmjpls/djcodecd.h)
  find_library(DCMTK_DCMJPLS_LIBRARY NAMES dcmjpls)
  find_library(DCMTK_DCMDATA_LIBRARY NAMES dcmdata)
  find_library(DCMTK_OFLOG_LIBRARY NAMES oflog)
  find_library(DCMTK_OFSTD_LIBRARY NAMES ofstd)
  find_library(DCMTK_CHARLS_LIBRARY NAMES dcmtkcharls)
endif()
if(RP_DCMTK_JPEGLS AND DCMTK_JPLS_INCLUDE_DIR AND DCMTK_DCMJPLS_LIBRARY AND DCMTK_DCMDATA_LIBRARY AND
   DCMTK_OFLOG_LIBRARY AND DCMTK_OFSTD_LIBRARY AND DCMTK_CHARLS_LIBRARY)
  message(STATUS "JPEG-LS fallback decoder: DCMTK dcmjpls (${DCMTK_DCMJPLS_LIBRARY})")
  list(APPEND RP_LIB_SOURCES codec/jpegls_dcmtk.cpp)
  # -I/usr/include would break the C++ headers' #include_next.
  if(NOT DCMTK_JPLS_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set_source_files_properties(codec/jpegls_dcmtk.cpp PROPERTIES
      INCLUDE_DIRECTORIES ${DCMTK_JPLS_INCLUDE_DIR})
  endif()
  list(PREPEND RP_LIB_DEPS "-Wl,--push-state,--no-as-needed" ${DCMTK_CHARLS_LIBRARY}
       "-Wl,--pop-state" ${DCMTK_DCMJPLS_LIBRARY} ${DCMTK_DCMDATA_LIBRARY}
       ${DCMTK_OFLOG_LIBRARY} ${DCMTK_OFSTD_LIBRARY} ${CMAKE_DL_LIBS})
else()
  message(STATUS "JPEG-LS fallback decoder: none (RP_DCMTK_JPEGLS=ON and libdcmtk-dev give DCMTK dcmjpls)")
  list(APPEND RP_LIB_SOURCES codec/jpegls_dcmtk_absent.c)
endif()
