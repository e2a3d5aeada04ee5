/*
 * Route53 value text -> RDATA. A small tokenizer splits a value on blanks,
 * keeping "quoted strings" whole (with \" \\ \ddd escapes); each type then
 * reads its fields in order and rejects anything left over.
 */
#include "dns/rdata.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "dns/wire.h"

uint16_t dns_type_from_str(const char *t)
{
	static const struct {
		const char *name;
		uint16_t code;
	} types[] = {
	    {"A", DNS_T_A},	{"NS", DNS_T_NS},   {"CNAME", DNS_T_CNAME}, {"SOA", DNS_T_SOA},
	    {"PTR", DNS_T_PTR}, {"MX", DNS_T_MX},   {"TXT", DNS_T_TXT},	    {"AAAA", DNS_T_AAAA},
	    {"SRV", DNS_T_SRV}, {"NAPTR", DNS_T_NAPTR}, {"DS", DNS_T_DS},   {"SPF", DNS_T_SPF},
	    {"CAA", DNS_T_CAA},
	};
	for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].code;
	return 0;
}

/* One field of a value: bytes (unescaped), whether it was quoted. */
struct tok {
	uint8_t b[256];
	size_t n;
	bool quoted;
};

/* Reads the next field at *p; false at the end or when malformed (*bad). */
static bool tok_next(const char **p, struct tok *t, bool *bad)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	t->n = 0;
	t->quoted = *s == '"';
	if (t->quoted)
		s++;
	for (;;) {
		int c = (unsigned char)*s;
		if (c == 0) {
			if (t->quoted)
				goto bad;
			break;
		}
		if (t->quoted ? c == '"' : (c == ' ' || c == '\t')) {
			if (t->quoted)
				s++;
			break;
		}
		s++;
		if (c == '\\') {
			if (*s >= '0' && *s <= '9') {
				if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
					goto bad;
				c = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
				if (c > 255)
					goto bad;
				s += 3;
			} else if (*s) {
				c = (unsigned char)*s++;
			} else {
				goto bad;
			}
		}
		if (t->n == 255)
			goto bad;
		t->b[t->n++] = (uint8_t)c;
	}
	t->b[t->n] = 0;
	*p = s;
	return true;
bad:
	*bad = true;
	return false;
}

struct out {
	uint8_t *buf;
	size_t cap, n;
	bool err;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->n + n > o->cap) {
		o->err = true;
		return;
	}
	memcpy(o->buf + o->n, p, n);
	o->n += n;
}

static void put_u8(struct out *o, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(o, &b, 1);
}

static void put_u16(struct out *o, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(o, b, 2);
}

static void put_u32(struct out *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	put(o, b, 4);
}

/* An unquoted decimal number in 0..max. */
static bool num(const struct tok *t, unsigned long max, unsigned long *v)
{
	char *end;
	if (t->quoted || t->n == 0 || t->b[0] < '0' || t->b[0] > '9')
		return false;
	*v = strtoul((const char *)t->b, &end, 10);
	return *end == 0 && *v <= max;
}

