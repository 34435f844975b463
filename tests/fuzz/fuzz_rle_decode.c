/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_rle_decode.c - fuzz target: our RLE Lossless (PS3.5 Annex G) decoder on
 * arbitrary bytes, through the codec table.  The last 6 bytes choose the image (width,
 * height, 1 or 3 samples, 8/16/32-bit, sign); the output buffer is exactly one frame so
 * ASan sees any write past it.  When a frame decodes, it is re-encoded and decoded again
 * and must come back identical (the encoder's output is always valid RLE). */
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
	const struct rp__codec_ops *ops = rp__codec_ops(RP_CODEC_RLE);
	if (!ops)
		abort();
	const uint8_t *t = data + size - TAIL;
	static const uint16_t bits[4] = { 8, 16, 32, 16 };
	struct rp_image_desc img = {
		.width = (uint32_t)(rp__load_le16(t) % 2048) + 1,
		.height = (uint32_t)(rp__load_le16(t + 2) % 2048) + 1,
		.components = (t[4] & 1) ? 3 : 1,
		.bits_allocated = bits[(t[4] >> 1) & 3],
		.is_signed = (t[4] >> 3) & 1,
	};
	img.bits_stored = (uint16_t)(1 + t[5] % img.bits_allocated);
	if ((size_t)img.width * img.height > (1u << 18))
		return 0;
	size_t frame = rp_image_frame_size(&img);
	uint8_t *dst = malloc(frame), *again = malloc(frame);
	uint8_t *src = malloc(size - TAIL ? size - TAIL : 1);
	struct rp_errbuf err;
	if (!dst || !again || !src)
		goto out;
	memcpy(src, data, size - TAIL);
	if (ops->decode(&img, src, size - TAIL, dst, frame, NULL, &err) != RP_OK)
		goto out;
	size_t cap = ops->bound(&img, NULL), enc_size = 0;
	uint8_t *enc = malloc(cap);
	if (!enc)
		goto out;
	if (ops->encode(&img, NULL, dst, frame, enc, cap, &enc_size, &err) != RP_OK ||
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
