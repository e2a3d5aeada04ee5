/*
 * The template language beyond one resource: every parameter constraint,
 * where functions may appear, Fn::ImportValue across stacks, nested stacks,
 * the schemas of accepted-with-no-effect types, --allow-unknown, the
 * checks cfn-lint lacks, and the aws cli parameters file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfn/cfn.h"
#include "t.h"

struct run {
	struct model *m;
	char *errs; /* everything printed, "" when nothing */
};

static struct run run_opts(const char *text, struct cfn_options *o)
{
	struct run r = {0};
	size_t len = 0;
	FILE *f = open_memstream(&r.errs, &len);
	int rc = cfn_load_buf("t.yaml", text, strlen(text), o, &r.m, f);
	fclose(f);
	if (rc && r.m)
		T_FAIL("error count %d but a model", rc);
	if (!rc && !r.m)
		T_FAIL("no error and no model");
	return r;
}

static struct run run_params(const char *text, const char *const *params, size_t n)
{
	struct cfn_options o;
	cfn_options_default(&o);
	o.params = params;
	o.nparams = n;
	return run_opts(text, &o);
}

static void run_free(struct run *r)
{
	model_free(r->m);
	free(r->errs);
}

/* text must fail with an error containing want. */
#define ASSERT_ERR_P(text, params, n, want)                                                        \
	do {                                                                                       \
		struct run r_ = run_params(text, params, n);                                       \
		ASSERT_TRUE(r_.m == NULL);                                                         \
		ASSERT_STR_CONTAINS(r_.errs, want);                                                \
		run_free(&r_);                                                                     \
	} while (0)
#define ASSERT_ERR(text, want) ASSERT_ERR_P(text, NULL, 0, want)
#define ASSERT_OK_P(text, params, n)                                                               \
	do {                                                                                       \
		struct run r_ = run_params(text, params, n);                                       \
		ASSERT_STR_EQ(r_.errs, "");                                                        \
		ASSERT_TRUE(r_.m != NULL);                                                         \
		run_free(&r_);                                                                     \
	} while (0)
#define ASSERT_OK(text) ASSERT_OK_P(text, NULL, 0)

#define RES "Resources:\n  C: {Type: AWS::ECS::Cluster}\n"

/* A parameter P of the given definition, given the value v (NULL: its Default). */
static void param_case(const char *def, const char *v, const char *want_err)
{
	char text[1024], kv[256];
	snprintf(text, sizeof(text), "Parameters:\n  P: %s\n" RES, def);
	const char *params[1] = {kv};
	if (v)
		snprintf(kv, sizeof(kv), "P=%s", v);
	if (want_err)
		ASSERT_ERR_P(text, params, v ? 1 : 0, want_err);
	else
		ASSERT_OK_P(text, params, v ? 1 : 0);
}

static void test_param_types(void)
{
	param_case("{Type: Number}", "42", NULL);
	param_case("{Type: Number}", "-1.5e3", NULL);
	param_case("{Type: Number}", "4x", "Parameter 'P' must be a number, found \"4x\"");
	param_case("{Type: List<Number>}", "1, 2,3", NULL);
	param_case("{Type: List<Number>}", "1,b", "must be a number, found \"b\"");
	param_case("{Type: CommaDelimitedList}", "a, b ,c", NULL);
	param_case("{Type: AWS::EC2::Subnet::Id}", "subnet-0123456789abcdef0", NULL);
	param_case("{Type: AWS::EC2::Subnet::Id}", "vpc-0123",
	           "parameter value vpc-0123 for parameter name P does not exist");
	param_case("{Type: List<AWS::EC2::Subnet::Id>}", "subnet-1,subnet-2", NULL);
	param_case("{Type: List<AWS::EC2::Subnet::Id>}", "subnet-1,sg-2",
	           "parameter value sg-2 for parameter name P does not exist");
	param_case("{Type: AWS::EC2::VPC::Id}", "vpc-12345678", NULL);
	param_case("{Type: AWS::EC2::SecurityGroup::Id}", "sg-", "does not exist");
	param_case("{Type: AWS::EC2::AvailabilityZone::Name}", "us-east-1f", NULL);
	param_case("{Type: AWS::EC2::AvailabilityZone::Name}", "us-east-1z",
	           "not an availability zone of us-east-1");
	param_case("{Type: AWS::EC2::KeyPair::KeyName}", "my-key", NULL);
	param_case("{Type: AWS::SSM::Parameter::Value<String>}", "x", NULL);
	param_case("{Type: AWS::SSM::Parameter::Value<String>}", NULL,
	           "an SSM parameter type always needs a value here");
	param_case("{Type: Strng, Default: x}", NULL, "unknown parameter type Strng");
	param_case("{Type: List<AWS::EC2::KeyPair::KeyName>, Default: x}", NULL,
	           "unknown parameter type");
	param_case("{Default: x}", NULL, "every parameter needs a Type");
	param_case("{Type: String, Default: !Ref AWS::Region}", NULL,
	           "Parameters.P.Default: Template format error: a parameter's Default is a "
	           "literal; Ref cannot be used in Parameters");
}

