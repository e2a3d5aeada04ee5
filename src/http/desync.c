/*
 * The desync classifier (see desync.h). One verdict per request that only
 * moves up: each finding proposes (tier, reason) and wins only if its tier is
 * strictly higher than the verdict's, so at equal tiers the first finding
 * stands. The order of the checks is therefore part of the contract:
 *   1. each header in order: its characters, an empty name, a name that
 *      looks like Transfer-Encoding/Content-Length without being it;
 *   2. message framing: Transfer-Encoding and Content-Length together;
 *   3. the method, 4. the version, 5. the target;
 *   6. (raw heads only) how the head was framed: continuation lines,
 *      lines without a colon, a missing target, bare-LF line ends.
 */
#include "http/desync.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* --- character classes ---------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Characters no parser may disagree on: CR, LF and NUL anywhere in a field
 * mean a broken or crafted request. */
static bool is_bad(unsigned char c)
{
	return c == '\r' || c == '\n' || c == 0;
}

/* field-vchar, SP, HTAB, obs-text */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target: visible ASCII and obs-text (UTF-8 paths are common) */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static struct http_slice trim(struct http_slice s)
{
	while (s.n && is_ows((unsigned char)s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ows((unsigned char)s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool slice_eq(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool slice_starts(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

/* --- verdicts ------------------------------------------------------------- */

static void upgrade(struct desync_verdict *v, enum desync_tier tier, enum desync_reason reason,
                    long field)
{
	if (tier > v->tier) {
		v->tier = tier;
		v->reason = reason;
		v->field = field;
	}
}

/* --- header names that look like the framing headers ----------------------- */

enum similarity {
	SIM_DISTANT,
	SIM_SAME_LETTERS, /* same letters and digits, other separators/noise */
	SIM_IDENTICAL,    /* equal ignoring case */
};

/* Compares name with want (lower case letters and '-') on letters and digits
 * only, ignoring case and every other byte; the two non-ASCII letters whose
 * upper case is an ASCII letter of the framing headers (U+017F long s ->
 * 'S', U+0131 dotless i -> 'I', in UTF-8) count as those letters. */
static enum similarity similarity(const char *want, struct http_slice name)
{
	size_t i = 0;

	if (http_slice_ieq(name, want))
		return SIM_IDENTICAL;
	for (const char *w = want; *w; w++) {
		if (*w == '-')
			continue;
		for (;;) {
			if (i == name.n)
				return SIM_DISTANT;
			unsigned char c = (unsigned char)name.p[i];
			if (is_alnum(c))
				break;
			if (i + 1 < name.n &&
			    ((c == 0xc5 && (unsigned char)name.p[i + 1] == 0xbf) ||
			     (c == 0xc4 && (unsigned char)name.p[i + 1] == 0xb1)))
				break;
			i++;
		}
		unsigned char c = (unsigned char)name.p[i];
		if (c == 0xc5 || c == 0xc4) {
			if (*w != (c == 0xc5 ? 's' : 'i'))
				return SIM_DISTANT;
			i += 2;
		} else {
			if (lower(c) != *w)
				return SIM_DISTANT;
			i++;
		}
	}
	for (; i < name.n; i++)
		if (is_alnum((unsigned char)name.p[i]))
			return SIM_DISTANT;
	return SIM_SAME_LETTERS;
}

/* --- per-field checks ------------------------------------------------------ */

/* 0 compliant, 1 non-compliant (Acceptable), 2 bad (Severe) */
static int field_tier(const struct desync_field *f)
{
	int t = 0;

	for (size_t i = 0; i < f->name.n; i++) {
		unsigned char c = (unsigned char)f->name.p[i];
		if (is_bad(c))
			return 2;
		if (!is_tchar(c))
			t = 1;
	}
	for (size_t i = 0; i < f->value.n; i++) {
		unsigned char c = (unsigned char)f->value.p[i];
		if (is_bad(c))
			return 2;
		if (!is_value_char(c))
			t = 1;
	}
	return t;
}

/* Content-Length: OWS 1*DIGIT OWS, no overflow. Returns 0 or -1. */
static int parse_length(struct http_slice v, uint64_t *out)
{
	uint64_t n = 0;

	v = trim(v);
	if (v.n == 0)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < '0' || c > '9')
			return -1;
		if (n > (UINT64_MAX - (c - '0')) / 10)
			return -1;
		n = n * 10 + (c - '0');
	}
	*out = n;
	return 0;
}

/* One element of a Transfer-Encoding list: a known coding, parameters after
 * ';' ignored. Returns 1 chunked, 0 another known coding, -1 unknown. */
static int te_coding(struct http_slice item)
{
	static const char *const known[] = {"chunked", "compress", "deflate", "gzip", "identity"};
	size_t semi = 0;

	item = trim(item);
	while (semi < item.n && item.p[semi] != ';')
		semi++;
	item.n = semi;
	item = trim(item);
	for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
		if (http_slice_ieq(item, known[k]))
			return k == 0;
	return -1;
}

/* --- the version ------------------------------------------------------------ */

static bool version_at_least_2(struct http_slice version)
{
	struct http_slice t = trim(version);
	return slice_starts(t, "HTTP/") && t.n > 5 && t.p[5] >= '2' && t.p[5] <= '9';
}

/* --- classification of parts ----------------------------------------------- */

enum framing { FRAMING_NONE, FRAMING_TE, FRAMING_CL };

/* Which framing header a field counts as: the real ones (any case, whatever
 * their value), and look-alike names ("Transfer_Encoding") unless the field
 * is already bad (tier: field_tier(f), or -1 to compute it only if needed).
 * *suspicious is set for a look-alike. */
static enum framing field_framing(const struct desync_field *f, int tier, bool *suspicious)
{
	enum similarity ste = similarity("transfer-encoding", f->name);
	enum similarity scl =
	    ste == SIM_DISTANT ? similarity("content-length", f->name) : SIM_DISTANT;
	struct http_slice tn = trim(f->name);

	*suspicious = false;
	if (tn.n == 0 || tn.p[0] == ':')
		return FRAMING_NONE;
	if (ste == SIM_IDENTICAL)
		return FRAMING_TE;
	if (scl == SIM_IDENTICAL)
		return FRAMING_CL;
	if (ste == SIM_DISTANT && scl == SIM_DISTANT)
		return FRAMING_NONE;
	if (tier < 0)
		tier = field_tier(f);
	if (tier == 2)
		return FRAMING_NONE;
	*suspicious = ste == SIM_SAME_LETTERS || scl == SIM_SAME_LETTERS;
	return ste == SIM_SAME_LETTERS   ? FRAMING_TE
	       : scl == SIM_SAME_LETTERS ? FRAMING_CL
	                                 : FRAMING_NONE;
}

static void check_framing(const struct desync_request *r, struct desync_verdict *v)
{
	struct http_slice ver = trim(r->version);
	bool v09 = ver.n == 0 || slice_eq(ver, "HTTP/0.9"), v10 = slice_eq(ver, "HTTP/1.0");
	bool chunked_before = false, have_len = false, sus;
	long first_te = -1, first_cl = -1;
	uint64_t len = 0;

	for (size_t i = 0; i < r->nfields; i++) {
		enum framing k = field_framing(&r->fields[i], -1, &sus);
		if (k == FRAMING_TE && first_te < 0)
			first_te = (long)i;
		if (k == FRAMING_CL && first_cl < 0)
			first_cl = (long)i;
	}
	if (first_te < 0 && first_cl < 0)
		return;
	if ((v09 || v10) && first_te >= 0) {
		/* HTTP/1.0 has no Transfer-Encoding, HTTP/0.9 no framing at all */
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_UNDEFINED_TRANSFER_ENCODING_SEMANTICS, -1);
		return;
	}
	if (v09) {
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_UNDEFINED_CONTENT_LENGTH_SEMANTICS, -1);
		return;
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const struct desync_field *f = &r->fields[i];
		enum framing k = field_framing(f, -1, &sus);
		if (k != FRAMING_TE)
			continue;
		size_t start = 0;
		for (size_t j = 0; j <= f->value.n; j++) {
			if (j < f->value.n && f->value.p[j] != ',')
				continue;
			int c = te_coding((struct http_slice){f->value.p + start, j - start});
			if (c < 0)
				upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_TRANSFER_ENCODING, (long)i);
			else if (c == 1 && chunked_before)
				upgrade(v, DESYNC_SEVERE,
				        DESYNC_R_MULTIPLE_TRANSFER_ENCODING_CHUNKED, (long)i);
			chunked_before = c == 1;
			start = j + 1;
		}
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const struct desync_field *f = &r->fields[i];
		uint64_t n;
		if (field_framing(f, -1, &sus) != FRAMING_CL)
			continue;
		if (parse_length(f->value, &n) < 0)
			upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_CONTENT_LENGTH, (long)i);
		else if (!have_len) {
			have_len = true;
			len = n;
		} else if (n != len)
			upgrade(v, DESYNC_SEVERE, DESYNC_R_MULTIPLE_CONTENT_LENGTH, (long)i);
		else
			upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_DUPLICATE_CONTENT_LENGTH, (long)i);
	}
	if (slice_eq(r->method, "GET") || slice_eq(r->method, "HEAD")) {
		/* a body on GET/HEAD has no defined semantics */
		if (first_te >= 0)
			upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_UNDEFINED_TRANSFER_ENCODING_SEMANTICS,
			        first_te);
		if (have_len && len == 0)
			upgrade(v, DESYNC_ACCEPTABLE, DESYNC_R_GET_HEAD_ZERO_CONTENT_LENGTH,
			        first_cl);
		else if (have_len)
			upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_UNDEFINED_CONTENT_LENGTH_SEMANTICS,
			        first_cl);
	}
	if (have_len && first_te >= 0)
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_BOTH_TE_CL_PRESENT, first_cl);
}

