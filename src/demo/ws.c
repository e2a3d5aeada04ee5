/*
 * RFC 6455 handshake key and frame headers (see ws.h).
 */
#include "demo/ws.h"

#include <string.h>

static uint32_t rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999u;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1u;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDCu;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6u;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void ws_sha1(const void *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
	const uint8_t *p = data;
	uint8_t last[128] = {0};
	uint64_t bits = (uint64_t)len * 8;
	size_t full = len / 64 * 64, rest = len - full, tail;

	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, p + i);
	/* the remainder, 0x80, zeros, and the bit length: one or two blocks */
	memcpy(last, p + full, rest);
	last[rest] = 0x80;
	tail = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		last[tail - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t i = 0; i < tail; i += 64)
		sha1_block(h, last + i);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

void ws_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t in[128 + sizeof(guid)], d[21] = {0};
	size_t o = 0;

	/* a key is 24 characters (16 random bytes in base64); longer ones are
	 * cut, which no conforming client sends */
	if (keylen > 128)
		keylen = 128;
	memcpy(in, key, keylen);
	memcpy(in + keylen, guid, sizeof(guid) - 1);
	ws_sha1(in, keylen + sizeof(guid) - 1, d);
	for (size_t i = 0; i < 21; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	/* 20 bytes: the last group holds 2 of them, so one '=' */
	out[WS_ACCEPT_LEN - 1] = '=';
	out[WS_ACCEPT_LEN] = 0;
}

long ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f)
{
	size_t need = 2;
	uint64_t n;

	if (len < 2)
		return WS_INCOMPLETE;
	if (buf[0] & 0x70)
		return WS_MALFORMED; /* RSV1-3: no extension negotiated */
	f->fin = buf[0] & 0x80;
	f->opcode = (enum ws_opcode)(buf[0] & 0x0F);
	switch (f->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		break;
	default:
		return WS_MALFORMED;
	}
	f->masked = buf[1] & 0x80;
	n = buf[1] & 0x7F;
	if (n == 126)
		need += 2;
	else if (n == 127)
		need += 8;
	if (f->masked)
		need += 4;
	if (len < need)
		return WS_INCOMPLETE;
	if (n == 126) {
		n = (uint64_t)buf[2] << 8 | buf[3];
		if (n < 126)
			return WS_MALFORMED;
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		if (n >> 63 || n <= 0xFFFF)
			return WS_MALFORMED;
	}
	if (f->opcode >= WS_OP_CLOSE && (!f->fin || n > 125))
		return WS_MALFORMED;
	f->length = n;
	if (f->masked)
		memcpy(f->mask, buf + need - 4, 4);
	return (long)need;
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(off + i) & 3];
}

size_t ws_frame_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len)
{
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0F));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (8 * (7 - i)));
	return 10;
}
