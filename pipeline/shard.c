/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/shard.c - which of N tasks takes a file: a stable hash of its key, mod N
 * (include/radpipe/pipeline.h documents the hash byte for byte, so other tools can
 * predict a file's shard). */
#include "common/internal.h"

#include <radpipe/dicom.h>
#include <radpipe/pipeline.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a 64: no table, no seed, the same value on every host and build, and good enough
 * spread for path-like keys that differ only in a few trailing digits. */
#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

uint64_t
rp_shard_hash(const void *key, size_t key_size)
{
	const uint8_t *p = key;
	uint64_t h = FNV64_OFFSET;
	for (size_t i = 0; i < key_size; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

uint32_t
rp_shard_of(const void *key, size_t key_size, uint32_t count)
{
	if (count == 0)
		return 0;
	return (uint32_t)(rp_shard_hash(key, key_size) % count);
}

#define SHARD_COUNT_MAX 1000000u

static int
parse_u32(const char *s, const char *stop, uint32_t *v)
{
	if (s == stop)
		return -1;
	uint64_t x = 0;
	for (const char *p = s; p < stop; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > SHARD_COUNT_MAX)
			return -1;
	}
	*v = (uint32_t)x;
	return 0;
}

int
rp_shard_parse(const char *spec, uint32_t *index, uint32_t *count, struct rp_errbuf *err)
{
	if (!spec || !index || !count)
		return rp__err(err, RP_E_INVALID_ARG, "no shard given");
	const char *slash = strchr(spec, '/');
	uint32_t i, n;
	if (!slash || parse_u32(spec, slash, &i) || parse_u32(slash + 1, slash + strlen(slash), &n))
		return rp__err(err, RP_E_INVALID_ARG,
			       "shard '%s' is not I/N (decimal, e.g. 0/4)", spec);
	if (n == 0 || i >= n)
		return rp__err(err, RP_E_INVALID_ARG,
			       "shard '%s': the index must be below the count (0/%u .. %u/%u)",
			       spec, n ? n : 1, n ? n - 1 : 0, n ? n : 1);
	*index = i;
	*count = n;
	return RP_OK;
}

int
rp_shard_study_key(const void *data, size_t size, char *key, size_t key_capacity,
		   struct rp_errbuf *err)
{
	if (!data || !key || key_capacity == 0)
		return rp__err(err, RP_E_INVALID_ARG, "no buffer for the study key");
	key[0] = '\0';
	struct rp_dicom *ds = NULL;
	struct rp_dicom_options o;
	rp_dicom_options_init(&o);
	/* The parser stops at the pixel data's header and never reads native pixels, so a
	 * mapped file costs only its header pages here. */
	int st = rp_dicom_parse(data, size, &o, &ds, err);
	if (st != RP_OK)
		return st;
	const char *uid = rp_dicom_get_info(ds)->study_instance_uid;
	size_t n = strlen(uid);
	while (n && (uid[n - 1] == ' ' || uid[n - 1] == '\0'))
		n--;
	if (n == 0) {
		rp_dicom_free(ds);
		return rp__err(err, RP_E_CORRUPT, "no StudyInstanceUID (0020,000D)");
	}
	if (n >= key_capacity) {
		rp_dicom_free(ds);
		return rp__err(err, RP_E_LIMIT, "StudyInstanceUID longer than %zu bytes",
			       key_capacity - 1);
	}
	memcpy(key, uid, n);
	key[n] = '\0';
	rp_dicom_free(ds);
	return RP_OK;
}
