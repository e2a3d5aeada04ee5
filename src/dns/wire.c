/*
 * The DNS wire codec: reading messages through a cursor that cannot run past
 * the buffer, writing them through a writer that cannot run past its cap,
 * and the name handling in between (decompression with loop refusal,
 * compression, text <-> wire conversion).
 */
#include "dns/wire.h"

#include <string.h>

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* ---- cursor ---- */

void dns_cursor_init(struct dns_cursor *c, const uint8_t *buf, size_t len)
{
	c->buf = buf;
	c->len = len;
	c->pos = 0;
	c->err = false;
}

static bool cursor_need(struct dns_cursor *c, size_t n)
{
	if (c->err || c->len - c->pos < n) {
		c->err = true;
		return false;
	}
	return true;
}

uint8_t dns_cursor_u8(struct dns_cursor *c)
{
	if (!cursor_need(c, 1))
		return 0;
	return c->buf[c->pos++];
}

uint16_t dns_cursor_u16(struct dns_cursor *c)
{
	uint16_t v;
	if (!cursor_need(c, 2))
		return 0;
	v = (uint16_t)(c->buf[c->pos] << 8 | c->buf[c->pos + 1]);
	c->pos += 2;
	return v;
}

uint32_t dns_cursor_u32(struct dns_cursor *c)
{
	uint32_t hi = dns_cursor_u16(c);
	uint32_t lo = dns_cursor_u16(c);
	return hi << 16 | lo;
}

void dns_cursor_skip(struct dns_cursor *c, size_t n)
{
	if (cursor_need(c, n))
		c->pos += n;
}

void dns_cursor_header(struct dns_cursor *c, struct dns_header *h)
{
	h->id = dns_cursor_u16(c);
	h->flags = dns_cursor_u16(c);
	h->qdcount = dns_cursor_u16(c);
	h->ancount = dns_cursor_u16(c);
	h->nscount = dns_cursor_u16(c);
	h->arcount = dns_cursor_u16(c);
}

size_t dns_cursor_name(struct dns_cursor *c, uint8_t *out)
{
	size_t p = c->pos, n = 0, end = 0;
	/* Every pointer must land strictly before the start of the stretch
	 * of labels it was found in; the limit only decreases, so reading
	 * terminates and no pointer can go forward or loop. */
	size_t limit = c->pos;
	bool jumped = false;

	if (c->err)
		return 0;
	for (;;) {
		uint8_t l;
		if (p >= c->len)
			goto fail;
		l = c->buf[p];
		if ((l & 0xc0) == 0xc0) {
			size_t target;
			if (p + 1 >= c->len)
				goto fail;
			target = (size_t)(l & 0x3f) << 8 | c->buf[p + 1];
			if (target >= limit)
				goto fail;
			if (!jumped)
				end = p + 2;
			jumped = true;
			limit = target;
			p = target;
			continue;
		}
		if (l & 0xc0) /* 0x40 and 0x80 label types are obsolete or unknown */
			goto fail;
		if (n + 1 + l > DNS_NAME_MAX)
			goto fail;
		if (p + 1 + l > c->len)
			goto fail;
		if (out)
			memcpy(out + n, c->buf + p, 1 + (size_t)l);
		n += 1 + (size_t)l;
		p += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	c->pos = jumped ? end : p;
	return n;
fail:
	c->err = true;
	return 0;
}

/* ---- writer ---- */

void dns_writer_init(struct dns_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = false;
	w->ncomp = 0;
}

static bool writer_room(struct dns_writer *w, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = true;
		return false;
	}
	return true;
}

void dns_writer_u8(struct dns_writer *w, uint8_t v)
{
	if (writer_room(w, 1))
		w->buf[w->len++] = v;
}

void dns_writer_u16(struct dns_writer *w, uint16_t v)
{
	if (!writer_room(w, 2))
		return;
	w->buf[w->len++] = (uint8_t)(v >> 8);
	w->buf[w->len++] = (uint8_t)v;
}

void dns_writer_u32(struct dns_writer *w, uint32_t v)
{
	dns_writer_u16(w, (uint16_t)(v >> 16));
	dns_writer_u16(w, (uint16_t)v);
}

