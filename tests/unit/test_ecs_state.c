/* The ECS runtime state file (state.json): round trip of tasks and of the
 * services' deployments, atomic replacement, a version 1 file, a missing or
 * foreign file, /proc start times, and the state
 * directory's lock. */
#include "t.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecs/state.h"

static char dir[] = "/tmp/vpcd-state-XXXXXX";

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_round_trip(void)
{
	struct ecs_state_task in[2];
	struct ecs_state_svc *svc = calloc(1, sizeof(*svc));
	struct ecs_state st = {.tasks = in, .ntasks = 2, .svcs = svc, .nsvcs = 1}, out;
	char path[256], tmp[300];

	ASSERT_TRUE(svc != NULL);
	if (!svc)
		return;
	memset(in, 0, sizeof(in));
	snprintf(in[0].id, sizeof(in[0].id), "%s", "0123456789abcdef0123456789abcdef");
	snprintf(in[0].arn, sizeof(in[0].arn), "arn:aws:ecs:us-east-1:123456789012:task/c/%s",
	         in[0].id);
	in[0].service = 1;
	snprintf(in[0].service_logical, sizeof(in[0].service_logical), "ServiceA");
	snprintf(in[0].host_id, sizeof(in[0].host_id), "i-0123456789abcdef0");
	in[0].subnet = 1;
	in[0].addr = 0x7f4d0205u;
	snprintf(in[0].td_arn, sizeof(in[0].td_arn),
	         "arn:aws:ecs:us-east-1:123456789012:task-definition/svc:1");
	in[0].started_unix_ms = 1764115200123ull;
	snprintf(in[0].deployment, sizeof(in[0].deployment), "ecs-svc/1234567890123456789");
	in[0].healthy = true;
	in[0].nprocs = 2;
	in[0].procs[0] = (struct ecs_state_proc){.pid = 4242, .pgid = 4242, .starttime = 987654321ull};
	snprintf(in[0].procs[0].name, sizeof(in[0].procs[0].name), "app \"quoted\"");
	in[0].procs[1] = (struct ecs_state_proc){.pid = 0, .pgid = 0, .starttime = 0};
	snprintf(in[0].procs[1].name, sizeof(in[0].procs[1].name), "sidecar");
	snprintf(in[1].id, sizeof(in[1].id), "ffff");
	in[1].stopping = true;
	snprintf(in[1].stop_code, sizeof(in[1].stop_code), "ServiceSchedulerInitiated");
	snprintf(in[1].reason, sizeof(in[1].reason),
	         "Scaling activity initiated by (deployment ecs-svc/1)");
	in[1].nprocs = 1;
	in[1].procs[0].pid = 7;

	/* A service in the middle of a deployment: 1 COMPLETED (ACTIVE), 2
	 * PRIMARY IN_PROGRESS with 3 failed tasks, from an applied template. */
	snprintf(svc->logical, sizeof(svc->logical), "ServiceA");
	svc->desired = 4;
	svc->tmpl_desired = 2;
	svc->tmpl_desired_set = true;
	svc->min_pct = 50;
	svc->max_pct = 200;
	svc->cb_enable = true;
	svc->cb_rollback = true;
	svc->max_rev = 2;
	svc->ndeps = 2;
	snprintf(svc->deps[0].id, sizeof(svc->deps[0].id), "ecs-svc/1");
	snprintf(svc->deps[0].td_arn, sizeof(svc->deps[0].td_arn), "arn:x:task-definition/svc:1");
	svc->deps[0].td_fp = 0xfedcba9876543210ull; /* above INT64_MAX: kept as text */
	snprintf(svc->deps[0].source, sizeof(svc->deps[0].source), "/t/v1.json");
	svc->deps[0].completed = true;
	svc->deps[0].created_unix_ms = 1764115100000ull;
	snprintf(svc->deps[1].id, sizeof(svc->deps[1].id), "ecs-svc/1234567890123456789");
	snprintf(svc->deps[1].td_arn, sizeof(svc->deps[1].td_arn), "arn:x:task-definition/svc:2");
	svc->deps[1].td_fp = 42;
	snprintf(svc->deps[1].source, sizeof(svc->deps[1].source), "/t/v2.json");
	svc->deps[1].nparams = 2;
	snprintf(svc->deps[1].params[0], sizeof(svc->deps[1].params[0]), "Version=2");
	snprintf(svc->deps[1].params[1], sizeof(svc->deps[1].params[1]), "Command=sh,-c,x=\"1\"");
	svc->deps[1].announce = true;
	svc->deps[1].failed_tasks = 3;
	svc->deps[1].updated_unix_ms = 1764115200999ull;

	path_in(path, sizeof(path), "state.json");
	ASSERT_EQ(ecs_state_write(path, &st), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ASSERT_TRUE(access(tmp, F_OK) < 0); /* renamed away */
	ASSERT_EQ(ecs_state_read(path, &out), 0);
	ASSERT_EQ(out.ntasks, 2);
	ASSERT_EQ(out.nsvcs, 1);
	if (out.ntasks == 2) {
		ASSERT_STR_EQ(out.tasks[0].id, in[0].id);
		ASSERT_STR_EQ(out.tasks[0].arn, in[0].arn);
		ASSERT_EQ(out.tasks[0].service, 1);
		ASSERT_STR_EQ(out.tasks[0].service_logical, "ServiceA");
		ASSERT_STR_EQ(out.tasks[0].host_id, "i-0123456789abcdef0");
		ASSERT_EQ(out.tasks[0].subnet, 1);
		ASSERT_EQ(out.tasks[0].addr, 0x7f4d0205u);
		ASSERT_STR_EQ(out.tasks[0].td_arn, in[0].td_arn);
		ASSERT_EQ(out.tasks[0].started_unix_ms, 1764115200123ull);
		ASSERT_STR_EQ(out.tasks[0].deployment, "ecs-svc/1234567890123456789");
		ASSERT_TRUE(out.tasks[0].healthy && !out.tasks[0].stopping);
		ASSERT_STR_EQ(out.tasks[0].stop_code, "");
		ASSERT_EQ(out.tasks[0].nprocs, 2);
		ASSERT_EQ(out.tasks[0].procs[0].pid, 4242);
		ASSERT_EQ(out.tasks[0].procs[0].pgid, 4242);
		ASSERT_EQ(out.tasks[0].procs[0].starttime, 987654321ull);
		ASSERT_STR_EQ(out.tasks[0].procs[0].name, "app \"quoted\"");
		ASSERT_STR_EQ(out.tasks[0].procs[1].name, "sidecar");
		ASSERT_EQ(out.tasks[0].procs[1].pid, 0);
		ASSERT_STR_EQ(out.tasks[1].id, "ffff");
		ASSERT_STR_EQ(out.tasks[1].host_id, "");
		ASSERT_EQ(out.tasks[1].procs[0].pid, 7);
		ASSERT_TRUE(out.tasks[1].stopping && !out.tasks[1].healthy);
		ASSERT_STR_EQ(out.tasks[1].stop_code, "ServiceSchedulerInitiated");
		ASSERT_STR_EQ(out.tasks[1].reason,
		              "Scaling activity initiated by (deployment ecs-svc/1)");
	}
	if (out.nsvcs == 1) {
		const struct ecs_state_svc *o = &out.svcs[0];
		ASSERT_STR_EQ(o->logical, "ServiceA");
		ASSERT_EQ(o->desired, 4);
		ASSERT_EQ(o->tmpl_desired, 2);
		ASSERT_TRUE(o->tmpl_desired_set);
		ASSERT_EQ(o->min_pct, 50);
		ASSERT_EQ(o->max_pct, 200);
		ASSERT_TRUE(o->cb_enable && o->cb_rollback && !o->steady);
		ASSERT_EQ(o->max_rev, 2);
		ASSERT_EQ(o->ndeps, 2);
		ASSERT_STR_EQ(o->deps[0].id, "ecs-svc/1");
		ASSERT_STR_EQ(o->deps[0].td_arn, "arn:x:task-definition/svc:1");
		ASSERT_EQ(o->deps[0].td_fp, 0xfedcba9876543210ull);
		ASSERT_STR_EQ(o->deps[0].source, "/t/v1.json");
		ASSERT_EQ(o->deps[0].nparams, 0);
		ASSERT_TRUE(o->deps[0].completed && !o->deps[0].failed && !o->deps[0].announce);
		ASSERT_EQ(o->deps[0].created_unix_ms, 1764115100000ull);
		ASSERT_STR_EQ(o->deps[1].id, "ecs-svc/1234567890123456789");
		ASSERT_EQ(o->deps[1].td_fp, 42);
		ASSERT_EQ(o->deps[1].nparams, 2);
		ASSERT_STR_EQ(o->deps[1].params[0], "Version=2");
		ASSERT_STR_EQ(o->deps[1].params[1], "Command=sh,-c,x=\"1\"");
		ASSERT_TRUE(!o->deps[1].completed && o->deps[1].announce);
		ASSERT_EQ(o->deps[1].failed_tasks, 3);
		ASSERT_EQ(o->deps[1].updated_unix_ms, 1764115200999ull);
	}
	ecs_state_free(&out);
	ASSERT_TRUE(out.tasks == NULL && out.ntasks == 0);

	/* Rewritten with none: empty lists, not stale ones. */
	st.ntasks = st.nsvcs = 0;
	ASSERT_EQ(ecs_state_write(path, &st), 0);
	ASSERT_EQ(ecs_state_read(path, &out), 0);
	ASSERT_EQ(out.ntasks, 0);
	ASSERT_EQ(out.nsvcs, 0);
	ecs_state_free(&out);
	unlink(path);
	free(svc);
}

/* A state.json of the vpcd before deployments were saved still reads: its
 * tasks, no services, no deployment ids. */
static void test_version_1(void)
{
	struct ecs_state out;
	char path[256];
	FILE *f;

	path_in(path, sizeof(path), "v1.json");
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (!f)
		return;
	fputs("{\"version\": 1, \"tasks\": [{\"id\": \"abc\", \"service\": 0, \"service_logical\": "
	      "\"S\", \"task_definition_arn\": \"arn:td:1\", \"containers\": [{\"name\": \"c\", "
	      "\"pid\": 12, \"pgid\": 12, \"starttime\": 99}]}]}\n",
	      f);
	fclose(f);
	ASSERT_EQ(ecs_state_read(path, &out), 0);
	ASSERT_EQ(out.ntasks, 1);
	ASSERT_EQ(out.nsvcs, 0);
	if (out.ntasks == 1) {
		ASSERT_STR_EQ(out.tasks[0].id, "abc");
		ASSERT_STR_EQ(out.tasks[0].deployment, "");
		ASSERT_TRUE(!out.tasks[0].stopping);
		ASSERT_EQ(out.tasks[0].procs[0].starttime, 99);
	}
	ecs_state_free(&out);
	unlink(path);
}

static void test_missing_and_foreign(void)
{
	struct ecs_state out;
	char path[256];
	FILE *f;

	path_in(path, sizeof(path), "nope.json");
	ASSERT_EQ(ecs_state_read(path, &out), -ENOENT);
	ASSERT_TRUE(out.tasks == NULL && out.svcs == NULL);
	ASSERT_EQ(out.ntasks, 0);
	path_in(path, sizeof(path), "foreign.json");
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (f) {
		fputs("{\"tasks\": 3}", f);
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out), -EINVAL);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"version\": 1, \"tasks\": [", f); /* cut short */
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out), -EINVAL);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"version\": 2, \"tasks\": []}", f); /* version 2 without services */
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out), -EINVAL);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"version\": 3, \"tasks\": [], \"services\": []}", f);
		fclose(f);
	}
	ASSERT_EQ(ecs_state_read(path, &out), -EINVAL);
	unlink(path);
}

