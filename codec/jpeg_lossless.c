/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg_lossless.c - JPEG lossless, process 14 (ITU-T T.81 Annex H), decoder for
 * DICOM 1.2.840.10008.1.2.4.57 (any predictor) and .70 (first-order predictor, SV1).
 *
 * Why our own: this is the most common lossless syntax in existing archives, but
 * libjpeg-turbo 2.1.5 (Debian 12) has no lossless mode (it arrived in 3.0), and the
 * decoders that do exist in C (IJG 6b + the Cornell patch inside DCMTK/GDCM) come with a
 * whole toolkit.  Process 14 is small: Huffman-coded differences (Annex F tables), seven
 * predictors, a point transform and restart markers.  Everything here reads untrusted
 * bytes through a (p, end) cursor; every table index and every sample position is checked,
 * and a truncated scan is an error rather than silently zero-filled pixels.
 *
 * The encoder (first-order predictor by default, any predictor, point transform and
 * restart interval through rp__jpeg_lossless_encode) exists so that the decoder can be
 * tested on every predictor and checked by other decoders (dcmdjpeg, GDCM).
 *
 * Supported: 2..16-bit precision, 1..4 components with 1x1 sampling, interleaved or one
 * scan per component, restart intervals, any Pt.  Not supported (RP_E_UNSUPPORTED):
 * hierarchical/differential processes, arithmetic coding, DNL-defined heights,
 * subsampled components.  The decoder writes unsigned P-bit values; DICOM's sign (Pixel
 * Representation) is re-applied through rp__frame_from_unsigned_bits(). */
#include "codec/codec_impl.h"
#include "codec/jpeg_lossless.h"
#include "codec/jpeg_huff.h"

#define JL_MAX_COMPS 4

struct jl_comp {
	uint8_t id;
	uint8_t h, v;
	uint16_t *plane;             /* reconstructed samples, width * height */
};

struct jl_dec {
	const uint8_t *p, *end;      /* marker-level cursor */
	struct jl_huff dc[4];
	struct jl_comp comp[JL_MAX_COMPS];
	unsigned ncomp;
	unsigned precision;
	uint32_t width, height;
	uint32_t restart_interval;
	bool have_frame;
	const struct rp_image_desc *img;  /* what the caller expects: checked at SOF, so
					   * a hostile SOF cannot make us allocate more
					   * than the caller's frame */
	struct rp_errbuf *err;
};

static int
jl_fail(struct jl_dec *d, int status, const char *what)
{
	return rp__err(d->err, status, "JPEG lossless: %s", what);
}

static int
parse_dht(struct jl_dec *d, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		if (end - p < 17)
			return jl_fail(d, RP_E_CORRUPT, "DHT segment truncated");
		unsigned tc = p[0] >> 4, th = p[0] & 15;
		unsigned n = 0;
		for (int i = 0; i < 16; i++)
			n += p[1 + i];
		if (n > 256 || (size_t)(end - p - 17) < n)
			return jl_fail(d, RP_E_CORRUPT, "DHT table overruns its segment");
		if (tc == 0 && th < 4) {
			if (build_huff(&d->dc[th], p + 1, p + 17, n) != 0)
				return jl_fail(d, RP_E_CORRUPT, "DHT table has too many codes");
		} else if (tc > 1 || th > 3) {
			return jl_fail(d, RP_E_CORRUPT, "DHT table class/id out of range");
		}
		p += 17 + n;
	}
	return RP_OK;
}

