/*
 * Model building from templates: the address map (several VPCs, LB node
 * addresses), rule order, generated names, AWS defaults, AWS::NoValue,
 * strings for numbers and booleans, and the validation errors of the
 * supported resource types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "cfn_load.h"
#include "t.h"

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("mystack", text, errs);
}

#define NET                                                                                        \
	"Resources:\n"                                                                             \
	"  V1: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                      \
	"  V2: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.8.0.0/16}}\n"                      \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.1.0/24, "      \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V1, CidrBlock: 10.0.2.0/24, "      \
	"AvailabilityZone: us-east-1b}}\n"                                                         \
	"  C: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V2, CidrBlock: 10.8.3.0/24, "      \
	"AvailabilityZone: us-east-1c}}\n"                                                         \
	"  TG:\n"                                                                                  \
	"    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n"                                     \
	"    Properties: {Protocol: HTTP, Port: \"8080\", VpcId: !Ref V1, HealthCheckEnabled: "    \
	"\"false\"}\n"

static void test_address_map(void)
{
	char *errs;
	struct model *m = load(NET "  LB1: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, "
	                           "Properties: {Scheme: internal, Subnets: [!Ref A, !Ref B]}}\n"
	                           "  LB2: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, "
	                           "Properties: {Subnets: [!Ref B, !Ref A]}}\n",
	                       &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	char a[16];
	ASSERT_EQ(m->nvpcs, 2);
	ASSERT_STR_EQ(addr4_str(m->vpcs[1].lo_base, a), "127.78.0.0");
	ASSERT_STR_EQ(addr4_str(m->subnets[2].lo_cidr.addr, a), "127.78.3.0");
	ASSERT_STR_EQ(addr4_str(m->resolver_addr, a), "127.77.0.2");
	ASSERT_STR_EQ(addr4_str(m->lbs[0].node_addrs[0], a), "127.77.1.4");
	ASSERT_STR_EQ(addr4_str(m->lbs[0].node_addrs[1], a), "127.77.2.4");
	ASSERT_STR_EQ(addr4_str(m->lbs[1].node_addrs[0], a), "127.77.2.5");
	ASSERT_STR_EQ(addr4_str(m->lbs[1].node_addrs[1], a), "127.77.1.5");
	/* generated names: <=32 characters, internet-facing DNS without "internal-" */
	ASSERT_TRUE(strlen(m->lbs[1].name) <= 32);
	ASSERT_TRUE(strncmp(m->lbs[1].name, "mystac-LB2-", 11) == 0);
	ASSERT_STR_EQ(m->lbs[1].scheme, "internet-facing");
	ASSERT_TRUE(strncmp(m->lbs[1].dns_name, m->lbs[1].name, strlen(m->lbs[1].name)) == 0);
	ASSERT_STR_CONTAINS(m->lbs[0].dns_name, "internal-");
	ASSERT_TRUE(strlen(m->tgs[0].name) <= 32);
	/* strings for numbers and booleans */
	ASSERT_EQ(m->tgs[0].port, 8080);
	ASSERT_TRUE(!m->tgs[0].hc.enabled);
	model_free(m);
}

