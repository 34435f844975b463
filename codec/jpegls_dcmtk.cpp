// SPDX-License-Identifier: BSD-3-Clause
// codec/jpegls_dcmtk.cpp - the second JPEG-LS decoder, over DCMTK's dcmjpls.  DCMTK's C++
// and its headers stay in this file; codec/jpegls.c sees rp__jpegls_dcmtk_decode().
//
// Why DCMTK's codec class and not its CharLS fork directly: Debian installs the fork's
// library (libdcmtkcharls) but not its headers (intrface.h, pubtypes.h), so JpegLsDecode's
// JlsParameters layout is nobody's public contract.  DJLSDecoderBase::decodeFrame() is
// the public, documented entry (dcmdata calls it for frame-by-frame decoding): it takes a
// pixel sequence and the item holding the image attributes, checks the codestream's
// header against Columns/Rows/SamplesPerPixel and the bytes per sample, and decodes
// into the caller's buffer.  So the codestream goes into a one-fragment pixel sequence
// beside a minimal item built from the frame the caller expects.
//
// The fork and CharLS 2 export the same CharLS 1 function names (see codec/sources.cmake);
// fork_is_bound() checks that the process resolved them to the fork before any decode.
//
// Errors: DCMTK reports through OFCondition; the only exception it can raise is
// std::bad_alloc, caught here: no C++ exception crosses into C.
extern "C" {
#include "codec/codec_impl.h"
}
#include "codec/jpegls_dcmtk.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcitem.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcvrcs.h"
#include "dcmtk/dcmdata/dcvrus.h"
#include "dcmtk/dcmjpls/djcodecd.h"
#include "dcmtk/dcmjpls/djcparam.h"

#include <dlfcn.h>
#include <string.h>
#include <new>

namespace {

// The item owns what is inserted; a failed insert leaves the element with us.
OFCondition
put_us(DcmItem &item, const DcmTagKey &key, Uint16 value)
{
	// The VR is given so that no data dictionary is needed.
	DcmUnsignedShort *e = new DcmUnsignedShort(DcmTag(key, EVR_US));
	OFCondition c = e->putUint16(value);
	if (c.good())
		c = item.insert(e, OFTrue);
	if (c.bad())
		delete e;
	return c;
}

OFCondition
put_cs(DcmItem &item, const DcmTagKey &key, const char *value)
{
	DcmCodeString *e = new DcmCodeString(DcmTag(key, EVR_CS));
	OFCondition c = e->putString(value);
	if (c.good())
		c = item.insert(e, OFTrue);
	if (c.bad())
		delete e;
	return c;
}

OFCondition
decode(const uint8_t *src, size_t src_size, const struct rp__jls_frame *f, uint8_t *dst,
       size_t dst_size)
{
	DcmItem item;
	// BitsAllocated follows the codestream's P, so that DCMTK's bytes-per-sample rule
	// (2 when BitsStored or BitsAllocated > 8) gives the 1- or 2-byte samples the caller
	// sized dst for; the caller widens to its container.
	OFCondition c = put_us(item, DCM_Rows, (Uint16)f->height);
	if (c.good())
		c = put_us(item, DCM_Columns, (Uint16)f->width);
	if (c.good())
		c = put_us(item, DCM_SamplesPerPixel, f->components);
	if (c.good())
		c = put_us(item, DCM_BitsAllocated, f->bits <= 8 ? 8 : 16);
	if (c.good())
		c = put_us(item, DCM_BitsStored, f->bits);
	if (c.good())
		c = put_us(item, DCM_PlanarConfiguration, 0);
	// decodeFrame() returns the stored colour model; the value is not otherwise used.
	if (c.good())
		c = put_cs(item, DCM_PhotometricInterpretation,
			   f->components == 1 ? "MONOCHROME2" : "RGB");
	if (c.bad())
		return c;

	DcmPixelSequence seq(DcmTag(DCM_PixelData, EVR_OB));
	DcmPixelItem *table = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
	c = seq.insert(table);
	if (c.bad()) {
		delete table;
		return c;
	}
	DcmPixelItem *frag = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
	c = frag->putUint8Array(src, (Uint32)src_size);
	if (c.good())
		c = seq.insert(frag);
	if (c.bad()) {
		delete frag;
		return c;
	}

	// Canonical frames interleave colour samples: ask for colour-by-pixel output
	// whatever the codestream's interleave mode.
	DJLSCodecParameter cp(EJLSUC_default, EJLSPC_colorByPixel);
	// decodeFrame() does not depend on which of the two transfer syntaxes the class
	// serves: NEAR comes from the codestream.
	DJLSLosslessDecoder codec;
	Uint32 fragment = 1; // after the (empty) Basic Offset Table
	OFString colour;
	return codec.decodeFrame(NULL, &seq, &cp, &item, 0, fragment, dst, (Uint32)dst_size,
				 colour);
}

// Whether the CharLS 1 names libdcmjpls calls resolve to DCMTK's fork in this process.
// They resolve in the global scope, as dlsym(RTLD_DEFAULT) looks them up; CharLS 2's
// libcharls ahead of the fork would take the fork's JlsParameters for its own layout.
bool
fork_is_bound()
{
	static const char *const names[] = {"JpegLsReadHeader", "JpegLsDecode"};
	for (const char *name : names) {
		void *sym = dlsym(RTLD_DEFAULT, name);
		Dl_info info;
		if (!sym || !dladdr(sym, &info) || !info.dli_fname ||
		    !strstr(info.dli_fname, "dcmtkcharls"))
			return false;
	}
	return true;
}

} // namespace

extern "C" int
rp__jpegls_dcmtk_available(void)
{
	static const bool bound = fork_is_bound();
	return bound;
}

extern "C" int
rp__jpegls_dcmtk_decode(const uint8_t *src, size_t src_size,
			const struct rp__jls_frame *expect, uint8_t *dst, size_t dst_capacity,
			struct rp_errbuf *err)
{
	if (!rp__jpegls_dcmtk_available())
		return rp__err(err, RP_E_UNSUPPORTED,
			       "DCMTK's CharLS fork is shadowed by CharLS 2's JpegLsDecode in this "
			       "process (link libdcmtkcharls before libcharls)");
	if (expect->bits < 2 || expect->bits > 16 || expect->width == 0 ||
	    expect->width > 65535 || expect->height == 0 || expect->height > 65535 ||
	    (expect->components != 1 && expect->components != 3))
		return rp__err(err, RP_E_UNSUPPORTED,
			       "DCMTK decodes 1 or 3 components of 2-16 bits up to 65535x65535");
	size_t need = (size_t)expect->width * expect->height * expect->components *
		      (expect->bits <= 8 ? 1 : 2);
	if (dst_capacity < need || need > 0xFFFFFFFFu || src_size > 0xFFFFFFF0u)
		return rp__err(err, RP_E_LIMIT, "DCMTK JPEG-LS: frame of %zu bytes too large",
			       need);
	try {
		OFCondition c = decode(src, src_size, expect, dst, need);
		if (c.bad())
			return rp__err(err, RP_E_CORRUPT, "DCMTK dcmjpls: %s", c.text());
		return RP_OK;
	} catch (const std::bad_alloc &) {
		return rp__err(err, RP_E_NOMEM, "DCMTK dcmjpls: out of memory");
	}
}
