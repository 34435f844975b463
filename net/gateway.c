/* SPDX-License-Identifier: BSD-3-Clause */
/* net/gateway.c - rp_gateway_*(): the Storage SCP and the drop-directory watcher fill
 * the study queue (net/study_queue.c); the sender loop sends each due study with
 * rp_send(), STAT first, cancelling a routine send when a STAT study becomes due (the
 * routine one resumes afterwards: rerunning rp_send resumes its session).  Threads: the
 * SCP's (one per association), one for the watcher and status.json, and the caller's,
 * which sends. */
#include "common/internal.h"
#include "net/store_scp.h"
#include "net/study_queue.h"
#include "transport/frame.h"
#include "transport/transport.h"
#include <radpipe/gateway.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/stat_rule.h"

#define PATHCAP 4400

struct rp_gateway {
	const struct rp_gateway_options *o;
	struct rp__study_queue *q;
	struct rp__stat_rules *rules;
	int lock_fd;
	char status_path[PATHCAP];
	char peer[300];                      /* host:port of the receiver, for the audit */
	struct rp_store_scp_options scp_o;
	struct rp_store_scp *scp;
	atomic_bool stop;
	atomic_bool sending_routine;         /* a routine batch is in rp_send now */
	atomic_bool preempted;
	int scp_status;
	struct rp_errbuf scp_err;
	double send_t0;
};

static double
wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One JSON line: event, then name/value pairs (NULL-terminated; NULL values left out). */
static void
gw_log(const struct rp_gateway *gw, const char *event, ...)
{
	if (!gw->o->log)
		return;
	struct rp__wbuf b = {0};
	rp__log_begin(&b, event);
	va_list ap;
	va_start(ap, event);
	const char *name;
	while ((name = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		rp__log_field(&b, name, v);
	}
	va_end(ap);
	rp__put_bytes(&b, "}", 2);
	if (!b.failed)
		gw->o->log(gw->o->log_ctx, (const char *)b.p);
	rp__wbuf_free(&b);
}

void
rp_gateway_options_init(struct rp_gateway_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->ae_title = "RADPIPE";
	o->watch_settle_s = 3;
	o->study_quiet_s = 10;
	o->stat_quiet_s = 2;
	o->retry_min_s = 2;
	o->retry_max_s = 300;
	rp_send_options_init(&o->send);
}

static bool
is_stat(struct rp_gateway *gw, const char *path)
{
	return gw->rules && rp__stat_rules_match(gw->rules, path);
}

static int
on_stored(void *ctx, const struct rp_store_scp_instance *in, struct rp_errbuf *err)
{
	struct rp_gateway *gw = ctx;
	bool stat = in->priority == RP_DIMSE_PRIORITY_HIGH || is_stat(gw, in->path);
	return rp__sq_arrived(gw->q, in->study_uid, in->size, stat, err);
}

/* ---- the drop directory ------------------------------------------------------------ */

static void
reject(struct rp_gateway *gw, const char *path, const char *why)
{
	char rdir[PATHCAP], dst[PATHCAP];
	snprintf(rdir, sizeof(rdir), "%s/.rejected", gw->o->watch_dir);
	(void)mkdir(rdir, 0750);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int n = snprintf(dst, sizeof(dst), "%s/%s", rdir, base);
	for (int i = 1; n < (int)sizeof(dst) && access(dst, F_OK) == 0 && i < 1000; i++)
		n = snprintf(dst, sizeof(dst), "%s/%s.%d", rdir, base, i);
	if (n >= (int)sizeof(dst)) {
		gw_log(gw, "watch_error", "path", path, "reason", "path too long", NULL);
		return;
	}
	if (rename(path, dst) != 0) {
		gw_log(gw, "watch_error", "path", path, "reason", strerror(errno), NULL);
		return;
	}
	gw_log(gw, "watch_rejected", "path", path, "moved_to", dst, "reason", why, NULL);
}

static int
copy_file(const void *data, size_t size, const char *dst, struct rp_errbuf *err)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", dst, strerror(errno));
	const uint8_t *p = data;
	size_t left = size;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(dst);
			return rp__err(err, e == ENOSPC ? RP_E_NOSPACE : RP_E_IO, "write %s: %s",
				       dst, strerror(e));
		}
		p += w;
		left -= (size_t)w;
	}
	close(fd);
	return RP_OK;
}

/* A settled file of the drop directory: into the queue if it is a Part 10 instance
 * (copied and committed as the SCP commits, then the original removed), else to
 * .rejected. */
