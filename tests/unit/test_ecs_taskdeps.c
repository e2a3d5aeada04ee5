/*
 * Container dependencies: the pure decisions of src/ecs/taskdeps.c (each
 * condition against each container state, a task's waiting containers,
 * the reverse stop order, the agent-style reasons) and the template checks
 * of src/cfn/containerdeps.c (names, conditions, essential COMPLETE/SUCCESS
 * dependencies, HEALTHY without a HealthCheck, cycles), with positions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfn/cfn.h"
#include "ecs/taskdeps.h"
#include "model/model.h"
#include "cfn_load.h"
#include "t.h"

static const struct ecs_ctr_state waiting = {.exit_code = -1};
static const struct ecs_ctr_state running = {.started = true, .exit_code = -1};
static const struct ecs_ctr_state exited0 = {.started = true, .stopped = true, .exit_code = 0};
static const struct ecs_ctr_state exited3 = {.started = true, .stopped = true, .exit_code = 3};
static const struct ecs_ctr_state never = {.stopped = true, .exit_code = 143};

static void test_eval_each_condition(void)
{
	struct ecs_ctr_state healthy = running, unhealthy = running, timed = running;
	healthy.health = ECS_HEALTH_HEALTHY;
	unhealthy.health = ECS_HEALTH_UNHEALTHY;
	timed.start_timed_out = true;

	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_START, &waiting), ECS_DEP_WAIT);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_START, &running), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_START, &exited3), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_START, &never), ECS_DEP_NEVER);
	/* A START dependency that started is met whatever its timeout. */
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_START, &timed), ECS_DEP_MET);

	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_COMPLETE, &running), ECS_DEP_WAIT);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_COMPLETE, &exited0), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_COMPLETE, &exited3), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_COMPLETE, &never), ECS_DEP_NEVER);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_COMPLETE, &timed), ECS_DEP_NEVER);

	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_SUCCESS, &running), ECS_DEP_WAIT);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_SUCCESS, &exited0), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_SUCCESS, &exited3), ECS_DEP_NEVER);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_SUCCESS, &timed), ECS_DEP_NEVER);

	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_HEALTHY, &running), ECS_DEP_WAIT); /* UNKNOWN */
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_HEALTHY, &healthy), ECS_DEP_MET);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_HEALTHY, &unhealthy), ECS_DEP_NEVER);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_HEALTHY, &exited0), ECS_DEP_NEVER);
	ASSERT_EQ(ecs_dep_eval(MODEL_DEP_HEALTHY, &timed), ECS_DEP_NEVER);

	ASSERT_STR_EQ(ecs_dep_condition_str(MODEL_DEP_HEALTHY), "HEALTHY");
	ASSERT_STR_EQ(ecs_dep_condition_str(MODEL_DEP_COMPLETE), "COMPLETE");
}

/* init (non-essential, SUCCESS), sidecar (HEALTHY), app depends on both. */
static struct model_container_dep app_deps[2] = {{0, MODEL_DEP_SUCCESS}, {1, MODEL_DEP_HEALTHY}};
static struct model_container_dep side_deps[1] = {{0, MODEL_DEP_COMPLETE}};
static struct model_container ctrs[3] = {
    {.name = "init", .essential = false},
    {.name = "sidecar", .essential = true, .deps = side_deps, .ndeps = 1},
    {.name = "app", .essential = true, .deps = app_deps, .ndeps = 2},
};
static struct model_task_def td = {.family = "f", .containers = ctrs, .ncontainers = 3};

