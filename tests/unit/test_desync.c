/*
 * The desync classifier against AWS's case tables (../shared/spec/desync-cases,
 * compiled into desync_cases.h by scripts/gen-desync-cases.py): every case,
 * as parts and as the raw head a client sends, must get the table's tier and
 * reason. Then the raw splitter's own cases, the mode table, and the names.
 */
#include "http/desync.h"

#include <stdlib.h>

#include "desync_cases.h"
#include "t.h"

#define MAXF 256

static struct http_slice S(const char *s) {
	return (struct http_slice){s, strlen(s)};
}

static void
print_bytes(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
}

static int check(const struct desync_case *c, const char *how, struct desync_verdict v)
{
	if (strcmp(desync_tier_name(v.tier), c->tier) == 0 &&
	    strcmp(desync_reason_name(v.reason), c->reason) == 0)
		return 1;
	T_FAIL("%s #%d \"%s\" (%s): got %s/%s, want %s/%s", c->file, c->index, c->name, how,
	       desync_tier_name(v.tier), desync_reason_name(v.reason), c->tier, c->reason);
	if (strcmp(how, "raw") == 0) {
		fprintf(stderr, "    raw: ");
		print_bytes(c->raw.p, c->raw.n);
		fputc('\n', stderr);
	}
	return 0;
}

/* Every case of every table, as parts. */
static void test_tables_parts(void)
{
	size_t pass = 0;

	for (size_t k = 0; k < DESYNC_NCASES; k++) {
		const struct desync_case *c = &desync_cases[k];
		struct desync_field f[64];
		struct desync_request r = {
		    .method = {c->method.p, c->method.n},
		    .target = {c->uri.p, c->uri.n},
		    .version = {c->version.p, c->version.n},
		    .fields = f,
		    .nfields = c->nheaders,
		};
		ASSERT_TRUE(c->nheaders <= 64);
		for (size_t i = 0; i < c->nheaders && i < 64; i++) {
			f[i].name = (struct http_slice){c->headers[i].name.p, c->headers[i].name.n};
			f[i].value =
			    (struct http_slice){c->headers[i].value.p, c->headers[i].value.n};
		}
		pass += check(c, "parts", desync_classify(&r));
	}
	fprintf(stderr, "desync tables, parts: %zu/%zu cases pass\n", pass, (size_t)DESYNC_NCASES);
	ASSERT_EQ(pass, DESYNC_NCASES);
}

/* Every case of every table, as the raw head, copied to the heap so ASan
 * catches a read past its end; the head must be consumed up to its first
 * empty line. */
static void test_tables_raw(void)
{
	size_t pass = 0;

	for (size_t k = 0; k < DESYNC_NCASES; k++) {
		const struct desync_case *c = &desync_cases[k];
		struct desync_field f[MAXF];
		struct desync_verdict v = {0};
		char *buf = malloc(c->raw.n);
		long n;

		if (!buf) {
			T_FAIL("out of memory");
			return;
		}
		memcpy(buf, c->raw.p, c->raw.n);
		n = desync_classify_head(buf, c->raw.n, f, MAXF, NULL, &v);
		if (n <= 0) {
			T_FAIL("%s #%d \"%s\" (raw): returned %ld", c->file, c->index, c->name, n);
		} else {
			pass += check(c, "raw", v);
			/* every byte of the head but a stray tail of the table's own
			 * line breaks ("...chunked\r\n" as a value) is consumed */
			for (size_t i = (size_t)n; i < c->raw.n; i++)
				if (c->raw.p[i] != '\r' && c->raw.p[i] != '\n' &&
				    strcmp(c->name, "Request Smuggling in URI") != 0) {
					T_FAIL("%s #%d: head ends at %ld of %zu", c->file, c->index,
					       n, c->raw.n);
					break;
				}
		}
		free(buf);
	}
	fprintf(stderr, "desync tables, raw: %zu/%zu cases pass\n", pass, (size_t)DESYNC_NCASES);
	ASSERT_EQ(pass, DESYNC_NCASES);
}

/* Every proper prefix of every table head is incomplete, never a verdict. */
static void test_tables_prefixes(void)
{
	for (size_t k = 0; k < DESYNC_NCASES; k++) {
		const struct desync_case *c = &desync_cases[k];
		struct desync_field f[MAXF];
		struct desync_verdict v;
		long full = desync_classify_head(c->raw.p, c->raw.n, f, MAXF, NULL, &v);
		for (size_t len = 0; full > 0 && len < (size_t)full; len++) {
			char *buf = malloc(len ? len : 1);
			if (!buf)
				return;
			memcpy(buf, c->raw.p, len);
			long n = desync_classify_head(buf, len, f, MAXF, NULL, &v);
			free(buf);
			if (n != HTTP_INCOMPLETE) {
				T_FAIL("%s #%d: prefix %zu of %ld returned %ld", c->file, c->index,
				       len, full, n);
				break;
			}
		}
	}
}

