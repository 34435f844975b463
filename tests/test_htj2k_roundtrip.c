/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_htj2k_roundtrip.c - radpipe's own HTJ2K codec on synthetic images: the VLC
 * tables' structure; every image (1x1 .. odd sizes, 1..16-bit, signed and unsigned, 1 and
 * 3 components, noise / gradient / constant / extremes) encoded by us must decode
 * bit-exact in our decoder, in OpenJPEG (in process) and in OpenJPH (in process, and
 * `ojph_expand` / `opj_decompress` on a few files); OpenJPH's own codestreams must decode
 * bit-exact in ours; the encoded bytes must not depend on the thread count. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <radpipe/pool.h>

#include "codec/codec_impl.h"
#include "codec/htj2k/htj2k_cs.h"
#include "codec/j2k_internal.h"
#include "simd/cpu.h"

/* The kernels of the best level this CPU runs (lowered in the forced runs). */
#define BEST_K rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST))

static void
test_vlc_tables(void **state)
{
	(void)state;
	assert_int_equal(rp__ht_tables_selfcheck(), 0);
}

static const uint32_t sizes[][2] = {
	{ 1, 1 }, { 1, 9 }, { 9, 1 }, { 2, 2 }, { 3, 5 }, { 17, 33 }, { 64, 64 }, { 65, 63 },
	{ 100, 37 }, { 129, 200 }, { 300, 7 },
};

static void
check_one(const struct rp_image_desc *img, int kind, uint32_t seed, unsigned *cross)
{
	const struct rp__codec_ops *ours = rp__codec_ops(RP_CODEC_HTJ2K);
	struct rp__encode_params p = { 0 };
	struct rp_errbuf err = { { 0 } };
	size_t fs = rp_image_frame_size(img);
	uint8_t *frame = rp_test_make_frame(img, kind, seed);
	uint8_t *back = malloc(fs);
	size_t cap = ours->bound(img, &p), es = 0;
	uint8_t *enc = malloc(cap);
	assert_non_null(frame);
	assert_non_null(back);
	assert_non_null(enc);
	if (img->components == 3 && (seed & 1)) {
		/* Half the colour images with the reversible colour transform. */
		struct rp__ht_params hp;
		rp__htj2k_default_params(img, &hp);
		hp.rct = 1;
		RP_ASSERT_OK(rp__htj2k_encode_params(img, &hp, frame, fs, enc, cap, &es, NULL, NULL, &err),
			     &err);
	} else {
		RP_ASSERT_OK(ours->encode(img, &p, frame, fs, enc, cap, &es, &err), &err);
	}

	memset(back, 0x5A, fs);
	RP_ASSERT_OK(ours->decode(img, enc, es, back, fs, NULL, &err), &err);
	if (memcmp(frame, back, fs) != 0)
		fail_msg("ours: %ux%u c%u %u-bit %s kind %d does not round-trip", img->width,
			 img->height, img->components, img->bits_stored,
			 img->is_signed ? "signed" : "unsigned", kind);

	memset(back, 0x5A, fs);
	RP_ASSERT_OK(rp__j2k_decode_openjpeg(img, enc, es, back, fs, NULL, &err), &err);
	if (memcmp(frame, back, fs) != 0)
		fail_msg("OpenJPEG: %ux%u c%u %u-bit %s kind %d differs", img->width, img->height,
			 img->components, img->bits_stored, img->is_signed ? "signed" : "unsigned",
			 kind);

	memset(back, 0x5A, fs);
	int rc = rp__htj2k_ojph_decode_only(img, enc, es, back, fs, &err);
	RP_ASSERT_OK(rc, &err);
	if (memcmp(frame, back, fs) != 0)
		fail_msg("OpenJPH: %ux%u c%u %u-bit %s kind %d differs", img->width, img->height,
			 img->components, img->bits_stored, img->is_signed ? "signed" : "unsigned",
			 kind);
	(*cross)++;
	free(frame);
	free(back);
	free(enc);
}