static void
take_file(struct rp_gateway *gw, const char *path, const struct stat *sb)
{
	struct rp_errbuf err = {""};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t size = (size_t)sb->st_size;
	void *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (data == MAP_FAILED) {
		reject(gw, path, size ? strerror(errno) : "empty file");
		return;
	}
	const char *why = NULL;
	struct rp_dicom *ds = NULL;
	const struct rp_dicom_info *info = NULL;
	if (size < 132 || memcmp((const uint8_t *)data + 128, "DICM", 4) != 0) {
		why = "not a DICOM Part 10 file (no DICM prefix)";
	} else if (rp_dicom_parse(data, size, NULL, &ds, &err) != RP_OK) {
		why = err.msg;
	} else {
		info = rp_dicom_get_info(ds);
		if (!rp__uid_is_safe(info->study_instance_uid) ||
		    !rp__uid_is_safe(info->sop_instance_uid))
			why = "no valid Study or SOP Instance UID";
	}
	if (why) {
		char msg[RP_ERRBUF_SIZE];
		snprintf(msg, sizeof(msg), "%s", why);
		rp_dicom_free(ds);
		munmap(data, size);
		reject(gw, path, msg);
		return;
	}
	char study[65], sop[65], tmp[4200], final[PATHCAP];
	snprintf(study, sizeof(study), "%s", info->study_instance_uid);
	snprintf(sop, sizeof(sop), "%s", info->sop_instance_uid);
	rp_dicom_free(ds);
	const char *inc = rp__sq_incoming(gw->q);
	uint8_t sha[32];
	int s = rp__instance_tmpname(inc, tmp, sizeof(tmp), &err);
	if (s == RP_OK)
		s = copy_file(data, size, tmp, &err);
	munmap(data, size);
	if (s == RP_OK)
		s = rp__instance_commit(inc, tmp, study, sop, 0640, sha, &err);
	if (s != RP_OK) {
		/* Left where it is: the next scan tries again. */
		gw_log(gw, "watch_error", "path", path, "reason", err.msg, NULL);
		return;
	}
	snprintf(final, sizeof(final), "%s/%s/%s.dcm", inc, study, sop);
	if (gw->o->audit) {
		char peer[PATHCAP + 8];
		snprintf(peer, sizeof(peer), "watch:%s", path);
		struct rp_audit_event ev = {.event = "received", .sop_instance_uid = sop,
					    .study_uid = study, .peer = peer, .sha256 = sha};
		if (rp_audit_append(gw->o->audit, &ev, &err) != RP_OK)
			gw_log(gw, "audit_failed", "reason", err.msg, NULL);
	}
	if (rp__sq_arrived(gw->q, study, size, is_stat(gw, final), &err) != RP_OK)
		gw_log(gw, "queue_error", "study", study, "reason", err.msg, NULL);
	if (unlink(path) != 0)
		gw_log(gw, "watch_error", "path", path, "reason", strerror(errno), NULL);
	gw_log(gw, "watch_taken", "path", path, "study", study, "sop", sop, NULL);
}

static void
scan_dir(struct rp_gateway *gw, const char *dir, int depth, double now)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[PATHCAP];
	while (!atomic_load(&gw->stop) && (e = readdir(d))) {
		/* Dotfiles are files still being written by convention (rsync, scp -T). */
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(p, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode) && depth < 8) {
			scan_dir(gw, p, depth + 1, now);
			continue;
		}
		double mtime = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec / 1e9;
		if (S_ISREG(sb.st_mode) && now - mtime >= gw->o->watch_settle_s)
			take_file(gw, p, &sb);
	}
	closedir(d);
}

/* ---- status.json --------------------------------------------------------------------- */