static void test_starttime(void)
{
	uint64_t self = ecs_state_proc_starttime((int)getpid());
	pid_t child;
	ASSERT_TRUE(self > 0);
	ASSERT_EQ(ecs_state_proc_starttime((int)getpid()), self);
	ASSERT_EQ(ecs_state_proc_starttime(0), 0);
	/* A zombie does not count as running. */
	child = fork();
	if (child == 0)
		_exit(0);
	ASSERT_TRUE(child > 0);
	usleep(100 * 1000);
	ASSERT_EQ(ecs_state_proc_starttime((int)child), 0);
	waitpid(child, NULL, 0);
	ASSERT_EQ(ecs_state_proc_starttime((int)child), 0);
}

static void test_lock(void)
{
	int holder = -1, fd, fd2;
	char path[256];

	fd = ecs_state_lock(dir, &holder);
	ASSERT_TRUE(fd >= 0);
	/* flock is per open file description: a second open is refused even in
	 * the same process, and names the holder. */
	fd2 = ecs_state_lock(dir, &holder);
	ASSERT_EQ(fd2, -EWOULDBLOCK);
	ASSERT_EQ(holder, (int)getpid());
	if (fd >= 0)
		close(fd);
	fd2 = ecs_state_lock(dir, &holder);
	ASSERT_TRUE(fd2 >= 0);
	if (fd2 >= 0)
		close(fd2);
	path_in(path, sizeof(path), "vpcd.pid");
	unlink(path);
}

T_MAIN({
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_round_trip);
	T_RUN(test_version_1);
	T_RUN(test_missing_and_foreign);
	T_RUN(test_starttime);
	T_RUN(test_lock);
	rmdir(dir);
})