static void
test_synthetic_cross_decoders(void **state)
{
	(void)state;
	static const uint16_t bits[] = { 1, 7, 8, 10, 12, 15, 16 };
	unsigned n = 0;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
			for (int sg = 0; sg < 2; sg++)
				for (uint16_t comps = 1; comps <= 3; comps += 2)
					for (int kind = 0; kind < 4; kind++) {
						struct rp_image_desc img = {
							.width = sizes[s][0],
							.height = sizes[s][1],
							.components = comps,
							.bits_allocated = bits[b] > 8 ? 16 : 8,
							.bits_stored = bits[b],
							.is_signed = (uint8_t)sg,
							.photometric = comps == 3 ? RP_PHOTOMETRIC_RGB :
								       RP_PHOTOMETRIC_MONOCHROME2,
						};
						/* 1-bit signed has no room for a sign and a value. */
						if (bits[b] == 1 && sg)
							continue;
						check_one(&img, kind, (uint32_t)(s * 131 + b * 7 + kind), &n);
					}
	printf("%u synthetic images decoded bit-exact by radpipe, OpenJPEG and OpenJPH\n", n);
	assert_true(n > 500);
}

/* A larger frame, encoded with 1 and 2 threads (and non-default code-block sizes and
 * levels through the parameter entry): identical bytes, and decodable with a pool. */
static void
test_threads_identical(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 700, .height = 523, .components = 1,
				     .bits_allocated = 16, .bits_stored = 12,
				     .photometric = RP_PHOTOMETRIC_MONOCHROME2 };
	struct rp_pool *pool = NULL;
	struct rp_errbuf err = { { 0 } };
	size_t fs = rp_image_frame_size(&img);
	uint8_t *frame = rp_test_make_frame(&img, 1, 99);
	size_t cap = rp__htj2k_bound(&img), a = 0, b = 0;
	uint8_t *e1 = malloc(cap), *e2 = malloc(cap), *back = malloc(fs);
	RP_ASSERT_OK(rp_pool_create(2, 0, &pool), &err);
	for (unsigned cb = 4; cb <= 6; cb++) {
		struct rp__ht_params p;
		rp__htj2k_default_params(&img, &p);
		p.cb_w_log2 = cb;
		p.cb_h_log2 = 10 - cb < 6 ? 10 - cb : 6;
		p.levels = cb;
		RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, e1, cap, &a, NULL, NULL, &err),
			     &err);
		RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, e2, cap, &b, pool, NULL, &err),
			     &err);
		assert_int_equal(a, b);
		assert_memory_equal(e1, e2, a);
		RP_ASSERT_OK(rp__htj2k_decode(&img, e1, a, back, fs, pool, BEST_K, NULL, &err), &err);
		assert_memory_equal(frame, back, fs);
		RP_ASSERT_OK(rp__j2k_decode_openjpeg(&img, e1, a, back, fs, NULL, &err), &err);
		assert_memory_equal(frame, back, fs);
	}
	rp_pool_destroy(pool);
	free(frame);
	free(e1);
	free(e2);
	free(back);
}

/* One workspace (what an encoder or decoder object keeps) serves frames of different
 * sizes, shapes and component counts in any order, with its buffers poisoned between
 * calls: the bytes and pixels equal those of calls without one.  Catches a plane, job
 * record or scratch that a call reads before writing. */
