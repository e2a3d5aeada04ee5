/* The DNS plane beyond the basics: Route53 value syntax for every type
 * (rdata), routing policies (weighted, failover with LB health,
 * multivalue), the forwarder's pure parts (cache TTL, rewrite for the
 * client) and the forwarder on a real loop against a fake upstream, and
 * the malformed queries of tests/fuzz/regress/dns (FORMERR or dropped). */
#include "cfn_load.h"
#include "t.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfn/cfn.h"
#include "core/addr.h"
#include "core/loop.h"
#include "dns/answer.h"
#include "dns/forward.h"
#include "dns/rdata.h"
#include "dns/wire.h"
#include "model/model.h"

/* ---- helpers ---- */

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

/* The A addresses of a reply's answer section, in order; returns count. */
static size_t answer_addrs(const uint8_t *buf, size_t len, uint32_t *out, size_t cap, int *rcode)
{
	struct dns_cursor c;
	struct dns_header h;
	size_t n = 0;
	dns_cursor_init(&c, buf, len);
	dns_cursor_header(&c, &h);
	*rcode = DNS_RCODE(h.flags);
	dns_cursor_name(&c, NULL);
	dns_cursor_skip(&c, 4);
	for (size_t i = 0; i < h.ancount && !c.err; i++) {
		uint16_t type, rdlen;
		dns_cursor_name(&c, NULL);
		type = dns_cursor_u16(&c);
		dns_cursor_skip(&c, 6);
		rdlen = dns_cursor_u16(&c);
		if (type == DNS_T_A && rdlen == 4 && n < cap)
			out[n++] = dns_cursor_u32(&c);
		else
			dns_cursor_skip(&c, rdlen);
	}
	return c.err ? 0 : n;
}

/* ---- rdata ---- */

static void test_rdata_every_type(void)
{
	uint8_t b[512];
	const char *why = NULL;
	static const uint8_t caa[] = {0, 5, 'i', 's', 's', 'u', 'e', 'a', 'm', 'a', 'z',
				      'o', 'n', '.', 'c', 'o', 'm'};
	static const uint8_t ds[] = {0xec, 0x45, 5, 1, 0x2b, 0xb1};
	int n;

	ASSERT_EQ(dns_type_from_str("caa"), DNS_T_CAA);
	ASSERT_EQ(dns_type_from_str("NAPTR"), DNS_T_NAPTR);
	ASSERT_EQ(dns_type_from_str("SSHFP"), 0);

	ASSERT_EQ(dns_rdata_from_str(DNS_T_A, "10.0.1.9", b, sizeof(b), NULL), 4);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_AAAA, "2001:db8::1", b, sizeof(b), NULL), 16);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_CNAME, "x.example.com", b, sizeof(b), NULL), 15);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_MX, "10 mail.example.com.", b, sizeof(b), NULL),
		  2 + 18);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_SRV, "1 10 5269 xmpp.example.com", b, sizeof(b), NULL),
		  6 + 18);
	n = dns_rdata_from_str(DNS_T_CAA, "0 issue \"amazon.com\"", b, sizeof(b), NULL);
	ASSERT_EQ(n, (int)sizeof(caa));
	ASSERT_TRUE(n == (int)sizeof(caa) && memcmp(b, caa, sizeof(caa)) == 0);
	n = dns_rdata_from_str(DNS_T_DS, "60485 5 1 2BB1", b, sizeof(b), NULL);
	ASSERT_EQ(n, (int)sizeof(ds));
	ASSERT_TRUE(n == (int)sizeof(ds) && memcmp(b, ds, sizeof(ds)) == 0);
	n = dns_rdata_from_str(DNS_T_NAPTR, "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:i@x.com!\" .", b,
			       sizeof(b), NULL);
	ASSERT_EQ(n, 4 + 2 + 8 + 19 + 1);
	n = dns_rdata_from_str(DNS_T_SOA, "ns.x.com. h.x.com. 1 7200 900 1209600 86400", b,
			       sizeof(b), NULL);
	ASSERT_EQ(n, 10 + 9 + 20);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_SPF, "\"v=spf1 -all\"", b, sizeof(b), NULL), 12);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_TXT, "\"a b\" \"c\"", b, sizeof(b), NULL), 6);

	/* malformed values, each with a hint of the syntax */
	ASSERT_EQ(dns_rdata_from_str(DNS_T_MX, "mail.example.com", b, sizeof(b), &why), -1);
	ASSERT_STR_CONTAINS(why, "priority");
	ASSERT_EQ(dns_rdata_from_str(DNS_T_MX, "70000 mail.example.com", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_SRV, "1 10 mail.example.com", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_AAAA, "10.0.0.1", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_CAA, "0 is-sue \"x\"", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_CAA, "256 issue \"x\"", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_DS, "1 5 1 XYZ0", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_DS, "1 5 1", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_NAPTR, "100 10 U E2U \"x\" .", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_SOA, "ns.x.com. h.x.com. 1 2 3", b, sizeof(b), NULL),
		  -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_TXT, "\"unterminated", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_CNAME, "a..b", b, sizeof(b), NULL), -1);
	ASSERT_EQ(dns_rdata_from_str(DNS_T_CNAME, "a b", b, sizeof(b), NULL), -1);
}

