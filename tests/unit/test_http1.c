/* The HTTP/1.1 parser: heads, limits, strictness, framing, chunked bodies.
 * Inputs are copied into exact-size heap buffers so ASan catches over-reads. */
#include "t.h"

#include <stdlib.h>

#include "http/http1.h"

static struct http_header hdrs[64];

static long req(const char *s, size_t n, struct http_request *r)
{
	char *b = malloc(n ? n : 1);
	long rc;
	memcpy(b, s, n);
	r->headers = hdrs;
	r->maxheaders = 64;
	rc = http_parse_request(b, n, r);
	/* slices point into b: re-point them into s for the caller */
	if (rc > 0) {
		r->method.p = s + (r->method.p - b);
		r->target.p = s + (r->target.p - b);
		for (size_t i = 0; i < r->nheaders; i++) {
			hdrs[i].name.p = s + (hdrs[i].name.p - b);
			hdrs[i].value.p = s + (hdrs[i].value.p - b);
		}
	}
	free(b);
	return rc;
}

static long reqs(const char *s, struct http_request *r)
{
	return req(s, strlen(s), r);
}

static long resp(const char *s, struct http_response *r)
{
	size_t n = strlen(s);
	char *b = malloc(n ? n : 1);
	long rc;
	memcpy(b, s, n);
	r->headers = hdrs;
	r->maxheaders = 64;
	rc = http_parse_response(b, n, r);
	if (rc > 0) {
		r->reason.p = s + (r->reason.p - b);
		for (size_t i = 0; i < r->nheaders; i++) {
			hdrs[i].name.p = s + (hdrs[i].name.p - b);
			hdrs[i].value.p = s + (hdrs[i].value.p - b);
		}
	}
	free(b);
	return rc;
}

static int slice_is(struct http_slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void test_request_ok(void)
{
	struct http_request r;
	const char *m = "GET /a?b=c HTTP/1.1\r\nHost: x.example.com\r\nX-A:  v 1 \r\nEmpty:\r\n\r\nBODY";
	ASSERT_EQ(reqs(m, &r), (long)strlen(m) - 4);
	ASSERT_TRUE(slice_is(r.method, "GET"));
	ASSERT_TRUE(slice_is(r.target, "/a?b=c"));
	ASSERT_EQ(r.minor, 1);
	ASSERT_EQ(r.nheaders, 3);
	ASSERT_TRUE(slice_is(hdrs[0].name, "Host"));
	ASSERT_TRUE(slice_is(hdrs[0].value, "x.example.com"));
	ASSERT_TRUE(slice_is(hdrs[1].value, "v 1"));
	ASSERT_TRUE(slice_is(hdrs[2].value, ""));
	ASSERT_EQ(reqs("\r\nGET / HTTP/1.0\r\n\r\n", &r), 20);
	ASSERT_EQ(r.minor, 0);
}

static void test_request_every_prefix_incomplete(void)
{
	struct http_request r;
	const char *m = "\r\nPOST /upload HTTP/1.1\r\nHost: a.b\r\nTransfer-Encoding: chunked\r\n"
			"X-Amzn-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\r\n";
	size_t n = strlen(m);
	for (size_t i = 0; i < n; i++) {
		long rc = req(m, i, &r);
		if (rc != HTTP_INCOMPLETE)
			T_FAIL("prefix %zu: %ld", i, rc);
	}
	ASSERT_EQ(req(m, n, &r), (long)n);
}

static void test_request_malformed(void)
{
	struct http_request r;
	static const char *bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",		/* double space */
		"GET / HTTP/1.1\n\r\n",			/* bare LF */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",	/* bare CR */
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", /* obs-fold */
		"GET / HTTP/1.1\r\nA : b\r\n\r\n",	/* space before colon */
		"GET / HTTP/2.0\r\n\r\n",		/* version */
		"GET / HTTP/1.2\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",		/* bad token */
		"GET /\x01 HTTP/1.1\r\n\r\n",		/* control in target */
		"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",	/* control in value */
		"GET / HTTP/1.1\r\n: v\r\n\r\n",	/* empty name */
		"GET / HTTP/1.1\r\nA\r\n\r\n",		/* no colon */
		"GET / HTTP/1.1 \r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long rc = reqs(bad[i], &r);
		if (rc != HTTP_MALFORMED)
			T_FAIL("case %zu: %ld", i, rc);
	}
}

