/*
 * Task placement (src/ecs/placement.c): the instance-type table, task
 * cpu/memory strings, Fargate combinations, the cluster query language
 * parser (with its errors) and matcher, host choice over synthetic hosts
 * (reservations, constraints, spread, binpack, random, the failure reason);
 * and the template side (src/cfn/ecsplace.c): instance types from
 * LaunchConfiguration and LaunchTemplate, Cpu/Memory, placement properties
 * and their errors at FILE:LINE:COL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "ecs/ecs.h"
#include "ecs/placement.h"
#include "model/model.h"
#include "cfn_load.h"
#include "t.h"

static void test_instance_types(void)
{
	int cpu = 0, mem = 0;
	ASSERT_EQ(place_instance_type("m5.large", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 2048);
	ASSERT_EQ(mem, 7985); /* ECS's guide: 8 GiB register as 7985 MiB */
	ASSERT_EQ(place_instance_type("t3.micro", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 2048);
	ASSERT_EQ(mem, 1024 - 26);
	ASSERT_EQ(place_instance_type("t2.micro", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 1024);
	ASSERT_EQ(place_instance_type("t3.small", &cpu, &mem), 0);
	ASSERT_EQ(mem, 1996);
	ASSERT_EQ(place_instance_type("c6g.medium", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 1024);
	ASSERT_EQ(mem, 2048 - 52);
	ASSERT_EQ(place_instance_type("r5.4xlarge", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 16 * 1024);
	ASSERT_EQ(mem, 131072 - 3312);
	ASSERT_EQ(place_instance_type("c5.9xlarge", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 36 * 1024);
	ASSERT_EQ(place_instance_type("m7g.xlarge", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 4096);
	ASSERT_EQ(place_instance_type("x9.large", &cpu, &mem), -ENOENT);
	ASSERT_EQ(place_instance_type("m5", &cpu, &mem), -ENOENT);
	ASSERT_EQ(place_instance_type("m5.medium", &cpu, &mem), -EINVAL); /* Intel: no medium */
	ASSERT_EQ(place_instance_type("m5.huge", &cpu, &mem), -EINVAL);
	ASSERT_EQ(place_instance_type("m5.1xlarge", &cpu, &mem), -EINVAL);
	ASSERT_EQ(place_instance_type("m5.02xlarge", &cpu, &mem), -EINVAL);
	ASSERT_EQ(place_instance_type("t3.4xlarge", &cpu, &mem), -EINVAL);
	ASSERT_EQ(place_instance_type("c4.8xlarge", &cpu, &mem), 0);
	ASSERT_EQ(cpu, 36 * 1024);
	ASSERT_EQ(place_instance_type("c4.large", &cpu, &mem), 0);
	ASSERT_EQ(mem, 3840 - 98);
}

static int cpu_of(const char *s)
{
	int v = -1;
	return place_parse_cpu(s, strlen(s), &v) < 0 ? -1 : v;
}

static int mem_of(const char *s)
{
	int v = -1;
	return place_parse_memory(s, strlen(s), &v) < 0 ? -1 : v;
}

static void test_cpu_memory_strings(void)
{
	ASSERT_EQ(cpu_of("256"), 256);
	ASSERT_EQ(cpu_of("1 vCPU"), 1024);
	ASSERT_EQ(cpu_of("0.25 vCPU"), 256);
	ASSERT_EQ(cpu_of(".5 vcpu"), 512);
	ASSERT_EQ(cpu_of("2vcpu"), 2048);
	ASSERT_EQ(cpu_of("0.5"), -1); /* units are whole */
	ASSERT_EQ(cpu_of("abc"), -1);
	ASSERT_EQ(cpu_of("1 core"), -1);
	ASSERT_EQ(cpu_of("0"), -1);
	ASSERT_EQ(cpu_of(""), -1);
	ASSERT_EQ(mem_of("512"), 512);
	ASSERT_EQ(mem_of("1 GB"), 1024);
	ASSERT_EQ(mem_of("1GB"), 1024);
	ASSERT_EQ(mem_of("0.5 gb"), 512);
	ASSERT_EQ(mem_of("30 GB"), 30720);
	ASSERT_EQ(mem_of("1 MB"), -1);
	ASSERT_EQ(mem_of("1.5"), -1);
	ASSERT_EQ(mem_of("-1"), -1);
	ASSERT_TRUE(place_fargate_ok(256, 512));
	ASSERT_TRUE(place_fargate_ok(256, 2048));
	ASSERT_TRUE(!place_fargate_ok(256, 4096));
	ASSERT_TRUE(place_fargate_ok(512, 3072));
	ASSERT_TRUE(!place_fargate_ok(512, 512));
	ASSERT_TRUE(place_fargate_ok(4096, 30720));
	ASSERT_TRUE(!place_fargate_ok(4096, 31744));
	ASSERT_TRUE(place_fargate_ok(8192, 20480));
	ASSERT_TRUE(!place_fargate_ok(8192, 17408)); /* 4 GB steps */
	ASSERT_TRUE(place_fargate_ok(16384, 40960));
	ASSERT_TRUE(!place_fargate_ok(300, 1024));
}

static bool match(const char *expr, const char *az, const char *type, const char *id)
{
	struct place_query q;
	struct place_attrs a = {
	    .az = az, .instance_type = type, .os_type = "linux", .instance_id = id};
	size_t off;
	char err[160];
	if (place_query_parse(expr, strlen(expr), &q, &off, err, sizeof(err)) < 0) {
		T_FAIL("%s: parse error at %zu: %s", expr, off, err);
		return false;
	}
	return place_query_match(&q, &a);
}

static void test_query_match(void)
{
	ASSERT_TRUE(match("attribute:ecs.instance-type == t3.small", "a", "t3.small", "i-1"));
	ASSERT_TRUE(!match("attribute:ecs.instance-type == t3.small", "a", "m5.large", "i-1"));
	ASSERT_TRUE(match("attribute:ecs.instance-type =~ t3.*", "a", "t3.small", "i-1"));
	ASSERT_TRUE(match("attribute:ecs.instance-type == 'm5.*'", "a", "m5.large", "i-1"));
	ASSERT_TRUE(!match("attribute:ecs.instance-type != m5.*", "a", "m5.large", "i-1"));
	ASSERT_TRUE(match("attribute:ecs.availability-zone in [us-east-1a, us-east-1c]",
	                  "us-east-1c", "t3.small", "i-1"));
	ASSERT_TRUE(!match("attribute:ecs.availability-zone not in [us-east-1a, 'us-east-1c']",
	                   "us-east-1c", "t3.small", "i-1"));
	ASSERT_TRUE(match("attribute:ecs.availability-zone !in [us-east-1a]", "us-east-1b",
	                  "t3.small", "i-1"));
	ASSERT_TRUE(match("attribute:ecs.instance-type exists", "a", "t3.small", "i-1"));
	ASSERT_TRUE(!match("attribute:ecs.instance-type exists", "a", NULL, "i-1"));
	ASSERT_TRUE(match("attribute:ecs.instance-type !exists", "a", NULL, "i-1"));
	/* no attribute: matches no value, so != is false too */
	ASSERT_TRUE(!match("attribute:ecs.instance-type != t3.small", "a", NULL, "i-1"));
	ASSERT_TRUE(match("attribute:ecs.os-type == linux and ec2InstanceId in [i-1, i-2]", "a",
	                  "t3.small", "i-2"));
	/* and binds tighter than or */
	ASSERT_TRUE(match("ec2InstanceId == i-9 or attribute:ecs.availability-zone == a && "
	                  "attribute:ecs.instance-type == t3.*",
	                  "a", "t3.small", "i-1"));
	ASSERT_TRUE(!match("(ec2InstanceId == i-9 or attribute:ecs.availability-zone == a) && "
	                   "attribute:ecs.instance-type == m5.*",
	                   "a", "t3.small", "i-1"));
	ASSERT_TRUE(match("((ec2InstanceId==i-1))", "a", "t3.small", "i-1"));
	ASSERT_TRUE(match("ec2InstanceId == *", "a", "t3.small", "i-1"));
	ASSERT_TRUE(match("ec2InstanceId == i-*-x*", "a", "t3.small", "i-12-xyz"));
	ASSERT_TRUE(!match("ec2InstanceId == i-*-x", "a", "t3.small", "i-12-xyz"));
}

/* The offset and message of a parse error, "" when it parses. */
static size_t parse_err(const char *expr, char *err, size_t len)
{
	struct place_query q;
	size_t off = SIZE_MAX;
	err[0] = '\0';
	if (place_query_parse(expr, strlen(expr), &q, &off, err, len) == 0)
		return SIZE_MAX;
	return off;
}

static void test_query_errors(void)
{
	char err[200];
	ASSERT_EQ(parse_err("attribute:ecs.instance-type", err, sizeof(err)), 27);
	ASSERT_STR_CONTAINS(err, "expected an operator");
	ASSERT_EQ(parse_err("attribute:foo == x", err, sizeof(err)), 0);
	ASSERT_STR_CONTAINS(err, "unsupported subject 'attribute:foo'");
	ASSERT_EQ(parse_err("ec2InstanceId in i-1", err, sizeof(err)), 17);
	ASSERT_STR_CONTAINS(err, "expected '['");
	ASSERT_EQ(parse_err("ec2InstanceId in [i-1, ", err, sizeof(err)), 23);
	ASSERT_STR_CONTAINS(err, "expected a value");
	ASSERT_EQ(parse_err("ec2InstanceId in [i-1 i-2]", err, sizeof(err)), 22);
	ASSERT_STR_CONTAINS(err, "expected ',' or ']'");
	ASSERT_EQ(parse_err("(ec2InstanceId == i-1", err, sizeof(err)), 21);
	ASSERT_STR_CONTAINS(err, "expected ')'");
	ASSERT_EQ(parse_err("ec2InstanceId == i-1 xor ec2InstanceId == i-2", err, sizeof(err)), 21);
	ASSERT_STR_CONTAINS(err, "unexpected text");
	ASSERT_EQ(parse_err("ec2InstanceId == 'i-1", err, sizeof(err)), 17);
	ASSERT_STR_CONTAINS(err, "unterminated");
	ASSERT_EQ(parse_err("", err, sizeof(err)), 0);
	ASSERT_STR_CONTAINS(err, "expected a subject");
	ASSERT_EQ(parse_err("ec2InstanceId not x", err, sizeof(err)), 18);
	ASSERT_STR_CONTAINS(err, "expected 'in' after 'not'");
	ASSERT_EQ(parse_err("ec2InstanceId == a and", err, sizeof(err)), 22);
	/* deep nesting is refused, not recursed into */
	{
		char deep[200];
		memset(deep, '(', 40);
		snprintf(deep + 40, sizeof(deep) - 40, "ec2InstanceId == a");
		ASSERT_TRUE(parse_err(deep, err, sizeof(err)) != SIZE_MAX);
		ASSERT_STR_CONTAINS(err, "nested too deeply");
	}
	/* every prefix of a valid expression fails cleanly or parses */
	{
		const char *ok = "(attribute:ecs.availability-zone in ['a', b] or ec2InstanceId "
		                 "exists) and attribute:ecs.os-type != windows";
		struct place_query q;
		size_t off;
		for (size_t n = 0; n <= strlen(ok); n++) {
			int rc = place_query_parse(ok, n, &q, &off, err, sizeof(err));
			ASSERT_TRUE(rc == 0 || off <= n);
		}
		ASSERT_EQ(place_query_parse(ok, strlen(ok), &q, &off, err, sizeof(err)), 0);
	}
}

static struct place_host host(const char *id, const char *az, const char *type, int cpu, int mem,
                              size_t svc)
{
	return (struct place_host){
	    .attrs = {.az = az, .instance_type = type, .os_type = "linux", .instance_id = id},
	    .cpu_total = cpu,
	    .mem_total = mem,
	    .cpu_free = cpu,
	    .mem_free = mem,
	    .svc_tasks = svc,
	    .total_tasks = svc,
	    .usable = true};
}

static void test_choose_default_spread(void)
{
	struct place_host h[4] = {host("i-1", "a", "t3.small", 2048, 1996, 1),
	                          host("i-2", "a", "t3.small", 2048, 1996, 0),
	                          host("i-3", "b", "t3.small", 2048, 1996, 0),
	                          host("i-4", "b", "t3.small", 2048, 1996, 0)};
	struct place_req req = {.cpu = 256, .mem = 512};
	struct place_result r;
	/* AZ a has one task: AZ b, its first host */
	ASSERT_EQ(place_choose(h, 4, &req, &r), 0);
	ASSERT_EQ(r.host, 2);
	h[2].svc_tasks = 1;
	/* one per AZ: then the hosts with none, i-2 first */
	ASSERT_EQ(place_choose(h, 4, &req, &r), 0);
	ASSERT_EQ(r.host, 1);
	/* a stopped host is not used */
	h[1].usable = false;
	ASSERT_EQ(place_choose(h, 4, &req, &r), 0);
	ASSERT_EQ(r.host, 3);
}

static void test_choose_binpack(void)
{
	struct place_host h[3] = {host("i-1", "a", "t3.small", 2048, 1996, 0),
	                          host("i-2", "b", "t3.small", 2048, 1996, 0),
	                          host("i-3", "a", "t3.small", 2048, 1996, 0)};
	struct place_strategy st = {PLACE_BINPACK, PLACE_FIELD_MEMORY};
	struct place_req req = {.cpu = 0, .mem = 512, .strategies = &st, .nstrategies = 1};
	struct place_result r;
	int counts[3] = {0, 0, 0};
	/* Placing 5 tasks of 512 MiB: 3 fill i-1, then i-2 */
	for (int k = 0; k < 5; k++) {
		ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
		if (r.host < 0)
			return;
		h[r.host].mem_free -= 512;
		h[r.host].svc_tasks++;
		h[r.host].total_tasks++;
		counts[r.host]++;
	}
	ASSERT_EQ(counts[0], 3);
	ASSERT_EQ(counts[1], 2);
	ASSERT_EQ(counts[2], 0);
	/* binpack on cpu: the host with the least cpu left */
	st.field = PLACE_FIELD_CPU;
	h[2].cpu_free = 100;
	req.cpu = 100;
	ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
	ASSERT_EQ(r.host, 2);
}

static void test_choose_spread_fields_and_random(void)
{
	struct place_host h[3] = {host("i-1", "a", "t3.small", 0, 0, 2),
	                          host("i-2", "a", "m5.large", 0, 0, 0),
	                          host("i-3", "b", "m5.large", 0, 0, 1)};
	struct place_strategy st[2] = {{PLACE_SPREAD, PLACE_FIELD_INSTANCE_TYPE},
	                               {PLACE_SPREAD, PLACE_FIELD_INSTANCE}};
	struct place_req req = {.strategies = st, .nstrategies = 2};
	struct place_result r;
	bool seen[3] = {false, false, false};
	/* t3.small has 2, m5.large 1: an m5.large, the one with none */
	ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
	ASSERT_EQ(r.host, 1);
	/* instanceId alone: the host with fewest of the service */
	req.strategies = &st[1];
	req.nstrategies = 1;
	ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
	ASSERT_EQ(r.host, 1);
	/* random: every host comes up over different random bits */
	st[0] = (struct place_strategy){PLACE_RANDOM, PLACE_FIELD_NONE};
	req.strategies = st;
	for (uint64_t k = 0; k < 64; k++) {
		req.random = k * 0x9e3779b97f4a7c15ull;
		ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
		if (r.host >= 0)
			seen[r.host] = true;
	}
	ASSERT_TRUE(seen[0] && seen[1] && seen[2]);
}

static void test_choose_constraints_and_failures(void)
{
	struct place_host h[3] = {host("i-1", "a", "t3.small", 2048, 1996, 1),
	                          host("i-2", "b", "m5.large", 2048, 7985, 0),
	                          host("i-3", "b", "t3.small", 2048, 1996, 0)};
	struct place_query q;
	const struct place_query *mo[1] = {&q};
	const char *expr = "attribute:ecs.instance-type == t3.*";
	struct place_req req = {.cpu = 256, .mem = 512, .member_of = mo, .nmember_of = 1};
	struct place_result r;
	size_t off;
	char err[160], text[400];

	ASSERT_EQ(place_query_parse(expr, strlen(expr), &q, &off, err, sizeof(err)), 0);
	ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
	ASSERT_EQ(r.host, 2); /* t3 only: i-3 in the AZ with none */
	req.distinct_instance = true;
	h[2].svc_tasks = 1;
	/* both t3 hosts have a task: distinctInstance leaves none; the
	 * m5.large passes distinct but fails memberOf, so it is the closest */
	ASSERT_EQ(place_choose(h, 3, &req, &r), -ENOSPC);
	ASSERT_EQ(r.host, -1);
	ASSERT_EQ(r.why, PLACE_NO_MEMBER_OF);
	ASSERT_EQ(r.closest, 1);
	place_why_text(r.why, "i-2", text, sizeof(text));
	ASSERT_STR_EQ(text, " The closest matching container-instance i-2 encountered error "
	                    "\"MemberOf placement constraint unsatisfied.\". For more "
	                    "information, see the Troubleshooting section.");
	req.nmember_of = 0;
	h[1].svc_tasks = 1;
	ASSERT_EQ(place_choose(h, 3, &req, &r), -ENOSPC);
	ASSERT_EQ(r.why, PLACE_NO_DISTINCT);
	/* too much memory everywhere */
	req.distinct_instance = false;
	req.mem = 8000;
	ASSERT_EQ(place_choose(h, 3, &req, &r), -ENOSPC);
	ASSERT_EQ(r.why, PLACE_NO_MEMORY);
	ASSERT_EQ(r.closest, 0);
	place_why_text(r.why, "i-1", text, sizeof(text));
	ASSERT_STR_EQ(text, " The closest matching container-instance i-1 has insufficient "
	                    "memory available. For more information, see the Troubleshooting "
	                    "section.");
	req.mem = 512;
	req.cpu = 4096;
	ASSERT_EQ(place_choose(h, 3, &req, &r), -ENOSPC);
	ASSERT_EQ(r.why, PLACE_NO_CPU);
	/* hosts without an instance type take anything */
	h[0].cpu_total = h[0].mem_total = 0;
	ASSERT_EQ(place_choose(h, 3, &req, &r), 0);
	ASSERT_EQ(r.host, 0);
	/* no usable host */
	for (int i = 0; i < 3; i++)
		h[i].usable = false;
	ASSERT_EQ(place_choose(h, 3, &req, &r), -ENOSPC);
	ASSERT_EQ(r.why, PLACE_NO_HOSTS);
	place_why_text(r.why, NULL, text, sizeof(text));
	ASSERT_STR_EQ(text, " Reason: No Container Instances were found in your cluster.");
}

static void test_scale_in(void)
{
	struct place_host h[4] = {host("i-1", "a", "t3.small", 2048, 1996, 2),
	                          host("i-2", "a", "t3.small", 2048, 1996, 1),
	                          host("i-3", "b", "t3.small", 2048, 1996, 1),
	                          host("i-4", "b", "t3.small", 2048, 1996, 0)};
	struct place_strategy bp = {PLACE_BINPACK, PLACE_FIELD_MEMORY};
	for (int i = 0; i < 4; i++)
		h[i].victims = h[i].svc_tasks;
	/* default: the AZ with the most (a: 3), then the host with the most */
	ASSERT_EQ(place_scale_in(h, 4, NULL, 0, 0), 0);
	h[0].svc_tasks = h[0].victims = 1;
	/* a: 2, b: 1 -> a; i-1 and i-2 tie: the last */
	ASSERT_EQ(place_scale_in(h, 4, NULL, 0, 0), 1);
	/* binpack: where most memory is left */
	h[2].mem_free = 1000;
	h[1].mem_free = 1500;
	h[0].mem_free = 1800;
	ASSERT_EQ(place_scale_in(h, 4, &bp, 1, 0), 0);
	/* only hosts with victims count */
	h[0].victims = 0;
	ASSERT_EQ(place_scale_in(h, 4, &bp, 1, 0), 1);
	for (int i = 0; i < 4; i++)
		h[i].victims = 0;
	ASSERT_EQ(place_scale_in(h, 4, NULL, 0, 0), -1);
}

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("pl", text, errs);
}

#define BASE                                                                                       \
	"Resources:\n"                                                                             \
	"  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                       \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "       \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  Cl: {Type: AWS::ECS::Cluster, Properties: {ClusterName: main}}\n"                       \
	"  LC: {Type: AWS::AutoScaling::LaunchConfiguration, Properties: {ImageId: ami-1, "        \
	"InstanceType: t3.small}}\n"                                                               \
	"  LT: {Type: AWS::EC2::LaunchTemplate, Properties: {LaunchTemplateName: big, "            \
	"LaunchTemplateData: {ImageId: ami-1, InstanceType: m5.xlarge}}}\n"                        \
	"  G1: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: '1', MaxSize: "    \
	"'1', LaunchConfigurationName: !Ref LC, VPCZoneIdentifier: [!Ref A]}}\n"                   \
	"  G2: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: '1', MaxSize: "    \
	"'1', LaunchTemplate: {LaunchTemplateId: !Ref LT, Version: !GetAtt "                       \
	"LT.LatestVersionNumber}, VPCZoneIdentifier: [!Ref A]}}\n"                                 \
	"  G3: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: '1', MaxSize: "    \
	"'1', VPCZoneIdentifier: [!Ref A]}}\n"