static void
test_workspace_reuse(void **state)
{
	(void)state;
	static const struct { uint32_t w, h; unsigned comps, bits; } shapes[] = {
		{ 700, 523, 1, 12 }, { 64, 64, 1, 16 }, { 1, 37, 1, 8 }, { 333, 97, 3, 8 },
		{ 1024, 300, 1, 16 }, { 17, 5, 3, 16 }, { 700, 523, 1, 12 },
	};
	struct rp__ht_workspace ws = { 0 };
	struct rp_pool *pool = NULL;
	struct rp_errbuf err = { { 0 } };
	RP_ASSERT_OK(rp_pool_create(2, 0, &pool), &err);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct rp_image_desc img = {
			.width = shapes[i].w, .height = shapes[i].h, .components = shapes[i].comps,
			.bits_allocated = shapes[i].bits > 8 ? 16 : 8, .bits_stored = shapes[i].bits,
			.is_signed = (uint8_t)(i & 1),
			.photometric = shapes[i].comps == 3 ? RP_PHOTOMETRIC_RGB :
							      RP_PHOTOMETRIC_MONOCHROME2,
		};
		size_t fs = rp_image_frame_size(&img), cap = rp__htj2k_bound(&img), a = 0, b = 0;
		uint8_t *frame = rp_test_make_frame(&img, (int)(i % 4), (uint32_t)(7 + i));
		uint8_t *e1 = malloc(cap), *e2 = malloc(cap), *back = malloc(fs);
		assert_non_null(e1);
		assert_non_null(e2);
		assert_non_null(back);
		struct rp__ht_params p;
		rp__htj2k_default_params(&img, &p);
		RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, e1, cap, &a, NULL, NULL,
						     &err), &err);
		for (unsigned k = 0; k < RP__HT_WS_SLOTS; k++)
			if (ws.buf[k])
				memset(ws.buf[k], 0xA5, ws.cap[k]);
		RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, e2, cap, &b,
						     (i & 2) ? pool : NULL, &ws, &err), &err);
		assert_int_equal(a, b);
		assert_memory_equal(e1, e2, a);
		for (unsigned k = 0; k < RP__HT_WS_SLOTS; k++)
			if (ws.buf[k])
				memset(ws.buf[k], 0x5A, ws.cap[k]);
		RP_ASSERT_OK(rp__htj2k_decode(&img, e1, a, back, fs, (i & 1) ? pool : NULL, BEST_K,
					      &ws, &err), &err);
		assert_memory_equal(frame, back, fs);
		free(frame);
		free(e1);
		free(e2);
		free(back);
	}
	rp__ht_ws_release(&ws);
	rp_pool_destroy(pool);
}

/* The DWT kernels of the selected ISA level (AVX-512, or AVX2 / scalar in the forced runs
 * of tests/simd.cmake) give the scalar build's integers, at odd sizes, and the inverse
 * restores the input; the encoder's bytes and the decoder's pixels do not depend on the
 * ISA either. */
