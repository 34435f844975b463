/* SPDX-License-Identifier: BSD-3-Clause */
/* include/radpipe/dicom.h - DICOM Part 10 reading and writing of pixel data.
 *
 * The parser is pure code over a caller-owned buffer (typically an mmap of the file): no
 * I/O, every length overflow-checked, precise errors with file offsets.  The writer
 * rewrites a parsed dataset into another transfer syntax, carrying every other element
 * over unchanged.
 */
#ifndef RADPIPE_DICOM_H
#define RADPIPE_DICOM_H

#include "base.h"
#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A transfer syntax this library knows (PS3.5 Section 10 and Annex A). */
struct rp_ts_info {
	const char *uid;             /* "1.2.840.10008.1.2.4.80" */
	const char *name;            /* "JPEG-LS Lossless" */
	uint8_t explicit_vr;
	uint8_t big_endian;
	uint8_t deflated;            /* dataset after the meta group is deflated */
	uint8_t encapsulated;        /* pixel data in fragments */
	uint8_t lossy;               /* the syntax allows or implies lossy coding */
	uint8_t codec;               /* enum rp_codec that decodes its frames */
};

/* The entry for uid (trailing NUL/space padding ignored), or NULL when unknown. */
RP_API const struct rp_ts_info *rp_ts_lookup(const char *uid);
/* The i-th known syntax, or NULL past the end (for listings). */
RP_API const struct rp_ts_info *rp_ts_at(size_t index);

struct rp_dicom;

struct rp_dicom_options {
	size_t struct_size;          /* set by rp_dicom_options_init() */
	uint32_t max_depth;          /* sequence nesting limit (default 64) */
	uint32_t max_frames;         /* NumberOfFrames limit (default 1 << 20) */
	uint64_t max_inflated_size;  /* deflated datasets: inflate limit (default 4 GiB) */
	/* 1 only when data is a file mapping (mmap) that nothing writes: walking the
	 * fragments of encapsulated pixel data, the parser hands the pages it has passed
	 * back to the kernel (MADV_DONTNEED), so that parsing a large file does not make
	 * it resident; later reads map them again from the page cache.  On any other
	 * buffer this would lose its contents. */
	uint8_t drop_behind;
};

RP_API void rp_dicom_options_init(struct rp_dicom_options *opts);

/* Parses a DICOM Part 10 file (or a bare dataset without preamble/meta, read as implicit
 * VR little endian as DCMTK does).  data is borrowed and must outlive *ds_ret.
 * Returns RP_OK, RP_E_CORRUPT (truncated or malformed, with the offset in err),
 * RP_E_UNSUPPORTED (unknown transfer syntax), RP_E_LIMIT or RP_E_NOMEM.
 * A file without pixel data parses fine; info->has_pixels is then 0 (and
 * info->image_without_pixels 1 when its SOP class is an image class). */
RP_API RP_NODISCARD int rp_dicom_parse(const void *data, size_t size,
				       const struct rp_dicom_options *opts,
				       struct rp_dicom **ds_ret, struct rp_errbuf *err);

/* NULL is a no-op. */
RP_API void rp_dicom_free(struct rp_dicom *ds);

struct rp_dicom_info {
	const struct rp_ts_info *ts; /* never NULL */
	uint8_t has_meta;            /* 0: no preamble/meta group */
	uint8_t has_pixels;          /* (7FE0,0010) present with image attributes */
	uint8_t encapsulated;
	uint8_t planar;              /* PlanarConfiguration (0028,0006) as stored */
	uint8_t high_bits_dirty;     /* native: some sample has bits above BitsStored that are
				      * not a sign/zero extension (overlays); set by
				      * rp_dicom_scan_high_bits() */
	struct rp_image_desc img;
	uint32_t frames;             /* NumberOfFrames, 1 when absent */
	char photometric[17];        /* as stored, trailing spaces removed */
	char modality[17];
	char sop_class_uid[65];
	char sop_instance_uid[65];
	char study_instance_uid[65];
	char series_instance_uid[65];
	char patient_id[65];
	/* Where the pixel data sits in the buffer given to rp_dicom_parse() (offsets into the
	 * original bytes; for a deflated dataset these are 0 since the pixels live in the
	 * inflated copy).  value_length covers the fragments and the sequence delimiter for
	 * encapsulated data. */
	uint64_t pixel_element_offset;
	uint64_t pixel_value_offset;
	uint64_t pixel_value_length;
	uint8_t image_without_pixels;/* the SOP class is an image storage class (PS3.4 B.5)
				      * but there is no Pixel Data: perhaps truncated */
};

