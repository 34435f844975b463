/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_util.c - see test_util.h. */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct listed {
	char *path, *sha, *use;
};

/* Lists handed out stay reachable here, so they live until exit as test_util.h promises
 * (and leak checkers see them as in use, not lost). */
static const char **lists[64];
static size_t nlists;

static struct listed *listing;
static size_t listing_count;

static void
load_listing(void)
{
	if (listing)
		return;
	const char *src = getenv("RADPIPE_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/corpus/files.tsv", src ? src : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot read the corpus list %s (set RADPIPE_SOURCE_DIR)", path);
	char line[2048];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *p = strtok(line, "\t"), *s = strtok(NULL, "\t"), *u = strtok(NULL, "\t");
		if (!p || !s || !u)
			continue;
		if (listing_count == cap) {
			cap = cap ? cap * 2 : 512;
			listing = realloc(listing, cap * sizeof(*listing));
		}
		listing[listing_count++] = (struct listed){ strdup(p), strdup(s), strdup(u) };
	}
	fclose(f);
}

const char *
rp_test_corpus_dir(void)
{
	const char *dir = getenv("RADPIPE_CORPUS");
	struct stat st;
	if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		fail_msg("the test corpus is missing: RADPIPE_CORPUS=%s is not a directory. "
			 "Put the corpus at ../shared/corpus (see corpus/README.md) or configure "
			 "with -DRADPIPE_CORPUS=DIR", dir ? dir : "(unset)");
	return dir;
}

const char **
rp_test_corpus_list(const char *use, size_t *count)
{
	load_listing();
	const char **out = calloc(listing_count + 1, sizeof(*out));
	size_t n = 0;
	for (size_t i = 0; i < listing_count; i++) {
		const char *u = listing[i].use;
		size_t ul = strlen(use);
		/* match whole comma-separated words */
		for (const char *p = u; (p = strstr(p, use)); p += ul)
			if ((p == u || p[-1] == ',') && (p[ul] == '\0' || p[ul] == ',')) {
				out[n++] = listing[i].path;
				break;
			}
	}
	if (nlists < sizeof(lists) / sizeof(lists[0]))
		lists[nlists++] = out;
	*count = n;
	if (n == 0)
		fail_msg("corpus/files.tsv lists no file for use '%s'", use);
	return out;
}

uint8_t *
rp_test_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = n > 0 ? (size_t)n : 0;
	return buf;
}

uint8_t *
rp_test_corpus_load(const char *rel, size_t *size)
{
	load_listing();
	const char *expect = NULL;
	for (size_t i = 0; i < listing_count; i++)
		if (strcmp(listing[i].path, rel) == 0)
			expect = listing[i].sha;
	if (!expect)
		fail_msg("%s is not listed in corpus/files.tsv", rel);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", rp_test_corpus_dir(), rel);
	uint8_t *buf = rp_test_read_file(path, size);
	if (!buf)
		fail_msg("corpus file %s is missing", path);
	unsigned char md[32];
	unsigned int len = 32;
	EVP_Digest(buf, *size, md, &len, EVP_sha256(), NULL);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, expect) != 0)
		fail_msg("corpus file %s has SHA-256 %s, corpus/files.tsv says %s", path, hex,
			 expect);
	return buf;
}

static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

uint8_t *
rp_test_make_frame(const struct rp_image_desc *img, int kind, uint32_t seed)
{
	size_t size = rp_image_frame_size(img);
	uint8_t *f = calloc(1, size ? size : 1);
	size_t bps = img->bits_allocated / 8;
	size_t count = (size_t)img->width * img->height * img->components;
	uint32_t s = seed * 2654435761u + 1;
	int64_t lo = img->is_signed ? -((int64_t)1 << (img->bits_stored - 1)) : 0;
	int64_t hi = img->is_signed ? ((int64_t)1 << (img->bits_stored - 1)) - 1 :
				      ((int64_t)1 << img->bits_stored) - 1;
	for (size_t i = 0; i < count; i++) {
		int64_t v;
		size_t x = (i / img->components) % img->width, y = (i / img->components) / img->width;
		switch (kind) {
		case 0:
			v = lo + (int64_t)(next_rand(&s) % (uint64_t)(hi - lo + 1));
			break;
		case 1:
			v = lo + (int64_t)((x * 7 + y * 3 + (i % img->components) * 11 +
					    next_rand(&s) % 4) % (uint64_t)(hi - lo + 1));
			break;
		case 2:
			v = lo + (hi - lo) / 3;
			break;
		default:
			v = (i + y) % 2 ? hi : lo;
			break;
		}
		uint32_t u = (uint32_t)v;   /* two's complement, sign-extended to 32 bits */
		for (size_t b = 0; b < bps; b++)
			f[i * bps + b] = (uint8_t)(u >> (8 * b));
	}
	return f;
}

void
rp_test_tmpdir(char *buf, size_t cap)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, cap, "%s/radpipe-test-XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(buf))
		fail_msg("cannot create a temporary directory under %s", t ? t : "/tmp");
}

uint16_t
rp_test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void *
scp_main(void *arg)
{
	struct rp_test_scp *t = arg;
	struct rp_errbuf err = {""};
	t->status = rp_store_scp_run(t->scp, &err);
	return NULL;
}

void
rp_test_scp_start(struct rp_test_scp *t, const struct rp_store_scp_options *o,
		  const char *echo_args)
{
	struct rp_errbuf err = {""};
	memset(t, 0, sizeof(*t));
	RP_ASSERT_OK(rp_store_scp_create(o, &t->scp, &err), &err);
	assert_int_equal(pthread_create(&t->thread, NULL, scp_main, t), 0);
	if (!echo_args)
		return;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "echoscu -q %s 127.0.0.1 %u 2>/dev/null", echo_args, o->port);
	int echo = 1;
	for (int i = 0; i < 50 && echo != 0; i++)
		if ((echo = system(cmd)) != 0)
			usleep(100000);
	assert_int_equal(echo, 0);
}

void
rp_test_scp_stop(struct rp_test_scp *t)
{
	rp_store_scp_stop(t->scp);
	assert_int_equal(pthread_join(t->thread, NULL), 0);
	assert_int_equal(t->status, RP_OK);
	rp_store_scp_destroy(t->scp);
	t->scp = NULL;
}
