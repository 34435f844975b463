/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/ts.c - the transfer syntaxes we know (PS3.5 Section 10, PS3.6 Annex A). */
#include "dicom/dicom_impl.h"

#include <ctype.h>

#define NATIVE(uid, name, expl, be)                                                        \
	{ uid, name, expl, be, 0, 0, 0, RP_CODEC_NATIVE }
#define ENCAP(uid, name, lossy, codec) { uid, name, 1, 0, 0, 1, lossy, codec }

static const struct rp_ts_info ts_table[] = {
	NATIVE("1.2.840.10008.1.2", "Implicit VR Little Endian", 0, 0),
	NATIVE("1.2.840.10008.1.2.1", "Explicit VR Little Endian", 1, 0),
	NATIVE("1.2.840.10008.1.2.2", "Explicit VR Big Endian (retired)", 1, 1),
	{ "1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", 1, 0, 1, 0, 0,
	  RP_CODEC_DEFLATE },
	ENCAP("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", 1, RP_CODEC_JPEG),
	ENCAP("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", 1, RP_CODEC_JPEG),
	ENCAP("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", 0,
	      RP_CODEC_JPEG_LOSSLESS),
	ENCAP("1.2.840.10008.1.2.4.70", "JPEG Lossless, First-Order Prediction (Process 14 SV1)",
	      0, RP_CODEC_JPEG_LOSSLESS),
	ENCAP("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", 0, RP_CODEC_JPEGLS),
	ENCAP("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", 1, RP_CODEC_JPEGLS),
	ENCAP("1.2.840.10008.1.2.4.90", "JPEG 2000 (Lossless Only)", 0, RP_CODEC_J2K),
	ENCAP("1.2.840.10008.1.2.4.91", "JPEG 2000", 1, RP_CODEC_J2K),
	ENCAP("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", 0, RP_CODEC_JPEGXL),
	ENCAP("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)", 0,
	      RP_CODEC_HTJ2K),
	ENCAP("1.2.840.10008.1.2.4.202",
	      "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", 0, RP_CODEC_HTJ2K),
	ENCAP("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000", 1, RP_CODEC_HTJ2K),
	ENCAP("1.2.840.10008.1.2.5", "RLE Lossless", 0, RP_CODEC_RLE),
};

const struct rp_ts_info *
rp_ts_lookup(const char *uid)
{
	if (!uid)
		return NULL;
	size_t n = strlen(uid);
	/* UI values are NUL-padded to even length; tolerate stray spaces too. */
	while (n && (uid[n - 1] == '\0' || isspace((unsigned char)uid[n - 1])))
		n--;
	for (size_t i = 0; i < sizeof(ts_table) / sizeof(ts_table[0]); i++)
		if (strlen(ts_table[i].uid) == n && memcmp(ts_table[i].uid, uid, n) == 0)
			return &ts_table[i];
	return NULL;
}

const struct rp_ts_info *
rp_ts_at(size_t index)
{
	return index < sizeof(ts_table) / sizeof(ts_table[0]) ? &ts_table[index] : NULL;
}
