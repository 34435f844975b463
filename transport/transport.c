/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/transport.c - frame I/O over any backend, and small helpers shared by the
 * sender and the receiver. */
#include "transport/transport.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* Set only by tests (transport/fault/); NULL in every real run. */
static _Atomic(const struct rp__transport_ops *) override_ops;

void
rp__transport_set_override(const struct rp__transport_ops *ops)
{
	atomic_store(&override_ops, ops);
}

const struct rp__transport_ops *
rp__transport_for(const struct rp_tls_config *cfg)
{
	const struct rp__transport_ops *o = atomic_load(&override_ops);
	return o ? o : rp__transport_backend_for(cfg);
}

int
rp__send_frame(const struct rp__transport_ops *ops, struct rp__conn *c,
	       enum rp__frame_type type, const void *payload, size_t len, struct rp_errbuf *err)
{
	uint8_t hdr[RP__FRAME_HDR_SIZE];
	if (len > RP__MAX_PAYLOAD)
		return rp__err(err, RP_E_LIMIT, "frame of %zu bytes is too large", len);
	rp__frame_header_encode(hdr, type, payload, (uint32_t)len);
	/* One write for small frames keeps control messages in one TLS record. */
	if (len <= 4096) {
		uint8_t buf[RP__FRAME_HDR_SIZE + 4096];
		memcpy(buf, hdr, sizeof(hdr));
		if (len)
			memcpy(buf + sizeof(hdr), payload, len);
		return ops->send(c, buf, sizeof(hdr) + len, err);
	}
	RP_TRY(ops->send(c, hdr, sizeof(hdr), err));
	return ops->send(c, payload, len, err);
}

void
rp__chunk_head_encode(uint8_t head[RP__CHUNK_HEAD_SIZE], const struct rp__chunk *ch,
		      const uint8_t *data)
{
	uint8_t *ph = head + RP__FRAME_HDR_SIZE;
	uint32_t len = RP__CHUNK_HDR_SIZE + ch->size;
	rp__chunk_header_encode(ph, ch);
	/* CRC over frame header bytes 0..11, then the chunk header, then the data. */
	rp__store_le32(head, RP__FRAME_MAGIC);
	head[4] = RP__FRAME_VERSION;
	head[5] = RP__F_CHUNK;
	rp__store_le16(head + 6, 0);
	rp__store_le32(head + 8, len);
	uint32_t crc = rp__crc32c(0, head, 12);
	crc = rp__crc32c(crc, ph, RP__CHUNK_HDR_SIZE);
	crc = rp__crc32c(crc, data, ch->size);
	rp__store_le32(head + 12, crc);
}

int
rp__send_chunk(const struct rp__transport_ops *ops, struct rp__conn *c,
	       const struct rp__chunk *ch, const uint8_t *data, struct rp_errbuf *err)
{
	uint8_t head[RP__CHUNK_HEAD_SIZE];
	rp__chunk_head_encode(head, ch, data);
	RP_TRY(ops->send(c, head, sizeof(head), err));
	return ops->send(c, data, ch->size, err);
}

int
rp__recv_frame(const struct rp__transport_ops *ops, struct rp__conn *c,
	       struct rp__frame_hdr *h, struct rp__wbuf *buf, uint32_t max_len, bool *crc_ok,
	       struct rp_errbuf *err)
{
	uint8_t hdr[RP__FRAME_HDR_SIZE];
	RP_TRY(ops->recv(c, hdr, sizeof(hdr), err));
	RP_TRY(rp__frame_header_decode(hdr, h, err));
	if (h->len > max_len)
		return rp__err(err, RP_E_PROTOCOL, "frame type %u of %u bytes exceeds %u here",
			       h->type, h->len, max_len);
	if (buf->cap < h->len) {
		uint8_t *p = realloc(buf->p, h->len);
		if (!p)
			return RP_E_NOMEM;
		buf->p = p;
		buf->cap = h->len;
	}
	buf->len = h->len;
	if (h->len)
		RP_TRY(ops->recv(c, buf->p, h->len, err));
	*crc_ok = rp__frame_crc_ok(hdr, buf->p, h->len);
	return RP_OK;
}

void
rp__log_begin(struct rp__wbuf *b, const char *event)
{
	char t[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(t, sizeof(t), "{\"ts\":%lld.%03ld,\"event\":", (long long)ts.tv_sec,
		 ts.tv_nsec / 1000000);
	rp__put_bytes(b, t, strlen(t));
	rp__json_str(b, event);
}

void
rp__log_field(struct rp__wbuf *b, const char *name, const char *value)
{
	if (!value)
		return;
	rp__put_u8(b, ',');
	rp__json_str(b, name);
	rp__put_u8(b, ':');
	rp__json_str(b, value);
}

void
rp__json_str(struct rp__wbuf *b, const char *s)
{
	rp__put_u8(b, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			rp__put_u8(b, '\\');
			rp__put_u8(b, c);
		} else if (c < 0x20 || c == 0x7f) {
			char t[8];
			snprintf(t, sizeof(t), "\\u%04x", c);
			rp__put_bytes(b, t, 6);
		} else {
			rp__put_u8(b, c);
		}
	}
	rp__put_u8(b, '"');
}

double
rp__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct timespec
rp__timespec_in(double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (seconds < 0)
		seconds = 0;
	time_t whole = (time_t)seconds;
	long ns = ts.tv_nsec + (long)((seconds - (double)whole) * 1e9);
	ts.tv_sec += whole + ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ts;
}
