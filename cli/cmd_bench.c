/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_bench.c - `radpipe bench`: repeatable figures for buying hardware and for
 * catching regressions.
 *
 *   radpipe bench codec [PATH...]     per codec x modality: ratio, encode and decode MB/s
 *                                     on one thread and on all, median of N with min/max
 *   radpipe bench pipeline INPUT...   whole-study transcoding (rp_pipeline_run) at each
 *                                     thread count, peak RSS, and the engine's overhead
 *                                     over the bare encoder calls on the same frames
 *
 * MB are 10^6 bytes of decoded (canonical) pixels, the unit users and peers quote.  Every
 * result is also a JSON line (--json FILE) carrying the CPU, compiler, library versions
 * and git commit, so a line read months later still says what produced it.  Speeds are
 * measured only here and in bench/, never asserted in tests. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("rp_buildinfo.h")
#include "rp_buildinfo.h"
#endif
#endif
#ifndef RP_BUILD_GIT
#define RP_BUILD_GIT "unknown"
#define RP_BUILD_COMPILER "unknown"
#define RP_BUILD_TYPE "unknown"
#define RP_BUILD_LIBS_JSON "{}"
#endif

#define MAX_ITER 1000

/* ------------------------------------------------------------------------------------ */
/* Shared helpers */

static void
cpu_model(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, cap, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *v = strchr(line, ':');
			if (v) {
				v++;
				while (*v == ' ')
					v++;
				v[strcspn(v, "\n")] = '\0';
				snprintf(buf, cap, "%s", v);
			}
			break;
		}
	}
	fclose(f);
}

/* The widest vector extension the CPU reports ("avx512", "avx2" or "none"): what the
 * library's dispatch can pick at most. */
static const char *
cpu_simd(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	const char *level = "none";

	if (!f)
		return level;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		if (strstr(line, " avx512bw") && strstr(line, " avx512vl"))
			level = "avx512";
		else if (strstr(line, " avx2"))
			level = "avx2";
		break;
	}
	fclose(f);
	return level;
}

/* The fields every JSON line carries. */
static void
json_env(FILE *f)
{
	char cpu[256];

	cpu_model(cpu, sizeof(cpu));
	fprintf(f, "\"cpu\":");
	rp_cli_json_string(f, cpu);
	fprintf(f, ",\"cpus\":%u,\"cpu_simd\":\"%s\",\"compiler\":", rp_cpu_count(), cpu_simd());
	rp_cli_json_string(f, RP_BUILD_COMPILER);
	fprintf(f, ",\"build\":\"%s\",\"radpipe\":\"%s\",\"git\":\"%s\",\"libs\":%s",
		RP_BUILD_TYPE, rp_version(), RP_BUILD_GIT, RP_BUILD_LIBS_JSON);
}

struct stat3 {
	double median, min, max;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median/min/max of n rates (n >= 1). */
static struct stat3
stat3_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	struct stat3 s = { n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1] };
	return s;
}

static void
json_stat(FILE *f, const char *name, struct stat3 s)
{
	fprintf(f, ",\"%s\":{\"median\":%.3f,\"min\":%.3f,\"max\":%.3f}", name, s.median, s.min,
		s.max);
}

static bool
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* ------------------------------------------------------------------------------------ */
/* bench codec */

struct sample {
	struct rp_image_desc img;
	uint8_t *pixels;             /* canonical frame */
	size_t size;
};

struct modality_set {
	char name[17];
	struct sample *s;
	size_t count, cap;
	uint64_t bytes;
	size_t files;
};

struct collect {
	struct modality_set *sets;
	size_t nsets;
	uint64_t max_bytes;          /* per modality */
	size_t skipped;
};

static struct modality_set *
set_for(struct collect *c, const char *modality)
{
	for (size_t i = 0; i < c->nsets; i++)
		if (strcmp(c->sets[i].name, modality) == 0 || strcmp(c->sets[i].name, "*") == 0)
			return &c->sets[i];
	return NULL;
}

