/* SPDX-License-Identifier: BSD-3-Clause */
/* net/audit.c - rp_audit_*(): the hash-chained audit trail (docs/AUDIT.md).  A line is
 *   {"seq":N,"ts":"2026-12-02T16:20:00.123Z","event":"received",...,"prev":"<hex>"}
 * where prev is the SHA-256 of the previous line's bytes without its newline (64 zeros
 * on the first line) and seq counts records from 1.  Lines are written by one write(2)
 * each on an O_APPEND descriptor and made durable before the call returns. */
#include "common/internal.h"

#include <radpipe/atna.h>
#include <radpipe/audit.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A record's longest line: a detail longer than fits is cut (a UID is at most 64
 * bytes, a peer name a few hundred). */
#define LINE_MAX_BYTES 4096
/* How far back from the end open() looks for the last line; a line never exceeds
 * LINE_MAX_BYTES, so two of them always hold the last complete one. */
#define TAIL_BYTES (2 * LINE_MAX_BYTES + 2)

struct rp_audit {
	int fd;
	pthread_mutex_t mu;
	uint64_t seq;                /* of the last record written */
	uint8_t prev[32];            /* SHA-256 of the last line */
	struct rp_atna *atna;        /* each record also sent on as ATNA; optional */
};

static void
to_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Appends `"name":"value"` (JSON-escaped) at *len, never past cap; false when it did
 * not fit whole. */
static bool
put_field(char *line, size_t cap, size_t *len, const char *name, const char *value)
{
	size_t n = *len;
	int w = snprintf(line + n, cap - n, ",\"%s\":\"", name);
	if (w < 0 || (size_t)w >= cap - n)
		return false;
	n += (size_t)w;
	for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
		char esc[8];
		size_t el;
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			el = 2;
		} else if (*s < 0x20 || *s == 0x7f) {
			el = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *s);
		} else {
			esc[0] = (char)*s;
			el = 1;
		}
		if (n + el + 1 >= cap)
			return false;
		memcpy(line + n, esc, el);
		n += el;
	}
	if (n + 2 >= cap)
		return false;
	line[n++] = '"';
	line[n] = 0;
	*len = n;
	return true;
}

/* The seq of a record line, or false when the line is not one. */
static bool
parse_seq(const char *line, size_t len, uint64_t *seq)
{
	static const char head[] = "{\"seq\":";
	if (len < sizeof(head) || memcmp(line, head, sizeof(head) - 1) != 0)
		return false;
	uint64_t v = 0;
	size_t i = sizeof(head) - 1;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (i >= len || line[i] != ',')
		return false;
	*seq = v;
	return true;
}

