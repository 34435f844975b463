/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_jpeg_lossless.c - fuzz target: our JPEG lossless (process 14) decoder
 * on arbitrary bytes.  The image it is asked to decode into comes from the input's last 6
 * bytes (width, height, format), so one input explores both the codestream parser and
 * the geometry checks.  Sizes are capped so each input stays cheap; the output buffer is
 * exactly the frame size, so ASan catches any write past it. */
#include <stdlib.h>
#include <string.h>

#include "codec/jpeg_lossless.h"

#define TAIL 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < TAIL)
		return 0;
	const uint8_t *t = data + size - TAIL;
	struct rp_image_desc img = {
		.width = (uint32_t)(rp__load_le16(t) % 1024) + 1,
		.height = (uint32_t)(rp__load_le16(t + 2) % 1024) + 1,
		.components = (t[4] & 1) ? 3 : 1,
		.bits_allocated = (t[4] & 2) ? 16 : 8,
		.is_signed = (t[4] >> 2) & 1,
	};
	unsigned max_bits = img.bits_allocated;
	img.bits_stored = (uint16_t)(2 + t[5] % (max_bits - 1));
	if ((size_t)img.width * img.height > (1u << 18))
		return 0;
	size_t frame = rp_image_frame_size(&img);
	uint8_t *dst = malloc(frame);
	uint8_t *src = malloc(size - TAIL ? size - TAIL : 1);
	if (dst && src) {
		memcpy(src, data, size - TAIL);   /* exact-size copy of the codestream */
		struct rp_errbuf err;
		int rc = rp__jpeg_lossless_decode(&img, src, size - TAIL, dst, frame, &err);
		(void)rc;                         /* errors are expected; crashes are not */
	}
	free(src);
	free(dst);
	return 0;
}