static void
test_dwt_isa_identical(void **state)
{
	(void)state;
	static const unsigned dims[][2] = { { 1, 1 }, { 2, 3 }, { 7, 5 }, { 33, 17 },
					    { 64, 64 }, { 131, 257 }, { 1031, 77 }, { 90, 1201 } };
	const struct rp__htj2k_kernels *scalar = rp__htj2k_kernels_for(RP_ISA_SCALAR);
	const struct rp__htj2k_kernels *best = rp__htj2k_kernels_for(rp__isa_select(RP_ISA_BEST));
	assert_int_equal(best->isa, rp__isa_select(RP_ISA_BEST));
	const struct rp__dwt_kernels *ks[2] = { scalar->dwt, best->dwt };
	struct rp_pool *pool = NULL;
	assert_int_equal(rp_pool_create(2, 0, &pool), RP_OK);
	printf("DWT kernels: %s vs %s\n", ks[0]->name, ks[1]->name);
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
		unsigned w = dims[d][0], h = dims[d][1];
		size_t n = (size_t)w * h;
		int32_t *a = malloc(n * 4), *b = malloc(n * 4), *o = malloc(n * 4);
		int32_t *c = malloc(n * 4);
		int32_t *tmp = malloc(rp__dwt_tmp_count(w, h) * 4);
		uint32_t x = 7;
		for (size_t i = 0; i < n; i++) {
			x = x * 1664525u + 1013904223u;
			o[i] = (int32_t)(x >> 12) - (1 << 19);
		}
		memcpy(a, o, n * 4);
		memcpy(b, o, n * 4);
		memcpy(c, o, n * 4);
		rp__dwt53_forward_levels(ks[0], a, w, w, h, 4, tmp, NULL, NULL);
		rp__dwt53_forward_levels(ks[1], b, w, w, h, 4, tmp, NULL, NULL);
		/* With a pool the levels are cut into strips: same integers. */
		rp__dwt53_forward_levels(ks[1], c, w, w, h, 4, tmp, pool, NULL);
		assert_memory_equal(a, b, n * 4);
		assert_memory_equal(a, c, n * 4);
		rp__dwt53_inverse_levels(ks[1], b, w, w, h, 4, tmp, NULL, NULL);
		rp__dwt53_inverse_levels(ks[0], c, w, w, h, 4, tmp, pool, NULL);
		assert_memory_equal(o, b, n * 4);
		assert_memory_equal(o, c, n * 4);
		/* The first level fused with the 16-bit input (whole rows: the horizontal
		 * pass in the kernel too; with a pool, strips): the integers of converting
		 * first, whatever the split and the kernels. */
		if (h >= 2) {
			uint16_t *src = malloc(n * 2);
			int32_t *want = malloc(n * 4), *got = malloc(n * 4);
			for (size_t i = 0; i < n; i++) {
				src[i] = (uint16_t)o[i];
				want[i] = (int32_t)src[i] - (1 << 15);
			}
			rp__dwt53_forward_levels(ks[0], want, w, w, h, 4, tmp, NULL, NULL);
			for (int run = 0; run < 3; run++) {
				struct rp__dwt_in16 in = { .src = (const uint8_t *)src,
							   .src_stride = 2 * (size_t)w,
							   .shift = 1 << 15 };
				rp__dwt53_forward_levels(ks[run == 2 ? 0 : 1], got, w, w, h, 4, tmp,
							 run == 1 ? pool : NULL, &in);
				assert_memory_equal(got, want, n * 4);
			}
			free(src);
			free(want);
			free(got);
		}
		/* The last level fused with the 16-bit output (with one strip of whole rows
		 * it does the horizontal pass too; with a pool, strips): the clamped samples
		 * of the unfused inverse, whatever the split and the kernels. */
		if (h >= 2) {
			uint16_t *s1 = malloc(n * 2), *s2 = malloc(n * 2), *s3 = malloc(n * 2);
			for (int run = 0; run < 3; run++) {
				memcpy(b, a, n * 4);
				struct rp__dwt_out16 out = { .dst = (uint8_t *)(run == 0 ? s1 :
										   run == 1 ? s2 : s3),
							     .dst_stride = 2 * (size_t)w,
							     .shift = 1 << 15, .lo = 0, .hi = 65535 };
				rp__dwt53_inverse_levels(ks[run == 2 ? 0 : 1], b, w, w, h, 4, tmp,
							 run == 1 ? pool : NULL, &out);
			}
			for (size_t i = 0; i < n; i++) {
				int32_t v = o[i] + (1 << 15);
				uint16_t want = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
				if (s1[i] != want || s2[i] != want || s3[i] != want)
					fail_msg("%ux%u: fused 16-bit output at %zu: %u / %u / %u, "
						 "want %u", w, h, i, s1[i], s2[i], s3[i], want);
			}
			free(s1);
			free(s2);
			free(s3);
		}
		free(c);
		free(a);
		free(b);
		free(o);
		free(tmp);
	}
	rp_pool_destroy(pool);
	struct rp_image_desc img = { .width = 301, .height = 211, .components = 3,
				     .bits_allocated = 16, .bits_stored = 16,
				     .photometric = RP_PHOTOMETRIC_RGB };
	struct rp_errbuf err = { { 0 } };
	size_t fs = rp_image_frame_size(&img), cap = rp__htj2k_bound(&img), la = 0, lb = 0;
	uint8_t *frame = rp_test_make_frame(&img, 0, 11), *ea = malloc(cap), *eb = malloc(cap);
	struct rp__ht_params p;
	rp__htj2k_default_params(&img, &p);
	p.rct = 1;
	assert_ptr_equal(p.k, best);     /* the default: the best level the CPU runs */
	p.k = scalar;
	RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, ea, cap, &la, NULL, NULL, &err), &err);
	p.k = best;
	RP_ASSERT_OK(rp__htj2k_encode_params(&img, &p, frame, fs, eb, cap, &lb, NULL, NULL, &err), &err);
	assert_int_equal(la, lb);
	assert_memory_equal(ea, eb, la);
	uint8_t *da = malloc(fs), *db = malloc(fs);
	RP_ASSERT_OK(rp__htj2k_decode(&img, ea, la, da, fs, NULL, scalar, NULL, &err), &err);
	RP_ASSERT_OK(rp__htj2k_decode(&img, ea, la, db, fs, NULL, best, NULL, &err), &err);
	assert_memory_equal(da, frame, fs);
	assert_memory_equal(db, frame, fs);
	free(da);
	free(db);
	free(frame);
	free(ea);
	free(eb);
}

