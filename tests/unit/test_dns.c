/* The DNS plane: wire codec, answers from a hand-built model, and the
 * UDP/TCP server on a real loop over 127.0.0.1. */
#include "t.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/loop.h"
#include "dns/answer.h"
#include "dns/server.h"
#include "dns/wire.h"
#include "model/model.h"

#define LB_NAME "internal-private-api-1529930873.us-east-1.elb.amazonaws.com"
#define NODE1 0x7f4d0105u /* 127.77.1.5 */
#define NODE2 0x7f4d0205u /* 127.77.2.5 */

/* ---- the model ---- */

static int zone_vpcs[] = {0};
static uint32_t nodes[] = {NODE1, NODE2};
static char big_txt[600];
static struct model_vpc vpcs[2];
static struct model_zone zones[1];
static struct model_lb lbs[1];
static struct model_record recs[9];
static struct model model;

static void rec(size_t i, const char *name, const char *type, uint32_t ttl, const char *value,
		int alias)
{
	recs[i] = (struct model_record){
		.zone = 0, .name = (char *)name, .type = (char *)type, .ttl = ttl, .alias_lb = alias};
	if (value) {
		recs[i].values[0] = (char *)value;
		recs[i].nvalues = 1;
	}
}

static const struct model *test_model(void)
{
	vpcs[0] = (struct model_vpc){.logical = "VPC", .id = "vpc-0123456789abcdef0",
				     .cidr = {0x0a000000u, 16}, .lo_base = 0x7f4d0000u};
	vpcs[1] = (struct model_vpc){.logical = "Other", .id = "vpc-0123456789abcdef1",
				     .cidr = {0x0a010000u, 16}, .lo_base = 0x7f4e0000u};
	zones[0] = (struct model_zone){.logical = "PrivateHostedZone", .id = "Z0463989E6ZRMK2X7OOO",
				       .name = "in.example.com.", .private_zone = true,
				       .vpcs = zone_vpcs, .nvpcs = 1};
	lbs[0] = (struct model_lb){.logical = "PrivateApiLoadBalancer", .name = "private-api",
				   .dns_name = LB_NAME, .nsubnets = 2, .node_addrs = nodes};
	rec(0, "service-a.in.example.com.", "CNAME", 60, LB_NAME, -1);
	rec(1, "alias.in.example.com.", "A", 0, NULL, 0);
	rec(2, "a.b.in.example.com.", "A", 300, "10.0.1.9", -1);
	rec(3, "txt.in.example.com.", "TXT", 30, "\"hello world\" \"x\"", -1);
	/* Two strings of 250 bytes: a reply over 512 bytes. */
	big_txt[0] = '"';
	memset(big_txt + 1, 'a', 250);
	memcpy(big_txt + 251, "\" \"", 3);
	memset(big_txt + 254, 'b', 250);
	big_txt[504] = '"';
	big_txt[505] = 0;
	rec(4, "big.in.example.com.", "TXT", 30, big_txt, -1);
	rec(5, "*.wild.in.example.com.", "A", 120, "10.0.3.3", -1);
	rec(6, "loop1.in.example.com.", "CNAME", 10, "loop2.in.example.com", -1);
	rec(7, "loop2.in.example.com.", "CNAME", 10, "loop1.in.example.com.", -1);
	rec(8, "mx.in.example.com.", "MX", 10, "10 mail.in.example.com.", -1);
	model = (struct model){.vpcs = vpcs, .nvpcs = 2, .zones = zones, .nzones = 1, .lbs = lbs,
			       .nlbs = 1, .records = recs, .nrecords = 9};
	return &model;
}

/* ---- building queries and reading replies ---- */

static size_t build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t type,
			  int edns_size)
{
	struct dns_writer w;
	uint8_t qname[DNS_NAME_MAX];
	struct dns_header h = {.id = id, .flags = DNS_F_RD, .qdcount = 1,
			       .arcount = edns_size ? 1 : 0};
	dns_writer_init(&w, buf, cap);
	dns_writer_header(&w, &h);
	if (dns_name_from_str(name, qname) < 0)
		return 0;
	dns_writer_name_raw(&w, qname);
	dns_writer_u16(&w, type);
	dns_writer_u16(&w, DNS_C_IN);
	if (edns_size)
		dns_writer_opt(&w, (uint16_t)edns_size, 0);
	return w.err ? 0 : w.len;
}

struct rr {
	char name[300];
	uint16_t type, cls;
	uint32_t ttl;
	uint16_t rdlen;
	uint32_t a;
	char target[300]; /* CNAME, NS, MX exchange, SOA mname */
	char rname[300];
	uint32_t soa[5];
	uint8_t rdata[600];
};

struct reply {
	struct dns_header h;
	char qname[300];
	uint16_t qtype, qclass;
	struct rr rr[24];
	size_t nrr;
};

static bool read_name(struct dns_cursor *c, char *out)
{
	uint8_t n[DNS_NAME_MAX];
	if (dns_cursor_name(c, n) == 0)
		return false;
	return dns_name_to_str(n, out, 300) == 0;
}

