/* SPDX-License-Identifier: BSD-3-Clause */
/* pipeline/journal.c - the restart journal of `compress` (include/radpipe/pipeline.h):
 * which outputs are complete, one append-only file per writer, checksummed lines.
 *
 * Why not one shared file under flock: NFS clients honour flock only sometimes (and
 * O_APPEND is not atomic across NFS clients at all), so several tasks appending to one
 * file could interleave.  Each shard appends to its own file with one write() per line;
 * the per-line CRC32C lets a reader drop any line that a crash or an interleaving tore. */
#include "common/internal.h"

#include <radpipe/pipeline.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_MAGIC "RPJ1 "
#define RECORD_MAX (PATH_MAX + 64)

struct entry {
	char *rel;
	uint64_t size;
	uint64_t hash;
};

struct rp_journal {
	int fd;
	/* open addressing on rp_shard_hash(rel); capacity a power of two, at most half full */
	struct entry *slots;
	size_t capacity, count;
};

static int
grow(struct rp_journal *j)
{
	size_t cap = j->capacity ? j->capacity * 2 : 1024;
	struct entry *s = calloc(cap, sizeof(*s));
	if (!s)
		return RP_E_NOMEM;
	for (size_t i = 0; i < j->capacity; i++) {
		if (!j->slots[i].rel)
			continue;
		size_t k = j->slots[i].hash & (cap - 1);
		while (s[k].rel)
			k = (k + 1) & (cap - 1);
		s[k] = j->slots[i];
	}
	free(j->slots);
	j->slots = s;
	j->capacity = cap;
	return RP_OK;
}

static struct entry *
find(const struct rp_journal *j, const char *rel, uint64_t hash)
{
	if (!j->capacity)
		return NULL;
	size_t k = hash & (j->capacity - 1);
	while (j->slots[k].rel) {
		if (j->slots[k].hash == hash && strcmp(j->slots[k].rel, rel) == 0)
			return &j->slots[k];
		k = (k + 1) & (j->capacity - 1);
	}
	return NULL;
}

/* A later record of the same path wins: a rerun may have rewritten that output. */
static int
put(struct rp_journal *j, const char *rel, size_t rel_len, uint64_t size)
{
	char *copy = malloc(rel_len + 1);
	if (!copy)
		return RP_E_NOMEM;
	memcpy(copy, rel, rel_len);
	copy[rel_len] = '\0';
	uint64_t hash = rp_shard_hash(copy, rel_len);
	struct entry *e = find(j, copy, hash);
	if (e) {
		e->size = size;
		free(copy);
		return RP_OK;
	}
	if ((j->count + 1) * 2 > j->capacity && grow(j) != RP_OK) {
		free(copy);
		return RP_E_NOMEM;
	}
	size_t k = hash & (j->capacity - 1);
	while (j->slots[k].rel)
		k = (k + 1) & (j->capacity - 1);
	j->slots[k] = (struct entry){ .rel = copy, .size = size, .hash = hash };
	j->count++;
	return RP_OK;
}

/* "<size> <relpath>" is what the checksum covers. */
static uint32_t
record_crc(uint64_t size, const char *rel, size_t rel_len)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64 " ", size);
	uint32_t crc = rp__crc32c(0, num, (size_t)n);
	return rp__crc32c(crc, rel, rel_len);
}

/* One line without its '\n'.  Anything malformed is skipped silently: it is a torn
 * write, and the output it would have named is simply made again. */
