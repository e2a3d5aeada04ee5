/*
 * ALB rule conditions and actions: the matchers of route.c one by one, rule
 * evaluation over a model read from a template (every condition type, both
 * the legacy Values and the *Config forms, RegexValues), forward weights and
 * the AWSALBTG cookie, redirect URLs, security group checks, and the load
 * errors for AWS's limits and refused regex features.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alb/route.h"
#include "cfn/albrules.h"
#include "cfn/cfn.h"
#include "cfn_load.h"
#include "t.h"

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("mystack", text, errs);
}

static struct http_slice sl(const char *s)
{
	return (struct http_slice){s, s ? strlen(s) : 0};
}

static void test_wildcards(void)
{
	ASSERT_TRUE(alb_wild_match("/img/*", "/img/a.jpg", 10, false, false));
	ASSERT_TRUE(!alb_wild_match("/IMG/*", "/img/a.jpg", 10, false, false));
	ASSERT_TRUE(alb_wild_match("/IMG/*", "/img/a.jpg", 10, true, false));
	ASSERT_TRUE(alb_wild_match("/a?c", "/abc", 4, false, false));
	ASSERT_TRUE(!alb_wild_match("/a?c", "/ac", 3, false, false));
	ASSERT_TRUE(alb_wild_match("*", "", 0, false, false));
	ASSERT_TRUE(alb_wild_match("*.example.com", "test.example.com", 16, true, false));
	ASSERT_TRUE(!alb_wild_match("*.example.com", "example.com", 11, true, false));
	/* escapes: "\*" is a literal star */
	ASSERT_TRUE(alb_wild_match("a\\*b", "a*b", 3, true, true));
	ASSERT_TRUE(!alb_wild_match("a\\*b", "axb", 3, true, true));
	ASSERT_TRUE(alb_wild_match("a*b", "axxb", 4, true, true));
}

static void test_split_and_query(void)
{
	struct http_slice p, q;
	alb_split_target(sl("/a/b?x=1&y=2#frag"), &p, &q);
	ASSERT_EQ(p.n, 4);
	ASSERT_TRUE(memcmp(p.p, "/a/b", 4) == 0);
	ASSERT_EQ(q.n, 7);
	alb_split_target(sl("http://h:80/z?k"), &p, &q);
	ASSERT_EQ(p.n, 2);
	ASSERT_TRUE(q.p && q.n == 1);
	alb_split_target(sl("/noq"), &p, &q);
	ASSERT_TRUE(q.p == NULL);

	ASSERT_TRUE(alb_query_match("version", "v1", sl("a=b&version=v1")));
	ASSERT_TRUE(alb_query_match("VERSION", "V1", sl("version=v1")));
	ASSERT_TRUE(!alb_query_match("version", "v1", sl("version=v2")));
	ASSERT_TRUE(alb_query_match(NULL, "*example*", sl("q=anexamplehere")));
	ASSERT_TRUE(alb_query_match("k", "a b", sl("k=a%20b"))); /* percent-decoded */
	ASSERT_TRUE(alb_query_match("a&b", "1", sl("a%26b=1")));
	ASSERT_TRUE(alb_query_match("k", "\\*", sl("k=*")));
	ASSERT_TRUE(!alb_query_match("k", "\\*", sl("k=x")));
	ASSERT_TRUE(!alb_query_match("k", "v", (struct http_slice){NULL, 0}));
}

#define NET                                                                                        \
	"Resources:\n"                                                                             \
	"  V1: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                      \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.1.0/24, "      \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.2.0/24, "      \
	"AvailabilityZone: us-east-1b}}\n"                                                         \
	"  SG: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: d, VpcId: !Ref "     \
	"V1,\n"                                                                                    \
	"       SecurityGroupIngress: [{IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIp: "       \
	"10.0.1.0/24}]}}\n"                                                                        \
	"  TG0: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, "    \
	"Port: 80, VpcId: !Ref V1}}\n"                                                             \
	"  TG1: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, "    \
	"Port: 80, VpcId: !Ref V1}}\n"                                                             \
	"  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: [!Ref A, "  \
	"!Ref B], SecurityGroups: [!Ref SG]}}\n"                                                   \
	"  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref "   \
	"LB, Port: 80, Protocol: HTTP,\n"                                                          \
	"      DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "         \
	"\"404\", "                                                                                \
	"ContentType: text/plain, MessageBody: nope}}]}}\n"

