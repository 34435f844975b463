# tests/gateway.cmake - the gateway's study queue alone (C, no network), and
# `radpipe gateway` end to end: DCMTK's storescu (or tests/net/raw_store.py) as the
# modality, `radpipe serve --insecure` as the reading site, all on 127.0.0.1
# (tests/gateway/t_*.sh).  RUN_SERIAL: each moves tens of MB and waits out quiet times.
rp_add_test(test_study_queue SOURCES test_study_queue.c LABELS net unit)
set_tests_properties(test_study_queue PROPERTIES TIMEOUT 60)
foreach(t deliver restart far_site_down allow_aet watch stat_order permanent_failure
          preempt stop_during_send addition tls)
  add_test(NAME gateway_${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/gateway/t_${t}.sh)
  set_tests_properties(gateway_${t} PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" TIMEOUT 240
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "net;gateway")
endforeach()
