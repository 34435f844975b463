/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_impl.h - body of the fast HT cleanup pass decoder (ISO/IEC
 * 15444-15 clause 7), included by ht_block_dec.c (scalar build) and ht_block_dec_avx2.c
 * (the same C built with AVX2 + BMI2, where the compiler's shlx/bzhi/lzcnt shorten the
 * bit extraction).  The including file defines RP__HTDEC_NAME, the function's name, and
 * may define RP__HTDEC_MS_ROW to a vector version of ms_row().
 *
 * Two phases per line pair instead of one pass per quad:
 *  1. VLC + MEL: the quads' codewords (rho, u_off, e_k, e_1 in one table word) and the
 *     unsigned residuals u_q, with the backward VLC reader refilled once per quad pair
 *     (a pair takes at most 38 bits) and four bytes at a time when none of them can be a
 *     stuffing byte.
 *  2. MagSgn: the whole MagSgn segment is unstuffed once into a plain bit string (bytes
 *     after 0xFF carry 7 bits; ones past the end), so that every sample's bits are one
 *     unaligned 64-bit load at a known bit offset: samples no longer wait on a shared
 *     shifting accumulator, only on a running sum of their lengths.
 * The bit readers stay inside the segment (past its end they see the padding the
 * standard implies), and a quad whose exponent bound exceeds max_bits + 1 is refused, as
 * ht_block_dec_ref.c does, so statuses match too. */
#include "codec/htj2k/ht_block_dec.h"

/* Unstuffed MagSgn: at most 4096 samples x 31 bits = 15872 bytes are ever read, plus one
 * line pair of slack (32 quads x 16 bytes) and the 8-byte load of the last sample. */
#define MS_READ_MAX 15872u
#define MS_BUF_BYTES (MS_READ_MAX + 32u * 16u + 64u)

/* ---- MagSgn unstuffing ---- */

static inline int
has_zero_byte64(uint64_t v)
{
	return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0;
}

static inline void
store64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);       /* the bit string is little-endian, as on x86 */
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Unstuffs src[0, n) into out; returns the number of bytes written (a multiple of 8).
 * Bits after the segment's are ones.  Stops early past MS_READ_MAX + 64 bytes: no read
 * reaches further. */
static size_t
ms_unstuff(const uint8_t *p, size_t n, uint8_t *out)
{
	const uint8_t *end = p + n;
	uint64_t acc = 0;
	unsigned nb = 0;        /* bits pending in acc, < 64 */
	size_t o = 0;
	int last_ff = 0;

	while (o < MS_READ_MAX + 64u) {
		if (!last_ff && end - p >= 8) {
			uint64_t w = rp__load_le64(p);
			if (!has_zero_byte64(~w)) {       /* no 0xFF: 64 plain bits */
				store64(out + o, acc | (w << nb));
				o += 8;
				acc = nb ? w >> (64 - nb) : 0;
				p += 8;
				continue;
			}
		}
		if (p >= end)
			break;
		unsigned b = *p++;
		unsigned k = last_ff ? 7 : 8;
		uint64_t bits = last_ff ? (b & 0x7Fu) : b;
		acc |= bits << nb;
		nb += k;
		if (nb >= 64) {
			store64(out + o, acc);
			o += 8;
			nb -= 64;
			acc = nb ? bits >> (k - nb) : 0;
		}
		last_ff = b == 0xFF;
	}
	store64(out + o, acc | (~0ull << nb));
	return o + 8;
}

/* ---- MEL: forward, MSB first, 7 bits after 0xFF, ones past the end ---- */

static const uint8_t mel_exp[13] = { 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5 };

struct mel_r {
	const uint8_t *p, *end;
	unsigned byte;
	int bits;       /* unread bits left in byte */
	int last_ff;
	int k;
	unsigned run;
	int one;
};

static inline unsigned
mel_bit(struct mel_r *m)
{
	if (m->bits == 0) {
		unsigned b = m->p < m->end ? *m->p++ : 0xFF;
		m->bits = m->last_ff ? 7 : 8;
		m->byte = b;
		m->last_ff = b == 0xFF;
	}
	m->bits--;
	return (m->byte >> m->bits) & 1;
}

/* A new MEL symbol: a run of 2^e zeros (bit 1), or a shorter run ended by a one. */
static void
mel_next(struct mel_r *m)
{
	int e = mel_exp[m->k];
	if (mel_bit(m)) {
		m->run = 1u << e;
		if (m->k < 12)
			m->k++;
	} else {
		unsigned r = 0;
		while (e-- > 0)
			r = (r << 1) | mel_bit(m);
		m->run = r;
		m->one = 1;
		if (m->k > 0)
			m->k--;
	}
}