static int
parse_sof(struct jl_dec *d, const uint8_t *p, const uint8_t *end)
{
	if (d->have_frame)
		return jl_fail(d, RP_E_CORRUPT, "second SOF marker");
	if (end - p < 6)
		return jl_fail(d, RP_E_CORRUPT, "SOF segment truncated");
	d->precision = p[0];
	d->height = rp__load_be16(p + 1);
	d->width = rp__load_be16(p + 3);
	d->ncomp = p[5];
	if (d->precision < 2 || d->precision > 16)
		return rp__err(d->err, RP_E_CORRUPT, "JPEG lossless: precision %u not in 2..16",
			       d->precision);
	if (d->height == 0)
		return jl_fail(d, RP_E_UNSUPPORTED, "height defined by a DNL marker");
	if (d->width == 0 || d->ncomp == 0 || d->ncomp > JL_MAX_COMPS)
		return jl_fail(d, RP_E_CORRUPT, "SOF has zero width or 0/too many components");
	if ((size_t)(end - p) < 6 + 3 * (size_t)d->ncomp)
		return jl_fail(d, RP_E_CORRUPT, "SOF component list truncated");
	for (unsigned i = 0; i < d->ncomp; i++) {
		const uint8_t *c = p + 6 + 3 * i;
		d->comp[i].id = c[0];
		d->comp[i].h = c[1] >> 4;
		d->comp[i].v = c[1] & 15;
		for (unsigned j = 0; j < i; j++)
			if (d->comp[j].id == c[0])
				return jl_fail(d, RP_E_CORRUPT, "duplicate component id in SOF");
		/* Sampling factors only matter relative to each other; 1x1 everywhere is
		 * what DICOM writers use (PS3.5 8.2.1 forbids subsampled lossless). */
		if (d->comp[i].h != d->comp[0].h || d->comp[i].v != d->comp[0].v ||
		    d->comp[i].h == 0 || d->comp[i].v == 0)
			return jl_fail(d, RP_E_UNSUPPORTED, "subsampled components");
	}
	if (d->width != d->img->width || d->height != d->img->height ||
	    d->ncomp != d->img->components)
		return rp__err(d->err, RP_E_CORRUPT,
			       "JPEG lossless: codestream is %ux%u with %u components, image is "
			       "%ux%u with %u", d->width, d->height, d->ncomp, d->img->width,
			       d->img->height, d->img->components);
	if (d->precision > rp__sample_bytes(d->img) * 8)
		return rp__err(d->err, RP_E_CORRUPT,
			       "JPEG lossless: %u-bit samples do not fit BitsAllocated %u",
			       d->precision, d->img->bits_allocated);
	size_t n;
	if (!rp__mul_size(d->width, d->height, &n))
		return jl_fail(d, RP_E_LIMIT, "image too large");
	for (unsigned i = 0; i < d->ncomp; i++) {
		d->comp[i].plane = calloc(n, sizeof(uint16_t));
		if (!d->comp[i].plane)
			return jl_fail(d, RP_E_NOMEM, "out of memory for sample planes");
	}
	d->have_frame = true;
	return RP_OK;
}

/* Positions the marker cursor after a scan's entropy-coded data: the next marker that is
 * not a stuffed 0xFF00 or an RSTn. */
static const uint8_t *
skip_entropy(const uint8_t *p, const uint8_t *end)
{
	while (p + 1 < end) {
		if (p[0] == 0xFF && p[1] != 0x00 && p[1] != 0xFF && !(p[1] >= 0xD0 && p[1] <= 0xD7))
			return p;
		p++;
	}
	return end;
}

/* One difference (H.1.2.2): -1 on an invalid code. */
static inline int
read_diff(struct jl_bits *b, const struct jl_huff *t, int32_t *diff)
{
	int s = huff_decode(b, t);
	if (s <= 0) {
		*diff = 0;
		return s;
	}
	if (s >= 16) {
		*diff = 32768;
		return s == 16 ? 0 : -1;
	}
	int32_t v = (int32_t)bits_get(b, s);
	*diff = v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
	return 0;
}

/* A whole row of one component that is not the first line of a restart interval: the
 * first sample predicted from above (Rb), the rest by predictor ss. */
static int
decode_row(struct jl_bits *b, const struct jl_huff *t, uint16_t *row, const uint16_t *up,
	   uint32_t w, unsigned ss)
{
	int32_t diff;
	if (read_diff(b, t, &diff) < 0)
		return -1;
	row[0] = (uint16_t)((up[0] + diff) & 0xFFFF);
#define ROW_LOOP(expr)                                                                     \
	for (uint32_t x = 1; x < w; x++) {                                                 \
		if (read_diff(b, t, &diff) < 0)                                            \
			return -1;                                                         \
		int32_t ra = row[x - 1], rb = up[x], rc = up[x - 1];                       \
		(void)ra;                                                                  \
		(void)rb;                                                                  \
		(void)rc;                                                                  \
		row[x] = (uint16_t)(((expr) + diff) & 0xFFFF);                             \
	}
	switch (ss) {
	case 1: ROW_LOOP(ra) break;
	case 2: ROW_LOOP(rb) break;
	case 3: ROW_LOOP(rc) break;
	case 4: ROW_LOOP(ra + rb - rc) break;
	case 5: ROW_LOOP(ra + ((rb - rc) >> 1)) break;
	case 6: ROW_LOOP(rb + ((ra - rc) >> 1)) break;
	default: ROW_LOOP((ra + rb) >> 1) break;
	}
#undef ROW_LOOP
	return 0;
}

