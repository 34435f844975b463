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
 * Supported: 2..16-bit precision, 1..4 components with 1x1 sampling, interleaved or one
 * scan per component, restart intervals, any Pt.  Not supported (RP_E_UNSUPPORTED):
 * hierarchical/differential processes, arithmetic coding, DNL-defined heights,
 * subsampled components.  The decoder writes unsigned P-bit values; DICOM's sign (Pixel
 * Representation) is re-applied through rp__frame_from_unsigned_bits(). */
#include "codec/codec_impl.h"
#include "codec/jpeg_lossless.h"

#define JL_MAX_COMPS 4

struct jl_huff {
	bool present;
	int32_t maxcode[18];         /* largest code of each length, -1 when none */
	int32_t valptr[17];          /* index into vals of the first code of that length */
	int32_t mincode[17];
	uint16_t look[256];          /* 8-bit lookahead: (length << 8) | value, 0 = slow */
	uint8_t vals[256];
	uint16_t nvals;
};

struct jl_comp {
	uint8_t id;
	uint8_t h, v;
	uint16_t *plane;             /* reconstructed samples, width * height */
};

struct jl_bits {
	const uint8_t *p, *end;      /* entropy-coded bytes; p stops at a marker */
	uint64_t acc;                /* bits, left-aligned */
	int nbits;
	int zero_fill;               /* bytes invented past a marker or the end */
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
	struct rp_errbuf *err;
};

static int
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
static void
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
		for (uint32_t x = 0; x < w; x++) {
			if (d->restart_interval && restart_left == 0) {
				/* Byte-align, expect RSTn, reset predictors. */
				b.acc = 0;
				b.nbits = 0;
				if (b.zero_fill > 8)
					return jl_fail(d, RP_E_CORRUPT,
						       "scan data ends before a restart marker");
				b.zero_fill = 0;
				while (b.p + 1 < b.end && b.p[0] == 0xFF && b.p[1] == 0xFF)
					b.p++;
				if (b.p + 1 >= b.end || b.p[0] != 0xFF ||
				    b.p[1] != 0xD0 + expect_rst)
					return jl_fail(d, RP_E_CORRUPT,
						       "restart marker missing or out of order");
				b.p += 2;
				expect_rst = (expect_rst + 1) & 7;
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
	if (d.width != img->width || d.height != img->height || d.ncomp != img->components) {
		rp__err(err, rc,
			"JPEG lossless: codestream is %ux%u with %u components, image is %ux%u "
			"with %u", d.width, d.height, d.ncomp, img->width, img->height,
			img->components);
		goto out;
	}
	if (d.precision > bps * 8) {
		rp__err(err, rc, "JPEG lossless: %u-bit samples do not fit BitsAllocated %u",
			d.precision, img->bits_allocated);
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

static int
jl_decode_op(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	     uint8_t *dst, size_t dst_capacity, struct rp_pool *pool, struct rp_errbuf *err)
{
	(void)pool;
	return rp__jpeg_lossless_decode(img, src, src_size, dst, dst_capacity, err);
}

const struct rp__codec_ops rp__codec_jpeg_lossless = {
	.id = RP_CODEC_JPEG_LOSSLESS,
	.ts_lossless = "1.2.840.10008.1.2.4.70",
	.ts_lossy = NULL,
	.check = NULL,
	.bound = NULL,
	.encode = NULL,
	.decode = jl_decode_op,
	.decoded_photometric = NULL,
};
