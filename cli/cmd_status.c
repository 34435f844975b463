/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cmd_status.c - `radpipe status --spool DIR`: the queue of a gateway, from the
 * status.json it rewrites every second; whether a gateway runs at all is told by the
 * spool's lock (a status file outlives the process that wrote it). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: radpipe status --spool DIR [--json]\n"
		"Shows the study queue of the gateway on spool DIR: priority, state, instances,\n"
		"size, progress, rate, ETA, attempts and next retry of each study.\n"
		"      --spool DIR   the gateway's spool\n"
		"      --json        the gateway's status.json as it is (\"running\" from the lock)\n"
		"Exit status: 0 a gateway runs on DIR; 1 none runs (the last known queue is\n"
		"shown); 3 DIR holds no gateway spool.\n");
}

/* Value of "name": in a one-object line, copied to out (strings unquoted, escapes
 * kept); false when absent. */
static bool
field(const char *line, const char *name, char *out, size_t cap)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(line, key);
	if (!p)
		return false;
	p += strlen(key);
	size_t n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < cap; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = 0;
	return true;
}

/* 1: a gateway holds the lock; 0: nobody does; -1: no lock file. */
static int
gateway_running(const char *spool, long *pid)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/gateway.lock", spool);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[32] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	*pid = atol(buf);
	int r = flock(fd, LOCK_SH | LOCK_NB) == 0 ? 0 : 1;
	close(fd);
	return r;
}

static void
mb(char *out, size_t cap, const char *bytes)
{
	snprintf(out, cap, "%.1f", atof(bytes) / 1e6);
}

int
rp_cmd_status(int argc, char **argv)
{
	const char *spool = NULL;
	static const struct option lopts[] = {
		{"spool", required_argument, NULL, 1}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 1: spool = optarg; break;
		case 'j': rp_cli_json = true; break;
		case 'h': usage(stdout); return RP_EXIT_OK;
		default: usage(stderr); return RP_EXIT_USAGE;
		}
	}
	if (!spool || optind != argc) {
		usage(stderr);
		return RP_EXIT_USAGE;
	}
	long pid = 0;
	int running = gateway_running(spool, &pid);
	char path[4200];
	snprintf(path, sizeof(path), "%s/status.json", spool);
	FILE *f = fopen(path, "r");
	if (running < 0 && !f) {
		rp_cli_errorf("%s: no gateway spool here (no gateway.lock or status.json)", spool);
		return RP_EXIT_IO;
	}
	if (running <= 0)
		fprintf(rp_cli_json ? stderr : stdout,
			"No gateway is running on %s%s\n", spool,
			f ? "; last known queue:" : "");
	if (!f) {
		if (running > 0)
			printf("Gateway pid %ld running on %s; no status written yet\n", pid, spool);
		return running > 0 ? RP_EXIT_OK : RP_EXIT_FAILED;
	}
	char line[8192];
	if (rp_cli_json) {
		while (fgets(line, sizeof(line), f)) {
			char *r = running > 0 ? NULL : strstr(line, "\"running\":true");
			if (r) {
				memmove(r + 15, r + 14, strlen(r + 14) + 1);
				memcpy(r, "\"running\":false", 15);
			}
			fputs(line, stdout);
		}
		fclose(f);
		return running > 0 ? RP_EXIT_OK : RP_EXIT_FAILED;
	}
	int studies = 0;
	while (fgets(line, sizeof(line), f)) {
		char v[4][300];
		if (field(line, "pid", v[0], sizeof(v[0])) && field(line, "to", v[1], sizeof(v[1]))) {
			field(line, "updated", v[2], sizeof(v[2]));
			if (!field(line, "dicom", v[3], sizeof(v[3])))
				snprintf(v[3], sizeof(v[3]), "-");
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			double age = (double)ts.tv_sec - atof(v[2]);
			if (running > 0)
				printf("Gateway pid %ld running: DICOM %s -> %s (status %.0f s old)\n",
				       pid, v[3], v[1], age < 0 ? 0 : age);
			printf("%-64s %-7s %-10s %6s %6s %9s %6s %8s %8s %5s %7s\n", "STUDY", "PRIO",
			       "STATE", "INST", "QUEUED", "MB", "DONE%", "MB/s", "ETA", "TRIES",
			       "RETRY");
			continue;
		}
		char study[80], prio[16], state[16], inst[32], bytes[32], sent[32], rate[32],
			eta[32], att[32], retry[32], reason[300], mbs[32], pct[16], rs[32], queued[32],
			qbytes[32];
		if (!field(line, "study", study, sizeof(study)))
			continue;
		field(line, "priority", prio, sizeof(prio));
		field(line, "state", state, sizeof(state));
		field(line, "instances", inst, sizeof(inst));
		field(line, "bytes", bytes, sizeof(bytes));
		field(line, "queued", queued, sizeof(queued));
		field(line, "queued_bytes", qbytes, sizeof(qbytes));
		field(line, "sent_bytes", sent, sizeof(sent));
		field(line, "rate_Bps", rate, sizeof(rate));
		field(line, "eta_s", eta, sizeof(eta));
		field(line, "attempts", att, sizeof(att));
		field(line, "next_retry_s", retry, sizeof(retry));
		field(line, "reason", reason, sizeof(reason));
		mb(mbs, sizeof(mbs), bytes);
		bool sending = strcmp(state, "sending") == 0;
		if (sending && atof(qbytes) > 0)
			snprintf(pct, sizeof(pct), "%.0f", 100 * atof(sent) / atof(qbytes));
		else
			snprintf(pct, sizeof(pct), "-");
		if (sending)
			snprintf(rs, sizeof(rs), "%.1f", atof(rate) / 1e6);
		else
			snprintf(rs, sizeof(rs), "-");
		printf("%-64s %-7s %-10s %6s %6s %9s %6s %8s %8s %5s %7s\n", study, prio, state,
		       inst, queued, mbs, pct, rs, strcmp(eta, "null") ? eta : "-", att,
		       strcmp(retry, "null") ? retry : "-");
		if (reason[0])
			printf("    %s\n", reason);
		studies++;
	}
	fclose(f);
	if (studies == 0)
		printf("(queue empty)\n");
	return running > 0 ? RP_EXIT_OK : RP_EXIT_FAILED;
}