static void check_method(struct http_slice m, struct desync_verdict *v)
{
	bool ok = m.n > 0;
	for (size_t i = 0; ok && i < m.n; i++)
		ok = is_tchar((unsigned char)m.p[i]);
	if (!ok)
		upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_METHOD, -1);
}

static void check_version(struct http_slice version, struct desync_verdict *v)
{
	struct http_slice t = trim(version);

	if (t.n == 0 || slice_eq(t, "HTTP/0.9")) {
		upgrade(v, DESYNC_ACCEPTABLE, DESYNC_R_NON_COMPLIANT_VERSION, -1);
		return;
	}
	if (t.n != 8 || !slice_starts(t, "HTTP/1.") || t.p[7] < '0' || t.p[7] > '9')
		upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_VERSION, -1);
	else if (t.n != version.n || t.p[7] > '1')
		/* HTTP/1.2 or whitespace around the version: odd, harmless */
		upgrade(v, DESYNC_ACCEPTABLE, DESYNC_R_NON_COMPLIANT_VERSION, -1);
}

static void check_target(struct http_slice t, struct desync_verdict *v)
{
	for (size_t i = 0; i < t.n; i++) {
		unsigned char c = (unsigned char)t.p[i];
		if (is_target_char(c))
			continue;
		if (is_bad(c)) {
			upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_URI, -1);
			return;
		}
		if (c == ' ')
			upgrade(v, DESYNC_ACCEPTABLE, DESYNC_R_SPACE_IN_URI, -1);
		else
			upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_AMBIGUOUS_URI, -1);
	}
}