void dns_writer_bytes(struct dns_writer *w, const void *p, size_t n)
{
	if (!writer_room(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void dns_writer_put_u16(struct dns_writer *w, size_t at, uint16_t v)
{
	if (w->err || at + 2 > w->len)
		return;
	w->buf[at] = (uint8_t)(v >> 8);
	w->buf[at + 1] = (uint8_t)v;
}

void dns_writer_header(struct dns_writer *w, const struct dns_header *h)
{
	dns_writer_u16(w, h->id);
	dns_writer_u16(w, h->flags);
	dns_writer_u16(w, h->qdcount);
	dns_writer_u16(w, h->ancount);
	dns_writer_u16(w, h->nscount);
	dns_writer_u16(w, h->arcount);
}

/* Does the name written at offset off of our own output equal name? The
 * output was written by us, but the walk is bounded anyway. */
static bool comp_match(const struct dns_writer *w, size_t off, const uint8_t *name)
{
	for (int hops = 0; hops < 128; hops++) {
		uint8_t l;
		if (off >= w->len)
			return false;
		l = w->buf[off];
		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= w->len)
				return false;
			off = (size_t)(l & 0x3f) << 8 | w->buf[off + 1];
			continue;
		}
		if (l != *name || off + 1 + l > w->len)
			return false;
		if (l == 0)
			return true;
		for (size_t i = 1; i <= l; i++)
			if (lower(w->buf[off + i]) != lower(name[i]))
				return false;
		off += 1 + (size_t)l;
		name += 1 + (size_t)l;
	}
	return false;
}

void dns_writer_name(struct dns_writer *w, const uint8_t *name)
{
	while (*name) {
		for (size_t i = 0; i < w->ncomp; i++) {
			if (comp_match(w, w->comp[i], name)) {
				dns_writer_u16(w, (uint16_t)(0xc000 | w->comp[i]));
				return;
			}
		}
		if (!w->err && w->len < 0x4000 && w->ncomp < DNS_COMP_MAX)
			w->comp[w->ncomp++] = (uint16_t)w->len;
		dns_writer_bytes(w, name, 1 + (size_t)*name);
		name += 1 + *name;
	}
	dns_writer_u8(w, 0);
}

void dns_writer_name_raw(struct dns_writer *w, const uint8_t *name)
{
	dns_writer_bytes(w, name, dns_name_len(name));
}

/* Owner, type, class, ttl and a zero RDLENGTH; returns where RDLENGTH is so
 * that rr_end() can patch it. */
static size_t rr_begin(struct dns_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl)
{
	size_t at;
	dns_writer_name(w, owner);
	dns_writer_u16(w, type);
	dns_writer_u16(w, DNS_C_IN);
	dns_writer_u32(w, ttl);
	at = w->len;
	dns_writer_u16(w, 0);
	return at;
}

static void rr_end(struct dns_writer *w, size_t at)
{
	dns_writer_put_u16(w, at, (uint16_t)(w->len - at - 2));
}

void dns_writer_rr_a(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint32_t addr)
{
	size_t at = rr_begin(w, owner, DNS_T_A, ttl);
	dns_writer_u32(w, addr);
	rr_end(w, at);
}

void dns_writer_rr_aaaa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
			const uint8_t addr[16])
{
	size_t at = rr_begin(w, owner, DNS_T_AAAA, ttl);
	dns_writer_bytes(w, addr, 16);
	rr_end(w, at);
}

void dns_writer_rr_name(struct dns_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl,
			const uint8_t *target)
{
	size_t at = rr_begin(w, owner, type, ttl);
	dns_writer_name(w, target);
	rr_end(w, at);
}

void dns_writer_rr_soa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
		       const uint8_t *mname, const uint8_t *rname, uint32_t serial,
		       uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum)
{
	size_t at = rr_begin(w, owner, DNS_T_SOA, ttl);
	dns_writer_name(w, mname);
	dns_writer_name(w, rname);
	dns_writer_u32(w, serial);
	dns_writer_u32(w, refresh);
	dns_writer_u32(w, retry);
	dns_writer_u32(w, expire);
	dns_writer_u32(w, minimum);
	rr_end(w, at);
}

void dns_writer_rr_mx(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint16_t pref,
		      const uint8_t *exchange)
{
	size_t at = rr_begin(w, owner, DNS_T_MX, ttl);
	dns_writer_u16(w, pref);
	dns_writer_name(w, exchange);
	rr_end(w, at);
}

