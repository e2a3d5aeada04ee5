/*
 * Application Auto Scaling: the pure target-tracking decision
 * (aas_capacity, aas_decide: alarms, clamps, cooldowns, DisableScaleIn, no
 * scale in during a deployment, insufficient data) and the template side
 * (ScalableTarget and ScalingPolicy built into the model, task Cpu units).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "ecs/autoscale.h"
#include "model/model.h"
#include "cfn_load.h"
#include "t.h"

static struct aas_input in(int cur, double metric, uint64_t now_ms)
{
	return (struct aas_input){.current = cur,
	                          .has_data = true,
	                          .metric = metric,
	                          .target = 300,
	                          .min = 2,
	                          .max = 4,
	                          .out_cooldown_s = 60,
	                          .in_cooldown_s = 120,
	                          .now_ms = now_ms};
}

/* Feeds n datapoints 5 s apart from *now; returns the last answer. */
static int feed(struct aas_input i, struct aas_track *st, int n, uint64_t *now)
{
	int want = i.current;
	for (int k = 0; k < n; k++) {
		i.now_ms = *now;
		want = aas_decide(&i, st);
		*now += 5000;
	}
	return want;
}

static void test_capacity(void)
{
	ASSERT_EQ(aas_capacity(2, 300, 300, 1, 10), 2);   /* on target */
	ASSERT_EQ(aas_capacity(2, 301, 300, 1, 10), 3);   /* rounded up */
	ASSERT_EQ(aas_capacity(2, 1200, 300, 1, 10), 8);
	ASSERT_EQ(aas_capacity(2, 1200, 300, 2, 4), 4);   /* clamped to max */
	ASSERT_EQ(aas_capacity(4, 0, 300, 2, 4), 2);      /* clamped to min */
	ASSERT_EQ(aas_capacity(4, 100, 300, 1, 10), 2);   /* ceil(4/3) */
	ASSERT_EQ(aas_capacity(3, 50, 70, 1, 10), 3);     /* ceil(2.14) */
	ASSERT_EQ(aas_capacity(10, 35, 50, 1, 20), 7);
}

static void test_scale_out_after_three_high_datapoints(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	ASSERT_EQ(feed(in(2, 1200, 0), &st, 2, &now), 2);
	ASSERT_EQ(st.high, 2);
	ASSERT_EQ(feed(in(2, 1200, 0), &st, 1, &now), 4);
	ASSERT_EQ(st.out_base, 2);
	/* A datapoint at or under the target resets the alarm. */
	st = (struct aas_track){0};
	feed(in(2, 1200, 0), &st, 2, &now);
	ASSERT_EQ(feed(in(2, 300, 0), &st, 1, &now), 2);
	ASSERT_EQ(st.high, 0);
	ASSERT_EQ(feed(in(2, 1200, 0), &st, 2, &now), 2);
}

static void test_scale_out_cooldown(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	struct aas_input i = in(2, 450, 0);
	i.max = 10;
	ASSERT_EQ(feed(i, &st, 3, &now), 3); /* ceil(2 * 1.5) */
	/* In the cooldown: the same metric over the base (2) asks for 3, not
	 * more than what runs: nothing. */
	i.current = 3;
	ASSERT_EQ(feed(i, &st, 3, &now), 3);
	/* A larger scale-out goes at once: ceil(2 * 900 / 300) = 6 (the 1
	 * added counts as part of it). */
	i.metric = 900;
	ASSERT_EQ(feed(i, &st, 1, &now), 6);
	ASSERT_EQ(st.out_base, 2);
	/* After the cooldown, from the current count. */
	i.current = 6;
	i.metric = 450;
	now += 61000;
	ASSERT_EQ(feed(i, &st, 1, &now), 9);
	ASSERT_EQ(st.out_base, 6);
}

static void test_scale_in_is_slower(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	/* 14 low datapoints are not enough, the 15th is. */
	ASSERT_EQ(feed(in(4, 0, 0), &st, AAS_LOW_DATAPOINTS - 1, &now), 4);
	ASSERT_EQ(st.low, AAS_LOW_DATAPOINTS - 1);
	ASSERT_EQ(feed(in(4, 0, 0), &st, 1, &now), 2);
	/* Low but not low enough to remove a task: ceil(4 * 250 / 300) = 4. */
	st = (struct aas_track){0};
	ASSERT_EQ(feed(in(4, 250, 0), &st, 20, &now), 4);
	ASSERT_EQ(st.low, 0);
	/* ceil(4 * 200 / 300) = 3 */
	ASSERT_EQ(feed(in(4, 200, 0), &st, AAS_LOW_DATAPOINTS, &now), 3);
}