struct desync_verdict desync_classify(const struct desync_request *r)
{
	struct desync_verdict v = {DESYNC_COMPLIANT, DESYNC_R_COMPLIANT, -1};

	if (version_at_least_2(r->version))
		return v;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct desync_field *f = &r->fields[i];
		int t = field_tier(f);
		struct http_slice tn = trim(f->name);
		bool suspicious;

		if (t == 2)
			upgrade(&v, DESYNC_SEVERE, DESYNC_R_BAD_HEADER, (long)i);
		else if (t == 1)
			upgrade(&v, DESYNC_ACCEPTABLE, DESYNC_R_NON_COMPLIANT_HEADER, (long)i);
		if (tn.n == 0 || tn.p[0] == ':') {
			upgrade(&v, DESYNC_AMBIGUOUS, DESYNC_R_EMPTY_HEADER, (long)i);
			continue;
		}
		/* "Transfer_Encoding", " Content-Length": one hop's framing header,
		 * another hop's unknown header */
		field_framing(f, t, &suspicious);
		if (suspicious)
			upgrade(&v, DESYNC_AMBIGUOUS, DESYNC_R_SUSPICIOUS_HEADER, (long)i);
	}
	check_framing(r, &v);
	check_method(r->method, &v);
	check_version(r->version, &v);
	check_target(r->target, &v);
	return v;
}

