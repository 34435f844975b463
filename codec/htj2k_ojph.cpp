// SPDX-License-Identifier: BSD-3-Clause
// codec/htj2k_ojph.cpp - High-Throughput JPEG 2000 (ISO/IEC 15444-15) over OpenJPH:
// encodes 1.2.840.10008.1.2.4.201 (HTJ2K lossless, reversible 5/3, RPCL) and decodes
// .201/.202/.203.  OpenJPH's C++ and its headers stay in this file; the rest of the
// library sees one `extern "C"` ops table.
//
// Where OpenJPH refuses a codestream (it only decodes HT code-blocks; mixed or Part 1
// code-blocks, JPH boxes and some marker combinations are outside it), the frame goes to
// OpenJPEG's HTJ2K decoder (codec/j2k.c) instead, and only when both fail is the frame
// reported, with both reasons.  Irreversible (lossy) streams go to OpenJPEG first: see
// htj2k_decode() for the measured reason.
//
// Errors: OpenJPH reports by throwing (see install_handlers); everything is caught at
// this file's boundary: no C++ exception crosses into C.
//
// Sign: OpenJPH codes signed components natively (SIZ Ssiz).  The signed 16-bit path is
// checked by tests/test_codec_htj2k.c against OpenJPEG's decode of the same codestream.
// codec_impl.h and common/internal.h are C headers without C++ guards.
extern "C" {
#include "codec/codec_impl.h"
#include "codec/j2k_internal.h"
}

#include <openjph/ojph_arch.h>
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>
#include <openjph/ojph_version.h>

#include <cstdio>
#include <stdio.h>
#include <sys/types.h>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace {

const char *const ts_lossless = "1.2.840.10008.1.2.4.201";
const char *const ts_lossy = "1.2.840.10008.1.2.4.203";

struct ojph_failure : std::runtime_error {
	explicit ojph_failure(const std::string &s) : std::runtime_error(s) {}
};

// OpenJPH 0.9 reports an error by printing it to its error stream and throwing
// std::runtime_error("ojph error").  Its configure_error()/configure_warning() are empty
// functions in 0.9 (checked in the Debian build: they return at once), and a NULL stream
// crashes, so the streams go to a FILE of our own (fopencookie) whose writes land in a
// per-thread buffer: a library never prints, and the text becomes the error we report.
// stdio locks the FILE around each call, and the thread that fails is the one that
// prints, so the thread_local buffer sees only its own message.
thread_local std::string ojph_text;
std::once_flag handlers_once;

ssize_t
sink_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	if (ojph_text.size() < 512)
		ojph_text.append(buf, size);
	return (ssize_t)size;
}

void
install_handlers()
{
	std::call_once(handlers_once, [] {
		cookie_io_functions_t io = {};
		io.write = sink_write;
		FILE *sink = fopencookie(nullptr, "w", io);
		if (!sink)
			throw std::bad_alloc();
		setvbuf(sink, nullptr, _IONBF, 0);
		ojph::set_error_stream(sink);
		ojph::set_warning_stream(sink);
		ojph::set_info_stream(sink);
	});
	ojph_text.clear();
}

// "ojph error 0x... at file:line: text" -> the text (the exception says only "ojph error").
std::string
ojph_reason(const char *what)
{
	std::string t = ojph_text;
	size_t colon = t.rfind(": ");
	if (colon != std::string::npos)
		t = t.substr(colon + 2);
	while (!t.empty() && (t.back() == '\n' || t.back() == ' '))
		t.pop_back();
	return t.empty() ? std::string(what) : t;
}

