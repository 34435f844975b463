/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/deliver.c - delivery of a session's objects from its reassembled stream.
 * One walker steps over the in-flight objects in stream order, as soon as each one's
 * bytes are in the spool (while the transfer goes on) and once more at the end.  Each
 * object is rebuilt into the stage under a temporary name of its own, checked against
 * its pixel hash and the manifest's SHA-256, then, in batches, fsync'ed, renamed and
 * journaled; the session's top-level entries move into DIR only when every object is
 * verified.  Nothing here sends a frame or writes a log line. */
#include "transport/deliver.h"
#include "pipeline/inflight.h"
#include "transport/transport.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A delivered file whose fsync, rename and journal record wait for the next batch. */
#define BATCH_MAX 32
#define BATCH_MAX_S 0.5
struct pending {
	int fd, dfd;                 /* -1 when already durable (compressed delivery) */
	uint32_t index;
	uint64_t size;
	char tmp[32], leaf[256];
};

struct rp__deliver {
	struct rp__spool *spool;
	const struct rp__manifest *mf;
	char session[33];
	int dest_fd;
	char *dest_name, *stage_path;
	bool compressed;
	mode_t file_mode;

	pthread_mutex_t mu;          /* one walker at a time; everything below */
	uint64_t pos;                /* stream offset of the next object to look at */
	uint32_t next;               /* its index */
	struct rp__inflight_coders coders;   /* kept for the session */
	struct pending batch[BATCH_MAX];
	unsigned nbatch;
	double batch_t0;
	int stage;                   /* stage/ directory, opened on first delivery */
	uint8_t *held;               /* per object: DIR already held identical bytes */
};

static int
io_err(struct rp_errbuf *err, const struct rp__deliver *d, const char *what, int e)
{
	return rp__err(err, rp__errno_status(e), "session %s: %s: %s", d->session, what,
		       strerror(e));
}

int
rp__deliver_create(const struct rp__deliver_config *cfg, struct rp__deliver **ret)
{
	struct rp__deliver *d = calloc(1, sizeof(*d));
	*ret = NULL;
	if (!d)
		return RP_E_NOMEM;
	d->spool = cfg->spool;
	d->mf = rp__spool_manifest(cfg->spool);
	snprintf(d->session, sizeof(d->session), "%s", cfg->session);
	d->dest_fd = cfg->dest_fd;
	d->dest_name = strdup(cfg->dest_name);
	d->stage_path = strdup(cfg->stage_path);
	d->compressed = cfg->compressed;
	d->file_mode = cfg->file_mode;
	d->coders.pool = cfg->pool;
	d->stage = -1;
	pthread_mutex_init(&d->mu, NULL);
	if (!d->dest_name || !d->stage_path) {
		rp__deliver_destroy(d);
		return RP_E_NOMEM;
	}
	*ret = d;
	return RP_OK;
}

void
rp__deliver_destroy(struct rp__deliver *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->nbatch; i++) {
		if (d->batch[i].fd >= 0)
			close(d->batch[i].fd);
		if (d->batch[i].dfd >= 0)
			close(d->batch[i].dfd);
	}
	rp__inflight_coders_free(&d->coders);
	if (d->stage >= 0)
		close(d->stage);
	free(d->dest_name);
	free(d->stage_path);
	free(d->held);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* ------------------------------------------------------------------------------------ */
/* One object */

/* Opens (creating, with mode dir_mode) every directory of `path` below `base`, refusing
 * symlinks.  With sync, each directory that gained an entry is fsync'ed, so that a crash
 * cannot lose the path to a file later renamed into it. */