static void test_template(void)
{
	char *errs = NULL;
	struct model *m = load(
	    BASE "  TD: {Type: AWS::ECS::TaskDefinition, Properties: {Cpu: '0.5 vCPU', Memory: "
	         "'1 GB', PlacementConstraints: [{Type: memberOf, Expression: "
	         "'attribute:ecs.os-type == linux'}], ContainerDefinitions: [{Name: c, Image: i, "
	         "Command: [x], Cpu: 128, Memory: 512, MemoryReservation: 256}]}}\n"
	         "  TD2: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: "
	         "[{Name: c, Image: i, Command: [x], Memory: 300}, {Name: d, Image: i, Command: "
	         "[y], MemoryReservation: 100, Memory: 200}]}}\n"
	         "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	         "!Ref TD, PlacementStrategies: [{Type: binpack, Field: MEMORY}, {Type: spread, "
	         "Field: host}, {Type: random}], PlacementConstraints: [{Type: distinctInstance}, "
	         "{Type: memberOf, Expression: 'attribute:ecs.instance-type in [t3.*, m5.*]'}]}}\n"
	         "  S2: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, TaskDefinition: "
	         "!Ref TD2}}\n",
	    &errs);
	ASSERT_TRUE(m != NULL);
	if (!m) {
		fprintf(stderr, "%s", errs);
		free(errs);
		return;
	}
	ASSERT_EQ(m->nasgs, 3);
	ASSERT_STR_EQ(m->asgs[0].instance_type, "t3.small");
	ASSERT_EQ(m->asgs[0].cpu_units, 2048);
	ASSERT_EQ(m->asgs[0].memory_mib, 1996);
	ASSERT_STR_EQ(m->asgs[1].instance_type, "m5.xlarge");
	ASSERT_EQ(m->asgs[1].cpu_units, 4096);
	ASSERT_TRUE(m->asgs[2].instance_type == NULL);
	ASSERT_EQ(m->asgs[2].memory_mib, 0);
	ASSERT_EQ(m->task_defs[0].cpu, 512);
	ASSERT_EQ(m->task_defs[0].task_memory, 1024);
	ASSERT_EQ(m->task_defs[0].memory, 1024);
	ASSERT_EQ(m->task_defs[0].containers[0].cpu, 128);
	ASSERT_EQ(m->task_defs[0].containers[0].memory, 512);
	ASSERT_EQ(m->task_defs[0].containers[0].memory_reservation, 256);
	ASSERT_EQ(m->task_defs[1].memory, 400); /* 300 + reservation 100 */
	ASSERT_EQ(m->services[0].nstrategies, 3);
	ASSERT_EQ(m->services[0].strategies[0].type, MODEL_PLACE_BINPACK);
	ASSERT_EQ(m->services[0].strategies[0].field, MODEL_PLACE_FIELD_MEMORY);
	ASSERT_EQ(m->services[0].strategies[1].field, MODEL_PLACE_FIELD_INSTANCE);
	ASSERT_EQ(m->services[0].strategies[2].type, MODEL_PLACE_RANDOM);
	ASSERT_TRUE(m->services[0].distinct_instance);
	ASSERT_EQ(m->services[0].nmember_of, 2);
	ASSERT_STR_EQ(m->services[0].member_of[0], "attribute:ecs.instance-type in [t3.*, m5.*]");
	ASSERT_STR_EQ(m->services[0].member_of[1], "attribute:ecs.os-type == linux");
	ASSERT_EQ(m->services[1].nstrategies, 0);
	ASSERT_TRUE(!m->services[1].distinct_instance);
	model_free(m);
	free(errs);
}

/* Loads BASE + extra and checks that errors contain want. */
static void load_fails(const char *extra, const char *want)
{
	char text[8192], *errs = NULL;
	struct model *m;
	snprintf(text, sizeof(text), "%s%s", BASE, extra);
	m = load(text, &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, want);
	model_free(m);
	free(errs);
}

#define TD_OK                                                                                      \
	"  TD: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: [{Name: c, "    \
	"Image: i, Command: [x], Memory: 64}]}}\n"

static void test_template_errors(void)
{
	load_fails("  LX: {Type: AWS::AutoScaling::LaunchConfiguration, Properties: {ImageId: "
	           "ami-1, InstanceType: x9.large}}\n"
	           "  GX: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: '1', "
	           "MaxSize: '1', LaunchConfigurationName: !Ref LX, VPCZoneIdentifier: [!Ref "
	           "A]}}\n",
	           "t.yaml:10:96: error: Resources.LX.Properties.InstanceType: unknown instance "
	           "type x9.large");
	load_fails("  GX: {Type: AWS::AutoScaling::AutoScalingGroup, Properties: {MinSize: '1', "
	           "MaxSize: '1', LaunchTemplate: {LaunchTemplateName: big, Version: '3'}, "
	           "VPCZoneIdentifier: [!Ref A]}}\n",
	           "Resources.GX.Properties.LaunchTemplate.Version: launch template LT has one "
	           "version (1, $Latest, $Default), not 3");
	load_fails("  TD: {Type: AWS::ECS::TaskDefinition, Properties: {Cpu: '1 core', "
	           "ContainerDefinitions: [{Name: c, Image: i, Command: [x]}]}}\n",
	           "Resources.TD.Properties.Cpu: invalid Cpu \"1 core\"");
	load_fails("  TD: {Type: AWS::ECS::TaskDefinition, Properties: {Memory: '512', "
	           "ContainerDefinitions: [{Name: c, Image: i, Command: [x], Memory: 1024}]}}\n",
	           "The 'memory' setting for container 'c' is greater than for the task");
	load_fails("  TD: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: "
	           "[{Name: c, Image: i, Command: [x], Memory: 128, MemoryReservation: 256}]}}\n",
	           "'memory' must be greater than or equal to 'memoryReservation'");
	load_fails("  TD: {Type: AWS::ECS::TaskDefinition, Properties: {RequiresCompatibilities: "
	           "[FARGATE], NetworkMode: awsvpc, Cpu: '256', Memory: '4 GB', "
	           "ContainerDefinitions: [{Name: c, Image: i, Command: [x]}]}}\n",
	           "Resources.TD.Properties.Memory: No Fargate configuration exists for given "
	           "values: 256 CPU, 4096 memory. See the Amazon ECS documentation for the valid "
	           "values.");
	load_fails("  TD: {Type: AWS::ECS::TaskDefinition, Properties: {RequiresCompatibilities: "
	           "[FARGATE], NetworkMode: awsvpc, Memory: '512', ContainerDefinitions: [{Name: "
	           "c, Image: i, Command: [x]}]}}\n",
	           "Fargate requires that 'cpu' be defined at the task level.");
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementStrategies: [{Type: binpack, Field: "
	                 "instanceId}]}}\n",
	           "Resources.S.Properties.PlacementStrategies[0].Field: the binpack strategy "
	           "needs Field cpu or memory");
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementStrategies: [{Type: pack}]}}\n",
	           "Resources.S.Properties.PlacementStrategies[0].Type");
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementStrategies: [{Type: spread, Field: "
	                 "attribute:custom}]}}\n",
	           "unsupported spread field attribute:custom");
	/* The column points into the expression: "in" lacks its '[' */
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementConstraints: [{Type: memberOf, "
	                 "Expression: 'ec2InstanceId in i-1'}]}}\n",
	           "t.yaml:11:158: error: Resources.S.Properties.PlacementConstraints[0]."
	           "Expression: expected '[' and a list of values (at \"i-1\")");
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementConstraints: [{Type: memberOf}]}}\n",
	           "a memberOf constraint needs an Expression");
	load_fails(TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                 "TaskDefinition: !Ref TD, PlacementConstraints: [{Type: "
	                 "distinctInstance, Expression: x}]}}\n",
	           "a distinctInstance constraint takes no Expression");
}