static void test_request_limits(void)
{
	struct http_request r;
	size_t big = HTTP_LINE_MAX + 100;
	char *m = malloc(big + 200);
	size_t n;
	/* a long URI, complete or not, is 414 */
	memcpy(m, "GET /", 5);
	memset(m + 5, 'a', big);
	ASSERT_EQ(req(m, 5 + big, &r), HTTP_URI_TOO_LONG);
	memcpy(m + 5 + big, " HTTP/1.1\r\n\r\n", 13);
	ASSERT_EQ(req(m, 5 + big + 13, &r), HTTP_URI_TOO_LONG);
	/* a long header is 400 material */
	n = (size_t)sprintf(m, "GET / HTTP/1.1\r\nX: ");
	memset(m + n, 'b', big);
	ASSERT_EQ(req(m, n + big, &r), HTTP_HEAD_TOO_LARGE);
	memcpy(m + n + big, "\r\n\r\n", 4);
	ASSERT_EQ(req(m, n + big + 4, &r), HTTP_HEAD_TOO_LARGE);
	free(m);
	/* all headers over 64 KiB */
	m = malloc(HTTP_HEAD_MAX + 20000);
	n = (size_t)sprintf(m, "GET / HTTP/1.1\r\n");
	while (n < HTTP_HEAD_MAX + 100)
		n += (size_t)sprintf(m + n, "X-Pad: %01000d\r\n", 0);
	ASSERT_EQ(req(m, n, &r), HTTP_HEAD_TOO_LARGE);
	free(m);
	/* more headers than the caller's array */
	{
		char b[4096];
		n = (size_t)sprintf(b, "GET / HTTP/1.1\r\n");
		for (int i = 0; i < 70; i++)
			n += (size_t)sprintf(b + n, "H%d: v\r\n", i);
		n += (size_t)sprintf(b + n, "\r\n");
		ASSERT_EQ(req(b, n, &r), HTTP_HEAD_TOO_LARGE);
	}
}

