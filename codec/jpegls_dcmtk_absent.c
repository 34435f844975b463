/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpegls_dcmtk_absent.c - the second JPEG-LS decoder in a build without DCMTK
 * (libdcmtk-dev not found): there is none, and the error says how to get one. */
#include "codec/codec_impl.h"
#include "codec/jpegls_dcmtk.h"

int
rp__jpegls_dcmtk_available(void)
{
	return 0;
}

int
rp__jpegls_dcmtk_decode(const uint8_t *src, size_t src_size,
			const struct rp__jls_frame *expect, uint8_t *dst, size_t dst_capacity,
			struct rp_errbuf *err)
{
	(void)src, (void)src_size, (void)expect, (void)dst, (void)dst_capacity;
	return rp__err(err, RP_E_UNSUPPORTED,
		       "no second JPEG-LS decoder in this build (built without libdcmtk-dev)");
}
