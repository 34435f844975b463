/* SPDX-License-Identifier: BSD-3-Clause */
/* net/forward.c - the reading site's forward queue: every instance `serve` delivered into
 * DIR goes on into the PACS once, over rp_store_scu_send().  Each instance has a journal
 * file in DIR/.radpipe/forward/ (state, the PACS's last status, attempts, path), replaced
 * atomically at every change, so a restart re-queues what is pending and never resends
 * what was delivered.  One worker thread; while the PACS is unreachable or out of
 * resources it waits, doubling from retry_initial_s to retry_max_s, and drops nothing;
 * an instance the PACS refuses for good is marked failed and logged. */
#include "radpipe/forward.h"
#include "common/fileio.h"
#include "transport/frame.h"
#include "transport/transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { F_PENDING, F_DELIVERED, F_FAILED };
static const char *const state_name[] = {"pending", "delivered", "failed"};

struct item {
	char key[33];                /* journal file name: SHA-256 of the path, 32 hex */
	char *path;                  /* relative to DIR */
	int state;
	unsigned dimse;              /* the PACS's last C-STORE status; 0xFFFF: none */
	unsigned attempts;
};

struct rp_forward {
	const struct rp_forward_options *o;
	char *qdir;                  /* DIR/.radpipe/forward */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *it;
	size_t n, cap;
	bool stop;
	pthread_t worker;
	bool started;
};

void
rp_forward_options_init(struct rp_forward_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	rp_store_scu_options_init(&o->scu);
	rp_stow_options_init(&o->stow);
	o->retry_initial_s = 2;
	o->retry_max_s = 300;
	o->batch = 64;
}

static void
key_of(const char *path, char key[33])
{
	uint8_t h[32];
	(void)rp__sha256(path, strlen(path), h);
	for (int i = 0; i < 16; i++)
		snprintf(key + 2 * i, 3, "%02x", h[i]);
}

/* Replaces the item's journal file atomically (temporary, fsync, rename, fsync dir). */
static int
journal(struct rp_forward *fw, const struct item *it, struct rp_errbuf *err)
{
	char path[4200], text[4400];
	snprintf(path, sizeof(path), "%s/%s.item", fw->qdir, it->key);
	int n = snprintf(text, sizeof(text), "%s %04x %u\n%s\n", state_name[it->state],
			 it->dimse, it->attempts, it->path);
	struct rp__atomic_file f;
	RP_TRY(rp__atomic_open(&f, path, err));
	if (rp__atomic_write(&f, text, (size_t)n) < 0) {
		rp__atomic_abort(&f);
		return rp__err(err, rp__errno_status(errno), "%s: %s", path, strerror(errno));
	}
	return rp__atomic_commit(&f, err);
}

static void
log_item(struct rp_forward *fw, const char *event, const struct item *it, const char *why)
{
	if (!fw->o->log)
		return;
	struct rp__wbuf b = {0};
	char st[8], att[16];
	snprintf(st, sizeof(st), "%04x", it->dimse);
	snprintf(att, sizeof(att), "%u", it->attempts);
	rp__log_begin(&b, event);
	rp__log_field(&b, "path", it->path);
	rp__log_field(&b, "dimse_status", st);
	rp__log_field(&b, "attempts", att);
	rp__log_field(&b, "reason", why && *why ? why : NULL);
	rp__put_bytes(&b, "}", 2);
	if (!b.failed)
		fw->o->log(fw->o->log_ctx, (const char *)b.p);
	rp__wbuf_free(&b);
}

static struct item *
find(struct rp_forward *fw, const char *key)
{
	for (size_t i = 0; i < fw->n; i++)
		if (strcmp(fw->it[i].key, key) == 0)
			return &fw->it[i];
	return NULL;
}

static int
add(struct rp_forward *fw, const struct item *it)
{
	if (fw->n == fw->cap) {
		size_t cap = fw->cap ? 2 * fw->cap : 64;
		struct item *p = realloc(fw->it, cap * sizeof(*p));
		if (!p)
			return RP_E_NOMEM;
		fw->it = p;
		fw->cap = cap;
	}
	fw->it[fw->n++] = *it;
	return RP_OK;
}