static int
collect_file(void *ctx, const char *path, const char *rel)
{
	struct collect *c = ctx;
	const void *data;
	size_t size;
	struct rp_errbuf err = { "" };
	struct rp_dicom *ds = NULL;
	(void)rel;

	if (rp_cli_map(path, &data, &size, &err) != RP_OK)
		return 0;
	if (rp_dicom_parse(data, size, NULL, &ds, &err) != RP_OK) {
		rp_cli_unmap(data, size);
		return 0; /* conformance codestreams, notes: not DICOM, not counted */
	}
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	struct modality_set *set = info->has_pixels ? set_for(c, info->modality) : NULL;
	if (set && set->bytes < c->max_bytes && info->img.bits_allocated >= 8) {
		size_t fs = rp_image_frame_size(&info->img);
		bool took = false;
		for (uint32_t f = 0; f < info->frames && set->bytes < c->max_bytes; f++) {
			uint8_t *px = malloc(fs);
			if (!px || rp_dicom_decode_frame(ds, f, px, fs, &err) != RP_OK) {
				free(px);
				c->skipped++;
				break;
			}
			if (set->count == set->cap) {
				size_t cap = set->cap ? set->cap * 2 : 64;
				struct sample *n = realloc(set->s, cap * sizeof(*n));
				if (!n) {
					free(px);
					break;
				}
				set->s = n;
				set->cap = cap;
			}
			set->s[set->count++] = (struct sample){ info->img, px, fs };
			set->bytes += fs;
			took = true;
		}
		set->files += took;
	}
	rp_dicom_free(ds);
	rp_cli_unmap(data, size);
	return 0;
}

/* One codec over one modality's frames. */
struct codec_run {
	enum rp_codec codec;
	struct sample **frames;      /* those the codec accepts */
	size_t n;
	uint64_t bytes;
	uint8_t **coded;
	size_t *coded_size, *coded_cap;
	struct rp_encoder **enc;     /* per worker slot */
	struct rp_decoder **dec;
	uint8_t **back;              /* per slot decode buffer */
	size_t back_cap;
	_Atomic int status;
};

static void
enc_one(void *arg, size_t i, unsigned worker)
{
	struct codec_run *r = arg;
	const struct sample *s = r->frames[i];
	if (rp_encoder_encode(r->enc[worker], &s->img, s->pixels, s->size, r->coded[i],
			      r->coded_cap[i], &r->coded_size[i], NULL) != RP_OK)
		r->status = RP_E_INTERNAL;
}

static void
dec_one(void *arg, size_t i, unsigned worker)
{
	struct codec_run *r = arg;
	const struct sample *s = r->frames[i];
	if (rp_decoder_decode(r->dec[worker], &s->img, r->coded[i], r->coded_size[i],
			      r->back[worker], r->back_cap, NULL) != RP_OK)
		r->status = RP_E_INTERNAL;
}

/* Seconds for one pass of fn over every frame, on `pool` (NULL: this thread alone). */
static double
timed_pass(struct rp_pool *pool, rp_for_fn *fn, struct codec_run *r)
{
	double t0 = rp_cli_now();
	if (pool)
		rp_pool_parallel_for(pool, r->n, fn, r);
	else
		for (size_t i = 0; i < r->n; i++)
			fn(r, i, 0);
	return rp_cli_now() - t0;
}

struct codec_opts {
	int iterations;
	unsigned threads;
	FILE *json;
	bool table;
};

static void
print_row(const struct codec_opts *o, const char *codec, const struct modality_set *set,
	  size_t n, uint64_t bytes, double ratio, unsigned threads, struct stat3 enc,
	  struct stat3 dec)
{
	if (o->json) {
		fprintf(o->json, "{\"bench\":\"codec\",\"codec\":\"%s\",\"modality\":\"%s\","
			"\"files\":%zu,\"frames\":%zu,\"pixel_bytes\":%llu,\"ratio\":%.4f,"
			"\"threads\":%u,\"iterations\":%d,\"lossless_verified\":true",
			codec, set->name, set->files, n, (unsigned long long)bytes, ratio, threads,
			o->iterations);
		json_stat(o->json, "encode_mbps", enc);
		json_stat(o->json, "decode_mbps", dec);
		fputc(',', o->json);
		json_env(o->json);
		fprintf(o->json, "}\n");
		fflush(o->json);
	}
	if (o->table)
		printf("%-13s %-4s %6zu %8.1f %6.2f %3u %8.1f (%6.1f-%6.1f) %8.1f (%6.1f-%6.1f)\n",
		       codec, set->name, n, (double)bytes / 1e6, ratio, threads, enc.median,
		       enc.min, enc.max, dec.median, dec.min, dec.max);
}

