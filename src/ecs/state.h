/*
 * The ECS plane's runtime state on disk (<state-dir>/state.json), so that a
 * vpcd started again on the same state dir after a SIGKILL can adopt the
 * tasks still running. Written atomically (temp file + rename) whenever
 * tasks change. Plus the state dir's lock (<state-dir>/vpcd.pid, flock).
 */
#ifndef VPCD_ECS_STATE_H
#define VPCD_ECS_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ECS_STATE_MAX_PROCS 16

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
	size_t nprocs;
	struct ecs_state_proc procs[ECS_STATE_MAX_PROCS];
};

/* Writes tasks to path atomically (path.tmp, fsync, rename). 0 or -errno. */
int ecs_state_write(const char *path, const struct ecs_state_task *tasks, size_t n);
/* Reads path: *out is malloc'd (free it), *n its count. -ENOENT when there
 * is no file, -EINVAL when it is not a state file. */
int ecs_state_read(const char *path, struct ecs_state_task **out, size_t *n);

/* The start time of pid in clock ticks since boot (/proc/PID/stat field
 * 22), or 0 when pid does not exist (or is a zombie). */
uint64_t ecs_state_proc_starttime(int pid);

/* Takes <dir>/vpcd.pid with flock(LOCK_EX | LOCK_NB) and writes our pid in
 * it. Returns the open descriptor (keep it for the process's life), or
 * -EWOULDBLOCK when another process holds it (*holder gets its pid, or 0),
 * or -errno. */
int ecs_state_lock(const char *dir, int *holder);

#endif
