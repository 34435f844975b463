/* SPDX-License-Identifier: BSD-3-Clause */
/* transport/frame.c - encoders and validating decoders for every structure of
 * docs/FORMAT.md.  Pure code: tests and fuzzers drive it without sockets. */
#include "transport/frame.h"

#include <stdio.h>

/* ------------------------------------------------------------------------------------ */
/* Buffers */

void
rp__wbuf_free(struct rp__wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
rp__put_bytes(struct rp__wbuf *b, const void *data, size_t size)
{
	size_t need;
	if (b->failed || size == 0)
		return;
	if (!rp__add_size(b->len, size, &need)) {
		b->failed = true;
		return;
	}
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need) {
			if (!rp__mul_size(cap, 2, &cap)) {
				b->failed = true;
				return;
			}
		}
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, size);
	b->len = need;
}

void
rp__put_u8(struct rp__wbuf *b, uint8_t v)
{
	rp__put_bytes(b, &v, 1);
}

void
rp__put_u16(struct rp__wbuf *b, uint16_t v)
{
	uint8_t t[2];
	rp__store_le16(t, v);
	rp__put_bytes(b, t, 2);
}

void
rp__put_u32(struct rp__wbuf *b, uint32_t v)
{
	uint8_t t[4];
	rp__store_le32(t, v);
	rp__put_bytes(b, t, 4);
}

void
rp__put_u64(struct rp__wbuf *b, uint64_t v)
{
	uint8_t t[8];
	rp__store_le64(t, v);
	rp__put_bytes(b, t, 8);
}

bool
rp__get_bytes(struct rp__rbuf *r, void *out, size_t size)
{
	if ((size_t)(r->end - r->p) < size)
		return false;
	if (size)
		memcpy(out, r->p, size);
	r->p += size;
	return true;
}

bool
rp__get_u8(struct rp__rbuf *r, uint8_t *v)
{
	return rp__get_bytes(r, v, 1);
}

bool
rp__get_u16(struct rp__rbuf *r, uint16_t *v)
{
	uint8_t t[2];
	if (!rp__get_bytes(r, t, 2))
		return false;
	*v = rp__load_le16(t);
	return true;
}

bool
rp__get_u32(struct rp__rbuf *r, uint32_t *v)
{
	uint8_t t[4];
	if (!rp__get_bytes(r, t, 4))
		return false;
	*v = rp__load_le32(t);
	return true;
}

bool
rp__get_u64(struct rp__rbuf *r, uint64_t *v)
{
	uint8_t t[8];
	if (!rp__get_bytes(r, t, 8))
		return false;
	*v = rp__load_le64(t);
	return true;
}

/* ------------------------------------------------------------------------------------ */
/* Frame header */

void
rp__frame_header_encode(uint8_t out[RP__FRAME_HDR_SIZE], enum rp__frame_type type,
			const void *payload, uint32_t len)
{
	rp__store_le32(out, RP__FRAME_MAGIC);
	out[4] = RP__FRAME_VERSION;
	out[5] = (uint8_t)type;
	rp__store_le16(out + 6, 0);
	rp__store_le32(out + 8, len);
	uint32_t crc = rp__crc32c(0, out, 12);
	crc = rp__crc32c(crc, payload, len);
	rp__store_le32(out + 12, crc);
}

