/*
 * libFuzzer target: bytes from a client or a target, through the request and
 * response head parsers, their framing, and the chunked decoder fed in
 * uneven pieces. The input is copied into an exact-size heap buffer so that
 * ASan catches a one-byte over-read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http1.h"

static void chunked(const char *p, size_t n)
{
	struct http_chunked c = {0};
	size_t off = 0, step = 1;
	while (off < n && !http_chunked_done(&c)) {
		struct http_slice data;
		size_t len = n - off < step ? n - off : step;
		long r = http_chunked_parse(&c, p + off, len, &data);
		if (r < 0)
			return;
		if (r == 0)
			step++;
		off += (size_t)r;
		step = step % 7 + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *p = malloc(n ? n : 1);
	struct http_header hs[64];
	struct http_request rq = {.headers = hs, .maxheaders = 64};
	struct http_response rs = {.headers = hs, .maxheaders = 64};
	struct http_framing f;
	long r;

	if (!p)
		return 0;
	memcpy(p, d, n);
	r = http_parse_request(p, n, &rq);
	if (r > 0) {
		(void)http_request_framing(&rq, &f);
		chunked(p + r, n - (size_t)r);
	}
	r = http_parse_response(p, n, &rs);
	if (r > 0)
		(void)http_response_framing(&rs, false, &f);
	chunked(p, n);
	free(p);
	return 0;
}
