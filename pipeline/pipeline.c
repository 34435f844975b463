/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/pipeline.c - the streaming transcoder behind include/radpipe/pipeline.h.
 *
 * The calling thread is the coordinator: it maps and parses file after file (header pages
 * only: parsing never touches native pixel data), reserves the object's estimated memory
 * from the budget (waiting while other objects hold it), and queues one job per frame.
 * Frames of one big multi-frame object and of many small files thus flow through the
 * same FIFO and keep every core busy.  A frame job checks the BitsStored high bits of a
 * native frame (SIMD kernel), makes the canonical frame, encodes it, and decodes the
 * result again to compare it with the input (the verify step, done here so it runs in
 * parallel).  Frames go into the output (a temporary file, renamed when complete) in
 * index order as soon as every earlier one is there, and are freed; the input pages a
 * frame was read from are dropped once it is coded.  The job that finishes an object's
 * last frame completes the file, reads it back to check that it holds exactly the
 * verified codestreams, unmaps the input and returns the reservation.  So a 1.5 GB
 * multi-frame object costs what its frames in flight cost, and memory held is bounded by
 * the budget, not by the object or the study.  (Deflated and lossy outputs, and native
 * sources rewritten native, are written whole at the end: see obj_streamable().)
 *
 * Frame jobs are queued by the coordinator only, never from inside a job: a job that
 * waited on the bounded queue (or on nested work queued behind other jobs) could block
 * every worker at once.
 *
 * Each worker thread owns an encoder, a decoder and two frame buffers for the whole run
 * (encoders are not thread-safe, and making one per frame costs more than coding a small
 * CT frame).
 *
 * Determinism: a file's output bytes depend only on its input (each frame is coded on its
 * own by a deterministic encoder and the writer puts frames in index order), never on
 * which worker coded which frame or when. */
#include "codec/codec_impl.h"
#include "codec/jpegls_dcmtk.h"
#include "common/fileio.h"
#include "common/internal.h"
#include "simd/kernels.h"

#include <radpipe/pipeline.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RP__PIPELINE_DEFAULT_BUDGET (512ull << 20)
#define RP__TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define RP__TS_DEFLATED "1.2.840.10008.1.2.1.99"

/* Per-worker state, slot = the pool's worker index; the last slot is the coordinator
 * (which runs frame jobs itself without a pool, or when the pool refuses one). */
struct rp__pl_worker {
	struct rp_encoder *enc;
	struct rp_decoder *dec;
	uint8_t *buf[2];             /* canonical frame, and its decoded copy for verify */
	size_t cap[2];
};

struct rp__pl {
	const struct rp_pipeline_options *opts;
	struct rp_pipeline_file *files;
	struct rp_encoder_options enc_opts;
	struct rp_dicom_options parse_opts; /* files are mapped: pages dropped behind */
	const struct rp__kernels *k;
	bool to_native;              /* NATIVE or DEFLATE: frames stay canonical */
	const char *ts_uid;          /* target transfer syntax */
	const char *ts_profile;      /* its narrower form for objects whose every frame
				      * qualifies (HTJ2K .202), or NULL */
	struct rp_encoder *probe;    /* answers questions about the output (never encodes) */
	bool lossy;
	uint64_t max_error_allowed;  /* verify: 0 lossless, NEAR near-lossless */
	unsigned nslots;
	struct rp__pl_worker *w;

	pthread_mutex_t lock;        /* guards everything below */
	pthread_cond_t changed;      /* a reservation was returned */
	uint64_t budget;
	uint64_t reserved;
	uint64_t peak_reserved;
	uint32_t open;
	uint32_t peak_open;
	size_t admitted;
	size_t finished;
	bool stop;

	pthread_mutex_t done_lock;   /* on_done callbacks never run concurrently */
};

/* One object in flight. */
struct rp__pl_obj {
	struct rp__pl *pl;
	size_t index;
	double t0;
	const uint8_t *map;
	size_t map_size;
	struct rp_dicom *ds;
	const struct rp_dicom_info *info;
	/* info->img with the photometric interpretation of the canonical frames, which is
	 * what a decoder made of the stored one (YBR_FULL_422 JPEG -> RGB, YBR_RCT -> RGB):
	 * what the encoder is told it gets, and what the output must declare. */
	struct rp_image_desc img;
	size_t frame_size;
	uint32_t nframes;
	bool fast_high_bits;         /* frames checked by the kernel in place (16-bit LE) */
	uint64_t cost;               /* bytes reserved from the budget */
	struct rp_frame_ref *refs;   /* coded (or canonical) frames, index order; a frame's
				      * data is freed once it is in the output */
	uint32_t *crc;               /* CRC32C of each frame's bytes, for the read-back
				      * check (NULL without it) */
	/* Written frame by frame (see obj_streamable()): frames go into the output in index
	 * order as they are done, and the object holds only those that wait for an
	 * earlier one. */
	struct rp_dicom_stream *stream;
	pthread_mutex_t write_lock;  /* guards next_write and the stream */
	uint32_t next_write;
	uint8_t *done;               /* frame f is coded (set under write_lock) */
	struct rp_dicom_write_notes notes;
	struct rp__pl_job *jobs;
	_Atomic uint32_t left;       /* frames not yet done */
	_Atomic bool dirty;          /* some native frame has overlay bits */
	_Atomic bool not_profile;    /* some frame misses the codec's narrower lossless
				      * syntax (HTJ2K .202): the object keeps pl->ts_uid */
	_Atomic bool jls_fallback;   /* some input frame needed the second JPEG-LS decoder */
	_Atomic uint64_t max_error;
	_Atomic int status;          /* first failure (RP_OK while none) */
	pthread_mutex_t err_lock;
	char msg[RP_ERRBUF_SIZE];
};

