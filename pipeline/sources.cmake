# pipeline/ - the streaming transcoder (include/radpipe/pipeline.h), the shard filter, the
# restart journal of `compress`, and the in-flight object (pack and unpack, for send/serve).
list(APPEND RP_LIB_SOURCES
  pipeline/pipeline.c
  pipeline/inflight_pack.c
  pipeline/inflight_unpack.c
  pipeline/shard.c
  pipeline/journal.c)
