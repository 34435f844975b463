/* SPDX-License-Identifier: BSD-3-Clause */
/* net/study_queue.c - the gateway's study queue (layout in net/study_queue.h).  The
 * files are the truth: memory holds counts and times rebuilt from them at open, so a
 * crash at any point leaves instances either in incoming/ or in a batch of outbox/, and
 * both are sent after a restart. */
#include "net/study_queue.h"
#include "common/internal.h"
#include "net/store_scp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIRCAP 4112   /* a spool path of at most 4000 and a subdirectory */
#define PATHCAP 4700
/* How long the record of a delivered study is kept (restarts prune older ones). */
#define RECORD_KEEP_S (30 * 86400.0)

struct sq_study {
	char uid[65];
	bool stat, failed, sending;
	double first_arrival, last_arrival;  /* wall clock (file mtimes after a restart) */
	uint32_t pending;                    /* instances in incoming/<uid> */
	uint64_t pending_bytes;
	uint32_t gen;                        /* last batch number given out */
	uint32_t batch_gen;                  /* outbox batch waiting or in flight; 0: none */
	uint32_t batch_count;
	uint64_t batch_bytes;
	uint64_t delivered, delivered_bytes;
	uint32_t sends;
	double delivered_at;
	uint32_t attempts;
	double next_retry;
	char reason[RP_ERRBUF_SIZE];
};

struct rp__study_queue {
	pthread_mutex_t mu;
	char incoming[DIRCAP], outbox[DIRCAP], studies[DIRCAP];
	struct sq_study *s;
	size_t n, cap;
	uint64_t cur_done;                   /* progress of the batch being sent */
	double cur_rate;
	double stat_quiet;                   /* a STAT study's quiet time, when shorter */
};

/* The quiet time that applies to st: a STAT study's own, when that is shorter. */
static double
quiet_of(const struct rp__study_queue *q, const struct sq_study *st, double quiet_s)
{
	return st->stat && q->stat_quiet >= 0 && q->stat_quiet < quiet_s ? q->stat_quiet
									  : quiet_s;
}

void
rp__sq_set_stat_quiet(struct rp__study_queue *q, double quiet_s)
{
	pthread_mutex_lock(&q->mu);
	q->stat_quiet = quiet_s;
	pthread_mutex_unlock(&q->mu);
}

const char *
rp__sq_state_name(enum rp__sq_state s)
{
	static const char *const names[] = {"collecting", "queued", "sending",
					    "retrying", "delivered", "failed"};
	return (unsigned)s < 6 ? names[s] : "?";
}

const char *
rp__sq_incoming(const struct rp__study_queue *q)
{
	return q->incoming;
}

static double
wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
io_err(struct rp_errbuf *err, const char *what, const char *path)
{
	int e = errno;
	return rp__err(err, e == ENOSPC || e == EDQUOT ? RP_E_NOSPACE : RP_E_IO, "%s %s: %s",
		       what, path, strerror(e));
}

static int
fsync_path(const char *path, struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return io_err(err, "open", path);
	int r = fsync(fd);
	close(fd);
	return r == 0 ? RP_OK : io_err(err, "fsync", path);
}

static int
mkdir_p1(const char *path, struct rp_errbuf *err)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return io_err(err, "mkdir", path);
	return RP_OK;
}

static struct sq_study *
find(struct rp__study_queue *q, const char *uid, bool create)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->s[i].uid, uid) == 0)
			return &q->s[i];
	if (!create)
		return NULL;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct sq_study *p = realloc(q->s, cap * sizeof(*p));
		if (!p)
			return NULL;
		q->s = p;
		q->cap = cap;
	}
	struct sq_study *st = &q->s[q->n++];
	memset(st, 0, sizeof(*st));
	snprintf(st->uid, sizeof(st->uid), "%s", uid);
	return st;
}