static int
decode_scan(struct jl_dec *d, const uint8_t *hdr, const uint8_t *hdr_end)
{
	if (!d->have_frame)
		return jl_fail(d, RP_E_CORRUPT, "SOS before SOF");
	if (hdr_end - hdr < 1)
		return jl_fail(d, RP_E_CORRUPT, "SOS segment truncated");
	unsigned ns = hdr[0];
	if (ns == 0 || ns > d->ncomp || (size_t)(hdr_end - hdr) < 1 + 2 * (size_t)ns + 3)
		return jl_fail(d, RP_E_CORRUPT, "SOS component list truncated or too long");
	struct jl_comp *sc[JL_MAX_COMPS];
	const struct jl_huff *tab[JL_MAX_COMPS];
	for (unsigned i = 0; i < ns; i++) {
		unsigned id = hdr[1 + 2 * i], td = hdr[2 + 2 * i] >> 4;
		sc[i] = NULL;
		for (unsigned j = 0; j < d->ncomp; j++)
			if (d->comp[j].id == id)
				sc[i] = &d->comp[j];
		if (!sc[i])
			return jl_fail(d, RP_E_CORRUPT, "SOS names a component not in SOF");
		if (td > 3 || !d->dc[td].present)
			return jl_fail(d, RP_E_CORRUPT, "SOS uses an undefined Huffman table");
		tab[i] = &d->dc[td];
	}
	const uint8_t *q = hdr + 1 + 2 * ns;
	unsigned ss = q[0], pt = q[2] & 15;
	if (ss < 1 || ss > 7)
		return rp__err(d->err, RP_E_CORRUPT,
			       "JPEG lossless: predictor %u not in 1..7 (Ss of a process-14 scan)",
			       ss);
	if (pt >= d->precision)
		return jl_fail(d, RP_E_CORRUPT, "point transform >= precision");

	struct jl_bits b = { .p = d->p, .end = d->end };
	const uint32_t w = d->width, hgt = d->height;
	const int32_t initial = 1 << (d->precision - pt - 1);
	uint32_t restart_left = d->restart_interval;
	unsigned expect_rst = 0;
	/* The row and column where the current restart interval began: that row is
	 * predicted like the first line of a scan (H.1.2.1). */
	uint32_t first_row = 0, first_col = 0;

	for (uint32_t y = 0; y < hgt; y++) {
		/* Fast path: one component, not the first line of an interval, and no
		 * restart inside this row.  Same arithmetic as the general loop below,
		 * with the predictor chosen once per row. */
		if (ns == 1 && y != first_row &&
		    (!d->restart_interval || restart_left >= w)) {
			uint16_t *row = sc[0]->plane + (size_t)y * w;
			if (decode_row(&b, tab[0], row, row - w, w, ss) != 0)
				return jl_fail(d, RP_E_CORRUPT, "invalid Huffman code");
			if (d->restart_interval)
				restart_left -= w;
			if (b.zero_fill > 8)
				return rp__err(d->err, RP_E_CORRUPT,
					       "JPEG lossless: scan data ends at row %u of %u", y,
					       hgt);
			continue;
		}
		for (uint32_t x = 0; x < w; x++) {
			if (d->restart_interval && restart_left == 0) {
				/* Byte-align, expect RSTn, reset predictors. */
				RP_TRY(jl_read_restart(&b, &expect_rst, "JPEG lossless", d->err));
				restart_left = d->restart_interval;
				first_row = y;
				first_col = x;
			}
			size_t pos = (size_t)y * w + x;
			for (unsigned i = 0; i < ns; i++) {
				uint16_t *pl = sc[i]->plane;
				int32_t pred;
				if (y == first_row && x == first_col) {
					pred = initial;
				} else if (y == first_row) {
					pred = pl[pos - 1];
				} else if (x == 0) {
					pred = pl[pos - w];
				} else {
					int32_t ra = pl[pos - 1], rb = pl[pos - w],
						rc = pl[pos - w - 1];
					switch (ss) {
					case 1: pred = ra; break;
					case 2: pred = rb; break;
					case 3: pred = rc; break;
					case 4: pred = ra + rb - rc; break;
					case 5: pred = ra + ((rb - rc) >> 1); break;
					case 6: pred = rb + ((ra - rc) >> 1); break;
					default: pred = (ra + rb) >> 1; break;
					}
				}
				int s = huff_decode(&b, tab[i]);
				if (s < 0 || s > 16)
					return jl_fail(d, RP_E_CORRUPT, "invalid Huffman code");
				int32_t diff;
				if (s == 0) {
					diff = 0;
				} else if (s == 16) {
					diff = 32768;   /* H.1.2.2: no extra bits */
				} else {
					int32_t v = (int32_t)bits_get(&b, s);
					if (v < (1 << (s - 1)))
						v -= (1 << s) - 1;
					diff = v;
				}
				pl[pos] = (uint16_t)((pred + diff) & 0xFFFF);
			}
			if (d->restart_interval)
				restart_left--;
			/* Invented bytes beyond a few of look-ahead mean real data ran out. */
			if (b.zero_fill > 8)
				return rp__err(d->err, RP_E_CORRUPT,
					       "JPEG lossless: scan data ends at row %u of %u", y,
					       hgt);
		}
	}
	if (bits_overran(&b))
		return jl_fail(d, RP_E_CORRUPT, "scan data ends early (truncated)");
	/* Undo the point transform once, now that prediction (done on shifted values) is
	 * over. */
	if (pt) {
		size_t n = (size_t)w * hgt;
		for (unsigned i = 0; i < ns; i++)
			for (size_t k = 0; k < n; k++)
				sc[i]->plane[k] = (uint16_t)(sc[i]->plane[k] << pt);
	}
	d->p = skip_entropy(b.p, d->end);
	return RP_OK;
}