static struct desync_verdict raw(const char *s, long *n)
{
	struct desync_field f[MAXF];
	struct desync_verdict v = {DESYNC_COMPLIANT, DESYNC_R_COMPLIANT, -1};
	*n = desync_classify_head(s, strlen(s), f, MAXF, NULL, &v);
	return v;
}

#define ASSERT_RAW(req, tier_, reason_)                                                            \
	do {                                                                                       \
		long n_;                                                                           \
		struct desync_verdict v_ = raw(req, &n_);                                          \
		ASSERT_TRUE(n_ > 0);                                                               \
		ASSERT_STR_EQ(desync_tier_name(v_.tier), tier_);                                   \
		ASSERT_STR_EQ(desync_reason_name(v_.reason), reason_);                             \
	} while (0)

/* The raw splitter's own findings, beyond the tables. */
static void test_raw_framing(void)
{
	long n;

	ASSERT_RAW("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "Compliant", "Compliant");
	ASSERT_RAW("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "Compliant", "Compliant");
	/* LF only, consistently: tolerated */
	ASSERT_RAW("GET / HTTP/1.1\nHost: a\n\n", "Acceptable", "NonCrLfLineTermination");
	ASSERT_RAW("GET / HTTP/1.1\nHost: a\n\r\n", "Acceptable", "NonCrLfLineTermination");
	/* a bare LF in a CRLF head is part of its field */
	ASSERT_RAW("POST / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n", "Severe", "BadHeader");
	/* a head a CRLF-only hop does not see the end of */
	ASSERT_RAW("POST / HTTP/1.1\r\nContent-Length: 5\r\n\nTransfer-Encoding: chunked\r\n\r\n",
	           "Severe", "BadHeader");
	/* obs-fold */
	ASSERT_RAW("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "Ambiguous", "MultilineHeader");
	ASSERT_RAW("POST / HTTP/1.1\r\nX: a\r\n Content-Length: 5\r\n\r\n", "Ambiguous",
	           "SuspiciousHeader");
	/* a header line without a colon */
	ASSERT_RAW("GET / HTTP/1.1\r\nHost a\r\n\r\n", "Ambiguous", "MissingHeaderColon");
	/* request lines */
	ASSERT_RAW("GET HTTP/1.1\r\nHost: a\r\n\r\n", "Ambiguous", "MissingUri");
	ASSERT_RAW("GET\r\nHost: a\r\n\r\n", "Ambiguous", "MissingUri");
	ASSERT_RAW("GET /a\r\n\r\n", "Acceptable", "NonCompliantVersion");
	ASSERT_RAW("GET /a\tHTTP/1.1\r\n\r\n", "Severe", "BadUri");
	ASSERT_RAW("GET /a HTTP/1.1 HTTP/1.1\r\n\r\n", "Severe", "BadVersion");
	ASSERT_RAW("GET /a b HTTP/1.1\r\n\r\n", "Acceptable", "SpaceInUri");
	/* HTTP/2 and above are not classified */
	ASSERT_RAW("PRI * HTTP/2.0\r\n\r\n", "Compliant", "Compliant");
	/* framing headers */
	ASSERT_RAW("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", "Severe", "BadContentLength");
	ASSERT_RAW("POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n", "Severe",
	           "BadTransferEncoding");
	ASSERT_RAW("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n",
	           "Compliant", "Compliant");
	ASSERT_RAW("POST / HTTP/1.1\r\nTRANSFERENCODING: chunked\r\n\r\n", "Ambiguous",
	           "SuspiciousHeader");
	ASSERT_RAW("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", "Compliant", "Compliant");

	/* incomplete heads and limits */
	ASSERT_EQ(desync_classify_head("", 0, NULL, 0, NULL, NULL), HTTP_INCOMPLETE);
	ASSERT_EQ(desync_classify_head("\r\n", 2, NULL, 0, NULL, NULL), HTTP_INCOMPLETE);
	ASSERT_EQ(desync_classify_head("GET / HTTP/1.1\r\n", 16, NULL, 0, NULL, NULL),
	          HTTP_INCOMPLETE);
	ASSERT_EQ(desync_classify_head("GET / HTTP/1.1\r\n\r", 17, NULL, 0, NULL, NULL),
	          HTTP_INCOMPLETE);
	{
		struct desync_field f[1];
		struct desync_verdict v;
		const char *h = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
		ASSERT_EQ(desync_classify_head(h, strlen(h), f, 1, NULL, &v), HTTP_HEAD_TOO_LARGE);
	}
	/* the head's length, and the parts */
	{
		struct desync_field f[4];
		struct desync_request r;
		struct desync_verdict v;
		const char *h = "\r\nPOST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
		n = desync_classify_head(h, strlen(h), f, 4, &r, &v);
		ASSERT_EQ(n, (long)strlen(h) - 2);
		ASSERT_TRUE(http_slice_ieq(r.method, "POST"));
		ASSERT_TRUE(http_slice_ieq(r.target, "/x"));
		ASSERT_TRUE(http_slice_ieq(r.version, "HTTP/1.1"));
		ASSERT_EQ(r.nfields, 1);
		ASSERT_TRUE(http_slice_ieq(r.fields[0].name, "content-length"));
		ASSERT_EQ(v.tier, DESYNC_COMPLIANT);
	}
}

/* The verdict names the header it is about. */
static void test_field_index(void)
{
	struct desync_field f[] = {
	    {S("Host"), S("a")},
	    {S("Content-Length"), S("1")},
	    {S("Content-Length"), S("2")},
	};
	struct desync_request r = {S("POST"), S("/"), S("HTTP/1.1"), f, 3};
	struct desync_verdict v = desync_classify(&r);
	ASSERT_EQ(v.tier, DESYNC_SEVERE);
	ASSERT_EQ(v.reason, DESYNC_R_MULTIPLE_CONTENT_LENGTH);
	ASSERT_EQ(v.field, 2);
}

/* desync_normalize on one raw head: the normalized head, or the error. */
static long normalize_raw(const char *raw, char *out, size_t cap)
{
	struct desync_field f[MAXF];
	struct desync_request r;
	struct desync_verdict v;
	long n = desync_classify_head(raw, strlen(raw), f, MAXF, &r, &v);
	if (n <= 0)
		return -100;
	return desync_normalize(&r, out, cap);
}

static void expect_normal(const char *raw, const char *want)
{
	char out[1024];
	long k = normalize_raw(raw, out, sizeof(out));
	if (k < 0) {
		T_FAIL("normalize(%s) = %ld, want %s", raw, k, want);
		return;
	}
	out[k] = 0;
	ASSERT_STR_EQ(out, want);
}

static void test_normalize_forms(void)
{
	char out[1024];

	/* version, target, non-token names, control characters, OWS */
	expect_normal("GET /a b\x01\xc3\xa9 HTTP/1.2\r\nHost: h\r\nX-Bad\x01: v\r\n"
	              "X-Ok:  kept \r\nX-Ctl: a\x01b\r\n: empty\r\n\r\n",
	              "GET /a%20b%01%C3%A9 HTTP/1.1\r\nHost: h\r\nX-Ok: kept\r\n\r\n");
	/* HTTP/0.9 and no version: 1.0; an empty target: "/" */
	expect_normal("GET /x HTTP/0.9\r\nHost: h\r\n\r\n", "GET /x HTTP/1.0\r\nHost: h\r\n\r\n");
	expect_normal("GET /x\r\nHost: h\r\n\r\n", "GET /x HTTP/1.0\r\nHost: h\r\n\r\n");
	expect_normal("GET  HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	/* bare-LF heads get CRLF */
	expect_normal("GET / HTTP/1.1\nHost: h\n\n", "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	/* framing: TE overrides CL; look-alikes are dropped and frame nothing;
	 * a duplicate Content-Length becomes one */
	expect_normal("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	              "Transfer-Encoding: identity, chunked\r\n\r\n",
	              "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	expect_normal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n"
	              "Content-Length: 4\r\n\r\n",
	              "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n");
	expect_normal(
	    "POST / HTTP/1.1\r\nContent-Length: 7\r\nHost: h\r\nContent-Length:  7\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n");
	expect_normal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
	              "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* refused */
	ASSERT_EQ(normalize_raw("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", out,
	                        sizeof(out)),
	          HTTP_TE_UNSUPPORTED);
	ASSERT_EQ(normalize_raw("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", out,
	                        sizeof(out)),
	          HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	                        out, sizeof(out)),
	          HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	                        out, sizeof(out)),
	          HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", out, sizeof(out)),
	          HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("G@T / HTTP/1.1\r\n\r\n", out, sizeof(out)), HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("GET / HTTP/2.0\r\n\r\n", out, sizeof(out)), HTTP_MALFORMED);
	ASSERT_EQ(normalize_raw("GET /aaaaaaaa HTTP/1.1\r\n\r\n", out, 10), HTTP_HEAD_TOO_LARGE);
}

/* Every table case: a normalized head is one the strict parser and framing
 * accept whole, within the documented size; the Compliant, Acceptable and
 * Ambiguous cases are refused only for the documented reasons. */
static void test_normalize_tables(void)
{
	size_t forwarded = 0;

	for (size_t k = 0; k < DESYNC_NCASES; k++) {
		const struct desync_case *c = &desync_cases[k];
		struct desync_field f[MAXF];
		struct desync_request r;
		struct desync_verdict v;
		struct http_header hs[MAXF];
		struct http_request q = {.headers = hs, .maxheaders = MAXF};
		struct http_framing fr;
		size_t cap = 3 * c->raw.n + 64;
		char *out = malloc(cap);
		long n = desync_classify_head(c->raw.p, c->raw.n, f, MAXF, &r, &v), m;

		if (!out || n <= 0) {
			T_FAIL("%s #%d: classify %ld", c->file, c->index, n);
			free(out);
			continue;
		}
		m = desync_normalize(&r, out, cap);
		if (m > 0) {
			forwarded++;
			if (http_parse_request(out, (size_t)m, &q) != m ||
			    http_request_framing(&q, &fr) != 0)
				T_FAIL("%s #%d: the normalized head is not strict HTTP", c->file,
				       c->index);
		} else if (m != HTTP_MALFORMED && m != HTTP_TE_UNSUPPORTED) {
			T_FAIL("%s #%d: normalize returned %ld", c->file, c->index, m);
		} else if (v.tier != DESYNC_SEVERE && m == HTTP_MALFORMED &&
		           v.reason != DESYNC_R_UNDEFINED_TRANSFER_ENCODING_SEMANTICS) {
			T_FAIL("%s #%d \"%s\": refused (%s)", c->file, c->index, c->name,
			       desync_reason_name(v.reason));
		}
		free(out);
	}
	fprintf(stderr, "desync tables: %zu/%zu cases have a normalized form\n", forwarded,
	        (size_t)DESYNC_NCASES);
	ASSERT_EQ(forwarded, 92);
}

static void test_modes(void)
{
	static const struct {
		enum desync_mode mode;
		enum desync_action a[4];
	} table[] = {
	    {DESYNC_MODE_MONITOR, {DESYNC_FORWARD, DESYNC_FORWARD, DESYNC_FORWARD, DESYNC_FORWARD}},
	    {DESYNC_MODE_DEFENSIVE,
	     {DESYNC_FORWARD, DESYNC_FORWARD, DESYNC_FORWARD_THEN_CLOSE, DESYNC_REJECT}},
	    {DESYNC_MODE_STRICTEST, {DESYNC_FORWARD, DESYNC_REJECT, DESYNC_REJECT, DESYNC_REJECT}},
	};
	enum desync_mode m = DESYNC_MODE_MONITOR;

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		for (int t = DESYNC_COMPLIANT; t <= DESYNC_SEVERE; t++)
			ASSERT_EQ(desync_decide(table[i].mode, (enum desync_tier)t), table[i].a[t]);
	ASSERT_EQ(desync_mode_parse(S("defensive"), &m), 0);
	ASSERT_EQ(m, DESYNC_MODE_DEFENSIVE);
	ASSERT_EQ(desync_mode_parse(S("strictest"), &m), 0);
	ASSERT_EQ(m, DESYNC_MODE_STRICTEST);
	ASSERT_EQ(desync_mode_parse(S("monitor"), &m), 0);
	ASSERT_EQ(m, DESYNC_MODE_MONITOR);
	ASSERT_TRUE(desync_mode_parse(S("Defensive"), &m) < 0);
	ASSERT_STR_EQ(desync_mode_name(DESYNC_MODE_STRICTEST), "strictest");
}

static void test_names(void)
{
	struct desync_verdict ok = {DESYNC_COMPLIANT, DESYNC_R_COMPLIANT, -1};
	struct desync_verdict bad = {DESYNC_SEVERE, DESYNC_R_BAD_CONTENT_LENGTH, 0};

	for (int r = DESYNC_R_COMPLIANT; r <= DESYNC_R_MULTIPLE_TRANSFER_ENCODING_CHUNKED; r++)
		ASSERT_TRUE(strcmp(desync_reason_name((enum desync_reason)r), "unknown") != 0);
	ASSERT_STR_EQ(desync_log_classification(&ok), "-");
	ASSERT_STR_EQ(desync_log_reason(&ok), "-");
	ASSERT_STR_EQ(desync_log_classification(&bad), "Severe");
	ASSERT_STR_EQ(desync_log_reason(&bad), "BadContentLength");
}

T_MAIN({
	T_RUN(test_tables_parts);
	T_RUN(test_tables_raw);
	T_RUN(test_tables_prefixes);
	T_RUN(test_raw_framing);
	T_RUN(test_field_index);
	T_RUN(test_normalize_forms);
	T_RUN(test_normalize_tables);
	T_RUN(test_modes);
	T_RUN(test_names);
})
