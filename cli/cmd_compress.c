/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_compress.c - `radpipe compress` and `radpipe decompress`: every file of the
 * inputs, one pool job per file and the frames of a multi-frame object spread over the
 * pool, each output written atomically and (by default) read back and verified. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct run;

struct file_job {
	char *path, *rel;
	struct run *run;
	/* results */
	int status;
	char msg[RP_ERRBUF_SIZE];
	const char *action;          /* "compressed", "copied", ... */
	const char *warning;         /* written, but worth a look; NULL when none */
	uint64_t in_bytes, out_bytes, pixel_bytes;
	uint64_t max_error;
	double seconds;
};

struct run {
	bool decompress;
	enum rp_codec codec;
	int near;
	double ratio;
	int quality;
	unsigned levels;                 /* j2k/htj2k wavelet levels, 0 = default */
	unsigned cb_w_log2, cb_h_log2;   /* j2k/htj2k code-block size, 0 = default */
	bool rct;                        /* j2k/htj2k reversible colour transform */
	unsigned effort;                 /* jpegxl effort 1..9, 0 = default */
	bool verify;
	bool strict;                     /* refuse what is otherwise copied with a warning */
	const char *outdir;
	struct rp_pool *pool;
	struct file_job *jobs;
	size_t count, cap;
	struct rp_cli_progress *progress;
	pthread_mutex_t lock;
};

static int
collect(void *ctx, const char *path, const char *rel)
{
	struct run *r = ctx;
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		struct file_job *n = realloc(r->jobs, r->cap * sizeof(*n));
		if (!n)
			return RP_EXIT_INTERNAL;
		r->jobs = n;
	}
	r->jobs[r->count++] = (struct file_job){ .path = strdup(path), .rel = strdup(rel) };
	return 0;
}

/* Every file through the streaming pipeline (include/radpipe/pipeline.h): frames of all
 * files spread over the pool, memory bounded by its budget, outputs identical for any -T. */
static void
file_done(void *ctx, size_t index, const struct rp_pipeline_file *f)
{
	struct run *r = ctx;
	(void)index;
	rp_cli_progress_add(r->progress, 1, f->input_size);
}

static void
run_pipeline(struct run *r)
{
	struct rp_pipeline_file *files = calloc(r->count ? r->count : 1, sizeof(*files));
	char **outs = calloc(r->count ? r->count : 1, sizeof(*outs));
	struct rp_pipeline_options po;
	struct rp_errbuf err = { "" };

	if (!files || !outs) {
		for (size_t i = 0; i < r->count; i++)
			r->jobs[i].status = RP_E_NOMEM;
		free(files);
		free(outs);
		return;
	}
	rp_pipeline_options_init(&po);
	po.encoder.codec = r->codec;
	po.encoder.near_lossless = r->near;
	po.encoder.lossy_ratio = r->ratio;
	po.encoder.quality = r->quality;
	po.encoder.wavelet_levels = r->levels;
	po.encoder.code_block_w_log2 = r->cb_w_log2;
	po.encoder.code_block_h_log2 = r->cb_h_log2;
	po.encoder.colour_transform = r->rct;
	po.encoder.effort = r->effort;
	po.pool = r->pool;
	po.verify = r->verify;
	po.decompress = r->decompress;
	po.strict = r->strict;
	po.on_done = file_done;
	po.on_done_ctx = r;
	for (size_t i = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		char out[PATH_MAX];
		snprintf(out, sizeof(out), "%s/%s", r->outdir, j->rel);
		files[i].input = j->path;
		files[i].output = outs[i] = strdup(out);
		if (!outs[i] || rp_cli_mkdirs_for(out, &err) != RP_OK)
			files[i].output = NULL;
	}
	for (size_t i = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		if (!files[i].output) {
			j->status = !outs[i] ? RP_E_NOMEM : RP_E_IO;
			snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
			files[i].input = NULL;
		}
	}
	/* Files that could not get an output directory were reported above; run the rest. */
	size_t n = 0;
	for (size_t i = 0; i < r->count; i++)
		if (files[i].input)
			files[n++] = files[i];
	/* Its status repeats the first per-file failure, which the caller reports per file. */
	int status = rp_pipeline_run(&po, files, n, NULL, &err);
	(void)status;
	for (size_t i = 0, k = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		if (j->status != RP_OK)
			continue;
		const struct rp_pipeline_file *f = &files[k++];
		j->status = f->status;
		snprintf(j->msg, sizeof(j->msg), "%s", f->message);
		j->action = f->action;
		j->warning = f->warning;
		j->in_bytes = f->input_size;
		j->out_bytes = f->output_size;
		j->pixel_bytes = f->pixel_size;
		j->max_error = f->max_error;
		j->seconds = f->seconds;
	}
	for (size_t i = 0; i < r->count; i++)
		free(outs[i]);
	free(outs);
	free(files);
}