int
htj2k_check(const struct rp_image_desc *img, const struct rp__encode_params *p,
	    struct rp_errbuf *err)
{
	RP_TRY(rp_image_desc_check(img, err));
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "HTJ2K: BitsAllocated %u (8 or 16 supported)",
			       img->bits_allocated);
	if (img->is_signed && img->bits_stored < 2)
		return rp__err(err, RP_E_UNSUPPORTED, "HTJ2K: signed 1-bit samples");
	if (p && (p->lossy_ratio > 0 || p->near_lossless > 0))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "HTJ2K (OpenJPH): only lossless encoding is implemented");
	return RP_OK;
}

size_t
htj2k_bound(const struct rp_image_desc *img, const struct rp__encode_params *p)
{
	if (htj2k_check(img, p, nullptr) != RP_OK)
		return 0;
	// HT cleanup coding can expand noise a little more than Part 1 MQ coding.
	size_t n = rp_image_frame_size(img), b;
	if (!rp__add_size(n, n / 2, &b) || !rp__add_size(b, 16384, &b))
		return 0;
	return b;
}

unsigned
levels_for(uint32_t w, uint32_t h)
{
	uint32_t m = w < h ? w : h;
	unsigned l = 0;
	while (l < 5 && (m >> (l + 1)) > 0)
		l++;
	return l;
}

int
encode_impl(const struct rp_image_desc *img, const uint8_t *src, uint8_t *dst,
	    size_t dst_capacity, size_t *dst_size, struct rp_errbuf *err)
{
	const unsigned nc = img->components;
	const size_t bps = rp__sample_bytes(img), stride = bps * nc;
	const uint32_t w = img->width, h = img->height;

	ojph::codestream cs;
	ojph::param_siz siz = cs.access_siz();
	siz.set_image_extent(ojph::point(w, h));
	siz.set_image_offset(ojph::point(0, 0));
	siz.set_tile_size(ojph::size(w, h));
	siz.set_tile_offset(ojph::point(0, 0));
	siz.set_num_components(nc);
	for (unsigned c = 0; c < nc; c++)
		siz.set_component(c, ojph::point(1, 1), img->bits_stored, img->is_signed != 0);
	ojph::param_cod cod = cs.access_cod();
	cod.set_num_decomposition(levels_for(w, h));
	cod.set_block_dims(64, 64);
	cod.set_progression_order("RPCL");
	cod.set_color_transform(false);
	cod.set_reversible(true);
	cs.set_planar(false);

	ojph::mem_outfile out;
	out.open();
	cs.write_headers(&out);
	ojph::ui32 comp = 0;
	ojph::line_buf *line = cs.exchange(nullptr, comp);
	for (uint32_t y = 0; y < h; y++) {
		for (unsigned k = 0; k < nc; k++) {
			if (comp >= nc)
				throw ojph_failure("OpenJPH asked for an unknown component");
			const uint8_t *s = src + (size_t)y * w * stride + comp * bps;
			ojph::si32 *d = line->i32;
			if (bps == 1) {
				for (uint32_t x = 0; x < w; x++)
					d[x] = img->is_signed ? (int8_t)s[x * stride] : s[x * stride];
			} else {
				for (uint32_t x = 0; x < w; x++) {
					uint16_t v = rp__load_le16(s + x * stride);
					d[x] = img->is_signed ? (int16_t)v : v;
				}
			}
			// OpenJPH's line may be wider than the image (SIMD padding) and is
			// not cleared between uses: zero the tail so that the output depends on
			// the pixels only.
			for (size_t x = w; x < line->size; x++)
				d[x] = 0;
			line = cs.exchange(line, comp);
		}
	}
	cs.flush();
	// codestream::close() also closes (and frees) the memory file: copy first.
	size_t size = (size_t)out.tell();
	int rc = RP_OK;
	if (size > dst_capacity)
		rc = rp__err(err, RP_E_LIMIT, "HTJ2K: output (%zu bytes) exceeds the %zu-byte "
			     "buffer", size, dst_capacity);
	else
		memcpy(dst, out.get_data(), size);
	cs.close();
	*dst_size = rc == RP_OK ? size : 0;
	return rc;
}

