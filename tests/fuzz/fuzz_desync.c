/*
 * libFuzzer target: bytes from a client through the desync classifier's raw
 * head splitter and classification, in an exact-size heap buffer so that
 * ASan catches a one-byte over-read. Invariants checked: the head length is
 * within the input; the verdict is a known tier and reason; and wherever the
 * strict parser of http1.h accepts a head, the classifier ends the head at
 * the same byte (both hops of one connection must agree where a request ends);
 * and a head desync_normalize produces is one the strict parser and the
 * request framing accept whole (what a load balancer forwards is strict
 * HTTP).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/desync.h"
#include "http/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *p = malloc(n ? n : 1);
	struct desync_field fs[64];
	struct http_header hs[64];
	struct http_request rq = {.headers = hs, .maxheaders = 64};
	struct desync_request r;
	struct desync_verdict v;
	long k, strict;

	if (!p)
		return 0;
	memcpy(p, d, n);
	k = desync_classify_head(p, n, fs, 64, &r, &v);
	if (k > 0) {
		if ((size_t)k > n || v.tier > DESYNC_SEVERE ||
		    strcmp(desync_reason_name(v.reason), "unknown") == 0)
			abort();
		size_t cap = 3 * (size_t)k + 64;
		char *norm = malloc(cap);
		(void)desync_decide(DESYNC_MODE_DEFENSIVE, v.tier);
		(void)desync_classify(&r);
		if (norm) {
			long m = desync_normalize(&r, norm, cap);
			struct http_framing fr;
			if (m > 0 && (size_t)m > cap)
				abort();
			long sm = m > 0 ? http_parse_request(norm, (size_t)m, &rq) : 0;
			/* percent-encoding may take a target past the limits */
			if (m > 0 && sm != HTTP_URI_TOO_LONG && sm != HTTP_HEAD_TOO_LARGE &&
			    (sm != m || http_request_framing(&rq, &fr) != 0))
				abort();
			if (m <= 0 && m != HTTP_MALFORMED && m != HTTP_TE_UNSUPPORTED)
				abort();
			free(norm);
		}
	} else if (k != HTTP_INCOMPLETE && k != HTTP_HEAD_TOO_LARGE) {
		abort();
	}
	strict = http_parse_request(p, n, &rq);
	if (strict > 0 && k > 0 && strict != k)
		abort();
	if (strict > 0 && k == HTTP_INCOMPLETE)
		abort();
	free(p);
	return 0;
}
