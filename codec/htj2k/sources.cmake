# codec/htj2k/ - radpipe's own HTJ2K codec (ISO/IEC 15444-15, lossless profile).
list(APPEND RP_LIB_SOURCES
  codec/htj2k/ht_vlc_data.c
  codec/htj2k/ht_tables.c
  codec/htj2k/ht_block_enc.c
  codec/htj2k/ht_block_enc_ref.c
  codec/htj2k/ht_block_dec.c
  codec/htj2k/ht_block_dec_ref.c
  codec/htj2k/dwt53.c
  codec/htj2k/htj2k_common.c
  codec/htj2k/htj2k_enc.c
  codec/htj2k/htj2k_dec.c
  codec/htj2k/htj2k.c)

# The 5/3 kernels built a second time with AVX2 (chosen at run time through simd/cpu.h);
# RP_AVX2_FLAGS comes from simd/sources.cmake.
if(RP_ENABLE_AVX2 AND DEFINED RP_AVX2_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/dwt53_avx2.c)
  set_source_files_properties(codec/htj2k/dwt53_avx2.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX2_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/dwt53.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTJ2K_HAVE_AVX2)
endif()
if(RP_ENABLE_AVX512 AND DEFINED RP_AVX512_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/dwt53_avx512.c)
  set_source_files_properties(codec/htj2k/dwt53_avx512.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX512_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/dwt53.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTJ2K_HAVE_AVX512)
endif()

# The fast HT block encoder built again with AVX2 and with AVX-512 (ht_block_enc_impl.h),
# chosen at run time in ht_block_enc.c.
if(RP_ENABLE_AVX2 AND DEFINED RP_AVX2_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/ht_block_enc_avx2.c)
  set_source_files_properties(codec/htj2k/ht_block_enc_avx2.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX2_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/ht_block_enc.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTENC_HAVE_AVX2)
endif()
if(RP_ENABLE_AVX512 AND DEFINED RP_AVX512_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/ht_block_enc_avx512.c)
  set_source_files_properties(codec/htj2k/ht_block_enc_avx512.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX512_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/ht_block_enc.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTENC_HAVE_AVX512)
endif()

# The fast HT block decoder built again with AVX2 and with AVX-512 (ht_block_dec_impl.h),
# chosen at run time in ht_block_dec.c.
if(RP_ENABLE_AVX2 AND DEFINED RP_AVX2_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/ht_block_dec_avx2.c)
  set_source_files_properties(codec/htj2k/ht_block_dec_avx2.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX2_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/ht_block_dec.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTJ2K_HAVE_AVX2)
endif()
if(RP_ENABLE_AVX512 AND DEFINED RP_AVX512_FLAGS)
  list(APPEND RP_LIB_SOURCES codec/htj2k/ht_block_dec_avx512.c)
  set_source_files_properties(codec/htj2k/ht_block_dec_avx512.c PROPERTIES
    COMPILE_OPTIONS "${RP_AVX512_FLAGS};-O3")
  set_property(SOURCE codec/htj2k/ht_block_dec.c APPEND PROPERTY COMPILE_DEFINITIONS
    RP_HTJ2K_HAVE_AVX512)
endif()