/* The record: `name value` lines, rewritten whole (tmp + fsync + rename). */
static int
save(struct rp__study_queue *q, const struct sq_study *st, struct rp_errbuf *err)
{
	char path[PATHCAP], buf[512];
	snprintf(path, sizeof(path), "%s/%s.state", q->studies, st->uid);
	int n = snprintf(buf, sizeof(buf),
			 "stat %d\ngen %u\nsends %u\ndelivered %llu\ndelivered_bytes %llu\n"
			 "delivered_at %.3f\nfirst_arrival %.3f\n",
			 st->stat ? 1 : 0, st->gen, st->sends, (unsigned long long)st->delivered,
			 (unsigned long long)st->delivered_bytes, st->delivered_at,
			 st->first_arrival);
	return rp_file_write_atomic(path, buf, (size_t)n, err);
}

static void
load(struct sq_study *st, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char name[32];
	double v;
	while (fscanf(f, "%31s %lf", name, &v) == 2) {
		if (strcmp(name, "stat") == 0)
			st->stat = v != 0;
		else if (strcmp(name, "gen") == 0)
			st->gen = (uint32_t)v;
		else if (strcmp(name, "sends") == 0)
			st->sends = (uint32_t)v;
		else if (strcmp(name, "delivered") == 0)
			st->delivered = (uint64_t)v;
		else if (strcmp(name, "delivered_bytes") == 0)
			st->delivered_bytes = (uint64_t)v;
		else if (strcmp(name, "delivered_at") == 0)
			st->delivered_at = v;
		else if (strcmp(name, "first_arrival") == 0)
			st->first_arrival = v;
	}
	fclose(f);
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a > b && strcmp(s + a - b, suf) == 0;
}

/* Counts the .dcm files of dir: number, bytes, oldest and newest mtime. */
static void
count_dir(const char *dir, uint32_t *n, uint64_t *bytes, double *oldest, double *newest)
{
	*n = 0;
	*bytes = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[PATHCAP];
	while ((e = readdir(d))) {
		struct stat sb;
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".dcm"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		(*n)++;
		*bytes += (uint64_t)sb.st_size;
		double t = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec / 1e9;
		if (oldest && (*oldest == 0 || t < *oldest))
			*oldest = t;
		if (newest && t > *newest)
			*newest = t;
	}
	closedir(d);
}

/* The lowest-numbered non-empty batch of outbox/<uid> (empty ones are removed). */
static void
find_batch(struct rp__study_queue *q, struct sq_study *st)
{
	char sdir[DIRCAP + 80], bdir[PATHCAP];
	snprintf(sdir, sizeof(sdir), "%s/%s", q->outbox, st->uid);
	st->batch_gen = 0;
	DIR *d = opendir(sdir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		unsigned long g = strtoul(e->d_name, &end, 10);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end || g > UINT32_MAX)
			continue;
		snprintf(bdir, sizeof(bdir), "%s/%s", sdir, e->d_name);
		uint32_t n;
		uint64_t b;
		count_dir(bdir, &n, &b, NULL, NULL);
		if (n == 0) {
			(void)rmdir(bdir);
			continue;
		}
		if (st->batch_gen == 0 || g < st->batch_gen) {
			st->batch_gen = (uint32_t)g;
			st->batch_count = n;
			st->batch_bytes = b;
		}
		if (g > st->gen)
			st->gen = (uint32_t)g;
	}
	closedir(d);
	if (st->batch_gen == 0)
		(void)rmdir(sdir);
}