static inline unsigned
mel_get(struct mel_r *m)
{
	if (m->run == 0 && !m->one)
		mel_next(m);
	if (m->run > 0) {
		m->run--;
		return 0;
	}
	m->one = 0;
	return 1;
}

/* ---- VLC: backward from the end, LSB first, unstuffing after bytes above 0x8F ---- */

struct vlc_r {
	const uint8_t *p, *start;  /* next byte to read is p[-1]; stop at start */
	uint64_t acc;
	unsigned n;
	unsigned prev;
};

/* Leaves at least 57 bits in acc (zeros past the start of the VLC segment). */
static void
vlc_fill(struct vlc_r *v)
{
	while (v->n <= 56) {
		/* Four bytes none of which has 0x7F in its low bits: no stuffing whatever
		 * came before them. */
		if (v->n <= 32 && v->p - v->start >= 4) {
			uint32_t w = rp__load_le32(v->p - 4), nx = ~(w | 0x80808080u);
			if (((nx - 0x01010101u) & ~nx & 0x80808080u) == 0) {
				v->acc |= (uint64_t)__builtin_bswap32(w) << v->n;
				v->n += 32;
				v->p -= 4;
				v->prev = w & 0xFF;
				continue;
			}
		}
		unsigned b = v->p > v->start ? *--v->p : 0;
		if (v->prev > 0x8F && (b & 0x7F) == 0x7F) {
			v->acc |= (uint64_t)(b & 0x7F) << v->n;
			v->n += 7;
		} else {
			v->acc |= (uint64_t)b << v->n;
			v->n += 8;
		}
		v->prev = b;
	}
}

/* Callers have made sure that len bits are in acc. */
static inline unsigned
vlc_take(struct vlc_r *v, unsigned len)
{
	unsigned r = (unsigned)(v->acc & ((1u << len) - 1));
	v->acc >>= len;
	v->n -= len;
	return r;
}

/* U-VLC prefix from 3 bits: (length | class base << 2); base 1, 2, 3 (one suffix bit) or
 * 5 (five suffix bits). */
static const uint8_t uvlc_pfx[8] = {
	3 | 5 << 2, 1 | 1 << 2, 2 | 2 << 2, 1 | 1 << 2,
	3 | 3 << 2, 1 | 1 << 2, 2 | 2 << 2, 1 | 1 << 2,
};
static const uint8_t uvlc_sfx_len[6] = { 0, 0, 0, 1, 0, 5 };

static inline unsigned
uvlc_prefix(struct vlc_r *v)
{
	unsigned e = uvlc_pfx[v->acc & 7];
	vlc_take(v, e & 3);
	return e >> 2;
}

/* Suffix and, for u >= 33, the 4-bit extension: u = 33 + (suffix - 28) + 4 ext. */
static inline unsigned
uvlc_suffix(struct vlc_r *v, unsigned base)
{
	return base + vlc_take(v, uvlc_sfx_len[base]);
}

static inline unsigned
uvlc_ext(struct vlc_r *v, unsigned u)
{
	if (RP__LIKELY(u < 33))
		return u;
	return u + 4 * vlc_take(v, 4);
}

/* Phase 1 for one line pair: the table word of every quad (0 when insignificant) into
 * qt[0, qw) and its u_q into qu; qt[qw] is left 0.  qa: the table words of the line pair
 * above, with qa[-1] = qa[qw] = 0 (unused on the first line pair). */
