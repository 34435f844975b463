/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/frame.h - the wire format of docs/FORMAT.md as pure functions: frame headers,
 * payloads, the manifest and the in-flight object header.  No I/O, no threads: every
 * decoder reads untrusted bytes through a bounds-checked cursor. */
#ifndef RP_TRANSPORT_FRAME_H
#define RP_TRANSPORT_FRAME_H

#include "common/internal.h"

#define RP__FRAME_MAGIC 0x31465052u  /* "RPF1" */
#define RP__MANIFEST_MAGIC 0x314D5052u /* "RPM1" */
#define RP__OBJECT_MAGIC 0x314F5052u /* "RPO1" */
#define RP__FRAME_VERSION 1
#define RP__FRAME_HDR_SIZE 16
#define RP__CHUNK_HDR_SIZE 32
#define RP__MAX_CHUNK_SIZE (64u << 20)
#define RP__MIN_CHUNK_SIZE 4096u
#define RP__MAX_PAYLOAD (RP__MAX_CHUNK_SIZE + 64u)
#define RP__MAX_K 128
#define RP__MAX_M 32
#define RP__MAX_STREAMS 256
#define RP__MAX_RANGES (1u << 20)
#define RP__MAX_OBJECTS 1000000u
#define RP__MAX_PATH 4095u
#define RP__MAX_FRAMES (1u << 20)
#define RP__SESSION_ID_SIZE 16
#define RP__CAP_FEC 1u
#define RP__CAP_RESUME 2u
/* The sender may send KEEPALIVE on a connection that has nothing else to carry. */
#define RP__CAP_KEEPALIVE 4u
#define RP__CAP_KNOWN (RP__CAP_FEC | RP__CAP_RESUME | RP__CAP_KEEPALIVE)
#define RP__COMPLETE_FIELDS 10

enum rp__frame_type {
	RP__F_HELLO = 1,
	RP__F_WELCOME = 2,
	RP__F_MANIFEST = 3,
	RP__F_CHUNK = 4,
	RP__F_END = 5,
	RP__F_DONE = 6,
	RP__F_NEED = 7,
	RP__F_ACK = 8,
	RP__F_PROGRESS = 9,
	RP__F_ERROR = 10,
	RP__F_COMPLETE = 11,
	RP__F_KEEPALIVE = 12,
	RP__F_TYPE_MAX = 12
};

struct rp__frame_hdr {
	uint8_t type;
	uint32_t len;                /* payload bytes */
	uint32_t crc;                /* as read; check with rp__frame_crc_ok() */
};

/* Growing output buffer; on allocation failure `failed` is set and writes are dropped, so
 * a sequence of puts needs one check at the end. */
struct rp__wbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};
void rp__wbuf_free(struct rp__wbuf *b);
void rp__put_bytes(struct rp__wbuf *b, const void *data, size_t size);
void rp__put_u8(struct rp__wbuf *b, uint8_t v);
void rp__put_u16(struct rp__wbuf *b, uint16_t v);
void rp__put_u32(struct rp__wbuf *b, uint32_t v);
void rp__put_u64(struct rp__wbuf *b, uint64_t v);

/* Bounds-checked reader over untrusted bytes; every get returns false past `end`. */
struct rp__rbuf {
	const uint8_t *p, *end;
};
bool rp__get_bytes(struct rp__rbuf *r, void *out, size_t size);
bool rp__get_u8(struct rp__rbuf *r, uint8_t *v);
bool rp__get_u16(struct rp__rbuf *r, uint16_t *v);
bool rp__get_u32(struct rp__rbuf *r, uint32_t *v);
bool rp__get_u64(struct rp__rbuf *r, uint64_t *v);

/* Frame header with CRC32C over header bytes 0..11 and the payload. */
void rp__frame_header_encode(uint8_t out[RP__FRAME_HDR_SIZE], enum rp__frame_type type,
			     const void *payload, uint32_t len);
/* Checks magic, version, type, flags and the length cap (not the CRC: the payload has
 * not been read yet).  RP_OK or RP_E_PROTOCOL with the reason in err. */
int rp__frame_header_decode(const uint8_t in[RP__FRAME_HDR_SIZE], struct rp__frame_hdr *h,
			    struct rp_errbuf *err);
bool rp__frame_crc_ok(const uint8_t hdr[RP__FRAME_HDR_SIZE], const void *payload,
		      uint32_t len);
/* Appends a whole frame (header + payload) to b. */
void rp__frame_append(struct rp__wbuf *b, enum rp__frame_type type, const void *payload,
		      size_t len);

/* Sorted, disjoint, non-touching key ranges. */
struct rp__ranges {
	uint64_t (*r)[2];            /* first, count */
	uint32_t count, cap;
};
void rp__ranges_free(struct rp__ranges *rs);
/* Adds one key; keys added in increasing order merge in O(1).  RP_OK or RP_E_NOMEM. */
int rp__ranges_add(struct rp__ranges *rs, uint64_t key);
bool rp__ranges_has(const struct rp__ranges *rs, uint64_t key);
uint64_t rp__ranges_total(const struct rp__ranges *rs);
void rp__ranges_encode(struct rp__wbuf *b, const struct rp__ranges *rs);
int rp__ranges_decode(struct rp__rbuf *r, struct rp__ranges *rs, struct rp_errbuf *err);

