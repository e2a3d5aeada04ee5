/*
 * Template reader tests: the reference template (JSON and its YAML twin)
 * gives the expected model; each intrinsic function, valid and invalid; the
 * exact error lines users see (file:line:col: error: path: message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "cfn/json.h"
#include "cfn/yaml.h"
#include "t.h"

/* Loads text; returns the model or NULL, and the error output in *errs
 * (malloc'd, "" when none). */
static struct model *load(const char *name, const char *text, char **errs,
                          const char *const *params, size_t nparams)
{
	struct cfn_options o;
	cfn_options_default(&o);
	o.params = params;
	o.nparams = nparams;
	size_t len = 0;
	FILE *f = open_memstream(errs, &len);
	struct model *m = NULL;
	int rc = cfn_load_buf(name, text, strlen(text), &o, &m, f);
	fclose(f);
	if (rc && m)
		T_FAIL("error count %d but a model", rc);
	if (!rc && !m)
		T_FAIL("no error and no model");
	return m;
}

/* The error output of text (malloc'd); a model there is a failure. */
static char *errors_of(const char *name, const char *text)
{
	char *errs;
	struct model *m = load(name, text, &errs, NULL, 0);
	if (m) {
		T_FAIL("expected errors for %s", name);
		model_free(m);
	}
	return errs;
}

#define ASSERT_ERRORS(name, text, expected)                                                        \
	do {                                                                                       \
		char *e_ = errors_of(name, text);                                                  \
		ASSERT_STR_EQ(e_, expected);                                                       \
		free(e_);                                                                          \
	} while (0)

static const struct model_resource *find_res(const struct model *m, const char *logical)
{
	for (size_t i = 0; i < m->nresources; i++)
		if (strcmp(m->resources[i].logical, logical) == 0)
			return &m->resources[i];
	return NULL;
}