static void
jl_free(struct jl_dec *d)
{
	for (unsigned i = 0; i < JL_MAX_COMPS; i++)
		free(d->comp[i].plane);
}

static int
jl_parse(struct jl_dec *d, unsigned *scans)
{
	if (d->end - d->p < 2 || d->p[0] != 0xFF || d->p[1] != 0xD8)
		return jl_fail(d, RP_E_CORRUPT, "no SOI marker");
	d->p += 2;
	*scans = 0;
	for (;;) {
		/* Markers may be preceded by any number of 0xFF fill bytes (B.1.1.2). */
		while (d->p < d->end && d->p[0] != 0xFF)
			d->p++;          /* tolerate stray bytes between segments */
		while (d->p + 1 < d->end && d->p[1] == 0xFF)
			d->p++;
		if (d->end - d->p < 2)
			return *scans ? RP_OK : jl_fail(d, RP_E_CORRUPT, "no EOI marker");
		unsigned m = d->p[1];
		d->p += 2;
		if (m == 0xD9)
			return RP_OK;
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
			continue;        /* standalone markers */
		if (d->end - d->p < 2)
			return jl_fail(d, RP_E_CORRUPT, "marker segment truncated");
		size_t len = rp__load_be16(d->p);
		if (len < 2 || len > (size_t)(d->end - d->p))
			return rp__err(d->err, RP_E_CORRUPT,
				       "JPEG lossless: marker 0xFF%02X segment length %zu overruns "
				       "the data", m, len);
		const uint8_t *seg = d->p + 2, *seg_end = d->p + len;
		d->p = seg_end;
		switch (m) {
		case 0xC3:
			RP_TRY(parse_sof(d, seg, seg_end));
			break;
		case 0xC4:
			RP_TRY(parse_dht(d, seg, seg_end));
			break;
		case 0xDD:
			if (seg_end - seg < 2)
				return jl_fail(d, RP_E_CORRUPT, "DRI segment truncated");
			d->restart_interval = rp__load_be16(seg);
			break;
		case 0xDA:
			RP_TRY(decode_scan(d, seg, seg_end));
			(*scans)++;
			break;
		case 0xC0: case 0xC1: case 0xC2:
			return jl_fail(d, RP_E_UNSUPPORTED,
				       "DCT-based JPEG, not lossless (use the jpeg codec)");
		case 0xC5: case 0xC6: case 0xC7: case 0xDE: case 0xDF:
			return jl_fail(d, RP_E_UNSUPPORTED, "hierarchical JPEG");
		case 0xC9: case 0xCA: case 0xCB: case 0xCD: case 0xCE: case 0xCF: case 0xCC:
			return jl_fail(d, RP_E_UNSUPPORTED, "arithmetic-coded JPEG");
		case 0xF7:
			return jl_fail(d, RP_E_UNSUPPORTED, "JPEG-LS data (use the jpegls codec)");
		case 0xDC:
			return jl_fail(d, RP_E_UNSUPPORTED, "DNL marker");
		default:
			break;           /* APPn, COM, DQT...: not needed */
		}
	}
}