static inline void
vlc_row(struct vlc_r *v, struct mel_r *mel, const uint16_t *tbl, int first, const uint16_t *qa,
	unsigned qw, uint16_t *qt, uint8_t *qu)
{
	unsigned prev_rho = 0;
	for (unsigned q = 0; q < qw; q += 2) {
		const uint16_t *a = qa + q;     /* a[-1] is the slot before the row */
		unsigned t0 = 0, t1 = 0, c, u0 = 0, u1 = 0;
		if (v->n < 38)
			vlc_fill(v);
		/* Quad q. */
		if (first)
			c = (prev_rho >> 1) | (prev_rho & 1);
		else
			c = (((a[-1] >> 7) | (a[0] >> 5)) & 1) |
			    (((prev_rho >> 2) | (prev_rho >> 3)) & 1) << 1 |
			    (((a[0] >> 7) | (a[1] >> 5)) & 1) << 2;
		if (c || mel_get(mel)) {
			t0 = tbl[(c << 7) | (unsigned)(v->acc & 127)];
			vlc_take(v, t0 & 7);
		}
		prev_rho = (t0 >> 4) & 15;
		/* Quad q + 1, when there is one. */
		if (q + 1 < qw) {
			if (first)
				c = (prev_rho >> 1) | (prev_rho & 1);
			else
				c = (((a[0] >> 7) | (a[1] >> 5)) & 1) |
				    (((prev_rho >> 2) | (prev_rho >> 3)) & 1) << 1 |
				    (((a[1] >> 7) | (a[2] >> 5)) & 1) << 2;
			if (c || mel_get(mel)) {
				t1 = tbl[(c << 7) | (unsigned)(v->acc & 127)];
				vlc_take(v, t1 & 7);
			}
			prev_rho = (t1 >> 4) & 15;
		}
		/* Their u_q, in the standard's order: both prefixes, both suffixes, both
		 * extensions. */
		unsigned uo0 = (t0 >> 3) & 1, uo1 = (t1 >> 3) & 1;
		if (uo0 | uo1) {
			if (first && uo0 && uo1) {
				if (mel_get(mel)) {
					unsigned b0 = uvlc_prefix(v), b1 = uvlc_prefix(v);
					u0 = uvlc_suffix(v, b0);
					u1 = uvlc_suffix(v, b1);
					u0 = uvlc_ext(v, u0) + 2;
					u1 = uvlc_ext(v, u1) + 2;
				} else {
					unsigned b0 = uvlc_prefix(v);
					if (b0 > 2) {
						u1 = vlc_take(v, 1) + 1;
						u0 = uvlc_ext(v, uvlc_suffix(v, b0));
					} else {
						unsigned b1 = uvlc_prefix(v);
						u0 = b0;
						u1 = uvlc_ext(v, uvlc_suffix(v, b1));
					}
				}
			} else {
				unsigned b0 = uo0 ? uvlc_prefix(v) : 0;
				unsigned b1 = uo1 ? uvlc_prefix(v) : 0;
				u0 = uvlc_suffix(v, b0);
				u1 = uvlc_suffix(v, b1);
				u0 = uvlc_ext(v, u0);
				u1 = uvlc_ext(v, u1);
			}
		}
		qt[q] = (uint16_t)t0;
		qt[q + 1] = (uint16_t)t1;
		qu[q] = (uint8_t)u0;
		qu[q + 1] = (uint8_t)u1;
	}
}

/* ---- Phase 2: MagSgn of one line pair ---- */

/* One sample: m = U - e_k bits at *pos, the e_1 bit above them; 0 when not significant
 * (then m = 0 and e_1 = 0: the table rows have e_1 within e_k within rho). */
static inline int32_t
ms_sample(const uint8_t *ms, size_t *pos, unsigned sig, unsigned U, unsigned ek, unsigned e1,
	  unsigned *e_out)
{
	unsigned m = (U - ek) & (0u - sig);
	uint64_t win = load64(ms + (*pos >> 3)) >> (*pos & 7);
	uint32_t v = (uint32_t)(win & ((1ull << m) - 1)) | (e1 << m);
	*pos += m;
	uint32_t s = v & 1, mu = (v >> 1) + 1;
	*e_out = (32u - (unsigned)__builtin_clz(v | 1)) & (0u - sig);
	return (int32_t)(((mu ^ (0u - s)) + s) & (0u - sig));
}

static inline void
store_pair(int32_t *p, int32_t a, int32_t b)
{
	int32_t t[2] = { a, b };
	memcpy(p, t, 8);
}

/* Decodes the MagSgn samples of the qw quads of one line pair into row0 (and row1 when
 * not NULL), w columns; e_above / e_cur: exponents of the bottom row of the line pair
 * above / of this one, column c at index c + 1.  RP_E_CORRUPT when a quad's exponent
 * bound exceeds max_u. */
static inline int
ms_row_scalar(const uint8_t *ms, size_t *pos_io, const uint16_t *qt, const uint8_t *qu,
	      int first, const uint8_t *e_above, uint8_t *e_cur, unsigned qw, unsigned w,
	      int32_t *row0, int32_t *row1, unsigned max_u)
{
	size_t pos = *pos_io;
	for (unsigned q = 0; q < qw; q++) {
		unsigned t = qt[q], x = 2 * q;
		int32_t v0 = 0, v1 = 0, v2 = 0, v3 = 0;
		unsigned e1o = 0, e3o = 0;
		if (t) {
			unsigned rho = (t >> 4) & 15, ek = t >> 12, e1 = (t >> 8) & 15;
			unsigned kap = 1;
			if (!first && (rho & (rho - 1))) {
				unsigned me = e_above[x];
				me = e_above[x + 1] > me ? e_above[x + 1] : me;
				me = e_above[x + 2] > me ? e_above[x + 2] : me;
				me = e_above[x + 3] > me ? e_above[x + 3] : me;
				kap = me > 2 ? me - 1 : 1;
			}
			unsigned U = qu[q] + kap, dummy;
			if (RP__UNLIKELY(rho && U > max_u))
				return RP_E_CORRUPT;
			v0 = ms_sample(ms, &pos, rho & 1, U, ek & 1, e1 & 1, &dummy);
			v1 = ms_sample(ms, &pos, (rho >> 1) & 1, U, (ek >> 1) & 1, (e1 >> 1) & 1,
				       &e1o);
			v2 = ms_sample(ms, &pos, (rho >> 2) & 1, U, (ek >> 2) & 1, (e1 >> 2) & 1,
				       &dummy);
			v3 = ms_sample(ms, &pos, (rho >> 3) & 1, U, (ek >> 3) & 1, (e1 >> 3) & 1,
				       &e3o);
		}
		e_cur[x + 1] = (uint8_t)e1o;
		e_cur[x + 2] = (uint8_t)e3o;
		if (x + 1 < w) {
			store_pair(row0 + x, v0, v2);
			if (row1)
				store_pair(row1 + x, v1, v3);
		} else {
			row0[x] = v0;
			if (row1)
				row1[x] = v1;
		}
	}
	*pos_io = pos;
	return RP_OK;
}