static void check_reference_model(const struct model *m)
{
	char a[16];
	ASSERT_STR_EQ(m->stack_name, "service-a");
	ASSERT_STR_EQ(m->region, "us-east-1");
	ASSERT_EQ(m->nresources, 17);
	ASSERT_EQ(m->nvpcs, 1);
	ASSERT_STR_EQ(addr4_str(m->vpcs[0].lo_base, a), "127.77.0.0");
	ASSERT_STR_EQ(addr4_str(m->vpcs[0].cidr.addr, a), "10.0.0.0");
	ASSERT_EQ(m->vpcs[0].cidr.prefix, 16);
	ASSERT_STR_EQ(addr4_str(m->resolver_addr, a), "127.77.0.2");
	ASSERT_EQ(m->nsubnets, 2);
	ASSERT_STR_EQ(m->subnets[0].logical, "PrivateASubnet");
	ASSERT_STR_EQ(addr4_str(m->subnets[0].lo_cidr.addr, a), "127.77.1.0");
	ASSERT_EQ(m->subnets[0].lo_cidr.prefix, 24);
	ASSERT_STR_EQ(m->subnets[0].az, "us-east-1a");
	ASSERT_STR_EQ(addr4_str(m->subnets[1].lo_cidr.addr, a), "127.77.2.0");
	ASSERT_STR_EQ(m->subnets[1].az, "us-east-1b");
	ASSERT_EQ(m->subnets[0].vpc, 0);
	ASSERT_TRUE(strncmp(m->subnets[0].id, "subnet-", 7) == 0 && strlen(m->subnets[0].id) == 24);
	ASSERT_TRUE(strncmp(m->vpcs[0].id, "vpc-", 4) == 0 && strlen(m->vpcs[0].id) == 21);

	ASSERT_EQ(m->nlbs, 1);
	const struct model_lb *lb = &m->lbs[0];
	ASSERT_STR_EQ(lb->name, "PrivateApiLoadBalancer");
	ASSERT_STR_EQ(lb->scheme, "internal");
	ASSERT_EQ(lb->nsubnets, 2);
	ASSERT_STR_EQ(addr4_str(lb->node_addrs[0], a), "127.77.1.4");
	ASSERT_STR_EQ(addr4_str(lb->node_addrs[1], a), "127.77.2.4");
	ASSERT_EQ(lb->idle_timeout_s, 60);
	ASSERT_EQ(lb->nsgs, 1);
	ASSERT_TRUE(strncmp(lb->dns_name, "internal-PrivateApiLoadBalancer-", 32) == 0);
	ASSERT_EQ(strlen(lb->dns_name),
	          strlen("internal-PrivateApiLoadBalancer-1234567890.us-east-1.elb.amazonaws.com"));
	ASSERT_STR_CONTAINS(lb->dns_name, ".us-east-1.elb.amazonaws.com");
	ASSERT_TRUE(strncmp(lb->arn,
	                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/"
	                    "PrivateApiLoadBalancer/",
	                    92) == 0);
	ASSERT_EQ(strlen(lb->full_name), strlen("app/PrivateApiLoadBalancer/") + 16);

	ASSERT_EQ(m->ntgs, 2);
	const struct model_target_group *tg = NULL, *inv = NULL;
	for (size_t i = 0; i < m->ntgs; i++) {
		if (strcmp(m->tgs[i].name, "service-a-target-group") == 0)
			tg = &m->tgs[i];
		if (strcmp(m->tgs[i].name, "invalid-target-group") == 0)
			inv = &m->tgs[i];
	}
	ASSERT_TRUE(tg && inv);
	if (!tg || !inv)
		return;
	ASSERT_EQ(tg->port, 8080);
	ASSERT_STR_EQ(tg->protocol, "HTTP");
	ASSERT_STR_EQ(tg->target_type, "ip");
	ASSERT_TRUE(tg->hc.enabled);
	ASSERT_STR_EQ(tg->hc.path, "/application-status/health");
	ASSERT_EQ(tg->hc.interval_s, 5);
	ASSERT_EQ(tg->hc.timeout_s, 4);
	ASSERT_EQ(tg->hc.healthy_threshold, 2);
	ASSERT_EQ(tg->hc.unhealthy_threshold, 10);
	ASSERT_STR_EQ(tg->hc.matcher, "200");
	ASSERT_EQ(tg->hc.port, 0);
	ASSERT_EQ(tg->deregistration_delay_s, 300);
	/* AWS defaults on the group that sets none */
	ASSERT_EQ(inv->hc.interval_s, 30);
	ASSERT_EQ(inv->hc.timeout_s, 5);
	ASSERT_EQ(inv->hc.healthy_threshold, 5);
	ASSERT_EQ(inv->hc.unhealthy_threshold, 2);
	ASSERT_STR_EQ(inv->hc.path, "/");
	ASSERT_STR_EQ(inv->target_type, "instance");
	ASSERT_STR_CONTAINS(tg->arn, ":targetgroup/service-a-target-group/");

	ASSERT_EQ(m->nlisteners, 1);
	const struct model_listener *l = &m->listeners[0];
	ASSERT_EQ(l->port, 80);
	ASSERT_STR_EQ(l->protocol, "HTTP");
	ASSERT_EQ(l->lb, 0);
	ASSERT_EQ(l->default_action.type, MODEL_ACTION_FORWARD);
	ASSERT_TRUE(l->default_action.target_group >= 0 &&
	            &m->tgs[l->default_action.target_group] == inv);
	ASSERT_EQ(l->nrules, 1);
	ASSERT_EQ(m->nrules, 1);
	const struct model_rule *r = &m->rules[0];
	ASSERT_EQ(r->priority, 1);
	ASSERT_EQ(r->listener, 0);
	ASSERT_EQ(r->nconds, 1);
	ASSERT_EQ(r->conds[0].field, MODEL_COND_HOST_HEADER);
	ASSERT_EQ(r->conds[0].nvalues, 1);
	ASSERT_STR_EQ(r->conds[0].values[0], "service-a.in.example.com");
	ASSERT_TRUE(r->action.target_group >= 0 && &m->tgs[r->action.target_group] == tg);
	ASSERT_STR_CONTAINS(r->arn, ":listener-rule/app/PrivateApiLoadBalancer/");
	ASSERT_STR_CONTAINS(l->arn, ":listener/app/PrivateApiLoadBalancer/");

	ASSERT_EQ(m->nzones, 1);
	ASSERT_STR_EQ(m->zones[0].name, "in.example.com.");
	ASSERT_TRUE(m->zones[0].private_zone);
	ASSERT_EQ(m->zones[0].nvpcs, 1);
	ASSERT_TRUE(m->zones[0].id[0] == 'Z' && strlen(m->zones[0].id) == 14);
	ASSERT_EQ(m->nrecords, 1);
	const struct model_record *rec = &m->records[0];
	ASSERT_STR_EQ(rec->name, "service-a.in.example.com.");
	ASSERT_STR_EQ(rec->type, "CNAME");
	ASSERT_EQ(rec->ttl, 60);
	ASSERT_EQ(rec->zone, 0);
	ASSERT_EQ(rec->nvalues, 1);
	ASSERT_STR_EQ(rec->values[0], lb->dns_name);
	ASSERT_EQ(rec->alias_lb, -1);

	ASSERT_EQ(m->nclusters, 1);
	ASSERT_STR_EQ(m->clusters[0].name, "Main Cluster");
	ASSERT_STR_EQ(m->clusters[0].arn,
	              "arn:aws:ecs:us-east-1:123456789012:cluster/Main Cluster");
	ASSERT_EQ(m->ntask_defs, 1);
	const struct model_task_def *td = &m->task_defs[0];
	ASSERT_STR_EQ(td->family, "service-a");
	ASSERT_STR_EQ(td->arn, "arn:aws:ecs:us-east-1:123456789012:task-definition/service-a:1");
	ASSERT_STR_EQ(td->network_mode, "awsvpc");
	ASSERT_EQ(td->ncontainers, 1);
	const struct model_container *ct = &td->containers[0];
	ASSERT_STR_EQ(ct->name, "serviceA");
	ASSERT_STR_EQ(ct->image, "example/service-a:latest");
	ASSERT_EQ(ct->argc, 2);
	ASSERT_STR_EQ(ct->argv[0], "vpcd");
	ASSERT_STR_EQ(ct->argv[1], "demo-app");
	ASSERT_TRUE(ct->argv[2] == NULL);
	ASSERT_EQ(ct->nports, 1);
	ASSERT_EQ(ct->ports[0].container_port, 8080);
	ASSERT_EQ(ct->nenv, 1);
	ASSERT_STR_EQ(ct->env[0].key, "SERVICE_NAME");
	ASSERT_STR_EQ(ct->env[0].value, "service-a");
	ASSERT_TRUE(ct->essential);
	ASSERT_EQ(ct->stop_timeout_s, 30);

	ASSERT_EQ(m->nservices, 1);
	const struct model_service *s = &m->services[0];
	ASSERT_EQ(s->desired, 2);
	ASSERT_EQ(s->cluster, 0);
	ASSERT_EQ(s->task_def, 0);
	ASSERT_EQ(s->min_healthy_pct, 50);
	ASSERT_EQ(s->max_pct, 200);
	ASSERT_EQ(s->nlbs, 1);
	ASSERT_STR_EQ(s->lbs[0].container_name, "serviceA");
	ASSERT_EQ(s->lbs[0].container_port, 8080);
	ASSERT_TRUE(s->lbs[0].target_group >= 0 && &m->tgs[s->lbs[0].target_group] == tg);
	ASSERT_EQ(s->nsubnets, 2);
	ASSERT_EQ(s->nsgs, 1);
	ASSERT_STR_CONTAINS(s->arn, "arn:aws:ecs:us-east-1:123456789012:service/Main Cluster/");

	ASSERT_EQ(m->nasgs, 1);
	ASSERT_EQ(m->asgs[0].min, 2);
	ASSERT_EQ(m->asgs[0].max, 6);
	ASSERT_EQ(m->asgs[0].desired, 2);
	ASSERT_EQ(m->asgs[0].nsubnets, 2);

	ASSERT_EQ(m->nsgs, 1);
	ASSERT_EQ(m->sgs[0].ningress, 2);
	ASSERT_EQ(m->sgs[0].ingress[0].proto, 6);
	ASSERT_EQ(m->sgs[0].ingress[0].from_port, 80);
	ASSERT_EQ(m->sgs[0].ingress[1].to_port, 443);
	ASSERT_EQ(m->sgs[0].negress, 1);
	ASSERT_EQ(m->sgs[0].egress[0].proto, -1);

	const struct model_resource *role = find_res(m, "ECSServiceRole");
	ASSERT_TRUE(role && role->no_effect);
	const struct model_resource *vpc = find_res(m, "VPC");
	ASSERT_TRUE(vpc && !vpc->no_effect);
	/* creation order: dependencies first, template order otherwise */
	ASSERT_STR_EQ(m->resources[0].logical, "VPC");
	ASSERT_STR_EQ(m->resources[m->nresources - 1].logical, "ServiceALoadBalancerDNSRecord");
	ASSERT_EQ(m->noutputs, 2);
	ASSERT_STR_EQ(m->outputs[0].value, "http://service-a.in.example.com/");
	ASSERT_STR_EQ(m->outputs[1].value, lb->dns_name);
}

