/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/inflight_pack.c - an object's in-flight form: reading the input safely (pread,
 * never a mapping; checked against the scan before, during and after) and framing it
 * (FORMAT.md section 5).  See inflight.h. */
#include "pipeline/inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
rp__inflight_free(struct rp__inflight *f)
{
	rp__wbuf_free(&f->hdr);
	free(f->file);
	free(f->enc);
	memset(f, 0, sizeof(*f));
}

static void
make_verbatim(const struct rp__src *in, uint32_t index, struct rp__inflight *f)
{
	struct rp__objhdr h = {.index = index, .kind = RP__OBJ_VERBATIM,
			       .body_len = in->size, .orig_size = in->size};
	rp__objhdr_encode(&f->hdr, &h);
	f->seg[0].p = f->hdr.p;
	f->seg[0].n = f->hdr.len;
	f->seg[1].p = f->file;
	f->seg[1].n = in->size;
	f->nseg = 2;
	f->len = f->hdr.len + in->size;
}

/* Frames the object when FORMAT.md section 5 allows it and the encoded frames are
 * smaller than the stored ones; false means "send it verbatim". */
static bool
try_framed(const struct rp__src *in, uint32_t index, enum rp_codec codec,
	   struct rp_encoder **encp, struct rp__inflight *f)
{
	struct rp_dicom *ds = NULL;
	bool ok = false;
	uint32_t *lens = NULL;
	if (rp_dicom_parse(f->file, in->size, NULL, &ds, NULL) != RP_OK)
		return false;
	const struct rp_dicom_info *info = rp_dicom_get_info(ds);
	const struct rp_image_desc *img = &info->img;
	size_t fs = rp_image_frame_size(img);
	uint64_t pix;
	if (!info->has_pixels || info->encapsulated || info->ts->big_endian ||
	    info->ts->deflated || (img->bits_allocated != 8 && img->bits_allocated != 16) ||
	    (img->components != 1 && !(img->components == 3 && info->planar == 0)) ||
	    info->frames == 0 || info->frames > RP__MAX_FRAMES || fs == 0 ||
	    __builtin_mul_overflow((uint64_t)fs, (uint64_t)info->frames, &pix) ||
	    pix != info->pixel_value_length || info->pixel_value_offset > in->size ||
	    in->size - info->pixel_value_offset < pix)
		goto out;
	if (!*encp) {
		struct rp_encoder_options eo;
		rp_encoder_options_init(&eo);
		eo.codec = codec;
		if (rp_encoder_create(&eo, encp) != RP_OK)
			goto out;
	}
	struct rp_encoder *enc = *encp;
	if (rp_encoder_check(enc, img, NULL) != RP_OK)
		goto out;
	size_t bound = rp_encoder_bound(enc, img), cap = 0, used = 0;
	if (bound == 0)
		goto out;
	lens = malloc((size_t)info->frames * sizeof(*lens));
	if (!lens)
		goto out;
	const uint8_t *pixels = f->file + info->pixel_value_offset;
	for (uint32_t i = 0; i < info->frames; i++) {
		if (cap - used < bound) {
			size_t ncap = cap ? cap * 2 : bound * 2;
			while (ncap - used < bound)
				ncap *= 2;
			uint8_t *p = realloc(f->enc, ncap);
			if (!p)
				goto out;
			f->enc = p;
			cap = ncap;
		}
		size_t n = 0;
		if (rp_encoder_encode(enc, img, pixels + (size_t)i * fs, fs, f->enc + used,
				      cap - used, &n, NULL) != RP_OK ||
		    n == 0 || n > UINT32_MAX)
			goto out;
		lens[i] = (uint32_t)n;
		used += n;
		/* Not worth decoding at the far end when it does not shrink. */
		if (used >= pix)
			goto out;
	}
	struct rp__objhdr h = {.index = index, .kind = RP__OBJ_FRAMED,
			       .codec = (uint8_t)codec, .frame_count = info->frames,
			       .orig_size = in->size, .prefix_len = info->pixel_value_offset,
			       .suffix_len = in->size - info->pixel_value_offset - pix,
			       .img = *img, .frame_len = lens};
	h.body_len = h.prefix_len + used + h.suffix_len;
	/* Canonical frames are the stored bytes here, so the pixel hash is theirs. */
	if (rp__sha256(pixels, pix, h.pixel_hash) != RP_OK)
		goto out;
	rp__objhdr_encode(&f->hdr, &h);
	if (f->hdr.failed)
		goto out;
	f->seg[0].p = f->hdr.p;
	f->seg[0].n = f->hdr.len;
	f->seg[1].p = f->file;
	f->seg[1].n = h.prefix_len;
	f->seg[2].p = f->enc;
	f->seg[2].n = used;
	f->seg[3].p = pixels + pix;
	f->seg[3].n = h.suffix_len;
	f->nseg = 4;
	f->len = f->hdr.len + h.body_len;
	f->framed = true;
	ok = true;
out:
	free(lens);
	rp_dicom_free(ds);
	if (!ok) {
		uint8_t *file = f->file;
		f->file = NULL;
		rp__inflight_free(f);
		f->file = file;
	}
	return ok;
}

