/* SPDX-License-Identifier: BSD-3-Clause */
/* net/instance_store.c - where a received instance goes: a temporary file under
 * DIR/.incoming, then fsync, rename to DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm and
 * fsync of both directories, so that a success answered to the modality means the
 * instance survives a power cut.  Instances are grouped by study UID, never by the
 * sender's directory names. */
#include "net/store_scp.h"
#include "transport/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool
rp__uid_is_safe(const char *uid)
{
	size_t n = uid ? strlen(uid) : 0;
	if (n == 0 || n > 64 || uid[0] == '.' || uid[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (uid[i] == '.') {
			if (uid[i + 1] == '.')
				return false;
		} else if (uid[i] < '0' || uid[i] > '9') {
			return false;
		}
	}
	return true;
}

static int
errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT ? RP_E_NOSPACE : RP_E_IO;
}

static int
fsync_dir(const char *path, struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	int r = fsync(fd);
	int e = errno;
	close(fd);
	return r == 0 ? RP_OK : rp__err(err, errno_status(e), "fsync %s: %s", path, strerror(e));
}

int
rp__instance_tmpname(const char *dir, char *out, size_t cap, struct rp_errbuf *err)
{
	static atomic_uint counter;
	char inc[4096];
	snprintf(inc, sizeof(inc), "%s/.incoming", dir);
	if (mkdir(inc, 0750) != 0 && errno != EEXIST)
		return rp__err(err, errno_status(errno), "%s: %s", inc, strerror(errno));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = snprintf(out, cap, "%s/%ld-%lld-%u.part", inc, (long)getpid(),
			 (long long)ts.tv_sec, atomic_fetch_add(&counter, 1));
	if (n < 0 || (size_t)n >= cap)
		return rp__err(err, RP_E_LIMIT, "%s: path too long", inc);
	return RP_OK;
}

static int
fd_sha256(int fd, const char *path, uint8_t sha256[32], struct rp_errbuf *err)
{
	struct rp__sha256 *h;
	int s = rp__sha256_create(&h);
	if (s != RP_OK)
		return s;
	static const size_t BUF = 1 << 20;
	uint8_t *buf = malloc(BUF);
	if (!buf)
		s = RP_E_NOMEM;
	for (uint64_t off = 0; s == RP_OK;) {
		ssize_t r = pread(fd, buf, BUF, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			s = rp__err(err, RP_E_IO, "read %s: %s", path, strerror(errno));
		if (r <= 0)
			break;
		rp__sha256_update(h, buf, (size_t)r);
		off += (uint64_t)r;
	}
	free(buf);
	rp__sha256_final(h, sha256);
	rp__sha256_destroy(h);
	return s;
}

int
rp__file_sha256(const char *path, uint8_t sha256[32], struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	int s = fd_sha256(fd, path, sha256, err);
	close(fd);
	return s;
}

/* SHA-256 of the file and fsync, through one descriptor. */
static int
hash_and_sync(const char *path, uint32_t mode, uint8_t sha256[32], struct rp_errbuf *err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	int s = fd_sha256(fd, path, sha256, err);
	if (s == RP_OK && fchmod(fd, mode) != 0)
		s = rp__err(err, RP_E_IO, "chmod %s: %s", path, strerror(errno));
	if (s == RP_OK && fsync(fd) != 0)
		s = rp__err(err, errno_status(errno), "fsync %s: %s", path, strerror(errno));
	close(fd);
	return s;
}

int
rp__instance_commit(const char *dir, const char *tmp, const char *study_uid,
		    const char *sop_uid, uint32_t file_mode, uint8_t sha256[32],
		    struct rp_errbuf *err)
{
	int s = RP_OK;
	char study_dir[4200], final[4300];
	if (!rp__uid_is_safe(study_uid) || !rp__uid_is_safe(sop_uid)) {
		s = rp__err(err, RP_E_CORRUPT, "Study or SOP Instance UID '%s' / '%s' is not a "
			    "valid UID", study_uid ? study_uid : "", sop_uid ? sop_uid : "");
		goto fail;
	}
	snprintf(study_dir, sizeof(study_dir), "%s/%s", dir, study_uid);
	snprintf(final, sizeof(final), "%s/%s.dcm", study_dir, sop_uid);
	if ((s = hash_and_sync(tmp, file_mode, sha256, err)) != RP_OK)
		goto fail;
	uint32_t dir_mode = file_mode | ((file_mode & 0444) >> 2);
	if (mkdir(study_dir, dir_mode) == 0) {
		if ((s = fsync_dir(dir, err)) != RP_OK)
			goto fail;
	} else if (errno != EEXIST) {
		s = rp__err(err, errno_status(errno), "%s: %s", study_dir, strerror(errno));
		goto fail;
	}
	if (rename(tmp, final) != 0) {
		s = rp__err(err, errno_status(errno), "rename to %s: %s", final, strerror(errno));
		goto fail;
	}
	return fsync_dir(study_dir, err);
fail:
	unlink(tmp);
	return s;
}

void
rp__net_log(rp_log_fn *log, void *ctx, const char *event, const char *peer, const char *sop,
	    const char *reason)
{
	if (!log)
		return;
	struct rp__wbuf b = {0};
	rp__log_begin(&b, event);
	rp__log_field(&b, "peer", peer);
	rp__log_field(&b, "sop", sop);
	rp__log_field(&b, "reason", reason);
	rp__put_bytes(&b, "}", 2);
	if (!b.failed)
		log(ctx, (const char *)b.p);
	rp__wbuf_free(&b);
}