/* Returns 0, or an exit code when the codec misbehaved (a lossless mismatch). */
static int
bench_codec_set(const struct codec_opts *o, struct rp_pool *pool, enum rp_codec codec,
		unsigned effort, const struct modality_set *set)
{
	struct codec_run r = { .codec = codec };
	const unsigned slots = rp_pool_threads(pool) + 1;
	struct rp_encoder_options eo;
	struct rp_decoder_options dopt;
	int rc = 0;

	rp_encoder_options_init(&eo);
	eo.codec = codec;
	eo.effort = effort;
	char label[32];
	if (effort)
		snprintf(label, sizeof(label), "%s-e%u", rp_codec_name(codec), effort);
	else
		snprintf(label, sizeof(label), "%s", rp_codec_name(codec));
	rp_decoder_options_init(&dopt);
	dopt.codec = codec;
	r.enc = calloc(slots, sizeof(*r.enc));
	r.dec = calloc(slots, sizeof(*r.dec));
	r.back = calloc(slots, sizeof(*r.back));
	r.frames = calloc(set->count ? set->count : 1, sizeof(*r.frames));
	r.coded = calloc(set->count ? set->count : 1, sizeof(*r.coded));
	r.coded_size = calloc(set->count ? set->count : 1, sizeof(*r.coded_size));
	r.coded_cap = calloc(set->count ? set->count : 1, sizeof(*r.coded_cap));
	if (!r.enc || !r.dec || !r.back || !r.frames || !r.coded || !r.coded_size || !r.coded_cap)
		goto out;
	for (unsigned w = 0; w < slots; w++)
		if (rp_encoder_create(&eo, &r.enc[w]) != RP_OK ||
		    rp_decoder_create(&dopt, &r.dec[w]) != RP_OK)
			goto out;
	for (size_t i = 0; i < set->count; i++) {
		const struct sample *s = &set->s[i];
		if (rp_encoder_check(r.enc[0], &s->img, NULL) != RP_OK)
			continue;
		size_t bound = rp_encoder_bound(r.enc[0], &s->img);
		uint8_t *buf = bound ? malloc(bound) : NULL;
		if (!buf)
			continue;
		r.coded[r.n] = buf;
		r.coded_cap[r.n] = bound;
		r.frames[r.n++] = &set->s[i];
		r.bytes += s->size;
		if (s->size > r.back_cap)
			r.back_cap = s->size;
	}
	if (r.n == 0)
		goto out;
	for (unsigned w = 0; w < slots; w++)
		if (!(r.back[w] = malloc(r.back_cap)))
			goto out;

	/* Untimed first pass: fills the coded buffers, warms caches, and checks that every
	 * frame decodes back bit-exact, so no speed is ever reported for a broken codec. */
	timed_pass(NULL, enc_one, &r);
	uint64_t coded = 0;
	for (size_t i = 0; i < r.n && r.status == RP_OK; i++) {
		const struct sample *s = r.frames[i];
		uint64_t e = 0;
		coded += r.coded_size[i];
		struct rp_errbuf err = { "" };
		int st = rp_decoder_decode(r.dec[0], &s->img, r.coded[i], r.coded_size[i],
					   r.back[0], r.back_cap, &err);
		if (st == RP_OK)
			st = rp_frame_compare(&s->img, s->pixels, r.back[0], s->size, &e);
		if (st != RP_OK || e != 0) {
			rp_cli_errorf("bench: %s on %s frame %zu is not lossless (%s, max error "
				      "%llu)", rp_codec_name(codec), set->name, i,
				      st != RP_OK ? rp_status_name(st) : "mismatch",
				      (unsigned long long)e);
			rc = RP_EXIT_FAILED;
			goto out;
		}
	}
	if (r.status != RP_OK) {
		rp_cli_errorf("bench: %s failed to encode a %s frame", rp_codec_name(codec),
			      set->name);
		rc = RP_EXIT_FAILED;
		goto out;
	}
	const double ratio = coded ? (double)r.bytes / (double)coded : 0;
	double encv[MAX_ITER], decv[MAX_ITER];
	struct rp_pool *pools[2] = { NULL, pool };
	const unsigned widths[2] = { 1, rp_pool_threads(pool) };
	for (int p = 0; p < 2; p++) {
		if (p == 1 && (!pool || widths[1] <= 1))
			break;
		for (int it = 0; it < o->iterations; it++) {
			encv[it] = (double)r.bytes / 1e6 / timed_pass(pools[p], enc_one, &r);
			decv[it] = (double)r.bytes / 1e6 / timed_pass(pools[p], dec_one, &r);
		}
		if (r.status != RP_OK) {
			rc = RP_EXIT_FAILED;
			break;
		}
		print_row(o, label, set, r.n, r.bytes, ratio, widths[p],
			  stat3_of(encv, o->iterations), stat3_of(decv, o->iterations));
	}
out:
	for (unsigned w = 0; w < slots; w++) {
		if (r.enc)
			rp_encoder_destroy(r.enc[w]);
		if (r.dec)
			rp_decoder_destroy(r.dec[w]);
		if (r.back)
			free(r.back[w]);
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.coded[i]);
	free(r.enc);
	free(r.dec);
	free(r.back);
	free(r.frames);
	free(r.coded);
	free(r.coded_size);
	free(r.coded_cap);
	return rc;
}

