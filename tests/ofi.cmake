# tests/ofi.cmake - the libfabric backend: loopback transfers over the tcp
# (ofi_rxm) and shm providers, and a killed receiver resuming over the fabric.  Only in
# builds that found libfabric (transport/ofi/sources.cmake sets RP_HAVE_OFI).
if(RP_HAVE_OFI)
  foreach(t "transfer;tcp+ofi_rxm;tcp" "transfer;shm;shm" "kill_receiver;tcp+ofi_rxm;kill_receiver")
    list(GET t 0 script)
    list(GET t 1 prov)
    list(GET t 2 name)
    add_test(NAME transfer_ofi_${name}
             COMMAND bash ${CMAKE_SOURCE_DIR}/tests/transport_ofi/t_ofi_${script}.sh ${prov})
    set_tests_properties(transfer_ofi_${name} PROPERTIES ENVIRONMENT "${RP_TEST_ENV}"
                         TIMEOUT 300 RUN_SERIAL TRUE LABELS "transport;transfer;ofi")
  endforeach()
endif()
