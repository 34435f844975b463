/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k_rpcl.c - whether an HTJ2K codestream qualifies for transfer syntax
 * 1.2.840.10008.1.2.4.202 (HTJ2K with RPCL Options, Lossless Only) rather than only
 * .201 (HTJ2K Lossless Only).
 *
 * PS3.5 (8.2.15 and A.4.x) asks of a .202 stream, beyond .201's reversible HT coding:
 *   - progression order RPCL, with no POC changing it;
 *   - a TLM marker segment in the main header;
 *   - each tile divided into one tile-part per resolution level;
 *   - enough decomposition levels that the lowest resolution is no more than 64
 *     samples each way.
 * The check reads marker segments only (never the packets), bounds-checked: the bytes
 * are what our own or a foreign encoder wrote, and a stream that cannot be read is
 * simply not labelled .202.  Every component must satisfy the level and transform
 * rules, so COC segments are checked like COD. */
#include "codec/codec_impl.h"

#include <stdlib.h>

#define M_SOC 0xFF4F
#define M_SIZ 0xFF51
#define M_CAP 0xFF50
#define M_COD 0xFF52
#define M_COC 0xFF53
#define M_QCD 0xFF5C
#define M_QCC 0xFF5D
#define M_POC 0xFF5F
#define M_TLM 0xFF55
#define M_SOT 0xFF90
#define M_EOC 0xFFD9

#define RPCL 2
#define CB_STYLE_HT 0x40
#define WAVELET_53 1
#define MAX_TILES 65536

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
	return be16(p) << 16 | be16(p + 2);
}

/* ceil(a / 2^l) for the resolution geometry of 15444-1 B.5. */
static uint64_t
ceil_shift(uint64_t a, unsigned l)
{
	return (a + ((uint64_t)1 << l) - 1) >> l;
}

/* SPcod/SPcoc (from the levels byte on): levels, code-block style, transform. */
static int
check_spcod(const uint8_t *sp, uint32_t x0, uint32_t x1, uint32_t y0, uint32_t y1,
	    unsigned *levels, struct rp_errbuf *why)
{
	unsigned nl = sp[0];
	if (nl > 32)
		return rp__err(why, 0, "%u decomposition levels", nl);
	if (!(sp[3] & CB_STYLE_HT))
		return rp__err(why, 0, "code-blocks are not HT coded");
	if (sp[4] != WAVELET_53)
		return rp__err(why, 0, "the wavelet is not the reversible 5/3");
	uint64_t w = ceil_shift(x1, nl) - ceil_shift(x0, nl);
	uint64_t h = ceil_shift(y1, nl) - ceil_shift(y0, nl);
	if (w > 64 || h > 64)
		return rp__err(why, 0, "%u decomposition levels leave a lowest resolution of "
			       "%llu x %llu, more than 64", nl, (unsigned long long)w,
			       (unsigned long long)h);
	*levels = nl;
	return 1;
}