/* OpenJPH's encoder (the htj2k-ojph adapter) -> our decoder. */
static void
test_decode_openjph_streams(void **state)
{
	(void)state;
	const struct rp__codec_ops *ojph = rp__codec_ops(RP_CODEC_HTJ2K_OJPH);
	unsigned n = 0;
	assert_non_null(ojph);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (uint16_t bits = 8; bits <= 16; bits += 4)
			for (int sg = 0; sg < 2; sg++) {
				struct rp_image_desc img = {
					.width = sizes[s][0], .height = sizes[s][1],
					.components = 1, .bits_allocated = bits > 8 ? 16 : 8,
					.bits_stored = bits, .is_signed = (uint8_t)sg,
					.photometric = RP_PHOTOMETRIC_MONOCHROME2 };
				struct rp__encode_params p = { 0 };
				struct rp_errbuf err = { { 0 } };
				if (ojph->check(&img, &p, &err) != RP_OK)
					continue;
				size_t fs = rp_image_frame_size(&img), cap = ojph->bound(&img, &p), es;
				uint8_t *frame = rp_test_make_frame(&img, 0, (uint32_t)s);
				uint8_t *enc = malloc(cap), *back = malloc(fs);
				RP_ASSERT_OK(ojph->encode(&img, &p, frame, fs, enc, cap, &es, &err), &err);
				/* The adapter may wrap the codestream; find SOC. */
				size_t off = 0;
				while (off + 1 < es && !(enc[off] == 0xFF && enc[off + 1] == 0x4F))
					off++;
				RP_ASSERT_OK(rp__htj2k_decode(&img, enc + off, es - off, back, fs, NULL, BEST_K, NULL,
							      &err), &err);
				if (memcmp(frame, back, fs) != 0)
					fail_msg("OpenJPH stream %ux%u %u-bit %s: our decode differs",
						 img.width, img.height, bits, sg ? "signed" : "unsigned");
				n++;
				free(frame);
				free(enc);
				free(back);
			}
	printf("%u OpenJPH codestreams decoded bit-exact by radpipe\n", n);
	assert_true(n >= 20);
}

