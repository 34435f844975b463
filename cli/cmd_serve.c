/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_serve.c - `radpipe serve`: receive sessions into a directory, one JSON line
 * per accepted or rejected session in the session log. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct rp_server *server;

static void
on_signal(int sig)
{
	(void)sig;
	rp_server_stop(server);
}

struct serve_ctx {
	FILE *log;
	const char *port_file;
	const char *host;
	pthread_mutex_t log_mu;      /* the server's and the forward queue's lines */
	struct rp_forward *forward;
};

/* Every file a session newly placed in DIR goes on the forward queue (journaled before
 * the session counts as delivered, so a crash cannot lose it). */
static int
on_delivered(void *vctx, const char *session, const char *const *paths, size_t n)
{
	struct serve_ctx *c = vctx;
	struct rp_errbuf err = {""};
	(void)session;
	int st = rp_forward_enqueue(c->forward, paths, n, &err);
	if (st != RP_OK)
		rp_cli_error("forward queue", st, err.msg);
	return st == RP_OK ? 0 : -1;
}

static void
on_log(void *ctx, const char *line)
{
	struct serve_ctx *c = ctx;
	pthread_mutex_lock(&c->log_mu);
	if (c->log) {
		fprintf(c->log, "%s\n", line);
		fflush(c->log);
	}
	pthread_mutex_unlock(&c->log_mu);
}

static void
on_ready(struct serve_ctx *c, uint16_t port)
{
	if (!rp_cli_quiet)
		fprintf(stderr, "radpipe: serving on %s:%u\n", c->host, port);
	if (c->port_file) {
		/* Written whole then renamed, so a test polling for it never reads half. */
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", c->port_file);
		FILE *f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "%u\n", port);
			fclose(f);
			rename(tmp, c->port_file);
		}
	}
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x = strtoull(s, &end, 10);
	int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (end == s || *end || (shift && x > (~0ull >> shift)))
		return -1;
	*v = x << shift;
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe serve --dir DIR [OPTIONS]\n"
		"Receives `radpipe send` sessions; each study appears in DIR only once complete\n"
		"and verified.  Interrupted sessions resume when the sender reruns.\n"
		"      --config FILE        settings as `name = value` lines, the names of these\n"
		"                           options without dashes ('#' comments); options on the\n"
		"                           command line win (docs/radpipe-serve.conf)\n"
		"      --dir DIR            delivery directory (spool in DIR/.radpipe)\n"
		"      --listen ADDR:PORT   default 127.0.0.1:7470 (PORT 0: any free port)\n"
		"      --cert F --key F     this site's certificate and key (PEM)\n"
		"      --ca F               CA that client certificates must chain to\n"
		"      --allow FP[,FP]      client certificate SHA-256s: alone, accept exactly these\n"
		"                           (no CA needed); with --ca, accept only these of the\n"
		"                           certificates that chain to the CA\n"
		"      --insecure           plain TCP, no TLS: refused (exit 2) unless ADDR is a\n"
		"                           loopback address (tests on one machine)\n"
		"      --fabric PROV        data over libfabric (tcp;ofi_rxm, shm, verbs;ofi_rxm,\n"
		"                           efa); unencrypted: needs --trusted-fabric\n"
		"      --ofi-window N       fabric messages in flight per connection, 1..256 (16)\n"
		"      --ofi-seg SIZE       bytes per fabric message, 4K..64M (256K)\n"
		"      --ofi-no-rma         tagged sends even where the provider offers RMA writes\n"
		"      --deliver original   the original files byte for byte (default)\n"
		"      --deliver compressed encapsulated DICOM in the codec's transfer syntax, with\n"
		"                           the codestreams that crossed the link (pixels checked\n"
		"                           against the sender's pixel hash); other files as sent\n"
		"      --file-mode MODE     delivered files' mode, octal (default 0640: patient data\n"
		"                           for owner and group only); directories get x where r\n"
		"                           is set (0750)\n"
		"      --spool-retention T  remove spools of sessions idle this long (a sender that\n"
		"                           died, failed or was refused), at start and while\n"
		"                           running; a rerun within T resumes (default 7d; 0: never)\n"
		"      --log FILE           session log, JSON lines (default DIR/.radpipe/sessions.log;\n"
		"                           '-' for stdout)\n"
		"      --port-file F        write the bound port to F once listening\n"
		"      --max-objects N      per session (default 1000000)\n"
		"      --max-object-size S  default 64G\n"
		"      --max-session-size S default 4T\n"
		"  -T, --threads N          threads that decode frames (default: one per CPU)\n"
		"      --timeout S          a connection idle this long is dropped (default 60,\n"
		"                           at least 10)\n"
		"      --forward AET@HOST:PORT  send every instance delivered into DIR on to this\n"
		"                           PACS by C-STORE, once each, from a durable queue in\n"
		"                           DIR/.radpipe/forward (kept across restarts; while the\n"
		"                           PACS is unreachable, retried every 2 s doubling to 5 min;\n"
		"                           an instance it refuses for good is marked failed, logged)\n"
		"      --forward-aet AET    our calling AE title (default RADPIPE)\n"
		"      --stow URL           forward by DICOMweb STOW-RS instead: POST URL/studies\n"
		"                           (e.g. http://pacs:8042/dicom-web), same queue and retries\n"
		"      --stow-user U:P      basic authentication for --stow\n"
		"      --stow-ca FILE       CA bundle for an https --stow URL (default: the system's)\n"
		"      --stow-timeout S     connect, and longest a request may move no byte\n"
		"                           (default 60)\n"
		"      --forward-cert F --forward-key F  DICOM TLS to the --forward PACS (PEM);\n"
		"                           its certificate must chain to --forward-ca F and be\n"
		"                           valid for HOST\n"
		"      --forward-tls-profile P  bcp195-nd (default), bcp195, bcp195-ex\n"
		"      --audit FILE         one \"delivered\"/\"failed\" line per forwarded instance\n"
		"                           in this hash-chained audit log (docs/AUDIT.md)\n"
		"      --atna URL           also send each audit line as an IHE ATNA message:\n"
		"                           udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT\n"
		"                           (tls: the --forward-cert/key/ca, else --cert/key/ca)\n"
		"  -q, --quiet\n");
}