/* --- raw heads ---------------------------------------------------------------- */

/* Splits the request line. Returns true if the target is missing. */
static bool split_request_line(struct http_slice line, struct desync_request *r,
                               bool *version_in_target, bool *tab_version)
{
	size_t sp1 = 0, end = line.n, last;

	*version_in_target = false;
	*tab_version = false;
	while (sp1 < line.n && line.p[sp1] != ' ')
		sp1++;
	r->method = (struct http_slice){line.p, sp1};
	r->target = (struct http_slice){line.p + line.n, 0};
	r->version = r->target;
	if (sp1 == line.n)
		return true; /* "GET" */
	while (end > sp1 + 1 && is_ows((unsigned char)line.p[end - 1]))
		end--;
	last = end;
	while (last > sp1 + 1 && line.p[last - 1] != ' ')
		last--;
	if (last == sp1 + 1) {
		/* one token after the method: "GET /x" (HTTP/0.9) or "GET HTTP/1.1" */
		struct http_slice tok = {line.p + sp1 + 1, end - sp1 - 1};
		if (slice_starts(tok, "HTTP/")) {
			r->version = (struct http_slice){tok.p, line.n - sp1 - 1};
			return true;
		}
		r->target = tok;
		/* "GET /a<HTAB>HTTP/1.1": a parser that splits on any whitespace
		 * sees HTTP/1.1 where this one sees HTTP/0.9 */
		for (size_t i = 0; i + 5 < tok.n; i++)
			if ((tok.p[i] == '\t' || tok.p[i] == '\v' || tok.p[i] == '\f') &&
			    memcmp(tok.p + i + 1, "HTTP/", 5) == 0)
				*tab_version = true;
		return false;
	}
	r->target = (struct http_slice){line.p + sp1 + 1, last - 1 - (sp1 + 1)};
	r->version = (struct http_slice){line.p + last, line.n - last};
	/* "GET /a HTTP/1.1 HTTP/1.1": a second version-like token; a parser that
	 * splits at the first two spaces reads "HTTP/1.1 HTTP/1.1" as the version */
	for (size_t i = 0; i < r->target.n; i++) {
		if (r->target.p[i] != ' ')
			continue;
		struct http_slice rest = {r->target.p + i + 1, r->target.n - i - 1};
		if (slice_starts(rest, "HTTP/")) {
			size_t first = 0;
			while (r->target.p[first] != ' ')
				first++;
			r->version = (struct http_slice){
			    r->target.p + first + 1,
			    line.n - (size_t)(r->target.p + first + 1 - line.p)};
			r->target.n = first;
			*version_in_target = true;
			break;
		}
	}
	return false;
}

