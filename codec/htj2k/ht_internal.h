/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_internal.h - pieces shared inside radpipe's own HTJ2K codec (ISO/IEC
 * 15444-15, lossless profile): the HT block coder, the reversible 5/3 wavelet, and the
 * codestream writer and reader.  Nothing here is seen outside codec/htj2k/. */
#ifndef RP_CODEC_HTJ2K_HT_INTERNAL_H
#define RP_CODEC_HTJ2K_HT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/internal.h"
#include "simd/cpu.h"

/* One row of the CxtVLC tables (ht_vlc_data.c). */
struct rp__ht_vlc_src {
	uint8_t c_q, rho, u_off, e_k, e_1, cwd, len;
};

extern const struct rp__ht_vlc_src rp__ht_vlc_src0[];
extern const size_t rp__ht_vlc_src0_count;
extern const struct rp__ht_vlc_src rp__ht_vlc_src1[];
extern const size_t rp__ht_vlc_src1_count;

/* Lookup tables built once from the rows above (ht_tables.c).
 * Encoder: index (c_q << 8) | (rho << 4) | emb, value (cwd << 8) | (len << 4) | e_k, where
 *   emb is the set of samples whose exponent equals the quad's maximum (0 when u_q = 0).
 * Decoder: index (c_q << 7) | next 7 VLC bits, value
 *   (e_k << 12) | (e_1 << 8) | (rho << 4) | (u_off << 3) | len  (0 when no codeword). */
struct rp__ht_tables {
	uint16_t enc[2][2048];
	uint16_t dec[2][1024];
};

/* Never NULL; thread-safe (built on first use). */
const struct rp__ht_tables *rp__ht_tables_get(void);

/* Checks the row tables for the properties the standard's tables have (complete prefix
 * code per context, ...).  0 when they hold, else a negative number naming the failure. */
int rp__ht_tables_selfcheck(void);

/* Largest code-block this codec handles: 64 x 64 = 4096 samples (15444-1 allows 4096). */
#define RP__HT_MAX_CB_SAMPLES 4096u

/* Scratch one block encode needs, allocated once per worker.  The stream buffers hold
 * the worst case with 8 bytes to spare (the fast writers store 8 bytes at a time):
 * MagSgn at most 32 bits a sample, 7 a byte after stuffing; VLC at most 19 bits a quad;
 * MEL at most 6 bits for each of 1536 events. */
#define RP__HT_ENC_MS_CAP (RP__HT_MAX_CB_SAMPLES * 5u + 64u)
#define RP__HT_ENC_MEL_CAP 2048u
#define RP__HT_ENC_VLC_CAP 4096u
#define RP__HT_ENC_QPAD 49u            /* quads of a line pair, padded (ht_block_enc_impl.h) */
#define RP__HT_ENC_MEL_EVENTS 1560u    /* 1024 quads + 512 pairs, and 16 to spare */
struct rp__ht_enc_scratch {
	uint8_t ms[RP__HT_ENC_MS_CAP];
	uint8_t mel[RP__HT_ENC_MEL_CAP];
	uint8_t vlc[RP__HT_ENC_VLC_CAP];
	uint8_t e_line[2][66 + 4];     /* reference encoder: exponents of the last row of the
					* previous line pair */
	uint8_t s_line[2][66 + 4];     /* reference encoder: significance of the same */
	uint32_t v[4 * RP__HT_ENC_QPAD];          /* fast encoder: MagSgn values, quad order */
	uint8_t e_q[2][4 * RP__HT_ENC_QPAD + 16]; /* fast encoder: exponents of two line pairs */
	uint8_t mel_ev[RP__HT_ENC_MEL_EVENTS];    /* fast encoder: MEL events of the block */
};

/* HT cleanup pass of one code-block of lossless coefficients (sign and magnitude in an
 * int32 each, |c| < 2^30).  w, h in [1, 64] x [1, 64] with w * h <= 4096, rows `stride`
 * apart.  Writes the codeword segment (MagSgn, MEL, VLC, Scup) to out (capacity
 * rp__ht_block_bound()); *out_size gets its length, 0 when every coefficient is zero (the
 * block is then left out of its packet).  RP_OK or RP_E_LIMIT (never for valid input).
 * One build per ISA level, reached through struct rp__htj2k_kernels; the bytes never
 * depend on the level (tests/test_htj2k_block_enc.c). */
typedef int rp__ht_encode_block_fn(const int32_t *coef, size_t stride, unsigned w,
				   unsigned h, struct rp__ht_enc_scratch *scratch, uint8_t *out,
				   size_t out_capacity, size_t *out_size);
/* The plain reference encoder (ht_block_enc_ref.c): same contract, same bytes. */
int rp__ht_encode_block_ref(const int32_t *coef, size_t stride, unsigned w, unsigned h,
			    struct rp__ht_enc_scratch *scratch, uint8_t *out, size_t out_capacity,
			    size_t *out_size);
size_t rp__ht_block_bound(unsigned w, unsigned h);

/* Decodes one HT cleanup segment (seg, len) into coef (w x h, stride), as sign-magnitude
 * ints: the value of each coefficient is +-mu.  Every one of the w x h coefficients is
 * written, zeros included: callers reuse planes without clearing them.  missing_msbs_p1:
 * the cleanup pass codes magnitude bits down to bit plane p = mb - 1 - zero_bitplanes,
 * which must be 0 for a lossless (cleanup-only) block; the caller checks that.
 * Bounds-checked: any segment gives RP_OK or RP_E_CORRUPT, never a read outside seg.
 * One build per ISA level (ht_block_dec.h), reached through struct rp__htj2k_kernels. */