int
rp_cmd_serve(int argc, char **argv)
{
	struct rp_serve_options o;
	rp_serve_options_init(&o);
	struct serve_ctx ctx = {0};
	const char *listen = "127.0.0.1:7470", *log_path = NULL;
	const char *forward = NULL, *forward_aet = "RADPIPE", *audit_path = NULL;
	const char *stow = NULL, *stow_user = NULL, *stow_ca = NULL;
	double stow_timeout = 60;
	const char *fw_cert = NULL, *fw_key = NULL, *fw_ca = NULL, *fw_profile = NULL;
	const char *atna_url = NULL;
	unsigned threads = 0;        /* frame decoders; 0: one per CPU */
	struct rp_pool *pool = NULL;
	pthread_mutex_init(&ctx.log_mu, NULL);
	static const struct option lopts[] = {
		{"dir", required_argument, NULL, 'd'},     {"listen", required_argument, NULL, 'l'},
		{"cert", required_argument, NULL, 1},      {"key", required_argument, NULL, 2},
		{"ca", required_argument, NULL, 3},        {"allow", required_argument, NULL, 4},
		{"insecure", no_argument, NULL, 5},        {"deliver", required_argument, NULL, 6},
		{"fabric", required_argument, NULL, 30},   {"trusted-fabric", no_argument, NULL, 31},
		{"ofi-window", required_argument, NULL, 32}, {"ofi-seg", required_argument, NULL, 33},
		{"ofi-no-rma", no_argument, NULL, 34},
		{"log", required_argument, NULL, 7},       {"port-file", required_argument, NULL, 8},
		{"max-objects", required_argument, NULL, 9},
		{"max-object-size", required_argument, NULL, 10},
		{"max-session-size", required_argument, NULL, 11},
		{"timeout", required_argument, NULL, 12},  {"quiet", no_argument, NULL, 'q'},
		{"file-mode", required_argument, NULL, 13},
		{"spool-retention", required_argument, NULL, 14},
		{"config", required_argument, NULL, 15},
		{"forward", required_argument, NULL, 40},
		{"forward-aet", required_argument, NULL, 41},
		{"audit", required_argument, NULL, 42},
		{"stow", required_argument, NULL, 43},
		{"stow-user", required_argument, NULL, 44},
		{"stow-ca", required_argument, NULL, 45},
		{"stow-timeout", required_argument, NULL, 46},
		{"forward-cert", required_argument, NULL, 47},
		{"forward-key", required_argument, NULL, 48},
		{"forward-ca", required_argument, NULL, 49},
		{"forward-tls-profile", required_argument, NULL, 50},
		{"threads", required_argument, NULL, 'T'},
		{"atna", required_argument, NULL, 51},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c = rp_cli_config_expand(&argc, &argv, lopts);
	if (c != RP_EXIT_OK)
		return c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qhT:", lopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'l': listen = optarg; break;
		case 1: o.tls.cert_file = optarg; break;
		case 2: o.tls.key_file = optarg; break;
		case 3: o.tls.ca_file = optarg; break;
		case 4: o.tls.allow_fingerprints = optarg; break;
		case 5: o.tls.insecure = 1; break;
		case 30: o.tls.fabric = optarg; break;
		case 31: o.tls.trusted_fabric = 1; break;
		case 32:
		case 33:
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > UINT32_MAX) {
				rp_cli_errorf("bad number '%s'", optarg);
				return RP_EXIT_USAGE;
			}
			*(c == 32 ? &o.tls.ofi_window : &o.tls.ofi_seg) = (uint32_t)v;
			break;
		case 34: o.tls.ofi_no_rma = 1; break;
		case 6:
			if (strcmp(optarg, "original") == 0) {
				o.deliver = RP_DELIVER_ORIGINAL;
			} else if (strcmp(optarg, "compressed") == 0) {
				o.deliver = RP_DELIVER_COMPRESSED;
			} else {
				rp_cli_errorf("--deliver %s: 'original' or 'compressed'", optarg);
				return RP_EXIT_USAGE;
			}
			break;
		case 7: log_path = optarg; break;
		case 8: ctx.port_file = optarg; break;
		case 9:
		case 10:
		case 11:
			if (parse_u64(optarg, &v) < 0) {
				rp_cli_errorf("bad number '%s'", optarg);
				return RP_EXIT_USAGE;
			}
			if (c == 9)
				o.max_objects = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			else if (c == 10)
				o.max_object_size = v;
			else
				o.max_session_size = v;
			break;
		case 'T':
			if (rp_cli_threads(optarg, &threads) < 0)
				return RP_EXIT_USAGE;
			break;
		case 12:
			if (rp_cli_duration(optarg, &o.io_timeout_s) < 0 || o.io_timeout_s < 10) {
				rp_cli_errorf("--timeout '%s': expected a duration of at least 10 s "
					      "(senders keep an idle connection alive every 5 s)",
					      optarg);
				return RP_EXIT_USAGE;
			}
			break;
		case 13: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (!*optarg || *end || m > 0777 || (m & 0600) != 0600) {
				rp_cli_errorf("--file-mode '%s': expected an octal mode of at most "
					      "0777 that includes 0600", optarg);
				return RP_EXIT_USAGE;
			}
			o.file_mode = (uint32_t)m;
			break;
		}
		case 14:
			if (rp_cli_duration(optarg, &o.spool_retention_s) < 0) {
				rp_cli_errorf("--spool-retention '%s': expected a duration such as "
					      "7d, 12h, 30m, 90s, or 0 to keep spools forever", optarg);
				return RP_EXIT_USAGE;
			}
			break;
		case 15: break; /* expanded above */
		case 40: forward = optarg; break;
		case 41: forward_aet = optarg; break;
		case 42: audit_path = optarg; break;
		case 43: stow = optarg; break;
		case 44: stow_user = optarg; break;
		case 45: stow_ca = optarg; break;
		case 46:
			if (rp_cli_duration(optarg, &stow_timeout) < 0 || stow_timeout <= 0) {
				rp_cli_errorf("--stow-timeout '%s': expected a positive duration", optarg);
				return RP_EXIT_USAGE;
			}
			break;
		case 47: fw_cert = optarg; break;
		case 48: fw_key = optarg; break;
		case 49: fw_ca = optarg; break;
		case 50: fw_profile = optarg; break;
		case 51: atna_url = optarg; break;
		case 'q': rp_cli_quiet = true; break;
		case 'h': usage(stdout); return RP_EXIT_OK;
		default: usage(stderr); return RP_EXIT_USAGE;
		}
	}
	if (!o.dir || optind != argc) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	/* ofi_rxm pre-allocates and clears a pool of receive buffers per endpoint (128 x
	 * 16 KiB + headers by default): measured 0.23 s per fi_enable here, 0.06 s with 16.
	 * radpipe's traffic is one peer per endpoint and large (rendezvous) messages, so a
	 * small pool costs nothing.  libfabric 1.17 has no API for it: rxm reads this only
	 * from the environment (fi_param_get at provider load; rx_attr->size of our hints is
	 * not passed to the core endpoint), so the program, not the library, sets it before
	 * the first libfabric call.  A value the user exported wins (no overwrite). */
	if (o.tls.fabric)
		setenv("FI_OFI_RXM_MSG_RX_SIZE", "16", 0);
	static char listen_buf[300];
	const char *host;
	if (strlen(listen) >= sizeof(listen_buf) ||
	    rp_cli_hostport(strcpy(listen_buf, listen), &host, &o.port, true) < 0) {
		rp_cli_errorf("--listen '%s': expected ADDR:PORT", listen);
		return RP_EXIT_USAGE;
	}
	o.host = host[0] ? host : "0.0.0.0";
	ctx.host = o.host;

	char defpath[4200];
	if (!log_path) {
		char rad[4096];
		snprintf(rad, sizeof(rad), "%s/.radpipe", o.dir);
		(void)mkdir(rad, 0700);
		snprintf(defpath, sizeof(defpath), "%s/sessions.log", rad);
		log_path = defpath;
	}
	ctx.log = strcmp(log_path, "-") == 0 ? stdout : fopen(log_path, "a");
	if (!ctx.log) {
		rp_cli_errorf("%s: %s", log_path, strerror(errno));
		return RP_EXIT_IO;
	}
	o.log = on_log;
	o.log_ctx = &ctx;
	signal(SIGPIPE, SIG_IGN);

	struct rp_errbuf err = {""};
	int st = RP_OK;
	static char fw_ae[17], fw_host[256];
	struct rp_forward_options fo;
	struct rp_cli_audit audit = {0};
	struct rp_cli_audit_config ac = {
		.path = audit_path, .atna_url = atna_url, .ae_title = forward_aet,
		.tls_cert = fw_cert ? fw_cert : o.tls.cert_file,
		.tls_key = fw_cert ? fw_key : o.tls.key_file,
		.tls_ca = fw_cert ? fw_ca : o.tls.ca_file,
		.log = on_log, .log_ctx = &ctx};
	rp_forward_options_init(&fo);
	if (forward && stow) {
		rp_cli_errorf("--forward and --stow: one egress at a time");
		if (ctx.log != stdout)
			fclose(ctx.log);
		return RP_EXIT_USAGE;
	}
	if (stow) {
		if (strncmp(stow, "http://", 7) != 0 && strncmp(stow, "https://", 8) != 0) {
			rp_cli_errorf("--stow '%s': expected an http:// or https:// URL", stow);
			if (ctx.log != stdout)
				fclose(ctx.log);
			return RP_EXIT_USAGE;
		}
		fo.dir = o.dir;
		fo.stow.url = stow;
		fo.stow.user_password = stow_user;
		fo.stow.ca_file = stow_ca;
		fo.stow.timeout_s = stow_timeout;
		fo.log = on_log;
		fo.log_ctx = &ctx;
		if ((st = rp_cli_audit_open(&audit, &ac, &err)) == RP_OK)
			fo.stow.audit = audit.log;
		if (st == RP_OK)
			st = rp_forward_create(&fo, &ctx.forward, &err);
		if (st == RP_OK) {
			o.delivered = on_delivered;
			o.delivered_ctx = &ctx;
		}
	} else if (forward) {
		const char *at = strchr(forward, '@'), *host = NULL;
		uint16_t port = 0;
		if (!at || at == forward || (size_t)(at - forward) > 16 ||
		    strlen(at + 1) >= sizeof(fw_host) ||
		    rp_cli_hostport(strcpy(fw_host, at + 1), &host, &port, false) < 0 ||
		    strlen(forward_aet) > 16 || !*forward_aet) {
			rp_cli_errorf("--forward '%s': expected AET@HOST:PORT (AE titles of 1 to 16 "
				      "characters)", forward);
			if (ctx.log != stdout)
				fclose(ctx.log);
			return RP_EXIT_USAGE;
		}
		memcpy(fw_ae, forward, (size_t)(at - forward));
		fo.dir = o.dir;
		fo.scu.called_ae = fw_ae;
		fo.scu.calling_ae = forward_aet;
		fo.scu.host = host;
		fo.scu.port = port;
		fo.scu.tls_cert = fw_cert;
		fo.scu.tls_key = fw_key;
		fo.scu.tls_ca = fw_ca;
		fo.scu.tls_profile = fw_profile;
		fo.log = on_log;
		fo.log_ctx = &ctx;
		if ((st = rp_cli_audit_open(&audit, &ac, &err)) == RP_OK)
			fo.scu.audit = audit.log;
		if (st == RP_OK)
			st = rp_forward_create(&fo, &ctx.forward, &err);
		if (st == RP_OK) {
			o.delivered = on_delivered;
			o.delivered_ctx = &ctx;
		}
	} else if (audit_path) {
		rp_cli_errorf("--audit needs --forward or --stow: it records forwarded instances");
		if (ctx.log != stdout)
			fclose(ctx.log);
		return RP_EXIT_USAGE;
	}
	if (st == RP_OK && (st = rp_pool_create(threads, 0, &pool)) < 0)
		snprintf(err.msg, sizeof(err.msg), "cannot start the decoder threads");
	o.pool = pool;
	if (st == RP_OK)
		st = rp_server_create(&o, &server, &err);
	if (st == RP_OK) {
		/* The handler reads `server`: installed only once it is set. */
		struct sigaction sa = {0};
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		on_ready(&ctx, rp_server_port(server));
		st = rp_server_run(server, &err);
		rp_server_destroy(server);
	}
	rp_pool_destroy(pool);
	rp_forward_destroy(ctx.forward);
	rp_cli_audit_close(&audit);
	if (ctx.log != stdout)
		fclose(ctx.log);
	if (st != RP_OK) {
		rp_cli_error("serve failed", st, err.msg);
		return rp_cli_exit_code(st);
	}
	return RP_EXIT_OK;
}
