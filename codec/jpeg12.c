/* SPDX-License-Identifier: BSD-3-Clause */
/* codec/jpeg12.c - our decoder for 12-bit sequential DCT JPEG (ITU-T T.81 process 4,
 * Huffman), the 1.2.840.10008.1.2.4.51 frames that libjpeg-turbo 2.1.5 as Debian builds
 * it (8-bit only) refuses.  codec/jpeg.c calls it when libjpeg reports a 12-bit frame.
 *
 * Why our own: 12-bit lossy JPEG is what many older CT/MR/XA archives hold (the WG-04
 * *_JPLY images, MG1), and the only 12-bit decoders on a Debian 12 machine are private
 * copies inside GDCM and DCMTK.  Scope: greyscale (one component), baseline-style
 * sequential Huffman coding with restart intervals; the inverse DCT is the integer
 * "islow" algorithm of the IJG library (jidctint.c: Loeffler-Ligtenberg-Moschytz with
 * CONST_BITS 13 and, for 12-bit samples, PASS1_BITS 1), so that our pixels match what
 * GDCM and DCMTK decode.  Progressive, arithmetic, hierarchical and colour 12-bit JPEG
 * are RP_E_UNSUPPORTED.  Untrusted input is read through the bounds-checked reader of
 * codec/jpeg_huff.h; every coefficient index is checked. */
#include "codec/codec_impl.h"
#include "codec/jpeg12.h"
#include "codec/jpeg_huff.h"

