/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_jpeg12.c - fuzz target: our 12-bit sequential DCT JPEG decoder
 * (codec/jpeg12.c) on arbitrary bytes.  The last 4 bytes choose the image size
 * (greyscale, 16-bit container, BitsStored 12); the output buffer is exactly one frame so
 * ASan sees any write past it. */
#include <stdlib.h>
#include <string.h>

#include "codec/jpeg12.h"

#define TAIL 4

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
		.components = 1,
		.bits_allocated = 16,
		.bits_stored = 12,
	};
	if ((size_t)img.width * img.height > (1u << 18))
		return 0;
	size_t frame = rp_image_frame_size(&img);
	uint8_t *dst = malloc(frame), *src = malloc(size - TAIL ? size - TAIL : 1);
	if (dst && src) {
		memcpy(src, data, size - TAIL);
		struct rp_errbuf err;
		(void)rp__jpeg12_decode(&img, src, size - TAIL, dst, frame, &err);
	}
	free(src);
	free(dst);
	return 0;
}
