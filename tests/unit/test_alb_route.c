/* ALB decisions without I/O: host matching, Host port stripping, rule
 * evaluation, round robin with fail-open, the health state machine and the
 * HttpCode matcher. */
#include "t.h"

#include "alb/health.h"
#include "alb/route.h"

static int hm(const char *pat, const char *host)
{
	return alb_host_match(pat, host, strlen(host));
}

static void test_host_match(void)
{
	ASSERT_TRUE(hm("service-a.in.example.com", "service-a.in.example.com"));
	ASSERT_TRUE(hm("service-a.in.example.com", "Service-A.IN.example.COM"));
	ASSERT_TRUE(!hm("service-a.in.example.com", "service-b.in.example.com"));
	ASSERT_TRUE(hm("*.example.com", "test.example.com"));
	ASSERT_TRUE(hm("*.example.com", "a.b.example.com"));
	ASSERT_TRUE(!hm("*.example.com", "example.com"));
	ASSERT_TRUE(hm("service-?.example.com", "service-b.example.com"));
	ASSERT_TRUE(!hm("service-?.example.com", "service-bb.example.com"));
	ASSERT_TRUE(hm("*", ""));
	ASSERT_TRUE(hm("a*b*c.com", "axxbyyc.com"));
	ASSERT_TRUE(!hm("a*b*c.com", "axxbyy.com"));
	ASSERT_TRUE(hm("*.*.com", "x.y.com"));
	ASSERT_TRUE(!hm("?", ""));
	ASSERT_TRUE(!hm("example.com", "example.com:8080"));
}

static void test_host_strip(void)
{
	ASSERT_EQ(alb_host_strip_port("a.example.com:80", 16, 80), 13);
	ASSERT_EQ(alb_host_strip_port("a.example.com:8080", 18, 80), 18);
	ASSERT_EQ(alb_host_strip_port("a.example.com", 13, 80), 13);
	ASSERT_EQ(alb_host_strip_port("a.example.com:443", 17, 443), 13);
	ASSERT_EQ(alb_host_strip_port(":80", 3, 80), 3);
}

static void test_route(void)
{
	char *v1[] = {"service-a.in.example.com"};
	struct model_condition c1 = {.field = MODEL_COND_HOST_HEADER, .nvalues = 1};
	struct model_condition c2 = {.field = MODEL_COND_HOST_HEADER, .nvalues = 2};
	struct model_rule rules[2] = {0};
	int idx[2] = {1, 0}; /* sorted by priority: rule 1 (prio 5) first */
	struct model_listener l = {.port = 80, .rules = idx, .nrules = 2};
	struct model m = {0};
	int prio = -1;
	const char *h;

	c1.values[0] = v1[0];
	c2.values[0] = "*.in.example.com";
	c2.values[1] = "other.example.org";
	rules[0] = (struct model_rule){.priority = 10, .conds = &c2, .nconds = 1,
				       .action = {.type = MODEL_ACTION_FORWARD, .target_group = 2}};
	rules[1] = (struct model_rule){.priority = 5, .conds = &c1, .nconds = 1,
				       .action = {.type = MODEL_ACTION_FORWARD, .target_group = 1}};
	l.default_action = (struct model_action){.type = MODEL_ACTION_FORWARD, .target_group = 0};
	m.rules = rules;
	m.nrules = 2;
	m.listeners = &l;
	m.nlisteners = 1;

	h = "service-a.in.example.com";
	ASSERT_EQ(alb_route(&m, 0, h, strlen(h), &prio), 1);
	ASSERT_EQ(prio, 5);
	h = "service-b.in.example.com";
	ASSERT_EQ(alb_route(&m, 0, h, strlen(h), &prio), 2);
	ASSERT_EQ(prio, 10);
	h = "OTHER.example.org";
	ASSERT_EQ(alb_route(&m, 0, h, strlen(h), &prio), 2);
	h = "nothing.example.net";
	ASSERT_EQ(alb_route(&m, 0, h, strlen(h), &prio), 0);
	ASSERT_EQ(prio, 0);
	ASSERT_EQ(alb_route(&m, 0, NULL, 0, &prio), 0);
	/* :80 is stripped before routing, :8080 stays and does not match */
	h = "service-a.in.example.com:80";
	ASSERT_EQ(alb_route(&m, 0, h, alb_host_strip_port(h, strlen(h), 80), &prio), 1);
	h = "service-a.in.example.com:8080";
	ASSERT_EQ(alb_route(&m, 0, h, alb_host_strip_port(h, strlen(h), 80), &prio), 0);
	h = "x.example.org:8080";
	ASSERT_EQ(alb_route(&m, 0, h, alb_host_strip_port(h, strlen(h), 80), &prio), 0);
}

