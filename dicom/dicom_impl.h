/* SPDX-License-Identifier: BSD-3-Clause */
/* dicom/dicom_impl.h - the parsed dataset and the element reader shared by the
 * parser, the frame access code and the writer. */
#ifndef RP_DICOM_IMPL_H
#define RP_DICOM_IMPL_H

#include "common/internal.h"

#define RP__VR(a, b) ((uint16_t)(((a) << 8) | (b)))
/* Value representations (PS3.5 6.2) as 16-bit codes, usable in case labels. */
enum rp__vr_code {
	RP__VR_AE = RP__VR('A', 'E'),
	RP__VR_AS = RP__VR('A', 'S'),
	RP__VR_AT = RP__VR('A', 'T'),
	RP__VR_CS = RP__VR('C', 'S'),
	RP__VR_DA = RP__VR('D', 'A'),
	RP__VR_DS = RP__VR('D', 'S'),
	RP__VR_DT = RP__VR('D', 'T'),
	RP__VR_FD = RP__VR('F', 'D'),
	RP__VR_FL = RP__VR('F', 'L'),
	RP__VR_IS = RP__VR('I', 'S'),
	RP__VR_LO = RP__VR('L', 'O'),
	RP__VR_LT = RP__VR('L', 'T'),
	RP__VR_OB = RP__VR('O', 'B'),
	RP__VR_OD = RP__VR('O', 'D'),
	RP__VR_OF = RP__VR('O', 'F'),
	RP__VR_OL = RP__VR('O', 'L'),
	RP__VR_OV = RP__VR('O', 'V'),
	RP__VR_OW = RP__VR('O', 'W'),
	RP__VR_PN = RP__VR('P', 'N'),
	RP__VR_SH = RP__VR('S', 'H'),
	RP__VR_SL = RP__VR('S', 'L'),
	RP__VR_SQ = RP__VR('S', 'Q'),
	RP__VR_SS = RP__VR('S', 'S'),
	RP__VR_ST = RP__VR('S', 'T'),
	RP__VR_SV = RP__VR('S', 'V'),
	RP__VR_TM = RP__VR('T', 'M'),
	RP__VR_UC = RP__VR('U', 'C'),
	RP__VR_UI = RP__VR('U', 'I'),
	RP__VR_UL = RP__VR('U', 'L'),
	RP__VR_UN = RP__VR('U', 'N'),
	RP__VR_UR = RP__VR('U', 'R'),
	RP__VR_US = RP__VR('U', 'S'),
	RP__VR_UT = RP__VR('U', 'T'),
	RP__VR_UV = RP__VR('U', 'V'),
};
/* Not a VR: the dictionary's "US or SS" (PS3.6), decided by PixelRepresentation. */
#define RP__VR_XS RP__VR('X', 'S')
#define VR(x) RP__VR_##x

#define RP__TAG(g, e) (((uint32_t)(g) << 16) | (uint32_t)(e))
#define RP__TAG_ITEM RP__TAG(0xFFFE, 0xE000)
#define RP__TAG_ITEM_END RP__TAG(0xFFFE, 0xE00D)
#define RP__TAG_SEQ_END RP__TAG(0xFFFE, 0xE0DD)
#define RP__TAG_PIXEL_DATA RP__TAG(0x7FE0, 0x0010)
#define RP__TAG_EOT RP__TAG(0x7FE0, 0x0001)
#define RP__TAG_EOT_LENGTHS RP__TAG(0x7FE0, 0x0002)
#define RP__UNDEFINED_LENGTH 0xFFFFFFFFu

/* How a dataset is encoded. */
struct rp__enc {
	bool explicit_vr;
	bool big_endian;
};

/* One element header as read. */
struct rp__elem {
	uint32_t tag;
	uint16_t vr;                 /* explicit: as read; implicit: from the dictionary */
	bool undefined;              /* length 0xFFFFFFFF */
	bool encapsulated;           /* pixel data of undefined length */
	size_t start;                /* offset of the header */
	size_t value;                /* offset of the value */
	size_t length;               /* value bytes (undefined: up to the delimiter item) */
	size_t end;                  /* offset just past the element (and its delimiter) */
	struct rp__enc enc;          /* encoding of its value (UN of undefined length:
				      * implicit VR LE, PS3.5 6.2.2) */
};

struct rp__fragment {
	size_t item;                 /* offset of the item tag */
	size_t data;                 /* offset of the fragment bytes */
	size_t length;
};

