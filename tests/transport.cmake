# tests/transport.cmake - wire format, FEC and loopback transfer tests (issue 6).
rp_add_test(test_frame SOURCES test_frame.c LABELS transport)
rp_add_test(test_fec SOURCES test_fec.c LABELS transport)
