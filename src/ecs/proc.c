/*
 * Container processes: environment, log file, fork + exec. The child reports
 * a failure before exec (chdir, exec itself) as {stage, errno} on a
 * close-on-exec pipe; end-of-file on that pipe means exec succeeded. This
 * keeps "task failed to start" synchronous and exact.
 */
#include "ecs/proc.h"

#include "core/log.h"
#include "demo/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum spawn_stage { STAGE_LOG = 1, STAGE_CHDIR, STAGE_EXEC, STAGE_CGROUP };

struct spawn_report {
	int stage;
	int err;
};

/* --- environment --- */

struct env_list {
	char **v;
	size_t n, cap;
};

static int env_find(const struct env_list *l, const char *key, size_t klen)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i], key, klen) == 0 && l->v[i][klen] == '=')
			return (int)i;
	return -1;
}

/* Sets key=value, replacing an earlier entry of the same key. */
static int env_set(struct env_list *l, const char *key, size_t klen, const char *value)
{
	size_t vlen = strlen(value);
	char *kv = malloc(klen + vlen + 2);
	int i;
	if (!kv)
		return -ENOMEM;
	memcpy(kv, key, klen);
	kv[klen] = '=';
	memcpy(kv + klen + 1, value, vlen + 1);
	i = env_find(l, key, klen);
	if (i >= 0) {
		free(l->v[i]);
		l->v[i] = kv;
		return 0;
	}
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(kv);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = kv;
	l->v[l->n] = NULL;
	return 0;
}

char **ecs_proc_env(const struct model_container *c, const char *host, const char *exe_dir)
{
	struct env_list l = {0};
	char buf[16], ports[7 * ECS_PROC_MAX_PORTS + 1];
	size_t np = 0;
	const char *path;
	char *newpath = NULL;
	int i;

	for (char **p = environ; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		if (!eq)
			continue;
		if (env_set(&l, *p, (size_t)(eq - *p), eq + 1) < 0)
			goto fail;
	}
	for (size_t k = 0; c && k < c->nenv; k++)
		if (env_set(&l, c->env[k].key, strlen(c->env[k].key),
		            c->env[k].value ? c->env[k].value : "") < 0)
			goto fail;
	if (host && env_set(&l, "HOST", 4, host) < 0)
		goto fail;
	/* PORT is the first mapping (what a one-port image reads); PORTS
	 * lists them all, for a process that listens on several. */
	if (c && c->nports > 0) {
		snprintf(buf, sizeof(buf), "%d", c->ports[0].container_port);
		if (env_set(&l, "PORT", 4, buf) < 0)
			goto fail;
		ports[0] = '\0';
		for (size_t k = 0; k < c->nports && k < ECS_PROC_MAX_PORTS; k++)
			np += (size_t)snprintf(ports + np, sizeof(ports) - np, "%s%d", k ? "," : "",
			                       c->ports[k].container_port);
		if (env_set(&l, "PORTS", 5, ports) < 0)
			goto fail;
	}
	/* The vpcd binary's directory goes first so that a container command
	 * "vpcd demo-app" runs this very binary, not some other install. */
	i = env_find(&l, "PATH", 4);
	path = i >= 0 ? l.v[i] + 5 : "/usr/local/bin:/usr/bin:/bin";
	if (exe_dir && *exe_dir) {
		size_t n = strlen(exe_dir) + strlen(path) + 2;
		newpath = malloc(n);
		if (!newpath)
			goto fail;
		snprintf(newpath, n, "%s:%s", exe_dir, path);
		path = newpath;
	}
	if (env_set(&l, "PATH", 4, path) < 0)
		goto fail;
	free(newpath);
	return l.v;
fail:
	free(newpath);
	if (l.v) {
		l.v[l.n] = NULL;
		ecs_proc_env_free(l.v);
	}
	return NULL;
}

void ecs_proc_env_free(char **env)
{
	if (!env)
		return;
	for (char **p = env; *p; p++)
		free(*p);
	free(env);
}

int ecs_proc_exe_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s", slash == exe ? "/" : exe) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ecs_proc_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* --- fork + exec --- */

/* The resolv.conf that tasks see over /etc/resolv.conf, or none. */
static char task_resolv[PATH_MAX];

int ecs_proc_set_resolver(uint32_t resolver_addr)
{
	char path[PATH_MAX];
	int rc, status = 0;
	pid_t pid;

	if (task_resolv[0]) {
		unlink(task_resolv);
		task_resolv[0] = 0;
	}
	if (resolver_addr == 0)
		return 0;
	rc = vpc_exec_write_resolv(resolver_addr, path, sizeof(path));
	if (rc < 0)
		goto fail;
	/* Try once, in a throw-away child, whether the kernel lets us. */
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	if (pid == 0) {
		int r = vpc_exec_resolv_enter(path);
		_exit(r == 0 ? 0 : (-r & 0x7f) ? (-r & 0x7f) : EPERM);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = WIFEXITED(status) ? -WEXITSTATUS(status) : -EPERM;
		unlink(path);
		goto fail;
	}
	snprintf(task_resolv, sizeof(task_resolv), "%s", path);
	log_info("ecs: tasks resolve names through the VPC resolver (their own "
	         "/etc/resolv.conf in a private mount namespace)");
	return 0;
fail:
	log_warn("ecs: tasks use the machine's resolver, not the VPC's: no private mount "
	         "namespace here (%s); run as root or allow unprivileged user namespaces",
	         strerror(-rc));
	return rc;
}