/* T.81 Figure A.6: zig-zag position -> natural (row-major) index. */
static const uint8_t natural_order[64] = {
	0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

struct j12 {
	const uint8_t *p, *end;
	const struct rp_image_desc *img;
	struct rp_errbuf *err;
	struct jl_huff dc[4], ac[4];
	uint16_t qt[4][64];          /* natural order */
	bool qt_present[4];
	unsigned precision;
	uint32_t width, height;
	uint8_t comp_id, comp_tq;
	bool have_frame, done;
	uint32_t restart_interval;
	uint16_t *plane;             /* width x height decoded samples */
};

static int
j12_fail(struct j12 *d, int status, const char *what)
{
	return rp__err(d->err, status, "JPEG 12-bit: %s", what);
}

/* ---------------------------------------------------------------------------------- */
/* IJG islow inverse DCT, 12-bit flavour (jidctint.c). */

#define CONST_BITS 13
#define PASS1_BITS 1
#define FIX_0_298631336 2446
#define FIX_0_390180644 3196
#define FIX_0_541196100 4433
#define FIX_0_765366865 6270
#define FIX_0_899976223 7373
#define FIX_1_175875602 9633
#define FIX_1_501321110 12299
#define FIX_1_847759065 15137
#define FIX_1_961570560 16069
#define FIX_2_053119869 16819
#define FIX_2_562915447 20995
#define FIX_3_072711026 25172

/* Arithmetic right shift with rounding; int64 so that hostile coefficients cannot
 * overflow (valid data stays well inside 32 bits, where IJG computes). */
static inline int64_t
descale(int64_t x, int n)
{
	return (x + ((int64_t)1 << (n - 1))) >> n;
}

static void
idct_islow(const int32_t in[64], const uint16_t q[64], uint16_t *out, size_t stride,
	   unsigned rows, unsigned cols, int maxval)
{
	int64_t ws[64];
	for (int c = 0; c < 8; c++) {
		const int32_t *i = in + c;
		const uint16_t *k = q + c;
		if (!i[8] && !i[16] && !i[24] && !i[32] && !i[40] && !i[48] && !i[56]) {
			int64_t dc = ((int64_t)i[0] * k[0]) * (1 << PASS1_BITS);
			for (int r = 0; r < 8; r++)
				ws[8 * r + c] = dc;
			continue;
		}
		int64_t z1, z2, z3, z4, z5, t0, t1, t2, t3, t10, t11, t12, t13;
		z2 = (int64_t)i[16] * k[16];
		z3 = (int64_t)i[48] * k[48];
		z1 = (z2 + z3) * FIX_0_541196100;
		t2 = z1 + z3 * -FIX_1_847759065;
		t3 = z1 + z2 * FIX_0_765366865;
		z2 = (int64_t)i[0] * k[0];
		z3 = (int64_t)i[32] * k[32];
		t0 = (z2 + z3) * (1 << CONST_BITS);
		t1 = (z2 - z3) * (1 << CONST_BITS);
		t10 = t0 + t3;
		t13 = t0 - t3;
		t11 = t1 + t2;
		t12 = t1 - t2;
		t0 = (int64_t)i[56] * k[56];
		t1 = (int64_t)i[40] * k[40];
		t2 = (int64_t)i[24] * k[24];
		t3 = (int64_t)i[8] * k[8];
		z1 = t0 + t3;
		z2 = t1 + t2;
		z3 = t0 + t2;
		z4 = t1 + t3;
		z5 = (z3 + z4) * FIX_1_175875602;
		t0 *= FIX_0_298631336;
		t1 *= FIX_2_053119869;
		t2 *= FIX_3_072711026;
		t3 *= FIX_1_501321110;
		z1 *= -FIX_0_899976223;
		z2 *= -FIX_2_562915447;
		z3 *= -FIX_1_961570560;
		z4 *= -FIX_0_390180644;
		z3 += z5;
		z4 += z5;
		t0 += z1 + z3;
		t1 += z2 + z4;
		t2 += z2 + z3;
		t3 += z1 + z4;
		ws[8 * 0 + c] = descale(t10 + t3, CONST_BITS - PASS1_BITS);
		ws[8 * 7 + c] = descale(t10 - t3, CONST_BITS - PASS1_BITS);
		ws[8 * 1 + c] = descale(t11 + t2, CONST_BITS - PASS1_BITS);
		ws[8 * 6 + c] = descale(t11 - t2, CONST_BITS - PASS1_BITS);
		ws[8 * 2 + c] = descale(t12 + t1, CONST_BITS - PASS1_BITS);
		ws[8 * 5 + c] = descale(t12 - t1, CONST_BITS - PASS1_BITS);
		ws[8 * 3 + c] = descale(t13 + t0, CONST_BITS - PASS1_BITS);
		ws[8 * 4 + c] = descale(t13 - t0, CONST_BITS - PASS1_BITS);
	}
	const int center = (maxval + 1) / 2;
	for (unsigned r = 0; r < rows; r++) {
		const int64_t *w = ws + 8 * r;
		int64_t o[8];
		int64_t z1, z2, z3, z4, z5, t0, t1, t2, t3, t10, t11, t12, t13;
		z2 = w[2];
		z3 = w[6];
		z1 = (z2 + z3) * FIX_0_541196100;
		t2 = z1 + z3 * -FIX_1_847759065;
		t3 = z1 + z2 * FIX_0_765366865;
		t0 = (w[0] + w[4]) * (1 << CONST_BITS);
		t1 = (w[0] - w[4]) * (1 << CONST_BITS);
		t10 = t0 + t3;
		t13 = t0 - t3;
		t11 = t1 + t2;
		t12 = t1 - t2;
		t0 = w[7];
		t1 = w[5];
		t2 = w[3];
		t3 = w[1];
		z1 = t0 + t3;
		z2 = t1 + t2;
		z3 = t0 + t2;
		z4 = t1 + t3;
		z5 = (z3 + z4) * FIX_1_175875602;
		t0 *= FIX_0_298631336;
		t1 *= FIX_2_053119869;
		t2 *= FIX_3_072711026;
		t3 *= FIX_1_501321110;
		z1 *= -FIX_0_899976223;
		z2 *= -FIX_2_562915447;
		z3 *= -FIX_1_961570560;
		z4 *= -FIX_0_390180644;
		z3 += z5;
		z4 += z5;
		t0 += z1 + z3;
		t1 += z2 + z4;
		t2 += z2 + z3;
		t3 += z1 + z4;
		const int sh = CONST_BITS + PASS1_BITS + 3;
		o[0] = descale(t10 + t3, sh);
		o[7] = descale(t10 - t3, sh);
		o[1] = descale(t11 + t2, sh);
		o[6] = descale(t11 - t2, sh);
		o[2] = descale(t12 + t1, sh);
		o[5] = descale(t12 - t1, sh);
		o[3] = descale(t13 + t0, sh);
		o[4] = descale(t13 - t0, sh);
		uint16_t *dst = out + r * stride;
		for (unsigned c = 0; c < cols; c++) {
			int64_t v = o[c] + center;   /* undo the level shift (T.81 A.3.1) */
			dst[c] = (uint16_t)(v < 0 ? 0 : v > maxval ? maxval : v);
		}
	}
}

/* ---------------------------------------------------------------------------------- */
/* Markers */

static int
parse_dqt(struct j12 *d, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		unsigned pq = p[0] >> 4, tq = p[0] & 15;
		size_t need = 1 + 64 * (pq ? 2 : 1);
		if (tq > 3 || pq > 1 || (size_t)(end - p) < need)
			return j12_fail(d, RP_E_CORRUPT, "bad DQT segment");
		for (int k = 0; k < 64; k++)
			d->qt[tq][natural_order[k]] = pq ? rp__load_be16(p + 1 + 2 * k) : p[1 + k];
		d->qt_present[tq] = true;
		p += need;
	}
	return RP_OK;
}