static void test_ready_and_reason(void)
{
	struct ecs_ctr_state st[3] = {running, waiting, waiting};
	size_t bad = 99;
	char reason[512];

	ASSERT_EQ(ecs_deps_ready(&td, 0, st, &bad), ECS_DEP_MET); /* no deps */
	ASSERT_EQ(ecs_deps_ready(&td, 1, st, &bad), ECS_DEP_WAIT);
	ASSERT_EQ(ecs_deps_ready(&td, 2, st, &bad), ECS_DEP_WAIT);

	st[0] = exited0;
	st[1] = running;
	ASSERT_EQ(ecs_deps_ready(&td, 1, st, &bad), ECS_DEP_MET);
	ASSERT_EQ(ecs_deps_ready(&td, 2, st, &bad), ECS_DEP_WAIT); /* sidecar not healthy yet */
	st[1].health = ECS_HEALTH_HEALTHY;
	ASSERT_EQ(ecs_deps_ready(&td, 2, st, &bad), ECS_DEP_MET);
	st[1].health = ECS_HEALTH_UNHEALTHY;
	ASSERT_EQ(ecs_deps_ready(&td, 2, st, &bad), ECS_DEP_NEVER);
	ASSERT_EQ(bad, 1);
	ecs_deps_reason(&td, 2, bad, st, reason, sizeof(reason));
	ASSERT_STR_EQ(reason, "CannotStartContainerError: dependency graph: failed to resolve "
	                      "container ordering dependency [sidecar HEALTHY] for target [app] as "
	                      "dependency is unhealthy.");

	/* init failed: app can never start, whatever the sidecar does. */
	st[0] = exited3;
	st[1] = waiting;
	ASSERT_EQ(ecs_deps_ready(&td, 2, st, &bad), ECS_DEP_NEVER);
	ASSERT_EQ(bad, 0);
	ecs_deps_reason(&td, 2, bad, st, reason, sizeof(reason));
	ASSERT_STR_EQ(reason, "CannotStartContainerError: dependency graph: failed to resolve "
	                      "container ordering dependency [init SUCCESS (Exit: 3)] for target "
	                      "[app] as dependency did not exit successfully.");

	/* A dependency that will never start passes that on. */
	st[0] = never;
	ASSERT_EQ(ecs_deps_ready(&td, 1, st, &bad), ECS_DEP_NEVER);
	ecs_deps_reason(&td, 1, bad, st, reason, sizeof(reason));
	ASSERT_STR_CONTAINS(reason, "as dependency was stopped before it started.");

	st[0] = running;
	st[0].start_timed_out = true;
	ASSERT_EQ(ecs_deps_ready(&td, 1, st, &bad), ECS_DEP_NEVER);
	ecs_deps_reason(&td, 1, bad, st, reason, sizeof(reason));
	ASSERT_STR_CONTAINS(reason, "within its StartTimeout");
}

static void test_reverse_stop_order(void)
{
	struct ecs_ctr_state st[3] = {exited0, running, running};
	/* app first: the sidecar waits while app runs. */
	ASSERT_TRUE(ecs_deps_may_stop(&td, 2, st));
	ASSERT_TRUE(!ecs_deps_may_stop(&td, 1, st));
	st[2] = exited0;
	ASSERT_TRUE(ecs_deps_may_stop(&td, 1, st));
	/* A dependent that never started holds nothing up. */
	st[2] = never;
	ASSERT_TRUE(ecs_deps_may_stop(&td, 1, st));
	st[2] = waiting;
	ASSERT_TRUE(ecs_deps_may_stop(&td, 1, st));
}

/* --- the template side --- */

static struct model *load(const char *text, char **errs)
{
	return t_cfn_load("depstack", text, errs);
}

#define TD_HEAD                                                                                    \
	"Resources:\n"                                                                             \
	"  TD:\n"                                                                                  \
	"    Type: AWS::ECS::TaskDefinition\n"                                                     \
	"    Properties:\n"                                                                        \
	"      ContainerDefinitions:\n"