static void test_scale_in_cooldown_and_scale_out_during_it(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	struct aas_input i = in(4, 100, 0);
	i.min = 1;
	i.max = 10;
	ASSERT_EQ(feed(i, &st, AAS_LOW_DATAPOINTS, &now), 2); /* ceil(4/3) */
	/* Still low, but the scale-in cooldown (120 s) blocks the next. */
	i.current = 2;
	i.metric = 100;
	ASSERT_EQ(feed(i, &st, AAS_LOW_DATAPOINTS, &now), 2); /* 75 s */
	ASSERT_TRUE(now < st.in_until_ms);
	/* A scale-out goes at once and ends the scale-in cooldown. */
	i.metric = 600;
	ASSERT_EQ(feed(i, &st, AAS_HIGH_DATAPOINTS, &now), 4);
	ASSERT_EQ(st.in_until_ms, 0);
}

static void test_disable_scale_in_and_deployments(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	struct aas_input i = in(4, 0, 0);
	i.disable_scale_in = true;
	ASSERT_EQ(feed(i, &st, 40, &now), 4);
	i.disable_scale_in = false;
	i.scale_in_blocked = true; /* a deployment in progress */
	ASSERT_EQ(feed(i, &st, 40, &now), 4);
	/* Scale-out is not blocked by a deployment. */
	st = (struct aas_track){0};
	i.current = 2;
	i.metric = 1200;
	ASSERT_EQ(feed(i, &st, 3, &now), 4);
	/* Once it is over, the low alarm (already long) scales in. */
	st = (struct aas_track){0};
	i.current = 4;
	i.metric = 0;
	ASSERT_EQ(feed(i, &st, 20, &now), 4);
	i.scale_in_blocked = false;
	ASSERT_EQ(feed(i, &st, 1, &now), 2);
}

static void test_range_and_insufficient_data(void)
{
	struct aas_track st = {0};
	uint64_t now = 1000;
	struct aas_input i = in(1, 0, 0);
	/* Outside [min, max]: clamped at once, whatever the metric. */
	ASSERT_EQ(feed(i, &st, 1, &now), 2);
	i.current = 9;
	i.has_data = false;
	ASSERT_EQ(feed(i, &st, 1, &now), 4);
	/* No data: no datapoint, no change, alarms kept. */
	i.current = 2;
	i.has_data = true;
	i.metric = 1200;
	feed(i, &st, 2, &now);
	i.has_data = false;
	ASSERT_EQ(feed(i, &st, 10, &now), 2);
	ASSERT_EQ(st.high, 2);
	i.has_data = true;
	ASSERT_EQ(feed(i, &st, 1, &now), 4);
}

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("aas", text, errs);
}

#define BASE                                                                                       \
	"Resources:\n"                                                                             \
	"  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                       \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "       \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.2.0/24, "       \
	"AvailabilityZone: us-east-1b}}\n"                                                         \
	"  Cl: {Type: AWS::ECS::Cluster, Properties: {ClusterName: main}}\n"                      \
	"  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: [!Ref A, " \
	"!Ref B]}}\n"                                                                              \
	"  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 8080, "         \
	"Protocol: HTTP, VpcId: !Ref V, TargetType: ip}}\n"                                        \
	"  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref "  \
	"LB, Port: 80, Protocol: HTTP, DefaultActions: [{Type: forward, TargetGroupArn: !Ref "     \
	"TG}]}}\n"                                                                                 \
	"  TD: {Type: AWS::ECS::TaskDefinition, Properties: {Cpu: '512', NetworkMode: awsvpc, "   \
	"ContainerDefinitions: [{Name: c, Image: i, Command: [x], PortMappings: "                 \
	"[{ContainerPort: 8080}]}]}}\n"                                                            \
	"  TD2: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: [{Name: c, "  \
	"Image: i, Command: [x], Cpu: 128}, {Name: d, Image: i, Command: [y], Cpu: 64}]}}\n"      \
	"  S: {Type: AWS::ECS::Service, DependsOn: L, Properties: {Cluster: !Ref Cl, "            \
	"ServiceName: web, DesiredCount: 2, TaskDefinition: !Ref TD, LoadBalancers: "             \
	"[{ContainerName: c, ContainerPort: 8080, TargetGroupArn: !Ref TG}], "                     \
	"NetworkConfiguration: {AwsvpcConfiguration: {Subnets: [!Ref A]}}}}\n"