static int
parse_dht(struct j12 *d, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		if (end - p < 17)
			return j12_fail(d, RP_E_CORRUPT, "DHT segment truncated");
		unsigned tc = p[0] >> 4, th = p[0] & 15, n = 0;
		for (int i = 0; i < 16; i++)
			n += p[1 + i];
		if (tc > 1 || th > 3 || n > 256 || (size_t)(end - p - 17) < n)
			return j12_fail(d, RP_E_CORRUPT, "bad DHT segment");
		if (build_huff(tc ? &d->ac[th] : &d->dc[th], p + 1, p + 17, n) != 0)
			return j12_fail(d, RP_E_CORRUPT, "DHT table has too many codes");
		p += 17 + n;
	}
	return RP_OK;
}

static int
parse_sof(struct j12 *d, unsigned marker, const uint8_t *p, const uint8_t *end)
{
	if (d->have_frame)
		return j12_fail(d, RP_E_CORRUPT, "second SOF marker");
	if (end - p < 6)
		return j12_fail(d, RP_E_CORRUPT, "SOF segment truncated");
	d->precision = p[0];
	d->height = rp__load_be16(p + 1);
	d->width = rp__load_be16(p + 3);
	unsigned nc = p[5];
	if (marker != 0xC1 && marker != 0xC0)
		return j12_fail(d, RP_E_UNSUPPORTED, "not a sequential Huffman DCT frame");
	if (d->precision != 12)
		return rp__err(d->err, RP_E_UNSUPPORTED, "JPEG 12-bit: precision %u", d->precision);
	if (nc != 1)
		return rp__err(d->err, RP_E_UNSUPPORTED,
			       "JPEG 12-bit: %u components (greyscale only)", nc);
	if ((size_t)(end - p) < 9)
		return j12_fail(d, RP_E_CORRUPT, "SOF component list truncated");
	if (d->height == 0)
		return j12_fail(d, RP_E_UNSUPPORTED, "height defined by a DNL marker");
	if (d->width != d->img->width || d->height != d->img->height ||
	    d->img->components != 1)
		return rp__err(d->err, RP_E_CORRUPT,
			       "JPEG 12-bit: codestream is %ux%u with 1 component, image is "
			       "%ux%u with %u", d->width, d->height, d->img->width,
			       d->img->height, d->img->components);
	d->comp_id = p[6];
	d->comp_tq = p[8];
	if (d->comp_tq > 3)
		return j12_fail(d, RP_E_CORRUPT, "quantisation table id out of range");
	d->plane = calloc((size_t)d->width * d->height, sizeof(uint16_t));
	if (!d->plane)
		return j12_fail(d, RP_E_NOMEM, "out of memory");
	d->have_frame = true;
	return RP_OK;
}

