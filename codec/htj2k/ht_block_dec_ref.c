/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_ref.c - the straightforward HT cleanup pass decoder (ISO/IEC
 * 15444-15 clause 7), one quad and one sample at a time: the reference that the fast
 * decoder in ht_block_dec.c must match coefficient for coefficient and status for status
 * (tests/test_htj2k_block_dec.c).  It was the codec's decoder until the two-phase one
 * replaced it; it is kept unchanged so that the comparison has a fixed point.  The
 * segment comes from an untrusted codestream: every reader stays inside it (past its end
 * they see the padding the standard implies: ones for MagSgn and MEL, zeros for VLC), and
 * magnitudes that could not come from a valid stream are refused. */
#include "codec/htj2k/ht_block_dec.h"

/* ---- MagSgn: forward, LSB first, 7 bits after 0xFF, ones past the end ---- */

struct ms_r {
	const uint8_t *p, *end;
	uint64_t acc;
	int n;
	int last_ff;
};

static inline void
ms_fill(struct ms_r *r)
{
	while (r->n <= 56) {
		/* Fast path: four bytes inside the segment, no 0xFF among them or before. */
		if (r->n <= 32 && !r->last_ff && r->end - r->p >= 4) {
			uint32_t w = rp__load_le32(r->p), v = ~w;
			if (((v - 0x01010101u) & ~v & 0x80808080u) == 0) {
				r->acc |= (uint64_t)w << r->n;
				r->n += 32;
				r->p += 4;
				continue;
			}
		}
		unsigned b = r->p < r->end ? *r->p++ : 0xFF;
		if (r->last_ff) {
			r->acc |= (uint64_t)(b & 0x7F) << r->n;
			r->n += 7;
		} else {
			r->acc |= (uint64_t)b << r->n;
			r->n += 8;
		}
		r->last_ff = b == 0xFF;
	}
}