int
htj2k_encode(const struct rp_image_desc *img, const struct rp__encode_params *p,
	     const uint8_t *src, size_t src_size, uint8_t *dst, size_t dst_capacity,
	     size_t *dst_size, struct rp_errbuf *err)
{
	RP_TRY(htj2k_check(img, p, err));
	if (src_size != rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "HTJ2K: frame is %zu bytes, expected %zu",
			       src_size, rp_image_frame_size(img));
	if (!rp__frame_high_bits_clean(img, src, src_size))
		return rp__err(err, RP_E_UNSUPPORTED, "HTJ2K: samples carry bits above "
			       "BitsStored %u", img->bits_stored);
	install_handlers();
	try {
		return encode_impl(img, src, dst, dst_capacity, dst_size, err);
	} catch (const std::bad_alloc &) {
		return rp__err(err, RP_E_NOMEM, "HTJ2K: out of memory in OpenJPH");
	} catch (const std::exception &e) {
		return rp__err(err, RP_E_INTERNAL, "OpenJPH encoder: %s",
			       ojph_reason(e.what()).c_str());
	} catch (...) {
		return rp__err(err, RP_E_INTERNAL, "OpenJPH encoder: unknown exception");
	}
}

// Returns RP_OK, a final error (mismatch with img, range), or RP_E_UNSUPPORTED with
// `refused` set when OpenJPH could not take the codestream (the caller falls back).
int
decode_impl(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	    uint8_t *dst, struct rp_errbuf *err)
{
	const unsigned nc = img->components;
	const size_t bps = rp__sample_bytes(img), stride = bps * nc;
	const uint32_t w = img->width, h = img->height;
	const unsigned bs = img->bits_stored;

	ojph::mem_infile in;
	in.open(src, src_size);
	ojph::codestream cs;
	cs.read_headers(&in);
	ojph::param_siz siz = cs.access_siz();
	ojph::point ext = siz.get_image_extent(), off = siz.get_image_offset();
	if (ext.x - off.x != w || ext.y - off.y != h || siz.get_num_components() != nc) {
		int rc = rp__err(err, RP_E_CORRUPT, "HTJ2K: codestream is %ux%u with %u "
				 "components, image is %ux%u with %u", ext.x - off.x,
				 ext.y - off.y, siz.get_num_components(), w, h, nc);
		cs.close();
		return rc;
	}
	bool sgnd[3] = { false, false, false };
	int64_t cmin[3] = { 0, 0, 0 }, cmax[3] = { 0, 0, 0 };
	for (unsigned c = 0; c < nc; c++) {
		ojph::point ds = siz.get_downsampling(c);
		if (ds.x != 1 || ds.y != 1) {
			cs.close();
			return rp__err(err, RP_E_UNSUPPORTED, "HTJ2K: component %u is subsampled",
				       c);
		}
		sgnd[c] = siz.is_signed(c);
		unsigned prec = siz.get_bit_depth(c);
		if (prec == 0 || prec > 30) {
			cs.close();
			return rp__err(err, RP_E_CORRUPT, "HTJ2K: component %u precision %u", c,
				       prec);
		}
		cmin[c] = sgnd[c] ? -((int64_t)1 << (prec - 1)) : 0;
		cmax[c] = sgnd[c] ? ((int64_t)1 << (prec - 1)) - 1 : ((int64_t)1 << prec) - 1;
	}
	cs.set_planar(false);
	cs.create();
	const uint32_t mask = (1u << bs) - 1;
	const int64_t lo_any = -((int64_t)1 << (bs - 1));
	for (uint32_t y = 0; y < h; y++) {
		for (unsigned k = 0; k < nc; k++) {
			ojph::ui32 comp = 0;
			ojph::line_buf *line = cs.pull(comp);
			if (!line || comp >= nc)
				throw ojph_failure("OpenJPH returned no line");
			uint8_t *o = dst + (size_t)y * w * stride + comp * bps;
			const ojph::si32 *s = line->i32;
			bool reinterpret = sgnd[comp] != (img->is_signed != 0);
			for (uint32_t x = 0; x < w; x++) {
				int64_t v = s[x];
				// Clamp to the component's own range, as OpenJPEG does: the
				// irreversible path rounds past it (lossy .203 frames), the
				// reversible one cannot (T.800 G.1.2).
				v = v < cmin[comp] ? cmin[comp] : v > cmax[comp] ? cmax[comp] : v;
				// Same rule as codec/j2k.c: the codestream's bits, read the way
				// Pixel Representation says; out-of-range is corrupt.
				if (v < (img->is_signed || reinterpret ? lo_any : 0) ||
				    v > (int64_t)(img->is_signed && !reinterpret ? mask >> 1 : mask)) {
					cs.close();
					return rp__err(err, RP_E_CORRUPT,
						       "HTJ2K: sample %lld of component %u does not "
						       "fit BitsStored %u", (long long)v, comp, bs);
				}
				if (reinterpret) {
					uint32_t u = (uint32_t)v & mask;
					v = img->is_signed && (u >> (bs - 1)) ?
						    (int64_t)u - mask - 1 : (int64_t)u;
				}
				if (bps == 1)
					o[x * stride] = (uint8_t)v;
				else
					rp__store_le16(o + x * stride, (uint16_t)v);
			}
		}
	}
	cs.close();
	return RP_OK;
}

