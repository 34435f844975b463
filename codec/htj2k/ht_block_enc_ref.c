/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_enc_ref.c - the reference HT cleanup pass encoder (ISO/IEC
 * 15444-15 clause 7), plain and sample by sample: the fast encoder (ht_block_enc.c) must
 * produce exactly its bytes, and tests/test_htj2k_block_enc.c checks that.  One pass
 * codes every magnitude bit of a lossless code-block, as three byte streams: MagSgn (raw
 * magnitude and sign bits, forward), MEL (adaptive run-length code of quad significance,
 * forward) and VLC (context-coded quad patterns and exponent offsets, backward from the
 * end), joined into one codeword segment with the Scup suffix.
 *
 * Quads are 2 x 2 samples, scanned in line pairs; inside a quad the samples go
 * top-left, bottom-left, top-right, bottom-right (n = 0..3, the bits of rho). */
#include "codec/htj2k/ht_internal.h"

/* ---- MEL: run lengths of "quad insignificant" events, 13-state exponent ladder ---- */

static const uint8_t mel_exp[13] = { 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5 };

struct mel_w {
	uint8_t *buf;
	size_t pos, cap;
	unsigned tmp;
	int rem;        /* free bits in tmp: 8, or 7 after a 0xFF byte (bit stuffing) */
	int run, k;
	int overflow;
};

static inline void
mel_bit(struct mel_w *m, unsigned v)
{
	m->tmp = (m->tmp << 1) | v;
	if (--m->rem == 0) {
		if (m->pos < m->cap)
			m->buf[m->pos++] = (uint8_t)m->tmp;
		else
			m->overflow = 1;
		m->rem = m->tmp == 0xFF ? 7 : 8;
		m->tmp = 0;
	}
}

static inline void
mel_encode(struct mel_w *m, int significant)
{
	if (!significant) {
		if (++m->run >= (1 << mel_exp[m->k])) {
			mel_bit(m, 1);
			m->run = 0;
			if (m->k < 12)
				m->k++;
		}
	} else {
		int t = mel_exp[m->k];
		mel_bit(m, 0);
		while (t > 0)
			mel_bit(m, (unsigned)(m->run >> --t) & 1);
		m->run = 0;
		if (m->k > 0)
			m->k--;
	}
}

/* ---- VLC: written backward, least significant bit first; after a byte above 0x8F the
 * next byte's top bit is a stuffed 0 when its seven low bits are all ones ---- */

struct vlc_w {
	uint8_t *buf;   /* bytes in emission order; reversed when the segment is assembled */
	size_t pos, cap;
	uint64_t acc;   /* pending bits, least significant first */
	int nacc;
	int gt8f;       /* the last byte written is above 0x8F */
	int overflow;
};

/* Writes every complete byte: 8 data bits, or 7 ones and a stuffed 0 after a byte above
 * 0x8F. */
static inline void
vlc_drain(struct vlc_w *v)
{
	for (;;) {
		unsigned b;
		if (v->gt8f && v->nacc >= 7 && (v->acc & 0x7F) == 0x7F) {
			b = 0x7F;
			v->acc >>= 7;
			v->nacc -= 7;
		} else if (v->nacc >= 8) {
			b = (unsigned)(v->acc & 0xFF);
			v->acc >>= 8;
			v->nacc -= 8;
		} else {
			break;
		}
		if (v->pos < v->cap)
			v->buf[v->pos++] = (uint8_t)b;
		else
			v->overflow = 1;
		v->gt8f = b > 0x8F;
	}
}

static inline void
vlc_put(struct vlc_w *v, uint32_t cwd, int len)
{
	/* cwd has no bits above len (<= 16); nacc < 32 before. */
	v->acc |= (uint64_t)cwd << v->nacc;
	v->nacc += len;
	if (v->nacc >= 32)
		vlc_drain(v);
}

/* ---- MagSgn: forward, least significant bit first, 7 bits after a 0xFF byte ---- */

struct ms_w {
	uint8_t *buf;
	size_t pos, cap;
	uint64_t acc;   /* pending bits, least significant first */
	int nacc;
	int max_bits;   /* width of the byte being filled: 8, or 7 after 0xFF */
	int overflow;
};

static inline void
ms_flush_bytes(struct ms_w *s)
{
	while (s->nacc >= s->max_bits) {
		unsigned b = (unsigned)(s->acc & ((1u << s->max_bits) - 1));
		s->acc >>= s->max_bits;
		s->nacc -= s->max_bits;
		if (s->pos < s->cap)
			s->buf[s->pos++] = (uint8_t)b;
		else
			s->overflow = 1;
		s->max_bits = b == 0xFF ? 7 : 8;
	}
}