static bool decode(const uint8_t *buf, size_t len, struct reply *r)
{
	struct dns_cursor c;
	size_t total;
	memset(r, 0, sizeof(*r));
	dns_cursor_init(&c, buf, len);
	dns_cursor_header(&c, &r->h);
	if (r->h.qdcount == 1) {
		if (!read_name(&c, r->qname))
			return false;
		r->qtype = dns_cursor_u16(&c);
		r->qclass = dns_cursor_u16(&c);
	}
	total = (size_t)r->h.ancount + r->h.nscount + r->h.arcount;
	if (total > 24)
		return false;
	for (size_t i = 0; i < total; i++) {
		struct rr *x = &r->rr[i];
		size_t end;
		if (!read_name(&c, x->name))
			return false;
		x->type = dns_cursor_u16(&c);
		x->cls = dns_cursor_u16(&c);
		x->ttl = dns_cursor_u32(&c);
		x->rdlen = dns_cursor_u16(&c);
		if (c.err || x->rdlen > len - c.pos || x->rdlen > sizeof(x->rdata))
			return false;
		memcpy(x->rdata, buf + c.pos, x->rdlen);
		end = c.pos + x->rdlen;
		switch (x->type) {
		case DNS_T_A:
			x->a = dns_cursor_u32(&c);
			break;
		case DNS_T_CNAME:
		case DNS_T_NS:
			read_name(&c, x->target);
			break;
		case DNS_T_MX:
			dns_cursor_u16(&c);
			read_name(&c, x->target);
			break;
		case DNS_T_SOA:
			read_name(&c, x->target);
			read_name(&c, x->rname);
			for (int k = 0; k < 5; k++)
				x->soa[k] = dns_cursor_u32(&c);
			break;
		default:
			c.pos = end;
		}
		if (c.err || c.pos != end)
			return false;
		r->nrr++;
	}
	return !c.err && c.pos == len;
}

static uint8_t qbuf[1024], abuf[DNS_MSG_MAX];

/* Asks name/type of the test model through VPC 0 over UDP. */
static size_t ask(struct reply *r, const char *name, uint16_t type)
{
	size_t ql = build_query(qbuf, sizeof(qbuf), 0x1234, name, type, 0);
	size_t n = dns_answer(test_model(), 0, qbuf, ql, abuf, sizeof(abuf), false);
	if (n == 0 || !decode(abuf, n, r)) {
		T_FAIL("no decodable reply for %s", name);
		memset(r, 0, sizeof(*r));
	}
	return n;
}

/* ---- wire codec ---- */

static void test_name_text_roundtrip(void)
{
	uint8_t w[DNS_NAME_MAX];
	char s[300];
	char long_label[80];
	ASSERT_EQ(dns_name_from_str("in.example.com", w), 16);
	ASSERT_EQ(dns_name_to_str(w, s, sizeof(s)), 0);
	ASSERT_STR_EQ(s, "in.example.com.");
	ASSERT_EQ(dns_name_from_str("in.example.com.", w), 16);
	ASSERT_EQ(dns_name_from_str(".", w), 1);
	ASSERT_EQ(dns_name_from_str("", w), 1);
	ASSERT_EQ(dns_name_from_str("a..b", w), -1);
	ASSERT_EQ(dns_name_from_str(".a", w), -1);
	memset(long_label, 'x', 64);
	long_label[64] = 0;
	ASSERT_EQ(dns_name_from_str(long_label, w), -1);
	long_label[63] = 0;
	ASSERT_EQ(dns_name_from_str(long_label, w), 65);
	ASSERT_EQ(dns_name_from_str("a\\.b.c", w), 7);
	ASSERT_EQ(dns_name_labels(w), 2);
	ASSERT_EQ(dns_name_to_str(w, s, sizeof(s)), 0);
	ASSERT_STR_EQ(s, "a\\.b.c.");
	{
		uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX];
		dns_name_from_str("X.In.Example.COM", a);
		dns_name_from_str("in.example.com.", b);
		ASSERT_TRUE(dns_name_is_sub(a, b));
		ASSERT_TRUE(!dns_name_is_sub(b, a));
		ASSERT_TRUE(dns_name_eq(dns_name_skip(a, 1), b));
	}
}

static void test_name_too_long(void)
{
	/* 4 labels of 63 = 256 bytes of wire: over the limit. */
	char s[300];
	uint8_t w[DNS_NAME_MAX];
	size_t n = 0;
	for (int k = 0; k < 4; k++) {
		memset(s + n, 'a', 63);
		n += 63;
		s[n++] = '.';
	}
	s[n] = 0;
	ASSERT_EQ(dns_name_from_str(s, w), -1);
	s[n - 2] = 0; /* 62 in the last label: 256 bytes of wire */
	ASSERT_EQ(dns_name_from_str(s, w), -1);
	s[n - 3] = 0; /* 61 in the last label: 255 bytes, the most there is */
	ASSERT_EQ(dns_name_from_str(s, w), 255);
}

static void test_compression_written_and_read(void)
{
	uint8_t buf[128], a[DNS_NAME_MAX], b[DNS_NAME_MAX], got[DNS_NAME_MAX];
	struct dns_writer w;
	struct dns_cursor c;
	size_t second;
	dns_name_from_str("www.Example.com", a);
	dns_name_from_str("mail.example.COM", b);
	dns_writer_init(&w, buf, sizeof(buf));
	dns_writer_name(&w, a);
	second = w.len;
	dns_writer_name(&w, b);
	ASSERT_TRUE(!w.err);
	ASSERT_EQ(second, 17);
	ASSERT_EQ(w.len, 17 + 5 + 2); /* "mail" + pointer to "example.com" */
	dns_writer_name(&w, a);	      /* whole name: a pointer */
	ASSERT_EQ(w.len, 17 + 7 + 2);
	dns_cursor_init(&c, buf, w.len);
	ASSERT_EQ(dns_cursor_name(&c, got), 17);
	ASSERT_EQ(dns_cursor_name(&c, got), 18);
	ASSERT_TRUE(dns_name_eq(got, b));
	ASSERT_EQ(dns_cursor_name(&c, got), 17);
	ASSERT_TRUE(dns_name_eq(got, a));
	ASSERT_EQ(c.pos, w.len);
	ASSERT_TRUE(!c.err);
}