/* The prev hash (hex) a record line ends with, or NULL. */
static const char *
parse_prev(const char *line, size_t len)
{
	static const char tail[] = ",\"prev\":\"";
	size_t want = sizeof(tail) - 1 + 64 + 2;
	if (len < want || memcmp(line + len - 2, "\"}", 2) != 0)
		return NULL;
	const char *p = line + len - want;
	if (memcmp(p, tail, sizeof(tail) - 1) != 0)
		return NULL;
	p += sizeof(tail) - 1;
	for (int i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return NULL;
	return p;
}

static bool
is_event(const char *line, size_t len, const char *event)
{
	char want[64];
	int n = snprintf(want, sizeof(want), ",\"event\":\"%s\"", event);
	if (n < 0 || (size_t)n >= sizeof(want))
		return false;
	for (size_t i = 0; i + (size_t)n <= len; i++)
		if (memcmp(line + i, want, (size_t)n) == 0)
			return true;
	return false;
}

static int
write_line(struct rp_audit *a, const char *line, size_t len, struct rp_errbuf *err)
{
	/* One write: with O_APPEND the line lands whole at the end or, after a crash, as a
	 * prefix that the next open recovers from. */
	ssize_t w = write(a->fd, line, len);
	if (w < 0 || (size_t)w != len) {
		int e = w < 0 ? errno : ENOSPC;
		return rp__err(err, e == ENOSPC ? RP_E_NOSPACE : RP_E_IO, "audit log: write: %s",
			       strerror(e));
	}
	if (fdatasync(a->fd) != 0)
		return rp__err(err, errno == ENOSPC ? RP_E_NOSPACE : RP_E_IO,
			       "audit log: fdatasync: %s", strerror(errno));
	return RP_OK;
}

/* Formats and writes record seq+1 chained to a->prev; under a->mu. */
static int
append_locked(struct rp_audit *a, const struct rp_audit_event *ev, struct rp_errbuf *err)
{
	char line[LINE_MAX_BYTES + 2];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "{\"seq\":%" PRIu64 ",\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
			 a->seq + 1, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	size_t len = (size_t)n;
	/* Room kept for the prev field and the newline. */
	size_t cap = LINE_MAX_BYTES - 80;
	const char *names[] = {"event", "sop", "study", "peer"};
	const char *values[] = {ev->event, ev->sop_instance_uid, ev->study_uid, ev->peer};
	for (size_t i = 0; i < 4; i++)
		if (values[i] && !put_field(line, cap, &len, names[i], values[i]))
			return rp__err(err, RP_E_LIMIT, "audit record: %s too long", names[i]);
	if (ev->sha256) {
		char hex[65];
		to_hex(ev->sha256, 32, hex);
		if (!put_field(line, cap, &len, "sha256", hex))
			return rp__err(err, RP_E_LIMIT, "audit record too long");
	}
	if (ev->detail) {
		/* A long reason is cut rather than lost with its record. */
		char cut[LINE_MAX_BYTES / 2];
		snprintf(cut, sizeof(cut), "%s", ev->detail);
		for (size_t room = strlen(cut); !put_field(line, cap, &len, "detail", cut);) {
			if (room < 16)
				return rp__err(err, RP_E_LIMIT, "audit record too long");
			room /= 2;
			cut[room] = 0;
		}
	}
	char prev[65];
	to_hex(a->prev, 32, prev);
	n = snprintf(line + len, sizeof(line) - len, ",\"prev\":\"%s\"}", prev);
	len += (size_t)n;
	uint8_t h[32];
	RP_TRY(rp__sha256(line, len, h));
	line[len++] = '\n';
	RP_TRY(write_line(a, line, len, err));
	a->seq++;
	memcpy(a->prev, h, 32);
	return RP_OK;
}

/* Index of the last '\n' in b[0, end), or -1. */
static ssize_t
last_newline(const char *b, size_t end)
{
	while (end > 0 && b[end - 1] != '\n')
		end--;
	return (ssize_t)end - 1;
}

/* Reads the end of the log to continue its chain: the last complete line's seq and
 * hash; a torn last line is closed and a "torn" record chained to it. */
static int
resume_chain(struct rp_audit *a, const char *path, struct rp_errbuf *err)
{
	struct stat st;
	if (fstat(a->fd, &st) != 0)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	if (st.st_size == 0)
		return RP_OK;
	size_t n = st.st_size > TAIL_BYTES ? TAIL_BYTES : (size_t)st.st_size;
	bool whole = (off_t)n == st.st_size;   /* buf starts at the start of the file */
	char *buf = malloc(n);
	if (!buf)
		return RP_E_NOMEM;
	ssize_t r = pread(a->fd, buf, n, st.st_size - (off_t)n);
	int s = RP_OK;
	if (r < 0 || (size_t)r != n) {
		s = rp__err(err, RP_E_IO, "%s: read: %s", path, strerror(r < 0 ? errno : EIO));
		goto out;
	}
	/* [0, body) holds complete lines, the last without its newline; [torn, n) is what
	 * a crash left of the line after them. */
	size_t body = n - 1, torn = n;
	bool have_line = true;
	if (buf[n - 1] != '\n') {
		ssize_t k = last_newline(buf, n);
		if (k < 0 && !whole)
			goto too_long;
		torn = (size_t)(k + 1);
		body = k < 0 ? 0 : (size_t)k;
		have_line = k >= 0;
	}
	if (have_line) {
		ssize_t k = last_newline(buf, body);
		if (k < 0 && !whole)
			goto too_long;
		const char *line = buf + k + 1;
		size_t len = body - (size_t)(k + 1);
		if (!parse_seq(line, len, &a->seq) || !parse_prev(line, len)) {
			s = rp__err(err, RP_E_CORRUPT,
				    "%s: the last line is not an audit record: not continuing a log "
				    "that may have been altered (`radpipe audit verify` tells more)",
				    path);
			goto out;
		}
		if ((s = rp__sha256(line, len, a->prev)) != RP_OK)
			goto out;
	}
	if (torn < n && parse_prev(buf + torn, n - torn) &&
	    parse_seq(buf + torn, n - torn, &a->seq)) {
		/* Only the newline was lost: the record is whole. */
		if ((s = rp__sha256(buf + torn, n - torn, a->prev)) == RP_OK)
			s = write_line(a, "\n", 1, err);
	} else if (torn < n) {
		uint8_t h[32];
		if ((s = rp__sha256(buf + torn, n - torn, h)) != RP_OK ||
		    (s = write_line(a, "\n", 1, err)) != RP_OK)
			goto out;
		memcpy(a->prev, h, 32);
		char detail[112];
		snprintf(detail, sizeof(detail), "the line before this one was cut short after "
			 "%zu bytes (the writer stopped mid-line)", n - torn);
		struct rp_audit_event ev = {.event = "torn", .detail = detail};
		s = append_locked(a, &ev, err);
	}
	goto out;
too_long:
	s = rp__err(err, RP_E_CORRUPT, "%s: no line end in its last %zu bytes: not an audit "
		    "log", path, n);
out:
	free(buf);
	return s;
}

int
rp_audit_open(const char *path, struct rp_audit **ret, struct rp_errbuf *err)
{
	if (!path || !ret)
		return rp__err(err, RP_E_INVALID_ARG, "rp_audit_open: no path");
	*ret = NULL;
	struct rp_audit *a = calloc(1, sizeof(*a));
	if (!a)
		return RP_E_NOMEM;
	a->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		int e = errno;
		free(a);
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(e));
	}
	/* Two writers would fork the chain. */
	if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(a->fd);
		free(a);
		return rp__err(err, RP_E_IO, "%s: %s", path,
			       e == EWOULDBLOCK ? "already open by another writer" : strerror(e));
	}
	pthread_mutex_init(&a->mu, NULL);
	int s = resume_chain(a, path, err);
	if (s != RP_OK) {
		rp_audit_close(a);
		return s;
	}
	*ret = a;
	return RP_OK;
}

