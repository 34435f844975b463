# tests/transport.cmake - wire format, chunker, FEC, spool and loopback transfer tests.
rp_add_test(test_frame SOURCES test_frame.c LABELS transport)
rp_add_test(test_inflight SOURCES test_inflight.c LABELS transport)
rp_add_test(test_fec SOURCES test_fec.c LABELS transport)
rp_add_test(test_server_lifecycle SOURCES test_server_lifecycle.c LABELS transport)
rp_add_test(test_chunk SOURCES test_chunk.c LABELS transport)
rp_add_test(test_spool SOURCES test_spool.c LABELS transport)

# Fuzz targets for the frame and manifest parsers, run over their seeds and regressions
# (crash inputs go to tests/fuzz/regress/transport/; .gitkeep keeps it in a fresh clone).
foreach(t fuzz_frame_decode fuzz_manifest)
  add_executable(${t} fuzz/${t}.c fuzz/standalone.c)
  target_link_libraries(${t} PRIVATE radpipe_static)
  add_test(NAME ${t}_seeds COMMAND ${t} ${CMAKE_SOURCE_DIR}/tests/fuzz/seeds/transport
           ${CMAKE_SOURCE_DIR}/tests/fuzz/regress/transport)
  set_tests_properties(${t}_seeds PROPERTIES TIMEOUT 300 LABELS "fuzz;transport")
endforeach()
# The in-flight unpack (pipeline/inflight_unpack.c) over objects that unpack, one per
# codec, written into the build tree by make_inflight_seeds, and the same regressions.
add_executable(fuzz_inflight fuzz/fuzz_inflight.c fuzz/standalone.c)
target_link_libraries(fuzz_inflight PRIVATE radpipe_static)
add_executable(make_inflight_seeds fuzz/make_inflight_seeds.c)
target_link_libraries(make_inflight_seeds PRIVATE radpipe_static)
set(RP_INFLIGHT_SEEDS ${CMAKE_CURRENT_BINARY_DIR}/inflight_seeds)
add_test(NAME fuzz_inflight_make_seeds COMMAND make_inflight_seeds ${RP_INFLIGHT_SEEDS})
set_tests_properties(fuzz_inflight_make_seeds PROPERTIES FIXTURES_SETUP inflight_seeds
                     LABELS "fuzz;transport")
add_test(NAME fuzz_inflight_seeds
         COMMAND fuzz_inflight ${RP_INFLIGHT_SEEDS} ${CMAKE_SOURCE_DIR}/tests/fuzz/regress/transport)
set_tests_properties(fuzz_inflight_seeds PROPERTIES TIMEOUT 300 LABELS "fuzz;transport"
                     FIXTURES_REQUIRED inflight_seeds)

# Loopback transfers driven by shell scripts (tests/transport/t_*.sh): each starts its own
# receiver on 127.0.0.1, bounds every process with `timeout`, and cleans up on exit.
# RUN_SERIAL: they move tens of MB and time out on a loaded 2-core machine otherwise.
foreach(t multi_series deliver_compressed kill_receiver kill_sender cut_connection
          stall_connection corrupt disk_full reject truncate_input admission soak_sessions
          spool_retention idle_flood serve_config max_rate)
  add_test(NAME transfer_${t}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/transport/t_${t}.sh)
  set_tests_properties(transfer_${t} PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" TIMEOUT 300
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "transport;transfer")
endforeach()

# The gateway's DICOM side against DCMTK's storescu/echoscu as the modality.
rp_add_test(test_store_scp SOURCES test_store_scp.c LABELS net)
rp_add_test(test_store_scu SOURCES test_store_scu.c LABELS net)
# DICOMweb STOW-RS into Orthanc's DICOMweb plugin, and against a fake server for the
# answers Orthanc never gives (tests/net/fake_stow.py).
rp_add_test(test_stowrs SOURCES test_stowrs.c LABELS net)
set_tests_properties(test_stowrs PROPERTIES TIMEOUT 300)
# DICOM TLS on both, against storescu/storescp +tls with certificates of rp_tls_keygen.
rp_add_test(test_dicom_tls SOURCES test_dicom_tls.c LABELS net)
set_tests_properties(test_dicom_tls PROPERTIES TIMEOUT 300)
# The audit trail as ATNA syslog messages to a Python repository on loopback.
rp_add_test(test_atna SOURCES test_atna.c LABELS net)
set_tests_properties(test_atna PROPERTIES TIMEOUT 120)
# serve --forward into a real Orthanc: PACS down then up (20 s), kill -9 with instances
# pending, an addition to a delivered study.  Waits for the real default backoff.
add_test(NAME t_forward_orthanc COMMAND bash ${CMAKE_SOURCE_DIR}/tests/net/t_forward_orthanc.sh)
set_tests_properties(t_forward_orthanc PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" LABELS net
                     TIMEOUT 1200 RUN_SERIAL TRUE)
# serve --stow into a real Orthanc's DICOMweb plugin.
add_test(NAME t_stow_orthanc COMMAND bash ${CMAKE_SOURCE_DIR}/tests/net/t_stow_orthanc.sh)
set_tests_properties(t_stow_orthanc PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" LABELS net
                     TIMEOUT 300 RUN_SERIAL TRUE)
# STAT rules over corpus files (net/stat_rule.c).
rp_add_test(test_stat_rule SOURCES test_stat_rule.c LABELS "net;unit")
set_tests_properties(test_stat_rule PROPERTIES TIMEOUT 60)

# Sender and receiver in one process over the fault-injecting backend (transport/fault/,
# compiled into this test only).  Serial and with a long timeout: two black-hole cases
# wait out the stall limit, and under TSan on a loaded 2-core box the whole run is slow.
rp_add_test(test_transfer SOURCES test_transfer.c ${CMAKE_SOURCE_DIR}/transport/fault/fault.c
            LABELS transport)
set_tests_properties(test_transfer PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
# Additions to a delivered study merged into DIR, duplicates held or refused, the hook.
rp_add_test(test_merge SOURCES test_merge.c LABELS transport)
set_tests_properties(test_merge PROPERTIES TIMEOUT 300)
# storescu -> gateway -> serve --forward -> Orthanc, 300 instances, with a 30 s outage of
# serve and a late instance (waits for the gateway's default 10 s study quiet time).
add_test(NAME t_e2e_gateway COMMAND bash ${CMAKE_SOURCE_DIR}/tests/net/t_e2e_gateway.sh)
set_tests_properties(t_e2e_gateway PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" LABELS net
                     TIMEOUT 1800 RUN_SERIAL TRUE)