static void test_bad_pointers_refused(void)
{
	/* Name at 0: pointer to itself. */
	const uint8_t self[] = {0xc0, 0x00};
	/* "a" then a pointer back to "a": a loop through a backward pointer. */
	const uint8_t loop2[] = {1, 'a', 0xc0, 0x00};
	/* A pointer forward to a good name. */
	const uint8_t fwd[] = {0xc0, 0x02, 1, 'a', 0};
	/* Reserved label type, truncated label, missing terminator. */
	const uint8_t resv[] = {0x40, 'a', 0};
	const uint8_t trunc[] = {5, 'a', 'b'};
	const uint8_t noend[] = {1, 'a'};
	/* A good backward pointer: "a" at 0, then "b" + pointer to 0. */
	const uint8_t good[] = {1, 'a', 0, 1, 'b', 0xc0, 0x00};
	const struct {
		const uint8_t *p;
		size_t n, at;
		size_t want;
	} cases[] = {
		{self, sizeof(self), 0, 0},   {loop2, sizeof(loop2), 0, 0},
		{fwd, sizeof(fwd), 0, 0},     {resv, sizeof(resv), 0, 0},
		{trunc, sizeof(trunc), 0, 0}, {noend, sizeof(noend), 0, 0},
		{good, sizeof(good), 3, 5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_cursor c;
		uint8_t out[DNS_NAME_MAX];
		dns_cursor_init(&c, cases[i].p, cases[i].n);
		c.pos = cases[i].at;
		ASSERT_EQ(dns_cursor_name(&c, out), cases[i].want);
		ASSERT_EQ(c.err, cases[i].want == 0);
	}
	{
		/* A chain of pointers each going back, building a name that is
		 * too long: 5 x 63-byte labels reached through pointers. */
		uint8_t msg[600];
		size_t n = 0, starts[5];
		struct dns_cursor c;
		uint8_t out[DNS_NAME_MAX];
		for (int k = 0; k < 5; k++) {
			starts[k] = n;
			msg[n++] = 63;
			memset(msg + n, 'a' + k, 63);
			n += 63;
			if (k == 0) {
				msg[n++] = 0;
			} else {
				msg[n++] = (uint8_t)(0xc0 | starts[k - 1] >> 8);
				msg[n++] = (uint8_t)starts[k - 1];
			}
		}
		dns_cursor_init(&c, msg, n);
		c.pos = starts[4];
		ASSERT_EQ(dns_cursor_name(&c, out), 0);
		ASSERT_TRUE(c.err);
	}
}

static void test_txt_encoding(void)
{
	struct reply r;
	ask(&r, "txt.in.example.com", DNS_T_TXT);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_TXT);
	ASSERT_EQ(r.rr[0].rdlen, 14);
	ASSERT_TRUE(memcmp(r.rr[0].rdata, "\x0bhello world\x01x", 14) == 0);
}

/* ---- answers ---- */

static void test_cname_chased_to_lb(void)
{
	struct reply r;
	ask(&r, "service-a.in.example.com", DNS_T_A);
	ASSERT_EQ(r.h.id, 0x1234);
	ASSERT_TRUE(r.h.flags & DNS_F_QR);
	ASSERT_TRUE(r.h.flags & DNS_F_AA);
	ASSERT_TRUE(r.h.flags & DNS_F_RA);
	ASSERT_TRUE(r.h.flags & DNS_F_RD);
	ASSERT_TRUE(!(r.h.flags & DNS_F_TC));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.qdcount, 1);
	ASSERT_STR_EQ(r.qname, "service-a.in.example.com.");
	ASSERT_EQ(r.h.ancount, 3);
	ASSERT_EQ(r.h.nscount, 0);
	ASSERT_EQ(r.rr[0].type, DNS_T_CNAME);
	ASSERT_EQ(r.rr[0].ttl, 60);
	ASSERT_STR_EQ(r.rr[0].name, "service-a.in.example.com.");
	ASSERT_STR_EQ(r.rr[0].target, LB_NAME ".");
	for (int i = 1; i <= 2; i++) {
		ASSERT_EQ(r.rr[i].type, DNS_T_A);
		ASSERT_EQ(r.rr[i].ttl, 60);
		ASSERT_STR_EQ(r.rr[i].name, LB_NAME ".");
	}
	ASSERT_EQ(r.rr[1].a, NODE1);
	ASSERT_EQ(r.rr[2].a, NODE2);

	/* Asked for the CNAME itself: only the CNAME. */
	ask(&r, "service-a.in.example.com", DNS_T_CNAME);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_CNAME);

	/* AAAA: the CNAME, and the LB has no AAAA. */
	ask(&r, "service-a.in.example.com", DNS_T_AAAA);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 1);
}

