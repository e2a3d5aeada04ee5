/*
 * Memory limits for tasks through the kernel's memory cgroup, as Docker
 * enforces a container's Memory on ECS: each task gets a cgroup (limit =
 * task-level Memory) and each of its containers one inside it (limit =
 * the container's Memory), under a group of vpcd's own:
 * <vpcd's memory cgroup>/vpcd-<hash of the state dir>, stable across a
 * restart so that adopted tasks keep theirs. cgroup v2 (memory.max,
 * memory.events) where vpcd may delegate the memory controller, else v1's
 * memory hierarchy (memory.limit_in_bytes, memory.oom_control); where
 * neither is writable, limits are not enforced (ecs_cgroup_init says so
 * once in the log).
 *
 * Ownership: struct ecs_cgroup is the caller's; paths are copied.
 */
#ifndef VPCD_ECS_CGROUP_H
#define VPCD_ECS_CGROUP_H

#include <limits.h>
#include <stdbool.h>

struct ecs_cgroup {
	char base[PATH_MAX]; /* vpcd's group; "" when limits are not enforced */
	bool v2;
};

/* Finds the memory cgroup of this process and creates the group for
 * state_dir's tasks. Returns 0 when limits will be enforced, else -errno
 * (and logs once that memory limits are not enforced, and why). */
int ecs_cgroup_init(struct ecs_cgroup *cg, const char *state_dir);

/* Creates <base>/<task>[/<container>] with the limits (MiB; 0 = none) and
 * returns an O_CLOEXEC descriptor of the container group's cgroup.procs
 * for the child to enter (write "0") before exec, or -errno. */
int ecs_cgroup_container(const struct ecs_cgroup *cg, const char *task, int task_mib,
                         const char *container, int container_mib);

/* Whether the kernel OOM-killed a process of the container's (or its
 * task's) group. */
bool ecs_cgroup_oom_killed(const struct ecs_cgroup *cg, const char *task, const char *container);

/* Removes the task's groups (once its processes are gone; a busy group is
 * left for ecs_cgroup_fini). */
void ecs_cgroup_task_done(const struct ecs_cgroup *cg, const char *task);
/* Removes what is left of the groups (empty ones only). */
void ecs_cgroup_fini(struct ecs_cgroup *cg);

#endif
