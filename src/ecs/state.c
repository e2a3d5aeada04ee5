/*
 * state.json: {"version": 1, "tasks": [{"id", "arn", "service",
 * "service_logical", "host", "subnet", "addr", "task_definition_arn",
 * "started_unix_ms", "containers": [{"name", "pid", "pgid", "starttime"}]}]}
 * written with jansson, read back with it.
 */
#include "ecs/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int ecs_state_write(const char *path, const struct ecs_state_task *tasks, size_t n)
{
	char tmp[PATH_MAX];
	json_t *root = json_object(), *arr = json_array();
	char *text = NULL;
	int fd = -1, rc = 0;
	size_t len, off = 0;

	if (!root || !arr) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_set_new(root, "version", json_integer(1));
	for (size_t i = 0; i < n; i++) {
		const struct ecs_state_task *t = &tasks[i];
		json_t *o = json_object(), *cs = json_array();
		if (!o || !cs) {
			json_decref(o);
			json_decref(cs);
			rc = -ENOMEM;
			goto out;
		}
		json_object_set_new(o, "id", json_string(t->id));
		json_object_set_new(o, "arn", json_string(t->arn));
		json_object_set_new(o, "service", json_integer(t->service));
		json_object_set_new(o, "service_logical", json_string(t->service_logical));
		json_object_set_new(o, "host", json_string(t->host_id));
		json_object_set_new(o, "subnet", json_integer(t->subnet));
		json_object_set_new(o, "addr", json_integer((json_int_t)t->addr));
		json_object_set_new(o, "task_definition_arn", json_string(t->td_arn));
		json_object_set_new(o, "started_unix_ms", json_integer((json_int_t)t->started_unix_ms));
		for (size_t k = 0; k < t->nprocs && k < ECS_STATE_MAX_PROCS; k++) {
			json_t *c = json_object();
			if (!c) {
				json_decref(o);
				json_decref(cs);
				rc = -ENOMEM;
				goto out;
			}
			json_object_set_new(c, "name", json_string(t->procs[k].name));
			json_object_set_new(c, "pid", json_integer(t->procs[k].pid));
			json_object_set_new(c, "pgid", json_integer(t->procs[k].pgid));
			json_object_set_new(c, "starttime",
			                    json_integer((json_int_t)t->procs[k].starttime));
			json_array_append_new(cs, c);
		}
		json_object_set_new(o, "containers", cs);
		json_array_append_new(arr, o);
	}
	json_object_set(root, "tasks", arr);
	text = json_dumps(root, JSON_INDENT(1));
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	len = strlen(text);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(text);
	json_decref(arr);
	json_decref(root);
	return rc;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int ecs_state_read(const char *path, struct ecs_state_task **out, size_t *n)
{
	json_error_t err;
	json_t *root, *arr;
	struct ecs_state_task *v;
	size_t cnt;

	*out = NULL;
	*n = 0;
	if (access(path, F_OK) < 0)
		return -errno;
	root = json_load_file(path, 0, &err);
	if (!root)
		return -EINVAL;
	arr = json_object_get(root, "tasks");
	if (!json_is_array(arr) || json_integer_value(json_object_get(root, "version")) != 1) {
		json_decref(root);
		return -EINVAL;
	}
	cnt = json_array_size(arr);
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v) {
		json_decref(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		json_t *o = json_array_get(arr, i), *cs = json_object_get(o, "containers");
		struct ecs_state_task *t = &v[i];
		copy_str(t->id, sizeof(t->id), json_object_get(o, "id"));
		copy_str(t->arn, sizeof(t->arn), json_object_get(o, "arn"));
		t->service = (int)json_integer_value(json_object_get(o, "service"));
		copy_str(t->service_logical, sizeof(t->service_logical),
		         json_object_get(o, "service_logical"));
		copy_str(t->host_id, sizeof(t->host_id), json_object_get(o, "host"));
		t->subnet = (int)json_integer_value(json_object_get(o, "subnet"));
		t->addr = (uint32_t)json_integer_value(json_object_get(o, "addr"));
		copy_str(t->td_arn, sizeof(t->td_arn), json_object_get(o, "task_definition_arn"));
		t->started_unix_ms =
		    (uint64_t)json_integer_value(json_object_get(o, "started_unix_ms"));
		for (size_t k = 0; k < json_array_size(cs) && k < ECS_STATE_MAX_PROCS; k++) {
			json_t *c = json_array_get(cs, k);
			copy_str(t->procs[k].name, sizeof(t->procs[k].name),
			         json_object_get(c, "name"));
			t->procs[k].pid = (int)json_integer_value(json_object_get(c, "pid"));
			t->procs[k].pgid = (int)json_integer_value(json_object_get(c, "pgid"));
			t->procs[k].starttime =
			    (uint64_t)json_integer_value(json_object_get(c, "starttime"));
			t->nprocs = k + 1;
		}
	}
	json_decref(root);
	*out = v;
	*n = cnt;
	return 0;
}

uint64_t ecs_state_proc_starttime(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t len;
	int fd, field;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0; /* a zombie is no running container */
	/* p is field 3 (state); the start time is field 22. */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &st) != 1)
		return 0;
	return st;
}

int ecs_state_lock(const char *dir, int *holder)
{
	char path[PATH_MAX], buf[32];
	int fd, len;
	ssize_t r;

	*holder = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/vpcd.pid", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		r = pread(fd, buf, sizeof(buf) - 1, 0);
		if (r > 0) {
			buf[r] = '\0';
			*holder = atoi(buf);
		}
		close(fd);
		return err == EWOULDBLOCK ? -EWOULDBLOCK : -err;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
