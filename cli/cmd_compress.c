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
	bool verify;
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

/* One frame: canonical decode of the source, then (compress) encode. */
struct frames_ctx {
	struct run *run;
	const struct rp_dicom *ds;
	const struct rp_encoder_options *eopts;
	uint8_t **raw;               /* canonical frames */
	uint8_t **enc;               /* encoded frames (compress) */
	size_t *enc_size;
	size_t bound;
	_Atomic int status;
	char msg[RP_ERRBUF_SIZE];
	pthread_mutex_t lock;
};

static void
fail_frame(struct frames_ctx *c, int st, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	if (c->status == RP_OK) {
		c->status = st;
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
	}
	pthread_mutex_unlock(&c->lock);
}

static void
frame_job(void *arg, size_t i, unsigned worker)
{
	(void)worker;
	struct frames_ctx *c = arg;
	if (c->status != RP_OK)
		return;
	const struct rp_dicom_info *info = rp_dicom_get_info(c->ds);
	size_t frame = rp_image_frame_size(&info->img);
	struct rp_errbuf err = { "" };
	c->raw[i] = malloc(frame);
	if (!c->raw[i]) {
		fail_frame(c, RP_E_NOMEM, "out of memory");
		return;
	}
	int st = rp_dicom_decode_frame(c->ds, (uint32_t)i, c->raw[i], frame, &err);
	if (st == RP_OK && c->eopts) {
		struct rp_encoder *enc = NULL;
		st = rp_encoder_create(c->eopts, &enc);
		c->enc[i] = st == RP_OK ? malloc(c->bound) : NULL;
		if (st == RP_OK && !c->enc[i])
			st = RP_E_NOMEM;
		if (st == RP_OK)
			st = rp_encoder_encode(enc, &info->img, c->raw[i], frame, c->enc[i], c->bound,
					       &c->enc_size[i], &err);
		rp_encoder_destroy(enc);
	}
	if (st != RP_OK) {
		/* rp_dicom_decode_frame() names the frame itself; the encoder does not */
		char m[RP_ERRBUF_SIZE];
		if (strncmp(err.msg, "frame ", 6) == 0)
			snprintf(m, sizeof(m), "%s", err.msg);
		else
			snprintf(m, sizeof(m), "frame %zu: %.200s", i,
				 err.msg[0] ? err.msg : rp_status_str(st));
		fail_frame(c, st, m);
	}
}

/* Reads `out` back and compares each frame with the source's canonical frames. */
static int
verify_output(const char *out, const struct rp_dicom_info *src_info, uint8_t **raw,
	      uint64_t *max_error, struct rp_errbuf *err)
{
	const void *data;
	size_t size;
	int st = rp_cli_map(out, &data, &size, err);
	if (st < 0)
		return st;
	struct rp_dicom *ds = NULL;
	st = rp_dicom_parse(data, size, NULL, &ds, err);
	size_t frame = rp_image_frame_size(&src_info->img);
	uint8_t *buf = st == RP_OK ? malloc(frame) : NULL;
	if (st == RP_OK && !buf)
		st = RP_E_NOMEM;
	if (st == RP_OK && rp_dicom_get_info(ds)->frames != src_info->frames)
		st = RP_E_MISMATCH;
	*max_error = 0;
	for (uint32_t f = 0; st == RP_OK && f < src_info->frames; f++) {
		st = rp_dicom_decode_frame(ds, f, buf, frame, err);
		uint64_t e = 0;
		if (st == RP_OK)
			st = rp_frame_compare(&src_info->img, raw[f], buf, frame, &e);
		if (e > *max_error)
			*max_error = e;
	}
	free(buf);
	rp_dicom_free(ds);
	rp_cli_unmap(data, size);
	return st;
}

static int
process(struct run *r, struct file_job *j, const void *data, size_t size, const char *out,
	struct rp_errbuf *err)
{
	struct rp_dicom *ds = NULL;
	int st = rp_dicom_parse(data, size, NULL, &ds, err);
	if (st < 0)
		return st;
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	j->in_bytes = size;
	if (!info->has_pixels) {
		/* Not an image (SR, presentation state, ...): carried over as it is. */
		j->action = "copied (no pixel data)";
		st = rp_file_write_atomic(out, data, size, err);
		j->out_bytes = size;
		rp_dicom_free(ds);
		return st;
	}
	uint32_t n = info->frames;
	size_t frame = rp_image_frame_size(&info->img);
	j->pixel_bytes = (uint64_t)frame * n;

