/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/test_frame.c - the wire format of docs/FORMAT.md: round trips of every structure
 * and rejection of malformed input (bad magic, lengths, CRC, paths, caps). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "transport/frame.h"

static void
test_crc32c_check_value(void **state)
{
	(void)state;
	/* CRC-32C check value from the Castagnoli catalogue, as FORMAT.md states. */
	assert_int_equal(rp__crc32c(0, "123456789", 9), 0xE3069283u);
}

static void
test_frame_header_roundtrip(void **state)
{
	(void)state;
	uint8_t payload[100];
	for (int i = 0; i < 100; i++)
		payload[i] = (uint8_t)(i * 7);
	uint8_t hdr[RP__FRAME_HDR_SIZE];
	rp__frame_header_encode(hdr, RP__F_DONE, payload, sizeof(payload));
	struct rp__frame_hdr h;
	assert_int_equal(rp__frame_header_decode(hdr, &h, NULL), RP_OK);
	assert_int_equal(h.type, RP__F_DONE);
	assert_int_equal(h.len, 100);
	assert_true(rp__frame_crc_ok(hdr, payload, 100));
	/* Any flipped payload bit or header length bit breaks the CRC. */
	for (int bit = 0; bit < 800; bit += 37) {
		payload[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_false(rp__frame_crc_ok(hdr, payload, 100));
		payload[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	hdr[8] ^= 1;
	assert_false(rp__frame_crc_ok(hdr, payload, 100));
}

static void
test_frame_header_rejects(void **state)
{
	(void)state;
	uint8_t hdr[RP__FRAME_HDR_SIZE], bad[RP__FRAME_HDR_SIZE];
	struct rp__frame_hdr h;
	struct rp_errbuf err;
	rp__frame_header_encode(hdr, RP__F_HELLO, "", 0);
	memcpy(bad, hdr, sizeof(bad));
	bad[0] ^= 0xff;
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	memcpy(bad, hdr, sizeof(bad));
	bad[4] = 2;
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	memcpy(bad, hdr, sizeof(bad));
	bad[5] = 0;
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	bad[5] = RP__F_TYPE_MAX + 1;
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	memcpy(bad, hdr, sizeof(bad));
	bad[6] = 1;
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	memcpy(bad, hdr, sizeof(bad));
	rp__store_le32(bad + 8, RP__MAX_PAYLOAD + 1);
	assert_int_equal(rp__frame_header_decode(bad, &h, &err), RP_E_PROTOCOL);
	assert_non_null(strstr(err.msg, "exceeds"));
}

static void
test_ranges(void **state)
{
	(void)state;
	struct rp__ranges rs = {0};
	uint64_t keys[] = {5, 6, 7, 1, 3, 2, 100, 9, 8, 4, 0, 7};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(rp__ranges_add(&rs, keys[i]), RP_OK);
	assert_int_equal(rs.count, 2);
	assert_int_equal(rs.r[0][0], 0);
	assert_int_equal(rs.r[0][1], 10);
	assert_int_equal(rs.r[1][0], 100);
	assert_int_equal(rp__ranges_total(&rs), 11);
	assert_true(rp__ranges_has(&rs, 9));
	assert_false(rp__ranges_has(&rs, 10));
	assert_true(rp__ranges_has(&rs, 100));
	assert_false(rp__ranges_has(&rs, 101));

	struct rp__wbuf b = {0};
	rp__ranges_encode(&b, &rs);
	struct rp__rbuf r = {b.p, b.p + b.len};
	struct rp__ranges back;
	assert_int_equal(rp__ranges_decode(&r, &back, NULL), RP_OK);
	assert_int_equal(back.count, 2);
	assert_int_equal(back.r[1][0], 100);
	rp__ranges_free(&back);
	/* Overlapping or touching ranges are malformed. */
	rp__store_le64(b.p + 4 + 16, 9);
	r = (struct rp__rbuf){b.p, b.p + b.len};
	assert_int_equal(rp__ranges_decode(&r, &back, NULL), RP_E_PROTOCOL);
	/* A count larger than the bytes that follow is refused before allocating. */
	rp__store_le32(b.p, 1000000);
	r = (struct rp__rbuf){b.p, b.p + b.len};
	assert_int_equal(rp__ranges_decode(&r, &back, NULL), RP_E_PROTOCOL);
	rp__wbuf_free(&b);
	rp__ranges_free(&rs);
}

static void
test_hello_welcome_chunk(void **state)
{
	(void)state;
	struct rp__hello h = {.caps = RP__CAP_FEC, .stream_index = 3, .stream_count = 8}, h2;
	memset(h.session, 0xab, sizeof(h.session));
	struct rp__wbuf b = {0};
	rp__hello_encode(&b, &h);
	assert_int_equal(rp__hello_decode(b.p, b.len, &h2, NULL), RP_OK);
	assert_int_equal(h2.stream_index, 3);
	assert_memory_equal(h2.session, h.session, 16);
	assert_int_equal(rp__hello_decode(b.p, b.len - 1, &h2, NULL), RP_E_PROTOCOL);
	rp__store_le16(b.p + 20, 8);  /* index == count */
	assert_int_equal(rp__hello_decode(b.p, b.len, &h2, NULL), RP_E_PROTOCOL);
	rp__store_le16(b.p + 20, 3);
	/* Every known bit is taken; the first bit no version knows is refused, by name, so
	 * that a newer sender can tell and reconnect without it (FORMAT.md section 7). */
	rp__store_le32(b.p + 16, RP__CAP_KNOWN);
	assert_int_equal(rp__hello_decode(b.p, b.len, &h2, NULL), RP_OK);
	assert_int_equal(h2.caps, RP__CAP_FEC | RP__CAP_RESUME | RP__CAP_KEEPALIVE);
	rp__store_le32(b.p + 16, RP__CAP_KNOWN + 1);
	struct rp_errbuf e = {""};
	assert_int_equal(rp__hello_decode(b.p, b.len, &h2, &e), RP_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "unknown capabilities"));
	rp__wbuf_free(&b);

	struct rp__welcome w = {.state = RP__WELCOME_RESUMED}, w2;
	assert_int_equal(rp__ranges_add(&w.have, 42), RP_OK);
	rp__welcome_encode(&b, &w);
	assert_int_equal(rp__welcome_decode(b.p, b.len, &w2, NULL), RP_OK);
	assert_int_equal(w2.state, RP__WELCOME_RESUMED);
	assert_true(rp__ranges_has(&w2.have, 42));
	rp__ranges_free(&w2.have);
	rp__ranges_free(&w.have);
	rp__wbuf_free(&b);

	uint8_t frame[RP__CHUNK_HDR_SIZE + 10];
	struct rp__chunk c = {.group = 1ull << 40, .index = 17, .k_group = 16, .size = 10}, c2;
	memset(c.session, 1, 16);
	rp__chunk_header_encode(frame, &c);
	memset(frame + RP__CHUNK_HDR_SIZE, 0x5a, 10);
	assert_int_equal(rp__chunk_decode(frame, sizeof(frame), &c2, NULL), RP_OK);
	assert_int_equal(c2.group, 1ull << 40);
	assert_int_equal(c2.index, 17);
	assert_int_equal(c2.size, 10);
	assert_ptr_equal(c2.data, frame + RP__CHUNK_HDR_SIZE);
	/* Length field must agree with the frame. */
	assert_int_equal(rp__chunk_decode(frame, sizeof(frame) - 1, &c2, NULL), RP_E_PROTOCOL);
	frame[26] = 0;
	assert_int_equal(rp__chunk_decode(frame, sizeof(frame), &c2, NULL), RP_E_PROTOCOL);
}

static void
test_error_frame(void **state)
{
	(void)state;
	struct rp__wbuf b = {0};
	rp__error_encode(&b, RP_E_NOSPACE, "disk\nfull");
	int st;
	char msg[64];
	assert_int_equal(rp__error_decode(b.p, b.len, &st, msg, sizeof(msg), NULL), RP_OK);
	assert_int_equal(st, RP_E_NOSPACE);
	assert_string_equal(msg, "disk?full");
	/* A status that is not one of ours becomes RP_E_PROTOCOL. */
	rp__store_le32(b.p, 5);
	assert_int_equal(rp__error_decode(b.p, b.len, &st, msg, sizeof(msg), NULL), RP_OK);
	assert_int_equal(st, RP_E_PROTOCOL);
	rp__wbuf_free(&b);
}

static void
make_manifest(struct rp__wbuf *b, const char *const *paths, uint32_t n)
{
	struct rp__mentry e[8];
	struct rp__manifest m = {.count = n, .chunk_size = 65536, .k = 8, .m = 2, .e = e};
	for (uint32_t i = 0; i < n; i++) {
		e[i].path = (char *)paths[i];
		e[i].size = 1000 + i;
		memset(e[i].sha256, (int)i, 32);
		e[i].codec = 1;
		m.total += e[i].size;
	}
	rp__manifest_encode(b, &m);
}

static int
decode_paths(const char *const *paths, uint32_t n)
{
	struct rp__wbuf b = {0};
	struct rp__manifest m;
	make_manifest(&b, paths, n);
	int s = rp__manifest_decode(b.p, b.len, 1000, &m, NULL);
	rp__manifest_free(&m);
	rp__wbuf_free(&b);
	return s;
}

static void
test_manifest(void **state)
{
	(void)state;
	const char *ok[] = {"study/ser1/a.dcm", "study/ser1/b.dcm", "study/ser10/a.dcm",
			    "x.dcm"};
	struct rp__wbuf b = {0};
	struct rp__manifest m;
	make_manifest(&b, ok, 4);
	assert_int_equal(rp__manifest_decode(b.p, b.len, 1000, &m, NULL), RP_OK);
	assert_int_equal(m.count, 4);
	assert_string_equal(m.e[2].path, "study/ser10/a.dcm");
	assert_int_equal(m.e[3].size, 1003);
	assert_int_equal(m.total, 4006);
	assert_int_equal(m.k, 8);
	rp__manifest_free(&m);
	/* Object cap, truncation, trailing bytes, a total that lies. */
	assert_int_equal(rp__manifest_decode(b.p, b.len, 3, &m, NULL), RP_E_LIMIT);
	assert_int_equal(rp__manifest_decode(b.p, b.len - 1, 1000, &m, NULL), RP_E_PROTOCOL);
	rp__store_le64(b.p + 16, 4007);
	assert_int_equal(rp__manifest_decode(b.p, b.len, 1000, &m, NULL), RP_E_PROTOCOL);
	rp__wbuf_free(&b);

	uint8_t id1[16], id2[16];
	make_manifest(&b, ok, 4);
	assert_int_equal(rp__session_id(b.p, b.len, id1), RP_OK);
	b.p[b.len - 5] ^= 1;
	assert_int_equal(rp__session_id(b.p, b.len, id2), RP_OK);
	assert_memory_not_equal(id1, id2, 16);
	rp__wbuf_free(&b);

	const char *bad[][2] = {{"../etc/passwd", "a"},  {"/abs", "a"},
				{"a/../../b", "c"},      {"a//b", "c"},
				{"a/./b", "c"},          {".radpipe/x", "a"},
				{"a\\b", "c"},           {"dup", "dup"},
				{"dir", "dir/file"},     {"a/b/", "c"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_paths(bad[i], 2), RP_E_PROTOCOL);
	const char *fine[] = {"dir", "dir2/file", "dir.x/y", "..hidden/ok"};
	assert_int_equal(decode_paths(fine, 4), RP_OK);
}

static void
test_objhdr(void **state)
{
	(void)state;
	uint32_t lens[3] = {100, 200, 300};
	struct rp__objhdr h = {.index = 7, .kind = RP__OBJ_FRAMED, .codec = 1, .frame_count = 3,
			       .prefix_len = 1000, .suffix_len = 2, .frame_len = lens};
	h.img = (struct rp_image_desc){.width = 4, .height = 5, .components = 1,
				       .bits_allocated = 16, .bits_stored = 12};
	h.body_len = 1000 + 600 + 2;
	h.orig_size = 1000 + 3 * 40 + 2;
	struct rp__wbuf b = {0};
	rp__objhdr_encode(&b, &h);
	assert_int_equal(b.len, RP__OBJHDR_FRAMED_BASE + 12);
	struct rp__objhdr h2;
	size_t need;
	/* Too short: asks for more, first the fixed part, then the whole header. */
	assert_int_equal(rp__objhdr_decode(b.p, 10, &h2, &need, NULL), RP_OK);
	assert_int_equal(need, RP__OBJHDR_FIXED);
	assert_int_equal(rp__objhdr_decode(b.p, 40, &h2, &need, NULL), RP_OK);
	assert_int_equal(need, b.len);
	assert_int_equal(rp__objhdr_decode(b.p, b.len, &h2, &need, NULL), RP_OK);
	assert_int_equal(h2.frame_len[2], 300);
	assert_int_equal(h2.img.bits_stored, 12);
	rp__objhdr_free(&h2);
	/* A corrupted byte fails the CRC. */
	b.p[50] ^= 4;
	assert_int_equal(rp__objhdr_decode(b.p, b.len, &h2, &need, NULL), RP_E_CORRUPT);
	rp__wbuf_free(&b);
	/* Sizes that do not add up are corrupt even with a valid CRC. */
	h.orig_size++;
	rp__objhdr_encode(&b, &h);
	assert_int_equal(rp__objhdr_decode(b.p, b.len, &h2, &need, NULL), RP_E_CORRUPT);
	rp__wbuf_free(&b);

	struct rp__objhdr v = {.index = 1, .kind = RP__OBJ_VERBATIM, .body_len = 5,
			       .orig_size = 5};
	rp__objhdr_encode(&b, &v);
	assert_int_equal(b.len, RP__OBJHDR_VERBATIM_SIZE);
	assert_int_equal(rp__objhdr_decode(b.p, b.len, &h2, &need, NULL), RP_OK);
	assert_int_equal(h2.kind, RP__OBJ_VERBATIM);
	rp__wbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_frame_header_roundtrip),
		cmocka_unit_test(test_frame_header_rejects),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_hello_welcome_chunk),
		cmocka_unit_test(test_error_frame),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_objhdr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