typedef int rp__ht_decode_block_fn(const uint8_t *seg, size_t len, unsigned w, unsigned h,
				   int32_t *coef, size_t stride, unsigned max_bits);

/* Reversible 5/3 lifting (15444-1 Annex F), one level, on a w x h int32 region with rows
 * `stride` apart, coordinates starting at 0 (even).  Forward: vertical then horizontal
 * (2D_SD); the four bands land deinterleaved in place: LL at (0, 0) of size ceil(w/2) x
 * ceil(h/2), HL to its right, LH below, HH diagonal.  tmp holds max(w, h) * 2 int32 (or
 * more for the SIMD paths: rp__dwt_tmp_count). */
size_t rp__dwt_tmp_count(unsigned w, unsigned h);
void rp__dwt53_forward(int32_t *data, size_t stride, unsigned w, unsigned h, int32_t *tmp);
void rp__dwt53_inverse(int32_t *data, size_t stride, unsigned w, unsigned h, int32_t *tmp);

/* Where the last inverse level writes when it is fused with the sample conversion: 16-bit
 * little-endian samples, row r at dst + r * dst_stride bytes, each coefficient + shift
 * clamped to [lo, hi].  Writing them straight from the vertical pass saves a whole pass
 * over the int32 plane (read 4 bytes, write 2 per pixel) after the DWT. */
struct rp__dwt_out16 {
	uint8_t *dst;
	size_t dst_stride;
	int32_t shift, lo, hi;
	/* Set by rp__dwt53_inverse_levels() when the vertical pass covers whole rows: the
	 * kernel then also does the level's horizontal pass, row by row just before the
	 * vertical step reads each row (it stays in cache), instead of a pass of its own
	 * over the plane; its line scratch follows the parked high rows in tmp. */
	int with_horizontal;
};

/* Where the first forward level reads when it is fused with the sample conversion: 16-bit
 * little-endian samples, row r at src + r * src_stride bytes, taken as int16 when signed,
 * else minus shift (the DC level shift).  Read straight into the vertical pass, the frame
 * is never first copied into the int32 plane. */
struct rp__dwt_in16 {
	const uint8_t *src;
	size_t src_stride;
	int is_signed;
	int32_t shift;
	/* Set by rp__dwt53_forward_levels() when the vertical pass covers whole rows: the
	 * kernel then also does the level's horizontal pass on each row as soon as the
	 * vertical pass has finished it, instead of a pass of its own over the plane; its
	 * line scratch follows the parked high rows in tmp. */
	int with_horizontal;
};

/* The 5/3 kernels of one ISA build (dwt53.c: scalar, dwt53_avx2.c, dwt53_avx512.c). */
struct rp__dwt_kernels {
	const char *name;
	void (*fwd_vert)(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp);
	void (*inv_vert)(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp);
	/* fwd_vert whose rows come from in (columns starting at src, h >= 2), not d. */
	void (*fwd_vert_in16)(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp,
			      const struct rp__dwt_in16 *in, const uint8_t *src);
	/* inv_vert whose rows go to out (columns starting at dst, h >= 2) instead of d. */
	void (*inv_vert_out16)(int32_t *d, size_t stride, unsigned w, unsigned h, int32_t *tmp,
			       const struct rp__dwt_out16 *out, uint8_t *dst);
	void (*fwd_line)(int32_t *x, unsigned n, int32_t *tmp);
	void (*inv_line)(int32_t *x, unsigned n, int32_t *tmp);
};
extern const struct rp__dwt_kernels rp__dwt_kernels_scalar;
extern const struct rp__dwt_kernels rp__dwt_kernels_avx2;
extern const struct rp__dwt_kernels rp__dwt_kernels_avx512;

/* Every per-ISA kernel of the codec at one ISA level (htj2k_kernels.c; the convention is
 * simd/cpu.h's).  Chosen once per frame from the level rp_encoder_create() /
 * rp_decoder_create() settled on, and passed down to the DWT and the block coders. */
struct rp__htj2k_kernels {
	const char *name;            /* "scalar", "avx2", "avx512": printed by benches */
	enum rp_isa isa;
	const struct rp__dwt_kernels *dwt;
	rp__ht_encode_block_fn *encode_block;
	rp__ht_decode_block_fn *decode_block;
};

/* The table of the highest level built that is at most isa (a level rp__isa_select()
 * gave).  Never NULL. */
const struct rp__htj2k_kernels *rp__htj2k_kernels_for(enum rp_isa isa);
/* The i-th table built, scalar first, NULL past the end (tests walk them, checking `isa`
 * against rp__isa_detected()). */
const struct rp__htj2k_kernels *rp__htj2k_kernels_at(size_t index);

/* All levels of a w x h plane, each pass cut into strips run on pool (NULL: the caller's
 * thread).  tmp holds rp__dwt_tmp_count(w, h) int32. */
struct rp_pool;
/* in: NULL, or where the first level reads its samples (levels >= 1 and h >= 2 only;
 * data's contents are then ignored). */
void rp__dwt53_forward_levels(const struct rp__dwt_kernels *k, int32_t *data, size_t stride,
			      unsigned w, unsigned h, unsigned levels, int32_t *tmp,
			      struct rp_pool *pool, const struct rp__dwt_in16 *in);
/* out: NULL, or where the last level writes its samples (levels >= 1 and h >= 2 only; the
 * plane is then left partly transformed). */
void rp__dwt53_inverse_levels(const struct rp__dwt_kernels *k, int32_t *data, size_t stride,
			      unsigned w, unsigned h, unsigned levels, int32_t *tmp,
			      struct rp_pool *pool, const struct rp__dwt_out16 *out);

#endif /* RP_CODEC_HTJ2K_HT_INTERNAL_H */