static void
usage(FILE *out, bool decompress)
{
	if (decompress)
		fprintf(out,
			"Usage: radpipe decompress [-T THREADS] [--no-verify] [--strict] [-q] [--json]\n"
			"                          -o OUTDIR INPUT...\n"
			"\n"
			"Decodes every DICOM file under INPUT (files or directories, recursively) and\n"
			"writes it as explicit VR little endian under OUTDIR, keeping relative paths.\n"
			"Every element but the transfer syntax and the pixel data is carried over.\n");
	else
		fprintf(out,
			"Usage: radpipe compress -c CODEC[,OPTION=VALUE...] [-T THREADS]\n"
			"                        [--no-verify] [--strict] [-q] [--json] -o OUTDIR INPUT...\n"
			"\n"
			"Compresses every DICOM file under INPUT (files or directories, recursively)\n"
			"into OUTDIR, keeping relative paths.  Files without pixel data are copied.\n"
			"Each output is written atomically and then read back and compared with the\n"
			"input's pixels (skip with --no-verify).  Lossless unless near= or ratio= is given.\n"
			"\n"
			"Codec options (after the codec name, comma-separated):\n"
			"  near=N        JPEG-LS near-lossless error bound (lossy when N > 0)\n"
			"  ratio=R       j2k target compression ratio (lossy)\n"
			"  quality=Q     jpeg baseline quality 1..100\n"
			"  levels=N      j2k/htj2k wavelet decomposition levels, 1..32 (default 5, more\n"
			"                for htj2k when the smallest resolution would exceed 64 x 64)\n"
			"  cb=WxH        j2k/htj2k code-block size, powers of two from 4; htj2k at\n"
			"                most 64 each way; W x H <= 4096 (default 64x64)\n"
			"  rct           j2k/htj2k lossless: RGB through the reversible colour\n"
			"                transform (smaller; the output says YBR_RCT)\n"
			"  effort=N      jpegxl effort 1 (fastest) .. 9 (densest), default 3;\n"
			"                changes size and speed, never the pixels\n"
			"\n"
			"Codecs:\n");
	if (!decompress)
		for (int c = 0; rp_codec_name((enum rp_codec)c); c++)
			if (rp_codec_can_encode((enum rp_codec)c))
				fprintf(out, "  %-14s %s\n", rp_codec_name((enum rp_codec)c),
					rp_codec_description((enum rp_codec)c));
	fprintf(out,
		"\nOptions:\n"
		"  -o, --output DIR   output directory (created)\n"
		"  -T, --threads N    worker threads (default: all cores)\n"
		"      --no-verify    do not read outputs back to compare pixels\n"
		"      --strict       refuse an image SOP class without pixel data (truncated?)\n"
		"                     instead of copying it with a warning\n"
		"  -q, --quiet        no progress, only errors\n"
		"      --json         one JSON object per file, then a summary object\n"
		"  -h, --help         this text\n");
}

