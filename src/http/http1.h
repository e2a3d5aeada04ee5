/*
 * HTTP/1.1 message heads and chunked bodies, parsed as pure functions over
 * (buf, len): no I/O, no allocation; results are slices into the input.
 *
 * Return convention: > 0 bytes consumed (the whole head, final CRLF
 * included), HTTP_INCOMPLETE (-2) when more bytes are needed, HTTP_MALFORMED
 * (-1), and two limit errors that map onto the ALB's status codes:
 * HTTP_URI_TOO_LONG (request line over 16 KiB: 414) and HTTP_HEAD_TOO_LARGE
 * (a header line or the whole head over the limit: 400 for requests, 502
 * for responses). A caller that gets -2 calls again with the longer buffer;
 * the parse restarts (heads are bounded by the limits, so this is cheap).
 *
 * Strictness (on purpose, this is the attack surface): tokens per RFC 9110,
 * CRLF line ends only (bare CR or LF is malformed), no obs-fold, no space
 * before the colon, no control characters in values, HTTP/1.0 and 1.1 only.
 *
 * Ownership: every slice points into the caller's buffer and lives as long
 * as it does; headers[] is the caller's array.
 */
#ifndef VPCD_HTTP_HTTP1_H
#define VPCD_HTTP_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MALFORMED (-1)
#define HTTP_INCOMPLETE (-2)
#define HTTP_URI_TOO_LONG (-3)
#define HTTP_HEAD_TOO_LARGE (-4)
#define HTTP_TE_UNSUPPORTED (-5) /* from http_request_framing: 501 */

#define HTTP_LINE_MAX 16384	 /* request line, one header line (ALB) */
#define HTTP_HEAD_MAX 65536	 /* all request headers (ALB) */
#define HTTP_RESP_HEAD_MAX 32768 /* all response headers (ALB: 502 beyond) */

struct http_slice {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_slice name;
	struct http_slice value; /* optional whitespace trimmed on both sides */
};

struct http_request {
	struct http_slice method;
	struct http_slice target;
	int minor; /* 0 or 1 */
	/* In: headers (caller's array) and maxheaders. Out: nheaders. More
	 * headers than maxheaders is HTTP_HEAD_TOO_LARGE. */
	struct http_header *headers;
	size_t maxheaders;
	size_t nheaders;
};

struct http_response {
	int minor;
	int status; /* 100..999 */
	struct http_slice reason;
	struct http_header *headers;
	size_t maxheaders;
	size_t nheaders;
};

/* Parses a request head. Leading empty lines (CRLF) are skipped, as RFC 9112
 * allows, and counted in the bytes consumed. */
long http_parse_request(const char *buf, size_t len, struct http_request *r);
/* Parses a response head (limits: HTTP_RESP_HEAD_MAX for line and head). */
long http_parse_response(const char *buf, size_t len, struct http_response *r);
/* Parses only "HTTP/1.x NNN reason CRLF" (health checks need no more). */
long http_parse_status_line(const char *buf, size_t len, int *minor, int *status,
			    struct http_slice *reason);

/* --- body framing, read off a parsed head --- */

enum http_body_kind {
	HTTP_BODY_NONE,	   /* no body */
	HTTP_BODY_LENGTH,  /* Content-Length bytes */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP_BODY_CLOSE,   /* responses only: until the connection closes */
};

struct http_framing {
	enum http_body_kind kind;
	uint64_t length;     /* HTTP_BODY_LENGTH */
	bool keep_alive;     /* version default, Connection: close / keep-alive */
	bool expect_continue; /* Expect: 100-continue */
	bool upgrade;	     /* Connection: upgrade with an Upgrade header */
};

/* Request framing. Returns 0, HTTP_MALFORMED (bad or several Content-Length,
 * Content-Length with Transfer-Encoding, Transfer-Encoding on HTTP/1.0) or
 * HTTP_TE_UNSUPPORTED (a Transfer-Encoding other than chunked/identity). */
int http_request_framing(const struct http_request *r, struct http_framing *f);
/* Response framing; head_request: the request was HEAD (no body follows).
 * Returns 0 or HTTP_MALFORMED. */
int http_response_framing(const struct http_response *r, bool head_request,
			  struct http_framing *f);

/* --- chunked bodies --- */

/* A resumable decoder: feed it the bytes after the head, in any pieces. It
 * consumes framing (sizes, extensions, CRLFs, trailers) and data; it stops
 * after one run of data so the caller can see it. Zero-initialise to start. */
struct http_chunked {
	int state;
	uint64_t left;	   /* data bytes left in the current chunk */
	unsigned ndigits;  /* hex digits of the size line so far */
	size_t linelen;	   /* extension / trailer line length so far */
};

/* Consumes a prefix of buf. If data is not NULL it is set to the chunk data
 * inside the consumed bytes (n == 0 when none). Returns bytes consumed (0
 * only when len is 0 or the body is done) or HTTP_MALFORMED. */
long http_chunked_parse(struct http_chunked *c, const char *buf, size_t len,
			struct http_slice *data);
/* True once the last chunk and the trailer section have been consumed. */
bool http_chunked_done(const struct http_chunked *c);

/* --- small helpers --- */

/* Case-insensitive comparison of a slice with a NUL-terminated string. */
bool http_slice_ieq(struct http_slice s, const char *lit);
/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_header_find(const struct http_header *h, size_t n,
					   const char *name);
/* True if the comma-separated list in value has token tok (case-insensitive). */
bool http_list_has(struct http_slice value, const char *tok);
/* Reason phrase for the status codes the ALB generates, else "Unknown". */
const char *http_status_reason(int status);

#endif