static int
load_line(struct rp_journal *j, const char *p, size_t n)
{
	const size_t magic = sizeof(RECORD_MAGIC) - 1;
	if (n < magic || memcmp(p, RECORD_MAGIC, magic) != 0)
		return RP_OK;
	const char *q = p + magic, *end = p + n;
	uint64_t size = 0;
	const char *digits = q;
	while (q < end && *q >= '0' && *q <= '9' && q - digits < 20)
		size = size * 10 + (uint64_t)(*q++ - '0');
	if (q == digits || q >= end || *q != ' ')
		return RP_OK;
	q++;
	if (end - q < 10 || q[8] != ' ')
		return RP_OK;
	uint32_t crc = 0;
	for (int i = 0; i < 8; i++) {
		char c = q[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return RP_OK;
		crc = crc << 4 | (uint32_t)v;
	}
	const char *rel = q + 9;
	size_t rel_len = (size_t)(end - rel);
	if (rel_len == 0 || memchr(rel, '\0', rel_len) || record_crc(size, rel, rel_len) != crc)
		return RP_OK;
	return put(j, rel, rel_len, size);
}

static int
load_file(struct rp_journal *j, const char *path, struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	char *buf = malloc(RECORD_MAX * 2);
	if (!buf) {
		close(fd);
		return RP_E_NOMEM;
	}
	size_t have = 0;
	int st = RP_OK;
	for (;;) {
		ssize_t r = read(fd, buf + have, RECORD_MAX * 2 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			st = rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
			break;
		}
		have += (size_t)r;
		size_t start = 0;
		for (size_t i = 0; i < have && st == RP_OK; i++) {
			if (buf[i] != '\n')
				continue;
			st = load_line(j, buf + start, i - start);
			start = i + 1;
		}
		if (st != RP_OK)
			break;
		if (r == 0)
			break;            /* a last line without '\n' is a torn write: dropped */
		if (start == 0 && have == RECORD_MAX * 2) {
			/* a line longer than any record: garbage; skip to the next '\n' */
			have = 0;
			continue;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	free(buf);
	close(fd);
	return st;
}

static int
valid_name(const char *s)
{
	if (!*s || strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int
is_journal_name(const char *s)
{
	size_t n = strlen(s);
	return n > 12 && strncmp(s, "journal-", 8) == 0 && strcmp(s + n - 4, ".log") == 0;
}

int
rp_journal_open(const char *dir, const char *name, struct rp_journal **journal_ret,
		struct rp_errbuf *err)
{
	if (!dir || !name || !journal_ret)
		return rp__err(err, RP_E_INVALID_ARG, "journal: missing argument");
	*journal_ret = NULL;
	if (!valid_name(name))
		return rp__err(err, RP_E_INVALID_ARG, "journal name '%s' has characters other "
			       "than letters, digits, '-', '_', '.'", name);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return rp__err(err, RP_E_IO, "%s: cannot create: %s", dir, strerror(errno));
	struct rp_journal *j = calloc(1, sizeof(*j));
	if (!j)
		return RP_E_NOMEM;
	j->fd = -1;
	int st = RP_OK;
	DIR *d = opendir(dir);
	if (!d) {
		st = rp__err(err, RP_E_IO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	struct dirent *de;
	while (st == RP_OK && (de = readdir(d))) {
		if (!is_journal_name(de->d_name))
			continue;
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		st = load_file(j, path, err);
	}
	closedir(d);
	if (st != RP_OK)
		goto fail;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/journal-%s.log", dir, name) >= sizeof(path)) {
		st = rp__err(err, RP_E_INVALID_ARG, "%s: path too long", dir);
		goto fail;
	}
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (j->fd < 0) {
		st = rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	*journal_ret = j;
	return RP_OK;
fail:
	rp_journal_close(j);
	return st;
}

int
rp_journal_lookup(const struct rp_journal *journal, const char *relpath, uint64_t *size)
{
	if (!journal || !relpath)
		return 0;
	const struct entry *e = find(journal, relpath, rp_shard_hash(relpath, strlen(relpath)));
	if (!e)
		return 0;
	if (size)
		*size = e->size;
	return 1;
}

size_t
rp_journal_count(const struct rp_journal *journal)
{
	return journal ? journal->count : 0;
}

int
rp_journal_append(struct rp_journal *journal, const char *relpath, uint64_t size,
		  struct rp_errbuf *err)
{
	if (!journal || !relpath || !*relpath)
		return rp__err(err, RP_E_INVALID_ARG, "journal: missing argument");
	size_t rel_len = strlen(relpath);
	if (memchr(relpath, '\n', rel_len) || rel_len > PATH_MAX)
		return rp__err(err, RP_E_INVALID_ARG, "%s: path cannot be journaled", relpath);
	char line[RECORD_MAX + 1];
	int n = snprintf(line, sizeof(line), RECORD_MAGIC "%" PRIu64 " %08x %s\n", size,
			 (unsigned)record_crc(size, relpath, rel_len), relpath);
	if (n < 0 || (size_t)n >= sizeof(line))
		return rp__err(err, RP_E_INVALID_ARG, "%s: path cannot be journaled", relpath);
	/* One write() per record: with O_APPEND a local filesystem never splits it, and
	 * wherever it is split anyway the checksum rejects the pieces. */
	ssize_t w;
	do
		w = write(journal->fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w != n)
		return rp__err(err, RP_E_IO, "journal: %s",
			       w < 0 ? strerror(errno) : "short write");
	if (put(journal, relpath, rel_len, size) != RP_OK)
		return RP_E_NOMEM;
	return RP_OK;
}

void
rp_journal_close(struct rp_journal *journal)
{
	if (!journal)
		return;
	if (journal->fd >= 0)
		close(journal->fd);
	for (size_t i = 0; i < journal->capacity; i++)
		free(journal->slots[i].rel);
	free(journal->slots);
	free(journal);
}