static void test_param_constraints(void)
{
	param_case("{Type: String, AllowedValues: [dev, prod]}", "prod", NULL);
	param_case("{Type: String, AllowedValues: [dev, prod]}", "test",
	           "Parameter 'P' must be one of AllowedValues");
	/* PCRE: \d and a whole-value match (a prefix match is not enough). */
	param_case("{Type: String, AllowedPattern: '\\d+'}", "123", NULL);
	param_case("{Type: String, AllowedPattern: '\\d+'}", "123a",
	           "Malformed input-Parameter P must match pattern \\d+");
	param_case("{Type: String, AllowedPattern: '[a-z]+', ConstraintDescription: lower-case "
	           "letters only}",
	           "AB", "Malformed input-Parameter P lower-case letters only");
	param_case("{Type: CommaDelimitedList, AllowedPattern: '[a-z]+'}", "ab, cd", NULL);
	param_case("{Type: CommaDelimitedList, AllowedPattern: '[a-z]+'}", "ab,c1",
	           "Malformed input-Parameter P");
	param_case("{Type: String, AllowedPattern: '(', Default: x}", NULL,
	           "invalid regular expression");
	param_case("{Type: String, MinLength: 3}", "ab",
	           "Parameter 'P' must contain at least 3 characters");
	param_case("{Type: String, MaxLength: 3}", "abcd",
	           "Parameter 'P' must contain at most 3 characters");
	param_case("{Type: String, MinLength: 2, MaxLength: 3}", "abc", NULL);
	param_case("{Type: Number, MinValue: 1}", "0",
	           "Parameter 'P' must be a number not less than 1");
	param_case("{Type: Number, MaxValue: 10}", "10.5",
	           "Parameter 'P' must be a number not greater than 10");
	param_case("{Type: Number, MinValue: 1, MaxValue: 10}", "10", NULL);
	param_case("{Type: String, NoEcho: true, Default: secret}", NULL, NULL);
	param_case("{Type: String, Defualt: x}", "v", "unknown parameter property (did you mean "
	                                              "Default?)");
}

static void test_param_missing_all_in_one(void)
{
	struct run r = run_params("Parameters:\n  A: {Type: String}\n  B: {Type: Number}\n"
	                          "  C: {Type: String, Default: c}\n" RES,
	                          NULL, 0);
	ASSERT_STR_EQ(r.errs, "t.yaml:2:3: error: Parameters: [A, B] must have values (give them "
	                      "with --param KEY=VALUE or --params FILE)\n");
	run_free(&r);
	const char *p[] = {"A=x", "X=1"};
	ASSERT_ERR_P("Parameters:\n  A: {Type: String}\n" RES, p, 2,
	             "--param X: the template has no parameter X");
}

static void test_placement(void)
{
	/* Fn::If only where AWS allows it: not in Conditions. */
	ASSERT_ERR("Conditions:\n  A: !Equals [!If [B, x, y], x]\n  B: !Equals [a, a]\n" RES,
	           "Fn::If can be used only in Resources Properties, Metadata, UpdatePolicy and "
	           "Outputs");
	/* Conditions name parameters, not resources. */
	ASSERT_ERR("Conditions:\n  A: !Equals [!Ref C, x]\n" RES,
	           "Conditions can refer only to parameters, not to the resource C");
	ASSERT_ERR("Conditions:\n  A: !Equals [!GetAtt C.Arn, x]\n" RES,
	           "Conditions can refer only to parameters, not to the resource C");
	/* Condition functions only in Conditions (and in Fn::If by name). */
	ASSERT_ERR(RES "Outputs:\n  O: {Value: !Equals [a, b]}\n",
	           "Fn::Equals can be used only in Conditions");
	/* An Export Name may not depend on a resource. */
	ASSERT_ERR(RES "Outputs:\n  O: {Value: x, Export: {Name: !Ref C}}\n",
	           "an Export Name can refer only to parameters, not to the resource C");
	ASSERT_OK(RES "Outputs:\n  O: {Value: !Ref C, Export: {Name: !Sub '${AWS::StackName}-c'}}\n");
	/* Mappings hold literals. */
	ASSERT_ERR("Mappings:\n  M: {a: {b: !Ref AWS::Region}}\n" RES,
	           "Every Mappings attribute must be a String or a List (no functions)");
	ASSERT_ERR("Mappings:\n  M: {a: x}\n" RES, "a top-level key of a mapping must hold");
	ASSERT_OK("Mappings:\n  M: {a: {b: [x, y], c: z}}\n" RES);
	/* Fn::ImportValue is not for Conditions. */
	ASSERT_ERR("Conditions:\n  A: !Equals [!ImportValue x, y]\n" RES,
	           "Fn::ImportValue cannot be used in Conditions");
	/* Fn::If with AWS::NoValue removes the property; in Outputs too. */
	ASSERT_OK("Conditions:\n  No: !Equals [a, b]\n" RES
	          "Outputs:\n  O: {Value: !If [No, x, !Ref AWS::NoValue]}\n");
}

