/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_report.c - `radpipe report OUTDIR...`: merges the per-shard reports that
 * compress leaves in OUTDIR/.radpipe/ (totals, MB/s per shard, failures with reasons) and,
 * with --expect INPUT, checks that every file of the input tree was done exactly once. */
#include "cli.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* One file named by some report: how often it was done, and the last failure. */
struct seen {
	char *rel;
	unsigned done;
	char *error;
};

struct merge {
	struct seen *v;
	size_t count, cap;
	char **expect;
	size_t expect_count, expect_cap;
};

/* The value of "key": in a line of the flat objects compress writes: a string (JSON
 * escapes undone into out) or a bare number/word.  0 when absent. */
static int
field(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p || cap == 0)
		return 0;
	p += strlen(pat);
	size_t n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			char c = *p;
			if (c == '\\' && p[1]) {
				c = *++p;
				if (c == 'n')
					c = '\n';
				else if (c == 't')
					c = '\t';
				else if (c == 'u' && strlen(p) >= 5) {
					c = (char)strtol((char[]){ p[3], p[4], 0 }, NULL, 16);
					p += 4;
				}
			}
			if (n + 1 < cap)
				out[n++] = c;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return 1;
}

static struct seen *
lookup(struct merge *m, const char *rel)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->v[i].rel, rel) == 0)
			return &m->v[i];
	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		struct seen *n = realloc(m->v, m->cap * sizeof(*n));
		if (!n)
			return NULL;
		m->v = n;
	}
	m->v[m->count] = (struct seen){ .rel = strdup(rel) };
	return &m->v[m->count++];
}

static double
num(const char *line, const char *key)
{
	char b[64];
	return field(line, key, b, sizeof(b)) ? strtod(b, NULL) : 0;
}

/* Totals over all shards. */
struct totals {
	double files, done, skipped, failed, in, out, run_in, seconds;
	size_t reports;
};

static int
read_report(struct merge *m, const char *path, struct totals *t)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		rp_cli_errorf("%s: cannot open", path);
		return RP_EXIT_IO;
	}
	char *line = NULL;
	size_t cap = 0;
	char rel[PATH_MAX], st[64], err[RP_ERRBUF_SIZE];
	int rc = 0;
	if (getline(&line, &cap, f) < 0 || !strstr(line, "\"radpipe_report\":1")) {
		rp_cli_errorf("%s: not a radpipe report", path);
		rc = RP_EXIT_FAILED;
		goto out;
	}
	t->reports++;
	t->files += num(line, "files");
	t->done += num(line, "done");
	t->skipped += num(line, "skipped");
	t->failed += num(line, "failed");
	t->in += num(line, "in_bytes");
	t->out += num(line, "out_bytes");
	t->run_in += num(line, "run_in_bytes");
	double secs = num(line, "seconds");
	if (secs > t->seconds)
		t->seconds = secs;          /* shards run side by side: the slowest one */
	if (!rp_cli_json) {
		char sh[16] = "", shs[16] = "", host[256] = "";
		field(line, "shard", sh, sizeof(sh));
		field(line, "shards", shs, sizeof(shs));
		field(line, "host", host, sizeof(host));
		printf("shard %s/%s on %s: %.0f file(s), %.0f done, %.0f skipped, %.0f failed, "
		       "%.1f MB -> %.1f MB, %.2f s, %.1f MB/s\n", sh, shs, host, num(line, "files"),
		       num(line, "done"), num(line, "skipped"), num(line, "failed"),
		       num(line, "in_bytes") / 1e6, num(line, "out_bytes") / 1e6, secs,
		       num(line, "mb_per_s"));
	} else {
		fputs(line, stdout);
	}
	while (getline(&line, &cap, f) >= 0) {
		if (!field(line, "file", rel, sizeof(rel)) || !field(line, "status", st, sizeof(st)))
			continue;
		struct seen *s = lookup(m, rel);
		if (!s) {
			rc = RP_EXIT_INTERNAL;
			break;
		}
		if (strcmp(st, "RP_OK") == 0) {
			s->done++;
		} else {
			field(line, "error", err, sizeof(err));
			free(s->error);
			size_t n = strlen(st) + strlen(err) + 4;
			s->error = malloc(n);
			if (s->error)
				snprintf(s->error, n, "%s: %s", st, err);
		}
	}
out:
	free(line);
	fclose(f);
	return rc;
}