static char *plan_of(const struct model *m)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	cfn_plan_print(m, f);
	fclose(f);
	return buf;
}

static void test_reference_json(void)
{
	struct cfn_options o;
	cfn_options_default(&o);
	struct model *m = NULL;
	int rc = cfn_load("examples/service-a.json", &o, &m, stderr);
	ASSERT_EQ(rc, 0);
	if (!m)
		return;
	check_reference_model(m);
	char *plan = plan_of(m);
	ASSERT_STR_CONTAINS(plan, "127.77.1.0/24 us-east-1a");
	ASSERT_STR_CONTAINS(plan, "nodes 127.77.1.4 127.77.2.4");
	ASSERT_STR_CONTAINS(plan, "accepted, no effect");
	free(plan);
	model_free(m);
}

static void test_reference_yaml_same_model(void)
{
	struct cfn_options o;
	cfn_options_default(&o);
	struct model *mj = NULL, *my = NULL;
	ASSERT_EQ(cfn_load("examples/service-a.yaml", &o, &my, stderr), 0);
	ASSERT_EQ(cfn_load("examples/service-a.json", &o, &mj, stderr), 0);
	if (my)
		check_reference_model(my);
	if (my && mj) {
		char *pj = plan_of(mj), *py = plan_of(my);
		ASSERT_STR_EQ(py, pj);
		free(pj);
		free(py);
	}
	model_free(mj);
	model_free(my);
}

static void test_deterministic(void)
{
	struct cfn_options o;
	cfn_options_default(&o);
	struct model *a = NULL, *b = NULL;
	cfn_load("examples/service-a.json", &o, &a, stderr);
	cfn_load("examples/service-a.json", &o, &b, stderr);
	if (a && b) {
		ASSERT_STR_EQ(a->lbs[0].dns_name, b->lbs[0].dns_name);
		ASSERT_STR_EQ(a->vpcs[0].id, b->vpcs[0].id);
		ASSERT_STR_EQ(a->services[0].name, b->services[0].name);
	}
	model_free(a);
	model_free(b);
	/* another stack name gives other ids */
	o.stack_name = "other";
	cfn_load("examples/service-a.json", &o, &b, stderr);
	cfn_load("examples/service-a.json", &(struct cfn_options){.region = "us-east-1"}, &a,
	         stderr);
	if (a && b)
		ASSERT_TRUE(strcmp(a->vpcs[0].id, b->vpcs[0].id) != 0);
	model_free(a);
	model_free(b);
}

/* ---------- intrinsics, through Outputs ---------- */

/* Evaluates expr (JSON) as an output value in a template with the given extra
 * sections; returns the value or the error text (malloc'd). */
static char *eval_expr(const char *sections, const char *expr)
{
	char *text;
	if (asprintf(
	        &text,
	        "{%s%s\"Resources\": {\"Log\": {\"Type\": \"AWS::Logs::LogGroup\", \"Properties\": "
	        "{\"LogGroupName\": \"lg\"}},\n"
	        " \"Sub\": {\"Type\": \"AWS::EC2::Subnet\", \"Properties\": {\"VpcId\": {\"Ref\": "
	        "\"V\"}, \"CidrBlock\": \"10.1.2.0/24\", \"AvailabilityZone\": \"us-east-1c\"}},\n"
	        " \"V\": {\"Type\": \"AWS::EC2::VPC\", \"Properties\": {\"CidrBlock\": "
	        "\"10.1.0.0/16\"}}},\n"
	        "\"Outputs\": {\"O\": {\"Value\": %s}}}",
	        sections, *sections ? "," : "", expr) < 0)
		abort();
	char *errs;
	struct model *m = load("t.json", text, &errs, NULL, 0);
	free(text);
	char *out;
	if (m) {
		out = strdup(m->noutputs ? m->outputs[0].value : "(no output)");
		free(errs);
		model_free(m);
	} else {
		out = errs;
	}
	return out;
}

