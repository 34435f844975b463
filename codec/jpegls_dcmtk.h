/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpegls_dcmtk.h - the second JPEG-LS decoder: DCMTK's dcmjpls (its own CharLS 1.x
 * fork), which codec/jpegls.c tries when CharLS 2 refuses a codestream.  DCMTK's headers
 * stay in codec/jpegls_dcmtk.cpp; a build without libdcmtk-dev links
 * codec/jpegls_dcmtk_absent.c instead, which reports the decoder unavailable. */
#ifndef RP_CODEC_JPEGLS_DCMTK_H
#define RP_CODEC_JPEGLS_DCMTK_H

#include <radpipe/base.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a JPEG-LS frame header (SOF55) declares. */
struct rp__jls_frame {
	uint32_t width, height;      /* X, Y */
	uint16_t components;         /* Nf */
	uint8_t bits;                /* P, 2..16 */
};

/* Whether this build has the DCMTK decoder (1) or not (0). */
int rp__jpegls_dcmtk_available(void);

/* Decodes the codestream src[0..src_size) with DCMTK into dst: width*height*components
 * samples of 1 byte (bits <= 8) or 2 bytes little endian, pixel-interleaved, exactly the
 * frame `expect` declares; DCMTK checks the codestream's own header against it and refuses
 * a mismatch.  dst_capacity must hold that many bytes.  RP_OK; RP_E_CORRUPT with DCMTK's
 * reason when it refuses the stream; RP_E_UNSUPPORTED when the build has no DCMTK;
 * RP_E_NOMEM.  Thread-safe (no shared state). */
int rp__jpegls_dcmtk_decode(const uint8_t *src, size_t src_size,
			    const struct rp__jls_frame *expect, uint8_t *dst,
			    size_t dst_capacity, struct rp_errbuf *err);

/* How many frames the calling thread has decoded with DCMTK because CharLS refused them
 * (codec/jpegls.c), so that a caller can tell its user: read it before and after
 * decoding a file's frames on one thread. */
unsigned long rp__jpegls_fallbacks(void);

#ifdef __cplusplus
}
#endif

#endif /* RP_CODEC_JPEGLS_DCMTK_H */
