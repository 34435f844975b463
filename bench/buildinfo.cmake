# SPDX-License-Identifier: BSD-3-Clause
# bench/buildinfo.cmake - what a benchmark line must say about the build: git commit (at
# build time, so a rebuild after a commit is never mislabelled), compiler, and the
# versions of the codec libraries linked.  Makes ${CMAKE_BINARY_DIR}/buildinfo/
# rp_buildinfo.h for the bench programs and `radpipe bench`.
if(NOT TARGET rp_buildinfo)
  set(RP_BUILDINFO_LIBS "")
  foreach(rp_lib CHARLS OPENJP2 OPENJPH LIBJPEG ISAL)
    if(DEFINED ${rp_lib}_VERSION AND NOT "${${rp_lib}_VERSION}" STREQUAL "")
      string(TOLOWER ${rp_lib} rp_lib_l)
      string(APPEND RP_BUILDINFO_LIBS "${rp_lib_l}=${${rp_lib}_VERSION},")
    endif()
  endforeach()
  add_custom_target(rp_buildinfo
    COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}
            -DOUT=${CMAKE_BINARY_DIR}/buildinfo/rp_buildinfo.h
            "-DLIBS=${RP_BUILDINFO_LIBS}"
            "-DCOMPILER=${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}"
            "-DBUILD_TYPE=${CMAKE_BUILD_TYPE}"
            -P ${CMAKE_SOURCE_DIR}/bench/buildinfo-gen.cmake
    BYPRODUCTS ${CMAKE_BINARY_DIR}/buildinfo/rp_buildinfo.h
    COMMENT "Recording git commit and library versions for benchmarks")
endif()
if(TARGET radpipe_cli)
  add_dependencies(radpipe_cli rp_buildinfo)
  target_include_directories(radpipe_cli PRIVATE ${CMAKE_BINARY_DIR}/buildinfo)
endif()
