/* SPDX-License-Identifier: BSD-3-Clause */
/* common/fileio.h - atomic file creation (temporary name, fsync, rename, fsync dir),
 * whole-buffer reads and writes on descriptors, and dropping pages of a read-only map. */
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

/* RP_E_NOSPACE for a full disk or quota, else RP_E_IO. */
int rp__errno_status(int e);
/* Write / read exactly n bytes, retrying short transfers and EINTR.  0, or -1 with errno
 * set (a read that meets end of file first is -1 too, errno left as it was). */
int rp__write_full(int fd, const void *p, size_t n);
int rp__pwrite_full(int fd, const void *p, size_t n, uint64_t off);
int rp__pread_full(int fd, void *p, size_t n, uint64_t off);

/* Drops the whole pages within bytes [from, to) of a private, never-written map of
 * map_size bytes (a later read maps them again from the page cache); returns the offset
 * where they end, the `from` of the next call of a reader walking forward.  Only pages
 * wholly inside the range: touching a dropped page maps its whole folio again (tmpfs
 * and ext4 cache files in large folios), so a page still to be read must stay. */
uint64_t rp__drop_mapped(const void *map, size_t map_size, uint64_t from, uint64_t to);

#endif /* RP_COMMON_FILEIO_H */