#define ASSERT_EVAL(sections, expr, expected)                                                      \
	do {                                                                                       \
		char *v_ = eval_expr(sections, expr);                                              \
		ASSERT_STR_EQ(v_, expected);                                                       \
		free(v_);                                                                          \
	} while (0)

#define ASSERT_EVAL_ERR(sections, expr, needle)                                                    \
	do {                                                                                       \
		char *v_ = eval_expr(sections, expr);                                              \
		ASSERT_STR_CONTAINS(v_, needle);                                                   \
		free(v_);                                                                          \
	} while (0)

static void test_fn_ref(void)
{
	ASSERT_EVAL("", "{\"Ref\": \"AWS::Region\"}", "us-east-1");
	ASSERT_EVAL("", "{\"Ref\": \"AWS::AccountId\"}", "123456789012");
	ASSERT_EVAL("", "{\"Ref\": \"AWS::StackName\"}", "t");
	ASSERT_EVAL("", "{\"Ref\": \"AWS::Partition\"}", "aws");
	ASSERT_EVAL("", "{\"Ref\": \"AWS::URLSuffix\"}", "amazonaws.com");
	ASSERT_EVAL("", "{\"Ref\": \"Log\"}", "lg");
	ASSERT_EVAL("\"Parameters\": {\"P\": {\"Type\": \"String\", \"Default\": \"x\"}}",
	            "{\"Ref\": \"P\"}", "x");
	ASSERT_EVAL("\"Parameters\": {\"P\": {\"Type\": \"Number\", \"Default\": 3}}",
	            "{\"Ref\": \"P\"}", "3");
	char *v = eval_expr("", "{\"Ref\": \"AWS::StackId\"}");
	ASSERT_TRUE(strncmp(v, "arn:aws:cloudformation:us-east-1:123456789012:stack/t/", 54) == 0 &&
	            strlen(v) == 54 + 36);
	free(v);
	ASSERT_EVAL_ERR("", "{\"Ref\": \"Nope\"}", "Unresolved resource dependencies [Nope]");
	ASSERT_EVAL_ERR("", "{\"Ref\": [\"Log\"]}",
	                "Template format error: Every Ref object must have a single String value.");
}

static void test_fn_getatt(void)
{
	ASSERT_EVAL("", "{\"Fn::GetAtt\": [\"Sub\", \"AvailabilityZone\"]}", "us-east-1c");
	ASSERT_EVAL("", "{\"Fn::GetAtt\": \"Sub.CidrBlock\"}", "10.1.2.0/24");
	ASSERT_EVAL("", "{\"Fn::GetAtt\": [\"V\", \"CidrBlock\"]}", "10.1.0.0/16");
	ASSERT_EVAL("", "{\"Fn::GetAtt\": [\"Log\", \"Arn\"]}",
	            "arn:aws:logs:us-east-1:123456789012:log-group:lg:*");
	ASSERT_EVAL_ERR(
	    "", "{\"Fn::GetAtt\": [\"Nope\", \"Arn\"]}",
	    "Template error: instance of Fn::GetAtt references undefined resource Nope");
	ASSERT_EVAL_ERR("", "{\"Fn::GetAtt\": [\"V\", \"CidrBlok\"]}",
	                "Template error: resource V does not support attribute type CidrBlok in "
	                "Fn::GetAtt (did you mean CidrBlock?)");
	ASSERT_EVAL_ERR("", "{\"Fn::GetAtt\": [\"V\"]}",
	                "every Fn::GetAtt object requires two non-empty parameters");
}

static void test_fn_join_split_select(void)
{
	ASSERT_EVAL("", "{\"Fn::Join\": [\"-\", [\"a\", {\"Ref\": \"AWS::Region\"}, \"c\"]]}",
	            "a-us-east-1-c");
	ASSERT_EVAL("", "{\"Fn::Join\": [\"\", [\"a\", \"b\"]]}", "ab");
	ASSERT_EVAL("", "{\"Fn::Join\": [\",\", {\"Fn::Split\": [\"|\", \"a||c|\"]}]}", "a,,c,");
	ASSERT_EVAL("", "{\"Fn::Select\": [\"1\", [\"a\", \"b\", \"c\"]]}", "b");
	ASSERT_EVAL("", "{\"Fn::Select\": [2, {\"Fn::Split\": [\",\", \"x,y,z\"]}]}", "z");
	ASSERT_EVAL(
	    "\"Parameters\": {\"L\": {\"Type\": \"CommaDelimitedList\", \"Default\": \"a, b ,c\"}}",
	    "{\"Fn::Join\": [\"+\", {\"Ref\": \"L\"}]}", "a+b+c");
	ASSERT_EVAL_ERR("", "{\"Fn::Select\": [3, [\"a\"]]}",
	                "Template error: Fn::Select cannot select nonexistent value at index 3");
	ASSERT_EVAL_ERR("", "{\"Fn::Select\": [\"x\", [\"a\"]]}",
	                "Fn::Select index must be a non-negative integer");
	ASSERT_EVAL_ERR("", "{\"Fn::Join\": [\"-\"]}", "Fn::Join takes [delimiter, [values]]");
	ASSERT_EVAL_ERR("", "{\"Fn::Join\": [\"-\", \"ab\"]}",
	                "the Fn::Join values must be a list");
	ASSERT_EVAL_ERR("", "{\"Fn::Split\": [\"\", \"ab\"]}",
	                "the Fn::Split delimiter must not be empty");
}