// OpenJPH's attempt: RP_OK, a final error (the codestream disagrees with img), or 1
// when OpenJPH cannot take the codestream, with the reason in `why`.
int
ojph_attempt(const struct rp_image_desc *img, const uint8_t *src, size_t src_size, long off,
	     uint8_t *dst, struct rp_errbuf *err, std::string &why)
{
	if (off != 0) {
		why = "JPH file format (boxes) not read by OpenJPH";
		return 1;
	}
	struct rp_errbuf cut = {};
	if (rp__j2k_check_complete(src, src_size, &cut) != RP_OK) {
		// OpenJPH decodes a truncated stream as if the rest were zero: leave it to
		// OpenJPEG's strict mode, which reports it.
		why = cut.msg;
		return 1;
	}
	install_handlers();
	try {
		return decode_impl(img, src, src_size, dst, err);
	} catch (const std::bad_alloc &) {
		return rp__err(err, RP_E_NOMEM, "HTJ2K: out of memory in OpenJPH");
	} catch (const std::exception &e) {
		why = ojph_reason(e.what());
	} catch (...) {
		why = "unknown exception";
	}
	return 1;
}

int
htj2k_decode(const struct rp_image_desc *img, const uint8_t *src, size_t src_size,
	     uint8_t *dst, size_t dst_capacity, const struct rp__decode_params *dp,
	     struct rp_errbuf *err)
{
	struct rp_pool *pool = dp ? dp->pool : nullptr;
	RP_TRY(rp_image_desc_check(img, err));
	if (img->bits_allocated != 8 && img->bits_allocated != 16)
		return rp__err(err, RP_E_UNSUPPORTED, "HTJ2K: BitsAllocated %u",
			       img->bits_allocated);
	if (dst_capacity < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "HTJ2K: output buffer too small");
	long off = rp__j2k_codestream_offset(src, src_size);
	if (off < 0)
		return rp__err(err, RP_E_CORRUPT, "HTJ2K: no codestream (FF4F) or JPH signature");