struct rp__hello {
	uint8_t session[RP__SESSION_ID_SIZE];
	uint32_t caps;
	uint16_t stream_index, stream_count;
};
void rp__hello_encode(struct rp__wbuf *b, const struct rp__hello *h);
int rp__hello_decode(const uint8_t *p, size_t n, struct rp__hello *h, struct rp_errbuf *err);

enum { RP__WELCOME_NEW = 0, RP__WELCOME_RESUMED = 1, RP__WELCOME_DELIVERED = 2 };
struct rp__welcome {
	uint8_t session[RP__SESSION_ID_SIZE];
	uint8_t state;
	struct rp__ranges have;
};
void rp__welcome_encode(struct rp__wbuf *b, const struct rp__welcome *w);
int rp__welcome_decode(const uint8_t *p, size_t n, struct rp__welcome *w,
		       struct rp_errbuf *err);

struct rp__chunk {
	uint8_t session[RP__SESSION_ID_SIZE];
	uint64_t group;
	uint16_t index;
	uint8_t k_group;
	uint32_t size;
	const uint8_t *data;         /* points into the decoded payload */
};
/* Writes the 32-byte chunk header; the data follows it in the frame. */
void rp__chunk_header_encode(uint8_t out[RP__CHUNK_HDR_SIZE], const struct rp__chunk *c);
int rp__chunk_decode(const uint8_t *p, size_t n, struct rp__chunk *c, struct rp_errbuf *err);

struct rp__done {
	uint64_t stream_length, data_chunks;
};
void rp__done_encode(struct rp__wbuf *b, const struct rp__done *d);
int rp__done_decode(const uint8_t *p, size_t n, struct rp__done *d, struct rp_errbuf *err);

void rp__error_encode(struct rp__wbuf *b, int status, const char *msg);
/* msg gets a NUL-terminated copy with control characters replaced by '?'. */
int rp__error_decode(const uint8_t *p, size_t n, int *status, char *msg, size_t msg_cap,
		     struct rp_errbuf *err);

void rp__u64s_encode(struct rp__wbuf *b, const uint64_t *v, unsigned count);
int rp__u64s_decode(const uint8_t *p, size_t n, uint64_t *v, unsigned count,
		    struct rp_errbuf *err);

/* Manifest (FORMAT.md section 3). */
struct rp__mentry {
	char *path;                  /* NUL-terminated, validated */
	uint64_t size;
	uint8_t sha256[32];
	uint8_t codec;
};
struct rp__manifest {
	uint32_t count;
	uint32_t chunk_size;
	uint8_t k, m;
	uint64_t total;
	struct rp__mentry *e;
};
/* Checks one relative path against FORMAT.md's rules; RP_OK or RP_E_PROTOCOL. */
int rp__path_check(const char *path, size_t len, struct rp_errbuf *err);
void rp__manifest_free(struct rp__manifest *m);
void rp__manifest_encode(struct rp__wbuf *b, const struct rp__manifest *m);
/* Parses and validates (counts, sizes, paths, duplicates, total); max_objects caps the
 * entry count before anything is allocated for it. */
int rp__manifest_decode(const uint8_t *p, size_t n, uint32_t max_objects,
			struct rp__manifest *m, struct rp_errbuf *err);
/* Session id: the first 16 bytes of SHA-256 over the encoded manifest. */
int rp__session_id(const uint8_t *manifest, size_t n, uint8_t id[RP__SESSION_ID_SIZE]);
void rp__session_hex(const uint8_t id[RP__SESSION_ID_SIZE], char hex[2 * RP__SESSION_ID_SIZE + 1]);

/* In-flight object header (FORMAT.md section 5). */
enum { RP__OBJ_VERBATIM = 0, RP__OBJ_FRAMED = 1 };
#define RP__OBJHDR_FIXED 32
#define RP__OBJHDR_VERBATIM_SIZE 36
#define RP__OBJHDR_FRAMED_BASE 100
struct rp__objhdr {
	uint32_t index;
	uint8_t kind, codec;
	uint32_t frame_count;
	uint64_t body_len, orig_size;
	uint64_t prefix_len, suffix_len;
	struct rp_image_desc img;
	uint8_t pixel_hash[32];
	uint32_t *frame_len;         /* frame_count entries; owned (free with rp__objhdr_free) */
};
void rp__objhdr_free(struct rp__objhdr *h);
size_t rp__objhdr_size(const struct rp__objhdr *h);
void rp__objhdr_encode(struct rp__wbuf *b, const struct rp__objhdr *h);
/* Needs the first 32 bytes to know the header's size: *need gets the full header size
 * (RP_OK with *need > n means "give me more").  Validates the CRC and that prefix + frames
 * + suffix add up to the body length, all overflow-checked. */
int rp__objhdr_decode(const uint8_t *p, size_t n, struct rp__objhdr *h, size_t *need,
		      struct rp_errbuf *err);

#endif /* RP_TRANSPORT_FRAME_H */
