/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/spool.c - a receiving session on disk: DIR/.radpipe/<id>/{manifest, stream,
 * parity, journal, stage/} (FORMAT.md section 6).  Chunks are written in place; a
 * journal record is appended only after the bytes it names were fdatasync'ed, so a
 * kill -9 at any moment loses at most the chunks since the last sync.  At the end of a
 * run, groups with enough chunks are rebuilt from parity and the rest is listed as
 * needed. */
#include "transport/spool.h"
#include "transport/chunk.h"
#include "transport/fec.h"
#include "transport/transport.h"
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define J_KEY 1
#define J_OBJECT 2
#define J_DELIVERED 3
#define SYNC_EVERY_CHUNKS 64
#define SYNC_EVERY_S 0.5

struct rp__spool {
	char hex[33];
	struct rp__manifest mf;
	struct rp__chunk_geom gm;
	uint64_t max_stream;         /* in-flight bytes this manifest may take */
	int sdir, stream_fd, parity_fd, journal_fd;

	pthread_mutex_t mu;          /* everything below */
	struct rp__ranges got;       /* keys written to the spool */
	struct rp__ranges durable;   /* keys journaled after fdatasync */
	uint64_t *pending;           /* written, not yet journaled */
	size_t npending, cap_pending;
	double last_sync;
	uint8_t *obj_done;           /* per object: delivered into the stage */
	bool delivered;
	uint64_t short_d, short_size;/* the one data chunk shorter than chunk_size */
	bool have_short;

	pthread_mutex_t sync_mu;     /* one fdatasync + journal append at a time */
};

static int
io_err(struct rp_errbuf *err, const struct rp__spool *sp, const char *what, int e)
{
	return rp__err(err, rp__errno_status(e), "session %s: %s: %s", sp->hex, what,
		       strerror(e));
}