static void test_select_rr(void)
{
	enum alb_target_state st[4] = {ALB_TARGET_HEALTHY, ALB_TARGET_UNHEALTHY, ALB_TARGET_HEALTHY,
				       ALB_TARGET_DRAINING};
	size_t rr = 0;
	int seen[4] = {0};
	for (int i = 0; i < 10; i++)
		seen[alb_select_rr(st, 4, &rr)]++;
	ASSERT_EQ(seen[0], 5);
	ASSERT_EQ(seen[2], 5);
	ASSERT_EQ(seen[1], 0);
	ASSERT_EQ(seen[3], 0);
	/* fail open: no healthy target, so every non-draining one */
	st[0] = ALB_TARGET_UNHEALTHY;
	st[2] = ALB_TARGET_INITIAL;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 9; i++)
		seen[alb_select_rr(st, 4, &rr)]++;
	ASSERT_EQ(seen[0], 3);
	ASSERT_EQ(seen[1], 3);
	ASSERT_EQ(seen[2], 3);
	ASSERT_EQ(seen[3], 0);
	/* health checks disabled: unavailable targets take traffic */
	st[1] = ALB_TARGET_UNAVAILABLE;
	ASSERT_EQ(alb_select_rr(st, 4, &rr), 1);
	ASSERT_EQ(alb_select_rr(st, 4, &rr), 1);
	/* only draining: nothing */
	enum alb_target_state d[2] = {ALB_TARGET_DRAINING, ALB_TARGET_UNUSED};
	ASSERT_EQ(alb_select_rr(d, 2, &rr), -1);
	ASSERT_EQ(alb_select_rr(d, 0, &rr), -1);
}

static void test_health_state(void)
{
	struct alb_hc_count c = {0};
	enum alb_target_state s = ALB_TARGET_INITIAL;
	/* initial -> healthy after ONE success */
	s = alb_health_next(s, ALB_HC_OK, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_HEALTHY);
	/* healthy -> unhealthy after 2 consecutive failures */
	s = alb_health_next(s, ALB_HC_TIMEOUT, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_HEALTHY);
	s = alb_health_next(s, ALB_HC_OK, &c, 5, 2); /* resets the run */
	s = alb_health_next(s, ALB_HC_MISMATCH, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_HEALTHY);
	s = alb_health_next(s, ALB_HC_FAILED, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_UNHEALTHY);
	/* unhealthy -> healthy after 5 consecutive successes */
	for (int i = 0; i < 4; i++) {
		s = alb_health_next(s, ALB_HC_OK, &c, 5, 2);
		ASSERT_EQ(s, ALB_TARGET_UNHEALTHY);
	}
	s = alb_health_next(s, ALB_HC_FAILED, &c, 5, 2);
	for (int i = 0; i < 4; i++)
		s = alb_health_next(s, ALB_HC_OK, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_UNHEALTHY);
	s = alb_health_next(s, ALB_HC_OK, &c, 5, 2);
	ASSERT_EQ(s, ALB_TARGET_HEALTHY);
	/* initial -> unhealthy after unhealthy_th failures */
	c = (struct alb_hc_count){0};
	s = alb_health_next(ALB_TARGET_INITIAL, ALB_HC_FAILED, &c, 5, 3);
	ASSERT_EQ(s, ALB_TARGET_INITIAL);
	s = alb_health_next(s, ALB_HC_FAILED, &c, 5, 3);
	ASSERT_EQ(s, ALB_TARGET_INITIAL);
	s = alb_health_next(s, ALB_HC_FAILED, &c, 5, 3);
	ASSERT_EQ(s, ALB_TARGET_UNHEALTHY);
	/* draining and unavailable do not move */
	ASSERT_EQ(alb_health_next(ALB_TARGET_DRAINING, ALB_HC_OK, &c, 5, 2), ALB_TARGET_DRAINING);
	ASSERT_EQ(alb_health_next(ALB_TARGET_UNAVAILABLE, ALB_HC_FAILED, &c, 5, 2),
		  ALB_TARGET_UNAVAILABLE);
	ASSERT_STR_EQ(alb_target_state_str(ALB_TARGET_UNAVAILABLE), "unavailable");
	ASSERT_STR_EQ(alb_target_state_str(ALB_TARGET_INITIAL), "initial");
}

static void test_matcher(void)
{
	char d[96];
	ASSERT_TRUE(alb_hc_matcher_match("200", 200));
	ASSERT_TRUE(!alb_hc_matcher_match("200", 201));
	ASSERT_TRUE(alb_hc_matcher_match("200,202", 202));
	ASSERT_TRUE(!alb_hc_matcher_match("200,202", 201));
	ASSERT_TRUE(alb_hc_matcher_match("200-299", 250));
	ASSERT_TRUE(!alb_hc_matcher_match("200-299", 300));
	ASSERT_TRUE(alb_hc_matcher_match("200, 300-399", 302));
	ASSERT_TRUE(alb_hc_matcher_match(NULL, 200));
	ASSERT_TRUE(!alb_hc_matcher_match("abc", 200));
	ASSERT_STR_EQ(alb_hc_reason(ALB_HC_MISMATCH, 500, d, sizeof(d)),
		      "Target.ResponseCodeMismatch");
	ASSERT_STR_EQ(d, "Health checks failed with these codes: [500]");
	ASSERT_STR_EQ(alb_hc_reason(ALB_HC_TIMEOUT, 0, d, sizeof(d)), "Target.Timeout");
	ASSERT_STR_EQ(alb_hc_reason(ALB_HC_FAILED, 0, d, sizeof(d)), "Target.FailedHealthChecks");
}

T_MAIN({
	T_RUN(test_host_match);
	T_RUN(test_host_strip);
	T_RUN(test_route);
	T_RUN(test_select_rr);
	T_RUN(test_health_state);
	T_RUN(test_matcher);
})