static inline uint32_t
ms_get(struct ms_r *r, unsigned len)
{
	if (r->n < (int)len)
		ms_fill(r);
	uint32_t v = (uint32_t)(r->acc & ((1ull << len) - 1));
	r->acc >>= len;
	r->n -= (int)len;
	return v;
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

static inline unsigned
mel_get(struct mel_r *m)
{
	if (m->run == 0 && !m->one) {
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
	int n;
	unsigned prev;
};

static inline void
vlc_fill(struct vlc_r *v)
{
	while (v->n <= 56) {
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

static inline unsigned
vlc_peek(struct vlc_r *v, unsigned len)
{
	if (v->n < (int)len)
		vlc_fill(v);
	return (unsigned)(v->acc & ((1u << len) - 1));
}

static inline void
vlc_skip(struct vlc_r *v, unsigned len)
{
	v->acc >>= len;
	v->n -= (int)len;
}

static inline unsigned
vlc_get(struct vlc_r *v, unsigned len)
{
	unsigned r = vlc_peek(v, len);
	vlc_skip(v, len);
	return r;
}

/* U-VLC prefix: 1 -> 1, 01 -> 2, 001 -> 3..4, 000 -> 5..; returns the class base. */
static inline unsigned
uvlc_prefix(struct vlc_r *v)
{
	unsigned b = vlc_peek(v, 3);
	if (b & 1) {
		vlc_skip(v, 1);
		return 1;
	}
	if (b & 2) {
		vlc_skip(v, 2);
		return 2;
	}
	vlc_skip(v, 3);
	return (b & 4) ? 3 : 5;
}

static inline unsigned
uvlc_suffix(struct vlc_r *v, unsigned base)
{
	if (base < 3)
		return base;
	if (base == 3)
		return 3 + vlc_get(v, 1);
	return 5 + vlc_get(v, 5);
}

static inline unsigned
uvlc_ext(struct vlc_r *v, unsigned u)
{
	if (u < 33)
		return u;
	/* Suffixes 28..31 carry a 4-bit extension: u = 33 + (suffix - 28) + 4 ext. */
	return u + 4 * vlc_get(v, 4);
}

int
rp__ht_decode_block_ref(const uint8_t *seg, size_t len, unsigned w, unsigned h, int32_t *coef,
			size_t stride, unsigned max_bits)
{
	const struct rp__ht_tables *tabs = rp__ht_tables_get();
	uint8_t e_line[2][64 + 8], s_line[2][64 + 8];

	if (w == 0 || h == 0 || w > 64 || h > 64 || (size_t)w * h > RP__HT_MAX_CB_SAMPLES ||
	    max_bits > 30)
		return RP_E_UNSUPPORTED;
	if (len < 2)
		return RP_E_CORRUPT;
	size_t scup = ((size_t)seg[len - 1] << 4) | (seg[len - 2] & 0xF);
	if (scup < 2 || scup > len || scup > 4079)
		return RP_E_CORRUPT;
	size_t ms_len = len - scup;

	struct ms_r ms = { .p = seg, .end = seg + ms_len };
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

	uint8_t *e_prev = e_line[0], *s_prev = s_line[0], *e_cur = e_line[1], *s_cur = s_line[1];
	memset(e_line, 0, sizeof(e_line));
	memset(s_line, 0, sizeof(s_line));
	unsigned qw = (w + 1) / 2;
	unsigned max_u = max_bits + 1;  /* exponents above Mb + 1 cannot be lossless data */

	for (unsigned y = 0; y < h; y += 2) {
		int first = y == 0;
		const uint16_t *tbl = tabs->dec[first ? 0 : 1];
		unsigned prev_rho = 0;
		for (unsigned qx = 0; qx < qw; qx += 2) {
			unsigned t[2] = { 0, 0 }, u[2] = { 0, 0 }, kap[2] = { 1, 1 };
			int pair = qx + 1 < qw;
			for (int i = 0; i < 1 + pair; i++) {
				unsigned x = 2 * (qx + i), c_q;
				if (first)
					c_q = (prev_rho >> 1) | (prev_rho & 1);
				else
					c_q = (s_prev[x] | s_prev[x + 1]) |
					      (((prev_rho >> 2) | (prev_rho >> 3)) & 1) << 1 |
					      (s_prev[x + 2] | s_prev[x + 3]) << 2;
				unsigned sig = 1;
				if (c_q == 0)
					sig = mel_get(&mel);
				if (sig) {
					unsigned e = tbl[(c_q << 7) | vlc_peek(&vlc, 7)];
					vlc_skip(&vlc, e & 7);
					t[i] = e;
				}
				unsigned rho = (t[i] >> 4) & 15;
				if (!first && (rho & (rho - 1))) {
					unsigned me = e_prev[x];
					if (e_prev[x + 1] > me)
						me = e_prev[x + 1];
					if (e_prev[x + 2] > me)
						me = e_prev[x + 2];
					if (e_prev[x + 3] > me)
						me = e_prev[x + 3];
					kap[i] = me > 2 ? me - 1 : 1;
				}
				prev_rho = rho;
			}
			unsigned uo0 = (t[0] >> 3) & 1, uo1 = (t[1] >> 3) & 1;
			if (first && uo0 && uo1) {
				if (mel_get(&mel)) {
					unsigned b0 = uvlc_prefix(&vlc), b1 = uvlc_prefix(&vlc);
					u[0] = uvlc_suffix(&vlc, b0);
					u[1] = uvlc_suffix(&vlc, b1);
					u[0] = uvlc_ext(&vlc, u[0]) + 2;
					u[1] = uvlc_ext(&vlc, u[1]) + 2;
				} else {
					unsigned b0 = uvlc_prefix(&vlc);
					if (b0 > 2) {
						u[1] = vlc_get(&vlc, 1) + 1;
						u[0] = uvlc_ext(&vlc, uvlc_suffix(&vlc, b0));
					} else {
						unsigned b1 = uvlc_prefix(&vlc);
						u[0] = b0;
						u[1] = uvlc_ext(&vlc, uvlc_suffix(&vlc, b1));
					}
				}
			} else {
				unsigned b0 = uo0 ? uvlc_prefix(&vlc) : 0;
				unsigned b1 = uo1 ? uvlc_prefix(&vlc) : 0;
				u[0] = uo0 ? uvlc_suffix(&vlc, b0) : 0;
				u[1] = uo1 ? uvlc_suffix(&vlc, b1) : 0;
				u[0] = uvlc_ext(&vlc, u[0]);
				u[1] = uvlc_ext(&vlc, u[1]);
			}
			/* MagSgn of both quads. */
			for (int i = 0; i < 1 + pair; i++) {
				unsigned x = 2 * (qx + i);
				unsigned rho = (t[i] >> 4) & 15, ek = t[i] >> 12, e1 = (t[i] >> 8) & 15;
				unsigned U = u[i] + kap[i];
				unsigned e[4] = { 0, 0, 0, 0 };
				int32_t val[4] = { 0, 0, 0, 0 };
				if (rho && U > max_u)
					return RP_E_CORRUPT;
				for (int n = 0; n < 4; n++) {
					if (!(rho >> n & 1))
						continue;
					unsigned m = U - ((ek >> n) & 1);
					uint32_t v = m ? ms_get(&ms, m) : 0;
					v |= ((e1 >> n) & 1u) << m;
					uint32_t mu = (v >> 1) + 1;
					val[n] = (v & 1) ? -(int32_t)mu : (int32_t)mu;
					e[n] = 32u - (unsigned)__builtin_clz(v | 1);
				}
				int32_t *p = coef + (size_t)y * stride + x;
				p[0] = val[0];
				if (y + 1 < h)
					p[stride] = val[1];
				if (x + 1 < w) {
					p[1] = val[2];
					if (y + 1 < h)
						p[stride + 1] = val[3];
				}
				e_cur[x + 1] = (uint8_t)e[1];
				s_cur[x + 1] = (rho >> 1) & 1;
				e_cur[x + 2] = (uint8_t)e[3];
				s_cur[x + 2] = (rho >> 3) & 1;
			}
		}
		uint8_t *tp;
		tp = e_prev, e_prev = e_cur, e_cur = tp;
		tp = s_prev, s_prev = s_cur, s_cur = tp;
		memset(e_cur, 0, sizeof(e_line[0]));
		memset(s_cur, 0, sizeof(s_line[0]));
	}
	return RP_OK;
}