static void test_rules(void)
{
	static const char t[] =
	    "Parameters:\n"
	    "  Env: {Type: String, Default: dev}\n"
	    "  Size: {Type: String, Default: small}\n"
	    "  Subs: {Type: CommaDelimitedList, Default: 'a,b'}\n"
	    "Rules:\n"
	    "  ProdIsBig:\n"
	    "    RuleCondition: !Equals [!Ref Env, prod]\n"
	    "    Assertions:\n"
	    "      - Assert: !Not [!Equals [!Ref Size, small]]\n"
	    "        AssertDescription: prod needs a big size\n"
	    "  KnownSubnets:\n"
	    "    Assertions:\n"
	    "      - Assert: {'Fn::EachMemberIn': [!Ref Subs, [a, b, c]]}\n"
	    "      - Assert: {'Fn::Contains': [[dev, prod], !Ref Env]}\n" RES;
	ASSERT_OK(t);
	const char *prod[] = {"Env=prod"};
	ASSERT_ERR_P(t, prod, 1,
	             "t.yaml:9:17: error: Rules.ProdIsBig.Assertions[0].Assert: Template error: rule "
	             "ProdIsBig failed: prod needs a big size");
	const char *ok[] = {"Env=prod", "Size=large"};
	ASSERT_OK_P(t, ok, 2);
	const char *subs[] = {"Subs=a,d"};
	ASSERT_ERR_P(t, subs, 1, "rule KnownSubnets failed: an assertion is false");
	const char *env[] = {"Env=test"};
	ASSERT_ERR_P(t, env, 1, "rule KnownSubnets failed");
	ASSERT_ERR("Rules:\n  R: {Assertions: [{Assert: {'Fn::EachMemberEquals': [[a, a], b]}}]}\n" RES,
	           "rule R failed");
	ASSERT_ERR("Rules:\n  R: {Assertions: [{Assert: {'Fn::Contians': [[a], a]}}]}\n" RES,
	           "Fn::Contians is not a rule function (did you mean Fn::Contains?)");
	ASSERT_ERR("Rules:\n  R: {Assertions: [{Assert: !Equals [!Ref C, x]}]}\n" RES,
	           "Rules can refer only to parameters, not to the resource C");
	ASSERT_ERR("Rules:\n  R: {RuleCondition: !Equals [a, a]}\n" RES,
	           "missing required rule property Assertions");
}

static void test_limits(void)
{
	size_t cap = 600 * 40 + 64, o = 0;
	char *t = malloc(cap);
	o += (size_t)snprintf(t + o, cap - o, "Resources:\n");
	for (int i = 0; i < 501; i++)
		o += (size_t)snprintf(t + o, cap - o, "  C%d: {Type: AWS::ECS::Cluster}\n", i);
	ASSERT_ERR(t, "Template format error: Number of resources, 501, is greater than maximum "
	              "allowed, 500");
	free(t);
}

static void test_pseudo_and_cidr(void)
{
	struct cfn_options o;
	cfn_options_default(&o);
	o.region = "eu-west-1";
	o.stack_name = "net";
	struct run r = run_opts(
	    RES "Outputs:\n"
	        "  A: {Value: !Sub '${AWS::Region}/${AWS::StackName}/${AWS::AccountId}/"
	        "${AWS::Partition}/${AWS::URLSuffix}'}\n"
	        "  B: {Value: !Join [',', !GetAZs '']}\n"
	        "  C: {Value: !Select [3, !Cidr [10.0.0.0/16, 4, 8]]}\n"
	        "  D: {Value: !Join [',', !Cidr [10.0.0.0/16, 2, 12]]}\n"
	        "  E: {Value: !Select [0, !Split ['/', !Ref AWS::StackId]]}\n",
	    &o);
	ASSERT_STR_EQ(r.errs, "");
	if (r.m) {
		ASSERT_EQ(r.m->noutputs, 5);
		ASSERT_STR_EQ(r.m->outputs[0].value, "eu-west-1/net/123456789012/aws/amazonaws.com");
		ASSERT_STR_EQ(r.m->outputs[1].value, "eu-west-1a,eu-west-1b,eu-west-1c");
		ASSERT_STR_EQ(r.m->outputs[2].value, "10.0.3.0/24");
		ASSERT_STR_EQ(r.m->outputs[3].value, "10.0.0.0/20,10.0.16.0/20");
		ASSERT_STR_EQ(r.m->outputs[4].value, "arn:aws:cloudformation:eu-west-1:123456789012:stack");
	}
	run_free(&r);
	ASSERT_ERR(RES "Outputs:\n  O: {Value: !Join [',', !Cidr [10.0.0.0/16, 0, 8]]}\n",
	           "Fn::Cidr: count must be 1..256");
	ASSERT_ERR(RES "Outputs:\n  O: {Value: !Join [',', !Cidr [10.0.0.0/16, 1, 17]]}\n",
	           "Fn::Cidr: cidrBits must be 1..16");
}

/* ---------- several stacks ---------- */

static char tmpdir[64];

static const char *write_tmp(const char *name, const char *text)
{
	static char paths[8][128];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 128, "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	if (!f) {
		T_FAIL("cannot write %s", p);
		return p;
	}
	fputs(text, f);
	fclose(f);
	return p;
}

static struct run run_many(const char *const *paths, size_t n, struct cfn_options *o)
{
	struct run r = {0};
	size_t len = 0;
	FILE *f = open_memstream(&r.errs, &len);
	int rc = cfn_load_many(paths, n, o, &r.m, f);
	fclose(f);
	if (rc && r.m)
		T_FAIL("error count %d but a model", rc);
	return r;
}

static const char net_yaml[] =
    "Resources:\n"
    "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.1.0.0/16}}\n"
    "  S1: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.1.0.0/24, "
    "AvailabilityZone: us-east-1a}}\n"
    "Outputs:\n"
    "  Vpc: {Value: !Ref V, Export: {Name: !Sub '${AWS::StackName}-vpc'}}\n"
    "  Subnet: {Value: !Ref S1, Export: {Name: net-subnet}}\n";

