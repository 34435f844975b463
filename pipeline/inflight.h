/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/inflight.h - one object's in-flight form (FORMAT.md section 5).  Pack, as
 * the sender makes it: the input checked against what the scan saw, then its frames read
 * and encoded in rounds on the pool when the format allows it and they come out smaller,
 * else the file verbatim, read as it is sent.  Unpack, as the receiver undoes it: the
 * original bytes rebuilt from the prefix, the decoded frames (in rounds) and the suffix,
 * the pixel hash checked, and for `--deliver compressed` the same frames written as
 * encapsulated DICOM.  Every codec and DICOM call of send and serve is here: no
 * connection, queue, thread or spool (transport/ owns those), and the unpack takes
 * hostile bytes (tests/fuzz/fuzz_inflight.c). */
#ifndef RP_PIPELINE_INFLIGHT_H
#define RP_PIPELINE_INFLIGHT_H

#include "transport/frame.h"

#include <sys/stat.h>

/* One input file.  Inputs are read with pread, not through a mapping: a file truncated
 * under a mapping kills the process with SIGBUS, where a read just comes up short (the
 * one exception, the parse of the data set's elements, is in inflight_pack.c).  What the
 * scan saw (size, inode, mtime, ctime) is checked again after every later read, so a
 * file that changes during the send is refused by name instead of sent inconsistent. */
struct rp__src {
	const char *path;
	size_t size;
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	uint8_t sha256[32];
	int status;
	char msg[RP_ERRBUF_SIZE];
};

/* An object's in-flight form as up to four pieces (FORMAT.md section 5): the header,
 * then either the input's bytes (verbatim, read from the file as they are sent) or the
 * prefix, the encoded frames and the suffix (framed, held).  What is held is the header,
 * prefix, suffix and encoded frames, never the input whole. */
struct rp__inflight_seg {
	const uint8_t *p;            /* NULL: bytes [off, off + n) of the input file */
	uint64_t off, n;
};
struct rp__inflight {
	struct rp__wbuf hdr;
	const struct rp__src *src;
	int fd;                      /* the input, open while has_fd */
	bool has_fd;
	uint8_t *prefix, *suffix, *enc;  /* owned */
	struct rp__inflight_seg seg[4];
	int nseg;
	uint64_t len;
	bool framed;
};

/* Frames coded in one round of rp_pool_parallel_for() by the pack and the unpack: four
 * per thread (so that no thread idles on the round's slowest frame for long), at most
 * 64 MiB of round buffers (per_frame bytes each), at least one, at most `frames`. */
static inline size_t
rp__inflight_round(struct rp_pool *pool, size_t per_frame, uint32_t frames)
{
	size_t n = 4 * ((size_t)rp_pool_threads(pool) + 1);
	size_t mem = ((size_t)64 << 20) / per_frame;
	if (n > mem)
		n = mem;
	if (n < 1)
		n = 1;
	return n < frames ? n : frames;
}

/* The file st describes is still the one the scan saw (device, inode, size, times). */
bool rp__src_same(const struct rp__src *in, const struct stat *st);
/* RP_E_IO naming the input that changed during the send. */
int rp__src_changed(struct rp_errbuf *err, const struct rp__src *in);

/* Builds object `index` of the stream from `in` (borrowed; must outlive f): framed with
 * `codec` when it can be and the frames come out smaller, else verbatim.  Frames are read
 * and encoded in rounds spread over `pool` (NULL: this thread alone), so one large object
 * uses every core.  enc holds an encoder per thread that may run: rp_pool_threads(pool)
 * + 1 slots, created on first use and kept by the caller; `self` is the calling thread's
 * slot (its worker index, or rp_pool_threads(pool) outside the pool).  Deterministic: the
 * same input gives the same bytes on any pool, which NEED answers and resumes rely on. */
int rp__inflight_build(const struct rp__src *in, uint32_t index, enum rp_codec codec,
		       struct rp_pool *pool, struct rp_encoder **enc, unsigned self,
		       struct rp__inflight *f, struct rp_errbuf *err);
/* Copies bytes [off, off + n) of the in-flight form to out, reading the input where
 * that is where they are (with the checks of rp__src: a file that changed since the
 * scan is RP_E_IO naming it). */
int rp__inflight_copy(struct rp__inflight *f, uint64_t off, void *out, size_t n,
		      struct rp_errbuf *err);
void rp__inflight_free(struct rp__inflight *f);
/* Frees an encoder rp__inflight_build() created; NULL is a no-op. */
void rp__inflight_encoder_free(struct rp_encoder *enc);

/* The coders an unpacker creates on first use, kept between objects.  `pool` (borrowed,
 * set before the first unpack and not changed after) decodes rounds of a framed object's
 * frames on every core; NULL: the calling thread decodes them all. */
struct rp__inflight_coders {
	struct rp_pool *pool;
	struct rp_decoder **dec;     /* (rp_pool_threads(pool) + 1) x 16 codecs */
	struct rp_encoder *enc[16];  /* for the transfer syntax of --deliver compressed */
};
void rp__inflight_coders_free(struct rp__inflight_coders *c);

/* Receives the rebuilt original in order; 0, or -1 with errno set. */
typedef int rp__inflight_sink(void *ctx, const void *p, size_t n);

/* rp__inflight_unpack() flag: body is a read-only file mapping (MAP_SHARED or a private
 * one never written), whose pages may be handed back to the kernel behind the unpack.  On
 * any other buffer this would lose its contents. */
#define RP__UNPACK_DROP_BEHIND 1u

/* Rebuilds the original bytes of the object whose header is h and whose h->body_len
 * body bytes are at body, handing them to sink in order.  Framed objects' frames are
 * decoded and their pixel hash checked against the header's (RP_E_MISMATCH); a frame
 * that does not decode is RP_E_CORRUPT naming it; a sink error is RP_E_IO (or
 * RP_E_NOSPACE) with the sink's errno.  The manifest's SHA-256 of the whole is the
 * caller's to check.  `name` labels messages. */
int rp__inflight_unpack(struct rp__inflight_coders *c, const struct rp__objhdr *h,
			const uint8_t *body, unsigned flags, const char *name,
			rp__inflight_sink *sink, void *ctx, struct rp_errbuf *err);
/* For a framed object whose original (orig_size bytes at orig) was rebuilt and verified:
 * writes it to path (atomically) as encapsulated DICOM whose frames are the codestreams
 * in its body, in the codec's transfer syntax (HTJ2K's narrower .202 when every frame
 * meets its rules, as `compress` labels the same frames). */
int rp__inflight_write_compressed(struct rp__inflight_coders *c, const struct rp__objhdr *h,
				  const uint8_t *body, const uint8_t *orig, size_t orig_size,
				  const char *path, struct rp_errbuf *err);

#endif /* RP_PIPELINE_INFLIGHT_H */