/* Reads every journal file of the queue; a torn temporary of a crash is ignored. */
static int
load(struct rp_forward *fw, struct rp_errbuf *err)
{
	DIR *dh = opendir(fw->qdir);
	if (!dh)
		return rp__err(err, rp__errno_status(errno), "%s: %s", fw->qdir, strerror(errno));
	struct dirent *e;
	int st = RP_OK;
	while (st == RP_OK && (e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len != 37 || strcmp(e->d_name + 32, ".item") != 0)
			continue;
		char path[4200], line[4200], sname[16];
		snprintf(path, sizeof(path), "%s/%s", fw->qdir, e->d_name);
		FILE *f = fopen(path, "r");
		struct item it = {0};
		memcpy(it.key, e->d_name, 32);
		if (!f || fscanf(f, "%15s %x %u\n", sname, &it.dimse, &it.attempts) != 3 ||
		    !fgets(line, sizeof(line), f)) {
			if (f)
				fclose(f);
			st = rp__err(err, RP_E_CORRUPT, "%s: not a forward journal file", path);
			break;
		}
		fclose(f);
		line[strcspn(line, "\n")] = 0;
		it.state = -1;
		for (int s = 0; s < 3; s++)
			if (strcmp(sname, state_name[s]) == 0)
				it.state = s;
		if (it.state < 0) {
			st = rp__err(err, RP_E_CORRUPT, "%s: unknown state '%s'", path, sname);
			break;
		}
		if (!(it.path = strdup(line)) || add(fw, &it) < 0) {
			free(it.path);
			st = RP_E_NOMEM;
		}
	}
	closedir(dh);
	return st;
}

int
rp_forward_enqueue(struct rp_forward *fw, const char *const *paths, size_t count,
		   struct rp_errbuf *err)
{
	int st = RP_OK;
	bool added = false;
	pthread_mutex_lock(&fw->mu);
	for (size_t i = 0; st == RP_OK && i < count; i++) {
		struct item it = {.state = F_PENDING, .dimse = 0xFFFF};
		key_of(paths[i], it.key);
		if (find(fw, it.key))
			continue;
		if (!(it.path = strdup(paths[i]))) {
			st = RP_E_NOMEM;
			break;
		}
		if ((st = journal(fw, &it, err)) < 0 || (st = add(fw, &it)) < 0) {
			free(it.path);
			break;
		}
		added = true;
	}
	if (added)
		pthread_cond_signal(&fw->cv);
	pthread_mutex_unlock(&fw->mu);
	return st;
}

void
rp_forward_counts(struct rp_forward *fw, struct rp_forward_counts *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&fw->mu);
	for (size_t i = 0; i < fw->n; i++)
		(*(fw->it[i].state == F_PENDING ? &c->pending :
		   fw->it[i].state == F_DELIVERED ? &c->delivered : &c->failed))++;
	pthread_mutex_unlock(&fw->mu);
}

/* The PACS may take it later: no answer at all (down, association refused or cut), or
 * "Refused: out of resources" (0xA7xx, an HTTP 5xx for STOW-RS).  Every other failure is
 * final: a refusal status, or a file that cannot be sent at all (not DICOM, a SOP class
 * the PACS takes in no syntax). */
static bool
transient(const struct rp_store_result *r)
{
	/* An authentication refusal (STOW-RS 401/403) is the site's configuration, not
	 * the instance: it is retried, and logged each time, until someone fixes it. */
	return r->status == RP_E_NET || r->status == RP_E_NOSPACE || r->status == RP_E_AUTH ||
	       (r->dimse_status & 0xFF00) == 0xA700;
}