static void
write_status(struct rp_gateway *gw, bool running)
{
	char tmp[PATHCAP + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", gw->status_path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	double now = wall_now();
	fprintf(f, "{\"pid\":%ld,\"running\":%s,\"updated\":%.3f,\"to\":\"%s\",\"dicom\":",
		(long)getpid(), running ? "true" : "false", now, gw->peer);
	if (gw->o->dicom_port)
		fprintf(f, "\"%s@*:%u\",", gw->o->ae_title, gw->o->dicom_port);
	else
		fprintf(f, "null,");
	rp__sq_status_json(gw->q, f, now, gw->o->study_quiet_s, 86400);
	fprintf(f, "}\n");
	/* Readers must never see half a file; a lost update after a power cut is harmless,
	 * so no fsync. */
	if (fclose(f) == 0)
		(void)rename(tmp, gw->status_path);
	else
		unlink(tmp);
}

static void *
housekeeping(void *arg)
{
	struct rp_gateway *gw = arg;
	while (!atomic_load(&gw->stop)) {
		if (gw->o->watch_dir)
			scan_dir(gw, gw->o->watch_dir, 0, wall_now());
		write_status(gw, true);
		for (int i = 0; i < 10 && !atomic_load(&gw->stop); i++)
			sleep_s(0.1);
	}
	return NULL;
}

static void *
scp_thread(void *arg)
{
	struct rp_gateway *gw = arg;
	gw->scp_status = rp_store_scp_run(gw->scp, &gw->scp_err);
	if (gw->scp_status != RP_OK) {
		gw_log(gw, "scp_failed", "reason", gw->scp_err.msg, NULL);
		rp_gateway_stop(gw);
	}
	return NULL;
}

/* ---- sending ------------------------------------------------------------------------- */

static void
on_progress(void *ctx, const struct rp_send_progress *p)
{
	struct rp_gateway *gw = ctx;
	/* original_done counts what was encoded, which runs far ahead of the link: progress
	 * is the chunk bytes written to the connections against the whole stream
	 * (extrapolated from what was encoded so far), in original bytes.  An estimate:
	 * parity is counted as progress, socket buffers hold some of what was written, and
	 * a resumed send skips what the receiver holds. */
	double done = 0;
	if (p->original_done && p->stream_bytes) {
		double stream = (double)p->stream_bytes * (double)p->original_total /
				(double)p->original_done;
		double frac = (double)p->wire_bytes / stream;
		done = (frac < 1 ? frac : 1) * (double)p->original_total;
	}
	rp__sq_progress(gw->q, (uint64_t)done, p->elapsed_s > 0 ? done / p->elapsed_s : 0);
}

static int
on_cancel(void *ctx)
{
	struct rp_gateway *gw = ctx;
	if (atomic_load(&gw->stop))
		return 1;
	if (atomic_load(&gw->sending_routine) &&
	    rp__sq_stat_due(gw->q, wall_now(), gw->o->study_quiet_s)) {
		atomic_store(&gw->preempted, true);
		return 1;
	}
	return 0;
}

/* Errors that sending again cannot cure: the receiver refused the study (a file that
 * exists there, a path or size it does not take) or the batch cannot be read here.
 * Everything else (network, TLS, timeouts, a full disk at the far site) is retried. */
static bool
permanent(int status)
{
	switch (status) {
	case RP_E_IO: case RP_E_PROTOCOL: case RP_E_LIMIT: case RP_E_CORRUPT:
	case RP_E_MISMATCH: case RP_E_INVALID_ARG: case RP_E_UNSUPPORTED:
		return true;
	default:
		return false;
	}
}

static void
audit_batch(struct rp_gateway *gw, const struct rp__sq_batch *b, const char *event,
	    const char *detail)
{
	if (!gw->o->audit)
		return;
	for (size_t i = 0; i < b->count; i++) {
		char sop[80];
		const char *slash = strchr(b->names[i], '/');
		snprintf(sop, sizeof(sop), "%s", slash ? slash + 1 : b->names[i]);
		size_t n = strlen(sop);
		if (n > 4 && strcmp(sop + n - 4, ".dcm") == 0)
			sop[n - 4] = 0;
		struct rp_audit_event ev = {.event = event, .sop_instance_uid = sop,
					    .study_uid = b->study, .peer = gw->peer,
					    .detail = detail};
		struct rp_errbuf err = {""};
		if (rp_audit_append(gw->o->audit, &ev, &err) != RP_OK) {
			gw_log(gw, "audit_failed", "reason", err.msg, NULL);
			return;
		}
	}
}

static void
send_batch(struct rp_gateway *gw, struct rp__sq_batch *b)
{
	struct rp_send_options so = gw->o->send;
	so.progress = on_progress;
	so.progress_ctx = gw;
	so.log = gw->o->log;
	so.log_ctx = gw->o->log_ctx;
	so.cancel = on_cancel;
	so.cancel_ctx = gw;
	char count[32], bytes[32], attempt[32];
	uint32_t attempts = rp__sq_attempts(gw->q, b->study);
	snprintf(count, sizeof(count), "%zu", b->count);
	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)b->bytes);
	snprintf(attempt, sizeof(attempt), "%u", attempts + 1);
	gw_log(gw, "send_start", "study", b->study, "priority", b->stat ? "stat" : "routine",
	       "instances", count, "bytes", bytes, "attempt", attempt, NULL);
	atomic_store(&gw->preempted, false);
	atomic_store(&gw->sending_routine, !b->stat);
	struct rp_send_report rep;
	struct rp_errbuf err = {""};
	int st = rp_send(&so, (const char *const *)b->paths, (const char *const *)b->names,
			 b->count, &rep, &err);
	atomic_store(&gw->sending_routine, false);
	struct rp_errbuf qerr = {""};
	int qs;
	if (st == RP_OK) {
		audit_batch(gw, b, "delivered", NULL);
		qs = rp__sq_done(gw->q, b, RP_OK, 0, NULL, &qerr);
		gw_log(gw, "delivered", "study", b->study, "instances", count, "bytes", bytes,
		       NULL);
	} else if (st == RP_E_CANCELLED) {
		qs = rp__sq_done(gw->q, b, st, 0, NULL, &qerr);
		gw_log(gw, atomic_load(&gw->preempted) ? "send_preempted" : "send_stopped",
		       "study", b->study, NULL);
	} else if (permanent(st)) {
		char why[RP_ERRBUF_SIZE + 32];
		snprintf(why, sizeof(why), "%s: %s", rp_status_name(st), err.msg);
		audit_batch(gw, b, "failed", why);
		qs = rp__sq_done(gw->q, b, st, -1, why, &qerr);
		gw_log(gw, "study_failed", "study", b->study, "reason", why, NULL);
	} else {
		double delay = gw->o->retry_min_s;
		for (uint32_t i = 0; i < attempts && delay < gw->o->retry_max_s; i++)
			delay *= 2;
		if (delay > gw->o->retry_max_s)
			delay = gw->o->retry_max_s;
		char why[RP_ERRBUF_SIZE + 32], in[32];
		snprintf(why, sizeof(why), "%s: %s", rp_status_name(st), err.msg);
		snprintf(in, sizeof(in), "%.1f", delay);
		qs = rp__sq_done(gw->q, b, st, delay, why, &qerr);
		gw_log(gw, "send_failed", "study", b->study, "reason", why, "retry_in_s", in,
		       NULL);
	}
	if (qs != RP_OK)
		gw_log(gw, "queue_error", "study", b->study, "reason", qerr.msg, NULL);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int
