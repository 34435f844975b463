/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/dict.c - tag -> VR from the DICOM data dictionary (PS3.6), for reading and
 * re-encoding implicit-VR datasets. */
#include "dicom/dicom_impl.h"

struct rp__dict_entry {
	uint32_t tag;
	uint16_t vr;
};

struct rp__dict_range {
	uint16_t g0, g1, e0, e1;
	uint16_t vr;
};

#include "dicom/dict_table.inc"

uint16_t
rp__dict_vr(uint32_t tag)
{
	uint16_t group = (uint16_t)(tag >> 16), elem = (uint16_t)tag;
	if (elem == 0)
		return VR(UL);               /* group length, PS3.5 7.2 */
	if (group & 1)
		return (elem >= 0x0010 && elem <= 0x00FF) ? VR(LO) : VR(UN); /* private */
	size_t lo = 0, hi = sizeof(dict_exact) / sizeof(dict_exact[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dict_exact[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sizeof(dict_exact) / sizeof(dict_exact[0]) && dict_exact[lo].tag == tag)
		return dict_exact[lo].vr;
	for (size_t i = 0; i < sizeof(dict_ranges) / sizeof(dict_ranges[0]); i++) {
		const struct rp__dict_range *r = &dict_ranges[i];
		if (group >= r->g0 && group <= r->g1 && elem >= r->e0 && elem <= r->e1)
			return r->vr;
	}
	return VR(UN);
}

bool
rp__vr_long(uint16_t vr)
{
	switch (vr) {
	case VR(OB): case VR(OD): case VR(OF): case VR(OL): case VR(OV): case VR(OW):
	case VR(SQ): case VR(UC): case VR(UN): case VR(UR): case VR(UT): case VR(SV):
	case VR(UV):
		return true;
	default:
		return false;
	}
}

unsigned
rp__vr_swap_unit(uint16_t vr)
{
	switch (vr) {
	case VR(US): case VR(SS): case VR(OW): case VR(XS):
		return 2;
	case VR(AT):        /* pairs of 16-bit group, element */
		return 2;
	case VR(UL): case VR(SL): case VR(FL): case VR(OF): case VR(OL):
		return 4;
	case VR(FD): case VR(OD): case VR(SV): case VR(UV): case VR(OV):
		return 8;
	default:
		return 1;
	}
}
