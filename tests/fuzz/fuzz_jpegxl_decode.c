/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_jpegxl_decode.c - fuzz target: the JPEG XL adapter's decoder (libjxl)
 * on arbitrary bytes, through the codec table.  The last 6 bytes choose the image the
 * DICOM header would declare (width, height, 1 or 3 samples, 8/16-bit container, bits
 * stored, sign); the seeds are our encoder's output with their matching tail, so
 * mutations reach the pixel decoding, not only the header check.  The output buffer is
 * exactly one frame so ASan sees any write past it.  A decode gives RP_OK or
 * RP_E_CORRUPT (never another status for bytes); an OK frame is re-encoded and must
 * decode back to itself. */
#include <stdlib.h>
#include <string.h>

#include "codec/codec_impl.h"

#define TAIL 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < TAIL)
		return 0;
	const struct rp__codec_ops *ops = rp__codec_ops(RP_CODEC_JPEGXL);
	if (!ops)
		abort();
	const uint8_t *t = data + size - TAIL;
	struct rp_image_desc img = {
		.width = (uint32_t)(rp__load_le16(t) % 1024) + 1,
		.height = (uint32_t)(rp__load_le16(t + 2) % 1024) + 1,
		.components = (t[4] & 1) ? 3 : 1,
		.bits_allocated = (t[4] & 2) ? 16 : 8,
		.is_signed = (t[4] >> 2) & 1,
	};
	img.bits_stored = (uint16_t)(1 + t[5] % img.bits_allocated);
	img.photometric = img.components == 3 ? RP_PHOTOMETRIC_RGB : RP_PHOTOMETRIC_MONOCHROME2;
	if ((size_t)img.width * img.height > (1u << 18))
		return 0;
	size_t frame = rp_image_frame_size(&img);
	uint8_t *dst = malloc(frame), *again = malloc(frame);
	uint8_t *src = malloc(size - TAIL ? size - TAIL : 1);
	struct rp_errbuf err;
	if (!dst || !again || !src)
		goto out;
	memcpy(src, data, size - TAIL);
	int rc = ops->decode(&img, src, size - TAIL, dst, frame, NULL, &err);
	if (rc != RP_OK) {
		if (rc != RP_E_CORRUPT && rc != RP_E_NOMEM)
			abort();                  /* bad bytes are corrupt, nothing else */
		goto out;
	}
	struct rp__encode_params p = { .effort = 1 };
	size_t cap = ops->bound(&img, &p), enc_size = 0;
	uint8_t *enc = malloc(cap);
	if (!enc)
		goto out;
	if (ops->encode(&img, &p, dst, frame, enc, cap, &enc_size, &err) != RP_OK ||
	    ops->decode(&img, enc, enc_size, again, frame, NULL, &err) != RP_OK ||
	    memcmp(dst, again, frame) != 0)
		abort();                          /* our own output must round-trip */
	free(enc);
out:
	free(src);
	free(dst);
	free(again);
	return 0;
}