static int
run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The command-line decoders themselves, on a 16-bit and an 8-bit RGB image. */
static void
test_cli_decoders(void **state)
{
	(void)state;
	char dir[512], path[700], out[700], cmd[2000];
	rp_test_tmpdir(dir, sizeof(dir));
	struct rp_image_desc imgs[2] = {
		{ .width = 131, .height = 77, .components = 1, .bits_allocated = 16,
		  .bits_stored = 16, .photometric = RP_PHOTOMETRIC_MONOCHROME2 },
		{ .width = 65, .height = 40, .components = 3, .bits_allocated = 8,
		  .bits_stored = 8, .photometric = RP_PHOTOMETRIC_RGB },
	};
	for (int i = 0; i < 2; i++) {
		const struct rp_image_desc *img = &imgs[i];
		const struct rp__codec_ops *ours = rp__codec_ops(RP_CODEC_HTJ2K);
		struct rp__encode_params p = { 0 };
		struct rp_errbuf err = { { 0 } };
		size_t fs = rp_image_frame_size(img), cap = ours->bound(img, &p), es = 0;
		uint8_t *frame = rp_test_make_frame(img, 0, 5), *enc = malloc(cap);
		RP_ASSERT_OK(ours->encode(img, &p, frame, fs, enc, cap, &es, &err), &err);
		snprintf(path, sizeof(path), "%s/t%d.j2c", dir, i);
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(enc, 1, es, f), es);
		fclose(f);

		/* ojph_expand: PGM/PPM, big-endian 16-bit samples. */
		snprintf(out, sizeof(out), "%s/t%d.%s", dir, i, img->components == 3 ? "ppm" : "pgm");
		snprintf(cmd, sizeof(cmd), "ojph_expand -i '%s' -o '%s' >/dev/null 2>&1", path, out);
		if (run(cmd) != 0)
			fail_msg("ojph_expand failed on %s", path);
		size_t sz = 0;
		uint8_t *pnm = rp_test_read_file(out, &sz);
		assert_non_null(pnm);
		size_t bps = img->bits_allocated / 8, body = fs;
		assert_true(sz >= body);
		const uint8_t *px = pnm + sz - body;
		for (size_t k = 0; k < fs / bps; k++) {
			uint32_t a = bps == 1 ? frame[k] : rp__load_le16(frame + 2 * k);
			uint32_t b = bps == 1 ? px[k] : rp__load_be16(px + 2 * k);
			if (a != b)
				fail_msg("ojph_expand: sample %zu is %u, expected %u", k, b, a);
		}
		free(pnm);

		/* opj_decompress: planar little-endian raw. */
		snprintf(out, sizeof(out), "%s/t%d.rawl", dir, i);
		snprintf(cmd, sizeof(cmd), "opj_decompress -i '%s' -o '%s' >/dev/null 2>&1", path,
			 out);
		if (run(cmd) != 0)
			fail_msg("opj_decompress failed on %s", path);
		uint8_t *raw = rp_test_read_file(out, &sz);
		assert_non_null(raw);
		assert_int_equal(sz, fs);
		size_t npix = (size_t)img->width * img->height;
		for (size_t k = 0; k < fs / bps; k++) {
			size_t c = k % img->components, pix = k / img->components;
			size_t q = c * npix + pix;
			uint32_t a = bps == 1 ? frame[k] : rp__load_le16(frame + 2 * k);
			uint32_t b = bps == 1 ? raw[q] : rp__load_le16(raw + 2 * q);
			if (a != b)
				fail_msg("opj_decompress: sample %zu is %u, expected %u", k, b, a);
		}
		free(raw);
		free(frame);
		free(enc);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)run(cmd);
}

/* `ojph_compress` with the options a DICOM sender may use (progressions, precincts,
 * code-block sizes, levels) -> our decoder, bit-exact; PCRL with several precincts is
 * outside our profile and must be refused as unsupported. */
static void
test_ojph_cli_variants(void **state)
{
	(void)state;
	static const char *const opts[] = {
		"", "-prog_order RPCL", "-prog_order PCRL", "-prog_order CPRL",
		"-block_size {32,32}", "-block_size {16,64}", "-num_decomps 0", "-num_decomps 8",
		"-precincts {64,64}", "-prog_order RPCL -precincts {128,128},{64,64}",
		"-prog_order RLCP -precincts {32,32}",
		"-prog_order LRCP -precincts {256,256},{128,128},{64,64} -block_size {32,32}",
		"-prog_order RPCL -precincts {16,16}",
		"-num_decomps 3 -prog_order RPCL -precincts {128,32}",
	};
	char dir[512], in[700], out[700], cmd[2000];
	rp_test_tmpdir(dir, sizeof(dir));
	struct rp_image_desc imgs[2] = {
		{ .width = 517, .height = 389, .components = 1, .bits_allocated = 16,
		  .bits_stored = 12, .photometric = RP_PHOTOMETRIC_MONOCHROME2 },
		{ .width = 131, .height = 97, .components = 3, .bits_allocated = 8,
		  .bits_stored = 8, .photometric = RP_PHOTOMETRIC_RGB },
	};
	unsigned n = 0;
	for (int i = 0; i < 2; i++) {
		const struct rp_image_desc *img = &imgs[i];
		size_t fs = rp_image_frame_size(img), bps = img->bits_allocated / 8;
		uint8_t *frame = rp_test_make_frame(img, i == 0 ? 1 : 0, 21), *back = malloc(fs);
		snprintf(in, sizeof(in), "%s/in.%s", dir, img->components == 3 ? "ppm" : "pgm");
		FILE *f = fopen(in, "wb");
		assert_non_null(f);
		fprintf(f, "P%c\n%u %u\n%u\n", img->components == 3 ? '6' : '5', img->width,
			img->height, (1u << img->bits_stored) - 1);
		for (size_t k = 0; k < fs / bps; k++) {
			uint32_t v = bps == 1 ? frame[k] : rp__load_le16(frame + 2 * k);
			if (bps == 2)
				fputc((int)(v >> 8), f);
			fputc((int)(v & 0xFF), f);
		}
		fclose(f);
		for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
			snprintf(out, sizeof(out), "%s/o.j2c", dir);
			snprintf(cmd, sizeof(cmd),
				 "ojph_compress -i '%s' -o '%s' -reversible true %s >/dev/null 2>&1",
				 in, out, opts[o]);
			if (run(cmd) != 0)
				fail_msg("ojph_compress failed with '%s'", opts[o]);
			size_t sz = 0;
			uint8_t *cs = rp_test_read_file(out, &sz);
			struct rp_errbuf err = { { 0 } };
			assert_non_null(cs);
			int rc = rp__htj2k_decode(img, cs, sz, back, fs, NULL, BEST_K, NULL, &err);
			if (strstr(opts[o], "PCRL") && strstr(opts[o], "precincts")) {
				assert_int_equal(rc, RP_E_UNSUPPORTED);
			} else {
				if (rc != RP_OK)
					fail_msg("ojph_compress %s: %s", opts[o], err.msg);
				if (memcmp(frame, back, fs) != 0)
					fail_msg("ojph_compress %s: our decode differs", opts[o]);
				n++;
			}
			free(cs);
		}
		free(frame);
		free(back);
	}
	printf("%u ojph_compress codestreams (progressions, precincts, block sizes) decoded "
	       "bit-exact\n", n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)run(cmd);
}

