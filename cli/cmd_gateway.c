/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_gateway.c - `radpipe gateway`: the sending site's DICOM gateway.  Modalities
 * and PACS C-STORE into it (and files dropped into a watched directory join them); each
 * study, once quiet, is sent to a `radpipe serve` at the reading site, STAT first, with
 * retries until it is delivered.  docs/GATEWAY.md. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct rp_gateway *gateway;

static void
on_signal(int sig)
{
	(void)sig;
	rp_gateway_stop(gateway);
}

static void
on_log(void *ctx, const char *line)
{
	FILE *f = ctx;
	if (f) {
		fprintf(f, "%s\n", line);
		fflush(f);
	}
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe gateway --dicom AET@ADDR:PORT --to HOST:PORT --spool DIR [OPTIONS]\n"
		"Takes DICOM instances by C-STORE (and from --watch), queues them durably by\n"
		"study in DIR and sends each study to `radpipe serve` once no instance has come\n"
		"for the quiet time; STAT studies first; retries until delivered.\n"
		"      --config FILE       settings as `name = value` lines, the names of these\n"
		"                          options without dashes ('#' comments); options on the\n"
		"                          command line win (docs/radpipe-gateway.conf)\n"
		"      --dicom AET@ADDR:PORT  Storage SCP: our AE title and port.  DCMTK listens\n"
		"                          on every address whatever ADDR says (use * or 0.0.0.0);\n"
		"                          narrow callers with --allow-aet and the firewall\n"
		"      --to HOST:PORT      the reading site's `radpipe serve`\n"
		"      --spool DIR         the durable queue (created when missing)\n"
		"      --watch DIR         also take Part 10 files dropped into DIR (unchanged for\n"
		"                          3 s, dotfiles ignored); non-DICOM goes to DIR/.rejected\n"
		"      --allow-aet LIST    comma-separated calling AE titles admitted (default any)\n"
		"      --dicom-cert F --dicom-key F  DICOM TLS on the SCP (PEM): callers must\n"
		"                          present a certificate chaining to --dicom-ca F\n"
		"      --dicom-tls-profile P  bcp195-nd (default), bcp195, bcp195-ex\n"
		"      --study-quiet S     a study is sent S seconds after its last instance\n"
		"                          (default 10)\n"
		"      --stat-quiet S      a STAT study is sent S seconds after its last instance\n"
		"                          (default 2)\n"
		"      --stat RULE         a study matching RULE is STAT (repeatable; C-STORE\n"
		"                          priority HIGH also makes it STAT)\n"
		"      --retry-min S       first retry after S seconds, doubling (default 2)\n"
		"      --retry-max S       at most S seconds between retries (default 300)\n"
		"  -c, --codec CODEC       frames in flight: jpegls (default), native, auto\n"
		"  -n, --streams N         parallel connections (default 8)\n"
		"  -T, --threads N         encoder threads (default: one per CPU)\n"
		"      --cert F --key F    this site's certificate and key (PEM)\n"
		"      --ca F              CA the receiver's certificate must chain to\n"
		"      --allow FP[,FP]     receiver certificate SHA-256s (pinning)\n"
		"      --insecure          plain TCP, no TLS (loopback tests only)\n"
		"      --timeout S         a connection idle this long is dead (default 60)\n"
		"      --max-rate R        cap every send at R Mbit/s (leave room on the link)\n"
		"      --audit FILE        hash-chained audit log (received, delivered, failed)\n"
		"      --atna URL          also send each audit line as an IHE ATNA message:\n"
		"                          udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT\n"
		"                          (tls: the --dicom-cert/key/ca, else --cert/key/ca)\n"
		"      --log FILE          JSON lines (default DIR/gateway.log; '-' for stdout)\n"
		"  -q, --quiet\n"
		"SIGTERM or SIGINT stops it: the SCP closes, a send in progress is cancelled and\n"
		"resumes at the next start.  `radpipe status --spool DIR` shows the queue.\n");
}

static int
parse_hostport(char *s, const char **host, uint16_t *port, const char *what)
{
	if (rp_cli_hostport(s, host, port, false) < 0) {
		rp_cli_errorf("%s '%s': expected HOST:PORT", what, s);
		return -1;
	}
	return 0;
}