RP_API const struct rp_dicom_info *rp_dicom_get_info(const struct rp_dicom *ds);

/* Where frame `index` is stored in the buffer given to rp_dicom_parse(): bytes
 * [*offset, *offset + *length), from the first byte of its data to the last (for an
 * encapsulated frame of several fragments, the item headers between them included).
 * No copy and no decode: for a caller that maps the file and drops or prefetches pages
 * frame by frame.  RP_E_UNSUPPORTED when the frame is not a byte range of that buffer
 * (a deflated dataset's pixels live in the inflated copy; 1-bit frames may share
 * bytes), RP_E_INVALID_ARG without pixel data or for an index out of range. */
RP_API RP_NODISCARD int rp_dicom_frame_span(const struct rp_dicom *ds, uint32_t index,
					    uint64_t *offset, uint64_t *length);

/* Encoded bytes of frame `index` of encapsulated pixel data.  When the frame is one
 * fragment, *data points into the parsed buffer and *owned is NULL; when it spans several,
 * they are joined into a malloc'd buffer returned in *owned (free it).  RP_E_INVALID_ARG
 * for native data or index out of range, RP_E_CORRUPT when the fragments cannot be
 * attributed to frames. */
RP_API RP_NODISCARD int rp_dicom_encoded_frame(const struct rp_dicom *ds, uint32_t index,
					       const uint8_t **data, size_t *size,
					       uint8_t **owned, struct rp_errbuf *err);

/* Canonical frame `index` (see codec.h) into dst, decoding it if the syntax is compressed.
 * dst_capacity >= rp_image_frame_size(&info->img). */
RP_API RP_NODISCARD int rp_dicom_decode_frame(const struct rp_dicom *ds, uint32_t index,
					      void *dst, size_t dst_capacity,
					      struct rp_errbuf *err);

/* PhotometricInterpretation of what rp_dicom_decode_frame() writes: the stored one, or
 * what the codec converts it to (e.g. "RGB" for YBR_RCT JPEG 2000).  NULL without pixels. */
RP_API const char *rp_dicom_decoded_photometric(const struct rp_dicom *ds);

/* Native data only: scans every frame for bits above BitsStored that are not a plain
 * sign/zero extension; sets info->high_bits_dirty and *dirty_ret.  Compressed syntaxes
 * carry BitsStored bits only, so they are always clean. */
RP_API RP_NODISCARD int rp_dicom_scan_high_bits(struct rp_dicom *ds, int *dirty_ret,
						struct rp_errbuf *err);

/* SHA-256 over every frame in canonical form, frame after frame (docs/PIXELHASH.md). */
RP_API RP_NODISCARD int rp_dicom_pixel_hash(const struct rp_dicom *ds, uint8_t hash[32],
					    struct rp_errbuf *err);

/* Reads every Pixel Data element nested in a sequence (Icon Image Sequence items, PS3.3
 * C.7.6.1.1.6) as an independent reader would: an encapsulated one must decode under the
 * file's transfer syntax, a native one must hold what its item's image attributes need.
 * Returns RP_OK (also when there are none) or the first failure, naming its offset.
 * Meant for checking written files: rp_dicom_write() keeps nested images consistent. */
RP_API RP_NODISCARD int rp_dicom_check_nested_pixels(const struct rp_dicom *ds,
						     struct rp_errbuf *err);

/* ------------------------------------------------------------------------------------ */
/* Writing */

/* Sink for serialized bytes; returns RP_OK or a negative RP_E_* code to stop writing. */
typedef int rp_write_fn(void *ctx, const void *data, size_t size);

struct rp_frame_ref {
	const void *data;
	size_t size;
};

/* What rp_dicom_write() did to images nested in sequences (icons).  An encapsulated
 * nested image is written native (decoded) whenever the target syntax differs from the
 * source's, as DCMTK writes every Pixel Data below the top level: native is valid under
 * every transfer syntax and readable without the codec.  One that cannot be decoded is
 * left out with its Icon Image Sequence; outside an icon sequence that is an error. */
