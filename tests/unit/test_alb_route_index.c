/* The listener-rule index (alb_route_index_build, alb_route_req): for
 * thousands of random rule sets and requests it must choose exactly the rule
 * a plain scan of the rules in priority order chooses. The scan lives here,
 * as the reference, not in production. */
#include "t.h"

#include <stdlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "alb/route.h"
#include "cfn/cfn.h"

/* The reference: the first rule of the listener (sorted by priority) whose
 * conditions all match, else the default action. */
static const struct model_action *route_linear(const struct model *m, int li,
                                               const struct alb_req_view *rq, int *priority)
{
	const struct model_listener *l = &m->listeners[li];
	for (size_t i = 0; i < l->nrules; i++) {
		const struct model_rule *r = &m->rules[l->rules[i]];
		bool all = true;
		for (size_t k = 0; k < r->nconds && all; k++)
			all = alb_cond_match(&r->conds[k], rq);
		if (all) {
			*priority = r->priority;
			return &r->action;
		}
	}
	*priority = 0;
	return &l->default_action;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11) % n;
}

/* Exact host values, some with capitals (a model made by hand need not
 * lower-case them), and the hosts requests carry. */
static const char *const exact_hosts[] = {
    "a.example.com",     "b.example.com",      "api-1.example.com",
    "api-2.example.com", "example.com",        "x.other.org",
    "Mixed.Example.COM", "api-10.example.com", "",
    "c.example.com"};
static const char *const wild_hosts[] = {"*.example.com", "api-?.example.com", "*",
                                         "*.org",         "*example.com*",     "a.example.co?"};
static const char *const regex_hosts[] = {"^api-[0-9]+\\.example\\.com$", "example", "^[ab]\\."};
static const char *const req_hosts[] = {"a.example.com",
                                        "A.EXAMPLE.COM",
                                        "b.example.com",
                                        "api-1.example.com",
                                        "API-2.example.com",
                                        "example.com",
                                        "x.other.org",
                                        "mixed.example.com",
                                        "api-10.example.com",
                                        "c.example.com",
                                        "a.example.com:8080",
                                        "nothing.net",
                                        "",
                                        "a.example.co",
                                        "zz.example.com",
                                        "api-3.example.com"};
static const char *const paths[] = {"/", "/api/*", "/img/*.png", "/a?c", "*"};
static const char *const req_paths[] = {"/", "/api/v1", "/img/x.png", "/abc", "/API/v1", ""};
static const char *const methods[] = {"GET", "POST", "PUT"};
static const char *const header_vals[] = {"prod", "dev*", "?a"};
static const char *const req_header_vals[] = {"prod", "PROD", "dev-1", "qa", "xa"};
static const char *const req_queries[] = {"v=1", "v=2&x=y", "a=b", "", NULL};

/* A rule set under construction: everything one model needs, owned here. */
struct set {
	struct model m;
	struct model_listener l;
	struct model_rule *rules;
	struct model_condition *conds;
	int *order;
	size_t ncond, nrules;
};

static int prio_cmp(const void *x, const void *y, void *arg)
{
	const struct model_rule *r = arg;
	int a = r[*(const int *)x].priority, b = r[*(const int *)y].priority;
	return (a > b) - (a < b);
}

