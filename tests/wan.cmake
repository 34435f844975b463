# SPDX-License-Identifier: BSD-3-Clause
# tests/wan.cmake - CTest smoke case for the WAN link emulator (bench/wan/): a few seconds
# on a tiny profile checking that it forwards, delays, rate-limits and drops.  It skips
# (exit 77) only when this machine cannot create network namespaces.
include(${CMAKE_SOURCE_DIR}/bench/wan/wanemu.cmake)
find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_test(NAME wan_smoke
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/bench/wan/smoke.py
                 --wanemu $<TARGET_FILE:rp_wanemu>
                 --netns ${CMAKE_SOURCE_DIR}/bench/wan/netns.sh)
# RUN_SERIAL: it times packets, so it should not share the 2 cores with codec tests.
set_tests_properties(wan_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 90
                     RUN_SERIAL TRUE LABELS "wan;smoke")
