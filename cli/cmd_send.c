/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_send.c - `radpipe send`: ship files or study directories to a `radpipe serve`
 * over N parallel TLS connections, frames compressed in flight; rerunning resumes. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_list {
	char **paths, **names;
	size_t n, cap;
	const char *prefix;          /* the input directory's base name, or "" */
};

static int
add_file(void *ctx, const char *path, const char *relpath)
{
	struct file_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **p = realloc(l->paths, cap * sizeof(*p));
		char **n = p ? realloc(l->names, cap * sizeof(*n)) : NULL;
		if (p)
			l->paths = p;
		if (!p || !n)
			return RP_EXIT_INTERNAL;
		l->names = n;
		l->cap = cap;
	}
	char name[PATH_MAX];
	snprintf(name, sizeof(name), "%s%s%s", l->prefix, l->prefix[0] ? "/" : "", relpath);
	l->paths[l->n] = strdup(path);
	l->names[l->n] = strdup(name);
	if (!l->paths[l->n] || !l->names[l->n])
		return RP_EXIT_INTERNAL;
	l->n++;
	return 0;
}

static int
parse_size(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': x <<= 10; end++; break;
	case 'm': case 'M': x <<= 20; end++; break;
	case 'g': case 'G': x <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*v = x;
	return 0;
}

struct progress_state {
	bool tty;
	double last;
};

static void
human(char *out, size_t cap, double bytes)
{
	if (bytes >= 1e9)
		snprintf(out, cap, "%.2f GB", bytes / 1e9);
	else
		snprintf(out, cap, "%.1f MB", bytes / 1e6);
}

static void
on_progress(void *ctx, const struct rp_send_progress *p)
{
	struct progress_state *ps = ctx;
	if (!ps->tty)
		return;
	char a[32], b[32], w[32];
	human(a, sizeof(a), (double)p->original_done);
	human(b, sizeof(b), (double)p->original_total);
	human(w, sizeof(w), (double)p->wire_bytes);
	double rate = p->elapsed_s > 0 ? (double)p->wire_bytes / p->elapsed_s / 1e6 : 0;
	double ratio = p->stream_bytes ? (double)p->original_done / (double)p->stream_bytes : 0;
	double done_rate = p->elapsed_s > 0 ? (double)p->original_done / p->elapsed_s : 0;
	double eta = done_rate > 0 ? (double)(p->original_total - p->original_done) / done_rate : 0;
	if (p->objects_regenerated)
		fprintf(stderr, "\rrepair: %llu object(s) encoded again for the receiver  wire %s   ",
			(unsigned long long)p->objects_regenerated, w);
	else
		fprintf(stderr, "\rsend %s / %s  wire %s  ratio %.2f  link %.1f MB/s  ETA %.0fs   ",
			a, b, w, ratio, rate, eta);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe send [OPTIONS] HOST:PORT INPUT...\n"
		"Sends files and study directories to `radpipe serve`. Each directory INPUT\n"
		"arrives as DIR/<its base name>/...; rerunning the same command resumes.\n"
		"  -c, --codec CODEC     frames in flight: auto (htj2k, the fastest lossless\n"
		"                        coder here, when this build has it),\n"
		"                        native (files as they are), or one of the lossless\n"
		"                        frame codecs below (default jpegls)\n"
		"  -n, --streams N       parallel connections (default 8, for long fat links)\n"
		"  -T, --threads N       encoder threads (default: one per CPU)\n"
		"      --chunk-size SIZE chunk bytes, 4K..64M (default: 64K..4M by study size)\n"
		"  -k N / -m N           FEC: N data + M parity chunks per group (default M 2 and\n"
		"                        N = M x (streams - 1): one lost connection is rebuilt\n"
		"                        from parity; below 4 streams N = 10 x M)\n"
		"      --cert F --key F  this site's certificate and key (PEM)\n"
		"      --ca F            CA the receiver's certificate must chain to\n"
		"      --allow FP[,FP]   receiver certificate SHA-256s: alone, accept exactly these;\n"
		"                        with --ca, accept only these of the CA's certificates\n"
		"      --insecure        plain TCP, no TLS (loopback tests only)\n"
		"      --fabric PROV     data over libfabric (tcp;ofi_rxm, shm, verbs;ofi_rxm,\n"
		"                        efa); unencrypted: needs --trusted-fabric\n"
		"      --ofi-window N    fabric messages in flight per connection, 1..256 (16)\n"
		"      --ofi-seg SIZE    bytes per fabric message, 4K..64M (256K)\n"
		"      --ofi-no-rma      tagged sends even where the provider offers RMA writes\n"
		"      --timeout S       a connection idle this long is dead (default 60)\n"
		"      --max-rate R      cap the send at R Mbit/s, all connections together\n"
		"                        (1..1000000; chunk bytes, TLS/TCP overhead on top)\n"
		"      --budget MB       input bytes read and encoded ahead of the wire at once\n"
		"                        (default 512; a larger object still goes, alone)\n"
		"      --link-mbps R     link rate in Mbit/s, to report utilisation\n"
		"      --json            print the final report as JSON on stdout\n"
		"  -q, --quiet           no progress or summary on stderr\n"
		"Frame codecs this build sends with (-c):\n");
	static const struct {
		enum rp_codec id;
		const char *text;
	} codecs[] = {
#define RP__SEND_CODEC(n, v, cli, t) {RP_CODEC_##n, t},
		RP_CODEC_LIST(RP__SEND_CODEC)
#undef RP__SEND_CODEC
	};
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].id != RP_CODEC_NATIVE && rp_send_codec_ok(codecs[i].id))
			fprintf(out, "  %-20s  %s\n", rp_codec_name(codecs[i].id), codecs[i].text);
	fprintf(out, "Objects that cannot be framed (compressed already, no pixel data, or not\n"
		     "smaller encoded) travel verbatim; the summary counts them.\n");
}