int
rp_audit_append(struct rp_audit *a, const struct rp_audit_event *ev, struct rp_errbuf *err)
{
	if (!a || !ev || !ev->event || !*ev->event)
		return rp__err(err, RP_E_INVALID_ARG, "rp_audit_append: no event");
	pthread_mutex_lock(&a->mu);
	int s = append_locked(a, ev, err);
	/* Only what the file holds is reported; a drop is counted by the ATNA side. */
	if (s == RP_OK && a->atna)
		(void)rp_atna_submit(a->atna, ev);
	pthread_mutex_unlock(&a->mu);
	return s;
}

void
rp_audit_set_atna(struct rp_audit *a, struct rp_atna *atna)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->atna = atna;
	pthread_mutex_unlock(&a->mu);
}

void
rp_audit_close(struct rp_audit *a)
{
	if (!a)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ------------------------------------------------------------------------------------ */

struct verifier {
	rp_audit_problem_fn *fn;
	void *ctx;
	struct rp_audit_summary *sum;
};

static void
problem(struct verifier *v, uint64_t line, const char *fmt, ...) RP__PRINTF(3, 4);

static void
problem(struct verifier *v, uint64_t line, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	v->sum->problems++;
	if (v->fn)
		v->fn(v->ctx, line, what);
}

int
rp_audit_verify(const char *path, rp_audit_problem_fn *fn, void *ctx,
		struct rp_audit_summary *sum, struct rp_errbuf *err)
{
	struct rp_audit_summary local;
	if (!sum)
		sum = &local;
	memset(sum, 0, sizeof(*sum));
	FILE *f = fopen(path, "r");
	if (!f)
		return rp__err(err, RP_E_IO, "%s: %s", path, strerror(errno));
	struct verifier v = {fn, ctx, sum};
	uint8_t prev[32] = {0};
	uint64_t seq = 0;
	/* A line that is not a record is accepted only as the torn line a "torn" record
	 * right after it accounts for. */
	uint64_t unparsed_at = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	uint64_t no = 0;
	int s = RP_OK;
	while ((got = getline(&line, &cap, f)) > 0) {
		no++;
		size_t len = (size_t)got;
		bool newline = line[len - 1] == '\n';
		if (newline)
			len--;
		uint8_t h[32];
		if ((s = rp__sha256(line, len, h)) != RP_OK)
			break;
		uint64_t lseq;
		const char *lprev = parse_prev(line, len);
		if (!newline) {
			/* The writer stopped mid-line and has not been back since. */
			sum->torn++;
			break;
		}
		if (!lprev || !parse_seq(line, len, &lseq)) {
			if (unparsed_at)
				problem(&v, unparsed_at, "not an audit record");
			unparsed_at = no;
			memcpy(prev, h, 32);
			continue;
		}
		char want[65];
		to_hex(prev, 32, want);
		bool chained = memcmp(lprev, want, 64) == 0;
		if (unparsed_at) {
			if (chained && is_event(line, len, "torn"))
				sum->torn++;
			else
				problem(&v, unparsed_at, "not an audit record");
			unparsed_at = 0;
		}
		if (!chained)
			problem(&v, no, "does not follow line %" PRIu64 ": its prev hash is not that "
				"line's (a line was edited, deleted or moved)", no - 1);
		if (lseq != seq + 1)
			problem(&v, no, "sequence %" PRIu64 " after %" PRIu64 " (records missing or "
				"out of order)", lseq, seq);
		seq = lseq;
		sum->last_seq = lseq;
		memcpy(prev, h, 32);
	}
	if (s == RP_OK && ferror(f))
		s = rp__err(err, RP_E_IO, "%s: read: %s", path, strerror(errno));
	if (s == RP_OK && unparsed_at)
		problem(&v, unparsed_at, "not an audit record");
	free(line);
	fclose(f);
	sum->lines = no;
	to_hex(prev, 32, sum->last_hash);
	if (s == RP_OK && sum->problems)
		s = rp__err(err, RP_E_MISMATCH, "%s: %" PRIu64 " line(s) break the chain", path,
			    sum->problems);
	return s;
}