#define RULE(name, prio, conds, actions)                                                           \
	"  " name ": {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: " \
	"!Ref L, Priority: " prio ",\n      Conditions: " conds ",\n      Actions: " actions       \
	"}}\n"

#define FWD0 "[{Type: forward, TargetGroupArn: !Ref TG0}]"

static const char *rules_template = NET RULE("R1", "1", "[{Field: path-pattern, Values: [/api/*]}]",
                                             FWD0)
    RULE("R2", "2", "[{Field: path-pattern, PathPatternConfig: {RegexValues: ['^/re/[0-9]+$']}}]",
         FWD0) RULE("R3", "3",
                    "[{Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-Env, Values: "
                    "[prod*]}}]",
                    FWD0)
        RULE("R4", "4",
             "[{Field: http-request-method, HttpRequestMethodConfig: {Values: [DELETE]}}]",
             FWD0) RULE("R5", "5",
                        "[{Field: query-string, QueryStringConfig: {Values: [{Key: v, Value: "
                        "two}, {Value: '*any*'}]}}]",
                        FWD0)
            RULE("R6", "6", "[{Field: source-ip, SourceIpConfig: {Values: [10.0.2.0/24]}}]", FWD0)
                RULE("R7", "7",
                     "[{Field: host-header, HostHeaderConfig: {RegexValues: "
                     "['^api\\.[a-z]+\\.example\\.com$']}}]",
                     FWD0) RULE("R8", "8", "[{Field: host-header, Values: [r.example.com]}]",
                                "[{Type: redirect, RedirectConfig: {Protocol: HTTPS, Port: "
                                "'443', Host: '#{host}', Path: '/new/#{path}', Query: "
                                "'#{query}&x=1', StatusCode: HTTP_301}}]")
                    RULE("R9", "9", "[{Field: host-header, Values: [w.example.com]}]",
                         "[{Type: forward, ForwardConfig: {TargetGroups: "
                         "[{TargetGroupArn: !Ref TG0, Weight: 1}, {TargetGroupArn: "
                         "!Ref TG1, Weight: 3}], TargetGroupStickinessConfig: "
                         "{Enabled: true, DurationSeconds: 60}}}]");

static const struct model_action *route(const struct model *m, const char *method,
                                        const char *target, const char *host,
                                        const struct http_header *h, size_t nh, uint32_t src,
                                        int *prio)
{
	struct alb_req_view rv = {.method = sl(method),
	                          .host = host,
	                          .hostlen = host ? strlen(host) : 0,
	                          .headers = h,
	                          .nheaders = nh,
	                          .src = src};
	alb_split_target(sl(target), &rv.path, &rv.query);
	return alb_route_req(m, 0, &rv, prio);
}