static void
codec_usage(FILE *f)
{
	fprintf(f,
		"Usage: radpipe bench codec [-c CODECS] [-m MODALITIES] [-n N] [-T THREADS]\n"
		"                           [--effort LIST] [--max-mb MB] [--json FILE] [-q]\n"
		"                           [PATH...]\n"
		"\n"
		"Encodes and decodes the frames of every DICOM file under PATH (default:\n"
		"$RADPIPE_CORPUS, else ../shared/corpus) per codec and modality, checks that each\n"
		"frame decodes back bit-exact, then times N passes on one thread and on THREADS.\n"
		"Prints ratio and MB/s (10^6 decoded pixel bytes per second; median and range).\n"
		"\n"
		"  -c, --codec LIST     comma-separated (default: every lossless codec this build\n"
		"                       encodes)\n"
		"  -m, --modality LIST  comma-separated Modality values (default\n"
		"                       CT,MR,PT,NM,XA,CR,US; 'all' for one set of everything)\n"
		"  -n, --iterations N   timed passes (default 5)\n"
		"  -T, --threads N      width of the all-threads run (default: all CPUs)\n"
		"      --effort LIST    jpegxl efforts 1..9, comma-separated, one row each\n"
		"                       (labelled jpegxl-eN; default: the codec's default, 3)\n"
		"      --max-mb MB      decoded pixels per modality (default 64)\n"
		"      --json FILE      append one JSON line per result ('-': stdout)\n"
		"  -q, --quiet          no table\n");
}