long desync_classify_head(const char *buf, size_t len, struct desync_field *fields,
                          size_t maxfields, struct desync_request *out, struct desync_verdict *v)
{
	struct desync_request r = {.fields = fields};
	size_t start = 0, end = 0, i, cend, nfields = 0;
	bool crlf = false, bare_end = false, found = false, first = true;
	bool missing_uri = false, vin = false, tabv = false, multiline = false, no_colon = false;
	long multiline_field = -1, colon_field = -1;

	/* leading empty lines, as RFC 9112 2.2 allows */
	while (start < len && (buf[start] == '\n' ||
	                       (buf[start] == '\r' && start + 1 < len && buf[start + 1] == '\n')))
		start += buf[start] == '\r' ? 2 : 1;
	/* the head ends at the first LF followed by an empty line */
	for (i = start; i < len && !found; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n') {
			end = i + 2;
			found = true;
		} else if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			end = i + 3;
			found = true;
		}
	}
	if (!found)
		return HTTP_INCOMPLETE;
	cend = i; /* just past the LF that ends the last line */
	for (size_t k = start; k + 1 < cend; k++)
		if (buf[k] == '\r' && buf[k + 1] == '\n')
			crlf = true;
	if (!crlf) {
		cend -= 1;
	} else if (cend - start >= 2 && buf[cend - 2] == '\r') {
		cend -= 2;
		/* "...\r\n\n": a CRLF-only hop does not see the head end here */
		bare_end = end == cend + 3;
	}
	/* else a CRLF head whose last line ends in a bare LF: that LF stays in
	 * the line, a bad character of its last field */

	for (size_t pos = start;;) {
		size_t e = pos;
		if (crlf)
			while (e < cend && !(buf[e] == '\r' && e + 1 < cend && buf[e + 1] == '\n'))
				e++;
		else
			while (e < cend && buf[e] != '\n')
				e++;
		struct http_slice line = {buf + pos, e - pos};
		if (first) {
			missing_uri = split_request_line(line, &r, &vin, &tabv);
			first = false;
		} else {
			size_t colon = 0;
			while (colon < line.n && line.p[colon] != ':')
				colon++;
			if (nfields == maxfields)
				return HTTP_HEAD_TOO_LARGE;
			if (line.n && is_ows((unsigned char)line.p[0])) {
				/* obs-fold. With a colon the line reads as a header of
				 * its own (" Content-Length: 1"); without one it is more
				 * value for the previous field's name. */
				multiline = true;
				if (multiline_field < 0)
					multiline_field = (long)nfields;
				if (colon == line.n && nfields > 0) {
					fields[nfields].name = fields[nfields - 1].name;
					fields[nfields].value = line;
					nfields++;
					goto next;
				}
			}
			if (colon == line.n && !no_colon) {
				no_colon = true;
				colon_field = (long)nfields;
			}
			fields[nfields].name = (struct http_slice){line.p, colon};
			fields[nfields].value =
			    colon < line.n
			        ? (struct http_slice){line.p + colon + 1, line.n - colon - 1}
			        : (struct http_slice){line.p + line.n, 0};
			nfields++;
		}
	next:
		if (e >= cend)
			break;
		pos = e + (crlf ? 2 : 1);
	}
	r.nfields = nfields;

	*v = desync_classify(&r);
	if (v->tier == DESYNC_COMPLIANT && version_at_least_2(r.version) && !bare_end)
		goto out; /* not ours to classify (the ALB answers 505) */
	if (vin)
		upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_VERSION, -1);
	if (tabv)
		upgrade(v, DESYNC_SEVERE, DESYNC_R_BAD_URI, -1);
	if (bare_end)
		upgrade(v, DESYNC_SEVERE, nfields ? DESYNC_R_BAD_HEADER : DESYNC_R_BAD_VERSION,
		        nfields ? (long)nfields - 1 : -1);
	if (missing_uri)
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_MISSING_URI, -1);
	if (multiline)
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_MULTILINE_HEADER, multiline_field);
	if (no_colon)
		upgrade(v, DESYNC_AMBIGUOUS, DESYNC_R_MISSING_HEADER_COLON, colon_field);
	if (!crlf)
		upgrade(v, DESYNC_ACCEPTABLE, DESYNC_R_NON_CRLF_LINE_TERMINATION, -1);
out:
	if (out)
		*out = r;
	return (long)end;
}

/* --- modes and names ------------------------------------------------------------ */

enum desync_action desync_decide(enum desync_mode mode, enum desync_tier tier)
{
	switch (mode) {
	case DESYNC_MODE_MONITOR:
		return DESYNC_FORWARD;
	case DESYNC_MODE_STRICTEST:
		return tier == DESYNC_COMPLIANT ? DESYNC_FORWARD : DESYNC_REJECT;
	case DESYNC_MODE_DEFENSIVE:
	default:
		if (tier == DESYNC_SEVERE)
			return DESYNC_REJECT;
		return tier == DESYNC_AMBIGUOUS ? DESYNC_FORWARD_THEN_CLOSE : DESYNC_FORWARD;
	}
}

static const char *const mode_names[] = {
    [DESYNC_MODE_DEFENSIVE] = "defensive",
    [DESYNC_MODE_STRICTEST] = "strictest",
    [DESYNC_MODE_MONITOR] = "monitor",
};

int desync_mode_parse(struct http_slice s, enum desync_mode *mode)
{
	for (size_t m = 0; m < sizeof mode_names / sizeof mode_names[0]; m++) {
		if (slice_eq(s, mode_names[m])) {
			*mode = (enum desync_mode)m;
			return 0;
		}
	}
	return -EINVAL;
}