static void pick_values(struct model_condition *c, const char *const *pool, size_t npool)
{
	c->nvalues = 1 + rnd(3);
	for (size_t i = 0; i < c->nvalues; i++)
		c->values[i] = (char *)pool[rnd((uint32_t)npool)];
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void host_cond(struct model_condition *c)
{
	uint32_t kind = rnd(10);
	c->field = MODEL_COND_HOST_HEADER;
	if (kind < 6) {
		pick_values(c, exact_hosts, N(exact_hosts));
	} else if (kind < 8) {
		pick_values(c, wild_hosts, N(wild_hosts));
		if (rnd(2)) /* exact and wildcard values in one condition */
			c->values[0] = (char *)exact_hosts[rnd(N(exact_hosts))];
	} else {
		int err;
		PCRE2_SIZE off;
		c->regex = true;
		c->nvalues = 1;
		c->values[0] = (char *)regex_hosts[rnd(N(regex_hosts))];
		c->re[0] = pcre2_compile((PCRE2_SPTR)c->values[0], PCRE2_ZERO_TERMINATED,
		                         PCRE2_CASELESS, &err, &off, NULL);
	}
}

static void other_cond(struct model_condition *c)
{
	switch (rnd(5)) {
	case 0:
		c->field = MODEL_COND_PATH_PATTERN;
		pick_values(c, paths, N(paths));
		break;
	case 1:
		c->field = MODEL_COND_HTTP_HEADER;
		c->header_name = "x-env";
		pick_values(c, header_vals, N(header_vals));
		break;
	case 2:
		c->field = MODEL_COND_HTTP_REQUEST_METHOD;
		pick_values(c, methods, N(methods));
		break;
	case 3:
		c->field = MODEL_COND_QUERY_STRING;
		c->nvalues = 1;
		c->qs_keys[0] = rnd(2) ? "v" : NULL;
		c->values[0] = rnd(2) ? "1" : "*";
		break;
	default:
		c->field = MODEL_COND_SOURCE_IP;
		c->ncidrs = 1;
		c->cidrs[0] = (struct cidr4){rnd(2) ? 0x0a000000u : 0x0a010000u, 16};
		break;
	}
}

/* n rules with random priorities (unique, as AWS has them per listener)
 * and 0..3 conditions each, some with two host conditions. */
static void set_make(struct set *s, size_t n)
{
	*s = (struct set){0};
	s->rules = calloc(n ? n : 1, sizeof(*s->rules));
	s->conds = calloc(3 * (n ? n : 1), sizeof(*s->conds));
	s->order = calloc(n ? n : 1, sizeof(*s->order));
	s->nrules = n;
	for (size_t i = 0; i < n; i++) {
		struct model_rule *r = &s->rules[i];
		r->priority = (int)(i * 5 + 1 + rnd(5)); /* unique, then shuffled */
		r->conds = &s->conds[s->ncond];
		r->nconds = rnd(4);
		for (size_t k = 0; k < r->nconds; k++) {
			struct model_condition *c = &s->conds[s->ncond++];
			if (rnd(3) < 2 && (k == 0 || rnd(4) == 0))
				host_cond(c);
			else
				other_cond(c);
		}
		r->action =
		    (struct model_action){.type = MODEL_ACTION_FORWARD, .target_group = (int)i + 1};
		s->order[i] = (int)i;
	}
	for (size_t i = n; i > 1; i--) { /* shuffle priorities over the rules */
		size_t j = rnd((uint32_t)i);
		int p = s->rules[i - 1].priority;
		s->rules[i - 1].priority = s->rules[j].priority;
		s->rules[j].priority = p;
	}
	qsort_r(s->order, n, sizeof(*s->order), prio_cmp, s->rules);
	s->l = (struct model_listener){.port = 80, .rules = s->order, .nrules = n};
	s->l.default_action = (struct model_action){.type = MODEL_ACTION_FORWARD};
	s->m = (struct model){.rules = s->rules, .nrules = n, .listeners = &s->l, .nlisteners = 1};
}

/* Frees the regexes of the random conditions and clears them all, for a
 * test that writes its own. */
static void set_clear_conds(struct set *s)
{
	for (size_t i = 0; i < s->ncond; i++)
		if (s->conds[i].regex)
			pcre2_code_free(s->conds[i].re[0]);
	memset(s->conds, 0, s->ncond * sizeof(*s->conds));
}

static void set_free(struct set *s)
{
	set_clear_conds(s);
	free(s->l.rule_index);
	free(s->rules);
	free(s->conds);
	free(s->order);
}

/* A random request; hdr is its storage for one header. */
static void req_make(struct alb_req_view *rq, struct http_header *hdr)
{
	const char *host = req_hosts[rnd(N(req_hosts))];
	const char *path = req_paths[rnd(N(req_paths))];
	const char *meth = methods[rnd(N(methods))];
	const char *q = req_queries[rnd(N(req_queries))];
	const char *hv = req_header_vals[rnd(N(req_header_vals))];

	*rq = (struct alb_req_view){0};
	rq->method = (struct http_slice){meth, strlen(meth)};
	rq->path = (struct http_slice){path, strlen(path)};
	rq->query = (struct http_slice){q, q ? strlen(q) : 0};
	if (rnd(8)) {
		rq->host = host;
		rq->hostlen = alb_host_strip_port(host, strlen(host), 80);
	}
	if (rnd(2)) {
		hdr->name = (struct http_slice){"X-Env", 5};
		hdr->value = (struct http_slice){hv, strlen(hv)};
		rq->headers = hdr;
		rq->nheaders = 1;
	}
	rq->src = rnd(2) ? 0x0a000005u : 0x0a010005u;
}

/* Routes nreq random requests through the index and the reference; returns
 * how many chose a rule (not the default), to show the sets are not
 * trivially empty. */
static size_t compare(struct set *s, size_t nreq)
{
	size_t hits = 0;
	for (size_t i = 0; i < nreq; i++) {
		struct alb_req_view rq;
		struct http_header hdr;
		int p1 = -1, p2 = -2;
		req_make(&rq, &hdr);
		const struct model_action *a = alb_route_req(&s->m, 0, &rq, &p1);
		const struct model_action *b = route_linear(&s->m, 0, &rq, &p2);
		if (a != b || p1 != p2) {
			T_FAIL("rules %zu, host '%.*s' path '%.*s': index chose prio %d (tg %d), "
			       "scan prio %d (tg %d)",
			       s->nrules, (int)rq.hostlen, rq.host ? rq.host : "", (int)rq.path.n,
			       rq.path.p, p1, a->target_group, p2, b->target_group);
			return hits;
		}
		hits += p1 != 0;
	}
	return hits;
}

static void test_index_differential(void)
{
	size_t hits = 0, total = 0;
	for (int round = 0; round < 3000; round++) {
		struct set s;
		set_make(&s, rnd(4) == 0 ? rnd(3) : 1 + rnd(80));
		ASSERT_EQ(alb_route_index_build(&s.m), 0);
		ASSERT_TRUE(s.l.rule_index != NULL);
		hits += compare(&s, 50);
		total += 50;
		set_free(&s);
	}
	/* both outcomes occur often: the comparison is not vacuous */
	ASSERT_TRUE(hits > total / 5 && hits < total - total / 10);
}

/* A model built without the index (by hand) routes the same. */
static void test_index_absent(void)
{
	for (int round = 0; round < 200; round++) {
		struct set s;
		set_make(&s, 1 + rnd(40));
		compare(&s, 50);
		set_free(&s);
	}
}

/* 10,000 rules on one listener: AWS allows 100 per listener, and
 * src/cfn/albrules.c keeps that limit at load, so this listener is built
 * directly as a struct, as the scale the index is for. 9,000 exact hosts
 * (h<N>.example.com, some rules with two), then wildcard, regex and path
 * rules. */
static void test_index_10000_rules(void)
{
	enum { NR = 10000 };
	struct set s;
	char(*names)[32] = calloc(NR, sizeof(*names));
	char(*req)[40] = calloc(64, sizeof(*req));

	set_make(&s, NR);
	set_clear_conds(&s);
	for (size_t i = 0; i < NR; i++) {
		struct model_rule *r = &s.rules[i];
		struct model_condition *c = &s.conds[3 * i];
		r->conds = c;
		if (i < 9000) {
			snprintf(names[i], sizeof(names[i]), "h%zu.example.com", i % 7000);
			c->field = MODEL_COND_HOST_HEADER;
			c->nvalues = 1;
			c->values[0] = names[i];
			r->nconds = 1;
			if (i % 3 == 0)
				other_cond(&c[r->nconds++]);
		} else if (i < 9600) {
			host_cond(c);
			r->nconds = 1;
			if (c->regex) /* pcre2 per rule: a few are enough */
				c->nvalues = 1;
		} else {
			other_cond(c);
			r->nconds = 1;
		}
	}
	s.ncond = 3 * NR;
	/* the priorities of set_make are shuffled already; resort */
	qsort_r(s.order, NR, sizeof(*s.order), prio_cmp, s.rules);
	ASSERT_EQ(alb_route_index_build(&s.m), 0);
	compare(&s, 2000);
	for (size_t i = 0; i < 20000; i++) {
		struct alb_req_view rq = {0};
		int p1 = -1, p2 = -2;
		size_t k = rnd(64);
		snprintf(req[k], sizeof(req[k]), rnd(2) ? "h%u.example.com" : "H%u.Example.Com",
		         rnd(7200));
		rq.host = req[k];
		rq.hostlen = strlen(req[k]);
		rq.path = (struct http_slice){"/api/v1", 7};
		rq.method = (struct http_slice){"GET", 3};
		rq.src = 0x0a000005u;
		const struct model_action *a = alb_route_req(&s.m, 0, &rq, &p1);
		const struct model_action *b = route_linear(&s.m, 0, &rq, &p2);
		if (a != b || p1 != p2) {
			T_FAIL("host %s: index prio %d, scan prio %d", req[k], p1, p2);
			break;
		}
	}
	set_free(&s);
	free(names);
	free(req);
}

static void one_rule_model(struct set *s, const char *value)
{
	set_make(s, 2);
	set_clear_conds(s);
	s->rules[0].nconds = 1;
	s->rules[0].conds[0] =
	    (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	s->rules[0].conds[0].values[0] = (char *)value;
	s->rules[0].priority = 1;
	s->rules[1].nconds = 1;
	s->rules[1].conds[0] =
	    (struct model_condition){.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	s->rules[1].conds[0].values[0] = "*.example.com";
	s->rules[1].priority = 2;
	s->order[0] = 0;
	s->order[1] = 1;
	ASSERT_EQ(alb_route_index_build(&s->m), 0);
}

static int route_host(struct set *s, const char *h, size_t len)
{
	int prio = -1;
	alb_route(&s->m, 0, h, len, &prio);
	return prio;
}

/* Host values and Host headers compare without case, both ways. */
static void test_index_case(void)
{
	struct set s;
	const char *h;
	one_rule_model(&s, "Service-A.Example.com");
	h = "service-a.example.com";
	ASSERT_EQ(route_host(&s, h, strlen(h)), 1);
	h = "SERVICE-A.EXAMPLE.COM";
	ASSERT_EQ(route_host(&s, h, strlen(h)), 1);
	h = "service-b.EXAMPLE.com";
	ASSERT_EQ(route_host(&s, h, strlen(h)), 2);
	h = "service-a.example.org";
	ASSERT_EQ(route_host(&s, h, strlen(h)), 0);
	set_free(&s);
}

/* The default port is stripped before routing (alb.c does it with
 * alb_host_strip_port), so it matches; any other port stays and defeats an
 * exact value, as on AWS, but a wildcard may still take it. */
static void test_index_port(void)
{
	struct set s;
	const char *h;
	one_rule_model(&s, "a.example.com");
	h = "a.example.com:80";
	ASSERT_EQ(route_host(&s, h, alb_host_strip_port(h, strlen(h), 80)), 1);
	h = "A.Example.com:80";
	ASSERT_EQ(route_host(&s, h, alb_host_strip_port(h, strlen(h), 80)), 1);
	h = "a.example.com:8080";
	ASSERT_EQ(route_host(&s, h, alb_host_strip_port(h, strlen(h), 80)), 0);
	s.rules[1].conds[0].values[0] = "a.example.com:*"; /* not in the hash */
	ASSERT_EQ(alb_route_index_build(&s.m), 0);
	ASSERT_EQ(route_host(&s, h, alb_host_strip_port(h, strlen(h), 80)), 2);
	set_free(&s);
}

/* A template's model comes with the index (cfn_build_model builds it), and
 * it routes by priority across the hash and the list: the wildcard rule at
 * priority 1 wins over the exact one at 2, the exact one over the regex one
 * at 3, and Host case does not matter. */
static void test_index_from_template(void)
{
	static const char text[] =
	    "Resources:\n"
	    "  V1: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	    "  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.1.0/24, "
	    "AvailabilityZone: us-east-1a}}\n"
	    "  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.2.0/24, "
	    "AvailabilityZone: us-east-1b}}\n"
	    "  TG0: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	    "HTTP, Port: 80, VpcId: !Ref V1}}\n"
	    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: "
	    "[!Ref A, !Ref B]}}\n"
	    "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
	    "!Ref LB, Port: 80, Protocol: HTTP,\n"
	    "      DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG0}]}}\n"
	    "  R1: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	    "!Ref L, Priority: 1,\n"
	    "      Conditions: [{Field: host-header, Values: ['*.example.com']}, {Field: "
	    "path-pattern, Values: [/w/*]}],\n"
	    "      Actions: [{Type: forward, TargetGroupArn: !Ref TG0}]}}\n"
	    "  R2: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	    "!Ref L, Priority: 2,\n"
	    "      Conditions: [{Field: host-header, Values: [API.example.com, b.example.com]}],\n"
	    "      Actions: [{Type: forward, TargetGroupArn: !Ref TG0}]}}\n"
	    "  R3: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	    "!Ref L, Priority: 3,\n"
	    "      Conditions: [{Field: host-header, HostHeaderConfig: {RegexValues: "
	    "['^api\\.']}}],\n"
	    "      Actions: [{Type: forward, TargetGroupArn: !Ref TG0}]}}\n";
	struct cfn_options o;
	struct model *m = NULL;
	char *errs = NULL;
	size_t len;
	FILE *f = open_memstream(&errs, &len);
	static const struct {
		const char *host, *path;
		int prio;
	} cases[] = {{"api.example.com", "/w/x", 1}, {"api.example.com", "/", 2},
	             {"Api.Example.Com", "/", 2},    {"B.EXAMPLE.COM", "/", 2},
	             {"api.example.org", "/", 3},    {"c.example.com", "/", 0},
	             {"c.example.com", "/w/", 1}};

	cfn_options_default(&o);
	o.stack_name = "s";
	cfn_load_buf("t.yaml", text, strlen(text), &o, &m, f);
	fclose(f);
	ASSERT_TRUE(m != NULL);
	if (!m) {
		fprintf(stderr, "%s", errs ? errs : "");
		free(errs);
		return;
	}
	ASSERT_EQ(m->nlisteners, 1);
	ASSERT_EQ(m->listeners[0].nrules, 3);
	ASSERT_TRUE(m->listeners[0].rule_index != NULL);
	for (size_t i = 0; i < N(cases); i++) {
		struct alb_req_view rq = {.host = cases[i].host, .hostlen = strlen(cases[i].host)};
		int prio = -1;
		rq.path = (struct http_slice){cases[i].path, strlen(cases[i].path)};
		rq.method = (struct http_slice){"GET", 3};
		alb_route_req(m, 0, &rq, &prio);
		if (prio != cases[i].prio)
			T_FAIL("%s %s: priority %d, want %d", cases[i].host, cases[i].path, prio,
			       cases[i].prio);
	}
	model_free(m);
	free(errs);
}

T_MAIN({
	T_RUN(test_index_differential);
	T_RUN(test_index_absent);
	T_RUN(test_index_10000_rules);
	T_RUN(test_index_case);
	T_RUN(test_index_port);
	T_RUN(test_index_from_template);
	alb_route_thread_end();
})