static int
parse_codec(const char *spec, struct run *r)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *save = NULL, *tok = strtok_r(buf, ",", &save);
	if (!tok || rp_codec_from_name(tok, &r->codec) != RP_OK) {
		rp_cli_errorf("unknown codec '%s' (see 'radpipe compress --help')", tok ? tok : "");
		return RP_EXIT_USAGE;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *end = tok + strlen(tok);
		if (strcmp(tok, "rct") == 0) {
			r->rct = true;
		} else if (strncmp(tok, "near=", 5) == 0) {
			r->near = (int)strtol(tok + 5, &end, 10);
		} else if (strncmp(tok, "ratio=", 6) == 0) {
			r->ratio = strtod(tok + 6, &end);
		} else if (strncmp(tok, "quality=", 8) == 0) {
			r->quality = (int)strtol(tok + 8, &end, 10);
		} else if (strncmp(tok, "levels=", 7) == 0) {
			long v = strtol(tok + 7, &end, 10);
			if (v < 1 || v > 32) {
				rp_cli_errorf("levels= takes 1 to 32");
				return RP_EXIT_USAGE;
			}
			r->levels = (unsigned)v;
		} else if (strncmp(tok, "effort=", 7) == 0) {
			long v = strtol(tok + 7, &end, 10);
			if (v < 1 || v > 9) {
				rp_cli_errorf("effort= takes 1 to 9");
				return RP_EXIT_USAGE;
			}
			r->effort = (unsigned)v;
		} else if (strncmp(tok, "cb=", 3) == 0) {
			unsigned long w = strtoul(tok + 3, &end, 10), h = 0;
			if (*end == 'x')
				h = strtoul(end + 1, &end, 10);
			/* Powers of two from 4 to 1024, at most 4096 samples (15444-1 A.6.1). */
			if (w < 4 || h < 4 || w > 1024 || h > 1024 || (w & (w - 1)) ||
			    (h & (h - 1)) || w * h > 4096) {
				rp_cli_errorf("cb= takes WxH, powers of two from 4, W x H <= 4096 "
					      "(e.g. cb=64x64)");
				return RP_EXIT_USAGE;
			}
			r->cb_w_log2 = (unsigned)__builtin_ctzl(w);
			r->cb_h_log2 = (unsigned)__builtin_ctzl(h);
		} else {
			rp_cli_errorf("unknown codec option '%s'", tok);
			return RP_EXIT_USAGE;
		}
		if (*end != '\0' || r->near < 0 || r->ratio < 0 || r->quality < 0) {
			rp_cli_errorf("bad value in codec option '%s'", tok);
			return RP_EXIT_USAGE;
		}
	}
	if (!rp_codec_can_encode(r->codec)) {
		rp_cli_errorf("codec '%s' cannot encode in this build", rp_codec_name(r->codec));
		return RP_EXIT_USAGE;
	}
	return 0;
}