/* Whether any byte of w is 0xFF (then the stuffing rule applies inside w). */
static inline int
has_ff_byte(uint32_t w)
{
	uint32_t v = ~w;
	return ((v - 0x01010101u) & ~v & 0x80808080u) != 0;
}

static inline void
ms_put(struct ms_w *s, uint32_t bits, int len)
{
	/* len <= 32 and nacc < 32 before, so the accumulator never overflows. */
	s->acc |= (uint64_t)bits << s->nacc;
	s->nacc += len;
	if (s->nacc >= 32) {
		uint32_t w = (uint32_t)s->acc;
		/* Fast path: four whole bytes with no 0xFF among them and none before. */
		if (s->max_bits == 8 && !has_ff_byte(w) && s->pos + 4 <= s->cap) {
			rp__store_le32(s->buf + s->pos, w);
			s->pos += 4;
			s->acc >>= 32;
			s->nacc -= 32;
		} else {
			ms_flush_bytes(s);
		}
	}
}

static void
ms_terminate(struct ms_w *s)
{
	ms_flush_bytes(s);
	if (s->nacc > 0) {
		/* Pad with ones: a decoder reads ones past the end, so a final 0xFF is
		 * implied and is not stored. */
		unsigned b = (unsigned)s->acc | ((0xFFu << s->nacc) & ((1u << s->max_bits) - 1));
		if (b != 0xFF) {
			if (s->pos < s->cap)
				s->buf[s->pos++] = (uint8_t)b;
			else
				s->overflow = 1;
		}
		s->nacc = 0;
		s->acc = 0;
	} else if (s->max_bits == 7) {
		s->pos--;       /* the last byte is 0xFF: implied by the same rule */
	}
}

/* ---- U-VLC: exponent offsets u_q (15444-15 Table 3 prefix/suffix/extension) ---- */

struct uvlc_code {
	uint8_t pre, pre_len, suf, suf_len, ext, ext_len;
};

static inline struct uvlc_code
uvlc_code(unsigned u)
{
	struct uvlc_code c = { 0, 0, 0, 0, 0, 0 };
	if (u == 0)
		return c;
	if (u == 1) {
		c.pre = 1;
		c.pre_len = 1;
	} else if (u == 2) {
		c.pre = 2;
		c.pre_len = 2;
	} else if (u <= 4) {
		c.pre = 4;
		c.pre_len = 3;
		c.suf = (uint8_t)(u - 3);
		c.suf_len = 1;
	} else if (u <= 32) {
		c.pre_len = 3;
		c.suf = (uint8_t)(u - 5);
		c.suf_len = 5;
	} else {
		c.pre_len = 3;
		c.suf = (uint8_t)(28 + (u - 33) % 4);
		c.suf_len = 5;
		c.ext = (uint8_t)((u - 33) / 4);
		c.ext_len = 4;
	}
	return c;
}

/* ---- the cleanup pass ---- */

struct quad {
	unsigned rho;           /* significance of samples 0..3 */
	unsigned e[4];          /* exponents: bit length of 2 mu - 1, 0 when insignificant */
	uint32_t v[4];          /* 2 (mu - 1) + sign */
	unsigned emax;
};

static inline void
load_sample(struct quad *q, int n, int32_t c)
{
	uint32_t mu = c < 0 ? (uint32_t)0 - (uint32_t)c : (uint32_t)c;
	if (mu == 0) {
		q->e[n] = 0;
		q->v[n] = 0;
		return;
	}
	q->rho |= 1u << n;
	q->e[n] = 32u - (unsigned)__builtin_clz(2 * mu - 1);
	q->v[n] = 2 * (mu - 1) + (c < 0);
	if (q->e[n] > q->emax)
		q->emax = q->e[n];
}

static inline void
load_quad(struct quad *q, const int32_t *coef, size_t stride, unsigned x, unsigned y,
	  unsigned w, unsigned h)
{
	const int32_t *p = coef + (size_t)y * stride + x;
	int two_rows = y + 1 < h, two_cols = x + 1 < w;
	q->rho = 0;
	q->emax = 0;
	load_sample(q, 0, p[0]);
	load_sample(q, 1, two_rows ? p[stride] : 0);
	load_sample(q, 2, two_cols ? p[1] : 0);
	load_sample(q, 3, two_rows && two_cols ? p[stride + 1] : 0);
}