static void *
worker(void *arg)
{
	struct rp_forward *fw = arg;
	const unsigned batch = fw->o->batch ? fw->o->batch : 64;
	double wait = 0;
	char **full = calloc(batch, sizeof(*full));
	char (*keys)[33] = calloc(batch, sizeof(*keys));
	struct rp_store_result *res = calloc(batch, sizeof(*res));
	if (!full || !keys || !res)
		goto out;
	pthread_mutex_lock(&fw->mu);
	while (!fw->stop) {
		if (wait > 0) {
			struct timespec ts = rp__timespec_in(wait);
			while (!fw->stop &&
			       pthread_cond_timedwait(&fw->cv, &fw->mu, &ts) != ETIMEDOUT) {
			}
			if (fw->stop)
				break;
		}
		size_t n = 0;
		for (size_t i = 0; i < fw->n && n < batch; i++) {
			if (fw->it[i].state != F_PENDING)
				continue;
			size_t len = strlen(fw->o->dir) + strlen(fw->it[i].path) + 2;
			if (!(full[n] = malloc(len)))
				break;
			snprintf(full[n], len, "%s/%s", fw->o->dir, fw->it[i].path);
			memcpy(keys[n], fw->it[i].key, 33);
			n++;
		}
		if (n == 0) {
			wait = 0;
			pthread_cond_wait(&fw->cv, &fw->mu);
			continue;
		}
		pthread_mutex_unlock(&fw->mu);
		struct rp_errbuf e = {""};
		memset(res, 0, batch * sizeof(*res));
		/* Each instance's own result says what became of it; the call's status adds
		 * nothing to that. */
		int sst = fw->o->stow.url
			? rp_stow_send(&fw->o->stow, (const char *const *)full, n, res, &e)
			: rp_store_scu_send(&fw->o->scu, (const char *const *)full, n, res, &e);
		(void)sst;
		pthread_mutex_lock(&fw->mu);
		bool retry = false;
		for (size_t k = 0; k < n; k++) {
			free(full[k]);
			full[k] = NULL;
			struct item *it = find(fw, keys[k]);
			if (!it)
				continue;
			it->attempts++;
			it->dimse = res[k].dimse_status;
			const char *why = res[k].message[0] ? res[k].message : e.msg;
			if (res[k].status == RP_OK) {
				it->state = F_DELIVERED;
			} else if (transient(&res[k])) {
				retry = true;
			} else {
				it->state = F_FAILED;
			}
			struct rp_errbuf je = {""};
			/* A journal that cannot be written leaves the older record: a delivered
			 * instance may then be sent again after a restart, never lost. */
			if (journal(fw, it, &je) < 0)
				log_item(fw, "forward_journal_failed", it, je.msg);
			if (it->state == F_DELIVERED)
				log_item(fw, "forward_delivered", it, NULL);
			else if (it->state == F_FAILED)
				log_item(fw, "forward_failed", it, why);
			else if (k == 0 || !transient(&res[k - 1]))
				log_item(fw, "forward_retry", it, why);
		}
		if (retry) {
			wait = wait == 0 ? fw->o->retry_initial_s : wait * 2;
			if (wait > fw->o->retry_max_s)
				wait = fw->o->retry_max_s;
		} else {
			wait = 0;
		}
	}
	pthread_mutex_unlock(&fw->mu);
out:
	free(full);
	free(keys);
	free(res);
	return NULL;
}

int
rp_forward_create(const struct rp_forward_options *o, struct rp_forward **ret,
		  struct rp_errbuf *err)
{
	*ret = NULL;
	if (!o || o->struct_size != sizeof(*o) || !o->dir ||
	    (!o->stow.url && (!o->scu.called_ae || !o->scu.host || !o->scu.port)) ||
	    o->retry_initial_s <= 0 || o->retry_max_s < o->retry_initial_s)
		return rp__err(err, RP_E_INVALID_ARG, "forward options: dir, and the PACS's AE "
			       "title, host and port or a STOW-RS URL are required; retry waits "
			       "must be positive");
	struct rp_forward *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return RP_E_NOMEM;
	fw->o = o;
	pthread_mutex_init(&fw->mu, NULL);
	pthread_cond_init(&fw->cv, NULL);
	size_t len = strlen(o->dir) + 32;
	int st = RP_OK;
	if (!(fw->qdir = malloc(len))) {
		st = RP_E_NOMEM;
		goto fail;
	}
	snprintf(fw->qdir, len, "%s/.radpipe", o->dir);
	if (mkdir(fw->qdir, 0700) < 0 && errno != EEXIST) {
		st = rp__err(err, rp__errno_status(errno), "%s: %s", fw->qdir, strerror(errno));
		goto fail;
	}
	snprintf(fw->qdir, len, "%s/.radpipe/forward", o->dir);
	if (mkdir(fw->qdir, 0700) == 0) {
		if ((st = rp__fsync_parent(fw->qdir, err)) < 0)
			goto fail;
	} else if (errno != EEXIST) {
		st = rp__err(err, rp__errno_status(errno), "%s: %s", fw->qdir, strerror(errno));
		goto fail;
	}
	if ((st = load(fw, err)) < 0)
		goto fail;
	if (pthread_create(&fw->worker, NULL, worker, fw) != 0) {
		st = rp__err(err, RP_E_NOMEM, "cannot start the forward thread");
		goto fail;
	}
	fw->started = true;
	*ret = fw;
	return RP_OK;
fail:
	rp_forward_destroy(fw);
	return st;
}

void
rp_forward_destroy(struct rp_forward *fw)
{
	if (!fw)
		return;
	pthread_mutex_lock(&fw->mu);
	fw->stop = true;
	pthread_cond_broadcast(&fw->cv);
	pthread_mutex_unlock(&fw->mu);
	if (fw->started)
		pthread_join(fw->worker, NULL);
	for (size_t i = 0; i < fw->n; i++)
		free(fw->it[i].path);
	free(fw->it);
	free(fw->qdir);
	pthread_mutex_destroy(&fw->mu);
	pthread_cond_destroy(&fw->cv);
	free(fw);
}