int
rp__frame_header_decode(const uint8_t in[RP__FRAME_HDR_SIZE], struct rp__frame_hdr *h,
			struct rp_errbuf *err)
{
	if (rp__load_le32(in) != RP__FRAME_MAGIC)
		return rp__err(err, RP_E_PROTOCOL, "bad frame magic %08x", rp__load_le32(in));
	if (in[4] != RP__FRAME_VERSION)
		return rp__err(err, RP_E_PROTOCOL, "unsupported frame version %u", in[4]);
	if (in[5] == 0 || in[5] > RP__F_TYPE_MAX)
		return rp__err(err, RP_E_PROTOCOL, "unknown frame type %u", in[5]);
	if (rp__load_le16(in + 6) != 0)
		return rp__err(err, RP_E_PROTOCOL, "unknown frame flags %04x",
			       rp__load_le16(in + 6));
	h->type = in[5];
	h->len = rp__load_le32(in + 8);
	h->crc = rp__load_le32(in + 12);
	if (h->len > RP__MAX_PAYLOAD)
		return rp__err(err, RP_E_PROTOCOL, "frame payload of %u bytes exceeds %u",
			       h->len, RP__MAX_PAYLOAD);
	return RP_OK;
}

bool
rp__frame_crc_ok(const uint8_t hdr[RP__FRAME_HDR_SIZE], const void *payload, uint32_t len)
{
	uint32_t crc = rp__crc32c(0, hdr, 12);
	crc = rp__crc32c(crc, payload, len);
	return crc == rp__load_le32(hdr + 12);
}

void
rp__frame_append(struct rp__wbuf *b, enum rp__frame_type type, const void *payload,
		 size_t len)
{
	uint8_t hdr[RP__FRAME_HDR_SIZE];
	if (len > RP__MAX_PAYLOAD) {
		b->failed = true;
		return;
	}
	rp__frame_header_encode(hdr, type, payload, (uint32_t)len);
	rp__put_bytes(b, hdr, sizeof(hdr));
	rp__put_bytes(b, payload, len);
}

/* ------------------------------------------------------------------------------------ */
/* Ranges */