static void test_response(void)
{
	struct http_response r;
	struct http_framing f;
	const char *m = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	ASSERT_EQ(resp(m, &r), (long)strlen(m) - 5);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(http_response_framing(&r, false, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_LENGTH);
	ASSERT_EQ(f.length, 5);
	ASSERT_TRUE(f.keep_alive);
	ASSERT_EQ(http_response_framing(&r, true, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_NONE);
	for (size_t i = 0; i < strlen(m) - 5; i++) {
		char b[64];
		long rc;
		memcpy(b, m, i);
		b[i] = 0;
		rc = resp(b, &r);
		if (rc != HTTP_INCOMPLETE)
			T_FAIL("prefix %zu: %ld", i, rc);
	}
	ASSERT_EQ(resp("HTTP/1.1 204\r\n\r\n", &r), 16);
	ASSERT_EQ(r.status, 204);
	ASSERT_EQ(resp("HTTP/1.0 200 OK\r\n\r\n", &r), 19);
	ASSERT_EQ(http_response_framing(&r, false, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_CLOSE);
	ASSERT_TRUE(!f.keep_alive);
	ASSERT_EQ(resp("HTTP/1.1 2000 OK\r\n\r\n", &r), HTTP_MALFORMED);
	ASSERT_EQ(resp("HTTP/1.1 20x OK\r\n\r\n", &r), HTTP_MALFORMED);
	ASSERT_EQ(resp("HTTP/1.1 200 OK\nA: b\r\n\r\n", &r), HTTP_MALFORMED);
	ASSERT_EQ(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		       &r),
		  66);
	ASSERT_EQ(http_response_framing(&r, false, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_CHUNKED);
	ASSERT_TRUE(!f.keep_alive);
}

static void test_request_framing(void)
{
	struct http_request r;
	struct http_framing f;
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_LENGTH);
	ASSERT_EQ(f.length, 12);
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), 0);
	ASSERT_EQ(f.kind, HTTP_BODY_CHUNKED);
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), HTTP_TE_UNSUPPORTED);
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
			 &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), HTTP_MALFORMED);
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), HTTP_MALFORMED);
	ASSERT_TRUE(reqs("POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), HTTP_MALFORMED);
	ASSERT_TRUE(reqs("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), 0);
	ASSERT_TRUE(f.keep_alive);
	ASSERT_EQ(f.kind, HTTP_BODY_NONE);
	ASSERT_TRUE(reqs("GET / HTTP/1.0\r\n\r\n", &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), 0);
	ASSERT_TRUE(!f.keep_alive);
	ASSERT_TRUE(reqs("GET / HTTP/1.1\r\nConnection: foo, close\r\nExpect: 100-continue\r\n\r\n",
			 &r) > 0);
	ASSERT_EQ(http_request_framing(&r, &f), 0);
	ASSERT_TRUE(!f.keep_alive);
	ASSERT_TRUE(f.expect_continue);
}

/* Feeds body in pieces of step bytes; returns the decoded payload length,
 * and the total bytes consumed through *used. */
static long dechunk(const char *body, size_t n, size_t step, char *out, size_t *used)
{
	struct http_chunked c = {0};
	size_t off = 0, o = 0, avail = 0;
	while (!http_chunked_done(&c)) {
		long k;
		struct http_slice d;
		if (avail < n)
			avail = avail + step > n ? n : avail + step;
		if (off == avail)
			return -2;
		k = http_chunked_parse(&c, body + off, avail - off, &d);
		if (k < 0)
			return k;
		memcpy(out + o, d.p, d.n);
		o += d.n;
		off += (size_t)k;
	}
	*used = off;
	return (long)o;
}

static void test_chunked(void)
{
	const char *b = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\nNEXT";
	char out[128];
	size_t used = 0;
	for (size_t step = 1; step < 8; step++) {
		long n = dechunk(b, strlen(b), step, out, &used);
		ASSERT_EQ(n, 31);
		ASSERT_EQ(used, strlen(b) - 4);
		ASSERT_TRUE(memcmp(out, "helloabcdefghijklmnopqrstuvwxyz", 31) == 0);
	}
	/* every prefix is incomplete */
	for (size_t i = 0; i < strlen(b) - 4; i++)
		if (dechunk(b, i, 1000, out, &used) != -2)
			T_FAIL("prefix %zu", i);
	ASSERT_EQ(dechunk("0\r\n\r\n", 5, 100, out, &used), 0);
	ASSERT_EQ(used, 5);
	ASSERT_EQ(dechunk("x\r\n", 3, 100, out, &used), HTTP_MALFORMED);
	ASSERT_EQ(dechunk("5\nhello\r\n0\r\n\r\n", 14, 100, out, &used), HTTP_MALFORMED);
	ASSERT_EQ(dechunk("2\r\nabc\r\n0\r\n\r\n", 13, 100, out, &used), HTTP_MALFORMED);
	ASSERT_EQ(dechunk("11111111111111111\r\n", 19, 100, out, &used), HTTP_MALFORMED);
	ASSERT_EQ(dechunk("\r\n", 2, 100, out, &used), HTTP_MALFORMED);
}

static void test_list_has(void)
{
	struct http_slice v = {"keep-alive , Upgrade", 20};
	ASSERT_TRUE(http_list_has(v, "upgrade"));
	ASSERT_TRUE(http_list_has(v, "keep-alive"));
	ASSERT_TRUE(!http_list_has(v, "close"));
}

/* Mutated valid messages: the parsers never read out of bounds (ASan), and
 * the results stay within their contract. */
static void test_mutations(void)
{
	static const char *seeds[] = {
		"GET /a HTTP/1.1\r\nHost: a.b\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"5\r\nhello\r\n0\r\nX: y\r\n\r\n",
	};
	static const char alphabet[] = "\r\n :;\t\x01\x7f\x80" "aZ0f-/,";
	uint32_t rnd = 12345;
	for (int iter = 0; iter < 20000; iter++) {
		const char *seed = seeds[iter % 3];
		size_t n = strlen(seed);
		char *b = malloc(n);
		memcpy(b, seed, n);
		for (int k = 0; k < 3; k++) {
			rnd = rnd * 1103515245u + 12345u;
			size_t pos = (rnd >> 8) % n;
			rnd = rnd * 1103515245u + 12345u;
			b[pos] = alphabet[(rnd >> 8) % (sizeof(alphabet) - 1)];
		}
		rnd = rnd * 1103515245u + 12345u;
		size_t len = (rnd >> 8) % (n + 1);
		if (iter % 3 == 0) {
			struct http_request r = {.headers = hdrs, .maxheaders = 64};
			long rc = http_parse_request(b, len, &r);
			ASSERT_TRUE(rc >= -4 && rc <= (long)len && rc != 0);
		} else if (iter % 3 == 1) {
			struct http_response r = {.headers = hdrs, .maxheaders = 64};
			long rc = http_parse_response(b, len, &r);
			ASSERT_TRUE(rc >= -4 && rc <= (long)len && rc != 0);
		} else {
			struct http_chunked c = {0};
			size_t off = 0;
			for (int guard = 0; guard < 1000 && off < len && !http_chunked_done(&c);
			     guard++) {
				long rc = http_chunked_parse(&c, b + off, len - off, NULL);
				if (rc < 0)
					break;
				ASSERT_TRUE(rc > 0 && (size_t)rc <= len - off);
				off += (size_t)rc;
			}
		}
		free(b);
	}
}

T_MAIN({
	T_RUN(test_request_ok);
	T_RUN(test_request_every_prefix_incomplete);
	T_RUN(test_request_malformed);
	T_RUN(test_request_limits);
	T_RUN(test_response);
	T_RUN(test_request_framing);
	T_RUN(test_chunked);
	T_RUN(test_list_has);
	T_RUN(test_mutations);
})
