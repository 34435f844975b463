# transport/ - wire format, FEC, the send/serve engines and their backends.
list(APPEND RP_LIB_SOURCES
  transport/frame.c
  transport/fec.c)
