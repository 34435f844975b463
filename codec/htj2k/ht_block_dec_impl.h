/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/htj2k/ht_block_dec_impl.h - body of the fast HT cleanup pass decoder (ISO/IEC
 * 15444-15 clause 7), included by ht_block_dec.c (scalar build) and ht_block_dec_avx2.c
 * (the same C built with AVX2 + BMI2, where the compiler's shlx/bzhi/lzcnt shorten the
 * bit extraction) and ht_block_dec_avx512.c.  The including file defines RP__ISA_BUILD
 * and includes simd/isa_build.h first (simd/cpu.h): the function is
 * RP__ISA_FN(rp__ht_decode_block).  It may define RP__HTDEC_MS_BEGIN / RP__HTDEC_MS_GROUP
 * to vector versions of ms_begin_scalar() / ms_group_scalar(), defined after including
 * this, and RP__HTDEC_MS_QUADS to 2 when its group is 2 quads instead of 4 (then phase 2
 * follows phase 1 quad pair by quad pair, more finely interleaved).  With
 * RP__HTDEC_MS_BEGIN8 (ms_begin for quads q0 .. q0 + 7, q0 a multiple of 8, nonzero for a
 * refused quad) instead of RP__HTDEC_MS_BEGIN, ms_begin runs in those steps just before
 * the groups that need them, interleaved with phase 1 too.
 *
 * Two phases per line pair instead of one pass per quad, the first running one line pair
 * ahead of the second in the same loop (VLC decoding is one chain of dependent lookups,
 * MagSgn independent work, and the core overlaps them):
 *  1. VLC + MEL: each quad's CxtVLC entry (rho, u_off, e_k, e_1, and the next quad's
 *     context) and u_q.  The backward VLC reader takes 8 bytes at a time when none can be
 *     a stuffing byte; a table entry is its own shift count, and its table row is
 *     addressed off the reader's chain; MEL symbols are decoded ahead into a bit queue;
 *     both U-VLC prefixes of a quad pair come from one lookup.
 *  2. MagSgn: the whole MagSgn segment is unstuffed once into a plain bit string (bytes
 *     after 0xFF carry 7 bits; ones past the end), so that a sample's bits are a load at
 *     a known bit offset: samples wait only on a running sum of their lengths, and the
 *     vector builds do 8 or 16 at a time.
 * The bit readers stay inside the segment (past its end they see the padding the
 * standard implies), and a quad whose exponent bound exceeds max_bits + 1 is refused, as
 * ht_block_dec_ref.c does, so statuses match too.  Stack: about 25 KB (the bit strings). */
#include "codec/htj2k/ht_block_dec.h"

/* Unstuffed MagSgn: at most 4096 samples x 31 bits = 15872 bytes are ever read, plus one
 * line pair of slack (32 quads x 16 bytes) and what a line pair's loads may reach past
 * its last bit (MS_TAIL: 8 bytes for the scalar kernel, 128 for the AVX-512 one). */
#define MS_READ_MAX 15872u
#define MS_TAIL 144u
#define MS_BUF_BYTES (MS_READ_MAX + 32u * 16u + MS_TAIL + 64u)

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

/* The MEL bits still to be used, least significant first, as the caller's locals:
 * decoded whole symbols ahead, so that taking a bit is a shift. */
struct mel_q {
	uint64_t q;
	unsigned n;
};

/* Decodes MEL symbols until more than 31 bits wait: a run of 2^e zeros (bit 1), or a
 * shorter run of zeros and a one.  Past the segment the reader sees ones, as the
 * standard says, so decoding ahead of need changes nothing.  The queue goes in and out
 * by value: were its address taken, it would live on the stack, and every quad that
 * takes a MEL bit would wait on a store and a load. */
static __attribute__((noinline)) struct mel_q
mel_refill(struct mel_r *m, struct mel_q mq)
{
	while (mq.n <= 31) {
		int e = mel_exp[m->k];
		if (mel_bit(m)) {
			mq.n += 1u << e;        /* zeros */
			if (m->k < 12)
				m->k++;
		} else {
			unsigned r = 0;
			while (e-- > 0)
				r = (r << 1) | mel_bit(m);
			mq.q |= 1ull << (mq.n + r);
			mq.n += r + 1;
			if (m->k > 0)
				m->k--;
		}
	}
	return mq;
}

