/*
 * The ECS plane: container hosts (the instances of each AutoScalingGroup),
 * tasks as supervised process groups, and the service scheduler that keeps
 * every service at its desired count, registering each RUNNING task in the
 * service's target groups through hooks.
 *
 * Cluster rule: a single-cluster template is assumed. Tasks of an EC2
 * service run on the hosts of every ASG; with no ASG at all they are placed
 * straight into the service's AwsvpcConfiguration subnets (or the first
 * VPC's). Tasks of a FARGATE service always go into the service's subnets.
 *
 * Stopping: a task stopped while vpcd runs is first deregistered and drained
 * (lastStatus DEACTIVATING) until the load balancer reports its targets
 * unused or the target groups' deregistration delay passes, then SIGTERM
 * to each container once no running container depends on it (reverse
 * DependsOn order), SIGKILL after that container's StopTimeout.
 *
 * Starting: a task is PENDING while containers wait for their DependsOn
 * conditions (src/ecs/taskdeps.h), ACTIVATING while its targets are
 * registered, then RUNNING; stopped, it goes DEACTIVATING (when
 * registered), STOPPING, DEPROVISIONING, STOPPED. ecs_task_info.history
 * lists the statuses it went through.
 *
 * Children: the plane owns SIGCHLD on its loop (loop_signal_add) and reaps
 * with waitpid(-1, WNOHANG), so no other module of the same process may
 * wait for its own children. After ecs_free the loop keeps reaping (with a
 * callback that no longer touches the plane).
 *
 * Ownership: struct ecs keeps pointers to loop and model, which must outlive
 * it; it copies state_dir and hooks. Strings returned by the introspection
 * calls belong to the plane and stay valid until the next loop iteration.
 */
#ifndef VPCD_ECS_ECS_H
#define VPCD_ECS_ECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "model/model.h"

/* How the ECS plane registers tasks in target groups (main.c wires it to
 * the ALB). tg is an index into model.tgs; addr is host order. */
struct ecs_hooks {
	int (*target_register)(void *data, int tg, uint32_t addr, uint16_t port);
	int (*target_deregister)(void *data, int tg, uint32_t addr, uint16_t port);
	void *data;
	/* Loads template file with params as `vpcd apply` does, for a
	 * deployment of state.json whose task definition is not in the
	 * running template; the model must outlive the plane. NULL when it
	 * does not load. May be NULL (such deployments are not resumed). */
	const struct model *(*load_template)(void *data, const char *file,
	                                     const char *const *params, size_t nparams);
};

struct ecs;

/* state_dir: directory for task logs (created if missing):
 * <state_dir>/tasks/<task-id>/<container>.log. hooks may be NULL. Returns
 * NULL when out of memory. */
struct ecs *ecs_new(struct loop *loop, const struct model *m, const char *state_dir,
                    const struct ecs_hooks *hooks);
/* Launches hosts and the services' tasks; 0 or -errno. A state dir whose
 * state.json a vpcd that is gone left behind is resumed first: each
 * service's deployments (ids, PRIMARY/ACTIVE, rolloutState, the circuit
 * breaker's count, the live DesiredCount and deployment configuration;
 * each task definition found again by its fingerprint in the running
 * template, in one given to ecs_set_model_source, or in the template the
 * deployment came from through hooks->load_template), then its tasks:
 * adopted into their deployments while their processes run (a task that
 * was stopping stops at once), recorded STOPPED otherwise. The resumed
 * PRIMARY deployment wins over the running template's task definition
 * (a difference is logged: `vpcd apply` deploys it). */
int ecs_start(struct ecs *e);
/* Says that model m was loaded from template file with the `vpcd apply`
 * params (on top of the options vpcd started with), so that state.json can
 * name it for the deployments whose task definition is in m. m must
 * outlive the plane; file and params are copied. 0, -EINVAL, -ENOMEM. */
int ecs_set_model_source(struct ecs *e, const struct model *m, const char *file,
                         const char *const *params, size_t nparams);
/* What the load balancer says about a target (main.c maps the ALB's states
 * onto these and calls ecs_target_health from alb_on_health). */
enum ecs_target_health {
	ECS_TARGET_HEALTHY,
	ECS_TARGET_UNHEALTHY,
	ECS_TARGET_UNUSED, /* removed from the group: draining is over */
	ECS_TARGET_OTHER   /* initial, draining, unavailable */
};
/* A target of tg changed state. An UNHEALTHY target of a RUNNING task gets
 * the task replaced once HealthCheckGracePeriodSeconds has passed since it
 * started ("Task failed ELB health checks in (target-group ARN)"); UNUSED
 * ends the drain of a stopping task. reason: the target's health
 * description (may be NULL), used in the service event. */
