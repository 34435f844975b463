/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_tables.c - builds the encoder and decoder lookups of the HT CxtVLC code
 * from the normative rows in ht_vlc_data.c, once per process. */
#include <pthread.h>

#include "codec/htj2k/ht_internal.h"

static struct rp__ht_tables tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static unsigned
popcount4(unsigned v)
{
	return (v & 1) + ((v >> 1) & 1) + ((v >> 2) & 1) + ((v >> 3) & 1);
}

static void
build_one(const struct rp__ht_vlc_src *src, size_t n, uint16_t *enc, uint16_t *dec)
{
	/* Encoder: for u_off = 1 the standard leaves the choice among the words whose
	 * (e_k, e_1) agree with the quad (emb & e_k == e_1); the one that tells the decoder
	 * most MSBs (largest e_k) saves most MagSgn bits, and among those the shortest. */
	for (unsigned i = 0; i < 2048; i++) {
		unsigned c_q = i >> 8, rho = (i >> 4) & 15, emb = i & 15;
		const struct rp__ht_vlc_src *best = NULL;
		enc[i] = 0;
		if ((emb & rho) != emb || (rho == 0 && c_q == 0))
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct rp__ht_vlc_src *e = &src[j];
			if (e->c_q != c_q || e->rho != rho)
				continue;
			if (emb == 0) {
				if (e->u_off == 0) {
					best = e;
					break;
				}
				continue;
			}
			if (e->u_off != 1 || (emb & e->e_k) != e->e_1)
				continue;
			if (!best || popcount4(e->e_k) > popcount4(best->e_k) ||
			    (popcount4(e->e_k) == popcount4(best->e_k) && e->len < best->len))
				best = e;
		}
		if (best)
			enc[i] = (uint16_t)((best->cwd << 8) | (best->len << 4) | best->e_k);
	}
	/* Decoder: every 7-bit window whose low `len` bits are the codeword. */
	for (unsigned i = 0; i < 1024; i++)
		dec[i] = 0;
	for (size_t j = 0; j < n; j++) {
		const struct rp__ht_vlc_src *e = &src[j];
		for (unsigned hi = 0; hi < (1u << (7 - e->len)); hi++) {
			unsigned idx = ((unsigned)e->c_q << 7) | (hi << e->len) | e->cwd;
			dec[idx] = (uint16_t)((e->e_k << 12) | (e->e_1 << 8) | (e->rho << 4) |
					      (e->u_off << 3) | e->len);
		}
	}
}

static void
build_tables(void)
{
	build_one(rp__ht_vlc_src0, rp__ht_vlc_src0_count, tables.enc[0], tables.dec[0]);
	build_one(rp__ht_vlc_src1, rp__ht_vlc_src1_count, tables.enc[1], tables.dec[1]);
}

const struct rp__ht_tables *
rp__ht_tables_get(void)
{
	pthread_once(&tables_once, build_tables);
	return &tables;
}

static int
check_src(const struct rp__ht_vlc_src *src, size_t n)
{
	for (unsigned c = 0; c < 8; c++) {
		uint32_t kraft = 0;      /* in units of 2^-7 */
		for (size_t j = 0; j < n; j++) {
			const struct rp__ht_vlc_src *e = &src[j];
			if (e->len < 1 || e->len > 7 || e->cwd >= (1u << e->len) || e->rho > 15 ||
			    (e->e_1 & ~e->e_k) || (e->e_k & ~e->rho) || e->u_off > 1 ||
			    (e->u_off == 0 && e->e_k != 0) || e->c_q > 7)
				return -1;
			if (e->c_q == c)
				kraft += 1u << (7 - e->len);
		}
		if (kraft != 128)
			return -2;
	}
	return 0;
}

int
rp__ht_tables_selfcheck(void)
{
	const struct rp__ht_tables *t = rp__ht_tables_get();
	if (check_src(rp__ht_vlc_src0, rp__ht_vlc_src0_count) < 0 ||
	    check_src(rp__ht_vlc_src1, rp__ht_vlc_src1_count) < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		for (unsigned i = 0; i < 2048; i++) {
			unsigned c_q = i >> 8, rho = (i >> 4) & 15, emb = i & 15;
			if ((emb & rho) != emb || (rho == 0 && c_q == 0))
				continue;
			if (t->enc[k][i] == 0)
				return -3;      /* an encodable quad without a codeword */
		}
		for (unsigned i = 0; i < 1024; i++)
			if ((t->dec[k][i] & 7) == 0)
				return -4;      /* a hole in the prefix code */
	}
	return 0;
}
