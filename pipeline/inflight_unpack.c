/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/inflight_unpack.c - an in-flight object back to its original bytes, and for
 * `--deliver compressed` to encapsulated DICOM (FORMAT.md section 5).  See inflight.h. */
#include "pipeline/inflight.h"
#include "common/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One decoder per codec for each thread that may decode: the pool's workers and the
 * thread outside it (slot rp_pool_threads()). */
static size_t
decoder_slots(const struct rp__inflight_coders *c)
{
	return ((size_t)rp_pool_threads(c->pool) + 1) * 16;
}

void
rp__inflight_coders_free(struct rp__inflight_coders *c)
{
	for (size_t i = 0; c->dec && i < decoder_slots(c); i++)
		rp_decoder_destroy(c->dec[i]);
	free(c->dec);
	for (int i = 0; i < 16; i++)
		rp_encoder_destroy(c->enc[i]);
	memset(c, 0, sizeof(*c));
}

static int
sink_err(struct rp_errbuf *err, const char *name)
{
	int e = errno;
	return rp__err(err, rp__errno_status(e), "%s: %s", name, strerror(e));
}

/* With RP__UNPACK_DROP_BEHIND the body is a read-only file mapping: the whole pages
 * before `to` go back to the kernel as the unpack passes them (they are read again from
 * the page cache should anything look), so unpacking an object of gigabytes does not make
 * it resident.  `mark` is where the pages not yet dropped begin. */
struct behind {
	bool on;
	const uint8_t *mark;
};

static void
passed(struct behind *b, const uint8_t *to)
{
	if (!b->on || to <= b->mark)
		return;
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	const uint8_t *base = (const uint8_t *)((uintptr_t)b->mark & ~(pg - 1));
	uint64_t end = rp__drop_mapped(base, (size_t)(to - base), (uint64_t)(b->mark - base),
				       (uint64_t)(to - base));
	if (base + end > b->mark)
		b->mark = base + end;
}

/* A verbatim body goes to the sink in pieces this big, each dropped behind once written. */
#define VERBATIM_PIECE ((size_t)8 << 20)

/* One round of frames decoded in parallel, then checked and written in frame order. */
struct round {
	struct rp__inflight_coders *c;
	const struct rp__objhdr *h;
	const uint8_t *const *src;   /* each frame's codestream */
	uint32_t first;
	size_t fs;
	uint8_t *out;                /* count x fs */
	int *status;
	struct rp_errbuf *err;
};

static void
decode_frame(void *arg, size_t i, unsigned worker)
{
	struct round *r = arg;
	struct rp_decoder **dec = &r->c->dec[(size_t)worker * 16 + r->h->codec];
	r->status[i] = RP_OK;
	if (!*dec) {
		struct rp_decoder_options dop;
		rp_decoder_options_init(&dop);
		dop.codec = (enum rp_codec)r->h->codec;
		if ((r->status[i] = rp_decoder_create(&dop, dec)) < 0) {
			rp__err(&r->err[i], r->status[i], "cannot create a decoder");
			return;
		}
	}
	uint32_t f = r->first + (uint32_t)i;
	r->status[i] = rp_decoder_decode(*dec, &r->h->img, r->src[i], r->h->frame_len[f],
					 r->out + i * r->fs, r->fs, &r->err[i]);
}

