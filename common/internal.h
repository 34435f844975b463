/* SPDX-License-Identifier: BSD-3-Clause */
/* common/internal.h - helpers shared inside libradpipe: error reporting, checked
 * arithmetic, little-endian loads and stores.  Never included by public headers. */
#ifndef RP_COMMON_INTERNAL_H
#define RP_COMMON_INTERNAL_H

#include <radpipe/radpipe.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define RP__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RP__LIKELY(x) __builtin_expect(!!(x), 1)
#define RP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RP__PRINTF(f, a)
#define RP__LIKELY(x) (x)
#define RP__UNLIKELY(x) (x)
#endif

/* Writes a message to err (when not NULL) and returns status, so that error paths read
 * `return rp__err(err, RP_E_CORRUPT, "item at offset %zu overruns the file", off);`. */
int rp__err(struct rp_errbuf *err, int status, const char *fmt, ...) RP__PRINTF(3, 4);

/* Forwards a negative status. */
#define RP_TRY(expr)                                                                      \
	do {                                                                              \
		int rp__s = (expr);                                                       \
		if (rp__s < 0)                                                            \
			return rp__s;                                                     \
	} while (0)

/* Checked arithmetic on sizes: false on overflow. */
static inline bool
rp__add_size(size_t a, size_t b, size_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}

static inline bool
rp__mul_size(size_t a, size_t b, size_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

/* 16-bit little-endian access: on a little-endian host a plain (memcpy) load or store,
 * which, unlike the byte-wise form, lets the compiler vectorize loops over samples (the
 * byte-wise store kept the HTJ2K output conversion scalar). */
static inline uint16_t
rp__load_le16(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
#else
	return (uint16_t)(p[0] | (p[1] << 8));
#endif
}

static inline uint32_t
rp__load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t
rp__load_le64(const uint8_t *p)
{
	return (uint64_t)rp__load_le32(p) | ((uint64_t)rp__load_le32(p + 4) << 32);
}

static inline uint16_t
rp__load_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rp__load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}

static inline void
rp__store_le16(uint8_t *p, uint16_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 2);
#else
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
#endif
}

static inline void
rp__store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void
rp__store_le64(uint8_t *p, uint64_t v)
{
	rp__store_le32(p, (uint32_t)v);
	rp__store_le32(p + 4, (uint32_t)(v >> 32));
}

/* SHA-256 (OpenSSL behind common/hash.c). */
struct rp__sha256;
int rp__sha256_create(struct rp__sha256 **ctx_ret);
void rp__sha256_update(struct rp__sha256 *ctx, const void *data, size_t size);
void rp__sha256_final(struct rp__sha256 *ctx, uint8_t out[32]);
void rp__sha256_destroy(struct rp__sha256 *ctx);
int rp__sha256(const void *data, size_t size, uint8_t out[32]);

/* CRC32C (Castagnoli), ISA-L behind common/hash.c. */
uint32_t rp__crc32c(uint32_t crc, const void *data, size_t size);

#endif /* RP_COMMON_INTERNAL_H */