static void test_lb_name(void)
{
	struct reply r;
	ask(&r, "Internal-Private-API-1529930873.us-east-1.elb.amazonaws.com.", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_TRUE(!(r.h.flags & DNS_F_AA));
	ASSERT_EQ(r.h.ancount, 2);
	ASSERT_EQ(r.rr[0].a, NODE1);
	ASSERT_EQ(r.rr[1].a, NODE2);
	ASSERT_EQ(r.rr[0].ttl, 60);
	ASSERT_STR_EQ(r.rr[0].name, "Internal-Private-API-1529930873.us-east-1.elb.amazonaws.com.");
}

static void test_nxdomain_has_soa(void)
{
	struct reply r;
	ask(&r, "nope.in.example.com", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NXDOMAIN);
	ASSERT_TRUE(r.h.flags & DNS_F_AA);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(r.h.nscount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_SOA);
	ASSERT_STR_EQ(r.rr[0].name, "in.example.com.");
	ASSERT_EQ(r.rr[0].ttl, 900);
	ASSERT_STR_EQ(r.rr[0].target, "ns-1536.awsdns-00.co.uk.");
	ASSERT_STR_EQ(r.rr[0].rname, "awsdns-hostmaster.amazon.com.");
	ASSERT_EQ(r.rr[0].soa[0], 1);
	ASSERT_EQ(r.rr[0].soa[1], 7200);
	ASSERT_EQ(r.rr[0].soa[2], 900);
	ASSERT_EQ(r.rr[0].soa[3], 1209600);
	ASSERT_EQ(r.rr[0].soa[4], 86400);
}

static void test_nodata_has_soa(void)
{
	struct reply r;
	ask(&r, "a.b.in.example.com", DNS_T_AAAA);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(r.h.nscount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_SOA);
	/* An empty non-terminal exists: NODATA, not NXDOMAIN. */
	ask(&r, "b.in.example.com", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(r.h.nscount, 1);
}

static void test_a_record_mapped_to_loopback(void)
{
	struct reply r;
	ask(&r, "a.b.in.example.com", DNS_T_A);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].a, 0x7f4d0109u); /* 10.0.1.9 -> 127.77.1.9 */
	ASSERT_EQ(r.rr[0].ttl, 300);
}

static void test_alias_to_lb(void)
{
	struct reply r;
	ask(&r, "alias.in.example.com", DNS_T_A);
	ASSERT_TRUE(r.h.flags & DNS_F_AA);
	ASSERT_EQ(r.h.ancount, 2);
	ASSERT_EQ(r.rr[0].a, NODE1);
	ASSERT_EQ(r.rr[1].a, NODE2);
	ASSERT_EQ(r.rr[0].ttl, 60);
	ASSERT_STR_EQ(r.rr[0].name, "alias.in.example.com.");
}

static void test_apex_soa_ns(void)
{
	struct reply r;
	ask(&r, "in.example.com", DNS_T_SOA);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_SOA);
	ASSERT_EQ(r.rr[0].ttl, 900);
	ask(&r, "in.example.com", DNS_T_NS);
	ASSERT_EQ(r.h.ancount, 4);
	ASSERT_STR_EQ(r.rr[0].target, "ns-0.awsdns-00.com.");
	ASSERT_STR_EQ(r.rr[1].target, "ns-512.awsdns-00.net.");
	ASSERT_STR_EQ(r.rr[2].target, "ns-1024.awsdns-00.org.");
	ASSERT_STR_EQ(r.rr[3].target, "ns-1536.awsdns-00.co.uk.");
	ASSERT_EQ(r.rr[0].ttl, 172800);
	ask(&r, "in.example.com", DNS_T_ANY);
	ASSERT_EQ(r.h.ancount, 5);
}

static void test_case_preserved(void)
{
	struct reply r;
	ask(&r, "SeRvIcE-A.iN.eXaMpLe.CoM", DNS_T_A);
	ASSERT_STR_EQ(r.qname, "SeRvIcE-A.iN.eXaMpLe.CoM.");
	ASSERT_EQ(r.h.ancount, 3);
	ASSERT_STR_EQ(r.rr[0].name, "SeRvIcE-A.iN.eXaMpLe.CoM.");
	ask(&r, "NoPe.In.Example.com", DNS_T_A);
	ASSERT_STR_EQ(r.qname, "NoPe.In.Example.com.");
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NXDOMAIN);
}

static void test_wildcard(void)
{
	struct reply r;
	ask(&r, "x.y.wild.in.example.com", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_STR_EQ(r.rr[0].name, "x.y.wild.in.example.com.");
	ASSERT_EQ(r.rr[0].a, 0x7f4d0303u);
	/* wild itself exists (empty non-terminal): NODATA, not the wildcard. */
	ask(&r, "wild.in.example.com", DNS_T_A);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
}

static void test_cname_loop_bounded(void)
{
	struct reply r;
	ask(&r, "loop1.in.example.com", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 9);
	ASSERT_EQ(r.rr[8].type, DNS_T_CNAME);
}

static void test_mx(void)
{
	struct reply r;
	ask(&r, "mx.in.example.com", DNS_T_MX);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_STR_EQ(r.rr[0].target, "mail.in.example.com.");
}

static void test_refused_and_errors(void)
{
	struct reply r;
	size_t ql, n;
	const struct model *m = test_model();

	ask(&r, "www.example.org", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);
	ASSERT_TRUE(!(r.h.flags & DNS_F_AA));
	ASSERT_EQ(r.h.ancount, 0);

	/* The zone is private to VPC 0. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	n = dns_answer(m, 1, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);

	/* Class CH. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	qbuf[ql - 1] = 3;
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);

	/* Opcode STATUS (2): NOTIMP. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	qbuf[2] |= 2 << 3;
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOTIMP);
	ASSERT_EQ(DNS_OPCODE(r.h.flags), 2);

	/* qdcount 2: FORMERR, no question echoed. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	qbuf[5] = 2;
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_FORMERR);
	ASSERT_EQ(r.h.qdcount, 0);
	ASSERT_EQ(r.h.id, 7);

	/* A response is never answered. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	qbuf[2] |= 0x80;
	ASSERT_EQ(dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false), 0);
	/* Shorter than a header: dropped. */
	ASSERT_EQ(dns_answer(m, 0, qbuf, 11, abuf, sizeof(abuf), false), 0);

	/* Trailing garbage after the question. */
	ql = build_query(qbuf, sizeof(qbuf), 7, "service-a.in.example.com", DNS_T_A, 0);
	qbuf[ql++] = 0xff;
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_FORMERR);
}

