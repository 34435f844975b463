/* SPDX-License-Identifier: BSD-3-Clause */
/* common/fileio.c - atomic file creation: write to a temporary name in the target's
 * directory, fsync, rename over the final name, fsync the directory.  A crash at any
 * point leaves either the old file or the complete new one, never a truncated one. */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int
rp__errno_status(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? RP_E_NOSPACE : RP_E_IO;
}

int
rp__write_full(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t r = write(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* pread or pwrite until n bytes moved; an end of file or a write of nothing is -1. */
static int
positioned_full(int fd, uint8_t *b, size_t n, uint64_t off, bool writing)
{
	while (n) {
		ssize_t r = writing ? pwrite(fd, b, n, (off_t)off) : pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 && writing)
				errno = EIO;
			return -1;
		}
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
rp__pwrite_full(int fd, const void *p, size_t n, uint64_t off)
{
	return positioned_full(fd, (uint8_t *)(uintptr_t)p, n, off, true);
}

int
rp__pread_full(int fd, void *p, size_t n, uint64_t off)
{
	return positioned_full(fd, p, n, off, false);
}

int
rp__atomic_open(struct rp__atomic_file *f, const char *path, struct rp_errbuf *err)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	size_t n = strlen(path);
	if (n == 0 || n > 4000)
		return rp__err(err, RP_E_INVALID_ARG, "%s: bad output path", path);
	f->path = strdup(path);
	f->tmp = malloc(n + 64);
	if (!f->path || !f->tmp) {
		rp__atomic_abort(f);
		return RP_E_NOMEM;
	}
	/* A dot-prefixed temporary in the same directory, so the rename stays atomic (same
	 * file system) and directory listings of completed files never show it as final. */
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	/* Not mkstemp(): it creates mode 0600, and the delivered file would then be
	 * unreadable to the archive's other users.  O_EXCL with mode 0666 lets the umask
	 * decide, as for any file a tool writes; the name is unique per process and call,
	 * and a collision with a stale temporary just takes the next number.  The final
	 * name is not part of it: a long leaf plus a suffix would pass NAME_MAX. */
	static atomic_uint seq;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(f->tmp, n + 64, "%.*s.rp-tmp-%x-%x-%lx", (int)dirlen, path,
			 (unsigned)getpid(), atomic_fetch_add(&seq, 1),
			 (unsigned long)ts.tv_nsec);
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (f->fd >= 0 || errno != EEXIST)
			break;
	}
	if (f->fd < 0) {
		int e = errno;
		int st = rp__err(err, rp__errno_status(e), "%s: cannot create temporary file: %s",
				 path, strerror(e));
		free(f->tmp);
		f->tmp = NULL;
		rp__atomic_abort(f);
		return st;
	}
	return RP_OK;
}

int
rp__atomic_write(void *ctx, const void *data, size_t size)
{
	struct rp__atomic_file *f = ctx;
	const char *p = data;
	while (size) {
		ssize_t w = write(f->fd, p, size);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			f->write_errno = errno;
			return rp__errno_status(errno);
		}
		p += w;
		size -= (size_t)w;
	}
	return RP_OK;
}

int
rp__atomic_commit(struct rp__atomic_file *f, struct rp_errbuf *err)
{
	int st = RP_OK;
	if (f->write_errno) {
		st = rp__err(err, rp__errno_status(f->write_errno), "%s: write failed: %s", f->path,
			     strerror(f->write_errno));
		goto fail;
	}
	if (fsync(f->fd) != 0) {
		int e = errno;
		st = rp__err(err, rp__errno_status(e), "%s: fsync failed: %s", f->path, strerror(e));
		goto fail;
	}
	if (close(f->fd) != 0) {
		int e = errno;
		f->fd = -1;
		st = rp__err(err, rp__errno_status(e), "%s: close failed: %s", f->path, strerror(e));
		goto fail;
	}
	f->fd = -1;
	if (rename(f->tmp, f->path) != 0) {
		int e = errno;
		st = rp__err(err, RP_E_IO, "%s: rename failed: %s", f->path, strerror(e));
		goto fail;
	}
	free(f->tmp);
	f->tmp = NULL;
	st = rp__fsync_parent(f->path, err);
	rp__atomic_abort(f);
	return st;
fail:
	rp__atomic_abort(f);
	return st;
}

void
rp__atomic_abort(struct rp__atomic_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	f->fd = -1;
	f->tmp = NULL;
	f->path = NULL;
}

int
rp__fsync_parent(const char *path, struct rp_errbuf *err)
{
	char *copy = strdup(path);
	if (!copy)
		return RP_E_NOMEM;
	const char *dir = dirname(copy);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int st = RP_OK;
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		st = rp__err(err, RP_E_IO, "%s: cannot sync directory: %s", dir, strerror(e));
	}
	if (fd >= 0)
		close(fd);
	free(copy);
	return st;
}

int
rp_file_write_atomic(const char *path, const void *data, size_t size, struct rp_errbuf *err)
{
	if (!path || (!data && size))
		return RP_E_INVALID_ARG;
	struct rp__atomic_file f;
	RP_TRY(rp__atomic_open(&f, path, err));
	int st = rp__atomic_write(&f, data, size);
	if (st < 0) {
		rp__err(err, st, "%s: write failed: %s", path, strerror(f.write_errno));
		rp__atomic_abort(&f);
		return st;
	}
	return rp__atomic_commit(&f, err);
}

uint64_t
rp__drop_mapped(const void *map, size_t map_size, uint64_t from, uint64_t to)
{
	const uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	if (to > map_size)
		to = map_size;
	from = (from + pg - 1) & ~(pg - 1);
	to &= ~(pg - 1);
	if (map && from < to)
		(void)madvise((uint8_t *)map + from, (size_t)(to - from), MADV_DONTNEED);
	return to > from ? to : from;
}