static int
rebuild(struct rp__study_queue *q, struct rp_errbuf *err)
{
	DIR *d = opendir(q->studies);
	if (!d)
		return io_err(err, "open", q->studies);
	struct dirent *e;
	char p[PATHCAP], uid[65];
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		bool state = has_suffix(e->d_name, ".state"), failed = has_suffix(e->d_name, ".failed");
		size_t ulen = len - (state ? 6 : 7);
		if ((!state && !failed) || ulen >= sizeof(uid))
			continue;
		memcpy(uid, e->d_name, ulen);
		uid[ulen] = 0;
		if (!rp__uid_is_safe(uid))
			continue;
		struct sq_study *st = find(q, uid, true);
		if (!st) {
			closedir(d);
			return RP_E_NOMEM;
		}
		snprintf(p, sizeof(p), "%s/%s", q->studies, e->d_name);
		if (state) {
			load(st, p);
		} else {
			st->failed = true;
			FILE *f = fopen(p, "r");
			if (f) {
				if (!fgets(st->reason, sizeof(st->reason), f))
					st->reason[0] = 0;
				st->reason[strcspn(st->reason, "\n")] = 0;
				fclose(f);
			}
		}
	}
	closedir(d);
	/* Instances not yet in a batch, and batches left by an earlier run. */
	const char *dirs[2] = {q->incoming, q->outbox};
	for (int k = 0; k < 2; k++) {
		if (!(d = opendir(dirs[k])))
			return io_err(err, "open", dirs[k]);
		while ((e = readdir(d))) {
			if (!rp__uid_is_safe(e->d_name))
				continue;
			struct sq_study *st = find(q, e->d_name, true);
			if (!st) {
				closedir(d);
				return RP_E_NOMEM;
			}
			if (k == 1) {
				find_batch(q, st);
				continue;
			}
			snprintf(p, sizeof(p), "%s/%s", q->incoming, e->d_name);
			double oldest = 0, newest = 0;
			count_dir(p, &st->pending, &st->pending_bytes, &oldest, &newest);
			st->last_arrival = newest;
			if (st->first_arrival == 0)
				st->first_arrival = oldest;
			/* Nothing else writes here yet: the SCP starts after the queue. */
			if (st->pending == 0)
				(void)rmdir(p);
		}
		closedir(d);
	}
	/* Records of studies delivered long ago only count what they sent: dropped, so that
	 * neither the spool nor memory grows with every study ever seen (a late instance of
	 * such a study is still sent as an addition, under the same names). */
	double now = wall_now();
	size_t kept = 0;
	for (size_t i = 0; i < q->n; i++) {
		struct sq_study *st = &q->s[i];
		if (!st->failed && !st->pending && !st->batch_gen && st->sends &&
		    now - st->delivered_at > RECORD_KEEP_S) {
			snprintf(p, sizeof(p), "%s/%s.state", q->studies, st->uid);
			(void)unlink(p);
			continue;
		}
		q->s[kept++] = *st;
	}
	q->n = kept;
	/* Instances cut off mid-receive by a crash: the modality was never told success. */
	snprintf(p, sizeof(p), "%s/.incoming", q->incoming);
	if ((d = opendir(p))) {
		char f[PATHCAP + 300];
		while ((e = readdir(d)))
			if (has_suffix(e->d_name, ".part")) {
				snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
				(void)unlink(f);
			}
		closedir(d);
	}
	return RP_OK;
}

int
rp__sq_open(const char *spool, struct rp__study_queue **ret, struct rp_errbuf *err)
{
	*ret = NULL;
	struct rp__study_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return RP_E_NOMEM;
	pthread_mutex_init(&q->mu, NULL);
	q->stat_quiet = -1;
	snprintf(q->incoming, sizeof(q->incoming), "%s/incoming", spool);
	snprintf(q->outbox, sizeof(q->outbox), "%s/outbox", spool);
	snprintf(q->studies, sizeof(q->studies), "%s/studies", spool);
	int s = strlen(spool) > 4000 ? rp__err(err, RP_E_LIMIT, "spool path too long") : RP_OK;
	if (s == RP_OK)
		s = mkdir_p1(spool, err);
	if (s == RP_OK)
		s = mkdir_p1(q->incoming, err);
	if (s == RP_OK)
		s = mkdir_p1(q->outbox, err);
	if (s == RP_OK)
		s = mkdir_p1(q->studies, err);
	if (s == RP_OK)
		s = rebuild(q, err);
	if (s != RP_OK) {
		rp__sq_close(q);
		return s;
	}
	*ret = q;
	return RP_OK;
}

void
rp__sq_close(struct rp__study_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q->s);
	free(q);
}

int
rp__sq_arrived(struct rp__study_queue *q, const char *study, uint64_t size, bool stat,
	       struct rp_errbuf *err)
{
	double now = wall_now();
	int s = RP_OK;
	pthread_mutex_lock(&q->mu);
	struct sq_study *st = find(q, study, true);
	if (!st) {
		s = RP_E_NOMEM;
	} else {
		bool first = st->first_arrival == 0;
		if (first)
			st->first_arrival = now;
		st->pending++;
		st->pending_bytes += size;
		/* STAT is recorded before the modality hears success: it survives a crash. */
		if (first || (stat && !st->stat)) {
			st->stat = st->stat || stat;
			s = save(q, st, err);
		}
		/* The quiet time runs from when the arrival is on record, after the fsync of
		 * save(), so it is never shorter than the gap the sender's log shows. */
		st->last_arrival = wall_now();
	}
	pthread_mutex_unlock(&q->mu);
	return s;
}

