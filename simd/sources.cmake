# simd/ - CPU detection and the per-ISA kernel tables (STYLE.md "SIMD kernels").
list(APPEND RP_LIB_SOURCES
  simd/cpu_x86.c)

# RP_DISABLE_CPU_FEATURES is a test-only switch (simd/cpu.h): compiled in only when the
# test suite is built, so an installed library never reads the environment.
option(RP_CPU_ENV_OVERRIDE "Honour RP_DISABLE_CPU_FEATURES (test builds)" ${RP_BUILD_TESTS})
if(RP_CPU_ENV_OVERRIDE)
  set_property(SOURCE simd/cpu_x86.c APPEND PROPERTY COMPILE_DEFINITIONS RP_CPU_ENV_OVERRIDE)
endif()