static void test_import_value(void)
{
	const char *paths[2];
	paths[0] = write_tmp("net.yaml", net_yaml);
	paths[1] = write_tmp("app.yaml",
	                     "Resources:\n"
	                     "  SG: {Type: AWS::EC2::SecurityGroup, Properties: "
	                     "{GroupDescription: d, VpcId: !ImportValue net-vpc}}\n"
	                     "Outputs:\n"
	                     "  Sub: {Value: !ImportValue net-subnet}\n");
	struct cfn_options o;
	cfn_options_default(&o);
	struct run r = run_many(paths, 2, &o);
	ASSERT_STR_EQ(r.errs, "");
	if (r.m) {
		ASSERT_EQ(r.m->nvpcs, 1);
		ASSERT_EQ(r.m->nsgs, 1);
		ASSERT_EQ(r.m->sgs[0].vpc, 0); /* the other stack's VPC, not a default one */
		ASSERT_EQ(r.m->noutputs, 3);
		ASSERT_STR_EQ(r.m->outputs[0].export_name, "net-vpc");
		ASSERT_STR_EQ(r.m->outputs[2].value, r.m->subnets[0].id);
	}
	run_free(&r);
	/* Order matters: an import of a stack named later is missing. */
	const char *rev[2] = {paths[1], paths[0]};
	r = run_many(rev, 2, &o);
	ASSERT_STR_CONTAINS(r.errs, "No export named net-vpc found");
	ASSERT_TRUE(r.m == NULL);
	run_free(&r);
	/* Two stacks exporting one name. */
	const char *dup[2] = {paths[0], write_tmp("net2.yaml", net_yaml)};
	r = run_many(dup, 2, &o);
	ASSERT_STR_CONTAINS(r.errs, "Export with name net-subnet is already exported by stack net");
	ASSERT_STR_CONTAINS(r.errs, "/net2.yaml:");
	run_free(&r);
	/* --param goes to every stack that declares it; one no stack declares is an error. */
	const char *pv[1] = {"Nope=1"};
	o.params = pv;
	o.nparams = 1;
	r = run_many(paths, 2, &o);
	ASSERT_STR_CONTAINS(r.errs, "--param Nope: no stack has a parameter Nope");
	run_free(&r);
	o.params = NULL;
	o.nparams = 0;
	/* Errors name the file they are in. */
	const char *bad[2] = {paths[0],
	                      write_tmp("bad.yaml", "Resources:\n  X: {Type: AWS::ECS::Clust}\n")};
	r = run_many(bad, 2, &o);
	ASSERT_STR_CONTAINS(r.errs, "/bad.yaml:2:13: error: Resources.X.Type: unknown resource type");
	run_free(&r);
}

static void test_nested_stack(void)
{
	write_tmp("child.yaml", "Parameters:\n  Cidr: {Type: String}\n"
	                        "Resources:\n"
	                        "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: !Ref Cidr}}\n"
	                        "Outputs:\n  VpcId: {Value: !Ref V}\n");
	const char *parent = write_tmp(
	    "parent.yaml", "Resources:\n"
	                   "  Net: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: "
	                   "child.yaml, Parameters: {Cidr: 10.9.0.0/16}}}\n"
	                   "  SG: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: "
	                   "d, VpcId: !GetAtt Net.Outputs.VpcId}}\n");
	struct cfn_options o;
	cfn_options_default(&o);
	struct run r = run_many(&parent, 1, &o);
	ASSERT_STR_EQ(r.errs, "");
	if (r.m) {
		ASSERT_EQ(r.m->nvpcs, 1);
		ASSERT_EQ(r.m->vpcs[0].cidr.prefix, 16);
		ASSERT_EQ(r.m->sgs[0].vpc, 0);
	}
	run_free(&r);
	/* An https URL needs --template-map. */
	const char *url = write_tmp(
	    "url.yaml", "Resources:\n"
	                "  Net: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: "
	                "'https://s3.amazonaws.com/b/child.yaml', Parameters: {Cidr: 10.9.0.0/16}}}\n");
	r = run_many(&url, 1, &o);
	ASSERT_STR_CONTAINS(r.errs, "vpcd does not fetch templates; map it to a local file with "
	                            "--template-map https://s3.amazonaws.com/b/child.yaml=FILE");
	run_free(&r);
	char map[256];
	snprintf(map, sizeof(map), "https://s3.amazonaws.com/b/child.yaml=%s/child.yaml", tmpdir);
	const char *maps[1] = {map};
	o.template_map = maps;
	o.ntemplate_map = 1;
	r = run_many(&url, 1, &o);
	ASSERT_STR_EQ(r.errs, "");
	run_free(&r);
	/* A parameter the child lacks, and a missing file. */
	const char *bad = write_tmp(
	    "badp.yaml", "Resources:\n"
	                 "  Net: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: "
	                 "child.yaml, Parameters: {Cidr: 10.9.0.0/16, Nope: x}}}\n"
	                 "  N2: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: "
	                 "none.yaml}}\n");
	cfn_options_default(&o);
	r = run_many(&bad, 1, &o);
	ASSERT_STR_CONTAINS(r.errs, "Parameters: [Nope] do not exist in the template");
	ASSERT_STR_CONTAINS(r.errs, "none.yaml: cannot open");
	run_free(&r);
	/* A template nesting itself stops. */
	const char *self = write_tmp("self.yaml", "Resources:\n  Me: {Type: "
	                                          "AWS::CloudFormation::Stack, Properties: "
	                                          "{TemplateURL: self.yaml}}\n");
	r = run_many(&self, 1, &o);
	ASSERT_STR_CONTAINS(r.errs, "nested stacks deeper than 8 levels");
	run_free(&r);
}

