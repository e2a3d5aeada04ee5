/*
 * Answering queries from the model, as the VPC resolver (AmazonProvidedDNS)
 * does: private zones visible to the asking VPC (most specific zone wins),
 * Route53's automatic SOA and NS at each apex, record sets and alias records,
 * load balancer names resolving to their nodes, CNAME chains chased inside
 * what we know, RFC 2308 negative answers, RFC 4592 wildcards, EDNS0 and
 * truncation. Pure: the reply is a function of the query and the model.
 */
#include "dns/answer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "dns/index.h"
#include "dns/rdata.h"
#include "dns/wire.h"

#define CHASE_MAX 8
#define LB_TTL 60
#define SOA_TTL 900
#define SOA_REFRESH 7200
#define SOA_RETRY 900
#define SOA_EXPIRE 1209600
#define SOA_MINIMUM 86400
#define NS_TTL 172800
#define OPT_LEN 11
#define HOST_TTL 60

struct answer {
	const struct model *m;
	const struct dns_index *ix;
	int vpc;
	const struct dns_answer_env *env;
	struct dns_writer w;
	uint16_t ancount, nscount;
	uint16_t flags;
	int rcode;
	bool forward; /* the question is not ours: ask upstream */
	bool chase;   /* our CNAME chain leaves what we know: ask upstream for its end */
	uint8_t chase_name[DNS_NAME_MAX];
};

static bool zone_visible(const struct model_zone *z, int vpc)
{
	/* A public zone in the template would be answered by public DNS,
	 * which we stand in for; so it is visible to every VPC. */
	if (!z->private_zone)
		return true;
	for (size_t i = 0; i < z->nvpcs; i++)
		if (z->vpcs[i] == vpc)
			return true;
	return false;
}

/* The most specific zone visible to vpc that holds name, or -1. */
static int find_zone(const struct answer *a, int vpc, const uint8_t *name, uint8_t *apex)
{
	const struct model *m = a->m;
	int best = -1;
	size_t best_labels = 0;
	for (size_t i = 0; i < m->nzones; i++) {
		const uint8_t *z = dns_index_zone_name(a->ix, i);
		size_t l;
		if (!z || !zone_visible(&m->zones[i], vpc))
			continue;
		if (!dns_name_is_sub(name, z))
			continue;
		l = dns_name_labels(z);
		if (best < 0 || l > best_labels) {
			best = (int)i;
			best_labels = l;
			memcpy(apex, z, dns_name_len(z));
		}
	}
	return best;
}

/* Does name own anything in zone z: the apex, a record set, or (as an
 * empty non-terminal) a name below it? */
static bool name_exists(const struct answer *a, int z, const uint8_t *apex, const uint8_t *name)
{
	return dns_name_eq(name, apex) || dns_index_find(a->ix, z, name) != NULL;
}

/* The record sets at name in zone z (none: NULL or nrec 0). */
static const struct dns_index_node *records_at(const struct answer *a, int z,
					       const uint8_t *name)
{
	return dns_index_find(a->ix, z, name);
}

/* Route53's private zones all carry the same reserved name servers; public
 * zones get four derived from the zone id, in the awsdns style. */
