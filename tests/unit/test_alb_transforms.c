/*
 * ALB listener-rule transforms: the pure rewrite of route.c (groups, no
 * match, failed results, anchors, case, limits), both transforms of a rule
 * on a request, and the load errors and warning of a rule's Transforms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "alb/route.h"
#include "cfn/cfn.h"
#include "cfn_load.h"
#include "t.h"

/* A rewrite as cfn makes one; free with rw_free. */
static struct model_rewrite rw_make(const char *regex, const char *replace, bool caseless)
{
	struct model_rewrite rw = {0};
	int err;
	PCRE2_SIZE off;
	uint32_t groups = 0;
	rw.re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
	                      caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
	if (rw.re)
		pcre2_pattern_info(rw.re, PCRE2_INFO_CAPTURECOUNT, &groups);
	rw.ngroups = (int)groups;
	rw.replace = (char *)replace;
	return rw;
}

static void rw_free(struct model_rewrite *rw)
{
	pcre2_code_free(rw->re);
}

/* Runs one rewrite over in; returns its result code, the output in out. */
static int run(const char *regex, const char *replace, bool host, const char *in, char *out,
               size_t cap)
{
	struct model_rewrite rw = rw_make(regex, replace, host);
	size_t n = 0;
	int rc;
	ASSERT_TRUE(rw.re != NULL);
	if (!rw.re)
		return -2;
	rc = alb_rewrite(&rw, host, in, strlen(in), out, cap - 1, &n);
	out[rc > 0 ? n : 0] = 0;
	rw_free(&rw);
	return rc;
}

static void test_rewrite_groups(void)
{
	char out[256];
	/* AWS's own examples */
	ASSERT_EQ(run("^mywebsite-(.+).com$", "internal.dev.$1.myweb.com", true,
	              "mywebsite-example.com", out, sizeof(out)),
	          1);
	ASSERT_STR_EQ(out, "internal.dev.example.myweb.com");
	ASSERT_EQ(run("^/dp/([A-Za-z0-9]+)/?$", "/product.php?id=$1", false, "/dp/B09G3HRMVB", out,
	              sizeof(out)),
	          1);
	ASSERT_STR_EQ(out, "/product.php?id=B09G3HRMVB");
	/* several groups, ${N}, $$ and a lone $ */
	ASSERT_EQ(run("^/(\\w+)/(\\w+)$", "/${2}x/$1/$$/$a", false, "/ab/cd", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "/cdx/ab/$/$a");
	/* $0 is the whole match; an optional group that did not take part is empty */
	ASSERT_EQ(run("^/a(b)?(c)", "/[$0|$1|$2]", false, "/acd", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "/[/ac||c]d");
	/* the query string is part of what url-rewrite matches */
	ASSERT_EQ(run("^([^?]*)\\?v=(\\d+)$", "/v$2$1", false, "/items?v=2", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "/v2/items");
}

static void test_rewrite_match_rules(void)
{
	char out[256];
	/* no match: unchanged (0) */
	ASSERT_EQ(run("^/api/(.*)$", "/$1", false, "/web/x", out, sizeof(out)), 0);
	/* unanchored: the first match only is replaced, the rest stays */
	ASSERT_EQ(run("o", "0", false, "/foo/boo", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "/f0o/boo");
	/* anchors hold */
	ASSERT_EQ(run("^/x$", "/y", false, "/x/z", out, sizeof(out)), 0);
	ASSERT_EQ(run("^/x$", "/y", false, "/x", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "/y");
	/* url-rewrite is case-sensitive, host-header-rewrite is not */
	ASSERT_EQ(run("^/API", "/v2", false, "/api", out, sizeof(out)), 0);
	ASSERT_EQ(run("^OLD\\.example\\.com$", "new.example.com", true, "old.example.com", out,
	              sizeof(out)),
	          1);
	ASSERT_STR_EQ(out, "new.example.com");
	/* a host with a port keeps it unless the regex takes it */
	ASSERT_EQ(run("^a\\.", "b.", true, "a.example.com:8080", out, sizeof(out)), 1);
	ASSERT_STR_EQ(out, "b.example.com:8080");
}

static void test_rewrite_failures(void)
{
	char out[64];
	/* a group the regex does not have */
	ASSERT_EQ(run("^/(a)$", "/$2", false, "/a", out, sizeof(out)), -1);
	/* ... but not when the regex does not match at all */
	ASSERT_EQ(run("^/(a)$", "/$2", false, "/b", out, sizeof(out)), 0);
	/* not a request target */
	ASSERT_EQ(run("^/(.*)$", "$1", false, "/abc", out, sizeof(out)), -1);   /* no "/" */
	ASSERT_EQ(run("^/(.*)$", "/a b", false, "/abc", out, sizeof(out)), -1); /* space */
	ASSERT_EQ(run("^/(.*)$", "/a#b", false, "/abc", out, sizeof(out)), -1); /* fragment */
	ASSERT_EQ(run("^/(.*)$", "/%zz", false, "/abc", out, sizeof(out)), -1); /* bad escape */
	ASSERT_EQ(run("^/(.*)$", "/%2Fx", false, "/abc", out, sizeof(out)), 1);
	/* not a host */
	ASSERT_EQ(run("^.*$", "", true, "a.example.com", out, sizeof(out)), -1);
	ASSERT_EQ(run("^.*$", "a/b.com", true, "a.example.com", out, sizeof(out)), -1);
	ASSERT_EQ(run("^.*$", "a.com:http", true, "a.example.com", out, sizeof(out)), -1);
	ASSERT_EQ(run("^.*$", "a.com:8080", true, "a.example.com", out, sizeof(out)), 1);
	ASSERT_EQ(run("^.*$", "[::1]:80", true, "a.example.com", out, sizeof(out)), 1);
	/* longer than the room for it */
	ASSERT_EQ(run("^/(.*)$", "/$1$1$1$1$1$1$1$1", false, "/0123456789", out, sizeof(out)), -1);
}

#define NET                                                                                        \
	"Resources:\n"                                                                             \
	"  V1: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                      \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.1.0/24, "      \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.2.0/24, "      \
	"AvailabilityZone: us-east-1b}}\n"                                                         \
	"  TG0: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, "    \
	"Port: 80, VpcId: !Ref V1}}\n"                                                             \
	"  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: [!Ref A, "  \
	"!Ref B]}}\n"                                                                              \
	"  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref "   \
	"LB, Port: 80, Protocol: HTTP,\n"                                                          \
	"      DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG0}]}}\n"

