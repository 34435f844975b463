/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/fuzz/fuzz_dicom_parse.c - fuzz target: parse arbitrary bytes as DICOM, and when
 * that succeeds, walk every frame, hash the pixels and rewrite the dataset, so the frame
 * map, the decoders and the writer see hostile input too. */
#include <radpipe/radpipe.h>
#include <stdlib.h>

static int
discard(void *ctx, const void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return RP_OK;
}

/* Errors are the expected outcome for most fuzz inputs; only crashes matter. */
static void
ignore(int status)
{
	(void)status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_dicom_options opts;
	rp_dicom_options_init(&opts);
	opts.max_frames = 64;                 /* keep each input cheap */
	opts.max_inflated_size = 16u << 20;
	struct rp_dicom *ds;
	if (rp_dicom_parse(data, size, &opts, &ds, NULL) != RP_OK)
		return 0;
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	ignore(rp_dicom_check_nested_pixels(ds, NULL));
	if (info->has_pixels) {
		size_t frame = rp_image_frame_size(&info->img);
		uint8_t *buf = frame <= (64u << 20) ? malloc(frame) : NULL;
		for (uint32_t i = 0; buf && i < info->frames; i++)
			ignore(rp_dicom_decode_frame(ds, i, buf, frame, NULL));
		uint8_t hash[32];
		ignore(rp_dicom_pixel_hash(ds, hash, NULL));
		if (buf && !info->encapsulated) {
			struct rp_dicom_write_options wo;
			rp_dicom_write_options_init(&wo);
			ignore(rp_dicom_write(ds, &wo, NULL, info->frames, discard, NULL, NULL));
		} else if (buf && info->frames == 1 &&
			   rp_dicom_decode_frame(ds, 0, buf, frame, NULL) == RP_OK) {
			/* Decompressed: images nested in sequences are decoded and rewritten. */
			struct rp_frame_ref ref = { buf, frame };
			struct rp_dicom_write_options wo;
			rp_dicom_write_options_init(&wo);
			ignore(rp_dicom_write(ds, &wo, &ref, 1, discard, NULL, NULL));
		}
		free(buf);
	} else {
		ignore(rp_dicom_write(ds, NULL, NULL, 0, discard, NULL, NULL));
	}
	rp_dicom_free(ds);
	return 0;
}