static void test_question_pointer_loop_formerr(void)
{
	/* The question's name is a pointer to itself. */
	uint8_t q[] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	struct reply r;
	size_t n = dns_answer(test_model(), 0, q, sizeof(q), abuf, sizeof(abuf), false);
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_FORMERR);
	ASSERT_EQ(r.h.id, 0xabcd);
	ASSERT_EQ(r.h.qdcount, 0);
}

static void test_truncated_and_garbage_queries(void)
{
	const struct model *m = test_model();
	uint8_t q[512];
	size_t ql = build_query(q, sizeof(q), 9, "service-a.in.example.com", DNS_T_A, 1232);
	unsigned seed = 12345;

	/* Every prefix of a good query: dropped (no header) or FORMERR. */
	for (size_t len = 0; len < ql; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
		size_t n;
		struct reply r;
		memcpy(copy, q, len);
		n = dns_answer(m, 0, copy, len, abuf, sizeof(abuf), false);
		if (len < DNS_HDR_LEN) {
			ASSERT_EQ(n, 0);
		} else {
			ASSERT_TRUE(n > 0 && decode(abuf, n, &r));
			ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_FORMERR);
		}
		free(copy);
	}
	/* Random bytes and random mutations of the good query: never a crash,
	 * and every reply is a well-formed response. */
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % 80), n;
		uint8_t *copy = malloc(len ? len : 1);
		struct reply r;
		if (i % 2) {
			for (size_t k = 0; k < len; k++)
				copy[k] = (uint8_t)rand_r(&seed);
		} else {
			len = ql;
			free(copy);
			copy = malloc(len);
			memcpy(copy, q, len);
			for (int k = 0; k < 3; k++)
				copy[(size_t)rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		}
		n = dns_answer(m, 0, copy, len, abuf, sizeof(abuf), i % 3 == 0);
		if (n > 0) {
			ASSERT_TRUE(decode(abuf, n, &r));
			ASSERT_TRUE(r.h.flags & DNS_F_QR);
			ASSERT_TRUE(n <= (i % 3 == 0 ? 65535u : 1232u));
		}
		free(copy);
	}
}

static void test_edns(void)
{
	const struct model *m = test_model();
	struct reply r;
	size_t ql = build_query(qbuf, sizeof(qbuf), 5, "service-a.in.example.com", DNS_T_A, 4096);
	size_t n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(r.h.ancount, 3);
	ASSERT_EQ(r.h.arcount, 1);
	ASSERT_EQ(r.rr[3].type, DNS_T_OPT);
	ASSERT_STR_EQ(r.rr[3].name, ".");
	ASSERT_EQ(r.rr[3].cls, DNS_EDNS_OUR_SIZE);
	ASSERT_EQ(r.rr[3].ttl, 0);

	/* Version 1: BADVERS (16 = extended rcode 1, header rcode 0). */
	ql = build_query(qbuf, sizeof(qbuf), 5, "service-a.in.example.com", DNS_T_A, 4096);
	qbuf[ql - 5] = 1; /* the OPT TTL's version byte */
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(DNS_RCODE(r.h.flags), 0);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(r.h.arcount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_OPT);
	ASSERT_EQ(r.rr[0].ttl >> 24, 1);

	/* Two OPT records: FORMERR. */
	{
		struct dns_writer w;
		ql = build_query(qbuf, sizeof(qbuf), 5, "service-a.in.example.com", DNS_T_A, 4096);
		dns_writer_init(&w, qbuf, sizeof(qbuf));
		w.len = ql;
		dns_writer_opt(&w, 4096, 0);
		qbuf[11] = 2;
		n = dns_answer(m, 0, qbuf, w.len, abuf, sizeof(abuf), false);
		ASSERT_TRUE(decode(abuf, n, &r));
		ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_FORMERR);
	}
}

static void test_truncation(void)
{
	const struct model *m = test_model();
	struct reply r;
	size_t ql = build_query(qbuf, sizeof(qbuf), 3, "big.in.example.com", DNS_T_TXT, 0);
	size_t n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(n <= 512);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_TRUE(r.h.flags & DNS_F_TC);
	ASSERT_TRUE(r.h.flags & DNS_F_AA);
	ASSERT_EQ(r.h.qdcount, 1);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_STR_EQ(r.qname, "big.in.example.com.");

	/* Over TCP: the whole answer. */
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), true);
	ASSERT_TRUE(n > 512);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_TRUE(!(r.h.flags & DNS_F_TC));
	ASSERT_EQ(r.h.ancount, 1);

	/* Over UDP with EDNS 1232: fits. With EDNS 512: truncated, OPT kept. */
	ql = build_query(qbuf, sizeof(qbuf), 3, "big.in.example.com", DNS_T_TXT, 1232);
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_TRUE(!(r.h.flags & DNS_F_TC));
	ASSERT_EQ(r.h.ancount, 1);
	ql = build_query(qbuf, sizeof(qbuf), 3, "big.in.example.com", DNS_T_TXT, 512);
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_TRUE(r.h.flags & DNS_F_TC);
	ASSERT_EQ(r.h.ancount, 0);
	ASSERT_EQ(r.h.arcount, 1);

	/* A caller buffer smaller than the reply is respected even over TCP. */
	n = dns_answer(m, 0, qbuf, ql, abuf, 100, true);
	ASSERT_TRUE(n > 0 && n <= 100);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_TRUE(r.h.flags & DNS_F_TC);
}