	int dirty = 0;
	if (!info->encapsulated)
		st = rp_dicom_scan_high_bits(ds, &dirty, err);
	bool to_native = r->decompress || r->codec == RP_CODEC_NATIVE || r->codec == RP_CODEC_DEFLATE;
	if (st == RP_OK && dirty && !to_native)
		st = rp_cli_fail(err, RP_E_UNSUPPORTED,
				 "pixel bits above BitsStored (%u) carry data that is not a sign "
				 "extension (overlays?); refusing to drop them",
				 info->img.bits_stored);

	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = r->codec;
	eo.near_lossless = r->near;
	eo.lossy_ratio = r->ratio;
	eo.quality = r->quality;
	struct frames_ctx c = { .run = r, .ds = ds, .eopts = to_native ? NULL : &eo };
	pthread_mutex_init(&c.lock, NULL);
	c.raw = calloc(n, sizeof(*c.raw));
	c.enc = calloc(n, sizeof(*c.enc));
	c.enc_size = calloc(n, sizeof(*c.enc_size));
	struct rp_frame_ref *refs = calloc(n, sizeof(*refs));
	struct rp_encoder *probe = NULL;
	if (st == RP_OK && (!c.raw || !c.enc || !c.enc_size || !refs))
		st = RP_E_NOMEM;
	if (st == RP_OK && !to_native) {
		st = rp_encoder_create(&eo, &probe);
		if (st == RP_OK)
			st = rp_encoder_check(probe, &info->img, err);
		c.bound = rp_encoder_bound(probe, &info->img);
	}
	if (st == RP_OK) {
		rp_pool_parallel_for(r->pool, n, frame_job, &c);
		st = c.status;
		if (st < 0)
			snprintf(err->msg, sizeof(err->msg), "%s", c.msg);
	}

	struct rp_dicom_write_options wo;
	rp_dicom_write_options_init(&wo);
	bool lossy = false;
	if (st == RP_OK) {
		if (to_native) {
			wo.ts_uid = r->codec == RP_CODEC_DEFLATE && !r->decompress ?
					    "1.2.840.10008.1.2.1.99" : "1.2.840.10008.1.2.1";
			wo.photometric = info->encapsulated ? rp_dicom_decoded_photometric(ds) : NULL;
			for (uint32_t f = 0; f < n; f++)
				refs[f] = (struct rp_frame_ref){ c.raw[f], frame };
			j->action = r->decompress ? "decompressed" : "rewritten";
		} else {
			uint64_t enc_total = 0;
			for (uint32_t f = 0; f < n; f++) {
				refs[f] = (struct rp_frame_ref){ c.enc[f], c.enc_size[f] };
				enc_total += c.enc_size[f];
			}
			wo.ts_uid = rp_encoder_transfer_syntax(probe);
			lossy = rp_encoder_is_lossy(probe);
			if (lossy) {
				wo.lossy = 1;
				wo.lossy_ratio = enc_total ? (double)j->pixel_bytes / (double)enc_total : 0;
				wo.lossy_method = r->codec == RP_CODEC_JPEGLS ? "ISO_14495_1" :
						  r->codec == RP_CODEC_J2K ? "ISO_15444_1" :
						  r->codec == RP_CODEC_JPEG ? "ISO_10918_1" :
									      "ISO_15444_15";
			}
			/* JPEG-LS and JPEG 2000 code interleaved colour (PS3.5 8.2). */
			if (info->img.components == 3)
				wo.planar = 0;
			j->action = "compressed";
		}
		/* A native source whose high bits carry data keeps its exact pixel bytes. */
		bool raw_copy = to_native && !info->encapsulated && dirty;
		st = rp_dicom_write_file(out, ds, &wo, raw_copy ? NULL : refs, n, err);
	}
	if (st == RP_OK && r->verify) {
		st = verify_output(out, info, c.raw, &j->max_error, err);
		/* Lossless must be exact; JPEG-LS near-lossless within NEAR; other lossy
		 * coding (a target ratio) has no bound to check, only that it decodes. */
		uint64_t allowed = !lossy ? 0 : r->near ? (uint64_t)r->near : UINT64_MAX;
		if (st == RP_OK && j->max_error > allowed)
			st = RP_E_MISMATCH;
		if (st == RP_E_MISMATCH)
			snprintf(err->msg, sizeof(err->msg),
				 "verification failed: output differs from input (max error %llu)",
				 (unsigned long long)j->max_error);
		if (st < 0)
			remove(out);         /* never leave an unverified file as if done */
	}
	if (st == RP_OK) {
		struct rp_errbuf e2;
		const void *od;
		size_t os;
		if (rp_cli_map(out, &od, &os, &e2) == RP_OK) {
			j->out_bytes = os;
			rp_cli_unmap(od, os);
		}
	}
	for (uint32_t f = 0; f < n && c.raw; f++)
		free(c.raw[f]);
	for (uint32_t f = 0; f < n && c.enc; f++)
		free(c.enc[f]);
	free(c.raw);
	free(c.enc);
	free(c.enc_size);
	free(refs);
	rp_encoder_destroy(probe);
	pthread_mutex_destroy(&c.lock);
	rp_dicom_free(ds);
	return st;
}

