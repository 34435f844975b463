# tests/gateway.cmake - `radpipe gateway` end to end: DCMTK's storescu as the modality,
# `radpipe serve --insecure` as the reading site, all on 127.0.0.1 (tests/gateway/t_*.sh).
# RUN_SERIAL: each moves tens of MB and waits out quiet times on a loaded machine.
foreach(t deliver restart far_site_down allow_aet watch stat_order permanent_failure preempt stop_during_send addition)
  add_test(NAME gateway_${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/gateway/t_${t}.sh)
  set_tests_properties(gateway_${t} PROPERTIES ENVIRONMENT "${RP_TEST_ENV}" TIMEOUT 240
                       SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "net;gateway")
endforeach()