static bool name(const struct tok *t, struct out *o)
{
	uint8_t w[DNS_NAME_MAX];
	int n;
	if (t->quoted || t->n == 0 || memchr(t->b, 0, t->n))
		return false;
	n = dns_name_from_str((const char *)t->b, w);
	if (n < 0)
		return false;
	put(o, w, (size_t)n);
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dns_rdata_from_str(uint16_t type, const char *value, uint8_t *buf, size_t cap,
		       const char **why)
{
	struct out o = {.buf = buf, .cap = cap};
	struct tok t[7];
	size_t nt = 0;
	const char *p = value, *need;
	bool bad = false;
	unsigned long v[4];

	switch (type) {
	case DNS_T_A:
		need = "an IPv4 address (192.0.2.44)";
		break;
	case DNS_T_AAAA:
		need = "an IPv6 address (2001:db8::1)";
		break;
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		need = "a domain name";
		break;
	case DNS_T_MX:
		need = "a priority and a domain name (10 mail.example.com)";
		break;
	case DNS_T_SRV:
		need = "priority weight port domain-name (1 10 5269 xmpp.example.com)";
		break;
	case DNS_T_TXT:
	case DNS_T_SPF:
		need = "quoted strings of at most 255 characters (\"v=spf1 -all\")";
		break;
	case DNS_T_SOA:
		need = "mname rname serial refresh retry expire minimum "
		       "(ns-1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400)";
		break;
	case DNS_T_CAA:
		need = "flags tag \"value\" (0 issue \"ca.example.net\")";
		break;
	case DNS_T_DS:
		need = "key-tag algorithm digest-type hex-digest (60485 5 1 2BB1...)";
		break;
	case DNS_T_NAPTR:
		need = "order preference \"flags\" \"services\" \"regexp\" replacement "
		       "(100 100 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .)";
		break;
	default:
		need = "a type Route53 serves";
		goto fail;
	}
	if (why)
		*why = need;
	if (!value)
		return -1;

	if (type == DNS_T_TXT || type == DNS_T_SPF) {
		int n = dns_txt_encode(value, buf, cap);
		return n;
	}
	while (nt < 7 && tok_next(&p, &t[nt], &bad))
		nt++;
	if (bad || (nt == 7 && tok_next(&p, &t[0], &bad)))
		goto fail; /* more fields than any type has */

	switch (type) {
	case DNS_T_A: {
		uint32_t a;
		if (nt != 1 || t[0].quoted || addr4_parse((const char *)t[0].b, &a) < 0)
			goto fail;
		put_u32(&o, a);
		break;
	}
	case DNS_T_AAAA: {
		uint8_t a6[16];
		if (nt != 1 || t[0].quoted || inet_pton(AF_INET6, (const char *)t[0].b, a6) != 1)
			goto fail;
		put(&o, a6, 16);
		break;
	}
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		if (nt != 1 || !name(&t[0], &o))
			goto fail;
		break;
	case DNS_T_MX:
		if (nt != 2 || !num(&t[0], 65535, &v[0]))
			goto fail;
		put_u16(&o, (unsigned)v[0]);
		if (!name(&t[1], &o))
			goto fail;
		break;
	case DNS_T_SRV:
		if (nt != 4 || !num(&t[0], 65535, &v[0]) || !num(&t[1], 65535, &v[1]) ||
		    !num(&t[2], 65535, &v[2]))
			goto fail;
		put_u16(&o, (unsigned)v[0]);
		put_u16(&o, (unsigned)v[1]);
		put_u16(&o, (unsigned)v[2]);
		if (!name(&t[3], &o))
			goto fail;
		break;
	case DNS_T_SOA:
		if (nt != 7 || !name(&t[0], &o) || !name(&t[1], &o))
			goto fail;
		for (int i = 2; i < 7; i++) {
			unsigned long x;
			if (!num(&t[i], 0xffffffffUL, &x))
				goto fail;
			put_u32(&o, (uint32_t)x);
		}
		break;
	case DNS_T_CAA:
		/* RFC 8659: flags, a tag of 1-15 letters and digits, value. */
		if (nt != 3 || !num(&t[0], 255, &v[0]) || t[1].quoted || t[1].n == 0 ||
		    t[1].n > 15)
			goto fail;
		for (size_t i = 0; i < t[1].n; i++)
			if (!((t[1].b[i] >= 'a' && t[1].b[i] <= 'z') ||
			      (t[1].b[i] >= 'A' && t[1].b[i] <= 'Z') ||
			      (t[1].b[i] >= '0' && t[1].b[i] <= '9')))
				goto fail;
		put_u8(&o, (unsigned)v[0]);
		put_u8(&o, (unsigned)t[1].n);
		put(&o, t[1].b, t[1].n);
		put(&o, t[2].b, t[2].n);
		break;
	case DNS_T_DS: {
		size_t hexlen = 0;
		if (nt < 4 || !num(&t[0], 65535, &v[0]) || !num(&t[1], 255, &v[1]) ||
		    !num(&t[2], 255, &v[2]))
			goto fail;
		put_u16(&o, (unsigned)v[0]);
		put_u8(&o, (unsigned)v[1]);
		put_u8(&o, (unsigned)v[2]);
		/* The digest may be split by blanks, as in zone files. */
		for (size_t k = 3; k < nt; k++) {
			if (t[k].quoted || t[k].n % 2)
				goto fail;
			for (size_t i = 0; i < t[k].n; i += 2) {
				int hi = hexval(t[k].b[i]), lo = hexval(t[k].b[i + 1]);
				if (hi < 0 || lo < 0)
					goto fail;
				put_u8(&o, (unsigned)(hi << 4 | lo));
				hexlen += 2;
			}
		}
		if (hexlen == 0)
			goto fail;
		break;
	}
	case DNS_T_NAPTR:
		if (nt != 6 || !num(&t[0], 65535, &v[0]) || !num(&t[1], 65535, &v[1]) ||
		    !t[2].quoted || !t[3].quoted || !t[4].quoted)
			goto fail;
		put_u16(&o, (unsigned)v[0]);
		put_u16(&o, (unsigned)v[1]);
		for (int i = 2; i < 5; i++) {
			put_u8(&o, (unsigned)t[i].n);
			put(&o, t[i].b, t[i].n);
		}
		if (!name(&t[5], &o))
			goto fail;
		break;
	}
	if (o.err)
		goto fail;
	return (int)o.n;
fail:
	if (why)
		*why = need;
	return -1;
}