/* vpcd apply refuses what it cannot apply live (placement, instance
 * types), instead of ignoring it. */
static void test_apply_diff(void)
{
	const char *svc = TD_OK "  S: {Type: AWS::ECS::Service, Properties: {Cluster: !Ref Cl, "
	                        "TaskDefinition: !Ref TD%s}}\n";
	const char *variants[] = {"", ", PlacementStrategies: [{Type: binpack, Field: cpu}]",
	                          ", PlacementConstraints: [{Type: distinctInstance}]",
	                          (", PlacementConstraints: [{Type: memberOf, Expression: "
	                           "'ec2InstanceId exists'}]")};
	char a[8192], b[8192], extra[1024], diff[1024], *errs = NULL;
	struct model *ma, *mb;

	snprintf(extra, sizeof(extra), svc, variants[0]);
	snprintf(a, sizeof(a), "%s%s", BASE, extra);
	ma = load(a, &errs);
	free(errs);
	errs = NULL;
	ASSERT_TRUE(ma != NULL);
	for (size_t i = 1; ma && i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(extra, sizeof(extra), svc, variants[i]);
		snprintf(b, sizeof(b), "%s%s", BASE, extra);
		mb = load(b, &errs);
		free(errs);
		errs = NULL;
		ASSERT_TRUE(mb != NULL);
		if (mb) {
			ASSERT_EQ(ecs_model_diff(ma, mb, diff, sizeof(diff)), 1);
			ASSERT_STR_CONTAINS(diff, "S (AWS::ECS::Service): properties changed");
			ASSERT_EQ(ecs_model_diff(mb, mb, diff, sizeof(diff)), 0);
		}
		model_free(mb);
	}
	/* another instance type for the hosts */
	snprintf(b, sizeof(b), "%s", a);
	{
		char *p = strstr(b, "InstanceType: t3.small");
		if (p)
			memcpy(p + 14, "t3.large", 8);
	}
	mb = load(b, &errs);
	free(errs);
	ASSERT_TRUE(mb != NULL);
	if (ma && mb) {
		ASSERT_EQ(ecs_model_diff(ma, mb, diff, sizeof(diff)), 1);
		ASSERT_STR_CONTAINS(diff,
		                    "G1 (AWS::AutoScaling::AutoScalingGroup): properties changed");
	}
	model_free(mb);
	model_free(ma);
}

T_MAIN({
	T_RUN(test_instance_types);
	T_RUN(test_cpu_memory_strings);
	T_RUN(test_query_match);
	T_RUN(test_query_errors);
	T_RUN(test_choose_default_spread);
	T_RUN(test_choose_binpack);
	T_RUN(test_choose_spread_fields_and_random);
	T_RUN(test_choose_constraints_and_failures);
	T_RUN(test_scale_in);
	T_RUN(test_template);
	T_RUN(test_template_errors);
	T_RUN(test_apply_diff);
})
