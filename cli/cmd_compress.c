/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_compress.c - `radpipe compress` and `radpipe decompress`: every file of the
 * inputs (or of this task's shard of them), one pool job per file and the frames of a
 * multi-frame object spread over the pool, each output written atomically and (by
 * default) read back and verified.  Complete outputs are recorded in a journal under
 * OUTDIR/.radpipe/, so a rerun of a killed task skips them; every run leaves its report
 * there for `radpipe report`. */
#include "cli.h"

#include <radpipe/pipeline.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where compress keeps its restart journal and per-shard reports (dot-named: the
 * directory walk never takes it for input). */
#define STATE_DIR ".radpipe"

struct run;

struct file_job {
	char *path, *rel;
	char *journal_key;           /* what the journal records this output under */
	struct run *run;
	/* results */
	int status;
	char msg[RP_ERRBUF_SIZE];
	const char *action;          /* "compressed", "copied", "skipped", ... */
	bool skipped;                /* done by an earlier run (the journal says so) */
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
	uint64_t budget;                 /* pipeline memory budget in bytes; 0 = default */
	const char *outdir;
	/* sharding: this task takes the files whose key hashes to shard_index mod shard_count */
	uint32_t shard_index, shard_count;
	enum rp_shard_by shard_by;
	size_t tree_files;               /* files seen under the inputs, before the filter */
	size_t study_fallbacks;          /* --shard-by study files keyed by path instead */
	struct rp_journal *journal;
	bool journal_failed;             /* warned once; outputs still count, a rerun redoes them */
	size_t *job_of;                  /* pipeline index -> jobs[] index */
	size_t skipped;
	struct rp_pool *pool;
	struct file_job *jobs;
	size_t count, cap;
	struct rp_cli_progress *progress;
	pthread_mutex_t lock;
};

/* The shard filter sits where the input list is built, so a task never maps or parses a
 * file of another shard (beyond its header with --shard-by study). */
static bool
in_my_shard(struct run *r, const char *path, const char *rel)
{
	if (r->shard_count <= 1)
		return true;
	if (r->shard_by == RP_SHARD_BY_STUDY) {
		const void *data;
		size_t size;
		char uid[80];
		struct rp_errbuf err = { "" };
		if (rp_cli_map(path, &data, &size, &err) == RP_OK) {
			int st = rp_shard_study_key(data, size, uid, sizeof(uid), &err);
			rp_cli_unmap(data, size);
			if (st == RP_OK)
				return rp_shard_of(uid, strlen(uid), r->shard_count) == r->shard_index;
		}
		/* No readable StudyInstanceUID: the path decides, so the file still lands in
		 * exactly one shard (and fails there with its own message if it is bad). */
		r->study_fallbacks++;
	}
	return rp_shard_of(rel, strlen(rel), r->shard_count) == r->shard_index;
}

static int
collect(void *ctx, const char *path, const char *rel)
{
	struct run *r = ctx;
	r->tree_files++;
	if (!in_my_shard(r, path, rel))
		return 0;
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
	rp_cli_progress_add(r->progress, 1, f->input_size);
	/* Only now is the output durable (fsync, rename) and verified: record it. */
	if (f->status == RP_OK && r->journal) {
		struct rp_errbuf err = { "" };
		const char *key = r->jobs[r->job_of[index]].journal_key;
		if (key && rp_journal_append(r->journal, key, f->output_size, &err) != RP_OK &&
		    !r->journal_failed) {
			r->journal_failed = true;
			rp_cli_errorf("warning: restart journal: %s (a rerun redoes these files)",
				      err.msg);
		}
	}
}

/* The journal records an output under its relative path and a fingerprint of what it was
 * made from: the input's size and modification time and every coding option.  A rerun
 * after the input changed, or with another codec or option, makes the output again
 * instead of keeping one that no longer answers the command. */
static char *
make_journal_key(const struct run *r, const struct file_job *j, const struct stat *in)
{
	char what[256];
	int n = snprintf(what, sizeof(what),
			 "%d %d %d %.17g %d %u %u %u %d %u %d %d %lld %lld.%09ld",
			 r->decompress, (int)r->codec, r->near, r->ratio, r->quality, r->levels,
			 r->cb_w_log2, r->cb_h_log2, r->rct, r->effort, r->verify, r->strict,
			 (long long)in->st_size, (long long)in->st_mtim.tv_sec, in->st_mtim.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof(what))
		return NULL;
	char *key = malloc(strlen(j->rel) + 18);
	if (key)
		sprintf(key, "%016llx %s", (unsigned long long)rp_shard_hash(what, (size_t)n),
			j->rel);
	return key;
}