static int
cmd_bench_codec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "modality", required_argument, NULL, 'm' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 'T' },
		{ "max-mb", required_argument, NULL, 'M' },
		{ "effort", required_argument, NULL, 'E' },
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *codecs = NULL, *modalities = "CT,MR,PT,NM,XA,CR,US", *json = NULL;
	struct codec_opts o = { .iterations = 5, .threads = 0, .table = true };
	unsigned efforts[9] = { 0 };     /* 0: the codec's default */
	size_t neffort = 1;
	unsigned long v, max_mb = 64;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:m:n:T:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			codecs = optarg;
			break;
		case 'm':
			modalities = optarg;
			break;
		case 'n':
			if (!parse_uint(optarg, MAX_ITER, &v) || v == 0) {
				rp_cli_errorf("-n takes 1 to %d", MAX_ITER);
				return RP_EXIT_USAGE;
			}
			o.iterations = (int)v;
			break;
		case 'T':
			if (!parse_uint(optarg, 1024, &v) || v == 0) {
				rp_cli_errorf("-T takes a thread count from 1 to 1024");
				return RP_EXIT_USAGE;
			}
			o.threads = (unsigned)v;
			break;
		case 'M':
			if (!parse_uint(optarg, 1u << 20, &max_mb) || max_mb == 0) {
				rp_cli_errorf("--max-mb takes a positive size in MB");
				return RP_EXIT_USAGE;
			}
			break;
		case 'E': {
			char buf[64];
			snprintf(buf, sizeof(buf), "%s", optarg);
			neffort = 0;
			for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (neffort == 9 || !parse_uint(t, 9, &v) || v == 0) {
					rp_cli_errorf("--effort takes up to 9 efforts from 1 to 9");
					return RP_EXIT_USAGE;
				}
				efforts[neffort++] = (unsigned)v;
			}
			if (neffort == 0) {
				rp_cli_errorf("--effort takes up to 9 efforts from 1 to 9");
				return RP_EXIT_USAGE;
			}
			break;
		}
		case 'j':
			json = optarg;
			break;
		case 'q':
			o.table = false;
			break;
		case 'h':
			codec_usage(stdout);
			return RP_EXIT_OK;
		default:
			codec_usage(stderr);
			return RP_EXIT_USAGE;
		}
	}

	/* Codec list. */
	enum rp_codec list[64];
	size_t nc = 0;
	if (codecs) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", codecs);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (nc == 64 || rp_codec_from_name(t, &list[nc]) != RP_OK ||
			    !rp_codec_can_encode(list[nc]) || !rp_codec_can_decode(list[nc])) {
				rp_cli_errorf("bench: codec '%s' is unknown or cannot encode and "
					      "decode in this build", t);
				return RP_EXIT_USAGE;
			}
			nc++;
		}
	} else {
		for (int c = 0; c < 64 && rp_codec_name((enum rp_codec)c); c++)
			if (c != RP_CODEC_NATIVE && c != RP_CODEC_DEFLATE &&
			    c != RP_CODEC_JPEG && /* baseline JPEG is lossy only */
			    rp_codec_can_encode((enum rp_codec)c) &&
			    rp_codec_can_decode((enum rp_codec)c))
				list[nc++] = (enum rp_codec)c;
	}

	/* Modality sets. */
	struct collect c = { .max_bytes = (uint64_t)max_mb * 1000000u };
	struct modality_set sets[32];
	memset(sets, 0, sizeof(sets));
	{
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", strcmp(modalities, "all") == 0 ? "*" : modalities);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && c.nsets < 32;
		     t = strtok_r(NULL, ",", &save))
			snprintf(sets[c.nsets++].name, sizeof(sets[0].name), "%s", t);
	}
	c.sets = sets;

	char *defpath[1];
	char **paths = argv + optind;
	int npaths = argc - optind;
	if (npaths == 0) {
		const char *env = getenv("RADPIPE_CORPUS");
		defpath[0] = (char *)(env && *env ? env : "../shared/corpus");
		paths = defpath;
		npaths = 1;
		if (access(defpath[0], R_OK) != 0) {
			rp_cli_errorf("bench: no corpus at %s (give PATH or set RADPIPE_CORPUS)",
				      defpath[0]);
			return RP_EXIT_IO;
		}
	}
	int rc = rp_cli_walk(paths, npaths, collect_file, &c);
	if (rc)
		return rc;

	FILE *jf = NULL;
	if (json) {
		jf = strcmp(json, "-") == 0 ? stdout : fopen(json, "a");
		if (!jf) {
			rp_cli_errorf("bench: cannot open %s", json);
			return RP_EXIT_IO;
		}
		o.json = jf;
		if (jf == stdout)
			o.table = false;
	}
	struct rp_pool *pool = NULL;
	if (rp_pool_create(o.threads, 0, &pool) != RP_OK) {
		rp_cli_errorf("cannot start worker threads");
		return RP_EXIT_INTERNAL;
	}
	if (o.table) {
		char cpu[256];
		cpu_model(cpu, sizeof(cpu));
		printf("radpipe %s (%s), %s, %u CPUs, %s; %d iterations; MB/s median (min-max)\n",
		       rp_version(), RP_BUILD_GIT, cpu, rp_cpu_count(), cpu_simd(), o.iterations);
		printf("%-13s %-4s %6s %8s %6s %3s %24s %24s\n", "codec", "mod", "frames", "MB",
		       "ratio", "thr", "encode MB/s", "decode MB/s");
	}
	for (size_t ci = 0; ci < nc; ci++) {
		/* Efforts apply to JPEG XL only; other codecs get one row. */
		size_t ne = list[ci] == RP_CODEC_JPEGXL ? neffort : 1;
		for (size_t ei = 0; ei < ne; ei++)
			for (size_t si = 0; si < c.nsets; si++) {
				if (sets[si].count == 0)
					continue;
				int r = bench_codec_set(&o, pool, list[ci],
							list[ci] == RP_CODEC_JPEGXL ? efforts[ei] : 0,
							&sets[si]);
				rc = rc ? rc : r;
			}
	}
	if (o.table) {
		for (size_t si = 0; si < c.nsets; si++)
			if (sets[si].count == 0)
				printf("(no %s frames found)\n", sets[si].name);
		if (c.skipped)
			printf("(%zu file(s) skipped: frames this build cannot decode)\n", c.skipped);
	}
	rp_pool_destroy(pool);
	for (size_t si = 0; si < c.nsets; si++) {
		for (size_t i = 0; i < sets[si].count; i++)
			free(sets[si].s[i].pixels);
		free(sets[si].s);
	}
	if (jf && jf != stdout)
		fclose(jf);
	return rc;
}

/* ------------------------------------------------------------------------------------ */
/* bench pipeline */

struct file_list {
	char **paths;
	size_t count, cap;
};

static int
list_file(void *ctx, const char *path, const char *rel)
{
	struct file_list *l = ctx;
	(void)rel;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **n = realloc(l->paths, cap * sizeof(*n));
		if (!n)
			return RP_EXIT_INTERNAL;
		l->paths = n;
		l->cap = cap;
	}
	if (!(l->paths[l->count] = strdup(path)))
		return RP_EXIT_INTERNAL;
	l->count++;
	return 0;
}

/* Peak resident set since the last reset, in bytes (VmHWM); the reset writes 5 to
 * /proc/self/clear_refs (Linux >= 4.0), so each thread count gets its own peak. */
static uint64_t
peak_rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* CPU seconds (user + system) of the whole process so far: on a shared machine, wall
 * time measures the neighbours too; CPU time mostly does not. */
static double
process_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double
thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

