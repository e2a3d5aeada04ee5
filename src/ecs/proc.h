/*
 * Starting a container as a child process: its environment, its log file,
 * fork + exec with exec failures reported synchronously through a
 * close-on-exec pipe. Reaping is the caller's job (ecs.c, in the loop).
 */
#ifndef VPCD_ECS_PROC_H
#define VPCD_ECS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

/* At most this many ContainerPorts go into PORTS. */
#define ECS_PROC_MAX_PORTS 64

/* The environment of a container: the parent's environment, then the
 * container's Environment, then HOST, PORT (the first PortMappings
 * ContainerPort) and PORTS (every ContainerPort, comma-separated, in
 * PortMappings order; both absent without mappings), and exe_dir (may be
 * NULL) put first on PATH. Returns a malloc'd
 * NULL-terminated array of malloc'd "K=V" strings, or NULL when out of
 * memory; release with ecs_proc_env_free(). */
char **ecs_proc_env(const struct model_container *c, const char *host, const char *exe_dir);
void ecs_proc_env_free(char **env);

/* Writes the directory of the running binary (from /proc/self/exe) into
 * buf. Returns 0 or -errno. */
int ecs_proc_exe_dir(char *buf, size_t len);

/* mkdir -p with mode 0755. Returns 0 or -errno. */
int ecs_proc_mkdirs(const char *path);

/* From now on, tasks see a resolv.conf naming resolver_addr:53 (host
 * order) over /etc/resolv.conf, in a private mount namespace each, as
 * `vpcd exec` does, when a probe shows the kernel allows it; otherwise (or
 * with 0) they resolve as the machine does. Logs which, once. Returns 0 or
 * -errno. */
int ecs_proc_set_resolver(uint32_t resolver_addr);

/* Forks a child in its own process group with stdin /dev/null and
 * stdout/stderr appended to log_path, in workdir (NULL: inherited), with env
 * as its whole environment, and execs argv (argv[0] looked up on env's
 * PATH). Returns the pid once exec has succeeded, or -errno with an ECS-style
 * reason ("CannotStartContainerError: ...") written to reason; a child that
 * failed is already reaped. */
pid_t ecs_proc_spawn(char *const *argv, char **env, const char *workdir, const char *log_path,
                     char *reason, size_t rlen);
/* The same, the child first entering the cgroup whose cgroup.procs is open
 * as cgroup_fd (-1: none; the caller keeps and closes it). */
pid_t ecs_proc_spawn_in(char *const *argv, char **env, const char *workdir, const char *log_path,
                        int cgroup_fd, char *reason, size_t rlen);

#endif