void ecs_target_health(struct ecs *e, int tg, uint32_t addr, uint16_t port,
                       enum ecs_target_health h, const char *reason);
/* Stops host id as if its instance were stopped: its tasks are drained and
 * stopped ("Host EC2 (instance ID) stopped."), the scheduler places their
 * replacements on the other hosts, and the host's Auto Scaling group launches
 * a replacement host in its AZ with the fewest instances. Returns 0, -ENOENT
 * for an unknown id, -EALREADY for a host already stopped. */
int ecs_host_stop(struct ecs *e, const char *id);

/* Stops every task (deregister, SIGTERM, SIGKILL after min(stop timeout,
 * 10 s); no wait for the deregistration delay) and calls done(data) from the loop when no child is
 * left. No task is started after this. */
void ecs_shutdown(struct ecs *e, void (*done)(void *data), void *data);
/* Frees everything; children still alive get SIGKILL (not waited for). */
void ecs_free(struct ecs *e);

/* Introspection for the admin API. Pointers stay valid until the next loop
 * iteration. */
struct ecs_host_info {
	const char *id;
	const char *az;
	int subnet;
	int asg;
	size_t ntasks;
	const char *status;        /* "ACTIVE", or "STOPPED" after ecs_host_stop */
	const char *instance_type; /* NULL when its group names none */
	/* Registered CPU units and memory MiB (0 without an instance type)
	 * and what the live tasks' reservations leave of them. */
	int cpu_registered, mem_registered;
	int cpu_remaining, mem_remaining;
};
/* One step of a task's lifecycle: PROVISIONING, PENDING, ACTIVATING,
 * RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED (a task takes
 * the ones that apply, in that order). */
struct ecs_task_status_change {
	const char *status;
	uint64_t unix_ms; /* wall clock, ms since the epoch */
};

struct ecs_task_info {
	const char *id;
	const char *arn;
	int service;
	const char *host_id; /* NULL without hosts (Fargate-like) */
	const char *az;
	uint32_t addr;
	int pid; /* first container's process, 0 when none runs */
	const char *last_status;
	const char *desired_status;
	const char *stop_code;           /* NULL while not stopping */
	const char *stopped_reason;      /* NULL while not stopping */
	uint64_t started_ms;             /* loop clock when it became RUNNING, 0 if never */
	const char *health_status;       /* HEALTHY, UNHEALTHY, UNKNOWN (container checks) */
	const char *launch_type;         /* "EC2" or "FARGATE" */
	int subnet;                      /* model subnet index */
	const char *task_definition_arn; /* the revision it runs (...:FAMILY:REV) */
	int cpu; /* CPU units that revision reserves (task Cpu, else its containers'), 0 none */
	/* createdAt, startedAt (RUNNING), stoppingAt (STOPPING), stoppedAt:
	 * wall clock ms since the epoch, 0 when not (yet) reached. */
	uint64_t created_unix_ms, started_unix_ms, stopping_unix_ms, stopped_unix_ms;
	const struct ecs_task_status_change *history; /* oldest first */
	size_t nhistory;
};
struct ecs_service_info {
	int service;
	int desired;
	int running;
	int pending;
};
size_t ecs_hosts(const struct ecs *e, struct ecs_host_info *out, size_t cap); /* returns count */

/* Task metadata (the v4 endpoint served by the admin API). */
struct ecs_container_info {
	const char *name;
	const char *image;
	int index;                /* in the task definition */
	int pid;                  /* 0 when not running */
	const char *known_status; /* PENDING, RUNNING, STOPPED */
	int exit_code;            /* -1 while running or when killed by a signal */
	const char *health;       /* HEALTHY, UNHEALTHY, UNKNOWN; NULL without a check */
	const char *reason;       /* why it stopped or never started; NULL for a plain exit */
	bool essential;
};
/* Looks up a live or recently stopped task by id: fills *task and up to cap
 * containers. Returns the task's container count, 0 for an unknown id. */
size_t ecs_task_containers(const struct ecs *e, const char *id, struct ecs_task_info *task,
                           struct ecs_container_info *out, size_t cap);
/* The admin API's base URL ("http://127.0.0.1:4590"); from then on every
 * container gets ECS_CONTAINER_METADATA_URI_V4 = base/v4/TASK-ID (a task of
 * several containers: base/v4/TASK-ID-CONTAINER-NAME). base is copied. */
