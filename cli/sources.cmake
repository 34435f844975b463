# cli/ - the radpipe command; links the shared library and uses the public API only.
add_executable(radpipe_cli
  cli/radpipe.c
  cli/cli_util.c
  cli/config_file.c
  cli/cmd_info.c
  cli/cmd_compress.c
  cli/cmd_verify.c
  cli/cmd_report.c
  cli/cmd_send.c
  cli/cmd_serve.c
  cli/cmd_gateway.c
  cli/cmd_status.c
  cli/cmd_keygen.c
  cli/cmd_audit.c
  cli/cmd_bench.c)
target_link_libraries(radpipe_cli PRIVATE radpipe Threads::Threads)
target_include_directories(radpipe_cli PRIVATE ${CMAKE_SOURCE_DIR}/include)
set_target_properties(radpipe_cli PROPERTIES OUTPUT_NAME radpipe
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
include(${CMAKE_SOURCE_DIR}/bench/buildinfo.cmake)
