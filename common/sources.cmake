# common/ - status strings, hashing, thread pool, file helpers.
list(APPEND RP_LIB_SOURCES
  common/status.c
  common/hash.c
  common/pool.c
  common/fileio.c)