#define RULE(name, prio, transforms)                                                               \
	"  " name ": {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: " \
	"!Ref L, Priority: " prio                                                                  \
	",\n      Conditions: [{Field: path-pattern, Values: ['/*']}],\n"                          \
	"      Actions: [{Type: forward, TargetGroupArn: !Ref TG0}],\n      "                      \
	"Transforms: " transforms "}}\n"

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("mystack", text, errs);
}

static struct http_slice sl(const char *s)
{
	return (struct http_slice){s, strlen(s)};
}

static void test_rule_transforms(void)
{
	char *errs = NULL;
	struct model *m = load(
	    NET RULE("R", "1",
	             "[{Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: [{Regex: "
	             "'^(\\w+)\\.example\\.com$', Replace: 'svc-$1.internal'}]}},\n"
	             "        {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "
	             "'^/api/(.*)$', Replace: '/v2/$1'}]}}]"),
	    &errs);
	ASSERT_TRUE(m != NULL);
	if (!m) {
		fprintf(stderr, "%s", errs);
		free(errs);
		return;
	}
	ASSERT_EQ(m->nrules, 1);
	const struct model_rule *ru = &m->rules[0];
	ASSERT_STR_EQ(ru->host_rw.replace, "svc-$1.internal");
	ASSERT_EQ(ru->host_rw.ngroups, 1);
	ASSERT_STR_EQ(ru->url_rw.regex, "^/api/(.*)$");
	/* the action alb_route_req gives back leads to its rule */
	ASSERT_TRUE(alb_action_rule(m, 0, &ru->action) == ru);
	ASSERT_TRUE(alb_action_rule(m, 0, &m->listeners[0].default_action) == NULL);

	struct alb_rewritten *out = malloc(sizeof(*out));
	ASSERT_EQ(alb_transform(ru, "Shop.example.com", 16, sl("/api/items?id=7"), out), 0);
	ASSERT_TRUE(out->host_set && out->url_set);
	ASSERT_EQ(out->hostlen, 17);
	ASSERT_TRUE(memcmp(out->host, "svc-Shop.internal", 17) == 0);
	ASSERT_EQ(out->urllen, 14);
	ASSERT_TRUE(memcmp(out->url, "/v2/items?id=7", 14) == 0);
	/* absolute form: the path and query are what is matched; a fragment is not */
	ASSERT_EQ(alb_transform(ru, NULL, 0, sl("http://h.example.com/api/x#frag"), out), 0);
	ASSERT_TRUE(!out->host_set && out->url_set);
	ASSERT_EQ(out->urllen, 5);
	ASSERT_TRUE(memcmp(out->url, "/v2/x", 5) == 0);
	/* neither matches: nothing changes */
	ASSERT_EQ(alb_transform(ru, "other.net", 9, sl("/web"), out), 0);
	ASSERT_TRUE(!out->host_set && !out->url_set);
	free(out);
	free(errs);
	model_free(m);
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

static void test_transform_load_errors(void)
{
	expect_errors(
	    NET RULE(
	        "R1", "1",
	        "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: a, Replace: b}]}},\n"
	        "        {Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: c, Replace: "
	        "d}]}}]") RULE("R2", "2",
	                       "[{Type: path-rewrite}, {Type: host-header-rewrite, "
	                       "UrlRewriteConfig: {Rewrites: []}}]")
	        RULE("R3", "3",
	             "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: a, Replace: b}, "
	             "{Regex: c, Replace: d}]}}]")
	            RULE("R4", "4",
	                 "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: '(?=x)a', "
	                 "Replace: b}]}}, {Type: host-header-rewrite, HostHeaderRewriteConfig: "
	                 "{Rewrites: [{Regex: '(a', Replace: b}]}}]")
	                RULE("R5", "5",
	                     "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Replace: b}]}}, "
	                     "{Type: host-header-rewrite, HostHeaderRewriteConfig: {Rewrites: "
	                     "[{Regex: '', Replace: b}]}}]") RULE("R6", "6", "{Type: url-rewrite}")
	                    RULE("R7", "7",
	                         "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "
	                         "'(a)\\1', Replace: b, Flags: i}]}}]"),
	    (const char *const[]){
	        "t.yaml:13:9: error: Resources.R1.Properties.Transforms[1]: a rule can have only "
	        "one "
	        "url-rewrite transform",
	        "R2.Properties.Transforms[0].Type: ",
	        "R2.Properties.Transforms[1].UrlRewriteConfig: UrlRewriteConfig does not go with "
	        "Type host-header-rewrite",
	        "R2.Properties.Transforms[1]: a host-header-rewrite transform needs "
	        "HostHeaderRewriteConfig",
	        "R3.Properties.Transforms[0].UrlRewriteConfig.Rewrites: a transform has exactly "
	        "one "
	        "rewrite (Regex and Replace), found 2",
	        "R4.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0].Regex: regular "
	        "expressions here do not support lookaheads",
	        "R4.Properties.Transforms[1].HostHeaderRewriteConfig.Rewrites[0].Regex: invalid "
	        "regular expression at offset 2",
	        "R5.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0]: missing required "
	        "property Regex",
	        "R5.Properties.Transforms[1].HostHeaderRewriteConfig.Rewrites[0].Regex: a rewrite "
	        "Regex has 1..1024 characters, found 0",
	        "R6.Properties.Transforms: ",
	        "R7.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0].Flags: unknown property",
	        "R7.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0].Regex: regular "
	        "expressions here do not support backreferences",
	        NULL});
	/* a group the Regex does not have: a warning (AWS documents no check),
	 * the template loads */
	char *errs = NULL;
	struct model *m =
	    load(NET RULE("R", "1",
	                  "[{Type: url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: "
	                  "'^/(a)$', Replace: '/${3}'}]}}]"),
	         &errs);
	ASSERT_TRUE(m != NULL);
	ASSERT_STR_CONTAINS(
	    errs, "warning: Resources.R.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0]."
	          "Replace: Replace names group $3 but the Regex has 1 capture "
	          "group; a request it matches gets a 500");
	free(errs);
	model_free(m);
	/* the default rule (a listener) has no Transforms */
	expect_errors(NET "  L2: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: "
	                  "{LoadBalancerArn: !Ref LB, Port: 81, Protocol: HTTP,\n"
	                  "      DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG0}],\n"
	                  "      Transforms: [{Type: url-rewrite}]}}\n",
	              (const char *const[]){
	                  "t.yaml:11:19: error: Resources.L2.Properties.Transforms: unknown "
	                  "property: a listener has no Transforms (AWS: \"You "
	                  "can't add a transform to a default rule\")",
	                  NULL});
}

T_MAIN({
	T_RUN(test_rewrite_groups);
	T_RUN(test_rewrite_match_rules);
	T_RUN(test_rewrite_failures);
	T_RUN(test_rule_transforms);
	T_RUN(test_transform_load_errors);
})