static int
run_command(int argc, char **argv, bool decompress)
{
	struct run r = { .decompress = decompress, .codec = RP_CODEC_NATIVE, .verify = true };
	unsigned threads = 0;
	bool have_codec = false;
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, decompress ? "o:T:qh" : "c:o:T:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (decompress) {
				usage(stderr, decompress);
				return RP_EXIT_USAGE;
			}
			if (parse_codec(optarg, &r))
				return RP_EXIT_USAGE;
			have_codec = true;
			break;
		case 'o':
			r.outdir = optarg;
			break;
		case 'T': {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t < 1 || t > 1024) {
				rp_cli_errorf("-T takes a thread count from 1 to 1024");
				return RP_EXIT_USAGE;
			}
			threads = (unsigned)t;
			break;
		}
		case 'q':
			rp_cli_quiet = true;
			break;
		case 'j':
			rp_cli_json = true;
			break;
		case 'n':
			r.verify = false;
			break;
		case 's':
			r.strict = true;
			break;
		case 'h':
			usage(stdout, decompress);
			return RP_EXIT_OK;
		default:
			usage(stderr, decompress);
			return RP_EXIT_USAGE;
		}
	}
	if (!r.outdir || optind >= argc || (!decompress && !have_codec)) {
		rp_cli_errorf("%s needs %s-o OUTDIR and at least one INPUT",
			      decompress ? "decompress" : "compress", decompress ? "" : "-c CODEC, ");
		usage(stderr, decompress);
		return RP_EXIT_USAGE;
	}
	int rc = rp_cli_walk(argv + optind, argc - optind, collect, &r);
	if (rc)
		return rc;
	if (rp_pool_create(threads, 0, &r.pool) != RP_OK) {
		rp_cli_errorf("cannot start worker threads");
		return RP_EXIT_INTERNAL;
	}
	pthread_mutex_init(&r.lock, NULL);
	r.progress = rp_cli_progress_start(decompress ? "decompress" : "compress", r.count);
	double t0 = rp_cli_now();
	run_pipeline(&r);
	double wall = rp_cli_now() - t0;
	rp_cli_progress_end(r.progress);

	uint64_t in = 0, out = 0, px = 0;
	size_t failed = 0, warned = 0;
	for (size_t i = 0; i < r.count; i++) {
		struct file_job *j = &r.jobs[i];
		if (j->status == RP_OK && j->warning) {
			warned++;
			if (!rp_cli_json)
				fprintf(stderr, "radpipe: warning: %s: %s\n", j->path, j->warning);
		}
		if (j->status != RP_OK) {
			failed++;
			rp_cli_error(j->path, j->status, j->msg);
			rc = rc ? rc : rp_cli_exit_code(j->status);
			if (rc == RP_EXIT_USAGE)
				rc = RP_EXIT_FAILED;
		} else {
			in += j->in_bytes;
			out += j->out_bytes;
			px += j->pixel_bytes;
		}
		if (rp_cli_json) {
			printf("{\"file\":");
			rp_cli_json_string(stdout, j->path);
			printf(",\"status\":\"%s\"", rp_status_name(j->status));
			if (j->status != RP_OK) {
				printf(",\"error\":");
				rp_cli_json_string(stdout, j->msg);
			} else {
				printf(",\"action\":\"%s\",\"in_bytes\":%llu,\"out_bytes\":%llu,"
				       "\"pixel_bytes\":%llu,\"max_error\":%llu,\"seconds\":%.6f",
				       j->action, (unsigned long long)j->in_bytes,
				       (unsigned long long)j->out_bytes,
				       (unsigned long long)j->pixel_bytes,
				       (unsigned long long)j->max_error, j->seconds);
				if (j->warning) {
					printf(",\"warning\":");
					rp_cli_json_string(stdout, j->warning);
				}
			}
			printf("}\n");
		}
	}
	double ratio = out ? (double)in / (double)out : 0;
	if (rp_cli_json)
		printf("{\"summary\":true,\"files\":%zu,\"failed\":%zu,\"warnings\":%zu,"
		       "\"in_bytes\":%llu,"
		       "\"out_bytes\":%llu,\"pixel_bytes\":%llu,\"ratio\":%.4f,\"seconds\":%.6f,"
		       "\"pixel_mb_per_s\":%.3f,\"threads\":%u,\"verified\":%s}\n",
		       r.count, failed, warned, (unsigned long long)in, (unsigned long long)out,
		       (unsigned long long)px, ratio, wall, wall > 0 ? (double)px / 1e6 / wall : 0,
		       rp_pool_threads(r.pool), r.verify ? "true" : "false");
	else if (!rp_cli_quiet)
		fprintf(stderr,
			"%s: %zu file(s), %zu failed, %zu with warnings, %.1f MB -> %.1f MB "
			"(ratio %.2f), %.2f s, %.1f MB/s of pixels%s\n",
			decompress ? "decompress" : "compress", r.count, failed, warned,
			(double)in / 1e6,
			(double)out / 1e6, ratio, wall, wall > 0 ? (double)px / 1e6 / wall : 0,
			r.verify ? ", every output verified" : "");
	rp_pool_destroy(r.pool);
	for (size_t i = 0; i < r.count; i++) {
		free(r.jobs[i].path);
		free(r.jobs[i].rel);
	}
	free(r.jobs);
	pthread_mutex_destroy(&r.lock);
	return rc;
}

int
rp_cmd_compress(int argc, char **argv)
{
	return run_command(argc, argv, false);
}

int
rp_cmd_decompress(int argc, char **argv)
{
	return run_command(argc, argv, true);
}