/* An output the journal records for this input and these options, still there with the
 * recorded size, is not made again. */
static bool
already_done(struct run *r, struct file_job *j, const char *out, const struct stat *in)
{
	uint64_t size;
	struct stat st;
	if (!r->journal || !j->journal_key || !rp_journal_lookup(r->journal, j->journal_key, &size))
		return false;
	if (stat(out, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return false;
	j->status = RP_OK;
	j->action = "skipped";
	j->skipped = true;
	j->out_bytes = size;
	j->in_bytes = (uint64_t)in->st_size;
	return true;
}

static void
run_pipeline(struct run *r)
{
	struct rp_pipeline_file *files = calloc(r->count ? r->count : 1, sizeof(*files));
	char **outs = calloc(r->count ? r->count : 1, sizeof(*outs));
	r->job_of = calloc(r->count ? r->count : 1, sizeof(*r->job_of));
	struct rp_pipeline_options po;
	struct rp_errbuf err = { "" };

	if (!files || !outs || !r->job_of) {
		for (size_t i = 0; i < r->count; i++)
			r->jobs[i].status = RP_E_NOMEM;
		free(files);
		free(outs);
		free(r->job_of);
		r->job_of = NULL;
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
	po.memory_budget = r->budget;
	po.decompress = r->decompress;
	po.strict = r->strict;
	po.on_done = file_done;
	po.on_done_ctx = r;
	for (size_t i = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		char out[PATH_MAX];
		snprintf(out, sizeof(out), "%s/%s", r->outdir, j->rel);
		/* An input that cannot be stat'ed is left to the pipeline to report. */
		struct stat in;
		bool have = stat(j->path, &in) == 0;
		j->journal_key = have ? make_journal_key(r, j, &in) : NULL;
		if (have && already_done(r, j, out, &in)) {
			r->skipped++;
			rp_cli_progress_add(r->progress, 1, j->in_bytes);
			continue;
		}
		files[i].input = j->path;
		files[i].output = outs[i] = strdup(out);
		if (!outs[i] || rp_cli_mkdirs_for(out, &err) != RP_OK)
			files[i].output = NULL;
	}
	for (size_t i = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		if (j->skipped) {
			files[i].input = NULL;
			continue;
		}
		if (!files[i].output) {
			j->status = !outs[i] ? RP_E_NOMEM : RP_E_IO;
			snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
			files[i].input = NULL;
		}
	}
	/* Files that could not get an output directory were reported above; run the rest. */
	size_t n = 0;
	for (size_t i = 0; i < r->count; i++)
		if (files[i].input) {
			r->job_of[n] = i;
			files[n++] = files[i];
		}
	/* Its status repeats the first per-file failure, which the caller reports per file. */
	int status = rp_pipeline_run(&po, files, n, NULL, &err);
	(void)status;
	for (size_t i = 0, k = 0; i < r->count; i++) {
		struct file_job *j = &r->jobs[i];
		if (j->status != RP_OK || j->skipped)
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
	free(r->job_of);
	r->job_of = NULL;
}

static void
usage(FILE *out, bool decompress)
{
	if (decompress)
		fprintf(out,
			"Usage: radpipe decompress [-T THREADS] [--budget MB] [--no-verify] [--strict]\n"
			"                          [-q] [--json] [--shard I/N|auto [--shard-count N]]\n"
			"                          -o OUTDIR INPUT...\n"
			"\n"
			"Decodes every DICOM file under INPUT (files or directories, recursively) and\n"
			"writes it as explicit VR little endian under OUTDIR, keeping relative paths.\n"
			"Every element but the transfer syntax and the pixel data is carried over.\n");
	else
		fprintf(out,
			"Usage: radpipe compress -c CODEC[,OPTION=VALUE...] [-T THREADS] [--budget MB]\n"
			"                        [--no-verify] [--strict] [-q] [--json] [--shard I/N|auto]\n"
			"                        [--shard-count N] [--shard-by path|study]\n"
			"                        -o OUTDIR INPUT...\n"
			"\n"
			"Compresses every DICOM file under INPUT (files or directories, recursively)\n"
			"into OUTDIR, keeping relative paths.  Files without pixel data are copied.\n"
			"Each output is written atomically and then read back and compared with the\n"
			"input's pixels (skip with --no-verify).  Lossless unless near= or ratio= is given.\n"
			"Icons (Icon Image Sequence) in the input's codec are written native when\n"
			"the syntax changes; one that cannot be decoded is left out (a warning).\n"
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
		"      --budget MB    memory for inputs, frames in flight and outputs not yet\n"
		"                     written (default 512; objects of any size are written\n"
		"                     frame by frame, deflated and lossy ones whole)\n"
		"      --no-verify    do not read outputs back to compare pixels\n"
		"      --strict       refuse an image SOP class without pixel data (truncated?)\n"
		"                     instead of copying it with a warning\n"
		"  -q, --quiet        no progress, only errors\n"
		"      --json         one JSON object per file, then a summary object\n"
		"      --shard I/N    take only shard I of N (0 <= I < N): the files whose key\n"
		"                     hashes to I mod N (FNV-1a 64 of the path relative to its\n"
		"                     INPUT, '/' separators; docs/SCALE.md)\n"
		"      --shard auto   I and N from a Slurm array job (SLURM_ARRAY_TASK_ID,\n"
		"                     SLURM_ARRAY_TASK_COUNT; use --array=0-(N-1)) or a\n"
		"                     Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with\n"
		"                     --shard-count N)\n"
		"      --shard-count N  the number of shards for --shard auto (required with\n"
		"                     JOB_COMPLETION_INDEX; overrides SLURM_ARRAY_TASK_COUNT,\n"
		"                     e.g. when one task is resubmitted alone)\n"
		"      --shard-by KEY path (default) or study: all files of one StudyInstanceUID\n"
		"                     go to one shard (reads each file's header)\n"
		"  -h, --help         this text\n"
		"\n"
		"Restart: each verified output is recorded in OUTDIR/.radpipe/journal-I-of-N.log\n"
		"(0-of-1 without --shard); a rerun skips recorded outputs made from the same input\n"
		"(size, mtime) with the same options whose size still matches (reported as\n"
		"skipped).  Each run writes\n"
		"OUTDIR/.radpipe/report-I-of-N.json; merge them with 'radpipe report OUTDIR'.\n");
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

/* A decimal environment variable; -1 when unset, -2 when not a number. */
static long
env_index(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return -1;
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (*end || errno || x < 0 || x > 1000000)
		return -2;
	return x;
}

/* --shard auto: the batch engine says which task this is.  Slurm array task ids are used
 * as shard indexes as they are (submit --array=0-(N-1)), so a single task resubmitted
 * with --array=I --shard-count N is still shard I. */
static int
resolve_shard_auto(struct run *r, long count_opt)
{
	long id = env_index("SLURM_ARRAY_TASK_ID"), n = -1;
	const char *id_name = "SLURM_ARRAY_TASK_ID", *n_name = "--shard-count";
	if (id == -1) {
		id = env_index("JOB_COMPLETION_INDEX");
		id_name = "JOB_COMPLETION_INDEX";
		if (id == -1) {
			rp_cli_errorf("--shard auto: neither SLURM_ARRAY_TASK_ID (Slurm array job) "
				      "nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set");
			return RP_EXIT_USAGE;
		}
		if (count_opt <= 0) {
			rp_cli_errorf("--shard auto: JOB_COMPLETION_INDEX is set but a Kubernetes "
				      "Job does not export its completion count: give "
				      "--shard-count N (= .spec.completions)");
			return RP_EXIT_USAGE;
		}
	}
	if (id == -2) {
		rp_cli_errorf("--shard auto: %s is not a task index", id_name);
		return RP_EXIT_USAGE;
	}
	if (count_opt > 0) {
		n = count_opt;
	} else {
		n = env_index("SLURM_ARRAY_TASK_COUNT");
		n_name = "SLURM_ARRAY_TASK_COUNT";
		if (n < 1) {
			rp_cli_errorf("--shard auto: SLURM_ARRAY_TASK_COUNT is %s: give "
				      "--shard-count N", n == -1 ? "not set" : "not a count");
			return RP_EXIT_USAGE;
		}
	}
	if (id >= n) {
		rp_cli_errorf("--shard auto: %s=%ld is not below %s=%ld (shard indexes are "
			      "0..N-1: submit Slurm arrays as --array=0-%ld)", id_name, id, n_name, n,
			      n - 1);
		return RP_EXIT_USAGE;
	}
	r->shard_index = (uint32_t)id;
	r->shard_count = (uint32_t)n;
	return 0;
}

/* OUTDIR/.radpipe/<what>-I-of-N<ext> */
static void
state_path(char *buf, size_t size, const struct run *r, const char *what, const char *ext)
{
	snprintf(buf, size, "%s/" STATE_DIR "/%s-%u-of-%u%s", r->outdir, what, r->shard_index,
		 r->shard_count, ext);
}

/* The per-shard report `radpipe report` merges: a JSON Lines file, one summary object
 * and then one object per file of the shard, written atomically so a reader never sees
 * half of it.  A rerun of the shard replaces it (its skipped files still listed). */
static int
write_report(const struct run *r, const char *codec, double wall, uint64_t run_in,
	     uint64_t run_px, unsigned threads)
{
	char *buf = NULL, path[PATH_MAX], host[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return RP_EXIT_INTERNAL;
	uint64_t in = 0, out = 0;
	size_t failed = 0;
	for (size_t i = 0; i < r->count; i++) {
		if (r->jobs[i].status != RP_OK) {
			failed++;
		} else {
			in += r->jobs[i].in_bytes;
			out += r->jobs[i].out_bytes;
		}
	}
	gethostname(host, sizeof(host) - 1);
	fprintf(f, "{\"radpipe_report\":1,\"command\":\"%s\",\"shard\":%u,\"shards\":%u,"
		"\"shard_by\":\"%s\",\"host\":", r->decompress ? "decompress" : "compress",
		r->shard_index, r->shard_count,
		r->shard_by == RP_SHARD_BY_STUDY ? "study" : "path");
	rp_cli_json_string(f, host);
	fprintf(f, ",\"pid\":%ld,\"codec\":\"%s\",\"threads\":%u,\"tree_files\":%zu,"
		"\"files\":%zu,\"done\":%zu,\"skipped\":%zu,\"failed\":%zu,"
		"\"in_bytes\":%llu,\"out_bytes\":%llu,\"run_in_bytes\":%llu,"
		"\"run_pixel_bytes\":%llu,\"seconds\":%.6f,\"mb_per_s\":%.3f}\n",
		(long)getpid(), codec, threads, r->tree_files, r->count,
		r->count - failed - r->skipped, r->skipped, failed, (unsigned long long)in,
		(unsigned long long)out, (unsigned long long)run_in, (unsigned long long)run_px,
		wall, wall > 0 ? (double)run_in / 1e6 / wall : 0);
	for (size_t i = 0; i < r->count; i++) {
		const struct file_job *j = &r->jobs[i];
		fprintf(f, "{\"file\":");
		rp_cli_json_string(f, j->rel);
		fprintf(f, ",\"status\":\"%s\"", rp_status_name(j->status));
		if (j->status != RP_OK) {
			fprintf(f, ",\"error\":");
			rp_cli_json_string(f, j->msg);
		} else {
			fprintf(f, ",\"action\":\"%s\",\"in_bytes\":%llu,\"out_bytes\":%llu",
				j->action, (unsigned long long)j->in_bytes,
				(unsigned long long)j->out_bytes);
		}
		fprintf(f, "}\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		return RP_EXIT_INTERNAL;
	}
	struct rp_errbuf err = { "" };
	state_path(path, sizeof(path), r, "report", ".json");
	int st = rp_file_write_atomic(path, buf, len, &err);
	free(buf);
	if (st != RP_OK) {
		rp_cli_error(path, st, err.msg);
		return rp_cli_exit_code(st);
	}
	return 0;
}

static int
run_command(int argc, char **argv, bool decompress)
{
	struct run r = { .decompress = decompress, .codec = RP_CODEC_NATIVE, .verify = true };
	unsigned threads = 0;
	bool have_codec = false, shard_auto = false;
	long shard_count_opt = 0;
	const char *codec_name = decompress ? "native" : "";
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "budget", required_argument, NULL, 'M' },
		{ "strict", no_argument, NULL, 's' },
		{ "shard", required_argument, NULL, 'S' },
		{ "shard-count", required_argument, NULL, 'N' },
		{ "shard-by", required_argument, NULL, 'B' },
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
			codec_name = rp_codec_name(r.codec);
			break;
		case 'S':
			if (strcmp(optarg, "auto") == 0) {
				shard_auto = true;
			} else {
				struct rp_errbuf err = { "" };
				if (rp_shard_parse(optarg, &r.shard_index, &r.shard_count, &err)) {
					rp_cli_errorf("--shard: %s", err.msg);
					return RP_EXIT_USAGE;
				}
				shard_auto = false;
			}
			break;
		case 'N': {
			char *end;
			shard_count_opt = strtol(optarg, &end, 10);
			if (*end || shard_count_opt < 1 || shard_count_opt > 1000000) {
				rp_cli_errorf("--shard-count takes a count from 1 to 1000000");
				return RP_EXIT_USAGE;
			}
			break;
		}
		case 'B':
			if (strcmp(optarg, "path") == 0)
				r.shard_by = RP_SHARD_BY_PATH;
			else if (strcmp(optarg, "study") == 0)
				r.shard_by = RP_SHARD_BY_STUDY;
			else {
				rp_cli_errorf("--shard-by takes 'path' or 'study'");
				return RP_EXIT_USAGE;
			}
			break;
		case 'o':
			r.outdir = optarg;
			break;
		case 'T':
			if (rp_cli_threads(optarg, &threads) < 0)
				return RP_EXIT_USAGE;
			break;
		case 'q':
			rp_cli_quiet = true;
			break;
		case 'j':
			rp_cli_json = true;
			break;
		case 'n':
			r.verify = false;
			break;
		case 'M':
			if (rp_cli_budget(optarg, &r.budget) < 0)
				return RP_EXIT_USAGE;
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
	if (shard_auto) {
		if (resolve_shard_auto(&r, shard_count_opt))
			return RP_EXIT_USAGE;
	} else if (shard_count_opt > 0) {
		rp_cli_errorf("--shard-count goes with --shard auto (--shard I/N names the count)");
		return RP_EXIT_USAGE;
	}
	/* Every run is restartable: an unsharded one is shard 0 of 1, with its journal and
	 * report under OUTDIR/.radpipe like any other shard's. */
	if (r.shard_count == 0) {
		r.shard_index = 0;
		r.shard_count = 1;
	}
	int rc = rp_cli_walk(argv + optind, argc - optind, collect, &r);
	if (rc)
		return rc;
	if (r.study_fallbacks && !rp_cli_quiet)
		rp_cli_errorf("warning: %zu file(s) without a readable StudyInstanceUID were "
			      "sharded by path", r.study_fallbacks);
	char probe[PATH_MAX], name[64];
	struct rp_errbuf err = { "" };
	snprintf(probe, sizeof(probe), "%s/" STATE_DIR "/x", r.outdir);
	snprintf(name, sizeof(name), "%u-of-%u", r.shard_index, r.shard_count);
	int st = rp_cli_mkdirs_for(probe, &err);
	if (st == RP_OK) {
		snprintf(probe, sizeof(probe), "%s/" STATE_DIR, r.outdir);
		st = rp_journal_open(probe, name, &r.journal, &err);
	}
	if (st != RP_OK) {
		rp_cli_error(probe, st, err.msg);
		return rp_cli_exit_code(st);
	}
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

	uint64_t in = 0, out = 0, px = 0, run_in = 0;
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
			if (!j->skipped)
				run_in += j->in_bytes;
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
		printf("{\"summary\":true,\"files\":%zu,\"skipped\":%zu,\"failed\":%zu,"
		       "\"warnings\":%zu,\"shard\":%u,\"shards\":%u,\"in_bytes\":%llu,"
		       "\"out_bytes\":%llu,\"pixel_bytes\":%llu,\"ratio\":%.4f,\"seconds\":%.6f,"
		       "\"pixel_mb_per_s\":%.3f,\"threads\":%u,\"verified\":%s}\n",
		       r.count, r.skipped, failed, warned, r.shard_index, r.shard_count,
		       (unsigned long long)in, (unsigned long long)out,
		       (unsigned long long)px, ratio, wall, wall > 0 ? (double)px / 1e6 / wall : 0,
		       rp_pool_threads(r.pool), r.verify ? "true" : "false");
	else if (!rp_cli_quiet)
		fprintf(stderr,
			"%s: %zu file(s), %zu skipped (done before), %zu failed, %zu with warnings, "
			"%.1f MB -> %.1f MB (ratio %.2f), %.2f s, %.1f MB/s of pixels%s\n",
			decompress ? "decompress" : "compress", r.count, r.skipped, failed, warned,
			(double)in / 1e6,
			(double)out / 1e6, ratio, wall, wall > 0 ? (double)px / 1e6 / wall : 0,
			!r.verify ? "" : failed ? ", the written outputs verified"
						: ", every output verified");
	int rrc = write_report(&r, codec_name, wall, run_in, px, rp_pool_threads(r.pool));
	rc = rc ? rc : rrc;
	rp_journal_close(r.journal);
	rp_pool_destroy(r.pool);
	for (size_t i = 0; i < r.count; i++) {
		free(r.jobs[i].path);
		free(r.jobs[i].rel);
		free(r.jobs[i].journal_key);
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