static void test_rules_sorted_and_defaults(void)
{
	char *errs;
	struct model *m = load(
	    NET "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: "
	        "[!Ref A, !Ref B],\n"
	        "       LoadBalancerAttributes: [{Key: idle_timeout.timeout_seconds, Value: "
	        "\"120\"}]}}\n"
	        "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
	        "!Ref LB, Port: 8000,\n"
	        "      DefaultActions: [{Type: forward, ForwardConfig: {TargetGroups: "
	        "[{TargetGroupArn: !Ref TG}]}}]}}\n"
	        "  R10: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
	        "{ListenerArn: !Ref L, Priority: 10,\n"
	        "      Conditions: [{Field: host-header, HostHeaderConfig: {Values: "
	        "[X.Example.COM]}}],\n"
	        "      Actions: [{Type: forward, TargetGroupArn: !Ref TG}]}}\n"
	        "  R2: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	        "!Ref L, Priority: \"2\",\n"
	        "      Conditions: [{Field: host-header, Values: [a.example.com, "
	        "\"*.b.example.com\"]}],\n"
	        "      Actions: [{Type: forward, TargetGroupArn: !GetAtt TG.TargetGroupArn}]}}\n"
	        "  R5: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	        "!GetAtt L.ListenerArn, Priority: 5,\n"
	        "      Conditions: [{Field: host-header, Values: [c.example.com]}],\n"
	        "      Actions: [{Type: forward, TargetGroupArn: !Ref TG}]}}\n",
	    &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	ASSERT_EQ(m->lbs[0].idle_timeout_s, 120);
	ASSERT_EQ(m->nlisteners, 1);
	ASSERT_EQ(m->listeners[0].default_action.target_group, 0);
	ASSERT_EQ(m->listeners[0].nrules, 3);
	ASSERT_EQ(m->rules[m->listeners[0].rules[0]].priority, 2);
	ASSERT_EQ(m->rules[m->listeners[0].rules[1]].priority, 5);
	ASSERT_EQ(m->rules[m->listeners[0].rules[2]].priority, 10);
	const struct model_rule *r10 = &m->rules[m->listeners[0].rules[2]];
	ASSERT_STR_EQ(r10->conds[0].values[0], "x.example.com");
	ASSERT_EQ(m->rules[m->listeners[0].rules[0]].conds[0].nvalues, 2);
	model_free(m);
}

static struct model *tg_attrs(const char *attrs, char **errs)
{
	char t[1024];
	snprintf(t, sizeof(t),
		 "Resources:\n"
		 "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
		 "  TG:\n"
		 "    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n"
		 "    Properties:\n"
		 "      Protocol: HTTP\n"
		 "      Port: 80\n"
		 "      VpcId: !Ref V\n"
		 "      TargetGroupAttributes: %s\n",
		 attrs);
	return load(t, errs);
}

static void test_tg_algorithms(void)
{
	char *errs;
	struct model *m = tg_attrs("[]", &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(m != NULL);
	ASSERT_EQ(m->tgs[0].lb_algo, MODEL_ALGO_ROUND_ROBIN);
	ASSERT_EQ(m->tgs[0].slow_start_s, 0);
	model_free(m);
	m = tg_attrs("[{Key: load_balancing.algorithm.type, Value: weighted_random}, "
		     "{Key: slow_start.duration_seconds, Value: \"30\"}]",
		     &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(m != NULL);
	ASSERT_EQ(m->tgs[0].lb_algo, MODEL_ALGO_WEIGHTED_RANDOM);
	ASSERT_EQ(m->tgs[0].slow_start_s, 30);
	model_free(m);
	m = tg_attrs("[{Key: load_balancing.algorithm.type, Value: least_outstanding_requests}]",
		     &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_EQ(m->tgs[0].lb_algo, MODEL_ALGO_LEAST_OUTSTANDING);
	model_free(m);
	m = tg_attrs("[{Key: load_balancing.algorithm.type, Value: least_outstanding_requests}, "
		     "{Key: slow_start.duration_seconds, Value: 60}]",
		     &errs);
	ASSERT_STR_CONTAINS(errs, "cannot be used with");
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: slow_start.duration_seconds, Value: 10}]", &errs);
	ASSERT_STR_CONTAINS(errs, "must be 0 or 30..900");
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: slow_start.duration_seconds, Value: 901}]", &errs);
	ASSERT_TRUE(errs[0] != 0);
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"true\"}, {Key: stickiness.type, Value: "
		     "lb_cookie}, {Key: stickiness.lb_cookie.duration_seconds, Value: \"60\"}]",
		     &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(m->tgs[0].sticky);
	ASSERT_EQ(m->tgs[0].sticky_s, 60);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"false\"}]", &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(!m->tgs[0].sticky);
	ASSERT_EQ(m->tgs[0].sticky_s, 86400);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"true\"}, {Key: stickiness.type, Value: "
		     "app_cookie}]",
		     &errs);
	ASSERT_STR_CONTAINS(errs, "stickiness.type app_cookie needs the attribute "
	                          "stickiness.app_cookie.cookie_name");
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"true\"}, {Key: stickiness.type, Value: "
	             "app_cookie}, {Key: stickiness.app_cookie.cookie_name, Value: SESSIONID}, "
	             "{Key: stickiness.app_cookie.duration_seconds, Value: \"120\"}]",
	             &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(m && m->tgs[0].app_sticky && !m->tgs[0].sticky);
	ASSERT_STR_EQ(m ? m->tgs[0].app_cookie : NULL, "SESSIONID");
	ASSERT_EQ(m ? m->tgs[0].app_sticky_s : 0, 120);
	model_free(m);
	/* the default duration; a disabled app_cookie is off */
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"false\"}, {Key: stickiness.type, Value: "
	             "app_cookie}, {Key: stickiness.app_cookie.cookie_name, Value: S}]",
	             &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	ASSERT_TRUE(m && !m->tgs[0].app_sticky && m->tgs[0].app_sticky_s == 86400);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.enabled, Value: \"true\"}, {Key: stickiness.type, Value: "
	             "app_cookie}, {Key: stickiness.app_cookie.cookie_name, Value: AWSALBAPPX}]",
	             &errs);
	ASSERT_STR_CONTAINS(errs,
	                    "TargetGroupAttributes[2]: stickiness.app_cookie.cookie_name "
	                    "can't start with AWSALB, AWSALBAPP or AWSALBTG (reserved for the "
	                    "load balancer), found \"AWSALBAPPX\"");
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.app_cookie.cookie_name, Value: 'a b'}, "
	             "{Key: stickiness.app_cookie.duration_seconds, Value: 604801}]",
	             &errs);
	ASSERT_STR_CONTAINS(errs, "TargetGroupAttributes[0]: stickiness.app_cookie.cookie_name "
	                          "must be a cookie name");
	ASSERT_STR_CONTAINS(errs, "TargetGroupAttributes[1].Value: ");
	free(errs);
	model_free(m);
	m = tg_attrs("[{Key: stickiness.lb_cookie.duration_seconds, Value: 604801}]", &errs);
	ASSERT_TRUE(errs[0] != 0);
	free(errs);
	model_free(m);
	{
		const char *t =
		    "Resources:\n"
		    "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
		    "  SN: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: "
		    "10.0.0.0/24, AvailabilityZone: us-east-1a}}\n"
		    "  SN2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: "
		    "10.0.1.0/24, AvailabilityZone: us-east-1b}}\n"
		    "  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
		    "HTTP, Port: 80, VpcId: !Ref V}}\n"
		    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: "
		    "internal, Subnets: [!Ref SN, !Ref SN2]}}\n"
		    "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
		    "!Ref LB, Port: 80, Protocol: HTTP, DefaultActions: [{Type: forward, "
		    "TargetGroupArn: !Ref TG}]}}\n"
		    "  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
		    "!Ref L, Priority: 1, Conditions: [{Field: path-pattern, Values: [/a]}], "
		    "Actions: [{Type: forward, TargetGroupArn: !Ref TG}], Transforms: [{Type: "
		    "url-rewrite, UrlRewriteConfig: {Rewrites: [{Regex: a, Replace: b}]}}]}}\n";
		/* Transforms run now (test_alb_transforms.c has the details) */
		m = load(t, &errs);
		ASSERT_TRUE(m != NULL);
		if (m) {
			ASSERT_EQ(m->nrules, 1);
			ASSERT_STR_EQ(m->rules[0].url_rw.replace, "b");
			ASSERT_TRUE(m->rules[0].url_rw.re != NULL &&
			            m->rules[0].host_rw.re == NULL);
		}
		free(errs);
		model_free(m);
	}
	m = tg_attrs("[{Key: load_balancing.algorithm.type, Value: fastest}]", &errs);
	ASSERT_STR_CONTAINS(errs, "round_robin");
	free(errs);
	model_free(m);
}