static void test_fn_sub(void)
{
	ASSERT_EVAL("",
	            "{\"Fn::Sub\": \"${AWS::Region}-${Log}-${Sub.AvailabilityZone}-${!Literal}\"}",
	            "us-east-1-lg-us-east-1c-${Literal}");
	ASSERT_EVAL(
	    "",
	    "{\"Fn::Sub\": [\"${A}/${B}\", {\"A\": \"x\", \"B\": {\"Ref\": \"AWS::AccountId\"}}]}",
	    "x/123456789012");
	ASSERT_EVAL("", "{\"Fn::Sub\": \"no vars\"}", "no vars");
	ASSERT_EVAL_ERR("", "{\"Fn::Sub\": \"${Nope}\"}",
	                "Unresolved resource dependencies [Nope]");
	ASSERT_EVAL_ERR("", "{\"Fn::Sub\": \"${Nope.Attr}\"}",
	                "Fn::GetAtt references undefined resource Nope");
	ASSERT_EVAL_ERR("", "{\"Fn::Sub\": \"${open\"}", "Fn::Sub: \"${\" without a closing \"}\"");
	ASSERT_EVAL_ERR("", "{\"Fn::Sub\": 3}", "Fn::Sub takes a string or [string, {variables}]");
}

static void test_fn_getazs_base64_cidr(void)
{
	ASSERT_EVAL("", "{\"Fn::Join\": [\",\", {\"Fn::GetAZs\": \"\"}]}",
	            "us-east-1a,us-east-1b,us-east-1c,us-east-1d,us-east-1e,us-east-1f");
	ASSERT_EVAL("", "{\"Fn::Join\": [\",\", {\"Fn::GetAZs\": {\"Ref\": \"AWS::Region\"}}]}",
	            "us-east-1a,us-east-1b,us-east-1c,us-east-1d,us-east-1e,us-east-1f");
	ASSERT_EVAL("", "{\"Fn::Select\": [0, {\"Fn::GetAZs\": \"eu-west-1\"}]}", "eu-west-1a");
	ASSERT_EVAL("", "{\"Fn::Base64\": \"hello\"}", "aGVsbG8=");
	ASSERT_EVAL("", "{\"Fn::Base64\": \"hi\"}", "aGk=");
	ASSERT_EVAL("", "{\"Fn::Base64\": {\"Fn::Sub\": \"${AWS::Partition}\"}}", "YXdz");
	ASSERT_EVAL("", "{\"Fn::Join\": [\",\", {\"Fn::Cidr\": [\"192.168.0.0/24\", 6, 5]}]}",
	            "192.168.0.0/27,192.168.0.32/27,192.168.0.64/27,192.168.0.96/27,192.168.0.128/"
	            "27,192.168.0.160/27");
	ASSERT_EVAL_ERR("", "{\"Fn::Cidr\": [\"192.168.0.0/24\", 9, 5]}",
	                "holds only 8 /27 blocks");
	ASSERT_EVAL_ERR("", "{\"Fn::Cidr\": [\"nope\", 1, 5]}", "is not an IPv4 CIDR block");
	ASSERT_EVAL_ERR("", "{\"Fn::Base64\": [\"a\"]}", "the Fn::Base64 value must be a string");
	ASSERT_EVAL_ERR("", "{\"Fn::ImportValue\": \"x\"}", "No export named x found");
	ASSERT_EVAL_ERR("", "{\"Fn::Joni\": [\"\", []]}",
	                "unknown intrinsic function Fn::Joni (did you mean Fn::Join?)");
}

static const char maps[] =
    "\"Mappings\": {\"M\": {\"us-east-1\": {\"Ami\": \"ami-1\", \"List\": [\"p\", \"q\"]}}}";

static void test_fn_findinmap(void)
{
	ASSERT_EVAL(maps, "{\"Fn::FindInMap\": [\"M\", {\"Ref\": \"AWS::Region\"}, \"Ami\"]}",
	            "ami-1");
	ASSERT_EVAL(maps,
	            "{\"Fn::Join\": [\"\", {\"Fn::FindInMap\": [\"M\", \"us-east-1\", \"List\"]}]}",
	            "pq");
	ASSERT_EVAL_ERR(maps, "{\"Fn::FindInMap\": [\"M\", \"eu-west-1\", \"Ami\"]}",
	                "mapping M has no key eu-west-1");
	ASSERT_EVAL_ERR(maps, "{\"Fn::FindInMap\": [\"X\", \"a\", \"b\"]}",
	                "the template has no mapping X");
	ASSERT_EVAL_ERR(maps, "{\"Fn::FindInMap\": [\"M\", \"a\"]}",
	                "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]");
}

static const char conds[] =
    "\"Parameters\": {\"Env\": {\"Type\": \"String\", \"Default\": \"prod\", \"AllowedValues\": "
    "[\"prod\", \"dev\"]}},"
    "\"Conditions\": {\"IsProd\": {\"Fn::Equals\": [{\"Ref\": \"Env\"}, \"prod\"]},"
    " \"IsDev\": {\"Fn::Not\": [{\"Condition\": \"IsProd\"}]},"
    " \"Both\": {\"Fn::And\": [{\"Condition\": \"IsProd\"}, {\"Condition\": \"IsDev\"}]},"
    " \"Either\": {\"Fn::Or\": [{\"Condition\": \"IsProd\"}, {\"Condition\": \"IsDev\"}]}}";

