/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_util.h - shared test helpers: the corpus locator (checks SHA-256s against
 * corpus/files.tsv), file loading, synthetic images, assertions that print operands. */
#ifndef RP_TEST_UTIL_H
#define RP_TEST_UTIL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <radpipe/radpipe.h>

/* Fails the test (with the message) when the status is not RP_OK. */
#define RP_ASSERT_OK(expr, err)                                                            \
	do {                                                                               \
		int rp__t = (expr);                                                        \
		if (rp__t != RP_OK)                                                        \
			fail_msg("%s -> %s: %s", #expr, rp_status_name(rp__t),             \
				 rp_test_errmsg(err));                                     \
	} while (0)

static inline const char *
rp_test_errmsg(const struct rp_errbuf *err)
{
	return err ? err->msg : "";
}

/* The corpus directory (env RADPIPE_CORPUS); fails the test with a clear message when it
 * is not there. */
const char *rp_test_corpus_dir(void);

/* Corpus files whose `use` column (corpus/files.tsv) contains `use`; *count set.  The
 * array and strings live until exit. */
const char **rp_test_corpus_list(const char *use, size_t *count);

/* Reads a corpus file (path relative to the corpus) into memory, checking its SHA-256
 * against corpus/files.tsv.  Fails the test when missing or changed. */
uint8_t *rp_test_corpus_load(const char *rel, size_t *size);

/* A TCP port on 127.0.0.1 that was free a moment ago (for servers that must be given
 * one, such as DCMTK's). */
uint16_t rp_test_free_port(void);

/* A Storage SCP run on a thread of its own for the DICOM tests.  start creates it from o
 * (which must outlive it) and, unless echo_args is NULL, returns once `echoscu -q
 * ECHO_ARGS 127.0.0.1 PORT` is answered (the listener is up); stop stops it, joins the
 * thread, asserts the run returned RP_OK and destroys it. */
struct rp_test_scp {
	struct rp_store_scp *scp;
	pthread_t thread;
	int status;
};
void rp_test_scp_start(struct rp_test_scp *t, const struct rp_store_scp_options *o,
		       const char *echo_args);
void rp_test_scp_stop(struct rp_test_scp *t);

/* Reads any file; NULL when it cannot. */
uint8_t *rp_test_read_file(const char *path, size_t *size);

/* A canonical frame of img filled with a deterministic pattern: kind 0 noise over the
 * full bits_stored range, 1 smooth gradient, 2 constant, 3 extremes (min/max alternate). */
uint8_t *rp_test_make_frame(const struct rp_image_desc *img, int kind, uint32_t seed);

/* Writes a temporary directory path (mkdtemp under TMPDIR or /tmp) into buf. */
void rp_test_tmpdir(char *buf, size_t cap);

#endif /* RP_TEST_UTIL_H */
