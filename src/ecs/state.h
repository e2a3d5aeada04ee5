/*
 * The ECS plane's runtime state on disk (<state-dir>/state.json), so that a
 * vpcd started again on the same state dir after a SIGKILL can adopt the
 * tasks still running and resume its services' deployments (which task
 * belongs to which deployment, PRIMARY/ACTIVE, rolloutState, the circuit
 * breaker's count). Written atomically (temp file + rename) whenever tasks
 * or deployments change. Plus the state dir's lock (<state-dir>/vpcd.pid,
 * flock).
 */
#ifndef VPCD_ECS_STATE_H
#define VPCD_ECS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ECS_STATE_MAX_PROCS 16
#define ECS_STATE_MAX_DEPS 8    /* deployments kept per service */
#define ECS_STATE_MAX_PARAMS 16 /* --param K=V of the apply that made one */

struct ecs_state_proc {
	int pid;            /* also the process group id (tasks lead their group) */
	int pgid;
	uint64_t starttime; /* /proc/PID/stat field 22: tells a reused pid from ours */
	char name[128];     /* container name */
};

struct ecs_state_task {
	char id[33];
	char arn[512];
	int service;            /* model index when written */
	char service_logical[256];
	char host_id[20];       /* "" without hosts */
	int subnet;
	uint32_t addr;          /* host order */
	char td_arn[512];
	uint64_t started_unix_ms; /* wall clock when RUNNING */
	char deployment[40];      /* its deployment's id ("" in a version 1 file) */
	bool stopping;            /* desired STOPPED: being drained or stopped */
	bool healthy;             /* healthy as its deployment counted it */
	char stop_code[40];       /* while stopping */
	char reason[320];
	size_t nprocs;
	struct ecs_state_proc procs[ECS_STATE_MAX_PROCS];
};

/* One deployment of a service. Its task definition's contents are not
 * saved: they are found again by fingerprint in the template it came from
 * (source + params, loaded as `vpcd apply` loads one) or in the one vpcd
 * starts with. */
struct ecs_state_dep {
	char id[40]; /* ecs-svc/... */
	char td_arn[512];
	uint64_t td_fp;    /* fingerprint of the task definition's contents */
	char source[1024]; /* the template file it came from ("" unknown) */
	char params[ECS_STATE_MAX_PARAMS][256];
	size_t nparams;
	uint64_t created_unix_ms, updated_unix_ms;
	bool completed, failed, announce;
	unsigned failed_tasks; /* circuit breaker count */
};

struct ecs_state_svc {
	char logical[256];
	int desired;      /* the live count (auto scaling may have set it) */
	int tmpl_desired; /* DesiredCount of the last applied template */
	bool tmpl_desired_set;
	int min_pct, max_pct;
	bool cb_enable, cb_rollback;
	bool steady;
	unsigned max_rev; /* the family's highest revision so far */
	size_t ndeps;     /* oldest first; the last is PRIMARY */
	struct ecs_state_dep deps[ECS_STATE_MAX_DEPS];
};

struct ecs_state {
	struct ecs_state_task *tasks;
	size_t ntasks;
	struct ecs_state_svc *svcs;
	size_t nsvcs;
};

/* Writes st to path atomically (path.tmp, fsync, rename). 0 or -errno. */
int ecs_state_write(const char *path, const struct ecs_state *st);
/* Reads path into *st (arrays malloc'd: ecs_state_free). A version 1 file
 * (tasks only) reads with no services. -ENOENT when there is no file,
 * -EINVAL when it is not a state file, -ENOMEM. */
int ecs_state_read(const char *path, struct ecs_state *st);
void ecs_state_free(struct ecs_state *st);

/* The start time of pid in clock ticks since boot (/proc/PID/stat field
 * 22), or 0 when pid does not exist (or is a zombie). */
uint64_t ecs_state_proc_starttime(int pid);

/* Takes <dir>/vpcd.pid with flock(LOCK_EX | LOCK_NB) and writes our pid in
 * it. Returns the open descriptor (keep it for the process's life), or
 * -EWOULDBLOCK when another process holds it (*holder gets its pid, or 0),
 * or -errno. */
int ecs_state_lock(const char *dir, int *holder);

#endif