static void test_rules_from_template(void)
{
	char *errs;
	struct model *m = load(rules_template, &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	int prio;
	const uint32_t out = 0x0a000305; /* 10.0.3.5 */
	const struct model_action *a;

	a = route(m, "GET", "/", "x.example.com", NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	ASSERT_EQ(a->type, MODEL_ACTION_FIXED_RESPONSE);
	ASSERT_EQ(a->status, 404);
	ASSERT_STR_EQ(a->body, "nope");
	ASSERT_STR_EQ(a->content_type, "text/plain");
	/* path-pattern: path only, case-sensitive */
	route(m, "GET", "/api/users?x=1", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 1);
	route(m, "GET", "/API/users", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	route(m, "GET", "/x?/api/", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	/* regex path */
	route(m, "GET", "/re/123", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 2);
	route(m, "GET", "/re/12a", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	/* http-header: name and value case-insensitive, searched in order */
	struct http_header hs[2] = {{sl("x-env"), sl("test")}, {sl("X-ENV"), sl("PRODUCTION")}};
	route(m, "GET", "/", NULL, hs, 2, out, &prio);
	ASSERT_EQ(prio, 3);
	route(m, "GET", "/", NULL, hs, 1, out, &prio);
	ASSERT_EQ(prio, 0);
	/* method: exact, case-sensitive */
	route(m, "DELETE", "/", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 4);
	route(m, "delete", "/", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	/* query-string: key/value, or any key */
	route(m, "GET", "/?V=TWO", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 5);
	route(m, "GET", "/?z=xanyx", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 5);
	route(m, "GET", "/?v=three", NULL, NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	/* source-ip, VPC address space */
	route(m, "GET", "/", NULL, NULL, 0, 0x0a000209, &prio);
	ASSERT_EQ(prio, 6);
	/* host regex (case-insensitive) */
	route(m, "GET", "/", "API.foo.example.com", NULL, 0, out, &prio);
	ASSERT_EQ(prio, 7);
	route(m, "GET", "/", "api.f00.example.com", NULL, 0, out, &prio);
	ASSERT_EQ(prio, 0);
	/* redirect */
	a = route(m, "GET", "/p/q?a=b", "r.example.com", NULL, 0, out, &prio);
	ASSERT_EQ(prio, 8);
	ASSERT_EQ(a->type, MODEL_ACTION_REDIRECT);
	ASSERT_EQ(a->status, 301);
	char url[600];
	struct alb_redirect_in in = {"HTTP", sl("r.example.com"), 80, sl("/p/q"), sl("a=b")};
	ASSERT_TRUE(alb_redirect_url(a, &in, url, sizeof(url)) > 0);
	ASSERT_STR_EQ(url, "https://r.example.com:443/new/p/q?a=b&x=1");
	/* weighted forward with stickiness */
	a = route(m, "GET", "/", "w.example.com", NULL, 0, out, &prio);
	ASSERT_EQ(prio, 9);
	ASSERT_EQ(a->nfwd, 2);
	ASSERT_TRUE(a->tg_sticky);
	ASSERT_EQ(a->tg_sticky_s, 60);
	int n1 = 0;
	for (uint32_t r = 0; r < 400; r++)
		n1 += alb_forward_pick(a, -1, r) == 1;
	ASSERT_EQ(n1, 300);                      /* weights 1:3 over a uniform draw */
	ASSERT_EQ(alb_forward_pick(a, 0, 3), 0); /* sticky wins over the draw */
	char v[17], cookie[64];
	alb_tg_cookie_value(m, 1, v);
	snprintf(cookie, sizeof(cookie), "a=b; AWSALBTG=%s; c=d", v);
	struct http_header ch[1] = {{sl("Cookie"), sl(cookie)}};
	ASSERT_EQ(alb_tg_cookie_find(m, a, ch, 1), 1);
	struct http_header bad[1] = {{sl("Cookie"), sl("AWSALBTG=0000000000000000")}};
	ASSERT_EQ(alb_tg_cookie_find(m, a, bad, 1), -2);
	struct http_header none[1] = {{sl("Cookie"), sl("AWSALBTGCORS=x; a=b")}};
	ASSERT_EQ(alb_tg_cookie_find(m, a, none, 1), -1);
	/* security group: ingress tcp/80 from 10.0.1.0/24 */
	uint32_t base = m->vpcs[0].lo_base;
	ASSERT_TRUE(alb_sg_allows(m, 0, base | 0x0105, 80));
	ASSERT_TRUE(!alb_sg_allows(m, 0, base | 0x0205, 80));
	ASSERT_TRUE(!alb_sg_allows(m, 0, base | 0x0105, 81));
	ASSERT_TRUE(alb_sg_allows(m, 0, 0x7f000001, 80)); /* the machine itself */
	ASSERT_TRUE(!alb_sg_allows(m, 0, 0x7f000002, 80));
	ASSERT_EQ(alb_src_vpc(m, base | 0x0209), 0x0a000209);
	model_free(m);
}

static void test_redirect_defaults(void)
{
	struct model_action a = {.type = MODEL_ACTION_REDIRECT, .status = 302};
	char url[256];
	struct alb_redirect_in in = {"HTTP", sl("h.example.com"), 80, sl("/a"), {NULL, 0}};
	a.rd_protocol = "HTTPS";
	ASSERT_EQ(alb_redirect_url(&a, &in, url, sizeof(url)), 26);
	ASSERT_STR_EQ(url, "https://h.example.com:80/a");
	a.rd_protocol = NULL;
	a.rd_path = "/#{host}/#{port}/#{protocol}";
	a.rd_query = "from=#{path}";
	alb_redirect_url(&a, &in, url, sizeof(url));
	ASSERT_STR_EQ(url, "http://h.example.com:80/h.example.com/80/http?from=a");
	ASSERT_EQ(alb_redirect_url(&a, &in, url, 10), -1);
}

static void expect_errors(const char *text, const char *const *needles)
{
	char *errs;
	struct model *m = load(text, &errs);
	ASSERT_TRUE(m == NULL);
	model_free(m);
	for (size_t i = 0; needles[i]; i++)
		ASSERT_STR_CONTAINS(errs, needles[i]);
	free(errs);
}

static void test_load_errors(void)
{
	expect_errors(
	    NET RULE("R1", "1",
	             "[{Field: path-pattern, Values: [/a, /b, /c, /d]}, {Field: host-header, "
	             "Values: [a.com, b.com]}]",
	             FWD0) RULE("R2", "2",
	                        "[{Field: path-pattern, Values: ['/a*?', '/b*?']}, {Field: "
	                        "host-header, Values: "
	                        "['*.a.com', '*.b.com']}, {Field: http-request-method, "
	                        "HttpRequestMethodConfig: {Values: [get]}}]",
	                        FWD0)
	        RULE("R3", "3",
	             "[{Field: path-pattern, PathPatternConfig: {RegexValues: ['(?=x)a', "
	             "'(a)\\1', 'a++']}}]",
	             FWD0) RULE("R4", "4",
	                        "[{Field: http-header, HttpHeaderConfig: {HttpHeaderName: Host, "
	                        "Values: [x]}}, {Field: source-ip, SourceIpConfig: {Values: "
	                        "[255.255.255.255/32]}}]",
	                        "[{Type: redirect, RedirectConfig: {Host: '#{host}', StatusCode: "
	                        "HTTP_301}}]")
	            RULE("R5", "5", "[{Field: path-pattern, Values: [/x]}]",
	                 "[{Type: fixed-response, FixedResponseConfig: {StatusCode: "
	                 "'302'}}]")
	                RULE("R6", "6", "[{Field: path-pattern, Values: [/y]}]",
	                     "[{Type: forward, ForwardConfig: {TargetGroups: "
	                     "[{TargetGroupArn: !Ref TG0, Weight: 1000}, {TargetGroupArn: "
	                     "!Ref TG1}]}}]")
	                    RULE("R7", "7", "[{Field: path-pattern, Values: [/z]}]",
	                         "[{Type: authenticate-oidc, Order: 1}, {Type: forward, "
	                         "TargetGroupArn: !Ref TG0, Order: 2}]"),
	    (const char *const[]){
	        "R1.Properties.Conditions[0].Values: a condition can have at most 3 match "
	        "evaluations, found 4",
	        "R1.Properties.Conditions: a rule can have at most 5 condition values, found 6",
	        "R2.Properties.Conditions: a rule can have at most 5 wildcard characters, found 6",
	        "R2.Properties.Conditions[2].HttpRequestMethodConfig.Values[0]: a method name",
	        "RegexValues[0]: regular expressions here do not support lookaheads",
	        "RegexValues[1]: regular expressions here do not support backreferences",
	        "RegexValues[2]: regular expressions here do not support possessive quantifiers",
	        "HttpHeaderName: You can't use an HTTP header condition to specify the host header",
	        "255.255.255.255/32 is not allowed",
	        "R4.Properties.Actions[0].RedirectConfig: a redirect must change at least one of "
	        "protocol, host, port or path",
	        "R5.Properties.Actions[0].FixedResponseConfig.StatusCode: StatusCode must match",
	        "R6.Properties.Actions[0].ForwardConfig.TargetGroups[0].Weight: must be 0..999",
	        "R6.Properties.Actions[0].ForwardConfig.TargetGroups[1]: with several target "
	        "groups each needs a Weight",
	        "R7.Properties.Actions[0].Type: action type authenticate-oidc is out of vpcd's "
	        "scope",
	        NULL});
}

static void test_action_errors(void)
{
	expect_errors(
	    NET
	    "  TLS: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
	    "!Ref LB, Port: 443, Protocol: HTTPS, Certificates: [{CertificateArn: x}],\n"
	    "      DefaultActions: [{Type: redirect, RedirectConfig: {Protocol: HTTP, Port: "
	    "'80', StatusCode: HTTP_302}}]}}\n" RULE(
	        "R1", "1", "[{Field: path-pattern, Values: [/a]}]",
	        "[{Type: forward, TargetGroupArn: !Ref TG0}, {Type: fixed-response, "
	        "FixedResponseConfig: {StatusCode: '200'}, Order: 2}]")
	        RULE("R2", "2", "[{Field: path-pattern, Values: [/b]}]",
	             "[{Type: redirect, Order: 1, RedirectConfig: {Path: 'x', StatusCode: "
	             "HTTP_301}}]") RULE("R3", "3",
	                                 "[{Field: path-pattern, Values: [/c]}, {Field: "
	                                 "path-pattern, Values: [/d]}]",
	                                 "[{Type: forward, ForwardConfig: {TargetGroups: "
	                                 "[{TargetGroupArn: !Ref TG0}], "
	                                 "TargetGroupStickinessConfig: {Enabled: true}}}]"),
	    (const char *const[]){
	        "TLS.Properties.DefaultActions[0].RedirectConfig.Protocol: You can't redirect "
	        "HTTPS "
	        "to HTTP",
	        "R1.Properties.Actions[0]: Order (1..50000) is required with several actions",
	        "R1.Properties.Actions[1]: a rule must have exactly one forward, fixed-response or "
	        "redirect action",
	        "R2.Properties.Actions[0].RedirectConfig.Path: Path must be absolute",
	        "R3.Properties.Conditions[1]: a rule can have only one path-pattern condition",
	        "R3.Properties.Actions[0].ForwardConfig.TargetGroupStickinessConfig: "
	        "DurationSeconds "
	        "(1..604800) is required",
	        NULL});
}

static void test_regex_scanner(void)
{
	ASSERT_TRUE(cfn__alb_regex_unsupported("^/a[0-9]+(b|c)?$") == NULL);
	ASSERT_TRUE(cfn__alb_regex_unsupported("[(?=]") == NULL); /* inside a class */
	ASSERT_TRUE(cfn__alb_regex_unsupported("(?:x)") == NULL);
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("a(?!b)"), "lookaheads");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("(?<=a)b"), "lookbehinds");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("(?>ab)"), "atomic groups");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("(a)(?1)"), "recursion and subroutines");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("(?R)"), "recursion and subroutines");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("\\p{L}"), "Unicode classes");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("a*+"), "possessive quantifiers");
	ASSERT_STR_EQ(cfn__alb_regex_unsupported("\\k<n>"), "backreferences and subroutines");
}

T_MAIN({
	T_RUN(test_wildcards);
	T_RUN(test_split_and_query);
	T_RUN(test_rules_from_template);
	T_RUN(test_redirect_defaults);
	T_RUN(test_load_errors);
	T_RUN(test_action_errors);
	T_RUN(test_regex_scanner);
})