/* ---- routing policies ---- */

static int zone_vpcs[] = {0};
static uint32_t nodes_good[] = {0x7f4d0104u}, nodes_bad[] = {0x7f4d0105u};
static struct model_vpc vpcs[1];
static struct model_zone zones[1];
static struct model_lb lbs[2];
static struct model_record recs[16];
static struct model model;
static size_t nrecs;

static void rec(const char *name, const char *value, int alias, enum model_routing pol,
		const char *set_id, int weight, bool primary)
{
	struct model_record *r = &recs[nrecs++];
	*r = (struct model_record){.zone = 0, .name = (char *)name, .type = "A", .ttl = 5,
				   .alias_lb = alias, .routing = pol, .set_id = (char *)set_id,
				   .weight = weight, .primary = primary, .eval_health = alias >= 0};
	if (value) {
		r->values[0] = (char *)value;
		r->nvalues = 1;
	}
}

static const struct model *policy_model(void)
{
	vpcs[0] = (struct model_vpc){.cidr = {0x0a000000u, 16}, .lo_base = 0x7f4d0000u};
	zones[0] = (struct model_zone){.id = "ZTEST", .name = "in.example.com.",
				       .private_zone = true, .vpcs = zone_vpcs, .nvpcs = 1};
	lbs[0] = (struct model_lb){.dns_name = "internal-good-1.us-east-1.elb.amazonaws.com",
				   .nsubnets = 1, .node_addrs = nodes_good};
	lbs[1] = (struct model_lb){.dns_name = "internal-bad-1.us-east-1.elb.amazonaws.com",
				   .nsubnets = 1, .node_addrs = nodes_bad};
	nrecs = 0;
	rec("w.in.example.com.", "10.0.9.1", -1, MODEL_ROUTING_WEIGHTED, "one", 1, false);
	rec("w.in.example.com.", "10.0.9.3", -1, MODEL_ROUTING_WEIGHTED, "three", 3, false);
	rec("w.in.example.com.", "10.0.9.250", -1, MODEL_ROUTING_WEIGHTED, "zero", 0, false);
	rec("fo.in.example.com.", NULL, 1, MODEL_ROUTING_FAILOVER, "p", 0, true);
	rec("fo.in.example.com.", NULL, 0, MODEL_ROUTING_FAILOVER, "s", 0, false);
	for (int i = 0; i < 10; i++) {
		static char vals[10][16], ids[10][8];
		snprintf(vals[i], sizeof(vals[i]), "10.0.8.%d", i + 1);
		snprintf(ids[i], sizeof(ids[i]), "m%d", i);
		rec("mv.in.example.com.", vals[i], -1, MODEL_ROUTING_MULTIVALUE, ids[i], 0, false);
	}
	model = (struct model){.vpcs = vpcs, .nvpcs = 1, .zones = zones, .nzones = 1,
			       .lbs = lbs, .nlbs = 2, .records = recs, .nrecords = nrecs};
	return &model;
}

