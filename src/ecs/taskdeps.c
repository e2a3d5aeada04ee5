/*
 * Container dependencies as pure decisions. See taskdeps.h.
 */
#include "ecs/taskdeps.h"

#include <stdio.h>

const char *ecs_dep_condition_str(enum model_dep_condition c)
{
	switch (c) {
	case MODEL_DEP_START:
		return "START";
	case MODEL_DEP_COMPLETE:
		return "COMPLETE";
	case MODEL_DEP_SUCCESS:
		return "SUCCESS";
	case MODEL_DEP_HEALTHY:
		return "HEALTHY";
	}
	return "UNKNOWN";
}

enum ecs_dep_verdict ecs_dep_eval(enum model_dep_condition cond, const struct ecs_ctr_state *dep)
{
	bool gone_unstarted = dep->stopped && !dep->started;

	switch (cond) {
	case MODEL_DEP_START:
		if (dep->started)
			return ECS_DEP_MET;
		break;
	case MODEL_DEP_COMPLETE:
		if (dep->started && dep->stopped)
			return ECS_DEP_MET;
		break;
	case MODEL_DEP_SUCCESS:
		if (dep->started && dep->stopped)
			return dep->exit_code == 0 ? ECS_DEP_MET : ECS_DEP_NEVER;
		break;
	case MODEL_DEP_HEALTHY:
		if (dep->health == ECS_HEALTH_HEALTHY && !dep->stopped)
			return ECS_DEP_MET;
		if (dep->health == ECS_HEALTH_UNHEALTHY || dep->stopped)
			return ECS_DEP_NEVER;
		break;
	}
	if (gone_unstarted || dep->start_timed_out)
		return ECS_DEP_NEVER;
	return ECS_DEP_WAIT;
}

enum ecs_dep_verdict ecs_deps_ready(const struct model_task_def *td, size_t ci,
                                    const struct ecs_ctr_state *st, size_t *bad)
{
	const struct model_container *c = &td->containers[ci];
	enum ecs_dep_verdict v = ECS_DEP_MET;

	for (size_t k = 0; k < c->ndeps; k++) {
		size_t j = c->deps[k].container;
		enum ecs_dep_verdict d;
		if (j >= td->ncontainers)
			continue; /* the loader refuses these */
		d = ecs_dep_eval(c->deps[k].condition, &st[j]);
		if (d == ECS_DEP_NEVER) {
			if (bad)
				*bad = k;
			return ECS_DEP_NEVER;
		}
		if (d == ECS_DEP_WAIT)
			v = ECS_DEP_WAIT;
	}
	return v;
}

bool ecs_deps_may_stop(const struct model_task_def *td, size_t ci, const struct ecs_ctr_state *st)
{
	for (size_t k = 0; k < td->ncontainers; k++) {
		const struct model_container *c = &td->containers[k];
		if (k == ci || !st[k].started || st[k].stopped)
			continue;
		for (size_t d = 0; d < c->ndeps; d++)
			if (c->deps[d].container == ci)
				return false;
	}
	return true;
}

void ecs_deps_reason(const struct model_task_def *td, size_t ci, size_t bad,
                     const struct ecs_ctr_state *st, char *out, size_t len)
{
	const struct model_container *c = &td->containers[ci];
	const struct model_container_dep *d = &c->deps[bad];
	const struct ecs_ctr_state *ds = &st[d->container];
	const char *why;

	if (ds->start_timed_out)
		why = "as dependency did not reach the condition within its StartTimeout";
	else if (ds->stopped && !ds->started)
		why = "as dependency was stopped before it started";
	else if (d->condition == MODEL_DEP_SUCCESS)
		why = "as dependency did not exit successfully";
	else if (d->condition == MODEL_DEP_HEALTHY && ds->stopped)
		why = "as dependency stopped before it was healthy";
	else if (d->condition == MODEL_DEP_HEALTHY)
		why = "as dependency is unhealthy";
	else
		why = "as dependency can no longer reach the condition";
	if (ds->stopped && ds->started && ds->exit_code >= 0)
		snprintf(out, len,
		         "CannotStartContainerError: dependency graph: failed to resolve container "
		         "ordering dependency [%s %s (Exit: %d)] for target [%s] %s.",
		         td->containers[d->container].name, ecs_dep_condition_str(d->condition),
		         ds->exit_code, c->name, why);
	else
		snprintf(out, len,
		         "CannotStartContainerError: dependency graph: failed to resolve container "
		         "ordering dependency [%s %s] for target [%s] %s.",
		         td->containers[d->container].name, ecs_dep_condition_str(d->condition),
		         c->name, why);
}
