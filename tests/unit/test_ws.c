/* The demo-app's WebSocket pieces (src/demo/ws.c): SHA-1 against FIPS
 * 180 vectors, the RFC 6455 handshake example, frame headers both ways. */
#include "t.h"

#include <stdint.h>

#include "demo/ws.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha1_vectors(void)
{
	uint8_t d[20];
	char h[41];
	static char million[1000000];

	ws_sha1("abc", 3, d);
	hex(d, 20, h);
	ASSERT_STR_EQ(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	ws_sha1("", 0, d);
	hex(d, 20, h);
	ASSERT_STR_EQ(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	/* 56 bytes: the length no longer fits the first padding block */
	ws_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	hex(d, 20, h);
	ASSERT_STR_EQ(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	memset(million, 'a', sizeof(million));
	ws_sha1(million, sizeof(million), d);
	hex(d, 20, h);
	ASSERT_STR_EQ(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_accept_key_rfc_example(void)
{
	char out[WS_ACCEPT_LEN + 1];
	/* RFC 6455 section 1.3 */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
	ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_frame_parse(void)
{
	struct ws_frame f;
	/* RFC 6455 5.7: a masked "Hello" */
	uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	ASSERT_EQ(ws_frame_parse(hello, sizeof(hello), &f), 6);
	ASSERT_TRUE(f.fin && f.masked);
	ASSERT_EQ(f.opcode, WS_OP_TEXT);
	ASSERT_EQ(f.length, 5);
	ws_unmask(hello + 6, 5, f.mask, 0);
	ASSERT_TRUE(memcmp(hello + 6, "Hello", 5) == 0);
	for (size_t i = 0; i < 6; i++)
		ASSERT_EQ(ws_frame_parse(hello, i, &f), WS_INCOMPLETE);

	uint8_t len16[] = {0x82, 0x7E, 0x01, 0x00};
	ASSERT_EQ(ws_frame_parse(len16, sizeof(len16), &f), 4);
	ASSERT_EQ(f.length, 256);
	ASSERT_TRUE(!f.masked);
	uint8_t len64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
	ASSERT_EQ(ws_frame_parse(len64, sizeof(len64), &f), 10);
	ASSERT_EQ(f.length, 65536);

	uint8_t rsv[] = {0xC1, 0x00};                   /* RSV1 without an extension */
	uint8_t op3[] = {0x83, 0x00};                   /* reserved opcode */
	uint8_t frag_ping[] = {0x09, 0x00};             /* fragmented control frame */
	uint8_t long_ping[] = {0x89, 0x7E, 0x00, 0x7E}; /* control frame > 125 */
	uint8_t short16[] = {0x82, 0x7E, 0x00, 0x05};   /* not the shortest form */
	uint8_t top64[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
	ASSERT_EQ(ws_frame_parse(rsv, 2, &f), WS_MALFORMED);
	ASSERT_EQ(ws_frame_parse(op3, 2, &f), WS_MALFORMED);
	ASSERT_EQ(ws_frame_parse(frag_ping, 2, &f), WS_MALFORMED);
	ASSERT_EQ(ws_frame_parse(long_ping, 4, &f), WS_MALFORMED);
	ASSERT_EQ(ws_frame_parse(short16, 4, &f), WS_MALFORMED);
	ASSERT_EQ(ws_frame_parse(top64, 10, &f), WS_MALFORMED);
}

static void test_frame_header_round_trip(void)
{
	uint64_t lens[] = {0, 125, 126, 65535, 65536, 1u << 20};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t h[10];
		struct ws_frame f;
		size_t n = ws_frame_header(h, i % 2 == 0, WS_OP_BINARY, lens[i]);
		ASSERT_EQ(ws_frame_parse(h, n, &f), (long)n);
		ASSERT_EQ(f.length, lens[i]);
		ASSERT_EQ(f.fin, i % 2 == 0);
		ASSERT_EQ(f.opcode, WS_OP_BINARY);
	}
}

T_MAIN({
	T_RUN(test_sha1_vectors);
	T_RUN(test_accept_key_rfc_example);
	T_RUN(test_frame_parse);
	T_RUN(test_frame_header_round_trip);
})
