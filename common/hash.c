/* SPDX-License-Identifier: BSD-3-Clause */
/* common/hash.c - SHA-256 through OpenSSL's EVP interface and CRC32C through ISA-L
 * (both pick the fastest instructions of the CPU themselves). */
#include "common/internal.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

struct rp__sha256 {
	EVP_MD_CTX *md;
};

int
rp__sha256_create(struct rp__sha256 **ctx_ret)
{
	struct rp__sha256 *ctx = malloc(sizeof(*ctx));
	if (!ctx)
		return RP_E_NOMEM;
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx->md);
		free(ctx);
		return RP_E_NOMEM;
	}
	*ctx_ret = ctx;
	return RP_OK;
}

void
rp__sha256_update(struct rp__sha256 *ctx, const void *data, size_t size)
{
	if (size)
		EVP_DigestUpdate(ctx->md, data, size);
}

void
rp__sha256_final(struct rp__sha256 *ctx, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_DigestFinal_ex(ctx->md, out, &len);
}

void
rp__sha256_destroy(struct rp__sha256 *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

int
rp__sha256(const void *data, size_t size, uint8_t out[32])
{
	struct rp__sha256 *ctx;
	RP_TRY(rp__sha256_create(&ctx));
	rp__sha256_update(ctx, data, size);
	rp__sha256_final(ctx, out);
	rp__sha256_destroy(ctx);
	return RP_OK;
}

uint32_t
rp__crc32c(uint32_t crc, const void *data, size_t size)
{
	/* ISA-L's crc32_iscsi takes an int length: feed it in pieces.  It neither pre- nor
	 * post-inverts, so we do the standard CRC-32C inversion here. */
	const unsigned char *p = data;
	crc = ~crc;
	while (size) {
		int n = size > (1u << 30) ? (1 << 30) : (int)size;
		crc = crc32_iscsi((unsigned char *)p, n, crc);
		p += n;
		size -= (size_t)n;
	}
	return ~crc;
}
