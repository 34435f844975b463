# pipeline/ - the streaming transcoder (include/radpipe/pipeline.h), the shard filter and
# the restart journal of `compress`.
list(APPEND RP_LIB_SOURCES
  pipeline/pipeline.c
  pipeline/shard.c
  pipeline/journal.c)