static void child_report(int fd, int stage, int err)
{
	struct spawn_report r = {.stage = stage, .err = err};
	ssize_t n = write(fd, &r, sizeof(r));
	(void)n;
	_exit(127);
}

/* Runs in the child: only the current thread exists, so the set-up before
 * exec may use ordinary calls. */
static void child_run(char *const *argv, char **env, const char *workdir, int logfd, int repfd,
                      int cgfd)
{
	sigset_t none;
	int nul;

	setpgid(0, 0);
	/* If vpcd runs with stdio closed, the log or report descriptor may be
	 * 0..2 and would be clobbered by the dup2s below: move them up. */
	if (repfd < 3)
		repfd = fcntl(repfd, F_DUPFD_CLOEXEC, 3);
	if (logfd < 3)
		logfd = fcntl(logfd, F_DUPFD_CLOEXEC, 3);
	if (cgfd >= 0 && cgfd < 3)
		cgfd = fcntl(cgfd, F_DUPFD_CLOEXEC, 3);
	/* Into the memory cgroup before anything of the task is allocated. */
	if (cgfd >= 0 && write(cgfd, "0", 1) != 1)
		child_report(repfd, STAGE_CGROUP, errno);
	/* The loop blocks the signals it reads through signalfd, and a blocked
	 * mask and ignored dispositions survive exec: undo both. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	nul = open("/dev/null", O_RDONLY);
	if (nul >= 0 && nul != 0) {
		dup2(nul, 0);
		close(nul);
	}
	if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		child_report(repfd, STAGE_LOG, errno);
	/* Descriptors of the other planes must not leak into tasks, whether
	 * or not their owners remembered O_CLOEXEC. */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	/* Resolve like a host of the VPC; if it fails now, where the probe
	 * succeeded, the task still runs, as it would without. */
	if (task_resolv[0])
		(void)vpc_exec_resolv_enter(task_resolv);
	if (workdir && chdir(workdir) < 0)
		child_report(repfd, STAGE_CHDIR, errno);
	environ = env;
	execvp(argv[0], argv);
	child_report(repfd, STAGE_EXEC, errno);
}

static void spawn_reason(char *reason, size_t rlen, const struct spawn_report *r, const char *arg0,
                         const char *workdir)
{
	switch (r->stage) {
	case STAGE_CHDIR:
		snprintf(reason, rlen,
		         "CannotStartContainerError: chdir to working directory \"%s\": %s",
		         workdir, strerror(r->err));
		break;
	case STAGE_EXEC:
		if (r->err == ENOENT && !strchr(arg0, '/'))
			snprintf(reason, rlen,
			         "CannotStartContainerError: exec: \"%s\": executable file not "
			         "found in $PATH",
			         arg0);
		else
			snprintf(reason, rlen, "CannotStartContainerError: exec: \"%s\": %s", arg0,
			         strerror(r->err));
		break;
	case STAGE_CGROUP:
		snprintf(reason, rlen, "CannotStartContainerError: entering the memory cgroup: %s",
		         strerror(r->err));
		break;
	default:
		snprintf(reason, rlen, "CannotStartContainerError: log output: %s",
		         strerror(r->err));
	}
}

pid_t ecs_proc_spawn(char *const *argv, char **env, const char *workdir, const char *log_path,
                     char *reason, size_t rlen)
{
	return ecs_proc_spawn_in(argv, env, workdir, log_path, -1, reason, rlen);
}

pid_t ecs_proc_spawn_in(char *const *argv, char **env, const char *workdir, const char *log_path,
                        int cgroup_fd, char *reason, size_t rlen)
{
	int logfd = -1, pfd[2] = {-1, -1};
	struct spawn_report r;
	pid_t pid = -1, ret;
	ssize_t n;

	if (!argv || !argv[0]) {
		snprintf(reason, rlen, "CannotStartContainerError: no command");
		return -EINVAL;
	}
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		ret = -errno;
		snprintf(reason, rlen, "CannotStartContainerError: log file %s: %s", log_path,
		         strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(reason, rlen, "CannotStartContainerError: pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(reason, rlen, "CannotStartContainerError: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_run(argv, env, workdir, logfd, pfd[1], cgroup_fd);
	close(pfd[1]);
	pfd[1] = -1;
	/* Both sides set the group so that a signal sent right after we
	 * return reaches it whichever ran first; EACCES after exec is fine. */
	setpgid(pid, pid);
	do
		n = read(pfd[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		spawn_reason(reason, rlen, &r, argv[0], workdir);
		ret = r.err > 0 ? -r.err : -EIO;
		goto out;
	}
	ret = pid;
out:
	if (logfd >= 0)
		close(logfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return ret;
}