static inline int32_t
extend(uint32_t v, int s)
{
	/* T.81 F.2.2.1 EXTEND */
	return v < (1u << (s - 1)) ? (int32_t)v - (1 << s) + 1 : (int32_t)v;
}

static int
decode_scan(struct j12 *d, const uint8_t *hdr, const uint8_t *hdr_end)
{
	if (!d->have_frame)
		return j12_fail(d, RP_E_CORRUPT, "SOS before SOF");
	if (hdr_end - hdr < 6 || hdr[0] != 1)
		return j12_fail(d, RP_E_CORRUPT, "SOS must name the one component");
	if (hdr[1] != d->comp_id)
		return j12_fail(d, RP_E_CORRUPT, "SOS names a component not in SOF");
	unsigned td = hdr[2] >> 4, ta = hdr[2] & 15;
	if (td > 3 || ta > 3 || !d->dc[td].present || !d->ac[ta].present)
		return j12_fail(d, RP_E_CORRUPT, "SOS uses an undefined Huffman table");
	/* Ss/Se/Ah/Al (hdr[3..5]) mean nothing in a sequential frame; some encoders (the
	 * WG-04 *_JPLY images) leave them other than 0/63/0, and IJG only warns. */
	if (!d->qt_present[d->comp_tq])
		return j12_fail(d, RP_E_CORRUPT, "undefined quantisation table");
	const struct jl_huff *dct = &d->dc[td], *act = &d->ac[ta];
	const uint16_t *q = d->qt[d->comp_tq];
	struct jl_bits b = { .p = d->p, .end = d->end };
	const uint32_t bw = (d->width + 7) / 8, bh = (d->height + 7) / 8;
	int32_t pred = 0;
	uint32_t restart_left = d->restart_interval;
	unsigned expect_rst = 0;
	int32_t coef[64];
	for (uint32_t by = 0; by < bh; by++) {
		for (uint32_t bx = 0; bx < bw; bx++) {
			if (d->restart_interval && restart_left == 0) {
				RP_TRY(jl_read_restart(&b, &expect_rst, "JPEG 12-bit", d->err));
				restart_left = d->restart_interval;
				pred = 0;
			}
			memset(coef, 0, sizeof(coef));
			int s = huff_decode(&b, dct);
			if (s < 0 || s > 15)
				return j12_fail(d, RP_E_CORRUPT, "invalid DC code");
			if (s)
				pred += extend(bits_get(&b, s), s);
			coef[0] = pred;
			for (int k = 1; k < 64;) {
				int rs = huff_decode(&b, act);
				if (rs < 0)
					return j12_fail(d, RP_E_CORRUPT, "invalid AC code");
				int r = rs >> 4, sz = rs & 15;
				if (sz == 0) {
					if (r != 15)
						break;          /* EOB */
					k += 16;
					continue;
				}
				k += r;
				if (k > 63 || sz > 14)
					return j12_fail(d, RP_E_CORRUPT, "AC run past the block");
				coef[natural_order[k]] = extend(bits_get(&b, sz), sz);
				k++;
			}
			if (b.zero_fill > 8)
				return rp__err(d->err, RP_E_CORRUPT,
					       "JPEG 12-bit: scan data ends at block row %u of %u",
					       by, bh);
			unsigned rows = d->height - by * 8 < 8 ? d->height - by * 8 : 8;
			unsigned cols = d->width - bx * 8 < 8 ? d->width - bx * 8 : 8;
			idct_islow(coef, q, d->plane + (size_t)by * 8 * d->width + bx * 8,
				   d->width, rows, cols, 4095);
			if (d->restart_interval)
				restart_left--;
		}
	}
	if (bits_overran(&b))
		return j12_fail(d, RP_E_CORRUPT, "scan data ends early (truncated)");
	/* Past the scan: the next marker that is not RSTn. */
	const uint8_t *p = b.p;
	while (p + 1 < d->end &&
	       !(p[0] == 0xFF && p[1] != 0x00 && p[1] != 0xFF && !(p[1] >= 0xD0 && p[1] <= 0xD7)))
		p++;
	d->p = p + 1 < d->end ? p : d->end;
	d->done = true;
	return RP_OK;
}

