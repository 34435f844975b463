/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cli_util.c - messages, exit codes, file mapping, directory walking and the
 * progress line shared by the subcommands. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
rp_cli_error(const char *what, int status, const char *msg)
{
	if (status == RP_OK)
		return;
	fprintf(stderr, "radpipe: %s: %s (%s)\n", what,
		msg && msg[0] ? msg : rp_status_str(status), rp_status_name(status));
}

void
rp_cli_errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("radpipe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
rp_cli_exit_code(int status)
{
	switch (status) {
	case RP_OK:
		return RP_EXIT_OK;
	case RP_E_IO:
	case RP_E_NOSPACE:
		return RP_EXIT_IO;
	case RP_E_NET:
	case RP_E_CLOSED:
	case RP_E_AUTH:
	case RP_E_PROTOCOL:
	case RP_E_TIMEOUT:
		return RP_EXIT_NET;
	case RP_E_INTERNAL:
		return RP_EXIT_INTERNAL;
	case RP_E_INVALID_ARG:
		return RP_EXIT_USAGE;
	default:
		return RP_EXIT_FAILED;
	}
}

int
rp_cli_map(const char *path, const void **data, size_t *size, struct rp_errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(errno));
		return RP_E_IO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "not a regular file");
		close(fd);
		return RP_E_IO;
	}
	*size = (size_t)st.st_size;
	if (*size == 0) {
		*data = NULL;
		close(fd);
		return RP_OK;
	}
	void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err->msg, sizeof(err->msg), "cannot map: %s", strerror(e));
		return RP_E_IO;
	}
	*data = p;
	return RP_OK;
}

void
rp_cli_unmap(const void *data, size_t size)
{
	if (data && size)
		munmap((void *)data, size);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
walk_dir(const char *dir, const char *rel, rp_cli_file_fn *fn, void *ctx, int depth)
{
	if (depth > 64) {
		rp_cli_errorf("%s: directories nested too deeply", dir);
		return RP_EXIT_IO;
	}
	DIR *d = opendir(dir);
	if (!d) {
		rp_cli_errorf("%s: cannot open directory: %s", dir, strerror(errno));
		return RP_EXIT_IO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;            /* ., .., and our own temporary files */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX], relpath[PATH_MAX];
		int a = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int b = snprintf(relpath, sizeof(relpath), "%s%s%s", rel, rel[0] ? "/" : "",
				 names[i]);
		if (a < 0 || b < 0 || (size_t)a >= sizeof(path) || (size_t)b >= sizeof(relpath)) {
			rp_cli_errorf("%s/%s: path too long", dir, names[i]);
			rc = RP_EXIT_IO;
			break;
		}
		/* Symbolic links to files are followed; links to directories are not, so a
		 * link loop cannot make the walk endless. */
		struct stat lst, st;
		if (lstat(path, &lst) != 0)
			continue;
		if (S_ISDIR(lst.st_mode))
			rc = walk_dir(path, relpath, fn, ctx, depth + 1);
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = fn(ctx, path, relpath);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int
rp_cli_walk(char **inputs, int count, rp_cli_file_fn *fn, void *ctx)
{
	for (int i = 0; i < count; i++) {
		struct stat st;
		if (stat(inputs[i], &st) != 0) {
			rp_cli_errorf("%s: %s", inputs[i], strerror(errno));
			return RP_EXIT_IO;
		}
		int rc;
		if (S_ISDIR(st.st_mode)) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s", inputs[i]);
			size_t n = strlen(dir);
			while (n > 1 && dir[n - 1] == '/')
				dir[--n] = '\0';
			rc = walk_dir(dir, "", fn, ctx, 0);
		} else {
			const char *base = strrchr(inputs[i], '/');
			rc = fn(ctx, inputs[i], base ? base + 1 : inputs[i]);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int
rp_cli_mkdirs_for(const char *path, struct rp_errbuf *err)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
			snprintf(err->msg, sizeof(err->msg), "cannot create directory %.150s: %s", buf,
				 strerror(errno));
			return RP_E_IO;
		}
		*p = '/';
	}
	return RP_OK;
}

double
rp_cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct rp_cli_progress {
	const char *label;
	uint64_t total, done, bytes;
	double start, last;
	bool tty;
};

struct rp_cli_progress *
rp_cli_progress_start(const char *label, uint64_t total)
{
	struct rp_cli_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->label = label;
	p->total = total;
	p->start = p->last = rp_cli_now();
	p->tty = !rp_cli_quiet && isatty(STDERR_FILENO);
	return p;
}

void
rp_cli_progress_add(struct rp_cli_progress *p, uint64_t done_units, uint64_t bytes)
{
	if (!p)
		return;
	p->done += done_units;
	p->bytes += bytes;
	double now = rp_cli_now();
	if (!p->tty || (now - p->last < 0.2 && p->done < p->total))
		return;
	p->last = now;
	double mb = (double)p->bytes / 1e6, dt = now - p->start;
	fprintf(stderr, "\r%s %llu/%llu files, %.1f MB, %.1f MB/s   ", p->label,
		(unsigned long long)p->done, (unsigned long long)p->total, mb,
		dt > 0 ? mb / dt : 0.0);
}

void
rp_cli_progress_end(struct rp_cli_progress *p)
{
	if (!p)
		return;
	if (p->tty)
		fputc('\n', stderr);
	free(p);
}

int
rp_cli_fail(struct rp_errbuf *err, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return status;
}

void
rp_cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int
rp_cli_hostport(char *s, const char **host, uint16_t *port, bool listener)
{
	char *colon = strrchr(s, ':'), *end;
	if (!colon || !colon[1] || (colon == s && !listener))
		return -1;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < (listener ? 0 : 1) || p > 65535)
		return -1;
	*colon = 0;
	if (s[0] == '[' && colon[-1] == ']') {
		colon[-1] = 0;
		s++;
	}
	*host = s;
	*port = (uint16_t)p;
	return 0;
}

int
rp_cli_duration(const char *s, double *v)
{
	char *end;
	double x = strtod(s, &end);
	if (end == s || x < 0 || x != x)
		return -1;
	double unit = 1;
	if (*end) {
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	*v = x * unit;
	return 0;
}

int
rp_cli_threads(const char *s, unsigned *n)
{
	char *end;
	long t = strtol(s, &end, 10);
	if (*end || end == s || t < 1 || t > 1024) {
		rp_cli_errorf("-T takes a thread count from 1 to 1024");
		return -1;
	}
	*n = (unsigned)t;
	return 0;
}

int
rp_cli_budget(const char *s, uint64_t *bytes)
{
	char *end;
	long mb = strtol(s, &end, 10);
	if (*end || end == s || mb < 1 || mb > (1L << 24)) {
		rp_cli_errorf("--budget takes a size in MB from 1 to 16777216");
		return -1;
	}
	*bytes = (uint64_t)mb << 20;
	return 0;
}
