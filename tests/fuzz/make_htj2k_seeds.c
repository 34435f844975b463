/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/make_htj2k_seeds.c OUTDIR - writes the starting inputs of fuzz_htj2k_decode:
 * small HTJ2K codestreams that our encoder (and OpenJPH's, when this build has it) makes
 * from synthetic frames, a ramp with a little noise in every sample type the decoder
 * takes.  Made at test time rather than committed, so the tree holds no image files. */
#include <radpipe/codec.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct seed {
	const char *name;
	enum rp_codec codec;
	struct rp_image_desc img;
};

#define MONO RP_PHOTOMETRIC_MONOCHROME2
static const struct seed seeds[] = {
	{"one", RP_CODEC_HTJ2K, {1, 1, 1, 8, 8, 0, MONO}},
	{"gray8_13x9", RP_CODEC_HTJ2K, {13, 9, 1, 8, 8, 0, MONO}},
	{"s16_33x80", RP_CODEC_HTJ2K, {33, 80, 1, 16, 16, 1, MONO}},
	{"rgb12_70x66", RP_CODEC_HTJ2K, {70, 66, 3, 16, 12, 0, RP_PHOTOMETRIC_RGB}},
	{"ojph_12b_40x30", RP_CODEC_HTJ2K_OJPH, {40, 30, 1, 16, 12, 0, MONO}},
};

/* Sample i of a ramp across the stored range with a few low bits of noise, as the
 * little-endian bytes of a canonical frame. */
static void
make_frame(const struct rp_image_desc *img, uint8_t *dst, size_t n)
{
	uint32_t lcg = 12345;
	unsigned bits = img->bits_stored;
	uint32_t range = 1u << bits;
	for (size_t i = 0; i < n; i++) {
		lcg = lcg * 1103515245u + 12345u;
		uint32_t v = (uint32_t)((uint64_t)i * range / n) ^ ((lcg >> 16) & 7u);
		v &= range - 1;
		if (img->is_signed && (v & (range >> 1)))
			v |= ~(range - 1);          /* sign-extend to the allocated width */
		if (img->bits_allocated == 8) {
			dst[i] = (uint8_t)v;
		} else {
			dst[2 * i] = (uint8_t)v;
			dst[2 * i + 1] = (uint8_t)(v >> 8);
		}
	}
}

static int
write_seed(const char *dir, const struct seed *s)
{
	if (!rp_codec_can_encode(s->codec))
		return 0;            /* a build without OpenJPH: our encoder's seeds only */
	size_t fs = rp_image_frame_size(&s->img);
	size_t samples = fs / (s->img.bits_allocated / 8u);
	struct rp_encoder_options eo;
	struct rp_encoder *enc = NULL;
	struct rp_errbuf err = {""};
	rp_encoder_options_init(&eo);
	eo.codec = s->codec;
	if (rp_encoder_create(&eo, &enc) != RP_OK) {
		fprintf(stderr, "make_htj2k_seeds: no %s encoder\n", rp_codec_name(s->codec));
		return -1;
	}
	size_t cap = rp_encoder_bound(enc, &s->img), n = 0;
	uint8_t *frame = malloc(fs), *out = malloc(cap);
	int st = frame && out ? 0 : -1;
	if (st == 0) {
		make_frame(&s->img, frame, samples);
		if (rp_encoder_encode(enc, &s->img, frame, fs, out, cap, &n, &err) != RP_OK) {
			fprintf(stderr, "make_htj2k_seeds: %s: %s\n", s->name, err.msg);
			st = -1;
		}
	}
	if (st == 0) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.j2c", dir, s->name);
		FILE *f = fopen(path, "wb");
		bool ok = f && fwrite(out, 1, n, f) == n;
		if (f && fclose(f) != 0)
			ok = false;
		if (!ok) {
			fprintf(stderr, "make_htj2k_seeds: cannot write %s\n", path);
			st = -1;
		}
	}
	free(frame);
	free(out);
	rp_encoder_destroy(enc);
	return st;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_htj2k_seeds OUTDIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (write_seed(argv[1], &seeds[i]) < 0)
			return 1;
	return 0;
}
