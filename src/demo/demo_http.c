/*
 * The demo app's request reader. Pure: no I/O, no allocation. See
 * demo_http.h.
 */
#include "demo/demo_http.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool slice_ieq(struct demo_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* True when the comma-separated list s holds token tok (case-insensitive). */
static bool list_has(struct demo_slice s, const char *tok)
{
	size_t i = 0, n = strlen(tok);
	while (i < s.n) {
		size_t b, e;
		while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == ','))
			i++;
		b = i;
		while (i < s.n && s.p[i] != ',')
			i++;
		e = i;
		while (e > b && (s.p[e - 1] == ' ' || s.p[e - 1] == '\t'))
			e--;
		if (e - b == n && strncasecmp(s.p + b, tok, n) == 0)
			return true;
	}
	return false;
}

/* Finds the end of the head: the empty line. Returns the offset just past
 * it, or 0 when it is not there yet. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Next line [*pos, eol) without its CR LF; advances *pos past it. */
static struct demo_slice next_line(const char *buf, size_t end, size_t *pos)
{
	struct demo_slice l = {buf + *pos, 0};
	size_t i = *pos;
	while (i < end && buf[i] != '\n')
		i++;
	l.n = i - *pos;
	if (l.n && l.p[l.n - 1] == '\r')
		l.n--;
	*pos = i < end ? i + 1 : end;
	return l;
}

static int parse_request_line(struct demo_slice l, struct demo_req *req)
{
	size_t i = 0;
	while (i < l.n && is_tchar((unsigned char)l.p[i]))
		i++;
	if (i == 0 || i >= l.n || l.p[i] != ' ')
		return -1;
	req->method = (struct demo_slice){l.p, i};
	req->target.p = l.p + ++i;
	while (i < l.n && l.p[i] > ' ' && l.p[i] != 0x7f)
		i++;
	req->target.n = (size_t)(l.p + i - req->target.p);
	if (req->target.n == 0 || i >= l.n || l.p[i] != ' ')
		return -1;
	i++;
	if (l.n - i != 8 || memcmp(l.p + i, "HTTP/1.", 7) != 0 || l.p[i + 7] < '0' ||
	    l.p[i + 7] > '9')
		return -1;
	req->minor = l.p[i + 7] - '0';
	return 0;
}

static int parse_length(struct demo_slice v, int64_t *out)
{
	int64_t n = 0;
	if (v.n == 0 || v.n > 15)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = n;
	return 0;
}

int demo_http_parse_head(const char *buf, size_t len, struct demo_req *req)
{
	size_t end, pos = 0;
	struct demo_slice l;
	bool conn_close = false, conn_keep = false, te = false;

	/* Tolerate empty lines before a request (RFC 9112 section 2.2). */
	while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	end = head_end(buf + pos, len - pos);
	if (end == 0)
		return -2;
	end += pos;
	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	l = next_line(buf, end, &pos);
	if (parse_request_line(l, req) < 0)
		return -1;
	for (;;) {
		struct demo_header *h;
		size_t i = 0, vb, ve;
		l = next_line(buf, end, &pos);
		if (l.n == 0)
			break;
		if (req->nheaders == DEMO_HTTP_MAX_HEADERS)
			return -1;
		while (i < l.n && is_tchar((unsigned char)l.p[i]))
			i++;
		/* No space before the colon, no folded lines: both are ways to
		 * make two parsers disagree. */
		if (i == 0 || i >= l.n || l.p[i] != ':')
			return -1;
		h = &req->headers[req->nheaders++];
		h->name = (struct demo_slice){l.p, i};
		vb = i + 1;
		while (vb < l.n && (l.p[vb] == ' ' || l.p[vb] == '\t'))
			vb++;
		ve = l.n;
		while (ve > vb && (l.p[ve - 1] == ' ' || l.p[ve - 1] == '\t'))
			ve--;
		for (size_t k = vb; k < ve; k++)
			if ((unsigned char)l.p[k] < 0x20 && l.p[k] != '\t')
				return -1;
		h->value = (struct demo_slice){l.p + vb, ve - vb};
		if (slice_ieq(h->name, "content-length")) {
			int64_t n;
			if (parse_length(h->value, &n) < 0)
				return -1;
			if (req->content_length >= 0 && req->content_length != n)
				return -1;
			req->content_length = n;
		} else if (slice_ieq(h->name, "transfer-encoding")) {
			/* Only "chunked" as the one coding is understood. */
			if (te || !slice_ieq(h->value, "chunked"))
				return -1;
			te = true;
			req->chunked = true;
		} else if (slice_ieq(h->name, "connection")) {
			conn_close |= list_has(h->value, "close");
			conn_keep |= list_has(h->value, "keep-alive");
		}
	}
	if (req->chunked && req->content_length >= 0)
		return -1;
	req->keep_alive = req->minor >= 1 ? !conn_close : (conn_keep && !conn_close);
	return (int)end;
}

enum {
	CS_SIZE,
	CS_EXT,
	CS_SIZE_LF,
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER_START,
	CS_TRAILER,
	CS_FINAL_LF,
	CS_DONE
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long demo_http_skip_chunked(struct demo_chunked *st, const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && st->state != CS_DONE) {
		char c = buf[i];
		switch (st->state) {
		case CS_SIZE: {
			int v = hexval(c);
			if (v >= 0) {
				if (++st->ndigits > 12)
					return -1;
				st->size = st->size * 16 + (uint64_t)v;
				i++;
				break;
			}
			if (st->ndigits == 0)
				return -1;
			if (c == ';' || c == ' ' || c == '\t')
				st->state = CS_EXT;
			else if (c == '\r')
				st->state = CS_SIZE_LF;
			else if (c == '\n')
				st->state = st->size ? CS_DATA : CS_TRAILER_START;
			else
				return -1;
			i++;
			break;
		}
		case CS_EXT:
			if (c == '\r')
				st->state = CS_SIZE_LF;
			else if (c == '\n')
				st->state = st->size ? CS_DATA : CS_TRAILER_START;
			i++;
			break;
		case CS_SIZE_LF:
			if (c != '\n')
				return -1;
			st->state = st->size ? CS_DATA : CS_TRAILER_START;
			i++;
			break;
		case CS_DATA: {
			size_t n = len - i;
			if (n > st->size)
				n = (size_t)st->size;
			st->size -= n;
			i += n;
			if (st->size == 0)
				st->state = CS_DATA_CR;
			break;
		}
		case CS_DATA_CR:
			if (c == '\r')
				st->state = CS_DATA_LF;
			else if (c == '\n')
				st->state = CS_SIZE;
			else
				return -1;
			st->ndigits = 0;
			i++;
			break;
		case CS_DATA_LF:
			if (c != '\n')
				return -1;
			st->state = CS_SIZE;
			i++;
			break;
		case CS_TRAILER_START:
			if (c == '\r')
				st->state = CS_FINAL_LF;
			else if (c == '\n')
				st->state = CS_DONE;
			else
				st->state = CS_TRAILER;
			i++;
			break;
		case CS_TRAILER:
			if (c == '\n')
				st->state = CS_TRAILER_START;
			i++;
			break;
		case CS_FINAL_LF:
			if (c != '\n')
				return -1;
			st->state = CS_DONE;
			i++;
			break;
		default:
			return -1;
		}
	}
	st->done = st->state == CS_DONE;
	return (long)i;
}
