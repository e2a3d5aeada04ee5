/*
 * Container and task health decisions (see health.h). Pure: no clock, no
 * process; ecs.c feeds results in.
 */
#include "ecs/health.h"

const char *ecs_health_str(enum ecs_health h)
{
	switch (h) {
	case ECS_HEALTH_HEALTHY:
		return "HEALTHY";
	case ECS_HEALTH_UNHEALTHY:
		return "UNHEALTHY";
	case ECS_HEALTH_UNKNOWN:
		break;
	}
	return "UNKNOWN";
}

enum ecs_health ecs_health_step(enum ecs_health cur, int *fails, bool ok, bool in_start_period,
                                int retries)
{
	if (ok) {
		*fails = 0;
		return ECS_HEALTH_HEALTHY;
	}
	/* The start period lets a slow container boot without being marked
	 * down; a success inside it still counts (handled above). */
	if (in_start_period)
		return cur;
	(*fails)++;
	if (*fails >= (retries > 0 ? retries : 1))
		return ECS_HEALTH_UNHEALTHY;
	return cur;
}

enum ecs_health ecs_health_task(const enum ecs_health *status, const bool *has_check,
                                const bool *essential, size_t n)
{
	bool any = false, all_healthy = true;
	for (size_t i = 0; i < n; i++) {
		if (!essential[i] || !has_check[i])
			continue;
		any = true;
		if (status[i] == ECS_HEALTH_UNHEALTHY)
			return ECS_HEALTH_UNHEALTHY;
		if (status[i] != ECS_HEALTH_HEALTHY)
			all_healthy = false;
	}
	return any && all_healthy ? ECS_HEALTH_HEALTHY : ECS_HEALTH_UNKNOWN;
}