/* Two nested stacks of one child template under a parent whose cluster
 * they use: each child's resources are built where its stack comes in the
 * parent's order (after the cluster), and the plan gives each its own line. */
static void test_nested_stack_order(void)
{
	write_tmp("svc.yaml",
	          "Parameters:\n  Cluster: {Type: String}\n  Vpc: {Type: String}\n"
	          "  Listener: {Type: String}\n  Path: {Type: String}\n"
	          "  Prio: {Type: Number}\n"
	          "Resources:\n"
	          "  TD: {Type: AWS::ECS::TaskDefinition, Properties: {Family: !Ref Path, "
	          "ContainerDefinitions: [{Name: web, Image: x, Command: [true], Memory: 64, "
	          "PortMappings: [{ContainerPort: 80}]}]}}\n"
	          "  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, "
	          "Protocol: HTTP, VpcId: !Ref Vpc}}\n"
	          "  Rule: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref Listener, Priority: !Ref Prio, Conditions: [{Field: "
	          "path-pattern, Values: [!Sub '/${Path}']}], Actions: [{Type: forward, "
	          "TargetGroupArn: !Ref TG}]}}\n"
	          "  Svc: {Type: AWS::ECS::Service, DependsOn: Rule, Properties: {Cluster: "
	          "!Ref Cluster, TaskDefinition: !Ref TD, DesiredCount: 1, LoadBalancers: "
	          "[{ContainerName: web, ContainerPort: 80, TargetGroupArn: !Ref TG}]}}\n");
	char text[4096];
	snprintf(text, sizeof(text),
	         "%s"
	         "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: "
	         "internal, Subnets: [!Ref S1, !Ref S2]}}\n"
	         "  DTG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, "
	         "Protocol: HTTP, VpcId: !Ref V}}\n"
	         "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: "
	         "{LoadBalancerArn: !Ref LB, Port: 80, Protocol: HTTP, DefaultActions: [{Type: "
	         "forward, TargetGroupArn: !Ref DTG}]}}\n"
	         "  C: {Type: AWS::ECS::Cluster}\n"
	         "  A: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: svc.yaml, "
	         "Parameters: {Cluster: !Ref C, Vpc: !Ref V, Listener: !Ref L, Path: a, Prio: 1}}}\n"
	         "  B: {Type: AWS::CloudFormation::Stack, Properties: {TemplateURL: svc.yaml, "
	         "Parameters: {Cluster: !Ref C, Vpc: !Ref V, Listener: !Ref L, Path: b, Prio: 2}}}\n",
	         "Resources:\n"
	         "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	         "  S1: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: "
	         "10.0.0.0/24, AvailabilityZone: us-east-1a}}\n"
	         "  S2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: "
	         "10.0.1.0/24, AvailabilityZone: us-east-1b}}\n");
	const char *parent = write_tmp("two.yaml", text);
	struct cfn_options o;
	cfn_options_default(&o);
	struct run r = run_many(&parent, 1, &o);
	ASSERT_STR_EQ(r.errs, "");
	if (r.m) {
		ASSERT_EQ(r.m->nservices, 2);
		ASSERT_EQ(r.m->services[0].cluster, 0);
		char *plan = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&plan, &len);
		cfn_plan_print(r.m, f);
		fclose(f);
		/* One task definition per line, each stack's own. */
		ASSERT_STR_CONTAINS(plan, "AWS::ECS::TaskDefinition                   a:1, 1 "
		                          "container web [true]\n");
		ASSERT_STR_CONTAINS(plan, "AWS::ECS::TaskDefinition                   b:1, 1 "
		                          "container web [true]\n");
		ASSERT_STR_CONTAINS(plan, "priority 2 path /b -> forward to ");
		ASSERT_TRUE(strstr(plan, "cluster \"") < strstr(plan, "a:1, 1 container"));
		free(plan);
	}
	run_free(&r);
}

/* ---------- schemas and --allow-unknown ---------- */

