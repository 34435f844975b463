/* SPDX-License-Identifier: BSD-3-Clause */
/* bench/bench_htj2k.c - radpipe's own HTJ2K codec side by side with OpenJPH (the
 * htj2k-ojph adapter: Debian's OpenJPH, or the one under CMake's OPENJPH_ROOT; its version
 * is in the codec name) and OpenJPEG (decoding our streams), on the same
 * frames in one run: median MB/s (MB = 10^6 bytes of 16-bit pixels), cycles per pixel
 * (TSC), compression ratio; where our codec's time goes in each direction (block coding,
 * DWT with the sample conversion, the rest); and one large frame with 1 and T threads.
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
		}
		/* The second decoder in a loop of its own: run between our iterations it would
		 * evict our codec's data from the caches and slow the figures compared with
		 * OpenJPH's, whose loop runs alone. */
		for (int k = 0; dec2 && k < iters; k++) {
			double t0 = clk();
			if (dec2(f, buf, len, back, pool) != RP_OK || memcmp(back, f->data, f->size)) {
				fprintf(stderr, "%s: second decoder failed or differs\n", name);
				return -1;
			}
			td2[k] = clk() - t0;
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

/* Where the time goes, stage by stage as the codec runs them on one thread, summed over
 * the frames (each stage the median of iters): encode = 16-bit samples in + forward DWT
 * (fused, rp__dwt53_forward_levels), HT block encoding, and the rest (packet headers,
 * codestream, copies: the whole encode minus those two); decode = HT block decoding (of
 * the segments our encoder made), inverse DWT + 16-bit samples out (fused), and the rest
 * (headers, packet parsing, body gathering).  Cycles per pixel on the TSC. */
struct stage_t {
	double enc_dwt, enc_blk, enc_all, dec_blk, dec_dwt, dec_all;
};

static void
stage_profile_frame(const struct frame *f, int iters, struct stage_t *st)
{
	struct rp__ht_params p;
	rp__htj2k_default_params(&f->img, &p);
	size_t npix = (size_t)p.width * p.height;
	int32_t *plane = malloc(npix * 4), *tmp = malloc(rp__dwt_tmp_count(p.width, p.height) * 4);
	int32_t *coef = malloc(npix * 4);
	struct rp__ht_enc_scratch *sc = malloc(sizeof(*sc));
	struct rp__ht_band bands[1 + 3 * RP__HT_MAX_LEVELS];
	unsigned nb = rp__ht_layout(&p, bands);
	unsigned cw0 = 1u << p.cb_w_log2, ch0 = 1u << p.cb_h_log2;
	size_t bound = rp__ht_block_bound(cw0, ch0), nblk = 0;
	for (unsigned b = 0; b < nb; b++)
		nblk += (size_t)((bands[b].w + cw0 - 1) / cw0) * ((bands[b].h + ch0 - 1) / ch0);
	/* The segments back to back, as in a codestream. */
	uint8_t *segs = malloc(nblk * bound);
	size_t *lens = malloc(nblk * sizeof(*lens)), *offs = malloc(nblk * sizeof(*offs));
	size_t cap = rp__htj2k_bound(&f->img) * 2 + (1 << 20), len = 0;
	uint8_t *cs = malloc(cap), *back = malloc(f->size);
	const struct rp__dwt_kernels *k = bench_k->dwt;
	struct rp__dwt_in16 in = {
		.src = f->data, .src_stride = 2 * (size_t)p.width, .is_signed = p.is_signed,
		.shift = p.is_signed ? 0 : (int32_t)1 << (p.depth - 1),
	};
	struct rp__dwt_out16 out = {
		.dst = back, .dst_stride = 2 * (size_t)p.width,
		.shift = p.is_signed ? 0 : (int32_t)1 << (p.depth - 1),
		.lo = p.is_signed ? -((int32_t)1 << (p.depth - 1)) : 0,
		.hi = p.is_signed ? ((int32_t)1 << (p.depth - 1)) - 1
				  : (int32_t)((1u << p.depth) - 1),
	};
	double t[6][64];
	for (int it = 0; it < iters; it++) {
		double t0 = tick_s();
		rp__dwt53_forward_levels(k, plane, p.width, p.width, p.height, p.levels, tmp, NULL,
					 &in);
		t[0][it] = tick_s() - t0;
		memcpy(coef, plane, npix * 4);
		t0 = tick_s();
		size_t i = 0, o = 0;
		for (unsigned b = 0; b < nb; b++)
			for (uint32_t y = 0; y < bands[b].h; y += ch0)
				for (uint32_t x = 0; x < bands[b].w; x += cw0, i++) {
					unsigned cw = bands[b].w - x < cw0 ? bands[b].w - x : cw0;
					unsigned ch = bands[b].h - y < ch0 ? bands[b].h - y : ch0;
					bench_k->encode_block(plane + (size_t)(bands[b].y0 + y) * p.width +
							    bands[b].x0 + x, p.width, cw, ch, sc,
							    segs + o, bound, &lens[i]);
					offs[i] = o;
					o += lens[i];
				}
		t[1][it] = tick_s() - t0;
		t0 = tick_s();
		i = 0;
		for (unsigned b = 0; b < nb; b++)
			for (uint32_t y = 0; y < bands[b].h; y += ch0)
				for (uint32_t x = 0; x < bands[b].w; x += cw0, i++) {
					unsigned cw = bands[b].w - x < cw0 ? bands[b].w - x : cw0;
					unsigned ch = bands[b].h - y < ch0 ? bands[b].h - y : ch0;
					int32_t *c = plane + (size_t)(bands[b].y0 + y) * p.width +
						     bands[b].x0 + x;
					if (lens[i])
						bench_k->decode_block(segs + offs[i], lens[i], cw, ch, c,
								    p.width, bands[b].mb);
				}
		t[3][it] = tick_s() - t0;
		if (memcmp(plane, coef, npix * 4))
			fprintf(stderr, "stages: block decode differs\n");
		t0 = tick_s();
		rp__dwt53_inverse_levels(k, plane, p.width, p.width, p.height, p.levels, tmp, NULL,
					 &out);
		t[4][it] = tick_s() - t0;
		t0 = tick_s();
		ours_enc(f, cs, cap, &len, NULL);
		t[2][it] = tick_s() - t0;
		t0 = tick_s();
		ours_dec(f, cs, len, back, NULL);
		t[5][it] = tick_s() - t0;
	}
	st->enc_dwt += median(t[0], iters);
	st->enc_blk += median(t[1], iters);
	st->enc_all += median(t[2], iters);
	st->dec_blk += median(t[3], iters);
	st->dec_dwt += median(t[4], iters);
	st->dec_all += median(t[5], iters);
	free(plane);
	free(tmp);
	free(coef);
	free(sc);
	free(segs);
	free(lens);
	free(offs);
	free(cs);
	free(back);
}

static void
stage_profile(const struct frame *frames, int nf, uint64_t pixels, int iters)
{
	struct stage_t st = { 0 };
	for (int i = 0; i < nf; i++) {
		struct rp__ht_params p;
		rp__htj2k_default_params(&frames[i].img, &p);
		if (p.components != 1 || p.levels < 1 || p.height < 2)
			return;
		stage_profile_frame(&frames[i], iters, &st);
	}
	double c = tsc_hz / (double)pixels;
	double eo = st.enc_all - st.enc_dwt - st.enc_blk, d_o = st.dec_all - st.dec_blk - st.dec_dwt;
	fprintf(stderr, "stages (cycles/pixel, 1 thread): encode %.2f = 16-bit in + fwd DWT %.2f "
		"+ HT block encode %.2f + other %.2f; decode %.2f = HT block decode %.2f + inv DWT "
		"+ 16-bit out %.2f + other %.2f\n", st.enc_all * c, st.enc_dwt * c, st.enc_blk * c,
		eo * c, st.dec_all * c, st.dec_blk * c, st.dec_dwt * c, d_o * c);
	printf("{\"bench\":\"htj2k_stages\",\"enc_cpp\":%.2f,\"fdwt_in16_cpp\":%.2f,"
	       "\"htenc_cpp\":%.2f,\"enc_other_cpp\":%.2f,\"dec_cpp\":%.2f,\"htdec_cpp\":%.2f,"
	       "\"idwt_out16_cpp\":%.2f,\"dec_other_cpp\":%.2f}\n", st.enc_all * c, st.enc_dwt * c,
	       st.enc_blk * c, eo * c, st.dec_all * c, st.dec_blk * c, st.dec_dwt * c, d_o * c);
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
	stage_profile(frames, nf, pixels, iters);

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