struct rp__pl_job {
	struct rp__pl_obj *obj;
	uint32_t frame;
};

void
rp_pipeline_options_init(struct rp_pipeline_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->struct_size = sizeof(*opts);
	rp_encoder_options_init(&opts->encoder);
	opts->memory_budget = RP__PIPELINE_DEFAULT_BUDGET;
	opts->verify = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Copies a message, cutting it to fit: messages are one line for people. */
static void
msg_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Records the object's first failure; later ones are consequences and are dropped. */
static void
obj_fail(struct rp__pl_obj *obj, int status, const char *msg)
{
	int expected = RP_OK;

	pthread_mutex_lock(&obj->err_lock);
	if (atomic_compare_exchange_strong(&obj->status, &expected, status))
		msg_copy(obj->msg, sizeof(obj->msg), msg && *msg ? msg : rp_status_str(status));
	pthread_mutex_unlock(&obj->err_lock);
}

static void
obj_fail_frame(struct rp__pl_obj *obj, uint32_t frame, int status, const char *msg)
{
	char m[RP_ERRBUF_SIZE + 32];

	/* rp_dicom_decode_frame() already names the frame. */
	if (msg && strncmp(msg, "frame ", 6) == 0)
		snprintf(m, sizeof(m), "%s", msg);
	else
		snprintf(m, sizeof(m), "frame %u: %s", frame,
			 msg && *msg ? msg : rp_status_str(status));
	obj_fail(obj, status, m);
}

static void
budget_add(struct rp__pl *pl, uint64_t bytes)
{
	pthread_mutex_lock(&pl->lock);
	pl->reserved += bytes;
	if (pl->reserved > pl->peak_reserved)
		pl->peak_reserved = pl->reserved;
	pthread_mutex_unlock(&pl->lock);
}

/* Blocks until cost fits the budget, or nothing else is in flight (an object larger than
 * the whole budget then runs alone rather than never). */
static void
budget_reserve(struct rp__pl *pl, uint64_t cost)
{
	pthread_mutex_lock(&pl->lock);
	while (pl->admitted > pl->finished && pl->reserved + cost > pl->budget)
		pthread_cond_wait(&pl->changed, &pl->lock);
	pl->reserved += cost;
	if (pl->reserved > pl->peak_reserved)
		pl->peak_reserved = pl->reserved;
	pl->open++;
	if (pl->open > pl->peak_open)
		pl->peak_open = pl->open;
	pl->admitted++;
	pthread_mutex_unlock(&pl->lock);
}

static struct rp__pl_worker *
worker_of(struct rp__pl *pl, unsigned worker)
{
	return &pl->w[worker < pl->nslots ? worker : pl->nslots - 1];
}

/* Grows worker buffer `which` to size bytes, charging the growth to the budget. */
static uint8_t *
worker_buf(struct rp__pl *pl, struct rp__pl_worker *w, int which, size_t size)
{
	if (w->cap[which] < size) {
		uint8_t *p = realloc(w->buf[which], size);
		if (!p)
			return NULL;
		budget_add(pl, size - w->cap[which]);
		w->buf[which] = p;
		w->cap[which] = size;
	}
	return w->buf[which];
}

/* Maps a whole file read-only.  Empty files map to (NULL, 0). */
static int
map_file(const char *path, const uint8_t **data, size_t *size, struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	*data = NULL;
	*size = 0;
	if (fd < 0)
		return rp__err(err, RP_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return rp__err(err, RP_E_IO, "cannot stat %s: %s", path, strerror(e));
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return st.st_size == 0 ? RP_OK :
		       rp__err(err, RP_E_LIMIT, "%s is too large to map", path);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return rp__err(err, RP_E_IO, "cannot map %s: %s", path, strerror(e));
	/* Every byte is read once, front to back: ask for read-ahead and early reclaim. */
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	*data = p;
	*size = (size_t)st.st_size;
	return RP_OK;
}

static void
note_error(struct rp__pl_obj *obj, uint64_t err)
{
	uint64_t seen = atomic_load(&obj->max_error);

	while (err > seen && !atomic_compare_exchange_weak(&obj->max_error, &seen, err))
		;
}

/* Drops the input bytes frame f was read from, once it is coded: without this, every
 * page of a large object read so far would stay resident until the object is done.
 * A page shared with a neighbouring frame stays (rp__drop_mapped); a deflated source's
 * pixels live in the inflated copy, not the map, and have no span in it. */
static void
drop_input_frame(struct rp__pl_obj *obj, uint32_t f)
{
	uint64_t at, n;
	if (rp_dicom_frame_span(obj->ds, f, &at, &n) == RP_OK)
		rp__drop_mapped(obj->map, obj->map_size, at, at + n);
}

/* The overlay-bit refusal, worded as `radpipe compress` always has. */
static int
dirty_error(const struct rp__pl_obj *obj, struct rp_errbuf *e)
{
	return rp__err(e, RP_E_UNSUPPORTED,
		       "pixel bits above BitsStored (%u) carry data that is not a sign "
		       "extension (overlays?); refusing to drop them",
		       obj->info->img.bits_stored);
}

/* Codes frame f into obj->refs[f] and checks that it decodes back to the input. */
/* An input frame, noting when JPEG-LS needed DCMTK for it (the file gets a warning). */
static int
decode_input_frame(struct rp__pl_obj *obj, uint32_t f, uint8_t *dst, struct rp_errbuf *e)
{
	unsigned long before = rp__jpegls_fallbacks();
	int s = rp_dicom_decode_frame(obj->ds, f, dst, obj->frame_size, e);
	if (rp__jpegls_fallbacks() != before)
		atomic_store(&obj->jls_fallback, true);
	return s;
}

static int
code_frame(struct rp__pl_obj *obj, struct rp__pl_worker *w, uint32_t f, struct rp_errbuf *e)
{
	struct rp__pl *pl = obj->pl;
	const struct rp_image_desc *img = &obj->img;
	uint8_t *src = worker_buf(pl, w, 0, obj->frame_size);
	uint8_t *out = NULL;
	size_t size = 0;

	if (!src)
		return RP_E_NOMEM;
	if (!w->enc)
		RP_TRY(rp_encoder_create(&pl->enc_opts, &w->enc));
	RP_TRY(decode_input_frame(obj, f, src, e));
	size_t bound = rp_encoder_bound(w->enc, img);
	if (bound == 0)
		return rp__err(e, RP_E_UNSUPPORTED, "the encoder gives no size bound");
	out = malloc(bound);
	if (!out)
		return RP_E_NOMEM;
	int s = rp_encoder_encode(w->enc, img, src, obj->frame_size, out, bound, &size, e);
	if (s < 0) {
		free(out);
		return s;
	}
	/* Shrinking keeps the block in place (glibc): what stays held is the coded size. */
	uint8_t *shrunk = realloc(out, size ? size : 1);
	obj->refs[f].data = shrunk ? shrunk : out;
	obj->refs[f].size = size;
	if (pl->ts_profile && strcmp(rp_encoder_stream_transfer_syntax(w->enc, obj->refs[f].data,
								       size), pl->ts_profile) != 0)
		atomic_store(&obj->not_profile, true);
	if (!pl->opts->verify)
		return RP_OK;
	/* Verify: the codestream decodes back to the input (within NEAR when lossy).  The
	 * file check in obj_finish() then shows that the file holds this codestream. */
	uint8_t *back = worker_buf(pl, w, 1, obj->frame_size);
	if (!back)
		return RP_E_NOMEM;
	if (!w->dec) {
		struct rp_decoder_options dopts;
		rp_decoder_options_init(&dopts);
		dopts.codec = pl->enc_opts.codec;
		dopts.max_isa = pl->enc_opts.max_isa;
		RP_TRY(rp_decoder_create(&dopts, &w->dec));
	}
	uint64_t err = 0;
	RP_TRY(rp_decoder_decode(w->dec, img, obj->refs[f].data, size, back, obj->frame_size, e));
	RP_TRY(rp_frame_compare(img, src, back, obj->frame_size, &err));
	note_error(obj, err);
	return RP_OK;
}

static void obj_finish(struct rp__pl_obj *obj);

/* Frame f of a streamed object is done: appends every frame that is now next in index
 * order to the output and frees it.  A failed frame is never marked done, so the output
 * stops there and the object's finish aborts it. */
static void
obj_stream_ready(struct rp__pl_obj *obj, uint32_t f)
{
	struct rp_errbuf e = { "" };

	pthread_mutex_lock(&obj->write_lock);
	obj->done[f] = 1;
	while (obj->next_write < obj->nframes && obj->done[obj->next_write] &&
	       atomic_load(&obj->status) == RP_OK) {
		struct rp_frame_ref *r = &obj->refs[obj->next_write];
		int s = rp_dicom_stream_frame(obj->stream, r->data, r->size, &e);
		if (s < 0) {
			obj_fail(obj, s, e.msg);
			break;
		}
		free((void *)r->data);
		r->data = NULL;
		obj->next_write++;
	}
	pthread_mutex_unlock(&obj->write_lock);
}

/* One frame job. */
static void
frame_job(void *arg, unsigned worker)
{
	struct rp__pl_job *job = arg;
	struct rp__pl_obj *obj = job->obj;
	struct rp__pl *pl = obj->pl;
	struct rp__pl_worker *w = worker_of(pl, worker);
	const uint32_t f = job->frame;
	struct rp_errbuf e = { "" };
	int s = RP_OK;

	/* After a failure the other frames are pointless; still count them down. */
	if (atomic_load_explicit(&obj->status, memory_order_relaxed) != RP_OK)
		goto done;
	if (obj->fast_high_bits) {
		/* Native 16-bit little endian: the stored bytes are the samples, so the
		 * BitsStored check runs on the map itself (one SIMD pass). */
		const uint8_t *raw = obj->map + obj->info->pixel_value_offset +
				     (uint64_t)obj->frame_size * f;
		if (!rp__kernels_high_bits_clean16(pl->k, raw, obj->frame_size / 2,
						   obj->info->img.bits_stored,
						   obj->info->img.is_signed))
			atomic_store(&obj->dirty, true);
	}
	if (atomic_load(&obj->dirty)) {
		/* Coded targets refuse; native targets keep the stored bytes (obj_finish). */
		if (!pl->to_native)
			obj_fail(obj, dirty_error(obj, &e), e.msg);
		goto done;
	}
	if (pl->to_native) {
		uint8_t *out = malloc(obj->frame_size);
		s = out ? decode_input_frame(obj, f, out, &e) : RP_E_NOMEM;
		if (s == RP_OK) {
			obj->refs[f].data = out;
			obj->refs[f].size = obj->frame_size;
		} else {
			free(out);
		}
	} else {
		s = code_frame(obj, w, f, &e);
	}
	if (s < 0) {
		obj_fail_frame(obj, f, s, e.msg);
	} else {
		if (obj->crc)   /* only the read-back check uses it */
			obj->crc[f] = rp__crc32c(0, obj->refs[f].data, obj->refs[f].size);
		if (obj->stream)
			obj_stream_ready(obj, f);
	}
	drop_input_frame(obj, f);
done:
	if (atomic_fetch_sub_explicit(&obj->left, 1, memory_order_acq_rel) == 1)
		obj_finish(obj);
}

/* Reads the written file back: same frame count, and each frame exactly what was
 * verified (coded: the same codestream bytes; native: the same canonical frame), by size
 * and CRC32C, the frames themselves being gone by now.  For a raw copy (overlay bits
 * kept), the output's frames against the input's.  Pages are dropped as they are read,
 * as for the input. */
static int
check_output(struct rp__pl_obj *obj, const char *path, const char *ts_uid, bool raw_copy,
	     struct rp_errbuf *e)
{
	struct rp__pl *pl = obj->pl;
	const uint8_t *data;
	size_t size;
	struct rp_dicom *ds = NULL;
	uint8_t *a = NULL, *b = NULL;

	RP_TRY(map_file(path, &data, &size, e));
	int s = rp_dicom_parse(data, size, &pl->parse_opts, &ds, e);
	const struct rp_dicom_info *oi = s == RP_OK ? rp_dicom_get_info(ds) : NULL;
	if (s == RP_OK && (oi->frames != obj->nframes || !oi->has_pixels ||
			   strcmp(oi->ts->uid, ts_uid) != 0))
		s = rp__err(e, RP_E_MISMATCH, "written file reads back as %u frame(s) in %s",
			    oi->frames, oi->ts->uid);
	/* A reader applies the file's syntax to every Pixel Data it meets: icons and other
	 * images nested in sequences must decode too, not only the frames checked below. */
	if (s == RP_OK) {
		struct rp_errbuf why = { "" };
		s = rp_dicom_check_nested_pixels(ds, &why);
		if (s < 0)
			rp__err(e, s, "written file does not read back whole: %s", why.msg);
	}
	if (s == RP_OK && (pl->to_native || raw_copy)) {
		a = malloc(obj->frame_size);
		b = raw_copy ? malloc(obj->frame_size) : NULL;
		if (!a || (raw_copy && !b))
			s = RP_E_NOMEM;
	}
	uint64_t dropped = 0;
	for (uint32_t f = 0; s == RP_OK && f < obj->nframes; f++) {
		if (pl->to_native) {
			s = rp_dicom_decode_frame(ds, f, a, obj->frame_size, e);
			if (s == RP_OK && raw_copy) {
				s = rp_dicom_decode_frame(obj->ds, f, b, obj->frame_size, e);
				if (s == RP_OK && memcmp(a, b, obj->frame_size) != 0)
					s = RP_E_MISMATCH;
			} else if (s == RP_OK &&
				   rp__crc32c(0, a, obj->frame_size) != obj->crc[f]) {
				s = RP_E_MISMATCH;
			}
		} else {
			const uint8_t *cs;
			size_t n;
			uint8_t *owned = NULL;
			s = rp_dicom_encoded_frame(ds, f, &cs, &n, &owned, e);
			const size_t want = obj->refs[f].size;
			/* Items have even length (PS3.5 A.4): an odd codestream gets one
			 * trailing zero byte. */
			const bool padded = s == RP_OK && want % 2 == 1 && n == want + 1 &&
					    cs[want] == 0;
			if (s == RP_OK && ((n != want && !padded) ||
					   rp__crc32c(0, cs, want) != obj->crc[f]))
				s = RP_E_MISMATCH;
			free(owned);
		}
		if (s == RP_E_MISMATCH)
			rp__err(e, s, "frame %u of the written file differs from the verified "
				"frame", f);
		uint64_t at, n;
		if (s == RP_OK && rp_dicom_frame_span(ds, f, &at, &n) == RP_OK && at + n > dropped)
			dropped = rp__drop_mapped(data, size, dropped, at + n);
	}
	free(a);
	free(b);
	rp_dicom_free(ds);
	if (size)
		munmap((void *)data, size);
	return s;
}

static const char *
lossy_method(enum rp_codec c)
{
	/* (0028,2114) Lossy Image Compression Method, PS3.3 C.7.6.1.1.5.1. */
	return c == RP_CODEC_JPEGLS ? "ISO_14495_1" : c == RP_CODEC_J2K ? "ISO_15444_1" :
	       c == RP_CODEC_JPEG ? "ISO_10918_1" : "ISO_15444_15";
}

/* The write options for obj's output, and its action in f.  coded: the bytes of all its
 * coded frames, for a lossy ratio (lossy outputs are not streamed, so it is known). */
static void
obj_write_options(struct rp__pl_obj *obj, struct rp_pipeline_file *f, uint64_t coded,
		  struct rp_dicom_write_options *wo)
{
	struct rp__pl *pl = obj->pl;
	const struct rp_dicom_info *info = obj->info;

	rp_dicom_write_options_init(wo);
	wo->ts_uid = pl->ts_uid;
	wo->notes = &obj->notes;
	if (pl->to_native) {
		wo->photometric = info->encapsulated ? rp_dicom_decoded_photometric(obj->ds) :
			NULL;
		f->action = pl->opts->decompress ? "decompressed" : "rewritten";
		return;
	}
	if (pl->lossy) {
		wo->lossy = 1;
		wo->lossy_ratio = coded ? (double)obj->frame_size * obj->nframes / (double)coded :
			0;
		wo->lossy_method = lossy_method(pl->enc_opts.codec);
	}
	/* JPEG-LS and JPEG 2000 code interleaved colour (PS3.5 8.2). */
	if (info->img.components == 3)
		wo->planar = 0;
	/* The frames were coded as obj->img says (decoded from a compressed source they may
	 * be RGB where the source said YBR_*); YBR_RCT when the encoder applied the
	 * reversible colour transform.  A transcoded J2K YBR_RCT or JPEG YBR_FULL_422 file
	 * that kept its label would tell viewers to convert colours twice. */
	enum rp_photometric pi = rp_encoder_output_photometric(pl->probe, &obj->img);
	if (pi != (enum rp_photometric)info->img.photometric && rp_photometric_name(pi))
		wo->photometric = rp_photometric_name(pi);
	f->action = "compressed";
}

/* Whether obj's output is written frame by frame as its frames are done, so that
 * neither the input nor the output of a large object is ever held whole.  Not for what
 * the frame-by-frame writer cannot do (deflate, a lossy ratio, 1-bit native), nor for a
 * native source rewritten native: overlay bits found in any frame turn that into a copy
 * of the stored bytes, decided only once every frame is checked. */
static bool
obj_streamable(const struct rp__pl *pl, const struct rp__pl_obj *obj)
{
	const struct rp_dicom_info *info = obj->info;
	if (!info->has_pixels || pl->lossy || strcmp(pl->ts_uid, RP__TS_DEFLATED) == 0)
		return false;
	if (!pl->to_native)
		return true;
	return info->encapsulated && info->img.bits_allocated >= 8;
}

/* Writes (and checks) one object whose frames are all done; fills file f. */
static int
obj_write(struct rp__pl_obj *obj, struct rp_pipeline_file *f, struct rp_errbuf *e)
{
	struct rp__pl *pl = obj->pl;
	const struct rp_dicom_info *info = obj->info;
	int s = atomic_load(&obj->status);

	if (s < 0) {
		msg_copy(e->msg, sizeof(e->msg), obj->msg);
		return s;
	}
	if (!info->has_pixels) {
		/* Not an image (SR, presentation state, ...): carried over as it is.  An image
		 * class without pixels is copied as well (as DCMTK does), but flagged: it may
		 * be a file cut short, which nothing here can repair or tell apart. */
		f->action = "copied (no pixel data)";
		if (info->image_without_pixels)
			f->warning = "image SOP class without Pixel Data (truncated?): copied "
				     "unchanged";
		RP_TRY(rp_file_write_atomic(f->output, obj->map, obj->map_size, e));
		f->output_size = obj->map_size;
		return RP_OK;
	}
	f->pixel_size = (uint64_t)obj->frame_size * obj->nframes;
	if (atomic_load(&obj->jls_fallback))
		f->warning = "CharLS refused a JPEG-LS frame as non-conforming; decoded with "
			     "DCMTK's dcmjpls instead";
	/* Overlay bits in a native source: a native target keeps its stored bytes. */
	const bool raw_copy = atomic_load(&obj->dirty);
	if (raw_copy && (!pl->to_native || obj->stream))
		return dirty_error(obj, e);
	const uint64_t me = atomic_load(&obj->max_error);
	if (me > pl->max_error_allowed)
		return rp__err(e, RP_E_MISMATCH, "verification failed: output differs from "
			       "input (max error %llu)", (unsigned long long)me);

	/* Every frame meets the narrower syntax's rules (HTJ2K RPCL options): say so, so
	 * that readers may rely on them (PS3.5 8.2.15). */
	const char *ts_uid = pl->ts_profile && !atomic_load(&obj->not_profile) ?
			     pl->ts_profile : pl->ts_uid;
	if (obj->stream) {
		s = rp_dicom_stream_commit(obj->stream, ts_uid, e);
		obj->stream = NULL;
		RP_TRY(s);
	} else {
		uint64_t coded = 0;
		for (uint32_t i = 0; i < obj->nframes; i++)
			coded += obj->refs[i].size;
		struct rp_dicom_write_options wo;
		obj_write_options(obj, f, coded, &wo);
		wo.ts_uid = ts_uid;
		RP_TRY(rp_dicom_write_file(f->output, obj->ds, &wo, raw_copy ? NULL : obj->refs,
					   obj->nframes, e));
		for (uint32_t i = 0; i < obj->nframes; i++) {
			free((void *)obj->refs[i].data);
			obj->refs[i].data = NULL;
		}
	}
	if (obj->notes.icons_dropped)
		f->warning = "an Icon Image Sequence whose pixel data cannot be decoded was left "
			     "out";
	if (pl->opts->verify) {
		s = check_output(obj, f->output, ts_uid, raw_copy, e);
		if (s < 0) {
			remove(f->output); /* never leave an unverified file as if done */
			return s;
		}
		f->max_error = me;
	}
	struct stat st;
	f->output_size = stat(f->output, &st) == 0 ? (uint64_t)st.st_size : 0;
	f->frames = obj->nframes;
	return RP_OK;
}

static void
obj_free(struct rp__pl_obj *obj)
{
	if (obj->refs) {
		for (uint32_t i = 0; i < obj->nframes; i++)
			free((void *)obj->refs[i].data);
		free(obj->refs);
	}
	free(obj->jobs);
	free(obj->crc);
	free(obj->done);
	rp_dicom_stream_abort(obj->stream);
	rp_dicom_free(obj->ds);
	if (obj->map_size)
		munmap((void *)obj->map, obj->map_size);
	pthread_mutex_destroy(&obj->err_lock);
	pthread_mutex_destroy(&obj->write_lock);
	free(obj);
}

static void
file_done(struct rp__pl *pl, size_t index)
{
	if (pl->opts->on_done) {
		pthread_mutex_lock(&pl->done_lock);
		pl->opts->on_done(pl->opts->on_done_ctx, index, &pl->files[index]);
		pthread_mutex_unlock(&pl->done_lock);
	}
}

/* Runs once per admitted object, on the thread that finished its last frame (or that
 * took its copy job): writes, checks, releases. */
static void
obj_finish(struct rp__pl_obj *obj)
{
	struct rp__pl *pl = obj->pl;
	struct rp_pipeline_file *f = &pl->files[obj->index];
	struct rp_errbuf e = { "" };
	const size_t index = obj->index;
	const uint64_t cost = obj->cost;

	int s = obj_write(obj, f, &e);
	f->status = s;
	if (s < 0) {
		f->action = NULL;
		f->warning = NULL;
		f->frames = 0;
		f->output_size = 0;
		msg_copy(f->message, sizeof(f->message), e.msg[0] ? e.msg : rp_status_str(s));
	}
	f->seconds = now() - obj->t0;
	obj_free(obj);

	pthread_mutex_lock(&pl->lock);
	pl->reserved -= cost;
	pl->open--;
	if (s < 0 && pl->opts->stop_on_error)
		pl->stop = true;
	pthread_mutex_unlock(&pl->lock);
	file_done(pl, index);
	/* Last: the coordinator may return (and free pl) once finished == admitted. */
	pthread_mutex_lock(&pl->lock);
	pl->finished++;
	pthread_cond_broadcast(&pl->changed);
	pthread_mutex_unlock(&pl->lock);
}

static void
finish_job(void *arg, unsigned worker)
{
	(void)worker;
	obj_finish(arg);
}

/* Parses file i and decides what its frames need; RP_OK or why it cannot be taken. */
static int
obj_open(struct rp__pl *pl, struct rp__pl_obj *obj, struct rp_errbuf *e)
{
	struct rp_pipeline_file *f = &pl->files[obj->index];

	RP_TRY(map_file(f->input, &obj->map, &obj->map_size, e));
	f->input_size = obj->map_size;
	RP_TRY(rp_dicom_parse(obj->map, obj->map_size, &pl->parse_opts, &obj->ds, e));
	obj->info = rp_dicom_get_info(obj->ds);
	obj->img = obj->info->img;
	if (obj->info->encapsulated) {
		const struct rp__codec_ops *ops =
			rp__codec_ops((enum rp_codec)obj->info->ts->codec);
		if (ops && ops->decoded_photometric)
			obj->img.photometric = (uint8_t)ops->decoded_photometric(
				(enum rp_photometric)obj->info->img.photometric);
	}
	const struct rp_dicom_info *info = obj->info;
	if (!info->has_pixels && info->image_without_pixels && pl->opts->strict)
		return rp__err(e, RP_E_CORRUPT, "SOP class %s is an image class but the file "
			       "has no pixel data (truncated?)", info->sop_class_uid);
	if (!info->has_pixels)
		return RP_OK;
	obj->frame_size = rp_image_frame_size(&info->img);
	obj->nframes = info->frames;
	if (obj->frame_size == 0 || obj->nframes == 0)
		return rp__err(e, RP_E_UNSUPPORTED, "image description gives no frames");
	if (!info->encapsulated) {
		const struct rp_image_desc *img = &info->img;
		const bool needs_check = img->bits_stored < img->bits_allocated;
		obj->fast_high_bits = needs_check && img->bits_allocated == 16 &&
				      !info->ts->big_endian && !info->ts->deflated &&
				      info->pixel_value_offset + (uint64_t)obj->frame_size *
				      obj->nframes <= obj->map_size;
		if (needs_check && !obj->fast_high_bits) {
			/* Rare layouts (big endian, deflated, 8/32-bit): the parser's own scan,
			 * once, here (it records its answer in the parsed dataset). */
			int dirty = 0;
			RP_TRY(rp_dicom_scan_high_bits(obj->ds, &dirty, e));
			atomic_store(&obj->dirty, dirty != 0);
			if (dirty && !pl->to_native)
				return dirty_error(obj, e);
		}
	}
	if (!pl->to_native) {
		/* Cheap (reads no pixels), and gives the codec's own reason up front. */
		struct rp__pl_worker *w = worker_of(pl, pl->nslots - 1);
		if (!w->enc)
			RP_TRY(rp_encoder_create(&pl->enc_opts, &w->enc));
		RP_TRY(rp_encoder_check(w->enc, &obj->img, e));
	}
	obj->refs = calloc(obj->nframes, sizeof(*obj->refs));
	obj->jobs = calloc(obj->nframes, sizeof(*obj->jobs));
	if (pl->opts->verify)
		obj->crc = calloc(obj->nframes, sizeof(*obj->crc));
	if (!obj->refs || !obj->jobs || (pl->opts->verify && !obj->crc))
		return RP_E_NOMEM;
	if (!obj_streamable(pl, obj))
		return RP_OK;
	obj->done = calloc(obj->nframes, 1);
	if (!obj->done)
		return RP_E_NOMEM;
	struct rp_dicom_write_options wo;
	obj_write_options(obj, f, 0, &wo);
	return rp_dicom_stream_open(f->output, obj->ds, &wo, &obj->stream, e);
}

/* Opens file i, reserves its memory and queues its jobs (or runs them, without a pool). */
static void
admit(struct rp__pl *pl, size_t i)
{
	struct rp_pipeline_file *f = &pl->files[i];
	struct rp_errbuf e = { "" };
	struct rp__pl_obj *obj = calloc(1, sizeof(*obj));
	struct rp_pool *pool = pl->opts->pool;
	int s = obj ? RP_OK : RP_E_NOMEM;

	if (obj) {
		obj->pl = pl;
		obj->index = i;
		obj->t0 = now();
		pthread_mutex_init(&obj->err_lock, NULL);
		pthread_mutex_init(&obj->write_lock, NULL);
		atomic_init(&obj->status, RP_OK);
		atomic_init(&obj->max_error, 0);
		atomic_init(&obj->dirty, false);
		atomic_init(&obj->not_profile, false);
		s = obj_open(pl, obj, &e);
	}
	if (s < 0) {
		f->status = s;
		msg_copy(f->message, sizeof(f->message), e.msg[0] ? e.msg : rp_status_str(s));
		if (obj)
			obj_free(obj);
		if (pl->opts->stop_on_error) {
			pthread_mutex_lock(&pl->lock);
			pl->stop = true;
			pthread_mutex_unlock(&pl->lock);
		}
		file_done(pl, i);
		return;
	}
	/* Estimate: the mapped input once read, plus the frames held until the write (coded
	 * frames rarely exceed the canonical size; native targets hold exactly that).
	 * Worker buffers are charged as they grow. */
	uint64_t pixels = 0;
	if (__builtin_mul_overflow((uint64_t)obj->frame_size, obj->nframes, &pixels))
		pixels = UINT64_MAX / 4;
	obj->cost = obj->map_size + pixels;
	if (obj->stream) {
		/* Input pages are dropped as frames are coded and coded frames as they are
		 * written: the object holds its frames in flight, at most the pool's queue
		 * (four jobs per thread) and one running on each worker, each with its input
		 * and its coded bytes. */
		uint64_t window = (uint64_t)pl->nslots * 5 * 2 * obj->frame_size;
		if (window < obj->cost)
			obj->cost = window;
	}
	budget_reserve(pl, obj->cost);

	const unsigned self = pl->nslots - 1;
	if (obj->nframes == 0) {
		if (!pool || rp_pool_submit(pool, finish_job, obj) != RP_OK)
			obj_finish(obj);
		return;
	}
	atomic_init(&obj->left, obj->nframes);
	/* Jobs may finish the object (and free it) before this loop ends: read only the
	 * locals after the first submit. */
	const uint32_t n = obj->nframes;
	struct rp__pl_job *jobs = obj->jobs;
	for (uint32_t j = 0; j < n; j++) {
		jobs[j].obj = obj;
		jobs[j].frame = j;
	}
	for (uint32_t j = 0; j < n; j++)
		if (!pool || rp_pool_submit(pool, frame_job, &jobs[j]) != RP_OK)
			frame_job(&jobs[j], self);
}

int
rp_pipeline_run(const struct rp_pipeline_options *opts, struct rp_pipeline_file *files,
		size_t count, struct rp_pipeline_stats *stats, struct rp_errbuf *err)
{
	if (!opts || opts->struct_size < sizeof(*opts) || (count && !files))
		return rp__err(err, RP_E_INVALID_ARG, "bad pipeline arguments");
	for (size_t i = 0; i < count; i++) {
		if (!files[i].input || !files[i].output)
			return rp__err(err, RP_E_INVALID_ARG, "file %zu has no input or output",
				       i);
		const char *in = files[i].input, *out = files[i].output;
		memset(&files[i], 0, sizeof(files[i]));
		files[i].input = in;
		files[i].output = out;
	}

	struct rp__pl pl = { .opts = opts, .files = files };
	pl.enc_opts = opts->encoder;
	pl.enc_opts.pool = NULL; /* parallelism is across frames, not inside one */
	rp_dicom_options_init(&pl.parse_opts);
	pl.parse_opts.drop_behind = 1;
	pl.k = rp__kernels_for(rp__isa_select(pl.enc_opts.max_isa));
	pl.budget = opts->memory_budget ? opts->memory_budget : RP__PIPELINE_DEFAULT_BUDGET;
	pl.nslots = rp_pool_threads(opts->pool) + 1;
	pl.to_native = pl.enc_opts.codec == RP_CODEC_NATIVE ||
		       pl.enc_opts.codec == RP_CODEC_DEFLATE || opts->decompress;

	/* The target syntax and lossiness come from the encoder itself, so they match the
	 * frames it makes. */
	if (pl.to_native) {
		pl.ts_uid = pl.enc_opts.codec == RP_CODEC_DEFLATE && !opts->decompress ?
				    RP__TS_DEFLATED : RP__TS_EXPLICIT_LE;
	} else {
		int s = rp_encoder_create(&pl.enc_opts, &pl.probe);
		if (s < 0)
			return rp__err(err, s, "cannot create the %s encoder",
				       rp_codec_name(pl.enc_opts.codec) ?
				       rp_codec_name(pl.enc_opts.codec) : "?");
		pl.ts_uid = rp_encoder_transfer_syntax(pl.probe);
		pl.lossy = rp_encoder_is_lossy(pl.probe);
		pl.ts_profile = pl.lossy ? NULL :
				rp__codec_ops(pl.enc_opts.codec)->ts_lossless_profile;
		if (!pl.ts_uid) {
			rp_encoder_destroy(pl.probe);
			return rp__err(err, RP_E_UNSUPPORTED, "%s has no transfer syntax",
				       rp_codec_name(pl.enc_opts.codec));
		}
		/* Near-lossless promises |x - x'| <= NEAR; other lossy coding no bound. */
		pl.max_error_allowed = !pl.lossy ? 0 :
				       pl.enc_opts.near_lossless > 0 ?
				       (uint64_t)pl.enc_opts.near_lossless : UINT32_MAX;
	}
	pl.w = calloc(pl.nslots, sizeof(*pl.w));
	if (!pl.w) {
		rp_encoder_destroy(pl.probe);
		return rp__err(err, RP_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.changed, NULL);
	pthread_mutex_init(&pl.done_lock, NULL);

	for (size_t i = 0; i < count; i++) {
		pthread_mutex_lock(&pl.lock);
		bool stop = pl.stop;
		pthread_mutex_unlock(&pl.lock);
		if (stop)
			break;
		admit(&pl, i);
	}
	/* Wait for our own objects only: the pool may be shared with other work. */
	pthread_mutex_lock(&pl.lock);
	while (pl.finished < pl.admitted)
		pthread_cond_wait(&pl.changed, &pl.lock);
	pthread_mutex_unlock(&pl.lock);

	for (unsigned i = 0; i < pl.nslots; i++) {
		rp_encoder_destroy(pl.w[i].enc);
		rp_decoder_destroy(pl.w[i].dec);
		free(pl.w[i].buf[0]);
		free(pl.w[i].buf[1]);
	}
	free(pl.w);
	rp_encoder_destroy(pl.probe);
	pthread_cond_destroy(&pl.changed);
	pthread_mutex_destroy(&pl.lock);
	pthread_mutex_destroy(&pl.done_lock);

	if (stats) {
		stats->budget = pl.budget;
		stats->peak_reserved = pl.peak_reserved;
		stats->peak_files_open = pl.peak_open;
		stats->threads = rp_pool_threads(opts->pool);
	}
	for (size_t i = 0; i < count; i++)
		if (files[i].status < 0)
			return rp__err(err, files[i].status, "%s: %s", files[i].input,
				       files[i].message);
	return RP_OK;
}