static void test_fn_if_conditions(void)
{
	ASSERT_EVAL(conds, "{\"Fn::If\": [\"IsProd\", \"p\", \"d\"]}", "p");
	ASSERT_EVAL(conds, "{\"Fn::If\": [\"IsDev\", \"p\", \"d\"]}", "d");
	ASSERT_EVAL(conds, "{\"Fn::If\": [\"Both\", \"y\", \"n\"]}", "n");
	ASSERT_EVAL(conds, "{\"Fn::If\": [\"Either\", \"y\", \"n\"]}", "y");
	/* AWS::NoValue removes a list element */
	ASSERT_EVAL(conds,
	            "{\"Fn::Join\": [\",\", [\"a\", {\"Fn::If\": [\"IsDev\", \"b\", {\"Ref\": "
	            "\"AWS::NoValue\"}]}]]}",
	            "a");
	ASSERT_EVAL_ERR(conds, "{\"Fn::If\": [\"IsPord\", \"p\", \"d\"]}",
	                "Unresolved condition dependency IsPord (did you mean IsProd?)");
	ASSERT_EVAL_ERR(conds, "{\"Fn::Equals\": [\"a\", \"a\"]}",
	                "Fn::Equals can be used only in Conditions");
	ASSERT_EVAL_ERR(conds, "{\"Fn::If\": [\"IsProd\", \"p\"]}",
	                "Fn::If takes [condition_name, value_if_true, value_if_false]");
	ASSERT_EVAL_ERR("\"Conditions\": {\"C\": {\"Fn::Equals\": [{\"Ref\": \"Log\"}, \"x\"]}}",
	                "\"v\"",
	                "Conditions can refer only to parameters, not to the resource Log");
	ASSERT_EVAL_ERR("\"Conditions\": {\"C\": {\"Fn::And\": [{\"Condition\": \"C\"}, "
	                "{\"Condition\": \"C\"}]}}",
	                "\"v\"", "Circular dependency between conditions");
}

static void test_resource_condition(void)
{
	const char *t = "{\"Parameters\": {\"On\": {\"Type\": \"String\", \"Default\": \"no\"}},"
	                "\"Conditions\": {\"C\": {\"Fn::Equals\": [{\"Ref\": \"On\"}, \"yes\"]}},"
	                "\"Resources\": {\"A\": {\"Type\": \"AWS::Logs::LogGroup\"},"
	                " \"B\": {\"Type\": \"AWS::Logs::LogGroup\", \"Condition\": \"C\"}}}";
	char *errs;
	struct model *m = load("c.json", t, &errs, NULL, 0);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (m) {
		ASSERT_EQ(m->nresources, 1);
		ASSERT_STR_EQ(m->resources[0].logical, "A");
		model_free(m);
	}
	const char *const on[] = {"On=yes"};
	m = load("c.json", t, &errs, on, 1);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (m) {
		ASSERT_EQ(m->nresources, 2);
		model_free(m);
	}
}

static void test_parameters(void)
{
	const char *t =
	    "{\"Parameters\": {\"Cidr\": {\"Type\": \"String\", \"AllowedPattern\": \"[0-9./]+\"},"
	    " \"N\": {\"Type\": \"Number\", \"Default\": \"2\", \"MinValue\": 1, \"MaxValue\": "
	    "5}},\n"
	    "\"Resources\": {\"V\": {\"Type\": \"AWS::EC2::VPC\", \"Properties\": {\"CidrBlock\": "
	    "{\"Ref\": \"Cidr\"}}}}}";
	const char *const ok[] = {"Cidr=10.9.0.0/16"};
	char *errs;
	struct model *m = load("p.json", t, &errs, ok, 1);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (m) {
		char a[16];
		ASSERT_STR_EQ(addr4_str(m->vpcs[0].cidr.addr, a), "10.9.0.0");
		model_free(m);
	}
	const char *const bad[] = {"Cidr=abc", "N=9", "Nope=1"};
	m = load("p.json", t, &errs, bad, 3);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "Malformed input-Parameter Cidr must match pattern [0-9./]+");
	ASSERT_STR_CONTAINS(errs, "Parameter 'N' must be a number not greater than 5");
	ASSERT_STR_CONTAINS(errs, "--param Nope: the template has no parameter Nope");
	free(errs);
	m = load("p.json", t, &errs, (const char *const[]){"N=x", "Cidr=1.0.0.0/16"}, 2);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "Parameter 'N' must be a number, found \"x\"");
	free(errs);
}

/* ---------- exact error lines ---------- */

static void test_error_bad_ref(void)
{
	ASSERT_ERRORS("bad-ref.json",
	              "{\n"
	              "  \"Resources\": {\n"
	              "    \"V\": {\"Type\": \"AWS::EC2::VPC\",\n"
	              "      \"Properties\": {\"CidrBlock\": {\"Ref\": \"VpcCidr\"}}}\n"
	              "  }\n"
	              "}\n",
	              "bad-ref.json:4:35: error: Resources.V.Properties.CidrBlock: Template format "
	              "error: Unresolved resource "
	              "dependencies [VpcCidr] in the Resources block of the template\n");
}

static void test_error_cycle(void)
{
	ASSERT_ERRORS(
	    "cycle.json",
	    "{\"Resources\": {\n"
	    "  \"A\": {\"Type\": \"AWS::Logs::LogGroup\", \"DependsOn\": \"B\"},\n"
	    "  \"B\": {\"Type\": \"AWS::Logs::LogGroup\", \"Properties\": {\"LogGroupName\": "
	    "{\"Ref\": \"A\"}}},\n"
	    "  \"C\": {\"Type\": \"AWS::Logs::LogGroup\", \"DependsOn\": [\"A\"]}\n"
	    "}}\n",
	    "cycle.json:2:3: error: Resources: Circular dependency between resources: [A, B]\n");
}

