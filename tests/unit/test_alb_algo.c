/* Target-group algorithms without I/O: round robin, least outstanding
 * requests (ties in round-robin order), weighted random (distribution), and
 * slow start's linear share; the AWSALB cookie. */
#include "t.h"

#include "alb/route.h"

static uint32_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

static void test_rr(void)
{
	struct alb_cand c[3] = {{ALB_TARGET_HEALTHY, 0, 1},
				{ALB_TARGET_UNHEALTHY, 0, 1},
				{ALB_TARGET_HEALTHY, 0, 1}};
	size_t rr = 0;
	int seen[3] = {0};
	for (int i = 0; i < 10; i++)
		seen[alb_select(MODEL_ALGO_ROUND_ROBIN, c, 3, &rr, 0)]++;
	ASSERT_EQ(seen[0], 5);
	ASSERT_EQ(seen[1], 0);
	ASSERT_EQ(seen[2], 5);
	ASSERT_EQ(alb_select(MODEL_ALGO_ROUND_ROBIN, c, 0, &rr, 0), -1);
}

static void test_lor(void)
{
	struct alb_cand c[3] = {{ALB_TARGET_HEALTHY, 3, 1},
				{ALB_TARGET_HEALTHY, 1, 1},
				{ALB_TARGET_HEALTHY, 2, 1}};
	size_t rr = 0;
	ASSERT_EQ(alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0), 1);
	ASSERT_EQ(alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0), 1);
	/* an unhealthy idle target is not preferred */
	c[0].outstanding = 0;
	c[0].state = ALB_TARGET_UNHEALTHY;
	ASSERT_EQ(alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0), 1);
	/* ties go round robin */
	c[0].state = ALB_TARGET_HEALTHY;
	c[0].outstanding = c[1].outstanding = c[2].outstanding = 0;
	int seen[3] = {0};
	for (int i = 0; i < 30; i++)
		seen[alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0)]++;
	ASSERT_EQ(seen[0], 10);
	ASSERT_EQ(seen[1], 10);
	ASSERT_EQ(seen[2], 10);
	/* simulated load: each pick adds one in flight, so picks stay balanced */
	int load[3] = {0};
	for (int i = 0; i < 9; i++) {
		int k = alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0);
		c[k].outstanding++;
		load[k]++;
	}
	ASSERT_EQ(load[0], 3);
	ASSERT_EQ(load[1], 3);
	ASSERT_EQ(load[2], 3);
	/* fail open: no healthy target */
	c[0].state = c[1].state = c[2].state = ALB_TARGET_UNHEALTHY;
	c[2].outstanding = 0;
	ASSERT_EQ(alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0), 2);
	c[0].state = c[1].state = c[2].state = ALB_TARGET_DRAINING;
	ASSERT_EQ(alb_select(MODEL_ALGO_LEAST_OUTSTANDING, c, 3, &rr, 0), -1);
}

static void test_weighted_random(void)
{
	struct alb_cand c[4] = {{ALB_TARGET_HEALTHY, 0, 1},
				{ALB_TARGET_HEALTHY, 0, 1},
				{ALB_TARGET_DRAINING, 0, 1},
				{ALB_TARGET_HEALTHY, 0, 1}};
	uint64_t s = 42;
	size_t rr = 0;
	int seen[4] = {0};
	for (int i = 0; i < 30000; i++)
		seen[alb_select(MODEL_ALGO_WEIGHTED_RANDOM, c, 4, &rr, lcg(&s))]++;
	ASSERT_EQ(seen[2], 0);
	for (int k = 0; k < 4; k++) {
		if (k == 2)
			continue;
		/* uniform: 10000 each, within 5% */
		ASSERT_TRUE(seen[k] > 9500 && seen[k] < 10500);
	}
	/* the extremes of the draw stay in range */
	ASSERT_EQ(alb_select(MODEL_ALGO_WEIGHTED_RANDOM, c, 4, &rr, 0), 0);
	ASSERT_EQ(alb_select(MODEL_ALGO_WEIGHTED_RANDOM, c, 4, &rr, UINT32_MAX), 3);
}

