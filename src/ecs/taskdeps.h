/*
 * Container dependencies (ContainerDefinitions[].DependsOn) as pure
 * decisions: whether a waiting container may start now, must keep waiting,
 * or never can; and, when a task stops, which containers may be signalled
 * (dependents first, so that a container outlives those that depend on
 * it: reverse dependency order, as the ECS agent stops them). The running
 * of containers (processes, timers) lives in ecs.c.
 */
#ifndef VPCD_ECS_TASKDEPS_H
#define VPCD_ECS_TASKDEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "ecs/health.h"
#include "model/model.h"

/* What ecs.c knows about one container of a task. */
struct ecs_ctr_state {
	bool started;  /* its process was started */
	bool stopped;  /* it exited, or will never start */
	int exit_code; /* once stopped: the exit code, -1 when killed or unknown */
	enum ecs_health health;
	bool start_timed_out; /* its StartTimeout passed before it met what others wait for */
};

enum ecs_dep_verdict {
	ECS_DEP_WAIT, /* not yet */
	ECS_DEP_MET,  /* the condition holds */
	ECS_DEP_NEVER /* it can no longer hold */
};

/* "START", "COMPLETE", "SUCCESS", "HEALTHY". */
const char *ecs_dep_condition_str(enum model_dep_condition c);

/* One dependency: START holds once the dependency started; COMPLETE once it
 * exited; SUCCESS once it exited with 0 (never after another code); HEALTHY
 * once its check reported HEALTHY (never once it is UNHEALTHY or gone). A
 * dependency that stopped without starting, or whose StartTimeout passed,
 * meets nothing it has not met yet. */
enum ecs_dep_verdict ecs_dep_eval(enum model_dep_condition cond, const struct ecs_ctr_state *dep);

/* All of container ci's dependencies (st: every container of td): MET when
 * each holds, NEVER when one cannot (*bad: the index of that entry of
 * td->containers[ci].deps), WAIT otherwise. */
enum ecs_dep_verdict ecs_deps_ready(const struct model_task_def *td, size_t ci,
                                    const struct ecs_ctr_state *st, size_t *bad);

/* While stopping: container ci may be signalled once no container that
 * depends on it still runs (started and not stopped in st). */
bool ecs_deps_may_stop(const struct model_task_def *td, size_t ci, const struct ecs_ctr_state *st);

/* The why of a dependency that can never hold, as the ECS agent words it
 * ("... for target [app] as dependency did not exit successfully."). */
void ecs_deps_reason(const struct model_task_def *td, size_t ci, size_t bad,
                     const struct ecs_ctr_state *st, char *out, size_t len);

#endif