int
rp__jpeg_lossless_decode(const struct rp_image_desc *img, const uint8_t *src,
			 size_t src_size, uint8_t *dst, size_t dst_capacity,
			 struct rp_errbuf *err)
{
	struct jl_dec d;
	memset(&d, 0, sizeof(d));
	d.p = src;
	d.end = src + src_size;
	d.err = err;
	d.img = img;
	RP_TRY(rp_image_desc_check(img, err));
	size_t bps = rp__sample_bytes(img), frame = rp_image_frame_size(img);
	if (bps != 1 && bps != 2)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG lossless: BitsAllocated %u is not 8 or 16",
			       img->bits_allocated);
	if (dst_capacity < frame)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG lossless: output buffer too small");

	unsigned scans = 0;
	int rc = jl_parse(&d, &scans);
	if (rc < 0)
		goto out;
	rc = RP_E_CORRUPT;
	if (!d.have_frame || scans == 0) {
		rp__err(err, rc, "JPEG lossless: no frame or no scan (is this JPEG lossless?)");
		goto out;
	}
	size_t n = (size_t)img->width * img->height;
	for (unsigned c = 0; c < d.ncomp; c++) {
		const uint16_t *pl = d.comp[c].plane;
		if (bps == 1) {
			for (size_t k = 0; k < n; k++)
				dst[k * d.ncomp + c] = (uint8_t)pl[k];
		} else {
			for (size_t k = 0; k < n; k++)
				rp__store_le16(dst + 2 * (k * d.ncomp + c), pl[k]);
		}
	}
	rp__frame_from_unsigned_bits(img, dst, frame);
	rc = RP_OK;
out:
	jl_free(&d);
	return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Encoder: process 14 with an optimal Huffman table (T.81 K.2), so that what we write can
 * be checked by other decoders and the decoder above sees every predictor. */

struct jl_writer {
	uint8_t *p, *end;
	uint64_t acc;
	int nbits;
	bool overflow;
};

static void
put_byte(struct jl_writer *w, uint8_t b)
{
	if (w->p < w->end)
		*w->p++ = b;
	else
		w->overflow = true;
}

static void
put_bits(struct jl_writer *w, uint32_t v, int n)
{
	w->acc = (w->acc << n) | (v & ((1u << n) - 1));
	w->nbits += n;
	while (w->nbits >= 8) {
		uint8_t b = (uint8_t)(w->acc >> (w->nbits - 8));
		put_byte(w, b);
		if (b == 0xFF)
			put_byte(w, 0x00);       /* F.1.2.3 byte stuffing */
		w->nbits -= 8;
	}
}

static void
flush_bits(struct jl_writer *w)
{
	if (w->nbits > 0)
		put_bits(w, 0x7F, 8 - w->nbits);   /* pad with 1-bits (F.1.2.3) */
	w->acc = 0;
}

