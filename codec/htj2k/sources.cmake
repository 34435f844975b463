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

# Kernels built again per ISA (chosen at run time through simd/cpu.h): `variant` gets the
# ISA's flags (RP_AVX2_FLAGS / RP_AVX512_FLAGS from simd/sources.cmake) and -O3, and
# `dispatcher`, which picks among the builds, learns of it through `define`.
macro(rp_htj2k_isa_build isa variant dispatcher define)
  if(RP_ENABLE_${isa} AND DEFINED RP_${isa}_FLAGS)
    list(APPEND RP_LIB_SOURCES ${variant})
    set_source_files_properties(${variant} PROPERTIES COMPILE_OPTIONS "${RP_${isa}_FLAGS};-O3")
    set_property(SOURCE ${dispatcher} APPEND PROPERTY COMPILE_DEFINITIONS ${define})
  endif()
endmacro()

# The 5/3 lifting kernels (dwt53_impl.h).
rp_htj2k_isa_build(AVX2 codec/htj2k/dwt53_avx2.c codec/htj2k/dwt53.c RP_HTJ2K_HAVE_AVX2)
rp_htj2k_isa_build(AVX512 codec/htj2k/dwt53_avx512.c codec/htj2k/dwt53.c RP_HTJ2K_HAVE_AVX512)
# The fast HT block encoder (ht_block_enc_impl.h), chosen in ht_block_enc.c.
rp_htj2k_isa_build(AVX2 codec/htj2k/ht_block_enc_avx2.c codec/htj2k/ht_block_enc.c
  RP_HTENC_HAVE_AVX2)
rp_htj2k_isa_build(AVX512 codec/htj2k/ht_block_enc_avx512.c codec/htj2k/ht_block_enc.c
  RP_HTENC_HAVE_AVX512)
# The fast HT block decoder (ht_block_dec_impl.h), chosen in ht_block_dec.c.
rp_htj2k_isa_build(AVX2 codec/htj2k/ht_block_dec_avx2.c codec/htj2k/ht_block_dec.c
  RP_HTJ2K_HAVE_AVX2)
rp_htj2k_isa_build(AVX512 codec/htj2k/ht_block_dec_avx512.c codec/htj2k/ht_block_dec.c
  RP_HTJ2K_HAVE_AVX512)
