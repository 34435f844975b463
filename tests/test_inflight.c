/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_inflight.c - the sender's in-flight form of one object (pipeline/
 * inflight_pack.c): the same bytes whether its frames are encoded by one thread or spread
 * over a pool (NEED answers and resumes rebuild chunks from them), framing given up for
 * frames that do not shrink, the input read as it is sent and refused by name once it
 * changes, and the pack undone by the unpack (on one thread and on a pool). */
#include "test_util.h"
#include "pipeline/inflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ROWS = 64, COLS = 64, FRAMES = 40 };

static void
put_elem(FILE *f, uint16_t g, uint16_t e, const void *v, uint32_t n)
{
	uint8_t h[8];
	rp__store_le16(h, g);
	rp__store_le16(h + 2, e);
	rp__store_le32(h + 4, n);
	assert_int_equal(fwrite(h, 1, 8, f), 8);
	assert_int_equal(fwrite(v, 1, n, f), n);
}

static void
put_us(FILE *f, uint16_t g, uint16_t e, uint16_t v)
{
	uint8_t b[2];
	rp__store_le16(b, v);
	put_elem(f, g, e, b, 2);
}

/* A bare implicit-VR data set (as DCMTK and our parser read one without a meta header):
 * FRAMES native 16-bit frames, a smooth ramp with a little noise (noise = 0) or 16 bits of
 * noise (noise = 1). */
static void
write_object(const char *path, int noise)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	put_us(f, 0x0028, 0x0002, 1);
	put_elem(f, 0x0028, 0x0004, "MONOCHROME2 ", 12);
	char nf[8];
	snprintf(nf, sizeof(nf), "%d ", FRAMES);
	put_elem(f, 0x0028, 0x0008, nf, (uint32_t)strlen(nf) & ~1u);
	put_us(f, 0x0028, 0x0010, ROWS);
	put_us(f, 0x0028, 0x0011, COLS);
	put_us(f, 0x0028, 0x0100, 16);
	put_us(f, 0x0028, 0x0101, noise ? 16 : 12);
	put_us(f, 0x0028, 0x0102, noise ? 15 : 11);
	put_us(f, 0x0028, 0x0103, 0);
	size_t n = (size_t)ROWS * COLS * FRAMES;
	uint8_t *pix = malloc(2 * n);
	assert_non_null(pix);
	uint32_t lcg = 12345;
	for (size_t i = 0; i < n; i++) {
		lcg = lcg * 1103515245u + 12345u;
		uint16_t v = noise ? (uint16_t)(lcg >> 8)
				   : (uint16_t)(((i % (ROWS * COLS)) + i / (ROWS * COLS) * 7 +
						 ((lcg >> 16) & 3)) & 4095);
		rp__store_le16(pix + 2 * i, v);
	}
	put_elem(f, 0x7FE0, 0x0010, pix, (uint32_t)(2 * n));
	free(pix);
	assert_int_equal(fclose(f), 0);
}

static void
scan(const char *path, struct rp__src *in)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	memset(in, 0, sizeof(*in));
	in->path = path;
	in->size = (size_t)st.st_size;
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->mtime = st.st_mtim;
	in->ctime = st.st_ctim;
}

/* The whole in-flight form, read through rp__inflight_copy() in odd-sized pieces. */
static uint8_t *
flatten(struct rp__inflight *f)
{
	uint8_t *p = malloc(f->len);
	assert_non_null(p);
	struct rp_errbuf err = {""};
	for (uint64_t off = 0; off < f->len;) {
		size_t n = f->len - off < 7777 ? (size_t)(f->len - off) : 7777;
		RP_ASSERT_OK(rp__inflight_copy(f, off, p + off, n, &err), &err);
		off += n;
	}
	return p;
}

struct collect {
	uint8_t *p;
	size_t n;
};

static int
collect_sink(void *ctx, const void *p, size_t n)
{
	struct collect *c = ctx;
	uint8_t *q = realloc(c->p, c->n + n + 1);
	if (!q)
		return -1;
	memcpy(q + c->n, p, n);
	c->p = q;
	c->n += n;
	return 0;
}