/* T.81 K.2: code lengths from frequencies, limited to 16 bits. */
static void
optimal_table(const uint32_t freq_in[17], uint8_t counts[16], uint8_t vals[17],
	      unsigned *nvals)
{
	int64_t freq[18];
	int codesize[18], others[18];
	for (int i = 0; i < 17; i++)
		freq[i] = freq_in[i];
	freq[17] = 1;                    /* reserved: no code of all 1-bits */
	for (int i = 0; i < 18; i++) {
		codesize[i] = 0;
		others[i] = -1;
	}
	for (;;) {
		int c1 = -1, c2 = -1;
		for (int i = 0; i < 18; i++)
			if (freq[i] && (c1 < 0 || freq[i] <= freq[c1]))
				c1 = i;
		for (int i = 0; i < 18; i++)
			if (freq[i] && i != c1 && (c2 < 0 || freq[i] <= freq[c2]))
				c2 = i;
		if (c2 < 0)
			break;
		freq[c1] += freq[c2];
		freq[c2] = 0;
		codesize[c1]++;
		while (others[c1] >= 0) {
			c1 = others[c1];
			codesize[c1]++;
		}
		others[c1] = c2;
		codesize[c2]++;
		while (others[c2] >= 0) {
			c2 = others[c2];
			codesize[c2]++;
		}
	}
	int bits[40] = { 0 };
	for (int i = 0; i < 18; i++)
		if (codesize[i])
			bits[codesize[i]]++;
	for (int i = 39; i > 16; i--) {
		while (bits[i] > 0) {
			int j = i - 2;
			while (bits[j] == 0)
				j--;
			bits[i] -= 2;
			bits[i - 1]++;
			bits[j + 1] += 2;
			bits[j]--;
		}
	}
	int i = 16;
	while (bits[i] == 0)
		i--;
	bits[i]--;                       /* drop the reserved code */
	for (int k = 0; k < 16; k++)
		counts[k] = (uint8_t)bits[k + 1];
	*nvals = 0;
	for (int len = 1; len <= 32; len++)
		for (int v = 0; v < 17; v++)
			if (codesize[v] == len)
				vals[(*nvals)++] = (uint8_t)v;
}

static inline int
category(int32_t diff)
{
	uint32_t a = (uint32_t)(diff < 0 ? -diff : diff);
	int s = 0;
	while (a) {
		s++;
		a >>= 1;
	}
	return s;
}

static inline int32_t
predict(const uint16_t *pl, size_t pos, uint32_t x, uint32_t y, uint32_t w, uint32_t row0,
	uint32_t col0, unsigned sv, int32_t initial)
{
	if (y == row0 && x == col0)
		return initial;
	if (y == row0)
		return pl[pos - 1];
	if (x == 0)
		return pl[pos - w];
	int32_t ra = pl[pos - 1], rb = pl[pos - w], rc = pl[pos - w - 1];
	switch (sv) {
	case 1: return ra;
	case 2: return rb;
	case 3: return rc;
	case 4: return ra + rb - rc;
	case 5: return ra + ((rb - rc) >> 1);
	case 6: return rb + ((ra - rc) >> 1);
	default: return (ra + rb) >> 1;
	}
}

/* Differences of the whole frame, in coding order (pixel by pixel, components
 * interleaved), mod 2^16 as signed values, into diffs[width * height * nc].  One pass
 * feeds both the Huffman statistics and the output. */
static void
frame_diffs(uint16_t *const *planes, unsigned nc, uint32_t w, uint32_t h, unsigned sv,
	    unsigned restart, int32_t initial, int32_t *diffs)
{
	uint32_t row0 = 0, col0 = 0, left = restart;
	size_t k = 0;
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			if (restart && left-- == 0) {
				left = restart - 1;
				row0 = y;
				col0 = x;
			}
			size_t pix = (size_t)y * w + x;
			for (unsigned c = 0; c < nc; c++) {
				int32_t pred = predict(planes[c], pix, x, y, w, row0, col0, sv,
						       initial);
				int32_t d = (int32_t)((planes[c][pix] - pred) & 0xFFFF);
				diffs[k++] = d >= 32768 ? d - 65536 : d;
			}
		}
	}
}

