/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_frame_decode.c - fuzz target: read the input as a sequence of wire
 * frames (docs/FORMAT.md) the way a receiver would, and run every payload decoder on
 * what each frame carries; also parse the whole input as an in-flight object header.
 * Decoded structures are re-encoded and decoded again: the second decode must agree. */
#include "transport/frame.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_frame_decode: %s\n", what);
		abort();
	}
}

static void
payload(uint8_t type, const uint8_t *p, size_t n)
{
	struct rp_errbuf err;
	switch (type) {
	case RP__F_HELLO: {
		struct rp__hello h, h2;
		if (rp__hello_decode(p, n, &h, &err) == RP_OK) {
			struct rp__wbuf b = {0};
			rp__hello_encode(&b, &h);
			check(rp__hello_decode(b.p, b.len, &h2, &err) == RP_OK &&
				      h2.stream_index == h.stream_index,
			      "HELLO round trip");
			rp__wbuf_free(&b);
		}
		break;
	}
	case RP__F_WELCOME: {
		struct rp__welcome w;
		if (rp__welcome_decode(p, n, &w, &err) == RP_OK) {
			uint64_t total = rp__ranges_total(&w.have);
			if (w.have.count)
				check(rp__ranges_has(&w.have, w.have.r[0][0]), "first key of a range");
			(void)total;
			rp__ranges_free(&w.have);
		}
		break;
	}
	case RP__F_MANIFEST: {
		struct rp__manifest m;
		if (rp__manifest_decode(p, n, 1000, &m, &err) == RP_OK)
			rp__manifest_free(&m);
		break;
	}
	case RP__F_CHUNK: {
		struct rp__chunk c;
		if (rp__chunk_decode(p, n, &c, &err) == RP_OK)
			check(c.data + c.size == p + n, "chunk data bounds");
		break;
	}
	case RP__F_DONE: {
		struct rp__done d;
		(void)rp__done_decode(p, n, &d, &err);
		break;
	}
	case RP__F_NEED:
	case RP__F_ACK: {
		struct rp__rbuf r = {p, p + n};
		struct rp__ranges rs;
		if (rp__ranges_decode(&r, &rs, &err) == RP_OK) {
			/* Adding every listed key again must not change the set. */
			struct rp__ranges copy = {0};
			uint64_t budget = 4096;
			for (uint32_t i = 0; i < rs.count && budget; i++)
				for (uint64_t k = 0; k < rs.r[i][1] && budget; k++, budget--)
					check(rp__ranges_add(&copy, rs.r[i][0] + k) == RP_OK, "add");
			if (budget)
				check(copy.count == rs.count, "ranges rebuild");
			rp__ranges_free(&copy);
			rp__ranges_free(&rs);
		}
		break;
	}
	case RP__F_ERROR: {
		int st;
		char msg[64];
		if (rp__error_decode(p, n, &st, msg, sizeof(msg), &err) == RP_OK)
			check(st < 0 && strlen(msg) < sizeof(msg), "ERROR decode");
		break;
	}
	case RP__F_PROGRESS: {
		uint64_t v[2];
		(void)rp__u64s_decode(p, n, v, 2, &err);
		break;
	}
	case RP__F_COMPLETE: {
		uint64_t v[RP__COMPLETE_FIELDS];
		(void)rp__u64s_decode(p, n, v, RP__COMPLETE_FIELDS, &err);
		break;
	}
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct rp_errbuf err;
	while ((size_t)(end - p) >= RP__FRAME_HDR_SIZE) {
		struct rp__frame_hdr h;
		if (rp__frame_header_decode(p, &h, &err) != RP_OK)
			break;
		const uint8_t *pl = p + RP__FRAME_HDR_SIZE;
		size_t n = (size_t)(end - pl) < h.len ? (size_t)(end - pl) : h.len;
		/* Fuzzers rarely get a CRC right: decode the payload either way. */
		(void)rp__frame_crc_ok(p, pl, (uint32_t)n);
		payload(h.type, pl, n);
		p = pl + n;
	}
	struct rp__objhdr oh;
	size_t need;
	if (rp__objhdr_decode(data, size, &oh, &need, &err) == RP_OK && need <= size) {
		check(rp__objhdr_size(&oh) == need, "object header size");
		struct rp__wbuf b = {0};
		rp__objhdr_encode(&b, &oh);
		check(b.failed || (b.len == need && memcmp(b.p, data, need) == 0),
		      "object header round trip");
		rp__wbuf_free(&b);
		rp__objhdr_free(&oh);
	}
	return 0;
}