int
rp_cmd_send(int argc, char **argv)
{
	struct rp_send_options o;
	rp_send_options_init(&o);
	unsigned threads = 0;
	double link_mbps = 0;
	bool m_set = false;
	static const struct option lopts[] = {
		{"codec", required_argument, NULL, 'c'},   {"streams", required_argument, NULL, 'n'},
		{"threads", required_argument, NULL, 'T'}, {"chunk-size", required_argument, NULL, 'C'},
		{"cert", required_argument, NULL, 1},      {"key", required_argument, NULL, 2},
		{"ca", required_argument, NULL, 3},        {"allow", required_argument, NULL, 4},
		{"insecure", no_argument, NULL, 5},        {"timeout", required_argument, NULL, 6},
		{"fabric", required_argument, NULL, 30},   {"trusted-fabric", no_argument, NULL, 31},
		{"ofi-window", required_argument, NULL, 32}, {"ofi-seg", required_argument, NULL, 33},
		{"ofi-no-rma", no_argument, NULL, 34},
		{"link-mbps", required_argument, NULL, 7}, {"json", no_argument, NULL, 'j'},
		{"max-rate", required_argument, NULL, 8},  {"budget", required_argument, NULL, 9},
		{"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:n:T:k:m:qh", lopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'c':
			if (strcmp(optarg, "auto") == 0) {
				o.codec = rp_send_codec_auto();
			} else if (rp_codec_from_name(optarg, &o.codec) != RP_OK) {
				rp_cli_errorf("unknown codec '%s' (radpipe send --help lists them)",
					      optarg);
				return RP_EXIT_USAGE;
			} else if (!rp_send_codec_ok(o.codec)) {
				rp_cli_errorf("-c %s cannot carry frames in flight: %s", optarg,
					      o.codec == RP_CODEC_JPEG ? "it is lossy"
					      : o.codec == RP_CODEC_DEFLATE
						      ? "it deflates whole datasets and frames "
							"nothing (use native)"
						      : "this build does not encode it");
				return RP_EXIT_USAGE;
			}
			break;
		case 'n': o.streams = (unsigned)atoi(optarg); break;
		case 'T':
			if (rp_cli_threads(optarg, &threads) < 0)
				return RP_EXIT_USAGE;
			break;
		case 'k':
		case 'm': {
			char *end;
			long v = strtol(optarg, &end, 10);
			long max = c == 'k' ? 128 : 32;
			if (end == optarg || *end || v < (c == 'k') || v > max) {
				rp_cli_errorf("-%c '%s': expected %d..%ld", c, optarg, c == 'k', max);
				return RP_EXIT_USAGE;
			}
			if (c == 'k')
				o.fec_k = (uint8_t)v;
			else
				m_set = true, o.fec_m = (uint8_t)v;
			break;
		}
		case 'C':
			if (parse_size(optarg, &v) < 0 || v > UINT32_MAX) {
				rp_cli_errorf("bad chunk size '%s'", optarg);
				return RP_EXIT_USAGE;
			}
			o.chunk_size = (uint32_t)v;
			break;
		case 1: o.tls.cert_file = optarg; break;
		case 2: o.tls.key_file = optarg; break;
		case 3: o.tls.ca_file = optarg; break;
		case 4: o.tls.allow_fingerprints = optarg; break;
		case 5: o.tls.insecure = 1; break;
		case 30: o.tls.fabric = optarg; break;
		case 31: o.tls.trusted_fabric = 1; break;
		case 32:
		case 33:
			if (parse_size(optarg, &v) < 0 || v == 0 || v > UINT32_MAX) {
				rp_cli_errorf("bad number '%s'", optarg);
				return RP_EXIT_USAGE;
			}
			*(c == 32 ? &o.tls.ofi_window : &o.tls.ofi_seg) = (uint32_t)v;
			break;
		case 34: o.tls.ofi_no_rma = 1; break;
		case 9:
			if (rp_cli_budget(optarg, &o.memory_budget) < 0)
				return RP_EXIT_USAGE;
			break;
		case 6:
			if (rp_cli_duration(optarg, &o.io_timeout_s) < 0 || o.io_timeout_s <= 0) {
				rp_cli_errorf("--timeout '%s': expected a positive duration", optarg);
				return RP_EXIT_USAGE;
			}
			break;
		case 7: link_mbps = atof(optarg); break;
		case 8: {
			char *end;
			o.max_rate_mbps = strtod(optarg, &end);
			if (end == optarg || *end || !(o.max_rate_mbps >= 1 &&
							   o.max_rate_mbps <= 1e6)) {
				rp_cli_errorf("--max-rate '%s': expected 1..1000000 Mbit/s", optarg);
				return RP_EXIT_USAGE;
			}
			break;
		}
		case 'j': rp_cli_json = true; break;
		case 'q': rp_cli_quiet = true; break;
		case 'h': usage(stdout); return RP_EXIT_OK;
		default: usage(stderr); return RP_EXIT_USAGE;
		}
	}
	if (m_set && o.fec_m == 0 && o.fec_k == 0) {
		/* k from the stream count is chosen to leave room for parity. */
		rp_cli_errorf("-m 0 (no parity) needs -k N as well");
		return RP_EXIT_USAGE;
	}
	if (argc - optind < 2) {
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
	char *target = argv[optind];
	if (rp_cli_hostport(target, &o.host, &o.port, false) < 0) {
		rp_cli_errorf("'%s': expected HOST:PORT", target);
		return RP_EXIT_USAGE;
	}

	struct file_list files = {0};
	for (int i = optind + 1; i < argc; i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", argv[i]);
		size_t n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/')
			dir[--n] = 0;
		const char *base = strrchr(dir, '/');
		base = base ? base + 1 : dir;
		files.prefix = "";
		char *one[1] = {argv[i]};
		/* A directory keeps its own name on the far side; a file arrives at the top. */
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			files.prefix = base;
		int rc = rp_cli_walk(one, 1, add_file, &files);
		if (rc)
			return rc;
	}
	if (files.n == 0) {
		rp_cli_errorf("no files to send");
		return RP_EXIT_USAGE;
	}

	signal(SIGPIPE, SIG_IGN);    /* a dropped TLS connection must be an error, not a kill */
	struct rp_pool *pool = NULL;
	if (rp_pool_create(threads, 0, &pool) != RP_OK) {
		rp_cli_errorf("cannot start the encoder threads");
		return RP_EXIT_INTERNAL;
	}
	o.pool = pool;
	struct progress_state ps = {.tty = !rp_cli_quiet && isatty(2)};
	o.progress = on_progress;
	o.progress_ctx = &ps;

	struct rp_send_report r;
	struct rp_errbuf err = {""};
	int st = rp_send(&o, (const char *const *)files.paths, (const char *const *)files.names,
			 files.n, &r, &err);
	if (ps.tty)
		fputc('\n', stderr);
	rp_pool_destroy(pool);
	for (size_t i = 0; i < files.n; i++) {
		free(files.paths[i]);
		free(files.names[i]);
	}
	free(files.paths);
	free(files.names);
	if (st != RP_OK) {
		rp_cli_error("send failed", st, err.msg);
		return rp_cli_exit_code(st);
	}
	double ratio = r.wire_bytes ? (double)r.original_bytes / (double)r.wire_bytes : 0;
	double goodput = r.wall_s > 0 ? (double)r.original_bytes / r.wall_s / 1e6 : 0;
	double link = r.wall_s > 0 ? (double)r.wire_bytes / r.wall_s / 1e6 : 0;
	char sid[33];
	for (int i = 0; i < 16; i++)
		snprintf(sid + 2 * i, 3, "%02x", r.session_id[i]);
	if (rp_cli_json) {
		printf("{\"session\":\"%s\",\"objects\":%llu,\"objects_framed\":%llu,"
		       "\"original_bytes\":%llu,\"stream_bytes\":%llu,\"wire_bytes\":%llu,"
		       "\"parity_bytes\":%llu,\"ratio\":%.4f,\"wall_s\":%.3f,"
		       "\"goodput_MBps\":%.2f,\"link_MBps\":%.2f,",
		       sid, (unsigned long long)r.objects, (unsigned long long)r.objects_framed,
		       (unsigned long long)r.original_bytes, (unsigned long long)r.stream_bytes,
		       (unsigned long long)r.wire_bytes, (unsigned long long)r.parity_bytes, ratio,
		       r.wall_s, goodput, link);
		if (link_mbps > 0)
			printf("\"link_utilisation\":%.4f,", link * 8 / link_mbps);
		else
			printf("\"link_utilisation\":null,");
		if (o.max_rate_mbps > 0)
			printf("\"max_rate_mbps\":%g,", o.max_rate_mbps);
		else
			printf("\"max_rate_mbps\":null,");
		printf("\"resumed\":%s,\"already_delivered\":%s,\"skipped_bytes\":%llu,"
		       "\"resent_bytes\":%llu,\"chunks_repaired\":%llu,\"crc_errors\":%llu,"
		       "\"streams_lost\":%llu,\"streams\":%u,\"codec\":\"%s\",\"fec_k\":%u,"
		       "\"fec_m\":%u,\"chunk_size\":%u}\n",
		       r.resumed ? "true" : "false", r.already_delivered ? "true" : "false",
		       (unsigned long long)r.skipped_bytes, (unsigned long long)r.resent_bytes,
		       (unsigned long long)r.chunks_repaired, (unsigned long long)r.crc_errors,
		       (unsigned long long)r.streams_lost, o.streams, rp_codec_name(o.codec),
		       r.fec_k, r.fec_m, r.chunk_size);
	}
	if (!rp_cli_quiet)
		fprintf(stderr,
			"radpipe: sent %llu objects (%llu framed), %.1f MB original as %.1f MB on the "
			"wire (ratio %.2f) in %.2f s: %.1f MB/s original, %.1f MB/s wire; "
			"%s%.1f MB skipped, %.1f MB resent, %llu chunks repaired, %llu CRC errors\n",
			(unsigned long long)r.objects, (unsigned long long)r.objects_framed,
			(double)r.original_bytes / 1e6, (double)r.wire_bytes / 1e6, ratio, r.wall_s,
			goodput, link, r.already_delivered ? "already delivered; " : "",
			(double)r.skipped_bytes / 1e6, (double)r.resent_bytes / 1e6,
			(unsigned long long)r.chunks_repaired, (unsigned long long)r.crc_errors);
	return RP_EXIT_OK;
}