#ifndef RP__HTDEC_MS_ROW
#define RP__HTDEC_MS_ROW ms_row_scalar
#endif

int
RP__HTDEC_NAME(const uint8_t *seg, size_t len, unsigned w, unsigned h, int32_t *coef,
	       size_t stride, unsigned max_bits)
{
	const struct rp__ht_tables *tabs = rp__ht_tables_get();
	_Alignas(64) uint8_t ms[MS_BUF_BYTES];
	/* Table words of two line pairs, one slot of zeros on either side. */
	uint16_t qt_buf[2][32 + 4];
	uint8_t qu[32 + 2];
	uint8_t e_buf[2][64 + 8];

	if (w == 0 || h == 0 || w > 64 || h > 64 || (size_t)w * h > RP__HT_MAX_CB_SAMPLES ||
	    max_bits > 30)
		return RP_E_UNSUPPORTED;
	if (len < 2)
		return RP_E_CORRUPT;
	size_t scup = ((size_t)seg[len - 1] << 4) | (seg[len - 2] & 0xF);
	if (scup < 2 || scup > len || scup > 4079)
		return RP_E_CORRUPT;
	size_t ms_len = len - scup;

	size_t ms_avail = ms_unstuff(seg, ms_len, ms), pos = 0;
	struct mel_r mel = { .p = seg + ms_len, .end = seg + len };
	struct vlc_r vlc = { .p = seg + len - 2, .start = seg + ms_len };
	{
		/* The byte before last: its low nibble is Scup's; the encoder saw 0xF there
		 * (and a 0xFF byte after it), which decides the stuffing of its high bits. */
		unsigned b = seg[len - 2] | 0x0F;
		if ((b & 0x7F) == 0x7F) {
			vlc.acc = (b >> 4) & 7;
			vlc.n = 3;
		} else {
			vlc.acc = b >> 4;
			vlc.n = 4;
		}
		vlc.prev = b;
	}

	memset(qt_buf, 0, sizeof(qt_buf));
	memset(e_buf, 0, sizeof(e_buf));
	uint16_t *qa = qt_buf[0] + 1, *qc = qt_buf[1] + 1;
	uint8_t *e_above = e_buf[0], *e_cur = e_buf[1];
	unsigned qw = (w + 1) / 2;
	unsigned max_u = max_bits + 1;  /* exponents above Mb + 1 cannot be lossless data */

	for (unsigned y = 0; y < h; y += 2) {
		int first = y == 0;
		if (first)
			vlc_row(&vlc, &mel, tabs->dec[0], 1, qa, qw, qc, qu);
		else
			vlc_row(&vlc, &mel, tabs->dec[1], 0, qa, qw, qc, qu);
		/* Ones past the segment, as far as this line pair can read (a quad reads at
		 * most 4 x 31 bits). */
		size_t need = (pos >> 3) + 16u * qw + 16u;
		if (RP__UNLIKELY(need > ms_avail)) {
			memset(ms + ms_avail, 0xFF, need - ms_avail);
			ms_avail = need;
		}
		int32_t *row0 = coef + (size_t)y * stride;
		int32_t *row1 = y + 1 < h ? row0 + stride : NULL;
		int rc = RP__HTDEC_MS_ROW(ms, &pos, qc, qu, first, e_above, e_cur, qw, w, row0,
					  row1, max_u);
		if (rc != RP_OK)
			return rc;
		uint16_t *tq = qa;
		qa = qc;
		qc = tq;
		uint8_t *te = e_above;
		e_above = e_cur;
		e_cur = te;
	}
	return RP_OK;
}
