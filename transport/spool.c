/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/spool.c - a receiving session on disk: DIR/.radpipe/<id>/{manifest, stream,
 * parity, journal, stage/} (FORMAT.md section 6).  Chunks are written in place; a
 * journal record is appended only after the bytes it names were fdatasync'ed, so a
 * kill -9 at any moment loses at most the chunks since the last sync.  Delivery rebuilds
 * each original file into the stage (temporary name, fsync, rename, fsync of the
 * directory), checks its SHA-256 against the manifest, and renames the session's
 * top-level entries into DIR only when every object is verified. */
#include "transport/serve.h"
#include "transport/fec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int deliver_ahead(struct rp_server *srv, struct rp__session *s, struct rp_errbuf *err);

#define J_KEY 1
#define J_OBJECT 2
#define J_DELIVERED 3
#define SYNC_EVERY_CHUNKS 64
#define SYNC_EVERY_S 0.5

static int
errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT ? RP_E_NOSPACE : RP_E_IO;
}

static int
io_err(struct rp_errbuf *err, const struct rp__session *s, const char *what, int e)
{
	return rp__err(err, errno_status(e), "session %s: %s: %s", s->hex, what, strerror(e));
}

static int
write_all(int fd, const void *p, size_t n)
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

static int
pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t r = pwrite(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int
pread_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

struct decoders {
	struct rp_decoder *d[16];
	struct rp_encoder *e[16];    /* only for the transfer syntax of --deliver compressed */
};

static void
decoders_free(struct decoders *dec)
{
	if (!dec)
		return;
	for (int i = 0; i < 16; i++) {
		rp_decoder_destroy(dec->d[i]);
		rp_encoder_destroy(dec->e[i]);
	}
	free(dec);
}

/* ------------------------------------------------------------------------------------ */
/* Sessions in memory */

struct rp__session *
rp__session_find(struct rp_server *srv, const uint8_t id[16])
{
	pthread_mutex_lock(&srv->mu);
	struct rp__session *s = srv->sessions;
	while (s && memcmp(s->id, id, 16) != 0)
		s = s->next;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&srv->mu);
	return s;
}