/* The next MEL bit; the caller has made sure one waits. */
static inline unsigned
mel_get(struct mel_q *mq)
{
	unsigned bit = (unsigned)mq->q & 1;
	mq->q >>= 1;
	mq->n--;
	return bit;
}

/* ---- VLC: backward from the end, LSB first, unstuffing after bytes above 0x8F ----
 *
 * The segment is unstuffed once, backward, into a plain bit string (vlc_unstuff), so that
 * refilling the reader is the same few instructions every quad pair, with no branch: the
 * refill decision, taken about every other pair in no pattern, mispredicted at nearly
 * every refill. */

/* Largest read of the decoding loop: one refill (8 bytes at a position that moves at most
 * 7) per quad pair, at most 4096 / 8 pairs and the first refill. */
#define VLC_READ_MAX (7u * (RP__HT_MAX_CB_SAMPLES / 8u + 1u) + 8u)
#define VLC_BUF_BYTES (VLC_READ_MAX + 4096u + 16u)

/* Unstuffs the bytes below p, down to start, after the first nb bits (in acc) and with
 * prev the byte before p (which decides the stuffing of p[-1]), into out, LSB first;
 * returns the bytes written (a multiple of 8, zeros past the segment's bits). */
static size_t
vlc_unstuff(const uint8_t *p, const uint8_t *start, uint64_t acc, unsigned nb,
	    unsigned prev, uint8_t *out)
{
	size_t o = 0;
	for (;;) {
		if (p - start >= 8) {
			/* Eight bytes none of which has 0x7F in its low bits: no stuffing
			 * whatever came before them. */
			uint64_t w = load64(p - 8);
			if (!has_zero_byte64(~(w | 0x8080808080808080ull))) {
				uint64_t r = __builtin_bswap64(w);      /* p[-1] lowest */
				store64(out + o, acc | (r << nb));
				o += 8;
				acc = nb ? r >> (64 - nb) : 0;
				prev = (unsigned)(r >> 56);
				p -= 8;
				continue;
			}
		}
		if (p <= start)
			break;
		unsigned b = *--p, k = 8;
		uint64_t bits = b;
		if (prev > 0x8F && (b & 0x7F) == 0x7F) {
			bits = b & 0x7F;
			k = 7;
		}
		acc |= bits << nb;
		nb += k;
		if (nb >= 64) {
			store64(out + o, acc);
			o += 8;
			nb -= 64;
			acc = nb ? bits >> (k - nb) : 0;
		}
		prev = b;
	}
	store64(out + o, acc);
	return o + 8;
}

/* Reader of the unstuffed string: n bits in acc; bits above them are zero or the
 * string's own next bits. */
struct vlc_r {
	const uint8_t *p;       /* next byte not yet wholly in acc */
	uint64_t acc;
	unsigned n;
};

/* Leaves 56 to 63 bits in acc (zeros past the segment): the bits above n that the load
 * ORs in again are the ones already there. */
static inline __attribute__((always_inline)) void
vlc_fill(struct vlc_r *v)
{
	v->acc |= load64(v->p) << v->n;
	v->p += (63 - v->n) >> 3;
	v->n |= 56;
}