static bool bad_lb_down;
static bool lb_healthy(void *data, int lb)
{
	(void)data;
	return !(lb == 1 && bad_lb_down);
}

static size_t ask_env(const struct dns_answer_env *env, const char *name, uint32_t *addrs,
		      size_t cap)
{
	static uint8_t q[512], out[4096];
	size_t ql = build_query(q, sizeof(q), 7, name, DNS_T_A, 0);
	size_t n = dns_answer_ex(policy_model(), NULL, 0, env, q, ql, out, sizeof(out), false, NULL);
	int rcode = -1;
	size_t k = n ? answer_addrs(out, n, addrs, cap, &rcode) : 0;
	ASSERT_EQ(rcode, DNS_R_NOERROR);
	return k;
}

static void test_weighted(void)
{
	uint32_t rng = 12345, a[8];
	struct dns_answer_env env = {.rng = &rng};
	int one = 0, three = 0, other = 0;
	for (int i = 0; i < 4000; i++) {
		size_t n = ask_env(&env, "w.in.example.com", a, 8);
		ASSERT_EQ(n, 1);
		if (n != 1)
			continue;
		if (a[0] == 0x7f4d0901u)
			one++;
		else if (a[0] == 0x7f4d0903u)
			three++;
		else
			other++;
	}
	ASSERT_EQ(other, 0); /* weight 0 never, while others weigh more */
	/* 1:3 of 4000: 1000 expected; sd ~27 */
	ASSERT_TRUE(one > 850 && one < 1150);
	ASSERT_EQ(one + three, 4000);
}

static void test_failover_follows_lb_health(void)
{
	uint32_t a[8];
	struct dns_answer_env env = {.lb_healthy = lb_healthy};
	bad_lb_down = false;
	ASSERT_EQ(ask_env(&env, "fo.in.example.com", a, 8), 1);
	ASSERT_EQ(a[0], nodes_bad[0]); /* PRIMARY (the "bad" LB, healthy now) */
	bad_lb_down = true;
	ASSERT_EQ(ask_env(&env, "fo.in.example.com", a, 8), 1);
	ASSERT_EQ(a[0], nodes_good[0]); /* SECONDARY */
	bad_lb_down = false;
	ASSERT_EQ(ask_env(&env, "fo.in.example.com", a, 8), 1);
	ASSERT_EQ(a[0], nodes_bad[0]); /* back */
}

static void test_multivalue(void)
{
	uint32_t rng = 99, a[16];
	struct dns_answer_env env = {.rng = &rng};
	bool differ = false;
	uint32_t first[8] = {0};
	for (int i = 0; i < 20; i++) {
		size_t n = ask_env(&env, "mv.in.example.com", a, 16);
		ASSERT_EQ(n, 8);
		for (size_t j = 0; j < n; j++)
			for (size_t k = j + 1; k < n; k++)
				ASSERT_TRUE(a[j] != a[k]);
		if (i == 0)
			memcpy(first, a, sizeof(first));
		else if (memcmp(first, a, sizeof(first)) != 0)
			differ = true;
	}
	ASSERT_TRUE(differ);
}

/* ---- the forwarder's pure parts ---- */

/* An upstream reply: question name, one A with ttl, or NXDOMAIN with an
 * SOA of the given TTL and minimum, plus an OPT. */