void dns_writer_rr_srv(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, uint16_t prio,
		       uint16_t weight, uint16_t port, const uint8_t *target)
{
	size_t at = rr_begin(w, owner, DNS_T_SRV, ttl);
	dns_writer_u16(w, prio);
	dns_writer_u16(w, weight);
	dns_writer_u16(w, port);
	/* RFC 2782: the target is not compressed. */
	dns_writer_name_raw(w, target);
	rr_end(w, at);
}

/* Reads one escape after a backslash at s[*i]; returns the byte or -1. */
static int txt_unescape(const char *s, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];
	if (c >= '0' && c <= '9') {
		int v = 0;
		for (int k = 0; k < 3; k++) {
			unsigned char d = (unsigned char)s[*i + (size_t)k];
			if (d < '0' || d > '9')
				return -1;
			v = v * 10 + (d - '0');
		}
		if (v > 255)
			return -1;
		*i += 3;
		return v;
	}
	if (c == 0)
		return -1;
	*i += 1;
	return c;
}

/* Splits a Route53 TXT value into character-strings, written as
 * <len><bytes> into out (cap bytes). Returns the length, or -1. */
static int txt_encode(const char *s, uint8_t *out, size_t cap)
{
	size_t i = 0, n = 0;
	while (s[i]) {
		size_t lenat;
		bool quoted;
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		quoted = s[i] == '"';
		if (quoted)
			i++;
		if (n >= cap)
			return -1;
		lenat = n++;
		for (;;) {
			int c = (unsigned char)s[i];
			if (c == 0) {
				if (quoted)
					return -1;
				break;
			}
			if (quoted && c == '"') {
				i++;
				break;
			}
			if (!quoted && (c == ' ' || c == '\t'))
				break;
			i++;
			if (c == '\\') {
				c = txt_unescape(s, &i);
				if (c < 0)
					return -1;
			}
			if (n - lenat - 1 >= 255 || n >= cap)
				return -1;
			out[n++] = (uint8_t)c;
		}
		out[lenat] = (uint8_t)(n - lenat - 1);
	}
	if (n == 0) { /* an empty value is one empty string */
		if (cap < 1)
			return -1;
		out[n++] = 0;
	}
	return (int)n;
}

int dns_txt_encode(const char *value, uint8_t *out, size_t cap)
{
	return txt_encode(value, out, cap);
}

void dns_writer_rr_raw(struct dns_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl,
		       const uint8_t *rdata, size_t len)
{
	size_t at = rr_begin(w, owner, type, ttl);
	dns_writer_bytes(w, rdata, len);
	rr_end(w, at);
}

int dns_writer_rr_txt(struct dns_writer *w, const uint8_t *owner, uint32_t ttl, const char *value)
{
	uint8_t rdata[4096];
	size_t at;
	int n = txt_encode(value, rdata, sizeof(rdata));
	if (n < 0)
		return -1;
	at = rr_begin(w, owner, DNS_T_TXT, ttl);
	dns_writer_bytes(w, rdata, (size_t)n);
	rr_end(w, at);
	return 0;
}

void dns_writer_opt(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode)
{
	dns_writer_opt_do(w, udp_size, ext_rcode, false);
}

void dns_writer_opt_do(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, bool do_bit)
{
	dns_writer_u8(w, 0); /* root owner */
	dns_writer_u16(w, DNS_T_OPT);
	dns_writer_u16(w, udp_size);
	/* version 0; DO as the query had it (RFC 3225) */
	dns_writer_u32(w, (uint32_t)ext_rcode << 24 | (do_bit ? 0x8000u : 0));
	dns_writer_u16(w, 0);
}

/* ---- names ---- */

int dns_name_from_str(const char *s, uint8_t *out)
{
	size_t n = 0, i = 0;

	if (s[0] == '.' && s[1] == 0)
		s++;
	while (s[i]) {
		size_t lenat = n++, l = 0;
		if (n > DNS_NAME_MAX - 1)
			return -1;
		while (s[i] && s[i] != '.') {
			int c = (unsigned char)s[i++];
			if (c == '\\') {
				c = txt_unescape(s, &i);
				if (c < 0)
					return -1;
			}
			if (++l > DNS_LABEL_MAX || n >= DNS_NAME_MAX - 1)
				return -1;
			out[n++] = (uint8_t)c;
		}
		if (l == 0)
			return -1; /* empty label: "a..b" or a leading dot */
		out[lenat] = (uint8_t)l;
		if (s[i] == '.')
			i++;
	}
	out[n++] = 0;
	return (int)n;
}