static void zone_ns(const struct model_zone *z, int k, uint8_t *out)
{
	static const char *tld[4] = {"com", "net", "org", "co.uk"};
	char s[64];
	if (z->private_zone) {
		snprintf(s, sizeof(s), "ns-%d.awsdns-00.%s", k * 512, tld[k]);
	} else {
		uint32_t h = 2166136261u; /* FNV-1a */
		for (const char *p = z->id ? z->id : ""; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		snprintf(s, sizeof(s), "ns-%u.awsdns-%02u.%s", k * 512 + (h >> (k * 8)) % 512,
			 (h >> 4) % 64, tld[k]);
	}
	dns_name_from_str(s, out);
}

static void add_soa(struct answer *a, const struct model_zone *z, const uint8_t *apex,
		    uint32_t ttl, bool authority)
{
	uint8_t mname[DNS_NAME_MAX], rname[DNS_NAME_MAX];
	/* Observed in private zones: the SOA names the .co.uk server. */
	zone_ns(z, z->private_zone ? 3 : 0, mname);
	dns_name_from_str("awsdns-hostmaster.amazon.com", rname);
	dns_writer_rr_soa(&a->w, apex, ttl, mname, rname, 1, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE,
			  SOA_MINIMUM);
	if (authority)
		a->nscount++;
	else
		a->ancount++;
}

static void add_negative(struct answer *a, int z, const uint8_t *apex)
{
	uint32_t ttl = SOA_TTL < SOA_MINIMUM ? SOA_TTL : SOA_MINIMUM; /* RFC 2308 */
	add_soa(a, &a->m->zones[z], apex, ttl, true);
}

static size_t add_lb_addrs(struct answer *a, int lb, const uint8_t *owner)
{
	const struct model_lb *l = &a->m->lbs[lb];
	size_t n = 0;
	for (size_t i = 0; i < l->nsubnets && l->node_addrs; i++, n++)
		dns_writer_rr_a(&a->w, owner, LB_TTL, l->node_addrs[i]);
	a->ancount = (uint16_t)(a->ancount + n);
	return n;
}

/* An A value in the VPC's address space stands for its loopback mapping. */
static uint32_t map_addr(const struct answer *a, int z, uint32_t addr)
{
	const struct model *m = a->m;
	if (a->vpc >= 0 && (size_t)a->vpc < m->nvpcs && cidr4_contains(m->vpcs[a->vpc].cidr, addr))
		return model_vpc_map(m, a->vpc, addr);
	for (size_t i = 0; i < m->zones[z].nvpcs; i++) {
		int v = m->zones[z].vpcs[i];
		if (v >= 0 && (size_t)v < m->nvpcs && cidr4_contains(m->vpcs[v].cidr, addr))
			return model_vpc_map(m, v, addr);
	}
	return addr;
}

/* Writes the values of record set i under owner (only value `only`, when
 * not -1); returns how many. */
static size_t add_record(struct answer *a, int z, size_t i, const uint8_t *owner, int only)
{
	const struct model_record *r = &a->m->records[i];
	uint16_t type = dns_index_type(a->ix, i);
	size_t n = 0;

	if (r->alias_lb >= 0) {
		if (type == DNS_T_A && (size_t)r->alias_lb < a->m->nlbs)
			return add_lb_addrs(a, r->alias_lb, owner);
		return 0; /* no IPv6 nodes: an AAAA alias has nothing to say */
	}
	for (size_t k = 0; k < r->nvalues && k < MODEL_MAX_VALUES; k++) {
		const char *v = r->values[k];
		uint8_t name[DNS_NAME_MAX], ip6[16];
		uint32_t ip;
		unsigned p1, p2, p3;
		char host[256];
		if (!v || (only >= 0 && (size_t)only != k))
			continue;
		switch (type) {
		case DNS_T_A:
			if (!dns_index_a(a->ix, i, k, &ip)) /* parsed once, in the index */
				continue;
			dns_writer_rr_a(&a->w, owner, r->ttl, map_addr(a, z, ip));
			break;
		case DNS_T_AAAA:
			if (inet_pton(AF_INET6, v, ip6) != 1)
				continue;
			dns_writer_rr_aaaa(&a->w, owner, r->ttl, ip6);
			break;
		case DNS_T_CNAME:
		case DNS_T_NS:
		case DNS_T_PTR:
			if (dns_name_from_str(v, name) < 0)
				continue;
			dns_writer_rr_name(&a->w, owner, type, r->ttl, name);
			break;
		case DNS_T_MX:
			if (sscanf(v, "%u %255s", &p1, host) != 2 || p1 > 65535 ||
			    dns_name_from_str(host, name) < 0)
				continue;
			dns_writer_rr_mx(&a->w, owner, r->ttl, (uint16_t)p1, name);
			break;
		case DNS_T_SRV:
			if (sscanf(v, "%u %u %u %255s", &p1, &p2, &p3, host) != 4 || p1 > 65535 ||
			    p2 > 65535 || p3 > 65535 || dns_name_from_str(host, name) < 0)
				continue;
			dns_writer_rr_srv(&a->w, owner, r->ttl, (uint16_t)p1, (uint16_t)p2,
					  (uint16_t)p3, name);
			break;
		case DNS_T_TXT:
			if (dns_writer_rr_txt(&a->w, owner, r->ttl, v) < 0)
				continue;
			break;
		default: {
			uint8_t rd[1024];
			int len = dns_rdata_from_str(type, v, rd, sizeof(rd), NULL);
			if (len < 0)
				continue;
			dns_writer_rr_raw(&a->w, owner, type, r->ttl, rd, (size_t)len);
			break;
		}
		}
		n++;
	}
	a->ancount = (uint16_t)(a->ancount + n);
	return n;
}

/* ---- routing policies ---- */

static uint32_t rnd(struct answer *a)
{
	static uint32_t fixed = 2463534242u; /* without a caller's state */
	uint32_t *st = a->env && a->env->rng ? a->env->rng : &fixed;
	uint32_t x = *st ? *st : 2463534242u;
	x ^= x << 13; /* xorshift32 */
	x ^= x >> 17;
	x ^= x << 5;
	*st = x;
	return x;
}

/* A record set's health: an alias with EvaluateTargetHealth follows its
 * load balancer's; HealthCheckId is not evaluated, so the rest are
 * healthy. */
static bool set_healthy(const struct answer *a, size_t i)
{
	const struct model_record *r = &a->m->records[i];
	if (r->alias_lb < 0 || !r->eval_health || !a->env || !a->env->lb_healthy)
		return true;
	return a->env->lb_healthy(a->env->data, r->alias_lb);
}

#define GROUP_MAX 256

/* The record sets of type t at node at that carry a SetIdentifier. */
static size_t group_of(const struct answer *a, const struct dns_index_node *at, uint16_t t,
		       int *idx)
{
	const struct model *m = a->m;
	size_t n = 0;
	for (size_t k = 0; at && k < at->nrec && n < GROUP_MAX; k++) {
		int i = at->recs[k];
		if (m->records[i].set_id && dns_index_type(a->ix, (size_t)i) == t)
			idx[n++] = i;
	}
	return n;
}

/* Which one of a weighted or failover group answers (latency and the other
 * policies: the first, as with one region). */
static int pick_set(struct answer *a, const int *idx, size_t n)
{
	const struct model *m = a->m;
	enum model_routing pol = m->records[idx[0]].routing;
	int cand[GROUP_MAX];
	size_t nc = 0;
	uint32_t sum = 0, r;

	if (pol == MODEL_ROUTING_FAILOVER) {
		int pri = -1, sec = -1;
		for (size_t k = 0; k < n; k++) {
			if (m->records[idx[k]].primary && pri < 0)
				pri = idx[k];
			else if (!m->records[idx[k]].primary && sec < 0)
				sec = idx[k];
		}
		/* PRIMARY while healthy, else a healthy SECONDARY, else the
		 * PRIMARY regardless. */
		if (pri >= 0 && set_healthy(a, (size_t)pri))
			return pri;
		if (sec >= 0 && set_healthy(a, (size_t)sec))
			return sec;
		return pri >= 0 ? pri : sec;
	}
	if (pol != MODEL_ROUTING_WEIGHTED)
		return idx[0];
	for (size_t k = 0; k < n; k++)
		if (set_healthy(a, (size_t)idx[k]))
			cand[nc++] = idx[k];
	if (nc == 0) { /* all unhealthy: as if all were healthy */
		memcpy(cand, idx, n * sizeof(*idx));
		nc = n;
	}
	for (size_t k = 0; k < nc; k++)
		sum += (uint32_t)m->records[cand[k]].weight;
	if (sum == 0) /* all zero: equal chances */
		return cand[rnd(a) % nc];
	r = rnd(a) % sum;
	for (size_t k = 0; k < nc; k++) {
		uint32_t w = (uint32_t)m->records[cand[k]].weight;
		if (r < w)
			return cand[k];
		r -= w;
	}
	return cand[nc - 1];
}

/* Multivalue answer: up to 8 values of the healthy sets, chosen at random
 * (of all sets when none is healthy). */
static void add_multivalue(struct answer *a, int z, const int *idx, size_t n,
			   const uint8_t *owner)
{
	const struct model *m = a->m;
	struct {
		int rec, val;
	} v[GROUP_MAX];
	size_t nv = 0;
	for (int pass = 0; pass < 2 && nv == 0; pass++)
		for (size_t k = 0; k < n; k++) {
			if (pass == 0 && !set_healthy(a, (size_t)idx[k]))
				continue;
			for (size_t j = 0; j < m->records[idx[k]].nvalues && nv < GROUP_MAX; j++) {
				v[nv].rec = idx[k];
				v[nv++].val = (int)j;
			}
		}
	for (size_t k = 0; k < nv && k < 8; k++) {
		size_t j = k + rnd(a) % (nv - k);
		int r0 = v[k].rec, v0 = v[k].val;
		v[k] = v[j];
		v[j].rec = r0;
		v[j].val = v0;
		add_record(a, z, (size_t)v[k].rec, owner, v[k].val);
	}
}

/* Answers the routing group (record sets with a SetIdentifier) of type t
 * at node at by its policy. */
static void add_group(struct answer *a, int z, const struct dns_index_node *at, uint16_t t,
		      const uint8_t *owner)
{
	const struct model *m = a->m;
	int idx[GROUP_MAX];
	size_t n = group_of(a, at, t, idx);
	if (n == 0)
		return;
	if (m->records[idx[0]].routing == MODEL_ROUTING_MULTIVALUE)
		add_multivalue(a, z, idx, n, owner);
	else
		add_record(a, z, (size_t)pick_set(a, idx, n), owner, -1);
}

/* The CNAME record set at node at that answers (weighted and failover
 * CNAMEs pick one), or -1. */
static int find_cname(struct answer *a, const struct dns_index_node *at)
{
	const struct model *m = a->m;
	int idx[GROUP_MAX];
	size_t n = group_of(a, at, DNS_T_CNAME, idx);
	if (n > 0)
		return pick_set(a, idx, n);
	for (size_t k = 0; at && k < at->nrec; k++) {
		int i = at->recs[k];
		if (dns_index_type(a->ix, (size_t)i) == DNS_T_CNAME && m->records[i].alias_lb < 0 &&
		    m->records[i].nvalues > 0)
			return i;
	}
	return -1;
}

/* RFC 4592: the wildcard that may answer for name, which does not exist:
 * "*." + its closest encloser, into src, its record sets into *atp.
 * Returns false when there is none. */
static bool find_wildcard(const struct answer *a, int z, const uint8_t *apex, const uint8_t *name,
			  uint8_t *src, const struct dns_index_node **atp)
{
	size_t ln = dns_name_labels(name), la = dns_name_labels(apex);
	for (size_t k = 1; k <= ln - la; k++) {
		const uint8_t *ce = dns_name_skip(name, k);
		const struct dns_index_node *at;
		size_t cl;
		if (!name_exists(a, z, apex, ce))
			continue;
		cl = dns_name_len(ce);
		if (cl + 2 > DNS_NAME_MAX)
			return false;
		src[0] = 1;
		src[1] = '*';
		memcpy(src + 2, ce, cl);
		at = records_at(a, z, src);
		*atp = at;
		return at && at->nrec > 0;
	}
	return false;
}

/* ---- the VPC's own host names (ip-10-0-1-5.ec2.internal) ---- */

/* The private DNS domain of the model's region, as EC2 names hosts. */
static void host_domain(const struct model *m, uint8_t *out)
{
	char s[96];
	if (!m->region || strcmp(m->region, "us-east-1") == 0)
		snprintf(s, sizeof(s), "ec2.internal");
	else
		snprintf(s, sizeof(s), "%.60s.compute.internal", m->region);
	if (dns_name_from_str(s, out) < 0)
		dns_name_from_str("ec2.internal", out);
}

/* Parses a decimal 0..255 of exactly len bytes. */
static int parse_octet(const uint8_t *p, size_t len)
{
	int v = 0;
	if (len == 0 || len > 3 || (len > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v > 255 ? -1 : v;
}

/* The VPC-space address that a loopback address of the asking VPC stands
 * for; false when it is not one of them. */
static bool lo_to_vpc(const struct answer *a, uint32_t lo, uint32_t *vaddr)
{
	const struct model_vpc *v;
	if (a->vpc < 0 || (size_t)a->vpc >= a->m->nvpcs)
		return false;
	v = &a->m->vpcs[a->vpc];
	if ((lo & 0xffff0000u) != (v->lo_base & 0xffff0000u))
		return false;
	*vaddr = (v->cidr.addr & 0xffff0000u) | (lo & 0xffffu);
	return cidr4_contains(v->cidr, *vaddr);
}

/* d.c.b.a.in-addr.arpa -> a.b.c.d */
static bool parse_reverse(const uint8_t *name, uint32_t *addr)
{
	uint8_t arpa[DNS_NAME_MAX];
	uint32_t v = 0;
	if (dns_name_labels(name) != 6)
		return false;
	dns_name_from_str("in-addr.arpa", arpa);
	if (!dns_name_eq(dns_name_skip(name, 4), arpa))
		return false;
	for (int k = 0; k < 4; k++) {
		int o = parse_octet(name + 1, *name);
		if (o < 0)
			return false;
		v |= (uint32_t)o << (8 * k);
		name += 1 + *name;
	}
	*addr = v;
	return true;
}

/* ip-a-b-c-d.<domain> -> a.b.c.d */
static bool parse_host(const struct model *m, const uint8_t *name, uint32_t *addr)
{
	uint8_t dom[DNS_NAME_MAX];
	const uint8_t *p = name + 1;
	size_t l = *name, i = 3;
	uint32_t v = 0;
	host_domain(m, dom);
	if (l < 10 || !dns_name_eq(dns_name_skip(name, 1), dom) ||
	    (p[0] | 0x20) != 'i' || (p[1] | 0x20) != 'p' || p[2] != '-')
		return false;
	for (int k = 0; k < 4; k++) {
		size_t j = i;
		int o;
		while (j < l && p[j] != '-')
			j++;
		if ((k < 3) != (j < l))
			return false;
		o = parse_octet(p + i, j - i);
		if (o < 0)
			return false;
		v = v << 8 | (uint32_t)o;
		i = j + 1;
	}
	*addr = v;
	return true;
}

/* Answers the names the VPC resolver makes up for the VPC's addresses:
 * PTR for any address of the asking VPC (seen on loopback), and the A of
 * its ip-a-b-c-d host name. Returns false when name is not one of them. */
static bool answer_host_names(struct answer *a, const uint8_t *name, uint16_t qtype)
{
	uint32_t addr, vaddr;
	const struct model_vpc *v;

	if (parse_reverse(name, &addr) && lo_to_vpc(a, addr, &vaddr)) {
		if (qtype == DNS_T_PTR || qtype == DNS_T_ANY) {
			uint8_t host[DNS_NAME_MAX], dom[DNS_NAME_MAX];
			char label[32];
			int n = snprintf(label, sizeof(label), "ip-%u-%u-%u-%u", vaddr >> 24,
					 vaddr >> 16 & 0xff, vaddr >> 8 & 0xff, vaddr & 0xff);
			size_t dl;
			host_domain(a->m, dom);
			dl = dns_name_len(dom);
			if (n <= 0 || (size_t)n + 1 + dl > DNS_NAME_MAX)
				return true;
			host[0] = (uint8_t)n;
			memcpy(host + 1, label, (size_t)n);
			memcpy(host + 1 + n, dom, dl);
			dns_writer_rr_name(&a->w, name, DNS_T_PTR, HOST_TTL, host);
			a->ancount++;
		}
		return true;
	}
	if (a->vpc < 0 || (size_t)a->vpc >= a->m->nvpcs || !parse_host(a->m, name, &vaddr))
		return false;
	v = &a->m->vpcs[a->vpc];
	if (!cidr4_contains(v->cidr, vaddr))
		return false;
	if (qtype == DNS_T_A || qtype == DNS_T_ANY) {
		dns_writer_rr_a(&a->w, name, HOST_TTL, model_vpc_map(a->m, a->vpc, vaddr));
		a->ancount++;
	}
	return true;
}

/* Answers qname/qtype into a, chasing CNAMEs. */
static void resolve(struct answer *a, const uint8_t *qname, uint16_t qtype)
{
	const struct model *m = a->m;
	uint8_t cur[DNS_NAME_MAX], next[DNS_NAME_MAX], apex[DNS_NAME_MAX], src[DNS_NAME_MAX];
	const uint8_t *name = qname;

	for (int hop = 0; hop <= CHASE_MAX; hop++) {
		int lb = dns_index_find_lb(a->ix, name), z, cn;
		const struct dns_index_node *at;
		size_t before;

		if (lb >= 0) {
			/* Not our zone: public ELB DNS, answered as a recursive
			 * resolver would, without AA. */
			if (qtype == DNS_T_A || qtype == DNS_T_ANY)
				add_lb_addrs(a, lb, name);
			return;
		}
		z = find_zone(a, a->vpc, name, apex);
		if (z < 0 && answer_host_names(a, name, qtype))
			return;
		if (z < 0) {
			if (hop == 0) {
				a->rcode = DNS_R_REFUSED;
				a->forward = true;
			} else { /* a chain leaving what we know goes on upstream */
				a->chase = true;
				memcpy(a->chase_name, name, dns_name_len(name));
			}
			return;
		}
		if (hop == 0)
			a->flags |= DNS_F_AA;
		/* The record sets at name, or at the wildcard standing for it. */
		at = records_at(a, z, name);
		if (!at && !dns_name_eq(name, apex)) { /* name does not exist */
			if (!find_wildcard(a, z, apex, name, src, &at)) {
				a->rcode = DNS_R_NXDOMAIN;
				add_negative(a, z, apex);
				return;
			}
		}
		cn = find_cname(a, at);
		if (cn >= 0 && qtype != DNS_T_CNAME && qtype != DNS_T_ANY) {
			if (dns_name_from_str(m->records[cn].values[0], next) < 0)
				return;
			dns_writer_rr_name(&a->w, name, DNS_T_CNAME, m->records[cn].ttl, next);
			a->ancount++;
			memcpy(cur, next, dns_name_len(next));
			name = cur;
			continue;
		}
		before = a->ancount;
		if (dns_name_eq(name, apex)) {
			if (qtype == DNS_T_SOA || qtype == DNS_T_ANY)
				add_soa(a, &m->zones[z], apex, SOA_TTL, false);
			if (qtype == DNS_T_NS || qtype == DNS_T_ANY) {
				uint8_t ns[DNS_NAME_MAX];
				for (int k = 0; k < 4; k++) {
					zone_ns(&m->zones[z], k, ns);
					dns_writer_rr_name(&a->w, name, DNS_T_NS, NS_TTL, ns);
					a->ancount++;
				}
			}
		}
		for (size_t k = 0; at && k < at->nrec; k++) {
			size_t i = (size_t)at->recs[k];
			uint16_t t = dns_index_type(a->ix, i);
			bool seen = false;
			/* The apex SOA and NS are Route53's own, written above. */
			if ((t == DNS_T_SOA || t == DNS_T_NS) && dns_name_eq(name, apex))
				continue;
			if (t == 0 || (t != qtype && qtype != DNS_T_ANY))
				continue;
			if (!m->records[i].set_id) {
				add_record(a, z, i, name, -1);
				continue;
			}
			for (size_t j = 0; j < k && !seen; j++) { /* each group once */
				size_t o = (size_t)at->recs[j];
				seen = m->records[o].set_id && dns_index_type(a->ix, o) == t;
			}
			if (!seen)
				add_group(a, z, at, t, name);
		}
		if (a->ancount == before)
			add_negative(a, z, apex); /* NODATA */
		return;
	}
}

/* Header + question (+ OPT): the whole reply for errors and truncation. */
static size_t reply_short(struct answer *a, const struct dns_query *q, bool with_question,
			  size_t limit)
{
	struct dns_header h = {
		.id = q->hdr.id,
		.flags = (uint16_t)(a->flags | (a->rcode & 0xf)),
		.qdcount = with_question ? 1 : 0,
		.arcount = q->edns.present ? 1 : 0,
	};
	dns_writer_init(&a->w, a->w.buf, limit);
	dns_writer_header(&a->w, &h);
	if (with_question) {
		dns_writer_name(&a->w, q->qname);
		dns_writer_u16(&a->w, q->qtype);
		dns_writer_u16(&a->w, q->qclass);
	}
	if (q->edns.present)
		dns_writer_opt_do(&a->w, DNS_EDNS_OUR_SIZE, (uint8_t)(a->rcode >> 4),
				  q->edns.do_bit);
	return a->w.err ? 0 : a->w.len;
}

size_t dns_answer(const struct model *m, int vpc, const uint8_t *q, size_t qlen, uint8_t *out,
		  size_t cap, bool tcp)
{
	return dns_answer_ex(m, NULL, vpc, NULL, q, qlen, out, cap, tcp, NULL);
}

static size_t answer_indexed(const struct model *m, const struct dns_index *ix, int vpc,
			     const struct dns_answer_env *env, const uint8_t *q, size_t qlen,
			     uint8_t *out, size_t cap, bool tcp, struct dns_fwd_req *fwd);

size_t dns_answer_ex(const struct model *m, const struct dns_index *ix, int vpc,
		     const struct dns_answer_env *env, const uint8_t *q, size_t qlen, uint8_t *out,
		     size_t cap, bool tcp, struct dns_fwd_req *fwd)
{
	struct dns_index *own;
	size_t r;
	if (ix)
		return answer_indexed(m, ix, vpc, env, q, qlen, out, cap, tcp, fwd);
	own = dns_index_new(m); /* once per call: for tests and tools */
	if (!own)
		return 0;
	r = answer_indexed(m, own, vpc, env, q, qlen, out, cap, tcp, fwd);
	dns_index_free(own);
	return r;
}

static size_t answer_indexed(const struct model *m, const struct dns_index *ix, int vpc,
			     const struct dns_answer_env *env, const uint8_t *q, size_t qlen,
			     uint8_t *out, size_t cap, bool tcp, struct dns_fwd_req *fwd)
{
	struct dns_query query;
	struct answer a = {.m = m, .ix = ix, .vpc = vpc, .env = env};
	size_t limit;
	int rc;

	if (qlen < DNS_HDR_LEN || (q[2] & 0x80)) /* too short, or a response */
		return 0;
	rc = dns_query_parse(q, qlen, &query);
	if (rc == -1)
		return 0;

	limit = DNS_UDP_MIN;
	if (tcp)
		limit = DNS_MSG_MAX;
	else if (query.edns.present && query.edns.udp_size > limit)
		limit = query.edns.udp_size;
	if (limit > cap)
		limit = cap;
	a.w.buf = out;
	a.flags = (uint16_t)(DNS_F_QR | (query.hdr.flags & 0x7800) | DNS_F_RA |
			     (query.hdr.flags & (DNS_F_RD | DNS_F_CD)));

	if (DNS_OPCODE(query.hdr.flags) != DNS_OP_QUERY) {
		a.rcode = DNS_R_NOTIMP;
		return reply_short(&a, &query, rc == 0, limit);
	}
	if (rc < 0) {
		a.rcode = DNS_R_FORMERR;
		return reply_short(&a, &query, query.qname_len > 0, limit);
	}
	if (query.edns.version > 0) {
		a.rcode = DNS_R_BADVERS;
		return reply_short(&a, &query, true, limit);
	}
	if (query.qclass != DNS_C_IN || query.qtype == DNS_T_AXFR || query.qtype == DNS_T_IXFR) {
		a.rcode = DNS_R_REFUSED;
		return reply_short(&a, &query, true, limit);
	}
	if (query.qtype == DNS_T_OPT) {
		a.rcode = DNS_R_FORMERR;
		return reply_short(&a, &query, true, limit);
	}

	/* Leave room for our OPT so that it always fits after the answer. */
	if (limit < DNS_HDR_LEN + (query.edns.present ? OPT_LEN : 0))
		return 0;
	dns_writer_init(&a.w, out, limit - (query.edns.present ? OPT_LEN : 0));
	dns_writer_header(&a.w, &(struct dns_header){0});
	dns_writer_name(&a.w, query.qname);
	dns_writer_u16(&a.w, query.qtype);
	dns_writer_u16(&a.w, query.qclass);
	resolve(&a, query.qname, query.qtype);
	if (a.forward && fwd) {
		fwd->forward = true;
		memcpy(fwd->name, query.qname, query.qname_len);
		fwd->prefix_len = 0;
		return 0;
	}
	if (a.chase && fwd && !a.w.err && a.rcode == DNS_R_NOERROR) {
		/* Our part of the answer (header, question, the CNAMEs) stays in
		 * out; the caller appends what upstream says of the chain's end. */
		struct dns_header h = {.id = query.hdr.id,
				       .flags = (uint16_t)(a.flags & ~DNS_F_AA),
				       .qdcount = 1,
				       .ancount = a.ancount};
		size_t len = a.w.len;
		a.w.len = 0;
		dns_writer_header(&a.w, &h);
		fwd->forward = true;
		memcpy(fwd->name, a.chase_name, dns_name_len(a.chase_name));
		fwd->prefix_len = len;
		return 0;
	}
	if (a.rcode == DNS_R_REFUSED)
		a.flags &= (uint16_t)~DNS_F_AA;
	if (a.w.err) {
		a.flags |= DNS_F_TC;
		return reply_short(&a, &query, true, limit);
	}
	if (query.edns.present) {
		a.w.cap = limit;
		dns_writer_opt_do(&a.w, DNS_EDNS_OUR_SIZE, 0, query.edns.do_bit);
	}
	{
		struct dns_header h = {
			.id = query.hdr.id,
			.flags = (uint16_t)(a.flags | a.rcode),
			.qdcount = 1,
			.ancount = a.ancount,
			.nscount = a.nscount,
			.arcount = query.edns.present ? 1 : 0,
		};
		size_t len = a.w.len;
		a.w.len = 0;
		dns_writer_header(&a.w, &h);
		a.w.len = len;
	}
	return a.w.err ? 0 : a.w.len;
}