int
rp__jpeg_lossless_encode(const struct rp_image_desc *img, unsigned predictor,
			 unsigned point_transform, unsigned restart_interval,
			 const uint8_t *src, size_t src_size, uint8_t *dst,
			 size_t dst_capacity, size_t *dst_size, struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	size_t bps = rp__sample_bytes(img), frame = rp_image_frame_size(img);
	if ((bps != 1 && bps != 2) || img->bits_stored < 2 || img->width > 65535 ||
	    img->height > 65535)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG lossless: %ux%u, BitsAllocated %u, BitsStored %u cannot be "
			       "coded (2..16 bits, at most 65535x65535)", img->width,
			       img->height, img->bits_allocated, img->bits_stored);
	if (predictor < 1 || predictor > 7 || point_transform >= img->bits_stored ||
	    restart_interval > 65535)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG lossless: bad parameters");
	if (src_size != frame)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG lossless: frame is %zu bytes, "
			       "expected %zu", src_size, frame);
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED, "JPEG lossless: samples carry bits above "
			       "BitsStored %u", img->bits_stored);
	const unsigned nc = img->components, P = img->bits_stored;
	const uint32_t w = img->width, h = img->height;
	const size_t n = (size_t)w * h;
	uint16_t *planes[3] = { NULL, NULL, NULL };
	int32_t *diffs = NULL;
	int rc = RP_E_NOMEM;
	for (unsigned c = 0; c < nc; c++) {
		planes[c] = malloc(n * sizeof(uint16_t));
		if (!planes[c]) {
			rp__err(err, rc, "JPEG lossless: out of memory");
			goto out;
		}
	}
	/* Unsigned BitsStored-bit patterns, point-transformed (H.1.2.1). */
	const uint32_t mask = (1u << P) - 1;
	for (size_t k = 0; k < n; k++)
		for (unsigned c = 0; c < nc; c++) {
			const uint8_t *s = src + (k * nc + c) * bps;
			uint32_t v = bps == 1 ? s[0] : rp__load_le16(s);
			planes[c][k] = (uint16_t)((v & mask) >> point_transform);
		}
	const int32_t initial = 1 << (P - point_transform - 1);
	const size_t total = n * nc;
	diffs = malloc(total * sizeof(int32_t));
	if (!diffs) {
		rp__err(err, rc, "JPEG lossless: out of memory");
		goto out;
	}
	frame_diffs(planes, nc, w, h, predictor, restart_interval, initial, diffs);
	uint32_t freq[17] = { 0 };
	for (size_t k = 0; k < total; k++)
		freq[category(diffs[k])]++;
	uint8_t counts[16], vals[17];
	unsigned nvals;
	optimal_table(freq, counts, vals, &nvals);
	uint16_t code[17] = { 0 };
	uint8_t len[17] = { 0 };
	{
		unsigned k = 0;
		uint16_t cd = 0;
		for (unsigned l = 1; l <= 16; l++) {
			for (unsigned i = 0; i < counts[l - 1]; i++, k++) {
				code[vals[k]] = cd++;
				len[vals[k]] = (uint8_t)l;
			}
			cd = (uint16_t)(cd << 1);
		}
	}

	struct jl_writer wr = { .p = dst, .end = dst + dst_capacity };
	static const uint8_t soi[] = { 0xFF, 0xD8 };
	for (size_t i = 0; i < sizeof(soi); i++)
		put_byte(&wr, soi[i]);
	/* SOF3 */
	put_byte(&wr, 0xFF);
	put_byte(&wr, 0xC3);
	put_byte(&wr, 0);
	put_byte(&wr, (uint8_t)(8 + 3 * nc));
	put_byte(&wr, (uint8_t)P);
	put_byte(&wr, (uint8_t)(h >> 8));
	put_byte(&wr, (uint8_t)h);
	put_byte(&wr, (uint8_t)(w >> 8));
	put_byte(&wr, (uint8_t)w);
	put_byte(&wr, (uint8_t)nc);
	for (unsigned c = 0; c < nc; c++) {
		put_byte(&wr, (uint8_t)(c + 1));
		put_byte(&wr, 0x11);
		put_byte(&wr, 0);
	}
	/* DHT */
	put_byte(&wr, 0xFF);
	put_byte(&wr, 0xC4);
	put_byte(&wr, 0);
	put_byte(&wr, (uint8_t)(2 + 1 + 16 + nvals));
	put_byte(&wr, 0x00);
	for (int i = 0; i < 16; i++)
		put_byte(&wr, counts[i]);
	for (unsigned i = 0; i < nvals; i++)
		put_byte(&wr, vals[i]);
	if (restart_interval) {
		put_byte(&wr, 0xFF);
		put_byte(&wr, 0xDD);
		put_byte(&wr, 0);
		put_byte(&wr, 4);
		put_byte(&wr, (uint8_t)(restart_interval >> 8));
		put_byte(&wr, (uint8_t)restart_interval);
	}
	/* SOS: one interleaved scan */
	put_byte(&wr, 0xFF);
	put_byte(&wr, 0xDA);
	put_byte(&wr, 0);
	put_byte(&wr, (uint8_t)(6 + 2 * nc));
	put_byte(&wr, (uint8_t)nc);
	for (unsigned c = 0; c < nc; c++) {
		put_byte(&wr, (uint8_t)(c + 1));
		put_byte(&wr, 0x00);
	}
	put_byte(&wr, (uint8_t)predictor);
	put_byte(&wr, 0);
	put_byte(&wr, (uint8_t)point_transform);
	unsigned rst = 0;
	size_t k = 0;
	for (size_t pix = 0; pix < n && !wr.overflow; pix++) {
		if (restart_interval && pix > 0 && pix % restart_interval == 0) {
			flush_bits(&wr);
			put_byte(&wr, 0xFF);
			put_byte(&wr, (uint8_t)(0xD0 + rst));
			rst = (rst + 1) & 7;
		}
		for (unsigned c = 0; c < nc; c++) {
			int32_t d = diffs[k++];
			int s = category(d);
			put_bits(&wr, code[s], len[s]);
			if (s > 0 && s < 16)
				put_bits(&wr, (uint32_t)(d < 0 ? d - 1 : d), s);
		}
	}
	flush_bits(&wr);
	put_byte(&wr, 0xFF);
	put_byte(&wr, 0xD9);
	if (wr.overflow) {
		rc = rp__err(err, RP_E_LIMIT, "JPEG lossless: output exceeds the %zu-byte buffer",
			     dst_capacity);
		goto out;
	}
	*dst_size = (size_t)(wr.p - dst);
	rc = RP_OK;