static void test_schemas(void)
{
	ASSERT_OK("Resources:\n  Cert: {Type: AWS::CertificateManager::Certificate, Properties: "
	          "{DomainName: a.example.com, ValidationMethod: DNS}}\n"
	          "Outputs:\n  A: {Value: !Ref Cert}\n");
	ASSERT_ERR("Resources:\n  Cert: {Type: AWS::CertificateManager::Certificate, Properties: "
	           "{ValidationMethod: DNS}}\n",
	           "missing required property DomainName");
	ASSERT_ERR("Resources:\n  Cert: {Type: AWS::CertificateManager::Certificate, Properties: "
	           "{DomainName: a.example.com, ValidationMethod: DSN}}\n",
	           "must be one of DNS, EMAIL; found \"DSN\" (did you mean DNS?)");
	ASSERT_ERR("Resources:\n  N: {Type: AWS::ServiceDiscovery::PrivateDnsNamespace, "
	           "Properties: {Name: local}}\n",
	           "missing required property Vpc");
	ASSERT_OK("Resources:\n  N: {Type: AWS::ServiceDiscovery::PrivateDnsNamespace, "
	          "Properties: {Name: local, Vpc: vpc-1}}\n"
	          "  S: {Type: AWS::ServiceDiscovery::Service, Properties: {Name: web, "
	          "DnsConfig: {NamespaceId: !GetAtt N.Id, DnsRecords: [{Type: A, TTL: 60}]}}}\n");
	ASSERT_ERR("Resources:\n  S: {Type: AWS::ServiceDiscovery::Service, Properties: "
	           "{DnsConfig: {DnsRecords: [{Type: MX, TTL: 60}]}}}\n",
	           "must be one of A, AAAA, CNAME, SRV; found \"MX\"");
	const char *target = "Resources:\n  T: {Type: AWS::ApplicationAutoScaling::ScalableTarget, "
	                     "Properties: {MinCapacity: %s, MaxCapacity: 4, ResourceId: "
	                     "service/c/web, ScalableDimension: ecs:service:DesiredCount, "
	                     "ServiceNamespace: %s}}\n";
	char t[512];
	snprintf(t, sizeof(t), target, "1", "ecs");
	{
		/* valid, but no service c/web here: a warning, no effect */
		struct run r_ = run_params(t, NULL, 0);
		ASSERT_TRUE(r_.m != NULL);
		ASSERT_STR_CONTAINS(r_.errs, "warning: Resources.T.Properties.ResourceId: "
		                             "service/c/web names no ECS service of the template");
		run_free(&r_);
	}
	snprintf(t, sizeof(t), target, "5", "ecs");
	ASSERT_ERR(t, "Minimum capacity cannot be greater than maximum capacity (5 > 4)");
	snprintf(t, sizeof(t), target, "1", "ec2");
	ASSERT_ERR(t, "ecs:service:DesiredCount is not a dimension of the service namespace ec2");
	snprintf(t, sizeof(t), target, "1", "ecss");
	ASSERT_ERR(t, "(did you mean ecs?)");
	ASSERT_ERR("Resources:\n  P: {Type: AWS::ApplicationAutoScaling::ScalingPolicy, "
	           "Properties: {PolicyName: p, PolicyType: TargetTrackingScaling, "
	           "ScalingTargetId: x}}\n",
	           "a TargetTrackingScaling policy needs TargetTrackingScalingPolicyConfiguration");
	ASSERT_OK("Resources:\n  P: {Type: AWS::ApplicationAutoScaling::ScalingPolicy, "
	          "Properties: {PolicyName: p, PolicyType: TargetTrackingScaling, "
	          "ScalingTargetId: x, TargetTrackingScalingPolicyConfiguration: {TargetValue: 50, "
	          "PredefinedMetricSpecification: {PredefinedMetricType: "
	          "ECSServiceAverageCPUUtilization}}}}\n");
	ASSERT_ERR("Resources:\n  P: {Type: AWS::IAM::ManagedPolicy, Properties: {Roles: [r]}}\n",
	           "missing required property PolicyDocument");
	ASSERT_ERR("Resources:\n  L: {Type: AWS::Logs::LogStream, Properties: {}}\n",
	           "missing required property LogGroupName");
	/* EC2 network plumbing: accepted with no effect, with the ids AWS gives. */
	ASSERT_OK("Resources:\n"
	          "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	          "  S: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: "
	          "10.0.0.0/24, AvailabilityZone: us-east-1a}}\n"
	          "  IGW: {Type: AWS::EC2::InternetGateway}\n"
	          "  Att: {Type: AWS::EC2::VPCGatewayAttachment, Properties: {VpcId: !Ref V, "
	          "InternetGatewayId: !Ref IGW}}\n"
	          "  EIP: {Type: AWS::EC2::EIP, DependsOn: Att, Properties: {Domain: vpc}}\n"
	          "  NAT: {Type: AWS::EC2::NatGateway, Properties: {AllocationId: !GetAtt "
	          "EIP.AllocationId, SubnetId: !Ref S}}\n"
	          "  RT: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref V}}\n"
	          "  R: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref RT, "
	          "DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NAT}}\n"
	          "  A: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: "
	          "!Ref RT, SubnetId: !Ref S}}\n"
	          "  E: {Type: AWS::EC2::VPCEndpoint, Properties: {VpcId: !Ref V, ServiceName: "
	          "com.amazonaws.us-east-1.s3, RouteTableIds: [!Ref RT]}}\n"
	          "  AL: {Type: AWS::CloudWatch::Alarm, Properties: {ComparisonOperator: "
	          "GreaterThanThreshold, EvaluationPeriods: '3', Period: '60', Threshold: 90, "
	          "Statistic: Maximum, MetricName: CPUUtilization, Namespace: AWS/ECS}}\n"
	          "Outputs:\n  I: {Value: !GetAtt IGW.InternetGatewayId}\n"
	          "  P: {Value: !GetAtt EIP.PublicIp}\n  N: {Value: !Ref NAT}\n"
	          "  AA: {Value: !GetAtt AL.Arn}\n");
	ASSERT_ERR("Resources:\n  RT: {Type: AWS::EC2::RouteTable, Properties: {}}\n",
	           "missing required property VpcId");
	ASSERT_ERR("Resources:\n  R: {Type: AWS::EC2::Route, Properties: {RouteTableId: rtb-1, "
	           "GatewayId: igw-1}}\n",
	           "needs DestinationCidrBlock, DestinationIpv6CidrBlock or DestinationPrefixListId");
	ASSERT_ERR("Resources:\n  E: {Type: AWS::EC2::EIP, Properties: {Domain: vcp}}\n",
	           "must be one of standard, vpc; found \"vcp\" (did you mean vpc?)");
	ASSERT_ERR("Resources:\n  N: {Type: AWS::EC2::NatGateway, Properties: {}}\n",
	           "missing required property SubnetId");
	ASSERT_ERR("Resources:\n  A: {Type: AWS::EC2::VPCGatewayAttachment, Properties: {VpcId: "
	           "vpc-1}}\n",
	           "needs InternetGatewayId or VpnGatewayId");
	ASSERT_ERR("Resources:\n  A: {Type: AWS::CloudWatch::Alarm, Properties: "
	           "{ComparisonOperator: GreaterThenThreshold, EvaluationPeriods: 1}}\n",
	           "(did you mean GreaterThanThreshold?)");
}