static int
unpack_framed(struct rp__inflight_coders *c, const struct rp__objhdr *h, const uint8_t *body,
	      const char *name, rp__inflight_sink *sink, void *ctx, struct behind *bh,
	      struct rp_errbuf *err)
{
	if (h->codec >= 16 || !rp_codec_can_decode((enum rp_codec)h->codec))
		return rp__err(err, RP_E_UNSUPPORTED, "%s: this receiver cannot decode codec %u",
			       name, h->codec);
	if (!c->dec && !(c->dec = calloc(decoder_slots(c), sizeof(*c->dec))))
		return RP_E_NOMEM;
	size_t fs = rp_image_frame_size(&h->img);
	if (fs == 0)
		return rp__err(err, RP_E_CORRUPT, "%s: frames of no size", name);
	size_t batch = h->frame_count ? rp__inflight_round(c->pool, fs, h->frame_count) : 1;
	struct round r = {.c = c, .h = h, .fs = fs};
	const uint8_t **src = calloc(batch, sizeof(*src));
	r.src = src;
	r.out = malloc(batch * fs);
	r.status = calloc(batch, sizeof(*r.status));
	r.err = calloc(batch, sizeof(*r.err));
	struct rp__sha256 *ph = NULL;
	int st = RP_OK;
	if (!src || !r.out || !r.status || !r.err || rp__sha256_create(&ph) < 0) {
		st = RP_E_NOMEM;
		goto out;
	}
	if (sink(ctx, body, h->prefix_len) < 0) {
		st = sink_err(err, name);
		goto out;
	}
	const uint8_t *p = body + h->prefix_len;
	passed(bh, p);
	for (uint32_t first = 0; first < h->frame_count; first += (uint32_t)batch) {
		size_t count = h->frame_count - first < batch ? h->frame_count - first : batch;
		const uint8_t *q = p;
		for (size_t k = 0; k < count; k++) {
			src[k] = q;
			q += h->frame_len[first + k];
		}
		r.first = first;
		rp_pool_parallel_for(c->pool, count, decode_frame, &r);
		for (size_t k = 0; k < count; k++) {
			if (r.status[k] < 0) {
				st = rp__err(err, r.status[k] == RP_E_NOMEM ? RP_E_NOMEM : RP_E_CORRUPT,
					     "%s: frame %u: %s", name, first + (uint32_t)k,
					     r.err[k].msg);
				goto out;
			}
			rp__sha256_update(ph, r.out + k * fs, fs);
			if (sink(ctx, r.out + k * fs, fs) < 0) {
				st = sink_err(err, name);
				goto out;
			}
		}
		p = q;
		passed(bh, p);
	}
	uint8_t pix[32];
	rp__sha256_final(ph, pix);
	if (memcmp(pix, h->pixel_hash, 32) != 0) {
		st = rp__err(err, RP_E_MISMATCH, "%s: decoded pixels do not match the pixel hash",
			     name);
		goto out;
	}
	if (sink(ctx, p, h->suffix_len) < 0)
		st = sink_err(err, name);
out:
	rp__sha256_destroy(ph);
	free(src);
	free(r.out);
	free(r.status);
	free(r.err);
	return st;
}

int
rp__inflight_unpack(struct rp__inflight_coders *c, const struct rp__objhdr *h,
		    const uint8_t *body, unsigned flags, const char *name,
		    rp__inflight_sink *sink, void *ctx, struct rp_errbuf *err)
{
	struct behind bh = {.on = flags & RP__UNPACK_DROP_BEHIND, .mark = body};
	if (h->kind != RP__OBJ_VERBATIM)
		return unpack_framed(c, h, body, name, sink, ctx, &bh, err);
	for (uint64_t off = 0; off < h->body_len;) {
		size_t n = h->body_len - off < VERBATIM_PIECE ? (size_t)(h->body_len - off)
							      : VERBATIM_PIECE;
		if (sink(ctx, body + off, n) < 0)
			return sink_err(err, name);
		off += n;
		passed(&bh, body + off);
	}
	return RP_OK;
}

int
rp__inflight_write_compressed(struct rp__inflight_coders *c, const struct rp__objhdr *h,
			      const uint8_t *body, const uint8_t *orig, size_t orig_size,
			      const char *path, struct rp_errbuf *err)
{
	if (h->kind != RP__OBJ_FRAMED || h->codec >= 16)
		return rp__err(err, RP_E_INVALID_ARG, "%s: not a framed object", path);
	if (!c->enc[h->codec]) {
		struct rp_encoder_options eo;
		rp_encoder_options_init(&eo);
		eo.codec = (enum rp_codec)h->codec;
		RP_TRY(rp_encoder_create(&eo, &c->enc[h->codec]));
	}
	struct rp_encoder *enc = c->enc[h->codec];
	struct rp_dicom *ds = NULL;
	int st = rp_dicom_parse(orig, orig_size, NULL, &ds, err);
	if (st < 0)
		return st;
	struct rp_frame_ref *refs = malloc((size_t)h->frame_count * sizeof(*refs) + 1);
	if (!refs) {
		rp_dicom_free(ds);
		return RP_E_NOMEM;
	}
	const uint8_t *frames = body + h->prefix_len;
	for (uint32_t i = 0; i < h->frame_count; i++) {
		refs[i].data = frames;
		refs[i].size = h->frame_len[i];
		frames += h->frame_len[i];
	}
	struct rp_dicom_write_options wo;
	rp_dicom_write_options_init(&wo);
	wo.ts_uid = rp_encoder_transfer_syntax(enc);
	const char *narrow = h->frame_count ?
		rp_encoder_stream_transfer_syntax(enc, refs[0].data, refs[0].size) : wo.ts_uid;
	for (uint32_t i = 1; i < h->frame_count && strcmp(narrow, wo.ts_uid) != 0; i++)
		if (strcmp(rp_encoder_stream_transfer_syntax(enc, refs[i].data, refs[i].size),
			   narrow) != 0)
			narrow = wo.ts_uid;
	wo.ts_uid = narrow;
	st = rp_dicom_write_file(path, ds, &wo, refs, h->frame_count, err);
	free(refs);
	rp_dicom_free(ds);
	return st;
}
