/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cli_audit_trail.c - the audit trail of the long-running commands (gateway, serve):
 * the hash-chained log of --audit and, with --atna, each of its lines also sent to the
 * site's audit record repository as an IHE ATNA message.  ATNA messages are made from
 * the log's lines, so --atna needs --audit. */
#include "cli.h"

#include <string.h>

int
rp_cli_audit_open(struct rp_cli_audit *a, const struct rp_cli_audit_config *cfg,
		  struct rp_errbuf *err)
{
	memset(a, 0, sizeof(*a));
	if (cfg->atna_url && !cfg->path)
		return rp_cli_fail(err, RP_E_INVALID_ARG,
				   "--atna needs --audit FILE: the ATNA messages are the audit "
				   "trail's lines");
	if (!cfg->path)
		return RP_OK;
	int st = rp_audit_open(cfg->path, &a->log, err);
	if (st != RP_OK || !cfg->atna_url)
		return st;
	struct rp_atna_options o;
	rp_atna_options_init(&o);
	o.url = cfg->atna_url;
	o.ae_title = cfg->ae_title;
	o.tls_cert = cfg->tls_cert;
	o.tls_key = cfg->tls_key;
	o.tls_ca = cfg->tls_ca;
	o.log = cfg->log;
	o.log_ctx = cfg->log_ctx;
	if ((st = rp_atna_open(&o, &a->atna, err)) != RP_OK) {
		rp_audit_close(a->log);
		a->log = NULL;
		return st;
	}
	rp_audit_set_atna(a->log, a->atna);
	return RP_OK;
}

void
rp_cli_audit_close(struct rp_cli_audit *a)
{
	if (a->log && a->atna)
		rp_audit_set_atna(a->log, NULL);
	rp_atna_close(a->atna);
	rp_audit_close(a->log);
	memset(a, 0, sizeof(*a));
}