const char *desync_mode_name(enum desync_mode mode)
{
	if ((size_t)mode < sizeof mode_names / sizeof mode_names[0])
		return mode_names[mode];
	return "unknown";
}

const char *desync_tier_name(enum desync_tier tier)
{
	switch (tier) {
	case DESYNC_COMPLIANT:
		return "Compliant";
	case DESYNC_ACCEPTABLE:
		return "Acceptable";
	case DESYNC_AMBIGUOUS:
		return "Ambiguous";
	case DESYNC_SEVERE:
		return "Severe";
	}
	return "unknown";
}

static const char *const reason_names[] = {
    [DESYNC_R_COMPLIANT] = "Compliant",
    [DESYNC_R_GET_HEAD_ZERO_CONTENT_LENGTH] = "GetHeadZeroContentLength",
    [DESYNC_R_NON_COMPLIANT_HEADER] = "NonCompliantHeader",
    [DESYNC_R_NON_COMPLIANT_VERSION] = "NonCompliantVersion",
    [DESYNC_R_SPACE_IN_URI] = "SpaceInUri",
    [DESYNC_R_NON_CRLF_LINE_TERMINATION] = "NonCrLfLineTermination",
    [DESYNC_R_AMBIGUOUS_URI] = "AmbiguousUri",
    [DESYNC_R_BOTH_TE_CL_PRESENT] = "BothTeClPresent",
    [DESYNC_R_DUPLICATE_CONTENT_LENGTH] = "DuplicateContentLength",
    [DESYNC_R_EMPTY_HEADER] = "EmptyHeader",
    [DESYNC_R_SUSPICIOUS_HEADER] = "SuspiciousHeader",
    [DESYNC_R_UNDEFINED_CONTENT_LENGTH_SEMANTICS] = "UndefinedContentLengthSemantics",
    [DESYNC_R_UNDEFINED_TRANSFER_ENCODING_SEMANTICS] = "UndefinedTransferEncodingSemantics",
    [DESYNC_R_MULTILINE_HEADER] = "MultilineHeader",
    [DESYNC_R_MISSING_HEADER_COLON] = "MissingHeaderColon",
    [DESYNC_R_MISSING_URI] = "MissingUri",
    [DESYNC_R_BAD_CONTENT_LENGTH] = "BadContentLength",
    [DESYNC_R_BAD_HEADER] = "BadHeader",
    [DESYNC_R_BAD_TRANSFER_ENCODING] = "BadTransferEncoding",
    [DESYNC_R_BAD_URI] = "BadUri",
    [DESYNC_R_BAD_METHOD] = "BadMethod",
    [DESYNC_R_BAD_VERSION] = "BadVersion",
    [DESYNC_R_MULTIPLE_CONTENT_LENGTH] = "MultipleContentLength",
    [DESYNC_R_MULTIPLE_TRANSFER_ENCODING_CHUNKED] = "MultipleTransferEncodingChunked",
};

const char *desync_reason_name(enum desync_reason reason)
{
	if ((size_t)reason < sizeof reason_names / sizeof reason_names[0] && reason_names[reason])
		return reason_names[reason];
	return "unknown";
}

const char *desync_log_classification(const struct desync_verdict *v)
{
	return v->tier == DESYNC_COMPLIANT ? "-" : desync_tier_name(v->tier);
}

const char *desync_log_reason(const struct desync_verdict *v)
{
	return v->tier == DESYNC_COMPLIANT ? "-" : desync_reason_name(v->reason);
}

/* --- normalized forwarding ---------------------------------------------- */

struct nbuf {
	char *p;
	size_t n, cap;
	bool full;
};

