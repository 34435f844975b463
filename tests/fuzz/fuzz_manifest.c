/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_manifest.c - fuzz target: the manifest parser with its path rules,
 * counts and sizes.  An accepted manifest re-encodes to exactly the input bytes (there is
 * one encoding), and every accepted path passes rp__path_check on its own. */
#include "transport/frame.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp__manifest m;
	struct rp_errbuf err;
	/* The receiver's object cap comes from the input's last byte, so small caps run. */
	uint32_t cap = size ? 1u + data[size - 1] * 40u : 1;
	if (rp__manifest_decode(data, size, cap, &m, &err) != RP_OK)
		return 0;
	struct rp__wbuf b = {0};
	rp__manifest_encode(&b, &m);
	if (!b.failed && (b.len != size || memcmp(b.p, data, size) != 0)) {
		fprintf(stderr, "fuzz_manifest: accepted manifest does not re-encode to itself\n");
		abort();
	}
	for (uint32_t i = 0; i < m.count; i++)
		if (rp__path_check(m.e[i].path, strlen(m.e[i].path), &err) != RP_OK ||
		    m.count > cap) {
			fprintf(stderr, "fuzz_manifest: accepted a bad path or count\n");
			abort();
		}
	uint8_t id[16];
	(void)rp__session_id(data, size, id);
	rp__wbuf_free(&b);
	rp__manifest_free(&m);
	return 0;
}