void
rp__inflight_encoder_free(struct rp_encoder *enc)
{
	rp_encoder_destroy(enc);
}

bool
rp__src_same(const struct rp__src *in, const struct stat *st)
{
	return st->st_dev == in->dev && st->st_ino == in->ino &&
	       (uint64_t)st->st_size == (uint64_t)in->size &&
	       st->st_mtim.tv_sec == in->mtime.tv_sec && st->st_mtim.tv_nsec == in->mtime.tv_nsec &&
	       st->st_ctim.tv_sec == in->ctime.tv_sec && st->st_ctim.tv_nsec == in->ctime.tv_nsec;
}

int
rp__src_changed(struct rp_errbuf *err, const struct rp__src *in)
{
	return rp__err(err, RP_E_IO, "%s: the file changed while it was being sent (size, "
		       "time or identity differs from the scan); nothing of it was delivered",
		       in->path);
}

/* Reads the whole input into a buffer of its own, checking that it is still the file
 * the scan hashed: before (fstat), during (a short read means it shrank) and after. */
static int
read_input(const struct rp__src *in, uint8_t **ret, struct rp_errbuf *err)
{
	*ret = NULL;
	int fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", in->path, strerror(errno));
	struct stat st;
	int status = RP_OK;
	uint8_t *p = malloc(in->size ? in->size : 1);
	if (!p) {
		status = rp__err(err, RP_E_NOMEM, "%s: no memory for %zu bytes", in->path,
				 in->size);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !rp__src_same(in, &st)) {
		status = rp__src_changed(err, in);
		goto out;
	}
	for (size_t done = 0; done < in->size;) {
		ssize_t n = pread(fd, p + done, in->size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			status = rp__err(err, RP_E_IO, "%s: read at offset %zu: %s", in->path, done,
					 strerror(errno));
			goto out;
		}
		if (n == 0) {
			status = rp__err(err, RP_E_IO, "%s: file shrank to %zu bytes while it was "
					 "being sent (%zu at the scan); nothing of it was delivered",
					 in->path, done, in->size);
			goto out;
		}
		done += (size_t)n;
	}
	if (fstat(fd, &st) < 0 || !rp__src_same(in, &st))
		status = rp__src_changed(err, in);
out:
	close(fd);
	if (status < 0)
		free(p);
	else
		*ret = p;
	return status;
}

int
rp__inflight_build(const struct rp__src *in, uint32_t index, enum rp_codec codec,
		   struct rp_encoder **enc, struct rp__inflight *f, struct rp_errbuf *err)
{
	memset(f, 0, sizeof(*f));
	RP_TRY(read_input(in, &f->file, err));
	if (codec != RP_CODEC_NATIVE && try_framed(in, index, codec, enc, f))
		return RP_OK;
	make_verbatim(in, index, f);
	return RP_OK;
}