static void
test_pool_gives_same_bytes(void **state)
{
	(void)state;
	char dir[512], path[600];
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/ramp.dcm", dir);
	write_object(path, 0);
	struct rp__src in;
	scan(path, &in);
	struct rp_pool *pool = NULL;
	assert_int_equal(rp_pool_create(2, 0, &pool), RP_OK);
	struct rp_encoder *enc1[1] = {NULL}, *enc3[3] = {NULL, NULL, NULL};
	struct rp__inflight a, b;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp__inflight_build(&in, 0, RP_CODEC_JPEGLS, NULL, enc1, 0, &a, &err), &err);
	RP_ASSERT_OK(rp__inflight_build(&in, 0, RP_CODEC_JPEGLS, pool, enc3, 2, &b, &err), &err);
	assert_true(a.framed);
	assert_true(b.framed);
	printf("# %u frames of %ux%u: %zu bytes in flight for %zu stored\n", FRAMES, COLS, ROWS,
	       (size_t)a.len, in.size);
	assert_true(a.len < in.size);
	assert_int_equal(a.len, b.len);
	uint8_t *pa = flatten(&a), *pb = flatten(&b);
	assert_memory_equal(pa, pb, a.len);

	/* And the unpack gives the input back, pixel hash checked, on one thread and with
	 * its frames decoded on the pool. */
	struct rp__objhdr h;
	size_t need = 0;
	RP_ASSERT_OK(rp__objhdr_decode(pa, a.len, &h, &need, &err), &err);
	uint8_t *want = rp_test_read_file(path, &(size_t){0});
	for (int pooled = 0; pooled < 2; pooled++) {
		struct rp__inflight_coders coders = {.pool = pooled ? pool : NULL};
		struct collect got = {0};
		RP_ASSERT_OK(rp__inflight_unpack(&coders, &h, pa + need, 0, "ramp", collect_sink,
						 &got, &err), &err);
		assert_int_equal(got.n, in.size);
		assert_memory_equal(got.p, want, in.size);
		free(got.p);
		rp__inflight_coders_free(&coders);
	}
	free(want);
	rp__objhdr_free(&h);
	free(pa);
	free(pb);
	rp__inflight_free(&a);
	rp__inflight_free(&b);
	rp__inflight_encoder_free(enc1[0]);
	for (int i = 0; i < 3; i++)
		rp__inflight_encoder_free(enc3[i]);
	rp_pool_destroy(pool);
	unlink(path);
	rmdir(dir);
}

/* Noise does not shrink: the object goes verbatim, and what is held is the header only
 * (the input is read as it is sent). */
static void
test_noise_goes_verbatim(void **state)
{
	(void)state;
	char dir[512], path[600];
	rp_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/noise.dcm", dir);
	write_object(path, 1);
	struct rp__src in;
	scan(path, &in);
	struct rp_encoder *enc[1] = {NULL};
	struct rp__inflight f;
	struct rp_errbuf err = {""};
	RP_ASSERT_OK(rp__inflight_build(&in, 3, RP_CODEC_JPEGLS, NULL, enc, 0, &f, &err), &err);
	assert_false(f.framed);
	assert_null(f.enc);
	assert_int_equal(f.len, f.hdr.len + in.size);
	uint8_t *p = flatten(&f);
	size_t n = 0;
	uint8_t *want = rp_test_read_file(path, &n);
	assert_int_equal(n, in.size);
	assert_memory_equal(p + f.hdr.len, want, n);

	/* The file changes after the build: the next read of it is refused by name. */
	FILE *fp = fopen(path, "ab");
	assert_non_null(fp);
	fputc(0, fp);
	fclose(fp);
	int st = rp__inflight_copy(&f, f.hdr.len, p, 4096, &err);
	printf("# after the file grew: %s: %s\n", rp_status_name(st), err.msg);
	assert_int_equal(st, RP_E_IO);
	assert_non_null(strstr(err.msg, "noise.dcm"));
	assert_non_null(strstr(err.msg, "changed"));
	free(p);
	free(want);
	rp__inflight_free(&f);
	rp__inflight_encoder_free(enc[0]);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_gives_same_bytes),
		cmocka_unit_test(test_noise_goes_verbatim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