static void
file_job_run(void *arg, unsigned worker)
{
	(void)worker;
	struct file_job *j = arg;
	struct run *r = j->run;
	double t0 = rp_cli_now();
	struct rp_errbuf err = { "" };
	char out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/%s", r->outdir, j->rel);
	const void *data = NULL;
	size_t size = 0;
	int st = rp_cli_mkdirs_for(out, &err);
	if (st == RP_OK)
		st = rp_cli_map(j->path, &data, &size, &err);
	if (st == RP_OK)
		st = process(r, j, data, size, out, &err);
	rp_cli_unmap(data, size);
	j->status = st;
	snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
	j->seconds = rp_cli_now() - t0;
	pthread_mutex_lock(&r->lock);
	rp_cli_progress_add(r->progress, 1, j->in_bytes);
	pthread_mutex_unlock(&r->lock);
}

static void
usage(FILE *out, bool decompress)
{
	if (decompress)
		fprintf(out,
			"Usage: radpipe decompress [-T THREADS] [--no-verify] [-q] [--json] -o OUTDIR INPUT...\n"
			"\n"
			"Decodes every DICOM file under INPUT (files or directories, recursively) and\n"
			"writes it as explicit VR little endian under OUTDIR, keeping relative paths.\n"
			"Every element but the transfer syntax and the pixel data is carried over.\n");
	else
		fprintf(out,
			"Usage: radpipe compress -c CODEC[,near=N][,ratio=R][,quality=Q] [-T THREADS]\n"
			"                        [--no-verify] [-q] [--json] -o OUTDIR INPUT...\n"
			"\n"
			"Compresses every DICOM file under INPUT (files or directories, recursively)\n"
			"into OUTDIR, keeping relative paths.  Files without pixel data are copied.\n"
			"Each output is written atomically and then read back and compared with the\n"
			"input's pixels (skip with --no-verify).  Lossless unless near= or ratio= is given.\n"
			"\n"
			"Codecs:\n");
	if (!decompress)
		for (int c = 0; c <= RP_CODEC_DEFLATE; c++)
			if (rp_codec_can_encode((enum rp_codec)c))
				fprintf(out, "  %-14s %s\n", rp_codec_name((enum rp_codec)c),
					rp_codec_description((enum rp_codec)c));
	fprintf(out,
		"\nOptions:\n"
		"  -o, --output DIR   output directory (created)\n"
		"  -T, --threads N    worker threads (default: all cores)\n"
		"      --no-verify    do not read outputs back to compare pixels\n"
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
		char *end;
		if (strncmp(tok, "near=", 5) == 0) {
			r->near = (int)strtol(tok + 5, &end, 10);
		} else if (strncmp(tok, "ratio=", 6) == 0) {
			r->ratio = strtod(tok + 6, &end);
		} else if (strncmp(tok, "quality=", 8) == 0) {
			r->quality = (int)strtol(tok + 8, &end, 10);
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

static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
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
	for (size_t i = 0; i < r.count; i++) {
		r.jobs[i].run = &r;
		if (rp_pool_submit(r.pool, file_job_run, &r.jobs[i]) != RP_OK)
			r.jobs[i].status = RP_E_INTERNAL;
	}
	rp_pool_wait(r.pool);
	double wall = rp_cli_now() - t0;
	rp_cli_progress_end(r.progress);

	uint64_t in = 0, out = 0, px = 0;
	size_t failed = 0;
	for (size_t i = 0; i < r.count; i++) {
		struct file_job *j = &r.jobs[i];
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
			json_string(stdout, j->path);
			printf(",\"status\":\"%s\"", rp_status_name(j->status));
			if (j->status != RP_OK) {
				printf(",\"error\":");
				json_string(stdout, j->msg);
			} else {
				printf(",\"action\":\"%s\",\"in_bytes\":%llu,\"out_bytes\":%llu,"
				       "\"pixel_bytes\":%llu,\"max_error\":%llu,\"seconds\":%.6f",
				       j->action, (unsigned long long)j->in_bytes,
				       (unsigned long long)j->out_bytes,
				       (unsigned long long)j->pixel_bytes,
				       (unsigned long long)j->max_error, j->seconds);
			}
			printf("}\n");
		}
	}
	double ratio = out ? (double)in / (double)out : 0;
	if (rp_cli_json)
		printf("{\"summary\":true,\"files\":%zu,\"failed\":%zu,\"in_bytes\":%llu,"
		       "\"out_bytes\":%llu,\"pixel_bytes\":%llu,\"ratio\":%.4f,\"seconds\":%.6f,"
		       "\"pixel_mb_per_s\":%.3f,\"threads\":%u,\"verified\":%s}\n",
		       r.count, failed, (unsigned long long)in, (unsigned long long)out,
		       (unsigned long long)px, ratio, wall, wall > 0 ? (double)px / 1e6 / wall : 0,
		       rp_pool_threads(r.pool), r.verify ? "true" : "false");
	else if (!rp_cli_quiet)
		fprintf(stderr,
			"%s: %zu file(s), %zu failed, %.1f MB -> %.1f MB (ratio %.2f), %.2f s, "
			"%.1f MB/s of pixels%s\n",
			decompress ? "decompress" : "compress", r.count, failed, (double)in / 1e6,
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