/* A security group id of the account, not of the template: a warning, and
 * the load balancer is not filtered by it. */
static void test_outside_security_group(void)
{
	const char *params[] = {"SG=sg-0123"};
	struct run r = run_params("Parameters:\n  SG: {Type: 'AWS::EC2::SecurityGroup::Id'}\n"
	                          "Resources:\n"
	                          "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, "
	                          "Properties: {Subnets: [subnet-1, subnet-2], SecurityGroups: "
	                          "[!Ref SG]}}\n",
	                          params, 1);
	ASSERT_TRUE(r.m != NULL);
	ASSERT_STR_CONTAINS(r.errs, "warning: Resources.LB.Properties.SecurityGroups[0]: security "
	                            "group sg-0123 is not in the template: vpcd does not know its "
	                            "rules");
	if (r.m)
		ASSERT_EQ(r.m->lbs[0].nsgs, 0);
	run_free(&r);
	/* Not an id at all: still an error. */
	const char *bad[] = {"SG=web"};
	ASSERT_ERR_P("Parameters:\n  SG: {Type: String}\n"
	             "Resources:\n"
	             "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, "
	             "Properties: {Subnets: [subnet-1, subnet-2], SecurityGroups: [!Ref SG]}}\n",
	             bad, 1, "\"web\" is not a security group of this template");
}

struct diags {
	int errors, warnings;
	char last[512];
};

static void on_diag(void *arg, const struct cfn_diag *d)
{
	struct diags *ds = arg;
	if (d->warning)
		ds->warnings++;
	else
		ds->errors++;
	snprintf(ds->last, sizeof(ds->last), "%s:%d:%d|%s|%s", d->file, d->line, d->col, d->path,
	         d->message);
}

static void test_allow_unknown(void)
{
	const char *text = "Resources:\n  Q: {Type: AWS::SQS::Queue}\n"
	                   "Outputs:\n  O: {Value: !Ref Q}\n  A: {Value: !GetAtt Q.Arn}\n";
	ASSERT_ERR(text, "unknown resource type AWS::SQS::Queue");
	struct cfn_options o;
	cfn_options_default(&o);
	o.allow_unknown = true;
	struct run r = run_opts(text, &o);
	ASSERT_TRUE(r.m != NULL);
	ASSERT_STR_CONTAINS(r.errs, "t.yaml:2:13: warning: Resources.Q.Type: unknown resource "
	                            "type AWS::SQS::Queue: accepted with no effect");
	if (r.m) {
		ASSERT_EQ(r.m->nresources, 1); /* listed in the plan, no effect */
		ASSERT_TRUE(r.m->resources[0].no_effect);
		ASSERT_STR_EQ(r.m->outputs[0].value, "Q");
		ASSERT_STR_EQ(r.m->outputs[1].value, "Q.Arn");
	}
	run_free(&r);
	struct diags ds = {0};
	o.on_diag = on_diag;
	o.diag_arg = &ds;
	r = run_opts(text, &o);
	ASSERT_STR_EQ(r.errs, ""); /* given to on_diag instead */
	ASSERT_EQ(ds.warnings, 1);
	ASSERT_EQ(ds.errors, 0);
	ASSERT_STR_CONTAINS(ds.last, "t.yaml:2:13|Resources.Q.Type|unknown resource type");
	run_free(&r);
}

/* ---------- checks cfn-lint lacks ---------- */

static const char lb_base[] =
    "Resources:\n"
    "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
    "  S1: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.0.0/24, "
    "AvailabilityZone: us-east-1a}}\n"
    "  S2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "
    "AvailabilityZone: us-east-1b}}\n"
    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: internal, "
    "Subnets: [!Ref S1, !Ref S2]}}\n"
    "  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, Protocol: "
    "HTTP, VpcId: !Ref V}}\n"
    "  TG2: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, "
    "Protocol: HTTP, VpcId: !Ref V}}\n"
    "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref LB, "
    "Port: 80, Protocol: HTTP, DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG}]}}\n"
    "  Z: {Type: AWS::Route53::HostedZone, Properties: {Name: in.example.com, VPCs: [{VPCId: "
    "!Ref V, VPCRegion: us-east-1}]}}\n"
    "  A: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: "
    "api.in.example.com, Type: CNAME, TTL: 60, ResourceRecords: [!GetAtt LB.DNSName]}}\n"
    "  Cl: {Type: AWS::ECS::Cluster}\n"
    "  TD: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: [{Name: web, "
    "Image: i, PortMappings: [{ContainerPort: 8080}]}]}}\n";