/* A duration (rp_cli_duration: "90", "90s", "5m") of at most 10^7 s. */
static int
parse_seconds(const char *s, double *v, const char *what)
{
	if (rp_cli_duration(s, v) < 0 || *v > 1e7) {
		rp_cli_errorf("%s '%s': expected seconds", what, s);
		return -1;
	}
	return 0;
}

int
rp_cmd_gateway(int argc, char **argv)
{
	struct rp_gateway_options o;
	rp_gateway_options_init(&o);
	unsigned threads = 0;
	const char *log_path = NULL, *audit_path = NULL, *atna_url = NULL;
	char *dicom = NULL, *to = NULL;
	const char **rules = NULL;
	static const struct option lopts[] = {
		{"dicom", required_argument, NULL, 1},     {"to", required_argument, NULL, 2},
		{"spool", required_argument, NULL, 3},     {"watch", required_argument, NULL, 4},
		{"allow-aet", required_argument, NULL, 5}, {"study-quiet", required_argument, NULL, 6},
		{"stat", required_argument, NULL, 7},      {"retry-min", required_argument, NULL, 8},
		{"retry-max", required_argument, NULL, 9}, {"codec", required_argument, NULL, 'c'},
		{"streams", required_argument, NULL, 'n'}, {"threads", required_argument, NULL, 'T'},
		{"cert", required_argument, NULL, 10},     {"key", required_argument, NULL, 11},
		{"ca", required_argument, NULL, 12},       {"allow", required_argument, NULL, 13},
		{"insecure", no_argument, NULL, 14},       {"timeout", required_argument, NULL, 15},
		{"audit", required_argument, NULL, 16},    {"log", required_argument, NULL, 17},
		{"config", required_argument, NULL, 18},   {"max-rate", required_argument, NULL, 19},
		{"dicom-cert", required_argument, NULL, 20}, {"dicom-key", required_argument, NULL, 21},
		{"dicom-ca", required_argument, NULL, 22},
		{"dicom-tls-profile", required_argument, NULL, 23},
		{"atna", required_argument, NULL, 24},
		{"stat-quiet", required_argument, NULL, 25},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c = rp_cli_config_expand(&argc, &argv, lopts);
	if (c != RP_EXIT_OK)
		return c;
	rules = calloc((size_t)argc + 1, sizeof(*rules));
	if (!rules)
		return RP_EXIT_INTERNAL;
	int rc = RP_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:n:T:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 1: dicom = optarg; break;
		case 2: to = optarg; break;
		case 3: o.spool = optarg; break;
		case 4: o.watch_dir = optarg; break;
		case 5: o.allow_aets = optarg; break;
		case 6:
			if (parse_seconds(optarg, &o.study_quiet_s, "--study-quiet") < 0)
				goto out;
			break;
		case 7: rules[o.stat_rule_count++] = optarg; break;
		case 8:
			if (parse_seconds(optarg, &o.retry_min_s, "--retry-min") < 0)
				goto out;
			break;
		case 9:
			if (parse_seconds(optarg, &o.retry_max_s, "--retry-max") < 0)
				goto out;
			break;
		case 'c':
			if (strcmp(optarg, "auto") == 0) {
				o.send.codec = rp_send_codec_auto();
			} else if (rp_codec_from_name(optarg, &o.send.codec) != RP_OK) {
				rp_cli_errorf("unknown codec '%s'", optarg);
				goto out;
			}
			break;
		case 'n': o.send.streams = (unsigned)atoi(optarg); break;
		case 'T':
			if (rp_cli_threads(optarg, &threads) < 0)
				return RP_EXIT_USAGE;
			break;
		case 10: o.send.tls.cert_file = optarg; break;
		case 11: o.send.tls.key_file = optarg; break;
		case 12: o.send.tls.ca_file = optarg; break;
		case 13: o.send.tls.allow_fingerprints = optarg; break;
		case 14: o.send.tls.insecure = 1; break;
		case 15:
			if (parse_seconds(optarg, &o.send.io_timeout_s, "--timeout") < 0)
				goto out;
			break;
		case 16: audit_path = optarg; break;
		case 17: log_path = optarg; break;
		case 18: break; /* expanded above */
		case 19: {
			char *end;
			o.send.max_rate_mbps = strtod(optarg, &end);
			if (end == optarg || *end || !(o.send.max_rate_mbps >= 1 &&
						       o.send.max_rate_mbps <= 1e6)) {
				rp_cli_errorf("--max-rate '%s': expected 1..1000000 Mbit/s", optarg);
				goto out;
			}
			break;
		}
		case 20: o.dicom_tls_cert = optarg; break;
		case 21: o.dicom_tls_key = optarg; break;
		case 22: o.dicom_tls_ca = optarg; break;
		case 23: o.dicom_tls_profile = optarg; break;
		case 24: atna_url = optarg; break;
		case 25:
			if (parse_seconds(optarg, &o.stat_quiet_s, "--stat-quiet") < 0)
				goto out;
			break;
		case 'q': rp_cli_quiet = true; break;
		case 'h': usage(stdout); rc = RP_EXIT_OK; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind != argc || !to || !o.spool || (!dicom && !o.watch_dir)) {
		if (optind == argc)
			rp_cli_errorf("--to and --spool are required, and --dicom or --watch");
		usage(stderr);
		goto out;
	}
	if (parse_hostport(to, &o.send.host, &o.send.port, "--to") < 0)
		goto out;
	if (dicom) {
		char *at = strchr(dicom, '@');
		const char *addr;
		if (at) {
			*at = 0;
			o.ae_title = dicom;
		}
		if (parse_hostport(at ? at + 1 : dicom, &addr, &o.dicom_port, "--dicom") < 0)
			goto out;
	}
	o.stat_rules = rules;

	char defpath[4200];
	if (!log_path) {
		snprintf(defpath, sizeof(defpath), "%s/gateway.log", o.spool);
		log_path = defpath;
		(void)mkdir(o.spool, 0750);
	}
	FILE *log = strcmp(log_path, "-") == 0 ? stdout : fopen(log_path, "a");
	if (!log) {
		rp_cli_errorf("%s: %s", log_path, strerror(errno));
		rc = RP_EXIT_IO;
		goto out;
	}
	o.log = on_log;
	o.log_ctx = log;

	struct rp_errbuf err = {""};
	struct rp_cli_audit audit;
	struct rp_pool *pool = NULL;
	bool dicom_tls = o.dicom_tls_cert != NULL;
	struct rp_cli_audit_config ac = {
		.path = audit_path, .atna_url = atna_url, .ae_title = o.ae_title,
		.tls_cert = dicom_tls ? o.dicom_tls_cert : o.send.tls.cert_file,
		.tls_key = dicom_tls ? o.dicom_tls_key : o.send.tls.key_file,
		.tls_ca = dicom_tls ? o.dicom_tls_ca : o.send.tls.ca_file,
		.log = on_log, .log_ctx = log};
	int st = rp_cli_audit_open(&audit, &ac, &err);
	o.audit = audit.log;
	if (st == RP_OK && rp_pool_create(threads, 0, &pool) != RP_OK)
		st = rp_cli_fail(&err, RP_E_INTERNAL, "cannot start the encoder threads");
	o.send.pool = pool;
	signal(SIGPIPE, SIG_IGN);
	if (st == RP_OK)
		st = rp_gateway_create(&o, &gateway, &err);
	if (st == RP_OK) {
		struct sigaction sa = {0};
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		if (!rp_cli_quiet)
			fprintf(stderr, "radpipe: gateway %s@*:%u -> %s:%u, spool %s\n",
				dicom ? o.ae_title : "(no SCP)", o.dicom_port, o.send.host,
				o.send.port, o.spool);
		st = rp_gateway_run(gateway, &err);
		rp_gateway_destroy(gateway);
	}
	rp_pool_destroy(pool);
	rp_cli_audit_close(&audit);
	if (log != stdout)
		fclose(log);
	if (st != RP_OK) {
		rp_cli_error("gateway failed", st, err.msg);
		rc = rp_cli_exit_code(st);
	} else {
		rc = RP_EXIT_OK;
	}
out:
	free(rules);
	return rc;
}
