/*
 * Task memory cgroups (see cgroup.h). I/O at the edge: mkdir, small file
 * writes and reads under /sys/fs/cgroup; nothing here runs on a hot path.
 */
#include "ecs/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static int write_file(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX + 64];
	int fd, rc = 0;
	size_t len = strlen(text);
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* Reads "key N" lines of dir/name: N of key, or -1. */
static long long read_key(const char *dir, const char *name, const char *key)
{
	char p[PATH_MAX + 64], line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f;
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return -1;
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			v = strtoll(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The memory cgroup path of this process ("0::/x" for v2, "N:...memory...:/x"
 * for v1) and the mount point of that hierarchy. */
static int own_group(bool v2, char *mnt, size_t mlen, char *path, size_t plen)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		line[strcspn(line, ":")] = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (v2 ? strcmp(line, "0") == 0 && c1[1] == '\0'
		       : strstr(c1 + 1, "memory") != NULL) {
			snprintf(path, plen, "%s", c2 + 1);
			found = true;
		}
	}
	fclose(f);
	if (!found)
		return -ENOENT;
	/* mountinfo: ... mountpoint ... - fstype source superopts */
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - "), *mp, *fs, *opts;
		int field = 0;
		if (!dash)
			continue;
		fs = dash + 3;
		opts = strrchr(fs, ' ');
		mp = line;
		for (char *p = line; p < dash && field < 4; p++)
			if (*p == ' ' && ++field == 4)
				mp = p + 1;
		if (field < 4)
			continue;
		mp[strcspn(mp, " ")] = '\0';
		if (v2 ? strncmp(fs, "cgroup2 ", 8) == 0
		       : strncmp(fs, "cgroup ", 7) == 0 && opts && strstr(opts, "memory")) {
			snprintf(mnt, mlen, "%s", mp);
			found = true;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int try_init(struct ecs_cgroup *cg, bool v2, const char *name)
{
	char mnt[PATH_MAX], path[PATH_MAX], dir[PATH_MAX], probe[PATH_MAX + 32];
	int rc = own_group(v2, mnt, sizeof(mnt), path, sizeof(path));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(path, "/") == 0 ? "" : path) >=
	    sizeof(dir))
		return -ENAMETOOLONG;
	if (v2) {
		/* The memory controller must be there to delegate. */
		char p[PATH_MAX + 32], buf[512] = "";
		FILE *f;
		snprintf(p, sizeof(p), "%s/cgroup.controllers", dir);
		f = fopen(p, "re");
		if (!f)
			return -errno;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (!strstr(buf, "memory"))
			return -EOPNOTSUPP;
		rc = write_file(dir, "cgroup.subtree_control", "+memory");
		if (rc < 0)
			return rc;
	}
	if ((size_t)snprintf(cg->base, sizeof(cg->base), "%s/%s", dir, name) >= sizeof(cg->base))
		return -ENAMETOOLONG;
	if (mkdir(cg->base, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		cg->base[0] = '\0';
		return rc;
	}
	if (v2 && (rc = write_file(cg->base, "cgroup.subtree_control", "+memory")) < 0) {
		cg->base[0] = '\0';
		return rc;
	}
	/* The limit file must be there and writable. */
	snprintf(probe, sizeof(probe), "%s/%s", cg->base,
	         v2 ? "memory.max" : "memory.limit_in_bytes");
	if (!v2 && access(probe, W_OK) < 0) {
		rc = -errno;
		cg->base[0] = '\0';
		return rc;
	}
	cg->v2 = v2;
	return 0;
}

int ecs_cgroup_init(struct ecs_cgroup *cg, const char *state_dir)
{
	char name[64], real[PATH_MAX];
	int rc2, rc1;
	const char *sd = realpath(state_dir, real) ? real : state_dir;
	snprintf(name, sizeof(name), "vpcd-%016llx", (unsigned long long)fnv(sd));
	cg->base[0] = '\0';
	rc2 = try_init(cg, true, name);
	if (rc2 == 0) {
		log_info("ecs: task memory limits enforced through cgroup v2 (%s)", cg->base);
		return 0;
	}
	rc1 = try_init(cg, false, name);
	if (rc1 == 0) {
		log_info("ecs: task memory limits enforced through the cgroup v1 memory controller "
		         "(%s)",
		         cg->base);
		return 0;
	}
	log_warn("ecs: task memory limits are not enforced: no writable memory cgroup (v2: %s; "
	         "v1: %s); tasks still reserve memory on their hosts",
	         strerror(-rc2), strerror(-rc1));
	return rc1;
}

static int make_group(const struct ecs_cgroup *cg, const char *dir, int mib)
{
	char v[32];
	int rc;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (cg->v2 && (rc = write_file(dir, "cgroup.subtree_control", "+memory")) < 0 &&
	    rc != -EBUSY)
		return rc;
	if (!mib)
		return 0;
	snprintf(v, sizeof(v), "%lld", (long long)mib * 1024 * 1024);
	if (cg->v2) {
		/* No swap either: Docker's --memory without --memory-swap
		 * allows as much swap again; vpcd keeps it simple. */
		(void)write_file(dir, "memory.swap.max", "0");
		return write_file(dir, "memory.max", v);
	}
	rc = write_file(dir, "memory.limit_in_bytes", v);
	(void)write_file(dir, "memory.memsw.limit_in_bytes", v);
	return rc;
}

int ecs_cgroup_container(const struct ecs_cgroup *cg, const char *task, int task_mib,
                         const char *container, int container_mib)
{
	char tdir[PATH_MAX], cdir[PATH_MAX + 128], procs[PATH_MAX + 160];
	int rc, fd;
	if (!cg->base[0])
		return -EOPNOTSUPP;
	if ((size_t)snprintf(tdir, sizeof(tdir), "%s/%s", cg->base, task) >= sizeof(tdir))
		return -ENAMETOOLONG;
	snprintf(cdir, sizeof(cdir), "%s/%s", tdir, container);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cdir);
	if ((rc = make_group(cg, tdir, task_mib)) < 0 ||
	    (rc = make_group(cg, cdir, container_mib)) < 0)
		return rc;
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static bool oom_in(const struct ecs_cgroup *cg, const char *dir)
{
	if (cg->v2)
		return read_key(dir, "memory.events", "oom_kill") > 0;
	return read_key(dir, "memory.oom_control", "oom_kill") > 0;
}

bool ecs_cgroup_oom_killed(const struct ecs_cgroup *cg, const char *task, const char *container)
{
	char dir[PATH_MAX + 128];
	if (!cg->base[0])
		return false;
	snprintf(dir, sizeof(dir), "%s/%s/%s", cg->base, task, container);
	if (oom_in(cg, dir))
		return true;
	snprintf(dir, sizeof(dir), "%s/%s", cg->base, task);
	return oom_in(cg, dir);
}

/* rmdir of every subgroup of dir, then dir; busy ones stay. */
static void remove_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	if (depth > 3)
		return;
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			char sub[PATH_MAX + 300];
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			remove_tree(sub, depth + 1);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

void ecs_cgroup_task_done(const struct ecs_cgroup *cg, const char *task)
{
	char dir[PATH_MAX + 64];
	if (!cg->base[0])
		return;
	snprintf(dir, sizeof(dir), "%s/%s", cg->base, task);
	remove_tree(dir, 1);
}

void ecs_cgroup_fini(struct ecs_cgroup *cg)
{
	if (!cg->base[0])
		return;
	remove_tree(cg->base, 0);
	cg->base[0] = '\0';
}