out:
	for (unsigned c = 0; c < 3; c++)
		free(planes[c]);
	free(diffs);
	return rc;
}

static int
jl_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	 struct rp_errbuf *err)
{
	(void)p;
	RP_TRY(rp_image_desc_check(img, err));
	if ((img->bits_allocated != 8 && img->bits_allocated != 16) || img->bits_stored < 2 ||
	    img->width > 65535 || img->height > 65535)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG lossless: BitsAllocated %u / BitsStored %u / %ux%u not "
			       "codable", img->bits_allocated, img->bits_stored, img->width,
			       img->height);
	return RP_OK;
}

static size_t
jl_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	if (jl_check(img, p, NULL) != RP_OK)
		return 0;
	/* At most 16 code bits + 16 extra bits per sample, doubled for worst-case byte
	 * stuffing, plus headers. */
	size_t n = (size_t)img->width * img->height * img->components, b;
	if (!rp__mul_size(n, 8, &b) || !rp__add_size(b, 1024, &b))
		return 0;
	return b;
}

static int
jl_encode_op(const struct rp_image_desc *img, const struct rp__encode_params *p,
	     const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	     size_t *dst_size, struct rp_errbuf *err)
{
	(void)p;
	RP_TRY(jl_check(img, p, err));
	/* First-order prediction (SV1): the .70 syntax every DICOM reader knows. */
	return rp__jpeg_lossless_encode(img, 1, 0, 0, src, src_size, dst, dst_capacity,
					dst_size, err);
}

static int
jl_decode_op(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	     uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	     struct rp_errbuf *err)
{
	(void)dp;
	return rp__jpeg_lossless_decode(img, src, src_size, dst, dst_capacity, err);
}

const struct rp__codec_ops rp__codec_jpeg_lossless = {
	.id = RP_CODEC_JPEG_LOSSLESS,
	.ts_lossless = "1.2.840.10008.1.2.4.70",
	.ts_lossy = NULL,
	.check = jl_check,
	.bound = jl_bound,
	.encode = jl_encode_op,
	.decode = jl_decode_op,
	.decoded_photometric = NULL,
};