static void nput(struct nbuf *b, const char *s, size_t n)
{
	if (b->full || n > b->cap - b->n) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void nputs(struct nbuf *b, const char *s)
{
	nput(b, s, strlen(s));
}

static bool has_bad(struct http_slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (is_bad((unsigned char)s.p[i]))
			return true;
	return false;
}

/* The framing of the normalized request, from the framing headers named
 * exactly (a look-alike frames nothing: it is dropped, as a server that
 * does not trim names would ignore it): 1 chunked, 0 Content-Length *len
 * (or none: *len UINT64_MAX), or an HTTP_* error. */
static int normal_framing(const struct desync_request *r, bool v1x0, uint64_t *len)
{
	int chunked = 0;

	*len = UINT64_MAX;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct desync_field *f = &r->fields[i];
		size_t start = 0;
		if (!http_slice_ieq(f->name, "transfer-encoding"))
			continue;
		if (v1x0)
			return HTTP_MALFORMED;
		for (size_t j = 0; j <= f->value.n; j++) {
			if (j < f->value.n && f->value.p[j] != ',')
				continue;
			struct http_slice item = {f->value.p + start, j - start};
			int c = te_coding(item);
			start = j + 1;
			if (c == 1)
				chunked++;
			else if (c < 0 || !http_list_has(item, "identity"))
				return HTTP_TE_UNSUPPORTED; /* AWS: chunked and identity only */
		}
	}
	if (chunked > 1)
		return HTTP_MALFORMED;
	if (chunked == 1)
		return 1;
	for (size_t i = 0; i < r->nfields; i++) {
		uint64_t n;
		if (!http_slice_ieq(r->fields[i].name, "content-length"))
			continue;
		if (parse_length(r->fields[i].value, &n) < 0 || (*len != UINT64_MAX && n != *len))
			return HTTP_MALFORMED;
		*len = n;
	}
	return 0;
}

long desync_normalize(const struct desync_request *r, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	struct nbuf b = {out, 0, cap, false};
	struct http_slice ver = trim(r->version);
	bool v1x0;
	uint64_t len;
	int framing;
	char num[24];

	if (r->method.n == 0 || has_bad(r->target))
		return HTTP_MALFORMED;
	for (size_t i = 0; i < r->method.n; i++)
		if (!is_tchar((unsigned char)r->method.p[i]))
			return HTTP_MALFORMED;
	if (ver.n == 0 || slice_eq(ver, "HTTP/0.9") || slice_eq(ver, "HTTP/1.0"))
		v1x0 = true;
	else if (ver.n == 8 && slice_starts(ver, "HTTP/1.") && ver.p[7] >= '1' && ver.p[7] <= '9')
		v1x0 = false;
	else
		return HTTP_MALFORMED;
	for (size_t i = 0; i < r->nfields; i++)
		if (has_bad(r->fields[i].name) || has_bad(r->fields[i].value))
			return HTTP_MALFORMED;
	framing = normal_framing(r, v1x0, &len);
	if (framing < 0)
		return framing;

	nput(&b, r->method.p, r->method.n);
	nputs(&b, " ");
	if (r->target.n == 0)
		nputs(&b, "/");
	for (size_t i = 0; i < r->target.n; i++) {
		unsigned char c = (unsigned char)r->target.p[i];
		if (c > 0x20 && c < 0x7f) {
			nput(&b, (const char *)&r->target.p[i], 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			nput(&b, e, 3);
		}
	}
	nputs(&b, v1x0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
	for (size_t i = 0; i < r->nfields; i++) {
		const struct desync_field *f = &r->fields[i];
		struct http_slice v = trim(f->value);
		bool ok = f->name.n > 0, sus;
		if (field_framing(f, -1, &sus) != FRAMING_NONE)
			continue; /* real ones: replaced below; look-alikes: dropped */
		for (size_t k = 0; ok && k < f->name.n; k++)
			ok = is_tchar((unsigned char)f->name.p[k]);
		for (size_t k = 0; ok && k < v.n; k++)
			ok = is_value_char((unsigned char)v.p[k]);
		if (!ok)
			continue;
		nput(&b, f->name.p, f->name.n);
		nputs(&b, ": ");
		nput(&b, v.p, v.n);
		nputs(&b, "\r\n");
	}
	if (framing == 1) {
		nputs(&b, "Transfer-Encoding: chunked\r\n");
	} else if (len != UINT64_MAX) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)len);
		nputs(&b, "Content-Length: ");
		nputs(&b, num);
		nputs(&b, "\r\n");
	}
	nputs(&b, "\r\n");
	return b.full ? HTTP_HEAD_TOO_LARGE : (long)b.n;
}
