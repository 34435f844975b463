/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/inflate.c - raw deflate (RFC 1951) for the Deflated Explicit VR Little
 * Endian transfer syntax (PS3.5 A.5), through ISA-L igzip. */
#include "dicom/dicom_impl.h"

#include <isa-l/igzip_lib.h>

int
rp__inflate_raw(const uint8_t *src, size_t src_size, uint64_t limit, uint8_t **out,
		size_t *out_size, struct rp_errbuf *err)
{
	if (src_size > UINT32_MAX)
		return rp__err(err, RP_E_LIMIT, "deflated dataset larger than 4 GiB");
	struct inflate_state st;
	isal_inflate_init(&st);
	st.crc_flag = ISAL_DEFLATE;            /* raw deflate, no zlib/gzip wrapper */
	st.next_in = (uint8_t *)src;
	st.avail_in = (uint32_t)src_size;

	size_t cap = src_size * 4 + 4096, len = 0;
	uint8_t *buf = NULL;
	for (;;) {
		if (cap > limit)
			cap = (size_t)limit;
		uint8_t *n = realloc(buf, cap ? cap : 1);
		if (!n) {
			free(buf);
			return RP_E_NOMEM;
		}
		buf = n;
		st.next_out = buf + len;
		st.avail_out = (uint32_t)((cap - len) > UINT32_MAX ? UINT32_MAX : cap - len);
		int r = isal_inflate(&st);
		len = (size_t)(st.next_out - buf);
		if (r != ISAL_DECOMP_OK) {
			free(buf);
			return rp__err(err, RP_E_CORRUPT,
				       "deflated dataset is corrupt (igzip error %d after %zu bytes)",
				       r, len);
		}
		if (st.block_state == ISAL_BLOCK_FINISH)
			break;
		if (st.avail_in == 0 && st.avail_out > 0) {
			free(buf);
			return rp__err(err, RP_E_CORRUPT,
				       "deflated dataset is truncated after %zu bytes", len);
		}
		if (len == cap) {
			if (cap >= limit) {
				free(buf);
				return rp__err(err, RP_E_LIMIT,
					       "deflated dataset inflates beyond %llu bytes",
					       (unsigned long long)limit);
			}
			cap = cap * 2;
		}
	}
	*out = buf;
	*out_size = len;
	return RP_OK;
}

int
rp__deflate_raw(const uint8_t *src, size_t src_size, uint8_t **out, size_t *out_size)
{
	if (src_size > UINT32_MAX / 2)
		return RP_E_LIMIT;
	struct isal_zstream zs;
	isal_deflate_init(&zs);
	/* Level 1 is ISA-L's fast, well-ratio'd setting; it needs a level buffer. */
	zs.level = 1;
	zs.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
	uint8_t *level_buf = malloc(zs.level_buf_size);
	size_t cap = src_size + src_size / 8 + 1024;
	uint8_t *buf = malloc(cap);
	if (!level_buf || !buf) {
		free(level_buf);
		free(buf);
		return RP_E_NOMEM;
	}
	zs.level_buf = level_buf;
	zs.gzip_flag = IGZIP_DEFLATE;
	zs.end_of_stream = 1;
	zs.flush = NO_FLUSH;
	zs.next_in = (uint8_t *)src;
	zs.avail_in = (uint32_t)src_size;
	zs.next_out = buf;
	zs.avail_out = (uint32_t)cap;
	int r = isal_deflate(&zs);
	free(level_buf);
	if (r != COMP_OK || zs.internal_state.state != ZSTATE_END) {
		free(buf);
		return RP_E_INTERNAL;
	}
	*out = buf;
	*out_size = zs.total_out;
	return RP_OK;
}