static void test_slow_start(void)
{
	/* linear share */
	ASSERT_TRUE(alb_slow_start_share(0, 100) > 0);
	ASSERT_TRUE(alb_slow_start_share(0, 100) <= 0.01);
	ASSERT_TRUE(alb_slow_start_share(25, 100) == 0.25);
	ASSERT_TRUE(alb_slow_start_share(50, 100) == 0.5);
	ASSERT_TRUE(alb_slow_start_share(100, 100) == 1);
	ASSERT_TRUE(alb_slow_start_share(1000, 100) == 1);
	ASSERT_TRUE(alb_slow_start_share(5, 0) == 1);
	/* a target at 1/3 of its window gets 1/3 of a full share: 1/4 of picks
	 * against one full target, with round robin and weighted random */
	int algos[2] = {MODEL_ALGO_ROUND_ROBIN, MODEL_ALGO_WEIGHTED_RANDOM};
	for (int a = 0; a < 2; a++) {
		struct alb_cand c[2] = {{ALB_TARGET_HEALTHY, 0, 1},
					{ALB_TARGET_HEALTHY, 0, alb_slow_start_share(10, 30)}};
		uint64_t s = 7;
		size_t rr = 0;
		int seen[2] = {0};
		for (int i = 0; i < 40000; i++)
			seen[alb_select(algos[a], c, 2, &rr, lcg(&s))]++;
		ASSERT_TRUE(seen[1] > 9500 && seen[1] < 10500);
		/* window over: plain round robin again */
		c[1].share = alb_slow_start_share(30, 30);
		seen[0] = seen[1] = 0;
		for (int i = 0; i < 1000; i++)
			seen[alb_select(algos[a], c, 2, &rr, lcg(&s))]++;
		if (algos[a] == MODEL_ALGO_ROUND_ROBIN)
			ASSERT_EQ(seen[1], 500);
		else
			ASSERT_TRUE(seen[1] > 430 && seen[1] < 570);
	}
}

