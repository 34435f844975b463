/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/pack.h - one object's in-flight form (FORMAT.md section 5), as the sender
 * makes it: the input read whole and checked against what the scan saw, then its frames
 * encoded when the format allows it and they come out smaller, else the file verbatim.
 * No connection, queue or thread: transport/send.c owns those. */
#ifndef RP_TRANSPORT_PACK_H
#define RP_TRANSPORT_PACK_H

#include "transport/frame.h"

#include <sys/stat.h>

/* One input file.  Inputs are read with pread, never mapped: a file truncated under a
 * mapping kills the process with SIGBUS, where a read just comes up short.  What the
 * scan saw (size, inode, mtime, ctime) is checked again around every later read, so a
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

/* An object's in-flight form as up to four pieces (FORMAT.md section 5). */
struct rp__inflight {
	struct rp__wbuf hdr;
	uint8_t *file;               /* the input's bytes, owned */
	uint8_t *enc;                /* encoded frames, owned */
	struct {
		const uint8_t *p;
		size_t n;
	} seg[4];
	int nseg;
	uint64_t len;
	bool framed;
};

/* The file st describes is still the one the scan saw (device, inode, size, times). */
bool rp__src_same(const struct rp__src *in, const struct stat *st);
/* RP_E_IO naming the input that changed during the send. */
int rp__src_changed(struct rp_errbuf *err, const struct rp__src *in);

/* Reads `in` and builds object `index` of the stream: framed with `codec` (the encoder
 * in *enc, created on first use and kept by the caller) when it can be, else verbatim.
 * Deterministic: the same input gives the same bytes, which NEED answers rely on. */
int rp__inflight_build(const struct rp__src *in, uint32_t index, enum rp_codec codec,
		       struct rp_encoder **enc, struct rp__inflight *f, struct rp_errbuf *err);
void rp__inflight_free(struct rp__inflight *f);

#endif /* RP_TRANSPORT_PACK_H */
