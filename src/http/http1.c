/*
 * The HTTP/1.1 head parser and chunked decoder (see http1.h). Byte loops over
 * character-class tables; every "ran out of bytes" exit goes through one
 * place that decides between HTTP_INCOMPLETE and a limit error, so a slow
 * client cannot grow a head past the limits by sending it in pieces.
 */
#include "http/http1.h"

#include <string.h>

/* tchar per RFC 9110 5.6.2 */
static const char *const tchar_extra = "!#$%&'*+-.^_`|~";

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr(tchar_extra, c) != NULL;
}

/* field-vchar, SP, HTAB, obs-text */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target: visible ASCII only */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool http_slice_ieq(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	if (n != s.n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

const struct http_header *http_header_find(const struct http_header *h, size_t n,
					   const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (http_slice_ieq(h[i].name, name))
			return &h[i];
	return NULL;
}

bool http_list_has(struct http_slice v, const char *tok)
{
	size_t i = 0;
	while (i < v.n) {
		size_t s, e;
		while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		s = i;
		while (i < v.n && v.p[i] != ',')
			i++;
		e = i;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (e > s && http_slice_ieq((struct http_slice){v.p + s, e - s}, tok))
			return true;
	}
	return false;
}

/*
 * Header fields up to and including the empty line. *pp is advanced past
 * the empty line on success. Returns 0, or a negative code; HTTP_INCOMPLETE
 * when the bytes end first (the caller applies the limits).
 */
static int parse_headers(const char **pp, const char *end, struct http_header *hs,
			 size_t max, size_t *nout, size_t line_max)
{
	const char *p = *pp;
	size_t n = 0;

	for (;;) {
		const char *name, *nend, *val, *vend;
		if (p == end)
			return HTTP_INCOMPLETE;
		if (*p == '\r') {
			if (end - p < 2)
				return HTTP_INCOMPLETE;
			if (p[1] != '\n')
				return HTTP_MALFORMED;
			p += 2;
			break;
		}
		/* obs-fold (a line starting with SP/HTAB), bare LF, and any
		 * non-token all end here */
		name = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		if (p == end)
			return (size_t)(p - name) > line_max ? HTTP_HEAD_TOO_LARGE : HTTP_INCOMPLETE;
		if (p == name || *p != ':')
			return HTTP_MALFORMED;
		nend = p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		val = p;
		while (p < end && is_value_char((unsigned char)*p))
			p++;
		if ((size_t)(p - name) > line_max)
			return HTTP_HEAD_TOO_LARGE;
		if (p == end)
			return HTTP_INCOMPLETE;
		if (*p != '\r')
			return HTTP_MALFORMED;
		if (end - p < 2)
			return HTTP_INCOMPLETE;
		if (p[1] != '\n')
			return HTTP_MALFORMED;
		vend = p;
		while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (n == max)
			return HTTP_HEAD_TOO_LARGE;
		hs[n].name = (struct http_slice){name, (size_t)(nend - name)};
		hs[n].value = (struct http_slice){val, (size_t)(vend - val)};
		n++;
		p += 2;
	}
	*pp = p;
	*nout = n;
	return 0;
}

/* "HTTP/1.D" at p; returns the minor digit, HTTP_INCOMPLETE or MALFORMED. */
static int parse_version(const char *p, const char *end)
{
	static const char v[] = "HTTP/1.";
	size_t have = (size_t)(end - p);
	size_t cmp = have < 7 ? have : 7;
	if (memcmp(p, v, cmp) != 0)
		return HTTP_MALFORMED;
	if (have < 8)
		return HTTP_INCOMPLETE;
	if (p[7] != '0' && p[7] != '1')
		return HTTP_MALFORMED;
	return p[7] - '0';
}

static long finish_incomplete(const char *buf, const char *end, size_t head_max)
{
	return (size_t)(end - buf) > head_max ? HTTP_HEAD_TOO_LARGE : HTTP_INCOMPLETE;
}

long http_parse_request(const char *buf, size_t len, struct http_request *r)
{
	const char *p = buf, *end = buf + len, *line, *m, *t;
	int rc;

	r->nheaders = 0;
	/* a bounded number of empty lines before the request line */
	for (int i = 0; i < 4 && p < end && *p == '\r'; i++) {
		if (end - p < 2)
			return HTTP_INCOMPLETE;
		if (p[1] != '\n')
			return HTTP_MALFORMED;
		p += 2;
	}
	line = p;
	m = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == end)
		goto incomplete_line;
	if (p == m || *p != ' ')
		return HTTP_MALFORMED;
	r->method = (struct http_slice){m, (size_t)(p - m)};
	t = ++p;
	while (p < end && is_target_char((unsigned char)*p))
		p++;
	if (p == end)
		goto incomplete_line;
	if (p == t || *p != ' ')
		return HTTP_MALFORMED;
	r->target = (struct http_slice){t, (size_t)(p - t)};
	p++;
	rc = parse_version(p, end);
	if (rc == HTTP_INCOMPLETE)
		goto incomplete_line;
	if (rc < 0)
		return rc;
	r->minor = rc;
	p += 8;
	if (p == end || (*p == '\r' && end - p < 2))
		goto incomplete_line;
	if (p[0] != '\r' || p[1] != '\n')
		return HTTP_MALFORMED;
	if ((size_t)(p - line) > HTTP_LINE_MAX)
		return HTTP_URI_TOO_LONG;
	p += 2;
	rc = parse_headers(&p, end, r->headers, r->maxheaders, &r->nheaders, HTTP_LINE_MAX);
	if (rc == HTTP_INCOMPLETE)
		return finish_incomplete(buf, end, HTTP_HEAD_MAX);
	if (rc < 0)
		return rc;
	if ((size_t)(p - buf) > HTTP_HEAD_MAX)
		return HTTP_HEAD_TOO_LARGE;
	return (long)(p - buf);

incomplete_line:
	if ((size_t)(end - line) > HTTP_LINE_MAX)
		return HTTP_URI_TOO_LONG;
	return HTTP_INCOMPLETE;
}

long http_parse_status_line(const char *buf, size_t len, int *minor, int *status,
			    struct http_slice *reason)
{
	const char *p = buf, *end = buf + len, *rs;
	int rc = parse_version(p, end);

	if (rc < 0)
		return rc;
	*minor = rc;
	p += 8;
	if (end - p < 4)
		goto incomplete;
	if (*p != ' ')
		return HTTP_MALFORMED;
	p++;
	for (int i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return HTTP_MALFORMED;
	*status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (*status < 100)
		return HTTP_MALFORMED;
	p += 3;
	if (p == end)
		goto incomplete;
	/* the SP before an empty reason is required by RFC 9112 but often
	 * missing in the wild; accept "HTTP/1.1 200\r\n" */
	if (*p == ' ')
		p++;
	else if (*p != '\r')
		return HTTP_MALFORMED;
	rs = p;
	while (p < end && is_value_char((unsigned char)*p))
		p++;
	if (p == end || (*p == '\r' && end - p < 2))
		goto incomplete;
	if (p[0] != '\r' || p[1] != '\n')
		return HTTP_MALFORMED;
	*reason = (struct http_slice){rs, (size_t)(p - rs)};
	return (long)(p + 2 - buf);
incomplete:
	return len > HTTP_RESP_HEAD_MAX ? HTTP_HEAD_TOO_LARGE : HTTP_INCOMPLETE;
}

long http_parse_response(const char *buf, size_t len, struct http_response *r)
{
	const char *p, *end = buf + len;
	long n = http_parse_status_line(buf, len, &r->minor, &r->status, &r->reason);
	int rc;

	r->nheaders = 0;
	if (n < 0)
		return n;
	p = buf + n;
	rc = parse_headers(&p, end, r->headers, r->maxheaders, &r->nheaders, HTTP_RESP_HEAD_MAX);
	if (rc == HTTP_INCOMPLETE)
		return finish_incomplete(buf, end, HTTP_RESP_HEAD_MAX);
	if (rc < 0)
		return rc;
	if ((size_t)(p - buf) > HTTP_RESP_HEAD_MAX)
		return HTTP_HEAD_TOO_LARGE;
	return (long)(p - buf);
}

/* --- framing --- */

static int parse_length(struct http_slice v, uint64_t *out)
{
	uint64_t x = 0;
	if (v.n == 0 || v.n > 18)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = x;
	return 0;
}

/* Shared by both directions: Connection, Content-Length, Transfer-Encoding.
 * te: 0 none, 1 chunked, 2 other; ncl: count of Content-Length headers. */
static int scan_framing(const struct http_header *h, size_t n, int minor, struct http_framing *f,
			int *te, int *ncl, int *nte)
{
	bool has_close = false, has_keep = false, has_upgrade_hdr = false, conn_upgrade = false;

	memset(f, 0, sizeof(*f));
	*te = 0;
	*ncl = 0;
	*nte = 0;
	for (size_t i = 0; i < n; i++) {
		struct http_slice nm = h[i].name, v = h[i].value;
		if (http_slice_ieq(nm, "connection")) {
			has_close |= http_list_has(v, "close");
			has_keep |= http_list_has(v, "keep-alive");
			conn_upgrade |= http_list_has(v, "upgrade");
		} else if (http_slice_ieq(nm, "content-length")) {
			(*ncl)++;
			if (parse_length(v, &f->length) < 0)
				return HTTP_MALFORMED;
		} else if (http_slice_ieq(nm, "transfer-encoding")) {
			(*nte)++;
			if (http_slice_ieq(v, "chunked"))
				*te = 1;
			else if (http_slice_ieq(v, "identity"))
				; /* AWS: chunked and identity are supported */
			else
				*te = 2;
		} else if (http_slice_ieq(nm, "expect")) {
			f->expect_continue = http_slice_ieq(v, "100-continue");
		} else if (http_slice_ieq(nm, "upgrade")) {
			has_upgrade_hdr = true;
		}
	}
	f->keep_alive = minor >= 1 ? !has_close : (has_keep && !has_close);
	f->upgrade = conn_upgrade && has_upgrade_hdr;
	return 0;
}

int http_request_framing(const struct http_request *r, struct http_framing *f)
{
	int te, ncl, nte;
	int rc = scan_framing(r->headers, r->nheaders, r->minor, f, &te, &ncl, &nte);

	if (rc < 0)
		return rc;
	/* the request-smuggling shapes are refused outright */
	if (ncl > 1 || nte > 1 || (ncl && nte) || (nte && r->minor == 0))
		return HTTP_MALFORMED;
	if (te == 2)
		return HTTP_TE_UNSUPPORTED;
	if (te == 1)
		f->kind = HTTP_BODY_CHUNKED;
	else if (ncl)
		f->kind = f->length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	else
		f->kind = HTTP_BODY_NONE;
	return 0;
}

int http_response_framing(const struct http_response *r, bool head_request,
			  struct http_framing *f)
{
	int te, ncl, nte;
	int rc = scan_framing(r->headers, r->nheaders, r->minor, f, &te, &ncl, &nte);

	if (rc < 0)
		return rc;
	if (ncl > 1 && !nte)
		return HTTP_MALFORMED;
	if (head_request || r->status < 200 || r->status == 204 || r->status == 304) {
		f->kind = HTTP_BODY_NONE;
	} else if (te == 1) {
		f->kind = HTTP_BODY_CHUNKED;
	} else if (te == 2) {
		f->kind = HTTP_BODY_CLOSE;
		f->keep_alive = false;
	} else if (ncl) {
		f->kind = f->length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		f->kind = HTTP_BODY_CLOSE;
		f->keep_alive = false;
	}
	return 0;
}

/* --- chunked --- */

enum {
	CH_SIZE,	/* hex digits */
	CH_SIZE_WS,	/* whitespace after the digits, before ';' or CR */
	CH_EXT,		/* chunk extension, up to CR */
	CH_SIZE_LF,	/* LF ending the size line */
	CH_DATA,	/* chunk data */
	CH_DATA_CR,	/* CR after data */
	CH_DATA_LF,	/* LF after data */
	CH_TRAILER,	/* start of a trailer line or of the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
};

#define CH_EXT_MAX 4096

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool http_chunked_done(const struct http_chunked *c)
{
	return c->state == CH_DONE;
}

long http_chunked_parse(struct http_chunked *c, const char *buf, size_t len,
			struct http_slice *data)
{
	size_t i = 0;

	if (data)
		*data = (struct http_slice){buf, 0};
	while (i < len && c->state != CH_DONE) {
		unsigned char ch = (unsigned char)buf[i];
		int h;
		switch (c->state) {
		case CH_SIZE:
			h = hexval(ch);
			if (h >= 0) {
				if (c->ndigits == 16)
					return HTTP_MALFORMED;
				c->left = c->left * 16 + (uint64_t)h;
				c->ndigits++;
				i++;
				break;
			}
			if (c->ndigits == 0)
				return HTTP_MALFORMED;
			if (ch == ' ' || ch == '\t')
				c->state = CH_SIZE_WS;
			else if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else
				return HTTP_MALFORMED;
			c->linelen = 0;
			i++;
			break;
		case CH_SIZE_WS:
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch != ' ' && ch != '\t')
				return HTTP_MALFORMED;
			if (++c->linelen > CH_EXT_MAX)
				return HTTP_MALFORMED;
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_value_char(ch))
				return HTTP_MALFORMED;
			if (++c->linelen > CH_EXT_MAX)
				return HTTP_MALFORMED;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return HTTP_MALFORMED;
			i++;
			c->ndigits = 0;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			c->linelen = 0;
			break;
		case CH_DATA: {
			size_t take = len - i;
			if ((uint64_t)take > c->left)
				take = (size_t)c->left;
			if (data)
				*data = (struct http_slice){buf + i, take};
			i += take;
			c->left -= take;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			/* one run of data per call, so the caller sees it */
			return (long)i;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return HTTP_MALFORMED;
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return HTTP_MALFORMED;
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\r') {
				c->state = CH_END_LF;
			} else if (is_tchar(ch)) {
				c->state = CH_TRAILER_LINE;
				c->linelen = 1;
			} else {
				return HTTP_MALFORMED;
			}
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (!is_value_char(ch))
				return HTTP_MALFORMED;
			if (++c->linelen > HTTP_LINE_MAX)
				return HTTP_MALFORMED;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return HTTP_MALFORMED;
			c->state = CH_TRAILER;
			i++;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return HTTP_MALFORMED;
			c->state = CH_DONE;
			i++;
			break;
		default:
			return HTTP_MALFORMED;
		}
	}
	return (long)i;
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Time-out";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Large";
	case 460: return "";
	case 463: return "";
	case 464: return "";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Temporarily Unavailable";
	case 504: return "Gateway Time-out";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