static void test_template(void)
{
	char *errs = NULL;
	struct model *m =
	    load(BASE "  T: {Type: AWS::ApplicationAutoScaling::ScalableTarget, Properties: "
	              "{ServiceNamespace: ecs, ScalableDimension: 'ecs:service:DesiredCount', "
	              "ResourceId: service/main/web, MinCapacity: 2, MaxCapacity: 6}}\n"
	              "  P: {Type: AWS::ApplicationAutoScaling::ScalingPolicy, Properties: "
	              "{PolicyName: req, PolicyType: TargetTrackingScaling, ScalingTargetId: !Ref "
	              "T, TargetTrackingScalingPolicyConfiguration: {TargetValue: 250.5, "
	              "ScaleInCooldown: 30, DisableScaleIn: true, PredefinedMetricSpecification: "
	              "{PredefinedMetricType: ALBRequestCountPerTarget, ResourceLabel: !Join ['/', "
	              "[!GetAtt LB.LoadBalancerFullName, !GetAtt TG.TargetGroupFullName]]}}}}\n"
	              "  Q: {Type: AWS::ApplicationAutoScaling::ScalingPolicy, Properties: "
	              "{PolicyName: cpu, PolicyType: TargetTrackingScaling, ResourceId: "
	              "service/main/web, ScalableDimension: 'ecs:service:DesiredCount', "
	              "ServiceNamespace: ecs, TargetTrackingScalingPolicyConfiguration: "
	              "{TargetValue: 70, PredefinedMetricSpecification: {PredefinedMetricType: "
	              "ECSServiceAverageCPUUtilization}}}}\n",
	         &errs);
	ASSERT_TRUE(m != NULL);
	if (!m) {
		fprintf(stderr, "%s", errs);
		free(errs);
		return;
	}
	ASSERT_EQ(m->nscalable_targets, 1);
	ASSERT_EQ(m->scalable_targets[0].service, 0);
	ASSERT_EQ(m->scalable_targets[0].min, 2);
	ASSERT_EQ(m->scalable_targets[0].max, 6);
	ASSERT_STR_EQ(m->scalable_targets[0].resource_id, "service/main/web");
	ASSERT_EQ(m->nscaling_policies, 2);
	ASSERT_STR_EQ(m->scaling_policies[0].name, "req");
	ASSERT_EQ(m->scaling_policies[0].metric, MODEL_METRIC_ALB_REQUESTS_PER_TARGET);
	ASSERT_EQ(m->scaling_policies[0].tg, 0);
	ASSERT_EQ(m->scaling_policies[0].target, 0);
	ASSERT_TRUE(m->scaling_policies[0].target_value == 250.5);
	ASSERT_EQ(m->scaling_policies[0].scale_in_cooldown_s, 30);
	ASSERT_EQ(m->scaling_policies[0].scale_out_cooldown_s, 300);
	ASSERT_TRUE(m->scaling_policies[0].disable_scale_in);
	ASSERT_EQ(m->scaling_policies[1].metric, MODEL_METRIC_ECS_CPU);
	ASSERT_EQ(m->scaling_policies[1].target, 0);
	ASSERT_EQ(m->scaling_policies[1].tg, -1);
	ASSERT_TRUE(!m->scaling_policies[1].disable_scale_in);
	ASSERT_EQ(m->task_defs[0].cpu, 512);
	ASSERT_EQ(m->task_defs[1].cpu, 192);
	for (size_t i = 0; i < m->nresources; i++)
		if (strstr(m->resources[i].type, "ApplicationAutoScaling"))
			ASSERT_TRUE(!m->resources[i].no_effect);
	model_free(m);
	free(errs);
}

static void test_template_errors(void)
{
	char *errs = NULL;
	struct model *m =
	    load(BASE "  T: {Type: AWS::ApplicationAutoScaling::ScalableTarget, Properties: "
	              "{ServiceNamespace: ecs, ScalableDimension: 'ecs:service:DesiredCount', "
	              "ResourceId: service/main/nope, MinCapacity: 1, MaxCapacity: 2}}\n",
	         &errs);
	ASSERT_TRUE(m != NULL);
	ASSERT_STR_CONTAINS(errs, "warning: Resources.T.Properties.ResourceId: service/main/nope "
	                          "names no ECS service of the template");
	ASSERT_EQ(m ? m->nscalable_targets : 1, 0);
	model_free(m);
	free(errs);
	errs = NULL;
	m = load(BASE "  T: {Type: AWS::ApplicationAutoScaling::ScalableTarget, Properties: "
	              "{ServiceNamespace: ecs, ScalableDimension: 'ecs:service:DesiredCount', "
	              "ResourceId: service/main/web, MinCapacity: 1, MaxCapacity: 2}}\n"
	              "  P: {Type: AWS::ApplicationAutoScaling::ScalingPolicy, Properties: "
	              "{PolicyName: req, PolicyType: TargetTrackingScaling, ScalingTargetId: !Ref "
	              "T, TargetTrackingScalingPolicyConfiguration: {TargetValue: 10, "
	              "PredefinedMetricSpecification: {PredefinedMetricType: "
	              "ALBRequestCountPerTarget, ResourceLabel: app/x/1/targetgroup/y/2}}}}\n",
	         &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "ResourceLabel");
	model_free(m);
	free(errs);
}