void ecs_set_metadata_base(struct ecs *e, const char *base);
/* Live tasks first (oldest first), then stopped ones (newest first): those
 * of the last hour, at most the last 100 of each service, as ECS keeps
 * stopped tasks about an hour. Returns the total count, which may exceed
 * cap. */
size_t ecs_tasks(const struct ecs *e, struct ecs_task_info *out, size_t cap);
void ecs_service_info(const struct ecs *e, int service, struct ecs_service_info *out);
/* Service events, newest first, ECS wording. Returns the count copied. */
size_t ecs_service_events(const struct ecs *e, int service, const char **out, size_t cap);

/* Deployments (`vpcd apply`). A service's changed task definition starts a
 * new PRIMARY deployment (task definition ...:FAMILY:REV+1): the scheduler
 * starts its tasks within floor(N * MaximumPercent / 100) tasks, keeps
 * ceil(N * MinimumHealthyPercent / 100) RUNNING and healthy (in their
 * target groups and container checks), and drains and stops the older
 * deployments' tasks as the new ones become healthy. DesiredCount and
 * DeploymentConfiguration changes take effect at once; DesiredCount only
 * when the template's value changed (ecs_apply_desired). nm must have the
 * same services in the same order as the plane's model (the caller checks)
 * and must outlive the plane: the plane keeps pointers to its task
 * definitions. msg gets one line of what changed. Returns the number of
 * services changed, or -errno. */
int ecs_apply(struct ecs *e, const struct model *nm, char *msg, size_t len);

struct ecs_deployment_info {
	const char *id;     /* ecs-svc/NNNNNNNNNNNNNNNNNNN */
	const char *status; /* PRIMARY or ACTIVE */
	const char *task_definition_arn;
	const char *rollout_state; /* IN_PROGRESS or COMPLETED */
	int desired, running, pending;
	int failed_tasks;                /* counted by the circuit breaker (failedTasks) */
	uint64_t created_ms, updated_ms; /* loop clock */
};
/* The service's deployments, PRIMARY first, then ACTIVE ones (older ones
 * that still have tasks). Returns the count, which may exceed cap. */
size_t ecs_service_deployments(const struct ecs *e, int service, struct ecs_deployment_info *out,
                               size_t cap);

/* The differences between a running model and a new one that `vpcd apply`
 * cannot apply (anything but AWS::ECS::Service DesiredCount and
 * DeploymentConfiguration, AWS::ECS::TaskDefinition contents, and Route53
 * record sets, which may also come and go), resource
 * by resource, one "LOGICAL (TYPE): what" per line into out. Returns the
 * number of differences. (src/ecs/deploy.c) */
size_t ecs_model_diff(const struct model *old, const struct model *nm, char *out, size_t len);

/* The desired count a service gets from `vpcd apply`, as CloudFormation
 * updates a service: only a property whose template value changed is sent
 * to ECS. live: the count now (Application Auto Scaling may have changed
 * it); prev_set/prev: DesiredCount in the previously applied template (or
 * the one vpcd started with); new_set/nw: in the new one. A DesiredCount
 * absent from the new template, or equal to the previous one, keeps live;
 * otherwise nw. (src/ecs/deploy.c) */
int ecs_apply_desired(int live, bool prev_set, int prev, bool new_set, int nw);

/* The rolling update's bounds for desired tasks (negative: 0) under
 * DeploymentConfiguration min_pct/max_pct, as ECS rounds them: *max_tasks =
 * floor(desired * max_pct / 100) tasks RUNNING or PENDING, never below
 * desired (ECS takes MaximumPercent >= 100 for a replica service);
 * *min_healthy = ceil(desired * min_pct / 100) tasks RUNNING and healthy.
 * When *max_tasks == desired and *min_healthy == desired (100 % / 100 %,
 * or 1 task under 100 % / 150 %), a deployment can neither start nor stop
 * a task: ECS reports the service unable to, and so does vpcd.
 * (src/ecs/deploy.c) */
void ecs_rolling_bounds(int desired, int min_pct, int max_pct, int *max_tasks, int *min_healthy);

/* Sets a service's desired count as a DesiredCount change of `vpcd apply`
 * does (no new deployment; the scheduler starts or drains and stops tasks),
 * after adding event (may be NULL) to the service's events. Returns 1 when
 * the count changed, 0 when it already was desired, -EINVAL. (Application
 * Auto Scaling, src/ecs/autoscale.c, scales through it.) */
int ecs_service_set_desired(struct ecs *e, int service, int desired, const char *event);

#endif
