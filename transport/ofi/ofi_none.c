/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/ofi/ofi_none.c - backend choice in a build without libfabric: TCP only, and
 * a fabric request fails at tls_create with the reason instead of silently using TCP. */
#include "transport/transport.h"

static int
none_tls_create(const struct rp_tls_config *cfg, bool server, struct rp__tls **ret,
		struct rp_errbuf *err)
{
	(void)cfg;
	(void)server;
	*ret = NULL;
	return rp__err(err, RP_E_UNSUPPORTED,
		       "this build has no libfabric backend (install libfabric-dev, rebuild)");
}

static void
none_tls_destroy(struct rp__tls *tls)
{
	(void)tls;
}

static int
none_listen(const char *host, uint16_t port, struct rp__listener **ret, uint16_t *bound,
	    struct rp_errbuf *err)
{
	(void)host;
	(void)port;
	(void)bound;
	*ret = NULL;
	return rp__err(err, RP_E_UNSUPPORTED, "this build has no libfabric backend");
}

static void
none_close_listener(struct rp__listener *l)
{
	(void)l;
}

static const struct rp__transport_ops none_ops = {
	.size = sizeof(struct rp__transport_ops),
	.name = "ofi-unavailable",
	.tls_create = none_tls_create,
	.tls_destroy = none_tls_destroy,
	.listen = none_listen,
	.close_listener = none_close_listener,
};

const struct rp__transport_ops *
rp__transport_backend_for(const struct rp_tls_config *cfg)
{
	return cfg && cfg->fabric ? &none_ops : &rp__tcp_ops;
}
