/* SPDX-License-Identifier: BSD-3-Clause */
/* common/fileio.h - atomic file creation (temporary name, fsync, rename, fsync dir). */
#ifndef RP_COMMON_FILEIO_H
#define RP_COMMON_FILEIO_H

#include "common/internal.h"

struct rp__atomic_file {
	int fd;
	int write_errno;
	char *path;                  /* final name */
	char *tmp;                   /* temporary name, same directory */
};

/* Creates the temporary file.  On failure nothing is left behind. */
int rp__atomic_open(struct rp__atomic_file *f, const char *path, struct rp_errbuf *err);
/* An rp_write_fn: appends to the temporary file (ctx is the rp__atomic_file). */
int rp__atomic_write(void *ctx, const void *data, size_t size);
/* fsync, rename to the final name, fsync the directory; frees f either way. */
int rp__atomic_commit(struct rp__atomic_file *f, struct rp_errbuf *err);
/* Removes the temporary file and frees f. */
void rp__atomic_abort(struct rp__atomic_file *f);
/* fsync of the directory holding path. */
int rp__fsync_parent(const char *path, struct rp_errbuf *err);

#endif /* RP_COMMON_FILEIO_H */
