# codec/htj2k/ - radpipe's own HTJ2K codec (ISO/IEC 15444-15, lossless profile).
list(APPEND RP_LIB_SOURCES
  codec/htj2k/ht_vlc_data.c
  codec/htj2k/ht_tables.c
  codec/htj2k/ht_block_enc.c
  codec/htj2k/ht_block_dec.c
  codec/htj2k/dwt53.c
  codec/htj2k/htj2k_common.c
  codec/htj2k/htj2k_enc.c
  codec/htj2k/htj2k_dec.c
  codec/htj2k/htj2k.c)