take_lock(struct rp_gateway *gw, const char *spool, struct rp_errbuf *err)
{
	char path[PATHCAP];
	snprintf(path, sizeof(path), "%s/gateway.lock", spool);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		return rp__err(err, RP_E_IO, "another gateway (pid %s) runs on spool %s",
			       pid[0] ? pid : "?", spool);
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		close(fd);
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	}
	gw->lock_fd = fd;
	return RP_OK;
}

int
rp_gateway_create(const struct rp_gateway_options *o, struct rp_gateway **ret,
		  struct rp_errbuf *err)
{
	if (!o || !ret || o->struct_size != sizeof(*o))
		return rp__err(err, RP_E_INVALID_ARG, "rp_gateway_create: bad options");
	*ret = NULL;
	if (!o->spool || !o->spool[0])
		return rp__err(err, RP_E_INVALID_ARG, "no spool directory");
	if (!o->send.host || !o->send.port)
		return rp__err(err, RP_E_INVALID_ARG, "no receiver (HOST:PORT) to send to");
	if (!o->dicom_port && !o->watch_dir)
		return rp__err(err, RP_E_INVALID_ARG, "neither a DICOM port nor a watch directory");
	if (!(o->study_quiet_s >= 0) || !(o->stat_quiet_s >= 0) || !(o->retry_min_s > 0) ||
	    !(o->retry_max_s >= o->retry_min_s))
		return rp__err(err, RP_E_INVALID_ARG, "quiet time or retry delays out of range");
	if (strlen(o->spool) > 4000 || (o->watch_dir && strlen(o->watch_dir) > 4000))
		return rp__err(err, RP_E_LIMIT, "spool or watch path too long");
	if (o->watch_dir && access(o->watch_dir, R_OK | W_OK | X_OK) != 0)
		return rp__err(err, RP_E_IO, "--watch %s: %s", o->watch_dir, strerror(errno));
	struct rp_gateway *gw = calloc(1, sizeof(*gw));
	if (!gw)
		return RP_E_NOMEM;
	gw->o = o;
	gw->lock_fd = -1;
	snprintf(gw->status_path, sizeof(gw->status_path), "%s/status.json", o->spool);
	snprintf(gw->peer, sizeof(gw->peer), strchr(o->send.host, ':') ? "[%s]:%u" : "%s:%u",
		 o->send.host, o->send.port);
	int s = RP_OK;
	if (mkdir(o->spool, 0750) != 0 && errno != EEXIST)
		s = rp__err(err, RP_E_IO, "%s: %s", o->spool, strerror(errno));
	if (s == RP_OK)
		s = take_lock(gw, o->spool, err);
	if (s == RP_OK && o->stat_rule_count)
		s = rp__stat_rules_parse(o->stat_rules, o->stat_rule_count, &gw->rules, err);
	if (s == RP_OK)
		s = rp__sq_open(o->spool, &gw->q, err);
	if (s == RP_OK)
		rp__sq_set_stat_quiet(gw->q, o->stat_quiet_s);
	if (s == RP_OK && o->dicom_port) {
		struct rp_store_scp_options *so = &gw->scp_o;
		rp_store_scp_options_init(so);
		so->ae_title = o->ae_title;
		so->port = o->dicom_port;
		so->dir = rp__sq_incoming(gw->q);
		so->allow_aets = o->allow_aets;
		so->audit = o->audit;
		so->log = o->log;
		so->log_ctx = o->log_ctx;
		so->on_stored = on_stored;
		so->on_stored_ctx = gw;
		so->tls_cert = o->dicom_tls_cert;
		so->tls_key = o->dicom_tls_key;
		so->tls_ca = o->dicom_tls_ca;
		so->tls_profile = o->dicom_tls_profile;
		s = rp_store_scp_create(so, &gw->scp, err);
	}
	if (s != RP_OK) {
		rp_gateway_destroy(gw);
		return s;
	}
	*ret = gw;
	return RP_OK;
}