static bool
due(const struct sq_study *st, double now, double quiet_s, double *wait)
{
	if (st->failed || st->sending)
		return false;
	if (st->next_retry > now) {
		if (st->batch_gen || st->pending)
			*wait = st->next_retry - now < *wait ? st->next_retry - now : *wait;
		return false;
	}
	if (st->batch_gen)
		return true;
	if (!st->pending)
		return false;
	double left = st->last_arrival + quiet_s - now;
	if (left <= 0)
		return true;
	*wait = left < *wait ? left : *wait;
	return false;
}

static struct sq_study *
pick(struct rp__study_queue *q, double now, double quiet_s, double *wait)
{
	struct sq_study *best = NULL;
	for (size_t i = 0; i < q->n; i++) {
		struct sq_study *st = &q->s[i];
		if (!due(st, now, quiet_of(q, st, quiet_s), wait))
			continue;
		if (!best || (st->stat && !best->stat) ||
		    (st->stat == best->stat && st->first_arrival < best->first_arrival))
			best = st;
	}
	return best;
}

bool
rp__sq_stat_due(struct rp__study_queue *q, double now, double quiet_s)
{
	double wait = 1e9;
	pthread_mutex_lock(&q->mu);
	struct sq_study *st = pick(q, now, quiet_s, &wait);
	bool r = st && st->stat;
	pthread_mutex_unlock(&q->mu);
	return r;
}

/* Moves the .dcm files of incoming/<uid> into a new batch outbox/<uid>/<gen>.  The batch number is
 * recorded first, so a crash halfway leaves a batch and some instances still in
 * incoming: both are sent. */
static int
make_batch(struct rp__study_queue *q, struct sq_study *st, struct rp_errbuf *err)
{
	char src[DIRCAP + 80], sdir[DIRCAP + 80], bdir[DIRCAP + 100], a[PATHCAP], b[PATHCAP];
	snprintf(src, sizeof(src), "%s/%s", q->incoming, st->uid);
	snprintf(sdir, sizeof(sdir), "%s/%s", q->outbox, st->uid);
	st->gen++;
	snprintf(bdir, sizeof(bdir), "%s/%u", sdir, st->gen);
	int s = save(q, st, err);
	if (s == RP_OK)
		s = mkdir_p1(sdir, err);
	if (s == RP_OK && mkdir(bdir, 0750) != 0)
		s = io_err(err, "mkdir", bdir);
	DIR *d = s == RP_OK ? opendir(src) : NULL;
	if (s == RP_OK && !d)
		s = io_err(err, "open", src);
	struct dirent *e;
	while (s == RP_OK && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".dcm"))
			continue;
		snprintf(a, sizeof(a), "%s/%s", src, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", bdir, e->d_name);
		if (rename(a, b) != 0)
			s = io_err(err, "rename", a);
	}
	if (d)
		closedir(d);
	if (s == RP_OK)
		s = fsync_path(bdir, err);
	if (s == RP_OK)
		s = fsync_path(src, err);
	if (s == RP_OK)
		s = fsync_path(sdir, err);
	double o = 0, nw = 0;
	count_dir(src, &st->pending, &st->pending_bytes, &o, &nw);
	find_batch(q, st);
	return s;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_batch(struct rp__study_queue *q, struct sq_study *st, struct rp__sq_batch *b)
{
	char bdir[DIRCAP + 100], p[PATHCAP];
	snprintf(bdir, sizeof(bdir), "%s/%s/%u", q->outbox, st->uid, st->batch_gen);
	memset(b, 0, sizeof(*b));
	snprintf(b->study, sizeof(b->study), "%s", st->uid);
	b->stat = st->stat;
	b->gen = st->batch_gen;
	DIR *d = opendir(bdir);
	if (!d)
		return RP_E_IO;
	size_t cap = 0;
	char **files = NULL;
	struct dirent *e;
	int s = RP_OK;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".dcm"))
			continue;
		if (b->count == cap) {
			cap = cap ? cap * 2 : 64;
			char **n = realloc(files, cap * sizeof(*n));
			if (!n) {
				s = RP_E_NOMEM;
				break;
			}
			files = n;
		}
		if (!(files[b->count] = strdup(e->d_name))) {
			s = RP_E_NOMEM;
			break;
		}
		b->count++;
	}
	closedir(d);
	/* Sorted, so that a rerun offers the same session and resumes it. */
	if (s == RP_OK && b->count)
		qsort(files, b->count, sizeof(*files), cmp_str);
	b->paths = calloc(b->count + 1, sizeof(char *));
	b->names = calloc(b->count + 1, sizeof(char *));
	if (!b->paths || !b->names)
		s = RP_E_NOMEM;
	for (size_t i = 0; s == RP_OK && i < b->count; i++) {
		struct stat sb;
		snprintf(p, sizeof(p), "%s/%s", bdir, files[i]);
		b->paths[i] = strdup(p);
		snprintf(p, sizeof(p), "%s/%s", st->uid, files[i]);
		b->names[i] = strdup(p);
		if (!b->paths[i] || !b->names[i])
			s = RP_E_NOMEM;
		else if (stat(b->paths[i], &sb) == 0)
			b->bytes += (uint64_t)sb.st_size;
	}
	for (size_t i = 0; i < b->count; i++)
		free(files[i]);
	free(files);
	if (s != RP_OK)
		rp__sq_batch_free(b);
	return s;
}