static void test_cfn_depends_on_model(void)
{
	char *errs = NULL;
	struct model *m =
	    load(TD_HEAD "        - Name: app\n"
	                 "          Image: i\n"
	                 "          Command: [x]\n"
	                 "          DependsOn:\n"
	                 "            - {ContainerName: init, Condition: SUCCESS}\n"
	                 "            - {ContainerName: side, Condition: HEALTHY}\n"
	                 "        - {Name: init, Image: i, Command: [x], Essential: false, "
	                 "StartTimeout: 30}\n"
	                 "        - Name: side\n"
	                 "          Image: i\n"
	                 "          Command: [x]\n"
	                 "          HealthCheck: {Command: [CMD-SHELL, 'true']}\n"
	                 "          DependsOn: [{ContainerName: init, Condition: COMPLETE}]\n",
	         &errs);
	ASSERT_STR_EQ(errs, "");
	if (m) {
		const struct model_container *c = m->task_defs[0].containers;
		ASSERT_EQ(c[0].ndeps, 2);
		ASSERT_EQ(c[0].deps[0].container, 1);
		ASSERT_EQ(c[0].deps[0].condition, MODEL_DEP_SUCCESS);
		ASSERT_EQ(c[0].deps[1].container, 2);
		ASSERT_EQ(c[0].deps[1].condition, MODEL_DEP_HEALTHY);
		ASSERT_EQ(c[1].ndeps, 0);
		ASSERT_EQ(c[1].start_timeout_s, 30);
		ASSERT_EQ(c[0].start_timeout_s, 0);
		ASSERT_EQ(c[2].ndeps, 1);
		ASSERT_EQ(c[2].deps[0].condition, MODEL_DEP_COMPLETE);
	}
	model_free(m);
	free(errs);
}

static void expect_error(const char *tmpl, const char *want)
{
	char *errs = NULL;
	struct model *m = load(tmpl, &errs);
	ASSERT_TRUE(m == NULL);
	ASSERT_STR_CONTAINS(errs, want);
	model_free(m);
	free(errs);
}

static void test_cfn_depends_on_errors(void)
{
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: nope, Condition: START}]}\n",
	             "t.yaml:6:75: error: Resources.TD.Properties.ContainerDefinitions[0]."
	             "DependsOn[0].ContainerName: no container named nope in this task definition");
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: app, Condition: STARTED}]}\n",
	             "DependsOn[0].Condition: must be one of START, COMPLETE, SUCCESS, HEALTHY; "
	             "found \"STARTED\" (did you mean START?)");
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: db}]}\n"
	                     "        - {Name: db, Image: i, Command: [x]}\n",
	             "DependsOn[0]: missing required property Condition");
	/* COMPLETE and SUCCESS only on a non-essential container. */
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: db, Condition: SUCCESS}]}\n"
	                     "        - {Name: db, Image: i, Command: [x]}\n",
	             "Resources.TD.Properties.ContainerDefinitions[0].DependsOn[0].Condition: A "
	             "dependency container with SUCCESS or COMPLETE condition cannot be an "
	             "essential container (db is essential)");
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: db, Condition: HEALTHY}]}\n"
	                     "        - {Name: db, Image: i, Command: [x]}\n",
	             "the HEALTHY condition needs container db to have a HealthCheck");
	/* Cycles, direct and not. */
	expect_error(TD_HEAD "        - {Name: app, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: app, Condition: START}]}\n",
	             "container dependencies form a cycle (app -> app)");
	expect_error(TD_HEAD "        - {Name: a, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: b, Condition: START}]}\n"
	                     "        - {Name: b, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: c, Condition: START}]}\n"
	                     "        - {Name: c, Image: i, Command: [x], DependsOn: "
	                     "[{ContainerName: a, Condition: START}]}\n",
	             "t.yaml:8:57: error: Resources.TD.Properties.ContainerDefinitions[2]."
	             "DependsOn[0]: container dependencies form a cycle (a -> b -> c -> a)");
	expect_error(TD_HEAD "        - {Name: a, Image: i, Command: [x], StartTimeout: 500}\n",
	             "ContainerDefinitions[0].StartTimeout");
}

T_MAIN({
	T_RUN(test_eval_each_condition);
	T_RUN(test_ready_and_reason);
	T_RUN(test_reverse_stop_order);
	T_RUN(test_cfn_depends_on_model);
	T_RUN(test_cfn_depends_on_errors);
})