	// Which decoder goes first.  OpenJPH for reversible (lossless) streams: on every
	// one we have (corpus .201, the conformance set, our own output signed and
	// unsigned) it matches OpenJPEG bit for bit.  OpenJPEG for irreversible ones:
	// OpenJPH 0.9 silently mis-decodes the conformance stream ds1_ht_04_b9 (12-bit 9/7,
	// 64 tiles; peak error 956 against the Part 1 twin p1_04, which OpenJPEG matches
	// exactly), so for lossy .203 frames it is only the second choice.
	struct rp__j2k_siz siz;
	bool reversible = rp__j2k_probe(src, src_size, &siz, nullptr) == RP_OK && siz.reversible;
	std::string why;
	struct rp_errbuf opj_err = {};
	int rc;
	if (!reversible) {
		rc = rp__j2k_decode_openjpeg(img, src, src_size, dst, dst_capacity, pool,
					     &opj_err);
		if (rc == RP_OK)
			return RP_OK;
		rc = ojph_attempt(img, src, src_size, off, dst, err, why);
		if (rc <= 0)
			return rc;
		return rp__err(err, RP_E_CORRUPT, "HTJ2K: %s; OpenJPH: %s", opj_err.msg,
			       why.c_str());
	}
	rc = ojph_attempt(img, src, src_size, off, dst, err, why);
	if (rc <= 0)
		return rc;
	rc = rp__j2k_decode_openjpeg(img, src, src_size, dst, dst_capacity, pool, &opj_err);
	if (rc == RP_OK)
		return RP_OK;
	return rp__err(err, rc, "HTJ2K: OpenJPH: %s; %s", why.c_str(), opj_err.msg);
}

enum rp_photometric
htj2k_decoded_photometric(enum rp_photometric stored)
{
	if (stored == RP_PHOTOMETRIC_YBR_RCT || stored == RP_PHOTOMETRIC_YBR_ICT)
		return RP_PHOTOMETRIC_RGB;
	return stored;
}

} // namespace

extern "C" {

extern const struct rp__codec_ops rp__codec_htj2k_ojph;

const struct rp__codec_ops rp__codec_htj2k_ojph = {
	.id = RP_CODEC_HTJ2K_OJPH,
	.ts_lossless = ts_lossless,
	.ts_lossy = ts_lossy,
	.ts_lossless_profile = "1.2.840.10008.1.2.4.202",
	.in_lossless_profile = rp__htj2k_is_rpcl_lossless,
	.check = htj2k_check,
	.bound = htj2k_bound,
	.encode = htj2k_encode,
	.decode = htj2k_decode,
	.decoded_photometric = htj2k_decoded_photometric,
	.encoded_photometric = nullptr,
	.state_new = nullptr,
	.state_free = nullptr,
};

} // extern "C"

// OpenJPH alone (see codec/j2k_internal.h).
extern "C" int
rp__htj2k_ojph_decode_only(const struct rp_image_desc *img, const uint8_t *src,
			   size_t src_size, uint8_t *dst, size_t dst_capacity,
			   struct rp_errbuf *err)
{
	int rc = rp_image_desc_check(img, err);
	if (rc != RP_OK)
		return rc;
	if ((img->bits_allocated != 8 && img->bits_allocated != 16) ||
	    dst_capacity < rp_image_frame_size(img))
		return rp__err(err, RP_E_INVALID_ARG, "HTJ2K: bad image or buffer");
	rc = rp__j2k_check_complete(src, src_size, err);
	if (rc != RP_OK)
		return rc;
	install_handlers();
	try {
		return decode_impl(img, src, src_size, dst, err);
	} catch (const std::exception &e) {
		return rp__err(err, RP_E_UNSUPPORTED, "OpenJPH: %s", ojph_reason(e.what()).c_str());
	} catch (...) {
		return rp__err(err, RP_E_UNSUPPORTED, "OpenJPH: unknown exception");
	}
}

#define RP__STR2(x) #x
#define RP__STR(x) RP__STR2(x)
extern "C" const char *
rp__htj2k_ojph_version(void)
{
	return RP__STR(OPENJPH_VERSION_MAJOR) "." RP__STR(OPENJPH_VERSION_MINOR) "."
	       RP__STR(OPENJPH_VERSION_PATCH);
}
