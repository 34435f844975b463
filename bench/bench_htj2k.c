/* SPDX-License-Identifier: BSD-3-Clause */
/* bench/bench_htj2k.c - radpipe's own HTJ2K codec side by side with OpenJPH (the
 * htj2k-ojph adapter: Debian's OpenJPH, or the one under CMake's OPENJPH_ROOT; its version
 * is in the codec name) and OpenJPEG (decoding our streams), on the same
 * frames in one run: median MB/s (MB = 10^6 bytes of 16-bit pixels), cycles per pixel
 * (TSC), compression ratio; where our encoder's time goes (level shift, DWT, block coder,
 * packets); and one large frame with 1 and T threads.
 *
 *   bench_htj2k [-n iters] [-T threads] [-q] [-only ours|ojph] [-clock wall|cpu]
 *               [-isa scalar|avx2|avx512|best] [-big large.dcm] file.dcm...
 *
 * -isa is the ceiling on our codec's ISA level (rp_encoder_options.max_isa); the level
 * that runs is printed and is the "isa" of the JSON lines.
 * -clock cpu times the one-thread figures in process CPU time (for a shared machine);
 * the T-thread scaling is always wall clock, on -big's frame (default: the first frame
 * tiled to 4096 x 3072).
 * One JSON line per codec and direction on stdout, a table on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include <radpipe/dicom.h>
#include <radpipe/pool.h>

#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"
#include "codec/j2k_internal.h"
#include "simd/cpu.h"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What the one-thread figures are timed with: wall clock by default; with -clock cpu,
 * this process's CPU time, which a shared, loaded machine cannot inflate by preempting
 * us (one-thread runs only: the thread-scaling figures are always wall clock). */
static clockid_t one_thread_clock = CLOCK_MONOTONIC;
static int force_wall;

