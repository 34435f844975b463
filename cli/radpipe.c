/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/radpipe.c - the radpipe command: global flags and the subcommand table. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

bool rp_cli_quiet;
bool rp_cli_json;

static const struct rp_cli_cmd commands[] = {
	{ "info", "show transfer syntax, geometry and pixel hash of DICOM files", rp_cmd_info },
	{ "compress", "compress DICOM files losslessly (JPEG-LS, ...) into OUTDIR", rp_cmd_compress },
	{ "decompress", "decode DICOM files to explicit VR little endian into OUTDIR",
	  rp_cmd_decompress },
	{ "report", "merge the per-shard reports of compress runs; check every input done once",
	  rp_cmd_report },
	{ "verify", "check that two files or trees hold the same pixels", rp_cmd_verify },
	{ "send", "send files or studies to a radpipe serve (TLS, parallel, resumable)", rp_cmd_send },
	{ "serve", "receive studies from radpipe send into a directory", rp_cmd_serve },
	{ "gateway", "DICOM gateway: take C-STORE, queue studies durably, send them to a serve",
	  rp_cmd_gateway },
	{ "status", "show the study queue of a gateway (radpipe status --spool DIR)",
	  rp_cmd_status },
	{ "audit", "check the hash chain of audit logs (edited, deleted or reordered lines)",
	  rp_cmd_audit },
	{ "keygen", "make a test CA and site certificates for mutual TLS", rp_cmd_keygen },
	{ "bench", "measure codecs and whole-study transcoding (ratio, MB/s, scaling)", rp_cmd_bench },
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe [--version] [--help] COMMAND [ARGS...]\n"
		"\n"
		"Lossless DICOM compression and transfer engine.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Run 'radpipe COMMAND --help' for a command's options.\n"
		"Exit codes: 0 ok, 1 some input failed, 2 usage, 3 I/O, 4 network, 70 internal.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return RP_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("radpipe %s\n", rp_version());
		return RP_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	rp_cli_errorf("unknown command '%s' (see 'radpipe --help')", argv[1]);
	return RP_EXIT_USAGE;
}