int
rp_gateway_run(struct rp_gateway *gw, struct rp_errbuf *err)
{
	if (!gw)
		return rp__err(err, RP_E_INVALID_ARG, "rp_gateway_run: no gateway");
	pthread_t scp_t, hk_t;
	bool scp_started = false;
	if (gw->scp) {
		if (pthread_create(&scp_t, NULL, scp_thread, gw) != 0)
			return rp__err(err, RP_E_INTERNAL, "cannot start the SCP thread");
		scp_started = true;
	}
	if (pthread_create(&hk_t, NULL, housekeeping, gw) != 0) {
		rp_gateway_stop(gw);
		if (scp_started)
			pthread_join(scp_t, NULL);
		return rp__err(err, RP_E_INTERNAL, "cannot start the watcher thread");
	}
	gw_log(gw, "gateway_start", "to", gw->peer, NULL);
	while (!atomic_load(&gw->stop)) {
		struct rp__sq_batch b;
		double wait = 0.5;
		struct rp_errbuf qerr = {""};
		int r = rp__sq_next(gw->q, wall_now(), gw->o->study_quiet_s, &b, &wait, &qerr);
		if (r < 0) {
			gw_log(gw, "queue_error", "reason", qerr.msg, NULL);
			wait = 1;
		} else if (r == 1) {
			send_batch(gw, &b);
			rp__sq_batch_free(&b);
			continue;
		}
		/* Arrivals need no wake-up (a study waits out its quiet time anyway). */
		double t = wait < 0.2 ? wait : 0.2;
		sleep_s(t > 0.01 ? t : 0.01);
	}
	if (gw->scp) {
		rp_store_scp_stop(gw->scp);
		pthread_join(scp_t, NULL);
	}
	pthread_join(hk_t, NULL);
	write_status(gw, false);
	gw_log(gw, "gateway_stop", NULL);
	if (gw->scp && gw->scp_status != RP_OK) {
		if (err)
			*err = gw->scp_err;
		return gw->scp_status;
	}
	return RP_OK;
}

void
rp_gateway_stop(struct rp_gateway *gw)
{
	if (gw)
		atomic_store(&gw->stop, true);
}

void
rp_gateway_destroy(struct rp_gateway *gw)
{
	if (!gw)
		return;
	rp_store_scp_destroy(gw->scp);
	rp__sq_close(gw->q);
	rp__stat_rules_free(gw->rules);
	if (gw->lock_fd >= 0)
		close(gw->lock_fd);
	free(gw);
}