static void test_siphash(void)
{
	/* SipHash-2-4 reference vector: key 00..0f, message 00..07 */
	uint64_t k[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	ASSERT_TRUE(alb_siphash64(k, 0x0706050403020100ull) == 0x93f5f5799a932462ull);
}

static void test_lb_cookie(void)
{
	uint64_t k[2] = {1, 2}, k2[2] = {1, 3};
	char v[33], hv[80];
	uint32_t addr = 0;
	uint16_t port = 0;
	alb_lb_cookie_value(k, 3, 0x7f4d0105u, 8080, v);
	ASSERT_EQ(strlen(v), 32);
	/* opaque: the address does not show */
	ASSERT_TRUE(strstr(v, "7F4D0105") == NULL);
	snprintf(hv, sizeof(hv), "a=b; AWSALB=%s; c=d", v);
	struct http_header h[2] = {{{"Host", 4}, {"x", 1}}, {{"Cookie", 6}, {hv, strlen(hv)}}};
	ASSERT_EQ(alb_lb_cookie_find(k, 3, h, 2, &addr, &port), 1);
	ASSERT_TRUE(addr == 0x7f4d0105u);
	ASSERT_EQ(port, 8080);
	/* another group, another key: invalid */
	ASSERT_EQ(alb_lb_cookie_find(k, 4, h, 2, &addr, &port), -1);
	ASSERT_EQ(alb_lb_cookie_find(k2, 3, h, 2, &addr, &port), -1);
	/* a flipped digit: invalid */
	hv[strlen("a=b; AWSALB=") + 5] ^= 1;
	ASSERT_EQ(alb_lb_cookie_find(k, 3, h, 2, &addr, &port), -1);
	/* no cookie; AWSALBTG is not AWSALB */
	snprintf(hv, sizeof(hv), "AWSALBTG=%s", v);
	h[1].value.n = strlen(hv);
	ASSERT_EQ(alb_lb_cookie_find(k, 3, h, 2, &addr, &port), 0);
	ASSERT_EQ(alb_lb_cookie_find(k, 3, h, 1, &addr, &port), 0);
	/* AWSALBCORS alone is enough (cross-origin requests) */
	snprintf(hv, sizeof(hv), "AWSALBCORS=%s", v);
	h[1].value.n = strlen(hv);
	addr = 0;
	ASSERT_EQ(alb_lb_cookie_find(k, 3, h, 2, &addr, &port), 1);
	ASSERT_TRUE(addr == 0x7f4d0105u);
	/* different targets, different values */
	char v2[33];
	alb_lb_cookie_value(k, 3, 0x7f4d0205u, 8080, v2);
	ASSERT_TRUE(strcmp(v, v2) != 0);
}

static void test_app_cookie(void)
{
	uint64_t k[2] = {1, 2}, k2[2] = {1, 3};
	char v[49], lb[33], hv[160];
	uint32_t addr = 0, now = 1000000;
	uint16_t port = 0;
	alb_app_cookie_value(k, 3, 0x7f4d0105u, 8080, now + 60, v);
	ASSERT_EQ(strlen(v), 48);
	ASSERT_TRUE(strstr(v, "7F4D0105") == NULL); /* opaque */
	snprintf(hv, sizeof(hv), "SESS=abc; AWSALBAPP-0=%s; AWSALBAPP-1=_remove_", v);
	struct http_header h[2] = {{{"Host", 4}, {"x", 1}}, {{"Cookie", 6}, {hv, strlen(hv)}}};
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now, &addr, &port), 1);
	ASSERT_TRUE(addr == 0x7f4d0105u);
	ASSERT_EQ(port, 8080);
	/* the last second of the stickiness, then stale */
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now + 60, &addr, &port), 1);
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now + 61, &addr, &port), -1);
	/* another group, another key: invalid */
	ASSERT_EQ(alb_app_cookie_find(k, 4, "SESS", h, 2, now, &addr, &port), -1);
	ASSERT_EQ(alb_app_cookie_find(k2, 3, "SESS", h, 2, now, &addr, &port), -1);
	/* without the application's cookie: no session (names are case-sensitive) */
	ASSERT_EQ(alb_app_cookie_find(k, 3, "sess", h, 2, now, &addr, &port), 0);
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SES", h, 2, now, &addr, &port), 0);
	/* a changed expiry or a flipped digit: forged */
	hv[strlen("SESS=abc; AWSALBAPP-0=") + 20] ^= 1;
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now, &addr, &port), -1);
	hv[strlen("SESS=abc; AWSALBAPP-0=") + 20] ^= 1;
	hv[strlen("SESS=abc; AWSALBAPP-0=") + 2] ^= 1;
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now, &addr, &port), -1);
	/* an AWSALB value is not an AWSALBAPP one */
	alb_lb_cookie_value(k, 3, 0x7f4d0105u, 8080, lb);
	snprintf(hv, sizeof(hv), "SESS=1; AWSALBAPP-0=%s%s", lb, "0000000000000000");
	h[1].value.n = strlen(hv);
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now, &addr, &port), -1);
	/* no AWSALBAPP-0 */
	snprintf(hv, sizeof(hv), "SESS=1; AWSALBAPP-1=%s", v);
	h[1].value.n = strlen(hv);
	ASSERT_EQ(alb_app_cookie_find(k, 3, "SESS", h, 2, now, &addr, &port), 0);
	/* the response side: Set-Cookie naming the cookie, not a prefix of it */
	struct http_header rs[3] = {{{"Content-Type", 12}, {"SESS=x", 6}},
	                            {{"set-cookie", 10}, {"SESSION=1; Path=/", 17}},
	                            {{"Set-Cookie", 10}, {" SESS=42; Path=/", 16}}};
	ASSERT_TRUE(alb_sets_cookie(rs, 3, "SESS"));
	ASSERT_TRUE(!alb_sets_cookie(rs, 2, "SESS"));
	ASSERT_TRUE(alb_sets_cookie(rs, 2, "SESSION"));
	ASSERT_TRUE(!alb_sets_cookie(rs, 3, "sess"));
	ASSERT_TRUE(!alb_sets_cookie(rs, 3, NULL));
}

T_MAIN({
	T_RUN(test_rr);
	T_RUN(test_lor);
	T_RUN(test_weighted_random);
	T_RUN(test_slow_start);
	T_RUN(test_siphash);
	T_RUN(test_lb_cookie);
	T_RUN(test_app_cookie);
})