static size_t upstream_reply(uint8_t *buf, size_t cap, uint16_t id, const char *name, int rcode,
			     uint32_t ttl, uint32_t minimum)
{
	struct dns_writer w;
	uint8_t qn[DNS_NAME_MAX], z[DNS_NAME_MAX];
	struct dns_header h = {.id = id, .flags = DNS_F_QR | DNS_F_RD | DNS_F_RA | DNS_F_AA | rcode,
			       .qdcount = 1, .arcount = 1};
	dns_name_from_str(name, qn);
	dns_name_from_str("example.org", z);
	if (rcode == DNS_R_NOERROR)
		h.ancount = 1;
	else
		h.nscount = 1;
	dns_writer_init(&w, buf, cap);
	dns_writer_header(&w, &h);
	dns_writer_name_raw(&w, qn);
	dns_writer_u16(&w, DNS_T_A);
	dns_writer_u16(&w, DNS_C_IN);
	if (rcode == DNS_R_NOERROR)
		dns_writer_rr_a(&w, qn, ttl, 0xc0000207u);
	else
		dns_writer_rr_soa(&w, z, ttl, z, z, 1, 2, 3, 4, minimum);
	dns_writer_opt(&w, 4096, 0);
	return w.len;
}

static void test_cache_ttl(void)
{
	uint8_t b[512];
	size_t n = upstream_reply(b, sizeof(b), 1, "out.example.org", DNS_R_NOERROR, 300, 0);
	ASSERT_EQ(dns_forward_cache_ttl(b, n), 300);
	n = upstream_reply(b, sizeof(b), 1, "nx.example.org", DNS_R_NXDOMAIN, 3600, 60);
	ASSERT_EQ(dns_forward_cache_ttl(b, n), 60); /* RFC 2308: min(TTL, minimum) */
	n = upstream_reply(b, sizeof(b), 1, "nx.example.org", DNS_R_NXDOMAIN, 30, 600);
	ASSERT_EQ(dns_forward_cache_ttl(b, n), 30);
	n = upstream_reply(b, sizeof(b), 1, "nx.example.org", DNS_R_SERVFAIL, 30, 600);
	ASSERT_EQ(dns_forward_cache_ttl(b, n), 0);
	ASSERT_EQ(dns_forward_cache_ttl(b, 5), 0);
}

