/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_htj2k_decode.c - fuzz target: radpipe's own HTJ2K decoder on arbitrary
 * bytes.  The image description comes from the codestream's own SIZ (as a DICOM file
 * would give a matching one), capped at 2^20 samples; the output buffer is exactly one
 * frame so ASan sees any write past it.  When a stream decodes, the frame is re-encoded
 * and must decode back to itself (our encoder's output is always in the profile). */
#include <stdlib.h>
#include <string.h>

#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp__ht_info info;
	struct rp_errbuf err;
	if (rp__htj2k_read_info(data, size, &info, &err) != RP_OK)
		return 0;
	struct rp_image_desc img = {
		.width = info.width,
		.height = info.height,
		.components = (uint16_t)info.components,
		.bits_allocated = info.depth > 8 ? 16 : 8,
		.bits_stored = (uint16_t)info.depth,
		.is_signed = (uint8_t)info.is_signed,
		.photometric = info.components == 3 ? RP_PHOTOMETRIC_RGB : RP_PHOTOMETRIC_MONOCHROME2,
	};
	if ((uint64_t)img.width * img.height * img.components > (1u << 20))
		return 0;
	const struct rp__codec_ops *ops = rp__codec_ops(RP_CODEC_HTJ2K);
	if (!ops)
		abort();
	size_t fs = rp_image_frame_size(&img);
	uint8_t *dst = malloc(fs), *back = malloc(fs);
	if (!dst || !back)
		abort();
	if (ops->decode(&img, data, size, dst, fs, NULL, &err) == RP_OK) {
		struct rp__encode_params p = { 0 };
		size_t cap = ops->bound(&img, &p), es = 0;
		uint8_t *enc = malloc(cap);
		if (!enc)
			abort();
		if (ops->encode(&img, &p, dst, fs, enc, cap, &es, &err) != RP_OK ||
		    ops->decode(&img, enc, es, back, fs, NULL, &err) != RP_OK ||
		    memcmp(dst, back, fs) != 0)
			abort();
		free(enc);
	}
	free(dst);
	free(back);
	return 0;
}