static void test_vpc_host_names(void)
{
	struct reply r;
	const struct model *m = test_model();
	size_t ql, n;

	ask(&r, "5.1.77.127.in-addr.arpa", DNS_T_PTR);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].type, DNS_T_PTR);
	{
		struct dns_cursor c;
		uint8_t nm[DNS_NAME_MAX];
		char s[300];
		dns_cursor_init(&c, r.rr[0].rdata, r.rr[0].rdlen);
		ASSERT_TRUE(dns_cursor_name(&c, nm) > 0);
		dns_name_to_str(nm, s, sizeof(s));
		ASSERT_STR_EQ(s, "ip-10-0-1-5.ec2.internal.");
	}
	ask(&r, "IP-10-0-1-5.ec2.internal", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NOERROR);
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].a, NODE1);
	/* Outside the VPC, or not an address: not ours. */
	ask(&r, "ip-10-9-1-5.ec2.internal", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);
	ask(&r, "ip-10-0-1-256.ec2.internal", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);
	ask(&r, "ip-10-0-1.ec2.internal", DNS_T_A);
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);
	ask(&r, "5.1.78.127.in-addr.arpa", DNS_T_PTR); /* the other VPC's */
	ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_REFUSED);
	/* ...which its own resolver answers. */
	ql = build_query(qbuf, sizeof(qbuf), 1, "5.1.78.127.in-addr.arpa", DNS_T_PTR, 0);
	n = dns_answer(m, 1, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(r.h.ancount, 1);

	/* Other regions name hosts under <region>.compute.internal. */
	model.region = "eu-west-1";
	ql = build_query(qbuf, sizeof(qbuf), 1, "ip-10-0-2-5.eu-west-1.compute.internal", DNS_T_A,
			 0);
	n = dns_answer(m, 0, qbuf, ql, abuf, sizeof(abuf), false);
	ASSERT_TRUE(decode(abuf, n, &r));
	ASSERT_EQ(r.h.ancount, 1);
	ASSERT_EQ(r.rr[0].a, NODE2);
	model.region = NULL;
}

/* ---- the server ---- */

struct client {
	int udp_fd, tcp_fd;
	struct loop_io udp_io, tcp_io;
	uint8_t udp_reply[DNS_MSG_MAX];
	size_t udp_len;
	uint8_t tcp_buf[4096];
	size_t tcp_len;
	bool udp_done, tcp_eof;
	bool timed_out;
};

static void client_maybe_stop(struct loop *loop, struct client *c)
{
	if (c->udp_done && c->tcp_eof)
		loop_stop(loop);
}

static void on_client_udp(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct client *c = io->data;
	ssize_t n = recv(io->fd, c->udp_reply, sizeof(c->udp_reply), 0);
	(void)events;
	if (n > 0) {
		c->udp_len = (size_t)n;
		c->udp_done = true;
		loop_io_del(loop, io);
	}
	client_maybe_stop(loop, c);
}