static inline uint64_t
bzhi64(uint64_t x, unsigned n)
{
	return x & ((1ull << n) - 1);   /* n < 64 */
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

/* Both U-VLC prefixes and suffix lengths of a quad pair in one lookup: index (u_off of
 * quad 1 << 7) | (u_off of quad 0 << 6) | next 6 bits; value: bits 0-5 all the bits the
 * prefixes and suffixes take (so that it can be the shift count as it is), 6-9 the
 * prefixes' length, 10-13 where quad 1's suffix starts, 14-16 and 17-19 the suffix
 * lengths, 20-22 and 23-25 the class bases (0 for a quad without u_off).  Generated from
 * uvlc_pfx and uvlc_sfx_len. */
static const uint32_t uvlc_pair[256] = {
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000,
	0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x05160C8, 0x0100441,
	0x0200882, 0x0100441, 0x03050C4, 0x0100441, 0x0200882, 0x0100441,
	0x05160C8, 0x0100441, 0x0200882, 0x0100441, 0x03050C4, 0x0100441,
	0x0200882, 0x0100441, 0x05160C8, 0x0100441, 0x0200882, 0x0100441,
	0x03050C4, 0x0100441, 0x0200882, 0x0100441, 0x05160C8, 0x0100441,
	0x0200882, 0x0100441, 0x03050C4, 0x0100441, 0x0200882, 0x0100441,
	0x05160C8, 0x0100441, 0x0200882, 0x0100441, 0x03050C4, 0x0100441,
	0x0200882, 0x0100441, 0x05160C8, 0x0100441, 0x0200882, 0x0100441,
	0x03050C4, 0x0100441, 0x0200882, 0x0100441, 0x05160C8, 0x0100441,
	0x0200882, 0x0100441, 0x03050C4, 0x0100441, 0x0200882, 0x0100441,
	0x05160C8, 0x0100441, 0x0200882, 0x0100441, 0x03050C4, 0x0100441,
	0x0200882, 0x0100441, 0x28A0CC8, 0x0800441, 0x1000882, 0x0800441,
	0x1820CC4, 0x0800441, 0x1000882, 0x0800441, 0x28A0CC8, 0x0800441,
	0x1000882, 0x0800441, 0x1820CC4, 0x0800441, 0x1000882, 0x0800441,
	0x28A0CC8, 0x0800441, 0x1000882, 0x0800441, 0x1820CC4, 0x0800441,
	0x1000882, 0x0800441, 0x28A0CC8, 0x0800441, 0x1000882, 0x0800441,
	0x1820CC4, 0x0800441, 0x1000882, 0x0800441, 0x28A0CC8, 0x0800441,
	0x1000882, 0x0800441, 0x1820CC4, 0x0800441, 0x1000882, 0x0800441,
	0x28A0CC8, 0x0800441, 0x1000882, 0x0800441, 0x1820CC4, 0x0800441,
	0x1000882, 0x0800441, 0x28A0CC8, 0x0800441, 0x1000882, 0x0800441,
	0x1820CC4, 0x0800441, 0x1000882, 0x0800441, 0x28A0CC8, 0x0800441,
	0x1000882, 0x0800441, 0x1820CC4, 0x0800441, 0x1000882, 0x0800441,
	0x2DB6D90, 0x29A1109, 0x2AA154A, 0x0900882, 0x2BA5D8C, 0x1100CC3,
	0x0A00CC3, 0x0900882, 0x0D16509, 0x1921105, 0x1201104, 0x0900882,
	0x0B05505, 0x1100CC3, 0x0A00CC3, 0x0900882, 0x151694A, 0x29A1109,
	0x1A21546, 0x0900882, 0x1305946, 0x1100CC3, 0x0A00CC3, 0x0900882,
	0x0D16509, 0x1921105, 0x1201104, 0x0900882, 0x0B05505, 0x1100CC3,
	0x0A00CC3, 0x0900882, 0x1D36D8C, 0x29A1109, 0x2AA154A, 0x0900882,
	0x1B25D88, 0x1100CC3, 0x0A00CC3, 0x0900882, 0x0D16509, 0x1921105,
	0x1201104, 0x0900882, 0x0B05505, 0x1100CC3, 0x0A00CC3, 0x0900882,
	0x151694A, 0x29A1109, 0x1A21546, 0x0900882, 0x1305946, 0x1100CC3,
	0x0A00CC3, 0x0900882, 0x0D16509, 0x1921105, 0x1201104, 0x0900882,
	0x0B05505, 0x1100CC3, 0x0A00CC3, 0x0900882,
};

/* Both u_q of a quad pair in one lookup, when all their prefix and suffix bits are
 * among the next 8: index (u_off of quad 1 << 9) | (u_off of quad 0 << 8) | next 8 bits;
 * value: bits 0-5 and 8-13 the two u_q before extension (0 for a quad without u_off),
 * as the bytes they are stored as, 16-20 the bits they take; bit 31 alone when the pair
 * needs more than 8 bits (then uvlc_pair decodes it).  Generated from uvlc_pfx and
 * uvlc_sfx_len. */
static const uint32_t uvlc_direct[1024] = {
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
	0x00080005, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080006, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080007, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080008, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080009, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008000A, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008000B, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008000C, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008000D, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008000E, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008000F, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080010, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080011, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080012, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080013, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080014, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080015, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080016, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080017, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080018, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080019, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008001A, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008001B, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008001C, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008001D, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x0008001E, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x0008001F, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080020, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080021, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080022, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080023, 0x00010001, 0x00020002, 0x00010001, 0x00040003, 0x00010001, 0x00020002, 0x00010001,
	0x00080024, 0x00010001, 0x00020002, 0x00010001, 0x00040004, 0x00010001, 0x00020002, 0x00010001,
	0x00080500, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00080600, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00080700, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00080800, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00080900, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00080A00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00080B00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00080C00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00080D00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00080E00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00080F00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081000, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081100, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081200, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081300, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081400, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081500, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081600, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081700, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081800, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081900, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081A00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081B00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081C00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081D00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00081E00, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00081F00, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00082000, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00082100, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00082200, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x00082300, 0x00010100, 0x00020200, 0x00010100, 0x00040300, 0x00010100, 0x00020200, 0x00010100,
	0x00082400, 0x00010100, 0x00020200, 0x00010100, 0x00040400, 0x00010100, 0x00020200, 0x00010100,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x80000000, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060302, 0x00020101, 0x00060203, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x00080303, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060402, 0x00020101, 0x00060204, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x80000000, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060302, 0x00020101, 0x00060203, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x00080304, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060402, 0x00020101, 0x00060204, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x80000000, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060302, 0x00020101, 0x00060203, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x00080403, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060402, 0x00020101, 0x00060204, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x80000000, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060302, 0x00020101, 0x00060203, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x80000000, 0x00020101, 0x00080404, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050301, 0x00040202, 0x00020101, 0x00050103, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x80000000, 0x00060402, 0x00020101, 0x00060204, 0x00030201, 0x00030102, 0x00020101,
	0x80000000, 0x00050401, 0x00040202, 0x00020101, 0x00050104, 0x00030201, 0x00030102, 0x00020101,
};

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

/* One quad's CxtVLC entry (rp__ht_dec32 layout; 0 when insignificant) from context
 * index c = ca | nc (<< 7): ca from the line pair above, nc from the quad before; c = 0
 * takes a MEL bit first, and an insignificant quad indexes the table's zero half.  The
 * one branch, on c = 0, is well predicted on real images (c is rarely 0 in textured
 * areas and always in empty ones); a branch-free version measured ~10% slower on CT and
 * no better on CR, MG and MR. */
static inline __attribute__((always_inline)) unsigned
quad_cw(struct vlc_r *v, struct mel_q *mq, const uint32_t *tbl, unsigned ca, unsigned nc)
{
	/* The row of the table first, off the chain through acc (the empty asms keep the
	 * compiler from folding it back into the index): that chain is then and, load,
	 * shift.  ca's part of it comes first too, off the chain through the quad before,
	 * which is then and, add, load. */
	const uint32_t *rowa = tbl + ca;
	__asm__("" : "+r"(rowa));
	const uint32_t *row = rowa + nc;
	if ((ca | nc) == 0) {
		row += (~(unsigned)mq->q & 1) << 10;
		mq->q >>= 1;
		mq->n--;
	}
	__asm__("" : "+r"(row));
	unsigned t = row[v->acc & 127];
	v->acc >>= t & 63;      /* bits 3-5 are 0: the count is the codeword length */
	v->n -= t & 7;
	return t;
}

/* Context bits from the line pair above (qa: its table words, qa[-1] = qa[qw] = 0), for
 * every quad, shifted into the table index (<< 7). */
static inline void
above_ctx(const uint16_t *qa, unsigned qw, uint16_t *cab)
{
	for (unsigned q = 0; q < qw; q++)
		cab[q] = (uint16_t)(((((qa[(int)q - 1] >> 7) | (qa[q] >> 5)) & 1) |
				     ((((qa[q] >> 7) | (qa[q + 1] >> 5)) & 1) << 2))
				    << 7);
}

/* Phase 1 for quads q and q + 1 (when q + 1 < qw) of a line pair: their table words (0
 * when insignificant) into qt[q], qt[q + 1] and their u_q into qu.  tbl: rp__ht_dec32
 * (bits 16 and up give the next quad's context from this one's rho; *nctx carries it);
 * cab: above_ctx() of the line pair above (unused on the first).  v, ms, nctx are the
 * caller's locals, so that they stay in registers. */
static inline __attribute__((always_inline)) void
vlc_pair(struct vlc_r *v, struct mel_q *mq, unsigned *nctx, struct mel_r *mel,
	 const uint32_t *tbl, const int first, const uint16_t *cab, unsigned q, unsigned qw,
	 uint16_t *qt, uint8_t *qu)
{
	unsigned t0, t1 = 0, u0, u1, uu;       /* uu: u_q of quad 0 | of quad 1 << 8 */
	vlc_fill(v);
	if (RP__UNLIKELY(mq->n < 3))
		*mq = mel_refill(mel, *mq);
	t0 = quad_cw(v, mq, tbl, first ? 0 : cab[q], *nctx);
	*nctx = t0 & 0x380;
	if (RP__LIKELY(q + 1 < qw)) {
		t1 = quad_cw(v, mq, tbl, first ? 0 : cab[q + 1], *nctx);
		*nctx = t1 & 0x380;
	}
	/* Their u_q, in the standard's order: both prefixes, both suffixes, both
	 * extensions; no branch on u_off (mode 0 reads nothing).  uob: the offset in
	 * bytes of their row of uvlc_direct (uo << 10), from the copies of u_off in the
	 * table words. */
	unsigned uob = (t0 & 0x400) | (t1 & 0x800), add = 0;
	if (first && uob == 0xC00) {
		if (mel_get(mq)) {
			add = 2;
		} else {
			/* u_q of quad 0 above 2 tells a 1-bit u_q of quad 1. */
			unsigned b0 = uvlc_prefix(v);
			if (b0 > 2) {
				u1 = vlc_take(v, 1) + 1;
				u0 = uvlc_ext(v, uvlc_suffix(v, b0));
			} else {
				unsigned b1 = uvlc_prefix(v);
				u0 = b0;
				u1 = uvlc_ext(v, uvlc_suffix(v, b1));
			}
			uu = u0 | u1 << 8;
			goto store;
		}
	}
	const uint32_t *drow = (const uint32_t *)((const uint8_t *)uvlc_direct + uob);
	__asm__("" : "+r"(drow));       /* as in quad_cw() */
	unsigned d = drow[v->acc & 255];
	if (RP__LIKELY(!(d >> 31))) {
		v->acc >>= d >> 16;
		v->n -= d >> 16;
		uu = d & 0x3F3F;
		if (RP__UNLIKELY(d & 0x2020)) {
			u0 = uvlc_ext(v, d & 63);
			u1 = uvlc_ext(v, (d >> 8) & 63);
			uu = u0 | u1 << 8;
		}
	} else {
		const uint32_t *urow = uvlc_pair + (uob >> 4);
		unsigned e = urow[v->acc & 63];
		u0 = ((e >> 20) & 7) +
		     (unsigned)bzhi64(v->acc >> ((e >> 6) & 15), (e >> 14) & 7);
		u1 = ((e >> 23) & 7) +
		     (unsigned)bzhi64(v->acc >> ((e >> 10) & 15), (e >> 17) & 7);
		v->acc >>= e & 63;
		v->n -= e & 31;
		uu = uvlc_ext(v, u0);
		uu |= uvlc_ext(v, u1) << 8;
	}
	/* u_q <= 33 + 4 x 15 + 2: bytes, which the addition does not carry across. */
	uu += add * 0x0101u;
store:;
	/* One store each for the pair (q is even; slot q + 1 exists past qw). */
	uint32_t tt = (t0 >> 16) | (t1 & 0xFFFF0000u);
	uint16_t u16 = (uint16_t)uu;
	memcpy(qt + q, &tt, 4);
	memcpy(qu + q, &u16, 2);
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

/* ms_sample() from a window that holds this sample's bits at its bottom. */
static inline int32_t
win_sample(uint64_t *win, size_t *pos, unsigned sig, unsigned U, unsigned ek, unsigned e1,
	   unsigned *e_out)
{
	unsigned m = (U - ek) & (0u - sig);
	uint32_t v = (uint32_t)(*win & ((1ull << m) - 1)) | (e1 << m);
	*win >>= m;
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

/* Phase 2 state for one line pair: its quads (qt, qu), the exponents of the bottom row
 * of the line pair above (e_above) and of this one (e_cur), column c at index c + 1, its
 * two output rows (row1 NULL past the block), and U_q per quad once ms_begin has run. */
struct ms_row {
	const uint8_t *ms;
	uint32_t pos;
	unsigned qw, w, max_u;
	int first;
	const uint16_t *qt;
	const uint8_t *qu;
	const uint8_t *e_above;
	uint8_t *e_cur;
	int32_t *row0, *row1;
	uint32_t U[32 + 4];
	/* Vector builds whose ms_begin fills it: where each quad's MagSgn bits start, so
	 * that the groups of a line pair do not wait on each other's bit counts. */
	uint32_t S[32 + 4];
	/* The AVX2 build's per sample bytes, sample n of quad q at 4q + n: its bit count m
	 * (0 when not significant), where its first bit is counted from the quad's first
	 * byte (OB bytes and OI bits on), and 0xFF or 0 for significant and for e_1 set. */
	uint8_t M[4 * (32 + 4)], OB[4 * (32 + 4)], OI[4 * (32 + 4)];
	uint8_t SG[4 * (32 + 4)], E1[4 * (32 + 4)];
};

/* U_q = u_q + kappa_q of every quad; RP_E_CORRUPT when a significant quad's exceeds
 * max_u (the reference refuses the same quads, so statuses match). */
static inline int
ms_begin_scalar(struct ms_row *r)
{
	const uint8_t *ea = r->e_above;
	unsigned bad = 0;
	for (unsigned q = 0; q < r->qw; q++) {
		unsigned t = r->qt[q], x = 2 * q;
		unsigned rho = (t >> 4) & 15, kap = 1;
		if (!r->first) {
			/* Branch-free: whether rho has two bits set is data. */
			unsigned m01 = ea[x] > ea[x + 1] ? ea[x] : ea[x + 1];
			unsigned m23 = ea[x + 2] > ea[x + 3] ? ea[x + 2] : ea[x + 3];
			unsigned me = m01 > m23 ? m01 : m23;
			unsigned k = me > 2 ? me - 1 : 1;
			kap = (rho & (rho - 1)) ? k : 1;
		}
		unsigned U = r->qu[q] + kap;
		r->U[q] = U;
		bad |= (rho != 0) & (U > r->max_u);
	}
	return bad ? RP_E_CORRUPT : RP_OK;
}

/* The samples of quads q0 .. q0 + 3 (those below qw). */
static inline __attribute__((always_inline)) void
ms_group_scalar(struct ms_row *r, unsigned q0)
{
	size_t pos = r->pos;
	unsigned qe = q0 + 4 < r->qw ? q0 + 4 : r->qw;
	for (unsigned q = q0; q < qe; q++) {
		unsigned t = r->qt[q], x = 2 * q;
		int32_t v0 = 0, v1 = 0, v2 = 0, v3 = 0;
		unsigned e1o = 0, e3o = 0;
		if (t) {
			unsigned rho = (t >> 4) & 15, ek = t >> 12, e1 = (t >> 8) & 15;
			unsigned U = r->U[q], dummy;
			if (U <= 14) {
				/* All four samples' bits (at most 4 x 14) in one window. */
				uint64_t win = load64(r->ms + (pos >> 3)) >> (pos & 7);
				v0 = win_sample(&win, &pos, rho & 1, U, ek & 1, e1 & 1, &dummy);
				v1 = win_sample(&win, &pos, (rho >> 1) & 1, U, (ek >> 1) & 1,
						(e1 >> 1) & 1, &e1o);
				v2 = win_sample(&win, &pos, (rho >> 2) & 1, U, (ek >> 2) & 1,
						(e1 >> 2) & 1, &dummy);
				v3 = win_sample(&win, &pos, (rho >> 3) & 1, U, (ek >> 3) & 1,
						(e1 >> 3) & 1, &e3o);
			} else {
				v0 = ms_sample(r->ms, &pos, rho & 1, U, ek & 1, e1 & 1, &dummy);
				v1 = ms_sample(r->ms, &pos, (rho >> 1) & 1, U, (ek >> 1) & 1,
					       (e1 >> 1) & 1, &e1o);
				v2 = ms_sample(r->ms, &pos, (rho >> 2) & 1, U, (ek >> 2) & 1,
					       (e1 >> 2) & 1, &dummy);
				v3 = ms_sample(r->ms, &pos, (rho >> 3) & 1, U, (ek >> 3) & 1,
					       (e1 >> 3) & 1, &e3o);
			}
		}
		r->e_cur[x + 1] = (uint8_t)e1o;
		r->e_cur[x + 2] = (uint8_t)e3o;
		if (x + 1 < r->w) {
			store_pair(r->row0 + x, v0, v2);
			if (r->row1)
				store_pair(r->row1 + x, v1, v3);
		} else {
			r->row0[x] = v0;
			if (r->row1)
				r->row1[x] = v1;
		}
	}
	r->pos = (uint32_t)pos;
}

#if defined(RP__HTDEC_MS_BEGIN8)
/* The including file's vector kernels, defined after this file. */
static inline int RP__HTDEC_MS_BEGIN8(struct ms_row *r, unsigned q0);
static inline void RP__HTDEC_MS_GROUP(struct ms_row *r, unsigned q0);
#elif defined(RP__HTDEC_MS_BEGIN)
static inline int RP__HTDEC_MS_BEGIN(struct ms_row *r);
static inline void RP__HTDEC_MS_GROUP(struct ms_row *r, unsigned q0);
#else
#define RP__HTDEC_MS_BEGIN ms_begin_scalar
#define RP__HTDEC_MS_GROUP ms_group_scalar
#endif
#ifndef RP__HTDEC_MS_QUADS
#define RP__HTDEC_MS_QUADS 4
#endif

int
RP__ISA_FN(rp__ht_decode_block)(const uint8_t *seg, size_t len, unsigned w, unsigned h,
				int32_t *coef, size_t stride, unsigned max_bits)
{
	const uint32_t *dec32 = rp__ht_dec32();
	_Alignas(64) uint8_t ms[MS_BUF_BYTES];
	uint8_t vlc_buf[VLC_BUF_BYTES];
	/* Table words of two line pairs, one slot of zeros on either side. */
	uint16_t qt_buf[2][32 + 4];
	uint8_t qu_buf[2][32 + 16];
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

	size_t ms_avail = ms_unstuff(seg, ms_len, ms);
	struct mel_r mel = { .p = seg + ms_len, .end = seg + len };
	{
		/* The byte before last: its low nibble is Scup's; the encoder saw 0xF there
		 * (and a 0xFF byte after it), which decides the stuffing of its high bits. */
		unsigned b = seg[len - 2] | 0x0F;
		int st = (b & 0x7F) == 0x7F;
		size_t n = vlc_unstuff(seg + len - 2, seg + ms_len, st ? (b >> 4) & 7 : b >> 4,
				       st ? 3 : 4, b, vlc_buf);
		if (n < VLC_READ_MAX)
			memset(vlc_buf + n, 0, VLC_READ_MAX - n);
	}
	struct vlc_r vlc = { .p = vlc_buf, .acc = 0, .n = 0 };

	memset(qt_buf, 0, sizeof(qt_buf));
	memset(qu_buf, 0, sizeof(qu_buf));
	memset(e_buf, 0, sizeof(e_buf));
	uint16_t *qa = qt_buf[0] + 1, *qc = qt_buf[1] + 1;
	uint8_t *ua = qu_buf[0], *uc = qu_buf[1];
	uint8_t *e_above = e_buf[0], *e_cur = e_buf[1];
	unsigned qw = (w + 1) / 2;
	struct mel_q mq = { 0, 0 };
	unsigned nctx = 0;
	struct ms_row r = { .ms = ms, .qw = qw, .w = w, .max_u = max_bits + 1 };

	/* Phase 1 runs one line pair ahead of phase 2, in the same loop: VLC decoding is
	 * one long chain of dependent lookups, MagSgn is independent vector work, and
	 * interleaved the core overlaps them.  Line pair 0 first, alone. */
	for (unsigned q = 0; q < qw; q += 2)
		vlc_pair(&vlc, &mq, &nctx, &mel, dec32, 1, NULL, q, qw, qa, ua);
	for (unsigned y = 0; y < h; y += 2) {
		/* Ones past the segment, as far as this line pair can read (a quad reads at
		 * most 4 x 31 bits). */
		size_t need = (size_t)(r.pos >> 3) + 16u * qw + MS_TAIL;
		if (RP__UNLIKELY(need > ms_avail)) {
			memset(ms + ms_avail, 0xFF, need - ms_avail);
			ms_avail = need;
		}
		r.first = y == 0;
		r.qt = qa;
		r.qu = ua;
		r.e_above = e_above;
		r.e_cur = e_cur;
		r.row0 = coef + (size_t)y * stride;
		r.row1 = y + 1 < h ? r.row0 + stride : NULL;
#ifdef RP__HTDEC_MS_BEGIN8
		/* Before the groups of quads q .. q + 7 (the first bit of each is a running
		 * sum; a refused quad stops the block before any of its bits is read). */
#define MS_BEGIN_AT(q) \
		do { \
			if ((q) % 8 == 0 && RP__HTDEC_MS_BEGIN8(&r, (q))) \
				return RP_E_CORRUPT; \
		} while (0)
#else
		int rc = RP__HTDEC_MS_BEGIN(&r);
		if (rc != RP_OK)
			return rc;
#define MS_BEGIN_AT(q) do { } while (0)
#endif
		if (y + 2 < h) {
			uint16_t cab[32 + 2];
			above_ctx(qa, qw, cab);
			nctx = 0;
			for (unsigned q = 0; q < qw; q += 4) {
				MS_BEGIN_AT(q);
				vlc_pair(&vlc, &mq, &nctx, &mel, dec32 + 2048, 0, cab, q, qw,
					 qc, uc);
				if (RP__HTDEC_MS_QUADS == 2)
					RP__HTDEC_MS_GROUP(&r, q);
				if (q + 2 < qw) {
					vlc_pair(&vlc, &mq, &nctx, &mel, dec32 + 2048, 0, cab,
						 q + 2, qw, qc, uc);
					if (RP__HTDEC_MS_QUADS == 2)
						RP__HTDEC_MS_GROUP(&r, q + 2);
				}
				if (RP__HTDEC_MS_QUADS == 4)
					RP__HTDEC_MS_GROUP(&r, q);
			}
		} else {
			for (unsigned q = 0; q < qw; q += RP__HTDEC_MS_QUADS) {
				MS_BEGIN_AT(q);
				RP__HTDEC_MS_GROUP(&r, q);
			}
		}
#undef MS_BEGIN_AT
		uint16_t *tq = qa;
		qa = qc;
		qc = tq;
		uint8_t *tu = ua;
		ua = uc;
		uc = tu;
		uint8_t *te = e_above;
		e_above = e_cur;
		e_cur = te;
	}
	return RP_OK;
}