/* The bare encoder calls on the study's frames: map, parse and decode to canonical
 * untimed, time rp_encoder_encode() only.  Seconds, or < 0 on failure. */
static double
bare_encode_seconds(const struct rp_encoder_options *eo, struct file_list *l,
		    uint64_t *pixel_bytes, double *cpu)
{
	struct rp_encoder *enc = NULL;
	double t = 0;

	*cpu = 0;
	uint8_t *px = NULL, *out = NULL;
	size_t px_cap = 0, out_cap = 0;

	*pixel_bytes = 0;
	if (rp_encoder_create(eo, &enc) != RP_OK)
		return -1;
	for (size_t i = 0; i < l->count; i++) {
		const void *data;
		size_t size, osize;
		struct rp_dicom *ds = NULL;
		if (rp_cli_map(l->paths[i], &data, &size, NULL) != RP_OK)
			continue;
		if (rp_dicom_parse(data, size, NULL, &ds, NULL) == RP_OK) {
			const struct rp_dicom_info *info = rp_dicom_get_info(ds);
			size_t fs = info->has_pixels ? rp_image_frame_size(&info->img) : 0;
			size_t bound = fs ? rp_encoder_bound(enc, &info->img) : 0;
			if (fs > px_cap) {
				free(px);
				px = malloc(px_cap = fs);
			}
			if (bound > out_cap) {
				free(out);
				out = malloc(out_cap = bound);
			}
			for (uint32_t f = 0; fs && bound && px && out && f < info->frames; f++) {
				if (rp_dicom_decode_frame(ds, f, px, fs, NULL) != RP_OK)
					break;
				double t0 = rp_cli_now(), c0 = thread_cpu_seconds();
				int st = rp_encoder_encode(enc, &info->img, px, fs, out, bound, &osize,
							   NULL);
				t += rp_cli_now() - t0;
				*cpu += thread_cpu_seconds() - c0;
				if (st == RP_OK)
					*pixel_bytes += fs;
			}
		}
		rp_dicom_free(ds);
		rp_cli_unmap(data, size);
	}
	free(px);
	free(out);
	rp_encoder_destroy(enc);
	return t;
}

static void
pipeline_usage(FILE *f)
{
	fprintf(f,
		"Usage: radpipe bench pipeline [-c CODEC] [-T LIST] [-n N] [--budget MB]\n"
		"                              [--no-verify] [--bare] [--json FILE] -o TMPDIR INPUT...\n"
		"\n"
		"Transcodes every file under INPUT into TMPDIR (files are overwritten) with the\n"
		"streaming pipeline, N times per thread count, and reports pixel MB/s, speed-up\n"
		"over the first count, and peak resident memory.  --bare also times the bare\n"
		"encoder calls on the same frames (one thread), giving the engine's overhead.\n"
		"\n"
		"  -c, --codec NAME   codec (default jpegls)\n"
		"  -T, --threads LIST comma-separated thread counts (default 1,<all CPUs>)\n"
		"  -n, --iterations N timed runs per count (default 3)\n"
		"      --budget MB    pipeline memory budget (default 512)\n"
		"      --no-verify    skip the read-back verification (as with --bare figures)\n"
		"      --json FILE    append JSON lines ('-': stdout)\n");
}