static void on_client_tcp(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct client *c = io->data;
	ssize_t n = read(io->fd, c->tcp_buf + c->tcp_len, sizeof(c->tcp_buf) - c->tcp_len);
	(void)events;
	if (n > 0) {
		c->tcp_len += (size_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		c->tcp_eof = true;
		loop_io_del(loop, io);
	}
	client_maybe_stop(loop, c);
}

static void on_deadline(struct loop *loop, struct loop_timer *t)
{
	struct client *c = t->data;
	c->timed_out = true;
	loop_stop(loop);
}

static void test_server_udp_and_tcp(void)
{
	struct loop *loop = loop_new();
	const struct model *m = test_model();
	struct dns_server *s = dns_server_new(loop, m);
	struct client c = {.udp_fd = -1, .tcp_fd = -1};
	struct loop_timer deadline;
	uint32_t lo = 0x7f000001u;
	uint16_t port = 0;
	uint8_t q[512], frame[1024];
	size_t ql, fl = 0;
	struct sockaddr_in sa;
	struct reply r;

	ASSERT_TRUE(s != NULL);
	for (int i = 0; i < 50 && port == 0; i++) {
		uint16_t p = (uint16_t)(20000 + (getpid() * 7 + i * 131) % 40000);
		int err = dns_server_listen(s, lo, p);
		if (err == 0)
			port = p;
		else if (err != -EADDRINUSE)
			T_FAIL("listen: %d", err);
	}
	ASSERT_TRUE(port != 0);
	if (port == 0)
		goto out;

	/* UDP: one query. */
	c.udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sockaddr4_make(&sa, lo, port);
	ql = build_query(q, sizeof(q), 0x1111, "service-a.in.example.com", DNS_T_A, 0);
	ASSERT_EQ(sendto(c.udp_fd, q, ql, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)ql);
	ASSERT_EQ(loop_io_add(loop, &c.udp_io, c.udp_fd, EPOLLIN, on_client_udp, &c), 0);

	/* TCP: two pipelined queries in one write, split oddly, then the
	 * client closes its side; the server answers both and closes. */
	c.tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(connect(c.tcp_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ql = build_query(q, sizeof(q), 0x2222, "nope.in.example.com", DNS_T_A, 0);
	frame[fl++] = (uint8_t)(ql >> 8);
	frame[fl++] = (uint8_t)ql;
	memcpy(frame + fl, q, ql);
	fl += ql;
	ql = build_query(q, sizeof(q), 0x3333, "big.in.example.com", DNS_T_TXT, 0);
	frame[fl++] = (uint8_t)(ql >> 8);
	frame[fl++] = (uint8_t)ql;
	memcpy(frame + fl, q, ql);
	fl += ql;
	ASSERT_EQ(write(c.tcp_fd, frame, fl), (ssize_t)fl);
	shutdown(c.tcp_fd, SHUT_WR);
	sock_set_nonblock(c.tcp_fd);
	ASSERT_EQ(loop_io_add(loop, &c.tcp_io, c.tcp_fd, EPOLLIN, on_client_tcp, &c), 0);

	loop_timer_init(&deadline, on_deadline, &c);
	loop_timer_start(loop, &deadline, 3000);
	ASSERT_EQ(loop_run(loop), 0);
	loop_timer_stop(loop, &deadline);
	ASSERT_TRUE(!c.timed_out);

	ASSERT_TRUE(c.udp_done);
	ASSERT_TRUE(decode(c.udp_reply, c.udp_len, &r));
	ASSERT_EQ(r.h.id, 0x1111);
	ASSERT_EQ(r.h.ancount, 3);
	ASSERT_EQ(r.rr[2].a, NODE2);

	ASSERT_TRUE(c.tcp_eof);
	ASSERT_TRUE(c.tcp_len > 4);
	if (c.tcp_len > 4) {
		size_t l1 = (size_t)(c.tcp_buf[0] << 8 | c.tcp_buf[1]), l2;
		ASSERT_TRUE(2 + l1 + 2 <= c.tcp_len);
		ASSERT_TRUE(decode(c.tcp_buf + 2, l1, &r));
		ASSERT_EQ(r.h.id, 0x2222);
		ASSERT_EQ(DNS_RCODE(r.h.flags), DNS_R_NXDOMAIN);
		l2 = (size_t)(c.tcp_buf[2 + l1] << 8 | c.tcp_buf[3 + l1]);
		ASSERT_EQ(2 + l1 + 2 + l2, c.tcp_len);
		ASSERT_TRUE(decode(c.tcp_buf + 4 + l1, l2, &r));
		ASSERT_EQ(r.h.id, 0x3333);
		ASSERT_TRUE(!(r.h.flags & DNS_F_TC)); /* TCP: no 512 limit */
		ASSERT_EQ(r.h.ancount, 1);
		ASSERT_TRUE(l2 > 512);
	}

	/* The same port again: in use. */
	ASSERT_EQ(dns_server_listen(s, lo, port), -EADDRINUSE);
out:
	loop_io_del(loop, &c.udp_io);
	loop_io_del(loop, &c.tcp_io);
	if (c.udp_fd >= 0)
		close(c.udp_fd);
	if (c.tcp_fd >= 0)
		close(c.tcp_fd);
	dns_server_free(s);
	loop_free(loop);
}

/* A TCP client driven by the loop: stops the loop when one whole framed
 * reply is in, or when the server closes, or at its deadline. */
struct tcp_client {
	struct loop_io io;
	uint8_t buf[2048];
	size_t len;
	bool eof, timed_out;
};

static void on_tcp_client(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct tcp_client *c = io->data;
	ssize_t n = read(io->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	(void)events;
	if (n > 0)
		c->len += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		c->eof = true;
		loop_io_del(loop, io);
		loop_stop(loop);
		return;
	}
	if (c->len >= 2 && c->len >= 2 + (size_t)(c->buf[0] << 8 | c->buf[1]))
		loop_stop(loop);
}

static void on_tcp_deadline(struct loop *loop, struct loop_timer *t)
{
	struct tcp_client *c = t->data;
	if (c)
		c->timed_out = true;
	loop_stop(loop);
}

/* Runs the loop until the client stops it or ms pass. */
static void run_for(struct loop *loop, struct tcp_client *c, uint64_t ms)
{
	struct loop_timer t;
	loop_timer_init(&t, on_tcp_deadline, c);
	loop_timer_start(loop, &t, ms);
	loop_run(loop);
	loop_timer_stop(loop, &t);
}

static void test_server_tcp_split_frame_and_idle(void)
{
	struct loop *loop = loop_new();
	struct dns_server *s = dns_server_new(loop, test_model());
	struct tcp_client c = {0};
	uint32_t lo = 0x7f000001u;
	uint16_t port = 0;
	uint8_t q[512], frame[600];
	size_t ql, fl = 0;
	struct sockaddr_in sa;
	struct reply r;
	int fd = -1;
	uint64_t t0;

	dns_server_set_tcp_idle(s, 200);
	for (int i = 0; i < 50 && port == 0; i++) {
		uint16_t p = (uint16_t)(20000 + (getpid() * 13 + i * 257) % 40000);
		if (dns_server_listen(s, lo, p) == 0)
			port = p;
	}
	ASSERT_TRUE(port != 0);
	if (port == 0)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr4_make(&sa, lo, port);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sock_set_nonblock(fd);
	ASSERT_EQ(loop_io_add(loop, &c.io, fd, EPOLLIN, on_tcp_client, &c), 0);

	ql = build_query(q, sizeof(q), 0x4444, "service-a.in.example.com", DNS_T_A, 0);
	frame[fl++] = (uint8_t)(ql >> 8);
	frame[fl++] = (uint8_t)ql;
	memcpy(frame + fl, q, ql);
	fl += ql;
	/* One byte of the length, a pause, then the rest. */
	ASSERT_EQ(write(fd, frame, 1), 1);
	run_for(loop, NULL, 50);
	ASSERT_EQ(c.len, 0);
	ASSERT_EQ(write(fd, frame + 1, fl - 1), (ssize_t)(fl - 1));
	run_for(loop, &c, 2000);
	ASSERT_TRUE(!c.timed_out);
	ASSERT_TRUE(!c.eof);
	ASSERT_TRUE(c.len > 2 && decode(c.buf + 2, c.len - 2, &r));
	ASSERT_EQ(r.h.id, 0x4444);
	ASSERT_EQ(r.h.ancount, 3);

	/* Now idle: the server closes after about 200 ms. */
	t0 = loop_now_ms(loop);
	run_for(loop, &c, 3000);
	ASSERT_TRUE(c.eof);
	ASSERT_TRUE(!c.timed_out);
	ASSERT_TRUE(loop_now_ms(loop) - t0 >= 150);
out:
	loop_io_del(loop, &c.io);
	if (fd >= 0)
		close(fd);
	dns_server_free(s);
	loop_free(loop);
}

struct udp_client {
	struct loop_io io;
	uint8_t buf[DNS_MSG_MAX];
	size_t len;
};

static void on_udp_client(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct udp_client *c = io->data;
	ssize_t n = recv(io->fd, c->buf, sizeof(c->buf), 0);
	(void)events;
	if (n > 0) {
		c->len = (size_t)n;
		loop_stop(loop);
	}
}

/* Sends one UDP query for name A to addr:port and runs the loop until the
 * reply (or 2 s). Returns the rcode, or -1 without a reply. */
static int udp_ask(struct loop *loop, uint32_t addr, uint16_t port, const char *name)
{
	struct udp_client c = {0};
	struct sockaddr_in sa;
	uint8_t q[512];
	struct reply r;
	size_t ql = build_query(q, sizeof(q), 0x5555, name, DNS_T_A, 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc = -1;

	sockaddr4_make(&sa, addr, port);
	if (sendto(fd, q, ql, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)ql)
		goto out;
	if (loop_io_add(loop, &c.io, fd, EPOLLIN, on_udp_client, &c) < 0)
		goto out;
	run_for(loop, NULL, 2000);
	loop_io_del(loop, &c.io);
	if (c.len > 0 && decode(c.buf, c.len, &r))
		rc = DNS_RCODE(r.h.flags);
out:
	close(fd);
	return rc;
}

/* A resolver listening inside a VPC's loopback /16 answers for that VPC. */
static void test_server_vpc_by_address(void)
{
	struct loop *loop = loop_new();
	struct dns_server *s = dns_server_new(loop, test_model());
	uint32_t vpc0 = 0x7f4d0002u, vpc1 = 0x7f4e0002u; /* 127.77.0.2, 127.78.0.2 */
	uint16_t port = 0;

	for (int i = 0; i < 50 && port == 0; i++) {
		uint16_t p = (uint16_t)(20000 + (getpid() * 17 + i * 389) % 40000);
		if (dns_server_listen(s, vpc0, p) == 0) {
			if (dns_server_listen(s, vpc1, p) == 0)
				port = p;
			else { /* start over with both on a fresh port */
				dns_server_free(s);
				s = dns_server_new(loop, test_model());
			}
		}
	}
	ASSERT_TRUE(port != 0);
	if (port != 0) {
		ASSERT_EQ(udp_ask(loop, vpc0, port, "service-a.in.example.com"), DNS_R_NOERROR);
		/* Not visible to VPC 1: forwarded, and with no upstream that
		 * is SERVFAIL (never the private zone's answer). */
		ASSERT_EQ(udp_ask(loop, vpc1, port, "service-a.in.example.com"), DNS_R_SERVFAIL);
		/* The LB's name is public: both VPCs resolve it. */
		ASSERT_EQ(udp_ask(loop, vpc1, port, LB_NAME), DNS_R_NOERROR);
	}
	dns_server_free(s);
	loop_free(loop);
}

T_MAIN({
	T_RUN(test_name_text_roundtrip);
	T_RUN(test_name_too_long);
	T_RUN(test_compression_written_and_read);
	T_RUN(test_bad_pointers_refused);
	T_RUN(test_txt_encoding);
	T_RUN(test_cname_chased_to_lb);
	T_RUN(test_lb_name);
	T_RUN(test_nxdomain_has_soa);
	T_RUN(test_nodata_has_soa);
	T_RUN(test_a_record_mapped_to_loopback);
	T_RUN(test_alias_to_lb);
	T_RUN(test_apex_soa_ns);
	T_RUN(test_case_preserved);
	T_RUN(test_wildcard);
	T_RUN(test_cname_loop_bounded);
	T_RUN(test_mx);
	T_RUN(test_vpc_host_names);
	T_RUN(test_refused_and_errors);
	T_RUN(test_question_pointer_loop_formerr);
	T_RUN(test_truncated_and_garbage_queries);
	T_RUN(test_edns);
	T_RUN(test_truncation);
	T_RUN(test_server_udp_and_tcp);
	T_RUN(test_server_tcp_split_frame_and_idle);
	T_RUN(test_server_vpc_by_address);
})
