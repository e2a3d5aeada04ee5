/*
 * state.json, version 2:
 * {"version": 2,
 *  "tasks": [{"id", "arn", "service", "service_logical", "host", "subnet",
 *             "addr", "task_definition_arn", "started_unix_ms", "deployment",
 *             "stopping", "healthy", "stop_code", "reason",
 *             "containers": [{"name", "pid", "pgid", "starttime"}]}],
 *  "services": [{"logical", "desired", "template_desired",
 *                "template_desired_set", "min_pct", "max_pct", "cb_enable",
 *                "cb_rollback", "steady", "max_revision",
 *                "deployments": [{"id", "task_definition_arn",
 *                                 "task_definition_fp" (16 hex digits), "source",
 *                                 "params", "created_unix_ms", "updated_unix_ms",
 *                                 "completed", "failed", "announce",
 *                                 "failed_tasks"}]}]}
 * written with jansson, read back with it. Version 1 (tasks without
 * deployment, stopping, healthy, stop_code, reason; no services) still
 * reads.
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

/* Sets key to a new value; false when out of memory (v NULL). */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static json_t *task_json(const struct ecs_state_task *t)
{
	json_t *o = json_object(), *cs = json_array();
	bool ok = o && cs;
	for (size_t k = 0; ok && k < t->nprocs && k < ECS_STATE_MAX_PROCS; k++) {
		json_t *c = json_object();
		ok = c && put(c, "name", json_string(t->procs[k].name)) &&
		     put(c, "pid", json_integer(t->procs[k].pid)) &&
		     put(c, "pgid", json_integer(t->procs[k].pgid)) &&
		     put(c, "starttime", json_integer((json_int_t)t->procs[k].starttime));
		if (!ok)
			json_decref(c);
		else /* takes c, also when it fails */
			ok = json_array_append_new(cs, c) == 0;
	}
	if (ok) {
		ok = put(o, "containers", cs);
		cs = NULL;
	}
	ok = ok && put(o, "id", json_string(t->id)) && put(o, "arn", json_string(t->arn)) &&
	     put(o, "service", json_integer(t->service)) &&
	     put(o, "service_logical", json_string(t->service_logical)) &&
	     put(o, "host", json_string(t->host_id)) && put(o, "subnet", json_integer(t->subnet)) &&
	     put(o, "addr", json_integer((json_int_t)t->addr)) &&
	     put(o, "task_definition_arn", json_string(t->td_arn)) &&
	     put(o, "started_unix_ms", json_integer((json_int_t)t->started_unix_ms)) &&
	     put(o, "deployment", json_string(t->deployment)) &&
	     put(o, "stopping", json_boolean(t->stopping)) &&
	     put(o, "healthy", json_boolean(t->healthy)) &&
	     put(o, "stop_code", json_string(t->stop_code)) &&
	     put(o, "reason", json_string(t->reason));
	json_decref(cs);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *dep_json(const struct ecs_state_dep *d)
{
	json_t *o = json_object(), *ps = json_array();
	char fp[17];
	bool ok = o && ps;
	snprintf(fp, sizeof(fp), "%016" PRIx64, d->td_fp);
	for (size_t k = 0; ok && k < d->nparams && k < ECS_STATE_MAX_PARAMS; k++)
		ok = json_array_append_new(ps, json_string(d->params[k])) == 0;
	if (ok) {
		ok = put(o, "params", ps);
		ps = NULL;
	}
	ok = ok && put(o, "id", json_string(d->id)) &&
	     put(o, "task_definition_arn", json_string(d->td_arn)) &&
	     put(o, "task_definition_fp", json_string(fp)) &&
	     put(o, "source", json_string(d->source)) &&
	     put(o, "created_unix_ms", json_integer((json_int_t)d->created_unix_ms)) &&
	     put(o, "updated_unix_ms", json_integer((json_int_t)d->updated_unix_ms)) &&
	     put(o, "completed", json_boolean(d->completed)) &&
	     put(o, "failed", json_boolean(d->failed)) &&
	     put(o, "announce", json_boolean(d->announce)) &&
	     put(o, "failed_tasks", json_integer(d->failed_tasks));
	json_decref(ps);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *svc_json(const struct ecs_state_svc *v)
{
	json_t *o = json_object(), *ds = json_array();
	bool ok = o && ds;
	for (size_t k = 0; ok && k < v->ndeps && k < ECS_STATE_MAX_DEPS; k++) {
		json_t *d = dep_json(&v->deps[k]);
		ok = d && json_array_append_new(ds, d) == 0;
	}
	if (ok) {
		ok = put(o, "deployments", ds);
		ds = NULL;
	}
	ok = ok && put(o, "logical", json_string(v->logical)) &&
	     put(o, "desired", json_integer(v->desired)) &&
	     put(o, "template_desired", json_integer(v->tmpl_desired)) &&
	     put(o, "template_desired_set", json_boolean(v->tmpl_desired_set)) &&
	     put(o, "min_pct", json_integer(v->min_pct)) &&
	     put(o, "max_pct", json_integer(v->max_pct)) &&
	     put(o, "cb_enable", json_boolean(v->cb_enable)) &&
	     put(o, "cb_rollback", json_boolean(v->cb_rollback)) &&
	     put(o, "steady", json_boolean(v->steady)) &&
	     put(o, "max_revision", json_integer(v->max_rev));
	json_decref(ds);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int ecs_state_write(const char *path, const struct ecs_state *st)
{
	char tmp[PATH_MAX];
	json_t *root = json_object(), *tasks = json_array(), *svcs = json_array();
	char *text = NULL;
	int fd = -1, rc = 0;
	size_t len, off = 0;

	if (!root || !tasks || !svcs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < st->ntasks; i++) {
		json_t *o = task_json(&st->tasks[i]);
		if (!o || json_array_append_new(tasks, o) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < st->nsvcs; i++) {
		json_t *o = svc_json(&st->svcs[i]);
		if (!o || json_array_append_new(svcs, o) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (!put(root, "version", json_integer(2)) || json_object_set(root, "tasks", tasks) < 0 ||
	    json_object_set(root, "services", svcs) < 0) {
		rc = -ENOMEM;
		goto out;
	}
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
	json_decref(tasks);
	json_decref(svcs);
	json_decref(root);
	return rc;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

#define GET(o, k) json_object_get((o), (k))

static void task_read(json_t *o, struct ecs_state_task *t)
{
	json_t *cs = GET(o, "containers");
	copy_str(t->id, sizeof(t->id), GET(o, "id"));
	copy_str(t->arn, sizeof(t->arn), GET(o, "arn"));
	t->service = (int)json_integer_value(GET(o, "service"));
	copy_str(t->service_logical, sizeof(t->service_logical), GET(o, "service_logical"));
	copy_str(t->host_id, sizeof(t->host_id), GET(o, "host"));
	t->subnet = (int)json_integer_value(GET(o, "subnet"));
	t->addr = (uint32_t)json_integer_value(GET(o, "addr"));
	copy_str(t->td_arn, sizeof(t->td_arn), GET(o, "task_definition_arn"));
	t->started_unix_ms = (uint64_t)json_integer_value(GET(o, "started_unix_ms"));
	copy_str(t->deployment, sizeof(t->deployment), GET(o, "deployment"));
	t->stopping = json_is_true(GET(o, "stopping"));
	t->healthy = json_is_true(GET(o, "healthy"));
	copy_str(t->stop_code, sizeof(t->stop_code), GET(o, "stop_code"));
	copy_str(t->reason, sizeof(t->reason), GET(o, "reason"));
	for (size_t k = 0; k < json_array_size(cs) && k < ECS_STATE_MAX_PROCS; k++) {
		json_t *c = json_array_get(cs, k);
		copy_str(t->procs[k].name, sizeof(t->procs[k].name), GET(c, "name"));
		t->procs[k].pid = (int)json_integer_value(GET(c, "pid"));
		t->procs[k].pgid = (int)json_integer_value(GET(c, "pgid"));
		t->procs[k].starttime = (uint64_t)json_integer_value(GET(c, "starttime"));
		t->nprocs = k + 1;
	}
}

static void svc_read(json_t *o, struct ecs_state_svc *v)
{
	json_t *ds = GET(o, "deployments");
	copy_str(v->logical, sizeof(v->logical), GET(o, "logical"));
	v->desired = (int)json_integer_value(GET(o, "desired"));
	v->tmpl_desired = (int)json_integer_value(GET(o, "template_desired"));
	v->tmpl_desired_set = json_is_true(GET(o, "template_desired_set"));
	v->min_pct = (int)json_integer_value(GET(o, "min_pct"));
	v->max_pct = (int)json_integer_value(GET(o, "max_pct"));
	v->cb_enable = json_is_true(GET(o, "cb_enable"));
	v->cb_rollback = json_is_true(GET(o, "cb_rollback"));
	v->steady = json_is_true(GET(o, "steady"));
	v->max_rev = (unsigned)json_integer_value(GET(o, "max_revision"));
	for (size_t k = 0; k < json_array_size(ds) && k < ECS_STATE_MAX_DEPS; k++) {
		json_t *d = json_array_get(ds, k), *ps = GET(d, "params");
		struct ecs_state_dep *dp = &v->deps[k];
		const char *fp = json_string_value(GET(d, "task_definition_fp"));
		copy_str(dp->id, sizeof(dp->id), GET(d, "id"));
		copy_str(dp->td_arn, sizeof(dp->td_arn), GET(d, "task_definition_arn"));
		dp->td_fp = fp ? strtoull(fp, NULL, 16) : 0;
		copy_str(dp->source, sizeof(dp->source), GET(d, "source"));
		for (size_t i = 0; i < json_array_size(ps) && i < ECS_STATE_MAX_PARAMS; i++) {
			copy_str(dp->params[i], sizeof(dp->params[i]), json_array_get(ps, i));
			dp->nparams = i + 1;
		}
		dp->created_unix_ms = (uint64_t)json_integer_value(GET(d, "created_unix_ms"));
		dp->updated_unix_ms = (uint64_t)json_integer_value(GET(d, "updated_unix_ms"));
		dp->completed = json_is_true(GET(d, "completed"));
		dp->failed = json_is_true(GET(d, "failed"));
		dp->announce = json_is_true(GET(d, "announce"));
		dp->failed_tasks = (unsigned)json_integer_value(GET(d, "failed_tasks"));
		v->ndeps = k + 1;
	}
}

int ecs_state_read(const char *path, struct ecs_state *st)
{
	json_error_t err;
	json_t *root, *tasks, *svcs;
	json_int_t version;
	size_t nt, ns;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (access(path, F_OK) < 0)
		return -errno;
	root = json_load_file(path, 0, &err);
	if (!root)
		return -EINVAL;
	tasks = GET(root, "tasks");
	svcs = GET(root, "services");
	version = json_integer_value(GET(root, "version"));
	if (!json_is_array(tasks) || (version != 1 && version != 2) ||
	    (version == 2 && !json_is_array(svcs))) {
		rc = -EINVAL;
		goto out;
	}
	nt = json_array_size(tasks);
	ns = version == 2 ? json_array_size(svcs) : 0;
	st->tasks = calloc(nt ? nt : 1, sizeof(*st->tasks));
	st->svcs = calloc(ns ? ns : 1, sizeof(*st->svcs));
	if (!st->tasks || !st->svcs) {
		ecs_state_free(st);
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nt; i++)
		task_read(json_array_get(tasks, i), &st->tasks[i]);
	for (size_t i = 0; i < ns; i++)
		svc_read(json_array_get(svcs, i), &st->svcs[i]);
	st->ntasks = nt;
	st->nsvcs = ns;
out:
	json_decref(root);
	return rc;
}

#undef GET

void ecs_state_free(struct ecs_state *st)
{
	free(st->tasks);
	free(st->svcs);
	memset(st, 0, sizeof(*st));
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