void
rp__ranges_free(struct rp__ranges *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static int
ranges_insert_at(struct rp__ranges *rs, uint32_t at, uint64_t key)
{
	if (rs->count == rs->cap) {
		uint32_t cap = rs->cap ? rs->cap * 2 : 16;
		void *p = realloc(rs->r, (size_t)cap * sizeof(rs->r[0]));
		if (!p)
			return RP_E_NOMEM;
		rs->r = p;
		rs->cap = cap;
	}
	memmove(rs->r + at + 1, rs->r + at, (size_t)(rs->count - at) * sizeof(rs->r[0]));
	rs->r[at][0] = key;
	rs->r[at][1] = 1;
	rs->count++;
	return RP_OK;
}

int
rp__ranges_add(struct rp__ranges *rs, uint64_t key)
{
	/* Find the first range starting after key (binary search; appends hit the end). */
	uint32_t lo = 0, hi = rs->count;
	if (hi && rs->r[hi - 1][0] <= key)
		lo = hi;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (rs->r[mid][0] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo = index of first range with first > key; previous may contain key. */
	if (lo > 0) {
		uint64_t *p = rs->r[lo - 1];
		if (key < p[0] + p[1])
			return RP_OK;
		if (key == p[0] + p[1]) {
			p[1]++;
			if (lo < rs->count && rs->r[lo][0] == key + 1) {
				p[1] += rs->r[lo][1];
				memmove(rs->r + lo, rs->r + lo + 1,
					(size_t)(rs->count - lo - 1) * sizeof(rs->r[0]));
				rs->count--;
			}
			return RP_OK;
		}
	}
	if (lo < rs->count && rs->r[lo][0] == key + 1) {
		rs->r[lo][0] = key;
		rs->r[lo][1]++;
		return RP_OK;
	}
	return ranges_insert_at(rs, lo, key);
}

bool
rp__ranges_has(const struct rp__ranges *rs, uint64_t key)
{
	uint32_t lo = 0, hi = rs->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (rs->r[mid][0] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && key - rs->r[lo - 1][0] < rs->r[lo - 1][1];
}

uint64_t
rp__ranges_total(const struct rp__ranges *rs)
{
	uint64_t t = 0;
	for (uint32_t i = 0; i < rs->count; i++)
		t += rs->r[i][1];
	return t;
}

void
rp__ranges_encode(struct rp__wbuf *b, const struct rp__ranges *rs)
{
	rp__put_u32(b, rs->count);
	for (uint32_t i = 0; i < rs->count; i++) {
		rp__put_u64(b, rs->r[i][0]);
		rp__put_u64(b, rs->r[i][1]);
	}
}

int
rp__ranges_decode(struct rp__rbuf *r, struct rp__ranges *rs, struct rp_errbuf *err)
{
	uint32_t count;
	memset(rs, 0, sizeof(*rs));
	if (!rp__get_u32(r, &count))
		return rp__err(err, RP_E_PROTOCOL, "truncated range count");
	if (count > RP__MAX_RANGES)
		return rp__err(err, RP_E_PROTOCOL, "%u ranges exceed %u", count, RP__MAX_RANGES);
	if ((size_t)(r->end - r->p) / 16 < count)
		return rp__err(err, RP_E_PROTOCOL, "%u ranges overrun the frame", count);
	if (count == 0)
		return RP_OK;
	rs->r = malloc((size_t)count * sizeof(rs->r[0]));
	if (!rs->r)
		return RP_E_NOMEM;
	rs->cap = count;
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t first = 0, n = 0, end;
		rp__get_u64(r, &first);
		rp__get_u64(r, &n);
		if (n == 0 || __builtin_add_overflow(first, n, &end) ||
		    (i > 0 && first <= prev_end)) {
			rp__ranges_free(rs);
			return rp__err(err, RP_E_PROTOCOL, "range %u is empty, unsorted or overflows",
				       i);
		}
		rs->r[i][0] = first;
		rs->r[i][1] = n;
		rs->count++;
		prev_end = end;
	}
	return RP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Small payloads */

static int
trailing(struct rp__rbuf *r, const char *what, struct rp_errbuf *err)
{
	if (r->p != r->end)
		return rp__err(err, RP_E_PROTOCOL, "%s: %zu unexpected trailing bytes", what,
			       (size_t)(r->end - r->p));
	return RP_OK;
}

void
rp__hello_encode(struct rp__wbuf *b, const struct rp__hello *h)
{
	rp__put_bytes(b, h->session, RP__SESSION_ID_SIZE);
	rp__put_u32(b, h->caps);
	rp__put_u16(b, h->stream_index);
	rp__put_u16(b, h->stream_count);
}

int
rp__hello_decode(const uint8_t *p, size_t n, struct rp__hello *h, struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	if (!rp__get_bytes(&r, h->session, RP__SESSION_ID_SIZE) || !rp__get_u32(&r, &h->caps) ||
	    !rp__get_u16(&r, &h->stream_index) || !rp__get_u16(&r, &h->stream_count))
		return rp__err(err, RP_E_PROTOCOL, "truncated HELLO");
	RP_TRY(trailing(&r, "HELLO", err));
	if (h->caps & ~RP__CAP_KNOWN)
		return rp__err(err, RP_E_PROTOCOL, "unknown capabilities %08x", h->caps);
	if (h->stream_count == 0 || h->stream_count > RP__MAX_STREAMS ||
	    h->stream_index >= h->stream_count)
		return rp__err(err, RP_E_PROTOCOL, "stream %u of %u is out of range",
			       h->stream_index, h->stream_count);
	return RP_OK;
}

void
rp__welcome_encode(struct rp__wbuf *b, const struct rp__welcome *w)
{
	rp__put_bytes(b, w->session, RP__SESSION_ID_SIZE);
	rp__put_u8(b, w->state);
	rp__put_bytes(b, "\0\0\0", 3);
	rp__ranges_encode(b, &w->have);
}

int
rp__welcome_decode(const uint8_t *p, size_t n, struct rp__welcome *w, struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	uint8_t pad[3];
	memset(&w->have, 0, sizeof(w->have));
	if (!rp__get_bytes(&r, w->session, RP__SESSION_ID_SIZE) || !rp__get_u8(&r, &w->state) ||
	    !rp__get_bytes(&r, pad, 3))
		return rp__err(err, RP_E_PROTOCOL, "truncated WELCOME");
	if (w->state > RP__WELCOME_DELIVERED)
		return rp__err(err, RP_E_PROTOCOL, "unknown WELCOME state %u", w->state);
	RP_TRY(rp__ranges_decode(&r, &w->have, err));
	int s = trailing(&r, "WELCOME", err);
	if (s < 0)
		rp__ranges_free(&w->have);
	return s;
}

void
rp__chunk_header_encode(uint8_t out[RP__CHUNK_HDR_SIZE], const struct rp__chunk *c)
{
	memcpy(out, c->session, RP__SESSION_ID_SIZE);
	rp__store_le64(out + 16, c->group);
	rp__store_le16(out + 24, c->index);
	out[26] = c->k_group;
	out[27] = 0;
	rp__store_le32(out + 28, c->size);
}

int
rp__chunk_decode(const uint8_t *p, size_t n, struct rp__chunk *c, struct rp_errbuf *err)
{
	if (n < RP__CHUNK_HDR_SIZE)
		return rp__err(err, RP_E_PROTOCOL, "truncated CHUNK header (%zu bytes)", n);
	memcpy(c->session, p, RP__SESSION_ID_SIZE);
	c->group = rp__load_le64(p + 16);
	c->index = rp__load_le16(p + 24);
	c->k_group = p[26];
	c->size = rp__load_le32(p + 28);
	if (p[27] != 0)
		return rp__err(err, RP_E_PROTOCOL, "CHUNK reserved byte is %u", p[27]);
	if (c->size == 0 || c->size != n - RP__CHUNK_HDR_SIZE)
		return rp__err(err, RP_E_PROTOCOL, "CHUNK says %u data bytes, frame holds %zu",
			       c->size, n - RP__CHUNK_HDR_SIZE);
	if (c->k_group == 0 || c->k_group > RP__MAX_K)
		return rp__err(err, RP_E_PROTOCOL, "CHUNK group size %u out of range",
			       c->k_group);
	c->data = p + RP__CHUNK_HDR_SIZE;
	return RP_OK;
}

void
rp__done_encode(struct rp__wbuf *b, const struct rp__done *d)
{
	rp__put_u64(b, d->stream_length);
	rp__put_u64(b, d->data_chunks);
}

int
rp__done_decode(const uint8_t *p, size_t n, struct rp__done *d, struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	if (!rp__get_u64(&r, &d->stream_length) || !rp__get_u64(&r, &d->data_chunks))
		return rp__err(err, RP_E_PROTOCOL, "truncated DONE");
	return trailing(&r, "DONE", err);
}

void
rp__error_encode(struct rp__wbuf *b, int status, const char *msg)
{
	size_t n = strlen(msg);
	if (n > 1024)
		n = 1024;
	rp__put_u32(b, (uint32_t)status);
	rp__put_u16(b, (uint16_t)n);
	rp__put_bytes(b, msg, n);
}

int
rp__error_decode(const uint8_t *p, size_t n, int *status, char *msg, size_t msg_cap,
		 struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	uint32_t s;
	uint16_t len;
	if (!rp__get_u32(&r, &s) || !rp__get_u16(&r, &len) || (size_t)(r.end - r.p) != len)
		return rp__err(err, RP_E_PROTOCOL, "malformed ERROR frame");
	int st = (int)(int32_t)s;
	/* A peer's status must be one of ours and an error: anything else becomes a
	 * protocol violation rather than a value we would misreport. */
	*status = (st < 0 && st >= RP_E_CANCELLED) ? st : RP_E_PROTOCOL;
	if (msg_cap) {
		size_t m = len < msg_cap - 1 ? len : msg_cap - 1;
		for (size_t i = 0; i < m; i++)
			msg[i] = (r.p[i] < 0x20 || r.p[i] == 0x7f) ? '?' : (char)r.p[i];
		msg[m] = 0;
	}
	return RP_OK;
}

void
rp__u64s_encode(struct rp__wbuf *b, const uint64_t *v, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		rp__put_u64(b, v[i]);
}

int
rp__u64s_decode(const uint8_t *p, size_t n, uint64_t *v, unsigned count,
		struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	for (unsigned i = 0; i < count; i++)
		if (!rp__get_u64(&r, &v[i]))
			return rp__err(err, RP_E_PROTOCOL, "truncated counters");
	return trailing(&r, "counters", err);
}

/* ------------------------------------------------------------------------------------ */
/* Manifest */

int
rp__path_check(const char *path, size_t len, struct rp_errbuf *err)
{
	if (len == 0 || len > RP__MAX_PATH)
		return rp__err(err, RP_E_PROTOCOL, "path length %zu out of range", len);
	if (path[0] == '/')
		return rp__err(err, RP_E_PROTOCOL, "absolute path");
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)path[i] : '/';
		if (c < 0x20 || c == 0x7f || c == '\\')
			return rp__err(err, RP_E_PROTOCOL,
				       "path has a control character or backslash at %zu", i);
		if (c != '/')
			continue;
		size_t n = i - start;
		const char *comp = path + start;
		if (n == 0)
			return rp__err(err, RP_E_PROTOCOL, "path has an empty component");
		if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return rp__err(err, RP_E_PROTOCOL, "path has a '.' or '..' component");
		if (n > 255)
			return rp__err(err, RP_E_PROTOCOL, "path component longer than 255");
		if (start == 0 && n == 8 && memcmp(comp, ".radpipe", 8) == 0)
			return rp__err(err, RP_E_PROTOCOL, "path enters .radpipe");
		start = i + 1;
	}
	return RP_OK;
}

void
rp__manifest_free(struct rp__manifest *m)
{
	if (m->e)
		for (uint32_t i = 0; i < m->count; i++)
			free(m->e[i].path);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

void
rp__manifest_encode(struct rp__wbuf *b, const struct rp__manifest *m)
{
	rp__put_u32(b, RP__MANIFEST_MAGIC);
	rp__put_u32(b, m->count);
	rp__put_u32(b, m->chunk_size);
	rp__put_u8(b, m->k);
	rp__put_u8(b, m->m);
	rp__put_u16(b, 0);
	rp__put_u64(b, m->total);
	for (uint32_t i = 0; i < m->count; i++) {
		size_t n = strlen(m->e[i].path);
		rp__put_u16(b, (uint16_t)n);
		rp__put_bytes(b, m->e[i].path, n);
		rp__put_u64(b, m->e[i].size);
		rp__put_bytes(b, m->e[i].sha256, 32);
		rp__put_u8(b, m->e[i].codec);
		rp__put_bytes(b, "\0\0\0", 3);
	}
}

static int
cmp_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* No duplicates and no entry that is a directory of another ("a/b" and "a/b/c"): sorted,
 * a conflict is always between neighbours once '/' sorts first, which strcmp does not
 * guarantee, so compare each path with its successors while they share its prefix. */
static int
check_conflicts(const struct rp__manifest *m, struct rp_errbuf *err)
{
	char **v = malloc((size_t)m->count * sizeof(*v));
	if (!v)
		return RP_E_NOMEM;
	for (uint32_t i = 0; i < m->count; i++)
		v[i] = m->e[i].path;
	qsort(v, m->count, sizeof(*v), cmp_paths);
	int s = RP_OK;
	for (uint32_t i = 0; i + 1 < m->count && s == RP_OK; i++) {
		size_t n = strlen(v[i]);
		for (uint32_t j = i + 1; j < m->count && strncmp(v[i], v[j], n) == 0; j++) {
			if (v[j][n] == 0 || v[j][n] == '/') {
				s = rp__err(err, RP_E_PROTOCOL, "path '%s' conflicts with '%s'",
					    v[i], v[j]);
				break;
			}
		}
	}
	free(v);
	return s;
}

int
rp__manifest_decode(const uint8_t *p, size_t n, uint32_t max_objects, struct rp__manifest *m,
		    struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	uint32_t magic;
	uint16_t pad;
	int s;
	memset(m, 0, sizeof(*m));
	if (!rp__get_u32(&r, &magic) || !rp__get_u32(&r, &m->count) ||
	    !rp__get_u32(&r, &m->chunk_size) || !rp__get_u8(&r, &m->k) ||
	    !rp__get_u8(&r, &m->m) || !rp__get_u16(&r, &pad) || !rp__get_u64(&r, &m->total))
		return rp__err(err, RP_E_PROTOCOL, "truncated manifest header");
	if (magic != RP__MANIFEST_MAGIC || pad != 0)
		return rp__err(err, RP_E_PROTOCOL, "bad manifest magic");
	uint32_t cap = max_objects < RP__MAX_OBJECTS ? max_objects : RP__MAX_OBJECTS;
	if (m->count == 0 || m->count > cap) {
		s = rp__err(err, RP_E_LIMIT, "manifest lists %u objects (limit %u)", m->count,
			    cap);
		m->count = 0;
		return s;
	}
	if (m->chunk_size < RP__MIN_CHUNK_SIZE || m->chunk_size > RP__MAX_CHUNK_SIZE ||
	    m->k == 0 || m->k > RP__MAX_K || m->m > RP__MAX_M) {
		s = rp__err(err, RP_E_PROTOCOL, "chunk size %u, k %u, m %u out of range",
			    m->chunk_size, m->k, m->m);
		m->count = 0;
		return s;
	}
	/* Each entry takes at least 45 bytes: refuse a count the payload cannot hold before
	 * allocating for it. */
	if ((size_t)(r.end - r.p) / 45 < m->count) {
		s = rp__err(err, RP_E_PROTOCOL, "manifest of %zu bytes cannot hold %u entries", n,
			    m->count);
		m->count = 0;
		return s;
	}
	m->e = calloc(m->count, sizeof(*m->e));
	if (!m->e) {
		m->count = 0;
		return RP_E_NOMEM;
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < m->count; i++) {
		struct rp__mentry *e = &m->e[i];
		uint16_t len;
		uint8_t pad3[3];
		if (!rp__get_u16(&r, &len) || (size_t)(r.end - r.p) < len) {
			s = rp__err(err, RP_E_PROTOCOL, "manifest entry %u truncated", i);
			goto fail;
		}
		if ((s = rp__path_check((const char *)r.p, len, err)) < 0)
			goto fail;
		if (memchr(r.p, 0, len)) {
			s = rp__err(err, RP_E_PROTOCOL, "manifest entry %u path has a NUL", i);
			goto fail;
		}
		e->path = malloc((size_t)len + 1);
		if (!e->path) {
			s = RP_E_NOMEM;
			goto fail;
		}
		rp__get_bytes(&r, e->path, len);
		e->path[len] = 0;
		if (!rp__get_u64(&r, &e->size) || !rp__get_bytes(&r, e->sha256, 32) ||
		    !rp__get_u8(&r, &e->codec) || !rp__get_bytes(&r, pad3, 3)) {
			s = rp__err(err, RP_E_PROTOCOL, "manifest entry %u truncated", i);
			goto fail;
		}
		if (pad3[0] | pad3[1] | pad3[2]) {
			s = rp__err(err, RP_E_PROTOCOL, "manifest entry %u reserved bytes set", i);
			goto fail;
		}
		if (__builtin_add_overflow(total, e->size, &total)) {
			s = rp__err(err, RP_E_LIMIT, "manifest sizes overflow");
			goto fail;
		}
	}
	if ((s = trailing(&r, "manifest", err)) < 0)
		goto fail;
	if (total != m->total) {
		s = rp__err(err, RP_E_PROTOCOL, "manifest total %llu != sum of sizes %llu",
			    (unsigned long long)m->total, (unsigned long long)total);
		goto fail;
	}
	if ((s = check_conflicts(m, err)) < 0)
		goto fail;
	return RP_OK;
fail:
	rp__manifest_free(m);
	return s;
}

int
rp__session_id(const uint8_t *manifest, size_t n, uint8_t id[RP__SESSION_ID_SIZE])
{
	uint8_t h[32];
	RP_TRY(rp__sha256(manifest, n, h));
	memcpy(id, h, RP__SESSION_ID_SIZE);
	return RP_OK;
}

void
rp__session_hex(const uint8_t id[RP__SESSION_ID_SIZE], char hex[2 * RP__SESSION_ID_SIZE + 1])
{
	static const char d[] = "0123456789abcdef";
	for (int i = 0; i < RP__SESSION_ID_SIZE; i++) {
		hex[2 * i] = d[id[i] >> 4];
		hex[2 * i + 1] = d[id[i] & 15];
	}
	hex[2 * RP__SESSION_ID_SIZE] = 0;
}

/* ------------------------------------------------------------------------------------ */
/* In-flight object header */

void
rp__objhdr_free(struct rp__objhdr *h)
{
	free(h->frame_len);
	h->frame_len = NULL;
}

size_t
rp__objhdr_size(const struct rp__objhdr *h)
{
	if (h->kind == RP__OBJ_VERBATIM)
		return RP__OBJHDR_VERBATIM_SIZE;
	return RP__OBJHDR_FRAMED_BASE + 4 * (size_t)h->frame_count;
}

void
rp__objhdr_encode(struct rp__wbuf *b, const struct rp__objhdr *h)
{
	size_t start = b->len;
	rp__put_u32(b, RP__OBJECT_MAGIC);
	rp__put_u32(b, h->index);
	rp__put_u8(b, h->kind);
	rp__put_u8(b, h->codec);
	rp__put_u16(b, 0);
	rp__put_u32(b, h->kind == RP__OBJ_FRAMED ? h->frame_count : 0);
	rp__put_u64(b, h->body_len);
	rp__put_u64(b, h->orig_size);
	if (h->kind == RP__OBJ_FRAMED) {
		rp__put_u64(b, h->prefix_len);
		rp__put_u64(b, h->suffix_len);
		rp__put_u32(b, h->img.width);
		rp__put_u32(b, h->img.height);
		rp__put_u16(b, h->img.components);
		rp__put_u16(b, h->img.bits_allocated);
		rp__put_u16(b, h->img.bits_stored);
		rp__put_u8(b, h->img.is_signed);
		rp__put_u8(b, h->img.photometric);
		rp__put_bytes(b, h->pixel_hash, 32);
		for (uint32_t i = 0; i < h->frame_count; i++)
			rp__put_u32(b, h->frame_len[i]);
	}
	if (!b->failed)
		rp__put_u32(b, rp__crc32c(0, b->p + start, b->len - start));
}

int
rp__objhdr_decode(const uint8_t *p, size_t n, struct rp__objhdr *h, size_t *need,
		  struct rp_errbuf *err)
{
	struct rp__rbuf r = {p, p + n};
	uint32_t magic = 0;
	uint16_t pad = 0;
	memset(h, 0, sizeof(*h));
	*need = RP__OBJHDR_FIXED;
	if (n < RP__OBJHDR_FIXED)
		return RP_OK;
	rp__get_u32(&r, &magic);
	rp__get_u32(&r, &h->index);
	rp__get_u8(&r, &h->kind);
	rp__get_u8(&r, &h->codec);
	rp__get_u16(&r, &pad);
	rp__get_u32(&r, &h->frame_count);
	rp__get_u64(&r, &h->body_len);
	rp__get_u64(&r, &h->orig_size);
	if (magic != RP__OBJECT_MAGIC || pad != 0)
		return rp__err(err, RP_E_CORRUPT, "bad in-flight object magic");
	if (h->kind > RP__OBJ_FRAMED)
		return rp__err(err, RP_E_CORRUPT, "unknown object kind %u", h->kind);
	if (h->kind == RP__OBJ_VERBATIM && (h->frame_count != 0 || h->codec != 0))
		return rp__err(err, RP_E_CORRUPT, "verbatim object with frames or codec");
	if (h->kind == RP__OBJ_FRAMED && (h->frame_count == 0 || h->frame_count > RP__MAX_FRAMES))
		return rp__err(err, RP_E_CORRUPT, "frame count %u out of range", h->frame_count);
	*need = rp__objhdr_size(h);
	if (n < *need)
		return RP_OK;
	if (rp__crc32c(0, p, *need - 4) != rp__load_le32(p + *need - 4))
		return rp__err(err, RP_E_CORRUPT, "in-flight object header CRC mismatch");
	if (h->kind == RP__OBJ_VERBATIM) {
		if (h->body_len != h->orig_size)
			return rp__err(err, RP_E_CORRUPT, "verbatim body %llu != original %llu",
				       (unsigned long long)h->body_len,
				       (unsigned long long)h->orig_size);
		return RP_OK;
	}
	rp__get_u64(&r, &h->prefix_len);
	rp__get_u64(&r, &h->suffix_len);
	rp__get_u32(&r, &h->img.width);
	rp__get_u32(&r, &h->img.height);
	rp__get_u16(&r, &h->img.components);
	rp__get_u16(&r, &h->img.bits_allocated);
	rp__get_u16(&r, &h->img.bits_stored);
	rp__get_u8(&r, &h->img.is_signed);
	rp__get_u8(&r, &h->img.photometric);
	rp__get_bytes(&r, h->pixel_hash, 32);
	if ((h->img.bits_allocated != 8 && h->img.bits_allocated != 16) ||
	    h->img.bits_stored == 0 || h->img.bits_stored > h->img.bits_allocated ||
	    (h->img.components != 1 && h->img.components != 3) || h->img.width == 0 ||
	    h->img.height == 0 || h->img.is_signed > 1)
		return rp__err(err, RP_E_CORRUPT, "invalid image description");
	/* Frame size = w * h * c * bytes; orig = prefix + frames * size + suffix. */
	uint64_t fs, pix, orig, body = 0;
	if (__builtin_mul_overflow((uint64_t)h->img.width, (uint64_t)h->img.height, &fs) ||
	    __builtin_mul_overflow(fs, (uint64_t)h->img.components * (h->img.bits_allocated / 8),
				   &fs) ||
	    __builtin_mul_overflow(fs, (uint64_t)h->frame_count, &pix) ||
	    __builtin_add_overflow(pix, h->prefix_len, &orig) ||
	    __builtin_add_overflow(orig, h->suffix_len, &orig) || orig != h->orig_size)
		return rp__err(err, RP_E_CORRUPT, "object sizes do not add up to the original");
	h->frame_len = malloc((size_t)h->frame_count * sizeof(uint32_t));
	if (!h->frame_len)
		return RP_E_NOMEM;
	if (__builtin_add_overflow(h->prefix_len, h->suffix_len, &body))
		goto bad;
	for (uint32_t i = 0; i < h->frame_count; i++) {
		rp__get_u32(&r, &h->frame_len[i]);
		if (h->frame_len[i] == 0 || __builtin_add_overflow(body, h->frame_len[i], &body))
			goto bad;
	}
	if (body != h->body_len)
		goto bad;
	return RP_OK;
bad:
	rp__objhdr_free(h);
	return rp__err(err, RP_E_CORRUPT, "object body length does not match its parts");
}