static void lint_case(const char *extra, const char *want_err, const char *want_warn)
{
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", lb_base, extra);
	struct run r = run_params(text, NULL, 0);
	if (want_err) {
		ASSERT_TRUE(r.m == NULL);
		ASSERT_STR_CONTAINS(r.errs, want_err);
	} else {
		ASSERT_TRUE(r.m != NULL);
	}
	if (want_warn)
		ASSERT_STR_CONTAINS(r.errs, want_warn);
	else if (!want_err)
		ASSERT_STR_EQ(r.errs, "");
	run_free(&r);
}

static void test_lint_checks(void)
{
	/* The seed-like system: no finding. */
	lint_case("  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref L, Priority: 1, Conditions: [{Field: host-header, Values: "
	          "[api.in.example.com]}], Actions: [{Type: forward, TargetGroupArn: !Ref TG2}]}}\n",
	          NULL, NULL);
	/* Two rules, one priority, one listener. */
	lint_case("  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref L, Priority: 7, Conditions: [{Field: host-header, Values: "
	          "[api.in.example.com]}], Actions: [{Type: forward, TargetGroupArn: !Ref TG2}]}}\n"
	          "  R2: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref L, Priority: 7, Conditions: [{Field: host-header, Values: "
	          "[api.in.example.com]}], Actions: [{Type: forward, TargetGroupArn: !Ref TG}]}}\n",
	          "Priority '7' is currently in use", NULL);
	/* A service whose container or port the task definition lacks. */
	lint_case("  Svc: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	          "!Ref TD, LoadBalancers: [{ContainerName: app, ContainerPort: 8080, "
	          "TargetGroupArn: !Ref TG}]}}\n",
	          "the task definition TD has no container named app", NULL);
	lint_case("  Svc: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	          "!Ref TD, LoadBalancers: [{ContainerName: web, ContainerPort: 80, "
	          "TargetGroupArn: !Ref TG}]}}\n",
	          "container web has no port mapping for container port 80", NULL);
	/* A target group a service uses but no listener forwards to. */
	lint_case("  Svc: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	          "!Ref TD, LoadBalancers: [{ContainerName: web, ContainerPort: 8080, "
	          "TargetGroupArn: !Ref TG2}]}}\n",
	          "does not have an associated load balancer (TG2 is the target group of no "
	          "listener",
	          NULL);
	lint_case("  Svc: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	          "!Ref TD, LoadBalancers: [{ContainerName: web, ContainerPort: 8080, "
	          "TargetGroupArn: !Ref TG}]}}\n",
	          NULL, NULL);
	/* A host-header no private record can match: a warning, the model loads. */
	lint_case("  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref L, Priority: 1, Conditions: [{Field: host-header, Values: "
	          "[web.in.example.com]}], Actions: [{Type: forward, TargetGroupArn: !Ref TG2}]}}\n",
	          NULL,
	          "warning: Resources.R.Properties.Conditions: host-header web.in.example.com can "
	          "never match");
	/* Wildcards match. */
	lint_case("  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	          "{ListenerArn: !Ref L, Priority: 1, Conditions: [{Field: host-header, Values: "
	          "['*.in.example.com']}], Actions: [{Type: forward, TargetGroupArn: !Ref TG2}]}}\n",
	          NULL, NULL);
}

static void test_params_file(void)
{
	const char *p = write_tmp("params.json", "[{\"ParameterKey\": \"Env\", \"ParameterValue\": "
	                                         "\"prod\"},\n {\"ParameterKey\": \"N\", "
	                                         "\"ParameterValue\": 3}]\n");
	char **kv;
	size_t n;
	ASSERT_EQ(cfn_params_read(p, &kv, &n, stderr), 0);
	ASSERT_EQ(n, 2);
	if (n == 2) {
		ASSERT_STR_EQ(kv[0], "Env=prod");
		ASSERT_STR_EQ(kv[1], "N=3");
	}
	cfn_params_free(kv, n);
	char *errs;
	size_t len;
	FILE *f = open_memstream(&errs, &len);
	p = write_tmp("bad.json", "{\"Env\": \"prod\"}");
	ASSERT_EQ(cfn_params_read(p, &kv, &n, f), -1);
	p = write_tmp("bad2.json", "[{\"ParameterKey\": \"Env\", \"UsePreviousValue\": true}]");
	ASSERT_EQ(cfn_params_read(p, &kv, &n, f), -1);
	fclose(f);
	ASSERT_STR_CONTAINS(errs, "expected a list of {\"ParameterKey\"");
	ASSERT_STR_CONTAINS(errs, "UsePreviousValue needs a previous stack");
	free(errs);
}

static void cleanup(void)
{
	static const char *const names[] = {
	    "net.yaml",  "net2.yaml", "app.yaml",  "bad.yaml",    "child.yaml", "parent.yaml",
	    "url.yaml",  "badp.yaml", "self.yaml", "params.json", "bad.json",   "bad2.json"};
	char p[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

T_MAIN({
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vpcd-cfn-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_param_types);
	T_RUN(test_param_constraints);
	T_RUN(test_param_missing_all_in_one);
	T_RUN(test_placement);
	T_RUN(test_rules);
	T_RUN(test_limits);
	T_RUN(test_pseudo_and_cidr);
	T_RUN(test_import_value);
	T_RUN(test_nested_stack);
	T_RUN(test_nested_stack_order);
	T_RUN(test_schemas);
	T_RUN(test_outside_security_group);
	T_RUN(test_allow_unknown);
	T_RUN(test_lint_checks);
	T_RUN(test_params_file);
	cleanup();
})