/* `vpcd apply` and a count set by auto scaling (CloudFormation sends only
 * the properties whose template value changed). */
static void test_apply_keeps_scaled_count(void)
{
	/* live 4 after a scale-out, template 2 before and after: kept */
	ASSERT_EQ(ecs_apply_desired(4, true, 2, true, 2), 4);
	/* the template's count changed: set, whatever scaling did */
	ASSERT_EQ(ecs_apply_desired(4, true, 2, true, 3), 3);
	ASSERT_EQ(ecs_apply_desired(4, true, 2, true, 4), 4);
	ASSERT_EQ(ecs_apply_desired(4, true, 5, true, 2), 2);
	/* no DesiredCount in the new template: omitted from the update */
	ASSERT_EQ(ecs_apply_desired(4, true, 2, false, 1), 4);
	ASSERT_EQ(ecs_apply_desired(4, false, 1, false, 1), 4);
	/* absent before, present now (even equal to the default): set */
	ASSERT_EQ(ecs_apply_desired(4, false, 1, true, 1), 1);
}

/* BASE with one piece of text replaced (malloc'd; NULL if absent). */
static char *base_edit(const char *from, const char *to)
{
	const char *text = BASE;
	const char *at = strstr(text, from);
	size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
	char *out = at ? malloc(len) : NULL;
	if (out)
		snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

static void test_template_desired_count_and_diff(void)
{
	char *errs[3] = {NULL, NULL, NULL}, diff[512];
	char *no_count = base_edit("DesiredCount: 2, ", "");
	char *new_image = base_edit("Image: i, Command: [x], PortMappings",
	                            "Image: j, Command: [x2], PortMappings");
	struct model *a = load(BASE, &errs[0]);
	struct model *b = no_count ? load(no_count, &errs[1]) : NULL;
	struct model *c = new_image ? load(new_image, &errs[2]) : NULL;
	ASSERT_TRUE(a && b && c);
	if (!a || !b || !c)
		goto out;
	ASSERT_TRUE(a->services[0].desired_set);
	ASSERT_EQ(a->services[0].desired, 2);
	ASSERT_TRUE(!b->services[0].desired_set);
	ASSERT_EQ(b->services[0].desired, 1); /* a new service runs 1 */
	/* DesiredCount going away and task definition contents are what
	 * apply may change: no difference refused */
	ASSERT_EQ(ecs_model_diff(a, b, diff, sizeof(diff)), 0);
	ASSERT_EQ(ecs_model_diff(a, c, diff, sizeof(diff)), 0);
	ASSERT_STR_EQ(c->task_defs[0].containers[0].image, "j");
	/* the counts the apply of c and of b set after a scale-out to 4 */
	ASSERT_EQ(ecs_apply_desired(4, a->services[0].desired_set, a->services[0].desired,
	                            c->services[0].desired_set, c->services[0].desired),
	          4);
	ASSERT_EQ(ecs_apply_desired(4, a->services[0].desired_set, a->services[0].desired,
	                            b->services[0].desired_set, b->services[0].desired),
	          4);
out:
	model_free(a);
	model_free(b);
	model_free(c);
	free(no_count);
	free(new_image);
	for (int i = 0; i < 3; i++)
		free(errs[i]);
}

T_MAIN({
	T_RUN(test_apply_keeps_scaled_count);
	T_RUN(test_template_desired_count_and_diff);
	T_RUN(test_capacity);
	T_RUN(test_scale_out_after_three_high_datapoints);
	T_RUN(test_scale_out_cooldown);
	T_RUN(test_scale_in_is_slower);
	T_RUN(test_scale_in_cooldown_and_scale_out_during_it);
	T_RUN(test_disable_scale_in_and_deployments);
	T_RUN(test_range_and_insufficient_data);
	T_RUN(test_template);
	T_RUN(test_template_errors);
})