static double
tick_s(void)
{
	struct timespec ts;
	clock_gettime(one_thread_clock, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double tsc_hz;

/* Our codec's kernels, at the level -isa allows (default: the best this CPU runs). */
static const struct rp__htj2k_kernels *bench_k;

static void
calibrate_tsc(void)
{
	double t0 = now_s();
	uint64_t c0 = __rdtsc();
	while (now_s() - t0 < 0.05)
		;
	tsc_hz = (double)(__rdtsc() - c0) / (now_s() - t0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct frame {
	struct rp_image_desc img;
	uint8_t *data;
	size_t size;
};

static uint8_t *
read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*size = (size_t)n;
	return b;
}

static int
load_frame(const char *path, struct frame *fr)
{
	size_t size;
	uint8_t *data = read_file(path, &size);
	struct rp_dicom *ds = NULL;
	struct rp_errbuf err;
	if (!data || rp_dicom_parse(data, size, NULL, &ds, &err) != RP_OK) {
		free(data);
		return -1;
	}
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	fr->img = info->img;
	fr->size = rp_image_frame_size(&fr->img);
	fr->data = malloc(fr->size);
	int rc = info->has_pixels ? rp_dicom_decode_frame(ds, 0, fr->data, fr->size, &err) : -1;
	rp_dicom_free(ds);
	free(data);
	return rc;
}

struct result {
	double enc_s, dec_s;   /* per frame, median, summed over frames */
	uint64_t raw, coded;
};

typedef int enc_fn(const struct frame *f, uint8_t *dst, size_t cap, size_t *len,
		   struct rp_pool *pool);
typedef int dec_fn(const struct frame *f, const uint8_t *src, size_t len, uint8_t *dst,
		   struct rp_pool *pool);

/* Our encoder and decoder keep their buffers between frames, as an rp_encoder /
 * rp_decoder object does (codec state). */
static struct rp__ht_workspace enc_ws, dec_ws;

static int
ours_enc(const struct frame *f, uint8_t *dst, size_t cap, size_t *len, struct rp_pool *pool)
{
	struct rp__ht_params p;
	struct rp_errbuf err;
	rp__htj2k_default_params(&f->img, &p);
	p.k = bench_k;
	return rp__htj2k_encode_params(&f->img, &p, f->data, f->size, dst, cap, len, pool,
				       &enc_ws, &err);
}

static int
ours_dec(const struct frame *f, const uint8_t *src, size_t len, uint8_t *dst,
	 struct rp_pool *pool)
{
	struct rp_errbuf err;
	return rp__htj2k_decode(&f->img, src, len, dst, f->size, pool, bench_k, &dec_ws, &err);
}

static int
ojph_enc(const struct frame *f, uint8_t *dst, size_t cap, size_t *len, struct rp_pool *pool)
{
	struct rp__encode_params p = { 0 };
	struct rp_errbuf err;
	p.pool = pool;
	return rp__codec_ops(RP_CODEC_HTJ2K_OJPH)->encode(&f->img, &p, f->data, f->size, dst, cap,
							   len, &err);
}

static int
ojph_dec(const struct frame *f, const uint8_t *src, size_t len, uint8_t *dst,
	 struct rp_pool *pool)
{
	struct rp_errbuf err;
	(void)pool;
	return rp__htj2k_ojph_decode_only(&f->img, src, len, dst, f->size, &err);
}

static int
opj_dec(const struct frame *f, const uint8_t *src, size_t len, uint8_t *dst,
	struct rp_pool *pool)
{
	struct rp_errbuf err;
	return rp__j2k_decode_openjpeg(&f->img, src, len, dst, f->size, pool, &err);
}

static int
run_codec(const char *name, enc_fn *enc, dec_fn *dec, const struct frame *frames, int nf,
	  int iters, struct rp_pool *pool, struct result *r, dec_fn *dec2, struct result *r2)
{
	memset(r, 0, sizeof(*r));
	if (r2)
		memset(r2, 0, sizeof(*r2));
	double (*clk)(void) = (pool || force_wall) ? now_s : tick_s;
	for (int i = 0; i < nf; i++) {
		const struct frame *f = &frames[i];
		size_t cap = rp__htj2k_bound(&f->img) * 2 + (1 << 20), len = 0;
		uint8_t *buf = malloc(cap), *back = malloc(f->size);
		double te[64], td[64], td2[64];
		for (int k = 0; k < iters; k++) {
			double t0 = clk();
			if (enc(f, buf, cap, &len, pool) != RP_OK) {
				fprintf(stderr, "%s: encode failed\n", name);
				return -1;
			}
			te[k] = clk() - t0;
			t0 = clk();
			if (dec(f, buf, len, back, pool) != RP_OK || memcmp(back, f->data, f->size)) {
				fprintf(stderr, "%s: decode failed or differs\n", name);
				return -1;
			}
			td[k] = clk() - t0;
			if (dec2) {
				t0 = clk();
				if (dec2(f, buf, len, back, pool) != RP_OK ||
				    memcmp(back, f->data, f->size)) {
					fprintf(stderr, "%s: second decoder failed or differs\n", name);
					return -1;
				}
				td2[k] = clk() - t0;
			}
		}
		r->enc_s += median(te, iters);
		r->dec_s += median(td, iters);
		r->raw += f->size;
		r->coded += len;
		if (r2) {
			r2->dec_s += median(td2, iters);
			r2->raw += f->size;
			r2->coded += len;
		}
		free(buf);
		free(back);
	}
	return 0;
}

static void
report(const char *name, const struct result *r, uint64_t pixels, int threads, int enc)
{
	double mbs_e = r->raw / 1e6 / r->enc_s, mbs_d = r->raw / 1e6 / r->dec_s;
	double cpp_e = r->enc_s * tsc_hz / pixels, cpp_d = r->dec_s * tsc_hz / pixels;
	printf("{\"bench\":\"htj2k\",\"codec\":\"%s\",\"threads\":%d,\"isa\":\"%s\","
	       "\"raw_bytes\":%llu,\"coded_bytes\":%llu,\"ratio\":%.4f,\"enc_MBps\":%.1f,"
	       "\"dec_MBps\":%.1f,\"enc_cpp\":%.2f,\"dec_cpp\":%.2f}\n",
	       name, threads, bench_k->name,
	       (unsigned long long)r->raw, (unsigned long long)r->coded,
	       (double)r->raw / r->coded, enc ? mbs_e : 0, mbs_d, enc ? cpp_e : 0, cpp_d);
	fprintf(stderr, "%-22s T=%d ratio %6.3f  enc %7.1f MB/s %6.2f c/px  dec %7.1f MB/s %6.2f c/px\n",
		name, threads, (double)r->raw / r->coded, enc ? mbs_e : 0, enc ? cpp_e : 0, mbs_d,
		cpp_d);
}

/* Where the encoder's time goes, on the first frame: the stages called one by one. */
static void
stage_profile(const struct frame *f, int iters)
{
	struct rp__ht_params p;
	rp__htj2k_default_params(&f->img, &p);
	if (p.components != 1)
		return;
	size_t npix = (size_t)p.width * p.height;
	int32_t *plane = malloc(npix * 4), *tmp = malloc(rp__dwt_tmp_count(p.width, p.height) * 4);
	int32_t *copy = malloc(npix * 4);
	struct rp__ht_enc_scratch *sc = malloc(sizeof(*sc));
	uint8_t *out = malloc(rp__ht_block_bound(64, 64));
	double t_conv[64], t_dwt[64], t_blk[64], t_idwt[64], t_dblk[64];
	struct rp__ht_band bands[1 + 3 * RP__HT_MAX_LEVELS];
	unsigned nb = rp__ht_layout(&p, bands);
	for (int k = 0; k < iters; k++) {
		double t0 = tick_s();
		rp__ht_frame_to_planes(&f->img, &p, f->data, &plane, NULL);
		t_conv[k] = tick_s() - t0;
		t0 = tick_s();
		uint32_t w = p.width, h = p.height;
		for (unsigned l = 0; l < p.levels; l++) {
			rp__dwt53_forward(plane, p.width, w, h, tmp);
			w = (w + 1) / 2;
			h = (h + 1) / 2;
		}
		t_dwt[k] = tick_s() - t0;
		memcpy(copy, plane, npix * 4);
		t0 = tick_s();
		size_t total = 0;
		for (unsigned b = 0; b < nb; b++)
			for (uint32_t y = 0; y < bands[b].h; y += 64)
				for (uint32_t x = 0; x < bands[b].w; x += 64) {
					size_t len;
					unsigned cw = bands[b].w - x < 64 ? bands[b].w - x : 64;
					unsigned ch = bands[b].h - y < 64 ? bands[b].h - y : 64;
					bench_k->encode_block(plane + (size_t)(bands[b].y0 + y) * p.width +
							    bands[b].x0 + x, p.width, cw, ch, sc, out,
							    rp__ht_block_bound(64, 64), &len);
					total += len;
				}
		t_blk[k] = tick_s() - t0;
		(void)total;
		t0 = tick_s();
		for (unsigned b = 0; b < nb; b++)
			for (uint32_t y = 0; y < bands[b].h; y += 64)
				for (uint32_t x = 0; x < bands[b].w; x += 64) {
					size_t len;
					unsigned cw = bands[b].w - x < 64 ? bands[b].w - x : 64;
					unsigned ch = bands[b].h - y < 64 ? bands[b].h - y : 64;
					int32_t *c = copy + (size_t)(bands[b].y0 + y) * p.width +
						     bands[b].x0 + x;
					bench_k->encode_block(c, p.width, cw, ch, sc, out,
							    rp__ht_block_bound(64, 64), &len);
					if (len)
						bench_k->decode_block(out, len, cw, ch, c, p.width,
								    bands[b].mb);
				}
		t_dblk[k] = tick_s() - t0 - t_blk[k];
		t0 = tick_s();
		for (int l = (int)p.levels - 1; l >= 0; l--) {
			uint32_t ww = p.width, hh = p.height;
			for (int q = 0; q < l; q++) {
				ww = (ww + 1) / 2;
				hh = (hh + 1) / 2;
			}
			rp__dwt53_inverse(plane, p.width, ww, hh, tmp);
		}
		t_idwt[k] = tick_s() - t0;
	}
	double c = tsc_hz / npix;
	fprintf(stderr, "stages (cycles/pixel, %ux%u): level shift %.2f, fwd DWT %.2f, HT encode "
		"%.2f, HT decode %.2f, inv DWT %.2f\n", p.width, p.height, median(t_conv, iters) * c,
		median(t_dwt, iters) * c, median(t_blk, iters) * c, median(t_dblk, iters) * c,
		median(t_idwt, iters) * c);
	printf("{\"bench\":\"htj2k_stages\",\"w\":%u,\"h\":%u,\"shift_cpp\":%.2f,\"fdwt_cpp\":%.2f,"
	       "\"htenc_cpp\":%.2f,\"htdec_cpp\":%.2f,\"idwt_cpp\":%.2f}\n", p.width, p.height,
	       median(t_conv, iters) * c, median(t_dwt, iters) * c, median(t_blk, iters) * c,
	       median(t_dblk, iters) * c, median(t_idwt, iters) * c);
	free(plane);
	free(tmp);
	free(copy);
	free(sc);
	free(out);
}

int
main(int argc, char **argv)
{
	int iters = 5, threads = 2, quick = 0;
	const char *only = NULL;   /* "ours" or "ojph": one codec (for perf stat counts) */
	const char *big_path = NULL;
	enum rp_isa max_isa = RP_ISA_BEST;
	int a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-n") && a + 1 < argc)
			iters = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-T") && a + 1 < argc)
			threads = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-q"))
			quick = 1;
		else if (!strcmp(argv[a], "-only") && a + 1 < argc)
			only = argv[++a];
		else if (!strcmp(argv[a], "-big") && a + 1 < argc)
			big_path = argv[++a];
		else if (!strcmp(argv[a], "-isa") && a + 1 < argc &&
			 rp_isa_from_name(argv[a + 1], &max_isa) == RP_OK)
			a++;
		else if (!strcmp(argv[a], "-clock") && a + 1 < argc) {
			const char *c = argv[++a];
			one_thread_clock = !strcmp(c, "cpu") ? CLOCK_PROCESS_CPUTIME_ID :
					   CLOCK_MONOTONIC;
		} else {
			fprintf(stderr, "usage: bench_htj2k [-n iters] [-T threads] [-q] "
				"[-only ours|ojph] [-clock wall|cpu] [-isa scalar|avx2|avx512|best] "
				"[-big large.dcm] file.dcm...\n");
			return 2;
		}
	}
	if (iters < 1 || iters > 64)
		iters = 5;
	if (a >= argc) {
		fprintf(stderr, "bench_htj2k: no input files\n");
		return 2;
	}
	bench_k = rp__htj2k_kernels_for(rp__isa_select(max_isa));
	calibrate_tsc();
	int nf = 0;
	struct frame *frames = calloc((size_t)(argc - a), sizeof(*frames));
	uint64_t pixels = 0;
	for (; a < argc; a++) {
		if (load_frame(argv[a], &frames[nf]) == RP_OK && frames[nf].img.components == 1 &&
		    frames[nf].img.bits_allocated == 16) {
			pixels += (uint64_t)frames[nf].img.width * frames[nf].img.height;
			nf++;
		}
	}
	if (!nf) {
		fprintf(stderr, "bench_htj2k: no 16-bit grayscale frames\n");
		return 1;
	}
	fprintf(stderr, "%d frames, %.2f Mpixel, TSC %.2f GHz, ISA %s\n", nf, pixels / 1e6,
		tsc_hz / 1e9, bench_k->name);
	struct result r, r2;
	char ojph_name[32];
	snprintf(ojph_name, sizeof(ojph_name), "openjph-%s", rp__htj2k_ojph_version());
	if (only) {
		int ours = !strcmp(only, "ours");
		if (run_codec(only, ours ? ours_enc : ojph_enc, ours ? ours_dec : ojph_dec, frames,
			      nf, iters, NULL, &r, NULL, NULL) < 0)
			return 1;
		report(ours ? "radpipe-htj2k" : ojph_name, &r, pixels, 1, 1);
		return 0;
	}
	if (run_codec("radpipe-htj2k", ours_enc, ours_dec, frames, nf, iters, NULL, &r, opj_dec,
		      &r2) < 0)
		return 1;
	report("radpipe-htj2k", &r, pixels, 1, 1);
	report("openjpeg-dec-of-ours", &r2, pixels, 1, 0);
	if (run_codec("openjph", ojph_enc, ojph_dec, frames, nf, iters, NULL, &r, NULL, NULL) < 0)
		return 1;
	report(ojph_name, &r, pixels, 1, 1);
	stage_profile(&frames[0], iters);

	if (!quick && threads >= 2) {
		/* One large frame with 1 and T threads (wall clock): -big's first frame (e.g.
		 * the 4664 x 3064 mammogram of the corpus), else the first frame tiled to
		 * 4096 x 3072. */
		struct frame big = { .img = frames[0].img };
		if (big_path) {
			if (load_frame(big_path, &big) != RP_OK || big.img.components != 1 ||
			    big.img.bits_allocated != 16) {
				fprintf(stderr, "bench_htj2k: %s: not a 16-bit grayscale frame\n",
					big_path);
				return 1;
			}
		} else {
			big.img.width = 4096;
			big.img.height = 3072;
			big.size = rp_image_frame_size(&big.img);
			big.data = malloc(big.size);
			const uint16_t *src16 = (const uint16_t *)(const void *)frames[0].data;
			uint16_t *dst16 = (uint16_t *)(void *)big.data;
			for (uint32_t y = 0; y < big.img.height; y++)
				for (uint32_t x = 0; x < big.img.width; x++)
					dst16[(size_t)y * big.img.width + x] =
						src16[(size_t)(y % frames[0].img.height) *
						      frames[0].img.width + x % frames[0].img.width];
		}
		char big_name[64];
		snprintf(big_name, sizeof(big_name), "radpipe-htj2k-%ux%u", big.img.width,
			 big.img.height);
		/* T threads = the caller plus a pool of T - 1 workers (rp_pool_parallel_for runs
		 * items on the calling thread too). */
		struct rp_pool *pool = NULL;
		if (rp_pool_create((unsigned)threads - 1, 0, &pool) != RP_OK)
			return 1;
		struct result r1, rt;
		uint64_t bp = (uint64_t)big.img.width * big.img.height;
		int it = iters;
		force_wall = 1;
		if (run_codec("big", ours_enc, ours_dec, &big, 1, it, NULL, &r1, NULL, NULL) < 0 ||
		    run_codec("big", ours_enc, ours_dec, &big, 1, it, pool, &rt, NULL, NULL) < 0)
			return 1;
		force_wall = 0;
		report(big_name, &r1, bp, 1, 1);
		report(big_name, &rt, bp, threads, 1);
		fprintf(stderr, "large frame: %d threads encode %.2fx, decode %.2fx of 1 thread\n",
			threads, r1.enc_s / rt.enc_s, r1.dec_s / rt.dec_s);
		rp_pool_destroy(pool);
		free(big.data);
	}
	for (int i = 0; i < nf; i++)
		free(frames[i].data);
	free(frames);
	rp__ht_ws_release(&enc_ws);
	rp__ht_ws_release(&dec_ws);
	return 0;
}
