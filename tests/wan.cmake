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

# STAT preemption through `radpipe gateway` over the emulated 200 Mbit/s / 100 ms link
# (bench/wan/stat_preempt.py): a ~1 GB routine study is being sent when a 20-slice STAT
# study arrives; it must reach the far site within 5 s + its own transfer time of its last
# C-STORE, and the routine one must resume and arrive whole.  /usr/bin/python3: pydicom
# (the studies are made from the corpus) is installed only for Debian's interpreter.
# Skips (77) where network namespaces cannot be made or storescu is missing.
add_test(NAME wan_stat_preempt
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/bench/wan/stat_preempt.py
                 --radpipe $<TARGET_FILE:radpipe_cli> --wanemu $<TARGET_FILE:rp_wanemu>
                 --netns ${CMAKE_SOURCE_DIR}/bench/wan/netns.sh)
set_tests_properties(wan_stat_preempt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200
                     ENVIRONMENT "RADPIPE_CORPUS=${RADPIPE_CORPUS}"
                     RUN_SERIAL TRUE LABELS "wan;gateway")
