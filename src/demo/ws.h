/*
 * WebSocket (RFC 6455) pieces for the demo-app's /ws echo endpoint, as pure
 * functions: the handshake's Sec-WebSocket-Accept value and a frame header
 * parser over (buf, len). No I/O, no allocation.
 *
 * Return convention (as src/http/http1.h): > 0 bytes consumed,
 * WS_INCOMPLETE (-2) when more bytes are needed, WS_MALFORMED (-1).
 */
#ifndef VPCD_DEMO_WS_H
#define VPCD_DEMO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MALFORMED (-1)
#define WS_INCOMPLETE (-2)

#define WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* SHA-1 (FIPS 180-4) of data into out. Only for the handshake: RFC 6455
 * uses it as a fingerprint, not for security. */
void ws_sha1(const void *data, size_t len, uint8_t out[20]);

/* base64(SHA-1(key + the RFC 6455 GUID)) into out, NUL-terminated (out has
 * WS_ACCEPT_LEN + 1 bytes). key is the client's Sec-WebSocket-Key value. */
void ws_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1]);

struct ws_frame {
	bool fin;
	enum ws_opcode opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t length; /* payload bytes that follow the header */
};

/* Parses a frame header at buf. Malformed: reserved bits set (no extension
 * is negotiated), an unknown opcode, a control frame that is fragmented or
 * longer than 125, a 64-bit length with the top bit set, or a length not
 * in its shortest form. Returns the header's size, WS_INCOMPLETE or
 * WS_MALFORMED. */
long ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f);

/* XORs n payload bytes with the mask, starting at payload offset off. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off);

/* Writes an unmasked (server) frame header for a payload of len bytes into
 * out (at least 10 bytes); returns its size. */
size_t ws_frame_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len);

#endif
