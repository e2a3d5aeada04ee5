/*
 * Container health checks as pure decisions: a container's health status
 * after one check result (Docker's rules, which ECS uses), and a task's
 * health from its essential containers. The running of the checks (timers,
 * processes) lives in ecs.c.
 */
#ifndef VPCD_ECS_HEALTH_H
#define VPCD_ECS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

enum ecs_health { ECS_HEALTH_UNKNOWN, ECS_HEALTH_HEALTHY, ECS_HEALTH_UNHEALTHY };

/* "UNKNOWN", "HEALTHY", "UNHEALTHY" as ECS names them. */
const char *ecs_health_str(enum ecs_health h);

/* One check finished (ok: exit status 0 within the timeout). A success makes
 * the container HEALTHY and clears *fails. A failure inside the start period
 * does not count; after it, retries consecutive failures make it UNHEALTHY.
 * Returns the new status. */
enum ecs_health ecs_health_step(enum ecs_health cur, int *fails, bool ok, bool in_start_period,
                                int retries);

/* A task's healthStatus: UNHEALTHY if any essential container is, HEALTHY if
 * every essential container that has a check is HEALTHY (and at least one
 * has a check), UNKNOWN otherwise. has_check[i], essential[i] and status[i]
 * describe container i. */
enum ecs_health ecs_health_task(const enum ecs_health *status, const bool *has_check,
                                const bool *essential, size_t n);

#endif
