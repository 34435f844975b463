# SPDX-License-Identifier: BSD-3-Clause
# bench/wan/wanemu.cmake - the WAN link emulator target.  Included from tests/wan.cmake
# (its smoke test needs it) and from bench/wan/CMakeLists.txt; defined once.
if(NOT TARGET rp_wanemu)
  add_executable(rp_wanemu ${CMAKE_SOURCE_DIR}/bench/wan/wanemu.c)
  set_target_properties(rp_wanemu PROPERTIES OUTPUT_NAME wanemu
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench/wan)
endif()
