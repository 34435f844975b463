/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_keygen.c - `radpipe keygen`: a test CA and site certificates for mutual TLS. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe keygen --ca DIR                 make a test CA (DIR/ca.pem, ca.key)\n"
		"       radpipe keygen --ca DIR NAME [OUTDIR]   make OUTDIR/NAME.pem and NAME.key\n"
		"                                               (default OUTDIR = DIR), signed by\n"
		"                                               the CA, valid for NAME, localhost,\n"
		"                                               127.0.0.1 and ::1\n"
		"Each site gets its own certificate; both sides pass --cert, --key and --ca.\n"
		"The certificate's SHA-256 (for --allow) is printed by:\n"
		"  openssl x509 -in NAME.pem -noout -fingerprint -sha256\n");
}

int
rp_cmd_keygen(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return RP_EXIT_OK;
	}
	if (argc < 3 || argc > 5 || strcmp(argv[1], "--ca") != 0) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	struct rp_errbuf err = {""};
	const char *ca = argv[2];
	int st;
	if (argc == 3)
		st = rp_tls_keygen(ca, NULL, NULL, &err);
	else
		st = rp_tls_keygen(argc == 5 ? argv[4] : ca, argv[3], ca, &err);
	if (st != RP_OK) {
		rp_cli_error("keygen failed", st, err.msg);
		return rp_cli_exit_code(st);
	}
	if (!rp_cli_quiet)
		fprintf(stderr, "radpipe: wrote %s/%s.pem and %s.key\n", argc == 5 ? argv[4] : ca,
			argc == 3 ? "ca" : argv[3], argc == 3 ? "ca" : argv[3]);
	return RP_EXIT_OK;
}
