/*
 * The ALB's HTTP desync classifier (routing.http.desync_mitigation_mode) as
 * pure functions: a request is Compliant, Acceptable, Ambiguous or Severe,
 * with AWS's classification_reason; a second function turns (mode, tier)
 * into what the load balancer does. No I/O, no allocation, no global state.
 *
 * The classes and reasons are those of the access log and of
 * aws/http-desync-guardian (docs/desync.md; the case tables in
 * ../shared/spec/desync-cases/ are replayed by tests/unit/test_desync.c).
 *
 * Two entry points:
 * - desync_classify() over a request already split into parts (method,
 *   target, version, header name/value pairs as received, names and values
 *   untrimmed).
 * - desync_classify_head() over the raw head bytes as received, before (and
 *   independently of) the strict parser of http1.h: most of what it must
 *   classify is what the strict parser rejects. It splits leniently, adds the
 *   parsing-level reasons (NonCrLfLineTermination, MultilineHeader,
 *   MissingHeaderColon, MissingUri) and then classifies the parts.
 *
 * Ownership: every slice points into the caller's buffer; fields[] is the
 * caller's array.
 */
#ifndef VPCD_HTTP_DESYNC_H
#define VPCD_HTTP_DESYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http1.h"

/* Ordered: a higher tier is worse; a verdict only ever moves up. */
enum desync_tier {
	DESYNC_COMPLIANT,
	DESYNC_ACCEPTABLE,
	DESYNC_AMBIGUOUS,
	DESYNC_SEVERE,
};

/* AWS's classification_reason values (desync_reason_name gives the text). */
enum desync_reason {
	DESYNC_R_COMPLIANT,
	/* Acceptable */
	DESYNC_R_GET_HEAD_ZERO_CONTENT_LENGTH,
	DESYNC_R_NON_COMPLIANT_HEADER,
	DESYNC_R_NON_COMPLIANT_VERSION,
	DESYNC_R_SPACE_IN_URI,
	DESYNC_R_NON_CRLF_LINE_TERMINATION,
	/* Ambiguous */
	DESYNC_R_AMBIGUOUS_URI,
	DESYNC_R_BOTH_TE_CL_PRESENT,
	DESYNC_R_DUPLICATE_CONTENT_LENGTH,
	DESYNC_R_EMPTY_HEADER,
	DESYNC_R_SUSPICIOUS_HEADER,
	DESYNC_R_UNDEFINED_CONTENT_LENGTH_SEMANTICS,
	DESYNC_R_UNDEFINED_TRANSFER_ENCODING_SEMANTICS,
	DESYNC_R_MULTILINE_HEADER,
	DESYNC_R_MISSING_HEADER_COLON,
	DESYNC_R_MISSING_URI,
	/* Severe */
	DESYNC_R_BAD_CONTENT_LENGTH,
	DESYNC_R_BAD_HEADER,
	DESYNC_R_BAD_TRANSFER_ENCODING,
	DESYNC_R_BAD_URI,
	DESYNC_R_BAD_METHOD,
	DESYNC_R_BAD_VERSION,
	DESYNC_R_MULTIPLE_CONTENT_LENGTH,
	DESYNC_R_MULTIPLE_TRANSFER_ENCODING_CHUNKED,
};

struct desync_verdict {
	enum desync_tier tier;
	enum desync_reason reason;
	/* The header the reason is about (index into the fields), or -1 when
	 * the reason is about the request line or several headers. */
	long field;
};

/* One header as received: name and value untrimmed (value without the
 * colon; leading/trailing OWS kept). */
struct desync_field {
	struct http_slice name;
	struct http_slice value;
};

struct desync_request {
	struct http_slice method;
	struct http_slice target;
	struct http_slice version; /* empty means HTTP/0.9 */
	const struct desync_field *fields;
	size_t nfields;
};

/* Classifies a request given as parts. Requests whose version is HTTP/2 or
 * above are not classified (Compliant), as AWS does. */
struct desync_verdict desync_classify(const struct desync_request *r);