int dns_name_to_str(const uint8_t *name, char *out, size_t cap)
{
	size_t n = 0;
	if (*name == 0) {
		if (cap < 2)
			return -1;
		out[0] = '.';
		out[1] = 0;
		return 0;
	}
	while (*name) {
		uint8_t l = *name++;
		for (uint8_t k = 0; k < l; k++) {
			uint8_t c = *name++;
			if (c == '.' || c == '\\') {
				if (n + 2 >= cap)
					return -1;
				out[n++] = '\\';
				out[n++] = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				if (n + 4 >= cap)
					return -1;
				out[n++] = '\\';
				out[n++] = (char)('0' + c / 100);
				out[n++] = (char)('0' + c / 10 % 10);
				out[n++] = (char)('0' + c % 10);
			} else {
				if (n + 1 >= cap)
					return -1;
				out[n++] = (char)c;
			}
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = '.';
	}
	out[n] = 0;
	return 0;
}

size_t dns_name_len(const uint8_t *name)
{
	size_t n = 0;
	while (name[n])
		n += 1 + (size_t)name[n];
	return n + 1;
}

bool dns_name_eq(const uint8_t *a, const uint8_t *b)
{
	size_t la = dns_name_len(a);
	if (la != dns_name_len(b))
		return false;
	/* Length bytes are <= 63, so lower() leaves them alone. */
	for (size_t i = 0; i < la; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

size_t dns_name_labels(const uint8_t *name)
{
	size_t n = 0;
	while (*name) {
		name += 1 + *name;
		n++;
	}
	return n;
}

const uint8_t *dns_name_skip(const uint8_t *name, size_t n)
{
	while (n-- > 0 && *name)
		name += 1 + *name;
	return name;
}

bool dns_name_is_sub(const uint8_t *name, const uint8_t *zone)
{
	size_t ln = dns_name_labels(name), lz = dns_name_labels(zone);
	if (ln < lz)
		return false;
	return dns_name_eq(dns_name_skip(name, ln - lz), zone);
}

/* ---- queries ---- */

/* Skips one resource record, noting an OPT in e. Returns false when the
 * record is malformed or is a second OPT / an OPT not at the root. */
static bool query_record(struct dns_cursor *c, struct dns_edns *e, bool additional)
{
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type, cls, rdlen;
	uint32_t ttl;
	size_t n = dns_cursor_name(c, owner);

	type = dns_cursor_u16(c);
	cls = dns_cursor_u16(c);
	ttl = dns_cursor_u32(c);
	rdlen = dns_cursor_u16(c);
	dns_cursor_skip(c, rdlen);
	if (c->err)
		return false;
	if (type != DNS_T_OPT)
		return true;
	if (!additional || e->present || n != 1)
		return false;
	e->present = true;
	e->udp_size = cls;
	e->version = (uint8_t)(ttl >> 16);
	e->do_bit = (ttl & 0x8000) != 0;
	return true;
}

int dns_query_parse(const uint8_t *buf, size_t len, struct dns_query *q)
{
	struct dns_cursor c;
	size_t nrr;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HDR_LEN)
		return -1;
	dns_cursor_init(&c, buf, len);
	dns_cursor_header(&c, &q->hdr);
	if (q->hdr.qdcount != 1)
		return -2;
	q->qname_len = dns_cursor_name(&c, q->qname);
	q->qtype = dns_cursor_u16(&c);
	q->qclass = dns_cursor_u16(&c);
	if (c.err) {
		q->qname_len = 0;
		return -2;
	}
	nrr = (size_t)q->hdr.ancount + q->hdr.nscount + q->hdr.arcount;
	for (size_t i = 0; i < nrr; i++)
		if (!query_record(&c, &q->edns, i >= (size_t)q->hdr.ancount + q->hdr.nscount))
			return -2;
	if (c.pos != len) /* trailing garbage */
		return -2;
	return 0;
}
