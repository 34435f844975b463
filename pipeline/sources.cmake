# pipeline/ - the streaming transcoder (include/radpipe/pipeline.h).
list(APPEND RP_LIB_SOURCES
  pipeline/pipeline.c)