/* Finds the end of the head in buf (the first empty line, CRLF or bare LF)
 * and classifies the head. Returns the head's length (> 0, leading empty
 * lines and the final empty line included), HTTP_INCOMPLETE (-2) while no
 * empty line has arrived, or HTTP_HEAD_TOO_LARGE (-4) when the head has more
 * header lines than maxfields. *v is set only when the return is > 0; r, when
 * not NULL, gets the parts as split (slices into buf, fields into fields[]).
 *
 * Splitting (docs/desync.md): if the head has any CRLF, CRLF alone ends a
 * line and a bare CR or LF is a character of the field it is in (a bad one);
 * a head with no CRLF at all uses LF (NonCrLfLineTermination, Acceptable). */
long desync_classify_head(const char *buf, size_t len, struct desync_field *fields,
                          size_t maxfields, struct desync_request *r, struct desync_verdict *v);

/* routing.http.desync_mitigation_mode */
enum desync_mode {
	DESYNC_MODE_DEFENSIVE, /* the default */
	DESYNC_MODE_STRICTEST,
	DESYNC_MODE_MONITOR,
};

enum desync_action {
	DESYNC_FORWARD,            /* forward; connections stay as HTTP says */
	DESYNC_FORWARD_THEN_CLOSE, /* forward, then close the client and the target
	                              connection once the response is sent */
	DESYNC_REJECT,             /* answer 400 and close the client connection;
	                              nothing reaches a target */
};

/* What the load balancer does with a request of this tier in this mode:
 *              Compliant  Acceptable  Ambiguous           Severe
 *   monitor    forward    forward     forward             forward
 *   defensive  forward    forward     forward-then-close  reject
 *   strictest  forward    reject      reject              reject      */
enum desync_action desync_decide(enum desync_mode mode, enum desync_tier tier);

/* "defensive" | "strictest" | "monitor" (the attribute's values). Returns 0,
 * or -EINVAL for anything else. */
int desync_mode_parse(struct http_slice s, enum desync_mode *mode);
const char *desync_mode_name(enum desync_mode mode);
/* "Compliant", "Acceptable", "Ambiguous", "Severe" */
const char *desync_tier_name(enum desync_tier tier);
/* "Compliant", "BadContentLength", ... */
const char *desync_reason_name(enum desync_reason reason);
/* The access log's "classification" and "classification_reason" fields:
 * "-" for a Compliant request, else the names above. */
const char *desync_log_classification(const struct desync_verdict *v);
const char *desync_log_reason(const struct desync_verdict *v);

/* The head a load balancer forwards for a request the strict parser
 * (http1.h) refuses but the mode lets through (docs/desync.md, "Forwarding
 * in a normalized form"): r as split by desync_classify_head, rewritten into
 * a head that http_parse_request and http_request_framing accept, so the
 * target reads the request exactly as the load balancer does:
 * - the version trimmed; HTTP/0.9 (or none) and HTTP/1.0 -> HTTP/1.0,
 *   HTTP/1.1 and above 1 -> HTTP/1.1; anything else refused;
 * - the target percent-encoded where it is not visible ASCII (SP, control
 *   characters, bytes >= 0x80); an empty or missing target -> "/";
 * - a header whose name is not a token (empty, ":x", " x", "x\x01") or
 *   whose value holds a control character other than HTAB is removed;
 *   values lose their surrounding whitespace; CRLF line ends;
 * - look-alike framing headers ("Transfer-Encoding ", "Content_Length")
 *   are removed and frame nothing; the real ones are replaced by one
 *   canonical header: the codings of every Transfer-Encoding must be
 *   chunked or identity (else 501, AWS's supported values) with chunked
 *   exactly once: "Transfer-Encoding: chunked", which overrides
 *   Content-Length (RFC 9112 6.3); else the Content-Length values must be
 *   digits and equal: "Content-Length: N".
 * Refused (HTTP_MALFORMED, a 400): CR, LF or NUL anywhere, a method that is
 * not a token, Transfer-Encoding on HTTP/1.0 or 0.9 (its framing is faulty
 * by RFC 9112 and no 1.0 target can read it), a bad or conflicting
 * Content-Length, chunked twice. HTTP_TE_UNSUPPORTED (a 501) for other
 * codings. Returns the head's length in out, or HTTP_HEAD_TOO_LARGE when
 * cap is too small (3 x the raw head + 64 always suffices). */
long desync_normalize(const struct desync_request *r, char *out, size_t cap);

#endif