/* Codes the quad's VLC word and MagSgn bits; returns u_q (0 when rho = 0). */
static inline unsigned
code_quad(const struct quad *q, unsigned c_q, unsigned kappa, const uint16_t *tbl,
	  struct vlc_w *vlc, struct mel_w *mel, struct ms_w *ms)
{
	unsigned U = q->emax > kappa ? q->emax : kappa;
	unsigned u = q->rho ? U - kappa : 0;
	unsigned emb = 0;
	if (u > 0)
		emb = (q->e[0] == q->emax) | (q->e[1] == q->emax) << 1 |
		      (q->e[2] == q->emax) << 2 | (q->e[3] == q->emax) << 3;
	if (c_q == 0)
		mel_encode(mel, q->rho != 0);
	if (q->rho == 0 && c_q == 0)
		return 0;
	uint16_t t = tbl[(c_q << 8) | (q->rho << 4) | emb];
	vlc_put(vlc, t >> 8, (t >> 4) & 7);
	for (int n = 0; n < 4; n++) {
		if (!(q->rho >> n & 1))
			continue;
		unsigned m = U - ((t >> n) & 1);
		ms_put(ms, q->v[n] & (uint32_t)((1ull << m) - 1), (int)m);
	}
	return u;
}

static inline void
uvlc_put(struct vlc_w *vlc, unsigned u0, unsigned u1)
{
	struct uvlc_code a = uvlc_code(u0), b = uvlc_code(u1);
	vlc_put(vlc, a.pre, a.pre_len);
	vlc_put(vlc, b.pre, b.pre_len);
	vlc_put(vlc, a.suf, a.suf_len);
	vlc_put(vlc, b.suf, b.suf_len);
	vlc_put(vlc, a.ext, a.ext_len);
	vlc_put(vlc, b.ext, b.ext_len);
}

