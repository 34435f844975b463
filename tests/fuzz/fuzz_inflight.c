/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_inflight.c - fuzz target: read the input as one in-flight object
 * (FORMAT.md section 5: header, then body) the way the receiver does, and unpack it:
 * every frame through its codec's decoder, the pixel hash checked.  An object that
 * unpacks must give exactly the original size its header states. */
#include "pipeline/inflight.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_inflight: %s\n", what);
		abort();
	}
}

static int
count_sink(void *ctx, const void *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp__inflight_coders coders;   /* kept, as the receiver keeps them */
	struct rp__objhdr h;
	struct rp_errbuf err;
	size_t need;
	if (rp__objhdr_decode(data, size, &h, &need, &err) != RP_OK || need > size) {
		rp__objhdr_free(&h);     /* decode zeroes it first: always safe */
		return 0;
	}
	/* The receiver hands the unpacker only a body it holds whole, and the decoders only
	 * frames of a size it can hold: a few MB here keeps the run fast. */
	if (h.body_len <= size - need &&
	    (h.kind == RP__OBJ_VERBATIM || rp_image_frame_size(&h.img) <= ((size_t)16 << 20))) {
		uint64_t out = 0;
		if (rp__inflight_unpack(&coders, &h, data + need, 0, "fuzz", count_sink, &out,
					&err) == RP_OK)
			check(out == h.orig_size, "unpacked size differs from the header's");
	}
	rp__objhdr_free(&h);
	return 0;
}