static int
collect_expect(void *ctx, const char *path, const char *rel)
{
	struct merge *m = ctx;
	(void)path;
	if (m->expect_count == m->expect_cap) {
		m->expect_cap = m->expect_cap ? m->expect_cap * 2 : 256;
		char **n = realloc(m->expect, m->expect_cap * sizeof(*n));
		if (!n)
			return RP_EXIT_INTERNAL;
		m->expect = n;
	}
	m->expect[m->expect_count++] = strdup(rel);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe report [--expect INPUT]... [--json] OUTDIR...\n"
		"\n"
		"Merges the per-shard reports compress wrote in OUTDIR/.radpipe/report-*.json:\n"
		"each shard's files, bytes and MB/s, the totals, and every failure with its\n"
		"reason.  Exit 0 when nothing failed.\n"
		"\n"
		"Options:\n"
		"      --expect INPUT  also check that every file under INPUT (as given to\n"
		"                      compress) was done exactly once; list those missing or\n"
		"                      done twice, and exit 1 if any\n"
		"      --json          the shard summaries as JSON lines, then a total object\n"
		"  -h, --help          this text\n");
}

int
rp_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "expect", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *expect[64];
	int expect_n = 0, opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			if (expect_n == 64) {
				rp_cli_errorf("at most 64 --expect inputs");
				return RP_EXIT_USAGE;
			}
			expect[expect_n++] = optarg;
			break;
		case 'j':
			rp_cli_json = true;
			break;
		case 'h':
			usage(stdout);
			return RP_EXIT_OK;
		default:
			usage(stderr);
			return RP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		rp_cli_errorf("report needs at least one OUTDIR");
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	struct merge m = { 0 };
	struct totals t = { 0 };
	int rc = 0;
	for (int i = optind; i < argc && !rc; i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/.radpipe", argv[i]);
		DIR *d = opendir(dir);
		if (!d) {
			rp_cli_errorf("%s: no reports (is it a compress output directory?)", argv[i]);
			rc = RP_EXIT_IO;
			break;
		}
		char **names = NULL;
		size_t n = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (strncmp(de->d_name, "report-", 7) || l < 12 ||
			    strcmp(de->d_name + l - 5, ".json"))
				continue;
			char **nn = realloc(names, (n + 1) * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
			names[n++] = strdup(de->d_name);
		}
		closedir(d);
		for (size_t k = 0; k < n; k++) {
			char path[PATH_MAX * 2];
			snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
			if (!rc)
				rc = read_report(&m, path, &t);
			free(names[k]);
		}
		free(names);
	}
	if (rc)
		goto out;
	if (t.reports == 0) {
		rp_cli_errorf("no reports found");
		rc = RP_EXIT_FAILED;
		goto out;
	}
	size_t failures = 0, missing = 0, twice = 0;
	for (size_t i = 0; i < m.count; i++)
		if (m.v[i].error && m.v[i].done == 0) {
			failures++;
			fprintf(stderr, "radpipe: failed: %s: %s\n", m.v[i].rel, m.v[i].error);
		}
	if (expect_n) {
		if ((rc = rp_cli_walk(expect, expect_n, collect_expect, &m)) != 0)
			goto out;
		for (size_t i = 0; i < m.expect_count; i++) {
			struct seen *s = lookup(&m, m.expect[i]);
			if (!s) {
				rc = RP_EXIT_INTERNAL;
				goto out;
			}
			if (s->done == 0) {
				missing++;
				fprintf(stderr, "radpipe: missing: %s\n", s->rel);
			} else if (s->done > 1) {
				twice++;
				fprintf(stderr, "radpipe: done %u times: %s\n", s->done, s->rel);
			}
		}
	}
	double ratio = t.out > 0 ? t.in / t.out : 0;
	double rate = t.seconds > 0 ? t.run_in / 1e6 / t.seconds : 0;
	if (rp_cli_json)
		printf("{\"total\":true,\"reports\":%zu,\"files\":%.0f,\"done\":%.0f,\"skipped\":%.0f,"
		       "\"failed\":%.0f,\"in_bytes\":%.0f,\"out_bytes\":%.0f,\"ratio\":%.4f,"
		       "\"seconds\":%.6f,\"mb_per_s\":%.3f,\"expected\":%zu,\"missing\":%zu,"
		       "\"duplicated\":%zu}\n", t.reports, t.files, t.done, t.skipped, t.failed,
		       t.in, t.out, ratio, t.seconds, rate, m.expect_count, missing, twice);
	else
		printf("total: %zu report(s), %.0f file(s), %.0f done, %.0f skipped, %.0f failed, "
		       "%.1f MB -> %.1f MB (ratio %.2f), %.1f MB/s over the slowest shard (%.2f s)%s\n",
		       t.reports, t.files, t.done, t.skipped, t.failed, t.in / 1e6, t.out / 1e6,
		       ratio, rate, t.seconds,
		       !expect_n ? "" : missing || twice ? "; inputs NOT done exactly once"
							 : "; every input done exactly once");
	if (failures || missing || twice)
		rc = RP_EXIT_FAILED;
out:
	for (size_t i = 0; i < m.count; i++) {
		free(m.v[i].rel);
		free(m.v[i].error);
	}
	free(m.v);
	for (size_t i = 0; i < m.expect_count; i++)
		free(m.expect[i]);
	free(m.expect);
	return rc;
}