struct rp_dicom_write_notes {
	uint32_t nested_decoded;     /* nested images written native */
	uint32_t icons_dropped;      /* Icon Image Sequences left out */
	char dropped_why[RP_ERRBUF_SIZE]; /* the first one's reason */
};

struct rp_dicom_write_options {
	size_t struct_size;          /* set by rp_dicom_write_options_init() */
	const char *ts_uid;          /* target transfer syntax (default explicit VR LE) */
	uint8_t lossy;               /* frames were coded lossily: set (0028,2110) etc. */
	double lossy_ratio;          /* for (0028,2112) */
	const char *lossy_method;    /* for (0028,2114), e.g. "ISO_14495_1" */
	const char *photometric;     /* replaces (0028,0004) when not NULL */
	int planar;                  /* -1 keep, 0/1 write PlanarConfiguration (3-sample) */
	const char *implementation_version; /* (0002,0013); NULL = "RADPIPE_" version */
	uint64_t eot_threshold;      /* use the Extended Offset Table when the encapsulated
				      * pixel data could exceed this (default 2^32 - 1) */
	struct rp_dicom_write_notes *notes; /* optional: filled (zeroed first) by the write */
};

RP_API void rp_dicom_write_options_init(struct rp_dicom_write_options *opts);

/* Serializes `src` in opts->ts_uid with `frames` as its pixel data: encoded codestreams
 * (one per frame, one fragment each, Basic Offset Table filled) for an encapsulated
 * syntax, canonical frames for a native one.  frame_count must equal info->frames.
 * Every element other than the meta group's transfer syntax and group length, the pixel
 * data, the attributes the options name, and nested images (see rp_dicom_write_notes) is
 * written unchanged (re-encoded only when the source's byte order or VR form differs). */
RP_API RP_NODISCARD int rp_dicom_write(const struct rp_dicom *src,
				       const struct rp_dicom_write_options *opts,
				       const struct rp_frame_ref *frames, uint32_t frame_count,
				       rp_write_fn *write, void *ctx, struct rp_errbuf *err);

/* rp_dicom_write() into `path` atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory.  An interrupted run never leaves a truncated
 * file under `path`. */
RP_API RP_NODISCARD int rp_dicom_write_file(const char *path, const struct rp_dicom *src,
					    const struct rp_dicom_write_options *opts,
					    const struct rp_frame_ref *frames,
					    uint32_t frame_count, struct rp_errbuf *err);

/* Writing frame by frame, for objects too large to hold: rp_dicom_write_file()'s output
 * (atomic, the same bytes) with the frames given one at a time, in index order, by
 * rp_dicom_stream_frame().  Everything up to the pixel data is written by
 * rp_dicom_stream_open(), the offset table and the elements after the pixel data by
 * rp_dicom_stream_commit() (which copies the file once more when the frames pass
 * opts->eot_threshold: the Extended Offset Table goes before the pixel data).
 * Deflated syntaxes, lossy labels and 1-bit native data need rp_dicom_write_file().
 * Neither src nor opts's strings may change or go away before the commit or abort. */
struct rp_dicom_stream;

RP_API RP_NODISCARD int rp_dicom_stream_open(const char *path, const struct rp_dicom *src,
					     const struct rp_dicom_write_options *opts,
					     struct rp_dicom_stream **out,
					     struct rp_errbuf *err);
/* Appends the next frame; after a failure the stream only takes an abort. */
RP_API RP_NODISCARD int rp_dicom_stream_frame(struct rp_dicom_stream *s, const void *data,
					      size_t size, struct rp_errbuf *err);
/* Completes the file once every frame is written, and frees s either way.  ts_uid, when
 * not NULL, replaces opts->ts_uid: it must have the same padded length and form (HTJ2K's
 * narrower lossless syntax once every frame turned out to meet it). */
RP_API RP_NODISCARD int rp_dicom_stream_commit(struct rp_dicom_stream *s, const char *ts_uid,
					       struct rp_errbuf *err);
/* Removes the unfinished file and frees s; NULL is a no-op. */
RP_API void rp_dicom_stream_abort(struct rp_dicom_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* RADPIPE_DICOM_H */
