/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg_huff.h - the Huffman side of JPEG (ITU-T T.81 Annex C and F.2.2) shared by our
 * two JPEG decoders: codec/jpeg_lossless.c (process 14) and codec/jpeg12.c (12-bit DCT,
 * process 4).  A bounds-checked bit reader over the entropy-coded segment that stops at
 * markers, and canonical-code tables with an 8-bit lookahead. */
#ifndef RP_CODEC_JPEG_HUFF_H
#define RP_CODEC_JPEG_HUFF_H

#include "codec/codec_impl.h"

struct jl_huff {
	bool present;
	int32_t maxcode[18];         /* largest code of each length, -1 when none */
	int32_t valptr[17];          /* index into vals of the first code of that length */
	int32_t mincode[17];
	uint16_t look[256];          /* 8-bit lookahead: (length << 8) | value, 0 = slow */
	uint8_t vals[256];
	uint16_t nvals;
};

struct jl_bits {
	const uint8_t *p, *end;      /* entropy-coded bytes; p stops at a marker */
	uint64_t acc;                /* bits, left-aligned */
	int nbits;
	int zero_fill;               /* bytes invented past a marker or the end */
};

static inline int
build_huff(struct jl_huff *h, const uint8_t counts[16], const uint8_t *vals, unsigned nvals)
{
	/* T.81 Annex C: canonical codes, lengths 1..16; F.2.2.3 decoding tables. */
	memset(h, 0, sizeof(*h));
	memcpy(h->vals, vals, nvals);
	h->nvals = (uint16_t)nvals;
	int32_t code = 0;
	unsigned k = 0;
	for (unsigned len = 1; len <= 16; len++) {
		h->valptr[len] = (int32_t)k;
		h->mincode[len] = code;
		unsigned n = counts[len - 1];
		if (n == 0) {
			h->maxcode[len] = -1;
		} else {
			k += n;
			code += (int32_t)n;
			h->maxcode[len] = code - 1;
			/* A code of `len` bits must fit: more codes than the length allows
			 * makes an unusable table. */
			if (code > (1 << len))
				return -1;
		}
		code <<= 1;
	}
	h->maxcode[17] = INT32_MAX;
	/* Lookahead for codes of up to 8 bits. */
	code = 0;
	k = 0;
	for (unsigned len = 1; len <= 8; len++) {
		for (unsigned i = 0; i < counts[len - 1]; i++, k++) {
			int32_t c = h->mincode[len] + (int32_t)i;
			unsigned shift = 8 - len;
			for (unsigned f = 0; f < (1u << shift); f++)
				h->look[((unsigned)c << shift) | f] =
					(uint16_t)((len << 8) | h->vals[k]);
		}
	}
	h->present = true;
	return 0;
}

/* Refills so that at least 57 bits are available, inventing zero bytes at a marker or at
 * the end of the data (T.81 F.2.2.5), counting them so that a scan that really ran out is
 * caught. */
static inline void
bits_fill(struct jl_bits *b)
{
	while (b->nbits <= 56) {
		uint64_t byte = 0;
		if (b->p < b->end && b->p[0] != 0xFF) {
			byte = *b->p++;
		} else if (b->p + 1 < b->end && b->p[0] == 0xFF && b->p[1] == 0x00) {
			byte = 0xFF;
			b->p += 2;
		} else {
			b->zero_fill++;      /* marker (or end) reached: stay there */
		}
		b->acc |= byte << (56 - b->nbits);
		b->nbits += 8;
	}
}

static inline uint32_t
bits_get(struct jl_bits *b, int n)
{
	if (n == 0)
		return 0;
	if (b->nbits < n)
		bits_fill(b);
	uint32_t v = (uint32_t)(b->acc >> (64 - n));
	b->acc <<= n;
	b->nbits -= n;
	return v;
}

static inline int
huff_decode(struct jl_bits *b, const struct jl_huff *h)
{
	if (b->nbits < 16)
		bits_fill(b);
	uint16_t e = h->look[b->acc >> 56];
	if (e) {
		int len = e >> 8;
		b->acc <<= len;
		b->nbits -= len;
		return e & 0xFF;
	}
	int32_t code = (int32_t)(b->acc >> 55);   /* 9 bits */
	int len = 9;
	while (len <= 16 && code > h->maxcode[len]) {
		len++;
		code = (int32_t)(b->acc >> (64 - len));
	}
	if (len > 16)
		return -1;
	b->acc <<= len;
	b->nbits -= len;
	int32_t idx = h->valptr[len] + code - h->mincode[len];
	if (idx < 0 || idx >= h->nvals)
		return -1;
	return h->vals[idx];
}

/* Whether decoding consumed bits that bits_fill() invented (zeros past a marker or the
 * end of the data): the invented bytes sit behind the real ones in acc, so more invented
 * bits than are left means some were used.  That is a truncated scan. */
static inline bool
bits_overran(const struct jl_bits *b)
{
	return (int64_t)b->zero_fill * 8 > b->nbits;
}

/* At a restart interval boundary (T.81 F.2.2.5 / H.2.2): the scan must not have run out,
 * the bit buffer is dropped (restart markers are byte-aligned), fill bytes are skipped, and
 * the next marker must be RSTn with n = *expect.  `codec` names the decoder in the message.
 * RP_OK or RP_E_CORRUPT. */
static inline int
jl_read_restart(struct jl_bits *b, unsigned *expect, const char *codec, struct rp_errbuf *err)
{
	if (bits_overran(b) || b->zero_fill > 8)
		return rp__err(err, RP_E_CORRUPT, "%s: scan data ends before a restart marker",
			       codec);
	b->acc = 0;
	b->nbits = 0;
	b->zero_fill = 0;
	while (b->p + 1 < b->end && b->p[0] == 0xFF && b->p[1] == 0xFF)
		b->p++;
	if (b->p + 1 >= b->end || b->p[0] != 0xFF || b->p[1] != 0xD0 + *expect)
		return rp__err(err, RP_E_CORRUPT, "%s: restart marker missing or out of order",
			       codec);
	b->p += 2;
	*expect = (*expect + 1) & 7;
	return RP_OK;
}

#endif /* RP_CODEC_JPEG_HUFF_H */