int
rp__ht_encode_block_ref(const int32_t *coef, size_t stride, unsigned w, unsigned h,
		    struct rp__ht_enc_scratch *sc, uint8_t *out, size_t out_capacity,
		    size_t *out_size)
{
	const struct rp__ht_tables *tabs = rp__ht_tables_get();
	struct mel_w mel = { .buf = sc->mel, .cap = RP__HT_ENC_MEL_CAP, .rem = 8 };
	struct vlc_w vlc = { .buf = sc->vlc, .cap = RP__HT_ENC_VLC_CAP };
	struct ms_w ms = { .buf = sc->ms, .cap = RP__HT_ENC_MS_CAP, .max_bits = 8 };
	unsigned any = 0;

	*out_size = 0;
	if (w == 0 || h == 0 || w > 64 || h > 64 || (size_t)w * h > RP__HT_MAX_CB_SAMPLES)
		return RP_E_INVALID_ARG;
	for (unsigned y = 0; y < h && !any; y++)
		for (unsigned x = 0; x < w; x++)
			any |= (uint32_t)coef[(size_t)y * stride + x];
	if (!any)
		return RP_OK;

	/* The VLC stream starts with a 0xFF byte and four 1 bits: the places the Scup
	 * length overwrites at the very end of the segment. */
	vlc.buf[vlc.pos++] = 0xFF;
	vlc.acc = 0xF;
	vlc.nacc = 4;
	vlc.gt8f = 1;

	/* Per-column state of the last row of the previous line pair, with one column of
	 * zero padding on each side: index x + 1 is column x. */
	uint8_t *e_prev = sc->e_line[0], *s_prev = sc->s_line[0];
	uint8_t *e_cur = sc->e_line[1], *s_cur = sc->s_line[1];
	memset(sc->e_line, 0, sizeof(sc->e_line));
	memset(sc->s_line, 0, sizeof(sc->s_line));

	unsigned qw = (w + 1) / 2;
	for (unsigned y = 0; y < h; y += 2) {
		int first = y == 0;
		const uint16_t *tbl = tabs->enc[first ? 0 : 1];
		unsigned prev_rho = 0;          /* rho of the quad to the left */
		for (unsigned qx = 0; qx < qw; qx += 2) {
			struct quad q[2];
			unsigned u[2] = { 0, 0 };
			int pair = qx + 1 < qw;
			for (int i = 0; i < 1 + pair; i++) {
				unsigned x = 2 * (qx + i);
				unsigned c_q, kappa = 1;
				load_quad(&q[i], coef, stride, x, y, w, h);
				if (first) {
					c_q = (prev_rho >> 1) | (prev_rho & 1);
				} else {
					/* NW|N, W|SW, NE|NF: columns x-1 .. x+2 of the row above,
					 * and the left quad's right column. */
					c_q = (s_prev[x] | s_prev[x + 1]) |
					      (((prev_rho >> 2) | (prev_rho >> 3)) & 1) << 1 |
					      (s_prev[x + 2] | s_prev[x + 3]) << 2;
					if (q[i].rho & (q[i].rho - 1)) {
						unsigned me = e_prev[x];
						if (e_prev[x + 1] > me)
							me = e_prev[x + 1];
						if (e_prev[x + 2] > me)
							me = e_prev[x + 2];
						if (e_prev[x + 3] > me)
							me = e_prev[x + 3];
						kappa = me > 2 ? me - 1 : 1;
					}
				}
				u[i] = code_quad(&q[i], c_q, kappa, tbl, &vlc, &mel, &ms);
				/* Remember this quad's bottom row for the next line pair. */
				e_cur[x + 1] = (uint8_t)q[i].e[1];
				s_cur[x + 1] = (q[i].rho >> 1) & 1;
				e_cur[x + 2] = (uint8_t)q[i].e[3];
				s_cur[x + 2] = (q[i].rho >> 3) & 1;
				prev_rho = q[i].rho;
			}
			if (first) {
				/* First line pair: a MEL bit says whether both offsets exceed 2,
				 * and then both are sent less 2; otherwise an offset above 2 in the
				 * first quad leaves only 1 or 2 for the second (one bit). */
				if (u[0] > 0 && u[1] > 0)
					mel_encode(&mel, (u[0] < u[1] ? u[0] : u[1]) > 2);
				if (u[0] > 2 && u[1] > 2) {
					uvlc_put(&vlc, u[0] - 2, u[1] - 2);
				} else if (u[0] > 2 && u[1] > 0) {
					struct uvlc_code a = uvlc_code(u[0]);
					vlc_put(&vlc, a.pre, a.pre_len);
					vlc_put(&vlc, u[1] - 1, 1);
					vlc_put(&vlc, a.suf, a.suf_len);
					vlc_put(&vlc, a.ext, a.ext_len);
				} else {
					uvlc_put(&vlc, u[0], u[1]);
				}
			} else {
				uvlc_put(&vlc, u[0], u[1]);
			}
		}
		/* Columns past the block stay zero in e_cur/s_cur (never written). */
		uint8_t *t;
		t = e_prev, e_prev = e_cur, e_cur = t;
		t = s_prev, s_prev = s_cur, s_cur = t;
		memset(e_cur, 0, sizeof(sc->e_line[0]));
		memset(s_cur, 0, sizeof(sc->s_line[0]));
	}

	/* Terminate MEL (an unfinished run counts as a full one), then share the last MEL
	 * and VLC bytes when their used bits do not collide. */
	if (mel.run > 0)
		mel_bit(&mel, 1);
	vlc_drain(&vlc);
	unsigned vlc_tmp = (unsigned)vlc.acc, vlc_used = (unsigned)vlc.nacc;
	unsigned mel_tmp = (mel.tmp << mel.rem) & 0xFF;
	unsigned mel_mask = (0xFFu << mel.rem) & 0xFF;
	unsigned vlc_mask = 0xFFu >> (8 - vlc_used);
	if ((mel_mask | vlc_mask) != 0) {
		unsigned fuse = mel_tmp | vlc_tmp;
		if ((((fuse ^ mel_tmp) & mel_mask) | ((fuse ^ vlc_tmp) & vlc_mask)) == 0 &&
		    fuse != 0xFF && vlc.pos > 1) {
			if (mel.pos < mel.cap)
				mel.buf[mel.pos++] = (uint8_t)fuse;
			else
				mel.overflow = 1;
		} else {
			if (mel.pos < mel.cap)
				mel.buf[mel.pos++] = (uint8_t)mel_tmp;
			else
				mel.overflow = 1;
			if (vlc.pos < vlc.cap)
				vlc.buf[vlc.pos++] = (uint8_t)vlc_tmp;
			else
				vlc.overflow = 1;
		}
	}
	ms_terminate(&ms);
	if (mel.overflow || vlc.overflow || ms.overflow)
		return RP_E_LIMIT;

	size_t scup = mel.pos + vlc.pos;
	size_t total = ms.pos + scup;
	if (scup < 2 || scup > 4079 || total > out_capacity)
		return RP_E_LIMIT;
	memcpy(out, ms.buf, ms.pos);
	memcpy(out + ms.pos, mel.buf, mel.pos);
	for (size_t i = 0; i < vlc.pos; i++)
		out[ms.pos + mel.pos + i] = vlc.buf[vlc.pos - 1 - i];
	out[total - 1] = (uint8_t)(scup >> 4);
	out[total - 2] = (uint8_t)((out[total - 2] & 0xF0) | (scup & 0xF));
	*out_size = total;
	return RP_OK;
}