static int
cmd_bench_pipeline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 'T' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "budget", required_argument, NULL, 'B' },
		{ "no-verify", no_argument, NULL, 'V' },
		{ "bare", no_argument, NULL, 'b' },
		{ "json", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *codec_name = "jpegls", *tlist = NULL, *json = NULL, *outdir = NULL;
	unsigned long v, budget_mb = 512;
	int iterations = 3, opt;
	bool verify = true, bare = false, quiet = false;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:T:n:o:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			codec_name = optarg;
			break;
		case 'T':
			tlist = optarg;
			break;
		case 'n':
			if (!parse_uint(optarg, MAX_ITER, &v) || v == 0) {
				rp_cli_errorf("-n takes 1 to %d", MAX_ITER);
				return RP_EXIT_USAGE;
			}
			iterations = (int)v;
			break;
		case 'B':
			if (!parse_uint(optarg, 1u << 30, &budget_mb) || budget_mb == 0) {
				rp_cli_errorf("--budget takes a positive size in MB");
				return RP_EXIT_USAGE;
			}
			break;
		case 'V':
			verify = false;
			break;
		case 'b':
			bare = true;
			break;
		case 'j':
			json = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			pipeline_usage(stdout);
			return RP_EXIT_OK;
		default:
			pipeline_usage(stderr);
			return RP_EXIT_USAGE;
		}
	}
	enum rp_codec codec;
	if (rp_codec_from_name(codec_name, &codec) != RP_OK || !rp_codec_can_encode(codec)) {
		rp_cli_errorf("bench: codec '%s' cannot encode in this build", codec_name);
		return RP_EXIT_USAGE;
	}
	if (!outdir || optind >= argc) {
		pipeline_usage(stderr);
		return RP_EXIT_USAGE;
	}
	unsigned threads[32];
	size_t nt = 0;
	if (tlist) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", tlist);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && nt < 32;
		     t = strtok_r(NULL, ",", &save)) {
			if (!parse_uint(t, 1024, &v) || v == 0) {
				rp_cli_errorf("-T takes thread counts from 1 to 1024");
				return RP_EXIT_USAGE;
			}
			threads[nt++] = (unsigned)v;
		}
	} else {
		threads[nt++] = 1;
		if (rp_cpu_count() > 1)
			threads[nt++] = rp_cpu_count();
	}

	struct file_list l = { 0 };
	int rc = rp_cli_walk(argv + optind, argc - optind, list_file, &l);
	if (rc)
		return rc;
	struct rp_pipeline_file *files = calloc(l.count ? l.count : 1, sizeof(*files));
	char **outs = calloc(l.count ? l.count : 1, sizeof(*outs));
	if (!files || !outs)
		return RP_EXIT_INTERNAL;
	struct rp_errbuf err = { "" };
	char probe[PATH_MAX];
	snprintf(probe, sizeof(probe), "%s/x", outdir);
	if (rp_cli_mkdirs_for(probe, &err) != RP_OK) {
		rp_cli_error(outdir, RP_E_IO, err.msg);
		return RP_EXIT_IO;
	}
	for (size_t i = 0; i < l.count; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%06zu.dcm", outdir, i);
		outs[i] = strdup(p);
		files[i].input = l.paths[i];
		files[i].output = outs[i];
	}
	FILE *jf = json ? (strcmp(json, "-") == 0 ? stdout : fopen(json, "a")) : NULL;
	if (json && !jf) {
		rp_cli_errorf("bench: cannot open %s", json);
		return RP_EXIT_IO;
	}
	if (!quiet)
		printf("%-8s %6s %9s %9s %9s %8s %8s %10s %10s\n", "codec", "thr", "files", "MB",
		       "MB/s", "speedup", "CPU s", "peak RSS", "budget");
	double first = 0, pipe1 = 0, pipe1_cpu = 0;
	uint64_t px_total = 0;
	for (size_t ti = 0; ti < nt && rc == 0; ti++) {
		struct rp_pool *pool = NULL;
		if (rp_pool_create(threads[ti], 0, &pool) != RP_OK)
			return RP_EXIT_INTERNAL;
		struct rp_pipeline_options po;
		rp_pipeline_options_init(&po);
		po.encoder.codec = codec;
		po.pool = pool;
		po.memory_budget = (uint64_t)budget_mb << 20;
		po.verify = verify;
		double secs[MAX_ITER], rates[MAX_ITER], cpus[MAX_ITER];
		struct rp_pipeline_stats st = { 0 };
		reset_peak_rss();
		for (int it = 0; it < iterations; it++) {
			double t0 = rp_cli_now(), c0 = process_cpu_seconds();
			int s = rp_pipeline_run(&po, files, l.count, &st, &err);
			secs[it] = rp_cli_now() - t0;
			cpus[it] = process_cpu_seconds() - c0;
			if (s != RP_OK) {
				rp_cli_error("bench pipeline", s, err.msg);
				rc = RP_EXIT_FAILED;
				break;
			}
		}
		uint64_t rss = peak_rss();
		rp_pool_destroy(pool);
		if (rc)
			break;
		uint64_t px = 0, in = 0, out = 0;
		for (size_t i = 0; i < l.count; i++) {
			px += files[i].pixel_size;
			in += files[i].input_size;
			out += files[i].output_size;
		}
		px_total = px;
		for (int it = 0; it < iterations; it++)
			rates[it] = (double)px / 1e6 / secs[it];
		struct stat3 r = stat3_of(rates, iterations);
		struct stat3 s = stat3_of(secs, iterations);
		struct stat3 cs = stat3_of(cpus, iterations);
		if (ti == 0)
			first = r.median;
		if (threads[ti] == 1) {
			pipe1 = s.median;
			pipe1_cpu = cs.median;
		}
		if (!quiet)
			printf("%-8s %6u %9zu %9.1f %9.1f %8.2f %8.2f %7.1f MB %7.0f MB\n",
			       codec_name, threads[ti], l.count, (double)px / 1e6, r.median,
			       first > 0 ? r.median / first : 0, cs.median, (double)rss / 1e6,
			       (double)st.budget / 1e6);
		if (jf) {
			fprintf(jf, "{\"bench\":\"pipeline\",\"codec\":\"%s\",\"threads\":%u,"
				"\"files\":%zu,\"pixel_bytes\":%llu,\"input_bytes\":%llu,"
				"\"output_bytes\":%llu,\"ratio\":%.4f,\"iterations\":%d,"
				"\"verify\":%s,\"seconds_median\":%.4f,\"speedup_vs_first\":%.3f,"
				"\"peak_rss_bytes\":%llu,\"budget_bytes\":%llu,"
				"\"peak_reserved_bytes\":%llu,\"peak_files_open\":%u,"
				"\"cpu_seconds_median\":%.4f",
				codec_name, threads[ti], l.count, (unsigned long long)px,
				(unsigned long long)in, (unsigned long long)out,
				out ? (double)in / (double)out : 0, iterations,
				verify ? "true" : "false", s.median,
				first > 0 ? r.median / first : 0, (unsigned long long)rss,
				(unsigned long long)st.budget,
				(unsigned long long)st.peak_reserved, st.peak_files_open, cs.median);
			json_stat(jf, "mbps", r);
			fputc(',', jf);
			json_env(jf);
			fprintf(jf, "}\n");
			fflush(jf);
		}
	}
	if (rc == 0 && bare) {
		struct rp_encoder_options eo;
		rp_encoder_options_init(&eo);
		eo.codec = codec;
		double best = -1, best_cpu = -1;
		uint64_t px = 0;
		for (int it = 0; it < iterations; it++) {
			double cpu;
			double t = bare_encode_seconds(&eo, &l, &px, &cpu);
			if (t >= 0 && (best < 0 || t < best))
				best = t;
			if (t >= 0 && (best_cpu < 0 || cpu < best_cpu))
				best_cpu = cpu;
		}
		double ov = pipe1 > 0 && best > 0 ? (pipe1 / best - 1) * 100 : 0;
		double ov_cpu = pipe1_cpu > 0 && best_cpu > 0 ? (pipe1_cpu / best_cpu - 1) * 100 : 0;
		if (!quiet)
			printf("bare %s encode calls, 1 thread: %.3f s wall / %.3f s CPU for %.1f MB; "
			       "pipeline 1 thread: %.3f s wall / %.3f s CPU (medians); engine "
			       "overhead %.1f%% wall, %.1f%% CPU%s\n",
			       codec_name, best, best_cpu, (double)px / 1e6, pipe1, pipe1_cpu, ov,
			       ov_cpu, pipe1 > 0 ? "" : " (no 1-thread run: use -T 1,...)");
		if (jf) {
			fprintf(jf, "{\"bench\":\"pipeline_overhead\",\"codec\":\"%s\","
				"\"pixel_bytes\":%llu,\"bare_encode_seconds_best\":%.4f,"
				"\"pipeline_1t_seconds_median\":%.4f,\"verify\":%s,"
				"\"overhead_pct\":%.2f,\"pipeline_pixel_bytes\":%llu,"
				"\"bare_encode_cpu_seconds_best\":%.4f,"
				"\"pipeline_1t_cpu_seconds_median\":%.4f,\"overhead_cpu_pct\":%.2f,",
				codec_name, (unsigned long long)px, best, pipe1,
				verify ? "true" : "false", ov, (unsigned long long)px_total, best_cpu,
				pipe1_cpu, ov_cpu);
			json_env(jf);
			fprintf(jf, "}\n");
		}
	}
	if (jf && jf != stdout)
		fclose(jf);
	for (size_t i = 0; i < l.count; i++) {
		free(l.paths[i]);
		free(outs[i]);
	}
	free(l.paths);
	free(outs);
	free(files);
	return rc;
}

/* ------------------------------------------------------------------------------------ */

int
rp_cmd_bench(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "codec") == 0)
		return cmd_bench_codec(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "pipeline") == 0)
		return cmd_bench_pipeline(argc - 1, argv + 1);
	FILE *f = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ?
			  stdout : stderr;
	fprintf(f,
		"Usage: radpipe bench codec [OPTIONS] [PATH...]\n"
		"       radpipe bench pipeline [OPTIONS] -o TMPDIR INPUT...\n"
		"\n"
		"  codec     ratio and encode/decode speed per codec and modality\n"
		"  pipeline  whole-study speed, thread scaling, memory, engine overhead\n"
		"\n"
		"Run 'radpipe bench codec --help' or 'radpipe bench pipeline --help'.\n");
	return f == stdout ? RP_EXIT_OK : RP_EXIT_USAGE;
}