static int
open_parent(int base, const char *path, mode_t dir_mode, bool sync, const char **leaf,
	    struct rp_errbuf *err)
{
	int fd = dup(base);
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		char comp[256];
		size_t n = (size_t)(slash - p);
		memcpy(comp, p, n);
		comp[n] = 0;
		if (mkdirat(fd, comp, dir_mode) == 0) {
			/* Exactly the configured mode, whatever the process umask. */
			(void)fchmodat(fd, comp, dir_mode, 0);
			if (sync && fsync(fd) < 0) {
				int e = errno;
				close(fd);
				return rp__err(err, rp__errno_status(e), "fsync the directory of %s: %s",
					       comp, strerror(e));
			}
		} else if (errno != EEXIST) {
			int e = errno;
			close(fd);
			return rp__err(err, rp__errno_status(e), "mkdir %s: %s", comp, strerror(e));
		}
		int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (nfd < 0)
			return rp__err(err, RP_E_IO, "open directory %s: %s", comp, strerror(e));
		fd = nfd;
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

/* Where a rebuilt original goes: its file, or (for --deliver compressed) a temporary in
 * the stage that is mapped, parsed and rewritten once its SHA-256 is verified: in a file,
 * not in memory, so that an object of any size stays out of resident memory. */
struct out {
	int fd;
	struct rp__sha256 *sha;
	uint64_t written;
};

/* The rp__inflight_sink of deliver_object(): ctx is its struct out. */
static int
out_write(void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;
	if (rp__write_full(o->fd, p, n) < 0)
		return -1;
	rp__sha256_update(o->sha, p, n);
	o->written += n;
	return 0;
}

static int
deliver_object(struct rp__deliver *d, uint32_t j, const struct rp__objhdr *h,
	       const uint8_t *body, struct rp_errbuf *err)
{
	bool compressed = d->compressed && h->kind == RP__OBJ_FRAMED;
	const struct rp__mentry *e = &d->mf->e[j];
	const char *leaf = NULL;
	mode_t file_mode = d->file_mode & 07777;
	int dfd = open_parent(d->stage, e->path, rp__dir_mode(file_mode), false, &leaf, err);
	if (dfd < 0)
		return dfd;
	/* The stage belongs to this session alone, so the object index names the temporary
	 * uniquely, at a fixed length whatever the final name's length (a copy of a long
	 * leaf would be cut, and two cut names could collide). */
	char tmp[32];
	snprintf(tmp, sizeof(tmp), ".rp-%" PRIu32 ".tmp", j);
	struct out o = {.fd = -1};
	int st = rp__sha256_create(&o.sha);
	if (st < 0)
		goto out;
	if (e->size > SIZE_MAX) {
		st = rp__err(err, RP_E_UNSUPPORTED, "%s: too large for this machine", e->path);
		goto out;
	}
	/* A leftover of an interrupted earlier delivery of this object is replaced.  The
	 * original rebuilt for --deliver compressed is read back, hence O_RDWR. */
	(void)unlinkat(dfd, tmp, 0);
	o.fd = openat(dfd, tmp, (compressed ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL |
		      O_NOFOLLOW | O_CLOEXEC, file_mode);
	if (o.fd >= 0 && fchmod(o.fd, file_mode) < 0) {
		st = rp__err(err, rp__errno_status(errno), "%s: chmod: %s", e->path,
			     strerror(errno));
		goto out;
	}
	if (o.fd < 0) {
		st = rp__err(err, rp__errno_status(errno), "%s: %s", e->path, strerror(errno));
		goto out;
	}
	if ((st = rp__inflight_unpack(&d->coders, h, body, RP__UNPACK_DROP_BEHIND, e->path,
				       out_write, &o, err)) < 0)
		goto out;
	uint8_t sha[32];
	rp__sha256_final(o.sha, sha);
	if (o.written != e->size || memcmp(sha, e->sha256, 32) != 0) {
		st = rp__err(err, RP_E_MISMATCH, "%s: rebuilt file does not match the manifest's "
			     "SHA-256", e->path);
		goto out;
	}
	if (compressed) {
		/* Written durably; only the journal record waits. */
		char full[8192];
		snprintf(full, sizeof(full), "%s/%s", d->stage_path, e->path);
		void *orig = o.written ? mmap(NULL, (size_t)o.written, PROT_READ, MAP_PRIVATE,
					      o.fd, 0) : NULL;
		if (o.written && orig == MAP_FAILED) {
			st = rp__err(err, rp__errno_status(errno), "%s: map the rebuilt original: %s",
				     e->path, strerror(errno));
			goto out;
		}
		st = rp__inflight_write_compressed(&d->coders, h, body, orig ? orig : "",
						   (size_t)o.written, full, err);
		if (orig)
			munmap(orig, (size_t)o.written);
		close(o.fd);
		o.fd = -1;
		unlinkat(dfd, tmp, 0);
		if (st == RP_OK && fchmodat(dfd, leaf, file_mode, 0) < 0)
			st = rp__err(err, rp__errno_status(errno), "%s: chmod: %s", e->path,
				     strerror(errno));
		if (st == RP_OK) {
			if (d->nbatch == 0)
				d->batch_t0 = rp__now();
			d->batch[d->nbatch++] = (struct pending){.fd = -1, .dfd = -1,
									  .index = j,
									  .size = e->size};
		}
		goto out;
	}
	/* fsync, rename and the journal record happen in batch_flush(), for many files at
	 * once; start the writeback now so that the fsync there finds little to do. */
	(void)sync_file_range(o.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	struct pending *pe = &d->batch[d->nbatch++];
	if (d->nbatch == 1)
		d->batch_t0 = rp__now();
	pe->fd = o.fd;
	pe->dfd = dfd;
	pe->index = j;
	pe->size = e->size;
	snprintf(pe->tmp, sizeof(pe->tmp), "%s", tmp);
	snprintf(pe->leaf, sizeof(pe->leaf), "%s", leaf);
	o.fd = -1;
	dfd = -1;
	st = RP_OK;
out:
	if (o.fd >= 0) {
		close(o.fd);
		unlinkat(dfd, tmp, 0);
	}
	rp__sha256_destroy(o.sha);
	if (dfd >= 0)
		close(dfd);
	return st;
}

/* 1 when the regular files at fa and fb hold the same bytes, 0 when not, < 0 on error. */
static int
same_bytes(int fa, int fb)
{
	struct stat a, b;
	if (fstat(fa, &a) < 0 || fstat(fb, &b) < 0)
		return -1;
	if (!S_ISREG(a.st_mode) || !S_ISREG(b.st_mode))
		return 0;
	if (a.st_size != b.st_size)
		return 0;
	static const size_t N = 1 << 16;
	uint8_t *x = malloc(2 * N);
	if (!x)
		return -1;
	int r = 1;
	for (off_t off = 0; r == 1 && off < a.st_size;) {
		size_t n = (size_t)(a.st_size - off) < N ? (size_t)(a.st_size - off) : N;
		if (rp__pread_full(fa, x, n, off) < 0 || rp__pread_full(fb, x + N, n, off) < 0)
			r = -1;
		else if (memcmp(x, x + N, n) != 0)
			r = 0;
		off += (off_t)n;
	}
	free(x);
	return r;
}

/* Opens the directory of `path` below base without creating anything: -1 with errno
 * ENOENT when a component is missing, ENOTDIR when one is not a directory. */
static int
open_dir_of(int base, const char *path, const char **leaf)
{
	int fd = dup(base);
	const char *p = path;
	for (const char *slash; fd >= 0 && (slash = strchr(p, '/'));) {
		char comp[256];
		size_t n = (size_t)(slash - p);
		memcpy(comp, p, n);
		comp[n] = 0;
		int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		errno = e;
		fd = nfd;
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

/* What merging object i into an existing directory of DIR finds. */
enum merge_state { M_MOVE, M_HELD, M_DONE };

/* Classifies object i of a merged top-level directory: its staged file still there and
 * DIR without it (move it), with identical bytes (held: left in the stage, which the
 * spool removes later, so that a retry after a crash still tells it from a file this
 * session moved), with different bytes (refused), or the staged file gone and DIR
 * holding it (moved by an earlier, interrupted attempt). */
static int
merge_classify(struct rp__deliver *d, uint32_t i, enum merge_state *ms, struct rp_errbuf *err)
{
	const char *path = d->mf->e[i].path, *sleaf = NULL, *dleaf = NULL;
	int sdir = open_dir_of(d->stage, path, &sleaf);
	int sfd = sdir >= 0 ? openat(sdir, sleaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	int se = errno;
	int ddir = open_dir_of(d->dest_fd, path, &dleaf);
	int de = errno;
	int dfd = ddir >= 0 ? openat(ddir, dleaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (ddir >= 0)
		de = errno;
	int st = RP_OK;
	if (sfd < 0 && se != ENOENT) {
		st = rp__err(err, rp__errno_status(se), "staged %s: %s", path, strerror(se));
	} else if (dfd < 0 && de != ENOENT) {
		st = rp__err(err, RP_E_IO, "%s/%s: %s: not replacing it", d->dest_name, path,
			     strerror(de));
	} else if (sfd < 0 && dfd < 0) {
		st = rp__err(err, RP_E_INTERNAL, "%s is neither staged nor delivered", path);
	} else if (sfd < 0) {
		*ms = M_DONE;
	} else if (dfd < 0) {
		*ms = M_MOVE;
	} else {
		int r = same_bytes(sfd, dfd);
		if (r < 0)
			st = rp__err(err, rp__errno_status(errno), "comparing %s/%s: %s", d->dest_name,
				     path, strerror(errno));
		else if (r == 0)
			st = rp__err(err, RP_E_IO, "%s/%s already exists with different content: "
				     "not replacing it", d->dest_name, path);
		else
			*ms = M_HELD;
	}
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (sdir >= 0)
		close(sdir);
	if (ddir >= 0)
		close(ddir);
	return st;
}

/* Moves every top-level entry of the session into DIR.  A top-level directory DIR lacks
 * moves in one rename; one DIR has already (an addition to a study delivered before) is
 * merged file by file, never replacing a file: identical bytes count as held, different
 * bytes refuse the session.  Every destination is checked first, so that a clash moves
 * nothing. */
static int
move_into_place(struct rp__deliver *d, struct rp_errbuf *err)
{
	char **tops = calloc(d->mf->count, sizeof(*tops));
	uint8_t *merge = calloc(d->mf->count ? d->mf->count : 1, 1); /* per top */
	uint8_t *ms = calloc(d->mf->count ? d->mf->count : 1, 1);    /* per object */
	uint32_t *top_of = calloc(d->mf->count ? d->mf->count : 1, sizeof(*top_of));
	size_t n = 0;
	int st = RP_OK;
	if (!d->held)
		d->held = calloc(d->mf->count ? d->mf->count : 1, 1);
	if (!tops || !merge || !ms || !top_of || !d->held) {
		st = RP_E_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < d->mf->count; i++) {
		const char *p = d->mf->e[i].path, *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		size_t t = 0;
		while (t < n && !(strlen(tops[t]) == len && memcmp(tops[t], p, len) == 0))
			t++;
		if (t == n && !(tops[n++] = strndup(p, len))) {
			st = RP_E_NOMEM;
			goto out;
		}
		top_of[i] = (uint32_t)t;
	}
	for (size_t t = 0; t < n; t++) {
		struct stat a, b;
		bool staged = fstatat(d->stage, tops[t], &a, AT_SYMLINK_NOFOLLOW) == 0;
		bool exists = fstatat(d->dest_fd, tops[t], &b, AT_SYMLINK_NOFOLLOW) == 0;
		if (exists && S_ISDIR(b.st_mode) && (!staged || S_ISDIR(a.st_mode))) {
			merge[t] = 1;
		} else if (staged && exists) {
			st = rp__err(err, RP_E_IO, "%s/%s already exists: not replacing it",
				     d->dest_name, tops[t]);
			goto out;
		} else if (!staged && !exists) {
			st = rp__err(err, RP_E_INTERNAL, "%s is neither staged nor delivered", tops[t]);
			goto out;
		}
	}
	for (uint32_t i = 0; i < d->mf->count; i++) {
		enum merge_state m = M_DONE;
		if (merge[top_of[i]] && (st = merge_classify(d, i, &m, err)) < 0)
			goto out;
		ms[i] = (uint8_t)m;
	}
	for (size_t t = 0; t < n; t++) {
		if (merge[t])
			continue;
		if (renameat2(d->stage, tops[t], d->dest_fd, tops[t], RENAME_NOREPLACE) < 0 &&
		    errno != ENOENT) {
			st = rp__err(err, rp__errno_status(errno), "rename %s into %s: %s", tops[t],
				     d->dest_name, strerror(errno));
			goto out;
		}
	}
	for (uint32_t i = 0; i < d->mf->count; i++) {
		if (!merge[top_of[i]])
			continue;
		d->held[i] = ms[i] == M_HELD;
		if (ms[i] != M_MOVE)
			continue;
		const char *path = d->mf->e[i].path, *sleaf = NULL, *dleaf = NULL;
		int sdir = open_dir_of(d->stage, path, &sleaf);
		if (sdir < 0) {
			st = io_err(err, d, "opening a stage directory", errno);
			goto out;
		}
		int ddir = open_parent(d->dest_fd, path, rp__dir_mode(d->file_mode & 07777), true,
				       &dleaf, err);
		if (ddir < 0) {
			close(sdir);
			st = ddir;
			goto out;
		}
		/* The rename is the commit of this file; the fsync makes it survive a crash
		 * before the session is journaled delivered. */
		if (renameat2(sdir, sleaf, ddir, dleaf, RENAME_NOREPLACE) < 0)
			st = rp__err(err, rp__errno_status(errno), "rename %s into %s: %s", path,
				     d->dest_name, strerror(errno));
		else if (fsync(ddir) < 0)
			st = rp__err(err, rp__errno_status(errno), "fsync %s: %s", d->dest_name,
				     strerror(errno));
		close(sdir);
		close(ddir);
		if (st < 0)
			goto out;
	}
	if (fsync(d->dest_fd) < 0)
		st = rp__err(err, rp__errno_status(errno), "fsync %s: %s", d->dest_name, strerror(errno));
out:
	for (size_t t = 0; t < n; t++)
		free(tops[t]);
	free(tops);
	free(merge);
	free(ms);
	free(top_of);
	return st;
}

bool
rp__deliver_held(const struct rp__deliver *d, uint32_t index)
{
	return d->held && index < d->mf->count && d->held[index];
}

/* Makes the batched files durable and journals them: fsync each file, rename it to its
 * name, fsync each directory once, then one journal append and fdatasync for all. */
static int
batch_flush(struct rp__deliver *d, const struct rp__deliver_events *ev, struct rp_errbuf *err)
{
	int st = RP_OK;
	unsigned n = d->nbatch;
	bool renamed[BATCH_MAX] = {0};
	for (unsigned i = 0; i < n; i++) {
		struct pending *p = &d->batch[i];
		if (p->fd < 0)
			continue;
		if (st == RP_OK && fsync(p->fd) < 0)
			st = rp__err(err, rp__errno_status(errno), "%s: fsync: %s",
				     d->mf->e[p->index].path, strerror(errno));
		close(p->fd);
		p->fd = -1;
		if (st == RP_OK && renameat(p->dfd, p->tmp, p->dfd, p->leaf) < 0)
			st = rp__err(err, rp__errno_status(errno), "%s: rename: %s",
				     d->mf->e[p->index].path, strerror(errno));
		renamed[i] = st == RP_OK;
	}
	for (unsigned i = 0; i < n && st == RP_OK; i++) {
		struct pending *p = &d->batch[i];
		struct stat a, b;
		bool seen = false;
		if (p->dfd < 0 || fstat(p->dfd, &a) < 0)
			continue;
		for (unsigned q = 0; q < i && !seen; q++)
			seen = d->batch[q].dfd >= 0 && fstat(d->batch[q].dfd, &b) == 0 &&
			       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
		if (!seen && fsync(p->dfd) < 0)
			st = io_err(err, d, "fsync of a stage directory", errno);
	}
	if (st == RP_OK && n) {
		uint32_t idx[BATCH_MAX];
		for (unsigned i = 0; i < n; i++)
			idx[i] = d->batch[i].index;
		st = rp__spool_journal_objects(d->spool, idx, n, err);
	}
	for (unsigned i = 0; i < n; i++) {
		struct pending *p = &d->batch[i];
		if (st == RP_OK) {
			if (ev->object)
				ev->object(ev->ctx, p->index, p->size);
		} else if (p->dfd >= 0 && !renamed[i]) {
			unlinkat(p->dfd, p->tmp, 0);
		}
		if (p->dfd >= 0)
			close(p->dfd);
	}
	d->nbatch = 0;
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* The walker */

/* Reads the header of the object at pos into *h (*need: its length).  1 when its bytes
 * have not all arrived yet. */
static int
read_header(struct rp__deliver *d, uint64_t pos, struct rp__objhdr *h, size_t *need,
	    struct rp_errbuf *err)
{
	int fd = rp__spool_stream_fd(d->spool);
	uint8_t fixed[RP__OBJHDR_FIXED];
	if (!rp__spool_has_range(d->spool, pos, pos + sizeof(fixed)) ||
	    rp__pread_full(fd, fixed, sizeof(fixed), pos) < 0)
		return 1;
	RP_TRY(rp__objhdr_decode(fixed, sizeof(fixed), h, need, err));
	uint8_t *hb = malloc(*need);
	if (!hb)
		return RP_E_NOMEM;
	int st = 1;
	if (rp__spool_has_range(d->spool, pos, pos + *need) &&
	    rp__pread_full(fd, hb, *need, pos) == 0)
		st = rp__objhdr_decode(hb, *need, h, need, err);
	free(hb);
	return st;
}

/* Delivers objects from d->pos on, in stream order, while their bytes are in the spool.
 * stream_len 0: the stream is still arriving, and the walk stops quietly at the first
 * object not complete yet.  Otherwise the stream is complete, every object must lie
 * within its stream_len bytes, and progress is reported. */
static int
walk(struct rp__deliver *d, uint64_t stream_len, const struct rp__deliver_events *ev,
     struct rp_errbuf *err)
{
	const bool final = stream_len != 0;
	const uint64_t limit = final ? stream_len : rp__spool_max_stream(d->spool);
	long page = sysconf(_SC_PAGESIZE);
	double last = rp__now();
	int st = RP_OK;
	while (st == RP_OK && d->next < d->mf->count && !rp__spool_delivered(d->spool)) {
		uint64_t pos = d->pos;
		uint32_t j = d->next;
		struct rp__objhdr h;
		size_t need;
		if (pos >= limit || limit - pos < RP__OBJHDR_FIXED ||
		    (st = read_header(d, pos, &h, &need, err)) > 0) {
			st = final ? rp__err(err, RP_E_CORRUPT, "object %u header runs past the "
					     "stream", j) : RP_OK;
			break;
		}
		if (st < 0)
			break;
		if (h.index != j || h.orig_size != d->mf->e[j].size || need > limit - pos ||
		    h.body_len > limit - pos - need) {
			rp__objhdr_free(&h);
			st = rp__err(err, RP_E_CORRUPT, "object %u: header disagrees with the "
				     "manifest%s", j, final ? " or the stream" : "");
			break;
		}
		uint64_t end = pos + need + h.body_len;
		if (!rp__spool_has_range(d->spool, pos, end)) {
			rp__objhdr_free(&h);
			if (final)
				st = rp__err(err, RP_E_CORRUPT, "object %u is not all in the spool",
					     j);
			break;
		}
		if (!rp__spool_object_done(d->spool, j)) {
			uint64_t base = pos - pos % (uint64_t)page;
			size_t len = (size_t)(end - base);
			uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED,
					    rp__spool_stream_fd(d->spool), (off_t)base);
			if (map == MAP_FAILED) {
				rp__objhdr_free(&h);
				st = io_err(err, d, "mapping the stream spool", errno);
				break;
			}
			if (d->nbatch == BATCH_MAX)
				st = batch_flush(d, ev, err);
			if (st == RP_OK)
				st = deliver_object(d, j, &h, map + (pos - base) + need, err);
			munmap(map, len);
		}
		rp__objhdr_free(&h);
		if (st < 0)
			break;
		d->pos = end;
		d->next = j + 1;
		if (final && ev->progress && rp__now() - last > 0.5) {
			last = rp__now();
			ev->progress(ev->ctx, end, j + 1);
		}
	}
	return st;
}

static int
prepare(struct rp__deliver *d, struct rp_errbuf *err)
{
	if (d->stage < 0 && (d->stage = rp__spool_open_stage(d->spool, err)) < 0)
		return d->stage;
	return RP_OK;
}

int
rp__deliver_ahead(struct rp__deliver *d, const struct rp__deliver_events *ev,
		  struct rp_errbuf *err)
{
	/* Called by whichever connection thread wrote a chunk; the others keep receiving. */
	if (pthread_mutex_trylock(&d->mu) != 0)
		return RP_OK;
	int st = prepare(d, err);
	if (st == RP_OK)
		st = walk(d, 0, ev, err);
	if (st == RP_OK && d->nbatch && rp__now() - d->batch_t0 > BATCH_MAX_S)
		st = batch_flush(d, ev, err);
	pthread_mutex_unlock(&d->mu);
	return st;
}

int
rp__deliver_finish(struct rp__deliver *d, uint64_t stream_len,
		   const struct rp__deliver_events *ev, struct rp_errbuf *err)
{
	pthread_mutex_lock(&d->mu);
	int st = prepare(d, err);
	/* Objects delivered ahead but not yet durable count as delivered from here on. */
	if (st == RP_OK)
		st = batch_flush(d, ev, err);
	struct stat stt;
	if (st == RP_OK && (fstat(rp__spool_stream_fd(d->spool), &stt) < 0 ||
			    (uint64_t)stt.st_size < stream_len))
		st = rp__err(err, RP_E_CORRUPT, "session %s: spool shorter than the stream",
			     d->session);
	if (st == RP_OK)
		st = walk(d, stream_len, ev, err);
	if (st == RP_OK && d->pos != stream_len)
		st = d->pos < stream_len
			? rp__err(err, RP_E_CORRUPT, "stream has %llu bytes after the last object",
				  (unsigned long long)(stream_len - d->pos))
			: rp__err(err, RP_E_CORRUPT, "objects run %llu bytes past the stream's end",
				  (unsigned long long)(d->pos - stream_len));
	if (st == RP_OK)
		st = batch_flush(d, ev, err);
	if (st == RP_OK && fsync(d->stage) < 0)
		st = io_err(err, d, "fsync stage", errno);
	if (st == RP_OK)
		st = move_into_place(d, err);
	if (st == RP_OK && ev->placed)
		st = ev->placed(ev->ctx, d, err);
	if (st == RP_OK)
		st = rp__spool_journal_delivered(d->spool, err);
	/* Held copies were kept in the stage only to tell them apart on a retry; once the
	 * session is journaled delivered no retry merges again, so their space is freed. */
	for (uint32_t i = 0; st == RP_OK && d->held && i < d->mf->count; i++) {
		const char *leaf;
		int sdir = d->held[i] ? open_dir_of(d->stage, d->mf->e[i].path, &leaf) : -1;
		if (sdir >= 0) {
			(void)unlinkat(sdir, leaf, 0);
			close(sdir);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return st;
}
