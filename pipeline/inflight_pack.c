/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/inflight_pack.c - an object's in-flight form: reading the input safely (pread,
 * checked against the scan before and after every read) and framing it in rounds of
 * frames spread over the pool (FORMAT.md section 5).  See inflight.h. */
#include "pipeline/inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Frames are read and encoded a round at a time and the encoded ones held (the header
 * lists their lengths before the first of them).  A framing that has not paid for itself after
 * this many frames is given up for verbatim: noise and pre-compressed pixels would else
 * hold an encoded copy as large as the input before the verdict. */
#define PROBE_FRAMES 8u

void
rp__inflight_free(struct rp__inflight *f)
{
	rp__wbuf_free(&f->hdr);
	if (f->has_fd)
		close(f->fd);
	free(f->prefix);
	free(f->suffix);
	free(f->enc);
	memset(f, 0, sizeof(*f));
}

/* The input is still the file the scan saw; RP_E_IO naming it otherwise. */
static int
check_same(const struct rp__inflight *f, struct rp_errbuf *err)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0 || !rp__src_same(f->src, &st))
		return rp__src_changed(err, f->src);
	return RP_OK;
}

/* n bytes of the input at off, then the identity check: a short read means the file
 * shrank, a changed size or time that it was written to. */
static int
read_at(const struct rp__inflight *f, uint64_t off, void *out, size_t n,
	struct rp_errbuf *err)
{
	uint8_t *p = out;
	for (size_t done = 0; done < n;) {
		ssize_t r = pread(f->fd, p + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return rp__err(err, RP_E_IO, "%s: read at offset %llu: %s", f->src->path,
				       (unsigned long long)(off + done), strerror(errno));
		if (r == 0)
			return rp__err(err, RP_E_IO, "%s: file shrank to %llu bytes while it was "
				       "being sent (%zu at the scan); nothing of it was delivered",
				       f->src->path, (unsigned long long)(off + done), f->src->size);
		done += (size_t)r;
	}
	return check_same(f, err);
}

static uint8_t *
read_piece(const struct rp__inflight *f, uint64_t off, size_t n, int *status,
	   struct rp_errbuf *err)
{
	uint8_t *p = malloc(n ? n : 1);
	if (!p) {
		*status = rp__err(err, RP_E_NOMEM, "%s: no memory for %zu bytes", f->src->path, n);
		return NULL;
	}
	if ((*status = read_at(f, off, p, n, err)) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

int
rp__inflight_copy(struct rp__inflight *f, uint64_t off, void *out, size_t n,
		  struct rp_errbuf *err)
{
	uint8_t *o = out;
	uint64_t base = 0;
	for (int g = 0; g < f->nseg && n; g++) {
		const struct rp__inflight_seg *sg = &f->seg[g];
		uint64_t end = base + sg->n;
		if (off < end) {
			uint64_t from = off - base;
			size_t take = sg->n - from < n ? (size_t)(sg->n - from) : n;
			if (sg->p)
				memcpy(o, sg->p + from, take);
			else
				RP_TRY(read_at(f, sg->off + from, o, take, err));
			o += take;
			off += take;
			n -= take;
		}
		base = end;
	}
	return n ? rp__err(err, RP_E_INTERNAL, "copy past the end of an in-flight object")
		 : RP_OK;
}

static void
make_verbatim(const struct rp__src *in, uint32_t index, struct rp__inflight *f)
{
	struct rp__objhdr h = {.index = index, .kind = RP__OBJ_VERBATIM,
			       .body_len = in->size, .orig_size = in->size};
	rp__objhdr_encode(&f->hdr, &h);
	f->seg[0] = (struct rp__inflight_seg){.p = f->hdr.p, .n = f->hdr.len};
	f->seg[1] = (struct rp__inflight_seg){.off = 0, .n = in->size};
	f->nseg = 2;
	f->len = f->hdr.len + in->size;
}

/* What framing needs of the data set.  The parse runs over a read-only mapping of the
 * input with drop-behind: it walks the elements and never reads a native frame, so only
 * the pages of the data set's other elements are touched, and those of encapsulated
 * fragments are handed back as it passes them.  (The frames themselves are read with
 * pread.  A file truncated by someone else in the milliseconds of this walk would raise
 * SIGBUS; the identity check just before, in rp__inflight_build(), makes that window as
 * small as it can be without a second parser.) */
struct layout {
	struct rp_image_desc img;
	uint32_t frames;
	uint64_t pixel_off, pixel_len;
	bool framable;
};

static bool
read_layout(const struct rp__inflight *f, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	size_t size = f->src->size;
	if (size == 0)
		return false;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, f->fd, 0);
	if (map == MAP_FAILED)
		return false;
	struct rp_dicom_options opt;
	rp_dicom_options_init(&opt);
	opt.drop_behind = 1;
	struct rp_dicom *ds = NULL;
	if (rp_dicom_parse(map, size, &opt, &ds, NULL) == RP_OK) {
		const struct rp_dicom_info *info = rp_dicom_get_info(ds);
		const struct rp_image_desc *img = &info->img;
		size_t fs = rp_image_frame_size(img);
		uint64_t pix;
		l->img = *img;
		l->frames = info->frames;
		l->pixel_off = info->pixel_value_offset;
		l->pixel_len = info->pixel_value_length;
		l->framable =
			info->has_pixels && !info->encapsulated && !info->ts->big_endian &&
			!info->ts->deflated &&
			(img->bits_allocated == 8 || img->bits_allocated == 16) &&
			(img->components == 1 || (img->components == 3 && info->planar == 0)) &&
			info->frames != 0 && info->frames <= RP__MAX_FRAMES && fs != 0 &&
			!__builtin_mul_overflow((uint64_t)fs, (uint64_t)info->frames, &pix) &&
			pix == info->pixel_value_length && info->pixel_value_offset <= size &&
			size - info->pixel_value_offset >= pix;
	}
	rp_dicom_free(ds);
	munmap(map, size);
	return l->framable;
}

/* One round of frames, read and encoded in parallel on the pool; the results are taken
 * in frame order, so the bytes (and where framing is given up) are those of one thread. */
struct round {
	const struct rp__inflight *f;
	const struct layout *l;
	enum rp_codec codec;
	struct rp_encoder **enc;     /* one per pool worker + the thread outside it */
	size_t fs, bound;
	uint32_t first;
	uint8_t *raw, *out;          /* count x fs, count x bound */
	size_t *len;
	int *status;                 /* per frame: RP_OK, RP_E_UNSUPPORTED, or a read error */
	struct rp_errbuf *err;
};

static int
encoder_for(struct rp_encoder **slot, enum rp_codec codec)
{
	if (*slot)
		return RP_OK;
	struct rp_encoder_options eo;
	rp_encoder_options_init(&eo);
	eo.codec = codec;
	return rp_encoder_create(&eo, slot);
}

static void
encode_frame(void *arg, size_t i, unsigned worker)
{
	struct round *r = arg;
	uint8_t *raw = r->raw + i * r->fs;
	r->status[i] = read_at(r->f, r->l->pixel_off + (uint64_t)(r->first + i) * r->fs, raw,
			       r->fs, &r->err[i]);
	if (r->status[i] < 0)
		return;
	r->status[i] = RP_E_UNSUPPORTED;
	if (encoder_for(&r->enc[worker], r->codec) != RP_OK)
		return;
	size_t n = 0;
	if (rp_encoder_encode(r->enc[worker], &r->l->img, raw, r->fs, r->out + i * r->bound,
			      r->bound, &n, NULL) != RP_OK ||
	    n == 0 || n > UINT32_MAX)
		return;
	r->len[i] = n;
	r->status[i] = RP_OK;
}

/* Frames the object when FORMAT.md section 5 allows it and the encoded frames are
 * smaller than the stored ones: 0, or RP_E_UNSUPPORTED for "send it verbatim", or an
 * input error (the file changed, a read failed). */
static int
try_framed(uint32_t index, enum rp_codec codec, struct rp_pool *pool, struct rp_encoder **enc,
	   unsigned self, struct rp__inflight *f, struct rp_errbuf *err)
{
	const struct rp__src *in = f->src;
	struct layout l;
	if (!read_layout(f, &l))
		return RP_E_UNSUPPORTED;
	int status = RP_E_UNSUPPORTED;
	uint32_t *lens = NULL;
	struct rp__sha256 *hash = NULL;
	const struct rp_image_desc *img = &l.img;
	struct round r = {.f = f, .l = &l, .codec = codec, .enc = enc,
			  .fs = rp_image_frame_size(img)};
	if (encoder_for(&enc[self], codec) != RP_OK ||
	    rp_encoder_check(enc[self], img, NULL) != RP_OK)
		goto out;
	r.bound = rp_encoder_bound(enc[self], img);
	if (r.bound == 0)
		goto out;
	size_t batch = rp__inflight_round(pool, r.fs + r.bound, l.frames), cap = 0, used = 0;
	lens = malloc((size_t)l.frames * sizeof(*lens));
	r.raw = malloc(batch * r.fs);
	r.out = malloc(batch * r.bound);
	r.len = calloc(batch, sizeof(*r.len));
	r.status = calloc(batch, sizeof(*r.status));
	r.err = calloc(batch, sizeof(*r.err));
	if (!lens || !r.raw || !r.out || !r.len || !r.status || !r.err ||
	    rp__sha256_create(&hash) != RP_OK)
		goto out;
	for (uint32_t first = 0; first < l.frames; first += (uint32_t)batch) {
		size_t count = l.frames - first < batch ? l.frames - first : batch;
		r.first = first;
		rp_pool_parallel_for(pool, count, encode_frame, &r);
		for (size_t k = 0; k < count; k++) {
			uint32_t i = first + (uint32_t)k;
			if (r.status[k] != RP_OK) {
				if (r.status[k] != RP_E_UNSUPPORTED)
					status = rp__err(err, r.status[k], "%s", r.err[k].msg);
				goto out;
			}
			/* Canonical frames are the stored bytes here, so the pixel hash is
			 * theirs. */
			rp__sha256_update(hash, r.raw + k * r.fs, r.fs);
			if (cap - used < r.len[k]) {
				size_t ncap = cap ? cap * 2 : r.bound * 2;
				while (ncap - used < r.len[k])
					ncap *= 2;
				uint8_t *p = realloc(f->enc, ncap);
				if (!p)
					goto out;
				f->enc = p;
				cap = ncap;
			}
			memcpy(f->enc + used, r.out + k * r.bound, r.len[k]);
			lens[i] = (uint32_t)r.len[k];
			used += r.len[k];
			/* Not worth decoding at the far end when it does not shrink. */
			if (used >= l.pixel_len ||
			    (i + 1 >= PROBE_FRAMES && used >= (uint64_t)(i + 1) * r.fs))
				goto out;
		}
	}
	struct rp__objhdr h = {.index = index, .kind = RP__OBJ_FRAMED,
			       .codec = (uint8_t)codec, .frame_count = l.frames,
			       .orig_size = in->size, .prefix_len = l.pixel_off,
			       .suffix_len = in->size - l.pixel_off - l.pixel_len,
			       .img = *img, .frame_len = lens};
	h.body_len = h.prefix_len + used + h.suffix_len;
	rp__sha256_final(hash, h.pixel_hash);
	if (!(f->prefix = read_piece(f, 0, h.prefix_len, &status, err)) ||
	    !(f->suffix = read_piece(f, l.pixel_off + l.pixel_len, h.suffix_len, &status, err)))
		goto out;
	status = RP_E_UNSUPPORTED;
	rp__objhdr_encode(&f->hdr, &h);
	if (f->hdr.failed)
		goto out;
	f->seg[0] = (struct rp__inflight_seg){.p = f->hdr.p, .n = f->hdr.len};
	f->seg[1] = (struct rp__inflight_seg){.p = f->prefix, .n = h.prefix_len};
	f->seg[2] = (struct rp__inflight_seg){.p = f->enc, .n = used};
	f->seg[3] = (struct rp__inflight_seg){.p = f->suffix, .n = h.suffix_len};
	f->nseg = 4;
	f->len = f->hdr.len + h.body_len;
	f->framed = true;
	status = RP_OK;
out:
	free(lens);
	free(r.raw);
	free(r.out);
	free(r.len);
	free(r.status);
	free(r.err);
	rp__sha256_destroy(hash);
	if (status != RP_OK) {
		rp__wbuf_free(&f->hdr);
		free(f->prefix);
		free(f->suffix);
		free(f->enc);
		f->prefix = f->suffix = f->enc = NULL;
	}
	return status;
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

int
rp__inflight_build(const struct rp__src *in, uint32_t index, enum rp_codec codec,
		   struct rp_pool *pool, struct rp_encoder **enc, unsigned self,
		   struct rp__inflight *f, struct rp_errbuf *err)
{
	memset(f, 0, sizeof(*f));
	f->src = in;
	f->fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", in->path, strerror(errno));
	f->has_fd = true;
	int st = check_same(f, err);
	if (st == RP_OK)
		st = codec != RP_CODEC_NATIVE ? try_framed(index, codec, pool, enc, self, f, err)
					      : RP_E_UNSUPPORTED;
	if (st == RP_E_UNSUPPORTED) {
		make_verbatim(in, index, f);
		st = f->hdr.failed ? rp__err(err, RP_E_NOMEM, "out of memory") : RP_OK;
	}
	if (st < 0)
		rp__inflight_free(f);
	return st;
}