int
rp__sq_next(struct rp__study_queue *q, double now, double quiet_s, struct rp__sq_batch *b,
	    double *wait_s, struct rp_errbuf *err)
{
	int r = 0;
	*wait_s = 1e9;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct sq_study *st = pick(q, now, quiet_s, wait_s);
		if (!st)
			break;
		if (!st->batch_gen) {
			int s = make_batch(q, st, err);
			if (s != RP_OK) {
				r = s;
				break;
			}
			if (!st->batch_gen)
				continue;   /* what was counted had been replaced: nothing to send */
		}
		int s = read_batch(q, st, b);
		if (s != RP_OK) {
			r = rp__err(err, s, "cannot list batch %u of study %s", st->batch_gen,
				    st->uid);
			break;
		}
		st->sending = true;
		q->cur_done = 0;
		q->cur_rate = 0;
		r = 1;
		break;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

void
rp__sq_batch_free(struct rp__sq_batch *b)
{
	for (size_t i = 0; i < b->count; i++) {
		if (b->paths)
			free(b->paths[i]);
		if (b->names)
			free(b->names[i]);
	}
	free(b->paths);
	free(b->names);
	b->paths = b->names = NULL;
	b->count = 0;
}

int
rp__sq_done(struct rp__study_queue *q, struct rp__sq_batch *b, int status, double retry_s,
	    const char *reason, struct rp_errbuf *err)
{
	int s = RP_OK;
	double now = wall_now();
	pthread_mutex_lock(&q->mu);
	struct sq_study *st = find(q, b->study, false);
	if (!st) {
		pthread_mutex_unlock(&q->mu);
		return rp__err(err, RP_E_INTERNAL, "study %s not in the queue", b->study);
	}
	st->sending = false;
	if (status == RP_OK) {
		/* Files first, then the record: a crash between the two only undercounts. */
		char bdir[DIRCAP + 100], sdir[DIRCAP + 80];
		for (size_t i = 0; i < b->count; i++)
			if (unlink(b->paths[i]) != 0 && errno != ENOENT && s == RP_OK)
				s = io_err(err, "unlink", b->paths[i]);
		snprintf(sdir, sizeof(sdir), "%s/%s", q->outbox, st->uid);
		snprintf(bdir, sizeof(bdir), "%s/%u", sdir, b->gen);
		(void)rmdir(bdir);
		st->delivered += b->count;
		st->delivered_bytes += b->bytes;
		st->sends++;
		st->delivered_at = now;
		st->attempts = 0;
		st->next_retry = 0;
		st->reason[0] = 0;
		find_batch(q, st);
		int s2 = save(q, st, err);
		if (s == RP_OK)
			s = s2;
	} else if (retry_s > 0) {
		st->attempts++;
		st->next_retry = now + retry_s;
		snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
	} else if (retry_s < 0) {
		char path[PATHCAP];
		st->attempts++;
		st->failed = true;
		snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
		snprintf(path, sizeof(path), "%s/%s.failed", q->studies, st->uid);
		char line[RP_ERRBUF_SIZE + 2];
		int n = snprintf(line, sizeof(line), "%s\n", st->reason);
		s = rp_file_write_atomic(path, line, (size_t)n, err);
	}
	pthread_mutex_unlock(&q->mu);
	return s;
}

uint32_t
rp__sq_attempts(struct rp__study_queue *q, const char *study)
{
	pthread_mutex_lock(&q->mu);
	struct sq_study *st = find(q, study, false);
	uint32_t a = st ? st->attempts : 0;
	pthread_mutex_unlock(&q->mu);
	return a;
}

void
rp__sq_progress(struct rp__study_queue *q, uint64_t done_bytes, double rate_Bps)
{
	pthread_mutex_lock(&q->mu);
	q->cur_done = done_bytes;
	q->cur_rate = rate_Bps;
	pthread_mutex_unlock(&q->mu);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static enum rp__sq_state
state_of(const struct sq_study *st, double now, double quiet_s)
{
	if (st->failed)
		return RP__SQ_FAILED;
	if (st->sending)
		return RP__SQ_SENDING;
	if (st->next_retry > now && (st->batch_gen || st->pending))
		return RP__SQ_RETRYING;
	if (st->batch_gen || (st->pending && now - st->last_arrival >= quiet_s))
		return RP__SQ_QUEUED;
	if (st->pending)
		return RP__SQ_COLLECTING;
	return RP__SQ_DELIVERED;
}

void
rp__sq_status_json(struct rp__study_queue *q, FILE *f, double now, double quiet_s,
		   double keep_delivered_s)
{
	pthread_mutex_lock(&q->mu);
	fprintf(f, "\"studies\":[");
	bool first = true;
	for (size_t i = 0; i < q->n; i++) {
		const struct sq_study *st = &q->s[i];
		enum rp__sq_state state = state_of(st, now, quiet_of(q, st, quiet_s));
		if (state == RP__SQ_DELIVERED && (st->sends == 0 ||
						  now - st->delivered_at > keep_delivered_s))
			continue;
		uint64_t n = st->pending + (st->batch_gen ? st->batch_count : 0);
		uint64_t bytes = st->pending_bytes + (st->batch_gen ? st->batch_bytes : 0);
		fprintf(f, "%s\n{\"study\":\"%s\",\"priority\":\"%s\",\"state\":\"%s\","
			"\"instances\":%llu,\"bytes\":%llu,\"queued\":%llu,\"queued_bytes\":%llu,"
			"\"delivered\":%llu,\"sends\":%u,\"attempts\":%u,",
			first ? "" : ",", st->uid, st->stat ? "stat" : "routine",
			rp__sq_state_name(state), (unsigned long long)(n + st->delivered),
			(unsigned long long)(bytes + st->delivered_bytes), (unsigned long long)n,
			(unsigned long long)bytes, (unsigned long long)st->delivered, st->sends,
			st->attempts);
		first = false;
		if (state == RP__SQ_SENDING) {
			double left = st->batch_bytes > q->cur_done
					      ? (double)(st->batch_bytes - q->cur_done) : 0;
			fprintf(f, "\"sent_bytes\":%llu,\"rate_Bps\":%.0f,",
				(unsigned long long)q->cur_done, q->cur_rate);
			if (q->cur_rate > 0)
				fprintf(f, "\"eta_s\":%.1f,", left / q->cur_rate);
			else
				fprintf(f, "\"eta_s\":null,");
		} else {
			fprintf(f, "\"sent_bytes\":0,\"rate_Bps\":0,\"eta_s\":null,");
		}
		if (state == RP__SQ_RETRYING)
			fprintf(f, "\"next_retry_s\":%.1f,", st->next_retry - now);
		else
			fprintf(f, "\"next_retry_s\":null,");
		fprintf(f, "\"reason\":");
		json_str(f, st->reason);
		fprintf(f, "}");
	}
	fprintf(f, "\n]");
	pthread_mutex_unlock(&q->mu);
}
