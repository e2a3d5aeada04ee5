/*
 * The demo app's own small HTTP/1.1 request reader: a pure head parser and
 * a chunked-body skipper over (buf, len). Strict enough to refuse the
 * ambiguous framings a proxy could be fooled by (both Content-Length and
 * Transfer-Encoding, bad lengths, folded or spaced header names); the demo
 * app only needs the head, so bodies are skipped, never kept.
 */
#ifndef VPCD_DEMO_DEMO_HTTP_H
#define VPCD_DEMO_DEMO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEMO_HTTP_MAX_HEADERS 100

struct demo_slice {
	const char *p;
	size_t n;
};

struct demo_header {
	struct demo_slice name, value;
};

struct demo_req {
	struct demo_slice method, target;
	int minor; /* HTTP/1.<minor> */
	struct demo_header headers[DEMO_HTTP_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool keep_alive;
};

/* Parses a request head (request line + headers + empty line). Slices point
 * into buf. Returns bytes consumed (>0), -2 when incomplete, -1 when
 * malformed. */
int demo_http_parse_head(const char *buf, size_t len, struct demo_req *req);

struct demo_chunked {
	int state;
	uint64_t size;
	int ndigits;
	bool done;
};

/* Skips chunked body bytes, resumable: st starts zeroed. Returns bytes
 * consumed (0..len; st->done once the last chunk and trailers are read), or
 * -1 when malformed. */
long demo_http_skip_chunked(struct demo_chunked *st, const char *buf, size_t len);

#endif