static void
session_free(struct rp__session *s)
{
	rp__manifest_free(&s->mf);
	rp__ranges_free(&s->got);
	rp__ranges_free(&s->durable);
	free(s->pending);
	free(s->obj_done);
	for (int *fd = &s->sdir; fd <= &s->journal_fd; fd++)
		if (*fd > 0)
			close(*fd);
	for (unsigned i = 0; i < s->nbatch; i++) {
		if (s->batch[i].fd >= 0)
			close(s->batch[i].fd);
		if (s->batch[i].dfd >= 0)
			close(s->batch[i].dfd);
	}
	decoders_free(s->dec);
	if (s->stage >= 0)
		close(s->stage);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->sync_mu);
	pthread_mutex_destroy(&s->deliver_mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

static int session_sync(struct rp__session *s, struct rp_errbuf *err);

/* A session nobody uses is dropped from memory, its files closed: a server that runs for
 * months must hold no more after 2,000 sessions than after 10.  Everything a rerun or a
 * late join needs is on disk (manifest, journal, stage), and rp__session_open() reloads
 * it; chunks written but not yet journaled are journaled first, so a resume does not ask
 * for them again. */
void
rp__session_put(struct rp_server *srv, struct rp__session *s)
{
	pthread_mutex_lock(&srv->mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&srv->mu);
	if (!last)
		return;
	struct rp_errbuf e;
	if (s->stream_fd >= 0)
		(void)session_sync(s, &e); /* best effort: what is not journaled is re-sent */
	pthread_mutex_lock(&srv->mu);
	bool drop = s->refs == 0;
	if (drop)
		for (struct rp__session **p = &srv->sessions; *p; p = &(*p)->next)
			if (*p == s) {
				*p = s->next;
				break;
			}
	pthread_mutex_unlock(&srv->mu);
	if (!drop)
		return;
	session_free(s);
#ifdef __GLIBC__
	/* A session's connection threads free multi-MiB chunk buffers into per-thread
	 * arenas, which glibc keeps resident otherwise: a server idle between studies
	 * would sit on the peak of the last one. */
	malloc_trim(0);
#endif
}

void
rp__sessions_free(struct rp_server *srv)
{
	while (srv->sessions) {
		struct rp__session *s = srv->sessions;
		srv->sessions = s->next;
		session_free(s);
	}
}

static int
read_file_at(int dirfd, const char *name, uint8_t **data, size_t *size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size > (off_t)RP__MAX_PAYLOAD) {
		close(fd);
		return -1;
	}
	*size = (size_t)st.st_size;
	*data = malloc(*size ? *size : 1);
	if (!*data || (*size && pread_all(fd, *data, *size, 0) < 0)) {
		free(*data);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
replay_journal(struct rp__session *s, struct rp_errbuf *err)
{
	struct stat st;
	if (fstat(s->journal_fd, &st) < 0)
		return io_err(err, s, "journal", errno);
	uint64_t n = (uint64_t)st.st_size / 16;
	uint8_t rec[16 * 256];
	for (uint64_t i = 0; i < n;) {
		size_t take = n - i > 256 ? 256 : (size_t)(n - i);
		if (pread_all(s->journal_fd, rec, take * 16, i * 16) < 0)
			return io_err(err, s, "journal", errno ? errno : EIO);
		for (size_t r = 0; r < take; r++) {
			uint32_t type = rp__load_le32(rec + 16 * r);
			uint64_t v = rp__load_le64(rec + 16 * r + 8);
			if (type == J_KEY) {
				RP_TRY(rp__ranges_add(&s->durable, v));
				RP_TRY(rp__ranges_add(&s->got, v));
			} else if (type == J_OBJECT && v < s->mf.count) {
				s->obj_done[v] = 1;
			} else if (type == J_DELIVERED) {
				s->delivered = true;
			}
		}
		i += take;
	}
	/* A torn last record (kill during append) is dropped. */
	if ((uint64_t)st.st_size != n * 16 && ftruncate(s->journal_fd, (off_t)(n * 16)) < 0)
		return io_err(err, s, "journal", errno);
	return RP_OK;
}

static int
open_spool(struct rp__session *s, int radfd, const uint8_t *man, size_t man_len,
	   struct rp_errbuf *err)
{
	if (mkdirat(radfd, s->hex, 0700) < 0 && errno != EEXIST)
		return io_err(err, s, "session directory", errno);
	s->sdir = openat(radfd, s->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->sdir < 0)
		return io_err(err, s, "session directory", errno);
	uint8_t *old = NULL;
	size_t old_len = 0;
	if (read_file_at(s->sdir, "manifest", &old, &old_len) == 0) {
		bool same = old_len == man_len && memcmp(old, man, man_len) == 0;
		free(old);
		if (!same)
			return rp__err(err, RP_E_MISMATCH, "session %s: stored manifest differs",
				       s->hex);
	} else {
		int fd = openat(s->sdir, "manifest.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600);
		if (fd < 0 || write_all(fd, man, man_len) < 0 || fsync(fd) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return io_err(err, s, "manifest", e);
		}
		close(fd);
		if (renameat(s->sdir, "manifest.tmp", s->sdir, "manifest") < 0 || fsync(s->sdir) < 0)
			return io_err(err, s, "manifest", errno);
	}
	s->stream_fd = openat(s->sdir, "stream", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	s->parity_fd = openat(s->sdir, "parity", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	s->journal_fd = openat(s->sdir, "journal", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->stream_fd < 0 || s->parity_fd < 0 || s->journal_fd < 0)
		return io_err(err, s, "spool", errno);
	if (mkdirat(s->sdir, "stage", 0755) < 0 && errno != EEXIST)
		return io_err(err, s, "stage", errno);
	return replay_journal(s, err);
}

int
rp__session_open(struct rp_server *srv, const uint8_t id[16], const uint8_t *manifest,
		 size_t manifest_len, const struct rp__manifest *mf, struct rp__session **ret,
		 struct rp_errbuf *err)
{
	struct rp__session *s = rp__session_find(srv, id);
	if (s) {
		*ret = s;
		return RP_OK;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return RP_E_NOMEM;
	s->sdir = s->stream_fd = s->parity_fd = s->journal_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_mutex_init(&s->deliver_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->stage = -1;
	memcpy(s->id, id, 16);
	rp__session_hex(id, s->hex);
	int st = RP_OK;
	/* Deep copy of the manifest. */
	s->mf = *mf;
	s->mf.e = calloc(mf->count, sizeof(*s->mf.e));
	s->obj_done = calloc(mf->count, 1);
	if (!s->mf.e || !s->obj_done) {
		s->mf.count = 0;
		st = RP_E_NOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < mf->count; i++) {
		s->mf.e[i] = mf->e[i];
		s->mf.e[i].path = strdup(mf->e[i].path);
		if (!s->mf.e[i].path) {
			s->mf.count = i;
			st = RP_E_NOMEM;
			goto fail;
		}
	}
	/* The in-flight form may exceed the original a little (headers, incompressible
	 * frames go verbatim): allow headers of up to 64 KiB per object on top. */
	if (__builtin_mul_overflow((uint64_t)mf->count, (uint64_t)65536, &s->max_stream) ||
	    __builtin_add_overflow(s->max_stream, mf->total, &s->max_stream)) {
		st = rp__err(err, RP_E_LIMIT, "manifest sizes overflow");
		goto fail;
	}
	/* Held until the session is listed, so the retention sweep sees it in memory. */
	pthread_mutex_lock(&srv->spool_mu);
	if ((st = open_spool(s, srv->radfd, manifest, manifest_len, err)) < 0) {
		pthread_mutex_unlock(&srv->spool_mu);
		goto fail;
	}
	s->last_sync = rp__now();
	pthread_mutex_lock(&srv->mu);
	/* Another stream 0 of the same session may have raced us here. */
	struct rp__session *o = srv->sessions;
	while (o && memcmp(o->id, id, 16) != 0)
		o = o->next;
	if (o) {
		o->refs++;
		pthread_mutex_unlock(&srv->mu);
		pthread_mutex_unlock(&srv->spool_mu);
		session_free(s);
		*ret = o;
		return RP_OK;
	}
	s->refs = 1;
	s->next = srv->sessions;
	srv->sessions = s;
	pthread_mutex_unlock(&srv->mu);
	pthread_mutex_unlock(&srv->spool_mu);
	*ret = s;
	return RP_OK;
fail:
	session_free(s);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* Chunks and durability */

void
rp__session_crc_error(struct rp_server *srv, struct rp__session *s, const char *peer)
{
	pthread_mutex_lock(&s->mu);
	uint64_t n = ++s->stats[RP__ST_CRC];
	pthread_mutex_unlock(&s->mu);
	rp__srv_log(srv, "crc_error", peer, s->hex, "chunk dropped: CRC32C mismatch",
		    "\"count\":%llu", (unsigned long long)n);
}

/* fdatasync the spool, then journal what it made durable. */
static int
session_sync(struct rp__session *s, struct rp_errbuf *err)
{
	pthread_mutex_lock(&s->sync_mu);
	pthread_mutex_lock(&s->mu);
	uint64_t *keys = s->pending;
	size_t n = s->npending;
	s->pending = NULL;
	s->npending = s->cap_pending = 0;
	s->last_sync = rp__now();
	pthread_mutex_unlock(&s->mu);
	int st = RP_OK;
	if (n) {
		if (fdatasync(s->stream_fd) < 0 || fdatasync(s->parity_fd) < 0) {
			st = io_err(err, s, "spool fdatasync", errno);
		} else {
			uint8_t *rec = calloc(n, 16);
			if (!rec) {
				st = RP_E_NOMEM;
			} else {
				for (size_t i = 0; i < n; i++) {
					rp__store_le32(rec + 16 * i, J_KEY);
					rp__store_le64(rec + 16 * i + 8, keys[i]);
				}
				if (write_all(s->journal_fd, rec, 16 * n) < 0 ||
				    fdatasync(s->journal_fd) < 0)
					st = io_err(err, s, "journal", errno);
				free(rec);
			}
		}
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < n && st == RP_OK; i++)
			st = rp__ranges_add(&s->durable, keys[i]);
		pthread_mutex_unlock(&s->mu);
	}
	free(keys);
	pthread_mutex_unlock(&s->sync_mu);
	return st;
}

static int
journal_record(struct rp__session *s, uint32_t type, uint64_t v, struct rp_errbuf *err)
{
	uint8_t rec[16] = {0};
	rp__store_le32(rec, type);
	rp__store_le64(rec + 8, v);
	pthread_mutex_lock(&s->sync_mu);
	int r = write_all(s->journal_fd, rec, 16) < 0 || fdatasync(s->journal_fd) < 0 ? errno : 0;
	pthread_mutex_unlock(&s->sync_mu);
	return r ? io_err(err, s, "journal", r) : RP_OK;
}

/* Marks a key written; RP_OK, or 1 when it was already there. */
static int
mark_got(struct rp__session *s, uint64_t key)
{
	if (rp__ranges_has(&s->got, key))
		return 1;
	RP_TRY(rp__ranges_add(&s->got, key));
	if (s->npending == s->cap_pending) {
		size_t cap = s->cap_pending ? s->cap_pending * 2 : 64;
		uint64_t *p = realloc(s->pending, cap * sizeof(*p));
		if (!p)
			return RP_E_NOMEM;
		s->pending = p;
		s->cap_pending = cap;
	}
	s->pending[s->npending++] = key;
	return RP_OK;
}

int
rp__session_chunk(struct rp_server *srv, struct rp__session *s, const struct rp__chunk *ch,
		  struct rp_errbuf *err)
{
	const uint32_t cs = s->mf.chunk_size, k = s->mf.k, m = s->mf.m;
	if (memcmp(ch->session, s->id, 16) != 0)
		return rp__err(err, RP_E_PROTOCOL, "chunk of another session");
	if (ch->index >= k + m || ch->size > cs || (ch->index >= k && ch->size != cs) ||
	    ch->k_group > k)
		return rp__err(err, RP_E_PROTOCOL, "chunk (group %llu, index %u, %u bytes) "
			       "does not fit k=%u m=%u chunk size %u",
			       (unsigned long long)ch->group, ch->index, ch->size, k, m, cs);
	uint64_t groups_max = s->max_stream / cs / k + 1, key, off;
	if (ch->group >= groups_max)
		return rp__err(err, RP_E_LIMIT, "chunk group %llu beyond what the manifest allows",
			       (unsigned long long)ch->group);
	key = ch->group * (k + m) + ch->index;
	int fd;
	if (ch->index < k) {
		uint64_t d = ch->group * k + ch->index;
		off = d * cs;
		if (off + ch->size > s->max_stream)
			return rp__err(err, RP_E_LIMIT, "chunk beyond what the manifest allows");
		fd = s->stream_fd;
	} else {
		off = (ch->group * m + (ch->index - k)) * cs;
		fd = s->parity_fd;
	}
	pthread_mutex_lock(&s->mu);
	bool skip = s->delivered || rp__ranges_has(&s->got, key);
	if (skip)
		s->stats[RP__ST_DUPS]++;
	bool failed = s->failed;
	pthread_mutex_unlock(&s->mu);
	if (failed)
		return rp__err(err, RP_E_CANCELLED, "session %s failed", s->hex);
	if (skip)
		return RP_OK;
	if (pwrite_all(fd, ch->data, ch->size, off) < 0)
		return io_err(err, s, ch->index < k ? "writing stream spool" : "writing parity spool",
			      errno);
	pthread_mutex_lock(&s->mu);
	int st = mark_got(s, key);
	if (st == RP_OK) {
		s->stats[RP__ST_CHUNKS]++;
		s->stats[RP__ST_CHUNK_BYTES] += ch->size;
		if (ch->index < k && ch->size < cs) {
			s->have_short = true;
			s->short_d = ch->group * k + ch->index;
			s->short_size = ch->size;
		}
	}
	bool sync = s->npending >= SYNC_EVERY_CHUNKS || rp__now() - s->last_sync > SYNC_EVERY_S;
	pthread_mutex_unlock(&s->mu);
	if (st > 0)
		st = RP_OK;
	if (st == RP_OK && sync)
		st = session_sync(s, err);
	if (st == RP_OK && ch->index < k)
		st = deliver_ahead(srv, s, err);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* End of a run: rebuild groups, list what is missing */

static int
rebuild_groups(struct rp__session *s, uint64_t stream_len, uint64_t data_chunks,
	       struct rp__ranges *need, struct rp_errbuf *err)
{
	const uint32_t cs = s->mf.chunk_size, k = s->mf.k, m = s->mf.m;
	uint64_t groups = (data_chunks + k - 1) / k;
	uint8_t *mem = NULL;
	int st = RP_OK;
	for (uint64_t g = 0; g < groups && st == RP_OK; g++) {
		unsigned kg = (unsigned)(data_chunks - g * k < k ? data_chunks - g * k : k);
		uint8_t present[RP__MAX_K + RP__MAX_M] = {0};
		unsigned have = 0, have_data = 0;
		pthread_mutex_lock(&s->mu);
		for (unsigned i = 0; i < kg; i++)
			have_data += present[i] = rp__ranges_has(&s->got, g * (k + m) + i);
		have = have_data;
		for (unsigned j = 0; j < m; j++)
			have += present[kg + j] = rp__ranges_has(&s->got, g * (k + m) + k + j);
		pthread_mutex_unlock(&s->mu);
		if (have_data == kg)
			continue;
		if (have < kg) {
			for (unsigned i = 0; i < kg && st == RP_OK; i++)
				if (!present[i])
					st = rp__ranges_add(need, g * (k + m) + i);
			continue;
		}
		if (!mem && !(mem = malloc((size_t)(RP__MAX_K + RP__MAX_M) * cs))) {
			st = RP_E_NOMEM;
			break;
		}
		uint8_t *ptr[RP__MAX_K + RP__MAX_M];
		for (unsigned i = 0; i < kg + m; i++) {
			ptr[i] = mem + (size_t)i * cs;
			memset(ptr[i], 0, cs);
			if (!present[i])
				continue;
			uint64_t d = g * k + i;
			uint64_t off = i < kg ? d * cs : (g * m + (i - kg)) * cs;
			uint64_t n = i < kg ? (stream_len - d * cs < cs ? stream_len - d * cs : cs) : cs;
			if (pread_all(i < kg ? s->stream_fd : s->parity_fd, ptr[i], (size_t)n, off) < 0) {
				st = io_err(err, s, "reading spool", errno ? errno : EIO);
				break;
			}
		}
		if (st < 0 || (st = rp__fec_rebuild(kg, m, cs, ptr, present)) < 0)
			break;
		for (unsigned i = 0; i < kg && st == RP_OK; i++) {
			if (present[i])
				continue;
			uint64_t d = g * k + i;
			uint64_t n = stream_len - d * cs < cs ? stream_len - d * cs : cs;
			if (pwrite_all(s->stream_fd, ptr[i], (size_t)n, d * cs) < 0) {
				st = io_err(err, s, "writing stream spool", errno);
				break;
			}
			pthread_mutex_lock(&s->mu);
			st = mark_got(s, g * (k + m) + i);
			if (st > 0)
				st = RP_OK;
			s->stats[RP__ST_REBUILT]++;
			pthread_mutex_unlock(&s->mu);
		}
	}
	free(mem);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* Delivery */


/* Opens (creating, with mode dir_mode) every directory of `path` below `base`, refusing
 * symlinks. */
static int
open_parent(int base, const char *path, mode_t dir_mode, const char **leaf,
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
		} else if (errno != EEXIST) {
			int e = errno;
			close(fd);
			return rp__err(err, errno_status(e), "mkdir %s: %s", comp, strerror(e));
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

/* Where a rebuilt original goes: a file, or (for --deliver compressed) memory that is
 * parsed and rewritten once its SHA-256 is verified. */
struct out {
	int fd;
	uint8_t *mem;
	size_t mem_cap;
	struct rp__sha256 *sha;
	uint64_t written;
};

static int
out_write(struct out *o, const void *p, size_t n)
{
	if (o->mem) {
		if (n > o->mem_cap - o->written) {
			errno = EFBIG;
			return -1;
		}
		memcpy(o->mem + o->written, p, n);
	} else if (write_all(o->fd, p, n) < 0) {
		return -1;
	}
	rp__sha256_update(o->sha, p, n);
	o->written += n;
	return 0;
}

/* The verified original in o->mem, rewritten as encapsulated DICOM whose frames are the
 * codestreams that crossed the link: parse, then rp_dicom_write_file (atomic). */
static int
write_compressed(struct rp_server *srv, struct rp__session *s, const struct rp__objhdr *h,
		 const uint8_t *frames, const struct out *o, struct decoders *dec,
		 struct rp_errbuf *err)
{
	const char *path = s->mf.e[h->index].path;
	struct rp_dicom *ds = NULL;
	struct rp_frame_ref *refs = NULL;
	int st;
	if (!dec->e[h->codec]) {
		struct rp_encoder_options eo;
		rp_encoder_options_init(&eo);
		eo.codec = (enum rp_codec)h->codec;
		RP_TRY(rp_encoder_create(&eo, &dec->e[h->codec]));
	}
	if ((st = rp_dicom_parse(o->mem, o->written, NULL, &ds, err)) < 0)
		return st;
	refs = malloc((size_t)h->frame_count * sizeof(*refs));
	if (!refs) {
		rp_dicom_free(ds);
		return RP_E_NOMEM;
	}
	for (uint32_t i = 0; i < h->frame_count; i++) {
		refs[i].data = frames;
		refs[i].size = h->frame_len[i];
		frames += h->frame_len[i];
	}
	struct rp_dicom_write_options wo;
	rp_dicom_write_options_init(&wo);
	wo.ts_uid = rp_encoder_transfer_syntax(dec->e[h->codec]);
	/* The narrower syntax (HTJ2K .202) when every frame that crossed meets its rules,
	 * as `compress` labels the same frames. */
	const char *narrow = h->frame_count ?
		rp_encoder_stream_transfer_syntax(dec->e[h->codec], refs[0].data, refs[0].size) :
		wo.ts_uid;
	for (uint32_t i = 1; i < h->frame_count && strcmp(narrow, wo.ts_uid) != 0; i++)
		if (strcmp(rp_encoder_stream_transfer_syntax(dec->e[h->codec], refs[i].data,
							     refs[i].size), narrow) != 0)
			narrow = wo.ts_uid;
	wo.ts_uid = narrow;
	char full[8192];
	snprintf(full, sizeof(full), "%s/.radpipe/%s/stage/%s", srv->o->dir, s->hex, path);
	st = rp_dicom_write_file(full, ds, &wo, refs, h->frame_count, err);
	free(refs);
	rp_dicom_free(ds);
	return st;
}

static int
deliver_object(struct rp_server *srv, struct rp__session *s, int stage, uint32_t j,
	       const struct rp__objhdr *h, const uint8_t *body, struct decoders *dec,
	       struct rp_errbuf *err)
{
	bool compressed = srv->o->deliver == RP_DELIVER_COMPRESSED && h->kind == RP__OBJ_FRAMED;
	const struct rp__mentry *e = &s->mf.e[j];
	const char *leaf = NULL;
	mode_t file_mode = srv->o->file_mode & 07777;
	int dfd = open_parent(stage, e->path, rp__dir_mode(file_mode), &leaf, err);
	if (dfd < 0)
		return dfd;
	/* The stage belongs to this session alone, so the object index names the temporary
	 * uniquely, at a fixed length whatever the final name's length (a copy of a long
	 * leaf would be cut, and two cut names could collide). */
	char tmp[32];
	snprintf(tmp, sizeof(tmp), ".rp-%" PRIu32 ".tmp", j);
	struct out o = {.fd = -1};
	uint8_t *frame = NULL;
	int st = rp__sha256_create(&o.sha);
	if (st < 0)
		goto out;
	if (compressed) {
		if (e->size > SIZE_MAX || !(o.mem = malloc(e->size ? (size_t)e->size : 1))) {
			st = rp__err(err, RP_E_NOMEM, "%s: no memory to rebuild it", e->path);
			goto out;
		}
		o.mem_cap = (size_t)e->size;
	} else {
		/* A leftover of an interrupted earlier delivery of this object is replaced. */
		(void)unlinkat(dfd, tmp, 0);
		o.fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      file_mode);
		if (o.fd >= 0 && fchmod(o.fd, file_mode) < 0) {
			st = rp__err(err, errno_status(errno), "%s: chmod: %s", e->path,
				     strerror(errno));
			goto out;
		}
	}
	if (!compressed && o.fd < 0) {
		st = rp__err(err, errno_status(errno), "%s: %s", e->path, strerror(errno));
		goto out;
	}
	if (h->kind == RP__OBJ_VERBATIM) {
		if (out_write(&o, body, h->body_len) < 0)
			goto werr;
	} else {
		if (h->codec >= 16 || !rp_codec_can_decode((enum rp_codec)h->codec)) {
			st = rp__err(err, RP_E_UNSUPPORTED, "%s: this receiver cannot decode codec %u",
				     e->path, h->codec);
			goto out;
		}
		if (!dec->d[h->codec]) {
			struct rp_decoder_options dop;
			rp_decoder_options_init(&dop);
			dop.codec = (enum rp_codec)h->codec;
			if ((st = rp_decoder_create(&dop, &dec->d[h->codec])) < 0)
				goto out;
		}
		size_t fs = rp_image_frame_size(&h->img);
		frame = malloc(fs ? fs : 1);
		struct rp__sha256 *ph = NULL;
		if (!frame || rp__sha256_create(&ph) < 0) {
			st = RP_E_NOMEM;
			goto out;
		}
		if (out_write(&o, body, h->prefix_len) < 0) {
			rp__sha256_destroy(ph);
			goto werr;
		}
		const uint8_t *p = body + h->prefix_len;
		for (uint32_t i = 0; i < h->frame_count; i++) {
			struct rp_errbuf de;
			st = rp_decoder_decode(dec->d[h->codec], &h->img, p, h->frame_len[i], frame, fs,
					       &de);
			if (st < 0) {
				rp__sha256_destroy(ph);
				st = rp__err(err, RP_E_CORRUPT, "%s: frame %u: %s", e->path, i, de.msg);
				goto out;
			}
			rp__sha256_update(ph, frame, fs);
			if (out_write(&o, frame, fs) < 0) {
				rp__sha256_destroy(ph);
				goto werr;
			}
			p += h->frame_len[i];
		}
		uint8_t pix[32];
		rp__sha256_final(ph, pix);
		rp__sha256_destroy(ph);
		if (memcmp(pix, h->pixel_hash, 32) != 0) {
			st = rp__err(err, RP_E_MISMATCH, "%s: decoded pixels do not match the pixel hash",
				     e->path);
			goto out;
		}
		if (out_write(&o, p, h->suffix_len) < 0)
			goto werr;
	}
	uint8_t sha[32];
	rp__sha256_final(o.sha, sha);
	if (o.written != e->size || memcmp(sha, e->sha256, 32) != 0) {
		st = rp__err(err, RP_E_MISMATCH, "%s: rebuilt file does not match the manifest's "
			     "SHA-256", e->path);
		goto out;
	}
	if (compressed) {
		/* rp_dicom_write_file() made it durable; only the journal record waits. */
		st = write_compressed(srv, s, h, body + h->prefix_len, &o, dec, err);
		if (st == RP_OK && fchmodat(dfd, leaf, file_mode, 0) < 0)
			st = rp__err(err, errno_status(errno), "%s: chmod: %s", e->path,
				     strerror(errno));
		if (st == RP_OK) {
			if (s->nbatch == 0)
				s->batch_t0 = rp__now();
			s->batch[s->nbatch++] = (struct rp__pending_obj){.fd = -1, .dfd = -1,
									  .index = j,
									  .size = e->size};
		}
		goto out;
	}
	/* fsync, rename and the journal record happen in batch_flush(), for many files at
	 * once; start the writeback now so that the fsync there finds little to do. */
	(void)sync_file_range(o.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	struct rp__pending_obj *pe = &s->batch[s->nbatch++];
	if (s->nbatch == 1)
		s->batch_t0 = rp__now();
	pe->fd = o.fd;
	pe->dfd = dfd;
	pe->index = j;
	pe->size = e->size;
	snprintf(pe->tmp, sizeof(pe->tmp), "%s", tmp);
	snprintf(pe->leaf, sizeof(pe->leaf), "%s", leaf);
	o.fd = -1;
	dfd = -1;
	st = RP_OK;
	goto out;
werr:
	st = rp__err(err, errno_status(errno), "%s: %s", e->path, strerror(errno));
out:
	if (o.fd >= 0) {
		close(o.fd);
		unlinkat(dfd, tmp, 0);
	}
	rp__sha256_destroy(o.sha);
	free(o.mem);
	free(frame);
	if (dfd >= 0)
		close(dfd);
	return st;
}

static void
send_progress(struct rp_server *srv, struct rp__conn *c, uint64_t bytes, uint64_t objects)
{
	uint64_t v[2] = {bytes, objects};
	struct rp__wbuf b = {0};
	struct rp_errbuf e;
	rp__u64s_encode(&b, v, 2);
	if (!b.failed)
		(void)rp__send_frame(srv->ops, c, RP__F_PROGRESS, b.p, b.len, &e);
	rp__wbuf_free(&b);
}

/* The first path component of every entry, each once, in manifest order. */
static int
move_into_place(struct rp_server *srv, struct rp__session *s, int stage, struct rp_errbuf *err)
{
	char **tops = calloc(s->mf.count, sizeof(*tops));
	size_t n = 0;
	int st = RP_OK;
	if (!tops)
		return RP_E_NOMEM;
	for (uint32_t i = 0; i < s->mf.count; i++) {
		const char *p = s->mf.e[i].path, *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		bool seen = false;
		for (size_t t = 0; t < n && !seen; t++)
			seen = strlen(tops[t]) == len && memcmp(tops[t], p, len) == 0;
		if (!seen && !(tops[n++] = strndup(p, len))) {
			st = RP_E_NOMEM;
			goto out;
		}
	}
	/* Check every destination first, so that a clash moves nothing. */
	for (size_t t = 0; t < n; t++) {
		struct stat a, b;
		bool staged = fstatat(stage, tops[t], &a, AT_SYMLINK_NOFOLLOW) == 0;
		bool exists = fstatat(srv->dirfd, tops[t], &b, AT_SYMLINK_NOFOLLOW) == 0;
		if (staged && exists) {
			st = rp__err(err, RP_E_IO, "%s/%s already exists: not replacing it",
				     srv->o->dir, tops[t]);
			goto out;
		}
		if (!staged && !exists) {
			st = rp__err(err, RP_E_INTERNAL, "%s is neither staged nor delivered", tops[t]);
			goto out;
		}
	}
	for (size_t t = 0; t < n; t++) {
		if (renameat2(stage, tops[t], srv->dirfd, tops[t], RENAME_NOREPLACE) < 0 &&
		    errno != ENOENT) {
			st = rp__err(err, errno_status(errno), "rename %s into %s: %s", tops[t],
				     srv->o->dir, strerror(errno));
			goto out;
		}
	}
	if (fsync(srv->dirfd) < 0)
		st = rp__err(err, errno_status(errno), "fsync %s: %s", srv->o->dir, strerror(errno));
out:
	for (size_t t = 0; t < n; t++)
		free(tops[t]);
	free(tops);
	return st;
}

static void
object_delivered(struct rp__session *s, uint32_t j, uint64_t size)
{
	pthread_mutex_lock(&s->mu);
	s->obj_done[j] = 1;
	s->stats[RP__ST_OBJECTS]++;
	s->stats[RP__ST_ORIG_BYTES] += size;
	pthread_mutex_unlock(&s->mu);
}

/* Makes the batched files durable and journals them: fsync each file, rename it to its
 * name, fsync each directory once, then one journal append and fdatasync for all. */
static int
batch_flush(struct rp__session *s, struct rp_errbuf *err)
{
	int st = RP_OK;
	unsigned n = s->nbatch;
	bool renamed[RP__BATCH_MAX] = {0};
	for (unsigned i = 0; i < n; i++) {
		struct rp__pending_obj *p = &s->batch[i];
		if (p->fd < 0)
			continue;
		if (st == RP_OK && fsync(p->fd) < 0)
			st = rp__err(err, errno_status(errno), "%s: fsync: %s", s->mf.e[p->index].path,
				     strerror(errno));
		close(p->fd);
		p->fd = -1;
		if (st == RP_OK && renameat(p->dfd, p->tmp, p->dfd, p->leaf) < 0)
			st = rp__err(err, errno_status(errno), "%s: rename: %s",
				     s->mf.e[p->index].path, strerror(errno));
		renamed[i] = st == RP_OK;
	}
	for (unsigned i = 0; i < n && st == RP_OK; i++) {
		struct rp__pending_obj *p = &s->batch[i];
		struct stat a, b;
		bool seen = false;
		if (p->dfd < 0 || fstat(p->dfd, &a) < 0)
			continue;
		for (unsigned q = 0; q < i && !seen; q++)
			seen = s->batch[q].dfd >= 0 && fstat(s->batch[q].dfd, &b) == 0 &&
			       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
		if (!seen && fsync(p->dfd) < 0)
			st = io_err(err, s, "fsync of a stage directory", errno);
	}
	if (st == RP_OK && n) {
		uint8_t rec[16 * RP__BATCH_MAX] = {0};
		for (unsigned i = 0; i < n; i++) {
			rp__store_le32(rec + 16 * i, J_OBJECT);
			rp__store_le64(rec + 16 * i + 8, s->batch[i].index);
		}
		pthread_mutex_lock(&s->sync_mu);
		int r = write_all(s->journal_fd, rec, 16 * n) < 0 || fdatasync(s->journal_fd) < 0
				? errno : 0;
		pthread_mutex_unlock(&s->sync_mu);
		if (r)
			st = io_err(err, s, "journal", r);
	}
	for (unsigned i = 0; i < n; i++) {
		struct rp__pending_obj *p = &s->batch[i];
		if (st == RP_OK)
			object_delivered(s, p->index, p->size);
		else if (p->dfd >= 0 && !renamed[i])
			unlinkat(p->dfd, p->tmp, 0);
		if (p->dfd >= 0)
			close(p->dfd);
	}
	s->nbatch = 0;
	return st;
}

static int
delivery_prepare(struct rp__session *s, struct rp_errbuf *err)
{
	if (!s->dec && !(s->dec = calloc(1, sizeof(*s->dec))))
		return RP_E_NOMEM;
	if (s->stage < 0) {
		s->stage = openat(s->sdir, "stage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s->stage < 0)
			return io_err(err, s, "stage", errno);
	}
	return RP_OK;
}

/* Whether every data chunk covering stream bytes [a, b) has arrived. */
static bool
range_present(struct rp__session *s, uint64_t a, uint64_t b)
{
	const uint32_t cs = s->mf.chunk_size, k = s->mf.k, m = s->mf.m;
	bool ok = true;
	pthread_mutex_lock(&s->mu);
	for (uint64_t d = a / cs; ok && d * cs < b; d++)
		ok = rp__ranges_has(&s->got, (d / k) * (k + m) + d % k);
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Delivers the objects whose bytes have all arrived, in stream order, while the transfer
 * goes on: decoding overlaps the network instead of following it.  Called by whichever
 * connection thread wrote a chunk; one at a time (trylock: the others keep receiving). */
static int
deliver_ahead(struct rp_server *srv, struct rp__session *s, struct rp_errbuf *err)
{
	if (pthread_mutex_trylock(&s->deliver_mu) != 0)
		return RP_OK;
	int st = delivery_prepare(s, err);
	long page = sysconf(_SC_PAGESIZE);
	while (st == RP_OK && s->dnext < s->mf.count && !s->delivered) {
		uint64_t pos = s->dpos;
		uint8_t fixed[RP__OBJHDR_FIXED];
		struct rp__objhdr h;
		size_t need;
		if (!range_present(s, pos, pos + sizeof(fixed)) ||
		    pread_all(s->stream_fd, fixed, sizeof(fixed), pos) < 0)
			break;
		if ((st = rp__objhdr_decode(fixed, sizeof(fixed), &h, &need, err)) < 0)
			break;
		uint8_t *hb = malloc(need);
		if (!hb) {
			st = RP_E_NOMEM;
			break;
		}
		if (!range_present(s, pos, pos + need) || pread_all(s->stream_fd, hb, need, pos) < 0) {
			free(hb);
			break;
		}
		st = rp__objhdr_decode(hb, need, &h, &need, err);
		free(hb);
		if (st < 0)
			break;
		uint32_t j = s->dnext;
		if (h.index != j || h.orig_size != s->mf.e[j].size || pos + need > s->max_stream ||
		    h.body_len > s->max_stream - pos - need) {
			rp__objhdr_free(&h);
			st = rp__err(err, RP_E_CORRUPT, "object %u: header disagrees with the manifest",
				     j);
			break;
		}
		uint64_t end = pos + need + h.body_len;
		if (!range_present(s, pos, end)) {
			rp__objhdr_free(&h);
			break;
		}
		if (!s->obj_done[j]) {
			uint64_t base = pos - pos % (uint64_t)page;
			size_t len = (size_t)(end - base);
			uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, s->stream_fd, (off_t)base);
			if (map == MAP_FAILED) {
				rp__objhdr_free(&h);
				st = io_err(err, s, "mapping the stream spool", errno);
				break;
			}
			if (s->nbatch == RP__BATCH_MAX)
				st = batch_flush(s, err);
			if (st == RP_OK)
				st = deliver_object(srv, s, s->stage, j, &h, map + (pos - base) + need,
						    s->dec, err);
			munmap(map, len);
		}
		rp__objhdr_free(&h);
		if (st == RP_OK) {
			s->dpos = end;
			s->dnext = j + 1;
		}
	}
	if (st == RP_OK && s->nbatch && rp__now() - s->batch_t0 > 0.5)
		st = batch_flush(s, err);
	pthread_mutex_unlock(&s->deliver_mu);
	return st;
}

static int
deliver(struct rp_server *srv, struct rp__session *s, struct rp__conn *c, uint64_t stream_len,
	struct rp_errbuf *err)
{
	RP_TRY(delivery_prepare(s, err));
	/* Objects delivered ahead but not yet durable count as delivered from here on. */
	RP_TRY(batch_flush(s, err));
	int stage = s->stage;
	uint8_t *map = mmap(NULL, stream_len, PROT_READ, MAP_SHARED, s->stream_fd, 0);
	if (map == MAP_FAILED)
		return io_err(err, s, "mapping the stream spool", errno);
	struct stat stt;
	int st = RP_OK;
	if (fstat(s->stream_fd, &stt) < 0 || (uint64_t)stt.st_size < stream_len)
		st = rp__err(err, RP_E_CORRUPT, "session %s: spool shorter than the stream", s->hex);
	uint64_t pos = 0;
	double last = rp__now();
	for (uint32_t j = 0; j < s->mf.count && st == RP_OK; j++) {
		struct rp__objhdr h;
		size_t need;
		st = rp__objhdr_decode(map + pos, stream_len - pos, &h, &need, err);
		if (st == RP_OK && need > stream_len - pos)
			st = rp__err(err, RP_E_CORRUPT, "object %u header runs past the stream", j);
		if (st < 0)
			break;
		if (h.index != j || h.orig_size != s->mf.e[j].size ||
		    h.body_len > stream_len - pos - need) {
			rp__objhdr_free(&h);
			st = rp__err(err, RP_E_CORRUPT, "object %u: header disagrees with the "
				     "manifest or the stream", j);
			break;
		}
		if (!s->obj_done[j]) {
			if (s->nbatch == RP__BATCH_MAX)
				st = batch_flush(s, err);
			if (st == RP_OK)
				st = deliver_object(srv, s, stage, j, &h, map + pos + need, s->dec, err);
		}
		pos += need + h.body_len;
		rp__objhdr_free(&h);
		if (rp__now() - last > 0.5) {
			last = rp__now();
			send_progress(srv, c, pos, j + 1);
		}
	}
	if (st == RP_OK && pos != stream_len)
		st = rp__err(err, RP_E_CORRUPT, "stream has %llu bytes after the last object",
			     (unsigned long long)(stream_len - pos));
	if (st == RP_OK)
		st = batch_flush(s, err);
	if (st == RP_OK && fsync(stage) < 0)
		st = io_err(err, s, "fsync stage", errno);
	if (st == RP_OK)
		st = move_into_place(srv, s, stage, err);
	if (st == RP_OK)
		st = journal_record(s, J_DELIVERED, 0, err);
	if (st == RP_OK) {
		s->delivered = true;
		/* The spool has served its purpose; the journal remembers the delivery. */
		(void)ftruncate(s->stream_fd, 0);
		(void)ftruncate(s->parity_fd, 0);
	}
	munmap(map, stream_len);
	return st;
}

int
rp__session_done(struct rp_server *srv, struct rp__session *s, const void *self,
		 struct rp__conn *c, const struct rp__done *d, struct rp_errbuf *err)
{
	const uint32_t cs = s->mf.chunk_size;
	if (d->stream_length == 0 || d->stream_length > s->max_stream ||
	    d->data_chunks != (d->stream_length + cs - 1) / cs)
		return rp__err(err, RP_E_PROTOCOL, "DONE: stream of %llu bytes in %llu chunks is "
			       "inconsistent", (unsigned long long)d->stream_length,
			       (unsigned long long)d->data_chunks);
	if (s->delivered)
		goto complete;
	/* Wait until every stream of this run said END or went away.  The sender sends DONE
	 * once every stream it still has wrote its last chunk, so a stream that receives
	 * nothing for a few seconds now is one the sender gave up on (black-holed: no FIN
	 * reaches us): abort it rather than wait for the I/O timeout; its chunks come from
	 * parity or a NEED.  A slow stream still draining its socket buffer keeps
	 * receiving bytes and is left alone. */
	pthread_mutex_lock(&s->mu);
	double deadline = rp__now() + srv->o->io_timeout_s + 1;
	while (s->ended < s->joined) {
		struct timespec ts = rp__timespec_in(0.25);
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			continue;
		bool late = rp__now() >= deadline;
		pthread_mutex_unlock(&s->mu);
		if (late)
			rp__session_abort_conns(s, self);
		else
			rp__session_abort_silent(s, self, RP__SILENT_AFTER_DONE_S);
		pthread_mutex_lock(&s->mu);
		if (late) {
			ts = rp__timespec_in(5);
			while (s->ended < s->joined &&
			       pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
				;
			break;
		}
	}
	/* The one short data chunk must be the stream's last. */
	uint64_t last_d = d->data_chunks - 1, last_n = d->stream_length - last_d * cs;
	if (s->have_short && (s->short_d != last_d || s->short_size != last_n)) {
		pthread_mutex_unlock(&s->mu);
		return rp__err(err, RP_E_PROTOCOL, "short chunk %llu is not the stream's end",
			       (unsigned long long)s->short_d);
	}
	pthread_mutex_unlock(&s->mu);

	int st = session_sync(s, err);
	struct rp__ranges need = {0};
	if (st == RP_OK)
		st = rebuild_groups(s, d->stream_length, d->data_chunks, &need, err);
	if (st == RP_OK)
		st = session_sync(s, err);
	if (st == RP_OK && need.count) {
		struct rp__wbuf b = {0};
		rp__ranges_encode(&b, &need);
		uint64_t n = rp__ranges_total(&need);
		pthread_mutex_lock(&s->mu);
		s->stats[RP__ST_NEEDED] += n;
		pthread_mutex_unlock(&s->mu);
		rp__srv_log(srv, "need", srv->ops->peer(c), s->hex, NULL, "\"chunks\":%llu",
			    (unsigned long long)n);
		st = b.failed ? RP_E_NOMEM : rp__send_frame(srv->ops, c, RP__F_NEED, b.p, b.len, err);
		rp__wbuf_free(&b);
		rp__ranges_free(&need);
		return st;
	}
	rp__ranges_free(&need);
	if (st == RP_OK) {
		pthread_mutex_lock(&s->deliver_mu);
		st = deliver(srv, s, c, d->stream_length, err);
		pthread_mutex_unlock(&s->deliver_mu);
	}
	if (st < 0) {
		rp__srv_log(srv, "session_failed", srv->ops->peer(c), s->hex, err->msg,
			    "\"status\":\"%s\"", rp_status_name(st));
		return st;
	}
complete:;
	uint64_t v[RP__COMPLETE_FIELDS];
	pthread_mutex_lock(&s->mu);
	memcpy(v, s->stats, sizeof(v));
	pthread_mutex_unlock(&s->mu);
	rp__srv_log(srv, "session_complete", srv->ops->peer(c), s->hex, NULL,
		    "\"objects\":%u,\"bytes\":%llu,\"delivered\":%llu,\"chunks\":%llu,"
		    "\"chunk_bytes\":%llu,\"crc_errors\":%llu,\"rebuilt\":%llu,\"duplicates\":%llu,"
		    "\"needed\":%llu,\"seconds\":%.3f",
		    s->mf.count, (unsigned long long)s->mf.total, (unsigned long long)v[0],
		    (unsigned long long)v[2], (unsigned long long)v[3], (unsigned long long)v[4],
		    (unsigned long long)v[5], (unsigned long long)v[6], (unsigned long long)v[7],
		    rp__now() - s->t_start);
	struct rp__wbuf b = {0};
	rp__u64s_encode(&b, v, RP__COMPLETE_FIELDS);
	st = b.failed ? RP_E_NOMEM : rp__send_frame(srv->ops, c, RP__F_COMPLETE, b.p, b.len, err);
	rp__wbuf_free(&b);
	return st;
}