int
rp__htj2k_is_rpcl_lossless(const uint8_t *cs, size_t n, struct rp_errbuf *why)
{
	struct rp_errbuf scratch;
	if (!why)
		why = &scratch;
	why->msg[0] = '\0';
	if (!cs || n < 4 || be16(cs) != M_SOC)
		return rp__err(why, 0, "no SOC marker");

	size_t pos = 2;
	bool have_siz = false, have_cap = false, have_cod = false, have_tlm = false;
	uint32_t x0 = 0, x1 = 0, y0 = 0, y1 = 0, tw = 0, th = 0, tx0 = 0, ty0 = 0;
	unsigned csiz = 0, levels = 0, max_levels = 0;
	uint32_t ntiles = 0;

	/* Main header: every marker segment up to the first SOT. */
	for (;;) {
		if (n - pos < 4)
			return rp__err(why, 0, "the main header is cut short");
		uint32_t m = be16(cs + pos), len = be16(cs + pos + 2);
		if (m == M_SOT)
			break;
		if (len < 2 || len > n - pos - 2)
			return rp__err(why, 0, "marker %04X overruns the stream", m);
		const uint8_t *v = cs + pos + 4;
		const uint32_t vlen = len - 2;
		switch (m) {
		case M_SIZ:
			if (vlen < 36)
				return rp__err(why, 0, "short SIZ");
			x1 = be32(v + 2);
			y1 = be32(v + 6);
			x0 = be32(v + 10);
			y0 = be32(v + 14);
			tw = be32(v + 18);
			th = be32(v + 22);
			tx0 = be32(v + 26);
			ty0 = be32(v + 30);
			csiz = be16(v + 34);
			if (x1 <= x0 || y1 <= y0 || tw == 0 || th == 0 || csiz == 0 ||
			    vlen < 36 + 3 * (uint64_t)csiz)
				return rp__err(why, 0, "bad SIZ");
			for (unsigned c = 0; c < csiz; c++)
				if (v[36 + 3 * c + 1] != 1 || v[36 + 3 * c + 2] != 1)
					return rp__err(why, 0, "subsampled components");
			{
				uint64_t tx = (x1 - tx0) / tw + ((x1 - tx0) % tw != 0);
				uint64_t ty = (y1 - ty0) / th + ((y1 - ty0) % th != 0);
				if (tx0 > x0 || ty0 > y0 || tx * ty > MAX_TILES)
					return rp__err(why, 0, "tile grid not readable");
				ntiles = (uint32_t)(tx * ty);
			}
			have_siz = true;
			break;
		case M_CAP:
			/* Pcap bit 15 (the MSB counts as bit 1) says Part 15 is used. */
			if (vlen < 4 || !(be32(v) & 0x00020000u))
				return rp__err(why, 0, "CAP does not declare Part 15 (HT)");
			have_cap = true;
			break;
		case M_COD:
			if (!have_siz || vlen < 10)
				return rp__err(why, 0, "COD before SIZ or short");
			if (v[1] != RPCL)
				return rp__err(why, 0, "progression order %u is not RPCL", v[1]);
			if (check_spcod(v + 5, x0, x1, y0, y1, &levels, why) != 1)
				return 0;
			if (levels > max_levels)
				max_levels = levels;
			have_cod = true;
			break;
		case M_COC: {
			const unsigned cb = csiz < 257 ? 1 : 2;
			unsigned nl;
			if (!have_siz || vlen < cb + 1 + 5)
				return rp__err(why, 0, "COC before SIZ or short");
			if (check_spcod(v + cb + 1, x0, x1, y0, y1, &nl, why) != 1)
				return 0;
			if (nl > max_levels)
				max_levels = nl;
			break;
		}
		case M_QCD:
		case M_QCC: {
			const unsigned off = m == M_QCD ? 0 : csiz < 257 ? 1 : 2;
			if (vlen <= off || (v[off] & 0x1F) != 0)
				return rp__err(why, 0, "quantized (not lossless)");
			break;
		}
		case M_POC:
			return rp__err(why, 0, "a POC marker changes the progression order");
		case M_TLM:
			have_tlm = true;
			break;
		default:
			break;
		}
		pos += 2 + len;
	}
	if (!have_siz || !have_cap || !have_cod)
		return rp__err(why, 0, "no %s marker", !have_siz ? "SIZ" : !have_cap ? "CAP" : "COD");
	if (!have_tlm)
		return rp__err(why, 0, "no TLM marker");

	/* Tile-parts: count them per tile; each tile needs one per resolution.  Tile-part
	 * headers may carry COD/COC/POC too: refuse those rather than read them. */
	uint32_t counts_small[16] = { 0 };
	uint32_t *counts = ntiles <= 16 ? counts_small : calloc(ntiles, sizeof(*counts));
	int ok = 1;
	if (!counts)
		return rp__err(why, 0, "out of memory");
	for (;;) {
		if (n - pos < 2) {
			ok = rp__err(why, 0, "no EOC marker");
			break;
		}
		uint32_t m = be16(cs + pos);
		if (m == M_EOC)
			break;
		if (m != M_SOT || n - pos < 12 || be16(cs + pos + 2) != 10) {
			ok = rp__err(why, 0, "expected SOT at %zu", pos);
			break;
		}
		uint32_t isot = be16(cs + pos + 4), psot = be32(cs + pos + 6);
		unsigned tpsot = cs[pos + 10], tnsot = cs[pos + 11];
		if (isot >= ntiles || tpsot != counts[isot] ||
		    (tnsot != 0 && tnsot != max_levels + 1)) {
			ok = rp__err(why, 0, "tile %u has %u tile-part(s), not one per resolution "
				     "(%u)", isot, tnsot, max_levels + 1);
			break;
		}
		counts[isot]++;
		/* Tile-part header markers before SOD. */
		size_t q = pos + 12;
		while (ok == 1 && n - q >= 4 && be16(cs + q) != 0xFF93) {
			uint32_t tm = be16(cs + q), tl = be16(cs + q + 2);
			if (tm == M_COD || tm == M_COC || tm == M_POC || tm == M_QCD || tm == M_QCC)
				ok = rp__err(why, 0, "tile-part header overrides coding style");
			if (tl < 2 || tl > n - q - 2)
				ok = rp__err(why, 0, "tile-part header marker overruns the stream");
			q += 2 + (size_t)tl;
		}
		if (ok != 1)
			break;
		if (psot == 0) {        /* the last tile-part runs to EOC: must be complete */
			pos = n >= 2 && be16(cs + n - 2) == M_EOC ? n - 2 : n;
			continue;
		}
		if (psot < 14 || psot > n - pos) {
			ok = rp__err(why, 0, "tile-part length overruns the stream");
			break;
		}
		pos += psot;
	}
	for (uint32_t t = 0; ok == 1 && t < ntiles; t++)
		if (counts[t] != max_levels + 1)
			ok = rp__err(why, 0, "tile %u has %u tile-part(s), not one per resolution "
				     "(%u)", t, counts[t], max_levels + 1);
	if (counts != counts_small)
		free(counts);
	return ok == 1 ? 1 : 0;
}