static void test_novalue_and_ecs(void)
{
	char *errs;
	struct model *m = load(
	    "Conditions:\n"
	    "  No: !Equals [a, b]\n"
	    "Resources:\n"
	    "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	    "  TG:\n"
	    "    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n"
	    "    Properties:\n"
	    "      Protocol: HTTP\n"
	    "      Port: 80\n"
	    "      VpcId: !Ref V\n"
	    "      HealthCheckPath: !If [No, /x, !Ref AWS::NoValue]\n"
	    "      Matcher: {HttpCode: 200-299}\n"
	    "      TargetGroupAttributes: [{Key: deregistration_delay.timeout_seconds, Value: 5}]\n"
	    "  SN: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.0.0/24, "
	    "AvailabilityZone: us-east-1a}}\n"
	    "  SN2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "
	    "AvailabilityZone: us-east-1b}}\n"
	    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: internal, "
	    "Subnets: [!Ref SN, !Ref SN2]}}\n"
	    "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref "
	    "LB, Port: 80, Protocol: HTTP, DefaultActions: [{Type: forward, TargetGroupArn: !Ref "
	    "TG}]}}\n"
	    "  Cl: {Type: AWS::ECS::Cluster}\n"
	    "  TD:\n"
	    "    Type: AWS::ECS::TaskDefinition\n"
	    "    Properties:\n"
	    "      ContainerDefinitions:\n"
	    "        - {Name: web, Image: img, EntryPoint: [/bin/sh, -c], Command: [echo hi], "
	    "Essential: \"true\",\n"
	    "           StopTimeout: 10, WorkingDirectory: /tmp, PortMappings: [{ContainerPort: "
	    "80, HostPort: 0}]}\n"
	    "        - {Name: side, Image: img2, Essential: false}\n"
	    "  S:\n"
	    "    Type: AWS::ECS::Service\n"
	    "    Properties:\n"
	    "      Cluster: !GetAtt Cl.Arn\n"
	    "      TaskDefinition: !Ref TD\n"
	    "      ServiceName: web\n"
	    "      LoadBalancers: [{ContainerName: web, ContainerPort: 80, TargetGroupArn: !Ref "
	    "TG}]\n",
	    &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	ASSERT_STR_EQ(m->tgs[0].hc.path, "/");
	ASSERT_STR_EQ(m->tgs[0].hc.matcher, "200-299");
	ASSERT_EQ(m->tgs[0].deregistration_delay_s, 5);
	ASSERT_TRUE(strncmp(m->clusters[0].name, "mystack-Cl-", 11) == 0);
	const struct model_task_def *td = &m->task_defs[0];
	ASSERT_STR_EQ(td->network_mode, "bridge");
	ASSERT_TRUE(strncmp(td->family, "mystack-TD-", 11) == 0);
	ASSERT_EQ(td->ncontainers, 2);
	ASSERT_EQ(td->containers[0].argc, 3);
	ASSERT_STR_EQ(td->containers[0].argv[0], "/bin/sh");
	ASSERT_STR_EQ(td->containers[0].argv[2], "echo hi");
	ASSERT_EQ(td->containers[0].stop_timeout_s, 10);
	ASSERT_STR_EQ(td->containers[0].working_dir, "/tmp");
	ASSERT_TRUE(!td->containers[1].essential);
	ASSERT_EQ(td->containers[1].argc, 0);
	ASSERT_TRUE(td->containers[1].working_dir == NULL);
	const struct model_service *s = &m->services[0];
	ASSERT_EQ(s->cluster, 0);
	ASSERT_EQ(s->desired, 1);
	ASSERT_EQ(s->min_healthy_pct, 100);
	ASSERT_EQ(s->max_pct, 200);
	ASSERT_STR_EQ(s->name, "web");
	ASSERT_STR_CONTAINS(s->arn, ":service/mystack-Cl-");
	model_free(m);
}

static void test_dns(void)
{
	char *errs;
	struct model *m = load(
	    NET "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: "
	        "internal, Subnets: [!Ref A, !Ref B]}}\n"
	        "  Z: {Type: AWS::Route53::HostedZone, Properties: {Name: In.Example.COM., "
	        "VPCs: [{VPCId: !Ref V1, VPCRegion: us-east-1}]}}\n"
	        "  R1: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, "
	        "Name: Api.in.example.com, Type: A,\n"
	        "       AliasTarget: {DNSName: !GetAtt LB.DNSName, HostedZoneId: !GetAtt "
	        "LB.CanonicalHostedZoneID}}}\n"
	        "  R2: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneName: "
	        "in.example.com., Name: db.in.example.com, Type: A,\n"
	        "       TTL: \"30\", ResourceRecords: [10.0.1.9, 10.0.2.9]}}\n"
	        "  W1: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: "
	        "w.in.example.com, Type: A,\n"
	        "       TTL: 5, SetIdentifier: one, Weight: 1, ResourceRecords: [10.0.1.1]}}\n"
	        "  W2: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: "
	        "w.in.example.com, Type: A,\n"
	        "       TTL: 5, SetIdentifier: two, Weight: 1, ResourceRecords: [10.0.1.2]}}\n",
	    &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	ASSERT_STR_EQ(m->zones[0].name, "in.example.com.");
	ASSERT_STR_EQ(m->records[0].name, "api.in.example.com.");
	ASSERT_EQ(m->records[0].alias_lb, 0);
	ASSERT_EQ(m->records[0].nvalues, 0);
	ASSERT_EQ(m->records[1].zone, 0);
	ASSERT_EQ(m->records[1].ttl, 30);
	ASSERT_EQ(m->records[1].nvalues, 2);
	ASSERT_STR_EQ(m->records[1].values[1], "10.0.2.9");
	ASSERT_EQ(m->nrecords, 4);
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

static void test_sg_rule_resources(void)
{
	char *errs;
	struct model *m = load("Resources:\n"
	                       "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	                       "  LbSg: {Type: AWS::EC2::SecurityGroup, Properties: "
	                       "{GroupDescription: lb, VpcId: !Ref V}}\n"
	                       "  TaskSg: {Type: AWS::EC2::SecurityGroup, Properties: "
	                       "{GroupDescription: t, VpcId: !Ref V}}\n"
	                       "  In: {Type: AWS::EC2::SecurityGroupIngress, Properties: {GroupId: "
	                       "!Ref LbSg, IpProtocol: tcp,\n"
	                       "       FromPort: 80, ToPort: 80, CidrIp: 10.0.0.0/16}}\n"
	                       "  FromLb: {Type: AWS::EC2::SecurityGroupIngress, Properties: "
	                       "{GroupId: !GetAtt TaskSg.GroupId,\n"
	                       "       IpProtocol: tcp, FromPort: 8080, ToPort: 8080, "
	                       "SourceSecurityGroupId: !Ref LbSg}}\n"
	                       "  Out: {Type: AWS::EC2::SecurityGroupEgress, Properties: {GroupId: "
	                       "!Ref LbSg, IpProtocol: \"-1\",\n"
	                       "       CidrIp: 10.0.0.0/8}}\n",
	                       &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	char a[16];
	ASSERT_EQ(m->sgs[0].ningress, 1);
	ASSERT_EQ(m->sgs[0].ingress[0].from_port, 80);
	ASSERT_EQ(m->sgs[0].negress, 2); /* AWS's default allow-all, and Out */
	ASSERT_EQ(m->sgs[0].egress[1].cidr.prefix, 8);
	ASSERT_EQ(m->sgs[1].ningress, 1);
	ASSERT_STR_EQ(addr4_str(m->sgs[1].ingress[0].cidr.addr, a), "10.0.0.0");
	ASSERT_EQ(m->sgs[1].ingress[0].cidr.prefix, 16);
	ASSERT_TRUE(!m->resources[4].no_effect);
	model_free(m);
}

static void test_health_check_timeout(void)
{
	expect_errors("Resources:\n"
	              "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	              "  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: "
	              "{Protocol: HTTP, Port: 80,\n"
	              "       VpcId: !Ref V, HealthCheckIntervalSeconds: 5}}\n",
	              (const char *const[]){
	                  "t.yaml:3:68: error: Resources.TG.Properties.HealthCheckTimeoutSeconds: "
	                  "Health check interval must be greater than the timeout "
	                  "(timeout 5 s, interval 5 s)\n",
	                  NULL});
}

#define TGX                                                                                        \
	"  X: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, "      \
	"Port: 8080, VpcId: !Ref V1, "

/* Targets (static ip registration, mapped onto the VPC's loopback /16),
 * ProtocolVersion HTTP2/GRPC with GrpcCode, and what vpcd refuses: HTTPS to
 * targets, instance targets, Lambda (and with it the 413 case). */
static void test_tg_targets_and_versions(void)
{
	char *errs;
	char a[16];
	struct model *m = load(
	    NET TGX "TargetType: ip,\n"
	            "      Targets: [{Id: 10.0.1.200}, {Id: 10.0.2.9, Port: 9000, "
	            "AvailabilityZone: us-east-1b}, {Id: 10.0.1.201, AvailabilityZone: all}]}}\n"
	            "  G: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	            "HTTP, Port: 50051, VpcId: !Ref V1, ProtocolVersion: GRPC}}\n"
	            "  G2: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	            "HTTP, Port: 50051, VpcId: !Ref V1, ProtocolVersion: GRPC, Matcher: {GrpcCode: "
	            "\"0-99\"}}}\n"
	            "  H2: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	            "HTTP, Port: 8080, VpcId: !Ref V1, ProtocolVersion: HTTP2}}\n"
	            "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: "
	            "[!Ref A, !Ref B]}}\n"
	            "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: "
	            "{LoadBalancerArn: !Ref LB, Port: 443, Protocol: HTTPS, Certificates: "
	            "[{CertificateArn: c}],\n"
	            "      DefaultActions: [{Type: forward, TargetGroupArn: !Ref H2}]}}\n",
	    &errs);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	ASSERT_EQ(m->tgs[1].ntargets, 3);
	ASSERT_STR_EQ(addr4_str(m->tgs[1].targets[0].addr, a), "127.77.1.200");
	ASSERT_EQ(m->tgs[1].targets[0].port, 8080);
	ASSERT_STR_EQ(addr4_str(m->tgs[1].targets[1].addr, a), "127.77.2.9");
	ASSERT_EQ(m->tgs[1].targets[1].port, 9000);
	ASSERT_EQ(m->tgs[0].ntargets, 0);
	ASSERT_EQ(m->tgs[1].protocol_version, MODEL_PV_HTTP1);
	ASSERT_EQ(m->tgs[2].protocol_version, MODEL_PV_GRPC);
	ASSERT_STR_EQ(m->tgs[2].hc.matcher, "12");
	ASSERT_STR_EQ(m->tgs[2].hc.path, "/AWS.ALB/healthcheck");
	ASSERT_STR_EQ(m->tgs[3].hc.matcher, "0-99");
	ASSERT_EQ(m->tgs[4].protocol_version, MODEL_PV_HTTP2);
	ASSERT_STR_EQ(m->tgs[4].hc.matcher, "200");
	model_free(m);

	expect_errors(NET TGX
	              "TargetType: ip,\n"
	              "      Targets: [{Id: web1}, {Id: 10.9.0.1}, {Id: 10.9.0.2, "
	              "AvailabilityZone: all},\n"
	              "        {Id: 10.0.1.9, AvailabilityZone: us-east-1b}, {Port: 80}, "
	              "{Id: 10.0.1.10, Port: 0}]}}\n"
	              "  I: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: "
	              "{Protocol: HTTP, Port: 80, VpcId: !Ref V1, Targets: [{Id: i-0123}]}}\n",
	              (const char *const[]){
	                  "t.yaml:11:22: error: Resources.X.Properties.Targets[0].Id: an ip "
	                  "target's Id must be an IPv4 address, found \"web1\"",
	                  "X.Properties.Targets[1].Id: 10.9.0.1 is outside the VPC's CIDR "
	                  "10.0.0.0/16: AWS requires AvailabilityZone \"all\"",
	                  "X.Properties.Targets[2].Id: 10.9.0.2 is outside the VPC's CIDR "
	                  "10.0.0.0/16: vpcd maps only the VPC onto loopback",
	                  "X.Properties.Targets[3].AvailabilityZone: 10.0.1.9 is in no subnet of "
	                  "AvailabilityZone us-east-1b",
	                  "X.Properties.Targets[4]: missing required property Id",
	                  "X.Properties.Targets[5].Port: must be 1..65535, found 0",
	                  "I.Properties.Targets: static targets of target type instance are not "
	                  "supported: vpcd models no AWS::EC2::Instance",
	                  NULL});
	expect_errors(
	    NET TGX
	    "ProtocolVersion: GRPC, Matcher: {GrpcCode: \"100\"}}}\n"
	    "  Y: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	    "HTTPS, Port: 443, VpcId: !Ref V1}}\n"
	    "  Z: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	    "HTTP, Port: 80, VpcId: !Ref V1, HealthCheckProtocol: HTTPS, Matcher: {GrpcCode: "
	    "\"12\"}}}\n"
	    "  W: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	    "HTTP, Port: 80, VpcId: !Ref V1, ProtocolVersion: GRPC, Matcher: {HttpCode: "
	    "\"200\"}}}\n"
	    "  La: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {TargetType: "
	    "lambda}}\n"
	    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: "
	    "[!Ref A, !Ref B]}}\n"
	    "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
	    "!Ref LB, Port: 80, Protocol: HTTP,\n"
	    "      DefaultActions: [{Type: forward, TargetGroupArn: !Ref X}]}}\n"
	    "  R: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	    "!Ref L, Priority: 1,\n"
	    "      Conditions: [{Field: path-pattern, Values: [/x]}], Actions: [{Type: "
	    "forward, ForwardConfig: {TargetGroups: [{TargetGroupArn: !Ref TG}, "
	    "{TargetGroupArn: !Ref W}]}}]}}\n",
	    (const char *const[]){
	        "X.Properties.Matcher.GrpcCode: must be gRPC codes 0..99",
	        "Y.Properties.Protocol: protocol HTTPS is not supported: vpcd speaks no TLS to "
	        "targets",
	        "Z.Properties.HealthCheckProtocol: health check protocol HTTPS is not supported",
	        "Z.Properties.Matcher.GrpcCode: GrpcCode is for target groups with "
	        "ProtocolVersion GRPC; this one is HTTP1",
	        "W.Properties.Matcher.HttpCode: a target group with ProtocolVersion GRPC matches "
	        "GrpcCode, not HttpCode",
	        "La.Properties.TargetType: target type lambda is not supported: vpcd runs no "
	        "Lambda functions (so the ALB's 413",
	        "L.Properties.DefaultActions: target group X has ProtocolVersion GRPC, which AWS "
	        "allows only behind an HTTPS listener; this listener is HTTP",
	        "R.Properties.Actions: target group W has ProtocolVersion GRPC", NULL});
}

static void test_validation_errors(void)
{
	expect_errors(
	    NET "  TG2: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: "
	        "HTTP, Port: 70000, VpcId: !Ref V1,\n"
	        "        HealthCheckIntervalSeconds: 4, HealthCheckTimeoutSeconds: 121, "
	        "HealthyThresholdCount: 11, Matcher: {HttpCode: \"600\"}}}\n"
	        "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: "
	        "private, Subnets: [!Ref A]}}\n"
	        "  Z: {Type: AWS::Route53::HostedZone, Properties: {Name: in.example.com}}\n"
	        "  R: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: "
	        "x.other.com, Type: CNAME, TTL: -1,\n"
	        "      ResourceRecords: [a.example.com, b.example.com]}}\n"
	        "  R2: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: "
	        "y.in.example.com, Type: MXX, TTL: 1,\n"
	        "      ResourceRecords: [a]}}\n",
	    (const char *const[]){
	        "TG2.Properties.Port: must be 1..65535, found 70000",
	        "TG2.Properties.HealthCheckIntervalSeconds: must be 5..300, found 4",
	        "TG2.Properties.HealthCheckTimeoutSeconds: must be 2..120, found 121",
	        "TG2.Properties.HealthyThresholdCount: must be 2..10, found 11",
	        "TG2.Properties.Matcher.HttpCode: must be codes 200..499",
	        "LB.Properties.Scheme: must be one of internal, internet-facing; found \"private\"",
	        "LB.Properties.Subnets: At least two subnets in two different Availability Zones "
	        "must be specified",
	        "R.Properties.Name: RRSet with DNS name x.other.com. is not permitted in zone "
	        "in.example.com.",
	        "R.Properties.TTL: must be 0..2147483647, found -1",
	        "R.Properties.ResourceRecords: a CNAME record set has exactly one value",
	        "R2.Properties.Type: must be one of A, AAAA,", NULL});
	expect_errors(
	    NET "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: "
	        "[!Ref A, !Ref B]}}\n"
	        "  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: "
	        "!Ref LB, Port: 80, Protocol: HTTP,\n"
	        "      DefaultActions: [{Type: fixed-response}]}}\n"
	        "  R1: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	        "!Ref L, Priority: 3,\n"
	        "      Conditions: [{Field: host-header, Values: [nodot]}], Actions: [{Type: "
	        "forward, TargetGroupArn: !Ref TG}]}}\n"
	        "  R2: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	        "!Ref L, Priority: 3,\n"
	        "      Conditions: [{Field: http-header, Values: [/x]}], Actions: [{Type: forwrd, "
	        "TargetGroupArn: !Ref TG}]}}\n"
	        "  R3: {Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: {ListenerArn: "
	        "!Ref L, Priority: 0,\n"
	        "      Conditions: [{Feild: host-header}], Actions: [{Type: forward, "
	        "TargetGroupArn: !Ref TG}]}}\n",
	    (const char *const[]){
	        "L.Properties.DefaultActions[0]: a fixed-response action needs "
	        "FixedResponseConfig",
	        "R1.Properties.Conditions[0].Values[0]: a host name has up to 128 characters",
	        "R2.Properties.Priority: Priority '3' is currently in use",
	        "R2.Properties.Conditions[0].Values: Values is only for host-header and "
	        "path-pattern; use HttpHeaderConfig",
	        "R2.Properties.Actions[0].Type: must be one of forward, redirect, fixed-response, "
	        "authenticate-oidc, "
	        "authenticate-cognito, jwt-validation; found \"forwrd\" (did you mean forward?)",
	        "R3.Properties.Priority: must be 1..50000, found 0",
	        "R3.Properties.Conditions[0].Feild: unknown property (did you mean Field?)", NULL});
	expect_errors(
	    "Resources:\n"
	    "  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"
	    "  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.1.1.0/24}}\n"
	    "  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.0.0/20, "
	    "AvailabilityZone: us-east-1z}}\n"
	    "  C: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "
	    "AvailabilityZone: us-east-1a}}\n"
	    "  TD: {Type: AWS::ECS::TaskDefinition, Properties: {NetworkMode: awsvpc, "
	    "ContainerDefinitions: [{Name: a, Image: i, Essential: false}]}}\n"
	    "  Cl: {Type: AWS::ECS::Cluster}\n"
	    "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: !Ref "
	    "TD, DesiredCount: 1,\n"
	    "      LoadBalancers: [{ContainerName: b, ContainerPort: 80, TargetGroupArn: x}]}}\n"
	    "  G: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: 3, MaxSize: 2, "
	    "VPCZoneIdentifier: [!Ref VV]}}\n",
	    (const char *const[]){
	        "A.Properties: a subnet needs AvailabilityZone here",
	        "A.Properties.CidrBlock: The CIDR '10.1.1.0/24' is invalid: it is not inside the "
	        "VPC's CIDR block",
	        "B.Properties.AvailabilityZone: \"us-east-1z\" is not an Availability Zone of "
	        "us-east-1",
	        "C.Properties.CidrBlock: The CIDR '10.0.1.0/24' conflicts with another subnet (B)",
	        "TD.Properties.ContainerDefinitions: a task definition must have at least one "
	        "essential container",
	        "S.Properties.LoadBalancers[0].ContainerName: the task definition TD has no "
	        "container named b",
	        "S.Properties.LoadBalancers[0].TargetGroupArn: \"x\" is not a target group of this "
	        "template",
	        "S.Properties: a task definition with NetworkMode awsvpc needs "
	        "NetworkConfiguration.AwsvpcConfiguration",
	        "G.Properties.VPCZoneIdentifier[0]: Template format error: Unresolved resource "
	        "dependencies [VV] in the "
	        "Resources block of the template (did you mean V?)",
	        NULL});
}

static void test_default_vpc(void)
{
	struct cfn_options o;
	cfn_options_default(&o);
	const char *const params[] = {"Vpc=vpc-0abc", "Subnets=subnet-1, subnet-2"};
	o.params = params;
	o.nparams = 2;
	const char *t =
	    "Parameters:\n"
	    "  Vpc: {Type: \"AWS::EC2::VPC::Id\"}\n"
	    "  Subnets: {Type: \"List<AWS::EC2::Subnet::Id>\"}\n"
	    "Resources:\n"
	    "  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: "
	    "internal, Subnets: !Ref Subnets}}\n"
	    "  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, "
	    "Port: 80, VpcId: !Ref Vpc}}\n"
	    "  G: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: 1, MaxSize: 1,\n"
	    "      VPCZoneIdentifier: [!Select [1, !Ref Subnets]]}}\n";
	char *errs;
	size_t len;
	FILE *f = open_memstream(&errs, &len);
	struct model *m = NULL;
	cfn_load_buf("d.yaml", t, strlen(t), &o, &m, f);
	fclose(f);
	ASSERT_STR_EQ(errs, "");
	free(errs);
	if (!m)
		return;
	char a[16];
	ASSERT_EQ(m->nvpcs, 1);
	ASSERT_STR_EQ(m->vpcs[0].id, "vpc-0abc");
	ASSERT_STR_EQ(addr4_str(m->vpcs[0].cidr.addr, a), "172.31.0.0");
	ASSERT_EQ(m->nsubnets, 2);
	ASSERT_STR_EQ(m->subnets[0].id, "subnet-1");
	ASSERT_STR_EQ(m->subnets[0].az, "us-east-1a");
	ASSERT_STR_EQ(m->subnets[1].az, "us-east-1b");
	ASSERT_STR_EQ(addr4_str(m->subnets[1].lo_cidr.addr, a), "127.77.16.0");
	ASSERT_EQ(m->subnets[1].lo_cidr.prefix, 20);
	ASSERT_STR_EQ(addr4_str(m->lbs[0].node_addrs[0], a), "127.77.0.4");
	ASSERT_STR_EQ(addr4_str(m->lbs[0].node_addrs[1], a), "127.77.16.4");
	ASSERT_EQ(m->tgs[0].vpc, 0);
	ASSERT_EQ(m->asgs[0].nsubnets, 1);
	ASSERT_EQ(m->asgs[0].subnets[0], 1);
	model_free(m);
}

T_MAIN({
	T_RUN(test_tg_algorithms);
	T_RUN(test_default_vpc);
	T_RUN(test_address_map);
	T_RUN(test_rules_sorted_and_defaults);
	T_RUN(test_novalue_and_ecs);
	T_RUN(test_dns);
	T_RUN(test_validation_errors);
	T_RUN(test_tg_targets_and_versions);
	T_RUN(test_health_check_timeout);
	T_RUN(test_sg_rule_resources);
})