static void test_rewrite_for_client(void)
{
	uint8_t up[512], q[512], out[512];
	struct dns_query cq;
	struct dns_cursor c;
	struct dns_header h;
	uint8_t name[DNS_NAME_MAX];
	char s[300];
	size_t ql = build_query(q, sizeof(q), 0xbeef, "OUT.Example.org", DNS_T_A, 0);
	size_t un = upstream_reply(up, sizeof(up), 0x1111, "out.example.org", DNS_R_NOERROR, 300, 0);
	size_t n;

	ASSERT_EQ(dns_query_parse(q, ql, &cq), 0);
	n = dns_forward_rewrite(up, un, 100, &cq, false, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	dns_cursor_init(&c, out, n);
	dns_cursor_header(&c, &h);
	ASSERT_EQ(h.id, 0xbeef);
	ASSERT_TRUE(h.flags & DNS_F_RA);
	ASSERT_TRUE(!(h.flags & DNS_F_AA));
	ASSERT_EQ(h.arcount, 0); /* the client sent no EDNS: no OPT */
	dns_cursor_name(&c, name);
	dns_name_to_str(name, s, sizeof(s));
	ASSERT_STR_EQ(s, "OUT.Example.org.");
	dns_cursor_skip(&c, 4);
	dns_cursor_name(&c, NULL);
	dns_cursor_skip(&c, 4);
	ASSERT_EQ(dns_cursor_u32(&c), 200); /* aged by 100 s */
	/* another question's reply is refused */
	ql = build_query(q, sizeof(q), 0xbeef, "other.example.org", DNS_T_A, 0);
	ASSERT_EQ(dns_query_parse(q, ql, &cq), 0);
	ASSERT_EQ(dns_forward_rewrite(up, un, 0, &cq, false, out, sizeof(out)), 0);
}

/* ---- the forwarder on a loop, against a fake upstream ---- */

struct fake {
	struct loop *loop;
	struct loop_io io;
	int queries;
	bool silent;
};

static void fake_on_query(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct fake *f = io->data;
	uint8_t b[512], r[512];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(io->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
	struct dns_query q;
	char name[300];
	(void)loop;
	(void)events;
	if (n <= 0 || dns_query_parse(b, (size_t)n, &q) < 0)
		return;
	f->queries++;
	if (f->silent)
		return;
	dns_name_to_str(q.qname, name, sizeof(name));
	n = (ssize_t)upstream_reply(r, sizeof(r), q.hdr.id, name, DNS_R_NOERROR, 300, 0);
	sendto(io->fd, r, (size_t)n, 0, (struct sockaddr *)&from, fl);
}

static int replies;
static uint8_t last_reply[512];
static size_t last_len;

static void on_reply(void *data, const struct dns_fwd_client *cl, const uint8_t *reply, size_t len)
{
	struct loop *loop = data;
	(void)cl;
	replies++;
	last_len = len < sizeof(last_reply) ? len : sizeof(last_reply);
	memcpy(last_reply, reply, last_len);
	loop_stop(loop);
}

static void on_guard(struct loop *loop, struct loop_timer *t)
{
	(void)t;
	loop_stop(loop);
}

static void test_forward_cache_and_servfail(void)
{
	struct loop *loop = loop_new();
	struct fake fk = {.loop = loop};
	struct dns_forward *f = dns_forward_new(loop, on_reply, loop);
	struct loop_timer guard;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	uint8_t q[512], out[512];
	struct dns_query cq;
	struct dns_fwd_client cl = {.fd = -1};
	int fd = sock_listen4(0x7f000001u, 0, SOCK_DGRAM);
	size_t ql, n;
	uint32_t a[4];
	int rcode;

	ASSERT_TRUE(fd >= 0 && f);
	if (fd < 0 || !f)
		return;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	loop_io_add(loop, &fk.io, fd, EPOLLIN, fake_on_query, &fk);
	loop_timer_init(&guard, on_guard, NULL);
	ASSERT_EQ(dns_forward_add_upstream(f, 0x7f000001u, ntohs(sa.sin_port)), 0);
	ASSERT_EQ(dns_forward_add_upstream(f, 0x7f000001u, ntohs(sa.sin_port)), -EEXIST);

	ql = build_query(q, sizeof(q), 42, "out.example.org", DNS_T_A, 1232);
	dns_query_parse(q, ql, &cq);
	ASSERT_EQ(dns_forward_query(f, &cq, &cl, out, sizeof(out)), 0); /* pending */
	loop_timer_start(loop, &guard, 5000);
	loop_run(loop);
	ASSERT_EQ(replies, 1);
	ASSERT_EQ(fk.queries, 1);
	ASSERT_EQ(answer_addrs(last_reply, last_len, a, 4, &rcode), 1);
	ASSERT_EQ(a[0], 0xc0000207u);

	/* again: from the cache, at once, the upstream not asked */
	n = dns_forward_query(f, &cq, &cl, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(answer_addrs(out, n, a, 4, &rcode), 1);
	ASSERT_EQ(fk.queries, 1);
	ASSERT_EQ(dns_forward_stats(f)->hits, 1);

	/* a silent upstream: SERVFAIL within the deadline */
	fk.silent = true;
	ql = build_query(q, sizeof(q), 43, "slow.example.org", DNS_T_A, 0);
	dns_query_parse(q, ql, &cq);
	ASSERT_EQ(dns_forward_query(f, &cq, &cl, out, sizeof(out)), 0);
	loop_timer_start(loop, &guard, DNS_FWD_DEADLINE_MS + 3000);
	loop_run(loop);
	ASSERT_EQ(replies, 2);
	answer_addrs(last_reply, last_len, a, 4, &rcode);
	ASSERT_EQ(rcode, DNS_R_SERVFAIL);
	ASSERT_TRUE(fk.queries >= 2);

	/* cancelled questions never call back */
	cl.owner = &fk;
	ql = build_query(q, sizeof(q), 44, "gone.example.org", DNS_T_A, 0);
	dns_query_parse(q, ql, &cq);
	ASSERT_EQ(dns_forward_query(f, &cq, &cl, out, sizeof(out)), 0);
	dns_forward_cancel(f, &fk);
	ASSERT_EQ(replies, 2);

	loop_timer_stop(loop, &guard);
	loop_io_del(loop, &fk.io);
	close(fd);
	dns_forward_free(f);
	loop_free(loop);
}

static void test_no_upstream_servfail_at_once(void)
{
	struct loop *loop = loop_new();
	struct dns_forward *f = dns_forward_new(loop, on_reply, loop);
	uint8_t q[512], out[512];
	struct dns_query cq;
	struct dns_fwd_client cl = {.fd = -1};
	size_t ql = build_query(q, sizeof(q), 1, "x.example.org", DNS_T_A, 0), n;
	uint32_t a[1];
	int rcode = -1;
	dns_query_parse(q, ql, &cq);
	n = dns_forward_query(f, &cq, &cl, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	answer_addrs(out, n, a, 1, &rcode);
	ASSERT_EQ(rcode, DNS_R_SERVFAIL);
	dns_forward_free(f);
	loop_free(loop);
}

static void test_resolv_conf(void)
{
	char path[] = "/tmp/vpcd-test-resolv-XXXXXX";
	int fd = mkstemp(path);
	struct loop *loop = loop_new();
	struct dns_forward *f = dns_forward_new(loop, on_reply, loop);
	const char text[] = "# comment\nsearch example.com\nnameserver 127.0.0.53\n"
			    "nameserver ::1\nnameserver 127.77.0.2\nnameserver 10.0.0.2\n";
	uint32_t skip[] = {0x7f4d0002u};
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	/* IPv6 and our own address are left out */
	ASSERT_EQ(dns_forward_load_resolv_conf(f, path, skip, 1), 2);
	ASSERT_EQ(dns_forward_nupstreams(f), 2);
	ASSERT_EQ(dns_forward_load_resolv_conf(f, "/nonexistent/resolv.conf", NULL, 0), -ENOENT);
	unlink(path);
	dns_forward_free(f);
	loop_free(loop);
}

/* ---- malformed queries: FORMERR or dropped, each a regression input ---- */

static void test_regress_inputs(void)
{
	static const char *const files[] = {
	    "truncated-header-only", "truncated-mid-label",  "truncated-no-type",
	    "pointer-loop-self",     "pointer-loop-pair",    "pointer-out-of-bounds",
	    "label-over-63",	     "label-reserved-type",  "name-over-255",
	    "name-over-255-by-pointer", "counts-lie-answers", "counts-lie-questions",
	    "counts-lie-additional", "opt-truncated",	     "opt-rdlen-past-end",
	};
	static uint8_t in[70000], out[DNS_MSG_MAX];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[256];
		FILE *fp;
		size_t n;
		snprintf(path, sizeof(path), "tests/fuzz/regress/dns/%s", files[i]);
		fp = fopen(path, "rb");
		if (!fp) {
			T_FAIL("cannot open %s", path);
			continue;
		}
		n = fread(in, 1, sizeof(in), fp);
		fclose(fp);
		for (int tcp = 0; tcp < 2; tcp++) {
			size_t r = dns_answer(policy_model(), 0, in, n, out, sizeof(out), tcp);
			if (r == 0)
				continue; /* dropped */
			if (r < DNS_HDR_LEN || DNS_RCODE(out[3]) != DNS_R_FORMERR)
				T_FAIL("%s: reply of %zu bytes, rcode %d, not FORMERR", files[i], r,
				       r >= DNS_HDR_LEN ? DNS_RCODE(out[3]) : -1);
		}
	}
}

/* ---- cfn: record values, RecordSetGroup, routing properties ---- */

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("mystack", text, errs);
}

#define ZONE                                                                                       \
	"Resources:\n"                                                                             \
	"  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                       \
	"  Z: {Type: AWS::Route53::HostedZone, Properties: {Name: in.example.com, VPCs: "          \
	"[{VPCId: !Ref V, VPCRegion: us-east-1}]}}\n"

static void test_cfn_records(void)
{
	char *errs = NULL;
	struct model *m = load(ZONE
			       "  G:\n"
			       "    Type: AWS::Route53::RecordSetGroup\n"
			       "    Properties:\n"
			       "      HostedZoneId: !Ref Z\n"
			       "      RecordSets:\n"
			       "      - {Name: w.in.example.com, Type: A, TTL: 5, SetIdentifier: a, "
			       "Weight: 2, ResourceRecords: [10.0.0.1]}\n"
			       "      - {Name: w.in.example.com, Type: A, TTL: 5, SetIdentifier: b, "
			       "Weight: 0, ResourceRecords: [10.0.0.2]}\n"
			       "      - {Name: c.in.example.com, Type: CAA, TTL: 5, "
			       "ResourceRecords: ['0 issue \"amazon.com\"']}\n"
			       "  F:\n"
			       "    Type: AWS::Route53::RecordSet\n"
			       "    Properties: {HostedZoneName: in.example.com., Name: f.in.example.com, "
			       "Type: A, TTL: 5, SetIdentifier: p, Failover: PRIMARY, ResourceRecords: "
			       "[10.0.0.3]}\n",
			       &errs);
	ASSERT_STR_EQ(errs, "");
	ASSERT_TRUE(m != NULL);
	if (m) {
		ASSERT_EQ(m->nrecords, 4);
		ASSERT_EQ(m->records[0].routing, MODEL_ROUTING_WEIGHTED);
		ASSERT_EQ(m->records[0].weight, 2);
		ASSERT_STR_EQ(m->records[1].set_id, "b");
		ASSERT_EQ(m->records[2].routing, MODEL_ROUTING_SIMPLE);
		ASSERT_EQ(m->records[3].routing, MODEL_ROUTING_FAILOVER);
		ASSERT_TRUE(m->records[3].primary);
		model_free(m);
	}
	free(errs);

	errs = NULL;
	m = load(ZONE "  R:\n"
		      "    Type: AWS::Route53::RecordSet\n"
		      "    Properties: {HostedZoneId: !Ref Z, Name: mx.in.example.com, Type: MX, "
		      "TTL: 5, ResourceRecords: [mail.example.com]}\n"
		      "  W:\n"
		      "    Type: AWS::Route53::RecordSet\n"
		      "    Properties: {HostedZoneId: !Ref Z, Name: w.in.example.com, Type: A, "
		      "TTL: 5, Weight: 300, ResourceRecords: [10.0.0.1]}\n",
		 &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "t.yaml:6:101: error: ");
	ASSERT_STR_CONTAINS(errs, "Resources.R.Properties.ResourceRecords[0]: a MX record's value "
				  "must be a priority and a domain name");
	ASSERT_STR_CONTAINS(errs, "Resources.W.Properties.Weight");
	ASSERT_STR_CONTAINS(errs, "needs SetIdentifier");
	model_free(m);
	free(errs);
}

int main(int argc, char **argv)
{
	t_argc = argc;
	t_argv = argv;
	T_RUN(test_rdata_every_type);
	T_RUN(test_weighted);
	T_RUN(test_failover_follows_lb_health);
	T_RUN(test_multivalue);
	T_RUN(test_cache_ttl);
	T_RUN(test_rewrite_for_client);
	T_RUN(test_forward_cache_and_servfail);
	T_RUN(test_no_upstream_servfail_at_once);
	T_RUN(test_resolv_conf);
	T_RUN(test_regress_inputs);
	T_RUN(test_cfn_records);
	return t_failures ? 1 : 0;
}
