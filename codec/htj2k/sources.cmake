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
  codec/htj2k/htj2k_kernels.c
  codec/htj2k/htj2k_enc.c
  codec/htj2k/htj2k_dec.c
  codec/htj2k/htj2k.c)

# The 5/3 lifting kernels (dwt53_impl.h), the fast HT block encoder
# (ht_block_enc_impl.h) and decoder (ht_block_dec_impl.h), built again per ISA level and
# chosen through codec/htj2k/htj2k_kernels.c (simd/cpu.h has the convention).
rp_add_isa_sources(AVX2 codec/htj2k/dwt53_avx2.c codec/htj2k/ht_block_enc_avx2.c
  codec/htj2k/ht_block_dec_avx2.c)
rp_add_isa_sources(AVX512 codec/htj2k/dwt53_avx512.c codec/htj2k/ht_block_enc_avx512.c
  codec/htj2k/ht_block_dec_avx512.c)