int
rp__jpeg12_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
		  uint8_t *dst, size_t dst_capacity, struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	size_t frame = rp_image_frame_size(img);
	if (img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED,
			       "JPEG 12-bit: BitsAllocated %u (12-bit samples need 16)",
			       img->bits_allocated);
	if (dst_capacity < frame)
		return rp__err(err, RP_E_INVALID_ARG, "JPEG 12-bit: output buffer too small");
	struct j12 *d = calloc(1, sizeof(*d));
	if (!d)
		return rp__err(err, RP_E_NOMEM, "JPEG 12-bit: out of memory");
	d->p = src;
	d->end = src + src_size;
	d->img = img;
	d->err = err;
	int rc = RP_OK;
	if (src_size < 2 || src[0] != 0xFF || src[1] != 0xD8) {
		rc = j12_fail(d, RP_E_CORRUPT, "no SOI marker");
		goto out;
	}
	d->p += 2;
	while (!d->done) {
		while (d->p < d->end && d->p[0] != 0xFF)
			d->p++;
		while (d->p + 1 < d->end && d->p[1] == 0xFF)
			d->p++;
		if (d->end - d->p < 2) {
			rc = j12_fail(d, RP_E_CORRUPT, "data ends before the scan");
			goto out;
		}
		unsigned m = d->p[1];
		d->p += 2;
		if (m == 0xD9) {
			rc = j12_fail(d, RP_E_CORRUPT, "EOI before the scan");
			goto out;
		}
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
			continue;
		if (d->end - d->p < 2) {
			rc = j12_fail(d, RP_E_CORRUPT, "marker segment truncated");
			goto out;
		}
		size_t len = rp__load_be16(d->p);
		if (len < 2 || len > (size_t)(d->end - d->p)) {
			rc = j12_fail(d, RP_E_CORRUPT, "marker segment overruns the data");
			goto out;
		}
		const uint8_t *seg = d->p + 2, *seg_end = d->p + len;
		d->p = seg_end;
		switch (m) {
		case 0xC0: case 0xC1:
			rc = parse_sof(d, m, seg, seg_end);
			break;
		case 0xC2: case 0xC3: case 0xC5: case 0xC6: case 0xC7: case 0xC9: case 0xCA:
		case 0xCB: case 0xCD: case 0xCE: case 0xCF:
			rc = j12_fail(d, RP_E_UNSUPPORTED,
				      "progressive, lossless, hierarchical or arithmetic frame");
			break;
		case 0xC4:
			rc = parse_dht(d, seg, seg_end);
			break;
		case 0xDB:
			rc = parse_dqt(d, seg, seg_end);
			break;
		case 0xDD:
			if (seg_end - seg < 2)
				rc = j12_fail(d, RP_E_CORRUPT, "DRI segment truncated");
			else
				d->restart_interval = rp__load_be16(seg);
			break;
		case 0xDA:
			rc = decode_scan(d, seg, seg_end);
			break;
		default:
			break;
		}
		if (rc != RP_OK)
			goto out;
	}
	size_t n = (size_t)img->width * img->height;
	for (size_t k = 0; k < n; k++)
		rp__store_le16(dst + 2 * k, d->plane[k]);
	rp__frame_from_unsigned_bits(img, dst, frame);
out:
	free(d->plane);
	free(d);
	return rc;
}