struct rp_dicom {
	struct rp_dicom_options opts;
	const uint8_t *file;         /* the caller's buffer */
	size_t file_size;
	const uint8_t *buf;          /* where the dataset lives: file, or inflated */
	size_t size;
	uint8_t *inflated;           /* owned copy of a deflated dataset */
	size_t ds_start;             /* first dataset element in buf */
	size_t meta_start, meta_end; /* meta group elements in file (0, 0 when none) */
	struct rp__enc enc;
	struct rp_dicom_info info;
	struct rp__elem *elems;      /* top-level dataset elements, in file order */
	size_t elem_count;
	size_t pixel_elem;           /* index into elems, or SIZE_MAX */
	struct rp__fragment *frags;  /* encapsulated: fragments after the offset table */
	size_t frag_count;
	struct rp__fragment bot;     /* the Basic Offset Table item */
	uint32_t *frame_first;       /* encapsulated: first fragment of each frame */
	uint32_t *frame_frags;       /* ... and how many */
	bool nested;                 /* an item holding an image (dicom/nested.c):
				      * elems are the item's, buf is the parent's */
};

/* Reads the element header at *pos (bounds-checked against end) and fills e; for
 * undefined lengths walks the items to find the end.  depth guards nesting. */
int rp__read_elem(const struct rp_dicom *ds, const uint8_t *buf, size_t pos, size_t end,
		  struct rp__enc enc, unsigned depth, struct rp__elem *e,
		  struct rp_errbuf *err);

/* The VR the data dictionary gives tag (UN when unknown). */
uint16_t rp__dict_vr(uint32_t tag);

/* Whether an explicit VR uses the 4-byte length form. */
bool rp__vr_long(uint16_t vr);
/* Bytes per value unit that big-endian swapping works on (1 for strings/OB). */
unsigned rp__vr_swap_unit(uint16_t vr);

/* The image attributes and Pixel Data among ds->elems (read_dataset's, or an item's):
 * fills ds->info and, for encapsulated data, the frame map. */
int rp__dicom_parse_image(struct rp_dicom *ds, struct rp_errbuf *err);

/* A Pixel Data element nested in a sequence (an Icon Image Sequence item, PS3.3
 * C.7.6.1.1.6), found by rp__dicom_find_nested(). */
struct rp__nested {
	struct rp_dicom *item;       /* its item as a dataset of its own, sharing the
				      * parent's buffer; info valid when status == RP_OK */
	int status;                  /* rp__dicom_parse_image() on the item */
	char why[RP_ERRBUF_SIZE];    /* its message when status < 0 */
	size_t pixel_start;          /* the Pixel Data element in the parent's buf */
	bool encapsulated;           /* undefined length: fragments */
	size_t photometric_start;    /* the item's (0028,0004), or SIZE_MAX */
	size_t eot_start[2];         /* the item's (7FE0,0001/0002), or SIZE_MAX */
	size_t icon_start;           /* the innermost Icon Image Sequence element holding
				      * it, or SIZE_MAX */
};

/* The largest nested image (all frames, canonical) decoded: icons are at most 128x128
 * (PS3.3 F.7); a hostile item claiming 65535 x 65535 frames must not cost gigabytes. */
#define RP__NESTED_MAX_BYTES ((size_t)64 << 20)

/* Every Pixel Data element inside a sequence of ds, in file order.  *list is malloc'd
 * (free it with rp__dicom_free_nested); *count may be 0.  Fails only on memory or on a
 * sequence the parser accepted but that cannot be walked again. */
int rp__dicom_find_nested(const struct rp_dicom *ds, struct rp__nested **list,
			  size_t *count, struct rp_errbuf *err);
void rp__dicom_free_nested(struct rp__nested *list, size_t count);

/* Encapsulated pixel data: fragments and the frame map (dicom/frames.c). */
int rp__dicom_index_fragments(struct rp_dicom *ds, struct rp_errbuf *err);
/* opts.drop_behind: drops the pages of the caller's mapping between *dropped and pos
 * once that is a few MB, and moves *dropped up; no-op for any other buffer. */
void rp__dicom_drop_behind(const struct rp_dicom *ds, const uint8_t *buf, size_t *dropped,
			   size_t pos);

/* Deflate (dicom/inflate.c, ISA-L). */
int rp__inflate_raw(const uint8_t *src, size_t src_size, uint64_t limit, uint8_t **out,
		    size_t *out_size, struct rp_errbuf *err);
int rp__deflate_raw(const uint8_t *src, size_t src_size, uint8_t **out, size_t *out_size);

#endif /* RP_DICOM_IMPL_H */
