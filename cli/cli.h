/* SPDX-License-Identifier: BSD-3-Clause */
/* cli/cli.h - shared pieces of the radpipe command: the subcommand table, messages,
 * exit codes.  The CLI uses the public API only. */
#ifndef RP_CLI_H
#define RP_CLI_H

#include <radpipe/radpipe.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in README.md and docs/radpipe.1). */
enum {
	RP_EXIT_OK = 0,        /* everything done and verified */
	RP_EXIT_FAILED = 1,    /* some input failed (corrupt, unsupported, mismatch) */
	RP_EXIT_USAGE = 2,     /* bad command line */
	RP_EXIT_IO = 3,        /* cannot read input or write output */
	RP_EXIT_NET = 4,       /* network, TLS or peer failure */
	RP_EXIT_INTERNAL = 70  /* a bug: please report */
};

struct rp_cli_cmd {
	const char *name;
	const char *summary;   /* one line for `radpipe --help` */
	int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
};

/* Subcommands, each in cli/cmd_<name>.c. */
int rp_cmd_info(int argc, char **argv);
int rp_cmd_compress(int argc, char **argv);
int rp_cmd_decompress(int argc, char **argv);
int rp_cmd_verify(int argc, char **argv);
int rp_cmd_report(int argc, char **argv);
int rp_cmd_send(int argc, char **argv);
int rp_cmd_serve(int argc, char **argv);
int rp_cmd_gateway(int argc, char **argv);
int rp_cmd_status(int argc, char **argv);
int rp_cmd_keygen(int argc, char **argv);
int rp_cmd_audit(int argc, char **argv);
int rp_cmd_bench(int argc, char **argv);

/* Global flags shared by subcommands. */
extern bool rp_cli_quiet;
extern bool rp_cli_json;

/* "radpipe: <what>: <msg> (RP_E_X)" on stderr, unless status is RP_OK. */
void rp_cli_error(const char *what, int status, const char *msg);
/* "radpipe: ..." on stderr (printf-style). */
void rp_cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats msg into err and returns status (for error paths). */
int rp_cli_fail(struct rp_errbuf *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes s as a JSON string literal (quoted, escaped). */
void rp_cli_json_string(FILE *f, const char *s);

/* Exit code for a library status. */
int rp_cli_exit_code(int status);

/* Maps a whole file read-only; *size may be 0.  Returns RP_OK or RP_E_IO with errno text
 * in err.  Unmap with rp_cli_unmap(). */
int rp_cli_map(const char *path, const void **data, size_t *size, struct rp_errbuf *err);
void rp_cli_unmap(const void *data, size_t size);

/* Walks `inputs` (files or directories, recursively, sorted) and calls fn for each
 * regular file with its path and the path relative to the input it was found under
 * (a file named directly has its base name).  Stops on fn's non-zero return. */
typedef int rp_cli_file_fn(void *ctx, const char *path, const char *relpath);
int rp_cli_walk(char **inputs, int count, rp_cli_file_fn *fn, void *ctx);

/* Creates every missing directory of `path`'s parent. RP_OK or RP_E_IO. */
int rp_cli_mkdirs_for(const char *path, struct rp_errbuf *err);

/* Progress line on stderr when it is a TTY and not quiet: "\r<label> n/total ...". */
struct rp_cli_progress;
struct rp_cli_progress *rp_cli_progress_start(const char *label, uint64_t total);
void rp_cli_progress_add(struct rp_cli_progress *p, uint64_t done_units, uint64_t bytes);
void rp_cli_progress_end(struct rp_cli_progress *p);

/* Seconds on a monotonic clock. */
double rp_cli_now(void);

/* Expands every `--config FILE` in argv into the `--name=value` arguments its lines
 * give (names: the long options in opts), ahead of the command line's own arguments so
 * that these win.  Replaces *argc and *argv when a config was given.  RP_EXIT_OK, or the
 * exit code after a message naming the file and line. */
int rp_cli_config_expand(int *argc, char ***argv, const struct option *opts);

/* Splits HOST:PORT in place (HOST may be [IPv6]): *host points into s.  -1, s unchanged,
 * when it is not that or the port is not 1..65535.  A listener's may also have an empty
 * HOST (any address) and port 0 (any free port). */
int rp_cli_hostport(char *s, const char **host, uint16_t *port, bool listener);
/* "7d", "12h", "30m", "90s" or plain seconds; -1 for anything else or a negative. */
int rp_cli_duration(const char *s, double *v);
/* -T N (1 .. 1024); -1 after a message for anything else. */
int rp_cli_threads(const char *s, unsigned *n);
/* --budget MB (1 .. 2^24) in bytes; -1 after a message for anything else. */
int rp_cli_budget(const char *s, uint64_t *bytes);

/* --audit FILE and --atna URL of a long-running command (cli_audit_trail.c). */
struct rp_cli_audit_config {
	const char *path;            /* --audit; NULL: no trail */
	const char *atna_url;        /* --atna; needs path */
	const char *ae_title;        /* named in the ATNA messages */
	const char *tls_cert, *tls_key, *tls_ca; /* for tls:// */
	rp_log_fn *log;
	void *log_ctx;
};
struct rp_cli_audit {
	struct rp_audit *log;        /* NULL without --audit */
	struct rp_atna *atna;
};
int rp_cli_audit_open(struct rp_cli_audit *a, const struct rp_cli_audit_config *cfg,
		      struct rp_errbuf *err);
void rp_cli_audit_close(struct rp_cli_audit *a);

#endif /* RP_CLI_H */
