/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_audit.c - `radpipe audit verify LOG...`: checks the hash chain of audit logs
 * (docs/AUDIT.md) and names every line that breaks it. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe audit verify [OPTIONS] LOG...\n"
		"Checks that every line of each audit log follows the one before it (its prev\n"
		"field is that line's SHA-256) and that sequence numbers run without gaps, so an\n"
		"edited, deleted or reordered line is found.  Lines cut from the end of a log\n"
		"leave no trace in it: compare the last sequence number and hash printed here\n"
		"with a copy kept elsewhere.\n"
		"  -q, --quiet    print only the problems\n"
		"Exit status: 0 every chain intact, 1 some line breaks a chain, 3 a log cannot be\n"
		"read.\n");
}

static void
on_problem(void *ctx, uint64_t line, const char *what)
{
	fprintf(stderr, "radpipe: %s:%" PRIu64 ": %s\n", (const char *)ctx, line, what);
}

int
rp_cmd_audit(int argc, char **argv)
{
	static const struct option lopts[] = {{"quiet", no_argument, NULL, 'q'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return RP_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	argc--;
	argv++;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", lopts, NULL)) != -1) {
		switch (c) {
		case 'q': rp_cli_quiet = true; break;
		case 'h': usage(stdout); return RP_EXIT_OK;
		default: usage(stderr); return RP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	int rc = RP_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct rp_audit_summary sum;
		struct rp_errbuf err = {""};
		int st = rp_audit_verify(argv[i], on_problem, argv[i], &sum, &err);
		if (st == RP_E_IO) {
			rp_cli_error(argv[i], st, err.msg);
			rc = RP_EXIT_IO;
			continue;
		}
		if (st != RP_OK && rc == RP_EXIT_OK)
			rc = RP_EXIT_FAILED;
		if (st != RP_OK && st != RP_E_MISMATCH) {
			rp_cli_error(argv[i], st, err.msg);
			continue;
		}
		if (!rp_cli_quiet || st != RP_OK)
			printf("%s: %" PRIu64 " lines, %s; last seq %" PRIu64 ", sha256 %s%s\n",
			       argv[i], sum.lines,
			       st == RP_OK ? "chain intact" : "CHAIN BROKEN", sum.last_seq,
			       sum.last_hash,
			       sum.torn ? " (a line cut short by a crash)" : "");
	}
	return rc;
}