static void test_error_wrong_type(void)
{
	ASSERT_ERRORS(
	    "type.json",
	    "{\"Resources\": {\n"
	    "  \"TG\": {\"Type\": \"AWS::ElasticLoadBalancingV2::TargetGroup\", \"Properties\": {\n"
	    "    \"Protocol\": \"HTTP\", \"VpcId\": {\"Ref\": \"V\"},\n"
	    "    \"Port\": [80]}},\n"
	    "  \"V\": {\"Type\": \"AWS::EC2::VPC\", \"Properties\": {\"CidrBlock\": "
	    "\"10.0.0.0/16\"}},\n"
	    "  \"S\": {\"Type\": \"AWS::ECS::Service\", \"Properties\": {\"DesiredCount\": "
	    "\"two\"}}\n"
	    "}}\n",
	    "type.json:4:13: error: Resources.TG.Properties.Port: expected an integer, found a "
	    "list\n"
	    "type.json:6:52: error: Resources.S.Properties: a service needs Cluster here (ECS's "
	    "\"default\" cluster does not exist in vpcd)\n"
	    "type.json:6:52: error: Resources.S.Properties: missing required property "
	    "TaskDefinition\n"
	    "type.json:6:69: error: Resources.S.Properties.DesiredCount: expected an integer, "
	    "found \"two\"\n");
}

static void test_error_unknown_type(void)
{
	ASSERT_ERRORS(
	    "unknown.json",
	    "{\"Resources\": {\n"
	    "  \"Q\": {\"Type\": \"AWS::Foo::Bar\"}\n"
	    "}}\n",
	    "unknown.json:2:17: error: Resources.Q.Type: unknown resource type AWS::Foo::Bar (vpcd cannot "
	    "run it; --allow-unknown accepts it with no effect)\n");
}

static void test_error_broken_json(void)
{
	ASSERT_ERRORS("broken.json",
	              "{\"Resources\": {\n"
	              "  \"A\": {\"Type\": \"AWS::Logs::LogGroup\"]\n"
	              "}}\n",
	              "broken.json:2:38: error: JSON not well-formed: expected ',' or '}' after "
	              "object member, found ']'\n");
	ASSERT_ERRORS(
	    "trunc.json", "{\"Resources\": {\"A\": ",
	    "trunc.json:1:21: error: JSON not well-formed: expected a value, found end of input\n");
	ASSERT_ERRORS("comma.json", "{\"a\": 1,}",
	              "comma.json:1:9: error: JSON not well-formed: expected '\"' to start the "
	              "next member name, found '}'\n");
}

static void test_error_broken_yaml(void)
{
	char *e = errors_of("broken.yaml", "Resources:\n  A:\n    Type: [a\n");
	ASSERT_STR_CONTAINS(e, "broken.yaml:4:1: error: YAML not well-formed: ");
	free(e);
	e = errors_of("tag.yaml", "Resources:\n  A:\n    Type: !Reff X\n");
	ASSERT_STR_EQ(e, "tag.yaml:3:11: error: YAML not well-formed: unknown tag !Reff "
	                 "(CloudFormation short forms are !Ref, !GetAtt, !Sub, ...)\n");
	free(e);
}

static void test_error_missing_parameter(void)
{
	ASSERT_ERRORS(
	    "param.json",
	    "{\"Parameters\": {\n"
	    "  \"Env\": {\"Type\": \"String\"}},\n"
	    " \"Resources\": {\"A\": {\"Type\": \"AWS::Logs::LogGroup\", \"Properties\": "
	    "{\"LogGroupName\": {\"Ref\": \"Env\"}}}}}\n",
	    "param.json:2:3: error: Parameters: [Env] must have values (give them with --param "
	    "KEY=VALUE or --params FILE)\n");
}

static void test_error_misspelled_property(void)
{
	ASSERT_ERRORS("spell.json",
	              "{\"Resources\": {\n"
	              "  \"V\": {\"Type\": \"AWS::EC2::VPC\", \"Properties\": {\"CidrBlock\": "
	              "\"10.0.0.0/16\",\n"
	              "    \"EnableDnsSuport\": true}}\n"
	              "}}\n",
	              "spell.json:3:5: error: Resources.V.Properties.EnableDnsSuport: unknown "
	              "property (did you mean EnableDnsSupport?)\n");
	ASSERT_ERRORS("spell2.json",
	              "{\"Resources\": {\n"
	              "  \"VPC\": {\"Type\": \"AWS::EC2::VPC\", \"Properties\": {\"CidrBlock\": "
	              "\"10.0.0.0/16\"}},\n"
	              "  \"L\": {\"Type\": \"AWS::Logs::LogGroup\", \"DependsOn\": \"VCP\"}\n"
	              "}}\n",
	              "spell2.json:3:53: error: Resources.L.DependsOn: Template format error: "
	              "Unresolved resource dependencies [VCP] "
	              "in the Resources block of the template (did you mean VPC?)\n");
}

