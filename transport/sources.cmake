# transport/ - wire format, FEC, the send/serve engines and their backends.
list(APPEND RP_LIB_SOURCES
  transport/frame.c
  transport/fec.c
  transport/transport.c
  transport/chunk.c
  transport/send.c
  transport/serve.c
  transport/spool.c
  transport/deliver.c
  transport/spool_retention.c
  transport/tcp/tcp.c
  transport/tcp/keygen.c)
include(${CMAKE_CURRENT_LIST_DIR}/ofi/sources.cmake OPTIONAL)