void
rp__spool_close(struct rp__spool *sp)
{
	if (!sp)
		return;
	rp__manifest_free(&sp->mf);
	rp__ranges_free(&sp->got);
	rp__ranges_free(&sp->durable);
	free(sp->pending);
	free(sp->obj_done);
	for (int *fd = &sp->sdir; fd <= &sp->journal_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	pthread_mutex_destroy(&sp->mu);
	pthread_mutex_destroy(&sp->sync_mu);
	free(sp);
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
	if (!*data || (*size && rp__pread_full(fd, *data, *size, 0) < 0)) {
		free(*data);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
replay_journal(struct rp__spool *sp, struct rp_errbuf *err)
{
	struct stat st;
	if (fstat(sp->journal_fd, &st) < 0)
		return io_err(err, sp, "journal", errno);
	uint64_t n = (uint64_t)st.st_size / 16;
	uint8_t rec[16 * 256];
	for (uint64_t i = 0; i < n;) {
		size_t take = n - i > 256 ? 256 : (size_t)(n - i);
		if (rp__pread_full(sp->journal_fd, rec, take * 16, i * 16) < 0)
			return io_err(err, sp, "journal", errno ? errno : EIO);
		for (size_t r = 0; r < take; r++) {
			uint32_t type = rp__load_le32(rec + 16 * r);
			uint64_t v = rp__load_le64(rec + 16 * r + 8);
			if (type == J_KEY) {
				RP_TRY(rp__ranges_add(&sp->durable, v));
				RP_TRY(rp__ranges_add(&sp->got, v));
			} else if (type == J_OBJECT && v < sp->mf.count) {
				sp->obj_done[v] = 1;
			} else if (type == J_DELIVERED) {
				sp->delivered = true;
			}
		}
		i += take;
	}
	/* A torn last record (kill during append) is dropped. */
	if ((uint64_t)st.st_size != n * 16 && ftruncate(sp->journal_fd, (off_t)(n * 16)) < 0)
		return io_err(err, sp, "journal", errno);
	return RP_OK;
}

static int
open_files(struct rp__spool *sp, int radfd, const uint8_t *man, size_t man_len,
	   struct rp_errbuf *err)
{
	if (mkdirat(radfd, sp->hex, 0700) < 0 && errno != EEXIST)
		return io_err(err, sp, "session directory", errno);
	sp->sdir = openat(radfd, sp->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sp->sdir < 0)
		return io_err(err, sp, "session directory", errno);
	uint8_t *old = NULL;
	size_t old_len = 0;
	if (read_file_at(sp->sdir, "manifest", &old, &old_len) == 0) {
		bool same = old_len == man_len && memcmp(old, man, man_len) == 0;
		free(old);
		if (!same)
			return rp__err(err, RP_E_MISMATCH, "session %s: stored manifest differs",
				       sp->hex);
	} else {
		int fd = openat(sp->sdir, "manifest.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600);
		if (fd < 0 || rp__write_full(fd, man, man_len) < 0 || fsync(fd) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return io_err(err, sp, "manifest", e);
		}
		close(fd);
		if (renameat(sp->sdir, "manifest.tmp", sp->sdir, "manifest") < 0 ||
		    fsync(sp->sdir) < 0)
			return io_err(err, sp, "manifest", errno);
	}
	sp->stream_fd = openat(sp->sdir, "stream", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	sp->parity_fd = openat(sp->sdir, "parity", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	sp->journal_fd = openat(sp->sdir, "journal", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
				0600);
	if (sp->stream_fd < 0 || sp->parity_fd < 0 || sp->journal_fd < 0)
		return io_err(err, sp, "spool", errno);
	if (mkdirat(sp->sdir, "stage", 0755) < 0 && errno != EEXIST)
		return io_err(err, sp, "stage", errno);
	return replay_journal(sp, err);
}

int
rp__spool_open(int radfd, const char *hex, const uint8_t *manifest, size_t manifest_len,
	       const struct rp__manifest *mf, struct rp__spool **ret, struct rp_errbuf *err)
{
	*ret = NULL;
	struct rp__spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return RP_E_NOMEM;
	sp->sdir = sp->stream_fd = sp->parity_fd = sp->journal_fd = -1;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_mutex_init(&sp->sync_mu, NULL);
	snprintf(sp->hex, sizeof(sp->hex), "%s", hex);
	int st = RP_OK;
	/* Deep copy of the manifest. */
	sp->mf = *mf;
	sp->mf.e = calloc(mf->count, sizeof(*sp->mf.e));
	sp->obj_done = calloc(mf->count, 1);
	if (!sp->mf.e || !sp->obj_done) {
		sp->mf.count = 0;
		st = RP_E_NOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < mf->count; i++) {
		sp->mf.e[i] = mf->e[i];
		sp->mf.e[i].path = strdup(mf->e[i].path);
		if (!sp->mf.e[i].path) {
			sp->mf.count = i;
			st = RP_E_NOMEM;
			goto fail;
		}
	}
	sp->gm = (struct rp__chunk_geom){.cs = mf->chunk_size, .k = mf->k, .m = mf->m};
	/* The in-flight form may exceed the original a little (headers, incompressible
	 * frames go verbatim): allow headers of up to 64 KiB per object on top. */
	if (__builtin_mul_overflow((uint64_t)mf->count, (uint64_t)65536, &sp->max_stream) ||
	    __builtin_add_overflow(sp->max_stream, mf->total, &sp->max_stream)) {
		st = rp__err(err, RP_E_LIMIT, "manifest sizes overflow");
		goto fail;
	}
	if ((st = open_files(sp, radfd, manifest, manifest_len, err)) < 0)
		goto fail;
	sp->last_sync = rp__now();
	*ret = sp;
	return RP_OK;
fail:
	rp__spool_close(sp);
	return st;
}

const struct rp__manifest *
rp__spool_manifest(const struct rp__spool *sp)
{
	return &sp->mf;
}

uint64_t
rp__spool_max_stream(const struct rp__spool *sp)
{
	return sp->max_stream;
}

bool
rp__spool_delivered(struct rp__spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	bool d = sp->delivered;
	pthread_mutex_unlock(&sp->mu);
	return d;
}

bool
rp__spool_object_done(struct rp__spool *sp, uint32_t j)
{
	pthread_mutex_lock(&sp->mu);
	bool d = sp->obj_done[j] != 0;
	pthread_mutex_unlock(&sp->mu);
	return d;
}

uint32_t
rp__spool_objects_done(struct rp__spool *sp)
{
	uint32_t n = 0;
	pthread_mutex_lock(&sp->mu);
	for (uint32_t i = 0; i < sp->mf.count; i++)
		n += sp->obj_done[i];
	pthread_mutex_unlock(&sp->mu);
	return n;
}

int
rp__spool_durable(struct rp__spool *sp, struct rp__ranges *keys)
{
	int r = RP_OK;
	pthread_mutex_lock(&sp->mu);
	for (uint32_t i = 0; i < sp->durable.count && r == RP_OK; i++)
		for (uint64_t k = 0; k < sp->durable.r[i][1] && r == RP_OK; k++)
			r = rp__ranges_add(keys, sp->durable.r[i][0] + k);
	pthread_mutex_unlock(&sp->mu);
	return r;
}

/* ------------------------------------------------------------------------------------ */
/* Chunks and durability */

int
rp__spool_sync(struct rp__spool *sp, struct rp_errbuf *err)
{
	pthread_mutex_lock(&sp->sync_mu);
	pthread_mutex_lock(&sp->mu);
	uint64_t *keys = sp->pending;
	size_t n = sp->npending;
	sp->pending = NULL;
	sp->npending = sp->cap_pending = 0;
	sp->last_sync = rp__now();
	pthread_mutex_unlock(&sp->mu);
	int st = RP_OK;
	if (n) {
		if (fdatasync(sp->stream_fd) < 0 || fdatasync(sp->parity_fd) < 0) {
			st = io_err(err, sp, "spool fdatasync", errno);
		} else {
			uint8_t *rec = calloc(n, 16);
			if (!rec) {
				st = RP_E_NOMEM;
			} else {
				for (size_t i = 0; i < n; i++) {
					rp__store_le32(rec + 16 * i, J_KEY);
					rp__store_le64(rec + 16 * i + 8, keys[i]);
				}
				if (rp__write_full(sp->journal_fd, rec, 16 * n) < 0 ||
				    fdatasync(sp->journal_fd) < 0)
					st = io_err(err, sp, "journal", errno);
				free(rec);
			}
		}
		pthread_mutex_lock(&sp->mu);
		for (size_t i = 0; i < n && st == RP_OK; i++)
			st = rp__ranges_add(&sp->durable, keys[i]);
		pthread_mutex_unlock(&sp->mu);
	}
	free(keys);
	pthread_mutex_unlock(&sp->sync_mu);
	return st;
}

/* One append and fdatasync of n records of one type, values v[0..n). */
static int
journal_append(struct rp__spool *sp, uint32_t type, const uint32_t *v, unsigned n,
	       struct rp_errbuf *err)
{
	uint8_t rec[16 * 32] = {0};
	int r = 0;
	pthread_mutex_lock(&sp->sync_mu);
	for (unsigned done = 0; done < n && !r;) {
		unsigned take = n - done < 32 ? n - done : 32;
		for (unsigned i = 0; i < take; i++) {
			rp__store_le32(rec + 16 * i, type);
			rp__store_le64(rec + 16 * i + 8, v ? v[done + i] : 0);
		}
		r = rp__write_full(sp->journal_fd, rec, 16 * take) < 0 ||
		    fdatasync(sp->journal_fd) < 0 ? errno : 0;
		done += take;
	}
	pthread_mutex_unlock(&sp->sync_mu);
	return r ? io_err(err, sp, "journal", r) : RP_OK;
}

int
rp__spool_journal_objects(struct rp__spool *sp, const uint32_t *idx, unsigned n,
			  struct rp_errbuf *err)
{
	if (!n)
		return RP_OK;
	RP_TRY(journal_append(sp, J_OBJECT, idx, n, err));
	pthread_mutex_lock(&sp->mu);
	for (unsigned i = 0; i < n; i++)
		sp->obj_done[idx[i]] = 1;
	pthread_mutex_unlock(&sp->mu);
	return RP_OK;
}

int
rp__spool_journal_delivered(struct rp__spool *sp, struct rp_errbuf *err)
{
	RP_TRY(journal_append(sp, J_DELIVERED, NULL, 1, err));
	pthread_mutex_lock(&sp->mu);
	sp->delivered = true;
	pthread_mutex_unlock(&sp->mu);
	/* The spool has served its purpose; the journal remembers the delivery. */
	(void)ftruncate(sp->stream_fd, 0);
	(void)ftruncate(sp->parity_fd, 0);
	return RP_OK;
}

/* Under sp->mu: marks a key written; RP_OK, or 1 when it was already there. */
static int
mark_got(struct rp__spool *sp, uint64_t key)
{
	if (rp__ranges_has(&sp->got, key))
		return 1;
	RP_TRY(rp__ranges_add(&sp->got, key));
	if (sp->npending == sp->cap_pending) {
		size_t cap = sp->cap_pending ? sp->cap_pending * 2 : 64;
		uint64_t *p = realloc(sp->pending, cap * sizeof(*p));
		if (!p)
			return RP_E_NOMEM;
		sp->pending = p;
		sp->cap_pending = cap;
	}
	sp->pending[sp->npending++] = key;
	return RP_OK;
}

int
rp__spool_check_chunk(const struct rp__spool *sp, const struct rp__chunk *ch,
		      struct rp_errbuf *err)
{
	const uint32_t cs = sp->gm.cs, k = sp->gm.k, m = sp->gm.m;
	if (ch->index >= k + m || ch->size > cs || (ch->index >= k && ch->size != cs) ||
	    ch->k_group > k)
		return rp__err(err, RP_E_PROTOCOL, "chunk (group %llu, index %u, %u bytes) "
			       "does not fit k=%u m=%u chunk size %u",
			       (unsigned long long)ch->group, ch->index, ch->size, k, m, cs);
	uint64_t groups_max = sp->max_stream / cs / k + 1;
	if (ch->group >= groups_max)
		return rp__err(err, RP_E_LIMIT, "chunk group %llu beyond what the manifest allows",
			       (unsigned long long)ch->group);
	if (ch->index < k && (ch->group * k + ch->index) * cs + ch->size > sp->max_stream)
		return rp__err(err, RP_E_LIMIT, "chunk beyond what the manifest allows");
	return RP_OK;
}

int
rp__spool_write_chunk(struct rp__spool *sp, const struct rp__chunk *ch, bool *dup,
		      struct rp_errbuf *err)
{
	const uint32_t cs = sp->gm.cs, k = sp->gm.k, m = sp->gm.m;
	uint64_t key = rp__chunk_key(&sp->gm, ch->group, ch->index);
	bool data = ch->index < k;
	uint64_t off = data ? (ch->group * k + ch->index) * cs
			    : (ch->group * m + (ch->index - k)) * cs;
	pthread_mutex_lock(&sp->mu);
	*dup = sp->delivered || rp__ranges_has(&sp->got, key);
	pthread_mutex_unlock(&sp->mu);
	if (*dup)
		return RP_OK;
	if (rp__pwrite_full(data ? sp->stream_fd : sp->parity_fd, ch->data, ch->size, off) < 0)
		return io_err(err, sp, data ? "writing stream spool" : "writing parity spool",
			      errno);
	pthread_mutex_lock(&sp->mu);
	int st = mark_got(sp, key);
	if (st == RP_OK && data && ch->size < cs) {
		sp->have_short = true;
		sp->short_d = ch->group * k + ch->index;
		sp->short_size = ch->size;
	}
	bool sync = sp->npending >= SYNC_EVERY_CHUNKS || rp__now() - sp->last_sync > SYNC_EVERY_S;
	pthread_mutex_unlock(&sp->mu);
	if (st > 0)
		st = RP_OK;
	if (st == RP_OK && sync)
		st = rp__spool_sync(sp, err);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* End of a run: rebuild groups, list what is missing */

static int
rebuild_groups(struct rp__spool *sp, uint64_t stream_len, uint64_t data_chunks,
	       struct rp__ranges *need, uint64_t *rebuilt, struct rp_errbuf *err)
{
	const struct rp__chunk_geom *gm = &sp->gm;
	const uint32_t cs = gm->cs, k = gm->k, m = gm->m;
	uint64_t groups = rp__chunk_group_count(gm, data_chunks);
	uint8_t *mem = NULL;
	int st = RP_OK;
	for (uint64_t g = 0; g < groups && st == RP_OK; g++) {
		unsigned kg = rp__chunk_group_size(gm, data_chunks, g);
		uint8_t present[RP__MAX_K + RP__MAX_M] = {0};
		unsigned have = 0, have_data = 0;
		pthread_mutex_lock(&sp->mu);
		for (unsigned i = 0; i < kg; i++)
			have_data += present[i] = rp__ranges_has(&sp->got, rp__chunk_key(gm, g, i));
		have = have_data;
		for (unsigned j = 0; j < m; j++)
			have += present[kg + j] =
				rp__ranges_has(&sp->got, rp__chunk_key(gm, g, k + j));
		pthread_mutex_unlock(&sp->mu);
		if (have_data == kg)
			continue;
		if (have < kg) {
			for (unsigned i = 0; i < kg && st == RP_OK; i++)
				if (!present[i])
					st = rp__ranges_add(need, rp__chunk_key(gm, g, i));
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
			uint32_t n = i < kg ? rp__chunk_data_size(gm, stream_len, d) : cs;
			int fd = i < kg ? sp->stream_fd : sp->parity_fd;
			if (rp__pread_full(fd, ptr[i], n, off) < 0) {
				st = io_err(err, sp, "reading spool", errno ? errno : EIO);
				break;
			}
		}
		if (st < 0 || (st = rp__fec_rebuild(kg, m, cs, ptr, present)) < 0)
			break;
		for (unsigned i = 0; i < kg && st == RP_OK; i++) {
			if (present[i])
				continue;
			uint64_t d = g * k + i;
			uint32_t n = rp__chunk_data_size(gm, stream_len, d);
			if (rp__pwrite_full(sp->stream_fd, ptr[i], n, d * cs) < 0) {
				st = io_err(err, sp, "writing stream spool", errno);
				break;
			}
			pthread_mutex_lock(&sp->mu);
			st = mark_got(sp, rp__chunk_key(gm, g, i));
			if (st > 0)
				st = RP_OK;
			(*rebuilt)++;
			pthread_mutex_unlock(&sp->mu);
		}
	}
	free(mem);
	return st;
}

int
rp__spool_missing(struct rp__spool *sp, uint64_t stream_len, uint64_t data_chunks,
		  struct rp__ranges *need, uint64_t *rebuilt, struct rp_errbuf *err)
{
	*rebuilt = 0;
	/* The one short data chunk must be the stream's last. */
	uint64_t last_d = data_chunks - 1, last_n = stream_len - last_d * sp->gm.cs;
	pthread_mutex_lock(&sp->mu);
	bool bad = sp->have_short && (sp->short_d != last_d || sp->short_size != last_n);
	uint64_t short_d = sp->short_d;
	pthread_mutex_unlock(&sp->mu);
	if (bad)
		return rp__err(err, RP_E_PROTOCOL, "short chunk %llu is not the stream's end",
			       (unsigned long long)short_d);
	RP_TRY(rp__spool_sync(sp, err));
	RP_TRY(rebuild_groups(sp, stream_len, data_chunks, need, rebuilt, err));
	return rp__spool_sync(sp, err);
}

/* ------------------------------------------------------------------------------------ */
/* The reassembled stream */

bool
rp__spool_has_range(struct rp__spool *sp, uint64_t a, uint64_t b)
{
	const uint32_t cs = sp->gm.cs;
	bool ok = true;
	pthread_mutex_lock(&sp->mu);
	for (uint64_t d = a / cs; ok && d * cs < b; d++)
		ok = rp__ranges_has(&sp->got, rp__chunk_data_key(&sp->gm, d));
	pthread_mutex_unlock(&sp->mu);
	return ok;
}

int
rp__spool_stream_fd(const struct rp__spool *sp)
{
	return sp->stream_fd;
}

int
rp__spool_open_stage(struct rp__spool *sp, struct rp_errbuf *err)
{
	int fd = openat(sp->sdir, "stage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : io_err(err, sp, "stage", errno);
}