static void test_errors_all_sorted(void)
{
	/* several errors in one pass, sorted by position */
	ASSERT_ERRORS("many.yaml",
	              "Resources:\n"
	              "  R:\n"
	              "    Type: AWS::ElasticLoadBalancingV2::ListenerRule\n"
	              "    Properties:\n"
	              "      Priority: 60000\n"
	              "      Actions: [{Type: redirect}]\n"
	              "      Conditions: [{Field: host-heder, Values: [a.example.com]}]\n"
	              "      ListenerArn: !GetAtt Nope.ListenerArn\n",
	              "many.yaml:8:20: error: Resources.R.Properties.ListenerArn: Template error: "
	              "instance of Fn::GetAtt references undefined resource Nope\n");
	ASSERT_ERRORS(
	    "many2.yaml",
	    "Resources:\n"
	    "  L:\n"
	    "    Type: AWS::ElasticLoadBalancingV2::Listener\n"
	    "    Properties:\n"
	    "      Port: 0\n"
	    "      Protocol: FTP\n"
	    "      LoadBalancerArn: x\n"
	    "      DefaultActions: [{Type: redirect}]\n",
	    "many2.yaml:5:13: error: Resources.L.Properties.Port: must be 1..65535, found 0\n"
	    "many2.yaml:6:17: error: Resources.L.Properties.Protocol: must be one of HTTP, HTTPS; "
	    "found \"FTP\" (did you mean HTTP?)\n"
	    "many2.yaml:7:24: error: Resources.L.Properties.LoadBalancerArn: \"x\" is not a load "
	    "balancer of this template (use Ref or Fn::GetAtt)\n"
	    "many2.yaml:8:24: error: Resources.L.Properties.DefaultActions[0]: a redirect action "
	    "needs RedirectConfig\n");
}

static void test_json_reader(void)
{
	struct cfn_arena a = {0};
	struct cfn_parse_error err;
	const char *s =
	    "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\\n\"],\n \"b\": {}}";
	struct cfn_node *n = cfn_json_parse(&a, s, strlen(s), &err);
	ASSERT_TRUE(n && n->type == CFN_MAP && n->n == 2);
	if (n) {
		struct cfn_node *l = cfn_node_get(n, "a");
		ASSERT_EQ(l->n, 5);
		ASSERT_STR_EQ(l->items[1]->str, "-2.5e3");
		ASSERT_STR_EQ(l->items[4]->str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
		ASSERT_EQ(n->entries[1].line, 2);
		ASSERT_EQ(n->entries[1].col, 2);
		ASSERT_EQ(l->items[2]->col, 19);
	}
	const char *bad[] = {"[01]",      "[1.]", "\"\\x\"",  "\"\\ud800\"", "[1,]",
	                     "{\"a\" 1}", "tru",  "\"a\tb\"", "[] []",       "\"\xff\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_TRUE(cfn_json_parse(&a, bad[i], strlen(bad[i]), &err) == NULL);
	char deep[600];
	memset(deep, '[', sizeof(deep));
	ASSERT_TRUE(cfn_json_parse(&a, deep, sizeof(deep), &err) == NULL);
	ASSERT_STR_CONTAINS(err.msg, "nesting deeper than 256 levels");
	cfn_arena_free(&a);
}

static void test_yaml_reader(void)
{
	struct cfn_arena a = {0};
	struct cfn_parse_error err;
	const char *s = "a: !GetAtt R.Attr.Sub\n"
	                "b: !Sub [\"${x}\", {x: 1}]\n"
	                "c: &anc [1, '2', yes, true, ~]\n"
	                "d: *anc\n"
	                "e: !Ref X\n";
	struct cfn_node *n = cfn_yaml_parse(&a, s, strlen(s), &err);
	ASSERT_TRUE(n != NULL);
	if (n) {
		struct cfn_node *g = cfn_node_get(cfn_node_get(n, "a"), "Fn::GetAtt");
		ASSERT_TRUE(g && g->type == CFN_LIST && g->n == 2);
		if (g && g->n == 2) {
			ASSERT_STR_EQ(g->items[0]->str, "R");
			ASSERT_STR_EQ(g->items[1]->str, "Attr.Sub");
		}
		ASSERT_TRUE(cfn_node_get(cfn_node_get(n, "b"), "Fn::Sub") != NULL);
		struct cfn_node *c = cfn_node_get(n, "c");
		ASSERT_EQ(c->items[0]->type, CFN_NUM);
		ASSERT_EQ(c->items[1]->type, CFN_STR);
		ASSERT_EQ(c->items[2]->type, CFN_STR);
		ASSERT_EQ(c->items[3]->type, CFN_BOOL);
		ASSERT_EQ(c->items[4]->type, CFN_NULL);
		ASSERT_TRUE(cfn_node_get(n, "d") == c);
		ASSERT_EQ(cfn_node_get(n, "e")->line, 5);
		ASSERT_EQ(cfn_node_get(n, "e")->col, 4);
	}
	ASSERT_TRUE(cfn_yaml_parse(&a, "a: *nope\n", 9, &err) == NULL);
	ASSERT_STR_CONTAINS(err.msg, "unknown alias *nope");
	cfn_arena_free(&a);
}

T_MAIN({
	T_RUN(test_reference_json);
	T_RUN(test_reference_yaml_same_model);
	T_RUN(test_deterministic);
	T_RUN(test_fn_ref);
	T_RUN(test_fn_getatt);
	T_RUN(test_fn_join_split_select);
	T_RUN(test_fn_sub);
	T_RUN(test_fn_getazs_base64_cidr);
	T_RUN(test_fn_findinmap);
	T_RUN(test_fn_if_conditions);
	T_RUN(test_resource_condition);
	T_RUN(test_parameters);
	T_RUN(test_error_bad_ref);
	T_RUN(test_error_cycle);
	T_RUN(test_error_wrong_type);
	T_RUN(test_error_unknown_type);
	T_RUN(test_error_broken_json);
	T_RUN(test_error_broken_yaml);
	T_RUN(test_error_missing_parameter);
	T_RUN(test_error_misspelled_property);
	T_RUN(test_errors_all_sorted);
	T_RUN(test_json_reader);
	T_RUN(test_yaml_reader);
})
