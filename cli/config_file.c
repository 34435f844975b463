/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/config_file.c - `--config FILE` for long-running subcommands: a file of
 * `name = value` lines whose names are the command's long options, turned into the
 * equivalent `--name=value` arguments placed before the command line's own, so that a
 * flag given on the command line wins over the file (getopt keeps the last value).
 *
 * Why not a library: the format is the flags themselves, one per line, and its only
 * consumer is getopt_long; an INI or TOML parser would add a dependency and a second
 * naming scheme for the same settings. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static const struct option *
find_option(const struct option *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/* Appends s (copied) to the growing argument vector; false when out of memory. */
static bool
push(char ***v, int *n, int *cap, const char *s)
{
	if (*n + 1 >= *cap) {
		int ncap = *cap ? *cap * 2 : 32;
		char **nv = realloc(*v, (size_t)ncap * sizeof(**v));
		if (!nv)
			return false;
		*v = nv;
		*cap = ncap;
	}
	char *copy = strdup(s);
	if (!copy)
		return false;
	(*v)[(*n)++] = copy;
	(*v)[*n] = NULL;
	return true;
}

static bool
is_true(const char *v)
{
	return !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1");
}

static bool
is_false(const char *v)
{
	return !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0");
}

/* Reads one config file into arguments; RP_EXIT_OK or the exit code after a message
 * naming the file and line. */
static int
read_config(const char *path, const struct option *opts, char ***v, int *n, int *cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		rp_cli_errorf("--config %s: %s", path, strerror(errno));
		return RP_EXIT_USAGE;
	}
	char line[LINE_MAX_LEN];
	unsigned lineno = 0;
	int rc = RP_EXIT_OK;
	while (rc == RP_EXIT_OK && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
			rp_cli_errorf("%s:%u: line longer than %d bytes", path, lineno,
				      LINE_MAX_LEN - 2);
			rc = RP_EXIT_USAGE;
			break;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		char *value = NULL;
		if (eq) {
			*eq = 0;
			value = trim(eq + 1);
			size_t vl = strlen(value);
			/* "..." keeps leading/trailing spaces and a '#' inside the value. */
			if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
				value[vl - 1] = 0;
				value++;
			}
		}
		char *name = trim(s);
		const struct option *o = find_option(opts, name);
		if (!o || !strcmp(name, "config") || !strcmp(name, "help")) {
			rp_cli_errorf("%s:%u: unknown setting '%s' (settings are the long "
				      "options of --help, without the dashes)", path, lineno, name);
			rc = RP_EXIT_USAGE;
			break;
		}
		char arg[LINE_MAX_LEN + 8];
		if (o->has_arg == no_argument) {
			if (value && is_false(value))
				continue;
			if (value && !is_true(value)) {
				rp_cli_errorf("%s:%u: '%s' is a switch: expected true or false, "
					      "not '%s'", path, lineno, name, value);
				rc = RP_EXIT_USAGE;
				break;
			}
			snprintf(arg, sizeof(arg), "--%s", name);
		} else {
			if (!value || (!*value && o->has_arg == required_argument)) {
				rp_cli_errorf("%s:%u: '%s' needs a value (%s = VALUE)", path,
					      lineno, name, name);
				rc = RP_EXIT_USAGE;
				break;
			}
			snprintf(arg, sizeof(arg), "--%s=%s", name, value);
		}
		if (!push(v, n, cap, arg)) {
			rp_cli_errorf("--config %s: out of memory", path);
			rc = RP_EXIT_INTERNAL;
		}
	}
	if (rc == RP_EXIT_OK && ferror(f)) {
		rp_cli_errorf("--config %s: %s", path, strerror(errno));
		rc = RP_EXIT_IO;
	}
	fclose(f);
	return rc;
}

int
rp_cli_config_expand(int *argc, char ***argv, const struct option *opts)
{
	int n = 0, cap = 0;
	char **v = NULL;
	bool found = false;
	int rc = RP_EXIT_OK;
	if (!push(&v, &n, &cap, (*argv)[0]))
		return RP_EXIT_INTERNAL;
	/* Config files first, in the order given; then the other arguments. */
	for (int i = 1; i < *argc && rc == RP_EXIT_OK; i++) {
		const char *a = (*argv)[i];
		if (!strcmp(a, "--"))
			break;
		const char *path = NULL;
		if (!strcmp(a, "--config")) {
			if (i + 1 >= *argc) {
				rp_cli_errorf("--config needs a FILE");
				rc = RP_EXIT_USAGE;
				break;
			}
			path = (*argv)[i + 1];
			i++;
		} else if (!strncmp(a, "--config=", 9)) {
			path = a + 9;
		}
		if (path) {
			found = true;
			rc = read_config(path, opts, &v, &n, &cap);
		}
	}
	if (rc == RP_EXIT_OK && found) {
		bool rest = false;
		for (int i = 1; i < *argc; i++) {
			const char *a = (*argv)[i];
			if (!rest && !strcmp(a, "--"))
				rest = true;
			if (!rest && !strcmp(a, "--config")) {
				i++;
				continue;
			}
			if (!rest && !strncmp(a, "--config=", 9))
				continue;
			if (!push(&v, &n, &cap, a)) {
				rc = RP_EXIT_INTERNAL;
				break;
			}
		}
	}
	if (rc != RP_EXIT_OK || !found) {
		for (int i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	/* The expanded vector lives as long as the process, as argv does (kept reachable
	 * here, so that a leak checker does not count it). */
	static char **expanded;
	expanded = v;
	*argc = n;
	*argv = expanded;
	return RP_EXIT_OK;
}