/* Damaged streams: truncations and bit flips of a valid one must give an error or a
 * frame, never a crash (ASan/UBSan builds check the "never read outside" part). */
static void
test_damaged_streams(void **state)
{
	(void)state;
	struct rp_image_desc img = { .width = 97, .height = 61, .components = 3,
				     .bits_allocated = 16, .bits_stored = 12,
				     .photometric = RP_PHOTOMETRIC_RGB };
	const struct rp__codec_ops *ours = rp__codec_ops(RP_CODEC_HTJ2K);
	struct rp__encode_params p = { 0 };
	struct rp_errbuf err = { { 0 } };
	size_t fs = rp_image_frame_size(&img), cap = ours->bound(&img, &p), es = 0;
	uint8_t *frame = rp_test_make_frame(&img, 0, 3), *enc = malloc(cap), *back = malloc(fs);
	RP_ASSERT_OK(ours->encode(&img, &p, frame, fs, enc, cap, &es, &err), &err);
	unsigned errors = 0;
	for (size_t cut = 0; cut < es; cut += 1 + cut / 8) {
		uint8_t *t = malloc(cut ? cut : 1);
		memcpy(t, enc, cut);
		if (ours->decode(&img, t, cut, back, fs, NULL, &err) != RP_OK)
			errors++;
		free(t);
	}
	uint32_t x = 12345;
	for (int i = 0; i < 2000; i++) {
		uint8_t *t = malloc(es);
		memcpy(t, enc, es);
		for (int k = 0; k < 1 + i % 4; k++) {
			x = x * 1103515245u + 12345u;
			t[(x >> 8) % es] ^= (uint8_t)(1u << ((x >> 4) & 7));
		}
		(void)ours->decode(&img, t, es, back, fs, NULL, &err);
		free(t);
	}
	assert_true(errors > 0);
	free(frame);
	free(enc);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vlc_tables),
		cmocka_unit_test(test_synthetic_cross_decoders),
		cmocka_unit_test(test_threads_identical),
		cmocka_unit_test(test_workspace_reuse),
		cmocka_unit_test(test_dwt_isa_identical),
		cmocka_unit_test(test_decode_openjph_streams),
		cmocka_unit_test(test_cli_decoders),
		cmocka_unit_test(test_ojph_cli_variants),
		cmocka_unit_test(test_damaged_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
