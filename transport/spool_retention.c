/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/spool_retention.c - removes session spools (DIR/.radpipe/<session>/) that
 * nobody has touched for the retention time: sessions whose sender died, gave up, failed
 * or was refused leave full copies of studies behind, and a server that runs for months
 * must not fill its disk with them.  A spool in memory (a session in use) is never
 * removed, and neither is one touched within the retention time, so a sender that
 * reruns within it still resumes. */
#include "transport/serve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool
is_session_name(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++)
		if (!((name[n] >= '0' && name[n] <= '9') || (name[n] >= 'a' && name[n] <= 'f')))
			return false;
	return n == 2 * RP__SESSION_ID_SIZE;
}

/* A listing of dirfd from its start, leaving dirfd itself open (a dup shares the file
 * offset, so each listing rewinds).  NULL when it cannot be read. */
static DIR *
open_listing(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* Newest modification time of the directory and the files directly in it (the journal
 * and the spool files change with every chunk; the directory when files come and go). */
static double
newest_mtime(int dirfd)
{
	struct stat st;
	double newest = fstat(dirfd, &st) == 0 ? (double)st.st_mtim.tv_sec : 0;
	DIR *d = open_listing(dirfd);
	if (!d)
		return newest;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, "..") != 0 &&
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (double)st.st_mtim.tv_sec > newest)
			newest = (double)st.st_mtim.tv_sec;
	closedir(d);
	return newest;
}

/* Removes everything below dirfd (not following symlinks), then nothing else. */
static int
remove_tree(int dirfd, int depth)
{
	DIR *d = depth > 64 ? NULL : open_listing(dirfd);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || remove_tree(sub, depth + 1) < 0)
				rc = -1;
			if (sub >= 0)
				close(sub);
			if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0)
				rc = -1;
		} else if (unlinkat(dirfd, e->d_name, 0) < 0) {
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

void
rp__spool_reap(struct rp_server *srv)
{
	double keep = srv->o->spool_retention_s;
	if (keep <= 0)
		return;
	DIR *d = open_listing(srv->radfd);
	if (!d)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_session_name(e->d_name))
			continue;
		/* Held across the check and the removal: opening a session (serve.c) takes it
		 * too, so a sender resuming this very session waits rather than write into a
		 * spool that is being removed. */
		pthread_mutex_lock(&srv->spool_mu);
		pthread_mutex_lock(&srv->mu);
		bool busy = rp__session_in_memory(srv, e->d_name);
		pthread_mutex_unlock(&srv->mu);
		int sdir = busy ? -1
				: openat(srv->radfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sdir >= 0) {
			double idle = (double)now.tv_sec - newest_mtime(sdir);
			if (idle > keep) {
				bool ok = remove_tree(sdir, 0) == 0 &&
					  unlinkat(srv->radfd, e->d_name, AT_REMOVEDIR) == 0;
				rp__srv_log(srv, ok ? "spool_removed" : "spool_remove_error", NULL,
					    e->d_name, ok ? NULL : strerror(errno),
					    "\"idle_s\":%.0f", idle);
			}
			close(sdir);
		}
		pthread_mutex_unlock(&srv->spool_mu);
	}
	closedir(d);
}
