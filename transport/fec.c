/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/fec.c - the ISA-L adapter for Reed-Solomon over GF(2^8): Cauchy matrices
 * (every square submatrix invertible, so any kg of kg + m chunks rebuild a group). */
#include "transport/fec.h"

#include <limits.h>
#include <isa-l/erasure_code.h>

#define MAX_ROWS (128 + 32)

static int
check_args(unsigned kg, unsigned m, size_t size)
{
	/* ISA-L takes int lengths and at most 255 rows in GF(2^8). */
	if (kg == 0 || kg > 128 || m > 32 || size == 0 || size > INT_MAX)
		return RP_E_INVALID_ARG;
	return RP_OK;
}

int
rp__fec_encode(unsigned kg, unsigned m, size_t size, uint8_t *const *data,
	       uint8_t *const *parity)
{
	RP_TRY(check_args(kg, m, size));
	if (m == 0)
		return RP_OK;
	uint8_t *a = malloc((size_t)(kg + m) * kg);
	uint8_t *tbls = malloc((size_t)32 * kg * m);
	if (!a || !tbls) {
		free(a);
		free(tbls);
		return RP_E_NOMEM;
	}
	gf_gen_cauchy1_matrix(a, (int)(kg + m), (int)kg);
	ec_init_tables((int)kg, (int)m, a + (size_t)kg * kg, tbls);
	ec_encode_data((int)size, (int)kg, (int)m, tbls, (unsigned char **)data,
		       (unsigned char **)parity);
	free(a);
	free(tbls);
	return RP_OK;
}

int
rp__fec_rebuild(unsigned kg, unsigned m, size_t size, uint8_t *const *chunks,
		const uint8_t *present)
{
	RP_TRY(check_args(kg, m, size));
	unsigned rows[MAX_ROWS], missing[MAX_ROWS], nrows = 0, nmiss = 0;
	for (unsigned i = 0; i < kg; i++)
		if (!present[i])
			missing[nmiss++] = i;
	if (nmiss == 0)
		return RP_OK;
	/* Take the present data rows first (identity rows keep the inversion cheap), then
	 * parity rows until there are kg. */
	for (unsigned i = 0; i < kg + m && nrows < kg; i++)
		if (present[i])
			rows[nrows++] = i;
	if (nrows < kg)
		return RP_E_CORRUPT;

	int s = RP_E_NOMEM;
	uint8_t *a = malloc((size_t)(kg + m) * kg);
	uint8_t *b = malloc((size_t)kg * kg);
	uint8_t *inv = malloc((size_t)kg * kg);
	uint8_t *dec = malloc((size_t)kg * nmiss);
	uint8_t *tbls = malloc((size_t)32 * kg * nmiss);
	if (!a || !b || !inv || !dec || !tbls)
		goto out;
	gf_gen_cauchy1_matrix(a, (int)(kg + m), (int)kg);
	for (unsigned r = 0; r < kg; r++)
		memcpy(b + (size_t)r * kg, a + (size_t)rows[r] * kg, kg);
	if (gf_invert_matrix(b, inv, (int)kg) < 0) {
		s = RP_E_INTERNAL;
		goto out;
	}
	/* Data chunk i = row i of inv applied to the chosen chunks. */
	for (unsigned e = 0; e < nmiss; e++)
		memcpy(dec + (size_t)e * kg, inv + (size_t)missing[e] * kg, kg);
	unsigned char *src[MAX_ROWS], *dst[MAX_ROWS];
	for (unsigned r = 0; r < kg; r++)
		src[r] = chunks[rows[r]];
	for (unsigned e = 0; e < nmiss; e++)
		dst[e] = chunks[missing[e]];
	ec_init_tables((int)kg, (int)nmiss, dec, tbls);
	ec_encode_data((int)size, (int)kg, (int)nmiss, tbls, src, dst);
	s = RP_OK;
out:
	free(a);
	free(b);
	free(inv);
	free(dec);
	free(tbls);
	return s;
}
