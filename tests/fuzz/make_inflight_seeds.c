/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/make_inflight_seeds.c OUTDIR - writes the starting inputs of fuzz_inflight:
 * in-flight objects (FORMAT.md section 5) that unpack, one verbatim and one framed per
 * codec this build encodes, their frames coded by our encoders from a synthetic ramp and
 * their pixel hash right, so the fuzzer starts from objects that reach every decoder and
 * the hash check.  Made at test time rather than committed: the tree holds no image. */
#include "pipeline/inflight.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const uint8_t prefix[] = "DICM-like bytes before the pixel data value";
static const uint8_t suffix[] = "and after it";

static int
write_file(const char *dir, const char *name, const struct rp__wbuf *hdr,
	   const uint8_t *const *part, const size_t *len, int nparts)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(hdr->p, 1, hdr->len, f) == hdr->len;
	for (int i = 0; i < nparts; i++)
		ok = ok && fwrite(part[i], 1, len[i], f) == len[i];
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Two frames of a 16 x 12 ramp with a little noise, 12 bits stored in 16. */
static int
framed_seed(const char *dir, enum rp_codec codec)
{
	const struct rp_image_desc img = {16, 12, 1, 16, 12, 0, RP_PHOTOMETRIC_MONOCHROME2};
	enum { FRAMES = 2 };
	size_t fs = rp_image_frame_size(&img);
	uint8_t pix[FRAMES * 16 * 12 * 2];
	uint32_t lcg = 7;
	for (size_t i = 0; i < sizeof(pix) / 2; i++) {
		lcg = lcg * 1103515245u + 12345u;
		uint32_t v = ((uint32_t)(i * 4096 / (sizeof(pix) / 2)) ^ ((lcg >> 16) & 7u)) & 4095u;
		pix[2 * i] = (uint8_t)v;
		pix[2 * i + 1] = (uint8_t)(v >> 8);
	}
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = codec;
	struct rp_encoder *enc = NULL;
	if (rp_encoder_create(&eo, &enc) != RP_OK)
		return -1;
	size_t bound = rp_encoder_bound(enc, &img);
	uint8_t *coded = malloc(FRAMES * bound);
	uint32_t lens[FRAMES];
	size_t used = 0;
	int st = coded ? 0 : -1;
	for (int i = 0; st == 0 && i < FRAMES; i++) {
		size_t n = 0;
		st = rp_encoder_encode(enc, &img, pix + i * fs, fs, coded + used,
				       FRAMES * bound - used, &n, NULL) == RP_OK ? 0 : -1;
		lens[i] = (uint32_t)n;
		used += n;
	}
	rp_encoder_destroy(enc);
	struct rp__objhdr h = {.index = 0, .kind = RP__OBJ_FRAMED, .codec = (uint8_t)codec,
			       .frame_count = FRAMES, .prefix_len = sizeof(prefix),
			       .suffix_len = sizeof(suffix), .img = img, .frame_len = lens};
	h.orig_size = sizeof(prefix) + sizeof(pix) + sizeof(suffix);
	h.body_len = sizeof(prefix) + used + sizeof(suffix);
	struct rp__wbuf b = {0};
	if (st == 0 && rp__sha256(pix, sizeof(pix), h.pixel_hash) == RP_OK) {
		rp__objhdr_encode(&b, &h);
		const uint8_t *part[] = {prefix, coded, suffix};
		const size_t len[] = {sizeof(prefix), used, sizeof(suffix)};
		st = b.failed ? -1 : write_file(dir, rp_codec_name(codec), &b, part, len, 3);
	}
	rp__wbuf_free(&b);
	free(coded);
	return st;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_inflight_seeds OUTDIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	static const uint8_t file[] = "a whole file, sent as it is";
	struct rp__objhdr v = {.kind = RP__OBJ_VERBATIM, .body_len = sizeof(file),
			       .orig_size = sizeof(file)};
	struct rp__wbuf b = {0};
	rp__objhdr_encode(&b, &v);
	const uint8_t *part[] = {file};
	const size_t len[] = {sizeof(file)};
	int bad = write_file(argv[1], "verbatim", &b, part, len, 1) != 0;
	rp__wbuf_free(&b);
	static const enum rp_codec codecs[] = {RP_CODEC_JPEGLS, RP_CODEC_HTJ2K, RP_CODEC_J2K,
					       RP_CODEC_RLE, RP_CODEC_JPEG_LOSSLESS,
					       RP_CODEC_JPEGXL};
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (rp_codec_can_encode(codecs[i]) && framed_seed(argv[1], codecs[i]) != 0) {
			fprintf(stderr, "make_inflight_seeds: %s seed failed\n",
				rp_codec_name(codecs[i]));
			bad = 1;
		}
	return bad;
}
