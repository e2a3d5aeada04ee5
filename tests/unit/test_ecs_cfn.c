/*
 * The template side of the ECS features: a container HealthCheck (CMD-SHELL
 * and CMD forms, defaults, ranges), and which services are FARGATE
 * (LaunchType, or RequiresCompatibilities FARGATE only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "model/model.h"
#include "cfn_load.h"
#include "t.h"

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("ecsstack", text, errs);
}

#define BASE                                                                                       \
	"Resources:\n"                                                                             \
	"  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"                       \
	"  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, "       \
	"AvailabilityZone: us-east-1a}}\n"                                                         \
	"  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.2.0/24, "       \
	"AvailabilityZone: us-east-1b}}\n"                                                         \
	"  Cl: {Type: AWS::ECS::Cluster}\n"

static void test_health_check_forms_and_defaults(void)
{
	char *errs = NULL;
	struct model *m = load(BASE "  TD:\n"
	                            "    Type: AWS::ECS::TaskDefinition\n"
	                            "    Properties:\n"
	                            "      ContainerDefinitions:\n"
	                            "        - {Name: a, Image: i, Command: [x], HealthCheck: "
	                            "{Command: [CMD-SHELL, curl -f localhost, '||', exit 1]}}\n"
	                            "        - {Name: b, Image: i, Command: [x], HealthCheck: "
	                            "{Command: [CMD, /bin/check, -v], Interval: 5, Timeout: 2, "
	                            "Retries: 10, StartPeriod: 300}}\n"
	                            "        - {Name: c, Image: i, Command: [x], HealthCheck: "
	                            "{Command: [NONE]}}\n"
	                            "        - {Name: d, Image: i, Command: [x]}\n",
	                       &errs);
	ASSERT_STR_EQ(errs, "");
	if (m) {
		const struct model_container *c = m->task_defs[0].containers;
		ASSERT_EQ(c[0].hc_argc, 3);
		ASSERT_STR_EQ(c[0].hc_argv[0], "/bin/sh");
		ASSERT_STR_EQ(c[0].hc_argv[1], "-c");
		ASSERT_STR_EQ(c[0].hc_argv[2], "curl -f localhost || exit 1");
		ASSERT_EQ(c[0].hc_interval_s, 30);
		ASSERT_EQ(c[0].hc_timeout_s, 5);
		ASSERT_EQ(c[0].hc_retries, 3);
		ASSERT_EQ(c[0].hc_start_period_s, 0);
		ASSERT_EQ(c[1].hc_argc, 2);
		ASSERT_STR_EQ(c[1].hc_argv[0], "/bin/check");
		ASSERT_STR_EQ(c[1].hc_argv[1], "-v");
		ASSERT_TRUE(c[1].hc_argv[2] == NULL);
		ASSERT_EQ(c[1].hc_interval_s, 5);
		ASSERT_EQ(c[1].hc_timeout_s, 2);
		ASSERT_EQ(c[1].hc_retries, 10);
		ASSERT_EQ(c[1].hc_start_period_s, 300);
		ASSERT_TRUE(c[2].hc_argv == NULL);
		ASSERT_TRUE(c[3].hc_argv == NULL);
	}
	model_free(m);
	free(errs);
}

static void test_health_check_errors(void)
{
	char *errs = NULL;
	struct model *m = load(BASE "  TD:\n"
	                            "    Type: AWS::ECS::TaskDefinition\n"
	                            "    Properties:\n"
	                            "      ContainerDefinitions:\n"
	                            "        - {Name: a, Image: i, Command: [x], HealthCheck: "
	                            "{Command: [sh, -c, true], Interval: 4, Retries: 11}}\n",
	                       &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "HealthCheck.Command");
	ASSERT_STR_CONTAINS(errs, "[\"CMD-SHELL\", \"command\"]");
	ASSERT_STR_CONTAINS(errs, "HealthCheck.Interval");
	ASSERT_STR_CONTAINS(errs, "HealthCheck.Retries");
	model_free(m);
	free(errs);
}

#define TASKDEF(compat)                                                                            \
	"  TD:\n"                                                                                  \
	"    Type: AWS::ECS::TaskDefinition\n"                                                     \
	"    Properties:\n"                                                                        \
	"      NetworkMode: awsvpc\n"                                                              \
	"      Cpu: '256'\n"                                                                       \
	"      Memory: '0.5 GB'\n" compat "      ContainerDefinitions: [{Name: a, Image: i, "      \
	"Command: [x]}]\n"
#define SERVICE(extra)                                                                             \
	"  S:\n"                                                                                   \
	"    Type: AWS::ECS::Service\n"                                                            \
	"    Properties:\n"                                                                        \
	"      Cluster: !Ref Cl\n"                                                                 \
	"      TaskDefinition: !Ref TD\n" extra "      NetworkConfiguration: "                     \
	"{AwsvpcConfiguration: {Subnets: [!Ref B]}}\n"

static bool fargate_of(const char *text)
{
	char *errs = NULL;
	struct model *m = load(text, &errs);
	bool f = m && m->nservices == 1 && m->services[0].fargate;
	ASSERT_STR_EQ(errs, "");
	if (m)
		ASSERT_EQ(m->services[0].nsubnets, 1);
	model_free(m);
	free(errs);
	return f;
}

static void test_fargate_services(void)
{
	char *errs = NULL;
	struct model *m;

	ASSERT_TRUE(fargate_of(BASE TASKDEF("") SERVICE("      LaunchType: FARGATE\n")));
	ASSERT_TRUE(!fargate_of(BASE TASKDEF("") SERVICE("")));
	ASSERT_TRUE(
	    fargate_of(BASE TASKDEF("      RequiresCompatibilities: [FARGATE]\n") SERVICE("")));
	ASSERT_TRUE(!fargate_of(BASE TASKDEF("      RequiresCompatibilities: [EC2, FARGATE]\n")
	                            SERVICE("")));
	ASSERT_TRUE(!fargate_of(BASE TASKDEF("      RequiresCompatibilities: [FARGATE]\n")
	                            SERVICE("      LaunchType: EC2\n")));
	/* Fargate needs awsvpc. */
	m = load(BASE "  TD:\n"
	              "    Type: AWS::ECS::TaskDefinition\n"
	              "    Properties:\n"
	              "      NetworkMode: bridge\n"
	              "      ContainerDefinitions: [{Name: a, Image: i, Command: [x]}]\n" SERVICE(
	                  "      LaunchType: FARGATE\n"),
	         &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, "Fargate only supports network mode 'awsvpc'");
	model_free(m);
	free(errs);
}

T_MAIN({
	T_RUN(test_health_check_forms_and_defaults);
	T_RUN(test_health_check_errors);
	T_RUN(test_fargate_services);
})
